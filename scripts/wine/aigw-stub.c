/* A stand-in aigw.exe for the Windows update smoke test (scripts/wine-smoke.sh):
 * `--version` prints "aigw VERSION" (VERSION given at compile time), anything
 * else runs the real aigw.exe named by DELEGATE (compile time) with the same
 * arguments and exits with its code. Built with mingw-w64:
 *   x86_64-w64-mingw32-gcc -O2 -DVERSION='"0.1.1"' -DDELEGATE='"C:\\\\aigw.exe"' -o aigw.exe aigw-stub.c
 * The release the smoke test publishes holds this stub, so `update apply`
 * has a newer "aigw" to install and `update rollback`, run through it, is the
 * real aigw replacing a running .exe. */
#include <process.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("aigw %s\n", VERSION);
        return 0;
    }
    argv[0] = DELEGATE;
    /* _spawnv joins arguments with spaces: quote each one. */
    static char quoted[64][1024];
    char *args[65];
    int n = argc < 64 ? argc : 64;
    for (int i = 0; i < n; i++) {
        snprintf(quoted[i], sizeof quoted[i], "\"%s\"", argv[i]);
        args[i] = quoted[i];
    }
    args[n] = NULL;
    fflush(stdout);
    intptr_t rc = _spawnv(_P_WAIT, DELEGATE, (const char *const *)args);
    if (rc == -1) {
        perror("aigw stub: cannot run " DELEGATE);
        return 127;
    }
    return (int)rc;
}

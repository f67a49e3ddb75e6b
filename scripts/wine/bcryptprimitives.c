/* bcryptprimitives.dll for wine 8 (Debian 12), which lacks it: Rust's std
 * (1.78 and later) takes its random bytes from ProcessPrng there, so without
 * this no Rust .exe starts under that wine ("Library bcryptprimitives.dll ...
 * not found"). Windows 10 and later ship the real one; wine 9 has it too.
 * scripts/wine-smoke.sh builds this into its throwaway prefix only:
 *   x86_64-w64-mingw32-gcc -shared -O2 -o bcryptprimitives.dll bcryptprimitives.c -ladvapi32 */
#include <windows.h>
#include <ntsecapi.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!RtlGenRandom(data, chunk)) {
            return FALSE;
        }
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}

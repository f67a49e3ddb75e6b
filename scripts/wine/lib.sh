# Sourced by scripts/wine-smoke.sh, scripts/wine-desktop.sh and
# packaging/release.sh: a wine prefix Rust programs start in, and Windows
# paths for Linux files. The caller exports WINEPREFIX first.

# wine_boot_prefix: makes (or updates) $WINEPREFIX. Rust's std imports
# bcryptprimitives.dll (ProcessPrng), which Debian 12's wine 8 lacks: no Rust
# .exe starts there without this ten-line shim (scripts/wine/bcryptprimitives.c;
# wine 9 and every Windows 10+ have the real one). Prints what it did to the
# shim on stdout (nothing when the prefix has a real one); fails when
# wineboot or mingw-w64 does.
wine_boot_prefix() {
  local here sys32
  here="$(dirname "${BASH_SOURCE[0]}")"
  wineboot -i >/dev/null 2>&1 || { echo "wineboot -i failed (WINEPREFIX=$WINEPREFIX)" >&2; return 1; }
  sys32="$WINEPREFIX/drive_c/windows/system32"
  [ ! -e "$sys32/bcryptprimitives.dll" ] || return 0
  x86_64-w64-mingw32-gcc -shared -O2 -o "$sys32/bcryptprimitives.dll" "$here/bcryptprimitives.c" -ladvapi32 \
    || { echo "cannot build the bcryptprimitives.dll shim (mingw-w64)" >&2; return 1; }
  echo "wine $(wine --version) lacks bcryptprimitives.dll: a ProcessPrng shim is in the prefix"
}

# No Mono/Gecko install dialogs while a prefix is made; no menu entries in the
# real ~/.local for an installer's shortcuts.
WINE_DLL_OVERRIDES="mscoree,mshtml=;winemenubuilder.exe=d"

# Wine maps / to Z:, so a Linux path is Z:\path\with\backslashes.
winpath() { printf 'Z:%s' "${1//\//\\}"; }

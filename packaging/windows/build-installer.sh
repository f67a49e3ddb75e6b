#!/usr/bin/env bash
# Builds the per-user Windows installer (NSIS, packaging/windows/aigw.nsi)
# offline with Debian's makensis (apt package nsis):
#
#   bash packaging/windows/build-installer.sh --aigw AIGW.EXE --aigww AIGWW.EXE \
#        --version V --target TRIPLE --out-dir DIR \
#        [--desktop AIGW-DESKTOP.EXE --webview2 WebView2Loader.dll]
#
# Prints the installer's path: DIR/aigw-V-TRIPLE-setup.exe. It holds
# aigw.exe, aigww.exe (the console-less launcher of the logon task), the
# README, docs/install.md, docs/config.md and the default config.toml, and
# with --desktop the desktop app and the WebView2 loader it imports.
# packaging/release.sh --windows and scripts/wine-smoke.sh call it; the
# wine smoke installs and uninstalls it silently (docs/install.md, "Windows").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

aigw="" aigww="" version="" target="" out="" desktop="" webview2=""
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] && [ -n "$2" ] || { echo "build-installer.sh: $1 needs a value" >&2; exit 2; }
  case "$1" in
    --aigw) aigw="$2" ;;
    --aigww) aigww="$2" ;;
    --version) version="$2" ;;
    --target) target="$2" ;;
    --out-dir) out="$2" ;;
    --desktop) desktop="$2" ;;
    --webview2) webview2="$2" ;;
    *) echo "build-installer.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift 2
done
die() { printf 'build-installer.sh: %s\n' "$*" >&2; exit 1; }
for v in aigw aigww version target out; do
  [ -n "${!v}" ] || die "--$v is required"
done
[ -f "$aigw" ] || die "no $aigw"
[ -f "$aigww" ] || die "no $aigww"
[ -z "$desktop" ] || [ -n "$webview2" ] || die "--desktop needs --webview2 (aigw-desktop.exe imports WebView2Loader.dll)"
[ -z "$desktop" ] || [ -f "$desktop" ] || die "no $desktop"
[ -z "$webview2" ] || [ -f "$webview2" ] || die "no $webview2"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]] || die "--version $version is not X.Y.Z[...]"
command -v makensis >/dev/null || die "makensis is missing (apt-get install nsis)"

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
cp README.md docs/install.md docs/config.md "$stage/"
cp gateway-core/src/config/default.toml "$stage/config.toml"
mkdir -p "$out"
setup="$(cd "$out" && pwd)/aigw-$version-$target-setup.exe"
defs=(-DVERSION="$version" -DAIGW_EXE="$(realpath "$aigw")" -DAIGWW_EXE="$(realpath "$aigww")"
  -DDOCS_DIR="$stage" -DOUTFILE="$setup")
[ -z "$desktop" ] || defs+=(-DDESKTOP_EXE="$(realpath "$desktop")" -DWEBVIEW2_DLL="$(realpath "$webview2")")
makensis -V2 -NOCD "${defs[@]}" packaging/windows/aigw.nsi >"$stage/makensis.log" 2>&1 \
  || { cat "$stage/makensis.log" >&2; die "makensis failed"; }
[ -s "$setup" ] || die "makensis wrote no $setup"
printf '%s\n' "$setup"

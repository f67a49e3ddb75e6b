#!/usr/bin/env bash
# Packs the desktop app's release archive, aigw-desktop-VERSION-TARGET.tar.gz,
# for a per-user install (~/.local) that updates itself:
#   bash packaging/desktop/pack.sh AIGW_RELEASE BINARY VERSION TARGET OUT_DIR [WEBVIEW2_DLL]
# AIGW_RELEASE is the aigw-release tool; prints the archive's path. Inside
# aigw-desktop-VERSION-TARGET/: aigw-desktop, install.sh (installs into
# ~/.local; --uninstall), aigw-desktop.desktop, icons/{32x32,128x128,256x256}.png,
# README.md, docs/desktop.md. Reproducible like `aigw-release pack`
# (SOURCE_DATE_EPOCH).
#
# For a Windows target (*-windows-*) it is the portable .zip
# aigw-desktop-VERSION-TARGET.zip instead: aigw-desktop.exe, WEBVIEW2_DLL
# as WebView2Loader.dll (required for *-windows-gnu, whose build imports it
# and needs it beside the .exe; refused for *-windows-msvc, whose build links
# the loader statically), README.md, docs/desktop.md and
# docs/install.md (its "Windows" section). The .exe carries its own icon; a
# Start-menu entry comes from the installer (packaging/windows), not the zip.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

[ $# -eq 5 ] || [ $# -eq 6 ] || { echo "usage: $0 AIGW_RELEASE BINARY VERSION TARGET OUT_DIR [WEBVIEW2_DLL]" >&2; exit 2; }
tool="$1" bin="$2" version="$3" target="$4" out="$5" webview2="${6:-}"

case "$target" in
  *-windows-*)
    dll=()
    case "$target" in
      *-windows-gnu)
        [ -f "$webview2" ] \
          || { echo "$0: a windows-gnu desktop archive needs WEBVIEW2_DLL (WebView2Loader.dll), got '${webview2}'" >&2; exit 2; }
        dll=(--file "$webview2=WebView2Loader.dll") ;;
      *) [ -z "$webview2" ] || { echo "$0: the MSVC build links the WebView2 loader statically: no WEBVIEW2_DLL" >&2; exit 2; } ;;
    esac
    exec "$tool" pack --app desktop --binary "$bin" --version "$version" --target "$target" --out-dir "$out" \
      "${dll[@]}" \
      --file README.md=README.md \
      --file docs/desktop.md=docs/desktop.md \
      --file docs/install.md=docs/install.md
    ;;
esac
[ -z "$webview2" ] || { echo "$0: WEBVIEW2_DLL is for Windows targets only" >&2; exit 2; }

# install.sh reads the icons by size; the sources are named by size too,
# except icon.png (256x256, the bundler's largest).
"$tool" pack --app desktop --binary "$bin" --version "$version" --target "$target" --out-dir "$out" \
  --exec-file packaging/desktop/install.sh=install.sh \
  --file packaging/desktop/aigw-desktop.desktop=aigw-desktop.desktop \
  --file src-tauri/icons/32x32.png=icons/32x32.png \
  --file src-tauri/icons/128x128.png=icons/128x128.png \
  --file src-tauri/icons/icon.png=icons/256x256.png \
  --file README.md=README.md \
  --file docs/desktop.md=docs/desktop.md

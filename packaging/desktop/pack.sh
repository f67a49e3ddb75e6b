#!/usr/bin/env bash
# Packs the desktop app's release archive, aigw-desktop-VERSION-TARGET.tar.gz,
# for a per-user install (~/.local) that updates itself:
#   bash packaging/desktop/pack.sh AIGW_RELEASE BINARY VERSION TARGET OUT_DIR
# AIGW_RELEASE is the aigw-release tool; prints the archive's path. Inside
# aigw-desktop-VERSION-TARGET/: aigw-desktop, install.sh (installs into
# ~/.local; --uninstall), aigw-desktop.desktop, icons/{32x32,128x128,256x256}.png,
# README.md, docs/desktop.md. Reproducible like `aigw-release pack`
# (SOURCE_DATE_EPOCH).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

[ $# -eq 5 ] || { echo "usage: $0 AIGW_RELEASE BINARY VERSION TARGET OUT_DIR" >&2; exit 2; }
tool="$1" bin="$2" version="$3" target="$4" out="$5"

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

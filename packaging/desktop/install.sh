#!/bin/sh
# Installs the AI Model Gateway desktop app for the current user from this
# unpacked release archive (aigw-desktop-VERSION-TARGET/):
#
#   sh install.sh              install or upgrade into ~/.local
#   sh install.sh --uninstall  remove what install.sh put there
#
#   ~/.local/bin/aigw-desktop
#   ~/.local/share/applications/aigw-desktop.desktop      (the menu entry)
#   ~/.local/share/icons/hicolor/{32x32,128x128,256x256}/apps/aigw-desktop.png
#
# PREFIX=DIR installs under DIR instead of ~/.local. No root needed, and the
# app can then update itself (tray: "Install update", or
# `aigw update apply --app desktop --binary ~/.local/bin/aigw-desktop`).
# Uninstalling keeps your config, keys and data (~/.config/aigw,
# ~/.local/share/aigw, the OS keychain); delete those yourself if wanted.
# Runtime libraries (Debian/Ubuntu): libwebkit2gtk-4.1-0 libgtk-3-0
# libayatana-appindicator3-1.
set -eu

here="$(cd "$(dirname "$0")" && pwd)"
prefix="${PREFIX:-${HOME:?HOME is not set}/.local}"
bin="$prefix/bin/aigw-desktop"
apps="$prefix/share/applications"
icons="$prefix/share/icons/hicolor"
sizes="32x32 128x128 256x256"

refresh() {
  # Desktops watch ~/.local/share/applications themselves. An icon cache is
  # refreshed only if one exists: creating one would hide icons that other
  # apps install later without refreshing it.
  if [ -f "$icons/icon-theme.cache" ] && command -v gtk-update-icon-cache >/dev/null 2>&1; then
    gtk-update-icon-cache -q -t "$icons" 2>/dev/null || true
  fi
}

case "${1:-}" in
  --uninstall)
    rm -f "$bin" "$apps/aigw-desktop.desktop"
    for s in $sizes; do rm -f "$icons/$s/apps/aigw-desktop.png"; done
    refresh
    echo "removed aigw-desktop from $prefix (config and data are kept: ~/.config/aigw, ~/.local/share/aigw)"
    exit 0 ;;
  "") ;;
  -h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) echo "install.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
esac

[ -x "$here/aigw-desktop" ] || { echo "install.sh: no aigw-desktop beside this script (run it from the unpacked archive)" >&2; exit 1; }
version="$("$here/aigw-desktop" --version)"

mkdir -p "$prefix/bin" "$apps"
# Copy, then rename over the old binary: a running app keeps its old file.
cp "$here/aigw-desktop" "$bin.new.$$"
chmod 755 "$bin.new.$$"
mv -f "$bin.new.$$" "$bin"
for s in $sizes; do
  [ -f "$here/icons/$s.png" ] || continue
  mkdir -p "$icons/$s/apps"
  cp "$here/icons/$s.png" "$icons/$s/apps/aigw-desktop.png"
  chmod 644 "$icons/$s/apps/aigw-desktop.png"
done
# The menu entry runs the installed binary by its full path (quoted, as the
# Desktop Entry spec wants for paths with spaces): ~/.local/bin is not on
# every desktop session's PATH.
sed "s|^Exec=aigw-desktop|Exec=\"$bin\"|" "$here/aigw-desktop.desktop" > "$apps/aigw-desktop.desktop"
chmod 644 "$apps/aigw-desktop.desktop"
refresh

echo "installed $version as $bin (menu: AI Model Gateway)"
case ":$PATH:" in
  *":$prefix/bin:"*) ;;
  *) echo "note: $prefix/bin is not on your PATH; the menu entry works anyway" ;;
esac
if command -v dpkg >/dev/null 2>&1 && dpkg -S /usr/bin/aigw-desktop >/dev/null 2>&1; then
  echo "note: the .deb's /usr/bin/aigw-desktop is installed too; keep one (sudo apt remove ai-model-gateway, or sh install.sh --uninstall)"
fi

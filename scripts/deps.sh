#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need, only those that
# are missing (0.3 s when all are present). Uses sudo when not root.
#   bash scripts/deps.sh            # build + test packages (everything)
#   bash scripts/deps.sh headless   # only what building `aigw` needs
#   bash scripts/deps.sh desktop    # building and running the desktop app
#   bash scripts/deps.sh windows    # cross-building aigw.exe, its installer and its wine smoke test
set -euo pipefail
MODE=${1:-all}

# Build: the keyring crate talks to the Secret Service through libdbus.
BUILD="build-essential pkg-config libdbus-1-dev"
# Tests: a real Secret Service (gnome-keyring in a private D-Bus session),
# Python venv for the OpenAI SDK suite, Chromium for the UI's end-to-end
# tests (driven by playwright-core; no browser download); real Redis and
# PostgreSQL for team mode's replica tests (throwaway instances on free ports).
TEST="dbus dbus-x11 gnome-keyring libsecret-tools python3-venv procps chromium
  redis-server postgresql"
# Desktop app (src-tauri, Tauri 2): WebKitGTK 4.1, GTK 3, libsoup 3 for the
# build; the Ayatana app indicator is loaded at run time for the tray icon.
DESKTOP_BUILD="libwebkit2gtk-4.1-dev libjavascriptcoregtk-4.1-dev libsoup-3.0-dev libgtk-3-dev
  libayatana-appindicator3-dev librsvg2-dev libssl-dev libxdo-dev file"
# Desktop tests: a private X server (screenshots, clicks), the tray over
# D-Bus (busctl), WebDriver (WebKitWebDriver under tauri-driver), the
# clipboard, and an XEmbed tray panel to draw the tray menu.
DESKTOP_TEST="xvfb xauth xdotool imagemagick x11-utils at-spi2-core systemd webkit2gtk-driver
  xclip trayer jq curl"

# Windows: mingw-w64 links the x86_64-pc-windows-gnu build (the Rust target
# itself comes from rustup); wine runs it (scripts/wine-smoke.sh), curl and jq
# drive it; nsis (makensis) builds the installer (packaging/windows); Xvfb,
# xdotool and imagemagick run the desktop app under wine (scripts/wine-desktop.sh).
WINDOWS="mingw-w64 wine wine64 nsis curl jq xvfb xdotool imagemagick"

case "$MODE" in
  all) PKGS="$BUILD $TEST $DESKTOP_BUILD $DESKTOP_TEST" ;;
  headless) PKGS="$BUILD" ;;
  desktop) PKGS="$BUILD $DESKTOP_BUILD dbus" ;;
  windows) PKGS="$WINDOWS" ;;
  *) echo "usage: deps.sh [all|headless|desktop|windows]" >&2; exit 2 ;;
esac

need=()
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
# python3-venv is only needed when the interpreter on PATH lacks venv.
if python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  need=("${need[@]/python3-venv}")
fi
need=($(printf '%s\n' "${need[@]}" | grep -v '^$' || true))
[ ${#need[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "deps: installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null

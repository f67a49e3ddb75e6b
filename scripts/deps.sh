#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need, only those that
# are missing (0.3 s when all are present). Uses sudo when not root.
#   bash scripts/deps.sh          # build + test packages
set -euo pipefail

# Build: the keyring crate talks to the Secret Service through libdbus.
BUILD="build-essential pkg-config libdbus-1-dev"
# Tests: a real Secret Service (gnome-keyring in a private D-Bus session),
# Python venv for the OpenAI SDK suite.
TEST="dbus dbus-x11 gnome-keyring libsecret-tools python3-venv procps"

need=()
for p in $BUILD $TEST; do
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

#!/usr/bin/env bash
# keyring-session.sh CMD [ARGS...]: runs CMD in a private D-Bus session whose
# Secret Service is a throwaway gnome-keyring, unlocked (empty password), in
# a home of its own, with AIGW_TEST_KEYRING=1 set. Keychain tests touch a
# real Secret Service this way, never yours. Used by scripts/test.sh (the
# Rust tests, the UI end to end) and scripts/coverage.sh.
#
# The bus knows one activatable service, org.freedesktop.secrets, and it
# starts the daemon already unlocked on that same home: should the daemon
# exit mid-run, the next keychain call starts it again with every secret
# stored so far, instead of D-Bus starting the distribution's daemon on
# the real home, which has no default collection there ("Secret Service:
# no result found"). Each start and exit is logged; the run ends saying
# how often the daemon started and whether the default collection was still
# there, so a failing run shows what happened to its keychain.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

case "${1:-}" in
__daemon)
  # Started by D-Bus activation, inside the session.
  home="$2"
  log="$home/daemon.log"
  note() { { echo "$(date +%T.%N | cut -c1-12) $*" >>"$log"; } 2>/dev/null || true; }
  note start
  rc=0
  echo | env HOME="$home" XDG_DATA_HOME="$home/data" XDG_CONFIG_HOME="$home/config" \
    XDG_CACHE_HOME="$home/cache" XDG_RUNTIME_DIR="$home/run" \
    gnome-keyring-daemon --foreground --unlock --components=secrets >/dev/null || rc=$?
  note "exit $rc"
  exit "$rc"
  ;;
__inside)
  shift
  home="$KEYRING_SESSION_HOME"
  # Checks the keychain before CMD runs: a store, a lookup and a removal.
  probe="aigw-keyring-session-probe-$$"
  echo -n "$probe" | secret-tool store --label="$probe" aigw-probe "$probe" ||
    { echo "keyring-session: cannot store into the private Secret Service" >&2; cat "$home/daemon.log" >&2; exit 1; }
  [ "$(secret-tool lookup aigw-probe "$probe")" = "$probe" ] ||
    { echo "keyring-session: the private Secret Service lost a secret at once" >&2; exit 1; }
  secret-tool clear aigw-probe "$probe"
  rc=0
  AIGW_TEST_KEYRING=1 "$@" || rc=$?
  starts="$(grep -c ' start$' "$home/daemon.log" || true)"
  alias="$(dbus-send --session --print-reply --dest=org.freedesktop.secrets \
    /org/freedesktop/secrets org.freedesktop.Secret.Service.ReadAlias string:default 2>&1 |
    sed -n 's/.*object path "\(.*\)"/\1/p')"
  if [ "$starts" != 1 ] || [ "$alias" = / ] || [ -z "$alias" ]; then
    echo "keyring-session: gnome-keyring-daemon started $starts time(s); default collection at the end: '${alias:-none}'" >&2
    cat "$home/daemon.log" >&2
  fi
  exit "$rc"
  ;;
esac

[ $# -gt 0 ] || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }
home="$(mktemp -d)"
# The daemon may still be writing its last files (its keyring, its exit
# line) as the session ends: try for a few seconds, and never fail the run
# for a leftover temp dir.
cleanup() {
  for _ in $(seq 1 50); do
    rm -rf "$home" 2>/dev/null && [ ! -e "$home" ] && return 0
    sleep 0.1
  done
  echo "keyring-session: left $home behind" >&2
  return 0
}
trap cleanup EXIT
mkdir -p "$home/services" "$home/data" "$home/config" "$home/cache" "$home/run"
chmod 700 "$home/run"
: >"$home/daemon.log"
cat >"$home/services/org.freedesktop.secrets.service" <<EOF
[D-BUS Service]
Name=org.freedesktop.secrets
Exec=/bin/bash "$here/keyring-session.sh" __daemon "$home"
EOF
cat >"$home/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:tmpdir=$home</listen>
  <auth>EXTERNAL</auth>
  <servicedir>$home/services</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOF
export KEYRING_SESSION_HOME="$home"
rc=0
dbus-run-session --config-file="$home/bus.conf" -- bash "$here/keyring-session.sh" __inside "$@" || rc=$?
exit "$rc"

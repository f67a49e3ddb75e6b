#!/usr/bin/env bash
# The Windows desktop app under wine: aigw-desktop.exe (cross-built for
# x86_64-pc-windows-gnu, WebView2Loader.dll beside it) in a throwaway wine
# prefix on a private Xvfb display, against Linux-side fake upstreams on
# 127.0.0.1, with curl on the Linux side as the client:
#
#   bash scripts/wine-desktop.sh AIGW_DESKTOP_EXE [SCREENSHOT_DIR]
#
# packaging/release.sh --windows runs it on the .exe it releases. The fake
# upstream comes from $FAKE_UPSTREAM_BIN, else $CARGO_TARGET_DIR/debug/fake-upstream
# (cargo build -p testkit --bin fake-upstream). Needs the Debian packages
# wine, wine64, mingw-w64, xvfb, xdotool, curl, jq, python3 (imagemagick
# for the screenshots).
#
# What it checks:
#   1. A login start (`--hidden`) builds no window and no webview: the
#      in-process gateway serves /healthz on AIGW_LISTEN from AIGW_CONFIG and
#      AIGW_DATA_DIR (Windows paths), answers a chat request and a stream that
#      fall back from a provider answering 429 to the next one, and keeps its
#      config versions and request log (SQLite) in that data dir.
#   2. The tray icon is registered (wine shows it in its "Wine System Tray"
#      window) and no app window is shown.
#   3. A second launch hands over to the running app and exits; the running
#      app then opens its window. The prefix has no WebView2 runtime (it is
#      Microsoft's download), so the webview cannot be built: Tauri's error
#      dialog ("Could not find the WebView2 Runtime") shows, and after OK the
#      app and its gateway keep serving.
#   4. A first start with its window (no --hidden) shows the same dialog and
#      still starts the gateway: a machine without the runtime keeps a
#      working gateway and tray.
# What wine cannot show: the window itself and its UI (no WebView2 runtime),
# the tray's menu (wine's tray relays the clicks, but no menu opens in a
# display without a window manager), so Quit is not clicked: the app is
# killed at the end.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

exe="${1:?usage: $0 AIGW_DESKTOP_EXE [SCREENSHOT_DIR]}"
shots="${2:-}"
dll="$(dirname "$exe")/WebView2Loader.dll"
fake="${FAKE_UPSTREAM_BIN:-${CARGO_TARGET_DIR:-target}/debug/fake-upstream}"

say() { printf '== wine-desktop: %s\n' "$*" >&2; }
die() { printf 'wine-desktop: FAILED: %s\n' "$*" >&2; exit 1; }
for tool in wine wineboot wineserver x86_64-w64-mingw32-gcc Xvfb xdotool curl jq python3; do
  command -v "$tool" >/dev/null || die "$tool is missing (apt-get install wine wine64 mingw-w64 xvfb xdotool curl jq python3)"
done
[ -f "$exe" ] || die "no $exe"
[ -f "$dll" ] || die "no $dll beside the .exe (the GNU build imports it)"
[ -x "$fake" ] || die "no $fake (cargo build -p testkit --bin fake-upstream)"

work="$(mktemp -d)"
# shellcheck source=scripts/wine/lib.sh
. scripts/wine/lib.sh
export WINEPREFIX="$work/prefix" WINEDEBUG=-all WINEARCH=win64 WINEDLLOVERRIDES="$WINE_DLL_OVERRIDES"
xvfb_pid="" app_pid=""
cleanup() {
  [ -z "$app_pid" ] || kill "$app_pid" 2>/dev/null || true
  wineserver -k 2>/dev/null || true
  [ -z "$xvfb_pid" ] || kill "$xvfb_pid" 2>/dev/null || true
  [ -z "${FAKE_PID:-}" ] || kill "$FAKE_PID" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
t0=$(date +%s)

# A private X display: Xvfb picks a free number and writes it to fd 3.
Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>"$work/display" >"$work/xvfb.log" 2>&1 &
xvfb_pid=$!
has_display() { [ -s "$work/display" ]; }
for _ in $(seq 120); do has_display && break; sleep 0.25; done
has_display || die "Xvfb did not start: $(cat "$work/xvfb.log")"
DISPLAY=":$(tr -d '\n' <"$work/display")"
export DISPLAY

say "wine prefix in $WINEPREFIX ($(wine --version)), display $DISPLAY"
shim="$(wine_boot_prefix)" || die "no wine prefix (see above)"
[ -z "$shim" ] || say "$shim"
mkdir -p "$work/app"
cp "$exe" "$dll" "$work/app/"
app="$work/app/$(basename "$exe")"

coproc FAKE { "$fake" --upstream primary=status:429 --upstream backup=ok 2>"$work/fake.err"; }
read -r -t 60 urls <&"${FAKE[0]}" || die "fake-upstream did not start: $(cat "$work/fake.err")"
primary="$(jq -r .primary <<<"$urls")" backup="$(jq -r .backup <<<"$urls")"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
cat >"$work/config.toml" <<EOF
[server]
listen = "127.0.0.1:4000"
shutdown_grace_s = 1

[[providers]]
name = "primary"
kind = "openai"
base_url = "$primary"

[[providers]]
name = "backup"
kind = "openai"
base_url = "$backup"

[[routes]]
model = "smoke"
[[routes.targets]]
provider = "primary"
[[routes.targets]]
provider = "backup"
model = "backup-model"
EOF
AIGW_CONFIG="$(winpath "$work/config.toml")" AIGW_DATA_DIR="$(winpath "$work/data")"
export AIGW_CONFIG AIGW_DATA_DIR AIGW_LISTEN="127.0.0.1:$port"

windows() { # the visible top-level windows' names, one a line
  xdotool search --onlyvisible --name '' 2>/dev/null | while read -r id; do xdotool getwindowname "$id" 2>/dev/null || true; done
}
wait_for() { # SECONDS CMD...
  local i
  for ((i = 0; i < $1 * 4; i++)); do "${@:2}" && return 0; sleep 0.25; done
  return 1
}
healthy() { [ "$(curl -fsS -m 2 "$base/healthz" 2>/dev/null | jq -r .status 2>/dev/null)" = ok ]; }
has_window() { windows | grep -qx "$1"; }
event() { grep -q "^EVENT $1" "$work/app.out"; }
shot() {
  [ -n "$shots" ] || return 0
  mkdir -p "$shots"
  import -window root "$shots/$1.png" 2>/dev/null || say "no screenshot $1 (imagemagick's import)"
}
start_app() { # ARGS...: the app in the background, its stdout (EVENT lines) in app.out
  wine "$app" "$@" >"$work/app.out" 2>"$work/app.err" &
  app_pid=$!
}
app_log() { tr -d '\r' <"$work/app.out"; tr -d '\r' <"$work/app.err" | tail -n 20; }
# Tauri's "Could not find the WebView2 Runtime" box is titled "Error"; its
# OK button sits at (313, 134) in its 354x150 window.
dismiss_runtime_dialog() {
  wait_for 60 has_window Error || die "no WebView2 runtime dialog: windows: $(windows | tr '\n' '|'); app: $(app_log)"
  shot "$1"
  local id
  id="$(xdotool search --onlyvisible --name '^Error$' | head -n1)"
  xdotool mousemove --window "$id" 313 134 click 1
  wait_for 20 bash -c "! xdotool search --onlyvisible --name '^Error\$' >/dev/null" || die "the WebView2 runtime dialog does not close on OK"
}

# ---------------------------------------------------------------- 1. hidden
say "aigw-desktop.exe --hidden on 127.0.0.1:$port"
start_app --hidden
wait_for 120 healthy || die "the in-process gateway does not answer /healthz: $(app_log)"
event "gateway-started 127.0.0.1:$port" || die "no gateway-started event for 127.0.0.1:$port: $(app_log)"
say "/healthz ok ($(($(date +%s) - t0)) s)"

code="$(curl -sS -o "$work/b" -D "$work/h" -w '%{http_code}' "$base/v1/chat/completions" \
  -H 'content-type: application/json' -d '{"model":"smoke","messages":[{"role":"user","content":"hello from wine"}]}')"
[ "$code" = 200 ] || die "chat: HTTP $code $(cat "$work/b")"
grep -qi '^x-aigw-provider: backup' "$work/h" || die "chat was not answered by the backup after the 429: $(cat "$work/h")"
jq -e '.choices[0].message.content | length > 0' "$work/b" >/dev/null || die "chat: no answer in $(cat "$work/b")"
code="$(curl -sS -o "$work/b" -D "$work/h" -w '%{http_code}' "$base/v1/chat/completions" \
  -H 'content-type: application/json' -d '{"model":"smoke","stream":true,"messages":[{"role":"user","content":"stream from wine"}]}')"
[ "$code" = 200 ] || die "stream: HTTP $code $(cat "$work/b")"
grep -q '^data: \[DONE\]' "$work/b" || die "the stream did not end with data: [DONE]: $(cat "$work/b")"
grep -qi '^x-aigw-provider: backup' "$work/h" || die "the stream was not answered by the backup: $(cat "$work/h")"
say "chat and stream fell back from the 429 to the backup"
for f in config.db telemetry.db; do
  [ -s "$work/data/$f" ] || die "no $f in AIGW_DATA_DIR ($(find "$work/data" -maxdepth 1 -printf '%f ' 2>&1))"
done
say "config versions and the request log are in AIGW_DATA_DIR"

# ---------------------------------------------------------------- 2. tray
wait_for 30 has_window 'Wine System Tray' || die "no tray icon: windows: $(windows | tr '\n' '|')"
! event webview-created || die "a --hidden start built a webview: $(app_log)"
has_window 'AI Model Gateway' && die "a --hidden start shows the window"
shot hidden-tray
say "tray icon registered, no window"

# ---------------------------------------------------------------- 3. second launch
second_rc=0
timeout 60 wine "$app" >"$work/second.out" 2>&1 || second_rc=$?
[ "$second_rc" = 0 ] || die "the second launch exited with $second_rc: $(tr -d '\r' <"$work/second.out")"
wait_for 30 event second-instance || die "the running app did not hear the second launch: $(app_log)"
dismiss_runtime_dialog second-launch-no-webview2
healthy || die "the gateway stopped after the missing-runtime dialog: $(app_log)"
kill -0 "$app_pid" 2>/dev/null || die "the app exited after the missing-runtime dialog: $(app_log)"
say "a second launch handed over; without a WebView2 runtime the app said so and kept serving"
wine taskkill /F /IM "$(basename "$app")" >/dev/null 2>&1 || true
wait "$app_pid" 2>/dev/null || true
app_pid=""
wait_for 30 bash -c "! curl -fs -m 1 -o /dev/null '$base/healthz'" || die "the killed app still answers /healthz"

# ---------------------------------------------------------------- 4. windowed start
say "aigw-desktop.exe with its window"
start_app
dismiss_runtime_dialog first-start-no-webview2
wait_for 60 healthy || die "the gateway did not start after the missing-runtime dialog: $(app_log)"
code="$(curl -sS -o "$work/b" -w '%{http_code}' "$base/v1/chat/completions" \
  -H 'content-type: application/json' -d '{"model":"smoke","messages":[{"role":"user","content":"again"}]}')"
[ "$code" = 200 ] || die "chat after a windowed start: HTTP $code $(cat "$work/b")"
wait_for 30 has_window 'Wine System Tray' || die "no tray icon after a windowed start"
say "a windowed start without the runtime still serves, with its tray icon"

say "passed in $(($(date +%s) - t0)) s (not run under wine: the window's UI, the tray menu, Quit)"

#!/usr/bin/env bash
# WebDriver end-to-end test of the desktop window: the real app binary driven
# through tauri-driver and WebKitWebDriver (W3C WebDriver over curl + jq), in a
# private X server and D-Bus session, against its in-process gateway with fake
# upstreams. The UI reaches the admin API through the `admin_request` command
# (in-process admin token); what it does must show in the gateway and in the
# tray:
#   - the window loads the operator UI, which shows the gateway running and
#     its endpoint;
#   - clicking "Providers & keys" opens that page, listing the providers;
#   - clicking Pause pauses the gateway (clients get 503, the tray says
#     "Paused"); clicking again resumes it;
#   - Updates & settings offers a signed release served on 127.0.0.1,
#     installs it over the running (copied) executable and "Restart now"
#     starts the new one.
#
# Usage: scripts/desktop-webdriver.sh [BIN] [OUT_DIR]
#   BIN      default target/debug/aigw-desktop
#   OUT_DIR  default target/desktop-webdriver (driver/app log, screenshot)
# Installs tauri-driver (`cargo install tauri-driver --version ^2 --locked`,
# ~30 s) when it is not on PATH; WebKitWebDriver is Debian's webkit2gtk-driver.
# Prints "desktop webdriver: N passed, M failed"; exits non-zero on failure.
set -uo pipefail

if [ "${1:-}" != "--inner" ]; then
  cd "$(dirname "${BASH_SOURCE[0]}")/.."
  BIN=${1:-target/debug/aigw-desktop}
  OUT=${2:-target/desktop-webdriver}
  FAKE=${FAKE_UPSTREAM:-target/debug/fake-upstream}
  [ -x "$BIN" ] || { echo "desktop-webdriver: no binary $BIN (cargo build -p aigw-desktop)" >&2; exit 2; }
  command -v WebKitWebDriver >/dev/null || { echo "desktop-webdriver: no WebKitWebDriver (apt-get install webkit2gtk-driver)" >&2; exit 2; }
  export PATH="$HOME/.cargo/bin:$PATH"
  if ! command -v tauri-driver >/dev/null; then
    echo "desktop-webdriver: installing tauri-driver" >&2
    cargo install tauri-driver --version '^2' --locked --quiet || exit 2
  fi
  mkdir -p "$OUT"
  [ -x "$FAKE" ] && FAKE=$(readlink -f "$FAKE") || FAKE=""
  RELTOOL=${AIGW_RELEASE_TOOL:-target/debug/aigw-release}
  [ -x "$RELTOOL" ] && RELTOOL=$(readlink -f "$RELTOOL") || RELTOOL=""
  export AIGW_HOST_TRIPLE=${AIGW_HOST_TRIPLE:-$(rustc -vV 2>/dev/null | sed -n 's/^host: //p')}
  exec timeout 300 dbus-run-session -- xvfb-run -a -s "-screen 0 1280x800x24 -nolisten tcp" \
    bash "$0" --inner "$(readlink -f "$BIN")" "$(readlink -f "$OUT")" "$FAKE" "$RELTOOL"
fi

BIN=$2; OUT=$3; FAKE=$4; RELTOOL=${5:-}; T=${WEBDRIVER_TIMEOUT:-30}
. "$(dirname "$0")/desktop-lib.sh"
desktop_env "$FAKE"
# The app runs from a copy (the Updates page replaces it) and is offered a
# signed release 99.0.0 served on 127.0.0.1 (see serve_release).
UPDATES=""
if [ -x "$RELTOOL" ] && [ -n "${AIGW_HOST_TRIPLE:-}" ]; then
  mkdir -p "$W/app"; cp "$BIN" "$W/app/aigw-desktop"; BIN=$W/app/aigw-desktop
  serve_release "$RELTOOL" 99.0.0 "$W/restarted" && UPDATES=1
fi

WDPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# The app is started by WebKitWebDriver under tauri-driver: its output lands here.
tauri-driver --port "$WDPORT" --native-port $((WDPORT + 1)) >"$OUT/driver.log" 2>&1 &
DRIVER=$!
trap 'curl -s -X DELETE "${S:-none}" >/dev/null 2>&1; kill $DRIVER $(jobs -p) 2>/dev/null; rm -rf "$W"' EXIT
WD=http://127.0.0.1:$WDPORT
wait_for "$T" curl -sf "$WD/status" -o /dev/null || { echo "desktop-webdriver: tauri-driver did not start"; cat "$OUT/driver.log"; exit 1; }

post() { curl -s -X POST "$1" -H 'Content-Type: application/json' -d "$2"; }
CAPS=$(jq -nc --arg a "$BIN" '{capabilities:{alwaysMatch:{"tauri:options":{application:$a}}}}')
SID=$(post "$WD/session" "$CAPS" | jq -r '.value.sessionId // empty')
[ -n "$SID" ] || { echo "desktop-webdriver: no session"; cat "$OUT/driver.log"; exit 1; }
S=$WD/session/$SID

# el CSS → element id (empty when absent); text ID; click ID
el() { post "$S/element" "$(jq -nc --arg c "$1" '{using:"css selector",value:$c}')" | jq -r '.value | objects | to_entries[0].value // empty'; }
text() { curl -s "$S/element/$1/text" | jq -r '.value // empty'; }
click_el() { post "$S/element/$1/click" '{}' >/dev/null; }
text_of() { local e; e=$(el "$1"); [ -n "$e" ] && text "$e"; }
text_has() { [[ "$(text_of "$1")" == *"$2"* ]]; } # CSS SUBSTRING
click_css() { local e; e=$(el "$1"); [ -n "$e" ] && click_el "$e"; }

check "window title is 'AI Model Gateway'" test "$(curl -s "$S/title" | jq -r .value)" = "AI Model Gateway"
check "the UI shows the gateway running" wait_for "$T" text_has '[data-testid="gateway-state"]' Running
if [ -z "$(el '[data-testid="gateway-state"]')" ] && curl -s "$S/source" | grep -q "placeholder"; then
  echo "  (the app embeds src-tauri/placeholder-dist: build the UI first, npm --prefix frontend run build)"
fi
check "the UI shows the endpoint $GW/v1" wait_for "$T" eval '[ "$(text_of "[data-testid=endpoint-url]")" = "$GW/v1" ]'

check "click 'Providers & keys' in the sidebar" click_css 'a[href="#/providers"]'
check "the Providers & keys page opens" wait_for 10 text_has h1 "Providers & keys"
check "it lists the configured providers" wait_for 10 eval 'src=$(curl -s "$S/source" | jq -r .value); [[ "$src" == *openai* && "$src" == *ollama* ]]'

click_css 'a[href="#/overview"]'
check "click Pause on the overview" wait_for 10 click_css '[data-testid="pause-toggle"]'
check "the UI shows 'Paused'" wait_for 10 text_has '[data-testid="run-state"]' Paused
check "paused: a client request gets 503 gateway_paused" eval '[ "$(chat)" = 503 ] && grep -q gateway_paused "$W/chat.json"'
APP=$(pgrep -n -f "^$BIN" || true)
if [ -n "$APP" ] && wait_for 10 find_tray "$APP"; then
  check "the tray says 'Paused' too" wait_for 5 has_item "Paused"
else
  bad "no tray found for the app (pid ${APP:-?})"
fi
curl -s "$S/screenshot" | jq -r .value | base64 -d >"$OUT/webdriver.png" 2>/dev/null
check "click Resume" click_css '[data-testid="pause-toggle"]'
check "the UI shows 'Running' again" wait_for 10 text_has '[data-testid="run-state"]' Running
if [ -n "$FAKE" ]; then
  check "resumed: a client request is served (200)" test "$(chat)" = 200
fi
[ -n "$SNI" ] && check "the tray says 'Running on $AIGW_LISTEN' again" wait_for 5 has_item "Running on $AIGW_LISTEN"

# Updates & settings: the page checks the signed release, installs it into
# the running executable's place, and "Restart now" starts the new one.
if [ -n "$UPDATES" ]; then
  click_css 'a[href="#/settings"]'
  check "Updates: the check offers 99.0.0" wait_for 20 text_has '[data-testid="update-headline"]' "99.0.0"
  check "Updates: click Install, then confirm" eval 'click_css "[data-testid=update-install]" && wait_for 5 click_css "[data-testid=update-confirm]"'
  check "Updates: the page says it installed 99.0.0" wait_for 30 text_has '[data-testid="update-result-ok"]' "99.0.0"
  check "Updates: the executable on disk is the new version" eval '[ "$("$BIN" --version)" = "aigw-desktop 99.0.0" ]'
  check "Updates: the replaced one is kept for rollback" \
    cmp -s "$2" "$AIGW_DATA_DIR/updates/previous-desktop/aigw-desktop"
  curl -s "$S/screenshot" | jq -r .value | base64 -d >"$OUT/webdriver-updates.png" 2>/dev/null
  APP=$(pgrep -n -f "^$BIN" || true)
  check "Updates: click 'Restart now'" click_css '[data-testid="update-restart"]'
  check "Updates: the old process stops" wait_for "$T" eval '[ -z "$APP" ] || ! kill -0 $APP 2>/dev/null'
  check "Updates: ... and the new executable starts" wait_for "$T" test -s "$W/restarted"
fi

curl -s -X DELETE "$S" >/dev/null; S=""
echo "desktop webdriver: $PASS passed, $FAIL failed (screenshot $OUT/webdriver.png)"
[ "$FAIL" -eq 0 ]

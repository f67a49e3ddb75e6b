#!/usr/bin/env bash
# Headless smoke test of the desktop app (src-tauri), as a user meets it:
# the window opens and the UI renders (screenshots), the gateway answers on
# its port, and every tray menu item works — clicked over D-Bus
# (com.canonical.dbusmenu), the way a panel clicks it:
#   status line, copy endpoint URL (read back from the clipboard), pause and
#   resume (a client request gets 503 while paused), routing profile switch
#   (the config file changes), connect tools (Claude Code connected and
#   disconnected: its settings.json in the test's HOME appears and goes),
#   close-to-tray (the webview and WebKit's web process go) and open window
#   (a new webview paints the UI), manage keys (with the window closed: it
#   opens on that page), start at login (the autostart file), a second
#   launch (single instance), quit (exit 0, port released);
# then a second run with the port taken: the tray and the window say so;
# then a third run that updates itself from the tray: check, install a signed
# release served on 127.0.0.1 (verified, the old executable kept), restart
# into it; `aigw update rollback --app desktop` puts the old one back; last a
# login start (--hidden): no window and no webview until the tray opens it.
#
# Usage: scripts/desktop-smoke.sh [BIN] [OUT_DIR]
#   BIN      default target/debug/aigw-desktop (build it with
#            `cargo build -p aigw-desktop`)
#   OUT_DIR  default target/desktop-smoke: app logs, tray layouts, screenshots
# Env: SMOKE_TIMEOUT (s, per wait; default 30), FAKE_UPSTREAM (default
#   target/debug/fake-upstream; when present, providers are real fake servers
#   and some traffic is sent so the UI has numbers to show), DOCS_IMG=DIR
#   (copy the window, tray menu and port-taken screenshots there, e.g.
#   DOCS_IMG=$PWD/docs/img for the README).
# Needs (scripts/deps.sh): xvfb, xdotool, imagemagick, dbus, systemd (busctl),
#   jq, curl, gnome-keyring, xclip; trayer (optional) for the menu screenshot.
# Prints "desktop smoke: N passed, M failed"; exits non-zero on any failure.
set -uo pipefail

if [ "${1:-}" != "--inner" ]; then
  cd "$(dirname "${BASH_SOURCE[0]}")/.."
  BIN=${1:-target/debug/aigw-desktop}
  OUT=${2:-target/desktop-smoke}
  FAKE=${FAKE_UPSTREAM:-target/debug/fake-upstream}
  RELTOOL=${AIGW_RELEASE_TOOL:-target/debug/aigw-release}
  [ -x "$BIN" ] || { echo "desktop-smoke: no binary $BIN (cargo build -p aigw-desktop)" >&2; exit 2; }
  mkdir -p "$OUT"
  [ -x "$FAKE" ] && FAKE=$(readlink -f "$FAKE") || FAKE=""
  [ -x "$RELTOOL" ] && RELTOOL=$(readlink -f "$RELTOOL") || RELTOOL=""
  # The release's target triple (asked here: the inner run has a private HOME).
  export AIGW_HOST_TRIPLE=${AIGW_HOST_TRIPLE:-$(rustc -vV 2>/dev/null | sed -n 's/^host: //p')}
  # The README's screenshots show the default port when it is free.
  if [ -n "${DOCS_IMG:-}" ] && ! curl -s -o /dev/null http://127.0.0.1:4000/; then export DESKTOP_TEST_PORT=4000; fi
  # A private session bus and X server; both go away with the command.
  exec timeout 300 dbus-run-session -- xvfb-run -a -s "-screen 0 1280x800x24 -nolisten tcp" \
    bash "$0" --inner "$(readlink -f "$BIN")" "$(readlink -f "$OUT")" "$FAKE" "$RELTOOL"
fi

BIN=$2; OUT=$3; FAKE=$4; RELTOOL=${5:-}; T=${SMOKE_TIMEOUT:-30}
. "$(dirname "$0")/desktop-lib.sh"
desktop_env "$FAKE"
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$W"' EXIT

shot() { # NAME: window (if mapped) and screen
  import -window root "$OUT/$1-screen.png" 2>/dev/null
  [ -n "${WID:-}" ] && import -window "$WID" "$OUT/$1.png" 2>/dev/null
}
painted() { # NAME: a screenshot that is not blank (WebKit paints late on a loaded machine)
  shot "$1"
  [ "$(colours "$OUT/$1.png")" -gt 64 ] 2>/dev/null
}
visible() { [ -n "$(xdotool search --onlyvisible --name '^AI Model Gateway$' 2>/dev/null)" ]; }
find_wid() { WID=$(xdotool search --onlyvisible --name '^AI Model Gateway$' 2>/dev/null | head -1); [ -n "$WID" ]; }
descendants() { local p; for p in $(pgrep -P "$1"); do echo "$p"; descendants "$p"; done; }
web_process() { local p; for p in $(descendants "$APP"); do grep -qs WebKitWebProcess "/proc/$p/cmdline" && return 0; done; return 1; }
tree_rss_mib() { local p s=0 r; for p in "$APP" $(descendants "$APP"); do
  r=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null); s=$((s + ${r:-0})); done; echo $((s / 1024)); }
start_app() { # LOG
  "$BIN" >"$1" 2>&1 &
  APP=$!
  WID=""
  wait_for "$T" eval 'WID=$(xdotool search --onlyvisible --name "^AI Model Gateway\$" 2>/dev/null | head -1); [ -n "$WID" ] || ! kill -0 $APP 2>/dev/null'
  [ -n "$WID" ]
}

# A system tray panel (XEmbed), when trayer is installed: the tray icon is
# then drawn as a panel shows it, and its menu is opened for a screenshot.
if command -v trayer >/dev/null; then
  trayer --edge top --align right --widthtype pixel --width 64 --height 32 --transparent false \
    --tint 0x2b2b2b --SetDockType false --SetPartialStrut false >/dev/null 2>&1 &
  sleep 0.5
fi

# quit_from_tray PREFIX: the tray's "Quit" ends $APP with exit 0 (checked,
# labelled with PREFIX), or it is killed and counted as a failure.
quit_from_tray() {
  click "Quit"
  if wait_for "$T" eval '! kill -0 $APP 2>/dev/null'; then
    wait "$APP"; rc=$?
    check "${1}tray 'Quit' exited the app (rc $rc)" test "$rc" = 0
  else
    bad "${1}app still running after tray 'Quit'"; kill "$APP"
  fi
}

# ====================== run 1: the happy path
LOG=$OUT/app.log
check "window 'AI Model Gateway' mapped" start_app "$LOG"
check "gateway answers /healthz on $AIGW_LISTEN" wait_for "$T" curl -sf "$GW/healthz" -o /dev/null
check "UI rendered and called frontend_ready" wait_for "$T" grep -q "EVENT frontend-ready" "$LOG"
if [ -n "$FAKE" ]; then   # some traffic (with fallbacks), so the overview has numbers
  for _ in $(seq 1 16); do chat >/dev/null; chat llama-3.1-70b >/dev/null; done
fi
# Let WebKit paint; for the README's screenshots, let the overview poll once more.
if [ -n "${DOCS_IMG:-}" ]; then sleep 16; else sleep 1; fi
wait_for "$T" painted window || true
N=$(colours "$OUT/window.png")
check "window screenshot is not blank ($N colours, $OUT/window.png)" test "${N:-0}" -gt 64

check "tray icon exported on D-Bus" wait_for "$T" find_tray "$APP"
if [ -n "$MENU" ]; then
  items > "$OUT/tray-items.tsv"
  for l in "Running on $AIGW_LISTEN" "Copy endpoint URL" "Open window" "Routing profile" "Manage keys…" \
           "Pause" "Start at login" "Check for updates…" "Quit" "default (top-level routes)" "local-only"; do
    check "tray menu has '$l'" has_item "$l"
  done
  check "status line is disabled" test "$(item_field "Running on $AIGW_LISTEN" 3)" = false
  check "active profile is 'default (top-level routes)'" test "$(item_field "default (top-level routes)" 4)" = 1

  # the menu as a panel renders it: click the icon in trayer, open "Routing profile"
  ICON_WIN=$(for w in $(xdotool search --onlyvisible --pid "$APP" 2>/dev/null); do
    eval "$(xdotool getwindowgeometry --shell "$w")"; [ "$WIDTH" -ge 16 ] && [ "$WIDTH" -le 48 ] && [ "$Y" -le 40 ] && echo "$X $Y $WIDTH $HEIGHT"; done | head -1)
  if [ -n "$ICON_WIN" ]; then
    read -r IX IY IW IH <<<"$ICON_WIN"
    xdotool mousemove $((IX + IW / 2)) $((IY + IH / 2)) click 1; sleep 1
    xdotool key Down Down Down Right; sleep 1
    import -window root "$OUT/tray-menu-screen.png"
    convert "$OUT/tray-menu-screen.png" -crop 560x330+$((1280 - 560))+0 +repage "$OUT/tray-menu.png"
    xdotool key Escape Escape; sleep 0.3
    N=$(colours "$OUT/tray-menu.png")
    check "tray menu rendered by the panel ($N colours, $OUT/tray-menu.png)" test "${N:-0}" -gt 16
  fi

  # copy endpoint URL → clipboard
  click "Copy endpoint URL"
  if command -v xclip >/dev/null; then
    check "clipboard holds the endpoint URL" wait_for 5 eval '[ "$(xclip -o -selection clipboard 2>/dev/null)" = "$GW/v1" ]'
  fi
  check "tray notice says it was copied" wait_for 5 has_item "Copied $GW/v1"

  # pause → clients get 503; resume → served again
  ICON_RUNNING=$(icon_name)
  click "Pause"
  check "tray status line says 'Paused'" wait_for 5 has_item "Paused"
  check "paused: a chat request gets 503 gateway_paused" eval '[ "$(chat)" = 503 ] && grep -q gateway_paused "$W/chat.json"'
  check "tray icon changed for paused" test "$(icon_name)" != "$ICON_RUNNING"
  check "tray offers 'Resume'" has_item "Resume"
  shot paused
  click "Resume"
  check "tray status line back to 'Running on $AIGW_LISTEN'" wait_for 5 has_item "Running on $AIGW_LISTEN"
  if [ -n "$FAKE" ]; then
    check "resumed: a chat request is served (200)" test "$(chat)" = 200
  else
    check "resumed: a chat request is no longer refused as paused" eval '! grep -q gateway_paused <(chat; cat "$W/chat.json")'
  fi

  # routing profile → a published, audited config version; the file changes
  click "local-only"
  check "profile switch wrote server.profile to the config file" \
    wait_for 5 grep -q '^profile = "local-only"' "$AIGW_CONFIG"
  check "config file keeps its comments" grep -q '^# desktop test config' "$AIGW_CONFIG"
  check "tray checks 'local-only'" wait_for 5 eval '[ "$(item_field local-only 4)" = 1 ]'
  click "default (top-level routes)"
  check "back to the top-level routes" wait_for 5 eval '! grep -q "^profile = " "$AIGW_CONFIG"'

  # connect tools: a check item per connectable tool; a click connects it
  # (writes Claude Code's settings.json in the test's HOME), a second click
  # disconnects it (the file, which did not exist, is removed again)
  check "tray menu has 'Connect tools'" has_item "Connect tools"
  check "tray menu has 'Open Connect tools page'" has_item "Open Connect tools page"
  tool_item() { items | cut -f2 | grep -m1 "^$1\( (\|\$\)"; } # PREFIX: its current label
  for t in "Claude Code" "Codex CLI" "opencode" "Continue"; do
    check "Connect tools has '$t' ($(tool_item "$t"))" wait_for 10 eval '[ -n "$(tool_item "$t")" ]'
  done
  # Claude Code "installed": its config dir exists (the smoke's HOME is empty)
  mkdir -p "$HOME/.claude"
  CLAUDE_SETTINGS=$HOME/.claude/settings.json
  wait_for 10 eval '[ "$(tool_item "Claude Code")" = "Claude Code (installed)" ]'
  CC=$(tool_item "Claude Code")
  if [ -n "$CC" ]; then
    check "Claude Code is not checked before ('$CC')" test "$(item_field "$CC" 4)" = 0
    click "$CC"
    check "tray connect: settings.json points at the gateway" \
      wait_for 10 eval 'grep -qs "ANTHROPIC_BASE_URL" "$CLAUDE_SETTINGS" && grep -qs "127.0.0.1:$PORT" "$CLAUDE_SETTINGS"'
    check "tray checks 'Claude Code' once connected" wait_for 10 eval '[ "$(item_field "Claude Code" 4)" = 1 ]'
    grep -h "EVENT tray-tool" "$LOG" | tail -1 | sed 's/^/  /'
    click "Claude Code"
    check "tray disconnect: settings.json (created by connect) is gone again" wait_for 10 eval '[ ! -e "$CLAUDE_SETTINGS" ]'
    check "tray unchecks Claude Code once disconnected" \
      wait_for 10 eval '[ "$(item_field "$(tool_item "Claude Code")" 4)" = 0 ]'
  fi
  click "Open Connect tools page"
  check "tray 'Open Connect tools page' handled" wait_for 5 grep -q "EVENT tray-menu open-connect-tools" "$LOG"
  sleep 1; shot connect-tools

  # close-to-tray: the close button closes the window and drops its webview
  # (WebKit's web process goes), the gateway keeps serving; the tray builds
  # a new window, which loads and paints the UI again
  ready_count() { grep -c "EVENT frontend-ready" "$LOG"; }
  RSS_OPEN=$(tree_rss_mib)
  check "a WebKitWebProcess renders the open window" web_process
  wm_close "$WID"
  check "closing the window hides it" wait_for 5 eval '! visible'
  check "the app and gateway keep running in the tray" eval 'kill -0 $APP && curl -sf "$GW/healthz" -o /dev/null'
  check "closing drops the webview (EVENT webview-dropped)" wait_for 10 grep -q "EVENT webview-dropped" "$LOG"
  check "... and WebKit's web process exits" wait_for 10 eval '! web_process'
  sleep 1; RSS_CLOSED=$(tree_rss_mib)
  check "the tree's RSS fell from $RSS_OPEN to $RSS_CLOSED MiB (by over 100)" test $((RSS_OPEN - RSS_CLOSED)) -gt 100
  READY=$(ready_count)
  click "Open window"
  check "tray 'Open window' shows it again" wait_for 10 visible
  find_wid
  check "... in a new webview (a WebKitWebProcess again)" wait_for "$T" web_process
  check "... which renders the UI again (frontend_ready)" wait_for "$T" eval '[ "$(ready_count)" -gt "$READY" ]'
  wait_for "$T" painted reopened || true
  N=$(colours "$OUT/reopened.png")
  check "reopened window screenshot is not blank ($N colours, $OUT/reopened.png)" test "${N:-0}" -gt 64

  # manage keys with the window closed → a new window on the Providers & keys page
  wm_close "$WID"
  wait_for 10 eval '! visible && ! web_process'
  READY=$(ready_count)
  click "Manage keys…"
  check "tray 'Manage keys…' handled" wait_for 5 grep -q "EVENT tray-menu manage-keys" "$LOG"
  check "... it opens the window on Providers & keys" \
    wait_for "$T" eval '[ "$(ready_count)" -gt "$READY" ] && grep "EVENT frontend-ready" "$LOG" | tail -1 | grep -q "#/providers"'
  find_wid
  grep -h "EVENT frontend-ready" "$LOG" | tail -1 | sed 's/^/  /'
  sleep 2; shot providers

  # check for updates: the window opens on Updates & settings, the result
  # shows in the tray (a build without a release URL says so)
  click "Check for updates…"
  check "update check reported in the tray" \
    wait_for 10 eval 'items | cut -f2 | grep -qE "^(Up to date|Update available|Update check failed|Release )"'
  grep -h "EVENT update-check" "$LOG" | head -1 | sed 's/^/  /'

  # start at login: an autostart entry appears, and goes again
  click "Start at login"
  check "start at login: autostart entry created (starts hidden)" \
    wait_for 5 eval 'grep -qs -- "--hidden" "$XDG_CONFIG_HOME"/autostart/*.desktop'
  check "tray shows 'Start at login' checked" wait_for 5 eval '[ "$(item_field "Start at login" 4)" = 1 ]'
  click "Start at login"
  check "start at login: autostart entry removed" \
    wait_for 5 eval '! ls "$XDG_CONFIG_HOME"/autostart/*.desktop >/dev/null 2>&1'

  # a second launch only brings the first one forward
  timeout 20 "$BIN" >"$OUT/second.log" 2>&1; rc=$?
  check "a second launch exits at once (rc $rc)" test "$rc" = 0
  check "the running app was told (single instance)" wait_for 5 grep -q "EVENT second-instance" "$LOG"
  check "only one gateway process holds the port" test "$(pgrep -fc "^$BIN\$")" = 1

  # quit: graceful, exit 0, port released
  quit_from_tray ""
  check "the port is released" eval '! curl -s "$GW/healthz" -o /dev/null'
else
  kill "$APP" 2>/dev/null
fi
wait "$APP" 2>/dev/null

# ====================== run 2: the port is taken
python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1]))); s.listen(); time.sleep(120)' "$PORT" &
HOLDER=$!
sleep 0.5
LOG2=$OUT/app-port-taken.log
check "port taken: the app still starts (window mapped)" start_app "$LOG2"
if wait_for "$T" find_tray "$APP"; then
  STATUS=$(items | awk -F'\t' 'NR==1 || $2 ~ /^Error: /{l=$2} END{print l}')
  check "port taken: tray status says '${STATUS:0:60}…'" eval '[[ "$STATUS" == "Error: 127.0.0.1:$PORT is already in use"* ]]'
  check "port taken: tray offers 'Retry start'" has_item "Retry start"
  check "port taken: copy and profiles are disabled" test "$(item_field "Copy endpoint URL" 3)" = false
fi
check "port taken: the window shows the reason" \
  wait_for "$T" grep -q "EVENT frontend-ready" "$LOG2"
wait_for "$T" painted port-taken || true
N=$(colours "$OUT/port-taken.png")
check "port taken: window screenshot is not blank ($N colours)" test "${N:-0}" -gt 64
kill "$HOLDER" 2>/dev/null; wait "$HOLDER" 2>/dev/null
if [ -n "$MENU" ]; then
  click "Retry start"
  check "retry after the port is freed: running" wait_for "$T" curl -sf "$GW/healthz" -o /dev/null
  click "Quit"
  wait_for "$T" eval '! kill -0 $APP 2>/dev/null'
fi
kill "$APP" 2>/dev/null; wait "$APP" 2>/dev/null

# ====================== run 3: self-update from the tray
# A signed release 99.0.0 (made here with the real release tool and a
# throwaway key, which this debug build is told to trust) served over
# 127.0.0.1; the app runs from a copy so the build output is never replaced.
# Its "new version" is a stand-in that reports 99.0.0 and, when the app
# restarts into it, leaves a mark.
if [ -x "$RELTOOL" ] && [ -n "${AIGW_HOST_TRIPLE:-}" ]; then
  APPBIN=$W/app/aigw-desktop
  mkdir -p "$W/app"; cp "$BIN" "$APPBIN"
  check "update: a signed release 99.0.0 is served on 127.0.0.1" serve_release "$RELTOOL" 99.0.0 "$W/restarted"
  LOG3=$OUT/app-update.log
  BIN_SAVED=$BIN; BIN=$APPBIN
  check "update: the app (run from a copy) starts" start_app "$LOG3"
  if wait_for "$T" find_tray "$APP"; then
    click "Check for updates…"
    check "update: the check offers 'Install update 99.0.0' in the tray" wait_for 15 has_item "Install update 99.0.0"
    click "Install update 99.0.0"
    check "update: after installing, the tray offers 'Restart to use 99.0.0'" wait_for 30 has_item "Restart to use 99.0.0"
    grep -h "EVENT update-install" "$LOG3" | head -1 | sed 's/^/  /'
    check "update: the executable on disk is the verified new version" \
      eval '[ "$("$APPBIN" --version)" = "aigw-desktop 99.0.0" ]'
    check "update: the replaced version is kept for rollback" \
      cmp -s "$BIN_SAVED" "$AIGW_DATA_DIR/updates/previous-desktop/aigw-desktop"
    check "update: the gateway still serves until the restart" curl -sf "$GW/healthz" -o /dev/null
    click "Restart to use 99.0.0"
    check "update: 'Restart' stops the old process" wait_for "$T" eval '! kill -0 $APP 2>/dev/null'
    check "update: ... and starts the new executable" wait_for "$T" test -s "$W/restarted"
    check "update: the port is released" eval '! curl -s "$GW/healthz" -o /dev/null'
    AIGW=$(dirname "$RELTOOL")/aigw
    if [ -x "$AIGW" ]; then
      "$AIGW" update rollback --app desktop --data-dir "$AIGW_DATA_DIR" >"$OUT/rollback.txt" 2>&1
      check "update: 'aigw update rollback --app desktop' restores the previous executable" \
        eval 'grep -q " restored" "$OUT/rollback.txt" && cmp -s "$BIN_SAVED" "$APPBIN"'
    fi
  fi
  kill "$APP" 2>/dev/null; wait "$APP" 2>/dev/null
  unset AIGW_UPDATE_URL AIGW_DEV_UPDATE_PUBKEY
  BIN=$BIN_SAVED
else
  echo "  (no release tool ($RELTOOL) or rustc: self-update not tested; cargo build -p aigw-release)"
fi

# ====================== run 4: a login start (--hidden): no window and no
# webview until the tray's "Open window" builds them
LOG4=$OUT/app-hidden.log
"$BIN" --hidden >"$LOG4" 2>&1 &
APP=$!; WID=""
if wait_for "$T" find_tray "$APP"; then
  ok "hidden start: tray icon exported"
  check "hidden start: no window mapped" eval '! visible'
  check "hidden start: no webview built (no EVENT webview-created, no WebKitWebProcess)" \
    eval '! grep -q "EVENT webview-created" "$LOG4" && ! web_process'
  click "Open window"
  check "hidden start: tray 'Open window' builds and shows the window" wait_for "$T" visible
  find_wid
  check "hidden start: ... which renders the UI (frontend_ready)" wait_for "$T" grep -q "EVENT frontend-ready" "$LOG4"
  wait_for "$T" painted hidden-opened || true
  N=$(colours "$OUT/hidden-opened.png")
  check "hidden start: ... and paints it ($N colours, $OUT/hidden-opened.png)" test "${N:-0}" -gt 64
  quit_from_tray "hidden start: "
else
  bad "hidden start: no tray icon on D-Bus"
fi
kill "$APP" 2>/dev/null; wait "$APP" 2>/dev/null

if [ -n "${DOCS_IMG:-}" ]; then   # refresh the README's screenshots
  mkdir -p "$DOCS_IMG"
  cp "$OUT/window.png" "$DOCS_IMG/desktop-window.png"
  [ -f "$OUT/tray-menu.png" ] && cp "$OUT/tray-menu.png" "$DOCS_IMG/desktop-tray-menu.png"
  cp "$OUT/port-taken.png" "$DOCS_IMG/desktop-port-taken.png"
  echo "screenshots copied to $DOCS_IMG"
fi
echo "desktop smoke: $PASS passed, $FAIL failed (logs and screenshots in $OUT)"
[ "$FAIL" -eq 0 ]

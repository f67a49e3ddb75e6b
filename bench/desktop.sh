#!/usr/bin/env bash
# The desktop app's footprint (issue 22, item 7; bench/README.md, "Desktop
# app: idle CPU, RSS, launch to painted"; results in bench/results/desktop.md
# and .json):
#
#   bash bench/desktop.sh                  # release build, 5 launches, 10 min idle
#   bash bench/desktop.sh --smoke          # 2 launches, 30 s idle, short settling
#   bash bench/desktop.sh --bin FILE [--profile NAME] [--runs N] [--idle-s S]
#                         [--settle-s S] [--target-dir DIR] [--out BASE]
#
# Builds the UI (frontend/dist) and then the app in the release profile with
# tauri/custom-protocol, as the Tauri CLI builds it for a release
# (packaging/release.sh), into --target-dir (default $CARGO_TARGET_DIR, else
# target/) — unless --bin names a binary. Then, in a private D-Bus session
# and Secret Service (scripts/keyring-session.sh) and X server (xvfb-run,
# 1920x1080x24, no window manager), each launch gets a throwaway home (first
# run: the embedded default config, no providers, nothing sent anywhere) and
# AIGW_LISTEN on a free 127.0.0.1 port:
#   1. launch to painted: from just before the exec to the first capture of
#      the window that shows the page (bench/desktop.py paint: the window is
#      captured every 50 ms; "painted" = more than 64 distinct colours), with
#      the app's own EVENT lines (gateway started, UI rendered) time-stamped
#      as they arrive; N launches, median and max;
#   2. RSS, PSS and private memory of the whole process tree (the app and
#      WebKit's web and network processes), --settle-s after painted, and
#      again --settle-s after closing the window with its close button
#      (WM_DELETE_WINDOW: the app closes it to the tray and drops the
#      webview);
#   3. reopen: the tray's "Open window" clicked over D-Bus (as a panel
#      does), from just before the click to the new window painted (measured
#      like 1.), memory --settle-s later; then closed to the tray again;
#   4. on the last launch, idle CPU with the window closed over --idle-s:
#      utime + stime of the tree, per-thread CPU and context switches
#      (wake-ups), while the script only sleeps;
#   5. once more with --hidden (a login start): memory with the window never
#      shown.
# --profile names the build profile of --bin in the report (default: from
# its path, .../release/ or .../debug/). --out BASE writes BASE.md and BASE.json (default bench/results/desktop);
# frames, logs and snapshots go to bench/results/logs/$(basename BASE)/
# (gitignored).
# Needs: xvfb, xdotool, dbus, gnome-keyring, libsecret-tools, systemd
# (busctl), python3, imagemagick (PNG copies of the frames).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD
TITLE="AI Model Gateway"

# ============================================================ inside the session
# (re-executed by the outer part below, with the settings in the environment)
if [[ "${1:-}" == --inner ]]; then
  run_dir=$BENCH_RUN_DIR bin=$BENCH_BIN runs=$BENCH_RUNS idle_s=$BENCH_IDLE_S settle_s=$BENCH_SETTLE_S
  py=$repo/bench/desktop.py
  # wait_for, wm_close, find_tray, click: the tested helpers of the desktop tests
  # shellcheck source=scripts/desktop-lib.sh
  . "$repo/scripts/desktop-lib.sh"
  note() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
  app="" paint_pid="" dir_of_app=""
  tree_pids() { # PID: it and its descendants, one a line
    python3 "$py" snap "$1" | python3 -c 'import json,sys; print("\n".join(str(p["pid"]) for p in json.load(sys.stdin)["procs"]))'
  }
  # shellcheck disable=SC2317  # (run by the EXIT trap)
  cleanup() { # on any exit: what this script started and is still running
    [[ -z "$paint_pid" ]] || kill "$paint_pid" 2>/dev/null || true
    if [[ -n "$app" ]] && kill -0 "$app" 2>/dev/null; then
      local kids; mapfile -t kids < <(tree_pids "$app")
      kill "${kids[@]}" 2>/dev/null || true
    fi
  }
  trap cleanup EXIT
  stamp() { # each line of the app's stdout with the time it arrived
    local l
    while IFS= read -r l; do printf '%s %s\n' "$EPOCHREALTIME" "$l"; done
  }
  event_ms() { # LOG T0 NAME: ms from T0 to the first "EVENT NAME" line
    awk -v t0="$2" -v n="$3" '$2 == "EVENT" && $3 == n { printf "%.1f\n", ($1 - t0) * 1000; exit }' "$1"
  }
  event_ms_after() { # LOG T0 NAME: ms from T0 to the first "EVENT NAME" line after T0
    awk -v t0="$2" -v n="$3" '$1 >= t0 && $2 == "EVENT" && $3 == n { printf "%.1f\n", ($1 - t0) * 1000; exit }' "$1"
  }
  # shellcheck disable=SC2317  # (run through wait_for)
  seen_after() { [[ -n "$(event_ms_after "$@")" ]]; } # LOG T0 NAME
  # shellcheck disable=SC2317  # (run through wait_for)
  more_than() { [[ $(grep -c "EVENT $2" "$1") -gt $3 ]]; } # LOG NAME N: more than N such lines
  proc_stat_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $2 + $3 + $4 + $5 + $6 + $7 + $8 }' /proc/stat; }
  # start_app DIR ARGS...: the app with a throwaway home in DIR; sets app, port, t0
  start_app() {
    local dir=$1; shift
    dir_of_app=$dir
    mkdir -p "$dir/home/.config" "$dir/home/.local/share" "$dir/home/.cache" "$dir/run"
    chmod 700 "$dir/run"
    port=$(desktop_free_port)
    # the reader is the script's child, not the app's (it would count in the tree)
    mkfifo "$dir/stdout"
    stamp <"$dir/stdout" >"$dir/app.log" &
    t0=$EPOCHREALTIME
    env -u AIGW_CONFIG -u AIGW_DATA_DIR HOME="$dir/home" XDG_CONFIG_HOME="$dir/home/.config" \
      XDG_DATA_HOME="$dir/home/.local/share" XDG_CACHE_HOME="$dir/home/.cache" \
      XDG_RUNTIME_DIR="$dir/run" AIGW_LISTEN="127.0.0.1:$port" \
      "$bin" "$@" >"$dir/stdout" 2>"$dir/app.err" &
    app=$!
  }
  stop_app() { # SIGTERM quits like the tray's Quit; then no process of the tree may be left
    local tree; mapfile -t tree < <(tree_pids "$app")
    kill -TERM "$app" 2>/dev/null || true
    wait_for 20 eval "! kill -0 $app 2>/dev/null" || { note "app $app ignored SIGTERM: killing it"; kill -KILL "$app" 2>/dev/null || true; }
    wait "$app" 2>/dev/null || true
    local p left=""
    for p in "${tree[@]}"; do
      wait_for 5 eval "! kill -0 $p 2>/dev/null" || { left+=" $p"; kill -KILL "$p" 2>/dev/null || true; }
    done
    [[ -z "$left" ]] || note "left behind after the app quit (killed):$left"
    app=""
    wait 2>/dev/null || true   # the stdout reader
    rm -f "$dir_of_app/stdout"
  }
  visible() { xdotool search --onlyvisible --name "^$TITLE\$" 2>/dev/null | head -1; }

  for i in $(seq 1 "$runs"); do
    d=$run_dir/run$i
    mkdir -p "$d"
    # 1. launch to painted: the painter connects first, then the app starts
    mkfifo "$d/t0"
    python3 "$py" paint "$TITLE" "$d" "$d/t0" --timeout 90 --every 0.05 --quiet 3 >"$d/paint.json" &
    paint_pid=$!
    wait_for 10 grep -qs '^ready$' "$d/paint.json" || { note "the painter did not start"; exit 1; }
    start_app "$d"
    echo "$t0" >"$d/t0"
    wait "$paint_pid" || note "run $i: the painter failed"
    paint_pid=""
    rm -f "$d/t0"
    wait_for 30 grep -q "EVENT frontend-ready" "$d/app.log" || note "run $i: no EVENT frontend-ready in 30 s"
    {
      for e in gateway-started frontend-ready; do echo "$e=$(event_ms "$d/app.log" "$t0" "$e")"; done
      echo "frontend-ready-detail=$(awk '$2 == "EVENT" && $3 == "frontend-ready" { $1 = $2 = $3 = ""; sub(/^ +/, ""); print; exit }' "$d/app.log")"
    } >"$d/events.env"
    curl -sf "http://127.0.0.1:$port/healthz" -o /dev/null || note "run $i: the gateway does not answer /healthz on $port"
    note "run $i: $(tail -1 "$d/paint.json"), $(tr '\n' ' ' <"$d/events.env")"
    # 2. memory, open then closed to the tray
    sleep "$settle_s"
    python3 "$py" snap "$app" >"$d/open.json"
    wid=$(visible)
    [[ -n "$wid" ]] || { note "run $i: no visible window to close"; exit 1; }
    t_close=$EPOCHREALTIME
    wm_close "$wid"
    wait_for 10 grep -q "EVENT window-hidden" "$d/app.log" || note "run $i: no EVENT window-hidden after the close button"
    [[ -z "$(visible)" ]] || note "run $i: the window is still visible after the close button"
    echo "window-hidden=$(event_ms "$d/app.log" "$t_close" window-hidden)" >>"$d/events.env"
    echo "webview-dropped=$(event_ms "$d/app.log" "$t_close" webview-dropped)" >>"$d/events.env"
    sleep "$settle_s"
    python3 "$py" snap "$app" >"$d/closed.json"
    # 3. reopen from the tray ("Open window", clicked over D-Bus as a panel
    # does): from just before the click to the new window painted
    wait_for 30 find_tray "$app" || { note "run $i: no tray icon on D-Bus"; exit 1; }
    mkdir -p "$d/reopen"
    mkfifo "$d/t0-reopen"
    python3 "$py" paint "$TITLE" "$d/reopen" "$d/t0-reopen" --timeout 60 --every 0.05 --quiet 3 >"$d/reopen/paint.json" &
    paint_pid=$!
    wait_for 10 grep -qs '^ready$' "$d/reopen/paint.json" || { note "the painter did not start"; exit 1; }
    t_open=$EPOCHREALTIME
    echo "$t_open" >"$d/t0-reopen"
    click "Open window" >/dev/null || note "run $i: cannot click 'Open window'"
    wait "$paint_pid" || note "run $i: the painter failed (reopen)"
    paint_pid=""
    rm -f "$d/t0-reopen"
    wait_for 30 seen_after "$d/app.log" "$t_open" frontend-ready || note "run $i: no EVENT frontend-ready after reopening"
    {
      for e in webview-created frontend-ready; do echo "reopen-$e=$(event_ms_after "$d/app.log" "$t_open" "$e")"; done
    } >>"$d/events.env"
    note "run $i reopen: $(tail -1 "$d/reopen/paint.json")"
    sleep "$settle_s"
    python3 "$py" snap "$app" >"$d/reopened.json"
    # ... and closed to the tray again
    wid=$(visible)
    [[ -n "$wid" ]] || { note "run $i: no visible window after reopening"; exit 1; }
    hidden_before=$(grep -c "EVENT window-hidden" "$d/app.log")
    wm_close "$wid"
    wait_for 10 more_than "$d/app.log" window-hidden "$hidden_before" || note "run $i: no EVENT window-hidden after the second close"
    sleep "$settle_s"
    # 4. the last launch stays idle, closed, for the idle period
    if [[ $i == "$runs" ]]; then
      note "idle with the window closed for $idle_s s"
      echo "load_idle_start=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$run_dir/meta.env"
      read -r busy0 total0 < <(proc_stat_busy)
      python3 "$py" snap "$app" >"$d/idle-start.json"
      sleep "$idle_s"
      python3 "$py" snap "$app" >"$d/idle-end.json"
      read -r busy1 total1 < <(proc_stat_busy)
      echo "load_idle_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$run_dir/meta.env"
      echo "machine_busy_idle=$(awk -v b=$((busy1 - busy0)) -v t=$((total1 - total0)) 'BEGIN { printf "%.1f", t ? b * 100 / t : 0 }')" >>"$run_dir/meta.env"
    fi
    stop_app
  done

  # 5. a login start: the window never shown
  d=$run_dir/hidden
  mkdir -p "$d"
  start_app "$d" --hidden
  wait_for 30 find_tray "$app" || note "hidden start: no tray icon on D-Bus in 30 s"
  [[ -z "$(visible)" ]] || note "hidden start: a window is visible"
  sleep "$settle_s"
  python3 "$py" snap "$app" >"$d/hidden.json"
  stop_app
  exit 0
fi

# ============================================================ outside: build, then the session
runs=5 idle_s=600 settle_s=10 bin="" profile="" out=bench/results/desktop
target="${CARGO_TARGET_DIR:-target}"
args=("$@")
while [[ $# -gt 0 ]]; do
  case "$1" in
    --smoke) runs=2; idle_s=30; settle_s=3; shift ;;
    --bin) bin="$2"; shift 2 ;;
    --profile) profile="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --idle-s) idle_s="$2"; shift 2 ;;
    --settle-s) settle_s="$2"; shift 2 ;;
    --target-dir) target="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "desktop.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
for t in xvfb-run xdotool dbus-run-session gnome-keyring-daemon secret-tool busctl python3; do
  command -v "$t" >/dev/null || { echo "desktop.sh: needs $t (bash scripts/deps.sh desktop)" >&2; exit 2; }
done

if [[ -z "$bin" ]]; then
  # As packaging/release.sh: the UI first (the app embeds it), npm ci only
  # when node_modules is missing or older than the lockfile.
  if [[ ! -f frontend/node_modules/.package-lock.json || frontend/package-lock.json -nt frontend/node_modules/.package-lock.json ]]; then
    (cd frontend && npm ci --no-audit --no-fund)
  fi
  (cd frontend && npm run build)
  CARGO_TARGET_DIR="$target" cargo build --release --locked -p aigw-desktop --features tauri/custom-protocol
  bin="$target/release/aigw-desktop"
fi
[[ -x "$bin" ]] || { echo "desktop.sh: no binary $bin" >&2; exit 2; }
bin=$(readlink -f "$bin")
if [[ -z "$profile" ]]; then
  case "$bin" in
    */release/*) profile=release ;;
    */debug/*) profile="debug (opt-level 0: not what ships)" ;;
    *) profile="unknown (--bin $bin)" ;;
  esac
fi

logs=bench/results/logs/$(basename "$out")
rm -rf "$logs"
mkdir -p "$logs" "$(dirname "$out")"
run_dir=$(readlink -f "$logs")
{
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "command=$(env | grep '^WEBKIT_' | sort | tr '\n' ' ' || true)bash bench/desktop.sh$(printf ' %q' "${args[@]}")"
  echo "nproc=$(nproc)"
  echo "cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
  echo "mem=$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "kernel=$(uname -r)"
  echo "load_before=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "bin=$bin"
  echo "version=$("$bin" --version 2>/dev/null || echo '?')"
  echo "profile=$profile"
  echo "bin_mib=$(( $(stat -c %s "$bin") / 1048576 ))"
  echo "sha256=$(sha256sum "$bin" | cut -d' ' -f1)"
  echo "webkit=$(dpkg-query -W -f '${Version}' libwebkit2gtk-4.1-0 2>/dev/null || echo '?')"
  echo "lang=${LANG:-unset}"
  echo "webkit_env=$(env | grep '^WEBKIT_' | sort | tr '\n' ' ' || true)"
  echo "screen=1920x1080x24"
  echo "runs=$runs"
  echo "logs=$(basename "$out")"
  echo "idle_s=$idle_s"
  echo "settle_s=$settle_s"
} >"$run_dir/meta.env"
echo "desktop.sh: $bin ($profile), $runs launches, ${idle_s} s idle; scratch in $logs" >&2

export BENCH_RUN_DIR=$run_dir BENCH_BIN=$bin BENCH_RUNS=$runs BENCH_IDLE_S=$idle_s BENCH_SETTLE_S=$settle_s
timeout $(( idle_s + runs * (180 + 4 * settle_s) + 180 )) \
  bash scripts/keyring-session.sh \
  xvfb-run -a -s "-screen 0 1920x1080x24 -nolisten tcp" \
  bash bench/desktop.sh --inner
echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$run_dir/meta.env"

python3 bench/desktop.py report "$run_dir" "$out"
if command -v convert >/dev/null; then
  for f in "$run_dir"/run*/*.ppm; do convert "$f" "${f%.ppm}.png" && rm -f "$f"; done
fi
echo "desktop.sh: wrote $out.md and $out.json" >&2

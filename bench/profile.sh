#!/usr/bin/env bash
# Instructions per request of aigw under callgrind: repeatable on a noisy,
# shared machine where wall-clock numbers are not (bench/README.md,
# "Profile").
#
#   bash bench/profile.sh                       # target/release/aigw
#   bash bench/profile.sh --aigw /tmp/aigw-before
#   bash bench/profile.sh -n 2000 --streams 200 --out /tmp/prof
#
# Starts the bench mock upstream and aigw (under valgrind --tool=callgrind,
# with a data dir, so the SQLite request log and the request log line are
# included, as in bench/run.sh), sends WARMUP requests, zeroes the counters,
# then sends N sequential non-streaming chat completions (`mock-l0`, 1 KiB
# prompt) and dumps, then STREAMS sequential streams (`mock-l0-n5-p10`: role,
# 5 deltas 10 ms apart, finish, [DONE]) and dumps again. Prints the
# instructions per request of each phase (whole aigw process: every thread,
# the log writer included) and the top functions (inclusive and self).
# Everything listens on 127.0.0.1. Needs valgrind and a release build
# (`cargo build --release -p gateway-core --bin aigw -p mock-upstream -p aigw-bench`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

aigw=target/release/aigw
n=2000
streams=200
warmup=200
out=""
top=25
while [[ $# -gt 0 ]]; do
  case "$1" in
    --aigw) aigw="$2"; shift 2 ;;
    -n) n="$2"; shift 2 ;;
    --streams) streams="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --top) top="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
for t in valgrind callgrind_control callgrind_annotate; do
  command -v "$t" >/dev/null || { echo "$t missing (apt-get install valgrind)" >&2; exit 1; }
done
bench=target/release/aigw-bench
mock=target/release/mock-upstream
for b in "$aigw" "$bench" "$mock"; do
  [[ -x "$b" ]] || { echo "$b missing: build in release first" >&2; exit 1; }
done

if [[ -z "$out" ]]; then
  out="$(mktemp -d /tmp/aigw-profile.XXXXXX)"
fi
mkdir -p "$out"
source bench/lib.sh
bench_start_mock "$mock" "$out/mock.log"
port="$(bench_free_port)"
bench_config "$port" "$mock_port" mock-l0 mock-l0-n5-p10 >"$out/aigw.toml"
rm -rf "$out/data" "$out"/callgrind.out*
env -u DBUS_SESSION_BUS_ADDRESS valgrind --tool=callgrind \
  --callgrind-out-file="$out/callgrind.out" \
  "$aigw" serve --config "$out/aigw.toml" --data-dir "$out/data" \
  --listen "127.0.0.1:$port" >"$out/aigw.log" 2>&1 &
vg=$!
pids+=("$vg")

bench_wait_healthy "$port"

load() { # MODEL COUNT [--stream]
  "$bench" load --addr "127.0.0.1:$port" --model "$1" -n "$2" --duration 3600 "${@:3}" \
    >"$out/load-$1-$2.json"
  python3 - "$out/load-$1-$2.json" "$2" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
if r["ok"] != int(sys.argv[2]) or r["errors"]:
    sys.exit(f"load run incomplete: {r}")
PY
}

load mock-l0 "$warmup"
load mock-l0-n5-p10 20 --stream
sleep 0.3 # the log writer's linger: its batch lands before the counters are zeroed
callgrind_control --zero "$vg" >/dev/null 2>&1
load mock-l0 "$n"
sleep 0.3
callgrind_control --dump=nonstream "$vg" >/dev/null 2>&1
load mock-l0-n5-p10 "$streams" --stream
sleep 0.3
callgrind_control --dump=stream "$vg" >/dev/null 2>&1

kill -INT "$vg" 2>/dev/null || true
wait "$vg" 2>/dev/null || true

report() { # PHASE COUNT
  local f
  f="$(grep -l "^desc: Trigger: dump $1\$" "$out"/callgrind.out* | head -1)"
  local total
  total="$(awk '/^summary:/ {print $2; exit}' "$f")"
  echo "== $1: $2 requests, $total instructions, $((total / $2)) instructions/request ($f)"
  {
    echo "-- inclusive"
    callgrind_annotate --inclusive=yes --threshold=100 "$f" 2>/dev/null \
      | grep -v '^--\|^$' | sed -n "/file:function/,\$p" | sed -n "2,$((top + 1))p"
    echo "-- self"
    callgrind_annotate --threshold=100 "$f" 2>/dev/null \
      | grep -v '^--\|^$' | sed -n "/file:function/,\$p" | sed -n "2,$((top + 1))p"
  } >"$out/top-$1.txt"
}
report nonstream "$n"
report stream "$streams"
echo "callgrind files, logs and top functions (top-*.txt): $out"

#!/usr/bin/env bash
# Instructions per request of aigw under callgrind: repeatable on a noisy,
# shared machine where wall-clock numbers are not (bench/README.md,
# "Profile").
#
#   bash bench/profile.sh                       # target/release/aigw ($CARGO_TARGET_DIR/release)
#   bash bench/profile.sh --aigw /tmp/aigw-before
#   bash bench/profile.sh -n 2000 --streams 200 --out /tmp/prof
#   bash bench/profile.sh --extra big.part --paths passthrough   # with 1,000 more routes (scale config --out)
#
# Starts the bench mock upstream and aigw (under valgrind --tool=callgrind,
# with a data dir, so the SQLite request log and the request log line are
# included, as in bench/run.sh), warms every path up, zeroes the counters,
# then for each client path — chat passthrough, and the translated paths
# Messages -> Chat, Responses -> Chat (an OpenAI-kind provider with
# `responses = "translate"`) and Chat -> Messages (an Anthropic-kind
# provider; the mock speaks Messages) — sends N sequential non-streaming
# requests (`mock-l0`, 1 KiB prompt), STREAMS sequential streams
# (`mock-l0-n5-p10`: 5 deltas 10 ms apart) and STREAMS longer ones
# (`mock-l0-n25-p2`: 25 deltas 2 ms apart), dumping the counters after each.
# Prints, per path, the instructions per request, per stream, and per
# stream event: (long streams - short streams) / (20 more deltas x STREAMS),
# what one more upstream delta costs relayed (or translated) to the client.
# Whole aigw process: every thread, the log writer included. Top functions
# (inclusive and self) of every phase go to OUT/top-PHASE-PATH.txt.
# Everything listens on 127.0.0.1. Needs valgrind and a release build
# (`cargo build --release -p gateway-core --bin aigw` and, separately, since
# `--bin aigw` would filter them out, `cargo build --release -p mock-upstream -p aigw-bench`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

target_dir="${CARGO_TARGET_DIR:-target}"
aigw="$target_dir/release/aigw"
n=2000
streams=200
warmup=200
out=""
top=25
extra=""
only_paths=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --aigw) aigw="$2"; shift 2 ;;
    -n) n="$2"; shift 2 ;;
    --streams) streams="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --top) top="$2"; shift 2 ;;
    --extra) extra="$2"; shift 2 ;;
    --paths) only_paths="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
for t in valgrind callgrind_control callgrind_annotate; do
  command -v "$t" >/dev/null || { echo "$t missing (apt-get install valgrind)" >&2; exit 1; }
done
bench="$target_dir/release/aigw-bench"
mock="$target_dir/release/mock-upstream"
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
models=(mock-l0 mock-l0-n5-p10 mock-l0-n25-p2)
{
  bench_config "$port" "$mock_port" "${models[@]}"
  bench_translated_config "$mock_port" "${models[@]}"
  # (--extra: more providers and routes, as `scale config --out` writes
  # them, for the per-request cost of a big config; its first two lines
  # are the [server] table the config above already has)
  if [[ -n "$extra" ]]; then sed '1,2d' "$extra"; fi
} >"$out/aigw.toml"
if [[ -n "$only_paths" ]]; then
  bench_paths="$(grep -E "^($(tr ',' '|' <<<"$only_paths")) " <<<"$bench_paths")"
fi
rm -rf "$out/data" "$out"/callgrind.out*
env -u DBUS_SESSION_BUS_ADDRESS valgrind --tool=callgrind \
  --callgrind-out-file="$out/callgrind.out" \
  "$aigw" serve --config "$out/aigw.toml" --data-dir "$out/data" \
  --listen "127.0.0.1:$port" >"$out/aigw.log" 2>&1 &
vg=$!
pids+=("$vg")

bench_wait_healthy "$port"

load() { # TAG WIRE MODEL COUNT [--stream]
  local f="$out/load-$1-$3-$4.json"
  "$bench" load --addr "127.0.0.1:$port" --wire "$2" --model "$3" -n "$4" --duration 3600 "${@:5}" >"$f" </dev/null
  python3 - "$f" "$4" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
if r["ok"] != int(sys.argv[2]) or r["errors"]:
    sys.exit(f"load run incomplete: {r}")
PY
}

dump() { # PHASE
  sleep 0.3 # the log writer's linger: its batch lands before the counters are read
  callgrind_control --dump="$1" "$vg" >/dev/null 2>&1 </dev/null
}

while read -r tag wire prefix; do
  [[ $prefix == - ]] && prefix=""
  load "$tag" "$wire" "${prefix}mock-l0" "$warmup"
  load "$tag" "$wire" "${prefix}mock-l0-n5-p10" 20 --stream
  load "$tag" "$wire" "${prefix}mock-l0-n25-p2" 20 --stream
done <<<"$bench_paths"
sleep 0.3
callgrind_control --zero "$vg" >/dev/null 2>&1
while read -r tag wire prefix; do
  [[ $prefix == - ]] && prefix=""
  load "$tag" "$wire" "${prefix}mock-l0" "$n"
  dump "req-$tag"
  load "$tag" "$wire" "${prefix}mock-l0-n5-p10" "$streams" --stream
  dump "stream-$tag"
  load "$tag" "$wire" "${prefix}mock-l0-n25-p2" "$streams" --stream
  dump "long-$tag"
done <<<"$bench_paths"

kill -INT "$vg" 2>/dev/null || true
wait "$vg" 2>/dev/null || true

total() { # PHASE: instructions of that dump
  local f
  f="$(grep -l "^desc: Trigger: dump $1\$" "$out"/callgrind.out* | head -1)"
  awk '/^summary:/ {print $2; exit}' "$f"
  {
    echo "-- inclusive"
    callgrind_annotate --inclusive=yes --threshold=100 "$f" 2>/dev/null \
      | grep -v '^--\|^$' | sed -n "/file:function/,\$p" | sed -n "2,$((top + 1))p"
    echo "-- self"
    callgrind_annotate --threshold=100 "$f" 2>/dev/null \
      | grep -v '^--\|^$' | sed -n "/file:function/,\$p" | sed -n "2,$((top + 1))p"
  } >"$out/top-$1.txt"
}
echo "instructions (callgrind, whole aigw process): $n requests and 2 x $streams streams per path"
printf '%-20s %14s %14s %18s\n' path per-request per-stream per-stream-event
while read -r tag _ _; do
  req="$(total "req-$tag")"
  short="$(total "stream-$tag")"
  long="$(total "long-$tag")"
  printf '%-20s %14d %14d %18d\n' "$tag" $((req / n)) $((short / streams)) \
    $(((long - short) / (20 * streams)))
done <<<"$bench_paths"
echo "callgrind files, logs and top functions (top-PHASE-PATH.txt): $out"

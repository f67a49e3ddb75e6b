#!/usr/bin/env bash
# Interleaved A/B of aigw binaries, and the direct path, in the same minutes:
#
#   bash bench/ab.sh NAME=BINARY [NAME=BINARY ...] [-r ROUNDS] [-n REQUESTS] [-s STREAMS] [-w WIRES]
#   bash bench/ab.sh before=/tmp/aigw-old after=target/pgo/aigw
#   bash bench/ab.sh -w chat,messages release=A pgo=B   # passthrough and Messages -> Chat
#
# Starts the bench mock upstream and each aigw (own port, own data dir, so the
# SQLite request log and the log line are included), then ROUNDS times (3)
# runs, one binary after the other and then direct to the mock: REQUESTS (10,000)
# sequential non-streaming chat completions (`mock-l0`), then STREAMS (300)
# sequential streams (`mock-l0-n5-p10`: role and a delta at once, 4 deltas
# 10 ms apart, finish, [DONE]). Prints per run p50/p90/p99 (latency, or time
# to the first content event for streams) and the gateway's CPU per request
# from /proc/PID/stat (for direct: the mock's; user + system; resolution 10 ms over the run, so
# 1 µs per request at 10,000 requests). -w (default chat) names the client
# protocols each binary is measured with, in turn within a round: chat
# (passthrough), messages (Messages -> Chat, Claude Code's path to an
# OpenAI-kind provider), responses (Responses -> Chat, to a provider with
# `responses = "translate"`); direct is always chat to the mock (the
# baseline the added figures of each protocol are taken against); when chat
# and another protocol ran, bench/ab_ratios.py then prints each round's translated figures
# as ratios to passthrough's, and their medians.
# Everything is on 127.0.0.1. Needs
# release builds of mock-upstream and aigw-bench ($CARGO_TARGET_DIR/release,
# else target/release).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

rounds=3 n=10000 streams=300 wires=chat
pairs=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    -r) rounds="$2"; shift 2 ;;
    -n) n="$2"; shift 2 ;;
    -s) streams="$2"; shift 2 ;;
    -w) wires="$2"; shift 2 ;;
    *=*) pairs+=("$1"); shift ;;
    *) echo "ab.sh: NAME=BINARY expected, got $1" >&2; exit 2 ;;
  esac
done
[[ ${#pairs[@]} -gt 0 ]] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2; }
IFS=, read -ra wire_list <<<"$wires"
for w in "${wire_list[@]}"; do
  [[ $w == @(chat|messages|responses) ]] || { echo "ab.sh: -w takes chat, messages and responses, got $w" >&2; exit 2; }
done
source bench/lib.sh
bench_ab_binaries ab.sh "${pairs[@]}"

work="$(mktemp -d)"
trap 'bench_cleanup; rm -rf "$work"' EXIT
bench_start_mock "$mock" "$work/mock.log"
config() {
  bench_config "$1" "$mock_port" mock-l0 mock-l0-n5-p10
  bench_translated_config "$mock_port" mock-l0 mock-l0-n5-p10
}
bench_start_aigws "$work" config
# Direct is measured against the mock.
names+=(direct); ports+=("$mock_port"); gw_pids+=("${pids[0]}")

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
run() { # index model flags count [wire]
  local c0 c1 out wire=${5:-chat} model=$2
  # Responses -> Chat goes to the provider without a Responses API.
  [[ $wire == responses ]] && model="chatonly-$2"
  c0="$(cpu "${gw_pids[$1]}")"
  out="$("$bench" load --addr "127.0.0.1:${ports[$1]}" --wire "$wire" --model "$model" $3 -n "$4" 2>/dev/null)"
  c1="$(cpu "${gw_pids[$1]}")"
  CPU_TICKS=$((c1 - c0)) N="$4" NAME="${names[$1]}" WHAT="$wire $2$3" python3 -c '
import json, os, sys
d = json.load(sys.stdin)
t = d.get("ttft") or d["latency"]
tick = os.sysconf("SC_CLK_TCK")
cpu = int(os.environ["CPU_TICKS"]) * 1e6 / tick / int(os.environ["N"])
print("%-10s %-34s p50 %5d  p90 %5d  p99 %5d µs  CPU %6.1f µs/req  errors %d" % (
    os.environ["NAME"], os.environ["WHAT"], t["p50"], t["p90"], t["p99"], cpu, d["errors"]))
' <<<"$out" | tee -a "$work/lines"
}
direct=$((${#names[@]} - 1))
for _ in $(seq "$rounds"); do
  for w in "${wire_list[@]}"; do
    for ((i = 0; i < direct; i++)); do run "$i" mock-l0 "" "$n" "$w"; done
  done
  run "$direct" mock-l0 "" "$n"
  for w in "${wire_list[@]}"; do
    for ((i = 0; i < direct; i++)); do run "$i" mock-l0-n5-p10 " --stream" "$streams" "$w"; done
  done
  run "$direct" mock-l0-n5-p10 " --stream" "$streams"
done
# The ratios are to passthrough: only when chat ran beside another protocol.
if [[ ,$wires, == *,chat,* && ${#wire_list[@]} -gt 1 ]]; then python3 bench/ab_ratios.py "$work/lines"; fi

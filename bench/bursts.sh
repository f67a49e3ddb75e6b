#!/usr/bin/env bash
# Interleaved A/B of aigw binaries on bursts of streams, and the direct path,
# in the same minutes:
#
#   bash bench/bursts.sh NAME=BINARY [NAME=BINARY ...] [-r ROUNDS] [-N SIZES]
#   bash bench/bursts.sh before=/tmp/aigw-old after=target/release/aigw -N 512,2048
#
# Starts the bench mock upstream and each aigw (own port, own data dir,
# `server.max_connections = 10000`), then ROUNDS times (4), for each burst
# size in SIZES (512,2048): opens that many streams at once
# (`mock-l0-n20-p50`: 20 deltas 50 ms apart) to each binary in turn and then
# direct to the mock, one second apart. Prints per burst the TTFT p50/p99, the
# largest silence (request sent -> first event included), stalls (errors), and
# the CPU each process used (aigw's or, for direct, the mock's; /proc ticks),
# then the medians per binary and size with their ratios to direct's.
# Everything is on 127.0.0.1. Needs release builds of mock-upstream and
# aigw-bench ($CARGO_TARGET_DIR/release, else target/release).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

rounds=4 sizes=512,2048
pairs=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    -r) rounds="$2"; shift 2 ;;
    -N) sizes="$2"; shift 2 ;;
    *=*) pairs+=("$1"); shift ;;
    *) echo "bursts.sh: NAME=BINARY expected, got $1" >&2; exit 2 ;;
  esac
done
[[ ${#pairs[@]} -gt 0 ]] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2; }
IFS=, read -ra size_list <<<"$sizes"
for s in "${size_list[@]}"; do
  [[ $s =~ ^[0-9]+$ && $s -ge 1 && $s -le 8192 ]] || { echo "bursts.sh: -N takes sizes 1..8192, got $s" >&2; exit 2; }
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "bursts.sh: -r takes a number of rounds, got $rounds" >&2; exit 2; }
source bench/lib.sh
bench_ab_binaries bursts.sh "${pairs[@]}"
# Each stream holds a descriptor in the harness and the mock, two in aigw.
ulimit -n "$(ulimit -Hn)"

work="$(mktemp -d)"
trap 'bench_cleanup; rm -rf "$work"' EXIT
bench_start_mock "$mock" "$work/mock.log"
model=mock-l0-n20-p50
config() {
  bench_config "$1" "$mock_port" "$model" | sed 's/^\[server\]$/[server]\nmax_connections = 10000/'
}
bench_start_aigws "$work" config
names+=(direct); ports+=("$mock_port"); gw_pids+=("${pids[0]}")

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
burst() { # index size
  local c0 c1 out
  c0="$(cpu "${gw_pids[$1]}")"
  out="$("$bench" load --addr "127.0.0.1:${ports[$1]}" --model "$model" --stream -c "$2" -n "$2" 2>/dev/null)"
  c1="$(cpu "${gw_pids[$1]}")"
  CPU_TICKS=$((c1 - c0)) N="$2" NAME="${names[$1]}" python3 -c '
import json, os, sys
d = json.load(sys.stdin)
t = d["ttft"]
cpu = int(os.environ["CPU_TICKS"]) / os.sysconf("SC_CLK_TCK")
print("%-10s %5s at once  TTFT p50 %7.1f  p99 %7.1f ms  silence %7.1f ms  stalls %d  CPU %.2f s" % (
    os.environ["NAME"], os.environ["N"], t["p50"] / 1e3, t["p99"] / 1e3,
    d["max_silence_us"] / 1e3, d["errors"], cpu))
' <<<"$out" | tee -a "$work/lines"
  sleep 1
}
direct=$((${#names[@]} - 1))
# One burst per binary first: the upstream pools and allocators warm, as in
# the standard run (its smaller levels come before).
for ((i = 0; i < direct; i++)); do burst "$i" "${size_list[0]}" >/dev/null; done
: >"$work/lines"
for _ in $(seq "$rounds"); do
  for s in "${size_list[@]}"; do
    for ((i = 0; i <= direct; i++)); do burst "$i" "$s"; done
  done
done
python3 - "$work/lines" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    m = re.match(r"(\S+)\s+(\d+) at once\s+TTFT p50\s+([\d.]+)\s+p99\s+([\d.]+) ms\s+silence\s+([\d.]+) ms\s+stalls (\d+)\s+CPU ([\d.]+)", line)
    if m:
        rows.setdefault((m[1], int(m[2])), []).append([float(x) for x in m.groups()[2:]])
print("\nmedians (ratio to direct's median in the same run)")
for (name, n), v in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][0] == "direct", kv[0][0])):
    med = [statistics.median(c) for c in zip(*v)]
    d = [statistics.median(c) for c in zip(*rows.get(("direct", n), v))]
    r = lambda i: "" if name == "direct" or not d[i] else " (%.2fx)" % (med[i] / d[i])
    print("%-10s %5d  TTFT p99 %7.1f ms%s  silence %7.1f ms%s  stalls %d  CPU %.2f s" % (
        name, n, med[1], r(1), med[2], r(2), sum(x[3] for x in v), med[4]))
PY

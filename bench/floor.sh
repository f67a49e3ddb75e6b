#!/usr/bin/env bash
# Where the floor is (issue 22, item 3): what aigw spends per request and
# per stream event beyond what the direct path spends, counted rather than
# timed, so it holds on a noisy shared machine:
#
#   bash bench/floor.sh                       # release binaries from target/release
#   bash bench/floor.sh --bin DIR             # aigw, aigw-bench, mock-upstream from DIR
#   bash bench/floor.sh -n 4000 --streams 300
#
# For the direct path (harness → mock) and the gateway path (harness → aigw
# → mock), each at concurrency 1 on keep-alive connections:
#
#   - syscalls per request, by name (strace -c -f attached to the server:
#     exact counts; strace slows the calls, so no times are taken from it);
#   - wake-ups per request: voluntary + involuntary context switches summed
#     over every thread of the server (/proc/PID/task/*/status);
#   - CPU per request: time on CPU of every thread (schedstat, ns), split
#     into user and system in the proportion of /proc/PID/stat's ticks, in a
#     run without strace;
#   - per stream event: streams of 10 and of 100 deltas (1 ms apart); the
#     difference divided by 90 is what one more event costs, the stream's
#     fixed cost cancels out.
#
# The experiments beside it: the same gateway run with the request log line
# off (AIGW_LOG=warn) shows that line's share. Everything listens on
# 127.0.0.1. Results go to stdout as a markdown table
# (bench/results/floor.md keeps a run).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bin=target/release
n=3000
streams=200
while [[ $# -gt 0 ]]; do
  case "$1" in
    --bin) bin="$2"; shift 2 ;;
    -n) n="$2"; shift 2 ;;
    --streams) streams="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "floor.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
for t in strace python3 curl; do
  command -v "$t" >/dev/null || { echo "floor.sh needs $t" >&2; exit 1; }
done
for b in aigw aigw-bench mock-upstream; do
  [[ -x "$bin/$b" ]] || { echo "no $bin/$b: cargo build --release -p gateway-core --bin aigw && cargo build --release -p mock-upstream -p aigw-bench" >&2; exit 1; }
done

work="$(mktemp -d)"
source bench/lib.sh
trap 'bench_cleanup; rm -rf "$work"' EXIT

bench_start_mock "$bin/mock-upstream" "$work/mock.log"
mock_pid=${pids[-1]}
models=(mock-l0 mock-l0-n10-p1 mock-l0-n100-p1)

# start_aigw NAME [ENV=VALUE...]: sets aigw_pid and aigw_port.
start_aigw() {
  local name=$1
  shift
  aigw_port="$(bench_free_port)"
  bench_config "$aigw_port" "$mock_port" "${models[@]}" >"$work/$name.toml"
  env DBUS_SESSION_BUS_ADDRESS= "$@" "$bin/aigw" serve --config "$work/$name.toml" \
    --data-dir "$work/$name-data" >"$work/$name.log" 2>&1 &
  aigw_pid=$!
  pids+=("$aigw_pid")
  bench_wait_healthy "$aigw_port"
}

# load PORT MODEL COUNT [--stream]
load() {
  "$bin/aigw-bench" load --addr "127.0.0.1:$1" --model "$2" -n "$3" -c 1 --duration 120 ${4:+"$4"} >/dev/null
}

# ticks PID: "utime stime" of the process (all threads), in clock ticks
# (10 ms each: for the user/system split), then its threads' time on CPU
# in ns from schedstat (the total).
ticks() {
  awk '{printf "%s %s ", $14, $15}' "/proc/$1/stat"
  cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'
}

# switches PID: voluntary + involuntary context switches over its threads.
switches() {
  cat /proc/"$1"/task/*/status 2>/dev/null |
    awk '/^(voluntary|nonvoluntary)_ctxt_switches/ {s += $2} END {printf "%.0f\n", s}'
}

# measure LABEL PID PORT: one row per workload for the server PID reached at PORT.
hz=$(getconf CLK_TCK)
measure() {
  local label=$1 pid=$2 port=$3
  load "$port" mock-l0 300
  load "$port" mock-l0-n10-p1 30 --stream
  # CPU and wake-ups, no strace.
  local w k0 k1 s0 s1 what count stream
  for w in "requests:mock-l0:$n:" "stream10:mock-l0-n10-p1:$streams:--stream" "stream100:mock-l0-n100-p1:$streams:--stream"; do
    IFS=: read -r what model count stream <<<"$w"
    k0=$(ticks "$pid"); s0=$(switches "$pid")
    load "$port" "$model" "$count" "$stream"
    k1=$(ticks "$pid"); s1=$(switches "$pid")
    echo "$label $what count=$count ticks0=$k0 ticks1=$k1 sw0=$s0 sw1=$s1" | tr -s ' ' >>"$work/cpu.txt"
    # Syscalls, exact, under strace.
    strace -f -c -U name,calls -p "$pid" -o "$work/strace-$label-$what.txt" &
    local st=$!
    sleep 0.5
    load "$port" "$model" "$count" "$stream"
    kill -INT "$st"
    wait "$st" 2>/dev/null || true
  done
}

echo "== direct (the mock)" >&2
measure direct "$mock_pid" "$mock_port"
echo "== aigw" >&2
start_aigw aigw
measure aigw "$aigw_pid" "$aigw_port"
echo "== aigw, request log line off (AIGW_LOG=warn)" >&2
start_aigw quiet AIGW_LOG=warn
measure quiet "$aigw_pid" "$aigw_port"

python3 - "$work" "$hz" "$n" "$streams" <<'EOF'
import os, re, sys
work, hz, n, streams = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
# "ticks0=U S" holds utime and stime.
rows = {}
for line in open(os.path.join(work, "cpu.txt")):
    m = re.match(r"(\S+) (\S+) count=(\d+) ticks0=(\d+) (\d+) (\d+) ticks1=(\d+) (\d+) (\d+) sw0=(\d+) sw1=(\d+)", line.strip())
    label, what, count, u0, s0, n0, u1, s1, n1, w0, w1 = m.groups()
    cpu = (int(n1) - int(n0)) / 1e9
    du, ds = int(u1) - int(u0), int(s1) - int(s0)
    share = du / (du + ds) if du + ds > 0 else 0.5
    rows[(label, what)] = dict(count=int(count), user=cpu * share, sys=cpu * (1 - share), wake=int(w1) - int(w0))

def syscalls(label, what):
    out = {}
    path = os.path.join(work, f"strace-{label}-{what}.txt")
    for line in open(path):
        p = line.split()
        if len(p) == 2 and p[1].isdigit() and p[0] not in ("syscall", "total"):
            out[p[0]] = int(p[1])
    return out

labels = [("direct", "direct (mock)"), ("aigw", "aigw"), ("quiet", "aigw, log line off")]
print("| path | per | CPU | of it user / system | wake-ups | syscalls | of which |")
print("|---|---|---|---|---|---|---|")
for label, name in labels:
    r = rows[(label, "requests")]
    sc = syscalls(label, "requests")
    tot = sum(sc.values())
    top = ", ".join(f"{k} {v / r['count']:.2f}" for k, v in sorted(sc.items(), key=lambda kv: -kv[1])[:6])
    print(f"| {name} | request | {(r['user'] + r['sys']) / r['count'] * 1e6:.1f} µs | {r['user'] / r['count'] * 1e6:.1f} / {r['sys'] / r['count'] * 1e6:.1f} µs | {r['wake'] / r['count']:.2f} | {tot / r['count']:.2f} | {top} |")
    a, b = rows[(label, "stream10")], rows[(label, "stream100")]
    sa, sb = syscalls(label, "stream10"), syscalls(label, "stream100")
    ev = 90 * streams
    d = {k: sb.get(k, 0) - sa.get(k, 0) for k in set(sa) | set(sb)}
    top = ", ".join(f"{k} {v / ev:.2f}" for k, v in sorted(d.items(), key=lambda kv: -kv[1])[:6] if v > 0)
    eu, es = (b['user'] - a['user']) / ev * 1e6, (b['sys'] - a['sys']) / ev * 1e6
    print(f"| {name} | stream event | {eu + es:.1f} µs | {eu:.1f} / {es:.1f} µs | {(b['wake'] - a['wake']) / ev:.2f} | {sum(d.values()) / ev:.2f} | {top} |")
print()
print(f"{n} requests (`mock-l0`, 1 KiB prompt) and {streams} streams of 10 and of 100 deltas 1 ms apart, each at c=1 on keep-alive connections; per event = (100-delta run − 10-delta run) / (90 × {streams}). CPU from the threads' schedstat (ns) in runs without strace, split user/system by /proc ticks ({hz}/s); syscalls counted by strace -f -c in a second run of the same load.")
EOF

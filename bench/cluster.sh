#!/usr/bin/env bash
# Team mode's cost per request: a replica enforcing its limits through
# Redis (`[cluster] redis_url`) against the single-node default (the same
# limits in local buckets, SQLite), in one run, interleaved:
#
#   bash bench/cluster.sh                 # 2 rounds × (c=1: 2,000 requests, c=64: 10 s)
#   bash bench/cluster.sh --smoke         # a few hundred requests (report in a temp dir)
#   bash bench/cluster.sh --bin DIR       # aigw, aigw-bench, mock-upstream from DIR
#                                         # (default: $CARGO_TARGET_DIR/release, else target/release)
#
# Both gateways have `[limits] ingress_rpm`, `ingress_tpm` and a `[[limits.models]]`
# entry (high enough that nothing is refused), so each request meets four
# buckets: with Redis one `FCALL aigw_take_v1` before the upstream call and
# one `FCALL aigw_adjust_v1` after it (token settle). The Redis round trips
# per request are counted from `INFO commandstats` before and after each run
# (the heartbeat's one call a second is subtracted). CPU per request is the
# aigw process's user + system ticks (/proc/PID/stat) over the run.
# Everything stays on 127.0.0.1; writes bench/results/cluster.{md,json}.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

rounds=2 n1=2000 dur64=10 out=bench/results
bin="${CARGO_TARGET_DIR:-target}/release"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --smoke) rounds=1 n1=200 dur64=2 out="$(mktemp -d)"; shift ;;
    --bin) bin="$2"; shift 2 ;;
    *) echo "cluster.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
for b in aigw aigw-bench mock-upstream; do
  [[ -x "$bin/$b" ]] || { echo "cluster.sh: $bin/$b missing (cargo build --release -p gateway-core --bin aigw -p aigw-bench -p mock-upstream)" >&2; exit 1; }
done
command -v redis-server >/dev/null || { echo "cluster.sh: redis-server missing (apt install redis-server)" >&2; exit 1; }

work="$(mktemp -d)"
source bench/lib.sh
trap 'bench_cleanup; rm -rf "$work"' EXIT

bench_start_mock "$bin/mock-upstream" "$work/mock.log"
redis_port="$(bench_free_port)"
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
  --dir "$work" --daemonize no --loglevel warning >"$work/redis.log" 2>&1 &
pids+=($!)
rcli() { python3 - "$redis_port" "$@" <<'EOF'
import socket, sys
port, words = int(sys.argv[1]), sys.argv[2:]
s = socket.create_connection(("127.0.0.1", port), timeout=5)
msg = b""
for cmd in (words, ["QUIT"]):
    msg += b"*%d\r\n" % len(cmd) + b"".join(b"$%d\r\n%s\r\n" % (len(w), w.encode()) for w in cmd)
s.sendall(msg)
data = b""
while chunk := s.recv(65536):
    data += chunk
sys.stdout.write(data.decode(errors="replace"))
EOF
}
for _ in $(seq 1 100); do rcli PING 2>/dev/null | grep -q PONG && break; sleep 0.1; done

limits='[limits]
ingress_rpm = 4000000000
ingress_tpm = 4000000000

[[limits.models]]
model = "*"
rpm = 4000000000
tpm = 4000000000
'
declare -A port pid
for g in single redis; do
  port[$g]="$(bench_free_port)"
  {
    bench_config "${port[$g]}" "$mock_port" mock-l0
    printf '\n%s\n' "$limits"
    if [[ $g == redis ]]; then
      printf '[cluster]\nredis_url = "redis://127.0.0.1:%s/"\nreplica_id = "bench"\n' "$redis_port"
    fi
  } >"$work/$g.toml"
  "$bin/aigw" serve --config "$work/$g.toml" --data-dir "$work/data-$g" >"$work/$g.log" 2>&1 &
  pid[$g]=$!
  pids+=($!)
  bench_wait_healthy "${port[$g]}"
done
# The replica has connected and loaded its functions.
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:${port[redis]}/metrics" | grep -q 'aigw_cluster_engine_up{engine="redis"} 1' && break
  sleep 0.1
done

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
fcalls() { rcli INFO commandstats | tr -d '\r' | sed -n 's/^cmdstat_fcall:calls=\([0-9]*\),.*/\1/p'; }

results="$work/results.jsonl"
: >"$results"
for round in $(seq 1 "$rounds"); do
  for c in 1 64; do
    for g in single redis; do
      if [[ $c == 1 ]]; then load=(-c 1 -n "$n1" --duration 120); else load=(-c 64 --duration "$dur64"); fi
      t0="$(ticks "${pid[$g]}")" f0="$(fcalls)" s0="$(date +%s.%N)"
      json="$("$bin/aigw-bench" load --addr "127.0.0.1:${port[$g]}" --model mock-l0 "${load[@]}")"
      t1="$(ticks "${pid[$g]}")" f1="$(fcalls)" s1="$(date +%s.%N)"
      python3 - "$g" "$c" "$round" "$t0" "$t1" "$f0" "$f1" "$s0" "$s1" "$json" >>"$results" <<'EOF'
import json, os, sys
g, c, rnd, t0, t1, f0, f1, s0, s1, raw = sys.argv[1:]
r = json.loads(raw)
n = max(r["ok"] + r["errors"], 1)
hz = os.sysconf("SC_CLK_TCK")
secs = float(s1) - float(s0)
fcalls = int(f1 or 0) - int(f0 or 0)
# The heartbeat: one FCALL a second.
beats = secs if g == "redis" else 0
print(json.dumps({
    "gateway": g, "c": int(c), "round": int(rnd), "ok": r["ok"], "errors": r["errors"],
    "rps": r["rps"], "p50_us": r["latency"]["p50"], "p99_us": r["latency"]["p99"],
    "cpu_us_per_req": (int(t1) - int(t0)) * 1e6 / hz / n,
    "redis_calls_per_req": max(fcalls - beats, 0) / n if g == "redis" else 0,
}))
EOF
    done
  done
done
load1="$(cut -d' ' -f1 /proc/loadavg)"
python3 - "$results" "$out" "$load1" "$(nproc)" <<'EOF'
import json, sys, statistics as st
path, out, load1, cores = sys.argv[1:]
rows = [json.loads(l) for l in open(path)]
def agg(g, c):
    rs = [r for r in rows if r["gateway"] == g and r["c"] == c]
    return {
        "requests": sum(r["ok"] + r["errors"] for r in rs),
        "errors": sum(r["errors"] for r in rs),
        "rps": st.mean(r["rps"] for r in rs),
        "p50_us": st.median(r["p50_us"] for r in rs),
        "p99_us": st.median(r["p99_us"] for r in rs),
        "cpu_us_per_req": st.mean(r["cpu_us_per_req"] for r in rs),
        "redis_calls_per_req": st.mean(r["redis_calls_per_req"] for r in rs),
    }
report = {"load1_at_end": float(load1), "cores": int(cores), "runs": rows,
          "summary": {f"{g} c={c}": agg(g, c) for c in (1, 64) for g in ("single", "redis")}}
json.dump(report, open(f"{out}/cluster.json", "w"), indent=1)
lines = ["# Team mode: Redis-shared limits against the single-node default", "",
         f"One run, {len({r['round'] for r in rows})} interleaved round(s); {cores} cores; "
         f"1-minute load average at the end: {load1} (the machine was shared: numbers are noisy, "
         "compare the two gateways, not absolute values).", "",
         "| gateway | c | requests | errors | req/s | p50 µs | p99 µs | CPU µs/req | Redis calls/req |",
         "|---|---|---|---|---|---|---|---|---|"]
for k, a in report["summary"].items():
    g, c = k.split(" c=")
    lines.append(f"| {g} | {c} | {a['requests']} | {a['errors']} | {a['rps']:.0f} | {a['p50_us']:.0f} | "
                 f"{a['p99_us']:.0f} | {a['cpu_us_per_req']:.0f} | {a['redis_calls_per_req']:.2f} |")
for c in (1, 64):
    s, r = report["summary"][f"single c={c}"], report["summary"][f"redis c={c}"]
    lines.append("")
    lines.append(f"c={c}: added p50 {r['p50_us'] - s['p50_us']:.0f} µs, p99 {r['p99_us'] - s['p99_us']:.0f} µs, "
                 f"CPU {r['cpu_us_per_req'] - s['cpu_us_per_req']:.0f} µs per request.")
open(f"{out}/cluster.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
echo "wrote $out/cluster.md" >&2

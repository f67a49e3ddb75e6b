#!/usr/bin/env bash
# Telemetry and config at scale (bench/README.md, "Scale"; results in
# bench/results/scale.md).
#
#   bash bench/scale.sh                 # 10 M rows, 1,000 routes / 200 providers / 100 patterns
#   bash bench/scale.sh --smoke         # 200 k rows, 100 routes: a quick check that it all runs
#   bash bench/scale.sh --rows 2000000 --db /tmp/log.db --keep
#   bash bench/scale.sh --only telemetry|config
#   bash bench/scale.sh --no-build --bin-dir DIR   # aigw, aigw-bench, mock-upstream from DIR
#
# Telemetry: `scale gen` writes ROWS requests spread over 30 days through
# the gateway's own telemetry::Db (schema, batched inserts, rollups), then
# `scale query` times the admin API's query functions (summary, series,
# request list) over 1 h / 24 h / 7 d, and `scale prune` deletes the oldest
# PRUNE rows with retention while a writer inserts 2,000 events/s through a
# bounded queue. Config: `scale config` times Config::parse, the runtime
# build and the diff in-process; then a release aigw publishes the big
# config through the admin API (curl, wall time per publish) and a short
# c=1 load run compares the small and the big config on the same route in
# alternating rounds. Everything listens on 127.0.0.1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

rows=10000000
prune=1000000
routes=1000
providers=200
wildcards=100
reps=20
db=""
keep=0
only=""
rounds=3
per_round=3000
build=1
aigw_bin=""
bin_dir=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --smoke) rows=200000; prune=50000; routes=100; providers=20; wildcards=10; reps=3
             rounds=1; per_round=300; shift ;;
    --rows) rows="$2"; shift 2 ;;
    --prune) prune="$2"; shift 2 ;;
    --routes) routes="$2"; shift 2 ;;
    --providers) providers="$2"; shift 2 ;;
    --wildcards) wildcards="$2"; shift 2 ;;
    --reps) reps="$2"; shift 2 ;;
    --db) db="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    --only) only="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    --aigw) aigw_bin="$2"; shift 2 ;;
    --bin-dir) bin_dir="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

target="${CARGO_TARGET_DIR:-target}"
if [[ $build == 1 ]]; then
  cargo build --release --locked -p gateway-core --example scale --bin aigw \
    -p mock-upstream -p aigw-bench
fi
scale="$target/release/examples/scale"
bin_dir="${bin_dir:-$target/release}"
aigw="${aigw_bin:-$bin_dir/aigw}"
bench="$bin_dir/aigw-bench"
mock="$bin_dir/mock-upstream"
out="$(mktemp -d /tmp/aigw-scale.XXXXXX)"
echo "scratch: $out"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg)"

if [[ -z "$only" || "$only" == telemetry ]]; then
  fresh=0
  if [[ -z "$db" ]]; then db="$out/telemetry.db"; fi
  if [[ ! -f "$db" ]]; then
    fresh=1
    echo "== generate $rows rows"
    "$scale" gen --db "$db" --rows "$rows"
  fi
  echo "== queries"
  "$scale" query --db "$db" --reps "$reps"
  echo "== prune $prune rows while writing"
  "$scale" prune --db "$db" --rows "$prune"
  if [[ $fresh == 1 && $keep == 0 ]]; then rm -f "$db" "$db-wal" "$db-shm"; fi
fi

if [[ -z "$only" || "$only" == config ]]; then
  echo "== config in-process"
  "$scale" config --routes "$routes" --providers "$providers" --wildcards "$wildcards" \
    --out "$out/big.part" --reps 10
  source bench/lib.sh
  bench_start_mock "$mock" "$out/mock.log"
  port="$(bench_free_port)"
  bench_config "$port" "$mock_port" mock-l0 >"$out/small.toml"
  for v in "" .changed; do
    { cat "$out/small.toml"; sed '1,2d' "$out/big.part$v"; } >"$out/big.toml$v"
  done
  # (the gateway writes each published config to its file: serve a copy)
  cp "$out/small.toml" "$out/live.toml"
  "$aigw" serve --config "$out/live.toml" --data-dir "$out/data" \
    --listen "127.0.0.1:$port" >"$out/aigw.log" 2>&1 &
  gw=$!
  pids+=("$gw")
  bench_wait_healthy "$port"
  token="$("$aigw" admin-token --data-dir "$out/data")"
  cpu() { awk '{print $14 + $15}' "/proc/$gw/stat"; }
  publish() { # FILE: prints the wall time of one publish through the admin API
    python3 -c 'import json,sys; print(json.dumps({"toml": open(sys.argv[1]).read(), "message": "scale"}))' "$1" \
      >"$out/body.json"
    curl -fsS -o "$out/published.json" -w '%{time_total}\n' \
      -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
      --data-binary "@$out/body.json" "http://127.0.0.1:$port/admin/api/config/publish"
    grep -q '"unchanged":false' "$out/published.json" || { cat "$out/published.json"; exit 1; }
  }
  echo "== publish through the admin API (wall seconds each; aigw CPU from /proc, 10 ms ticks)"
  c0="$(cpu)"
  for i in 1 2 3 4 5; do
    t1="$(publish "$out/big.toml")"
    t2="$(publish "$out/big.toml.changed")"
    echo "publish big: ${t1} s, one line changed: ${t2} s"
  done
  echo "aigw CPU over the 10 publishes: $(( ($(cpu) - c0) * 10 )) ms"
  echo "== per-request overhead: small vs big config, same route, c=1, alternating rounds"
  load() { # LABEL
    "$bench" load --addr "127.0.0.1:$port" --model mock-l0 -n "$per_round" --duration 600 \
      >"$out/load.json"
    python3 - "$out/load.json" "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
l = r["latency"]
print(f'{sys.argv[2]}: ok {r["ok"]} errors {r["errors"]}, p50 {l["p50"]} us, p90 {l["p90"]} us, p99 {l["p99"]} us')
PY
  }
  "$bench" load --addr "127.0.0.1:$port" --model mock-l0 -n 500 --duration 600 >/dev/null
  for r in $(seq 1 "$rounds"); do
    publish "$out/small.toml" >/dev/null
    c0="$(cpu)"; load "round $r small config"; echo "  aigw CPU: $(( ($(cpu) - c0) * 10 )) ms"
    publish "$out/big.toml" >/dev/null
    c0="$(cpu)"; load "round $r big config  "; echo "  aigw CPU: $(( ($(cpu) - c0) * 10 )) ms"
  done
fi
[[ $keep == 1 ]] || rm -rf "$out"

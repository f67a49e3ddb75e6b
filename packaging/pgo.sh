#!/usr/bin/env bash
# Builds aigw the way it ships: the `dist` profile (fat LTO, one codegen
# unit) with profile-guided optimisation, trained on the bench's mock
# upstream and load tool over 127.0.0.1:
#
#   bash packaging/pgo.sh [--out FILE] [--no-pgo]
#
#   1. an instrumented aigw (-Cprofile-generate), in target/pgo-gen;
#   2. training: mock-upstream and aigw-bench (release builds) send it
#      non-streaming requests at concurrency 1 and 64 and streams, then
#      the translated paths (Messages -> Chat, Responses -> Chat, Chat ->
#      Messages: bench/lib.sh's bench_paths) non-streaming and streaming,
#      ~25 s;
#   3. llvm-profdata merges the counts; aigw is built again with them
#      (-Cprofile-use), in target/pgo, and copied to --out
#      (default target/pgo/aigw).
#
# Measured (bench/README.md, "Round 4"): 20 % fewer instructions per request
# and per stream than the release profile, and a stream's first token
# 40–55 µs sooner at p50 on our 2-core machines. --no-pgo builds the dist
# profile without profiles (step 3 only, no training).
#
# Needs llvm-profdata matching rustc's LLVM: the rustup component
# `llvm-tools` (added here when rustup can; otherwise install it and rerun).
# Training also needs python3 (free ports) and curl. About 10 minutes on 2 cores (two full builds). Environment such as
# AIGW_UPDATE_PUBKEY / AIGW_UPDATE_URL passes through to both builds.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

out="" pgo=1
while [ $# -gt 0 ]; do
  case "$1" in
    --out) [ $# -ge 2 ] || { echo "pgo.sh: --out needs a file" >&2; exit 2; }; out="$2"; shift 2 ;;
    --no-pgo) pgo=""; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "pgo.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
target_dir="${CARGO_TARGET_DIR:-target}"
out="${out:-$target_dir/pgo/aigw}"
say() { echo "pgo: $*" >&2; }
die() { say "$*"; exit 1; }

if [ -z "$pgo" ]; then
  cargo build --locked --profile dist -p gateway-core --bin aigw
  mkdir -p "$(dirname "$out")"
  install -m755 "$target_dir/dist/aigw" "$out"
  say "aigw (dist profile, no PGO): $out"
  exit 0
fi

profdata="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/llvm-profdata"
if [ ! -x "$profdata" ] && command -v rustup >/dev/null; then
  say "adding the rustup component llvm-tools (for llvm-profdata)"
  rustup component add llvm-tools >&2 || true
fi
[ -x "$profdata" ] || die "no $profdata: rustup component add llvm-tools (or --no-pgo)"

work="$(mktemp -d)"
source bench/lib.sh
trap 'bench_cleanup; rm -rf "$work"' EXIT

say "1/3 instrumented build, and the training tools"
cargo build --locked --release -p mock-upstream -p aigw-bench
# (build scripts run instrumented too: their counts go to a fixed place, so
# that RUSTFLAGS, and so the cache, stay the same from run to run)
RUSTFLAGS="-Cprofile-generate=$(mkdir -p "$target_dir" && cd "$target_dir" && pwd)/pgo-gen/build-script-profiles" \
  cargo build --locked --profile dist -p gateway-core --bin aigw --target-dir "$target_dir/pgo-gen"

say "2/3 training"
bench_start_mock "$target_dir/release/mock-upstream" "$work/mock.log"
port="$(bench_free_port)"
{
  bench_config "$port" "$mock_port" mock-l0 mock-l20 mock-l0-n8-p0 mock-l0-n5-p1
  bench_translated_config "$mock_port" mock-l0 mock-l0-n8-p0 mock-l0-n5-p1
} >"$work/aigw.toml"
mkdir -p "$work/profiles" "$work/data"
LLVM_PROFILE_FILE="$work/profiles/aigw-%p.profraw" \
  "$target_dir/pgo-gen/dist/aigw" serve --config "$work/aigw.toml" --data-dir "$work/data" \
  >"$work/aigw.log" 2>&1 &
aigw_pid=$!
pids+=("$aigw_pid")
bench_wait_healthy "$port"
bench="$target_dir/release/aigw-bench"
addr="127.0.0.1:$port"
"$bench" load --addr "$addr" --model mock-l0 -n 20000 >/dev/null
"$bench" load --addr "$addr" --model mock-l20 -c 64 --duration 4 >/dev/null
"$bench" load --addr "$addr" --model mock-l0-n8-p0 --stream -n 2000 >/dev/null
"$bench" load --addr "$addr" --model mock-l0-n5-p1 --stream -n 200 >/dev/null
# The translated paths, each answered (load exits 0 either way: check ok).
while read -r tag wire prefix; do
  [ "$tag" = passthrough ] && continue
  [ "$prefix" = - ] && prefix=""
  for run in "mock-l0 -n 5000" "mock-l0-n8-p0 --stream -n 1000" "mock-l0-n5-p1 --stream -n 100"; do
    set -- $run
    m="$1"; shift
    "$bench" load --addr "$addr" --wire "$wire" --model "$prefix$m" "$@" </dev/null >"$work/load.json"
    grep -q '"errors": 0' "$work/load.json" || die "training $tag $m failed: $(head -c 400 "$work/load.json")"
  done
done <<<"$bench_paths"
kill -TERM "$aigw_pid"
wait "$aigw_pid" || die "the instrumented aigw did not stop cleanly (log: $(tail -3 "$work/aigw.log"))"
ls "$work"/profiles/*.profraw >/dev/null 2>&1 || die "training wrote no profile"
"$profdata" merge -o "$work/aigw.profdata" "$work"/profiles/*.profraw
# Named by content: cargo sees new counts as new flags and rebuilds.
mkdir -p "$target_dir/pgo"
prof="$(cd "$target_dir/pgo" && pwd)/aigw-$(sha256sum "$work/aigw.profdata" | cut -c1-16).profdata"
cp "$work/aigw.profdata" "$prof"

say "3/3 optimised build"
RUSTFLAGS="-Cprofile-use=$prof" \
  cargo build --locked --profile dist -p gateway-core --bin aigw --target-dir "$target_dir/pgo"
mkdir -p "$(dirname "$out")"
install -m755 "$target_dir/pgo/dist/aigw" "$out"
say "aigw (dist profile, PGO): $out"

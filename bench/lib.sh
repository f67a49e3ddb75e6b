# Shared by bench/profile.sh, bench/ab.sh, bench/bursts.sh and packaging/pgo.sh (sourced):
# the mock upstream and aigw on free 127.0.0.1 ports, and their cleanup.
# Processes started here are in `pids`, killed on exit.
#
# bench_paths: the measured client paths, `TAG WIRE ROUTE_PREFIX` a line
# (passthrough first), for `aigw-bench load --wire WIRE --model PREFIX+MODEL`.
bench_paths='passthrough chat -
messages-to-chat messages -
responses-to-chat responses chatonly-
chat-to-messages chat anthropic-'

pids=()
bench_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap bench_cleanup EXIT

bench_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# bench_start_mock MOCK_BINARY LOG: sets mock_port.
bench_start_mock() {
  mock_port="$(bench_free_port)"
  "$1" --listen "127.0.0.1:$mock_port" >"$2" 2>&1 &
  pids+=($!)
}

# bench_config PORT MOCK_PORT MODEL...: an aigw config listening on PORT with
# one provider, the mock, and a route for each model.
bench_config() {
  local port=$1 mock_port=$2 m
  shift 2
  printf '[server]\nlisten = "127.0.0.1:%s"\n\n' "$port"
  printf '[[providers]]\nname = "mock"\nkind = "openai"\nbase_url = "http://127.0.0.1:%s/v1"\n' "$mock_port"
  for m in "$@"; do
    printf '\n[[routes]]\nmodel = "%s"\n[[routes.targets]]\nprovider = "mock"\n' "$m"
  done
}

# bench_translated_config MOCK_PORT MODEL...: appended to bench_config's
# output, the providers and routes of the translated paths (as in
# bench/harness/src/translated.rs): `chatonly-MODEL` to an OpenAI-kind
# provider without a Responses API (`responses = "translate"`: Responses ->
# Chat) and `anthropic-MODEL` to an Anthropic-kind one (Chat -> Messages),
# both the mock, forwarding MODEL. Messages -> Chat uses bench_config's own
# routes. The Anthropic key comes from AIGW_BENCH_ANTHROPIC_KEY (exported
# here; the mock checks none).
export AIGW_BENCH_ANTHROPIC_KEY=bench-anthropic-key
bench_translated_config() {
  local mock_port=$1 m
  shift
  printf '\n[[providers]]\nname = "mock-chat-only"\nkind = "openai"\nbase_url = "http://127.0.0.1:%s/v1"\nresponses = "translate"\n' "$mock_port"
  printf '\n[[providers]]\nname = "mock-anthropic"\nkind = "anthropic"\nbase_url = "http://127.0.0.1:%s/v1"\napi_key = "env:AIGW_BENCH_ANTHROPIC_KEY"\n' "$mock_port"
  for m in "$@"; do
    printf '\n[[routes]]\nmodel = "chatonly-%s"\n[[routes.targets]]\nprovider = "mock-chat-only"\nmodel = "%s"\n' "$m" "$m"
    printf '\n[[routes]]\nmodel = "anthropic-%s"\n[[routes.targets]]\nprovider = "mock-anthropic"\nmodel = "%s"\n' "$m" "$m"
  done
}

# bench_wait_healthy PORT [TENTHS]: until /healthz answers 200 (60 s by default).
bench_wait_healthy() {
  local i
  for i in $(seq 1 "${2:-600}"); do
    curl -fsS "http://127.0.0.1:$1/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "aigw on port $1 did not become healthy" >&2
  return 1
}

# bench_ab_binaries SCRIPT NAME=BINARY...: the A/B scripts' binaries (ab.sh,
# bursts.sh), into names=() and bins=(), after the harness and the mock
# (bench and mock, from $CARGO_TARGET_DIR/release, else target/release);
# exits 1 naming what is missing.
bench_ab_binaries() {
  local script=$1 b
  shift
  names=() bins=()
  for b in "$@"; do names+=("${b%%=*}"); bins+=("${b#*=}"); done
  bench="${CARGO_TARGET_DIR:-target}/release/aigw-bench"
  mock="${CARGO_TARGET_DIR:-target}/release/mock-upstream"
  for b in "$bench" "$mock" "${bins[@]}"; do
    [[ -x "$b" ]] || { echo "$script: $b missing (cargo build --release -p mock-upstream -p aigw-bench)" >&2; exit 1; }
  done
}

# bench_start_aigws WORK CONFIG_FN: starts each of bins (bench_ab_binaries)
# with the config `CONFIG_FN PORT` prints, on a free port and its own data
# dir in WORK (so the SQLite request log and the log line are included),
# and waits until each is healthy. Sets ports=() and gw_pids=() (in the
# order of names), and appends to pids.
bench_start_aigws() {
  local work=$1 config_fn=$2 i
  ports=() gw_pids=()
  for i in "${!names[@]}"; do
    ports+=("$(bench_free_port)")
    "$config_fn" "${ports[$i]}" >"$work/aigw-$i.toml"
    mkdir -p "$work/data-$i"
    "${bins[$i]}" serve --config "$work/aigw-$i.toml" --data-dir "$work/data-$i" >"$work/aigw-$i.log" 2>&1 &
    pids+=($!)
    gw_pids+=($!)
  done
  for i in "${ports[@]}"; do bench_wait_healthy "$i"; done
}

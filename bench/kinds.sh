#!/usr/bin/env bash
# Translated paths per provider kind against passthrough, on one aigw:
# chat → OpenAI-kind (passthrough), chat → Gemini, Messages → Gemini, each
# next to direct-to-mock rounds in the same minutes. Builds aigw (release
# profile), the mock upstream and the harness unless told not to, and writes
# bench/results/kinds.{md,json}. See bench/README.md, "Provider kinds".
#
#   bash bench/kinds.sh                # report "kinds" (about a minute of load)
#   bash bench/kinds.sh --quick        # a few seconds (smoke; report in a temp dir)
#   bash bench/kinds.sh --aigw FILE    # measure this aigw binary (no aigw build)
#   bash bench/kinds.sh --no-build     # use target/release/{aigw,mock-upstream,aigw-bench}
#
# All traffic stays on 127.0.0.1; the run waits up to 2 minutes for the
# 1-minute load average to drop below 0.8 and records it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

label=kinds
quick=()
extra=()
tgt="${CARGO_TARGET_DIR:-target}"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --label) label="$2"; shift 2 ;;
    --quick) quick=(--quick); shift ;;
    --no-build) no_build=1; shift ;;
    --aigw) aigw="$2"; shift 2 ;;
    *) extra+=("$1"); shift ;;
  esac
done

if [[ -z "${aigw:-}" ]]; then
  aigw="$tgt/release/aigw"
  if [[ -z "${no_build:-}" ]]; then
    echo "== build (release): aigw" >&2
    cargo build --release --locked -p gateway-core --bin aigw
  fi
fi
if [[ -z "${no_build:-}" ]]; then
  echo "== build (release): mock-upstream, aigw-bench" >&2
  cargo build --release --locked -p mock-upstream -p aigw-bench
fi
[[ -x "$aigw" ]] || { echo "no aigw binary at $aigw (build it, or --aigw FILE)" >&2; exit 1; }

out=bench/results
if [[ ${#quick[@]} -gt 0 ]]; then
  out="$(mktemp -d)"
  trap 'rm -rf "$out"' EXIT
fi
"$tgt/release/aigw-bench" kinds --label "$label" --out "$out" --aigw "$aigw" \
  --mock "$tgt/release/mock-upstream" --scratch "$out/logs" "${quick[@]}" "${extra[@]}"

#!/usr/bin/env bash
# The whole benchmark in one go: builds aigw as it ships (packaging/pgo.sh:
# the dist profile with profile-guided optimisation, ~10 min on 2 cores)
# and the harness (release), installs the pinned peers (LiteLLM, Portkey) if
# missing, then measures
# direct-to-mock, aigw, LiteLLM and Portkey on this machine and writes
# bench/results/LABEL.{md,json,png}. See bench/README.md.
#
#   bash bench/run.sh                 # everything, report "latest"
#   bash bench/run.sh --label before  # another report name
#   bash bench/run.sh --gateways aigw # only some gateways
#   bash bench/run.sh --quick         # a few seconds, direct + aigw only (smoke;
#                                     # aigw from the release profile, no PGO build)
#   bash bench/run.sh --no-pgo        # aigw from the plain release profile
#   bash bench/run.sh --aigw FILE     # measure this aigw binary (no aigw build)
#
# All traffic stays on 127.0.0.1. Before each gateway the run waits (up to
# 10 minutes) for the 1-minute load average to drop below 0.8 and records it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

label=latest
gateways=aigw,litellm,portkey
quick=()
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --label) label="$2"; shift 2 ;;
    --gateways) gateways="$2"; shift 2 ;;
    --quick) quick=(--quick); gateways=aigw; no_pgo=1; shift ;;
    --no-build) no_build=1; shift ;;
    --no-pgo) no_pgo=1; shift ;;
    --aigw) aigw="$2"; shift 2 ;;
    *) extra+=("$1"); shift ;;
  esac
done

if [[ -z "${aigw:-}" ]]; then
  if [[ -n "${no_pgo:-}" ]]; then aigw=target/release/aigw; else aigw=target/pgo/aigw; fi
  if [[ -z "${no_build:-}" && -n "${no_pgo:-}" ]]; then
    echo "== build (release): aigw" >&2
    cargo build --release --locked -p gateway-core --bin aigw
  elif [[ -z "${no_build:-}" ]]; then
    echo "== build aigw as it ships: packaging/pgo.sh" >&2
    bash packaging/pgo.sh --out "$aigw"
  fi
fi
if [[ -z "${no_build:-}" ]]; then
  echo "== build (release): mock-upstream, aigw-bench" >&2
  cargo build --release --locked -p mock-upstream -p aigw-bench
fi
[[ -x "$aigw" ]] || { echo "no aigw binary at $aigw (build it, or --aigw FILE)" >&2; exit 1; }

if [[ "$gateways" == *litellm* || "$gateways" == *portkey* ]]; then
  bash bench/setup-peers.sh
fi

# 4,096 streams held open need ~4,100 descriptors in the harness and the
# mock and ~8,200 in a gateway: take the hard limit (aigw raises its own).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
out=bench/results
if [[ ${#quick[@]} -gt 0 ]]; then
  out="$(mktemp -d)"
  trap 'rm -rf "$out"' EXIT
fi
./target/release/aigw-bench run --gateways "$gateways" --label "$label" --out "$out" --aigw "$aigw" \
  --scratch "$out/logs" "${quick[@]}" "${extra[@]}"

if [[ ${#quick[@]} -eq 0 && -x bench/.venv/bin/python ]]; then
  bench/.venv/bin/python bench/chart.py "$out/$label.json"
fi

#!/usr/bin/env bash
# Runs the product: the headless gateway on 127.0.0.1:4000 with the OS config
# dir and data dir (an embedded default config is written on first run).
# Extra arguments go to `aigw serve` (e.g. --listen 127.0.0.1:4100).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/deps.sh
cargo build --release --locked -p gateway-core --bin aigw
exec target/release/aigw serve "$@"

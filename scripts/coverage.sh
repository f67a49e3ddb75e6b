#!/usr/bin/env bash
# Line coverage of the workspace's Rust tests (cargo llvm-cov over nextest,
# keychain tests included in a private Secret Service session, as in
# scripts/test.sh), checked against a floor: exits non-zero below it.
# The desktop crate (src-tauri) is left out: it is exercised by the desktop
# smoke and WebDriver runs of scripts/test.sh, which llvm-cov does not see.
#   bash scripts/coverage.sh              # summary + floor check
#   AIGW_COVERAGE_FLOOR=0 bash scripts/coverage.sh   # just the figure
# .ci/run runs it after the README's test command.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Measured 2026-12-03 (README, "Test coverage"): 81.3 % of lines; the floor
# leaves 2 points for noise (tests that skip when a tool is missing).
FLOOR=${AIGW_COVERAGE_FLOOR:-79}

if ! rustup component list --installed 2>/dev/null | grep -q '^llvm-tools'; then
  rustup component add llvm-tools
fi
if ! command -v cargo-llvm-cov >/dev/null; then
  cargo install cargo-llvm-cov --locked --version '^0.9'
fi

export CARGO_LLVM_COV_TARGET_DIR="$PWD/target/llvm-cov-target"
bash scripts/keyring-session.sh cargo llvm-cov nextest --workspace --exclude aigw-desktop \
  --locked --no-fail-fast --summary-only --fail-under-lines "$FLOOR" "$@"

#!/usr/bin/env bash
# Runs every test: the Rust workspace (unit + integration tests against real
# fake upstreams, the provider-fallback demo, keychain tests against a real
# Secret Service), the official OpenAI and Google GenAI Python SDK suites
# against `aigw`, the real Claude Code, Codex CLI and Gemini CLI (from npm,
# tests/agents/) against `aigw`,
# the operator UI (Vitest unit tests, then end-to-end in Debian's Chromium
# against a real `aigw serve`, see frontend/e2e/), and the desktop app
# (src-tauri: its window and tray under Xvfb, then WebDriver; see
# docs/desktop.md).
# This is the README's test command; .ci/run runs exactly this.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/deps.sh

echo "== build" >&2
cargo build --workspace --all-targets --locked

# A private D-Bus session with gnome-keyring unlocked (empty password) in a
# throwaway home: keychain tests touch a real Secret Service, never yours.
keyring_home="$(mktemp -d)"
trap 'rm -rf "$keyring_home"' EXIT
export KEYRING_HOME="$keyring_home"

echo "== rust tests (in a private Secret Service session)" >&2
dbus-run-session -- bash -c '
  set -euo pipefail
  echo | HOME="$KEYRING_HOME" gnome-keyring-daemon --unlock --components=secrets >/dev/null
  export AIGW_TEST_KEYRING=1
  if command -v cargo-nextest >/dev/null; then
    cargo nextest run --workspace --locked --no-fail-fast
  else
    cargo test --workspace --locked --no-fail-fast
  fi
'

echo "== OpenAI Python SDK against aigw" >&2
bash tests/sdk/run.sh

echo "== the real Claude Code and Codex CLI against aigw (tests/agents/README.md)" >&2
bash tests/agents/run.sh

echo "== benchmark harness smoke: direct + aigw, a few seconds, numbers not judged (bench/README.md)" >&2
bench_out="$(mktemp -d)"
./target/debug/aigw-bench run --quick --gateways aigw --aigw target/debug/aigw \
  --mock target/debug/mock-upstream --out "$bench_out" --scratch "$bench_out/logs" >/dev/null
rm -rf "$bench_out"

echo "== operator UI: unit tests, build, end-to-end in Chromium" >&2
npm --prefix frontend ci --no-audit --no-fund --loglevel=error
npm --prefix frontend test
# Inside a private Secret Service session too: the e2e stores a provider key
# through the UI and reads the fresh gateway's admin token with secret-tool.
dbus-run-session -- bash -c '
  set -euo pipefail
  echo | HOME="$KEYRING_HOME" gnome-keyring-daemon --unlock --components=secrets >/dev/null
  npm --prefix frontend run e2e
'

echo "== desktop app: window and tray under Xvfb, then WebDriver" >&2
# The app embeds the UI at build time: the workspace build above ran before
# the UI was built, so rebuild (only aigw-desktop and what reads the UI
# build recompile) to embed frontend/dist.
[ -f frontend/dist/index.html ] || npm --prefix frontend run build
cargo build --workspace --all-targets --locked
bash scripts/desktop-smoke.sh target/debug/aigw-desktop target/desktop-smoke
bash scripts/desktop-webdriver.sh target/debug/aigw-desktop target/desktop-webdriver

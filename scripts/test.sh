#!/usr/bin/env bash
# Runs every test: the Rust workspace (unit + integration tests against real
# fake upstreams, the provider-fallback demo, keychain tests against a real
# Secret Service) and the official OpenAI Python SDK suite against `aigw`.
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

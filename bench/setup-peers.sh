#!/usr/bin/env bash
# Installs the peer gateways the benchmark compares against, pinned:
#   LiteLLM proxy  (PyPI, litellm[proxy]) in bench/.venv, with matplotlib for the chart
#   Portkey gateway (npm, @portkey-ai/gateway) in bench/node_modules
# Idempotent: does nothing when the pinned versions are already there.
#
# LiteLLM 1.82.7 and 1.82.8 shipped a credential stealer (a `.pth` file that
# runs on every Python start); 1.107.0 was reported compromised as well. The
# pin below is older than 1.107 and is checked for `.pth` payloads before it
# is installed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

LITELLM_VERSION="1.106.12"
MATPLOTLIB_VERSION="3.10.8"
PORTKEY_VERSION="1.15.2"

case "$LITELLM_VERSION" in
  1.82.7 | 1.82.8 | 1.107.*) echo "refusing LiteLLM $LITELLM_VERSION: known compromised release" >&2; exit 1 ;;
esac

want_python=1
# (sed, not grep -q: grep closing the pipe early fails it under pipefail)
if [[ -x .venv/bin/python ]] \
  && [[ "$(.venv/bin/pip show litellm 2>/dev/null | sed -n 's/^Version: //p')" == "$LITELLM_VERSION" ]] \
  && [[ "$(.venv/bin/pip show matplotlib 2>/dev/null | sed -n 's/^Version: //p')" == "$MATPLOTLIB_VERSION" ]]; then
  want_python=0
fi
if [[ $want_python == 1 ]]; then
  echo "== LiteLLM $LITELLM_VERSION (PyPI) into bench/.venv" >&2
  python3 -m venv .venv
  .venv/bin/pip install -q --upgrade pip
  # Look inside the wheel before anything of it can run.
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  .venv/bin/pip download -q --no-deps --only-binary=:all: -d "$tmp" "litellm==$LITELLM_VERSION"
  if python3 -m zipfile -l "$tmp"/litellm-*.whl | grep -E '\.pth\b'; then
    echo "refusing: the litellm $LITELLM_VERSION wheel carries a .pth file" >&2
    exit 1
  fi
  .venv/bin/pip install -q "$tmp"/litellm-*.whl "litellm[proxy]==$LITELLM_VERSION" "matplotlib==$MATPLOTLIB_VERSION"
  if ls .venv/lib/python3*/site-packages/*.pth 2>/dev/null | grep -i litellm; then
    echo "refusing: a litellm .pth file is installed; remove bench/.venv" >&2
    exit 1
  fi
fi

if [[ "$(node -p "require('./node_modules/@portkey-ai/gateway/package.json').version" 2>/dev/null)" != "$PORTKEY_VERSION" ]]; then
  echo "== Portkey gateway $PORTKEY_VERSION (npm) into bench/node_modules" >&2
  if [[ -f package-lock.json ]]; then
    npm ci --no-audit --no-fund --loglevel=error
  else
    npm install --no-audit --no-fund --loglevel=error "@portkey-ai/gateway@$PORTKEY_VERSION" --save-exact
  fi
fi
echo "peers ready: litellm $LITELLM_VERSION, portkey $PORTKEY_VERSION" >&2

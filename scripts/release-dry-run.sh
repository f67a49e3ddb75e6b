#!/usr/bin/env bash
# A dry run of .github/workflows/release.yml on this Linux machine: the
# steps of the linux and publish jobs, and the packing and signing of the
# macOS and Windows jobs, through packaging/ci/release-steps.sh with
# AIGW_CI_DRY_RUN=1 and a throwaway release key. Dry means: the already
# built target/debug/aigw stands in for each target's dist build (lipo, the
# Tauri bundler, codesign and notarytool are printed, not run); the key
# step, the archives, the signing into one manifest for every target and
# every check of the publish job run for real. scripts/test.sh runs it.
#
# Checks that each run: line in the workflow that calls release-steps.sh
# names a step that exists, then runs them in the workflow's order.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
target_dir="${CARGO_TARGET_DIR:-target}"
[ -x "$target_dir/debug/aigw" ] || cargo build --locked -q -p gateway-core --bin aigw
cargo build --locked -q -p aigw-release

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export AIGW_CI_DRY_RUN=1 RUNNER_TEMP="$work" KEY_FILE="$work/aigw-release.key" PARTS_DIR="$work/parts"
export BASE_URL="https://example.invalid/releases/download/v0"
"$target_dir/debug/aigw-release" keygen --out "$work/throwaway.key" >/dev/null 2>&1
AIGW_RELEASE_KEY="$(cat "$work/throwaway.key")"
export AIGW_RELEASE_KEY

steps="$(sed -n 's/^ *run: bash packaging\/ci\/release-steps.sh \(.*\)$/\1/p' .github/workflows/release.yml)"
[ -n "$steps" ] || { echo "release-dry-run: no release-steps.sh calls in release.yml" >&2; exit 1; }
# The linux job builds with packaging/release.sh (the PGO dist build, ~10 min
# here, not dry-runnable); its archive is stood in for like the others.
steps="gateway x86_64-unknown-linux-gnu
$steps"
while IFS= read -r line; do
  # shellcheck disable=SC2086 # the workflow's words, split as bash would
  set -- $line
  case "$1" in
    publish) set -- publish "$work/release" ;;
  esac
  echo "== release-steps.sh $*" >&2
  bash packaging/ci/release-steps.sh "$@"
done <<<"$steps"

# What the publish job produced: every target of the three build jobs in
# one manifest, each file signed by the release key.
python3 - "$work/release/manifest.json" <<'PY'
import json, shutil, sys
shutil_which = shutil.which
m = json.load(open(sys.argv[1]))
want = {"aarch64-apple-darwin", "x86_64-apple-darwin", "x86_64-pc-windows-msvc", "x86_64-unknown-linux-gnu"}
got = set(m["targets"])
assert want <= got, "manifest targets %s lack %s" % (sorted(got), sorted(want - got))
for t in want:
    e = m["targets"][t]
    assert e["url"].startswith("https://example.invalid/releases/download/v0/"), e["url"]
    assert e["binary"].endswith("/aigw.exe" if "windows" in t else "/aigw"), e["binary"]
print("dry run: manifest.json lists", ", ".join(sorted(got)), file=sys.stderr)
# The Windows job's portable desktop zip is the installed app's update entry.
d = m.get("desktop", {}).get("targets", m.get("desktop", {}))
wd = d.get("x86_64-pc-windows-msvc")
assert wd, "manifest has no desktop entry for x86_64-pc-windows-msvc: %s" % sorted(d)
assert wd["url"].endswith("/aigw-desktop-%s-x86_64-pc-windows-msvc.zip" % m["version"]), wd["url"]
assert wd["binary"].endswith("/aigw-desktop.exe"), wd["binary"]
print("dry run: desktop entry for x86_64-pc-windows-msvc:", wd["url"].rsplit("/", 1)[1], file=sys.stderr)
# The Windows job's NSIS installer (packaging/windows, makensis): signed and
# in SHA256SUMS beside the archives (not an update payload: no manifest entry).
import os
d = os.path.dirname(sys.argv[1])
setup = "aigw-%s-x86_64-pc-windows-msvc-setup.exe" % m["version"]
if os.path.exists(os.path.join(d, setup)):
    assert os.path.exists(os.path.join(d, setup + ".sig")), setup + " is not signed"
    assert setup in open(os.path.join(d, "SHA256SUMS")).read(), setup + " is not in SHA256SUMS"
    print("dry run: installer", setup, "signed, in SHA256SUMS", file=sys.stderr)
else:
    assert not shutil_which("makensis"), "makensis is here but the dry run made no " + setup
    print("dry run: no makensis here, no installer", file=sys.stderr)
PY
pk="$("$target_dir/debug/aigw-release" pubkey --key "$work/throwaway.key")"
other="$("$target_dir/debug/aigw-release" keygen --out "$work/other.key" 2>/dev/null)"
# The check can fail: a signature from another key is refused.
if "$target_dir/debug/aigw" update verify --pubkey "$other" "$work/release/manifest.json" >/dev/null 2>&1; then
  echo "release-dry-run: the manifest verified against a key that did not sign it" >&2
  exit 1
fi
"$target_dir/debug/aigw" update verify --pubkey "$pk" "$work/release/manifest.json" >/dev/null
echo "dry run of release.yml: ok ($(ls "$work/release" | wc -l) files)" >&2

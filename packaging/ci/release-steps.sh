#!/usr/bin/env bash
# The steps of .github/workflows/release.yml that are more than one command,
# so that the workflow stays short and scripts/release-dry-run.sh can run
# the ones a Linux machine can run, here, the same way:
#
#   release-steps.sh key                     write $AIGW_RELEASE_KEY (the secret) to $KEY_FILE (0600)
#   release-steps.sh gateway TARGET          build aigw for TARGET (dist profile) and pack
#                                            dist/parts/aigw-VERSION-TARGET.tar.gz (.zip
#                                            where aigw-release packs Windows so);
#                                            TARGET universal-apple-darwin: both Mac
#                                            targets joined with lipo, signed and
#                                            notarised, packed once per Mac triple;
#                                            a Windows TARGET also gets aigww.exe in
#                                            the .zip and the NSIS installer
#                                            aigw-VERSION-TARGET-setup.exe (makensis)
#   release-steps.sh desktop TARGET BUNDLES  the desktop app's bundles (Tauri CLI), copied
#                                            to dist/parts/ (BUNDLES: app,dmg / msi,nsis);
#                                            a Windows TARGET also gets the portable
#                                            aigw-desktop-VERSION-TARGET.zip the app
#                                            updates from (in the manifest)
#   release-steps.sh publish OUT             sign every part in dist/parts/ into OUT: one
#                                            manifest.json for all targets, SHA256SUMS,
#                                            *.sig; then check them with the Linux aigw
#
# Environment: KEY_FILE (default $RUNNER_TEMP/aigw-release.key), PARTS_DIR
# (default dist/parts), AIGW_UPDATE_URL,
# BASE_URL (where the release files are served), and AIGW_CI_DRY_RUN=1: use
# target/debug/aigw (already built) instead of a dist build for `gateway`,
# print the Tauri command for `desktop` instead of running it. Everything
# else runs for real in a dry run too (key, packing, signing, checks).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'release-steps.sh: %s\n' "$*" >&2; exit 1; }

dry="${AIGW_CI_DRY_RUN:-}"
key="${KEY_FILE:-${RUNNER_TEMP:-/tmp}/aigw-release.key}"
target_dir="${CARGO_TARGET_DIR:-target}"
parts="${PARTS_DIR:-dist/parts}"
mkdir -p "$parts"
parts="$(cd "$parts" && pwd)"
exe=""
case "$(uname -s)" in MINGW*|MSYS*|CYGWIN*) exe=.exe ;; esac

# The aigw-release tool's path, built on first use.
tool_bin() {
  [ -x "$target_dir/debug/aigw-release$exe" ] || cargo build --locked -q -p aigw-release >&2
  printf '%s' "$target_dir/debug/aigw-release$exe"
}
tool() { "$(tool_bin)" "$@"; }

version() {
  sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1
}

pubkey() {
  [ -f "$key" ] || die "no key file at $key (run the key step first)"
  tool pubkey --key "$key"
}

step_key() {
  [ -n "${AIGW_RELEASE_KEY:-}" ] || die "AIGW_RELEASE_KEY is empty: add the release signing key (the file aigw-release keygen wrote) as a repository secret"
  mkdir -p "$(dirname "$key")"
  (umask 077 && printf '%s\n' "$AIGW_RELEASE_KEY" > "$key")
  say "release key in $key, public key $(pubkey)"
}

# Builds aigw for one target into $1 (a file); for a Windows target also
# aigww.exe, the console-less launcher, beside it.
build_one() {
  local t="$1" out="$2" win="" bins=(--bin aigw)
  case "$t" in *-windows-*) win=1; bins+=(--bin aigww) ;; esac
  if [ -n "$dry" ]; then
    [ -x "$target_dir/debug/aigw" ] || die "dry run: build target/debug/aigw first"
    say "dry run: would run cargo build --locked --profile dist -p gateway-core ${bins[*]} --target $t"
    cp "$target_dir/debug/aigw" "$out"
    [ -z "$win" ] || cp "$target_dir/debug/aigw" "$(dirname "$out")/aigww$exe"
    return
  fi
  AIGW_UPDATE_PUBKEY="$(pubkey)" cargo build --locked --profile dist -p gateway-core "${bins[@]}" --target "$t"
  cp "$target_dir/$t/dist/aigw$exe" "$out"
  [ -z "$win" ] || cp "$target_dir/$t/dist/aigww$exe" "$(dirname "$out")/aigww$exe"
}

step_gateway() {
  local t="${1:?gateway TARGET}" v work bin
  v="$(version)"
  work="$(mktemp -d)"
  mkdir -p "$parts"
  bin="$work/aigw$exe"
  if [ "$t" = universal-apple-darwin ]; then
    build_one aarch64-apple-darwin "$work/aigw-arm64"
    build_one x86_64-apple-darwin "$work/aigw-x86_64"
    if [ -n "$dry" ]; then
      say "dry run: would run lipo -create -output aigw aigw-arm64 aigw-x86_64"
      cp "$work/aigw-arm64" "$bin"
    else
      lipo -create -output "$bin" "$work/aigw-arm64" "$work/aigw-x86_64"
      lipo -info "$bin"
    fi
    if [ -n "${APPLE_SIGNING_IDENTITY:-}" ] && [ -z "$dry" ]; then
      say "codesign aigw ($APPLE_SIGNING_IDENTITY), hardened runtime"
      codesign --force --options runtime --timestamp --sign "$APPLE_SIGNING_IDENTITY" "$bin"
      codesign --verify --strict --verbose=2 "$bin"
      if [ -n "${APPLE_ID:-}" ]; then
        # A bare binary cannot be stapled; notarising registers it, so
        # Gatekeeper's online check passes for a downloaded archive.
        (cd "$work" && ditto -c -k --keepParent "aigw$exe" aigw.zip)
        xcrun notarytool submit "$work/aigw.zip" --apple-id "$APPLE_ID" \
          --password "$APPLE_PASSWORD" --team-id "$APPLE_TEAM_ID" --wait
      fi
    fi
  else
    build_one "$t" "$bin"
  fi
  # The updater looks its own target triple up in the manifest: a
  # universal build is packed under both Mac triples (the same binary).
  local triples=("$t") tt archive
  [ "$t" = universal-apple-darwin ] && triples=(aarch64-apple-darwin x86_64-apple-darwin)
  local more=()
  case "$t" in *-windows-*) more=(--exec-file "$work/aigww$exe=aigww.exe") ;; esac
  for tt in "${triples[@]}"; do
    archive="$(tool pack --binary "$bin" --version "$v" --target "$tt" --out-dir "$parts" "${more[@]}" \
      --file README.md=README.md \
      --file docs/install.md=docs/install.md \
      --file docs/config.md=docs/config.md \
      --file gateway-core/src/config/default.toml=config.toml \
      --file packaging/systemd/aigw.service=packaging/systemd/aigw.service \
      --file packaging/macos/dev.aigw.aigw.plist=packaging/macos/dev.aigw.aigw.plist)"
    say "packed $archive"
  done
  case "$t" in *-windows-*) installer "$t" "$v" "$bin" "$work/aigww$exe" ;; esac
  rm -rf "$work"
}

# The per-user NSIS installer of aigw.exe (packaging/windows), into the
# parts: the publish step signs it and lists it in SHA256SUMS like the .deb.
# makensis: Debian's nsis on Linux; on the Windows runner the preinstalled
# NSIS (C:\Program Files (x86)\NSIS).
installer() {
  local t="$1" v="$2" bin="$3" launcher="$4" nsis="/c/Program Files (x86)/NSIS"
  [ -d "$nsis" ] && PATH="$PATH:$nsis"
  if ! command -v makensis >/dev/null; then
    [ -n "$dry" ] || die "makensis is missing: the installer needs NSIS (apt-get install nsis)"
    say "dry run: no makensis here, the installer is skipped (apt-get install nsis)"
    return
  fi
  say "installer $(basename "$(bash packaging/windows/build-installer.sh --aigw "$bin" --aigww "$launcher" \
    --version "$v" --target "$t" --out-dir "$parts")")"
}

step_desktop() {
  local t="${1:?desktop TARGET}" bundles="${2:?desktop BUNDLES}"
  local cmd=(npx --yes @tauri-apps/cli@^2 build --ci --target "$t" --bundles "$bundles" -- --locked)
  mkdir -p "$parts"
  if [ -n "$dry" ]; then
    say "dry run: would run (in src-tauri) ${cmd[*]}"
    # The portable archive is packed and signed for real, from a stand-in.
    case "$t" in *-windows-*) desktop_portable "$t" "$target_dir/debug/aigw" ;; esac
    return
  fi
  AIGW_UPDATE_PUBKEY="$(pubkey)"
  export AIGW_UPDATE_PUBKEY
  # An unset secret arrives as an empty variable: the Tauri bundler would
  # try to sign with an empty identity. Unset, it builds unsigned.
  local v
  for v in APPLE_SIGNING_IDENTITY APPLE_ID APPLE_PASSWORD APPLE_TEAM_ID APPLE_CERTIFICATE; do
    [ -n "${!v:-}" ] || unset "$v"
  done
  (cd src-tauri && "${cmd[@]}")
  local found=0 f
  while IFS= read -r -d '' f; do
    case "$f" in
      *.app) (cd "$(dirname "$f")" && ditto -c -k --keepParent "$(basename "$f")" "$parts/$(basename "$f" .app)-$(version)-$t.app.zip") ;;
      *) cp "$f" "$parts/" ;;
    esac
    found=$((found + 1))
  done < <(find "$target_dir/$t/release/bundle" -maxdepth 2 \( -name '*.dmg' -o -name '*.app' -o -name '*.msi' -o -name '*-setup.exe' \) -print0)
  [ "$found" -gt 0 ] || die "no bundles in $target_dir/$t/release/bundle"
  say "desktop bundles for $t: $found"
  case "$t" in *-windows-*) desktop_portable "$t" "$target_dir/$t/release/aigw-desktop.exe" ;; esac
}

# The Windows desktop app's portable .zip (packaging/desktop/pack.sh), the
# manifest's `desktop` entry for TARGET that the installed app updates from
# (the .msi and NSIS bundles are installers, not update payloads). The MSVC
# build links the WebView2 loader statically: no DLL beside it.
desktop_portable() {
  local t="$1" bin="$2"
  [ -f "$bin" ] || die "no $bin for the portable desktop archive"
  say "portable desktop archive for $t: $(bash packaging/desktop/pack.sh "$(tool_bin)" "$bin" "$(version)" "$t" "$parts")"
}

step_publish() {
  local out="${1:?publish OUT}" v
  v="$(version)"
  rm -rf "$out"
  mkdir -p "$out"
  local args=(--key "$key" --version "$v" --out-dir "$out")
  local f t n=0
  # Archives are .tar.gz, or .zip for Windows targets (aigw-release pack
  # picks the format by target).
  for f in "$parts"/aigw-"$v"-*.tar.gz "$parts"/aigw-"$v"-*.zip; do
    [ -e "$f" ] || continue
    t="${f##*/aigw-"$v"-}"
    t="${t%.tar.gz}"
    t="${t%.zip}"
    cp "$f" "$out/"
    args+=(--archive "$t=$out/${f##*/}")
    n=$((n + 1))
  done
  [ "$n" -gt 0 ] || die "no aigw archives in $parts"
  for f in "$parts"/aigw-desktop-"$v"-*.tar.gz "$parts"/aigw-desktop-"$v"-*.zip; do
    [ -e "$f" ] || continue
    t="${f##*/aigw-desktop-"$v"-}"
    t="${t%.tar.gz}"
    cp "$f" "$out/"
    args+=(--desktop-archive "${t%.zip}=$out/${f##*/}")
  done
  for f in "$parts"/*; do
    case "$f" in */aigw-"$v"-*.tar.gz | */aigw-"$v"-*.zip | */aigw-desktop-"$v"-*.tar.gz | */aigw-desktop-"$v"-*.zip | *.sig) continue ;; esac
    [ -f "$f" ] || continue
    cp "$f" "$out/"
    args+=(--extra "$out/${f##*/}")
  done
  [ -n "${BASE_URL:-}" ] && args+=(--base-url "$BASE_URL")
  tool sign "${args[@]}" >/dev/null
  say "signed $n aigw archive(s) and the rest into $out"

  # Checks: sums, every file's signature against the release key, and each
  # target in the manifest.
  (cd "$out" && sha256sum --quiet -c SHA256SUMS)
  local aigw="$target_dir/debug/aigw" pk
  [ -x "$aigw" ] || cargo build --locked -q -p gateway-core --bin aigw
  pk="$(pubkey)"
  for f in "$out"/*; do
    case "$f" in *.sig) continue ;; esac
    [ -f "$f.sig" ] || die "$f has no signature"
    "$aigw" update verify --pubkey "$pk" "$f" >/dev/null
  done
  python3 - "$out/manifest.json" "$parts" "$v" <<'PY'
import json, os, sys
m = json.load(open(sys.argv[1]))
want = set()
for name in os.listdir(sys.argv[2]):
    pre = "aigw-%s-" % sys.argv[3]
    for ext in (".tar.gz", ".zip"):
        if name.startswith(pre) and name.endswith(ext):
            want.add(name[len(pre):-len(ext)])
missing = want - set(m.get("targets", {}))
if missing:
    sys.exit("manifest.json lacks targets %s" % sorted(missing))
print("manifest.json lists", ", ".join(sorted(m["targets"])), file=sys.stderr)
PY
}

step="${1:-}"
shift || true
case "$step" in
  key) step_key ;;
  gateway) step_gateway "$@" ;;
  desktop) step_desktop "$@" ;;
  publish) step_publish "$@" ;;
  *) die "usage: release-steps.sh key | gateway TARGET | desktop TARGET BUNDLES | publish OUT" ;;
esac

#!/usr/bin/env bash
# Builds a signed release of aigw for this machine's target:
#
#   bash packaging/release.sh --key FILE [--update-url URL] [--base-url URL]
#                             [--minimum-version V] [--notes-url URL] [--out DIR]
#
# into dist/VERSION/ (or --out):
#   aigw-VERSION-TARGET.tar.gz   aigw, README, docs, config, systemd unit, launchd plist
#   aigw_VERSION_ARCH.deb        headless gateway + systemd unit (Debian/Ubuntu hosts)
#   manifest.json                the update manifest `aigw update` reads
#   SHA256SUMS                   for `sha256sum -c`
#   *.sig                        ed25519 signature of each of the above (base64)
#
# The binary embeds the public half of --key (AIGW_UPDATE_PUBKEY) and, with
# --update-url, the manifest URL it will check (AIGW_UPDATE_URL), so a release
# trusts exactly the key that signed it. Make a key once with:
#   cargo run -p aigw-release -- keygen --out ~/aigw-release.key
# and keep it out of the repository.
#
# Not built here: the desktop app (src-tauri; its bundles — .deb via the Tauri
# bundler, .dmg, .msi — get signed by adding them to `extras` below, see
# docs/install.md "Making a release"), AppImage (its tooling downloads runtimes
# at build time, which the offline build machines cannot), and other targets
# (run this on each host).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

key="" update_url="" base_url="" minimum="" notes="" out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --key) key="$2"; shift 2 ;;
    --update-url) update_url="$2"; shift 2 ;;
    --base-url) base_url="$2"; shift 2 ;;
    --minimum-version) minimum="$2"; shift 2 ;;
    --notes-url) notes="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "release.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$key" ] || { echo "release.sh: --key FILE is required (see --help)" >&2; exit 2; }
[ -f "$key" ] || { echo "release.sh: no key file at $key" >&2; exit 2; }

say() { printf '== %s\n' "$*" >&2; }

say "release tool"
cargo build --locked -q -p aigw-release
target_dir="${CARGO_TARGET_DIR:-target}"
tool="$target_dir/debug/aigw-release"
pubkey="$("$tool" pubkey --key "$key")"

if [ -f frontend/package.json ] && [ ! -f frontend/dist/index.html ]; then
  say "warning: frontend/dist is missing, so this aigw will embed no /ui (build it first: cd frontend && npm ci && npm run build)"
fi

say "aigw (release profile, update key $pubkey)"
export AIGW_UPDATE_PUBKEY="$pubkey"
if [ -n "$update_url" ]; then export AIGW_UPDATE_URL="$update_url"; else unset AIGW_UPDATE_URL; fi
start=$(date +%s)
cargo build --locked --release -p gateway-core --bin aigw
say "built in $(( $(date +%s) - start ))s"
bin="$target_dir/release/aigw"

version="$("$bin" --version | awk '{print $2}')"
target="$(rustc -vV | sed -n 's/^host: //p')"
embedded="$("$bin" update key)"
embedded="${embedded%%$'\n'*}"
[ "$embedded" = "$pubkey" ] || { echo "release.sh: the binary trusts $embedded, not $pubkey" >&2; exit 1; }
out="${out:-dist/$version}"
rm -rf "$out"
mkdir -p "$out"
# Reproducible archive timestamps: the last commit's time unless given.
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}"

say "archive aigw-$version-$target.tar.gz"
archive="$("$tool" pack --binary "$bin" --version "$version" --target "$target" --out-dir "$out" \
  --file README.md=README.md \
  --file docs/install.md=docs/install.md \
  --file docs/config.md=docs/config.md \
  --file gateway-core/src/config/default.toml=config.toml \
  --file packaging/systemd/aigw.service=packaging/systemd/aigw.service \
  --file packaging/macos/dev.aigw.aigw.plist=packaging/macos/dev.aigw.aigw.plist)"

extras=()
# TODO(desktop): once src-tauri bundles, add e.g.
#   extras+=(--extra "$(ls target/release/bundle/deb/*.deb)")
if command -v dpkg-deb >/dev/null && [ "$(uname -s)" = Linux ]; then
  say ".deb"
  extras+=(--extra "$(bash packaging/deb/build-deb.sh "$bin" "$version" "$out")")
else
  say "no dpkg-deb here: skipping the .deb"
fi

say "signatures, manifest, SHA256SUMS"
sign_args=(--key "$key" --version "$version" --archive "$target=$archive" --out-dir "$out" "${extras[@]}")
[ -n "$minimum" ] && sign_args+=(--minimum-version "$minimum")
[ -n "$base_url" ] && sign_args+=(--base-url "$base_url")
[ -n "$notes" ] && sign_args+=(--notes-url "$notes")
"$tool" sign "${sign_args[@]}" >/dev/null

say "self-check with the new binary"
(cd "$out" && sha256sum --quiet -c SHA256SUMS)
for f in "$out"/*.sig; do "$bin" update verify "${f%.sig}" >/dev/null; done

ls -l "$out" >&2
say "release $version for $target in $out; publish every file in it${update_url:+ so that $update_url serves manifest.json}"

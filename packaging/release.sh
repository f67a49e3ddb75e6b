#!/usr/bin/env bash
# Builds a signed release of aigw and the desktop app for this machine's target:
#
#   bash packaging/release.sh --key FILE [--update-url URL] [--base-url URL]
#                             [--minimum-version V] [--notes-url URL] [--out DIR]
#                             [--no-desktop] [--appimage] [--no-pgo] [--windows]
#
# into dist/VERSION/ (or --out, which is emptied first):
#   aigw-VERSION-TARGET.tar.gz          aigw, README, docs, config, systemd unit, launchd plist
#   aigw_VERSION_ARCH.deb               headless gateway + systemd unit (Debian/Ubuntu hosts)
#   aigw-desktop-VERSION-TARGET.tar.gz  the desktop app for a per-user install that
#                                       updates itself: aigw-desktop, install.sh
#                                       (~/.local), .desktop entry, icons, docs
#   ai-model-gateway_VERSION_ARCH.deb   the desktop app's .deb (Tauri bundler; updated
#                                       by installing the next .deb, not by itself)
#   *.AppImage                          only with --appimage, see below
#   aigw-VERSION-x86_64-pc-windows-gnu.zip  only with --windows: aigw.exe cross-built
#                                       here (mingw-w64), aigww.exe (its console-less
#                                       launcher), README, docs, config.toml;
#                                       in the manifest under x86_64-pc-windows-gnu
#   aigw-desktop-VERSION-x86_64-pc-windows-gnu.zip  only with --windows (and the
#                                       desktop app): aigw-desktop.exe cross-built
#                                       here, WebView2Loader.dll beside it, README,
#                                       docs; in the manifest under desktop
#   aigw-VERSION-x86_64-pc-windows-gnu-setup.exe  only with --windows: the per-user
#                                       NSIS installer of the same files (makensis,
#                                       packaging/windows), with the desktop app
#                                       unless --no-desktop, signed, in SHA256SUMS
#   manifest.json                       the update manifest `aigw update` and the desktop
#                                       app read (`targets` for aigw, `desktop` for the app)
#   SHA256SUMS                          for `sha256sum -c`
#   *.sig                               ed25519 signature of each of the above (base64)
#
# Both binaries embed the public half of --key (AIGW_UPDATE_PUBKEY) and, with
# --update-url, the manifest URL they will check (AIGW_UPDATE_URL), so a
# release trusts exactly the key that signed it. Make a key once with:
#   cargo run -p aigw-release -- keygen --out ~/aigw-release.key
# and keep it out of the repository.
#
# The desktop app needs Node.js/npm (the UI build and the Tauri CLI, fetched
# by npx as @tauri-apps/cli@^2) and the WebKitGTK dev packages
# (bash scripts/deps.sh desktop). --no-desktop builds aigw only (headless
# hosts). frontend/dist is built first (both binaries embed it).
#
# AppImage: Tauri's AppImage bundler downloads AppRun and linuxdeploy from
# GitHub while bundling, which offline build machines cannot. It is attempted
# only with --appimage (a failure then fails the release) or when those tools
# are already in ~/.cache/tauri (a failure is then only a warning); otherwise
# the script says "skipped". TAURI_BUNDLER_TOOLS_GITHUB_MIRROR points the
# bundler at a mirror.
#
# aigw is built by packaging/pgo.sh: the dist profile (fat LTO) with
# profile-guided optimisation trained on the bench's mock upstream over
# 127.0.0.1 (needs the rustup component llvm-tools; ~10 min on 2 cores).
# --no-pgo builds the dist profile alone.
#
# --windows: also cross-compiles aigw.exe for x86_64-pc-windows-gnu (the
# dist profile without PGO: the training would run the .exe) with the same
# AIGW_UPDATE_* embedded. Needs `rustup target add x86_64-pc-windows-gnu` and
# Debian's mingw-w64 (bash scripts/deps.sh windows); with wine installed the
# .exe's --version is checked under wine. Debian's makensis (nsis) builds the
# installer offline from packaging/windows/aigw.nsi. Unless --no-desktop, the
# desktop app is cross-built too (aigw-desktop.exe, release profile with
# tauri/custom-protocol, as the Tauri CLI builds the Linux one), packed with
# the WebView2Loader.dll it imports (from webview2-com-sys in the cargo
# registry) and put in the installer; under wine only its --version runs
# (docs/install.md, "Windows"). The wine checks use a throwaway prefix in the
# work dir, with the ProcessPrng shim wine 8 needs (scripts/wine/).
#
# Other targets (macOS, aarch64): run this on each host.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

key="" update_url="" base_url="" minimum="" notes="" out="" desktop=1 appimage="" pgo=1 windows=""
while [ $# -gt 0 ]; do
  case "$1" in
    --key|--update-url|--base-url|--minimum-version|--notes-url|--out)
      [ $# -ge 2 ] && [ -n "$2" ] || { echo "release.sh: $1 needs a value (see --help)" >&2; exit 2; }
      case "$1" in
        --key) key="$2" ;;
        --update-url) update_url="$2" ;;
        --base-url) base_url="$2" ;;
        --minimum-version) minimum="$2" ;;
        --notes-url) notes="$2" ;;
        --out) out="$2" ;;
      esac
      shift 2 ;;
    --no-desktop) desktop=""; shift ;;
    --appimage) appimage=1; shift ;;
    --no-pgo) pgo=""; shift ;;
    --windows) windows=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "release.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$key" ] || { echo "release.sh: --key FILE is required (see --help)" >&2; exit 2; }
[ -z "$appimage" ] || [ -n "$desktop" ] || { echo "release.sh: --appimage bundles the desktop app; it cannot go with --no-desktop" >&2; exit 2; }
[ -f "$key" ] || { echo "release.sh: no key file at $key" >&2; exit 2; }

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'release.sh: %s\n' "$*" >&2; exit 1; }
elapsed() { local s=$(( $(date +%s) - $1 )); printf '%dm%02ds' $((s / 60)) $((s % 60)); }
t_all=$(date +%s)

work="$(mktemp -d)"
server=""
cleanup() {
  [ -z "$server" ] || kill "$server" 2>/dev/null || true
  [ ! -d "$work/wine" ] || WINEPREFIX="$work/wine" wineserver -k 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Windows programs under wine, in a throwaway prefix made on first use, with
# the ProcessPrng shim wine 8 needs (scripts/wine/lib.sh).
# shellcheck source=scripts/wine/lib.sh
. scripts/wine/lib.sh
wine_env=(env WINEPREFIX="$work/wine" WINEDEBUG=-all WINEDLLOVERRIDES="$WINE_DLL_OVERRIDES")
wine_prefix() {
  [ ! -d "$work/wine" ] || return 0
  WINEPREFIX="$work/wine" WINEDEBUG=-all WINEDLLOVERRIDES="$WINE_DLL_OVERRIDES" wine_boot_prefix >/dev/null \
    || die "no wine prefix in $work/wine (see above)"
}
# A Windows program's stdout (no CRs); its stderr is dropped.
wine_out() { wine_prefix; "${wine_env[@]}" wine "$@" 2>/dev/null | tr -d '\r'; }

wtarget=x86_64-pc-windows-gnu
if [ -n "$windows" ]; then
  rustup target list --installed 2>/dev/null | grep -qx "$wtarget" \
    || die "--windows needs the Rust target: rustup target add $wtarget"
  command -v x86_64-w64-mingw32-gcc >/dev/null \
    || die "--windows needs mingw-w64 to link (bash scripts/deps.sh windows)"
  command -v makensis >/dev/null \
    || die "--windows needs makensis for the installer (bash scripts/deps.sh windows: Debian's nsis)"
  if [ -n "$desktop" ]; then
    # python3 reads cargo metadata (where WebView2Loader.dll is); unzip checks the zip.
    for c in python3 unzip; do
      command -v "$c" >/dev/null || die "--windows with the desktop app needs $c; pass --no-desktop to build aigw.exe only"
    done
  fi
fi

# The desktop app's prerequisites, checked before the long builds.
tauri=(npx --yes @tauri-apps/cli@^2)
if [ -n "$desktop" ] && [ "$(uname -s)" != Linux ]; then
  [ -z "$appimage" ] || die "--appimage is for Linux hosts"
  say "the desktop app is bundled on Linux only here: skipping it (on $(uname -s), build its bundles with the Tauri CLI and sign them with aigw-release sign --extra)"
  desktop=""
fi
if [ -n "$desktop" ]; then
  command -v npx >/dev/null || die "the desktop app needs Node.js/npm (npx runs the Tauri CLI); pass --no-desktop to build aigw only"
  pkg-config --exists webkit2gtk-4.1 javascriptcoregtk-4.1 libsoup-3.0 2>/dev/null \
    || die "the desktop app needs the WebKitGTK 4.1 dev packages (bash scripts/deps.sh desktop); pass --no-desktop to build aigw only"
fi

say "release tool"
cargo build --locked -q -p aigw-release
target_dir="${CARGO_TARGET_DIR:-target}"
tool="$target_dir/debug/aigw-release"
pubkey="$("$tool" pubkey --key "$key")"

# The operator UI is embedded in aigw and in the desktop app: always built
# from this checkout's sources, so a release never ships a stale dist/.
if [ -f frontend/package.json ]; then
  if command -v npm >/dev/null; then
    say "building the UI (frontend/dist)"
    t=$(date +%s)
    # npm ci only when node_modules is missing or older than the lockfile:
    # it deletes node_modules, which other work in this checkout may be using.
    if [ ! -f frontend/node_modules/.package-lock.json ] \
      || [ frontend/package-lock.json -nt frontend/node_modules/.package-lock.json ]; then
      (cd frontend && npm ci --no-audit --no-fund)
    fi
    (cd frontend && npm run build)
    say "UI built in $(elapsed "$t")"
  elif [ ! -f frontend/dist/index.html ] && [ -n "$desktop" ]; then
    die "frontend/dist is missing and there is no npm to build it"
  elif [ -f frontend/dist/index.html ]; then
    say "warning: no npm here: embedding the existing frontend/dist as it is"
  else
    say "warning: frontend/dist is missing, so this aigw will embed no /ui (build it first: cd frontend && npm ci && npm run build)"
  fi
fi

say "aigw (dist profile${pgo:+ with PGO}, update key $pubkey)"
export AIGW_UPDATE_PUBKEY="$pubkey"
if [ -n "$update_url" ]; then export AIGW_UPDATE_URL="$update_url"; else unset AIGW_UPDATE_URL; fi
t=$(date +%s)
# Into a copy: other builds in this target dir may replace the original.
pgo_flag=()
[ -n "$pgo" ] || pgo_flag=(--no-pgo)
bash packaging/pgo.sh --out "$work/aigw" "${pgo_flag[@]}"
say "aigw built in $(elapsed "$t")"
bin="$work/aigw"

version="$("$bin" --version | awk '{print $2}')"
target="$(rustc -vV | sed -n 's/^host: //p')"
embedded="$("$bin" update key)"
embedded="${embedded%%$'\n'*}"
[ "$embedded" = "$pubkey" ] || die "the binary trusts $embedded, not $pubkey"
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

win_args=() extras=() desktop_args=()
if [ -n "$windows" ]; then
  say "aigw.exe for $wtarget (dist profile, no PGO)"
  t=$(date +%s)
  cargo build --locked -q --profile dist -p gateway-core --bin aigw --bin aigww --target "$wtarget"
  install -m644 "$target_dir/$wtarget/dist/aigw.exe" "$work/aigw.exe"
  install -m644 "$target_dir/$wtarget/dist/aigww.exe" "$work/aigww.exe"
  grep -qaF "$pubkey" "$work/aigw.exe" || die "aigw.exe does not embed the update key $pubkey"
  [ -z "$update_url" ] || grep -qaF "$update_url" "$work/aigw.exe" || die "aigw.exe does not embed the update URL $update_url"
  if command -v wine >/dev/null; then
    wine_prefix   # here, not in wine_out's subshell, so that its die ends the script
    wversion="$(wine_out "$work/aigw.exe" --version)"
    [ "$wversion" = "aigw $version" ] || die "aigw.exe under wine reports '$wversion', not 'aigw $version'"
  else
    say "no wine here: aigw.exe's --version is not checked"
  fi
  say "aigw.exe built in $(elapsed "$t")"
  say "archive aigw-$version-$wtarget.zip"
  wzip="$("$tool" pack --binary "$work/aigw.exe" --version "$version" --target "$wtarget" --out-dir "$out" \
    --exec-file "$work/aigww.exe=aigww.exe" \
    --file README.md=README.md \
    --file docs/install.md=docs/install.md \
    --file docs/config.md=docs/config.md \
    --file gateway-core/src/config/default.toml=config.toml)"
  win_args+=(--archive "$wtarget=$wzip")

  wdesktop=()
  if [ -n "$desktop" ]; then
    # What `tauri build` does for the Linux app, by hand (the Tauri CLI would
    # also bundle): the release profile and tauri/custom-protocol (the
    # production build, serving the embedded frontend/dist), with the same
    # AIGW_UPDATE_* exported above.
    say "aigw-desktop.exe for $wtarget (release profile)"
    t=$(date +%s)
    cargo build --locked -q --release -p aigw-desktop --bin aigw-desktop --features tauri/custom-protocol --target "$wtarget"
    install -m644 "$target_dir/$wtarget/release/aigw-desktop.exe" "$work/aigw-desktop.exe"
    grep -qaF "$pubkey" "$work/aigw-desktop.exe" || die "aigw-desktop.exe does not embed the update key $pubkey"
    [ -z "$update_url" ] || grep -qaF "$update_url" "$work/aigw-desktop.exe" || die "aigw-desktop.exe does not embed the update URL $update_url"
    # The GNU build of webview2-com-sys links the WebView2 loader as a DLL
    # (the MSVC build links it statically): ship the one from that crate.
    wv2_dir="$(cargo metadata --locked --format-version 1 --filter-platform "$wtarget" | python3 -c '
import json, os, sys
dirs = [os.path.dirname(p["manifest_path"]) for p in json.load(sys.stdin)["packages"] if p["name"] == "webview2-com-sys"]
print(dirs[0] if len(dirs) == 1 else "")')" || die "cargo metadata (with python3) cannot locate webview2-com-sys"
    [ -n "$wv2_dir" ] || die "cargo metadata lists no single webview2-com-sys package for $wtarget"
    [ -f "$wv2_dir/x64/WebView2Loader.dll" ] || die "no x64/WebView2Loader.dll in $wv2_dir (webview2-com-sys), which aigw-desktop.exe imports"
    install -m644 "$wv2_dir/x64/WebView2Loader.dll" "$work/WebView2Loader.dll"
    if command -v x86_64-w64-mingw32-objdump >/dev/null; then
      # grep without -q reads all of objdump's output (pipefail: no SIGPIPE).
      x86_64-w64-mingw32-objdump -p "$work/aigw-desktop.exe" | grep -i 'DLL Name: WebView2Loader.dll' >/dev/null \
        || die "aigw-desktop.exe does not import WebView2Loader.dll: check what it needs beside it"
    fi
    if command -v wine >/dev/null; then
      wversion="$(wine_out "$work/aigw-desktop.exe" --version)"
      [ "$wversion" = "aigw-desktop $version" ] || die "aigw-desktop.exe under wine reports '$wversion', not 'aigw-desktop $version'"
      if command -v Xvfb >/dev/null && command -v xdotool >/dev/null; then
        # The app itself: hidden start, in-process gateway with a fallback,
        # tray icon, second launch, no-WebView2 dialog (scripts/wine-desktop.sh).
        cargo build --locked -q -p testkit --bin fake-upstream
        FAKE_UPSTREAM_BIN="$target_dir/debug/fake-upstream" bash scripts/wine-desktop.sh "$work/aigw-desktop.exe" \
          || die "aigw-desktop.exe failed its checks under wine (scripts/wine-desktop.sh)"
      else
        say "no Xvfb or xdotool here: aigw-desktop.exe is not run under wine beyond --version (bash scripts/deps.sh windows)"
      fi
    else
      say "no wine here: aigw-desktop.exe's --version is not checked"
    fi
    say "aigw-desktop.exe built in $(elapsed "$t")"
    say "archive aigw-desktop-$version-$wtarget.zip"
    wdzip="$(bash packaging/desktop/pack.sh "$tool" "$work/aigw-desktop.exe" "$version" "$wtarget" "$out" "$work/WebView2Loader.dll")"
    desktop_args+=(--desktop-archive "$wtarget=$wdzip")
    wdesktop=(--desktop "$work/aigw-desktop.exe" --webview2 "$work/WebView2Loader.dll")
  fi

  say "installer aigw-$version-$wtarget-setup.exe (NSIS, makensis $(makensis -VERSION)${wdesktop[*]:+, with the desktop app})"
  wsetup="$(bash packaging/windows/build-installer.sh --aigw "$work/aigw.exe" --aigww "$work/aigww.exe" \
    "${wdesktop[@]}" --version "$version" --target "$wtarget" --out-dir "$out")"
  extras+=(--extra "$wsetup")
fi

if command -v dpkg-deb >/dev/null && [ "$(uname -s)" = Linux ]; then
  say ".deb"
  extras+=(--extra "$(bash packaging/deb/build-deb.sh "$bin" "$version" "$out")")
else
  say "no dpkg-deb here: skipping the .deb"
fi

if [ -n "$desktop" ]; then
  # The Tauri CLI builds target/release/aigw-desktop (with the same
  # AIGW_UPDATE_* as aigw, exported above) and bundles the .deb from it.
  # --no-binary-patching keeps the binary as cargo linked it, so the .deb,
  # the tar.gz and a later AppImage run all ship the same bytes (the patch
  # only tells Tauri's own updater plugin the bundle type; we use ours).
  say "desktop app (release profile, Tauri CLI $("${tauri[@]}" --version | awk '{print $2}'), .deb)"
  t=$(date +%s)
  touch "$work/stamp"
  (cd src-tauri && "${tauri[@]}" build --ci --no-binary-patching --bundles deb -- --locked)
  say "desktop app built and bundled in $(elapsed "$t")"
  install -m755 "$target_dir/release/aigw-desktop" "$work/aigw-desktop"
  dbin="$work/aigw-desktop"
  dversion="$("$dbin" --version)"
  [ "$dversion" = "aigw-desktop $version" ] || die "target/release/aigw-desktop reports '$dversion', not 'aigw-desktop $version'"
  # The key is a string constant in the binary (gateway_core::update::keys);
  # it cannot be asked without starting the app, so look for it.
  grep -qF "$pubkey" "$dbin" || die "aigw-desktop does not embed the update key $pubkey (built without AIGW_UPDATE_PUBKEY?)"
  [ -z "$update_url" ] || grep -qF "$update_url" "$dbin" || die "aigw-desktop does not embed the update URL $update_url"

  mapfile -t debs < <(find "$target_dir/release/bundle/deb" -maxdepth 1 -name '*.deb' -newer "$work/stamp")
  [ "${#debs[@]}" -eq 1 ] || die "expected one new .deb in $target_dir/release/bundle/deb, found ${#debs[@]}"
  field() { dpkg-deb -f "${debs[0]}" "$1"; }
  ddeb="$out/$(field Package)_$(field Version)_$(field Architecture).deb"
  cp "${debs[0]}" "$ddeb"
  # The .deb must hold the very binary that was checked above.
  dpkg-deb --fsys-tarfile "$ddeb" | tar -xO --wildcards "*usr/bin/aigw-desktop" | cmp -s - "$dbin" \
    || die "$ddeb holds another aigw-desktop than $target_dir/release/aigw-desktop (was it rebuilt meanwhile?)"
  extras+=(--extra "$ddeb")

  say "archive aigw-desktop-$version-$target.tar.gz"
  darchive="$(bash packaging/desktop/pack.sh "$tool" "$dbin" "$version" "$target" "$out")"
  desktop_args+=(--desktop-archive "$target=$darchive")

  # AppImage: see the header. Tauri keeps its downloaded tools here.
  tools="${XDG_CACHE_HOME:-$HOME/.cache}/tauri"
  arch="${target%%-*}"
  cached=""
  [ -x "$tools/AppRun-$arch" ] && [ -x "$tools/linuxdeploy-$arch.AppImage" ] \
    && [ -f "$tools/linuxdeploy-plugin-gtk.sh" ] && [ -f "$tools/linuxdeploy-plugin-gstreamer.sh" ] && cached=1
  if [ -n "$appimage" ] || [ -n "$cached" ]; then
    say "AppImage${cached:+ (tools cached in $tools)}"
    t=$(date +%s)
    touch "$work/stamp"
    if (cd src-tauri && timeout 1800 "${tauri[@]}" build --ci --no-binary-patching --bundles appimage -- --locked) 2>&1 | tee "$work/appimage.log" >&2; then
      mapfile -t images < <(find "$target_dir/release/bundle/appimage" -maxdepth 1 -name '*.AppImage' -newer "$work/stamp")
      [ "${#images[@]}" -eq 1 ] || die "expected one new AppImage in $target_dir/release/bundle/appimage, found ${#images[@]}"
      img="$out/aigw-desktop-$version-$arch.AppImage"
      cp "${images[0]}" "$img"
      extras+=(--extra "$img")
      say "AppImage bundled in $(elapsed "$t")"
    elif [ -n "$appimage" ]; then
      die "AppImage failed (--appimage): $(grep -m1 -iE 'error|failed' "$work/appimage.log" || tail -n1 "$work/appimage.log")"
    else
      say "warning: AppImage failed, released without it: $(grep -m1 -iE 'error|failed' "$work/appimage.log" || tail -n1 "$work/appimage.log")"
    fi
  else
    say "AppImage skipped: needs network for linuxdeploy (Tauri downloads AppRun and linuxdeploy from GitHub into $tools); --appimage to try"
  fi
fi

say "signatures, manifest, SHA256SUMS"
sign_args=(--key "$key" --version "$version" --archive "$target=$archive" "${win_args[@]}" --out-dir "$out" "${desktop_args[@]}" "${extras[@]}")
[ -n "$minimum" ] && sign_args+=(--minimum-version "$minimum")
[ -n "$base_url" ] && sign_args+=(--base-url "$base_url")
[ -n "$notes" ] && sign_args+=(--notes-url "$notes")
"$tool" sign "${sign_args[@]}" >/dev/null

say "self-check with the new binary"
(cd "$out" && sha256sum --quiet -c SHA256SUMS)
for f in "$out"/*; do
  case "$f" in *.sig) continue ;; esac
  [ -f "$f.sig" ] || die "$f has no signature"
  "$bin" update verify "$f" >/dev/null   # the key built into the new aigw
done
if [ -n "$desktop" ]; then
  # The archive as a user gets it: its binary reports the release version.
  tar -xzf "$darchive" -C "$work"
  unpacked="$work/aigw-desktop-$version-$target/aigw-desktop"
  [ "$("$unpacked" --version)" = "aigw-desktop $version" ] || die "the desktop archive's binary does not report $version"
fi
if [ -n "$windows" ] && [ -n "$desktop" ]; then
  # The portable zip as a user unpacks it: the .exe with its DLL beside it.
  mkdir "$work/wunzip"
  unzip -q "$wdzip" -d "$work/wunzip"
  wunpacked="$work/wunzip/aigw-desktop-$version-$wtarget"
  for f in aigw-desktop.exe WebView2Loader.dll; do
    [ -f "$wunpacked/$f" ] || die "$wdzip has no $f"
  done
  cmp -s "$wunpacked/aigw-desktop.exe" "$work/aigw-desktop.exe" || die "$wdzip holds another aigw-desktop.exe than the one checked"
  if command -v wine >/dev/null; then
    [ "$(wine_out "$wunpacked/aigw-desktop.exe" --version)" = "aigw-desktop $version" ] \
      || die "the Windows desktop zip's aigw-desktop.exe does not report $version under wine"
  fi
fi
# The manifest as the updaters read it, over HTTP from this directory: each
# app's entry for this target is found, signed, and offers this version.
if command -v python3 >/dev/null; then
  python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$out" >"$work/http.log" 2>&1 &
  server=$!
  port=""
  for _ in $(seq 50); do
    port="$(sed -n 's/.* port \([0-9]*\).*/\1/p' "$work/http.log" | head -n1)"
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || die "could not start python3 -m http.server for the manifest check"
  check=("$bin" update check --manifest-url "http://127.0.0.1:$port/manifest.json" --pubkey "$pubkey")
  status="$(AIGW_DATA_DIR="$work/data" "${check[@]}" --binary "$bin")"
  [[ "$status" == *"up to date"* ]] || die "aigw update check does not find aigw $version for $target in the manifest: $status"
  if [ -n "$desktop" ]; then
    status="$(AIGW_DATA_DIR="$work/data" "${check[@]}" --app desktop --binary "$unpacked")"
    [[ "$status" == *"up to date"* ]] || die "aigw update check --app desktop does not find aigw-desktop $version for $target in the manifest: $status"
  fi
  if [ -n "$windows" ] && command -v wine >/dev/null; then
    # The Windows builds look themselves up under $wtarget (their build
    # target): aigw.exe's updater, for itself and for the desktop app.
    wcheck=("$work/aigw.exe" update check --manifest-url "http://127.0.0.1:$port/manifest.json" --pubkey "$pubkey")
    status="$(AIGW_DATA_DIR="$(winpath "$work/wdata")" wine_out "${wcheck[@]}" --binary "$(winpath "$work/aigw.exe")")"
    [[ "$status" == *"up to date"* ]] || die "aigw.exe update check (wine) does not find aigw $version for $wtarget in the manifest: $status"
    if [ -n "$desktop" ]; then
      status="$(AIGW_DATA_DIR="$(winpath "$work/wdata")" wine_out "${wcheck[@]}" --app desktop --binary "$(winpath "$wunpacked/aigw-desktop.exe")")"
      [[ "$status" == *"up to date"* ]] || die "aigw.exe update check --app desktop (wine) does not find aigw-desktop $version for $wtarget in the manifest: $status"
    fi
  fi
  kill "$server" 2>/dev/null || true
  server=""
else
  say "no python3: skipping the manifest check over HTTP"
fi

ls -l "$out" >&2
say "release $version for $target in $out after $(elapsed "$t_all"); publish every file in it${update_url:+ so that $update_url serves manifest.json}"

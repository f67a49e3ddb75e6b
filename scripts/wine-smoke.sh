#!/usr/bin/env bash
# Windows smoke test: aigw.exe, cross-built for x86_64-pc-windows-gnu, run
# under Debian's wine against Linux-side fake upstreams on 127.0.0.1, with
# curl on the Linux side as the client:
#
#   bash scripts/wine-smoke.sh [AIGW_EXE]
#
# AIGW_EXE defaults to $CARGO_TARGET_DIR/x86_64-pc-windows-gnu/debug/aigw.exe
# (build it with: cargo build -p gateway-core --bin aigw --target x86_64-pc-windows-gnu).
# The Linux helpers come from $CARGO_TARGET_DIR/debug (cargo build -p testkit
# --bins -p aigw-release): fake-upstream and aigw-release. Needs the Debian
# packages wine, wine64, mingw-w64 (the update stub below), curl, jq, python3.
#
# What it checks, in a throwaway wine prefix (WINEPREFIX=$(mktemp -d)):
#   1. `keys set` / `keys list` against the Windows Credential Manager as wine
#      provides it (skipped, with the reason, when wine's cannot store one);
#      the stored key is then the backup provider's api_key.
#   2. `serve`, `/healthz`, a chat request and a stream that fall back from a
#      provider answering 429 to the next one.
#   3. `config publish` into the running gateway (hot-swapped: a new route
#      answers), `config rollback` (it is gone again), `config history`.
#   4. the NSIS installer (packaging/windows/build-installer.sh, makensis):
#      `setup.exe /S` installs per user into %LOCALAPPDATA%\Programs\aigw,
#      the installed aigw.exe runs, the Add/Remove Programs entry and the
#      Start-menu shortcuts exist, `aigw service install --dry-run` picks
#      the console-less launcher aigww.exe, which serves /healthz and stops
#      the gateway when it is killed (taskkill /F); `uninstall.exe /S`
#      removes the files, shortcuts and entry.
#   5. `update check|apply` from a signed local release (.zip, as Windows
#      releases ship, served over HTTP on 127.0.0.1) in which the running
#      aigw.exe replaces itself, then `update rollback`, which puts the exact
#      old bytes back while the .exe it replaces is running. The release
#      holds a stand-in (scripts/wine/aigw-stub.c, built with mingw-w64) that
#      reports the next version and runs the real aigw.exe for everything else.
# What wine does not exercise is listed in docs/install.md ("Windows").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

tdir="${CARGO_TARGET_DIR:-target}"
exe="${1:-$tdir/x86_64-pc-windows-gnu/debug/aigw.exe}"
aigww="${AIGWW_EXE:-$(dirname "$exe")/aigww.exe}"
fake="${FAKE_UPSTREAM_BIN:-$tdir/debug/fake-upstream}"
release_tool="${AIGW_RELEASE_BIN:-$tdir/debug/aigw-release}"
target=x86_64-pc-windows-gnu

say() { printf '== wine-smoke: %s\n' "$*" >&2; }
die() { printf 'wine-smoke: FAILED: %s\n' "$*" >&2; exit 1; }
for tool in wine wineboot wineserver x86_64-w64-mingw32-gcc makensis curl jq python3; do
  command -v "$tool" >/dev/null || die "$tool is missing (apt-get install wine wine64 mingw-w64 nsis curl jq python3)"
done
[ -f "$exe" ] || die "no $exe (cargo build -p gateway-core --bin aigw --bin aigww --target $target)"
[ -f "$aigww" ] || die "no $aigww (cargo build -p gateway-core --bin aigw --bin aigww --target $target)"
[ -x "$fake" ] || die "no $fake (cargo build -p testkit --bins)"
[ -x "$release_tool" ] || die "no $release_tool (cargo build -p aigw-release)"

work="$(mktemp -d)"
# shellcheck source=scripts/wine/lib.sh
. scripts/wine/lib.sh
export WINEPREFIX="$work/prefix" WINEDEBUG=-all WINEARCH=win64 WINEDLLOVERRIDES="$WINE_DLL_OVERRIDES"
serve_pid="" http_pid=""
cleanup() {
  [ -z "$serve_pid" ] || kill "$serve_pid" 2>/dev/null || true
  [ -z "$http_pid" ] || kill "$http_pid" 2>/dev/null || true
  [ -z "${FAKE_PID:-}" ] || kill "$FAKE_PID" 2>/dev/null || true
  wineserver -k 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
t0=$(date +%s)

# Runs a Windows program; its output without CRs.
w() { wine "$@" 2>&1 | tr -d '\r'; return "${PIPESTATUS[0]}"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

say "wine prefix in $WINEPREFIX ($(wine --version))"
shim="$(wine_boot_prefix)" || die "no wine prefix (see above)"
[ -z "$shim" ] || say "$shim"
cp "$exe" "$work/aigw.exe"
exe="$work/aigw.exe"
version="$(w "$exe" --version)" || die "aigw.exe --version: $version"
[[ "$version" =~ ^aigw\ [0-9]+\.[0-9]+\.[0-9]+ ]] || die "aigw.exe --version printed: $version"
version="${version#aigw }"
say "aigw.exe $version runs"

cfg="$work/config.toml" data="$work/data"
gw=(--config "$(winpath "$cfg")" --data-dir "$(winpath "$data")")

# ---------------------------------------------------------------- upstreams
# One 429ing provider per route: a 429 cools its provider down, so the
# stream's route must not share the chat route's.
coproc FAKE { "$fake" --upstream primary=status:429 --upstream primary2=status:429 --upstream backup=ok 2>"$work/fake.err"; }
read -r -t 60 urls <&"${FAKE[0]}" || die "fake-upstream did not start: $(cat "$work/fake.err")"
primary="$(jq -r .primary <<<"$urls")" primary2="$(jq -r .primary2 <<<"$urls")" backup="$(jq -r .backup <<<"$urls")"
dump() { echo dump >&"${FAKE[1]}"; local l; read -r -t 30 l <&"${FAKE[0]}"; printf '%s' "$l"; }

# ---------------------------------------------------------------- keys
keys=""
if out="$(printf %s sk-wine-smoke | w "$exe" keys set smoke-backup "${gw[@]}")"; then
  list="$(w "$exe" keys list "${gw[@]}")" || die "keys list: $list"
  grep -qP '^smoke-backup\tpresent$' <<<"$list" || die "keys list does not show the stored key as present: $list"
  keys=1
  say "keys set/list: stored in wine's Credential Manager and read back ($list)"
else
  say "keys set/list SKIPPED: wine's Credential Manager refused the key: $out"
fi

port="$(free_port)"
config() { # $1: extra TOML
  cat <<EOF
[server]
listen = "127.0.0.1:$port"
shutdown_grace_s = 1

[[providers]]
name = "primary"
kind = "openai"
base_url = "$primary"

[[providers]]
name = "primary2"
kind = "openai"
base_url = "$primary2"

[[providers]]
name = "backup"
kind = "openai"
base_url = "$backup"
${keys:+api_key = \"keyring:smoke-backup\"}

[[routes]]
model = "smoke"
[[routes.targets]]
provider = "primary"
[[routes.targets]]
provider = "backup"
model = "backup-model"

[[routes]]
model = "smoke-stream"
[[routes.targets]]
provider = "primary2"
[[routes.targets]]
provider = "backup"
model = "backup-model"
$1
EOF
}
config "" >"$cfg"

# ---------------------------------------------------------------- serve
say "aigw.exe serve on 127.0.0.1:$port"
wine "$exe" serve "${gw[@]}" >"$work/serve.log" 2>&1 &
serve_pid=$!
base="http://127.0.0.1:$port"
for _ in $(seq 600); do
  curl -fsS -o /dev/null "$base/healthz" 2>/dev/null && break
  kill -0 "$serve_pid" 2>/dev/null || die "aigw.exe serve exited: $(tr -d '\r' <"$work/serve.log")"
  sleep 0.2
done
[ "$(curl -sS "$base/healthz" | jq -r .status)" = ok ] || die "/healthz: $(curl -sS "$base/healthz")"
say "/healthz ok"

chat() { # $1: model, $2: stream (true|false); headers in $work/h, body in $work/b; prints the status
  curl -sS -o "$work/b" -D "$work/h" -w '%{http_code}' "$base/v1/chat/completions" \
    -H 'content-type: application/json' \
    -d "{\"model\":\"$1\",\"stream\":$2,\"messages\":[{\"role\":\"user\",\"content\":\"hello from wine\"}]}"
}
header() { grep -i "^$1:" "$work/h" | head -n1 | cut -d' ' -f2- | tr -d '\r'; }

code="$(chat smoke false)"
[ "$code" = 200 ] || die "chat: HTTP $code $(cat "$work/b")"
[ "$(header x-aigw-provider)" = backup ] || die "chat was answered by '$(header x-aigw-provider)', not the backup after the 429"
jq -e '.choices[0].message.content | length > 0' "$work/b" >/dev/null || die "chat: no answer in $(cat "$work/b")"
code="$(chat smoke-stream true)"
[ "$code" = 200 ] || die "stream: HTTP $code $(cat "$work/b")"
[ "$(header x-aigw-provider)" = backup ] || die "stream was answered by '$(header x-aigw-provider)', not the backup"
grep -q '^data: \[DONE\]' "$work/b" || die "stream did not end with data: [DONE]: $(cat "$work/b")"
grep -q '"delta"' "$work/b" || die "stream carried no deltas: $(cat "$work/b")"
seen="$(dump)"
[ "$(jq '[.primary[], .primary2[] | select(.path == "/v1/chat/completions")] | length' <<<"$seen")" = 2 ] \
  || die "the 429ing providers were not tried first: $seen"
[ "$(jq '[.backup[] | select(.path == "/v1/chat/completions" and .model == "backup-model")] | length' <<<"$seen")" = 2 ] \
  || die "the backup did not answer both: $seen"
say "chat and stream fell back from the 429 to the backup"

# ---------------------------------------------------------------- config
config '
[[routes]]
model = "smoke-direct"
[[routes.targets]]
provider = "backup"' | sed 's/$/\r/' >"$work/v2.toml"   # CRLF, as Notepad saves it
out="$(w "$exe" config publish "${gw[@]}" -m "wine smoke" "$(winpath "$work/v2.toml")")" || die "config publish: $out"
code="$(chat smoke-direct false)"
[ "$code" = 200 ] || die "after publish, the new route answers HTTP $code: $(cat "$work/b")"
cmp -s "$cfg" "$work/v2.toml" || die "the config file on disk is not the published (CRLF) text"
history="$(w "$exe" config history "${gw[@]}")" || die "config history: $history"
first="$(tail -n1 <<<"$history" | tr -d '*' | awk '{print $1}')"   # the oldest version
out="$(w "$exe" config rollback "${gw[@]}" "$first")" || die "config rollback $first: $out"
code="$(chat smoke-direct false)"
[ "$code" != 200 ] || die "after rollback to version $first the route published later still answers"
code="$(chat smoke false)"
[ "$code" = 200 ] || die "after rollback the first route answers HTTP $code"
cmp -s <(config "") "$cfg" || die "after rollback the config file is not version $first's text"
[ "$(w "$exe" config history "${gw[@]}" | grep -c .)" -ge 3 ] || die "history lacks the publish and the rollback"
say "config publish of a CRLF file (hot-swapped into the running gateway, written byte for byte) and rollback to version $first"

# ---------------------------------------------------------------- paths
# Without overrides: the Windows locations (docs/install.md, "Windows").
out="$(unset AIGW_CONFIG AIGW_DATA_DIR; w "$exe" paths)" || die "paths: $out"
grep -qF 'AppData\Roaming\aigw\aigw\config\config.toml' <<<"$out" || die "config is not under %APPDATA%: $out"
clients="$(w "$exe" clients list "${gw[@]}")" || die "clients list: $clients"
grep -qE '^codex .*\\\.codex\\config\.toml$' <<<"$clients" || die "clients list: codex's file is not %USERPROFILE%\\.codex\\config.toml: $clients"
say "paths and clients list give the Windows locations"

kill "$serve_pid" 2>/dev/null || true
wait "$serve_pid" 2>/dev/null || true
serve_pid=""

# ---------------------------------------------------------------- installer
say "installer: $(basename "$(bash packaging/windows/build-installer.sh --aigw "$exe" --aigww "$aigww" \
  --version "$version" --target "$target" --out-dir "$work/setup")") (makensis $(makensis -VERSION))"
setup="$(ls "$work/setup"/*-setup.exe)"
out="$(w "$setup" /S)" || die "setup.exe /S: $out"
local_appdata="$(w cmd /c 'echo %LOCALAPPDATA%')"
appdata="$(w cmd /c 'echo %APPDATA%')"
idir="$(winepath -u "$local_appdata\\Programs\\aigw" 2>/dev/null)"
menu="$(winepath -u "$appdata\\Microsoft\\Windows\\Start Menu\\Programs\\AI Model Gateway" 2>/dev/null)"
for f in aigw.exe aigww.exe uninstall.exe config.toml README.md install.md config.md; do
  [ -f "$idir/$f" ] || die "the installer did not install $f into $idir: $(ls "$idir" 2>&1)"
done
[ "$(w "$idir/aigw.exe" --version)" = "aigw $version" ] || die "the installed aigw.exe reports $(w "$idir/aigw.exe" --version)"
ukey='HKCU\Software\Microsoft\Windows\CurrentVersion\Uninstall\aigw'
entry="$(w reg query "$ukey")" || die "no Add/Remove Programs entry $ukey"
grep -qE "DisplayVersion +REG_SZ +$version\$" <<<"$entry" || die "the uninstall entry lacks DisplayVersion $version: $entry"
grep -qF 'uninstall.exe" /S' <<<"$entry" || die "the uninstall entry lacks QuietUninstallString: $entry"
[ -f "$menu/AI Model Gateway (aigw serve).lnk" ] && [ -f "$menu/Uninstall AI Model Gateway.lnk" ] \
  || die "Start-menu shortcuts missing in $menu: $(ls "$menu" 2>&1)"
say "setup.exe /S installed into $local_appdata\Programs\aigw: aigw.exe $version runs, Add/Remove Programs entry and Start-menu shortcuts"
# The logon task would run the console-less launcher.
out="$(w "$idir/aigw.exe" service install --dry-run "${gw[@]}")" || die "service install --dry-run: $out"
grep -qF '<Command>'"$local_appdata"'\Programs\aigw\aigww.exe</Command>' <<<"$out" \
  || die "the scheduled task does not run aigww.exe: $out"
wine "$idir/aigww.exe" serve "${gw[@]}" >"$work/aigww.log" 2>&1 &
launcher_pid=$!
for _ in $(seq 600); do
  curl -fsS -o /dev/null "$base/healthz" 2>/dev/null && break
  kill -0 "$launcher_pid" 2>/dev/null || die "aigww.exe serve exited: $(tr -d '\r' <"$work/aigww.log")"
  sleep 0.2
done
[ "$(curl -sS "$base/healthz" | jq -r .status)" = ok ] || die "aigww.exe serve: no /healthz"
# As `schtasks /End` ends the task's process: the gateway must stop too.
w taskkill /F /IM aigww.exe >/dev/null || die "taskkill /F /IM aigww.exe failed"
for _ in $(seq 300); do
  curl -fsS -o /dev/null "$base/healthz" 2>/dev/null || break
  sleep 0.2
done
! curl -fsS -o /dev/null "$base/healthz" 2>/dev/null || die "the gateway kept serving after its launcher aigww.exe was killed"
wait "$launcher_pid" 2>/dev/null || true
grep -q 'stdin closed' <(tr -d '\r' <"$work/aigww.log") || die "aigw.exe did not stop on its launcher's end: $(tr -d '\r' <"$work/aigww.log")"
say "aigww.exe serve: /healthz without a console, and the gateway stopped when the launcher was killed"
out="$(w "$idir/uninstall.exe" /S)" || die "uninstall.exe /S: $out"
# The uninstaller runs from a copy in %TEMP%: wait for it.
for _ in $(seq 300); do
  [ -e "$idir" ] || break
  sleep 0.2
done
[ ! -e "$idir" ] || die "uninstall.exe /S left $idir: $(ls "$idir")"
[ ! -e "$menu" ] || die "uninstall.exe /S left the Start-menu folder: $(ls "$menu")"
! w reg query "$ukey" >/dev/null 2>&1 || die "uninstall.exe /S left the uninstall entry"
[ -f "$cfg" ] || die "the uninstall removed the user's config"
say "uninstall.exe /S removed the files, the shortcuts and the Add/Remove Programs entry (the config stays)"

# ---------------------------------------------------------------- update
next="$(awk -F. '{printf "%d.%d.%d", $1, $2, $3 + 1}' <<<"${version%%[-+]*}")"
say "update: a signed $next release (.zip) served on 127.0.0.1"
mkdir -p "$work/inst" "$work/real" "$work/rel" "$work/stub"
cp "$exe" "$work/inst/aigw.exe"
cp "$exe" "$work/real/aigw.exe"
delegate="$(winpath "$work/real/aigw.exe")"
x86_64-w64-mingw32-gcc -O2 -DVERSION="\"$next\"" -DDELEGATE="\"${delegate//\\/\\\\}\"" \
  -o "$work/stub/aigw.exe" scripts/wine/aigw-stub.c
"$release_tool" keygen --out "$work/release.key" >/dev/null 2>&1
pubkey="$("$release_tool" pubkey --key "$work/release.key")"
zip="$("$release_tool" pack --binary "$work/stub/aigw.exe" --version "$next" --target "$target" \
  --out-dir "$work/rel" --file README.md=README.md --file docs/install.md=docs/install.md \
  --file gateway-core/src/config/default.toml=config.toml)"
[[ "$zip" == *.zip ]] || die "aigw-release pack made $zip, not a .zip, for $target"
"$release_tool" sign --key "$work/release.key" --version "$next" --archive "$target=$zip" \
  --out-dir "$work/rel" >/dev/null
python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$work/rel" >"$work/http.log" 2>&1 &
http_pid=$!
hport=""
for _ in $(seq 100); do
  hport="$(sed -n 's/.* port \([0-9]*\).*/\1/p' "$work/http.log" | head -n1)"
  [ -n "$hport" ] && break
  sleep 0.1
done
[ -n "$hport" ] || die "python3 -m http.server did not start"
inst="$work/inst/aigw.exe"
udata=(--data-dir "$(winpath "$work/udata")" --config "$(winpath "$cfg")")
src=(--manifest-url "http://127.0.0.1:$hport/manifest.json" --pubkey "$pubkey")
out="$(w "$inst" update check "${src[@]}" "${udata[@]}")" || die "update check: $out"
[[ "$out" == *"update available"* ]] || die "update check: $out"
# No --binary: the running aigw.exe replaces itself (renamed aside, the new
# one renamed into its place).
out="$(w "$inst" update apply "${src[@]}" "${udata[@]}")" || die "update apply: $out"
[[ "$out" == *"from $version to $next"* ]] || die "update apply: $out"
[ "$(w "$inst" --version)" = "aigw $next" ] || die "after apply, aigw.exe reports $(w "$inst" --version)"
cmp -s "$work/udata/updates/previous/aigw.exe" "$work/real/aigw.exe" || die "the kept previous aigw.exe is not the replaced one"
say "update apply: $version -> $next (the running aigw.exe replaced itself)"
# Through the stub: the real aigw.exe it runs replaces the stub, which is
# running (waiting for it) the whole time.
out="$(w "$inst" update rollback "${udata[@]}")" || die "update rollback: $out"
[[ "$out" == *"$version restored"* ]] || die "update rollback: $out"
cmp -s "$inst" "$work/real/aigw.exe" || die "after rollback, aigw.exe is not the old bytes"
[ "$(w "$inst" --version)" = "aigw $version" ] || die "after rollback, aigw.exe reports $(w "$inst" --version)"
left="$(find "$work/inst" -mindepth 1 -not -name aigw.exe -printf '%f ')"
say "update rollback: $version restored byte for byte${left:+ (left beside it until the next update: $left)}"
say "passed in $(( $(date +%s) - t0 ))s"

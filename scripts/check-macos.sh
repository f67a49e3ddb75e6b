#!/usr/bin/env bash
# `cargo check` of the macOS targets on Linux (issue 21): type-checks the
# crates for aarch64-apple-darwin / x86_64-apple-darwin, including their
# cfg(target_os = "macos") code (keyring's Keychain backend, the launchd
# paths, the desktop app's menu-bar code with --desktop).
#
#   bash scripts/check-macos.sh [--desktop] [TARGET...]   (default: both Mac targets)
#
# Needs the rustup targets (rustup target add aarch64-apple-darwin
# x86_64-apple-darwin). The crates with C code cannot be compiled for macOS
# here (no Apple C toolchain or SDK): aws-lc-sys (rustls' crypto),
# libsqlite3-sys (bundled SQLite) and libmimalloc-sys. A check links
# nothing, so their build scripts are given a stand-in C compiler that
# compiles an empty file with the host cc for every source (the C code is
# not checked; everything in Rust is). Without the stand-in
# (AIGW_MACOS_REAL_CC=1), those three are the ones that fail.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
pkgs=(-p gateway-core -p testkit -p aigw-release)
targets=()
for a in "$@"; do
  case "$a" in
    --desktop) pkgs+=(-p aigw-desktop) ;;
    *) targets+=("$a") ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(aarch64-apple-darwin x86_64-apple-darwin)

stub="$(mktemp -d)"
trap 'rm -rf "$stub"' EXIT
cat >"$stub/cc" <<'SH'
#!/bin/sh
# Stand-in C compiler for a cross `cargo check`: an empty object for -o.
# Preprocessing (cc-rs asks which compiler family this is) goes to the
# host cc with the input file alone, so it answers "gcc".
out="" prev="" pre="" last=""
for a in "$@"; do
  [ "$prev" = "-o" ] && out="$a"
  [ "$a" = "-E" ] && pre=1
  prev="$a" last="$a"
done
[ -z "$pre" ] || exec cc -E "$last"
# Other probes (cc-rs's `-?`, which only MSVC accepts) get the host's answer.
[ -n "$out" ] || exec cc "$@"
exec cc -c -x c /dev/null -o "$out"
SH
chmod +x "$stub/cc"

for t in "${targets[@]}"; do
  rustup target list --installed | grep -qx "$t" \
    || { echo "check-macos: rustup target $t is not installed (rustup target add $t)" >&2; exit 2; }
  v="${t//-/_}"
  echo "== cargo check --target $t ${pkgs[*]}" >&2
  if [ -n "${AIGW_MACOS_REAL_CC:-}" ]; then
    cargo check --locked --keep-going --target "$t" "${pkgs[@]}"
  else
    env "CC_$v=$stub/cc" "CXX_$v=$stub/cc" "AR_$v=ar" \
      cargo check --locked --target "$t" "${pkgs[@]}" --all-targets
  fi
done

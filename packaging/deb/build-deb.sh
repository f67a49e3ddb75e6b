#!/usr/bin/env bash
# Builds aigw_VERSION_ARCH.deb for the headless gateway from a staged tree
# with `dpkg-deb --build` (no debhelper needed).
#   bash packaging/deb/build-deb.sh BINARY VERSION OUT_DIR
# Installs: /usr/bin/aigw, the systemd unit (not enabled), /etc/aigw/config.toml
# (a conffile: your edits survive upgrades), docs in /usr/share/doc/aigw.
#
# The desktop app's .deb (ai-model-gateway, /usr/bin/aigw-desktop) is not
# made here: packaging/release.sh builds it with the Tauri bundler (configured
# in src-tauri/tauri.conf.json) and signs it next to this one. This package
# stays the headless one; the two must not both ship /usr/bin/aigw.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

[ $# -eq 3 ] || { echo "usage: $0 BINARY VERSION OUT_DIR" >&2; exit 2; }
bin="$1"; version="$2"; out="$3"
arch="$(dpkg --print-architecture)"
# Debian versions have no '-' in the upstream part of a native package; a
# semver pre-release 1.2.0-rc.1 becomes 1.2.0~rc.1 (sorts before 1.2.0).
debver="${version/-/\~}"

stage="$(mktemp -d)"
chmod 755 "$stage"
trap 'rm -rf "$stage" "$stage.shlibs"' EXIT
install -Dm755 "$bin" "$stage/usr/bin/aigw"
install -Dm644 packaging/systemd/aigw.service "$stage/usr/lib/systemd/system/aigw.service"
install -Dm644 gateway-core/src/config/default.toml "$stage/etc/aigw/config.toml"
install -Dm644 README.md "$stage/usr/share/doc/aigw/README.md"
install -Dm644 docs/install.md "$stage/usr/share/doc/aigw/install.md"
install -Dm644 docs/config.md "$stage/usr/share/doc/aigw/config.md"
cat > "$stage/usr/share/doc/aigw/copyright" <<'COPY'
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: aigw (AI Model Gateway)

Files: *
License: Apache-2.0
 On Debian systems the full text is in /usr/share/common-licenses/Apache-2.0.
COPY

# Runtime dependencies with minimum versions, as dpkg-shlibdeps computes them
# from the shared libraries the binary links (libc6, libdbus-1-3, …).
shlib_dir="$stage.shlibs"
mkdir -p "$shlib_dir/debian"
printf 'Source: aigw\n\nPackage: aigw\nArchitecture: any\n' > "$shlib_dir/debian/control"
cp "$bin" "$shlib_dir/aigw"
depends="$(cd "$shlib_dir" && dpkg-shlibdeps -O -e aigw 2>/dev/null | sed -n 's/^shlibs:Depends=//p')"
rm -rf "$shlib_dir"
[ -n "$depends" ] || { echo "build-deb.sh: dpkg-shlibdeps found no dependencies (is dpkg-dev installed?)" >&2; exit 1; }

mkdir -p "$stage/DEBIAN"
cat > "$stage/DEBIAN/control" <<CONTROL
Package: aigw
Version: $debver
Architecture: $arch
Maintainer: AI Model Gateway maintainers <maintainers@aigw.invalid>
Section: net
Priority: optional
Depends: $depends
Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)
Description: AI Model Gateway: self-hosted OpenAI-compatible LLM gateway
 aigw routes OpenAI-protocol requests to several upstream providers with
 fallback around quota, timeouts and failures, local rate limits and
 response headers that say which provider and model served.
 .
 This package holds the headless gateway and a hardened systemd unit
 (not enabled by default: systemctl enable --now aigw).
CONTROL
echo "/etc/aigw/config.toml" > "$stage/DEBIAN/conffiles"
install -m755 packaging/deb/postinst packaging/deb/prerm packaging/deb/postrm "$stage/DEBIAN/"

mkdir -p "$out"
deb="$out/aigw_${debver}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"

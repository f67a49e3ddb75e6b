#!/usr/bin/env bash
# Runs the product with the OS config dir and data dir (an embedded default
# config listening on 127.0.0.1:4000 is written on first run):
#   - on a desktop ($DISPLAY or $WAYLAND_DISPLAY set): the desktop tray app
#     (src-tauri), which hosts the gateway in-process and opens its window;
#   - otherwise (or with AIGW_HEADLESS=1): the headless `aigw serve`; extra
#     arguments go to it (e.g. --listen 127.0.0.1:4100).
# Both read AIGW_CONFIG, AIGW_DATA_DIR and AIGW_LISTEN. Release builds; the
# first desktop build takes a few minutes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The operator UI (served at /ui, and embedded in the desktop window).
build_ui() {
  if [ ! -f frontend/dist/index.html ] && command -v npm >/dev/null; then
    npm --prefix frontend ci --no-audit --no-fund --loglevel=error
    npm --prefix frontend run build
  fi
}

if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ "${AIGW_HEADLESS:-}" != 1 ]; then
  bash scripts/deps.sh desktop
  build_ui
  cargo build --release --locked -p aigw-desktop
  exec target/release/aigw-desktop
fi

bash scripts/deps.sh headless
build_ui
cargo build --release --locked -p gateway-core --bin aigw
exec target/release/aigw serve "$@"

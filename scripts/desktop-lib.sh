# Shared by scripts/desktop-smoke.sh and scripts/desktop-webdriver.sh (sourced,
# inside their private D-Bus session and X server): a throwaway home, keychain
# and config for the app, result counting, and the tray over D-Bus.

PASS=0; FAIL=0
ok()  { echo "ok   - $*"; PASS=$((PASS+1)); }
bad() { echo "FAIL - $*"; FAIL=$((FAIL+1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
# wait_for SECONDS CMD...: polls CMD every 0.25 s
wait_for() { local n=$(( $1 * 4 )); shift; for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.25; done; return 1; }

# desktop_free_port: a free 127.0.0.1 port below the ephemeral range
# (32768-60999): a port from bind(0) could be handed out again at once to
# fake upstreams that bind port 0, and the app then finds its port taken.
desktop_free_port() {
  python3 -c '
import random, socket
for _ in range(200):
    p = random.randint(20000, 30999)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    break
'
}

# desktop_env FAKE_UPSTREAM_BIN: everything the app touches goes under $W (no
# real HOME, keychain or config); exports AIGW_CONFIG/AIGW_DATA_DIR/AIGW_LISTEN,
# sets PORT (DESKTOP_TEST_PORT, else a free one) and GW (the gateway's URL).
# With a fake-upstream binary the providers are real (fake) servers; else
# they point at a closed port.
desktop_env() {
  W=$(mktemp -d)
  export HOME=$W/home XDG_RUNTIME_DIR=$W/run XDG_CONFIG_HOME=$W/home/.config
  mkdir -p "$HOME/.config" "$XDG_RUNTIME_DIR"; chmod 700 "$XDG_RUNTIME_DIR"
  export AIGW_CONFIG=$W/config.toml AIGW_DATA_DIR=$W/data
  # Admin tokens go to a real (throwaway) Secret Service, as on a desktop.
  echo | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1
  PORT=${DESKTOP_TEST_PORT:-$(desktop_free_port)}
  export AIGW_LISTEN=127.0.0.1:$PORT
  GW=http://127.0.0.1:$PORT
  local primary=http://127.0.0.1:9/v1 backup=http://127.0.0.1:9/v1 flaky=http://127.0.0.1:9/v1 urls='{}'
  if [ -n "${1:-}" ]; then
    coproc FAKEUP { "$1" --upstream primary=ok --upstream backup=ok --upstream flaky=status:429; }
    read -r -t 10 urls <&"${FAKEUP[0]}" || urls='{}'
    primary=$(jq -r ".primary // \"$primary\"" <<<"$urls")
    backup=$(jq -r ".backup // \"$backup\"" <<<"$urls")
    flaky=$(jq -r ".flaky // \"$flaky\"" <<<"$urls")
  fi
  cat > "$AIGW_CONFIG" <<EOF
# desktop test config
[server]
listen = "127.0.0.1:4000"

[[providers]]
name = "openai"
kind = "openai"
base_url = "$primary"

[[providers]]
name = "groq"
kind = "openai"
base_url = "$flaky"

[[providers]]
name = "ollama"
kind = "openai"
base_url = "$backup"

[[routes]]
model = "gpt-4o-mini"
[[routes.targets]]
provider = "openai"
[[routes.targets]]
provider = "ollama"
model = "llama3.1:8b"

[[routes]]
model = "llama-3.1-70b"
[[routes.targets]]
provider = "groq"
[[routes.targets]]
provider = "ollama"
model = "llama3.1:8b"

[profiles.local-only]
[[profiles.local-only.routes]]
model = "gpt-4o-mini"
[[profiles.local-only.routes.targets]]
provider = "ollama"
model = "llama3.1:8b"
EOF
}

# chat [MODEL]: one chat completion; prints the HTTP status, body in $W/chat.json
chat() {
  curl -s -o "$W/chat.json" -w '%{http_code}' "$GW/v1/chat/completions" -H 'content-type: application/json' \
    -d "{\"model\":\"${1:-gpt-4o-mini}\",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}"
}

# --- the tray over D-Bus: the app's StatusNotifierItem and its dbusmenu
SNI=""; MENU=""; ITEM=""
find_tray() { # PID
  SNI=""; MENU=""
  for n in $(busctl --user list --no-legend 2>/dev/null | awk -v p="$1" '$2==p{print $1}'); do
    # busctl tree can hang on one of the app's connections: bound it.
    local m; m=$(timeout 2 busctl --user tree --list "$n" 2>/dev/null | grep -E '^/org/ayatana/NotificationItem/[^/]+/Menu$' | head -1)
    [ -n "$m" ] && { SNI=$n; MENU=$m; ITEM=${m%/Menu}; return 0; }
  done
  return 1
}
# every menu item at any depth as "id<TAB>label<TAB>enabled<TAB>toggle-state"
items() {
  busctl --user --json=short call "$SNI" "$MENU" com.canonical.dbusmenu GetLayout iias -- 0 -1 3 label enabled toggle-state |
    jq -r '.. | objects | select(has("data")) | .data | select(type=="array" and length==3 and (.[1]|type)=="object")
      | [.[0], (.[1].label.data // ""), (if .[1] | has("enabled") then .[1].enabled.data else true end),
         (.[1]["toggle-state"].data // -1)] | @tsv'
}
id_of() { items | awk -F'\t' -v l="$1" '$2==l{print $1; exit}'; }
has_item() { [ -n "$(id_of "$1")" ]; }
item_field() { items | awk -F'\t' -v l="$1" -v f="$2" '$2==l{print $f; exit}'; } # LABEL FIELD(3=enabled,4=toggle)
click() { # LABEL: as a panel does when the user picks the item
  local id; id=$(id_of "$1")
  [ -n "$id" ] || { echo "  (no tray item '$1')"; return 1; }
  busctl --user call "$SNI" "$MENU" com.canonical.dbusmenu Event isvu -- "$id" clicked i 0 0
}
icon_name() { busctl --user get-property "$SNI" "$ITEM" org.kde.StatusNotifierItem IconName 2>/dev/null; }
colours() { convert "$1" -format %k info: 2>/dev/null || echo 0; }

# wm_close WID: what a window manager sends when the user clicks the close
# button (a WM_DELETE_WINDOW client message; Xvfb runs no window manager).
wm_close() {
  python3 - "$1" <<'PY'
import ctypes, sys
x = ctypes.CDLL("libX11.so.6")
x.XOpenDisplay.argtypes, x.XOpenDisplay.restype = [ctypes.c_char_p], ctypes.c_void_p
x.XInternAtom.argtypes, x.XInternAtom.restype = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int], ctypes.c_ulong
x.XFlush.argtypes = [ctypes.c_void_p]
class ClientMessage(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                ("display", ctypes.c_void_p), ("window", ctypes.c_ulong), ("message_type", ctypes.c_ulong),
                ("format", ctypes.c_int), ("l", ctypes.c_long * 5)]
class XEvent(ctypes.Union):
    _fields_ = [("xclient", ClientMessage), ("pad", ctypes.c_long * 24)]
x.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.POINTER(XEvent)]
d = x.XOpenDisplay(None)
if not d:
    sys.exit("wm_close: no X display")
ev = XEvent()
ev.xclient.type, ev.xclient.window, ev.xclient.format = 33, int(sys.argv[1]), 32  # 33 = ClientMessage
ev.xclient.message_type = x.XInternAtom(d, b"WM_PROTOCOLS", 0)
ev.xclient.l[0] = x.XInternAtom(d, b"WM_DELETE_WINDOW", 0)
x.XSendEvent(d, int(sys.argv[1]), 0, 0, ctypes.byref(ev))
x.XFlush(d)
PY
}

# serve_release RELTOOL VERSION MARK: a signed release VERSION, made with the
# real release tool (target/debug/aigw-release) and a throwaway key, served
# from 127.0.0.1 in the background; exports AIGW_UPDATE_URL and
# AIGW_DEV_UPDATE_PUBKEY (which debug builds trust) for the app. Its desktop
# build is a stand-in that reports VERSION and, when run otherwise (the app
# restarting into it), writes MARK. Needs AIGW_HOST_TRIPLE (rustc's host).
serve_release() {
  local tool=$1 version=$2 mark=$3 r=$W/release key a d port
  mkdir -p "$r"
  key=$("$tool" keygen --out "$W/release.key" 2>/dev/null) || return 1
  printf '#!/bin/sh\nif [ "$1" = --version ]; then echo "aigw-desktop %s"; exit 0; fi\necho "restarted $*" > %s\n' \
    "$version" "$mark" >"$W/new-desktop"
  printf '#!/bin/sh\necho "aigw %s"\n' "$version" >"$W/new-aigw"
  chmod +x "$W/new-desktop" "$W/new-aigw"
  a=$("$tool" pack --binary "$W/new-aigw" --version "$version" --target "$AIGW_HOST_TRIPLE" --out-dir "$r") || return 1
  d=$("$tool" pack --app desktop --binary "$W/new-desktop" --version "$version" --target "$AIGW_HOST_TRIPLE" --out-dir "$r") || return 1
  "$tool" sign --key "$W/release.key" --version "$version" --archive "$AIGW_HOST_TRIPLE=$a" \
    --desktop-archive "$AIGW_HOST_TRIPLE=$d" --out-dir "$r" >/dev/null || return 1
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  python3 -m http.server --bind 127.0.0.1 --directory "$r" "$port" >/dev/null 2>&1 &
  export AIGW_UPDATE_URL=http://127.0.0.1:$port/manifest.json AIGW_DEV_UPDATE_PUBKEY=$key
}

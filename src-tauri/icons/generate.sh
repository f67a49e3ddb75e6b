#!/usr/bin/env bash
# Regenerates the app and tray icons (RGBA PNGs; Tauri refuses RGB icons).
# The outputs are committed; run this only to change the artwork:
#   bash src-tauri/icons/generate.sh
# Needs ImageMagick (`convert`). Tray icons differ in colour AND shape, so the
# state reads at 22 px and without colour vision:
#   running = green, fork glyph · paused = amber, pause bars · error = red, "!".
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

# A 256×256 master, scaled down for each output.
tile() { # out colour glyph-args...
  local out=$1 colour=$2; shift 2
  convert -size 256x256 xc:none \
    -fill "$colour" -draw 'roundrectangle 8,8 247,247 56,56' \
    -fill none -stroke white -strokewidth 26 "$@" \
    PNG32:"$out"
}
fork=(-draw 'stroke-linecap round line 52,128 120,128' -draw 'stroke-linecap round line 120,128 196,70' -draw 'stroke-linecap round line 120,128 196,186'
      -stroke none -fill white -draw 'circle 196,70 196,94' -draw 'circle 196,186 196,210'
      -draw 'circle 56,128 56,154')
pause=(-draw 'stroke-linecap round line 96,72 96,184' -draw 'stroke-linecap round line 160,72 160,184')
bang=(-draw 'stroke-linecap round line 128,60 128,146' -stroke none -fill white -draw 'circle 128,192 128,210')

# macOS menu-bar ("template") icons: the glyph alone, black on transparent;
# macOS draws only their alpha, in the menu bar's own colour (light, dark,
# highlighted). The state reads from the shape.
glyph() { # out glyph-args...
  local out=$1; shift
  convert -size 256x256 xc:none -fill none -stroke black -strokewidth 30 "$@" PNG32:"$out"
}

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
tile "$tmp/app.png" '#4f46e5' "${fork[@]}"
tile "$tmp/running.png" '#059669' "${fork[@]}"
tile "$tmp/paused.png" '#d97706' "${pause[@]}"
tile "$tmp/error.png" '#dc2626' "${bang[@]}"

convert "$tmp/app.png" PNG32:icon.png                               # 256×256, window + bundle
convert "$tmp/app.png" -resize 128x128 PNG32:128x128.png
convert "$tmp/app.png" -resize 32x32 PNG32:32x32.png
# Windows: the .exe's icon resource (tauri-build embeds it) and the installer's.
convert "$tmp/app.png" -define icon:auto-resize=256,48,32,16 icon.ico
for s in running paused error; do
  convert "$tmp/$s.png" -resize 64x64 PNG32:"tray-$s.png"
done
for s in running paused error; do
  case $s in running) g=("${fork[@]}") ;; paused) g=("${pause[@]}") ;; error) g=("${bang[@]}") ;; esac
  glyph "$tmp/t-$s.png" "${g[@]//white/black}"
  convert "$tmp/t-$s.png" -resize 64x64 PNG32:"tray-template-$s.png"
done
identify icon.png 128x128.png 32x32.png tray-*.png

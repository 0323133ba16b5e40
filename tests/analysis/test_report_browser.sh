#!/bin/sh
# report.html in a real browser (Debian's headless chromium): two small LeNet-5 campaigns
# in one database, `aurum report`, then the page must load without console errors or
# network requests, its DOM must hold the five charts, and a screenshot must show them:
# the PNG is decoded (python3, stdlib only) and must contain the bar colour and the heat
# map's dark red, not one flat colour. The same for the report.html of `aurum sweep --out`
# (its table and three charts). Skipped (exit 77) when chromium is not installed.
set -eu

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
    echo "test_report_browser: skipped: $CHROMIUM not installed (apt-get install chromium)"
    exit 77
fi
: "${AURUM_CLI:?AURUM_CLI must point to the aurum executable}"
ROOT=${AURUM_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
TMP=$(mktemp -d /tmp/aurum-test-browser-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
fail() {
    echo "test_report_browser: FAIL: $*" >&2
    exit 1
}

campaign() { # name, formats JSON
    cat > "$TMP/$1.json" <<EOF
{"name": "$1", "model": "$ROOT/models/lenet5.onnx",
 "data": {"inputs": "$ROOT/models/data/fmnist_eval_x.npy",
          "labels": "$ROOT/models/data/fmnist_eval_y.npy", "samples": 100, "only_correct": true},
 "batch": 32, "formats": $2, "range_detector": true,
 "process": {"type": "per_layer", "flips": 1, "trials": 60}, "seed": 11}
EOF
    "$AURUM_CLI" run "$TMP/$1.json" --db "$TMP/r.db" > "$TMP/run-$1.txt" 2>&1 ||
        fail "aurum run $1: $(cat "$TMP/run-$1.txt")"
}
campaign b-fp16 '{"activations": "fp16"}'
campaign b-int8 '{"activations": "int8"}'
mkdir "$TMP/out"
"$AURUM_CLI" report "$TMP/r.db" --campaign b-fp16 --out "$TMP/out" > "$TMP/report.txt" 2>&1 ||
    fail "aurum report: $(cat "$TMP/report.txt")"
[ -s "$TMP/out/report.html" ] || fail "no report.html"
"$AURUM_CLI" sweep "$ROOT/models/lenet5.onnx" --inputs "$ROOT/models/data/fmnist_eval_x.npy" \
    --labels "$ROOT/models/data/fmnist_eval_y.npy" --limit 100 \
    --formats 'fp16,int{bits:8},fxp{integer:2,fraction:3}' --out "$TMP/sweep" \
    > "$TMP/sweep.txt" 2>&1 || fail "aurum sweep: $(cat "$TMP/sweep.txt")"
[ -s "$TMP/sweep/report.html" ] || fail "no sweep report.html"

browse() { # page, extra chromium options...
    page=$1
    shift
    timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$(mktemp -d "$TMP/profile-XXXXXX")" "$@" "file://$page"
}

# The DOM as chromium parsed it, with console messages and failed loads on stderr; then a
# screenshot. Arguments: page, name, expected number of charts.
render() {
    browse "$1" --enable-logging=stderr --v=0 --dump-dom > "$TMP/dom-$2.html" \
        2> "$TMP/console-$2.txt" ||
        fail "$2: chromium --dump-dom failed: $(tail -3 "$TMP/console-$2.txt")"
    if grep -E "CONSOLE|Uncaught|Failed to load resource|net::ERR" "$TMP/console-$2.txt"; then
        fail "$2: console errors or network requests (above)"
    fi
    n_svg=$(grep -o "<svg" "$TMP/dom-$2.html" | wc -l)
    [ "$n_svg" -eq "$3" ] || fail "$2: expected $3 charts in the DOM, found $n_svg"
    browse "$1" --screenshot="$TMP/shot-$2.png" --window-size=1200,3000 > "$TMP/shot.txt" 2>&1 ||
        fail "$2: chromium --screenshot failed: $(tail -3 "$TMP/shot.txt")"
    [ -s "$TMP/shot-$2.png" ] || fail "$2: no screenshot"
    if [ -n "${AURUM_KEEP_SCREENSHOT:-}" ]; then # to look at them: a path prefix to copy to
        cp "$TMP/shot-$2.png" "$AURUM_KEEP_SCREENSHOT-$2.png"
    fi
    size=$(wc -c < "$TMP/shot-$2.png")
    [ "$size" -gt 20000 ] || fail "$2: screenshot of $size bytes: blank page?"
}
render "$TMP/out/report.html" report 5
grep -q "Campaigns of this model" "$TMP/dom-report.html" || fail "no comparison section"
grep -q "b-int8" "$TMP/dom-report.html" || fail "the other campaign is not compared"
render "$TMP/sweep/report.html" sweep 3
grep -q "Accuracy and loss" "$TMP/dom-sweep.html" || fail "sweep: no table section"
grep -q "fxp{integer:2,fraction:3}" "$TMP/dom-sweep.html" || fail "sweep: a format is missing"

if ! command -v python3 > /dev/null; then
    echo "test_report_browser: python3 missing: screenshots checked by size only"
    exit 0
fi
pixels() { # png, "heat" when the page has a heat map
    python3 - "$1" "$2" <<'EOF' || fail "screenshot $1 does not show the charts"
# Decode the PNG (8-bit RGB or RGBA, non-interlaced: what chromium writes) and count pixels.
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, hdr = 8, b"", None
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        hdr = struct.unpack(">IIBBBBB", body)
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
w, h, depth, ctype, _, _, interlace = hdr
assert depth == 8 and ctype in (2, 6) and interlace == 0, hdr
bpp = 3 if ctype == 2 else 4
raw, stride = zlib.decompress(idat), w * bpp
prev, counts = bytearray(stride), {}
for y in range(h):
    f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b, c = prev[i], prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    for x in range(0, stride, bpp):
        px = bytes(line[x:x + 3])
        counts[px] = counts.get(px, 0) + 1
    prev = line
bar, dark = counts.get(bytes((0x00, 0x72, 0xb2)), 0), 0
for px, n in counts.items():  # the heat map's top colours: dark reds
    if px[0] > 100 and px[1] < 40 and px[2] < 60:
        dark += n
top = max(counts.values())
print(f"screenshot {w}x{h}: {len(counts)} colours, bar-blue px {bar}, dark-red px {dark}, "
      f"most common colour {100 * top / (w * h):.1f}%")
assert len(counts) > 50 and top < 0.99 * w * h, "one flat colour"
assert bar > 2000, "no bars of the first series colour"
assert dark > 50 or sys.argv[2] != "heat", "no hot cells in the heat map"
EOF
}
pixels "$TMP/shot-report.png" heat
pixels "$TMP/shot-sweep.png" none
echo "test_report_browser: ok"

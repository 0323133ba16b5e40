#!/bin/sh
# A plugin written out of tree, against an installed copy: `meson install` into a temporary
# root, compile numsys/examples/lns.c with only `pkg-config --cflags aurum-numsys` (the
# installed header), drop it in AURUM_PLUGIN_PATH and use it by name from aurum.
# Usage: test_install.sh BUILD_DIR SOURCE_DIR
set -eu
BUILD=$1
SRC=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
meson install -C "$BUILD" --destdir "$T" --no-rebuild >"$T/install.log" 2>&1 ||
    { cat "$T/install.log"; exit 1; }
PC=$(find "$T" -name aurum-numsys.pc | head -n 1)
[ -n "$PC" ] || { echo "FAIL: aurum-numsys.pc was not installed"; exit 1; }
HDR=$(find "$T" -path '*/aurum/numsys.h' | head -n 1)
[ -n "$HDR" ] || { echo "FAIL: aurum/numsys.h was not installed"; exit 1; }
export PKG_CONFIG_PATH="$(dirname "$PC")" PKG_CONFIG_SYSROOT_DIR="$T"
CFLAGS=$(pkg-config --cflags aurum-numsys)
mkdir "$T/plugins"
# shellcheck disable=SC2086
cc -std=c11 -Wall -Wextra -Werror -shared -fPIC $CFLAGS "$SRC/numsys/examples/lns.c" \
    -o "$T/plugins/au_lns.so" -lm
AURUM="$BUILD/cli/aurum"
AURUM_PLUGIN_PATH="$T/plugins" "$AURUM" formats >"$T/formats.txt"
grep -q "lns" "$T/formats.txt" || { echo "FAIL: aurum formats does not list lns"; exit 1; }
AURUM_PLUGIN_PATH="$T/plugins" "$AURUM" formats show lns8 >"$T/show.txt"
AURUM_PLUGIN_PATH="$T/plugins" "$AURUM" quantize lns8 "$SRC/tests/data/npy/f32_2x3.npy" "$T/q.npy"
[ -s "$T/q.npy" ] || { echo "FAIL: quantize wrote nothing"; exit 1; }
# without the path, the format is unknown: the plugin really came from the install test
if "$AURUM" formats show lns8 >/dev/null 2>&1; then
    echo "FAIL: lns8 is known without AURUM_PLUGIN_PATH"
    exit 1
fi
echo "out-of-tree plugin built against the installed header and used by name: ok"

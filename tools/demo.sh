#!/bin/sh
# The demo: the golden profile of the bundled ResNet, then a fault campaign on it
# (campaigns/examples/demo-resnet.json) that writes out/demo.db, its per-layer summary, and
# the report in out/demo-report/.
# Builds first (release) if needed. Usage: tools/demo.sh [build-dir]
set -eu
cd "$(dirname "$0")/.."
B=${1:-build}
[ -f "$B/build.ninja" ] || meson setup "$B" --buildtype=release >/dev/null
ninja -C "$B" >/dev/null
A="$B/cli/aurum"
"$A" profile models/resnet.onnx --inputs models/data/fmnist_eval_x.npy \
    --labels models/data/fmnist_eval_y.npy --batch 64 | head -6
rm -f out/demo.db out/demo.db-wal out/demo.db-shm
"$A" run campaigns/examples/demo-resnet.json
echo
echo "Per-layer summary (mean delta-loss with its 99% t interval, mismatch rate with Wilson):"
sqlite3 -header -column out/demo.db "SELECT layer, n, printf('%.4f', mean_dloss) AS mean_dloss,
    printf('[%.4f, %.4f]', t_lo, t_hi) AS t_interval, printf('%.4f', mismatch_rate) AS mismatch,
    printf('[%.4f, %.4f]', wilson_lo, wilson_hi) AS wilson FROM layer_summary ORDER BY layer"
"$A" report out/demo.db --out out/demo-report
echo
echo "Results database: out/demo.db (schema and ready queries: docs/database.md)"
echo "Report: out/demo-report/report.html (and report.md, layers.csv, bits.csv, campaigns.csv)"

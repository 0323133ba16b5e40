#!/bin/sh
# Campaign speed on the bundled CNN and transformer (campaigns issue): for each model, a
# per-layer campaign of single-bit flips in every layer's output (one flip per image,
# TRIALS per layer, batch BATCH, one worker thread), by the fast path (resume from the
# faulty layer, early exit) and by the naive one (a full forward per batch of trials, as
# GoldenEye does); and the floor the per-trial cost is compared with: the mean over layers
# of running the network from that layer to the end, per sample (`aurum bench --resume`).
# Rates are trials per CPU-second of the trial phase (the machine may be shared).
# Usage: bench/models.sh [build-dir] [trials-per-layer] [batch]
set -eu
cd "$(dirname "$0")/.."
B=${1:-build}
TRIALS=${2:-256}
BATCH=${3:-32}
AURUM="$B/cli/aurum"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
X=$(realpath models/data/fmnist_eval_x.npy)
Y=$(realpath models/data/fmnist_eval_y.npy)

rate() { # $1 = campaign file, $2 = extra options; prints "trials rate"
    "$AURUM" run "$1" --jobs 1 --quiet $2 |
        sed -n 's/.*: \([0-9]*\) trials in the database.* \([0-9]*\) trials per CPU-second.*/\1 \2/p'
}

echo "| model | format | layers | trials | fast trials/CPU-s | naive trials/CPU-s | fast / naive | µs per trial | resume floor µs | per trial / floor |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for model in resnet vit; do
    M=$(realpath models/$model.onnx)
    floor=$("$AURUM" bench "$M" --batch "$BATCH" --runs 5 --resume |
        sed -n 's/^mean_resume_us_per_sample=\([0-9.]*\) layers=\([0-9]*\)/\1 \2/p')
    for fmt in fp32 fp16; do
        for mode in fast naive; do
            cat >"$TMP/$model-$fmt-$mode.json" <<JSON
{"name": "bench-$model-$fmt-$mode", "model": "$M",
 "data": {"inputs": "$X", "labels": "$Y", "only_correct": true},
 "batch": $BATCH, "formats": {"activations": "$fmt"},
 "targets": {"layers": ["*"], "tensors": ["activations"], "bits": ["data"]},
 "process": {"type": "per_layer", "flips": 1, "trials": $TRIALS},
 "seed": 1, "database": "$TMP/$model-$fmt-$mode.db"}
JSON
        done
        fast=$(rate "$TMP/$model-$fmt-fast.json" "")
        naive=$(rate "$TMP/$model-$fmt-naive.json" "--naive" | cut -d' ' -f2)
        layers=$(echo "$floor" | cut -d' ' -f2)
        awk -v m="$model" -v f="$fmt" -v l="$layers" -v t="${fast% *}" -v a="${fast#* }" -v v="$naive" \
            -v fl="$(echo "$floor" | cut -d' ' -f1)" 'BEGIN {
            us = 1e6 / a
            printf "| %s | %s | %d | %d | %d | %d | %.2fx | %.0f | %.0f | %.2fx |\n",
                m, f, l, t, a, v, a / v, us, fl, us / fl }'
    done
done

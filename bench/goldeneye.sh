#!/bin/sh
# GoldenEye's campaign (../shared/peers/goldeneye-benchmark.md) with Aurum, single thread:
# LeNet-5 on Fashion-MNIST, 2,560 single-bit activation flips per layer, one per image,
# batch 128, for each number format; injections per second of the fast path (resume from
# the faulty layer, early exit) and of the naive path (a full forward per batch), and the
# ratio to GoldenEye's measured rate. Prints a Markdown table (BENCHMARKS.md).
# Usage: bench/goldeneye.sh [build-dir] [model.onnx]
set -eu
cd "$(dirname "$0")/.."
B=${1:-build}
MODEL=$(realpath "${2:-../shared/peers/lenet5_fmnist.onnx}")
AURUM="$B/cli/aurum"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
X=$(realpath models/data/fmnist_eval_x.npy)
Y=$(realpath models/data/fmnist_eval_y.npy)

# name | format | bits | GoldenEye injections/s (distinct flips/s for metadata)
CONFIGS='fp32|fp32|data|5432
fp16|fp16|data|5300
int8 (static scale)|int{bits:8,scale_source:static}|data|4363
BFP e4m7|bfp{mantissa:7,exponent:4,granularity:tensor}|data|3610
BFP e4m7 metadata|bfp{mantissa:7,exponent:4,granularity:tensor}|metadata|55
AFP e4m3|afp{bits:8,exponent:4}|data|3838
AFP e8m7 metadata|afp{bits:16,exponent:8}|metadata|69
fp e5m10 stochastic|fp{exponent:5,mantissa:10,rounding:stochastic}|data|2624
fixed point 1+7+8|fxp{integer:7,fraction:8}|data|3286'

# Trials per second of the trial phase, by wall clock or (BENCH_CLOCK=cpu, for a shared
# machine) per CPU-second of the process; one worker thread either way. The median of
# BENCH_REPEAT runs (default 5, as GoldenEye's figures are), each on a fresh database.
rate1() { # $1 = campaign file, $2 = extra options
    rm -f "$TMP"/*.db "$TMP"/*.db-wal "$TMP"/*.db-shm
    out=$("$AURUM" run "$1" --jobs 1 --quiet $2)
    if [ "${BENCH_CLOCK:-wall}" = cpu ]; then
        echo "$out" | sed -n 's/.* \([0-9]*\) trials per CPU-second.*/\1/p'
    else
        echo "$out" | sed -n 's/.*s, \([0-9]*\) trials\/s,.*/\1/p'
    fi
}
rate() {
    for _ in $(seq "${BENCH_REPEAT:-5}"); do rate1 "$1" "$2"; done |
        sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

echo "| config | GoldenEye inj/s | Aurum inj/s | ratio | Aurum naive inj/s | fast / naive |"
echo "|---|---:|---:|---:|---:|---:|"
echo "$CONFIGS" | while IFS='|' read -r name fmt bits ge; do
    i=$(echo "$name" | tr -c 'a-zA-Z0-9' '_')
    for mode in fast naive; do
        cat >"$TMP/$i-$mode.json" <<JSON
{"name": "bench-$i-$mode", "model": "$MODEL",
 "data": {"inputs": "$X", "labels": "$Y", "only_correct": true},
 "batch": 128, "formats": {"activations": "$fmt"},
 "targets": {"layers": ["*"], "tensors": ["activations"], "bits": ["$bits"]},
 "process": {"type": "per_layer", "flips": 1, "trials": 2560},
 "seed": 1, "database": "$TMP/$i-$mode.db"}
JSON
    done
    fast=$(rate "$TMP/$i-fast.json" "")
    naive=$(rate "$TMP/$i-naive.json" "--naive")
    awk -v n="$name" -v g="$ge" -v f="$fast" -v v="$naive" 'BEGIN {
        printf "| %s | %d | %d | %.1fx | %d | %.2fx |\n", n, g, f, f / g, v, f / v }'
done

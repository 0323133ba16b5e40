#!/bin/sh
# The demo: profile the bundled ResNet on the bundled Fashion-MNIST evaluation set.
# Usage: tools/demo.sh [build-dir]
set -eu
cd "$(dirname "$0")/.."
B=${1:-build}
"$B/cli/aurum" inspect models/resnet.onnx --batch 64 | tail -4
"$B/cli/aurum" profile models/resnet.onnx --inputs models/data/fmnist_eval_x.npy \
    --labels models/data/fmnist_eval_y.npy --batch 64

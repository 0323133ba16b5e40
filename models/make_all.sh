#!/bin/sh
# Regenerate the bundled models, the eval sets, the reference logits, the json files and the
# README table. Trainings run one after another (2 shared cores); lenet5 goes first because it
# writes the shared image eval set. usage: models/make_all.sh [name ...]   (default: all five)
set -eu
cd "$(dirname "$0")"
PY=/usr/bin/python3
# Unbuffered so progress shows when logged; passive OpenMP waiting (see common.py).
export PYTHONUNBUFFERED=1 OMP_WAIT_POLICY=PASSIVE
names=${*:-"lenet5 resnet mobilenet vit charlm"}
for name in $names; do
    echo "== $name"
    $PY "train_$name.py"
done
$PY write_readme.py
du -sh . | sed 's/^/models total: /'

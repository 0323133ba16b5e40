#!/bin/bash
# End to end: a campaign whose activation format is the 'garbage' test plugin
# (tests/plugins/garbage.h) with each run-time defect. `aurum run` must stop with exit 1
# and a "plugin error" line naming the node, and record no trials: garbage is reported,
# never stored as results. defect 0 (the control) must run to completion.
# Usage: plugin_run.sh <aurum binary> <source root>; $AURUM_HOSTILE_PLUGIN_DIR holds au_garbage.so.
set -u
aurum=${1:?usage: plugin_run.sh aurum source_root}
root=${2:?usage: plugin_run.sh aurum source_root}
dir=${AURUM_HOSTILE_PLUGIN_DIR:?set AURUM_HOSTILE_PLUGIN_DIR to the tests/plugins build dir}
command -v sqlite3 >/dev/null || { echo "plugin_run: needs the sqlite3 shell"; exit 77; }
[ -f "$dir/au_garbage.so" ] || { echo "plugin_run: FAIL: no $dir/au_garbage.so" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/au_plugin_run.XXXXXX")
fail() {
    echo "plugin_run: FAIL: $* (files kept in $work)" >&2
    exit 1
}
export AURUM_PLUGIN_PATH=$dir
for defect in 0 1 2 3 4 5 6; do
    cat >"$work/camp.json" <<EOF2
{"name": "garbage-$defect", "model": "$root/models/lenet5.onnx",
 "data": {"inputs": "$root/models/data/fmnist_eval_x.npy",
          "labels": "$root/models/data/fmnist_eval_y.npy", "samples": 64, "only_correct": false},
 "seed": 1, "database": "$work/unused.db", "batch": 32,
 "formats": {"activations": "garbage{defect:$defect}"},
 "process": {"type": "per_layer", "flips": 1, "trials": 32}}
EOF2
    db=$work/g$defect.db
    "$aurum" run "$work/camp.json" --db "$db" --quiet >/dev/null 2>"$work/err"
    st=$?
    n=0
    [ -f "$db" ] && n=$(sqlite3 "$db" "SELECT count(*) FROM trials" 2>/dev/null || echo 0)
    if [ "$defect" = 0 ]; then
        [ "$st" -eq 0 ] || fail "control run failed: $(tail -1 "$work/err")"
        [ "$n" -gt 0 ] || fail "control run recorded no trials"
        continue
    fi
    line=$(grep -E "plugin" "$work/err" | grep -v "ABI\|already loaded\|shadowed" | tail -1)
    [ "$st" -eq 1 ] || fail "defect $defect: exit $st, expected 1"
    # one line naming the node and the plugin's own complaint (what it returned)
    case $line in aurum:*"node '"*"garbage: "*) ;; *) fail "defect $defect: message: $line" ;; esac
    [ "$n" = 0 ] || fail "defect $defect: $n trials recorded from a lying plugin"
    echo "plugin_run: defect $defect: $line"
done
rm -rf "$work"

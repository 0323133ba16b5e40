#!/bin/bash
# AURUM_MEMORY_LIMIT end to end: `aurum run` with a cap below what LeNet-5's activations
# need must stop with exit 1 and one "out of memory" line naming the model, before any
# trial is stored; with a cap above it the same campaign completes. A bad value is
# ignored by the allocator (the CLI reports it when it calls au_alloc_limit_from_env).
# Usage: memlimit_cli.sh <aurum binary> <source root>
set -u
aurum=${1:?usage: memlimit_cli.sh aurum source_root}
root=${2:?usage: memlimit_cli.sh aurum source_root}
work=$(mktemp -d "${TMPDIR:-/tmp}/au_memlimit.XXXXXX")
fail() {
    echo "memlimit_cli: FAIL: $* (files kept in $work)" >&2
    exit 1
}
cat >"$work/camp.json" <<EOF
{"name": "memlimit", "model": "$root/models/lenet5.onnx",
 "data": {"inputs": "$root/models/data/fmnist_eval_x.npy",
          "labels": "$root/models/data/fmnist_eval_y.npy", "samples": 256, "only_correct": false},
 "seed": 1, "database": "$work/unused.db", "batch": 256,
 "process": {"type": "per_layer", "flips": 1, "trials": 32}}
EOF
for cap in 64K 1M; do
    AURUM_MEMORY_LIMIT=$cap "$aurum" run "$work/camp.json" --db "$work/$cap.db" --quiet \
        >/dev/null 2>"$work/err"
    st=$?
    [ "$st" -eq 1 ] || fail "cap $cap: exit $st, expected 1: $(cat "$work/err")"
    [ "$(wc -l <"$work/err")" -eq 1 ] || fail "cap $cap: not one line: $(cat "$work/err")"
    grep -qE "^aurum: .*lenet5.onnx: out of memory" "$work/err" || fail "cap $cap: $(cat "$work/err")"
    if [ -f "$work/$cap.db" ]; then
        n=$(sqlite3 "$work/$cap.db" "SELECT count(*) FROM trials" 2>/dev/null || echo 0)
        [ "$n" = 0 ] || fail "cap $cap: $n trials stored"
    fi
    echo "memlimit_cli: cap $cap: $(cat "$work/err")"
done
AURUM_MEMORY_LIMIT=256M "$aurum" run "$work/camp.json" --db "$work/ok.db" --quiet >/dev/null \
    2>"$work/err" || fail "cap 256M: $(tail -1 "$work/err")"
# a typo must not silently lift the cap: one line naming the variable, exit 2, no database
if AURUM_MEMORY_LIMIT=lots "$aurum" run "$work/camp.json" --db "$work/bad.db" --quiet \
    >/dev/null 2>"$work/err"; then
    fail "a bad AURUM_MEMORY_LIMIT was accepted"
fi
grep -q "AURUM_MEMORY_LIMIT: 'lots'" "$work/err" || fail "bad value: $(tail -1 "$work/err")"
[ "$(wc -l < "$work/err")" -eq 1 ] || fail "bad value: more than one line"
[ ! -e "$work/bad.db" ] || fail "bad value: a database was written"
echo "memlimit_cli: cap 256M completes; 'lots' is one error line"
rm -rf "$work"

#!/bin/sh
# Every ```sql block of docs/database.md, run with `aurum query --csv` against a small
# results database that has what the queries ask about: a per-layer LeNet-5 campaign named
# lenet-fp16 (the name the queries use) whose exponent flips give NaN trials, and a
# conditioned model-wide Poisson campaign (the E[L] query). Each block must run without
# error and return at least one row, so a renamed column or view in the store, or a typo
# in the docs, fails here. The blocks are counted, so a change of fence style cannot make
# the test pass by finding none.
set -eu

: "${AURUM_CLI:?AURUM_CLI must point to the aurum executable}"
ROOT=${AURUM_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
DOC=$ROOT/docs/database.md
TMP=$(mktemp -d /tmp/aurum-test-dbsql-XXXXXX)
trap 'rm -rf "$TMP"' EXIT
fail() {
    echo "test_database_sql: FAIL: $*" >&2
    exit 1
}
[ -r "$DOC" ] || fail "$DOC not readable"

campaign() { # name, rest of the JSON object
    cat > "$TMP/$1.json" <<EOF
{"name": "$1", "model": "$ROOT/models/lenet5.onnx",
 "data": {"inputs": "$ROOT/models/data/fmnist_eval_x.npy",
          "labels": "$ROOT/models/data/fmnist_eval_y.npy", "samples": 100},
 "batch": 32, $2}
EOF
    "$AURUM_CLI" run "$TMP/$1.json" --db "$TMP/results.db" --quiet > "$TMP/run-$1.txt" 2>&1 ||
        fail "aurum run $1: $(cat "$TMP/run-$1.txt")"
}
campaign lenet-fp16 '"formats": {"activations": "fp16", "weights": "fp16"},
 "targets": {"layers": ["*"], "tensors": ["activations", "weights"], "bits": ["data"],
             "fields": ["exponent", "sign"]},
 "process": {"type": "per_layer", "flips": 1, "trials": 40}, "seed": 5'
campaign lenet-poisson '"formats": {"activations": "fp16"},
 "process": {"type": "poisson", "rate": 1e-6, "timing": "model_wide", "time": 1.0,
             "condition_on_fault": true, "trials": 60}, "seed": 6'
n_nan=$("$AURUM_CLI" query "$TMP/results.db" --csv \
    "SELECT count(*) FROM trials WHERE outcome = 'nonfinite'" | tail -1)
[ "$n_nan" -gt 0 ] || fail "the fixture has no NaN trial (the NaN query would prove nothing)"

# Split the fenced sql blocks into q1.sql, q2.sql, ...
awk -v dir="$TMP" '
    /^```sql[ \t]*$/ { inside = 1; n++; file = dir "/q" n ".sql"; printf "" > file; next }
    /^```/ { inside = 0; next }
    inside { print >> file }
    END { print n > (dir "/count") }' "$DOC"
n_blocks=$(cat "$TMP/count")
[ "$n_blocks" -ge 8 ] || fail "found $n_blocks sql blocks in $DOC, expected at least 8"

i=1
while [ "$i" -le "$n_blocks" ]; do
    q="$TMP/q$i.sql"
    first=$(grep -m1 . "$q" | cut -c1-60)
    if ! "$AURUM_CLI" query "$TMP/results.db" "$(cat "$q")" --csv > "$TMP/out$i.csv" 2>&1; then
        fail "block $i ($first...): $(cat "$TMP/out$i.csv")"
    fi
    rows=$(($(wc -l < "$TMP/out$i.csv") - 1))
    [ "$rows" -ge 1 ] || fail "block $i ($first...) returned no rows"
    echo "block $i: $rows rows: $first"
    i=$((i + 1))
done
echo "test_database_sql: ok ($n_blocks blocks, $n_nan NaN trials in the fixture)"

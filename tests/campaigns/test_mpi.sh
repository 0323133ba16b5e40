#!/bin/sh
# MPI scale-out end to end on the bundled LeNet-5 (campaigns/mpi.c): `mpirun -np 3 aurum run`
# must write the trial and flip rows of a single-process run, for a per-layer campaign, a
# model-wide Poisson one (shared runs, solo weight runs, metadata flips) and one that stops
# on its confidence intervals (same stop point per layer). Resume: a run stopped after two
# units, and a run whose rank 1 is killed mid-way, each rerun under mpirun, end equal to the
# single run. A campaign that cannot load gives one error line from rank 0, not three; so
# does a setup failure on another rank, and ranks given another campaign are refused.
# Skipped (77) without mpirun or without an MPI build.
set -eu

: "${AURUM_CLI:?AURUM_CLI must point to the aurum executable}"
if [ "${AURUM_MPI:-0}" != 1 ]; then
    echo "test_mpi: skipped: this build has no MPI (apt-get install libopenmpi-dev, reconfigure)"
    exit 77
fi
if ! command -v mpirun >/dev/null 2>&1; then
    echo "test_mpi: skipped: mpirun not found (apt-get install openmpi-bin)"
    exit 77
fi
if ! command -v sqlite3 >/dev/null 2>&1; then
    echo "test_mpi: skipped: sqlite3 not found (apt-get install sqlite3)"
    exit 77
fi
ROOT=${AURUM_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
TMP=$(mktemp -d /tmp/aurum-test-mpi-XXXXXX)
MPIPID=
trap '[ -n "$MPIPID" ] && kill -9 "$MPIPID" 2>/dev/null; rm -rf "$TMP"' EXIT
fail() {
    echo "test_mpi: FAIL: $*" >&2
    exit 1
}
# loopback only, and quiet about the missing high-speed transports of a container
MPIRUN="mpirun --allow-run-as-root --oversubscribe --mca btl self,vader,tcp --mca btl_tcp_if_include lo"
export OMPI_MCA_btl_base_warn_component_unused=0
# Under ASan: the first mpirun checks leaks with OpenMPI's own suppressed (full unwinding is
# slow: ~30 s for that run); the others check memory errors only.
MPIRUN_LEAK=$MPIRUN
if [ "${AURUM_ASAN:-0}" = 1 ]; then
    export LSAN_OPTIONS="suppressions=$ROOT/tests/campaigns/lsan-openmpi.supp:print_suppressions=0"
    export OMPI_MCA_mca_base_component_disable_dlclose=1
    MPIRUN_LEAK="env ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0 $MPIRUN"
    MPIRUN="env ASAN_OPTIONS=detect_leaks=0 $MPIRUN"
fi

# campaign name, "process" JSON, extra fields
campaign() {
    cat > "$TMP/$1.json" <<EOF
{"name": "$1", "model": "$ROOT/models/lenet5.onnx",
 "data": {"inputs": "$ROOT/models/data/fmnist_eval_x.npy",
          "labels": "$ROOT/models/data/fmnist_eval_y.npy", "samples": 300, "only_correct": true},
 "seed": 5, "database": "$TMP/$1.db", "batch": 32, "process": $2 $3}
EOF
}

# Every trial and flip row as text, in key order (the comparison of test_merge.c).
digest() {
    sqlite3 "$1" "SELECT trial, layer, tensor_kind, bit_kind, n_flips, sample, n_samples,
        quote(loss), quote(delta_loss), quote(mismatch), outcome, detected FROM trials
        ORDER BY trial;
        SELECT trial, seq, layer, tensor_kind, is_meta, idx, bit, field, quote(value_before),
        quote(value_after) FROM flips ORDER BY trial, seq;
        SELECT status, stop_reason FROM campaigns;
        SELECT * FROM layers ORDER BY layer; SELECT * FROM golden ORDER BY sample"
}

count() {
    sqlite3 "$1" "SELECT count(*) FROM trials" 2>/dev/null || echo 0
}

single() { # name: the reference database, one process
    "$AURUM_CLI" run "$TMP/$1.json" --quiet --jobs 2 --db "$TMP/$1-single.db" >/dev/null ||
        fail "$1: single-process run failed"
}

same() { # name, database
    digest "$TMP/$1-single.db" > "$TMP/a.txt"
    digest "$2" > "$TMP/b.txt"
    [ "$(wc -l < "$TMP/a.txt")" -gt 100 ] || fail "$1: too few rows to compare"
    cmp -s "$TMP/a.txt" "$TMP/b.txt" || {
        diff "$TMP/a.txt" "$TMP/b.txt" | head -5 >&2
        fail "$1: $2 differs from the single-process database"
    }
}

# 1. per-layer campaign (10 targets, 6 units): rows, and the summary's MPI line
campaign layers '{"type": "per_layer", "flips": 1, "trials": 192}' \
    ', "formats": {"activations": "fp16", "weights": "fp16"}'
single layers
$MPIRUN_LEAK -np 3 "$AURUM_CLI" run "$TMP/layers.json" --quiet --db "$TMP/layers-mpi.db" \
    > "$TMP/out.txt" 2> "$TMP/err.txt" || { cat "$TMP/err.txt" >&2; fail "layers: mpirun failed"; }
same layers "$TMP/layers-mpi.db"
[ "$(grep -c 'trials in the database' "$TMP/out.txt")" = 1 ] || fail "layers: summary not printed once"
grep -q '^mpi: 3 ranks, [1-9][0-9]* units by the other ranks' "$TMP/out.txt" ||
    fail "layers: no MPI line or no unit computed remotely: $(cat "$TMP/out.txt")"

# 2. model-wide Poisson, BFP8 with metadata flips (field names re-derived on rank 0): the
# activation faults share runs, the weight faults run alone on the batch-1 twin. (Both at
# once are left out: au_graph_run_from skips a faulted node whose inputs are clean, so such
# a campaign differs between --jobs 1 and --jobs 3 even in one process; see docs/scaling.md.)
for t in activations weights; do
    campaign "poisson-$t" '{"type": "poisson", "rate": 3e-06, "rates": [{"bits": "metadata",
        "rate": 1e-06}], "timing": "model_wide", "time": 1.0, "condition_on_fault": true,
        "trials": 1024}' ', "formats": {"weights": "bfp8", "activations": "bfp8"},
         "targets": {"tensors": ["'$t'"], "bits": ["data", "metadata"]}'
    single "poisson-$t"
    $MPIRUN -np 3 "$AURUM_CLI" run "$TMP/poisson-$t.json" --quiet --db "$TMP/poisson-mpi.db" \
        > /dev/null 2> "$TMP/err.txt" || { cat "$TMP/err.txt" >&2; fail "poisson-$t: mpirun failed"; }
    same "poisson-$t" "$TMP/poisson-mpi.db"
    [ "$(sqlite3 "$TMP/poisson-mpi.db" "SELECT count(*) FROM flips WHERE is_meta = 1 AND
        field IS NOT NULL")" -gt 0 ] || fail "poisson-$t: no metadata flip with a field name"
    rm -f "$TMP/poisson-mpi.db"*
done

# 3. CI stopping: each layer stops at the same unit as in the single run
campaign ci '{"type": "per_layer", "flips": 1}' \
    ', "formats": {"weights": "bf16", "activations": "bf16"},
     "targets": {"tensors": ["activations"], "bits": ["data"], "fields": ["exponent"]},
     "stop": {"type": "ci", "metric": "mismatch", "confidence": 0.95, "half_width": 0.04,
              "min_trials": 64, "max_trials": 4096}'
single ci
$MPIRUN -np 3 "$AURUM_CLI" run "$TMP/ci.json" --quiet --db "$TMP/ci-mpi.db" \
    > /dev/null 2> "$TMP/err.txt" || { cat "$TMP/err.txt" >&2; fail "ci: mpirun failed"; }
same ci "$TMP/ci-mpi.db"
per_layer=$(sqlite3 "$TMP/ci-single.db" "SELECT count(DISTINCT n) FROM
    (SELECT layer, count(*) AS n FROM trials GROUP BY layer)")
[ "$per_layer" -gt 1 ] || fail "ci: every layer stopped at the same count; the test shows nothing"
grep -q 'confidence' "$TMP/b.txt" || fail "ci: the MPI run did not stop on its intervals"

# 4. resume (300 units; 50 under ASan): stopped after 2 units (the units already finished are committed
# too), rerun; the summary says interrupted, then complete
big=9600 # ASan is ~10x slower: a smaller campaign still outlives the kill below
[ "${AURUM_ASAN:-0}" = 1 ] && big=1600
campaign big '{"type": "per_layer", "flips": 1, "trials": '$big'}' \
    ', "formats": {"activations": "fp16", "weights": "fp16"}'
single big
total=$(count "$TMP/big-single.db")
$MPIRUN -np 3 "$AURUM_CLI" run "$TMP/big.json" --quiet --db "$TMP/resume.db" \
    --stop-after-units 2 > "$TMP/out.txt" 2> /dev/null && fail "resume: a stopped run exits 0"
grep -q 'interrupted' "$TMP/out.txt" || fail "resume: no 'interrupted' in the summary"
n=$(count "$TMP/resume.db")
[ "$n" -gt 0 ] && [ "$n" -lt "$total" ] || fail "resume: $n trials after stopping at 2 units"
$MPIRUN -np 3 "$AURUM_CLI" run "$TMP/big.json" --quiet --db "$TMP/resume.db" \
    > "$TMP/out.txt" 2> "$TMP/err.txt" || { cat "$TMP/err.txt" >&2; fail "resume: rerun failed"; }
grep -q "($((total - n)) run now" "$TMP/out.txt" ||
    fail "resume: the rerun did not run exactly the $((total - n)) missing trials: $(cat "$TMP/out.txt")"
same big "$TMP/resume.db"

# 5. rank 1 killed mid-run: committed units stay, the rerun completes the same database
$MPIRUN -np 3 "$AURUM_CLI" run "$TMP/big.json" --quiet --db "$TMP/kill.db" \
    > /dev/null 2>&1 &
MPIPID=$!
i=0
while [ "$(count "$TMP/kill.db")" -lt 1 ] && [ $i -lt 600 ]; do
    sleep 0.05
    i=$((i + 1))
done
victim=
for p in $(pgrep -P "$MPIPID" || true); do
    tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=1 && victim=$p
done
[ -n "$victim" ] || fail "kill: rank 1 not found among mpirun's children"
kill -9 "$victim"
if wait "$MPIPID"; then fail "kill: mpirun exited 0 after rank 1 was killed"; fi
MPIPID=
n=$(count "$TMP/kill.db")
[ "$n" -lt "$total" ] || fail "kill: the run finished before rank 1 was killed"
$MPIRUN -np 3 "$AURUM_CLI" run "$TMP/big.json" --quiet --db "$TMP/kill.db" \
    > "$TMP/out.txt" 2> "$TMP/err.txt" || { cat "$TMP/err.txt" >&2; fail "kill: rerun failed"; }
same big "$TMP/kill.db"
echo "test_mpi: killed rank 1 with $n of $total trials committed; the rerun completed it"

# 6. a campaign that does not load: one line from rank 0, exit status 1
campaign bad '{"type": "per_layer", "flips": 1, "trials": 32}' ', "formats": {"weights": "fp99"}'
if $MPIRUN -np 3 "$AURUM_CLI" run "$TMP/bad.json" --quiet > "$TMP/out.txt" 2> "$TMP/err.txt"; then
    fail "bad: exit status 0"
fi
[ "$(grep -c '^aurum: ' "$TMP/err.txt")" = 1 ] ||
    fail "bad: expected one error line: $(cat "$TMP/err.txt")"
grep -q 'fp99' "$TMP/err.txt" || fail "bad: the error does not name the format: $(cat "$TMP/err.txt")"
# 7. another rank fails its setup (memory cap on ranks 1-2 only): rank 0 names it, once
$MPIRUN -np 1 "$AURUM_CLI" run "$TMP/layers.json" --quiet --db "$TMP/cap.db" : \
    -np 2 env AURUM_MEMORY_LIMIT=64K "$AURUM_CLI" run "$TMP/layers.json" --quiet \
    --db "$TMP/cap.db" > "$TMP/out.txt" 2> "$TMP/err.txt" && fail "cap: exit status 0"
[ "$(grep -c '^aurum: ' "$TMP/err.txt")" = 1 ] || fail "cap: expected one error line: $(cat "$TMP/err.txt")"
grep -q '^aurum: rank [12]: .*lenet5.onnx: out of memory' "$TMP/err.txt" ||
    fail "cap: the error does not name the rank and the file: $(cat "$TMP/err.txt")"
[ "$(count "$TMP/cap.db")" = 0 ] || fail "cap: trials were written"

# 8. ranks 1-2 run another campaign file (other seed): refused before any unit
sed 's/"seed": 5/"seed": 6/' "$TMP/layers.json" > "$TMP/other.json"
$MPIRUN -np 1 "$AURUM_CLI" run "$TMP/layers.json" --quiet --db "$TMP/other.db" : \
    -np 2 "$AURUM_CLI" run "$TMP/other.json" --quiet --db "$TMP/other.db" \
    > "$TMP/out.txt" 2> "$TMP/err.txt" && fail "other: exit status 0"
grep -q "^aurum: rank [12]: its plan, data or golden run differs from rank 0's" "$TMP/err.txt" ||
    fail "other: no fingerprint refusal: $(cat "$TMP/err.txt")"
[ "$(count "$TMP/other.db")" = 0 ] || fail "other: trials were written"
echo "test_mpi: ok"

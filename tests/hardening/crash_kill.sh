#!/bin/bash
# Crash safety of `aurum run`: SIGKILL at >= 50 random points of one campaign, each
# kill followed by a rerun that resumes. After every kill the database must pass
# PRAGMA integrity_check, every trial row committed before must still be there unchanged
# (committed trials never lost, rewritten or duplicated), and each trial must have all its
# flips (batches are atomic). The finished, resumed database must hold exactly the rows of
# an uninterrupted run. Checks use the sqlite3 shell, so they read the file as a user would.
# Usage: crash_kill.sh <aurum binary> <source root> [kills]; AURUM_TEST_SEED seeds the delays.
set -u
aurum=${1:?usage: crash_kill.sh aurum source_root [kills]}
root=${2:?usage: crash_kill.sh aurum source_root [kills]}
# Under AddressSanitizer (10x slower) a smaller campaign and 8 kills check that resume is
# clean there; the 50 kills run in the release build.
if [ "${AURUM_ASAN:-0}" = 1 ]; then
    want_kills=${3:-8} per_layer=960
else
    want_kills=${3:-50} per_layer=4800
fi
seed=${AURUM_TEST_SEED:-12345}
RANDOM=$((seed % 32768))
command -v sqlite3 >/dev/null || { echo "crash_kill: needs the sqlite3 shell (tools/install-deps.sh)"; exit 77; }
. "$root/tests/hardening/lib.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/au_crash_kill.XXXXXX")
fail() {
    echo "crash_kill: FAIL: $* (seed $seed, files kept in $work)" >&2
    exit 1
}

# 48,000 single-flip trials on LeNet-5 (seconds with 2 workers): long enough that 50 kills
# with delays of 0.1-0.7 s land inside it, from the golden run to the last commits. Should
# a run finish between kills (fast machine), the next kills start a new database (round).
lenet_campaign "$work/camp.json" crash-kill 5 "$per_layer"

start=$(date +%s)
"$aurum" run "$work/camp.json" --db "$work/ref.db" --jobs 2 --quiet >/dev/null 2>"$work/ref.log" ||
    fail "reference run failed: $(tail -1 "$work/ref.log")"
trial_rows "$work/ref.db" >"$work/ref.trials"
flip_rows "$work/ref.db" >"$work/ref.flips"
n_ref=$(wc -l <"$work/ref.trials")
[ "$n_ref" -eq $((per_layer * 10)) ] ||
    fail "reference has $n_ref trials, expected $((per_layer * 10))" # 5 layers x 2 tensors

# A finished database must hold exactly the reference rows.
check_done() {
    trial_rows "$db" | cmp -s - "$work/ref.trials" || fail "$1: trials differ from the reference"
    flip_rows "$db" | cmp -s - "$work/ref.flips" || fail "$1: flips differ from the reference"
    status=$(q "$db" "SELECT status FROM campaigns")
    [ "$status" = "done" ] || fail "$1: campaign status '$status' after the last run"
    [ "$(q "$db" "PRAGMA integrity_check")" = "ok" ] || fail "$1: integrity_check"
}

rounds=1
db=$work/killed$rounds.db
: >"$work/prev.trials"
kills=0 runs=0 grew=0
while [ "$kills" -lt "$want_kills" ]; do
    runs=$((runs + 1))
    ms=$((100 + RANDOM % 600))
    delay=$(printf '0.%03d' "$ms")
    jobs=$((1 + RANDOM % 2))
    "$aurum" run "$work/camp.json" --db "$db" --jobs "$jobs" --quiet >/dev/null 2>>"$work/runs.log" &
    pid=$!
    sleep "$delay"
    kill -KILL "$pid" 2>/dev/null
    { wait "$pid"; } 2>/dev/null # no "Killed" line from the shell
    st=$?
    case $st in
    137) kills=$((kills + 1)) ;;
    0)
        # Finished between two kills (a fast machine): check it and start a new round.
        check_done "round $rounds"
        rounds=$((rounds + 1))
        db=$work/killed$rounds.db
        : >"$work/prev.trials"
        continue
        ;;
    *) fail "run $runs exited with $st before the kill: $(tail -1 "$work/runs.log")" ;;
    esac
    [ -f "$db" ] || continue # killed before the file was created
    ok=$(q "$db" "PRAGMA integrity_check" 2>&1)
    [ "$ok" = "ok" ] || fail "kill $kills (after ${delay}s): integrity_check says: $ok"
    if [ "$(q "$db" "SELECT count(*) FROM sqlite_master WHERE name = 'trials'")" = 0 ]; then
        # Killed while creating the schema: that transaction must have left nothing.
        [ ! -s "$work/prev.trials" ] || fail "kill $kills: the trials table disappeared"
        n_obj=$(q "$db" "SELECT count(*) FROM sqlite_master")
        [ "$n_obj" = 0 ] || fail "kill $kills: a half-created schema ($n_obj objects)"
        continue
    fi
    trial_rows "$db" >"$work/cur.trials" || fail "kill $kills: cannot read trials"
    lost=$(sort "$work/prev.trials" | comm -23 - <(sort "$work/cur.trials") | head -3)
    [ -z "$lost" ] || fail "kill $kills: committed trial rows lost or changed: $lost"
    dup=$(q "$db" "SELECT count(*) FROM (SELECT 1 FROM trials GROUP BY campaign, trial
                   HAVING count(*) > 1)")
    [ "$dup" = "0" ] || fail "kill $kills: $dup duplicated trial ids"
    torn=$(q "$db" "SELECT count(*) FROM trials t WHERE n_flips != (SELECT count(*) FROM flips f
                    WHERE f.campaign = t.campaign AND f.trial = t.trial)")
    [ "$torn" = "0" ] || fail "kill $kills: $torn trials without all their flips (torn batch)"
    n_camp=$(q "$db" "SELECT count(*) FROM campaigns")
    # killed between the schema's transaction and the campaign's: no row yet is fine
    if [ -s "$work/cur.trials" ]; then
        [ "$n_camp" = "1" ] || fail "kill $kills: $n_camp campaign rows, expected 1"
    else
        [ "$n_camp" -le 1 ] || fail "kill $kills: $n_camp campaign rows, expected at most 1"
    fi
    [ "$(wc -l <"$work/cur.trials")" -gt "$(wc -l <"$work/prev.trials")" ] && grew=$((grew + 1))
    mv "$work/cur.trials" "$work/prev.trials"
done
n_before=$(wc -l <"$work/prev.trials")

"$aurum" run "$work/camp.json" --db "$db" --jobs 2 --quiet >/dev/null 2>"$work/final.log" ||
    fail "final resume failed: $(tail -1 "$work/final.log")"
check_done "final resume"
echo "crash_kill: $kills SIGKILLs in $runs runs over $rounds round(s) ($grew after new commits), $n_before of $n_ref" \
    "trials committed before the final resume; resumed rows equal the reference" \
    "($(($(date +%s) - start)) s)"
rm -rf "$work"

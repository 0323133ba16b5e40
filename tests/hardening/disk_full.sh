#!/bin/bash
# `aurum run` when the database cannot be written: a full disk (a tiny tmpfs: ENOSPC, so
# SQLITE_FULL), a file-size limit (ulimit -f: EFBIG, an I/O error, no root needed) and a
# read-only file system. Each must end with one clear line naming the database, a non-zero
# exit that is not a crash, committed rows intact (all of them rows of the reference run,
# no trial missing a flip) and integrity_check ok; a rerun once there is room (or write
# access) must resume to exactly the reference rows. tmpfs mounts need root: without it
# those parts are skipped with a message and only the ulimit part runs.
# Usage: disk_full.sh <aurum binary> <source root>
set -u
aurum=${1:?usage: disk_full.sh aurum source_root}
root=${2:?usage: disk_full.sh aurum source_root}
command -v sqlite3 >/dev/null || { echo "disk_full: needs the sqlite3 shell (tools/install-deps.sh)"; exit 77; }
. "$root/tests/hardening/lib.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/au_disk_full.XXXXXX")
mnt=$work/mnt
mkdir -p "$mnt"
mounted=0
cleanup() {
    [ "$mounted" = 1 ] && umount "$mnt" 2>/dev/null
}
trap cleanup EXIT
fail() {
    echo "disk_full: FAIL: $* (files kept in $work)" >&2
    exit 1
}

# 4,800 single-flip trials on LeNet-5, 15 units: a database of about 600 KB.
lenet_campaign "$work/camp.json" disk-full 7 480

run() { # db jobs [extra args]: exit status of aurum run, stderr in $work/err
    local db=$1 jobs=$2
    shift 2
    "$aurum" run "$work/camp.json" --db "$db" --jobs "$jobs" --quiet "$@" >/dev/null 2>"$work/err"
}

run "$work/ref.db" 2 || fail "reference run failed: $(tail -1 "$work/err")"
trial_rows "$work/ref.db" | sort >"$work/ref.trials.sorted"
trial_rows "$work/ref.db" >"$work/ref.trials"
flip_rows "$work/ref.db" >"$work/ref.flips"
ref_bytes=$(stat -c %s "$work/ref.db")

# The failed run's line: one "aurum: ..." line naming the database and matching $2.
check_error() { # what status pattern
    local what=$1 st=$2 pat=$3 line
    [ "$st" -ne 0 ] || fail "$what: the run succeeded"
    [ "$st" -lt 128 ] || fail "$what: the run died with signal $((st - 128))"
    line=$(grep -E "$pat" "$work/err" | head -1)
    [ -n "$line" ] || fail "$what: no message matching '$pat' in: $(cat "$work/err")"
    case $line in aurum:*"$(basename "$4")"*) ;; *) fail "$what: message does not name the db: $line" ;; esac
    echo "disk_full: $what: exit $st, \"$line\""
}

# Committed rows after a failure: a consistent file whose trials are all reference rows.
check_partial() { # what db min_trials
    local what=$1 db=$2 ok extra torn n
    ok=$(q "$db" "PRAGMA integrity_check" 2>&1)
    [ "$ok" = "ok" ] || fail "$what: integrity_check says: $ok"
    trial_rows "$db" | sort >"$work/part.sorted"
    extra=$(comm -23 "$work/part.sorted" "$work/ref.trials.sorted" | head -3)
    [ -z "$extra" ] || fail "$what: rows that are not the reference's: $extra"
    torn=$(q "$db" "SELECT count(*) FROM trials t WHERE n_flips != (SELECT count(*) FROM flips f
                    WHERE f.campaign = t.campaign AND f.trial = t.trial)")
    [ "$torn" = "0" ] || fail "$what: $torn trials without all their flips"
    n=$(wc -l <"$work/part.sorted")
    [ "$n" -ge "$3" ] || fail "$what: only $n trials committed, expected at least $3"
    echo "disk_full: $what: $n trials committed and intact"
}

check_resumed() { # what db
    run "$2" 2 || fail "$1: rerun failed: $(tail -1 "$work/err")"
    trial_rows "$2" | cmp -s - "$work/ref.trials" || fail "$1: resumed trials differ from the reference"
    flip_rows "$2" | cmp -s - "$work/ref.flips" || fail "$1: resumed flips differ from the reference"
    [ "$(q "$2" "SELECT status FROM campaigns")" = "done" ] || fail "$1: campaign not done"
    echo "disk_full: $1: rerun resumed to the reference rows"
}

# 1. File-size limit (any user): EFBIG on the WAL or the database file.
db=$work/fsize.db
limit_kb=$((ref_bytes / 1024 / 3))
(
    ulimit -f "$limit_kb"
    trap '' XFSZ # a write past the limit then fails with EFBIG instead of killing us
    run "$db" 1
)
st=$?
check_error "ulimit -f ${limit_kb}K" "$st" "I/O|full|space|write" "$db"
check_partial "ulimit -f ${limit_kb}K" "$db" 1
check_resumed "ulimit -f ${limit_kb}K" "$db"

# 2. A full file system, then the same file system with room.
if ! mount -t tmpfs -o size=$((ref_bytes / 2 / 4096 * 4096)) tmpfs "$mnt" 2>/dev/null; then
    echo "disk_full: SKIP tmpfs parts: cannot mount a tmpfs (needs root); the ulimit part passed"
    rm -rf "$work"
    exit 0
fi
mounted=1
db=$mnt/full.db
run "$db" 1
st=$?
check_error "tmpfs of $((ref_bytes / 2 / 1024)) KB" "$st" "full|space" "$db"
mount -o remount,size=16m "$mnt" || fail "cannot grow the tmpfs"
check_partial "full tmpfs" "$db" 1
check_resumed "full tmpfs" "$db"

# 3. Read-only: part of the campaign, then the file system turns read-only.
db=$mnt/ro.db
run "$db" 1 --stop-after-units 3
[ $? -eq 130 ] || fail "read-only setup: --stop-after-units did not stop: $(tail -1 "$work/err")"
trial_rows "$db" >"$work/ro.before"
mount -o remount,ro "$mnt" || fail "cannot remount the tmpfs read-only"
run "$db" 1
st=$?
check_error "read-only file system" "$st" "read-only|readonly|write" "$db"
# A WAL database on a read-only file system opens only as immutable (its WAL is gone:
# the stopped run checkpointed it), which is also what a user reading results would do.
trial_rows "file:$db?immutable=1" | cmp -s - "$work/ro.before" ||
    fail "read-only: committed rows changed"
mount -o remount,rw "$mnt" || fail "cannot remount the tmpfs read-write"
check_partial "read-only" "$db" 960
check_resumed "read-only" "$db"
rm -rf "$mnt"/*
umount "$mnt" && mounted=0
rm -rf "$work"

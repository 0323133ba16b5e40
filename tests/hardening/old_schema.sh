#!/bin/bash
# Databases Aurum did not write with its current schema: an older, missing or garbled
# schema_version, a newer one, and a foreign SQLite file. `aurum run` (read-write) and
# `aurum query` (read-only) must each refuse with one line naming the file, exit non-zero
# without a crash, and leave the file unchanged: never read it as if it were current,
# never switch its journal mode or "upgrade" it in place silently.
# Usage: old_schema.sh <aurum binary> <source root>
set -u
aurum=${1:?usage: old_schema.sh aurum source_root}
root=${2:?usage: old_schema.sh aurum source_root}
command -v sqlite3 >/dev/null || { echo "old_schema: needs the sqlite3 shell (tools/install-deps.sh)"; exit 77; }
work=$(mktemp -d "${TMPDIR:-/tmp}/au_old_schema.XXXXXX")
fail() {
    echo "old_schema: FAIL: $* (files kept in $work)" >&2
    exit 1
}
cat >"$work/camp.json" <<EOF
{"name": "schema", "model": "$root/models/lenet5.onnx",
 "data": {"inputs": "$root/models/data/fmnist_eval_x.npy",
          "labels": "$root/models/data/fmnist_eval_y.npy", "samples": 64, "only_correct": true},
 "seed": 3, "database": "$work/unused.db", "batch": 32,
 "process": {"type": "per_layer", "flips": 1, "trials": 32}}
EOF
"$aurum" run "$work/camp.json" --db "$work/good.db" --quiet >/dev/null 2>"$work/err" ||
    fail "setup run failed: $(tail -1 "$work/err")"

# refuse <case> <db> <pattern>: run and query both refuse, naming the db; file unchanged.
refuse() {
    local what=$1 db=$2 pat=$3 sum st line
    sum=$(sha256sum "$db")
    for cmd in run query; do
        if [ $cmd = run ]; then
            "$aurum" run "$work/camp.json" --db "$db" --quiet >/dev/null 2>"$work/err"
        else
            "$aurum" query "$db" "SELECT count(*) FROM trials" >/dev/null 2>"$work/err"
        fi
        st=$?
        [ "$st" -ne 0 ] || fail "$what: aurum $cmd accepted the file"
        [ "$st" -lt 128 ] || fail "$what: aurum $cmd died with signal $((st - 128))"
        [ "$(wc -l <"$work/err")" -eq 1 ] || fail "$what: aurum $cmd printed: $(cat "$work/err")"
        line=$(cat "$work/err")
        case $line in aurum:*"$(basename "$db")"*) ;; *) fail "$what: $cmd: no file name: $line" ;; esac
        echo "$line" | grep -qE "$pat" || fail "$what: $cmd: expected /$pat/: $line"
        [ "$(sha256sum "$db")" = "$sum" ] || fail "$what: aurum $cmd modified the file"
        echo "old_schema: $what: $cmd: $line"
    done
}

mk() { # name sql: a copy of the good database changed by sql
    cp "$work/good.db" "$work/$1.db" && sqlite3 "$work/$1.db" "$2" || fail "cannot make $1.db"
}
mk older "UPDATE meta SET value = '0' WHERE key = 'schema_version'"
refuse "schema_version 0" "$work/older.db" "schema_version|older"
mk noversion "DELETE FROM meta"
refuse "no schema_version" "$work/noversion.db" "schema_version"
mk textversion "UPDATE meta SET value = 'one' WHERE key = 'schema_version'"
refuse "schema_version 'one'" "$work/textversion.db" "schema_version"
mk newer "UPDATE meta SET value = '2' WHERE key = 'schema_version'"
refuse "schema_version 2" "$work/newer.db" "newer"
sqlite3 "$work/foreign.db" "CREATE TABLE trials(x); INSERT INTO trials VALUES(1)"
refuse "foreign SQLite file" "$work/foreign.db" "not an Aurum"
rm -rf "$work"

#!/bin/sh
# Build and run the whole test suite twice: a release build, then AddressSanitizer +
# UBSan (without the exhaustive 2^32 format checks, too slow there). Ends with one line "N passed, N failed" (what .ci/run reports).
set -u
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
pass=0
fail=0
run_suite() { # $1 = build dir, $2 = extra `meson test` options, rest = meson setup options
    dir=$1
    test_opts=$2
    shift 2
    if [ ! -d "$dir" ]; then
        meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; fail=$((fail + 1)); return; }
    fi
    if ! ninja -C "$dir" >"$dir.build.log" 2>&1; then
        tail -40 "$dir.build.log"
        fail=$((fail + 1))
        return
    fi
    # shellcheck disable=SC2086
    meson test -C "$dir" --num-processes "$JOBS" --print-errorlogs $test_opts >"$dir.test.log" 2>&1
    grep -E '^ *[0-9]+/[0-9]+ ' "$dir.test.log"
    grep -A30 -E 'FAIL|TIMEOUT' "$dir.test.log" | grep -v '^ *[0-9]*/[0-9]* .* OK ' | head -60
    ok=$(awk '/^Ok:/ {print $2}' "$dir.test.log")
    bad=$(awk '/^(Fail|Timeout|Unexpected Pass):/ {s += $NF} END {print s + 0}' "$dir.test.log")
    pass=$((pass + ${ok:-0}))
    fail=$((fail + bad))
}
echo "== release build"
run_suite build-test "" --buildtype=release
echo "== AddressSanitizer + UBSan build"
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 run_suite build-asan "--no-suite exhaustive" --buildtype=debug \
    -Db_sanitize=address,undefined -Db_lundef=false
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

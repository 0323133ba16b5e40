#!/bin/sh
# Smoke run of one libFuzzer binary: fuzz_bin corpus_dir seconds max_len. New inputs go
# to a temp dir, so the committed seed corpus is only read; a crash fails the test and
# leaves its reproducer in the temp dir named in the log.
set -eu
bin=$1 corpus=$2 secs=$3 max_len=$4
# tools/fuzz.sh links the shared sanitizer runtime (plugins need it): skip the order check.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}:verify_asan_link_order=0:allocator_may_return_null=1"
work=$(mktemp -d "${TMPDIR:-/tmp}/au_fuzz_smoke.XXXXXX")
# fuzz_idx rewrites a temp file per input: tmpfs makes that 4x faster than a disk.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
    export TMPDIR=/dev/shm
fi
echo "smoke: $bin for ${secs}s, new inputs and artifacts in $work"
if "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -max_len="$max_len" -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$work/" "$work" "$corpus"; then
    rm -rf "$work"
else
    echo "smoke: FAILED, reproducer kept in $work" >&2
    exit 1
fi

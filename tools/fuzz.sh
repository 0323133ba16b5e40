#!/bin/sh
# Runs one libFuzzer target for N seconds: tools/fuzz.sh <onnx|npy|idx|campaign|fmtstr> [secs]
# Configures (once) a clang build in build-fuzz-clang with -Dfuzz=true, ASan+UBSan and
# coverage instrumentation of the libraries, so the fuzzer sees inside the parsers.
# New inputs go to a work dir (FUZZ_WORK, default build-fuzz-clang/fuzz-work/<target>),
# crashes to its artifacts/ dir; copy a crash into tests/fuzz/crashes/<target>/ to keep
# it as a regression test. FUZZ_BUILD overrides the build dir; extra args go to libFuzzer
# (one process by default: on a shared machine do not add -jobs/-workers).
set -eu
target=${1:?usage: tools/fuzz.sh <onnx|npy|idx|campaign|fmtstr> [seconds] [libFuzzer args]}
secs=${2:-600}
[ $# -ge 2 ] && shift 2 || shift $#
root=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILD:-$root/build-fuzz-clang}
case $target in
onnx) max_len=1048576 ;;
npy | idx) max_len=65536 ;;
campaign) max_len=16384 ;;
fmtstr) max_len=512 ;;
*) echo "fuzz.sh: unknown target '$target'" >&2; exit 2 ;;
esac
if [ ! -f "$build/build.ninja" ]; then
    # Plugins and their -z defs link need the shared sanitizer runtime.
    # werror off: clang-only warnings in other modules must not block fuzzing.
    CC=clang meson setup "$build" "$root" -Dfuzz=true -Dbuildtype=debugoptimized -Dwerror=false \
        -Db_sanitize=address,undefined -Db_lundef=false \
        -Dc_args="-fsanitize=fuzzer-no-link -fno-sanitize-recover=undefined" \
        -Dc_link_args="-shared-libasan -Wl,-rpath,$(dirname "$(clang -print-file-name=libclang_rt.asan-x86_64.so)")"
fi
# The built-in plugins too: fuzz_fmtstr loads them, and they are not link dependencies.
plugins=$(ninja -C "$build" -t targets all | sed -n 's|^\(numsys/au_[a-z0-9_]*\.so\):.*|\1|p')
# shellcheck disable=SC2086
ninja -C "$build" -j "${FUZZ_JOBS:-2}" "tests/fuzz/fuzz_$target" $plugins
work=${FUZZ_WORK:-$build/fuzz-work/$target}
mkdir -p "$work/corpus" "$work/artifacts"
export AURUM_PLUGIN_BUILD_DIR="$build/numsys"
# fuzz_idx rewrites a temp file per input: on tmpfs that is 4x faster than on disk.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
    export TMPDIR=/dev/shm
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1:verify_asan_link_order=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
exec "$build/tests/fuzz/fuzz_$target" -max_total_time="$secs" -rss_limit_mb=2048 \
    -malloc_limit_mb=2048 -max_len="$max_len" -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/" "$@" "$work/corpus" "$root/tests/fuzz/corpus/$target"

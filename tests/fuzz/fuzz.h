/* The libFuzzer entry point every fuzz_<target>.c defines. The same object links either
 * with -fsanitize=fuzzer (clang, -Dfuzz=true) or with replay.c, whose main() feeds it
 * every corpus and crash file, so each input found once stays a regression test.
 * A target must accept any bytes: it may only return 0, never crash, leak or print. */
#ifndef AU_FUZZ_H
#define AU_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif

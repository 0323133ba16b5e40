/* The one allocator. Everything goes through au_malloc & co so tests can make the Nth
 * allocation fail (SQLite faultsim style), overflow is checked in one place, and one
 * memory cap bounds what any input can ask for: a model or .npy whose declared shapes
 * need more than the cap gets the caller's "out of memory" error, not an overcommitted
 * block that the OOM killer ends later. */
#ifndef AU_ALLOC_H
#define AU_ALLOC_H

#include "status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void *au_malloc(size_t nbytes);
void *au_calloc(size_t n, size_t size);
void *au_realloc(void *p, size_t nbytes);
void au_free(void *p);
char *au_strdup(const char *s);
/* 64-byte aligned; free with au_free_aligned. */
void *au_malloc_aligned(size_t nbytes);
void au_free_aligned(void *p);

/* Test hook: make the n-th allocation from now fail (n >= 1); 0 disables. */
void au_alloc_fail_after(long n);

/* Memory cap: any single request larger than nbytes fails as if memory were exhausted
 * (au_calloc checks n * size). 0 = no cap. The first allocation reads the default from
 * $AURUM_MEMORY_LIMIT ("1048576", "512K", "64M", "2G", "1T"); a call here overrides it. */
void au_alloc_set_limit(size_t nbytes);
size_t au_alloc_limit(void);
/* Size of the last request this thread's allocator refused because of the cap, or 0; a
 * caller can then say "exceeds the memory limit" instead of "out of memory". */
size_t au_alloc_last_refused(void);
/* Parses a byte count with an optional K/M/G/T suffix (powers of 1024; "0" = no cap).
 * AU_INVALID or AU_OVERFLOW with "what: reason" in d (what names the source). */
int au_alloc_parse_size(const char *text, const char *what, size_t *out, struct au_diag *d);
/* Applies $AURUM_MEMORY_LIMIT now: 0 (also when unset), or AU_INVALID / AU_OVERFLOW with
 * one line naming the variable and its value. The first allocation ignores a bad value,
 * so the CLI should call this at start to report a typo. */
int au_alloc_limit_from_env(struct au_diag *d);

/* Overflow-checked arithmetic: return true on overflow. */
static inline bool au_mul_overflow(size_t a, size_t b, size_t *out)
{
    return __builtin_mul_overflow(a, b, out);
}
static inline bool au_add_overflow(size_t a, size_t b, size_t *out)
{
    return __builtin_add_overflow(a, b, out);
}

#endif

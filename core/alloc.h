/* The one allocator. Everything goes through au_malloc & co so tests can make the Nth
 * allocation fail (SQLite faultsim style) and overflow is checked in one place. */
#ifndef AU_ALLOC_H
#define AU_ALLOC_H

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

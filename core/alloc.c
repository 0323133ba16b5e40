/* Allocation with injectable failure for *_fault tests. Not thread-safe in its failure
 * counter; tests that use it are single-threaded. */
#include "alloc.h"

#include <stdlib.h>
#include <string.h>

static long fail_countdown;

static bool should_fail(void)
{
    if (fail_countdown <= 0)
        return false;
    return --fail_countdown == 0;
}

void au_alloc_fail_after(long n)
{
    fail_countdown = n;
}

void *au_malloc(size_t nbytes)
{
    if (should_fail())
        return NULL;
    return malloc(nbytes ? nbytes : 1);
}

void *au_calloc(size_t n, size_t size)
{
    if (should_fail())
        return NULL;
    return calloc(n ? n : 1, size ? size : 1);
}

void *au_realloc(void *p, size_t nbytes)
{
    if (should_fail())
        return NULL;
    return realloc(p, nbytes ? nbytes : 1);
}

void au_free(void *p)
{
    free(p);
}

char *au_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *r = au_malloc(n);
    if (r)
        memcpy(r, s, n);
    return r;
}

void *au_malloc_aligned(size_t nbytes)
{
    if (should_fail())
        return NULL;
    void *p = NULL;
    if (posix_memalign(&p, 64, nbytes ? nbytes : 1) != 0)
        return NULL;
    return p;
}

void au_free_aligned(void *p)
{
    free(p);
}

/* Allocation with injectable failure for *_fault tests and one memory cap. The failure
 * counter is not thread-safe (tests that use it are single-threaded); the cap is an
 * atomic read per call, so workers may allocate while the CLI has set it. The cap bounds
 * single requests, not the process total: a per-block size needs no bookkeeping that a
 * pointer freed by plain free() could corrupt, and one huge declared tensor is the
 * failure mode that matters (the OOM killer, not an error message). */
#include "alloc.h"

#include <ctype.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static long fail_countdown;
/* SIZE_MAX until the first allocation has looked at $AURUM_MEMORY_LIMIT. */
static _Atomic size_t limit = SIZE_MAX;
static _Thread_local size_t last_refused;

#define ENV_NAME "AURUM_MEMORY_LIMIT"

static bool should_fail(void)
{
    if (fail_countdown <= 0)
        return false;
    return --fail_countdown == 0;
}

static size_t current_limit(void)
{
    size_t l = atomic_load_explicit(&limit, memory_order_relaxed);
    if (l == SIZE_MAX) {
        const char *v = getenv(ENV_NAME);
        size_t parsed = 0;
        if (!v || au_alloc_parse_size(v, ENV_NAME, &parsed, NULL) < 0)
            parsed = 0; /* a bad value is reported by au_alloc_limit_from_env */
        size_t expected = SIZE_MAX;
        atomic_compare_exchange_strong(&limit, &expected, parsed);
        l = atomic_load_explicit(&limit, memory_order_relaxed);
    }
    return l;
}

/* True if a request of nbytes may go to the system allocator. */
static bool admit(size_t nbytes)
{
    if (should_fail())
        return false;
    size_t l = current_limit();
    if (l && nbytes > l) {
        last_refused = nbytes;
        return false;
    }
    return true;
}

void au_alloc_fail_after(long n)
{
    fail_countdown = n;
}

void au_alloc_set_limit(size_t nbytes)
{
    atomic_store(&limit, nbytes == SIZE_MAX ? SIZE_MAX - 1 : nbytes);
}

size_t au_alloc_limit(void)
{
    return current_limit();
}

size_t au_alloc_last_refused(void)
{
    return last_refused;
}

int au_alloc_parse_size(const char *text, const char *what, size_t *out, struct au_diag *d)
{
    char *end;
    errno = 0;
    if (!text || !(*text >= '0' && *text <= '9'))
        return au_diag_set(d, AU_INVALID, "%s: '%s' is not a byte count (e.g. 512M, 2G)", what,
                           text ? text : "");
    unsigned long long v = strtoull(text, &end, 10);
    static const char units[] = "KMGT"; /* powers of 1024 */
    const char *u = *end ? strchr(units, toupper((unsigned char)*end)) : NULL;
    int shift = u ? 10 * (int)(u - units + 1) : 0;
    if (shift)
        end++;
    if (*end == 'i' && shift) /* "MiB" style */
        end++;
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end)
        return au_diag_set(d, AU_INVALID, "%s: '%s' is not a byte count (e.g. 512M, 2G)", what,
                           text);
    if (errno == ERANGE || v > (SIZE_MAX - 1) >> shift)
        return au_diag_set(d, AU_OVERFLOW, "%s: '%s' is too large", what, text);
    *out = (size_t)v << shift;
    return AU_OK;
}

int au_alloc_limit_from_env(struct au_diag *d)
{
    const char *v = getenv(ENV_NAME);
    size_t n = 0;
    if (v) {
        int rc = au_alloc_parse_size(v, ENV_NAME, &n, d);
        if (rc < 0)
            return rc;
    }
    au_alloc_set_limit(n);
    return AU_OK;
}

void *au_malloc(size_t nbytes)
{
    if (!admit(nbytes))
        return NULL;
    return malloc(nbytes ? nbytes : 1);
}

void *au_calloc(size_t n, size_t size)
{
    size_t nbytes;
    if (au_mul_overflow(n, size, &nbytes) || !admit(nbytes))
        return NULL;
    return calloc(n ? n : 1, size ? size : 1);
}

void *au_realloc(void *p, size_t nbytes)
{
    if (!admit(nbytes))
        return NULL; /* p stays valid, as with realloc */
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
    if (!admit(nbytes))
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

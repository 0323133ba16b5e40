/* Huge-page friendly allocation of big buffers (see arena.h). A small header just below
 * the returned pointer remembers the block au_malloc_aligned gave, so au_arena_free needs
 * no size. */
#include "arena.h"

#include "alloc.h"

#include <stdint.h>
#include <sys/mman.h>

#define HUGE        ((size_t)2 << 20)
#define SMALL_ALIGN 64

void *au_arena_alloc(size_t nbytes)
{
    size_t align = nbytes >= 2 * HUGE ? HUGE : SMALL_ALIGN;
    if (nbytes > SIZE_MAX - align - SMALL_ALIGN)
        return NULL;
    char *raw = au_malloc_aligned(nbytes + align + SMALL_ALIGN);
    if (!raw)
        return NULL;
    uintptr_t p = ((uintptr_t)raw + SMALL_ALIGN + align - 1) & ~(uintptr_t)(align - 1);
    ((void **)p)[-1] = raw;
#ifdef MADV_HUGEPAGE
    if (align == HUGE) /* advice only: without THP it is a no-op */
        madvise((void *)p, nbytes & ~(HUGE - 1), MADV_HUGEPAGE);
#endif
    return (void *)p;
}

void au_arena_free(void *p)
{
    if (p)
        au_free_aligned(((void **)p)[-1]);
}

/* Big activation buffers (golden and trial arenas, kernel scratch). They are aligned to
 * 2 MiB and advised as transparent huge pages: a fresh arena is touched page by page by
 * its first run, and in a VM each 4 KiB fault costs microseconds, so a campaign that
 * caches many golden runs spent a quarter of its time faulting pages in. Allocation goes
 * through au_malloc_aligned, so the memory cap counts it. */
#ifndef AU_CORE_ARENA_H
#define AU_CORE_ARENA_H

#include <stddef.h>

/* nbytes of uninitialised memory aligned to 64 bytes (2 MiB when large); NULL if out of
 * memory. Free with au_arena_free. */
void *au_arena_alloc(size_t nbytes);
void au_arena_free(void *p);

#endif

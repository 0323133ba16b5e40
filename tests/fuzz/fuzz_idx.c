/* Fuzz target: IDX bytes (plain or gzip) -> au_idx_read and au_idx_read_head. The
 * reader only takes paths, so each input is rewritten into one temp file per process
 * (removed at exit; $TMPDIR, /dev/shm is fastest); the file is the unit under test, not
 * an in-memory shortcut. The reader asks zlib for a 128 KiB buffer (384 KiB of
 * allocations per open), which ASan maps and unmaps on every call: three quarters of
 * the time went to TLB flushes (perf), at ~400 exec/s. This target caps the buffer at
 * zlib's 8 KiB default by wrapping gzbuffer; inputs are at most 64 KiB, so the reader's
 * refill paths get more exercise, not less. */
#include "core/idx.h"
#include "core/tensor.h"
#include "fuzz.h"
#include "fuzz_common.h"

#include <dlfcn.h>
#include <stdio.h>
#include <unistd.h>
#include <zlib.h>

/* Preempts zlib's gzbuffer for this executable only (see the top comment). */
int gzbuffer(gzFile file, unsigned size)
{
    static int (*real)(gzFile, unsigned);
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "gzbuffer");
    if (!real)
        return -1; /* zlib keeps its default buffer: slower, still correct */
    return real(file, size > 8192 ? 8192 : size);
}

static char tmp_path[64];

static void remove_tmp(void)
{
    if (tmp_path[0])
        unlink(tmp_path);
}

static int write_input(const uint8_t *data, size_t size)
{
    if (!tmp_path[0]) {
        const char *dir = getenv("TMPDIR");
        snprintf(tmp_path, sizeof(tmp_path), "%s/au_fuzz_idx_XXXXXX", dir ? dir : "/tmp");
        int fd = mkstemp(tmp_path);
        if (fd < 0)
            return -1;
        close(fd);
        atexit(remove_tmp);
    }
    FILE *f = fopen(tmp_path, "wb");
    if (!f)
        return -1;
    size_t put = size ? fwrite(data, 1, size, f) : 0;
    return (fclose(f) == 0 && put == size) ? 0 : -1;
}

static void check_read(int rc, struct au_array *a, const struct au_diag *d)
{
    fuzz_check_diag(rc, d);
    if (rc < 0) {
        if (a->t.data)
            abort(); /* out is zeroed on failure */
        return;
    }
    if (a->t.n_dims < 1 || a->t.n_dims > AU_MAX_DIMS)
        abort();
    size_t nbytes = au_tensor_nbytes(&a->t);
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < nbytes; i++)
        sink ^= ((const uint8_t *)a->t.data)[i];
    (void)sink;
    au_array_fini(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (write_input(data, size) < 0)
        return 0; /* the temp dir is not the code under test */
    struct au_array a;
    struct au_diag d = {{0}};
    memset(&a, 0xa5, sizeof(a));
    check_read(au_idx_read(tmp_path, &a, &d), &a, &d);
    /* The head reader stops decompressing early: its own paths through the stream. */
    int64_t rows = size ? (int64_t)(data[size - 1] % 4) : 1;
    memset(&a, 0xa5, sizeof(a));
    d.msg[0] = '\0';
    check_read(au_idx_read_head(tmp_path, rows, &a, &d), &a, &d);
    return 0;
}

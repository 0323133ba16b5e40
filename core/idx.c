/* IDX reader on zlib's gz* API, which reads gzip and plain files alike, so the
 * .gz files Debian ships need no separate path. Before allocating we check the size
 * the header claims against the file: exactly for a plain file, and against deflate's
 * maximum ratio (1032:1) for a gzip, so a 100-byte hostile file cannot ask for 16 GiB.
 * Data is big-endian on disk and converted element by element, whatever the host. */
#include "idx.h"

#include "alloc.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

/* deflate never expands data more than 1032 times; round up for gzip framing. */
#define IDX_GZ_MAX_RATIO 1040u
#define IDX_GZ_SLACK     4096u

struct idx_file {
    gzFile gz;
    const char *path;
    uint64_t file_size;
};

/* Reads up to n bytes; *got says how many arrived. Fails on an I/O error or a corrupt
 * or cut gzip stream; a clean short read (end of data) is left to the caller. */
static int read_some(struct idx_file *f, void *buf, size_t n, size_t *got, struct au_diag *d)
{
    unsigned char *p = buf;
    int errnum = Z_OK;
    *got = 0;
    while (*got < n) {
        size_t chunk = n - *got > (1u << 30) ? (1u << 30) : n - *got;
        int r = gzread(f->gz, p + *got, (unsigned)chunk);
        if (r > 0)
            *got += (size_t)r;
        if (r < (int)chunk)
            break;
    }
    if (*got == n)
        return AU_OK;
    const char *zmsg = gzerror(f->gz, &errnum);
    if (errnum == Z_ERRNO)
        return au_diag_set(d, AU_IO, "%s: read failed: %s", f->path, strerror(errno));
    if (errnum == Z_MEM_ERROR)
        return au_diag_set(d, AU_NOMEM, "%s: out of memory in zlib", f->path);
    if (errnum == Z_BUF_ERROR) /* the gzip stream itself ends early */
        return au_diag_set(d, AU_FORMAT, "%s: truncated gzip data (%s)", f->path, zmsg);
    if (errnum != Z_OK)
        return au_diag_set(d, AU_FORMAT, "%s: corrupt gzip data (%s)", f->path, zmsg);
    return AU_OK; /* a clean end of data: the caller says what was missing */
}

static int read_exact(struct idx_file *f, void *buf, size_t n, const char *what, struct au_diag *d)
{
    size_t got;
    int st = read_some(f, buf, n, &got, d);
    if (st == AU_OK && got < n)
        st = au_diag_set(d, AU_FORMAT, "%s: truncated in the %s (%zu of %zu bytes)", f->path, what,
                         got, n);
    return st;
}

static int idx_dtype(const unsigned char *magic, const char *path, int *dtype, struct au_diag *d)
{
    if (magic[0] != 0 || magic[1] != 0)
        return au_diag_set(d, AU_FORMAT, "%s: not an IDX file (magic %02x%02x%02x%02x)", path,
                           magic[0], magic[1], magic[2], magic[3]);
    switch (magic[2]) {
    case 0x08:
        *dtype = AU_DTYPE_U8;
        return AU_OK;
    case 0x09:
        *dtype = AU_DTYPE_I8;
        return AU_OK;
    case 0x0C:
        *dtype = AU_DTYPE_I32;
        return AU_OK;
    case 0x0D:
        *dtype = AU_DTYPE_F32;
        return AU_OK;
    case 0x0E:
        *dtype = AU_DTYPE_F64;
        return AU_OK;
    case 0x0B:
        return au_diag_set(d, AU_UNSUPPORTED, "%s: IDX type int16 (0x0b) is not supported", path);
    default:
        return au_diag_set(d, AU_FORMAT, "%s: unknown IDX data type 0x%02x", path, magic[2]);
    }
}

/* Magic and dims: dtype, shape and the byte size of the whole payload. */
static int read_idx_header(struct idx_file *f, int *dtype, int *n_dims, int64_t *ne, size_t *nbytes,
                           struct au_diag *d)
{
    unsigned char h[4 * (AU_MAX_DIMS + 1)];
    int64_t numel;
    int st = read_exact(f, h, 4, "magic", d);
    if (st < 0 || (st = idx_dtype(h, f->path, dtype, d)) < 0)
        return st;
    *n_dims = h[3];
    if (*n_dims == 0)
        return au_diag_set(d, AU_FORMAT, "%s: IDX header has no dimensions", f->path);
    if (*n_dims > AU_MAX_DIMS)
        return au_diag_set(d, AU_UNSUPPORTED, "%s: %d dims (at most %d)", f->path, *n_dims,
                           AU_MAX_DIMS);
    if ((st = read_exact(f, h + 4, 4 * (size_t)*n_dims, "dims", d)) < 0)
        return st;
    for (int i = 0; i < *n_dims; i++) {
        const unsigned char *p = h + 4 + 4 * i;
        ne[i] = (int64_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
                          (uint32_t)p[3]);
    }
    if (!au_shape_numel_checked(*n_dims, ne, &numel) ||
        au_mul_overflow((size_t)numel, au_dtype_size(*dtype), nbytes))
        return au_diag_set(d, AU_OVERFLOW, "%s: dims: too many elements", f->path);
    return AU_OK;
}

/* Refuses, before any allocation, a payload the file cannot possibly hold. */
static int check_plausible(struct idx_file *f, size_t hdr_bytes, size_t nbytes, struct au_diag *d)
{
    if (gzdirect(f->gz)) {
        if (f->file_size < hdr_bytes || f->file_size - hdr_bytes < nbytes)
            return au_diag_set(d, AU_FORMAT,
                               "%s: truncated: header says %zu data bytes, file has %llu", f->path,
                               nbytes, (unsigned long long)(f->file_size - hdr_bytes));
        return AU_OK;
    }
    if (f->file_size < (UINT64_MAX - IDX_GZ_SLACK) / IDX_GZ_MAX_RATIO &&
        nbytes > f->file_size * IDX_GZ_MAX_RATIO + IDX_GZ_SLACK)
        return au_diag_set(d, AU_FORMAT,
                           "%s: header says %zu data bytes, more than a %llu-byte gzip can hold",
                           f->path, nbytes, (unsigned long long)f->file_size);
    return AU_OK;
}

static void be_to_host(void *data, size_t n_elem, size_t size)
{
    unsigned char *p = data;
    for (size_t i = 0; i < n_elem; i++, p += size) {
        if (size == 4) {
            uint32_t v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
            memcpy(p, &v, 4);
        } else if (size == 8) {
            uint64_t v = 0;
            for (int k = 0; k < 8; k++)
                v = v << 8 | p[k];
            memcpy(p, &v, 8);
        }
    }
}

/* A full read must end exactly at the payload; reading on also makes zlib verify the
 * gzip CRC, which would otherwise go unchecked. */
static int check_end(struct idx_file *f, struct au_diag *d)
{
    unsigned char extra[64];
    size_t got;
    int st = read_some(f, extra, sizeof(extra), &got, d);
    if (st == AU_OK && got > 0)
        st = au_diag_set(d, AU_FORMAT, "%s: unexpected bytes after the data", f->path);
    return st;
}

static int read_idx(struct idx_file *f, int64_t max_rows, struct au_array *out, struct au_diag *d)
{
    int dtype = 0, n_dims = 0;
    int64_t ne[AU_MAX_DIMS] = {0};
    size_t nbytes = 0, got = 0;
    int st = read_idx_header(f, &dtype, &n_dims, ne, &nbytes, d);
    if (st < 0 || (st = check_plausible(f, 4 + 4 * (size_t)n_dims, nbytes, d)) < 0)
        return st;
    bool whole = max_rows < 0 || max_rows >= ne[0];
    if (!whole)
        ne[0] = max_rows;
    if ((st = au_array_alloc(out, dtype, n_dims, ne, d)) < 0) {
        au_diag_prefix(d, f->path);
        return st;
    }
    size_t want = au_tensor_nbytes(&out->t);
    st = read_some(f, out->t.data, want, &got, d);
    if (st == AU_OK && got < want)
        st = au_diag_set(d, AU_FORMAT, "%s: truncated: header says %zu data bytes, got %zu",
                         f->path, nbytes, got);
    if (st == AU_OK && whole)
        st = check_end(f, d);
    if (st < 0) {
        au_array_fini(out);
        return st;
    }
    be_to_host(out->t.data, (size_t)au_tensor_numel(&out->t), au_dtype_size(dtype));
    return AU_OK;
}

int au_idx_read_head(const char *path, int64_t max_rows, struct au_array *out, struct au_diag *d)
{
    struct stat sb;
    struct idx_file f = {NULL, path, 0};
    memset(out, 0, sizeof(*out));
    if (stat(path, &sb) != 0)
        return au_diag_set(d, AU_IO, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return au_diag_set(d, AU_IO, "%s: not a regular file", path);
    f.file_size = (uint64_t)sb.st_size;
    errno = 0;
    f.gz = gzopen(path, "rb");
    if (!f.gz)
        return au_diag_set(d, AU_IO, "%s: cannot open: %s", path,
                           errno ? strerror(errno) : "out of memory");
    gzbuffer(f.gz, 1u << 17); /* fewer syscalls than the 8 KiB default */
    int st = read_idx(&f, max_rows, out, d);
    gzclose_r(f.gz);
    return st;
}

int au_idx_read(const char *path, struct au_array *out, struct au_diag *d)
{
    return au_idx_read_head(path, -1, out, d);
}

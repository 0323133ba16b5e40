/* .npy reader and writer. The header is a Python dict literal; rather than evaluate
 * Python we accept exactly the grammar NumPy writes (three known keys, string/bool/
 * int-tuple values), so a hostile file can only produce a one-line error. Every size
 * is checked against the real file length before anything large is allocated, and
 * writes go through "path.tmp" + rename so a crash never leaves a half-written file. */
#include "npy.h"

#include "alloc.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

struct npy_header {
    int dtype;
    int n_dims;
    int64_t ne[AU_MAX_DIMS];
    bool fortran;
};

/* Where bytes come from: an open file or a memory image, both of known size. */
struct npy_src {
    const char *name;
    FILE *f;
    const unsigned char *mem;
    uint64_t size;
};

void au_array_fini(struct au_array *a)
{
    if (!a)
        return;
    au_free_aligned(a->t.data);
    memset(a, 0, sizeof(*a));
}

int au_array_alloc(struct au_array *a, int dtype, int n_dims, const int64_t *ne, struct au_diag *d)
{
    int64_t numel;
    size_t nbytes;
    memset(a, 0, sizeof(*a));
    if (!au_dtype_is_valid(dtype))
        return au_diag_set(d, AU_DTYPE, "array: unknown dtype %d", dtype);
    if (!au_shape_numel_checked(n_dims, ne, &numel) ||
        au_mul_overflow((size_t)numel, au_dtype_size(dtype), &nbytes))
        return au_diag_set(d, AU_OVERFLOW, "array: shape is invalid or too large");
    a->t.data = au_malloc_aligned(nbytes);
    if (!a->t.data)
        return au_diag_set(d, AU_NOMEM, "array: cannot allocate %zu bytes", nbytes);
    au_tensor_set_shape(&a->t, dtype, n_dims, ne);
    return AU_OK;
}

static int src_read(struct npy_src *s, uint64_t off, void *dst, size_t n, struct au_diag *d)
{
    if (off > s->size || n > s->size - off)
        return au_diag_set(d, AU_FORMAT, "%s: truncated: needs %llu bytes, file has %llu", s->name,
                           (unsigned long long)(off + n), (unsigned long long)s->size);
    if (s->mem) {
        memcpy(dst, s->mem + off, n);
        return AU_OK;
    }
    if (fseeko(s->f, (off_t)off, SEEK_SET) != 0 || fread(dst, 1, n, s->f) != n)
        return au_diag_set(d, AU_IO, "%s: read failed at byte %llu: %s", s->name,
                           (unsigned long long)off, ferror(s->f) ? strerror(errno) : "short read");
    return AU_OK;
}

/* ---- header dict parsing ------------------------------------------------------ */

struct cursor {
    const char *p, *end;
    const char *name;
    struct au_diag *d;
};

static void skip_ws(struct cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

static bool eat(struct cursor *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

static int expect(struct cursor *c, char ch, const char *where)
{
    if (eat(c, ch))
        return AU_OK;
    return au_diag_set(c->d, AU_FORMAT, "%s: header: expected '%c' %s", c->name, ch, where);
}

/* A quoted Python string without escapes (none of the valid keys or descrs has any). */
static int parse_str(struct cursor *c, char *out, size_t cap, const char *what)
{
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return au_diag_set(c->d, AU_FORMAT, "%s: header: expected a quoted %s", c->name, what);
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        unsigned char ch = (unsigned char)*c->p;
        if (ch < 0x20 || ch > 0x7e || ch == '\\' || n + 1 >= cap)
            return au_diag_set(c->d, AU_FORMAT, "%s: header: bad or overlong %s string", c->name,
                               what);
        out[n++] = *c->p++;
    }
    if (c->p >= c->end)
        return au_diag_set(c->d, AU_FORMAT, "%s: header: unterminated %s string", c->name, what);
    c->p++;
    out[n] = '\0';
    return AU_OK;
}

static bool eat_word(struct cursor *c, const char *w)
{
    size_t n = strlen(w);
    skip_ws(c);
    if ((size_t)(c->end - c->p) >= n && memcmp(c->p, w, n) == 0) {
        c->p += n;
        return true;
    }
    return false;
}

static int descr_to_dtype(const char *s, const char *name, int *dtype, struct au_diag *d)
{
    static const struct {
        const char *code;
        int dtype;
    } map[] = {{"f4", AU_DTYPE_F32}, {"f8", AU_DTYPE_F64}, {"i8", AU_DTYPE_I64},
               {"i4", AU_DTYPE_I32}, {"u1", AU_DTYPE_U8},  {"i1", AU_DTYPE_I8},
               {"b1", AU_DTYPE_BOOL}};
    if (s[0] == '>')
        return au_diag_set(d, AU_UNSUPPORTED,
                           "%s: descr: big-endian '%s' is not supported (little-endian only)", name,
                           s);
    for (size_t i = 0; s[0] && i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcmp(s + 1, map[i].code) != 0)
            continue;
        /* '|' (not applicable) is how NumPy marks one-byte types; '<' is fine too. */
        if (s[0] == '<' || (s[0] == '|' && au_dtype_size(map[i].dtype) == 1)) {
            *dtype = map[i].dtype;
            return AU_OK;
        }
    }
    return au_diag_set(d, AU_UNSUPPORTED,
                       "%s: descr: dtype '%s' is not supported (want <f4 <f8 <i8 <i4 |u1 "
                       "|i1 |b1)",
                       name, s);
}

static int parse_dim(struct cursor *c, int64_t *out)
{
    int64_t v = 0;
    const char *start = c->p;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *c->p - '0', &v))
            return au_diag_set(c->d, AU_OVERFLOW, "%s: shape: dimension is too large", c->name);
        c->p++;
    }
    if (c->p == start)
        return au_diag_set(c->d, AU_FORMAT, "%s: shape: expected a non-negative integer", c->name);
    if (c->p < c->end && *c->p == 'L') /* Python 2 longs, as old NumPy wrote them */
        c->p++;
    *out = v;
    return AU_OK;
}

/* A Python tuple of ints: "()", "(5,)", "(2, 3)" or "(2, 3,)". */
static int parse_shape(struct cursor *c, struct npy_header *h)
{
    int st = expect(c, '(', "to open shape");
    h->n_dims = 0;
    while (st == AU_OK && !eat(c, ')')) {
        if (h->n_dims == AU_MAX_DIMS)
            return au_diag_set(c->d, AU_UNSUPPORTED, "%s: shape: more than %d dims", c->name,
                               AU_MAX_DIMS);
        skip_ws(c);
        st = parse_dim(c, &h->ne[h->n_dims++]);
        if (st == AU_OK && !eat(c, ',')) {
            st = expect(c, ')', "or ',' in shape");
            if (st == AU_OK && h->n_dims == 1) /* "(5)" is an int in Python, not a tuple */
                st = au_diag_set(c->d, AU_FORMAT, "%s: shape: '(n)' is not a tuple", c->name);
            break;
        }
    }
    return st;
}

enum { KEY_DESCR = 1, KEY_FORTRAN = 2, KEY_SHAPE = 4 };

static int parse_entry(struct cursor *c, struct npy_header *h, unsigned *seen)
{
    char key[32] = "", descr[32];
    int st = parse_str(c, key, sizeof(key), "key");
    if (st < 0)
        return st;
    unsigned bit = !strcmp(key, "descr")           ? KEY_DESCR
                   : !strcmp(key, "fortran_order") ? KEY_FORTRAN
                   : !strcmp(key, "shape")         ? KEY_SHAPE
                                                   : 0;
    if (!bit)
        return au_diag_set(c->d, AU_FORMAT, "%s: header: unknown key '%s'", c->name, key);
    if (*seen & bit)
        return au_diag_set(c->d, AU_FORMAT, "%s: header: duplicate key '%s'", c->name, key);
    *seen |= bit;
    if ((st = expect(c, ':', "after a key")) < 0)
        return st;
    if (bit == KEY_DESCR) {
        st = parse_str(c, descr, sizeof(descr), "descr");
        return st < 0 ? st : descr_to_dtype(descr, c->name, &h->dtype, c->d);
    }
    if (bit == KEY_SHAPE)
        return parse_shape(c, h);
    if (eat_word(c, "True"))
        h->fortran = true;
    else if (eat_word(c, "False"))
        h->fortran = false;
    else
        return au_diag_set(c->d, AU_FORMAT, "%s: fortran_order: expected True or False", c->name);
    return AU_OK;
}

static int parse_header(const char *text, size_t len, const char *name, struct npy_header *h,
                        struct au_diag *d)
{
    struct cursor c = {text, text + len, name, d};
    unsigned seen = 0;
    int st;
    memset(h, 0, sizeof(*h));
    if (len == 0 || text[len - 1] != '\n')
        return au_diag_set(d, AU_FORMAT, "%s: header: does not end with a newline", name);
    c.end--;
    if ((st = expect(&c, '{', "to open the header dict")) < 0)
        return st;
    /* Entries separated by ',', with an optional trailing ',' as NumPy writes. */
    while (!eat(&c, '}')) {
        if ((st = parse_entry(&c, h, &seen)) < 0)
            return st;
        if (eat(&c, '}'))
            break;
        if ((st = expect(&c, ',', "or '}' after a value")) < 0)
            return st;
    }
    skip_ws(&c);
    if (c.p != c.end)
        return au_diag_set(d, AU_FORMAT, "%s: header: unexpected text after the dict", name);
    if (seen != (KEY_DESCR | KEY_FORTRAN | KEY_SHAPE))
        return au_diag_set(d, AU_FORMAT, "%s: header: missing key '%s'", name,
                           !(seen & KEY_DESCR)   ? "descr"
                           : !(seen & KEY_SHAPE) ? "shape"
                                                 : "fortran_order");
    if (h->fortran)
        return au_diag_set(d, AU_UNSUPPORTED,
                           "%s: fortran_order: True is not supported (save C order)", name);
    return AU_OK;
}

/* ---- reading -------------------------------------------------------------------- */

/* Magic, version and header length: sets *hdr_off (where the dict starts) and *hdr_len. */
static int read_preamble(struct npy_src *s, uint64_t *hdr_off, size_t *hdr_len, struct au_diag *d)
{
    unsigned char b[12];
    int st;
    if (s->size < 10)
        return au_diag_set(d, AU_FORMAT, "%s: not a .npy file (only %llu bytes)", s->name,
                           (unsigned long long)s->size);
    if ((st = src_read(s, 0, b, 10, d)) < 0)
        return st;
    if (memcmp(b, npy_magic, sizeof(npy_magic)) != 0)
        return au_diag_set(d, AU_FORMAT, "%s: not a .npy file (bad magic)", s->name);
    if (b[7] != 0 || b[6] < 1 || b[6] > 3)
        return au_diag_set(d, AU_UNSUPPORTED, "%s: .npy format version %u.%u is not supported",
                           s->name, b[6], b[7]);
    if (b[6] == 1) {
        *hdr_off = 10;
        *hdr_len = (size_t)b[8] | (size_t)b[9] << 8;
    } else {
        if ((st = src_read(s, 10, b + 10, 2, d)) < 0)
            return st;
        *hdr_off = 12;
        *hdr_len = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
    }
    if (*hdr_len > AU_NPY_MAX_HEADER)
        return au_diag_set(d, AU_FORMAT, "%s: header length %zu exceeds the limit %d", s->name,
                           *hdr_len, AU_NPY_MAX_HEADER);
    return AU_OK;
}

static int read_header(struct npy_src *s, struct npy_header *h, uint64_t *data_off,
                       struct au_diag *d)
{
    uint64_t off = 0;
    size_t len = 0;
    int st = read_preamble(s, &off, &len, d);
    if (st < 0)
        return st;
    char *text = au_malloc(len + 1);
    if (!text)
        return au_diag_set(d, AU_NOMEM, "%s: out of memory reading the header", s->name);
    st = src_read(s, off, text, len, d);
    if (st == AU_OK)
        st = parse_header(text, len, s->name, h, d);
    au_free(text);
    *data_off = off + len;
    return st;
}

static int check_bool(const struct au_array *a, const char *name, struct au_diag *d)
{
    const unsigned char *p = a->t.data;
    size_t n = au_tensor_nbytes(&a->t);
    for (size_t i = 0; i < n; i++)
        if (p[i] > 1)
            return au_diag_set(d, AU_FORMAT, "%s: bool element %zu is %u, not 0 or 1", name, i,
                               p[i]);
    return AU_OK;
}

static int read_npy(struct npy_src *s, int64_t max_rows, struct au_array *out, struct au_diag *d)
{
    struct npy_header h;
    uint64_t data_off = 0;
    int64_t numel;
    size_t nbytes;
    memset(out, 0, sizeof(*out));
    int st = read_header(s, &h, &data_off, d);
    if (st < 0)
        return st;
    if (!au_shape_numel_checked(h.n_dims, h.ne, &numel) ||
        au_mul_overflow((size_t)numel, au_dtype_size(h.dtype), &nbytes))
        return au_diag_set(d, AU_OVERFLOW, "%s: shape: too many elements", s->name);
    /* read_header already checked that data_off <= size. */
    if (s->size - data_off < nbytes)
        return au_diag_set(d, AU_FORMAT, "%s: truncated: header says %zu data bytes, file has %llu",
                           s->name, nbytes, (unsigned long long)(s->size - data_off));
    if (s->size - data_off > nbytes)
        return au_diag_set(d, AU_FORMAT, "%s: %llu unexpected bytes after the data", s->name,
                           (unsigned long long)(s->size - data_off - nbytes));
    if (max_rows >= 0 && h.n_dims > 0 && max_rows < h.ne[0])
        h.ne[0] = max_rows;
    if ((st = au_array_alloc(out, h.dtype, h.n_dims, h.ne, d)) < 0) {
        au_diag_prefix(d, s->name);
        return st;
    }
    st = src_read(s, data_off, out->t.data, au_tensor_nbytes(&out->t), d);
    if (st == AU_OK && h.dtype == AU_DTYPE_BOOL)
        st = check_bool(out, s->name, d);
    if (st < 0)
        au_array_fini(out);
    return st;
}

int au_npy_read_head(const char *path, int64_t max_rows, struct au_array *out, struct au_diag *d)
{
    struct stat sb;
    struct npy_src s = {path, NULL, NULL, 0};
    int st;
    memset(out, 0, sizeof(*out));
    s.f = fopen(path, "rb");
    if (!s.f)
        return au_diag_set(d, AU_IO, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fileno(s.f), &sb) != 0 || !S_ISREG(sb.st_mode))
        st = au_diag_set(d, AU_IO, "%s: not a regular file", path);
    else {
        s.size = (uint64_t)sb.st_size;
        st = read_npy(&s, max_rows, out, d);
    }
    fclose(s.f);
    return st;
}

int au_npy_read(const char *path, struct au_array *out, struct au_diag *d)
{
    return au_npy_read_head(path, -1, out, d);
}

int au_npy_read_mem(const void *buf, size_t nbytes, const char *name, struct au_array *out,
                    struct au_diag *d)
{
    struct npy_src s = {name ? name : "<memory>", NULL, buf, nbytes};
    memset(out, 0, sizeof(*out));
    if (!buf && nbytes)
        return au_diag_set(d, AU_INVALID, "%s: NULL buffer", s.name);
    s.mem = buf ? buf : (const unsigned char *)"";
    return read_npy(&s, -1, out, d);
}

/* ---- writing -------------------------------------------------------------------- */

static const char *dtype_descr(int dtype)
{
    switch (dtype) {
    case AU_DTYPE_F32:
        return "<f4";
    case AU_DTYPE_F64:
        return "<f8";
    case AU_DTYPE_I64:
        return "<i8";
    case AU_DTYPE_I32:
        return "<i4";
    case AU_DTYPE_U8:
        return "|u1";
    case AU_DTYPE_I8:
        return "|i1";
    case AU_DTYPE_BOOL:
        return "|b1";
    default:
        return NULL;
    }
}

/* The whole preamble + dict as NumPy 1.x writes it, padded with spaces so the data
 * starts at a multiple of 64. buf must hold 512 bytes (8 dims of 20 digits fit). */
static size_t build_header(const struct au_tensor *t, char *buf)
{
    size_t n = 10;
    memcpy(buf, npy_magic, sizeof(npy_magic));
    buf[6] = 1;
    buf[7] = 0;
    n += (size_t)snprintf(buf + n, 512 - n, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                          dtype_descr(t->dtype));
    for (int i = 0; i < t->n_dims; i++)
        n += (size_t)snprintf(buf + n, 512 - n, i ? ", %lld" : "%lld", (long long)t->ne[i]);
    n += (size_t)snprintf(buf + n, 512 - n, "%s), }", t->n_dims == 1 ? "," : "");
    while ((n + 1) % 64 != 0)
        buf[n++] = ' ';
    buf[n++] = '\n';
    buf[8] = (char)((n - 10) & 0xff);
    buf[9] = (char)((n - 10) >> 8);
    return n;
}

static int check_writable(const struct au_tensor *t, const char *path, struct au_diag *d)
{
    int64_t numel;
    if (!dtype_descr(t->dtype))
        return au_diag_set(d, AU_DTYPE, "%s: dtype %s cannot be stored in .npy", path,
                           au_dtype_name(t->dtype));
    if (!au_shape_numel_checked(t->n_dims, t->ne, &numel))
        return au_diag_set(d, AU_INVALID, "%s: tensor shape is invalid", path);
    if (numel > 0 && !t->data)
        return au_diag_set(d, AU_INVALID, "%s: tensor has no data", path);
    return AU_OK;
}

/* Writes, flushes and syncs; on failure returns the errno that explains it. */
static int write_file(FILE *f, const char *hdr, size_t hdr_len, const struct au_tensor *t)
{
    size_t nbytes = au_tensor_nbytes(t);
    errno = 0;
    if (fwrite(hdr, 1, hdr_len, f) != hdr_len ||
        (nbytes && fwrite(t->data, 1, nbytes, f) != nbytes))
        return errno ? errno : EIO;
    if (fflush(f) != 0 || fsync(fileno(f)) != 0)
        return errno ? errno : EIO;
    return 0;
}

int au_npy_write(const char *path, const struct au_tensor *t, struct au_diag *d)
{
    char hdr[512];
    int st = check_writable(t, path, d), err;
    if (st < 0)
        return st;
    size_t hdr_len = build_header(t, hdr), tmp_len = strlen(path) + 5;
    char *tmp = au_malloc(tmp_len);
    if (!tmp)
        return au_diag_set(d, AU_NOMEM, "%s: out of memory", path);
    snprintf(tmp, tmp_len, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        st = au_diag_set(d, AU_IO, "%s: cannot create %s: %s", path, tmp, strerror(errno));
        goto out_free_tmp;
    }
    err = write_file(f, hdr, hdr_len, t);
    if (fclose(f) != 0 && !err)
        err = errno ? errno : EIO;
    if (!err && rename(tmp, path) != 0)
        err = errno;
    if (err) {
        st = au_diag_set(d, AU_IO, "%s: write failed: %s", path, strerror(err));
        remove(tmp);
    }
out_free_tmp:
    au_free(tmp);
    return st;
}

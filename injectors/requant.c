/* Re-quantization under corrupted metadata (see requant.h). The table of one (format,
 * metadata) pair costs 2^bits decodes and a sort; metadata campaigns flip the same few
 * words again and again, so a small cache keeps the last tables. */
#include "requant.h"

#include "core/alloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BITS 16
#define N_CACHE  4

struct entry {
    float v;
    uint32_t code;
};

struct table {
    const au_numsys_fmt *fmt;
    uint64_t meta, used;
    size_t block_len, n; /* n finite-or-inf entries, sorted by value */
    int64_t nan_code;    /* a code decoding to NaN, or -1 */
    struct entry *e;     /* 2^bits */
};

struct au_requant {
    struct table t[N_CACHE];
    uint64_t tick;
    uint64_t *codes; /* 2^MAX_BITS + a block: the decode chunks */
    float *vals;
};

int au_requant_new(struct au_requant **out, struct au_diag *d)
{
    *out = au_calloc(1, sizeof(**out));
    if (!*out)
        return au_diag_set(d, AU_NOMEM, "out of memory");
    return AU_OK;
}

void au_requant_free(struct au_requant *r)
{
    if (!r)
        return;
    for (int i = 0; i < N_CACHE; i++)
        au_free(r->t[i].e);
    au_free(r->codes);
    au_free(r->vals);
    au_free(r);
}

static int by_value(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->v != y->v)
        return x->v < y->v ? -1 : 1;
    return x->code < y->code ? -1 : x->code > y->code; /* deterministic order */
}

/* Decodes every code under meta, chunk by chunk (one block per decode call). */
static int build(struct au_requant *r, struct table *t, const au_numsys_fmt *f,
                 const struct au_numsys_blocks *sub, uint64_t meta, struct au_diag *d)
{
    size_t nc = (size_t)1 << au_numsys_fmt_layout(f)->elem_bits, len = sub->numel;
    if (!r->codes) {
        r->codes = au_malloc((((size_t)1 << MAX_BITS) + len + 64) * sizeof(uint64_t));
        r->vals = au_malloc((((size_t)1 << MAX_BITS) + len + 64) * sizeof(float));
    }
    if (!t->e)
        t->e = au_malloc(((size_t)1 << MAX_BITS) * sizeof(struct entry));
    if (!r->codes || !r->vals || !t->e || len > 64 + ((size_t)1 << MAX_BITS))
        return au_diag_set(d, AU_NOMEM, "out of memory for the re-quantization table");
    for (size_t c = 0; c < nc + len; c++)
        r->codes[c] = c < nc ? c : 0;
    for (size_t c0 = 0; c0 < nc; c0 += len) {
        int rc = au_numsys_decode_tensor(f, sub, r->codes + c0, &meta, r->vals + c0, d);
        if (rc < 0)
            return rc;
    }
    t->n = 0;
    t->nan_code = -1;
    for (size_t c = 0; c < nc; c++) {
        if (isnan(r->vals[c]))
            t->nan_code = t->nan_code < 0 ? (int64_t)c : t->nan_code;
        else
            t->e[t->n++] = (struct entry){r->vals[c], (uint32_t)c};
    }
    qsort(t->e, t->n, sizeof(*t->e), by_value);
    t->fmt = f, t->meta = meta, t->block_len = len;
    return AU_OK;
}

static int table_for(struct au_requant *r, const au_numsys_fmt *f,
                     const struct au_numsys_blocks *sub, uint64_t meta, struct table **out,
                     struct au_diag *d)
{
    struct table *t = NULL;
    for (int i = 0; i < N_CACHE; i++) {
        struct table *c = &r->t[i];
        if (c->fmt == f && c->meta == meta && c->block_len == sub->numel) {
            c->used = ++r->tick;
            *out = c;
            return AU_OK;
        }
        if (!t || c->used < t->used)
            t = c;
    }
    t->fmt = NULL; /* invalid until rebuilt */
    int rc = build(r, t, f, sub, meta, d);
    t->used = ++r->tick;
    *out = t;
    return rc;
}

/* Code of the entry nearest to v: ties go to the even code, then to the smaller one. */
static uint32_t nearest(const struct table *t, float v)
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) { /* first entry >= v */
        size_t mid = lo + (hi - lo) / 2;
        if (t->e[mid].v < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == t->n)
        return t->e[t->n - 1].code;
    if (lo == 0 || t->e[lo].v == v)
        return t->e[lo].code;
    const struct entry *a = &t->e[lo - 1], *b = &t->e[lo];
    double da = (double)v - (double)a->v, db = (double)b->v - (double)v;
    if (da != db)
        return da < db ? a->code : b->code;
    if ((a->code & 1) != (b->code & 1))
        return (a->code & 1) ? b->code : a->code;
    return a->code < b->code ? a->code : b->code;
}

int au_requant_block(struct au_requant *r, const au_numsys_fmt *f,
                     const struct au_numsys_blocks *sub, const float *x, uint64_t meta,
                     uint64_t *codes, struct au_diag *d)
{
    const struct au_numsys_layout *l = au_numsys_fmt_layout(f);
    if (l->elem_bits > MAX_BITS)
        return au_diag_set(d, AU_INVALID,
                           "metadata_faults 'requantize' needs elements of at most %d bits; "
                           "this format has %u",
                           MAX_BITS, l->elem_bits);
    if (sub->n_groups != 1 || sub->n_blocks > 1)
        return au_diag_set(d, AU_INVALID, "requantize: one block at a time");
    struct table *t;
    int rc = table_for(r, f, sub, meta, &t, d);
    if (rc < 0)
        return rc;
    if (t->n == 0)
        return au_diag_set(d, AU_PLUGIN, "requantize: every code decodes to NaN");
    for (size_t i = 0; i < sub->numel; i++)
        codes[i] = isnan(x[i]) ? (t->nan_code >= 0 ? (uint64_t)t->nan_code : nearest(t, 0.0f))
                               : nearest(t, x[i]);
    return AU_OK;
}

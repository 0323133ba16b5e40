/* Brute-force checker shared by the number-format plugin tests. A plugin is dlopen()ed by
 * path ($AURUM_PLUGIN_BUILD_DIR/au_<name>.so), no registry needed. For formats of <= 16 bits
 * the decodes of every code under one fixed metadata word are sorted and each probe must
 * give the nearest (tie: even code); plus round trip, monotonicity, symmetry, inf/NaN,
 * stochastic unbiasedness and bit-flip locality. */
#ifndef AU_TEST_FORMAT_CHECK_H
#define AU_TEST_FORMAT_CHECK_H

#include "aurum/numsys.h"
#include "tests/check.h"

#include <dlfcn.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#define FC_MAX_BLOCK 256

struct fc_plugin {
    void *dl;
    const struct au_numsys_desc *desc;
    au_numsys_inst *inst;
    struct au_numsys_layout lay;
};

/* Load au_<name>.so from the build tree; NULL desc (and a message) on failure. */
static inline const struct au_numsys_desc *fc_load(const char *name, void **dl_out)
{
    const char *dir = getenv("AURUM_PLUGIN_BUILD_DIR");
    char path[1024];
    snprintf(path, sizeof(path), "%s/au_%s.so", dir ? dir : ".", name);
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        fprintf(stderr, "cannot load %s: %s\n", path, dlerror());
        return NULL;
    }
    au_numsys_entry_fn entry = (au_numsys_entry_fn)(uintptr_t)dlsym(dl, "au_numsys_entry");
    if (!entry) {
        dlclose(dl);
        return NULL;
    }
    *dl_out = dl;
    return entry();
}

/* Create an instance; returns the create() status and leaves its message in err. */
static inline int fc_create(struct fc_plugin *p, const char *name, const char *params, char *err,
                            size_t err_len)
{
    memset(p, 0, sizeof(*p));
    err[0] = '\0';
    p->desc = fc_load(name, &p->dl);
    if (!p->desc) {
        snprintf(err, err_len, "no plugin %s", name);
        return -1;
    }
    int st = p->desc->create(params, &p->inst, err, err_len);
    if (st == 0)
        p->desc->layout(p->inst, &p->lay);
    return st;
}

static inline void fc_close(struct fc_plugin *p)
{
    if (p->inst)
        p->desc->destroy(p->inst);
    if (p->dl)
        dlclose(p->dl);
    memset(p, 0, sizeof(*p));
}

/* Open or fail the test loudly. */
static inline int fc_open(struct fc_plugin *p, const char *name, const char *params)
{
    char err[256];
    int st = fc_create(p, name, params, err, sizeof(err));
    if (st != 0)
        fprintf(stderr, "create %s %s failed: %s\n", name, params ? params : "{}", err);
    CHECK(st == 0);
    return st;
}

/* Expect create() to fail with a message containing want. */
static inline void fc_expect_error(const char *name, const char *params, const char *want)
{
    struct fc_plugin p;
    char err[256];
    int st = fc_create(&p, name, params, err, sizeof(err));
    CHECK(st < 0);
    CHECK(p.inst == NULL);
    CHECK(strchr(err, '\n') == NULL);
    if (!strstr(err, want)) {
        fprintf(stderr, "%s %s: error '%s' lacks '%s'\n", name, params, err, want);
        CHECK(strstr(err, want) != NULL);
    }
    fc_close(&p);
}

static inline uint32_t fc_f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline int fc_same(float a, float b) /* bitwise, except any NaN equals any NaN */
{
    return (isnan(a) && isnan(b)) || fc_f2u(a) == fc_f2u(b);
}

/* ---- one block around a probe: x[0] = probe, x[1..] = anchors, rest 0 ---- */
struct fc_opts {
    const float *anchor; /* elements that fix the block metadata */
    size_t n_anchor;
    int (*skip_code)(uint64_t code, void *ctx); /* codes outside the nearest set */
    double (*midpoint)(uint64_t lo, uint64_t hi, double a, double b, void *ctx);
    void *ctx;
    int rounding;        /* 0 nearest_even, 1 toward_zero, 2 floor */
    int min_nonzero;     /* nonzero never rounds to 0 (posit) */
    int inf_mode;        /* 0 saturate, 1 NaN (posit NaR), 2 keeps inf */
    int no_symmetry;     /* asymmetric value sets (asymmetric int) */
    uint64_t tie_offset; /* ties go to even (code - tie_offset): asymmetric int's zero point */
    int n_random;
};

struct fc_blk {
    size_t len;
    float x[FC_MAX_BLOCK], y[FC_MAX_BLOCK];
    uint64_t codes[FC_MAX_BLOCK], meta[FC_MAX_BLOCK];
};

static inline size_t fc_block_len(const struct fc_plugin *p, const struct fc_opts *o)
{
    if (p->lay.block_kind == AU_BLOCK_ELEMS)
        return p->lay.block_len;
    return o->n_anchor + 1;
}

/* Encode + decode a block with x[0] = v; returns encode's status. */
static inline int fc_run(const struct fc_plugin *p, const struct fc_opts *o, struct fc_blk *b,
                         float v, struct au_pcg32 *rng)
{
    b->len = fc_block_len(p, o);
    memset(b->x, 0, sizeof(b->x));
    b->x[0] = v;
    for (size_t i = 0; i < o->n_anchor && i + 1 < b->len; i++)
        b->x[i + 1] = o->anchor[i];
    int st = p->desc->encode(p->inst, b->x, b->len, b->codes, b->meta, rng);
    p->desc->decode(p->inst, b->codes, b->meta, b->len, b->y);
    return st;
}

/* ---- sorted value table under fixed metadata ---- */
struct fc_entry {
    double v;
    uint64_t code;
};

struct fc_table {
    struct fc_entry *e;
    size_t n;
    uint64_t meta0;
    int has_meta, has_nan, has_negzero;
    double vmin, vmax;
};

static inline int fc_entry_cmp(const void *a, const void *b)
{
    const struct fc_entry *x = a, *y = b;
    if (x->v != y->v)
        return x->v < y->v ? -1 : 1;
    return x->code < y->code ? -1 : x->code > y->code;
}

static inline void fc_table_build(const struct fc_plugin *p, const struct fc_opts *o,
                                  struct fc_table *t)
{
    struct fc_blk b;
    size_t nc = (size_t)1 << p->lay.elem_bits;
    memset(t, 0, sizeof(*t));
    fc_run(p, o, &b, 0.0f, NULL);
    t->meta0 = b.meta[0];
    t->has_meta = p->lay.meta_bits > 0;
    t->e = malloc(nc * sizeof(*t->e));
    uint64_t *codes = malloc(nc * sizeof(*codes)), *meta = malloc(nc * sizeof(*meta));
    float *y = malloc(nc * sizeof(*y));
    for (size_t c = 0; c < nc; c++) {
        codes[c] = c;
        meta[c] = t->meta0;
    }
    /* Decode code by code in blocks-of-one-meta: all codes share meta0. */
    size_t bl = p->lay.block_kind == AU_BLOCK_ELEMS ? p->lay.block_len : nc;
    for (size_t c = 0; c < nc; c += bl) {
        size_t m = nc - c < bl ? nc - c : bl;
        p->desc->decode(p->inst, codes + c, meta, m, y + c);
    }
    for (size_t c = 0; c < nc; c++) {
        if (isnan(y[c])) {
            t->has_nan = 1;
            continue;
        }
        if (y[c] == 0 && signbit(y[c]))
            t->has_negzero = 1;
        if (o->skip_code && o->skip_code(c, o->ctx))
            continue;
        t->e[t->n].v = y[c];
        t->e[t->n++].code = c;
    }
    qsort(t->e, t->n, sizeof(*t->e), fc_entry_cmp);
    t->vmin = t->e[0].v;
    t->vmax = t->e[t->n - 1].v;
    free(codes);
    free(meta);
    free(y);
}

/* Index of the last entry with value <= x (x within [vmin, vmax]). */
static inline size_t fc_floor_idx(const struct fc_table *t, double x)
{
    size_t lo = 0, hi = t->n;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (t->e[mid].v <= x)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static inline int fc_value_has_even_code(const struct fc_table *t, size_t i, uint64_t off)
{
    double v = t->e[i].v;
    while (i > 0 && t->e[i - 1].v == v)
        i--;
    for (; i < t->n && t->e[i].v == v; i++)
        if (((t->e[i].code - off) & 1u) == 0)
            return 1;
    return 0;
}

/* The value the format should produce for x under meta0. */
static inline double fc_expect(const struct fc_table *t, const struct fc_opts *o, double x)
{
    if (x <= t->vmin)
        return t->vmin;
    if (x >= t->vmax)
        return t->vmax;
    size_t i = fc_floor_idx(t, x), j = i + 1;
    double a = t->e[i].v;
    if (a == x)
        return a;
    while (t->e[j].v == a)
        j++;
    double b = t->e[j].v, r;
    if (o->rounding == 2)
        r = a;
    else if (o->rounding == 1)
        r = x > 0 ? a : b;
    else {
        double mid =
            o->midpoint ? o->midpoint(t->e[i].code, t->e[j].code, a, b, o->ctx) : a + (b - a) / 2;
        r = x < mid ? a : x > mid ? b : (fc_value_has_even_code(t, i, o->tie_offset) ? a : b);
    }
    if (o->min_nonzero && r == 0 && x != 0)
        r = x > 0 ? b : a;
    return r;
}

/* Probe inputs: every value, its float neighbours, midpoints and their neighbours. */
static inline size_t fc_probes(const struct fc_table *t, float *out, size_t cap,
                               struct au_pcg32 *rng, int n_random)
{
    size_t n = 0;
    float vmax = (float)t->vmax, vmin = (float)t->vmin;
    for (size_t i = 0; i < t->n && n + 8 < cap; i++) {
        float v = (float)t->e[i].v;
        out[n++] = v;
        out[n++] = nextafterf(v, INFINITY);
        out[n++] = nextafterf(v, -INFINITY);
        if (i + 1 < t->n && t->e[i + 1].v != t->e[i].v) {
            float mid = (float)(t->e[i].v + (t->e[i + 1].v - t->e[i].v) / 2);
            out[n++] = mid;
            out[n++] = nextafterf(mid, INFINITY);
            out[n++] = nextafterf(mid, -INFINITY);
        }
    }
    out[n++] = 0.0f;
    out[n++] = -0.0f;
    out[n++] = vmax * 1.5f;
    out[n++] = vmin * 1.5f;
    for (int k = 0; k < n_random && n < cap; k++) {
        double u = au_pcg32_uniform(rng) * 2.2 - 1.1;
        float r = (float)(u > 0 ? u * vmax : -u * vmin);
        /* Half the draws are log-uniform so tiny magnitudes are covered too. */
        if (k & 1)
            r = (float)ldexp(r, -(int)(au_pcg32_next(rng) % 24u));
        out[n++] = r;
    }
    return n;
}

static inline int fc_float_cmp(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

/* Nearest/round-trip/monotone/symmetry/inf/NaN checks; returns number of failures. */
static inline int fc_check_format(const struct fc_plugin *p, const struct fc_opts *o)
{
    int fails0 = check_failures_;
    struct fc_table t;
    struct fc_blk b;
    struct au_pcg32 rng;
    au_pcg32_seed(&rng, check_seed(), 11u);
    CHECK(p->lay.elem_bits <= 16);
    CHECK(fc_block_len(p, o) <= FC_MAX_BLOCK);
    fc_table_build(p, o, &t);
    CHECK(!(p->lay.flags & AU_LAYOUT_NO_NAN) || !t.has_nan); /* the layout's promises */
    CHECK(!(p->lay.flags & AU_LAYOUT_NO_INF) || (isfinite(t.vmin) && isfinite(t.vmax)));
    size_t cap = t.n * 6 + 16 + (size_t)o->n_random, n_bad = 0;
    float *pr = malloc(cap * sizeof(*pr)), *res = malloc(cap * sizeof(*res));
    size_t np = fc_probes(&t, pr, cap, &rng, o->n_random);
    qsort(pr, np, sizeof(*pr), fc_float_cmp);
    double symr = fmin(-t.vmin, t.vmax);
    for (size_t i = 0; i < np; i++) {
        fc_run(p, o, &b, pr[i], NULL);
        res[i] = NAN;
        if (t.has_meta && b.meta[0] != t.meta0) {
            CHECK(pr[i] < t.vmin || pr[i] > t.vmax); /* only out-of-range probes move it */
            continue;
        }
        res[i] = b.y[0];
        double want = fc_expect(&t, o, pr[i]);
        int ok = b.y[0] == want;
        if (ok && want == 0 && t.has_negzero && o->rounding != 2)
            ok = signbit(b.y[0]) == signbit(pr[i]);
        if (!ok && n_bad++ < 8)
            fprintf(stderr, "%s: x=%.9g got %.9g want %.9g (code 0x%llx)\n", p->desc->name,
                    (double)pr[i], (double)b.y[0], want, (unsigned long long)b.codes[0]);
        CHECK(ok);
    }
    /* monotone over the sorted probes (skipping metadata-moving ones) */
    float last = -INFINITY;
    for (size_t i = 0; i < np; i++) {
        if (isnan(res[i]))
            continue;
        CHECK(res[i] >= last);
        last = res[i];
    }
    /* sign symmetry where the value set is symmetric */
    for (size_t i = 0; i < np && !o->no_symmetry && o->rounding != 2; i++) {
        if (isnan(res[i]) || fabsf(pr[i]) > symr)
            continue;
        fc_run(p, o, &b, -pr[i], NULL);
        CHECK(b.y[0] == -res[i]);
    }
    /* round trip: decode(encode(decode(c))) == decode(c) */
    for (size_t i = 0; i < t.n; i++) {
        fc_run(p, o, &b, (float)t.e[i].v, NULL);
        CHECK(b.y[0] == (float)t.e[i].v);
        CHECK(!t.has_meta || b.meta[0] == t.meta0);
    }
    /* inf and NaN */
    for (int s = -1; s <= 1; s += 2) {
        fc_run(p, o, &b, s * INFINITY, NULL);
        if (o->inf_mode == 1)
            CHECK(isnan(b.y[0]));
        else if (o->inf_mode == 2)
            CHECK(b.y[0] == s * INFINITY);
        else
            CHECK(b.y[0] == (s > 0 ? t.vmax : t.vmin));
        CHECK(!t.has_meta || b.meta[0] == t.meta0);
    }
    int st = fc_run(p, o, &b, NAN, NULL);
    if (t.has_nan) {
        CHECK(isnan(b.y[0]));
        CHECK(st == 0);
    } else {
        CHECK(b.y[0] == 0);
        CHECK(st == 1); /* the plugin reports NaN inputs it had to map to 0 */
    }
    free(pr);
    free(res);
    free(t.e);
    return check_failures_ - fails0;
}

/* Stochastic rounding of x (inside the block of o) is unbiased and lands on a neighbour. */
static inline void fc_check_stochastic(const struct fc_plugin *p, const struct fc_opts *o, float x,
                                       double a, double b, int n)
{
    struct fc_blk blk;
    struct au_pcg32 rng;
    au_pcg32_seed(&rng, check_seed(), 7u);
    double sum = 0;
    int n_up = 0, n_other = 0;
    for (int i = 0; i < n; i++) {
        fc_run(p, o, &blk, x, &rng);
        double y = blk.y[0];
        n_up += y == b;
        n_other += y != a && y != b;
        sum += y;
    }
    double pu = (x - a) / (b - a), sd = (b - a) * sqrt(pu * (1 - pu) / n);
    CHECK(n_other == 0);
    CHECK_NEAR(sum / n, (double)x, 5 * sd + 1e-12 * fabs(x));
    CHECK_NEAR((double)n_up / n, pu, 5 * sqrt(pu * (1 - pu) / n) + 1e-12);
}

/* Bit-flip locality on n elements (several blocks): a metadata flip changes only
 * elements of its block (and at least one of them); an element flip only that element. */
static inline void fc_check_flips(const struct fc_plugin *p, const float *x, size_t n)
{
    const struct au_numsys_layout *l = &p->lay;
    size_t bl = l->block_kind == AU_BLOCK_ELEMS ? l->block_len : n;
    size_t nb = l->meta_bits ? (n + bl - 1) / bl : 1;
    uint64_t *c = calloc(n, 8), *m = calloc(nb, 8), *c2 = calloc(n, 8), *m2 = calloc(nb, 8);
    float *y = calloc(n, 4), *y2 = calloc(n, 4);
    struct au_pcg32 rng;
    au_pcg32_seed(&rng, check_seed(), 3u);
    CHECK(p->desc->encode(p->inst, x, n, c, m, &rng) >= 0);
    p->desc->decode(p->inst, c, m, n, y);
    for (size_t blk = 0; blk < nb && l->meta_bits; blk++) {
        for (uint32_t k = 0; k < l->meta_bits; k++) {
            memcpy(m2, m, nb * 8);
            m2[blk] ^= 1ull << k;
            p->desc->decode(p->inst, c, m2, n, y2);
            int changed = 0;
            for (size_t i = 0; i < n; i++) {
                int in = i / bl == blk, diff = !fc_same(y[i], y2[i]);
                CHECK(!(l->flags & AU_LAYOUT_NO_NAN) || !isnan(y2[i])); /* promised flags */
                CHECK(!(l->flags & AU_LAYOUT_NO_INF) || !isinf(y2[i]));
                changed += in && diff;
                CHECK(in || !diff);
            }
            CHECK(changed > 0);
        }
    }
    for (size_t i = 0; i < n; i += 1 + n / 7) {
        for (uint32_t k = 0; k < l->elem_bits; k++) {
            memcpy(c2, c, n * 8);
            c2[i] ^= 1ull << k;
            p->desc->decode(p->inst, c2, m, n, y2);
            for (size_t j = 0; j < n; j++)
                CHECK(fc_same(y[j], y2[j]) == (j != i));
            CHECK(!(l->flags & AU_LAYOUT_NO_NAN) || !isnan(y2[i]));
            CHECK(!(l->flags & AU_LAYOUT_NO_INF) || !isinf(y2[i]));
        }
    }
    free(c), free(m), free(c2), free(m2), free(y), free(y2);
}

/* Layout sanity: fields inside the word, non-overlapping, named. */
static inline void fc_check_layout(const struct fc_plugin *p)
{
    const struct au_numsys_layout *l = &p->lay;
    uint64_t used = 0;
    for (uint32_t i = 0; i < l->n_elem_fields; i++) {
        const struct au_bitfield *f = &l->elem_fields[i];
        CHECK(f->name && f->width > 0 && f->lsb + f->width <= l->elem_bits);
        uint64_t mask = (f->width >= 64 ? ~0ull : ((1ull << f->width) - 1)) << f->lsb;
        CHECK((used & mask) == 0);
        used |= mask;
    }
    CHECK_EQ_U64(used, l->elem_bits >= 64 ? ~0ull : (1ull << l->elem_bits) - 1);
    used = 0;
    for (uint32_t i = 0; i < l->n_meta_fields; i++) {
        const struct au_bitfield *f = &l->meta_fields[i];
        CHECK(f->name && f->width > 0 && f->lsb + f->width <= l->meta_bits);
        uint64_t mask = (f->width >= 64 ? ~0ull : ((1ull << f->width) - 1)) << f->lsb;
        CHECK((used & mask) == 0);
        used |= mask;
    }
    CHECK_EQ_U64(used, l->meta_bits >= 64 ? ~0ull : (1ull << l->meta_bits) - 1);
}

/* Field lookup by name; -1 if absent. */
static inline int fc_field_lsb(const struct au_bitfield *f, uint32_t n, const char *name, int *w)
{
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(f[i].name, name) == 0) {
            if (w)
                *w = f[i].width;
            return f[i].lsb;
        }
    return -1;
}

/* The block parameter takes a count or the words tensor/channel (ABI: INT with words). */
static inline void fc_check_block_words(const char *name)
{
    struct fc_plugin p;
    if (fc_open(&p, name, "{\"block\":\"tensor\"}") == 0)
        CHECK_EQ_INT(p.lay.block_kind, AU_BLOCK_TENSOR);
    fc_close(&p);
    if (fc_open(&p, name, "{\"block\":\"channel\",\"granularity\":\"block\"}") == 0)
        CHECK_EQ_INT(p.lay.block_kind, AU_BLOCK_CHANNEL); /* the word overrides granularity */
    fc_close(&p);
    if (fc_open(&p, name, "{\"block\":8,\"granularity\":\"block\"}") == 0) {
        CHECK_EQ_INT(p.lay.block_kind, AU_BLOCK_ELEMS);
        CHECK_EQ_INT(p.lay.block_len, 8);
    }
    fc_close(&p);
    fc_expect_error(name, "{\"block\":\"rows\"}", "or one of tensor|channel");
}

/* Check every preset creates and every param default is accepted. */
static inline void fc_check_presets(const char *name)
{
    void *dl = NULL;
    const struct au_numsys_desc *d = fc_load(name, &dl);
    CHECK(d != NULL);
    if (!d)
        return;
    CHECK(d->abi_version == AU_NUMSYS_ABI_VERSION);
    CHECK(d->struct_size >= sizeof(struct au_numsys_desc));
    CHECK(strcmp(d->name, name) == 0);
    for (uint32_t i = 0; i < d->n_presets; i++) {
        au_numsys_inst *in = NULL;
        char err[256];
        int st = d->create(d->presets[i].params_json, &in, err, sizeof(err));
        if (st)
            fprintf(stderr, "preset %s: %s\n", d->presets[i].name, err);
        CHECK(st == 0);
        if (in)
            d->destroy(in);
    }
    for (uint32_t i = 0; i < d->n_params; i++)
        CHECK(d->params[i].name && d->params[i].dflt && d->params[i].help);
    au_numsys_inst *in = NULL; /* every parameter has a default: "{}" and NULL create */
    char err[256];
    CHECK(d->create("{}", &in, err, sizeof(err)) == 0);
    if (in)
        d->destroy(in);
    in = NULL;
    CHECK(d->create(NULL, &in, err, sizeof(err)) == 0);
    if (in)
        d->destroy(in);
    dlclose(dl);
}

/* The fused quantize equals decode(encode(x)) bit for bit (same rng stream), on n random
 * values spread over [-range, range] with some NaN, inf, zeros and tiny values mixed in. */
static inline void fc_check_quantize_matches(const struct fc_plugin *p, size_t n, float range)
{
    float *x = malloc(n * 4), *y = malloc(n * 4), *z = malloc(n * 4);
    uint64_t *c = malloc(n * 8), *m = malloc(n * 8);
    struct au_pcg32 rng, r1, r2;
    au_pcg32_seed(&rng, check_seed(), 5u);
    for (size_t i = 0; i < n; i++) {
        double u = au_pcg32_uniform(&rng) * 2 - 1;
        uint32_t k = au_pcg32_next(&rng) % 64u;
        x[i] = (float)(u * range);
        if (k < 8)
            x[i] = ldexpf(x[i], -(int)(au_pcg32_next(&rng) % 40u));
        else if (k == 8)
            x[i] = 0.0f;
        else if (k == 9)
            x[i] = -0.0f;
        else if (k == 10)
            x[i] = x[i] * 1e3f;
    }
    if (n > 40) {
        x[3] = NAN;
        x[17] = INFINITY;
        x[29] = -INFINITY;
    }
    au_pcg32_seed(&r1, 99, 4);
    au_pcg32_seed(&r2, 99, 4);
    int st1 = p->desc->encode(p->inst, x, n, c, m, &r1);
    p->desc->decode(p->inst, c, m, n, y);
    memcpy(z, x, n * 4);
    int st2 = p->desc->quantize ? p->desc->quantize(p->inst, z, n, &r2) : st1;
    CHECK(st1 >= 0);
    CHECK_EQ_INT(st1, st2);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (!fc_same(y[i], z[i]) && bad++ < 5)
            fprintf(stderr, "%s: quantize(%.9g) = %.9g but decode(encode) = %.9g\n", p->desc->name,
                    (double)x[i], (double)z[i], (double)y[i]);
    }
    CHECK(bad == 0);
    /* encode_at (optional): element i's code and its block's metadata, as encode gives
     * them; compared where rounding is deterministic (encode accepts a NULL rng). */
    uint64_t c0, m0 = 0;
    if (p->desc->struct_size >= offsetof(struct au_numsys_desc, encode_at) + sizeof(void *) &&
        p->desc->encode_at && p->desc->encode(p->inst, x, 1, &c0, &m0, NULL) >= 0) {
        size_t bl = p->lay.block_kind == AU_BLOCK_ELEMS ? p->lay.block_len : n, wrong = 0;
        for (size_t k = 0; k < 300; k++) {
            size_t i = k < 4 ? (size_t[]){0, 3, 17, n - 1}[k] % n : au_pcg32_next(&rng) % n;
            size_t b0 = i / bl * bl, len = n - b0 < bl ? n - b0 : bl;
            uint64_t code = ~0ULL, meta = 0;
            int st = p->desc->encode_at(p->inst, x + b0, len, i - b0, &code, &meta, NULL);
            CHECK(st >= 0);
            wrong += code != c[i] || (p->lay.meta_bits && meta != m[b0 / bl]);
        }
        CHECK_EQ_INT(wrong, 0);
    }
    free(x), free(y), free(z), free(c), free(m);
}

/* Seconds of thread CPU time, for the (informative) speed measurement. */
#include <time.h>
static inline double fc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* CPU time: the machine is shared */
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Time quantize on 16M floats against memcpy; prints and returns the ratio. */
static inline double fc_speed(const struct fc_plugin *p, const char *label)
{
    size_t n = (size_t)1 << 24;
    float *x = malloc(n * 4), *z = malloc(n * 4);
    struct au_pcg32 rng;
    au_pcg32_seed(&rng, 1, 1);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((au_pcg32_uniform(&rng) - 0.5) * 8.0);
    memcpy(z, x, n * 4); /* warm up pages */
    double best_mc = 1e9, best_q = 1e9;
    for (int r = 0; r < 3; r++) {
        double t0 = fc_now();
        memcpy(z, x, n * 4);
        double t1 = fc_now();
        p->desc->quantize(p->inst, z, n, &rng);
        double t2 = fc_now();
        best_mc = fmin(best_mc, t1 - t0);
        best_q = fmin(best_q, t2 - t1);
    }
    double ratio = best_q / best_mc;
    printf("speed %-28s quantize %.1f ms, memcpy %.1f ms, ratio %.2f\n", label, best_q * 1e3,
           best_mc * 1e3, ratio);
    free(x);
    free(z);
    return ratio;
}

#endif

/* Site spaces and site sampling. Each tensor keeps a cumulative table over its "classes"
 * (codes or metadata x bit position, weight = count x lambda) and the space keeps prefix
 * sums of Lambda_l and Lambda_l T_l over tensors, so a Poisson flip costs two binary
 * searches and one uniform index. Tables are rebuilt on every add/set_rate (cheap,
 * O(tensors)), so there is no separate "finalize" step to forget.
 */
#include "injectors/sites.h"

#include "core/alloc.h"
#include "injectors/poisson.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_CLASSES 128 /* 64 code positions + 64 metadata positions */

struct tensor_rec {
    struct au_site_tensor desc; /* desc.name points at name */
    char *name;
    double rate[2][64];     /* [AU_FAULT_ELEM / AU_FAULT_META][bit] */
    uint8_t n_targets[2];   /* targeted positions of codes / metadata */
    uint8_t targets[2][64]; /* their bit numbers, ascending */
    uint64_t n_sites_of[2]; /* count x n_targets */
    uint32_t n_cls;         /* classes with positive weight */
    uint8_t cls_target[MAX_CLASSES], cls_bit[MAX_CLASSES];
    double cls_cum[MAX_CLASSES]; /* cumulative weights; last = lambda */
    double lambda;               /* Lambda_l */
};

struct au_site_space {
    struct tensor_rec *t;
    uint32_t n, cap;
    double *cum_lambda, *cum_lt; /* prefix sums of Lambda_l and Lambda_l T_l */
};

static const char *tname(const struct tensor_rec *t)
{
    return t->name ? t->name : "(unnamed tensor)";
}

int au_site_space_new(au_site_space **out, struct au_diag *d)
{
    *out = au_calloc(1, sizeof(**out));
    return *out ? AU_OK : au_diag_set(d, AU_NOMEM, "sites: out of memory");
}

void au_site_space_free(au_site_space *s)
{
    if (!s)
        return;
    for (uint32_t i = 0; i < s->n; i++)
        au_free(s->t[i].name);
    au_free(s->t);
    au_free(s->cum_lambda);
    au_free(s->cum_lt);
    au_free(s);
}

/* Rebuilds a tensor's class table and Lambda_l from its masks and rates. */
static void build_classes(struct tensor_rec *t)
{
    const size_t count[2] = {t->desc.n_elem, t->desc.n_blocks};
    const uint64_t mask[2] = {t->desc.elem_mask, t->desc.meta_mask};
    double acc = 0.0;
    t->n_cls = 0;
    for (uint32_t tg = 0; tg < 2; tg++) {
        for (uint32_t b = 0; b < 64; b++) {
            double w = (double)count[tg] * t->rate[tg][b];
            if (!((mask[tg] >> b) & 1u) || !(w > 0.0))
                continue;
            acc += w;
            t->cls_target[t->n_cls] = (uint8_t)tg;
            t->cls_bit[t->n_cls] = (uint8_t)b;
            t->cls_cum[t->n_cls++] = acc;
        }
    }
    t->lambda = acc;
}

static void build_prefix(au_site_space *s)
{
    double a = 0.0, b = 0.0;
    for (uint32_t i = 0; i < s->n; i++) {
        a += s->t[i].lambda;
        b += s->t[i].lambda * s->t[i].desc.live_time;
        s->cum_lambda[i] = a;
        s->cum_lt[i] = b;
    }
}

static int grow(au_site_space *s, struct au_diag *d)
{
    if (s->n < s->cap)
        return AU_OK;
    uint32_t cap = s->cap ? 2 * s->cap : 8;
    struct tensor_rec *t = au_realloc(s->t, cap * sizeof(*t));
    if (t)
        s->t = t;
    double *a = t ? au_realloc(s->cum_lambda, cap * sizeof(*a)) : NULL;
    if (a)
        s->cum_lambda = a;
    double *b = a ? au_realloc(s->cum_lt, cap * sizeof(*b)) : NULL;
    if (!b)
        return au_diag_set(d, AU_NOMEM, "sites: out of memory adding tensor %u", s->n);
    s->cum_lt = b;
    s->cap = cap;
    return AU_OK;
}

static uint64_t width_mask(uint32_t bits)
{
    return bits >= 64 ? UINT64_MAX : (1ULL << bits) - 1u;
}

/* Checks one tensor description; name is the tensor's name for messages. */
static int check_desc(const struct au_site_tensor *t, const char *name, struct au_diag *d)
{
    if (t->n_elem == 0)
        return au_diag_set(d, AU_INVALID, "%s: n_elem is 0 (a tensor needs elements)", name);
    if (t->elem_bits < 1 || t->elem_bits > 64 || t->meta_bits > 64)
        return au_diag_set(d, AU_RANGE, "%s: elem_bits %u / meta_bits %u outside 1..64 / 0..64",
                           name, t->elem_bits, t->meta_bits);
    if (t->elem_mask & ~width_mask(t->elem_bits))
        return au_diag_set(d, AU_RANGE, "%s: elem_mask targets bit %d of %u-bit codes", name,
                           63 - __builtin_clzll(t->elem_mask), t->elem_bits);
    if (t->meta_mask && (t->meta_bits == 0 || t->n_blocks == 0))
        return au_diag_set(d, AU_INVALID, "%s: meta_mask set but the tensor has no metadata", name);
    if (t->meta_mask & ~width_mask(t->meta_bits))
        return au_diag_set(d, AU_RANGE, "%s: meta_mask targets bit %d of %u-bit metadata", name,
                           63 - __builtin_clzll(t->meta_mask), t->meta_bits);
    if (!(t->rate >= 0.0) || isinf(t->rate))
        return au_diag_set(d, AU_RANGE, "%s: rate %g is not a finite value >= 0", name, t->rate);
    if (!(t->live_time >= 0.0) || isinf(t->live_time))
        return au_diag_set(d, AU_RANGE, "%s: live_time %g is not a finite value >= 0", name,
                           t->live_time);
    return AU_OK;
}

/* Counts targeted sites and lists targeted positions; AU_OVERFLOW past 2^64. */
static int count_sites(struct tensor_rec *r, struct au_diag *d)
{
    const size_t count[2] = {r->desc.n_elem, r->desc.n_blocks};
    const uint64_t mask[2] = {r->desc.elem_mask, r->desc.meta_mask};
    for (int tg = 0; tg < 2; tg++) {
        r->n_targets[tg] = 0;
        for (uint32_t b = 0; b < 64; b++)
            if ((mask[tg] >> b) & 1u)
                r->targets[tg][r->n_targets[tg]++] = (uint8_t)b;
        if (__builtin_mul_overflow((uint64_t)count[tg], (uint64_t)r->n_targets[tg],
                                   &r->n_sites_of[tg]))
            return au_diag_set(d, AU_OVERFLOW, "%s: too many sites to count", tname(r));
    }
    uint64_t total;
    if (__builtin_add_overflow(r->n_sites_of[0], r->n_sites_of[1], &total))
        return au_diag_set(d, AU_OVERFLOW, "%s: too many sites to count", tname(r));
    return AU_OK;
}

int au_site_space_add(au_site_space *s, const struct au_site_tensor *t, uint32_t *index,
                      struct au_diag *d)
{
    char fallback[32];
    snprintf(fallback, sizeof(fallback), "tensor %u", s->n);
    int rc = check_desc(t, t->name ? t->name : fallback, d);
    if (rc < 0)
        return rc;
    if (s->n == UINT32_MAX)
        return au_diag_set(d, AU_OVERFLOW, "sites: too many tensors");
    if ((rc = grow(s, d)) < 0)
        return rc;
    struct tensor_rec *r = &s->t[s->n];
    memset(r, 0, sizeof(*r));
    r->desc = *t;
    if (t->name && !(r->name = au_strdup(t->name)))
        return au_diag_set(d, AU_NOMEM, "%s: out of memory", t->name);
    r->desc.name = r->name;
    if ((rc = count_sites(r, d)) < 0) {
        au_free(r->name);
        return rc;
    }
    for (int b = 0; b < 64; b++)
        r->rate[0][b] = r->rate[1][b] = t->rate;
    build_classes(r);
    if (!isfinite(r->lambda) || !isfinite(r->lambda * t->live_time)) {
        au_free(r->name);
        return au_diag_set(d, AU_RANGE, "%s: total rate overflows", t->name ? t->name : fallback);
    }
    if (index)
        *index = s->n;
    s->n++;
    build_prefix(s);
    return AU_OK;
}

int au_site_space_set_rate(au_site_space *s, uint32_t tensor, uint32_t target, uint64_t bits,
                           double rate, struct au_diag *d)
{
    if (tensor >= s->n)
        return au_diag_set(d, AU_RANGE, "sites: tensor %u out of range (%u tensors)", tensor, s->n);
    struct tensor_rec *r = &s->t[tensor];
    if (target > AU_FAULT_META)
        return au_diag_set(d, AU_RANGE, "%s: unknown target %u", tname(r), target);
    uint32_t width = target == AU_FAULT_META ? r->desc.meta_bits : r->desc.elem_bits;
    if (bits & ~width_mask(width))
        return au_diag_set(d, AU_RANGE, "%s: rate for bit %d of %u-bit %s", tname(r),
                           63 - __builtin_clzll(bits), width,
                           target == AU_FAULT_META ? "metadata" : "codes");
    if (!(rate >= 0.0) || isinf(rate))
        return au_diag_set(d, AU_RANGE, "%s: rate %g is not a finite value >= 0", tname(r), rate);
    double old[64];
    memcpy(old, r->rate[target], sizeof(old));
    for (uint32_t b = 0; b < 64; b++)
        if ((bits >> b) & 1u)
            r->rate[target][b] = rate;
    build_classes(r);
    if (!isfinite(r->lambda) || !isfinite(r->lambda * r->desc.live_time)) {
        memcpy(r->rate[target], old, sizeof(old));
        build_classes(r);
        return au_diag_set(d, AU_RANGE, "%s: total rate overflows with rate %g", tname(r), rate);
    }
    build_prefix(s);
    return AU_OK;
}

uint32_t au_site_space_count(const au_site_space *s)
{
    return s->n;
}

uint64_t au_site_space_n_sites(const au_site_space *s, uint32_t tensor)
{
    if (tensor >= s->n)
        return 0;
    return s->t[tensor].n_sites_of[0] + s->t[tensor].n_sites_of[1];
}

double au_site_space_rate(const au_site_space *s, uint32_t tensor)
{
    return tensor < s->n ? s->t[tensor].lambda : 0.0;
}

/* ---- sampling ---- */

/* Uniform integer in [0, n), n >= 1, without bias: Lemire's multiply-shift with
 * rejection below 2^32, a masked 64-bit draw with rejection above. */
static uint64_t below(struct au_pcg32 *r, uint64_t n)
{
    if (n > (1ULL << 32)) {
        uint64_t mask = UINT64_MAX >> __builtin_clzll(n - 1);
        for (;;) {
            uint64_t hi = au_pcg32_next(r);
            uint64_t v = ((hi << 32) | au_pcg32_next(r)) & mask;
            if (v < n)
                return v;
        }
    }
    if (n == (1ULL << 32))
        return au_pcg32_next(r);
    uint32_t n32 = (uint32_t)n;
    uint64_t m = (uint64_t)au_pcg32_next(r) * n32;
    if ((uint32_t)m < n32) {
        uint32_t threshold = (0u - n32) % n32;
        while ((uint32_t)m < threshold)
            m = (uint64_t)au_pcg32_next(r) * n32;
    }
    return m >> 32;
}

/* First i < n with cum[i] > x; x < cum[n - 1] picks an entry of positive weight. */
static uint32_t search(const double *cum, uint32_t n, double x)
{
    uint32_t lo = 0, hi = n - 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (cum[mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* One site of tensor idx by lambda (lambda > 0): class by weight, then the index. */
static void draw_in_tensor(const au_site_space *s, uint32_t idx, struct au_pcg32 *r,
                           struct au_site *out)
{
    const struct tensor_rec *t = &s->t[idx];
    uint32_t c = search(t->cls_cum, t->n_cls, au_poisson_uniform(r) * t->lambda);
    uint32_t tg = t->cls_target[c];
    out->tensor = idx;
    out->fault.target = tg;
    out->fault.kind = AU_FAULT_FLIP;
    out->fault.bit = t->cls_bit[c];
    out->fault.index = (size_t)below(r, tg == AU_FAULT_META ? t->desc.n_blocks : t->desc.n_elem);
}

/* A checked process with the tensor weights w_l (Lambda_l model-wide, Lambda_l T_l
 * layer-wise) summed, and mu = t x total or total. */
struct plan {
    const au_site_space *s;
    const struct au_sites_process *p;
    const double *cum; /* prefix of w over all tensors */
    double total, mu;
};

static double weight(const au_site_space *s, uint32_t timing, uint32_t l)
{
    const struct tensor_rec *t = &s->t[l];
    return timing == AU_SITES_LAYER_WISE ? t->lambda * t->desc.live_time : t->lambda;
}

static int plan_init(struct plan *pl, const au_site_space *s, const struct au_sites_process *p,
                     struct au_diag *d)
{
    if (p->timing > AU_SITES_LAYER_WISE)
        return au_diag_set(d, AU_RANGE, "sites: unknown timing %u", p->timing);
    bool model = p->timing == AU_SITES_MODEL_WIDE;
    if (model && (!(p->t >= 0.0) || isinf(p->t)))
        return au_diag_set(d, AU_RANGE, "sites: time t %g is not a finite value >= 0", p->t);
    pl->s = s;
    pl->p = p;
    pl->cum = model ? s->cum_lambda : s->cum_lt;
    pl->total = 0.0;
    if (!p->tensors) {
        pl->total = s->n ? pl->cum[s->n - 1] : 0.0;
    } else {
        for (size_t i = 0; i < p->n_tensors; i++) {
            uint32_t l = p->tensors[i];
            if (l >= s->n)
                return au_diag_set(d, AU_RANGE, "sites: tensor %u out of range (%u tensors)", l,
                                   s->n);
            if (i > 0 && l <= p->tensors[i - 1])
                return au_diag_set(d, AU_INVALID,
                                   "sites: tensor subset not strictly ascending "
                                   "at position %zu (%u after %u)",
                                   i, l, p->tensors[i - 1]);
            pl->total += weight(s, p->timing, l);
        }
    }
    pl->mu = model ? p->t * pl->total : pl->total;
    if (!isfinite(pl->mu))
        return au_diag_set(d, AU_RANGE, "sites: mean number of flips overflows (t %g)", p->t);
    return AU_OK;
}

/* A tensor with probability w_l / total (total > 0). */
static uint32_t pick_tensor(const struct plan *pl, struct au_pcg32 *r)
{
    double x = au_poisson_uniform(r) * pl->total;
    if (!pl->p->tensors)
        return search(pl->cum, pl->s->n, x);
    double acc = 0.0;
    uint32_t last = 0;
    for (size_t i = 0; i < pl->p->n_tensors; i++) {
        uint32_t l = pl->p->tensors[i];
        double w = weight(pl->s, pl->p->timing, l);
        if (!(w > 0.0))
            continue;
        acc += w;
        last = l;
        if (acc > x)
            return l;
    }
    return last; /* rounding: the sum in this order fell a hair short of x */
}

/* n_flips flips, each in a tensor by weight, then a site by lambda. */
static int draw_flips(const struct plan *pl, uint64_t n_flips, struct au_pcg32 *r,
                      struct au_site *out, size_t max, size_t *n, struct au_diag *d)
{
    *n = n_flips > SIZE_MAX ? SIZE_MAX : (size_t)n_flips;
    if (n_flips > max)
        return au_diag_set(d, AU_RANGE,
                           "sites: trial drew %llu flips, more than the %zu the "
                           "buffer holds (mean %g)",
                           (unsigned long long)n_flips, max, pl->mu);
    for (size_t i = 0; i < *n; i++)
        draw_in_tensor(pl->s, pick_tensor(pl, r), r, &out[i]);
    return AU_OK;
}

/* Layer-wise: independent N_l per tensor, in order; counting goes on past max so *n
 * reports the trial's true total. */
static int layer_wise(const struct plan *pl, struct au_pcg32 *r, struct au_site *out, size_t max,
                      size_t *n, struct au_diag *d)
{
    const au_site_space *s = pl->s;
    size_t n_sel = pl->p->tensors ? pl->p->n_tensors : s->n;
    uint64_t total = 0;
    for (size_t i = 0; i < n_sel; i++) {
        uint32_t l = pl->p->tensors ? pl->p->tensors[i] : (uint32_t)i;
        uint64_t n_l = au_poisson_sample(weight(s, AU_SITES_LAYER_WISE, l), r);
        if (total + n_l <= max && total + n_l >= total)
            for (uint64_t j = 0; j < n_l; j++)
                draw_in_tensor(s, l, r, &out[total + j]);
        total = total + n_l < total ? UINT64_MAX : total + n_l;
    }
    *n = total > SIZE_MAX ? SIZE_MAX : (size_t)total;
    if (total > max)
        return au_diag_set(d, AU_RANGE,
                           "sites: trial drew %llu flips, more than the %zu the "
                           "buffer holds (mean %g)",
                           (unsigned long long)total, max, pl->mu);
    return AU_OK;
}

int au_sites_mu(const au_site_space *s, const struct au_sites_process *p, double *mu,
                struct au_diag *d)
{
    struct plan pl = {0};
    int rc = plan_init(&pl, s, p, d);
    *mu = rc < 0 ? 0.0 : pl.mu;
    return rc;
}

int au_sites_poisson(const au_site_space *s, const struct au_sites_process *p, struct au_pcg32 *r,
                     struct au_site *out, size_t max, size_t *n, struct au_diag *d)
{
    struct plan pl = {0};
    *n = 0;
    int rc = plan_init(&pl, s, p, d);
    if (rc < 0)
        return rc;
    if (p->timing == AU_SITES_LAYER_WISE)
        return layer_wise(&pl, r, out, max, n, d);
    return draw_flips(&pl, au_poisson_sample(pl.mu, r), r, out, max, n, d);
}

int au_sites_poisson_given_one(const au_site_space *s, const struct au_sites_process *p,
                               struct au_pcg32 *r, struct au_site *out, size_t max, size_t *n,
                               double *p1, struct au_diag *d)
{
    struct plan pl = {0};
    *n = 0;
    *p1 = 0.0;
    int rc = plan_init(&pl, s, p, d);
    if (rc < 0)
        return rc;
    if (!(pl.mu > 0.0))
        return au_diag_set(d, AU_INVALID,
                           "sites: no flip can occur (no targeted site has a "
                           "positive rate and live time), so none to condition on");
    *p1 = au_poisson_p_at_least_one(pl.mu);
    return draw_flips(&pl, au_poisson_sample_truncated(pl.mu, r), r, out, max, n, d);
}

int au_sites_uniform(const au_site_space *s, uint32_t tensor, size_t k, struct au_pcg32 *r,
                     struct au_site *out, struct au_diag *d)
{
    if (tensor >= s->n)
        return au_diag_set(d, AU_RANGE, "sites: tensor %u out of range (%u tensors)", tensor, s->n);
    const struct tensor_rec *t = &s->t[tensor];
    uint64_t n_elem_sites = t->n_sites_of[0], n_sites = n_elem_sites + t->n_sites_of[1];
    if (n_sites == 0)
        return au_diag_set(d, AU_INVALID, "%s: no targeted bits", tname(t));
    /* A uniform site index, read as (element, targeted bit) then (block, targeted bit):
     * the same as element uniform then bit uniform, with codes versus metadata in
     * proportion to their site counts. */
    for (size_t i = 0; i < k; i++) {
        uint64_t x = below(r, n_sites);
        uint32_t tg = x < n_elem_sites ? AU_FAULT_ELEM : AU_FAULT_META;
        if (tg == AU_FAULT_META)
            x -= n_elem_sites;
        uint64_t per = t->n_targets[tg];
        out[i].tensor = tensor;
        out[i].fault.target = tg;
        out[i].fault.kind = AU_FAULT_FLIP;
        out[i].fault.index = (size_t)(x / per);
        out[i].fault.bit = t->targets[tg][x % per];
    }
    return AU_OK;
}

void au_sites_sort(struct au_site *sites, size_t n)
{
    /* Insertion sort: trials hold a handful of flips, mostly already in order. */
    for (size_t i = 1; i < n; i++) {
        struct au_site v = sites[i];
        size_t j = i;
        for (; j > 0 && sites[j - 1].tensor > v.tensor; j--)
            sites[j] = sites[j - 1];
        sites[j] = v;
    }
}

/* ---- masks ---- */

int au_sites_field_mask(const struct au_numsys_layout *l, uint32_t target, const char *const *names,
                        size_t n_names, uint64_t *mask, struct au_diag *d)
{
    if (target > AU_FAULT_META)
        return au_diag_set(d, AU_RANGE, "sites: unknown target %u", target);
    const char *what = target == AU_FAULT_META ? "metadata" : "element";
    uint64_t m = 0;
    for (size_t i = 0; i < n_names; i++) {
        const struct au_bitfield *f = au_numsys_field_find(l, target, names[i]);
        if (!f) {
            char list[160] = "";
            uint32_t nf = target == AU_FAULT_META ? l->n_meta_fields : l->n_elem_fields;
            const struct au_bitfield *fs =
                target == AU_FAULT_META ? l->meta_fields : l->elem_fields;
            for (uint32_t j = 0; j < nf; j++) {
                size_t len = strlen(list);
                snprintf(list + len, sizeof(list) - len, "%s%s", j ? ", " : "", fs[j].name);
            }
            return au_diag_set(d, AU_NOTFOUND, "sites: no %s field '%s' (fields: %s)", what,
                               names[i], nf ? list : "none");
        }
        if (f->width == 0 || f->lsb + f->width > 64)
            return au_diag_set(d, AU_RANGE, "sites: %s field '%s' spans bits %u..%u", what, f->name,
                               f->lsb, f->lsb + f->width - 1);
        m |= width_mask(f->width) << f->lsb;
    }
    *mask = m;
    return AU_OK;
}

int au_sites_bit_mask(const uint32_t *bits, size_t n_bits, uint32_t width, uint64_t *mask,
                      struct au_diag *d)
{
    uint64_t m = 0;
    for (size_t i = 0; i < n_bits; i++) {
        if (bits[i] >= width || bits[i] >= 64)
            return au_diag_set(d, AU_RANGE, "sites: bit position %u out of range for %u-bit words",
                               bits[i], width);
        m |= 1ULL << bits[i];
    }
    *mask = m;
    return AU_OK;
}

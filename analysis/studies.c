/* Number-format studies: one float32 pass over the data, then runs under formats measured
 * against it. `aurum emulate` prints au_study_evaluate's numbers, so a sweep row and an
 * emulate run of the same format agree to the bit. The searches assume that accuracy does not
 * fall when bits are added (docs/studies.md: where that holds and what breaks when it does not).
 * Resilience and mixed precision are in studies_mixed.c. */
#include "studies.h"

#include "core/alloc.h"
#include "core/metrics.h"
#include "core/ranges.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct au_study {
    struct au_graph *g;
    const struct au_dataset *ds;
    const int64_t *targets;
    int64_t positions, classes;
    const au_numsys_registry *reg;
    int64_t *preds;          /* float32 top-1 per sample */
    struct au_range *ranges; /* float32 output ranges per node (static scales) */
    struct au_study_layer *layers;
    int n_layers, n_nodes;
    struct au_study_metrics base;
};

/* ---- evaluation ---------------------------------------------------------------------- */

static void finish_metrics(struct au_study_metrics *m, double loss_sum)
{
    m->accuracy = m->n_samples ? m->correct / (double)m->n_samples : 0;
    m->acc_finite = m->n_finite ? m->correct / (double)m->n_finite : 0;
    m->loss = m->n_finite ? loss_sum / (double)m->n_finite : NAN;
}

/* One pass over the data. The baseline (record) keeps each sample's top-1; later passes count
 * the samples that agree with it. */
static int run_pass(struct au_study *s, struct au_ranges *rs, bool record,
                    struct au_study_metrics *m, struct au_diag *d)
{
    int64_t b = au_graph_batch(s->g);
    double loss = 0;
    memset(m, 0, sizeof(*m));
    for (int64_t i = 0; i < s->ds->n; i += b) {
        int64_t cnt = s->ds->n - i < b ? s->ds->n - i : b;
        if (rs)
            rs->n_valid = cnt;
        int rc = au_dataset_copy_batch(s->ds, i, cnt, au_graph_input_tensor(s->g, 0)->data, b, d);
        if (rc || (rc = au_graph_run(s->g, d)) != 0)
            return rc;
        const float *out = au_graph_output(s->g, 0)->data;
        int64_t row = s->positions * s->classes;
        for (int64_t k = 0; k < cnt; k++) {
            struct au_sample_metrics sm;
            au_metrics_sample(out + k * row, s->positions, s->classes,
                              s->targets + (i + k) * s->positions, &sm);
            if (record)
                s->preds[i + k] = sm.top1;
            m->n_agree += s->preds[i + k] == sm.top1;
            m->n_samples++;
            if (!sm.finite)
                continue;
            loss += sm.loss;
            m->correct += sm.accuracy;
            m->n_finite++;
        }
    }
    finish_metrics(m, loss);
    return AU_OK;
}

/* Output shape and targets: classes is the last output dim, positions the rest of a sample. */
static int check_targets(struct au_study *s, const struct au_array *t, struct au_diag *d)
{
    const struct au_tensor *out = au_graph_output(s->g, 0);
    int64_t b = au_graph_batch(s->g);
    s->classes = out->n_dims ? out->ne[out->n_dims - 1] : 0;
    if (au_graph_n_inputs(s->g) != 1 || s->classes < 1 || au_tensor_numel(out) % b)
        return au_diag_set(d, AU_SHAPE, "studies: need one input and one output [batch, ..., C]");
    s->positions = au_tensor_numel(out) / b / s->classes;
    if (t->t.dtype != AU_DTYPE_I64 || au_tensor_numel(&t->t) != s->ds->n * s->positions)
        return au_diag_set(d, AU_SHAPE,
                           "labels: %lld int64 targets expected (%lld samples x %lld "
                           "positions), got %lld of %s",
                           (long long)(s->ds->n * s->positions), (long long)s->ds->n,
                           (long long)s->positions, (long long)au_tensor_numel(&t->t),
                           au_dtype_name(t->t.dtype));
    s->targets = t->t.data;
    for (int64_t i = 0; i < s->ds->n * s->positions; i++)
        if (s->targets[i] < 0 || s->targets[i] >= s->classes)
            return au_diag_set(d, AU_RANGE, "labels: sample %lld has label %lld outside [0, %lld)",
                               (long long)(i / s->positions), (long long)s->targets[i],
                               (long long)s->classes);
    return AU_OK;
}

/* The layer list is the emulation's (graph order), so layer i here is layer i of a campaign. */
static int collect_layers(struct au_study *s, struct au_diag *d)
{
    struct au_emul_spec none = {0};
    struct au_emul *e;
    int rc = au_emul_new(s->g, s->reg, &none, &e, d);
    if (rc)
        return rc;
    s->n_layers = au_emul_n_layers(e);
    s->layers = au_calloc((size_t)s->n_layers + 1, sizeof(*s->layers));
    for (int i = 0; s->layers && i < s->n_layers; i++) {
        const struct au_emul_layer *L = au_emul_layer(e, i);
        s->layers[i] = (struct au_study_layer){L->node, au_graph_node(s->g, L->node)->name,
                                               L->weight_value >= 0 ? L->n_weights : 0,
                                               L->n_act / au_graph_batch(s->g)};
    }
    au_emul_free(e);
    return s->layers ? AU_OK : au_diag_set(d, AU_NOMEM, "out of memory");
}

static int baseline(struct au_study *s, struct au_diag *d)
{
    struct au_ranges rs = {0};
    int rc = au_ranges_init(&rs, s->g, d);
    if (!rc)
        rc = run_pass(s, &rs, true, &s->base, d);
    if (!rc)
        memcpy(s->ranges, rs.r, (size_t)s->n_nodes * sizeof(*s->ranges));
    au_ranges_fini(&rs);
    return rc;
}

int au_study_new(struct au_graph *g, const struct au_dataset *ds, const struct au_array *targets,
                 const au_numsys_registry *reg, struct au_study **out, struct au_diag *d)
{
    struct au_study *s = au_calloc(1, sizeof(*s));
    *out = NULL;
    if (!s)
        return au_diag_set(d, AU_NOMEM, "out of memory");
    *s = (struct au_study){.g = g, .ds = ds, .reg = reg, .n_nodes = au_graph_n_nodes(g)};
    int rc = check_targets(s, targets, d);
    if (!rc) {
        s->preds = au_calloc((size_t)ds->n, sizeof(*s->preds));
        s->ranges = au_calloc((size_t)s->n_nodes + 1, sizeof(*s->ranges));
        if (!s->preds || !s->ranges)
            rc = au_diag_set(d, AU_NOMEM, "out of memory");
    }
    if (!rc)
        rc = collect_layers(s, d);
    if (!rc)
        rc = baseline(s, d);
    if (rc) {
        au_study_free(s);
        return rc;
    }
    *out = s;
    return AU_OK;
}

void au_study_free(struct au_study *s)
{
    if (!s)
        return;
    au_free(s->preds);
    au_free(s->ranges);
    au_free(s->layers);
    au_free(s);
}

const struct au_study_metrics *au_study_baseline(const struct au_study *s)
{
    return &s->base;
}

int au_study_n_layers(const struct au_study *s)
{
    return s->n_layers;
}

const struct au_graph *au_study_graph(const struct au_study *s)
{
    return s->g;
}

const struct au_study_layer *au_study_layer(const struct au_study *s, int i)
{
    return i >= 0 && i < s->n_layers ? &s->layers[i] : NULL;
}

int au_study_evaluate(struct au_study *s, const struct au_emul_spec *spec,
                      struct au_study_metrics *out, struct au_diag *d)
{
    struct au_emul *e = NULL;
    int rc = au_emul_new(s->g, s->reg, spec, &e, d);
    if (!rc && au_emul_needs_absmax(e))
        rc = au_emul_set_absmax(e, s->ranges, d);
    if (!rc)
        rc = au_emul_apply(e, d);
    if (!rc)
        rc = run_pass(s, NULL, false, out, d);
    au_emul_free(e);
    return rc;
}

/* Cross-multiplied so that whole-sample counts give an exact result: 100 * (0.897 - 0.887)
 * is 1.0000000000000009 in doubles, which would put a 1-point drop over a 1-point threshold. */
double au_study_drop(const struct au_study *s, const struct au_study_metrics *m)
{
    double num = s->base.correct * (double)m->n_samples - m->correct * (double)s->base.n_samples;
    double den = (double)s->base.n_samples * (double)m->n_samples;
    return den > 0 ? 100.0 * num / den : NAN;
}

/* ---- format families ----------------------------------------------------------------- */

static const char *const family_names[] = {"fxp", "fp", "bfp", "afp", "int"};
#define N_FAMILIES ((int)(sizeof(family_names) / sizeof(family_names[0])))
/* Parameter limits of the builtin plugins (numsys/builtin): fxp integer + fraction <= 24,
 * fp exponent 1..8 and mantissa <= 23, bfp mantissa 1..23, afp bits 2..16, int bits 2..24. */
static const int family_max_bits[] = {25, 32, 24, 16, 24};

int au_study_family_parse(const char *name, int *family, struct au_diag *d)
{
    for (int f = 0; f < N_FAMILIES; f++)
        if (name && !strcmp(name, family_names[f])) {
            *family = f;
            return AU_OK;
        }
    return au_diag_set(d, AU_INVALID, "family: '%s' is not one of fxp, fp, bfp, afp, int",
                       name ? name : "");
}

const char *au_study_family_name(int family)
{
    return family >= 0 && family < N_FAMILIES ? family_names[family] : "?";
}

void au_study_family_widths(int family, int *lo, int *hi)
{
    bool ok = family >= 0 && family < N_FAMILIES;
    *lo = ok ? 2 : 1;
    *hi = ok ? family_max_bits[family] : 0;
}

static int imax(int a, int b)
{
    return a > b ? a : b;
}

static int imin(int a, int b)
{
    return a < b ? a : b;
}

void au_study_family_splits(int family, int width, int *lo, int *hi)
{
    int wlo, whi;
    au_study_family_widths(family, &wlo, &whi);
    *lo = 1;
    *hi = 0;
    if (width < wlo || width > whi)
        return;
    switch (family) {
    case AU_STUDY_FXP: /* integer bits; fraction = width - 1 - integer <= 24 */
        *lo = imax(0, width - 25);
        *hi = imin(24, width - 1);
        break;
    case AU_STUDY_FP: /* exponent bits; mantissa = width - 1 - exponent <= 23 */
        *lo = imax(1, width - 24);
        *hi = imin(8, width - 1);
        break;
    case AU_STUDY_BFP: /* shared exponent width; element = sign + width - 1 mantissa bits */
        *hi = 8;
        break;
    case AU_STUDY_AFP: /* exponent bits; mantissa = width - 1 - exponent */
        *hi = imin(8, width - 1);
        break;
    default: /* int: no free parameter */
        *lo = *hi = 0;
    }
}

int au_study_family_format(int family, int width, int split, char *buf, size_t len,
                           struct au_diag *d)
{
    int lo, hi, n = -1;
    au_study_family_splits(family, width, &lo, &hi);
    if (split < lo || split > hi)
        return au_diag_set(d, AU_RANGE, "%s: width %d with split %d is not a format",
                           au_study_family_name(family), width, split);
    if (family == AU_STUDY_FXP)
        n = snprintf(buf, len, "fxp{integer:%d,fraction:%d}", split, width - 1 - split);
    else if (family == AU_STUDY_FP)
        n = snprintf(buf, len, "fp{exponent:%d,mantissa:%d}", split, width - 1 - split);
    else if (family == AU_STUDY_BFP)
        n = snprintf(buf, len, "bfp{mantissa:%d,exponent:%d}", width - 1, split);
    else if (family == AU_STUDY_AFP)
        n = snprintf(buf, len, "afp{bits:%d,exponent:%d}", width, split);
    else
        n = snprintf(buf, len, "int{bits:%d}", width);
    if (n < 0 || (size_t)n >= len)
        return au_diag_set(d, AU_RANGE, "format string longer than %zu bytes", len);
    return AU_OK;
}

/* ---- bit-width search ---------------------------------------------------------------- */

void au_study_trace_fini(struct au_study_trace *t)
{
    if (!t)
        return;
    au_free(t->p);
    *t = (struct au_study_trace){0};
}

static int trace_push(struct au_study_trace *t, const struct au_study_point *p, struct au_diag *d)
{
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 32;
        struct au_study_point *np = au_realloc(t->p, (size_t)cap * sizeof(*np));
        if (!np)
            return au_diag_set(d, AU_NOMEM, "out of memory");
        t->p = np;
        t->cap = cap;
    }
    t->p[t->n++] = *p;
    return AU_OK;
}

static struct au_emul_spec uniform_spec(const char *fmt, unsigned roles)
{
    return (struct au_emul_spec){.weights = (roles & AU_STUDY_WEIGHTS) ? fmt : NULL,
                                 .activations = (roles & AU_STUDY_ACTS) ? fmt : NULL};
}

/* Measures one (width, split). A pair the plugin refuses (e.g. fp with one exponent bit and
 * no mantissa has no finite nonzero value) is marked refused, not an error. */
static int measure(struct au_study *s, int family, int width, int split, unsigned roles,
                   double threshold, struct au_study_point *p, struct au_diag *d)
{
    *p = (struct au_study_point){.width = width, .split = split, .drop = NAN};
    int rc = au_study_family_format(family, width, split, p->format, sizeof(p->format), d);
    au_numsys_fmt *f = NULL;
    if (!rc)
        rc = au_numsys_fmt_new(s->reg, p->format, &f, d);
    au_numsys_fmt_free(f);
    if (rc && rc != AU_RANGE && rc != AU_INVALID && rc != AU_PLUGIN)
        return rc; /* a missing plugin or no memory: an error, not a refusal */
    if (rc) {
        p->refused = true;
        return AU_OK;
    }
    struct au_emul_spec spec = uniform_spec(p->format, roles);
    rc = au_study_evaluate(s, &spec, &p->m, d);
    p->drop = au_study_drop(s, &p->m);
    p->ok = p->drop <= threshold;
    return rc;
}

static bool better(const struct au_study_point *a, const struct au_study_point *b)
{
    if (a->m.accuracy != b->m.accuracy)
        return a->m.accuracy > b->m.accuracy;
    return !isnan(a->m.loss) && (isnan(b->m.loss) || a->m.loss < b->m.loss);
}

int au_study_best_split(struct au_study *s, int family, int width, unsigned roles, double threshold,
                        struct au_study_trace *t, struct au_study_point *best, struct au_diag *d)
{
    int lo, hi, wlo, whi, at = -1;
    au_study_family_splits(family, width, &lo, &hi);
    au_study_family_widths(family, &wlo, &whi);
    if (lo > hi)
        return au_diag_set(d, AU_RANGE, "%s: width %d is outside [%d, %d]",
                           au_study_family_name(family), width, wlo, whi);
    struct au_study_point p, b = {.width = width, .split = lo, .refused = true, .drop = NAN};
    for (int k = lo; k <= hi; k++) {
        int rc = measure(s, family, width, k, roles, threshold, &p, d);
        if (!rc && t)
            rc = trace_push(t, &p, d);
        if (rc)
            return rc;
        if (!p.refused && (b.refused || better(&p, &b))) {
            b = p;
            at = t ? t->n - 1 : -1;
        }
    }
    b.best = !b.refused;
    if (at >= 0)
        t->p[at].best = true;
    *best = b;
    return AU_OK;
}

int au_study_check(int family, unsigned roles, double threshold, struct au_diag *d)
{
    if (family < 0 || family >= N_FAMILIES)
        return au_diag_set(d, AU_INVALID, "family: %d is not a format family", family);
    if (!(roles & AU_STUDY_BOTH) || (roles & ~AU_STUDY_BOTH))
        return au_diag_set(d, AU_INVALID, "roles: weights, activations or both, got %u", roles);
    if (!isfinite(threshold))
        return au_diag_set(d, AU_RANGE, "threshold: must be a finite number of points");
    return AU_OK;
}

int au_study_bitwidth(struct au_study *s, const struct au_study_bitwidth_opts *o,
                      struct au_study_bitwidth_result *r, struct au_diag *d)
{
    int wlo, whi, lo = o->min_bits, hi = o->max_bits;
    *r = (struct au_study_bitwidth_result){.width = -1};
    au_study_family_widths(o->family, &wlo, &whi);
    int rc = au_study_check(o->family, o->roles, o->threshold, d);
    if (rc)
        return rc;
    if (lo < wlo || hi > whi || lo > hi)
        return au_diag_set(d, AU_RANGE,
                           "bitwidth: min-bits %d .. max-bits %d is not inside the "
                           "%s widths [%d, %d]",
                           lo, hi, au_study_family_name(o->family), wlo, whi);
    struct au_study_point p;
    /* The widest first: if it misses the threshold, no narrower width can (monotonicity). */
    rc = au_study_best_split(s, o->family, hi, o->roles, o->threshold, &r->trace, &p, d);
    if (rc || !p.ok) {
        r->best = p;
        return rc;
    }
    r->best = p;
    while (lo < hi) { /* invariant: hi meets the threshold, every width below lo does not */
        int mid = lo + (hi - lo) / 2;
        rc = au_study_best_split(s, o->family, mid, o->roles, o->threshold, &r->trace, &p, d);
        if (rc)
            return rc;
        if (p.ok) {
            hi = mid;
            r->best = p;
        } else {
            lo = mid + 1;
        }
    }
    r->width = hi;
    return AU_OK;
}

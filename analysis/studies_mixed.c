/* Reliability-aware mixed precision (docs/studies.md): per-layer resilience from a results
 * database (read-only, through the store), a ranking, and the search over per-layer widths
 * that follow the ranking, cheapest first. Only the study's public interface is used: this
 * file sits on top of studies.c. */
#include "studies_mixed.h"

#include "campaigns/store.h"
#include "core/alloc.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- resilience from a results database ---------------------------------------------- */

/* SQL text literal body: quotes doubled. False if it does not fit. */
static bool sql_quote(const char *s, char *buf, size_t len)
{
    size_t k = 0;
    for (; *s; s++) {
        if (k + 3 > len)
            return false;
        if (*s == '\'')
            buf[k++] = '\'';
        buf[k++] = *s;
    }
    buf[k] = '\0';
    return true;
}

static int query(au_store *st, double *out, struct au_diag *d, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int query(au_store *st, double *out, struct au_diag *d, const char *fmt, ...)
{
    char sql[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(sql))
        return au_diag_set(d, AU_RANGE, "query longer than %zu bytes", sizeof(sql));
    return au_store_query_double(st, sql, out, d);
}

/* The campaign's id: by name, or the database's only campaign. */
static int campaign_id(au_store *st, const char *db, const char *name, int64_t *id,
                       struct au_diag *d)
{
    char q[512];
    double v, n;
    int rc;
    if (name) {
        if (!sql_quote(name, q, sizeof(q)))
            return au_diag_set(d, AU_RANGE, "%s: campaign name too long", db);
        rc = query(st, &v, d, "SELECT (SELECT id FROM campaigns WHERE name = '%s')", q);
        if (!rc && isnan(v))
            rc = au_diag_set(d, AU_NOTFOUND, "%s: no campaign named '%s'", db, name);
    } else {
        rc = query(st, &n, d, "SELECT count(*) FROM campaigns");
        if (!rc && n == 0)
            rc = au_diag_set(d, AU_NOTFOUND, "%s: holds no campaign", db);
        else if (!rc && n != 1)
            rc = au_diag_set(d, AU_INVALID, "%s: holds %.0f campaigns; name one (--campaign)", db,
                             n);
        if (!rc)
            rc = query(st, &v, d, "SELECT id FROM campaigns");
    }
    *id = rc ? -1 : (int64_t)v;
    return rc;
}

/* One layer's row: its name must match (same model), and it must have trials. */
static int layer_vuln(au_store *st, const char *where, int64_t cid, int li, const char *name,
                      struct au_study_vuln *v, struct au_diag *d)
{
    char q[512];
    double n, mean, flips, n_trials, n_nonfinite;
    if (!sql_quote(name, q, sizeof(q)))
        return au_diag_set(d, AU_RANGE, "%s: layer name too long", where);
    int rc = query(st, &n, d,
                   "SELECT count(*) FROM layers WHERE campaign = %lld AND layer = %d "
                   "AND name = '%s'",
                   (long long)cid, li, q);
    if (!rc && n != 1)
        return au_diag_set(d, AU_INVALID,
                           "%s: layer %d is not '%s' (a campaign of another "
                           "model?)",
                           where, li, name);
#define SUMMARY_OF "FROM layer_summary WHERE campaign = %lld AND layer = %d"
    if (!rc)
        rc = query(st, &n_trials, d, "SELECT coalesce(sum(n_trials), 0) " SUMMARY_OF,
                   (long long)cid, li);
    if (!rc && n_trials == 0)
        return au_diag_set(d, AU_NOTFOUND,
                           "%s: no trials of layer '%s' in layer_summary (the "
                           "ranking needs every layer; a campaign is summarized when it ends)",
                           where, name);
    if (!rc)
        rc = query(st, &n_nonfinite, d, "SELECT coalesce(sum(n_nonfinite), 0) " SUMMARY_OF,
                   (long long)cid, li);
    if (!rc)
        rc = query(st, &mean, d, "SELECT sum(mean_dloss * n) / sum(n) " SUMMARY_OF " AND n > 0",
                   (long long)cid, li);
#undef SUMMARY_OF
    /* Trials may hold several flips (Poisson): divide by the mean flips of the same trials. */
    if (!rc)
        rc = query(st, &flips, d,
                   "SELECT avg(n_flips) FROM trials WHERE campaign = %lld AND "
                   "layer = %d AND outcome <> 'nonfinite'",
                   (long long)cid, li);
    if (rc)
        return rc;
    v->n_trials = (int64_t)n_trials;
    v->n_nonfinite = (int64_t)n_nonfinite;
    v->dloss_per_flip = isnan(mean) ? NAN : flips > 0 ? mean / flips : 0;
    return AU_OK;
}

int au_study_resilience(const struct au_study *s, const char *db, const char *campaign,
                        struct au_study_vuln *out, struct au_diag *d)
{
    au_store *st = NULL;
    int64_t cid = -1;
    double n = 0;
    char where[300];
    int rc = au_store_open(db, AU_STORE_RDONLY, &st, d);
    if (!rc)
        rc = campaign_id(st, db, campaign, &cid, d);
    if (!rc) {
        if (campaign)
            snprintf(where, sizeof(where), "%s: campaign '%s'", db, campaign);
        else
            snprintf(where, sizeof(where), "%s: campaign #%lld", db, (long long)cid);
        rc = query(st, &n, d, "SELECT count(*) FROM layers WHERE campaign = %lld", (long long)cid);
    }
    if (!rc && n != au_study_n_layers(s))
        rc = au_diag_set(d, AU_INVALID,
                         "%s: has %.0f layers, the model %d (a campaign of "
                         "another model?)",
                         where, n, au_study_n_layers(s));
    for (int i = 0; !rc && i < au_study_n_layers(s); i++)
        rc = layer_vuln(st, where, cid, i,
                        au_node_label(au_graph_node(au_study_graph(s), au_study_layer(s, i)->node)),
                        &out[i], d);
    au_store_close(st);
    return rc;
}

/* NaN (every trial non-finite) ranks as the most vulnerable. */
static double vuln_key(const struct au_study_vuln *v)
{
    return isnan(v->dloss_per_flip) ? INFINITY : v->dloss_per_flip;
}

void au_study_rank(const struct au_study_vuln *v, int n, int *rank)
{
    for (int i = 0; i < n; i++) {
        int j = i;
        for (; j > 0 && vuln_key(&v[rank[j - 1]]) < vuln_key(&v[i]); j--)
            rank[j] = rank[j - 1];
        rank[j] = i;
    }
}

/* ---- mixed precision ----------------------------------------------------------------- */

#define MAX_WIDTHS 16
#define MAX_CAND   (1 << 20)

struct cost {
    int64_t bits;
    int32_t i; /* candidate index */
};

struct mixed {
    struct au_study *s;
    const struct au_study_mixed_opts *o;
    int w[MAX_WIDTHS], k, n; /* sorted widths; layers */
    int64_t *elems;          /* per rank position: elements that take the format */
    uint8_t *cand;           /* n_cand x n width indices, non-increasing */
    struct cost *order;
    int64_t n_cand;
    struct au_emul_rule *rules; /* per layer */
    int *widths;                /* per layer, scratch */
};

static int cmp_cost(const void *a, const void *b)
{
    const struct cost *x = a, *y = b;
    if (x->bits != y->bits)
        return x->bits < y->bits ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* Every non-increasing sequence of width indices along the ranking, widest first. */
static void gen(struct mixed *x, uint8_t *a, int pos, int top)
{
    if (pos == x->n) {
        memcpy(x->cand + x->n_cand * x->n, a, (size_t)x->n);
        int64_t bits = 0;
        for (int p = 0; p < x->n; p++)
            bits += x->w[a[p]] * x->elems[p];
        x->order[x->n_cand] = (struct cost){bits, (int32_t)x->n_cand};
        x->n_cand++;
        return;
    }
    for (int v = top; v >= 0; v--) {
        a[pos] = (uint8_t)v;
        gen(x, a, pos + 1, v);
    }
}

/* C(n + k - 1, k - 1) assignments, or -1 past MAX_CAND. */
static int64_t n_assignments(int n, int k)
{
    double c = 1;
    for (int i = 1; i < k; i++)
        c = c * (n + i) / i;
    return c > MAX_CAND || (double)n * c > 64.0 * MAX_CAND ? -1 : (int64_t)(c + 0.5);
}

static int check_widths(struct mixed *x, struct au_diag *d)
{
    const struct au_study_mixed_opts *o = x->o;
    int lo, hi;
    au_study_family_widths(o->family, &lo, &hi);
    if (o->n_widths < 1 || !o->widths)
        return au_diag_set(d, AU_INVALID, "widths: at least one width is needed");
    for (int i = 0; i < o->n_widths; i++) {
        int v = o->widths[i], j = 0;
        if (v < lo || v > hi)
            return au_diag_set(d, AU_RANGE, "widths: %d is outside the %s widths [%d, %d]", v,
                               au_study_family_name(o->family), lo, hi);
        while (j < x->k && x->w[j] < v)
            j++;
        if (j < x->k && x->w[j] == v)
            continue;
        if (x->k == MAX_WIDTHS)
            return au_diag_set(d, AU_RANGE, "widths: at most %d distinct widths", MAX_WIDTHS);
        memmove(x->w + j + 1, x->w + j, (size_t)(x->k - j) * sizeof(int));
        x->w[j] = v;
        x->k++;
    }
    return AU_OK;
}

/* Layers are selected by exact node name, so each name must match its layer only. */
static int check_layers(struct mixed *x, struct au_diag *d)
{
    const struct au_study *s = x->s;
    char *seen = au_calloc((size_t)x->n + 1, 1);
    if (!seen)
        return au_diag_set(d, AU_NOMEM, "out of memory");
    int rc = AU_OK;
    for (int p = 0; !rc && p < x->n; p++) {
        int li = x->o->rank ? x->o->rank[p] : -1;
        if (li < 0 || li >= x->n || seen[li]++)
            rc = au_diag_set(d, AU_INVALID, "rank: not a permutation of the %d layers", x->n);
    }
    for (int i = 0; !rc && i < x->n; i++) {
        const char *name = au_study_layer(s, i)->name;
        int hits = 0;
        for (int j = 0; name && name[0] && j < x->n; j++)
            hits +=
                au_node_matches(au_graph_node(au_study_graph(s), au_study_layer(s, j)->node), name);
        if (hits != 1)
            rc = au_diag_set(
                d, AU_INVALID,
                "layer %d (%s): formats are selected by node name "
                "and this name %s",
                i, au_node_label(au_graph_node(au_study_graph(s), au_study_layer(s, i)->node)),
                name && name[0] ? "matches other layers" : "is empty");
    }
    au_free(seen);
    return rc;
}

/* The best split of each width on the whole model: one format per width. */
static int width_formats(struct mixed *x, struct au_study_mixed_result *r, struct au_diag *d)
{
    for (int j = 0; j < x->k; j++) {
        struct au_study_point p;
        int rc = au_study_best_split(x->s, x->o->family, x->w[j], x->o->roles, x->o->threshold,
                                     NULL, &p, d);
        if (rc)
            return rc;
        if (p.refused)
            return au_diag_set(d, AU_RANGE, "widths: no %s format of width %d is accepted",
                               au_study_family_name(x->o->family), x->w[j]);
        memcpy(r->formats[j], p.format, sizeof(r->formats[j]));
        r->fmt_widths[j] = x->w[j];
    }
    r->n_formats = x->k;
    return AU_OK;
}

static int enumerate(struct mixed *x, struct au_study_mixed_result *r, struct au_diag *d)
{
    int64_t n = n_assignments(x->n, x->k);
    if (n < 0)
        return au_diag_set(d, AU_RANGE,
                           "mixed: %d layers and %d widths give more than %d "
                           "assignments; use fewer widths",
                           x->n, x->k, MAX_CAND);
    x->cand = au_malloc((size_t)(n * x->n) + 1);
    x->order = au_calloc((size_t)n + 1, sizeof(*x->order));
    uint8_t *a = au_calloc((size_t)x->n + 1, 1);
    if (x->cand && x->order && a) {
        gen(x, a, 0, x->k - 1);
        qsort(x->order, (size_t)x->n_cand, sizeof(*x->order), cmp_cost);
    }
    au_free(a);
    r->n_candidates = x->n_cand;
    r->uniform_bits = 0;
    for (int p = 0; p < x->n; p++)
        r->uniform_bits += x->w[x->k - 1] * x->elems[p];
    return x->cand && x->order ? AU_OK : au_diag_set(d, AU_NOMEM, "out of memory");
}

static int measure_cand(struct mixed *x, const struct cost *c, struct au_study_metrics *m,
                        double *drop, struct au_study_mixed_result *r, struct au_diag *d)
{
    const uint8_t *a = x->cand + (int64_t)c->i * x->n;
    for (int p = 0; p < x->n; p++) {
        int li = x->o->rank[p];
        const char *f = r->formats[a[p]];
        x->widths[li] = x->w[a[p]];
        x->rules[li] = (struct au_emul_rule){au_study_layer(x->s, li)->name,
                                             (x->o->roles & AU_STUDY_WEIGHTS) ? f : "none",
                                             (x->o->roles & AU_STUDY_ACTS) ? f : "none"};
    }
    struct au_emul_spec spec = {.rules = x->rules, .n_rules = x->n};
    int rc = au_study_evaluate(x->s, &spec, m, d);
    if (rc)
        return rc;
    *drop = au_study_drop(x->s, m);
    r->n_measured++;
    if (x->o->on_measure)
        x->o->on_measure(x->o->user, x->widths, c->bits, m, *drop);
    return AU_OK;
}

/* Under monotonicity, an assignment no wider anywhere than a failed one fails too. */
static bool dominated(const struct mixed *x, const int64_t *failed, int64_t n_failed,
                      const uint8_t *a)
{
    for (int64_t f = 0; f < n_failed; f++) {
        const uint8_t *b = x->cand + failed[f] * x->n;
        int p = 0;
        while (p < x->n && a[p] <= b[p])
            p++;
        if (p == x->n)
            return true;
    }
    return false;
}

/* Cheapest first; the first cost level with a passing assignment ends the search (all of
 * that level is measured, so ties go to the most accurate, as in the exhaustive mode). */
static int search(struct mixed *x, struct au_study_mixed_result *r, struct au_diag *d)
{
    int64_t *failed = au_calloc((size_t)x->n_cand + 1, sizeof(*failed)), n_failed = 0;
    if (!failed)
        return au_diag_set(d, AU_NOMEM, "out of memory");
    int rc = AU_OK;
    for (int64_t i = 0; !rc && i < x->n_cand; i++) {
        const struct cost *c = &x->order[i];
        const uint8_t *a = x->cand + (int64_t)c->i * x->n;
        struct au_study_metrics m;
        double drop;
        if (!x->o->exhaustive && r->found && c->bits > r->bits)
            break;
        if (!x->o->exhaustive && dominated(x, failed, n_failed, a))
            continue;
        rc = measure_cand(x, c, &m, &drop, r, d);
        if (rc || drop > x->o->threshold) {
            failed[n_failed++] = c->i;
            continue;
        }
        if (!r->found || (c->bits == r->bits && m.accuracy > r->m.accuracy)) {
            r->found = true;
            r->bits = c->bits;
            r->m = m;
            r->drop = drop;
            memcpy(r->widths, x->widths, (size_t)x->n * sizeof(int));
        }
    }
    au_free(failed);
    return rc;
}

static int mixed_setup(struct mixed *x, struct au_study_mixed_result *r, struct au_diag *d)
{
    const struct au_study_mixed_opts *o = x->o;
    int rc = au_study_check(o->family, o->roles, o->threshold, d);
    if (!rc)
        rc = check_widths(x, d);
    if (!rc && x->n < 1)
        rc = au_diag_set(d, AU_INVALID, "mixed: the model has no layers");
    if (!rc)
        rc = check_layers(x, d);
    if (rc)
        return rc;
    x->elems = au_calloc((size_t)x->n + 1, sizeof(*x->elems));
    x->rules = au_calloc((size_t)x->n + 1, sizeof(*x->rules));
    x->widths = au_calloc((size_t)x->n + 1, sizeof(*x->widths));
    r->widths = au_calloc((size_t)x->n + 1, sizeof(*r->widths));
    if (!x->elems || !x->rules || !x->widths || !r->widths)
        return au_diag_set(d, AU_NOMEM, "out of memory");
    for (int p = 0; p < x->n; p++) {
        const struct au_study_layer *L = au_study_layer(x->s, o->rank[p]);
        x->elems[p] = ((o->roles & AU_STUDY_WEIGHTS) ? L->n_weights : 0) +
                      ((o->roles & AU_STUDY_ACTS) ? L->n_act : 0);
    }
    rc = width_formats(x, r, d);
    return rc ? rc : enumerate(x, r, d);
}

int au_study_mixed(struct au_study *s, const struct au_study_mixed_opts *o,
                   struct au_study_mixed_result *r, struct au_diag *d)
{
    struct mixed x = {.s = s, .o = o, .n = au_study_n_layers(s)};
    *r = (struct au_study_mixed_result){.drop = NAN};
    int rc = mixed_setup(&x, r, d);
    if (!rc)
        rc = search(&x, r, d);
    au_free(x.elems);
    au_free(x.cand);
    au_free(x.order);
    au_free(x.rules);
    au_free(x.widths);
    return rc;
}

void au_study_mixed_fini(struct au_study_mixed_result *r)
{
    if (!r)
        return;
    au_free(r->widths);
    r->widths = NULL;
}

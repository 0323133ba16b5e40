/* Loading a report. Per-target estimates come from analysis/estimate.c (trials scanned at
 * each call, so never the stale layer_summary snapshot; Poisson factors applied) and are
 * only merged here for the cross-campaign comparison; settings, layers, flips and bits are
 * read on the estimator's read-only connection inside the same snapshot (au_estimate_begin),
 * so a report of a running campaign is consistent, and says it is partial. The file is first
 * opened through the estimator (hence the store), so a foreign or newer file is refused with
 * the store's message. The plain-language summary is built here too. */
#include "report.h"
#include "report_table.h"

#include "core/alloc.h"
#include "core/status.h"
#include "estimate.h"
#include "estimate_db.h"
#include "spec.h"
#include "store.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct ld {
    struct au_report *r;
    sqlite3 *db;
    au_estimate_db *est;
    struct au_estimate_campaign *camps; /* every campaign of the file, by id */
    size_t n_camps;
    const struct au_estimate_campaign *self;
    struct au_estimate_opts eo; /* the caller's level (0: the campaign's) and rate method */
    const char *path;
    struct au_diag *d;
    bool nomem;
};

static const char *const tensor_names[3] = {"act", "weight", "mixed"};
static const char *const bits_names[3] = {"data", "meta", "mixed"};

/* ---- strings owned by the report ------------------------------------------------------ */

static const char *keep(struct ld *L, char *s)
{
    struct au_report *r = L->r;
    if (!s) {
        L->nomem = true;
        return NULL;
    }
    if (r->n_strs_ == r->cap_strs_) {
        size_t cap = r->cap_strs_ ? 2 * r->cap_strs_ : 64;
        char **p = au_realloc(r->strs_, cap * sizeof(*p));
        if (!p) {
            au_free(s);
            L->nomem = true;
            return NULL;
        }
        r->strs_ = p;
        r->cap_strs_ = cap;
    }
    r->strs_[r->n_strs_++] = s;
    return s;
}

static const char *dup(struct ld *L, const char *s)
{
    return s ? keep(L, au_strdup(s)) : NULL;
}

static char *vfmt(const char *fmt, va_list ap)
{
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    char *s = n >= 0 ? au_malloc((size_t)n + 1) : NULL;
    if (s)
        vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

static const char *fmt(struct ld *L, const char *f, ...) __attribute__((format(printf, 2, 3)));
static const char *fmt(struct ld *L, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    char *s = vfmt(f, ap);
    va_end(ap);
    return keep(L, s);
}

/* ---- SQL helpers ----------------------------------------------------------------------- */

static int db_err(struct ld *L, const char *table)
{
    return au_diag_set(L->d, AU_DB, "%s:%s: %s", L->path, table, sqlite3_errmsg(L->db));
}

static int prep(struct ld *L, const char *sql, sqlite3_stmt **st, const char *table)
{
    if (sqlite3_prepare_v2(L->db, sql, -1, st, NULL) != SQLITE_OK)
        return db_err(L, table);
    sqlite3_bind_int64(*st, 1, L->r->id);
    return AU_OK;
}

static const char *col_text(sqlite3_stmt *st, int c)
{
    return (const char *)sqlite3_column_text(st, c);
}

static double col_double(sqlite3_stmt *st, int c)
{
    return sqlite3_column_type(st, c) == SQLITE_NULL ? NAN : sqlite3_column_double(st, c);
}

static int step_done(struct ld *L, sqlite3_stmt *st, int rc, const char *table)
{
    if (rc != SQLITE_DONE) {
        int e = db_err(L, table);
        sqlite3_finalize(st);
        return e;
    }
    sqlite3_finalize(st);
    return L->nomem ? au_diag_set(L->d, AU_NOMEM, "%s: out of memory", L->path) : AU_OK;
}

static int grow(void **p, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return AU_OK;
    size_t c = *cap ? 2 * *cap : 16, nb;
    if (au_mul_overflow(c, size, &nb))
        return AU_NOMEM;
    void *q = au_realloc(*p, nb);
    if (!q)
        return AU_NOMEM;
    *p = q;
    *cap = c;
    return AU_OK;
}

static int nomem_in(struct ld *L, sqlite3_stmt *st)
{
    sqlite3_finalize(st);
    return au_diag_set(L->d, AU_NOMEM, "%s: out of memory", L->path);
}

/* ---- campaign -------------------------------------------------------------------------- */

/* The campaign called name (NULL: the only one); the message lists the campaigns. */
static int find_campaign(struct ld *L, const char *name)
{
    int rc = au_estimate_campaigns(L->est, &L->camps, &L->n_camps, L->d);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < L->n_camps; i++)
        if (name ? strcmp(L->camps[i].name, name) == 0 : L->n_camps == 1)
            L->self = &L->camps[i];
    if (L->self) {
        L->r->id = L->self->id;
        return AU_OK;
    }
    char names[160];
    size_t used = 0;
    names[0] = '\0';
    for (size_t i = 0; i < L->n_camps && used < sizeof(names); i++) {
        int n =
            snprintf(names + used, sizeof(names) - used, "%s%s", i ? ", " : "", L->camps[i].name);
        used += n > 0 ? (size_t)n : 0;
    }
    if (used >= sizeof(names))
        memcpy(names + sizeof(names) - 4, "...", 4);
    if (name)
        return au_diag_set(L->d, AU_NOTFOUND, "%s: no campaign named '%s' (campaigns: %s)", L->path,
                           name, L->n_camps ? names : "none");
    if (L->n_camps == 0)
        return au_diag_set(L->d, AU_NOTFOUND, "%s: no campaigns in this database", L->path);
    return au_diag_set(L->d, AU_INVALID, "%s: %zu campaigns, name one: %s", L->path, L->n_camps,
                       names);
}

static const char *join_selectors(struct ld *L, const struct au_selectors *s)
{
    size_t n = 1;
    for (int i = 0; i < s->n; i++)
        n += strlen(s->v[i]) + 2;
    char *out = au_malloc(n);
    if (out) {
        size_t used = 0;
        for (int i = 0; i < s->n; i++) {
            size_t k = strlen(s->v[i]);
            if (i) {
                memcpy(out + used, ", ", 2);
                used += 2;
            }
            memcpy(out + used, s->v[i], k);
            used += k;
        }
        out[used] = '\0';
    }
    return keep(L, out);
}

static void settings_from_spec(struct ld *L, const struct au_campaign *c)
{
    struct au_report *r = L->r;
    uint32_t t = c->targets.tensors, b = c->targets.bits;
    r->targets = fmt(L, "layers %s; %s; %s bits%s%s", join_selectors(L, &c->targets.layers),
                     t == 3                ? "activations and weights"
                     : t & AU_CAMPAIGN_ACT ? "activations"
                                           : "weights",
                     b == 3                 ? "data and metadata"
                     : b & AU_CAMPAIGN_META ? "metadata"
                                            : "data",
                     c->targets.n_fields ? "; fields " : "",
                     c->targets.n_fields ? c->targets.fields[0] : "");
    r->fault = fmt(L, "%s%s%s", au_campaign_fault_name(c->fault),
                   c->range_detector ? ", range detector on" : "",
                   b & AU_CAMPAIGN_META
                       ? (c->metadata_faults == AU_CAMPAIGN_REQUANTIZE ? ", metadata requantized"
                                                                       : ", metadata reinterpreted")
                       : "");
    if (c->process.type == AU_CAMPAIGN_PER_LAYER)
        r->process = fmt(L, "per_layer: %lld flip(s) per trial, %lld trials per layer",
                         (long long)c->process.flips, (long long)c->process.trials);
    else
        r->process = fmt(L, "poisson, %s timing: rate %g per bit, %lld trials%s",
                         au_campaign_timing_name(c->process.timing), c->process.rate,
                         (long long)c->process.trials,
                         c->process.condition_on_fault ? ", conditioned on N >= 1" : "");
    if (c->stop.type == AU_CAMPAIGN_STOP_FIXED)
        r->stop = fmt(L, "fixed trial count");
    else
        r->stop = fmt(
            L, "when the %g interval of %s has half-width <= %g (%lld to %lld trials)",
            c->stop.confidence, c->stop.metric == AU_CAMPAIGN_MISMATCH ? "mismatch" : "delta loss",
            c->stop.half_width, (long long)c->stop.min_trials, (long long)c->stop.max_trials);
}

/* Description and model as written in the file; the rest through the campaign parser,
 * which fills in the defaults. An unparsable JSON leaves those summaries NULL. */
static void parse_json(struct ld *L)
{
    struct au_report *r = L->r;
    cJSON *j = r->json ? cJSON_Parse(r->json) : NULL;
    r->description = dup(L, cJSON_GetStringValue(cJSON_GetObjectItem(j, "description")));
    r->model = dup(L, cJSON_GetStringValue(cJSON_GetObjectItem(j, "model")));
    cJSON_Delete(j);
    struct au_campaign *c = NULL;
    int rc = r->json ? au_campaign_parse(r->json, strlen(r->json), "campaign.json", &c, NULL, NULL)
                     : AU_FORMAT;
    if (rc == AU_OK)
        settings_from_spec(L, c);
    L->nomem |= rc == AU_NOMEM;
    au_campaign_free(c);
}

static int load_settings(struct ld *L)
{
    struct au_report *r = L->r;
    sqlite3_stmt *st;
    int rc = prep(L,
                  "SELECT name, json, model_sha256, aurum_version, seed, level, started, ended,"
                  " status, stop_reason FROM campaigns WHERE id = ?1",
                  &st, "campaigns");
    if (rc < 0)
        return rc;
    if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char **dst[] = {&r->name, &r->json, &r->model_sha256, &r->aurum_version};
        for (int i = 0; i < 4; i++)
            *dst[i] = dup(L, col_text(st, i));
        r->seed = (uint64_t)sqlite3_column_int64(st, 4);
        r->level = sqlite3_column_double(st, 5);
        const char **dst2[] = {&r->started, &r->ended, &r->status, &r->stop_reason};
        for (int i = 0; i < 4; i++)
            *dst2[i] = dup(L, col_text(st, 6 + i));
        rc = sqlite3_step(st);
    }
    if ((rc = step_done(L, st, rc, "campaigns")) < 0)
        return rc;
    if (!(r->level > 0 && r->level < 1))
        return au_diag_set(L->d, AU_FORMAT, "%s:campaigns: campaign '%s': level %g outside (0,1)",
                           L->path, r->name, r->level);
    if (L->eo.level > 0) /* the caller's level replaces the campaign's everywhere */
        r->level = L->eo.level;
    L->eo.level = r->level;
    r->method = L->eo.method;
    parse_json(L);
    return L->nomem ? au_diag_set(L->d, AU_NOMEM, "%s: out of memory", L->path) : AU_OK;
}

/* "0 features.0/Conv": the index and the node name's last two path components. */
static const char *short_label(struct ld *L, int32_t layer, const char *name)
{
    const char *p = name + strlen(name), *cut = name;
    for (int seen = 0; p > name; p--)
        if (p[-1] == '/' && ++seen == 2) {
            cut = p;
            break;
        }
    return fmt(L, "%d %.28s", (int)layer, cut);
}

static int load_model_layers(struct ld *L)
{
    struct au_report *r = L->r;
    sqlite3_stmt *st;
    size_t cap = 0;
    int rc = prep(L,
                  "SELECT layer, name, op, coalesce(act_format, 'fp32'),"
                  " coalesce(weight_format, 'fp32'), act_elem_bits, weight_elem_bits,"
                  " act_meta_bits, weight_meta_bits FROM layers WHERE campaign = ?1 ORDER BY layer",
                  &st, "layers");
    if (rc < 0)
        return rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (grow((void **)&r->model_layers, &cap, r->n_model_layers, sizeof(*r->model_layers)))
            return nomem_in(L, st);
        struct au_report_model_layer *m = &r->model_layers[r->n_model_layers++];
        m->layer = sqlite3_column_int(st, 0);
        m->name = dup(L, col_text(st, 1));
        m->op = dup(L, col_text(st, 2));
        m->act_format = dup(L, col_text(st, 3));
        m->weight_format = dup(L, col_text(st, 4));
        m->label = short_label(L, m->layer, m->name ? m->name : "");
        int32_t *bits[] = {&m->act_elem_bits, &m->weight_elem_bits, &m->act_meta_bits,
                           &m->weight_meta_bits};
        for (int i = 0; i < 4; i++)
            *bits[i] = sqlite3_column_int(st, 5 + i);
    }
    return step_done(L, st, rc, "layers");
}

/* "act fp{exponent:5,...}; weights int{bits:8,...} / fp32": the distinct formats of the
 * targeted tensor kinds, shortened (per-layer parameters such as a profiled absmax would
 * make every layer's string different). */
static int load_formats(struct ld *L, int64_t cid, bool act, bool wt, const char **out)
{
    char buf[1024], prev[8][AU_REPORT_FORMAT_SHORT];
    size_t used = 0;
    buf[0] = '\0';
    for (int k = 0; k < 2; k++) {
        if (!(k ? wt : act))
            continue;
        sqlite3_stmt *st;
        const char *sql = k ? "SELECT coalesce(weight_format, 'fp32'), count(*) FROM layers"
                              " WHERE campaign = ?1 GROUP BY 1 ORDER BY min(layer)"
                            : "SELECT coalesce(act_format, 'fp32'), count(*) FROM layers"
                              " WHERE campaign = ?1 GROUP BY 1 ORDER BY min(layer)";
        if (sqlite3_prepare_v2(L->db, sql, -1, &st, NULL) != SQLITE_OK)
            return db_err(L, "layers");
        sqlite3_bind_int64(st, 1, cid);
        int rc, i = 0, n_prev = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            char sh[AU_REPORT_FORMAT_SHORT];
            au_report_short_format(col_text(st, 0), sh, sizeof(sh));
            bool seen = false;
            for (int j = 0; j < n_prev; j++)
                seen |= strcmp(prev[j], sh) == 0;
            if (seen || used >= sizeof(buf)) /* a very long list is cut, not an error */
                continue;
            if (n_prev < 8)
                memcpy(prev[n_prev++], sh, sizeof(sh));
            int n = snprintf(buf + used, sizeof(buf) - used, "%s%s%s",
                             i      ? " / "
                             : used ? "; "
                                    : "",
                             i   ? ""
                             : k ? "weights "
                                 : "act ",
                             sh);
            used += n > 0 ? (size_t)n : 0;
            i++;
        }
        if ((rc = step_done(L, st, rc, "layers")) < 0)
            return rc;
    }
    *out = dup(L, buf);
    return L->nomem ? au_diag_set(L->d, AU_NOMEM, "%s: out of memory", L->path) : AU_OK;
}

/* ---- per-target rows ------------------------------------------------------------------- */

static void kind_text(char *buf, size_t len, int32_t kind, const char *const names[3])
{
    snprintf(buf, len, "%s", kind >= 0 && kind < 3 ? names[kind] : "all");
}

static void layer_from_est(struct au_report_layer *l, const struct au_estimate *e)
{
    l->layer = e->layer;
    kind_text(l->tensor, sizeof(l->tensor), e->tensor, tensor_names);
    kind_text(l->bits, sizeof(l->bits), e->bits, bits_names);
    l->n_trials = e->n_trials;
    l->n_nonfinite = e->n_nonfinite;
    l->n_masked = e->n_masked;
    l->n_benign = e->n_benign;
    l->n_sdc = e->n_sdc;
    l->n_detected = e->n_detected;
    l->dloss = e->dloss;
    l->mismatch = e->mismatch;
    l->mis_lo = e->mismatch_lo;
    l->mis_hi = e->mismatch_hi;
    l->p_fault = e->p_fault;
}

static int cmp_rank(const void *a, const void *b)
{
    const struct au_report_layer *x = *(const struct au_report_layer *const *)a;
    const struct au_report_layer *y = *(const struct au_report_layer *const *)b;
    double u = x->dloss.mean, v = y->dloss.mean;
    if (isnan(u) != isnan(v))
        return isnan(u) ? 1 : -1;
    if (u != v && !isnan(u))
        return u < v ? 1 : -1;
    return x->mismatch < y->mismatch ? 1 : x->mismatch > y->mismatch ? -1 : 0;
}

/* Ranks by mean dloss (the resilience metric of the seed thesis), mismatch breaking ties. */
static int rank_layers(struct au_report *r)
{
    struct au_report_layer **order = au_malloc((r->n_layers + 1) * sizeof(*order));
    if (!order)
        return AU_NOMEM;
    for (size_t i = 0; i < r->n_layers; i++)
        order[i] = &r->layers[i];
    qsort(order, r->n_layers, sizeof(*order), cmp_rank);
    for (size_t i = 0; i < r->n_layers; i++)
        order[i]->rank = (int)i + 1;
    au_free(order);
    return AU_OK;
}

/* Range-detector firings per row (the estimator counts trials, not firings). Poisson rows
 * pool tensor and bit kinds ("all"), so a group adds to every row it falls in. */
static int load_detected(struct ld *L)
{
    struct au_report *r = L->r;
    sqlite3_stmt *st;
    int rc = prep(L,
                  "SELECT layer, tensor_kind, bit_kind, sum(detected) FROM trials"
                  " WHERE campaign = ?1 GROUP BY 1, 2, 3",
                  &st, "trials");
    if (rc < 0)
        return rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int32_t layer = sqlite3_column_type(st, 0) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 0);
        const char *t = col_text(st, 1), *b = col_text(st, 2);
        for (size_t i = 0; t && b && i < r->n_layers; i++) {
            struct au_report_layer *l = &r->layers[i];
            if (l->layer == layer && (strcmp(l->tensor, "all") == 0 || strcmp(l->tensor, t) == 0) &&
                (strcmp(l->bits, "all") == 0 || strcmp(l->bits, b) == 0))
                l->detected_total += sqlite3_column_int64(st, 3);
        }
    }
    return step_done(L, st, rc, "trials");
}

static int load_targets(struct ld *L)
{
    struct au_report *r = L->r;
    struct au_estimate *rows;
    size_t n;
    int rc = au_estimate_layers(L->est, L->self, &L->eo, &rows, &n, L->d);
    if (rc < 0)
        return rc;
    if (n == 0)
        return au_diag_set(L->d, AU_NOTFOUND, "%s: campaign '%s' has no trials yet", L->path,
                           r->name);
    r->layers = au_calloc(n, sizeof(*r->layers));
    if (!r->layers) {
        au_free(rows);
        return au_diag_set(L->d, AU_NOMEM, "%s: out of memory", L->path);
    }
    for (size_t i = 0; i < n; i++)
        layer_from_est(&r->layers[r->n_layers++], &rows[i]);
    au_free(rows);
    if (rank_layers(r) < 0)
        return au_diag_set(L->d, AU_NOMEM, "%s: out of memory", L->path);
    return load_detected(L);
}

/* ---- comparison across campaigns of the same model -------------------------------------- */

static int cmp_push(struct ld *L, size_t *cap, const struct au_report_cmp *row)
{
    struct au_report *r = L->r;
    if (grow((void **)&r->cmp, cap, r->n_cmp, sizeof(*r->cmp)))
        return au_diag_set(L->d, AU_NOMEM, "%s: out of memory", L->path);
    r->cmp[r->n_cmp++] = *row;
    return AU_OK;
}

static void cmp_from_est(struct au_report_cmp *c, const struct au_estimate *e)
{
    c->n_trials = e->n_trials;
    c->n_nonfinite = e->n_nonfinite;
    c->dloss = e->dloss;
    c->mismatch = e->mismatch;
    c->mis_lo = e->mismatch_lo;
    c->mis_hi = e->mismatch_hi;
}

/* Back to the moments behind an estimate, to merge the targets of one layer. */
static void acc_of(const struct au_estimate *e, struct au_stats_acc *a)
{
    a->n = e->dloss.n;
    a->mean = a->n ? e->dloss.mean : 0;
    a->m2 = a->n > 1 ? e->dloss.var * (double)(a->n - 1) : 0;
    a->abs_sum = a->n ? e->dloss.mean_abs * (double)a->n : 0;
}

/* One layer's row: its only target, or its targets merged (act and weight, say). Targets
 * scaled by different Poisson factors do not merge into anything meaningful: n/a. */
static void cmp_layer(struct au_report_cmp *c, const struct au_estimate *rows, size_t n,
                      const struct au_estimate_opts *eo)
{
    if (n == 1) {
        cmp_from_est(c, rows);
        return;
    }
    struct au_stats_acc acc = {0}, one;
    double k = 0;
    bool scaled = false;
    c->n_trials = c->n_nonfinite = 0;
    for (size_t i = 0; i < n; i++) {
        acc_of(&rows[i], &one);
        au_stats_acc_merge(&acc, &one);
        k += rows[i].mismatch_k;
        c->n_trials += rows[i].n_trials;
        c->n_nonfinite += rows[i].n_nonfinite;
        scaled |= rows[i].p_fault != 1;
    }
    au_stats_mean_ci(scaled ? &(struct au_stats_acc){0} : &acc, eo->level, &c->dloss);
    c->mismatch = scaled ? NAN : k / (double)c->n_trials;
    au_stats_rate_ci(eo->method, k, (double)c->n_trials, eo->level, &c->mis_lo, &c->mis_hi);
    if (scaled)
        c->mis_lo = c->mis_hi = NAN;
}

/* The whole campaign: the estimator's model level, or (single-layer Poisson, where each
 * layer has its own factor) the counts only. */
static int cmp_total(struct ld *L, const struct au_estimate_campaign *c,
                     const struct au_estimate *rows, size_t n, struct au_report_cmp *row)
{
    struct au_estimate tot;
    int rc = au_estimate_model(L->est, c, &L->eo, &tot, L->d);
    if (rc == AU_OK) {
        cmp_from_est(row, &tot);
        return AU_OK;
    }
    if (rc != AU_UNSUPPORTED)
        return rc;
    au_stats_mean_ci(&(struct au_stats_acc){0}, L->r->level, &row->dloss);
    row->mismatch = row->mis_lo = row->mis_hi = NAN;
    for (size_t i = 0; i < n; i++) {
        row->n_trials += rows[i].n_trials;
        row->n_nonfinite += rows[i].n_nonfinite;
    }
    return AU_OK;
}

/* One campaign: its total row, then one row per layer. */
static int cmp_campaign(struct ld *L, size_t *cap, const struct au_estimate_campaign *c)
{
    struct au_estimate *rows;
    size_t n;
    int rc = au_estimate_layers(L->est, c, &L->eo, &rows, &n, L->d);
    if (rc < 0)
        return rc;
    bool act = false, wt = false;
    for (size_t i = 0; i < n; i++) {
        act |= rows[i].tensor != AU_STORE_TENSOR_WEIGHT;
        wt |= rows[i].tensor != AU_STORE_TENSOR_ACT;
    }
    struct au_report_cmp row = {.campaign = c->id, .name = dup(L, c->name), .total = true};
    row.layer = -1;
    if ((rc = load_formats(L, c->id, act || !wt, wt, &row.formats)) == AU_OK)
        rc = cmp_total(L, c, rows, n, &row);
    if (rc == AU_OK && c->id == L->r->id)
        L->r->total = row;
    if (rc == AU_OK)
        rc = cmp_push(L, cap, &row);
    for (size_t i = 0, j; rc == AU_OK && i < n; i = j) { /* rows come ordered by layer */
        for (j = i + 1; j < n && rows[j].layer == rows[i].layer;)
            j++;
        struct au_report_cmp lr = row;
        lr.total = false;
        lr.layer = rows[i].layer;
        cmp_layer(&lr, rows + i, j - i, &L->eo);
        rc = cmp_push(L, cap, &lr);
    }
    au_free(rows);
    return rc;
}

/* The campaigns with this one's model hash (this one included), in id order. */
static int load_cmp(struct ld *L)
{
    sqlite3_stmt *st;
    size_t cap = 0;
    int rc = prep(L,
                  "SELECT id FROM campaigns WHERE model_sha256 IS"
                  " (SELECT model_sha256 FROM campaigns WHERE id = ?1) ORDER BY id",
                  &st, "campaigns");
    if (rc < 0)
        return rc;
    bool *same = au_calloc(L->n_camps + 1, sizeof(*same));
    if (!same)
        return nomem_in(L, st);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        for (size_t i = 0; i < L->n_camps; i++)
            same[i] |= L->camps[i].id == sqlite3_column_int64(st, 0);
    rc = step_done(L, st, rc, "campaigns");
    for (size_t i = 0; rc == AU_OK && i < L->n_camps; i++)
        if (same[i])
            rc = cmp_campaign(L, &cap, &L->camps[i]);
    au_free(same);
    return rc;
}

/* ---- bits and fields --------------------------------------------------------------------- */

static int bit_row(struct ld *L, sqlite3_stmt *st, size_t *cap)
{
    struct au_report *r = L->r;
    if (grow((void **)&r->bits, cap, r->n_bits, sizeof(*r->bits)))
        return AU_NOMEM;
    struct au_report_bit *b = &r->bits[r->n_bits++];
    memset(b, 0, sizeof(*b));
    b->layer = sqlite3_column_type(st, 0) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 0);
    snprintf(b->tensor, sizeof(b->tensor), "%s", col_text(st, 1) ? col_text(st, 1) : "?");
    b->is_meta = sqlite3_column_int(st, 2) != 0;
    b->bit = sqlite3_column_int(st, 3);
    b->field = dup(L, col_text(st, 4) ? col_text(st, 4) : "");
    b->n_trials = sqlite3_column_int64(st, 5);
    b->n_nonfinite = sqlite3_column_int64(st, 6);
    b->n_sdc = sqlite3_column_int64(st, 7);
    b->mismatch_sum = sqlite3_column_double(st, 8);
    b->mean_dloss = col_double(st, 9);
    au_stats_rate_ci(r->method, b->mismatch_sum, (double)b->n_trials, r->level, &b->mis_lo,
                     &b->mis_hi);
    return AU_OK;
}

/* Single-flip trials only: a trial with several flips cannot be charged to one bit. */
static int load_bits(struct ld *L)
{
    sqlite3_stmt *st;
    size_t cap = 0;
    int rc =
        prep(L,
             "SELECT f.layer, f.tensor_kind, f.is_meta, f.bit, min(f.field), count(*),"
             " sum(t.outcome = 'nonfinite'), sum(t.outcome = 'sdc'), sum(t.mismatch),"
             " avg(CASE WHEN t.outcome <> 'nonfinite' THEN t.delta_loss END)"
             " FROM trials t JOIN flips f ON f.campaign = t.campaign AND f.trial = t.trial"
             " WHERE t.campaign = ?1 AND t.n_flips = 1 GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4",
             &st, "flips");
    if (rc < 0)
        return rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (bit_row(L, st, &cap) < 0)
            return nomem_in(L, st);
    return step_done(L, st, rc, "flips");
}

static int cmp_field(const void *a, const void *b)
{
    const struct au_report_field *x = a, *y = b;
    if (x->share != y->share)
        return x->share < y->share ? 1 : -1;
    if (x->is_meta != y->is_meta)
        return x->is_meta ? 1 : -1;
    return y->bit_hi - x->bit_hi;
}

/* Sum the bits by (is_meta, field); shares of the campaign's single-flip mismatches. */
static int build_fields(struct ld *L)
{
    struct au_report *r = L->r;
    double total = 0, *dsum = au_calloc(r->n_bits + 1, sizeof(*dsum));
    int64_t *dn = au_calloc(r->n_bits + 1, sizeof(*dn));
    r->fields = au_calloc(r->n_bits + 1, sizeof(*r->fields));
    if (!dsum || !dn || !r->fields) {
        au_free(dsum);
        au_free(dn);
        return au_diag_set(L->d, AU_NOMEM, "%s: out of memory", L->path);
    }
    for (size_t i = 0; i < r->n_bits; i++) {
        const struct au_report_bit *b = &r->bits[i];
        size_t k = 0;
        while (k < r->n_fields &&
               (r->fields[k].is_meta != b->is_meta || strcmp(r->fields[k].field, b->field) != 0))
            k++;
        struct au_report_field *f = &r->fields[k];
        if (k == r->n_fields) {
            r->n_fields++;
            *f = (struct au_report_field){b->is_meta, b->field, b->bit, b->bit, 0, 0, 0, 0, 0, 0};
        }
        f->bit_lo = b->bit < f->bit_lo ? b->bit : f->bit_lo;
        f->bit_hi = b->bit > f->bit_hi ? b->bit : f->bit_hi;
        f->n_trials += b->n_trials;
        f->n_nonfinite += b->n_nonfinite;
        f->n_sdc += b->n_sdc;
        f->mismatch_sum += b->mismatch_sum;
        if (!isnan(b->mean_dloss)) { /* weighted by the finite trials behind each mean */
            dsum[k] += b->mean_dloss * (double)(b->n_trials - b->n_nonfinite);
            dn[k] += b->n_trials - b->n_nonfinite;
        }
        total += b->mismatch_sum;
    }
    for (size_t i = 0; i < r->n_bits; i++)
        r->bits[i].share = total > 0 ? r->bits[i].mismatch_sum / total : 0;
    for (size_t k = 0; k < r->n_fields; k++) {
        r->fields[k].share = total > 0 ? r->fields[k].mismatch_sum / total : 0;
        r->fields[k].mean_dloss = dn[k] ? dsum[k] / (double)dn[k] : NAN;
    }
    qsort(r->fields, r->n_fields, sizeof(*r->fields), cmp_field);
    au_free(dsum);
    au_free(dn);
    return AU_OK;
}

static int load_poisson(struct ld *L)
{
    sqlite3_stmt *st;
    int rc = prep(L,
                  "SELECT count(*), min(p_fault), max(p_fault), max(conditioned), sum(mean_flips)"
                  " FROM poisson WHERE campaign = ?1",
                  &st, "poisson");
    if (rc < 0)
        return rc;
    if ((rc = sqlite3_step(st)) == SQLITE_ROW && sqlite3_column_int64(st, 0) > 0) {
        int64_t n = sqlite3_column_int64(st, 0);
        double lo = sqlite3_column_double(st, 1), hi = sqlite3_column_double(st, 2);
        bool cond = sqlite3_column_int(st, 3) != 0;
        char p[64];
        if (n == 1)
            snprintf(p, sizeof(p), "P(N >= 1) = %.4g", lo);
        else
            snprintf(p, sizeof(p), "P(N >= 1) from %.4g to %.4g over %lld targets", lo, hi,
                     (long long)n);
        L->r->poisson =
            fmt(L, "E[N] = %.4g flips (summed over targets), %s%s", sqlite3_column_double(st, 4), p,
                cond ? "; trials drawn given N >= 1, so the means, rates and intervals shown"
                       " are multiplied by P(N >= 1) (unconditional); the bit tables stay per flip"
                     : "");
    }
    if (rc == SQLITE_ROW)
        rc = sqlite3_step(st);
    return step_done(L, st, rc, "poisson");
}

static int count_flips(struct ld *L)
{
    sqlite3_stmt *st;
    int rc = prep(L, "SELECT count(*) FROM flips WHERE campaign = ?1", &st, "flips");
    if (rc < 0)
        return rc;
    if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        L->r->n_flips = sqlite3_column_int64(st, 0);
        rc = sqlite3_step(st);
    }
    return step_done(L, st, rc, "flips");
}

static int summarize(struct ld *L); /* below: the sentences */

static int load_all(struct ld *L, const char *campaign)
{
    int rc;
    if ((rc = find_campaign(L, campaign)) < 0 || (rc = load_settings(L)) < 0 ||
        (rc = load_model_layers(L)) < 0 || (rc = load_targets(L)) < 0 || (rc = load_bits(L)) < 0 ||
        (rc = build_fields(L)) < 0 || (rc = load_cmp(L)) < 0 || (rc = load_poisson(L)) < 0 ||
        (rc = count_flips(L)) < 0)
        return rc;
    bool act = false, wt = false;
    for (size_t i = 0; i < L->r->n_layers; i++) {
        act |= strcmp(L->r->layers[i].tensor, "weight") != 0;
        wt |= strcmp(L->r->layers[i].tensor, "act") != 0;
    }
    return load_formats(L, L->r->id, act, wt, &L->r->formats);
}

int au_report_load(const char *path, const char *campaign, const struct au_estimate_opts *o,
                   struct au_report **out, struct au_diag *d)
{
    if (!out || !path)
        return au_diag_set(d, AU_INVALID, "report: no database path");
    *out = NULL;
    struct ld L = {.path = path, .d = d, .eo = o ? *o : (struct au_estimate_opts){0, 0}};
    if (!(L.eo.level == 0 || (L.eo.level > 0 && L.eo.level < 1))) /* NaN fails both */
        return au_diag_set(d, AU_INVALID, "%s: report: confidence level %g is not in (0, 1)", path,
                           L.eo.level);
    if (!au_stats_method_name(L.eo.method))
        return au_diag_set(d, AU_INVALID, "%s: report: unknown interval method %d", path,
                           L.eo.method);
    int rc = au_estimate_open(path, &L.est, d); /* the store's checks and messages */
    if (rc < 0)
        return rc;
    if (!(L.r = au_calloc(1, sizeof(*L.r))) || !(L.r->db_path = dup(&L, path))) {
        au_report_free(L.r);
        au_estimate_close(L.est);
        return au_diag_set(d, AU_NOMEM, "%s: out of memory", path);
    }
    /* One connection, one snapshot: the estimates and every table read below agree even
     * while a campaign appends trials. */
    L.db = au_estimate_sqlite(L.est);
    rc = au_estimate_begin(L.est, d);
    if (rc == AU_OK)
        rc = load_all(&L, campaign);
    if (rc == AU_OK)
        rc = summarize(&L);
    au_estimate_end(L.est);
    au_estimate_close(L.est);
    au_free(L.camps);
    if (rc < 0)
        au_report_free(L.r);
    else
        *out = L.r;
    return rc;
}

void au_report_free(struct au_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_strs_; i++)
        au_free(r->strs_[i]);
    au_free(r->strs_);
    au_free(r->model_layers);
    au_free(r->layers);
    au_free(r->bits);
    au_free(r->fields);
    au_free(r->cmp);
    au_free(r->summary);
    au_free(r);
}

/* ---- formatting helpers shared by the writers ------------------------------------------- */

const struct au_report_model_layer *au_report_find_layer(const struct au_report *r, int32_t layer)
{
    for (size_t i = 0; r && i < r->n_model_layers; i++)
        if (r->model_layers[i].layer == layer)
            return &r->model_layers[i];
    return NULL;
}

const char *au_report_layer_format(const struct au_report *r, const struct au_report_layer *l)
{
    const struct au_report_model_layer *m = au_report_find_layer(r, l->layer);
    if (!m)
        return "";
    if (strcmp(l->tensor, "act") == 0)
        return m->act_format;
    if (strcmp(l->tensor, "weight") == 0)
        return m->weight_format;
    return "mixed";
}

void au_report_target_label(const struct au_report *r, const struct au_report_layer *l, char *buf,
                            size_t len)
{
    const struct au_report_model_layer *m = au_report_find_layer(r, l->layer);
    bool one_kind = true;
    for (size_t i = 1; i < r->n_layers; i++)
        one_kind &= strcmp(r->layers[i].tensor, r->layers[0].tensor) == 0 &&
                    strcmp(r->layers[i].bits, r->layers[0].bits) == 0;
    const char *name = l->layer < 0 ? "model-wide" : m ? m->label : "?";
    if (one_kind)
        snprintf(buf, len, "%s", name);
    else
        snprintf(buf, len, "%s %s/%s", name, l->tensor, l->bits);
}

const char *au_report_method_label(int method)
{
    static const char *const names[AU_STATS_METHOD_COUNT] = {"Wilson", "Clopper-Pearson", "normal"};
    return method >= 0 && method < AU_STATS_METHOD_COUNT ? names[method] : "?";
}

void au_report_num(char *buf, size_t len, double v)
{
    if (isnan(v))
        snprintf(buf, len, "n/a");
    else if (v != 0 && (fabs(v) < 1e-3 || fabs(v) >= 1e5))
        snprintf(buf, len, "%.3g", v);
    else
        snprintf(buf, len, "%.4g", v);
}

void au_report_pct(char *buf, size_t len, double p)
{
    if (isnan(p))
        snprintf(buf, len, "n/a");
    else if (p == 0)
        snprintf(buf, len, "0%%");
    else
        snprintf(buf, len, "%.3g%%", 100 * p);
}

void au_report_short_format(const char *fmt, char *buf, size_t len)
{
    const char *p = fmt ? fmt : "";
    int commas = 0;
    while (*p && commas < 3)
        commas += *p++ == ',';
    if (commas < 3 || !strchr(p, '}'))
        snprintf(buf, len, "%s", fmt ? fmt : "");
    else
        snprintf(buf, len, "%.*s,...}", (int)(p - fmt - 1), fmt);
}

const char *au_report_csv_name(int table)
{
    static const char *const names[] = {"layers.csv", "bits.csv", "campaigns.csv"};
    return table >= 0 && table < 3 ? names[table] : NULL;
}

/* ---- the plain-language summary ---------------------------------------------------------- */

static int say(struct ld *L, size_t *cap, const char *s)
{
    struct au_report *r = L->r;
    if (!s || grow((void **)&r->summary, cap, r->n_summary, sizeof(*r->summary)))
        return au_diag_set(L->d, AU_NOMEM, "%s: out of memory", L->path);
    r->summary[r->n_summary++] = (char *)s;
    return AU_OK;
}

/* The model-level answer of a Poisson campaign: E[L_t] (model-wide timing) or E[L_T]
 * (layer-wise) with its interval; single-layer timing has one E[L_t] per target instead. */
static const char *say_poisson(struct ld *L)
{
    const struct au_report *r = L->r;
    int timing = L->self->timing;
    if (timing == AU_CAMPAIGN_SINGLE_LAYER)
        return " Single-layer timing: each target has its own P(N >= 1), so each row of the "
               "table is that layer's E[L_t] (\xce\x94loss) and failure rate; no model-wide total "
               "exists.";
    if (timing != AU_CAMPAIGN_MODEL_WIDE && timing != AU_CAMPAIGN_LAYER_WISE)
        return "";
    char m[16], lo[16], hi[16];
    au_report_num(m, sizeof(m), r->total.dloss.mean);
    au_report_num(lo, sizeof(lo), r->total.dloss.t_lo);
    au_report_num(hi, sizeof(hi), r->total.dloss.t_hi);
    return fmt(L,
               " Expected loss increase per inference %s = %s (%g%% Student-t interval %s to %s).",
               timing == AU_CAMPAIGN_MODEL_WIDE ? "E[L_t] (model-wide timing)"
                                                : "E[L_T] (layer-wise timing)",
               m, 100 * r->level, lo, hi);
}

static const char *say_overview(struct ld *L)
{
    struct au_report *r = L->r;
    int64_t masked = 0, sdc = 0;
    for (size_t i = 0; i < r->n_layers; i++) {
        masked += r->layers[i].n_masked;
        sdc += r->layers[i].n_sdc;
    }
    const struct au_report_cmp *t = &r->total;
    char pm[16], ps[16], rate[128] = "";
    au_report_pct(pm, sizeof(pm), (double)masked / t->n_trials);
    au_report_pct(ps, sizeof(ps), (double)sdc / t->n_trials);
    bool scaled = false;
    for (size_t i = 0; i < r->n_layers; i++)
        scaled |= r->layers[i].p_fault != 1;
    if (!isnan(t->mismatch)) { /* NaN: targets with different factors (single-layer) */
        char m[16], lo[16], hi[16];
        au_report_pct(m, sizeof(m), t->mismatch);
        au_report_pct(lo, sizeof(lo), t->mis_lo);
        au_report_pct(hi, sizeof(hi), t->mis_hi);
        snprintf(rate, sizeof(rate), "; mismatch rate %s%s (%g%% %s interval %s to %s)", m,
                 scaled ? " once scaled by P(N >= 1)" : "", 100 * r->level,
                 au_report_method_label(r->method), lo, hi);
    }
    return fmt(L,
               "%lld trials (%lld flips) over %zu target%s: %s of the faults were masked and %s "
               "changed the top-1 prediction%s%s.%s",
               (long long)t->n_trials, (long long)r->n_flips, r->n_layers,
               r->n_layers == 1 ? "" : "s", pm, ps,
               scaled ? " (trials drawn given at least one flip)" : "", rate,
               L->self->process == AU_CAMPAIGN_POISSON ? say_poisson(L) : "");
}

static const char *say_layers(struct ld *L)
{
    struct au_report *r = L->r;
    const struct au_report_layer *top[3] = {NULL, NULL, NULL};
    for (size_t i = 0; i < r->n_layers; i++)
        if (r->layers[i].rank <= 3 && !isnan(r->layers[i].dloss.mean))
            top[r->layers[i].rank - 1] = &r->layers[i];
    if (!top[0])
        return fmt(L, "No trial ended with a finite loss, so no layer can be ranked by mean "
                      "\xce\x94loss.");
    char part[3][200];
    for (int k = 0; k < 3; k++) {
        char name[96], m[16], lo[16], hi[16];
        part[k][0] = '\0';
        if (!top[k])
            continue;
        au_report_target_label(r, top[k], name, sizeof(name));
        au_report_num(m, sizeof(m), top[k]->dloss.mean);
        au_report_num(lo, sizeof(lo), top[k]->dloss.t_lo);
        au_report_num(hi, sizeof(hi), top[k]->dloss.t_hi);
        snprintf(part[k], sizeof(part[k]), "%s%s (%s, interval %s to %s)", k ? "; " : "", name, m,
                 lo, hi);
    }
    bool apart = top[1] && top[0]->dloss.t_lo > top[1]->dloss.t_hi;
    return fmt(L, "Most vulnerable by mean \xce\x94loss: %s%s%s.%s", part[0], part[1], part[2],
               apart ? " The first stands apart: its interval lies above the next one's." : "");
}

/* "bit 14, the top bit of 'exponent' (bits 10-14)" for the fields' observed bit ranges. */
static void bit_words(const struct au_report *r, bool is_meta, const char *field, int bit,
                      char *buf, size_t len)
{
    const struct au_report_field *f = NULL;
    for (size_t k = 0; k < r->n_fields; k++)
        if (r->fields[k].is_meta == is_meta && strcmp(r->fields[k].field, field) == 0)
            f = &r->fields[k];
    const char *pre = is_meta ? "metadata " : "";
    if (!f || !*field)
        snprintf(buf, len, "%sbit %d", pre, bit);
    else if (f->bit_lo == f->bit_hi)
        snprintf(buf, len, "%sbit %d (the '%s' bit)", pre, bit, field);
    else
        snprintf(buf, len, "%sbit %d, %s of '%s' (bits %d-%d),", pre, bit,
                 bit == f->bit_hi   ? "the top bit"
                 : bit == f->bit_lo ? "the lowest bit"
                                    : "a bit",
                 field, f->bit_lo, f->bit_hi);
}

static const char *say_bits(struct ld *L)
{
    struct au_report *r = L->r;
    if (!r->n_bits)
        return fmt(L, "No trial had exactly one flip, so mismatches are not charged to bits.");
    size_t best = 0;
    double best_sum = -1, total = 0;
    for (size_t i = 0; i < r->n_bits; i++) { /* sum each (is_meta, field, bit) over layers */
        const struct au_report_bit *b = &r->bits[i];
        double s = 0;
        for (size_t j = 0; j < r->n_bits; j++)
            if (r->bits[j].is_meta == b->is_meta && r->bits[j].bit == b->bit &&
                strcmp(r->bits[j].field, b->field) == 0)
                s += r->bits[j].mismatch_sum;
        if (s > best_sum) {
            best_sum = s;
            best = i;
        }
        total += b->mismatch_sum;
    }
    if (total <= 0)
        return fmt(L, "No single-flip trial changed the top-1 prediction, so no bit stands out.");
    const struct au_report_bit *b = &r->bits[best];
    const struct au_report_field *f = &r->fields[0];
    char words[128], p[16], pf[16];
    bit_words(r, b->is_meta, b->field, b->bit, words, sizeof(words));
    au_report_pct(p, sizeof(p), best_sum / total);
    au_report_pct(pf, sizeof(pf), f->share);
    bool same = f->bit_lo == f->bit_hi && f->is_meta == b->is_meta && f->bit_lo == b->bit;
    if (same && r->n_fields > 1 && r->fields[1].share >= 0.1 && *r->fields[1].field) {
        au_report_pct(pf, sizeof(pf), r->fields[1].share); /* the one-bit field leads: next */
        return fmt(L,
                   "Flips of %s cause %s of the mismatches of single-flip trials; the '%s' field "
                   "as a whole causes %s.",
                   words, p, r->fields[1].field, pf);
    }
    if (same || !*f->field)
        return fmt(L, "Flips of %s cause %s of the mismatches of single-flip trials.", words, p);
    return fmt(L,
               "Flips of %s cause %s of the mismatches of single-flip trials; the '%s' field as a "
               "whole causes %s.",
               words, p, f->field, pf);
}

static const char *say_nonfinite(struct ld *L)
{
    struct au_report *r = L->r;
    if (r->total.n_nonfinite == 0)
        return fmt(L, "No trial produced a NaN or infinite loss.");
    const struct au_report_field *worst = NULL;
    for (size_t k = 0; k < r->n_fields; k++)
        if (!worst || r->fields[k].n_nonfinite > worst->n_nonfinite)
            worst = &r->fields[k];
    char p[16];
    au_report_pct(p, sizeof(p), (double)r->total.n_nonfinite / r->total.n_trials);
    const char *s = r->total.n_nonfinite == 1 ? "" : "s";
    if (!worst || worst->n_nonfinite == 0 || !*worst->field)
        return fmt(L,
                   "%lld trial%s (%s) produced a NaN or infinite loss; counted apart, left out "
                   "of the \xce\x94loss means.",
                   (long long)r->total.n_nonfinite, s, p);
    return fmt(L,
               "%lld trial%s (%s) produced a NaN or infinite loss; counted apart, left out of "
               "the \xce\x94loss means. %lld of them were single flips of '%s'.",
               (long long)r->total.n_nonfinite, s, p, (long long)worst->n_nonfinite, worst->field);
}

static const char *say_compare(struct ld *L)
{
    struct au_report *r = L->r;
    const struct au_report_cmp *lo = NULL, *hi = NULL;
    size_t n = 0;
    for (size_t i = 0; i < r->n_cmp; i++) {
        const struct au_report_cmp *c = &r->cmp[i];
        if (!c->total || !c->n_trials)
            continue;
        n++;
        lo = !lo || c->mismatch < lo->mismatch ? c : lo;
        hi = !hi || c->mismatch > hi->mismatch ? c : hi;
    }
    if (n < 2)
        return NULL;
    char a[16], al[16], ah[16], b[16], bl[16], bh[16];
    au_report_pct(a, sizeof(a), lo->mismatch);
    au_report_pct(al, sizeof(al), lo->mis_lo);
    au_report_pct(ah, sizeof(ah), lo->mis_hi);
    au_report_pct(b, sizeof(b), hi->mismatch);
    au_report_pct(bl, sizeof(bl), hi->mis_lo);
    au_report_pct(bh, sizeof(bh), hi->mis_hi);
    return fmt(L,
               "Across the %zu campaigns of this model, %s has the lowest mismatch rate (%s, %s "
               "to %s) and %s the highest (%s, %s to %s)%s.",
               n, lo->name, a, al, ah, hi->name, b, bl, bh,
               hi->mis_lo > lo->mis_hi ? "; the intervals do not overlap" : "");
}

/* A campaign that is not done is read as it stood: say so first, so nobody quotes it as
 * final (status "running", "interrupted" or "failed"). */
static const char *say_partial(struct ld *L)
{
    struct au_report *r = L->r;
    const char *st = r->status ? r->status : "unknown";
    if (strcmp(st, "running") == 0)
        return fmt(L,
                   "Partial results: the campaign is still running; these numbers cover the "
                   "%lld trials recorded when the report read the database (one consistent "
                   "snapshot). Run aurum report again when it is done.",
                   (long long)r->total.n_trials);
    return fmt(L,
               "Partial results: the campaign's status is '%s'%s%s%s; these numbers cover the "
               "%lld trials recorded. aurum run resumes it.",
               st, r->stop_reason ? " (" : "", r->stop_reason ? r->stop_reason : "",
               r->stop_reason ? ")" : "", (long long)r->total.n_trials);
}

static int summarize(struct ld *L)
{
    struct au_report *r = L->r;
    size_t cap = 0;
    int64_t det = 0;
    for (size_t i = 0; i < r->n_layers; i++)
        det += r->layers[i].n_detected;
    r->partial = !r->status || strcmp(r->status, "done") != 0;
    int rc = r->partial ? say(L, &cap, say_partial(L)) : AU_OK;
    if (rc == AU_OK)
        rc = say(L, &cap, say_overview(L));
    if (rc == AU_OK)
        rc = say(L, &cap, say_layers(L));
    if (rc == AU_OK)
        rc = say(L, &cap, say_bits(L));
    if (rc == AU_OK)
        rc = say(L, &cap, say_nonfinite(L));
    if (rc == AU_OK && det > 0) {
        char p[16];
        au_report_pct(p, sizeof(p), (double)det / r->total.n_trials);
        rc = say(L, &cap,
                 fmt(L, "The range detector fired in %lld trial%s (%s).", (long long)det,
                     det == 1 ? "" : "s", p));
    }
    const char *c = rc == AU_OK ? say_compare(L) : NULL;
    if (c || L->nomem)
        rc = say(L, &cap, c);
    return rc;
}

/* ---- all files ---------------------------------------------------------------------------- */

int au_report_file_open(const char *dir, const char *file, char *path, size_t len, FILE **out,
                        struct au_diag *d)
{
    *out = NULL;
    int n = snprintf(path, len, "%s/%s", dir, file);
    if (n < 0 || (size_t)n >= len)
        return au_diag_set(d, AU_INVALID, "%s: path too long", dir);
    if (!(*out = fopen(path, "w")))
        return au_diag_set(d, AU_IO, "%s: %s", path, strerror(errno));
    return AU_OK;
}

int au_report_file_close(FILE *f, const char *path, int rc, struct au_diag *d)
{
    int err = errno; /* of the failed write, if one failed */
    if (fclose(f) != 0 && rc == AU_OK) {
        err = errno;
        rc = AU_IO;
    }
    if (rc < 0)
        return au_diag_set(d, rc, "%s: %s", path, rc == AU_IO ? strerror(err) : au_strerror(rc));
    return AU_OK;
}

static int write_one(const struct au_report *r, const char *dir, const char *file, int kind,
                     const struct au_report_opts *o, struct au_diag *d)
{
    char path[4096];
    FILE *f;
    int rc = au_report_file_open(dir, file, path, sizeof(path), &f, d);
    if (rc < 0)
        return rc;
    rc = kind == -2   ? au_report_write_html(r, f, o)
         : kind == -1 ? au_report_write_md(r, f)
                      : au_report_write_csv(r, kind, f);
    return au_report_file_close(f, path, rc, d);
}

int au_report_write(const struct au_report *r, const char *dir, const struct au_report_opts *o,
                    struct au_diag *d)
{
    struct stat sb;
    if (!r || !dir)
        return au_diag_set(d, AU_INVALID, "report: nothing to write");
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return au_diag_set(d, AU_IO, "%s: directory does not exist", dir);
    int rc = write_one(r, dir, "report.html", -2, o, d);
    if (rc == AU_OK)
        rc = write_one(r, dir, "report.md", -1, o, d);
    for (int k = AU_REPORT_CSV_LAYERS; rc == AU_OK && k <= AU_REPORT_CSV_CAMPAIGNS; k++)
        rc = write_one(r, dir, au_report_csv_name(k), k, o, d);
    return rc;
}

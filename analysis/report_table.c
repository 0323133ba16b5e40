/* The report's tables as text, shared by report.html and report.md (report_table.h). A table
 * is sized first (rows x columns), then filled column by column through a cursor, so the
 * column list of each table is written once, here, and the writers only add markup. */
#include "report_table.h"

#include "core/alloc.h"
#include "core/status.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cur {
    struct au_report_table *t;
    size_t row;
    int col;
};

static void put(struct cur *c, const char *text, const char *tip)
{
    size_t k = c->row * (size_t)c->t->n_cols + (size_t)c->col++;
    c->t->text[k] = text ? text : "";
    c->t->tip[k] = tip;
}

/* The cell's own slot, for formatted numbers. */
static char *slot(struct cur *c)
{
    return c->t->buf[c->row * (size_t)c->t->n_cols + (size_t)c->col];
}

static void put_int(struct cur *c, long long v)
{
    char *s = slot(c);
    snprintf(s, AU_REPORT_TAB_CELL, "%lld", v);
    put(c, s, NULL);
}

static void put_num(struct cur *c, double v)
{
    char *s = slot(c);
    au_report_num(s, AU_REPORT_TAB_CELL, v);
    put(c, s, NULL);
}

static void put_pct(struct cur *c, double v)
{
    char *s = slot(c);
    au_report_pct(s, AU_REPORT_TAB_CELL, v);
    put(c, s, NULL);
}

static void put_interval(struct cur *c, double lo, double hi, bool pct)
{
    char a[24], b[24], *s = slot(c);
    (pct ? au_report_pct : au_report_num)(a, sizeof(a), lo);
    (pct ? au_report_pct : au_report_num)(b, sizeof(b), hi);
    snprintf(s, AU_REPORT_TAB_CELL, "[%s, %s]", a, b);
    put(c, s, NULL);
}

/* "mean ± half-width of the t interval" */
static void put_mean(struct cur *c, const struct au_stats_mean *m)
{
    char a[24], b[24], *s = slot(c);
    au_report_num(a, sizeof(a), m->mean);
    au_report_num(b, sizeof(b), (m->t_hi - m->t_lo) / 2);
    snprintf(s, AU_REPORT_TAB_CELL, "%s \xc2\xb1 %s", a, b);
    put(c, s, NULL);
}

static int alloc(struct au_report_table *t, size_t n_rows, int n_cols)
{
    size_t n = n_rows * (size_t)n_cols + 1;
    t->n_rows = n_rows;
    t->n_cols = n_cols;
    t->text = au_calloc(n, sizeof(*t->text));
    t->tip = au_calloc(n, sizeof(*t->tip));
    t->buf = au_calloc(n, sizeof(*t->buf));
    t->self = au_calloc(n_rows + 1, sizeof(*t->self));
    if (t->text && t->tip && t->buf && t->self)
        return AU_OK;
    au_report_table_fini(t);
    return AU_NOMEM;
}

static void heads(struct au_report_table *t, const char *const *h, int n)
{
    for (int i = 0; i < n; i++)
        t->head[i] = h[i];
}

/* ---- settings -------------------------------------------------------------------------- */

static const char *line(struct au_report_table *t, int i, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static const char *line(struct au_report_table *t, int i, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->line[i], sizeof(t->line[i]), fmt, ap);
    va_end(ap);
    return t->line[i];
}

static int settings(const struct au_report *r, struct au_report_table *t)
{
    const char *kv[][2] = {
        {"Campaign", r->name},
        {"Description", r->description},
        {"Model", line(t, 0, "%s (sha256 %.16s...)", r->model ? r->model : "?",
                       r->model_sha256 ? r->model_sha256 : "unknown")},
        {"Formats", r->formats},
        {"Targets", r->targets},
        {"Fault", r->fault},
        {"Process", r->process},
        {"Recorded", line(t, 1, "%lld trials, %lld flips", (long long)r->total.n_trials,
                          (long long)r->n_flips)},
        {"Poisson", r->poisson},
        {"Stopping",
         line(t, 2, "%s%s%s", r->stop ? r->stop : "?", r->stop_reason ? "; stopped: " : "",
              r->stop_reason ? r->stop_reason : "")},
        {"Seed", line(t, 3, "%llu", (unsigned long long)r->seed)},
        {"Confidence level", line(t, 4, "%g%% (means: Student-t intervals; rates: %s intervals)",
                                  100 * r->level, au_report_method_label(r->method))},
        {"Status", line(t, 5, "%s%s (started %s, ended %s)", r->status ? r->status : "?",
                        r->partial ? ", partial results" : "", r->started ? r->started : "?",
                        r->ended ? r->ended : "-")},
        {"Aurum version", r->aurum_version},
        {"Database", r->db_path},
    };
    size_t n = 0, n_kv = sizeof(kv) / sizeof(kv[0]);
    for (size_t i = 0; i < n_kv; i++)
        n += kv[i][1] != NULL;
    static const char *const h[] = {"Setting", "Value"};
    heads(t, h, 2);
    if (alloc(t, n, 2) < 0)
        return AU_NOMEM;
    struct cur c = {t, 0, 0};
    for (size_t i = 0; i < n_kv; i++) {
        if (!kv[i][1])
            continue;
        put(&c, kv[i][0], NULL);
        put(&c, kv[i][1], NULL);
        c.row++, c.col = 0;
    }
    return AU_OK;
}

/* ---- layers, fields, campaigns ------------------------------------------------------------ */

static int layers(const struct au_report *r, struct au_report_table *t)
{
    const char *h[] = {"Rank",
                       "Layer",
                       "Op",
                       "Tensor",
                       "Bits",
                       "Format",
                       "Trials",
                       "Mean \xce\x94loss \xc2\xb1 CI",
                       line(t, 6, "%g%% t interval", 100 * r->level),
                       "Mismatch",
                       line(t, 7, "%g%% %s", 100 * r->level, au_report_method_label(r->method)),
                       "Masked",
                       "SDC",
                       "NaN/inf",
                       "Detector trials",
                       "Detector firings"};
    heads(t, h, 16);
    t->numeric = 1u | ~0u << 6;
    t->format = 1u << 5;
    t->md_full = 1u << 1;
    if (alloc(t, r->n_layers, 16) < 0)
        return AU_NOMEM;
    for (size_t i = 0; i < r->n_layers; i++) {
        const struct au_report_layer *l = &r->layers[i];
        const struct au_report_model_layer *m = au_report_find_layer(r, l->layer);
        struct cur c = {t, i, 0};
        put_int(&c, l->rank);
        put(&c, l->layer < 0 ? "model-wide" : m ? m->label : "?", m ? m->name : NULL);
        put(&c, m ? m->op : "", NULL);
        put(&c, l->tensor, NULL);
        put(&c, l->bits, NULL);
        char *sh = slot(&c);
        au_report_short_format(au_report_layer_format(r, l), sh, AU_REPORT_TAB_CELL);
        put(&c, sh, au_report_layer_format(r, l));
        put_int(&c, l->n_trials);
        put_mean(&c, &l->dloss);
        put_interval(&c, l->dloss.t_lo, l->dloss.t_hi, false);
        put_pct(&c, l->mismatch);
        put_interval(&c, l->mis_lo, l->mis_hi, true);
        put_pct(&c, (double)l->n_masked / (double)l->n_trials);
        put_int(&c, l->n_sdc);
        put_int(&c, l->n_nonfinite);
        put_int(&c, l->n_detected);
        put_int(&c, l->detected_total);
    }
    return AU_OK;
}

static int fields(const struct au_report *r, struct au_report_table *t)
{
    static const char *const h[] = {
        "Field", "Kind",   "Bits", "Trials", "Mismatch", "Share of mismatches", "Mean \xce\x94loss",
        "SDC",   "NaN/inf"};
    heads(t, h, 9);
    t->numeric = ~0u << 2;
    if (alloc(t, r->n_fields, 9) < 0)
        return AU_NOMEM;
    for (size_t k = 0; k < r->n_fields; k++) {
        const struct au_report_field *x = &r->fields[k];
        struct cur c = {t, k, 0};
        put(&c, *x->field ? x->field : "(unnamed)", NULL);
        put(&c, x->is_meta ? "metadata" : "data", NULL);
        char *s = slot(&c);
        snprintf(s, AU_REPORT_TAB_CELL, "%d-%d", (int)x->bit_lo, (int)x->bit_hi);
        put(&c, s, NULL);
        put_int(&c, x->n_trials);
        put_pct(&c, x->mismatch_sum / (double)x->n_trials);
        put_pct(&c, x->share);
        put_num(&c, x->mean_dloss);
        put_int(&c, x->n_sdc);
        put_int(&c, x->n_nonfinite);
    }
    return AU_OK;
}

static int campaigns(const struct au_report *r, struct au_report_table *t)
{
    const char *h[] = {"Campaign",
                       "Formats",
                       "Trials",
                       "Mean \xce\x94loss \xc2\xb1 CI",
                       line(t, 6, "%g%% t interval", 100 * r->level),
                       "Mismatch",
                       line(t, 7, "%g%% %s", 100 * r->level, au_report_method_label(r->method)),
                       "NaN/inf"};
    heads(t, h, 8);
    t->numeric = ~0u << 2;
    t->format = 1u << 1;
    size_t n = 0;
    for (size_t i = 0; i < r->n_cmp; i++)
        n += r->cmp[i].total;
    if (alloc(t, n, 8) < 0)
        return AU_NOMEM;
    size_t row = 0;
    for (size_t i = 0; i < r->n_cmp; i++) {
        const struct au_report_cmp *x = &r->cmp[i];
        if (!x->total)
            continue;
        struct cur c = {t, row, 0};
        t->self[row++] = x->campaign == r->id;
        put(&c, x->name, NULL);
        put(&c, x->formats, NULL);
        put_int(&c, x->n_trials);
        put_mean(&c, &x->dloss);
        put_interval(&c, x->dloss.t_lo, x->dloss.t_hi, false);
        put_pct(&c, x->mismatch);
        put_interval(&c, x->mis_lo, x->mis_hi, true);
        put_int(&c, x->n_nonfinite);
    }
    return AU_OK;
}

static int by_share(const void *a, const void *b)
{
    const struct au_report_bit *x = *(const struct au_report_bit *const *)a;
    const struct au_report_bit *y = *(const struct au_report_bit *const *)b;
    return x->share < y->share ? 1 : x->share > y->share ? -1 : 0;
}

static int top_bits(const struct au_report *r, struct au_report_table *t)
{
    const char *h[] = {"Layer",
                       "Tensor",
                       "Bit",
                       "Field",
                       "Trials",
                       "Mismatch",
                       line(t, 7, "%g%% %s", 100 * r->level, au_report_method_label(r->method)),
                       "Share",
                       "Mean \xce\x94loss",
                       "NaN/inf"};
    heads(t, h, 10);
    t->numeric = 1u << 2 | ~0u << 4;
    t->md_full = 1u;
    const struct au_report_bit **order = au_malloc((r->n_bits + 1) * sizeof(*order));
    if (!order)
        return AU_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < r->n_bits; i++)
        order[i] = &r->bits[i];
    qsort(order, r->n_bits, sizeof(*order), by_share);
    while (n < r->n_bits && n < AU_REPORT_TOP_BITS && order[n]->share > 0)
        n++;
    if (alloc(t, n, 10) < 0) {
        au_free(order);
        return AU_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        const struct au_report_bit *b = order[i];
        const struct au_report_model_layer *m = au_report_find_layer(r, b->layer);
        struct cur c = {t, i, 0};
        put(&c, m ? m->label : "model-wide", m ? m->name : NULL);
        put(&c, b->tensor, NULL);
        char *s = slot(&c);
        snprintf(s, AU_REPORT_TAB_CELL, "%s%d", b->is_meta ? "m" : "", (int)b->bit);
        put(&c, s, NULL);
        put(&c, b->field, NULL);
        put_int(&c, b->n_trials);
        put_pct(&c, b->mismatch_sum / (double)b->n_trials);
        put_interval(&c, b->mis_lo, b->mis_hi, true);
        put_pct(&c, b->share);
        put_num(&c, b->mean_dloss);
        put_int(&c, b->n_nonfinite);
    }
    au_free(order);
    return AU_OK;
}

/* ---- the format sweep ---------------------------------------------------------------------- */

/* Fixed decimals, as the sweep prints them: accuracies differ in the third decimal, and a
 * drop of exactly 1.00 point is the threshold. */
static void put_fixed(struct cur *c, int decimals, double v)
{
    char *s = slot(c);
    if (isnan(v))
        snprintf(s, AU_REPORT_TAB_CELL, "n/a");
    else
        snprintf(s, AU_REPORT_TAB_CELL, "%.*f", decimals, v);
    put(c, s, NULL);
}

int au_report_table_sweep(const struct au_report_sweep *s, struct au_report_table *t)
{
    static const char *const h[] = {"Format",        "Accuracy",   "Loss",
                                    "Drop (points)", "Same top-1", "Non-finite samples"};
    memset(t, 0, sizeof(*t));
    heads(t, h, 6);
    t->numeric = ~0u << 1;
    t->format = t->md_full = 1u;
    if (alloc(t, s->n_rows, 6) < 0)
        return AU_NOMEM;
    for (size_t i = 0; i < s->n_rows; i++) {
        const struct au_report_sweep_row *x = &s->rows[i];
        struct cur c = {t, i, 0};
        t->self[i] = i == 0; /* float32, the reference */
        char *sh = slot(&c);
        au_report_short_format(x->format, sh, AU_REPORT_TAB_CELL);
        put(&c, sh, strcmp(sh, x->format ? x->format : "") ? x->format : NULL);
        put_fixed(&c, 4, x->accuracy);
        put_fixed(&c, 6, x->loss);
        put_fixed(&c, 2, x->drop);
        put_fixed(&c, 4, x->same_top1);
        put_int(&c, x->n_nonfinite);
    }
    return AU_OK;
}

int au_report_table_build(const struct au_report *r, int which, struct au_report_table *t)
{
    memset(t, 0, sizeof(*t));
    switch (which) {
    case AU_REPORT_TAB_SETTINGS:
        return settings(r, t);
    case AU_REPORT_TAB_LAYERS:
        return layers(r, t);
    case AU_REPORT_TAB_FIELDS:
        return fields(r, t);
    case AU_REPORT_TAB_CAMPAIGNS:
        return campaigns(r, t);
    case AU_REPORT_TAB_TOP_BITS:
        return top_bits(r, t);
    default:
        return AU_INVALID;
    }
}

void au_report_table_fini(struct au_report_table *t)
{
    au_free(t->text);
    au_free(t->tip);
    au_free(t->buf);
    au_free(t->self);
    t->text = t->tip = NULL;
    t->buf = NULL;
    t->self = NULL;
    t->n_rows = 0;
}

const char *au_report_table_text(const struct au_report_table *t, size_t i, int c)
{
    const char *s = t->text[i * (size_t)t->n_cols + (size_t)c];
    return s ? s : "";
}

const char *au_report_table_tip(const struct au_report_table *t, size_t i, int c)
{
    return t->tip[i * (size_t)t->n_cols + (size_t)c];
}

/* report.html: one self-contained page (inline CSS and SVG, no script, no external link), so
 * it can be mailed, archived or opened offline and renders the same everywhere. Sections
 * follow the questions users ask: the summary, the settings, which layers, which bits, and
 * which format. Every string from the database is escaped (node names, campaign JSON). */
#include "report.h"
#include "report_table.h"

#include "core/alloc.h"
#include "core/status.h"
#include "svg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char css[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:24px auto;"
    "max-width:1180px;padding:0 16px;color:#1a1a1a;line-height:1.4}"
    "h1{font-size:1.6em;margin-bottom:4px}h2{margin-top:36px;border-bottom:1px solid #ccc}"
    "table{border-collapse:collapse;margin:10px 0;font-size:12.5px}"
    "th,td{border:1px solid #d0d0d0;padding:3px 5px;text-align:left;vertical-align:top}"
    ".wide{overflow-x:auto}"
    "th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}"
    "tr.self "
    "td{font-weight:600}td.fmt{font-size:11px;min-width:140px;max-width:260px;overflow-wrap:"
    "anywhere}"
    ".summary li{margin:4px 0}.note{color:#555;font-size:12px}"
    "pre{background:#f6f6f6;padding:8px;overflow:auto;font-size:12px}"
    "svg.chart{display:block;margin:12px 0;font-family:inherit;font-size:12px}"
    "svg .title{font-weight:600;font-size:14px}svg .small{font-size:10px}"
    "svg .grid{stroke:#e4e4e4}svg .axis{stroke:#333}"
    "svg .ci{stroke:#111;stroke-width:1.3;fill:none}svg .band{stroke:#555;fill:none}";

static void esc(FILE *f, const char *s)
{
    au_svg_escape(f, s ? s : "");
}

/* A table of report_table.c: numbers right-aligned, format strings small with the full
 * string as a tooltip, the report's own campaign (the sweep's float32 row) in bold. */
void au_report_html_table(FILE *f, const struct au_report_table *t)
{
    fputs("<div class=\"wide\"><table>\n<tr>", f);
    for (int c = 0; c < t->n_cols; c++) {
        fputs("<th>", f);
        esc(f, t->head[c]);
        fputs("</th>", f);
    }
    fputs("</tr>\n", f);
    for (size_t i = 0; i < t->n_rows; i++) {
        fputs(t->self[i] ? "<tr class=\"self\">" : "<tr>", f);
        for (int c = 0; c < t->n_cols; c++) {
            const char *tip = au_report_table_tip(t, i, c);
            fputs(t->numeric >> c & 1  ? "<td class=\"n\""
                  : t->format >> c & 1 ? "<td class=\"fmt\""
                                       : "<td",
                  f);
            if (tip) {
                fputs(" title=\"", f);
                esc(f, tip);
                fputc('"', f);
            }
            fputc('>', f);
            esc(f, au_report_table_text(t, i, c));
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table></div>\n", f);
}

static int table(FILE *f, const struct au_report *r, int which)
{
    struct au_report_table t;
    if (au_report_table_build(r, which, &t) < 0)
        return AU_NOMEM;
    au_report_html_table(f, &t);
    au_report_table_fini(&t);
    return AU_OK;
}

void au_report_html_begin(FILE *f, const char *title, const char *suffix)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
          f);
    esc(f, title);
    esc(f, suffix);
    fprintf(f, " - Aurum report</title>\n<style>%s</style>\n</head>\n<body>\n<h1>", css);
    esc(f, title);
    esc(f, suffix);
    fputs("</h1>\n", f);
}

static int settings(FILE *f, const struct au_report *r)
{
    fputs("<h2>Settings</h2>\n", f);
    int rc = table(f, r, AU_REPORT_TAB_SETTINGS);
    fputs("<details><summary>Campaign file (JSON)</summary><pre>", f);
    esc(f, r->json);
    fputs("</pre></details>\n", f);
    return rc;
}

static int layer_table(FILE *f, const struct au_report *r)
{
    int rc = table(f, r, AU_REPORT_TAB_LAYERS);
    fputs("<p class=\"note\">Mean &#916;loss over the trials with a finite loss "
          "(NaN/inf trials are counted apart). Rank 1 is the largest mean &#916;loss. "
          "Mismatch: the top-1 prediction changed (SDC).</p>\n",
          f);
    return rc;
}

/* Two bar charts over the targets: mean dloss (t whiskers) and mismatch (the chosen rate interval).
 */
static int layer_charts(FILE *f, const struct au_report *r, bool log_scale)
{
    size_t n = r->n_layers;
    char *names = au_malloc(n * 96 + 1);
    const char **groups = au_malloc((n + 1) * sizeof(*groups));
    double *v = au_malloc((6 * n + 1) * sizeof(*v));
    int rc = AU_NOMEM;
    if (names && groups && v) {
        for (size_t i = 0; i < n; i++) {
            const struct au_report_layer *l = &r->layers[i];
            au_report_target_label(r, l, names + 96 * i, 96);
            groups[i] = names + 96 * i;
            v[i] = l->dloss.mean, v[n + i] = l->dloss.t_lo, v[2 * n + i] = l->dloss.t_hi;
            v[3 * n + i] = l->mismatch, v[4 * n + i] = l->mis_lo, v[5 * n + i] = l->mis_hi;
        }
        char t1[128], t2[128];
        snprintf(t1, sizeof(t1), "Mean \xce\x94loss per layer, %g%% Student-t intervals%s",
                 100 * r->level, log_scale ? " (log scale)" : "");
        snprintf(t2, sizeof(t2), "Mismatch rate per layer, %g%% %s intervals%s", 100 * r->level,
                 au_report_method_label(r->method), log_scale ? " (log scale)" : "");
        struct au_svg_bars c = {.title = t1,
                                .y_label = "mean \xce\x94loss",
                                .n_groups = n,
                                .n_series = 1,
                                .groups = groups,
                                .value = v,
                                .lo = v + n,
                                .hi = v + 2 * n,
                                .log_scale = log_scale};
        rc = au_svg_bars(f, &c);
        struct au_svg_bars c2 = c;
        c2.title = t2;
        c2.y_label = "mismatch rate";
        c2.value = v + 3 * n;
        c2.lo = v + 4 * n;
        c2.hi = v + 5 * n;
        if (rc == AU_OK)
            rc = au_svg_bars(f, &c2);
    }
    au_free(names);
    au_free(groups);
    au_free(v);
    return rc;
}

/* ---- heat map: layer x bit position ---------------------------------------------------- */

struct hm {
    size_t n_rows, n_cols, n_data; /* data columns first (MSB left), then metadata columns */
    int32_t *row_layer;
    char (*row_tensor)[8];
    char *text; /* row labels, column labels, bands, tips: fixed-size slots */
    const char **row_labels, **col_labels, **bands, **tips;
    double *values;
};

#define HM_LABEL 64
#define HM_TIP   200

static int elem_bits(const struct au_report *r, int32_t layer, const char *tensor, bool meta)
{
    const struct au_report_model_layer *m = au_report_find_layer(r, layer);
    if (!m)
        return 0;
    bool act = strcmp(tensor, "act") == 0;
    return meta ? (act ? m->act_meta_bits : m->weight_meta_bits)
                : (act ? m->act_elem_bits : m->weight_elem_bits);
}

static size_t hm_row(const struct hm *h, const struct au_report_bit *b)
{
    for (size_t i = 0; i < h->n_rows; i++)
        if (h->row_layer[i] == b->layer && strcmp(h->row_tensor[i], b->tensor) == 0)
            return i;
    return h->n_rows;
}

/* Rows (layer, tensor) and column counts: widths from the layers table, or the bits seen. */
static void hm_shape(struct hm *h, const struct au_report *r, int *width_data, int *width_meta)
{
    bool any_data = false, any_meta = false;
    *width_data = *width_meta = 0;
    for (size_t i = 0; i < r->n_bits; i++) {
        const struct au_report_bit *b = &r->bits[i];
        if (hm_row(h, b) == h->n_rows) {
            h->row_layer[h->n_rows] = b->layer;
            snprintf(h->row_tensor[h->n_rows++], 8, "%s", b->tensor);
        }
        int *w = b->is_meta ? width_meta : width_data;
        int bits = elem_bits(r, b->layer, b->tensor, b->is_meta);
        *w = bits > *w ? bits : *w;
        *w = b->bit + 1 > *w ? b->bit + 1 : *w;
        any_data |= !b->is_meta;
        any_meta |= b->is_meta;
    }
    *width_data = any_data ? *width_data : 0; /* untargeted kinds get no empty columns */
    *width_meta = any_meta ? *width_meta : 0;
    h->n_data = (size_t)*width_data;
    h->n_cols = h->n_data + (size_t)*width_meta;
}

static size_t hm_col(const struct hm *h, const struct au_report_bit *b)
{
    int wd = (int)h->n_data, wm = (int)(h->n_cols - h->n_data);
    return b->is_meta ? h->n_data + (size_t)(wm - 1 - b->bit) : (size_t)(wd - 1 - b->bit);
}

static void hm_fill(struct hm *h, const struct au_report *r)
{
    char *lab = h->text, *tip = lab + (h->n_rows + 2 * h->n_cols) * HM_LABEL;
    for (size_t i = 0; i < h->n_rows; i++) {
        const struct au_report_model_layer *m = au_report_find_layer(r, h->row_layer[i]);
        h->row_labels[i] = lab + i * HM_LABEL;
        snprintf(lab + i * HM_LABEL, HM_LABEL, "%s %s", m ? m->label : "model-wide",
                 h->row_tensor[i]);
    }
    for (size_t c = 0; c < h->n_cols; c++) {
        char *cl = lab + (h->n_rows + c) * HM_LABEL;
        bool meta = c >= h->n_data;
        int bit = meta ? (int)(h->n_cols - 1 - c) : (int)(h->n_data - 1 - c);
        snprintf(cl, HM_LABEL, meta ? "m%d" : "%d", bit);
        h->col_labels[c] = cl;
        h->bands[c] = NULL;
    }
    for (size_t i = 0; i < h->n_rows * h->n_cols; i++) {
        h->values[i] = NAN;
        h->tips[i] = NULL;
    }
    for (size_t i = 0; i < r->n_bits; i++) {
        const struct au_report_bit *b = &r->bits[i];
        size_t row = hm_row(h, b), col = hm_col(h, b), k = row * h->n_cols + col;
        char *band = lab + (h->n_rows + h->n_cols + col) * HM_LABEL, *t = tip + k * HM_TIP;
        char want[HM_LABEL], p[16], lo[16], hi[16], dl[32];
        snprintf(want, sizeof(want), "%s%s", b->is_meta ? "meta " : "", b->field);
        if (!h->bands[col])
            h->bands[col] = memcpy(band, want, sizeof(want));
        else if (strcmp(h->bands[col], want) != 0)
            h->bands[col] = "(varies)"; /* layers in different formats share the column */
        h->values[k] = b->mismatch_sum / b->n_trials;
        au_report_pct(p, sizeof(p), h->values[k]);
        au_report_pct(lo, sizeof(lo), b->mis_lo);
        au_report_pct(hi, sizeof(hi), b->mis_hi);
        au_report_num(dl, sizeof(dl), b->mean_dloss);
        snprintf(t, HM_TIP,
                 "%s, %sbit %d (%s): mismatch %s [%s, %s] of %lld trials; mean dloss %s; "
                 "NaN/inf %lld",
                 h->row_labels[row], b->is_meta ? "metadata " : "", b->bit, b->field, p, lo, hi,
                 (long long)b->n_trials, dl, (long long)b->n_nonfinite);
        h->tips[k] = t;
    }
}

static int heatmap(FILE *f, const struct au_report *r)
{
    struct hm h = {0};
    int wd, wm, rc = AU_NOMEM;
    size_t nb = r->n_bits + 1;
    h.row_layer = au_malloc(nb * sizeof(*h.row_layer));
    h.row_tensor = au_malloc(nb * sizeof(*h.row_tensor));
    if (h.row_layer && h.row_tensor) {
        hm_shape(&h, r, &wd, &wm);
        size_t cells = h.n_rows * h.n_cols + 1;
        h.text = au_malloc((h.n_rows + 2 * h.n_cols) * HM_LABEL + cells * HM_TIP);
        h.row_labels = au_malloc((h.n_rows + 1) * sizeof(char *));
        h.col_labels = au_malloc((h.n_cols + 1) * sizeof(char *));
        h.bands = au_malloc((h.n_cols + 1) * sizeof(char *));
        h.tips = au_malloc(cells * sizeof(char *));
        h.values = au_malloc(cells * sizeof(double));
    }
    if (h.text && h.row_labels && h.col_labels && h.bands && h.tips && h.values) {
        hm_fill(&h, r);
        struct au_svg_heatmap m = {
            "Vulnerability by layer and bit: mismatch rate of single-flip trials",
            "mismatch",
            "bit position (MSB left; m: metadata bits)",
            h.n_rows,
            h.n_cols,
            h.row_labels,
            h.col_labels,
            h.bands,
            h.values,
            h.tips,
            0,
            0};
        for (size_t i = 0; i < h.n_rows * h.n_cols; i++)
            m.vmax = isfinite(h.values[i]) && h.values[i] > m.vmax ? h.values[i] : m.vmax;
        m.vmax = m.vmax > 0 ? m.vmax : 1;
        rc = au_svg_heatmap(f, &m);
    }
    au_free(h.row_layer);
    au_free(h.row_tensor);
    au_free(h.text);
    au_free(h.row_labels);
    au_free(h.col_labels);
    au_free(h.bands);
    au_free(h.tips);
    au_free(h.values);
    return rc;
}

static void bits_section(FILE *f, const struct au_report *r, int *rc)
{
    fputs("<h2>Bits</h2>\n", f);
    if (!r->n_bits) {
        fputs("<p>No trial had exactly one flip, so no bit can be charged with its outcome.</p>\n",
              f);
        return;
    }
    fputs("<p class=\"note\">Single-flip trials only: a trial with several flips cannot be "
          "charged to one bit. Hover a cell for its numbers.</p>\n",
          f);
    if (*rc == AU_OK)
        *rc = heatmap(f, r);
    fputs("<h3>By field</h3>\n", f);
    if (*rc == AU_OK)
        *rc = table(f, r, AU_REPORT_TAB_FIELDS);
    fputs("<h3>The bits that matter most</h3>\n", f);
    if (*rc == AU_OK)
        *rc = table(f, r, AU_REPORT_TAB_TOP_BITS);
}

/* ---- comparison across campaigns ------------------------------------------------------- */

struct cmp_grid {
    size_t n_groups, n_series;
    const char **groups, **series;
    int32_t *layer; /* per group; INT32_MIN: all layers */
    double *v;      /* 6 planes of n_groups * n_series */
};

static void cmp_grid_fill(struct cmp_grid *g, const struct au_report *r)
{
    size_t n = g->n_groups * g->n_series;
    for (size_t i = 0; i < 6 * n; i++)
        g->v[i] = NAN;
    size_t s = 0;
    for (size_t i = 0; i < r->n_cmp; i++) {
        const struct au_report_cmp *c = &r->cmp[i];
        if (c->total && i > 0)
            s++;
        size_t gi = 0;
        while (gi < g->n_groups &&
               !(c->total ? g->layer[gi] == INT32_MIN : g->layer[gi] == c->layer))
            gi++;
        if (gi == g->n_groups)
            continue;
        size_t k = gi * g->n_series + s;
        g->v[k] = c->dloss.mean, g->v[n + k] = c->dloss.t_lo, g->v[2 * n + k] = c->dloss.t_hi;
        g->v[3 * n + k] = c->mismatch, g->v[4 * n + k] = c->mis_lo, g->v[5 * n + k] = c->mis_hi;
    }
}

/* Groups: all layers, then each layer; one bar per campaign, on one shared axis. */
static int cmp_charts(FILE *f, const struct au_report *r, bool log_scale)
{
    struct cmp_grid g = {0};
    int rc = AU_NOMEM;
    g.groups = au_malloc((r->n_model_layers + 2) * sizeof(*g.groups));
    g.layer = au_malloc((r->n_model_layers + 2) * sizeof(*g.layer));
    g.series = au_malloc((r->n_cmp + 1) * sizeof(*g.series));
    if (g.groups && g.layer && g.series) {
        g.groups[0] = "all layers";
        g.layer[g.n_groups++] = INT32_MIN;
        for (size_t i = 0; i < r->n_model_layers; i++) {
            g.groups[g.n_groups] = r->model_layers[i].label;
            g.layer[g.n_groups++] = r->model_layers[i].layer;
        }
        for (size_t i = 0; i < r->n_cmp; i++)
            if (r->cmp[i].total)
                g.series[g.n_series++] = r->cmp[i].name ? r->cmp[i].name : "?";
        g.v = au_malloc((6 * g.n_groups * g.n_series + 1) * sizeof(*g.v));
    }
    if (g.v) {
        size_t n = g.n_groups * g.n_series;
        cmp_grid_fill(&g, r);
        char t1[128], t2[128];
        snprintf(t1, sizeof(t1), "Mean \xce\x94loss by campaign, %g%% t intervals%s",
                 100 * r->level, log_scale ? " (log scale)" : "");
        snprintf(t2, sizeof(t2), "Mismatch rate by campaign, %g%% %s intervals%s", 100 * r->level,
                 au_report_method_label(r->method), log_scale ? " (log scale)" : "");
        struct au_svg_bars c1 = {.title = t1,
                                 .y_label = "mean \xce\x94loss",
                                 .n_groups = g.n_groups,
                                 .n_series = g.n_series,
                                 .groups = g.groups,
                                 .series = g.series,
                                 .value = g.v,
                                 .lo = g.v + n,
                                 .hi = g.v + 2 * n,
                                 .log_scale = log_scale,
                                 .height = 260};
        struct au_svg_bars c2 = c1;
        c2.title = t2;
        c2.y_label = "mismatch rate";
        c2.value = g.v + 3 * n;
        c2.lo = g.v + 4 * n;
        c2.hi = g.v + 5 * n;
        rc = au_svg_bars(f, &c1);
        if (rc == AU_OK)
            rc = au_svg_bars(f, &c2);
    }
    au_free(g.groups);
    au_free(g.layer);
    au_free(g.series);
    au_free(g.v);
    return rc;
}

static void cmp_section(FILE *f, const struct au_report *r, bool log_scale, int *rc)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_cmp; i++)
        n += r->cmp[i].total;
    fputs("<h2>Campaigns of this model</h2>\n", f);
    if (n < 2) {
        fputs("<p>This is the only campaign of this model (same SHA-256) in the database; run "
              "others (another format, say) into the same database to compare them here.</p>\n",
              f);
        if (*rc == AU_OK)
            *rc = table(f, r, AU_REPORT_TAB_CAMPAIGNS);
        return;
    }
    fputs("<p class=\"note\">Each campaign over all its trials, then layer by layer (targets of "
          "a layer merged). The campaign of this report is in bold.</p>\n",
          f);
    if (*rc == AU_OK)
        *rc = table(f, r, AU_REPORT_TAB_CAMPAIGNS);
    if (*rc == AU_OK)
        *rc = cmp_charts(f, r, log_scale);
}

/* ---- the page -------------------------------------------------------------------------- */

int au_report_write_html(const struct au_report *r, FILE *f, const struct au_report_opts *o)
{
    if (!r || !f)
        return AU_INVALID;
    bool log_scale = o && o->log_scale;
    int rc = AU_OK;
    au_report_html_begin(f, r->name, r->partial ? " (partial)" : "");
    fputs("<p class=\"note\">Aurum fault-injection report", f);
    if (r->description) {
        fputs(": ", f);
        esc(f, r->description);
    }
    fputs("</p>\n<h2>Summary</h2>\n<ul class=\"summary\">\n", f);
    for (size_t i = 0; i < r->n_summary; i++) {
        fputs("<li>", f);
        esc(f, r->summary[i]);
        fputs("</li>\n", f);
    }
    fputs("</ul>\n", f);
    rc = settings(f, r);
    fputs("<h2>Layers</h2>\n", f);
    if (rc == AU_OK)
        rc = layer_table(f, r);
    if (rc == AU_OK)
        rc = layer_charts(f, r, log_scale);
    bits_section(f, r, &rc);
    cmp_section(f, r, log_scale, &rc);
    fputs("<p class=\"note\">Generated by aurum report from the database above; the CSV files "
          "next to this page hold every number.</p>\n</body>\n</html>\n",
          f);
    if (rc == AU_OK && ferror(f))
        rc = AU_IO;
    return rc;
}

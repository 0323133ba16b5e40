/* Inline-SVG bar charts and heat maps (svg.h). Pixel geometry is computed here, text widths
 * are estimated from the character count (no font metrics without a browser), and every
 * string goes through au_svg_escape, since labels come from ONNX node names and campaign
 * files. Errors are only bad arguments or the stream's error flag: drawing cannot fail. */
#include "svg.h"

#include "core/status.h"

#include <math.h>
#include <string.h>

#define CHAR_W 6.6 /* average width of a 12px sans-serif character */

static const char *const palette[] = {"#0072b2", "#e69f00", "#009e73", "#cc79a7",
                                      "#56b4e9", "#d55e00", "#8c6d31", "#555555"};

void au_svg_escape(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&#39;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

/* Light yellow (safe) to dark red (vulnerable), ColorBrewer YlOrRd: zero cells stay pale. */
void au_svg_colour(double t, char buf[8])
{
    static const unsigned char stops[9][3] = {{255, 255, 204}, {255, 237, 160}, {254, 217, 118},
                                              {254, 178, 76},  {253, 141, 60},  {252, 78, 42},
                                              {227, 26, 28},   {189, 0, 38},    {128, 0, 38}};
    if (isnan(t)) {
        snprintf(buf, 8, "#d9d9d9");
        return;
    }
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    double x = t * 8;
    int i = (int)x < 8 ? (int)x : 7;
    double u = x - i;
    int rgb[3];
    for (int k = 0; k < 3; k++)
        rgb[k] = (int)lround(stops[i][k] + u * (stops[i + 1][k] - stops[i][k]));
    snprintf(buf, 8, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
}

static void num(char *buf, size_t len, double v)
{
    if (v != 0 && (fabs(v) < 1e-3 || fabs(v) >= 1e5))
        snprintf(buf, len, "%.2g", v);
    else
        snprintf(buf, len, "%.4g", v);
}

static void text(FILE *f, double x, double y, const char *anchor, const char *extra, const char *s)
{
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\"%s>", x, y, anchor, extra);
    au_svg_escape(f, s);
    fputs("</text>\n", f);
}

/* ---- bars ---------------------------------------------------------------------------- */

struct axis {
    bool log;
    double a, b; /* linear: value range; log: decade exponents */
    double step; /* linear: tick spacing (a and b are multiples of it) */
    double y0, y1;
};

static double ymap(const struct axis *ax, double v)
{
    double u;
    if (ax->log)
        u = v > 0 ? (log10(v) - ax->a) / (ax->b - ax->a) : 0;
    else
        u = (v - ax->a) / (ax->b - ax->a);
    u = u < 0 ? 0 : u > 1 ? 1 : u;
    return ax->y1 - u * (ax->y1 - ax->y0);
}

static double nice_step(double range)
{
    double raw = range / 5, p = pow(10, floor(log10(raw))), m = raw / p;
    return p * (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10);
}

/* Range of the finite values (and bounds): positives only for a log axis. */
static void data_range(const struct au_svg_bars *c, bool pos_only, double *mn, double *mx)
{
    size_t n = c->n_groups * c->n_series;
    *mn = INFINITY;
    *mx = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        double v[3] = {c->value[i], c->lo ? c->lo[i] : NAN, c->hi ? c->hi[i] : NAN};
        for (int k = 0; k < 3; k++) {
            if (!isfinite(v[k]) || (pos_only && v[k] <= 0))
                continue;
            *mn = fmin(*mn, v[k]);
            *mx = fmax(*mx, v[k]);
        }
    }
}

static void axis_setup(const struct au_svg_bars *c, struct axis *ax)
{
    double mn, mx;
    if (ax->log) {
        data_range(c, true, &mn, &mx);
        if (mn > mx) { /* nothing positive: a log axis has nothing to show */
            mn = 0.1;
            mx = 1;
        }
        ax->a = floor(log10(mn));
        ax->b = ceil(log10(mx));
        if (ax->b <= ax->a)
            ax->b = ax->a + 1;
        if (ax->b - ax->a > 15) /* keep the decades readable; smaller values sit on the floor */
            ax->a = ax->b - 15;
        return;
    }
    data_range(c, false, &mn, &mx);
    mn = isfinite(mn) ? fmin(mn, 0) : 0;
    mx = isfinite(mx) ? fmax(mx, 0) : 1;
    if (mx - mn <= 0)
        mx = mn + 1;
    ax->step = nice_step(mx - mn);
    ax->a = floor(mn / ax->step) * ax->step;
    ax->b = ceil(mx / ax->step) * ax->step;
}

static void axis_draw(FILE *f, const struct axis *ax, double x0, double x1)
{
    char buf[32];
    if (ax->log) {
        int every = (int)ceil((ax->b - ax->a) / 8);
        for (double e = ax->a; e <= ax->b + 1e-9; e += every) {
            double y = ymap(ax, pow(10, e));
            fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n",
                    x0, y, x1, y);
            snprintf(buf, sizeof(buf), "1e%d", (int)e);
            text(f, x0 - 6, y + 4, "end", "", buf);
        }
        return;
    }
    double st = ax->step;
    long k0 = lround(ax->a / st), k1 = lround(ax->b / st);
    for (long k = k0; k <= k1; k++) { /* multiples of the step, so 0 is always a tick */
        double v = k * st, y = ymap(ax, v), vv = k == 0 ? 0 : v;
        fprintf(f, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", x0,
                y, x1, y);
        num(buf, sizeof(buf), vv);
        text(f, x0 - 6, y + 4, "end", "", buf);
    }
}

/* Legend entries left to right from x0, wrapping at x1; returns the number of lines. */
static int legend(FILE *f, const struct au_svg_bars *c, double x0, double x1, bool draw)
{
    if (!c->series)
        return 0;
    double x = x0, y = 30;
    int lines = 1;
    for (size_t s = 0; s < c->n_series; s++) {
        double w = strlen(c->series[s]) * CHAR_W + 26;
        if (x > x0 && x + w > x1) {
            x = x0;
            y += 18;
            lines++;
        }
        if (draw) {
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"%s\"/>\n", x,
                    y, palette[s % 8]);
            text(f, x + 16, y + 10, "start", "", c->series[s]);
        }
        x += w;
    }
    return lines;
}

static void bar_tip(FILE *f, const struct au_svg_bars *c, size_t g, size_t s, size_t i)
{
    char v[32], lo[32], hi[32];
    num(v, sizeof(v), c->value[i]);
    fputs("<title>", f);
    au_svg_escape(f, c->groups[g]);
    if (c->series) {
        fputs(", ", f);
        au_svg_escape(f, c->series[s]);
    }
    fprintf(f, ": %s", v);
    if (c->lo && c->hi && !isnan(c->lo[i]) && !isnan(c->hi[i])) {
        num(lo, sizeof(lo), c->lo[i]);
        num(hi, sizeof(hi), c->hi[i]);
        fprintf(f, " [%s, %s]", lo, hi);
    }
    fputs("</title>", f);
}

static void whisker(FILE *f, const struct axis *ax, double cx, double cap, double lo, double hi)
{
    if (isnan(lo) || isnan(hi))
        return;
    double ylo = ymap(ax, lo), yhi = ymap(ax, hi);
    fprintf(f, "<path class=\"ci\" d=\"M%.1f %.1fV%.1f", cx, ylo, yhi);
    fprintf(f, "M%.1f %.1fh%.1f", cx - cap, yhi, 2 * cap);
    if (!(ax->log && lo <= pow(10, ax->a))) /* a clipped bound gets no cap */
        fprintf(f, "M%.1f %.1fh%.1f", cx - cap, ylo, 2 * cap);
    fputs("\"/>\n", f);
}

static void bars_body(FILE *f, const struct au_svg_bars *c, const struct axis *ax, double x0,
                      double gw)
{
    double bw = gw * 0.8 / c->n_series, base = ax->log ? ax->y1 : ymap(ax, 0);
    for (size_t g = 0; g < c->n_groups; g++) {
        for (size_t s = 0; s < c->n_series; s++) {
            size_t i = g * c->n_series + s;
            double v = c->value[i], x = x0 + g * gw + gw * 0.1 + s * bw, cx = x + bw / 2;
            if (!isfinite(v))
                continue;
            if (ax->log && v <= 0) { /* no bar, but the upper bound still says something */
                text(f, cx, base - 3, "middle", " class=\"small\"",
                     "\xe2\x89\xa4"
                     "0");
                if (c->lo && c->hi)
                    whisker(f, ax, cx, fmax(2, bw * 0.2), c->lo[i], c->hi[i]);
                continue;
            }
            double y = ymap(ax, v), top = fmin(y, base), h = fabs(base - y);
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">",
                    x + bw * 0.05, top, bw * 0.9, h < 0.5 ? 0.5 : h, palette[s % 8]);
            bar_tip(f, c, g, s, i);
            fputs("</rect>\n", f);
            if (c->lo && c->hi)
                whisker(f, ax, cx, fmax(2, bw * 0.2), c->lo[i], c->hi[i]);
        }
    }
}

/* Pixels below the plot for the group labels: one line, or slanted ones if too wide. */
static double label_room(const struct au_svg_bars *c, double gw, bool *rotate)
{
    size_t longest = 0;
    for (size_t g = 0; g < c->n_groups; g++)
        longest = strlen(c->groups[g]) > longest ? strlen(c->groups[g]) : longest;
    *rotate = longest * CHAR_W > gw;
    return *rotate ? fmin(longest * CHAR_W * 0.6 + 24, 170) : 30;
}

static void group_labels(FILE *f, const struct au_svg_bars *c, double x0, double gw, double y1,
                         bool rotate)
{
    for (size_t g = 0; g < c->n_groups; g++) {
        double cx = x0 + (g + 0.5) * gw;
        if (!rotate) {
            text(f, cx, y1 + 16, "middle", "", c->groups[g]);
            continue;
        }
        char tr[96];
        snprintf(tr, sizeof(tr), " transform=\"rotate(-35 %.1f %.1f)\"", cx, y1 + 12);
        text(f, cx, y1 + 12, "end", tr, c->groups[g]);
    }
}

int au_svg_bars(FILE *f, const struct au_svg_bars *c)
{
    if (!f || !c || !c->n_groups || !c->n_series || !c->groups || !c->value)
        return AU_INVALID;
    int w = c->width > 0 ? c->width : 960;
    double x0 = 78, x1 = w - 16, gw = (x1 - x0) / c->n_groups;
    bool rotate;
    double below = label_room(c, gw, &rotate);
    int extra = 18 * legend(f, c, x0, x1, false); /* legend lines push the plot down */
    struct axis ax = {.log = c->log_scale, .y0 = 40 + extra};
    ax.y1 = ax.y0 + (c->height > 0 ? c->height : 220);
    int h = (int)ceil(ax.y1 + below);
    axis_setup(c, &ax);
    fprintf(f,
            "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
            "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">\n",
            w, h, w, h);
    text(f, x0, 20, "start", " class=\"title\"", c->title ? c->title : "");
    legend(f, c, x0, x1, true);
    axis_draw(f, &ax, x0, x1);
    bars_body(f, c, &ax, x0, gw);
    double base = ax.log ? ax.y1 : ymap(&ax, 0);
    fprintf(f, "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", x0, base,
            x1, base);
    fprintf(f, "<line class=\"axis\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", x0,
            ax.y0, x0, ax.y1);
    group_labels(f, c, x0, gw, ax.y1, rotate);
    char tr[96];
    double my = (ax.y0 + ax.y1) / 2;
    snprintf(tr, sizeof(tr), " transform=\"rotate(-90 16 %.1f)\"", my);
    text(f, 16, my, "middle", tr, c->y_label ? c->y_label : "");
    fputs("</svg>\n", f);
    return ferror(f) ? AU_IO : AU_OK;
}

/* ---- heat map ------------------------------------------------------------------------ */

struct hm_geom {
    double left, top, cw, ch;
    double vmin, vmax;
};

static void hm_range(const struct au_svg_heatmap *h, struct hm_geom *g)
{
    g->vmin = h->vmin;
    g->vmax = h->vmax;
    if (g->vmax > g->vmin)
        return;
    g->vmin = INFINITY;
    g->vmax = -INFINITY;
    for (size_t i = 0; i < h->n_rows * h->n_cols; i++) {
        if (isfinite(h->values[i])) {
            g->vmin = fmin(g->vmin, h->values[i]);
            g->vmax = fmax(g->vmax, h->values[i]);
        }
    }
    if (!(g->vmax > g->vmin)) { /* empty or constant: a unit range keeps the scale defined */
        g->vmin = isfinite(g->vmin) ? g->vmin : 0;
        g->vmax = g->vmin + 1;
    }
}

/* Field bands: one bracket and label per run of equal col_groups entries. */
static void hm_bands(FILE *f, const struct au_svg_heatmap *h, const struct hm_geom *g)
{
    for (size_t c = 0; c < h->n_cols;) {
        size_t e = c + 1;
        const char *name = h->col_groups[c];
        while (e < h->n_cols && name && h->col_groups[e] && strcmp(name, h->col_groups[e]) == 0)
            e++;
        if (name && *name) {
            double x = g->left + c * g->cw + 1, wd = (e - c) * g->cw - 2, y = g->top - 8;
            fprintf(f, "<path class=\"band\" d=\"M%.1f %.1fv-5h%.1fv5\"/>\n", x, y + 4, wd);
            size_t fit = (size_t)(wd / 5.6), len = strlen(name);
            char shown[64];
            snprintf(shown, sizeof(shown), "%.*s",
                     (int)(fit < 1     ? 1
                           : fit < len ? fit
                                       : len),
                     name);
            fprintf(f, "<g><title>");
            au_svg_escape(f, name);
            fprintf(f, "</title>");
            text(f, x + wd / 2, y - 4, "middle", " class=\"small\"", shown);
            fputs("</g>\n", f);
        }
        c = e;
    }
}

static void hm_cells(FILE *f, const struct au_svg_heatmap *h, const struct hm_geom *g)
{
    char col[8];
    for (size_t r = 0; r < h->n_rows; r++) {
        double y = g->top + r * g->ch;
        text(f, g->left - 6, y + g->ch / 2 + 4, "end", "", h->row_labels[r]);
        for (size_t c = 0; c < h->n_cols; c++) {
            double v = h->values[r * h->n_cols + c];
            au_svg_colour(isfinite(v) ? (v - g->vmin) / (g->vmax - g->vmin) : NAN, col);
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">",
                    g->left + c * g->cw, y, g->cw - 1, g->ch - 1, col);
            if (h->tips && h->tips[r * h->n_cols + c]) {
                fputs("<title>", f);
                au_svg_escape(f, h->tips[r * h->n_cols + c]);
                fputs("</title>", f);
            }
            fputs("</rect>\n", f);
        }
    }
    double yb = g->top + h->n_rows * g->ch;
    size_t every = g->cw < 14 ? 2 : 1;
    for (size_t c = 0; c < h->n_cols; c += every)
        text(f, g->left + (c + 0.5) * g->cw, yb + 13, "middle", " class=\"small\"",
             h->col_labels[c]);
}

static void hm_legend(FILE *f, const struct au_svg_heatmap *h, const struct hm_geom *g, double x)
{
    const int steps = 24;
    double ht = fmax(120, fmin(240, h->n_rows * g->ch)), y0 = g->top, sh = ht / steps;
    char col[8], buf[32];
    for (int i = 0; i < steps; i++) {
        au_svg_colour(1 - (i + 0.5) / steps, col);
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"%.2f\" fill=\"%s\"/>\n", x,
                y0 + i * sh, sh + 0.3, col);
    }
    for (int k = 0; k <= 2; k++) {
        num(buf, sizeof(buf), g->vmax - k * (g->vmax - g->vmin) / 2);
        text(f, x + 18, y0 + k * ht / 2 + 4, "start", " class=\"small\"", buf);
    }
    au_svg_colour(NAN, col);
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"10\" fill=\"%s\"/>\n", x,
            y0 + ht + 10, col);
    text(f, x + 18, y0 + ht + 19, "start", " class=\"small\"", "no data");
    text(f, x, y0 - 8, "start", " class=\"small\"", h->value_label ? h->value_label : "");
}

int au_svg_heatmap(FILE *f, const struct au_svg_heatmap *h)
{
    if (!f || !h || !h->n_rows || !h->n_cols || !h->row_labels || !h->col_labels || !h->values)
        return AU_INVALID;
    struct hm_geom g = {.top = 62, .ch = 18};
    size_t longest = 0;
    for (size_t r = 0; r < h->n_rows; r++)
        longest = strlen(h->row_labels[r]) > longest ? strlen(h->row_labels[r]) : longest;
    g.left = longest * CHAR_W + 14;
    g.cw = fmin(30, fmax(9, (960 - g.left - 110) / (double)h->n_cols));
    hm_range(h, &g);
    /* the x label and the title may be wider than a few columns: nothing may overlap */
    double cells_w = h->n_cols * g.cw, xl_w = strlen(h->x_label ? h->x_label : "") * CHAR_W;
    bool xl_centred = xl_w <= cells_w;
    double legend_x = g.left + fmax(cells_w, xl_centred ? 0 : xl_w) + 24;
    double w = fmax(legend_x + 90, 24 + strlen(h->title ? h->title : "") * 7.8);
    double ht = g.top + fmax(h->n_rows * g.ch, 170) + 46;
    fprintf(f,
            "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
            "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\">\n",
            w, ht, w, ht);
    text(f, 8, 20, "start", " class=\"title\"", h->title ? h->title : "");
    if (h->col_groups)
        hm_bands(f, h, &g);
    hm_cells(f, h, &g);
    text(f, xl_centred ? g.left + cells_w / 2 : g.left, g.top + h->n_rows * g.ch + 32,
         xl_centred ? "middle" : "start", "", h->x_label ? h->x_label : "");
    hm_legend(f, h, &g, legend_x);
    fputs("</svg>\n", f);
    return ferror(f) ? AU_IO : AU_OK;
}

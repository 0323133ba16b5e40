/* Tiny inline-SVG charts for the reports: grouped bars with interval whiskers (linear or
 * log axis) and a heat map with a colour scale and labelled axes. Each call writes one
 * self-contained <svg> element to a FILE (no scripts, no external fonts or links), so the
 * HTML report stays a single file that renders without a network. Hover text uses <title>.
 *
 *   const char *groups[] = {"conv1", "conv2"};
 *   double v[] = {0.2, 0.5}, lo[] = {0.1, 0.4}, hi[] = {0.3, 0.6};
 *   struct au_svg_bars c = {.title = "mean dloss", .y_label = "dloss", .n_groups = 2,
 *                           .n_series = 1, .groups = groups, .value = v, .lo = lo, .hi = hi};
 *   if (au_svg_bars(f, &c) < 0) ...;   // AU_INVALID for bad sizes, AU_IO on a write error
 */
#ifndef AU_ANALYSIS_SVG_H
#define AU_ANALYSIS_SVG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Grouped bars: n_groups x-axis groups, n_series bars in each (one colour per series).
 * Arrays are indexed [g * n_series + s]. A NaN value draws no bar ("no data"); lo/hi may
 * be NULL (no whiskers) and a NaN bound draws no whisker. On a log axis, values <= 0 are
 * marked "<=0" at the floor and whiskers are clipped there. */
struct au_svg_bars {
    const char *title, *y_label;
    size_t n_groups, n_series;
    const char *const *groups; /* x labels, n_groups */
    const char *const *series; /* legend names, n_series; NULL: no legend */
    const double *value, *lo, *hi;
    bool log_scale;
    int width, height; /* pixels: the whole chart's width, the plot's height; 0 = 960, 220 */
};

/* Heat map: n_rows x n_cols cells, values[r * n_cols + c] (NaN = no data, drawn hatched
 * grey). Columns may carry a band label above them (col_groups[c], e.g. a bit field name):
 * adjacent columns with the same band merge into one labelled span. Colours run from
 * vmin to vmax (vmax <= vmin: the data's range) along a perceptual scale with a legend. */
struct au_svg_heatmap {
    const char *title, *value_label, *x_label;
    size_t n_rows, n_cols;
    const char *const *row_labels; /* n_rows */
    const char *const *col_labels; /* n_cols, e.g. bit numbers */
    const char *const *col_groups; /* n_cols or NULL; NULL entries have no band */
    const double *values;
    const char *const *tips; /* per-cell hover text, or NULL */
    double vmin, vmax;
};

/* Write one chart as an <svg> element. AU_INVALID (nothing written) if a size is 0 or an
 * array is missing; AU_IO if the stream reports an error. */
int au_svg_bars(FILE *f, const struct au_svg_bars *c);
int au_svg_heatmap(FILE *f, const struct au_svg_heatmap *h);

/* Write s with &, <, >, " and ' escaped for HTML/SVG text and attributes (NULL: nothing). */
void au_svg_escape(FILE *f, const char *s);
/* The heat map's colour for t in [0,1] as "#rrggbb" into buf (8 bytes). NaN: grey. */
void au_svg_colour(double t, char buf[8]);

#endif

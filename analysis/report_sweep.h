/* The outputs of a format sweep (aurum sweep --out DIR, docs/studies.md): accuracy and loss
 * of a model under each number format without faults, beside float32, as a self-contained
 * report.html (table and inline SVG charts, no script, no network), sweep.md, sweep.csv and
 * a standalone sweep.svg. The page shares the fault report's style, table and chart code
 * (report_html.c, report_table.c, svg.c), so the two look and read alike.
 *
 *   struct au_report_sweep_row rows[] = {{"float32", 0.897, 0.288, 0, 1, 1000, 0},
 *                                        {"fp16", 0.897, 0.288, 0, 0.999, 1000, 0}};
 *   struct au_report_sweep s = {"lenet5.onnx", "x.npy", "weights+activations", rows, 2};
 *   if (au_report_sweep_write(&s, "out", &d) < 0) return fail(d.msg);  // the four files
 */
#ifndef AU_ANALYSIS_REPORT_SWEEP_H
#define AU_ANALYSIS_REPORT_SWEEP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct au_diag;

/* One format's run over the data (analysis/studies.h: au_study_metrics, au_study_drop). */
struct au_report_sweep_row {
    const char *format;     /* "float32" for the baseline */
    double accuracy, loss;  /* loss NaN when no sample had finite logits */
    double drop, same_top1; /* drop: percentage points below float32; same_top1 in [0, 1] */
    int64_t n_samples, n_nonfinite;
};

/* All strings and rows are borrowed; rows[0] is the float32 baseline. */
struct au_report_sweep {
    const char *model, *inputs;
    const char *roles; /* which tensors took the formats: "weights", "activations", ... */
    const struct au_report_sweep_row *rows;
    size_t n_rows;
};

/* Writers: 0, AU_IO if the stream failed, AU_NOMEM, AU_INVALID for a NULL argument or no
 * rows. */
int au_report_sweep_write_html(const struct au_report_sweep *s, FILE *f);
int au_report_sweep_write_md(const struct au_report_sweep *s, FILE *f);
int au_report_sweep_write_csv(const struct au_report_sweep *s, FILE *f);
int au_report_sweep_write_svg(const struct au_report_sweep *s, FILE *f);
/* dir/report.html, sweep.md, sweep.csv and sweep.svg (dir must exist); an error names the
 * file. */
int au_report_sweep_write(const struct au_report_sweep *s, const char *dir, struct au_diag *d);

#endif

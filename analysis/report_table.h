/* Inside analysis/ only: the report's tables as rows of text cells, built once from a loaded
 * report for both writers (report_html.c, report_md.c). The two then show the same columns
 * and the same numbers and differ only in markup. Text is raw UTF-8: each writer escapes it.
 * The sweep report (report_sweep.c) reuses the tables, the page frame and the file handling.
 *
 *   struct au_report_table t;
 *   if (au_report_table_build(r, AU_REPORT_TAB_LAYERS, &t) < 0) return AU_NOMEM;
 *   for (size_t i = 0; i < t.n_rows; i++)
 *       for (int c = 0; c < t.n_cols; c++) emit(au_report_table_text(&t, i, c));
 *   au_report_table_fini(&t);
 */
#ifndef AU_ANALYSIS_REPORT_TABLE_H
#define AU_ANALYSIS_REPORT_TABLE_H

#include "report.h"
#include "report_sweep.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum au_report_tab {
    AU_REPORT_TAB_SETTINGS,  /* Setting | Value */
    AU_REPORT_TAB_LAYERS,    /* one row per target, the report's order */
    AU_REPORT_TAB_FIELDS,    /* one row per (data/metadata, field) */
    AU_REPORT_TAB_CAMPAIGNS, /* one row per campaign of the model (totals) */
    AU_REPORT_TAB_TOP_BITS,  /* the AU_REPORT_TOP_BITS bits with most of the mismatches */
};

#define AU_REPORT_TOP_BITS 12

#define AU_REPORT_TAB_COLS  16
#define AU_REPORT_TAB_CELL  64 /* a formatted number or interval */
#define AU_REPORT_TAB_LINES 10 /* longer built texts: settings values, level headings */

struct au_report_table {
    int n_cols;
    size_t n_rows;
    const char *head[AU_REPORT_TAB_COLS];
    uint32_t numeric;         /* bit c: column c holds numbers (right-aligned) */
    uint32_t format;          /* bit c: column c holds format strings (small type in HTML) */
    uint32_t md_full;         /* bit c: Markdown shows the tip (full text), HTML the short text */
    const char **text, **tip; /* n_rows x n_cols; tip (full text behind a short one) or NULL */
    bool *self;               /* per row: the report's own campaign */
    char (*buf)[AU_REPORT_TAB_CELL];
    char line[AU_REPORT_TAB_LINES][600];
};

/* Fills t (caller's storage) with table `which` of r. AU_NOMEM (t is then empty) or AU_OK;
 * au_report_table_fini in both cases. Strings are borrowed from r or held by t. */
int au_report_table_build(const struct au_report *r, int which, struct au_report_table *t);
void au_report_table_fini(struct au_report_table *t);
/* The sweep's table (format, accuracy, loss, drop, same top-1, non-finite), float32 first. */
int au_report_table_sweep(const struct au_report_sweep *s, struct au_report_table *t);
/* Cell text ("" for none) and tip (NULL for none) of row i, column c. */
const char *au_report_table_text(const struct au_report_table *t, size_t i, int c);
const char *au_report_table_tip(const struct au_report_table *t, size_t i, int c);

/* Markup of a built table: report_html.c and report_md.c. */
void au_report_html_table(FILE *f, const struct au_report_table *t);
void au_report_md_table(FILE *f, const struct au_report_table *t);
/* The page up to and including <h1>title suffix</h1> (the same in <title>): doctype, inline
 * CSS (report_html.c). */
void au_report_html_begin(FILE *f, const char *title, const char *suffix);

/* Output files (report.c): dir/file opened for writing into *out (path receives its name);
 * closing folds a write status and fclose's into one status with a line naming the file. */
int au_report_file_open(const char *dir, const char *file, char *path, size_t len, FILE **out,
                        struct au_diag *d);
int au_report_file_close(FILE *f, const char *path, int rc, struct au_diag *d);

#endif

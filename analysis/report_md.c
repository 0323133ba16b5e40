/* report.md: the report's tables in GitHub-flavoured Markdown, for papers, issues and
 * notebooks (no charts: the HTML has them). The tables come from report_table.c, as the
 * HTML's do, so both show the same columns and numbers. Cells are escaped ('|' and line breaks)
 * since node names and descriptions come from the user's files. */
#include "report.h"
#include "report_table.h"

#include "core/status.h"

#include <string.h>

static void cell(FILE *f, const char *s)
{
    fputs("| ", f);
    for (; s && *s; s++) {
        if (*s == '|' || *s == '\\' || *s == '*' || *s == '_' || *s == '`')
            fputc('\\', f);
        fputc(*s == '\n' || *s == '\r' ? ' ' : *s, f);
    }
    fputc(' ', f);
}

/* A table: header, rule (numeric columns right-aligned), rows. */
void au_report_md_table(FILE *f, const struct au_report_table *t)
{
    for (int c = 0; c < t->n_cols; c++)
        cell(f, t->head[c]);
    fputs("|\n", f);
    for (int c = 0; c < t->n_cols; c++)
        fputs(t->numeric >> c & 1 ? "|---:" : "|---", f);
    fputs("|\n", f);
    for (size_t i = 0; i < t->n_rows; i++) {
        for (int c = 0; c < t->n_cols; c++) {
            const char *tip = au_report_table_tip(t, i, c);
            cell(f, tip && t->md_full >> c & 1 ? tip : au_report_table_text(t, i, c));
        }
        fputs("|\n", f);
    }
}

static int table(FILE *f, const struct au_report *r, int which)
{
    struct au_report_table t;
    if (au_report_table_build(r, which, &t) < 0)
        return AU_NOMEM;
    au_report_md_table(f, &t);
    au_report_table_fini(&t);
    return AU_OK;
}

static int sections(FILE *f, const struct au_report *r)
{
    fputs("\n## Settings\n\n", f);
    int rc = table(f, r, AU_REPORT_TAB_SETTINGS);
    fprintf(f,
            "\n## Layers\n\nMean \xce\x94loss over finite trials with its %g%% Student-t "
            "interval; mismatch rate with its %g%% %s interval; rank 1 = largest mean "
            "\xce\x94loss.\n\n",
            100 * r->level, 100 * r->level, au_report_method_label(r->method));
    if (rc == AU_OK)
        rc = table(f, r, AU_REPORT_TAB_LAYERS);
    fputs("\n## Bits by field\n\nSingle-flip trials; the share is of all their mismatches "
          "(bits.csv has every bit of every layer).\n\n",
          f);
    if (!r->n_fields)
        fputs("No trial had exactly one flip.\n", f);
    else if (rc == AU_OK)
        rc = table(f, r, AU_REPORT_TAB_FIELDS);
    if (r->n_fields) {
        fputs("\nThe bits with the largest shares of the mismatches:\n\n", f);
        if (rc == AU_OK)
            rc = table(f, r, AU_REPORT_TAB_TOP_BITS);
    }
    fputs("\n## Campaigns of this model\n\nAll trials of each campaign with the same model "
          "(SHA-256) in the database; campaigns.csv has them layer by layer.\n\n",
          f);
    if (rc == AU_OK)
        rc = table(f, r, AU_REPORT_TAB_CAMPAIGNS);
    return rc;
}

int au_report_write_md(const struct au_report *r, FILE *f)
{
    if (!r || !f)
        return AU_INVALID;
    fputs("# ", f);
    for (const char *s = r->name; s && *s; s++)
        fputc(*s == '\n' ? ' ' : *s, f);
    fputs(r->partial ? " (partial)" : "", f);
    fputs("\n\n## Summary\n\n", f);
    for (size_t i = 0; i < r->n_summary; i++)
        fprintf(f, "- %s\n", r->summary[i]);
    int rc = sections(f, r);
    if (rc < 0)
        return rc;
    return ferror(f) ? AU_IO : AU_OK;
}

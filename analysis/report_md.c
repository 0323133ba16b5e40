/* report.md: the report's tables in GitHub-flavoured Markdown, for papers, issues and
 * notebooks (no charts: the HTML has them). Cells are escaped ('|' and line breaks) since
 * node names and descriptions come from the user's files. */
#include "report.h"

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

static void cell_num(FILE *f, double v)
{
    char b[32];
    au_report_num(b, sizeof(b), v);
    fprintf(f, "| %s ", b);
}

static void cell_pct(FILE *f, double v)
{
    char b[32];
    au_report_pct(b, sizeof(b), v);
    fprintf(f, "| %s ", b);
}

static void cell_interval(FILE *f, double lo, double hi, bool pct)
{
    char a[32], b[32];
    (pct ? au_report_pct : au_report_num)(a, sizeof(a), lo);
    (pct ? au_report_pct : au_report_num)(b, sizeof(b), hi);
    fprintf(f, "| [%s, %s] ", a, b);
}

static void cell_mean(FILE *f, const struct au_stats_mean *m)
{
    char a[32], b[32];
    au_report_num(a, sizeof(a), m->mean);
    au_report_num(b, sizeof(b), (m->t_hi - m->t_lo) / 2);
    fprintf(f, "| %s \xc2\xb1 %s ", a, b);
}

/* A header row and its rule: cols is "Name|Trials|...", right-aligned from column right. */
static void header(FILE *f, const char *cols, int right)
{
    int n = 1;
    fprintf(f, "| ");
    for (const char *c = cols; *c; c++) {
        if (*c == '|')
            n++;
        fputs(*c == '|' ? " | " : (char[2]){*c, 0}, f);
    }
    fputs(" |\n", f);
    for (int i = 0; i < n; i++)
        fputs(i >= right ? "|---:" : "|---", f);
    fputs("|\n", f);
}

static void setting(FILE *f, const char *key, const char *value)
{
    if (!value)
        return;
    cell(f, key);
    cell(f, value);
    fputs("|\n", f);
}

static void settings(FILE *f, const struct au_report *r)
{
    char buf[512];
    fputs("\n## Settings\n\n", f);
    header(f, "Setting|Value", 2);
    setting(f, "Campaign", r->name);
    setting(f, "Description", r->description);
    snprintf(buf, sizeof(buf), "%s (sha256 %.16s...)", r->model ? r->model : "?",
             r->model_sha256 ? r->model_sha256 : "unknown");
    setting(f, "Model", buf);
    setting(f, "Formats", r->formats);
    setting(f, "Targets", r->targets);
    setting(f, "Fault", r->fault);
    setting(f, "Process", r->process);
    snprintf(buf, sizeof(buf), "%lld trials, %lld flips", (long long)r->total.n_trials,
             (long long)r->n_flips);
    setting(f, "Recorded", buf);
    setting(f, "Poisson", r->poisson);
    snprintf(buf, sizeof(buf), "%s%s%s", r->stop ? r->stop : "?",
             r->stop_reason ? "; stopped: " : "", r->stop_reason ? r->stop_reason : "");
    setting(f, "Stopping", buf);
    snprintf(buf, sizeof(buf), "%llu", (unsigned long long)r->seed);
    setting(f, "Seed", buf);
    snprintf(buf, sizeof(buf), "%g%% (mean: Student-t; rates: Wilson)", 100 * r->level);
    setting(f, "Confidence level", buf);
    snprintf(buf, sizeof(buf), "%s (started %s, ended %s)", r->status ? r->status : "?",
             r->started ? r->started : "?", r->ended ? r->ended : "-");
    setting(f, "Status", buf);
    setting(f, "Aurum version", r->aurum_version);
}

static void layers(FILE *f, const struct au_report *r)
{
    fprintf(f,
            "\n## Layers\n\nMean \xce\x94loss over finite trials with its %g%% Student-t "
            "interval; mismatch rate with its %g%% Wilson interval; rank 1 = largest mean "
            "\xce\x94loss.\n\n",
            100 * r->level, 100 * r->level);
    header(f,
           "Rank|Layer|Op|Tensor|Bits|Format|Trials|Mean dloss \xc2\xb1 CI|t interval|"
           "Mismatch|Wilson|Masked|SDC|NaN/inf|Detector trials|Detector firings",
           6);
    for (size_t i = 0; i < r->n_layers; i++) {
        const struct au_report_layer *l = &r->layers[i];
        const struct au_report_model_layer *m = au_report_find_layer(r, l->layer);
        fprintf(f, "| %d ", l->rank);
        cell(f, l->layer < 0 ? "model-wide" : m ? m->name : "?");
        cell(f, m ? m->op : "");
        cell(f, l->tensor);
        cell(f, l->bits);
        char sh[AU_REPORT_FORMAT_SHORT];
        au_report_short_format(au_report_layer_format(r, l), sh, sizeof(sh));
        cell(f, sh);
        fprintf(f, "| %lld ", (long long)l->n_trials);
        cell_mean(f, &l->dloss);
        cell_interval(f, l->dloss.t_lo, l->dloss.t_hi, false);
        cell_pct(f, l->mismatch);
        cell_interval(f, l->mis_lo, l->mis_hi, true);
        cell_pct(f, (double)l->n_masked / l->n_trials);
        fprintf(f, "| %lld | %lld | %lld | %lld |\n", (long long)l->n_sdc,
                (long long)l->n_nonfinite, (long long)l->n_detected, (long long)l->detected_total);
    }
}

static void fields(FILE *f, const struct au_report *r)
{
    fputs("\n## Bits by field\n\nSingle-flip trials; the share is of all their mismatches "
          "(bits.csv has every bit of every layer).\n\n",
          f);
    if (!r->n_fields) {
        fputs("No trial had exactly one flip.\n", f);
        return;
    }
    header(f, "Field|Kind|Bits|Trials|Mismatch|Share of mismatches|Mean dloss|SDC|NaN/inf", 3);
    for (size_t k = 0; k < r->n_fields; k++) {
        const struct au_report_field *x = &r->fields[k];
        cell(f, *x->field ? x->field : "(unnamed)");
        cell(f, x->is_meta ? "metadata" : "data");
        fprintf(f, "| %d-%d | %lld ", x->bit_lo, x->bit_hi, (long long)x->n_trials);
        cell_pct(f, x->mismatch_sum / x->n_trials);
        cell_pct(f, x->share);
        cell_num(f, x->mean_dloss);
        fprintf(f, "| %lld | %lld |\n", (long long)x->n_sdc, (long long)x->n_nonfinite);
    }
}

static void campaigns(FILE *f, const struct au_report *r)
{
    fputs("\n## Campaigns of this model\n\nAll trials of each campaign with the same model "
          "(SHA-256) in the database; campaigns.csv has them layer by layer.\n\n",
          f);
    header(f, "Campaign|Formats|Trials|Mean dloss \xc2\xb1 CI|t interval|Mismatch|Wilson|NaN/inf",
           2);
    for (size_t i = 0; i < r->n_cmp; i++) {
        const struct au_report_cmp *c = &r->cmp[i];
        if (!c->total)
            continue;
        cell(f, c->name);
        cell(f, c->formats);
        fprintf(f, "| %lld ", (long long)c->n_trials);
        cell_mean(f, &c->dloss);
        cell_interval(f, c->dloss.t_lo, c->dloss.t_hi, false);
        cell_pct(f, c->mismatch);
        cell_interval(f, c->mis_lo, c->mis_hi, true);
        fprintf(f, "| %lld |\n", (long long)c->n_nonfinite);
    }
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
    settings(f, r);
    layers(f, r);
    fields(f, r);
    campaigns(f, r);
    return ferror(f) ? AU_IO : AU_OK;
}

/* aurum sweep: accuracy and loss of a model under each of several number formats, without
 * faults, beside float32 (GoldenEye's format comparison, automated). Each row is exactly what
 * `aurum emulate` measures for that format (both call au_study_evaluate). With --out, the
 * table and its charts are also written as report.html (self-contained, like aurum report's),
 * sweep.md, sweep.csv and sweep.svg. */
#include "cmd.h"
#include "common.h"
#include "report_sweep.h"
#include "studies.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_FORMATS 64

struct row {
    char format[256];
    struct au_study_metrics m;
    double drop;
};

struct sweep {
    struct cli_data_opts o;
    unsigned roles;
    struct row rows[MAX_FORMATS + 1]; /* rows[0] is float32 */
    int n_rows;
};

/* Splits a comma list at depth 0, so 'fxp{integer:2,fraction:3}' and JSON stay whole. */
static int split_formats(const char *list, struct sweep *w)
{
    int depth = 0, n = 0;
    bool quoted = false;
    w->n_rows = 1;
    snprintf(w->rows[0].format, sizeof(w->rows[0].format), "float32");
    for (const char *p = list;; p++) {
        if (*p == '"')
            quoted = !quoted;
        depth += !quoted && (*p == '{' || *p == '[')   ? 1
                 : !quoted && (*p == '}' || *p == ']') ? -1
                                                       : 0;
        if (*p && (*p != ',' || depth > 0 || quoted)) {
            n++;
            continue;
        }
        if (n == 0 || n >= (int)sizeof(w->rows[0].format) || w->n_rows > MAX_FORMATS) {
            cli_error("sweep: --formats: %s", n == 0                    ? "empty format in the list"
                                              : w->n_rows > MAX_FORMATS ? "more than 64 formats"
                                                                        : "format string too long");
            return -1;
        }
        memcpy(w->rows[w->n_rows].format, p - n, (size_t)n);
        w->rows[w->n_rows++].format[n] = '\0';
        n = 0;
        if (!*p)
            return 0;
    }
}

/* Every format is checked before the first run, so a typo fails at once. */
static int measure(struct cli_study *c, struct sweep *w)
{
    struct au_diag d = {{0}};
    for (int i = 1; i < w->n_rows; i++) {
        au_numsys_fmt *f = NULL;
        if (au_numsys_fmt_new(c->reg, w->rows[i].format, &f, &d) < 0) {
            cli_error("sweep: format '%s': %s", w->rows[i].format, d.msg);
            return -1;
        }
        au_numsys_fmt_free(f);
    }
    w->rows[0].m = *au_study_baseline(c->st);
    for (int i = 1; i < w->n_rows; i++) {
        const char *f = w->rows[i].format;
        struct au_emul_spec s = {.weights = (w->roles & AU_STUDY_WEIGHTS) ? f : NULL,
                                 .activations = (w->roles & AU_STUDY_ACTS) ? f : NULL};
        if (au_study_evaluate(c->st, &s, &w->rows[i].m, &d) < 0) {
            cli_error("%s: %s: %s", w->o.model, f, d.msg);
            return -1;
        }
    }
    for (int i = 0; i < w->n_rows; i++)
        w->rows[i].drop = au_study_drop(c->st, &w->rows[i].m);
    return 0;
}

static const char *roles_name(unsigned roles)
{
    return roles == AU_STUDY_WEIGHTS ? "weights"
           : roles == AU_STUDY_ACTS  ? "activations"
                                     : "weights+activations";
}

static void print_table(const struct sweep *w)
{
    printf("%-34s %9s %12s %9s %11s %11s\n", "format", "accuracy", "loss", "drop(pp)", "same top-1",
           "non-finite");
    for (int i = 0; i < w->n_rows; i++) {
        const struct au_study_metrics *m = &w->rows[i].m;
        printf("%-34s %9.4f %12.6f %9.2f %11.4f %11lld\n", w->rows[i].format, m->accuracy, m->loss,
               w->rows[i].drop, (double)m->n_agree / (double)m->n_samples,
               (long long)(m->n_samples - m->n_finite));
    }
    printf("formats applied to: %s; samples: %lld\n", roles_name(w->roles),
           (long long)w->rows[0].m.n_samples);
}

/* The files are the library's (analysis/report_sweep.h): report.html with the table and
 * charts, sweep.md, sweep.csv and sweep.svg. DIR is created if missing (not its parents). */
static int write_outputs(const struct sweep *w)
{
    const char *dir = w->o.out;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        cli_error("%s: cannot create the output directory: %s", dir, strerror(errno));
        return -1;
    }
    struct au_report_sweep_row rows[MAX_FORMATS + 1];
    for (int i = 0; i < w->n_rows; i++) {
        const struct au_study_metrics *m = &w->rows[i].m;
        rows[i] = (struct au_report_sweep_row){w->rows[i].format,
                                               m->accuracy,
                                               m->loss,
                                               w->rows[i].drop,
                                               (double)m->n_agree / (double)m->n_samples,
                                               m->n_samples,
                                               m->n_samples - m->n_finite};
    }
    struct au_report_sweep s = {w->o.model, w->o.inputs, roles_name(w->roles), rows,
                                (size_t)w->n_rows};
    struct au_diag d = {{0}};
    if (au_report_sweep_write(&s, dir, &d) < 0) {
        cli_error("%s", d.msg);
        return -1;
    }
    printf("wrote %s/report.html, sweep.md, sweep.csv, sweep.svg\n", dir);
    return 0;
}

static int parse(int argc, char **argv, struct sweep *w)
{
    const char *formats = NULL;
    for (int i = 1; i < argc; i++) {
        int r = cli_data_opt(argc, argv, &i, &w->o);
        if (r < 0)
            return 2;
        if (r == 1)
            continue;
        const char *a = argv[i];
        if (!strcmp(a, "--formats")) {
            if (!(formats = cli_optarg(argc, argv, &i)))
                return 2;
        } else if (!strcmp(a, "--weights-only") || !strcmp(a, "--activations-only")) {
            unsigned role = !strcmp(a, "--weights-only") ? AU_STUDY_WEIGHTS : AU_STUDY_ACTS;
            if (w->roles != AU_STUDY_BOTH && w->roles != role) {
                cli_error("sweep: --weights-only and --activations-only exclude each other");
                return 2;
            }
            w->roles = role;
        } else if (!strcmp(a, "--help")) {
            printf("usage: aurum sweep model.onnx --inputs X --labels Y --formats F1,F2,... "
                   "[--weights-only|--activations-only] [--out DIR] [--batch B] [--limit N]\n"
                   "  --out DIR  also write DIR/report.html (table and charts, self-contained), "
                   "sweep.md, sweep.csv and sweep.svg\n");
            return 0;
        } else {
            cli_error("sweep: unexpected argument '%s'", a);
            return 2;
        }
    }
    if (!w->o.model || !w->o.inputs || !w->o.labels || !formats) {
        cli_error("sweep: needs model.onnx, --inputs, --labels and --formats");
        return 2;
    }
    return split_formats(formats, w) ? 2 : -1;
}

int au_cmd_sweep(int argc, char **argv)
{
    struct sweep w = {.o = {.batch = 64, .threads = 1}, .roles = AU_STUDY_BOTH};
    int rc = parse(argc, argv, &w);
    if (rc >= 0)
        return rc;
    au_set_threads((int)w.o.threads);
    struct au_graph *g;
    if (cli_load_model(w.o.model, w.o.batch, 0, &g))
        return 1;
    struct cli_study c = {0};
    rc = cli_study_open(g, &w.o, &c);
    if (!rc)
        rc = measure(&c, &w);
    if (!rc)
        print_table(&w);
    if (!rc && w.o.out)
        rc = write_outputs(&w);
    cli_study_close(&c);
    au_graph_free(g);
    return rc ? 1 : 0;
}

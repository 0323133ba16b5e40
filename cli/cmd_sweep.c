/* aurum sweep: accuracy and loss of a model under each of several number formats, without
 * faults, beside float32 (GoldenEye's format comparison, automated). Each row is exactly what
 * `aurum emulate` measures for that format (both call au_study_evaluate). With --out, the
 * table is also written as sweep.csv and sweep.md, with an SVG bar chart (sweep.svg). */
#include "cmd.h"
#include "common.h"
#include "studies.h"
#include "svg.h"

#include <errno.h>
#include <math.h>
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

/* A CSV field: quoted when it holds a comma or a quote (format strings do). */
static void csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++)
        fputs(*s == '"' ? "\"\"" : (char[2]){*s, 0}, f);
    fputc('"', f);
}

static void write_csv(FILE *f, const struct sweep *w)
{
    fprintf(f, "format,roles,accuracy,loss,drop_pp,same_top1,n_samples,n_nonfinite\n");
    for (int i = 0; i < w->n_rows; i++) {
        const struct au_study_metrics *m = &w->rows[i].m;
        csv_field(f, w->rows[i].format);
        fprintf(f, ",%s,%.17g,%.17g,%.17g,%.17g,%lld,%lld\n", i ? roles_name(w->roles) : "none",
                m->accuracy, m->loss, w->rows[i].drop, (double)m->n_agree / (double)m->n_samples,
                (long long)m->n_samples, (long long)(m->n_samples - m->n_finite));
    }
}

static void write_md(FILE *f, const struct sweep *w)
{
    fprintf(f,
            "# Format sweep: %s\n\nFormats applied to %s; %lld samples of `%s`. Drop is in "
            "percentage points of accuracy below float32; a sample with non-finite logits "
            "counts as wrong.\n\n",
            w->o.model, roles_name(w->roles), (long long)w->rows[0].m.n_samples, w->o.inputs);
    fprintf(f, "| format | accuracy | loss | drop (pp) | same top-1 | non-finite |\n"
               "| --- | ---: | ---: | ---: | ---: | ---: |\n");
    for (int i = 0; i < w->n_rows; i++) {
        const struct au_study_metrics *m = &w->rows[i].m;
        fputs("| `", f);
        for (const char *s = w->rows[i].format; *s; s++)
            fputs(*s == '|' ? "\\|" : (char[2]){*s, 0}, f);
        fprintf(f, "` | %.4f | %.6f | %.2f | %.4f | %lld |\n", m->accuracy, m->loss,
                w->rows[i].drop, (double)m->n_agree / (double)m->n_samples,
                (long long)(m->n_samples - m->n_finite));
    }
}

/* Two charts stacked in one file: the accuracy drop (differences of a few tenths of a point
 * vanish on a 0-100 % accuracy axis) and the loss. */
static int write_svg(FILE *f, const struct sweep *w)
{
    const char *groups[MAX_FORMATS + 1];
    double drop[MAX_FORMATS + 1], loss[MAX_FORMATS + 1];
    for (int i = 0; i < w->n_rows; i++) {
        groups[i] = w->rows[i].format;
        drop[i] = w->rows[i].drop;
        loss[i] = w->rows[i].m.loss;
    }
    char t1[160], t2[160];
    snprintf(t1, sizeof(t1), "Accuracy drop below float32 (%s in the format, no faults)",
             roles_name(w->roles));
    snprintf(t2, sizeof(t2), "Mean cross-entropy loss (%lld samples)",
             (long long)w->rows[0].m.n_samples);
    struct au_svg_bars c = {.title = t1,
                            .y_label = "drop (percentage points)",
                            .n_groups = (size_t)w->n_rows,
                            .n_series = 1,
                            .groups = groups,
                            .value = drop};
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"960\" height=\"760\" "
               "viewBox=\"0 0 960 760\">\n<style>text{font:12px sans-serif}"
               ".title{font-size:14px}.grid{stroke:#ddd}</style>\n<g>\n");
    int rc = au_svg_bars(f, &c);
    fprintf(f, "</g>\n<g transform=\"translate(0,380)\">\n");
    c = (struct au_svg_bars){.title = t2,
                             .y_label = "loss",
                             .n_groups = (size_t)w->n_rows,
                             .n_series = 1,
                             .groups = groups,
                             .value = loss};
    if (!rc)
        rc = au_svg_bars(f, &c);
    fprintf(f, "</g>\n</svg>\n");
    return rc < 0 || ferror(f) ? -1 : 0;
}

/* Writes DIR/name with fn; DIR is created if missing (not its parents). */
static int write_file(const char *dir, const char *name, const struct sweep *w,
                      int (*fn)(FILE *, const struct sweep *))
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        cli_error("%s: %s", path, strerror(errno));
        return -1;
    }
    int rc = fn(f, w);
    if (fclose(f) != 0 || rc < 0) {
        cli_error("%s: write error", path);
        return -1;
    }
    return 0;
}

static int csv_fn(FILE *f, const struct sweep *w)
{
    write_csv(f, w);
    return ferror(f) ? -1 : 0;
}

static int md_fn(FILE *f, const struct sweep *w)
{
    write_md(f, w);
    return ferror(f) ? -1 : 0;
}

static int write_outputs(const struct sweep *w)
{
    const char *dir = w->o.out;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        cli_error("%s: cannot create the output directory: %s", dir, strerror(errno));
        return -1;
    }
    if (write_file(dir, "sweep.csv", w, csv_fn) || write_file(dir, "sweep.md", w, md_fn) ||
        write_file(dir, "sweep.svg", w, write_svg))
        return -1;
    printf("wrote %s/sweep.csv, sweep.md, sweep.svg\n", dir);
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
                   "[--weights-only|--activations-only] [--out DIR] [--batch B] [--limit N]\n");
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

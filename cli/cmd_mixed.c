/* aurum mixed: reliability-aware mixed precision. Layers are ranked by the mean delta-loss
 * per flip a fault campaign measured (results db), and bit widths are assigned so that a more
 * vulnerable layer never gets fewer bits than a less vulnerable one; the assignment with the
 * fewest total bits whose accuracy stays within the threshold of float32 is reported. */
#include "alloc.h"
#include "cmd.h"
#include "common.h"
#include "studies_mixed.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h> /* strtol */
#include <string.h>

#define MAX_WIDTHS 16

struct args {
    struct cli_data_opts d;
    struct au_study_mixed_opts o;
    int widths[MAX_WIDTHS];
    const char *db, *campaign;
};

static int parse_widths(const char *s, struct args *a)
{
    a->o.n_widths = 0;
    while (*s) {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || end == s || (*end && *end != ',') || v < 1 || v > 64 ||
            a->o.n_widths == MAX_WIDTHS) {
            cli_error("mixed: --widths: expected up to %d integers in [1, 64] separated by "
                      "commas, got '%s'",
                      MAX_WIDTHS, s);
            return -1;
        }
        a->widths[a->o.n_widths++] = (int)v;
        s = *end ? end + 1 : end;
    }
    return a->o.n_widths ? 0 : -1;
}

static int parse_opt(int argc, char **argv, int *i, struct args *a)
{
    const char *o = argv[*i], *v;
    if (!strcmp(o, "--exhaustive")) {
        a->o.exhaustive = true;
        return 0;
    }
    if (!strcmp(o, "--weights-only") || !strcmp(o, "--activations-only")) {
        a->o.roles &= !strcmp(o, "--weights-only") ? AU_STUDY_WEIGHTS : AU_STUDY_ACTS;
        return 0;
    }
    if (strcmp(o, "--family") && strcmp(o, "--widths") && strcmp(o, "--threshold") &&
        strcmp(o, "--resilience") && strcmp(o, "--campaign")) {
        cli_error("mixed: unexpected argument '%s'", o);
        return -1;
    }
    if (!(v = cli_optarg(argc, argv, i)))
        return -1;
    struct au_diag d = {{0}};
    if (!strcmp(o, "--family") && au_study_family_parse(v, &a->o.family, &d) < 0) {
        cli_error("mixed: %s", d.msg);
        return -1;
    }
    if (!strcmp(o, "--widths"))
        return parse_widths(v, a);
    if (!strcmp(o, "--threshold"))
        return cli_parse_f64(o, v, &a->o.threshold) ? 0 : -1;
    if (!strcmp(o, "--resilience"))
        a->db = v;
    if (!strcmp(o, "--campaign"))
        a->campaign = v;
    return 0;
}

static int parse(int argc, char **argv, struct args *a)
{
    bool family = false;
    for (int i = 1; i < argc; i++) {
        int r = cli_data_opt(argc, argv, &i, &a->d);
        if (r < 0)
            return 2;
        if (r == 1)
            continue;
        if (!strcmp(argv[i], "--help")) {
            printf("usage: aurum mixed model.onnx --inputs X --labels Y --family "
                   "fxp|fp|bfp|afp|int --widths 4,6,8,12,16 [--threshold 1.0] --resilience "
                   "results.db [--campaign NAME] [--exhaustive] "
                   "[--weights-only|--activations-only] [--batch B] [--limit N]\n");
            return 0;
        }
        family |= !strcmp(argv[i], "--family");
        if (parse_opt(argc, argv, &i, a) < 0)
            return 2;
    }
    if (!a->d.model || !a->d.inputs || !a->d.labels || !family || !a->o.n_widths || !a->db) {
        cli_error("mixed: needs model.onnx, --inputs, --labels, --family, --widths and "
                  "--resilience");
        return 2;
    }
    if (!a->o.roles || !isfinite(a->o.threshold) || a->o.threshold < 0) {
        cli_error("mixed: %s", !a->o.roles ? "--weights-only and --activations-only exclude "
                                             "each other"
                                           : "--threshold must be a finite number >= 0");
        return 2;
    }
    return -1;
}

static void print_ranking(const struct au_study *st, const struct au_study_vuln *v, const int *rank)
{
    printf("resilience ranking (most vulnerable first):\n%4s  %-36s %16s %8s %11s\n", "rank",
           "layer", "dloss per flip", "trials", "non-finite");
    for (int p = 0; p < au_study_n_layers(st); p++) {
        const struct au_study_vuln *x = &v[rank[p]];
        printf("%4d  %-36s %16.6g %8lld %11lld\n", p + 1, au_study_layer(st, rank[p])->name,
               x->dloss_per_flip, (long long)x->n_trials, (long long)x->n_nonfinite);
    }
}

struct trace {
    const struct au_study *st;
    const int *rank;
    int digits; /* of the widest width: every width is padded to it, so the columns align */
};

/* One line per measured assignment: widths in ranking order. */
static void on_measure(void *user, const int *widths, int64_t bits,
                       const struct au_study_metrics *m, double drop)
{
    const struct trace *t = user;
    printf("  [");
    for (int p = 0; p < au_study_n_layers(t->st); p++)
        printf("%s%*d", p ? " " : "", t->digits, widths[t->rank[p]]);
    printf("]  %12lld bits  accuracy %.4f  drop %6.2f\n", (long long)bits, m->accuracy, drop);
}

static void print_result(const struct args *a, const struct au_study *st,
                         const struct au_study_mixed_result *r)
{
    printf("assignments: %lld respect the ranking, %lld measured%s\n", (long long)r->n_candidates,
           (long long)r->n_measured,
           a->o.exhaustive ? " (exhaustive)" : " (cheapest first, pruned)");
    if (!r->found)
        return;
    printf("%-36s %6s  %s\n", "layer", "bits", "format");
    for (int i = 0; i < au_study_n_layers(st); i++) {
        int k = 0;
        while (k < r->n_formats - 1 && r->fmt_widths[k] != r->widths[i])
            k++;
        printf("%-36s %6d  %s\n", au_study_layer(st, i)->name, r->widths[i], r->formats[k]);
    }
    printf("total: %lld bits (%.1f%% of %lld at %d bits everywhere); accuracy %.4f, drop %.2f "
           "points (float32 %.4f, threshold %.2f)\n",
           (long long)r->bits, 100.0 * (double)r->bits / (double)r->uniform_bits,
           (long long)r->uniform_bits, r->fmt_widths[r->n_formats - 1], r->m.accuracy, r->drop,
           au_study_baseline(st)->accuracy, a->o.threshold);
}

static int run(struct args *a, struct au_study *st)
{
    struct au_diag d = {{0}};
    int n = au_study_n_layers(st), rc = 0;
    struct au_study_vuln *v = au_calloc((size_t)n + 1, sizeof(*v));
    int *rank = au_calloc((size_t)n + 1, sizeof(*rank));
    struct au_study_mixed_result r = {0};
    struct trace t = {st, rank, 1};
    for (int i = 0; i < a->o.n_widths; i++)
        t.digits = a->o.widths[i] >= 10 ? 2 : t.digits; /* widths are at most 64 */
    if (!v || !rank) {
        cli_error("out of memory");
        rc = -1;
    } else if (au_study_resilience(st, a->db, a->campaign, v, &d) < 0) {
        cli_error("%s", d.msg);
        rc = -1;
    }
    if (!rc) {
        au_study_rank(v, n, rank);
        print_ranking(st, v, rank);
        a->o.rank = rank;
        a->o.on_measure = on_measure;
        a->o.user = &t;
        printf("measured assignments (bits per layer in ranking order):\n");
        if (au_study_mixed(st, &a->o, &r, &d) < 0) {
            cli_error("%s: %s", a->d.model, d.msg);
            rc = -1;
        }
    }
    if (!rc)
        print_result(a, st, &r);
    if (!rc && !r.found) {
        cli_error("mixed: no assignment stays within %.2f points of float32, not even %d bits "
                  "everywhere",
                  a->o.threshold, r.fmt_widths[r.n_formats - 1]);
        rc = -1;
    }
    au_study_mixed_fini(&r);
    au_free(v);
    au_free(rank);
    return rc;
}

int au_cmd_mixed(int argc, char **argv)
{
    struct args a = {.d = {.batch = 64, .threads = 1},
                     .o = {.roles = AU_STUDY_BOTH, .threshold = 1.0}};
    a.o.widths = a.widths;
    int rc = parse(argc, argv, &a);
    if (rc >= 0)
        return rc;
    au_set_threads((int)a.d.threads);
    struct au_graph *g;
    if (cli_load_model(a.d.model, a.d.batch, 0, &g))
        return 1;
    struct cli_study c = {0};
    rc = cli_study_open(g, &a.d, &c);
    if (!rc)
        rc = run(&a, c.st);
    cli_study_close(&c);
    au_graph_free(g);
    return rc ? 1 : 0;
}

/* aurum bitwidth: the narrowest bit width of a format family whose accuracy stays within a
 * threshold of float32, by binary search over the width; at each width every split (radix
 * point, exponent/mantissa, shared exponent width) is measured and the most accurate kept.
 * Prints the search trace: every measured format in order, the chosen split marked. */
#include "cmd.h"
#include "common.h"
#include "studies.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *split_name(int family)
{
    static const char *const names[] = {"integer", "exponent", "shared exp", "exponent", "-"};
    return names[family];
}

static const char *roles_name(unsigned roles)
{
    return roles == AU_STUDY_WEIGHTS ? "weights"
           : roles == AU_STUDY_ACTS  ? "activations"
                                     : "weights+activations";
}

static void print_trace(const struct au_study_bitwidth_opts *o, const struct au_study *st,
                        const struct au_study_trace *t)
{
    const struct au_study_metrics *b = au_study_baseline(st);
    printf("float32 accuracy %.4f over %lld samples; family %s, widths %d..%d, %s; "
           "threshold %.2f points\n",
           b->accuracy, (long long)b->n_samples, au_study_family_name(o->family), o->min_bits,
           o->max_bits, roles_name(o->roles), o->threshold);
    printf("%5s %10s  %-34s %9s %12s %9s\n", "width", split_name(o->family), "format", "accuracy",
           "loss", "drop(pp)");
    for (int i = 0; i < t->n; i++) {
        const struct au_study_point *p = &t->p[i];
        if (p->refused) {
            printf("%5d %10d  %-34s %s\n", p->width, p->split, p->format,
                   "(refused by the plugin)");
            continue;
        }
        printf("%5d %10d  %-34s %9.4f %12.6f %9.2f%s%s\n", p->width, p->split, p->format,
               p->m.accuracy, p->m.loss, p->drop, p->best ? "  best" : "",
               p->best ? (p->ok ? ", within" : ", over") : "");
    }
}

static int parse(int argc, char **argv, struct cli_data_opts *d, struct au_study_bitwidth_opts *o)
{
    const char *family = NULL;
    for (int i = 1; i < argc; i++) {
        int r = cli_data_opt(argc, argv, &i, d);
        if (r < 0)
            return 2;
        if (r == 1)
            continue;
        const char *a = argv[i], *v;
        int64_t n;
        if (!strcmp(a, "--help")) {
            printf("usage: aurum bitwidth model.onnx --inputs X --labels Y --family "
                   "fxp|fp|bfp|afp|int [--threshold 1.0] [--min-bits 2] [--max-bits 16] "
                   "[--weights-only|--activations-only] [--batch B] [--limit N]\n");
            return 0;
        } else if (!strcmp(a, "--weights-only")) {
            o->roles &= AU_STUDY_WEIGHTS;
        } else if (!strcmp(a, "--activations-only")) {
            o->roles &= AU_STUDY_ACTS;
        } else if (strcmp(a, "--family") && strcmp(a, "--threshold") && strcmp(a, "--min-bits") &&
                   strcmp(a, "--max-bits")) {
            cli_error("bitwidth: unexpected argument '%s'", a);
            return 2;
        } else if (!(v = cli_optarg(argc, argv, &i))) {
            return 2;
        } else if (!strcmp(a, "--family")) {
            family = v;
        } else if (!strcmp(a, "--threshold")) {
            if (!cli_parse_f64(a, v, &o->threshold))
                return 2;
        } else if (!cli_parse_i64(a, v, 1, 64, &n)) {
            return 2;
        } else {
            *(!strcmp(a, "--min-bits") ? &o->min_bits : &o->max_bits) = (int)n;
        }
    }
    struct au_diag dg = {{0}};
    if (!d->model || !d->inputs || !d->labels || !family) {
        cli_error("bitwidth: needs model.onnx, --inputs, --labels and --family");
        return 2;
    }
    if (au_study_family_parse(family, &o->family, &dg) < 0) {
        cli_error("bitwidth: %s", dg.msg);
        return 2;
    }
    if (!o->roles || !isfinite(o->threshold) || o->threshold < 0) {
        cli_error("bitwidth: %s", !o->roles ? "--weights-only and --activations-only exclude "
                                              "each other"
                                            : "--threshold must be a finite number >= 0");
        return 2;
    }
    return -1;
}

int au_cmd_bitwidth(int argc, char **argv)
{
    struct cli_data_opts d = {.batch = 64, .threads = 1};
    struct au_study_bitwidth_opts o = {
        .roles = AU_STUDY_BOTH, .threshold = 1.0, .min_bits = 2, .max_bits = 16};
    int rc = parse(argc, argv, &d, &o);
    if (rc >= 0)
        return rc;
    au_set_threads((int)d.threads);
    struct au_graph *g;
    if (cli_load_model(d.model, d.batch, 0, &g))
        return 1;
    struct cli_study c = {0};
    struct au_study_bitwidth_result r = {0};
    struct au_diag dg = {{0}};
    rc = cli_study_open(g, &d, &c);
    if (!rc && (rc = au_study_bitwidth(c.st, &o, &r, &dg)) < 0)
        cli_error("%s: %s", d.model, dg.msg);
    if (!rc)
        print_trace(&o, c.st, &r.trace);
    if (!rc && r.width >= 0)
        printf("narrowest width: %d bits, %s: accuracy %.4f, drop %.2f points (threshold %.2f)\n",
               r.width, r.best.format, r.best.m.accuracy, r.best.drop, o.threshold);
    else if (!rc)
        cli_error("bitwidth: even %d bits lose %.2f points of accuracy (threshold %.2f); try a "
                  "larger --max-bits or threshold",
                  o.max_bits, r.best.drop, o.threshold);
    au_study_trace_fini(&r.trace);
    cli_study_close(&c);
    au_graph_free(g);
    return rc || r.width < 0 ? 1 : 0;
}

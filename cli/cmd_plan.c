/* aurum plan: how many trials a campaign needs. (1) For a rate (e.g. the mismatch rate)
 * within a margin e at confidence c over a population of N fault sites, Leveugle et
 * al.'s statistical fault injection formula (DATE 2009); N is given, or counted per
 * target from a campaign file by building the campaign's plan exactly as the runner does
 * (model, formats, targets, fields, bit positions). (2) For a mean delta loss within e,
 * n = (z s / e)^2 from the standard deviation s of a pilot campaign's results. */
#include "analysis/estimate.h"
#include "campaigns/plan.h"
#include "cmd.h"
#include "common.h"
#include "core/alloc.h"
#include "injectors/emulate.h"
#include "numsys/registry.h"
#include "onnx.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: aurum plan --sites N [--margin E] [--confidence C] [--p P]\n"
            "       aurum plan campaign.json [--margin E] [--confidence C] [--p P]\n"
            "       aurum plan --pilot results.db --margin E [--confidence C] [--campaign NAME]\n"
            "  Trials for an estimate within +-E at confidence C.\n"
            "  --sites N       population of fault sites (element, bit); inf for unbounded\n"
            "  campaign.json   count the sites of each target of the campaign (activation\n"
            "                  sites are per input sample) and compare with its trials\n"
            "  --margin E      half-width: a rate for --sites and campaigns (default 0.01),\n"
            "                  delta-loss units for --pilot (required)\n"
            "  --confidence C  level in (0,1) (default: the campaign's, else 0.99)\n"
            "  --p P           expected rate (default 0.5, the worst case)\n"
            "  --pilot DB      per-layer standard deviation of delta loss from a pilot run:\n"
            "                  n = (z s / E)^2\n");
}

struct plan_opts {
    const char *campaign_file, *pilot, *campaign;
    double sites, margin, confidence, p;
};

static bool opt_in_01(const char *opt, double v)
{
    if (v > 0 && v < 1)
        return true;
    cli_error("plan: %s must be in (0, 1), got %g", opt, v);
    return false;
}

/* ---- --sites ---- */

static int plan_sites(const struct plan_opts *o)
{
    double level = o->confidence > 0 ? o->confidence : 0.99;
    double n = au_stats_leveugle_n(o->sites, o->margin, level, o->p);
    printf("population %.0f sites, margin %g, confidence %g, p %g (z = %.4f)\n", o->sites,
           o->margin, level, o->p, au_stats_z(level));
    printf("trials: %.0f\n", ceil(n));
    return 0;
}

/* ---- campaign.json: the runner's model, formats and plan ---- */

struct built {
    au_numsys_registry *reg;
    struct au_graph *g;
    struct au_emul *e;
    struct au_inject *inj;
    struct au_emul_rule *rules;
    struct au_range *ranges;
    struct au_plan plan;
    bool have_plan;
};

static int emul_rules(const struct au_campaign *c, struct built *b, struct au_emul_spec *s)
{
    int n = 0;
    for (int r = 0; r < c->formats.n_rules; r++)
        n += c->formats.rules[r].select.n;
    b->rules = au_calloc((size_t)n + 1, sizeof(*b->rules));
    if (!b->rules)
        return AU_NOMEM;
    n = 0;
    for (int r = 0; r < c->formats.n_rules; r++)
        for (int k = 0; k < c->formats.rules[r].select.n; k++)
            b->rules[n++] =
                (struct au_emul_rule){c->formats.rules[r].select.v[k], c->formats.rules[r].weights,
                                      c->formats.rules[r].activations};
    *s = (struct au_emul_spec){c->formats.weights, c->formats.activations, b->rules, n, c->seed};
    return AU_OK;
}

/* Static scales need a profiled absmax, but only their values depend on it, not the
 * layouts or block counts that make the sites: 1 stands in for the profile. */
static int fake_absmax(struct built *b, struct au_diag *d)
{
    int n = au_graph_n_nodes(b->g);
    b->ranges = au_calloc((size_t)n + 1, sizeof(*b->ranges));
    if (!b->ranges)
        return au_diag_set(d, AU_NOMEM, "out of memory");
    for (int i = 0; i < n; i++)
        b->ranges[i] = (struct au_range){-1, 1, 1, 0};
    return au_emul_set_absmax(b->e, b->ranges, d);
}

static int build(const struct au_campaign *c, struct built *b, struct au_diag *d)
{
    struct au_emul_spec s;
    int rc = au_numsys_registry_new(&b->reg, d) < 0 ? AU_PLUGIN : AU_OK;
    if (!rc)
        rc = au_onnx_load(c->model, &b->g, d);
    if (!rc)
        rc = au_graph_prepare(b->g, c->batch, AU_PREPARE_KEEP, d);
    if (!rc && (rc = emul_rules(c, b, &s)) < 0)
        au_diag_set(d, rc, "out of memory");
    if (!rc)
        rc = au_emul_new(b->g, b->reg, &s, &b->e, d);
    if (!rc && au_emul_needs_absmax(b->e))
        rc = fake_absmax(b, d);
    if (!rc)
        rc = au_emul_apply(b->e, d);
    if (!rc)
        rc = au_inject_new(b->g, b->e, b->reg, c->seed, &b->inj, d);
    if (!rc)
        rc = au_plan_init(&b->plan, c, b->g, b->e, b->inj, d);
    b->have_plan = !rc;
    return rc;
}

static void unbuild(struct built *b)
{
    if (b->have_plan)
        au_plan_fini(&b->plan);
    au_inject_free(b->inj);
    au_emul_free(b->e);
    au_graph_free(b->g);
    au_numsys_registry_free(b->reg);
    au_free(b->rules);
    au_free(b->ranges);
}

static void print_targets(const struct au_campaign *c, const struct au_plan *p, double level,
                          const struct plan_opts *o)
{
    double total = 0;
    int short_of = 0;
    bool per_target = p->per_target && c->stop.type == AU_CAMPAIGN_STOP_FIXED;
    int w = 28;
    for (int t = 0; t < p->n_targets; t++)
        w = (int)strlen(p->targets[t].name) > w ? (int)strlen(p->targets[t].name) : w;
    printf("%-*s %14s %10s%s\n", w, "target", "sites", "trials", per_target ? "  campaign" : "");
    for (int t = 0; t < p->n_targets; t++) {
        double n_sites = (double)au_site_space_n_sites(p->space, (uint32_t)t);
        double n = ceil(au_stats_leveugle_n(n_sites, o->margin, level, o->p));
        total += n_sites;
        printf("%-*s %14.0f %10.0f", w, p->targets[t].name, n_sites, n);
        if (per_target) {
            bool enough = (double)c->process.trials >= n;
            short_of += !enough;
            printf("  %lld%s", (long long)c->process.trials, enough ? "" : " (too few)");
        }
        putchar('\n');
    }
    double n_all = ceil(au_stats_leveugle_n(total, o->margin, level, o->p));
    printf("%-*s %14.0f %10.0f\n", w, "all targets (one population)", total, n_all);
    printf("margin %g, confidence %g, p %g (z = %.4f); Leveugle et al., DATE 2009\n", o->margin,
           level, o->p, au_stats_z(level));
    if (short_of)
        printf("%d of %d targets have fewer trials than planned (process.trials = %lld)\n",
               short_of, p->n_targets, (long long)c->process.trials);
}

static int plan_campaign(const struct plan_opts *o)
{
    struct au_problems probs = {0};
    struct au_campaign *c = NULL;
    struct au_diag d = {{0}};
    struct built b = {0};
    int rc = au_campaign_load(o->campaign_file, &c, &probs, &d);
    for (size_t i = 0; rc && i < probs.n; i++)
        cli_error("%s", probs.msg[i]);
    if (!rc && (rc = build(c, &b, &d)) < 0)
        cli_error("%s: %s", o->campaign_file, d.msg);
    else if (!rc)
        print_targets(c, &b.plan, o->confidence > 0 ? o->confidence : c->stop.confidence, o);
    if (rc && !probs.n && !d.msg[0])
        cli_error("%s: %s", o->campaign_file, au_strerror(rc));
    unbuild(&b);
    au_campaign_free(c);
    au_problems_fini(&probs);
    return rc ? 1 : 0;
}

/* ---- --pilot ---- */

static const char *tensor_name(int t)
{
    return t == 0 ? "act" : t == 1 ? "weight" : t == 2 ? "mixed" : "all";
}

static const char *bits_name(int b)
{
    return b == 0 ? "data" : b == 1 ? "meta" : b == 2 ? "mixed" : "all";
}

static void print_pilot(const struct au_estimate *rows, size_t n, double level,
                        const struct plan_opts *o)
{
    double most = 0;
    int w = 5;
    for (size_t i = 0; i < n; i++)
        w = (int)strlen(rows[i].name) > w ? (int)strlen(rows[i].name) : w;
    printf("%-*s %-6s %-5s %8s %12s %10s\n", w, "layer", "tensor", "bits", "pilot n", "sd(dloss)",
           "trials");
    for (size_t i = 0; i < n; i++) {
        const struct au_estimate *r = &rows[i];
        double need = ceil(au_stats_mean_n(r->dloss.sd, o->margin, level));
        printf("%-*s %-6s %-5s %8lld %12.4g ", w, r->name, tensor_name(r->tensor),
               bits_name(r->bits), (long long)r->dloss.n, r->dloss.sd);
        if (isnan(need)) {
            printf("%10s\n", "n/a (pilot n < 2)");
            continue;
        }
        printf("%10.0f\n", need);
        most = need > most ? need : most;
    }
    printf("largest: %.0f trials per group for +-%g at confidence %g (z = %.4f)\n", most, o->margin,
           level, au_stats_z(level));
    if (n && rows[0].conditioned)
        printf("conditioned Poisson trials: sd and margin are those of E[L] = p_fault x "
               "E[L | N >= 1]\n");
}

static int plan_pilot(const struct plan_opts *o)
{
    struct au_diag d = {{0}};
    au_estimate_db *db = NULL;
    struct au_estimate_campaign c = {0};
    struct au_estimate *rows = NULL;
    size_t n = 0;
    int rc = au_estimate_open(o->pilot, &db, &d);
    if (!rc)
        rc = au_estimate_find(db, o->campaign, &c, &d);
    double level = o->confidence > 0 ? o->confidence : c.level;
    struct au_estimate_opts eo = {level, AU_STATS_WILSON};
    if (!rc)
        rc = au_estimate_layers(db, &c, &eo, &rows, &n, &d);
    if (!rc && n == 0)
        rc = au_diag_set(&d, AU_NOTFOUND, "%s: campaign '%s' has no trials yet", o->pilot, c.name);
    if (rc)
        cli_error("%s", d.msg);
    else
        print_pilot(rows, n, level, o);
    au_free(rows);
    au_estimate_close(db);
    return rc ? 1 : 0;
}

/* ---- options ---- */

static int parse_value(int argc, char **argv, int *i, struct plan_opts *o)
{
    const char *opt = argv[*i], *v = cli_optarg(argc, argv, i);
    if (!v)
        return 2;
    if (!strcmp(opt, "--pilot"))
        o->pilot = v;
    else if (!strcmp(opt, "--campaign"))
        o->campaign = v;
    else if (!strcmp(opt, "--sites") && !strcmp(v, "inf"))
        o->sites = INFINITY;
    else if (!cli_parse_f64(opt, v,
                            !strcmp(opt, "--sites")    ? &o->sites
                            : !strcmp(opt, "--margin") ? &o->margin
                            : !strcmp(opt, "--p")      ? &o->p
                                                       : &o->confidence))
        return 2;
    return 0;
}

static int check_opts(const struct plan_opts *o)
{
    int modes = (o->sites != 0) + (o->campaign_file != NULL) + (o->pilot != NULL);
    if (modes != 1) {
        cli_error("plan: give exactly one of --sites N, a campaign file or --pilot DB");
        return 2;
    }
    if (o->sites != 0 && !(o->sites >= 1)) {
        cli_error("plan: --sites must be at least 1, got %g", o->sites);
        return 2;
    }
    if (o->pilot && !(o->margin > 0)) {
        cli_error("plan: --pilot needs --margin E > 0 in delta-loss units");
        return 2;
    }
    if (!o->pilot && !opt_in_01("--margin", o->margin))
        return 2;
    if ((o->confidence != 0 && !opt_in_01("--confidence", o->confidence)) ||
        !opt_in_01("--p", o->p))
        return 2;
    return 0;
}

int au_cmd_plan(int argc, char **argv)
{
    struct plan_opts o = {.margin = NAN, .p = 0.5};
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--sites") || !strcmp(a, "--margin") || !strcmp(a, "--confidence") ||
                   !strcmp(a, "--p") || !strcmp(a, "--pilot") || !strcmp(a, "--campaign")) {
            if (parse_value(argc, argv, &i, &o))
                return 2;
        } else if (a[0] == '-' && a[1]) {
            cli_error("plan: unknown option '%s' (try 'aurum plan --help')", a);
            return 2;
        } else if (!o.campaign_file) {
            o.campaign_file = a;
        } else {
            cli_error("plan: one campaign file at a time ('%s')", a);
            return 2;
        }
    }
    if (isnan(o.margin) && !o.pilot)
        o.margin = 0.01;
    int rc = check_opts(&o);
    if (rc)
        return rc;
    return o.pilot ? plan_pilot(&o) : o.campaign_file ? plan_campaign(&o) : plan_sites(&o);
}

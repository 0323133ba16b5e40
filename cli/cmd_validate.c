/* aurum validate: checks campaign files without running them. Every problem is one line
 * on stdout, "file: $.json.path: reason", so a user fixes them all in one go; the checks
 * against the model, its data and the format plugins run when the file parses and the
 * model loads. Exit status: 0 all valid, 1 some problem, 2 usage. */
#include "cmd.h"
#include "common.h"
#include "onnx.h"
#include "validate.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: aurum validate [--syntax] [--quiet] campaign.json...\n"
               "  Reports every problem of each campaign file, one per line with its JSON path.\n"
               "  --syntax  only the file itself: keys, types, ranges (no model, data, plugins)\n"
               "  --quiet   print problems only, no 'ok' line\n");
}

/* "per_layer on 5 of 5 layers, activations, data bits, 2560 trials per layer" */
static void summary(const struct au_campaign *c, const struct au_graph *g, char *buf, size_t len)
{
    int n_layers = 0, n_target = 0;
    for (int i = 0; g && i < au_graph_n_nodes(g); i++) {
        n_layers += au_graph_node(g, i)->is_layer;
        n_target += au_campaign_selects(&c->targets.layers, au_graph_node(g, i));
    }
    size_t k = (size_t)snprintf(buf, len, "%s", au_campaign_process_name(c->process.type));
    if (c->process.type == AU_CAMPAIGN_POISSON && k < len)
        k +=
            (size_t)snprintf(buf + k, len - k, " (%s)", au_campaign_timing_name(c->process.timing));
    if (g && k < len)
        k += (size_t)snprintf(buf + k, len - k, " on %d of %d layers", n_target, n_layers);
    bool per_target =
        c->process.type == AU_CAMPAIGN_PER_LAYER || c->process.timing == AU_CAMPAIGN_SINGLE_LAYER;
    const char *tensors[] = {"", "activations", "weights", "activations+weights"};
    const char *bits[] = {"", "data", "metadata", "data+metadata"};
    if (k < len)
        k += (size_t)snprintf(buf + k, len - k, ", %s, %s bits, %s, ",
                              tensors[c->targets.tensors & 3], bits[c->targets.bits & 3],
                              au_campaign_fault_name(c->fault));
    if (k < len && c->stop.type == AU_CAMPAIGN_STOP_CI)
        snprintf(buf + k, len - k, "until the CI half-width is %g (at most %lld trials%s)",
                 c->stop.half_width, (long long)c->stop.max_trials, per_target ? " per layer" : "");
    else if (k < len)
        snprintf(buf + k, len - k, "%lld trials%s", (long long)c->process.trials,
                 per_target ? " per layer" : "");
}

/* The checks that need the model: its load error is itself a problem of $.model. */
static int check_model(const struct au_campaign *c, const au_numsys_registry *reg,
                       struct au_problems *p, struct au_graph **g)
{
    struct au_diag d = {{0}};
    int rc = au_onnx_load(c->model, g, &d);
    if (!rc)
        rc = au_graph_prepare(*g, 1, 0, &d);
    if (rc) {
        au_graph_free(*g);
        *g = NULL;
        return rc == AU_NOMEM ? rc : au_problems_add(p, "%s: $.model: %s", c->path, d.msg);
    }
    int r1 = au_campaign_check(c, *g, reg, p, &d);
    int r2 = au_campaign_check_files(c, *g, p, &d);
    return r1 == AU_NOMEM || r2 == AU_NOMEM ? AU_NOMEM : r1 ? r1 : r2;
}

/* A campaign with problems in its fields: its format names and, if its model loads, its
 * layer selectors (a model that does not load is reported once the fields are right). */
static int check_names(const struct au_campaign *c, const au_numsys_registry *reg,
                       struct au_problems *p)
{
    struct au_diag d = {{0}};
    struct au_graph *g = NULL;
    if (c->model && (au_onnx_load(c->model, &g, &d) || au_graph_prepare(g, 1, 0, &d))) {
        au_graph_free(g);
        g = NULL;
    }
    int rc = au_campaign_check_names(c, g, reg, p, &d);
    au_graph_free(g);
    return rc;
}

/* Validates one file; prints its problems (or "ok"). Returns 0, 1 (problems) or -1. */
static int validate_one(const char *path, const au_numsys_registry *reg, bool quiet)
{
    struct au_problems p = {0};
    struct au_campaign *c = NULL;
    struct au_graph *g = NULL;
    struct au_diag d = {{0}};
    int rc = au_campaign_load_partial(path, &c, &p, &d);
    if (!rc && reg)
        rc = check_model(c, reg, &p, &g);
    else if (rc == AU_FORMAT && c && reg) /* problems in fields: check the names too */
        rc = check_names(c, reg, &p) == AU_NOMEM ? AU_NOMEM : rc;
    for (size_t i = 0; i < p.n; i++)
        printf("%s\n", p.msg[i]);
    if (rc == AU_NOMEM)
        cli_error("%s: out of memory", path);
    if (!rc && !quiet) {
        char s[400];
        summary(c, g, s, sizeof(s));
        printf("%s: ok: %s\n", path, s);
    }
    au_graph_free(g);
    au_campaign_free(c);
    au_problems_fini(&p);
    return rc == AU_NOMEM ? -1 : rc ? 1 : 0;
}

int au_cmd_validate(int argc, char **argv)
{
    bool syntax = false, quiet = false;
    int n_files = 0, worst = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--syntax")) {
            syntax = true;
        } else if (!strcmp(argv[i], "--quiet")) {
            quiet = true;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            cli_error("validate: unknown option '%s' (try 'aurum validate --help')", argv[i]);
            return 2;
        } else {
            n_files++;
        }
    }
    if (!n_files) {
        usage(stderr);
        return 2;
    }
    au_numsys_registry *reg = NULL;
    struct au_diag d = {{0}};
    if (!syntax && au_numsys_registry_new(&reg, &d) < 0) {
        cli_error("%s", d.msg);
        return 1;
    }
    for (size_t i = 0; reg && i < au_numsys_registry_n_warnings(reg); i++)
        fprintf(stderr, "aurum: warning: %s\n", au_numsys_registry_warning(reg, i));
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1])
            continue;
        int r = validate_one(argv[i], reg, quiet);
        worst = r < 0 || worst < 0 ? -1 : r > worst ? r : worst;
    }
    au_numsys_registry_free(reg);
    fflush(stdout);
    return worst ? 1 : 0;
}

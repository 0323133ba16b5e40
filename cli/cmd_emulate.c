/* aurum emulate: accuracy and loss of a model whose weights and/or layer outputs pass
 * through a number format, beside the float32 run on the same data (GoldenEye's number
 * format analysis). Static-scale formats get each layer's absmax from the float32 run. */
#include "cmd.h"
#include "common.h"
#include "emulate.h"
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pass {
    double loss, acc;
    int64_t n, nonfinite, agree;
};

/* One pass over the data; preds[] records (first pass) or compares (second) top-1. */
static int run_pass(struct au_graph *g, const struct au_dataset *ds, const struct au_array *tgt,
                    struct au_ranges *rs, int64_t *preds, bool record, struct pass *p)
{
    struct au_diag d = {{0}};
    int64_t b = au_graph_batch(g);
    for (int64_t s = 0; s < ds->n; s += b) {
        int64_t cnt = ds->n - s < b ? ds->n - s : b;
        if (rs)
            rs->n_valid = cnt;
        if (au_dataset_copy_batch(ds, s, cnt, au_graph_input_tensor(g, 0)->data, b, &d) ||
            au_graph_run(g, &d)) {
            cli_error("%s", d.msg);
            return -1;
        }
        const struct au_tensor *out = au_graph_output(g, 0);
        int64_t classes = out->ne[out->n_dims - 1], row = au_tensor_numel(out) / b;
        for (int64_t k = 0; k < cnt; k++) {
            struct au_sample_metrics m;
            const int64_t *y = (const int64_t *)tgt->t.data + (s + k) * (row / classes);
            au_metrics_sample((const float *)out->data + k * row, row / classes, classes, y, &m);
            if (record)
                preds[s + k] = m.top1;
            else
                p->agree += preds[s + k] == m.top1;
            if (!m.finite) {
                p->nonfinite++;
                continue;
            }
            p->loss += m.loss;
            p->acc += m.accuracy;
            p->n++;
        }
    }
    return 0;
}

static void print_pass(const char *label, const struct pass *p, int64_t n, bool agree)
{
    double k = p->n ? 1.0 / (double)p->n : 0;
    printf("%-34s %9.4f %12.6f", label, p->acc * k, p->loss * k);
    if (agree)
        printf(" %11.4f", (double)p->agree / (double)n);
    if (p->nonfinite)
        printf("  (%lld non-finite)", (long long)p->nonfinite);
    printf("\n");
}

static int emulate(struct au_graph *g, const struct cli_data_opts *o, const struct au_emul_spec *s)
{
    struct au_dataset ds = {0};
    struct au_array tgt = {{0}};
    struct au_ranges rs = {0};
    struct au_diag d = {{0}};
    struct pass base = {0}, fmt = {0};
    au_numsys_registry *reg = NULL;
    struct au_emul *e = NULL;
    int64_t *preds = NULL;
    int rc = cli_open_inputs(g, o, &ds);
    if (!rc) {
        const struct au_tensor *out = au_graph_output(g, 0);
        int64_t classes = out->ne[out->n_dims - 1];
        rc = cli_open_targets(o->labels, ds.n, au_tensor_numel(out) / out->ne[0] / classes, &tgt);
    }
    preds = rc ? NULL : calloc((size_t)ds.n, sizeof(*preds));
    if (!rc && (!preds || au_numsys_registry_new(&reg, &d) < 0 || au_ranges_init(&rs, g, &d))) {
        cli_error("%s", preds ? d.msg : "out of memory");
        rc = -1;
    }
    for (size_t i = 0; !rc && i < au_numsys_registry_n_warnings(reg); i++)
        fprintf(stderr, "aurum: warning: %s\n", au_numsys_registry_warning(reg, i));
    if (!rc)
        rc = run_pass(g, &ds, &tgt, &rs, preds, true, &base);
    if (!rc &&
        (au_emul_new(g, reg, s, &e, &d) ||
         (au_emul_needs_absmax(e) && au_emul_set_absmax(e, rs.r, &d)) || au_emul_apply(e, &d))) {
        cli_error("%s: %s", o->model, d.msg);
        rc = -1;
    }
    au_ranges_fini(&rs);
    if (!rc)
        rc = run_pass(g, &ds, &tgt, NULL, preds, false, &fmt);
    if (!rc) {
        char label[512];
        printf("%-34s %9s %12s %11s\n", "run", "accuracy", "loss", "same top-1");
        print_pass("float32", &base, ds.n, false);
        snprintf(label, sizeof(label), "weights %s, activations %s", s->weights ? s->weights : "-",
                 s->activations ? s->activations : "-");
        print_pass(label, &fmt, ds.n, true);
        printf("accuracy drop: %.4f\n", (base.acc - fmt.acc) / (double)(base.n ? base.n : 1));
    }
    au_emul_free(e);
    au_numsys_registry_free(reg);
    free(preds);
    au_array_fini(&tgt);
    au_dataset_fini(&ds);
    return rc;
}

int au_cmd_emulate(int argc, char **argv)
{
    struct cli_data_opts o = {.batch = 64, .threads = 1};
    struct au_emul_spec s = {0};
    for (int i = 1; i < argc; i++) {
        int r = cli_data_opt(argc, argv, &i, &o);
        if (r < 0)
            return 2;
        if (r == 1)
            continue;
        const char *a = argv[i];
        if (!strcmp(a, "--format") || !strcmp(a, "--weights") || !strcmp(a, "--activations")) {
            const char *v = cli_optarg(argc, argv, &i);
            if (!v)
                return 2;
            if (strcmp(a, "--activations") != 0)
                s.weights = v;
            if (strcmp(a, "--weights") != 0)
                s.activations = v;
        } else if (!strcmp(a, "--help")) {
            printf("usage: aurum emulate model.onnx --inputs X --labels Y --format F "
                   "[--weights F] [--activations F] [--batch B] [--limit N]\n");
            return 0;
        } else {
            cli_error("emulate: unexpected argument '%s'", a);
            return 2;
        }
    }
    if (!o.model || !o.inputs || !o.labels || (!s.weights && !s.activations)) {
        cli_error("emulate: needs model.onnx, --inputs, --labels and --format (or --weights / "
                  "--activations)");
        return 2;
    }
    au_set_threads((int)o.threads);
    struct au_graph *g;
    if (cli_load_model(o.model, o.batch, 0, &g))
        return 1;
    int rc = emulate(g, &o, &s);
    au_graph_free(g);
    return rc ? 1 : 0;
}

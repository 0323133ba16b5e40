/* aurum emulate: accuracy and loss of a model whose weights and/or layer outputs pass
 * through a number format, beside the float32 run on the same data (GoldenEye's number
 * format analysis). Static-scale formats get each layer's absmax from the float32 run; the
 * measurement is au_study_evaluate (analysis/studies.h), shared with sweep and the searches. */
#include "cmd.h"
#include "common.h"
#include "emulate.h"
#include "studies.h"

#include <stdio.h>
#include <string.h>

/* The columns as before au_study existed: accuracy over the finite samples, and a drop
 * that counts a non-finite sample as wrong. */
static void print_run(const char *label, const struct au_study_metrics *m, bool agree)
{
    printf("%-34s %9.4f %12.6f", label, m->acc_finite, m->n_finite ? m->loss : 0.0);
    if (agree)
        printf(" %11.4f", (double)m->n_agree / (double)m->n_samples);
    if (m->n_samples > m->n_finite)
        printf("  (%lld non-finite)", (long long)(m->n_samples - m->n_finite));
    printf("\n");
}

static int emulate(struct au_graph *g, const struct cli_data_opts *o, const struct au_emul_spec *s)
{
    struct au_dataset ds = {0};
    struct au_array tgt = {{0}};
    struct au_diag d = {{0}};
    au_numsys_registry *reg = NULL;
    struct au_study *st = NULL;
    struct au_study_metrics fmt;
    int rc = cli_open_inputs(g, o, &ds);
    if (!rc) {
        const struct au_tensor *out = au_graph_output(g, 0);
        int64_t classes = out->ne[out->n_dims - 1];
        rc = cli_open_targets(o->labels, ds.n, au_tensor_numel(out) / out->ne[0] / classes, &tgt);
    }
    if (!rc && (au_numsys_registry_new(&reg, &d) < 0 || au_study_new(g, &ds, &tgt, reg, &st, &d))) {
        cli_error("%s", d.msg);
        rc = -1;
    }
    for (size_t i = 0; !rc && i < au_numsys_registry_n_warnings(reg); i++)
        fprintf(stderr, "aurum: warning: %s\n", au_numsys_registry_warning(reg, i));
    if (!rc && au_study_evaluate(st, s, &fmt, &d)) {
        cli_error("%s: %s", o->model, d.msg);
        rc = -1;
    }
    if (!rc) {
        const struct au_study_metrics *base = au_study_baseline(st);
        char label[512];
        printf("%-34s %9s %12s %11s\n", "run", "accuracy", "loss", "same top-1");
        print_run("float32", base, false);
        snprintf(label, sizeof(label), "weights %s, activations %s", s->weights ? s->weights : "-",
                 s->activations ? s->activations : "-");
        print_run(label, &fmt, true);
        printf("accuracy drop: %.4f\n",
               (base->correct - fmt.correct) / (double)(base->n_finite ? base->n_finite : 1));
    }
    au_study_free(st);
    au_numsys_registry_free(reg);
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

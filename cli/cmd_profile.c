/* aurum profile: the golden run over a data set. Prints accuracy, mean cross-entropy,
 * mean Top1-Conf and Top2Diff, and the range of every layer's output (what GoldenEye's
 * preprocess+profile produce; the range detector and static scales use the absmax).
 * Padding rows of the last batch are excluded from every statistic. */
#include "cmd.h"
#include "common.h"
#include "exec.h"
#include "metrics.h"
#include "ranges.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct totals {
    double loss, acc, conf, diff;
    int64_t n, nonfinite;
};

static int score_batch(const struct au_graph *g, const struct au_array *tgt, int64_t start,
                       int64_t cnt, struct totals *t)
{
    const struct au_tensor *out = au_graph_output(g, 0);
    int64_t classes = out->ne[out->n_dims - 1];
    int64_t pos = au_tensor_numel(out) / out->ne[0] / classes;
    for (int64_t s = 0; s < cnt; s++) {
        struct au_sample_metrics m;
        const float *lg = (const float *)out->data + s * pos * classes;
        if (au_metrics_sample(lg, pos, classes, (const int64_t *)tgt->t.data + (start + s) * pos,
                              &m)) {
            cli_error("label of sample %lld is outside [0, %lld)", (long long)(start + s),
                      (long long)classes);
            return -1;
        }
        if (!m.finite) {
            t->nonfinite++;
            continue;
        }
        t->loss += m.loss;
        t->acc += m.accuracy;
        t->conf += m.top1_conf;
        t->diff += m.top2_diff;
        t->n++;
    }
    return 0;
}

static void print_report(const struct au_graph *g, const struct au_ranges *p,
                         const struct totals *t, int64_t n)
{
    double k = t->n ? 1.0 / (double)t->n : 0;
    printf("samples:    %lld%s\n", (long long)n, t->nonfinite ? " (some non-finite)" : "");
    printf("accuracy:   %.4f\n", t->acc * k);
    printf("loss:       %.6f (mean cross-entropy)\n", t->loss * k);
    printf("top1_conf:  %.6f\n", t->conf * k);
    printf("top2_diff:  %.6f\n", t->diff * k);
    if (t->nonfinite)
        printf("non-finite: %lld samples (excluded from the means)\n", (long long)t->nonfinite);
    printf("\n%-4s %-32s %-10s %14s %14s %14s\n", "#", "layer", "op", "min", "max", "absmax");
    for (int i = 0; i < au_graph_n_nodes(g); i++) {
        const struct au_node *nd = au_graph_node(g, i);
        if (!nd->is_layer)
            continue;
        const struct au_range *r = &p->r[i];
        printf("%-4d %-32s %-10s %14.6g %14.6g %14.6g", i, au_node_label(nd), nd->op_type, r->min,
               r->max, r->absmax);
        if (r->nonfinite)
            printf("  (%lld non-finite)", (long long)r->nonfinite);
        printf("\n");
    }
}

static int profile_run(struct au_graph *g, const struct cli_data_opts *o)
{
    struct au_dataset ds = {0};
    struct au_array tgt = {{0}};
    struct au_diag d = {{0}};
    struct au_ranges p = {0};
    int64_t batch = au_graph_batch(g);
    struct totals t = {0};
    int rc = cli_open_inputs(g, o, &ds);
    const struct au_tensor *out = au_graph_output(g, 0);
    int64_t classes = out->ne[out->n_dims - 1];
    int64_t pos = out->n_dims >= 2 ? au_tensor_numel(out) / out->ne[0] / classes : 0;
    if (!rc && (out->n_dims < 2 || out->ne[0] != batch || out->dtype != AU_DTYPE_F32)) {
        cli_error("%s: output 0 is not float logits [batch, ..., classes]", o->model);
        rc = -1;
    }
    if (!rc)
        rc = cli_open_targets(o->labels, ds.n, pos, &tgt);
    if (!rc && au_ranges_init(&p, g, &d)) {
        cli_error("%s", d.msg);
        rc = -1;
    }
    for (int64_t s = 0; !rc && s < ds.n; s += batch) {
        p.n_valid = ds.n - s < batch ? ds.n - s : batch;
        rc = au_dataset_copy_batch(&ds, s, p.n_valid, au_graph_input_tensor(g, 0)->data, batch, &d);
        if (!rc)
            rc = au_graph_run(g, &d);
        if (rc)
            cli_error("%s", d.msg);
        else
            rc = score_batch(g, &tgt, s, p.n_valid, &t);
    }
    if (!rc)
        print_report(g, &p, &t, ds.n);
    au_ranges_fini(&p);
    au_array_fini(&tgt);
    au_dataset_fini(&ds);
    return rc;
}

int au_cmd_profile(int argc, char **argv)
{
    struct cli_data_opts o = {.batch = 64, .threads = 1};
    for (int i = 1; i < argc; i++) {
        int r = cli_data_opt(argc, argv, &i, &o);
        if (r < 0)
            return 2;
        if (r == 0) {
            if (!strcmp(argv[i], "--help")) {
                printf("usage: aurum profile model.onnx --inputs X --labels Y [--batch B] "
                       "[--limit N] [--threads T] [--mean M] [--std S]\n");
                return 0;
            }
            cli_error("profile: unexpected argument '%s'", argv[i]);
            return 2;
        }
    }
    if (!o.model || !o.inputs || !o.labels) {
        cli_error("profile: needs model.onnx, --inputs X and --labels Y");
        return 2;
    }
    au_set_threads((int)o.threads);
    struct au_graph *g;
    if (cli_load_model(o.model, o.batch, 0, &g))
        return 1;
    int rc = profile_run(g, &o);
    au_graph_free(g);
    return rc ? 1 : 0;
}

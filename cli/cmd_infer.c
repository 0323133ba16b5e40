/* aurum infer: run a model over a data set in batches and write output 0 for every
 * sample as one .npy, so users can diff against PyTorch. The last batch is zero-padded
 * and its padding rows are dropped. */
#include "cmd.h"
#include "common.h"
#include "exec.h"

#include <stdio.h>
#include <string.h>

static int run_all(struct au_graph *g, const struct au_dataset *ds, struct au_array *y,
                   const char *model)
{
    struct au_diag d = {{0}};
    int64_t b = au_graph_batch(g);
    struct au_tensor *in = au_graph_input_tensor(g, 0);
    const struct au_tensor *out = au_graph_output(g, 0);
    int64_t ne[AU_MAX_DIMS];
    for (int k = 0; k < out->n_dims; k++)
        ne[k] = out->ne[k];
    if (out->n_dims < 1 || out->ne[0] != b) {
        cli_error("%s: output 0 has no batch dimension", model);
        return -1;
    }
    ne[0] = ds->n;
    if (au_array_alloc(y, out->dtype, out->n_dims, ne, &d)) {
        cli_error("%s", d.msg);
        return -1;
    }
    size_t row = au_tensor_nbytes(out) / (size_t)b;
    for (int64_t s = 0; s < ds->n; s += b) {
        int64_t cnt = ds->n - s < b ? ds->n - s : b;
        if (au_dataset_copy_batch(ds, s, cnt, in->data, b, &d) || au_graph_run(g, &d)) {
            cli_error("%s", d.msg);
            return -1;
        }
        out = au_graph_output(g, 0);
        memcpy((char *)y->t.data + (size_t)s * row, out->data, (size_t)cnt * row);
    }
    return 0;
}

int au_cmd_infer(int argc, char **argv)
{
    struct cli_data_opts o = {.batch = 64, .threads = 1};
    for (int i = 1; i < argc; i++) {
        int r = cli_data_opt(argc, argv, &i, &o);
        if (r < 0)
            return 2;
        if (r == 0) {
            if (!strcmp(argv[i], "--help")) {
                printf("usage: aurum infer model.onnx --inputs X.npy --out Y.npy [--batch B] "
                       "[--limit N] [--threads T] [--mean M] [--std S]\n");
                return 0;
            }
            cli_error("infer: unexpected argument '%s'", argv[i]);
            return 2;
        }
    }
    if (!o.model || !o.inputs || !o.out) {
        cli_error("infer: needs model.onnx, --inputs X and --out Y.npy");
        return 2;
    }
    au_set_threads((int)o.threads);
    struct au_graph *g;
    if (cli_load_model(o.model, o.batch, 0, &g))
        return 1;
    struct au_dataset ds = {0};
    struct au_array y = {{0}};
    struct au_diag d = {{0}};
    int rc = cli_open_inputs(g, &o, &ds);
    if (!rc)
        rc = run_all(g, &ds, &y, o.model);
    if (!rc && au_npy_write(o.out, &y.t, &d)) {
        cli_error("%s", d.msg);
        rc = -1;
    }
    if (!rc)
        printf("wrote %s: %lld samples\n", o.out, (long long)ds.n);
    au_array_fini(&y);
    au_dataset_fini(&ds);
    au_graph_free(g);
    return rc ? 1 : 0;
}

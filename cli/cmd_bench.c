/* aurum bench: forward-pass time of one batch, median of several runs after a warm-up,
 * with a fixed BLAS thread count (the benchmark scripts compare it with PyTorch). Inputs
 * are deterministic pseudo-random floats (token ids 0 for integer inputs). */
#include "cmd.h"
#include "common.h"
#include "exec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void fill_inputs(struct au_graph *g)
{
    uint64_t s = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < au_graph_n_inputs(g); i++) {
        struct au_tensor *t = au_graph_input_tensor(g, i);
        int64_t n = au_tensor_numel(t);
        if (t->dtype != AU_DTYPE_F32) {
            memset(t->data, 0, au_tensor_nbytes(t));
            continue;
        }
        float *x = t->data;
        for (int64_t k = 0; k < n; k++) {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            x[k] = (float)((double)(s >> 11) / 9007199254740992.0 * 2.0 - 1.0);
        }
    }
}

int au_cmd_bench(int argc, char **argv)
{
    const char *path = NULL;
    int64_t batch = 1, runs = 10, threads = 1;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (strcmp(argv[i], "--batch") == 0) {
            if (!(v = cli_optarg(argc, argv, &i)) ||
                !cli_parse_i64("--batch", v, 1, 1 << 20, &batch))
                return 2;
        } else if (strcmp(argv[i], "--runs") == 0) {
            if (!(v = cli_optarg(argc, argv, &i)) || !cli_parse_i64("--runs", v, 1, 100000, &runs))
                return 2;
        } else if (strcmp(argv[i], "--threads") == 0) {
            if (!(v = cli_optarg(argc, argv, &i)) ||
                !cli_parse_i64("--threads", v, 1, 1024, &threads))
                return 2;
        } else if (strcmp(argv[i], "--help") == 0) {
            printf("usage: aurum bench model.onnx [--batch B] [--runs N] [--threads T]\n");
            return 0;
        } else if (!path && argv[i][0] != '-') {
            path = argv[i];
        } else {
            cli_error("bench: unexpected argument '%s'", argv[i]);
            return 2;
        }
    }
    if (!path) {
        cli_error("bench: missing model.onnx");
        return 2;
    }
    au_set_threads((int)threads);
    struct au_graph *g;
    if (cli_load_model(path, batch, 0, &g))
        return 1;
    fill_inputs(g);
    double *ms = calloc((size_t)runs, sizeof(*ms));
    struct au_diag d = {{0}};
    int rc = ms ? au_graph_run(g, &d) : -1; /* warm-up */
    for (int64_t r = 0; r < runs && rc == 0; r++) {
        double t0 = cli_now();
        rc = au_graph_run(g, &d);
        ms[r] = (cli_now() - t0) * 1e3;
    }
    if (rc) {
        cli_error("%s", ms ? d.msg : "out of memory");
    } else {
        qsort(ms, (size_t)runs, sizeof(*ms), cmp_double);
        printf("model=%s batch=%lld threads=%lld runs=%lld\n", path, (long long)batch,
               (long long)threads, (long long)runs);
        printf("median_ms=%.4f min_ms=%.4f\n", ms[runs / 2], ms[0]);
    }
    free(ms);
    au_graph_free(g);
    return rc ? 1 : 0;
}

/* aurum bench: forward-pass time of one batch, median of several runs after a warm-up,
 * with a fixed BLAS thread count (the benchmark scripts compare it with PyTorch). Inputs
 * are deterministic pseudo-random floats (token ids 0 for integer inputs). With --resume,
 * also the time of running from each layer (node with weights) to the end, as a fault in
 * its output makes a trial do: the floor a campaign's per-trial cost is measured against. */
#include "cmd.h"
#include "common.h"
#include "exec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *ms, int64_t runs)
{
    qsort(ms, (size_t)runs, sizeof(*ms), cmp_double);
    return ms[runs / 2];
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Per layer: CPU time of au_graph_run_from(layer, AU_RUN_REUSE_OUTPUT) over the whole
 * batch (nothing pruned: no fault), the fastest of the runs, and per sample. CPU time,
 * like the campaign rates it is compared with: a shared machine only adds wall time. */
static int bench_resume(struct au_graph *g, int64_t batch, int64_t runs, double *ms)
{
    struct au_diag d = {{0}};
    double sum = 0;
    int n_layers = 0;
    printf("layer,op,resume_ms,resume_us_per_sample\n");
    for (int k = 0; k < au_graph_n_nodes(g); k++) {
        const struct au_node *n = au_graph_node(g, k);
        if (!n->is_layer) /* what a campaign's "*" targets: nodes with weights */
            continue;
        for (int64_t r = 0; r < runs; r++) {
            double t0 = cpu_now();
            if (au_graph_run_from(g, k, AU_RUN_REUSE_OUTPUT, &d)) {
                cli_error("%s", d.msg);
                return -1;
            }
            ms[r] = (cpu_now() - t0) * 1e3;
        }
        double m = ms[0];
        for (int64_t r = 1; r < runs; r++)
            m = ms[r] < m ? ms[r] : m;
        printf("%s,%s,%.4f,%.3f\n", n->name, n->op_type, m, m * 1e3 / (double)batch);
        sum += m * 1e3 / (double)batch;
        n_layers++;
    }
    printf("mean_resume_us_per_sample=%.3f layers=%d\n", n_layers ? sum / n_layers : 0, n_layers);
    return 0;
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
    bool resume = false;
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
        } else if (strcmp(argv[i], "--resume") == 0) {
            resume = true;
        } else if (strcmp(argv[i], "--help") == 0) {
            printf("usage: aurum bench model.onnx [--batch B] [--runs N] [--threads T] "
                   "[--resume]\n");
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
    if (cli_load_model(path, batch, resume ? AU_PREPARE_KEEP : 0, &g))
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
        double med = median(ms, runs);
        printf("model=%s batch=%lld threads=%lld runs=%lld\n", path, (long long)batch,
               (long long)threads, (long long)runs);
        printf("median_ms=%.4f min_ms=%.4f\n", med, ms[0]);
        if (resume && (rc = au_graph_run(g, &d)) == 0)
            rc = bench_resume(g, batch, runs, ms);
    }
    free(ms);
    au_graph_free(g);
    return rc ? 1 : 0;
}

/* CLI helpers: the only place (with cmd_*.c) that prints errors. */
#include "common.h"

#include "exec.h"
#include "onnx.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("aurum: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

bool cli_parse_i64(const char *opt, const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        cli_error("%s: expected an integer in [%lld, %lld], got '%s'", opt, (long long)lo,
                  (long long)hi, s);
        return false;
    }
    *out = v;
    return true;
}

bool cli_parse_f64(const char *opt, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end) {
        cli_error("%s: expected a number, got '%s'", opt, s);
        return false;
    }
    *out = v;
    return true;
}

const char *cli_optarg(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        cli_error("option %s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

int cli_load_model(const char *path, int64_t batch, unsigned flags, struct au_graph **out)
{
    struct au_diag d = {{0}};
    struct au_graph *g = NULL;
    int rc = au_onnx_load(path, &g, &d);
    if (!rc)
        rc = au_graph_prepare(g, batch, flags, &d);
    if (rc) {
        cli_error("%s", d.msg[0] ? d.msg : au_strerror(rc));
        au_graph_free(g);
        return rc;
    }
    *out = g;
    return 0;
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int parse_floats(const char *opt, const char *s, float *out, int32_t *n)
{
    char *end;
    int k = 0;
    while (*s && k < AU_DATASET_MAX_CH) {
        errno = 0;
        double v = strtod(s, &end);
        if (errno || end == s || (*end && *end != ',')) {
            cli_error("%s: expected numbers separated by commas, got '%s'", opt, s);
            return -1;
        }
        out[k++] = (float)v;
        s = *end ? end + 1 : end;
    }
    *n = k;
    return 0;
}

int cli_data_opt(int argc, char **argv, int *i, struct cli_data_opts *o)
{
    const char *a = argv[*i], *v;
    const char **str = !strcmp(a, "--inputs")   ? &o->inputs
                       : !strcmp(a, "--labels") ? &o->labels
                       : !strcmp(a, "--out")    ? &o->out
                                                : NULL;
    int64_t *num = !strcmp(a, "--batch")     ? &o->batch
                   : !strcmp(a, "--limit")   ? &o->limit
                   : !strcmp(a, "--threads") ? &o->threads
                                             : NULL;
    if (str || num || !strcmp(a, "--mean") || !strcmp(a, "--std")) {
        if (!(v = cli_optarg(argc, argv, i)))
            return -1;
        if (str)
            *str = v;
        else if (num)
            return cli_parse_i64(a, v, num == &o->limit ? 0 : 1, INT32_MAX, num) ? 1 : -1;
        else if (!strcmp(a, "--mean"))
            return parse_floats(a, v, o->mean, &o->n_mean) ? -1 : 1;
        else
            return parse_floats(a, v, o->std, &o->n_std) ? -1 : 1;
        return 1;
    }
    if (a[0] != '-' && !o->model) {
        o->model = a;
        return 1;
    }
    return 0;
}

int cli_open_inputs(struct au_graph *g, const struct cli_data_opts *o, struct au_dataset *ds)
{
    struct au_diag d = {{0}};
    if (au_graph_n_inputs(g) != 1) {
        cli_error("%s: the model has %d inputs; only single-input models are supported", o->model,
                  au_graph_n_inputs(g));
        return -1;
    }
    struct au_dataset_input in;
    int v = au_graph_input_value(g, 0);
    au_dataset_input_from_tensor(&in, au_graph_value(g, v)->name, au_graph_tensor(g, v));
    struct au_dataset_opts dopts = {.limit = o->limit};
    if (o->n_mean && o->n_std && o->n_mean != o->n_std) {
        cli_error("--mean has %d values but --std has %d", o->n_mean, o->n_std);
        return -1;
    }
    dopts.n_norm = o->n_mean > o->n_std ? o->n_mean : o->n_std;
    for (int k = 0; k < dopts.n_norm; k++) {
        dopts.mean[k] = o->n_mean ? o->mean[k] : 0.0f;
        dopts.std[k] = o->n_std ? o->std[k] : 1.0f;
    }
    if (au_dataset_load(ds, o->inputs, &in, &dopts, &d)) {
        cli_error("%s", d.msg);
        return -1;
    }
    return 0;
}

int cli_open_targets(const char *path, int64_t n, int64_t positions, struct au_array *out)
{
    struct au_diag d = {{0}};
    struct au_array raw = {{0}};
    if (au_dataset_read_array(path, n, &raw, &d)) {
        cli_error("%s", d.msg);
        return -1;
    }
    int64_t numel = au_tensor_numel(&raw.t);
    bool int_type = raw.t.dtype == AU_DTYPE_I64 || raw.t.dtype == AU_DTYPE_I32 ||
                    raw.t.dtype == AU_DTYPE_U8 || raw.t.dtype == AU_DTYPE_I8;
    if (!int_type || raw.t.n_dims < 1 || raw.t.ne[0] < n || numel != raw.t.ne[0] * positions) {
        char s[96];
        cli_error("%s: labels of dtype %s and shape %s do not fit %lld samples x %lld positions",
                  path, au_dtype_name(raw.t.dtype), au_tensor_shape_str(&raw.t, s, sizeof(s)),
                  (long long)n, (long long)positions);
        au_array_fini(&raw);
        return -1;
    }
    int64_t ne[1] = {n * positions};
    if (au_array_alloc(out, AU_DTYPE_I64, 1, ne, &d)) {
        cli_error("%s", d.msg);
        au_array_fini(&raw);
        return -1;
    }
    for (int64_t k = 0; k < ne[0]; k++)
        ((int64_t *)out->t.data)[k] = au_tensor_get_i64(&raw.t, k);
    au_array_fini(&raw);
    return 0;
}

int cli_study_open(struct au_graph *g, const struct cli_data_opts *o, struct cli_study *c)
{
    struct au_diag d = {{0}};
    int rc = cli_open_inputs(g, o, &c->ds);
    if (!rc) {
        const struct au_tensor *out = au_graph_output(g, 0);
        int64_t classes = out->ne[out->n_dims - 1];
        rc = cli_open_targets(o->labels, c->ds.n, au_tensor_numel(out) / out->ne[0] / classes,
                              &c->tgt);
    }
    if (!rc && (au_numsys_registry_new(&c->reg, &d) < 0 ||
                au_study_new(g, &c->ds, &c->tgt, c->reg, &c->st, &d) < 0)) {
        cli_error("%s", d.msg);
        rc = -1;
    }
    for (size_t i = 0; !rc && i < au_numsys_registry_n_warnings(c->reg); i++)
        fprintf(stderr, "aurum: warning: %s\n", au_numsys_registry_warning(c->reg, i));
    return rc;
}

void cli_study_close(struct cli_study *c)
{
    au_study_free(c->st);
    au_numsys_registry_free(c->reg);
    au_array_fini(&c->tgt);
    au_dataset_fini(&c->ds);
}

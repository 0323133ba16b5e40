/* Tests for core/ops_reduce.c: every reduction against a brute-force double reference over
 * all axis sets (attribute and input forms, keepdims 0/1, negative axes), the empty-axes
 * rules, integer and empty reductions, Softmax/LogSoftmax and LayerNormalization.
 * Inputs are pseudo-random, seeded from AURUM_TEST_SEED. */
#include "../check.h"
#include "core/graph.h"
#include "core/op.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#define NE(...) ((const int64_t[]){__VA_ARGS__})

static uint64_t rng_state;

static float rnd(void) // uniform in [-2, 2)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((double)(rng_state >> 40) / (double)(1ULL << 24) * 4.0 - 2.0);
}

static struct au_tensor mk(int dtype, int n_dims, const int64_t *ne, const void *data)
{
    struct au_tensor t = {0};
    au_tensor_set_shape(&t, dtype, n_dims, ne);
    t.data = (void *)data;
    return t;
}

/* Infer + run; outputs (NULL entries stay absent) get malloc'd data with a canary. */
static int run_node(const char *op_type, struct au_attr *attrs, int n_attrs, int n_in,
                    const struct au_tensor *const *in, int n_out, struct au_tensor **out,
                    struct au_diag *d)
{
    const struct au_op_def *def = au_op_find(op_type);
    CHECK(def != NULL);
    if (!def)
        return AU_NOTFOUND;
    struct au_node node = {.name = "r",
                           .op_type = (char *)op_type,
                           .n_in = n_in,
                           .n_out = n_out,
                           .n_attrs = n_attrs,
                           .attrs = attrs,
                           .def = def};
    struct au_op_ctx ctx = {.node = &node, .n_in = n_in, .n_out = n_out, .in = in, .out = out};
    size_t scratch = 1;
    int rc = def->infer(&ctx, &scratch, d);
    if (rc)
        return rc;
    CHECK_EQ_INT(scratch, 0);
    for (int k = 0; k < n_out; k++) {
        if (!out[k])
            continue;
        size_t nb = au_tensor_nbytes(out[k]);
        out[k]->data = malloc(nb + 8);
        memset((char *)out[k]->data + nb, 0x5A, 8);
    }
    rc = def->run(&ctx, d);
    for (int k = 0; k < n_out; k++)
        for (int i = 0; out[k] && i < 8; i++)
            CHECK_EQ_INT(((unsigned char *)out[k]->data)[au_tensor_nbytes(out[k]) + i], 0x5A);
    return rc;
}

static int run1(const char *op_type, struct au_attr *attrs, int n_attrs, int n_in,
                const struct au_tensor *const *in, struct au_tensor *y)
{
    struct au_diag d = {{0}};
    struct au_tensor *out[1] = {y};
    memset(y, 0, sizeof(*y));
    int rc = run_node(op_type, attrs, n_attrs, n_in, in, 1, out, &d);
    if (rc)
        fprintf(stderr, "%s: %s\n", op_type, d.msg);
    return rc;
}

enum { OP_SUM, OP_MEAN, OP_MAX, OP_MIN, OP_PROD, OP_SUMSQ, OP_L1, OP_L2, OP_LSE, N_OPS };
static const char *const op_names[N_OPS] = {"ReduceSum", "ReduceMean", "ReduceMax",
                                            "ReduceMin", "ReduceProd", "ReduceSumSquare",
                                            "ReduceL1",  "ReduceL2",   "ReduceLogSumExp"};

/* Output index of element i of x [2,3,4] when the dims in mask are reduced. */
static int out_index(int i, const bool *mask)
{
    const int ne[3] = {2, 3, 4}, idx[3] = {i / 12, (i / 4) % 3, i % 4};
    int o = 0;
    for (int a = 0; a < 3; a++)
        if (!mask[a])
            o = o * ne[a] + idx[a];
    return o;
}

/* Reference: reduce x [2,3,4] over mask in double into want; returns the output count. */
static int reference(int op, const float *x, const bool *mask, double *want)
{
    double acc[24], mx[24];
    int cnt[24] = {0}, n_out = (mask[0] ? 1 : 2) * (mask[1] ? 1 : 3) * (mask[2] ? 1 : 4);
    for (int o = 0; o < n_out; o++) {
        acc[o] = op == OP_PROD ? 1 : 0;
        mx[o] = op == OP_MIN ? INFINITY : -INFINITY;
    }
    for (int i = 0; i < 24; i++) {
        int o = out_index(i, mask);
        double v = x[i];
        mx[o] = op == OP_MIN ? fmin(mx[o], v) : fmax(mx[o], v);
        cnt[o]++;
        acc[o] = op == OP_PROD                   ? acc[o] * v
                 : op == OP_SUMSQ || op == OP_L2 ? acc[o] + v * v
                 : op == OP_L1                   ? acc[o] + fabs(v)
                                                 : acc[o] + v;
    }
    if (op == OP_LSE) {
        for (int o = 0; o < n_out; o++)
            acc[o] = 0;
        for (int i = 0; i < 24; i++)
            acc[out_index(i, mask)] += exp(x[i] - mx[out_index(i, mask)]);
    }
    for (int o = 0; o < n_out; o++)
        want[o] = op == OP_MAX || op == OP_MIN ? mx[o]
                  : op == OP_MEAN              ? acc[o] / cnt[o]
                  : op == OP_L2                ? sqrt(acc[o])
                  : op == OP_LSE               ? mx[o] + log(acc[o])
                                               : acc[o];
    return n_out;
}

static void check_reduction(int op, const float *x, const int64_t *axes, int n_axes, bool as_input,
                            int keep)
{
    struct au_tensor tx = mk(AU_DTYPE_F32, 3, NE(2, 3, 4), x), ta, y;
    struct au_attr attrs[2] = {
        {.name = "keepdims", .type = AU_ATTR_INT, .i = keep},
        {.name = "axes", .type = AU_ATTR_INTS, .n = n_axes, .ints = (int64_t *)axes}};
    ta = mk(AU_DTYPE_I64, 1, NE(n_axes), axes);
    const struct au_tensor *in[2] = {&tx, &ta};
    int n_attrs = as_input || n_axes == 0 ? 1 : 2;
    if (run1(op_names[op], attrs, n_attrs, as_input ? 2 : 1, in, &y) != AU_OK) {
        CHECK(0);
        return;
    }
    bool mask[3] = {n_axes == 0, n_axes == 0, n_axes == 0};
    for (int i = 0; i < n_axes; i++)
        mask[axes[i] < 0 ? axes[i] + 3 : axes[i]] = true;
    double want[24];
    int n_out = reference(op, x, mask, want);
    int nd = 0;
    const int64_t full[3] = {2, 3, 4};
    CHECK_EQ_INT(y.n_dims, keep ? 3 : (int)(3 - (mask[0] + mask[1] + mask[2])));
    for (int a = 0; a < 3; a++) {
        if (mask[a] && !keep)
            continue;
        CHECK_EQ_INT(y.ne[nd], mask[a] ? 1 : full[a]);
        nd++;
    }
    CHECK_EQ_INT(au_tensor_numel(&y), n_out);
    for (int o = 0; o < n_out; o++) {
        double got = ((float *)y.data)[o], tol = 1e-5 * fmax(1.0, fabs(want[o]));
        if (fabs(got - want[o]) > tol)
            fprintf(stderr, "%s axes(%d) keep %d out %d: %.9g vs %.9g\n", op_names[op], n_axes,
                    keep, o, got, want[o]);
        CHECK_NEAR(got, want[o], tol);
    }
    free(y.data);
}

static void test_reductions_match_reference_over_all_axis_sets(void)
{
    float x[24];
    for (int i = 0; i < 24; i++)
        x[i] = rnd();
    const int64_t sets[][3] = {{0}, {1}, {2}, {-1}, {0, 2}, {1, 2}, {-3, -2}, {0, 1, 2}, {2, 0}};
    const int lens[] = {1, 1, 1, 1, 2, 2, 2, 3, 2};
    for (int op = 0; op < N_OPS; op++)
        for (int keep = 0; keep < 2; keep++) {
            check_reduction(op, x, NULL, 0, false, keep); // no axes: reduce everything
            for (size_t s = 0; s < sizeof(lens) / sizeof(lens[0]); s++) {
                check_reduction(op, x, sets[s], lens[s], false, keep);
                check_reduction(op, x, sets[s], lens[s], true, keep); // opset 13/18 form
            }
        }
}

static void test_noop_with_empty_axes_copies_input(void)
{
    float x[6] = {1, 2, 3, 4, 5, 6};
    struct au_tensor tx = mk(AU_DTYPE_F32, 2, NE(2, 3), x), te = mk(AU_DTYPE_I64, 1, NE(0), x), y;
    struct au_attr noop[1] = {{.name = "noop_with_empty_axes", .type = AU_ATTR_INT, .i = 1}};
    const struct au_tensor *in[2] = {&tx, &te};
    CHECK_EQ_INT(run1("ReduceSum", noop, 1, 2, in, &y), AU_OK);
    CHECK(y.n_dims == 2 && y.ne[0] == 2 && y.ne[1] == 3);
    CHECK(memcmp(y.data, x, sizeof(x)) == 0);
    free(y.data);
    CHECK_EQ_INT(run1("ReduceSum", NULL, 0, 2, in, &y), AU_OK); // empty axes, noop 0: all
    CHECK(y.n_dims == 2 && y.ne[0] == 1 && y.ne[1] == 1);
    CHECK_NEAR(((float *)y.data)[0], 21, 0);
    free(y.data);
}

static void test_integer_and_empty_reductions(void)
{
    int64_t xi[6] = {3, -4, 5, INT64_MAX, 1, -2}, ax[1] = {1};
    struct au_tensor tx = mk(AU_DTYPE_I64, 2, NE(2, 3), xi), ta = mk(AU_DTYPE_I64, 1, NE(1), ax);
    const struct au_tensor *in[2] = {&tx, &ta};
    struct au_attr k0[1] = {{.name = "keepdims", .type = AU_ATTR_INT, .i = 0}};
    struct au_tensor y;
    CHECK_EQ_INT(run1("ReduceSum", k0, 1, 2, in, &y), AU_OK);
    CHECK(y.dtype == AU_DTYPE_I64 && y.n_dims == 1 && y.ne[0] == 2);
    CHECK_EQ_INT(((int64_t *)y.data)[0], 4);
    CHECK(((int64_t *)y.data)[1] == INT64_MAX - 1);
    free(y.data);
    CHECK_EQ_INT(run1("ReduceMin", k0, 1, 2, in, &y), AU_OK);
    CHECK(((int64_t *)y.data)[0] == -4 && ((int64_t *)y.data)[1] == -2);
    free(y.data);
    CHECK_EQ_INT(run1("ReduceProd", k0, 1, 2, in, &y), AU_OK);
    CHECK_EQ_INT(((int64_t *)y.data)[0], -60);
    free(y.data);
    int32_t x32[4] = {7, -1, 9, 2};
    struct au_tensor t32 = mk(AU_DTYPE_I32, 2, NE(2, 2), x32);
    const struct au_tensor *in32[2] = {&t32, &ta};
    CHECK_EQ_INT(run1("ReduceMax", k0, 1, 2, in32, &y), AU_OK);
    CHECK(y.dtype == AU_DTYPE_I32 && ((int32_t *)y.data)[0] == 7 && ((int32_t *)y.data)[1] == 9);
    free(y.data);
    /* Reducing an empty axis gives the identity: 0 for sums, -inf for max, NaN mean. */
    float none[1] = {0};
    struct au_tensor te = mk(AU_DTYPE_F32, 2, NE(2, 0), none);
    const struct au_tensor *ein[2] = {&te, &ta};
    CHECK_EQ_INT(run1("ReduceSum", k0, 1, 2, ein, &y), AU_OK);
    CHECK(y.ne[0] == 2 && ((float *)y.data)[0] == 0 && ((float *)y.data)[1] == 0);
    free(y.data);
    CHECK_EQ_INT(run1("ReduceMax", k0, 1, 2, ein, &y), AU_OK);
    CHECK(isinf(((float *)y.data)[0]) && ((float *)y.data)[0] < 0);
    free(y.data);
    CHECK_EQ_INT(run1("ReduceMean", k0, 1, 2, ein, &y), AU_OK);
    CHECK(isnan(((float *)y.data)[1]));
    free(y.data);
}

static void test_reduce_max_propagates_nan(void)
{
    float x[6] = {1, NAN, 3, 4, 5, 6};
    int64_t ax[1] = {-1};
    struct au_tensor tx = mk(AU_DTYPE_F32, 2, NE(2, 3), x), ta = mk(AU_DTYPE_I64, 1, NE(1), ax), y;
    const struct au_tensor *in[2] = {&tx, &ta};
    const char *ops[3] = {"ReduceMax", "ReduceMin", "ReduceSum"};
    for (int o = 0; o < 3; o++) {
        CHECK_EQ_INT(run1(ops[o], NULL, 0, 2, in, &y), AU_OK);
        CHECK(isnan(((float *)y.data)[0]));
        CHECK(!isnan(((float *)y.data)[1]));
        free(y.data);
    }
}

static void test_reduce_errors(void)
{
    float x[6] = {0};
    int64_t bad[1] = {3}, dup[2] = {1, -1};
    int32_t ax32[1] = {0};
    struct au_tensor tx = mk(AU_DTYPE_F32, 2, NE(2, 3), x), y;
    struct au_tensor *out[1] = {&y};
    struct au_diag d = {{0}};
    struct au_attr a_bad[1] = {{.name = "axes", .type = AU_ATTR_INTS, .n = 1, .ints = bad}};
    const struct au_tensor *in1[1] = {&tx};
    CHECK_EQ_INT(run_node("ReduceMean", a_bad, 1, 1, in1, 1, out, &d), AU_INVALID);
    CHECK(strcmp(d.msg, "r: ReduceMean: axis 3 out of range for rank 2") == 0);
    struct au_tensor tdup = mk(AU_DTYPE_I64, 1, NE(2), dup);
    const struct au_tensor *in_dup[2] = {&tx, &tdup};
    CHECK_EQ_INT(run_node("ReduceSum", NULL, 0, 2, in_dup, 1, out, &d), AU_INVALID);
    CHECK(strstr(d.msg, "twice") != NULL);
    struct au_tensor tvar = mk(AU_DTYPE_I64, 1, NE(1), NULL); // axes computed at run time
    const struct au_tensor *in_var[2] = {&tx, &tvar};
    CHECK_EQ_INT(run_node("ReduceSum", NULL, 0, 2, in_var, 1, out, &d), AU_UNSUPPORTED);
    CHECK(strstr(d.msg, "constant") != NULL);
    struct au_tensor t32 = mk(AU_DTYPE_I32, 1, NE(1), ax32);
    const struct au_tensor *in_32[2] = {&tx, &t32};
    CHECK_EQ_INT(run_node("ReduceSum", NULL, 0, 2, in_32, 1, out, &d), AU_DTYPE);
    int64_t xi[2] = {1, 2};
    struct au_tensor ti = mk(AU_DTYPE_I64, 1, NE(2), xi);
    const struct au_tensor *in_i[1] = {&ti};
    CHECK_EQ_INT(run_node("ReduceMean", NULL, 0, 1, in_i, 1, out, &d), AU_DTYPE);
    CHECK(strstr(d.msg, "int64") != NULL);
}

/* Softmax reference along axis of x [2,3,4] in double. */
static void softmax_ref(const float *x, int axis, bool log_out, double *y)
{
    const int ne[3] = {2, 3, 4}, st[3] = {12, 4, 1};
    for (int i = 0; i < 24; i++) {
        int pos = (i / st[axis]) % ne[axis], base = i - pos * st[axis];
        double m = -INFINITY, s = 0;
        for (int k = 0; k < ne[axis]; k++)
            m = fmax(m, x[base + k * st[axis]]);
        for (int k = 0; k < ne[axis]; k++)
            s += exp(x[base + k * st[axis]] - m);
        y[i] = log_out ? x[i] - m - log(s) : exp(x[i] - m) / s;
    }
}

static void test_softmax_and_log_softmax_along_any_axis(void)
{
    float x[24];
    for (int i = 0; i < 24; i++)
        x[i] = rnd() * 3;
    struct au_tensor tx = mk(AU_DTYPE_F32, 3, NE(2, 3, 4), x), y;
    const struct au_tensor *in[1] = {&tx};
    const int64_t axes[4] = {-1, 0, 1, 2};
    for (int a = 0; a < 4; a++)
        for (int lg = 0; lg < 2; lg++) {
            struct au_attr at[1] = {{.name = "axis", .type = AU_ATTR_INT, .i = axes[a]}};
            CHECK_EQ_INT(run1(lg ? "LogSoftmax" : "Softmax", at, a == 0 ? 0 : 1, 1, in, &y), AU_OK);
            CHECK(y.n_dims == 3 && y.ne[2] == 4);
            double want[24];
            int axis = axes[a] < 0 ? 2 : (int)axes[a];
            softmax_ref(x, axis, lg, want);
            for (int i = 0; i < 24; i++)
                CHECK_NEAR(((float *)y.data)[i], want[i], 2e-6);
            if (!lg && axis == 2)
                for (int r = 0; r < 6; r++) { // rows sum to 1
                    double s = 0;
                    for (int k = 0; k < 4; k++)
                        s += ((float *)y.data)[r * 4 + k];
                    CHECK_NEAR(s, 1.0, 1e-6);
                }
            free(y.data);
        }
}

static void test_softmax_is_stable_for_large_logits(void)
{
    float x[4] = {1000, 1001, 1002, -1000};
    struct au_tensor tx = mk(AU_DTYPE_F32, 2, NE(1, 4), x), y, z;
    const struct au_tensor *in[1] = {&tx};
    CHECK_EQ_INT(run1("Softmax", NULL, 0, 1, in, &y), AU_OK);
    CHECK_EQ_INT(run1("LogSoftmax", NULL, 0, 1, in, &z), AU_OK);
    double s = exp(-2.0) + exp(-1.0) + 1.0;
    CHECK_NEAR(((float *)y.data)[2], 1.0 / s, 1e-6);
    CHECK_NEAR(((float *)y.data)[3], 0, 0);
    CHECK_NEAR(((float *)z.data)[0], -2.0 - log(s), 1e-5);
    CHECK(isfinite(((float *)z.data)[3]));
    free(y.data);
    free(z.data);
    struct au_attr at[1] = {{.name = "axis", .type = AU_ATTR_INT, .i = 2}};
    struct au_diag d;
    struct au_tensor *out[1] = {&y};
    CHECK_EQ_INT(run_node("Softmax", at, 1, 1, in, 1, out, &d), AU_INVALID);
    CHECK(strstr(d.msg, "axis 2 out of range") != NULL);
}

/* LayerNorm reference over the trailing dims from axis; scale/bias per element or NULL. */
static void ln_ref(const float *x, int rows, int n, const float *sc, const float *b, double eps,
                   double *y, double *mean, double *inv)
{
    for (int r = 0; r < rows; r++) {
        double m = 0, v = 0;
        for (int i = 0; i < n; i++)
            m += x[r * n + i];
        m /= n;
        for (int i = 0; i < n; i++)
            v += (x[r * n + i] - m) * (x[r * n + i] - m);
        v /= n;
        mean[r] = m;
        inv[r] = 1 / sqrt(v + eps);
        for (int i = 0; i < n; i++)
            y[r * n + i] = (x[r * n + i] - m) * inv[r] * sc[i] + (b ? b[i] : 0);
    }
}

static void test_layer_norm_matches_reference(void)
{
    float x[24], sc[12], b[12];
    for (int i = 0; i < 24; i++)
        x[i] = rnd() * 5 + 3;
    for (int i = 0; i < 12; i++) {
        sc[i] = rnd();
        b[i] = rnd();
    }
    double want[24], mean[6], inv[6];
    /* axis -1, Scale and B [4], all three outputs. */
    struct au_tensor tx = mk(AU_DTYPE_F32, 3, NE(2, 3, 4), x), ts = mk(AU_DTYPE_F32, 1, NE(4), sc),
                     tb = mk(AU_DTYPE_F32, 1, NE(4), b), y = {0}, ym = {0}, yi = {0};
    const struct au_tensor *in[3] = {&tx, &ts, &tb};
    struct au_tensor *out3[3] = {&y, &ym, &yi};
    struct au_attr eps[1] = {{.name = "epsilon", .type = AU_ATTR_FLOAT, .f = 1e-3f}};
    struct au_diag d = {{0}};
    CHECK_EQ_INT(run_node("LayerNormalization", eps, 1, 3, in, 3, out3, &d), AU_OK);
    ln_ref(x, 6, 4, sc, b, (double)1e-3f, want, mean, inv);
    CHECK(ym.n_dims == 3 && ym.ne[0] == 2 && ym.ne[1] == 3 && ym.ne[2] == 1);
    for (int i = 0; i < 24; i++)
        CHECK_NEAR(((float *)y.data)[i], want[i], 1e-5);
    for (int r = 0; r < 6; r++) {
        CHECK_NEAR(((float *)ym.data)[r], mean[r], 1e-6);
        CHECK_NEAR(((float *)yi.data)[r], inv[r], 1e-5 * inv[r]);
    }
    free(y.data);
    free(ym.data);
    free(yi.data);
    /* axis 1, Scale [3,4], no B, optional outputs absent. */
    struct au_tensor ts2 = mk(AU_DTYPE_F32, 2, NE(3, 4), sc);
    const struct au_tensor *in2[3] = {&tx, &ts2, NULL};
    struct au_tensor *out1[3] = {&y, NULL, NULL};
    struct au_attr ax1[1] = {{.name = "axis", .type = AU_ATTR_INT, .i = 1}};
    CHECK_EQ_INT(run_node("LayerNormalization", ax1, 1, 3, in2, 3, out1, &d), AU_OK);
    ln_ref(x, 2, 12, sc, NULL, 1e-5, want, mean, inv);
    for (int i = 0; i < 24; i++)
        CHECK_NEAR(((float *)y.data)[i], want[i], 1e-5);
    free(y.data);
    /* Scale that does not match the normalized shape is refused with a message. */
    struct au_tensor ts5 = mk(AU_DTYPE_F32, 1, NE(5), sc);
    const struct au_tensor *in5[2] = {&tx, &ts5};
    CHECK_EQ_INT(run_node("LayerNormalization", NULL, 0, 2, in5, 1, out1, &d), AU_SHAPE);
    CHECK(strcmp(d.msg, "r: LayerNormalization: Scale shape [5] does not match X [2,3,4] from "
                        "axis 2") == 0);
    struct au_tensor ts14 = mk(AU_DTYPE_F32, 2, NE(1, 4), sc);
    const struct au_tensor *in14[2] = {&tx, &ts14};
    CHECK_EQ_INT(run_node("LayerNormalization", ax1, 1, 2, in14, 1, out1, &d), AU_UNSUPPORTED);
}

int main(void)
{
    rng_state = check_seed();
    test_reductions_match_reference_over_all_axis_sets();
    test_noop_with_empty_axes_copies_input();
    test_integer_and_empty_reductions();
    test_reduce_max_propagates_nan();
    test_reduce_errors();
    test_softmax_and_log_softmax_along_any_axis();
    test_softmax_is_stable_for_large_logits();
    test_layer_norm_matches_reference();
    return check_report("test_ops_reduce");
}

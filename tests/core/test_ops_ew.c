/* Tests for core/ops_ew.c: broadcasting (shape rule and merged plans), binary arithmetic
 * and comparisons, Where, variadic ops, unary activations, Clip, Cast and the errors.
 * Each op is driven through its registry def: infer, allocate from the inferred shape
 * (with a canary after the buffer), run; expectations are computed here in double. */
#include "../check.h"
#include "core/graph.h"
#include "core/op.h"
#include "core/ops_ew.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#define NE(...) ((const int64_t[]){__VA_ARGS__})
#define CANARY  0xA5

static struct au_tensor mk(int dtype, int n_dims, const int64_t *ne, const void *data)
{
    struct au_tensor t = {0};
    au_tensor_set_shape(&t, dtype, n_dims, ne);
    t.data = (void *)data;
    return t;
}

/* Infer + run op_type on inputs (NULL = absent); outputs get malloc'd data the caller
 * frees. Returns the first failing status; checks the canary after each output. */
static int run_node(const char *name, const char *op_type, struct au_attr *attrs, int n_attrs,
                    int n_in, const struct au_tensor *const *in, int n_out, struct au_tensor *out,
                    struct au_diag *d)
{
    const struct au_op_def *def = au_op_find(op_type);
    CHECK(def != NULL);
    if (!def)
        return AU_NOTFOUND;
    struct au_node node = {.name = (char *)name,
                           .op_type = (char *)op_type,
                           .n_in = n_in,
                           .n_out = n_out,
                           .n_attrs = n_attrs,
                           .attrs = attrs,
                           .def = def};
    struct au_tensor *outp[4] = {NULL};
    for (int k = 0; k < n_out; k++) {
        memset(&out[k], 0, sizeof(out[k]));
        outp[k] = &out[k];
    }
    struct au_op_ctx ctx = {.node = &node, .n_in = n_in, .n_out = n_out, .in = in, .out = outp};
    size_t scratch = 0;
    int rc = def->infer(&ctx, &scratch, d);
    if (rc)
        return rc;
    CHECK_EQ_INT(scratch, 0);
    for (int k = 0; k < n_out; k++) {
        size_t nb = au_tensor_nbytes(&out[k]);
        out[k].data = malloc(nb + 16);
        memset((char *)out[k].data + nb, CANARY, 16);
    }
    rc = def->run(&ctx, d);
    for (int k = 0; k < n_out; k++) {
        const unsigned char *c = (const unsigned char *)out[k].data + au_tensor_nbytes(&out[k]);
        for (int i = 0; i < 16; i++)
            CHECK_EQ_INT(c[i], CANARY);
    }
    return rc;
}

static int run1(const char *op_type, struct au_attr *attrs, int n_attrs, int n_in,
                const struct au_tensor *const *in, struct au_tensor *out)
{
    struct au_diag d = {{0}};
    int rc = run_node("n", op_type, attrs, n_attrs, n_in, in, 1, out, &d);
    if (rc)
        fprintf(stderr, "%s failed: %s\n", op_type, d.msg);
    return rc;
}

static void check_shape(const struct au_tensor *t, int dtype, int n_dims, const int64_t *ne)
{
    CHECK_EQ_INT(t->dtype, dtype);
    CHECK_EQ_INT(t->n_dims, n_dims);
    for (int i = 0; i < n_dims && i < t->n_dims; i++)
        CHECK_EQ_INT(t->ne[i], ne[i]);
}

static void test_broadcast_shape_follows_numpy_rules(void)
{
    int64_t out[AU_MAX_DIMS];
    int n = -1;
    CHECK_EQ_INT(au_broadcast_shape(3, NE(2, 3, 4), 2, NE(3, 1), &n, out), AU_OK);
    CHECK_EQ_INT(n, 3);
    CHECK(out[0] == 2 && out[1] == 3 && out[2] == 4);
    CHECK_EQ_INT(au_broadcast_shape(1, NE(1), 3, NE(2, 1, 3), &n, out), AU_OK);
    CHECK(n == 3 && out[0] == 2 && out[1] == 1 && out[2] == 3);
    CHECK_EQ_INT(au_broadcast_shape(0, NULL, 1, NE(5), &n, out), AU_OK);
    CHECK(n == 1 && out[0] == 5);
    CHECK_EQ_INT(au_broadcast_shape(2, NE(1, 0), 1, NE(1), &n, out), AU_OK);
    CHECK(n == 2 && out[0] == 1 && out[1] == 0);
    CHECK_EQ_INT(au_broadcast_shape(2, NE(2, 3), 1, NE(4), &n, out), AU_SHAPE);
    CHECK_EQ_INT(au_broadcast_shape(2, NE(2, 0), 2, NE(2, 3), &n, out), AU_SHAPE);
    CHECK_EQ_INT(au_broadcast_shape(9, NE(1, 1, 1, 1, 1, 1, 1, 1, 1), 1, NE(1), &n, out), AU_SHAPE);
}

static void test_bcast_plan_merges_equal_and_per_channel(void)
{
    struct au_bcast p;
    struct au_tensor a = mk(AU_DTYPE_F32, 4, NE(2, 3, 4, 5), NULL);
    struct au_tensor c = mk(AU_DTYPE_F32, 3, NE(3, 1, 1), NULL);
    struct au_tensor s = mk(AU_DTYPE_F32, 0, NULL, NULL);
    const struct au_tensor *same[2] = {&a, &a}, *chan[2] = {&a, &c}, *scal[2] = {&s, &a};
    au_bcast_init(&p, 4, a.ne, 2, same);
    CHECK_EQ_INT(p.n_dims, 1);
    CHECK_EQ_INT(p.ne[0], 120);
    CHECK(p.st[0][0] == 1 && p.st[1][0] == 1);
    au_bcast_init(&p, 4, a.ne, 2, chan); // -> [N, C, HW], channel operand constant per row
    CHECK_EQ_INT(p.n_dims, 3);
    CHECK(p.ne[0] == 2 && p.ne[1] == 3 && p.ne[2] == 20);
    CHECK(p.st[1][0] == 0 && p.st[1][1] == 1 && p.st[1][2] == 0);
    CHECK(p.st[0][0] == 60 && p.st[0][1] == 20 && p.st[0][2] == 1);
    CHECK_EQ_INT(p.n_rows, 6);
    au_bcast_init(&p, 4, a.ne, 2, scal);
    CHECK(p.n_dims == 1 && p.st[0][0] == 0 && p.st[1][0] == 1);
}

static void test_add_broadcasts_2x3x4_with_3x1(void)
{
    float a[24], b[3] = {10, 20, 30};
    for (int i = 0; i < 24; i++)
        a[i] = (float)i + 0.5f;
    struct au_tensor ta = mk(AU_DTYPE_F32, 3, NE(2, 3, 4), a),
                     tb = mk(AU_DTYPE_F32, 2, NE(3, 1), b);
    const struct au_tensor *in[2] = {&ta, &tb}, *rev[2] = {&tb, &ta};
    struct au_tensor y, z;
    CHECK_EQ_INT(run1("Add", NULL, 0, 2, in, &y), AU_OK);
    CHECK_EQ_INT(run1("Sub", NULL, 0, 2, rev, &z), AU_OK);
    check_shape(&y, AU_DTYPE_F32, 3, NE(2, 3, 4));
    check_shape(&z, AU_DTYPE_F32, 3, NE(2, 3, 4));
    const float *yo = y.data, *zo = z.data;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++) {
                double av = (double)(i * 12 + j * 4 + k) + 0.5, bv = 10.0 * (j + 1);
                CHECK_NEAR(yo[i * 12 + j * 4 + k], av + bv, 0);
                CHECK_NEAR(zo[i * 12 + j * 4 + k], bv - av, 0);
            }
    free(y.data);
    free(z.data);
}

static void test_sub_div_broadcast_on_both_sides(void)
{
    float a[8], b[3] = {1, 2, 4};
    for (int i = 0; i < 8; i++)
        a[i] = (float)(i + 1);
    struct au_tensor ta = mk(AU_DTYPE_F32, 3, NE(2, 1, 4), a),
                     tb = mk(AU_DTYPE_F32, 2, NE(3, 1), b);
    const struct au_tensor *in[2] = {&ta, &tb};
    struct au_tensor s, q;
    CHECK_EQ_INT(run1("Sub", NULL, 0, 2, in, &s), AU_OK);
    CHECK_EQ_INT(run1("Div", NULL, 0, 2, in, &q), AU_OK);
    check_shape(&s, AU_DTYPE_F32, 3, NE(2, 3, 4));
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++) {
                double av = a[i * 4 + k], bv = b[j];
                CHECK_NEAR(((float *)s.data)[i * 12 + j * 4 + k], av - bv, 0);
                CHECK_NEAR(((float *)q.data)[i * 12 + j * 4 + k], av / bv, 1e-6);
            }
    free(s.data);
    free(q.data);
}

static void test_scalar_and_rank1_broadcast(void)
{
    float a[6] = {1, -2, 3, -4, 5, -6}, three = 3, one[1] = {0.25f}, c[6] = {1, 2, 3, 4, 5, 6};
    struct au_tensor ta = mk(AU_DTYPE_F32, 2, NE(2, 3), a), ts = mk(AU_DTYPE_F32, 0, NULL, &three);
    const struct au_tensor *as[2] = {&ta, &ts}, *sa[2] = {&ts, &ta};
    struct au_tensor y1, y2, y3;
    CHECK_EQ_INT(run1("Mul", NULL, 0, 2, as, &y1), AU_OK);
    CHECK_EQ_INT(run1("Div", NULL, 0, 2, sa, &y2), AU_OK);
    check_shape(&y1, AU_DTYPE_F32, 2, NE(2, 3));
    for (int i = 0; i < 6; i++) {
        CHECK_NEAR(((float *)y1.data)[i], a[i] * 3.0, 0);
        CHECK_NEAR(((float *)y2.data)[i], 3.0 / a[i], 1e-6);
    }
    struct au_tensor t1 = mk(AU_DTYPE_F32, 1, NE(1), one),
                     t213 = mk(AU_DTYPE_F32, 3, NE(2, 1, 3), c);
    const struct au_tensor *in3[2] = {&t1, &t213};
    CHECK_EQ_INT(run1("Add", NULL, 0, 2, in3, &y3), AU_OK);
    check_shape(&y3, AU_DTYPE_F32, 3, NE(2, 1, 3));
    for (int i = 0; i < 6; i++)
        CHECK_NEAR(((float *)y3.data)[i], c[i] + 0.25, 0);
    free(y1.data);
    free(y2.data);
    free(y3.data);
}

static void test_per_channel_mul_matches_reference(void)
{
    enum { N = 2, C = 3, HW = 20 };
    float x[N * C * HW], w[C] = {0.5f, -2.0f, 3.0f};
    for (int i = 0; i < N * C * HW; i++)
        x[i] = (float)((i * 37) % 11) - 5.0f;
    struct au_tensor tx = mk(AU_DTYPE_F32, 4, NE(N, C, 4, 5), x),
                     tw = mk(AU_DTYPE_F32, 3, NE(C, 1, 1), w);
    const struct au_tensor *in[2] = {&tx, &tw};
    struct au_tensor y;
    CHECK_EQ_INT(run1("Mul", NULL, 0, 2, in, &y), AU_OK);
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int k = 0; k < HW; k++) {
                int i = (n * C + c) * HW + k;
                CHECK_NEAR(((float *)y.data)[i], (double)x[i] * w[c], 0);
            }
    free(y.data);
}

static void test_integer_arith_wraps_and_truncates(void)
{
    int64_t a[5] = {-7, 7, INT64_MIN, 5, INT64_MAX}, b[5] = {2, -2, -1, 0, 1};
    struct au_tensor ta = mk(AU_DTYPE_I64, 1, NE(5), a), tb = mk(AU_DTYPE_I64, 1, NE(5), b);
    const struct au_tensor *in[2] = {&ta, &tb};
    struct au_tensor q, s, m;
    CHECK_EQ_INT(run1("Div", NULL, 0, 2, in, &q), AU_OK);
    CHECK_EQ_INT(run1("Add", NULL, 0, 2, in, &s), AU_OK);
    CHECK_EQ_INT(run1("Mul", NULL, 0, 2, in, &m), AU_OK);
    CHECK_EQ_INT(q.dtype, AU_DTYPE_I64);
    const int64_t *qo = q.data, *so = s.data, *mo = m.data;
    CHECK_EQ_INT(qo[0], -3); // truncation toward zero, as C and ONNX Runtime
    CHECK_EQ_INT(qo[1], -3);
    CHECK(qo[2] == INT64_MIN); // overflow wraps instead of trapping
    CHECK_EQ_INT(qo[3], 0);    // division by zero gives 0, not SIGFPE
    CHECK_EQ_INT(so[0], -5);
    CHECK(so[4] == INT64_MIN); // wraps
    CHECK_EQ_INT(mo[1], -14);
    int32_t c[3] = {9, -9, 100}, e[1] = {4};
    struct au_tensor tc = mk(AU_DTYPE_I32, 1, NE(3), c), te = mk(AU_DTYPE_I32, 1, NE(1), e);
    const struct au_tensor *in32[2] = {&tc, &te};
    struct au_tensor r;
    CHECK_EQ_INT(run1("Sub", NULL, 0, 2, in32, &r), AU_OK);
    CHECK_EQ_INT(r.dtype, AU_DTYPE_I32);
    CHECK(((int32_t *)r.data)[0] == 5 && ((int32_t *)r.data)[1] == -13 &&
          ((int32_t *)r.data)[2] == 96);
    free(q.data);
    free(s.data);
    free(m.data);
    free(r.data);
}

static void test_pow_float_and_integer_exponents(void)
{
    float x[4] = {-3, 0.5f, 2, 9}, two = 2, half = 0.5f;
    int64_t three = 3;
    struct au_tensor tx = mk(AU_DTYPE_F32, 1, NE(4), x), t2 = mk(AU_DTYPE_F32, 0, NULL, &two),
                     th = mk(AU_DTYPE_F32, 0, NULL, &half), t3 = mk(AU_DTYPE_I64, 0, NULL, &three);
    const struct au_tensor *a[2] = {&tx, &t2}, *b[2] = {&tx, &th}, *c[2] = {&tx, &t3};
    struct au_tensor y2, yh, y3;
    CHECK_EQ_INT(run1("Pow", NULL, 0, 2, a, &y2), AU_OK);
    CHECK_EQ_INT(run1("Pow", NULL, 0, 2, b, &yh), AU_OK);
    CHECK_EQ_INT(run1("Pow", NULL, 0, 2, c, &y3), AU_OK);
    CHECK_EQ_INT(y3.dtype, AU_DTYPE_F32);
    for (int i = 0; i < 4; i++) {
        CHECK_NEAR(((float *)y2.data)[i], pow(x[i], 2), 1e-6);
        CHECK_NEAR(((float *)y3.data)[i], pow(x[i], 3), 1e-4);
    }
    CHECK(isnan(((float *)yh.data)[0])); // (-3)^0.5
    CHECK_NEAR(((float *)yh.data)[3], 3.0, 1e-6);
    free(y2.data);
    free(yh.data);
    free(y3.data);
}

static void test_comparisons_give_bool_with_broadcast(void)
{
    float a[6] = {1, 2, 3, 4, 5, 6}, b[3] = {2, 2, 5};
    struct au_tensor ta = mk(AU_DTYPE_F32, 2, NE(2, 3), a), tb = mk(AU_DTYPE_F32, 1, NE(3), b);
    const struct au_tensor *in[2] = {&ta, &tb};
    const char *ops[5] = {"Less", "Greater", "Equal", "LessOrEqual", "GreaterOrEqual"};
    for (int o = 0; o < 5; o++) {
        struct au_tensor y;
        CHECK_EQ_INT(run1(ops[o], NULL, 0, 2, in, &y), AU_OK);
        check_shape(&y, AU_DTYPE_BOOL, 2, NE(2, 3));
        for (int i = 0; i < 6; i++) {
            double x = a[i], z = b[i % 3];
            int want = o == 0 ? x < z : o == 1 ? x > z : o == 2 ? x == z : o == 3 ? x <= z : x >= z;
            CHECK_EQ_INT(((uint8_t *)y.data)[i], want);
        }
        free(y.data);
    }
    int64_t ia[3] = {5, -1, 7}, ib[1] = {7};
    struct au_tensor tia = mk(AU_DTYPE_I64, 1, NE(3), ia), tib = mk(AU_DTYPE_I64, 1, NE(1), ib);
    const struct au_tensor *iin[2] = {&tia, &tib};
    struct au_tensor e;
    CHECK_EQ_INT(run1("Equal", NULL, 0, 2, iin, &e), AU_OK);
    CHECK(((uint8_t *)e.data)[0] == 0 && ((uint8_t *)e.data)[1] == 0 &&
          ((uint8_t *)e.data)[2] == 1);
    free(e.data);
}

static void test_logical_ops(void)
{
    uint8_t a[4] = {0, 0, 1, 2}, b[4] = {0, 1, 0, 1}; // 2: a bool with a flipped bit
    struct au_tensor ta = mk(AU_DTYPE_BOOL, 1, NE(4), a), tb = mk(AU_DTYPE_BOOL, 1, NE(4), b);
    const struct au_tensor *in[2] = {&ta, &tb}, *one[1] = {&ta};
    struct au_tensor ya, yo, yx, yn;
    CHECK_EQ_INT(run1("And", NULL, 0, 2, in, &ya), AU_OK);
    CHECK_EQ_INT(run1("Or", NULL, 0, 2, in, &yo), AU_OK);
    CHECK_EQ_INT(run1("Xor", NULL, 0, 2, in, &yx), AU_OK);
    CHECK_EQ_INT(run1("Not", NULL, 0, 1, one, &yn), AU_OK);
    for (int i = 0; i < 4; i++) {
        int x = a[i] != 0, y = b[i] != 0;
        CHECK_EQ_INT(((uint8_t *)ya.data)[i], x && y);
        CHECK_EQ_INT(((uint8_t *)yo.data)[i], x || y);
        CHECK_EQ_INT(((uint8_t *)yx.data)[i], x != y);
        CHECK_EQ_INT(((uint8_t *)yn.data)[i], !x);
    }
    free(ya.data);
    free(yo.data);
    free(yx.data);
    free(yn.data);
}

static void test_where_broadcasts_three_ways(void)
{
    uint8_t c[2] = {1, 0};
    float x[3] = {1, 2, 3}, y = -1;
    struct au_tensor tc = mk(AU_DTYPE_BOOL, 2, NE(2, 1), c), tx = mk(AU_DTYPE_F32, 1, NE(3), x),
                     ty = mk(AU_DTYPE_F32, 0, NULL, &y);
    const struct au_tensor *in[3] = {&tc, &tx, &ty};
    struct au_tensor o;
    CHECK_EQ_INT(run1("Where", NULL, 0, 3, in, &o), AU_OK);
    check_shape(&o, AU_DTYPE_F32, 2, NE(2, 3));
    const float want[6] = {1, 2, 3, -1, -1, -1};
    for (int i = 0; i < 6; i++)
        CHECK_NEAR(((float *)o.data)[i], want[i], 0);
    free(o.data);
    uint8_t c2[4] = {1, 0, 0, 1};
    int64_t xi[2] = {10, 20}, yi[2] = {-10, -20};
    struct au_tensor tc2 = mk(AU_DTYPE_BOOL, 2, NE(2, 2), c2), txi = mk(AU_DTYPE_I64, 1, NE(2), xi),
                     tyi = mk(AU_DTYPE_I64, 2, NE(2, 1), yi);
    const struct au_tensor *in2[3] = {&tc2, &txi, &tyi};
    CHECK_EQ_INT(run1("Where", NULL, 0, 3, in2, &o), AU_OK);
    const int64_t wi[4] = {10, -10, -20, 20};
    for (int i = 0; i < 4; i++)
        CHECK_EQ_INT(((int64_t *)o.data)[i], wi[i]);
    free(o.data);
}

static void test_variadic_max_min_sum_mean(void)
{
    float a[3] = {1, 5, NAN}, b[2] = {3, -1}, c = 2;
    struct au_tensor ta = mk(AU_DTYPE_F32, 2, NE(1, 3), a), tb = mk(AU_DTYPE_F32, 2, NE(2, 1), b),
                     tc = mk(AU_DTYPE_F32, 0, NULL, &c);
    const struct au_tensor *in[3] = {&ta, &tb, &tc};
    const char *ops[4] = {"Max", "Min", "Sum", "Mean"};
    for (int o = 0; o < 4; o++) {
        struct au_tensor y;
        CHECK_EQ_INT(run1(ops[o], NULL, 0, 3, in, &y), AU_OK);
        check_shape(&y, AU_DTYPE_F32, 2, NE(2, 3));
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++) {
                double v = ((float *)y.data)[i * 3 + j], x = a[j], z = b[i];
                if (isnan(x)) {
                    CHECK(isnan(v)); // NaN propagates, as torch.maximum
                    continue;
                }
                double want = o == 0   ? fmax(fmax(x, z), c)
                              : o == 1 ? fmin(fmin(x, z), c)
                              : o == 2 ? x + z + c
                                       : (x + z + c) / 3;
                CHECK_NEAR(v, want, 1e-6);
            }
        free(y.data);
    }
    int64_t ia[2] = {4, -9}, ib[2] = {7, -20};
    struct au_tensor tia = mk(AU_DTYPE_I64, 1, NE(2), ia), tib = mk(AU_DTYPE_I64, 1, NE(2), ib);
    const struct au_tensor *iin[2] = {&tia, &tib};
    struct au_tensor m;
    CHECK_EQ_INT(run1("Max", NULL, 0, 2, iin, &m), AU_OK);
    CHECK(((int64_t *)m.data)[0] == 7 && ((int64_t *)m.data)[1] == -9);
    free(m.data);
}

static double ref_unary(const char *op, double x)
{
    if (!strcmp(op, "Sqrt"))
        return sqrt(x);
    if (!strcmp(op, "Exp"))
        return exp(x);
    if (!strcmp(op, "Log"))
        return log(x);
    if (!strcmp(op, "Erf"))
        return erf(x);
    if (!strcmp(op, "Tanh"))
        return tanh(x);
    if (!strcmp(op, "Sigmoid"))
        return 1 / (1 + exp(-x));
    if (!strcmp(op, "Neg"))
        return -x;
    if (!strcmp(op, "Abs"))
        return fabs(x);
    if (!strcmp(op, "Relu"))
        return x > 0 ? x : 0;
    if (!strcmp(op, "LeakyRelu"))
        return x > 0 ? x : 0.01 * x;
    if (!strcmp(op, "HardSigmoid"))
        return fmax(0, fmin(1, 0.2 * x + 0.5));
    if (!strcmp(op, "HardSwish"))
        return x * fmax(0, fmin(1, x / 6 + 0.5));
    if (!strcmp(op, "Reciprocal"))
        return 1 / x;
    if (!strcmp(op, "Floor"))
        return floor(x);
    if (!strcmp(op, "Ceil"))
        return ceil(x);
    if (!strcmp(op, "Round"))
        return nearbyint(x);
    if (!strcmp(op, "Softplus"))
        return log1p(exp(x));
    if (!strcmp(op, "Softsign"))
        return x / (1 + fabs(x));
    if (!strcmp(op, "Elu"))
        return x > 0 ? x : exp(x) - 1;
    if (!strcmp(op, "Sign"))
        return x > 0 ? 1 : x < 0 ? -1 : 0;
    return NAN;
}

static void test_unary_ops_match_double_reference(void)
{
    const char *ops[] = {"Sqrt",        "Exp",       "Log",        "Erf",   "Tanh",
                         "Sigmoid",     "Neg",       "Abs",        "Relu",  "LeakyRelu",
                         "HardSigmoid", "HardSwish", "Reciprocal", "Floor", "Ceil",
                         "Round",       "Softplus",  "Softsign",   "Elu",   "Sign"};
    float x[10] = {-90.0f, -3.5f, -2.5f, -1.0f, -0.25f, 0.5f, 1.5f, 2.5f, 3.0f, 40.0f};
    struct au_tensor tx = mk(AU_DTYPE_F32, 2, NE(2, 5), x);
    const struct au_tensor *in[1] = {&tx};
    for (size_t o = 0; o < sizeof(ops) / sizeof(ops[0]); o++) {
        struct au_tensor y;
        CHECK_EQ_INT(run1(ops[o], NULL, 0, 1, in, &y), AU_OK);
        check_shape(&y, AU_DTYPE_F32, 2, NE(2, 5));
        for (int i = 0; i < 10; i++) {
            double want = ref_unary(ops[o], x[i]), got = ((float *)y.data)[i];
            if (isnan(want)) {
                CHECK(isnan(got));
                continue;
            }
            if (isinf(want)) {
                CHECK(got == want);
                continue;
            }
            double tol = 2e-6 * fmax(1.0, fabs(want));
            if (fabs(got - want) > tol)
                fprintf(stderr, "%s(%g): %.9g vs %.9g\n", ops[o], x[i], got, want);
            CHECK_NEAR(got, want, tol);
        }
        free(y.data);
    }
}

static void test_unary_attrs_and_nan_propagation(void)
{
    float x[4] = {-2, NAN, 0.5f, 10};
    struct au_tensor tx = mk(AU_DTYPE_F32, 1, NE(4), x);
    const struct au_tensor *in[1] = {&tx};
    struct au_attr la[1] = {{.name = "alpha", .type = AU_ATTR_FLOAT, .f = 0.1f}};
    struct au_attr ha[2] = {{.name = "alpha", .type = AU_ATTR_FLOAT, .f = 0.5f},
                            {.name = "beta", .type = AU_ATTR_FLOAT, .f = 0.25f}};
    struct au_tensor y1, y2, y3;
    CHECK_EQ_INT(run1("LeakyRelu", la, 1, 1, in, &y1), AU_OK);
    CHECK_EQ_INT(run1("HardSigmoid", ha, 2, 1, in, &y2), AU_OK);
    CHECK_EQ_INT(run1("Relu", NULL, 0, 1, in, &y3), AU_OK);
    const float *a = y1.data, *b = y2.data, *c = y3.data;
    CHECK_NEAR(a[0], -0.2, 1e-7);
    CHECK_NEAR(b[0], 0, 0);
    CHECK_NEAR(b[2], 0.5, 1e-7);
    CHECK_NEAR(b[3], 1, 0);
    CHECK(isnan(a[1]) && isnan(b[1]) && isnan(c[1])); // a fault's NaN stays visible
    CHECK_NEAR(c[0], 0, 0);
    free(y1.data);
    free(y2.data);
    free(y3.data);
    int64_t xi[3] = {-5, 0, INT64_MIN};
    struct au_tensor ti = mk(AU_DTYPE_I64, 1, NE(3), xi);
    const struct au_tensor *iin[1] = {&ti};
    CHECK_EQ_INT(run1("Abs", NULL, 0, 1, iin, &y1), AU_OK);
    CHECK_EQ_INT(run1("Neg", NULL, 0, 1, iin, &y2), AU_OK);
    CHECK(((int64_t *)y1.data)[0] == 5 && ((int64_t *)y1.data)[2] == INT64_MIN);
    CHECK(((int64_t *)y2.data)[0] == 5 && ((int64_t *)y2.data)[1] == 0);
    free(y1.data);
    free(y2.data);
}

static void test_gelu_at_known_points(void)
{
    float x[5] = {-3, -1, 0, 1, 2};
    /* 0.5 x (1 + erf(x / sqrt 2)) and the tanh form, from Python math.erf and math.tanh. */
    const double exact[5] = {-0.00404969409489031, -0.15865525393145707, 0, 0.8413447460685429,
                             1.9544997361036416};
    const double approx[5] = {-0.0036373920817729943, -0.15880800939172324, 0, 0.8411919906082768,
                              1.954597694087775};
    struct au_tensor tx = mk(AU_DTYPE_F32, 1, NE(5), x);
    const struct au_tensor *in[1] = {&tx};
    struct au_attr tanh_attr[1] = {{.name = "approximate", .type = AU_ATTR_STRING, .s = "tanh"}};
    struct au_attr none_attr[1] = {{.name = "approximate", .type = AU_ATTR_STRING, .s = "none"}};
    struct au_tensor ye, yt, yn;
    CHECK_EQ_INT(run1("Gelu", NULL, 0, 1, in, &ye), AU_OK);
    CHECK_EQ_INT(run1("Gelu", tanh_attr, 1, 1, in, &yt), AU_OK);
    CHECK_EQ_INT(run1("Gelu", none_attr, 1, 1, in, &yn), AU_OK);
    for (int i = 0; i < 5; i++) {
        CHECK_NEAR(((float *)ye.data)[i], exact[i], 1e-6);
        CHECK_NEAR(((float *)yn.data)[i], exact[i], 1e-6);
        CHECK_NEAR(((float *)yt.data)[i], approx[i], 1e-6);
    }
    free(ye.data);
    free(yt.data);
    free(yn.data);
}

static void test_clip_inputs_attributes_and_ints(void)
{
    float x[5] = {-3, -0.5f, 0.25f, 4, NAN}, lo = -1, hi = 1;
    struct au_tensor tx = mk(AU_DTYPE_F32, 1, NE(5), x), tlo = mk(AU_DTYPE_F32, 0, NULL, &lo),
                     thi = mk(AU_DTYPE_F32, 0, NULL, &hi);
    const struct au_tensor *both[3] = {&tx, &tlo, &thi}, *maxonly[3] = {&tx, NULL, &thi};
    const struct au_tensor *swapped[3] = {&tx, &thi, &tlo}, *xonly[1] = {&tx};
    struct au_attr attrs[2] = {{.name = "min", .type = AU_ATTR_FLOAT, .f = 0},
                               {.name = "max", .type = AU_ATTR_FLOAT, .f = 6}};
    struct au_tensor y1, y2, y3, y4;
    CHECK_EQ_INT(run1("Clip", NULL, 0, 3, both, &y1), AU_OK);
    CHECK_EQ_INT(run1("Clip", NULL, 0, 3, maxonly, &y2), AU_OK);
    CHECK_EQ_INT(run1("Clip", NULL, 0, 3, swapped, &y3), AU_OK);
    CHECK_EQ_INT(run1("Clip", attrs, 2, 1, xonly, &y4), AU_OK);
    for (int i = 0; i < 4; i++) {
        CHECK_NEAR(((float *)y1.data)[i], fmin(fmax(x[i], -1), 1), 0);
        CHECK_NEAR(((float *)y2.data)[i], fmin(x[i], 1), 0);
        CHECK_NEAR(((float *)y3.data)[i], -1, 0); // min > max: every value becomes max
        CHECK_NEAR(((float *)y4.data)[i], fmin(fmax(x[i], 0), 6), 0);
    }
    CHECK(isnan(((float *)y1.data)[4]) && isnan(((float *)y4.data)[4]));
    free(y1.data);
    free(y2.data);
    free(y3.data);
    free(y4.data);
    int64_t xi[4] = {-100, 3, 50, INT64_MAX}, li = 0, hi64 = 10;
    struct au_tensor ti = mk(AU_DTYPE_I64, 1, NE(4), xi), tli = mk(AU_DTYPE_I64, 0, NULL, &li),
                     thi64 = mk(AU_DTYPE_I64, 0, NULL, &hi64);
    const struct au_tensor *iin[3] = {&ti, &tli, &thi64};
    CHECK_EQ_INT(run1("Clip", NULL, 0, 3, iin, &y1), AU_OK);
    const int64_t want[4] = {0, 3, 10, 10};
    for (int i = 0; i < 4; i++)
        CHECK_EQ_INT(((int64_t *)y1.data)[i], want[i]);
    free(y1.data);
}

static int cast_to(const struct au_tensor *x, int to, struct au_tensor *y)
{
    struct au_attr a[1] = {{.name = "to", .type = AU_ATTR_INT, .i = to}};
    const struct au_tensor *in[1] = {x};
    return run1("Cast", a, 1, 1, in, y);
}

static void test_cast_truncates_and_round_trips(void)
{
    float x[7] = {-2.7f, 2.7f, NAN, 1e30f, -1e30f, 300.0f, 0.0f};
    struct au_tensor tx = mk(AU_DTYPE_F32, 1, NE(7), x), y, z;
    CHECK_EQ_INT(cast_to(&tx, AU_DTYPE_I64, &y), AU_OK);
    const int64_t *yi = y.data;
    CHECK(yi[0] == -2 && yi[1] == 2 && yi[2] == 0 && yi[3] == INT64_MAX && yi[4] == INT64_MIN);
    CHECK(yi[5] == 300 && yi[6] == 0);
    free(y.data);
    CHECK_EQ_INT(cast_to(&tx, AU_DTYPE_U8, &y), AU_OK);
    CHECK_EQ_INT(((uint8_t *)y.data)[5], 44); // 300 wraps mod 256, as numpy
    CHECK_EQ_INT(((uint8_t *)y.data)[0], 254);
    free(y.data);
    CHECK_EQ_INT(cast_to(&tx, AU_DTYPE_BOOL, &y), AU_OK);
    const uint8_t wb[7] = {1, 1, 1, 1, 1, 1, 0};
    for (int i = 0; i < 7; i++)
        CHECK_EQ_INT(((uint8_t *)y.data)[i], wb[i]);
    CHECK_EQ_INT(cast_to(&y, AU_DTYPE_F32, &z), AU_OK);
    CHECK(((float *)z.data)[0] == 1.0f && ((float *)z.data)[6] == 0.0f);
    free(y.data);
    free(z.data);
    /* Round trips: f32 -> f64 -> f32 and i64 -> f64 -> i64 are exact; int8 keeps sign. */
    CHECK_EQ_INT(cast_to(&tx, AU_DTYPE_F64, &y), AU_OK);
    CHECK_EQ_INT(cast_to(&y, AU_DTYPE_F32, &z), AU_OK);
    CHECK(memcmp(z.data, x, 2 * sizeof(float)) == 0 && isnan(((float *)z.data)[2]));
    free(y.data);
    free(z.data);
    int64_t big[3] = {(int64_t)1 << 52, -123456789, 0};
    struct au_tensor tb = mk(AU_DTYPE_I64, 1, NE(3), big);
    CHECK_EQ_INT(cast_to(&tb, AU_DTYPE_F64, &y), AU_OK);
    CHECK_EQ_INT(cast_to(&y, AU_DTYPE_I64, &z), AU_OK);
    CHECK(memcmp(z.data, big, sizeof(big)) == 0);
    free(y.data);
    free(z.data);
    int8_t s8[3] = {-5, 127, -128};
    struct au_tensor t8 = mk(AU_DTYPE_I8, 1, NE(3), s8);
    CHECK_EQ_INT(cast_to(&t8, AU_DTYPE_I32, &y), AU_OK);
    CHECK_EQ_INT(y.dtype, AU_DTYPE_I32);
    CHECK(((int32_t *)y.data)[0] == -5 && ((int32_t *)y.data)[2] == -128);
    CHECK_EQ_INT(cast_to(&y, AU_DTYPE_I8, &z), AU_OK);
    CHECK(memcmp(z.data, s8, sizeof(s8)) == 0);
    free(y.data);
    free(z.data);
    /* A long tensor crosses the conversion chunk boundary. */
    enum { N = 1000 };
    float lx[N];
    for (int i = 0; i < N; i++)
        lx[i] = (float)i - 500.5f;
    struct au_tensor tl = mk(AU_DTYPE_F32, 1, NE(N), lx);
    CHECK_EQ_INT(cast_to(&tl, AU_DTYPE_I32, &y), AU_OK);
    for (int i = 0; i < N; i++)
        CHECK_EQ_INT(((int32_t *)y.data)[i], (int32_t)(i - 500.5));
    free(y.data);
}

static void test_errors_name_node_and_shapes(void)
{
    float a[6] = {0}, b[4] = {0};
    int64_t c[6] = {0};
    struct au_tensor ta = mk(AU_DTYPE_F32, 2, NE(2, 3), a), tb = mk(AU_DTYPE_F32, 1, NE(4), b),
                     tc = mk(AU_DTYPE_I64, 2, NE(2, 3), c);
    struct au_tensor y[1];
    struct au_diag d = {{0}};
    const struct au_tensor *bad[2] = {&ta, &tb};
    CHECK_EQ_INT(run_node("add_3", "Add", NULL, 0, 2, bad, 1, y, &d), AU_SHAPE);
    CHECK(strcmp(d.msg, "add_3: Add: shapes [2,3] and [4] do not broadcast") == 0);
    CHECK_EQ_INT(run_node("", "Mul", NULL, 0, 2, bad, 1, y, &d), AU_SHAPE);
    CHECK(strcmp(d.msg, "Mul: shapes [2,3] and [4] do not broadcast") == 0);
    const struct au_tensor *mixed[2] = {&ta, &tc};
    CHECK_EQ_INT(run_node("m", "Add", NULL, 0, 2, mixed, 1, y, &d), AU_DTYPE);
    CHECK(strstr(d.msg, "m: Add:") == d.msg && strstr(d.msg, "int64"));
    const struct au_tensor *ints[1] = {&tc};
    CHECK_EQ_INT(run_node("s", "Sqrt", NULL, 0, 1, ints, 1, y, &d), AU_DTYPE);
    CHECK(strstr(d.msg, "s: Sqrt: dtype int64") == d.msg);
    const struct au_tensor *three[3] = {&ta, &ta, &ta};
    CHECK_EQ_INT(run_node("w", "Where", NULL, 0, 3, three, 1, y, &d), AU_DTYPE);
    CHECK(strstr(d.msg, "condition") != NULL);
    const struct au_tensor *x1[1] = {&ta};
    CHECK_EQ_INT(run_node("c", "Cast", NULL, 0, 1, x1, 1, y, &d), AU_INVALID);
    CHECK(strstr(d.msg, "'to'") != NULL);
    struct au_attr to16[1] = {{.name = "to", .type = AU_ATTR_INT, .i = 10}}; // float16
    CHECK_EQ_INT(run_node("c", "Cast", to16, 1, 1, x1, 1, y, &d), AU_UNSUPPORTED);
    struct au_attr g[1] = {{.name = "approximate", .type = AU_ATTR_STRING, .s = "fast"}};
    CHECK_EQ_INT(run_node("g", "Gelu", g, 1, 1, x1, 1, y, &d), AU_INVALID);
    CHECK(strstr(d.msg, "fast") != NULL);
    const struct au_tensor *absent[2] = {&ta, NULL};
    CHECK_EQ_INT(run_node("a", "Add", NULL, 0, 2, absent, 1, y, &d), AU_INVALID);
    const struct au_tensor *clip_vec[2] = {&ta, &ta};
    CHECK_EQ_INT(run_node("k", "Clip", NULL, 0, 2, clip_vec, 1, y, &d), AU_SHAPE);
    const struct au_tensor *logic[2] = {&ta, &ta};
    CHECK_EQ_INT(run_node("l", "And", NULL, 0, 2, logic, 1, y, &d), AU_DTYPE);
}

static void test_table_is_well_formed(void)
{
    int n = 0;
    for (const struct au_op_def *def = au_ops_ew; def->name; def++, n++) {
        CHECK(def->infer != NULL && def->run != NULL);
        CHECK(def->min_in >= 1 && def->min_in <= def->max_in);
        CHECK(au_op_find(def->name) == def); // no other family shadows it
    }
    CHECK(n >= 50);
}

int main(void)
{
    test_broadcast_shape_follows_numpy_rules();
    test_bcast_plan_merges_equal_and_per_channel();
    test_add_broadcasts_2x3x4_with_3x1();
    test_sub_div_broadcast_on_both_sides();
    test_scalar_and_rank1_broadcast();
    test_per_channel_mul_matches_reference();
    test_integer_arith_wraps_and_truncates();
    test_pow_float_and_integer_exponents();
    test_comparisons_give_bool_with_broadcast();
    test_logical_ops();
    test_where_broadcasts_three_ways();
    test_variadic_max_min_sum_mean();
    test_unary_ops_match_double_reference();
    test_unary_attrs_and_nan_propagation();
    test_gelu_at_known_points();
    test_clip_inputs_attributes_and_ints();
    test_cast_truncates_and_round_trips();
    test_errors_name_node_and_shapes();
    test_table_is_well_formed();
    return check_report("test_ops_ew");
}

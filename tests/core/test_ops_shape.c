/* Tests for core/ops_shape.c: each op's infer() and run() called directly on node
 * literals, against hand-computed cases and index-computed references (Transpose over
 * every 5-D permutation, Slice against CPython's slice clamping, Tile by modulo).
 * Outputs get canary bytes past their end so an overrun fails the test. */
#include "check.h"
#include "core/alloc.h"
#include "core/graph.h"
#include "core/op.h"

#include <stdint.h>
#include <string.h>

#define CANARY 16

static struct au_tensor tens(int dtype, int n_dims, const int64_t *ne, const void *data)
{
    struct au_tensor t;
    au_tensor_set_shape(&t, dtype, n_dims, ne);
    t.data = (void *)data;
    return t;
}

static struct au_attr a_int(const char *name, int64_t v)
{
    struct au_attr a = {.name = (char *)name, .type = AU_ATTR_INT, .i = v};
    return a;
}

static struct au_attr a_ints(const char *name, int n, const int64_t *v)
{
    struct au_attr a = {.name = (char *)name, .type = AU_ATTR_INTS, .n = n, .ints = (int64_t *)v};
    return a;
}

static struct au_node node(const char *name, const char *op, struct au_attr *attrs, int n_attrs)
{
    struct au_node n = {
        .name = (char *)name, .op_type = (char *)op, .attrs = attrs, .n_attrs = n_attrs};
    return n;
}

/* Infers, allocates outputs (with canaries) and runs. On failure out[].data stay NULL. */
static int run_op(struct au_node *n, int n_in, const struct au_tensor *const *in, int n_out,
                  struct au_tensor *out, struct au_diag *d)
{
    const struct au_op_def *def = au_op_find(n->op_type);
    struct au_tensor *outp[4];
    size_t scratch = 1;
    CHECK(def != NULL);
    if (!def)
        return AU_NOTFOUND;
    d->msg[0] = '\0';
    for (int i = 0; i < n_out; i++) {
        memset(&out[i], 0, sizeof(out[i]));
        outp[i] = &out[i];
    }
    struct au_op_ctx ctx = {.node = n, .n_in = n_in, .n_out = n_out, .in = in, .out = outp};
    int st = def->infer(&ctx, &scratch, d);
    if (st)
        return st;
    CHECK_EQ_INT(scratch, 0);
    for (int i = 0; i < n_out; i++) {
        size_t nb = au_tensor_nbytes(&out[i]);
        out[i].data = au_malloc(nb + CANARY);
        memset(out[i].data, 0xA5, nb + CANARY);
    }
    st = def->run(&ctx, d);
    for (int i = 0; i < n_out; i++) {
        const unsigned char *p = (const unsigned char *)out[i].data + au_tensor_nbytes(&out[i]);
        for (int k = 0; k < CANARY; k++)
            CHECK_EQ_INT(p[k], 0xA5);
    }
    return st;
}

static void free_outs(struct au_tensor *out, int n)
{
    for (int i = 0; i < n; i++) {
        au_free(out[i].data);
        out[i].data = NULL;
    }
}

static int shape_is(const struct au_tensor *t, int n, const int64_t *ne)
{
    if (t->n_dims != n)
        return 0;
    for (int i = 0; i < n; i++)
        if (t->ne[i] != ne[i])
            return 0;
    return 1;
}

static void iota_f(float *x, int n)
{
    for (int i = 0; i < n; i++)
        x[i] = (float)i;
}

/* One-input op with an optional int64 list as input 1. */
static int run1(struct au_node *n, const struct au_tensor *x, const struct au_tensor *x1,
                struct au_tensor *out, struct au_diag *d)
{
    const struct au_tensor *in[2] = {x, x1};
    return run_op(n, x1 ? 2 : 1, in, 1, out, d);
}

static void test_flatten_axes(void)
{
    float x[24] = {0};
    int64_t ne[3] = {2, 3, 4};
    struct au_tensor t = tens(AU_DTYPE_F32, 3, ne, x), out;
    struct au_diag d;
    const int64_t want[][2] = {{1, 24}, {2, 12}, {6, 4}, {24, 1}, {6, 4}, {1, 24}};
    const int64_t axes[] = {0, 1, 2, 3, -1, -3};
    iota_f(x, 24);
    for (int i = 0; i < 6; i++) {
        struct au_attr a = a_int("axis", axes[i]);
        struct au_node n = node("fl", "Flatten", &a, 1);
        CHECK_EQ_INT(run1(&n, &t, NULL, &out, &d), AU_OK);
        CHECK(shape_is(&out, 2, want[i]));
        CHECK(memcmp(out.data, x, sizeof(x)) == 0);
        free_outs(&out, 1);
    }
    struct au_attr a = a_int("axis", 4);
    struct au_node n = node("fl", "Flatten", &a, 1);
    CHECK_EQ_INT(run1(&n, &t, NULL, &out, &d), AU_RANGE);
    CHECK(strstr(d.msg, "fl: Flatten: axis 4") != NULL);
}

static int reshape(const int64_t *req, int n_req, int64_t allowzero, int const_shape,
                   struct au_tensor *out, struct au_diag *d)
{
    static float x[60];
    int64_t ne[3] = {3, 4, 5}, nr = n_req;
    struct au_tensor t = tens(AU_DTYPE_F32, 3, ne, x);
    struct au_tensor s = tens(AU_DTYPE_I64, 1, &nr, const_shape ? req : NULL);
    struct au_attr a = a_int("allowzero", allowzero);
    struct au_node n = node("reshape_2", "Reshape", &a, 1);
    iota_f(x, 60);
    return run1(&n, &t, &s, out, d);
}

static void test_reshape_zero_and_minus_one(void)
{
    struct au_tensor out;
    struct au_diag d;
    const int64_t r1[] = {0, -1}, r2[] = {-1}, r3[] = {5, 0, 3}, r4[] = {2, -1, 5};
    const int64_t w1[] = {3, 20}, w2[] = {60}, w3[] = {5, 4, 3}, w4[] = {2, 6, 5};
    CHECK_EQ_INT(reshape(r1, 2, 0, 1, &out, &d), AU_OK);
    CHECK(shape_is(&out, 2, w1));
    CHECK_NEAR(((float *)out.data)[59], 59.0, 0);
    free_outs(&out, 1);
    CHECK_EQ_INT(reshape(r2, 1, 0, 1, &out, &d), AU_OK);
    CHECK(shape_is(&out, 1, w2));
    free_outs(&out, 1);
    CHECK_EQ_INT(reshape(r3, 3, 0, 1, &out, &d), AU_OK);
    CHECK(shape_is(&out, 3, w3));
    free_outs(&out, 1);
    CHECK_EQ_INT(reshape(r4, 3, 0, 1, &out, &d), AU_OK);
    CHECK(shape_is(&out, 3, w4));
    free_outs(&out, 1);
}

static void test_reshape_errors(void)
{
    struct au_tensor out;
    struct au_diag d;
    const int64_t bad[] = {7, -1}, two[] = {-1, -1}, zero[] = {0, 60}, neg[] = {-2, 30};
    CHECK_EQ_INT(reshape(bad, 2, 0, 1, &out, &d), AU_SHAPE);
    CHECK(strcmp(d.msg, "reshape_2: Reshape: cannot reshape 60 elements to [7,-1]") == 0);
    CHECK_EQ_INT(reshape(two, 2, 0, 1, &out, &d), AU_INVALID);
    CHECK_EQ_INT(reshape(neg, 2, 0, 1, &out, &d), AU_RANGE);
    // allowzero=1 makes 0 a real zero: 0 elements cannot hold 60
    CHECK_EQ_INT(reshape(zero, 2, 1, 1, &out, &d), AU_SHAPE);
    CHECK_EQ_INT(reshape(zero, 2, 0, 1, &out, &d), AU_SHAPE); // [3,60] has 180
    CHECK_EQ_INT(reshape(bad, 2, 0, 0, &out, &d), AU_UNSUPPORTED);
    CHECK(strstr(d.msg, "reshape_2") && strstr(d.msg, "shape must be constant"));
    // float shape input
    float fs[2] = {3, 20};
    int64_t ne[1] = {60}, n2 = 2;
    struct au_tensor t = tens(AU_DTYPE_F32, 1, ne, fs), s = tens(AU_DTYPE_F32, 1, &n2, fs);
    struct au_node n = node("r", "Reshape", NULL, 0);
    CHECK_EQ_INT(run1(&n, &t, &s, &out, &d), AU_DTYPE);
}

/* Transpose of an iota tensor checked element by element against index arithmetic. */
static int transpose_matches(int dtype, int r, const int64_t *ne, const int64_t *perm)
{
    size_t es = au_dtype_size(dtype);
    int64_t n = 1, xs[AU_MAX_DIMS], ok = 1;
    for (int i = r - 1; i >= 0; i--) {
        xs[i] = n;
        n *= ne[i];
    }
    unsigned char *x = au_malloc((size_t)n * es);
    for (int64_t i = 0; i < n; i++)
        for (size_t b = 0; b < es; b++)
            x[i * (int64_t)es + (int64_t)b] = (unsigned char)(i * 7 + (int64_t)b * 131 + i / 251);
    struct au_tensor t = tens(dtype, r, ne, x), out;
    struct au_attr a = a_ints("perm", r, perm);
    struct au_node nd = node("tr", "Transpose", perm ? &a : NULL, perm ? 1 : 0);
    struct au_diag d;
    int64_t p[AU_MAX_DIMS];
    for (int i = 0; i < r; i++)
        p[i] = perm ? perm[i] : r - 1 - i;
    if (run1(&nd, &t, NULL, &out, &d) != AU_OK) {
        au_free(x);
        return 0;
    }
    for (int i = 0; i < r; i++)
        ok &= out.ne[i] == ne[p[i]];
    for (int64_t o = 0; o < n && ok; o++) {
        int64_t rem = o, src = 0;
        for (int k = r - 1; k >= 0; k--) {
            src += (rem % out.ne[k]) * xs[p[k]];
            rem /= out.ne[k];
        }
        ok &= memcmp((unsigned char *)out.data + o * (int64_t)es, x + src * (int64_t)es, es) == 0;
    }
    free_outs(&out, 1);
    au_free(x);
    return (int)ok;
}

static void test_transpose_all_5d_perms(void)
{
    const int64_t ne[5] = {2, 3, 4, 5, 9};
    int64_t perm[5];
    int n_ok = 0, n_perm = 0;
    for (int i = 0; i < 3125; i++) {
        int seen = 0, v = i;
        for (int k = 0; k < 5; k++, v /= 5) {
            perm[k] = v % 5;
            seen |= 1 << perm[k];
        }
        if (seen != 31)
            continue;
        n_perm++;
        n_ok += transpose_matches(AU_DTYPE_F32, 5, ne, perm);
        n_ok += transpose_matches(i % 2 ? AU_DTYPE_U8 : AU_DTYPE_I64, 5, ne, perm);
    }
    CHECK_EQ_INT(n_perm, 120);
    CHECK_EQ_INT(n_ok, 240);
}

static void test_transpose_vit_heads_and_default(void)
{
    // [batch, tokens, heads, head_dim] layouts used by attention; sizes > 8 hit the tiled path.
    const int64_t ne[4] = {2, 37, 3, 40}, p1[4] = {0, 2, 1, 3}, p2[4] = {0, 2, 3, 1},
                  p3[4] = {3, 1, 2, 0};
    const int64_t ne2[2] = {70, 45}, ne3[3] = {4, 1, 5};
    CHECK(transpose_matches(AU_DTYPE_F32, 4, ne, p1));
    CHECK(transpose_matches(AU_DTYPE_F32, 4, ne, p2));
    CHECK(transpose_matches(AU_DTYPE_F64, 4, ne, p3));
    CHECK(transpose_matches(AU_DTYPE_BOOL, 2, ne2, NULL));
    CHECK(transpose_matches(AU_DTYPE_I32, 3, ne3, NULL));
    CHECK(transpose_matches(AU_DTYPE_F32, 0, NULL, NULL));
}

static void test_transpose_bad_perm(void)
{
    float x[6] = {0};
    int64_t ne[2] = {2, 3};
    const int64_t dup[2] = {0, 0}, big[2] = {0, 2}, len3[3] = {0, 1, 2};
    struct au_tensor t = tens(AU_DTYPE_F32, 2, ne, x), out;
    struct au_diag d;
    struct au_attr a = a_ints("perm", 2, dup);
    struct au_node n = node("tp", "Transpose", &a, 1);
    CHECK_EQ_INT(run1(&n, &t, NULL, &out, &d), AU_INVALID);
    a = a_ints("perm", 2, big);
    CHECK_EQ_INT(run1(&n, &t, NULL, &out, &d), AU_RANGE);
    CHECK(strstr(d.msg, "tp: Transpose: perm[1]") != NULL);
    a = a_ints("perm", 3, len3);
    CHECK_EQ_INT(run1(&n, &t, NULL, &out, &d), AU_SHAPE);
}

static void test_concat_negative_axis(void)
{
    const float a[4] = {1, 2, 3, 4}, b[6] = {5, 6, 7, 8, 9, 10};
    const int64_t na[2] = {2, 2}, nb[2] = {2, 3}, nz[2] = {2, 0}, want[2] = {2, 5};
    struct au_tensor ta = tens(AU_DTYPE_F32, 2, na, a), tb = tens(AU_DTYPE_F32, 2, nb, b);
    struct au_tensor tz = tens(AU_DTYPE_F32, 2, nz, NULL), out;
    const struct au_tensor *in[3] = {&ta, &tz, &tb};
    struct au_attr at = a_int("axis", -1);
    struct au_node n = node("cat", "Concat", &at, 1);
    struct au_diag d;
    const float w[10] = {1, 2, 5, 6, 7, 3, 4, 8, 9, 10};
    CHECK_EQ_INT(run_op(&n, 3, in, 1, &out, &d), AU_OK);
    CHECK(shape_is(&out, 2, want));
    CHECK(memcmp(out.data, w, sizeof(w)) == 0);
    free_outs(&out, 1);
    at.i = 0; // rows differ in width along axis 1
    CHECK_EQ_INT(run_op(&n, 3, in, 1, &out, &d), AU_SHAPE);
    CHECK(strstr(d.msg, "cat: Concat: input 1 dim 1") != NULL);
    at.i = 2;
    CHECK_EQ_INT(run_op(&n, 3, in, 1, &out, &d), AU_RANGE);
    struct au_tensor ti = tens(AU_DTYPE_I64, 2, nb, b);
    const struct au_tensor *in2[2] = {&ta, &ti};
    at.i = 1;
    CHECK_EQ_INT(run_op(&n, 2, in2, 1, &out, &d), AU_DTYPE);
    // axis 0 of int64 data
    const int64_t x0[2] = {1, 2}, x1[3] = {3, 4, 5}, n0 = 2, n1 = 3, n5 = 5,
                  w5[5] = {1, 2, 3, 4, 5};
    struct au_tensor t0 = tens(AU_DTYPE_I64, 1, &n0, x0), t1 = tens(AU_DTYPE_I64, 1, &n1, x1);
    const struct au_tensor *in3[2] = {&t0, &t1};
    at.i = 0;
    CHECK_EQ_INT(run_op(&n, 2, in3, 1, &out, &d), AU_OK);
    CHECK(shape_is(&out, 1, &n5) && memcmp(out.data, w5, sizeof(w5)) == 0);
    free_outs(&out, 1);
}

static void test_split_default_attr_input_and_num_outputs(void)
{
    float x[14] = {0};
    int64_t ne[2] = {2, 7}, ne6[2] = {2, 6};
    struct au_tensor t6 = tens(AU_DTYPE_F32, 2, ne6, x), t7 = tens(AU_DTYPE_F32, 2, ne, x);
    struct au_tensor out[3];
    struct au_diag d;
    iota_f(x, 14);
    // default: equal parts along axis -1 of [2,6] -> three [2,2]
    struct au_attr at[2] = {a_int("axis", -1)};
    struct au_node n = node("sp", "Split", at, 1);
    const struct au_tensor *in[2] = {&t6, NULL};
    CHECK_EQ_INT(run_op(&n, 1, in, 3, out, &d), AU_OK);
    const float w2[4] = {4, 5, 10, 11};
    CHECK(out[2].ne[1] == 2 && memcmp(out[2].data, w2, sizeof(w2)) == 0);
    free_outs(out, 3);
    // opset 11 attribute
    const int64_t sz[3] = {1, 2, 3};
    at[1] = a_ints("split", 3, sz);
    n.n_attrs = 2;
    CHECK_EQ_INT(run_op(&n, 1, in, 3, out, &d), AU_OK);
    const float w0[2] = {0, 6}, w1[4] = {1, 2, 7, 8};
    CHECK(memcmp(out[0].data, w0, sizeof(w0)) == 0 && memcmp(out[1].data, w1, sizeof(w1)) == 0);
    CHECK(out[2].ne[0] == 2 && out[2].ne[1] == 3);
    free_outs(out, 3);
    // opset 13 input: sizes 4,2 over [2,6]
    const int64_t s2[2] = {4, 2}, n2 = 2;
    struct au_tensor ts = tens(AU_DTYPE_I64, 1, &n2, s2);
    in[1] = &ts;
    n.n_attrs = 1;
    CHECK_EQ_INT(run_op(&n, 2, in, 2, out, &d), AU_OK);
    CHECK(out[0].ne[1] == 4 && out[1].ne[1] == 2 && ((float *)out[1].data)[3] == 11.0f);
    free_outs(out, 2);
    CHECK_EQ_INT(run_op(&n, 2, in, 3, out, &d), AU_SHAPE); // 2 sizes for 3 outputs
    // opset 18 num_outputs on 7: 3,3,1
    in[0] = &t7;
    at[1] = a_int("num_outputs", 3);
    n.n_attrs = 2;
    CHECK_EQ_INT(run_op(&n, 1, in, 3, out, &d), AU_OK);
    CHECK(out[0].ne[1] == 3 && out[1].ne[1] == 3 && out[2].ne[1] == 1);
    CHECK(((float *)out[2].data)[0] == 6.0f && ((float *)out[2].data)[1] == 13.0f);
    free_outs(out, 3);
    n.n_attrs = 1; // 7 is not divisible by 3 without num_outputs
    CHECK_EQ_INT(run_op(&n, 1, in, 3, out, &d), AU_SHAPE);
    const int64_t badsz[2] = {3, 3};
    at[1] = a_ints("split", 2, badsz);
    n.n_attrs = 2;
    CHECK_EQ_INT(run_op(&n, 1, in, 2, out, &d), AU_SHAPE);
    CHECK(strstr(d.msg, "sp: Split: split sizes sum to 6") != NULL);
}

/* 1-D Slice of 0..9 with one axis; returns the status and writes the values. */
static int slice1(int64_t s, int64_t e, int64_t step, int64_t *got, int64_t *n_got)
{
    int64_t x[10], ten = 10, one = 1;
    for (int i = 0; i < 10; i++)
        x[i] = i;
    struct au_tensor t = tens(AU_DTYPE_I64, 1, &ten, x), ts = tens(AU_DTYPE_I64, 1, &one, &s);
    struct au_tensor te = tens(AU_DTYPE_I64, 1, &one, &e), tp = tens(AU_DTYPE_I64, 1, &one, &step);
    struct au_tensor out;
    const struct au_tensor *in[5] = {&t, &ts, &te, NULL, &tp};
    struct au_node n = node("sl", "Slice", NULL, 0);
    struct au_diag d;
    int st = run_op(&n, 5, in, 1, &out, &d);
    if (st == AU_OK) {
        *n_got = out.ne[0];
        memcpy(got, out.data, (size_t)out.ne[0] * sizeof(int64_t));
        free_outs(&out, 1);
    }
    return st;
}

static int seq_is(const int64_t *got, int64_t n, const int64_t *want, int64_t n_want)
{
    return n == n_want && (n == 0 || memcmp(got, want, (size_t)n * sizeof(*got)) == 0);
}

static void test_slice_clamping_and_negative_steps(void)
{
    int64_t g[10], n;
    const int64_t w1[] = {7, 8, 9}, w2[] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0}, w3[] = {8, 6, 4, 2},
                  w4[] = {2, 3, 4, 5, 6, 7, 8, 9}, w5[] = {9, 6}, w6[] = {0, 3, 6, 9};
    CHECK(slice1(-3, INT64_MAX, 1, g, &n) == AU_OK && seq_is(g, n, w1, 3));
    CHECK(slice1(-1, INT64_MIN, -1, g, &n) == AU_OK && seq_is(g, n, w2, 10));
    CHECK(slice1(8, 1, -2, g, &n) == AU_OK && seq_is(g, n, w3, 4));
    CHECK(slice1(2, 100, 1, g, &n) == AU_OK && seq_is(g, n, w4, 8));
    CHECK(slice1(100, 200, 1, g, &n) == AU_OK && n == 0);
    CHECK(slice1(100, 5, -3, g, &n) == AU_OK && seq_is(g, n, w5, 2));
    CHECK(slice1(-100, 100, 3, g, &n) == AU_OK && seq_is(g, n, w6, 4));
    CHECK(slice1(3, 3, 1, g, &n) == AU_OK && n == 0);
    CHECK(slice1(0, 5, -1, g, &n) == AU_OK && n == 0);
    CHECK(slice1(0, 10, INT64_MAX, g, &n) == AU_OK && seq_is(g, n, w6, 1));
    CHECK(slice1(9, -100, INT64_MIN, g, &n) == AU_OK && seq_is(g, n, w2, 1));
    // spec clamps a negative-step start into [0,dim-1]: -100 selects element 0 (CPython: none)
    CHECK(slice1(-100, INT64_MIN, -1, g, &n) == AU_OK && seq_is(g, n, w6, 1));
    CHECK_EQ_INT(slice1(0, 5, 0, g, &n), AU_RANGE);
}

static void test_slice_axes_and_opset1_attributes(void)
{
    float x[12] = {0};
    int64_t ne[2] = {3, 4}, one = 1, two = 2;
    const int64_t st[1] = {1}, en[1] = {INT64_MAX}, ax[1] = {-1}, sp[1] = {2};
    struct au_tensor t = tens(AU_DTYPE_F32, 2, ne, x), out;
    struct au_tensor ts = tens(AU_DTYPE_I64, 1, &one, st), te = tens(AU_DTYPE_I64, 1, &one, en);
    struct au_tensor ta = tens(AU_DTYPE_I64, 1, &one, ax), tp = tens(AU_DTYPE_I64, 1, &one, sp);
    const struct au_tensor *in[5] = {&t, &ts, &te, &ta, &tp};
    struct au_node n = node("sl", "Slice", NULL, 0);
    struct au_diag d;
    iota_f(x, 12);
    CHECK_EQ_INT(run_op(&n, 5, in, 1, &out, &d), AU_OK);
    const float w[6] = {1, 3, 5, 7, 9, 11};
    const int64_t wn[2] = {3, 2};
    CHECK(shape_is(&out, 2, wn) && memcmp(out.data, w, sizeof(w)) == 0);
    free_outs(&out, 1);
    // opset 1: starts/ends/axes attributes, one input
    const int64_t s2[2] = {1, -3}, e2[2] = {3, -1}, a2[2] = {0, 1};
    struct au_attr at[3] = {a_ints("starts", 2, s2), a_ints("ends", 2, e2), a_ints("axes", 2, a2)};
    struct au_node n1 = node("sl1", "Slice", at, 3);
    CHECK_EQ_INT(run_op(&n1, 1, in, 1, &out, &d), AU_OK);
    const float w1[4] = {5, 6, 9, 10};
    const int64_t wn1[2] = {2, 2};
    CHECK(shape_is(&out, 2, wn1) && memcmp(out.data, w1, sizeof(w1)) == 0);
    free_outs(&out, 1);
    // errors: repeated axis, axis out of range, non-constant starts, length mismatch
    const int64_t dup[2] = {1, -1}, bad[1] = {2};
    struct au_tensor td = tens(AU_DTYPE_I64, 1, &two, dup), tb = tens(AU_DTYPE_I64, 1, &one, bad);
    struct au_tensor s2t = tens(AU_DTYPE_I64, 1, &two, s2), e2t = tens(AU_DTYPE_I64, 1, &two, e2);
    const struct au_tensor *in2[4] = {&t, &s2t, &e2t, &td};
    CHECK_EQ_INT(run_op(&n, 4, in2, 1, &out, &d), AU_INVALID);
    in[3] = &tb;
    CHECK_EQ_INT(run_op(&n, 5, in, 1, &out, &d), AU_RANGE);
    CHECK(strstr(d.msg, "sl: Slice: axes entry 2 out of range") != NULL);
    struct au_tensor tn = tens(AU_DTYPE_I64, 1, &one, NULL);
    const struct au_tensor *in3[3] = {&t, &tn, &te};
    CHECK_EQ_INT(run_op(&n, 3, in3, 1, &out, &d), AU_UNSUPPORTED);
    const struct au_tensor *in4[3] = {&t, &s2t, &te};
    CHECK_EQ_INT(run_op(&n, 3, in4, 1, &out, &d), AU_SHAPE);
}

/* CPython's PySlice_AdjustIndices, an independent statement of the same clamping, with the
 * one corner where the ONNX spec text (and onnxruntime) differ: a negative step with
 * start < -len clamps start to 0, where CPython yields an empty slice. */
static int64_t py_slice(int64_t len, int64_t start, int64_t stop, int64_t step, int64_t *idx)
{
    if (start < 0) {
        start += len;
        if (start < 0)
            start = 0; // CPython: step < 0 ? -1 : 0
    } else if (start >= len) {
        start = step < 0 ? len - 1 : len;
    }
    if (stop < 0) {
        stop += len;
        if (stop < 0)
            stop = step < 0 ? -1 : 0;
    } else if (stop >= len) {
        stop = step < 0 ? len - 1 : len;
    }
    int64_t n = 0;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step)
        idx[n++] = i;
    return n;
}

static uint64_t rng_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

static void test_slice_random_against_python_semantics(void)
{
    static const int64_t pick[] = {INT64_MIN, -9, -5, -4, -2, -1, 0, 1, 2, 3, 4, 6, 9, INT64_MAX};
    uint64_t s = check_seed();
    int64_t ne[4] = {3, 5, 4, 6}, x[360], one_n = 0;
    for (int i = 0; i < 360; i++)
        x[i] = i;
    int bad = 0;
    for (int trial = 0; trial < 400; trial++) {
        int64_t sv[4], ev[4], av[4], pv[4], idx[4][16], cnt[4], k = 0;
        for (int a = 0; a < 4; a++) {
            if (rng_next(&s) % 3 == 0)
                continue;
            av[k] = rng_next(&s) % 2 ? a : a - 4;
            sv[k] = pick[rng_next(&s) % 14];
            ev[k] = pick[rng_next(&s) % 14];
            pv[k] = (int64_t)(rng_next(&s) % 7) - 3;
            pv[k] = pv[k] ? pv[k] : 1;
            k++;
        }
        for (int a = 0; a < 4; a++)
            cnt[a] = py_slice(ne[a], 0, ne[a], 1, idx[a]);
        for (int i = 0; i < k; i++) {
            int a = (int)(av[i] < 0 ? av[i] + 4 : av[i]);
            cnt[a] = py_slice(ne[a], sv[i], ev[i], pv[i], idx[a]);
        }
        one_n = k;
        struct au_tensor t = tens(AU_DTYPE_I64, 4, ne, x), out;
        struct au_tensor ts = tens(AU_DTYPE_I64, 1, &one_n, sv),
                         te = tens(AU_DTYPE_I64, 1, &one_n, ev);
        struct au_tensor ta = tens(AU_DTYPE_I64, 1, &one_n, av),
                         tp = tens(AU_DTYPE_I64, 1, &one_n, pv);
        const struct au_tensor *in[5] = {&t, &ts, &te, &ta, &tp};
        struct au_node n = node("sl", "Slice", NULL, 0);
        struct au_diag d;
        if (run_op(&n, 5, in, 1, &out, &d) != AU_OK || !shape_is(&out, 4, cnt)) {
            bad++;
            free_outs(&out, 1);
            continue;
        }
        const int64_t *y = out.data;
        for (int64_t i0 = 0, o = 0; i0 < cnt[0]; i0++)
            for (int64_t i1 = 0; i1 < cnt[1]; i1++)
                for (int64_t i2 = 0; i2 < cnt[2]; i2++)
                    for (int64_t i3 = 0; i3 < cnt[3]; i3++, o++)
                        bad += y[o] !=
                               ((idx[0][i0] * 5 + idx[1][i1]) * 4 + idx[2][i2]) * 6 + idx[3][i3];
        free_outs(&out, 1);
    }
    CHECK_EQ_INT(bad, 0);
}

static void test_gather_negative_indices(void)
{
    const float x[6] = {1, 2, 3, 4, 5, 6}; // [3,2]
    const int64_t ne[2] = {3, 2}, ni = 2, ix[2] = {-1, 0}, wn[2] = {2, 2};
    struct au_tensor t = tens(AU_DTYPE_F32, 2, ne, x), ti = tens(AU_DTYPE_I64, 1, &ni, ix), out;
    const struct au_tensor *in[2] = {&t, &ti};
    struct au_attr a = a_int("axis", 0);
    struct au_node n = node("g", "Gather", &a, 1);
    struct au_diag d;
    CHECK_EQ_INT(run_op(&n, 2, in, 1, &out, &d), AU_OK);
    const float w[4] = {5, 6, 1, 2};
    CHECK(shape_is(&out, 2, wn) && memcmp(out.data, w, sizeof(w)) == 0);
    free_outs(&out, 1);
    // axis -1 with int32 indices of shape [2,1] -> [3,2,1]
    const int32_t i32[2] = {1, -2};
    const int64_t ne21[2] = {2, 1}, w3n[3] = {3, 2, 1};
    struct au_tensor t32 = tens(AU_DTYPE_I32, 2, ne21, i32);
    in[1] = &t32;
    a.i = -1;
    CHECK_EQ_INT(run_op(&n, 2, in, 1, &out, &d), AU_OK);
    const float w3[6] = {2, 1, 4, 3, 6, 5};
    CHECK(shape_is(&out, 3, w3n) && memcmp(out.data, w3, sizeof(w3)) == 0);
    free_outs(&out, 1);
    // scalar index drops the axis
    const int64_t s = 1, wn1 = 2;
    struct au_tensor tsc = tens(AU_DTYPE_I64, 0, NULL, &s);
    in[1] = &tsc;
    a.i = 0;
    CHECK_EQ_INT(run_op(&n, 2, in, 1, &out, &d), AU_OK);
    CHECK(shape_is(&out, 1, &wn1) && ((float *)out.data)[0] == 3 && ((float *)out.data)[1] == 4);
    free_outs(&out, 1);
    // out of range: a constant index fails in infer, a runtime one in run
    const int64_t oob = 3;
    struct au_tensor to = tens(AU_DTYPE_I64, 0, NULL, &oob);
    in[1] = &to;
    CHECK_EQ_INT(run_op(&n, 2, in, 1, &out, &d), AU_RANGE);
    CHECK(strcmp(d.msg, "g: Gather: index 3 out of range [-3,2]") == 0);
    struct au_tensor tf = tens(AU_DTYPE_F32, 0, NULL, x);
    in[1] = &tf;
    CHECK_EQ_INT(run_op(&n, 2, in, 1, &out, &d), AU_DTYPE);
}

static void test_gather_runtime_index_out_of_range(void)
{
    const float x[6] = {1, 2, 3, 4, 5, 6};
    const int64_t ne[2] = {3, 2}, ni = 2, ix[2] = {0, -4};
    struct au_tensor t = tens(AU_DTYPE_F32, 2, ne, x), ti = tens(AU_DTYPE_I64, 1, &ni, NULL);
    struct au_tensor *outp[1], out = {0};
    const struct au_tensor *in[2] = {&t, &ti};
    struct au_node n = node("g", "Gather", NULL, 0);
    struct au_op_ctx c = {.node = &n, .n_in = 2, .n_out = 1, .in = in, .out = outp};
    const struct au_op_def *def = au_op_find("Gather");
    struct au_diag d;
    size_t sc;
    float buf[4];
    outp[0] = &out;
    CHECK_EQ_INT(def->infer(&c, &sc, &d), AU_OK); // indices unknown at load time
    ti.data = (void *)ix;
    out.data = buf;
    CHECK_EQ_INT(def->run(&c, &d), AU_RANGE);
    CHECK(strstr(d.msg, "index -4 out of range") != NULL);
}

static void test_squeeze_unsqueeze_both_forms(void)
{
    float x[12] = {0};
    const int64_t ne[4] = {1, 3, 1, 4}, ax[2] = {0, -2}, w34[2] = {3, 4}, w314[3] = {3, 1, 4};
    const int64_t n2 = 2, one = 1, three = 3;
    struct au_tensor t = tens(AU_DTYPE_F32, 4, ne, x), out;
    struct au_tensor tax = tens(AU_DTYPE_I64, 1, &n2, ax);
    struct au_diag d;
    iota_f(x, 12);
    struct au_node sq = node("sq", "Squeeze", NULL, 0);
    CHECK_EQ_INT(run1(&sq, &t, NULL, &out, &d), AU_OK); // no axes: every 1
    CHECK(shape_is(&out, 2, w34) && memcmp(out.data, x, sizeof(x)) == 0);
    free_outs(&out, 1);
    CHECK_EQ_INT(run1(&sq, &t, &tax, &out, &d), AU_OK); // opset 13 input
    CHECK(shape_is(&out, 2, w34));
    free_outs(&out, 1);
    struct au_attr a = a_ints("axes", 1, ax);
    struct au_node sq11 = node("sq", "Squeeze", &a, 1);
    CHECK_EQ_INT(run1(&sq11, &t, NULL, &out, &d), AU_OK); // opset 11 attribute
    CHECK(shape_is(&out, 3, w314));
    free_outs(&out, 1);
    const int64_t ax1[1] = {1};
    a = a_ints("axes", 1, ax1);
    CHECK_EQ_INT(run1(&sq11, &t, NULL, &out, &d), AU_SHAPE);
    CHECK(strstr(d.msg, "cannot squeeze axis 1 of size 3") != NULL);
    // Unsqueeze [3,4] at axes {0,-1} -> [1,3,4,1], as input and as attribute
    struct au_tensor t2 = tens(AU_DTYPE_F32, 2, w34, x);
    const int64_t axu[2] = {0, -1}, wu[4] = {1, 3, 4, 1}, axm[2] = {1, 3}, wm[4] = {3, 1, 4, 1};
    struct au_tensor tu = tens(AU_DTYPE_I64, 1, &n2, axu);
    struct au_node us = node("us", "Unsqueeze", NULL, 0);
    CHECK_EQ_INT(run1(&us, &t2, &tu, &out, &d), AU_OK);
    CHECK(shape_is(&out, 4, wu) && memcmp(out.data, x, sizeof(x)) == 0);
    free_outs(&out, 1);
    a = a_ints("axes", 2, axm);
    struct au_node us11 = node("us", "Unsqueeze", &a, 1);
    CHECK_EQ_INT(run1(&us11, &t2, NULL, &out, &d), AU_OK);
    CHECK(shape_is(&out, 4, wm));
    free_outs(&out, 1);
    // errors: missing axes, repeated axis, out of range, non-constant
    CHECK_EQ_INT(run1(&us, &t2, NULL, &out, &d), AU_FORMAT);
    const int64_t rep[2] = {1, -3}, oob[1] = {3};
    struct au_tensor tr = tens(AU_DTYPE_I64, 1, &n2, rep), to = tens(AU_DTYPE_I64, 1, &one, oob);
    CHECK_EQ_INT(run1(&us, &t2, &tr, &out, &d), AU_INVALID);
    CHECK_EQ_INT(run1(&us, &t2, &to, &out, &d), AU_RANGE);
    struct au_tensor tn = tens(AU_DTYPE_I64, 1, &three, NULL);
    CHECK_EQ_INT(run1(&us, &t2, &tn, &out, &d), AU_UNSUPPORTED);
    CHECK(strstr(d.msg, "us: Unsqueeze: axes must be constant") != NULL);
}

static void test_expand_bidirectional(void)
{
    const float x[3] = {1, 2, 3}; // [3,1]
    const int64_t ne[2] = {3, 1}, sh[3] = {2, 1, 4}, n3 = 3, w[3] = {2, 3, 4};
    struct au_tensor t = tens(AU_DTYPE_F32, 2, ne, x), ts = tens(AU_DTYPE_I64, 1, &n3, sh), out;
    struct au_node n = node("ex", "Expand", NULL, 0);
    struct au_diag d;
    CHECK_EQ_INT(run1(&n, &t, &ts, &out, &d), AU_OK);
    CHECK(shape_is(&out, 3, w));
    int bad = 0;
    for (int i = 0; i < 24; i++)
        bad += ((float *)out.data)[i] != x[(i / 4) % 3];
    CHECK_EQ_INT(bad, 0);
    free_outs(&out, 1);
    // a target dim of 1 keeps the input's dim (bidirectional)
    const int64_t s1[1] = {1}, one = 1;
    struct au_tensor t1 = tens(AU_DTYPE_I64, 1, &one, s1);
    CHECK_EQ_INT(run1(&n, &t, &t1, &out, &d), AU_OK);
    CHECK(shape_is(&out, 2, ne) && memcmp(out.data, x, sizeof(x)) == 0);
    free_outs(&out, 1);
    const int64_t bad2[2] = {2, 5}, two = 2;
    struct au_tensor tb = tens(AU_DTYPE_I64, 1, &two, bad2);
    CHECK_EQ_INT(run1(&n, &t, &tb, &out, &d), AU_SHAPE);
    CHECK(strcmp(d.msg, "ex: Expand: cannot broadcast [3,1] to [2,5]") == 0);
    struct au_tensor tn = tens(AU_DTYPE_I64, 1, &two, NULL);
    CHECK_EQ_INT(run1(&n, &t, &tn, &out, &d), AU_UNSUPPORTED);
    const int64_t neg[2] = {-1, 1};
    struct au_tensor tg = tens(AU_DTYPE_I64, 1, &two, neg);
    CHECK_EQ_INT(run1(&n, &t, &tg, &out, &d), AU_RANGE);
}

static void test_shape_and_size_ignore_data(void)
{
    const int64_t ne[3] = {2, 3, 4};
    struct au_tensor t = tens(AU_DTYPE_F32, 3, ne, NULL), out; // data never read
    struct au_diag d;
    struct au_attr a[2] = {a_int("start", 1), a_int("end", -1)};
    struct au_node n = node("sh", "Shape", a, 0);
    const int64_t starts[] = {0, 1, 0, -2}, ends[] = {3, 3, -1, 3};
    const int64_t lo[] = {0, 1, 0, 1}, len[] = {3, 2, 2, 2};
    for (int i = 0; i < 4; i++) {
        a[0].i = starts[i];
        a[1].i = ends[i];
        n.n_attrs = i == 0 ? 0 : 2;
        CHECK_EQ_INT(run1(&n, &t, NULL, &out, &d), AU_OK);
        CHECK(out.dtype == AU_DTYPE_I64 && shape_is(&out, 1, &len[i]));
        for (int64_t k = 0; k < len[i] && k < out.ne[0]; k++)
            CHECK_EQ_INT(((int64_t *)out.data)[k], ne[lo[i] + k]);
        free_outs(&out, 1);
    }
    struct au_node sz = node("sz", "Size", NULL, 0);
    CHECK_EQ_INT(run1(&sz, &t, NULL, &out, &d), AU_OK);
    CHECK(out.n_dims == 0 && *(int64_t *)out.data == 24);
    free_outs(&out, 1);
}

static void test_constant_of_shape_and_constant(void)
{
    const int64_t sh[2] = {2, 3}, two = 2, seven = 7;
    struct au_tensor ts = tens(AU_DTYPE_I64, 1, &two, sh), out;
    struct au_tensor tv = tens(AU_DTYPE_I64, 1, (const int64_t[]){1}, &seven);
    struct au_attr a = {.name = "value", .type = AU_ATTR_TENSOR, .t = &tv};
    struct au_node n = node("cos", "ConstantOfShape", &a, 1);
    struct au_diag d;
    CHECK_EQ_INT(run1(&n, &ts, NULL, &out, &d), AU_OK);
    CHECK(out.dtype == AU_DTYPE_I64 && shape_is(&out, 2, sh));
    for (int i = 0; i < 6; i++)
        CHECK_EQ_INT(((int64_t *)out.data)[i], 7);
    free_outs(&out, 1);
    n.n_attrs = 0; // default float32 zero
    CHECK_EQ_INT(run1(&n, &ts, NULL, &out, &d), AU_OK);
    CHECK(out.dtype == AU_DTYPE_F32 && ((float *)out.data)[5] == 0.0f);
    free_outs(&out, 1);
    const int64_t neg[2] = {2, -1};
    struct au_tensor tn = tens(AU_DTYPE_I64, 1, &two, neg), tnc = tens(AU_DTYPE_I64, 1, &two, NULL);
    CHECK_EQ_INT(run1(&n, &tn, NULL, &out, &d), AU_RANGE);
    CHECK_EQ_INT(run1(&n, &tnc, NULL, &out, &d), AU_UNSUPPORTED);
    CHECK(strstr(d.msg, "cos: ConstantOfShape: shape must be constant") != NULL);

    // Constant: each value form
    const float fl[3] = {1.5f, -2, 3};
    struct au_attr c[2] = {
        {.name = "value_floats", .type = AU_ATTR_FLOATS, .n = 3, .floats = (float *)fl},
        a_int("value_int", 9)};
    struct au_node k = node("k", "Constant", c, 1);
    CHECK_EQ_INT(run_op(&k, 0, NULL, 1, &out, &d), AU_OK);
    CHECK(out.dtype == AU_DTYPE_F32 && out.ne[0] == 3 && memcmp(out.data, fl, sizeof(fl)) == 0);
    free_outs(&out, 1);
    k.attrs = &c[1];
    CHECK_EQ_INT(run_op(&k, 0, NULL, 1, &out, &d), AU_OK);
    CHECK(out.dtype == AU_DTYPE_I64 && out.n_dims == 0 && *(int64_t *)out.data == 9);
    free_outs(&out, 1);
    struct au_attr vf = {.name = "value_float", .type = AU_ATTR_FLOAT, .f = 0.25f};
    struct au_attr vi = a_ints("value_ints", 2, sh);
    struct au_attr vt = {.name = "value", .type = AU_ATTR_TENSOR, .t = &ts};
    k.attrs = &vf;
    CHECK_EQ_INT(run_op(&k, 0, NULL, 1, &out, &d), AU_OK);
    CHECK(out.dtype == AU_DTYPE_F32 && out.n_dims == 0 && *(float *)out.data == 0.25f);
    free_outs(&out, 1);
    k.attrs = &vi;
    CHECK_EQ_INT(run_op(&k, 0, NULL, 1, &out, &d), AU_OK);
    CHECK(out.ne[0] == 2 && ((int64_t *)out.data)[1] == 3);
    free_outs(&out, 1);
    k.attrs = &vt;
    CHECK_EQ_INT(run_op(&k, 0, NULL, 1, &out, &d), AU_OK);
    CHECK(shape_is(&out, 1, &two) && memcmp(out.data, sh, sizeof(sh)) == 0);
    free_outs(&out, 1);
    k.attrs = c;
    k.n_attrs = 2;
    CHECK_EQ_INT(run_op(&k, 0, NULL, 1, &out, &d), AU_FORMAT);
    k.n_attrs = 0;
    CHECK_EQ_INT(run_op(&k, 0, NULL, 1, &out, &d), AU_FORMAT);
}

static void test_identity_and_dropout_mask(void)
{
    const int32_t x[4] = {1, -2, 3, -4};
    const int64_t ne[2] = {2, 2};
    struct au_tensor t = tens(AU_DTYPE_I32, 2, ne, x), out[2];
    const struct au_tensor *in[3] = {&t, NULL, NULL};
    struct au_diag d;
    struct au_node id = node("id", "Identity", NULL, 0);
    CHECK_EQ_INT(run_op(&id, 1, in, 1, out, &d), AU_OK);
    CHECK(out[0].dtype == AU_DTYPE_I32 && memcmp(out[0].data, x, sizeof(x)) == 0);
    free_outs(out, 1);
    struct au_node dr = node("dr", "Dropout", NULL, 0);
    CHECK_EQ_INT(run_op(&dr, 1, in, 2, out, &d), AU_OK);
    CHECK(memcmp(out[0].data, x, sizeof(x)) == 0 && out[1].dtype == AU_DTYPE_BOOL);
    CHECK(shape_is(&out[1], 2, ne));
    for (int i = 0; i < 4; i++)
        CHECK_EQ_INT(((unsigned char *)out[1].data)[i], 1);
    free_outs(out, 2);
    const unsigned char on = 1;
    struct au_tensor tm = tens(AU_DTYPE_BOOL, 0, NULL, &on);
    in[2] = &tm;
    CHECK_EQ_INT(run_op(&dr, 3, in, 1, out, &d), AU_UNSUPPORTED);
}

static void test_range_types(void)
{
    struct au_tensor out;
    struct au_diag d;
    struct au_node n = node("rg", "Range", NULL, 0);
    const int64_t i0 = 0, i10 = 10, i3 = 3, w[4] = {0, 3, 6, 9};
    struct au_tensor a = tens(AU_DTYPE_I64, 0, NULL, &i0), b = tens(AU_DTYPE_I64, 0, NULL, &i10),
                     c = tens(AU_DTYPE_I64, 0, NULL, &i3);
    const struct au_tensor *in[3] = {&a, &b, &c};
    CHECK_EQ_INT(run_op(&n, 3, in, 1, &out, &d), AU_OK);
    CHECK(out.ne[0] == 4 && memcmp(out.data, w, sizeof(w)) == 0);
    free_outs(&out, 1);
    const int32_t s = 10, l = 4, dl = -2, w32[3] = {10, 8, 6};
    struct au_tensor a3 = tens(AU_DTYPE_I32, 0, NULL, &s), b3 = tens(AU_DTYPE_I32, 0, NULL, &l),
                     c3 = tens(AU_DTYPE_I32, 0, NULL, &dl);
    const struct au_tensor *in3[3] = {&a3, &b3, &c3};
    CHECK_EQ_INT(run_op(&n, 3, in3, 1, &out, &d), AU_OK);
    CHECK(out.dtype == AU_DTYPE_I32 && out.ne[0] == 3 && memcmp(out.data, w32, sizeof(w32)) == 0);
    free_outs(&out, 1);
    const float fs = 1, fl = 2, fd = 0.3f;
    struct au_tensor af = tens(AU_DTYPE_F32, 0, NULL, &fs), bf = tens(AU_DTYPE_F32, 0, NULL, &fl),
                     cf = tens(AU_DTYPE_F32, 0, NULL, &fd);
    const struct au_tensor *inf[3] = {&af, &bf, &cf};
    CHECK_EQ_INT(run_op(&n, 3, inf, 1, &out, &d), AU_OK);
    CHECK(out.ne[0] == 4); // 1, 1.3, 1.6, 1.9
    CHECK_NEAR(((float *)out.data)[3], 1.9, 1e-6);
    free_outs(&out, 1);
    const struct au_tensor *empty[3] = {&b, &a, &c}; // 10 to 0 by +3
    CHECK_EQ_INT(run_op(&n, 3, empty, 1, &out, &d), AU_OK);
    CHECK(out.ne[0] == 0);
    free_outs(&out, 1);
    const int64_t zero = 0;
    struct au_tensor z = tens(AU_DTYPE_I64, 0, NULL, &zero), nc = tens(AU_DTYPE_I64, 0, NULL, NULL);
    const struct au_tensor *bad[3] = {&a, &b, &z}, *ncin[3] = {&a, &nc, &c},
                           *mix[3] = {&a, &bf, &c};
    CHECK_EQ_INT(run_op(&n, 3, bad, 1, &out, &d), AU_RANGE);
    CHECK_EQ_INT(run_op(&n, 3, ncin, 1, &out, &d), AU_UNSUPPORTED);
    CHECK(strcmp(d.msg, "rg: Range: limit must be constant") == 0);
    CHECK_EQ_INT(run_op(&n, 3, mix, 1, &out, &d), AU_DTYPE);
}

static void test_tile_against_modulo(void)
{
    uint8_t x[24] = {0};
    const int64_t ne[3] = {2, 3, 4}, rep[3] = {3, 1, 2}, n3 = 3, w[3] = {6, 3, 8};
    struct au_tensor t = tens(AU_DTYPE_U8, 3, ne, x), tr = tens(AU_DTYPE_I64, 1, &n3, rep), out;
    struct au_node n = node("tile", "Tile", NULL, 0);
    struct au_diag d;
    for (int i = 0; i < 24; i++)
        x[i] = (uint8_t)(i * 3 + 1);
    CHECK_EQ_INT(run1(&n, &t, &tr, &out, &d), AU_OK);
    CHECK(shape_is(&out, 3, w));
    int bad = 0;
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 8; k++)
                bad +=
                    ((uint8_t *)out.data)[(i * 3 + j) * 8 + k] != x[((i % 2) * 3 + j) * 4 + k % 4];
    CHECK_EQ_INT(bad, 0);
    free_outs(&out, 1);
    const int64_t two = 2, r2[2] = {1, 1}, rn[3] = {1, -1, 1};
    struct au_tensor t2 = tens(AU_DTYPE_I64, 1, &two, r2), tn = tens(AU_DTYPE_I64, 1, &n3, rn);
    CHECK_EQ_INT(run1(&n, &t, &t2, &out, &d), AU_SHAPE);
    CHECK_EQ_INT(run1(&n, &t, &tn, &out, &d), AU_RANGE);
}

static void test_registry_has_every_op(void)
{
    static const char *const ops[] = {
        "Flatten",         "Reshape",  "Transpose", "Concat",  "Split", "Slice",
        "Gather",          "Squeeze",  "Unsqueeze", "Expand",  "Shape", "Size",
        "ConstantOfShape", "Constant", "Identity",  "Dropout", "Range", "Tile"};
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        const struct au_op_def *def = au_op_find(ops[i]);
        CHECK(def && def->infer && def->run);
    }
}

int main(void)
{
    test_registry_has_every_op();
    test_flatten_axes();
    test_reshape_zero_and_minus_one();
    test_reshape_errors();
    test_transpose_all_5d_perms();
    test_transpose_vit_heads_and_default();
    test_transpose_bad_perm();
    test_concat_negative_axis();
    test_split_default_attr_input_and_num_outputs();
    test_slice_clamping_and_negative_steps();
    test_slice_axes_and_opset1_attributes();
    test_slice_random_against_python_semantics();
    test_gather_negative_indices();
    test_gather_runtime_index_out_of_range();
    test_squeeze_unsqueeze_both_forms();
    test_expand_bidirectional();
    test_shape_and_size_ignore_data();
    test_constant_of_shape_and_constant();
    test_identity_and_dropout_mask();
    test_range_types();
    test_tile_against_modulo();
    return check_report("test_ops_shape");
}

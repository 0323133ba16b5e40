/* nn ops against naive double-precision references written here: Conv (padding, strides,
 * dilation, groups, depthwise, auto_pad, 1-D), pools (ceil_mode, count_include_pad,
 * NaN propagation), Gemm (transposes, broadcast C), MatMul (numpy broadcasting, 1-D),
 * BatchNormalization, and error cases that must name the node. Random shapes are drawn
 * from check_seed(); outputs carry canary words to catch overruns. */
#include "../check.h"
#include "core/alloc.h"
#include "core/exec.h"
#include "core/graph.h"
#include "core/op.h"

#include <float.h>
#include <string.h>

/* ---- helpers ---- */

static uint64_t rng_state;

static uint32_t rnd(void)
{
    /* PCG32 (O'Neill), one stream: enough for test shapes and values. */
    uint64_t old = rng_state;
    rng_state = old * 6364136223846793005ULL + 1442695040888963407ULL;
    uint32_t xs = (uint32_t)(((old >> 18u) ^ old) >> 27u), rot = (uint32_t)(old >> 59u);
    return (xs >> rot) | (xs << ((-rot) & 31u));
}

static int64_t rint_in(int64_t lo, int64_t hi) /* inclusive */
{
    return lo + (int64_t)(rnd() % (uint32_t)(hi - lo + 1));
}

static float rfloat(void)
{
    return (float)rnd() / 4294967296.0f * 2.0f - 1.0f;
}

#define CANARY    0x5A5A1234u
#define N_CANARY  16
#define MAX_ATTRS 12

struct tensor_buf {
    struct au_tensor t;
    float *data;
};

static void tb_init(struct tensor_buf *b, int n_dims, const int64_t *ne)
{
    au_tensor_set_shape(&b->t, AU_DTYPE_F32, n_dims, ne);
    int64_t n = au_tensor_numel(&b->t);
    b->data = au_malloc_aligned((size_t)(n ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++)
        b->data[i] = rfloat();
    b->t.data = b->data;
}

static void tb_fini(struct tensor_buf *b)
{
    au_free_aligned(b->data);
    b->data = NULL;
}

/* A node under construction: attrs point at caller storage (string literals, arrays). */
struct node_b {
    struct au_node node;
    struct au_attr attrs[MAX_ATTRS];
};

static void nb_init(struct node_b *nb, const char *name, const char *op)
{
    memset(nb, 0, sizeof(*nb));
    nb->node.name = (char *)name;
    nb->node.op_type = (char *)op;
    nb->node.attrs = nb->attrs;
}

static struct au_attr *nb_add(struct node_b *nb, const char *name, int type)
{
    struct au_attr *a = &nb->attrs[nb->node.n_attrs++];
    memset(a, 0, sizeof(*a));
    a->name = (char *)name;
    a->type = type;
    return a;
}

static void nb_int(struct node_b *nb, const char *name, int64_t v)
{
    nb_add(nb, name, AU_ATTR_INT)->i = v;
}

static void nb_float(struct node_b *nb, const char *name, float v)
{
    nb_add(nb, name, AU_ATTR_FLOAT)->f = v;
}

static void nb_str(struct node_b *nb, const char *name, const char *s)
{
    nb_add(nb, name, AU_ATTR_STRING)->s = (char *)s;
}

static void nb_ints(struct node_b *nb, const char *name, int n, int64_t *v)
{
    struct au_attr *a = nb_add(nb, name, AU_ATTR_INTS);
    a->n = n;
    a->ints = v;
}

static const struct au_op_def *find_def(const char *op)
{
    for (const struct au_op_def *d = au_ops_nn; d->name; d++)
        if (strcmp(d->name, op) == 0)
            return d;
    return NULL;
}

/* infer + run. On success *out holds the result (caller frees out->data with
 * au_free_aligned) and *macs the op's count. Checks the canary after run. */
static int run_op(struct au_node *node, int n_in, const struct au_tensor *const *in,
                  struct au_tensor *out, uint64_t *macs, struct au_diag *d)
{
    const struct au_op_def *def = find_def(node->op_type);
    CHECK(def != NULL);
    if (!def)
        return AU_NOTFOUND;
    struct au_tensor *outs[1] = {out};
    struct au_op_ctx ctx = {.node = node, .n_in = n_in, .n_out = 1, .in = in, .out = outs};
    size_t scratch = 0;
    memset(out, 0, sizeof(*out));
    int st = def->infer(&ctx, &scratch, d);
    if (st < 0)
        return st;
    int64_t n = au_tensor_numel(out);
    uint32_t *buf = au_malloc_aligned((size_t)(n + N_CANARY) * sizeof(float));
    /* NaN garbage in Y and scratch: every element must be written, none assumed zero. */
    memset(buf, 0xff, (size_t)n * sizeof(float));
    for (int i = 0; i < N_CANARY; i++)
        buf[n + i] = CANARY;
    out->data = buf;
    ctx.scratch = scratch ? au_malloc_aligned(scratch) : NULL;
    ctx.scratch_bytes = scratch;
    if (scratch)
        memset(ctx.scratch, 0xff, scratch);
    st = def->run(&ctx, d);
    au_free_aligned(ctx.scratch);
    for (int i = 0; i < N_CANARY; i++)
        CHECK_EQ_U64(buf[n + i], CANARY);
    if (macs)
        *macs = def->macs ? def->macs(&ctx) : 0;
    if (st < 0) {
        au_free_aligned(out->data);
        out->data = NULL;
    }
    return st;
}

static int64_t numel(int n, const int64_t *ne)
{
    int64_t p = 1;
    for (int i = 0; i < n; i++)
        p *= ne[i];
    return p;
}

/* Worst |got - want| relative to 1 + |want|, over n values. */
static double max_err(const float *got, const double *want, int64_t n)
{
    double e = 0;
    for (int64_t i = 0; i < n; i++) {
        if ((double)got[i] == want[i] || (isnan(got[i]) && isnan(want[i])))
            continue; /* also equal infinities: an empty max window is -inf in both */
        double di = fabs((double)got[i] - want[i]) / (1.0 + fabs(want[i]));
        if (!(di <= e)) /* NaN counts as error */
            e = di != di ? INFINITY : di;
    }
    return e;
}

/* max(err, e) where a NaN e is the worst (fmax would drop it). */
static double worse(double err, double e)
{
    return e != e ? INFINITY : (e > err ? e : err);
}

/* Window geometry for one spatial dim, computed the long way for the references. */
struct ref_dim {
    int64_t in, k, s, dl, pb, pe, out;
};

/* ONNX output size; auto_pad: 0 NOTSET, 1 SAME_UPPER, 2 SAME_LOWER, 3 VALID. Returns
 * false if the window does not fit. */
static bool ref_dim_solve(struct ref_dim *r, int auto_pad, bool ceil_mode)
{
    int64_t ext = r->dl * (r->k - 1) + 1;
    if (auto_pad == 1 || auto_pad == 2) {
        r->out = r->in / r->s + (r->in % r->s != 0);
        int64_t need = (r->out - 1) * r->s + ext - r->in;
        if (need < 0)
            need = 0;
        r->pb = auto_pad == 1 ? need / 2 : need - need / 2;
        r->pe = need - r->pb;
        return true;
    }
    if (auto_pad == 3)
        r->pb = r->pe = 0;
    double span = (double)(r->in + r->pb + r->pe - ext);
    if (span < 0)
        return false;
    r->out = (int64_t)(ceil_mode ? ceil(span / (double)r->s) : floor(span / (double)r->s)) + 1;
    if (ceil_mode && (r->out - 1) * r->s >= r->in + r->pb) /* last window starts in padding */
        r->out--;
    return true;
}

static const char *const AUTO_PAD[] = {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"};

/* ---- Conv ---- */

struct conv_case {
    int n_sp, auto_pad;
    bool bias;
    int64_t n, c_in, c_out, group;
    struct ref_dim dim[2];
};

/* Direct 7-loop convolution in double. */
static void ref_conv(const struct conv_case *c, const float *x, const float *w, const float *b,
                     double *y)
{
    const struct ref_dim *dh = c->n_sp == 2 ? &c->dim[0] : NULL, *dw = &c->dim[c->n_sp - 1];
    int64_t H = dh ? dh->in : 1, OH = dh ? dh->out : 1, KH = dh ? dh->k : 1;
    int64_t cin_g = c->c_in / c->group, cout_g = c->c_out / c->group;
    for (int64_t n = 0; n < c->n; n++)
        for (int64_t oc = 0; oc < c->c_out; oc++)
            for (int64_t oh = 0; oh < OH; oh++)
                for (int64_t ow = 0; ow < dw->out; ow++) {
                    double acc = b ? b[oc] : 0.0;
                    int64_t g = oc / cout_g;
                    for (int64_t ic = 0; ic < cin_g; ic++)
                        for (int64_t kh = 0; kh < KH; kh++)
                            for (int64_t kw = 0; kw < dw->k; kw++) {
                                int64_t ih = dh ? oh * dh->s - dh->pb + kh * dh->dl : 0;
                                int64_t iw = ow * dw->s - dw->pb + kw * dw->dl;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= dw->in)
                                    continue;
                                double xv =
                                    x[((n * c->c_in + g * cin_g + ic) * H + ih) * dw->in + iw];
                                double wv = w[((oc * cin_g + ic) * KH + kh) * dw->k + kw];
                                acc += xv * wv;
                            }
                    y[((n * c->c_out + oc) * OH + oh) * dw->out + ow] = acc;
                }
}

/* Window attribute storage for a node built from ref_dims (the node borrows it). */
struct win_store {
    int64_t strides[2], dils[2], pads[4], ks[2];
};

/* Adds kernel_shape (if with_k), strides, dilations and pads or auto_pad to nb. */
static void win_attrs_add(struct node_b *nb, struct win_store *ws, int n_sp,
                          const struct ref_dim *dim, int auto_pad, bool with_k)
{
    for (int i = 0; i < n_sp; i++) {
        ws->ks[i] = dim[i].k;
        ws->strides[i] = dim[i].s;
        ws->dils[i] = dim[i].dl;
        ws->pads[i] = dim[i].pb;
        ws->pads[n_sp + i] = dim[i].pe;
    }
    if (with_k)
        nb_ints(nb, "kernel_shape", n_sp, ws->ks);
    nb_ints(nb, "strides", n_sp, ws->strides);
    nb_ints(nb, "dilations", n_sp, ws->dils);
    if (auto_pad)
        nb_str(nb, "auto_pad", AUTO_PAD[auto_pad]);
    else
        nb_ints(nb, "pads", 2 * n_sp, ws->pads);
}

/* Checks Y's shape, values against ref (computed by the caller into a fresh buffer) and
 * returns the worst error. */
static double check_output(const struct au_tensor *y, int nd, const int64_t *yne, const double *ref)
{
    CHECK_EQ_INT(y->n_dims, nd);
    for (int i = 0; i < nd; i++)
        CHECK_EQ_INT(y->ne[i], yne[i]);
    return max_err(y->data, ref, numel(nd, yne));
}

/* Runs one conv case through the op and the reference; returns false if skipped. */
static bool conv_check(struct conv_case *c)
{
    for (int i = 0; i < c->n_sp; i++)
        if (!ref_dim_solve(&c->dim[i], c->auto_pad, false))
            return false;
    int nd = 2 + c->n_sp;
    int64_t xne[4] = {c->n, c->c_in}, wne[4] = {c->c_out, c->c_in / c->group}, bne[1] = {c->c_out};
    int64_t yne[4] = {c->n, c->c_out};
    for (int i = 0; i < c->n_sp; i++) {
        xne[2 + i] = c->dim[i].in;
        wne[2 + i] = c->dim[i].k;
        yne[2 + i] = c->dim[i].out;
    }
    struct node_b nb;
    struct win_store ws;
    nb_init(&nb, "convR", "Conv");
    nb_int(&nb, "group", c->group);
    win_attrs_add(&nb, &ws, c->n_sp, c->dim, c->auto_pad, rnd() & 1);
    struct tensor_buf x, w, b;
    tb_init(&x, nd, xne);
    tb_init(&w, nd, wne);
    tb_init(&b, 1, bne);
    const struct au_tensor *in[3] = {&x.t, &w.t, c->bias ? &b.t : NULL};
    struct au_tensor y;
    struct au_diag d = {{0}};
    uint64_t macs = 0, want = (uint64_t)numel(nd, yne) * (uint64_t)(c->c_in / c->group);
    CHECK_EQ_INT(run_op(&nb.node, 3, in, &y, &macs, &d), 0);
    if (y.data) {
        double *ref = malloc((size_t)numel(nd, yne) * sizeof(double) + 1);
        ref_conv(c, x.data, w.data, c->bias ? b.data : NULL, ref);
        double e = check_output(&y, nd, yne, ref);
        CHECK(e < 1e-5);
        if (!(e < 1e-5))
            fprintf(stderr, "conv n_sp %d n %ld cin %ld cout %ld g %ld auto_pad %d err %g\n",
                    c->n_sp, (long)c->n, (long)c->c_in, (long)c->c_out, (long)c->group, c->auto_pad,
                    e);
        for (int i = 0; i < c->n_sp; i++)
            want *= (uint64_t)c->dim[i].k;
        CHECK_EQ_U64(macs, want);
        free(ref);
        au_free_aligned(y.data);
    } else {
        fprintf(stderr, "conv: %s\n", d.msg);
    }
    tb_fini(&x);
    tb_fini(&w);
    tb_fini(&b);
    return true;
}

static void random_conv_case(struct conv_case *c)
{
    memset(c, 0, sizeof(*c));
    c->n_sp = (int)rint_in(1, 2);
    c->n = rint_in(1, 3);
    int kind = (int)rint_in(0, 3); /* 0 dense, 1 grouped, 2 depthwise, 3 pointwise */
    c->group = kind == 1 ? rint_in(2, 3) : 1;
    int64_t cin_g = rint_in(1, 4);
    if (kind == 2) {
        c->group = rint_in(2, 6);
        cin_g = 1;
    }
    c->c_in = c->group * cin_g;
    c->c_out = c->group * rint_in(1, 3);
    c->bias = rnd() & 1;
    c->auto_pad = rnd() % 3 == 0 ? (int)rint_in(1, 3) : 0;
    for (int i = 0; i < c->n_sp; i++) {
        struct ref_dim *r = &c->dim[i];
        r->in = rint_in(1, 11);
        r->k = kind == 3 ? 1 : rint_in(1, 4);
        r->s = kind == 3 ? 1 : rint_in(1, 3);
        r->dl = kind == 3 ? 1 : rint_in(1, 2);
        r->pb = kind == 3 ? 0 : rint_in(0, 3);
        r->pe = kind == 3 ? 0 : rint_in(0, 3);
    }
}

static void test_conv_matches_direct_reference_on_random_shapes(void)
{
    int done = 0;
    for (int t = 0; t < 400; t++) {
        struct conv_case c;
        random_conv_case(&c);
        done += conv_check(&c);
    }
    CHECK(done > 300);
}

/* Fixed cases for the paths random shapes rarely reach: one big plane (im2col without
 * batching), images split into uneven im2col batches, 1x1 on a big plane, depthwise
 * with a channel multiplier and stride 2. */
static void test_conv_paths_large_planes_and_batches(void)
{
    struct conv_case c = {.n_sp = 2, .n = 2, .c_in = 3, .c_out = 5, .group = 1, .bias = true};
    c.dim[0] = (struct ref_dim){.in = 40, .k = 3, .s = 1, .dl = 1, .pb = 1, .pe = 1};
    c.dim[1] = (struct ref_dim){.in = 37, .k = 3, .s = 1, .dl = 1, .pb = 1, .pe = 1};
    CHECK(conv_check(&c));
    c.n = 5; /* 17 x 17 = 289 columns: batches of 4, then 1 */
    c.dim[0] = (struct ref_dim){.in = 17, .k = 3, .s = 1, .dl = 2, .pb = 2, .pe = 2};
    c.dim[1] = c.dim[0];
    CHECK(conv_check(&c));
    c.n = 3; /* pointwise on a large plane */
    c.dim[0] = (struct ref_dim){.in = 33, .k = 1, .s = 1, .dl = 1};
    c.dim[1] = (struct ref_dim){.in = 35, .k = 1, .s = 1, .dl = 1};
    c.group = 1;
    CHECK(conv_check(&c));
    c = (struct conv_case){.n_sp = 2, .n = 2, .c_in = 4, .c_out = 8, .group = 4, .bias = true};
    c.dim[0] = (struct ref_dim){.in = 15, .k = 3, .s = 2, .dl = 1, .pb = 1, .pe = 1};
    c.dim[1] = (struct ref_dim){.in = 16, .k = 5, .s = 2, .dl = 1, .pb = 2, .pe = 2};
    CHECK(conv_check(&c));
    c.auto_pad = 2; /* SAME_LOWER depthwise: extra pad at the start */
    CHECK(conv_check(&c));
    c.auto_pad = 1;
    CHECK(conv_check(&c));
    c.n = 0; /* an empty batch is no error */
    CHECK(conv_check(&c));
    /* Depthwise K x K fused interiors (3 and 5, strides 1 and 2, dilated) and a 7x7 one
     * that takes the generic tap loop; bias only on some. */
    for (int k = 3; k <= 7; k += 2)
        for (int s = 1; s <= 2; s++)
            for (int dl = 1; dl <= 2; dl++) {
                c = (struct conv_case){.n_sp = 2, .n = 2, .c_in = 3, .c_out = 3, .group = 3};
                c.bias = s == 1;
                c.dim[0] = (struct ref_dim){
                    .in = 19, .k = k, .s = s, .dl = dl, .pb = k / 2, .pe = k / 2 - 1 + s};
                c.dim[1] = (struct ref_dim){
                    .in = 23, .k = k, .s = s, .dl = dl, .pb = k / 2 + 1, .pe = k / 2};
                CHECK(conv_check(&c));
            }
}

/* ONNX's conv_with_strides_padding example: 7x5 ramp, 3x3 ones, stride 2, pads 1. */
static void test_conv_onnx_example_strides_padding(void)
{
    float xv[35], wv[9], want[12] = {12, 27, 24, 63, 108, 81, 123, 198, 141, 112, 177, 124};
    for (int i = 0; i < 35; i++)
        xv[i] = (float)i;
    for (int i = 0; i < 9; i++)
        wv[i] = 1;
    struct au_tensor x = {.dtype = AU_DTYPE_F32, .n_dims = 4, .ne = {1, 1, 7, 5}, .data = xv};
    struct au_tensor w = {.dtype = AU_DTYPE_F32, .n_dims = 4, .ne = {1, 1, 3, 3}, .data = wv};
    int64_t pads[4] = {1, 1, 1, 1}, strides[2] = {2, 2}, ks[2] = {3, 3};
    struct node_b nb;
    nb_init(&nb, "c", "Conv");
    nb_ints(&nb, "pads", 4, pads);
    nb_ints(&nb, "strides", 2, strides);
    nb_ints(&nb, "kernel_shape", 2, ks);
    const struct au_tensor *in[2] = {&x, &w};
    struct au_tensor y;
    struct au_diag d;
    CHECK_EQ_INT(run_op(&nb.node, 2, in, &y, NULL, &d), 0);
    if (!y.data)
        return;
    CHECK_EQ_INT(y.ne[2], 4);
    CHECK_EQ_INT(y.ne[3], 3);
    for (int i = 0; i < 12; i++)
        CHECK_NEAR(((float *)y.data)[i], want[i], 1e-4);
    au_free_aligned(y.data);
}

/* Runs infer only; returns the status and leaves the message in d. */
static int infer_only(struct au_node *node, int n_in, const struct au_tensor *const *in, int n_out,
                      struct au_diag *d)
{
    struct au_tensor o0, o1;
    struct au_tensor *outs[2] = {&o0, &o1};
    struct au_op_ctx ctx = {.node = node, .n_in = n_in, .n_out = n_out, .in = in, .out = outs};
    size_t scratch = 0;
    d->msg[0] = '\0';
    return find_def(node->op_type)->infer(&ctx, &scratch, d);
}

/* A fault that makes a weight Inf must poison the same outputs on the depthwise and the
 * im2col paths: padding is zeros, so Inf * 0 = NaN wherever that tap lies in the padding
 * (the ONNX definition, and what onnxruntime's im2col does). */
static void test_conv_inf_weight_same_on_every_path(void)
{
    int64_t pads[4] = {1, 1, 1, 1};
    for (int mode = 0; mode < 3; mode++) { /* one channel, depthwise, dense 2 -> 2 (direct) */
        int depthwise = mode == 1;
        int64_t c = mode ? 2 : 1, xne[4] = {1, c, 5, 5}, wne[4] = {c, mode == 2 ? 2 : 1, 3, 3};
        struct tensor_buf x, w;
        tb_init(&x, 4, xne);
        tb_init(&w, 4, wne);
        w.data[0] = INFINITY; /* tap (0, 0) of output channel 0 */
        struct node_b nb;
        nb_init(&nb, "c", "Conv");
        nb_ints(&nb, "pads", 4, pads);
        nb_int(&nb, "group", depthwise ? c : 1);
        const struct au_tensor *in[2] = {&x.t, &w.t};
        struct au_tensor y;
        struct au_diag d;
        CHECK_EQ_INT(run_op(&nb.node, 2, in, &y, NULL, &d), 0);
        for (int i = 0; y.data && i < 25 * c; i++) {
            float v = ((float *)y.data)[i];
            int ch = i / 25, oh = i % 25 / 5, ow = i % 5;
            if (ch == 1)
                CHECK(isfinite(v));
            else if (oh == 0 || ow == 0)
                CHECK(isnan(v));
            else
                CHECK(isinf(v));
        }
        au_free_aligned(y.data);
        tb_fini(&x);
        tb_fini(&w);
    }
}

static void test_conv_errors_name_node_and_reason(void)
{
    struct au_tensor x = {.dtype = AU_DTYPE_F32, .n_dims = 4, .ne = {1, 4, 8, 8}};
    struct au_tensor w = {.dtype = AU_DTYPE_F32, .n_dims = 4, .ne = {6, 3, 3, 3}};
    const struct au_tensor *in[3] = {&x, &w, NULL};
    struct node_b nb;
    struct au_diag d;
    nb_init(&nb, "conv1", "Conv");
    CHECK_EQ_INT(infer_only(&nb.node, 2, in, 1, &d), AU_SHAPE);
    CHECK(strcmp(d.msg, "conv1: Conv: weight has 3 channels, input has 4") == 0);
    w.ne[1] = 2; /* group 2 fits 4 channels */
    nb_int(&nb, "group", 3);
    CHECK_EQ_INT(infer_only(&nb.node, 2, in, 1, &d), AU_SHAPE);
    CHECK(strstr(d.msg, "conv1: Conv:") == d.msg && strstr(d.msg, "group 3"));
    nb.node.n_attrs = 0;
    nb_int(&nb, "group", 2);
    CHECK_EQ_INT(infer_only(&nb.node, 2, in, 1, &d), 0);
    struct au_tensor bias = {.dtype = AU_DTYPE_F32, .n_dims = 1, .ne = {5}};
    in[2] = &bias;
    CHECK_EQ_INT(infer_only(&nb.node, 3, in, 1, &d), AU_SHAPE);
    CHECK(strstr(d.msg, "bias") != NULL);
    in[2] = NULL;
    x.n_dims = 2; /* bad rank */
    CHECK_EQ_INT(infer_only(&nb.node, 2, in, 1, &d), AU_SHAPE);
    CHECK(strstr(d.msg, "conv1: Conv: input has shape [1,4]") == d.msg);
    x.n_dims = 5, x.ne[4] = 2, w.n_dims = 5, w.ne[4] = 1;
    CHECK_EQ_INT(infer_only(&nb.node, 2, in, 1, &d), AU_UNSUPPORTED);
    x.n_dims = 4, w.n_dims = 4;
    x.dtype = AU_DTYPE_I64;
    CHECK_EQ_INT(infer_only(&nb.node, 2, in, 1, &d), AU_DTYPE);
    CHECK(strstr(d.msg, "int64") != NULL);
    x.dtype = AU_DTYPE_F32;
    int64_t ks[2] = {3, 5}, two[1] = {2};
    nb_ints(&nb, "kernel_shape", 2, ks);
    CHECK_EQ_INT(infer_only(&nb.node, 2, in, 1, &d), AU_SHAPE);
    CHECK(strstr(d.msg, "kernel_shape") != NULL);
    nb.node.n_attrs = 1;
    nb_ints(&nb, "strides", 1, two); /* wrong count */
    CHECK_EQ_INT(infer_only(&nb.node, 2, in, 1, &d), AU_INVALID);
    CHECK(strstr(d.msg, "conv1: Conv: strides has 1 values, expected 2") == d.msg);
    nb.node.n_attrs = 1;
    nb_str(&nb, "auto_pad", "SAME");
    CHECK_EQ_INT(infer_only(&nb.node, 2, in, 1, &d), AU_INVALID);
    CHECK(strstr(d.msg, "auto_pad") != NULL);
    nb.node.n_attrs = 1;
    x.ne[2] = 2; /* 3x3 kernel, no pads, 2 rows */
    CHECK_EQ_INT(infer_only(&nb.node, 2, in, 1, &d), AU_SHAPE);
    CHECK(strstr(d.msg, "exceeds") != NULL);
}

static void test_conv_run_refuses_short_scratch(void)
{
    struct tensor_buf x, w;
    int64_t xne[4] = {1, 2, 6, 6}, wne[4] = {17, 2, 3, 3}; /* over 16 outputs: im2col */
    tb_init(&x, 4, xne);
    tb_init(&w, 4, wne);
    struct node_b nb;
    nb_init(&nb, "c", "Conv");
    const struct au_tensor *in[2] = {&x.t, &w.t};
    struct au_tensor y;
    struct au_tensor *outs[1] = {&y};
    struct au_op_ctx ctx = {.node = &nb.node, .n_in = 2, .n_out = 1, .in = in, .out = outs};
    size_t scratch = 0;
    struct au_diag d;
    CHECK_EQ_INT(find_def("Conv")->infer(&ctx, &scratch, &d), 0);
    CHECK(scratch >= 2 * 9 * 16 * sizeof(float));
    float ybuf[17 * 16];
    y.data = ybuf;
    ctx.scratch = ybuf;
    ctx.scratch_bytes = 16;
    CHECK_EQ_INT(find_def("Conv")->run(&ctx, &d), AU_INVALID);
    CHECK(strstr(d.msg, "scratch") != NULL);
    tb_fini(&x);
    tb_fini(&w);
}

/* One input channel per group (depthwise, and stems such as LeNet's conv1) runs direct:
 * channel multipliers 1..13 (register blocks of up to 6 and their remainders), strides
 * 1..4, dilations 1..3, rows narrower and wider than a vector, planes in several bands,
 * and depthwise convs on multiples of 8 channels (done 8 channels per vector). */
static void test_conv_single_channel_matches_reference_on_random_shapes(void)
{
    int done = 0;
    for (int t = 0; t < 200; t++) {
        struct conv_case c = {.n_sp = (int)rint_in(1, 2), .n = rint_in(1, 2), .bias = rnd() & 1};
        c.group = c.c_in = rint_in(1, 3);
        c.c_out = c.c_in * rint_in(1, 13);
        if (rnd() % 3 == 0) /* depthwise on 8-channel groups */
            c.group = c.c_in = c.c_out = 8 * rint_in(1, 2);
        c.auto_pad = rnd() % 4 == 0 ? (int)rint_in(1, 3) : 0;
        for (int i = 0; i < c.n_sp; i++)
            c.dim[i] = (struct ref_dim){.in = rnd() % 4 == 0 ? rint_in(20, 60) : rint_in(1, 20),
                                        .k = rint_in(1, 5),
                                        .s = rint_in(1, 4),
                                        .dl = rint_in(1, 3),
                                        .pb = rint_in(0, 3),
                                        .pe = rint_in(0, 3)};
        done += conv_check(&c);
    }
    CHECK(done > 150);
}

/* Shapes the phase-plane code leaves to the generic loops: more than 256 taps, stride 5,
 * rows too wide for the direct path's buffers, dilations whose padded planes would dwarf
 * the im2col columns. Plus the phase layouts with unused phases (stride 4 with a 3-tap
 * kernel, 1x1 stride 2) and LeNet's and ResNet's layer shapes, batch 2. */
static void test_conv_fixed_shapes_on_every_path(void)
{
    static const struct {
        int64_t c_in, c_out, group, in, k, s, dl, pad;
        int n_sp;
    } cases[] = {
        {1, 2, 1, 20, 17, 1, 1, 2, 2},   /* direct: 289 taps -> generic */
        {2, 4, 2, 23, 3, 5, 1, 1, 2},    /* direct: stride 5 -> generic */
        {1, 3, 1, 5000, 3, 1, 1, 1, 1},  /* direct: row too wide -> generic */
        {2, 2, 2, 3100, 3, 1, 1, 1, 1},  /* depthwise, too wide */
        {3, 17, 1, 3, 3, 1, 20, 20, 2},  /* im2col: huge dilation -> generic unfold */
        {3, 17, 1, 23, 3, 5, 1, 1, 2},   /* im2col: stride 5 -> generic unfold */
        {3, 18, 1, 21, 3, 4, 1, 1, 2},   /* im2col: stride 4, phase 3 unused */
        {4, 18, 1, 14, 1, 2, 1, 0, 2},   /* im2col: 1x1 stride 2, one phase */
        {4, 6, 2, 17, 3, 2, 3, 2, 2},    /* im2col: grouped, dilated, strided */
        {3, 4, 1, 3, 3, 1, 20, 20, 2},   /* direct by channels: huge dilation, all padding */
        {3, 5, 1, 23, 3, 5, 1, 1, 2},    /* direct by channels: stride 5, partial blocks */
        {4, 16, 1, 17, 3, 2, 3, 2, 2},   /* direct by channels: dilated, strided, padded */
        {1, 6, 1, 28, 5, 1, 1, 2, 2},    /* LeNet conv1 */
        {6, 16, 1, 14, 5, 1, 1, 0, 2},   /* LeNet conv2: direct by channels */
        {16, 32, 1, 28, 3, 2, 1, 1, 2},  /* ResNet downsampling */
        {32, 32, 32, 14, 3, 2, 1, 1, 2}, /* MobileNet depthwise, stride 2 */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct conv_case c = {.n_sp = cases[i].n_sp,
                              .n = 2,
                              .c_in = cases[i].c_in,
                              .c_out = cases[i].c_out,
                              .group = cases[i].group,
                              .bias = i % 2 == 0};
        for (int d = 0; d < c.n_sp; d++)
            c.dim[d] = (struct ref_dim){.in = d == 0 && c.n_sp == 2 ? cases[i].in - 1 : cases[i].in,
                                        .k = cases[i].k,
                                        .s = cases[i].s,
                                        .dl = cases[i].dl,
                                        .pb = cases[i].pad,
                                        .pe = cases[i].pad};
        CHECK(conv_check(&c));
    }
}

/* Runs a depthwise 3x3 pad 1 conv (multiplier 3, an Inf weight) on x [1, 2, 5, w]. */
static float *dw_conv_run(const float *xv, int64_t w, const float *wv, const float *bv)
{
    int64_t pads[4] = {1, 1, 1, 1};
    struct au_tensor x = {.dtype = AU_DTYPE_F32, .n_dims = 4, .ne = {1, 2, 5, w}};
    struct au_tensor wt = {.dtype = AU_DTYPE_F32, .n_dims = 4, .ne = {6, 1, 3, 3}};
    struct au_tensor b = {.dtype = AU_DTYPE_F32, .n_dims = 1, .ne = {6}};
    x.data = (void *)xv;
    wt.data = (void *)wv;
    b.data = (void *)bv;
    struct node_b nb;
    nb_init(&nb, "dw", "Conv");
    nb_ints(&nb, "pads", 4, pads);
    nb_int(&nb, "group", 2);
    const struct au_tensor *in[3] = {&x, &wt, &b};
    struct au_tensor y;
    struct au_diag d;
    CHECK_EQ_INT(run_op(&nb.node, 3, in, &y, NULL, &d), 0);
    return y.data;
}

/* The direct path and the generic loops it falls back to for rows too wide sum in the
 * same order, padding taps included: a wide plane (generic) and its first 40 columns
 * (direct) give the same bits wherever the narrow plane's right padding is not read. */
static void test_conv_single_channel_paths_agree_bitwise(void)
{
    enum { W = 4000, NW = 40 };
    float *wide = au_malloc_aligned(2 * 5 * W * sizeof(float)), narrow[2 * 5 * NW];
    float wv[54], bv[6];
    for (int64_t i = 0; i < 2 * 5 * W; i++)
        wide[i] = rfloat();
    for (int i = 0; i < 54; i++)
        wv[i] = rfloat();
    for (int i = 0; i < 6; i++)
        bv[i] = rfloat();
    wv[9] = INFINITY; /* channel 1, tap (0, 0): NaN where it meets the padding */
    for (int r = 0; r < 2 * 5; r++)
        memcpy(narrow + r * NW, wide + (int64_t)r * W, NW * sizeof(float));
    float *yw = dw_conv_run(wide, W, wv, bv), *yn = dw_conv_run(narrow, NW, wv, bv);
    int same = 0, nan = 0;
    for (int r = 0; yw && yn && r < 6 * 5; r++)
        for (int o = 0; o < NW - 1; o++) {
            same += memcmp(&yw[(int64_t)r * W + o], &yn[r * NW + o], sizeof(float)) == 0;
            nan += isnan(yn[r * NW + o]);
        }
    CHECK_EQ_INT(same, 6 * 5 * (NW - 1));
    CHECK_EQ_INT(nan, 5 + NW - 2); /* row 0 and column 0 of channel 1 */
    au_free_aligned(yw);
    au_free_aligned(yn);
    au_free_aligned(wide);
}

/* Runs Conv (pads 1, strides s, dilations dl, group = channels) on x [1, c, h, w] with
 * weights [c, 1, k, k] and a bias; returns Y (caller frees) or NULL. */
static float *dw_plain_run(const float *xv, int64_t c, int64_t h, int64_t w, const float *wv,
                           int64_t k, const float *bv, int64_t s, int64_t dl)
{
    int64_t pads[4] = {1, 1, 1, 1}, st[2] = {s, s}, dil[2] = {dl, dl};
    struct au_tensor x = {.dtype = AU_DTYPE_F32, .n_dims = 4, .ne = {1, c, h, w}};
    struct au_tensor wt = {.dtype = AU_DTYPE_F32, .n_dims = 4, .ne = {c, 1, k, k}};
    struct au_tensor b = {.dtype = AU_DTYPE_F32, .n_dims = 1, .ne = {c}};
    x.data = (void *)xv;
    wt.data = (void *)wv;
    b.data = (void *)bv;
    struct node_b nb;
    nb_init(&nb, "dw", "Conv");
    nb_ints(&nb, "pads", 4, pads);
    nb_ints(&nb, "strides", 2, st);
    nb_ints(&nb, "dilations", 2, dil);
    nb_int(&nb, "group", c);
    const struct au_tensor *in[3] = {&x, &wt, &b};
    struct au_tensor y;
    struct au_diag d;
    CHECK_EQ_INT(run_op(&nb.node, 3, in, &y, NULL, &d), 0);
    return y.data;
}

/* Depthwise on 8 channels at once (channel-interleaved tiles) gives the bits of the same
 * planes run one channel at a time, Inf weights meeting the padding included. */
static void test_conv_depthwise_by_8_matches_one_channel_bitwise(void)
{
    static const int64_t geo[][5] = {
        {7, 7, 3, 1, 1}, {14, 13, 3, 2, 1}, {9, 11, 3, 1, 2}, {4, 4, 3, 1, 1}, {10, 9, 5, 2, 1}};
    for (size_t gi = 0; gi < sizeof(geo) / sizeof(geo[0]); gi++) {
        int64_t h = geo[gi][0], w = geo[gi][1], k = geo[gi][2], s = geo[gi][3], dl = geo[gi][4];
        float xv[8 * 14 * 13], wv[8 * 25], bv[8];
        for (int64_t i = 0; i < 8 * h * w; i++)
            xv[i] = rfloat();
        for (int64_t i = 0; i < 8 * k * k; i++)
            wv[i] = rfloat();
        for (int i = 0; i < 8; i++)
            bv[i] = rfloat();
        wv[3 * k * k] = INFINITY; /* channel 3, tap (0, 0) */
        float *y8 = dw_plain_run(xv, 8, h, w, wv, k, bv, s, dl);
        int64_t oh = (h + 2 - (k - 1) * dl - 1) / s + 1, ow = (w + 2 - (k - 1) * dl - 1) / s + 1;
        int same = 0;
        for (int64_t c = 0; c < 8; c++) {
            float *y1 = dw_plain_run(xv + c * h * w, 1, h, w, wv + c * k * k, k, bv + c, s, dl);
            for (int64_t i = 0; y8 && y1 && i < oh * ow; i++)
                same += memcmp(&y8[c * oh * ow + i], &y1[i], sizeof(float)) == 0;
            au_free_aligned(y1);
        }
        CHECK_EQ_INT(same, 8 * oh * ow);
        au_free_aligned(y8);
    }
}

/* ---- MaxPool, AveragePool ---- */

struct pool_case {
    bool is_max, ceil_mode, incl_pad;
    int n_sp, auto_pad;
    int64_t n, c;
    struct ref_dim dim[2];
};

/* Reference pooling: visit every tap, count the divisor tap by tap. */
static void ref_pool(const struct pool_case *c, const float *x, double *y)
{
    const struct ref_dim *dh = c->n_sp == 2 ? &c->dim[0] : NULL, *dw = &c->dim[c->n_sp - 1];
    int64_t H = dh ? dh->in : 1, OH = dh ? dh->out : 1, KH = dh ? dh->k : 1;
    for (int64_t p = 0; p < c->n * c->c; p++)
        for (int64_t oh = 0; oh < OH; oh++)
            for (int64_t ow = 0; ow < dw->out; ow++) {
                double acc = c->is_max ? -INFINITY : 0.0;
                int64_t cnt = 0;
                for (int64_t kh = 0; kh < KH; kh++)
                    for (int64_t kw = 0; kw < dw->k; kw++) {
                        int64_t ih = dh ? oh * dh->s - dh->pb + kh * dh->dl : 0;
                        int64_t iw = ow * dw->s - dw->pb + kw * dw->dl;
                        bool in_h = ih >= 0 && ih < H, in_w = iw >= 0 && iw < dw->in;
                        bool pad_h = !dh || (ih >= -dh->pb && ih < H + dh->pe);
                        bool pad_w = iw >= -dw->pb && iw < dw->in + dw->pe;
                        if (c->incl_pad ? (pad_h && pad_w) : (in_h && in_w))
                            cnt++;
                        if (!in_h || !in_w)
                            continue;
                        double v = x[(p * H + ih) * dw->in + iw];
                        acc = c->is_max ? (v > acc ? v : acc) : acc + v;
                    }
                y[(p * OH + oh) * dw->out + ow] = c->is_max ? acc : acc / (double)cnt;
            }
}

static bool pool_check(struct pool_case *c)
{
    for (int i = 0; i < c->n_sp; i++) {
        if (!ref_dim_solve(&c->dim[i], c->auto_pad, c->ceil_mode))
            return false;
        int64_t ext = c->dim[i].dl * (c->dim[i].k - 1) + 1;
        if (c->dim[i].pb >= ext || c->dim[i].pe >= ext)
            return false; /* refused; tested separately */
    }
    int nd = 2 + c->n_sp;
    int64_t xne[4] = {c->n, c->c}, yne[4] = {c->n, c->c};
    for (int i = 0; i < c->n_sp; i++) {
        xne[2 + i] = c->dim[i].in;
        yne[2 + i] = c->dim[i].out;
    }
    struct node_b nb;
    struct win_store ws;
    nb_init(&nb, "poolR", c->is_max ? "MaxPool" : "AveragePool");
    win_attrs_add(&nb, &ws, c->n_sp, c->dim, c->auto_pad, true);
    nb_int(&nb, "ceil_mode", c->ceil_mode);
    if (!c->is_max)
        nb_int(&nb, "count_include_pad", c->incl_pad);
    struct tensor_buf x;
    tb_init(&x, nd, xne);
    const struct au_tensor *in[1] = {&x.t};
    struct au_tensor y;
    struct au_diag d = {{0}};
    CHECK_EQ_INT(run_op(&nb.node, 1, in, &y, NULL, &d), 0);
    if (y.data) {
        double *ref = malloc((size_t)numel(nd, yne) * sizeof(double) + 1);
        ref_pool(c, x.data, ref);
        double e = check_output(&y, nd, yne, ref);
        CHECK(e < 1e-6);
        if (!(e < 1e-6))
            fprintf(stderr, "pool max %d ceil %d incl %d auto_pad %d err %g\n", c->is_max,
                    c->ceil_mode, c->incl_pad, c->auto_pad, e);
        free(ref);
        au_free_aligned(y.data);
    } else {
        fprintf(stderr, "pool: %s\n", d.msg);
    }
    tb_fini(&x);
    return true;
}

static void test_pools_match_reference_on_random_shapes(void)
{
    int done = 0, ceil_hit = 0;
    for (int t = 0; t < 600; t++) {
        struct pool_case c = {.is_max = rnd() & 1, .ceil_mode = rnd() & 1, .incl_pad = rnd() & 1};
        c.n_sp = (int)rint_in(1, 2);
        c.auto_pad = rnd() % 4 == 0 ? (int)rint_in(1, 3) : 0;
        c.n = rint_in(1, 2);
        c.c = rint_in(1, 3);
        for (int i = 0; i < c.n_sp; i++)
            c.dim[i] = (struct ref_dim){.in = rint_in(1, 12),
                                        .k = rint_in(1, 4),
                                        .s = rint_in(1, 3),
                                        .dl = rint_in(1, 2),
                                        .pb = rint_in(0, 2),
                                        .pe = rint_in(0, 2)};
        if (pool_check(&c)) {
            done++;
            /* a ceil_mode case whose last window overhangs the padded input */
            for (int i = 0; i < c.n_sp; i++) {
                struct ref_dim *r = &c.dim[i];
                ceil_hit += c.ceil_mode && !c.auto_pad &&
                            (r->out - 1) * r->s + r->dl * (r->k - 1) + 1 > r->in + r->pb + r->pe;
            }
        }
    }
    CHECK(done > 300);
    CHECK(ceil_hit > 20);
}

/* ONNX's maxpool_2d_ceil / averagepool_2d_ceil: 4x4 ramp 1..16, kernel 3, stride 2. */
static void test_pools_onnx_ceil_examples(void)
{
    float xv[16];
    for (int i = 0; i < 16; i++)
        xv[i] = (float)(i + 1);
    struct au_tensor x = {.dtype = AU_DTYPE_F32, .n_dims = 4, .ne = {1, 1, 4, 4}, .data = xv};
    const struct au_tensor *in[1] = {&x};
    int64_t ks[2] = {3, 3}, st[2] = {2, 2};
    const float want_max[4] = {11, 12, 15, 16}, want_avg[4] = {6, 7.5f, 12, 13.5f};
    for (int is_max = 0; is_max < 2; is_max++) {
        struct node_b nb;
        nb_init(&nb, "p", is_max ? "MaxPool" : "AveragePool");
        nb_ints(&nb, "kernel_shape", 2, ks);
        nb_ints(&nb, "strides", 2, st);
        nb_int(&nb, "ceil_mode", 1);
        struct au_tensor y;
        struct au_diag d;
        CHECK_EQ_INT(run_op(&nb.node, 1, in, &y, NULL, &d), 0);
        if (!y.data)
            continue;
        CHECK_EQ_INT(au_tensor_numel(&y), 4);
        for (int i = 0; i < 4; i++)
            CHECK_NEAR(((float *)y.data)[i], (is_max ? want_max : want_avg)[i], 1e-6);
        au_free_aligned(y.data);
    }
}

/* A bit flip that makes a NaN must survive MaxPool and GlobalMaxPool. */
static void test_maxpool_propagates_nan(void)
{
    float xv[16];
    for (int i = 0; i < 16; i++)
        xv[i] = (float)i;
    xv[5] = NAN;
    struct au_tensor x = {.dtype = AU_DTYPE_F32, .n_dims = 4, .ne = {1, 1, 4, 4}, .data = xv};
    const struct au_tensor *in[1] = {&x};
    int64_t ks[2] = {2, 2}, st[2] = {2, 2};
    struct node_b nb;
    nb_init(&nb, "p", "MaxPool");
    nb_ints(&nb, "kernel_shape", 2, ks);
    nb_ints(&nb, "strides", 2, st);
    struct au_tensor y;
    struct au_diag d;
    CHECK_EQ_INT(run_op(&nb.node, 1, in, &y, NULL, &d), 0);
    if (y.data) {
        const float *yv = y.data;
        CHECK(isnan(yv[0]));
        CHECK_NEAR(yv[1], 7, 0);
        CHECK_NEAR(yv[3], 15, 0);
        au_free_aligned(y.data);
    }
    nb_init(&nb, "g", "GlobalMaxPool");
    CHECK_EQ_INT(run_op(&nb.node, 1, in, &y, NULL, &d), 0);
    if (y.data) {
        CHECK(isnan(((float *)y.data)[0]));
        au_free_aligned(y.data);
    }
}

/* MaxPool's fused windows (2x2 and 3x3, strides 1 and 2, edges and padding rows going
 * the generic way) fold exactly as one step at a time in row-major order would: the
 * first largest value (+0 before -0 if +0 comes first) or the last NaN, payload and all.
 * Inputs mix NaNs of distinct payloads, signed zeros and infinities. */
static float fold_step(float v, float m)
{
    return (v > m || v != v) ? v : m;
}

static void test_maxpool_fused_windows_fold_bitwise(void)
{
    static const float pick[] = {0.0f, -0.0f, 1.0f, -1.0f, 2.0f, INFINITY, -INFINITY};
    int bad = 0, done = 0;
    for (int t = 0; t < 300; t++) {
        int64_t k = rint_in(2, 3), s = rint_in(1, 2), dl = rnd() % 4 == 0 ? 2 : 1;
        int64_t h = rint_in(k, 40), w = rint_in(k, 40), pt = rint_in(0, k - 1),
                pl = rint_in(0, k - 1);
        int64_t ext = (k - 1) * dl + 1;
        if (h + 2 * pt < ext || w + 2 * pl < ext || ext <= pt || ext <= pl)
            continue;
        int64_t oh = (h + 2 * pt - ext) / s + 1, ow = (w + 2 * pl - ext) / s + 1;
        int64_t xne[4] = {1, 2, h, w}, ks[2] = {k, k}, st[2] = {s, s}, dil[2] = {dl, dl};
        int64_t pads[4] = {pt, pl, pt, pl};
        struct tensor_buf x;
        tb_init(&x, 4, xne);
        for (int64_t i = 0; i < 2 * h * w; i++) {
            uint32_t r = rnd() % 16, nan = 0x7fc00000u | (rnd() & 0x3fffffu) | (rnd() & 1u) << 31;
            if (r < 2)
                memcpy(&x.data[i], &nan, sizeof(nan));
            else if (r < 9)
                x.data[i] = pick[r - 2];
        }
        struct node_b nb;
        nb_init(&nb, "mp", "MaxPool");
        nb_ints(&nb, "kernel_shape", 2, ks);
        nb_ints(&nb, "strides", 2, st);
        nb_ints(&nb, "dilations", 2, dil);
        nb_ints(&nb, "pads", 4, pads);
        const struct au_tensor *in[1] = {&x.t};
        struct au_tensor y;
        struct au_diag d;
        CHECK_EQ_INT(run_op(&nb.node, 1, in, &y, NULL, &d), 0);
        for (int64_t p = 0; y.data && p < 2; p++)
            for (int64_t r = 0; r < oh; r++)
                for (int64_t o = 0; o < ow; o++) {
                    float m = -INFINITY;
                    for (int64_t ki = 0; ki < k; ki++)
                        for (int64_t kj = 0; kj < k; kj++) {
                            int64_t ih = r * s - pt + ki * dl, iw = o * s - pl + kj * dl;
                            if (ih >= 0 && ih < h && iw >= 0 && iw < w)
                                m = fold_step(x.data[(p * h + ih) * w + iw], m);
                        }
                    bad += memcmp(&m, &((float *)y.data)[(p * oh + r) * ow + o], sizeof(m)) != 0;
                }
        done += y.data != NULL;
        au_free_aligned(y.data);
        tb_fini(&x);
    }
    CHECK(done > 200);
    CHECK_EQ_INT(bad, 0);
}

static void test_pool_errors(void)
{
    struct au_tensor x = {.dtype = AU_DTYPE_F32, .n_dims = 4, .ne = {1, 2, 6, 6}};
    const struct au_tensor *in[1] = {&x};
    struct node_b nb;
    struct au_diag d;
    int64_t ks[2] = {3, 3}, big_pads[4] = {3, 0, 0, 0};
    nb_init(&nb, "pool7", "MaxPool");
    CHECK_EQ_INT(infer_only(&nb.node, 1, in, 1, &d), AU_INVALID);
    CHECK(strcmp(d.msg, "pool7: MaxPool: attribute kernel_shape is required") == 0);
    nb_ints(&nb, "kernel_shape", 2, ks);
    CHECK_EQ_INT(infer_only(&nb.node, 1, in, 1, &d), 0);
    CHECK_EQ_INT(infer_only(&nb.node, 1, in, 2, &d), AU_UNSUPPORTED);
    CHECK(strcmp(d.msg, "pool7: MaxPool: the Indices output is not supported") == 0);
    nb_ints(&nb, "pads", 4, big_pads);
    CHECK_EQ_INT(infer_only(&nb.node, 1, in, 1, &d), AU_INVALID);
    CHECK(strstr(d.msg, "pool7: MaxPool: pads 3,0") == d.msg);
    nb_init(&nb, "avg", "AveragePool");
    nb_ints(&nb, "kernel_shape", 1, ks);
    CHECK_EQ_INT(infer_only(&nb.node, 1, in, 1, &d), AU_INVALID);
    CHECK(strstr(d.msg, "avg: AveragePool: kernel_shape has 1 values") == d.msg);
    x.n_dims = 2;
    CHECK_EQ_INT(infer_only(&nb.node, 1, in, 1, &d), AU_SHAPE);
    nb_init(&nb, "gap", "GlobalAveragePool");
    CHECK_EQ_INT(infer_only(&nb.node, 1, in, 1, &d), AU_SHAPE);
    CHECK(strstr(d.msg, "gap: GlobalAveragePool: input has shape [1,2]") == d.msg);
}

static void test_global_pools_match_reference(void)
{
    for (int t = 0; t < 20; t++) {
        int nd = (int)rint_in(3, 5);
        int64_t ne[5];
        for (int i = 0; i < nd; i++)
            ne[i] = rint_in(1, i < 2 ? 4 : 9);
        struct tensor_buf x;
        tb_init(&x, nd, ne);
        const struct au_tensor *in[1] = {&x.t};
        int64_t planes = ne[0] * ne[1], len = numel(nd, ne) / planes;
        for (int is_max = 0; is_max < 2; is_max++) {
            struct node_b nb;
            nb_init(&nb, "g", is_max ? "GlobalMaxPool" : "GlobalAveragePool");
            struct au_tensor y;
            struct au_diag d;
            CHECK_EQ_INT(run_op(&nb.node, 1, in, &y, NULL, &d), 0);
            if (!y.data)
                continue;
            CHECK_EQ_INT(y.n_dims, nd);
            CHECK_EQ_INT(au_tensor_numel(&y), planes);
            for (int64_t p = 0; p < planes; p++) {
                double acc = is_max ? -INFINITY : 0;
                for (int64_t i = 0; i < len; i++) {
                    double v = x.data[p * len + i];
                    acc = is_max ? fmax(acc, v) : acc + v;
                }
                CHECK_NEAR(((float *)y.data)[p], is_max ? acc : acc / (double)len, 1e-6);
            }
            au_free_aligned(y.data);
        }
        tb_fini(&x);
    }
}

/* ---- Gemm ---- */

/* m_fix / n_fix: force M or N (the sgemv paths), 0 = random. */
static int64_t m_fix, n_fix;

static void gemm_case(bool ta, bool tb, int c_nd, const int64_t *c_ne, float alpha, float beta)
{
    int64_t m = m_fix ? m_fix : rint_in(1, 9), n = n_fix ? n_fix : rint_in(1, 9);
    int64_t k = rint_in(1, 9);
    int64_t ane[2] = {ta ? k : m, ta ? m : k}, bne[2] = {tb ? n : k, tb ? k : n}, cne[2];
    for (int i = 0; i < c_nd; i++) /* c_ne: 0 = M or N by position, 1 = broadcast */
        cne[i] = c_ne[i] ? 1 : (i == c_nd - 1 ? n : m);
    struct tensor_buf a, b, c;
    tb_init(&a, 2, ane);
    tb_init(&b, 2, bne);
    tb_init(&c, c_nd < 0 ? 0 : c_nd, cne);
    struct node_b nb;
    nb_init(&nb, "fc", "Gemm");
    nb_int(&nb, "transA", ta);
    nb_int(&nb, "transB", tb);
    nb_float(&nb, "alpha", alpha);
    nb_float(&nb, "beta", beta);
    const struct au_tensor *in[3] = {&a.t, &b.t, c_nd >= 0 ? &c.t : NULL};
    struct au_tensor y;
    struct au_diag d;
    uint64_t macs = 0;
    CHECK_EQ_INT(run_op(&nb.node, 3, in, &y, &macs, &d), 0);
    if (y.data) {
        CHECK_EQ_INT(y.ne[0], m);
        CHECK_EQ_INT(y.ne[1], n);
        CHECK_EQ_U64(macs, (uint64_t)(m * n * k));
        double err = 0;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double acc = 0;
                for (int64_t q = 0; q < k; q++)
                    acc += (double)a.data[ta ? q * m + i : i * k + q] *
                           b.data[tb ? j * k + q : q * n + j];
                acc *= alpha;
                if (c_nd >= 0) {
                    int64_t ci = c_nd == 2 && cne[0] != 1 ? i : 0;
                    int64_t cj = c_nd >= 1 && cne[c_nd - 1] != 1 ? j : 0;
                    acc += beta * c.data[ci * (c_nd == 2 ? cne[1] : 0) + cj];
                }
                err = worse(err, fabs(acc - ((float *)y.data)[i * n + j]));
            }
        CHECK(err < 1e-5);
        au_free_aligned(y.data);
    }
    tb_fini(&a);
    tb_fini(&b);
    tb_fini(&c);
}

static void test_gemm_transposes_and_broadcast_c(void)
{
    static const int64_t shapes[][2] = {{0, 0}, {1, 0}, {0, 1}, {1, 1}};
    static const int64_t fixes[][2] = {{0, 0}, {1, 0}, {0, 1}, {1, 1}};
    for (int f = 0; f < 4; f++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                m_fix = fixes[f][0];
                n_fix = fixes[f][1];
                gemm_case(ta, tb, -1, NULL, 1.0f, 1.0f);
                gemm_case(ta, tb, 0, NULL, 0.5f, 2.0f);           /* scalar C */
                gemm_case(ta, tb, 1, shapes[0] + 1, 1.5f, -1.0f); /* [N] */
                gemm_case(ta, tb, 1, shapes[1], 1.0f, 0.25f);     /* [1] */
                for (int s = 0; s < 4; s++)
                    gemm_case(ta, tb, 2, shapes[s], -0.75f, 1.0f);
                gemm_case(ta, tb, 2, shapes[0], 1.0f, 0.0f); /* beta 0 ignores C */
            }
    m_fix = n_fix = 0;
}

static void test_gemm_errors(void)
{
    struct au_tensor a = {.dtype = AU_DTYPE_F32, .n_dims = 2, .ne = {3, 4}};
    struct au_tensor b = {.dtype = AU_DTYPE_F32, .n_dims = 2, .ne = {5, 6}};
    struct au_tensor c = {.dtype = AU_DTYPE_F32, .n_dims = 2, .ne = {4, 6}};
    const struct au_tensor *in[3] = {&a, &b, NULL};
    struct node_b nb;
    struct au_diag d;
    nb_init(&nb, "fc2", "Gemm");
    CHECK_EQ_INT(infer_only(&nb.node, 2, in, 1, &d), AU_SHAPE);
    CHECK(strcmp(d.msg, "fc2: Gemm: A gives K = 4 but B gives K = 5") == 0);
    b.ne[0] = 4;
    in[2] = &c;
    CHECK_EQ_INT(infer_only(&nb.node, 3, in, 1, &d), AU_SHAPE);
    CHECK(strstr(d.msg, "fc2: Gemm: C has shape [4,6]") == d.msg);
    c.ne[0] = 3;
    CHECK_EQ_INT(infer_only(&nb.node, 3, in, 1, &d), 0);
    a.n_dims = 3, a.ne[2] = 1;
    CHECK_EQ_INT(infer_only(&nb.node, 3, in, 1, &d), AU_SHAPE);
    CHECK(strstr(d.msg, "fc2: Gemm: A has shape [3,4,1]") == d.msg);
}

/* ---- MatMul ---- */

/* Reference matmul into ref (batch-major like Y): promote both shapes to rank 8 with
 * leading 1s, then broadcast batch dims by zeroing the index on size-1 dims. */
static void ref_matmul(const struct tensor_buf *a, const struct tensor_buf *b, double *ref)
{
    int an = a->t.n_dims, bn = b->t.n_dims;
    int64_t A[8], B[8], k = a->t.ne[an - 1];
    for (int i = 0; i < 8; i++)
        A[i] = B[i] = 1;
    for (int i = 0; i < an; i++)
        A[8 - an + i] = a->t.ne[i];
    for (int i = 0; i < bn; i++)
        B[8 - bn + i] = b->t.ne[i];
    if (bn == 1)
        B[6] = k, B[7] = 1;
    int64_t m = A[6], n = B[7], nbatch = 1, bat[6];
    for (int i = 0; i < 6; i++)
        nbatch *= bat[i] = A[i] == 1 ? B[i] : A[i]; /* 1 broadcasts, even against 0 */
    for (int64_t t = 0; t < nbatch; t++) {
        int64_t ao = 0, bo = 0, r = t, sa = 1, sb = 1;
        for (int i = 5; i >= 0; i--) {
            int64_t idx = r % bat[i];
            r /= bat[i];
            ao += (A[i] == 1 ? 0 : idx) * sa;
            bo += (B[i] == 1 ? 0 : idx) * sb;
            sa *= A[i];
            sb *= B[i];
        }
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double acc = 0;
                for (int64_t q = 0; q < k; q++)
                    acc += (double)a->data[(ao * m + i) * k + q] * b->data[(bo * k + q) * n + j];
                ref[(t * m + i) * n + j] = acc;
            }
    }
}

static void matmul_case(int an, const int64_t *ane, int bn, const int64_t *bne, int yn,
                        const int64_t *yne)
{
    struct tensor_buf a, b;
    tb_init(&a, an, ane);
    tb_init(&b, bn, bne);
    struct node_b nb;
    nb_init(&nb, "mm", "MatMul");
    const struct au_tensor *in[2] = {&a.t, &b.t};
    struct au_tensor y;
    struct au_diag d;
    uint64_t macs = 0;
    CHECK_EQ_INT(run_op(&nb.node, 2, in, &y, &macs, &d), 0);
    if (y.data) {
        double *ref = malloc((size_t)numel(yn, yne) * sizeof(double) + 1);
        ref_matmul(&a, &b, ref);
        double err = check_output(&y, yn, yne, ref);
        CHECK(err < 1e-5);
        if (!(err < 1e-5)) {
            char sa[192], sb[192];
            fprintf(stderr, "matmul %s x %s: err %g\n", au_tensor_shape_str(&a.t, sa, sizeof(sa)),
                    au_tensor_shape_str(&b.t, sb, sizeof(sb)), err);
        }
        CHECK_EQ_U64(macs, (uint64_t)(au_tensor_numel(&y) * ane[an - 1]));
        free(ref);
        au_free_aligned(y.data);
    }
    tb_fini(&a);
    tb_fini(&b);
}

static void test_matmul_numpy_broadcasting(void)
{
    const int64_t a1[] = {2, 1, 3, 4}, b1[] = {5, 4, 6}, y1[] = {2, 5, 3, 6};
    matmul_case(4, a1, 3, b1, 4, y1);
    const int64_t a2[] = {4}, b2[] = {4};
    matmul_case(1, a2, 1, b2, 0, NULL);
    const int64_t a3[] = {7}, b3[] = {2, 7, 3}, y3[] = {2, 3};
    matmul_case(1, a3, 3, b3, 2, y3);
    const int64_t a4[] = {2, 3, 5}, b4[] = {5}, y4[] = {2, 3};
    matmul_case(3, a4, 1, b4, 2, y4);
    const int64_t a5[] = {3, 4, 5, 6}, b5[] = {6, 7}, y5[] = {3, 4, 5, 7}; /* folds into M */
    matmul_case(4, a5, 2, b5, 4, y5);
    const int64_t a6[] = {4, 5}, b6[] = {3, 5, 2}, y6[] = {3, 4, 2}; /* A broadcast */
    matmul_case(2, a6, 3, b6, 3, y6);
    const int64_t a7[] = {3, 1, 2, 4}, b7[] = {1, 5, 4, 2}, y7[] = {3, 5, 2, 2};
    matmul_case(4, a7, 4, b7, 4, y7);
    const int64_t a8[] = {1, 3, 4}, b8[] = {4, 2}, y8[] = {1, 3, 2};
    matmul_case(3, a8, 2, b8, 3, y8);
    const int64_t a9[] = {3, 0}, b9[] = {0, 4}, y9[] = {3, 4}; /* K = 0: zeros */
    matmul_case(2, a9, 2, b9, 2, y9);
    const int64_t a10[] = {0, 3, 2}, b10[] = {2, 5}, y10[] = {0, 3, 5}; /* empty batch */
    matmul_case(3, a10, 2, b10, 3, y10);
    for (int t = 0; t < 30; t++) { /* random broadcastable batch shapes */
        int an = (int)rint_in(1, 5), bn = (int)rint_in(1, 5), nb = 0;
        int64_t ane[5], bne[5], yne[8], m = rint_in(1, 5), n = rint_in(1, 5), k = rint_in(1, 5);
        int ab = an > 2 ? an - 2 : 0, bb = bn > 2 ? bn - 2 : 0, mb = ab > bb ? ab : bb;
        for (int i = 0; i < mb; i++) {
            int64_t dim = rint_in(1, 3);
            int ia = i - (mb - ab), ib = i - (mb - bb);
            int64_t da = rnd() % 3 ? dim : 1, db = rnd() % 3 ? dim : 1;
            if (ia >= 0)
                ane[ia] = da;
            if (ib >= 0)
                bne[ib] = db;
            yne[nb++] =
                (ia >= 0 ? da : 1) > (ib >= 0 ? db : 1) ? (ia >= 0 ? da : 1) : (ib >= 0 ? db : 1);
        }
        if (an >= 2)
            ane[an - 2] = m, yne[nb++] = m;
        ane[an - 1] = k;
        if (bn >= 2)
            bne[bn - 2] = k, bne[bn - 1] = n, yne[nb++] = n;
        else
            bne[0] = k;
        matmul_case(an, ane, bn, bne, nb, yne);
    }
}

static void test_matmul_errors(void)
{
    struct au_tensor a = {.dtype = AU_DTYPE_F32, .n_dims = 3, .ne = {2, 3, 4}};
    struct au_tensor b = {.dtype = AU_DTYPE_F32, .n_dims = 3, .ne = {3, 4, 5}};
    const struct au_tensor *in[2] = {&a, &b};
    struct node_b nb;
    struct au_diag d;
    nb_init(&nb, "mm3", "MatMul");
    CHECK_EQ_INT(infer_only(&nb.node, 2, in, 1, &d), AU_SHAPE);
    CHECK(strcmp(d.msg, "mm3: MatMul: batch dims of A [2,3,4] and B [3,4,5] do not broadcast") ==
          0);
    b.ne[0] = 2, b.ne[1] = 5;
    CHECK_EQ_INT(infer_only(&nb.node, 2, in, 1, &d), AU_SHAPE);
    CHECK(strstr(d.msg, "inner dims 4 and 5 differ") != NULL);
    b.ne[1] = 4;
    b.dtype = AU_DTYPE_F64;
    CHECK_EQ_INT(infer_only(&nb.node, 2, in, 1, &d), AU_DTYPE);
    CHECK(strcmp(d.msg, "mm3: MatMul: B is float64, only float32 is supported") == 0);
    b.dtype = AU_DTYPE_F32;
    a.ne[0] = -1; /* symbolic dim left unresolved */
    CHECK_EQ_INT(infer_only(&nb.node, 2, in, 1, &d), AU_SHAPE);
    CHECK(strcmp(d.msg, "mm3: MatMul: A has shape [-1,3,4], expected known dims") == 0);
}

/* ---- BatchNormalization ---- */

static void test_batchnorm_matches_formula(void)
{
    int64_t xne[4] = {2, 3, 4, 5}, cne[1] = {3};
    struct tensor_buf x, p[4];
    tb_init(&x, 4, xne);
    for (int i = 0; i < 4; i++)
        tb_init(&p[i], 1, cne);
    for (int i = 0; i < 3; i++)
        p[3].data[i] = fabsf(p[3].data[i]) + 0.1f; /* variance > 0 */
    struct node_b nb;
    nb_init(&nb, "bn", "BatchNormalization");
    nb_float(&nb, "epsilon", 1e-3f);
    const struct au_tensor *in[5] = {&x.t, &p[0].t, &p[1].t, &p[2].t, &p[3].t};
    struct au_tensor y;
    struct au_diag d;
    uint64_t macs;
    CHECK_EQ_INT(run_op(&nb.node, 5, in, &y, &macs, &d), 0);
    if (y.data) {
        CHECK(au_tensor_same_shape(&y, &x.t));
        double err = 0;
        for (int64_t i = 0; i < 120; i++) {
            int64_t c = i / 20 % 3;
            double want = ((double)x.data[i] - p[2].data[c]) /
                              sqrt((double)p[3].data[c] + (double)1e-3f) * p[0].data[c] +
                          p[1].data[c];
            err = worse(err, fabs(want - ((float *)y.data)[i]));
        }
        CHECK(err < 1e-5);
        au_free_aligned(y.data);
    }
    nb_int(&nb, "training_mode", 1);
    CHECK_EQ_INT(infer_only(&nb.node, 5, in, 1, &d), AU_UNSUPPORTED);
    CHECK(strcmp(d.msg, "bn: BatchNormalization: training_mode=1 is not supported") == 0);
    nb.node.n_attrs = 1;
    p[2].t.ne[0] = 4;
    CHECK_EQ_INT(infer_only(&nb.node, 5, in, 1, &d), AU_SHAPE);
    CHECK(strcmp(d.msg, "bn: BatchNormalization: input_mean has shape [4], expected [3]") == 0);
    p[2].t.ne[0] = 3;
    in[4] = NULL;
    CHECK_EQ_INT(infer_only(&nb.node, 5, in, 1, &d), AU_INVALID);
    tb_fini(&x);
    for (int i = 0; i < 4; i++)
        tb_fini(&p[i]);
}

/* ---- threads ---- */

/* Runs node on inputs with 1, 2 and 3 threads; the outputs must be bit-identical. */
static void check_thread_invariant(struct au_node *node, int n_in,
                                   const struct au_tensor *const *in)
{
    struct au_tensor y[3];
    struct au_diag d;
    for (int t = 0; t < 3; t++) {
        au_set_threads(t + 1);
        CHECK_EQ_INT(run_op(node, n_in, in, &y[t], NULL, &d), 0);
    }
    au_set_threads(2);
    if (!y[0].data || !y[1].data || !y[2].data)
        return;
    size_t nbytes = au_tensor_nbytes(&y[0]);
    CHECK(memcmp(y[0].data, y[1].data, nbytes) == 0);
    CHECK(memcmp(y[0].data, y[2].data, nbytes) == 0);
    for (int t = 0; t < 3; t++)
        au_free_aligned(y[t].data);
}

/* Big enough to split across threads: depthwise, dense single-channel conv, pools, BN,
 * global pools. */
static void test_threaded_kernels_are_bit_identical(void)
{
    int64_t xne[4] = {2, 32, 56, 56}, dwne[4] = {32, 1, 3, 3};
    int64_t cne[1] = {32}, pads[4] = {1, 1, 1, 1}, ks[2] = {3, 3}, st[2] = {2, 2};
    struct tensor_buf x, dw, p[4];
    tb_init(&x, 4, xne);
    tb_init(&dw, 4, dwne);
    for (int i = 0; i < 4; i++)
        tb_init(&p[i], 1, cne);
    for (int i = 0; i < 32; i++)
        p[3].data[i] = fabsf(p[3].data[i]) + 0.5f;
    struct node_b nb;
    nb_init(&nb, "dw", "Conv");
    nb_ints(&nb, "pads", 4, pads);
    nb_int(&nb, "group", 32);
    const struct au_tensor *in_dw[2] = {&x.t, &dw.t};
    check_thread_invariant(&nb.node, 2, in_dw);
    const struct au_tensor *in_x[1] = {&x.t};
    for (int is_max = 0; is_max < 2; is_max++) {
        nb_init(&nb, "pool", is_max ? "MaxPool" : "AveragePool");
        nb_ints(&nb, "kernel_shape", 2, ks);
        nb_ints(&nb, "strides", 2, st);
        nb_ints(&nb, "pads", 4, pads);
        check_thread_invariant(&nb.node, 1, in_x);
        nb_init(&nb, "gp", is_max ? "GlobalMaxPool" : "GlobalAveragePool");
        check_thread_invariant(&nb.node, 1, in_x);
    }
    /* The direct single-channel conv (a LeNet conv1 on 8 images) and the 2x2 stride-2
     * MaxPool fast path split by planes too. */
    int64_t lx_ne[4] = {8, 1, 28, 28}, lw_ne[4] = {6, 1, 5, 5}, lpads[4] = {2, 2, 2, 2};
    int64_t k2[2] = {2, 2}, s2[2] = {2, 2};
    struct tensor_buf lx, lw;
    tb_init(&lx, 4, lx_ne);
    tb_init(&lw, 4, lw_ne);
    nb_init(&nb, "conv1", "Conv");
    nb_ints(&nb, "pads", 4, lpads);
    const struct au_tensor *in_c1[2] = {&lx.t, &lw.t};
    check_thread_invariant(&nb.node, 2, in_c1);
    nb_init(&nb, "pool2x2", "MaxPool");
    nb_ints(&nb, "kernel_shape", 2, k2);
    nb_ints(&nb, "strides", 2, s2);
    check_thread_invariant(&nb.node, 1, in_x);
    tb_fini(&lx);
    tb_fini(&lw);
    nb_init(&nb, "bn", "BatchNormalization");
    const struct au_tensor *in_bn[5] = {&x.t, &p[0].t, &p[1].t, &p[2].t, &p[3].t};
    check_thread_invariant(&nb.node, 5, in_bn);
    /* Threaded depthwise and im2col still match the reference. sgemm itself may round
     * differently per thread count (OpenBLAS), so dense conv is not compared bitwise. */
    struct conv_case c = {.n_sp = 2, .n = 2, .c_in = 32, .c_out = 32, .group = 32, .bias = true};
    c.dim[0] = (struct ref_dim){.in = 56, .k = 3, .s = 1, .dl = 1, .pb = 1, .pe = 1};
    c.dim[1] = c.dim[0];
    CHECK(conv_check(&c));
    c.c_out = 8;
    c.group = 1;
    CHECK(conv_check(&c));
    tb_fini(&x);
    tb_fini(&dw);
    for (int i = 0; i < 4; i++)
        tb_fini(&p[i]);
}

int main(void)
{
    rng_state = check_seed();
    test_conv_matches_direct_reference_on_random_shapes();
    test_conv_paths_large_planes_and_batches();
    test_conv_onnx_example_strides_padding();
    test_conv_inf_weight_same_on_every_path();
    test_conv_errors_name_node_and_reason();
    test_conv_run_refuses_short_scratch();
    test_conv_single_channel_matches_reference_on_random_shapes();
    test_conv_fixed_shapes_on_every_path();
    test_conv_single_channel_paths_agree_bitwise();
    test_conv_depthwise_by_8_matches_one_channel_bitwise();
    test_pools_match_reference_on_random_shapes();
    test_pools_onnx_ceil_examples();
    test_maxpool_propagates_nan();
    test_maxpool_fused_windows_fold_bitwise();
    test_pool_errors();
    test_global_pools_match_reference();
    test_gemm_transposes_and_broadcast_c();
    test_gemm_errors();
    test_matmul_numpy_broadcasting();
    test_matmul_errors();
    test_batchnorm_matches_formula();
    test_threaded_kernels_are_bit_identical();
    return check_report("test_ops_nn");
}

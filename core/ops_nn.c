/* The neural-network op family with ONNX semantics (opsets 11-17): Conv, Gemm, MatMul,
 * MaxPool, AveragePool, the global pools and inference BatchNormalization. infer()
 * validates everything the kernels rely on and resolves attributes into plain geometry;
 * run() resolves them again (a few dozen integer ops, cheaper than caching state in the
 * node) and calls kern_*.c. float32 only; Conv and pools take 1-D and 2-D inputs. */
#include "kern.h"
#include "op.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LBL(ctx) au_node_label((ctx)->node)

enum pad_mode { PAD_NOTSET, PAD_SAME_UPPER, PAD_SAME_LOWER, PAD_VALID };

/* Spatial attributes of a windowed op, per spatial dim (outermost first). */
struct win_attrs {
    int n_sp;
    int64_t in[2], k[2], s[2], dl[2], pb[2], pe[2], out[2];
};

static const struct au_tensor *opt_in(const struct au_op_ctx *ctx, int i)
{
    return i < ctx->n_in ? ctx->in[i] : NULL;
}

static int shape_err(const struct au_op_ctx *ctx, const char *op, const char *what,
                     const struct au_tensor *t, const char *expect, struct au_diag *d)
{
    char buf[192];
    return au_diag_set(d, AU_SHAPE, "%s: %s: %s has shape %s, expected %s", LBL(ctx), op, what,
                       au_tensor_shape_str(t, buf, sizeof(buf)), expect);
}

/* Input i must be present and float32 with known dims; `what` names it in the message. */
static int need_f32(const struct au_op_ctx *ctx, int i, const char *op, const char *what,
                    struct au_diag *d)
{
    const struct au_tensor *t = opt_in(ctx, i);
    if (!t)
        return au_diag_set(d, AU_INVALID, "%s: %s: missing input %s", LBL(ctx), op, what);
    if (t->dtype != AU_DTYPE_F32)
        return au_diag_set(d, AU_DTYPE, "%s: %s: %s is %s, only float32 is supported", LBL(ctx), op,
                           what, au_dtype_name(t->dtype));
    for (int j = 0; j < t->n_dims; j++)
        if (t->ne[j] < 0) /* a symbolic dim that prepare did not fix */
            return shape_err(ctx, op, what, t, "known dims", d);
    return AU_OK;
}

/* n int values in [lo, INT_MAX] from attribute `name`, or dflt for all when absent. */
static int attr_ints(const struct au_op_ctx *ctx, const char *op, const char *name, int n,
                     int64_t dflt, int64_t lo, int64_t *v, struct au_diag *d)
{
    const int64_t *vals = NULL;
    int got = au_node_attr_ints(ctx->node, name, &vals);
    if (got < 0 && au_node_attr(ctx->node, name))
        return au_diag_set(d, AU_INVALID, "%s: %s: attribute %s must be a list of ints", LBL(ctx),
                           op, name);
    if (got >= 0 && got != n)
        return au_diag_set(d, AU_INVALID, "%s: %s: %s has %d values, expected %d", LBL(ctx), op,
                           name, got, n);
    for (int i = 0; i < n; i++) {
        v[i] = got < 0 ? dflt : vals[i];
        if (v[i] < lo || v[i] > INT_MAX)
            return au_diag_set(d, AU_INVALID, "%s: %s: %s[%d] = %" PRId64 " is out of range",
                               LBL(ctx), op, name, i, v[i]);
    }
    return AU_OK;
}

static int read_pad_mode(const struct au_op_ctx *ctx, const char *op, enum pad_mode *m,
                         struct au_diag *d)
{
    const char *s = au_node_attr_string(ctx->node, "auto_pad", "NOTSET");
    static const char *const names[] = {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, names[i]) == 0) {
            *m = (enum pad_mode)i;
            return AU_OK;
        }
    }
    if (s[0] == '\0') {
        *m = PAD_NOTSET;
        return AU_OK;
    }
    return au_diag_set(d, AU_INVALID, "%s: %s: unknown auto_pad '%s'", LBL(ctx), op, s);
}

/* Output size of spatial dim i; pads are fixed here for the SAME and VALID modes. ONNX
 * and PyTorch drop a ceil_mode window that would start in the end padding. */
static int win_out_dim(const struct au_op_ctx *ctx, const char *op, enum pad_mode m, bool ceil_mode,
                       struct win_attrs *w, int i, struct au_diag *d)
{
    int64_t dk = (w->k[i] - 1) * w->dl[i] + 1, s = w->s[i];
    if (m == PAD_SAME_UPPER || m == PAD_SAME_LOWER) {
        w->out[i] = (w->in[i] + s - 1) / s;
        int64_t total = (w->out[i] - 1) * s + dk - w->in[i];
        total = total > 0 ? total : 0;
        w->pb[i] = m == PAD_SAME_UPPER ? total / 2 : total - total / 2;
        w->pe[i] = total - w->pb[i];
        return AU_OK;
    }
    if (m == PAD_VALID)
        w->pb[i] = w->pe[i] = 0;
    int64_t span = w->in[i] + w->pb[i] + w->pe[i] - dk;
    if (span < 0)
        return au_diag_set(d, AU_SHAPE,
                           "%s: %s: kernel extent %" PRId64 " exceeds padded input %" PRId64
                           " on spatial axis %d",
                           LBL(ctx), op, dk, w->in[i] + w->pb[i] + w->pe[i], i);
    w->out[i] = (ceil_mode ? span + s - 1 : span) / s + 1;
    if (ceil_mode && (w->out[i] - 1) * s >= w->in[i] + w->pb[i])
        w->out[i]--;
    return AU_OK;
}

/* Strides, dilations, pads and auto_pad for w->n_sp dims whose in[] and k[] are set. */
static int win_resolve(const struct au_op_ctx *ctx, const char *op, bool ceil_mode,
                       struct win_attrs *w, struct au_diag *d)
{
    int64_t pads[4];
    enum pad_mode m = PAD_NOTSET;
    int st;
    if ((st = attr_ints(ctx, op, "strides", w->n_sp, 1, 1, w->s, d)) < 0 ||
        (st = attr_ints(ctx, op, "dilations", w->n_sp, 1, 1, w->dl, d)) < 0 ||
        (st = attr_ints(ctx, op, "pads", 2 * w->n_sp, 0, 0, pads, d)) < 0 ||
        (st = read_pad_mode(ctx, op, &m, d)) < 0)
        return st;
    for (int i = 0; i < w->n_sp; i++) {
        w->pb[i] = pads[i];
        w->pe[i] = pads[w->n_sp + i];
        if ((st = win_out_dim(ctx, op, m, ceil_mode, w, i, d)) < 0)
            return st;
    }
    return AU_OK;
}

/* run() gets the scratch infer() asked for; anything less is an executor bug, but it
 * is reported rather than trusted. */
static int check_scratch(const struct au_op_ctx *ctx, const char *op, size_t need,
                         struct au_diag *d)
{
    if (need > 0 && (!ctx->scratch || ctx->scratch_bytes < need))
        return au_diag_set(d, AU_INVALID, "%s: %s: scratch has %zu bytes, needs %zu", LBL(ctx), op,
                           ctx->scratch ? ctx->scratch_bytes : 0, need);
    return AU_OK;
}

/* 1-D windows become 2-D ones with a unit H axis. */
static void win_to_2d(const struct win_attrs *w, struct au_win2d *g)
{
    int j = w->n_sp - 1; /* W axis */
    bool two = w->n_sp == 2;
    *g = (struct au_win2d){
        .h = two ? w->in[0] : 1,
        .w = w->in[j],
        .oh = two ? w->out[0] : 1,
        .ow = w->out[j],
        .kh = two ? w->k[0] : 1,
        .kw = w->k[j],
        .sh = two ? w->s[0] : 1,
        .sw = w->s[j],
        .dh = two ? w->dl[0] : 1,
        .dw = w->dl[j],
        .pt = two ? w->pb[0] : 0,
        .pl = w->pb[j],
        .pb = two ? w->pe[0] : 0,
        .pr = w->pe[j],
    };
}

/* X must be [N, C, L] or [N, C, H, W]. */
static int spatial_input(const struct au_op_ctx *ctx, const char *op, const struct au_tensor *x,
                         struct win_attrs *w, struct au_diag *d)
{
    if (x->n_dims < 3)
        return shape_err(ctx, op, "input", x, "[N,C,L] or [N,C,H,W]", d);
    if (x->n_dims > 4)
        return au_diag_set(d, AU_UNSUPPORTED, "%s: %s: %d-D spatial input is not supported",
                           LBL(ctx), op, x->n_dims - 2);
    w->n_sp = x->n_dims - 2;
    for (int i = 0; i < w->n_sp; i++) {
        w->in[i] = x->ne[2 + i];
        if (w->in[i] < 1 || w->in[i] > INT_MAX)
            return shape_err(ctx, op, "input", x, "non-empty spatial dims", d);
    }
    return AU_OK;
}

/* ---- Conv ---- */

static int conv_weights(const struct au_op_ctx *ctx, const struct au_tensor *x,
                        const struct au_tensor *w, int64_t group, struct au_diag *d)
{
    const char *lbl = LBL(ctx);
    if (w->n_dims != x->n_dims)
        return au_diag_set(d, AU_SHAPE, "%s: Conv: weight has rank %d, input has rank %d", lbl,
                           w->n_dims, x->n_dims);
    int64_t c_in = x->ne[1];
    if (group < 1 || group > INT_MAX || c_in % group != 0)
        return au_diag_set(d, AU_SHAPE,
                           "%s: Conv: input has %" PRId64
                           " channels, not divisible by group %" PRId64,
                           lbl, c_in, group);
    if (w->ne[1] * group != c_in) {
        if (group == 1)
            return au_diag_set(d, AU_SHAPE,
                               "%s: Conv: weight has %" PRId64 " channels, input has %" PRId64, lbl,
                               w->ne[1], c_in);
        return au_diag_set(d, AU_SHAPE,
                           "%s: Conv: weight has %" PRId64 " channels per group x group %" PRId64
                           ", input has %" PRId64,
                           lbl, w->ne[1], group, c_in);
    }
    if (w->ne[0] < 1 || w->ne[0] % group != 0)
        return au_diag_set(d, AU_SHAPE,
                           "%s: Conv: weight has %" PRId64
                           " output channels, not a positive multiple of group %" PRId64,
                           lbl, w->ne[0], group);
    return AU_OK;
}

/* Kernel size comes from W; an explicit kernel_shape must agree with it. */
static int conv_kernel(const struct au_op_ctx *ctx, const struct au_tensor *w, struct win_attrs *wa,
                       struct au_diag *d)
{
    int64_t ks[2];
    for (int i = 0; i < wa->n_sp; i++) {
        wa->k[i] = w->ne[2 + i];
        if (wa->k[i] < 1 || wa->k[i] > INT_MAX)
            return shape_err(ctx, "Conv", "weight", w, "non-empty kernel dims", d);
    }
    if (!au_node_attr(ctx->node, "kernel_shape"))
        return AU_OK;
    int st = attr_ints(ctx, "Conv", "kernel_shape", wa->n_sp, 1, 1, ks, d);
    if (st < 0)
        return st;
    for (int i = 0; i < wa->n_sp; i++)
        if (ks[i] != wa->k[i])
            return au_diag_set(d, AU_SHAPE,
                               "%s: Conv: kernel_shape[%d] = %" PRId64 " but weight has %" PRId64,
                               LBL(ctx), i, ks[i], wa->k[i]);
    return AU_OK;
}

static int conv_setup(const struct au_op_ctx *ctx, struct au_conv2d *p, struct win_attrs *wa,
                      struct au_diag *d)
{
    int st;
    if ((st = need_f32(ctx, 0, "Conv", "input X", d)) < 0 ||
        (st = need_f32(ctx, 1, "Conv", "weight W", d)) < 0)
        return st;
    const struct au_tensor *x = ctx->in[0], *w = ctx->in[1], *b = opt_in(ctx, 2);
    int64_t group = au_node_attr_int(ctx->node, "group", 1);
    if ((st = spatial_input(ctx, "Conv", x, wa, d)) < 0 ||
        (st = conv_weights(ctx, x, w, group, d)) < 0 || (st = conv_kernel(ctx, w, wa, d)) < 0)
        return st;
    if (b) {
        char expect[32];
        snprintf(expect, sizeof(expect), "[%" PRId64 "]", w->ne[0]);
        if ((st = need_f32(ctx, 2, "Conv", "bias B", d)) < 0)
            return st;
        if (b->n_dims != 1 || b->ne[0] != w->ne[0])
            return shape_err(ctx, "Conv", "bias", b, expect, d);
    }
    if ((st = win_resolve(ctx, "Conv", false, wa, d)) < 0)
        return st;
    win_to_2d(wa, &p->g);
    p->n = x->ne[0];
    p->c_in = x->ne[1];
    p->c_out = w->ne[0];
    p->group = group;
    return AU_OK;
}

static int conv_infer(const struct au_op_ctx *ctx, size_t *scratch_bytes, struct au_diag *d)
{
    struct au_conv2d p;
    struct win_attrs wa;
    int st = conv_setup(ctx, &p, &wa, d);
    if (st < 0)
        return st;
    int64_t k = p.c_in / p.group * p.g.kh * p.g.kw;
    if (k > INT_MAX || p.c_out > INT_MAX || p.g.oh * p.g.ow > INT_MAX / 2)
        return au_diag_set(d, AU_UNSUPPORTED, "%s: Conv: too large for 32-bit BLAS", LBL(ctx));
    *scratch_bytes = au_kern_conv2d_scratch(&p);
    if (*scratch_bytes == SIZE_MAX)
        return au_diag_set(d, AU_OVERFLOW, "%s: Conv: im2col buffer size overflows", LBL(ctx));
    int64_t ne[4] = {p.n, p.c_out, wa.out[0], wa.out[1]};
    au_tensor_set_shape(ctx->out[0], AU_DTYPE_F32, 2 + wa.n_sp, ne);
    return AU_OK;
}

static int conv_run(const struct au_op_ctx *ctx, struct au_diag *d)
{
    struct au_conv2d p;
    struct win_attrs wa;
    int st = conv_setup(ctx, &p, &wa, d);
    if (st < 0)
        return st;
    if ((st = check_scratch(ctx, "Conv", au_kern_conv2d_scratch(&p), d)) < 0)
        return st;
    const struct au_tensor *b = opt_in(ctx, 2);
    au_kern_conv2d(&p, ctx->in[0]->data, ctx->in[1]->data, b ? b->data : NULL, ctx->out[0]->data,
                   ctx->scratch);
    return AU_OK;
}

static int conv_run_boxes(const struct au_op_ctx *ctx, const int64_t *rows,
                          const struct au_box *box, struct au_box *out_box, int64_t n,
                          struct au_diag *d)
{
    struct au_conv2d p;
    struct win_attrs wa;
    if (ctx->in[0]->n_dims != 4 || conv_setup(ctx, &p, &wa, d) < 0 || !au_kern_conv2d_boxes_ok(&p))
        return 0;
    const struct au_tensor *b = opt_in(ctx, 2);
    au_kern_conv2d_boxes(&p, ctx->in[0]->data, ctx->in[1]->data, b ? b->data : NULL,
                         ctx->out[0]->data, rows, box, n);
    for (int64_t i = 0; i < n; i++)
        au_kern_win_cone(&p.g, &box[i], &out_box[i]);
    return 1;
}

/* N * C_out * spatial_out * (C_in / group) * prod(kernel) = numel(Y) * numel(W[0]). */
static uint64_t conv_macs(const struct au_op_ctx *ctx)
{
    const struct au_tensor *w = ctx->in[1];
    return (uint64_t)au_tensor_numel(ctx->out[0]) * (uint64_t)(au_tensor_numel(w) / w->ne[0]);
}

/* ---- Gemm ---- */

struct gemm_dims {
    bool ta, tb;
    int64_t m, n, k;
    int64_t c_rs, c_cs; /* C's row / column element strides after broadcasting (0 = bcast) */
};

/* C broadcasts unidirectionally to [M, N]: rank <= 2, each dim 1 or equal. */
static int gemm_c(const struct au_op_ctx *ctx, const struct au_tensor *c, struct gemm_dims *g,
                  struct au_diag *d)
{
    char expect[64];
    snprintf(expect, sizeof(expect), "to broadcast to [%" PRId64 ",%" PRId64 "]", g->m, g->n);
    int64_t c0 = c->n_dims == 2 ? c->ne[0] : 1, c1 = c->n_dims >= 1 ? c->ne[c->n_dims - 1] : 1;
    if (c->n_dims > 2 || (c0 != 1 && c0 != g->m) || (c1 != 1 && c1 != g->n))
        return shape_err(ctx, "Gemm", "C", c, expect, d);
    g->c_rs = c0 == 1 ? 0 : c1;
    g->c_cs = c1 == 1 ? 0 : 1;
    return AU_OK;
}

static int gemm_setup(const struct au_op_ctx *ctx, struct gemm_dims *g, struct au_diag *d)
{
    int st;
    if ((st = need_f32(ctx, 0, "Gemm", "A", d)) < 0 || (st = need_f32(ctx, 1, "Gemm", "B", d)) < 0)
        return st;
    const struct au_tensor *a = ctx->in[0], *b = ctx->in[1], *c = opt_in(ctx, 2);
    if (a->n_dims != 2)
        return shape_err(ctx, "Gemm", "A", a, "a matrix", d);
    if (b->n_dims != 2)
        return shape_err(ctx, "Gemm", "B", b, "a matrix", d);
    g->ta = au_node_attr_int(ctx->node, "transA", 0) != 0;
    g->tb = au_node_attr_int(ctx->node, "transB", 0) != 0;
    g->m = a->ne[g->ta ? 1 : 0];
    g->k = a->ne[g->ta ? 0 : 1];
    g->n = b->ne[g->tb ? 0 : 1];
    int64_t kb = b->ne[g->tb ? 1 : 0];
    if (kb != g->k)
        return au_diag_set(d, AU_SHAPE,
                           "%s: Gemm: A gives K = %" PRId64 " but B gives K = %" PRId64, LBL(ctx),
                           g->k, kb);
    if (g->m > INT_MAX || g->n > INT_MAX || g->k > INT_MAX)
        return au_diag_set(d, AU_UNSUPPORTED, "%s: Gemm: too large for 32-bit BLAS", LBL(ctx));
    g->c_rs = g->c_cs = 0;
    if (c && ((st = need_f32(ctx, 2, "Gemm", "C", d)) < 0 || (st = gemm_c(ctx, c, g, d)) < 0))
        return st;
    return AU_OK;
}

static int gemm_infer(const struct au_op_ctx *ctx, size_t *scratch_bytes, struct au_diag *d)
{
    struct gemm_dims g;
    int st = gemm_setup(ctx, &g, d);
    if (st < 0)
        return st;
    int64_t ne[2] = {g.m, g.n};
    au_tensor_set_shape(ctx->out[0], AU_DTYPE_F32, 2, ne);
    *scratch_bytes = 0;
    return AU_OK;
}

static int gemm_run(const struct au_op_ctx *ctx, struct au_diag *d)
{
    struct gemm_dims g;
    int st = gemm_setup(ctx, &g, d);
    if (st < 0)
        return st;
    const struct au_tensor *c = opt_in(ctx, 2);
    float alpha = au_node_attr_float(ctx->node, "alpha", 1.0f);
    float beta = au_node_attr_float(ctx->node, "beta", 1.0f);
    float *y = ctx->out[0]->data;
    /* beta * C goes into Y first so sgemm accumulates onto it; beta == 0 ignores C as
     * onnxruntime does (0 * NaN in C would otherwise poison Y). */
    bool use_c = c && beta != 0.0f;
    if (use_c) {
        const float *cd = c->data;
        for (int64_t i = 0; i < g.m; i++)
            for (int64_t j = 0; j < g.n; j++)
                y[i * g.n + j] = beta * cd[i * g.c_rs + j * g.c_cs];
    }
    au_kern_sgemm(g.ta, g.tb, g.m, g.n, g.k, alpha, ctx->in[0]->data, ctx->in[0]->ne[1],
                  ctx->in[1]->data, ctx->in[1]->ne[1], use_c ? 1.0f : 0.0f, y, g.n);
    return AU_OK;
}

static uint64_t gemm_macs(const struct au_op_ctx *ctx)
{
    const struct au_tensor *a = ctx->in[0];
    int64_t k = a->ne[au_node_attr_int(ctx->node, "transA", 0) ? 0 : 1];
    return (uint64_t)au_tensor_numel(ctx->out[0]) * (uint64_t)k;
}

/* ---- MatMul ---- */

/* Broadcast the batch dims (all but the last two) of A and B; set Y's shape. */
static int matmul_batch(const struct au_op_ctx *ctx, struct au_matmul *p, int *y_nd, int64_t *y_ne,
                        struct au_diag *d)
{
    const struct au_tensor *a = ctx->in[0], *b = ctx->in[1];
    int ab = a->n_dims > 2 ? a->n_dims - 2 : 0, bb = b->n_dims > 2 ? b->n_dims - 2 : 0;
    int nb = ab > bb ? ab : bb;
    int64_t sa, sb; /* dense strides, innermost batch dim first */
    /* A zero dim makes numel 0 however large the others: partial products can overflow. */
    if (__builtin_mul_overflow(p->m, p->k, &sa) || __builtin_mul_overflow(p->k, p->n, &sb))
        return au_diag_set(d, AU_OVERFLOW, "%s: MatMul: matrix dims are too large", LBL(ctx));
    p->n_batch = nb;
    for (int i = nb - 1; i >= 0; i--) {
        int ia = i - (nb - ab), ib = i - (nb - bb);
        int64_t da = ia >= 0 ? a->ne[ia] : 1, db = ib >= 0 ? b->ne[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            char s1[192], s2[192];
            return au_diag_set(
                d, AU_SHAPE, "%s: MatMul: batch dims of A %s and B %s do not broadcast", LBL(ctx),
                au_tensor_shape_str(a, s1, sizeof(s1)), au_tensor_shape_str(b, s2, sizeof(s2)));
        }
        p->batch[i] = da == 1 ? db : da;
        p->a_stride[i] = da == 1 ? 0 : sa;
        p->b_stride[i] = db == 1 ? 0 : sb;
        if (__builtin_mul_overflow(sa, da, &sa) || __builtin_mul_overflow(sb, db, &sb))
            return au_diag_set(d, AU_OVERFLOW, "%s: MatMul: batch dims are too large", LBL(ctx));
    }
    int nd = 0;
    for (int i = 0; i < nb; i++)
        y_ne[nd++] = p->batch[i];
    if (a->n_dims >= 2)
        y_ne[nd++] = p->m;
    if (b->n_dims >= 2)
        y_ne[nd++] = p->n;
    *y_nd = nd;
    return AU_OK;
}

/* numpy matmul: 1-D A is [1, K] and 1-D B is [K, 1], their unit dim dropped from Y;
 * batch dims broadcast. Fills p and Y's shape. */
static int matmul_setup(const struct au_op_ctx *ctx, struct au_matmul *p, int *y_nd, int64_t *y_ne,
                        struct au_diag *d)
{
    int st;
    if ((st = need_f32(ctx, 0, "MatMul", "A", d)) < 0 ||
        (st = need_f32(ctx, 1, "MatMul", "B", d)) < 0)
        return st;
    const struct au_tensor *a = ctx->in[0], *b = ctx->in[1];
    if (a->n_dims < 1)
        return shape_err(ctx, "MatMul", "A", a, "rank >= 1", d);
    if (b->n_dims < 1)
        return shape_err(ctx, "MatMul", "B", b, "rank >= 1", d);
    int an = a->n_dims, bn = b->n_dims;
    p->m = an >= 2 ? a->ne[an - 2] : 1;
    p->k = a->ne[an - 1];
    p->n = bn >= 2 ? b->ne[bn - 1] : 1;
    int64_t kb = b->ne[bn >= 2 ? bn - 2 : 0];
    if (kb != p->k) {
        char sa[192], sb[192];
        return au_diag_set(
            d, AU_SHAPE, "%s: MatMul: A %s and B %s: inner dims %" PRId64 " and %" PRId64 " differ",
            LBL(ctx), au_tensor_shape_str(a, sa, sizeof(sa)),
            au_tensor_shape_str(b, sb, sizeof(sb)), p->k, kb);
    }
    if (p->m > INT_MAX || p->n > INT_MAX || p->k > INT_MAX)
        return au_diag_set(d, AU_UNSUPPORTED, "%s: MatMul: too large for 32-bit BLAS", LBL(ctx));
    return matmul_batch(ctx, p, y_nd, y_ne, d);
}

static int matmul_infer(const struct au_op_ctx *ctx, size_t *scratch_bytes, struct au_diag *d)
{
    struct au_matmul p;
    int64_t ne[AU_MAX_DIMS];
    int nd, st = matmul_setup(ctx, &p, &nd, ne, d);
    if (st < 0)
        return st;
    au_tensor_set_shape(ctx->out[0], AU_DTYPE_F32, nd, ne);
    *scratch_bytes = 0;
    return AU_OK;
}

static int matmul_run(const struct au_op_ctx *ctx, struct au_diag *d)
{
    struct au_matmul p;
    int64_t ne[AU_MAX_DIMS];
    int nd, st = matmul_setup(ctx, &p, &nd, ne, d);
    if (st < 0)
        return st;
    au_kern_matmul(&p, ctx->in[0]->data, ctx->in[1]->data, ctx->out[0]->data);
    return AU_OK;
}

/* batch * M * N * K = numel(Y) * K. */
static uint64_t matmul_macs(const struct au_op_ctx *ctx)
{
    const struct au_tensor *a = ctx->in[0];
    return (uint64_t)au_tensor_numel(ctx->out[0]) * (uint64_t)a->ne[a->n_dims - 1];
}

/* ---- MaxPool, AveragePool ---- */

/* Pool geometry; n_planes = N * C. Pads must stay below the dilated kernel extent so
 * that no window lies wholly in padding (PyTorch refuses such pads too). */
static int pool_setup(const struct au_op_ctx *ctx, const char *op, struct au_win2d *g,
                      int64_t *n_planes, struct au_diag *d)
{
    struct win_attrs wa;
    int st = need_f32(ctx, 0, op, "input X", d);
    if (st < 0)
        return st;
    const struct au_tensor *x = ctx->in[0];
    if ((st = spatial_input(ctx, op, x, &wa, d)) < 0)
        return st;
    if (!au_node_attr(ctx->node, "kernel_shape"))
        return au_diag_set(d, AU_INVALID, "%s: %s: attribute kernel_shape is required", LBL(ctx),
                           op);
    if ((st = attr_ints(ctx, op, "kernel_shape", wa.n_sp, 1, 1, wa.k, d)) < 0)
        return st;
    bool ceil_mode = au_node_attr_int(ctx->node, "ceil_mode", 0) != 0;
    if ((st = win_resolve(ctx, op, ceil_mode, &wa, d)) < 0)
        return st;
    for (int i = 0; i < wa.n_sp; i++) {
        int64_t dk = (wa.k[i] - 1) * wa.dl[i] + 1;
        if (wa.pb[i] >= dk || wa.pe[i] >= dk)
            return au_diag_set(d, AU_INVALID,
                               "%s: %s: pads %" PRId64 ",%" PRId64
                               " not smaller than kernel extent %" PRId64 " on spatial axis %d",
                               LBL(ctx), op, wa.pb[i], wa.pe[i], dk, i);
    }
    win_to_2d(&wa, g);
    *n_planes = x->ne[0] * x->ne[1];
    return AU_OK;
}

static void pool_out_shape(const struct au_op_ctx *ctx, const struct au_win2d *g)
{
    const struct au_tensor *x = ctx->in[0];
    int64_t ne[4] = {x->ne[0], x->ne[1], g->oh, g->ow};
    if (x->n_dims == 3)
        ne[2] = g->ow;
    au_tensor_set_shape(ctx->out[0], AU_DTYPE_F32, x->n_dims, ne);
}

static int maxpool_infer(const struct au_op_ctx *ctx, size_t *scratch_bytes, struct au_diag *d)
{
    struct au_win2d g;
    int64_t n_planes;
    if (ctx->n_out > 1 && ctx->out[1])
        return au_diag_set(d, AU_UNSUPPORTED, "%s: MaxPool: the Indices output is not supported",
                           LBL(ctx));
    /* storage_order only shapes the Indices output, so it is ignored. */
    int st = pool_setup(ctx, "MaxPool", &g, &n_planes, d);
    if (st < 0)
        return st;
    pool_out_shape(ctx, &g);
    *scratch_bytes = au_kern_pool_scratch(&g);
    return AU_OK;
}

static int maxpool_run(const struct au_op_ctx *ctx, struct au_diag *d)
{
    struct au_win2d g;
    int64_t n_planes;
    int st = pool_setup(ctx, "MaxPool", &g, &n_planes, d);
    if (st < 0)
        return st;
    if ((st = check_scratch(ctx, "MaxPool", au_kern_pool_scratch(&g), d)) < 0)
        return st;
    au_kern_maxpool2d(&g, n_planes, ctx->in[0]->data, ctx->out[0]->data, ctx->scratch);
    return AU_OK;
}

static int maxpool_run_boxes(const struct au_op_ctx *ctx, const int64_t *rows,
                             const struct au_box *box, struct au_box *out_box, int64_t n,
                             struct au_diag *d)
{
    struct au_win2d g;
    int64_t n_planes;
    if (ctx->in[0]->n_dims != 4 || (ctx->n_out > 1 && ctx->out[1]) ||
        pool_setup(ctx, "MaxPool", &g, &n_planes, d) < 0)
        return 0;
    au_kern_maxpool2d_boxes(&g, ctx->in[0]->ne[1], ctx->in[0]->data, ctx->out[0]->data, rows, box,
                            n);
    for (int64_t i = 0; i < n; i++)
        au_kern_win_cone(&g, &box[i], &out_box[i]);
    return 1;
}

static int avgpool_infer(const struct au_op_ctx *ctx, size_t *scratch_bytes, struct au_diag *d)
{
    struct au_win2d g;
    int64_t n_planes;
    int st = pool_setup(ctx, "AveragePool", &g, &n_planes, d);
    if (st < 0)
        return st;
    pool_out_shape(ctx, &g);
    *scratch_bytes = au_kern_pool_scratch(&g);
    return AU_OK;
}

static int avgpool_run(const struct au_op_ctx *ctx, struct au_diag *d)
{
    struct au_win2d g;
    int64_t n_planes;
    int st = pool_setup(ctx, "AveragePool", &g, &n_planes, d);
    if (st < 0)
        return st;
    bool incl = au_node_attr_int(ctx->node, "count_include_pad", 0) != 0;
    if ((st = check_scratch(ctx, "AveragePool", au_kern_pool_scratch(&g), d)) < 0)
        return st;
    au_kern_avgpool2d(&g, n_planes, incl, ctx->in[0]->data, ctx->out[0]->data, ctx->scratch);
    return AU_OK;
}

/* Window taps visited: numel(Y) * prod(kernel_shape). */
static uint64_t pool_macs(const struct au_op_ctx *ctx)
{
    const int64_t *k = NULL;
    int n = au_node_attr_ints(ctx->node, "kernel_shape", &k);
    uint64_t taps = 1;
    for (int i = 0; i < n; i++)
        taps *= (uint64_t)k[i];
    return (uint64_t)au_tensor_numel(ctx->out[0]) * taps;
}

/* ---- GlobalAveragePool, GlobalMaxPool ---- */

static int global_setup(const struct au_op_ctx *ctx, const char *op, struct au_diag *d)
{
    int st = need_f32(ctx, 0, op, "input X", d);
    if (st < 0)
        return st;
    const struct au_tensor *x = ctx->in[0];
    if (x->n_dims < 3)
        return shape_err(ctx, op, "input", x, "[N,C,spatial...]", d);
    return AU_OK;
}

static int global_infer_as(const struct au_op_ctx *ctx, const char *op, size_t *scratch_bytes,
                           struct au_diag *d)
{
    int st = global_setup(ctx, op, d);
    if (st < 0)
        return st;
    const struct au_tensor *x = ctx->in[0];
    int64_t ne[AU_MAX_DIMS];
    for (int i = 0; i < x->n_dims; i++)
        ne[i] = i < 2 ? x->ne[i] : 1;
    au_tensor_set_shape(ctx->out[0], AU_DTYPE_F32, x->n_dims, ne);
    *scratch_bytes = 0;
    return AU_OK;
}

static int global_run_as(const struct au_op_ctx *ctx, const char *op, bool is_max,
                         struct au_diag *d)
{
    int st = global_setup(ctx, op, d);
    if (st < 0)
        return st;
    const struct au_tensor *x = ctx->in[0];
    int64_t len = 1;
    for (int i = 2; i < x->n_dims; i++)
        len *= x->ne[i];
    au_kern_global_pool(x->ne[0] * x->ne[1], len, is_max, x->data, ctx->out[0]->data);
    return AU_OK;
}

static int gap_infer(const struct au_op_ctx *ctx, size_t *scratch_bytes, struct au_diag *d)
{
    return global_infer_as(ctx, "GlobalAveragePool", scratch_bytes, d);
}

static int gap_run(const struct au_op_ctx *ctx, struct au_diag *d)
{
    return global_run_as(ctx, "GlobalAveragePool", false, d);
}

static int gmp_infer(const struct au_op_ctx *ctx, size_t *scratch_bytes, struct au_diag *d)
{
    return global_infer_as(ctx, "GlobalMaxPool", scratch_bytes, d);
}

static int gmp_run(const struct au_op_ctx *ctx, struct au_diag *d)
{
    return global_run_as(ctx, "GlobalMaxPool", true, d);
}

/* ---- BatchNormalization (inference) ---- */

static int bn_setup(const struct au_op_ctx *ctx, struct au_diag *d)
{
    static const char *const names[] = {"input X", "scale", "B", "input_mean", "input_var"};
    const char *op = "BatchNormalization";
    int st;
    for (int i = 0; i < 5; i++)
        if ((st = need_f32(ctx, i, op, names[i], d)) < 0)
            return st;
    if (au_node_attr_int(ctx->node, "training_mode", 0) != 0)
        return au_diag_set(d, AU_UNSUPPORTED, "%s: %s: training_mode=1 is not supported", LBL(ctx),
                           op);
    for (int i = 1; i < ctx->n_out; i++)
        if (ctx->out[i])
            return au_diag_set(d, AU_UNSUPPORTED,
                               "%s: %s: training outputs (running mean/var) are not supported",
                               LBL(ctx), op);
    const struct au_tensor *x = ctx->in[0];
    if (x->n_dims < 2)
        return shape_err(ctx, op, "input", x, "[N,C,...]", d);
    char expect[32];
    snprintf(expect, sizeof(expect), "[%" PRId64 "]", x->ne[1]);
    for (int i = 1; i < 5; i++) {
        const struct au_tensor *t = ctx->in[i];
        if (t->n_dims != 1 || t->ne[0] != x->ne[1])
            return shape_err(ctx, op, names[i], t, expect, d);
    }
    return AU_OK;
}

static int bn_infer(const struct au_op_ctx *ctx, size_t *scratch_bytes, struct au_diag *d)
{
    int st = bn_setup(ctx, d);
    if (st < 0)
        return st;
    const struct au_tensor *x = ctx->in[0];
    au_tensor_set_shape(ctx->out[0], AU_DTYPE_F32, x->n_dims, x->ne);
    *scratch_bytes = 0;
    return AU_OK;
}

struct bn_job {
    const float *x, *scale, *bias, *mean, *var;
    float *y;
    double eps;
    int64_t c, len;
};

/* Planes [lo, hi), plane = image * C + channel. */
AU_KERN_CLONES
static void bn_planes(void *arg, int64_t lo, int64_t hi)
{
    const struct bn_job *j = arg;
    for (int64_t p = lo; p < hi; p++) {
        int64_t ch = p % j->c;
        double ad = j->scale[ch] / sqrt((double)j->var[ch] + j->eps);
        float a = (float)ad, b = (float)(j->bias[ch] - j->mean[ch] * ad);
        const float *xp = j->x + p * j->len;
        float *yp = j->y + p * j->len;
        for (int64_t i = 0; i < j->len; i++)
            yp[i] = xp[i] * a + b;
    }
}

/* y = (x - mean) / sqrt(var + eps) * scale + B, folded per channel into y = a x + b. */
static int bn_run(const struct au_op_ctx *ctx, struct au_diag *d)
{
    int st = bn_setup(ctx, d);
    if (st < 0)
        return st;
    const struct au_tensor *x = ctx->in[0];
    struct bn_job j = {.x = x->data,
                       .scale = ctx->in[1]->data,
                       .bias = ctx->in[2]->data,
                       .mean = ctx->in[3]->data,
                       .var = ctx->in[4]->data,
                       .y = ctx->out[0]->data,
                       .eps = au_node_attr_float(ctx->node, "epsilon", 1e-5f),
                       .c = x->ne[1],
                       .len = 1};
    for (int i = 2; i < x->n_dims; i++)
        j.len *= x->ne[i];
    au_kern_parallel(x->ne[0] * j.c, j.len, bn_planes, &j);
    return AU_OK;
}

static uint64_t bn_macs(const struct au_op_ctx *ctx)
{
    return (uint64_t)au_tensor_numel(ctx->in[0]);
}

static uint64_t global_macs(const struct au_op_ctx *ctx)
{
    return (uint64_t)au_tensor_numel(ctx->in[0]);
}

const struct au_op_def au_ops_nn[] = {
    {"Conv", 2, 3, 1, 1, conv_infer, conv_run, conv_macs, conv_run_boxes},
    {"Gemm", 2, 3, 1, 1, gemm_infer, gemm_run, gemm_macs, NULL},
    {"MatMul", 2, 2, 1, 1, matmul_infer, matmul_run, matmul_macs, NULL},
    {"MaxPool", 1, 1, 1, 2, maxpool_infer, maxpool_run, pool_macs, maxpool_run_boxes},
    {"AveragePool", 1, 1, 1, 1, avgpool_infer, avgpool_run, pool_macs, NULL},
    {"GlobalAveragePool", 1, 1, 1, 1, gap_infer, gap_run, global_macs, NULL},
    {"GlobalMaxPool", 1, 1, 1, 1, gmp_infer, gmp_run, global_macs, NULL},
    {"BatchNormalization", 5, 5, 1, 5, bn_infer, bn_run, bn_macs, NULL},
    {0},
};

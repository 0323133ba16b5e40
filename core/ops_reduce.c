/* Reductions (ReduceSum/Mean/Max/Min/Prod/SumSquare/L1/L2/LogSumExp), Softmax,
 * LogSoftmax and LayerNormalization. Input dims are merged into alternating kept/reduced
 * runs; each output element walks its reduced subspace in rows. Float sums accumulate in
 * double, in a fixed order, so results are deterministic. Softmax has opset-13 semantics
 * (one axis, default -1): a node does not know its opset, so an opset < 13 model relying
 * on the old "coerce to 2-D, axis 1" default must be given an explicit axis by the loader. */
#include "ops_ew.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

enum red_kind {
    RED_SUM,
    RED_MEAN,
    RED_MAX,
    RED_MIN,
    RED_PROD,
    RED_SUM_SQUARE,
    RED_L1,
    RED_L2,
    RED_LOG_SUM_EXP,
};

/* Kept and reduced dims (merged, extent-1 dims dropped) with input element strides. */
struct red_geom {
    int nk, nr;
    int64_t kne[AU_MAX_DIMS], kst[AU_MAX_DIMS];
    int64_t rne[AU_MAX_DIMS], rst[AU_MAX_DIMS];
    int64_t n_red; /* elements reduced into each output */
};

/* Read the axes (input 1, else attribute) into mask; *noop if Y is just X. */
static int red_axes(const struct au_op_ctx *ctx, bool *mask, bool *noop, struct au_diag *d)
{
    int rank = ctx->in[0]->n_dims, n;
    const int64_t *axes = NULL;
    if (ctx->n_in > 1 && ctx->in[1]) {
        const struct au_tensor *t = ctx->in[1];
        if (t->dtype != AU_DTYPE_I64 || t->n_dims > 1)
            return au_ew_error(ctx, d, AU_DTYPE, "axes must be a 1-D int64 tensor");
        if (!t->data)
            return au_ew_error(ctx, d, AU_UNSUPPORTED, "axes input must be constant");
        n = (int)au_tensor_numel(t);
        axes = t->data;
    } else {
        n = au_node_attr_ints(ctx->node, "axes", &axes);
        n = n < 0 ? 0 : n;
    }
    memset(mask, 0, AU_MAX_DIMS * sizeof(*mask));
    *noop = n == 0 && au_node_attr_int(ctx->node, "noop_with_empty_axes", 0) != 0;
    for (int i = 0; i < rank && n == 0; i++)
        mask[i] = true;
    for (int i = 0; i < n; i++) {
        int a;
        int rc = au_ew_axis(ctx, axes[i], rank, "axis", &a, d);
        if (rc)
            return rc;
        if (mask[a])
            return au_ew_error(ctx, d, AU_INVALID, "axis %d listed twice", a);
        mask[a] = true;
    }
    return AU_OK;
}

static void red_geom_init(struct red_geom *g, const struct au_tensor *x, const bool *mask)
{
    int64_t st[AU_MAX_DIMS], s = 1;
    int n = 0, flag[AU_MAX_DIMS];
    int64_t ne[AU_MAX_DIMS], rs[AU_MAX_DIMS];
    for (int i = x->n_dims - 1; i >= 0; i--) {
        st[i] = s;
        s *= x->ne[i];
    }
    g->n_red = 1;
    for (int i = 0; i < x->n_dims; i++) {
        if (mask[i])
            g->n_red *= x->ne[i];
        if (x->ne[i] == 1)
            continue;
        if (n > 0 && flag[n - 1] == mask[i]) { // contiguous input: adjacent dims merge
            ne[n - 1] *= x->ne[i];
            rs[n - 1] = st[i];
            continue;
        }
        flag[n] = mask[i];
        ne[n] = x->ne[i];
        rs[n++] = st[i];
    }
    g->nk = g->nr = 0;
    for (int i = 0; i < n; i++) {
        if (flag[i]) {
            g->rne[g->nr] = ne[i];
            g->rst[g->nr++] = rs[i];
        } else {
            g->kne[g->nk] = ne[i];
            g->kst[g->nk++] = rs[i];
        }
    }
}

/* Running state of one output element. */
struct red_acc {
    double s; /* sums and products */
    float m;  /* float max/min; also the shift of LogSumExp */
    int64_t i;
};

typedef void (*row_fn)(const void *x, int64_t stride, int64_t n, struct red_acc *a);

/* Contiguous double sum with four partial sums: breaks the add latency chain, and the
 * order is still fixed, so results stay deterministic. */
static double sum_contig(const float *x, int64_t n)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += x[i];
        s1 += x[i + 1];
        s2 += x[i + 2];
        s3 += x[i + 3];
    }
    for (; i < n; i++)
        s0 += x[i];
    return (s0 + s1) + (s2 + s3);
}

static void sum_row(const void *vx, int64_t st, int64_t n, struct red_acc *a)
{
    const float *x = vx;
    if (st == 1) {
        a->s += sum_contig(x, n);
        return;
    }
    double s = a->s;
    for (int64_t i = 0; i < n; i++)
        s += x[i * st];
    a->s = s;
}

static void sum_sq_row(const void *vx, int64_t st, int64_t n, struct red_acc *a)
{
    const float *x = vx;
    double s = a->s;
    for (int64_t i = 0; i < n; i++)
        s += (double)x[i * st] * x[i * st];
    a->s = s;
}

static void sum_abs_row(const void *vx, int64_t st, int64_t n, struct red_acc *a)
{
    const float *x = vx;
    double s = a->s;
    for (int64_t i = 0; i < n; i++)
        s += fabsf(x[i * st]);
    a->s = s;
}

static void prod_row(const void *vx, int64_t st, int64_t n, struct red_acc *a)
{
    const float *x = vx;
    for (int64_t i = 0; i < n; i++)
        a->s *= x[i * st];
}

/* NaN wins, as torch.max: a fault that made a NaN must stay visible. */
static inline float max_nan(float m, float v)
{
    return (v > m || v != v) && m == m ? v : m;
}
static inline float min_nan(float m, float v)
{
    return (v < m || v != v) && m == m ? v : m;
}

static void max_row(const void *vx, int64_t st, int64_t n, struct red_acc *a)
{
    const float *x = vx;
    for (int64_t i = 0; i < n; i++)
        a->m = max_nan(a->m, x[i * st]);
}

static void min_row(const void *vx, int64_t st, int64_t n, struct red_acc *a)
{
    const float *x = vx;
    for (int64_t i = 0; i < n; i++)
        a->m = min_nan(a->m, x[i * st]);
}

static void exp_shift_row(const void *vx, int64_t st, int64_t n, struct red_acc *a)
{
    const float *x = vx;
    double s = a->s;
    for (int64_t i = 0; i < n; i++)
        s += exp((double)x[i * st] - a->m);
    a->s = s;
}

/* Integer rows wrap on overflow (through unsigned) instead of invoking UB. */
#define INT_ROWS(T, sfx)                                                                           \
    static void sum_row_##sfx(const void *vx, int64_t st, int64_t n, struct red_acc *a)            \
    {                                                                                              \
        const T *x = vx;                                                                           \
        for (int64_t i = 0; i < n; i++)                                                            \
            a->i = (int64_t)((uint64_t)a->i + (uint64_t)(int64_t)x[i * st]);                       \
    }                                                                                              \
    static void prod_row_##sfx(const void *vx, int64_t st, int64_t n, struct red_acc *a)           \
    {                                                                                              \
        const T *x = vx;                                                                           \
        for (int64_t i = 0; i < n; i++)                                                            \
            a->i = (int64_t)((uint64_t)a->i * (uint64_t)(int64_t)x[i * st]);                       \
    }                                                                                              \
    static void max_row_##sfx(const void *vx, int64_t st, int64_t n, struct red_acc *a)            \
    {                                                                                              \
        const T *x = vx;                                                                           \
        for (int64_t i = 0; i < n; i++)                                                            \
            a->i = x[i * st] > a->i ? x[i * st] : a->i;                                            \
    }                                                                                              \
    static void min_row_##sfx(const void *vx, int64_t st, int64_t n, struct red_acc *a)            \
    {                                                                                              \
        const T *x = vx;                                                                           \
        for (int64_t i = 0; i < n; i++)                                                            \
            a->i = x[i * st] < a->i ? x[i * st] : a->i;                                            \
    }

INT_ROWS(int64_t, i64)
INT_ROWS(int32_t, i32)

/* ------------------------------------------------------------- reduce driver -- */

/* Row functions by dtype (NULL = unsupported). */
struct red_op {
    enum red_kind kind;
    row_fn f32, i64, i32;
};

static const struct red_op red_sum = {RED_SUM, sum_row, sum_row_i64, sum_row_i32},
                           red_mean = {RED_MEAN, sum_row, NULL, NULL},
                           red_max = {RED_MAX, max_row, max_row_i64, max_row_i32},
                           red_min = {RED_MIN, min_row, min_row_i64, min_row_i32},
                           red_prod = {RED_PROD, prod_row, prod_row_i64, prod_row_i32},
                           red_sum_square = {RED_SUM_SQUARE, sum_sq_row, NULL, NULL},
                           red_l1 = {RED_L1, sum_abs_row, NULL, NULL},
                           red_l2 = {RED_L2, sum_sq_row, NULL, NULL},
                           red_log_sum_exp = {RED_LOG_SUM_EXP, max_row, NULL, NULL};

static row_fn red_pick(const struct red_op *op, int dt)
{
    return dt == AU_DTYPE_F32   ? op->f32
           : dt == AU_DTYPE_I64 ? op->i64
           : dt == AU_DTYPE_I32 ? op->i32
                                : NULL;
}

/* Feed every element of one output's reduced subspace (base = its first element). */
static void red_walk(const struct red_geom *g, const char *base, size_t es, row_fn f,
                     struct red_acc *a)
{
    if (g->nr == 0) {
        f(base, 1, 1, a);
        return;
    }
    int last = g->nr - 1;
    int64_t idx[AU_MAX_DIMS] = {0}, off = 0, rows = 1;
    for (int i = 0; i < last; i++)
        rows *= g->rne[i];
    for (int64_t r = 0; r < rows; r++) {
        f(base + (size_t)off * es, g->rst[last], g->rne[last], a);
        for (int i = last - 1; i >= 0; i--) {
            off += g->rst[i];
            if (++idx[i] < g->rne[i])
                break;
            off -= g->rst[i] * g->rne[i];
            idx[i] = 0;
        }
    }
}

static float red_one_f32(const struct red_op *op, const struct red_geom *g, const char *base)
{
    struct red_acc a = {.s = op->kind == RED_PROD ? 1.0 : 0.0,
                        .m = op->kind == RED_MIN ? INFINITY : -INFINITY};
    red_walk(g, base, sizeof(float), op->f32, &a);
    switch (op->kind) {
    case RED_MAX:
    case RED_MIN:
        return a.m;
    case RED_MEAN:
        return g->n_red ? (float)(a.s / (double)g->n_red) : NAN;
    case RED_L2:
        return (float)sqrt(a.s);
    case RED_LOG_SUM_EXP:
        if (!isfinite(a.m)) // empty, all -inf, some +inf or NaN: the max is the answer
            return a.m;
        a.s = 0;
        red_walk(g, base, sizeof(float), exp_shift_row, &a);
        return (float)(a.m + log(a.s));
    default:
        return (float)a.s;
    }
}

static int64_t red_one_int(const struct red_op *op, const struct red_geom *g, const char *base,
                           int dt)
{
    bool i32 = dt == AU_DTYPE_I32;
    struct red_acc a = {.i = 0};
    if (op->kind == RED_PROD)
        a.i = 1;
    else if (op->kind == RED_MAX)
        a.i = i32 ? INT32_MIN : INT64_MIN;
    else if (op->kind == RED_MIN)
        a.i = i32 ? INT32_MAX : INT64_MAX;
    red_walk(g, base, au_dtype_size(dt), red_pick(op, dt), &a);
    return a.i;
}

static void red_compute(const struct red_op *op, const bool *mask, const struct au_tensor *x,
                        struct au_tensor *y)
{
    struct red_geom g;
    red_geom_init(&g, x, mask);
    int64_t n_out = au_tensor_numel(y), idx[AU_MAX_DIMS] = {0}, off = 0;
    size_t es = au_dtype_size(x->dtype);
    for (int64_t o = 0; o < n_out; o++) {
        const char *base = (const char *)x->data + (size_t)off * es;
        if (x->dtype == AU_DTYPE_F32)
            ((float *)y->data)[o] = red_one_f32(op, &g, base);
        else if (x->dtype == AU_DTYPE_I64)
            ((int64_t *)y->data)[o] = red_one_int(op, &g, base, x->dtype);
        else
            ((int32_t *)y->data)[o] = (int32_t)red_one_int(op, &g, base, x->dtype);
        for (int i = g.nk - 1; i >= 0; i--) { // next output: kept-dims odometer
            off += g.kst[i];
            if (++idx[i] < g.kne[i])
                break;
            off -= g.kst[i] * g.kne[i];
            idx[i] = 0;
        }
    }
}

static int reduce_infer(const struct au_op_ctx *ctx, const struct red_op *op, size_t *scratch,
                        struct au_diag *d)
{
    bool mask[AU_MAX_DIMS], noop;
    *scratch = 0;
    int rc = au_ew_need_inputs(ctx, 1, d);
    if (rc)
        return rc;
    const struct au_tensor *x = ctx->in[0];
    if (!red_pick(op, x->dtype))
        return au_ew_error(ctx, d, AU_DTYPE, "dtype %s not supported", au_dtype_name(x->dtype));
    rc = red_axes(ctx, mask, &noop, d);
    if (rc)
        return rc;
    bool keep = au_node_attr_int(ctx->node, "keepdims", 1) != 0;
    int64_t ne[AU_MAX_DIMS];
    int n = 0;
    for (int i = 0; i < x->n_dims; i++) {
        if (!mask[i] || noop)
            ne[n++] = x->ne[i];
        else if (keep)
            ne[n++] = 1;
    }
    au_tensor_set_shape(ctx->out[0], x->dtype, n, ne);
    return AU_OK;
}

static int reduce_run(const struct au_op_ctx *ctx, const struct red_op *op, struct au_diag *d)
{
    bool mask[AU_MAX_DIMS], noop;
    int rc = red_axes(ctx, mask, &noop, d);
    if (rc)
        return rc;
    const struct au_tensor *x = ctx->in[0];
    if (noop)
        memcpy(ctx->out[0]->data, x->data, au_tensor_nbytes(x));
    else
        red_compute(op, mask, x, ctx->out[0]);
    return AU_OK;
}

#define AU_X_(onnx, id)                                                                            \
    int au_reduce_##id##_infer(const struct au_op_ctx *ctx, size_t *scratch, struct au_diag *d)    \
    {                                                                                              \
        return reduce_infer(ctx, &red_##id, scratch, d);                                           \
    }                                                                                              \
    int au_reduce_##id##_run(const struct au_op_ctx *ctx, struct au_diag *d)                       \
    {                                                                                              \
        return reduce_run(ctx, &red_##id, d);                                                      \
    }
AU_EW_REDUCE_OPS(AU_X_)
#undef AU_X_

/* ------------------------------------------------------------------- Softmax -- */

/* Shared by Softmax and LayerNormalization: inputs present, X float32, axis in range. */
static int f32_axis(const struct au_op_ctx *ctx, int n_required, int *axis, struct au_diag *d)
{
    int rc = au_ew_need_inputs(ctx, n_required, d);
    if (rc)
        return rc;
    const struct au_tensor *x = ctx->in[0];
    if (x->dtype != AU_DTYPE_F32)
        return au_ew_error(ctx, d, AU_DTYPE, "dtype %s not supported (float32 only)",
                           au_dtype_name(x->dtype));
    return au_ew_axis(ctx, au_node_attr_int(ctx->node, "axis", -1), x->n_dims, "axis", axis, d);
}

int au_softmax_infer(const struct au_op_ctx *ctx, size_t *scratch, struct au_diag *d)
{
    int axis;
    *scratch = 0;
    int rc = f32_axis(ctx, 1, &axis, d);
    if (rc)
        return rc;
    au_tensor_set_shape(ctx->out[0], AU_DTYPE_F32, ctx->in[0]->n_dims, ctx->in[0]->ne);
    return AU_OK;
}

/* One softmax line of n elements at stride st, shifted by its max for stability. */
static void softmax_line(const float *x, float *y, int64_t n, int64_t st, bool log_out)
{
    float m = -INFINITY;
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        m = x[i * st] > m ? x[i * st] : m;
    if (log_out) {
        for (int64_t i = 0; i < n; i++)
            s += expf(x[i * st] - m);
        float ls = (float)log(s); // (x - m) - ls keeps precision when |m| is large
        for (int64_t i = 0; i < n; i++)
            y[i * st] = (x[i * st] - m) - ls;
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        y[i * st] = expf(x[i * st] - m);
        s += y[i * st];
    }
    float sf = (float)s;
    for (int64_t i = 0; i < n; i++)
        y[i * st] /= sf;
}

static int softmax_run(const struct au_op_ctx *ctx, bool log_out, struct au_diag *d)
{
    const struct au_tensor *x = ctx->in[0];
    int axis;
    int rc = au_ew_axis(ctx, au_node_attr_int(ctx->node, "axis", -1), x->n_dims, "axis", &axis, d);
    if (rc)
        return rc;
    int64_t outer = 1, inner = 1, n = x->ne[axis];
    for (int i = 0; i < axis; i++)
        outer *= x->ne[i];
    for (int i = axis + 1; i < x->n_dims; i++)
        inner *= x->ne[i];
    if (au_node_attr_int(ctx->node, "coerce_2d", 0)) { /* opset < 13: [outer, rest] */
        n *= inner;
        inner = 1;
    }
    const float *xs = x->data;
    float *ys = ctx->out[0]->data;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < inner; j++)
            softmax_line(xs + o * n * inner + j, ys + o * n * inner + j, n, inner, log_out);
    return AU_OK;
}

int au_softmax_run(const struct au_op_ctx *ctx, struct au_diag *d)
{
    return softmax_run(ctx, false, d);
}

int au_log_softmax_run(const struct au_op_ctx *ctx, struct au_diag *d)
{
    return softmax_run(ctx, true, d);
}

/* -------------------------------------------------------- LayerNormalization -- */

/* Scale and B must broadcast to X.shape[axis:]; only the full shape (one value per
 * normalized element) and a single value are supported, which covers exported models. */
static int ln_param_ok(const struct au_op_ctx *ctx, int k, int axis, struct au_diag *d)
{
    const struct au_tensor *x = ctx->in[0], *p = ctx->in[k];
    const char *what = k == 1 ? "Scale" : "B";
    int nr = x->n_dims - axis;
    if (p->dtype != AU_DTYPE_F32)
        return au_ew_error(ctx, d, AU_DTYPE, "%s is %s, expected float32", what,
                           au_dtype_name(p->dtype));
    bool ok = p->n_dims <= nr;
    int64_t norm = 1;
    for (int i = axis; i < x->n_dims; i++)
        norm *= x->ne[i];
    for (int i = 0; ok && i < p->n_dims; i++) {
        int64_t xd = x->ne[x->n_dims - p->n_dims + i];
        ok = p->ne[i] == xd || p->ne[i] == 1;
    }
    int64_t pn = au_tensor_numel(p);
    if (!ok || (pn != norm && pn != 1)) {
        char sx[96], sp[96];
        return au_ew_error(ctx, d, ok ? AU_UNSUPPORTED : AU_SHAPE,
                           "%s shape %s does not match X %s from axis %d", what,
                           au_tensor_shape_str(p, sp, sizeof(sp)),
                           au_tensor_shape_str(x, sx, sizeof(sx)), axis);
    }
    return AU_OK;
}

int au_layer_norm_infer(const struct au_op_ctx *ctx, size_t *scratch, struct au_diag *d)
{
    int axis;
    *scratch = 0;
    int rc = f32_axis(ctx, 2, &axis, d);
    const struct au_tensor *x = ctx->in[0];
    for (int k = 1; k < 3 && k < ctx->n_in && !rc; k++)
        if (ctx->in[k])
            rc = ln_param_ok(ctx, k, axis, d);
    if (rc)
        return rc;
    au_tensor_set_shape(ctx->out[0], x->dtype, x->n_dims, x->ne);
    /* Mean and InvStdDev: X's shape with the normalized dims set to 1. */
    int64_t ne[AU_MAX_DIMS];
    for (int i = 0; i < x->n_dims; i++)
        ne[i] = i < axis ? x->ne[i] : 1;
    for (int k = 1; k < ctx->n_out && k < 3; k++)
        if (ctx->out[k])
            au_tensor_set_shape(ctx->out[k], AU_DTYPE_F32, x->n_dims, ne);
    return AU_OK;
}

/* Normalize one row of n elements; two passes in double for an accurate variance. */
static void ln_row(const float *x, float *y, int64_t n, const float *sc, int64_t ss, const float *b,
                   int64_t sb, float eps, float *mean_out, float *inv_out)
{
    double mean = sum_contig(x, n) / (double)n, var = 0;
    for (int64_t i = 0; i < n; i++)
        var += ((double)x[i] - mean) * ((double)x[i] - mean);
    var /= (double)n;
    double inv = 1.0 / sqrt(var + (double)eps);
    for (int64_t i = 0; i < n; i++) {
        float v = (float)(((double)x[i] - mean) * inv) * sc[i * ss];
        y[i] = b ? v + b[i * sb] : v;
    }
    if (mean_out)
        *mean_out = (float)mean;
    if (inv_out)
        *inv_out = (float)inv;
}

int au_layer_norm_run(const struct au_op_ctx *ctx, struct au_diag *d)
{
    const struct au_tensor *x = ctx->in[0], *sc = ctx->in[1];
    const struct au_tensor *b = ctx->n_in > 2 ? ctx->in[2] : NULL;
    int axis;
    int rc = au_ew_axis(ctx, au_node_attr_int(ctx->node, "axis", -1), x->n_dims, "axis", &axis, d);
    if (rc)
        return rc;
    float eps = au_node_attr_float(ctx->node, "epsilon", 1e-5f);
    int64_t rows = 1, n = 1;
    for (int i = 0; i < x->n_dims; i++)
        *(i < axis ? &rows : &n) *= x->ne[i];
    if (n == 0)
        return AU_OK;
    float *mean = ctx->n_out > 1 && ctx->out[1] ? ctx->out[1]->data : NULL;
    float *inv = ctx->n_out > 2 && ctx->out[2] ? ctx->out[2]->data : NULL;
    int64_t ss = au_tensor_numel(sc) == 1 ? 0 : 1, sb = b && au_tensor_numel(b) == 1 ? 0 : 1;
    const float *xs = x->data;
    float *ys = ctx->out[0]->data;
    for (int64_t r = 0; r < rows; r++)
        ln_row(xs + r * n, ys + r * n, n, sc->data, ss, b ? b->data : NULL, sb, eps,
               mean ? mean + r : NULL, inv ? inv + r : NULL);
    return AU_OK;
}

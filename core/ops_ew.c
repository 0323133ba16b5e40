/* Elementwise ops: numpy-broadcast binary ops, comparisons, Where, variadic Sum/Max/...,
 * float unary activations, Clip and Cast; the au_ops_ew table also lists the reductions,
 * softmax and LayerNormalization of ops_reduce.c. Binary kernels run over broadcast rows
 * whose inner strides are 0 or 1, so equal shapes, scalars and per-channel operands are
 * flat loops. NaN propagates through Relu/Clip/Max as in PyTorch: faults create NaNs. */
#include "ops_ew.h"

#include "graph.h"
#include "tensor.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- shared helpers -- */

int au_ew_error(const struct au_op_ctx *ctx, struct au_diag *d, int status, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    const char *label = au_node_label(ctx->node), *op = ctx->node->op_type;
    if (strcmp(label, op) == 0)
        return au_diag_set(d, status, "%s: %s", op, msg);
    return au_diag_set(d, status, "%s: %s: %s", label, op, msg);
}

int au_ew_need_inputs(const struct au_op_ctx *ctx, int n_required, struct au_diag *d)
{
    if (ctx->n_in < n_required)
        return au_ew_error(ctx, d, AU_INVALID, "needs %d inputs, has %d", n_required, ctx->n_in);
    for (int i = 0; i < n_required; i++)
        if (!ctx->in[i])
            return au_ew_error(ctx, d, AU_INVALID, "required input %d is absent", i);
    if (ctx->n_out < 1 || !ctx->out[0])
        return au_ew_error(ctx, d, AU_INVALID, "output 0 is absent");
    return AU_OK;
}

int au_ew_axis(const struct au_op_ctx *ctx, int64_t a, int rank, const char *what, int *axis,
               struct au_diag *d)
{
    if (a < -(int64_t)rank || a >= rank)
        return au_ew_error(ctx, d, AU_INVALID, "%s %lld out of range for rank %d", what,
                           (long long)a, rank);
    *axis = (int)(a < 0 ? a + rank : a);
    return AU_OK;
}

int au_broadcast_shape(int na, const int64_t *a, int nb, const int64_t *b, int *n_out, int64_t *out)
{
    if (na < 0 || nb < 0 || na > AU_MAX_DIMS || nb > AU_MAX_DIMS)
        return AU_SHAPE;
    int n = na > nb ? na : nb;
    for (int i = 0; i < n; i++) {
        int64_t da = i < na ? a[na - 1 - i] : 1, db = i < nb ? b[nb - 1 - i] : 1;
        if (da != db && da != 1 && db != 1)
            return AU_SHAPE;
        out[n - 1 - i] = da == 1 ? db : da; // 1 against 0 gives 0, as numpy
    }
    *n_out = n;
    return AU_OK;
}

void au_bcast_init(struct au_bcast *p, int n_out_dims, const int64_t *out_ne, int n_ops,
                   const struct au_tensor *const *ops)
{
    int64_t st[AU_BCAST_MAX_OPS][AU_MAX_DIMS];
    AU_ASSERT(n_ops >= 1 && n_ops <= AU_BCAST_MAX_OPS && n_out_dims <= AU_MAX_DIMS);
    for (int k = 0; k < n_ops; k++) {
        int shift = n_out_dims - ops[k]->n_dims;
        int64_t s = 1;
        for (int i = n_out_dims - 1; i >= 0; i--) {
            int64_t e = i >= shift ? ops[k]->ne[i - shift] : 1;
            st[k][i] = e == 1 ? 0 : s;
            s *= e;
        }
    }
    /* Drop extent-1 dims; merge a dim into the previous one when every operand steps
     * through both as one (contiguous, or broadcast along both). */
    p->n_dims = 0;
    p->n_ops = n_ops;
    for (int i = 0; i < n_out_dims; i++) {
        if (out_ne[i] == 1)
            continue;
        int m = p->n_dims;
        bool merge = m > 0;
        for (int k = 0; k < n_ops && merge; k++)
            merge = p->st[k][m - 1] == st[k][i] * out_ne[i];
        if (merge) {
            p->ne[m - 1] *= out_ne[i];
        } else {
            p->ne[m] = out_ne[i];
            p->n_dims++;
            m++;
        }
        for (int k = 0; k < n_ops; k++)
            p->st[k][m - 1] = st[k][i];
    }
    if (p->n_dims == 0) {
        p->n_dims = 1;
        p->ne[0] = 1;
        for (int k = 0; k < n_ops; k++)
            p->st[k][0] = 0;
    }
    p->n_rows = 1;
    for (int i = 0; i < p->n_dims - 1; i++)
        p->n_rows *= p->ne[i];
}

static void fill_bytes(char *dst, const char *elem, size_t esize, int64_t n)
{
    if (esize == 1) {
        memset(dst, *elem, (size_t)n);
        return;
    }
    for (int64_t i = 0; i < n; i++)
        memcpy(dst + (size_t)i * esize, elem, esize);
}

void au_bcast_copy(const struct au_tensor *src, void *dst, int n_dims, const int64_t *ne)
{
    struct au_bcast p;
    int64_t idx[AU_MAX_DIMS] = {0}, off[1] = {0}, numel = 1;
    for (int i = 0; i < n_dims; i++)
        numel *= ne[i];
    if (numel == 0)
        return;
    au_bcast_init(&p, n_dims, ne, 1, &src);
    size_t es = au_dtype_size(src->dtype);
    int64_t inner = p.ne[p.n_dims - 1];
    const char *s = src->data;
    char *o = dst;
    for (int64_t r = 0; r < p.n_rows; r++) {
        char *row = o + (size_t)(r * inner) * es;
        if (p.st[0][p.n_dims - 1])
            memcpy(row, s + (size_t)off[0] * es, (size_t)inner * es);
        else
            fill_bytes(row, s + (size_t)off[0] * es, es, inner);
        au_bcast_next_row(&p, idx, off);
    }
}

/* Broadcast the shapes of in[0..n) into out[0]'s shape, or AU_SHAPE naming them. */
static int infer_broadcast(const struct au_op_ctx *ctx, int n, int dtype, struct au_diag *d)
{
    int64_t ne[AU_MAX_DIMS];
    int nd = ctx->in[0]->n_dims;
    memcpy(ne, ctx->in[0]->ne, sizeof(ne));
    for (int k = 1; k < n; k++) {
        const struct au_tensor *b = ctx->in[k];
        int64_t tmp[AU_MAX_DIMS];
        if (au_broadcast_shape(nd, ne, b->n_dims, b->ne, &nd, tmp) != AU_OK) {
            char sa[96], sb[96];
            struct au_tensor acc = {.n_dims = nd};
            memcpy(acc.ne, ne, sizeof(ne));
            return au_ew_error(ctx, d, AU_SHAPE, "shapes %s and %s do not broadcast",
                               au_tensor_shape_str(&acc, sa, sizeof(sa)),
                               au_tensor_shape_str(b, sb, sizeof(sb)));
        }
        memcpy(ne, tmp, sizeof(ne));
    }
    au_tensor_set_shape(ctx->out[0], dtype, nd, ne);
    return AU_OK;
}

/* ----------------------------------------------------------------- binary kernels -- */

/* o[i] = EXPR(x = a[i*sa], y = b[i*sb]) for i < n; sa, sb in {0, 1}. */
typedef void (*bin_fn)(const void *a, int64_t sa, const void *b, int64_t sb, void *o, int64_t n);

#define BIN_KERNEL(fname, TA, TB, TO, EXPR)                                                        \
    static void fname(const void *va, int64_t sa, const void *vb, int64_t sb, void *vo, int64_t n) \
    {                                                                                              \
        const TA *a = va;                                                                          \
        const TB *b = vb;                                                                          \
        TO *o = vo;                                                                                \
        if (sa && sb) {                                                                            \
            for (int64_t i = 0; i < n; i++) {                                                      \
                const TA x = a[i];                                                                 \
                const TB y = b[i];                                                                 \
                o[i] = (TO)(EXPR);                                                                 \
            }                                                                                      \
        } else if (sa) {                                                                           \
            const TB y = b[0];                                                                     \
            for (int64_t i = 0; i < n; i++) {                                                      \
                const TA x = a[i];                                                                 \
                o[i] = (TO)(EXPR);                                                                 \
            }                                                                                      \
        } else if (sb) {                                                                           \
            const TA x = a[0];                                                                     \
            for (int64_t i = 0; i < n; i++) {                                                      \
                const TB y = b[i];                                                                 \
                o[i] = (TO)(EXPR);                                                                 \
            }                                                                                      \
        } else {                                                                                   \
            const TA x = a[0];                                                                     \
            const TB y = b[0];                                                                     \
            const TO v = (TO)(EXPR);                                                               \
            for (int64_t i = 0; i < n; i++)                                                        \
                o[i] = v;                                                                          \
        }                                                                                          \
    }

/* Integer arithmetic wraps (through unsigned) instead of overflowing, and division by
 * zero gives 0: bad data must not crash the engine. Division truncates, as ONNX. */
static inline int64_t idiv_i64(int64_t x, int64_t y)
{
    return y == 0 ? 0 : y == -1 ? (int64_t)(0 - (uint64_t)x) : x / y;
}
static inline int32_t idiv_i32(int32_t x, int32_t y)
{
    return y == 0 ? 0 : y == -1 ? (int32_t)(0 - (uint32_t)x) : x / y;
}
/* NaN-propagating max/min (torch.maximum semantics). */
static inline float max_f32(float x, float y)
{
    return (x != x || x > y) ? x : y;
}
static inline float min_f32(float x, float y)
{
    return (x != x || x < y) ? x : y;
}

#define ARITH_KERNELS(id, OPF, OPI64, OPI32)                                                       \
    BIN_KERNEL(id##_f32, float, float, float, OPF)                                                 \
    BIN_KERNEL(id##_f64, double, double, double, OPF)                                              \
    BIN_KERNEL(id##_i64, int64_t, int64_t, int64_t, OPI64)                                         \
    BIN_KERNEL(id##_i32, int32_t, int32_t, int32_t, OPI32)

ARITH_KERNELS(add, x + y, (uint64_t)x + (uint64_t)y, (uint32_t)x + (uint32_t)y)
ARITH_KERNELS(sub, x - y, (uint64_t)x - (uint64_t)y, (uint32_t)x - (uint32_t)y)
ARITH_KERNELS(mul, x *y, (uint64_t)x *(uint64_t)y, (uint32_t)x *(uint32_t)y)
ARITH_KERNELS(div, x / y, idiv_i64(x, y), idiv_i32(x, y))
BIN_KERNEL(max_f32k, float, float, float, max_f32(x, y))
BIN_KERNEL(min_f32k, float, float, float, min_f32(x, y))
BIN_KERNEL(max_i64, int64_t, int64_t, int64_t, x > y ? x : y)
BIN_KERNEL(min_i64, int64_t, int64_t, int64_t, x < y ? x : y)
BIN_KERNEL(max_i32, int32_t, int32_t, int32_t, x > y ? x : y)
BIN_KERNEL(min_i32, int32_t, int32_t, int32_t, x < y ? x : y)
BIN_KERNEL(pow_f32, float, float, float, powf(x, y))
BIN_KERNEL(pow_f32_i64, float, int64_t, float, powf(x, (float)y))
BIN_KERNEL(pow_f32_i32, float, int32_t, float, powf(x, (float)y))
BIN_KERNEL(pow_f32_f64, float, double, float, pow((double)x, y))

#define CMP_KERNELS(id, EXPR)                                                                      \
    BIN_KERNEL(id##_f32, float, float, uint8_t, EXPR)                                              \
    BIN_KERNEL(id##_f64, double, double, uint8_t, EXPR)                                            \
    BIN_KERNEL(id##_i64, int64_t, int64_t, uint8_t, EXPR)                                          \
    BIN_KERNEL(id##_i32, int32_t, int32_t, uint8_t, EXPR)                                          \
    BIN_KERNEL(id##_u8, uint8_t, uint8_t, uint8_t, EXPR)

CMP_KERNELS(eq, x == y)
CMP_KERNELS(lt, x < y)
CMP_KERNELS(gt, x > y)
CMP_KERNELS(le, x <= y)
CMP_KERNELS(ge, x >= y)
/* Bools are read as "nonzero" so a flipped bit in a bool tensor stays a bool. */
BIN_KERNEL(and_b, uint8_t, uint8_t, uint8_t, (x != 0) & (y != 0))
BIN_KERNEL(or_b, uint8_t, uint8_t, uint8_t, (x != 0) | (y != 0))
BIN_KERNEL(xor_b, uint8_t, uint8_t, uint8_t, (x != 0) ^ (y != 0))
BIN_KERNEL(eq_b, uint8_t, uint8_t, uint8_t, (x != 0) == (y != 0))

/* ------------------------------------------------------------------- binary ops -- */

enum bin_out { BIN_SAME, BIN_BOOL };

/* Kernels by input dtype (NULL = unsupported). b_* are for a float32 base with another
 * exponent dtype (Pow). */
struct bin_op {
    bin_fn f32, f64, i64, i32, u8, boolean;
    bin_fn b_i64, b_i32, b_f64;
    enum bin_out out;
};

#define ARITH_OP(id)                                                                               \
    {                                                                                              \
        .f32 = id##_f32, .f64 = id##_f64, .i64 = id##_i64, .i32 = id##_i32                         \
    }
#define CMP_OP(id)                                                                                 \
    {                                                                                              \
        .f32 = id##_f32, .f64 = id##_f64, .i64 = id##_i64, .i32 = id##_i32, .u8 = id##_u8,         \
        .out = BIN_BOOL                                                                            \
    }

static const struct bin_op op_add = ARITH_OP(add), op_sub = ARITH_OP(sub), op_mul = ARITH_OP(mul),
                           op_div = ARITH_OP(div);
static const struct bin_op op_pow = {
    .f32 = pow_f32, .b_i64 = pow_f32_i64, .b_i32 = pow_f32_i32, .b_f64 = pow_f32_f64};
static const struct bin_op op_max = {.f32 = max_f32k, .i64 = max_i64, .i32 = max_i32};
static const struct bin_op op_min = {.f32 = min_f32k, .i64 = min_i64, .i32 = min_i32};
static const struct bin_op op_equal = {.f32 = eq_f32,
                                       .f64 = eq_f64,
                                       .i64 = eq_i64,
                                       .i32 = eq_i32,
                                       .u8 = eq_u8,
                                       .boolean = eq_b,
                                       .out = BIN_BOOL};
static const struct bin_op op_less = CMP_OP(lt), op_greater = CMP_OP(gt), op_less_eq = CMP_OP(le),
                           op_greater_eq = CMP_OP(ge);
static const struct bin_op op_and = {.boolean = and_b, .out = BIN_BOOL};
static const struct bin_op op_or = {.boolean = or_b, .out = BIN_BOOL};
static const struct bin_op op_xor = {.boolean = xor_b, .out = BIN_BOOL};

static bin_fn bin_pick(const struct bin_op *op, int ta, int tb)
{
    if (ta != tb) {
        if (ta != AU_DTYPE_F32)
            return NULL;
        return tb == AU_DTYPE_I64   ? op->b_i64
               : tb == AU_DTYPE_I32 ? op->b_i32
               : tb == AU_DTYPE_F64 ? op->b_f64
                                    : NULL;
    }
    switch (ta) {
    case AU_DTYPE_F32:
        return op->f32;
    case AU_DTYPE_F64:
        return op->f64;
    case AU_DTYPE_I64:
        return op->i64;
    case AU_DTYPE_I32:
        return op->i32;
    case AU_DTYPE_U8:
        return op->u8;
    case AU_DTYPE_BOOL:
        return op->boolean;
    default:
        return NULL;
    }
}

static int binary_infer(const struct au_op_ctx *ctx, const struct bin_op *op, struct au_diag *d)
{
    int rc = au_ew_need_inputs(ctx, 2, d);
    if (rc)
        return rc;
    const struct au_tensor *a = ctx->in[0], *b = ctx->in[1];
    if (!bin_pick(op, a->dtype, b->dtype)) {
        if (a->dtype != b->dtype && bin_pick(op, a->dtype, a->dtype))
            return au_ew_error(ctx, d, AU_DTYPE, "input dtypes %s and %s differ",
                               au_dtype_name(a->dtype), au_dtype_name(b->dtype));
        return au_ew_error(ctx, d, AU_DTYPE, "dtype %s (with %s) not supported",
                           au_dtype_name(a->dtype), au_dtype_name(b->dtype));
    }
    return infer_broadcast(ctx, 2, op->out == BIN_BOOL ? AU_DTYPE_BOOL : a->dtype, d);
}

/* out = fn(a, b) over the broadcast of a and b onto out's shape. a may alias out when
 * a has out's full shape (variadic ops accumulate in place). */
static void binary_apply(bin_fn fn, const struct au_tensor *a, const struct au_tensor *b,
                         struct au_tensor *out)
{
    struct au_bcast p;
    const struct au_tensor *ops[2] = {a, b};
    int64_t idx[AU_MAX_DIMS] = {0}, off[2] = {0, 0};
    if (au_tensor_numel(out) == 0)
        return;
    au_bcast_init(&p, out->n_dims, out->ne, 2, ops);
    size_t ea = au_dtype_size(a->dtype), eb = au_dtype_size(b->dtype);
    size_t eo = au_dtype_size(out->dtype);
    int64_t inner = p.ne[p.n_dims - 1];
    int64_t sa = p.st[0][p.n_dims - 1], sb = p.st[1][p.n_dims - 1];
    const char *pa = a->data, *pb = b->data;
    char *po = out->data;
    for (int64_t r = 0; r < p.n_rows; r++) {
        fn(pa + (size_t)off[0] * ea, sa, pb + (size_t)off[1] * eb, sb,
           po + (size_t)(r * inner) * eo, inner);
        au_bcast_next_row(&p, idx, off);
    }
}

static int binary_run(const struct au_op_ctx *ctx, const struct bin_op *op, struct au_diag *d)
{
    const struct au_tensor *a = ctx->in[0], *b = ctx->in[1];
    bin_fn fn = bin_pick(op, a->dtype, b->dtype);
    if (!fn)
        return au_ew_error(ctx, d, AU_DTYPE, "dtype %s not supported", au_dtype_name(a->dtype));
    /* x ** 2 (torch's square) is x * x: exact, and far cheaper than powf. */
    if (op == &op_pow && b->dtype == AU_DTYPE_F32 && au_tensor_numel(b) == 1 &&
        ((const float *)b->data)[0] == 2.0f)
        binary_apply(mul_f32, a, a, ctx->out[0]);
    else
        binary_apply(fn, a, b, ctx->out[0]);
    return AU_OK;
}

#define BINARY_WRAPPERS(id)                                                                        \
    static int id##_infer(const struct au_op_ctx *ctx, size_t *scratch, struct au_diag *d)         \
    {                                                                                              \
        *scratch = 0;                                                                              \
        return binary_infer(ctx, &op_##id, d);                                                     \
    }                                                                                              \
    static int id##_run(const struct au_op_ctx *ctx, struct au_diag *d)                            \
    {                                                                                              \
        return binary_run(ctx, &op_##id, d);                                                       \
    }

BINARY_WRAPPERS(add)
BINARY_WRAPPERS(sub)
BINARY_WRAPPERS(mul)
BINARY_WRAPPERS(div)
BINARY_WRAPPERS(pow)
BINARY_WRAPPERS(equal)
BINARY_WRAPPERS(less)
BINARY_WRAPPERS(greater)
BINARY_WRAPPERS(less_eq)
BINARY_WRAPPERS(greater_eq)
BINARY_WRAPPERS(and)
BINARY_WRAPPERS(or)
BINARY_WRAPPERS(xor)

/* --------------------------------------------------------------------- Where -- */

static int where_infer(const struct au_op_ctx *ctx, size_t *scratch, struct au_diag *d)
{
    *scratch = 0;
    int rc = au_ew_need_inputs(ctx, 3, d);
    if (rc)
        return rc;
    const struct au_tensor *c = ctx->in[0], *x = ctx->in[1], *y = ctx->in[2];
    if (c->dtype != AU_DTYPE_BOOL)
        return au_ew_error(ctx, d, AU_DTYPE, "condition must be bool, not %s",
                           au_dtype_name(c->dtype));
    if (x->dtype != y->dtype || !au_dtype_is_valid(x->dtype))
        return au_ew_error(ctx, d, AU_DTYPE, "X is %s but Y is %s", au_dtype_name(x->dtype),
                           au_dtype_name(y->dtype));
    return infer_broadcast(ctx, 3, x->dtype, d);
}

/* Element-size generic select: the dtype does not matter, only its width. */
static void where_row(const uint8_t *c, int64_t sc, const char *x, int64_t sx, const char *y,
                      int64_t sy, char *o, size_t es, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        const char *src = c[i * sc] ? x + (size_t)(i * sx) * es : y + (size_t)(i * sy) * es;
        memcpy(o + (size_t)i * es, src, es);
    }
}

static int where_run(const struct au_op_ctx *ctx, struct au_diag *d)
{
    (void)d;
    struct au_tensor *out = ctx->out[0];
    struct au_bcast p;
    int64_t idx[AU_MAX_DIMS] = {0}, off[3] = {0, 0, 0};
    if (au_tensor_numel(out) == 0)
        return AU_OK;
    au_bcast_init(&p, out->n_dims, out->ne, 3, ctx->in);
    size_t es = au_dtype_size(out->dtype);
    int last = p.n_dims - 1;
    int64_t inner = p.ne[last];
    const uint8_t *c = ctx->in[0]->data;
    const char *x = ctx->in[1]->data, *y = ctx->in[2]->data;
    char *o = out->data;
    for (int64_t r = 0; r < p.n_rows; r++) {
        where_row(c + off[0], p.st[0][last], x + (size_t)off[1] * es, p.st[1][last],
                  y + (size_t)off[2] * es, p.st[2][last], o + (size_t)(r * inner) * es, es, inner);
        au_bcast_next_row(&p, idx, off);
    }
    return AU_OK;
}

/* ------------------------------------------------- variadic Sum, Mean, Max, Min -- */

static int variadic_infer(const struct au_op_ctx *ctx, const struct bin_op *op, struct au_diag *d)
{
    int rc = au_ew_need_inputs(ctx, ctx->n_in, d);
    if (rc)
        return rc;
    int dt = ctx->in[0]->dtype;
    for (int k = 1; k < ctx->n_in; k++)
        if (ctx->in[k]->dtype != dt)
            return au_ew_error(ctx, d, AU_DTYPE, "input %d is %s, input 0 is %s", k,
                               au_dtype_name(ctx->in[k]->dtype), au_dtype_name(dt));
    if (!bin_pick(op, dt, dt))
        return au_ew_error(ctx, d, AU_DTYPE, "dtype %s not supported", au_dtype_name(dt));
    return infer_broadcast(ctx, ctx->n_in, dt, d);
}

/* Broadcast input 0 into the output, then fold the others in place: the output has the
 * full broadcast shape, so it is a valid left operand for every step. */
static int variadic_run(const struct au_op_ctx *ctx, const struct bin_op *op, bool mean)
{
    struct au_tensor *out = ctx->out[0];
    bin_fn fn = bin_pick(op, out->dtype, out->dtype);
    au_bcast_copy(ctx->in[0], out->data, out->n_dims, out->ne);
    for (int k = 1; k < ctx->n_in; k++)
        binary_apply(fn, out, ctx->in[k], out);
    if (mean) {
        float *o = out->data, k = (float)ctx->n_in;
        int64_t n = au_tensor_numel(out);
        for (int64_t i = 0; i < n; i++)
            o[i] /= k;
    }
    return AU_OK;
}

static const struct bin_op op_mean = {.f32 = add_f32};

#define VARIADIC_WRAPPERS(id, op, is_mean)                                                         \
    static int id##_infer(const struct au_op_ctx *ctx, size_t *scratch, struct au_diag *d)         \
    {                                                                                              \
        *scratch = 0;                                                                              \
        return variadic_infer(ctx, &op, d);                                                        \
    }                                                                                              \
    static int id##_run(const struct au_op_ctx *ctx, struct au_diag *d)                            \
    {                                                                                              \
        (void)d;                                                                                   \
        return variadic_run(ctx, &op, is_mean);                                                    \
    }

VARIADIC_WRAPPERS(vsum, op_add, false)
VARIADIC_WRAPPERS(vmean, op_mean, true)
VARIADIC_WRAPPERS(vmax, op_max, false)
VARIADIC_WRAPPERS(vmin, op_min, false)

/* --------------------------------------------------------------------- unary ops -- */

/* Attribute values a unary kernel may need, read once per run. */
struct un_params {
    float alpha, beta, gamma;
    bool tanh_approx; /* Gelu */
};

typedef void (*un_fn)(const void *x, void *y, int64_t n, const struct un_params *p);

#define UN_KERNEL(fname, T, EXPR)                                                                  \
    static void fname(const void *vx, void *vy, int64_t n, const struct un_params *p)              \
    {                                                                                              \
        const T *xs = vx;                                                                          \
        T *ys = vy;                                                                                \
        (void)p;                                                                                   \
        for (int64_t i = 0; i < n; i++) {                                                          \
            const T x = xs[i];                                                                     \
            ys[i] = (T)(EXPR);                                                                     \
        }                                                                                          \
    }

/* Branch-free: expf(-x) overflows to inf for x < -88, giving the exact limit 0. */
static inline float sigmoid_f32(float x)
{
    return 1.0f / (1.0f + expf(-x));
}

static inline float softplus_f32(float x)
{
    return x > 0 ? x + log1pf(expf(-x)) : log1pf(expf(x));
}

/* Comparisons are written so that NaN falls through to x (propagates). */
static inline float clamp01(float v)
{
    return v < 0 ? 0.0f : v > 1 ? 1.0f : v;
}

UN_KERNEL(sqrt_k, float, sqrtf(x))
UN_KERNEL(exp_k, float, expf(x))
UN_KERNEL(log_k, float, logf(x))
UN_KERNEL(erf_k, float, erff(x))
UN_KERNEL(tanh_k, float, tanhf(x))
UN_KERNEL(sin_k, float, sinf(x))
UN_KERNEL(cos_k, float, cosf(x))
UN_KERNEL(sigmoid_k, float, sigmoid_f32(x))
UN_KERNEL(neg_f32, float, -x)
UN_KERNEL(neg_i64, int64_t, 0 - (uint64_t)x)
UN_KERNEL(neg_i32, int32_t, 0 - (uint32_t)x)
UN_KERNEL(abs_f32, float, fabsf(x))
UN_KERNEL(abs_i64, int64_t, x < 0 ? 0 - (uint64_t)x : (uint64_t)x)
UN_KERNEL(abs_i32, int32_t, x < 0 ? 0 - (uint32_t)x : (uint32_t)x)
UN_KERNEL(relu_k, float, x < 0 ? 0.0f : x)
UN_KERNEL(leaky_relu_k, float, x < 0 ? p->alpha * x : x)
UN_KERNEL(elu_k, float, x < 0 ? p->alpha * (expf(x) - 1.0f) : x)
UN_KERNEL(selu_k, float, p->gamma *(x <= 0 ? p->alpha * (expf(x) - 1.0f) : x))
UN_KERNEL(hard_sigmoid_k, float, clamp01(p->alpha *x + p->beta))
UN_KERNEL(hard_swish_k, float, x *clamp01(x / 6.0f + 0.5f))
UN_KERNEL(softplus_k, float, softplus_f32(x))
UN_KERNEL(softsign_k, float, x / (1.0f + fabsf(x)))
UN_KERNEL(reciprocal_k, float, 1.0f / x)
UN_KERNEL(floor_k, float, floorf(x))
UN_KERNEL(ceil_k, float, ceilf(x))
UN_KERNEL(round_k, float, nearbyintf(x)) // half to even in the default rounding mode
UN_KERNEL(sign_k, float, x > 0 ? 1.0f : x < 0 ? -1.0f : x)
UN_KERNEL(not_k, uint8_t, x == 0)

/* Gelu (opset 20): exact erf form, or the tanh approximation. */
static void gelu_k(const void *vx, void *vy, int64_t n, const struct un_params *p)
{
    const float *xs = vx;
    float *ys = vy;
    const float rsqrt2 = 0.70710678118654752f, k = 0.79788456080286536f; // sqrt(2/pi)
    if (p->tanh_approx) {
        for (int64_t i = 0; i < n; i++) {
            float x = xs[i];
            ys[i] = 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
        }
    } else {
        for (int64_t i = 0; i < n; i++)
            ys[i] = 0.5f * xs[i] * (1.0f + erff(xs[i] * rsqrt2));
    }
}

/* Kernels by dtype and the attribute defaults an op reads (alpha, beta, gamma). */
struct un_op {
    un_fn f32, i64, i32, boolean;
    float alpha, beta, gamma;
};

#define UN_F32(id)                                                                                 \
    {                                                                                              \
        .f32 = id##_k                                                                              \
    }
static const struct un_op un_sqrt = UN_F32(sqrt), un_exp = UN_F32(exp), un_log = UN_F32(log),
                          un_erf = UN_F32(erf), un_tanh = UN_F32(tanh), un_sin = UN_F32(sin),
                          un_cos = UN_F32(cos), un_sigmoid = UN_F32(sigmoid),
                          un_relu = UN_F32(relu), un_hard_swish = UN_F32(hard_swish),
                          un_softplus = UN_F32(softplus), un_softsign = UN_F32(softsign),
                          un_reciprocal = UN_F32(reciprocal), un_floor = UN_F32(floor),
                          un_ceil = UN_F32(ceil), un_round = UN_F32(round), un_sign = UN_F32(sign),
                          un_gelu = UN_F32(gelu);
static const struct un_op un_neg = {.f32 = neg_f32, .i64 = neg_i64, .i32 = neg_i32},
                          un_abs = {.f32 = abs_f32, .i64 = abs_i64, .i32 = abs_i32},
                          un_leaky_relu = {.f32 = leaky_relu_k, .alpha = 0.01f},
                          un_elu = {.f32 = elu_k, .alpha = 1.0f},
                          un_selu = {.f32 = selu_k,
                                     .alpha = 1.67326319217681884765625f,
                                     .gamma = 1.05070102214813232421875f},
                          un_hard_sigmoid = {.f32 = hard_sigmoid_k, .alpha = 0.2f, .beta = 0.5f},
                          un_not = {.boolean = not_k};

static un_fn un_pick(const struct un_op *op, int dt)
{
    switch (dt) {
    case AU_DTYPE_F32:
        return op->f32;
    case AU_DTYPE_I64:
        return op->i64;
    case AU_DTYPE_I32:
        return op->i32;
    case AU_DTYPE_BOOL:
        return op->boolean;
    default:
        return NULL;
    }
}

static int unary_infer(const struct au_op_ctx *ctx, const struct un_op *op, struct au_diag *d)
{
    int rc = au_ew_need_inputs(ctx, 1, d);
    if (rc)
        return rc;
    const struct au_tensor *x = ctx->in[0];
    if (!un_pick(op, x->dtype))
        return au_ew_error(ctx, d, AU_DTYPE, "dtype %s not supported", au_dtype_name(x->dtype));
    if (op == &un_gelu) {
        const char *ap = au_node_attr_string(ctx->node, "approximate", "none");
        if (strcmp(ap, "none") != 0 && strcmp(ap, "tanh") != 0)
            return au_ew_error(ctx, d, AU_INVALID, "approximate '%s' is not none or tanh", ap);
    }
    au_tensor_set_shape(ctx->out[0], x->dtype, x->n_dims, x->ne);
    return AU_OK;
}

static int unary_run(const struct au_op_ctx *ctx, const struct un_op *op, struct au_diag *d)
{
    const struct au_tensor *x = ctx->in[0];
    un_fn fn = un_pick(op, x->dtype);
    if (!fn)
        return au_ew_error(ctx, d, AU_DTYPE, "dtype %s not supported", au_dtype_name(x->dtype));
    const struct au_node *n = ctx->node;
    struct un_params p = {
        .alpha = au_node_attr_float(n, "alpha", op->alpha),
        .beta = au_node_attr_float(n, "beta", op->beta),
        .gamma = au_node_attr_float(n, "gamma", op->gamma),
        .tanh_approx = strcmp(au_node_attr_string(n, "approximate", "none"), "tanh") == 0,
    };
    fn(x->data, ctx->out[0]->data, au_tensor_numel(x), &p);
    return AU_OK;
}

/* Elementwise ops whose every element is computed the same way on any path (no vector
 * math library): the region of a changed input is the region of the changed output. */
static int unary_run_boxes(const struct au_op_ctx *ctx, const struct un_op *op, const int64_t *rows,
                           const struct au_box *box, struct au_box *out_box, int64_t n)
{
    const struct au_tensor *x = ctx->in[0];
    if (x->dtype != AU_DTYPE_F32 || x->n_dims != 4)
        return 0;
    const struct au_node *nd = ctx->node;
    struct un_params p = {
        .alpha = au_node_attr_float(nd, "alpha", op->alpha),
        .beta = au_node_attr_float(nd, "beta", op->beta),
        .gamma = au_node_attr_float(nd, "gamma", op->gamma),
    };
    int64_t c = x->ne[1], h = x->ne[2], w = x->ne[3];
    const float *xs = x->data;
    float *ys = ctx->out[0]->data;
    for (int64_t i = 0; i < n; i++) {
        const struct au_box *b = &box[i];
        out_box[i] = *b;
        for (int64_t ch = 0; ch < c && b->y0 <= b->y1; ch++)
            for (int64_t y = b->y0; y <= b->y1; y++) {
                int64_t at = ((rows[i] * c + ch) * h + y) * w + b->x0;
                op->f32(xs + at, ys + at, b->x1 - b->x0 + 1, &p);
            }
    }
    return 1;
}

static int relu_run_boxes(const struct au_op_ctx *ctx, const int64_t *rows,
                          const struct au_box *box, struct au_box *out_box, int64_t n,
                          struct au_diag *d)
{
    (void)d;
    return unary_run_boxes(ctx, &un_relu, rows, box, out_box, n);
}

static int leaky_relu_run_boxes(const struct au_op_ctx *ctx, const int64_t *rows,
                                const struct au_box *box, struct au_box *out_box, int64_t n,
                                struct au_diag *d)
{
    (void)d;
    return unary_run_boxes(ctx, &un_leaky_relu, rows, box, out_box, n);
}

#define UNARY_WRAPPERS(id)                                                                         \
    static int id##_infer(const struct au_op_ctx *ctx, size_t *scratch, struct au_diag *d)         \
    {                                                                                              \
        *scratch = 0;                                                                              \
        return unary_infer(ctx, &un_##id, d);                                                      \
    }                                                                                              \
    static int id##_run(const struct au_op_ctx *ctx, struct au_diag *d)                            \
    {                                                                                              \
        return unary_run(ctx, &un_##id, d);                                                        \
    }

UNARY_WRAPPERS(sqrt)
UNARY_WRAPPERS(exp)
UNARY_WRAPPERS(log)
UNARY_WRAPPERS(erf)
UNARY_WRAPPERS(tanh)
UNARY_WRAPPERS(sin)
UNARY_WRAPPERS(cos)
UNARY_WRAPPERS(sigmoid)
UNARY_WRAPPERS(neg)
UNARY_WRAPPERS(abs)
UNARY_WRAPPERS(relu)
UNARY_WRAPPERS(leaky_relu)
UNARY_WRAPPERS(elu)
UNARY_WRAPPERS(selu)
UNARY_WRAPPERS(hard_sigmoid)
UNARY_WRAPPERS(hard_swish)
UNARY_WRAPPERS(softplus)
UNARY_WRAPPERS(softsign)
UNARY_WRAPPERS(reciprocal)
UNARY_WRAPPERS(floor)
UNARY_WRAPPERS(ceil)
UNARY_WRAPPERS(round)
UNARY_WRAPPERS(sign)
UNARY_WRAPPERS(gelu)
UNARY_WRAPPERS(not )

/* ---------------------------------------------------------------------- Clip -- */

/* Clip bounds come from inputs 1 and 2 (opset 11+, scalars of X's dtype, may be absent)
 * or from attributes min/max (opset 6). Absent bounds are the dtype's limits. */
static int clip_infer(const struct au_op_ctx *ctx, size_t *scratch, struct au_diag *d)
{
    *scratch = 0;
    int rc = au_ew_need_inputs(ctx, 1, d);
    if (rc)
        return rc;
    const struct au_tensor *x = ctx->in[0];
    if (x->dtype != AU_DTYPE_F32 && x->dtype != AU_DTYPE_I64 && x->dtype != AU_DTYPE_I32)
        return au_ew_error(ctx, d, AU_DTYPE, "dtype %s not supported", au_dtype_name(x->dtype));
    for (int k = 1; k < ctx->n_in && k < 3; k++) {
        const struct au_tensor *b = ctx->in[k];
        if (!b)
            continue;
        if (b->dtype != x->dtype)
            return au_ew_error(ctx, d, AU_DTYPE, "%s is %s, input is %s", k == 1 ? "min" : "max",
                               au_dtype_name(b->dtype), au_dtype_name(x->dtype));
        if (au_tensor_numel(b) != 1)
            return au_ew_error(ctx, d, AU_SHAPE, "%s must be a scalar", k == 1 ? "min" : "max");
    }
    au_tensor_set_shape(ctx->out[0], x->dtype, x->n_dims, x->ne);
    return AU_OK;
}

/* Bound k (1 = min, 2 = max) as double: from the input, else the attribute, else dflt.
 * Doubles hold every int32 and the int64 values a model realistically uses as bounds. */
static double clip_bound(const struct au_op_ctx *ctx, int k, double dflt)
{
    if (k < ctx->n_in && ctx->in[k])
        return au_tensor_get_f64(ctx->in[k], 0);
    const struct au_attr *a = au_node_attr(ctx->node, k == 1 ? "min" : "max");
    return a ? (double)a->f : dflt;
}

static int64_t clip_bound_i64(const struct au_op_ctx *ctx, int k, int64_t dflt)
{
    if (k < ctx->n_in && ctx->in[k])
        return au_tensor_get_i64(ctx->in[k], 0);
    return dflt;
}

static int clip_run(const struct au_op_ctx *ctx, struct au_diag *d)
{
    (void)d;
    const struct au_tensor *x = ctx->in[0];
    int64_t n = au_tensor_numel(x);
    if (x->dtype == AU_DTYPE_F32) {
        const float *xs = x->data;
        float *ys = ctx->out[0]->data;
        float lo = (float)clip_bound(ctx, 1, -INFINITY), hi = (float)clip_bound(ctx, 2, INFINITY);
        for (int64_t i = 0; i < n; i++) {
            float v = xs[i] < lo ? lo : xs[i]; // NaN passes through both tests
            ys[i] = v > hi ? hi : v;           // min > max gives max, as ONNX says
        }
    } else if (x->dtype == AU_DTYPE_I64) {
        const int64_t *xs = x->data;
        int64_t *ys = ctx->out[0]->data;
        int64_t lo = clip_bound_i64(ctx, 1, INT64_MIN), hi = clip_bound_i64(ctx, 2, INT64_MAX);
        for (int64_t i = 0; i < n; i++) {
            int64_t v = xs[i] < lo ? lo : xs[i];
            ys[i] = v > hi ? hi : v;
        }
    } else {
        const int32_t *xs = x->data;
        int32_t *ys = ctx->out[0]->data;
        int64_t lo = clip_bound_i64(ctx, 1, INT32_MIN), hi = clip_bound_i64(ctx, 2, INT32_MAX);
        for (int64_t i = 0; i < n; i++) {
            int64_t v = xs[i] < lo ? lo : xs[i];
            ys[i] = (int32_t)(v > hi ? hi : v);
        }
    }
    return AU_OK;
}

/* ---------------------------------------------------------------------- Cast -- */

/* Cast goes through a small stack chunk: floats widen to double, integers to int64, then
 * one tight loop per destination dtype, instead of one loop per (from, to) pair.
 * float -> int: NaN gives 0 (undefined in ONNX), else truncation toward zero saturated to
 * int64, then narrower integers wrap like a C integer conversion (numpy does the same for
 * values in int32 range). Anything -> bool is "nonzero"; NaN is nonzero, as numpy. */
#define CAST_CHUNK 256

static bool dtype_is_float(int dt)
{
    return dt == AU_DTYPE_F32 || dt == AU_DTYPE_F64;
}

static int64_t f64_to_i64(double v)
{
    if (v != v)
        return 0;
    if (v >= 9223372036854775808.0)
        return INT64_MAX;
    if (v <= -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)v;
}

static void load_f(const void *src, int dt, int64_t n, double *buf)
{
    if (dt == AU_DTYPE_F32)
        for (int64_t i = 0; i < n; i++)
            buf[i] = ((const float *)src)[i];
    else
        memcpy(buf, src, (size_t)n * sizeof(double));
}

static void load_i(const void *src, int dt, int64_t n, int64_t *buf)
{
    for (int64_t i = 0; i < n; i++) {
        switch (dt) {
        case AU_DTYPE_I64:
            buf[i] = ((const int64_t *)src)[i];
            break;
        case AU_DTYPE_I32:
            buf[i] = ((const int32_t *)src)[i];
            break;
        case AU_DTYPE_I8:
            buf[i] = ((const int8_t *)src)[i];
            break;
        case AU_DTYPE_BOOL:
            buf[i] = ((const uint8_t *)src)[i] != 0;
            break;
        default:
            buf[i] = ((const uint8_t *)src)[i];
        }
    }
}

/* Store n int64 values as dt. */
static void store_i(const int64_t *v, int dt, int64_t n, void *dst)
{
    switch (dt) {
    case AU_DTYPE_F32:
        for (int64_t i = 0; i < n; i++)
            ((float *)dst)[i] = (float)v[i];
        break;
    case AU_DTYPE_F64:
        for (int64_t i = 0; i < n; i++)
            ((double *)dst)[i] = (double)v[i];
        break;
    case AU_DTYPE_I64:
        memcpy(dst, v, (size_t)n * sizeof(*v));
        break;
    case AU_DTYPE_I32:
        for (int64_t i = 0; i < n; i++)
            ((int32_t *)dst)[i] = (int32_t)v[i];
        break;
    case AU_DTYPE_I8:
        for (int64_t i = 0; i < n; i++)
            ((int8_t *)dst)[i] = (int8_t)v[i];
        break;
    case AU_DTYPE_BOOL:
        for (int64_t i = 0; i < n; i++)
            ((uint8_t *)dst)[i] = v[i] != 0;
        break;
    default:
        for (int64_t i = 0; i < n; i++)
            ((uint8_t *)dst)[i] = (uint8_t)v[i];
    }
}

/* Store n doubles as dt (integers via f64_to_i64). */
static void store_f(const double *v, int dt, int64_t n, void *dst)
{
    int64_t tmp[CAST_CHUNK];
    if (dt == AU_DTYPE_F32) {
        for (int64_t i = 0; i < n; i++)
            ((float *)dst)[i] = (float)v[i];
    } else if (dt == AU_DTYPE_F64) {
        memcpy(dst, v, (size_t)n * sizeof(*v));
    } else if (dt == AU_DTYPE_BOOL) {
        for (int64_t i = 0; i < n; i++)
            ((uint8_t *)dst)[i] = v[i] != 0;
    } else {
        for (int64_t i = 0; i < n; i++)
            tmp[i] = f64_to_i64(v[i]);
        store_i(tmp, dt, n, dst);
    }
}

/* Convert n elements of src (dtype from) into dst (dtype to). Same dtype is a copy. */
static void cast_buffer(const void *src, int from, void *dst, int to, int64_t n)
{
    size_t es = au_dtype_size(from), ed = au_dtype_size(to);
    if (from == to) {
        memcpy(dst, src, (size_t)n * es);
        return;
    }
    for (int64_t i = 0; i < n; i += CAST_CHUNK) {
        int64_t m = n - i < CAST_CHUNK ? n - i : CAST_CHUNK;
        const char *s = (const char *)src + (size_t)i * es;
        char *o = (char *)dst + (size_t)i * ed;
        if (dtype_is_float(from)) {
            double buf[CAST_CHUNK];
            load_f(s, from, m, buf);
            store_f(buf, to, m, o);
        } else {
            int64_t buf[CAST_CHUNK];
            load_i(s, from, m, buf);
            store_i(buf, to, m, o);
        }
    }
}

static int cast_infer(const struct au_op_ctx *ctx, size_t *scratch, struct au_diag *d)
{
    *scratch = 0;
    int rc = au_ew_need_inputs(ctx, 1, d);
    if (rc)
        return rc;
    const struct au_tensor *x = ctx->in[0];
    const struct au_attr *to = au_node_attr(ctx->node, "to");
    if (!to || to->type != AU_ATTR_INT)
        return au_ew_error(ctx, d, AU_INVALID, "missing int attribute 'to'");
    if (!au_dtype_is_valid((int)to->i) || to->i != (int)to->i)
        return au_ew_error(ctx, d, AU_UNSUPPORTED, "cast to ONNX dtype %lld not supported",
                           (long long)to->i);
    if (!au_dtype_is_valid(x->dtype))
        return au_ew_error(ctx, d, AU_DTYPE, "input dtype %d not supported", x->dtype);
    au_tensor_set_shape(ctx->out[0], (int)to->i, x->n_dims, x->ne);
    return AU_OK;
}

static int cast_run(const struct au_op_ctx *ctx, struct au_diag *d)
{
    (void)d;
    const struct au_tensor *x = ctx->in[0];
    cast_buffer(x->data, x->dtype, ctx->out[0]->data, ctx->out[0]->dtype, au_tensor_numel(x));
    return AU_OK;
}

/* --------------------------------------------------------------------- table -- */

#define BIN(name, id)                                                                              \
    {                                                                                              \
        name, 2, 2, 1, 1, id##_infer, id##_run, NULL, NULL                                         \
    }
#define UN(name, id)                                                                               \
    {                                                                                              \
        name, 1, 1, 1, 1, id##_infer, id##_run, NULL, NULL                                         \
    }
#define VAR(name, id)                                                                              \
    {                                                                                              \
        name, 1, INT_MAX, 1, 1, id##_infer, id##_run, NULL, NULL                                   \
    }
#define RED(onnx, id) {#onnx, 1, 2, 1, 1, au_reduce_##id##_infer, au_reduce_##id##_run, NULL, NULL},

const struct au_op_def au_ops_ew[] = {
    BIN("Add", add),
    BIN("Sub", sub),
    BIN("Mul", mul),
    BIN("Div", div),
    BIN("Pow", pow),
    BIN("Equal", equal),
    BIN("Less", less),
    BIN("Greater", greater),
    BIN("LessOrEqual", less_eq),
    BIN("GreaterOrEqual", greater_eq),
    BIN("And", and),
    BIN("Or", or),
    BIN("Xor", xor),
    {"Where", 3, 3, 1, 1, where_infer, where_run, NULL, NULL},
    VAR("Sum", vsum),
    VAR("Mean", vmean),
    VAR("Max", vmax),
    VAR("Min", vmin),
    UN("Sqrt", sqrt),
    UN("Exp", exp),
    UN("Log", log),
    UN("Erf", erf),
    UN("Tanh", tanh),
    UN("Sin", sin),
    UN("Cos", cos),
    UN("Sigmoid", sigmoid),
    UN("Neg", neg),
    UN("Abs", abs),
    {"Relu", 1, 1, 1, 1, relu_infer, relu_run, NULL, relu_run_boxes},
    {"LeakyRelu", 1, 1, 1, 1, leaky_relu_infer, leaky_relu_run, NULL, leaky_relu_run_boxes},
    UN("Elu", elu),
    UN("Selu", selu),
    UN("HardSigmoid", hard_sigmoid),
    UN("HardSwish", hard_swish),
    UN("Softplus", softplus),
    UN("Softsign", softsign),
    UN("Reciprocal", reciprocal),
    UN("Floor", floor),
    UN("Ceil", ceil),
    UN("Round", round),
    UN("Sign", sign),
    UN("Gelu", gelu),
    UN("Not", not ),
    {"Clip", 1, 3, 1, 1, clip_infer, clip_run, NULL, NULL},
    UN("Cast", cast),
    AU_EW_REDUCE_OPS(RED){"Softmax", 1, 1, 1, 1, au_softmax_infer, au_softmax_run, NULL, NULL},
    {"LogSoftmax", 1, 1, 1, 1, au_softmax_infer, au_log_softmax_run, NULL, NULL},
    {"LayerNormalization", 2, 3, 1, 3, au_layer_norm_infer, au_layer_norm_run, NULL, NULL},
    {0},
};

/* Shape and data-movement ops (ONNX opsets 11-18) as dtype-agnostic byte moves.
 * Transpose, Slice, Expand and Tile all lower to one strided "view copy" that drops unit
 * dims and fuses contiguous ones, so the inner loop is one memcpy per row whenever the
 * layout allows (a ViT head split moves head_dim-sized rows), with a tiled 2-D path for
 * true transposes. Ops whose output shape depends on input values read them in infer()
 * from constant inputs and refuse (AU_UNSUPPORTED) when those are not constant. */
#include "graph.h"
#include "op.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- helpers ---- */

#define VIEW_MAX (2 * AU_MAX_DIMS) /* Tile views each axis as (repeat, dim) */

static int fail(const struct au_op_ctx *c, struct au_diag *d, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(const struct au_op_ctx *c, struct au_diag *d, int status, const char *fmt, ...)
{
    char why[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    const char *op = c->node->op_type ? c->node->op_type : "?";
    const char *label = au_node_label(c->node);
    if (!label || strcmp(label, op) == 0)
        return au_diag_set(d, status, "%s: %s", op, why);
    return au_diag_set(d, status, "%s: %s: %s", label, op, why);
}

static const struct au_tensor *in_opt(const struct au_op_ctx *c, int i)
{
    return i < c->n_in ? c->in[i] : NULL;
}

static int need(const struct au_op_ctx *c, struct au_diag *d, int i, const char *what)
{
    const struct au_tensor *t = in_opt(c, i);
    if (!t)
        return fail(c, d, AU_FORMAT, "missing input %d (%s)", i, what);
    if (!au_dtype_is_valid(t->dtype))
        return fail(c, d, AU_DTYPE, "input %d (%s) has unsupported dtype %d", i, what,
                    (int)t->dtype);
    return AU_OK;
}

static int int_list(const struct au_op_ctx *c, struct au_diag *d, int i, const char *what,
                    int max_n, int *n)
{
    const struct au_tensor *t = in_opt(c, i);
    int st = need(c, d, i, what);
    if (st)
        return st;
    if (t->dtype != AU_DTYPE_I64 && t->dtype != AU_DTYPE_I32)
        return fail(c, d, AU_DTYPE, "%s must be int64 or int32, got %s", what,
                    au_dtype_name(t->dtype));
    if (t->n_dims != 1)
        return fail(c, d, AU_SHAPE, "%s must be 1-D, got rank %d", what, (int)t->n_dims);
    if (t->ne[0] > max_n)
        return fail(c, d, AU_UNSUPPORTED, "%s has %lld entries, at most %d supported", what,
                    (long long)t->ne[0], max_n);
    if (!t->data && t->ne[0] > 0)
        return fail(c, d, AU_UNSUPPORTED, "%s must be constant", what);
    *n = (int)t->ne[0];
    return AU_OK;
}

static int norm_axis(const struct au_op_ctx *c, struct au_diag *d, int64_t axis, int rank,
                     const char *what, int *out)
{
    *out = 0;
    if (axis < -rank || axis >= rank)
        return fail(c, d, AU_RANGE, "%s %lld out of range [%d,%d]", what, (long long)axis, -rank,
                    rank - 1);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return AU_OK;
}

static int set_out(const struct au_op_ctx *c, struct au_diag *d, int i, int dtype, int n_dims,
                   const int64_t *ne)
{
    int64_t n;
    if (n_dims > AU_MAX_DIMS)
        return fail(c, d, AU_UNSUPPORTED, "output rank %d exceeds %d", n_dims, AU_MAX_DIMS);
    if (!au_shape_numel_checked(n_dims, ne, &n))
        return fail(c, d, AU_OVERFLOW, "output %d has a negative or too large shape", i);
    if (i < c->n_out && c->out[i])
        au_tensor_set_shape(c->out[i], dtype, n_dims, ne);
    return AU_OK;
}

static char *dims_str(int n, const int64_t *v, char *buf, size_t len)
{
    size_t off = 0;
    int w = snprintf(buf, len, "[");
    for (int i = 0; i < n && w >= 0 && (off += (size_t)w) < len; i++)
        w = snprintf(buf + off, len - off, i ? ",%lld" : "%lld", (long long)v[i]);
    if (w >= 0 && (off += (size_t)w) < len)
        snprintf(buf + off, len - off, "]");
    return buf;
}

static void strides_of(const struct au_tensor *t, int64_t *st)
{
    int64_t s = 1;
    for (int i = t->n_dims - 1; i >= 0; i--) {
        st[i] = s;
        s *= t->ne[i];
    }
}

static void move_bytes(struct au_tensor *out, const struct au_tensor *in)
{
    size_t nb = au_tensor_nbytes(in);
    if (nb && out->data != in->data)
        memmove(out->data, in->data, nb);
}

/* ---- the strided view copy ---- */

#define VIEW_TILE 32

/* Drop unit dims and fuse neighbours that are contiguous in the source. Returns the
 * new rank, or -1 when the view is empty. */
static int view_simplify(int n, const int64_t *cnt, const int64_t *st, int64_t *oc, int64_t *os)
{
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (cnt[i] == 0)
            return -1;
        if (cnt[i] == 1)
            continue;
        if (m > 0 && os[m - 1] == st[i] * cnt[i]) {
            oc[m - 1] *= cnt[i];
            os[m - 1] = st[i];
            continue;
        }
        oc[m] = cnt[i];
        os[m] = st[i];
        m++;
    }
    return m;
}

/* Constant-size memcpy lets the compiler emit one move per element, without
 * type-punning the (float, int64, ...) data. */
#define STRIDED_LOOP(ES)                                                                           \
    for (int64_t i = 0; i < n; i++)                                                                \
        memcpy(dst + i * (ES), src + i * st * (ES), (ES));

static void copy_strided(char *dst, const char *src, size_t es, int64_t n, int64_t st)
{
    switch (es) {
    case 1:
        STRIDED_LOOP(1)
        break;
    case 4:
        STRIDED_LOOP(4)
        break;
    case 8:
        STRIDED_LOOP(8)
        break;
    default:
        for (int64_t i = 0; i < n; i++)
            memcpy(dst + i * (int64_t)es, src + i * st * (int64_t)es, es);
    }
}

/* dst[i*ob + j] = src[i + j*sa]: a 2-D transpose in cache-sized tiles, so neither side
 * walks a whole strided column per row. */
static void copy_blocked(char *dst, const char *src, size_t es, int64_t na, int64_t sa, int64_t nb,
                         int64_t ob)
{
    int64_t e = (int64_t)es;
    for (int64_t i0 = 0; i0 < nb; i0 += VIEW_TILE) {
        int64_t i1 = i0 + VIEW_TILE < nb ? i0 + VIEW_TILE : nb;
        for (int64_t j0 = 0; j0 < na; j0 += VIEW_TILE) {
            int64_t j1 = j0 + VIEW_TILE < na ? j0 + VIEW_TILE : na;
            for (int64_t i = i0; i < i1; i++)
                copy_strided(dst + (i * ob + j0) * e, src + (i + j0 * sa) * e, es, j1 - j0, sa);
        }
    }
}

static void view_copy(void *dst, const void *src, size_t es, int n, const int64_t *cnt,
                      const int64_t *st)
{
    int64_t c[VIEW_MAX], s[VIEW_MAX], ds[VIEW_MAX], idx[VIEW_MAX] = {0};
    char *d8 = dst;
    const char *s8 = src;
    int m = view_simplify(n, cnt, st, c, s);
    if (m < 0)
        return;
    if (m == 0) {
        memcpy(dst, src, es);
        return;
    }
    int last = m - 1, b = -1;
    ds[last] = 1;
    for (int i = last - 1; i >= 0; i--)
        ds[i] = ds[i + 1] * c[i + 1];
    for (int i = 0; i < last && s[last] != 1 && s[last] != 0; i++)
        if (s[i] == 1 && c[i] >= 8 && c[last] >= 8)
            b = i;
    int64_t n_outer = 1, so = 0, dof = 0, e = (int64_t)es;
    for (int i = 0; i < last; i++)
        n_outer *= i == b ? 1 : c[i];
    for (int64_t it = 0; it < n_outer; it++) {
        if (b >= 0)
            copy_blocked(d8 + dof * e, s8 + so * e, es, c[last], s[last], c[b], ds[b]);
        else if (s[last] == 1)
            memcpy(d8 + dof * e, s8 + so * e, (size_t)c[last] * es);
        else
            copy_strided(d8 + dof * e, s8 + so * e, es, c[last], s[last]);
        for (int k = last - 1; k >= 0; k--) {
            if (k == b)
                continue;
            so += s[k];
            dof += ds[k];
            if (++idx[k] < c[k])
                break;
            so -= s[k] * c[k];
            dof -= ds[k] * c[k];
            idx[k] = 0;
        }
    }
}

/* ---- Identity-like ops: the output is the input's bytes under a new shape ---- */

static int run_move(const struct au_op_ctx *c, struct au_diag *d)
{
    (void)d;
    move_bytes(c->out[0], c->in[0]);
    return AU_OK;
}

static int flatten_infer(const struct au_op_ctx *c, size_t *scratch, struct au_diag *d)
{
    const struct au_tensor *x = c->in[0];
    int64_t axis = au_node_attr_int(c->node, "axis", 1), ne[2] = {1, 1};
    int st = need(c, d, 0, "input");
    *scratch = 0;
    if (st)
        return st;
    // Unlike other axes, Flatten's may equal the rank: [-r, r], negative counts from r.
    if (axis < -x->n_dims || axis > x->n_dims)
        return fail(c, d, AU_RANGE, "axis %lld out of range [%d,%d]", (long long)axis,
                    -(int)x->n_dims, (int)x->n_dims);
    axis = axis < 0 ? axis + x->n_dims : axis;
    for (int i = 0; i < x->n_dims; i++)
        ne[i < axis ? 0 : 1] *= x->ne[i];
    return set_out(c, d, 0, x->dtype, 2, ne);
}

/* Resolves 0 (copy, unless allowzero) and one -1 (inferred) in Reshape's target. */
static int reshape_resolve(const struct au_op_ctx *c, struct au_diag *d, const int64_t *req, int n,
                           int64_t *ne)
{
    const struct au_tensor *x = c->in[0];
    int64_t allowzero = au_node_attr_int(c->node, "allowzero", 0), total = au_tensor_numel(x);
    int64_t known = 1;
    int neg = -1, has_zero = 0;
    char buf[128];
    for (int i = 0; i < n; i++) {
        ne[i] = req[i];
        if (req[i] == -1) {
            if (neg >= 0)
                return fail(c, d, AU_INVALID, "shape %s has more than one -1",
                            dims_str(n, req, buf, sizeof(buf)));
            neg = i;
            continue;
        }
        if (req[i] < -1)
            return fail(c, d, AU_RANGE, "shape[%d] = %lld is invalid", i, (long long)req[i]);
        if (req[i] == 0 && !allowzero) {
            if (i >= x->n_dims)
                return fail(c, d, AU_SHAPE,
                            "shape[%d] = 0 copies a dim the rank-%d "
                            "input lacks",
                            i, (int)x->n_dims);
            ne[i] = x->ne[i];
        }
        has_zero |= ne[i] == 0;
        if (__builtin_mul_overflow(known, ne[i], &known))
            return fail(c, d, AU_OVERFLOW, "shape %s overflows",
                        dims_str(n, req, buf, sizeof(buf)));
    }
    if (neg >= 0 && allowzero && has_zero)
        return fail(c, d, AU_INVALID, "allowzero=1 forbids 0 together with -1");
    if (neg >= 0 && known != 0 && total % known == 0)
        ne[neg] = total / known;
    else if (neg >= 0 || known != total)
        return fail(c, d, AU_SHAPE, "cannot reshape %lld elements to %s", (long long)total,
                    dims_str(n, req, buf, sizeof(buf)));
    return AU_OK;
}

static int reshape_infer(const struct au_op_ctx *c, size_t *scratch, struct au_diag *d)
{
    int64_t req[AU_MAX_DIMS], ne[AU_MAX_DIMS];
    int n, st = need(c, d, 0, "data");
    *scratch = 0;
    if (st || (st = int_list(c, d, 1, "shape", AU_MAX_DIMS, &n)))
        return st;
    for (int i = 0; i < n; i++)
        req[i] = au_tensor_get_i64(c->in[1], i);
    if ((st = reshape_resolve(c, d, req, n, ne)))
        return st;
    return set_out(c, d, 0, c->in[0]->dtype, n, ne);
}

/* ---- Transpose ---- */

static int transpose_perm(const struct au_op_ctx *c, struct au_diag *d, int *perm)
{
    const int64_t *p;
    int r = c->in[0]->n_dims, n = au_node_attr_ints(c->node, "perm", &p), seen = 0;
    if (n < 0) {
        for (int i = 0; i < r; i++)
            perm[i] = r - 1 - i;
        return AU_OK;
    }
    if (n != r)
        return fail(c, d, AU_SHAPE, "perm has %d entries for a rank-%d input", n, r);
    for (int i = 0; i < r; i++) {
        if (p[i] < 0 || p[i] >= r)
            return fail(c, d, AU_RANGE, "perm[%d] = %lld out of range [0,%d]", i, (long long)p[i],
                        r - 1);
        if (seen & (1 << p[i]))
            return fail(c, d, AU_INVALID, "perm repeats axis %lld", (long long)p[i]);
        seen |= 1 << p[i];
        perm[i] = (int)p[i];
    }
    return AU_OK;
}

static int transpose_infer(const struct au_op_ctx *c, size_t *scratch, struct au_diag *d)
{
    int perm[AU_MAX_DIMS], st = need(c, d, 0, "data");
    int64_t ne[AU_MAX_DIMS];
    *scratch = 0;
    if (st || (st = transpose_perm(c, d, perm)))
        return st;
    for (int i = 0; i < c->in[0]->n_dims; i++)
        ne[i] = c->in[0]->ne[perm[i]];
    return set_out(c, d, 0, c->in[0]->dtype, c->in[0]->n_dims, ne);
}

static int transpose_run(const struct au_op_ctx *c, struct au_diag *d)
{
    const struct au_tensor *x = c->in[0];
    int perm[AU_MAX_DIMS], st = transpose_perm(c, d, perm);
    int64_t xs[AU_MAX_DIMS], cnt[AU_MAX_DIMS], ss[AU_MAX_DIMS];
    if (st)
        return st;
    strides_of(x, xs);
    for (int i = 0; i < x->n_dims; i++) {
        cnt[i] = x->ne[perm[i]];
        ss[i] = xs[perm[i]];
    }
    view_copy(c->out[0]->data, x->data, au_dtype_size(x->dtype), x->n_dims, cnt, ss);
    return AU_OK;
}

/* ---- Concat / Split: outer loop over the dims before the axis, one memcpy per part ---- */

static int concat_infer(const struct au_op_ctx *c, size_t *scratch, struct au_diag *d)
{
    const struct au_tensor *x0 = c->in[0];
    const struct au_attr *a = au_node_attr(c->node, "axis");
    int axis, st = need(c, d, 0, "inputs");
    *scratch = 0;
    if (st)
        return st;
    if (!a)
        return fail(c, d, AU_FORMAT, "missing attribute axis");
    if (x0->n_dims == 0)
        return fail(c, d, AU_SHAPE, "cannot concatenate scalars");
    if ((st = norm_axis(c, d, a->i, x0->n_dims, "axis", &axis)))
        return st;
    int64_t ne[AU_MAX_DIMS];
    memcpy(ne, x0->ne, sizeof(ne));
    for (int k = 1; k < c->n_in; k++) {
        const struct au_tensor *x = c->in[k];
        if ((st = need(c, d, k, "inputs")))
            return st;
        if (x->dtype != x0->dtype)
            return fail(c, d, AU_DTYPE, "input %d is %s, input 0 is %s", k, au_dtype_name(x->dtype),
                        au_dtype_name(x0->dtype));
        if (x->n_dims != x0->n_dims)
            return fail(c, d, AU_SHAPE, "input %d has rank %d, input 0 has rank %d", k,
                        (int)x->n_dims, (int)x0->n_dims);
        for (int i = 0; i < x0->n_dims; i++)
            if (i != axis && x->ne[i] != x0->ne[i])
                return fail(c, d, AU_SHAPE, "input %d dim %d is %lld, input 0 has %lld", k, i,
                            (long long)x->ne[i], (long long)x0->ne[i]);
        ne[axis] += x->ne[axis];
    }
    return set_out(c, d, 0, x0->dtype, x0->n_dims, ne);
}

/* Bytes of one slab below `axis` (the product of inner dims) and slab count above it. */
static void outer_inner(const struct au_tensor *t, int axis, int64_t *outer, int64_t *inner)
{
    *outer = 1;
    *inner = (int64_t)au_dtype_size(t->dtype);
    for (int i = 0; i < t->n_dims; i++) {
        if (i < axis)
            *outer *= t->ne[i];
        else if (i > axis)
            *inner *= t->ne[i];
    }
}

static int concat_run(const struct au_op_ctx *c, struct au_diag *d)
{
    int axis, st = norm_axis(c, d, au_node_attr_int(c->node, "axis", 0), c->out[0]->n_dims, "axis",
                             &axis);
    int64_t outer, inner;
    char *dst = c->out[0]->data;
    if (st)
        return st;
    outer_inner(c->out[0], axis, &outer, &inner);
    for (int64_t o = 0; o < outer; o++) {
        for (int k = 0; k < c->n_in; k++) {
            size_t chunk = (size_t)(c->in[k]->ne[axis] * inner);
            if (!chunk)
                continue;
            memcpy(dst, (const char *)c->in[k]->data + (size_t)o * chunk, chunk);
            dst += chunk;
        }
    }
    return AU_OK;
}

/* Split sizes: opset 11 attribute, opset 13 optional input, else equal parts (opset 18
 * num_outputs: ceil-sized chunks, the last one smaller). */
static int split_size(const struct au_op_ctx *c, struct au_diag *d, int64_t dim, int k,
                      int64_t *size)
{
    const int64_t *attr = NULL;
    int n = au_node_attr_ints(c->node, "split", &attr), st;
    const struct au_tensor *in1 = in_opt(c, 1);
    if (n < 0 && in1) {
        if ((st = int_list(c, d, 1, "split", INT_MAX, &n)))
            return st;
    }
    if (n > 0) {
        int64_t sum = 0;
        if (n != c->n_out)
            return fail(c, d, AU_SHAPE, "split has %d sizes for %d outputs", n, c->n_out);
        for (int i = 0; i < n; i++) {
            int64_t v = attr ? attr[i] : au_tensor_get_i64(in1, i);
            if (v < 0 || __builtin_add_overflow(sum, v, &sum))
                return fail(c, d, AU_RANGE, "split[%d] = %lld is invalid", i, (long long)v);
            if (i == k)
                *size = v;
        }
        if (sum != dim)
            return fail(c, d, AU_SHAPE, "split sizes sum to %lld, axis has %lld", (long long)sum,
                        (long long)dim);
        return AU_OK;
    }
    int64_t parts = au_node_attr_int(c->node, "num_outputs", -1);
    if (parts >= 0 && parts != c->n_out)
        return fail(c, d, AU_SHAPE, "num_outputs = %lld but the node has %d outputs",
                    (long long)parts, c->n_out);
    if (parts < 0 && dim % c->n_out)
        return fail(c, d, AU_SHAPE, "axis of %lld cannot split into %d equal parts", (long long)dim,
                    c->n_out);
    int64_t chunk = (dim + c->n_out - 1) / c->n_out;
    int64_t rest = dim - chunk * (c->n_out - 1);
    if (rest < 0)
        return fail(c, d, AU_SHAPE, "axis of %lld cannot split into %d parts", (long long)dim,
                    c->n_out);
    *size = k == c->n_out - 1 ? rest : chunk;
    return AU_OK;
}

static int split_infer(const struct au_op_ctx *c, size_t *scratch, struct au_diag *d)
{
    const struct au_tensor *x = c->in[0];
    int axis, st = need(c, d, 0, "input");
    *scratch = 0;
    if (st ||
        (st = norm_axis(c, d, au_node_attr_int(c->node, "axis", 0), x->n_dims, "axis", &axis)))
        return st;
    for (int k = 0; k < c->n_out; k++) {
        int64_t ne[AU_MAX_DIMS];
        memcpy(ne, x->ne, sizeof(ne));
        if ((st = split_size(c, d, x->ne[axis], k, &ne[axis])) ||
            (st = set_out(c, d, k, x->dtype, x->n_dims, ne)))
            return st;
    }
    return AU_OK;
}

static int split_run(const struct au_op_ctx *c, struct au_diag *d)
{
    const struct au_tensor *x = c->in[0];
    int axis, st = norm_axis(c, d, au_node_attr_int(c->node, "axis", 0), x->n_dims, "axis", &axis);
    int64_t outer, inner;
    if (st)
        return st;
    outer_inner(x, axis, &outer, &inner);
    const char *src = x->data;
    for (int64_t o = 0; o < outer; o++) {
        for (int k = 0; k < c->n_out; k++) {
            int64_t len;
            if (c->out[k])
                len = c->out[k]->ne[axis]; // as infer() set it
            else if ((st = split_size(c, d, x->ne[axis], k, &len)))
                return st;
            size_t chunk = (size_t)(len * inner);
            if (c->out[k] && chunk)
                memcpy((char *)c->out[k]->data + (size_t)o * chunk, src, chunk);
            src += chunk;
        }
    }
    return AU_OK;
}

/* ---- Slice ---- */

struct slice_plan {
    int64_t start[AU_MAX_DIMS], step[AU_MAX_DIMS], cnt[AU_MAX_DIMS];
};

/* Fetch list k of Slice (0 starts, 1 ends, 2 axes, 3 steps): an input since opset 10,
 * an attribute before. *n = -1 when absent. */
static int slice_list(const struct au_op_ctx *c, struct au_diag *d, int k, int64_t *v, int *n)
{
    static const char *const names[] = {"starts", "ends", "axes", "steps"};
    const int64_t *a;
    int st;
    *n = -1;
    if (c->n_in == 1) {
        if ((*n = au_node_attr_ints(c->node, names[k], &a)) > AU_MAX_DIMS)
            return fail(c, d, AU_RANGE, "%s has %d entries for a rank-%d input", names[k], *n,
                        (int)c->in[0]->n_dims);
        for (int i = 0; i < *n; i++)
            v[i] = a[i];
        return AU_OK;
    }
    if (!in_opt(c, k + 1))
        return AU_OK;
    if ((st = int_list(c, d, k + 1, names[k], AU_MAX_DIMS, n)))
        return st;
    for (int i = 0; i < *n; i++)
        v[i] = au_tensor_get_i64(c->in[k + 1], i);
    return AU_OK;
}

/* ONNX clamping: negative indices count from the end, then starts/ends clamp to
 * [0,dim] for positive steps and [-1,dim-1] (start [0,dim-1]) for negative ones. */
static void slice_axis(int64_t dim, int64_t s, int64_t e, int64_t step, int64_t *start,
                       int64_t *cnt)
{
    s = s < 0 ? s + dim : s;
    e = e < 0 ? e + dim : e;
    if (dim == 0) {
        *start = 0;
        *cnt = 0;
        return;
    }
    int64_t lo = step > 0 ? 0 : -1, hi = step > 0 ? dim : dim - 1;
    s = s < 0 ? 0 : s > hi ? hi : s;
    e = e < lo ? lo : e > hi ? hi : e;
    int64_t diff = step > 0 ? e - s : s - e;
    int64_t astep = step > 0 ? step : step == INT64_MIN ? INT64_MAX : -step;
    *start = s;
    *cnt = diff <= 0 ? 0 : diff / astep + (diff % astep != 0);
}

static int slice_make_plan(const struct au_op_ctx *c, struct au_diag *d, struct slice_plan *p)
{
    const struct au_tensor *x = c->in[0];
    int64_t sv[AU_MAX_DIMS], ev[AU_MAX_DIMS], av[AU_MAX_DIMS], pv[AU_MAX_DIMS];
    int ns, ne, na, np, st, r = x->n_dims, seen = 0;
    if ((st = slice_list(c, d, 0, sv, &ns)) || (st = slice_list(c, d, 1, ev, &ne)) ||
        (st = slice_list(c, d, 2, av, &na)) || (st = slice_list(c, d, 3, pv, &np)))
        return st;
    if (ns < 0 || ne < 0)
        return fail(c, d, AU_FORMAT, "missing starts or ends");
    if (ns != ne || (na >= 0 && na != ns) || (np >= 0 && np != ns))
        return fail(c, d, AU_SHAPE, "starts/ends/axes/steps lengths differ (%d/%d/%d/%d)", ns, ne,
                    na, np);
    for (int i = 0; i < r; i++) {
        p->start[i] = 0;
        p->step[i] = 1;
        p->cnt[i] = x->ne[i];
    }
    for (int i = 0; i < ns; i++) {
        int ax;
        int64_t step = np >= 0 ? pv[i] : 1;
        if ((st = norm_axis(c, d, na >= 0 ? av[i] : i, r, "axes entry", &ax)))
            return st;
        if (seen & (1 << ax))
            return fail(c, d, AU_INVALID, "axis %d sliced twice", ax);
        seen |= 1 << ax;
        if (step == 0)
            return fail(c, d, AU_RANGE, "steps[%d] is 0", i);
        p->step[ax] = step;
        slice_axis(x->ne[ax], sv[i], ev[i], step, &p->start[ax], &p->cnt[ax]);
    }
    return AU_OK;
}

static int slice_infer(const struct au_op_ctx *c, size_t *scratch, struct au_diag *d)
{
    struct slice_plan p;
    int st = need(c, d, 0, "data");
    *scratch = 0;
    if (st || (st = slice_make_plan(c, d, &p)))
        return st;
    return set_out(c, d, 0, c->in[0]->dtype, c->in[0]->n_dims, p.cnt);
}

static int slice_run(const struct au_op_ctx *c, struct au_diag *d)
{
    const struct au_tensor *x = c->in[0];
    struct slice_plan p;
    int64_t xs[AU_MAX_DIMS], ss[AU_MAX_DIMS], off = 0;
    int st = slice_make_plan(c, d, &p);
    size_t es = au_dtype_size(x->dtype);
    if (st)
        return st;
    strides_of(x, xs);
    for (int i = 0; i < x->n_dims; i++) {
        if (p.cnt[i] == 0)
            return AU_OK;
        ss[i] = xs[i] * p.step[i];
        off += xs[i] * p.start[i];
    }
    view_copy(c->out[0]->data, (const char *)x->data + off * (int64_t)es, es, x->n_dims, p.cnt, ss);
    return AU_OK;
}

/* ---- Gather: one memcpy of the inner slab per index ---- */

static int gather_check_index(const struct au_op_ctx *c, struct au_diag *d, int64_t v, int64_t dim,
                              int64_t *out)
{
    *out = 0;
    if (v < -dim || v >= dim)
        return fail(c, d, AU_RANGE, "index %lld out of range [%lld,%lld]", (long long)v,
                    (long long)-dim, (long long)dim - 1);
    *out = v < 0 ? v + dim : v;
    return AU_OK;
}

static int gather_infer(const struct au_op_ctx *c, size_t *scratch, struct au_diag *d)
{
    const struct au_tensor *x = c->in[0], *ix = in_opt(c, 1);
    int axis, st, q;
    int64_t ne[AU_MAX_DIMS], tmp;
    *scratch = 0;
    if ((st = need(c, d, 0, "data")) || (st = need(c, d, 1, "indices")))
        return st;
    if (ix->dtype != AU_DTYPE_I64 && ix->dtype != AU_DTYPE_I32)
        return fail(c, d, AU_DTYPE, "indices must be int32 or int64, got %s",
                    au_dtype_name(ix->dtype));
    if (x->n_dims == 0)
        return fail(c, d, AU_SHAPE, "data must have rank >= 1");
    if ((st = norm_axis(c, d, au_node_attr_int(c->node, "axis", 0), x->n_dims, "axis", &axis)))
        return st;
    q = ix->n_dims;
    if (x->n_dims - 1 + q > AU_MAX_DIMS)
        return fail(c, d, AU_UNSUPPORTED, "output rank %d exceeds %d", x->n_dims - 1 + q,
                    AU_MAX_DIMS);
    for (int i = 0; i < x->n_dims - 1 + q; i++)
        ne[i] = i < axis ? x->ne[i] : i < axis + q ? ix->ne[i - axis] : x->ne[i - q + 1];
    for (int64_t i = 0; ix->data && i < au_tensor_numel(ix); i++)
        if ((st = gather_check_index(c, d, au_tensor_get_i64(ix, i), x->ne[axis], &tmp)))
            return st;
    return set_out(c, d, 0, x->dtype, x->n_dims - 1 + q, ne);
}

static int gather_run(const struct au_op_ctx *c, struct au_diag *d)
{
    const struct au_tensor *x = c->in[0], *ix = c->in[1];
    int axis, st = norm_axis(c, d, au_node_attr_int(c->node, "axis", 0), x->n_dims, "axis", &axis);
    int64_t outer, inner, n_ix = au_tensor_numel(ix), dim = x->ne[axis], j;
    if (st)
        return st;
    outer_inner(x, axis, &outer, &inner);
    const char *src = x->data;
    char *dst = c->out[0]->data;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < n_ix; i++) {
            if ((st = gather_check_index(c, d, au_tensor_get_i64(ix, i), dim, &j)))
                return st;
            memcpy(dst, src + (o * dim + j) * inner, (size_t)inner);
            dst += inner;
        }
    }
    return AU_OK;
}

/* ---- Squeeze / Unsqueeze: axes as attribute (opset 11-12) or input 1 (13+) ---- */

static int get_axes(const struct au_op_ctx *c, struct au_diag *d, int rank, int64_t *axes, int *n,
                    uint32_t *mask)
{
    const int64_t *a;
    int st;
    *mask = 0;
    if ((*n = au_node_attr_ints(c->node, "axes", &a)) >= 0) {
        if (*n > AU_MAX_DIMS)
            return fail(c, d, AU_RANGE, "axes has %d entries", *n);
        memcpy(axes, a, (size_t)*n * sizeof(*a));
    } else if (in_opt(c, 1)) {
        if ((st = int_list(c, d, 1, "axes", AU_MAX_DIMS, n)))
            return st;
        for (int i = 0; i < *n; i++)
            axes[i] = au_tensor_get_i64(c->in[1], i);
    } else {
        return AU_OK;
    }
    for (int i = 0; i < *n; i++) {
        int ax;
        if ((st = norm_axis(c, d, axes[i], rank, "axis", &ax)))
            return st;
        if (*mask & (1u << ax))
            return fail(c, d, AU_INVALID, "axes repeat axis %d", ax);
        *mask |= 1u << ax;
    }
    return AU_OK;
}

static int squeeze_infer(const struct au_op_ctx *c, size_t *scratch, struct au_diag *d)
{
    const struct au_tensor *x = c->in[0];
    int64_t axes[AU_MAX_DIMS], ne[AU_MAX_DIMS];
    int n, m = 0, st = need(c, d, 0, "data");
    uint32_t mask;
    *scratch = 0;
    if (st || (st = get_axes(c, d, x->n_dims, axes, &n, &mask)))
        return st;
    for (int i = 0; i < x->n_dims; i++) {
        int drop = n < 0 ? x->ne[i] == 1 : (mask >> i) & 1;
        if (drop && x->ne[i] != 1)
            return fail(c, d, AU_SHAPE, "cannot squeeze axis %d of size %lld", i,
                        (long long)x->ne[i]);
        if (!drop)
            ne[m++] = x->ne[i];
    }
    return set_out(c, d, 0, x->dtype, m, ne);
}

static int unsqueeze_infer(const struct au_op_ctx *c, size_t *scratch, struct au_diag *d)
{
    const struct au_tensor *x = c->in[0];
    int64_t axes[AU_MAX_DIMS], ne[AU_MAX_DIMS];
    int n, k = 0, st = need(c, d, 0, "data");
    uint32_t mask;
    *scratch = 0;
    if (st)
        return st;
    // The output rank depends on how many axes there are: count them first.
    n = au_node_attr_ints(c->node, "axes", &(const int64_t *){0});
    if (n < 0 && !in_opt(c, 1))
        return fail(c, d, AU_FORMAT, "missing axes");
    if (n < 0 && (st = int_list(c, d, 1, "axes", AU_MAX_DIMS, &n)))
        return st;
    if (x->n_dims + n > AU_MAX_DIMS)
        return fail(c, d, AU_UNSUPPORTED, "output rank %d exceeds %d", x->n_dims + n, AU_MAX_DIMS);
    if ((st = get_axes(c, d, x->n_dims + n, axes, &n, &mask)))
        return st;
    for (int i = 0; i < x->n_dims + n; i++)
        ne[i] = (mask >> i) & 1 ? 1 : x->ne[k++];
    return set_out(c, d, 0, x->dtype, x->n_dims + n, ne);
}

/* ---- Expand: numpy broadcast of the input against the shape input ---- */

static int expand_infer(const struct au_op_ctx *c, size_t *scratch, struct au_diag *d)
{
    const struct au_tensor *x = c->in[0];
    int64_t ne[AU_MAX_DIMS], req[AU_MAX_DIMS];
    int n, st = need(c, d, 0, "input");
    char b1[128], b2[128];
    *scratch = 0;
    if (st || (st = int_list(c, d, 1, "shape", AU_MAX_DIMS, &n)))
        return st;
    int r = n > x->n_dims ? n : x->n_dims;
    for (int i = 0; i < n; i++) {
        req[i] = au_tensor_get_i64(c->in[1], i);
        if (req[i] < 0)
            return fail(c, d, AU_RANGE, "shape[%d] = %lld is negative", i, (long long)req[i]);
    }
    for (int i = 0; i < r; i++) {
        int64_t a = i - (r - x->n_dims) >= 0 ? x->ne[i - (r - x->n_dims)] : 1;
        int64_t b = i - (r - n) >= 0 ? req[i - (r - n)] : 1;
        if (a != b && a != 1 && b != 1)
            return fail(c, d, AU_SHAPE, "cannot broadcast %s to %s",
                        au_tensor_shape_str(x, b1, sizeof(b1)), dims_str(n, req, b2, sizeof(b2)));
        ne[i] = a == 1 ? b : a;
    }
    return set_out(c, d, 0, x->dtype, r, ne);
}

static int expand_run(const struct au_op_ctx *c, struct au_diag *d)
{
    const struct au_tensor *x = c->in[0], *y = c->out[0];
    int64_t xs[AU_MAX_DIMS], ss[AU_MAX_DIMS];
    int lead = y->n_dims - x->n_dims;
    (void)d;
    strides_of(x, xs);
    for (int i = 0; i < y->n_dims; i++)
        ss[i] = i < lead || x->ne[i - lead] == 1 ? 0 : xs[i - lead];
    view_copy(y->data, x->data, au_dtype_size(x->dtype), y->n_dims, y->ne, ss);
    return AU_OK;
}

/* ---- Shape / Size: read only the input's shape, never its data, so they fold even
 * when the input is a runtime activation ---- */

static void shape_bounds(const struct au_op_ctx *c, int64_t *lo, int64_t *hi)
{
    int64_t r = c->in[0]->n_dims;
    int64_t s = au_node_attr_int(c->node, "start", 0), e = au_node_attr_int(c->node, "end", r);
    s = s < 0 ? s + r : s;
    e = e < 0 ? e + r : e;
    *lo = s < 0 ? 0 : s > r ? r : s;
    *hi = e < *lo ? *lo : e > r ? r : e;
}

static int shape_infer(const struct au_op_ctx *c, size_t *scratch, struct au_diag *d)
{
    int64_t lo, hi;
    int st = need(c, d, 0, "data");
    *scratch = 0;
    if (st)
        return st;
    shape_bounds(c, &lo, &hi);
    int64_t n = hi - lo;
    return set_out(c, d, 0, AU_DTYPE_I64, 1, &n);
}

static int shape_run(const struct au_op_ctx *c, struct au_diag *d)
{
    int64_t lo, hi, *y = c->out[0]->data;
    (void)d;
    shape_bounds(c, &lo, &hi);
    for (int64_t i = lo; i < hi; i++)
        y[i - lo] = c->in[0]->ne[i];
    return AU_OK;
}

static int size_infer(const struct au_op_ctx *c, size_t *scratch, struct au_diag *d)
{
    int st = need(c, d, 0, "data");
    *scratch = 0;
    return st ? st : set_out(c, d, 0, AU_DTYPE_I64, 0, NULL);
}

static int size_run(const struct au_op_ctx *c, struct au_diag *d)
{
    (void)d;
    *(int64_t *)c->out[0]->data = au_tensor_numel(c->in[0]);
    return AU_OK;
}

/* ---- ConstantOfShape / Constant: values come from attributes ---- */

static int cos_value(const struct au_op_ctx *c, struct au_diag *d, const struct au_tensor **v)
{
    const struct au_attr *a = au_node_attr(c->node, "value");
    *v = NULL;
    if (!a)
        return AU_OK; // ONNX default: float32 0
    if (a->type != AU_ATTR_TENSOR || !a->t)
        return fail(c, d, AU_FORMAT, "attribute value must be a tensor");
    if (!au_dtype_is_valid(a->t->dtype))
        return fail(c, d, AU_DTYPE, "value has unsupported dtype %d", (int)a->t->dtype);
    if (au_tensor_numel(a->t) != 1 || !a->t->data)
        return fail(c, d, AU_FORMAT, "value must hold exactly one element");
    *v = a->t;
    return AU_OK;
}

static int cos_infer(const struct au_op_ctx *c, size_t *scratch, struct au_diag *d)
{
    const struct au_tensor *v;
    int64_t ne[AU_MAX_DIMS];
    int n, st;
    *scratch = 0;
    if ((st = cos_value(c, d, &v)) || (st = int_list(c, d, 0, "shape", AU_MAX_DIMS, &n)))
        return st;
    for (int i = 0; i < n; i++) {
        ne[i] = au_tensor_get_i64(c->in[0], i);
        if (ne[i] < 0)
            return fail(c, d, AU_RANGE, "shape[%d] = %lld is negative", i, (long long)ne[i]);
    }
    return set_out(c, d, 0, v ? v->dtype : AU_DTYPE_F32, n, ne);
}

static int cos_run(const struct au_op_ctx *c, struct au_diag *d)
{
    static const float zero = 0.0f;
    const struct au_tensor *v;
    int st = cos_value(c, d, &v);
    struct au_tensor *y = c->out[0];
    size_t es = au_dtype_size(y->dtype);
    if (st)
        return st;
    const void *val = v ? v->data : &zero;
    for (int64_t i = 0, n = au_tensor_numel(y); i < n; i++)
        memcpy((char *)y->data + (size_t)i * es, val, es);
    return AU_OK;
}

/* The one value attribute of a Constant as a tensor view; the data stays the graph's. */
static int constant_src(const struct au_op_ctx *c, struct au_diag *d, struct au_tensor *t)
{
    static const char *const names[] = {"value",         "value_float", "value_floats",
                                        "value_int",     "value_ints",  "value_string",
                                        "value_strings", "sparse_value"};
    static const int types[] = {AU_ATTR_TENSOR, AU_ATTR_FLOAT, AU_ATTR_FLOATS, AU_ATTR_INT,
                                AU_ATTR_INTS};
    const struct au_attr *a = NULL;
    int found = 0, k = 0;
    for (int i = 0; i < 8; i++) {
        const struct au_attr *x = au_node_attr(c->node, names[i]);
        if (x) {
            a = x;
            k = i;
            found++;
        }
    }
    if (found != 1)
        return fail(c, d, AU_FORMAT, "needs exactly one value attribute, has %d", found);
    if (k >= 5)
        return fail(c, d, AU_UNSUPPORTED, "attribute %s is not supported", names[k]);
    if (a->type != types[k] || (k == 0 && !a->t))
        return fail(c, d, AU_FORMAT, "attribute %s has the wrong type", names[k]);
    int64_t n = a->n;
    switch (k) {
    case 0:
        *t = *a->t;
        if (!au_dtype_is_valid(t->dtype))
            return fail(c, d, AU_DTYPE, "value has unsupported dtype %d", (int)t->dtype);
        if (!t->data && au_tensor_numel(t) > 0)
            return fail(c, d, AU_FORMAT, "value tensor has no data");
        return AU_OK;
    case 1:
        au_tensor_set_shape(t, AU_DTYPE_F32, 0, NULL);
        t->data = (void *)&a->f;
        return AU_OK;
    case 2:
        au_tensor_set_shape(t, AU_DTYPE_F32, 1, &n);
        t->data = a->floats;
        return AU_OK;
    case 3:
        au_tensor_set_shape(t, AU_DTYPE_I64, 0, NULL);
        t->data = (void *)&a->i;
        return AU_OK;
    default:
        au_tensor_set_shape(t, AU_DTYPE_I64, 1, &n);
        t->data = a->ints;
        return AU_OK;
    }
}

static int constant_infer(const struct au_op_ctx *c, size_t *scratch, struct au_diag *d)
{
    struct au_tensor t;
    int st = constant_src(c, d, &t);
    *scratch = 0;
    return st ? st : set_out(c, d, 0, t.dtype, t.n_dims, t.ne);
}

static int constant_run(const struct au_op_ctx *c, struct au_diag *d)
{
    struct au_tensor t;
    int st = constant_src(c, d, &t);
    if (!st)
        move_bytes(c->out[0], &t);
    return st;
}

/* ---- Identity / Dropout (inference: identity, mask of ones) ---- */

static int identity_infer(const struct au_op_ctx *c, size_t *scratch, struct au_diag *d)
{
    const struct au_tensor *x = c->in[0];
    int st = need(c, d, 0, "input");
    *scratch = 0;
    return st ? st : set_out(c, d, 0, x->dtype, x->n_dims, x->ne);
}

static int dropout_infer(const struct au_op_ctx *c, size_t *scratch, struct au_diag *d)
{
    const struct au_tensor *x = c->in[0], *tm = in_opt(c, 2);
    int st = identity_infer(c, scratch, d);
    if (st)
        return st;
    if (tm && (!tm->data || au_tensor_numel(tm) != 1))
        return fail(c, d, AU_UNSUPPORTED, "training_mode must be a constant scalar");
    if (tm && au_tensor_get_i64(tm, 0) != 0)
        return fail(c, d, AU_UNSUPPORTED, "training_mode=1 is not supported (inference only)");
    return c->n_out > 1 ? set_out(c, d, 1, AU_DTYPE_BOOL, x->n_dims, x->ne) : AU_OK;
}

static int dropout_run(const struct au_op_ctx *c, struct au_diag *d)
{
    (void)d;
    move_bytes(c->out[0], c->in[0]);
    if (c->n_out > 1 && c->out[1])
        memset(c->out[1]->data, 1, (size_t)au_tensor_numel(c->out[1]));
    return AU_OK;
}

/* ---- Range: count = max(ceil((limit - start) / delta), 0), out[i] = start + i*delta ---- */

static int range_count_int(const struct au_op_ctx *c, struct au_diag *d, int64_t s, int64_t l,
                           int64_t dl, int64_t *n)
{
    int64_t diff;
    if (__builtin_sub_overflow(l, s, &diff))
        return fail(c, d, AU_RANGE, "limit - start overflows");
    if (diff == 0 || (diff > 0) != (dl > 0)) {
        *n = 0;
    } else if (dl == -1) {
        if (diff == INT64_MIN)
            return fail(c, d, AU_RANGE, "range is too long");
        *n = -diff;
    } else {
        *n = diff / dl + (diff % dl != 0);
    }
    return AU_OK;
}

static int range_infer(const struct au_op_ctx *c, size_t *scratch, struct au_diag *d)
{
    static const char *const names[] = {"start", "limit", "delta"};
    int dt = c->in[0] ? c->in[0]->dtype : 0, st;
    int64_t n;
    *scratch = 0;
    for (int k = 0; k < 3; k++) {
        const struct au_tensor *t = c->in[k];
        if ((st = need(c, d, k, names[k])))
            return st;
        if (t->dtype != dt)
            return fail(c, d, AU_DTYPE, "%s is %s, start is %s", names[k], au_dtype_name(t->dtype),
                        au_dtype_name(dt));
        if (au_tensor_numel(t) != 1 || t->n_dims > 1)
            return fail(c, d, AU_SHAPE, "%s must be a scalar", names[k]);
        if (!t->data)
            return fail(c, d, AU_UNSUPPORTED, "%s must be constant", names[k]);
    }
    if (dt == AU_DTYPE_I64 || dt == AU_DTYPE_I32) {
        int64_t s = au_tensor_get_i64(c->in[0], 0), dl = au_tensor_get_i64(c->in[2], 0);
        if (dl == 0)
            return fail(c, d, AU_RANGE, "delta is 0");
        if ((st = range_count_int(c, d, s, au_tensor_get_i64(c->in[1], 0), dl, &n)))
            return st;
    } else if (dt == AU_DTYPE_F32 || dt == AU_DTYPE_F64) {
        double s = au_tensor_get_f64(c->in[0], 0), l = au_tensor_get_f64(c->in[1], 0);
        double dl = au_tensor_get_f64(c->in[2], 0);
        // The difference is taken in the input type, as onnxruntime does.
        double diff = dt == AU_DTYPE_F32 ? (double)((float)l - (float)s) : l - s;
        double q = ceil(diff / dl);
        if (dl == 0 || !isfinite(q) || q > 1e15)
            return fail(c, d, AU_RANGE, "cannot make a range from %g to %g by %g", s, l, dl);
        n = q > 0 ? (int64_t)q : 0;
    } else {
        return fail(c, d, AU_DTYPE, "unsupported dtype %s", au_dtype_name(dt));
    }
    return set_out(c, d, 0, dt, 1, &n);
}

static int range_run(const struct au_op_ctx *c, struct au_diag *d)
{
    struct au_tensor *y = c->out[0];
    int64_t n = y->ne[0];
    (void)d;
    if (y->dtype == AU_DTYPE_F32) {
        float s = (float)au_tensor_get_f64(c->in[0], 0), dl = (float)au_tensor_get_f64(c->in[2], 0);
        for (int64_t i = 0; i < n; i++)
            ((float *)y->data)[i] = s + (float)i * dl;
    } else if (y->dtype == AU_DTYPE_F64) {
        double s = au_tensor_get_f64(c->in[0], 0), dl = au_tensor_get_f64(c->in[2], 0);
        for (int64_t i = 0; i < n; i++)
            ((double *)y->data)[i] = s + (double)i * dl;
    } else {
        int64_t s = au_tensor_get_i64(c->in[0], 0), dl = au_tensor_get_i64(c->in[2], 0);
        for (int64_t i = 0; i < n; i++) {
            if (y->dtype == AU_DTYPE_I32)
                ((int32_t *)y->data)[i] = (int32_t)(s + i * dl);
            else
                ((int64_t *)y->data)[i] = s + i * dl;
        }
    }
    return AU_OK;
}

/* ---- Tile: each axis viewed as (repeat, dim) with the repeat's stride 0 ---- */

static int tile_infer(const struct au_op_ctx *c, size_t *scratch, struct au_diag *d)
{
    const struct au_tensor *x = c->in[0];
    int64_t ne[AU_MAX_DIMS];
    int n, st = need(c, d, 0, "input");
    *scratch = 0;
    if (st || (st = int_list(c, d, 1, "repeats", AU_MAX_DIMS, &n)))
        return st;
    if (n != x->n_dims)
        return fail(c, d, AU_SHAPE, "repeats has %d entries for a rank-%d input", n,
                    (int)x->n_dims);
    for (int i = 0; i < n; i++) {
        int64_t r = au_tensor_get_i64(c->in[1], i);
        if (r < 0)
            return fail(c, d, AU_RANGE, "repeats[%d] = %lld is negative", i, (long long)r);
        if (__builtin_mul_overflow(x->ne[i], r, &ne[i]))
            return fail(c, d, AU_OVERFLOW, "tiled dim %d overflows", i);
    }
    return set_out(c, d, 0, x->dtype, n, ne);
}

static int tile_run(const struct au_op_ctx *c, struct au_diag *d)
{
    const struct au_tensor *x = c->in[0], *y = c->out[0];
    int64_t xs[AU_MAX_DIMS], cnt[VIEW_MAX], ss[VIEW_MAX];
    (void)d;
    if (au_tensor_numel(y) == 0)
        return AU_OK;
    strides_of(x, xs);
    for (int i = 0; i < x->n_dims; i++) {
        cnt[2 * i] = y->ne[i] / x->ne[i];
        ss[2 * i] = 0;
        cnt[2 * i + 1] = x->ne[i];
        ss[2 * i + 1] = xs[i];
    }
    view_copy(y->data, x->data, au_dtype_size(x->dtype), 2 * x->n_dims, cnt, ss);
    return AU_OK;
}

const struct au_op_def au_ops_shape[] = {
    {"Flatten", 1, 1, 1, 1, flatten_infer, run_move, NULL, NULL},
    {"Reshape", 2, 2, 1, 1, reshape_infer, run_move, NULL, NULL},
    {"Transpose", 1, 1, 1, 1, transpose_infer, transpose_run, NULL, NULL},
    {"Concat", 1, INT_MAX, 1, 1, concat_infer, concat_run, NULL, NULL},
    {"Split", 1, 2, 1, INT_MAX, split_infer, split_run, NULL, NULL},
    {"Slice", 1, 5, 1, 1, slice_infer, slice_run, NULL, NULL},
    {"Gather", 2, 2, 1, 1, gather_infer, gather_run, NULL, NULL},
    {"Squeeze", 1, 2, 1, 1, squeeze_infer, run_move, NULL, NULL},
    {"Unsqueeze", 1, 2, 1, 1, unsqueeze_infer, run_move, NULL, NULL},
    {"Expand", 2, 2, 1, 1, expand_infer, expand_run, NULL, NULL},
    {"Shape", 1, 1, 1, 1, shape_infer, shape_run, NULL, NULL},
    {"Size", 1, 1, 1, 1, size_infer, size_run, NULL, NULL},
    {"ConstantOfShape", 1, 1, 1, 1, cos_infer, cos_run, NULL, NULL},
    {"Constant", 0, 0, 1, 1, constant_infer, constant_run, NULL, NULL},
    {"Identity", 1, 1, 1, 1, identity_infer, run_move, NULL, NULL},
    {"Dropout", 1, 3, 1, 2, dropout_infer, dropout_run, NULL, NULL},
    {"Range", 3, 3, 1, 1, range_infer, range_run, NULL, NULL},
    {"Tile", 2, 2, 1, 1, tile_infer, tile_run, NULL, NULL},
    {NULL, 0, 0, 0, 0, NULL, NULL, NULL, NULL},
};

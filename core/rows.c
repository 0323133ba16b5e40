/* Row compaction for resumed runs. In inference nearly every op treats the samples of a
 * batch independently, so after a fault only the rows (samples) that still differ from
 * the golden run need recomputing: their inputs are gathered into a small batch, the op
 * runs on it, and the results are scattered over a copy of the golden output. Ops are
 * admitted by a whitelist plus shape and axis checks; anything else runs on all rows. */
#include "graph_impl.h"

#include "alloc.h"

#include <string.h>

static bool is_const(const struct au_graph *g, int v)
{
    return v < 0 || (g->values[v].flags & AU_VALUE_CONST);
}

bool au_rows_batched(const struct au_graph *g, int v)
{
    const struct au_tensor *t = &g->rt[v];
    return !is_const(g, v) && t->n_dims >= 1 && t->ne[0] == g->batch && g->batch > 1;
}

/* Ops that never mix samples when dim 0 is the batch, given the axis checks below. */
static const char *const row_ops[] = {"Conv",
                                      "Gemm",
                                      "MatMul",
                                      "Add",
                                      "Sub",
                                      "Mul",
                                      "Div",
                                      "Pow",
                                      "Sqrt",
                                      "Exp",
                                      "Log",
                                      "Erf",
                                      "Tanh",
                                      "Sigmoid",
                                      "Neg",
                                      "Abs",
                                      "Relu",
                                      "LeakyRelu",
                                      "Clip",
                                      "HardSigmoid",
                                      "HardSwish",
                                      "Gelu",
                                      "Reciprocal",
                                      "Floor",
                                      "Ceil",
                                      "MaxPool",
                                      "AveragePool",
                                      "GlobalAveragePool",
                                      "GlobalMaxPool",
                                      "BatchNormalization",
                                      "LayerNormalization",
                                      "Softmax",
                                      "LogSoftmax",
                                      "Flatten",
                                      "Reshape",
                                      "Transpose",
                                      "Concat",
                                      "Identity",
                                      "Dropout",
                                      "Cast",
                                      "Where",
                                      "Equal",
                                      "Less",
                                      "Greater",
                                      "ReduceMean",
                                      "ReduceSum",
                                      "ReduceMax",
                                      "ReduceMin",
                                      "Slice",
                                      "Gather",
                                      "Split",
                                      "Squeeze",
                                      "Unsqueeze",
                                      NULL};

static bool listed(const char *op)
{
    for (int k = 0; row_ops[k]; k++)
        if (strcmp(op, row_ops[k]) == 0)
            return true;
    return false;
}

/* True if axis list (attribute or constant input) avoids axis 0 of a rank-r tensor. */
static bool axes_skip_batch(const struct au_graph *g, const struct au_node *n, int r)
{
    const int64_t *ax;
    int k = au_node_attr_ints(n, "axes", &ax);
    for (int i = 0; i < k; i++)
        if ((ax[i] < 0 ? ax[i] + r : ax[i]) == 0)
            return false;
    if (k >= 0)
        return true;
    /* axes as an input: input 1 (Reduce*, Squeeze, Unsqueeze) or 3 (Slice) */
    int slot = strcmp(n->op_type, "Slice") == 0 ? 3 : 1;
    if (n->n_in <= slot || n->in[slot] < 0 || !is_const(g, n->in[slot]))
        return false;
    const struct au_tensor *t = &g->rt[n->in[slot]];
    for (int64_t i = 0; i < au_tensor_numel(t); i++) {
        int64_t a = au_tensor_get_i64(t, i);
        if ((a < 0 ? a + r : a) == 0)
            return false;
    }
    return true;
}

static int norm_axis(int64_t a, int r)
{
    return (int)(a < 0 ? a + r : a);
}

static bool op_rules_ok(const struct au_graph *g, const struct au_node *n, int r)
{
    const char *op = n->op_type;
    if (!strcmp(op, "Gemm"))
        return au_node_attr_int(n, "transA", 0) == 0;
    if (!strcmp(op, "Softmax") || !strcmp(op, "LogSoftmax") || !strcmp(op, "LayerNormalization"))
        return norm_axis(au_node_attr_int(n, "axis", -1), r) != 0;
    if (!strcmp(op, "Concat") || !strcmp(op, "Flatten"))
        return norm_axis(au_node_attr_int(n, "axis", 1), r) != 0;
    if (!strcmp(op, "Split"))
        return norm_axis(au_node_attr_int(n, "axis", 0), r) != 0;
    if (!strcmp(op, "Gather"))
        return norm_axis(au_node_attr_int(n, "axis", 0), r) != 0 && is_const(g, n->in[1]);
    if (!strcmp(op, "Transpose")) {
        const int64_t *perm;
        return au_node_attr_ints(n, "perm", &perm) >= 1 && perm[0] == 0;
    }
    if (!strncmp(op, "Reduce", 6) || !strcmp(op, "Slice"))
        return axes_skip_batch(g, n, r);
    return true;
}

/* Ops whose rank may change between input and output without mixing rows. */
static bool reshaping(const char *op)
{
    return !strcmp(op, "Reshape") || !strcmp(op, "Flatten") || !strcmp(op, "Squeeze") ||
           !strcmp(op, "Unsqueeze") || !strcmp(op, "Gather") || !strncmp(op, "Reduce", 6);
}

static bool node_row_safe(const struct au_graph *g, int i)
{
    const struct au_node *n = &g->nodes[i];
    if (n->folded || !listed(n->op_type) || n->n_out < 1 || n->out[0] < 0)
        return false;
    int rank = g->rt[n->out[0]].n_dims;
    for (int k = 0; k < n->n_out; k++)
        if (n->out[k] >= 0 && !au_rows_batched(g, n->out[k]))
            return false;
    for (int k = 0; k < n->n_in; k++) {
        int v = n->in[k];
        if (v < 0)
            continue;
        const struct au_tensor *t = &g->rt[v];
        if (is_const(g, v)) { /* a constant with a row per sample would need gathering too */
            if (t->n_dims == rank && t->n_dims >= 1 && t->ne[0] == g->batch)
                return false;
            continue;
        }
        if (!au_rows_batched(g, v) || (t->n_dims != rank && !reshaping(n->op_type)))
            return false;
    }
    int in_rank = n->in[0] >= 0 ? g->rt[n->in[0]].n_dims : rank;
    return op_rules_ok(g, n, in_rank);
}

static size_t row_bytes(const struct au_graph *g, int v)
{
    return au_tensor_nbytes(&g->rt[v]) / (size_t)g->batch;
}

static size_t align64(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

int au_rows_prepare(struct au_graph *g)
{
    g->row_safe = au_calloc((size_t)g->n_nodes + 1, 1);
    /* one mask per value, plus a spare one for the union a node computes */
    g->rows = au_calloc(((size_t)g->n_values + 1) * (size_t)g->batch + 1, 1);
    g->row_idx = au_calloc((size_t)g->batch + 1, sizeof(*g->row_idx));
    if (!g->row_safe || !g->rows || !g->row_idx)
        return AU_NOMEM;
    size_t need = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const struct au_node *n = &g->nodes[i];
        if (n->n_in + n->n_out > g->max_io)
            g->max_io = n->n_in + n->n_out;
        if (!(g->row_safe[i] = node_row_safe(g, i)))
            continue;
        size_t bytes = 0;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0 && !is_const(g, n->in[k]))
                bytes += align64(au_tensor_nbytes(&g->rt[n->in[k]]));
        for (int k = 0; k < n->n_out; k++)
            if (n->out[k] >= 0)
                bytes += align64(au_tensor_nbytes(&g->rt[n->out[k]]));
        need = bytes > need ? bytes : need;
    }
    g->cbuf_bytes = need;
    g->cbuf = au_malloc_aligned(need + 64);
    g->cviews = au_calloc((size_t)g->max_io + 1, sizeof(*g->cviews));
    g->cptrs = au_calloc((size_t)g->max_io + 1, sizeof(*g->cptrs));
    return g->cbuf && g->cviews && g->cptrs ? AU_OK : AU_NOMEM;
}

void au_rows_release(struct au_graph *g)
{
    au_free(g->row_safe);
    au_free(g->rows);
    au_free(g->row_idx);
    au_free_aligned(g->cbuf);
    au_free(g->cviews);
    au_free(g->cptrs);
    g->row_safe = g->rows = NULL;
    g->row_idx = NULL;
    g->cbuf = NULL;
    g->cviews = NULL;
    g->cptrs = NULL;
    g->cbuf_bytes = 0;
    g->max_io = 0;
}

/* A compact view of value v holding n rows, placed at *off in cbuf. */
static struct au_tensor *compact_view(struct au_graph *g, int slot, int v, int64_t n, size_t *off)
{
    struct au_tensor *t = &g->cviews[slot];
    *t = g->rt[v];
    t->ne[0] = n;
    t->data = (char *)g->cbuf + *off;
    *off += align64(au_tensor_nbytes(t));
    return t;
}

int au_rows_run(struct au_graph *g, int i, const unsigned char *mask, int64_t n, struct au_diag *d)
{
    const struct au_node *nd = &g->nodes[i];
    size_t off = 0;
    int64_t m = 0;
    for (int64_t r = 0; r < g->batch; r++)
        if (mask[r])
            g->row_idx[m++] = r;
    AU_ASSERT(m == n);
    for (int k = 0; k < nd->n_in; k++) {
        int v = nd->in[k];
        if (v < 0 || is_const(g, v)) {
            g->cptrs[k] = v < 0 ? NULL : &g->rt[v];
            continue;
        }
        struct au_tensor *t = compact_view(g, k, v, n, &off);
        size_t rb = row_bytes(g, v);
        for (int64_t j = 0; j < n; j++)
            memcpy((char *)t->data + (size_t)j * rb,
                   (const char *)g->rt[v].data + (size_t)g->row_idx[j] * rb, rb);
        g->cptrs[k] = t;
    }
    for (int k = 0; k < nd->n_out; k++)
        g->cptrs[nd->n_in + k] =
            nd->out[k] < 0 ? NULL : compact_view(g, nd->n_in + k, nd->out[k], n, &off);
    struct au_op_ctx c = {
        .node = nd,
        .n_in = nd->n_in,
        .n_out = nd->n_out,
        .in = (const struct au_tensor *const *)g->cptrs,
        .out = g->cptrs + nd->n_in,
        .scratch = g->scratch,
        .scratch_bytes = nd->scratch_bytes,
    };
    int rc = nd->def->run(&c, d);
    for (int k = 0; !rc && k < nd->n_out; k++) {
        int v = nd->out[k];
        if (v < 0)
            continue;
        size_t rb = row_bytes(g, v);
        memcpy(g->rt[v].data, (char *)g->arena + g->offset[v], au_tensor_nbytes(&g->rt[v]));
        for (int64_t j = 0; j < n; j++)
            memcpy((char *)g->rt[v].data + (size_t)g->row_idx[j] * rb,
                   (const char *)c.out[k]->data + (size_t)j * rb, rb);
    }
    return rc;
}

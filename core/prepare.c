/* Prepare: fix the batch, infer every shape in topological order, fold nodes whose inputs
 * are all constant (the Shape->Gather->Concat->Reshape chains exporters emit), then plan
 * activation memory. Without KEEP, buffers are shared by liveness (greedy by size, as in
 * TFLite's arena planner); with KEEP each value keeps its own buffer (the golden cache)
 * and a second liveness-planned arena serves run_from. */
#include "graph_impl.h"

#include "alloc.h"
#include "arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN 64u

static size_t align_up(size_t n)
{
    return (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
}

void au_prepare_release(struct au_graph *g)
{
    for (int v = 0; v < g->n_values; v++) {
        struct au_value *val = &g->values[v];
        if (val->flags & AU_VALUE_FOLDED_) {
            au_free_aligned(val->t.data);
            val->t.data = NULL;
            val->flags &= ~(uint32_t)(AU_VALUE_FOLDED_ | AU_VALUE_CONST);
        }
    }
    for (int i = 0; i < g->n_nodes; i++) {
        g->nodes[i].folded = false;
        g->nodes[i].is_layer = false;
        g->nodes[i].macs = 0;
        g->nodes[i].scratch_bytes = 0;
    }
    au_rows_release(g);
    au_cone_release(g);
    au_arena_free(g->arena);
    au_arena_free(g->trial_arena);
    au_arena_free(g->scratch);
    au_free(g->offset);
    au_free(g->trial_offset);
    au_free(g->rt);
    au_free(g->in_ptrs);
    au_free(g->out_ptrs);
    au_free(g->slot_in);
    au_free(g->slot_out);
    au_free(g->last_use);
    au_free(g->dirty);
    g->arena = g->trial_arena = g->scratch = NULL;
    g->offset = g->trial_offset = NULL;
    g->rt = NULL;
    g->in_ptrs = NULL;
    g->out_ptrs = NULL;
    g->slot_in = g->slot_out = g->last_use = NULL;
    g->dirty = NULL;
    g->arena_bytes = g->trial_bytes = g->scratch_bytes = 0;
    g->prepared = false;
}

static int alloc_tables(struct au_graph *g)
{
    int n_in = 0, n_out = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        n_in += g->nodes[i].n_in;
        n_out += g->nodes[i].n_out;
    }
    size_t nv = (size_t)g->n_values + 1, nn = (size_t)g->n_nodes + 1;
    g->rt = au_calloc(nv, sizeof(*g->rt));
    g->offset = au_calloc(nv, sizeof(*g->offset));
    g->trial_offset = au_calloc(nv, sizeof(*g->trial_offset));
    g->last_use = au_calloc(nv, sizeof(*g->last_use));
    g->dirty = au_calloc(nv, 1);
    g->in_ptrs = au_calloc((size_t)n_in + 1, sizeof(*g->in_ptrs));
    g->out_ptrs = au_calloc((size_t)n_out + 1, sizeof(*g->out_ptrs));
    g->slot_in = au_calloc(nn, sizeof(int));
    g->slot_out = au_calloc(nn, sizeof(int));
    if (!g->rt || !g->offset || !g->trial_offset || !g->last_use || !g->dirty || !g->in_ptrs ||
        !g->out_ptrs || !g->slot_in || !g->slot_out)
        return AU_NOMEM;
    for (int i = 0, si = 0, so = 0; i < g->n_nodes; i++) {
        const struct au_node *n = &g->nodes[i];
        g->slot_in[i] = si;
        g->slot_out[i] = so;
        for (int k = 0; k < n->n_in; k++)
            g->in_ptrs[si++] = n->in[k] >= 0 ? &g->rt[n->in[k]] : NULL;
        for (int k = 0; k < n->n_out; k++)
            g->out_ptrs[so++] = n->out[k] >= 0 ? &g->rt[n->out[k]] : NULL;
    }
    return AU_OK;
}

/* Graph inputs: the symbolic dim 0 becomes the batch; other symbolic dims are refused. */
static int bind_inputs(struct au_graph *g, int64_t batch, struct au_diag *d)
{
    for (int i = 0; i < g->n_inputs; i++) {
        const struct au_value *v = &g->values[g->inputs[i]];
        struct au_tensor *t = &g->rt[g->inputs[i]];
        *t = v->t;
        t->data = NULL;
        for (int k = 0; k < t->n_dims; k++) {
            if (t->ne[k] >= 0)
                continue;
            if (k != 0)
                return au_diag_set(d, AU_UNSUPPORTED,
                                   "input '%s': dimension %d is symbolic; only the batch "
                                   "dimension (0) may be",
                                   v->name, k);
            t->ne[k] = batch;
        }
        int64_t numel;
        if (!au_dtype_is_valid(t->dtype) || !au_shape_numel_checked(t->n_dims, t->ne, &numel))
            return au_diag_set(d, AU_FORMAT, "input '%s': invalid dtype or shape", v->name);
    }
    return AU_OK;
}

static struct au_op_ctx node_ctx(struct au_graph *g, int i)
{
    const struct au_node *n = &g->nodes[i];
    struct au_op_ctx c = {
        .node = n,
        .n_in = n->n_in,
        .n_out = n->n_out,
        .in = (const struct au_tensor *const *)&g->in_ptrs[g->slot_in[i]],
        .out = &g->out_ptrs[g->slot_out[i]],
    };
    return c;
}

static bool is_const_value(const struct au_graph *g, int v)
{
    return v < 0 || (g->values[v].flags & AU_VALUE_CONST);
}

/* Shape and Size need only the input's shape, which is static after prepare. */
static bool shape_only_op(const struct au_node *n)
{
    return strcmp(n->op_type, "Shape") == 0 || strcmp(n->op_type, "Size") == 0;
}

static int fold_node(struct au_graph *g, int i, struct au_op_ctx *c, size_t scratch,
                     struct au_diag *d)
{
    struct au_node *n = &g->nodes[i];
    for (int k = 0; k < n->n_out; k++) {
        if (n->out[k] < 0)
            continue;
        struct au_tensor *t = &g->rt[n->out[k]];
        t->data = au_malloc_aligned(au_tensor_nbytes(t) + 1);
        if (!t->data)
            return au_diag_set(d, AU_NOMEM, "node '%s': out of memory folding", au_node_label(n));
        struct au_value *v = &g->values[n->out[k]];
        v->t = *t;
        v->flags |= AU_VALUE_CONST | AU_VALUE_FOLDED_;
    }
    void *tmp = scratch ? au_malloc_aligned(scratch) : NULL;
    if (scratch && !tmp)
        return au_diag_set(d, AU_NOMEM, "node '%s': out of memory folding", au_node_label(n));
    c->scratch = tmp;
    c->scratch_bytes = scratch;
    int rc = n->def->run(c, d);
    au_free_aligned(tmp);
    n->folded = true;
    return rc;
}

static bool detect_layer(const struct au_graph *g, const struct au_node *n)
{
    if (strcmp(n->op_type, "Conv") == 0 || strcmp(n->op_type, "Gemm") == 0)
        return true;
    if (strcmp(n->op_type, "MatMul") == 0)
        return n->n_in == 2 && (is_const_value(g, n->in[0]) || is_const_value(g, n->in[1]));
    return false;
}

static int infer_all(struct au_graph *g, struct au_diag *d)
{
    for (int i = 0; i < g->n_nodes; i++) {
        struct au_node *n = &g->nodes[i];
        struct au_op_ctx c = node_ctx(g, i);
        size_t scratch = 0;
        /* Every ONNX op's first output is required; kernels write it unchecked. */
        if (n->n_out < 1 || n->out[0] < 0)
            return au_diag_set(d, AU_FORMAT, "node '%s' (%s): output 0 has no name",
                               au_node_label(n), n->op_type);
        int rc = n->def->infer(&c, &scratch, d);
        if (rc)
            return rc;
        bool foldable = true;
        for (int k = 0; k < n->n_out; k++) {
            int64_t numel;
            if (n->out[k] < 0)
                continue;
            const struct au_tensor *t = &g->rt[n->out[k]];
            if (!au_dtype_is_valid(t->dtype) || !au_shape_numel_checked(t->n_dims, t->ne, &numel))
                return au_diag_set(d, AU_SHAPE, "node '%s' (%s): output %d has an invalid shape",
                                   au_node_label(n), n->op_type, k);
            if (g->values[n->out[k]].flags & AU_VALUE_OUTPUT)
                foldable = false;
        }
        for (int k = 0; k < n->n_in && foldable; k++)
            foldable = is_const_value(g, n->in[k]) || shape_only_op(n);
        if (foldable) {
            rc = fold_node(g, i, &c, scratch, d);
            if (rc)
                return rc;
            continue;
        }
        n->scratch_bytes = scratch;
        n->is_layer = detect_layer(g, n);
        n->macs = n->def->macs ? n->def->macs(&c) : 0;
        if (scratch > g->scratch_bytes)
            g->scratch_bytes = scratch;
    }
    return AU_OK;
}

/* A planned buffer: value v lives from step def to step last (inclusive). */
struct slot {
    int v, def, last;
    size_t size;
};

static int cmp_slot_size(const void *a, const void *b)
{
    const struct slot *x = a, *y = b;
    if (x->size != y->size)
        return x->size < y->size ? 1 : -1;
    return x->v - y->v;
}

/* Greedy by size: place each buffer at the lowest offset that does not collide with an
 * already placed buffer whose lifetime overlaps. keep = no sharing at all. */
static size_t plan_offsets(struct slot *s, int n, bool keep, size_t *offset)
{
    size_t total = 0;
    qsort(s, (size_t)n, sizeof(*s), cmp_slot_size);
    for (int i = 0; i < n; i++) {
        size_t off = 0;
        if (keep) {
            off = total;
        } else {
            bool moved = true;
            while (moved) {
                moved = false;
                for (int j = 0; j < i; j++) {
                    bool live = !(s[j].last < s[i].def || s[i].last < s[j].def);
                    size_t oj = offset[s[j].v];
                    if (live && off < oj + s[j].size && oj < off + s[i].size) {
                        off = oj + s[j].size;
                        moved = true;
                    }
                }
            }
        }
        offset[s[i].v] = off;
        if (off + s[i].size > total)
            total = off + s[i].size;
    }
    return total;
}

static int collect_slots(struct au_graph *g, struct slot **out, int *n_out)
{
    for (int v = 0; v < g->n_values; v++)
        g->last_use[v] = -2;
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].folded)
            continue;
        for (int k = 0; k < g->nodes[i].n_in; k++)
            if (g->nodes[i].in[k] >= 0)
                g->last_use[g->nodes[i].in[k]] = i;
    }
    struct slot *s = au_calloc((size_t)g->n_values + 1, sizeof(*s));
    if (!s)
        return AU_NOMEM;
    int n = 0;
    for (int v = 0; v < g->n_values; v++) {
        const struct au_value *val = &g->values[v];
        if (val->flags & AU_VALUE_CONST)
            continue;
        bool input = val->flags & AU_VALUE_INPUT;
        if (!input && val->producer < 0)
            continue;
        int def = input ? -1 : val->producer;
        int last = (val->flags & (AU_VALUE_OUTPUT | AU_VALUE_INPUT)) ? g->n_nodes : g->last_use[v];
        if (last < def)
            last = def; /* dead output: still needs room while its node runs */
        s[n++] = (struct slot){v, def, last, align_up(au_tensor_nbytes(&g->rt[v]) + 1)};
    }
    *out = s;
    *n_out = n;
    return AU_OK;
}

static int plan_memory(struct au_graph *g, bool keep, struct au_diag *d)
{
    struct slot *s;
    int n;
    if (collect_slots(g, &s, &n))
        return au_diag_set(d, AU_NOMEM, "out of memory planning buffers");
    for (int v = 0; v < g->n_values; v++)
        g->offset[v] = g->trial_offset[v] = SIZE_MAX;
    g->arena_bytes = plan_offsets(s, n, keep, g->offset);
    if (keep)
        g->arena_bytes = au_cone_place(g, g->arena_bytes, ALIGN);
    if (keep) /* the trial arena only ever holds recomputed (non-input) values */
        g->trial_bytes = plan_offsets(s, n, false, g->trial_offset);
    au_free(s);
    g->arena = au_arena_alloc(g->arena_bytes + ALIGN);
    g->scratch = au_arena_alloc(g->scratch_bytes + ALIGN);
    g->trial_arena = keep ? au_arena_alloc(g->trial_bytes + ALIGN) : NULL;
    if (!g->arena || !g->scratch || (keep && !g->trial_arena))
        return au_diag_set(d, AU_NOMEM, "out of memory: %zu bytes of activations",
                           g->arena_bytes + g->trial_bytes);
    memset(g->arena, 0, g->arena_bytes);
    for (int v = 0; v < g->n_values; v++)
        if (g->offset[v] != SIZE_MAX)
            g->rt[v].data = (char *)g->arena + g->offset[v];
    return AU_OK;
}

int au_graph_prepare(struct au_graph *g, int64_t batch, unsigned flags, struct au_diag *d)
{
    int rc;
    au_prepare_release(g);
    if (batch < 1)
        return au_diag_set(d, AU_INVALID, "%s: batch must be >= 1", au_graph_source(g));
    if (alloc_tables(g)) {
        rc = au_diag_set(d, AU_NOMEM, "out of memory");
        goto err;
    }
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].flags & AU_VALUE_CONST)
            g->rt[v] = g->values[v].t;
    g->batch = batch;
    g->prep_flags = flags;
    rc = bind_inputs(g, batch, d);
    if (!rc)
        rc = infer_all(g, d);
    if (!rc && (flags & AU_PREPARE_KEEP) && au_cone_prepare(g))
        rc = au_diag_set(d, AU_NOMEM, "out of memory for change propagation");
    if (!rc)
        rc = plan_memory(g, flags & AU_PREPARE_KEEP, d);
    if (!rc && (flags & AU_PREPARE_KEEP) && au_rows_prepare(g))
        rc = au_diag_set(d, AU_NOMEM, "out of memory for row compaction");
    if (!rc)
        rc = au_hook_rebuild(g);
    if (rc)
        goto err;
    g->prepared = true;
    return AU_OK;
err:
    au_diag_prefix(d, au_graph_source(g));
    au_prepare_release(g);
    return rc;
}

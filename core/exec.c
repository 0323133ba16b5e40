/* Execution of a prepared graph. A full run writes every activation in the primary arena
 * (the golden cache under KEEP). run_from recomputes a node's downstream cone into the
 * trial arena and repoints only the dirty values there, so golden tensors stay intact
 * and the next trial starts from them without copying anything. */
#include "graph_impl.h"

#include "alloc.h"
#include "arena.h"

#include <cblas.h>
#include <stdint.h>
#include <string.h>

/* keep_raw: a golden run keeps the output of a box node before its post-hooks (cone.c). */
static int run_node(struct au_graph *g, int i, bool keep_raw, struct au_diag *d)
{
    const struct au_node *n = &g->nodes[i];
    struct au_op_ctx c;
    au_node_ctx(g, i, &c);
    int rc;
    if (g->node_hook_mask[i] & AU_HOOK_PRE) {
        rc = au_hook_call(g, i, AU_HOOK_PRE, false, d);
        if (rc)
            return rc;
    }
    rc = n->def->run(&c, d);
    if (rc)
        return rc;
    if (keep_raw)
        au_cone_keep_raw(g, i);
    if (g->node_hook_mask[i] & AU_HOOK_POST)
        rc = au_hook_call(g, i, AU_HOOK_POST, false, d);
    return rc;
}

static void point_at_golden(struct au_graph *g, int v)
{
    g->rt[v].data = (char *)g->arena + g->offset[v];
    g->dirty[v] = 0;
}

int au_graph_run(struct au_graph *g, struct au_diag *d)
{
    if (!g->prepared)
        return au_diag_set(d, AU_INVALID, "%s: graph not prepared", au_graph_source(g));
    for (int v = 0; v < g->n_values; v++)
        if (g->dirty[v])
            point_at_golden(g, v);
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].folded)
            continue;
        int rc = run_node(g, i, true, d);
        if (rc) {
            au_diag_prefix(d, au_graph_source(g));
            return rc;
        }
    }
    return AU_OK;
}

static bool node_needs_run(const struct au_graph *g, int i)
{
    const struct au_node *n = &g->nodes[i];
    for (int k = 0; k < n->n_in; k++)
        if (n->in[k] >= 0 && g->dirty[n->in[k]])
            return true;
    return false;
}

static unsigned char *rows_of(const struct au_graph *g, int v)
{
    return g->rows + (size_t)v * (size_t)g->batch;
}

/* After recomputing node i: rows (or whole outputs) bit-identical to golden are clean
 * again; an output with no dirty row left points back at golden. */
static void prune_masked(struct au_graph *g, int i)
{
    const struct au_node *n = &g->nodes[i];
    for (int k = 0; k < n->n_out; k++) {
        int v = n->out[k];
        if (v < 0)
            continue;
        const char *gold = (const char *)g->arena + g->offset[v];
        const char *cur = g->rt[v].data;
        if (!au_rows_batched(g, v)) {
            if (memcmp(cur, gold, au_tensor_nbytes(&g->rt[v])) == 0)
                point_at_golden(g, v);
            continue;
        }
        size_t rb = au_tensor_nbytes(&g->rt[v]) / (size_t)g->batch;
        unsigned char *rm = rows_of(g, v);
        bool boxed = g->box_slot && g->box_slot[v] >= 0;
        if (boxed)
            au_cone_prune(g, v, rm); /* the rows it leaves differ */
        int64_t left = 0;
        for (int64_t r = 0; r < g->batch; r++) {
            if (!boxed && rm[r] && memcmp(cur + (size_t)r * rb, gold + (size_t)r * rb, rb) == 0)
                rm[r] = 0;
            left += rm[r];
        }
        if (!left)
            point_at_golden(g, v);
    }
}

/* Union of the dirty rows of node i's inputs into the spare mask; the batch if a dirty
 * input has no batch dimension. */
static int64_t dirty_rows(struct au_graph *g, int i, unsigned char *mask)
{
    const struct au_node *n = &g->nodes[i];
    memset(mask, 0, (size_t)g->batch);
    for (int k = 0; k < n->n_in; k++) {
        int v = n->in[k];
        if (v < 0 || !g->dirty[v])
            continue;
        if (!au_rows_batched(g, v))
            return g->batch;
        const unsigned char *rm = rows_of(g, v);
        for (int64_t r = 0; r < g->batch; r++)
            mask[r] |= rm[r];
    }
    int64_t cnt = 0;
    for (int64_t r = 0; r < g->batch; r++)
        cnt += mask[r];
    return cnt;
}

/* Node i by change propagation (cone.c): the rows that differ are input 0's. */
static int rerun_cone(struct au_graph *g, int i, struct au_diag *d)
{
    const struct au_node *n = &g->nodes[i];
    const unsigned char *in_rows = rows_of(g, n->in[0]);
    int rc = au_cone_run(g, i, in_rows, d);
    bool hooks = g->node_hook_mask[i] & AU_HOOK_POST;
    if (!rc && hooks)
        rc = au_hook_call(g, i, AU_HOOK_POST, false, d);
    /* a hook may change any row (stochastic rounding draws along the whole tensor) */
    if (hooks)
        memset(rows_of(g, n->out[0]), 1, (size_t)g->batch);
    else
        memcpy(rows_of(g, n->out[0]), in_rows, (size_t)g->batch);
    return rc;
}

/* Recompute node i of a resumed run (its outputs already point at the trial arena).
 * cone: the node's own inputs (weights) are as in the golden run. */
static int rerun_node(struct au_graph *g, int i, int node, bool reuse, bool cone, unsigned flags,
                      struct au_diag *d)
{
    /* exact, unlike compaction (a GEMM's blocking may change with the row count) */
    if (cone && !reuse && i != node && (flags & AU_RUN_PRUNE_MASKED) && au_cone_applies(g, i))
        return rerun_cone(g, i, d);
    unsigned char *mask = rows_of(g, g->n_values);
    int64_t nr = g->batch;
    if (!reuse && i != node && (flags & AU_RUN_COMPACT) && g->row_safe[i])
        nr = dirty_rows(g, i, mask);
    bool compact = nr > 0 && nr * 2 <= g->batch;
    int rc = AU_OK;
    if (reuse || compact) {
        if (compact && (g->node_hook_mask[i] & AU_HOOK_PRE))
            rc = au_hook_call(g, i, AU_HOOK_PRE, false, d);
        if (!rc && compact)
            rc = au_rows_run(g, i, mask, nr, d);
        if (!rc && (g->node_hook_mask[i] & AU_HOOK_POST))
            rc = au_hook_call(g, i, AU_HOOK_POST, reuse, d);
    } else {
        rc = run_node(g, i, false, d);
    }
    const struct au_node *n = &g->nodes[i];
    for (int k = 0; k < n->n_out; k++)
        if (n->out[k] >= 0 && au_rows_batched(g, n->out[k])) {
            if (compact && !(g->node_hook_mask[i] & AU_HOOK_POST)) /* see rerun_cone */
                memcpy(rows_of(g, n->out[k]), mask, (size_t)g->batch);
            else
                memset(rows_of(g, n->out[k]), 1, (size_t)g->batch);
        }
    return rc;
}

int au_graph_run_from(struct au_graph *g, int node, unsigned flags, struct au_diag *d)
{
    if (!g->prepared || !(g->prep_flags & AU_PREPARE_KEEP))
        return au_diag_set(d, AU_INVALID, "%s: run_from needs a graph prepared with KEEP",
                           au_graph_source(g));
    if (node < 0 || node >= g->n_nodes)
        return au_diag_set(d, AU_RANGE, "%s: node %d out of range", au_graph_source(g), node);
    for (int v = 0; v < g->n_values; v++)
        if (g->dirty[v])
            point_at_golden(g, v);
    g->last_n_run = 0;
    for (int i = node; i < g->n_nodes; i++) {
        const struct au_node *n = &g->nodes[i];
        unsigned force = g->forced ? g->forced[i] : 0;
        bool clean = i != node && !node_needs_run(g, i);
        if (n->folded || (clean && !force))
            continue;
        /* a forced node with clean inputs recomputes only if its weights changed */
        bool reuse =
            i == node ? (flags & AU_RUN_REUSE_OUTPUT) != 0 : clean && !(force & AU_FORCE_RUN);
        for (int k = 0; k < n->n_out; k++) {
            int v = n->out[k];
            if (v >= 0) {
                g->rt[v].data = (char *)g->trial_arena + g->trial_offset[v];
                g->dirty[v] = 1;
                if (g->box_valid)
                    g->box_valid[v] = 0;
                if (reuse)
                    memcpy(g->rt[v].data, (char *)g->arena + g->offset[v],
                           au_tensor_nbytes(&g->rt[v]));
            }
        }
        int rc = rerun_node(g, i, node, reuse, !(force & AU_FORCE_RUN), flags, d);
        if (rc) {
            au_diag_prefix(d, au_graph_source(g));
            return rc;
        }
        g->last_n_run++;
        if (flags & AU_RUN_PRUNE_MASKED)
            prune_masked(g, i);
    }
    g->last_masked = true;
    for (int k = 0; k < g->n_outputs; k++) {
        int v = g->outputs[k];
        const void *gold = (const char *)g->arena + g->offset[v];
        if (g->dirty[v] && memcmp(g->rt[v].data, gold, au_tensor_nbytes(&g->rt[v])) != 0)
            g->last_masked = false;
    }
    return AU_OK;
}

void au_graph_set_forced(struct au_graph *g, const unsigned char *per_node)
{
    g->forced = per_node;
}

bool au_graph_last_masked(const struct au_graph *g)
{
    return g->last_masked;
}

int au_graph_last_n_run(const struct au_graph *g)
{
    return g->last_n_run;
}

struct au_tensor *au_graph_input_tensor(struct au_graph *g, int i)
{
    if (!g->prepared || i < 0 || i >= g->n_inputs)
        return NULL;
    return &g->rt[g->inputs[i]];
}

int au_graph_set_input(struct au_graph *g, int i, const void *data, size_t nbytes,
                       struct au_diag *d)
{
    struct au_tensor *t = au_graph_input_tensor(g, i);
    if (!t)
        return au_diag_set(d, AU_RANGE, "%s: no input %d", au_graph_source(g), i);
    if (nbytes != au_tensor_nbytes(t))
        return au_diag_set(d, AU_SHAPE, "%s: input '%s' wants %zu bytes, got %zu",
                           au_graph_source(g), g->values[g->inputs[i]].name, au_tensor_nbytes(t),
                           nbytes);
    memcpy(t->data, data, nbytes);
    return AU_OK;
}

const struct au_tensor *au_graph_output(const struct au_graph *g, int i)
{
    if (!g->prepared || i < 0 || i >= g->n_outputs)
        return NULL;
    return &g->rt[g->outputs[i]];
}

const struct au_tensor *au_graph_tensor(const struct au_graph *g, int value)
{
    if (!g->prepared || value < 0 || value >= g->n_values)
        return NULL;
    return &g->rt[value];
}

bool au_graph_golden(const struct au_graph *g, int value, struct au_tensor *out)
{
    if (!g->prepared || value < 0 || value >= g->n_values)
        return false;
    *out = g->rt[value];
    if (g->values[value].flags & AU_VALUE_CONST)
        return true;
    if (!(g->prep_flags & AU_PREPARE_KEEP) || g->offset[value] == SIZE_MAX)
        return false;
    out->data = (char *)g->arena + g->offset[value];
    return true;
}

/* OpenBLAS's own thread pool (pthreads build): its idle threads spin on sched_yield for a
 * while after every wake-up, which in a campaign (one BLAS thread per worker) took a
 * quarter of the process's CPU time. With one thread they have nothing to do, so they are
 * stopped; a later call for more threads starts them again. Weak: other OpenBLAS builds
 * (OpenMP, serial) lack it. */
extern void blas_thread_shutdown_(void) __attribute__((weak));

void au_set_threads(int n)
{
    if (n > 0)
        openblas_set_num_threads(n);
    if (n == 1 && blas_thread_shutdown_)
        blas_thread_shutdown_();
}

void *au_graph_arena_new(const struct au_graph *g)
{
    void *a = au_arena_alloc(g->arena_bytes + 64);
    if (a)
        memset(a, 0, g->arena_bytes);
    return a;
}

void au_graph_arena_free(void *arena)
{
    au_arena_free(arena);
}

const void *au_graph_arena(const struct au_graph *g)
{
    return g->arena;
}

size_t au_graph_arena_bytes(const struct au_graph *g)
{
    return g->arena_bytes;
}

void *au_graph_arena_swap(struct au_graph *g, void *arena)
{
    void *old = g->arena;
    g->arena = arena;
    for (int v = 0; v < g->n_values; v++)
        if (g->offset[v] != SIZE_MAX)
            point_at_golden(g, v);
    return old;
}

/* Internal layout of struct au_graph, shared by graph.c (builder), prepare.c (shape
 * inference, folding, memory plan), exec.c (runs, resume) and hook.c. Not installed. */
#ifndef AU_GRAPH_IMPL_H
#define AU_GRAPH_IMPL_H

#include "exec.h"
#include "graph.h"

/* Value flag for constants computed by prepare (freed by au_prepare_release). */
#define AU_VALUE_FOLDED_ (1u << 16)

struct au_hook_entry {
    int kind; /* AU_HOOK_SEL_* */
    char *pattern;
    unsigned when; /* AU_HOOK_PRE | AU_HOOK_POST */
    au_hook_fn fn;
    void *user;
    int id;
};

struct au_graph {
    struct au_value *values;
    int n_values, cap_values;
    struct au_node *nodes;
    int n_nodes, cap_nodes;
    int *inputs; /* user-fed value ids (initializers excluded) */
    int n_inputs;
    int *outputs;
    int n_outputs;
    char *source;

    /* prepare */
    bool prepared;
    unsigned prep_flags;
    int64_t batch;
    void *arena; /* activations (and inputs) */
    size_t arena_bytes;
    size_t *offset;    /* per value: offset in arena, SIZE_MAX if not planned */
    void *trial_arena; /* KEEP only: recomputed values of run_from */
    size_t trial_bytes;
    size_t *trial_offset;
    void *scratch;
    size_t scratch_bytes;
    struct au_tensor *rt;       /* per value: runtime view (shape + current data) */
    struct au_tensor **in_ptrs; /* per node input slots, flattened (NULL = absent) */
    struct au_tensor **out_ptrs;
    int *slot_in, *slot_out; /* per node: first index into in_ptrs / out_ptrs */
    int *last_use;           /* per value: last node index reading it */

    /* run_from */
    unsigned char *dirty;        /* per value */
    const unsigned char *forced; /* per node, AU_FORCE_* (borrowed; NULL: none) */
    bool last_masked;
    int last_n_run;
    /* row compaction (rows.c): per value a byte per batch row, set while the row differs
     * from golden; per node whether it may run on a subset of rows */
    unsigned char *rows;
    unsigned char *row_safe;
    void *cbuf; /* compact copies of a node's inputs and outputs */
    size_t cbuf_bytes;
    int64_t *row_idx;         /* batch: the rows a compact run computes */
    struct au_tensor *cviews; /* compact views, max_io of them */
    struct au_tensor **cptrs; /* inputs then outputs handed to the op */
    int max_io;
    /* change propagation (cone.c): per node whether its op runs boxes here, and where
     * the golden run keeps its output before post-hooks (arena offset, SIZE_MAX none);
     * per value the slot of its per-row boxes (-1 none) and whether they are current */
    unsigned char *box_node;
    size_t *raw_off;
    int *box_slot;
    unsigned char *box_valid; /* 0, AU_BOX_CONE (may differ inside), AU_BOX_TIGHT (differs) */
    struct au_box *boxes;     /* slots x batch */
    struct au_box *box_tmp;

    /* hooks */
    struct au_hook_entry *hooks;
    int n_hooks, cap_hooks, next_hook_id;
    unsigned char *node_hook_mask; /* per node: AU_HOOK_PRE | AU_HOOK_POST if any match */
    int n_threads;
};

/* The op context of node i as the graph runs it (its tensors, the shared scratch). */
static inline void au_node_ctx(const struct au_graph *g, int i, struct au_op_ctx *c)
{
    const struct au_node *n = &g->nodes[i];
    *c = (struct au_op_ctx){
        .node = n,
        .n_in = n->n_in,
        .n_out = n->n_out,
        .in = (const struct au_tensor *const *)&g->in_ptrs[g->slot_in[i]],
        .out = &g->out_ptrs[g->slot_out[i]],
        .scratch = g->scratch,
        .scratch_bytes = n->scratch_bytes,
    };
}

/* hook.c: recompute node_hook_mask after nodes or hooks change. */
int au_hook_rebuild(struct au_graph *g);
/* hook.c: call matching hooks for node i; reused: out is the golden output, already
 * through the post-hooks once (au_hook_args.reused). */
int au_hook_call(struct au_graph *g, int i, unsigned when, bool reused, struct au_diag *d);
void au_hook_free_all(struct au_graph *g);
#define AU_BOX_CONE  1
#define AU_BOX_TIGHT 2
/* cone.c: which nodes propagate changes by boxes (KEEP, after shapes, before the memory
 * plan), then room for their pre-hook golden outputs at the end of the arena. */
int au_cone_prepare(struct au_graph *g);
size_t au_cone_place(struct au_graph *g, size_t arena_bytes, size_t align);
void au_cone_release(struct au_graph *g);
/* cone.c: golden run, node i ran and its post-hooks have not: keep its output. */
void au_cone_keep_raw(struct au_graph *g, int i);
/* cone.c: value v (with box slot) was recomputed: clear the rows in rm equal to golden,
 * box tightly the others (within the cone boxes if its node left them). */
void au_cone_prune(struct au_graph *g, int v, unsigned char *rm);
/* cone.c: run_from may recompute node i by boxes now; then do it for the rows set. */
bool au_cone_applies(const struct au_graph *g, int i);
int au_cone_run(struct au_graph *g, int i, const unsigned char *rows, struct au_diag *d);
/* rows.c: after prepare (KEEP): which nodes are row-wise, and compaction buffers. */
int au_rows_prepare(struct au_graph *g);
void au_rows_release(struct au_graph *g);
/* rows.c: rows of value v (dim 0 the batch) as a mask; false if v has no batch dim. */
bool au_rows_batched(const struct au_graph *g, int v);
/* rows.c: run node i on the rows in mask only (n of them), scattering into the trial
 * outputs whose other rows are golden. Hooks run on the full outputs afterwards. */
int au_rows_run(struct au_graph *g, int i, const unsigned char *mask, int64_t n, struct au_diag *d);
/* prepare.c: free everything prepare allocated. */
void au_prepare_release(struct au_graph *g);

#endif

/* Running a prepared graph: full runs, golden cache and resume, hooks.
 *
 * With AU_PREPARE_KEEP every activation keeps its own buffer, so after au_graph_run()
 * the graph holds the golden tensors. au_graph_run_from(g, k, ...) then recomputes node
 * k and only the nodes that depend on it, in a second arena, reading clean inputs from
 * the golden cache; the golden cache itself is never written. With AU_RUN_PRUNE_MASKED
 * a recomputed tensor bit-identical to its golden one stops propagating (masked fault).
 */
#ifndef AU_EXEC_H
#define AU_EXEC_H

#include "graph.h"

/* ---- inputs and outputs (borrowed views, valid until the next prepare/free) ---- */
/* Writable input tensor i (fill its data before a run). */
struct au_tensor *au_graph_input_tensor(struct au_graph *g, int i);
/* Copy nbytes (must equal the input's size) into input i. */
int au_graph_set_input(struct au_graph *g, int i, const void *data, size_t nbytes,
                       struct au_diag *d);
/* Output i / any value as of the last run (trial data where run_from recomputed it). */
const struct au_tensor *au_graph_output(const struct au_graph *g, int i);
const struct au_tensor *au_graph_tensor(const struct au_graph *g, int value);
/* Fill *out with the golden (last full run) view of a value: constants, and activations
 * of KEEP graphs. Returns false if there is none. */
bool au_graph_golden(const struct au_graph *g, int value, struct au_tensor *out);

/* ---- runs ---- */
int au_graph_run(struct au_graph *g, struct au_diag *d);
#define AU_RUN_PRUNE_MASKED 1u
/* The start node is not recomputed: its golden outputs are copied to the trial arena and
 * only its post-hooks run (an activation fault rewrites them there). */
#define AU_RUN_REUSE_OUTPUT 2u
/* Nodes that treat samples independently recompute only the rows (samples) that still
 * differ from golden, when at most half of the batch does. Same bits as a full run. */
#define AU_RUN_COMPACT 4u
int au_graph_run_from(struct au_graph *g, int node, unsigned flags, struct au_diag *d);
/* Nodes run_from must not skip when their inputs are clean (a fault is pending there,
 * and an earlier fault may have been masked): per node, 0 or AU_FORCE_HOOK (its golden
 * output is taken and its post-hooks run, as AU_RUN_REUSE_OUTPUT does for the start node)
 * or AU_FORCE_RUN (recomputed: its weights changed). Borrowed until cleared with NULL. */
#define AU_FORCE_HOOK 1u
#define AU_FORCE_RUN  2u
void au_graph_set_forced(struct au_graph *g, const unsigned char *per_node);
/* After run_from: true if no graph output differs from golden (fault masked). */
bool au_graph_last_masked(const struct au_graph *g);
/* After run_from: number of nodes recomputed. */
int au_graph_last_n_run(const struct au_graph *g);
/* Several golden caches (e.g. one per data batch of a campaign): a KEEP graph's golden
 * arena (activations and inputs of the last full run) can be swapped for another of the
 * same size. au_graph_arena_new allocates one (au_graph_arena_free frees it); swap puts
 * arena in and returns the one it replaces. */
void *au_graph_arena_new(const struct au_graph *g);
void au_graph_arena_free(void *arena);
size_t au_graph_arena_bytes(const struct au_graph *g);
void *au_graph_arena_swap(struct au_graph *g, void *arena);
/* The arena in use (an identity: what it holds changes with every full run). */
const void *au_graph_arena(const struct au_graph *g);
/* BLAS threads for this process (0 = leave as is). Same count -> same bits. */
void au_set_threads(int n);

/* ---- hooks: callbacks before/after nodes; they may rewrite tensors in place ---- */
#define AU_HOOK_PRE  1u
#define AU_HOOK_POST 2u
enum au_hook_sel {
    AU_HOOK_SEL_NAME = 1,   /* node name equals pattern */
    AU_HOOK_SEL_OP = 2,     /* op_type equals pattern */
    AU_HOOK_SEL_LAYERS = 3, /* every layer (node with weights); pattern unused */
    AU_HOOK_SEL_ALL = 4,    /* every node */
};
struct au_hook_args {
    struct au_graph *g;
    int node_index;
    const struct au_node *node;
    unsigned when; /* AU_HOOK_PRE or AU_HOOK_POST */
    int n_in, n_out;
    struct au_tensor *const *in; /* pre-hooks may rewrite inputs: this rewrites the stored
                                    tensor (a weight stays rewritten until restored) */
    struct au_tensor *const *out;
    struct au_diag *diag; /* a hook that fails may say why here (the run prefixes the node) */
    /* run_from reuses the node's golden output (AU_RUN_REUSE_OUTPUT, or a forced node
     * whose inputs are clean): out[] already went through every post-hook once, in the
     * golden run. A hook that only re-derives it (a number format) may return at once. */
    bool reused;
};
/* Return 0 to continue, a negative status to abort the run with it. */
typedef int (*au_hook_fn)(void *user, const struct au_hook_args *a);
/* Returns a hook id (>= 0) or a negative status. pattern is copied. */
int au_hook_add(struct au_graph *g, int sel, const char *pattern, unsigned when, au_hook_fn fn,
                void *user);
int au_hook_remove(struct au_graph *g, int id);

#endif

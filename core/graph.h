/* The graph: values (tensors with names) and nodes (ONNX ops) in topological order.
 * Built by the ONNX loader (or by tests) with the au_graph_add_* builder, then
 * au_graph_prepare() fixes the batch size, infers every shape, folds constant
 * subgraphs and plans memory. au_graph_run() executes; hooks may observe and rewrite
 * tensors around every node; a golden cache makes au_graph_run_from() cheap.
 *
 *   struct au_graph *g; struct au_diag d;
 *   au_onnx_load("m.onnx", &g, &d);
 *   au_graph_prepare(g, 64, 0, &d);
 *   au_graph_set_input(g, 0, x, n_bytes, &d);
 *   au_graph_run(g, &d);
 *   const struct au_tensor *y = au_graph_output(g, 0);
 *   au_graph_free(g);
 */
#ifndef AU_GRAPH_H
#define AU_GRAPH_H

#include "op.h"
#include "status.h"
#include "tensor.h"

#include <stdbool.h>
#include <stdint.h>

enum au_value_flags {
    AU_VALUE_INPUT = 1u << 0,       /* graph input (fed by the user) */
    AU_VALUE_OUTPUT = 1u << 1,      /* graph output */
    AU_VALUE_INITIALIZER = 1u << 2, /* weight from the model file */
    AU_VALUE_CONST = 1u << 3,       /* value known at prepare time (initializer or folded) */
    AU_VALUE_BATCH_DIM = 1u << 4,   /* input whose dim 0 is the symbolic batch */
};

struct au_value {
    char *name;
    struct au_tensor t; /* dtype/shape; t.data set for constants, and during runs */
    uint32_t flags;
    int producer; /* node index or -1 */
    int n_consumers;
};

struct au_node {
    char *name;
    char *op_type;
    int n_in, n_out;
    int *in, *out; /* value ids; -1 for an absent optional input */
    int n_attrs;
    struct au_attr *attrs;
    const struct au_op_def *def;
    /* Filled by prepare: */
    bool folded;   /* computed at prepare time; skipped at run */
    bool is_layer; /* has weights: Conv, Gemm, MatMul with a constant operand */
    uint64_t macs;
    size_t scratch_bytes;
};

struct au_graph;

/* Builder (loader and tests). Strings are copied. Returns the new id or a negative status. */
struct au_graph *au_graph_new(void);
void au_graph_free(struct au_graph *g);
int au_graph_add_value(struct au_graph *g, const char *name);
int au_graph_find_value(const struct au_graph *g, const char *name); /* -1 if absent */
/* Takes ownership of data (allocated with au_malloc_aligned), marks INITIALIZER|CONST. */
int au_graph_set_initializer_take(struct au_graph *g, int value, int dtype, int n_dims,
                                  const int64_t *ne, void *data);
/* Declares a graph input; ne[i] < 0 marks a symbolic dim (dim 0 -> batch). */
int au_graph_add_input(struct au_graph *g, const char *name, int dtype, int n_dims,
                       const int64_t *ne);
int au_graph_mark_output(struct au_graph *g, const char *name);
/* Adds a node; in[]/out[] are value names ("" = absent). Attrs are taken (moved) from
 * the array, which the caller then frees shallowly. Returns node index. */
int au_graph_add_node(struct au_graph *g, const char *name, const char *op_type, int n_in,
                      const char *const *in, int n_out, const char *const *out,
                      struct au_attr *attrs, int n_attrs, struct au_diag *d);
/* Layer selectors (campaigns, formats): "*" = every layer, "op:Conv" = by op type, a
 * shell glob ("*conv*", fnmatch) or an exact node name. */
bool au_node_matches(const struct au_node *n, const char *selector);
/* Directory of the model file (for messages); borrowed. */
void au_graph_set_source(struct au_graph *g, const char *path);
const char *au_graph_source(const struct au_graph *g);

/* Prepare: batch (>=1) replaces the symbolic batch dim; infer shapes, fold constants,
 * plan memory. flags: AU_PREPARE_KEEP keeps every activation (needed by run_from). */
#define AU_PREPARE_KEEP 1u
int au_graph_prepare(struct au_graph *g, int64_t batch, unsigned flags, struct au_diag *d);

/* Introspection (borrowed; valid until au_graph_free). */
int au_graph_n_nodes(const struct au_graph *g);
const struct au_node *au_graph_node(const struct au_graph *g, int i);
int au_graph_n_values(const struct au_graph *g);
const struct au_value *au_graph_value(const struct au_graph *g, int i);
int au_graph_n_inputs(const struct au_graph *g); /* non-constant graph inputs */
int au_graph_n_outputs(const struct au_graph *g);
int au_graph_input_value(const struct au_graph *g, int i);
int au_graph_output_value(const struct au_graph *g, int i);
int64_t au_graph_batch(const struct au_graph *g);
size_t au_graph_peak_bytes(const struct au_graph *g); /* planned activation memory */

#endif

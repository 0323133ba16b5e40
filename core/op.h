/* Operator interface, the ggml op/tensor split: an op is a pair of pure functions.
 * infer() computes output dtypes and shapes from input shapes (and from input *values*
 * when an input is constant, in->data != NULL, e.g. Reshape's shape); run() computes
 * into outputs whose shape and storage the executor already set. Ops never allocate
 * in run(): they ask for scratch bytes in infer(). */
#ifndef AU_OP_H
#define AU_OP_H

#include "kern.h"
#include "status.h"
#include "tensor.h"

#include <stdint.h>

struct au_node;

enum au_attr_type {
    AU_ATTR_FLOAT = 1,
    AU_ATTR_INT = 2,
    AU_ATTR_STRING = 3,
    AU_ATTR_TENSOR = 4,
    AU_ATTR_FLOATS = 6,
    AU_ATTR_INTS = 7,
    AU_ATTR_STRINGS = 8,
};

/* One node attribute (ONNX AttributeProto subset). Owned by the graph. */
struct au_attr {
    char *name;
    int type;
    int64_t i;
    float f;
    char *s;             /* STRING */
    int n;               /* count for FLOATS / INTS / STRINGS */
    int64_t *ints;       /* INTS */
    float *floats;       /* FLOATS */
    char **strings;      /* STRINGS */
    struct au_tensor *t; /* TENSOR; data owned by the graph */
};

struct au_op_ctx {
    const struct au_node *node;
    int n_in, n_out;
    const struct au_tensor *const *in; /* in[i] NULL for an absent optional input */
    struct au_tensor *const *out;
    void *scratch; /* run() only: scratch_bytes as asked by infer(), 64-byte aligned */
    size_t scratch_bytes;
};

struct au_op_def {
    const char *name; /* ONNX op_type */
    int min_in, max_in, min_out, max_out;
    /* Set out[i] dtype/n_dims/ne; report scratch need. Errors name the node. */
    int (*infer)(const struct au_op_ctx *ctx, size_t *scratch_bytes, struct au_diag *d);
    int (*run)(const struct au_op_ctx *ctx, struct au_diag *d);
    /* Multiply-accumulates of one run (shapes known); NULL = 0. */
    uint64_t (*macs)(const struct au_op_ctx *ctx);
    /* Optional, for resumed runs (change propagation): out[0] holds a previous run's
     * output (before post-hooks) and in[0] differs from that run's input only inside
     * box[i] of batch row rows[i] (the other inputs are the same); recompute only what
     * that can change, bit for bit as run() would, and say where in out_box[i] (empty:
     * y0 > y1). Returns 1 if done, 0 if this node cannot (then run() it); n = 0 only
     * asks. NULL: never. */
    int (*run_boxes)(const struct au_op_ctx *ctx, const int64_t *rows, const struct au_box *box,
                     struct au_box *out_box, int64_t n, struct au_diag *d);
};

/* Registry lookup by ONNX op_type; NULL if unsupported. */
const struct au_op_def *au_op_find(const char *op_type);
/* Iterate all ops: returns NULL past the end. */
const struct au_op_def *au_op_at(int i);

/* Attribute getters (borrowed results). Missing attribute -> default / -1 / NULL. */
const struct au_attr *au_node_attr(const struct au_node *n, const char *name);
int64_t au_node_attr_int(const struct au_node *n, const char *name, int64_t dflt);
float au_node_attr_float(const struct au_node *n, const char *name, float dflt);
const char *au_node_attr_string(const struct au_node *n, const char *name, const char *dflt);
/* Number of ints (and *vals) or -1 if absent. */
int au_node_attr_ints(const struct au_node *n, const char *name, const int64_t **vals);
int au_node_attr_floats(const struct au_node *n, const char *name, const float **vals);
const struct au_tensor *au_node_attr_tensor(const struct au_node *n, const char *name);
/* The node's name for messages ("conv1" or "<Conv #3>"). */
const char *au_node_label(const struct au_node *n);

/* Per-family tables, each ending with a {NULL} entry (core/ops_*.c). */
extern const struct au_op_def au_ops_nn[];    /* Conv, pools, Gemm, MatMul, BatchNorm */
extern const struct au_op_def au_ops_ew[];    /* elementwise, reductions, softmax, norms */
extern const struct au_op_def au_ops_shape[]; /* shape and data movement ops */

#endif

/* Internal to the elementwise family (ops_ew.c, ops_reduce.c): numpy broadcasting and
 * the node-named error helper. A broadcast plan maps up to three contiguous operands onto
 * a contiguous output and merges adjacent dims, so equal shapes become one flat loop and a
 * per-channel operand becomes rows with a constant value; kernels then only see inner
 * strides of 0 or 1. au_ops_ew is one table for both files. */
#ifndef AU_OPS_EW_H
#define AU_OPS_EW_H

#include "op.h"

#include <stdint.h>

/* Multidirectional (numpy) broadcast of shapes a and b into out (room for AU_MAX_DIMS).
 * Returns AU_OK, or AU_SHAPE if a pair of dims is neither equal nor 1 or a rank exceeds
 * AU_MAX_DIMS; out is then unspecified. No diagnostics: callers name the node. */
int au_broadcast_shape(int na, const int64_t *a, int nb, const int64_t *b, int *n_out,
                       int64_t *out);

#define AU_BCAST_MAX_OPS 3

/* Operands broadcast onto an output: after merging, n_dims >= 1, and st[k][i] is
 * operand k's element stride along merged dim i (0 where it is broadcast). */
struct au_bcast {
    int n_dims, n_ops;
    int64_t ne[AU_MAX_DIMS];
    int64_t st[AU_BCAST_MAX_OPS][AU_MAX_DIMS];
    int64_t n_rows; /* product of all but the innermost extent */
};

/* Plan for operands ops[0..n_ops) (each broadcastable to the output's shape). */
void au_bcast_init(struct au_bcast *p, int n_out_dims, const int64_t *out_ne, int n_ops,
                   const struct au_tensor *const *ops);

/* Advance the row odometer idx (n_dims - 1 entries, start zeroed) and the per-operand
 * element offsets off[] of the next row. The output offset of row r is r * ne[n_dims-1]. */
static inline void au_bcast_next_row(const struct au_bcast *p, int64_t *idx, int64_t *off)
{
    for (int i = p->n_dims - 2; i >= 0; i--) {
        for (int k = 0; k < p->n_ops; k++)
            off[k] += p->st[k][i];
        if (++idx[i] < p->ne[i])
            return;
        for (int k = 0; k < p->n_ops; k++)
            off[k] -= p->st[k][i] * p->ne[i];
        idx[i] = 0;
    }
}

/* Copy src, broadcast, into the contiguous dst of shape (n_dims, ne). Same dtype. */
void au_bcast_copy(const struct au_tensor *src, void *dst, int n_dims, const int64_t *ne);

/* au_diag_set with the prefix "label: OpType: " (once if the node has no name). */
int au_ew_error(const struct au_op_ctx *ctx, struct au_diag *d, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* AU_OK if inputs 0..n_required-1 are present, else AU_INVALID naming the node. */
int au_ew_need_inputs(const struct au_op_ctx *ctx, int n_required, struct au_diag *d);

/* Normalize axis a of a rank-r tensor into [0, r); AU_INVALID naming the attribute. */
int au_ew_axis(const struct au_op_ctx *ctx, int64_t a, int rank, const char *what, int *axis,
               struct au_diag *d);

/* Ops implemented in ops_reduce.c and listed in au_ops_ew (ops_ew.c). The table holds
 * structs by value, so it takes these functions rather than op-def objects (an object is
 * not a constant initializer in C). X(OnnxName, id). */
#define AU_EW_REDUCE_OPS(X)                                                                        \
    X(ReduceSum, sum)                                                                              \
    X(ReduceMean, mean)                                                                            \
    X(ReduceMax, max)                                                                              \
    X(ReduceMin, min)                                                                              \
    X(ReduceProd, prod)                                                                            \
    X(ReduceSumSquare, sum_square)                                                                 \
    X(ReduceL1, l1)                                                                                \
    X(ReduceL2, l2)                                                                                \
    X(ReduceLogSumExp, log_sum_exp)

#define AU_X_(onnx, id)                                                                            \
    int au_reduce_##id##_infer(const struct au_op_ctx *ctx, size_t *scratch, struct au_diag *d);   \
    int au_reduce_##id##_run(const struct au_op_ctx *ctx, struct au_diag *d);
AU_EW_REDUCE_OPS(AU_X_)
#undef AU_X_

int au_softmax_infer(const struct au_op_ctx *ctx, size_t *scratch, struct au_diag *d);
int au_softmax_run(const struct au_op_ctx *ctx, struct au_diag *d);
int au_log_softmax_run(const struct au_op_ctx *ctx, struct au_diag *d);
int au_layer_norm_infer(const struct au_op_ctx *ctx, size_t *scratch, struct au_diag *d);
int au_layer_norm_run(const struct au_op_ctx *ctx, struct au_diag *d);

#endif

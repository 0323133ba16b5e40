/* Whole tensors through a format: block iteration, encode / decode / quantize, and the
 * checks the host makes on plugin output. This is what a fault campaign calls.
 *
 * Block rule (layout.block_kind), shape ne[] outermost first:
 *   AU_BLOCK_TENSOR   one block per sample for activations (per index of axis 0: a block
 *                     never spans two samples of a batch), one per tensor for weights;
 *   AU_BLOCK_CHANNEL  one per channel: axis 1 of activations (per sample), axis 0 of
 *                     weights; a tensor without that axis falls back to TENSOR;
 *   AU_BLOCK_ELEMS    runs of block_len along the last axis (the last run of a row may
 *                     be shorter; runs never wrap to the next row);
 *   AU_BLOCK_NONE     no metadata.
 * Blocks are numbered in memory order. The plugin is called once per "group": a run of
 * whole blocks contiguous in memory (a sample, a channel, a row, or the whole tensor).
 *
 *   struct au_numsys_blocks b;
 *   au_numsys_blocks_init(&b, au_numsys_fmt_layout(f), 4, ne, AU_NUMSYS_ROLE_ACT, &d);
 *   au_numsys_encode_tensor(f, &b, x, codes, meta, &rng, &d);   // codes[numel], meta[n_blocks]
 *   au_numsys_flip_elem(codes, i, bit);
 *   au_numsys_decode_tensor(f, &b, codes, meta, y, &d);
 */
#ifndef AU_NUMSYS_APPLY_H
#define AU_NUMSYS_APPLY_H

#include "numsys/fmtstr.h"

#include <stddef.h>
#include <stdint.h>

#define AU_NUMSYS_ROLE_ACT    0u /* activations: axis 0 is the batch */
#define AU_NUMSYS_ROLE_WEIGHT 1u

/* How one tensor shape splits into blocks; plain data, computed once per shape. */
struct au_numsys_blocks {
    size_t numel;
    size_t n_groups, group_len; /* plugin calls and elements per call */
    size_t blocks_per_group;    /* 0 if the format has no metadata */
    size_t block_len;           /* elements per block; a group's last block may be shorter */
    size_t n_blocks;            /* metadata words for the tensor = n_groups * blocks_per_group */
};

/* Fills b for a tensor of n_dims dims ne[] (role AU_NUMSYS_ROLE_*). AU_SHAPE for a
 * negative or overflowing shape, AU_INVALID for a bad role or layout. */
int au_numsys_blocks_init(struct au_numsys_blocks *b, const struct au_numsys_layout *l, int n_dims,
                          const int64_t *ne, uint32_t role, struct au_diag *d);
/* The block element i belongs to, or SIZE_MAX if the format has no metadata. */
size_t au_numsys_block_of(const struct au_numsys_blocks *b, size_t i);
/* First element and length of block blk (< n_blocks). */
void au_numsys_block_range(const struct au_numsys_blocks *b, size_t blk, size_t *first,
                           size_t *len);

/* codes[numel] and meta[n_blocks] (NULL if n_blocks is 0) from x[numel]. Checks the
 * plugin's output: a code wider than elem_bits or metadata wider than meta_bits is
 * AU_PLUGIN naming the element. Returns 0, AU_NUMSYS_NAN_ZEROED (> 0: a NaN input
 * became 0) or a negative status. rng is needed for stochastic rounding. */
int au_numsys_encode_tensor(const au_numsys_fmt *f, const struct au_numsys_blocks *b,
                            const float *x, uint64_t *codes, uint64_t *meta, struct au_pcg32 *rng,
                            struct au_diag *d);
/* The code of element i of the one block b describes (n_groups == 1, at most one metadata
 * word) and the block's metadata, from the plugin's optional encode_at, checked like
 * encode's output. AU_UNSUPPORTED if the plugin has no encode_at (encode the block). */
int au_numsys_encode_at(const au_numsys_fmt *f, const struct au_numsys_blocks *b, const float *x,
                        size_t i, uint64_t *code, uint64_t *meta, struct au_pcg32 *rng,
                        struct au_diag *d);
/* y[numel] from codes and meta. Input wider than the layout is AU_RANGE; a NaN/inf
 * output from a format whose layout promises none (AU_LAYOUT_NO_*) is AU_PLUGIN. */
int au_numsys_decode_tensor(const au_numsys_fmt *f, const struct au_numsys_blocks *b,
                            const uint64_t *codes, const uint64_t *meta, float *y,
                            struct au_diag *d);
/* x <- decode(encode(x)) in place. Plugins without a fused quantize go through
 * scratch: codes_tmp[group_len] and meta_tmp[blocks_per_group]; pass NULL to have
 * them allocated for this call. Returns as au_numsys_encode_tensor. */
int au_numsys_quantize_tensor(const au_numsys_fmt *f, const struct au_numsys_blocks *b, float *x,
                              uint64_t *codes_tmp, uint64_t *meta_tmp, struct au_pcg32 *rng,
                              struct au_diag *d);

#endif

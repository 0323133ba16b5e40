/* GoldenEye's convention for metadata faults, offered for comparison (campaign option
 * "metadata_faults": "requantize"): a block's values are quantized again with the
 * corrupted metadata, instead of its stored codes being read with it (Aurum's default, as
 * in hardware). Works for any format whose elements have at most 16 bits: every element
 * code is decoded under the corrupted metadata and each value takes the code of the
 * nearest one, ties to the even code, which is what a round-to-nearest encoder with that
 * metadata gives. The sorted code table is cached per (format, metadata word).
 *
 *   au_requant_block(r, fmt, &sub, x, meta_bad, codes, &d);   // then decode codes, meta_bad
 */
#ifndef AU_REQUANT_H
#define AU_REQUANT_H

#include "numsys/apply.h"

struct au_requant;

int au_requant_new(struct au_requant **out, struct au_diag *d);
void au_requant_free(struct au_requant *r);
/* codes[i] <- the code nearest to x[i] under metadata word meta, for the one block of sub
 * (sub->n_groups == 1, at most one metadata word). NaN inputs take a NaN code if the
 * format has one, else the code of 0. AU_INVALID for elements wider than 16 bits. */
int au_requant_block(struct au_requant *r, const au_numsys_fmt *f,
                     const struct au_numsys_blocks *sub, const float *x, uint64_t meta,
                     uint64_t *codes, struct au_diag *d);

#endif

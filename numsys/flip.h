/* Faults on encoded tensors: bit flips and stuck-at bits in element codes and block
 * metadata. They are host code, driven only by the layout, so every format gets data
 * and metadata faults without writing any. Bit 0 is the least significant bit.
 *
 *   au_numsys_flip_elem(codes, 17, 6);         // codes[17] ^= 1 << 6
 *   struct au_numsys_fault f = {AU_FAULT_META, AU_FAULT_FLIP, 3, 0};
 *   au_numsys_fault_apply(layout, codes, n_codes, meta, n_meta, &f, &d);  // checked
 */
#ifndef AU_NUMSYS_FLIP_H
#define AU_NUMSYS_FLIP_H

#include "aurum/numsys.h"
#include "core/status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Unchecked, for the trial loop: the caller has checked i, block and bit (< 64). */
void au_numsys_flip_elem(uint64_t *codes, size_t i, unsigned bit);
void au_numsys_flip_meta(uint64_t *meta, size_t block, unsigned bit);
/* Forces a bit to value (0 or 1); returns whether the word changed. */
bool au_numsys_stuck_elem(uint64_t *codes, size_t i, unsigned bit, unsigned value);
bool au_numsys_stuck_meta(uint64_t *meta, size_t block, unsigned bit, unsigned value);

#define AU_FAULT_ELEM 0u /* target: an element code */
#define AU_FAULT_META 1u /* target: a block's metadata word */

#define AU_FAULT_FLIP   0u
#define AU_FAULT_STUCK0 1u
#define AU_FAULT_STUCK1 2u

struct au_numsys_fault {
    uint32_t target; /* AU_FAULT_ELEM / AU_FAULT_META */
    uint32_t kind;   /* AU_FAULT_FLIP / STUCK0 / STUCK1 */
    size_t index;    /* element or block */
    uint32_t bit;    /* < elem_bits or meta_bits */
};

/* Checks f against the layout and the buffer sizes, then applies it. Returns 1 if
 * the word changed, 0 if not (stuck at its own value), AU_RANGE / AU_INVALID naming
 * the index or bit otherwise. */
int au_numsys_fault_apply(const struct au_numsys_layout *l, uint64_t *codes, size_t n_codes,
                          uint64_t *meta, size_t n_meta, const struct au_numsys_fault *f,
                          struct au_diag *d);

/* The field called name ("exponent", "shared_exponent", ...) of the element
 * (target AU_FAULT_ELEM) or metadata word; NULL if the layout has none. */
const struct au_bitfield *au_numsys_field_find(const struct au_numsys_layout *l, uint32_t target,
                                               const char *name);

#endif

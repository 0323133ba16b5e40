/* The number-format host API in one include: plugin registry (registry.h), format
 * strings and instances (fmtstr.h), whole-tensor encode/decode/quantize with the block
 * rule (apply.h) and bit faults (flip.h). All names are au_numsys_*; the plugin ABI
 * itself is aurum/numsys.h.
 *
 *   au_numsys_registry *reg;  au_numsys_fmt *f;  struct au_diag d;
 *   au_numsys_registry_new(&reg, &d);
 *   au_numsys_fmt_new(reg, "bfp{mantissa:7,exponent:8,block:16}", &f, &d);
 *   struct au_numsys_blocks b;
 *   au_numsys_blocks_init(&b, au_numsys_fmt_layout(f), n_dims, ne, AU_NUMSYS_ROLE_ACT, &d);
 *   au_numsys_encode_tensor(f, &b, x, codes, meta, &rng, &d);
 *   au_numsys_flip_meta(meta, au_numsys_block_of(&b, i), 3);
 *   au_numsys_decode_tensor(f, &b, codes, meta, y, &d);
 *   au_numsys_fmt_free(f);  au_numsys_registry_free(reg);
 */
#ifndef AU_NUMSYS_HOST_H
#define AU_NUMSYS_HOST_H

#include "numsys/apply.h"
#include "numsys/flip.h"
#include "numsys/fmtstr.h"
#include "numsys/registry.h"

#endif

/* Fault injection into a graph with formats attached (au_emul): one call runs a batch in
 * which every sample slot may carry its own activation faults, plus weight faults shared
 * by the whole batch (weights are shared by the samples of a batch, so a campaign gives a
 * weight trial a batch of its own). Faults act on the stored *codes*: the block holding
 * the site is encoded in the layer's format (fp32 when the layer has none), the bit is
 * flipped or forced, and the block is decoded back, so a metadata fault rescales every
 * element of its block. The run resumes from the first faulty node on the golden cache
 * and stops propagating where the fault is masked.
 *
 *   au_inject_new(g, emul, reg, &inj, &d);
 *   au_inject_run(inj, slots, n_slots, weight_sites, n_w, records, &d);
 *   ... compare au_graph_output(g, 0) rows with the golden ones ...
 */
#ifndef AU_INJECT_H
#define AU_INJECT_H

#include "emulate.h"
#include "numsys/flip.h"

#define AU_TENSOR_ACT    0u
#define AU_TENSOR_WEIGHT 1u
#define AU_FAULT_RANDOM  3u /* kind: the element code (or metadata word) gets a random value */

/* One fault. For activations, index counts within one sample's part of the output
 * (element index, or block index for metadata); for weights, within the weight tensor. */
struct au_inject_site {
    int32_t layer;   /* emulation layer index (au_emul_layer) */
    uint32_t tensor; /* AU_TENSOR_ACT / AU_TENSOR_WEIGHT */
    uint32_t target; /* AU_FAULT_ELEM / AU_FAULT_META */
    uint32_t kind;   /* AU_FAULT_FLIP / STUCK0 / STUCK1 / RANDOM */
    uint64_t index;
    uint32_t bit;
};

/* What a fault did: element value (decoded float) or metadata word, before and after. */
struct au_flip_record {
    double before, after;
    uint64_t elem_or_block; /* as in the site */
    int32_t slot;           /* sample slot, -1 for weights */
};

struct au_slot_faults {
    const struct au_inject_site *sites;
    int n;
    uint64_t rng_seq; /* stream for random values / stochastic rounding of this trial */
};

struct au_inject;

/* g prepared with AU_PREPARE_KEEP and e applied; reg provides fp32 for layers without
 * a format. Adds a post-hook (after the emulation's). */
int au_inject_new(struct au_graph *g, struct au_emul *e, const au_numsys_registry *reg,
                  uint64_t seed, struct au_inject **out, struct au_diag *d);
void au_inject_free(struct au_inject *inj);
/* Range detector: values that are NaN/inf or exceed absmax[node] are replaced by
 * sign(x)*absmax on every layer output, golden runs included. NULL disables. */
int au_inject_set_range_detector(struct au_inject *inj, const struct au_range *per_node,
                                 struct au_diag *d);
/* Times the detector fired for slot b in the last run (or full run). */
int64_t au_inject_detected(const struct au_inject *inj, int slot);
/* Golden run of the current inputs (full run, detector counts reset). */
int au_inject_golden(struct au_inject *inj, struct au_diag *d);
/* Runs slots[0..n_slots) (n_slots <= batch) and weight faults; records[] receives one
 * entry per site in order: slot 0's sites, slot 1's, ..., then the weight sites. */
int au_inject_run(struct au_inject *inj, const struct au_slot_faults *slots, int n_slots,
                  const struct au_inject_site *wsites, int n_w, struct au_flip_record *records,
                  struct au_diag *d);
/* Naive mode (benchmarks, cross-checks): every run is a full forward pass that
 * overwrites the golden cache, as a tool without resume would do. */
void au_inject_set_naive(struct au_inject *inj, bool naive);
/* Row compaction (AU_RUN_COMPACT): downstream of the fault only the samples that still
 * differ from golden are recomputed. Much faster; the recomputed rows may then differ
 * from a full-batch recomputation in the last bit (BLAS sums in another order for another
 * batch size). Off by default. */
void au_inject_set_compact(struct au_inject *inj, bool compact);
/* Metadata faults re-quantize the block's values with the corrupted metadata (GoldenEye's
 * convention, injectors/requant.h) instead of re-reading its codes. Off by default. */
int au_inject_set_requantize(struct au_inject *inj, bool on, struct au_diag *d);
/* Site counts of a layer for one sample (activations) or the weight tensor. */
uint64_t au_inject_n_elems(const struct au_inject *inj, int layer, uint32_t tensor);
uint64_t au_inject_n_blocks(const struct au_inject *inj, int layer, uint32_t tensor);
const struct au_numsys_layout *au_inject_layout(const struct au_inject *inj, int layer,
                                                uint32_t tensor);

#endif

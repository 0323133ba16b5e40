/* Fault sites of a campaign and their sampling (docs: shared/specs/fault-model.md).
 * A site space lists the targeted tensors (a layer's activations or weights), each with
 * n_elem codes of elem_bits and n_blocks metadata words of meta_bits, the targeted bit
 * positions of each, a rate lambda per position and a live time T. Built once; the
 * samplers take it const (share it across threads), draw only from the trial's stream
 * and write into caller arrays: no allocation per trial. Each site is an au_numsys_fault
 * (kind AU_FAULT_FLIP) ready for au_numsys_fault_apply; a site drawn twice is listed twice.
 *
 *   au_site_space *s; uint32_t conv1;
 *   au_site_space_new(&s, &d);
 *   struct au_site_tensor t = {"conv1", n, n_blk, 8, 8, 0xff, 0xff, 1e-9, 1.0};
 *   au_site_space_add(s, &t, &conv1, &d);
 *   au_site_space_set_rate(s, conv1, AU_FAULT_META, 0xff, 1e-11, &d);  // safer storage
 *   struct au_sites_process p = {AU_SITES_MODEL_WIDE, 3600.0, NULL, 0};
 *   au_sites_poisson(s, &p, &rng, sites, max, &n, &d);  // n may be 0
 *   au_site_space_free(s);
 */
#ifndef AU_INJECTORS_SITES_H
#define AU_INJECTORS_SITES_H

#include "aurum/numsys.h"
#include "core/status.h"
#include "numsys/flip.h"

#include <stddef.h>
#include <stdint.h>

typedef struct au_site_space au_site_space;

/* One targeted tensor, as given to au_site_space_add (copied; name too). */
struct au_site_tensor {
    const char *name;              /* for messages ("conv1.out"); may be NULL */
    size_t n_elem, n_blocks;       /* element codes and metadata words */
    uint32_t elem_bits, meta_bits; /* 1..64 and 0..64 */
    uint64_t elem_mask, meta_mask; /* targeted positions (bit 0 = LSB); may be 0 */
    double rate;                   /* lambda per targeted bit, every position, >= 0 */
    double live_time;              /* T for layer-wise timing (given or t_mac x MACs) */
};

/* One drawn site: which tensor, and the fault to apply to its codes or metadata. */
struct au_site {
    uint32_t tensor;              /* index returned by au_site_space_add */
    struct au_numsys_fault fault; /* target ELEM/META, kind FLIP, element/block, bit */
};

#define AU_SITES_MODEL_WIDE 0u /* every tensor live for the same time t */
#define AU_SITES_LAYER_WISE 1u /* tensor l live for its own live_time */

/* Which tensors a Poisson trial covers and how long they are live. */
struct au_sites_process {
    uint32_t timing;         /* AU_SITES_MODEL_WIDE / AU_SITES_LAYER_WISE */
    double t;                /* model-wide time; ignored layer-wise */
    const uint32_t *tensors; /* ascending subset, borrowed; NULL = every tensor */
    size_t n_tensors;
};

/* ---- building (not thread-safe) ---- */
/* An empty space, freed with au_site_space_free (NULL is a no-op). AU_NOMEM. */
int au_site_space_new(au_site_space **out, struct au_diag *d);
void au_site_space_free(au_site_space *s);
/* Adds a tensor; *index (may be NULL) gets its index, from 0 in order of addition.
 * AU_INVALID / AU_RANGE naming the tensor and field for a bad count, width, mask, rate
 * or time; AU_OVERFLOW if its sites cannot be counted in 64 bits; AU_NOMEM. */
int au_site_space_add(au_site_space *s, const struct au_site_tensor *t, uint32_t *index,
                      struct au_diag *d);
/* Sets lambda of the positions in bits of the codes (AU_FAULT_ELEM) or metadata
 * (AU_FAULT_META) of one tensor: per-field overrides. Untargeted positions keep the
 * rate but draw no flips. AU_RANGE for a bad tensor, position or rate. */
int au_site_space_set_rate(au_site_space *s, uint32_t tensor, uint32_t target, uint64_t bits,
                           double rate, struct au_diag *d);

/* ---- queries ---- */
uint32_t au_site_space_count(const au_site_space *s);
/* Targeted sites of a tensor (elements x targeted bits + blocks x targeted bits). */
uint64_t au_site_space_n_sites(const au_site_space *s, uint32_t tensor);
/* Lambda_l: the sum of lambda over the tensor's targeted sites. */
double au_site_space_rate(const au_site_space *s, uint32_t tensor);
/* Mean number of flips of a trial: t x sum Lambda_l, or sum Lambda_l T_l layer-wise.
 * Negative status on a bad process (see au_sites_poisson). */
int au_sites_mu(const au_site_space *s, const struct au_sites_process *p, double *mu,
                struct au_diag *d);

/* ---- sampling (thread-safe on a const space; draws only from r) ---- */
/* k sites of one tensor, uniform over its targeted sites: the element (block) uniform,
 * then the bit uniform among the targeted ones, codes versus metadata chosen in
 * proportion to their numbers of targeted sites (GoldenEye's per-layer campaign).
 * out holds k. AU_RANGE for a bad tensor, AU_INVALID if it has no targeted site. */
int au_sites_uniform(const au_site_space *s, uint32_t tensor, size_t k, struct au_pcg32 *r,
                     struct au_site *out, struct au_diag *d);
/* One Poisson trial. Model-wide: N ~ Poisson(t Lambda), Lambda over p's tensors, each
 * flip at a site with probability lambda_site / Lambda. Layer-wise: for each tensor in
 * order, N_l ~ Poisson(Lambda_l T_l) sites of that tensor by lambda (output grouped by
 * tensor). *n = N and out[0..N) gets the sites. If N > max: AU_RANGE, *n = N, out
 * unspecified (re-seed the trial's stream and retry with max >= *n). AU_RANGE also for
 * a bad tensor index or timing or a negative or non-finite t; AU_INVALID for a subset
 * not strictly ascending. */
int au_sites_poisson(const au_site_space *s, const struct au_sites_process *p, struct au_pcg32 *r,
                     struct au_site *out, size_t max, size_t *n, struct au_diag *d);
/* Same trial conditioned on N >= 1: N from the zero-truncated law of mean mu (see
 * au_sites_mu), each flip in tensor l with probability w_l / mu (w_l = t Lambda_l, or
 * Lambda_l T_l layer-wise: the splitting property), then a site by lambda. *p1 gets
 * P(N >= 1) = 1 - e^-mu, the factor that turns conditional means into unconditional
 * ones. As au_sites_poisson, plus AU_INVALID (and *p1 = 0) when mu = 0. */
int au_sites_poisson_given_one(const au_site_space *s, const struct au_sites_process *p,
                               struct au_pcg32 *r, struct au_site *out, size_t max, size_t *n,
                               double *p1, struct au_diag *d);
/* Stable sort by tensor index (draw order kept within a tensor), in place. */
void au_sites_sort(struct au_site *sites, size_t n);

/* ---- masks from a format's layout ---- */
/* OR of the named fields of the element (AU_FAULT_ELEM) or metadata layout.
 * AU_NOTFOUND naming the field and listing the layout's fields. */
int au_sites_field_mask(const struct au_numsys_layout *l, uint32_t target, const char *const *names,
                        size_t n_names, uint64_t *mask, struct au_diag *d);
/* Mask of explicit positions; AU_RANGE naming a position >= width. */
int au_sites_bit_mask(const uint32_t *bits, size_t n_bits, uint32_t width, uint64_t *mask,
                      struct au_diag *d);

#endif

/* Number formats attached to a prepared graph (GoldenEye's "number format analysis").
 * Each layer (node with weights) may have a weight format and an activation format:
 * its weight tensor is replaced by decode(encode(w)) (the float originals are kept and
 * put back by au_emul_free), and a post-hook passes its output through the activation
 * format on every run. Campaigns use the per-layer formats and block structures here to
 * encode the tensors they corrupt.
 *
 *   struct au_emul_spec s = {.weights = "fp16", .activations = "fp16"};
 *   au_emul_new(g, reg, &s, &e, &d);           // formats resolved, nothing applied yet
 *   if (au_emul_needs_absmax(e)) au_emul_set_absmax(e, ranges.r, &d);
 *   au_emul_apply(e, &d);                      // weights quantized, hooks attached
 *   au_graph_run(g, &d); ...
 *   au_emul_free(e);                           // hooks removed, weights restored
 */
#ifndef AU_EMULATE_H
#define AU_EMULATE_H

#include "core/exec.h"
#include "core/ranges.h"
#include "numsys/apply.h"
#include "numsys/fmtstr.h"

/* A rule: layers matching select (see au_node_matches) get these formats; NULL keeps
 * what earlier rules or the defaults gave; "fp32" or "none" means no emulation. */
struct au_emul_rule {
    const char *select;
    const char *weights, *activations;
};

struct au_emul_spec {
    const char *weights, *activations; /* defaults for every layer; NULL = float32 */
    const struct au_emul_rule *rules;
    int n_rules;
    uint64_t seed; /* stochastic rounding streams */
};

/* One layer's formats and block structures (borrowed from the emulation). */
struct au_emul_layer {
    int node;                   /* graph node index */
    int weight_value;           /* value id of the weight tensor, -1 if none */
    au_numsys_fmt *wfmt, *afmt; /* NULL = float32 */
    bool widentity, aidentity;  /* the format maps every float32 to itself (fp32): skip work */
    struct au_numsys_blocks wblk, ablk;
    int64_t n_weights, n_act; /* elements of the weight tensor and of the output */
};

struct au_emul;

int au_emul_new(struct au_graph *g, const au_numsys_registry *reg, const struct au_emul_spec *s,
                struct au_emul **out, struct au_diag *d);
/* True if some format takes a static scale (the layer's profiled absmax). */
bool au_emul_needs_absmax(const struct au_emul *e);
/* Per node index, as filled by au_ranges over a float32 run. */
int au_emul_set_absmax(struct au_emul *e, const struct au_range *per_node, struct au_diag *d);
/* Quantizes weights and attaches the activation hooks (registered now, so they run
 * before hooks added later, e.g. fault injectors). */
int au_emul_apply(struct au_emul *e, struct au_diag *d);
/* Restores weights, removes hooks, frees formats. NULL is a no-op. */
void au_emul_free(struct au_emul *e);

int au_emul_n_layers(const struct au_emul *e);
const struct au_emul_layer *au_emul_layer(const struct au_emul *e, int i);
/* Index into the layer list of a node, or -1. */
int au_emul_layer_of_node(const struct au_emul *e, int node);

#endif

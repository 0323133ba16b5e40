/* Number-format studies (docs/studies.md): accuracy and loss of a model under number formats
 * without faults, measured against its float32 run on the same data. A study holds the float32
 * baseline (top-1 per sample, per-layer absmax for static-scale formats); on top of it: a sweep
 * over formats and a binary search over the bit width of a format family (best split per
 * width). Reliability-aware mixed precision builds on it: studies_mixed.h.
 *
 *   struct au_study *s;
 *   if (au_study_new(g, &ds, &targets, reg, &s, &d) < 0) return fail(d.msg);  // float32 pass
 *   struct au_emul_spec e = {.weights = "fp16", .activations = "fp16"};
 *   struct au_study_metrics m;
 *   au_study_evaluate(s, &e, &m, &d);       // m.accuracy, au_study_drop(s, &m) in points
 *   struct au_study_bitwidth_opts o = {AU_STUDY_FXP, AU_STUDY_BOTH, 1.0, 2, 16};
 *   struct au_study_bitwidth_result r;
 *   au_study_bitwidth(s, &o, &r, &d);       // r.width, r.trace; au_study_trace_fini(&r.trace)
 *   au_study_free(s);
 */
#ifndef AU_STUDIES_H
#define AU_STUDIES_H

#include "core/dataset.h"
#include "injectors/emulate.h"

#include <stdbool.h>
#include <stdint.h>

#define AU_STUDY_WEIGHTS 1u /* roles: which tensors take the format */
#define AU_STUDY_ACTS    2u
#define AU_STUDY_BOTH    3u

enum au_study_family { AU_STUDY_FXP, AU_STUDY_FP, AU_STUDY_BFP, AU_STUDY_AFP, AU_STUDY_INT };

/* One run over the data. A sample whose logits are not all finite counts as wrong in
 * accuracy and is left out of loss. */
struct au_study_metrics {
    double accuracy;   /* correct / n_samples */
    double acc_finite; /* correct / n_finite (what `aurum emulate` prints); 0 if none */
    double loss;       /* mean loss over finite samples; NaN if none */
    double correct;    /* summed per-sample accuracy of the finite samples */
    int64_t n_samples, n_finite;
    int64_t n_agree; /* top-1 equal to the float32 run's (baseline: n_samples) */
};

/* One layer (node with weights), in graph order: the layer index of campaigns. */
struct au_study_layer {
    int node;
    const char *name;         /* borrowed from the graph */
    int64_t n_weights, n_act; /* weight elements; output elements of one sample */
};

struct au_study;

/* Runs the float32 pass over ds (targets: int64, n x positions). g is prepared, borrowed and
 * must outlive the study, like ds, targets and reg. AU_SHAPE/AU_DTYPE for targets that do not
 * fit, AU_RANGE for a label outside the classes, run errors. *out: au_study_free. */
int au_study_new(struct au_graph *g, const struct au_dataset *ds, const struct au_array *targets,
                 const au_numsys_registry *reg, struct au_study **out, struct au_diag *d);
void au_study_free(struct au_study *s); /* NULL is a no-op */
const struct au_study_metrics *au_study_baseline(const struct au_study *s);
int au_study_n_layers(const struct au_study *s);
const struct au_study_layer *au_study_layer(const struct au_study *s, int i);
const struct au_graph *au_study_graph(const struct au_study *s); /* borrowed */
/* Runs the data with spec's formats (static scales from the float32 run), then removes them.
 * Format errors name the layer ("conv1: fp: parameter ..."). */
int au_study_evaluate(struct au_study *s, const struct au_emul_spec *spec,
                      struct au_study_metrics *out, struct au_diag *d);
/* Accuracy drop below float32, in percentage points (negative if better). */
double au_study_drop(const struct au_study *s, const struct au_study_metrics *m);

/* ---- format families: width = bits per element code; split = the free parameter ---- */
/* "fxp", "fp", "bfp", "afp", "int" -> enum; AU_INVALID naming the choices. */
int au_study_family_parse(const char *name, int *family, struct au_diag *d);
const char *au_study_family_name(int family);
/* Widths the family can express, [*lo, *hi]. */
void au_study_family_widths(int family, int *lo, int *hi);
/* Splits at width (fxp: integer bits; fp, afp: exponent bits; bfp: shared exponent bits;
 * int: 0 only), [*lo, *hi]; *lo > *hi if the width is out of range. */
void au_study_family_splits(int family, int width, int *lo, int *hi);
/* AU_INVALID/AU_RANGE naming the argument unless family, roles (AU_STUDY_*) and threshold
 * (finite points) are usable by the searches. */
int au_study_check(int family, unsigned roles, double threshold, struct au_diag *d);
/* The format string of (width, split). AU_RANGE if not a valid pair. */
int au_study_family_format(int family, int width, int split, char *buf, size_t len,
                           struct au_diag *d);

struct au_study_point {
    int width, split;
    char format[64];
    struct au_study_metrics m;
    double drop;  /* percentage points */
    bool ok;      /* drop <= threshold */
    bool best;    /* the split chosen at its width */
    bool refused; /* the plugin refuses this pair (not measured; m is zero) */
};
struct au_study_trace {
    struct au_study_point *p; /* every evaluated point, in order; au_study_trace_fini */
    int n, cap;
};
void au_study_trace_fini(struct au_study_trace *t);

/* Evaluates every split of width (roles as AU_STUDY_*) and picks the best: highest accuracy,
 * then lowest loss, then the first. Points are appended to t (may be NULL). */
int au_study_best_split(struct au_study *s, int family, int width, unsigned roles, double threshold,
                        struct au_study_trace *t, struct au_study_point *best, struct au_diag *d);

struct au_study_bitwidth_opts {
    int family;
    unsigned roles;
    double threshold; /* percentage points of accuracy below float32 */
    int min_bits, max_bits;
};
struct au_study_bitwidth_result {
    int width;                  /* narrowest width within threshold; -1 if max_bits is not */
    struct au_study_point best; /* its best split (when width >= 0) */
    struct au_study_trace trace;
};
/* Binary search over [min_bits, max_bits] assuming the best split's accuracy does not
 * decrease with width; r->trace is filled even on failure (fini it). */
int au_study_bitwidth(struct au_study *s, const struct au_study_bitwidth_opts *o,
                      struct au_study_bitwidth_result *r, struct au_diag *d);

#endif

/* A campaign's plan: the targeted tensors as a site space, and which trial ids exist and
 * what faults each one carries. Everything a trial draws comes from the PCG32 stream
 * (campaign seed, trial id), so a trial's faults do not depend on threads, order or
 * resumption.
 *
 * Trial ids: per-target processes (per_layer, poisson single_layer) number trials
 * target * trials_per_target + i; model-wide processes number them i. Trial i runs in
 * unit i / batch on sample position i (slot i % batch); weight trials of per_layer
 * campaigns are evaluated on the whole batch of their unit. */
#ifndef AU_CAMPAIGNS_PLAN_H
#define AU_CAMPAIGNS_PLAN_H

#include "injectors/inject.h"
#include "injectors/sites.h"
#include "spec.h"

struct au_plan_target {
    int layer;       /* emulation layer index */
    uint32_t tensor; /* AU_TENSOR_ACT / AU_TENSOR_WEIGHT */
    char name[160];  /* "conv1 (activations)" */
};

struct au_plan {
    const struct au_campaign *c;
    au_site_space *space; /* tensor i of the space is targets[i] */
    struct au_plan_target *targets;
    int n_targets;
    bool per_target; /* trial ids per target (per_layer, single_layer) */
    int64_t trials;  /* per target if per_target, else in all (the cap for CI stops) */
    int64_t batch, n_units;
    double mu, p1;    /* Poisson: mean flips of a trial, P(N >= 1) (per target: max) */
    size_t max_sites; /* sites a trial may carry */
};

/* Builds the plan from a validated campaign, the injector (layouts, counts) and the
 * graph (MACs for layer-wise timing). */
int au_plan_init(struct au_plan *p, const struct au_campaign *c, const struct au_graph *g,
                 const struct au_emul *e, const struct au_inject *inj, struct au_diag *d);
void au_plan_fini(struct au_plan *p);
/* Mean flips of a trial of target t (model-wide: t ignored). */
int au_plan_mu(const struct au_plan *p, int t, double *mu, struct au_diag *d);
/* Trial id of trial i of target t (t ignored when !per_target). */
int64_t au_plan_trial_id(const struct au_plan *p, int t, int64_t i);
/* Faults of one trial into out[max_sites] (tmp: scratch of max_sites); *n may be 0
 * (Poisson). Thread-safe: the plan is only read. */
int au_plan_faults(const struct au_plan *p, int t, int64_t trial_id, struct au_site *tmp,
                   struct au_inject_site *out, size_t *n, struct au_diag *d);
/* Name of the field holding bit of an element (or metadata) code; NULL if none. */
const char *au_plan_field(const struct au_inject *inj, int layer, uint32_t tensor, uint32_t target,
                          uint32_t bit);

#endif

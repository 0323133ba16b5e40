/* Plan construction: campaign targets -> site space. The trial loop only calls
 * au_plan_faults, which draws from the trial's own stream into caller storage. */
#include "plan.h"

#include "core/alloc.h"
#include "injectors/poisson.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static bool layer_targeted(const struct au_campaign *c, const struct au_node *n)
{
    if (c->targets.layers.n == 0)
        return true;
    for (int k = 0; k < c->targets.layers.n; k++)
        if (au_node_matches(n, c->targets.layers.v[k]))
            return true;
    return false;
}

/* Mask of the targeted positions of element codes (ELEM) or metadata (META). */
static int target_mask(const struct au_campaign *c, const struct au_numsys_layout *l,
                       uint32_t target, uint64_t *mask, struct au_diag *d)
{
    bool meta = target == AU_FAULT_META;
    uint32_t width = meta ? l->meta_bits : l->elem_bits;
    *mask = 0;
    if (!width || !(c->targets.bits & (meta ? AU_CAMPAIGN_META : AU_CAMPAIGN_DATA)))
        return AU_OK;
    const int *pos = meta ? c->targets.meta_bit_positions : c->targets.bit_positions;
    int n_pos = meta ? c->targets.n_meta_bit_positions : c->targets.n_bit_positions;
    for (int k = 0; k < c->targets.n_fields; k++) {
        const struct au_bitfield *f = au_numsys_field_find(l, target, c->targets.fields[k]);
        if (f)
            *mask |= (f->width >= 64 ? ~0ULL : ((1ULL << f->width) - 1)) << f->lsb;
    }
    for (int k = 0; k < n_pos; k++) {
        if (pos[k] < 0 || (uint32_t)pos[k] >= width)
            return au_diag_set(d, AU_RANGE, "bit position %d is outside the %u-bit %s", pos[k],
                               width, meta ? "metadata" : "element code");
        *mask |= 1ULL << pos[k];
    }
    if (!c->targets.n_fields && !n_pos)
        *mask = width >= 64 ? ~0ULL : (1ULL << width) - 1;
    return AU_OK;
}

/* Later entries of process.times override earlier ones, as format rules and rates do. */
static double live_time(const struct au_campaign *c, const struct au_node *n, int64_t batch)
{
    for (int k = c->process.n_times - 1; k >= 0; k--)
        for (int s = 0; s < c->process.times[k].select.n; s++)
            if (au_node_matches(n, c->process.times[k].select.v[s]))
                return c->process.times[k].time;
    if (c->process.timing == AU_CAMPAIGN_LAYER_WISE)
        return c->process.time_per_mac * (double)n->macs / (double)batch;
    return c->process.time;
}

static bool rate_rule_applies(const struct au_campaign_rate *r, const struct au_node *n,
                              uint32_t tensor)
{
    uint32_t want = tensor == AU_TENSOR_ACT ? AU_CAMPAIGN_ACT : AU_CAMPAIGN_WEIGHTS;
    if (r->tensors && !(r->tensors & want))
        return false;
    if (r->layers.n == 0)
        return true;
    for (int s = 0; s < r->layers.n; s++)
        if (au_node_matches(n, r->layers.v[s]))
            return true;
    return false;
}

/* Per-field (or data / metadata) rate overrides, in file order: later rules win. */
static int apply_rates(struct au_plan *p, uint32_t idx, const struct au_node *n,
                       const struct au_numsys_layout *l, uint32_t tensor, struct au_diag *d)
{
    const struct au_campaign *c = p->c;
    for (int k = 0; k < c->process.n_rates; k++) {
        const struct au_campaign_rate *r = &c->process.rates[k];
        if (!rate_rule_applies(r, n, tensor))
            continue;
        for (uint32_t target = AU_FAULT_ELEM; target <= AU_FAULT_META; target++) {
            uint32_t kind = target == AU_FAULT_META ? AU_CAMPAIGN_META : AU_CAMPAIGN_DATA;
            uint32_t width = target == AU_FAULT_META ? l->meta_bits : l->elem_bits;
            uint64_t mask = width >= 64 ? ~0ULL : (1ULL << width) - 1;
            if (!width || (r->bits && !(r->bits & kind)))
                continue;
            if (r->field) {
                const struct au_bitfield *f = au_numsys_field_find(l, target, r->field);
                if (!f)
                    continue;
                mask = (f->width >= 64 ? ~0ULL : ((1ULL << f->width) - 1)) << f->lsb;
            }
            int rc = au_site_space_set_rate(p->space, idx, target, mask, r->rate, d);
            if (rc)
                return rc;
        }
    }
    return AU_OK;
}

static int add_target(struct au_plan *p, const struct au_graph *g, const struct au_inject *inj,
                      int layer, uint32_t tensor, int node, struct au_diag *d)
{
    const struct au_campaign *c = p->c;
    const struct au_node *n = au_graph_node(g, node);
    const struct au_numsys_layout *l = au_inject_layout(inj, layer, tensor);
    struct au_site_tensor t = {0};
    struct au_plan_target *T = &p->targets[p->n_targets];
    snprintf(T->name, sizeof(T->name), "%s (%s)", au_node_label(n),
             tensor == AU_TENSOR_ACT ? "activations" : "weights");
    int rc = target_mask(c, l, AU_FAULT_ELEM, &t.elem_mask, d);
    if (!rc)
        rc = target_mask(c, l, AU_FAULT_META, &t.meta_mask, d);
    if (rc) {
        au_diag_prefix(d, T->name);
        return rc;
    }
    t.name = T->name;
    t.n_elem = au_inject_n_elems(inj, layer, tensor);
    t.n_blocks = au_inject_n_blocks(inj, layer, tensor);
    t.elem_bits = l->elem_bits;
    t.meta_bits = l->meta_bits;
    t.rate = c->process.type == AU_CAMPAIGN_POISSON ? c->process.rate : 1.0;
    t.live_time = live_time(c, n, p->batch);
    if ((!t.elem_mask || !t.n_elem) && (!t.meta_mask || !t.n_blocks))
        return AU_OK; /* nothing to hit here (e.g. metadata of a format without any) */
    uint32_t idx;
    rc = au_site_space_add(p->space, &t, &idx, d);
    if (!rc && c->process.type == AU_CAMPAIGN_POISSON)
        rc = apply_rates(p, idx, n, l, tensor, d);
    if (rc)
        return rc;
    T->layer = layer;
    T->tensor = tensor;
    p->n_targets++;
    return AU_OK;
}

static struct au_sites_process sites_process(const struct au_plan *p, const uint32_t *one)
{
    const struct au_campaign *c = p->c;
    struct au_sites_process sp = {AU_SITES_MODEL_WIDE, c->process.time, NULL, 0};
    if (c->process.timing == AU_CAMPAIGN_LAYER_WISE)
        sp.timing = AU_SITES_LAYER_WISE;
    if (one) {
        sp.tensors = one;
        sp.n_tensors = 1;
    }
    return sp;
}

int au_plan_mu(const struct au_plan *p, int t, double *mu, struct au_diag *d)
{
    uint32_t one = (uint32_t)t;
    struct au_sites_process sp = sites_process(p, p->per_target ? &one : NULL);
    return au_sites_mu(p->space, &sp, mu, d);
}

static int poisson_means(struct au_plan *p, struct au_diag *d)
{
    double mu = 0;
    for (int t = 0; t < (p->per_target ? p->n_targets : 1); t++) {
        double m;
        int rc = au_plan_mu(p, t, &m, d);
        if (rc)
            return rc;
        mu = m > mu ? m : mu;
    }
    p->mu = mu;
    p->p1 = au_poisson_p_at_least_one(mu);
    /* room for N far into the tail: P(N > mu + 12 sqrt(mu) + 40) is negligible */
    double cap = mu + 12.0 * sqrt(mu) + 40.0;
    if (cap > 1e6)
        return au_diag_set(d, AU_RANGE,
                           "a trial would carry %.3g flips on average; lower the "
                           "rate or the time",
                           mu);
    p->max_sites = (size_t)cap;
    return AU_OK;
}

int au_plan_init(struct au_plan *p, const struct au_campaign *c, const struct au_graph *g,
                 const struct au_emul *e, const struct au_inject *inj, struct au_diag *d)
{
    memset(p, 0, sizeof(*p));
    p->c = c;
    p->batch = au_graph_batch(g);
    p->per_target =
        c->process.type == AU_CAMPAIGN_PER_LAYER || c->process.timing == AU_CAMPAIGN_SINGLE_LAYER;
    int n_layers = au_emul_n_layers(e);
    p->targets = au_calloc(2 * (size_t)n_layers + 1, sizeof(*p->targets));
    int rc = p->targets ? au_site_space_new(&p->space, d) : AU_NOMEM;
    for (int li = 0; !rc && li < n_layers; li++) {
        const struct au_emul_layer *L = au_emul_layer(e, li);
        if (!layer_targeted(c, au_graph_node(g, L->node)))
            continue;
        if (c->targets.tensors & AU_CAMPAIGN_ACT)
            rc = add_target(p, g, inj, li, AU_TENSOR_ACT, L->node, d);
        if (!rc && (c->targets.tensors & AU_CAMPAIGN_WEIGHTS) && L->weight_value >= 0)
            rc = add_target(p, g, inj, li, AU_TENSOR_WEIGHT, L->node, d);
    }
    if (!rc && p->n_targets == 0)
        rc = au_diag_set(d, AU_INVALID,
                         "the targets select no fault site (check targets.layers, "
                         "tensors, bits and fields)");
    p->trials = c->stop.type == AU_CAMPAIGN_STOP_CI ? c->stop.max_trials : c->process.trials;
    p->n_units = (p->trials + p->batch - 1) / p->batch;
    p->max_sites = c->process.flips > 0 ? (size_t)c->process.flips : 1;
    if (!rc && c->process.type == AU_CAMPAIGN_POISSON)
        rc = poisson_means(p, d);
    if (rc == AU_NOMEM)
        au_diag_set(d, rc, "out of memory");
    if (rc)
        au_plan_fini(p);
    return rc;
}

void au_plan_fini(struct au_plan *p)
{
    au_site_space_free(p->space);
    au_free(p->targets);
    p->space = NULL;
    p->targets = NULL;
}

int64_t au_plan_trial_id(const struct au_plan *p, int t, int64_t i)
{
    return p->per_target ? (int64_t)t * p->trials + i : i;
}

static uint32_t fault_kind(enum au_campaign_fault f)
{
    switch (f) {
    case AU_CAMPAIGN_STUCK_AT_0:
        return AU_FAULT_STUCK0;
    case AU_CAMPAIGN_STUCK_AT_1:
        return AU_FAULT_STUCK1;
    case AU_CAMPAIGN_RANDOM_VALUE:
        return AU_FAULT_RANDOM;
    default:
        return AU_FAULT_FLIP;
    }
}

int au_plan_faults(const struct au_plan *p, int t, int64_t trial_id, struct au_site *tmp,
                   struct au_inject_site *out, size_t *n, struct au_diag *d)
{
    const struct au_campaign *c = p->c;
    struct au_pcg32 r;
    int rc;
    au_pcg32_seed(&r, c->seed, (uint64_t)trial_id);
    *n = 0;
    if (c->process.type == AU_CAMPAIGN_PER_LAYER) {
        rc = au_sites_uniform(p->space, (uint32_t)t, (size_t)c->process.flips, &r, tmp, d);
        *n = (size_t)c->process.flips;
    } else {
        uint32_t one = (uint32_t)t;
        struct au_sites_process sp = sites_process(p, p->per_target ? &one : NULL);
        double p1;
        if (c->process.condition_on_fault)
            rc = au_sites_poisson_given_one(p->space, &sp, &r, tmp, p->max_sites, n, &p1, d);
        else
            rc = au_sites_poisson(p->space, &sp, &r, tmp, p->max_sites, n, d);
    }
    if (rc)
        return rc;
    au_sites_sort(tmp, *n);
    for (size_t k = 0; k < *n; k++) {
        const struct au_plan_target *T = &p->targets[tmp[k].tensor];
        out[k] = (struct au_inject_site){
            T->layer,           T->tensor,       tmp[k].fault.target, fault_kind(c->fault),
            tmp[k].fault.index, tmp[k].fault.bit};
    }
    return AU_OK;
}

const char *au_plan_field(const struct au_inject *inj, int layer, uint32_t tensor, uint32_t target,
                          uint32_t bit)
{
    const struct au_numsys_layout *l = au_inject_layout(inj, layer, tensor);
    uint32_t n = target == AU_FAULT_META ? l->n_meta_fields : l->n_elem_fields;
    const struct au_bitfield *f = target == AU_FAULT_META ? l->meta_fields : l->elem_fields;
    for (uint32_t k = 0; k < n; k++)
        if (bit >= f[k].lsb && bit < (uint32_t)f[k].lsb + f[k].width)
            return f[k].name;
    return NULL;
}

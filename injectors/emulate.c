/* Format emulation on a graph. Formats are resolved per layer at creation; weights are
 * quantized once (originals kept for restore); activations are quantized by one post-hook
 * with per-layer scratch allocated up front, so runs never allocate. Stochastic rounding
 * reseeds per (seed, node) on every call: golden and faulty runs draw the same numbers. */
#include "emulate.h"

#include "core/alloc.h"

#include <string.h>

struct au_emul {
    struct au_graph *g;
    char *identity; /* canonical string of fp32, the format that changes nothing */
    const au_numsys_registry *reg;
    struct au_emul_layer *layers;
    int n_layers;
    int *layer_of_node; /* node index -> layer index or -1 */
    float **w_orig;     /* per layer: original weights while applied */
    uint64_t **codes_tmp, **meta_tmp;
    uint64_t seed;
    int hook_id;
    bool applied;
};

static bool is_none(const char *spec)
{
    return !spec || !strcmp(spec, "none") || !strcmp(spec, "float32");
}

static int weight_value_of(const struct au_graph *g, const struct au_node *n)
{
    for (int k = (strcmp(n->op_type, "MatMul") == 0 ? 0 : 1); k < n->n_in && k < 2; k++) {
        int v = n->in[k];
        if (v >= 0 && (au_graph_value(g, v)->flags & AU_VALUE_INITIALIZER) &&
            au_graph_value(g, v)->t.dtype == AU_DTYPE_F32)
            return v;
    }
    return -1;
}

static int make_fmt(const struct au_emul *e, const char *spec, const struct au_node *n,
                    au_numsys_fmt **out, struct au_diag *d)
{
    *out = NULL;
    if (is_none(spec))
        return AU_OK;
    int rc = au_numsys_fmt_new(e->reg, spec, out, d);
    if (rc < 0)
        au_diag_prefix(d, au_node_label(n));
    return rc < 0 ? rc : AU_OK;
}

static int setup_layer(struct au_emul *e, const struct au_emul_spec *s, int node,
                       struct au_emul_layer *L, struct au_diag *d)
{
    const struct au_node *n = au_graph_node(e->g, node);
    const char *ws = s->weights, *as = s->activations;
    for (int r = 0; r < s->n_rules; r++) {
        if (!au_node_matches(n, s->rules[r].select))
            continue;
        ws = s->rules[r].weights ? s->rules[r].weights : ws;
        as = s->rules[r].activations ? s->rules[r].activations : as;
    }
    L->node = node;
    L->weight_value = weight_value_of(e->g, n);
    const struct au_tensor *out = au_graph_tensor(e->g, n->out[0]);
    L->n_act = au_tensor_numel(out);
    int rc = make_fmt(e, as, n, &L->afmt, d);
    L->aidentity = L->afmt && e->identity && !strcmp(au_numsys_fmt_str(L->afmt), e->identity);
    if (!rc && L->afmt)
        rc = au_numsys_blocks_init(&L->ablk, au_numsys_fmt_layout(L->afmt), out->n_dims, out->ne,
                                   AU_NUMSYS_ROLE_ACT, d);
    if (rc || L->weight_value < 0)
        return rc;
    const struct au_tensor *w = au_graph_tensor(e->g, L->weight_value);
    L->n_weights = au_tensor_numel(w);
    rc = make_fmt(e, ws, n, &L->wfmt, d);
    L->widentity = L->wfmt && e->identity && !strcmp(au_numsys_fmt_str(L->wfmt), e->identity);
    if (!rc && L->wfmt)
        rc = au_numsys_blocks_init(&L->wblk, au_numsys_fmt_layout(L->wfmt), w->n_dims, w->ne,
                                   AU_NUMSYS_ROLE_WEIGHT, d);
    return rc;
}

int au_emul_new(struct au_graph *g, const au_numsys_registry *reg, const struct au_emul_spec *s,
                struct au_emul **out, struct au_diag *d)
{
    int n_nodes = au_graph_n_nodes(g), rc = AU_OK;
    struct au_emul *e = au_calloc(1, sizeof(*e));
    if (!e)
        return au_diag_set(d, AU_NOMEM, "out of memory");
    e->g = g;
    e->reg = reg;
    e->seed = s->seed;
    e->hook_id = -1;
    e->layer_of_node = au_calloc((size_t)n_nodes + 1, sizeof(int));
    e->layers = au_calloc((size_t)n_nodes + 1, sizeof(*e->layers));
    e->w_orig = au_calloc((size_t)n_nodes + 1, sizeof(*e->w_orig));
    e->codes_tmp = au_calloc((size_t)n_nodes + 1, sizeof(*e->codes_tmp));
    e->meta_tmp = au_calloc((size_t)n_nodes + 1, sizeof(*e->meta_tmp));
    if (!e->layer_of_node || !e->layers || !e->w_orig || !e->codes_tmp || !e->meta_tmp) {
        rc = au_diag_set(d, AU_NOMEM, "out of memory");
        goto err;
    }
    au_numsys_fmt *fp32;
    if (au_numsys_fmt_new(reg, "fp32", &fp32, NULL) >= 0) { /* absent fp plugin: no shortcut */
        e->identity = au_strdup(au_numsys_fmt_str(fp32));
        au_numsys_fmt_free(fp32);
    }
    for (int i = 0; i < n_nodes; i++) {
        e->layer_of_node[i] = -1;
        if (!au_graph_node(g, i)->is_layer)
            continue;
        rc = setup_layer(e, s, i, &e->layers[e->n_layers], d);
        if (rc) {
            e->n_layers++; /* so au_emul_free releases what setup_layer created */
            goto err;
        }
        e->layer_of_node[i] = e->n_layers++;
    }
    *out = e;
    return AU_OK;
err:
    au_emul_free(e);
    return rc;
}

bool au_emul_needs_absmax(const struct au_emul *e)
{
    for (int i = 0; i < e->n_layers; i++)
        if ((e->layers[i].afmt && au_numsys_fmt_takes_absmax(e->layers[i].afmt)) ||
            (e->layers[i].wfmt && au_numsys_fmt_takes_absmax(e->layers[i].wfmt)))
            return true;
    return false;
}

/* Weights get their own absmax (they are known); activations the profiled one. */
static double weight_absmax(const struct au_graph *g, int v)
{
    const struct au_tensor *w = au_graph_tensor(g, v);
    const float *x = w->data;
    double m = 0;
    for (int64_t i = 0; i < au_tensor_numel(w); i++)
        m = x[i] > m ? x[i] : (-x[i] > m ? -x[i] : m);
    return m;
}

static int rebind(au_numsys_fmt **f, double absmax, struct au_diag *d)
{
    au_numsys_fmt *nf;
    if (!*f || !au_numsys_fmt_takes_absmax(*f))
        return AU_OK;
    int rc = au_numsys_fmt_with_absmax(*f, absmax, &nf, d);
    if (rc < 0)
        return rc;
    au_numsys_fmt_free(*f);
    *f = nf;
    return AU_OK;
}

int au_emul_set_absmax(struct au_emul *e, const struct au_range *per_node, struct au_diag *d)
{
    for (int i = 0; i < e->n_layers; i++) {
        struct au_emul_layer *L = &e->layers[i];
        int rc = rebind(&L->afmt, per_node[L->node].absmax, d);
        if (!rc && L->weight_value >= 0)
            rc = rebind(&L->wfmt, weight_absmax(e->g, L->weight_value), d);
        if (rc) {
            au_diag_prefix(d, au_node_label(au_graph_node(e->g, L->node)));
            return rc;
        }
    }
    return AU_OK;
}

static int act_hook(void *user, const struct au_hook_args *a)
{
    struct au_emul *e = user;
    int li = e->layer_of_node[a->node_index];
    /* a reused golden output is in the format already: quantizing it again would at best
     * change nothing, and a format whose rounding is not idempotent would make it differ
     * from the golden run's (and from a full rerun's) */
    if (li < 0 || !e->layers[li].afmt || e->layers[li].aidentity || a->reused)
        return AU_OK;
    const struct au_emul_layer *L = &e->layers[li];
    struct au_pcg32 rng;
    au_pcg32_seed(&rng, e->seed, (uint64_t)a->node_index);
    int rc = au_numsys_quantize_tensor(L->afmt, &L->ablk, a->out[0]->data, e->codes_tmp[li],
                                       e->meta_tmp[li], &rng, a->diag);
    return rc < 0 ? rc : AU_OK;
}

static int quantize_weights(struct au_emul *e, int li, struct au_diag *d)
{
    struct au_emul_layer *L = &e->layers[li];
    const struct au_tensor *w = au_graph_tensor(e->g, L->weight_value);
    size_t nbytes = au_tensor_nbytes(w);
    e->w_orig[li] = au_malloc(nbytes);
    if (!e->w_orig[li])
        return au_diag_set(d, AU_NOMEM, "out of memory");
    memcpy(e->w_orig[li], w->data, nbytes);
    struct au_pcg32 rng;
    au_pcg32_seed(&rng, e->seed ^ 0x5745494748545355ULL, (uint64_t)L->node);
    int rc = au_numsys_quantize_tensor(L->wfmt, &L->wblk, w->data, NULL, NULL, &rng, d);
    if (rc < 0)
        au_diag_prefix(d, au_node_label(au_graph_node(e->g, L->node)));
    return rc < 0 ? rc : AU_OK;
}

int au_emul_apply(struct au_emul *e, struct au_diag *d)
{
    bool any_act = false;
    for (int li = 0; li < e->n_layers; li++) {
        struct au_emul_layer *L = &e->layers[li];
        if (L->afmt) {
            any_act = true;
            e->codes_tmp[li] = au_malloc((L->ablk.group_len + 1) * sizeof(uint64_t));
            e->meta_tmp[li] = au_malloc((L->ablk.blocks_per_group + 1) * sizeof(uint64_t));
            if (!e->codes_tmp[li] || !e->meta_tmp[li])
                return au_diag_set(d, AU_NOMEM, "out of memory");
        }
        if (L->wfmt && !L->widentity) {
            int rc = quantize_weights(e, li, d);
            if (rc)
                return rc;
        }
    }
    e->applied = true;
    if (any_act) {
        e->hook_id = au_hook_add(e->g, AU_HOOK_SEL_LAYERS, NULL, AU_HOOK_POST, act_hook, e);
        if (e->hook_id < 0)
            return au_diag_set(d, e->hook_id, "cannot attach activation format hooks");
    }
    return AU_OK;
}

void au_emul_free(struct au_emul *e)
{
    if (!e)
        return;
    if (e->hook_id >= 0)
        au_hook_remove(e->g, e->hook_id);
    for (int li = 0; li < e->n_layers; li++) {
        struct au_emul_layer *L = &e->layers[li];
        if (e->w_orig[li]) {
            const struct au_tensor *w = au_graph_tensor(e->g, L->weight_value);
            memcpy(w->data, e->w_orig[li], au_tensor_nbytes(w));
            au_free(e->w_orig[li]);
        }
        au_free(e->codes_tmp[li]);
        au_free(e->meta_tmp[li]);
        au_numsys_fmt_free(L->afmt);
        au_numsys_fmt_free(L->wfmt);
    }
    au_free(e->layers);
    au_free(e->layer_of_node);
    au_free(e->w_orig);
    au_free(e->codes_tmp);
    au_free(e->meta_tmp);
    au_free(e->identity);
    au_free(e);
}

int au_emul_n_layers(const struct au_emul *e)
{
    return e->n_layers;
}

const struct au_emul_layer *au_emul_layer(const struct au_emul *e, int i)
{
    return (i >= 0 && i < e->n_layers) ? &e->layers[i] : NULL;
}

int au_emul_layer_of_node(const struct au_emul *e, int node)
{
    return (node >= 0 && node < au_graph_n_nodes(e->g)) ? e->layer_of_node[node] : -1;
}

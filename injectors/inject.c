/* Fault injection. The expensive parts are the resumed forward pass and, for metadata
 * faults, re-encoding one block; everything here is bounded by the block size. Scratch
 * is sized once at creation (largest block, largest weight restore list), so a run
 * never allocates. */
#include "inject.h"

#include "core/alloc.h"
#include "requant.h"

#include <math.h>
#include <string.h>

struct inj_layer {
    const au_numsys_fmt *fmt[2]; /* [AU_TENSOR_ACT], [AU_TENSOR_WEIGHT]: effective formats */
    struct au_numsys_blocks blk[2];
    uint64_t n_elems[2], n_blocks[2]; /* per sample for activations */
    int node, weight_value;
};

struct wsave {
    float *dst;
    size_t off, len; /* into inj->wbuf */
};

struct au_inject {
    struct au_graph *g;
    au_numsys_fmt *fp32;
    struct inj_layer *layers;
    int n_layers;
    const struct au_emul *e;
    uint64_t seed;
    int hook_id;
    /* current run */
    const struct au_slot_faults *slots;
    int n_slots;
    int *rec_off; /* per slot: first record index */
    struct au_flip_record *rec;
    unsigned char *pending; /* per node: AU_FORCE_HOOK (activation fault), AU_FORCE_RUN (weights) */
    int status;
    struct au_diag *diag;
    /* scratch */
    uint64_t *codes, meta[1];
    size_t max_block;
    float *wbuf;
    struct wsave *wsaves;
    int n_wsaved; /* entries of wsaves to restore */
    bool naive, compact;
    struct au_requant *rq; /* metadata faults re-quantize (GoldenEye's convention) */
    /* range detector */
    float *absmax; /* per node, NULL = off */
    int64_t *detected;
    /* Its firings in golden runs, per arena (golden caches swap arenas) x node x slot: a
     * trial that does not rerun a layer, or reuses its golden output, fires there as the
     * golden run did, and a full rerun (--naive) counts those too. */
    struct gold_fired {
        const void *arena;
        int64_t *n;
    } * gf;
    int n_gf;
    bool in_golden;
    unsigned char *detector_ran; /* per node, this trial */
};

static int layer_setup(struct au_inject *inj, int li, struct au_diag *d)
{
    const struct au_emul_layer *E = au_emul_layer(inj->e, li);
    struct inj_layer *L = &inj->layers[li];
    const struct au_node *n = au_graph_node(inj->g, E->node);
    const struct au_tensor *out = au_graph_tensor(inj->g, n->out[0]);
    int64_t b = au_graph_batch(inj->g);
    L->node = E->node;
    L->weight_value = E->weight_value;
    L->fmt[AU_TENSOR_ACT] = E->afmt ? E->afmt : inj->fp32;
    int rc = au_numsys_blocks_init(&L->blk[0], au_numsys_fmt_layout(L->fmt[0]), out->n_dims,
                                   out->ne, AU_NUMSYS_ROLE_ACT, d);
    if (rc)
        return rc;
    L->n_elems[0] = L->blk[0].numel / (uint64_t)b;
    L->n_blocks[0] = L->blk[0].n_blocks / (uint64_t)b;
    if (L->weight_value < 0)
        return AU_OK;
    const struct au_tensor *w = au_graph_tensor(inj->g, L->weight_value);
    L->fmt[AU_TENSOR_WEIGHT] = E->wfmt ? E->wfmt : inj->fp32;
    rc = au_numsys_blocks_init(&L->blk[1], au_numsys_fmt_layout(L->fmt[1]), w->n_dims, w->ne,
                               AU_NUMSYS_ROLE_WEIGHT, d);
    L->n_elems[1] = L->blk[1].numel;
    L->n_blocks[1] = L->blk[1].n_blocks;
    return rc;
}

/* A block never spans two groups, so a group is the most a fault re-encodes. */
static size_t largest_block(const struct au_numsys_blocks *b)
{
    return b->n_blocks ? b->group_len : 1;
}

/* The elements a site's fault re-encodes: its block, or the element alone for a format
 * without metadata. *blk = SIZE_MAX in the latter case. AU_RANGE for a site outside. */
static int site_region(const struct inj_layer *L, uint32_t t, size_t elem_base, size_t block_base,
                       const struct au_inject_site *s, size_t *first, size_t *len, size_t *blk,
                       struct au_diag *d)
{
    const struct au_numsys_layout *lay = au_numsys_fmt_layout(L->fmt[t]);
    bool meta = s->target == AU_FAULT_META;
    if (s->index >= (meta ? L->n_blocks[t] : L->n_elems[t]) ||
        s->bit >= (meta ? lay->meta_bits : lay->elem_bits))
        return au_diag_set(d, AU_RANGE, "fault site %llu bit %u is outside the layer's %s",
                           (unsigned long long)s->index, s->bit, meta ? "metadata" : "elements");
    size_t e = elem_base + (size_t)s->index;
    *blk = meta ? block_base + (size_t)s->index : au_numsys_block_of(&L->blk[t], e);
    if (*blk == SIZE_MAX) {
        *first = e;
        *len = 1;
    } else {
        au_numsys_block_range(&L->blk[t], *blk, first, len);
    }
    return AU_OK;
}

/* Encode the block holding the site, apply the fault, decode it back in place. */
static int apply_site(struct au_inject *inj, const struct inj_layer *L, uint32_t t, float *x,
                      size_t elem_base, size_t block_base, const struct au_inject_site *s,
                      struct au_pcg32 *rng, struct au_flip_record *rec, struct au_diag *d)
{
    const struct au_numsys_layout *lay = au_numsys_fmt_layout(L->fmt[t]);
    size_t first = 0, len = 0, blk = SIZE_MAX, e = elem_base + (size_t)s->index;
    bool meta = s->target == AU_FAULT_META;
    int rc = site_region(L, t, elem_base, block_base, s, &first, &len, &blk, d);
    if (rc)
        return rc;
    struct au_numsys_blocks sub = {
        len, 1, len, blk == SIZE_MAX ? 0 : 1, len, blk == SIZE_MAX ? 0 : 1};
    size_t at = meta ? 0 : e - first;
    /* an element fault needs its code and the block's metadata, not every code */
    rc = meta || len == 1 ? AU_UNSUPPORTED
                          : au_numsys_encode_at(L->fmt[t], &sub, x + first, at, &inj->codes[at],
                                                inj->meta, rng, d);
    if (rc == AU_UNSUPPORTED)
        rc = au_numsys_encode_tensor(L->fmt[t], &sub, x + first, inj->codes, inj->meta, rng, d);
    if (rc < 0)
        return rc;
    uint64_t mask = (meta ? lay->meta_bits : lay->elem_bits) >= 64
                        ? ~0ULL
                        : (1ULL << (meta ? lay->meta_bits : lay->elem_bits)) - 1;
    rec->elem_or_block = s->index;
    rec->before = meta ? (double)inj->meta[0] : (double)x[e];
    if (s->kind == AU_FAULT_RANDOM) {
        uint64_t r = ((uint64_t)au_pcg32_next(rng) << 32 | au_pcg32_next(rng)) & mask;
        if (meta)
            inj->meta[0] = r;
        else
            inj->codes[at] = r;
    } else {
        struct au_numsys_fault f = {s->target, s->kind, at, s->bit};
        rc = au_numsys_fault_apply(lay, inj->codes, len, inj->meta, sub.n_blocks, &f, d);
        if (rc < 0)
            return rc;
    }
    if (meta && inj->rq) /* the values, still in x, quantized again with the bad metadata */
        rc = au_requant_block(inj->rq, L->fmt[t], &sub, x + first, inj->meta[0], inj->codes, d);
    if (rc >= 0 && meta) {
        rc = au_numsys_decode_tensor(L->fmt[t], &sub, inj->codes, inj->meta, x + first, d);
    } else if (rc >= 0) { /* an element fault changes that element's stored code only */
        struct au_numsys_blocks one = {1, 1, 1, sub.blocks_per_group, 1, sub.n_blocks};
        rc = au_numsys_decode_tensor(L->fmt[t], &one, inj->codes + at, inj->meta, x + e, d);
    }
    rec->after = meta ? (double)inj->meta[0] : (double)x[e];
    return rc < 0 ? rc : AU_OK;
}

/* Range detector on one layer output: clamp to the profiled absmax, count per slot. */
/* The golden firings of the graph's current arena (NULL if none recorded; create: make a
 * zeroed entry). */
static int64_t *gold_fired(struct au_inject *inj, bool create)
{
    const void *a = au_graph_arena(inj->g);
    for (int k = 0; k < inj->n_gf; k++)
        if (inj->gf[k].arena == a)
            return inj->gf[k].n;
    if (!create)
        return NULL;
    size_t n = (size_t)au_graph_n_nodes(inj->g) * (size_t)au_graph_batch(inj->g);
    struct gold_fired *g = au_realloc(inj->gf, ((size_t)inj->n_gf + 1) * sizeof(*g));
    if (!g)
        return NULL;
    inj->gf = g;
    if (!(g[inj->n_gf].n = au_calloc(n + 1, sizeof(int64_t))))
        return NULL;
    g[inj->n_gf].arena = a;
    return g[inj->n_gf++].n;
}

/* Range detector on one layer output: clamp to the profiled absmax, count per slot (in a
 * golden run, as that arena's golden firings). A reused golden output was clamped in the
 * golden run: its golden firings are added after the trial, with the layers not rerun. */
static void detect(struct au_inject *inj, int node, struct au_tensor *t, bool reused)
{
    float m = inj->absmax[node];
    int64_t b = au_graph_batch(inj->g), per = au_tensor_numel(t) / b;
    float *x = t->data;
    int64_t *gold = inj->in_golden ? gold_fired(inj, true) : NULL;
    if (!inj->in_golden && !reused)
        inj->detector_ran[node] = 1;
    for (int64_t s = 0; s < b; s++) {
        int64_t fired = 0;
        for (int64_t i = s * per; i < (s + 1) * per; i++) {
            if (!(fabsf(x[i]) <= m)) {    /* NaN, inf or out of range */
                x[i] = x[i] < 0 ? -m : m; /* NaN -> +absmax, as GoldenEye */
                fired++;
            }
        }
        inj->detected[s] += fired;
        if (gold)
            gold[(int64_t)node * b + s] = fired;
    }
}

/* After a resumed trial: the golden firings of the layers whose detector did not run on
 * a recomputed output. */
static void add_gold_fired(struct au_inject *inj)
{
    const int64_t *gold = gold_fired(inj, false);
    int64_t b = au_graph_batch(inj->g);
    for (int i = 0; gold && i < au_graph_n_nodes(inj->g); i++)
        for (int64_t s = 0; !inj->detector_ran[i] && s < b; s++)
            inj->detected[s] += gold[(int64_t)i * b + s];
}

static int inject_hook(void *user, const struct au_hook_args *a)
{
    struct au_inject *inj = user;
    int node = a->node_index;
    if (inj->pending && (inj->pending[node] & AU_FORCE_HOOK)) {
        int li = au_emul_layer_of_node(inj->e, node);
        const struct inj_layer *L = &inj->layers[li];
        float *x = a->out[0]->data;
        for (int b = 0; b < inj->n_slots; b++) {
            const struct au_slot_faults *sf = &inj->slots[b];
            struct au_pcg32 rng;
            au_pcg32_seed(&rng, inj->seed, sf->rng_seq);
            for (int k = 0; k < sf->n; k++) {
                const struct au_inject_site *s = &sf->sites[k];
                if (s->layer != li || s->tensor != AU_TENSOR_ACT)
                    continue;
                int rc = apply_site(inj, L, AU_TENSOR_ACT, x, (size_t)b * L->n_elems[0],
                                    (size_t)b * L->n_blocks[0], s, &rng,
                                    &inj->rec[inj->rec_off[b] + k], inj->diag);
                if (rc)
                    return rc;
            }
        }
    }
    if (inj->absmax && a->out[0]->dtype == AU_DTYPE_F32 && au_graph_node(inj->g, node)->is_layer)
        detect(inj, node, a->out[0], a->reused);
    return AU_OK;
}

int au_inject_new(struct au_graph *g, struct au_emul *e, const au_numsys_registry *reg,
                  uint64_t seed, struct au_inject **out, struct au_diag *d)
{
    struct au_inject *inj = au_calloc(1, sizeof(*inj));
    int n_nodes = au_graph_n_nodes(g), rc;
    if (!inj)
        return au_diag_set(d, AU_NOMEM, "out of memory");
    inj->g = g;
    inj->e = e;
    inj->seed = seed;
    inj->hook_id = -1;
    inj->n_layers = au_emul_n_layers(e);
    rc = au_numsys_fmt_new(reg, "fp32", &inj->fp32, d);
    if (rc < 0)
        goto err;
    inj->layers = au_calloc((size_t)inj->n_layers + 1, sizeof(*inj->layers));
    inj->pending = au_calloc((size_t)n_nodes + 1, 1);
    inj->detected = au_calloc((size_t)au_graph_batch(g) + 1, sizeof(int64_t));
    inj->detector_ran = au_calloc((size_t)n_nodes + 1, 1);
    rc = AU_NOMEM;
    if (!inj->layers || !inj->pending || !inj->detected || !inj->detector_ran)
        goto err;
    size_t max_w = 1;
    for (int li = 0; li < inj->n_layers; li++) {
        rc = layer_setup(inj, li, d);
        if (rc)
            goto err;
        for (uint32_t t = 0; t < 2; t++)
            if (inj->layers[li].fmt[t] && largest_block(&inj->layers[li].blk[t]) > inj->max_block)
                inj->max_block = largest_block(&inj->layers[li].blk[t]);
        max_w = inj->layers[li].n_elems[1] > max_w ? inj->layers[li].n_elems[1] : max_w;
    }
    inj->codes = au_malloc((inj->max_block + 1) * sizeof(uint64_t));
    inj->wbuf = au_malloc(max_w * sizeof(float) * 2);
    if (!inj->codes || !inj->wbuf) {
        rc = AU_NOMEM;
        goto err;
    }
    inj->hook_id = au_hook_add(g, AU_HOOK_SEL_LAYERS, NULL, AU_HOOK_POST, inject_hook, inj);
    rc = inj->hook_id < 0 ? inj->hook_id : AU_OK;
    if (rc)
        goto err;
    *out = inj;
    return AU_OK;
err:
    if (rc == AU_NOMEM)
        au_diag_set(d, rc, "out of memory");
    au_inject_free(inj);
    return rc;
}

void au_inject_free(struct au_inject *inj)
{
    if (!inj)
        return;
    if (inj->hook_id >= 0)
        au_hook_remove(inj->g, inj->hook_id);
    au_numsys_fmt_free(inj->fp32);
    au_free(inj->layers);
    au_free(inj->pending);
    au_free(inj->detected);
    for (int k = 0; k < inj->n_gf; k++)
        au_free(inj->gf[k].n);
    au_free(inj->gf);
    au_free(inj->detector_ran);
    au_free(inj->codes);
    au_requant_free(inj->rq);
    au_free(inj->wbuf);
    au_free(inj->wsaves);
    au_free(inj->rec_off);
    au_free(inj->absmax);
    au_free(inj);
}

/* Grows the weight-restore buffers (only when a run has more weight faults than any
 * before it). */
static int wsave_reserve(struct au_inject *inj, int n_w, size_t floats)
{
    struct wsave *ws = au_realloc(inj->wsaves, ((size_t)n_w + 1) * sizeof(*ws));
    if (!ws)
        return AU_NOMEM;
    inj->wsaves = ws;
    float *wb = au_realloc(inj->wbuf, (floats + 1) * sizeof(float));
    if (!wb)
        return AU_NOMEM;
    inj->wbuf = wb;
    return AU_OK;
}

static int apply_weights(struct au_inject *inj, const struct au_inject_site *ws, int n_w,
                         struct au_flip_record *rec, int *first_node, struct au_diag *d)
{
    size_t need = 0;
    for (int k = 0; k < n_w; k++) {
        if (ws[k].layer < 0 || ws[k].layer >= inj->n_layers ||
            inj->layers[ws[k].layer].weight_value < 0)
            return au_diag_set(d, AU_RANGE, "weight fault on a layer without weights");
        need += inj->layers[ws[k].layer].blk[1].group_len + 1;
    }
    if (n_w && wsave_reserve(inj, n_w, need))
        return au_diag_set(d, AU_NOMEM, "out of memory");
    struct au_pcg32 rng;
    au_pcg32_seed(&rng, inj->seed, ~0ULL);
    size_t off = 0;
    for (int k = 0; k < n_w; k++) {
        const struct inj_layer *L = &inj->layers[ws[k].layer];
        float *w = au_graph_tensor(inj->g, L->weight_value)->data;
        size_t g0 = 0, len = 0, blk = SIZE_MAX;
        int rc = site_region(L, 1, 0, 0, &ws[k], &g0, &len, &blk, d);
        if (rc)
            return rc;
        inj->wsaves[k] = (struct wsave){w + g0, off, len};
        memcpy(inj->wbuf + off, w + g0, len * sizeof(float));
        inj->n_wsaved = k + 1;
        off += len;
        rec[k].slot = -1;
        rc = apply_site(inj, L, AU_TENSOR_WEIGHT, w, 0, 0, &ws[k], &rng, &rec[k], d);
        if (rc)
            return rc;
        inj->pending[L->node] |= AU_FORCE_RUN; /* even if an earlier fault was masked */
        if (L->node < *first_node)
            *first_node = L->node;
    }
    return AU_OK;
}

static void restore_weights(struct au_inject *inj)
{
    for (int k = inj->n_wsaved - 1; k >= 0; k--)
        memcpy(inj->wsaves[k].dst, inj->wbuf + inj->wsaves[k].off,
               inj->wsaves[k].len * sizeof(float));
    inj->n_wsaved = 0;
}

int au_inject_run(struct au_inject *inj, const struct au_slot_faults *slots, int n_slots,
                  const struct au_inject_site *wsites, int n_w, struct au_flip_record *records,
                  struct au_diag *d)
{
    int n_nodes = au_graph_n_nodes(inj->g), first = n_nodes, n_rec = 0;
    if (n_slots > au_graph_batch(inj->g))
        return au_diag_set(d, AU_INVALID, "%d fault slots for a batch of %lld", n_slots,
                           (long long)au_graph_batch(inj->g));
    int *off = au_realloc(inj->rec_off, ((size_t)n_slots + 1) * sizeof(int));
    if (!off)
        return au_diag_set(d, AU_NOMEM, "out of memory");
    inj->rec_off = off;
    memset(inj->pending, 0, (size_t)n_nodes);
    memset(inj->detector_ran, 0, (size_t)n_nodes);
    memset(inj->detected, 0, (size_t)au_graph_batch(inj->g) * sizeof(int64_t));
    for (int b = 0; b < n_slots; b++) {
        off[b] = n_rec;
        for (int k = 0; k < slots[b].n; k++) {
            const struct au_inject_site *s = &slots[b].sites[k];
            if (s->layer < 0 || s->layer >= inj->n_layers || s->tensor != AU_TENSOR_ACT)
                return au_diag_set(d, AU_RANGE, "slot %d: bad activation fault site", b);
            int node = inj->layers[s->layer].node;
            inj->pending[node] |= AU_FORCE_HOOK;
            first = node < first ? node : first;
            records[n_rec + k].slot = b;
        }
        n_rec += slots[b].n;
    }
    inj->slots = slots;
    inj->n_slots = n_slots;
    inj->rec = records;
    inj->diag = d;
    inj->n_wsaved = 0;
    int rc = apply_weights(inj, wsites, n_w, records + n_rec, &first, d);
    if (!rc && inj->naive)
        rc = au_graph_run(inj->g, d);
    else if (!rc && first < n_nodes) { /* with weight faults the first layer must rerun */
        /* every faulty node runs, even where an earlier fault was masked on the way */
        au_graph_set_forced(inj->g, inj->pending);
        /* the range detector clamps the golden output: a fault must land before it, as in
         * a full rerun, so with it on the faulty layer is recomputed, not reused */
        bool reuse = !n_w && !inj->absmax;
        rc = au_graph_run_from(inj->g, first,
                               AU_RUN_PRUNE_MASKED | (reuse ? AU_RUN_REUSE_OUTPUT : 0u) |
                                   (inj->compact ? AU_RUN_COMPACT : 0u),
                               d);
        au_graph_set_forced(inj->g, NULL);
        if (!rc && inj->absmax)
            add_gold_fired(inj);
    }
    restore_weights(inj);
    memset(inj->pending, 0, (size_t)n_nodes);
    inj->n_slots = 0;
    return rc;
}

int au_inject_golden(struct au_inject *inj, struct au_diag *d)
{
    memset(inj->detected, 0, (size_t)au_graph_batch(inj->g) * sizeof(int64_t));
    inj->n_slots = 0;
    inj->in_golden = true;
    int rc = au_graph_run(inj->g, d);
    inj->in_golden = false;
    return rc;
}

int au_inject_set_range_detector(struct au_inject *inj, const struct au_range *per_node,
                                 struct au_diag *d)
{
    au_free(inj->absmax);
    inj->absmax = NULL;
    if (!per_node)
        return AU_OK;
    int n = au_graph_n_nodes(inj->g);
    inj->absmax = au_calloc((size_t)n + 1, sizeof(float));
    if (!inj->absmax)
        return au_diag_set(d, AU_NOMEM, "out of memory");
    for (int i = 0; i < n; i++)
        inj->absmax[i] = (float)per_node[i].absmax;
    return AU_OK;
}

int64_t au_inject_detected(const struct au_inject *inj, int slot)
{
    return (slot >= 0 && slot < au_graph_batch(inj->g)) ? inj->detected[slot] : 0;
}

uint64_t au_inject_n_elems(const struct au_inject *inj, int layer, uint32_t tensor)
{
    return (layer >= 0 && layer < inj->n_layers && tensor < 2) ? inj->layers[layer].n_elems[tensor]
                                                               : 0;
}

uint64_t au_inject_n_blocks(const struct au_inject *inj, int layer, uint32_t tensor)
{
    return (layer >= 0 && layer < inj->n_layers && tensor < 2) ? inj->layers[layer].n_blocks[tensor]
                                                               : 0;
}

const struct au_numsys_layout *au_inject_layout(const struct au_inject *inj, int layer,
                                                uint32_t tensor)
{
    if (layer < 0 || layer >= inj->n_layers || tensor > 1 || !inj->layers[layer].fmt[tensor])
        return NULL;
    return au_numsys_fmt_layout(inj->layers[layer].fmt[tensor]);
}

void au_inject_set_naive(struct au_inject *inj, bool naive)
{
    inj->naive = naive;
}

void au_inject_set_compact(struct au_inject *inj, bool compact)
{
    inj->compact = compact;
}

int au_inject_set_requantize(struct au_inject *inj, bool on, struct au_diag *d)
{
    au_requant_free(inj->rq);
    inj->rq = NULL;
    return on ? au_requant_new(&inj->rq, d) : AU_OK;
}

/* Semantic campaign checks. Each format string is created once (a cache keyed by the
 * string), its failure reported at the JSON path where it is written; the targeted
 * tensors are then walked layer by layer with the same resolution rules the emulation
 * and the runner use. Identical messages are reported once, so a field missing from a
 * format used by five layers is one line, not five. */
#include "campaigns/validate.h"

#include "core/alloc.h"
#include "core/dataset.h"
#include "core/exec.h"
#include "numsys/flip.h"
#include "numsys/fmtstr.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* float32 without emulation: faults hit its IEEE binary32 bits. */
static const struct au_bitfield f32_fields[] = {
    {"sign", 31, 1}, {"exponent", 23, 8}, {"mantissa", 0, 23}};
static const struct au_numsys_layout f32_layout = {32, 0,          AU_BLOCK_NONE, 0, 3,
                                                   0,  f32_fields, NULL,          0};

struct fmt_entry {
    const char *spec; /* borrowed from the campaign */
    au_numsys_fmt *f; /* NULL if it failed */
};

struct vctx {
    const struct au_campaign *c;
    const struct au_graph *g;
    const au_numsys_registry *reg;
    struct au_problems *probs;
    size_t first;
    bool nomem;
    struct fmt_entry *fmts;
    int n_fmts, cap_fmts;
};

static void vbad(struct vctx *v, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void vbad(struct vctx *v, const char *path, const char *fmt, ...)
{
    char msg[600], line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(line, sizeof(line), "%s: %s: %s", v->c->path, path, msg);
    for (size_t i = v->first; i < v->probs->n; i++)
        if (strcmp(v->probs->msg[i], line) == 0)
            return;
    if (au_problems_add(v->probs, "%s", line) == AU_NOMEM)
        v->nomem = true;
}

/* "$.targets.layers" for a single selector, "$.targets.layers[k]" in a list. */
static void item_path(char *buf, size_t len, const char *base, int k, int n)
{
    if (n == 1)
        snprintf(buf, len, "%s", base);
    else
        snprintf(buf, len, "%s[%d]", base, k);
}

static int finish(struct vctx *v, struct au_diag *d)
{
    for (int i = 0; i < v->n_fmts; i++)
        au_numsys_fmt_free(v->fmts[i].f);
    au_free(v->fmts);
    if (v->nomem)
        return au_diag_set(d, AU_NOMEM, "%s: out of memory", v->c->path);
    if (v->probs->n > v->first)
        return au_diag_set(d, AU_INVALID, "%s", v->probs->msg[v->first]);
    return AU_OK;
}

/* ---- resolution ---- */

bool au_campaign_format_is_native(const char *spec)
{
    return !spec || strcmp(spec, "float32") == 0 || strcmp(spec, "none") == 0;
}

bool au_campaign_selects(const struct au_selectors *s, const struct au_node *n)
{
    if (!n->is_layer)
        return false;
    for (int k = 0; k < s->n; k++)
        if (au_node_matches(n, s->v[k]))
            return true;
    return false;
}

const char *au_campaign_format_of(const struct au_campaign *c, const struct au_node *n,
                                  uint32_t tensor)
{
    bool w = tensor == AU_CAMPAIGN_WEIGHTS;
    const char *f = w ? c->formats.weights : c->formats.activations;
    for (int i = 0; i < c->formats.n_rules; i++) {
        const struct au_campaign_format_rule *r = &c->formats.rules[i];
        const char *rf = w ? r->weights : r->activations;
        if (rf && au_campaign_selects(&r->select, n))
            f = rf;
    }
    return au_campaign_format_is_native(f) ? NULL : f;
}

/* The format made from spec (created on first use; failures reported at path). NULL
 * for a failed format; *layout is float32's for a native one. */
static const struct au_numsys_layout *layout_of(struct vctx *v, const char *spec, const char *path,
                                                bool *failed)
{
    *failed = false;
    if (au_campaign_format_is_native(spec))
        return &f32_layout;
    for (int i = 0; i < v->n_fmts; i++)
        if (strcmp(v->fmts[i].spec, spec) == 0) {
            *failed = !v->fmts[i].f;
            return v->fmts[i].f ? au_numsys_fmt_layout(v->fmts[i].f) : NULL;
        }
    if (v->n_fmts == v->cap_fmts) {
        int cap = v->cap_fmts ? 2 * v->cap_fmts : 8;
        struct fmt_entry *nf = au_realloc(v->fmts, (size_t)cap * sizeof(*nf));
        if (!nf) {
            v->nomem = *failed = true;
            return NULL;
        }
        v->fmts = nf;
        v->cap_fmts = cap;
    }
    struct fmt_entry *e = &v->fmts[v->n_fmts++];
    struct au_diag fd = {{0}};
    e->spec = spec;
    e->f = NULL;
    int rc = au_numsys_fmt_new(v->reg, spec, &e->f, &fd);
    if (rc == AU_NOMEM)
        v->nomem = true;
    else if (rc)
        vbad(v, path ? path : "$.formats", "%s", fd.msg);
    *failed = rc != 0;
    return rc ? NULL : au_numsys_fmt_layout(e->f);
}

static void check_formats(struct vctx *v)
{
    const struct au_campaign *c = v->c;
    bool failed;
    char path[96];
    layout_of(v, c->formats.weights, "$.formats.weights", &failed);
    layout_of(v, c->formats.activations, "$.formats.activations", &failed);
    for (int i = 0; i < c->formats.n_rules; i++) {
        snprintf(path, sizeof(path), "$.formats.layers[%d].weights", i);
        layout_of(v, c->formats.rules[i].weights, path, &failed);
        snprintf(path, sizeof(path), "$.formats.layers[%d].activations", i);
        layout_of(v, c->formats.rules[i].activations, path, &failed);
    }
}

/* ---- selectors ---- */

/* "'a', 'b', 'c' (and 2 more)": the layers, to help fix a selector. */
static void list_layers(const struct au_graph *g, char *buf, size_t len)
{
    size_t n = 0;
    int shown = 0, total = 0;
    buf[0] = '\0';
    for (int i = 0; i < au_graph_n_nodes(g); i++) {
        const struct au_node *nd = au_graph_node(g, i);
        if (!nd->is_layer)
            continue;
        if (shown < 6 && n < len) {
            n += (size_t)snprintf(buf + n, len - n, "%s'%s' (%s)", shown ? ", " : "", nd->name,
                                  nd->op_type);
            shown++;
        }
        total++;
    }
    if (total > shown && n < len)
        snprintf(buf + n, len - n, " and %d more", total - shown);
    if (!total)
        snprintf(buf, len, "none");
}

static void check_selector(struct vctx *v, const char *sel, const char *path)
{
    const struct au_graph *g = v->g;
    const struct au_node *other = NULL;
    for (int i = 0; i < au_graph_n_nodes(g); i++) {
        const struct au_node *n = au_graph_node(g, i);
        if (au_node_matches(n, sel)) {
            if (n->is_layer)
                return;
            other = other ? other : n;
        }
    }
    char layers[512];
    list_layers(g, layers, sizeof(layers));
    if (other)
        vbad(v, path,
             "'%s' matches no layer: '%s' is a %s, not a layer (a node with weights); "
             "layers: %s",
             sel, other->name, other->op_type, layers);
    else
        vbad(v, path, "'%s' matches no node of %s; layers: %s", sel, v->c->model, layers);
}

static void check_selectors(struct vctx *v, const struct au_selectors *s, const char *base)
{
    char path[128];
    for (int k = 0; k < s->n; k++) {
        item_path(path, sizeof(path), base, k, s->n);
        check_selector(v, s->v[k], path);
    }
}

static void check_all_selectors(struct vctx *v)
{
    const struct au_campaign *c = v->c;
    char base[96];
    check_selectors(v, &c->targets.layers, "$.targets.layers");
    for (int i = 0; i < c->formats.n_rules; i++) {
        snprintf(base, sizeof(base), "$.formats.layers[%d].select", i);
        check_selectors(v, &c->formats.rules[i].select, base);
    }
    for (int i = 0; i < c->process.n_rates; i++) {
        snprintf(base, sizeof(base), "$.process.rates[%d].layers", i);
        check_selectors(v, &c->process.rates[i].layers, base);
    }
    for (int i = 0; i < c->process.n_times; i++) {
        snprintf(base, sizeof(base), "$.process.times[%d].select", i);
        check_selectors(v, &c->process.times[i].select, base);
    }
}

/* ---- targeted tensors ---- */

/* One targeted tensor of one layer, with its format and targeted bits. */
struct tview {
    const struct au_node *n;
    uint32_t tensor;  /* AU_CAMPAIGN_ACT / AU_CAMPAIGN_WEIGHTS */
    const char *spec; /* for messages */
    const struct au_numsys_layout *l;
    uint64_t elem_mask, meta_mask;
};

static uint64_t width_mask(uint32_t w)
{
    return w >= 64 ? ~0ULL : (1ULL << w) - 1;
}

/* Targeted bits of element codes or metadata words: all of them, or the named fields
 * plus the listed positions. */
static uint64_t class_mask(const struct au_campaign *c, const struct au_numsys_layout *l,
                           uint32_t target)
{
    bool meta = target == AU_FAULT_META;
    uint32_t w = meta ? l->meta_bits : l->elem_bits;
    if (!w || !(c->targets.bits & (meta ? AU_CAMPAIGN_META : AU_CAMPAIGN_DATA)))
        return 0;
    const int *pos = meta ? c->targets.meta_bit_positions : c->targets.bit_positions;
    int n_pos = meta ? c->targets.n_meta_bit_positions : c->targets.n_bit_positions;
    if (!c->targets.n_fields && !n_pos)
        return width_mask(w);
    uint64_t m = 0;
    for (int k = 0; k < c->targets.n_fields; k++) {
        const struct au_bitfield *f = au_numsys_field_find(l, target, c->targets.fields[k]);
        if (f)
            m |= width_mask(f->width) << f->lsb;
    }
    for (int k = 0; k < n_pos; k++)
        if ((uint32_t)pos[k] < w)
            m |= 1ULL << pos[k];
    return m & width_mask(w);
}

static const char *tensor_word(uint32_t tensor)
{
    return tensor == AU_CAMPAIGN_WEIGHTS ? "weights" : "activations";
}

static bool resolve(struct vctx *v, const struct au_node *n, uint32_t tensor, struct tview *t)
{
    bool failed;
    t->n = n;
    t->tensor = tensor;
    t->spec = au_campaign_format_of(v->c, n, tensor);
    t->l = layout_of(v, t->spec, NULL, &failed);
    if (!t->spec)
        t->spec = "float32";
    if (failed)
        return false;
    t->elem_mask = class_mask(v->c, t->l, AU_FAULT_ELEM);
    t->meta_mask = class_mask(v->c, t->l, AU_FAULT_META);
    return true;
}

/* "data fields sign, mantissa; metadata fields shared_exponent" */
static void describe_fields(const struct au_numsys_layout *l, char *buf, size_t len)
{
    size_t n = (size_t)snprintf(buf, len, "data fields");
    for (uint32_t i = 0; i < l->n_elem_fields && n < len; i++)
        n += (size_t)snprintf(buf + n, len - n, "%s %s", i ? "," : "", l->elem_fields[i].name);
    if (n < len && !l->n_meta_fields)
        snprintf(buf + n, len - n, "; no metadata");
    else if (n < len)
        n += (size_t)snprintf(buf + n, len - n, "; metadata fields");
    for (uint32_t i = 0; i < l->n_meta_fields && n < len; i++)
        n += (size_t)snprintf(buf + n, len - n, "%s %s", i ? "," : "", l->meta_fields[i].name);
}

/* Returns whether some field is missing from t's layout (reported). */
static bool check_fields(struct vctx *v, const struct tview *t)
{
    const struct au_campaign *c = v->c;
    uint32_t bits = c->targets.bits;
    char path[96], fields[256];
    bool bad = false;
    for (int k = 0; k < c->targets.n_fields; k++) {
        const char *name = c->targets.fields[k];
        if (((bits & AU_CAMPAIGN_DATA) && au_numsys_field_find(t->l, AU_FAULT_ELEM, name)) ||
            ((bits & AU_CAMPAIGN_META) && au_numsys_field_find(t->l, AU_FAULT_META, name)))
            continue;
        item_path(path, sizeof(path), "$.targets.fields", k, c->targets.n_fields);
        describe_fields(t->l, fields, sizeof(fields));
        const char *cls = bits == AU_CAMPAIGN_DATA   ? "data"
                          : bits == AU_CAMPAIGN_META ? "metadata"
                                                     : "data or metadata";
        bad = true;
        vbad(v, path, "'%s' is not a %s field of the %s format %s (%s)", name, cls,
             tensor_word(t->tensor), t->spec, fields);
    }
    return bad;
}

static bool check_positions(struct vctx *v, const struct tview *t)
{
    const struct au_campaign *c = v->c;
    char path[96];
    bool bad = false;
    for (int k = 0; k < c->targets.n_bit_positions; k++) {
        if ((uint32_t)c->targets.bit_positions[k] < t->l->elem_bits)
            continue;
        bad = true;
        item_path(path, sizeof(path), "$.targets.bit_positions", k, c->targets.n_bit_positions);
        vbad(v, path, "bit %d is outside the %u-bit codes of the %s format %s",
             c->targets.bit_positions[k], t->l->elem_bits, tensor_word(t->tensor), t->spec);
    }
    for (int k = 0; k < c->targets.n_meta_bit_positions; k++) {
        if ((uint32_t)c->targets.meta_bit_positions[k] < t->l->meta_bits)
            continue;
        bad = true;
        item_path(path, sizeof(path), "$.targets.meta_bit_positions", k,
                  c->targets.n_meta_bit_positions);
        if (!t->l->meta_bits)
            vbad(v, path, "the %s format %s has no metadata", tensor_word(t->tensor), t->spec);
        else
            vbad(v, path, "bit %d is outside the %u-bit metadata words of the %s format %s",
                 c->targets.meta_bit_positions[k], t->l->meta_bits, tensor_word(t->tensor),
                 t->spec);
    }
    return bad;
}

/* ---- Poisson rates and times ---- */

static bool rate_applies(const struct au_campaign_rate *e, const struct au_node *n, uint32_t tensor,
                         uint32_t cls, const char *field)
{
    return (!e->bits || e->bits == cls) && (!e->tensors || (e->tensors & tensor)) &&
           (!e->field || (field && strcmp(field, e->field) == 0)) &&
           (!e->layers.n || au_campaign_selects(&e->layers, n));
}

static const char *field_of_bit(const struct au_numsys_layout *l, uint32_t target, unsigned b)
{
    bool meta = target == AU_FAULT_META;
    const struct au_bitfield *f = meta ? l->meta_fields : l->elem_fields;
    uint32_t nf = meta ? l->n_meta_fields : l->n_elem_fields;
    for (uint32_t i = 0; i < nf; i++)
        if (b >= f[i].lsb && b < (unsigned)f[i].lsb + f[i].width)
            return f[i].name;
    return NULL;
}

/* Rate of one targeted bit: the default, then every matching rates entry in order. */
static double bit_rate(const struct au_campaign *c, const struct tview *t, uint32_t target,
                       unsigned b, int *used)
{
    uint32_t cls = target == AU_FAULT_META ? AU_CAMPAIGN_META : AU_CAMPAIGN_DATA;
    const char *field = field_of_bit(t->l, target, b);
    double r = c->process.rate;
    for (int k = 0; k < c->process.n_rates; k++)
        if (rate_applies(&c->process.rates[k], t->n, t->tensor, cls, field)) {
            r = c->process.rates[k].rate;
            used[k] = 1;
        }
    return r;
}

/* Whether some targeted bit of t has a rate above 0; marks in used[] every rates entry
 * that reached a targeted bit. */
static bool has_rate(const struct au_campaign *c, const struct tview *t, int *used)
{
    bool any = false;
    for (unsigned b = 0; b < 64; b++) {
        if ((t->elem_mask >> b) & 1)
            any |= bit_rate(c, t, AU_FAULT_ELEM, b, used) > 0;
        if ((t->meta_mask >> b) & 1)
            any |= bit_rate(c, t, AU_FAULT_META, b, used) > 0;
    }
    return any;
}

/* Live time of a layer (layer_wise): the last matching times entry, else time_per_mac x
 * MACs; -1 if neither gives one. Other timings: the one time t. */
static double live_time(const struct au_campaign *c, const struct au_node *n)
{
    if (c->process.timing != AU_CAMPAIGN_LAYER_WISE)
        return c->process.time;
    double t = c->process.time_per_mac > 0 ? c->process.time_per_mac * (double)n->macs : -1;
    for (int k = 0; k < c->process.n_times; k++)
        if (au_campaign_selects(&c->process.times[k].select, n))
            t = c->process.times[k].time;
    return t;
}

/* Per-layer Poisson checks; returns whether the layer can see a fault. */
static bool check_layer_poisson(struct vctx *v, const struct au_node *n, bool rated)
{
    const struct au_campaign *c = v->c;
    double t = live_time(c, n);
    if (t < 0) {
        vbad(v, "$.process.times",
             "no time for layer '%s' (add an entry that selects it, "
             "or set time_per_mac)",
             n->name);
        return false;
    }
    if (c->process.timing == AU_CAMPAIGN_SINGLE_LAYER && !rated)
        vbad(v, "$.process.rates",
             "every targeted bit of layer '%s' has rate 0: its "
             "per-layer resilience is 0 without a run",
             n->name);
    return rated && t > 0;
}

/* ---- the walk over targeted layers ---- */

struct walk {
    int *used;       /* per rates entry: reached a targeted bit */
    bool failed;     /* some targeted tensor's format failed (reported already) */
    bool bitless;    /* some targeted layer has no targeted bit (reported already) */
    int live_layers; /* layers where a fault can occur (Poisson) */
};

static void no_bits(struct vctx *v, const struct au_node *n, const struct tview *t, int nt)
{
    char why[400];
    size_t k = 0;
    why[0] = '\0';
    for (int i = 0; i < nt && k < sizeof(why); i++) {
        const char *sep = i ? "; " : "";
        if (!(v->c->targets.bits & AU_CAMPAIGN_DATA) && !t[i].l->meta_bits)
            k += (size_t)snprintf(why + k, sizeof(why) - k, "%sits %s format %s has no metadata",
                                  sep, tensor_word(t[i].tensor), t[i].spec);
        else
            k += (size_t)snprintf(why + k, sizeof(why) - k,
                                  "%sthe fields and bit positions select no bit of its %s "
                                  "format %s",
                                  sep, tensor_word(t[i].tensor), t[i].spec);
    }
    vbad(v, "$.targets", "layer '%s' has no targeted bit: %s", n->name, why);
}

static void check_layer(struct vctx *v, const struct au_node *n, struct walk *w)
{
    const struct au_campaign *c = v->c;
    struct tview t[2];
    int nt = 0;
    bool any_bits = false, rated = false, bad_filter = false;
    for (uint32_t tensor = AU_CAMPAIGN_ACT; tensor <= AU_CAMPAIGN_WEIGHTS; tensor <<= 1) {
        if (!(c->targets.tensors & tensor))
            continue;
        if (!resolve(v, n, tensor, &t[nt])) {
            w->failed = true;
            continue;
        }
        bad_filter |= check_fields(v, &t[nt]);
        bad_filter |= check_positions(v, &t[nt]);
        any_bits |= t[nt].elem_mask || t[nt].meta_mask;
        if (c->process.type == AU_CAMPAIGN_POISSON)
            rated |= has_rate(c, &t[nt], w->used);
        nt++;
    }
    if (w->failed)
        return;
    if (!any_bits) {
        if (!bad_filter) /* else the filter's problem says why */
            no_bits(v, n, t, nt);
        w->bitless = true;
    } else if (c->process.type == AU_CAMPAIGN_POISSON && check_layer_poisson(v, n, rated))
        w->live_layers++;
}

static void check_rates_used(struct vctx *v, const struct walk *w)
{
    const struct au_campaign *c = v->c;
    char path[96];
    for (int k = 0; k < c->process.n_rates; k++) {
        if (w->used[k])
            continue;
        const struct au_campaign_rate *e = &c->process.rates[k];
        snprintf(path, sizeof(path), "$.process.rates[%d]", k);
        if (e->field)
            vbad(v, path,
                 "matches no targeted bit: no targeted tensor of its layers has a "
                 "targeted %sfield '%s'",
                 e->bits == AU_CAMPAIGN_META ? "metadata "
                 : e->bits                   ? "data "
                                             : "",
                 e->field);
        else
            vbad(v, path, "matches no targeted bit");
    }
}

int au_campaign_check_names(const struct au_campaign *c, const struct au_graph *g,
                            const au_numsys_registry *reg, struct au_problems *probs,
                            struct au_diag *d)
{
    struct au_problems local = {0};
    struct vctx v = {.c = c, .g = g, .reg = reg, .probs = probs ? probs : &local};
    v.first = v.probs->n;
    check_formats(&v);
    if (g)
        check_all_selectors(&v);
    int rc = finish(&v, d);
    au_problems_fini(&local);
    return rc;
}

int au_campaign_check(const struct au_campaign *c, const struct au_graph *g,
                      const au_numsys_registry *reg, struct au_problems *probs, struct au_diag *d)
{
    struct au_problems local = {0};
    struct vctx v = {.c = c, .g = g, .reg = reg, .probs = probs ? probs : &local};
    v.first = v.probs->n;
    check_formats(&v);
    check_all_selectors(&v);
    struct walk w = {au_calloc((size_t)c->process.n_rates + 1, sizeof(int)), false, false, 0};
    if (!w.used)
        v.nomem = true;
    for (int i = 0; w.used && i < au_graph_n_nodes(g); i++) {
        const struct au_node *n = au_graph_node(g, i);
        if (au_campaign_selects(&c->targets.layers, n))
            check_layer(&v, n, &w);
    }
    if (w.used && !w.failed && c->process.type == AU_CAMPAIGN_POISSON) {
        check_rates_used(&v, &w);
        if (!w.live_layers && !w.bitless && c->process.timing != AU_CAMPAIGN_SINGLE_LAYER)
            vbad(&v, "$.process",
                 "no fault can occur: every targeted bit has rate 0 or "
                 "every targeted layer has live time 0");
    }
    au_free(w.used);
    int rc = finish(&v, d);
    au_problems_fini(&local);
    return rc;
}

/* ---- files ---- */

/* Label i of a [N] or [N, T] integer array as int64. */
static int64_t label_at(const struct au_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case AU_DTYPE_I64:
        return ((const int64_t *)t->data)[i];
    case AU_DTYPE_I32:
        return ((const int32_t *)t->data)[i];
    case AU_DTYPE_I8:
        return ((const int8_t *)t->data)[i];
    default:
        return ((const uint8_t *)t->data)[i];
    }
}

static void check_labels(struct vctx *v, int64_t n, int64_t classes)
{
    const char *path = v->c->data.labels;
    struct au_array a = {0};
    struct au_diag fd = {{0}};
    int rc = au_dataset_read_array(path, n, &a, &fd);
    if (rc) {
        v->nomem |= rc == AU_NOMEM;
        vbad(v, "$.data.labels", "%s", fd.msg);
        return;
    }
    const struct au_tensor *t = &a.t;
    int dt = t->dtype;
    if (dt != AU_DTYPE_I64 && dt != AU_DTYPE_I32 && dt != AU_DTYPE_I8 && dt != AU_DTYPE_U8) {
        vbad(v, "$.data.labels", "%s holds %s values; labels must be integers", path,
             au_dtype_name(dt));
    } else if (t->n_dims < 1 || t->ne[0] < n) {
        vbad(v, "$.data.labels", "%s has %lld labels for %lld samples", path,
             (long long)(t->n_dims ? t->ne[0] : 0), (long long)n);
    } else {
        int64_t per = au_tensor_numel(t) / t->ne[0];
        for (int64_t i = 0; i < n * per; i++) {
            int64_t y = label_at(t, i);
            if (y < 0 || (classes > 0 && y >= classes)) {
                vbad(v, "$.data.labels",
                     "%s: label %lld of sample %lld is outside the model's "
                     "%lld classes",
                     path, (long long)y, (long long)(i / per), (long long)classes);
                break;
            }
        }
    }
    au_array_fini(&a);
}

/* Samples: readable for the model's input; normalize only where it applies. */
static void check_inputs(struct vctx *v, const char *name, const struct au_tensor *in_t, int64_t *n)
{
    const struct au_campaign *c = v->c;
    struct au_array head = {0};
    struct au_diag fd = {{0}};
    *n = 0;
    int rc = au_dataset_read_array(c->data.inputs, 1, &head, &fd);
    bool u8 = !rc && head.t.dtype == AU_DTYPE_U8;
    if (!rc && c->data.n_norm && !u8)
        vbad(v, "$.data.normalize",
             "%s holds %s samples: normalize applies to uint8 images "
             "only",
             c->data.inputs, au_dtype_name(head.t.dtype));
    au_array_fini(&head);
    struct au_dataset_input in;
    struct au_dataset_opts o = {.limit = c->data.samples, .n_norm = u8 ? c->data.n_norm : 0};
    memcpy(o.mean, c->data.mean, sizeof(o.mean));
    memcpy(o.std, c->data.std, sizeof(o.std));
    au_dataset_input_from_tensor(&in, name, in_t);
    struct au_dataset ds;
    if (!rc)
        rc = au_dataset_load(&ds, c->data.inputs, &in, &o, &fd);
    if (rc) {
        v->nomem |= rc == AU_NOMEM;
        vbad(v, rc == AU_INVALID && o.n_norm ? "$.data.normalize" : "$.data.inputs", "%s", fd.msg);
        return;
    }
    *n = ds.n;
    if (c->data.samples > ds.n)
        vbad(v, "$.data.samples", "%lld, but %s has only %lld samples", (long long)c->data.samples,
             c->data.inputs, (long long)ds.n);
    au_dataset_fini(&ds);
}

/* The runner creates missing directories, so the nearest existing ancestor of the
 * database must be a directory, and the database itself must not be one. */
static void check_database(struct vctx *v)
{
    const char *db = v->c->database;
    char dir[1024];
    struct stat st;
    snprintf(dir, sizeof(dir), "%s", db);
    for (;;) {
        char *slash = strrchr(dir, '/');
        if (!slash)
            snprintf(dir, sizeof(dir), ".");
        else
            slash[slash == dir] = '\0'; /* keep "/" itself */
        if (stat(dir, &st) == 0 || (errno != ENOENT && errno != ENOTDIR) || !slash ||
            strcmp(dir, "/") == 0)
            break;
    }
    if (stat(dir, &st) != 0)
        vbad(v, "$.database", "%s: %s", dir, strerror(errno));
    else if (!S_ISDIR(st.st_mode))
        vbad(v, "$.database", "%s is not a directory", dir);
    else if (stat(db, &st) == 0 && S_ISDIR(st.st_mode))
        vbad(v, "$.database", "%s is a directory", db);
}

int au_campaign_check_files(const struct au_campaign *c, const struct au_graph *g,
                            struct au_problems *probs, struct au_diag *d)
{
    struct au_problems local = {0};
    struct vctx v = {.c = c, .g = g, .probs = probs ? probs : &local};
    v.first = v.probs->n;
    if (au_graph_n_inputs(g) != 1) {
        vbad(&v, "$.model", "%s has %d inputs; a campaign feeds exactly one from data.inputs",
             c->model, au_graph_n_inputs(g));
    } else {
        int64_t n;
        int vid = au_graph_input_value(g, 0);
        const struct au_tensor *in = au_graph_tensor(g, vid), *out = au_graph_output(g, 0);
        AU_ASSERT(in && out); /* the caller prepared g */
        check_inputs(&v, au_graph_value(g, vid)->name, in, &n);
        int64_t classes = out->n_dims ? out->ne[out->n_dims - 1] : 0;
        if (n > 0)
            check_labels(&v, n, classes);
    }
    check_database(&v);
    int rc = finish(&v, d);
    au_problems_fini(&local);
    return rc;
}

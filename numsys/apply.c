/* Tensor-level encode/decode/quantize. The block rule becomes "groups": runs of whole
 * blocks contiguous in memory, one plugin call each, so plugins only ever see
 * consecutive blocks. Plugin output is re-checked here (one cheap pass, vectorized)
 * because a fault campaign trusts these codes as the golden ones. No allocation
 * unless quantize has to make its own scratch.
 */
#include "numsys/apply.h"

#include "core/alloc.h"
#include "core/tensor.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

static size_t prod(const int64_t *ne, int from, int to)
{
    size_t n = 1;
    for (int i = from; i < to; i++)
        n *= (size_t)ne[i];
    return n;
}

int au_numsys_blocks_init(struct au_numsys_blocks *b, const struct au_numsys_layout *l, int n_dims,
                          const int64_t *ne, uint32_t role, struct au_diag *d)
{
    int64_t numel;
    if (role > AU_NUMSYS_ROLE_WEIGHT)
        return au_diag_set(d, AU_INVALID, "blocks: unknown tensor role %u", role);
    if (!au_shape_numel_checked(n_dims, ne, &numel))
        return au_diag_set(d, AU_SHAPE, "blocks: shape with %d dims is negative or too large",
                           n_dims);
    if (l->block_kind > AU_BLOCK_ELEMS || (l->block_kind == AU_BLOCK_ELEMS && !l->block_len))
        return au_diag_set(d, AU_INVALID, "blocks: invalid block rule %u/%u", l->block_kind,
                           l->block_len);
    b->numel = (size_t)numel;
    /* The axis whose index (with the ones before it) names a block. */
    int axis = role == AU_NUMSYS_ROLE_ACT ? 0 : -1; /* -1: whole tensor */
    if (l->block_kind == AU_BLOCK_CHANNEL)
        axis = role == AU_NUMSYS_ROLE_ACT ? (n_dims >= 2 ? 1 : 0) : 0;
    if (n_dims == 0)
        axis = -1;
    if (l->block_kind == AU_BLOCK_NONE) {
        b->n_groups = numel ? 1 : 0;
        b->group_len = b->numel;
        b->blocks_per_group = 0;
        b->block_len = b->numel;
    } else if (l->block_kind == AU_BLOCK_ELEMS) {
        size_t row = n_dims ? (size_t)ne[n_dims - 1] : 1, k = l->block_len;
        bool whole = row % k == 0; /* rows end on block edges: one call for all */
        b->group_len = whole ? b->numel : row;
        b->n_groups = b->group_len ? b->numel / b->group_len : 0;
        b->block_len = k;
        b->blocks_per_group = (b->group_len + k - 1) / k;
    } else {
        b->group_len = prod(ne, axis + 1, n_dims);
        b->n_groups = b->group_len ? b->numel / b->group_len : 0;
        b->block_len = b->group_len;
        b->blocks_per_group = 1;
    }
    b->n_blocks = b->n_groups * b->blocks_per_group;
    return AU_OK;
}

size_t au_numsys_block_of(const struct au_numsys_blocks *b, size_t i)
{
    if (!b->blocks_per_group)
        return SIZE_MAX;
    return (i / b->group_len) * b->blocks_per_group + (i % b->group_len) / b->block_len;
}

void au_numsys_block_range(const struct au_numsys_blocks *b, size_t blk, size_t *first, size_t *len)
{
    size_t g = blk / b->blocks_per_group, j = blk % b->blocks_per_group;
    size_t off = j * b->block_len;
    *first = g * b->group_len + off;
    *len = b->group_len - off < b->block_len ? b->group_len - off : b->block_len;
}

static uint64_t width_mask(uint32_t bits)
{
    return bits >= 64 ? ~0ULL : (1ULL << bits) - 1;
}

/* Index of the first word with bits outside mask, or n. */
static size_t first_wide(const uint64_t *w, size_t n, uint64_t mask)
{
    uint64_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad |= w[i] & ~mask;
    if (!bad)
        return n;
    size_t i = 0;
    while (!(w[i] & ~mask))
        i++;
    return i;
}

/* Enforces the layout's NaN/inf promises on decoded values. */
static int check_values(const au_numsys_fmt *f, const float *y, size_t n, struct au_diag *d)
{
    uint32_t flags = au_numsys_fmt_layout(f)->flags;
    if (!(flags & (AU_LAYOUT_NO_NAN | AU_LAYOUT_NO_INF)))
        return AU_OK;
    int bad = 0;
    for (size_t i = 0; i < n; i++)
        bad |=
            (flags & AU_LAYOUT_NO_NAN && isnan(y[i])) | (flags & AU_LAYOUT_NO_INF && isinf(y[i]));
    if (!bad)
        return AU_OK;
    size_t i = 0;
    while (
        !((flags & AU_LAYOUT_NO_NAN && isnan(y[i])) || (flags & AU_LAYOUT_NO_INF && isinf(y[i]))))
        i++;
    return au_diag_set(
        d, AU_PLUGIN, "%s: plugin output %g at element %zu, but the format has no %s",
        au_numsys_fmt_plugin(f)->desc->name, (double)y[i], i, isnan(y[i]) ? "NaN" : "infinity");
}

static int need_rng(const au_numsys_fmt *f, const struct au_pcg32 *rng, struct au_diag *d)
{
    if (rng || !au_numsys_fmt_is_stochastic(f))
        return AU_OK;
    return au_diag_set(d, AU_INVALID, "%s: stochastic rounding needs a random stream (rng)",
                       au_numsys_fmt_plugin(f)->desc->name);
}

static int plugin_failed(const au_numsys_fmt *f, const char *what, int rc, size_t g,
                         struct au_diag *d)
{
    return au_diag_set(d, AU_PLUGIN, "%s: plugin %s failed on block group %zu (status %d)",
                       au_numsys_fmt_plugin(f)->desc->name, what, g, rc);
}

/* A plugin status is 0, negative, or (encode/quantize only) AU_NUMSYS_NAN_ZEROED; any
 * other positive value is garbage, not a success to pass on. */
static int check_status(const au_numsys_fmt *f, const char *what, int rc, bool nan_ok, size_t g,
                        struct au_diag *d)
{
    if (rc < 0)
        return plugin_failed(f, what, rc, g, d);
    if (rc > 0 && !(nan_ok && rc == AU_NUMSYS_NAN_ZEROED))
        return au_diag_set(d, AU_PLUGIN,
                           "%s: plugin %s returned status %d on block group %zu (expected 0, %s"
                           "a negative error)",
                           au_numsys_fmt_plugin(f)->desc->name, what, rc, g,
                           nan_ok ? "1 (NaN zeroed) or " : "or ");
    return rc;
}

/* Fills words the plugin must overwrite with all ones, which no valid code or metadata
 * narrower than 64 bits can hold: a plugin that writes too few (a wrong length or block
 * count) then fails the width check instead of leaving stale words to be trusted. */
static void poison(uint64_t *w, size_t n, uint32_t bits)
{
    if (bits < 64)
        memset(w, 0xff, n * sizeof(*w));
}

/* Checks one group's encode output against the layout; e0 and b0 number its first
 * element and block in messages. */
static int check_encoded(const au_numsys_fmt *f, const uint64_t *codes, size_t n,
                         const uint64_t *meta, size_t n_meta, size_t e0, size_t b0,
                         struct au_diag *d)
{
    const struct au_numsys_layout *l = au_numsys_fmt_layout(f);
    const char *name = au_numsys_fmt_plugin(f)->desc->name;
    size_t i = first_wide(codes, n, width_mask(l->elem_bits));
    if (i < n && codes[i] == ~0ULL)
        return au_diag_set(d, AU_PLUGIN,
                           "%s: plugin left the code of element %zu unwritten "
                           "(%zu elements in the call)",
                           name, e0 + i, n);
    if (i < n)
        return au_diag_set(d, AU_PLUGIN,
                           "%s: plugin wrote code 0x%llx wider than %u bits at element %zu", name,
                           (unsigned long long)codes[i], l->elem_bits, e0 + i);
    i = n_meta ? first_wide(meta, n_meta, width_mask(l->meta_bits)) : 0;
    if (i < n_meta && meta[i] == ~0ULL)
        return au_diag_set(d, AU_PLUGIN,
                           "%s: plugin left the metadata of block %zu unwritten "
                           "(%zu blocks in the call)",
                           name, b0 + i, n_meta);
    if (i < n_meta)
        return au_diag_set(d, AU_PLUGIN,
                           "%s: plugin wrote metadata 0x%llx wider than %u bits in block %zu", name,
                           (unsigned long long)meta[i], l->meta_bits, b0 + i);
    return AU_OK;
}

int au_numsys_encode_tensor(const au_numsys_fmt *f, const struct au_numsys_blocks *b,
                            const float *x, uint64_t *codes, uint64_t *meta, struct au_pcg32 *rng,
                            struct au_diag *d)
{
    const struct au_numsys_desc *ds = au_numsys_fmt_plugin(f)->desc;
    const struct au_numsys_layout *l = au_numsys_fmt_layout(f);
    size_t gl = b->group_len, bpg = b->blocks_per_group;
    int result = need_rng(f, rng, d);
    if (result < 0)
        return result;
    if (b->n_blocks && !meta)
        return au_diag_set(d, AU_INVALID, "%s: encode needs a metadata buffer", ds->name);
    for (size_t g = 0; g < b->n_groups; g++) {
        uint64_t *cg = codes + g * gl, *mg = bpg ? meta + g * bpg : NULL;
        poison(cg, gl, l->elem_bits);
        if (mg)
            poison(mg, bpg, l->meta_bits);
        int rc = check_status(f, "encode",
                              ds->encode(au_numsys_fmt_inst(f), x + g * gl, gl, cg, mg, rng), true,
                              g, d);
        if (rc < 0)
            return rc;
        if (rc == AU_NUMSYS_NAN_ZEROED)
            result = rc;
        rc = check_encoded(f, cg, gl, mg, bpg, g * gl, g * bpg, d);
        if (rc < 0)
            return rc;
    }
    return result;
}

int au_numsys_encode_at(const au_numsys_fmt *f, const struct au_numsys_blocks *b, const float *x,
                        size_t i, uint64_t *code, uint64_t *meta, struct au_pcg32 *rng,
                        struct au_diag *d)
{
    const struct au_numsys_desc *ds = au_numsys_fmt_plugin(f)->desc;
    const struct au_numsys_layout *l = au_numsys_fmt_layout(f);
    if (ds->struct_size < offsetof(struct au_numsys_desc, encode_at) + sizeof(ds->encode_at) ||
        !ds->encode_at || b->n_groups != 1 || b->blocks_per_group > 1 || i >= b->numel)
        return AU_UNSUPPORTED;
    int result = need_rng(f, rng, d);
    if (result < 0)
        return result;
    poison(code, 1, l->elem_bits);
    if (b->blocks_per_group)
        poison(meta, 1, l->meta_bits);
    int rc = check_status(f, "encode_at",
                          ds->encode_at(au_numsys_fmt_inst(f), x, b->numel, i, code,
                                        b->blocks_per_group ? meta : NULL, rng),
                          true, 0, d);
    if (rc < 0)
        return rc;
    int rc2 =
        check_encoded(f, code, 1, b->blocks_per_group ? meta : NULL, b->blocks_per_group, i, 0, d);
    return rc2 < 0 ? rc2 : rc;
}

int au_numsys_decode_tensor(const au_numsys_fmt *f, const struct au_numsys_blocks *b,
                            const uint64_t *codes, const uint64_t *meta, float *y,
                            struct au_diag *d)
{
    const struct au_numsys_desc *ds = au_numsys_fmt_plugin(f)->desc;
    const struct au_numsys_layout *l = au_numsys_fmt_layout(f);
    size_t gl = b->group_len, bpg = b->blocks_per_group;
    size_t i = first_wide(codes, b->numel, width_mask(l->elem_bits));
    if (i < b->numel)
        return au_diag_set(d, AU_RANGE, "%s: code 0x%llx at element %zu is wider than %u bits",
                           ds->name, (unsigned long long)codes[i], i, l->elem_bits);
    if (b->n_blocks && !meta)
        return au_diag_set(d, AU_INVALID, "%s: decode needs the metadata", ds->name);
    i = b->n_blocks ? first_wide(meta, b->n_blocks, width_mask(l->meta_bits)) : 0;
    if (i < b->n_blocks)
        return au_diag_set(d, AU_RANGE, "%s: metadata 0x%llx of block %zu is wider than %u bits",
                           ds->name, (unsigned long long)meta[i], i, l->meta_bits);
    for (size_t g = 0; g < b->n_groups; g++) {
        int rc = ds->decode(au_numsys_fmt_inst(f), codes + g * gl, bpg ? meta + g * bpg : NULL, gl,
                            y + g * gl);
        if (check_status(f, "decode", rc, false, g, d) < 0)
            return AU_PLUGIN;
    }
    return check_values(f, y, b->numel, d);
}

/* One group through encode + decode, for plugins without a fused quantize; the codes
 * between the two are checked as in au_numsys_encode_tensor. This is the hot path, so
 * only the last code and metadata word are poisoned: that catches the usual wrong
 * length (one short, or a block count off by one) at O(1) cost. */
static int quantize_group(const au_numsys_fmt *f, const struct au_numsys_blocks *b, size_t g,
                          float *x, uint64_t *codes, uint64_t *meta, struct au_pcg32 *rng,
                          struct au_diag *d)
{
    const struct au_numsys_desc *ds = au_numsys_fmt_plugin(f)->desc;
    size_t n = b->group_len, bpg = b->blocks_per_group;
    poison(codes + n - 1, 1, au_numsys_fmt_layout(f)->elem_bits);
    if (bpg)
        poison(meta + bpg - 1, 1, au_numsys_fmt_layout(f)->meta_bits);
    int rc = check_status(f, "encode", ds->encode(au_numsys_fmt_inst(f), x, n, codes, meta, rng),
                          true, g, d);
    if (rc < 0)
        return rc;
    int rc2 = check_encoded(f, codes, n, meta, bpg, g * n, g * bpg, d);
    if (rc2 == AU_OK)
        rc2 = check_status(f, "decode", ds->decode(au_numsys_fmt_inst(f), codes, meta, n, x), false,
                           g, d);
    return rc2 < 0 ? rc2 : rc;
}

int au_numsys_quantize_tensor(const au_numsys_fmt *f, const struct au_numsys_blocks *b, float *x,
                              uint64_t *codes_tmp, uint64_t *meta_tmp, struct au_pcg32 *rng,
                              struct au_diag *d)
{
    const struct au_numsys_desc *ds = au_numsys_fmt_plugin(f)->desc;
    size_t gl = b->group_len, bpg = b->blocks_per_group;
    uint64_t *own_codes = NULL, *own_meta = NULL;
    int result = AU_OK, rc = need_rng(f, rng, d);
    if (!ds->quantize && b->n_groups && (!codes_tmp || (bpg && !meta_tmp))) {
        own_codes = codes_tmp ? NULL : au_malloc(gl * sizeof(*own_codes));
        own_meta = meta_tmp || !bpg ? NULL : au_malloc(bpg * sizeof(*own_meta));
        if ((!codes_tmp && !own_codes) || (bpg && !meta_tmp && !own_meta))
            rc = au_diag_set(d, AU_NOMEM, "%s: out of memory for quantize scratch", ds->name);
        codes_tmp = codes_tmp ? codes_tmp : own_codes;
        meta_tmp = meta_tmp ? meta_tmp : own_meta;
    }
    for (size_t g = 0; rc == AU_OK && g < b->n_groups; g++) {
        int r =
            ds->quantize
                ? check_status(f, "quantize",
                               ds->quantize(au_numsys_fmt_inst(f), x + g * gl, gl, rng), true, g, d)
                : quantize_group(f, b, g, x + g * gl, codes_tmp, meta_tmp, rng, d);
        if (r < 0)
            rc = r;
        else if (r == AU_NUMSYS_NAN_ZEROED)
            result = r;
    }
    au_free(own_codes);
    au_free(own_meta);
    if (rc == AU_OK)
        rc = check_values(f, x, b->numel, d);
    return rc < 0 ? rc : result;
}

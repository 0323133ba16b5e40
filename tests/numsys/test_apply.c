/* Tensor apply (numsys/apply.c): the block rule for every kind, role and awkward shape
 * (rows that do not end on a block edge, 1-D activations, scalars, empty tensors); an
 * instrumented block plugin shows each metadata word covers exactly the elements
 * au_numsys_block_range names, and a metadata flip changes exactly those; plugin output
 * is re-checked (wide codes, wide metadata, NaN from a format without NaN).
 */
#include "numsys/numsys_host.h"
#include "tests/check.h"
#include "tests/plugins/hostile.h"

#include <stdbool.h>
#include <string.h>

static au_numsys_registry *reg;

/* ---- "probe": meta = max |x| of the block (float bits), code = x / max ---- */
static const struct au_bitfield probe_meta_fields[] = {{"scale", 0, 32}};
static const struct au_param probe_params[] = {
    {"kind", AU_PARAM_CHOICE, "\"elems\"", 0, 0, "tensor|channel|elems", ""},
    {"k", AU_PARAM_INT, "4", 1, 64, NULL, "block length for elems"},
    {"defect", AU_PARAM_INT, "0", 0, 1, NULL, "1: metadata wider than meta_bits"},
};

struct probe {
    uint32_t kind, k, defect;
};

static int probe_create(const char *js, au_numsys_inst **out, char *err, size_t len)
{
    (void)err;
    (void)len;
    struct probe *p = calloc(1, sizeof(*p));
    if (!p)
        return -1;
    p->kind = strstr(js, "\"tensor\"")    ? AU_BLOCK_TENSOR
              : strstr(js, "\"channel\"") ? AU_BLOCK_CHANNEL
                                          : AU_BLOCK_ELEMS;
    const char *k = strstr(js, "\"k\":"), *dfx = strstr(js, "\"defect\":");
    p->k = k ? (uint32_t)strtoul(k + 4, NULL, 10) : 4;
    p->defect = dfx ? (uint32_t)(dfx[9] - '0') : 0;
    *out = (au_numsys_inst *)p;
    return 0;
}

static void probe_destroy(au_numsys_inst *in)
{
    free(in);
}

static void probe_layout(const au_numsys_inst *in, struct au_numsys_layout *out)
{
    const struct probe *p = (const struct probe *)in;
    *out = (struct au_numsys_layout){.elem_bits = 32,
                                     .meta_bits = p->defect ? 16 : 32,
                                     .block_kind = p->kind,
                                     .block_len = p->k,
                                     .n_meta_fields = p->defect ? 0 : 1,
                                     .meta_fields = probe_meta_fields};
}

static int probe_encode(const au_numsys_inst *in, const float *x, size_t n, uint64_t *codes,
                        uint64_t *meta, struct au_pcg32 *rng)
{
    const struct probe *p = (const struct probe *)in;
    size_t bl = p->kind == AU_BLOCK_ELEMS ? p->k : n;
    (void)rng;
    for (size_t s = 0, b = 0; s < n; s += bl, b++) {
        size_t e = s + bl < n ? s + bl : n;
        float mx = 0;
        for (size_t i = s; i < e; i++)
            mx = fmaxf(mx, fabsf(x[i]));
        mx = mx > 0 ? mx : 1;
        uint32_t mb;
        memcpy(&mb, &mx, 4);
        meta[b] = mb; /* with defect, wider than the 16 bits the layout claims */
        for (size_t i = s; i < e; i++) {
            float q = x[i] / mx;
            uint32_t qb;
            memcpy(&qb, &q, 4);
            codes[i] = qb;
        }
    }
    return 0;
}

static int probe_decode(const au_numsys_inst *in, const uint64_t *codes, const uint64_t *meta,
                        size_t n, float *y)
{
    const struct probe *p = (const struct probe *)in;
    size_t bl = p->kind == AU_BLOCK_ELEMS ? p->k : n;
    for (size_t i = 0; i < n; i++) {
        uint32_t qb = (uint32_t)codes[i], mb = (uint32_t)meta[i / bl];
        float q, m;
        memcpy(&q, &qb, 4);
        memcpy(&m, &mb, 4);
        y[i] = q * m;
    }
    return 0;
}

static const struct au_numsys_desc probe_desc = {
    .abi_version = AU_NUMSYS_ABI_VERSION,
    .struct_size = sizeof(struct au_numsys_desc),
    .name = "probe",
    .summary = "block max scale (test)",
    .params = probe_params,
    .n_params = 3,
    .create = probe_create,
    .destroy = probe_destroy,
    .layout = probe_layout,
    .encode = probe_encode,
    .decode = probe_decode,
};

/* ---- block rule ---- */

static void expect_blocks(uint32_t kind, uint32_t k, int n_dims, const int64_t *ne, uint32_t role,
                          size_t n_groups, size_t group_len, size_t n_blocks)
{
    struct au_numsys_layout l = {
        .elem_bits = 8, .meta_bits = kind ? 8u : 0u, .block_kind = kind, .block_len = k};
    struct au_numsys_blocks b;
    struct au_diag d;
    CHECK_EQ_INT(au_numsys_blocks_init(&b, &l, n_dims, ne, role, &d), 0);
    CHECK_EQ_INT(b.n_groups, n_groups);
    CHECK_EQ_INT(b.group_len, group_len);
    CHECK_EQ_INT(b.n_blocks, n_blocks);
    CHECK_EQ_INT(b.n_groups * b.group_len, b.numel);
    /* block_of and block_range agree: every element is in exactly the block that says so */
    size_t covered = 0;
    for (size_t blk = 0; blk < b.n_blocks; blk++) {
        size_t first, len;
        au_numsys_block_range(&b, blk, &first, &len);
        CHECK(len > 0);
        for (size_t i = first; i < first + len; i++)
            CHECK_EQ_INT(au_numsys_block_of(&b, i), blk);
        covered += len;
    }
    CHECK_EQ_INT(covered, kind ? b.numel : 0);
}

static void test_blocks_follow_the_rule_for_every_kind_and_role(void)
{
    const int64_t nchw[4] = {2, 3, 4, 5}, w[4] = {6, 3, 3, 3}, vec[1] = {5}, row6[2] = {2, 6},
                  row8[2] = {2, 8}, empty[2] = {0, 3}, one[1] = {1};
    expect_blocks(AU_BLOCK_NONE, 0, 4, nchw, AU_NUMSYS_ROLE_ACT, 1, 120, 0);
    expect_blocks(AU_BLOCK_TENSOR, 0, 4, nchw, AU_NUMSYS_ROLE_ACT, 2, 60, 2); /* per sample */
    expect_blocks(AU_BLOCK_TENSOR, 0, 4, w, AU_NUMSYS_ROLE_WEIGHT, 1, 162, 1);
    expect_blocks(AU_BLOCK_CHANNEL, 0, 4, nchw, AU_NUMSYS_ROLE_ACT, 6, 20, 6); /* (n, c) */
    expect_blocks(AU_BLOCK_CHANNEL, 0, 4, w, AU_NUMSYS_ROLE_WEIGHT, 6, 27, 6); /* axis 0 */
    expect_blocks(AU_BLOCK_CHANNEL, 0, 1, vec, AU_NUMSYS_ROLE_ACT, 5, 1, 5);   /* no axis 1 */
    expect_blocks(AU_BLOCK_ELEMS, 4, 2, row8, AU_NUMSYS_ROLE_ACT, 1, 16, 4);   /* rows align */
    expect_blocks(AU_BLOCK_ELEMS, 4, 2, row6, AU_NUMSYS_ROLE_ACT, 2, 6, 4);    /* 4 + 2 per row */
    expect_blocks(AU_BLOCK_ELEMS, 32, 4, nchw, AU_NUMSYS_ROLE_ACT, 24, 5, 24);
    expect_blocks(AU_BLOCK_TENSOR, 0, 0, NULL, AU_NUMSYS_ROLE_ACT, 1, 1, 1); /* scalar */
    expect_blocks(AU_BLOCK_ELEMS, 4, 2, empty, AU_NUMSYS_ROLE_ACT, 0, 3, 0);
    expect_blocks(AU_BLOCK_TENSOR, 0, 1, one, AU_NUMSYS_ROLE_WEIGHT, 1, 1, 1);
    struct au_numsys_layout l = {
        .elem_bits = 8, .meta_bits = 8, .block_kind = AU_BLOCK_ELEMS, .block_len = 4};
    struct au_numsys_blocks b;
    struct au_diag d;
    const int64_t neg[2] = {2, -1}, huge[3] = {1LL << 40, 1LL << 40, 1LL << 40};
    CHECK_EQ_INT(au_numsys_blocks_init(&b, &l, 2, neg, AU_NUMSYS_ROLE_ACT, &d), AU_SHAPE);
    CHECK_EQ_INT(au_numsys_blocks_init(&b, &l, 3, huge, AU_NUMSYS_ROLE_ACT, &d), AU_SHAPE);
    CHECK_EQ_INT(au_numsys_blocks_init(&b, &l, 2, row6, 9, &d), AU_INVALID);
    CHECK(strstr(d.msg, "unknown tensor role 9") != NULL);
}

/* Encodes x[i] = i+1 through probe; each block's metadata must be the largest value in
 * the range block_range names (its last element), and a flip there changes exactly it. */
static void check_probe(const char *spec, int n_dims, const int64_t *ne, uint32_t role)
{
    au_numsys_fmt *f = NULL;
    struct au_diag d;
    struct au_numsys_blocks b;
    CHECK_EQ_INT(au_numsys_fmt_new(reg, spec, &f, &d), 0);
    if (!f)
        return;
    CHECK_EQ_INT(au_numsys_blocks_init(&b, au_numsys_fmt_layout(f), n_dims, ne, role, &d), 0);
    float *x = malloc(b.numel * 4), *y = malloc(b.numel * 4), *y2 = malloc(b.numel * 4);
    uint64_t *codes = malloc(b.numel * 8), *meta = malloc(b.n_blocks * 8);
    for (size_t i = 0; i < b.numel; i++)
        x[i] = (float)(i + 1);
    CHECK_EQ_INT(au_numsys_encode_tensor(f, &b, x, codes, meta, NULL, &d), 0);
    CHECK_EQ_INT(au_numsys_decode_tensor(f, &b, codes, meta, y, &d), 0);
    for (size_t blk = 0; blk < b.n_blocks; blk++) {
        size_t first, len;
        float m;
        uint32_t mb = (uint32_t)meta[blk];
        au_numsys_block_range(&b, blk, &first, &len);
        memcpy(&m, &mb, 4);
        CHECK(m == (float)(first + len));
    }
    for (size_t i = 0; i < b.numel; i++)
        CHECK_NEAR(y[i], x[i], 1e-6 * x[i]);
    size_t blk = b.n_blocks / 2, first, len, bad = 0;
    au_numsys_block_range(&b, blk, &first, &len);
    au_numsys_flip_meta(meta, blk, 30);
    CHECK_EQ_INT(au_numsys_decode_tensor(f, &b, codes, meta, y2, &d), 0);
    for (size_t i = 0; i < b.numel; i++)
        bad += (y2[i] != y[i]) != (i >= first && i < first + len);
    CHECK_EQ_U64(bad, 0);
    /* quantize without a fused path: internal scratch, then the caller's (one group) */
    memcpy(y2, x, b.numel * 4);
    CHECK_EQ_INT(au_numsys_quantize_tensor(f, &b, y2, NULL, NULL, NULL, &d), 0);
    CHECK(memcmp(y2, y, b.numel * 4) == 0);
    memcpy(y2, x, b.numel * 4);
    CHECK_EQ_INT(au_numsys_quantize_tensor(f, &b, y2, codes, meta, NULL, &d), 0);
    CHECK(memcmp(y2, y, b.numel * 4) == 0);
    free(x);
    free(y);
    free(y2);
    free(codes);
    free(meta);
    au_numsys_fmt_free(f);
}

static void test_metadata_covers_exactly_its_block(void)
{
    const int64_t nchw[4] = {2, 3, 4, 5}, w[2] = {6, 10}, row6[2] = {3, 6};
    check_probe("probe{kind:tensor}", 4, nchw, AU_NUMSYS_ROLE_ACT);
    check_probe("probe{kind:tensor}", 2, w, AU_NUMSYS_ROLE_WEIGHT);
    check_probe("probe{kind:channel}", 4, nchw, AU_NUMSYS_ROLE_ACT);
    check_probe("probe{kind:channel}", 2, w, AU_NUMSYS_ROLE_WEIGHT);
    check_probe("probe{kind:elems,k:4}", 2, row6, AU_NUMSYS_ROLE_ACT);
    check_probe("probe{kind:elems,k:5}", 4, nchw, AU_NUMSYS_ROLE_ACT);
    check_probe("probe{kind:elems,k:3}", 2, row6, AU_NUMSYS_ROLE_WEIGHT);
}

static int run(const char *spec, float *x, size_t n, bool decode, struct au_pcg32 *rng,
               struct au_diag *d)
{
    au_numsys_fmt *f = NULL;
    struct au_numsys_blocks b;
    int64_t ne[1] = {(int64_t)n};
    uint64_t codes[64], meta[64];
    int rc = au_numsys_fmt_new(reg, spec, &f, d);
    if (rc == 0)
        rc = au_numsys_blocks_init(&b, au_numsys_fmt_layout(f), 1, ne, AU_NUMSYS_ROLE_ACT, d);
    if (rc == 0)
        rc = au_numsys_encode_tensor(f, &b, x, codes, meta, rng, d);
    if (rc >= 0 && decode) {
        int rc2 = au_numsys_decode_tensor(f, &b, codes, meta, x, d);
        rc = rc2 < 0 ? rc2 : rc;
    }
    au_numsys_fmt_free(f);
    return rc;
}

static void test_host_rechecks_plugin_output(void)
{
    static struct au_numsys_desc h8 = H8_DESC("h8");
    struct au_diag d;
    CHECK_EQ_INT(au_numsys_registry_add(reg, &h8, "test:h8", &d), 0);
    float x[8] = {1, -2, 3, 4, 5, 6, 7, 8};
    CHECK_EQ_INT(run("h8", x, 8, true, NULL, &d), 0);
    CHECK(x[1] == -2.0f);
    CHECK_EQ_INT(run("h8{defect:1}", x, 8, true, NULL, &d), AU_PLUGIN);
    CHECK(strstr(d.msg, "h8: plugin wrote code 0x105 wider than 8 bits at element 4") != NULL);
    CHECK_EQ_INT(run("h8{defect:2}", x, 8, true, NULL, &d), AU_PLUGIN);
    CHECK(strstr(d.msg, "at element 4, but the format has no NaN") != NULL);
    CHECK_EQ_INT(run("probe{defect:1}", x, 8, false, NULL, &d), AU_PLUGIN);
    CHECK(strstr(d.msg, "probe: plugin wrote metadata 0x") != NULL &&
          strstr(d.msg, "wider than 16 bits in block 0") != NULL);
    /* decode input is checked before the plugin sees it */
    au_numsys_fmt *f = NULL;
    struct au_numsys_blocks b;
    int64_t ne[1] = {4};
    uint64_t codes[4] = {1, 2, 0x1ff, 3};
    float y[4];
    CHECK_EQ_INT(au_numsys_fmt_new(reg, "h8", &f, &d), 0);
    CHECK_EQ_INT(au_numsys_blocks_init(&b, au_numsys_fmt_layout(f), 1, ne, 0, &d), 0);
    CHECK_EQ_INT(au_numsys_decode_tensor(f, &b, codes, NULL, y, &d), AU_RANGE);
    CHECK(strstr(d.msg, "h8: code 0x1ff at element 2 is wider than 8 bits") != NULL);
    au_numsys_fmt_free(f);
    float z[4] = {1, 2, 3, 4};
    CHECK_EQ_INT(au_numsys_fmt_new(reg, "h8{defect:2}", &f, &d), 0);
    if (f)
        CHECK_EQ_INT(au_numsys_quantize_tensor(f, &b, z, NULL, NULL, NULL, &d), AU_PLUGIN);
    au_numsys_fmt_free(f);
}

static void test_nan_zeroed_and_stochastic_rng_are_reported(void)
{
    struct au_diag d;
    struct au_pcg32 rng;
    float x[4] = {1, NAN, 3, 4};
    CHECK_EQ_INT(run("fp{exponent:4,mantissa:3,specials:none}", x, 4, true, NULL, &d),
                 AU_NUMSYS_NAN_ZEROED);
    CHECK(x[1] == 0.0f);
    float s[4] = {1.1f, 2, 3, 4};
    CHECK_EQ_INT(run("fp8_e4m3{rounding:stochastic}", s, 4, true, NULL, &d), AU_INVALID);
    CHECK(strstr(d.msg, "fp: stochastic rounding needs a random stream") != NULL);
    au_pcg32_seed(&rng, check_seed(), 1u);
    CHECK_EQ_INT(run("fp8_e4m3{rounding:stochastic}", s, 4, true, &rng, &d), 0);
    CHECK(s[0] == 1.0f || s[0] == 1.125f);
}

int main(void)
{
    struct au_diag d;
    if (au_numsys_registry_new(&reg, &d) != 0 ||
        au_numsys_registry_add(reg, &probe_desc, "test:probe", &d) != 0) {
        fprintf(stderr, "setup: %s\n", d.msg);
        return 1;
    }
    test_blocks_follow_the_rule_for_every_kind_and_role();
    test_metadata_covers_exactly_its_block();
    test_host_rechecks_plugin_output();
    test_nan_zeroed_and_stochastic_rng_are_reported();
    au_numsys_registry_free(reg);
    return check_report("test_apply");
}

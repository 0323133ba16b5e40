/* mx: OCP Microscaling v1.0. A block (32) shares an E8M0 scale X = 2^(E-127) (0xFF is NaN),
 * E = floor(log2(absmax)) - emax_elem + 127; elements (fp8/fp6/fp4, int8 = code * 2^-6) are
 * saturate(round(x / X)). Rounding adds C = 2^(k + 23 - m), k the binade but at least the
 * element's min normal, so the float adder rounds to the element's quantum, subnormals and
 * binade carries included. Inf saturates (e5m2 keeps it); NaN: element NaN or 0 (NAN_ZEROED). */
#include "common.h"
#include "core/status.h"

#include <float.h>
#include <stdint.h>
#include <stdlib.h>

#define RND_NE 0
#define RND_TZ 1
#define RND_SR 2

struct elem {
    const char *name;
    int bits, e, m, bias, emax; /* e = 0: int8 */
    float max;
    int has_inf, has_nan;
};

static const struct elem elems[] = {
    {"fp8_e4m3", 8, 4, 3, 7, 8, 448.0f, 0, 1}, {"fp8_e5m2", 8, 5, 2, 15, 15, 57344.0f, 1, 1},
    {"fp6_e2m3", 6, 2, 3, 1, 2, 7.5f, 0, 0},   {"fp6_e3m2", 6, 3, 2, 3, 4, 28.0f, 0, 0},
    {"fp4_e2m1", 4, 2, 1, 1, 2, 6.0f, 0, 0},   {"int8", 8, 0, 6, 0, 0, 127.0f / 64.0f, 0, 0},
};

struct au_numsys_inst {
    const struct elem *el;
    int rnd;
    uint32_t kind, block_len;
    struct au_bitfield efields[3], mfields[1];
    uint32_t n_efields;
};

static const struct au_param params[] = {
    {"element", AU_PARAM_CHOICE, "\"fp8_e4m3\"", 0, 0,
     "fp8_e4m3|fp8_e5m2|fp6_e2m3|fp6_e3m2|fp4_e2m1|int8", "element data type"},
    {"granularity", AU_PARAM_CHOICE, "\"block\"", 0, 0, "block|tensor|channel",
     "which elements share a scale (OCP: block of 32)"},
    {"block", AU_PARAM_INT, "32", 1, 65536, "tensor|channel",
     "elements per block; the word tensor or channel overrides granularity"},
    {"rounding", AU_PARAM_CHOICE, "\"nearest_even\"", 0, 0, "nearest_even|toward_zero|stochastic",
     "rounding of x / X to the element"},
};
#define N_PARAMS (sizeof(params) / sizeof(params[0]))

static const struct au_preset presets[] = {
    {"mxfp8_e4m3", "{\"element\":\"fp8_e4m3\"}"}, {"mxfp8_e5m2", "{\"element\":\"fp8_e5m2\"}"},
    {"mxfp6_e2m3", "{\"element\":\"fp6_e2m3\"}"}, {"mxfp6_e3m2", "{\"element\":\"fp6_e3m2\"}"},
    {"mxfp4_e2m1", "{\"element\":\"fp4_e2m1\"}"}, {"mxint8", "{\"element\":\"int8\"}"},
};

static const uint32_t kinds[] = {AU_BLOCK_ELEMS, AU_BLOCK_TENSOR, AU_BLOCK_CHANNEL};

static void set_fields(au_numsys_inst *s)
{
    const struct elem *el = s->el;
    uint32_t k = 0;
    s->efields[k++] = (struct au_bitfield){"sign", (uint8_t)(el->bits - 1), 1};
    if (el->e) {
        s->efields[k++] = (struct au_bitfield){"exponent", (uint8_t)el->m, (uint8_t)el->e};
        s->efields[k++] = (struct au_bitfield){"mantissa", 0, (uint8_t)el->m};
    } else {
        s->efields[k++] = (struct au_bitfield){"value", 0, (uint8_t)(el->bits - 1)};
    }
    s->n_efields = k;
    s->mfields[0] = (struct au_bitfield){"scale", 0, 8};
}

static int mx_create(const char *params_json, au_numsys_inst **out, char *err, size_t err_len)
{
    int el, gran, bword;
    long blk = 0;
    *out = NULL;
    cJSON *j = params_json ? cJSON_Parse(params_json) : NULL;
    if (params_json && !j) {
        snprintf(err, err_len, "mx: parameters are not valid JSON");
        return AU_INVALID;
    }
    au_numsys_inst *s = calloc(1, sizeof(*s));
    int bad =
        !s || au_p_check_keys(j, params, N_PARAMS, err, err_len) ||
        au_p_choice(j, "element", params[0].choices, 0, &el, err, err_len) ||
        au_p_choice(j, "granularity", params[1].choices, 0, &gran, err, err_len) ||
        au_p_int_or_word(j, "block", "tensor|channel", 32, 1, 65536, &blk, &bword, err, err_len) ||
        au_p_choice(j, "rounding", params[3].choices, 0, &s->rnd, err, err_len);
    cJSON_Delete(j);
    if (bad) {
        char tmp[256];
        snprintf(tmp, sizeof(tmp), "mx: %s", s ? err : "out of memory");
        snprintf(err, err_len, "%s", tmp);
        free(s);
        return s ? AU_INVALID : AU_NOMEM;
    }
    s->el = &elems[el];
    s->kind = bword >= 0 ? (bword ? AU_BLOCK_CHANNEL : AU_BLOCK_TENSOR) : kinds[gran];
    s->block_len = s->kind == AU_BLOCK_ELEMS ? (uint32_t)blk : 0;
    set_fields(s);
    *out = s;
    return 0;
}

static void mx_destroy(au_numsys_inst *s)
{
    free(s);
}

static void mx_layout(const au_numsys_inst *s, struct au_numsys_layout *l)
{
    memset(l, 0, sizeof(*l));
    l->elem_bits = (uint32_t)s->el->bits;
    l->meta_bits = 8;
    l->block_kind = s->kind;
    l->flags = 0; /* the E8M0 NaN scale, and 2^127 times an element overflows */
    l->block_len = s->block_len;
    l->n_elem_fields = s->n_efields;
    l->n_meta_fields = 1;
    l->elem_fields = s->efields;
    l->meta_fields = s->mfields;
}

static inline uint32_t f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline float pow2f(int k) /* k in [-149, 127] */
{
    return k >= -126 ? u2f((uint32_t)(k + 127) << 23) : u2f(1u << (k + 149));
}

static int floor_log2f(float a) /* finite a > 0 */
{
    uint32_t u = f2u(a);
    int e = (int)(u >> 23) - 127;
    return e > -127 ? e : (31 - __builtin_clz(u)) - 149;
}

static float absmax_finite(const float *x, size_t n, int *nan)
{
    float mx = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        *nan |= a != a;
        a = a <= FLT_MAX ? a : 0.0f;
        mx = a > mx ? a : mx;
    }
    return mx;
}

/* Biased E8M0 scale exponent of a block (0 for an all-zero block). */
static int scale_exp(const struct elem *el, float absmax)
{
    int e = absmax > 0 ? floor_log2f(absmax) - el->emax + 127 : 0;
    return e < 0 ? 0 : e > 254 ? 254 : e;
}

/* The quantum of the element grid around a = |v| (int8: 2^-6), and C = quantum * 2^23. */
static float elem_c(const struct elem *el, float a)
{
    if (!el->e)
        return pow2f(-6 + 23);
    int k = a > 0 && a <= FLT_MAX ? floor_log2f(a) : 0, kmin = 1 - el->bias;
    k = k < kmin ? kmin : k;
    return pow2f(k - el->m + 23);
}

/* |v| rounded to the element grid and saturated (v finite; the sign is applied by callers). */
static float elem_round(const au_numsys_inst *s, float a, struct au_pcg32 *rng)
{
    const struct elem *el = s->el;
    float c = elem_c(el, a), q = c * 0x1p-23f, r;
    if (a >= 2 * el->max)
        return el->max;
    if (s->rnd == RND_NE) {
        r = (a + c) - c;
    } else {
        r = (a + c) - c;
        r = r > a ? r - q : r; /* the lower neighbour */
        if (s->rnd == RND_SR)
            r += au_pcg32_uniform(rng) < (double)(a - r) / q ? q : 0.0f;
    }
    return r < el->max ? r : el->max;
}

static uint64_t elem_code(const struct elem *el, float v, int *n_nan)
{
    uint64_t sign = (uint64_t)(signbit(v) != 0) << (el->bits - 1);
    float a = fabsf(v);
    if (isnan(v)) { /* the element's NaN, or 0 where it has none */
        *n_nan += !el->has_nan;
        return el->has_nan ? (1ull << (el->bits - 1)) - 1 : 0;
    }
    if (isinf(v)) /* only e5m2 has inf; the others were saturated already */
        return sign | ((uint64_t)((1 << el->e) - 1) << el->m);
    if (!el->e)
        return (uint64_t)(int64_t)(v * 64.0f) & 0xFFu;
    int kmin = 1 - el->bias;
    if (a < pow2f(kmin)) /* subnormal or zero: E = 0 */
        return sign | (uint64_t)(a * pow2f(el->m - kmin));
    int k = floor_log2f(a);
    uint64_t mant = (uint64_t)(a * pow2f(el->m - k)) - (1ull << el->m);
    return sign | ((uint64_t)(k + el->bias) << el->m) | mant;
}

static float elem_value(const struct elem *el, uint64_t c)
{
    int sbit = el->bits - 1;
    if (!el->e) {
        int64_t q = (int64_t)((c & 0xFF) ^ 0x80) - 0x80;
        return (float)q * 0x1p-6f;
    }
    uint64_t e = (c >> el->m) & ((1u << el->e) - 1), mant = c & ((1u << el->m) - 1);
    float v;
    if (e == (1u << el->e) - 1 && el->has_inf) /* e5m2: IEEE specials */
        v = mant ? NAN : INFINITY;
    else if (e == (1u << el->e) - 1 && el->has_nan && mant == (1u << el->m) - 1)
        v = NAN; /* e4m3: S.1111.111 */
    else if (e == 0)
        v = (float)mant * pow2f(1 - el->bias - el->m);
    else
        v = (float)((1u << el->m) + mant) * pow2f((int)e - el->bias - el->m);
    return (c >> sbit) & 1u ? -v : v;
}

/* One element of a block with inverse scale inv (= 1/X, always a float). */
static uint64_t encode_one(const au_numsys_inst *s, float x, float inv, struct au_pcg32 *rng,
                           int *n_nan)
{
    const struct elem *el = s->el;
    if (isnan(x) || (isinf(x) && el->has_inf))
        return elem_code(el, x, n_nan);
    float v = x * inv, r = elem_round(s, fabsf(v), rng);
    return elem_code(el, copysignf(r, v), n_nan);
}

static int encode_block(const au_numsys_inst *s, const float *x, size_t n, uint64_t *codes,
                        uint64_t *meta, struct au_pcg32 *rng)
{
    int n_nan = 0, has_nan = 0;
    int e = scale_exp(s->el, absmax_finite(x, n, &has_nan));
    float inv = pow2f(127 - e);
    *meta = (uint64_t)e;
    for (size_t i = 0; i < n; i++)
        codes[i] = encode_one(s, x[i], inv, rng, &n_nan);
    return n_nan;
}

static int mx_encode(const au_numsys_inst *s, const float *x, size_t n, uint64_t *codes,
                     uint64_t *meta, struct au_pcg32 *rng)
{
    if (s->rnd == RND_SR && !rng)
        return AU_INVALID;
    return au_encode_blocks(s, s->kind == AU_BLOCK_ELEMS ? s->block_len : n, x, n, codes, meta, rng,
                            encode_block);
}

static int mx_decode(const au_numsys_inst *s, const uint64_t *codes, const uint64_t *meta, size_t n,
                     float *y)
{
    size_t bl = s->kind == AU_BLOCK_ELEMS ? s->block_len : n;
    for (size_t i = 0; i < n; i++) {
        int e = (int)(meta[i / bl] & 0xFF);
        /* E8M0 0xFF is NaN: the whole block decodes to NaN. */
        y[i] = e == 0xFF ? NAN : elem_value(s->el, codes[i]) * pow2f(e - 127);
    }
    return 0;
}

struct lanes {
    au_vf inv, x, maxv;
    au_vi kmin_bits, c_add; /* min normal exponent field, (23 - m) << 23 */
    int tz, is_int;
};

/* AU_VW lanes of a finite block, the same float operations as encode_one + mx_decode. */
AU_INLINE au_vf quant_lanes(const struct lanes *l, au_vf x0)
{
    const au_vi sgn = au_vspliti(INT32_MIN), expo = au_vspliti(0x7F800000);
    au_vf v, a, c, r;
    v = x0 * l->inv;
    a = (au_vf)((au_vi)v & ~sgn);
    au_vi eb = (au_vi)a & expo;
    au_vi lo = eb < l->kmin_bits;
    eb = (l->kmin_bits & lo) | (eb & ~lo);    /* the binade, at least the min normal */
    c = (au_vf)((au_vu)eb + (au_vu)l->c_add); /* unsigned: no overflow for finite lanes anyway */
    r = (a + c) - c;
    if (l->tz)
        r = au_vsel(r > a, r - c * 0x1p-23f, r);
    r = au_vsel(r < l->maxv, r, l->maxv);
    r = (au_vf)((au_vi)r | ((au_vi)v & sgn));
    if (l->is_int)
        r = r + 0.0f; /* int8 has no -0 */
    return r * l->x;
}

/* The same rounding done on x itself (every constant scaled by X): exact because X is a
 * power of two, valid while 2^kmin * X is a normal float and max * X is finite. Saves the
 * two scalings per lane on typical blocks. */
AU_INLINE au_vf quant_lanes_x(const struct lanes *l, au_vf x0)
{
    const au_vi sgn = au_vspliti(INT32_MIN), expo = au_vspliti(0x7F800000);
    au_vf a, c, r;
    a = (au_vf)((au_vi)x0 & ~sgn);
    au_vi eb = (au_vi)a & expo;
    au_vi lo = eb < l->kmin_bits;
    eb = (l->kmin_bits & lo) | (eb & ~lo);
    c = (au_vf)((au_vu)eb + (au_vu)l->c_add);
    r = (a + c) - c;
    if (l->tz)
        r = au_vsel(r > a, r - c * 0x1p-23f, r);
    r = au_vsel(r < l->maxv, r, l->maxv);
    r = (au_vf)((au_vi)r | ((au_vi)x0 & sgn));
    if (l->is_int)
        r = r + 0.0f;
    return r;
}

AU_INLINE int quantize_block(const au_numsys_inst *s, float *x, size_t n, struct au_pcg32 *rng)
{
    const struct elem *el = s->el;
    int n_nan = 0, bad = 0;
    uint32_t bits = au_absmax_bits(x, n);
    float amax = u2f(bits);
    if (bits >= 0x7F800000u) /* inf or NaN: the general path leaves them out */
        amax = absmax_finite(x, n, &bad), bad = 1;
    int e = scale_exp(el, amax);
    if (bad || s->rnd == RND_SR) { /* the general path, as encode + decode */
        float inv = pow2f(127 - e), sc = pow2f(e - 127);
        for (size_t i = 0; i < n; i++)
            x[i] = elem_value(el, encode_one(s, x[i], inv, rng, &n_nan)) * sc;
        return n_nan;
    }
    /* C's exponent field: the binade (>= the min normal) + 23 - m; int8: 2^(23-6) fixed. */
    const int cmin = el->e ? 1 - el->bias + 23 - el->m : 17, cadd = el->e ? 23 - el->m : 0;
    const int sh = e - 127, xd = cmin - cadd + sh >= -126 && el->emax + 1 + sh <= 127;
    const struct lanes l = {
        au_vsplat(pow2f(-sh)),
        au_vsplat(pow2f(sh)),
        au_vsplat(xd ? el->max * pow2f(sh) : el->max),
        au_vspliti((cmin - cadd + (xd ? sh : 0) + 127) << 23),
        au_vspliti(cadd << 23),
        s->rnd == RND_TZ,
        !el->e,
    };
    for (size_t i = 0; i < n; i += AU_VW) {
        au_vf v = au_vload(x + i, n - i);
        au_vstore(x + i, xd ? quant_lanes_x(&l, v) : quant_lanes(&l, v), n - i);
    }
    return 0;
}

AU_CLONES
static int mx_quantize(const au_numsys_inst *s, float *x, size_t n, struct au_pcg32 *rng)
{
    if (s->rnd == RND_SR && !rng)
        return AU_INVALID;
    return au_quantize_blocks(s, s->kind == AU_BLOCK_ELEMS ? s->block_len : n, x, n, rng,
                              quantize_block);
}

static const struct au_numsys_desc desc = {
    .abi_version = AU_NUMSYS_ABI_VERSION,
    .struct_size = sizeof(struct au_numsys_desc),
    .name = "mx",
    .summary = "OCP Microscaling: E8M0 block scale with fp8/fp6/fp4/int8 elements",
    .params = params,
    .n_params = N_PARAMS,
    .presets = presets,
    .n_presets = sizeof(presets) / sizeof(presets[0]),
    .create = mx_create,
    .destroy = mx_destroy,
    .layout = mx_layout,
    .encode = mx_encode,
    .decode = mx_decode,
    .quantize = mx_quantize,
};

AU_NUMSYS_EXPORT const struct au_numsys_desc *au_numsys_entry(void)
{
    return &desc;
}

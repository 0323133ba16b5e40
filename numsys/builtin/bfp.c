/* bfp: block floating point. Elements are sign + m-bit magnitude M (no hidden bit), the
 * block shares E = floor(log2(absmax)) stored biased in w bits: value = (-1)^s M 2^(E-m+1).
 * A host flip of the stored exponent rescales the block by a power of two, as in hardware.
 * Non-finite inputs stay out of absmax (inf saturates, NaN encodes as 0: NAN_ZEROED).
 * Quantize makes two passes per block (integer-max absmax, 4-lane round) while it is in L1. */
#include "common.h"
#include "core/status.h"

#include <float.h>
#include <stdint.h>
#include <stdlib.h>

#define RND_NE 0
#define RND_TZ 1
#define RND_SR 2

struct au_numsys_inst {
    int m, w, bias, emin, emax, rnd;
    uint32_t kind, block_len;
    float mmax; /* 2^m - 1 */
    struct au_bitfield efields[2], mfields[1];
};

static const struct au_param params[] = {
    {"mantissa", AU_PARAM_INT, "7", 1, 23, NULL, "magnitude bits per element (no hidden bit)"},
    {"exponent", AU_PARAM_INT, "8", 1, 8, NULL, "width of the shared exponent"},
    {"granularity", AU_PARAM_CHOICE, "\"block\"", 0, 0, "block|tensor|channel",
     "which elements share an exponent"},
    {"block", AU_PARAM_INT, "16", 1, 65536, "tensor|channel",
     "elements per block; the word tensor or channel overrides granularity"},
    {"rounding", AU_PARAM_CHOICE, "\"nearest_even\"", 0, 0, "nearest_even|toward_zero|stochastic",
     "rounding of the magnitudes"},
};

static const struct au_preset presets[] = {
    {"bfp8", "{\"mantissa\":7,\"exponent\":8,\"block\":16}"},
    {"bfp12", "{\"mantissa\":11,\"exponent\":8,\"block\":16}"},
    {"bfp16", "{\"mantissa\":15,\"exponent\":8,\"block\":16}"},
};

static const uint32_t kinds[] = {AU_BLOCK_ELEMS, AU_BLOCK_TENSOR, AU_BLOCK_CHANNEL};

static int bfp_create(const char *params_json, au_numsys_inst **out, char *err, size_t err_len)
{
    long m, w, blk = 0;
    int gran, bword;
    *out = NULL;
    cJSON *j = params_json ? cJSON_Parse(params_json) : NULL;
    if (params_json && !j) {
        snprintf(err, err_len, "bfp: parameters are not valid JSON");
        return AU_INVALID;
    }
    au_numsys_inst *s = calloc(1, sizeof(*s));
    int bad =
        !s || au_p_check_keys(j, params, 5, err, err_len) ||
        au_p_int(j, "mantissa", 7, 1, 23, &m, err, err_len) ||
        au_p_int(j, "exponent", 8, 1, 8, &w, err, err_len) ||
        au_p_choice(j, "granularity", params[2].choices, 0, &gran, err, err_len) ||
        au_p_int_or_word(j, "block", "tensor|channel", 16, 1, 65536, &blk, &bword, err, err_len) ||
        au_p_choice(j, "rounding", params[4].choices, 0, &s->rnd, err, err_len);
    cJSON_Delete(j);
    if (bad) {
        char tmp[256];
        snprintf(tmp, sizeof(tmp), "bfp: %s", s ? err : "out of memory");
        snprintf(err, err_len, "%s", tmp);
        free(s);
        return s ? AU_INVALID : AU_NOMEM;
    }
    s->m = (int)m;
    s->w = (int)w;
    s->bias = (1 << (w - 1)) - 1;
    s->emin = -s->bias;
    s->emax = (1 << w) - 1 - s->bias;
    s->kind = bword >= 0 ? (bword ? AU_BLOCK_CHANNEL : AU_BLOCK_TENSOR) : kinds[gran];
    s->block_len = s->kind == AU_BLOCK_ELEMS ? (uint32_t)blk : 0;
    s->mmax = (float)((1u << m) - 1);
    s->efields[0] = (struct au_bitfield){"sign", (uint8_t)m, 1};
    s->efields[1] = (struct au_bitfield){"mantissa", 0, (uint8_t)m};
    s->mfields[0] = (struct au_bitfield){"shared_exponent", 0, (uint8_t)w};
    *out = s;
    return 0;
}

static void bfp_destroy(au_numsys_inst *s)
{
    free(s);
}

static void bfp_layout(const au_numsys_inst *s, struct au_numsys_layout *l)
{
    memset(l, 0, sizeof(*l));
    l->elem_bits = (uint32_t)s->m + 1;
    l->meta_bits = (uint32_t)s->w;
    l->block_kind = s->kind;
    /* A flipped 8-bit exponent reaches 2^128: inf is possible only at w = 8. */
    l->flags = AU_LAYOUT_NO_NAN | (s->w < 8 ? AU_LAYOUT_NO_INF : 0u);
    l->block_len = s->block_len;
    l->n_elem_fields = 2;
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

/* 2^k as a float for k in [-149, 127] without a libm call (hot: once per block). */
static inline float pow2f(int k)
{
    return k >= -126 ? u2f((uint32_t)(k + 127) << 23) : u2f(1u << (k + 149));
}

/* floor(log2(a)) for finite a > 0, subnormals included. */
static int floor_log2f(float a)
{
    uint32_t u = f2u(a);
    int e = (int)(u >> 23) - 127;
    return e > -127 ? e : (31 - __builtin_clz(u)) - 149;
}

static float absmax_finite(const float *x, size_t n)
{
    float mx = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        a = a <= FLT_MAX ? a : 0.0f; /* drop inf and NaN */
        mx = a > mx ? a : mx;
    }
    return mx;
}

/* absmax_finite, also telling whether the block holds a NaN. */
static float absmax_nan(const float *x, size_t n, int *nan)
{
    for (size_t i = 0; i < n; i++)
        *nan |= isnan(x[i]);
    return absmax_finite(x, n);
}

/* Unbiased shared exponent of a block. */
static int block_exp(const au_numsys_inst *s, const float *x, size_t n)
{
    float mx = absmax_finite(x, n);
    int e = mx > 0 ? floor_log2f(mx) : s->emin;
    return e < s->emin ? s->emin : e > s->emax ? s->emax : e;
}

/* Magnitude code of |x| on the grid u (x finite or inf). */
static float mag_units(const au_numsys_inst *s, float x, float u, struct au_pcg32 *rng)
{
    float q = fabsf(x) / u;
    q = q < s->mmax ? q : s->mmax;
    if (s->rnd == RND_NE)
        return nearbyintf(q);
    if (s->rnd == RND_TZ)
        return truncf(q);
    return (float)floor((double)q + au_pcg32_uniform(rng)); /* floor before narrowing */
}

static int encode_block(const au_numsys_inst *s, const float *x, size_t n, uint64_t *codes,
                        uint64_t *meta, struct au_pcg32 *rng)
{
    int e = block_exp(s, x, n), n_nan = 0;
    float u = ldexpf(1.0f, e - s->m + 1);
    *meta = (uint64_t)(e + s->bias);
    for (size_t i = 0; i < n; i++) {
        uint64_t sign = (uint64_t)(signbit(x[i]) != 0) << s->m;
        if (isnan(x[i])) {
            n_nan++;
            codes[i] = 0;
            continue;
        }
        codes[i] = sign | (uint64_t)mag_units(s, x[i], u, rng);
    }
    return n_nan;
}

static int bfp_decode(const au_numsys_inst *s, const uint64_t *codes, const uint64_t *meta,
                      size_t n, float *y)
{
    size_t bl = s->kind == AU_BLOCK_ELEMS ? s->block_len : n;
    uint64_t mmask = (1ull << s->m) - 1, emask = (1ull << s->w) - 1;
    for (size_t b0 = 0; b0 < n; b0 += bl) {
        int k = (int)(meta[b0 / bl] & emask) - s->bias - s->m + 1;
        size_t end = n - b0 < bl ? n : b0 + bl;
        /* M * 2^k with M < 2^m is exact in float when 2^k is a normal float (the product
         * overflows to inf exactly where the double path's cast would); else via double. */
        float u = k >= -126 && k <= 127 ? ldexpf(1.0f, k) : 0.0f;
        for (size_t i = b0; i < end; i++) {
            float v = u != 0.0f ? (float)(codes[i] & mmask) * u
                                : (float)ldexp((double)(codes[i] & mmask), k);
            y[i] = (codes[i] >> s->m) & 1u ? -v : v;
        }
    }
    return 0;
}

typedef float vf4 __attribute__((vector_size(16)));
typedef int32_t vi4 __attribute__((vector_size(16)));

static inline vf4 vsel(vi4 m, vf4 a, vf4 b)
{
    return (vf4)(((vi4)a & m) | ((vi4)b & ~m));
}

static inline vf4 vsplat(float f)
{
    return (vf4){f, f, f, f};
}

/* 4 lanes of one NaN-free block: q = |x|/u clamped, rounded (nearest_even or toward_zero),
 * signed. |x| * (1/u) equals |x| / u exactly (both are the correctly rounded value of the
 * same real) whenever 1/u is a float, which is every block but those with u < 2^-127. */
static inline void quant4(float *x, vf4 u, vf4 inv, vf4 mmax, int tz, int div)
{
    const vi4 sgn = {INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN};
    const vf4 big = vsplat(8388608.0f);
    vf4 x0, q, r;
    memcpy(&x0, x, 16);
    q = (vf4)((vi4)x0 & ~sgn);
    q = div ? q / u : q * inv;
    q = vsel(q < mmax, q, mmax);
    if (tz)
        r = __builtin_convertvector(__builtin_convertvector(q, vi4), vf4);
    else
        r = (q + big) - big; /* q in [0, 2^23): adding 2^23 rounds to an integer */
    r = r * u;
    r = (vf4)((vi4)r | ((vi4)x0 & sgn));
    memcpy(x, &r, 16);
}

/* Largest finite |x|; *nan tells whether the block holds a NaN. */
static float absmax_fast(const float *x, size_t n, int *nan)
{
    /* |x| bit patterns compare as integers in float order and inf/NaN patterns are the
     * largest, so one integer max serves; a block holding inf or NaN is rescanned. */
    const vi4 abs = {INT32_MAX, INT32_MAX, INT32_MAX, INT32_MAX};
    vi4 mx = {0, 0, 0, 0}, v;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        memcpy(&v, x + i, 16);
        v &= abs;
        vi4 gt = v > mx;
        mx = (v & gt) | (mx & ~gt);
    }
    int32_t m = 0;
    for (int k = 0; k < 4; k++)
        m = mx[k] > m ? mx[k] : m;
    for (; i < n; i++) {
        uint32_t u = f2u(x[i]) & 0x7FFFFFFFu;
        m = (int32_t)u > m ? (int32_t)u : m;
    }
    *nan = 0;
    if (m >= 0x7F800000) /* inf or NaN somewhere: the exact scalar scan */
        return absmax_nan(x, n, nan);
    float r;
    memcpy(&r, &m, 4);
    return r;
}

static int quantize_block_scalar(const au_numsys_inst *s, float *x, size_t n, struct au_pcg32 *rng);

static int quantize_block_fast(const au_numsys_inst *s, float *x, size_t n)
{
    int has_nan;
    float mx = absmax_fast(x, n, &has_nan);
    if (has_nan) /* rare: the scalar path maps NaN to 0 and counts it */
        return quantize_block_scalar(s, x, n, NULL);
    int e = mx > 0 ? floor_log2f(mx) : s->emin;
    e = e < s->emin ? s->emin : e > s->emax ? s->emax : e;
    const int sh = e - s->m + 1, tz = s->rnd == RND_TZ, div = sh < -127;
    const vf4 u = vsplat(pow2f(sh)), inv = vsplat(div ? 0.0f : pow2f(-sh));
    const vf4 mmax = vsplat(s->mmax);
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        quant4(x + i, u, inv, mmax, tz, div);
    if (i < n) {
        float t[4] = {0};
        memcpy(t, x + i, (n - i) * sizeof(float));
        quant4(t, u, inv, mmax, tz, div);
        memcpy(x + i, t, (n - i) * sizeof(float));
    }
    return 0;
}

/* encode_block on 4 lanes for a NaN-free block rounded to nearest or toward zero: the
 * magnitudes quant4 computes before scaling back, as integers. Returns -1 (nothing
 * written) for the blocks the scalar path must take. */
static int encode_fast(const au_numsys_inst *s, const float *x, size_t n, uint64_t *codes,
                       uint64_t *meta)
{
    int has_nan;
    if (s->rnd == RND_SR)
        return -1;
    float mx = absmax_fast(x, n, &has_nan);
    if (has_nan)
        return -1;
    int e = mx > 0 ? floor_log2f(mx) : s->emin;
    e = e < s->emin ? s->emin : e > s->emax ? s->emax : e;
    const int sh = e - s->m + 1, tz = s->rnd == RND_TZ, div = sh < -127;
    const vi4 sgn = {INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN};
    const vf4 u = vsplat(pow2f(sh)), inv = vsplat(div ? 0.0f : pow2f(-sh));
    const vf4 mmax = vsplat(s->mmax), big = vsplat(8388608.0f);
    const uint64_t sign = 1ull << s->m;
    *meta = (uint64_t)(e + s->bias);
    for (size_t i = 0; i < n; i += 4) {
        float t[4] = {0};
        size_t k = n - i < 4 ? n - i : 4;
        memcpy(t, x + i, k * sizeof(float));
        vf4 x0, q;
        memcpy(&x0, t, 16);
        q = (vf4)((vi4)x0 & ~sgn);
        q = div ? q / u : q * inv;
        q = vsel(q < mmax, q, mmax);
        q = tz ? __builtin_convertvector(__builtin_convertvector(q, vi4), vf4) : (q + big) - big;
        vi4 mag = __builtin_convertvector(q, vi4), neg = (vi4)x0 & sgn;
        for (size_t j = 0; j < k; j++)
            codes[i + j] = (neg[j] ? sign : 0) | (uint64_t)mag[j];
    }
    return 0;
}

/* One element of one block: the shared exponent (the block's absmax), then that element. */
static int bfp_encode_at(const au_numsys_inst *s, const float *x, size_t n, size_t i,
                         uint64_t *code, uint64_t *meta, struct au_pcg32 *rng)
{
    int nan = 0;
    if (s->rnd == RND_SR && !rng)
        return AU_INVALID;
    float mx = absmax_fast(x, n, &nan);
    int e = mx > 0 ? floor_log2f(mx) : s->emin;
    e = e < s->emin ? s->emin : e > s->emax ? s->emax : e;
    *meta = (uint64_t)(e + s->bias);
    if (isnan(x[i])) {
        *code = 0;
        return AU_NUMSYS_NAN_ZEROED;
    }
    uint64_t sign = (uint64_t)(signbit(x[i]) != 0) << s->m;
    *code = sign | (uint64_t)mag_units(s, x[i], ldexpf(1.0f, e - s->m + 1), rng);
    return 0;
}

/* One block: the vector path where it applies, else the scalar one. */
static int encode_one_block(const au_numsys_inst *s, const float *x, size_t n, uint64_t *codes,
                            uint64_t *meta, struct au_pcg32 *rng)
{
    return encode_fast(s, x, n, codes, meta) < 0 ? encode_block(s, x, n, codes, meta, rng) : 0;
}

static int bfp_encode(const au_numsys_inst *s, const float *x, size_t n, uint64_t *codes,
                      uint64_t *meta, struct au_pcg32 *rng)
{
    if (s->rnd == RND_SR && !rng)
        return AU_INVALID;
    return au_encode_blocks(s, s->kind == AU_BLOCK_ELEMS ? s->block_len : n, x, n, codes, meta, rng,
                            encode_one_block);
}

static int quantize_block_scalar(const au_numsys_inst *s, float *x, size_t n, struct au_pcg32 *rng)
{
    int e = block_exp(s, x, n), n_nan = 0;
    float u = ldexpf(1.0f, e - s->m + 1);
    for (size_t i = 0; i < n; i++) {
        if (isnan(x[i])) {
            n_nan++;
            x[i] = 0.0f;
            continue;
        }
        x[i] = copysignf(mag_units(s, x[i], u, rng) * u, x[i]);
    }
    return n_nan;
}

static int bfp_quantize(const au_numsys_inst *s, float *x, size_t n, struct au_pcg32 *rng)
{
    size_t bl = s->kind == AU_BLOCK_ELEMS ? s->block_len : n;
    int n_nan = 0;
    if (s->rnd == RND_SR && !rng)
        return AU_INVALID;
    for (size_t b0 = 0; b0 < n; b0 += bl) {
        size_t len = n - b0 < bl ? n - b0 : bl;
        n_nan += s->rnd == RND_SR ? quantize_block_scalar(s, x + b0, len, rng)
                                  : quantize_block_fast(s, x + b0, len);
    }
    return n_nan ? AU_NUMSYS_NAN_ZEROED : 0;
}

static const struct au_numsys_desc desc = {
    .abi_version = AU_NUMSYS_ABI_VERSION,
    .struct_size = sizeof(struct au_numsys_desc),
    .name = "bfp",
    .summary = "block floating point: sign + m-bit magnitude per element, shared w-bit exponent",
    .params = params,
    .n_params = sizeof(params) / sizeof(params[0]),
    .presets = presets,
    .n_presets = sizeof(presets) / sizeof(presets[0]),
    .create = bfp_create,
    .destroy = bfp_destroy,
    .layout = bfp_layout,
    .encode = bfp_encode,
    .decode = bfp_decode,
    .quantize = bfp_quantize,
    .encode_at = bfp_encode_at,
};

AU_NUMSYS_EXPORT const struct au_numsys_desc *au_numsys_entry(void)
{
    return &desc;
}

/* afp: AdaptivFloat. Elements laid out as fp (sign, e-bit E, m-bit M), no subnormals or
 * specials: value (1 + M/2^m) 2^(E+b), E = M = 0 is +-0. The block shares the bias b, stored
 * as bias_bits two's complement (a host flip rescales the block); by default b =
 * floor(log2(absmax)) - (2^e - 1). Rounding works on the magnitude code (ties to the even
 * code), which the fast path reproduces with float bit arithmetic for m >= 1. */
#include "common.h"
#include "core/status.h"

#include <float.h>
#include <stdint.h>
#include <stdlib.h>

#define RND_NE 0
#define RND_TZ 1
#define RND_SR 2

struct au_numsys_inst {
    int n, e, m, bb, rnd, fixed, bias;
    int bmin, bmax; /* range of the stored bias */
    uint32_t kind, block_len;
    uint64_t cmax; /* largest magnitude code */
    struct au_bitfield efields[3], mfields[1];
    uint32_t n_efields;
};

static const struct au_param params[] = {
    {"bits", AU_PARAM_INT, "8", 2, 16, NULL, "bits per element"},
    {"exponent", AU_PARAM_INT, "4", 1, 8, NULL, "exponent bits; mantissa = bits - 1 - exponent"},
    {"granularity", AU_PARAM_CHOICE, "\"tensor\"", 0, 0, "tensor|channel|block",
     "which elements share a bias"},
    {"block", AU_PARAM_INT, "32", 1, 65536, "tensor|channel",
     "elements per block; the word tensor or channel overrides granularity"},
    {"bias_bits", AU_PARAM_INT, "8", 2, 16, NULL, "width of the stored two's complement bias"},
    {"bias_source", AU_PARAM_CHOICE, "\"dynamic\"", 0, 0, "dynamic|fixed",
     "bias from each block's absmax, or the fixed 'bias'"},
    {"bias", AU_PARAM_INT, "0", -32768, 32767, NULL, "the bias b when bias_source is fixed"},
    {"rounding", AU_PARAM_CHOICE, "\"nearest_even\"", 0, 0, "nearest_even|toward_zero|stochastic",
     "rounding of magnitudes"},
};
#define N_PARAMS (sizeof(params) / sizeof(params[0]))

static const struct au_preset presets[] = {
    {"afp8_e4m3", "{\"bits\":8,\"exponent\":4}"},
    {"afp8_e3m4", "{\"bits\":8,\"exponent\":3}"},
    {"afp16_e5m10", "{\"bits\":16,\"exponent\":5}"},
};

static const uint32_t kinds[] = {AU_BLOCK_TENSOR, AU_BLOCK_CHANNEL, AU_BLOCK_ELEMS};

static int check_bias(const au_numsys_inst *s, long bias, char *err, size_t err_len)
{
    long lo = s->bmin > -126 ? s->bmin : -126, top = 127 - ((1L << s->e) - 1);
    long hi = s->bmax < top ? s->bmax : top;
    if (bias < lo || bias > hi) {
        snprintf(err, err_len,
                 "parameter 'bias' must be in [%ld, %ld] for bias_bits %d and exponent %d "
                 "(got %ld)",
                 lo, hi, s->bb, s->e, bias);
        return AU_INVALID;
    }
    return 0;
}

static int read_params(const cJSON *j, au_numsys_inst *s, char *err, size_t err_len)
{
    long n, e, blk = 0, bb, bias;
    int gran, src, bword;
    if (au_p_check_keys(j, params, N_PARAMS, err, err_len) ||
        au_p_int(j, "bits", 8, 2, 16, &n, err, err_len) ||
        au_p_int(j, "exponent", 4, 1, 8, &e, err, err_len) ||
        au_p_choice(j, "granularity", params[2].choices, 0, &gran, err, err_len) ||
        au_p_int_or_word(j, "block", "tensor|channel", 32, 1, 65536, &blk, &bword, err, err_len) ||
        au_p_int(j, "bias_bits", 8, 2, 16, &bb, err, err_len) ||
        au_p_choice(j, "bias_source", params[5].choices, 0, &src, err, err_len) ||
        au_p_int(j, "bias", 0, -32768, 32767, &bias, err, err_len) ||
        au_p_choice(j, "rounding", params[7].choices, 0, &s->rnd, err, err_len))
        return AU_INVALID;
    if (e > n - 1) {
        snprintf(err, err_len, "parameter 'exponent' must be in [1, bits - 1 = %ld] (got %ld)",
                 n - 1, e);
        return AU_INVALID;
    }
    s->n = (int)n, s->e = (int)e, s->m = (int)(n - 1 - e), s->bb = (int)bb;
    s->bmin = -(1 << (bb - 1));
    s->bmax = (1 << (bb - 1)) - 1;
    s->kind = bword >= 0 ? (bword ? AU_BLOCK_CHANNEL : AU_BLOCK_TENSOR) : kinds[gran];
    s->block_len = s->kind == AU_BLOCK_ELEMS ? (uint32_t)blk : 0;
    s->fixed = src == 1;
    s->bias = (int)bias;
    return s->fixed ? check_bias(s, bias, err, err_len) : 0;
}

static void set_fields(au_numsys_inst *s)
{
    uint32_t k = 0;
    s->efields[k++] = (struct au_bitfield){"sign", (uint8_t)(s->n - 1), 1};
    s->efields[k++] = (struct au_bitfield){"exponent", (uint8_t)s->m, (uint8_t)s->e};
    if (s->m)
        s->efields[k++] = (struct au_bitfield){"mantissa", 0, (uint8_t)s->m};
    s->n_efields = k;
    s->mfields[0] = (struct au_bitfield){"bias", 0, (uint8_t)s->bb};
    s->cmax = (1ull << (s->n - 1)) - 1;
}

static int afp_create(const char *params_json, au_numsys_inst **out, char *err, size_t err_len)
{
    *out = NULL;
    cJSON *j = params_json ? cJSON_Parse(params_json) : NULL;
    if (params_json && !j) {
        snprintf(err, err_len, "afp: parameters are not valid JSON");
        return AU_INVALID;
    }
    au_numsys_inst *s = calloc(1, sizeof(*s));
    int st = s ? read_params(j, s, err, err_len) : AU_NOMEM;
    cJSON_Delete(j);
    if (st) {
        char tmp[256];
        snprintf(tmp, sizeof(tmp), "afp: %s", s ? err : "out of memory");
        snprintf(err, err_len, "%s", tmp);
        free(s);
        return st;
    }
    set_fields(s);
    *out = s;
    return 0;
}

static void afp_destroy(au_numsys_inst *s)
{
    free(s);
}

static void afp_layout(const au_numsys_inst *s, struct au_numsys_layout *l)
{
    memset(l, 0, sizeof(*l));
    l->elem_bits = (uint32_t)s->n;
    l->meta_bits = (uint32_t)s->bb;
    l->block_kind = s->kind;
    /* Values stay below 2^(2^e + b) for every stored bias b <= bmax. */
    l->flags = AU_LAYOUT_NO_NAN | ((1 << s->e) - 1 + s->bmax <= 127 ? AU_LAYOUT_NO_INF : 0u);
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

static int block_bias(const au_numsys_inst *s, float absmax)
{
    if (s->fixed)
        return s->bias;
    int b = absmax > 0 ? floor_log2f(absmax) - ((1 << s->e) - 1) : s->bmin;
    return b < s->bmin ? s->bmin : b > s->bmax ? s->bmax : b;
}

/* Magnitude code (exponent and mantissa fields) of a = |x| (finite or inf) under bias b. */
static uint64_t mag_code(const au_numsys_inst *s, double a, int b, struct au_pcg32 *rng)
{
    const int m = s->m;
    double minv = ldexp((double)((1 << m) + 1), b - m), lo, hi;
    double maxv = ldexp((double)((2 << m) - 1), (1 << s->e) - 1 + b - m);
    uint64_t clo;
    if (a == 0)
        return 0;
    if (a >= maxv)
        return s->cmax;
    if (a < minv) { /* between 0 and the smallest magnitude */
        lo = 0, hi = minv, clo = 0;
    } else {
        int k;
        frexp(a, &k);
        k -= 1; /* floor(log2 a) >= b */
        double fl = floor(ldexp(a, m - k));
        clo = ((uint64_t)(k - b) << m) + (uint64_t)fl - (1ull << m);
        lo = ldexp(fl, k - m), hi = ldexp(fl + 1, k - m);
    }
    double frac = (a - lo) / (hi - lo);
    int up = s->rnd == RND_NE   ? frac > 0.5 || (frac == 0.5 && (clo & 1u))
             : s->rnd == RND_TZ ? 0
                                : au_pcg32_uniform(rng) < frac;
    return clo + (uint64_t)up < s->cmax ? clo + (uint64_t)up : s->cmax;
}

static float mag_value(const au_numsys_inst *s, uint64_t c, int b)
{
    if (c == 0)
        return 0.0f;
    uint64_t e = c >> s->m, mant = c & ((1ull << s->m) - 1);
    /* Exact in double; the cast gives inf or 0 where a flipped bias leaves float range. */
    return (float)ldexp((double)((1ull << s->m) + mant), (int)e + b - s->m);
}

/* mag_value by assembling the float: the value's exponent is the field plus the bias, so
 * while that is a normal float exponent no ldexp is needed (a flipped bias may leave it). */
static inline float mag_value_fast(const au_numsys_inst *s, uint64_t c, int b)
{
    int ex = (int)(c >> s->m) + b;
    if (c == 0 || ex < -126 || ex > 127 || s->m > 23)
        return mag_value(s, c, b);
    uint32_t u = (uint32_t)(ex + 127) << 23 | (uint32_t)(c & ((1ull << s->m) - 1)) << (23 - s->m);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static int encode_fast(const au_numsys_inst *s, const float *x, size_t n, uint64_t *codes, int b);
static float absmax_fast(const float *x, size_t n, int *nan);

static int encode_block(const au_numsys_inst *s, const float *x, size_t n, uint64_t *codes,
                        uint64_t *meta, struct au_pcg32 *rng)
{
    int n_nan = 0;
    int b = block_bias(s, absmax_fast(x, n, &n_nan));
    const uint64_t mask = ((uint64_t)1 << s->bb) - 1;
    *meta = (uint64_t)(int64_t)b & mask;
    if (!n_nan && encode_fast(s, x, n, codes, b) == 0)
        return 0;
    n_nan = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(x[i])) {
            n_nan++;
            codes[i] = 0;
            continue;
        }
        uint64_t sign = (uint64_t)(signbit(x[i]) != 0) << (s->n - 1);
        codes[i] = sign | mag_code(s, fabs((double)x[i]), b, rng);
    }
    return n_nan;
}

/* One element of one block: the block's bias (its absmax), then that element alone. */
static int afp_encode_at(const au_numsys_inst *s, const float *x, size_t n, size_t i,
                         uint64_t *code, uint64_t *meta, struct au_pcg32 *rng)
{
    int nan = 0;
    if (s->rnd == RND_SR && !rng)
        return AU_INVALID;
    int b = block_bias(s, absmax_fast(x, n, &nan));
    *meta = (uint64_t)(int64_t)b & (((uint64_t)1 << s->bb) - 1);
    if (isnan(x[i])) {
        *code = 0;
        return AU_NUMSYS_NAN_ZEROED;
    }
    *code = (uint64_t)(signbit(x[i]) != 0) << (s->n - 1) | mag_code(s, fabs((double)x[i]), b, rng);
    return 0;
}

static int afp_encode(const au_numsys_inst *s, const float *x, size_t n, uint64_t *codes,
                      uint64_t *meta, struct au_pcg32 *rng)
{
    if (s->rnd == RND_SR && !rng)
        return AU_INVALID;
    return au_encode_blocks(s, s->kind == AU_BLOCK_ELEMS ? s->block_len : n, x, n, codes, meta, rng,
                            encode_block);
}

static int meta_bias(const au_numsys_inst *s, uint64_t w)
{
    uint64_t mask = (1ull << s->bb) - 1, sign = 1ull << (s->bb - 1);
    w &= mask;
    return (int)((int64_t)(w ^ sign) - (int64_t)sign); /* sign-extend */
}

static int afp_decode(const au_numsys_inst *s, const uint64_t *codes, const uint64_t *meta,
                      size_t n, float *y)
{
    size_t bl = s->kind == AU_BLOCK_ELEMS ? s->block_len : n;
    for (size_t i = 0; i < n; i++) {
        float v = mag_value_fast(s, codes[i] & s->cmax, meta_bias(s, meta[i / bl]));
        y[i] = (codes[i] >> (s->n - 1)) & 1u ? -v : v;
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

struct lanes {
    vf4 minv, halfmin, maxv;
    vi4 half_m1, keep; /* 2^(sh-1) - 1 and the mask of the kept bits */
    int sh, tz;        /* sh = 23 - m */
};

/* 4 lanes of a NaN-free block whose 2^b is normal and max finite: round the float
 * mantissa to m bits (a carry into the exponent is the binade change, and the tie goes to
 * the even mantissa = the even code for m >= 1), then the two range rules. */
static inline void quant4(const struct lanes *l, float *x)
{
    const vi4 sgn = {INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN};
    vf4 x0, a, r;
    memcpy(&x0, x, 16);
    a = (vf4)((vi4)x0 & ~sgn);
    vi4 bits = (vi4)a;
    if (l->tz) {
        r = (vf4)(bits & l->keep);
        r = vsel(a < l->minv, vsplat(0.0f), r);
    } else {
        r = (vf4)((bits + l->half_m1 + ((bits >> l->sh) & 1)) & l->keep);
        r = vsel(a < l->minv, vsel(a > l->halfmin, l->minv, vsplat(0.0f)), r);
    }
    r = vsel(r > l->maxv, l->maxv, r); /* also catches inf */
    r = (vf4)((vi4)r | ((vi4)x0 & sgn));
    memcpy(x, &r, 16);
}

/* absmax_finite, 4 lanes at a time. */
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
        return absmax_finite(x, n, nan);
    float r;
    memcpy(&r, &m, 4);
    return r;
}

/* The vector path applies: no NaN, m >= 1, nearest or toward zero, and every value of the
 * block's range (2^b up to the top binade) a normal float. */
static bool fast_ok(const au_numsys_inst *s, int b, int has_nan)
{
    int top = (1 << s->e) - 1 + b;
    return !has_nan && s->m > 0 && s->rnd != RND_SR && b >= -126 && top <= 127;
}

static void make_lanes(const au_numsys_inst *s, int b, struct lanes *l)
{
    const int sh = 23 - s->m, top = (1 << s->e) - 1 + b;
    const int32_t h = (1 << (sh - 1)) - 1, k = -(1 << sh); /* round addend, kept-bits mask */
    const float minv = ldexpf((float)((1 << s->m) + 1), b - s->m);
    *l = (struct lanes){vsplat(minv),
                        vsplat(minv * 0.5f),
                        vsplat(ldexpf((float)((2 << s->m) - 1), top - s->m)),
                        (vi4){h, h, h, h},
                        (vi4){k, k, k, k},
                        sh,
                        s->rnd == RND_TZ};
}

/* encode_block's codes from the vector rounding: a rounded magnitude r is a normal float
 * whose exponent is the exponent field plus b and whose top m mantissa bits are the
 * mantissa field, and each nonzero value has one code, so this equals the scalar path.
 * Returns -1 (nothing written) where the vector path does not apply. */
static int encode_fast(const au_numsys_inst *s, const float *x, size_t n, uint64_t *codes, int b)
{
    if (!fast_ok(s, b, 0))
        return -1;
    struct lanes l;
    make_lanes(s, b, &l);
    const vi4 sgn = {INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN}, zero = {0, 0, 0, 0};
    const vi4 ebias = zero + ((127 + b) << s->m), mm = zero + ((1 << s->m) - 1);
    const vi4 sign = zero + (int32_t)(1u << (s->n - 1));
    for (size_t i = 0; i < n; i += 4) {
        float t[4] = {0};
        size_t k = n - i < 4 ? n - i : 4;
        memcpy(t, x + i, k * sizeof(float));
        quant4(&l, t);
        vi4 u, a, c;
        memcpy(&u, t, 16);
        a = u & ~sgn;
        /* exponent field (a >> 23) - 127 - b, shifted, plus the top m mantissa bits */
        c = ((a >> 23) << s->m) - ebias + ((a >> l.sh) & mm);
        c = (c & (a != zero)) | (sign & ((u & sgn) != zero));
        for (size_t j = 0; j < k; j++)
            codes[i + j] = (uint32_t)c[j];
    }
    return 0;
}

static int quantize_block(const au_numsys_inst *s, float *x, size_t n, struct au_pcg32 *rng)
{
    int has_nan = 0, n_nan = 0;
    int b = block_bias(s, absmax_fast(x, n, &has_nan));
    if (!fast_ok(s, b, has_nan)) {
        for (size_t i = 0; i < n; i++) { /* the general path, as encode + decode */
            if (isnan(x[i])) {
                n_nan++;
                x[i] = 0.0f;
                continue;
            }
            float v = mag_value(s, mag_code(s, fabs((double)x[i]), b, rng), b);
            x[i] = signbit(x[i]) ? -v : v;
        }
        return n_nan;
    }
    struct lanes l;
    make_lanes(s, b, &l);
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        quant4(&l, x + i);
    if (i < n) {
        float t[4] = {0};
        memcpy(t, x + i, (n - i) * sizeof(float));
        quant4(&l, t);
        memcpy(x + i, t, (n - i) * sizeof(float));
    }
    return 0;
}

static int afp_quantize(const au_numsys_inst *s, float *x, size_t n, struct au_pcg32 *rng)
{
    if (s->rnd == RND_SR && !rng)
        return AU_INVALID;
    return au_quantize_blocks(s, s->kind == AU_BLOCK_ELEMS ? s->block_len : n, x, n, rng,
                              quantize_block);
}

static const struct au_numsys_desc desc = {
    .abi_version = AU_NUMSYS_ABI_VERSION,
    .struct_size = sizeof(struct au_numsys_desc),
    .name = "afp",
    .summary = "AdaptivFloat: fp elements without subnormals or specials, shared exponent bias",
    .params = params,
    .n_params = N_PARAMS,
    .presets = presets,
    .n_presets = sizeof(presets) / sizeof(presets[0]),
    .create = afp_create,
    .destroy = afp_destroy,
    .layout = afp_layout,
    .encode = afp_encode,
    .decode = afp_decode,
    .quantize = afp_quantize,
    .encode_at = afp_encode_at,
};

AU_NUMSYS_EXPORT const struct au_numsys_desc *au_numsys_entry(void)
{
    return &desc;
}

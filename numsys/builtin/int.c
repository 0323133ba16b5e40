/* int: scaled integer. Symmetric s = absmax / (2^(n-1) - 1), x' = s*clamp(round(x/s));
 * asymmetric s = (max - min) / (2^n - 1), zero point z = round(-min/s), x' = s*(q - z).
 * x/s and s*q are float operations as written, so ties go to an even q - z. Metadata is what
 * hardware stores: fp32 scale bits or an 8-bit biased exponent, then z. `scale_divisor:
 * pow2` and `rounding: floor` give GoldenEye's conventions; NaN encodes as 0 (NAN_ZEROED). */
#include "common.h"
#include "core/status.h"

#include <float.h>
#include <stdint.h>
#include <stdlib.h>

#define RND_NE 0
#define RND_TZ 1
#define RND_SR 2
#define RND_FL 3

struct au_numsys_inst {
    int n, sym, stat, pow2, rnd;
    uint32_t kind, block_len;
    float div;        /* qmax or 2^(n-1) (2^n - 1 or 2^n asymmetric) */
    float qlo, qhi;   /* code range as integers (symmetric: signed) */
    float smin, smax; /* static range */
    uint32_t sbits;   /* scale field width: 32 or 8 */
    struct au_bitfield efields[2], mfields[2];
};

static const struct au_param params[] = {
    {"bits", AU_PARAM_INT, "8", 2, 24, NULL, "bits per element"},
    {"symmetric", AU_PARAM_BOOL, "true", 0, 0, NULL,
     "symmetric (signed) or asymmetric with zero point"},
    {"granularity", AU_PARAM_CHOICE, "\"tensor\"", 0, 0, "tensor|channel|block",
     "which elements share a scale"},
    {"block", AU_PARAM_INT, "32", 1, 65536, "tensor|channel",
     "elements per block; the word tensor or channel overrides granularity"},
    {"scale_source", AU_PARAM_CHOICE, "\"dynamic\"", 0, 0, "dynamic|static",
     "absmax of each block, or the static range"},
    {"range_min", AU_PARAM_REAL, "0", -FLT_MAX, FLT_MAX, NULL, "static range minimum"},
    {"range_max", AU_PARAM_REAL, "0", -FLT_MAX, FLT_MAX, NULL,
     "static range maximum (symmetric: absmax)"},
    {"scale_format", AU_PARAM_CHOICE, "\"fp32\"", 0, 0, "fp32|pow2",
     "stored scale: fp32 bits or 8-bit exponent"},
    {"scale_divisor", AU_PARAM_CHOICE, "\"qmax\"", 0, 0, "qmax|pow2",
     "s = range / (2^(n-1) - 1), or / 2^(n-1) (GoldenEye)"},
    {"rounding", AU_PARAM_CHOICE, "\"nearest_even\"", 0, 0,
     "nearest_even|toward_zero|stochastic|floor", "rounding of x/s"},
    {AU_NUMSYS_PARAM_ABSMAX, AU_PARAM_REAL, "0", 0, FLT_MAX, NULL,
     "profiled absmax of the layer (filled by the host): the static range when range_min "
     "and range_max are not given; 0 = not profiled"},
};
#define N_PARAMS (sizeof(params) / sizeof(params[0]))

static const struct au_preset presets[] = {
    {"int8", "{\"bits\":8}"},
    {"int4", "{\"bits\":4}"},
    {"int16", "{\"bits\":16}"},
    {"uint8", "{\"bits\":8,\"symmetric\":false}"},
};

static const uint32_t kinds[] = {AU_BLOCK_TENSOR, AU_BLOCK_CHANNEL, AU_BLOCK_ELEMS};

static int read_params(const cJSON *j, au_numsys_inst *s, char *err, size_t err_len)
{
    long n, blk = 0;
    bool sym;
    double lo, hi, am;
    int gran, src, fmt, dv, bword;
    if (au_p_check_keys(j, params, N_PARAMS, err, err_len) ||
        au_p_int(j, "bits", 8, 2, 24, &n, err, err_len) ||
        au_p_bool(j, "symmetric", true, &sym, err, err_len) ||
        au_p_choice(j, "granularity", params[2].choices, 0, &gran, err, err_len) ||
        au_p_int_or_word(j, "block", "tensor|channel", 32, 1, 65536, &blk, &bword, err, err_len) ||
        au_p_choice(j, "scale_source", params[4].choices, 0, &src, err, err_len) ||
        au_p_real(j, "range_min", 0, -FLT_MAX, FLT_MAX, &lo, err, err_len) ||
        au_p_real(j, "range_max", 0, -FLT_MAX, FLT_MAX, &hi, err, err_len) ||
        au_p_choice(j, "scale_format", params[7].choices, 0, &fmt, err, err_len) ||
        au_p_choice(j, "scale_divisor", params[8].choices, 0, &dv, err, err_len) ||
        au_p_choice(j, "rounding", params[9].choices, 0, &s->rnd, err, err_len) ||
        au_p_real(j, AU_NUMSYS_PARAM_ABSMAX, 0, 0, FLT_MAX, &am, err, err_len))
        return AU_INVALID;
    bool given = lo != 0 || hi != 0;
    if (src == 1 && !given) { /* the profiled range (0 until profiled) */
        lo = sym ? 0 : -am;
        hi = am;
    }
    if (src == 1 && !sym && given && !(hi > lo)) {
        snprintf(err, err_len,
                 "parameters 'range_min' < 'range_max' are required when scale_source is static");
        return AU_INVALID;
    }
    s->n = (int)n, s->sym = sym, s->stat = src == 1, s->pow2 = fmt == 1;
    s->kind = bword >= 0 ? (bword ? AU_BLOCK_CHANNEL : AU_BLOCK_TENSOR) : kinds[gran];
    s->block_len = s->kind == AU_BLOCK_ELEMS ? (uint32_t)blk : 0;
    s->smin = (float)lo, s->smax = (float)hi;
    float half = ldexpf(1.0f, (int)n - 1), full = ldexpf(1.0f, (int)n);
    s->div = sym ? (dv ? half : half - 1) : (dv ? full : full - 1);
    s->qhi = sym ? half - 1 : full - 1;
    s->qlo = sym ? (dv ? -half : -(half - 1)) : 0;
    return 0;
}

static void set_fields(au_numsys_inst *s)
{
    uint8_t n = (uint8_t)s->n;
    s->sbits = s->pow2 ? 8 : 32;
    if (s->sym) {
        s->efields[0] = (struct au_bitfield){"sign", (uint8_t)(n - 1), 1};
        s->efields[1] = (struct au_bitfield){"value", 0, (uint8_t)(n - 1)};
    } else {
        s->efields[0] = (struct au_bitfield){"value", 0, n};
    }
    s->mfields[0] =
        (struct au_bitfield){s->pow2 ? "scale_exponent" : "scale", 0, (uint8_t)s->sbits};
    s->mfields[1] = (struct au_bitfield){"zero_point", (uint8_t)s->sbits, n};
}

static int int_create(const char *params_json, au_numsys_inst **out, char *err, size_t err_len)
{
    *out = NULL;
    cJSON *j = params_json ? cJSON_Parse(params_json) : NULL;
    if (params_json && !j) {
        snprintf(err, err_len, "int: parameters are not valid JSON");
        return AU_INVALID;
    }
    au_numsys_inst *s = calloc(1, sizeof(*s));
    int st = s ? read_params(j, s, err, err_len) : AU_NOMEM;
    cJSON_Delete(j);
    if (st) {
        char tmp[256];
        snprintf(tmp, sizeof(tmp), "int: %s", s ? err : "out of memory");
        snprintf(err, err_len, "%s", tmp);
        free(s);
        return st;
    }
    set_fields(s);
    *out = s;
    return 0;
}

static void int_destroy(au_numsys_inst *s)
{
    free(s);
}

static void int_layout(const au_numsys_inst *s, struct au_numsys_layout *l)
{
    memset(l, 0, sizeof(*l));
    l->elem_bits = (uint32_t)s->n;
    l->meta_bits = s->sbits + (s->sym ? 0u : (uint32_t)s->n);
    l->block_kind = s->kind;
    l->flags = s->pow2 ? AU_LAYOUT_NO_NAN : 0u; /* a flipped fp32 scale can be NaN or inf */
    l->block_len = s->block_len;
    l->n_elem_fields = s->sym ? 2 : 1;
    l->n_meta_fields = s->sym ? 1 : 2;
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

/* Round to nearest even integer; exact for |v| < 2^23, identity above. */
static inline float rne(float v)
{
    float m = copysignf(8388608.0f, v);
    float r = (v + m) - m;
    return fabsf(v) < 8388608.0f ? r : v;
}

/* Per-block scale and zero point, and the metadata word that stores them. */
struct blk {
    float s, z;
    uint64_t meta;
};

/* Finite min and max of a block; *nan tells whether it holds a NaN. */
static void minmax(const float *x, size_t n, float *mn, float *mx, int *nan)
{
    float lo = 0.0f, hi = 0.0f; /* 0 is always in the range */
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        bad |= v != v;
        v = fabsf(v) <= FLT_MAX ? v : 0.0f;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    *mn = lo, *mx = hi, *nan = bad;
}

/* Smallest power-of-two step >= range / div, as a biased 8-bit exponent. */
static int pow2_exponent(double range, double div)
{
    int k;
    double f = frexp(range / div, &k); /* range/div = f * 2^k, f in [0.5, 1) */
    int e = (f == 0.5 ? k - 1 : k) + 127;
    return e < 0 ? 0 : e > 254 ? 254 : e;
}

static void block_scale(const au_numsys_inst *st, float mn, float mx, struct blk *b)
{
    if (st->stat)
        mn = st->sym ? -fmaxf(fabsf(st->smin), fabsf(st->smax)) : fminf(st->smin, 0.0f),
        mx = st->sym ? -mn : fmaxf(st->smax, 0.0f);
    double range = st->sym ? fmax(-(double)mn, (double)mx) : (double)mx - (double)mn;
    b->z = 0.0f;
    if (range == 0) {
        b->s = 1.0f;
    } else if (st->pow2) {
        b->s = ldexpf(1.0f, pow2_exponent(range, st->div) - 127);
    } else {
        b->s = st->sym ? (float)range / st->div : (float)(range / st->div);
        b->s = b->s > 0 ? b->s : FLT_MIN * FLT_EPSILON; /* a tiny range must not give s = 0 */
    }
    if (!st->sym && range != 0) {
        float z = rne(-mn / b->s);
        b->z = z < 0 ? 0 : z > st->qhi ? st->qhi : z;
    }
    uint64_t sw = st->pow2 ? (uint64_t)(f2u(b->s) >> 23) : f2u(b->s);
    b->meta = sw | ((uint64_t)b->z << st->sbits);
}

/* q - z for x (finite or inf), clamped to the code range. */
static float units(const au_numsys_inst *st, const struct blk *b, float x, struct au_pcg32 *rng)
{
    float v = x / b->s, lo = st->qlo - b->z, hi = st->qhi - b->z;
    v = v < lo ? lo : v > hi ? hi : v;
    switch (st->rnd) {
    case RND_NE:
        return rne(v);
    case RND_TZ:
        return truncf(v);
    case RND_FL: { /* a negative x whose x/s underflowed to -0 still floors to -1 */
        float r = floorf(v) - (float)(v == 0 && x < 0);
        return r < lo ? lo : r;
    }
    default:
        return (float)floor((double)v + au_pcg32_uniform(rng));
    }
}

static void block_params(const au_numsys_inst *st, const float *x, size_t n, struct blk *b,
                         int *nan)
{
    float mn, mx;
    minmax(x, n, &mn, &mx, nan);
    block_scale(st, mn, mx, b);
}

static int encode_block(const au_numsys_inst *st, const float *x, size_t n, uint64_t *codes,
                        uint64_t *meta, struct au_pcg32 *rng)
{
    struct blk b;
    int has_nan, n_nan = 0;
    uint64_t mask = (1ull << st->n) - 1;
    block_params(st, x, n, &b, &has_nan);
    *meta = b.meta;
    for (size_t i = 0; i < n; i++) {
        if (isnan(x[i])) { /* NaN has no code: the zero point (value 0) */
            n_nan++;
            codes[i] = (uint64_t)b.z;
            continue;
        }
        float q = units(st, &b, x[i], rng) + b.z;
        codes[i] = (uint64_t)(int64_t)q & mask;
    }
    return n_nan;
}

static int int_decode(const au_numsys_inst *s, const uint64_t *codes, const uint64_t *meta,
                      size_t n, float *y)
{
    size_t bl = s->kind == AU_BLOCK_ELEMS ? s->block_len : n;
    uint64_t mask = (1ull << s->n) - 1, sign = 1ull << (s->n - 1);
    for (size_t i = 0; i < n; i++) {
        uint64_t w = meta[i / bl], c = codes[i] & mask;
        int64_t z = s->sym ? 0 : (int64_t)((w >> s->sbits) & mask);
        int64_t q = s->sym ? (int64_t)(c ^ sign) - (int64_t)sign : (int64_t)c;
        if (s->pow2) /* exact in double; inf only for the exponent 255 a flip can make */
            y[i] = (float)ldexp((double)(q - z), (int)(w & 0xFF) - 127);
        else
            y[i] = u2f((uint32_t)w) * (float)(q - z);
    }
    return 0;
}

/* min and max of a block; returns 0 if it holds inf or NaN (then the caller takes the
 * general path, which leaves them out). */
AU_INLINE int minmax_fast(const float *x, size_t n, float *mn, float *mx)
{
    const au_vi abs = au_vspliti(INT32_MAX);
    au_vf lo = au_vsplat(0.0f), hi = lo;
    au_vi big = {0}; /* largest |x| bit pattern: inf and NaN patterns are the largest */
    for (size_t i = 0; i < n; i += AU_VW) {
        au_vf v = au_vload(x + i, n - i);
        au_vi a = (au_vi)v & abs, gt = a > big;
        big = (a & gt) | (big & ~gt);
        lo = au_vsel(v < lo, v, lo);
        hi = au_vsel(v > hi, v, hi);
    }
    if (au_hmax_i(big) >= 0x7F800000)
        return 0; /* lanes were compared as floats above: only trust them if finite */
    *mn = -au_hmax_f(-lo), *mx = au_hmax_f(hi);
    return 1;
}

struct lanes {
    au_vf s, lo, hi;
    int rnd, small; /* small: the clamped |x/s| <= 2^23, so adding 2^23 rounds it */
};

/* VW lanes of a NaN-free block: the same float operations as units() and int_decode. */
AU_INLINE au_vf units_lanes(const struct lanes *l, au_vf v0)
{
    const au_vi sgn = au_vspliti(INT32_MIN);
    const au_vf big = au_vsplat(8388608.0f), one = au_vsplat(1.0f);
    au_vf v = v0 / l->s, r;
    v = au_vsel(v < l->lo, l->lo, v);
    v = au_vsel(v > l->hi, l->hi, v); /* |v| <= 2^24 from here on */
    if (l->rnd == RND_NE) {
        au_vf m = (au_vf)(((au_vi)v & sgn) | (au_vi)big);
        r = (v + m) - m;
        if (!l->small)
            r = au_vsel((au_vf)((au_vi)v & ~sgn) < big, r, v);
    } else {
        r = __builtin_convertvector(__builtin_convertvector(v, au_vi), au_vf);
        if (l->rnd == RND_FL) { /* as units(): an underflowed negative x/s floors to -1 */
            r = r - (au_vf)((au_vi)one & ((r > v) | ((v == 0) & (v0 < 0))));
            r = au_vsel(r < l->lo, l->lo, r);
        }
    }
    return r;
}

AU_INLINE au_vf quant_lanes(const struct lanes *l, au_vf v0)
{
    return (units_lanes(l, v0) + 0.0f) * l->s;
}

/* The general path, as encode + decode: NaN (zeroed and counted), inf, stochastic. */
static int quantize_slow(const au_numsys_inst *st, float *x, size_t n, struct au_pcg32 *rng)
{
    struct blk b;
    float mn, mx;
    int has_nan, n_nan = 0;
    minmax(x, n, &mn, &mx, &has_nan);
    block_scale(st, mn, mx, &b);
    for (size_t i = 0; i < n; i++) {
        if (isnan(x[i])) {
            n_nan++;
            x[i] = 0.0f;
            continue;
        }
        x[i] = (units(st, &b, x[i], rng) + 0.0f) * b.s;
    }
    return n_nan;
}

/* The block's scale and the vector lanes, for a block without inf or NaN rounded to
 * nearest or toward zero/floor; returns 0 (nothing set) for the other blocks. */
AU_INLINE int block_fast(const au_numsys_inst *st, const float *x, size_t n, struct blk *b,
                         struct lanes *l)
{
    float mn, mx;
    int fin;
    if (st->sym && !st->stat) {
        uint32_t m = au_absmax_bits(x, n);
        fin = m < 0x7F800000u, mx = u2f(m), mn = -mx;
    } else
        fin = minmax_fast(x, n, &mn, &mx);
    if (!fin || st->rnd == RND_SR)
        return 0;
    block_scale(st, mn, mx, b);
    *l = (struct lanes){au_vsplat(b->s), au_vsplat(st->qlo - b->z), au_vsplat(st->qhi - b->z),
                        st->rnd, st->sym || st->n < 24};
    return 1;
}

AU_INLINE int quantize_block(const au_numsys_inst *st, float *x, size_t n, struct au_pcg32 *rng)
{
    struct blk b;
    struct lanes l;
    if (!block_fast(st, x, n, &b, &l))
        return quantize_slow(st, x, n, rng);
    for (size_t i = 0; i < n; i += AU_VW)
        au_vstore(x + i, quant_lanes(&l, au_vload(x + i, n - i)), n - i);
    return 0;
}

/* encode_block on the vector lanes: the same units as units(), plus the zero point. */
AU_INLINE int encode_fast(const au_numsys_inst *st, const float *x, size_t n, uint64_t *codes,
                          uint64_t *meta)
{
    struct blk b;
    struct lanes l;
    if (!block_fast(st, x, n, &b, &l))
        return -1;
    const uint64_t mask = (1ull << st->n) - 1;
    *meta = b.meta;
    for (size_t i = 0; i < n; i += AU_VW) {
        au_vi q = __builtin_convertvector(units_lanes(&l, au_vload(x + i, n - i)) + b.z, au_vi);
        for (size_t k = 0; k < AU_VW && i + k < n; k++)
            codes[i + k] = (uint64_t)(int64_t)q[k] & mask;
    }
    return 0;
}

/* One element of one block: the block's scale and zero point, then that element. */
static int int_encode_at(const au_numsys_inst *st, const float *x, size_t n, size_t i,
                         uint64_t *code, uint64_t *meta, struct au_pcg32 *rng)
{
    struct blk b;
    int has_nan;
    if (st->rnd == RND_SR && !rng)
        return AU_INVALID;
    if (st->stat) /* a profiled scale: the block's values do not matter */
        block_scale(st, 0.0f, 0.0f, &b);
    else
        block_params(st, x, n, &b, &has_nan);
    *meta = b.meta;
    if (isnan(x[i])) {
        *code = (uint64_t)b.z;
        return AU_NUMSYS_NAN_ZEROED;
    }
    *code = (uint64_t)(int64_t)(units(st, &b, x[i], rng) + b.z) & ((1ull << st->n) - 1);
    return 0;
}

/* One block: the vector path where it applies, else the scalar one. */
AU_INLINE int encode_one_block(const au_numsys_inst *s, const float *x, size_t n, uint64_t *codes,
                               uint64_t *meta, struct au_pcg32 *rng)
{
    return encode_fast(s, x, n, codes, meta) < 0 ? encode_block(s, x, n, codes, meta, rng) : 0;
}

AU_CLONES
static int int_encode(const au_numsys_inst *s, const float *x, size_t n, uint64_t *codes,
                      uint64_t *meta, struct au_pcg32 *rng)
{
    if (s->rnd == RND_SR && !rng)
        return AU_INVALID;
    return au_encode_blocks(s, s->kind == AU_BLOCK_ELEMS ? s->block_len : n, x, n, codes, meta, rng,
                            encode_one_block);
}

AU_CLONES
static int int_quantize(const au_numsys_inst *s, float *x, size_t n, struct au_pcg32 *rng)
{
    if (s->rnd == RND_SR && !rng)
        return AU_INVALID;
    return au_quantize_blocks(s, s->kind == AU_BLOCK_ELEMS ? s->block_len : n, x, n, rng,
                              quantize_block);
}

static const struct au_numsys_desc desc = {
    .abi_version = AU_NUMSYS_ABI_VERSION,
    .struct_size = sizeof(struct au_numsys_desc),
    .name = "int",
    .summary = "scaled integer: symmetric or asymmetric, per tensor/channel/block, fp32 or "
               "power-of-two scale",
    .params = params,
    .n_params = N_PARAMS,
    .presets = presets,
    .n_presets = sizeof(presets) / sizeof(presets[0]),
    .create = int_create,
    .destroy = int_destroy,
    .layout = int_layout,
    .encode = int_encode,
    .decode = int_decode,
    .quantize = int_quantize,
    .encode_at = int_encode_at,
};

AU_NUMSYS_EXPORT const struct au_numsys_desc *au_numsys_entry(void)
{
    return &desc;
}

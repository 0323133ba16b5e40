/* fxp: fixed point, value = q / 2^fraction, n = 1 + integer + fraction <= 25 bits so every
 * code is exact in float32. Two's complement (hardware) by default, sign-magnitude (keeps
 * -0) on request. The fused quantize is a 4-lane branch-free loop (scale, clamp, round by
 * the 2^23 trick, rescale). NaN has no code: it encodes as 0 and encode/quantize return
 * AU_NUMSYS_NAN_ZEROED. */
#include "common.h"
#include "core/status.h"

#include <stdint.h>
#include <stdlib.h>

#define RND_NE 0
#define RND_TZ 1
#define RND_SR 2

struct au_numsys_inst {
    int ibits, fbits, sm, wrap, rnd;
    uint32_t n;
    float scale, inv; /* 2^f, 2^-f */
    float qmin, qmax; /* integer range in units of 2^-f */
    struct au_bitfield fields[3];
    uint32_t n_fields;
};

static const struct au_param params[] = {
    {"integer", AU_PARAM_INT, "3", 0, 24, NULL, "integer bits (excluding the sign)"},
    {"fraction", AU_PARAM_INT, "4", 0, 24, NULL, "fraction bits; integer + fraction <= 24"},
    {"encoding", AU_PARAM_CHOICE, "\"twos_complement\"", 0, 0, "twos_complement|sign_magnitude",
     "how negative numbers are stored"},
    {"overflow", AU_PARAM_CHOICE, "\"saturate\"", 0, 0, "saturate|wrap",
     "out-of-range values clamp or wrap modulo 2^n"},
    {"rounding", AU_PARAM_CHOICE, "\"nearest_even\"", 0, 0, "nearest_even|toward_zero|stochastic",
     "rounding to the 2^-fraction grid"},
};

static const struct au_preset presets[] = {
    {"fxp8", "{\"integer\":3,\"fraction\":4}"},
    {"fxp16", "{\"integer\":7,\"fraction\":8}"},
    {"q1_14", "{\"integer\":1,\"fraction\":14}"},
};

static void set_fields(au_numsys_inst *s)
{
    uint32_t k = 0;
    s->fields[k++] = (struct au_bitfield){"sign", (uint8_t)(s->n - 1), 1};
    if (s->ibits)
        s->fields[k++] = (struct au_bitfield){"integer", (uint8_t)s->fbits, (uint8_t)s->ibits};
    if (s->fbits)
        s->fields[k++] = (struct au_bitfield){"fraction", 0, (uint8_t)s->fbits};
    s->n_fields = k;
}

static int read_params(const cJSON *j, au_numsys_inst *s, char *err, size_t err_len)
{
    long i, f;
    int enc, ovf;
    if (au_p_check_keys(j, params, 5, err, err_len) ||
        au_p_int(j, "integer", 3, 0, 24, &i, err, err_len) ||
        au_p_int(j, "fraction", 4, 0, 24, &f, err, err_len) ||
        au_p_choice(j, "encoding", params[2].choices, 0, &enc, err, err_len) ||
        au_p_choice(j, "overflow", params[3].choices, 0, &ovf, err, err_len) ||
        au_p_choice(j, "rounding", params[4].choices, 0, &s->rnd, err, err_len))
        return AU_INVALID;
    if (i + f > 24 || i + f < 1) {
        snprintf(err, err_len,
                 "parameters 'integer' + 'fraction' must be in [1, 24] (got %ld); wider codes "
                 "are not exact in float32",
                 i + f);
        return AU_INVALID;
    }
    s->ibits = (int)i;
    s->fbits = (int)f;
    s->sm = enc == 1;
    s->wrap = ovf == 1;
    return 0;
}

static int fxp_create(const char *params_json, au_numsys_inst **out, char *err, size_t err_len)
{
    *out = NULL;
    cJSON *j = params_json ? cJSON_Parse(params_json) : NULL;
    if (params_json && !j) {
        snprintf(err, err_len, "fxp: parameters are not valid JSON");
        return AU_INVALID;
    }
    au_numsys_inst *s = calloc(1, sizeof(*s));
    if (!s) {
        cJSON_Delete(j);
        return AU_NOMEM;
    }
    int st = read_params(j, s, err, err_len);
    cJSON_Delete(j);
    if (st) {
        char tmp[256];
        snprintf(tmp, sizeof(tmp), "fxp: %s", err);
        snprintf(err, err_len, "%s", tmp);
        free(s);
        return st;
    }
    s->n = (uint32_t)(1 + s->ibits + s->fbits);
    s->scale = ldexpf(1.0f, s->fbits);
    s->inv = ldexpf(1.0f, -s->fbits);
    s->qmax = ldexpf(1.0f, (int)s->n - 1) - 1.0f;
    s->qmin = s->sm ? -s->qmax : -ldexpf(1.0f, (int)s->n - 1);
    set_fields(s);
    *out = s;
    return 0;
}

static void fxp_destroy(au_numsys_inst *s)
{
    free(s);
}

static void fxp_layout(const au_numsys_inst *s, struct au_numsys_layout *l)
{
    memset(l, 0, sizeof(*l));
    l->elem_bits = s->n;
    l->block_kind = AU_BLOCK_NONE;
    l->flags = AU_LAYOUT_NO_NAN | AU_LAYOUT_NO_INF;
    l->n_elem_fields = s->n_fields;
    l->elem_fields = s->fields;
}

/* x -> integer number of quanta (as double), before range handling. */
static double to_units(const au_numsys_inst *s, float x, struct au_pcg32 *rng)
{
    double v = (double)x * s->scale;
    if (!s->wrap)
        v = v < s->qmin ? s->qmin : v > s->qmax ? s->qmax : v;
    if (s->rnd == RND_NE)
        return nearbyint(v);
    if (s->rnd == RND_TZ)
        return trunc(v);
    return floor(v + au_pcg32_uniform(rng));
}

static double wrap_units(const au_numsys_inst *s, double q)
{
    double mod = ldexp(1.0, (int)s->n - s->sm), r = fmod(q, mod);
    if (s->sm) /* wrap the magnitude, keep the sign */
        return r;
    if (r < 0)
        r += mod;
    return r >= mod / 2 ? r - mod : r;
}

static uint64_t encode_one(const au_numsys_inst *s, float x, struct au_pcg32 *rng, int *n_nan)
{
    uint64_t mask = (1ull << s->n) - 1;
    if (isnan(x)) {
        (*n_nan)++;
        return 0;
    }
    if (isinf(x)) /* wrap has no meaning for inf: saturate */
        x = x > 0 ? s->qmax * s->inv : s->qmin * s->inv;
    double q = to_units(s, x, rng);
    if (s->wrap)
        q = wrap_units(s, q);
    if (s->sm)
        return ((uint64_t)(signbit(x) != 0) << (s->n - 1)) | (uint64_t)fabs(q);
    return (uint64_t)(int64_t)q & mask;
}

static float decode_one(const au_numsys_inst *s, uint64_t c)
{
    uint64_t sign = (c >> (s->n - 1)) & 1u;
    if (s->sm) {
        float mag = (float)(c & ((1ull << (s->n - 1)) - 1)) * s->inv;
        return sign ? -mag : mag;
    }
    int64_t q = (int64_t)(c & ((1ull << s->n) - 1)) - (int64_t)(sign << s->n);
    return (float)q * s->inv;
}

static int fxp_encode(const au_numsys_inst *s, const float *x, size_t n, uint64_t *codes,
                      uint64_t *meta, struct au_pcg32 *rng)
{
    (void)meta;
    int n_nan = 0;
    if (s->rnd == RND_SR && !rng)
        return AU_INVALID;
    for (size_t i = 0; i < n; i++)
        codes[i] = encode_one(s, x[i], rng, &n_nan);
    return n_nan ? AU_NUMSYS_NAN_ZEROED : 0;
}

static int fxp_decode(const au_numsys_inst *s, const uint64_t *codes, const uint64_t *meta,
                      size_t n, float *y)
{
    (void)meta;
    for (size_t i = 0; i < n; i++)
        y[i] = decode_one(s, codes[i]);
    return 0;
}

/* 4-lane vectors (GCC/clang extension): plain loops with float selects are not
 * if-converted at -O3 on baseline x86-64, so the hot loop is written lane-wise. */
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

/* Round to nearest even integer lane-wise, as rne(). */
static inline vf4 vrne(vf4 v)
{
    const vi4 sgn = {INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN};
    const vf4 big = vsplat(8388608.0f);
    vf4 m = (vf4)(((vi4)v & sgn) | (vi4)big);
    vf4 r = (v + m) - m, a = (vf4)((vi4)v & ~sgn);
    return vsel(a < big, r, v);
}

/* The common case: saturate, nearest_even or toward_zero, no branches in the body.
 * Returns -1 in each NaN lane. */
struct lanes {
    vf4 scale, inv, qmin, qmax;
    int tz, sm;
};

static inline vi4 quant4(const struct lanes *s, float *x)
{
    const vi4 sgn = {INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN};
    vf4 x0, v, r;
    memcpy(&x0, x, 16);
    v = x0 * s->scale;
    vi4 isnan4 = v != v;
    v = vsel(isnan4, vsplat(0.0f), v);
    v = vsel(v < s->qmin, s->qmin, v);
    v = vsel(v > s->qmax, s->qmax, v);
    if (s->tz) /* loop-invariant: the compiler unswitches it */
        r = __builtin_convertvector(__builtin_convertvector(v, vi4), vf4);
    else
        r = vrne(v);
    if (s->sm) /* keep -0 only where the encoding has it */
        r = (vf4)(((vi4)r & ~sgn) | ((vi4)x0 & sgn));
    else
        r = r + 0.0f;
    r = r * s->inv;
    memcpy(x, &r, 16);
    return isnan4; /* -1 per NaN lane */
}

static int quantize_fast(const au_numsys_inst *inst, float *x, size_t n)
{
    /* Parameters copied to locals: x may alias *inst as far as the compiler knows. */
    const struct lanes l = {vsplat(inst->scale), vsplat(inst->inv),   vsplat(inst->qmin),
                            vsplat(inst->qmax),  inst->rnd == RND_TZ, inst->sm};
    const struct lanes *s = &l;
    vi4 nan4 = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        nan4 += quant4(s, x + i);
    if (i < n) { /* tail through the same lanes, padded with zeros */
        float t[4] = {0};
        memcpy(t, x + i, (n - i) * sizeof(float));
        nan4 += quant4(s, t);
        memcpy(x + i, t, (n - i) * sizeof(float));
    }
    return -(nan4[0] + nan4[1] + nan4[2] + nan4[3]);
}

static int fxp_quantize(const au_numsys_inst *s, float *x, size_t n, struct au_pcg32 *rng)
{
    if (!s->wrap && s->rnd != RND_SR)
        return quantize_fast(s, x, n) ? AU_NUMSYS_NAN_ZEROED : 0;
    if (s->rnd == RND_SR && !rng)
        return AU_INVALID;
    int n_nan = 0;
    for (size_t i = 0; i < n; i++)
        x[i] = decode_one(s, encode_one(s, x[i], rng, &n_nan));
    return n_nan ? AU_NUMSYS_NAN_ZEROED : 0;
}

static const struct au_numsys_desc desc = {
    .abi_version = AU_NUMSYS_ABI_VERSION,
    .struct_size = sizeof(struct au_numsys_desc),
    .name = "fxp",
    .summary = "fixed point: 1 sign + integer + fraction bits (two's complement or "
               "sign-magnitude)",
    .params = params,
    .n_params = sizeof(params) / sizeof(params[0]),
    .presets = presets,
    .n_presets = sizeof(presets) / sizeof(presets[0]),
    .create = fxp_create,
    .destroy = fxp_destroy,
    .layout = fxp_layout,
    .encode = fxp_encode,
    .decode = fxp_decode,
    .quantize = fxp_quantize,
};

AU_NUMSYS_EXPORT const struct au_numsys_desc *au_numsys_entry(void)
{
    return &desc;
}

/* fp: IEEE-style binary floating point, 1..8 exponent and 0..23 mantissa bits, exactly
 * as docs number-formats.md ("fp") says. Two encoders: a general one on integers (any
 * rounding, with or without subnormals; a magnitude is sig * 2^k, rounded by one shift)
 * and a branch-free fused one for round-to-nearest-even with subnormals (fp16, bf16,
 * fp8...), which rounds the float32 bits in place and uses one float add for the
 * subnormal range. Decisions the spec leaves open: ±inf inputs stay infinite only with
 * overflow "ieee" (saturate clamps them to ±max too); "fn" with overflow "ieee" turns
 * overflow into NaN (OCP's non-saturating mode); "none" with overflow "ieee" is refused.
 * Every value must be a float32 (the compute fabric), which bounds the bias.
 */
#include "numsys/builtin/common.h"

#include <float.h>
#include <stdlib.h>

#define SPEC_IEEE 0
#define SPEC_FN   1
#define SPEC_NONE 2
#define OVF_SAT   0
#define OVF_IEEE  1
#define RND_NEAR  0
#define RND_ZERO  1
#define RND_STOCH 2

struct au_numsys_inst {
    int e, m, bias, specials, overflow, rounding;
    bool sub;
    int emin;              /* exponent of the lowest binade (1-bias, or -bias without subnormals) */
    unsigned sbit;         /* sign bit position, e+m */
    uint32_t emask, mmask; /* field masks (unshifted) */
    int spec_e;            /* exponent field holding inf/NaN, or -1 */
    uint64_t max_mag, ovf_mag; /* magnitude codes: largest finite, what overflow gives */
    uint64_t nan_mag;          /* NaN magnitude code (if has_nan) */
    bool has_nan, has_inf;
    double ovf_thresh; /* nearest + ieee: |x| >= max + ulp(max)/2 overflows */
    uint32_t v1_bits;  /* without subnormals: bits of the smallest positive value */
    float scale[256];  /* decode: value = (lead + M) * scale[E] */
    /* fused round-to-nearest-even path */
    bool fast;
    uint32_t rs, add, par, keep, minnorm_bits, thr_bits, code_off, ovf_bits, magic_bits;
    float magic;
    struct au_bitfield fields[3];
};

static const struct au_param params[] = {
    {"exponent", AU_PARAM_INT, "8", 1, 8, NULL, "exponent bits e"},
    {"mantissa", AU_PARAM_INT, "23", 0, 23, NULL, "mantissa (fraction) bits m"},
    {"bias", AU_PARAM_INT, "\"auto\"", -126, 150, "auto", "exponent bias; auto = 2^(e-1)-1"},
    {"subnormals", AU_PARAM_BOOL, "true", 0, 0, NULL, "exponent field 0 is subnormal"},
    {"specials", AU_PARAM_CHOICE, "\"ieee\"", 0, 0, "ieee|fn|none",
     "ieee: all-ones exponent is inf/NaN; fn: only all-ones is NaN (OCP E4M3); none: all finite"},
    {"overflow", AU_PARAM_CHOICE, "\"saturate\"", 0, 0, "saturate|ieee",
     "saturate: clamp to +-max; ieee: +-inf (NaN for fn) from max + ulp/2"},
    {"rounding", AU_PARAM_CHOICE, "\"nearest_even\"", 0, 0, "nearest_even|toward_zero|stochastic",
     "stochastic draws from the caller's PCG32 stream"},
};
#define N_PARAMS (sizeof(params) / sizeof(params[0]))

static const struct au_preset presets[] = {
    {"fp32", "{\"exponent\":8,\"mantissa\":23,\"overflow\":\"ieee\"}"},
    {"fp16", "{\"exponent\":5,\"mantissa\":10,\"overflow\":\"ieee\"}"},
    {"bf16", "{\"exponent\":8,\"mantissa\":7,\"overflow\":\"ieee\"}"},
    {"tf32", "{\"exponent\":8,\"mantissa\":10,\"overflow\":\"ieee\"}"},
    {"fp8_e5m2", "{\"exponent\":5,\"mantissa\":2,\"specials\":\"ieee\",\"overflow\":\"ieee\"}"},
    {"fp8_e4m3", "{\"exponent\":4,\"mantissa\":3,\"specials\":\"fn\",\"overflow\":\"saturate\"}"},
};

AU_INLINE uint32_t f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof(u));
    return u;
}

AU_INLINE float u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof(f));
    return f;
}

/* Exponent of the values whose exponent field is E. */
static int field_exp(const struct au_numsys_inst *f, int E)
{
    return (f->sub && E == 0 ? 1 : E) - f->bias;
}

static int read_params(struct au_numsys_inst *f, const char *json, char *err, size_t err_len)
{
    cJSON *o = json ? cJSON_Parse(json) : NULL;
    long e = 8, m = 23, bias = 0;
    int word, rc = -1;
    if (json && !o) {
        snprintf(err, err_len, "parameters are not valid JSON");
        return -1;
    }
    if (au_p_check_keys(o, params, N_PARAMS, err, err_len) == 0 &&
        au_p_int(o, "exponent", 8, 1, 8, &e, err, err_len) == 0 &&
        au_p_int(o, "mantissa", 23, 0, 23, &m, err, err_len) == 0 &&
        au_p_int_or_word(o, "bias", "auto", 0, -126, 150, &bias, &word, err, err_len) == 0 &&
        au_p_bool(o, "subnormals", true, &f->sub, err, err_len) == 0 &&
        au_p_choice(o, "specials", "ieee|fn|none", SPEC_IEEE, &f->specials, err, err_len) == 0 &&
        au_p_choice(o, "overflow", "saturate|ieee", OVF_SAT, &f->overflow, err, err_len) == 0 &&
        au_p_choice(o, "rounding", "nearest_even|toward_zero|stochastic", RND_NEAR, &f->rounding,
                    err, err_len) == 0) {
        /* bias "auto" arrives as a word; absent means auto too */
        if (!o || !cJSON_GetObjectItemCaseSensitive(o, "bias") || word == 0)
            bias = (1L << (e - 1)) - 1;
        f->e = (int)e;
        f->m = (int)m;
        f->bias = (int)bias;
        rc = 0;
    }
    cJSON_Delete(o);
    return rc;
}

/* Largest finite code fields, and the value-set checks against float32. */
static int derive_range(struct au_numsys_inst *f, char *err, size_t err_len)
{
    uint32_t etop = f->emask, mtop = f->mmask;
    if (f->specials == SPEC_IEEE || (f->specials == SPEC_FN && f->m == 0))
        etop--;
    else if (f->specials == SPEC_FN)
        mtop--;
    if (f->specials == SPEC_NONE && f->overflow == OVF_IEEE) {
        snprintf(err, err_len,
                 "overflow 'ieee' needs an infinity or NaN; specials 'none' has none");
        return -1;
    }
    f->max_mag = ((uint64_t)etop << f->m) | mtop;
    if (f->max_mag == 0) {
        snprintf(err, err_len,
                 "exponent %d mantissa %d with specials '%s' has no nonzero finite value", f->e,
                 f->m, f->specials == SPEC_IEEE ? "ieee" : "fn");
        return -1;
    }
    int top = field_exp(f, (int)etop);
    if (top > 127) {
        snprintf(err, err_len,
                 "largest value 2^%d exceeds float32 (the compute fabric); use bias >= %d", top,
                 f->bias + top - 127);
        return -1;
    }
    if (f->emin - f->m < -149) {
        snprintf(
            err, err_len,
            "smallest step 2^%d is below float32's 2^-149; use bias <= %d or fewer mantissa bits",
            f->emin - f->m, f->bias - (-149 - (f->emin - f->m)));
        return -1;
    }
    double maxv = ldexp((double)((etop || !f->sub ? (1u << f->m) : 0) + mtop), top - f->m);
    f->ovf_thresh = maxv + ldexp(0.5, top - f->m);
    return 0;
}

static void derive_codes(struct au_numsys_inst *f)
{
    f->has_inf = f->specials == SPEC_IEEE;
    f->has_nan = f->specials == SPEC_FN || (f->specials == SPEC_IEEE && f->m > 0);
    f->spec_e = f->specials == SPEC_NONE ? -1 : (int)f->emask;
    f->nan_mag = ((uint64_t)f->emask << f->m) |
                 (f->specials == SPEC_FN ? f->mmask : (f->m ? 1u << (f->m - 1) : 0));
    if (f->overflow == OVF_SAT)
        f->ovf_mag = f->max_mag;
    else
        f->ovf_mag = f->has_inf ? (uint64_t)f->emask << f->m : f->nan_mag;
    for (int E = 0; E <= (int)f->emask; E++)
        f->scale[E] = ldexpf(1.0f, field_exp(f, E) - f->m);
    f->v1_bits = f2u(ldexpf((float)((1u << f->m) + 1), f->emin - f->m));
    int n = 0;
    f->fields[n++] = (struct au_bitfield){"sign", (uint8_t)f->sbit, 1};
    f->fields[n++] = (struct au_bitfield){"exponent", (uint8_t)f->m, (uint8_t)f->e};
    if (f->m)
        f->fields[n++] = (struct au_bitfield){"mantissa", 0, (uint8_t)f->m};
}

/* Constants of the fused nearest-even path; it needs the format's normal range inside
 * float32's normal range and the subnormal "magic" addend to be a normal float. */
static void derive_fast(struct au_numsys_inst *f)
{
    f->fast = f->rounding == RND_NEAR && f->sub && f->emin >= -126 && f->emin + 23 - f->m <= 127 &&
              (f->max_mag >> f->m) >= 1;
    if (!f->fast)
        return;
    f->rs = (uint32_t)(23 - f->m);
    f->add = f->rs ? (1u << (f->rs - 1)) - 1 : 0;
    f->par = f->rs ? 1 : 0;
    f->keep = ~((1u << f->rs) - 1);
    f->minnorm_bits = (uint32_t)(f->emin + 127) << 23;
    f->magic = ldexpf(1.0f, f->emin + 23 - f->m);
    f->magic_bits = f2u(f->magic);
    f->code_off = (uint32_t)((int64_t)(f->bias - 127) * (int64_t)(1u << f->m));
    uint32_t max_bits = ((f->max_mag >> f->m) - (uint32_t)f->bias + 127) << 23 |
                        (uint32_t)(f->max_mag & f->mmask) << f->rs;
    if (f->overflow == OVF_SAT) {
        f->thr_bits = max_bits + 1;
        f->ovf_bits = max_bits;
    } else {
        float t = (float)f->ovf_thresh;
        if ((double)t < f->ovf_thresh)
            t = nextafterf(t, INFINITY);
        f->thr_bits = f->ovf_thresh > FLT_MAX ? 0x7f800000u : f2u(t);
        f->ovf_bits = f->has_inf ? 0x7f800000u : 0x7fc00000u;
    }
}

static int fp_create(const char *params_json, au_numsys_inst **out, char *err, size_t err_len)
{
    struct au_numsys_inst *f = calloc(1, sizeof(*f));
    if (!f) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    if (read_params(f, params_json, err, err_len) < 0)
        goto fail;
    f->emin = f->sub ? 1 - f->bias : -f->bias;
    f->sbit = (unsigned)(f->e + f->m);
    f->emask = (1u << f->e) - 1;
    f->mmask = (1u << f->m) - 1;
    if (derive_range(f, err, err_len) < 0)
        goto fail;
    derive_codes(f);
    derive_fast(f);
    *out = f;
    return 0;
fail:
    free(f);
    return -1;
}

static void fp_destroy(au_numsys_inst *f)
{
    free(f);
}

static void fp_layout(const au_numsys_inst *f, struct au_numsys_layout *out)
{
    *out = (struct au_numsys_layout){
        .elem_bits = f->sbit + 1,
        .block_kind = AU_BLOCK_NONE,
        .n_elem_fields = f->m ? 3u : 2u,
        .elem_fields = f->fields,
        .flags = (f->has_nan ? 0 : AU_LAYOUT_NO_NAN) | (f->has_inf ? 0 : AU_LAYOUT_NO_INF),
    };
}

/* ---- general encoder ---- */

/* 1 with probability rem / 2^rs (exact for rs <= 64: 32 or 64 random bits). */
static unsigned stoch_up(uint64_t rem, int rs, struct au_pcg32 *rng)
{
    if (rs <= 32)
        return (uint64_t)au_pcg32_next(rng) < (rem << (32 - rs));
    uint64_t r = (uint64_t)au_pcg32_next(rng) << 32;
    r |= au_pcg32_next(rng);
    if (rs <= 64)
        return r < (rem << (64 - rs));
    int k = rs - 64; /* below 2^-40: probability rounded up to a multiple of 2^-64 */
    uint64_t c = k >= 64 ? 1 : (rem >> k) + ((rem & ((1ULL << k) - 1)) != 0);
    return r < c;
}

/* sig / 2^rs rounded to an integer; on a tie, towards the candidate whose code is even
 * (the code's parity is that of N + odd_base). */
static uint64_t round_shift(uint64_t sig, int rs, int mode, unsigned odd_base, struct au_pcg32 *rng)
{
    if (rs <= 0)
        return sig;
    uint64_t n = rs >= 64 ? 0 : sig >> rs;
    uint64_t rem = rs >= 64 ? sig : sig & ((1ULL << rs) - 1);
    if (rem == 0 || mode == RND_ZERO)
        return n;
    if (mode == RND_STOCH)
        return n + stoch_up(rem, rs, rng);
    if (rs >= 64)
        return n; /* rem < 2^24, far below half */
    uint64_t half = 1ULL << (rs - 1);
    return n + (rem > half || (rem == half && ((n + odd_base) & 1)));
}

/* Without subnormals, 0 < a < v1: only 0 and v1 (code 1) are candidates. */
static uint64_t round_tiny(const struct au_numsys_inst *f, float a, struct au_pcg32 *rng)
{
    float v1 = u2f(f->v1_bits);
    if (f->rounding == RND_NEAR)
        return 2.0 * (double)a > (double)v1; /* the tie goes to 0, the even code */
    if (f->rounding == RND_ZERO)
        return 0;
    return au_pcg32_uniform(rng) < (double)a / (double)v1;
}

/* Magnitude code of a finite nonzero |x| (bits a), before the overflow rule. */
static uint64_t round_mag(const struct au_numsys_inst *f, uint32_t a, struct au_pcg32 *rng)
{
    if (!f->sub && a < f->v1_bits)
        return round_tiny(f, u2f(a), rng);
    int fe = (int)(a >> 23);
    uint64_t sig = a & 0x7fffffu;
    int ex = fe ? fe - 127 : -126;
    if (fe)
        sig |= 0x800000u;
    int t = fe ? ex : (31 - __builtin_clz((unsigned)sig)) - 149;
    int te = t > f->emin ? t : f->emin;
    unsigned odd = f->m ? 0 : (unsigned)(te - f->emin + !f->sub) & 1u;
    uint64_t n = round_shift(sig, (te - f->m) - (ex - 23), f->rounding, odd, rng);
    /* n may reach 2^(m+1): the sum then carries into the next binade by itself */
    uint64_t code = ((uint64_t)(te - f->emin) << f->m) + n;
    return f->sub ? code : code - (1ULL << f->m);
}

static uint64_t encode_slow(const struct au_numsys_inst *f, float x, struct au_pcg32 *rng,
                            int *nan_zeroed)
{
    uint32_t u = f2u(x), a = u & 0x7fffffffu;
    uint64_t sign = (uint64_t)(u >> 31) << f->sbit;
    if (a > 0x7f800000u) {
        *nan_zeroed |= !f->has_nan;
        return f->has_nan ? sign | f->nan_mag : 0;
    }
    if (a == 0x7f800000u)
        return sign | (f->overflow == OVF_IEEE ? f->ovf_mag : f->max_mag);
    if (a == 0)
        return sign;
    uint64_t mag = round_mag(f, a, rng);
    bool over = mag > f->max_mag || (f->rounding == RND_NEAR && f->overflow == OVF_IEEE &&
                                     (double)u2f(a) >= f->ovf_thresh);
    if (over) /* IEEE round-toward-zero never overflows to infinity */
        mag = f->overflow == OVF_IEEE && f->rounding != RND_ZERO ? f->ovf_mag : f->max_mag;
    return sign | mag;
}

static inline float decode1(const struct au_numsys_inst *f, uint64_t c)
{
    uint32_t E = (uint32_t)(c >> f->m) & f->emask, M = (uint32_t)c & f->mmask;
    uint32_t lead = (E != 0 || (!f->sub && M != 0)) ? 1u << f->m : 0;
    float v = (float)(lead + M) * f->scale[E];
    if ((int)E == f->spec_e) {
        if (f->specials == SPEC_IEEE)
            v = M ? NAN : INFINITY;
        else if (M == f->mmask)
            v = NAN;
    }
    return (c >> f->sbit) & 1 ? -v : v;
}

/* ---- fused nearest-even path: float32 bits in, rounded float32 bits out ---- */

/* The constants in locals: x[] is float and could alias the instance's floats, which
 * would otherwise keep the compiler from vectorizing the loops. Both candidates are
 * computed for every element and selected; fp.c is built with -fno-trapping-math so
 * the compiler may do the float add unconditionally (nothing reads FP flags). */
struct fast_k {
    uint32_t rs, add, par, keep, minnorm, thr, ovf, magic_bits;
    float magic;
};

AU_INLINE struct fast_k fast_consts(const struct au_numsys_inst *f)
{
    return (struct fast_k){f->rs,       f->add,      f->par,        f->keep, f->minnorm_bits,
                           f->thr_bits, f->ovf_bits, f->magic_bits, f->magic};
}

AU_INLINE uint32_t fast_round(struct fast_k k, uint32_t a)
{
    uint32_t rn = (a + k.add + ((a >> k.rs) & k.par)) & k.keep;
    uint32_t rsub = f2u((u2f(a) + k.magic) - k.magic);
    uint32_t r = a < k.minnorm ? rsub : rn;
    return a >= k.thr ? k.ovf : r;
}

AU_CLONES
static int quantize_fast(const struct au_numsys_inst *f, float *x, size_t n)
{
    const struct fast_k k = fast_consts(f);
    uint32_t nan_out = f->has_nan ? 0x7fc00000u : 0, nan_sign = f->has_nan ? ~0u : 0;
    uint32_t any_nan = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u = f2u(x[i]), s = u & 0x80000000u, a = u ^ s;
        uint32_t is_nan = a > 0x7f800000u;
        uint32_t r = fast_round(k, a) | s; /* unconditional: FP ops in a branch block SIMD */
        r = is_nan ? nan_out | (s & nan_sign) : r;
        any_nan |= is_nan;
        x[i] = u2f(r);
    }
    return any_nan && !f->has_nan ? AU_NUMSYS_NAN_ZEROED : 0;
}

AU_CLONES
static int encode_fast(const struct au_numsys_inst *f, const float *x, size_t n, uint64_t *codes)
{
    const struct fast_k k = fast_consts(f);
    const uint32_t off = f->code_off, ovf = (uint32_t)f->ovf_mag, sbit = f->sbit;
    uint32_t any_nan = 0, nan_code = f->has_nan ? (uint32_t)f->nan_mag : 0;
    uint32_t nan_sign = f->has_nan ? ~0u : 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u = f2u(x[i]), s = u >> 31, a = u & 0x7fffffffu;
        uint32_t r = fast_round(k, a), csub = f2u(u2f(a) + k.magic) - k.magic_bits;
        uint32_t c = a < k.minnorm ? csub : (r >> k.rs) + off;
        c = a >= k.thr ? ovf : c;
        uint32_t is_nan = a > 0x7f800000u;
        any_nan |= is_nan;
        c = is_nan ? nan_code : c;
        codes[i] = c | (uint64_t)(s & (is_nan ? nan_sign : 1u)) << sbit;
    }
    return any_nan && !f->has_nan ? AU_NUMSYS_NAN_ZEROED : 0;
}

/* ---- ABI entry points ---- */

static int fp_encode(const au_numsys_inst *f, const float *x, size_t n, uint64_t *codes,
                     uint64_t *meta, struct au_pcg32 *rng)
{
    (void)meta;
    if (f->fast)
        return encode_fast(f, x, n, codes);
    if (f->rounding == RND_STOCH && !rng)
        return -1;
    int nan_zeroed = 0;
    for (size_t i = 0; i < n; i++)
        codes[i] = encode_slow(f, x[i], rng, &nan_zeroed);
    return nan_zeroed ? AU_NUMSYS_NAN_ZEROED : 0;
}

static int fp_decode(const au_numsys_inst *f, const uint64_t *codes, const uint64_t *meta, size_t n,
                     float *y)
{
    (void)meta;
    for (size_t i = 0; i < n; i++)
        y[i] = decode1(f, codes[i]);
    return 0;
}

/* Stochastic rounding of values in the target's interior binades (above the lowest, below
 * the top one, so no tiny/subnormal rule, overflow or reserved code applies): the float's
 * low 23 - m bits are dropped and one ulp of the target added with probability rem / ulp,
 * from the same single draw encode_slow makes (none when rem is 0); a carry moves into the
 * next binade by itself. Everything else goes through encode_slow, so the stream of draws
 * and the results are those of the general path. */
static int quantize_stoch(const au_numsys_inst *f, float *x, size_t n, struct au_pcg32 *rng)
{
    const int rs = 23 - f->m;
    const uint32_t mask = (1u << rs) - 1;
    const int top = (int)(f2u(decode1(f, f->max_mag)) >> 23) - 127; /* binade of the max */
    int nan_zeroed = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u = f2u(x[i]), a = u & 0x7fffffffu;
        int fe = (int)(a >> 23), ex = fe - 127;
        if (fe == 0 || fe == 255 || ex <= f->emin || ex >= top) {
            x[i] = decode1(f, encode_slow(f, x[i], rng, &nan_zeroed));
            continue;
        }
        uint32_t rem = a & mask;
        if (rem)
            a = (a & ~mask) +
                ((uint32_t)((uint64_t)au_pcg32_next(rng) < ((uint64_t)rem << (32 - rs))) << rs);
        x[i] = u2f((u & 0x80000000u) | a);
    }
    return nan_zeroed ? AU_NUMSYS_NAN_ZEROED : 0;
}

static int fp_quantize(const au_numsys_inst *f, float *x, size_t n, struct au_pcg32 *rng)
{
    if (f->fast)
        return quantize_fast(f, x, n);
    if (f->rounding == RND_STOCH && !rng)
        return -1;
    if (f->rounding == RND_STOCH && f->m < 23)
        return quantize_stoch(f, x, n, rng);
    int nan_zeroed = 0;
    for (size_t i = 0; i < n; i++)
        x[i] = decode1(f, encode_slow(f, x[i], rng, &nan_zeroed));
    return nan_zeroed ? AU_NUMSYS_NAN_ZEROED : 0;
}

static const struct au_numsys_desc desc = {
    .abi_version = AU_NUMSYS_ABI_VERSION,
    .struct_size = sizeof(struct au_numsys_desc),
    .name = "fp",
    .summary = "IEEE-style binary floating point: 1..8 exponent bits, 0..23 mantissa bits",
    .params = params,
    .n_params = N_PARAMS,
    .presets = presets,
    .n_presets = sizeof(presets) / sizeof(presets[0]),
    .create = fp_create,
    .destroy = fp_destroy,
    .layout = fp_layout,
    .encode = fp_encode,
    .decode = fp_decode,
    .quantize = fp_quantize,
};

AU_NUMSYS_EXPORT const struct au_numsys_desc *au_numsys_entry(void)
{
    return &desc;
}

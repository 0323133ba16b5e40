/* posit: Posit Standard (2022), n bits, es exponent bits. NaR = 100...0, negatives are the
 * two's complement of the word, rounding is nearest-even on the encoding (the exact bit
 * string cut after n-1 bits), never to 0 or NaR; NaN and inf encode as NaR. Encoding is
 * branch-free from the float's bits with per-binade tables; decoding is exact in double,
 * and for n <= 16 a decode table makes quantize one encode and one load per element. */
#include "common.h"
#include "core/status.h"

#include <float.h>
#include <stdint.h>
#include <stdlib.h>

#define RND_NE 0
#define RND_TZ 1
#define RND_SR 2

struct au_numsys_inst {
    int n, es, rnd, maxexp; /* maxpos = 2^maxexp */
    uint32_t mask, nar, maxpos;
    float *table; /* decode table for n <= 16 */
    /* Encoding by float exponent field E: body = pre[E] | fraction, cut at shr[E] bits
     * (or widened by shl[E]); fix[E] != 0 is the whole magnitude code for binades beyond
     * maxpos/minpos (and NaR for E = 255). */
    struct binade {
        uint64_t pre;
        uint32_t fix;
        uint8_t shr, shl;
    } tab[256];
    struct au_bitfield fields[2];
};

static const struct au_param params[] = {
    {"bits", AU_PARAM_INT, "16", 2, 32, NULL, "bits per posit"},
    {"es", AU_PARAM_INT, "2", 0, 4, NULL, "exponent bits (the 2022 standard fixes 2)"},
    {"rounding", AU_PARAM_CHOICE, "\"nearest_even\"", 0, 0, "nearest_even|toward_zero|stochastic",
     "rounding on the encoding; never to 0 or NaR"},
};
#define N_PARAMS (sizeof(params) / sizeof(params[0]))

static const struct au_preset presets[] = {
    {"posit8", "{\"bits\":8,\"es\":2}"},     {"posit16", "{\"bits\":16,\"es\":2}"},
    {"posit32", "{\"bits\":32,\"es\":2}"},   {"posit8_0", "{\"bits\":8,\"es\":0}"},
    {"posit16_1", "{\"bits\":16,\"es\":1}"},
};

static float decode_mag(const au_numsys_inst *s, uint32_t c);
static void build_tables(au_numsys_inst *s);

static int read_params(const cJSON *j, au_numsys_inst *s, char *err, size_t err_len)
{
    long n, es;
    if (au_p_check_keys(j, params, N_PARAMS, err, err_len) ||
        au_p_int(j, "bits", 16, 2, 32, &n, err, err_len) ||
        au_p_int(j, "es", 2, 0, 4, &es, err, err_len) ||
        au_p_choice(j, "rounding", params[2].choices, 0, &s->rnd, err, err_len))
        return AU_INVALID;
    if ((n - 2) << es > 126) {
        snprintf(err, err_len,
                 "parameters 'bits' and 'es' give maxpos 2^%ld, beyond float32: need "
                 "(bits - 2) * 2^es <= 126",
                 (n - 2) << es);
        return AU_INVALID;
    }
    s->n = (int)n, s->es = (int)es;
    s->maxexp = (int)((n - 2) << es);
    s->mask = n == 32 ? 0xFFFFFFFFu : (1u << n) - 1;
    s->nar = 1u << (n - 1);
    s->maxpos = s->nar - 1;
    return 0;
}

static int posit_create(const char *params_json, au_numsys_inst **out, char *err, size_t err_len)
{
    *out = NULL;
    cJSON *j = params_json ? cJSON_Parse(params_json) : NULL;
    if (params_json && !j) {
        snprintf(err, err_len, "posit: parameters are not valid JSON");
        return AU_INVALID;
    }
    au_numsys_inst *s = calloc(1, sizeof(*s));
    int st = s ? read_params(j, s, err, err_len) : AU_NOMEM;
    cJSON_Delete(j);
    if (!st)
        build_tables(s);
    if (!st && s->n <= 16) {
        s->table = malloc(sizeof(float) << s->n);
        st = s->table ? 0 : AU_NOMEM;
        for (uint32_t c = 0; !st && c <= s->mask; c++)
            s->table[c] = decode_mag(s, c);
    }
    if (st) {
        char tmp[256];
        snprintf(tmp, sizeof(tmp), "posit: %s", st == AU_NOMEM ? "out of memory" : err);
        snprintf(err, err_len, "%s", tmp);
        if (s)
            free(s->table);
        free(s);
        return st;
    }
    s->fields[0] = (struct au_bitfield){"sign", (uint8_t)(s->n - 1), 1};
    s->fields[1] = (struct au_bitfield){"body", 0, (uint8_t)(s->n - 1)}; /* regime|exp|frac */
    *out = s;
    return 0;
}

static void posit_destroy(au_numsys_inst *s)
{
    if (s)
        free(s->table);
    free(s);
}

static void posit_layout(const au_numsys_inst *s, struct au_numsys_layout *l)
{
    memset(l, 0, sizeof(*l));
    l->elem_bits = (uint32_t)s->n;
    l->block_kind = AU_BLOCK_NONE;
    l->flags = AU_LAYOUT_NO_INF; /* NaR decodes to NaN */
    l->n_elem_fields = s->n > 1 ? 2 : 1;
    l->elem_fields = s->fields;
}

static inline uint32_t f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* Value of a code (NaR -> NaN), exact in double, rounded once to float. */
static float decode_mag(const au_numsys_inst *s, uint32_t c)
{
    c &= s->mask;
    if (c == 0)
        return 0.0f;
    if (c == s->nar)
        return NAN;
    int neg = (c & s->nar) != 0;
    uint32_t m = neg ? (0u - c) & s->mask : c; /* n-1 body bits, MSB first */
    int nb = s->n - 1, i = nb - 1, first = (m >> i) & 1u, run = 0;
    while (i >= 0 && (int)((m >> i) & 1u) == first)
        run++, i--;
    i--; /* skip the terminating bit (if any) */
    int r = first ? run - 1 : -run, e = 0, fb;
    for (int k = 0; k < s->es; k++, i--) /* exponent bits cut by the word end are 0 */
        e = (e << 1) | (i >= 0 ? (int)((m >> i) & 1u) : 0);
    fb = i + 1 > 0 ? i + 1 : 0;
    double frac = (double)(m & ((fb ? (1ull << fb) : 1ull) - 1)) / (double)(1ull << fb);
    double v = ldexp(1.0 + (fb ? frac : 0.0), r * (1 << s->es) + e);
    return (float)(neg ? -v : v);
}

/* Magnitude code of a finite a > 0, rounded on the encoding. */
static uint32_t encode_mag(const au_numsys_inst *s, float a, struct au_pcg32 *rng)
{
    uint32_t u = f2u(a), frac;
    int k;
    if (u >> 23) {
        k = (int)(u >> 23) - 127, frac = u & 0x7FFFFFu;
    } else { /* float subnormal: normalise the significand */
        int top = 31 - __builtin_clz(u);
        k = top - 149, frac = (u << (23 - top)) & 0x7FFFFFu;
    }
    if (k >= s->maxexp)
        return s->maxpos;
    if (k < -s->maxexp)
        return 1; /* below minpos: minpos, never 0 */
    int es = s->es, r = k >> es, e = k & ((1 << es) - 1);
    int rl = r >= 0 ? r + 2 : 1 - r;
    uint64_t reg = r >= 0 ? ((1ull << (r + 1)) - 1) << 1 : 1u;
    uint64_t body = (((reg << es) | (uint64_t)e) << 23) | frac;
    int sh = rl + es + 23 - (s->n - 1);
    if (sh <= 0)
        return (uint32_t)(body << -sh);
    uint64_t keep = body >> sh, rem = body & ((1ull << sh) - 1), half = 1ull << (sh - 1);
    if (s->rnd == RND_NE)
        keep += rem > half || (rem == half && (keep & 1u));
    else if (s->rnd == RND_SR && rem) /* P(up) = (a - lo) / (hi - lo), lo/hi by value */
        keep += au_pcg32_uniform(rng) *
                    ((double)decode_mag(s, (uint32_t)keep + 1) - decode_mag(s, (uint32_t)keep)) <
                (double)a - decode_mag(s, (uint32_t)keep);
    keep = keep ? keep : 1;
    return keep < s->maxpos ? (uint32_t)keep : s->maxpos;
}

/* The per-binade encoding tables (every float subnormal is below minpos: maxexp <= 126). */
static void build_tables(au_numsys_inst *s)
{
    for (int E = 0; E < 256; E++) {
        int k = E - 127, es = s->es;
        struct binade *b = &s->tab[E];
        b->fix = E == 255 ? s->nar : E == 0 || k < -s->maxexp ? 1u : 0u;
        b->fix = k >= s->maxexp && E != 255 ? s->maxpos : b->fix;
        b->pre = 0, b->shr = 0, b->shl = 0;
        if (b->fix)
            continue;
        int r = k >> es, e = k & ((1 << es) - 1), rl = r >= 0 ? r + 2 : 1 - r;
        uint64_t reg = r >= 0 ? ((1ull << (r + 1)) - 1) << 1 : 1u;
        int sh = rl + es + 23 - (s->n - 1);
        b->pre = ((reg << es) | (uint64_t)e) << 23;
        b->shr = (uint8_t)(sh > 0 ? sh : 0);
        b->shl = (uint8_t)(sh > 0 ? 0 : -sh);
    }
}

/* Branch-free encode for nearest_even (ne = 1) and toward_zero, from the float's bits:
 * round up iff 2*rem + (keep odd) > 2*half, which is rem > half or a tie with keep odd. */
static inline uint32_t encode_fast(const au_numsys_inst *s, float x, uint64_t ne)
{
    uint32_t u = f2u(x);
    const struct binade *b = &s->tab[(u >> 23) & 0xFFu];
    uint64_t body = b->pre | (u & 0x7FFFFFu);
    unsigned shr = b->shr;
    uint64_t keep = body >> shr, rem2 = (body << 1) & ((2ull << shr) - 1);
    keep += ne & ((rem2 + (keep & 1u)) > (1ull << shr));
    keep <<= b->shl; /* in-range binades never carry past maxpos */
    uint32_t m = b->fix ? b->fix : (uint32_t)keep;
    m = (u << 1) ? m : 0u;                     /* +-0 */
    return ((u >> 31) ? 0u - m : m) & s->mask; /* NaR is its own negation */
}

/* Fast decode through the float's bits: exact in double, one rounding to float. */
static inline float decode_fast(const au_numsys_inst *s, uint32_t c)
{
    c &= s->mask;
    uint32_t neg = (c >> (s->n - 1)) & 1u, m = neg ? (0u - c) & s->mask : c;
    uint64_t w = (uint64_t)m << (65 - s->n); /* body left-aligned in 64 bits */
    int first = (int)(w >> 63);
    int run = first ? __builtin_clzll(~w) : (w ? __builtin_clzll(w) : 64);
    run = run > s->n - 1 ? s->n - 1 : run;
    int r = first ? run - 1 : -run;
    uint64_t rest = run + 1 < 64 ? w << (run + 1) : 0;
    int e = s->es ? (int)(rest >> (64 - s->es)) : 0;
    uint64_t frac = rest << s->es; /* fraction bits, left-aligned */
    int k = r * (1 << s->es) + e;
    uint64_t bits = ((uint64_t)(k + 1023) << 52) | (frac >> 12);
    double v;
    memcpy(&v, &bits, 8);
    v = c == 0 ? 0.0 : c == s->nar ? NAN : v;
    return (float)(neg ? -v : v);
}

static uint32_t encode_one(const au_numsys_inst *s, float x, struct au_pcg32 *rng)
{
    if (s->rnd != RND_SR)
        return encode_fast(s, x, s->rnd == RND_NE);
    if (!(fabsf(x) <= FLT_MAX)) /* NaN and inf: NaR */
        return s->nar;
    if (x == 0)
        return 0;
    uint32_t m = encode_mag(s, fabsf(x), rng);
    return x < 0 ? (0u - m) & s->mask : m;
}

static int posit_encode(const au_numsys_inst *s, const float *x, size_t n, uint64_t *codes,
                        uint64_t *meta, struct au_pcg32 *rng)
{
    (void)meta;
    if (s->rnd == RND_SR && !rng)
        return AU_INVALID;
    for (size_t i = 0; i < n; i++)
        codes[i] = encode_one(s, x[i], rng);
    return 0;
}

static int posit_decode(const au_numsys_inst *s, const uint64_t *codes, const uint64_t *meta,
                        size_t n, float *y)
{
    (void)meta;
    for (size_t i = 0; i < n; i++)
        y[i] = s->table ? s->table[codes[i] & s->mask] : decode_fast(s, (uint32_t)codes[i]);
    return 0;
}

/* Wide posits (n > 16), nearest_even: where the posit keeps all es bits and at least one
 * fraction bit (shr < 23), its grid is the float mantissa cut at bit shr with the same tie
 * (the code's LSB is mantissa bit shr), so the value is the float rounded there. */
static inline float quantize_wide(const au_numsys_inst *s, float x)
{
    uint32_t u = f2u(x);
    const struct binade *b = &s->tab[(u >> 23) & 0xFFu];
    if (b->fix || b->shr >= 23)
        return decode_fast(s, encode_fast(s, x, 1));
    unsigned sh = b->shr;
    uint32_t half_m1 = sh ? (1u << (sh - 1)) - 1 : 0, keep = ~((1u << sh) - 1);
    uint32_t a = u & 0x7FFFFFFFu;
    a = (a + half_m1 + ((a >> sh) & (sh > 0))) & keep;
    a |= u & 0x80000000u;
    float y;
    memcpy(&y, &a, 4);
    return a & 0x7FFFFFFFu ? y : 0.0f; /* posits have no -0 */
}

static int posit_quantize(const au_numsys_inst *s, float *x, size_t n, struct au_pcg32 *rng)
{
    if (s->rnd == RND_SR && !rng)
        return AU_INVALID;
    if (s->table && s->rnd != RND_SR) {
        const float *t = s->table;
        const uint64_t ne = s->rnd == RND_NE;
        for (size_t i = 0; i < n; i++)
            x[i] = t[encode_fast(s, x[i], ne)];
    } else if (s->table) {
        for (size_t i = 0; i < n; i++)
            x[i] = s->table[encode_one(s, x[i], rng)];
    } else if (s->rnd == RND_NE) {
        for (size_t i = 0; i < n; i++)
            x[i] = quantize_wide(s, x[i]);
    } else {
        for (size_t i = 0; i < n; i++)
            x[i] = decode_fast(s, encode_one(s, x[i], rng));
    }
    return 0;
}

static const struct au_numsys_desc desc = {
    .abi_version = AU_NUMSYS_ABI_VERSION,
    .struct_size = sizeof(struct au_numsys_desc),
    .name = "posit",
    .summary = "posit (2022 standard): n bits, es exponent bits, NaR, no under/overflow",
    .params = params,
    .n_params = N_PARAMS,
    .presets = presets,
    .n_presets = sizeof(presets) / sizeof(presets[0]),
    .create = posit_create,
    .destroy = posit_destroy,
    .layout = posit_layout,
    .encode = posit_encode,
    .decode = posit_decode,
    .quantize = posit_quantize,
};

AU_NUMSYS_EXPORT const struct au_numsys_desc *au_numsys_entry(void)
{
    return &desc;
}

/* Tests for numsys/builtin/posit.c: decode against an independent bit-string decoder for
 * every code, brute force over every code with the posit tie rule (the midpoint of two
 * neighbours is the (n+1)-bit posit between them), the standard's named values, no
 * underflow to 0 or overflow to NaR, NaN/inf to NaR, posit32 spot checks, errors, speed. */
#include "tests/numsys/format_check.h"

/* Reference decoder working on a character string of bits, as the standard describes. */
static double ref_decode(uint32_t c, int n, int es)
{
    char b[40];
    uint32_t mask = n == 32 ? 0xFFFFFFFFu : (1u << n) - 1;
    c &= mask;
    if (c == 0)
        return 0;
    if (c == 1u << (n - 1))
        return NAN;
    int neg = (c >> (n - 1)) & 1u;
    if (neg)
        c = (0u - c) & mask;
    for (int i = 0; i < n; i++)
        b[i] = (char)('0' + ((c >> (n - 1 - i)) & 1u));
    int i = 1, run = 0;
    while (i < n && b[i] == b[1])
        run++, i++;
    int r = b[1] == '1' ? run - 1 : -run;
    i++; /* terminator */
    int e = 0;
    for (int k = 0; k < es; k++, i++)
        e = e * 2 + (i < n && b[i] == '1');
    double f = 1, w = 0.5;
    for (; i < n; i++, w /= 2)
        f += (b[i] == '1') * w;
    double v = ldexp(f, r * (1 << es) + e);
    return neg ? -v : v;
}

struct mid_ctx {
    struct fc_plugin wide; /* n + 1 bits, same es */
    int n;
};

static double posit_midpoint(uint64_t lo, uint64_t hi, double a, double b, void *ctx)
{
    struct mid_ctx *m = ctx;
    (void)hi, (void)a, (void)b;
    int64_t slo = (int64_t)(lo ^ (1ull << (m->n - 1))) - (int64_t)(1ull << (m->n - 1));
    uint64_t code = (uint64_t)(slo * 2 + 1) & ((1ull << (m->n + 1)) - 1);
    float y;
    m->wide.desc->decode(m->wide.inst, &code, NULL, 1, &y);
    return y;
}

static void test_posit_decode_matches_reference(void)
{
    for (int n = 2; n <= 12; n++)
        for (int es = 0; es <= 3; es++) {
            if ((n - 2) << es > 126)
                continue;
            char js[64];
            snprintf(js, sizeof(js), "{\"bits\":%d,\"es\":%d}", n, es);
            struct fc_plugin p;
            if (fc_open(&p, "posit", js))
                continue;
            for (uint64_t c = 0; c < (1ull << n); c++) {
                float y;
                p.desc->decode(p.inst, &c, NULL, 1, &y);
                double want = ref_decode((uint32_t)c, n, es);
                CHECK(isnan(want) ? isnan(y) : (double)y == want);
            }
            fc_close(&p);
        }
}

static void test_posit_brute_force_grid(void)
{
    static const int cfg[][2] = {{3, 0}, {4, 1}, {5, 2},  {6, 0},  {8, 0},  {8, 1},
                                 {8, 2}, {8, 3}, {10, 2}, {12, 1}, {16, 1}, {16, 2}};
    for (size_t k = 0; k < sizeof(cfg) / sizeof(cfg[0]); k++)
        for (int r = 0; r < 2; r++) {
            char js[100], jw[100];
            int n = cfg[k][0], es = cfg[k][1];
            snprintf(js, sizeof(js), "{\"bits\":%d,\"es\":%d,\"rounding\":\"%s\"}", n, es,
                     r ? "toward_zero" : "nearest_even");
            snprintf(jw, sizeof(jw), "{\"bits\":%d,\"es\":%d}", n + 1, es);
            struct fc_plugin p;
            struct mid_ctx m = {.n = n};
            if (fc_open(&p, "posit", js))
                continue;
            if (fc_open(&m.wide, "posit", jw) == 0) {
                struct fc_opts o = {.midpoint = posit_midpoint,
                                    .ctx = &m,
                                    .rounding = r,
                                    .min_nonzero = 1,
                                    .inf_mode = 1,
                                    .n_random = 5000};
                fc_check_layout(&p);
                if (fc_check_format(&p, &o))
                    fprintf(stderr, "  in %s\n", js);
                fc_close(&m.wide);
            }
            fc_check_quantize_matches(&p, 4099, 1e4f);
            float x[16];
            for (int i = 0; i < 16; i++)
                x[i] = (float)(i - 8) * 0.37f;
            fc_check_flips(&p, x, 16); /* a code flip changes only its element */
            fc_close(&p);
        }
}

static float q1(const struct fc_plugin *p, float x, uint64_t *code)
{
    float y;
    p->desc->encode(p->inst, &x, 1, code, NULL, NULL);
    p->desc->decode(p->inst, code, NULL, 1, &y);
    return y;
}

static void test_posit_standard_values(void)
{
    struct fc_plugin p;
    uint64_t c;
    if (fc_open(&p, "posit", "{\"bits\":8,\"es\":2}") == 0) {
        CHECK(q1(&p, 1.0f, &c) == 1.0f && c == 0x40);
        CHECK(q1(&p, -1.0f, &c) == -1.0f && c == 0xC0); /* two's complement of the word */
        CHECK(q1(&p, 1.5f, &c) == 1.5f && c == 0x44);
        CHECK(q1(&p, 1e30f, &c) == 0x1p24f && c == 0x7F);     /* maxpos, never NaR */
        CHECK(q1(&p, -1e-30f, &c) == -0x1p-24f && c == 0xFF); /* -minpos, never 0 */
        CHECK(isnan(q1(&p, NAN, &c)) && c == 0x80);           /* NaR */
        CHECK(isnan(q1(&p, INFINITY, &c)) && c == 0x80);
        CHECK(q1(&p, -0.0f, &c) == 0 && c == 0 && !signbit(q1(&p, -0.0f, &c)));
        /* Rounding is on the encoding: 2^22 is the tie between 2^20 (0x7E) and 2^24, goes to
         * the even code; 2^23 is nearer to 2^20 in value but above the midpoint string. */
        CHECK(q1(&p, 0x1p22f, &c) == 0x1p20f && c == 0x7E);
        CHECK(q1(&p, 0x1p23f, &c) == 0x1p24f && c == 0x7F);
        fc_close(&p);
    }
    if (fc_open(&p, "posit", "{\"bits\":16,\"es\":1}") == 0) {
        CHECK(q1(&p, 1.0f, &c) == 1.0f && c == 0x4000);
        CHECK(q1(&p, 1e9f, &c) == 0x1p28f && c == 0x7FFF);
        fc_close(&p);
    }
    if (fc_open(&p, "posit", "{\"bits\":32,\"es\":2}") == 0) {
        CHECK(q1(&p, 1.0f, &c) == 1.0f && c == 0x40000000u);
        CHECK(q1(&p, 1e38f, &c) == 0x1p120f && c == 0x7FFFFFFFu);
        CHECK(q1(&p, -1.0f, &c) == -1.0f && c == 0xC0000000u);
        fc_close(&p);
    }
}

static void test_posit32_round_trip_and_monotone(void)
{
    struct fc_plugin p;
    if (fc_open(&p, "posit", "{\"bits\":32}"))
        return;
    struct au_pcg32 rng;
    au_pcg32_seed(&rng, check_seed(), 2);
    for (int t = 0; t < 200000; t++) {
        uint64_t c = au_pcg32_next(&rng), c2;
        float y, y2;
        p.desc->decode(p.inst, &c, NULL, 1, &y);
        double exact = ref_decode((uint32_t)c, 32, 2);
        CHECK(isnan(exact) ? isnan(y) : y == (float)exact); /* decode rounds once */
        if (isnan(exact) || (double)y != exact)
            continue; /* not a float: decode rounded, so no round trip is expected */
        y2 = q1(&p, y, &c2);
        CHECK_EQ_U64(c2, c);
        CHECK(y2 == y);
    }
    float prev = -INFINITY;
    for (int t = -2000; t <= 2000; t++) { /* a sorted sweep over many binades */
        float x = (float)t * 1e-3f * (float)fabs((double)t) * 1e-3f;
        uint64_t c;
        float y = q1(&p, x, &c);
        CHECK(y >= prev);
        prev = y;
    }
    fc_check_quantize_matches(&p, 4099, 1e6f);
    fc_close(&p);
}

static void test_posit_stochastic_is_unbiased(void)
{
    struct fc_plugin p;
    if (fc_open(&p, "posit", "{\"bits\":8,\"rounding\":\"stochastic\"}"))
        return;
    struct fc_opts o = {0};
    fc_check_stochastic(&p, &o, 1.1f, 1.0, 1.125, 20000);
    fc_check_stochastic(&p, &o, -100000.0f, -262144.0, -65536.0, 20000); /* exponent bit cut */
    fc_check_quantize_matches(&p, 4097, 100.0f);
    fc_close(&p);
}

static void test_posit_bad_params(void)
{
    fc_expect_error("posit", "{\"bits\":33}",
                    "posit: parameter 'bits' must be an integer in [2, 32]");
    fc_expect_error("posit", "{\"es\":5}", "'es' must be an integer in [0, 4]");
    fc_expect_error("posit", "{\"bits\":32,\"es\":3}", "(bits - 2) * 2^es <= 126");
}

static void test_posit_speed(void)
{
    struct fc_plugin p;
    if (fc_open(&p, "posit", "{\"bits\":16}") == 0) {
        double r = fc_speed(&p, "posit16 es2");
        if (getenv("AURUM_PERF_STRICT"))
            CHECK(r < 20.0);
        fc_close(&p);
    }
    if (fc_open(&p, "posit", "{\"bits\":32}") == 0) {
        fc_speed(&p, "posit32 es2");
        fc_close(&p);
    }
}

int main(void)
{
    fc_check_presets("posit");
    test_posit_decode_matches_reference();
    test_posit_brute_force_grid();
    test_posit_standard_values();
    test_posit32_round_trip_and_monotone();
    test_posit_stochastic_is_unbiased();
    test_posit_bad_params();
    test_posit_speed();
    return check_report("test_posit");
}

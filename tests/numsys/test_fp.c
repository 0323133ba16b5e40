/* fp plugin (numsys/builtin/fp.c) against number-formats.md: brute force over every
 * code of every small format (e 1..5, m 0..4, three specials, with and without
 * subnormals, both overflow rules, two roundings, three biases), the spec's named
 * values, stochastic rounding statistics, fused quantize == decode(encode), bit flips,
 * layout fields and the refusals of impossible parameter sets. fp16/bf16 over all 2^32
 * inputs is test_fp_exhaustive.
 */
#include "tests/numsys/format_check.h"

#include <stdbool.h>

struct fmt_ctx {
    uint32_t e, m;
    int skip_inf;  /* ieee specials: inf codes are not in the saturating value set */
    double thresh; /* max + ulp(max)/2: where overflow "ieee" starts */
};

static int skip_inf_code(uint64_t code, void *ctx)
{
    const struct fmt_ctx *c = ctx;
    uint64_t mag = code & ((1ULL << (c->e + c->m)) - 1);
    return c->skip_inf && mag == ((uint64_t)((1u << c->e) - 1) << c->m);
}

static const char *const specials[] = {"ieee", "fn", "none"};

/* Largest finite value and its ulp, from the spec's decode rule (not from the plugin). */
static double spec_max(int e, int m, int bias, int sub, int sp, double *ulp)
{
    int etop = (1 << e) - 1, mtop = (1 << m) - 1;
    if (sp == 0 || (sp == 1 && m == 0))
        etop--;
    else if (sp == 1)
        mtop--;
    int exp = etop == 0 && sub ? 1 - bias : etop - bias; /* binade of the top code */
    *ulp = ldexp(1, exp - m);
    return (etop == 0 && sub ? mtop : (1 << m) + mtop) * *ulp;
}

static float q1(struct fc_plugin *p, float x)
{
    uint64_t c;
    float y;
    p->desc->encode(p->inst, &x, 1, &c, NULL, NULL);
    p->desc->decode(p->inst, &c, NULL, 1, &y);
    return y;
}

static uint64_t code1(struct fc_plugin *p, float x)
{
    uint64_t c = 0;
    p->desc->encode(p->inst, &x, 1, &c, NULL, NULL);
    return c;
}

/* Overflow "ieee" with infinities: format_check.h's probes assume a finite value set,
 * so the instance is compared with its saturating sibling (checked by brute force on
 * its own) at every value, neighbour and midpoint; from max + ulp/2 up it gives inf
 * (toward_zero: max, as IEEE). */
static int check_ieee_overflow(struct fc_plugin *p, const char *sat_js, double thresh, int rnd)
{
    struct fc_plugin s;
    int fails0 = check_failures_;
    if (fc_open(&s, "fp", sat_js) != 0)
        return 1;
    size_t nc = (size_t)1 << s.lay.elem_bits;
    for (size_t c = 0; c < nc; c++) {
        float v, v2;
        uint64_t c2 = c + 1 < nc ? c + 1 : c;
        s.desc->decode(s.inst, (const uint64_t[]){c}, NULL, 1, &v);
        s.desc->decode(s.inst, &c2, NULL, 1, &v2);
        float probes[] = {v, nextafterf(v, INFINITY), nextafterf(v, -INFINITY), (v + v2) / 2};
        for (size_t k = 0; k < 4; k++) {
            float x = probes[k], got = q1(p, x), want = q1(&s, x);
            if (isinf(x) || (!isnan(x) && fabs(x) >= thresh && rnd == 0))
                want = copysignf(INFINITY, x);
            CHECK(fc_same(got, want));
        }
    }
    float t = (float)thresh, below = nextafterf(t, 0);
    if ((double)t < thresh)
        t = nextafterf(t, INFINITY);
    CHECK(q1(p, t) == (rnd ? q1(&s, t) : INFINITY));
    CHECK(q1(p, -below) == q1(&s, -below));
    CHECK(q1(p, -INFINITY) == -INFINITY);
    CHECK(isnan(q1(p, NAN)) == (p->lay.flags & AU_LAYOUT_NO_NAN ? 0 : 1));
    fc_close(&s);
    return check_failures_ - fails0;
}

static void fp_json(char *buf, size_t len, int e, int m, int bias, int sub, int sp, const char *ovf,
                    int rnd)
{
    snprintf(buf, len,
             "{\"exponent\":%d,\"mantissa\":%d,\"bias\":%d,\"subnormals\":%s,\"specials\":\"%s\","
             "\"overflow\":\"%s\",\"rounding\":\"%s\"}",
             e, m, bias, sub ? "true" : "false", specials[sp], ovf,
             rnd ? "toward_zero" : "nearest_even");
}

static void check_one(int e, int m, int bias, int sub, int sp, int ovf, int rnd, int *n_ok)
{
    char js[256], sat_js[256];
    fp_json(js, sizeof(js), e, m, bias, sub, sp, ovf ? "ieee" : "saturate", rnd);
    fp_json(sat_js, sizeof(sat_js), e, m, bias, sub, sp, "saturate", rnd);
    bool valid = !(sp == 2 && ovf) && !(e == 1 && m == 0 && sp != 2);
    struct fc_plugin p;
    char err[256];
    int st = fc_create(&p, "fp", js, err, sizeof(err));
    CHECK((st == 0) == valid);
    if (st != 0 || (sp == 1 && ovf)) { /* fn + ieee overflow (NaN) is checked by hand */
        fc_close(&p);
        return;
    }
    double ulp, max = spec_max(e, m, bias, sub, sp, &ulp);
    struct fmt_ctx c = {(uint32_t)e, (uint32_t)m, sp == 0, max + ulp / 2};
    struct fc_opts o = {.skip_code = skip_inf_code, .ctx = &c, .rounding = rnd, .n_random = 300};
    int fails =
        sp == 0 && ovf ? check_ieee_overflow(&p, sat_js, c.thresh, rnd) : fc_check_format(&p, &o);
    if (fails)
        fprintf(stderr, "  ... in fp %s\n", js);
    else
        (*n_ok)++;
    fc_close(&p);
}

static void test_fp_small_formats_match_brute_force_nearest(void)
{
    int n_ok = 0, n_run = 0;
    for (int e = 1; e <= 5; e++)
        for (int m = 0; m <= 4; m++)
            for (int sp = 0; sp < 3; sp++)
                for (int sub = 0; sub < 2; sub++)
                    for (int ovf = 0; ovf < 2; ovf++)
                        for (int rnd = 0; rnd < 2; rnd++)
                            for (int db = -2; db <= 2; db += 2) {
                                int bias = (1 << (e - 1)) - 1 + db;
                                bool valid = !(sp == 2 && ovf) && !(e == 1 && m == 0 && sp != 2);
                                n_run += valid && !(sp == 1 && ovf);
                                check_one(e, m, bias, sub, sp, ovf, rnd, &n_ok);
                            }
    CHECK_EQ_INT(n_ok, n_run);
    printf("brute force: %d small fp formats match nearest/toward-zero over all codes\n", n_ok);
}

static void test_fp_presets_have_the_spec_values(void)
{
    struct fc_plugin p;
    fc_check_presets("fp");
    if (fc_open(&p, "fp", "{\"exponent\":4,\"mantissa\":3,\"specials\":\"fn\"}") == 0) {
        CHECK(q1(&p, 448.0f) == 448.0f); /* OCP E4M3 max */
        CHECK(q1(&p, 1e6f) == 448.0f);   /* saturate */
        CHECK(q1(&p, INFINITY) == 448.0f);
        CHECK(q1(&p, -1e6f) == -448.0f);
        CHECK_EQ_U64(code1(&p, NAN), 0x7f);             /* S.1111.111 */
        CHECK(q1(&p, ldexpf(1, -9)) == ldexpf(1, -9));  /* smallest subnormal */
        CHECK(q1(&p, ldexpf(1, -10)) == 0.0f);          /* tie to even code 0 */
        CHECK(q1(&p, ldexpf(3, -10)) == ldexpf(1, -8)); /* 1.5 * 2^-9 ties to code 2 */
        fc_check_layout(&p);
        CHECK_EQ_INT(p.lay.elem_bits, 8);
        CHECK_EQ_INT(fc_field_lsb(p.lay.elem_fields, p.lay.n_elem_fields, "exponent", NULL), 3);
        CHECK(p.lay.flags == AU_LAYOUT_NO_INF);
    }
    fc_close(&p);
    /* fn with overflow ieee: OCP's non-saturating mode, overflow and inf become NaN */
    if (fc_open(&p, "fp",
                "{\"exponent\":4,\"mantissa\":3,\"specials\":\"fn\",\"overflow\":"
                "\"ieee\"}") == 0) {
        CHECK(q1(&p, 463.9f) == 448.0f);
        CHECK(isnan(q1(&p, 464.0f))); /* max + ulp/2 = 448 + 16, even though 448's code is even */
        CHECK(isnan(q1(&p, -500.0f)) && signbit(q1(&p, -500.0f)));
        CHECK(isnan(q1(&p, INFINITY)));
    }
    fc_close(&p);
    if (fc_open(&p, "fp", "{\"exponent\":5,\"mantissa\":2,\"overflow\":\"ieee\"}") == 0) {
        CHECK(q1(&p, 57344.0f) == 57344.0f); /* E5M2 max */
        CHECK(q1(&p, 61439.0f) == 57344.0f);
        CHECK(isinf(q1(&p, 61440.0f)));
        CHECK_EQ_U64(code1(&p, NAN), 0x7e); /* quiet NaN: top mantissa bit */
    }
    fc_close(&p);
    if (fc_open(&p, "fp", "{\"exponent\":5,\"mantissa\":10,\"overflow\":\"ieee\"}") == 0) {
        CHECK(q1(&p, 65519.99f) == 65504.0f);
        CHECK(isinf(q1(&p, 65520.0f)));
        CHECK_EQ_U64(code1(&p, -0.0f), 0x8000); /* signed zero kept */
        CHECK_EQ_U64(code1(&p, 1.0f), 0x3c00);
        fc_check_flips(&p, (const float[]){1, -2, 3.5f, 1e-5f, 0, 65504, -7, 0.1f}, 8);
    }
    fc_close(&p);
}

/* No subnormals: field 0 with M=0 is zero, so 2^-bias is not a value (code 0 is). */
static void test_fp_without_subnormals_rounds_below_the_smallest_normal(void)
{
    struct fc_plugin p;
    if (fc_open(&p, "fp", "{\"exponent\":3,\"mantissa\":2,\"subnormals\":false}") == 0) {
        float v1 = 1.25f * ldexpf(1, -3); /* (1 + 2^-2) * 2^-bias, bias 3 */
        CHECK(q1(&p, v1) == v1);
        CHECK(q1(&p, ldexpf(1, -3)) == v1); /* 2^-bias is nearer to v1 than to 0 */
        CHECK(q1(&p, v1 / 2) == 0.0f);      /* tie: code 0 is even */
        CHECK(q1(&p, nextafterf(v1 / 2, 1)) == v1);
        CHECK(signbit(q1(&p, -v1 / 4))); /* -0 */
    }
    fc_close(&p);
}

static void test_fp_stochastic_rounding_is_unbiased(void)
{
    struct fc_plugin p;
    struct fc_opts o = {0};
    if (fc_open(&p, "fp",
                "{\"exponent\":4,\"mantissa\":3,\"specials\":\"fn\",\"rounding\":"
                "\"stochastic\"}") == 0) {
        fc_check_stochastic(&p, &o, 1.1f, 1.0, 1.125, 40000);                /* normal, p = 0.8 */
        fc_check_stochastic(&p, &o, 0.003f, 0.001953125, 0.00390625, 40000); /* subnormal */
        fc_check_stochastic(&p, &o, -300.0f, -320.0, -288.0, 40000);
        /* far below the smallest step: the shift exceeds 32 bits (64 random bits) */
        fc_check_stochastic(&p, &o, 1.5f * ldexpf(1, -19), 0.0, ldexpf(1, -9), 400000);
        fc_check_quantize_matches(&p, 5000, 500.0f);
    }
    fc_close(&p);
    if (fc_open(&p, "fp",
                "{\"exponent\":3,\"mantissa\":2,\"subnormals\":false,"
                "\"rounding\":\"stochastic\"}") == 0) {
        fc_check_stochastic(&p, &o, 0.1f, 0.0, 0.15625, 40000); /* between 0 and v1 */
        fc_check_quantize_matches(&p, 20000, 40.0f);            /* lowest binade, overflow */
    }
    fc_close(&p);
    if (fc_open(&p, "fp", "{\"exponent\":8,\"mantissa\":7,\"rounding\":\"stochastic\"}") == 0) {
        fc_check_stochastic(&p, &o, 1.505859375f, 1.5, 1.5 + 1.0 / 128, 40000);
        fc_check_quantize_matches(&p, 50000, 1e38f);
    }
    fc_close(&p);
    if (fc_open(&p, "fp", "{\"exponent\":5,\"mantissa\":10,\"rounding\":\"stochastic\"}") == 0)
        fc_check_quantize_matches(&p, 50000, 1e5f); /* fp16's interior, top binade, overflow */
    fc_close(&p);
}

/* Wide formats: tf32 against RNE on the float32 bits, fp32 is the identity. */
static void test_fp_wide_formats_round_the_float32_bits(void)
{
    struct fc_plugin p32, p19;
    struct au_pcg32 rng;
    au_pcg32_seed(&rng, check_seed(), 21u);
    if (fc_open(&p32, "fp", "{\"exponent\":8,\"mantissa\":23,\"overflow\":\"ieee\"}") != 0 ||
        fc_open(&p19, "fp", "{\"exponent\":8,\"mantissa\":10,\"overflow\":\"ieee\"}") != 0)
        return;
    size_t bad = 0;
    for (int i = 0; i < 1000000; i++) {
        uint32_t u = au_pcg32_next(&rng), want = (u + 0xfffu + ((u >> 13) & 1u)) & ~0x1fffu;
        float x, w;
        memcpy(&x, &u, 4);
        memcpy(&w, &want, 4);
        if (isnan(x))
            continue;
        bad += !fc_same(q1(&p19, x), w) || !fc_same(q1(&p32, x), x);
    }
    CHECK_EQ_U64(bad, 0);
    fc_check_quantize_matches(&p19, 100000, 1e30f);
    fc_check_quantize_matches(&p32, 100000, 1e38f);
    fc_close(&p32);
    fc_close(&p19);
}

static void test_fp_fused_quantize_equals_encode_decode(void)
{
    static const char *const fmts[] = {
        "{\"exponent\":5,\"mantissa\":10,\"overflow\":\"ieee\"}",
        "{\"exponent\":4,\"mantissa\":3,\"specials\":\"fn\"}",
        "{\"exponent\":5,\"mantissa\":2,\"specials\":\"none\"}",
        "{\"exponent\":3,\"mantissa\":0,\"subnormals\":false}",
        "{\"exponent\":6,\"mantissa\":9,\"rounding\":\"toward_zero\",\"overflow\":\"ieee\"}",
        "{\"exponent\":8,\"mantissa\":7,\"bias\":140}",
    };
    for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
        struct fc_plugin p;
        if (fc_open(&p, "fp", fmts[i]) == 0)
            fc_check_quantize_matches(&p, 200000, 1e5f);
        fc_close(&p);
    }
}

static void test_fp_refuses_formats_outside_float32(void)
{
    fc_expect_error("fp", "{\"exponent\":8,\"mantissa\":7,\"specials\":\"none\"}",
                    "exceeds float32");
    fc_expect_error("fp", "{\"exponent\":8,\"mantissa\":23,\"bias\":150}", "below float32");
    fc_expect_error("fp",
                    "{\"exponent\":4,\"mantissa\":3,\"specials\":\"none\",\"overflow\":"
                    "\"ieee\"}",
                    "needs an infinity");
    fc_expect_error("fp", "{\"exponent\":1,\"mantissa\":0}", "no nonzero finite value");
    fc_expect_error("fp", "{\"exponent\":9}", "'exponent'");
    fc_expect_error("fp", "{\"mantisa\":3}", "unknown parameter 'mantisa'");
    fc_expect_error("fp", "{\"bias\":\"big\"}", "'bias'");
}

static void test_fp16_speed_against_memcpy(void)
{
    struct fc_plugin p;
    if (fc_open(&p, "fp", "{\"exponent\":5,\"mantissa\":10,\"overflow\":\"ieee\"}") == 0)
        fc_speed(&p, "fp16 (fused, 16M floats)");
    fc_close(&p);
    if (fc_open(&p, "fp", "{\"exponent\":4,\"mantissa\":3,\"specials\":\"fn\"}") == 0)
        fc_speed(&p, "fp8_e4m3 (fused, 16M floats)");
    fc_close(&p);
}

int main(void)
{
    test_fp_small_formats_match_brute_force_nearest();
    test_fp_presets_have_the_spec_values();
    test_fp_without_subnormals_rounds_below_the_smallest_normal();
    test_fp_stochastic_rounding_is_unbiased();
    test_fp_wide_formats_round_the_float32_bits();
    test_fp_fused_quantize_equals_encode_decode();
    test_fp_refuses_formats_outside_float32();
    test_fp16_speed_against_memcpy();
    return check_report("test_fp");
}

/* Tests for numsys/builtin/int.c: brute force over every code for symmetric/asymmetric,
 * fp32/pow2 scales, dynamic/static ranges and each rounding mode; the scale and zero-point
 * formulas with non-power-of-two scales; metadata words; flips; stochastic; errors; speed. */
#include "tests/numsys/format_check.h"

static int skip_most_negative(uint64_t code, void *ctx)
{
    int n = *(const int *)ctx; /* symmetric qmax never encodes -2^(n-1) */
    return code == (1ull << (n - 1));
}

static void run_grid_case(const char *js, const float *anchor, size_t n_anchor, int rnd, int n,
                          int skip, int asym)
{
    struct fc_plugin p;
    if (fc_open(&p, "int", js))
        return;
    fc_check_layout(&p);
    struct fc_opts o = {.anchor = anchor,
                        .n_anchor = n_anchor,
                        .rounding = rnd,
                        .skip_code = skip ? skip_most_negative : NULL,
                        .ctx = &n,
                        .no_symmetry = asym,
                        .n_random = 500};
    if (asym) { /* round(x/s) + z: ties go to even q - z, the zero point from the metadata */
        struct fc_blk b;
        fc_run(&p, &o, &b, 0.0f, NULL);
        o.tie_offset = b.meta[0] >> p.lay.meta_fields[1].lsb;
    }
    if (fc_check_format(&p, &o))
        fprintf(stderr, "  in %s\n", js);
    fc_check_quantize_matches(&p, 4099, 20.0f);
    fc_close(&p);
}

static void test_int_brute_force_grid(void)
{
    static const int bits[] = {2, 3, 4, 8, 12, 16};
    static const char *rnds[] = {"nearest_even", "toward_zero", "floor"};
    for (size_t b = 0; b < sizeof(bits) / sizeof(bits[0]); b++)
        for (int r = 0; r < 3; r++) {
            int n = bits[b];
            char js[256];
            float qmax = ldexpf(1.0f, n - 1) - 1, a[2];
            /* symmetric, s = absmax / qmax = 2^-3 exactly */
            a[0] = qmax * 0.125f;
            snprintf(js, sizeof(js), "{\"bits\":%d,\"rounding\":\"%s\"}", n, rnds[r]);
            run_grid_case(js, a, 1, r, n, 1, 0);
            /* GoldenEye divisor: s = absmax / 2^(n-1), all codes used */
            a[0] = ldexpf(1.0f, n - 1) * 4.0f;
            snprintf(js, sizeof(js),
                     "{\"bits\":%d,\"rounding\":\"%s\",\"scale_divisor\":\"pow2\","
                     "\"granularity\":\"block\",\"block\":4}",
                     n, rnds[r]);
            run_grid_case(js, a, 1, r, n, 0, 0);
            /* power-of-two scale: 2^ceil(log2(absmax / qmax)) */
            a[0] = 1.0f;
            snprintf(js, sizeof(js), "{\"bits\":%d,\"rounding\":\"%s\",\"scale_format\":\"pow2\"}",
                     n, rnds[r]);
            run_grid_case(js, a, 1, r, n, 1, 0);
            /* asymmetric: range [-z s, (2^n - 1 - z) s] with s = 2^-4 */
            float z = (float)((1 << n) / 3), full = ldexpf(1.0f, n) - 1;
            a[0] = -z / 16, a[1] = (full - z) / 16;
            snprintf(js, sizeof(js), "{\"bits\":%d,\"rounding\":\"%s\",\"symmetric\":false}", n,
                     rnds[r]);
            run_grid_case(js, a, 2, r, n, 0, 1);
            /* static range: metadata never moves, out-of-range inputs saturate */
            snprintf(js, sizeof(js),
                     "{\"bits\":%d,\"rounding\":\"%s\",\"scale_source\":\"static\","
                     "\"range_max\":4,\"scale_divisor\":\"pow2\"}",
                     n, rnds[r]);
            run_grid_case(js, NULL, 0, r, n, 0, 0);
            snprintf(js, sizeof(js),
                     "{\"bits\":%d,\"rounding\":\"%s\",\"scale_source\":\"static\","
                     "\"symmetric\":false,\"range_min\":-1,\"range_max\":3,\"scale_format\":"
                     "\"pow2\"}",
                     n, rnds[r]);
            run_grid_case(js, NULL, 0, r, n, 0, 1);
        }
}

static void test_int_symmetric_formula_with_fp32_scale(void)
{
    struct fc_plugin p;
    if (fc_open(&p, "int", "{\"bits\":8}"))
        return;
    struct au_pcg32 rng;
    au_pcg32_seed(&rng, check_seed(), 1);
    float x[64], y[64];
    uint64_t c[64], m;
    for (int t = 0; t < 200; t++) {
        for (int i = 0; i < 64; i++)
            x[i] = (float)(au_pcg32_uniform(&rng) * 6 - 3);
        float amax = 0;
        for (int i = 0; i < 64; i++)
            amax = fmaxf(amax, fabsf(x[i]));
        float s = amax / 127.0f;
        p.desc->encode(p.inst, x, 64, c, &m, NULL);
        p.desc->decode(p.inst, c, &m, 64, y);
        CHECK_EQ_U64(m, fc_f2u(s)); /* the metadata word is the fp32 scale */
        for (int i = 0; i < 64; i++) {
            float q = nearbyintf(x[i] / s);
            q = fminf(fmaxf(q, -127.0f), 127.0f);
            CHECK_EQ_U64(c[i], (uint64_t)(int64_t)q & 0xFF);
            CHECK(y[i] == s * q);
            CHECK(fabsf(y[i] - x[i]) <= s * 0.5f * 1.0001f);
        }
    }
    float z[4] = {0}, w[4];
    p.desc->encode(p.inst, z, 4, c, &m, NULL);
    CHECK_EQ_U64(m, 0x3F800000u); /* absmax 0: s = 1 and every code 0 */
    CHECK(c[0] == 0 && c[3] == 0);
    float nan_in[3] = {NAN, 1.0f, -2.0f};
    CHECK_EQ_INT(p.desc->encode(p.inst, nan_in, 3, c, &m, NULL), 1);
    p.desc->decode(p.inst, c, &m, 3, w);
    CHECK(w[0] == 0 && w[2] == -2.0f);
    int wd = -1;
    CHECK_EQ_INT(fc_field_lsb(p.lay.meta_fields, p.lay.n_meta_fields, "scale", &wd), 0);
    CHECK_EQ_INT(wd, 32);
    fc_close(&p);
}

static void test_int_asymmetric_zero_point(void)
{
    struct fc_plugin p;
    if (fc_open(&p, "int", "{\"bits\":8,\"symmetric\":false}"))
        return;
    float x[4] = {-1.0f, 0.0f, 2.0f, 3.0f}, y[4];
    uint64_t c[4], m;
    p.desc->encode(p.inst, x, 4, c, &m, NULL);
    float s = 4.0f / 255.0f, z = nearbyintf(1.0f / s);
    CHECK_EQ_U64(m & 0xFFFFFFFFu, fc_f2u(s));
    CHECK_EQ_U64(m >> 32, (uint64_t)z); /* zero point above the scale */
    CHECK_EQ_U64(c[1], (uint64_t)z);    /* 0 is exact */
    p.desc->decode(p.inst, c, &m, 4, y);
    CHECK(y[1] == 0.0f);
    CHECK(fabsf(y[3] - 3.0f) <= s / 2);
    int wd = -1;
    CHECK_EQ_INT(fc_field_lsb(p.lay.meta_fields, p.lay.n_meta_fields, "zero_point", &wd), 32);
    CHECK_EQ_INT(wd, 8);
    CHECK_EQ_INT(p.lay.meta_bits, 40);
    /* An all-positive block still includes 0 in its range: z = 0. */
    float pos[2] = {1.0f, 5.1f};
    p.desc->encode(p.inst, pos, 2, c, &m, NULL);
    CHECK_EQ_U64(m >> 32, 0);
    float nan_in[2] = {NAN, -3.0f};
    CHECK_EQ_INT(p.desc->quantize(p.inst, nan_in, 2, NULL), 1);
    CHECK(nan_in[0] == 0 && nan_in[1] == -3.0f);
    fc_close(&p);
}

static void test_int_goldeneye_conventions(void)
{
    struct fc_plugin p;
    /* GoldenEye: s = R / 2^(B-1) with the profiled range R; thesis: floor(x/s). */
    if (fc_open(&p, "int",
                "{\"bits\":8,\"scale_source\":\"static\",\"range_max\":4,\"scale_divisor\":"
                "\"pow2\",\"rounding\":\"floor\"}"))
        return;
    float x[5] = {0.049f, -0.049f, 3.99f, 5.0f, -5.0f};
    p.desc->quantize(p.inst, x, 5, NULL);
    CHECK(x[0] == 0.03125f && x[1] == -0.0625f && x[2] == 3.96875f);
    CHECK(x[3] == 3.96875f && x[4] == -4.0f); /* lower clamp at -2^(B-1) s */
    fc_close(&p);
}

static void test_int_flips(void)
{
    static const char *cfg[] = {
        "{\"bits\":8,\"granularity\":\"block\",\"block\":8}",
        "{\"bits\":8,\"granularity\":\"block\",\"block\":8,\"scale_format\":\"pow2\"}",
        "{\"bits\":6,\"granularity\":\"block\",\"block\":8,\"symmetric\":false}",
        ("{\"bits\":6,\"granularity\":\"block\",\"block\":8,\"symmetric\":false,"
         "\"scale_format\":\"pow2\"}"),
    };
    float x[24];
    for (int i = 0; i < 24; i++)
        x[i] = (float)((i % 7) + 1) * (i & 1 ? -0.37f : 0.71f) * (float)(1 + i / 8);
    for (size_t k = 0; k < sizeof(cfg) / sizeof(cfg[0]); k++) {
        struct fc_plugin p;
        if (fc_open(&p, "int", cfg[k]))
            continue;
        fc_check_flips(&p, x, 24);
        fc_close(&p);
    }
    struct fc_plugin p; /* a pow2 scale-exponent flip rescales by 2^(+-2^k) exactly */
    if (fc_open(&p, "int", "{\"bits\":8,\"scale_format\":\"pow2\"}"))
        return;
    float y[8], y2[8];
    uint64_t c[8], m, m2;
    p.desc->encode(p.inst, x, 8, c, &m, NULL);
    p.desc->decode(p.inst, c, &m, 8, y);
    for (int k = 0; k < 8; k++) {
        m2 = m ^ (1ull << k);
        p.desc->decode(p.inst, c, &m2, 8, y2);
        for (int i = 0; i < 8; i++)
            CHECK(isinf(y2[i]) ? fabs(ldexp((double)y[i], (int)m2 - (int)m)) > FLT_MAX
                               : (double)y2[i] == ldexp((double)y[i], (int)m2 - (int)m));
    }
    fc_close(&p);
}

static void test_int_stochastic_is_unbiased(void)
{
    struct fc_plugin p;
    if (fc_open(&p, "int", "{\"bits\":4,\"rounding\":\"stochastic\"}"))
        return;
    const float a = 7.0f; /* s = 1 */
    struct fc_opts o = {.anchor = &a, .n_anchor = 1};
    fc_check_stochastic(&p, &o, 2.3f, 2.0, 3.0, 20000);
    fc_check_stochastic(&p, &o, -0.9f, -1.0, 0.0, 20000);
    fc_check_quantize_matches(&p, 4097, 8.0f);
    fc_close(&p);
}

static void test_int_bad_params(void)
{
    fc_expect_error("int", "{\"bits\":1}", "int: parameter 'bits' must be an integer in [2, 24]");
    fc_expect_error("int", "{\"symmetric\":1}", "'symmetric' must be true or false");
    fc_expect_error("int",
                    "{\"scale_source\":\"static\",\"symmetric\":false,\"range_min\":2,"
                    "\"range_max\":1}",
                    "'range_min' < 'range_max'");
    fc_expect_error("int", "{\"absmax\":-1}", "parameter 'absmax' must be a number in [0,");
    fc_expect_error("int", "{\"rounding\":\"ceil\"}", "nearest_even|toward_zero|stochastic|floor");
    fc_expect_error("int", "{\"scale_format\":\"fp16\"}",
                    "'scale_format' must be one of fp32|pow2");
    fc_expect_error("int", "{\"block\":\"row\"}",
                    "'block' must be an integer in [1, 65536] or one of tensor|channel");
}

/* Static scales from the profiled absmax the host fills in; unprofiled still creates. */
static void test_int_static_range_from_absmax(void)
{
    struct fc_plugin p;
    if (fc_open(&p, "int",
                "{\"scale_source\":\"static\",\"absmax\":4,\"scale_divisor\":\"pow2\"}") == 0) {
        float x[3] = {0.049f, 5.0f, -5.0f};
        p.desc->quantize(p.inst, x, 3, NULL);
        CHECK(x[0] == 0.0625f && x[1] == 3.96875f && x[2] == -4.0f); /* s = 4/128 */
        fc_close(&p);
    }
    if (fc_open(&p, "int", "{\"scale_source\":\"static\",\"symmetric\":false,\"absmax\":2}") == 0) {
        float x[2] = {-2.0f, 2.0f};
        uint64_t c[2], m;
        p.desc->encode(p.inst, x, 2, c, &m, NULL);
        CHECK_EQ_U64(m & 0xFFFFFFFFu, fc_f2u(4.0f / 255.0f)); /* range [-absmax, absmax] */
        fc_close(&p);
    }
    if (fc_open(&p, "int", "{\"scale_source\":\"static\"}") == 0) { /* not yet profiled */
        float x[2] = {2.4f, -1.6f};
        p.desc->quantize(p.inst, x, 2, NULL);
        CHECK(x[0] == 2.0f && x[1] == -2.0f); /* s = 1 */
        fc_close(&p);
    }
}

static void test_int_speed(void)
{
    struct fc_plugin p;
    if (fc_open(&p, "int", "{\"bits\":8}"))
        return;
    double r = fc_speed(&p, "int8 tensor");
    if (getenv("AURUM_PERF_STRICT"))
        CHECK(r < 4.0);
    fc_close(&p);
    if (fc_open(&p, "int", "{\"bits\":8,\"granularity\":\"block\",\"block\":32}"))
        return;
    fc_speed(&p, "int8 block32");
    fc_close(&p);
}

int main(void)
{
    fc_check_presets("int");
    fc_check_block_words("int");
    test_int_brute_force_grid();
    test_int_symmetric_formula_with_fp32_scale();
    test_int_asymmetric_zero_point();
    test_int_goldeneye_conventions();
    test_int_flips();
    test_int_stochastic_is_unbiased();
    test_int_bad_params();
    test_int_static_range_from_absmax();
    test_int_speed();
    return check_report("test_int");
}

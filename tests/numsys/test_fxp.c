/* Tests for numsys/builtin/fxp.c: brute force over every code for a grid of widths,
 * encodings and rounding modes, plus each rule of docs (two's complement range, ties to
 * even, -0 in sign-magnitude, wrap, stochastic unbiasedness, errors). */
#include "tests/numsys/format_check.h"

static float q1(const struct fc_plugin *p, float x)
{
    float y = x;
    p->desc->quantize(p->inst, &y, 1, NULL);
    return y;
}

static void test_fxp_brute_force_grid(void)
{
    static const int grid[][2] = {{0, 1}, {3, 4}, {0, 7}, {7, 0}, {5, 10}, {2, 13}, {1, 14}};
    static const char *enc[] = {"twos_complement", "sign_magnitude"};
    for (size_t g = 0; g < sizeof(grid) / sizeof(grid[0]); g++)
        for (int e = 0; e < 2; e++)
            for (int r = 0; r < 2; r++) {
                char js[256];
                snprintf(js, sizeof(js),
                         "{\"integer\":%d,\"fraction\":%d,\"encoding\":\"%s\",\"rounding\":\"%s\"}",
                         grid[g][0], grid[g][1], enc[e], r ? "toward_zero" : "nearest_even");
                struct fc_plugin p;
                if (fc_open(&p, "fxp", js))
                    continue;
                struct fc_opts o = {.rounding = r, .n_random = 2000};
                fc_check_layout(&p);
                CHECK_EQ_INT(fc_check_format(&p, &o), 0);
                fc_check_quantize_matches(&p, 4096, 1.2f * ldexpf(1.0f, grid[g][0]));
                float x[16];
                for (int i = 0; i < 16; i++)
                    x[i] = (float)(i - 8) * 0.37f;
                fc_check_flips(&p, x, 16); /* a code flip changes only its element */
                fc_close(&p);
            }
}

static void test_fxp_twos_complement_range_and_ties(void)
{
    struct fc_plugin p;
    if (fc_open(&p, "fxp", "{\"integer\":3,\"fraction\":4}"))
        return;
    CHECK_EQ_INT(p.lay.elem_bits, 8);
    CHECK(q1(&p, 100.0f) == 8.0f - 0.0625f); /* max = 2^i - 2^-f */
    CHECK(q1(&p, -100.0f) == -8.0f);         /* min = -2^i */
    CHECK(q1(&p, 1.03125f) == 1.0f);         /* 16.5 quanta: tie to even 16 */
    CHECK(q1(&p, 1.09375f) == 1.125f);       /* 17.5 quanta: tie to even 18 */
    CHECK(q1(&p, -1.03125f) == -1.0f);
    CHECK(q1(&p, 0.03125f) == 0.0f);
    CHECK(!signbit(q1(&p, -0.01f))); /* two's complement has no -0 */
    uint64_t c;
    float x = -1.0f, y;
    p.desc->encode(p.inst, &x, 1, &c, NULL, NULL);
    CHECK_EQ_U64(c, 0xF0u); /* -16 quanta in 8-bit two's complement */
    p.desc->decode(p.inst, &c, NULL, 1, &y);
    CHECK(y == -1.0f);
    int w = -1;
    CHECK_EQ_INT(fc_field_lsb(p.lay.elem_fields, p.lay.n_elem_fields, "sign", &w), 7);
    CHECK_EQ_INT(fc_field_lsb(p.lay.elem_fields, p.lay.n_elem_fields, "integer", &w), 4);
    CHECK_EQ_INT(w, 3);
    CHECK_EQ_INT(fc_field_lsb(p.lay.elem_fields, p.lay.n_elem_fields, "fraction", &w), 0);
    CHECK_EQ_INT(w, 4);
    fc_close(&p);
}

static void test_fxp_sign_magnitude_keeps_negative_zero(void)
{
    struct fc_plugin p;
    if (fc_open(&p, "fxp", "{\"integer\":3,\"fraction\":4,\"encoding\":\"sign_magnitude\"}"))
        return;
    CHECK(q1(&p, -100.0f) == -7.9375f); /* symmetric range */
    float y = q1(&p, -0.01f);
    CHECK(y == 0 && signbit(y));
    uint64_t c;
    float x = -1.0f;
    p.desc->encode(p.inst, &x, 1, &c, NULL, NULL);
    CHECK_EQ_U64(c, 0x90u); /* sign | 16 */
    fc_close(&p);
}

static void test_fxp_wrap_overflow(void)
{
    struct fc_plugin p;
    if (fc_open(&p, "fxp", "{\"integer\":3,\"fraction\":4,\"overflow\":\"wrap\"}") == 0) {
        CHECK(q1(&p, 8.0f) == -8.0f); /* 128 quanta wraps to -128 */
        CHECK(q1(&p, 9.0f) == -7.0f);
        CHECK(q1(&p, -9.0f) == 7.0f);
        CHECK(q1(&p, 3.0f) == 3.0f);
        CHECK(q1(&p, INFINITY) == 7.9375f); /* inf has no residue: it saturates */
        fc_check_quantize_matches(&p, 4096, 40.0f);
        fc_close(&p);
    }
    if (fc_open(&p, "fxp",
                "{\"integer\":3,\"fraction\":4,\"overflow\":\"wrap\",\"encoding\":"
                "\"sign_magnitude\"}") == 0) {
        CHECK(q1(&p, 9.0f) == 1.0f); /* magnitude 144 mod 128 */
        CHECK(q1(&p, -9.0f) == -1.0f);
        fc_close(&p);
    }
}

static void test_fxp_stochastic_is_unbiased(void)
{
    struct fc_plugin p;
    if (fc_open(&p, "fxp", "{\"integer\":3,\"fraction\":4,\"rounding\":\"stochastic\"}"))
        return;
    struct fc_opts o = {0};
    fc_check_stochastic(&p, &o, 1.01f, 1.0, 1.0625, 20000);
    fc_check_stochastic(&p, &o, -2.3f, -2.3125, -2.25, 20000);
    fc_check_quantize_matches(&p, 4096, 9.0f);
    float x = 1.0f;
    uint64_t c;
    CHECK(p.desc->encode(p.inst, &x, 1, &c, NULL, NULL) < 0); /* stochastic needs an rng */
    fc_close(&p);
}

static void test_fxp_nan_is_reported(void)
{
    struct fc_plugin p;
    if (fc_open(&p, "fxp", NULL))
        return;
    float x[3] = {NAN, 1.0f, NAN};
    uint64_t c[3];
    CHECK_EQ_INT(p.desc->encode(p.inst, x, 3, c, NULL, NULL), AU_NUMSYS_NAN_ZEROED);
    CHECK_EQ_U64(c[0], 0);
    CHECK_EQ_INT(p.desc->quantize(p.inst, x, 3, NULL), AU_NUMSYS_NAN_ZEROED);
    CHECK(x[0] == 0 && x[1] == 1.0f);
    fc_close(&p);
}

static void test_fxp_bad_params(void)
{
    fc_expect_error("fxp", "{\"integer\":30}", "parameter 'integer' must be an integer in [0, 24]");
    fc_expect_error("fxp", "{\"fraction\":-1}", "'fraction' must be an integer in [0, 24]");
    fc_expect_error("fxp", "{\"integer\":20,\"fraction\":10}", "'integer' + 'fraction'");
    fc_expect_error("fxp", "{\"integer\":0,\"fraction\":0}", "must be in [1, 24]");
    fc_expect_error("fxp", "{\"rounding\":\"up\"}", "'rounding' must be one of nearest_even");
    fc_expect_error("fxp", "{\"bits\":8}", "unknown parameter 'bits'");
    fc_expect_error("fxp", "{\"integer\":", "not valid JSON");
    fc_expect_error("fxp", "[1]", "must be a JSON object");
}

static void test_fxp_speed(void)
{
    struct fc_plugin p;
    if (fc_open(&p, "fxp", "{\"integer\":7,\"fraction\":8}"))
        return;
    double r = fc_speed(&p, "fxp16 nearest_even");
    if (getenv("AURUM_PERF_STRICT"))
        CHECK(r < 4.0);
    fc_close(&p);
}

int main(void)
{
    fc_check_presets("fxp");
    test_fxp_brute_force_grid();
    test_fxp_twos_complement_range_and_ties();
    test_fxp_sign_magnitude_keeps_negative_zero();
    test_fxp_wrap_overflow();
    test_fxp_stochastic_is_unbiased();
    test_fxp_nan_is_reported();
    test_fxp_bad_params();
    test_fxp_speed();
    return check_report("test_fxp");
}

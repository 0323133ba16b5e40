/* Tests for numsys/builtin/bfp.c: brute force over every code under a fixed shared
 * exponent for a grid of widths, the shared-exponent rule, saturation without renormalising,
 * zero blocks, -0, metadata/element flip locality, stochastic rounding, errors, speed. */
#include "tests/numsys/format_check.h"

static void test_bfp_brute_force_grid(void)
{
    static const int ms[] = {1, 3, 7, 10, 15};
    static const int ws[] = {2, 4, 8};
    static const float anchors[] = {1.0f, 0.125f, 32.0f, 1e-30f, 1000.0f};
    for (size_t a = 0; a < sizeof(ms) / sizeof(ms[0]); a++)
        for (size_t b = 0; b < sizeof(ws) / sizeof(ws[0]); b++)
            for (int r = 0; r < 2; r++) {
                char js[200];
                snprintf(js, sizeof(js),
                         "{\"mantissa\":%d,\"exponent\":%d,\"block\":%d,\"rounding\":\"%s\"}",
                         ms[a], ws[b], 4 + 4 * r, r ? "toward_zero" : "nearest_even");
                struct fc_plugin p;
                if (fc_open(&p, "bfp", js))
                    continue;
                fc_check_layout(&p);
                for (size_t k = 0; k < sizeof(anchors) / sizeof(anchors[0]); k++) {
                    if (ms[a] > 10 && k > 1)
                        continue; /* keep the run short for the widest codes */
                    struct fc_opts o = {
                        .anchor = &anchors[k], .n_anchor = 1, .rounding = r, .n_random = 500};
                    int f = fc_check_format(&p, &o);
                    if (f)
                        fprintf(stderr, "  in %s, anchor %g\n", js, (double)anchors[k]);
                }
                fc_check_quantize_matches(&p, 4099, 50.0f); /* 4099: a partial last block */
                fc_close(&p);
            }
}

static void test_bfp_tensor_granularity(void)
{
    struct fc_plugin p;
    if (fc_open(&p, "bfp", "{\"mantissa\":5,\"exponent\":5,\"granularity\":\"tensor\"}"))
        return;
    CHECK_EQ_INT(p.lay.block_kind, AU_BLOCK_TENSOR);
    const float a = 4.0f;
    struct fc_opts o = {.anchor = &a, .n_anchor = 1, .n_random = 2000};
    CHECK_EQ_INT(fc_check_format(&p, &o), 0);
    fc_check_quantize_matches(&p, 1000, 3.0f);
    fc_close(&p);
    if (fc_open(&p, "bfp", "{\"granularity\":\"channel\"}") == 0) {
        CHECK_EQ_INT(p.lay.block_kind, AU_BLOCK_CHANNEL);
        fc_close(&p);
    }
}

static void test_bfp_shared_exponent_rule(void)
{
    struct fc_plugin p;
    if (fc_open(&p, "bfp", "{\"mantissa\":3,\"exponent\":8,\"block\":4}"))
        return;
    float x[4] = {3.0f, 1.5f, 0.75f, 0.375f}, y[4];
    uint64_t c[4], m[1];
    CHECK_EQ_INT(p.desc->encode(p.inst, x, 4, c, m, NULL), 0);
    CHECK_EQ_U64(m[0], 1 + 127); /* floor(log2 3) = 1, biased by 127 */
    CHECK_EQ_U64(c[0], 6);       /* u = 2^(1-3+1) = 0.5: 3 = 6u */
    p.desc->decode(p.inst, c, m, 4, y);
    CHECK(y[0] == 3.0f && y[1] == 1.5f && y[2] == 1.0f && y[3] == 0.5f); /* 1.5u: tie to 2u */
    /* Largest magnitude rounds up past 2^(E+1): saturates at (2^m - 1)u, no renormalising. */
    float z[4] = {1.99f, -1.99f, 0.0f, -0.0f};
    CHECK_EQ_INT(p.desc->encode(p.inst, z, 4, c, m, NULL), 0);
    CHECK_EQ_U64(m[0], 127);
    p.desc->decode(p.inst, c, m, 4, y);
    CHECK(y[0] == 1.75f && y[1] == -1.75f);
    CHECK(y[2] == 0 && !signbit(y[2]) && y[3] == 0 && signbit(y[3])); /* -0 kept */
    CHECK_EQ_U64(c[1], 0xF);                                          /* sign bit 3, magnitude 7 */
    /* An all-zero block takes the smallest exponent. */
    float zero[4] = {0};
    p.desc->encode(p.inst, zero, 4, c, m, NULL);
    CHECK_EQ_U64(m[0], 0);
    CHECK(c[0] == 0 && c[3] == 0);
    /* Inf saturates without moving the exponent; NaN becomes 0 and is reported. */
    float w[4] = {INFINITY, 1.0f, NAN, -INFINITY};
    CHECK_EQ_INT(p.desc->encode(p.inst, w, 4, c, m, NULL), 1);
    CHECK_EQ_U64(m[0], 127);
    p.desc->decode(p.inst, c, m, 4, y);
    CHECK(y[0] == 1.75f && y[1] == 1.0f && y[2] == 0 && y[3] == -1.75f); /* u = 0.25 */
    int wd = -1;
    CHECK_EQ_INT(fc_field_lsb(p.lay.elem_fields, p.lay.n_elem_fields, "sign", &wd), 3);
    CHECK_EQ_INT(fc_field_lsb(p.lay.elem_fields, p.lay.n_elem_fields, "mantissa", &wd), 0);
    CHECK_EQ_INT(wd, 3);
    CHECK_EQ_INT(fc_field_lsb(p.lay.meta_fields, p.lay.n_meta_fields, "shared_exponent", &wd), 0);
    CHECK_EQ_INT(wd, 8);
    fc_close(&p);
}

static void test_bfp_exponent_clamps_to_field(void)
{
    struct fc_plugin p;
    if (fc_open(&p, "bfp", "{\"mantissa\":4,\"exponent\":3,\"block\":2}")) /* E in [-3, 4] */
        return;
    float x[2] = {1000.0f, 1e-9f}, y[2];
    uint64_t c[2], m[1];
    p.desc->encode(p.inst, x, 2, c, m, NULL);
    CHECK_EQ_U64(m[0], 7); /* E = 4 + bias 3 */
    p.desc->decode(p.inst, c, m, 2, y);
    CHECK(y[0] == 15.0f * 2.0f); /* (2^4 - 1) * 2^(4-4+1) */
    float t[2] = {1e-9f, 0};
    p.desc->encode(p.inst, t, 2, c, m, NULL);
    CHECK_EQ_U64(m[0], 0); /* E = -3 */
    fc_close(&p);
}

static void test_bfp_meta_flip_rescales_only_its_block(void)
{
    struct fc_plugin p;
    if (fc_open(&p, "bfp", "{\"mantissa\":7,\"exponent\":8,\"block\":8}"))
        return;
    float x[24], y[24], y2[24];
    uint64_t c[24], m[3], m2[3];
    for (int i = 0; i < 24; i++)
        x[i] = (float)((i % 5) + 1) * (i & 1 ? -0.3f : 0.7f) * (float)(1 + i / 8);
    fc_check_flips(&p, x, 24);
    p.desc->encode(p.inst, x, 24, c, m, NULL);
    p.desc->decode(p.inst, c, m, 24, y);
    for (int k = 0; k < 8; k++) {
        memcpy(m2, m, sizeof(m));
        m2[1] ^= 1ull << k;
        p.desc->decode(p.inst, c, m2, 24, y2);
        double f = ldexp(1.0, (int)m2[1] - (int)m[1]);
        for (int i = 8; i < 16; i++)
            CHECK(isinf(y2[i]) || (double)y2[i] == (double)y[i] * f ||
                  fabs((double)y2[i] - (double)y[i] * f) < 1.5e-45);
    }
    fc_close(&p);
}

static void test_bfp_stochastic_is_unbiased(void)
{
    struct fc_plugin p;
    if (fc_open(&p, "bfp", "{\"mantissa\":3,\"block\":2,\"rounding\":\"stochastic\"}"))
        return;
    const float a = 1.0f; /* u = 0.25 */
    struct fc_opts o = {.anchor = &a, .n_anchor = 1};
    fc_check_stochastic(&p, &o, 0.3f, 0.25, 0.5, 20000);
    fc_check_stochastic(&p, &o, -1.7f, -1.75, -1.5, 20000);
    fc_check_quantize_matches(&p, 4097, 8.0f);
    fc_close(&p);
}

static void test_bfp_bad_params(void)
{
    fc_expect_error("bfp", "{\"mantissa\":0}",
                    "bfp: parameter 'mantissa' must be an integer in [1, 23]");
    fc_expect_error("bfp", "{\"exponent\":9}", "'exponent' must be an integer in [1, 8]");
    fc_expect_error("bfp", "{\"block\":0}", "'block' must be an integer in [1, 65536]");
    fc_expect_error("bfp", "{\"granularity\":\"row\"}",
                    "'granularity' must be one of block|tensor|channel");
    fc_expect_error("bfp", "{\"block\":1.5}", "'block' must be an integer in [1, 65536]");
}

static void test_bfp_speed(void)
{
    struct fc_plugin p;
    if (fc_open(&p, "bfp", "{\"mantissa\":7,\"block\":16}"))
        return;
    double r = fc_speed(&p, "bfp8 block16");
    if (getenv("AURUM_PERF_STRICT"))
        CHECK(r < 4.0);
    fc_close(&p);
}

int main(void)
{
    fc_check_presets("bfp");
    fc_check_block_words("bfp");
    test_bfp_brute_force_grid();
    test_bfp_tensor_granularity();
    test_bfp_shared_exponent_rule();
    test_bfp_exponent_clamps_to_field();
    test_bfp_meta_flip_rescales_only_its_block();
    test_bfp_stochastic_is_unbiased();
    test_bfp_bad_params();
    test_bfp_speed();
    return check_report("test_bfp");
}

/* Tests for numsys/builtin/afp.c: brute force over every code under a fixed bias for a
 * grid of (bits, exponent), the bias rule, zero and the smallest magnitude, saturation,
 * fixed bias, metadata rescaling, stochastic rounding, errors and speed. */
#include "tests/numsys/format_check.h"

static void test_afp_brute_force_grid(void)
{
    static const int cfg[][2] = {{4, 1}, {4, 3},  {6, 2},  {8, 4}, {8, 3},
                                 {8, 7}, {10, 5}, {12, 4}, {16, 5}};
    static const float anchors[] = {1.0f, 0.03125f, 1048576.0f};
    for (size_t c = 0; c < sizeof(cfg) / sizeof(cfg[0]); c++)
        for (int r = 0; r < 2; r++) {
            char js[200];
            snprintf(js, sizeof(js),
                     "{\"bits\":%d,\"exponent\":%d,\"granularity\":\"%s\",\"block\":4,"
                     "\"rounding\":\"%s\"}",
                     cfg[c][0], cfg[c][1], r ? "block" : "tensor",
                     r ? "toward_zero" : "nearest_even");
            struct fc_plugin p;
            if (fc_open(&p, "afp", js))
                continue;
            fc_check_layout(&p);
            for (size_t k = 0; k < 3; k++) {
                if (cfg[c][0] > 12 && k > 0)
                    continue;
                struct fc_opts o = {
                    .anchor = &anchors[k], .n_anchor = 1, .rounding = r, .n_random = 500};
                if (fc_check_format(&p, &o))
                    fprintf(stderr, "  in %s, anchor %g\n", js, (double)anchors[k]);
            }
            fc_check_quantize_matches(&p, 4099, 30.0f);
            fc_check_quantize_matches(&p, 1031, 1e-37f); /* bias below -126: general path */
            fc_close(&p);
        }
}

static float q_block(const struct fc_plugin *p, const float *x, size_t n, float *y, uint64_t *meta)
{
    uint64_t c[64];
    p->desc->encode(p->inst, x, n, c, meta, NULL);
    p->desc->decode(p->inst, c, meta, n, y);
    return y[0];
}

static void test_afp_bias_and_range_rules(void)
{
    struct fc_plugin p;
    if (fc_open(&p, "afp", "{\"bits\":8,\"exponent\":4}"))
        return;
    float x[4] = {1.9f, 0.2f, 1.0f, 1.999f}, y[4];
    uint64_t m;
    q_block(&p, x, 4, y, &m);
    CHECK_EQ_U64(m, 0xF1); /* b = floor(log2 1.999) - 15 = -15, two's complement in 8 bits */
    CHECK(y[0] == 1.875f && y[2] == 1.0f && y[3] == 1.875f); /* saturates at (2-2^-3)*2^0 */
    CHECK(y[1] == 0.203125f);
    /* E = 0, M = 0 is zero; the smallest magnitude is (1 + 2^-m) * 2^b. */
    float minv = 1.125f * ldexpf(1.0f, -15);
    float t[3] = {1.0f, minv, minv * 0.5f};
    q_block(&p, t, 3, y, &m);
    CHECK(y[1] == minv);
    CHECK(y[2] == 0.0f); /* tie between 0 and the smallest magnitude goes to the even code 0 */
    t[2] = nextafterf(minv * 0.5f, 1.0f);
    q_block(&p, t, 3, y, &m);
    CHECK(y[2] == minv);
    t[2] = -ldexpf(1.0f, -15); /* 2^b itself is not representable: nearer to min than to 0 */
    q_block(&p, t, 3, y, &m);
    CHECK(y[2] == -minv);
    uint64_t c[3];
    p.desc->encode(p.inst, t, 3, c, &m, NULL);
    CHECK_EQ_U64(c[2], 0x81); /* sign, E = 0, M = 1 */
    CHECK_EQ_U64(c[0], 0x78); /* 1.0 = 2^(15 + b): E = 15, M = 0 */
    int w = -1;
    CHECK_EQ_INT(fc_field_lsb(p.lay.elem_fields, p.lay.n_elem_fields, "exponent", &w), 3);
    CHECK_EQ_INT(w, 4);
    CHECK_EQ_INT(fc_field_lsb(p.lay.meta_fields, p.lay.n_meta_fields, "bias", &w), 0);
    CHECK_EQ_INT(w, 8);
    /* An all-zero block takes the smallest bias; inf saturates, NaN is reported. */
    float z[3] = {0.0f, -0.0f, 0.0f};
    q_block(&p, z, 3, y, &m);
    CHECK_EQ_U64(m, 0x80);
    CHECK(y[1] == 0 && signbit(y[1]));
    float s[3] = {INFINITY, 0.5f, NAN};
    CHECK_EQ_INT(p.desc->encode(p.inst, s, 3, c, &m, NULL), 1);
    p.desc->decode(p.inst, c, &m, 3, y);
    CHECK(y[0] == 0.9375f && y[1] == 0.5f && y[2] == 0.0f);
    fc_close(&p);
}

static void test_afp_fixed_bias(void)
{
    struct fc_plugin p;
    if (fc_open(&p, "afp", "{\"bits\":8,\"exponent\":4,\"bias_source\":\"fixed\",\"bias\":-18}"))
        return;
    float x[3] = {5.5f, 0.0703125f, -0.029296875f}, y[3];
    uint64_t m;
    q_block(&p, x, 3, y, &m);
    CHECK_EQ_U64(m, (uint64_t)(-18) & 0xFF);
    CHECK(y[0] == 0.234375f && y[1] == 0.0703125f && y[2] == -0.029296875f);
    fc_close(&p);
}

static void test_afp_meta_flip_rescales_only_its_block(void)
{
    struct fc_plugin p;
    if (fc_open(&p, "afp", "{\"bits\":8,\"exponent\":3,\"granularity\":\"block\",\"block\":8}"))
        return;
    float x[24], y[24], y2[24];
    uint64_t c[24], m[3], m2[3];
    for (int i = 0; i < 24; i++)
        x[i] = (float)((i % 7) + 1) * (i & 1 ? -0.37f : 0.71f) * (float)(1 + i / 8);
    fc_check_flips(&p, x, 24);
    p.desc->encode(p.inst, x, 24, c, m, NULL);
    p.desc->decode(p.inst, c, m, 24, y);
    for (int k = 0; k < 8; k++) {
        memcpy(m2, m, sizeof(m));
        m2[2] ^= 1ull << k;
        p.desc->decode(p.inst, c, m2, 24, y2);
        int b = (int)(int8_t)(uint8_t)m[2], b2 = (int)(int8_t)(uint8_t)m2[2];
        for (int i = 16; i < 24; i++)
            CHECK((double)y2[i] == ldexp((double)y[i], b2 - b) || b2 > 100 || b2 < -100);
    }
    fc_close(&p);
}

static void test_afp_stochastic_is_unbiased(void)
{
    struct fc_plugin p;
    if (fc_open(&p, "afp",
                "{\"bits\":6,\"exponent\":3,\"granularity\":\"block\",\"block\":2,"
                "\"rounding\":\"stochastic\"}"))
        return;
    const float a = 1.0f; /* b = -7, m = 2 */
    struct fc_opts o = {.anchor = &a, .n_anchor = 1};
    fc_check_stochastic(&p, &o, 0.3f, 0.25, 0.3125, 20000);
    fc_check_stochastic(&p, &o, -0.8f, -0.875, -0.75, 20000);
    fc_check_stochastic(&p, &o, 0.005f, 0.0, 1.25 / 128, 20000); /* below the smallest */
    fc_check_quantize_matches(&p, 4097, 8.0f);
    fc_close(&p);
}

static void test_afp_bad_params(void)
{
    fc_expect_error("afp", "{\"bits\":8,\"exponent\":8}",
                    "afp: parameter 'exponent' must be in [1, bits - 1 = 7]");
    fc_expect_error("afp", "{\"bits\":17}", "'bits' must be an integer in [2, 16]");
    fc_expect_error("afp", "{\"bias_bits\":1}", "'bias_bits' must be an integer in [2, 16]");
    fc_expect_error("afp", "{\"bias_source\":\"fixed\",\"bias\":200}",
                    "'bias' must be in [-126, 112]");
    fc_expect_error("afp", "{\"bias_source\":\"auto\"}",
                    "'bias_source' must be one of dynamic|fixed");
}

static void test_afp_speed(void)
{
    struct fc_plugin p;
    if (fc_open(&p, "afp", "{\"bits\":8,\"exponent\":4}"))
        return;
    double r = fc_speed(&p, "afp8_e4m3 tensor");
    if (getenv("AURUM_PERF_STRICT"))
        CHECK(r < 4.0);
    fc_close(&p);
}

int main(void)
{
    fc_check_presets("afp");
    fc_check_block_words("afp");
    test_afp_brute_force_grid();
    test_afp_bias_and_range_rules();
    test_afp_fixed_bias();
    test_afp_meta_flip_rescales_only_its_block();
    test_afp_stochastic_is_unbiased();
    test_afp_bad_params();
    test_afp_speed();
    return check_report("test_afp");
}

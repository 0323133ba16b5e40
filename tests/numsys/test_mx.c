/* Tests for numsys/builtin/mx.c: brute force over every element code under fixed scales for
 * each OCP element type, the E8M0 scale rule, element tables (max, specials), NaN scale,
 * scale/element flip locality and exact rescaling, stochastic rounding, errors, speed. */
#include "tests/numsys/format_check.h"

static const char *elems[] = {"fp8_e4m3", "fp8_e5m2", "fp6_e2m3", "fp6_e3m2", "fp4_e2m1", "int8"};
static const float maxes[] = {448.0f, 57344.0f, 7.5f, 28.0f, 6.0f, 127.0f / 64.0f};

static int skip_inf_or_minus2(uint64_t code, void *ctx)
{
    int el = *(const int *)ctx;
    if (el == 1) /* e5m2 infinities are not finite neighbours */
        return (code & 0x7F) == 0x7C;
    if (el == 5) /* int8 -2 (0x80) is never produced: saturation is symmetric */
        return code == 0x80;
    return 0;
}

static void test_mx_brute_force_all_elements(void)
{
    for (int el = 0; el < 6; el++)
        for (int r = 0; r < 2; r++) {
            char js[200];
            snprintf(js, sizeof(js), "{\"element\":\"%s\",\"block\":%d,\"rounding\":\"%s\"}",
                     elems[el], r ? 8 : 32, r ? "toward_zero" : "nearest_even");
            struct fc_plugin p;
            if (fc_open(&p, "mx", js))
                continue;
            fc_check_layout(&p);
            const float anchors[] = {maxes[el], maxes[el] * 0x1p-20f, maxes[el] * 0x1p20f, 1e-40f};
            for (int k = 0; k < 4; k++) {
                struct fc_opts o = {.anchor = &anchors[k],
                                    .n_anchor = 1,
                                    .rounding = r,
                                    .skip_code = skip_inf_or_minus2,
                                    .ctx = &el,
                                    .inf_mode = el == 1 ? 2 : 0,
                                    .n_random = 2000};
                if (fc_check_format(&p, &o))
                    fprintf(stderr, "  in %s anchor %g\n", js, (double)anchors[k]);
            }
            fc_check_quantize_matches(&p, 4099, 100.0f);
            fc_check_quantize_matches(&p, 999, 1e-38f);
            fc_close(&p);
        }
}

static void decode_codes(const struct fc_plugin *p, const uint64_t *c, size_t n, uint64_t meta,
                         float *y)
{
    uint64_t m[4] = {meta, meta, meta, meta};
    p->desc->decode(p->inst, c, m, n, y);
}

static void test_mx_element_tables(void)
{
    struct fc_plugin p;
    float y[16];
    uint64_t c[16];
    for (int i = 0; i < 16; i++)
        c[i] = (uint64_t)i;
    if (fc_open(&p, "mx", "{\"element\":\"fp4_e2m1\",\"block\":16}") == 0) {
        static const float want[8] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};
        decode_codes(&p, c, 16, 127, y);
        for (int i = 0; i < 8; i++)
            CHECK(y[i] == want[i] && y[i + 8] == -want[i]);
        fc_close(&p);
    }
    if (fc_open(&p, "mx", "{\"element\":\"fp8_e4m3\",\"block\":4}") == 0) {
        uint64_t k[4] = {0x7E, 0x7F, 0xFF, 0x01};
        decode_codes(&p, k, 4, 127, y);
        CHECK(y[0] == 448.0f && isnan(y[1]) && isnan(y[2]) && y[3] == 0x1p-9f);
        fc_close(&p);
    }
    if (fc_open(&p, "mx", "{\"element\":\"fp8_e5m2\",\"block\":4}") == 0) {
        uint64_t k[4] = {0x7B, 0x7C, 0xFC, 0x7D};
        decode_codes(&p, k, 4, 127, y);
        CHECK(y[0] == 57344.0f && y[1] == INFINITY && y[2] == -INFINITY && isnan(y[3]));
        fc_close(&p);
    }
    if (fc_open(&p, "mx", "{\"element\":\"fp6_e2m3\",\"block\":4}") == 0) {
        uint64_t k[4] = {0x1F, 0x3F, 0x01, 0x20};
        decode_codes(&p, k, 4, 127, y);
        CHECK(y[0] == 7.5f && y[1] == -7.5f && y[2] == 0.125f && y[3] == 0 && signbit(y[3]));
        fc_close(&p);
    }
    if (fc_open(&p, "mx", "{\"element\":\"fp6_e3m2\",\"block\":4}") == 0) {
        uint64_t k[4] = {0x1F, 0x01, 0x04, 0x3F};
        decode_codes(&p, k, 4, 127, y);
        CHECK(y[0] == 28.0f && y[1] == 0.0625f && y[2] == 0.25f && y[3] == -28.0f);
        fc_close(&p);
    }
    if (fc_open(&p, "mx", "{\"element\":\"int8\",\"block\":4}") == 0) {
        uint64_t k[4] = {0x7F, 0x80, 0x01, 0xFF};
        decode_codes(&p, k, 4, 127, y);
        CHECK(y[0] == 127.0f / 64 && y[1] == -2.0f && y[2] == 1.0f / 64 && y[3] == -1.0f / 64);
        fc_close(&p);
    }
}

static void test_mx_scale_rule(void)
{
    struct fc_plugin p;
    if (fc_open(&p, "mx", "{\"element\":\"fp8_e4m3\",\"block\":4}"))
        return;
    float x[8] = {1.0f, 0.5f, -0.25f, 0.001f, 0, 0, 0, 0}, y[8];
    uint64_t c[8], m[2];
    CHECK_EQ_INT(p.desc->encode(p.inst, x, 8, c, m, NULL), 0);
    CHECK_EQ_U64(m[0], 127 + 0 - 8); /* X = 2^(floor(log2 1) - emax_elem) */
    CHECK_EQ_U64(m[1], 0);           /* an all-zero block takes E = 0 */
    CHECK_EQ_U64(c[0], 0x78);        /* 1/X = 256 = 1.0 * 2^8: E = 15, M = 0 */
    p.desc->decode(p.inst, c, m, 8, y);
    CHECK(y[0] == 1.0f && y[1] == 0.5f && y[2] == -0.25f);
    CHECK(y[3] == 0x1p-10f); /* 0.256 element units round to 0.25 (quantum 2^-5) */
    uint64_t nanm[2] = {0xFF, 0xFF};
    p.desc->decode(p.inst, c, nanm, 8, y);
    CHECK(isnan(y[0]) && isnan(y[5])); /* E8M0 0xFF is NaN for the whole block */
    float s[4] = {NAN, INFINITY, 2.0f, -INFINITY};
    CHECK_EQ_INT(p.desc->encode(p.inst, s, 4, c, m, NULL), 0); /* e4m3 has a NaN: no report */
    p.desc->decode(p.inst, c, m, 4, y);
    CHECK(isnan(y[0]) && y[1] == 3.5f && y[2] == 2.0f && y[3] == -3.5f); /* inf saturates */
    fc_close(&p);
    if (fc_open(&p, "mx", "{\"element\":\"fp4_e2m1\",\"block\":4}") == 0) {
        CHECK_EQ_INT(p.desc->encode(p.inst, s, 4, c, m, NULL), 1); /* no NaN code: 0, reported */
        p.desc->decode(p.inst, c, m, 4, y);
        CHECK(y[0] == 0 && y[1] == 3.0f && y[3] == -3.0f);
        fc_close(&p);
    }
}

static void test_mx_flips(void)
{
    float x[96];
    for (int i = 0; i < 96; i++)
        x[i] = (float)((i % 7) + 1) * (i & 1 ? -0.37f : 0.71f) * (float)(1 + i / 32);
    for (int el = 0; el < 6; el++) {
        char js[100];
        snprintf(js, sizeof(js), "{\"element\":\"%s\"}", elems[el]);
        struct fc_plugin p;
        if (fc_open(&p, "mx", js))
            continue;
        fc_check_flips(&p, x, 96);
        float y[96], y2[96];
        uint64_t c[96], m[3], m2[3];
        p.desc->encode(p.inst, x, 96, c, m, NULL);
        p.desc->decode(p.inst, c, m, 96, y);
        for (int k = 0; k < 8; k++) { /* a scale flip multiplies the block by 2^(E'-E) */
            memcpy(m2, m, sizeof(m));
            m2[1] ^= 1ull << k;
            p.desc->decode(p.inst, c, m2, 96, y2);
            for (int i = 32; i < 64; i++) {
                double want = ldexp((double)y[i], (int)m2[1] - (int)m[1]);
                CHECK(m2[1] == 0xFF  ? isnan(y2[i])
                      : isinf(y2[i]) ? fabs(want) > FLT_MAX
                                     : (double)y2[i] == want);
            }
        }
        fc_close(&p);
    }
}

static void test_mx_stochastic_is_unbiased(void)
{
    struct fc_plugin p;
    if (fc_open(&p, "mx", "{\"element\":\"fp4_e2m1\",\"block\":2,\"rounding\":\"stochastic\"}"))
        return;
    const float a = 6.0f; /* X = 1 */
    struct fc_opts o = {.anchor = &a, .n_anchor = 1};
    fc_check_stochastic(&p, &o, 2.2f, 2.0, 3.0, 20000);
    fc_check_stochastic(&p, &o, -0.3f, -0.5, 0.0, 20000);
    fc_check_stochastic(&p, &o, 4.5f, 4.0, 6.0, 20000);
    fc_check_quantize_matches(&p, 4097, 8.0f);
    fc_close(&p);
}

static void test_mx_bad_params(void)
{
    fc_expect_error("mx", "{\"element\":\"fp8\"}",
                    "mx: parameter 'element' must be one of fp8_e4m3|fp8_e5m2");
    fc_expect_error("mx", "{\"block\":0}", "'block' must be an integer in [1, 65536]");
    fc_expect_error("mx", "{\"scale\":8}", "unknown parameter 'scale'");
}

static void test_mx_speed(void)
{
    static const char *cfg[][2] = {{"{\"element\":\"fp8_e4m3\"}", "mxfp8_e4m3 block32"},
                                   {"{\"element\":\"fp4_e2m1\"}", "mxfp4_e2m1 block32"},
                                   {"{\"element\":\"int8\"}", "mxint8 block32"}};
    for (int i = 0; i < 3; i++) {
        struct fc_plugin p;
        if (fc_open(&p, "mx", cfg[i][0]))
            continue;
        double r = fc_speed(&p, cfg[i][1]);
        if (getenv("AURUM_PERF_STRICT"))
            CHECK(r < 4.0);
        fc_close(&p);
    }
}

int main(void)
{
    fc_check_presets("mx");
    fc_check_block_words("mx");
    test_mx_brute_force_all_elements();
    test_mx_element_tables();
    test_mx_scale_rule();
    test_mx_flips();
    test_mx_stochastic_is_unbiased();
    test_mx_bad_params();
    test_mx_speed();
    return check_report("test_mx");
}

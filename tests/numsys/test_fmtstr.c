/* Format strings (numsys/fmtstr.c): presets, name{...}, preset{overrides} and JSON all
 * reach the same normalized parameters; the canonical string parses back to itself;
 * every bad spec gets one line naming the format and the parameter with the allowed
 * range; the profiled absmax reaches static-scale formats.
 */
#include "core/alloc.h"
#include "numsys/numsys_host.h"
#include "tests/check.h"
#include "tests/plugins/hostile.h"

#include <stdbool.h>
#include <string.h>

static au_numsys_registry *reg;

static bool has(const char *s, const char *sub)
{
    if (!strstr(s, sub)) {
        fprintf(stderr, "  '%s' lacks '%s'\n", s, sub);
        return false;
    }
    return true;
}

/* spec must parse; its normalized JSON must contain every word of want ('|'-separated). */
static void expect_ok(const char *spec, const char *want)
{
    au_numsys_fmt *f = NULL;
    struct au_diag d;
    int rc = au_numsys_fmt_new(reg, spec, &f, &d);
    if (rc != 0)
        fprintf(stderr, "  '%s': %s\n", spec, d.msg);
    CHECK_EQ_INT(rc, 0);
    if (!f)
        return;
    for (const char *w = want; *w;) {
        char word[128];
        size_t len = strcspn(w, "|");
        snprintf(word, sizeof(word), "%.*s", (int)len, w);
        CHECK(has(au_numsys_fmt_json(f), word));
        w += len + (w[len] == '|');
    }
    /* the canonical text names every parameter and parses back to the same object */
    au_numsys_fmt *g = NULL;
    CHECK_EQ_INT(au_numsys_fmt_new(reg, au_numsys_fmt_str(f), &g, &d), 0);
    if (g)
        CHECK(strcmp(au_numsys_fmt_json(f), au_numsys_fmt_json(g)) == 0);
    au_numsys_fmt_free(g);
    au_numsys_fmt_free(f);
}

static void expect_err(const char *spec, int status, const char *want)
{
    au_numsys_fmt *f = NULL;
    struct au_diag d = {""};
    int rc = au_numsys_fmt_new(reg, spec, &f, &d);
    if (rc != status)
        fprintf(stderr, "  '%s': status %d (%s)\n", spec, rc, d.msg);
    CHECK_EQ_INT(rc, status);
    CHECK(f == NULL);
    CHECK(has(d.msg, want));
    CHECK(strchr(d.msg, '\n') == NULL);
    au_numsys_fmt_free(f);
}

static void test_fmtstr_all_spellings_normalize_the_same(void)
{
    expect_ok("fp16", "\"exponent\":5|\"mantissa\":10|\"overflow\":\"ieee\"|\"bias\":\"auto\"");
    expect_ok("fp{exponent:4,mantissa:3}",
              "\"exponent\":4|\"mantissa\":3|\"overflow\":\"saturate\"");
    expect_ok("  fp { exponent : 4 , mantissa:3 } ", "\"exponent\":4|\"mantissa\":3");
    expect_ok("fp{specials:\"fn\",exponent:4,mantissa:3}", "\"specials\":\"fn\"");
    expect_ok("fp16{rounding:stochastic}", "\"exponent\":5|\"rounding\":\"stochastic\"");
    expect_ok("fp8_e4m3{overflow:ieee}", "\"specials\":\"fn\"|\"overflow\":\"ieee\"");
    expect_ok("fp{bias:3,exponent:3,mantissa:2,subnormals:false}",
              "\"bias\":3|\"subnormals\":false");
    expect_ok("{\"format\":\"fp\",\"exponent\":4,\"mantissa\":3,\"specials\":\"fn\"}",
              "\"exponent\":4|\"specials\":\"fn\"");
    expect_ok("{\"format\":\"fp8_e4m3\",\"rounding\":\"toward_zero\"}",
              "\"exponent\":4|\"rounding\":\"toward_zero\"");
    expect_ok("fp", "\"exponent\":8|\"mantissa\":23");
    expect_ok("fp{}", "\"exponent\":8");
    expect_ok("fp{exponent:4.0}", "\"exponent\":4"); /* an integral number is an integer */
}

static void test_fmtstr_presets_give_the_spec_layouts(void)
{
    static const struct {
        const char *name;
        uint32_t bits;
    } presets[] = {{"fp32", 32}, {"fp16", 16},    {"bf16", 16},
                   {"tf32", 19}, {"fp8_e5m2", 8}, {"fp8_e4m3", 8}};
    for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++) {
        au_numsys_fmt *f = NULL;
        struct au_diag d;
        CHECK_EQ_INT(au_numsys_fmt_new(reg, presets[i].name, &f, &d), 0);
        if (!f)
            continue;
        const struct au_numsys_layout *l = au_numsys_fmt_layout(f);
        CHECK_EQ_INT(l->elem_bits, presets[i].bits);
        CHECK_EQ_INT(l->meta_bits, 0);
        CHECK_EQ_INT(l->block_kind, AU_BLOCK_NONE);
        CHECK(strcmp(au_numsys_fmt_plugin(f)->desc->name, "fp") == 0);
        CHECK(!au_numsys_fmt_is_stochastic(f));
        au_numsys_fmt_free(f);
    }
}

static void test_fmtstr_bad_specs_name_parameter_and_range(void)
{
    expect_err("fp{exponent:9}", AU_RANGE,
               "fp: parameter 'exponent' must be an integer in [1, 8], got 9");
    expect_err("fp{exponent:4.5}", AU_RANGE, "must be an integer in [1, 8], got 4.5");
    expect_err("fp{mantissa:-1}", AU_RANGE, "parameter 'mantissa' must be an integer in [0, 23]");
    expect_err("fp{exponant:4}", AU_INVALID,
               "fp: unknown parameter 'exponant' (parameters: exponent, mantissa, bias,");
    expect_err("fp{subnormals:3}", AU_RANGE, "'subnormals' must be true or false, got 3");
    expect_err("fp{rounding:up}", AU_INVALID,
               "'rounding' must be one of nearest_even|toward_zero|stochastic, got \"up\"");
    expect_err("fp{bias:big}", AU_INVALID,
               "'bias' must be an integer in [-126, 150] or one of auto, got \"big\"");
    expect_err("fp{exponent:true}", AU_INVALID,
               "'exponent' must be an integer in [1, 8], got true");
    expect_err("fp17", AU_NOTFOUND, "unknown number format 'fp17' (plugins: ");
    expect_err("fp{exponent 4}", AU_FORMAT, "fp: expected ':' after 'exponent'");
    expect_err("fp{exponent:4,}", AU_FORMAT, "trailing ','");
    expect_err("fp{exponent:4,exponent:5}", AU_FORMAT, "parameter 'exponent' given twice");
    expect_err("fp{exponent:4", AU_FORMAT, "parameters go in {...}");
    expect_err("fp{exponent:4}x", AU_FORMAT, "parameters go in {...}");
    expect_err("fp{exponent:1e400}", AU_FORMAT, "bad value for 'exponent'");
    expect_err("fp{exponent:4;mantissa:3}", AU_FORMAT, "fp: bad value for 'exponent'");
    expect_err("", AU_FORMAT, "expected a name");
    expect_err("\"fp\"", AU_FORMAT, "expected a name");
    expect_err("{format: fp}", AU_FORMAT, "not a valid JSON object");
    expect_err("{\"exponent\":4}", AU_FORMAT, "needs a string member \"format\"");
    expect_err("{\"format\":\"fp\",\"exponent\":\"4\"}", AU_INVALID, "got \"4\"");
    expect_err("fp{exponent:8,mantissa:7,specials:none}", AU_PLUGIN,
               "fp: largest value 2^128 exceeds float32");
    char longname[300];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    expect_err(longname, AU_FORMAT, "expected a name");
}

/* A static-scale test format: h8 plus the absmax parameter the host fills in. */
static const struct au_param absmax_params[] = {
    {"defect", AU_PARAM_INT, "0", 0, 2, NULL, ""},
    {AU_NUMSYS_PARAM_ABSMAX, AU_PARAM_REAL, "0", 0, 1e30, NULL, "profiled absmax"},
    {AU_NUMSYS_PARAM_ROUNDING, AU_PARAM_CHOICE, "\"nearest_even\"", 0, 0, "nearest_even|stochastic",
     ""},
};

static void test_fmtstr_absmax_reaches_static_scale_formats(void)
{
    static struct au_numsys_desc ds = H8_DESC("h8s");
    ds.params = absmax_params;
    ds.n_params = 3;
    ds.n_presets = 0;
    struct au_diag d;
    CHECK_EQ_INT(au_numsys_registry_add(reg, &ds, "test:h8s", &d), 0);
    au_numsys_fmt *f = NULL, *g = NULL, *h = NULL;
    CHECK_EQ_INT(au_numsys_fmt_new(reg, "h8s{rounding:stochastic}", &f, &d), 0);
    if (!f)
        return;
    CHECK(au_numsys_fmt_takes_absmax(f));
    CHECK(au_numsys_fmt_is_stochastic(f));
    CHECK_EQ_INT(au_numsys_fmt_with_absmax(f, 2.5, &g, &d), 0);
    CHECK(g && has(au_numsys_fmt_json(g), "\"absmax\":2.5"));
    CHECK(g && has(au_numsys_fmt_json(g), "\"rounding\":\"stochastic\""));
    CHECK_EQ_INT(au_numsys_fmt_with_absmax(f, -1, &h, &d), AU_RANGE);
    CHECK(has(d.msg, "h8s: profiled absmax -1"));
    CHECK_EQ_INT(au_numsys_fmt_with_absmax(f, NAN, &h, &d), AU_RANGE);
    CHECK(h == NULL);
    au_numsys_fmt_free(g);
    au_numsys_fmt_free(f);
    CHECK_EQ_INT(au_numsys_fmt_new(reg, "fp16", &f, &d), 0);
    CHECK(!au_numsys_fmt_takes_absmax(f));
    CHECK_EQ_INT(au_numsys_fmt_with_absmax(f, 1.0, &g, &d), AU_INVALID);
    CHECK(has(d.msg, "fp: has no 'absmax' parameter"));
    au_numsys_fmt_free(f);
}

static void test_fmtstr_normalize_fills_defaults_in_schema_order(void)
{
    const struct au_numsys_plugin *fp = au_numsys_registry_find(reg, "fp");
    char *norm = NULL;
    struct au_diag d;
    CHECK(fp != NULL);
    if (!fp)
        return;
    CHECK_EQ_INT(au_numsys_params_normalize(fp->desc, "{\"mantissa\":2}", &norm, &d), 0);
    CHECK(norm && strcmp(norm, "{\"exponent\":8,\"mantissa\":2,\"bias\":\"auto\",\"subnormals\":"
                               "true,\"specials\":\"ieee\",\"overflow\":\"saturate\",\"rounding\":"
                               "\"nearest_even\"}") == 0);
    au_free(norm);
    CHECK_EQ_INT(au_numsys_params_normalize(fp->desc, "[1,2]", &norm, &d), AU_FORMAT);
    CHECK(has(d.msg, "fp: parameters must be a JSON object"));
    CHECK_EQ_INT(au_numsys_params_normalize(fp->desc, "{bad json", &norm, &d), AU_FORMAT);
    CHECK(norm == NULL);
}

int main(void)
{
    struct au_diag d;
    if (au_numsys_registry_new(&reg, &d) != 0) {
        fprintf(stderr, "registry: %s\n", d.msg);
        return 1;
    }
    test_fmtstr_all_spellings_normalize_the_same();
    test_fmtstr_presets_give_the_spec_layouts();
    test_fmtstr_bad_specs_name_parameter_and_range();
    test_fmtstr_absmax_reaches_static_scale_formats();
    test_fmtstr_normalize_fills_defaults_in_schema_order();
    au_numsys_registry_free(reg);
    return check_report("test_fmtstr");
}

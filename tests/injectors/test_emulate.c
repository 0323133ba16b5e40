/* Format emulation on a graph: weights quantized in place and restored by free, layer
 * outputs quantized on every run (and on run_from), per-layer rules, static scales from
 * the profiled absmax, and errors naming the layer. */
#include "../check.h"
#include "core/alloc.h"
#include "emulate.h"

#include <math.h>
#include <string.h>

static const float W[6] = {0.3f, -1.7f, 2.2f, 0.05f, -0.6f, 1.1f};
static const float X[6] = {0.7f, -0.2f, 1.3f, 2.9f, -3.1f, 0.4f};

/* x[B,3] -> MatMul W[3,2] ("fc") -> Relu -> y */
static struct au_graph *build(void)
{
    struct au_graph *g = au_graph_new();
    struct au_diag d;
    int64_t xs[2] = {-1, 3}, ws[2] = {3, 2};
    float *w = au_malloc_aligned(sizeof(W));
    memcpy(w, W, sizeof(W));
    au_graph_add_input(g, "x", AU_DTYPE_F32, 2, xs);
    au_graph_set_initializer_take(g, au_graph_add_value(g, "W"), AU_DTYPE_F32, 2, ws, w);
    const char *i1[] = {"x", "W"}, *o1[] = {"h"}, *i2[] = {"h"}, *o2[] = {"y"};
    au_graph_add_node(g, "fc", "MatMul", 2, i1, 1, o1, NULL, 0, &d);
    au_graph_add_node(g, "act", "Relu", 1, i2, 1, o2, NULL, 0, &d);
    au_graph_mark_output(g, "y");
    au_graph_prepare(g, 2, AU_PREPARE_KEEP, &d);
    au_graph_set_input(g, 0, X, sizeof(X), &d);
    return g;
}

static void quantize(const au_numsys_registry *reg, const char *spec, float *x, int n, int rows,
                     uint32_t role)
{
    au_numsys_fmt *f;
    struct au_diag d;
    struct au_numsys_blocks b;
    int64_t ne[2] = {rows, n / rows};
    CHECK(au_numsys_fmt_new(reg, spec, &f, &d) >= 0);
    au_numsys_blocks_init(&b, au_numsys_fmt_layout(f), 2, ne, role, &d);
    au_numsys_quantize_tensor(f, &b, x, NULL, NULL, NULL, &d);
    au_numsys_fmt_free(f);
}

static void reference(const au_numsys_registry *reg, const char *wf, const char *af, float *y)
{
    float w[6], h[4];
    memcpy(w, W, sizeof(w));
    if (wf)
        quantize(reg, wf, w, 6, 3, AU_NUMSYS_ROLE_WEIGHT);
    for (int s = 0; s < 2; s++)
        for (int j = 0; j < 2; j++) {
            float acc = 0;
            for (int k = 0; k < 3; k++)
                acc += X[s * 3 + k] * w[k * 2 + j];
            h[s * 2 + j] = acc;
        }
    if (af)
        quantize(reg, af, h, 4, 2, AU_NUMSYS_ROLE_ACT);
    for (int i = 0; i < 4; i++)
        y[i] = h[i] > 0 ? h[i] : 0;
}

static void test_weights_and_outputs_follow_the_format(const au_numsys_registry *reg)
{
    struct au_graph *g = build();
    struct au_diag d = {{0}};
    struct au_emul *e;
    struct au_emul_spec s = {.weights = "fp{exponent:3,mantissa:2}",
                             .activations = "fp{exponent:2,mantissa:1}"};
    CHECK_EQ_INT(au_emul_new(g, reg, &s, &e, &d), 0);
    CHECK_EQ_INT(au_emul_n_layers(e), 1);
    CHECK_EQ_INT(au_emul_layer(e, 0)->node, 0);
    CHECK_EQ_INT(au_emul_layer(e, 0)->n_weights, 6);
    CHECK_EQ_INT(au_emul_apply(e, &d), 0);
    float ref[4];
    reference(reg, s.weights, s.activations, ref);
    CHECK_EQ_INT(au_graph_run(g, &d), 0);
    const float *y = au_graph_output(g, 0)->data;
    for (int i = 0; i < 4; i++)
        CHECK(y[i] == ref[i]);
    /* resumed runs quantize the same way */
    CHECK_EQ_INT(au_graph_run_from(g, 0, 0, &d), 0);
    CHECK(au_graph_last_masked(g));
    const float *wq = au_graph_tensor(g, au_graph_find_value(g, "W"))->data;
    CHECK(memcmp(wq, W, sizeof(W)) != 0);
    au_emul_free(e);
    CHECK(memcmp(au_graph_tensor(g, au_graph_find_value(g, "W"))->data, W, sizeof(W)) == 0);
    reference(reg, NULL, NULL, ref);
    au_graph_run(g, &d);
    for (int i = 0; i < 4; i++)
        CHECK_NEAR(((const float *)au_graph_output(g, 0)->data)[i], ref[i], 1e-6);
    au_graph_free(g);
}

static void test_rules_override_defaults(const au_numsys_registry *reg)
{
    struct au_graph *g = build();
    struct au_diag d = {{0}};
    struct au_emul *e;
    struct au_emul_rule rules[] = {{"op:MatMul", "none", "fp{exponent:2,mantissa:1}"},
                                   {"nomatch*", "fp16", "fp16"}};
    struct au_emul_spec s = {.weights = "fp16", .rules = rules, .n_rules = 2};
    CHECK_EQ_INT(au_emul_new(g, reg, &s, &e, &d), 0);
    CHECK(au_emul_layer(e, 0)->wfmt == NULL);
    CHECK(au_emul_layer(e, 0)->afmt != NULL);
    au_emul_apply(e, &d);
    float ref[4];
    reference(reg, NULL, "fp{exponent:2,mantissa:1}", ref);
    au_graph_run(g, &d);
    for (int i = 0; i < 4; i++)
        CHECK(((const float *)au_graph_output(g, 0)->data)[i] == ref[i]);
    au_emul_free(e);
    au_graph_free(g);
}

static void test_static_scale_uses_profiled_absmax(const au_numsys_registry *reg)
{
    struct au_graph *g = build();
    struct au_diag d = {{0}};
    struct au_ranges rs;
    struct au_emul *e;
    CHECK_EQ_INT(au_ranges_init(&rs, g, &d), 0);
    au_graph_run(g, &d);
    double absmax = rs.r[0].absmax;
    CHECK(absmax > 0);
    struct au_emul_spec s = {.activations = "int{bits:4,scale_source:static}"};
    int rc = au_emul_new(g, reg, &s, &e, &d);
    CHECK_EQ_INT(rc, 0);
    if (rc) {
        fprintf(stderr, "%s\n", d.msg);
        au_ranges_fini(&rs);
        au_graph_free(g);
        return;
    }
    CHECK(au_emul_needs_absmax(e));
    CHECK_EQ_INT(au_emul_set_absmax(e, rs.r, &d), 0);
    au_ranges_fini(&rs);
    CHECK_EQ_INT(au_emul_apply(e, &d), 0);
    au_graph_run(g, &d);
    /* every output is a multiple of the static step absmax / 7 */
    const float *y = au_graph_output(g, 0)->data;
    double step = absmax / 7.0;
    for (int i = 0; i < 4; i++)
        CHECK_NEAR(y[i] / step, round(y[i] / step), 1e-4);
    au_emul_free(e);
    au_graph_free(g);
}

static void test_bad_format_names_the_layer(const au_numsys_registry *reg)
{
    struct au_graph *g = build();
    struct au_diag d = {{0}};
    struct au_emul *e = NULL;
    struct au_emul_spec s = {.activations = "fp{exponent:40}"};
    CHECK(au_emul_new(g, reg, &s, &e, &d) < 0);
    CHECK(strstr(d.msg, "fc") && strstr(d.msg, "exponent"));
    s.activations = "nosuchformat";
    CHECK(au_emul_new(g, reg, &s, &e, &d) < 0);
    CHECK(strstr(d.msg, "nosuchformat") != NULL);
    au_graph_free(g);
}

int main(void)
{
    au_numsys_registry *reg;
    struct au_diag d = {{0}};
    if (au_numsys_registry_new(&reg, &d) < 0) {
        fprintf(stderr, "registry: %s\n", d.msg);
        return 1;
    }
    test_weights_and_outputs_follow_the_format(reg);
    test_rules_override_defaults(reg);
    test_static_scale_uses_profiled_absmax(reg);
    test_bad_format_names_the_layer(reg);
    au_numsys_registry_free(reg);
    return check_report("test_emulate");
}

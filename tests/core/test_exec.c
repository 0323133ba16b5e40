/* Executor: full runs against a hand computation, liveness memory sharing, constant
 * folding of shape chains, run_from bit-identity from every node, masked-fault pruning,
 * hooks by name / op / layer, and builder errors. */
#include "../check.h"
#include "alloc.h"
#include "exec.h"
#include "graph.h"

#include <string.h>

static float *fdata(int n, const float *src)
{
    float *p = au_malloc_aligned((size_t)n * sizeof(float));
    memcpy(p, src, (size_t)n * sizeof(float));
    return p;
}

static int64_t *idata(int n, const int64_t *src)
{
    int64_t *p = au_malloc_aligned((size_t)n * sizeof(int64_t));
    memcpy(p, src, (size_t)n * sizeof(int64_t));
    return p;
}

static const float W1[12] = {1, -2, 0.5f, 0, 1, 1, -1, 0.25f, 2, 3, -1, 0};
static const float B1[3] = {0.1f, -0.2f, 0.3f};
static const float W2[6] = {1, -1, 2, 0.5f, -3, 1};

/* x[B,4] -> MatMul W1 -> Add b1 -> Relu -> MatMul W2 -> Reshape(shape from Shape chain). */
static struct au_graph *build(void)
{
    struct au_graph *g = au_graph_new();
    struct au_diag d;
    int64_t xs[2] = {-1, 4}, w1s[2] = {4, 3}, b1s[1] = {3}, w2s[2] = {3, 2}, one[1] = {1};
    int64_t minus1[1] = {-1}, zero[1] = {0};
    au_graph_add_input(g, "x", AU_DTYPE_F32, 2, xs);
    au_graph_set_initializer_take(g, au_graph_add_value(g, "W1"), AU_DTYPE_F32, 2, w1s,
                                  fdata(12, W1));
    au_graph_set_initializer_take(g, au_graph_add_value(g, "b1"), AU_DTYPE_F32, 1, b1s,
                                  fdata(3, B1));
    au_graph_set_initializer_take(g, au_graph_add_value(g, "W2"), AU_DTYPE_F32, 2, w2s,
                                  fdata(6, W2));
    au_graph_set_initializer_take(g, au_graph_add_value(g, "minus1"), AU_DTYPE_I64, 1, one,
                                  idata(1, minus1));
    au_graph_set_initializer_take(g, au_graph_add_value(g, "zero"), AU_DTYPE_I64, 1, one,
                                  idata(1, zero));
    (void)b1s;
    const char *in1[] = {"x", "W1"}, *o1[] = {"h1"};
    const char *in2[] = {"h1", "b1"}, *o2[] = {"h2"};
    const char *in3[] = {"h2"}, *o3[] = {"h3"};
    const char *in4[] = {"h3", "W2"}, *o4[] = {"h4"};
    const char *in5[] = {"h4"}, *o5[] = {"shp"};
    const char *in6[] = {"shp", "zero"}, *o6[] = {"b"};
    const char *in7[] = {"b", "minus1"}, *o7[] = {"newshape"};
    const char *in8[] = {"h4", "newshape"}, *o8[] = {"y"};
    struct au_attr gather_axis = {.name = au_strdup("axis"), .type = AU_ATTR_INT, .i = 0};
    struct au_attr cat_axis = {.name = au_strdup("axis"), .type = AU_ATTR_INT, .i = 0};
    CHECK(au_graph_add_node(g, "fc1", "MatMul", 2, in1, 1, o1, NULL, 0, &d) >= 0);
    CHECK(au_graph_add_node(g, "bias", "Add", 2, in2, 1, o2, NULL, 0, &d) >= 0);
    CHECK(au_graph_add_node(g, "act", "Relu", 1, in3, 1, o3, NULL, 0, &d) >= 0);
    CHECK(au_graph_add_node(g, "fc2", "MatMul", 2, in4, 1, o4, NULL, 0, &d) >= 0);
    CHECK(au_graph_add_node(g, "shape", "Shape", 1, in5, 1, o5, NULL, 0, &d) >= 0);
    CHECK(au_graph_add_node(g, "gather", "Gather", 2, in6, 1, o6, &gather_axis, 1, &d) >= 0);
    CHECK(au_graph_add_node(g, "concat", "Concat", 2, in7, 1, o7, &cat_axis, 1, &d) >= 0);
    CHECK(au_graph_add_node(g, "reshape", "Reshape", 2, in8, 1, o8, NULL, 0, &d) >= 0);
    au_graph_mark_output(g, "y");
    return g;
}

static void reference(const float *x, int b, float *y)
{
    for (int s = 0; s < b; s++) {
        float h[3];
        for (int j = 0; j < 3; j++) {
            float acc = 0;
            for (int k = 0; k < 4; k++)
                acc += x[s * 4 + k] * W1[k * 3 + j];
            acc += B1[j];
            h[j] = acc > 0 ? acc : 0;
        }
        for (int j = 0; j < 2; j++) {
            float acc = 0;
            for (int k = 0; k < 3; k++)
                acc += h[k] * W2[k * 2 + j];
            y[s * 2 + j] = acc;
        }
    }
}

static const float X[12] = {1, 2, 3, 4, -1, 0.5f, 2, -3, 0, 0, 0, 1};

static void test_full_run_matches_reference_and_folds_shape_chain(void)
{
    struct au_graph *g = build();
    struct au_diag d = {{0}};
    int rc = au_graph_prepare(g, 3, 0, &d);
    CHECK_EQ_INT(rc, 0);
    if (rc) {
        fprintf(stderr, "%s\n", d.msg);
        au_graph_free(g);
        return;
    }
    int folded = 0;
    for (int i = 0; i < au_graph_n_nodes(g); i++)
        folded += au_graph_node(g, i)->folded;
    CHECK_EQ_INT(folded, 3); /* Shape, Gather, Concat */
    CHECK(au_graph_node(g, 0)->is_layer && au_graph_node(g, 3)->is_layer);
    CHECK(!au_graph_node(g, 1)->is_layer);
    CHECK_EQ_U64(au_graph_node(g, 0)->macs, 3 * 4 * 3);
    CHECK_EQ_INT(au_graph_set_input(g, 0, X, sizeof(X), &d), 0);
    CHECK_EQ_INT(au_graph_set_input(g, 0, X, sizeof(X) - 4, &d), AU_SHAPE);
    CHECK_EQ_INT(au_graph_run(g, &d), 0);
    const struct au_tensor *y = au_graph_output(g, 0);
    CHECK_EQ_INT(y->n_dims, 2);
    CHECK_EQ_INT(y->ne[0], 3);
    CHECK_EQ_INT(y->ne[1], 2);
    float ref[6];
    reference(X, 3, ref);
    for (int i = 0; i < 6; i++)
        CHECK_NEAR(((const float *)y->data)[i], ref[i], 1e-5);
    au_graph_free(g);
}

static void test_liveness_shares_buffers_keep_does_not(void)
{
    struct au_graph *g = build();
    struct au_diag d;
    CHECK_EQ_INT(au_graph_prepare(g, 64, 0, &d), 0);
    size_t shared = au_graph_peak_bytes(g);
    CHECK_EQ_INT(au_graph_prepare(g, 64, AU_PREPARE_KEEP, &d), 0);
    size_t keep = au_graph_peak_bytes(g);
    /* x, h1..h4, y each have their own buffer under KEEP; fewer are live at once. */
    CHECK(shared < keep);
    au_graph_free(g);
}

struct hook_state {
    int calls;
    float scale;
    int flip_index;
};

static int scale_hook(void *user, const struct au_hook_args *a)
{
    struct hook_state *s = user;
    s->calls++;
    float *o = a->out[0]->data;
    int64_t n = au_tensor_numel(a->out[0]);
    for (int64_t i = 0; i < n; i++)
        o[i] *= s->scale;
    return 0;
}

static int count_hook(void *user, const struct au_hook_args *a)
{
    (void)a;
    ((struct hook_state *)user)->calls++;
    return 0;
}

/* Makes an already-negative pre-activation more negative: Relu masks it. */
static int masked_fault_hook(void *user, const struct au_hook_args *a)
{
    struct hook_state *s = user;
    float *o = a->out[0]->data;
    o[s->flip_index] = -1000.0f;
    s->calls++;
    return 0;
}

static void test_run_from_every_node_is_bit_identical(void)
{
    struct au_graph *g = build();
    struct au_diag d;
    CHECK_EQ_INT(au_graph_prepare(g, 3, AU_PREPARE_KEEP, &d), 0);
    au_graph_set_input(g, 0, X, sizeof(X), &d);
    CHECK_EQ_INT(au_graph_run(g, &d), 0);
    float golden[6];
    memcpy(golden, au_graph_output(g, 0)->data, sizeof(golden));
    for (int k = 0; k < au_graph_n_nodes(g); k++) {
        if (au_graph_node(g, k)->folded)
            continue;
        CHECK_EQ_INT(au_graph_run_from(g, k, 0, &d), 0);
        CHECK(memcmp(au_graph_output(g, 0)->data, golden, sizeof(golden)) == 0);
        CHECK(au_graph_last_masked(g));
        CHECK_EQ_INT(au_graph_run_from(g, k, AU_RUN_REUSE_OUTPUT, &d), 0);
        CHECK(memcmp(au_graph_output(g, 0)->data, golden, sizeof(golden)) == 0);
    }
    au_graph_free(g);
}

static void test_hooks_rewrite_and_run_from_keeps_golden(void)
{
    struct au_graph *g = build();
    struct au_diag d;
    struct hook_state s = {0, 2.0f, 0}, layers = {0, 1, 0}, all = {0, 1, 0};
    CHECK_EQ_INT(au_graph_prepare(g, 3, AU_PREPARE_KEEP, &d), 0);
    au_graph_set_input(g, 0, X, sizeof(X), &d);
    au_graph_run(g, &d);
    float golden[6];
    memcpy(golden, au_graph_output(g, 0)->data, sizeof(golden));
    int id = au_hook_add(g, AU_HOOK_SEL_NAME, "fc2", AU_HOOK_POST, scale_hook, &s);
    CHECK(id >= 0);
    int idl = au_hook_add(g, AU_HOOK_SEL_LAYERS, NULL, AU_HOOK_PRE, count_hook, &layers);
    int ida = au_hook_add(g, AU_HOOK_SEL_OP, "Relu", AU_HOOK_PRE | AU_HOOK_POST, count_hook, &all);
    CHECK_EQ_INT(au_graph_run_from(g, 3, 0, &d), 0);
    CHECK_EQ_INT(s.calls, 1);
    CHECK_EQ_INT(layers.calls, 1); /* only fc2 was recomputed */
    CHECK_EQ_INT(all.calls, 0);
    const float *y = au_graph_output(g, 0)->data;
    for (int i = 0; i < 6; i++)
        CHECK(y[i] == golden[i] * 2.0f);
    CHECK(!au_graph_last_masked(g));
    struct au_tensor gold;
    CHECK(au_graph_golden(g, au_graph_output_value(g, 0), &gold));
    CHECK(memcmp(gold.data, golden, sizeof(golden)) == 0);
    au_hook_remove(g, id);
    au_hook_remove(g, idl);
    CHECK_EQ_INT(au_graph_run(g, &d), 0);
    CHECK_EQ_INT(all.calls, 2);
    CHECK(memcmp(au_graph_output(g, 0)->data, golden, sizeof(golden)) == 0);
    au_hook_remove(g, ida);
    au_graph_free(g);
}

static void test_masked_fault_stops_propagating(void)
{
    struct au_graph *g = build();
    struct au_diag d;
    CHECK_EQ_INT(au_graph_prepare(g, 3, AU_PREPARE_KEEP, &d), 0);
    au_graph_set_input(g, 0, X, sizeof(X), &d);
    au_graph_run(g, &d);
    /* find a negative pre-activation of sample 0 */
    struct au_tensor h2;
    au_graph_golden(g, au_graph_find_value(g, "h2"), &h2);
    int neg = -1;
    for (int i = 0; i < 9; i++)
        if (((float *)h2.data)[i] < 0)
            neg = i;
    CHECK(neg >= 0);
    struct hook_state s = {0, 1, neg};
    au_hook_add(g, AU_HOOK_SEL_NAME, "bias", AU_HOOK_POST, masked_fault_hook, &s);
    CHECK_EQ_INT(au_graph_run_from(g, 1, AU_RUN_PRUNE_MASKED, &d), 0);
    CHECK(au_graph_last_masked(g));
    CHECK_EQ_INT(au_graph_last_n_run(g), 2); /* bias and act; fc2 skipped */
    CHECK_EQ_INT(au_graph_run_from(g, 1, 0, &d), 0);
    CHECK(au_graph_last_masked(g));
    CHECK_EQ_INT(au_graph_last_n_run(g), 4); /* bias, act, fc2, reshape */
    /* reusing bias's golden output: only its post-hook runs, and the fault still lands */
    s.calls = 0;
    CHECK_EQ_INT(au_graph_run_from(g, 1, AU_RUN_REUSE_OUTPUT | AU_RUN_PRUNE_MASKED, &d), 0);
    CHECK_EQ_INT(s.calls, 1);
    CHECK(au_graph_last_masked(g));
    CHECK_EQ_INT(au_graph_last_n_run(g), 2);
    au_graph_free(g);
}

static void test_builder_errors_name_node_and_value(void)
{
    struct au_graph *g = au_graph_new();
    struct au_diag d = {{0}};
    int64_t xs[1] = {4};
    au_graph_add_input(g, "x", AU_DTYPE_F32, 1, xs);
    const char *in[] = {"x", "W"}, *out[] = {"y"};
    CHECK_EQ_INT(au_graph_add_node(g, "fc", "MatMul", 2, in, 1, out, NULL, 0, &d), AU_NOTFOUND);
    CHECK(strstr(d.msg, "fc") && strstr(d.msg, "'W'"));
    CHECK_EQ_INT(au_graph_add_node(g, "odd", "FancyOp", 1, in, 1, out, NULL, 0, &d),
                 AU_UNSUPPORTED);
    CHECK(strstr(d.msg, "odd") && strstr(d.msg, "FancyOp"));
    const char *in2[] = {"x"};
    CHECK(au_graph_add_node(g, "r", "Relu", 1, in2, 1, out, NULL, 0, &d) >= 0);
    CHECK_EQ_INT(au_graph_add_node(g, "r2", "Relu", 1, in2, 1, out, NULL, 0, &d), AU_FORMAT);
    CHECK(strstr(d.msg, "defined twice") != NULL);
    au_graph_free(g);
}

int main(void)
{
    test_full_run_matches_reference_and_folds_shape_chain();
    test_liveness_shares_buffers_keep_does_not();
    test_run_from_every_node_is_bit_identical();
    test_hooks_rewrite_and_run_from_keeps_golden();
    test_masked_fault_stops_propagating();
    test_builder_errors_name_node_and_value();
    return check_report("test_exec");
}

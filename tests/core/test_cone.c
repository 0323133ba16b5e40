/* Change propagation (core/cone.c): a conv recomputed only where a changed input region
 * reaches gives the bits of a dense recomputation, for the kernel alone (random shapes,
 * strides, dilations, padding, boxes) and through run_from (a fault two nodes upstream,
 * masked and unmasked rows, a post-hook on the boxed conv). */
#include "../check.h"
#include "alloc.h"
#include "aurum/numsys.h"
#include "exec.h"
#include "graph.h"
#include "kern.h"

#include <string.h>

static float urand(struct au_pcg32 *r)
{
    return (float)au_pcg32_next(r) / 4294967296.0f * 2.0f - 1.0f;
}

static int64_t pick(struct au_pcg32 *r, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(au_pcg32_next(r) % (uint32_t)(hi - lo + 1));
}

static void kernel_case(struct au_pcg32 *r)
{
    struct au_conv2d p = {.n = 3, .c_in = pick(r, 2, 6), .c_out = pick(r, 1, 16), .group = 1};
    struct au_win2d *g = &p.g;
    g->kh = pick(r, 1, 5), g->kw = pick(r, 2, 5);
    g->sh = pick(r, 1, 2), g->sw = pick(r, 1, 2), g->dh = pick(r, 1, 2), g->dw = pick(r, 1, 2);
    g->pt = pick(r, 0, 2), g->pl = pick(r, 0, 2), g->pb = pick(r, 0, 2), g->pr = pick(r, 0, 2);
    g->h = pick(r, 9, 16), g->w = pick(r, 9, 16);
    g->oh = (g->h + g->pt + g->pb - (g->kh - 1) * g->dh - 1) / g->sh + 1;
    g->ow = (g->w + g->pl + g->pr - (g->kw - 1) * g->dw - 1) / g->sw + 1;
    CHECK(au_kern_conv2d_boxes_ok(&p));
    int64_t nx = p.n * p.c_in * g->h * g->w, ny = p.n * p.c_out * g->oh * g->ow;
    int64_t nw = p.c_out * p.c_in * g->kh * g->kw;
    float *x = au_malloc_aligned((size_t)nx * sizeof(float));
    float *w = au_malloc_aligned((size_t)nw * sizeof(float));
    float *b = au_malloc_aligned((size_t)p.c_out * sizeof(float));
    float *y = au_malloc_aligned((size_t)ny * sizeof(float));
    float *ref = au_malloc_aligned((size_t)ny * sizeof(float));
    void *scr = au_malloc_aligned(au_kern_conv2d_scratch(&p) + 64);
    for (int64_t i = 0; i < nx; i++)
        x[i] = urand(r);
    for (int64_t i = 0; i < nw; i++)
        w[i] = urand(r);
    for (int64_t i = 0; i < p.c_out; i++)
        b[i] = urand(r);
    au_kern_conv2d(&p, x, w, b, y, scr);
    /* change a region of image 1 (a few elements in it, any channel) */
    struct au_box box;
    box.y0 = (int32_t)pick(r, 0, g->h - 1), box.y1 = (int32_t)pick(r, box.y0, g->h - 1);
    box.x0 = (int32_t)pick(r, 0, g->w - 1), box.x1 = (int32_t)pick(r, box.x0, g->w - 1);
    float *x1 = x + p.c_in * g->h * g->w;
    x1[(pick(r, 0, p.c_in - 1) * g->h + box.y0) * g->w + box.x0] += 1.0f;
    x1[(pick(r, 0, p.c_in - 1) * g->h + box.y1) * g->w + box.x1] -= 0.5f;
    au_kern_conv2d(&p, x, w, b, ref, scr);
    int64_t rows[1] = {1};
    au_kern_conv2d_boxes(&p, x, w, b, y, rows, &box, 1);
    CHECK(memcmp(y, ref, (size_t)ny * sizeof(float)) == 0);
    au_free_aligned(x);
    au_free_aligned(w);
    au_free_aligned(b);
    au_free_aligned(y);
    au_free_aligned(ref);
    au_free_aligned(scr);
}

static void test_kernel_boxes_equal_dense(void)
{
    struct au_pcg32 r;
    au_pcg32_seed(&r, check_seed(), 7);
    for (int i = 0; i < 300; i++)
        kernel_case(&r);
}

/* ---- through run_from ---- */

struct flip {
    int calls;
    int64_t rows[4], idx[4]; /* element of each row to change */
    int n;
};

static int flip_hook(void *user, const struct au_hook_args *a)
{
    struct flip *f = user;
    float *t = a->out[0]->data;
    int64_t per = au_tensor_numel(a->out[0]) / a->out[0]->ne[0];
    for (int k = 0; k < f->n; k++)
        t[f->rows[k] * per + f->idx[k]] = f->idx[k] % 2 ? -7.0f : 9.0f;
    f->calls++;
    return 0;
}

/* Rounds to bfloat16 (deterministic, not the identity): the post-hook must see the same
 * tensor on either path. */
static int round_hook(void *user, const struct au_hook_args *a)
{
    (void)user;
    uint32_t *u = a->out[0]->data;
    for (int64_t i = 0; i < au_tensor_numel(a->out[0]); i++)
        u[i] = (u[i] + 0x7fffu + ((u[i] >> 16) & 1u)) & 0xffff0000u;
    return 0;
}

/* Each element's low bit carries a parity running along the whole tensor, as stochastic
 * rounding's random stream does: a change in one row changes the rows after it. */
static int chain_hook(void *user, const struct au_hook_args *a)
{
    (void)user;
    uint32_t *u = a->out[0]->data, p = 0;
    for (int64_t i = 0; i < au_tensor_numel(a->out[0]); i++) {
        p ^= (u[i] >> 13) & 1u;
        u[i] = (u[i] & ~1u) | p;
    }
    return 0;
}

static struct au_attr ints_attr(const char *name, int n, const int64_t *v)
{
    int64_t *p = au_malloc((size_t)n * sizeof(*p));
    memcpy(p, v, (size_t)n * sizeof(*p));
    return (struct au_attr){.name = au_strdup(name), .type = AU_ATTR_INTS, .n = n, .ints = p};
}

static float *rnd(struct au_pcg32 *r, int n)
{
    float *p = au_malloc_aligned((size_t)n * sizeof(float));
    for (int i = 0; i < n; i++)
        p[i] = urand(r);
    return p;
}

/* x[B,2,12,12] -> conv1 (2->6, 3x3 pad 1) -> relu -> pool 2x2 -> conv2 (6->16, 3x3) -> relu
 * -> y */
static struct au_graph *build(struct au_pcg32 *r)
{
    struct au_graph *g = au_graph_new();
    struct au_diag d;
    int64_t xs[4] = {-1, 2, 12, 12}, w1s[4] = {6, 2, 3, 3}, w2s[4] = {16, 6, 3, 3};
    int64_t b1s[1] = {6}, b2s[1] = {16}, k3[2] = {3, 3}, k2[2] = {2, 2}, pad1[4] = {1, 1, 1, 1};
    au_graph_add_input(g, "x", AU_DTYPE_F32, 4, xs);
    au_graph_set_initializer_take(g, au_graph_add_value(g, "w1"), AU_DTYPE_F32, 4, w1s,
                                  rnd(r, 108));
    au_graph_set_initializer_take(g, au_graph_add_value(g, "b1"), AU_DTYPE_F32, 1, b1s, rnd(r, 6));
    au_graph_set_initializer_take(g, au_graph_add_value(g, "w2"), AU_DTYPE_F32, 4, w2s,
                                  rnd(r, 864));
    au_graph_set_initializer_take(g, au_graph_add_value(g, "b2"), AU_DTYPE_F32, 1, b2s, rnd(r, 16));
    const char *i1[] = {"x", "w1", "b1"}, *o1[] = {"c1"}, *i2[] = {"c1"}, *o2[] = {"r1"};
    const char *i3[] = {"r1"}, *o3[] = {"p1"}, *i4[] = {"p1", "w2", "b2"}, *o4[] = {"c2"};
    const char *i5[] = {"c2"}, *o5[] = {"y"};
    struct au_attr a1[2] = {ints_attr("kernel_shape", 2, k3), ints_attr("pads", 4, pad1)};
    struct au_attr a3[2] = {ints_attr("kernel_shape", 2, k2), ints_attr("strides", 2, k2)};
    struct au_attr a4[1] = {ints_attr("kernel_shape", 2, k3)};
    CHECK(au_graph_add_node(g, "conv1", "Conv", 3, i1, 1, o1, a1, 2, &d) >= 0);
    CHECK(au_graph_add_node(g, "relu", "Relu", 1, i2, 1, o2, NULL, 0, &d) >= 0);
    CHECK(au_graph_add_node(g, "pool", "MaxPool", 1, i3, 1, o3, a3, 2, &d) >= 0);
    CHECK(au_graph_add_node(g, "conv2", "Conv", 3, i4, 1, o4, a4, 1, &d) >= 0);
    CHECK(au_graph_add_node(g, "relu2", "Relu", 1, i5, 1, o5, NULL, 0, &d) >= 0);
    au_graph_mark_output(g, "y");
    return g;
}

static void run_from_case(au_hook_fn post)
{
    struct au_pcg32 r;
    au_pcg32_seed(&r, check_seed(), 11);
    struct au_graph *g = build(&r);
    struct au_diag d;
    const int64_t B = 8, n_in = B * 2 * 144, n_out = B * 16 * 4 * 4;
    CHECK_EQ_INT(au_graph_prepare(g, B, AU_PREPARE_KEEP, &d), 0);
    float *x = rnd(&r, (int)n_in), *dense = au_malloc((size_t)n_out * sizeof(float));
    au_graph_set_input(g, 0, x, (size_t)n_in * sizeof(float), &d);
    CHECK(au_hook_add(g, AU_HOOK_SEL_NAME, "conv2", AU_HOOK_POST, post, NULL) >= 0);
    CHECK_EQ_INT(au_graph_run(g, &d), 0);
    struct flip f = {0};
    CHECK(au_hook_add(g, AU_HOOK_SEL_NAME, "conv1", AU_HOOK_POST, flip_hook, &f) >= 0);
    for (int t = 0; t < 40; t++) {
        f.n = (int)pick(&r, 1, 4);
        for (int k = 0; k < f.n; k++)
            f.rows[k] = pick(&r, 0, B - 1), f.idx[k] = pick(&r, 0, 6 * 144 - 1);
        CHECK_EQ_INT(au_graph_run_from(g, 0, AU_RUN_REUSE_OUTPUT, &d), 0);
        memcpy(dense, au_graph_output(g, 0)->data, (size_t)n_out * sizeof(float));
        unsigned fl = AU_RUN_REUSE_OUTPUT | AU_RUN_PRUNE_MASKED | (t % 2 ? AU_RUN_COMPACT : 0u);
        CHECK_EQ_INT(au_graph_run_from(g, 0, fl, &d), 0);
        CHECK(memcmp(dense, au_graph_output(g, 0)->data, (size_t)n_out * sizeof(float)) == 0);
    }
    CHECK_EQ_INT(f.calls, 80);
    au_free_aligned(x);
    au_free(dense);
    au_graph_free(g);
}

int main(void)
{
    test_kernel_boxes_equal_dense();
    run_from_case(round_hook);
    run_from_case(chain_hook);
    return check_report("test_cone");
}

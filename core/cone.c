/* Change propagation for resumed runs. A flipped activation changes a small region of an
 * image, and a conv, pool or ReLU downstream can only change outputs whose windows reach
 * it. Nodes whose op offers run_boxes start from their golden output (before post-hooks:
 * the golden run keeps a copy for nodes that have them) and recompute just that cone, bit
 * for bit as a dense run would. Boxes come from the op (the cone) and are tightened by a
 * diff against golden inside them, or, after a node that ran densely or whose hooks may
 * have touched more, from a diff of the whole row. */
#include "graph_impl.h"

#include "alloc.h"

#include <string.h>

/* Node i qualifies: its op can run boxes for these shapes, input 0 is a batch of images
 * and every other input is a constant (weights), so input 0 is all a fault can change. */
static bool box_capable(struct au_graph *g, int i)
{
    const struct au_node *n = &g->nodes[i];
    if (n->folded || !n->def || !n->def->run_boxes || n->n_out != 1 || n->out[0] < 0 ||
        n->n_in < 1 || n->in[0] < 0 || g->rt[n->in[0]].n_dims != 4 ||
        g->rt[n->out[0]].n_dims != 4 || !au_rows_batched(g, n->in[0]) ||
        !au_rows_batched(g, n->out[0]))
        return false;
    for (int k = 1; k < n->n_in; k++)
        if (n->in[k] >= 0 && !(g->values[n->in[k]].flags & AU_VALUE_CONST))
            return false;
    struct au_op_ctx c;
    struct au_diag d = {{0}};
    au_node_ctx(g, i, &c);
    return n->def->run_boxes(&c, NULL, NULL, NULL, 0, &d) == 1;
}

int au_cone_prepare(struct au_graph *g)
{
    size_t nn = (size_t)g->n_nodes + 1, nv = (size_t)g->n_values + 1;
    g->box_node = au_calloc(nn, 1);
    g->raw_off = au_calloc(nn, sizeof(*g->raw_off));
    g->box_slot = au_calloc(nv, sizeof(int));
    g->box_valid = au_calloc(nv, 1);
    if (!g->box_node || !g->raw_off || !g->box_slot || !g->box_valid)
        return AU_NOMEM;
    int slots = 0;
    for (int v = 0; v < g->n_values; v++)
        g->box_slot[v] = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        g->raw_off[i] = SIZE_MAX;
        if (!(g->box_node[i] = box_capable(g, i)))
            continue;
        int io[2] = {g->nodes[i].in[0], g->nodes[i].out[0]};
        for (int k = 0; k < 2; k++)
            if (g->box_slot[io[k]] < 0)
                g->box_slot[io[k]] = slots++;
    }
    g->boxes = au_calloc((size_t)slots * (size_t)g->batch + 1, sizeof(*g->boxes));
    g->box_tmp = au_calloc(2 * (size_t)g->batch + 1, sizeof(*g->box_tmp));
    return g->boxes && g->box_tmp ? AU_OK : AU_NOMEM;
}

size_t au_cone_place(struct au_graph *g, size_t arena_bytes, size_t align)
{
    /* layers get hooks (formats, faults); other nodes go by boxes only while hook-free */
    for (int i = 0; g->raw_off && i < g->n_nodes; i++) {
        if (!g->box_node[i] || !g->nodes[i].is_layer)
            continue;
        arena_bytes = (arena_bytes + align - 1) / align * align;
        g->raw_off[i] = arena_bytes;
        arena_bytes += au_tensor_nbytes(&g->rt[g->nodes[i].out[0]]);
    }
    return arena_bytes;
}

void au_cone_release(struct au_graph *g)
{
    au_free(g->box_node);
    au_free(g->raw_off);
    au_free(g->box_slot);
    au_free(g->box_valid);
    au_free(g->boxes);
    au_free(g->box_tmp);
    g->box_node = NULL;
    g->raw_off = NULL;
    g->box_slot = NULL;
    g->box_valid = NULL;
    g->boxes = NULL;
    g->box_tmp = NULL;
}

void au_cone_keep_raw(struct au_graph *g, int i)
{
    if (g->raw_off && g->raw_off[i] != SIZE_MAX) {
        const struct au_tensor *t = &g->rt[g->nodes[i].out[0]];
        memcpy((char *)g->arena + g->raw_off[i], t->data, au_tensor_nbytes(t));
    }
}

/* Bounding box of the elements of one row [c, h, w] inside box *b that differ from golden
 * (bitwise), in *b; false if none does. */
/* First / last index in [0, n) where p and q differ, -1 if none: memcmp over chunks. */
static int64_t first_diff(const uint32_t *p, const uint32_t *q, int64_t n)
{
    const int64_t k = 64;
    int64_t i = 0;
    while (i + k <= n && memcmp(p + i, q + i, k * sizeof(*p)) == 0)
        i += k;
    for (; i < n; i++)
        if (p[i] != q[i])
            return i;
    return -1;
}

static int64_t last_diff(const uint32_t *p, const uint32_t *q, int64_t n)
{
    const int64_t k = 64;
    int64_t e = n;
    while (e - k >= 0 && memcmp(p + e - k, q + e - k, k * sizeof(*p)) == 0)
        e -= k;
    for (int64_t i = e - 1; i >= 0; i--)
        if (p[i] != q[i])
            return i;
    return -1;
}

/* Bounding box of the elements of one row [c, h, w] inside box *b that differ from golden
 * (bitwise), in *b; false if none does. Only the image lines from the first to the last
 * differing element are looked at one by one (a fault's change is local). */
static bool diff_box(const uint32_t *cur, const uint32_t *gold, int64_t c, int64_t h, int64_t w,
                     struct au_box *b)
{
    int64_t y0 = h, y1 = -1, x0 = w, x1 = -1, n = b->x1 - b->x0 + 1;
    int64_t l0 = 0, l1 = c * h - 1; /* lines (ch * h + y) to look at */
    if (b->y0 == 0 && b->y1 == h - 1 && n == w) {
        int64_t f = first_diff(cur, gold, c * h * w);
        if (f < 0)
            return *b = (struct au_box){0, -1, 0, -1}, false;
        l0 = f / w;
        l1 = last_diff(cur, gold, c * h * w) / w;
    }
    for (int64_t ch = l0 / h; ch < c && ch <= l1 / h && n > 0; ch++)
        for (int64_t y = b->y0; y <= b->y1; y++) {
            int64_t line = ch * h + y;
            if (line < l0 || line > l1)
                continue;
            const uint32_t *p = cur + line * w + b->x0, *q = gold + line * w + b->x0;
            if (memcmp(p, q, (size_t)n * sizeof(*p)) == 0)
                continue;
            int64_t a = 0, z = n - 1;
            while (p[a] == q[a])
                a++;
            while (p[z] == q[z])
                z--;
            y0 = y < y0 ? y : y0;
            y1 = y > y1 ? y : y1;
            x0 = b->x0 + a < x0 ? b->x0 + a : x0;
            x1 = b->x0 + z > x1 ? b->x0 + z : x1;
        }
    *b = (struct au_box){(int32_t)y0, (int32_t)y1, (int32_t)x0, (int32_t)x1};
    return y1 >= 0;
}

void au_cone_prune(struct au_graph *g, int v, unsigned char *rm)
{
    const struct au_tensor *t = &g->rt[v];
    const uint32_t *cur = t->data, *gold = (const void *)((char *)g->arena + g->offset[v]);
    int64_t c = t->ne[1], h = t->ne[2], w = t->ne[3], per = c * h * w;
    struct au_box *b = g->boxes + (size_t)g->box_slot[v] * (size_t)g->batch;
    bool whole = g->box_valid[v] != AU_BOX_CONE;
    for (int64_t r = 0; r < g->batch; r++) {
        if (!rm[r])
            continue;
        if (whole)
            b[r] = (struct au_box){0, (int32_t)(h - 1), 0, (int32_t)(w - 1)};
        if (b[r].y0 > b[r].y1 || !diff_box(cur + r * per, gold + r * per, c, h, w, &b[r]))
            rm[r] = 0;
    }
    g->box_valid[v] = AU_BOX_TIGHT;
}

bool au_cone_applies(const struct au_graph *g, int i)
{
    if (!g->box_node || !g->box_node[i] || (g->node_hook_mask[i] & AU_HOOK_PRE) ||
        (g->raw_off[i] == SIZE_MAX && (g->node_hook_mask[i] & AU_HOOK_POST)))
        return false;
    int v = g->nodes[i].in[0];
    return g->dirty[v] && g->box_valid[v] == AU_BOX_TIGHT;
}

int au_cone_run(struct au_graph *g, int i, const unsigned char *rows, struct au_diag *d)
{
    const struct au_node *n = &g->nodes[i];
    int vo = n->out[0];
    struct au_tensor *out = &g->rt[vo];
    size_t src = g->raw_off[i] != SIZE_MAX ? g->raw_off[i] : g->offset[vo];
    memcpy(out->data, (char *)g->arena + src, au_tensor_nbytes(out));
    const struct au_box *b = g->boxes + (size_t)g->box_slot[n->in[0]] * (size_t)g->batch;
    struct au_box *ob = g->box_tmp + g->batch;
    int64_t m = 0;
    for (int64_t r = 0; r < g->batch; r++)
        if (rows[r]) {
            g->row_idx[m] = r;
            g->box_tmp[m++] = b[r];
        }
    struct au_op_ctx c;
    au_node_ctx(g, i, &c);
    int rc = m ? n->def->run_boxes(&c, g->row_idx, g->box_tmp, ob, m, d) : 1;
    if (rc == 0)
        return n->def->run(&c, d); /* box_valid[vo] stays 0: pruning diffs whole rows */
    if (rc < 0)
        return rc;
    /* post-hooks may change more than the cone (a block format rescales its block) */
    if (!(g->node_hook_mask[i] & AU_HOOK_POST)) {
        struct au_box *vb = g->boxes + (size_t)g->box_slot[vo] * (size_t)g->batch;
        for (int64_t k = 0; k < m; k++)
            vb[g->row_idx[k]] = ob[k];
        g->box_valid[vo] = AU_BOX_CONE;
    }
    return AU_OK;
}

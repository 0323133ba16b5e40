/* Range collection as a hook: nothing here knows about data sets or files. */
#include "ranges.h"

#include "alloc.h"

#include <float.h>
#include <math.h>

static int range_hook(void *user, const struct au_hook_args *a)
{
    struct au_ranges *rs = user;
    struct au_range *r = &rs->r[a->node_index];
    const struct au_tensor *t = a->out[0];
    if (!t || t->dtype != AU_DTYPE_F32)
        return 0;
    int64_t n = au_tensor_numel(t), b = au_graph_batch(a->g);
    if (t->n_dims >= 1 && t->ne[0] == b && rs->n_valid < b)
        n = n / b * rs->n_valid;
    const float *x = t->data;
    double lo = r->min, hi = r->max;
    for (int64_t i = 0; i < n; i++) {
        double v = x[i];
        if (!isfinite(v)) {
            r->nonfinite++;
            continue;
        }
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    r->min = lo;
    r->max = hi;
    r->absmax = fmax(fabs(lo), fabs(hi));
    if (lo > hi)
        r->absmax = 0;
    return 0;
}

int au_ranges_init(struct au_ranges *rs, struct au_graph *g, struct au_diag *d)
{
    rs->g = g;
    rs->n_nodes = au_graph_n_nodes(g);
    rs->n_valid = au_graph_batch(g);
    rs->r = au_calloc((size_t)rs->n_nodes + 1, sizeof(*rs->r));
    if (!rs->r)
        return au_diag_set(d, AU_NOMEM, "out of memory");
    for (int i = 0; i < rs->n_nodes; i++)
        rs->r[i] = (struct au_range){DBL_MAX, -DBL_MAX, 0, 0};
    rs->hook_id = au_hook_add(g, AU_HOOK_SEL_LAYERS, NULL, AU_HOOK_POST, range_hook, rs);
    if (rs->hook_id < 0) {
        au_free(rs->r);
        rs->r = NULL;
        return au_diag_set(d, rs->hook_id, "cannot attach range hooks");
    }
    return AU_OK;
}

void au_ranges_fini(struct au_ranges *rs)
{
    if (rs->r)
        au_hook_remove(rs->g, rs->hook_id);
    au_free(rs->r);
    rs->r = NULL;
}

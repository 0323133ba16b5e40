/* Hooks: callbacks registered by node name, op type, "every layer" or "every node".
 * A per-node bitmask is rebuilt when hooks or the graph change, so a run with no hooks
 * pays one predictable branch per node. */
#include "graph_impl.h"

#include "alloc.h"

#include <string.h>

static bool hook_matches(const struct au_hook_entry *h, const struct au_node *n)
{
    switch (h->kind) {
    case AU_HOOK_SEL_NAME:
        return strcmp(n->name, h->pattern) == 0;
    case AU_HOOK_SEL_OP:
        return strcmp(n->op_type, h->pattern) == 0;
    case AU_HOOK_SEL_LAYERS:
        return n->is_layer;
    case AU_HOOK_SEL_ALL:
        return true;
    default:
        return false;
    }
}

int au_hook_rebuild(struct au_graph *g)
{
    au_free(g->node_hook_mask);
    g->node_hook_mask = au_calloc((size_t)g->n_nodes + 1, 1);
    if (!g->node_hook_mask)
        return AU_NOMEM;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->n_hooks; k++)
            if (hook_matches(&g->hooks[k], &g->nodes[i]))
                g->node_hook_mask[i] |= (unsigned char)g->hooks[k].when;
    return AU_OK;
}

int au_hook_call(struct au_graph *g, int i, unsigned when, bool reused, struct au_diag *d)
{
    const struct au_node *n = &g->nodes[i];
    struct au_hook_args a = {
        .g = g,
        .node_index = i,
        .node = n,
        .when = when,
        .n_in = n->n_in,
        .n_out = n->n_out,
        .in = &g->in_ptrs[g->slot_in[i]],
        .out = &g->out_ptrs[g->slot_out[i]],
        .reused = reused,
    };
    for (int k = 0; k < g->n_hooks; k++) {
        const struct au_hook_entry *h = &g->hooks[k];
        if (!(h->when & when) || !hook_matches(h, n))
            continue;
        struct au_diag why = {{0}};
        a.diag = &why;
        int rc = h->fn(h->user, &a);
        if (rc && why.msg[0])
            return au_diag_set(d, rc, "node '%s': %s", au_node_label(n), why.msg);
        if (rc)
            return au_diag_set(d, rc, "node '%s': hook aborted the run (%s)", au_node_label(n),
                               au_strerror(rc));
    }
    return AU_OK;
}

int au_hook_add(struct au_graph *g, int sel, const char *pattern, unsigned when, au_hook_fn fn,
                void *user)
{
    if (!fn || sel < AU_HOOK_SEL_NAME || sel > AU_HOOK_SEL_ALL ||
        !(when & (AU_HOOK_PRE | AU_HOOK_POST)) ||
        ((sel == AU_HOOK_SEL_NAME || sel == AU_HOOK_SEL_OP) && !pattern))
        return AU_INVALID;
    if (g->n_hooks == g->cap_hooks) {
        int cap = g->cap_hooks ? g->cap_hooks * 2 : 4;
        struct au_hook_entry *p = au_realloc(g->hooks, (size_t)cap * sizeof(*p));
        if (!p)
            return AU_NOMEM;
        g->hooks = p;
        g->cap_hooks = cap;
    }
    struct au_hook_entry *h = &g->hooks[g->n_hooks];
    h->pattern = au_strdup(pattern ? pattern : "");
    if (!h->pattern)
        return AU_NOMEM;
    h->kind = sel;
    h->when = when;
    h->fn = fn;
    h->user = user;
    h->id = g->next_hook_id++;
    g->n_hooks++;
    if (g->prepared && au_hook_rebuild(g))
        return AU_NOMEM;
    return h->id;
}

int au_hook_remove(struct au_graph *g, int id)
{
    for (int k = 0; k < g->n_hooks; k++) {
        if (g->hooks[k].id != id)
            continue;
        au_free(g->hooks[k].pattern);
        memmove(&g->hooks[k], &g->hooks[k + 1], (size_t)(g->n_hooks - k - 1) * sizeof(*g->hooks));
        g->n_hooks--;
        return g->prepared ? au_hook_rebuild(g) : AU_OK;
    }
    return AU_NOTFOUND;
}

void au_hook_free_all(struct au_graph *g)
{
    for (int k = 0; k < g->n_hooks; k++)
        au_free(g->hooks[k].pattern);
    au_free(g->hooks);
    au_free(g->node_hook_mask);
    g->hooks = NULL;
    g->node_hook_mask = NULL;
    g->n_hooks = g->cap_hooks = 0;
}

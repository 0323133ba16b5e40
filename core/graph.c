/* Graph builder and introspection. Values and nodes live in growable arrays indexed by
 * id; names are copied. The builder checks only what it can see locally (duplicate
 * producers, unknown ops, undefined inputs); shapes are checked by prepare. */
#include "graph_impl.h"

#include "alloc.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

struct au_graph *au_graph_new(void)
{
    struct au_graph *g = au_calloc(1, sizeof(*g));
    if (g)
        g->n_threads = 0;
    return g;
}

static void attr_fini(struct au_attr *a)
{
    au_free(a->name);
    au_free(a->s);
    au_free(a->ints);
    au_free(a->floats);
    for (int i = 0; a->strings && i < a->n; i++)
        au_free(a->strings[i]);
    au_free(a->strings);
    if (a->t) {
        au_free_aligned(a->t->data);
        au_free(a->t);
    }
}

void au_graph_free(struct au_graph *g)
{
    if (!g)
        return;
    au_prepare_release(g);
    au_hook_free_all(g);
    for (int i = 0; i < g->n_nodes; i++) {
        struct au_node *n = &g->nodes[i];
        au_free(n->name);
        au_free(n->op_type);
        au_free(n->in);
        au_free(n->out);
        for (int k = 0; k < n->n_attrs; k++)
            attr_fini(&n->attrs[k]);
        au_free(n->attrs);
    }
    for (int i = 0; i < g->n_values; i++) {
        struct au_value *v = &g->values[i];
        if (v->flags & AU_VALUE_INITIALIZER)
            au_free_aligned(v->t.data);
        au_free(v->name);
    }
    au_free(g->values);
    au_free(g->nodes);
    au_free(g->inputs);
    au_free(g->outputs);
    au_free(g->source);
    au_free(g);
}

int au_graph_find_value(const struct au_graph *g, const char *name)
{
    for (int i = 0; i < g->n_values; i++)
        if (strcmp(g->values[i].name, name) == 0)
            return i;
    return -1;
}

static int grow(void **arr, int *cap, int need, size_t elem)
{
    if (need <= *cap)
        return AU_OK;
    int ncap = *cap ? *cap * 2 : 16;
    while (ncap < need)
        ncap *= 2;
    size_t nbytes;
    if (au_mul_overflow((size_t)ncap, elem, &nbytes))
        return AU_OVERFLOW;
    void *p = au_realloc(*arr, nbytes);
    if (!p)
        return AU_NOMEM;
    *arr = p;
    *cap = ncap;
    return AU_OK;
}

int au_graph_add_value(struct au_graph *g, const char *name)
{
    int rc = grow((void **)&g->values, &g->cap_values, g->n_values + 1, sizeof(*g->values));
    if (rc)
        return rc;
    struct au_value *v = &g->values[g->n_values];
    memset(v, 0, sizeof(*v));
    v->name = au_strdup(name);
    if (!v->name)
        return AU_NOMEM;
    v->producer = -1;
    return g->n_values++;
}

static int value_or_new(struct au_graph *g, const char *name)
{
    int id = au_graph_find_value(g, name);
    return id >= 0 ? id : au_graph_add_value(g, name);
}

int au_graph_set_initializer_take(struct au_graph *g, int value, int dtype, int n_dims,
                                  const int64_t *ne, void *data)
{
    if (value < 0 || value >= g->n_values || n_dims < 0 || n_dims > AU_MAX_DIMS) {
        au_free_aligned(data);
        return AU_INVALID;
    }
    struct au_value *v = &g->values[value];
    if (v->flags & AU_VALUE_INITIALIZER)
        au_free_aligned(v->t.data);
    au_tensor_set_shape(&v->t, dtype, n_dims, ne);
    v->t.data = data;
    v->flags |= AU_VALUE_INITIALIZER | AU_VALUE_CONST;
    v->flags &= ~(uint32_t)AU_VALUE_INPUT;
    return AU_OK;
}

int au_graph_add_input(struct au_graph *g, const char *name, int dtype, int n_dims,
                       const int64_t *ne)
{
    if (n_dims < 0 || n_dims > AU_MAX_DIMS)
        return AU_INVALID;
    int id = value_or_new(g, name);
    if (id < 0)
        return id;
    struct au_value *v = &g->values[id];
    if (v->flags & AU_VALUE_INITIALIZER)
        return id; /* old exporters list initializers as inputs: they are weights */
    int cap = g->n_inputs;
    int *p = au_realloc(g->inputs, (size_t)(cap + 1) * sizeof(*p));
    if (!p)
        return AU_NOMEM;
    g->inputs = p;
    g->inputs[g->n_inputs++] = id;
    au_tensor_set_shape(&v->t, dtype, n_dims, ne);
    v->flags |= AU_VALUE_INPUT;
    return id;
}

int au_graph_mark_output(struct au_graph *g, const char *name)
{
    int id = value_or_new(g, name);
    if (id < 0)
        return id;
    int *p = au_realloc(g->outputs, (size_t)(g->n_outputs + 1) * sizeof(*p));
    if (!p)
        return AU_NOMEM;
    g->outputs = p;
    g->outputs[g->n_outputs++] = id;
    g->values[id].flags |= AU_VALUE_OUTPUT;
    return id;
}

void au_graph_set_source(struct au_graph *g, const char *path)
{
    au_free(g->source);
    g->source = path ? au_strdup(path) : NULL;
}

const char *au_graph_source(const struct au_graph *g)
{
    return g->source ? g->source : "<graph>";
}

static void attrs_free(struct au_attr *attrs, int n)
{
    for (int k = 0; k < n; k++)
        attr_fini(&attrs[k]);
}

static int node_wire(struct au_graph *g, struct au_node *n, int n_in, const char *const *in,
                     int n_out, const char *const *out, struct au_diag *d)
{
    const char *label = au_node_label(n);
    for (int i = 0; i < n_in; i++) {
        if (!in[i] || !in[i][0]) {
            n->in[i] = -1;
            continue;
        }
        int id = au_graph_find_value(g, in[i]);
        if (id < 0 || !(g->values[id].producer >= 0 ||
                        (g->values[id].flags & (AU_VALUE_INPUT | AU_VALUE_CONST))))
            return au_diag_set(d, AU_NOTFOUND, "node '%s' (%s): input '%s' is not defined", label,
                               n->op_type, in[i]);
        n->in[i] = id;
        g->values[id].n_consumers++;
    }
    for (int i = 0; i < n_out; i++) {
        if (!out[i] || !out[i][0]) {
            n->out[i] = -1;
            continue;
        }
        int id = value_or_new(g, out[i]);
        if (id < 0)
            return au_diag_set(d, id, "node '%s': out of memory", label);
        struct au_value *v = &g->values[id];
        if (v->producer >= 0 || (v->flags & (AU_VALUE_INPUT | AU_VALUE_CONST)))
            return au_diag_set(d, AU_FORMAT, "node '%s' (%s): output '%s' is defined twice", label,
                               n->op_type, out[i]);
        v->producer = g->n_nodes;
        n->out[i] = id;
    }
    return AU_OK;
}

int au_graph_add_node(struct au_graph *g, const char *name, const char *op_type, int n_in,
                      const char *const *in, int n_out, const char *const *out,
                      struct au_attr *attrs, int n_attrs, struct au_diag *d)
{
    int rc = grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof(*g->nodes));
    if (rc) {
        attrs_free(attrs, n_attrs);
        return au_diag_set(d, rc, "out of memory adding node '%s'", name ? name : "");
    }
    struct au_node *n = &g->nodes[g->n_nodes];
    memset(n, 0, sizeof(*n));
    n->name = au_strdup(name ? name : "");
    n->op_type = au_strdup(op_type ? op_type : "");
    n->in = au_calloc((size_t)n_in + 1, sizeof(int));
    n->out = au_calloc((size_t)n_out + 1, sizeof(int));
    n->attrs = au_calloc((size_t)n_attrs + 1, sizeof(*attrs));
    if (!n->name || !n->op_type || !n->in || !n->out || !n->attrs) {
        attrs_free(attrs, n_attrs);
        rc = au_diag_set(d, AU_NOMEM, "out of memory adding node '%s'", name ? name : "");
        goto err_free_node;
    }
    if (n_attrs)
        memcpy(n->attrs, attrs, (size_t)n_attrs * sizeof(*attrs));
    n->n_attrs = n_attrs;
    n->n_in = n_in;
    n->n_out = n_out;
    n->def = au_op_find(n->op_type);
    if (!n->def) {
        rc = au_diag_set(d, AU_UNSUPPORTED, "node '%s': unsupported op type '%s'", au_node_label(n),
                         n->op_type);
        goto err_free_node;
    }
    if (n_in < n->def->min_in || n_in > n->def->max_in || n_out < n->def->min_out ||
        n_out > n->def->max_out) {
        rc = au_diag_set(d, AU_FORMAT,
                         "node '%s' (%s): %d inputs and %d outputs, expected %d..%d and %d..%d",
                         au_node_label(n), n->op_type, n_in, n_out, n->def->min_in, n->def->max_in,
                         n->def->min_out, n->def->max_out);
        goto err_free_node;
    }
    for (int i = 0; i < n_in; i++)
        n->in[i] = -1;
    for (int i = 0; i < n_out; i++)
        n->out[i] = -1;
    rc = node_wire(g, n, n_in, in, n_out, out, d);
    if (rc)
        goto err_unwire;
    return g->n_nodes++;

err_unwire:
    for (int i = 0; i < n_in; i++)
        if (n->in[i] >= 0)
            g->values[n->in[i]].n_consumers--;
    for (int i = 0; i < n_out; i++)
        if (n->out[i] >= 0 && g->values[n->out[i]].producer == g->n_nodes)
            g->values[n->out[i]].producer = -1;
err_free_node:
    for (int k = 0; k < n->n_attrs; k++)
        attr_fini(&n->attrs[k]);
    au_free(n->attrs);
    au_free(n->name);
    au_free(n->op_type);
    au_free(n->in);
    au_free(n->out);
    return rc;
}

int au_graph_n_nodes(const struct au_graph *g)
{
    return g->n_nodes;
}

const struct au_node *au_graph_node(const struct au_graph *g, int i)
{
    return (i >= 0 && i < g->n_nodes) ? &g->nodes[i] : NULL;
}

int au_graph_n_values(const struct au_graph *g)
{
    return g->n_values;
}

const struct au_value *au_graph_value(const struct au_graph *g, int i)
{
    return (i >= 0 && i < g->n_values) ? &g->values[i] : NULL;
}

int au_graph_n_inputs(const struct au_graph *g)
{
    return g->n_inputs;
}

int au_graph_n_outputs(const struct au_graph *g)
{
    return g->n_outputs;
}

int au_graph_input_value(const struct au_graph *g, int i)
{
    return (i >= 0 && i < g->n_inputs) ? g->inputs[i] : -1;
}

int au_graph_output_value(const struct au_graph *g, int i)
{
    return (i >= 0 && i < g->n_outputs) ? g->outputs[i] : -1;
}

int64_t au_graph_batch(const struct au_graph *g)
{
    return g->batch;
}

size_t au_graph_peak_bytes(const struct au_graph *g)
{
    return g->arena_bytes;
}

bool au_node_matches(const struct au_node *n, const char *sel)
{
    if (strcmp(sel, "*") == 0)
        return n->is_layer;
    if (strncmp(sel, "op:", 3) == 0)
        return strcmp(n->op_type, sel + 3) == 0;
    if (strpbrk(sel, "*?["))
        return fnmatch(sel, n->name, 0) == 0;
    return strcmp(n->name, sel) == 0;
}

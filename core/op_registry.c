/* Operator registry: the per-family tables concatenated, looked up by op_type.
 * Linear search is fine: lookups happen once per node at load time. */
#include "graph.h"
#include "op.h"

#include <stdio.h>
#include <string.h>

static const struct au_op_def *const families[] = {au_ops_nn, au_ops_ew, au_ops_shape};

const struct au_op_def *au_op_at(int i)
{
    for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++) {
        for (const struct au_op_def *d = families[f]; d->name; d++) {
            if (i-- == 0)
                return d;
        }
    }
    return NULL;
}

const struct au_op_def *au_op_find(const char *op_type)
{
    const struct au_op_def *d;
    for (int i = 0; (d = au_op_at(i)) != NULL; i++)
        if (strcmp(d->name, op_type) == 0)
            return d;
    return NULL;
}

const struct au_attr *au_node_attr(const struct au_node *n, const char *name)
{
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0)
            return &n->attrs[i];
    return NULL;
}

int64_t au_node_attr_int(const struct au_node *n, const char *name, int64_t dflt)
{
    const struct au_attr *a = au_node_attr(n, name);
    if (!a)
        return dflt;
    if (a->type == AU_ATTR_FLOAT)
        return (int64_t)a->f;
    return a->i;
}

float au_node_attr_float(const struct au_node *n, const char *name, float dflt)
{
    const struct au_attr *a = au_node_attr(n, name);
    if (!a)
        return dflt;
    if (a->type == AU_ATTR_INT)
        return (float)a->i;
    return a->f;
}

const char *au_node_attr_string(const struct au_node *n, const char *name, const char *dflt)
{
    const struct au_attr *a = au_node_attr(n, name);
    return (a && a->type == AU_ATTR_STRING && a->s) ? a->s : dflt;
}

int au_node_attr_ints(const struct au_node *n, const char *name, const int64_t **vals)
{
    const struct au_attr *a = au_node_attr(n, name);
    if (!a || a->type != AU_ATTR_INTS)
        return -1;
    *vals = a->ints;
    return a->n;
}

int au_node_attr_floats(const struct au_node *n, const char *name, const float **vals)
{
    const struct au_attr *a = au_node_attr(n, name);
    if (!a || a->type != AU_ATTR_FLOATS)
        return -1;
    *vals = a->floats;
    return a->n;
}

const struct au_tensor *au_node_attr_tensor(const struct au_node *n, const char *name)
{
    const struct au_attr *a = au_node_attr(n, name);
    return (a && a->type == AU_ATTR_TENSOR) ? a->t : NULL;
}

const char *au_node_label(const struct au_node *n)
{
    return (n->name && n->name[0]) ? n->name : n->op_type;
}

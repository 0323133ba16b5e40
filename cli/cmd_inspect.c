/* aurum inspect: every node with shapes, weights, MACs and whether hooks attach to it by
 * default (a "layer"), then the totals. Folded nodes (shape arithmetic computed at load
 * time) are listed too, marked, so the printout matches the ONNX file node for node. */
#include "cmd.h"
#include "common.h"
#include "exec.h"

#include <stdio.h>
#include <string.h>

static void print_shapes(const struct au_graph *g, const int *ids, int n, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    for (int k = 0; k < n && off + 1 < len; k++) {
        char s[96];
        const struct au_tensor *t = ids[k] >= 0 ? au_graph_tensor(g, ids[k]) : NULL;
        if (t)
            au_tensor_shape_str(t, s, sizeof(s));
        else
            snprintf(s, sizeof(s), "-");
        off += (size_t)snprintf(buf + off, len - off, "%s%s", k ? " " : "", s);
    }
}

static void print_attrs(const struct au_node *n, char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    for (int a = 0; a < n->n_attrs && off + 1 < len; a++) {
        const struct au_attr *at = &n->attrs[a];
        off += (size_t)snprintf(buf + off, len - off, "%s%s=", a ? " " : "", at->name);
        if (off >= len)
            break;
        if (at->type == AU_ATTR_INT)
            off += (size_t)snprintf(buf + off, len - off, "%lld", (long long)at->i);
        else if (at->type == AU_ATTR_FLOAT)
            off += (size_t)snprintf(buf + off, len - off, "%g", (double)at->f);
        else if (at->type == AU_ATTR_STRING)
            off += (size_t)snprintf(buf + off, len - off, "%s", at->s ? at->s : "");
        else if (at->type == AU_ATTR_INTS)
            for (int k = 0; k < at->n && off < len; k++)
                off += (size_t)snprintf(buf + off, len - off, k ? ",%lld" : "%lld",
                                        (long long)at->ints[k]);
        else
            off += (size_t)snprintf(buf + off, len - off, "<%d values>", at->n);
    }
}

static int64_t node_params(const struct au_graph *g, const struct au_node *n)
{
    int64_t p = 0;
    for (int k = 0; k < n->n_in; k++) {
        const struct au_value *v = n->in[k] >= 0 ? au_graph_value(g, n->in[k]) : NULL;
        if (v && (v->flags & AU_VALUE_INITIALIZER) && v->t.dtype == AU_DTYPE_F32)
            p += au_tensor_numel(&v->t);
    }
    return p;
}

static void print_totals(const struct au_graph *g)
{
    int64_t params = 0;
    uint64_t macs = 0;
    int n_layers = 0, n_run = 0;
    for (int v = 0; v < au_graph_n_values(g); v++) {
        const struct au_value *val = au_graph_value(g, v);
        if ((val->flags & AU_VALUE_INITIALIZER) && val->t.dtype == AU_DTYPE_F32)
            params += au_tensor_numel(&val->t);
    }
    for (int i = 0; i < au_graph_n_nodes(g); i++) {
        const struct au_node *n = au_graph_node(g, i);
        macs += n->macs;
        n_layers += n->is_layer;
        n_run += !n->folded;
    }
    int64_t b = au_graph_batch(g);
    printf("\nnodes: %d (%d run, %d folded at load time), layers: %d\n", au_graph_n_nodes(g), n_run,
           au_graph_n_nodes(g) - n_run, n_layers);
    printf("parameters: %lld (%.2f MB as float32)\n", (long long)params,
           (double)params * 4.0 / 1e6);
    printf("MACs: %llu per batch of %lld, %llu per sample\n", (unsigned long long)macs,
           (long long)b, (unsigned long long)(macs / (uint64_t)b));
    printf("peak activation memory (batch %lld): %.2f MB\n", (long long)b,
           (double)au_graph_peak_bytes(g) / 1e6);
}

int au_cmd_inspect(int argc, char **argv)
{
    const char *path = NULL;
    int64_t batch = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--batch") == 0) {
            const char *v = cli_optarg(argc, argv, &i);
            if (!v || !cli_parse_i64("--batch", v, 1, 1 << 20, &batch))
                return 2;
        } else if (strcmp(argv[i], "--help") == 0) {
            printf("usage: aurum inspect model.onnx [--batch B]\n");
            return 0;
        } else if (!path && argv[i][0] != '-') {
            path = argv[i];
        } else {
            cli_error("inspect: unexpected argument '%s'", argv[i]);
            return 2;
        }
    }
    if (!path) {
        cli_error("inspect: missing model.onnx (usage: aurum inspect model.onnx [--batch B])");
        return 2;
    }
    struct au_graph *g;
    if (cli_load_model(path, batch, 0, &g))
        return 1;
    printf("%-4s %-28s %-20s %-6s %12s %14s  %s\n", "#", "name", "op", "layer", "params", "MACs",
           "inputs -> outputs  [attributes]");
    for (int i = 0; i < au_graph_n_nodes(g); i++) {
        const struct au_node *n = au_graph_node(g, i);
        char ins[512], outs[256], attrs[256];
        print_shapes(g, n->in, n->n_in, ins, sizeof(ins));
        print_shapes(g, n->out, n->n_out, outs, sizeof(outs));
        print_attrs(n, attrs, sizeof(attrs));
        printf("%-4d %-28s %-20s %-6s %12lld %14llu  %s -> %s%s%s%s\n", i, n->name, n->op_type,
               n->folded     ? "folded"
               : n->is_layer ? "yes"
                             : "",
               (long long)node_params(g, n), (unsigned long long)n->macs, ins, outs,
               attrs[0] ? "  [" : "", attrs, attrs[0] ? "]" : "");
    }
    print_totals(g);
    au_graph_free(g);
    return 0;
}

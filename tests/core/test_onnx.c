/* Tests for core/onnx.c. Models are built here as protobuf-c structs, packed into a
 * temp dir and loaded back: initializers in every encoding, dynamic batch inputs,
 * attributes, external data (inside the dir loads, escapes are refused), every error
 * case with its one-line message, truncation and byte flips (never a crash) and
 * allocation failure at every site. The shared LeNet-5 file is loaded when present. */
#include "aurum/numsys.h"
#include "check.h"
#include "core/alloc.h"
#include "core/exec.h"
#include "core/graph.h"
#include "core/onnx.h"
#include "core/onnx.pb-c.h"

#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- a tracking allocator: every proto piece is freed at once by tb_reset ---- */

static void **tb_ptrs;
static size_t tb_n, tb_cap;

static void *tb_new(size_t n)
{
    if (tb_n == tb_cap) {
        tb_cap = tb_cap ? tb_cap * 2 : 256;
        tb_ptrs = realloc(tb_ptrs, tb_cap * sizeof(*tb_ptrs));
        if (!tb_ptrs)
            abort();
    }
    void *p = calloc(1, n ? n : 1);
    if (!p)
        abort();
    tb_ptrs[tb_n++] = p;
    return p;
}

static void tb_reset(void)
{
    for (size_t i = 0; i < tb_n; i++)
        free(tb_ptrs[i]);
    tb_n = 0;
}

static char *tb_str(const char *s)
{
    char *r = tb_new(strlen(s) + 1);
    memcpy(r, s, strlen(s) + 1);
    return r;
}

/* Append item to a repeated field (array of pointers or of scalars). */
static void push(void **arr, size_t *n, const void *item, size_t size)
{
    char *p = tb_new((*n + 1) * size);
    if (*n)
        memcpy(p, *arr, *n * size);
    memcpy(p + *n * size, item, size);
    *arr = p;
    (*n)++;
}
#define PUSH(arr, n, item) push((void **)&(arr), &(n), &(item), sizeof(item))

/* ---- model building ---- */

static Onnx__ModelProto *mk_model(int64_t opset)
{
    Onnx__ModelProto *m = tb_new(sizeof(*m));
    onnx__model_proto__init(m);
    m->has_ir_version = 1;
    m->ir_version = 8;
    m->producer_name = tb_str("test_onnx");
    Onnx__OperatorSetIdProto *os = tb_new(sizeof(*os));
    onnx__operator_set_id_proto__init(os);
    os->domain = tb_str("");
    os->has_version = 1;
    os->version = opset;
    PUSH(m->opset_import, m->n_opset_import, os);
    m->graph = tb_new(sizeof(*m->graph));
    onnx__graph_proto__init(m->graph);
    m->graph->name = tb_str("g");
    return m;
}

static Onnx__TensorProto *mk_tensor(const char *name, int dtype, int n_dims, const int64_t *dims)
{
    Onnx__TensorProto *t = tb_new(sizeof(*t));
    onnx__tensor_proto__init(t);
    t->name = name ? tb_str(name) : NULL;
    t->has_data_type = 1;
    t->data_type = dtype;
    t->n_dims = (size_t)n_dims;
    t->dims = tb_new((size_t)n_dims * sizeof(int64_t));
    if (n_dims)
        memcpy(t->dims, dims, (size_t)n_dims * sizeof(int64_t));
    return t;
}

static void set_raw(Onnx__TensorProto *t, const void *data, size_t n)
{
    t->has_raw_data = 1;
    t->raw_data.len = n;
    t->raw_data.data = tb_new(n);
    memcpy(t->raw_data.data, data, n);
}

static Onnx__TensorProto *add_init(Onnx__ModelProto *m, Onnx__TensorProto *t)
{
    PUSH(m->graph->initializer, m->graph->n_initializer, t);
    return t;
}

/* A tensor value info; dims < 0 are left symbolic: -1 as dim_param "N", -2 as no value. */
static Onnx__ValueInfoProto *mk_vi(const char *name, int dtype, int n_dims, const int64_t *dims)
{
    Onnx__ValueInfoProto *vi = tb_new(sizeof(*vi));
    onnx__value_info_proto__init(vi);
    vi->name = tb_str(name);
    vi->type = tb_new(sizeof(*vi->type));
    onnx__type_proto__init(vi->type);
    vi->type->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    Onnx__TypeProto__Tensor *tt = tb_new(sizeof(*tt));
    onnx__type_proto__tensor__init(tt);
    tt->has_elem_type = 1;
    tt->elem_type = dtype;
    vi->type->tensor_type = tt;
    if (n_dims < 0)
        return vi; /* no shape at all */
    tt->shape = tb_new(sizeof(*tt->shape));
    onnx__tensor_shape_proto__init(tt->shape);
    for (int i = 0; i < n_dims; i++) {
        Onnx__TensorShapeProto__Dimension *dm = tb_new(sizeof(*dm));
        onnx__tensor_shape_proto__dimension__init(dm);
        if (dims[i] >= 0 || dims[i] < -2) {
            dm->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            dm->dim_value = dims[i];
        } else if (dims[i] == -1) {
            dm->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            dm->dim_param = tb_str("N");
        }
        PUSH(tt->shape->dim, tt->shape->n_dim, dm);
    }
    return vi;
}

static void add_input(Onnx__ModelProto *m, Onnx__ValueInfoProto *vi)
{
    PUSH(m->graph->input, m->graph->n_input, vi);
}

static void add_output(Onnx__ModelProto *m, const char *name)
{
    Onnx__ValueInfoProto *vi = mk_vi(name, AU_DTYPE_F32, -1, NULL);
    PUSH(m->graph->output, m->graph->n_output, vi);
}

/* ins/outs: comma-separated names ("X,,B" has an absent middle input). */
static void split_names(const char *list, char ***arr, size_t *n)
{
    char *copy = tb_str(list);
    for (char *p = copy;;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        PUSH(*arr, *n, p);
        if (!comma)
            break;
        p = comma + 1;
    }
}

static Onnx__NodeProto *add_node(Onnx__ModelProto *m, const char *op, const char *name,
                                 const char *ins, const char *outs)
{
    Onnx__NodeProto *n = tb_new(sizeof(*n));
    onnx__node_proto__init(n);
    n->op_type = tb_str(op);
    n->name = name ? tb_str(name) : NULL;
    if (ins && ins[0])
        split_names(ins, &n->input, &n->n_input);
    split_names(outs, &n->output, &n->n_output);
    PUSH(m->graph->node, m->graph->n_node, n);
    return n;
}

static Onnx__AttributeProto *add_attr(Onnx__NodeProto *n, const char *name, int type)
{
    Onnx__AttributeProto *a = tb_new(sizeof(*a));
    onnx__attribute_proto__init(a);
    a->name = tb_str(name);
    a->has_type = type != 0;
    a->type = type;
    PUSH(n->attribute, n->n_attribute, a);
    return a;
}

static void attr_f(Onnx__NodeProto *n, const char *name, float v)
{
    Onnx__AttributeProto *a = add_attr(n, name, AU_ATTR_FLOAT);
    a->has_f = 1, a->f = v;
}

static void attr_i(Onnx__NodeProto *n, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = add_attr(n, name, AU_ATTR_INT);
    a->has_i = 1, a->i = v;
}

/* ---- files ---- */

static char tmpdir[256];

static const char *tmp_path(const char *name)
{
    static char buf[2][512];
    static int k;
    k ^= 1;
    snprintf(buf[k], sizeof(buf[k]), "%s/%s", tmpdir, name);
    return buf[k];
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n))
        abort();
    fclose(f);
}

static uint8_t *pack(const Onnx__ModelProto *m, size_t *len)
{
    *len = onnx__model_proto__get_packed_size(m);
    uint8_t *buf = tb_new(*len);
    CHECK_EQ_U64(onnx__model_proto__pack(m, buf), *len);
    return buf;
}

/* Pack m to path and load it; returns the status, graph in *g. */
static int save_load_at(const Onnx__ModelProto *m, const char *path, struct au_graph **g,
                        struct au_diag *d)
{
    size_t len;
    uint8_t *buf = pack(m, &len);
    write_file(path, buf, len);
    memset(d->msg, 0, sizeof(d->msg));
    return au_onnx_load(path, g, d);
}

static int save_load(const Onnx__ModelProto *m, struct au_graph **g, struct au_diag *d)
{
    return save_load_at(m, tmp_path("model.onnx"), g, d);
}

/* One printable line: no newline, no control bytes (names in hostile files have them). */
static bool one_line(const char *msg)
{
    for (const char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return false;
    return msg[0] != '\0';
}

static bool has(const struct au_diag *d, const char *needle)
{
    bool ok = strstr(d->msg, needle) != NULL;
    if (!ok)
        fprintf(stderr, "  message '%s' lacks '%s'\n", d->msg, needle);
    return ok;
}

/* Expect failure with status st and a one-line message naming the file and needle. */
static void expect_fail(const Onnx__ModelProto *m, int st, const char *needle)
{
    static int sentinel;
    struct au_graph *g = (struct au_graph *)&sentinel; /* the loader must reset it */
    struct au_diag d;
    int rc = save_load(m, &g, &d);
    CHECK_EQ_INT(rc, st);
    CHECK(g == NULL);
    CHECK(strncmp(d.msg, tmp_path("model.onnx"), strlen(tmp_path("model.onnx"))) == 0);
    CHECK(one_line(d.msg));
    CHECK(has(&d, needle));
    if (rc == 0)
        au_graph_free(g);
}

/* ---- the reference model: Y = Reshape(Relu(X.W + B) + K, S) ---- */

static const float W_vals[12] = {0.5f, -1, 2, 1, 0.25f, -0.5f, -2, 1, 0, 0.75f, 3, -1};
static const float B_vals[3] = {0.1f, -0.2f, 0.3f};
static const float K_vals[3] = {1, 2, 3};

/* X is [N,4] with N symbolic; W comes as raw_data and is also listed as an input, as
 * old exporters do; B is float_data, S int64_data, K a Constant's TENSOR attribute. */
static Onnx__ModelProto *mk_mlp(void)
{
    Onnx__ModelProto *m = mk_model(13);
    const int64_t xd[2] = {-1, 4}, wd[2] = {4, 3}, bd[1] = {3}, sd[1] = {2};
    add_input(m, mk_vi("X", AU_DTYPE_F32, 2, xd));
    add_input(m, mk_vi("W", AU_DTYPE_F32, 2, wd));
    set_raw(add_init(m, mk_tensor("W", AU_DTYPE_F32, 2, wd)), W_vals, sizeof(W_vals));
    Onnx__TensorProto *b = add_init(m, mk_tensor("B", AU_DTYPE_F32, 1, bd));
    b->n_float_data = 3;
    b->float_data = tb_new(sizeof(B_vals));
    memcpy(b->float_data, B_vals, sizeof(B_vals));
    Onnx__TensorProto *s = add_init(m, mk_tensor("S", AU_DTYPE_I64, 1, sd));
    static int64_t s_vals[2] = {-1, 3};
    s->n_int64_data = 2;
    s->int64_data = s_vals;
    Onnx__NodeProto *gemm = add_node(m, "Gemm", "gemm1", "X,W,B", "H");
    attr_f(gemm, "alpha", 1.0f);
    attr_i(gemm, "transB", 0);
    attr_f(gemm, "beta", 1.0f);
    add_node(m, "Relu", "relu1", "H", "R");
    Onnx__NodeProto *c = add_node(m, "Constant", "const1", "", "K");
    Onnx__TensorProto *kt = mk_tensor(NULL, AU_DTYPE_F32, 1, bd);
    set_raw(kt, K_vals, sizeof(K_vals));
    add_attr(c, "value", AU_ATTR_TENSOR)->t = kt;
    add_node(m, "Add", "add1", "R,K", "A");
    add_node(m, "Reshape", "reshape1", "A,S", "Y");
    add_output(m, "Y");
    return m;
}

static const struct au_value *value(const struct au_graph *g, const char *name)
{
    int id = au_graph_find_value(g, name);
    CHECK(id >= 0);
    return id >= 0 ? au_graph_value(g, id) : NULL;
}

static void test_onnx_mlp_structure_and_initializers(void)
{
    struct au_graph *g = NULL;
    struct au_diag d;
    int rc = save_load(mk_mlp(), &g, &d);
    CHECK_EQ_INT(rc, AU_OK);
    if (rc) {
        fprintf(stderr, "  %s\n", d.msg);
        return;
    }
    static const char *const ops[] = {"Gemm", "Relu", "Constant", "Add", "Reshape"};
    CHECK_EQ_INT(au_graph_n_nodes(g), 5);
    for (int i = 0; i < au_graph_n_nodes(g) && i < 5; i++)
        CHECK(strcmp(au_graph_node(g, i)->op_type, ops[i]) == 0);
    CHECK(strcmp(au_graph_node(g, 0)->name, "gemm1") == 0);
    /* W is listed as an input but is a weight: one user input. */
    CHECK_EQ_INT(au_graph_n_inputs(g), 1);
    const struct au_value *x = au_graph_value(g, au_graph_input_value(g, 0));
    CHECK(strcmp(x->name, "X") == 0);
    CHECK_EQ_INT(x->t.n_dims, 2);
    CHECK_EQ_INT(x->t.ne[0], -1);
    CHECK_EQ_INT(x->t.ne[1], 4);
    CHECK_EQ_INT(x->t.dtype, AU_DTYPE_F32);
    CHECK_EQ_INT(au_graph_n_outputs(g), 1);
    CHECK(strcmp(au_graph_value(g, au_graph_output_value(g, 0))->name, "Y") == 0);
    const struct au_value *w = value(g, "W"), *b = value(g, "B"), *s = value(g, "S");
    if (w && b && s) {
        CHECK(w->flags & AU_VALUE_INITIALIZER);
        CHECK(!(w->flags & AU_VALUE_INPUT));
        CHECK_EQ_INT(w->t.ne[0], 4);
        CHECK_EQ_INT(w->t.ne[1], 3);
        CHECK(memcmp(w->t.data, W_vals, sizeof(W_vals)) == 0);
        CHECK(((uintptr_t)w->t.data & 63) == 0);
        CHECK(memcmp(b->t.data, B_vals, sizeof(B_vals)) == 0);
        CHECK_EQ_INT(s->t.dtype, AU_DTYPE_I64);
        CHECK_EQ_INT(((int64_t *)s->t.data)[0], -1);
        CHECK_EQ_INT(((int64_t *)s->t.data)[1], 3);
    }
    const struct au_node *gemm = au_graph_node(g, 0), *c = au_graph_node(g, 2);
    CHECK_NEAR(au_node_attr_float(gemm, "alpha", 0), 1.0, 0);
    CHECK_EQ_INT(au_node_attr_int(gemm, "transB", 7), 0);
    CHECK_NEAR(au_node_attr_float(gemm, "beta", 5), 1.0, 0);
    const struct au_tensor *kt = au_node_attr_tensor(c, "value");
    CHECK(kt && kt->dtype == AU_DTYPE_F32 && kt->n_dims == 1 && kt->ne[0] == 3);
    CHECK(kt && memcmp(kt->data, K_vals, sizeof(K_vals)) == 0);
    CHECK(strcmp(au_graph_source(g), tmp_path("model.onnx")) == 0);
    au_graph_free(g);
}

/* The loaded graph computes what the model says, for two batch sizes. */
static void test_onnx_mlp_runs_with_dynamic_batch(void)
{
    struct au_graph *g = NULL;
    struct au_diag d;
    CHECK_EQ_INT(save_load(mk_mlp(), &g, &d), AU_OK);
    for (int64_t batch = 1; g && batch <= 3; batch += 2) {
        float x[3 * 4], want[3 * 3];
        for (int i = 0; i < batch * 4; i++)
            x[i] = (float)(i % 7) - 2.5f;
        for (int r = 0; r < batch; r++)
            for (int j = 0; j < 3; j++) {
                double acc = B_vals[j];
                for (int k = 0; k < 4; k++)
                    acc += (double)x[r * 4 + k] * W_vals[k * 3 + j];
                want[r * 3 + j] = (float)(acc > 0 ? acc : 0) + K_vals[j];
            }
        int rc = au_graph_prepare(g, batch, 0, &d);
        if (!rc)
            rc = au_graph_set_input(g, 0, x, (size_t)batch * 4 * sizeof(float), &d);
        if (!rc)
            rc = au_graph_run(g, &d);
        CHECK_EQ_INT(rc, AU_OK);
        if (rc) {
            fprintf(stderr, "  batch %lld: %s\n", (long long)batch, d.msg);
            break;
        }
        const struct au_tensor *y = au_graph_output(g, 0);
        CHECK(y->n_dims == 2 && y->ne[0] == batch && y->ne[1] == 3);
        for (int i = 0; i < batch * 3; i++)
            CHECK_NEAR(((const float *)y->data)[i], want[i], 1e-5);
    }
    au_graph_free(g);
}

/* A model whose graph is just Relu(X) -> Y, plus whatever a test adds. */
static Onnx__ModelProto *mk_tiny(void)
{
    Onnx__ModelProto *m = mk_model(13);
    const int64_t xd[2] = {-2, 3}; /* dim 0 without dim_value */
    add_input(m, mk_vi("X", AU_DTYPE_F32, 2, xd));
    add_node(m, "Relu", "relu1", "X", "Y");
    add_output(m, "Y");
    return m;
}

/* Softmax [2,3,4]: opset 12 normalises over the 12 trailing values of each sample
 * (coerce to 2-D at axis 1), opset 13 over the last axis. */
static void test_onnx_softmax_follows_its_opset(void)
{
    for (int opset = 12; opset <= 13; opset++) {
        Onnx__ModelProto *m = mk_model(opset);
        const int64_t xd[3] = {2, 3, 4};
        add_input(m, mk_vi("X", AU_DTYPE_F32, 3, xd));
        add_node(m, "Softmax", "sm", "X", "Y");
        add_output(m, "Y");
        struct au_graph *g = NULL;
        struct au_diag d;
        float x[24];
        for (int i = 0; i < 24; i++)
            x[i] = (float)((i * 7) % 5) * 0.5f;
        int rc = save_load(m, &g, &d);
        if (!rc)
            rc = au_graph_prepare(g, 2, 0, &d);
        if (!rc)
            rc = au_graph_set_input(g, 0, x, sizeof(x), &d);
        if (!rc)
            rc = au_graph_run(g, &d);
        CHECK_EQ_INT(rc, AU_OK);
        if (!rc) {
            const float *y = au_graph_output(g, 0)->data;
            int len = opset < 13 ? 12 : 4;
            for (int r = 0; r < 24 / len; r++) {
                double s = 0;
                for (int k = 0; k < len; k++)
                    s += exp(x[r * len + k]);
                for (int k = 0; k < len; k++)
                    CHECK_NEAR(y[r * len + k], exp(x[r * len + k]) / s, 1e-6);
            }
        }
        au_graph_free(g);
    }
}

static void test_onnx_every_dtype_and_encoding(void)
{
    Onnx__ModelProto *m = mk_tiny();
    const int64_t d2[1] = {2}, d3[1] = {3}, d0[2] = {0, 5};
    static int32_t i32[2] = {-5, 7}, i8[3] = {-128, 0, 127}, bl[3] = {0, 1, 5};
    static double f64[2] = {1.5, -2.25};
    const uint8_t u8[2] = {0, 255}, braw[2] = {0, 9};
    const int64_t i64raw[2] = {INT64_MIN, 42};
    const double f64raw[2] = {3.5, -0.125};
    Onnx__TensorProto *t = add_init(m, mk_tensor("i32", AU_DTYPE_I32, 1, d2));
    t->n_int32_data = 2, t->int32_data = i32;
    t = add_init(m, mk_tensor("i8", AU_DTYPE_I8, 1, d3));
    t->n_int32_data = 3, t->int32_data = i8;
    t = add_init(m, mk_tensor("bool", AU_DTYPE_BOOL, 1, d3));
    t->n_int32_data = 3, t->int32_data = bl;
    t = add_init(m, mk_tensor("f64", AU_DTYPE_F64, 1, d2));
    t->n_double_data = 2, t->double_data = f64;
    set_raw(add_init(m, mk_tensor("u8", AU_DTYPE_U8, 1, d2)), u8, sizeof(u8));
    set_raw(add_init(m, mk_tensor("braw", AU_DTYPE_BOOL, 1, d2)), braw, sizeof(braw));
    set_raw(add_init(m, mk_tensor("i64raw", AU_DTYPE_I64, 1, d2)), i64raw, sizeof(i64raw));
    set_raw(add_init(m, mk_tensor("f64raw", AU_DTYPE_F64, 1, d2)), f64raw, sizeof(f64raw));
    add_init(m, mk_tensor("empty", AU_DTYPE_F32, 2, d0)); /* 0 elements, no data */
    t = add_init(m, mk_tensor("scalar", AU_DTYPE_F32, 0, NULL));
    static float one = 1.0f;
    t->n_float_data = 1, t->float_data = &one;
    struct au_graph *g = NULL;
    struct au_diag d;
    int rc = save_load(m, &g, &d);
    CHECK_EQ_INT(rc, AU_OK);
    if (rc) {
        fprintf(stderr, "  %s\n", d.msg);
        return;
    }
    const struct au_value *v;
    CHECK_EQ_INT(value(g, "X")->t.ne[0], -1);
    if ((v = value(g, "i32")))
        CHECK(v->t.dtype == AU_DTYPE_I32 && ((int32_t *)v->t.data)[0] == -5 &&
              ((int32_t *)v->t.data)[1] == 7);
    if ((v = value(g, "i8")))
        CHECK(v->t.dtype == AU_DTYPE_I8 && ((int8_t *)v->t.data)[0] == -128 &&
              ((int8_t *)v->t.data)[2] == 127);
    if ((v = value(g, "bool")))
        CHECK(v->t.dtype == AU_DTYPE_BOOL && memcmp(v->t.data, "\0\1\1", 3) == 0);
    if ((v = value(g, "braw")))
        CHECK(memcmp(v->t.data, "\0\1", 2) == 0);
    if ((v = value(g, "f64")))
        CHECK(v->t.dtype == AU_DTYPE_F64 && ((double *)v->t.data)[1] == -2.25);
    if ((v = value(g, "u8")))
        CHECK(v->t.dtype == AU_DTYPE_U8 && ((uint8_t *)v->t.data)[1] == 255);
    if ((v = value(g, "i64raw")))
        CHECK(((int64_t *)v->t.data)[0] == INT64_MIN && ((int64_t *)v->t.data)[1] == 42);
    if ((v = value(g, "f64raw")))
        CHECK(((double *)v->t.data)[0] == 3.5);
    if ((v = value(g, "empty")))
        CHECK(v->t.n_dims == 2 && v->t.ne[0] == 0 && au_tensor_numel(&v->t) == 0);
    if ((v = value(g, "scalar")))
        CHECK(v->t.n_dims == 0 && ((float *)v->t.data)[0] == 1.0f);
    au_graph_free(g);
}

static void test_onnx_attribute_kinds(void)
{
    Onnx__ModelProto *m = mk_tiny();
    Onnx__NodeProto *n = m->graph->node[0];
    static int64_t ints[3] = {2, -1, 0};
    static float floats[2] = {0.5f, -4};
    Onnx__AttributeProto *a = add_attr(n, "perm", AU_ATTR_INTS);
    a->n_ints = 3, a->ints = ints;
    a = add_attr(n, "scales", AU_ATTR_FLOATS);
    a->n_floats = 2, a->floats = floats;
    a = add_attr(n, "mode", AU_ATTR_STRING);
    a->has_s = 1, a->s.len = 7, a->s.data = (uint8_t *)tb_str("nearest");
    a = add_attr(n, "names", AU_ATTR_STRINGS);
    ProtobufCBinaryData s1 = {2, (uint8_t *)tb_str("ab")}, s2 = {0, NULL};
    PUSH(a->strings, a->n_strings, s1);
    PUSH(a->strings, a->n_strings, s2);
    add_attr(n, "none", AU_ATTR_INTS); /* empty list */
    struct au_graph *g = NULL;
    struct au_diag d;
    CHECK_EQ_INT(save_load(m, &g, &d), AU_OK);
    if (!g)
        return;
    const struct au_node *node = au_graph_node(g, 0);
    const int64_t *iv = NULL;
    const float *fv = NULL;
    CHECK_EQ_INT(au_node_attr_ints(node, "perm", &iv), 3);
    CHECK(iv && iv[0] == 2 && iv[1] == -1 && iv[2] == 0);
    CHECK_EQ_INT(au_node_attr_floats(node, "scales", &fv), 2);
    CHECK(fv && fv[0] == 0.5f && fv[1] == -4);
    CHECK(strcmp(au_node_attr_string(node, "mode", ""), "nearest") == 0);
    const struct au_attr *sa = au_node_attr(node, "names");
    CHECK(sa && sa->type == AU_ATTR_STRINGS && sa->n == 2);
    CHECK(sa && strcmp(sa->strings[0], "ab") == 0 && sa->strings[1][0] == '\0');
    CHECK_EQ_INT(au_node_attr_ints(node, "none", &iv), 0);
    au_graph_free(g);
}

/* ---- errors: each names the file and what is wrong ---- */

static void test_onnx_refuses_bad_files(void)
{
    struct au_graph *g = NULL;
    struct au_diag d;
    CHECK_EQ_INT(au_onnx_load(tmp_path("missing.onnx"), &g, &d), AU_IO);
    CHECK(g == NULL && has(&d, "missing.onnx: cannot open"));
    CHECK_EQ_INT(au_onnx_load(tmpdir, &g, &d), AU_IO);
    CHECK(has(&d, "not a regular file"));
    const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 'h', 'e', 'l', 'l', 'o'};
    write_file(tmp_path("junk.onnx"), junk, sizeof(junk));
    CHECK_EQ_INT(au_onnx_load(tmp_path("junk.onnx"), &g, &d), AU_FORMAT);
    CHECK(has(&d, "junk.onnx: not an ONNX model"));
    CHECK_EQ_INT(au_onnx_load_buffer(junk, sizeof(junk), NULL, "buf.onnx", &g, &d), AU_FORMAT);
    CHECK(has(&d, "buf.onnx: not an ONNX model"));
    write_file(tmp_path("empty.onnx"), "", 0);
    CHECK_EQ_INT(au_onnx_load(tmp_path("empty.onnx"), &g, &d), AU_FORMAT);
    CHECK(has(&d, "empty.onnx: model has no graph"));
    CHECK_EQ_INT(au_onnx_load_buffer(NULL, 0, NULL, NULL, NULL, &d), AU_INVALID);
    CHECK_EQ_INT(au_onnx_load(tmp_path("missing.onnx"), &g, NULL), AU_IO); /* d optional */

    Onnx__ModelProto *m = mk_tiny();
    m->graph = NULL;
    expect_fail(m, AU_FORMAT, "model has no graph");
}

static void test_onnx_refuses_bad_graphs(void)
{
    Onnx__ModelProto *m = mk_tiny();
    m->graph->node[0]->op_type = tb_str("FooBar");
    expect_fail(m, AU_UNSUPPORTED, "unsupported op type 'FooBar'");

    m = mk_tiny();
    add_node(m, "Add", "conv1", "Y,W", "Z");
    expect_fail(m, AU_NOTFOUND, "input 'W' is not defined");
    expect_fail(m, AU_NOTFOUND, "node 'conv1'");

    m = mk_tiny();
    add_node(m, "Relu", "again", "X", "Y");
    expect_fail(m, AU_FORMAT, "output 'Y' is defined twice");

    m = mk_tiny();
    add_output(m, "nowhere");
    expect_fail(m, AU_NOTFOUND, "output 'nowhere' is not produced by any node");

    m = mk_tiny();
    m->graph->n_output = 0;
    expect_fail(m, AU_FORMAT, "graph has no outputs");

    m = mk_tiny();
    m->graph->node[0]->domain = tb_str("com.microsoft");
    expect_fail(m, AU_UNSUPPORTED, "node 'relu1' (Relu): domain 'com.microsoft'");

    m = mk_tiny();
    m->graph->node[0]->op_type = tb_str("");
    expect_fail(m, AU_FORMAT, "no op_type");

    m = mk_tiny();
    m->graph->node[0]->name = tb_str("evil\x1b[2J\x01name");
    m->graph->node[0]->domain = tb_str("x");
    expect_fail(m, AU_UNSUPPORTED, "node 'evil?[2J?name'");
    m->graph->node[0]->domain = NULL;
    m->graph->node[0]->op_type = tb_str("Nope");
    expect_fail(m, AU_UNSUPPORTED, "node 'evil?[2J?name': unsupported op type 'Nope'");

    m = mk_tiny();
    m->graph->node[0]->name = NULL;
    m->graph->node[0]->op_type = tb_str("Nope");
    expect_fail(m, AU_UNSUPPORTED, "'Nope'");

    const int64_t opsets[2] = {6, 19};
    for (int i = 0; i < 2; i++) {
        m = mk_tiny();
        m->opset_import[0]->version = opsets[i];
        char want[32];
        snprintf(want, sizeof(want), "opset %lld", (long long)opsets[i]);
        expect_fail(m, AU_UNSUPPORTED, want);
    }
    m = mk_tiny();
    m->opset_import[0]->domain = tb_str("ai.onnx.ml");
    expect_fail(m, AU_UNSUPPORTED, "no opset_import for the default domain");
    m = mk_tiny();
    m->opset_import[0]->domain = tb_str("ai.onnx"); /* the explicit spelling is fine */
    struct au_graph *g = NULL;
    struct au_diag d;
    CHECK_EQ_INT(save_load(m, &g, &d), AU_OK);
    au_graph_free(g);
}

static void test_onnx_refuses_bad_inputs(void)
{
    const int64_t neg[2] = {1, -5}, dd[1] = {3};
    Onnx__ModelProto *m = mk_tiny();
    m->graph->input[0] = mk_vi("X", AU_DTYPE_F32, 2, neg);
    expect_fail(m, AU_SHAPE, "input 'X': dim 1 is negative (-5)");

    m = mk_tiny();
    m->graph->input[0] = mk_vi("X", 8 /* string */, 1, dd);
    expect_fail(m, AU_DTYPE, "input 'X': unsupported elem_type 8 (string)");

    m = mk_tiny();
    m->graph->input[0] = mk_vi("X", AU_DTYPE_F32, -1, NULL);
    expect_fail(m, AU_UNSUPPORTED, "input 'X' has no shape");

    m = mk_tiny();
    m->graph->input[0]->type->value_case = ONNX__TYPE_PROTO__VALUE__NOT_SET;
    expect_fail(m, AU_UNSUPPORTED, "input 'X' is not a tensor");

    m = mk_tiny();
    add_input(m, mk_vi("X", AU_DTYPE_F32, 1, dd));
    expect_fail(m, AU_FORMAT, "input 'X' is listed twice");

    const int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    m = mk_tiny();
    m->graph->input[0] = mk_vi("X", AU_DTYPE_F32, 9, nine);
    expect_fail(m, AU_SHAPE, "input 'X': 9 dims");
}

static void test_onnx_refuses_bad_initializers(void)
{
    const int64_t d22[2] = {2, 2}, dneg[2] = {2, -3}, dbig[3] = {1LL << 40, 1LL << 40, 8};
    const float f3[3] = {1, 2, 3};
    Onnx__ModelProto *m = mk_tiny();
    set_raw(add_init(m, mk_tensor("W", AU_DTYPE_F32, 2, d22)), f3, sizeof(f3));
    expect_fail(m, AU_SHAPE,
                "initializer 'W': raw_data is 12 bytes, dims [2,2] of float32 need 16");

    m = mk_tiny();
    set_raw(add_init(m, mk_tensor("W", AU_DTYPE_F32, 2, dneg)), f3, sizeof(f3));
    expect_fail(m, AU_SHAPE, "initializer 'W': dim 1 is negative (-3)");

    m = mk_tiny();
    set_raw(add_init(m, mk_tensor("W", AU_DTYPE_F32, 3, dbig)), f3, sizeof(f3));
    expect_fail(m, AU_OVERFLOW, "initializer 'W': dims overflow");

    m = mk_tiny();
    set_raw(add_init(m, mk_tensor("W", 16, 1, d22)), f3, 4);
    expect_fail(m, AU_DTYPE, "initializer 'W': unsupported data_type 16 (bfloat16)");
    m = mk_tiny();
    set_raw(add_init(m, mk_tensor("W", 99, 1, d22)), f3, 4);
    expect_fail(m, AU_DTYPE, "unsupported data_type 99 (unknown)");

    m = mk_tiny();
    Onnx__TensorProto *t = add_init(m, mk_tensor("W", AU_DTYPE_F32, 2, d22));
    t->n_float_data = 3, t->float_data = (float *)f3;
    expect_fail(m, AU_SHAPE, "initializer 'W': float_data has 3 values, dims [2,2] need 4");

    m = mk_tiny();
    add_init(m, mk_tensor("W", AU_DTYPE_I64, 2, d22));
    expect_fail(m, AU_FORMAT, "initializer 'W': no data");

    static int32_t big[2] = {1, 300};
    m = mk_tiny();
    t = add_init(m, mk_tensor("q", AU_DTYPE_I8, 1, d22));
    t->n_int32_data = 2, t->int32_data = big;
    expect_fail(m, AU_RANGE, "initializer 'q': int32_data[1] = 300 does not fit int8");

    m = mk_tiny();
    set_raw(add_init(m, mk_tensor("W", AU_DTYPE_F32, 1, d22)), f3, 8);
    set_raw(add_init(m, mk_tensor("W", AU_DTYPE_F32, 1, d22)), f3, 8);
    expect_fail(m, AU_FORMAT, "initializer 'W' is defined twice");

    m = mk_tiny();
    set_raw(add_init(m, mk_tensor(NULL, AU_DTYPE_F32, 1, d22)), f3, 8);
    expect_fail(m, AU_FORMAT, "initializer #0 has no name");

    m = mk_tiny();
    t = add_init(m, mk_tensor("W", AU_DTYPE_F32, 1, d22));
    t->has_data_location = 1, t->data_location = 7;
    expect_fail(m, AU_FORMAT, "initializer 'W': unknown data_location 7");

    m = mk_tiny();
    Onnx__SparseTensorProto *sp = tb_new(sizeof(*sp));
    onnx__sparse_tensor_proto__init(sp);
    sp->values = mk_tensor("sp", AU_DTYPE_F32, 1, d22);
    PUSH(m->graph->sparse_initializer, m->graph->n_sparse_initializer, sp);
    expect_fail(m, AU_UNSUPPORTED, "sparse initializer 'sp' is not supported");
}

static void test_onnx_refuses_bad_attributes(void)
{
    Onnx__ModelProto *m = mk_tiny();
    add_attr(m->graph->node[0], "then_branch", 5 /* GRAPH */);
    expect_fail(m, AU_UNSUPPORTED, "node 'relu1' attribute 'then_branch': graph attributes");
    m = mk_tiny();
    add_attr(m->graph->node[0], "branches", 10 /* GRAPHS */);
    expect_fail(m, AU_UNSUPPORTED, "node 'relu1' attribute 'branches': graph attributes");

    m = mk_tiny();
    add_attr(m->graph->node[0], "x", 0);
    expect_fail(m, AU_FORMAT, "node 'relu1' attribute 'x': no type");

    m = mk_tiny();
    add_attr(m->graph->node[0], "ts", 9 /* TENSORS */);
    expect_fail(m, AU_UNSUPPORTED, "attribute type 9 is not supported");

    m = mk_tiny();
    add_attr(m->graph->node[0], "value", AU_ATTR_TENSOR);
    expect_fail(m, AU_FORMAT, "TENSOR attribute without a tensor");

    m = mk_tiny();
    const int64_t d2[1] = {2};
    const float f1 = 1;
    set_raw(add_attr(m->graph->node[0], "value", AU_ATTR_TENSOR)->t =
                mk_tensor(NULL, AU_DTYPE_F32, 1, d2),
            &f1, sizeof(f1));
    expect_fail(m, AU_SHAPE, "node 'relu1' attribute 'value': raw_data is 4 bytes");

    m = mk_tiny();
    add_attr(m->graph->node[0], "k", AU_ATTR_INT);
    add_attr(m->graph->node[0], "k", AU_ATTR_INT);
    expect_fail(m, AU_FORMAT, "node 'relu1': attribute 'k' appears twice");

    m = mk_tiny();
    add_attr(m->graph->node[0], "", AU_ATTR_INT);
    expect_fail(m, AU_FORMAT, "node 'relu1': attribute without a name");
}

/* ---- hostile bytes: truncations and flips never crash; failures say why ---- */

static void load_any(const uint8_t *buf, size_t len, int *n_ok)
{
    struct au_graph *g = NULL;
    struct au_diag d = {{0}};
    int rc = au_onnx_load_buffer(buf, len, tmpdir, "fuzz.onnx", &g, &d);
    if (rc == AU_OK) {
        CHECK(g != NULL);
        (*n_ok)++;
        au_graph_free(g);
        return;
    }
    CHECK(rc < 0 && g == NULL);
    CHECK(strncmp(d.msg, "fuzz.onnx: ", 11) == 0 && one_line(d.msg));
}

static void test_onnx_truncations_fail_cleanly(void)
{
    Onnx__ModelProto *m = mk_mlp();
    size_t full_len, core_len;
    uint8_t *core = pack(m, &core_len);
    (void)core;
    /* metadata_props (field 14) packs last: cutting exactly before it is a valid model. */
    Onnx__StringStringEntryProto *kv = tb_new(sizeof(*kv));
    onnx__string_string_entry_proto__init(kv);
    kv->key = tb_str("author"), kv->value = tb_str("test");
    PUSH(m->metadata_props, m->n_metadata_props, kv);
    uint8_t *full = pack(m, &full_len);
    int n_ok = 0;
    for (size_t len = 0; len < core_len; len++) {
        /* Copy so ASan sees reads past the cut. */
        uint8_t *cut = malloc(len ? len : 1);
        memcpy(cut, full, len);
        int before = n_ok;
        load_any(cut, len, &n_ok);
        if (n_ok != before)
            fprintf(stderr, "  truncation at %zu of %zu loaded\n", len, full_len);
        CHECK_EQ_INT(n_ok, before);
        free(cut);
    }
    load_any(full, core_len, &n_ok);
    load_any(full, full_len, &n_ok);
    CHECK_EQ_INT(n_ok, 2);
}

static void test_onnx_byte_flips_never_crash(void)
{
    size_t len;
    uint8_t *orig = pack(mk_mlp(), &len);
    uint8_t *buf = malloc(len);
    struct au_pcg32 rng;
    au_pcg32_seed(&rng, check_seed(), 7);
    int n_ok = 0, n_iter = 3000;
    for (int it = 0; it < n_iter; it++) {
        memcpy(buf, orig, len);
        int n_flips = 1 + (int)(au_pcg32_next(&rng) % 4);
        for (int k = 0; k < n_flips; k++) {
            size_t at = au_pcg32_next(&rng) % len;
            if (au_pcg32_next(&rng) & 1)
                buf[at] ^= (uint8_t)(1u << (au_pcg32_next(&rng) % 8));
            else
                buf[at] = (uint8_t)au_pcg32_next(&rng);
        }
        load_any(buf, len, &n_ok);
    }
    free(buf);
    /* Some flips only touch float payloads; most break structure. Both must occur. */
    CHECK(n_ok > 0 && n_ok < n_iter);
    printf("byte flips: %d of %d mutated models still loaded\n", n_ok, n_iter);
}

/* Graph attributes nest graphs in graphs; a deep nest must not recurse the parser into a
 * stack overflow (the proto subset leaves subgraph fields out, so they are skipped). */
static void prepend_len(uint8_t *buf, size_t *pos, unsigned field, size_t len)
{
    uint8_t tmp[16];
    int n = 0;
    tmp[n++] = (uint8_t)(field << 3 | 2);
    do {
        tmp[n++] = (uint8_t)((len & 0x7f) | (len > 0x7f ? 0x80 : 0));
        len >>= 7;
    } while (len);
    *pos -= (size_t)n;
    memcpy(buf + *pos, tmp, (size_t)n);
}

static void test_onnx_deeply_nested_subgraphs_do_not_overflow(void)
{
    const size_t depth = 200000, cap = depth * 16 + 64;
    uint8_t *buf = malloc(cap);
    size_t pos = cap;
    for (size_t i = 0; i < depth; i++) {
        prepend_len(buf, &pos, 6, cap - pos); /* AttributeProto.g */
        prepend_len(buf, &pos, 5, cap - pos); /* NodeProto.attribute */
        prepend_len(buf, &pos, 1, cap - pos); /* GraphProto.node */
    }
    prepend_len(buf, &pos, 7, cap - pos); /* ModelProto.graph */
    struct au_graph *g = NULL;
    struct au_diag d;
    int rc = au_onnx_load_buffer(buf + pos, cap - pos, NULL, "deep.onnx", &g, &d);
    CHECK(rc < 0 && g == NULL);
    CHECK(has(&d, "deep.onnx: "));
    free(buf);
}

/* Allocation failure at every site, protobuf-c's included: AU_NOMEM, no leak. */
static void test_onnx_alloc_failure_at_every_site(void)
{
    size_t len;
    uint8_t *buf = pack(mk_mlp(), &len);
    int n_nomem = 0;
    for (long n = 1;; n++) {
        struct au_graph *g = NULL;
        struct au_diag d;
        au_alloc_fail_after(n);
        int rc = au_onnx_load_buffer(buf, len, NULL, "mem.onnx", &g, &d);
        au_alloc_fail_after(0);
        if (rc == AU_OK) {
            au_graph_free(g);
            break;
        }
        CHECK_EQ_INT(rc, AU_NOMEM);
        CHECK(g == NULL && strncmp(d.msg, "mem.onnx: ", 10) == 0);
        if (rc != AU_NOMEM) {
            fprintf(stderr, "  site %ld: %s\n", n, d.msg);
            break;
        }
        n_nomem++;
    }
    CHECK(n_nomem > 20);
}

/* ---- external data: inside the model's directory only ---- */

static Onnx__TensorProto *ext_tensor(Onnx__ModelProto *m, const char *loc, const char *off,
                                     const char *len)
{
    const int64_t wd[2] = {4, 3};
    Onnx__TensorProto *t = add_init(m, mk_tensor("W", AU_DTYPE_F32, 2, wd));
    t->has_data_location = 1;
    t->data_location = 1;
    const char *kv[3][2] = {{"location", loc}, {"offset", off}, {"length", len}};
    for (int i = 0; i < 3; i++) {
        if (!kv[i][1])
            continue;
        Onnx__StringStringEntryProto *e = tb_new(sizeof(*e));
        onnx__string_string_entry_proto__init(e);
        e->key = tb_str(kv[i][0]), e->value = tb_str(kv[i][1]);
        PUSH(t->external_data, t->n_external_data, e);
    }
    return t;
}

static void expect_ext_fail(const char *loc, const char *off, const char *len, int st,
                            const char *needle)
{
    Onnx__ModelProto *m = mk_tiny();
    ext_tensor(m, loc, off, len);
    struct au_graph *g = NULL;
    struct au_diag d;
    int rc = save_load_at(m, tmp_path("m/model.onnx"), &g, &d);
    CHECK_EQ_INT(rc, st);
    CHECK(g == NULL && one_line(d.msg));
    CHECK(has(&d, "m/model.onnx: initializer 'W': "));
    CHECK(has(&d, needle));
    if (!rc)
        au_graph_free(g);
}

static void test_onnx_external_data(void)
{
    /* m/w.bin: 4096 bytes of padding then W; m/sub/w2.bin: W at offset 0. */
    uint8_t blob[4096 + sizeof(W_vals)];
    memset(blob, 0xAB, 4096);
    memcpy(blob + 4096, W_vals, sizeof(W_vals));
    mkdir(tmp_path("m"), 0700);
    mkdir(tmp_path("m/sub"), 0700);
    write_file(tmp_path("m/w.bin"), blob, sizeof(blob));
    write_file(tmp_path("m/sub/w2.bin"), W_vals, sizeof(W_vals));
    write_file(tmp_path("outside.bin"), W_vals, sizeof(W_vals));
    unlink(tmp_path("m/link.bin"));
    CHECK(symlink("../outside.bin", tmp_path("m/link.bin")) == 0);
    unlink(tmp_path("m/inlink.bin"));
    CHECK(symlink("sub/w2.bin", tmp_path("m/inlink.bin")) == 0);

    const char *good[][3] = {{"w.bin", "4096", "48"},
                             {"w.bin", "4096", NULL},
                             {"sub/w2.bin", NULL, NULL},
                             {"./sub/../sub/w2.bin", "0", "48"},
                             {"inlink.bin", NULL, "48"}};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        Onnx__ModelProto *m = mk_tiny();
        ext_tensor(m, good[i][0], good[i][1], good[i][2]);
        struct au_graph *g = NULL;
        struct au_diag d;
        int rc = save_load_at(m, tmp_path("m/model.onnx"), &g, &d);
        CHECK_EQ_INT(rc, AU_OK);
        if (rc) {
            fprintf(stderr, "  %s: %s\n", good[i][0], d.msg);
            continue;
        }
        const struct au_value *w = value(g, "W");
        CHECK(w && memcmp(w->t.data, W_vals, sizeof(W_vals)) == 0);
        au_graph_free(g);
    }
    /* The same from a relative model path: the directory is relative too. */
    char cwd[512];
    CHECK(getcwd(cwd, sizeof(cwd)) != NULL && chdir(tmp_path("m")) == 0);
    Onnx__ModelProto *m = mk_tiny();
    ext_tensor(m, "w.bin", "4096", "48");
    struct au_graph *g = NULL;
    struct au_diag d;
    CHECK_EQ_INT(save_load_at(m, "model.onnx", &g, &d), AU_OK);
    au_graph_free(g);
    CHECK(chdir(cwd) == 0);

    char abs[600];
    snprintf(abs, sizeof(abs), "%s", tmp_path("m/w.bin"));
    expect_ext_fail(abs, NULL, NULL, AU_INVALID, "external data path '/");
    expect_ext_fail(abs, NULL, NULL, AU_INVALID, "is absolute");
    expect_ext_fail("../outside.bin", NULL, NULL, AU_INVALID,
                    "external data path '../outside.bin' resolves outside the model directory");
    expect_ext_fail("link.bin", NULL, NULL, AU_INVALID, "'link.bin' resolves outside");
    expect_ext_fail("sub/../../outside.bin", NULL, NULL, AU_INVALID, "resolves outside");
    expect_ext_fail("nothere.bin", NULL, NULL, AU_IO, "external data file 'nothere.bin'");
    expect_ext_fail("sub", NULL, NULL, AU_IO, "'sub' is not a readable regular file");
    expect_ext_fail("w.bin", "4097", NULL, AU_RANGE, "offset 4097 + 48 bytes exceeds its 4144");
    expect_ext_fail("w.bin", "99999999999", NULL, AU_RANGE, "exceeds");
    expect_ext_fail("w.bin", "4096", "40", AU_SHAPE, "external data length 40, dims need 48");
    expect_ext_fail("w.bin", "-1", NULL, AU_FORMAT, "external data offset '-1' is not");
    expect_ext_fail("w.bin", "12x", NULL, AU_FORMAT, "offset '12x'");
    expect_ext_fail("w.bin", NULL, "", AU_FORMAT, "length ''");
    expect_ext_fail(NULL, "0", NULL, AU_FORMAT, "external data has no location");

    /* From a buffer without a directory, external data cannot be resolved. */
    m = mk_tiny();
    ext_tensor(m, "w.bin", "4096", NULL);
    size_t len;
    uint8_t *buf = pack(m, &len);
    CHECK_EQ_INT(au_onnx_load_buffer(buf, len, NULL, "mem", &g, &d), AU_UNSUPPORTED);
    CHECK(has(&d, "mem: initializer 'W': external data 'w.bin' needs a model directory"));
    CHECK_EQ_INT(au_onnx_load_buffer(buf, len, tmp_path("m"), "mem", &g, &d), AU_OK);
    au_graph_free(g);
}

/* ---- the shared LeNet-5 export (PyTorch, opset 13) ---- */

static void test_onnx_loads_shared_lenet5(void)
{
    const char *shared = getenv("AURUM_SHARED");
    char path[1024];
    snprintf(path, sizeof(path), "%s/peers/lenet5_fmnist.onnx", shared ? shared : "");
    if (!shared || access(path, R_OK) != 0) {
        printf("SKIP lenet5: %s not found (AURUM_SHARED unset or file absent)\n", path);
        return;
    }
    struct au_graph *g = NULL;
    struct au_diag d;
    int rc = au_onnx_load(path, &g, &d);
    CHECK_EQ_INT(rc, AU_OK);
    if (rc) {
        fprintf(stderr, "  %s\n", d.msg);
        return;
    }
    /* conv-relu-pool x2, flatten, (gemm-relu) x2, gemm */
    static const char *const ops[] = {"Conv",    "Relu", "MaxPool", "Conv", "Relu", "MaxPool",
                                      "Flatten", "Gemm", "Relu",    "Gemm", "Relu", "Gemm"};
    int n = au_graph_n_nodes(g);
    CHECK_EQ_INT(n, 12);
    for (int i = 0; i < n && i < 12; i++)
        CHECK(strcmp(au_graph_node(g, i)->op_type, ops[i]) == 0);
    CHECK_EQ_INT(au_graph_n_inputs(g), 1);
    CHECK_EQ_INT(au_graph_n_outputs(g), 1);
    const struct au_value *x = au_graph_value(g, au_graph_input_value(g, 0));
    CHECK(x->t.n_dims == 4 && x->t.ne[1] == 1 && x->t.ne[2] == 28 && x->t.ne[3] == 28);
    int64_t n_params = 0;
    for (int i = 0; i < au_graph_n_values(g); i++) {
        const struct au_value *v = au_graph_value(g, i);
        if (v->flags & AU_VALUE_INITIALIZER)
            n_params += au_tensor_numel(&v->t);
    }
    CHECK_EQ_INT(n_params, 61706); /* models/lenet5.json */
    au_graph_free(g);
}

int main(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof(tmpdir), "%s/aurum_onnx_XXXXXX", t && t[0] ? t : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    void (*const tests[])(void) = {
        test_onnx_mlp_structure_and_initializers,
        test_onnx_mlp_runs_with_dynamic_batch,
        test_onnx_softmax_follows_its_opset,
        test_onnx_every_dtype_and_encoding,
        test_onnx_attribute_kinds,
        test_onnx_refuses_bad_files,
        test_onnx_refuses_bad_graphs,
        test_onnx_refuses_bad_inputs,
        test_onnx_refuses_bad_initializers,
        test_onnx_refuses_bad_attributes,
        test_onnx_truncations_fail_cleanly,
        test_onnx_byte_flips_never_crash,
        test_onnx_deeply_nested_subgraphs_do_not_overflow,
        test_onnx_alloc_failure_at_every_site,
        test_onnx_external_data,
        test_onnx_loads_shared_lenet5,
    };
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        tests[i]();
        tb_reset();
    }
    free(tb_ptrs);
    const char *files[] = {"model.onnx", "junk.onnx",    "empty.onnx",   "m/model.onnx", "m/w.bin",
                           "m/link.bin", "m/inlink.bin", "m/sub/w2.bin", "outside.bin",  "m/sub",
                           "m"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        remove(tmp_path(files[i]));
    rmdir(tmpdir);
    return check_report("test_onnx");
}

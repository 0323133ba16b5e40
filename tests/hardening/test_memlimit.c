/* Resource limits: the allocator's memory cap (core/alloc.c) and what a parser does when
 * a file's declared shapes need more than it. A refused request must surface as one
 * line and a negative status from the loader, never as an abort or an OOM kill; shapes
 * whose element count overflows must be refused before any allocation. ONNX models
 * are hand-encoded here (protobuf wire format) so the test needs no model files. */
#include "../check.h"
#include "core/alloc.h"
#include "core/graph.h"
#include "core/npy.h"
#include "core/onnx.h"

#include <string.h>
#include <unistd.h>

/* ---- a tiny protobuf writer: enough for ModelProto { graph { Relu } } ---- */
struct pb {
    uint8_t b[4096];
    size_t n;
};

static void pb_varint(struct pb *p, uint64_t v)
{
    do {
        uint8_t byte = v & 0x7f;
        v >>= 7;
        p->b[p->n++] = byte | (v ? 0x80 : 0);
    } while (v);
}

static void pb_int(struct pb *p, int field, uint64_t v)
{
    pb_varint(p, (uint64_t)field << 3);
    pb_varint(p, v);
}

static void pb_bytes(struct pb *p, int field, const void *data, size_t len)
{
    pb_varint(p, (uint64_t)field << 3 | 2);
    pb_varint(p, len);
    memcpy(p->b + p->n, data, len);
    p->n += len;
}

static void pb_str(struct pb *p, int field, const char *s)
{
    pb_bytes(p, field, s, strlen(s));
}

static void pb_msg(struct pb *p, int field, const struct pb *m)
{
    pb_bytes(p, field, m->b, m->n);
}

/* ValueInfoProto name: float tensor of shape (N, dims...). */
static void value_info(struct pb *out, int field, const char *name, const int64_t *dims, int n)
{
    struct pb shape = {0}, tt = {0}, type = {0}, vi = {0}, dim = {0};
    pb_str(&dim, 2, "N");
    pb_msg(&shape, 1, &dim);
    for (int i = 0; i < n; i++) {
        dim.n = 0;
        pb_int(&dim, 1, (uint64_t)dims[i]);
        pb_msg(&shape, 1, &dim);
    }
    pb_int(&tt, 1, 1); /* FLOAT */
    pb_msg(&tt, 2, &shape);
    pb_msg(&type, 1, &tt);
    pb_str(&vi, 1, name);
    pb_msg(&vi, 2, &type);
    pb_msg(out, field, &vi);
}

/* x (N, dims) -> Relu -> y, opset 13. */
static void relu_model(struct pb *m, const int64_t *dims, int n)
{
    struct pb node = {0}, graph = {0}, opset = {0};
    pb_str(&node, 1, "x");
    pb_str(&node, 2, "y");
    pb_str(&node, 3, "relu0");
    pb_str(&node, 4, "Relu");
    pb_msg(&graph, 1, &node);
    pb_str(&graph, 2, "g");
    value_info(&graph, 11, "x", dims, n);
    value_info(&graph, 12, "y", dims, n);
    pb_str(&opset, 1, "");
    pb_int(&opset, 2, 13);
    m->n = 0;
    pb_int(m, 1, 7);
    pb_msg(m, 7, &graph);
    pb_msg(m, 8, &opset);
}

static bool one_line(const struct au_diag *d)
{
    return d->msg[0] && !strchr(d->msg, '\n');
}

static void test_parse_size_accepts_suffixes_and_names_bad_values(void)
{
    struct au_diag d = {{0}};
    size_t n = 0;
    CHECK_EQ_INT(au_alloc_parse_size("4096", "x", &n, &d), AU_OK);
    CHECK_EQ_U64(n, 4096);
    CHECK_EQ_INT(au_alloc_parse_size("512K", "x", &n, &d), AU_OK);
    CHECK_EQ_U64(n, 512u << 10);
    CHECK_EQ_INT(au_alloc_parse_size("64MiB", "x", &n, &d), AU_OK);
    CHECK_EQ_U64(n, 64u << 20);
    CHECK_EQ_INT(au_alloc_parse_size("2g", "x", &n, &d), AU_OK);
    CHECK_EQ_U64(n, (size_t)2 << 30);
    CHECK_EQ_INT(au_alloc_parse_size("0", "x", &n, &d), AU_OK);
    CHECK_EQ_U64(n, 0);
    const char *bad[] = {"", "-1", " 5", "12Q", "1.5G", "M", "10MM", "0x10"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        d.msg[0] = '\0';
        CHECK_EQ_INT(au_alloc_parse_size(bad[i], "--memory-limit", &n, &d), AU_INVALID);
        CHECK(one_line(&d) && strstr(d.msg, "--memory-limit"));
    }
    CHECK_EQ_INT(au_alloc_parse_size("99999999999999999999", "x", &n, &d), AU_OVERFLOW);
    CHECK_EQ_INT(au_alloc_parse_size("20000000T", "x", &n, &d), AU_OVERFLOW);
}

static void test_cap_refuses_single_requests_above_it(void)
{
    au_alloc_set_limit(1 << 20);
    CHECK_EQ_U64(au_alloc_limit(), 1 << 20);
    void *small = au_malloc(1 << 19);
    CHECK(small != NULL);
    CHECK(au_malloc((1 << 20) + 1) == NULL);
    CHECK_EQ_U64(au_alloc_last_refused(), (1 << 20) + 1);
    CHECK(au_malloc_aligned(2 << 20) == NULL);
    CHECK(au_calloc(1 << 11, 1 << 10) == NULL); /* 2 MiB in n * size */
    CHECK(au_calloc(SIZE_MAX / 2, 4) == NULL);  /* product overflows */
    void *same = au_realloc(small, 4 << 20);
    CHECK(same == NULL); /* refused; small is still ours */
    memset(small, 1, 1 << 19);
    void *grown = au_realloc(small, 1 << 20);
    CHECK(grown != NULL);
    au_free(grown ? grown : small);
    au_alloc_set_limit(0);
    void *big = au_malloc(4 << 20); /* no cap: the same request is fine */
    CHECK(big != NULL);
    au_free(big);
}

static void test_env_limit_is_parsed_and_typos_are_reported(void)
{
    struct au_diag d = {{0}};
    setenv("AURUM_MEMORY_LIMIT", "3M", 1);
    CHECK_EQ_INT(au_alloc_limit_from_env(&d), AU_OK);
    CHECK_EQ_U64(au_alloc_limit(), 3u << 20);
    setenv("AURUM_MEMORY_LIMIT", "3 GB", 1);
    CHECK_EQ_INT(au_alloc_limit_from_env(&d), AU_INVALID);
    CHECK(one_line(&d) && strstr(d.msg, "AURUM_MEMORY_LIMIT") && strstr(d.msg, "3 GB"));
    unsetenv("AURUM_MEMORY_LIMIT");
    CHECK_EQ_INT(au_alloc_limit_from_env(&d), AU_OK);
    CHECK_EQ_U64(au_alloc_limit(), 0);
}

static void test_npy_larger_than_the_cap_is_one_line_error(void)
{
    char path[256];
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof(path), "%s/au_memlimit_%d.npy", tmp ? tmp : "/tmp", (int)getpid());
    struct au_array a = {0};
    struct au_diag d = {{0}};
    int64_t ne[2] = {1024, 1024}; /* 4 MiB of float32 */
    CHECK_EQ_INT(au_array_alloc(&a, AU_DTYPE_F32, 2, ne, &d), AU_OK);
    memset(a.t.data, 0, au_tensor_nbytes(&a.t));
    CHECK_EQ_INT(au_npy_write(path, &a.t, &d), AU_OK);
    au_array_fini(&a);
    au_alloc_set_limit(1 << 20);
    int rc = au_npy_read(path, &a, &d);
    printf("npy over the cap: %s\n", d.msg);
    CHECK_EQ_INT(rc, AU_NOMEM);
    CHECK(one_line(&d) && a.t.data == NULL);
    CHECK(au_alloc_last_refused() >= (size_t)4 << 20);
    au_alloc_set_limit(8 << 20);
    CHECK_EQ_INT(au_npy_read(path, &a, &d), AU_OK);
    CHECK_EQ_INT(a.t.ne[0], 1024);
    au_array_fini(&a);
    au_alloc_set_limit(0);
    unlink(path);
}

static void test_onnx_activations_over_the_cap_fail_in_prepare(void)
{
    static struct pb m;
    struct au_diag d = {{0}};
    struct au_graph *g = NULL;
    int64_t dims[2] = {1024, 1024}; /* 4 MiB per activation at batch 1 */
    relu_model(&m, dims, 2);
    CHECK_EQ_INT(au_onnx_load_buffer(m.b, m.n, NULL, "big.onnx", &g, &d), AU_OK);
    if (!g)
        return;
    au_alloc_set_limit(1 << 20);
    int rc = au_graph_prepare(g, 1, 0, &d);
    printf("onnx over the cap: %s\n", d.msg);
    CHECK_EQ_INT(rc, AU_NOMEM);
    CHECK(one_line(&d));
    au_graph_free(g);
    /* The same model fits under a larger cap: the cap, not the model, was the reason. */
    au_alloc_set_limit(64 << 20);
    g = NULL;
    CHECK_EQ_INT(au_onnx_load_buffer(m.b, m.n, NULL, "big.onnx", &g, &d), AU_OK);
    CHECK_EQ_INT(au_graph_prepare(g, 1, 0, &d), AU_OK);
    au_graph_free(g);
    au_alloc_set_limit(0);
}

static void test_onnx_overflowing_dims_are_refused_before_allocating(void)
{
    static struct pb m;
    const int64_t cases[][3] = {
        {(int64_t)1 << 40, (int64_t)1 << 40, 1}, /* product overflows int64 */
        {INT64_MAX, 2, 1},
        {(int64_t)1 << 30, (int64_t)1 << 30, 4}, /* numel fits, bytes do not */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        struct au_diag d = {{0}};
        struct au_graph *g = NULL;
        relu_model(&m, cases[i], 3);
        int rc = au_onnx_load_buffer(m.b, m.n, NULL, "huge.onnx", &g, &d);
        if (rc == AU_OK) {
            rc = au_graph_prepare(g, 1, 0, &d);
            au_graph_free(g);
        }
        printf("overflowing dims %zu: %s\n", i, d.msg);
        CHECK(rc < 0 && one_line(&d));
    }
}

int main(void)
{
    test_parse_size_accepts_suffixes_and_names_bad_values();
    test_cap_refuses_single_requests_above_it();
    test_env_limit_is_parsed_and_typos_are_reported();
    test_npy_larger_than_the_cap_is_one_line_error();
    test_onnx_activations_over_the_cap_fail_in_prepare();
    test_onnx_overflowing_dims_are_refused_before_allocating();
    return check_report("test_memlimit");
}

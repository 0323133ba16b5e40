/* Tests for core/dataset.c: conversion of uint8 images (normalisation, channel dim),
 * token ids and labels to what a model input wants; mismatch errors that name the
 * file and both shapes; batches copied without allocation and zero-padded at the end;
 * the real Fashion-MNIST files when installed; allocation failures at every site. */
#include "check.h"
#include "core/alloc.h"
#include "core/dataset.h"

#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define FMNIST "/usr/share/datasets/fashion-mnist"

static char tmpdir[256];

static const char *tmp_path(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof(buf[k]), "%s/%s", tmpdir, name);
    return buf[k];
}

/* Writes an .npy of dtype/shape holding data, through the library writer. */
static const char *npy(const char *name, int dtype, int n_dims, const int64_t *ne, const void *data)
{
    struct au_tensor t;
    struct au_diag d = {""};
    au_tensor_set_shape(&t, dtype, n_dims, ne);
    t.data = (void *)data;
    CHECK_EQ_INT(au_npy_write(tmp_path(name), &t, &d), AU_OK);
    return tmp_path(name);
}

static struct au_dataset_input input(const char *name, int dtype, int n_dims, int64_t a, int64_t b,
                                     int64_t c)
{
    struct au_dataset_input in = {name, dtype, n_dims, {a, b, c}};
    return in;
}

static bool msg_is(const struct au_diag *d, const char *path, const char *rest)
{
    char want[700];
    snprintf(want, sizeof(want), "%s: %s", path, rest);
    if (strcmp(d->msg, want) != 0) {
        fprintf(stderr, "  got  '%s'\n  want '%s'\n", d->msg, want);
        return false;
    }
    return true;
}

static void test_dataset_u8_images_normalised_with_channel_dim(void)
{
    static const int64_t ne[3] = {3, 4, 5};
    uint8_t pix[60];
    for (int i = 0; i < 60; i++)
        pix[i] = (uint8_t)(i * 17 + 3);
    const char *p = npy("img.npy", AU_DTYPE_U8, 3, ne, pix);
    struct au_tensor model = {AU_DTYPE_F32, 4, {-1, 1, 4, 5}, NULL};
    struct au_dataset_input in;
    struct au_dataset_opts o = {.n_norm = 1, .mean = {0.5f}, .std = {0.25f}};
    struct au_dataset ds;
    struct au_diag d = {""};
    au_dataset_input_from_tensor(&in, "input", &model);
    CHECK(in.n_dims == 3 && in.ne[0] == 1 && in.ne[2] == 5 && in.dtype == AU_DTYPE_F32);
    CHECK_EQ_INT(au_dataset_load(&ds, p, &in, &o, &d), AU_OK);
    CHECK(ds.n == 3 && ds.sample_nbytes == 20 * sizeof(float));
    CHECK(ds.x.t.dtype == AU_DTYPE_F32 && ds.x.t.n_dims == 4 && ds.x.t.ne[0] == 3 &&
          ds.x.t.ne[1] == 1 && ds.x.t.ne[2] == 4 && ds.x.t.ne[3] == 5);
    for (int i = 0; i < 60 && ds.x.t.data; i++) /* bit-exact: same float ops as torchvision */
        CHECK(((float *)ds.x.t.data)[i] == ((float)pix[i] / 255.0f - 0.5f) / 0.25f);
    au_dataset_fini(&ds);
    CHECK(ds.x.t.data == NULL && ds.n == 0);

    CHECK_EQ_INT(au_dataset_load(&ds, p, &in, NULL, &d), AU_OK); /* defaults 0, 1 */
    CHECK(ds.x.t.data && ((float *)ds.x.t.data)[1] == (float)pix[1] / 255.0f);
    CHECK_NEAR(ds.x.t.data ? ((float *)ds.x.t.data)[59] : -1, pix[59] / 255.0, 1e-7);
    au_dataset_fini(&ds);
}

static void test_dataset_per_channel_mean_std(void)
{
    static const int64_t ne[4] = {2, 3, 2, 2};
    uint8_t pix[24];
    for (int i = 0; i < 24; i++)
        pix[i] = (uint8_t)(255 - i * 9);
    const char *p = npy("rgb.npy", AU_DTYPE_U8, 4, ne, pix);
    struct au_dataset_input in = input("x", AU_DTYPE_F32, 3, 3, 2, 2);
    struct au_dataset_opts o = {.n_norm = 3, .mean = {0.1f, 0.2f, 0.3f}, .std = {1, 2, 4}};
    struct au_dataset ds;
    struct au_diag d = {""};
    CHECK_EQ_INT(au_dataset_load(&ds, p, &in, &o, &d), AU_OK);
    for (int i = 0; i < 24 && ds.x.t.data; i++) {
        int c = (i / 4) % 3;
        CHECK(((float *)ds.x.t.data)[i] == ((float)pix[i] / 255.0f - o.mean[c]) / o.std[c]);
    }
    au_dataset_fini(&ds);
    o.n_norm = 2;
    CHECK_EQ_INT(au_dataset_load(&ds, p, &in, &o, &d), AU_INVALID);
    CHECK(msg_is(&d, p, "2 mean/std values for 3 channels of input 'x'"));
    o.n_norm = 1;
    o.std[0] = 0;
    CHECK_EQ_INT(au_dataset_load(&ds, p, &in, &o, &d), AU_INVALID);
    CHECK(strstr(d.msg, "std > 0") != NULL);
    o.std[0] = 1;
    o.mean[0] = NAN;
    CHECK_EQ_INT(au_dataset_load(&ds, p, &in, &o, &d), AU_INVALID);
    o.mean[0] = 0;
    o.limit = -1;
    CHECK_EQ_INT(au_dataset_load(&ds, p, &in, &o, &d), AU_INVALID);
    CHECK(msg_is(&d, p, "limit -1 is negative") && ds.x.t.data == NULL);
}

static void test_dataset_token_ids_widen_and_range_check(void)
{
    static const int64_t ne[2] = {2, 3};
    static const int32_t ids32[6] = {0, 1, -5, 70000, 2147483647, 42};
    static const int64_t ids64[6] = {1, 2, 3, 4, 1LL << 31, 6};
    struct au_dataset_input in = input("ids", AU_DTYPE_I64, 1, 3, 0, 0);
    struct au_dataset ds;
    struct au_diag d = {""};
    const char *p32 = npy("ids32.npy", AU_DTYPE_I32, 2, ne, ids32);
    CHECK_EQ_INT(au_dataset_load(&ds, p32, &in, NULL, &d), AU_OK);
    CHECK(ds.x.t.dtype == AU_DTYPE_I64 && ds.n == 2 && ds.sample_nbytes == 24);
    for (int i = 0; i < 6 && ds.x.t.data; i++)
        CHECK_EQ_INT(((int64_t *)ds.x.t.data)[i], ids32[i]);
    au_dataset_fini(&ds);
    const char *p64 = npy("ids64.npy", AU_DTYPE_I64, 2, ne, ids64);
    CHECK_EQ_INT(au_dataset_load(&ds, p64, &in, NULL, &d), AU_OK);
    CHECK(ds.x.t.data && !memcmp(ds.x.t.data, ids64, sizeof(ids64)));
    au_dataset_fini(&ds);
    in.dtype = AU_DTYPE_I32; /* narrowing is checked, element by element */
    CHECK_EQ_INT(au_dataset_load(&ds, p64, &in, NULL, &d), AU_RANGE);
    CHECK(msg_is(&d, p64, "value 2147483648 at element 4 does not fit int32"));
    CHECK(ds.x.t.data == NULL);
    CHECK_EQ_INT(au_dataset_load(&ds, p32, &in, NULL, &d), AU_OK);
    au_dataset_fini(&ds);
}

static void test_dataset_float_casts_and_wildcard_dims(void)
{
    static const int64_t ne[3] = {2, 3, 2};
    static const double f64[12] = {0.5, -1.25, 3, 4, 5, 6, 7, 8, 9, 10, 11, 1e-3};
    struct au_dataset_input in = input("x", AU_DTYPE_F32, 2, -1, 2, 0);
    struct au_dataset ds;
    struct au_diag d = {""};
    const char *p = npy("f64.npy", AU_DTYPE_F64, 3, ne, f64);
    CHECK_EQ_INT(au_dataset_load(&ds, p, &in, NULL, &d), AU_OK);
    CHECK(ds.x.t.ne[1] == 3 && ds.x.t.ne[2] == 2 && ds.sample_nbytes == 24);
    for (int i = 0; i < 12 && ds.x.t.data; i++)
        CHECK(((float *)ds.x.t.data)[i] == (float)f64[i]);
    au_dataset_fini(&ds);
}

static void test_dataset_mismatch_errors_name_file_and_shapes(void)
{
    static const int64_t ne[4] = {2, 3, 32, 32}, ne_f[2] = {2, 2}, ne_b[2] = {2, 1};
    static uint8_t pix[2 * 3 * 32 * 32];
    static const float f[4] = {1, 2, 3, 4};
    struct au_dataset_input in = input("input", AU_DTYPE_F32, 3, 1, 28, 28);
    struct au_dataset ds;
    struct au_diag d = {""};
    const char *p = npy("x.npy", AU_DTYPE_U8, 4, ne, pix);
    CHECK_EQ_INT(au_dataset_load(&ds, p, &in, NULL, &d), AU_SHAPE);
    CHECK(msg_is(&d, p, "sample shape [3,32,32] does not match model input 'input' [1,28,28]"));
    in = input("input", AU_DTYPE_F32, 3, -1, 28, 28);
    CHECK_EQ_INT(au_dataset_load(&ds, p, &in, NULL, &d), AU_SHAPE);
    CHECK(msg_is(&d, p, "sample shape [3,32,32] does not match model input 'input' [?,28,28]"));
    in = input("ids", AU_DTYPE_I64, 1, 2, 0, 0);
    const char *pf = npy("f.npy", AU_DTYPE_F32, 2, ne_f, f);
    CHECK_EQ_INT(au_dataset_load(&ds, pf, &in, NULL, &d), AU_DTYPE);
    CHECK(msg_is(&d, pf, "dtype float32 cannot feed model input 'ids' (int64)"));
    in = input("x", AU_DTYPE_F32, 1, 1, 0, 0);
    const char *pb = npy("b.npy", AU_DTYPE_BOOL, 2, ne_b, "\1\0");
    CHECK_EQ_INT(au_dataset_load(&ds, pb, &in, NULL, &d), AU_DTYPE);
    in.dtype = AU_DTYPE_BOOL; /* same dtype is always fine */
    CHECK_EQ_INT(au_dataset_load(&ds, pb, &in, NULL, &d), AU_OK);
    au_dataset_fini(&ds);
    const char *ps = npy("s.npy", AU_DTYPE_F32, 0, ne, f);
    CHECK_EQ_INT(au_dataset_load(&ds, ps, &in, NULL, &d), AU_SHAPE);
    CHECK(msg_is(&d, ps, "a scalar has no sample dimension"));
    const int64_t ne0[2] = {0, 2};
    const char *pe = npy("e.npy", AU_DTYPE_F32, 2, ne0, f);
    in = input("x", AU_DTYPE_F32, 1, 2, 0, 0);
    CHECK_EQ_INT(au_dataset_load(&ds, pe, &in, NULL, &d), AU_FORMAT);
    CHECK(msg_is(&d, pe, "contains no samples") && ds.x.t.data == NULL);
    in.n_dims = AU_MAX_DIMS;
    CHECK_EQ_INT(au_dataset_load(&ds, pf, &in, NULL, &d), AU_INVALID);
}

static void test_dataset_limit_keeps_first_samples(void)
{
    static const int64_t ne[2] = {3, 2};
    static const float f[6] = {1, 2, 3, 4, 5, 6};
    struct au_dataset_input in = input("x", AU_DTYPE_F32, 1, 2, 0, 0);
    struct au_dataset_opts o = {.limit = 2};
    struct au_dataset ds;
    struct au_diag d = {""};
    const char *p = npy("lim.npy", AU_DTYPE_F32, 2, ne, f);
    CHECK_EQ_INT(au_dataset_load(&ds, p, &in, &o, &d), AU_OK);
    CHECK(ds.n == 2 && ds.x.t.ne[0] == 2 && ds.x.t.data && !memcmp(ds.x.t.data, f, 16));
    au_dataset_fini(&ds);
    o.limit = 10;
    CHECK_EQ_INT(au_dataset_load(&ds, p, &in, &o, &d), AU_OK);
    CHECK(ds.n == 3);
    au_dataset_fini(&ds);
}

/* Batches of 2 over 5 samples: [0,2) [2,4) [4,5)+zeros; canaries after the buffer. */
static void test_dataset_copy_batch_pads_short_last_batch(void)
{
    static const int64_t ne[2] = {5, 3};
    int32_t v[15];
    for (int i = 0; i < 15; i++)
        v[i] = 100 + i;
    struct au_dataset_input in = input("x", AU_DTYPE_I32, 1, 3, 0, 0);
    struct au_dataset ds;
    struct au_diag d = {""};
    int32_t buf[2 * 3 + 4];
    CHECK_EQ_INT(au_dataset_load(&ds, npy("b.npy", AU_DTYPE_I32, 2, ne, v), &in, NULL, &d), AU_OK);
    for (int64_t s = 0; s < ds.n; s += 2) {
        int64_t count = ds.n - s < 2 ? ds.n - s : 2;
        for (int i = 0; i < 10; i++)
            buf[i] = -1;
        CHECK_EQ_INT(au_dataset_copy_batch(&ds, s, count, buf, 2, &d), AU_OK);
        for (int i = 0; i < 6; i++)
            CHECK_EQ_INT(buf[i], i < count * 3 ? v[s * 3 + i] : 0);
        for (int i = 6; i < 10; i++)
            CHECK_EQ_INT(buf[i], -1); /* canary */
    }
    CHECK_EQ_INT(au_dataset_copy_batch(&ds, 4, 2, buf, 2, &d), AU_INVALID);
    CHECK(strncmp(d.msg, "dataset: samples [4, 4+2)", 25) == 0);
    CHECK_EQ_INT(au_dataset_copy_batch(&ds, 0, 3, buf, 2, &d), AU_INVALID);
    CHECK_EQ_INT(au_dataset_copy_batch(&ds, -1, 1, buf, 2, &d), AU_INVALID);
    CHECK_EQ_INT(au_dataset_copy_batch(&ds, 0, 1, buf, 0, &d), AU_INVALID);
    CHECK_EQ_INT(au_dataset_copy_batch(&ds, 0, 1, NULL, 2, &d), AU_INVALID);
    CHECK_EQ_INT(au_dataset_copy_batch(&ds, 5, 0, buf, 1, &d), AU_OK);
    CHECK_EQ_INT(buf[0], 0);
    au_dataset_fini(&ds);
}

static void test_dataset_labels_from_npy(void)
{
    static const int64_t n4[1] = {4}, n41[2] = {4, 1}, n22[2] = {2, 2};
    static const int64_t l64[4] = {3, 0, 9, 1};
    static const int32_t l32[4] = {3, 0, 9, -1};
    static const float lf[4] = {0};
    struct au_array a;
    struct au_diag d = {""};
    CHECK_EQ_INT(au_dataset_load_labels(&a, npy("l64.npy", AU_DTYPE_I64, 1, n4, l64), 0, &d),
                 AU_OK);
    CHECK(a.t.dtype == AU_DTYPE_I64 && a.t.n_dims == 1 && a.t.ne[0] == 4);
    CHECK(a.t.data && !memcmp(a.t.data, l64, sizeof(l64)));
    au_array_fini(&a);
    CHECK_EQ_INT(
        au_dataset_load_labels(&a, npy("u8.npy", AU_DTYPE_U8, 2, n41, "\3\0\x09\1"), 3, &d), AU_OK);
    CHECK(a.t.n_dims == 1 && a.t.ne[0] == 3 && a.t.data && !memcmp(a.t.data, l64, 24));
    au_array_fini(&a);
    const char *p = npy("l32.npy", AU_DTYPE_I32, 1, n4, l32);
    CHECK_EQ_INT(au_dataset_load_labels(&a, p, 0, &d), AU_RANGE);
    CHECK(msg_is(&d, p, "label -1 of sample 3 is negative") && a.t.data == NULL);
    CHECK_EQ_INT(au_dataset_load_labels(&a, p, 3, &d), AU_OK); /* the bad one is cut off */
    au_array_fini(&a);
    p = npy("lf.npy", AU_DTYPE_F32, 1, n4, lf);
    CHECK_EQ_INT(au_dataset_load_labels(&a, p, 0, &d), AU_DTYPE);
    CHECK(msg_is(&d, p, "labels must be int64, int32 or uint8, not float32"));
    p = npy("l22.npy", AU_DTYPE_I64, 2, n22, l64);
    CHECK_EQ_INT(au_dataset_load_labels(&a, p, 0, &d), AU_SHAPE);
    CHECK(msg_is(&d, p, "labels must be [N] or [N,1], not [2,2]"));
    CHECK_EQ_INT(au_dataset_load_labels(&a, p, -2, &d), AU_INVALID);
}

static void put(const char *path, bool gz, const void *buf, size_t n)
{
    if (gz) {
        gzFile g = gzopen(path, "wb");
        CHECK(g && gzwrite(g, buf, (unsigned)n) == (int)n && gzclose(g) == Z_OK);
        return;
    }
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(buf, 1, n, f) == n);
    if (f)
        fclose(f);
}

static void test_dataset_sniffs_npy_idx_and_rejects_others(void)
{
    static const unsigned char idx[] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2,
                                        0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8};
    static const unsigned char lab[] = {0, 0, 8, 1, 0, 0, 0, 2, 7, 5};
    struct au_dataset_input in = input("x", AU_DTYPE_F32, 3, 1, 2, 2);
    struct au_dataset ds;
    struct au_array a;
    struct au_diag d = {""};
    put(tmp_path("i.idx"), false, idx, sizeof(idx));
    CHECK_EQ_INT(au_dataset_load(&ds, tmp_path("i.idx"), &in, NULL, &d), AU_OK);
    CHECK(ds.n == 2 && ds.x.t.n_dims == 4 && ds.x.t.data &&
          ((float *)ds.x.t.data)[7] == 8.0f / 255.0f);
    au_dataset_fini(&ds);
    put(tmp_path("l.idx.gz"), true, lab, sizeof(lab));
    CHECK_EQ_INT(au_dataset_load_labels(&a, tmp_path("l.idx.gz"), 0, &d), AU_OK);
    CHECK(a.t.ne[0] == 2 && au_tensor_get_i64(&a.t, 0) == 7 && au_tensor_get_i64(&a.t, 1) == 5);
    au_array_fini(&a);
    static const int64_t n1[1] = {1};
    const char *p = npy("z.npy", AU_DTYPE_U8, 1, n1, "\1");
    unsigned char raw[256];
    FILE *f = fopen(p, "rb");
    size_t n = f ? fread(raw, 1, sizeof(raw), f) : 0;
    if (f)
        fclose(f);
    put(tmp_path("z.npy.gz"), true, raw, n);
    CHECK_EQ_INT(au_dataset_read_array(tmp_path("z.npy.gz"), -1, &a, &d), AU_UNSUPPORTED);
    CHECK(
        msg_is(&d, tmp_path("z.npy.gz"), "gzip-compressed .npy is not supported (decompress it)"));
    put(tmp_path("t.txt"), false, "hello", 5);
    CHECK_EQ_INT(au_dataset_read_array(tmp_path("t.txt"), -1, &a, &d), AU_FORMAT);
    CHECK(msg_is(&d, tmp_path("t.txt"), "not a .npy or IDX file"));
    put(tmp_path("empty"), false, "", 0);
    CHECK_EQ_INT(au_dataset_read_array(tmp_path("empty"), -1, &a, &d), AU_FORMAT);
    CHECK_EQ_INT(au_dataset_read_array(tmp_path("nope"), -1, &a, &d), AU_IO);
    CHECK(msg_is(&d, tmp_path("nope"), "cannot open: No such file or directory"));
    CHECK_EQ_INT(au_dataset_read_array(tmpdir, -1, &a, &d), AU_IO);
    CHECK(a.t.data == NULL);
}

/* Every prefix of a gzip IDX file, through the sniffing entry point: a named error. */
static void test_dataset_truncated_gzip_never_crashes(void)
{
    static const unsigned char lab[] = {0, 0, 8, 1, 0, 0, 0, 5, 1, 2, 3, 4, 5};
    unsigned char gz[256];
    size_t n = 0;
    put(tmp_path("lab.gz"), true, lab, sizeof(lab));
    FILE *f = fopen(tmp_path("lab.gz"), "rb");
    n = f ? fread(gz, 1, sizeof(gz), f) : 0;
    if (f)
        fclose(f);
    CHECK(n > 20);
    for (size_t len = 0; len < n; len++) {
        struct au_array a;
        struct au_diag d = {""};
        const char *p = tmp_path("cut.gz");
        put(p, false, gz, len);
        int st = au_dataset_load_labels(&a, p, 0, &d);
        CHECK(st < 0 && strncmp(d.msg, p, strlen(p)) == 0 && a.t.data == NULL);
        if (st >= 0)
            fprintf(stderr, "  len %zu accepted\n", len);
        au_array_fini(&a);
    }
}

static void test_dataset_fashion_mnist_as_model_input(void)
{
    struct au_dataset_input in = input("input", AU_DTYPE_F32, 3, 1, 28, 28);
    struct au_dataset_opts o = {.limit = 100, .n_norm = 1, .mean = {0.2860f}, .std = {0.3530f}};
    struct au_dataset ds;
    struct au_array raw, lab;
    struct au_diag d = {""};
    if (access(FMNIST "/t10k-images-idx3-ubyte.gz", R_OK) != 0) {
        printf("test_dataset: %s not installed, real-data checks skipped\n", FMNIST);
        return;
    }
    CHECK_EQ_INT(au_dataset_load(&ds, FMNIST "/t10k-images-idx3-ubyte.gz", &in, &o, &d), AU_OK);
    CHECK(ds.n == 100 && ds.x.t.ne[1] == 1 && ds.sample_nbytes == 784 * sizeof(float));
    CHECK_EQ_INT(au_dataset_read_array(FMNIST "/t10k-images-idx3-ubyte.gz", 100, &raw, &d), AU_OK);
    for (int64_t i = 0; raw.t.data && ds.x.t.data && i < 100 * 784; i += 97)
        CHECK(((float *)ds.x.t.data)[i] ==
              ((float)((uint8_t *)raw.t.data)[i] / 255.0f - 0.2860f) / 0.3530f);
    au_array_fini(&raw);
    au_dataset_fini(&ds);
    CHECK_EQ_INT(au_dataset_load_labels(&lab, FMNIST "/t10k-labels-idx1-ubyte.gz", 100, &d), AU_OK);
    CHECK(lab.t.ne[0] == 100 && au_tensor_get_i64(&lab.t, 0) == 9);
    au_array_fini(&lab);
}

static void test_dataset_allocation_failure_at_every_site(void)
{
    static const int64_t ne[3] = {2, 2, 2};
    static const uint8_t pix[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const char *p = npy("af.npy", AU_DTYPE_U8, 3, ne, pix);
    struct au_dataset_input in = input("x", AU_DTYPE_F32, 3, 1, 2, 2);
    int st = AU_NOMEM, n_nomem = 0;
    for (long k = 1; k < 20 && st != AU_OK; k++) {
        struct au_dataset ds;
        struct au_diag d = {""};
        au_alloc_fail_after(k);
        st = au_dataset_load(&ds, p, &in, NULL, &d);
        au_alloc_fail_after(0);
        n_nomem += st == AU_NOMEM && ds.x.t.data == NULL && strstr(d.msg, "af.npy: ");
        au_dataset_fini(&ds);
    }
    CHECK_EQ_INT(st, AU_OK);
    CHECK_EQ_INT(n_nomem, 3); /* header text, raw data, converted data */
    st = AU_NOMEM;
    n_nomem = 0;
    for (long k = 1; k < 20 && st != AU_OK; k++) {
        struct au_array a;
        struct au_diag d = {""};
        au_alloc_fail_after(k);
        st = au_dataset_load_labels(&a, p, 0, &d);
        au_alloc_fail_after(0);
        n_nomem += st == AU_NOMEM && a.t.data == NULL;
        au_array_fini(&a);
    }
    CHECK_EQ_INT(st, AU_SHAPE); /* [2,2,2] are not labels: reached after every allocation */
    CHECK_EQ_INT(n_nomem, 2);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(tmpdir, sizeof(tmpdir), "%s/aurum_ds_XXXXXX", tmp ? tmp : "/tmp");
    CHECK(mkdtemp(tmpdir) != NULL);
    test_dataset_u8_images_normalised_with_channel_dim();
    test_dataset_per_channel_mean_std();
    test_dataset_token_ids_widen_and_range_check();
    test_dataset_float_casts_and_wildcard_dims();
    test_dataset_mismatch_errors_name_file_and_shapes();
    test_dataset_limit_keeps_first_samples();
    test_dataset_copy_batch_pads_short_last_batch();
    test_dataset_labels_from_npy();
    test_dataset_sniffs_npy_idx_and_rejects_others();
    test_dataset_truncated_gzip_never_crashes();
    test_dataset_fashion_mnist_as_model_input();
    test_dataset_allocation_failure_at_every_site();
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    CHECK(system(cmd) == 0);
    return check_report("test_dataset");
}

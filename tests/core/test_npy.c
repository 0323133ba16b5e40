/* Tests for core/npy.c: files written by NumPy (tests/data/npy, made by gen.py there)
 * read back with the right dtype, shape and values, and our writer reproduces them
 * byte for byte; every dtype round-trips; truncated, mutated and hand-crafted hostile
 * files fail with a named one-line error; allocation and disk failures are clean. */
#include "aurum/numsys.h"
#include "check.h"
#include "core/alloc.h"
#include "core/npy.h"

#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[256];
static char fixdir[512];

static const char *tmp_path(const char *name)
{
    static char buf[512];
    snprintf(buf, sizeof(buf), "%s/%s", tmpdir, name);
    return buf;
}

static const char *fix_path(const char *name)
{
    static char buf[700];
    snprintf(buf, sizeof(buf), "%s/%s", fixdir, name);
    return buf;
}

/* Whole file into a malloc'd buffer (test helper, plain malloc on purpose). */
static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    long len;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)len + 1);
        if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
            free(buf);
            buf = NULL;
        }
        *n = (size_t)len;
    }
    fclose(f);
    return buf;
}

static void spit(const char *path, const void *buf, size_t n)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        CHECK(fwrite(buf, 1, n, f) == n);
        fclose(f);
    }
}

static bool has_shape(const struct au_tensor *t, int dtype, int n_dims, int64_t a, int64_t b)
{
    return t->dtype == dtype && t->n_dims == n_dims && (n_dims < 1 || t->ne[0] == a) &&
           (n_dims < 2 || t->ne[1] == b);
}

static void test_npy_reads_numpy_fixtures_with_values(void)
{
    struct au_array a;
    struct au_diag d = {""};
    CHECK_EQ_INT(au_npy_read(fix_path("f32_2x3.npy"), &a, &d), AU_OK);
    CHECK(has_shape(&a.t, AU_DTYPE_F32, 2, 2, 3));
    for (int i = 0; i < 6 && a.t.data; i++)
        CHECK_NEAR(((float *)a.t.data)[i], i * 0.5 - 1, 0);
    au_array_fini(&a);
    CHECK(a.t.data == NULL);

    CHECK_EQ_INT(au_npy_read(fix_path("f64_scalar.npy"), &a, &d), AU_OK);
    CHECK(has_shape(&a.t, AU_DTYPE_F64, 0, 0, 0) && au_tensor_numel(&a.t) == 1);
    CHECK_NEAR(au_tensor_get_f64(&a.t, 0), 3.25, 0);
    au_array_fini(&a);

    CHECK_EQ_INT(au_npy_read(fix_path("i64_3.npy"), &a, &d), AU_OK);
    CHECK(has_shape(&a.t, AU_DTYPE_I64, 1, 3, 0));
    CHECK_EQ_INT(au_tensor_get_i64(&a.t, 0), -1);
    CHECK_EQ_INT(au_tensor_get_i64(&a.t, 2), 1LL << 40);
    au_array_fini(&a);

    CHECK_EQ_INT(au_npy_read(fix_path("i32_2x2.npy"), &a, &d), AU_OK);
    CHECK(has_shape(&a.t, AU_DTYPE_I32, 2, 2, 2));
    CHECK_EQ_INT(au_tensor_get_i64(&a.t, 0), -7);
    CHECK_EQ_INT(au_tensor_get_i64(&a.t, 2), 2147483647);
    CHECK_EQ_INT(au_tensor_get_i64(&a.t, 3), -2147483648LL);
    au_array_fini(&a);
}

static void test_npy_reads_byte_types_and_versions(void)
{
    struct au_array a;
    struct au_diag d = {""};
    CHECK_EQ_INT(au_npy_read(fix_path("u8_3.npy"), &a, &d), AU_OK);
    CHECK(has_shape(&a.t, AU_DTYPE_U8, 1, 3, 0) && au_tensor_get_i64(&a.t, 2) == 255);
    au_array_fini(&a);
    CHECK_EQ_INT(au_npy_read(fix_path("i8_3.npy"), &a, &d), AU_OK);
    CHECK(has_shape(&a.t, AU_DTYPE_I8, 1, 3, 0) && au_tensor_get_i64(&a.t, 0) == -128);
    au_array_fini(&a);
    CHECK_EQ_INT(au_npy_read(fix_path("bool_4.npy"), &a, &d), AU_OK);
    CHECK(has_shape(&a.t, AU_DTYPE_BOOL, 1, 4, 0));
    CHECK(a.t.data && !memcmp(a.t.data, "\1\0\0\1", 4));
    au_array_fini(&a);
    CHECK_EQ_INT(au_npy_read(fix_path("f32_0x3.npy"), &a, &d), AU_OK);
    CHECK(has_shape(&a.t, AU_DTYPE_F32, 2, 0, 3) && au_tensor_numel(&a.t) == 0);
    au_array_fini(&a);
    CHECK_EQ_INT(au_npy_read(fix_path("v2_f32_2.npy"), &a, &d), AU_OK);
    CHECK(has_shape(&a.t, AU_DTYPE_F32, 1, 2, 0));
    CHECK_NEAR(au_tensor_get_f64(&a.t, 1), -2.0, 0);
    au_array_fini(&a);
    CHECK_EQ_INT(au_npy_read(fix_path("v3_i64_2.npy"), &a, &d), AU_OK);
    CHECK(has_shape(&a.t, AU_DTYPE_I64, 1, 2, 0) && au_tensor_get_i64(&a.t, 1) == 6);
    au_array_fini(&a);
}

/* Our writer must produce exactly what NumPy's np.save wrote for the same array. */
static void test_npy_write_matches_numpy_bytes(void)
{
    static const char *names[] = {"f32_2x3.npy", "f64_scalar.npy", "i64_3.npy",
                                  "i32_2x2.npy", "u8_3.npy",       "i8_3.npy",
                                  "bool_4.npy",  "f32_0x3.npy",    "u8_2x1x2x2.npy"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        struct au_array a;
        struct au_diag d = {""};
        size_t n1 = 0, n2 = 0;
        CHECK_EQ_INT(au_npy_read(fix_path(names[i]), &a, &d), AU_OK);
        CHECK_EQ_INT(au_npy_write(tmp_path("copy.npy"), &a.t, &d), AU_OK);
        unsigned char *want = slurp(fix_path(names[i]), &n1);
        unsigned char *got = slurp(tmp_path("copy.npy"), &n2);
        CHECK(want && got && n1 == n2 && !memcmp(want, got, n1));
        if (!(want && got && n1 == n2 && !memcmp(want, got, n1)))
            fprintf(stderr, "  differs from NumPy: %s\n", names[i]);
        free(want);
        free(got);
        au_array_fini(&a);
    }
}

static void fill_random(void *p, size_t n, struct au_pcg32 *r)
{
    unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)au_pcg32_next(r);
}

static void roundtrip_one(int dtype, int n_dims, const int64_t *ne, struct au_pcg32 *r)
{
    struct au_array src, back;
    struct au_diag d = {""};
    CHECK_EQ_INT(au_array_alloc(&src, dtype, n_dims, ne, &d), AU_OK);
    size_t nbytes = au_tensor_nbytes(&src.t);
    fill_random(src.t.data, nbytes, r);
    if (dtype == AU_DTYPE_BOOL)
        for (size_t i = 0; i < nbytes; i++)
            ((unsigned char *)src.t.data)[i] &= 1;
    CHECK_EQ_INT(au_npy_write(tmp_path("rt.npy"), &src.t, &d), AU_OK);
    CHECK_EQ_INT(au_npy_read(tmp_path("rt.npy"), &back, &d), AU_OK);
    CHECK(au_tensor_same_shape(&src.t, &back.t) && back.t.dtype == dtype);
    CHECK(nbytes == 0 || (back.t.data && !memcmp(src.t.data, back.t.data, nbytes)));
    CHECK(((uintptr_t)back.t.data & 63) == 0);
    au_array_fini(&src);
    au_array_fini(&back);
}

static void test_npy_roundtrips_every_dtype_scalar_and_empty(void)
{
    static const int dtypes[] = {AU_DTYPE_F32, AU_DTYPE_F64, AU_DTYPE_I64, AU_DTYPE_I32,
                                 AU_DTYPE_U8,  AU_DTYPE_I8,  AU_DTYPE_BOOL};
    static const int64_t shapes[][8] = {{0}, {7}, {3, 5}, {2, 0, 4}, {1, 2, 1, 2, 1, 2, 1, 3}};
    static const int ndims[] = {0, 1, 2, 3, 8};
    struct au_pcg32 r;
    au_pcg32_seed(&r, check_seed(), 1);
    for (size_t i = 0; i < sizeof(dtypes) / sizeof(dtypes[0]); i++)
        for (size_t s = 0; s < sizeof(ndims) / sizeof(ndims[0]); s++)
            roundtrip_one(dtypes[i], ndims[s], shapes[s], &r);
    int64_t big[1] = {100000};
    roundtrip_one(AU_DTYPE_F32, 1, big, &r);
}

static bool msg_has(const struct au_diag *d, const char *a, const char *b)
{
    return strstr(d->msg, a) && (!b || strstr(d->msg, b)) && !strchr(d->msg, '\n');
}

static void test_npy_refuses_bigendian_fortran_f16_and_missing(void)
{
    struct au_array a;
    struct au_diag d = {""};
    CHECK_EQ_INT(au_npy_read(fix_path("bad_bigendian.npy"), &a, &d), AU_UNSUPPORTED);
    CHECK(msg_has(&d, "bad_bigendian.npy: descr", "big-endian"));
    CHECK(a.t.data == NULL);
    CHECK_EQ_INT(au_npy_read(fix_path("bad_fortran.npy"), &a, &d), AU_UNSUPPORTED);
    CHECK(msg_has(&d, "bad_fortran.npy: fortran_order", NULL));
    CHECK_EQ_INT(au_npy_read(fix_path("bad_f16.npy"), &a, &d), AU_UNSUPPORTED);
    CHECK(msg_has(&d, "bad_f16.npy: descr", "<f2"));
    CHECK_EQ_INT(au_npy_read(tmp_path("nope.npy"), &a, &d), AU_IO);
    CHECK(msg_has(&d, "nope.npy: cannot open", NULL));
    CHECK_EQ_INT(au_npy_read(tmpdir, &a, &d), AU_IO);
}

/* Every proper prefix of every fixture is refused (never a crash, never success). */
static void test_npy_truncated_at_every_length_fails(void)
{
    static const char *names[] = {"f32_2x3.npy", "v2_f32_2.npy", "bool_4.npy", "f64_scalar.npy"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        size_t n = 0;
        unsigned char *buf = slurp(fix_path(names[i]), &n);
        CHECK(buf != NULL);
        for (size_t len = 0; buf && len < n; len++) {
            struct au_array a;
            struct au_diag d = {""};
            int st = au_npy_read_mem(buf, len, "cut.npy", &a, &d);
            CHECK(st == AU_FORMAT && msg_has(&d, "cut.npy: ", NULL) && a.t.data == NULL);
            if (i == 0) { /* and through the file path for one of them */
                spit(tmp_path("cut.npy"), buf, len);
                CHECK_EQ_INT(au_npy_read(tmp_path("cut.npy"), &a, &d), AU_FORMAT);
                CHECK(strstr(d.msg, "cut.npy: ") != NULL);
            }
        }
        free(buf);
    }
}

/* A .npy image from a dict text (which carries its own newline) and raw data bytes. */
static size_t craft(unsigned char *out, int major, const char *dict, const void *data,
                    size_t n_data)
{
    size_t len = strlen(dict), off = major == 1 ? 10 : 12;
    memcpy(out, "\x93NUMPY", 6);
    out[6] = (unsigned char)major;
    out[7] = 0;
    for (size_t i = 0; i < off - 8; i++)
        out[8 + i] = (unsigned char)(len >> (8 * i));
    memcpy(out + off, dict, len);
    memcpy(out + off + len, data, n_data);
    return off + len + n_data;
}

struct hostile {
    const char *dict;
    size_t n_data;
    int status;
    const char *msg;
};

static const struct hostile hostile_cases[] = {
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", 8, AU_OK, ""},
    {"{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2,)}\n", 8, AU_OK, ""},
    {"{'shape':(2L,),'fortran_order':False,'descr':'<f4'}    \n", 8, AU_OK, ""},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1,), }\n", 8, AU_OK, ""},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}\n", 8, AU_FORMAT,
     "unknown key 'x'"},
    {"{'descr': '<f4', 'descr': '<f4', 'shape': (2,)}\n", 8, AU_FORMAT, "duplicate key 'descr'"},
    {"{'descr': '<f4', 'fortran_order': False}\n", 0, AU_FORMAT, "missing key 'shape'"},
    {"{}\n", 0, AU_FORMAT, "missing key 'descr'"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (2)}\n", 8, AU_FORMAT, "not a tuple"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}\n", 0, AU_FORMAT, "non-negative"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296)}\n", 0,
     AU_OVERFLOW, "too many elements"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}\n", 0, AU_OVERFLOW,
     "too large"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1)}\n", 4, AU_UNSUPPORTED,
     "more than 8 dims"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", 8, AU_FORMAT, "newline"},
    {"", 0, AU_FORMAT, "newline"},
    {"{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}\n", 8, AU_FORMAT, "True or False"},
    {"{'descr': '<U3', 'fortran_order': False, 'shape': (2,)}\n", 8, AU_UNSUPPORTED, "'<U3'"},
    {"{'descr': '', 'fortran_order': False, 'shape': (2,)}\n", 8, AU_UNSUPPORTED, "dtype ''"},
    {"{'descr': '=f4', 'fortran_order': False, 'shape': (2,)}\n", 8, AU_UNSUPPORTED, "'=f4'"},
    {"{'descr': '|f4', 'fortran_order': False, 'shape': (2,)}\n", 8, AU_UNSUPPORTED, "'|f4'"},
    {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}\n", 8, AU_FORMAT,
     "quoted descr"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x\n", 8, AU_FORMAT,
     "unexpected text"},
    {"{'descr': '<f4' 'fortran_order': False, 'shape': (2,)}\n", 8, AU_FORMAT, "or '}'"},
    {"{'descr: '<f4'}\n", 0, AU_FORMAT, "unknown key 'descr: '"},
    {"{'a_key_much_longer_than_any_valid_one': 1}\n", 0, AU_FORMAT, "bad or overlong key"},
    {"{'descr': '<f4\n", 0, AU_FORMAT, "unterminated descr"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}\n", 12, AU_FORMAT,
     "4 unexpected bytes"},
    {"{'descr': '<f4', 'fortran_order': False, 'shape': (3,)}\n", 8, AU_FORMAT,
     "header says 12 data bytes, file has 8"},
    {"{'descr': '|b1', 'fortran_order': False, 'shape': (3,)}\n", 3, AU_FORMAT, "not 0 or 1"},
    {"{'descr': '<f4', 'fortran_order': True, 'shape': (2,)}\n", 8, AU_UNSUPPORTED,
     "fortran_order"},
};

static void test_npy_hostile_headers_give_named_errors(void)
{
    static const unsigned char data[16] = {0, 0, 0x80, 0x3f, 0, 0, 0, 0x40, 1, 2, 3, 4};
    unsigned char img[512];
    for (size_t i = 0; i < sizeof(hostile_cases) / sizeof(hostile_cases[0]); i++) {
        const struct hostile *h = &hostile_cases[i];
        struct au_array a;
        struct au_diag d = {""};
        size_t n = craft(img, 1 + (int)(i % 2), h->dict, data, h->n_data);
        int st = au_npy_read_mem(img, n, "h.npy", &a, &d);
        CHECK_EQ_INT(st, h->status);
        CHECK(st == AU_OK || (msg_has(&d, "h.npy: ", h->msg) && a.t.data == NULL));
        if (st != h->status || (st && !strstr(d.msg, h->msg)))
            fprintf(stderr, "  case %zu: %s\n", i, d.msg);
        if (st == AU_OK)
            CHECK_NEAR(au_tensor_get_f64(&a.t, 1), 2.0, 0);
        au_array_fini(&a);
    }
}

static void test_npy_bad_preamble_is_refused(void)
{
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': ()}\n";
    unsigned char img[256];
    struct au_array a;
    struct au_diag d = {""};
    size_t n = craft(img, 1, dict, "\0\0\0\0", 4);
    img[6] = 4;
    CHECK_EQ_INT(au_npy_read_mem(img, n, "v.npy", &a, &d), AU_UNSUPPORTED);
    CHECK(msg_has(&d, "v.npy: ", "version 4.0"));
    img[6] = 1;
    img[7] = 1;
    CHECK_EQ_INT(au_npy_read_mem(img, n, "v.npy", &a, &d), AU_UNSUPPORTED);
    img[0] = 'N';
    CHECK_EQ_INT(au_npy_read_mem(img, n, "v.npy", &a, &d), AU_FORMAT);
    CHECK(msg_has(&d, "v.npy: not a .npy file", NULL));
    n = craft(img, 2, dict, "\0\0\0\0", 4);
    img[10] = 0x01; /* header length 65536 + len: over the cap */
    CHECK_EQ_INT(au_npy_read_mem(img, n, "v.npy", &a, &d), AU_FORMAT);
    CHECK(msg_has(&d, "v.npy: header length", "exceeds the limit"));
    img[10] = 0;
    img[11] = 0xff; /* ~4 GiB header length */
    CHECK_EQ_INT(au_npy_read_mem(img, n, "v.npy", &a, &d), AU_FORMAT);
    CHECK_EQ_INT(au_npy_read_mem(NULL, 0, NULL, &a, &d), AU_FORMAT);
    CHECK(msg_has(&d, "<memory>: ", NULL));
}

/* Random byte mutations of a valid file: any outcome but a crash or a bogus success. */
static void test_npy_random_mutations_never_crash(void)
{
    size_t n = 0;
    unsigned char *orig = slurp(fix_path("i32_2x2.npy"), &n), *buf = malloc(n + 1);
    struct au_pcg32 r;
    int n_ok = 0, n_err = 0;
    au_pcg32_seed(&r, check_seed(), 2);
    for (int it = 0; orig && buf && it < 20000; it++) {
        struct au_array a;
        struct au_diag d = {""};
        memcpy(buf, orig, n);
        int flips = 1 + (int)(au_pcg32_next(&r) % 4);
        for (int k = 0; k < flips; k++)
            buf[au_pcg32_next(&r) % n] = (unsigned char)au_pcg32_next(&r);
        int st = au_npy_read_mem(buf, n, "m.npy", &a, &d);
        if (st == AU_OK) {
            n_ok++;
            CHECK(au_tensor_nbytes(&a.t) <= n);
        } else {
            n_err++;
            CHECK(st < 0 && strncmp(d.msg, "m.npy: ", 7) == 0 && a.t.data == NULL);
        }
        au_array_fini(&a);
    }
    CHECK(n_ok > 0 && n_err > 0);
    free(orig);
    free(buf);
}

static void test_npy_read_head_keeps_first_rows(void)
{
    struct au_array a;
    struct au_diag d = {""};
    CHECK_EQ_INT(au_npy_read_head(fix_path("u8_2x1x2x2.npy"), 1, &a, &d), AU_OK);
    CHECK(has_shape(&a.t, AU_DTYPE_U8, 4, 1, 1) && a.t.ne[2] == 2 && a.t.ne[3] == 2);
    CHECK(a.t.data && !memcmp(a.t.data, "\0\1\2\3", 4));
    au_array_fini(&a);
    CHECK_EQ_INT(au_npy_read_head(fix_path("u8_2x1x2x2.npy"), 0, &a, &d), AU_OK);
    CHECK(has_shape(&a.t, AU_DTYPE_U8, 4, 0, 1) && au_tensor_numel(&a.t) == 0);
    au_array_fini(&a);
    CHECK_EQ_INT(au_npy_read_head(fix_path("u8_2x1x2x2.npy"), 9, &a, &d), AU_OK);
    CHECK(has_shape(&a.t, AU_DTYPE_U8, 4, 2, 1));
    au_array_fini(&a);
    CHECK_EQ_INT(au_npy_read_head(fix_path("f64_scalar.npy"), 0, &a, &d), AU_OK);
    CHECK(a.t.n_dims == 0 && au_tensor_numel(&a.t) == 1);
    au_array_fini(&a);
}

/* Each allocation site fails in turn: the result is AU_NOMEM with no leak, then OK. */
static void test_npy_allocation_failure_at_every_site(void)
{
    int n_nomem_read = 0, n_nomem_write = 0, st = AU_NOMEM;
    for (long k = 1; k < 20 && st != AU_OK; k++) {
        struct au_array a;
        struct au_diag d = {""};
        au_alloc_fail_after(k);
        st = au_npy_read(fix_path("f32_2x3.npy"), &a, &d);
        au_alloc_fail_after(0);
        if (st == AU_NOMEM && strstr(d.msg, "f32_2x3.npy: ") && a.t.data == NULL)
            n_nomem_read++;
        if (st == AU_OK) {
            st = AU_NOMEM;
            for (long j = 1; j < 20 && st != AU_OK; j++) {
                au_alloc_fail_after(j);
                st = au_npy_write(tmp_path("af.npy"), &a.t, &d);
                au_alloc_fail_after(0);
                n_nomem_write += st == AU_NOMEM;
            }
            CHECK_EQ_INT(st, AU_OK);
            au_array_fini(&a);
        }
    }
    CHECK_EQ_INT(n_nomem_read, 2);
    CHECK_EQ_INT(n_nomem_write, 1);
}

static void test_npy_write_rejects_bad_tensors_and_paths(void)
{
    float x[2] = {1, 2};
    struct au_tensor t = {AU_DTYPE_F32, 1, {2}, x};
    struct au_diag d = {""};
    CHECK_EQ_INT(au_npy_write(tmp_path("no/such/dir.npy"), &t, &d), AU_IO);
    CHECK(msg_has(&d, "dir.npy: cannot create", "No such file"));
    mkdir(tmp_path("isdir.npy"), 0700);
    CHECK_EQ_INT(au_npy_write(tmp_path("isdir.npy"), &t, &d), AU_IO);
    CHECK(msg_has(&d, "isdir.npy: write failed", NULL));
    CHECK(access(tmp_path("isdir.npy.tmp"), F_OK) != 0);
    t.ne[0] = -2;
    CHECK_EQ_INT(au_npy_write(tmp_path("w.npy"), &t, &d), AU_INVALID);
    t.ne[0] = 2;
    t.data = NULL;
    CHECK_EQ_INT(au_npy_write(tmp_path("w.npy"), &t, &d), AU_INVALID);
    t.dtype = AU_DTYPE_UNDEF;
    CHECK_EQ_INT(au_npy_write(tmp_path("w.npy"), &t, &d), AU_DTYPE);
    CHECK(msg_has(&d, "w.npy: dtype", NULL));
    CHECK(access(tmp_path("w.npy"), F_OK) != 0);
}

/* A disk that fills up mid-write (RLIMIT_FSIZE in a child): a clear AU_IO, the old
 * file untouched and no .tmp left behind. */
static void test_npy_full_disk_keeps_old_file(void)
{
    float small[1] = {42};
    struct au_tensor t = {AU_DTYPE_F32, 1, {1}, small};
    struct au_diag d = {""};
    CHECK_EQ_INT(au_npy_write(tmp_path("keep.npy"), &t, &d), AU_OK);
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit rl = {4096, 4096};
        static float big[100000];
        struct au_tensor bt = {AU_DTYPE_F32, 1, {100000}, big};
        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &rl);
        int st = au_npy_write(tmp_path("keep.npy"), &bt, &d);
        _exit(st == AU_IO && strstr(d.msg, "keep.npy: write failed: File too large") ? 0 : 1);
    }
    int ws = 0;
    CHECK(pid > 0 && waitpid(pid, &ws, 0) == pid);
    CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    struct au_array a;
    CHECK_EQ_INT(au_npy_read(tmp_path("keep.npy"), &a, &d), AU_OK);
    CHECK(au_tensor_numel(&a.t) == 1 && au_tensor_get_f64(&a.t, 0) == 42.0);
    au_array_fini(&a);
    CHECK(access(tmp_path("keep.npy.tmp"), F_OK) != 0);
}

int main(void)
{
    const char *root = getenv("AURUM_SOURCE_ROOT");
    snprintf(tmpdir, sizeof(tmpdir), "%s/aurum_npy_XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    CHECK(root != NULL && mkdtemp(tmpdir) != NULL);
    if (!root)
        return check_report("test_npy");
    snprintf(fixdir, sizeof(fixdir), "%s/tests/data/npy", root);
    test_npy_reads_numpy_fixtures_with_values();
    test_npy_reads_byte_types_and_versions();
    test_npy_write_matches_numpy_bytes();
    test_npy_roundtrips_every_dtype_scalar_and_empty();
    test_npy_refuses_bigendian_fortran_f16_and_missing();
    test_npy_truncated_at_every_length_fails();
    test_npy_hostile_headers_give_named_errors();
    test_npy_bad_preamble_is_refused();
    test_npy_random_mutations_never_crash();
    test_npy_read_head_keeps_first_rows();
    test_npy_allocation_failure_at_every_site();
    test_npy_write_rejects_bad_tensors_and_paths();
    test_npy_full_disk_keeps_old_file();
    /* Best-effort cleanup of the scratch directory. */
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    CHECK(system(cmd) == 0);
    return check_report("test_npy");
}

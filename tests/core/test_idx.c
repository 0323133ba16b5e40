/* Tests for core/idx.c: the real Fashion-MNIST test set when Debian's package is
 * installed (values checked against Python's gzip module), files the test writes
 * itself (plain and gzip via gzopen "wb") for every payload type, and truncated,
 * corrupt and hostile files, which must fail with a named error and no crash. */
#include "aurum/numsys.h"
#include "check.h"
#include "core/alloc.h"
#include "core/idx.h"

#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define FMNIST "/usr/share/datasets/fashion-mnist"

static char tmpdir[256];

static const char *tmp_path(const char *name)
{
    static char buf[2][512];
    static int k;
    k ^= 1;
    snprintf(buf[k], sizeof(buf[k]), "%s/%s", tmpdir, name);
    return buf[k];
}

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

/* Writes bytes to path, through zlib's gzip writer if gz. */
static void put(const char *path, bool gz, const void *buf, size_t n)
{
    if (gz) {
        gzFile g = gzopen(path, "wb");
        CHECK(g != NULL);
        if (g) {
            CHECK(n == 0 || gzwrite(g, buf, (unsigned)n) == (int)n);
            CHECK(gzclose(g) == Z_OK);
        }
        return;
    }
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        CHECK(fwrite(buf, 1, n, f) == n);
        fclose(f);
    }
}

/* An IDX image in buf: magic, big-endian dims, then payload bytes (already big-endian). */
static size_t idx_image(unsigned char *buf, int type, int n_dims, const uint32_t *dims,
                        const void *payload, size_t n_payload)
{
    size_t off = 4;
    buf[0] = buf[1] = 0;
    buf[2] = (unsigned char)type;
    buf[3] = (unsigned char)n_dims;
    for (int i = 0; i < n_dims; i++, off += 4) {
        buf[off] = (unsigned char)(dims[i] >> 24);
        buf[off + 1] = (unsigned char)(dims[i] >> 16);
        buf[off + 2] = (unsigned char)(dims[i] >> 8);
        buf[off + 3] = (unsigned char)dims[i];
    }
    memcpy(buf + off, payload, n_payload);
    return off + n_payload;
}

static void test_idx_reads_fashion_mnist_test_set(void)
{
    struct au_array img, lab, head;
    struct au_diag d = {""};
    if (access(FMNIST "/t10k-images-idx3-ubyte.gz", R_OK) != 0) {
        printf("test_idx: %s not installed, real-data checks skipped\n", FMNIST);
        return;
    }
    CHECK_EQ_INT(au_idx_read(FMNIST "/t10k-images-idx3-ubyte.gz", &img, &d), AU_OK);
    CHECK(img.t.dtype == AU_DTYPE_U8 && img.t.n_dims == 3 && img.t.ne[0] == 10000 &&
          img.t.ne[1] == 28 && img.t.ne[2] == 28);
    uint64_t sum0 = 0, sum = 0;
    for (int64_t i = 0; img.t.data && i < au_tensor_numel(&img.t); i++) {
        unsigned v = ((const uint8_t *)img.t.data)[i];
        sum += v;
        sum0 += i < 784 ? v : 0;
    }
    /* Sums computed independently with Python's gzip module. */
    CHECK_EQ_U64(sum0, 33456);
    CHECK_EQ_U64(sum, 573469082);
    CHECK_EQ_INT(au_idx_read_head(FMNIST "/t10k-images-idx3-ubyte.gz", 100, &head, &d), AU_OK);
    CHECK(head.t.ne[0] == 100 && head.t.data && img.t.data &&
          !memcmp(head.t.data, img.t.data, 100 * 784));
    au_array_fini(&head);
    au_array_fini(&img);

    CHECK_EQ_INT(au_idx_read(FMNIST "/t10k-labels-idx1-ubyte.gz", &lab, &d), AU_OK);
    CHECK(lab.t.dtype == AU_DTYPE_U8 && lab.t.n_dims == 1 && lab.t.ne[0] == 10000);
    CHECK_EQ_INT(au_tensor_get_i64(&lab.t, 0), 9);
    CHECK_EQ_INT(au_tensor_get_i64(&lab.t, 1), 2);
    int64_t max = 0, hist[10] = {0};
    for (int64_t i = 0; lab.t.data && i < 10000; i++) {
        int64_t v = au_tensor_get_i64(&lab.t, i);
        max = v > max ? v : max;
        hist[v % 10]++;
    }
    CHECK_EQ_INT(max, 9);
    for (int c = 0; c < 10; c++)
        CHECK_EQ_INT(hist[c], 1000); /* the test set is balanced */
    au_array_fini(&lab);
}

static void test_idx_u8_roundtrip_plain_and_gzip(void)
{
    static const uint32_t dims[3] = {3, 4, 5};
    unsigned char pix[60], buf[128];
    struct au_pcg32 r;
    au_pcg32_seed(&r, check_seed(), 3);
    for (int i = 0; i < 60; i++)
        pix[i] = (unsigned char)au_pcg32_next(&r);
    size_t n = idx_image(buf, 0x08, 3, dims, pix, sizeof(pix));
    for (int gz = 0; gz < 2; gz++) {
        struct au_array a;
        struct au_diag d = {""};
        put(tmp_path("u8.idx"), gz, buf, n);
        CHECK_EQ_INT(au_idx_read(tmp_path("u8.idx"), &a, &d), AU_OK);
        CHECK(a.t.dtype == AU_DTYPE_U8 && a.t.n_dims == 3 && a.t.ne[0] == 3 && a.t.ne[1] == 4 &&
              a.t.ne[2] == 5);
        CHECK(a.t.data && !memcmp(a.t.data, pix, sizeof(pix)));
        au_array_fini(&a);
        CHECK_EQ_INT(au_idx_read_head(tmp_path("u8.idx"), 2, &a, &d), AU_OK);
        CHECK(a.t.ne[0] == 2 && a.t.data && !memcmp(a.t.data, pix, 40));
        au_array_fini(&a);
        CHECK_EQ_INT(au_idx_read_head(tmp_path("u8.idx"), 0, &a, &d), AU_OK);
        CHECK(a.t.ne[0] == 0 && au_tensor_numel(&a.t) == 0);
        au_array_fini(&a);
    }
}

static void test_idx_multibyte_types_are_big_endian(void)
{
    static const unsigned char i32[8] = {0xff, 0xff, 0xff, 0xfe, 0x01, 0x02, 0x03, 0x04};
    static const unsigned char f32[4] = {0x3f, 0xc0, 0, 0};             /* 1.5 */
    static const unsigned char f64[8] = {0xbf, 0xd0, 0, 0, 0, 0, 0, 0}; /* -0.25 */
    static const unsigned char i8[2] = {0x80, 0x7f};
    uint32_t two = 2, one = 1;
    unsigned char buf[64];
    struct au_array a;
    struct au_diag d = {""};
    put(tmp_path("t.idx"), true, buf, idx_image(buf, 0x0C, 1, &two, i32, 8));
    CHECK_EQ_INT(au_idx_read(tmp_path("t.idx"), &a, &d), AU_OK);
    CHECK(a.t.dtype == AU_DTYPE_I32 && a.t.ne[0] == 2);
    CHECK_EQ_INT(au_tensor_get_i64(&a.t, 0), -2);
    CHECK_EQ_INT(au_tensor_get_i64(&a.t, 1), 0x01020304);
    au_array_fini(&a);
    put(tmp_path("t.idx"), false, buf, idx_image(buf, 0x0D, 1, &one, f32, 4));
    CHECK_EQ_INT(au_idx_read(tmp_path("t.idx"), &a, &d), AU_OK);
    CHECK(a.t.dtype == AU_DTYPE_F32 && au_tensor_get_f64(&a.t, 0) == 1.5);
    au_array_fini(&a);
    put(tmp_path("t.idx"), false, buf, idx_image(buf, 0x0E, 1, &one, f64, 8));
    CHECK_EQ_INT(au_idx_read(tmp_path("t.idx"), &a, &d), AU_OK);
    CHECK(a.t.dtype == AU_DTYPE_F64 && au_tensor_get_f64(&a.t, 0) == -0.25);
    au_array_fini(&a);
    put(tmp_path("t.idx"), false, buf, idx_image(buf, 0x09, 1, &two, i8, 2));
    CHECK_EQ_INT(au_idx_read(tmp_path("t.idx"), &a, &d), AU_OK);
    CHECK(a.t.dtype == AU_DTYPE_I8 && au_tensor_get_i64(&a.t, 0) == -128 &&
          au_tensor_get_i64(&a.t, 1) == 127);
    au_array_fini(&a);
}

static bool named_error(int st, const struct au_diag *d, const char *path, const char *what)
{
    size_t n = strlen(path);
    bool ok = st < 0 && !strncmp(d->msg, path, n) && d->msg[n] == ':' &&
              (!what || strstr(d->msg, what)) && !strchr(d->msg, '\n');
    if (!ok)
        fprintf(stderr, "  unexpected: %d '%s' (want '%s')\n", st, d->msg, what ? what : "");
    return ok;
}

/* Every proper prefix of a plain file and of its gzip form is refused. */
static void test_idx_truncated_at_every_length_fails(void)
{
    static const uint32_t dims[2] = {4, 6};
    unsigned char pix[24], buf[64];
    for (int i = 0; i < 24; i++)
        pix[i] = (unsigned char)(i * 7);
    size_t n = idx_image(buf, 0x08, 2, dims, pix, sizeof(pix)), n_gz = 0;
    put(tmp_path("full.gz"), true, buf, n);
    unsigned char *gz = slurp(tmp_path("full.gz"), &n_gz);
    CHECK(gz != NULL && n_gz > 20);
    for (size_t len = 0; len < n; len++) {
        struct au_array a;
        struct au_diag d = {""};
        put(tmp_path("cut.idx"), false, buf, len);
        CHECK(named_error(au_idx_read(tmp_path("cut.idx"), &a, &d), &d, tmp_path("cut.idx"), NULL));
        CHECK(a.t.data == NULL);
    }
    for (size_t len = 0; gz && len < n_gz; len++) {
        struct au_array a;
        struct au_diag d = {""};
        put(tmp_path("cut.gz"), false, gz, len);
        CHECK(named_error(au_idx_read(tmp_path("cut.gz"), &a, &d), &d, tmp_path("cut.gz"), NULL));
        CHECK(a.t.data == NULL);
    }
    free(gz);
}

struct idx_case {
    unsigned char magic[4];
    uint32_t dims[9];
    size_t n_payload;
    bool gz;
    int status;
    const char *msg;
};

static const struct idx_case idx_cases[] = {
    {{0, 0, 8, 1}, {5}, 5, false, AU_OK, NULL},
    {{0, 1, 8, 1}, {5}, 5, false, AU_FORMAT, "not an IDX file (magic 00010801)"},
    {{0, 0, 0x0B, 1}, {2}, 4, true, AU_UNSUPPORTED, "int16"},
    {{0, 0, 0x07, 1}, {2}, 4, false, AU_FORMAT, "unknown IDX data type 0x07"},
    {{0, 0, 8, 0}, {0}, 0, false, AU_FORMAT, "no dimensions"},
    {{0, 0, 8, 9}, {1, 1, 1, 1, 1, 1, 1, 1, 1}, 1, false, AU_UNSUPPORTED, "9 dims"},
    {{0, 0, 8, 2},
     {100000, 100000},
     8,
     false,
     AU_FORMAT,
     "header says 10000000000 data bytes, file has 8"},
    {{0, 0, 8, 2}, {100000, 100000}, 8, true, AU_FORMAT, "more than a"},
    {{0, 0, 0x0E, 4}, {65536, 65536, 65536, 65536}, 0, false, AU_OVERFLOW, "too many elements"},
    {{0, 0, 8, 1}, {5}, 6, false, AU_FORMAT, "unexpected bytes after the data"},
    {{0, 0, 8, 1}, {5}, 6, true, AU_FORMAT, "unexpected bytes after the data"},
    {{0, 0, 8, 1}, {5}, 4, true, AU_FORMAT, "header says 5 data bytes, got 4"},
    {{0, 0, 0x0C, 1}, {3}, 11, false, AU_FORMAT, "header says 12 data bytes, file has 11"},
};

static void test_idx_hostile_headers_give_named_errors(void)
{
    static unsigned char payload[64];
    unsigned char buf[128];
    for (size_t i = 0; i < sizeof(idx_cases) / sizeof(idx_cases[0]); i++) {
        const struct idx_case *c = &idx_cases[i];
        struct au_array a;
        struct au_diag d = {""};
        size_t n = idx_image(buf, c->magic[2], c->magic[3], c->dims, payload, c->n_payload);
        buf[1] = c->magic[1];
        put(tmp_path("h.idx"), c->gz, buf, n);
        int st = au_idx_read(tmp_path("h.idx"), &a, &d);
        CHECK_EQ_INT(st, c->status);
        CHECK(st == AU_OK || (named_error(st, &d, tmp_path("h.idx"), c->msg) && !a.t.data));
        au_array_fini(&a);
    }
}

static void test_idx_corrupt_gzip_and_bad_paths(void)
{
    static const uint32_t dims[1] = {300};
    unsigned char buf[400], pix[300] = {1, 2, 3};
    size_t n_gz = 0;
    struct au_array a;
    struct au_diag d = {""};
    put(tmp_path("c.gz"), true, buf, idx_image(buf, 0x08, 1, dims, pix, sizeof(pix)));
    unsigned char *gz = slurp(tmp_path("c.gz"), &n_gz);
    CHECK(gz != NULL && n_gz > 8);
    if (gz) {
        gz[n_gz - 8] ^= 0x55; /* CRC-32 in the gzip trailer */
        put(tmp_path("c.gz"), false, gz, n_gz);
        CHECK(named_error(au_idx_read(tmp_path("c.gz"), &a, &d), &d, tmp_path("c.gz"),
                          "corrupt gzip data"));
        gz[n_gz - 8] ^= 0x55;
        gz[n_gz / 2] ^= 0xff; /* inside the deflate stream */
        put(tmp_path("c.gz"), false, gz, n_gz);
        CHECK(named_error(au_idx_read(tmp_path("c.gz"), &a, &d), &d, tmp_path("c.gz"), NULL));
        CHECK(a.t.data == NULL);
    }
    free(gz);
    CHECK_EQ_INT(au_idx_read(tmp_path("missing.idx"), &a, &d), AU_IO);
    CHECK(named_error(AU_IO, &d, tmp_path("missing.idx"), "No such file"));
    CHECK_EQ_INT(au_idx_read(tmpdir, &a, &d), AU_IO);
    CHECK(named_error(AU_IO, &d, tmpdir, "not a regular file"));
}

static void test_idx_allocation_failure_at_every_site(void)
{
    static const uint32_t dims[2] = {2, 3};
    unsigned char buf[64];
    int st = AU_NOMEM, n_nomem = 0;
    put(tmp_path("af.idx"), true, buf, idx_image(buf, 0x08, 2, dims, "abcdef", 6));
    for (long k = 1; k < 10 && st != AU_OK; k++) {
        struct au_array a;
        struct au_diag d = {""};
        au_alloc_fail_after(k);
        st = au_idx_read(tmp_path("af.idx"), &a, &d);
        au_alloc_fail_after(0);
        if (st == AU_NOMEM && named_error(st, &d, tmp_path("af.idx"), NULL) && !a.t.data)
            n_nomem++;
        if (st == AU_OK)
            CHECK(a.t.data && !memcmp(a.t.data, "abcdef", 6));
        au_array_fini(&a);
    }
    CHECK_EQ_INT(st, AU_OK);
    CHECK_EQ_INT(n_nomem, 1);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(tmpdir, sizeof(tmpdir), "%s/aurum_idx_XXXXXX", tmp ? tmp : "/tmp");
    CHECK(mkdtemp(tmpdir) != NULL);
    test_idx_reads_fashion_mnist_test_set();
    test_idx_u8_roundtrip_plain_and_gzip();
    test_idx_multibyte_types_are_big_endian();
    test_idx_truncated_at_every_length_fails();
    test_idx_hostile_headers_give_named_errors();
    test_idx_corrupt_gzip_and_bad_paths();
    test_idx_allocation_failure_at_every_site();
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    CHECK(system(cmd) == 0);
    return check_report("test_idx");
}

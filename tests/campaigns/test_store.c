/* Tests of campaigns/store.c: schema and round trip, resume, batch atomicity, the summary
 * table and views against a two-pass reference, the statistics behind the SQL functions,
 * SHA-256 vectors, and the failure paths (missing directory, corrupt file, newer schema,
 * read-only file, full database, SIGKILL mid-batch, readers during writes). Files live in a
 * fresh mkdtemp directory; the raw sqlite3 connections stand for plain sqlite3 and pandas. */
#include "alloc.h"
#include "check.h"
#include "store.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
static const bool sanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
static const bool sanitized = true;
#else
static const bool sanitized = false;
#endif
#else
static const bool sanitized = false;
#endif

static char tmpdir[256];
static const char json_a[] = "{\"name\":\"a\",\"trials\":100}";

static uint64_t rng_state;
static uint64_t rnd(void) /* splitmix64: reproducible from AURUM_TEST_SEED */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static double unif(void)
{
    return (double)(rnd() >> 11) * 0x1.0p-53;
}

static void path_in(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tmpdir, name);
}

static void rm_db(const char *p)
{
    char b[512];
    unlink(p);
    snprintf(b, sizeof(b), "%s-wal", p);
    unlink(b);
    snprintf(b, sizeof(b), "%s-shm", p);
    unlink(b);
}

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A plain connection, without the au_* functions: what sqlite3 or pandas would see. */
static double raw_double(const char *path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    double v = NAN;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
            v = sqlite3_column_double(st, 0);
        sqlite3_finalize(st);
    } else {
        fprintf(stderr, "raw query failed: %s: %s\n", sql, sqlite3_errmsg(db));
    }
    sqlite3_close(db);
    return v;
}

static int raw_exec(const char *path, const char *sql)
{
    sqlite3 *db;
    int rc = sqlite3_open(path, &db);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}

static struct au_store_trial trial(int64_t id, int layer)
{
    struct au_store_trial t = {.trial_id = id,
                               .layer = layer,
                               .n_flips = 1,
                               .sample = id % 97,
                               .n_samples = 1,
                               .loss = 0.25,
                               .delta_loss = 0.01 * (double)(id % 7),
                               .outcome = AU_STORE_OUTCOME_BENIGN};
    return t;
}

static struct au_store_flip flip(int64_t id, int layer)
{
    struct au_store_flip f = {.trial_id = id,
                              .layer = layer,
                              .index = id * 3,
                              .bit = (int)(id % 32),
                              .field = "mant",
                              .before = 1.5,
                              .after = 1.75};
    return f;
}

/* Fill batch b of size n (trial ids b*n .. b*n+n-1), one flip each. */
static void fill_batch(struct au_store_trial *rows, struct au_store_flip *flips, int64_t b,
                       size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int64_t id = b * (int64_t)n + (int64_t)i;
        rows[i] = trial(id, (int)(id % 5));
        flips[i] = flip(id, (int)(id % 5));
    }
}

static au_store *new_store(const char *path, int64_t *cid)
{
    struct au_diag d = {{0}};
    au_store *s = NULL;
    struct au_store_campaign_info ci = {"a", json_a, "00ff", "0.1.0", 7, 0.95};
    rm_db(path);
    int rc = au_store_open(path, AU_STORE_CREATE, &s, &d);
    if (rc == AU_OK)
        rc = au_store_campaign_begin(s, &ci, cid, NULL, &d);
    if (rc < 0)
        fprintf(stderr, "new_store: %s\n", d.msg);
    CHECK(rc == AU_OK);
    return s;
}

static void test_stats_quantiles(void)
{
    CHECK_NEAR(au_store_z(0.95), 1.959963984540054, 1e-13);
    CHECK_NEAR(au_store_z(0.99), 2.5758293035489004, 1e-12);
    CHECK_NEAR(au_store_z(0.5), 0.6744897501960817, 1e-13);
    CHECK(isnan(au_store_z(1.0)) && isnan(au_store_z(0)) && isnan(au_store_z(NAN)));
    // Closed forms: df=1 is Cauchy, df=2 and df=4 have algebraic quantiles.
    const double levels[] = {0.5, 0.9, 0.95, 0.99, 0.999};
    for (int i = 0; i < 5; i++) {
        double p = 0.5 + levels[i] / 2, a = 4 * p * (1 - p);
        double q = cos(acos(sqrt(a)) / 3) / sqrt(a);
        CHECK_NEAR(au_store_t(levels[i], 1), tan(M_PI * (p - 0.5)), 1e-9 * tan(M_PI * (p - 0.5)));
        CHECK_NEAR(au_store_t(levels[i], 2), (2 * p - 1) * sqrt(2 / a), 1e-10);
        CHECK_NEAR(au_store_t(levels[i], 4), 2 * sqrt(q - 1), 1e-10);
    }
    CHECK_NEAR(au_store_t(0.95, 10), 2.228138851986274, 1e-10);
    CHECK_NEAR(au_store_t(0.95, 30), 2.042272456301238, 1e-10);
    CHECK_NEAR(au_store_t(0.99, 5), 4.032142983557536, 1e-9);
    CHECK_NEAR(au_store_t(0.95, 1e6), au_store_z(0.95), 1e-5);
    CHECK(au_store_t(0.95, 1e6) > au_store_z(0.95));
    double prev = INFINITY;
    for (double df = 1; df < 2000; df *= 1.7) { // decreasing in df, above z
        double t = au_store_t(0.95, df);
        CHECK(t < prev && t > au_store_z(0.95));
        prev = t;
    }
    // Continuous where the expansion for large df takes over from the continued fraction.
    CHECK_NEAR(au_store_t(0.95, 1999.999), au_store_t(0.95, 2000.001), 2e-9); // slope 6e-7
    CHECK(au_store_t(0.95, 1999.999) > au_store_t(0.95, 2000.001));
    CHECK(isnan(au_store_t(0.95, 0)) && isnan(au_store_t(1.5, 3)));
    double lo, hi;
    au_store_wilson(0, 10, 0.95, &lo, &hi);
    CHECK_NEAR(lo, 0, 1e-15);
    CHECK_NEAR(hi, 0.27753279986288, 1e-10); // z^2 / (n + z^2)
    au_store_wilson(5, 10, 0.95, &lo, &hi);
    CHECK_NEAR(lo, 0.2365930905, 1e-9);
    CHECK_NEAR(hi, 0.7634069095, 1e-9);
    au_store_wilson(0, 0, 0.95, &lo, &hi);
    CHECK(lo == 0 && hi == 1);
    au_store_wilson(11, 10, 0.95, &lo, &hi);
    CHECK(isnan(lo) && isnan(hi));
}

static void hash_case(const char *content, size_t len, size_t repeat, const char *want)
{
    char p[512], hex[65];
    path_in(p, sizeof(p), "hash.bin");
    FILE *f = fopen(p, "wb");
    for (size_t i = 0; f && i < repeat; i++)
        fwrite(content, 1, len, f);
    if (f)
        fclose(f);
    CHECK(au_store_hash_file(p, hex, NULL) == AU_OK);
    CHECK(!strcmp(hex, want));
    if (strcmp(hex, want))
        fprintf(stderr, "sha256 got %s want %s\n", hex, want);
    unlink(p);
}

static void test_sha256_vectors(void)
{
    hash_case("", 0, 1, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    hash_case("abc", 3, 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    hash_case("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, 1,
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    hash_case("a", 1, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    struct au_diag d = {{0}};
    char hex[65];
    CHECK(au_store_hash_file("/nonexistent/model.onnx", hex, &d) == AU_IO);
    CHECK(strstr(d.msg, "/nonexistent/model.onnx") != NULL);
}

static void test_open_errors(void)
{
    struct au_diag d = {{0}};
    au_store *s = (au_store *)&d;
    char p[512], bad_dir[600];
    path_in(p, sizeof(p), "missing_dir/x.db");
    CHECK(au_store_open(p, AU_STORE_CREATE, &s, &d) == AU_IO);
    CHECK(s == NULL && strstr(d.msg, "missing_dir") && strstr(d.msg, "does not exist"));
    path_in(p, sizeof(p), "absent.db");
    CHECK(au_store_open(p, 0, &s, &d) == AU_NOTFOUND);
    CHECK(strstr(d.msg, "absent.db") != NULL);
    // Not a database at all.
    path_in(p, sizeof(p), "garbage.db");
    FILE *f = fopen(p, "wb");
    for (int i = 0; f && i < 1024; i++)
        fputs("not a db", f);
    if (f)
        fclose(f);
    CHECK(au_store_open(p, 0, &s, &d) == AU_FORMAT);
    CHECK(strstr(d.msg, "garbage.db") && strstr(d.msg, "corrupt or not a database"));
    CHECK(au_store_open(p, AU_STORE_RDONLY, &s, &d) == AU_FORMAT);
    unlink(p);
    // Someone else's SQLite file.
    path_in(p, sizeof(p), "foreign.db");
    CHECK(raw_exec(p, "CREATE TABLE foo(x)") == SQLITE_OK);
    CHECK(au_store_open(p, 0, &s, &d) == AU_FORMAT);
    CHECK(strstr(d.msg, "foreign.db") && strstr(d.msg, "not an Aurum"));
    rm_db(p);
    // An empty file read-only is not a results database; writable, it gets the schema.
    path_in(p, sizeof(p), "empty.db");
    fclose(fopen(p, "wb"));
    CHECK(au_store_open(p, AU_STORE_RDONLY, &s, &d) == AU_FORMAT);
    CHECK(au_store_open(p, 0, &s, &d) == AU_OK);
    au_store_close(s);
    // Schema versions: newer refused with both numbers, missing refused.
    CHECK(raw_exec(p, "UPDATE meta SET value = '7' WHERE key = 'schema_version'") == SQLITE_OK);
    CHECK(au_store_open(p, 0, &s, &d) == AU_UNSUPPORTED);
    CHECK(strstr(d.msg, "empty.db") && strstr(d.msg, "version 7 is newer") && strstr(d.msg, "(1)"));
    CHECK(raw_exec(p, "DELETE FROM meta") == SQLITE_OK);
    CHECK(au_store_open(p, AU_STORE_RDONLY, &s, &d) == AU_FORMAT);
    CHECK(strstr(d.msg, "schema_version") != NULL);
    rm_db(p);
    snprintf(bad_dir, sizeof(bad_dir), "%s", tmpdir); // a directory is not a database file
    CHECK(au_store_open(bad_dir, 0, &s, &d) == AU_IO);
}

static void test_roundtrip_values(void)
{
    char p[512];
    path_in(p, sizeof(p), "round.db");
    rm_db(p);
    struct au_diag d = {{0}};
    au_store *s;
    int64_t cid;
    bool resumed = true;
    struct au_store_campaign_info ci = {"lenet", json_a, "abcd", "0.1.0", 0xfedcba9876543210ULL,
                                        0.99};
    CHECK(au_store_open(p, AU_STORE_CREATE, &s, &d) == AU_OK);
    CHECK(au_store_campaign_begin(s, &ci, &cid, &resumed, &d) == AU_OK && !resumed && cid > 0);
    struct au_store_layer l = {3,    "conv2", "Conv", 1000, 64, 32, "bfp(m=7)",
                               NULL, 8,       32,     8,    0,  4,  0};
    CHECK(au_store_layers_add(s, cid, &l, 1, &d) == AU_OK);
    CHECK(au_store_layers_add(s, cid, &l, 1, &d) == AU_OK); // idempotent for resume
    struct au_store_golden g[2] = {{0, 3, 0.1, 3, 0.9, 0.8}, {1, -1, 0.2, 5, 0.5, 0.1}};
    CHECK(au_store_golden_add(s, cid, g, 2, &d) == AU_OK);
    struct au_store_trial t[2] = {trial(0, 3), trial(1, -1)};
    t[1].loss = t[1].delta_loss = NAN;
    t[1].outcome = AU_STORE_OUTCOME_NONFINITE;
    t[1].tensor = AU_STORE_TENSOR_WEIGHT;
    t[1].bits = AU_STORE_BITS_META;
    t[1].n_flips = 2;
    struct au_store_flip f[3] = {flip(0, 3), flip(1, 0), flip(1, 2)};
    f[2].after = INFINITY;
    f[2].is_meta = 1;
    f[2].field = NULL;
    CHECK(au_store_trials_add(s, cid, t, 2, f, 3, &d) == AU_OK);
    CHECK(au_store_campaign_end(s, cid, AU_STORE_DONE, "fixed count", &d) == AU_OK);
    au_store_close(s);
    CHECK_EQ_INT(raw_double(p, "SELECT seed FROM campaigns"), (double)(int64_t)ci.seed);
    CHECK_NEAR(raw_double(p, "SELECT z FROM campaigns"), au_store_z(0.99), 1e-15);
    CHECK_EQ_INT(raw_double(p, "SELECT count(*) FROM campaigns WHERE status = 'done' AND"
                               " ended IS NOT NULL AND stop_reason = 'fixed count' AND"
                               " model_sha256 = 'abcd' AND aurum_version = '0.1.0'"),
                 1);
    CHECK_EQ_INT(raw_double(p, "SELECT count(*) FROM layers WHERE layer = 3 AND name = 'conv2'"
                               " AND act_format = 'bfp(m=7)' AND weight_format IS NULL AND"
                               " act_blocks = 4 AND weight_elem_bits = 32 AND macs = 1000"),
                 1);
    CHECK(isnan(raw_double(p, "SELECT label FROM golden WHERE sample = 1")));
    CHECK_NEAR(raw_double(p, "SELECT top2_diff FROM golden WHERE sample = 0"), 0.8, 0);
    CHECK(isnan(raw_double(p, "SELECT loss FROM trials WHERE trial = 1"))); // NaN -> NULL
    CHECK(isnan(raw_double(p, "SELECT layer FROM trials WHERE trial = 1")));
    CHECK_EQ_INT(raw_double(p, "SELECT count(*) FROM trials WHERE trial = 1 AND outcome ="
                               " 'nonfinite' AND tensor_kind = 'weight' AND bit_kind = 'meta'"),
                 1);
    CHECK_EQ_INT(raw_double(p, "SELECT max(seq) FROM flips WHERE trial = 1"), 1);
    CHECK(isinf(raw_double(p, "SELECT value_after FROM flips WHERE trial = 1 AND seq = 1")));
    CHECK_EQ_INT(raw_double(p, "SELECT count(*) FROM nonfinite_trials"), 2); // one per flip
    CHECK_EQ_INT(raw_double(p, "SELECT count(*) FROM layer_summary"), 2);
    rm_db(p);
}

static void test_resume_and_bitmap(void)
{
    char p[512];
    path_in(p, sizeof(p), "resume.db");
    struct au_diag d = {{0}};
    int64_t cid, cid2;
    bool resumed = false;
    au_store *s = new_store(p, &cid);
    // Commit a random subset of ids 0..999 in several batches.
    static struct au_store_trial rows[1000];
    static struct au_store_flip flips[1000];
    bool want[1000] = {0};
    size_t n = 0;
    for (int64_t id = 0; id < 1000; id++)
        if (unif() < 0.4) {
            want[id] = true;
            rows[n] = trial(id, 1);
            flips[n] = flip(id, 1);
            n++;
        }
    CHECK(au_store_trials_add(s, cid, rows, n / 2, flips, n / 2, &d) == AU_OK);
    CHECK(au_store_trials_add(s, cid, rows + n / 2, n - n / 2, flips + n / 2, n - n / 2, &d) ==
          AU_OK);
    CHECK(au_store_campaign_end(s, cid, AU_STORE_INTERRUPTED, "SIGINT", &d) == AU_OK);
    struct au_store_campaign_info same = {"a", json_a, "00ff", "0.1.0", 7, 0.95};
    CHECK(au_store_campaign_begin(s, &same, &cid2, &resumed, &d) == AU_OK);
    CHECK(resumed && cid2 == cid);
    CHECK_EQ_INT(raw_double(p, "SELECT count(*) FROM campaigns WHERE status = 'running'"
                               " AND ended IS NULL"),
                 1);
    uint8_t bm[126]; // ids 10 .. 1010: also checks the range offset and the tail past 999
    int64_t n_done = -1;
    CHECK(au_store_trials_committed(s, cid, 10, 1010, bm, &n_done, &d) == AU_OK);
    int64_t expect = 0, mism = 0;
    for (int64_t id = 10; id < 1010; id++) {
        bool bit = bm[(id - 10) >> 3] >> ((id - 10) & 7) & 1;
        bool w = id < 1000 && want[id];
        expect += w;
        mism += bit != w;
    }
    CHECK_EQ_INT(mism, 0);
    CHECK_EQ_INT(n_done, expect);
    bool done = false;
    int64_t some = rows[n / 3].trial_id;
    CHECK(au_store_trial_done(s, cid, some, &done, &d) == AU_OK && done);
    CHECK(au_store_trial_done(s, cid, 5000, &done, &d) == AU_OK && !done);
    // Same name, different JSON or model: refused with the name in the message.
    struct au_store_campaign_info other = same;
    other.json = "{\"name\":\"a\",\"trials\":200}";
    CHECK(au_store_campaign_begin(s, &other, &cid2, &resumed, &d) == AU_INVALID && !resumed);
    CHECK(strstr(d.msg, "'a'") && strstr(d.msg, "different campaign JSON"));
    other = same;
    other.model_hash = "1234";
    CHECK(au_store_campaign_begin(s, &other, &cid2, &resumed, &d) == AU_INVALID);
    CHECK(strstr(d.msg, "model file changed") != NULL);
    other = same;
    other.name = "b";
    CHECK(au_store_campaign_begin(s, &other, &cid2, &resumed, &d) == AU_OK && !resumed);
    CHECK(cid2 != cid);
    other.level = 1.0;
    other.name = "c";
    CHECK(au_store_campaign_begin(s, &other, &cid2, &resumed, &d) == AU_RANGE);
    au_store_close(s);
    rm_db(p);
}

static void test_batch_is_all_or_nothing(void)
{
    char p[512];
    path_in(p, sizeof(p), "atomic.db");
    struct au_diag d = {{0}};
    int64_t cid;
    au_store *s = new_store(p, &cid);
    struct au_store_trial rows[50];
    struct au_store_flip flips[50];
    fill_batch(rows, flips, 0, 50);
    CHECK(au_store_trials_add(s, cid, rows, 50, flips, 50, &d) == AU_OK);
    // Duplicate id in the last row of a new batch: nothing of the batch is kept.
    fill_batch(rows, flips, 1, 50);
    rows[49].trial_id = 7;
    flips[49].trial_id = 7;
    CHECK(au_store_trials_add(s, cid, rows, 50, flips, 49, &d) == AU_INVALID);
    CHECK(strstr(d.msg, "atomic.db:trial 7") && strstr(d.msg, "duplicate"));
    // The same inside a multi-row chunk (rows go 32 to a statement): still named.
    fill_batch(rows, flips, 1, 50);
    rows[5].trial_id = 7;
    flips[5].trial_id = 7;
    CHECK(au_store_trials_add(s, cid, rows, 50, flips, 50, &d) == AU_INVALID);
    CHECK(strstr(d.msg, "atomic.db:trial 7") && strstr(d.msg, "duplicate"));
    double n;
    CHECK(au_store_query_double(s, "SELECT count(*) FROM trials", &n, &d) == AU_OK);
    CHECK_EQ_INT(n, 50);
    CHECK(au_store_query_double(s, "SELECT count(*) FROM flips", &n, &d) == AU_OK);
    CHECK_EQ_INT(n, 50);
    // Validation failures name the trial and field.
    fill_batch(rows, flips, 1, 50);
    rows[3].mismatch = 1.5;
    CHECK(au_store_trials_add(s, cid, rows, 50, flips, 50, &d) == AU_INVALID);
    CHECK(strstr(d.msg, "trial 53") && strstr(d.msg, "mismatch"));
    rows[3].mismatch = 0;
    rows[4].loss = NAN; // NaN with an outcome that says the output was fine
    CHECK(au_store_trials_add(s, cid, rows, 50, flips, 50, &d) == AU_INVALID);
    CHECK(strstr(d.msg, "trial 54") && strstr(d.msg, "non-finite"));
    rows[4].loss = 0;
    rows[5].outcome = 9;
    CHECK(au_store_trials_add(s, cid, rows, 50, flips, 50, &d) == AU_INVALID);
    rows[5].outcome = AU_STORE_OUTCOME_SDC;
    flips[10].bit = 64;
    CHECK(au_store_trials_add(s, cid, rows, 50, flips, 50, &d) == AU_INVALID);
    CHECK(strstr(d.msg, "flip of trial 60") != NULL);
    flips[10].bit = 3;
    flips[20].trial_id = 999; // a flip whose trial does not exist
    CHECK(au_store_trials_add(s, cid, rows, 50, flips, 50, &d) == AU_NOTFOUND);
    CHECK(strstr(d.msg, "no trial 999") != NULL);
    flips[20].trial_id = 70;
    CHECK(au_store_trials_add(s, cid + 40, rows, 50, flips, 50, &d) == AU_NOTFOUND);
    CHECK(strstr(d.msg, "no campaign") != NULL);
    CHECK(au_store_query_double(s, "SELECT count(*) FROM trials", &n, &d) == AU_OK);
    CHECK_EQ_INT(n, 50);
    CHECK(au_store_query_double(s, "SELECT count(*) FROM flips", &n, &d) == AU_OK);
    CHECK_EQ_INT(n, 50);
    // The store is still usable after each refused batch.
    CHECK(au_store_trials_add(s, cid, rows, 50, flips, 50, &d) == AU_OK);
    CHECK(au_store_query_double(s, "SELECT count(*) FROM trials", &n, &d) == AU_OK);
    CHECK_EQ_INT(n, 100);
    CHECK(au_store_campaign_end(s, cid + 40, AU_STORE_DONE, NULL, &d) == AU_NOTFOUND);
    CHECK(au_store_campaign_end(s, cid, 17, NULL, &d) == AU_INVALID);
    au_store_close(s);
    rm_db(p);
}

/* Reference statistics of one group, two-pass. */
struct ref {
    int64_t n_trials, n_nonfinite, n, n_sdc, n_detected;
    double sum, ss, mismatch;
};

static int group_of(int layer, int tensor, int bits)
{
    return (layer + 1) * 9 + tensor * 3 + bits;
}

/* Compare one row of layer_summary (or the layer_stats view) against the reference. */
static void check_summary_row(sqlite3_stmt *st, const struct ref *r, bool has_t)
{
    double n = (double)r->n, mean = r->sum / n, var = r->ss / (n - 1), se = sqrt(var / n);
    double z = au_store_z(0.95), tol = 1e-9 * (1 + fabs(mean) + var);
    CHECK_EQ_INT(sqlite3_column_int64(st, 0), r->n_trials);
    CHECK_EQ_INT(sqlite3_column_int64(st, 1), r->n_nonfinite);
    CHECK_EQ_INT(sqlite3_column_int64(st, 2), r->n);
    CHECK_NEAR(sqlite3_column_double(st, 3), mean, tol);
    CHECK_NEAR(sqlite3_column_double(st, 4), var, tol);
    CHECK_NEAR(sqlite3_column_double(st, 5), mean - z * se, tol);
    CHECK_NEAR(sqlite3_column_double(st, 6), mean + z * se, tol);
    double k = r->mismatch, m = (double)r->n_trials, ph = k / m, den = 1 + z * z / m;
    double c = (ph + z * z / (2 * m)) / den,
           h = z * sqrt(ph * (1 - ph) / m + z * z / (4 * m * m)) / den;
    CHECK_NEAR(sqlite3_column_double(st, 7), ph, 1e-12);
    CHECK_NEAR(sqlite3_column_double(st, 8), c - h, 1e-12);
    CHECK_NEAR(sqlite3_column_double(st, 9), c + h, 1e-12);
    CHECK_EQ_INT(sqlite3_column_int64(st, 10), r->n_sdc);
    CHECK_EQ_INT(sqlite3_column_int64(st, 11), r->n_detected);
    if (has_t) {
        double t = au_store_t(0.95, n - 1);
        CHECK_NEAR(sqlite3_column_double(st, 12), mean - t * se, tol);
        CHECK_NEAR(sqlite3_column_double(st, 13), mean + t * se, tol);
    }
}

static void check_summary_source(const char *path, const char *from, struct ref *ref, bool has_t)
{
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT n_trials, n_nonfinite, n, mean_dloss, var_dloss, z_lo, z_hi, mismatch_rate,"
             " wilson_lo, wilson_hi, n_sdc, n_detected, %s, layer, tensor_kind, bit_kind FROM %s",
             has_t ? "t_lo, t_hi" : "0, 0", from);
    sqlite3 *db;
    sqlite3_stmt *st;
    CHECK(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK);
    CHECK(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK);
    int rows = 0, expected = 0;
    for (int g = 0; g < 5 * 9; g++)
        expected += ref[g].n_trials > 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        int layer = sqlite3_column_type(st, 14) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 14);
        int tk = !strcmp((const char *)sqlite3_column_text(st, 15), "weight");
        int bk = !strcmp((const char *)sqlite3_column_text(st, 16), "meta");
        check_summary_row(st, &ref[group_of(layer, tk, bk)], has_t);
        rows++;
    }
    CHECK_EQ_INT(rows, expected);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void test_summary_matches_reference(void)
{
    char p[512];
    path_in(p, sizeof(p), "summary.db");
    struct au_diag d = {{0}};
    int64_t cid;
    au_store *s = new_store(p, &cid);
    enum { N = 6000 };
    static struct au_store_trial rows[N];
    static struct au_store_flip flips[N];
    struct ref ref[5 * 9] = {{0}};
    for (int i = 0; i < N; i++) {
        int layer = (int)(rnd() % 4) - 1;
        struct au_store_trial *t = &rows[i];
        *t = trial(i, layer);
        t->tensor = (int)(rnd() % 2);
        t->bits = (int)(rnd() % 2);
        t->delta_loss = (unif() - 0.3) * (layer + 2) * (rnd() % 50 ? 1 : 1e6); // heavy tail
        t->mismatch = unif() < 0.1 * (layer + 2);
        t->outcome = t->mismatch ? AU_STORE_OUTCOME_SDC : AU_STORE_OUTCOME_BENIGN;
        t->detected = rnd() % 5 == 0 ? (int)(rnd() % 3) : 0;
        if (rnd() % 40 == 0) {
            t->loss = t->delta_loss = rnd() % 2 ? NAN : INFINITY;
            t->outcome = AU_STORE_OUTCOME_NONFINITE;
        }
        flips[i] = flip(i, layer < 0 ? 0 : layer);
        flips[i].bit = (int)(rnd() % 8);
        struct ref *r = &ref[group_of(layer, t->tensor, t->bits)];
        r->n_trials++;
        r->mismatch += t->mismatch;
        r->n_sdc += t->outcome == AU_STORE_OUTCOME_SDC;
        r->n_detected += t->detected > 0;
        if (t->outcome == AU_STORE_OUTCOME_NONFINITE) {
            r->n_nonfinite++;
        } else {
            r->n++;
            r->sum += t->delta_loss;
        }
    }
    for (int i = 0; i < N; i++) {
        struct ref *r = &ref[group_of(rows[i].layer, rows[i].tensor, rows[i].bits)];
        if (rows[i].outcome != AU_STORE_OUTCOME_NONFINITE)
            r->ss += pow(rows[i].delta_loss - r->sum / (double)r->n, 2);
    }
    for (int b = 0; b < 6; b++)
        CHECK(au_store_trials_add(s, cid, rows + b * 1000, 1000, flips + b * 1000, 1000, &d) ==
              AU_OK);
    CHECK(au_store_campaign_end(s, cid, AU_STORE_DONE, "fixed", &d) == AU_OK);
    check_summary_source(p, "layer_summary", ref, true);
    check_summary_source(p, "layer_stats", ref, false); // plain SQL, no au_* functions
    // The SQL functions on the store's own connection agree with the C ones.
    double v;
    CHECK(au_store_query_double(s, "SELECT au_t(0.95, 10)", &v, &d) == AU_OK);
    CHECK(v == au_store_t(0.95, 10));
    CHECK(au_store_query_double(s, "SELECT au_z(0.9)", &v, &d) == AU_OK && v == au_store_z(0.9));
    CHECK(au_store_query_double(s, "SELECT au_wilson_hi(5, 10, 0.95)", &v, &d) == AU_OK);
    CHECK_NEAR(v, 0.7634069095, 1e-9);
    CHECK(au_store_query_double(s, "SELECT au_wilson_lo(5, 10, 0.95)", &v, &d) == AU_OK);
    CHECK_NEAR(v, 0.2365930905, 1e-9);
    CHECK(au_store_query_double(s, "SELECT au_z(2)", &v, &d) == AU_OK && isnan(v));
    CHECK(au_store_query_double(s, "SELECT no_such_column", &v, &d) == AU_DB);
    CHECK(au_store_query_double(s, "SELECT 1 WHERE 0", &v, &d) == AU_NOTFOUND);
    // By-bit view: single-flip trials attributed to their bit.
    CHECK_EQ_INT(raw_double(p, "SELECT sum(n_trials) FROM bit_stats"), N);
    CHECK_EQ_INT(raw_double(p, "SELECT count(DISTINCT bit) FROM bit_stats"), 8);
    CHECK_EQ_INT(raw_double(p, "SELECT sum(n_nonfinite) FROM field_stats"),
                 raw_double(p, "SELECT count(*) FROM trials WHERE outcome = 'nonfinite'"));
    // On demand: new trials change the summary only when asked.
    rows[0].trial_id = N;
    flips[0].trial_id = N;
    CHECK(au_store_trials_add(s, cid, rows, 1, flips, 1, &d) == AU_OK);
    CHECK_EQ_INT(raw_double(p, "SELECT sum(n_trials) FROM layer_summary"), N);
    CHECK(au_store_summarize(s, cid, &d) == AU_OK);
    CHECK_EQ_INT(raw_double(p, "SELECT sum(n_trials) FROM layer_summary"), N + 1);
    au_store_close(s);
    rm_db(p);
}

static void test_full_database_keeps_committed(void)
{
    char p[512];
    path_in(p, sizeof(p), "full.db");
    struct au_diag d = {{0}};
    int64_t cid;
    au_store *s = new_store(p, &cid);
    enum { B = 500 };
    static struct au_store_trial rows[B];
    static struct au_store_flip flips[B];
    double pages, v;
    CHECK(au_store_query_double(s, "PRAGMA page_count", &pages, &d) == AU_OK);
    char sql[64];
    snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %d", (int)pages + 80);
    CHECK(au_store_query_double(s, sql, &v, &d) == AU_OK && v == pages + 80);
    int b, rc = AU_OK;
    for (b = 0; b < 1000; b++) {
        fill_batch(rows, flips, b, B);
        if ((rc = au_store_trials_add(s, cid, rows, B, flips, B, &d)) < 0)
            break;
    }
    CHECK(rc == AU_IO && b > 0);
    CHECK(strstr(d.msg, "full.db:") && strstr(d.msg, "full"));
    CHECK(au_store_query_double(s, "SELECT count(*) FROM trials", &v, &d) == AU_OK);
    CHECK_EQ_INT(v, (double)b * B);
    // Room again: the failed batch goes in on retry.
    CHECK(au_store_query_double(s, "PRAGMA max_page_count = 1000000", &v, &d) == AU_OK);
    CHECK(au_store_trials_add(s, cid, rows, B, flips, B, &d) == AU_OK);
    au_store_close(s);
    CHECK(au_store_open(p, AU_STORE_RDONLY, &s, &d) == AU_OK);
    CHECK(au_store_check(s, &d) == AU_OK);
    CHECK(au_store_query_double(s, "SELECT count(*) FROM flips", &v, &d) == AU_OK);
    CHECK_EQ_INT(v, (double)(b + 1) * B);
    au_store_close(s);
    rm_db(p);
}

/* Open a chmod 0444 file for writing; returns 0 if refused with a clear message. */
static int open_readonly_file(const char *p)
{
    struct au_diag d = {{0}};
    au_store *s;
    int rc = au_store_open(p, 0, &s, &d);
    if (rc == AU_OK)
        au_store_close(s);
    return rc == AU_IO && strstr(d.msg, "ro.db") && strstr(d.msg, "read-only") ? 0 : 1;
}

static void test_read_only(void)
{
    char p[512], q[512];
    path_in(p, sizeof(p), "rw.db");
    path_in(q, sizeof(q), "ro.db");
    struct au_diag d = {{0}};
    int64_t cid;
    au_store *s = new_store(p, &cid);
    struct au_store_trial rows[10];
    struct au_store_flip flips[10];
    fill_batch(rows, flips, 0, 10);
    CHECK(au_store_trials_add(s, cid, rows, 10, flips, 10, &d) == AU_OK);
    au_store_close(s);
    // Opened read-only on purpose: reads work, every write names the file.
    CHECK(au_store_open(p, AU_STORE_RDONLY, &s, &d) == AU_OK);
    fill_batch(rows, flips, 1, 10);
    CHECK(au_store_trials_add(s, cid, rows, 10, flips, 10, &d) == AU_IO);
    CHECK(strstr(d.msg, "rw.db") && strstr(d.msg, "read-only"));
    CHECK(au_store_campaign_end(s, cid, AU_STORE_DONE, NULL, &d) == AU_IO);
    bool done;
    CHECK(au_store_trial_done(s, cid, 9, &done, &d) == AU_OK && done);
    CHECK(au_store_check(s, &d) == AU_OK);
    au_store_close(s);
    // A file without write permission. Root ignores permissions, so a child drops to nobody.
    FILE *in = fopen(p, "rb"), *out = fopen(q, "wb");
    char buf[4096];
    size_t got;
    while (in && out && (got = fread(buf, 1, sizeof(buf), in)) > 0)
        fwrite(buf, 1, got, out);
    fclose(in);
    fclose(out);
    chmod(q, 0444);
    if (geteuid() != 0) {
        CHECK(open_readonly_file(q) == 0);
    } else {
        chmod(tmpdir, 0755);
        pid_t pid = fork();
        if (pid == 0)
            _exit(setgid(65534) || setuid(65534) ? 77 : open_readonly_file(q));
        int status = 0;
        waitpid(pid, &status, 0);
        chmod(tmpdir, 0700);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
            printf("test_read_only: cannot drop root, chmod case skipped\n");
        else
            CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    CHECK_EQ_INT(raw_double(q, "SELECT count(*) FROM trials"), 10);
    rm_db(p);
    rm_db(q);
}

static void test_corrupt_page_is_an_error(void)
{
    char p[512];
    path_in(p, sizeof(p), "corrupt.db");
    struct au_diag d = {{0}};
    int64_t cid;
    au_store *s = new_store(p, &cid);
    enum { B = 4000 };
    static struct au_store_trial rows[B];
    static struct au_store_flip flips[B];
    fill_batch(rows, flips, 0, B);
    CHECK(au_store_trials_add(s, cid, rows, B, flips, B, &d) == AU_OK);
    au_store_close(s);
    int fd = open(p, O_WRONLY);
    memset(rows, 0xa5, 3 * 4096);
    CHECK(pwrite(fd, rows, 3 * 4096, 8 * 4096) == 3 * 4096);
    close(fd);
    int rc = au_store_open(p, 0, &s, &d);
    CHECK(rc == AU_OK || rc == AU_FORMAT);
    if (rc == AU_OK) {
        CHECK(au_store_check(s, &d) == AU_FORMAT);
        CHECK(strstr(d.msg, "corrupt.db:integrity") != NULL);
        rc = au_store_summarize(s, cid, &d); // reading the damaged tree fails cleanly
        CHECK(rc == AU_FORMAT);
        CHECK(strstr(d.msg, "corrupt or not a database") != NULL);
        au_store_close(s);
    }
    rm_db(p);
}

static void test_allocation_failures(void)
{
    char p[512];
    path_in(p, sizeof(p), "nomem.db");
    struct au_diag d = {{0}};
    au_store *s = NULL;
    au_alloc_fail_after(1);
    CHECK(au_store_open(p, AU_STORE_CREATE, &s, &d) == AU_NOMEM && s == NULL);
    CHECK(strstr(d.msg, "nomem.db") != NULL);
    au_alloc_fail_after(0);
    int64_t cid;
    s = new_store(p, &cid);
    struct au_store_trial rows[20];
    struct au_store_flip flips[20];
    fill_batch(rows, flips, 0, 20);
    CHECK(au_store_trials_add(s, cid, rows, 20, flips, 20, &d) == AU_OK);
    au_alloc_fail_after(1); // the summary's accumulator
    CHECK(au_store_campaign_end(s, cid, AU_STORE_DONE, NULL, &d) == AU_NOMEM);
    CHECK(strstr(d.msg, "out of memory") != NULL);
    au_alloc_fail_after(0);
    CHECK_EQ_INT(raw_double(p, "SELECT count(*) FROM campaigns WHERE status = 'running'"), 1);
    CHECK(au_store_campaign_end(s, cid, AU_STORE_DONE, NULL, &d) == AU_OK);
    CHECK_EQ_INT(raw_double(p, "SELECT sum(n_trials) FROM layer_summary"), 20);
    au_store_close(s);
    rm_db(p);
}

struct writer_arg {
    const char *path;
    int64_t cid;
    atomic_int done;
    int rc;
};

enum { CONC_B = 2000, CONC_N = 30 };

static void *writer_main(void *argp)
{
    struct writer_arg *a = argp;
    struct au_diag d = {{0}};
    au_store *s;
    static struct au_store_trial rows[CONC_B];
    static struct au_store_flip flips[CONC_B];
    a->rc = au_store_open(a->path, 0, &s, &d);
    for (int b = 0; a->rc == AU_OK && b < CONC_N; b++) {
        fill_batch(rows, flips, b, CONC_B);
        a->rc = au_store_trials_add(s, a->cid, rows, CONC_B, flips, CONC_B, &d);
    }
    if (a->rc < 0)
        fprintf(stderr, "writer: %s\n", d.msg);
    au_store_close(s);
    atomic_store(&a->done, 1);
    return NULL;
}

static void test_readers_during_writes(void)
{
    char p[512];
    path_in(p, sizeof(p), "conc.db");
    int64_t cid;
    au_store_close(new_store(p, &cid));
    struct writer_arg a = {p, cid, 0, 0};
    pthread_t th;
    struct au_diag d = {{0}};
    au_store *r;
    CHECK(au_store_open(p, AU_STORE_RDONLY, &r, &d) == AU_OK);
    pthread_create(&th, NULL, writer_main, &a);
    int reads = 0, bad = 0, errors = 0;
    double last = 0, v;
    while (!atomic_load(&a.done) || reads == 0) {
        if (au_store_query_double(r, "SELECT count(*) FROM trials", &v, &d) < 0) {
            errors++;
            fprintf(stderr, "reader: %s\n", d.msg);
            break;
        }
        bad += fmod(v, CONC_B) != 0 || v < last; // whole batches only, never going back
        last = v;
        reads++;
    }
    pthread_join(th, NULL);
    CHECK(a.rc == AU_OK && errors == 0 && bad == 0 && reads > 0);
    CHECK(au_store_query_double(r, "SELECT count(*) FROM trials", &v, &d) == AU_OK);
    CHECK_EQ_INT(v, CONC_B * CONC_N);
    printf("test_readers_during_writes: %d consistent reads during %d batches\n", reads, CONC_N);
    au_store_close(r);
    rm_db(p);
}

enum { CRASH_B = 20000 };

static void crash_child(const char *p, int fd)
{
    struct au_diag d = {{0}};
    au_store *s;
    int64_t cid;
    bool resumed;
    static struct au_store_trial rows[CRASH_B];
    static struct au_store_flip flips[CRASH_B];
    struct au_store_campaign_info ci = {"a", json_a, "00ff", "0.1.0", 7, 0.95};
    if (au_store_open(p, AU_STORE_CREATE, &s, &d) ||
        au_store_campaign_begin(s, &ci, &cid, &resumed, &d))
        _exit(3);
    // A tiny page cache spills uncommitted pages into the WAL mid-batch, so the kill leaves
    // frames of a transaction that never committed in the file. (No row: AU_NOTFOUND.)
    double v;
    au_store_query_double(s, "PRAGMA cache_size = 20", &v, &d);
    for (int b = 0; b < 200; b++) {
        fill_batch(rows, flips, b, CRASH_B);
        int msg = b; // "starting batch b": the parent kills us during it
        if (write(fd, &msg, sizeof(msg)) != sizeof(msg) ||
            au_store_trials_add(s, cid, rows, CRASH_B, flips, CRASH_B, &d) < 0)
            _exit(4);
    }
    _exit(5);
}

static void test_sigkill_mid_batch_keeps_whole_batches(void)
{
    char p[512];
    path_in(p, sizeof(p), "crash.db");
    rm_db(p);
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        crash_child(p, fds[1]);
    }
    close(fds[1]);
    int msg = -1;
    while (msg < 3 && read(fds[0], &msg, sizeof(msg)) == sizeof(msg))
        ;
    // Kill once batch 3 has written frames to the WAL: inside its transaction, as a rule.
    char wal[600];
    snprintf(wal, sizeof(wal), "%s-wal", p);
    struct stat st0 = {0}, st1 = {0};
    stat(wal, &st0);
    for (int i = 0; i < 2000 && stat(wal, &st1) == 0 && st1.st_size == st0.st_size; i++)
        usleep(1000);
    usleep((useconds_t)(rnd() % 5000));
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    close(fds[0]);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    struct au_diag d = {{0}};
    au_store *s;
    double n, nf;
    CHECK(au_store_open(p, 0, &s, &d) == AU_OK);
    CHECK(au_store_check(s, &d) == AU_OK);
    CHECK(au_store_query_double(s, "SELECT count(*) FROM trials", &n, &d) == AU_OK);
    CHECK(au_store_query_double(s, "SELECT count(*) FROM flips", &nf, &d) == AU_OK);
    CHECK(fmod(n, CRASH_B) == 0 && n >= 3 * CRASH_B && nf == n);
    CHECK_EQ_INT(raw_double(p, "SELECT max(trial) FROM trials") + 1, n); // a prefix of batches
    printf("test_sigkill: killed during batch %d with %lld WAL bytes, %g trials survived\n", msg,
           (long long)st1.st_size, n);
    // Resume: the same campaign, and the bitmap says which trials are left.
    int64_t cid;
    bool resumed = false;
    struct au_store_campaign_info ci = {"a", json_a, "00ff", "0.1.0", 7, 0.95};
    CHECK(au_store_campaign_begin(s, &ci, &cid, &resumed, &d) == AU_OK && resumed);
    static uint8_t bm[8 * CRASH_B / 8];
    int64_t n_done;
    CHECK(au_store_trials_committed(s, cid, 0, 8 * CRASH_B, bm, &n_done, &d) == AU_OK);
    CHECK_EQ_INT(n_done, n);
    CHECK(bm[0] == 0xff && bm[(size_t)n / 8 - 1] == 0xff && bm[(size_t)n / 8] == 0);
    au_store_close(s);
    rm_db(p);
}

/* Trials per second, by wall clock and by this process's CPU time (the machine is shared:
 * CPU time is what the store costs, wall time includes other people's builds). */
static void add_batches(au_store *s, int64_t cid, int b0, bool with_flips, double *wall,
                        double *cpu)
{
    enum { B = 10000, NB = 40 };
    static struct au_store_trial rows[B];
    static struct au_store_flip flips[B];
    struct au_diag d = {{0}};
    double w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID), fill = 0;
    int rc = AU_OK;
    for (int b = b0; b < b0 + NB && rc == AU_OK; b++) {
        double f0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        fill_batch(rows, flips, b, B);
        fill += clock_s(CLOCK_PROCESS_CPUTIME_ID) - f0;
        rc =
            au_store_trials_add(s, cid, rows, B, with_flips ? flips : NULL, with_flips ? B : 0, &d);
    }
    CHECK(rc == AU_OK);
    *wall = NB * B / (clock_s(CLOCK_MONOTONIC) - w0 - fill);
    *cpu = NB * B / (clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0 - fill);
}

static void test_throughput(void)
{
    char p[512];
    path_in(p, sizeof(p), "speed.db");
    struct au_diag d = {{0}};
    int64_t cid;
    au_store *s = new_store(p, &cid);
    double wall, cpu, wall_f, cpu_f;
    add_batches(s, cid, 0, false, &wall, &cpu);
    add_batches(s, cid, 40, true, &wall_f, &cpu_f);
    double t0 = clock_s(CLOCK_MONOTONIC);
    CHECK(au_store_campaign_end(s, cid, AU_STORE_DONE, NULL, &d) == AU_OK);
    double t_sum = clock_s(CLOCK_MONOTONIC) - t0;
    printf("test_throughput: trials/s %.0f wall, %.0f cpu; with one flip each %.0f wall, "
           "%.0f cpu; summary of 800000 trials in %.3f s\n",
           wall, cpu, wall_f, cpu_f, t_sum);
    // The target is 200k trials/s. CPU time does not depend on other people's builds;
    // sanitizers intercept every SQLite malloc, so they only get a floor against hangs.
    CHECK(cpu > (sanitized ? 20000 : 200000));
    au_store_close(s);
    rm_db(p);
}

int main(void)
{
    rng_state = check_seed();
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/au_store_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_stats_quantiles();
    test_sha256_vectors();
    test_open_errors();
    test_roundtrip_values();
    test_resume_and_bitmap();
    test_batch_is_all_or_nothing();
    test_summary_matches_reference();
    test_full_database_keeps_committed();
    test_read_only();
    test_corrupt_page_is_an_error();
    test_allocation_failures();
    test_readers_during_writes();
    test_sigkill_mid_batch_keeps_whole_batches();
    test_throughput();
    rmdir(tmpdir);
    return check_report("test_store");
}

/* The campaign runner end to end on the bundled LeNet-5: identical databases for any
 * number of workers, after SIGKILL and resume, and with the naive full-forward path;
 * Poisson trials with zero flips cost nothing and are recorded; CI stopping stops
 * early and deterministically; metadata faults are recorded with their field. */
#include "../check.h"
#include "runner.h"

#include <signal.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char root[1024], tmpdir[256];

/* A campaign on lenet5; extra is spliced into the JSON object. */
static struct au_campaign *campaign(const char *name, const char *extra)
{
    char json[4096];
    snprintf(json, sizeof(json),
             "{\"name\": \"%s\", \"model\": \"%s/models/lenet5.onnx\","
             "\"data\": {\"inputs\": \"%s/models/data/fmnist_eval_x.npy\","
             "\"labels\": \"%s/models/data/fmnist_eval_y.npy\", \"samples\": 300,"
             "\"only_correct\": true}, \"seed\": 5, \"database\": \"%s/%s.db\", %s}",
             name, root, root, root, tmpdir, name, extra);
    struct au_campaign *c = NULL;
    struct au_problems p = {0};
    struct au_diag d = {{0}};
    int rc = au_campaign_parse(json, strlen(json), "test.json", &c, &p, &d);
    for (size_t i = 0; i < p.n; i++)
        fprintf(stderr, "%s\n", p.msg[i]);
    if (rc)
        fprintf(stderr, "parse: %s\n", d.msg);
    au_problems_fini(&p);
    CHECK_EQ_INT(rc, 0);
    return c;
}

static int run(const struct au_campaign *c, const char *db, int jobs, bool naive,
               struct au_run_result *r)
{
    struct au_run_opts o = {.jobs = jobs, .naive = naive, .database = db};
    struct au_diag d = {{0}};
    int rc = au_campaign_run(c, &o, r, &d);
    if (rc)
        fprintf(stderr, "run %s: %s\n", db, d.msg);
    return rc;
}

/* Every trial and flip row as text, in key order. */
static char *digest(const char *db)
{
    sqlite3 *s;
    size_t cap = 1 << 20, len = 0;
    char *out = calloc(cap, 1);
    const char *q[2] = {"SELECT trial, layer, tensor_kind, bit_kind, n_flips, sample, n_samples,"
                        " quote(loss), quote(delta_loss), quote(mismatch), outcome, detected"
                        " FROM trials ORDER BY trial",
                        "SELECT trial, seq, layer, tensor_kind, is_meta, idx, bit, field,"
                        " quote(value_before), quote(value_after) FROM flips ORDER BY trial, seq"};
    if (sqlite3_open_v2(db, &s, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return out;
    for (int k = 0; k < 2; k++) {
        sqlite3_stmt *st;
        sqlite3_prepare_v2(s, q[k], -1, &st, NULL);
        while (sqlite3_step(st) == SQLITE_ROW) {
            for (int c = 0; c < sqlite3_column_count(st); c++) {
                const char *v = (const char *)sqlite3_column_text(st, c);
                size_t n = v ? strlen(v) : 4;
                if (len + n + 2 >= cap) {
                    cap *= 2;
                    out = realloc(out, cap);
                }
                memcpy(out + len, v ? v : "NULL", n);
                len += n;
                out[len++] = c + 1 == sqlite3_column_count(st) ? '\n' : '|';
            }
        }
        sqlite3_finalize(st);
    }
    out[len] = '\0';
    sqlite3_close(s);
    return out;
}

static void db_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s.db", tmpdir, name);
}

static const char *PER_LAYER =
    "\"batch\": 32, \"formats\": {\"activations\": \"fp16\", \"weights\": \"fp16\"},"
    "\"targets\": {\"tensors\": [\"activations\", \"weights\"], \"bits\": [\"data\"]},"
    "\"process\": {\"type\": \"per_layer\", \"flips\": 1, \"trials\": 96}";

static void test_jobs_naive_and_resume_give_the_same_rows(void)
{
    struct au_campaign *c = campaign("perlayer", PER_LAYER);
    if (!c)
        return;
    char a[512], b[512], n[512], k[512];
    struct au_run_result r;
    db_path(a, sizeof(a), "jobs1");
    db_path(b, sizeof(b), "jobs3");
    db_path(n, sizeof(n), "naive");
    db_path(k, sizeof(k), "killed");
    CHECK_EQ_INT(run(c, a, 1, false, &r), 0);
    CHECK(r.complete);
    CHECK_EQ_INT(r.trials_total, 96 * 10); /* 5 layers x (activations + weights) */
    CHECK_EQ_INT(run(c, b, 3, false, &r), 0);
    CHECK_EQ_INT(run(c, n, 1, true, &r), 0);
    char *da = digest(a), *db = digest(b), *dn = digest(n);
    CHECK(strlen(da) > 1000);
    CHECK(strcmp(da, db) == 0);
    CHECK(strcmp(da, dn) == 0);
    /* SIGKILL at several points, then resume */
    for (int round = 0; round < 4; round++) {
        pid_t pid = fork();
        if (pid == 0) {
            struct au_run_result rr;
            run(c, k, 2, false, &rr);
            _exit(0);
        }
        struct timespec ts = {0, 20000000L * (round + 1)};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    CHECK_EQ_INT(run(c, k, 2, false, &r), 0);
    CHECK(r.complete);
    char *dk = digest(k);
    CHECK(strcmp(da, dk) == 0);
    free(da);
    free(db);
    free(dn);
    free(dk);
    au_campaign_free(c);
}

static double query(const char *db, const char *sql)
{
    sqlite3 *s;
    sqlite3_stmt *st;
    double v = NAN;
    sqlite3_open_v2(db, &s, SQLITE_OPEN_READONLY, NULL);
    if (sqlite3_prepare_v2(s, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(s);
    return v;
}

static void test_poisson_zero_flip_trials_are_golden(void)
{
    struct au_campaign *c = campaign(
        "poisson", "\"batch\": 64, \"formats\": {\"activations\": \"bfp{mantissa:7,exponent:8,"
                   "block:16}\"}, \"targets\": {\"bits\": [\"data\", \"metadata\"]},"
                   "\"process\": {\"type\": \"poisson\", \"timing\": \"model_wide\", "
                   "\"rate\": 1e-5, \"time\": 1.0, \"trials\": 256}");
    if (!c)
        return;
    char p[512];
    struct au_run_result r;
    db_path(p, sizeof(p), "poisson");
    CHECK_EQ_INT(run(c, p, 2, false, &r), 0);
    CHECK_EQ_INT(r.trials_total, 256);
    double zero = query(p, "SELECT count(*) FROM trials WHERE n_flips = 0");
    double zero_ok = query(p, "SELECT count(*) FROM trials WHERE n_flips = 0 AND delta_loss = 0 "
                              "AND outcome = 'masked'");
    double flips = query(p, "SELECT count(*) FROM flips");
    double nsum = query(p, "SELECT sum(n_flips) FROM trials");
    printf("poisson: %.0f of 256 trials without flips, %.0f flips\n", zero, flips);
    CHECK(zero > 0 && zero < 256);
    CHECK(zero == zero_ok);
    CHECK(flips == nsum);
    CHECK(query(p, "SELECT count(*) FROM flips WHERE field = 'shared_exponent'") > 0);
    au_campaign_free(c);
}

static void test_ci_stopping_stops_early_and_deterministically(void)
{
    struct au_campaign *c = campaign(
        "ci", "\"batch\": 32, \"targets\": {\"layers\": [\"op:Gemm\"]},"
              "\"process\": {\"type\": \"per_layer\", \"flips\": 1},"
              "\"stop\": {\"type\": \"ci\", \"metric\": \"mismatch\", \"confidence\": 0.95,"
              "\"half_width\": 0.1, \"min_trials\": 30, \"max_trials\": 6400}");
    if (!c)
        return;
    char a[512], b[512];
    struct au_run_result r;
    db_path(a, sizeof(a), "ci1");
    db_path(b, sizeof(b), "ci2");
    CHECK_EQ_INT(run(c, a, 1, false, &r), 0);
    CHECK(r.complete);
    CHECK(r.trials_total < 3 * 6400);
    CHECK_EQ_INT(run(c, b, 2, false, &r), 0);
    char *da = digest(a), *db = digest(b);
    CHECK(strcmp(da, db) == 0);
    printf("ci: stopped after %lld trials (cap %d)\n", (long long)r.trials_total, 3 * 6400);
    free(da);
    free(db);
    au_campaign_free(c);
}

/* The fast path (resume, early exit, change propagation, in-place mirrors) gives the
 * rows of a full forward per batch, for formats whose hooks are not row-local (stochastic
 * rounding draws along the tensor; BFP shares an exponent per sample) and with the range
 * detector, which clamps golden outputs and counts firings in every layer (a coarse format
 * rounds some golden maxima past the float32 absmax, so it fires in golden runs too). */
static void test_fast_equals_naive_across_formats(void)
{
    static const char *const fmts[] = {
        "\"fp{exponent:5,mantissa:10,rounding:stochastic}\"",
        "\"bfp{mantissa:7,exponent:4,granularity:tensor}\"",
        "\"fp{exponent:5,mantissa:2}\"", /* rounds golden maxima past the absmax */
        "\"fp16\"",
    };
    for (int f = 0; f < 4; f++) {
        char extra[1024], name[32], a[512], n[512];
        snprintf(
            extra, sizeof(extra),
            "\"batch\": 32, \"formats\": {\"activations\": %s},"
            " \"targets\": {\"tensors\": [\"activations\"], \"bits\": [\"data\", \"metadata\"]},"
            " \"range_detector\": %s,"
            " \"process\": {\"type\": \"per_layer\", \"flips\": 2, \"trials\": 96}",
            fmts[f], f == 3 ? "false" : "true");
        snprintf(name, sizeof(name), "fmt%d", f);
        struct au_campaign *c = campaign(name, extra);
        if (!c)
            continue;
        struct au_run_result r;
        db_path(a, sizeof(a), name);
        snprintf(name, sizeof(name), "fmt%dnaive", f);
        db_path(n, sizeof(n), name);
        CHECK_EQ_INT(run(c, a, 2, false, &r), 0);
        CHECK_EQ_INT(run(c, n, 1, true, &r), 0);
        char *da = digest(a), *dn = digest(n);
        CHECK(strlen(da) > 1000);
        CHECK(strcmp(da, dn) == 0);
        free(da);
        free(dn);
        au_campaign_free(c);
    }
}

int main(void)
{
    const char *env = getenv("AURUM_SOURCE_ROOT");
    snprintf(root, sizeof(root), "%s", env ? env : ".");
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/aurum-test-runner-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_jobs_naive_and_resume_give_the_same_rows();
    test_fast_equals_naive_across_formats();
    test_poisson_zero_flip_trials_are_golden();
    test_ci_stopping_stops_early_and_deterministically();
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_report("test_runner");
}

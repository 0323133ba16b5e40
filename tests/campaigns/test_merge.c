/* Shards + merge end to end on the bundled LeNet-5: three shards merged in two orders (one
 * part twice) give the trial and flip rows of the single-process run and status 'done';
 * parts of another campaign, another JSON, a newer schema, a conflicting trial or the
 * output itself are refused with a message naming the file; an interrupted shard merges
 * what it has (status 'interrupted') and its rerun plus a re-merge completes the campaign. */
#include "../check.h"
#include "merge.h"
#include "runner.h"

#include <sqlite3.h>
#include <string.h>

static char root[1024], tmpdir[256];

/* A campaign on lenet5 with trials per target (6 units of 32). */
static struct au_campaign *campaign(const char *name, int trials)
{
    char json[4096];
    snprintf(json, sizeof(json),
             "{\"name\": \"%s\", \"model\": \"%s/models/lenet5.onnx\","
             "\"data\": {\"inputs\": \"%s/models/data/fmnist_eval_x.npy\","
             "\"labels\": \"%s/models/data/fmnist_eval_y.npy\", \"samples\": 300,"
             "\"only_correct\": true}, \"seed\": 5, \"database\": \"%s/%s.db\","
             "\"batch\": 32, \"formats\": {\"activations\": \"fp16\", \"weights\": \"fp16\"},"
             "\"targets\": {\"tensors\": [\"activations\", \"weights\"], \"bits\": [\"data\"]},"
             "\"process\": {\"type\": \"per_layer\", \"flips\": 1, \"trials\": %d}}",
             name, root, root, root, tmpdir, name, trials);
    struct au_campaign *c = NULL;
    struct au_diag d = {{0}};
    int rc = au_campaign_parse(json, strlen(json), "test.json", &c, NULL, &d);
    if (rc)
        fprintf(stderr, "parse: %s\n", d.msg);
    CHECK_EQ_INT(rc, 0);
    return c;
}

static void path(char *buf, const char *name)
{
    snprintf(buf, 512, "%s/%s.db", tmpdir, name);
}

/* Run shard k of n (n = 0: the whole campaign) into db, stopping after units (0 = never). */
static int run(const struct au_campaign *c, const char *db, int k, int n, int64_t units)
{
    struct au_run_opts o = {
        .jobs = 2, .database = db, .shard_k = k, .shard_n = n, .stop_after_units = units};
    struct au_run_result r;
    struct au_diag d = {{0}};
    int rc = au_campaign_run(c, &o, &r, &d);
    if (rc && rc != AU_INTERRUPTED)
        fprintf(stderr, "run %s: %s\n", db, d.msg);
    return rc;
}

/* SQL on a file with plain SQLite (not the store: a test must not trust the code it tests). */
static char *sql_text(const char *db, const char *sql)
{
    sqlite3 *s;
    sqlite3_stmt *st;
    size_t cap = 1 << 16, len = 0;
    char *out = calloc(cap, 1);
    if (sqlite3_open(db, &s) != SQLITE_OK || sqlite3_prepare_v2(s, sql, -1, &st, NULL)) {
        fprintf(stderr, "%s: %s\n", db, sqlite3_errmsg(s));
        sqlite3_close(s);
        return out;
    }
    while (sqlite3_step(st) == SQLITE_ROW)
        for (int c = 0; c < sqlite3_column_count(st); c++) {
            const char *v = (const char *)sqlite3_column_text(st, c);
            size_t n = v ? strlen(v) : 4;
            while (len + n + 2 >= cap)
                out = realloc(out, cap *= 2);
            memcpy(out + len, v ? v : "NULL", n);
            len += n;
            out[len++] = c + 1 == sqlite3_column_count(st) ? '\n' : '|';
        }
    out[len] = '\0';
    sqlite3_finalize(st);
    sqlite3_close(s);
    return out;
}

/* Every trial and flip row as text, in key order. */
static char *digest(const char *db)
{
    char *t = sql_text(db, "SELECT trial, layer, tensor_kind, bit_kind, n_flips, sample,"
                           " n_samples, quote(loss), quote(delta_loss), quote(mismatch), outcome,"
                           " detected FROM trials ORDER BY trial");
    char *f = sql_text(db, "SELECT trial, seq, layer, tensor_kind, is_meta, idx, bit, field,"
                           " quote(value_before), quote(value_after) FROM flips"
                           " ORDER BY trial, seq");
    t = realloc(t, strlen(t) + strlen(f) + 1);
    strcat(t, f);
    free(f);
    return t;
}

static bool same(const char *a, const char *b, const char *what)
{
    char *x = sql_text(a, what), *y = sql_text(b, what);
    bool eq = strlen(x) > 0 && !strcmp(x, y);
    if (!eq)
        fprintf(stderr, "differs: %s\n%s---\n%s", what, x, y);
    free(x);
    free(y);
    return eq;
}

static int merge(const char *out, const char *const *parts, size_t n, struct au_merge_result *r,
                 char *msg)
{
    struct au_diag d = {{0}};
    int rc = au_merge_files(out, parts, n, r, &d);
    snprintf(msg, 512, "%s", rc ? d.msg : "");
    return rc;
}

static const char *SUMMARY = "SELECT layer, tensor_kind, bit_kind, n_trials, n_nonfinite,"
                             " quote(mean_dloss), quote(var_dloss), quote(t_lo), n_sdc"
                             " FROM layer_summary ORDER BY 1, 2, 3";
static const char *CAMPAIGN = "SELECT name, json, model_sha256, seed, status FROM campaigns";
static const char *TABLES = "SELECT l.*, g.* FROM layers l, golden g ORDER BY l.layer, g.sample";

static void test_shards_merge_to_the_single_run(const struct au_campaign *c, char p[3][512])
{
    char full[512], m1[512], m2[512], msg[512];
    struct au_merge_result r;
    path(full, "full");
    path(m1, "merged1");
    path(m2, "merged2");
    CHECK_EQ_INT(run(c, full, 0, 0, 0), 0);
    for (int k = 0; k < 3; k++)
        CHECK_EQ_INT(run(c, p[k], k, 3, 0), 0);
    const char *order1[] = {p[0], p[1], p[2]}, *order2[] = {p[2], p[0], p[2], p[1]};
    CHECK_EQ_INT(merge(m1, order1, 3, &r, msg), 0);
    CHECK(r.complete);
    CHECK_EQ_INT(r.trials_total, 192 * 10);
    CHECK_EQ_INT(r.trials_expected, 192 * 10);
    CHECK_EQ_INT(r.added_trials, 192 * 10);
    CHECK_EQ_INT(merge(m2, order2, 4, &r, msg), 0); /* p[2] twice: adds nothing the second time */
    CHECK_EQ_INT(r.added_trials, 192 * 10);
    CHECK_EQ_INT(merge(m2, order1, 3, &r, msg), 0); /* all again: idempotent */
    CHECK_EQ_INT(r.added_trials, 0);
    CHECK(r.complete);
    char *df = digest(full), *d1 = digest(m1), *d2 = digest(m2);
    CHECK(strlen(df) > 10000);
    CHECK(strcmp(df, d1) == 0);
    CHECK(strcmp(df, d2) == 0);
    free(df);
    free(d1);
    free(d2);
    CHECK(same(full, m1, CAMPAIGN));
    CHECK(same(full, m2, SUMMARY));
    CHECK(same(full, m1, SUMMARY));
    CHECK(same(full, m2, TABLES));
    /* one shard alone is not the campaign */
    char lone[512];
    path(lone, "lone");
    CHECK_EQ_INT(merge(lone, order1, 1, &r, msg), 0);
    CHECK(!r.complete);
    char *st = sql_text(lone, "SELECT status, stop_reason FROM campaigns");
    CHECK(strstr(st, "interrupted|merged 640 of 1920 trials") != NULL);
    free(st);
}

static void check_refusal(const char *out, const char *part, const char *want)
{
    const char *parts[] = {part};
    char msg[512];
    struct au_merge_result r;
    char *before = digest(out);
    CHECK(merge(out, parts, 1, &r, msg) < 0);
    CHECK(strstr(msg, part) != NULL);
    CHECK(strstr(msg, want) != NULL);
    if (!strstr(msg, want))
        fprintf(stderr, "message: %s (wanted '%s')\n", msg, want);
    char *after = digest(out);
    CHECK(strcmp(before, after) == 0); /* nothing of a refused part is kept */
    free(before);
    free(after);
}

static void copy_file(const char *from, const char *to)
{
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "cp %s %s", from, to);
    CHECK_EQ_INT(system(cmd), 0);
}

static void exec_sql(const char *db, const char *sql)
{
    sqlite3 *s;
    CHECK_EQ_INT(sqlite3_open(db, &s), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_exec(s, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(s);
}

static void test_refusals(char p[3][512])
{
    char m1[512], other[512], json[512], newer[512], bad[512], text[512], fresh[512], msg[512];
    struct au_merge_result r;
    path(m1, "merged1");
    path(other, "other");
    path(json, "json");
    path(newer, "newer");
    path(bad, "bad");
    path(text, "text");
    path(fresh, "fresh");
    struct au_campaign *c2 = campaign("other", 32), *c3 = campaign("m", 96);
    if (c2)
        CHECK_EQ_INT(run(c2, other, 0, 3, 0), 0);
    if (c3)
        CHECK_EQ_INT(run(c3, json, 0, 3, 0), 0);
    au_campaign_free(c2);
    au_campaign_free(c3);
    const char *mixed[] = {p[0], other};
    CHECK(merge(fresh, mixed, 2, &r, msg) < 0);
    CHECK(strstr(msg, other) && strstr(msg, "campaign names differs") &&
          strstr(msg, "different campaigns"));
    FILE *f = fopen(fresh, "rb");
    CHECK(f == NULL); /* refused before anything was created */
    if (f)
        fclose(f);
    check_refusal(m1, json, "has a different campaign JSON than");
    copy_file(p[0], newer);
    exec_sql(newer, "UPDATE meta SET value = '2' WHERE key = 'schema_version'");
    check_refusal(m1, newer, "schema version 2 is newer");
    copy_file(p[0], bad);
    exec_sql(bad, "UPDATE trials SET loss = loss + 1 WHERE trial = (SELECT max(trial) FROM"
                  " trials)");
    check_refusal(m1, bad, "trial differs from the one already in");
    /* a part refused after another was merged: the campaign must not look done */
    const char *half[] = {p[0], bad};
    CHECK(merge(fresh, half, 2, &r, msg) < 0);
    char *st = sql_text(fresh, "SELECT status FROM campaigns");
    CHECK(strcmp(st, "interrupted\n") == 0);
    free(st);
    exec_sql(bad, "UPDATE trials SET loss = loss - 1 WHERE trial = (SELECT max(trial) FROM"
                  " trials); UPDATE campaigns SET aurum_version = '9.9.9'");
    check_refusal(m1, bad, "Aurum version 9.9.9");
    check_refusal(m1, m1, "is the output database");
    f = fopen(text, "w");
    if (f) {
        fputs("not a database at all, just some text that is long enough\n", f);
        fclose(f);
    }
    check_refusal(m1, text, "not a database");
}

static void test_interrupted_shard_completes_after_rerun(const struct au_campaign *c,
                                                         char p[3][512])
{
    char full[512], part1[512], m3[512], msg[512];
    struct au_merge_result r;
    path(full, "full");
    path(part1, "interrupted");
    path(m3, "merged3");
    /* A shard killed after its first unit (1 of units 1 and 4): its committed prefix. The
     * runner's stop_after_units may commit units already in flight, so cut the file. */
    copy_file(p[1], part1);
    exec_sql(part1, "DELETE FROM flips WHERE trial % 192 >= 128; DELETE FROM trials WHERE"
                    " trial % 192 >= 128; UPDATE campaigns SET status = 'running', ended = NULL");
    const char *parts[] = {p[0], part1, p[2]};
    CHECK_EQ_INT(merge(m3, parts, 3, &r, msg), 0);
    CHECK(!r.complete);
    CHECK_EQ_INT(r.trials_total, 5 * 320);
    char *st = sql_text(m3, "SELECT status FROM campaigns");
    CHECK(strcmp(st, "interrupted\n") == 0);
    free(st);
    CHECK_EQ_INT(run(c, part1, 1, 3, 0), 0); /* the rerun resumes the shard */
    CHECK_EQ_INT(merge(m3, parts + 1, 1, &r, msg), 0);
    CHECK(r.complete);
    CHECK_EQ_INT(r.added_trials, 320);
    char *df = digest(full), *d3 = digest(m3);
    CHECK(strcmp(df, d3) == 0);
    free(df);
    free(d3);
    CHECK(same(full, m3, SUMMARY));
    CHECK(same(full, m3, CAMPAIGN));
}

int main(void)
{
    const char *env = getenv("AURUM_SOURCE_ROOT");
    snprintf(root, sizeof(root), "%s", env ? env : ".");
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/aurum-test-merge-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    struct au_campaign *c = campaign("m", 192);
    char p[3][512];
    for (int k = 0; k < 3; k++) {
        char name[16];
        snprintf(name, sizeof(name), "part-%d", k);
        path(p[k], name);
    }
    if (c) {
        test_shards_merge_to_the_single_run(c, p);
        test_refusals(p);
        test_interrupted_shard_completes_after_rerun(c, p);
    }
    au_campaign_free(c);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_report("test_merge");
}

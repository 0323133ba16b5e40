/* SQLite results store. Design: WITHOUT ROWID tables keyed (campaign, trial) so a batch of
 * trials appends to one B-tree; one prepared statement per row kind, one transaction per
 * batch, so throughput is bounded by SQLite's B-tree and not by parsing or fsync. Enums are
 * stored as text so plain sqlite3 and pandas read the file without a lookup table; the
 * views use built-in SQL only, and layer_summary (Student-t needs a quantile SQL lacks) is
 * materialized here in C. Statistics helpers (z, t, Wilson) also back the au_* SQL functions. */
#include "store.h"

#include "alloc.h"
#include "analysis/stats.h"

#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#define BUSY_TIMEOUT_MS 5000
#define MAX_LAYER       (1 << 20) /* layer indices beyond this are a caller bug or garbage */

struct au_store {
    sqlite3 *db;
    char *path;
    bool rdonly;
    sqlite3_stmt *ins_trial, *ins_flip;   /* one row */
    sqlite3_stmt *ins_trials, *ins_flips; /* ROWS_PER_INSERT rows */
    int64_t known_campaign;               /* last campaign id seen to exist (0: none) */
};

static const char *const tensor_names[] = {"act", "weight", "mixed"};
static const char *const bits_names[] = {"data", "meta", "mixed"};
static const char *const outcome_names[] = {"masked", "benign", "sdc", "nonfinite"};
static const char *const state_names[] = {"running", "done", "interrupted", "failed"};

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- errors ---------------------------------------------------------------------------- */

/* The user-facing reason for an SQLite failure; the classes the brief names get fixed words
 * so a message says what to do, not just SQLite's code. */
static const char *rc_reason(sqlite3 *db, int rc)
{
    switch (rc & 0xff) {
    case SQLITE_FULL:
        return "disk or database is full (committed batches are kept)";
    case SQLITE_READONLY:
    case SQLITE_PERM:
        return "database is read-only";
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return "file is corrupt or not a database";
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return "database is locked by another writer";
    default:
        return db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    }
}

static int rc_status(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_NOMEM:
        return AU_NOMEM;
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN:
        return AU_IO;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return AU_FORMAT;
    case SQLITE_CONSTRAINT:
        return AU_INVALID;
    default:
        return AU_DB;
    }
}

/* "path:what: reason" for an SQLite return code; returns the AU status. */
static int db_fail(const au_store *s, struct au_diag *d, int rc, const char *what)
{
    return au_diag_set(d, rc_status(rc), "%s:%s: %s", s->path, what, rc_reason(s->db, rc));
}

/* Undo a failed batch; a statement error may already have rolled SQLite back (FULL does). */
static void rollback(au_store *s)
{
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

static int exec(au_store *s, const char *sql, const char *what, struct au_diag *d)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? AU_OK : db_fail(s, d, rc, what);
}

static int prep(au_store *s, const char *sql, sqlite3_stmt **st, const char *what,
                struct au_diag *d)
{
    int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);
    return rc == SQLITE_OK ? AU_OK : db_fail(s, d, rc, what);
}

/* Step a statement that returns no row, then finalize it. */
static int step_done(au_store *s, sqlite3_stmt *st, const char *what, struct au_diag *d)
{
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? AU_OK : db_fail(s, d, rc, what);
}

static int writable(au_store *s, const char *what, struct au_diag *d)
{
    if (!s)
        return au_diag_set(d, AU_INVALID, "store:%s: no store", what);
    if (s->rdonly)
        return au_diag_set(d, AU_IO, "%s:%s: database is read-only (opened with AU_STORE_RDONLY)",
                           s->path, what);
    return AU_OK;
}

static void bind_real(sqlite3_stmt *st, int i, double x)
{
    if (isnan(x))
        sqlite3_bind_null(st, i); // SQLite would do the same; say it here on purpose
    else
        sqlite3_bind_double(st, i, x);
}

static void bind_text(sqlite3_stmt *st, int i, const char *txt)
{
    if (txt)
        sqlite3_bind_text(st, i, txt, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static int name_index(const char *const *names, int n, const unsigned char *txt)
{
    for (int i = 0; txt && i < n; i++)
        if (!strcmp(names[i], (const char *)txt))
            return i;
    return -1;
}

/* ---- statistics (analysis/stats.c: one implementation of each formula) ----------------- */

double au_store_z(double level)
{
    return au_stats_z(level);
}

double au_store_t(double level, double df)
{
    return au_stats_t(level, df);
}

void au_store_wilson(double k, double n, double level, double *lo, double *hi)
{
    au_stats_wilson(k, n, level, lo, hi);
}

static void fn_z(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    double z = au_store_z(sqlite3_value_double(argv[0]));
    if (isnan(z))
        sqlite3_result_null(ctx);
    else
        sqlite3_result_double(ctx, z);
}

static void fn_t(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    double t = au_store_t(sqlite3_value_double(argv[0]), sqlite3_value_double(argv[1]));
    if (isnan(t))
        sqlite3_result_null(ctx);
    else
        sqlite3_result_double(ctx, t);
}

static void fn_wilson(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    double lo, hi;
    au_store_wilson(sqlite3_value_double(argv[0]), sqlite3_value_double(argv[1]),
                    sqlite3_value_double(argv[2]), &lo, &hi);
    double v = sqlite3_user_data(ctx) ? hi : lo;
    if (isnan(v))
        sqlite3_result_null(ctx);
    else
        sqlite3_result_double(ctx, v);
}

static int register_functions(au_store *s, struct au_diag *d)
{
    static int hi_tag;
    const int fl = SQLITE_UTF8 | SQLITE_DETERMINISTIC;
    int rc = sqlite3_create_function(s->db, "au_z", 1, fl, NULL, fn_z, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_create_function(s->db, "au_t", 2, fl, NULL, fn_t, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_create_function(s->db, "au_wilson_lo", 3, fl, NULL, fn_wilson, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_create_function(s->db, "au_wilson_hi", 3, fl, &hi_tag, fn_wilson, NULL, NULL);
    return rc == SQLITE_OK ? AU_OK : db_fail(s, d, rc, "functions");
}

/* ---- SHA-256 (FIPS 180-4) -------------------------------------------------------------- */

struct sha256 {
    uint32_t h[8];
    uint64_t len;
    uint8_t buf[64];
    size_t n_buf;
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(uint32_t h[8], const uint8_t *p)
{
    static const uint32_t k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2};
    uint32_t w[64], v[8];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    memcpy(v, h, sizeof(v));
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = v[7] + (ROR(v[4], 6) ^ ROR(v[4], 11) ^ ROR(v[4], 25)) +
                      ((v[4] & v[5]) ^ (~v[4] & v[6])) + k[i] + w[i];
        uint32_t t2 = (ROR(v[0], 2) ^ ROR(v[0], 13) ^ ROR(v[0], 22)) +
                      ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
        memmove(v + 1, v, 7 * sizeof(v[0]));
        v[4] += t1;
        v[0] = t1 + t2;
    }
    for (int i = 0; i < 8; i++)
        h[i] += v[i];
}

static void sha256_init(struct sha256 *c)
{
    static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(c->h, h0, sizeof(h0));
    c->len = 0;
    c->n_buf = 0;
}

static void sha256_update(struct sha256 *c, const uint8_t *p, size_t n)
{
    c->len += n;
    while (n) {
        if (c->n_buf == 0 && n >= 64) {
            sha256_block(c->h, p);
            p += 64;
            n -= 64;
            continue;
        }
        size_t take = 64 - c->n_buf < n ? 64 - c->n_buf : n;
        memcpy(c->buf + c->n_buf, p, take);
        c->n_buf += take;
        p += take;
        n -= take;
        if (c->n_buf == 64) {
            sha256_block(c->h, c->buf);
            c->n_buf = 0;
        }
    }
}

static void sha256_hex(struct sha256 *c, char hex[65])
{
    uint64_t bits = c->len * 8;
    uint8_t pad[72] = {0x80};
    size_t n_pad = (c->n_buf < 56 ? 56 : 120) - c->n_buf;
    for (int i = 0; i < 8; i++)
        pad[n_pad + (size_t)i] = (uint8_t)(bits >> (56 - 8 * i));
    sha256_update(c, pad, n_pad + 8);
    for (int i = 0; i < 8; i++)
        snprintf(hex + 8 * i, 9, "%08x", (unsigned)c->h[i]);
}

int au_store_hash_file(const char *path, char hex[65], struct au_diag *d)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return au_diag_set(d, AU_IO, "%s: cannot open for hashing: %s", path, strerror(errno));
    uint8_t *buf = au_malloc(1 << 16);
    if (!buf) {
        fclose(f);
        return au_diag_set(d, AU_NOMEM, "%s: no memory for hashing", path);
    }
    struct sha256 c;
    sha256_init(&c);
    size_t got;
    while ((got = fread(buf, 1, 1 << 16, f)) > 0)
        sha256_update(&c, buf, got);
    int bad = ferror(f);
    fclose(f);
    au_free(buf);
    if (bad)
        return au_diag_set(d, AU_IO, "%s: read error while hashing", path);
    sha256_hex(&c, hex);
    return AU_OK;
}

/* ---- schema ---------------------------------------------------------------------------- */

static const char schema_sql[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE campaigns(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    " json TEXT NOT NULL, model_sha256 TEXT, aurum_version TEXT, seed INTEGER NOT NULL,"
    " level REAL NOT NULL CHECK(level > 0 AND level < 1), z REAL NOT NULL,"
    " started TEXT NOT NULL, ended TEXT, status TEXT NOT NULL"
    " CHECK(status IN ('running','done','interrupted','failed')), stop_reason TEXT);"
    "CREATE TABLE layers(campaign INTEGER NOT NULL REFERENCES campaigns(id),"
    " layer INTEGER NOT NULL, name TEXT NOT NULL, op TEXT NOT NULL, macs INTEGER,"
    " n_act INTEGER, n_weight INTEGER, act_format TEXT, weight_format TEXT,"
    " act_elem_bits INTEGER, weight_elem_bits INTEGER, act_meta_bits INTEGER,"
    " weight_meta_bits INTEGER, act_blocks INTEGER, weight_blocks INTEGER,"
    " PRIMARY KEY(campaign, layer)) WITHOUT ROWID;"
    "CREATE TABLE golden(campaign INTEGER NOT NULL REFERENCES campaigns(id),"
    " sample INTEGER NOT NULL, label INTEGER, loss REAL, pred INTEGER, top1_conf REAL,"
    " top2_diff REAL, PRIMARY KEY(campaign, sample)) WITHOUT ROWID;"
    /* CHECKs on the hot tables are OR chains: an IN list rebuilds an ephemeral table on
     * every INSERT, which cost 5x in throughput. */
    "CREATE TABLE trials(campaign INTEGER NOT NULL REFERENCES campaigns(id),"
    " trial INTEGER NOT NULL, layer INTEGER,"
    " tensor_kind TEXT NOT NULL"
    " CHECK(tensor_kind = 'act' OR tensor_kind = 'weight' OR tensor_kind = 'mixed'),"
    " bit_kind TEXT NOT NULL"
    " CHECK(bit_kind = 'data' OR bit_kind = 'meta' OR bit_kind = 'mixed'),"
    " n_flips INTEGER NOT NULL, sample INTEGER NOT NULL, n_samples INTEGER NOT NULL,"
    " loss REAL, delta_loss REAL, mismatch REAL NOT NULL CHECK(mismatch BETWEEN 0 AND 1),"
    " outcome TEXT NOT NULL CHECK(outcome = 'masked' OR outcome = 'benign' OR outcome = 'sdc'"
    " OR outcome = 'nonfinite'),"
    " detected INTEGER NOT NULL, PRIMARY KEY(campaign, trial)) WITHOUT ROWID;"
    "CREATE TABLE flips(campaign INTEGER NOT NULL, trial INTEGER NOT NULL,"
    " seq INTEGER NOT NULL, layer INTEGER,"
    " tensor_kind TEXT NOT NULL CHECK(tensor_kind = 'act' OR tensor_kind = 'weight'),"
    " is_meta INTEGER NOT NULL CHECK(is_meta = 0 OR is_meta = 1),"
    " idx INTEGER NOT NULL, bit INTEGER NOT NULL, field TEXT, value_before REAL,"
    " value_after REAL, PRIMARY KEY(campaign, trial, seq),"
    " FOREIGN KEY(campaign, trial) REFERENCES trials(campaign, trial)) WITHOUT ROWID;"
    "CREATE TABLE layer_summary(campaign INTEGER NOT NULL REFERENCES campaigns(id),"
    " layer INTEGER, tensor_kind TEXT NOT NULL, bit_kind TEXT NOT NULL,"
    " n_trials INTEGER NOT NULL, n_nonfinite INTEGER NOT NULL, n INTEGER NOT NULL,"
    " mean_dloss REAL, var_dloss REAL, sd_dloss REAL, mean_abs_dloss REAL, level REAL NOT NULL,"
    " z REAL, t REAL, z_lo REAL, z_hi REAL, t_lo REAL, t_hi REAL, mismatch_rate REAL,"
    " wilson_lo REAL, wilson_hi REAL, n_masked INTEGER, n_benign INTEGER, n_sdc INTEGER,"
    " n_detected INTEGER, detected_total INTEGER, updated TEXT NOT NULL);"
    "CREATE INDEX layer_summary_campaign ON layer_summary(campaign);"
    "CREATE TABLE poisson(campaign INTEGER NOT NULL REFERENCES campaigns(id), layer INTEGER,"
    " tensor_kind TEXT, mean_flips REAL NOT NULL, p_fault REAL NOT NULL,"
    " conditioned INTEGER NOT NULL CHECK(conditioned = 0 OR conditioned = 1));"
    /* Views: built-in SQL only (sqrt is in Debian's and Python's SQLite). */
    "CREATE VIEW layer_stats AS WITH g AS (SELECT campaign, layer, tensor_kind, bit_kind,"
    " count(*) AS n_trials, sum(outcome = 'nonfinite') AS n_nonfinite,"
    " sum(outcome <> 'nonfinite') AS n,"
    " avg(CASE WHEN outcome <> 'nonfinite' THEN delta_loss END) AS mean_dloss,"
    " avg(CASE WHEN outcome <> 'nonfinite' THEN abs(delta_loss) END) AS mean_abs_dloss,"
    " sum(mismatch) AS k, avg(mismatch) AS mismatch_rate, sum(outcome = 'masked') AS n_masked,"
    " sum(outcome = 'benign') AS n_benign, sum(outcome = 'sdc') AS n_sdc,"
    " sum(detected > 0) AS n_detected FROM trials GROUP BY 1, 2, 3, 4),"
    " v AS (SELECT g.campaign, g.layer, g.tensor_kind, g.bit_kind,"
    " sum((t.delta_loss - g.mean_dloss) * (t.delta_loss - g.mean_dloss)) AS ss"
    " FROM trials t JOIN g ON t.campaign = g.campaign AND t.layer IS g.layer"
    " AND t.tensor_kind = g.tensor_kind AND t.bit_kind = g.bit_kind"
    " WHERE t.outcome <> 'nonfinite' GROUP BY 1, 2, 3, 4),"
    " w AS (SELECT g.*, CASE WHEN g.n > 1 THEN v.ss / (g.n - 1) END AS var_dloss, c.level, c.z"
    " FROM g LEFT JOIN v ON v.campaign = g.campaign AND v.layer IS g.layer"
    " AND v.tensor_kind = g.tensor_kind AND v.bit_kind = g.bit_kind"
    " JOIN campaigns c ON c.id = g.campaign)"
    " SELECT campaign, layer, tensor_kind, bit_kind, n_trials, n_nonfinite, n, mean_dloss,"
    " var_dloss, sqrt(var_dloss) AS sd_dloss, mean_abs_dloss, level, z,"
    " mean_dloss - z * sqrt(var_dloss / n) AS z_lo, mean_dloss + z * sqrt(var_dloss / n) AS z_hi,"
    " mismatch_rate, (mismatch_rate + z * z / (2.0 * n_trials) - z * sqrt(mismatch_rate *"
    " (1 - mismatch_rate) / n_trials + z * z / (4.0 * n_trials * n_trials))) / (1 + z * z /"
    " n_trials) AS wilson_lo, (mismatch_rate + z * z / (2.0 * n_trials) + z * sqrt(mismatch_rate"
    " * (1 - mismatch_rate) / n_trials + z * z / (4.0 * n_trials * n_trials))) / (1 + z * z /"
    " n_trials) AS wilson_hi, n_masked, n_benign, n_sdc, n_detected FROM w;"
    "CREATE VIEW flip_trials AS SELECT t.campaign, t.trial, f.layer, f.tensor_kind, f.is_meta,"
    " f.field, f.bit, f.idx, f.value_before, f.value_after, t.sample, t.loss, t.delta_loss,"
    " t.mismatch, t.outcome, t.detected FROM trials t JOIN flips f"
    " ON f.campaign = t.campaign AND f.trial = t.trial WHERE t.n_flips = 1;"
    "CREATE VIEW bit_stats AS SELECT campaign, layer, tensor_kind, is_meta, field, bit,"
    " count(*) AS n_trials, sum(outcome = 'nonfinite') AS n_nonfinite,"
    " avg(CASE WHEN outcome <> 'nonfinite' THEN delta_loss END) AS mean_dloss,"
    " avg(mismatch) AS mismatch_rate, sum(outcome = 'sdc') AS n_sdc FROM flip_trials"
    " GROUP BY 1, 2, 3, 4, 5, 6;"
    "CREATE VIEW field_stats AS SELECT campaign, layer, tensor_kind, is_meta, field,"
    " count(*) AS n_trials, sum(outcome = 'nonfinite') AS n_nonfinite,"
    " avg(CASE WHEN outcome <> 'nonfinite' THEN delta_loss END) AS mean_dloss,"
    " avg(mismatch) AS mismatch_rate, sum(outcome = 'sdc') AS n_sdc FROM flip_trials"
    " GROUP BY 1, 2, 3, 4, 5;"
    "CREATE VIEW nonfinite_trials AS SELECT c.name AS campaign_name, t.*, f.seq, f.is_meta,"
    " f.idx, f.bit, f.field, f.value_before, f.value_after FROM trials t"
    " JOIN campaigns c ON c.id = t.campaign LEFT JOIN flips f"
    " ON f.campaign = t.campaign AND f.trial = t.trial WHERE t.outcome = 'nonfinite';";

static int count_query(au_store *s, const char *sql, int64_t *out, struct au_diag *d)
{
    sqlite3_stmt *st;
    int rc = prep(s, sql, &st, "schema", d);
    if (rc < 0)
        return rc;
    int step = sqlite3_step(st);
    *out = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return step == SQLITE_ROW || step == SQLITE_DONE ? AU_OK : db_fail(s, d, step, "schema");
}

/* Version of the file's schema: 0 for an empty file, negative status for a foreign one. */
static int read_version(au_store *s, int64_t *ver, struct au_diag *d)
{
    int64_t n_all, n_meta;
    int rc = count_query(s, "SELECT count(*) FROM sqlite_master", &n_all, d);
    if (rc == AU_OK)
        rc = count_query(s, "SELECT count(*) FROM sqlite_master WHERE name = 'meta'", &n_meta, d);
    if (rc < 0)
        return rc;
    *ver = 0;
    if (n_all == 0)
        return AU_OK;
    if (n_meta == 0)
        return au_diag_set(d, AU_FORMAT, "%s:meta: not an Aurum results database (no meta table)",
                           s->path);
    rc = count_query(s,
                     "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'schema_version'"
                     " UNION ALL SELECT -1 LIMIT 1",
                     ver, d);
    if (rc == AU_OK && *ver <= 0)
        return au_diag_set(d, AU_FORMAT, "%s:meta: no valid schema_version", s->path);
    return rc;
}

static int create_schema(au_store *s, struct au_diag *d)
{
    int rc = exec(s, "BEGIN IMMEDIATE", "schema", d);
    if (rc < 0)
        return rc;
    int64_t ver;
    rc = read_version(s, &ver, d); // another process may have created it meanwhile
    if (rc == AU_OK && ver == 0) {
        rc = exec(s, schema_sql, "schema", d);
        char sql[96];
        snprintf(sql, sizeof(sql), "INSERT INTO meta VALUES('schema_version', '%d')",
                 AU_STORE_SCHEMA_VERSION);
        if (rc == AU_OK)
            rc = exec(s, sql, "schema", d);
    }
    if (rc == AU_OK)
        rc = exec(s, "COMMIT", "schema", d);
    if (rc < 0)
        rollback(s);
    return rc;
}

/* Bring the file to AU_STORE_SCHEMA_VERSION. Version 1 is the first, so there is nothing to
 * migrate yet: an older number can only come from a pre-release file and is refused. */
static int check_schema(au_store *s, struct au_diag *d)
{
    int64_t ver;
    int rc = read_version(s, &ver, d);
    if (rc == AU_OK && ver == 0) {
        if (s->rdonly)
            return au_diag_set(d, AU_FORMAT, "%s: empty file, not an Aurum results database",
                               s->path);
        rc = create_schema(s, d);
        if (rc == AU_OK)
            rc = read_version(s, &ver, d);
    }
    if (rc < 0)
        return rc;
    if (ver > AU_STORE_SCHEMA_VERSION)
        return au_diag_set(d, AU_UNSUPPORTED,
                           "%s:meta: schema version %lld is newer than this Aurum's (%d); "
                           "upgrade Aurum to read it",
                           s->path, (long long)ver, AU_STORE_SCHEMA_VERSION);
    if (ver < AU_STORE_SCHEMA_VERSION)
        return au_diag_set(d, AU_UNSUPPORTED,
                           "%s:meta: schema version %lld is older than %d and cannot be "
                           "migrated; write the campaign to a new database",
                           s->path, (long long)ver, AU_STORE_SCHEMA_VERSION);
    return AU_OK;
}

/* ---- open / close ---------------------------------------------------------------------- */

/* SQLite says only "unable to open database file": name the actual cause first. */
static int check_path(const char *path, unsigned flags, struct au_diag *d)
{
    if (!strcmp(path, ":memory:"))
        return AU_OK;
    struct stat st;
    const char *slash = strrchr(path, '/');
    if (slash && slash != path) {
        char dir[4096];
        size_t n = (size_t)(slash - path);
        if (n >= sizeof(dir))
            return au_diag_set(d, AU_INVALID, "%s: path too long", path);
        memcpy(dir, path, n);
        dir[n] = '\0';
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
            return au_diag_set(d, AU_IO, "%s: directory '%s' does not exist", path, dir);
    }
    if (stat(path, &st) != 0) {
        if (errno == ENOENT && (flags & AU_STORE_CREATE) && !(flags & AU_STORE_RDONLY))
            return AU_OK;
        return au_diag_set(d, errno == ENOENT ? AU_NOTFOUND : AU_IO, "%s: %s", path,
                           strerror(errno));
    }
    if (!S_ISREG(st.st_mode))
        return au_diag_set(d, AU_IO, "%s: not a regular file", path);
    return AU_OK;
}

#define ROWS_PER_INSERT 32

/* INSERT INTO <head> VALUES(<row>), ... rows times, in a buffer from au_malloc. */
static char *multi_insert(const char *head, const char *row, int rows)
{
    size_t hl = strlen(head), rl = strlen(row), n = hl + (size_t)rows * (rl + 1) + 1;
    char *sql = au_malloc(n);
    if (!sql)
        return NULL;
    memcpy(sql, head, hl);
    char *p = sql + hl;
    for (int i = 0; i < rows; i++) {
        if (i)
            *p++ = ',';
        memcpy(p, row, rl);
        p += rl;
    }
    *p = '\0';
    return sql;
}

#define SQL_INS_TRIAL_HEAD                                                                         \
    "INSERT INTO trials(campaign, trial, layer, tensor_kind, bit_kind, n_flips, sample,"           \
    " n_samples, loss, delta_loss, mismatch, outcome, detected) VALUES"
#define SQL_INS_FLIP_HEAD                                                                          \
    "INSERT INTO flips(campaign, trial, seq, layer, tensor_kind, is_meta, idx, bit, field,"        \
    " value_before, value_after) VALUES"
static const char sql_ins_trial_head[] = SQL_INS_TRIAL_HEAD;
static const char sql_ins_flip_head[] = SQL_INS_FLIP_HEAD;
static const char sql_ins_trial[] = SQL_INS_TRIAL_HEAD "(?,?,?,?,?,?,?,?,?,?,?,?,?)";
static const char sql_ins_flip[] = SQL_INS_FLIP_HEAD "(?,?,?,?,?,?,?,?,?,?,?)";

static int prep_multi(au_store *s, struct au_diag *d)
{
    char *t = multi_insert(sql_ins_trial_head, "(?,?,?,?,?,?,?,?,?,?,?,?,?)", ROWS_PER_INSERT);
    char *f = multi_insert(sql_ins_flip_head, "(?,?,?,?,?,?,?,?,?,?,?)", ROWS_PER_INSERT);
    int rc = t && f ? prep(s, t, &s->ins_trials, "trials", d)
                    : au_diag_set(d, AU_NOMEM, "out of memory");
    if (rc == AU_OK)
        rc = prep(s, f, &s->ins_flips, "flips", d);
    au_free(t);
    au_free(f);
    return rc;
}

static int configure(au_store *s, struct au_diag *d)
{
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    if (!s->rdonly && sqlite3_db_readonly(s->db, "main") == 1) {
        struct statvfs fs;
        bool ro_fs = statvfs(s->path, &fs) == 0 && (fs.f_flag & ST_RDONLY);
        return au_diag_set(d, AU_IO,
                           "%s: database is read-only (%s); its results can still be read "
                           "with aurum query and aurum report",
                           s->path, ro_fs ? "read-only file system" : "file permissions");
    }
    int rc = count_query(s, "PRAGMA schema_version", &(int64_t){0}, d); // NOTADB shows here
    // Schema first: journal_mode=WAL is persistent, so a foreign file must be refused
    // before it, not left switched to WAL (tests/hardening/old_schema.sh).
    if (rc == AU_OK)
        rc = check_schema(s, d);
    /* Foreign keys stay declared (sqlite3's PRAGMA foreign_key_check can verify a file)
     * but are enforced by check_refs, once per batch rather than per row. */
    if (rc == AU_OK && !s->rdonly)
        rc = exec(s,
                  "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=OFF;"
                  " PRAGMA cache_size=-32768",
                  "open", d);
    if (rc == AU_OK)
        rc = register_functions(s, d);
    if (rc == AU_OK && !s->rdonly)
        rc = prep(s, sql_ins_trial, &s->ins_trial, "trials", d);
    if (rc == AU_OK && !s->rdonly)
        rc = prep(s, sql_ins_flip, &s->ins_flip, "flips", d);
    if (rc == AU_OK && !s->rdonly)
        rc = prep_multi(s, d);
    return rc;
}

int au_store_open(const char *path, unsigned flags, au_store **out, struct au_diag *d)
{
    *out = NULL;
    if (!path || !*path)
        return au_diag_set(d, AU_INVALID, "store: no database path");
    int rc = check_path(path, flags, d);
    if (rc < 0)
        return rc;
    au_store *s = au_calloc(1, sizeof(*s));
    if (!s || !(s->path = au_strdup(path))) {
        au_free(s);
        return au_diag_set(d, AU_NOMEM, "%s: out of memory", path);
    }
    s->rdonly = flags & AU_STORE_RDONLY;
    int oflags = s->rdonly
                     ? SQLITE_OPEN_READONLY
                     : SQLITE_OPEN_READWRITE | (flags & AU_STORE_CREATE ? SQLITE_OPEN_CREATE : 0);
    int src = sqlite3_open_v2(path, &s->db, oflags | SQLITE_OPEN_NOMUTEX, NULL);
    rc = src == SQLITE_OK ? configure(s, d) : db_fail(s, d, src, "open");
    if (rc < 0) {
        au_store_close(s);
        return rc;
    }
    *out = s;
    return AU_OK;
}

void au_store_close(au_store *s)
{
    if (!s)
        return;
    sqlite3_finalize(s->ins_trial);
    sqlite3_finalize(s->ins_flip);
    sqlite3_finalize(s->ins_trials);
    sqlite3_finalize(s->ins_flips);
    sqlite3_close(s->db); // NULL-safe; the last writer's close checkpoints the WAL
    au_free(s->path);
    au_free(s);
}

/* ---- campaigns, layers, golden --------------------------------------------------------- */

/* Reuse the row of a same-named campaign if it is the same campaign; *id = 0 if none. */
static int find_campaign(au_store *s, const struct au_store_campaign_info *ci, int64_t *id,
                         struct au_diag *d)
{
    sqlite3_stmt *st;
    int rc =
        prep(s, "SELECT id, json, model_sha256 FROM campaigns WHERE name = ?", &st, "campaigns", d);
    if (rc < 0)
        return rc;
    bind_text(st, 1, ci->name);
    *id = 0;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        const char *json = (const char *)sqlite3_column_text(st, 1);
        const char *hash = (const char *)sqlite3_column_text(st, 2);
        if (!json || strcmp(json, ci->json))
            rc = au_diag_set(d, AU_INVALID,
                             "%s:campaign '%s': already recorded with a different campaign "
                             "JSON; resume needs the identical file (or use a new name)",
                             s->path, ci->name);
        else if (hash && ci->model_hash && strcmp(hash, ci->model_hash))
            rc = au_diag_set(d, AU_INVALID,
                             "%s:campaign '%s': model file changed since the campaign started "
                             "(SHA-256 %.12s... vs %.12s...)",
                             s->path, ci->name, hash, ci->model_hash);
        else
            *id = sqlite3_column_int64(st, 0);
    } else if (step != SQLITE_DONE) {
        rc = db_fail(s, d, step, "campaigns");
    }
    sqlite3_finalize(st);
    return rc;
}

static int insert_campaign(au_store *s, const struct au_store_campaign_info *ci, int64_t *id,
                           struct au_diag *d)
{
    sqlite3_stmt *st;
    int rc = prep(s,
                  "INSERT INTO campaigns(name, json, model_sha256, aurum_version, seed, level, z,"
                  " started, status) VALUES(?,?,?,?,?,?,?,"
                  " strftime('%Y-%m-%dT%H:%M:%fZ','now'), 'running')",
                  &st, "campaigns", d);
    if (rc < 0)
        return rc;
    bind_text(st, 1, ci->name);
    bind_text(st, 2, ci->json);
    bind_text(st, 3, ci->model_hash);
    bind_text(st, 4, ci->aurum_version);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)ci->seed);
    sqlite3_bind_double(st, 6, ci->level);
    sqlite3_bind_double(st, 7, au_store_z(ci->level));
    rc = step_done(s, st, "campaigns", d);
    *id = sqlite3_last_insert_rowid(s->db);
    return rc;
}

int au_store_campaign_begin(au_store *s, const struct au_store_campaign_info *ci, int64_t *id,
                            bool *resumed, struct au_diag *d)
{
    int rc = writable(s, "campaigns", d);
    if (rc < 0)
        return rc;
    if (!ci || !ci->name || !*ci->name || !ci->json)
        return au_diag_set(d, AU_INVALID, "%s:campaigns: campaign needs a name and its JSON",
                           s->path);
    if (!(ci->level > 0 && ci->level < 1))
        return au_diag_set(d, AU_RANGE, "%s:campaign '%s': confidence level %g not in (0,1)",
                           s->path, ci->name, ci->level);
    *id = 0;
    rc = exec(s, "BEGIN IMMEDIATE", "campaigns", d);
    if (rc == AU_OK)
        rc = find_campaign(s, ci, id, d);
    if (resumed)
        *resumed = rc == AU_OK && *id > 0;
    if (rc == AU_OK && *id > 0) {
        sqlite3_stmt *st;
        rc = prep(s,
                  "UPDATE campaigns SET status = 'running', ended = NULL, stop_reason = NULL"
                  " WHERE id = ?",
                  &st, "campaigns", d);
        if (rc == AU_OK) {
            sqlite3_bind_int64(st, 1, *id);
            rc = step_done(s, st, "campaigns", d);
        }
    } else if (rc == AU_OK) {
        rc = insert_campaign(s, ci, id, d);
    }
    if (rc == AU_OK)
        rc = exec(s, "COMMIT", "campaigns", d);
    if (rc < 0)
        rollback(s);
    return rc;
}

static int end_update(au_store *s, int64_t campaign, int state, const char *reason,
                      struct au_diag *d)
{
    sqlite3_stmt *st;
    int rc = prep(s,
                  "UPDATE campaigns SET status = ?, stop_reason = ?,"
                  " ended = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?",
                  &st, "campaigns", d);
    if (rc < 0)
        return rc;
    bind_text(st, 1, state_names[state]);
    bind_text(st, 2, reason);
    sqlite3_bind_int64(st, 3, campaign);
    rc = step_done(s, st, "campaigns", d);
    if (rc == AU_OK && sqlite3_changes(s->db) == 0)
        rc = au_diag_set(d, AU_NOTFOUND, "%s:campaign %lld: no such campaign", s->path,
                         (long long)campaign);
    return rc;
}

int au_store_campaign_end(au_store *s, int64_t campaign, int state, const char *stop_reason,
                          struct au_diag *d)
{
    int rc = writable(s, "campaigns", d);
    if (rc < 0)
        return rc;
    if (state < 0 || state >= N_OF(state_names))
        return au_diag_set(d, AU_INVALID, "%s:campaign %lld: unknown status %d", s->path,
                           (long long)campaign, state);
    // The summary comes first: if it fails (disk full), the status stays 'running' and a
    // rerun resumes, rather than a 'done' campaign without its summary.
    rc = au_store_summarize(s, campaign, d);
    if (rc == AU_OK)
        rc = end_update(s, campaign, state, stop_reason, d);
    return rc;
}

static void bind_layer(sqlite3_stmt *st, int64_t campaign, const struct au_store_layer *l)
{
    sqlite3_bind_int64(st, 1, campaign);
    sqlite3_bind_int(st, 2, l->index);
    bind_text(st, 3, l->name);
    bind_text(st, 4, l->op);
    sqlite3_bind_int64(st, 5, l->macs);
    sqlite3_bind_int64(st, 6, l->n_act);
    sqlite3_bind_int64(st, 7, l->n_weight);
    bind_text(st, 8, l->act_format);
    bind_text(st, 9, l->weight_format);
    sqlite3_bind_int(st, 10, l->act_elem_bits);
    sqlite3_bind_int(st, 11, l->weight_elem_bits);
    sqlite3_bind_int(st, 12, l->act_meta_bits);
    sqlite3_bind_int(st, 13, l->weight_meta_bits);
    sqlite3_bind_int64(st, 14, l->act_blocks);
    sqlite3_bind_int64(st, 15, l->weight_blocks);
}

static void bind_golden(sqlite3_stmt *st, int64_t campaign, const struct au_store_golden *g)
{
    sqlite3_bind_int64(st, 1, campaign);
    sqlite3_bind_int64(st, 2, g->sample);
    if (g->label >= 0)
        sqlite3_bind_int64(st, 3, g->label);
    else
        sqlite3_bind_null(st, 3);
    bind_real(st, 4, g->loss);
    sqlite3_bind_int64(st, 5, g->pred);
    bind_real(st, 6, g->top1_conf);
    bind_real(st, 7, g->top2_diff);
}

/* Insert n rows through one statement in one transaction; bind(i) fills row i. */
static int insert_many(au_store *s, const char *sql, const char *what, size_t n,
                       void (*bind)(sqlite3_stmt *, int64_t, const void *), int64_t campaign,
                       const void *rows, size_t row_size, struct au_diag *d)
{
    sqlite3_stmt *st = NULL;
    int rc = exec(s, "BEGIN IMMEDIATE", what, d);
    if (rc == AU_OK)
        rc = prep(s, sql, &st, what, d);
    for (size_t i = 0; rc == AU_OK && i < n; i++) {
        bind(st, campaign, (const char *)rows + i * row_size);
        int step = sqlite3_step(st);
        if (step != SQLITE_DONE)
            rc = (step & 0xff) == SQLITE_CONSTRAINT
                     ? au_diag_set(d, AU_INVALID, "%s:%s: row %zu: %s (campaign %lld exists?)",
                                   s->path, what, i, sqlite3_errmsg(s->db), (long long)campaign)
                     : db_fail(s, d, step, what);
        sqlite3_reset(st);
        if (rc < 0)
            sqlite3_finalize(st);
    }
    if (rc == AU_OK) {
        sqlite3_finalize(st);
        rc = exec(s, "COMMIT", what, d);
    }
    if (rc < 0)
        rollback(s);
    return rc;
}

static void bind_layer_v(sqlite3_stmt *st, int64_t c, const void *row)
{
    bind_layer(st, c, row);
}

static void bind_golden_v(sqlite3_stmt *st, int64_t c, const void *row)
{
    bind_golden(st, c, row);
}

int au_store_layers_add(au_store *s, int64_t campaign, const struct au_store_layer *rows, size_t n,
                        struct au_diag *d)
{
    int rc = writable(s, "layers", d);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (!rows[i].name || !rows[i].op || rows[i].index < 0)
            return au_diag_set(d, AU_INVALID,
                               "%s:layers: row %zu needs a name, an op and an "
                               "index >= 0",
                               s->path, i);
    return insert_many(s, "INSERT OR REPLACE INTO layers VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                       "layers", n, bind_layer_v, campaign, rows, sizeof(*rows), d);
}

int au_store_golden_add(au_store *s, int64_t campaign, const struct au_store_golden *rows, size_t n,
                        struct au_diag *d)
{
    int rc = writable(s, "golden", d);
    if (rc < 0)
        return rc;
    return insert_many(s, "INSERT OR REPLACE INTO golden VALUES(?,?,?,?,?,?,?)", "golden", n,
                       bind_golden_v, campaign, rows, sizeof(*rows), d);
}

static void bind_poisson_v(sqlite3_stmt *st, int64_t c, const void *row)
{
    const struct au_store_poisson *p = row;
    sqlite3_bind_int64(st, 1, c);
    if (p->layer >= 0)
        sqlite3_bind_int(st, 2, p->layer);
    else
        sqlite3_bind_null(st, 2);
    if (p->tensor >= 0 && p->tensor < (int32_t)N_OF(tensor_names))
        sqlite3_bind_text(st, 3, tensor_names[p->tensor], -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 3);
    bind_real(st, 4, p->mean_flips);
    bind_real(st, 5, p->p_fault);
    sqlite3_bind_int(st, 6, p->conditioned ? 1 : 0);
}

int au_store_poisson_add(au_store *s, int64_t campaign, const struct au_store_poisson *rows,
                         size_t n, struct au_diag *d)
{
    int rc = writable(s, "poisson", d);
    if (rc < 0)
        return rc;
    char del[96];
    snprintf(del, sizeof(del), "DELETE FROM poisson WHERE campaign = %lld", (long long)campaign);
    rc = exec(s, del, "poisson", d);
    if (rc < 0)
        return rc;
    return insert_many(s, "INSERT INTO poisson VALUES(?,?,?,?,?,?)", "poisson", n, bind_poisson_v,
                       campaign, rows, sizeof(*rows), d);
}

/* ---- trials ---------------------------------------------------------------------------- */

static int check_trial(const au_store *s, const struct au_store_trial *t, struct au_diag *d)
{
    const char *bad = NULL;
    if (t->layer < -1 || t->layer > MAX_LAYER)
        bad = "layer index out of range";
    else if (t->tensor < 0 || t->tensor >= N_OF(tensor_names))
        bad = "unknown tensor kind";
    else if (t->bits < 0 || t->bits >= N_OF(bits_names))
        bad = "unknown bit kind";
    else if (t->outcome < 0 || t->outcome >= N_OF(outcome_names))
        bad = "unknown outcome";
    else if (!(t->mismatch >= 0 && t->mismatch <= 1))
        bad = "mismatch outside [0,1]";
    else if (t->n_flips < 0 || t->n_samples < 1 || t->sample < 0 || t->detected < 0)
        bad = "negative count or sample";
    else if (t->outcome != AU_STORE_OUTCOME_NONFINITE &&
             !(isfinite(t->loss) && isfinite(t->delta_loss)))
        bad = "non-finite loss with an outcome other than 'nonfinite'";
    if (bad)
        return au_diag_set(d, AU_INVALID, "%s:trial %lld: %s", s->path, (long long)t->trial_id,
                           bad);
    return AU_OK;
}

static int check_flip(const au_store *s, const struct au_store_flip *f, struct au_diag *d)
{
    const char *bad = NULL;
    if (f->layer < -1 || f->layer > MAX_LAYER)
        bad = "layer index out of range";
    else if (f->tensor != AU_STORE_TENSOR_ACT && f->tensor != AU_STORE_TENSOR_WEIGHT)
        bad = "tensor kind must be act or weight";
    else if (f->is_meta != 0 && f->is_meta != 1)
        bad = "is_meta must be 0 or 1";
    else if (f->index < 0 || f->bit < 0 || f->bit > 63)
        bad = "index or bit out of range";
    if (bad)
        return au_diag_set(d, AU_INVALID, "%s:flip of trial %lld: %s", s->path,
                           (long long)f->trial_id, bad);
    return AU_OK;
}

/* 1 if (campaign, trial) has a row, 0 if not, negative on error. */
static int trial_exists(au_store *s, int64_t campaign, int64_t trial, struct au_diag *d)
{
    bool done;
    int rc = au_store_trial_done(s, campaign, trial, &done, d);
    return rc < 0 ? rc : done;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static bool has_id(const int64_t *ids, size_t n, int64_t id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && ids[lo] == id;
}

/* The references the schema declares, checked here instead of by SQLite's foreign keys
 * (which cost a B-tree search per row, 16% of the insert time): the campaign exists, and
 * every flip belongs to a trial of this batch or one already stored (found by bisection
 * in the batch's sorted trial ids). */
static int check_refs(au_store *s, int64_t campaign, const struct au_store_trial *rows, size_t n,
                      const struct au_store_flip *flips, size_t n_flips, struct au_diag *d)
{
    if (campaign != s->known_campaign) {
        char sql[96];
        double have = 0;
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM campaigns WHERE id = %lld",
                 (long long)campaign);
        int rc = au_store_query_double(s, sql, &have, d);
        if (rc < 0)
            return rc;
        if (have < 1)
            return au_diag_set(d, AU_NOTFOUND, "%s:trials: no campaign %lld", s->path,
                               (long long)campaign);
        s->known_campaign = campaign;
    }
    int64_t *ids = n_flips ? au_malloc((n + 1) * sizeof(*ids)) : NULL;
    if (n_flips && !ids)
        return au_diag_set(d, AU_NOMEM, "out of memory");
    bool sorted = true;
    for (size_t i = 0; i < n && n_flips; i++) {
        ids[i] = rows[i].trial_id;
        sorted = sorted && (i == 0 || ids[i - 1] < ids[i]);
    }
    if (!sorted)
        qsort(ids, n, sizeof(*ids), cmp_i64);
    int rc = AU_OK;
    for (size_t i = 0; rc == AU_OK && i < n_flips; i++) {
        int64_t id = flips[i].trial_id;
        if (i > 0 && flips[i - 1].trial_id == id)
            continue;
        int found = has_id(ids, n, id) ? 1 : trial_exists(s, campaign, id, d);
        if (found == 0)
            rc = au_diag_set(d, AU_NOTFOUND, "%s:flip %zu: no trial %lld in campaign %lld", s->path,
                             i, (long long)id, (long long)campaign);
        else if (found < 0)
            rc = found;
    }
    au_free(ids);
    return rc;
}

static void bind_trial(sqlite3_stmt *st, int o, int64_t campaign, const struct au_store_trial *t)
{
    sqlite3_bind_int64(st, o + 1, campaign);
    sqlite3_bind_int64(st, o + 2, t->trial_id);
    if (t->layer >= 0)
        sqlite3_bind_int(st, o + 3, t->layer);
    else
        sqlite3_bind_null(st, o + 3);
    bind_text(st, o + 4, tensor_names[t->tensor]);
    bind_text(st, o + 5, bits_names[t->bits]);
    sqlite3_bind_int(st, o + 6, t->n_flips);
    sqlite3_bind_int64(st, o + 7, t->sample);
    sqlite3_bind_int(st, o + 8, t->n_samples);
    bind_real(st, o + 9, t->loss);
    bind_real(st, o + 10, t->delta_loss);
    sqlite3_bind_double(st, o + 11, t->mismatch);
    bind_text(st, o + 12, outcome_names[t->outcome]);
    sqlite3_bind_int(st, o + 13, t->detected);
}

static void bind_flip(sqlite3_stmt *st, int o, int64_t campaign, const struct au_store_flip *f,
                      int seq)
{
    sqlite3_bind_int64(st, o + 1, campaign);
    sqlite3_bind_int64(st, o + 2, f->trial_id);
    sqlite3_bind_int(st, o + 3, seq);
    if (f->layer >= 0)
        sqlite3_bind_int(st, o + 4, f->layer);
    else
        sqlite3_bind_null(st, o + 4);
    bind_text(st, o + 5, tensor_names[f->tensor]);
    sqlite3_bind_int(st, o + 6, f->is_meta);
    sqlite3_bind_int64(st, o + 7, f->index);
    sqlite3_bind_int(st, o + 8, f->bit);
    bind_text(st, o + 9, f->field);
    bind_real(st, o + 10, f->before);
    bind_real(st, o + 11, f->after);
}

/* One statement step; a failed multi-row statement is undone by SQLite on its own. */
static int step_reset(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc;
}

/* Rows go ROWS_PER_INSERT to a statement (a quarter of SQLite's cost per row is the
 * statement's own); a chunk that hits a constraint is retried row by row so the error
 * names the row. */
static int insert_trials(au_store *s, int64_t campaign, const struct au_store_trial *rows, size_t n,
                         struct au_diag *d)
{
    for (size_t i = 0; i < n;) {
        size_t k = n - i >= ROWS_PER_INSERT ? ROWS_PER_INSERT : 1;
        sqlite3_stmt *st = k > 1 ? s->ins_trials : s->ins_trial;
        for (size_t j = 0; j < k; j++)
            bind_trial(st, 13 * (int)j, campaign, &rows[i + j]);
        int rc = step_reset(st);
        if (rc == SQLITE_DONE) {
            i += k;
            continue;
        }
        if (k > 1 && (rc & 0xff) == SQLITE_CONSTRAINT) { /* find the row, one at a time */
            for (size_t j = 0; j < k; j++) {
                bind_trial(s->ins_trial, 0, campaign, &rows[i + j]);
                rc = step_reset(s->ins_trial);
                if (rc != SQLITE_DONE) {
                    i += j;
                    break;
                }
            }
        }
        if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
            return au_diag_set(d, AU_INVALID,
                               "%s:trial %lld: already recorded in campaign %lld "
                               "(duplicate trial id)",
                               s->path, (long long)rows[i].trial_id, (long long)campaign);
        return db_fail(s, d, rc, "trials");
    }
    return AU_OK;
}

static int insert_flips(au_store *s, int64_t campaign, const struct au_store_flip *flips, size_t n,
                        struct au_diag *d)
{
    int seq = 0;
    for (size_t i = 0; i < n;) {
        size_t k = n - i >= ROWS_PER_INSERT ? ROWS_PER_INSERT : 1;
        sqlite3_stmt *st = k > 1 ? s->ins_flips : s->ins_flip;
        int seq0 = seq;
        for (size_t j = 0; j < k; j++) {
            size_t at = i + j;
            seq = at > 0 && flips[at - 1].trial_id == flips[at].trial_id ? seq + 1 : 0;
            bind_flip(st, 11 * (int)j, campaign, &flips[at], seq);
        }
        int rc = step_reset(st);
        if (rc == SQLITE_DONE) {
            i += k;
            continue;
        }
        if (k > 1 && (rc & 0xff) == SQLITE_CONSTRAINT) { /* find the row, one at a time */
            seq = seq0;
            for (size_t j = 0; j < k; j++) {
                size_t at = i + j;
                seq = at > 0 && flips[at - 1].trial_id == flips[at].trial_id ? seq + 1 : 0;
                bind_flip(s->ins_flip, 0, campaign, &flips[at], seq);
                rc = step_reset(s->ins_flip);
                if (rc != SQLITE_DONE) {
                    i = at;
                    break;
                }
            }
        }
        if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
            return au_diag_set(d, AU_INVALID,
                               "%s:flip %zu of trial %lld: trial already has "
                               "flips (a trial's flips must be contiguous, in one batch)",
                               s->path, i, (long long)flips[i].trial_id);
        return db_fail(s, d, rc, "flips");
    }
    return AU_OK;
}

int au_store_trials_add(au_store *s, int64_t campaign, const struct au_store_trial *rows, size_t n,
                        const struct au_store_flip *flips, size_t n_flips, struct au_diag *d)
{
    int rc = writable(s, "trials", d);
    if (rc < 0)
        return rc;
    if ((n && !rows) || (n_flips && !flips))
        return au_diag_set(d, AU_INVALID, "%s:trials: NULL rows", s->path);
    // Validate first so a bad row costs no transaction and leaves no partial batch.
    for (size_t i = 0; rc == AU_OK && i < n; i++)
        rc = check_trial(s, &rows[i], d);
    for (size_t i = 0; rc == AU_OK && i < n_flips; i++)
        rc = check_flip(s, &flips[i], d);
    if (rc == AU_OK)
        rc = exec(s, "BEGIN IMMEDIATE", "trials", d);
    if (rc < 0)
        return rc;
    rc = check_refs(s, campaign, rows, n, flips, n_flips, d);
    if (rc == AU_OK)
        rc = insert_trials(s, campaign, rows, n, d);
    if (rc == AU_OK)
        rc = insert_flips(s, campaign, flips, n_flips, d);
    if (rc == AU_OK)
        rc = exec(s, "COMMIT", "trials", d);
    if (rc < 0)
        rollback(s);
    return rc;
}

int au_store_trial_done(au_store *s, int64_t campaign, int64_t trial_id, bool *done,
                        struct au_diag *d)
{
    sqlite3_stmt *st;
    *done = false;
    int rc = prep(s, "SELECT 1 FROM trials WHERE campaign = ? AND trial = ?", &st, "trials", d);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, campaign);
    sqlite3_bind_int64(st, 2, trial_id);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        return db_fail(s, d, step, "trials");
    *done = step == SQLITE_ROW;
    return AU_OK;
}

int au_store_trials_committed(au_store *s, int64_t campaign, int64_t lo, int64_t hi,
                              uint8_t *bitmap, int64_t *n_done, struct au_diag *d)
{
    if (n_done)
        *n_done = 0;
    if (hi < lo || (hi > lo && !bitmap))
        return au_diag_set(d, AU_INVALID, "%s:trials: bad id range [%lld, %lld)", s->path,
                           (long long)lo, (long long)hi);
    if (hi > lo)
        memset(bitmap, 0, (size_t)((hi - lo + 7) / 8));
    sqlite3_stmt *st;
    int rc = prep(s, "SELECT trial FROM trials WHERE campaign = ? AND trial >= ? AND trial < ?",
                  &st, "trials", d);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, campaign);
    sqlite3_bind_int64(st, 2, lo);
    sqlite3_bind_int64(st, 3, hi);
    int64_t count = 0;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        uint64_t k = (uint64_t)(sqlite3_column_int64(st, 0) - lo);
        bitmap[k >> 3] |= (uint8_t)(1u << (k & 7));
        count++;
    }
    sqlite3_finalize(st);
    if (step != SQLITE_DONE)
        return db_fail(s, d, step, "trials");
    if (n_done)
        *n_done = count;
    return AU_OK;
}

/* ---- summary --------------------------------------------------------------------------- */

/* Running moments of one (layer, tensor kind, bit kind) group (Welford: no cancellation
 * when delta losses are huge, as exponent flips make them). */
struct acc {
    int64_t n_trials, n_nonfinite, n, n_out[4], n_detected, detected_total;
    double mean, m2, abs_sum, mismatch_sum;
};

struct summary {
    struct acc *a; /* (layer + 1) * 9 + tensor * 3 + bits */
    size_t n_a;
};

static int acc_add(struct summary *sm, sqlite3_stmt *st)
{
    int layer = sqlite3_column_type(st, 0) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 0);
    int tk = name_index(tensor_names, 3, sqlite3_column_text(st, 1));
    int bk = name_index(bits_names, 3, sqlite3_column_text(st, 2));
    int oc = name_index(outcome_names, 4, sqlite3_column_text(st, 5));
    if (layer < -1 || layer > MAX_LAYER || tk < 0 || bk < 0 || oc < 0)
        return AU_FORMAT;
    size_t k = ((size_t)layer + 1) * 9 + (size_t)tk * 3 + (size_t)bk;
    if (k >= sm->n_a) {
        size_t n_new = (k + 1) * 2;
        struct acc *a = au_realloc(sm->a, n_new * sizeof(*a));
        if (!a)
            return AU_NOMEM;
        memset(a + sm->n_a, 0, (n_new - sm->n_a) * sizeof(*a));
        sm->a = a;
        sm->n_a = n_new;
    }
    struct acc *g = &sm->a[k];
    double x = sqlite3_column_double(st, 3);
    int detected = sqlite3_column_int(st, 6);
    g->n_trials++;
    g->n_out[oc]++;
    g->mismatch_sum += sqlite3_column_double(st, 4);
    g->n_detected += detected > 0;
    g->detected_total += detected;
    if (oc == AU_STORE_OUTCOME_NONFINITE || sqlite3_column_type(st, 3) == SQLITE_NULL ||
        !isfinite(x)) {
        g->n_nonfinite++;
        return AU_OK;
    }
    g->n++;
    double delta = x - g->mean;
    g->mean += delta / (double)g->n;
    g->m2 += delta * (x - g->mean);
    g->abs_sum += fabs(x);
    return AU_OK;
}

static int scan_trials(au_store *s, int64_t campaign, struct summary *sm, double *level,
                       struct au_diag *d)
{
    sqlite3_stmt *st;
    int rc = prep(s, "SELECT level FROM campaigns WHERE id = ?", &st, "layer_summary", d);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, campaign);
    int step = sqlite3_step(st);
    *level = step == SQLITE_ROW ? sqlite3_column_double(st, 0) : NAN;
    sqlite3_finalize(st);
    if (step == SQLITE_DONE)
        return au_diag_set(d, AU_NOTFOUND, "%s:campaign %lld: no such campaign", s->path,
                           (long long)campaign);
    if (step != SQLITE_ROW)
        return db_fail(s, d, step, "layer_summary");
    rc = prep(s,
              "SELECT layer, tensor_kind, bit_kind, delta_loss, mismatch, outcome, detected"
              " FROM trials WHERE campaign = ?",
              &st, "layer_summary", d);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, campaign);
    while (rc == AU_OK && (step = sqlite3_step(st)) == SQLITE_ROW)
        rc = acc_add(sm, st);
    sqlite3_finalize(st);
    if (rc < 0)
        return au_diag_set(d, rc, "%s:trials: %s while summarizing campaign %lld", s->path,
                           rc == AU_NOMEM ? "out of memory" : "row with unknown kind or outcome",
                           (long long)campaign);
    return step == SQLITE_DONE ? AU_OK : db_fail(s, d, step, "layer_summary");
}

/* Bind one group's statistics to the layer_summary INSERT. */
static void bind_summary(sqlite3_stmt *st, int64_t campaign, size_t k, const struct acc *g,
                         double level)
{
    double n = (double)g->n, var = g->n > 1 ? g->m2 / (n - 1) : NAN;
    double z = au_store_z(level), t = g->n > 1 ? au_store_t(level, n - 1) : NAN;
    double se = sqrt(var / n), mean = g->n ? g->mean : NAN, wlo, whi;
    au_store_wilson(g->mismatch_sum, (double)g->n_trials, level, &wlo, &whi);
    int layer = (int)(k / 9) - 1;
    sqlite3_bind_int64(st, 1, campaign);
    if (layer >= 0)
        sqlite3_bind_int(st, 2, layer);
    else
        sqlite3_bind_null(st, 2);
    bind_text(st, 3, tensor_names[k / 3 % 3]);
    bind_text(st, 4, bits_names[k % 3]);
    sqlite3_bind_int64(st, 5, g->n_trials);
    sqlite3_bind_int64(st, 6, g->n_nonfinite);
    sqlite3_bind_int64(st, 7, g->n);
    const double v[] = {mean,
                        var,
                        sqrt(var),
                        g->n ? g->abs_sum / n : NAN,
                        level,
                        z,
                        t,
                        mean - z * se,
                        mean + z * se,
                        mean - t * se,
                        mean + t * se,
                        g->mismatch_sum / (double)g->n_trials,
                        wlo,
                        whi};
    for (int i = 0; i < N_OF(v); i++)
        bind_real(st, 8 + i, v[i]);
    for (int i = 0; i < 3; i++)
        sqlite3_bind_int64(st, 22 + i, g->n_out[i]);
    sqlite3_bind_int64(st, 25, g->n_detected);
    sqlite3_bind_int64(st, 26, g->detected_total);
}

static int write_summary(au_store *s, int64_t campaign, const struct summary *sm, double level,
                         struct au_diag *d)
{
    sqlite3_stmt *st;
    int rc = prep(s, "DELETE FROM layer_summary WHERE campaign = ?", &st, "layer_summary", d);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, campaign);
    rc = step_done(s, st, "layer_summary", d);
    if (rc == AU_OK)
        rc = prep(s,
                  "INSERT INTO layer_summary VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,"
                  "?,?,?,?, strftime('%Y-%m-%dT%H:%M:%fZ','now'))",
                  &st, "layer_summary", d);
    for (size_t k = 0; rc == AU_OK && k < sm->n_a; k++) {
        if (!sm->a[k].n_trials)
            continue;
        bind_summary(st, campaign, k, &sm->a[k], level);
        int step = sqlite3_step(st);
        sqlite3_reset(st);
        if (step != SQLITE_DONE)
            rc = db_fail(s, d, step, "layer_summary");
        if (rc < 0)
            sqlite3_finalize(st);
    }
    if (rc == AU_OK)
        sqlite3_finalize(st);
    return rc;
}

int au_store_summarize(au_store *s, int64_t campaign, struct au_diag *d)
{
    int rc = writable(s, "layer_summary", d);
    if (rc < 0)
        return rc;
    struct summary sm = {0};
    double level;
    // One transaction: the scan and the rewrite see the same trials, readers see old or new.
    rc = exec(s, "BEGIN IMMEDIATE", "layer_summary", d);
    if (rc == AU_OK)
        rc = scan_trials(s, campaign, &sm, &level, d);
    if (rc == AU_OK)
        rc = write_summary(s, campaign, &sm, level, d);
    if (rc == AU_OK)
        rc = exec(s, "COMMIT", "layer_summary", d);
    if (rc < 0)
        rollback(s);
    au_free(sm.a);
    return rc;
}

/* ---- checks and queries ---------------------------------------------------------------- */

int au_store_check(au_store *s, struct au_diag *d)
{
    sqlite3_stmt *st;
    int rc = prep(s, "PRAGMA integrity_check(1)", &st, "integrity", d);
    if (rc < 0)
        return rc;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        const char *msg = (const char *)sqlite3_column_text(st, 0);
        if (!msg || strcmp(msg, "ok"))
            rc = au_diag_set(d, AU_FORMAT, "%s:integrity: %s", s->path, msg ? msg : "failed");
    } else {
        rc = db_fail(s, d, step, "integrity");
    }
    sqlite3_finalize(st);
    return rc;
}

int au_store_query_double(au_store *s, const char *sql, double *out, struct au_diag *d)
{
    sqlite3_stmt *st;
    *out = NAN;
    int rc = prep(s, sql, &st, "query", d);
    if (rc < 0)
        return rc;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        *out = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    if (step == SQLITE_DONE)
        return au_diag_set(d, AU_NOTFOUND, "%s:query: no row", s->path);
    return step == SQLITE_ROW ? AU_OK : db_fail(s, d, step, "query");
}

int au_store_query_text(au_store *s, const char *sql, char **out, struct au_diag *d)
{
    sqlite3_stmt *st;
    *out = NULL;
    int rc = prep(s, sql, &st, "query", d);
    if (rc < 0)
        return rc;
    int step = sqlite3_step(st);
    const char *v = step == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    if (v && !(*out = au_strdup(v)))
        rc = au_diag_set(d, AU_NOMEM, "%s:query: out of memory", s->path);
    sqlite3_finalize(st);
    if (rc < 0)
        return rc;
    if (step == SQLITE_DONE)
        return au_diag_set(d, AU_NOTFOUND, "%s:query: no row", s->path);
    return step == SQLITE_ROW ? AU_OK : db_fail(s, d, step, "query");
}

/* ---- merging shard databases ----------------------------------------------------------- */

/* The part is ATTACHed as "part" and its campaign ids map to ours through temp.au_merge_map
 * (ids differ when the output file holds other campaigns). Conflicts are looked for before
 * anything is inserted, with NULL-safe IS NOT, so a differing row names itself. */
static const char sql_merge_campaign_clash[] =
    "SELECT p.name, CASE WHEN p.json IS NOT m.json THEN 'a different campaign JSON'"
    " WHEN p.model_sha256 IS NOT m.model_sha256 THEN 'a different model file (SHA-256)'"
    " WHEN p.aurum_version IS NOT m.aurum_version THEN 'Aurum version ' ||"
    " coalesce(p.aurum_version, '?') || ' (vs ' || coalesce(m.aurum_version, '?') || ')'"
    " ELSE 'a different seed' END"
    " FROM part.campaigns p JOIN main.campaigns m ON m.name = p.name"
    " WHERE p.json IS NOT m.json OR p.model_sha256 IS NOT m.model_sha256"
    " OR p.aurum_version IS NOT m.aurum_version OR p.seed IS NOT m.seed LIMIT 1";
static const char sql_merge_trial_clash[] =
    "SELECT p.trial, 'trial' FROM part.trials p JOIN temp.au_merge_map k ON k.src = p.campaign"
    " JOIN main.trials m ON m.campaign = k.dst AND m.trial = p.trial"
    " WHERE m.layer IS NOT p.layer OR m.tensor_kind IS NOT p.tensor_kind"
    " OR m.bit_kind IS NOT p.bit_kind OR m.n_flips IS NOT p.n_flips OR m.sample IS NOT p.sample"
    " OR m.n_samples IS NOT p.n_samples OR m.loss IS NOT p.loss"
    " OR m.delta_loss IS NOT p.delta_loss OR m.mismatch IS NOT p.mismatch"
    " OR m.outcome IS NOT p.outcome OR m.detected IS NOT p.detected"
    " UNION ALL SELECT p.trial, 'flip' FROM part.flips p"
    " JOIN temp.au_merge_map k ON k.src = p.campaign"
    " JOIN main.flips m ON m.campaign = k.dst AND m.trial = p.trial AND m.seq = p.seq"
    " WHERE m.layer IS NOT p.layer OR m.tensor_kind IS NOT p.tensor_kind"
    " OR m.is_meta IS NOT p.is_meta OR m.idx IS NOT p.idx OR m.bit IS NOT p.bit"
    " OR m.field IS NOT p.field OR m.value_before IS NOT p.value_before"
    " OR m.value_after IS NOT p.value_after LIMIT 1";
static const char sql_merge_rows[] =
    "INSERT INTO main.campaigns(name, json, model_sha256, aurum_version, seed, level, z,"
    " started, ended, status, stop_reason) SELECT name, json, model_sha256, aurum_version,"
    /* not the shard's 'done': the merge sets the status once it has counted the trials */
    " seed, level, z, started, NULL, 'interrupted', 'merging shards' FROM part.campaigns"
    " WHERE name NOT IN (SELECT name FROM main.campaigns) ORDER BY id;"
    "UPDATE main.campaigns SET started = (SELECT min(main.campaigns.started, p.started)"
    " FROM part.campaigns p WHERE p.name = main.campaigns.name)"
    " WHERE name IN (SELECT name FROM part.campaigns);"
    "DELETE FROM temp.au_merge_map;"
    "INSERT INTO temp.au_merge_map SELECT p.id, m.id FROM part.campaigns p"
    " JOIN main.campaigns m ON m.name = p.name;";
static const char sql_merge_tables[] =
    "INSERT OR IGNORE INTO main.layers SELECT k.dst, p.layer, p.name, p.op, p.macs, p.n_act,"
    " p.n_weight, p.act_format, p.weight_format, p.act_elem_bits, p.weight_elem_bits,"
    " p.act_meta_bits, p.weight_meta_bits, p.act_blocks, p.weight_blocks"
    " FROM part.layers p JOIN temp.au_merge_map k ON k.src = p.campaign;"
    "INSERT OR IGNORE INTO main.golden SELECT k.dst, p.sample, p.label, p.loss, p.pred,"
    " p.top1_conf, p.top2_diff FROM part.golden p JOIN temp.au_merge_map k ON k.src = p.campaign;"
    /* poisson has no key: every shard wrote the same rows, so take them once */
    "INSERT INTO main.poisson SELECT k.dst, p.layer, p.tensor_kind, p.mean_flips, p.p_fault,"
    " p.conditioned FROM part.poisson p JOIN temp.au_merge_map k ON k.src = p.campaign"
    " WHERE NOT EXISTS (SELECT 1 FROM main.poisson q WHERE q.campaign = k.dst);";
static const char sql_merge_trials[] =
    "INSERT OR IGNORE INTO main.trials SELECT k.dst, p.trial, p.layer, p.tensor_kind,"
    " p.bit_kind, p.n_flips, p.sample, p.n_samples, p.loss, p.delta_loss, p.mismatch,"
    " p.outcome, p.detected FROM part.trials p JOIN temp.au_merge_map k ON k.src = p.campaign"
    " ORDER BY k.dst, p.trial";
static const char sql_merge_flips[] =
    "INSERT OR IGNORE INTO main.flips SELECT k.dst, p.trial, p.seq, p.layer, p.tensor_kind,"
    " p.is_meta, p.idx, p.bit, p.field, p.value_before, p.value_after FROM part.flips p"
    " JOIN temp.au_merge_map k ON k.src = p.campaign ORDER BY k.dst, p.trial, p.seq";

/* First row of a two-column clash query as "path:campaign 'x': has <reason>"-style text;
 * AU_OK when there is none. */
static int merge_clash(au_store *s, const char *part, const char *sql, bool is_campaign,
                       struct au_diag *d)
{
    sqlite3_stmt *st;
    int rc = prep(s, sql, &st, "merge", d);
    if (rc < 0)
        return rc;
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW && is_campaign)
        rc = au_diag_set(d, AU_INVALID,
                         "%s:campaign '%s': has %s than %s; refusing to merge shards of "
                         "different campaigns",
                         part, (const char *)sqlite3_column_text(st, 0),
                         (const char *)sqlite3_column_text(st, 1), s->path);
    else if (step == SQLITE_ROW)
        rc = au_diag_set(d, AU_INVALID,
                         "%s:trial %lld: %s differs from the one already in %s (shards of "
                         "different runs?)",
                         part, (long long)sqlite3_column_int64(st, 0),
                         (const char *)sqlite3_column_text(st, 1), s->path);
    else if (step != SQLITE_DONE)
        rc = db_fail(s, d, step, "merge");
    sqlite3_finalize(st);
    return rc;
}

/* Runs sql and adds the rows it changed to *n (may be NULL). */
static int merge_exec(au_store *s, const char *sql, int64_t *n, struct au_diag *d)
{
    int rc = exec(s, sql, "merge", d);
    if (rc == AU_OK && n)
        *n += sqlite3_changes(s->db);
    return rc;
}

static int merge_attached(au_store *s, const char *part, int64_t *n_trials, int64_t *n_flips,
                          struct au_diag *d)
{
    int rc = exec(s, "BEGIN IMMEDIATE", "merge", d);
    if (rc == AU_OK)
        rc = merge_clash(s, part, sql_merge_campaign_clash, true, d);
    if (rc == AU_OK)
        rc = exec(s, sql_merge_rows, "merge", d);
    if (rc == AU_OK)
        rc = merge_clash(s, part, sql_merge_trial_clash, false, d);
    if (rc == AU_OK)
        rc = exec(s, sql_merge_tables, "merge", d);
    if (rc == AU_OK)
        rc = merge_exec(s, sql_merge_trials, n_trials, d);
    if (rc == AU_OK)
        rc = merge_exec(s, sql_merge_flips, n_flips, d);
    if (rc == AU_OK)
        rc = exec(s, "COMMIT", "merge", d);
    if (rc < 0)
        rollback(s);
    return rc;
}

int au_store_merge(au_store *s, const char *part, int64_t *added_trials, int64_t *added_flips,
                   struct au_diag *d)
{
    int64_t nt = 0, nf = 0;
    int rc = writable(s, "merge", d);
    if (rc < 0)
        return rc;
    if (!part || !*part)
        return au_diag_set(d, AU_INVALID, "%s:merge: no part path", s->path);
    sqlite3_stmt *st;
    rc = exec(s,
              "CREATE TEMP TABLE IF NOT EXISTS au_merge_map(src INTEGER PRIMARY KEY,"
              " dst INTEGER NOT NULL)",
              "merge", d);
    // ATTACH cannot run inside a transaction, hence attach, merge in one, detach.
    if (rc == AU_OK)
        rc = prep(s, "ATTACH DATABASE ? AS part", &st, "merge", d);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(st, 1, part, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step != SQLITE_DONE)
        return au_diag_set(d, rc_status(step), "%s: cannot attach: %s", part,
                           rc_reason(s->db, step));
    rc = merge_attached(s, part, &nt, &nf, d);
    sqlite3_exec(s->db, "DETACH DATABASE part", NULL, NULL, NULL);
    if (added_trials)
        *added_trials = rc == AU_OK ? nt : 0;
    if (added_flips)
        *added_flips = rc == AU_OK ? nf : 0;
    return rc;
}

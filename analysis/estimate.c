/* Estimators over a results database. The store validates the file (its messages for a
 * missing, corrupt or newer file are the ones users know); then this module reads on a
 * read-only connection of its own, so a report can run while a campaign writes. One
 * scan of a campaign's trials accumulates every group with Welford's update; groups are
 * indexed directly by (layer, tensor, bits), as in the store's summary. Poisson
 * campaigns are pooled per target, since p_fault belongs to a target, not a bit kind. */
#include "estimate.h"
#include "estimate_db.h"

#include "campaigns/spec.h"
#include "campaigns/store.h"
#include "core/alloc.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LAYER (1 << 20) /* as the store: larger indices are garbage */

struct au_estimate_db {
    sqlite3 *db;
    char *path;
};

static const char *const tensor_names[] = {"act", "weight", "mixed"};
static const char *const bits_names[] = {"data", "meta", "mixed"};
static const char *const outcome_names[] = {"masked", "benign", "sdc", "nonfinite"};

static int name_index(const char *const *names, int n, const unsigned char *txt)
{
    for (int i = 0; txt && i < n; i++)
        if (!strcmp(names[i], (const char *)txt))
            return i;
    return -1;
}

static int db_fail(const au_estimate_db *e, struct au_diag *d, const char *what)
{
    int rc = sqlite3_errcode(e->db);
    int st = rc == SQLITE_NOMEM ? AU_NOMEM : rc == SQLITE_CORRUPT ? AU_FORMAT : AU_DB;
    return au_diag_set(d, st, "%s:%s: %s", e->path, what, sqlite3_errmsg(e->db));
}

static int prep(au_estimate_db *e, const char *sql, sqlite3_stmt **st, const char *what,
                struct au_diag *d)
{
    if (sqlite3_prepare_v2(e->db, sql, -1, st, NULL) != SQLITE_OK)
        return db_fail(e, d, what);
    return AU_OK;
}

/* ---- SQL functions (the same names and results as the store's connection) ---- */

static void result_or_null(sqlite3_context *ctx, double v)
{
    if (isnan(v))
        sqlite3_result_null(ctx);
    else
        sqlite3_result_double(ctx, v);
}

static void fn_z(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    result_or_null(ctx, au_stats_z(sqlite3_value_double(argv[0])));
}

static void fn_t(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    result_or_null(ctx, au_stats_t(sqlite3_value_double(argv[0]), sqlite3_value_double(argv[1])));
}

static void fn_wilson(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    double lo, hi;
    au_stats_wilson(sqlite3_value_double(argv[0]), sqlite3_value_double(argv[1]),
                    sqlite3_value_double(argv[2]), &lo, &hi);
    result_or_null(ctx, sqlite3_user_data(ctx) ? hi : lo);
}

/* ATTACH would open (or create) another file: a query reads this database only. */
static int authorize(void *user, int action, const char *a, const char *b, const char *db,
                     const char *trigger)
{
    (void)user, (void)a, (void)b, (void)db, (void)trigger;
    return action == SQLITE_ATTACH || action == SQLITE_DETACH ? SQLITE_DENY : SQLITE_OK;
}

static int register_functions(au_estimate_db *e, struct au_diag *d)
{
    static int hi_tag;
    const int fl = SQLITE_UTF8 | SQLITE_DETERMINISTIC;
    int rc = sqlite3_create_function(e->db, "au_z", 1, fl, NULL, fn_z, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_create_function(e->db, "au_t", 2, fl, NULL, fn_t, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_create_function(e->db, "au_wilson_lo", 3, fl, NULL, fn_wilson, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_create_function(e->db, "au_wilson_hi", 3, fl, &hi_tag, fn_wilson, NULL, NULL);
    return rc == SQLITE_OK ? AU_OK : db_fail(e, d, "functions");
}

/* ---- open / close ---- */

int au_estimate_open(const char *path, au_estimate_db **out, struct au_diag *d)
{
    *out = NULL;
    au_store *s;
    int rc = au_store_open(path, AU_STORE_RDONLY, &s, d); // the store's checks and messages
    if (rc < 0)
        return rc;
    au_store_close(s);
    au_estimate_db *e = au_calloc(1, sizeof(*e));
    if (!e || !(e->path = au_strdup(path))) {
        au_free(e);
        return au_diag_set(d, AU_NOMEM, "%s: out of memory", path);
    }
    // Read-only at the file level: no statement can write, whatever the SQL says.
    if (sqlite3_open_v2(path, &e->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK)
        rc = e->db ? db_fail(e, d, "open") : au_diag_set(d, AU_NOMEM, "%s: out of memory", path);
    if (!rc) {
        sqlite3_busy_timeout(e->db, 5000);
        sqlite3_limit(e->db, SQLITE_LIMIT_ATTACHED, 0); // no side doors to other files
        sqlite3_set_authorizer(e->db, authorize, NULL);
        rc = register_functions(e, d);
    }
    if (rc < 0) {
        au_estimate_close(e);
        return rc;
    }
    *out = e;
    return AU_OK;
}

void au_estimate_close(au_estimate_db *e)
{
    if (!e)
        return;
    sqlite3_close(e->db);
    au_free(e->path);
    au_free(e);
}

/* ---- snapshots ---- */

int au_estimate_begin(au_estimate_db *e, struct au_diag *d)
{
    if (!sqlite3_get_autocommit(e->db))
        return au_diag_set(d, AU_INVALID, "%s: a snapshot is already open", e->path);
    // BEGIN alone takes no snapshot: the first read does, so read at once. In WAL mode the
    // snapshot never blocks the runner, which keeps appending trials past it.
    if (sqlite3_exec(e->db, "BEGIN; SELECT count(*) FROM campaigns", NULL, NULL, NULL) !=
        SQLITE_OK) {
        int rc = db_fail(e, d, "snapshot");
        if (!sqlite3_get_autocommit(e->db))
            sqlite3_exec(e->db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    return AU_OK;
}

void au_estimate_end(au_estimate_db *e)
{
    if (e && !sqlite3_get_autocommit(e->db))
        sqlite3_exec(e->db, "ROLLBACK", NULL, NULL, NULL); // read-only: nothing to keep
}

sqlite3 *au_estimate_sqlite(au_estimate_db *e)
{
    return e->db;
}

/* ---- campaigns ---- */

static void copy_text(char *dst, size_t len, const unsigned char *src)
{
    snprintf(dst, len, "%s", src ? (const char *)src : "");
}

/* Process, timing, conditioning and model from the stored campaign file. A file that does
 * not parse leaves -1 (the estimates still work, without the Poisson specifics); running
 * out of memory while parsing is an error of its own, not a "does not parse". */
static int campaign_settings(struct au_estimate_campaign *c, const char *json, size_t len)
{
    struct au_campaign *camp = NULL;
    c->process = c->timing = -1;
    int rc = json ? au_campaign_parse(json, len, "stored.json", &camp, NULL, NULL) : AU_FORMAT;
    if (rc < 0)
        return rc == AU_NOMEM ? AU_NOMEM : AU_OK;
    c->process = (int)camp->process.type;
    c->timing = camp->process.type == AU_CAMPAIGN_POISSON ? (int)camp->process.timing : -1;
    c->conditioned = camp->process.type == AU_CAMPAIGN_POISSON && camp->process.condition_on_fault;
    snprintf(c->model, sizeof(c->model), "%s", camp->model ? camp->model : "");
    au_campaign_free(camp);
    return AU_OK;
}

static int campaign_row(sqlite3_stmt *st, struct au_estimate_campaign *c)
{
    memset(c, 0, sizeof(*c));
    c->id = sqlite3_column_int64(st, 0);
    copy_text(c->name, sizeof(c->name), sqlite3_column_text(st, 1));
    copy_text(c->status, sizeof(c->status), sqlite3_column_text(st, 2));
    c->level = sqlite3_column_double(st, 3);
    c->n_trials = sqlite3_column_int64(st, 5);
    const char *json = (const char *)sqlite3_column_text(st, 4);
    return campaign_settings(c, json, json ? (size_t)sqlite3_column_bytes(st, 4) : 0);
}

static const char sql_campaigns[] =
    "SELECT id, name, status, level, json, (SELECT count(*) FROM trials t WHERE t.campaign = c.id)"
    " FROM campaigns c";

int au_estimate_campaigns(au_estimate_db *e, struct au_estimate_campaign **out, size_t *n,
                          struct au_diag *d)
{
    sqlite3_stmt *st;
    *out = NULL;
    *n = 0;
    char sql[sizeof(sql_campaigns) + 20];
    snprintf(sql, sizeof(sql), "%s ORDER BY id", sql_campaigns);
    int rc = prep(e, sql, &st, "campaigns", d), step = SQLITE_DONE;
    size_t cap = 0;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 8;
            struct au_estimate_campaign *v = au_realloc(*out, cap * sizeof(*v));
            if (!v) {
                rc = au_diag_set(d, AU_NOMEM, "%s: out of memory", e->path);
                break;
            }
            *out = v;
        }
        if (campaign_row(st, &(*out)[(*n)++]) < 0)
            rc = au_diag_set(d, AU_NOMEM, "%s:campaigns: out of memory reading campaign '%s'",
                             e->path, (*out)[*n - 1].name);
    }
    if (!rc && step != SQLITE_DONE)
        rc = db_fail(e, d, "campaigns");
    sqlite3_finalize(st);
    if (rc < 0) {
        au_free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

int au_estimate_find(au_estimate_db *e, const char *name, struct au_estimate_campaign *out,
                     struct au_diag *d)
{
    struct au_estimate_campaign *all;
    size_t n;
    int rc = au_estimate_campaigns(e, &all, &n, d);
    if (rc < 0)
        return rc;
    size_t hit = n;
    for (size_t i = 0; i < n && name; i++)
        if (!strcmp(all[i].name, name))
            hit = i;
    if (!name && n == 1)
        hit = 0;
    if (hit < n) {
        *out = all[hit];
    } else if (name || n == 0) {
        rc = au_diag_set(d, AU_NOTFOUND, "%s: no campaign named '%s' (%zu in the file%s%s)",
                         e->path, name ? name : "", n, n ? ", e.g. " : "", n ? all[0].name : "");
    } else {
        rc = au_diag_set(d, AU_INVALID, "%s: %zu campaigns ('%s', '%s'%s); name one", e->path, n,
                         all[0].name, all[1].name, n > 2 ? ", ..." : "");
    }
    au_free(all);
    return rc;
}

/* ---- estimates ---- */

struct group {
    int64_t n_trials, n_out[4], n_nonfinite, n_detected;
    double mismatch_k;
    struct au_stats_acc acc;
};

struct groups {
    struct group *g; /* indexed by key() */
    size_t n;
    bool pooled; /* Poisson: per target, all bit kinds together */
};

static size_t key(int layer, int tensor, int bits)
{
    return (size_t)(layer + 1) * 16 + (size_t)(tensor + 1) * 4 + (size_t)(bits + 1);
}

static int group_add(struct groups *gs, sqlite3_stmt *st)
{
    int layer = sqlite3_column_type(st, 0) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 0);
    int tk = name_index(tensor_names, 3, sqlite3_column_text(st, 1));
    int bk = name_index(bits_names, 3, sqlite3_column_text(st, 2));
    int oc = name_index(outcome_names, 4, sqlite3_column_text(st, 5));
    if (layer < -1 || layer > MAX_LAYER || tk < 0 || bk < 0 || oc < 0)
        return AU_FORMAT;
    if (gs->pooled) {
        bk = -1;
        tk = layer < 0 ? -1 : tk;
    }
    size_t k = key(layer, tk, bk);
    if (k >= gs->n) {
        size_t n_new = (k + 1) * 2;
        struct group *g = au_realloc(gs->g, n_new * sizeof(*g));
        if (!g)
            return AU_NOMEM;
        memset(g + gs->n, 0, (n_new - gs->n) * sizeof(*g));
        gs->g = g;
        gs->n = n_new;
    }
    struct group *g = &gs->g[k];
    double x = sqlite3_column_double(st, 3);
    int detected = sqlite3_column_int(st, 6);
    g->n_trials++;
    g->n_out[oc]++;
    g->mismatch_k += sqlite3_column_double(st, 4);
    g->n_detected += detected > 0;
    // Non-finite outcomes are counted apart: one NaN would make the mean meaningless.
    if (oc == AU_STORE_OUTCOME_NONFINITE || sqlite3_column_type(st, 3) == SQLITE_NULL ||
        !isfinite(x))
        g->n_nonfinite++;
    else
        au_stats_acc_add(&g->acc, x);
    return AU_OK;
}

static int scan_trials(au_estimate_db *e, const struct au_estimate_campaign *c, struct groups *gs,
                       struct au_diag *d)
{
    sqlite3_stmt *st;
    int rc = prep(e,
                  "SELECT layer, tensor_kind, bit_kind, delta_loss, mismatch, outcome, detected"
                  " FROM trials WHERE campaign = ?",
                  &st, "trials", d),
        step = SQLITE_DONE;
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, c->id);
    while (rc == AU_OK && (step = sqlite3_step(st)) == SQLITE_ROW)
        rc = group_add(gs, st);
    if (rc < 0)
        rc = au_diag_set(d, rc, "%s:trials: %s in campaign '%s'", e->path,
                         rc == AU_NOMEM ? "out of memory" : "row with an unknown kind or outcome",
                         c->name);
    else if (step != SQLITE_DONE)
        rc = db_fail(e, d, "trials");
    sqlite3_finalize(st);
    return rc;
}

/* The poisson row of a group: same layer (NULL = model-wide), same tensor or any. */
static int poisson_factor(au_estimate_db *e, const struct au_estimate_campaign *c,
                          struct au_estimate *est, struct au_diag *d)
{
    sqlite3_stmt *st;
    est->p_fault = 1;
    est->mean_flips = NAN;
    est->conditioned = false;
    int rc = prep(e,
                  "SELECT mean_flips, p_fault, conditioned FROM poisson WHERE campaign = ?1"
                  " AND layer IS ?2 AND (tensor_kind IS NULL OR ?3 IS NULL OR tensor_kind = ?3)",
                  &st, "poisson", d);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, c->id);
    if (est->layer >= 0)
        sqlite3_bind_int(st, 2, est->layer);
    if (est->tensor >= 0 && est->tensor < 3)
        sqlite3_bind_text(st, 3, tensor_names[est->tensor], -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        est->mean_flips = sqlite3_column_double(st, 0);
        est->conditioned = sqlite3_column_int(st, 2) != 0;
        if (est->conditioned)
            est->p_fault = sqlite3_column_double(st, 1);
        if (!(est->p_fault >= 0 && est->p_fault <= 1))
            rc = au_diag_set(d, AU_FORMAT, "%s:poisson: p_fault %g outside [0, 1] (campaign '%s')",
                             e->path, est->p_fault, c->name);
    } else if (step != SQLITE_DONE) {
        rc = db_fail(e, d, "poisson");
    }
    sqlite3_finalize(st);
    return rc;
}

static void layer_name(au_estimate_db *e, const struct au_estimate_campaign *c,
                       struct au_estimate *est)
{
    sqlite3_stmt *st;
    snprintf(est->name, sizeof(est->name), "%s", est->layer < 0 ? "model" : "");
    if (est->layer < 0 ||
        sqlite3_prepare_v2(e->db, "SELECT name FROM layers WHERE campaign = ? AND layer = ?", -1,
                           &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_int64(st, 1, c->id);
    sqlite3_bind_int(st, 2, est->layer);
    if (sqlite3_step(st) == SQLITE_ROW)
        copy_text(est->name, sizeof(est->name), sqlite3_column_text(st, 0));
    else
        snprintf(est->name, sizeof(est->name), "layer %d", est->layer);
    sqlite3_finalize(st);
}

/* Intervals of one group, then the Poisson factor on estimate and bounds alike. */
static int finish(au_estimate_db *e, const struct au_estimate_campaign *c,
                  const struct au_estimate_opts *o, const struct group *g, struct au_estimate *est,
                  struct au_diag *d)
{
    est->level = o && o->level > 0 ? o->level : c->level;
    est->method = o ? o->method : AU_STATS_WILSON;
    est->n_trials = g->n_trials;
    est->n_masked = g->n_out[AU_STORE_OUTCOME_MASKED];
    est->n_benign = g->n_out[AU_STORE_OUTCOME_BENIGN];
    est->n_sdc = g->n_out[AU_STORE_OUTCOME_SDC];
    est->n_nonfinite = g->n_nonfinite;
    est->n_detected = g->n_detected;
    est->mismatch_k = g->mismatch_k;
    au_stats_mean_ci(&g->acc, est->level, &est->dloss);
    double n = (double)g->n_trials, k = fmin(g->mismatch_k, n); // rounding of fractional sums
    est->mismatch = n > 0 ? k / n : NAN;
    if (au_stats_rate_ci(est->method, k, n, est->level, &est->mismatch_lo, &est->mismatch_hi) < 0)
        return au_diag_set(d, AU_INVALID, "%s: campaign '%s': bad interval method %d or level %g",
                           e->path, c->name, est->method, est->level);
    layer_name(e, c, est);
    int rc = poisson_factor(e, c, est, d);
    if (rc < 0)
        return rc;
    au_stats_mean_scale(&est->dloss, est->p_fault);
    est->mismatch *= est->p_fault;
    est->mismatch_lo *= est->p_fault;
    est->mismatch_hi *= est->p_fault;
    return AU_OK;
}

static int check_opts(au_estimate_db *e, const struct au_estimate_opts *o, struct au_diag *d)
{
    if (o && (o->level < 0 || o->level >= 1 || isnan(o->level)))
        return au_diag_set(d, AU_INVALID, "%s: confidence level %g is not in (0, 1)", e->path,
                           o->level);
    if (o && !au_stats_method_name(o->method))
        return au_diag_set(d, AU_INVALID, "%s: unknown interval method %d", e->path, o->method);
    return AU_OK;
}

int au_estimate_layers(au_estimate_db *e, const struct au_estimate_campaign *c,
                       const struct au_estimate_opts *o, struct au_estimate **out, size_t *n,
                       struct au_diag *d)
{
    *out = NULL;
    *n = 0;
    struct groups gs = {NULL, 0, c->process == AU_CAMPAIGN_POISSON};
    int rc = check_opts(e, o, d);
    if (!rc)
        rc = scan_trials(e, c, &gs, d);
    size_t m = 0;
    for (size_t k = 0; !rc && k < gs.n; k++)
        m += gs.g[k].n_trials > 0;
    if (!rc && m && !(*out = au_calloc(m, sizeof(**out))))
        rc = au_diag_set(d, AU_NOMEM, "%s: out of memory", e->path);
    for (size_t k = 0; !rc && k < gs.n; k++) {
        if (!gs.g[k].n_trials)
            continue;
        struct au_estimate *est = &(*out)[(*n)++];
        est->layer = (int32_t)(k / 16) - 1;
        est->tensor = (int32_t)(k / 4 % 4) - 1;
        est->bits = (int32_t)(k % 4) - 1;
        rc = finish(e, c, o, &gs.g[k], est, d);
    }
    au_free(gs.g);
    if (rc < 0) {
        au_free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

int au_estimate_model(au_estimate_db *e, const struct au_estimate_campaign *c,
                      const struct au_estimate_opts *o, struct au_estimate *out, struct au_diag *d)
{
    memset(out, 0, sizeof(*out));
    if (c->process == AU_CAMPAIGN_POISSON && c->timing == AU_CAMPAIGN_SINGLE_LAYER)
        return au_diag_set(d, AU_UNSUPPORTED,
                           "%s: campaign '%s' is a single-layer Poisson campaign: each layer has "
                           "its own E[L_t]; use the per-layer estimates",
                           e->path, c->name);
    struct groups gs = {NULL, 0, c->process == AU_CAMPAIGN_POISSON};
    int rc = check_opts(e, o, d);
    if (!rc)
        rc = scan_trials(e, c, &gs, d);
    // Pool every group: for model-wide Poisson trials there is only the layer -1 one.
    struct group all = {0};
    for (size_t k = 0; !rc && k < gs.n; k++) {
        const struct group *g = &gs.g[k];
        all.n_trials += g->n_trials;
        for (int i = 0; i < 4; i++)
            all.n_out[i] += g->n_out[i];
        all.n_nonfinite += g->n_nonfinite;
        all.n_detected += g->n_detected;
        all.mismatch_k += g->mismatch_k;
        au_stats_acc_merge(&all.acc, &g->acc);
    }
    au_free(gs.g);
    out->layer = out->tensor = out->bits = -1;
    if (!rc)
        rc = finish(e, c, o, &all, out, d);
    if (!rc && c->process != AU_CAMPAIGN_POISSON)
        snprintf(out->name, sizeof(out->name), "all layers");
    return rc;
}

/* ---- queries ---- */

/* Prepares every statement of sql into *v (*n of them) and refuses any that writes. */
static int prepare_all(au_estimate_db *e, const char *sql, sqlite3_stmt ***v, size_t *n,
                       struct au_diag *d)
{
    size_t cap = 0;
    *v = NULL;
    *n = 0;
    for (const char *p = sql; p && *p;) {
        sqlite3_stmt *st = NULL;
        const char *tail;
        if (sqlite3_prepare_v2(e->db, p, -1, &st, &tail) != SQLITE_OK)
            return au_diag_set(d, AU_INVALID, "%s:query: %s", e->path,
                               sqlite3_errcode(e->db) == SQLITE_AUTH
                                   ? "ATTACH and DETACH are refused (a query reads this "
                                     "database only)"
                                   : sqlite3_errmsg(e->db));
        p = tail;
        if (!st) // whitespace or a comment
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 4;
            sqlite3_stmt **nv = au_realloc(*v, cap * sizeof(*nv));
            if (!nv) {
                sqlite3_finalize(st);
                return au_diag_set(d, AU_NOMEM, "%s: out of memory", e->path);
            }
            *v = nv;
        }
        (*v)[(*n)++] = st;
        if (!sqlite3_stmt_readonly(st))
            return au_diag_set(d, AU_INVALID,
                               "%s:query: statement %zu would modify the database (queries are "
                               "read-only): %.60s",
                               e->path, *n, sqlite3_sql(st) + strspn(sqlite3_sql(st), " \t\r\n"));
    }
    return AU_OK;
}

static int run_statement(au_estimate_db *e, sqlite3_stmt *st, au_estimate_row_fn fn, void *user,
                         struct au_diag *d)
{
    int nc = sqlite3_column_count(st), rc = AU_OK, step = SQLITE_DONE;
    const char **names = au_calloc((size_t)nc + 1, sizeof(*names));
    const char **vals = au_calloc((size_t)nc + 1, sizeof(*vals));
    if (!names || !vals) {
        au_free(names);
        au_free(vals);
        return au_diag_set(d, AU_NOMEM, "%s: out of memory", e->path);
    }
    for (int i = 0; i < nc; i++)
        names[i] = sqlite3_column_name(st, i);
    bool stop = nc > 0 && fn(user, nc, names, NULL) != 0;
    while (!stop && (step = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < nc; i++)
            vals[i] = (const char *)sqlite3_column_text(st, i);
        stop = nc > 0 && fn(user, nc, names, vals) != 0;
    }
    if (!stop && step != SQLITE_DONE)
        rc = au_diag_set(d, AU_DB, "%s:query: %s", e->path, sqlite3_errmsg(e->db));
    au_free(names);
    au_free(vals);
    return rc;
}

int au_estimate_query(au_estimate_db *e, const char *sql, au_estimate_row_fn fn, void *user,
                      struct au_diag *d)
{
    sqlite3_stmt **v;
    size_t n;
    int rc = prepare_all(e, sql, &v, &n, d);
    if (!rc && n == 0)
        rc = au_diag_set(d, AU_INVALID, "%s:query: no SQL statement", e->path);
    for (size_t i = 0; !rc && i < n; i++)
        rc = run_statement(e, v[i], fn, user, d);
    for (size_t i = 0; i < n; i++)
        sqlite3_finalize(v[i]);
    au_free(v);
    return rc;
}

/* Merging shard databases. Design: the SQL lives in the store (au_store_merge ATTACHes a
 * part and copies it in one transaction); this file is the policy. Every part is opened
 * and compared with the first before anything is written, so a wrong file refuses the whole
 * merge instead of leaving half of it in. Completeness is recomputed from the trials, not
 * from the parts' statuses (each shard says 'done' for its own slice): the campaign JSON
 * gives the trial count, so a missing or interrupted shard leaves the status 'interrupted'. */
#include "merge.h"

#include "alloc.h"
#include "spec.h"
#include "store.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What must agree between parts: one string per column over the campaigns, by name. */
#define N_IDENT 5
static const char *const ident_sql[N_IDENT] = {
    "SELECT group_concat(name, char(10)) FROM (SELECT name FROM campaigns ORDER BY name)",
    "SELECT group_concat(json, char(10)) FROM (SELECT json FROM campaigns ORDER BY name)",
    "SELECT group_concat(ifnull(model_sha256, ''), char(10)) FROM (SELECT model_sha256 FROM"
    " campaigns ORDER BY name)",
    "SELECT group_concat(ifnull(aurum_version, ''), char(10)) FROM (SELECT aurum_version FROM"
    " campaigns ORDER BY name)",
    "SELECT group_concat(seed, char(10)) FROM (SELECT seed FROM campaigns ORDER BY name)"};
static const char *const ident_what[N_IDENT] = {"campaign names", "campaign JSON",
                                                "model file (SHA-256)", "Aurum version", "seed"};

struct ident {
    char *v[N_IDENT];
};

static void ident_fini(struct ident *id)
{
    for (int i = 0; i < N_IDENT; i++)
        au_free(id->v[i]);
    memset(id, 0, sizeof(*id));
}

/* Open a part read-only (which checks it is an Aurum database of our schema version) and
 * read what identifies its campaigns. */
static int read_ident(const char *part, struct ident *id, struct au_diag *d)
{
    au_store *s;
    memset(id, 0, sizeof(*id));
    int rc = au_store_open(part, AU_STORE_RDONLY, &s, d);
    for (int i = 0; rc == AU_OK && i < N_IDENT; i++)
        rc = au_store_query_text(s, ident_sql[i], &id->v[i], d);
    au_store_close(s);
    if (rc == AU_OK && !id->v[0])
        rc = au_diag_set(d, AU_INVALID, "%s:campaigns: no campaign in this database", part);
    if (rc < 0)
        ident_fini(id);
    return rc;
}

static int check_parts(const char *out, const char *const *parts, size_t n, struct au_diag *d)
{
    char *out_real = realpath(out, NULL); // NULL if out does not exist yet: no clash possible
    struct ident first = {0}, cur = {0};
    int rc = AU_OK;
    for (size_t k = 0; rc == AU_OK && k < n; k++) {
        char *real = realpath(parts[k], NULL);
        if (real && out_real && !strcmp(real, out_real))
            rc = au_diag_set(d, AU_INVALID,
                             "%s: is the output database; a part cannot be "
                             "merged into itself",
                             parts[k]);
        free(real);
        if (rc == AU_OK)
            rc = read_ident(parts[k], k ? &cur : &first, d);
        for (int i = 0; rc == AU_OK && k && i < N_IDENT; i++)
            if (strcmp(first.v[i], cur.v[i]))
                rc = au_diag_set(d, AU_INVALID,
                                 "%s:campaigns: %s differs from %s's; refusing to merge shards "
                                 "of different campaigns",
                                 parts[k], ident_what[i], parts[0]);
        ident_fini(&cur);
    }
    ident_fini(&first);
    free(out_real);
    return rc;
}

/* Trials of the campaign in a complete run: per-target processes number trials
 * target * T + i and every unit holds trials of every target, so the targets present are
 * those of any non-empty shard. */
static int expected_trials(au_store *s, const char *out, int64_t cid, int64_t *expected,
                           int64_t *total, struct au_diag *d)
{
    char sql[256], *json = NULL;
    snprintf(sql, sizeof(sql), "SELECT json FROM campaigns WHERE id = %" PRId64, cid);
    int rc = au_store_query_text(s, sql, &json, d);
    struct au_campaign *c = NULL;
    if (rc == AU_OK)
        rc = json ? au_campaign_parse(json, strlen(json), out, &c, NULL, d)
                  : au_diag_set(d, AU_FORMAT, "%s:campaign %" PRId64 ": no JSON", out, cid);
    au_free(json);
    if (rc < 0)
        return rc;
    bool per_target =
        c->process.type == AU_CAMPAIGN_PER_LAYER || c->process.timing == AU_CAMPAIGN_SINGLE_LAYER;
    int64_t per = c->process.trials > 0 ? c->process.trials : 1;
    au_campaign_free(c);
    double n_targets = 1, n = 0;
    snprintf(sql, sizeof(sql),
             "SELECT count(DISTINCT trial / %" PRId64 ") FROM trials WHERE campaign = %" PRId64,
             per, cid);
    if (per_target)
        rc = au_store_query_double(s, sql, &n_targets, d);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM trials WHERE campaign = %" PRId64, cid);
    if (rc == AU_OK)
        rc = au_store_query_double(s, sql, &n, d);
    *expected = per * (int64_t)(n_targets > 1 ? n_targets : 1);
    *total = (int64_t)n;
    return rc;
}

/* Status, stop reason, end time and layer_summary of one merged campaign. */
static int finish_campaign(au_store *s, const char *out, int64_t cid, struct au_merge_result *r,
                           struct au_diag *d)
{
    int64_t expected = 0, total = 0;
    int rc = expected_trials(s, out, cid, &expected, &total, d);
    if (rc < 0)
        return rc;
    bool done = total >= expected;
    char reason[160];
    if (done)
        snprintf(reason, sizeof(reason), "all trials done (merged from shards)");
    else
        snprintf(reason, sizeof(reason), "merged %" PRId64 " of %" PRId64 " trials", total,
                 expected);
    r->trials_total += total;
    r->trials_expected += expected;
    r->complete = r->complete && done;
    return au_store_campaign_end(s, cid, done ? AU_STORE_DONE : AU_STORE_INTERRUPTED, reason, d);
}

/* The id in out of a campaign name; names are quoted by doubling single quotes. */
static int campaign_id(au_store *s, const char *out, const char *name, int64_t *cid,
                       struct au_diag *d)
{
    char *q = au_malloc(strlen(name) * 2 + 64);
    if (!q)
        return au_diag_set(d, AU_NOMEM, "%s: out of memory", out);
    size_t j = (size_t)sprintf(q, "SELECT id FROM campaigns WHERE name = '");
    for (const char *p = name; *p; p++) {
        q[j++] = *p;
        if (*p == '\'')
            q[j++] = '\'';
    }
    strcpy(q + j, "'");
    double v = 0;
    int rc = au_store_query_double(s, q, &v, d);
    au_free(q);
    *cid = (int64_t)v;
    return rc;
}

/* Finish every campaign of the parts (out may hold others, which are left alone). */
static int finish_all(au_store *s, const char *out, const char *first, struct au_merge_result *r,
                      struct au_diag *d)
{
    struct ident id;
    int rc = read_ident(first, &id, d);
    if (rc < 0)
        return rc;
    r->complete = true;
    for (char *name = id.v[0], *next; rc == AU_OK && name; name = next) {
        next = strchr(name, '\n');
        if (next)
            *next++ = '\0';
        int64_t cid = 0;
        rc = campaign_id(s, out, name, &cid, d);
        if (rc == AU_OK)
            rc = finish_campaign(s, out, cid, r, d);
        r->campaigns++;
    }
    ident_fini(&id);
    return rc;
}

int au_merge_files(const char *out, const char *const *parts, size_t n, struct au_merge_result *r,
                   struct au_diag *d)
{
    memset(r, 0, sizeof(*r));
    if (!out || !parts || n == 0)
        return au_diag_set(d, AU_INVALID, "merge: need an output database and at least one part");
    int rc = check_parts(out, parts, n, d);
    au_store *s = NULL;
    if (rc == AU_OK)
        rc = au_store_open(out, AU_STORE_CREATE, &s, d);
    for (size_t k = 0; rc == AU_OK && k < n; k++) {
        int64_t nt = 0, nf = 0;
        rc = au_store_merge(s, parts[k], &nt, &nf, d);
        r->added_trials += nt;
        r->added_flips += nf;
        r->parts += rc == AU_OK;
    }
    if (rc == AU_OK)
        rc = finish_all(s, out, parts[0], r, d);
    au_store_close(s);
    return rc;
}

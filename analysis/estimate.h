/* Estimates from a results database (docs/database.md, fault-model.md): per layer the
 * mean delta loss with z and t intervals (non-finite trials counted apart) and the
 * mismatch rate with a Wilson, Clopper-Pearson or normal interval; per model E[L_t]
 * (Poisson, model-wide timing) or E[L_T] (layer-wise). For a Poisson campaign
 * conditioned on N >= 1, estimate and interval are multiplied by p_fault = P(N >= 1)
 * from the poisson table. Computed from the trials at each call, so always current.
 * The database is opened read-only, on a connection of its own (readers never block
 * the runner), and has the au_z, au_t, au_wilson_lo/hi SQL functions.
 *
 *   au_estimate_db *db;
 *   struct au_estimate_campaign c;
 *   struct au_estimate *rows; size_t n;
 *   if (au_estimate_open("results.db", &db, &d) < 0) return fail(d.msg);
 *   au_estimate_find(db, "lenet-fp16", &c, &d);           // NULL: the only campaign
 *   struct au_estimate_opts o = {0.99, AU_STATS_WILSON};
 *   au_estimate_layers(db, &c, &o, &rows, &n, &d);        // au_free(rows)
 *   au_estimate_close(db);
 */
#ifndef AU_ANALYSIS_ESTIMATE_H
#define AU_ANALYSIS_ESTIMATE_H

#include "analysis/stats.h"
#include "core/status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct au_estimate_db au_estimate_db;

/* What the stored campaign file says (process: enum au_campaign_process, timing: enum
 * au_campaign_timing; -1 if the stored JSON does not parse). */
struct au_estimate_campaign {
    int64_t id;
    char name[128], status[16], model[256];
    double level; /* confidence level the campaign was run at */
    int process, timing;
    bool conditioned; /* Poisson trials drawn given N >= 1 */
    int64_t n_trials;
};

struct au_estimate_opts {
    double level; /* 0: the campaign's level */
    int method;   /* enum au_stats_method for the mismatch rate; Wilson is 0 */
};

/* One group of trials: a (layer, tensor kind, bit kind) as in layer_summary, or the model. */
struct au_estimate {
    int32_t layer;  /* layer index; -1: model-wide trials or the whole model */
    int32_t tensor; /* enum au_store_tensor; -1: all kinds */
    int32_t bits;   /* enum au_store_bits; -1: all kinds */
    char name[128]; /* layer name from the layers table, or "model" */
    int64_t n_trials, n_nonfinite, n_masked, n_benign, n_sdc, n_detected;
    struct au_stats_mean dloss;                /* finite trials only; times p_fault */
    double mismatch_k;                         /* sum of the trials' mismatch (k of the rate) */
    double mismatch, mismatch_lo, mismatch_hi; /* rate and interval, times p_fault */
    double level;
    int method;
    double p_fault;    /* the factor applied: P(N >= 1) if conditioned, else 1 */
    double mean_flips; /* Poisson: E[N] of a trial; NaN otherwise */
    bool conditioned;
};

/* Row callback of au_estimate_query: values[i] is NULL for SQL NULL. Non-zero stops. */
typedef int (*au_estimate_row_fn)(void *user, int n_cols, const char *const *names,
                                  const char *const *values);

/* Opens path read-only; checks it is an Aurum results database (one-line errors from the
 * store: missing, corrupt, newer schema). *out: au_estimate_close. */
int au_estimate_open(const char *path, au_estimate_db **out, struct au_diag *d);
void au_estimate_close(au_estimate_db *db); /* NULL is a no-op */

/* Pins one snapshot of the file: until au_estimate_end, every call on db (estimates,
 * queries) sees the database as it was at this call, even while a campaign appends trials
 * (WAL: the reader never blocks the writer). AU_INVALID if one is already open. */
int au_estimate_begin(au_estimate_db *db, struct au_diag *d);
void au_estimate_end(au_estimate_db *db); /* no snapshot or NULL: a no-op */

/* All campaigns, by id: *out (au_free) receives *n rows. */
int au_estimate_campaigns(au_estimate_db *db, struct au_estimate_campaign **out, size_t *n,
                          struct au_diag *d);
/* The campaign called name; name NULL: the only one (AU_INVALID naming them if several).
 * AU_NOTFOUND naming the database and the campaign. */
int au_estimate_find(au_estimate_db *db, const char *name, struct au_estimate_campaign *out,
                     struct au_diag *d);

/* Per-group estimates ordered by layer (model-wide trials first), tensor, bits. *out
 * (au_free) receives *n rows; a campaign without trials gives none. o may be NULL. */
int au_estimate_layers(au_estimate_db *db, const struct au_estimate_campaign *c,
                       const struct au_estimate_opts *o, struct au_estimate **out, size_t *n,
                       struct au_diag *d);
/* Model level: E[L_t] / E[L_T] over the model-wide trials of a Poisson campaign, scaled
 * by its p_fault; for a per-layer campaign, all its trials pooled (not an E[L]).
 * AU_UNSUPPORTED for single-layer Poisson campaigns (each layer has its own p_fault). */
int au_estimate_model(au_estimate_db *db, const struct au_estimate_campaign *c,
                      const struct au_estimate_opts *o, struct au_estimate *out, struct au_diag *d);

/* Runs sql (one or more statements) and calls fn for each row. Every statement is
 * prepared and checked first: one that would write is refused with AU_INVALID before
 * anything runs. A syntax error names the database and quotes SQLite's message. */
int au_estimate_query(au_estimate_db *db, const char *sql, au_estimate_row_fn fn, void *user,
                      struct au_diag *d);

#endif

/* The results store: one SQLite file per campaign output (schema in docs/database.md).
 * The store owns the sqlite3 connection; no SQLite type leaves this module. Trials go in
 * through a batched writer, one transaction per call, so a crash, a full disk or a kill
 * loses at most the batch in flight and never a committed one. Not thread-safe: one
 * thread (the runner's committer) uses a store; readers open their own.
 *
 *   au_store *s;
 *   struct au_store_campaign_info ci = {"lenet-fp16", json, hash, "0.1.0", 42, 0.95};
 *   int64_t cid;
 *   if (au_store_open("out.db", AU_STORE_CREATE, &s, d) < 0) return ...;
 *   au_store_campaign_begin(s, &ci, &cid, &resumed, d);   // same name + JSON = resume
 *   au_store_layers_add(s, cid, layers, n_layers, d);
 *   au_store_trials_add(s, cid, rows, n, flips, n_flips, d); // repeat per batch
 *   au_store_campaign_end(s, cid, AU_STORE_DONE, "fixed trial count", d);
 *   au_store_close(s);
 */
#ifndef AU_STORE_H
#define AU_STORE_H

#include "status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AU_STORE_SCHEMA_VERSION 1

/* au_store_open flags. Without AU_STORE_CREATE a missing file is an error. */
#define AU_STORE_RDONLY 1u
#define AU_STORE_CREATE 2u

/* Persisted as text ('act', 'data', 'sdc', ...): append-only, never renumber. */
enum au_store_tensor { AU_STORE_TENSOR_ACT, AU_STORE_TENSOR_WEIGHT, AU_STORE_TENSOR_MIXED };
enum au_store_bits { AU_STORE_BITS_DATA, AU_STORE_BITS_META, AU_STORE_BITS_MIXED };
enum au_store_outcome {
    AU_STORE_OUTCOME_MASKED,
    AU_STORE_OUTCOME_BENIGN,
    AU_STORE_OUTCOME_SDC,
    AU_STORE_OUTCOME_NONFINITE
};
enum au_store_state { AU_STORE_RUNNING, AU_STORE_DONE, AU_STORE_INTERRUPTED, AU_STORE_FAILED };

typedef struct au_store au_store;

/* Strings are borrowed for the duration of the call. */
struct au_store_campaign_info {
    const char *name, *json; /* json: the full campaign file, compared verbatim on resume */
    const char *model_hash;  /* hex SHA-256 of the model file (au_store_hash_file) */
    const char *aurum_version;
    uint64_t seed; /* stored as its int64 bit pattern */
    double level;  /* confidence level of intervals, in (0,1), e.g. 0.95 */
};

/* One layer. Formats are format strings ("fp16", "bfp(m=7,block=16)"); NULL = fp32. */
struct au_store_layer {
    int32_t index;
    const char *name, *op;
    int64_t macs;
    int64_t n_act, n_weight; /* element counts */
    const char *act_format, *weight_format;
    int32_t act_elem_bits, weight_elem_bits;
    int32_t act_meta_bits, weight_meta_bits; /* metadata bits per block */
    int64_t act_blocks, weight_blocks;
};

struct au_store_golden {
    int64_t sample;
    int64_t label; /* < 0: none (stored NULL) */
    double loss;
    int64_t pred;
    double top1_conf, top2_diff;
};

/* One trial. NaN losses are stored as NULL (SQLite has no NaN); +-inf as +-Inf. */
struct au_store_trial {
    int64_t trial_id; /* unique per campaign: the resume key */
    int32_t layer;    /* layer index, -1 = model-wide (stored NULL) */
    int32_t tensor;   /* enum au_store_tensor */
    int32_t bits;     /* enum au_store_bits */
    int32_t n_flips;
    int64_t sample;    /* first sample index */
    int32_t n_samples; /* samples averaged into loss (>= 1) */
    double loss, delta_loss;
    double mismatch;  /* in [0,1]; 0/1 for a classifier */
    int32_t outcome;  /* enum au_store_outcome */
    int32_t detected; /* range detector firings */
};

/* One flip, in order of application. A trial's flips must be contiguous in the array. */
struct au_store_flip {
    int64_t trial_id;
    int32_t layer;
    int32_t tensor;  /* AU_STORE_TENSOR_ACT or _WEIGHT */
    int32_t is_meta; /* 0: index is an element, 1: a metadata block */
    int64_t index;
    int32_t bit;          /* bit 0 = LSB of the code or metadata word */
    const char *field;    /* "sign", "exp", "scale", ...; may be NULL */
    double before, after; /* decoded values (NaN stored as NULL) */
};

/* Open or create the database at path (its directory must exist). Writable stores use WAL,
 * synchronous=NORMAL and a busy timeout. *out is owned by the caller: au_store_close. */
int au_store_open(const char *path, unsigned flags, au_store **out, struct au_diag *d);
/* Close (NULL is a no-op). Anything not committed by a finished call is not kept. */
void au_store_close(au_store *s);

/* Create the campaign row, or resume it if name and JSON (and model hash) match an existing
 * one (*resumed = true; status back to running). A different JSON under the name: AU_INVALID. */
int au_store_campaign_begin(au_store *s, const struct au_store_campaign_info *info, int64_t *id,
                            bool *resumed, struct au_diag *d);
/* Set status, end time and stop reason (may be NULL), then materialize layer_summary. */
int au_store_campaign_end(au_store *s, int64_t campaign, int state, const char *stop_reason,
                          struct au_diag *d);

/* Insert or replace layer / golden rows (idempotent, so a resumed run may repeat them). */
int au_store_layers_add(au_store *s, int64_t campaign, const struct au_store_layer *rows, size_t n,
                        struct au_diag *d);
int au_store_golden_add(au_store *s, int64_t campaign, const struct au_store_golden *rows, size_t n,
                        struct au_diag *d);

/* Poisson campaigns: the mean number of flips of a trial and P(N >= 1), per target (layer
 * and tensor kind) or model-wide (layer -1, tensor -1). With conditioned trials (N >= 1),
 * unconditional estimates are p_fault times the conditional ones. Replaces the rows. */
struct au_store_poisson {
    int32_t layer, tensor;
    double mean_flips, p_fault;
    bool conditioned;
};
int au_store_poisson_add(au_store *s, int64_t campaign, const struct au_store_poisson *rows,
                         size_t n, struct au_diag *d);
/* One batch: all rows and flips in one transaction, all or nothing. A duplicate trial id
 * or a row out of range is an error naming the trial; nothing of the batch is kept. */
int au_store_trials_add(au_store *s, int64_t campaign, const struct au_store_trial *rows, size_t n,
                        const struct au_store_flip *flips, size_t n_flips, struct au_diag *d);
/* Whether trial_id of campaign is committed. */
int au_store_trial_done(au_store *s, int64_t campaign, int64_t trial_id, bool *done,
                        struct au_diag *d);
/* Committed trial ids in [lo, hi) as a bitmap (bit id-lo, LSB first; caller-owned,
 * (hi-lo+7)/8 bytes, cleared here); *n_done (may be NULL) gets their count. */
int au_store_trials_committed(au_store *s, int64_t campaign, int64_t lo, int64_t hi,
                              uint8_t *bitmap, int64_t *n_done, struct au_diag *d);

/* Recompute the campaign's rows of the layer_summary table (the end does it too). */
int au_store_summarize(au_store *s, int64_t campaign, struct au_diag *d);
/* PRAGMA integrity_check: AU_FORMAT with SQLite's first complaint if the file is damaged. */
int au_store_check(au_store *s, struct au_diag *d);
/* Run a SELECT returning one number on the store's connection (which has the au_z, au_t and
 * au_wilson_lo/hi SQL functions); NULL gives NaN. */
int au_store_query_double(au_store *s, const char *sql, double *out, struct au_diag *d);

/* Statistics behind the SQL functions. level in (0,1); NaN if out of range. */
double au_store_z(double level);            /* Phi^-1(1 - (1-level)/2) */
double au_store_t(double level, double df); /* Student-t two-sided quantile, df > 0 */
/* Wilson interval for k successes of n (k may be fractional). n = 0 gives [0,1]. */
void au_store_wilson(double k, double n, double level, double *lo, double *hi);

/* Hex SHA-256 of a file's bytes into hex (65 chars with the NUL). */
int au_store_hash_file(const char *path, char hex[65], struct au_diag *d);

/* Shards (campaigns/merge.h has the policy). Copy every campaign of the Aurum database file
 * part into s in one transaction (all or nothing): the campaign row if s lacks it (status
 * 'interrupted' until the caller counts the trials; a same-named one must have the same
 * JSON, model hash, Aurum version and seed: AU_INVALID otherwise), then layers, golden,
 * poisson, trials and flips, keeping rows s already has. A trial or flip in both with
 * different values is AU_INVALID naming it. *added_trials and *added_flips (may be NULL)
 * get the rows that were new. part's schema is not checked here: au_store_open it first. */
int au_store_merge(au_store *s, const char *part, int64_t *added_trials, int64_t *added_flips,
                   struct au_diag *d);
/* Run a SELECT returning one text value; *out (caller-owned, au_free) is NULL for NULL. */
int au_store_query_text(au_store *s, const char *sql, char **out, struct au_diag *d);

#endif

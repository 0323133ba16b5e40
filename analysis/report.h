/* Reports of a results database (docs/database.md): one campaign's numbers, read in one
 * transaction (a running campaign gives a consistent snapshot) with intervals from
 * analysis/stats.h at a chosen level and rate interval (default: the campaign's level,
 * Wilson), then written as report.html (inline SVG and CSS, no script, no network),
 * report.md, layers.csv, bits.csv and campaigns.csv.
 *
 *   struct au_report *r;
 *   struct au_estimate_opts eo = {0.99, AU_STATS_CLOPPER_PEARSON};  // NULL: level, Wilson
 *   if (au_report_load("results.db", "lenet-fp16", &eo, &r, d) < 0) // NULL: the only campaign
 *       return ...;
 *   struct au_report_opts o = {.log_scale = true};
 *   rc = au_report_write(r, "out", &o, d);                        // the five files
 *   au_report_free(r);
 */
#ifndef AU_ANALYSIS_REPORT_H
#define AU_ANALYSIS_REPORT_H

#include "estimate.h"
#include "stats.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct au_diag;

enum au_report_csv { AU_REPORT_CSV_LAYERS, AU_REPORT_CSV_BITS, AU_REPORT_CSV_CAMPAIGNS };

/* A layer of the model as recorded (layers table); formats "fp32" when none. */
struct au_report_model_layer {
    int32_t layer;
    const char *name, *op, *act_format, *weight_format, *label; /* label: short, for charts */
    int32_t act_elem_bits, weight_elem_bits, act_meta_bits, weight_meta_bits;
};

/* One fault target: trials of a layer (-1: model-wide) by tensor kind and bit kind, as
 * analysis/estimate.h groups them ("all": a Poisson campaign pools the kinds). */
struct au_report_layer {
    int32_t layer;
    char tensor[8], bits[8]; /* "act"/"weight"/"mixed"/"all", "data"/"meta"/"mixed"/"all" */
    int64_t n_trials, n_nonfinite, n_masked, n_benign, n_sdc, n_detected, detected_total;
    struct au_stats_mean dloss;      /* finite trials only; times p_fault */
    double mismatch, mis_lo, mis_hi; /* rate over all trials, its interval; times p_fault */
    double p_fault;                  /* P(N >= 1) for Poisson trials conditioned on it, else 1 */
    int rank;                        /* 1 = largest mean dloss; no finite trial ranks last */
};

/* Single-flip trials that hit one bit of one layer's tensor (element code or metadata). */
struct au_report_bit {
    int32_t layer, bit;
    bool is_meta;
    char tensor[8];
    const char *field; /* "exponent", ...; "" when not recorded */
    int64_t n_trials, n_nonfinite, n_sdc;
    double mismatch_sum, mean_dloss, mis_lo, mis_hi;
    double share; /* of all single-flip mismatches of the campaign, in [0,1] */
};

/* The same, summed over layers and bits by field (bits lo..hi seen in the flips). */
struct au_report_field {
    bool is_meta;
    const char *field;
    int32_t bit_lo, bit_hi;
    int64_t n_trials, n_nonfinite, n_sdc;
    double mismatch_sum, mean_dloss, share;
};

/* A campaign of the same model (model_sha256): all its trials (total) or one layer's. */
struct au_report_cmp {
    int64_t campaign;
    const char *name, *formats; /* formats: "act fp16; weights fp32" of the targeted tensors */
    bool total;
    int32_t layer;
    int64_t n_trials, n_nonfinite;
    struct au_stats_mean dloss;
    double mismatch, mis_lo, mis_hi;
};

/* Everything is owned by the report; strings may be NULL when the database has none. */
struct au_report {
    const char *db_path, *name, *description, *model, *model_sha256, *aurum_version;
    const char *started, *ended, *status, *stop_reason, *json;
    const char *targets, *fault, *process, *stop, *formats, *poisson; /* one-line summaries */
    int64_t id, n_flips;
    uint64_t seed;
    double level; /* of every interval shown (the campaign's unless the caller chose) */
    int method;   /* enum au_stats_method of the rate intervals */
    struct au_report_cmp total; /* this campaign over all its trials */
    struct au_report_model_layer *model_layers;
    struct au_report_layer *layers; /* by layer, tensor, bits */
    struct au_report_bit *bits;     /* by layer, tensor, is_meta, bit */
    struct au_report_field *fields; /* largest share of the mismatches first */
    struct au_report_cmp *cmp;      /* per campaign (by id): total row, then its layers */
    char **summary;                 /* plain-language sentences */
    bool partial;                   /* status not "done": the trials recorded so far */
    size_t n_model_layers, n_layers, n_bits, n_fields, n_cmp, n_summary;
    char **strs_; /* private: strings to free */
    size_t n_strs_, cap_strs_;
};

struct au_report_opts {
    bool log_scale; /* log y axes for the dloss and mismatch charts */
};

/* Load campaign (NULL: the database's only campaign) from the database at path, intervals
 * at o's level (0: the campaign's) and rate method (o NULL: the campaign's level, Wilson).
 * *out is the caller's (au_report_free). A missing or foreign file, an unknown campaign
 * (the message lists them), a campaign without trials or a bad level or method is a
 * negative status and one line. */
int au_report_load(const char *path, const char *campaign, const struct au_estimate_opts *o,
                   struct au_report **out, struct au_diag *d);
void au_report_free(struct au_report *r); /* NULL is a no-op */

/* Writers: 0, AU_IO if the stream failed, AU_NOMEM, AU_INVALID for a NULL argument. */
int au_report_write_html(const struct au_report *r, FILE *f, const struct au_report_opts *o);
int au_report_write_md(const struct au_report *r, FILE *f);
int au_report_write_csv(const struct au_report *r, int table, FILE *f);
/* dir/report.html, dir/report.md and the CSV files (dir must exist); an error names the file. */
int au_report_write(const struct au_report *r, const char *dir, const struct au_report_opts *o,
                    struct au_diag *d);

/* Lookups and formatting shared by the writers. */
const struct au_report_model_layer *au_report_find_layer(const struct au_report *r, int32_t layer);
const char *au_report_layer_format(const struct au_report *r, const struct au_report_layer *l);
/* "2 classifier.1/Gemm", with "act/data" added when the campaign has several target kinds. */
void au_report_target_label(const struct au_report *r, const struct au_report_layer *l, char *buf,
                            size_t len);
/* "Wilson", "Clopper-Pearson", "normal": the rate interval as the report names it. */
const char *au_report_method_label(int method);
/* "0.0123" (4 significant digits), "1.2e-05"; NaN: "n/a". */
void au_report_num(char *buf, size_t len, double v);
/* A rate as a percentage: "12.3%", "0.051%"; NaN: "n/a". */
void au_report_pct(char *buf, size_t len, double p);
const char *au_report_csv_name(int table); /* "layers.csv", ...; NULL if out of range */
/* A format string cut after its first three parameters: "int{bits:8,symmetric:true,...}". */
#define AU_REPORT_FORMAT_SHORT 96
void au_report_short_format(const char *fmt, char *buf, size_t len);

#endif

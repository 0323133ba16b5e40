/* The campaign file (docs/campaigns.md): JSON -> a checked struct au_campaign with every
 * default filled in. Parsing needs no model: it checks keys, types and ranges and reports
 * EVERY problem as "file: $.json.path: reason"; campaigns/validate.h then checks the
 * campaign against the model and the format plugins.
 *
 *   struct au_campaign *c;
 *   struct au_problems probs = {0};
 *   struct au_diag d;
 *   if (au_campaign_load("campaigns/examples/x.json", &c, &probs, &d) < 0) {
 *       for (size_t i = 0; i < probs.n; i++) fprintf(stderr, "%s\n", probs.msg[i]);
 *       ...
 *   }
 *   use(c->model, c->process.trials, c->json);
 *   au_campaign_free(c);  au_problems_fini(&probs);
 */
#ifndef AU_CAMPAIGNS_SPEC_H
#define AU_CAMPAIGNS_SPEC_H

#include "core/status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bit masks. tensors: which tensors of a layer; bits: element codes or metadata words. */
#define AU_CAMPAIGN_ACT      1u /* a layer's output activations */
#define AU_CAMPAIGN_WEIGHTS  2u /* its weight input */
#define AU_CAMPAIGN_DATA     1u /* element code bits */
#define AU_CAMPAIGN_META     2u /* block metadata bits */
#define AU_CAMPAIGN_MAX_NORM 16

/* Spelled as strings in the file; append only. */
enum au_campaign_fault {
    AU_CAMPAIGN_BIT_FLIP,
    AU_CAMPAIGN_STUCK_AT_0,
    AU_CAMPAIGN_STUCK_AT_1,
    AU_CAMPAIGN_RANDOM_VALUE
};
enum au_campaign_process { AU_CAMPAIGN_PER_LAYER, AU_CAMPAIGN_POISSON };
enum au_campaign_timing {
    AU_CAMPAIGN_MODEL_WIDE,
    AU_CAMPAIGN_LAYER_WISE,
    AU_CAMPAIGN_SINGLE_LAYER
};
enum au_campaign_stop { AU_CAMPAIGN_STOP_FIXED, AU_CAMPAIGN_STOP_CI };
enum au_campaign_metric { AU_CAMPAIGN_DELTA_LOSS, AU_CAMPAIGN_MISMATCH };
enum au_campaign_meta { AU_CAMPAIGN_REINTERPRET, AU_CAMPAIGN_REQUANTIZE };

/* Every problem found, one line each "file: $.path: reason" (au_malloc'd strings). */
struct au_problems {
    char **msg;
    size_t n, cap;
};

/* A list of layer selectors: node name, glob, "op:Conv" or "*". */
struct au_selectors {
    char **v;
    int n;
};

/* formats.layers[i]: a later rule overrides earlier ones and the global default. */
struct au_campaign_format_rule {
    struct au_selectors select;
    char *weights, *activations; /* format strings; NULL = not set by this rule */
};

/* process.rates[i]: lambda for the bits it matches; 0/NULL/empty = any. Later wins. */
struct au_campaign_rate {
    uint32_t bits, tensors; /* AU_CAMPAIGN_DATA/META; AU_CAMPAIGN_ACT/WEIGHTS */
    char *field;            /* a field name of the format's layout */
    struct au_selectors layers;
    double rate;
};

/* process.times[i]: live time of the selected layers (layer_wise timing). */
struct au_campaign_time {
    struct au_selectors select;
    double time;
};

struct au_campaign {
    char *path, *dir; /* the campaign file and its directory (paths below are joined to it) */
    char *json;       /* the file as parsed, cJSON_PrintUnformatted: what the store records */
    char *name, *description, *model, *database;
    struct {
        char *inputs, *labels;
        int64_t samples; /* first N samples of the file; 0 = all */
        bool only_correct;
        int32_t n_norm; /* 0 = none; mean/std used for uint8 images only */
        float mean[AU_CAMPAIGN_MAX_NORM], std[AU_CAMPAIGN_MAX_NORM];
    } data;
    int64_t batch;
    struct {
        char *weights, *activations; /* global default; NULL = float32, no emulation */
        struct au_campaign_format_rule *rules;
        int n_rules;
    } formats;
    struct {
        struct au_selectors layers;
        uint32_t tensors, bits;
        char **fields; /* empty: no field filter */
        int n_fields;
        int *bit_positions, *meta_bit_positions;
        int n_bit_positions, n_meta_bit_positions;
    } targets;
    enum au_campaign_fault fault;
    struct {
        enum au_campaign_process type;
        int64_t flips;  /* per_layer: flips per trial */
        int64_t trials; /* per layer (per_layer, single_layer) or in all; stop fixed */
        double rate;    /* poisson: default lambda per bit per unit time */
        struct au_campaign_rate *rates;
        int n_rates;
        enum au_campaign_timing timing;
        double time;         /* model_wide, single_layer; layer_wise: unused */
        double time_per_mac; /* layer_wise: T = time_per_mac * MACs; 0 = not given */
        struct au_campaign_time *times;
        int n_times;
        bool condition_on_fault;
    } process;
    bool range_detector;
    enum au_campaign_meta metadata_faults;
    bool metadata_faults_given; /* set explicitly in the file */
    struct {
        enum au_campaign_stop type;
        enum au_campaign_metric metric;
        double confidence, half_width;
        int64_t min_trials, max_trials;
    } stop;
    uint64_t seed;
};

/* Reads and parses the file at path. On success *out is a new campaign (au_campaign_free).
 * On failure *out is NULL, every problem is appended to probs (may be NULL), d gets the
 * first one, and the status is AU_IO (unreadable), AU_FORMAT (bad JSON or bad campaign)
 * or AU_NOMEM. */
int au_campaign_load(const char *path, struct au_campaign **out, struct au_problems *probs,
                     struct au_diag *d);
/* As au_campaign_load, but a file with problems in its fields (AU_FORMAT after the JSON
 * itself parsed) still gives *out: every field that had a problem holds its default. For
 * checks that report more problems at once (aurum validate); never run it. */
int au_campaign_load_partial(const char *path, struct au_campaign **out, struct au_problems *probs,
                             struct au_diag *d);
/* As au_campaign_load, from text[0..len); path names it and gives the base directory. */
int au_campaign_parse(const char *text, size_t len, const char *path, struct au_campaign **out,
                      struct au_problems *probs, struct au_diag *d);
/* Frees c and everything in it; NULL is a no-op. */
void au_campaign_free(struct au_campaign *c);

/* Names of enum values as spelled in the file ("per_layer"); never NULL. */
const char *au_campaign_fault_name(enum au_campaign_fault f);
const char *au_campaign_process_name(enum au_campaign_process p);
const char *au_campaign_timing_name(enum au_campaign_timing t);

/* Appends "fmt..." to p (NULL: nothing). AU_FORMAT, or AU_NOMEM if it could not. */
int au_problems_add(struct au_problems *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Frees the messages and zeroes p; safe on a zeroed list. */
void au_problems_fini(struct au_problems *p);

#endif

/* Helpers shared by the subcommands: error printing, option values, model loading. */
#ifndef AU_CLI_COMMON_H
#define AU_CLI_COMMON_H

#include "dataset.h"
#include "graph.h"
#include "studies.h"

#include <stdbool.h>
#include <stdint.h>

/* Print "aurum: <msg>" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Parse an integer option value in [lo, hi]; prints an error naming opt on failure. */
bool cli_parse_i64(const char *opt, const char *s, int64_t lo, int64_t hi, int64_t *out);
bool cli_parse_f64(const char *opt, const char *s, double *out);
/* Value of option argv[*i] (advances *i); prints an error when missing. */
const char *cli_optarg(int argc, char **argv, int *i);
/* Load and prepare a model; prints the error. flags as au_graph_prepare. */
int cli_load_model(const char *path, int64_t batch, unsigned flags, struct au_graph **out);
/* Monotonic time in seconds. */
double cli_now(void);

/* Options shared by the commands that read data. */
struct cli_data_opts {
    const char *model, *inputs, *labels, *out;
    int64_t batch, limit, threads;
    float mean[AU_DATASET_MAX_CH], std[AU_DATASET_MAX_CH];
    int32_t n_mean, n_std;
};
/* Parse argv[*i] if it is one of the shared options (--inputs --labels --out --batch
 * --limit --threads --mean --std, or the positional model). Returns 1 if consumed, 0 if
 * not one of them, -1 on a bad value (already printed). */
int cli_data_opt(int argc, char **argv, int *i, struct cli_data_opts *o);
/* Load the model input's dataset (single-input models). Prints errors. */
int cli_open_inputs(struct au_graph *g, const struct cli_data_opts *o, struct au_dataset *ds);
/* Targets as int64: n samples x positions (1 for a classifier, T for an LM). */
int cli_open_targets(const char *path, int64_t n, int64_t positions, struct au_array *out);

/* What the number-format studies need: data, labels, plugins and the float32 pass. */
struct cli_study {
    struct au_dataset ds;
    struct au_array tgt;
    au_numsys_registry *reg;
    struct au_study *st;
};
/* Opens all of it for a model prepared at its batch size; prints its errors. */
int cli_study_open(struct au_graph *g, const struct cli_data_opts *o, struct cli_study *c);
void cli_study_close(struct cli_study *c);

#endif

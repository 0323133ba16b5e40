/* Helpers shared by the subcommands: error printing, option values, model loading. */
#ifndef AU_CLI_COMMON_H
#define AU_CLI_COMMON_H

#include "graph.h"

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

#endif

/* Format strings and format instances.
 *
 * A format is written as a preset ("fp16"), a plugin with parameters
 * ("fp{exponent:4,mantissa:3}", "fp16{rounding:stochastic}": a preset plus overrides)
 * or a JSON object ({"format":"bfp","mantissa":7,"block":16}). The host checks the
 * parameters against the plugin's schema, so every plugin reports the same way:
 *   "bfp: parameter 'mantissa' must be an integer in [1, 23], got 40"
 * and passes create() a normalized JSON object holding every parameter.
 *
 *   au_numsys_fmt *f;
 *   if (au_numsys_fmt_new(reg, "fp8_e4m3", &f, &d) < 0) return fail(d.msg);
 *   const struct au_numsys_layout *l = au_numsys_fmt_layout(f);  // 8 bits, no meta
 *   puts(au_numsys_fmt_str(f));   // "fp{exponent:4,mantissa:3,bias:auto,...}"
 *   au_numsys_fmt_free(f);        // before au_numsys_registry_free(reg)
 *
 * Static scales: a format whose schema has the AU_NUMSYS_PARAM_ABSMAX parameter
 * (au_numsys_fmt_takes_absmax) gets the layer's profiled absmax from the caller through
 * au_numsys_fmt_with_absmax, one instance per layer.
 */
#ifndef AU_NUMSYS_FMTSTR_H
#define AU_NUMSYS_FMTSTR_H

#include "numsys/registry.h"

#include <stdbool.h>

typedef struct au_numsys_fmt au_numsys_fmt;

/* Parses spec, checks it, creates the plugin instance and checks its layout. The
 * result borrows the registry's plugin: free it before the registry. AU_NOTFOUND
 * (unknown format), AU_FORMAT (syntax), AU_RANGE / AU_INVALID (parameters),
 * AU_PLUGIN (create failed or bad layout), AU_NOMEM. *out is NULL on failure. */
int au_numsys_fmt_new(const au_numsys_registry *r, const char *spec, au_numsys_fmt **out,
                      struct au_diag *d);
/* A copy of f with parameter "absmax" set (absmax >= 0, finite). AU_INVALID if the
 * plugin has no such parameter. */
int au_numsys_fmt_with_absmax(const au_numsys_fmt *f, double absmax, au_numsys_fmt **out,
                              struct au_diag *d);
/* Frees f and its plugin instance; NULL is a no-op. */
void au_numsys_fmt_free(au_numsys_fmt *f);

/* Borrowed accessors, valid while f lives. */
const struct au_numsys_plugin *au_numsys_fmt_plugin(const au_numsys_fmt *f);
const au_numsys_inst *au_numsys_fmt_inst(const au_numsys_fmt *f);
const struct au_numsys_layout *au_numsys_fmt_layout(const au_numsys_fmt *f);
/* Normalized parameters as JSON: {"exponent":5,"mantissa":10,...}. */
const char *au_numsys_fmt_json(const au_numsys_fmt *f);
/* Canonical format string with every parameter; au_numsys_fmt_new parses it back. */
const char *au_numsys_fmt_str(const au_numsys_fmt *f);
bool au_numsys_fmt_takes_absmax(const au_numsys_fmt *f);
/* True if parameter "rounding" is "stochastic": encode/quantize need an rng. */
bool au_numsys_fmt_is_stochastic(const au_numsys_fmt *f);

/* Checks params_json (a JSON object, NULL = {}) against desc's schema and returns in
 * *normalized (au_free it) the object with every parameter. The message starts with
 * the plugin name. AU_FORMAT, AU_RANGE, AU_INVALID, AU_NOMEM. */
int au_numsys_params_normalize(const struct au_numsys_desc *desc, const char *params_json,
                               char **normalized, struct au_diag *d);

#endif

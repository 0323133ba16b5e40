/* Semantic checks of a parsed campaign (spec.h) against its model, its data files and the
 * number-format plugins: what the parser cannot know. Every problem is appended to a
 * struct au_problems as "file: $.json.path: reason", so `aurum validate` lists them all.
 *
 *   struct au_graph *g;  au_numsys_registry *reg;       // model loaded and prepared
 *   struct au_problems probs = {0};
 *   au_campaign_check(c, g, reg, &probs, &d);           // selectors, formats, fields
 *   au_campaign_check_files(c, g, &probs, &d);          // data, labels, database dir
 *   for (size_t i = 0; i < probs.n; i++) puts(probs.msg[i]);
 *
 * Selectors match layers only (nodes with weights, node->is_layer after prepare), the
 * same way the emulation and the runner apply them (au_node_matches).
 */
#ifndef AU_CAMPAIGNS_VALIDATE_H
#define AU_CAMPAIGNS_VALIDATE_H

#include "campaigns/spec.h"
#include "core/graph.h"
#include "numsys/registry.h"

#include <stdbool.h>
#include <stdint.h>

/* Checks c against the prepared graph g and the plugins of reg:
 * - every layer selector (targets, format rules, rates, times) matches a layer;
 * - every format string or object creates a format (unknown format, bad parameter);
 * - every targets field exists in the layout of every targeted tensor's format, and
 *   every bit position fits its codes or metadata words;
 * - every targeted layer has a targeted bit (e.g. metadata bits need a format with
 *   metadata) and, for Poisson, a bit with a rate above 0;
 * - every rates entry matches some targeted bit; layer_wise times cover every layer.
 * Returns 0, AU_INVALID if it appended problems (d gets the first), or AU_NOMEM. */
int au_campaign_check(const struct au_campaign *c, const struct au_graph *g,
                      const au_numsys_registry *reg, struct au_problems *probs, struct au_diag *d);

/* The checks of au_campaign_check that need no other field to be right: format strings
 * and objects, and (g not NULL) layer selectors. For a campaign from
 * au_campaign_load_partial. Returns as au_campaign_check. */
int au_campaign_check_names(const struct au_campaign *c, const struct au_graph *g,
                            const au_numsys_registry *reg, struct au_problems *probs,
                            struct au_diag *d);

/* Checks the files: the model has one input; data.inputs loads for it (dtype, sample
 * shape) with at least data.samples samples; normalize is usable (uint8 images, 1 or C
 * values); labels hold an integer label per sample; the database can be created
 * (the runner makes missing directories).
 * Returns as au_campaign_check. */
int au_campaign_check_files(const struct au_campaign *c, const struct au_graph *g,
                            struct au_problems *probs, struct au_diag *d);

/* Resolution shared with the emulation and the runner. */
/* True if node n is a layer matched by one of the selectors. */
bool au_campaign_selects(const struct au_selectors *s, const struct au_node *n);
/* The format string of a layer's tensor (AU_CAMPAIGN_ACT or AU_CAMPAIGN_WEIGHTS) after
 * the global default and every rule in order; NULL = float32 (no emulation). Borrowed
 * from c. */
const char *au_campaign_format_of(const struct au_campaign *c, const struct au_node *n,
                                  uint32_t tensor);
/* True if the string names float32 without emulation ("float32", "none"). */
bool au_campaign_format_is_native(const char *spec);

#endif

/* Per-layer output ranges over a data set: min, max, absmax and non-finite counts of
 * every layer's output, collected by a post-hook. The golden profile (aurum profile),
 * static-scale formats and the range detector all read them. Rows of a zero-padded last
 * batch are excluded: set n_valid before each run. */
#ifndef AU_RANGES_H
#define AU_RANGES_H

#include "exec.h"

#include <stdint.h>

struct au_range {
    double min, max, absmax;
    int64_t nonfinite;
};

struct au_ranges {
    struct au_range *r; /* per node index; only layers are filled */
    int n_nodes;
    int64_t n_valid; /* valid samples (rows of dim 0) in the coming run */
    int hook_id;
    struct au_graph *g;
};

/* Attaches to every layer of a prepared graph. Detach with au_ranges_fini. */
int au_ranges_init(struct au_ranges *rs, struct au_graph *g, struct au_diag *d);
void au_ranges_fini(struct au_ranges *rs);

#endif

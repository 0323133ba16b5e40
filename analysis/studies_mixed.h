/* Reliability-aware mixed precision on top of a study (studies.h, docs/studies.md): each
 * layer's resilience (mean delta loss per flip) from a campaign of the same model, a ranking,
 * and the per-layer widths of a format family that follow the ranking (a more vulnerable
 * layer never gets fewer bits) with the fewest total bits within an accuracy threshold.
 *
 *   struct au_study_vuln *v = au_calloc(n, sizeof(*v));     // n = au_study_n_layers(s)
 *   au_study_resilience(s, "results.db", "lenet-fp16", v, &d);
 *   au_study_rank(v, n, rank);
 *   struct au_study_mixed_opts o = {AU_STUDY_FXP, AU_STUDY_BOTH, 1.0, widths, 5, rank};
 *   struct au_study_mixed_result r;
 *   if (au_study_mixed(s, &o, &r, &d) == 0 && r.found) use(r.widths, r.bits, r.m.accuracy);
 *   au_study_mixed_fini(&r);
 */
#ifndef AU_STUDIES_MIXED_H
#define AU_STUDIES_MIXED_H

#include "studies.h"

#include <stdbool.h>
#include <stdint.h>

/* ---- reliability-aware mixed precision ---- */
struct au_study_vuln {
    double dloss_per_flip; /* mean delta-loss per flip over finite trials; NaN if none */
    int64_t n_trials, n_nonfinite;
};
/* Reads a campaign's layer_summary (campaign NULL: the database's only campaign) into out[i]
 * for each layer i. The campaign must be of this model (names checked) with trials in every
 * layer. AU_NOTFOUND, AU_INVALID, AU_DB with "db: campaign 'x': reason". */
int au_study_resilience(const struct au_study *s, const char *db, const char *campaign,
                        struct au_study_vuln *out, struct au_diag *d);
/* rank[0..n): layer indices, most vulnerable first (NaN first, ties by layer index). */
void au_study_rank(const struct au_study_vuln *v, int n, int *rank);

struct au_study_mixed_opts {
    int family;
    unsigned roles;
    double threshold;
    const int *widths; /* candidate widths, any order; duplicates ignored */
    int n_widths;
    const int *rank; /* permutation of the layers, most vulnerable first */
    bool exhaustive; /* measure every assignment instead of pruning */
    /* Called after each measured assignment (widths per layer index); may be NULL. */
    void (*on_measure)(void *user, const int *widths, int64_t bits,
                       const struct au_study_metrics *m, double drop);
    void *user;
};
struct au_study_mixed_result {
    bool found;
    int *widths;                /* per layer index; au_study_mixed_fini */
    int64_t bits, uniform_bits; /* total bits; the same at the widest width everywhere */
    struct au_study_metrics m;
    double drop;
    int64_t n_candidates, n_measured;
    char formats[16][64]; /* format chosen per width, in ascending width order */
    int fmt_widths[16], n_formats;
};
int au_study_mixed(struct au_study *s, const struct au_study_mixed_opts *o,
                   struct au_study_mixed_result *r, struct au_diag *d);
void au_study_mixed_fini(struct au_study_mixed_result *r);

#endif

/* Merging shard databases: `aurum run c.json --shard K/N --db part-K.db` writes a slice of a
 * campaign; au_merge_files combines the parts into one database with the rows a single
 * process would have written. Idempotent (rows are keyed; merging a part twice adds
 * nothing), one transaction per part, and every part is checked before any is merged.
 *
 *   const char *parts[] = {"part-0.db", "part-1.db", "part-2.db"};
 *   struct au_merge_result r;
 *   if (au_merge_files("out.db", parts, 3, &r, &d) < 0) fail(d.msg);
 *   printf("%lld of %lld trials%s\n", r.trials_total, r.trials_expected,
 *          r.complete ? ", complete" : "");
 */
#ifndef AU_CAMPAIGNS_MERGE_H
#define AU_CAMPAIGNS_MERGE_H

#include "status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct au_merge_result {
    int64_t parts;                     /* parts merged */
    int64_t added_trials, added_flips; /* rows new to the output */
    int64_t campaigns;                 /* campaigns the parts hold */
    int64_t trials_total;              /* their trials in the output after the merge */
    int64_t trials_expected;           /* their trials in a complete campaign */
    bool complete;                     /* every campaign has all its trials: status 'done' */
};

/* Merge parts[0..n) into out (created if missing). Refuses, naming the part and the reason,
 * a part that is the output, not an Aurum database, of another schema version, or holding
 * other campaigns (name, JSON, model hash, Aurum version or seed) than the first part or
 * than out; a trial present twice with different values. Then sets each campaign's status
 * from its trials ('done' iff complete, else 'interrupted'), end time and layer_summary. */
int au_merge_files(const char *out, const char *const *parts, size_t n, struct au_merge_result *r,
                   struct au_diag *d);

#endif

/* Running a campaign: golden pass, fault trials in units of one batch, results committed
 * to the store unit by unit, in unit order, so the database always holds a prefix of
 * the campaign and a rerun resumes where it stopped with the same rows it would have
 * written uninterrupted. Workers (--jobs) each own a graph; results do not depend on
 * their number. Under mpirun (au_mpi_init, mpi.h) the other ranks' workers join in and
 * rank 0 alone writes the database.
 *
 *   struct au_run_opts o = {.jobs = 0, .log = stderr};
 *   struct au_run_result r;
 *   if (au_campaign_run(c, &o, &r, &d) < 0) fail(d.msg);
 */
#ifndef AU_CAMPAIGNS_RUNNER_H
#define AU_CAMPAIGNS_RUNNER_H

#include "spec.h"

#include <signal.h>
#include <stdio.h>

#define AU_PROGRESS_NONE  0
#define AU_PROGRESS_LINES 1 /* a plain line every few seconds (pipes, logs) */
#define AU_PROGRESS_BAR   2 /* one redrawn line (terminals) */

struct au_run_opts {
    int jobs;                         /* worker threads; 0 = one per core */
    int progress;                     /* AU_PROGRESS_* */
    FILE *log;                        /* where progress goes; NULL = stderr */
    volatile sig_atomic_t *interrupt; /* non-zero: commit finished units and stop */
    bool naive;                       /* full forward pass per trial (benchmarks) */
    bool compact;         /* recompute only the samples a fault still affects (AU_RUN_COMPACT) */
    int shard_k, shard_n; /* run only units u with u % shard_n == shard_k (0 = no shards) */
    int64_t stop_after_units; /* tests: stop after committing this many units */
    const char *database;     /* overrides the campaign's database path */
};

struct au_run_result {
    int64_t trials_total; /* trials in the database for this campaign at the end */
    int64_t trials_run;   /* trials computed by this invocation */
    int64_t units_total, units_done;
    int64_t flips;             /* injected faults by this invocation */
    double seconds;            /* wall time of the trial phase */
    double cpu_seconds;        /* CPU time of the process in the trial phase (all threads) */
    double commit_seconds;     /* of seconds: writing units to the database */
    int ranks;                 /* MPI ranks (1 without MPI; see mpi.h) */
    int64_t mpi_bytes;         /* rank 0: unit and result messages, both directions */
    int64_t mpi_units_remote;  /* rank 0: units computed by the other ranks */
    int64_t mpi_trials_remote; /* rank 0: their trial rows (before CI filtering) */
    int64_t mpi_max_rss_kb;    /* rank 0: largest peak RSS among the other ranks */
    bool resumed, interrupted, complete;
    char database[1024];
    char stop_reason[160];
};

/* Runs (or resumes) the campaign. AU_INTERRUPTED if stopped by *interrupt (what was
 * committed stays committed); other negative statuses with a one-line message. */
int au_campaign_run(const struct au_campaign *c, const struct au_run_opts *o,
                    struct au_run_result *r, struct au_diag *d);

#endif

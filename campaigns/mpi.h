/* MPI scale-out of a campaign run (`mpirun -np N aurum run c.json`). Rank 0 does the normal
 * setup, owns the database and commits units in order; the other ranks repeat the setup
 * without the store and compute the units rank 0 sends them, each unit's rows coming back as
 * one packed message. The runner's scheduling (window, stopping, resume) is untouched, so the
 * database is the single-process one. Compiled only when the build finds MPI (AU_HAVE_MPI);
 * otherwise these are stubs, and a run under mpirun is refused rather than run N times.
 *
 *   if (au_mpi_init(&d) < 0) fail(d.msg);   // first; a no-op outside mpirun
 *   au_campaign_run(c, &o, &r, &d);         // distributes itself when au_mpi_size() > 1
 *   if (au_mpi_rank() == 0) print_summary(&r);
 *   au_mpi_finalize();
 */
#ifndef AU_CAMPAIGNS_MPI_H
#define AU_CAMPAIGNS_MPI_H

#include "core/status.h"
#include "store.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#define AU_MPI_DEPTH 2 /* units queued per remote rank: its next unit waits while it computes */

/* The rows of one unit, as the runner collects them. Buffers owned by whoever holds the
 * struct (the runner's ring slot); au_realloc'd. */
struct au_unit_result {
    int64_t unit;
    int status;
    struct au_store_trial *trials;
    int *target_of; /* per trial row: plan target (0 for model-wide) */
    size_t n_trials, cap_trials;
    struct au_store_flip *flips; /* each trial's n_flips rows, in trial order */
    size_t n_flips, cap_flips;
    char msg[256];
};

/* The runner as the MPI layer sees it; ctx is the runner's. take/slot/done/field run on
 * rank 0 (from the dispatcher thread), run on the other ranks. */
struct au_mpi_runner {
    void *ctx;
    int n_targets;        /* stop flags per unit message */
    uint64_t fingerprint; /* plan, analysis set and golden run: every rank must agree */
    /* Next unit and the stop flags: 1 taken, 0 none now (window full), -1 none left. */
    int (*take)(void *ctx, int64_t *unit, bool *stopped);
    struct au_unit_result *(*slot)(void *ctx, int64_t unit); /* where unit's rows go */
    void (*done)(void *ctx, int64_t unit);                   /* slot filled (status set) */
    /* The field name of a flip (pointer valid for the run), or a status if out of range. */
    int (*field)(void *ctx, int layer, int tensor, int is_meta, int bit, const char **name);
    int (*run)(void *ctx, int64_t unit, const bool *stopped, struct au_unit_result *ur,
               struct au_diag *d);
};

/* What the other ranks cost, reported by rank 0 after au_mpi_stop. */
struct au_mpi_stats {
    int ranks;
    int64_t bytes;         /* unit and result messages, both directions, counted by rank 0 */
    int64_t units_remote;  /* units computed by the other ranks */
    int64_t trials_remote; /* their trial rows */
    int64_t max_rss_kb;    /* largest peak RSS among the other ranks */
};

#ifdef AU_HAVE_MPI
/* Packs ur into *buf (grown with au_realloc; caller frees). AU_NOMEM or AU_OK. */
int au_mpi_pack(const struct au_unit_result *ur, void **buf, size_t *cap, size_t *nbytes);
/* Unpacks a result message into ur (its buffers grown as needed); field names come from
 * rn->field. AU_FORMAT with "reason" in d if the message is not a well-formed result. */
int au_mpi_unpack(const struct au_mpi_runner *rn, const void *buf, size_t nbytes,
                  struct au_unit_result *ur, struct au_diag *d);
/* MPI_Init_thread if launched by mpirun/srun (environment), else nothing. AU_UNSUPPORTED if
 * the MPI library cannot give calls from several threads (serialized). */
int au_mpi_init(struct au_diag *d);
void au_mpi_finalize(void); /* no-op if au_mpi_init did not start MPI */
int au_mpi_rank(void);      /* 0 without MPI */
int au_mpi_size(void);      /* 1 without MPI */
/* Rank 0: every other rank's setup status; the first failure (or a fingerprint that
 * differs from rn's; rn may be NULL) as "rank K: reason". Returns status if it is set. */
int au_mpi_gather(const struct au_mpi_runner *rn, int status, struct au_diag *d);
/* Rank 0, one thread: sends units to the other ranks and files their results until take
 * says none are left and none are out. Errors reach the runner as a result status. */
void au_mpi_dispatch(const struct au_mpi_runner *rn);
/* Rank 0: tells the other ranks to stop and collects their numbers (st may be NULL). */
void au_mpi_stop(struct au_mpi_stats *st);
/* Other ranks: reports the setup status (rn NULL or status < 0: with d's message), then
 * computes units until rank 0 says stop. Returns status. */
int au_mpi_serve(const struct au_mpi_runner *rn, int status, const struct au_diag *d);
#else
/* Without MPI, mpirun would start N independent runs on one database: refuse. */
static inline int au_mpi_init(struct au_diag *d)
{
    const char *n = getenv("OMPI_COMM_WORLD_SIZE");
    if (!n)
        n = getenv("PMI_SIZE");
    if (n && strtol(n, NULL, 10) > 1)
        return au_diag_set(d, AU_UNSUPPORTED,
                           "launched by mpirun with %s ranks, but this aurum was built without "
                           "MPI (install libopenmpi-dev and reconfigure with -Dmpi=enabled)",
                           n);
    return AU_OK;
}
static inline void au_mpi_finalize(void)
{
}
static inline int au_mpi_rank(void)
{
    return 0;
}
static inline int au_mpi_size(void)
{
    return 1;
}
static inline int au_mpi_gather(const struct au_mpi_runner *rn, int status, struct au_diag *d)
{
    (void)rn;
    (void)d;
    return status;
}
static inline void au_mpi_dispatch(const struct au_mpi_runner *rn)
{
    (void)rn;
}
static inline void au_mpi_stop(struct au_mpi_stats *st)
{
    (void)st;
}
static inline int au_mpi_serve(const struct au_mpi_runner *rn, int status, const struct au_diag *d)
{
    (void)rn;
    (void)d;
    return status;
}
#endif /* AU_HAVE_MPI */

#endif

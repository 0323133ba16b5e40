/* aurum run: run or resume a campaign. Ctrl-C (SIGINT) or SIGTERM asks the runner to
 * commit the units that are finished and stop; a rerun resumes. Exit status: 0 done,
 * 1 error, 2 usage, 130 interrupted. Under mpirun every rank runs this; rank 0 alone
 * prints (the others' errors reach it through the runner), so the output is one run's. */
#include "cmd.h"
#include "common.h"
#include "mpi.h"
#include "runner.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* Prints the problems unless quiet; d gets the first one. */
static int load_campaign(const char *path, struct au_campaign **c, bool quiet, struct au_diag *d)
{
    struct au_problems probs = {0};
    int rc = au_campaign_load(path, c, &probs, d);
    for (size_t i = 0; !quiet && i < probs.n; i++)
        fprintf(stderr, "aurum: %s\n", probs.msg[i]);
    if (rc && !quiet && !probs.n)
        cli_error("%s", d->msg[0] ? d->msg : au_strerror(rc));
    if (rc && probs.n)
        snprintf(d->msg, sizeof(d->msg), "%s", probs.msg[0]);
    au_problems_fini(&probs);
    return rc;
}

/* Under MPI a campaign that does not load still has to release the other ranks. */
static int load_failed(int rc, const struct au_diag *d)
{
    if (au_mpi_rank() > 0) {
        au_mpi_serve(NULL, rc, d);
    } else if (au_mpi_size() > 1) {
        au_mpi_gather(NULL, rc, NULL);
        au_mpi_stop(NULL);
    }
    au_mpi_finalize();
    return 1;
}

static void print_summary(const struct au_run_result *r)
{
    printf("%s: %lld trials in the database (%lld run now, %lld faults, %.1f s, %.0f trials/s,"
           " %.0f trials per CPU-second)%s\n",
           r->database, (long long)r->trials_total, (long long)r->trials_run, (long long)r->flips,
           r->seconds, r->seconds > 0 ? (double)r->trials_run / r->seconds : 0,
           r->cpu_seconds > 0 ? (double)r->trials_run / r->cpu_seconds : 0,
           r->complete ? "" : "; interrupted: run the same command again to resume");
    if (r->ranks > 1)
        printf("mpi: %d ranks, %lld units by the other ranks, %.0f bytes sent per trial they ran,"
               " %.2f s writing the database, peak RSS of the other ranks %.1f MB\n",
               r->ranks, (long long)r->mpi_units_remote,
               r->mpi_trials_remote > 0 ? (double)r->mpi_bytes / (double)r->mpi_trials_remote : 0,
               r->commit_seconds, (double)r->mpi_max_rss_kb / 1024);
}

int au_cmd_run(int argc, char **argv)
{
    const char *path = NULL;
    struct au_run_opts o = {.log = stderr, .interrupt = &interrupted};
    int64_t jobs = 0, stop_after = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (!strcmp(argv[i], "--jobs") || !strcmp(argv[i], "-j")) {
            if (!(v = cli_optarg(argc, argv, &i)) || !cli_parse_i64("--jobs", v, 0, 1024, &jobs))
                return 2;
        } else if (!strcmp(argv[i], "--db")) {
            if (!(o.database = cli_optarg(argc, argv, &i)))
                return 2;
        } else if (!strcmp(argv[i], "--stop-after-units")) {
            if (!(v = cli_optarg(argc, argv, &i)) ||
                !cli_parse_i64("--stop-after-units", v, 1, INT32_MAX, &stop_after))
                return 2;
        } else if (!strcmp(argv[i], "--naive")) {
            o.naive = true;
        } else if (!strcmp(argv[i], "--compact")) {
            o.compact = true;
        } else if (!strcmp(argv[i], "--shard")) {
            char *end;
            if (!(v = cli_optarg(argc, argv, &i)))
                return 2;
            long k = strtol(v, &end, 10), n = *end == '/' ? strtol(end + 1, &end, 10) : 0;
            if (*end || n < 1 || n > 1 << 20 || k < 0 || k >= n) {
                cli_error("--shard: expected K/N with 0 <= K < N, got '%s'", v);
                return 2;
            }
            o.shard_k = (int)k;
            o.shard_n = (int)n;
        } else if (!strcmp(argv[i], "--quiet")) {
            o.progress = -1;
        } else if (!strcmp(argv[i], "--help")) {
            printf(
                "usage: aurum run campaign.json [--jobs N] [--db results.db] [--quiet] "
                "[--compact] [--naive]\n"
                "  --compact  recompute only the samples a fault still affects (faster; those\n"
                "             samples may differ from a full-batch recomputation in the last bit)\n"
                "  --naive    a full forward pass per batch of trials (for comparisons)\n"
                "  under mpirun -np N (MPI build): rank 0 writes the database, the other ranks\n"
                "             compute units; --jobs is rank 0's worker count (default 1)\n");
            return 0;
        } else if (!path && argv[i][0] != '-') {
            path = argv[i];
        } else {
            cli_error("run: unexpected argument '%s'", argv[i]);
            return 2;
        }
    }
    if (!path) {
        cli_error("run: missing campaign.json");
        return 2;
    }
    o.jobs = (int)jobs;
    o.stop_after_units = stop_after;
    o.progress = o.progress < 0          ? AU_PROGRESS_NONE
                 : isatty(STDERR_FILENO) ? AU_PROGRESS_BAR
                                         : AU_PROGRESS_LINES;
    struct au_diag d = {{0}};
    if (au_mpi_init(&d)) {
        cli_error("%s", d.msg);
        au_mpi_finalize();
        return 1;
    }
    bool rank0 = au_mpi_rank() == 0;
    if (!rank0)
        o.progress = AU_PROGRESS_NONE;
    struct au_campaign *c = NULL;
    int rc = load_campaign(path, &c, !rank0, &d);
    if (rc)
        return load_failed(rc, &d);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    struct au_run_result r;
    rc = au_campaign_run(c, &o, &r, &d);
    if (rc && rc != AU_INTERRUPTED && rank0)
        cli_error("%s", d.msg);
    else if (rank0)
        print_summary(&r);
    fflush(stdout);
    au_campaign_free(c);
    au_mpi_finalize();
    return rc == AU_INTERRUPTED ? 130 : rc ? 1 : 0;
}

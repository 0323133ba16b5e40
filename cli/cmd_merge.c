/* aurum merge: combine shard databases (aurum run --shard K/N --db part-K.db) into one.
 * All the work is campaigns/merge.c; this only parses arguments and prints the outcome, so
 * a scheduler's epilogue can run it after every job and get the same file each time. */
#include "cmd.h"
#include "common.h"
#include "merge.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: aurum merge out.db part.db [part.db ...]\n"
               "  Copies the campaigns, layers, golden, poisson, trial and flip rows of each\n"
               "  shard database into out.db (created if missing). Idempotent: a part merged\n"
               "  twice adds nothing. Refuses parts of different campaigns or versions.\n"
               "  The campaign is 'done' when out.db holds all its trials. See docs/scaling.md.\n");
}

int au_cmd_merge(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        if (argv[i][0] == '-' && argv[i][1]) {
            cli_error("merge: unknown option '%s'", argv[i]);
            return 2;
        }
    }
    if (argc < 3) {
        usage(stderr);
        return 2;
    }
    struct au_merge_result r;
    struct au_diag d = {{0}};
    int rc = au_merge_files(argv[1], (const char *const *)(argv + 2), (size_t)(argc - 2), &r, &d);
    if (rc < 0) {
        cli_error("%s", d.msg[0] ? d.msg : au_strerror(rc));
        return 1;
    }
    printf("%s: merged %" PRId64 " parts (+%" PRId64 " trials, +%" PRId64 " flips); %" PRId64
           " of %" PRId64 " trials, %s\n",
           argv[1], r.parts, r.added_trials, r.added_flips, r.trials_total, r.trials_expected,
           r.complete ? "complete" : "incomplete (status 'interrupted')");
    return 0;
}

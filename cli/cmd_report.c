/* aurum report: the report of one campaign of a results database as report.html (charts
 * inline, no script), report.md and CSV files in a directory. The library does the work
 * (analysis/report.h); this file parses options, creates the output directory (one level,
 * like mkdir) and turns a status into one line. Exit status: 0 ok, 1 failure, 2 usage. */
#include "cmd.h"
#include "common.h"
#include "report.h"

#include "core/status.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: aurum report results.db [--campaign NAME] [--out DIR] [--log]\n"
               "                    [--interval wilson|clopper-pearson|normal] [--level P]\n"
               "  Writes DIR/report.html, report.md, layers.csv, bits.csv and campaigns.csv.\n"
               "  --campaign NAME  the campaign to report (needed when the file has several)\n"
               "  --out DIR        output directory (default: the current one; created if its\n"
               "                   parent exists)\n"
               "  --log            log-scale y axes for the delta-loss and mismatch charts\n"
               "  --interval M     interval of the mismatch rates (default wilson; normal is\n"
               "                   GoldenEye's, clopper-pearson the exact one)\n"
               "  --level P        confidence level of every interval, in (0, 1) (default 0.99)\n");
}

/* --interval and --level: the names au_stats_method_parse knows; a level strictly inside (0, 1),
 * so "99" (a percentage) is refused rather than read as certainty. */
static int parse_interval(int argc, char **argv, int *i, struct au_estimate_opts *eo)
{
    const char *opt = argv[*i], *v = cli_optarg(argc, argv, i);
    if (!v)
        return 2;
    if (strcmp(opt, "--interval") == 0) {
        if (au_stats_method_parse(v, &eo->method) == AU_OK)
            return -1;
        cli_error("report: --interval: '%s' is not one of wilson, clopper-pearson, normal", v);
        return 2;
    }
    char *end;
    errno = 0;
    eo->level = strtod(v, &end);
    if (errno == 0 && end != v && !*end && eo->level > 0 && eo->level < 1)
        return -1;
    cli_error("report: --level: '%s' is not a confidence level in (0, 1), such as 0.99", v);
    return 2;
}

static int parse(int argc, char **argv, const char **db, const char **campaign, const char **out,
                 struct au_report_opts *o, struct au_estimate_opts *eo)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--campaign") == 0) {
            if (!(*campaign = cli_optarg(argc, argv, &i)))
                return 2;
        } else if (strcmp(a, "--out") == 0) {
            if (!(*out = cli_optarg(argc, argv, &i)))
                return 2;
        } else if (strcmp(a, "--log") == 0) {
            o->log_scale = true;
        } else if (strcmp(a, "--interval") == 0 || strcmp(a, "--level") == 0) {
            int rc = parse_interval(argc, argv, &i, eo);
            if (rc >= 0)
                return rc;
        } else if (a[0] == '-' && a[1]) {
            cli_error("report: unknown option '%s' (try 'aurum report --help')", a);
            return 2;
        } else if (*db) {
            cli_error("report: one database at a time ('%s' and '%s')", *db, a);
            return 2;
        } else {
            *db = a;
        }
    }
    if (!*db) {
        usage(stderr);
        return 2;
    }
    return -1; /* go on */
}

int au_cmd_report(int argc, char **argv)
{
    const char *db = NULL, *campaign = NULL, *out = ".";
    struct au_report_opts o = {0};
    struct au_estimate_opts eo = {0.99, AU_STATS_WILSON}; /* GoldenEye's postprocess level */
    int rc = parse(argc, argv, &db, &campaign, &out, &o, &eo);
    if (rc >= 0)
        return rc;
    if (mkdir(out, 0777) != 0 && errno != EEXIST) {
        cli_error("%s: cannot create the output directory: %s", out, strerror(errno));
        return 1;
    }
    struct au_diag d = {{0}};
    struct au_report *r = NULL;
    if (au_report_load(db, campaign, &eo, &r, &d) < 0 || au_report_write(r, out, &o, &d) < 0) {
        cli_error("%s", d.msg);
        au_report_free(r);
        return 1;
    }
    printf("%s/report.html: %s%s, %lld trials, %zu target%s, %g%% %s intervals (also "
           "report.md, layers.csv, bits.csv, campaigns.csv)\n",
           out, r->name, r->partial ? " (partial)" : "", (long long)r->total.n_trials, r->n_layers,
           r->n_layers == 1 ? "" : "s", 100 * r->level, au_report_method_label(r->method));
    au_report_free(r);
    return 0;
}

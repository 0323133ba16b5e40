/* aurum: one binary, one subcommand per file (cli/cmd_<name>.c). main() only dispatches;
 * each command parses its own options and turns statuses into one-line errors. */
#include "cmd.h"
#include "core/alloc.h"

#include <stdio.h>
#include <string.h>

struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"inspect", au_cmd_inspect, "print every node, its shapes, MACs and the totals"},
    {"infer", au_cmd_infer, "run a model on inputs and write its outputs as .npy"},
    {"profile", au_cmd_profile, "golden run: accuracy, loss, per-layer output ranges"},
    {"bench", au_cmd_bench, "time the forward pass (median of several runs)"},
    {"run", au_cmd_run, "run or resume a fault-injection campaign (campaign.json)"},
    {"merge", au_cmd_merge, "combine shard databases (run --shard K/N) into one"},
    {"validate", au_cmd_validate, "check campaign files: every problem with its JSON path"},
    {"report", au_cmd_report, "report.html, report.md and CSV files of a campaign's results"},
    {"plan", au_cmd_plan, "trials needed for a margin: Leveugle's formula, or a pilot's variance"},
    {"query", au_cmd_query, "run read-only SQL on a results database (table or --csv)"},
    {"emulate", au_cmd_emulate, "accuracy and loss with weights/activations in a number format"},
    {"formats", au_cmd_formats, "list number-format plugins; 'formats show FORMAT': bit layout"},
    {"quantize", au_cmd_quantize, "pass a .npy tensor through a number format (codes, metadata)"},
    {"sweep", au_cmd_sweep, "accuracy and loss under each of several number formats"},
    {"bitwidth", au_cmd_bitwidth,
     "narrowest width of a format family within an accuracy threshold"},
    {"mixed", au_cmd_mixed, "per-layer widths that follow measured resilience, fewest bits"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: aurum <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nRun 'aurum <command> --help' for the options of a command.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("aurum %s\n", AU_VERSION);
        return 0;
    }
    struct au_diag d = {{0}};
    if (au_alloc_limit_from_env(&d) < 0) { /* a typo must not silently lift the cap */
        fprintf(stderr, "aurum: %s\n", d.msg);
        return 2;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "aurum: unknown command '%s' (try 'aurum --help')\n", argv[1]);
    return 2;
}

/* One function per subcommand: argv[0] is the subcommand name. Each returns the process
 * exit status (0 ok, 1 failure, 2 usage) and prints its own one-line errors. */
#ifndef AU_CLI_CMD_H
#define AU_CLI_CMD_H

int au_cmd_inspect(int argc, char **argv);
int au_cmd_infer(int argc, char **argv);
int au_cmd_profile(int argc, char **argv);
int au_cmd_bench(int argc, char **argv);
int au_cmd_emulate(int argc, char **argv);
int au_cmd_run(int argc, char **argv);
int au_cmd_merge(int argc, char **argv); /* campaigns/merge.h */
int au_cmd_validate(int argc, char **argv);
int au_cmd_report(int argc, char **argv); /* analysis/report.h */
/* numsys (cli/cmd_formats.c, cli/cmd_quantize.c) */
int au_cmd_formats(int argc, char **argv);
int au_cmd_quantize(int argc, char **argv);
int au_cmd_sweep(int argc, char **argv);    /* analysis/studies.h */
int au_cmd_bitwidth(int argc, char **argv); /* analysis/studies.h */
int au_cmd_mixed(int argc, char **argv);    /* analysis/studies.h */

/* analysis (cli/cmd_plan.c, cli/cmd_query.c) */
int au_cmd_plan(int argc, char **argv);
int au_cmd_query(int argc, char **argv);

#endif

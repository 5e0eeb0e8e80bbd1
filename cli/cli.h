/*
 * cli.h - the shape of a `skylog` subcommand, shared by main.c's dispatch table and the files
 * that implement the commands (cmd_<name>.c).
 *
 * To add a command: write cmd_<name>.c with a handler `int sky__cmd_<name>(int argc, char **argv)`
 * (argv[0] is the command name, as for main), declare it below, and add one row to the table in
 * main.c. The help text is printed verbatim by `skylog help <name>` and `skylog <name> --help`.
 *
 * Handlers return the process exit code: 0 success, 1 runtime failure, 2 usage error (the
 * convention of most Unix tools; scripts can tell "you typed it wrong" from "it failed"), and
 * 128+N when a signal N interrupted work that was not finished (ship: 130, 143).
 */
#ifndef SKY_CLI_H
#define SKY_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SKY_EXIT_OK 0
#define SKY_EXIT_FAIL 1
#define SKY_EXIT_USAGE 2

typedef int (*sky__cmd_fn)(int argc, char **argv);

typedef struct sky__command {
    const char *name;    /* what the user types: `skylog <name>` */
    const char *summary; /* one line for `skylog --help` */
    sky__cmd_fn run;     /* the handler */
    const char *help;    /* full help: usage, options, at least one example */
} sky__command;

/* Prints the help of `name` to stdout; false if there is no such command. */
bool sky__cli_print_help(const char *name);

/* True when argv holds -h or --help before a "--" (so handlers can answer it first). */
bool sky__cli_wants_help(int argc, char **argv);

/* Prints "skylog <cmd>: unknown option '<arg>'; did you mean '--x'?" (usage.c), the
 * suggestion taken from the command's own getopt_long table. */
void sky__cli_unknown_option(const char *cmd, const char *arg, const struct option *opts);

/* The usage error of a command with subcommands (`subs`, in the order its help lists them):
 * "skylog <cmd>: unknown subcommand 'lst'; did you mean 'list'? (see skylog <cmd> --help)",
 * or with no plausible one "...: expected put, list or get", or when `word` is NULL or an
 * option "skylog <cmd>: expected a subcommand: put, list or get". Returns SKY_EXIT_USAGE. */
int sky__cli_unknown_subcommand(const char *cmd, const char *word, const char *const *subs,
                                size_t n);

/* The value of a numeric flag, read by the configuration's own parser (sky__opt_parse in
 * src/config/registry.c), so a flag and its config key take the same text and get the same
 * answer. `row` says what is accepted (an INT, SIZE or DURATION row: its bounds, no_zero): a
 * sign, white space, a fraction where a whole number is wanted, trailing junk or a value past
 * the bounds (an overflow included: never a wrapped value) is refused with
 * "skylog <cmd>: <flag>: out of range: '0'; expected an integer from 1 to 100000" on stderr,
 * and false (the caller returns SKY_EXIT_USAGE). */
struct sky__opt;
bool sky__cli_num_flag(const char *cmd, const char *flag, const struct sky__opt *row,
                       const char *arg, int64_t *out);
/* The same for a whole number from min to max (max >= min; use the real limit, never "none"). */
bool sky__cli_int_flag(const char *cmd, const char *flag, const char *arg, int64_t min,
                       int64_t max, int64_t *out);
/* A finite number from min to max (NaN and infinities refused). */
bool sky__cli_real_flag(const char *cmd, const char *flag, const char *arg, double min,
                        double max, double *out);

/* Of `n` names, the closest to `word` when it is a plausible typo, else NULL. */
const char *sky__cli_suggest(const char *word, const char *const *names, size_t n);

/* The command table (main.c). */
const sky__command *sky__cli_commands(size_t *n);

/* man.c: a roff page for a command (name NULL: the `skylog` overview), completion scripts for
 * "bash" or "zsh", and all of them written under dir (man1/, bash-completion/, zsh/). */
#include <stdio.h>
void sky__cli_man(FILE *out, const char *name, const char *summary, const char *help);
void sky__cli_completion(FILE *out, const char *shell, const sky__command *cmds, size_t n);
int sky__cli_write_docs(const char *dir, const char *overview_summary, const char *overview,
                        const sky__command *cmds, size_t n);

/* Command handlers (one file each). */
int sky__cmd_serve(int argc, char **argv);
extern const char sky__serve_help[];
int sky__cmd_ship(int argc, char **argv);
extern const char sky__ship_help[];
int sky__cmd_tail(int argc, char **argv);
extern const char sky__tail_help[];
int sky__cmd_groups(int argc, char **argv);
extern const char sky__groups_help[];
int sky__cmd_streams(int argc, char **argv);
extern const char sky__streams_help[];
int sky__cmd_query(int argc, char **argv);
extern const char sky__query_help[];
int sky__cmd_metrics(int argc, char **argv);
extern const char sky__metrics_help[];
int sky__cmd_alarm(int argc, char **argv);
extern const char sky__alarm_help[];
int sky__cmd_config(int argc, char **argv);
extern const char sky__config_help[];
int sky__cmd_audit(int argc, char **argv);
extern const char sky__audit_help[];
/* `skylog audit verify --group G [--stream S]` (audit_cloudwatch.c); argv[0] is "verify". */
int sky__audit_verify_group(int argc, char **argv);
/* Reads --key-file K into key (SKY__AUDIT_MAX_KEY bytes); NULL: no key. 0 when read, else the
 * command's exit status after saying why: 1, or 128+N when a signal stopped the read (a key
 * from a FIFO or a pipe whose writer hangs); sky__cli_catch_stop() must have been called. */
int sky__audit_cli_key(const char *key_file, unsigned char *key, size_t *keylen);

#endif

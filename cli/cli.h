/*
 * cli.h - the shape of a `skylog` subcommand, shared by main.c's dispatch table and the files
 * that implement the commands (cmd_<name>.c).
 *
 * To add a command: write cmd_<name>.c with a handler `int sky__cmd_<name>(int argc, char **argv)`
 * (argv[0] is the command name, as for main), declare it below, and add one row to the table in
 * main.c. The help text is printed verbatim by `skylog help <name>` and `skylog <name> --help`.
 *
 * Handlers return the process exit code: 0 success, 1 runtime failure, 2 usage error (the
 * convention of most Unix tools; scripts can tell "you typed it wrong" from "it failed").
 */
#ifndef SKY_CLI_H
#define SKY_CLI_H

#include <stdbool.h>

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
int sky__cmd_config(int argc, char **argv);
extern const char sky__config_help[];
int sky__cmd_audit(int argc, char **argv);
extern const char sky__audit_help[];

#endif

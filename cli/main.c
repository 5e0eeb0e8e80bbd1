/*
 * main.c - the `skylog` command: finds the subcommand in one table and runs it.
 *
 * The table below is the only place that knows which commands exist: `skylog --help`, `skylog
 * help <cmd>` and `skylog <cmd> --help` are all generated from it, so adding a command is one
 * row (see cli.h). This file must never parse a command's own options; each handler does that,
 * because options differ per command and belong next to the code that uses them.
 */
#include "cli.h"

#include <skylog.h>

#include <stdio.h>
#include <string.h>

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

static const char version_help[] =
    "usage: skylog version\n"
    "\n"
    "Prints the version of the skylog command and library.\n"
    "\n"
    "example:\n"
    "  skylog version\n";

static const char help_help[] =
    "usage: skylog help [COMMAND]\n"
    "\n"
    "Lists the commands, or prints the full help of one.\n"
    "\n"
    "example:\n"
    "  skylog help serve\n";

/* One row per command, in the order `skylog --help` lists them. */
static const sky__command commands[] = {
    {"serve", "run a local CloudWatch Logs/Metrics-compatible endpoint backed by SQLite",
     sky__cmd_serve, sky__serve_help},
    {"ship", "send lines from files or standard input to CloudWatch Logs", sky__cmd_ship,
     sky__ship_help},
    {"tail", "print (and follow) the events of a log group", sky__cmd_tail, sky__tail_help},
    {"groups", "list log groups", sky__cmd_groups, sky__groups_help},
    {"streams", "list the streams of a log group", sky__cmd_streams, sky__streams_help},
    {"config", "check a YAML configuration file; list sink and processor options",
     sky__cmd_config, sky__config_help},
    {"audit", "verify the hash chain of an audit file (docs/AUDIT.md)", sky__cmd_audit,
     sky__audit_help},
    {"version", "print the version", cmd_version, version_help},
    {"help", "show help for a command", cmd_help, help_help},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static const sky__command *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static void print_overview(FILE *out)
{
    fprintf(out, "usage: skylog <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'skylog help <command>' or 'skylog <command> --help' for details.\n"
                 "example:\n  skylog serve --port 0 --auth none\n");
}

bool sky__cli_print_help(const char *name)
{
    const sky__command *c = find_command(name);
    if (!c)
        return false;
    fputs(c->help, stdout);
    return true;
}

bool sky__cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return false;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return true;
    }
    return false;
}

static int cmd_version(int argc, char **argv)
{
    if (sky__cli_wants_help(argc, argv)) {
        fputs(version_help, stdout);
        return SKY_EXIT_OK;
    }
    if (argc > 1) {
        fprintf(stderr, "skylog version: unexpected argument '%s'\n", argv[1]);
        return SKY_EXIT_USAGE;
    }
    printf("skylog %s\n", SKYLOG_VERSION);
    return SKY_EXIT_OK;
}

static int cmd_help(int argc, char **argv)
{
    if (argc < 2) {
        print_overview(stdout);
        return SKY_EXIT_OK;
    }
    if (argc > 2) {
        fprintf(stderr, "skylog help: expected one command name\n");
        return SKY_EXIT_USAGE;
    }
    if (!sky__cli_print_help(argv[1])) {
        fprintf(stderr, "skylog help: unknown command '%s' (see 'skylog --help')\n", argv[1]);
        return SKY_EXIT_USAGE;
    }
    return SKY_EXIT_OK;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_overview(stderr);
        return SKY_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0) {
        print_overview(stdout);
        return SKY_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0)
        return cmd_version(1, argv + 1);
    if (name[0] == '-') {
        fprintf(stderr, "skylog: unknown option '%s' (see 'skylog --help')\n", name);
        return SKY_EXIT_USAGE;
    }
    const sky__command *c = find_command(name);
    if (!c) {
        fprintf(stderr, "skylog: unknown command '%s' (see 'skylog --help')\n", name);
        return SKY_EXIT_USAGE;
    }
    return c->run(argc - 1, argv + 1);
}

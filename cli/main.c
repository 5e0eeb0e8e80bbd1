/*
 * main.c - the `skylog` command: finds the subcommand in one table and runs it.
 *
 * The table below is the only place that knows which commands exist: `skylog --help`, `skylog
 * help <cmd>` and `skylog <cmd> --help` are all generated from it, so adding a command is one
 * row (see cli.h). This file must never parse a command's own options; each handler does that,
 * because options differ per command and belong next to the code that uses them.
 */
#include "aws/transport.h"
#include "cli.h"

#include <skylog.h>

#include <stdio.h>
#include <stdlib.h>
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
    "       skylog help --man [COMMAND]\n"
    "       skylog help --completion bash|zsh\n"
    "       skylog help --write-docs DIR\n"
    "\n"
    "Lists the commands, or prints the full help of one. The man pages and the shell\n"
    "completion scripts are made from the same help texts: --man prints the page of COMMAND\n"
    "(or of skylog), --completion a script for the shell, and --write-docs writes them all\n"
    "under DIR (man1/, bash-completion/, zsh/), as the build does for make install.\n"
    "\n"
    "examples:\n"
    "  skylog help serve\n"
    "  skylog help --man ship | man -l -\n"
    "  source <(skylog help --completion bash)\n";

/* One row per command, in the order `skylog --help` lists them. */
static const sky__command commands[] = {
    {"serve", "run a local CloudWatch Logs/Metrics-compatible endpoint backed by SQLite",
     sky__cmd_serve, sky__serve_help},
    {"ship", "send lines from files or standard input to CloudWatch Logs", sky__cmd_ship,
     sky__ship_help},
    {"tail", "print (and follow) the events of a log group", sky__cmd_tail, sky__tail_help},
    {"groups", "list log groups", sky__cmd_groups, sky__groups_help},
    {"streams", "list the streams of a log group", sky__cmd_streams, sky__streams_help},
    {"query", "run a CloudWatch Logs Insights query and print its results", sky__cmd_query,
     sky__query_help},
    {"metrics", "publish, list and read CloudWatch metrics (table, CSV, JSON, sparklines)",
     sky__cmd_metrics, sky__metrics_help},
    {"alarm", "create, list and inspect CloudWatch alarms (metric and composite)",
     sky__cmd_alarm, sky__alarm_help},
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

/* "skylog[ help]: unknown command 'shp'; did you mean 'ship'?": the same answer wherever a
 * command is named (skylog CMD, skylog help CMD, skylog help --man CMD). */
static int unknown_command(const char *who, const char *name)
{
    const char *names[N_COMMANDS];
    for (size_t i = 0; i < N_COMMANDS; i++)
        names[i] = commands[i].name;
    const char *sug = sky__cli_suggest(name, names, N_COMMANDS);
    fprintf(stderr, "%s: unknown command '%s'", who, name);
    if (sug)
        fprintf(stderr, "; did you mean '%s'?", sug);
    fprintf(stderr, " (see skylog --help)\n");
    return SKY_EXIT_USAGE;
}

static void print_overview(FILE *out)
{
    fprintf(out, "usage: skylog <command> [options]\n"
                 "\n"
                 "Structured logs to CloudWatch Logs: ship files, tail groups, run a local\n"
                 "endpoint. Run 'skylog help <command>' or 'skylog <command> --help' for details.\n"
                 "\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nexit status:\n"
                 "  0    success\n"
                 "  1    failure: the message says what failed (ship: what was sent)\n"
                 "  2    usage error: an unknown command or option, a bad value\n"
                 "  130  interrupted by SIGINT (Ctrl-C); 143 by SIGTERM (tail --follow: 0)\n"
                 "\nexamples:\n  skylog serve --port 0 --auth none\n"
                 "  skylog ship --group /app/dev app.log\n"
                 "\nThe docs/*.md these texts name are installed in share/doc/skylog/docs/ under\n"
                 "skylog's prefix (/usr/local by default), next to README.md.\n");
}

const sky__command *sky__cli_commands(size_t *n)
{
    *n = N_COMMANDS;
    return commands;
}

#define OVERVIEW_SUMMARY "structured logs to CloudWatch Logs from the command line"

/* The overview as a string, for the man page. */
static char *overview_text(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return NULL;
    print_overview(f);
    fclose(f);
    return text;
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
        fprintf(stderr, "skylog version: unexpected argument '%s' (see skylog version --help)\n",
                argv[1]);
        return SKY_EXIT_USAGE;
    }
    printf("skylog %s\n", SKYLOG_VERSION);
    return SKY_EXIT_OK;
}

static int cmd_help(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "--man") == 0 && argc <= 3) {
        if (argc == 2) {
            char *text = overview_text();
            if (!text)
                return SKY_EXIT_FAIL;
            sky__cli_man(stdout, NULL, OVERVIEW_SUMMARY, text);
            free(text);
            return SKY_EXIT_OK;
        }
        const sky__command *c = find_command(argv[2]);
        if (!c)
            return unknown_command("skylog help", argv[2]);
        sky__cli_man(stdout, c->name, c->summary, c->help);
        return SKY_EXIT_OK;
    }
    if (argc == 3 && strcmp(argv[1], "--completion") == 0) {
        if (strcmp(argv[2], "bash") != 0 && strcmp(argv[2], "zsh") != 0) {
            fprintf(stderr, "skylog help: --completion: expected bash or zsh, got '%s'\n", argv[2]);
            return SKY_EXIT_USAGE;
        }
        sky__cli_completion(stdout, argv[2], commands, N_COMMANDS);
        return SKY_EXIT_OK;
    }
    if (argc == 3 && strcmp(argv[1], "--write-docs") == 0) {
        char *text = overview_text();
        if (!text)
            return SKY_EXIT_FAIL;
        int rc = sky__cli_write_docs(argv[2], OVERVIEW_SUMMARY, text, commands, N_COMMANDS);
        free(text);
        return rc;
    }
    if (argc >= 2 && argv[1][0] == '-' && strcmp(argv[1], "--") != 0) {
        if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
            fputs(help_help, stdout);
            return SKY_EXIT_OK;
        }
        static const struct option opts[] = {{"man", optional_argument, NULL, 0},
                                             {"completion", required_argument, NULL, 0},
                                             {"write-docs", required_argument, NULL, 0},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
        for (size_t i = 0; opts[i].name; i++)
            if (strncmp(argv[1], "--", 2) == 0 && strcmp(argv[1] + 2, opts[i].name) == 0) {
                fprintf(stderr, "skylog help: %s: a value is missing, or one too many "
                        "(see skylog help --help)\n", argv[1]);
                return SKY_EXIT_USAGE;
            }
        sky__cli_unknown_option("help", argv[1], opts);
        return SKY_EXIT_USAGE;
    }
    if (argc < 2) {
        print_overview(stdout);
        return SKY_EXIT_OK;
    }
    if (argc > 2) {
        fprintf(stderr, "skylog help: expected one command name\n");
        return SKY_EXIT_USAGE;
    }
    if (!sky__cli_print_help(argv[1]))
        return unknown_command("skylog help", argv[1]);
    return SKY_EXIT_OK;
}

/* GnuTLS initialises itself when it is loaded, unless the program defines this function
 * (GnuTLS's GNUTLS_SKIP_GLOBAL_INIT). The `skylog` command never uses GnuTLS: it maps it only
 * because the libcurl it loads links librtmp and libldap, which link GnuTLS. The implicit
 * initialisation (its algorithm tables, p11-kit) cost ship 0.9 MiB of RSS (issue 13); whoever
 * does use GnuTLS calls gnutls_global_init() itself (libcurl's GnuTLS flavour, librtmp,
 * libldap). Exported from the executable by the link (CMakeLists.txt), so that it takes
 * precedence over GnuTLS's own weak definition. */
int _gnutls_global_init_skip(void);
int _gnutls_global_init_skip(void) { return 1; }

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
        static const struct option opts[] = {{"help", no_argument, NULL, 'h'},
                                             {"version", no_argument, NULL, 'V'},
                                             {NULL, 0, NULL, 0}};
        sky__cli_unknown_option(NULL, name, opts);
        return SKY_EXIT_USAGE;
    }
    char terr[256];
    if (sky__http_mode(NULL, &(sky_http_transport){0}, terr, sizeof terr) != SKY_OK) {
        fprintf(stderr, "skylog: %s\n", terr); /* before any command: every one would fail */
        return SKY_EXIT_USAGE;
    }
    const sky__command *c = find_command(name);
    if (!c)
        return unknown_command("skylog", name);
    return c->run(argc - 1, argv + 1);
}

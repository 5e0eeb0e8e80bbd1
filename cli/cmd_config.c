/*
 * cmd_config.c - `skylog config`: check a YAML configuration file, and list the options every
 * sink and processor accepts.
 *
 * Both subcommands read the library's option tables (src/config/registry.c) and loader, so
 * what `check` accepts is exactly what sky_open_file() accepts, and `options` (and the
 * Markdown it prints for docs/CONFIGURATION.md) can never list an option the loader does not
 * know. This file must never hold its own list of options.
 */
#include "cli.h"
#include "safetext.h"

#include "config/loader.h"
#include "config/registry.h"

#include <skylog.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char sky__config_help[] =
    "usage: skylog config check FILE\n"
    "       skylog config options [--markdown] [--env] [NAME]\n"
    "\n"
    "check    validates a YAML configuration file the way sky_open_file() reads it: every key\n"
    "         known, every value parsed, every sink and processor built with its real\n"
    "         constructor (files are opened for append; AWS is never contacted), then closed.\n"
    "         Prints the resulting pipeline: top-level options, processors in order, sinks with\n"
    "         their routes, logger levels. Errors name the file, line, column and option.\n"
    "options  prints the options of every sink and processor, or of NAME (a sink, a processor,\n"
    "         'pipeline' for the top-level keys, 'route' for the keys every sink accepts, or\n"
    "         'processor' for those every processor accepts).\n"
    "         Each option's environment variable is listed with it (SKYLOG_FILE__MAX_BYTES:\n"
    "         SKYLOG_<SECTION>__<OPTION>, SKYLOG_<KEY> for top-level keys); --env prints\n"
    "         only the variables sky_open_env() reads, aliases included; --markdown prints\n"
    "         the reference tables of docs/CONFIGURATION.md.\n"
    "\n"
    "exit status: 0 valid (or listed), 1 the file is invalid or cannot be read, 2 usage error.\n"
    "\n"
    "examples:\n"
    "  skylog config check /etc/shop/skylog.yaml\n"
    "  skylog config options cloudwatch_logs\n"
    "  skylog config options --env | grep CLOUDWATCH\n"
    "  SKYLOG_CONFIG=/etc/shop/skylog.yaml ./shop     # how a program uses the file\n";

static int usage(const char *fmt, const char *arg)
{
    fputs("skylog config: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs(" (see skylog config --help)\n", stderr);
    return SKY_EXIT_USAGE;
}

static int config_check(int argc, char **argv)
{
    if (argc != 2)
        return usage("check expects one FILE%s", "");
    const char *path = argv[1];
    sky_t *sky = NULL;
    char *summary = NULL, *err = NULL;
    sky_status st = sky__config_load_file(path, NULL, &sky, &summary, &err);
    if (st != SKY_OK) {
        sky__safe_printf(stderr, "%s\n", err ? err : sky_strerror(st)); /* may quote the file */
        free(err);
        return SKY_EXIT_FAIL;
    }
    printf("%s: valid\n%s", path, summary ? summary : "");
    free(summary);
    sky_status cst = sky_close(sky);
    if (cst != SKY_OK) {
        fprintf(stderr, "skylog config: closing the pipeline: %s\n", sky_strerror(cst));
        return SKY_EXIT_FAIL;
    }
    return SKY_EXIT_OK;
}

static const sky__component *find_any(const char *name)
{
    if (strcmp(name, "pipeline") == 0)
        return &sky__config_pipeline;
    if (strcmp(name, "route") == 0)
        return &sky__config_route;
    if (strcmp(name, "processor") == 0)
        return &sky__config_proc_keys;
    return sky__config_find(name);
}

static int config_options(int argc, char **argv)
{
    bool markdown = false, env = false;
    const char *name = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--markdown") == 0)
            markdown = true;
        else if (strcmp(argv[i], "--env") == 0)
            env = true;
        else if (argv[i][0] == '-') {
            static const struct option opts[] = {{"markdown", no_argument, NULL, 0},
                                                 {"env", no_argument, NULL, 0},
                                                 {"help", no_argument, NULL, 'h'},
                                                 {NULL, 0, NULL, 0}};
            sky__cli_unknown_option("config options", argv[i], opts);
            return SKY_EXIT_USAGE;
        }
        else if (name)
            return usage("options: unexpected argument '%s'", argv[i]);
        else
            name = argv[i];
    }
    void (*print)(const sky__component *, FILE *) =
        markdown ? sky__config_print_markdown : sky__config_print_text;
    if (env && name)
        return usage("options: --env lists every variable; drop '%s'", name);
    if (env) {
        sky__config_print_env(stdout, markdown);
        return SKY_EXIT_OK;
    }
    if (name) {
        const sky__component *c = find_any(name);
        if (!c) {
            const char *names[40];
            size_t n = 0;
            names[n++] = "pipeline";
            names[n++] = "route";
            names[n++] = "processor";
            for (size_t i = 0; sky__config_components[i] && n < 40; i++)
                names[n++] = sky__config_components[i]->name;
            const char *sug = sky__config_suggest(name, names, n);
            /* as every usage error: the did-you-mean, then where to look */
            fprintf(stderr, "skylog config options: unknown sink or processor '%s'", name);
            if (sug)
                fprintf(stderr, "; did you mean '%s'?", sug);
            fputs(" One of:", stderr);
            for (size_t i = 0; i < n; i++)
                fprintf(stderr, " %s", names[i]);
            fputs(" (see skylog config --help)\n", stderr);
            return SKY_EXIT_USAGE;
        }
        print(c, stdout);
        return SKY_EXIT_OK;
    }
    const char *heads[] = {"Top-level keys", "Sinks", "Processors"};
    for (int kind = 0; kind < 3; kind++) {
        if (markdown)
            printf("### %s\n\n", heads[kind]);
        else
            printf("%s%s:\n\n", kind ? "\n" : "", heads[kind]);
        if (kind == 0) {
            print(&sky__config_pipeline, stdout);
            continue;
        }
        if (kind == 1 || kind == 2) { /* the keys every sink (processor) accepts first */
            print(kind == 1 ? &sky__config_route : &sky__config_proc_keys, stdout);
            if (!markdown)
                fputc('\n', stdout);
        }
        bool first = true;
        for (size_t i = 0; sky__config_components[i]; i++) {
            const sky__component *c = sky__config_components[i];
            if ((int)c->kind != kind)
                continue;
            if (!markdown && !first)
                fputc('\n', stdout);
            first = false;
            print(c, stdout);
        }
    }
    if (markdown) {
        printf("### Environment variables\n\n");
        sky__config_print_env(stdout, true);
    }
    return SKY_EXIT_OK;
}

int sky__cmd_config(int argc, char **argv)
{
    if (sky__cli_wants_help(argc, argv)) {
        fputs(sky__config_help, stdout);
        return SKY_EXIT_OK;
    }
    if (argc >= 2 && strcmp(argv[1], "check") == 0)
        return config_check(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "options") == 0)
        return config_options(argc - 1, argv + 1);
    static const char *const subs[] = {"check", "options"};
    return sky__cli_unknown_subcommand("config", argc < 2 ? NULL : argv[1], subs, 2);
}

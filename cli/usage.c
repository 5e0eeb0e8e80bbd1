/*
 * usage.c - what every subcommand says when it is called wrongly: an unknown option named as
 * typed, with the closest real one ("did you mean '--follow'?") from the command's own
 * getopt_long table, so the suggestion can never name an option the command does not have.
 * The distance is the config loader's (sky__config_suggest), so the CLI and the YAML/env
 * checks agree on what counts as a typo.
 */
#include "cli.h"

#include "config/registry.h"

#include <stdio.h>
#include <string.h>

void sky__cli_unknown_option(const char *cmd, const char *arg, const struct option *opts)
{
    /* `skylog --x`: the command's own name is empty */
    const char *sp = cmd && *cmd ? " " : "";
    cmd = cmd ? cmd : "";
    const char *sug = NULL;
    if (arg[0] == '-' && arg[1] == '-') {
        char word[64];
        size_t n = strcspn(arg + 2, "=");
        if (n < sizeof word) {
            memcpy(word, arg + 2, n);
            word[n] = '\0';
            const char *names[128];
            size_t k = 0;
            for (; opts[k].name && k < 128; k++)
                names[k] = opts[k].name;
            sug = sky__config_suggest(word, names, k);
        }
    }
    if (sug)
        fprintf(stderr, "skylog%s%s: unknown option '%s'; did you mean '--%s'? (see skylog%s%s "
                "--help)\n", sp, cmd, arg, sug, sp, cmd);
    else
        fprintf(stderr, "skylog%s%s: unknown option '%s' (see skylog%s%s --help)\n", sp, cmd, arg,
                sp, cmd);
}

int sky__cli_unknown_subcommand(const char *cmd, const char *word, const char *const *subs,
                                size_t n)
{
    char list[256] = "";
    size_t len = 0;
    for (size_t i = 0; i < n && len < sizeof list; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%s",
                                i == 0 ? "" : i + 1 == n ? " or " : ", ", subs[i]);
    const char *sug = word && *word && *word != '-' ? sky__cli_suggest(word, subs, n) : NULL;
    if (!word || !*word || *word == '-')
        fprintf(stderr, "skylog %s: expected a subcommand: %s", cmd, list);
    else if (sug)
        fprintf(stderr, "skylog %s: unknown subcommand '%s'; did you mean '%s'?", cmd, word, sug);
    else
        fprintf(stderr, "skylog %s: unknown subcommand '%s': expected %s", cmd, word, list);
    fprintf(stderr, " (see skylog %s --help)\n", cmd);
    return SKY_EXIT_USAGE;
}

bool sky__cli_num_flag(const char *cmd, const char *flag, const sky__opt *row, const char *arg,
                       int64_t *out)
{
    sky__value v;
    char err[400];
    if (!sky__opt_parse(row, arg, &v, err, sizeof err)) {
        fprintf(stderr, "skylog %s: %s: %s\n", cmd, flag, err);
        return false;
    }
    *out = v.i;
    return true;
}

/* The registry's parser decides what a number is, so a flag and a config option agree. */
bool sky__cli_int_flag(const char *cmd, const char *flag, const char *arg, int64_t min,
                       int64_t max, int64_t *out)
{
    sky__opt row = {.type = SKY__OPT_INT, .min = min, .max = max};
    return sky__cli_num_flag(cmd, flag, &row, arg, out);
}

bool sky__cli_real_flag(const char *cmd, const char *flag, const char *arg, double min,
                        double max, double *out)
{
    sky__opt row = {.type = SKY__OPT_NUMBER, .dmin = min, .dmax = max};
    sky__value v;
    char err[400];
    if (!sky__opt_parse(&row, arg, &v, err, sizeof err)) {
        fprintf(stderr, "skylog %s: %s: %s\n", cmd, flag, err);
        return false;
    }
    *out = v.d;
    return true;
}

const char *sky__cli_suggest(const char *word, const char *const *names, size_t n)
{
    return sky__config_suggest(word, names, n);
}

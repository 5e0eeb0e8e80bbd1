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
        fprintf(stderr, "skylog %s: unknown option '%s'; did you mean '--%s'? (see skylog %s "
                "--help)\n", cmd, arg, sug, cmd);
    else
        fprintf(stderr, "skylog %s: unknown option '%s' (see skylog %s --help)\n", cmd, arg, cmd);
}

const char *sky__cli_suggest(const char *word, const char *const *names, size_t n)
{
    return sky__config_suggest(word, names, n);
}

/*
 * cmd_serve.c - `skylog serve`: its help, and the exec of the `skylog-serve` program that runs
 * the local endpoint (cli/serve/skylog_serve.c), with the same arguments.
 *
 * The endpoint is a program of its own so that the `skylog` command does not map what only a
 * server needs (libmicrohttpd, GnuTLS, SQLite and their dependencies: about 2.6 MiB of RSS in
 * every `skylog ship` and `tail`, issue 13). exec keeps the process: its pid, its signals, its
 * stdout and exit status are the server's, so whatever starts `skylog serve` and stops it by
 * pid works as when it was one program. --help is answered here, so the help, man page and
 * completion never need the server; the text is in serve_help.c, which both programs link.
 *
 * Where the program is looked for, first found wins: next to this executable (a build tree),
 * then SKY_SERVE_RELDIR relative to it (an installed tree, wherever it was moved), then the
 * libexec directory it was configured to be installed in (SKY_SERVE_LIBEXECDIR). Symbolic
 * links to `skylog` are followed (/proc/self/exe is the real file).
 */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef SKY_SERVE_RELDIR
#define SKY_SERVE_RELDIR "../libexec/skylog"
#endif
#ifndef SKY_SERVE_LIBEXECDIR
#define SKY_SERVE_LIBEXECDIR "/usr/local/libexec/skylog"
#endif
#define SKY_SERVE_PROGRAM "skylog-serve"

/* Writes dir + "/" + rel + "/skylog-serve" (rel may be empty) into out; false if too long. */
static bool program_path(char *out, size_t cap, const char *dir, const char *rel)
{
    int n = *rel ? snprintf(out, cap, "%s/%s/%s", dir, rel, SKY_SERVE_PROGRAM)
                 : snprintf(out, cap, "%s/%s", dir, SKY_SERVE_PROGRAM);
    return n > 0 && (size_t)n < cap;
}

/* The candidates in order (see the top of the file); the number written to cand. */
static size_t candidates(char cand[3][PATH_MAX])
{
    size_t n = 0;
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len > 0) {
        self[len] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            const char *dir = slash == self ? "" : self;
            if (program_path(cand[n], PATH_MAX, dir, ""))
                n++;
            if (program_path(cand[n], PATH_MAX, dir, SKY_SERVE_RELDIR))
                n++;
        }
    }
    if (program_path(cand[n], PATH_MAX, SKY_SERVE_LIBEXECDIR, ""))
        n++;
    return n;
}

int sky__cmd_serve(int argc, char **argv)
{
    if (sky__cli_wants_help(argc, argv)) {
        fputs(sky__serve_help, stdout);
        return SKY_EXIT_OK;
    }
    char cand[3][PATH_MAX];
    size_t n = candidates(cand);
    for (size_t i = 0; i < n; i++) {
        if (access(cand[i], X_OK) != 0)
            continue;
        fflush(NULL);
        argv[0] = (char *)SKY_SERVE_PROGRAM;
        execv(cand[i], argv);
        fprintf(stderr, "skylog serve: cannot run %s: %s\n", cand[i], strerror(errno));
        return SKY_EXIT_FAIL;
    }
    fprintf(stderr, "skylog serve: the server program %s is not installed; looked for",
            SKY_SERVE_PROGRAM);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "%s %s", i ? "," : "", cand[i]);
    fprintf(stderr, " (build it with the skylog command, or run make install)\n");
    return SKY_EXIT_FAIL;
}

/*
 * fuzz_common.h - what the library's fuzz targets share: a scratch working directory and an
 * environment that keeps a target from reaching the network or the user's files.
 *
 * Header-only (static functions), so tests/fuzz/CMakeLists.txt stays "one .c, one target".
 * A target calls sky_fuzz_sandbox() from LLVMFuzzerInitialize (SKY_FUZZ_SANDBOXED does that).
 */
#ifndef SKY_FUZZ_COMMON_H
#define SKY_FUZZ_COMMON_H

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char sky_fuzz_dir[64];

static int sky_fuzz_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* The scratch directory goes at exit (replays run in every `make test`). */
static void sky_fuzz_cleanup(void)
{
    if (sky_fuzz_dir[0] && chdir("/") == 0)
        nftw(sky_fuzz_dir, sky_fuzz_rm, 16, FTW_DEPTH | FTW_PHYS);
}

/* An absolute copy of a relative path (not freed: argv lives as long as the process). */
static inline char *sky_fuzz_abs(const char *path)
{
    if (path[0] == '/' || !path[0])
        return (char *)path;
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd))
        return (char *)path;
    size_t n = strlen(cwd) + strlen(path) + 2;
    char *a = malloc(n);
    if (!a)
        return (char *)path;
    snprintf(a, n, "%s/%s", cwd, path);
    return a;
}

/* Moves into a fresh temporary directory (relative paths a config names land there) and sets
 * the environment so credentials, profiles and regions never come from the machine running the
 * fuzzer, and nothing waits for an instance metadata service. The command line's paths (inputs,
 * corpus directories, -artifact_prefix=...) are made absolute first, so libFuzzer and the
 * replay driver still find them after the move. */
static inline void sky_fuzz_sandbox(int *argc, char ***argv)
{
    for (int i = 1; argc && argv && i < *argc; i++) {
        char *a = (*argv)[i];
        if (a[0] != '-') {
            (*argv)[i] = sky_fuzz_abs(a);
        } else if (strchr(a, '=') && (strncmp(a, "-artifact_prefix=", 17) == 0 ||
                                      strncmp(a, "-exact_artifact_path=", 21) == 0 ||
                                      strncmp(a, "-dict=", 6) == 0)) {
            char *eq = strchr(a, '=');
            char *path = sky_fuzz_abs(eq + 1);
            size_t n = (size_t)(eq + 1 - a) + strlen(path) + 1;
            char *na = malloc(n);
            if (na) {
                snprintf(na, n, "%.*s%s", (int)(eq + 1 - a), a, path);
                (*argv)[i] = na;
            }
        }
    }
    char tmpl[] = "/tmp/skylog-fuzz-XXXXXX";
    const char *dir = mkdtemp(tmpl);
    if (!dir || chdir(dir) != 0) {
        perror("fuzz: cannot make a scratch directory");
        abort();
    }
    snprintf(sky_fuzz_dir, sizeof sky_fuzz_dir, "%s", dir);
    atexit(sky_fuzz_cleanup);
    setenv("HOME", dir, 1);
    setenv("AWS_CONFIG_FILE", "/dev/null", 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null", 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    setenv("AWS_REGION", "us-east-1", 1);
    setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 1);
    unsetenv("AWS_PROFILE");
    unsetenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
    unsetenv("SKYLOG_CONFIG");
}

/* Defines LLVMFuzzerInitialize as the sandbox, for targets that need nothing more. */
#define SKY_FUZZ_SANDBOXED                                                                        \
    int LLVMFuzzerInitialize(int *argc, char ***argv);                                            \
    int LLVMFuzzerInitialize(int *argc, char ***argv)                                             \
    {                                                                                              \
        sky_fuzz_sandbox(argc, argv);                                                              \
        return 0;                                                                                  \
    }

/* A NUL-terminated copy of the input (parsers of C strings); free() it. */
static inline char *sky_fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* Sets vars[0..n) from text (size bytes, NUL-terminated by sky_fuzz_cstr) split at newlines:
 * a missing line or "\x01" unsets the variable. Returns what follows the n-th line (the end
 * when there is none). */
static inline char *sky_fuzz_setenv_lines(const char *const *vars, size_t n, char *text,
                                          size_t size)
{
    char *p = text, *end = text + size;
    for (size_t i = 0; i < n; i++) {
        char *nl = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
        if (nl)
            *nl = '\0';
        if (p >= end || strcmp(p, "\x01") == 0)
            unsetenv(vars[i]);
        else
            setenv(vars[i], p, 1); /* an embedded NUL ends the value, as in a real environment */
        p = nl ? nl + 1 : end;
    }
    return p;
}

#endif

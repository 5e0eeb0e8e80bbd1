/*
 * creds_profile.c - credentials from the shared files: static keys, credential_process, and
 * roles (role_arn with source_profile, credential_source or web_identity_token_file).
 *
 * Order within a profile follows botocore: a role_arn wins; then SSO (creds_sso.c); then keys in
 * the credentials file; then credential_process; then keys in the config file. source_profile chains are followed up
 * to a small depth (a loop in the files is an error, not a hang).
 *
 * credential_process runs without a shell, its command split like Python's shlex.split (as
 * botocore does): "$HOME" or "~" are not expanded, quotes group words.
 * Must never: echo a credential_process's output (it holds the secret) or a file's values in an
 * error. The process's stderr is inherited (botocore captures it into its exception text; we
 * leave it to the terminal rather than risk copying what a helper prints into our errors).
 */
#include "aws/creds.h"
#include "aws/profile.h"

#include "aws/buf.h"
#include "util/secmem.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_PROFILE_DEPTH 5

void sky__argv_free(char **argv)
{
    for (char **a = argv; a && *a; a++)
        free(*a);
    free(argv);
}

/* Python's shlex.split (POSIX mode), which botocore uses for credential_process: white space
 * separates words, '...' is literal, "..." lets a backslash escape only '"' and '\\', a
 * backslash outside quotes escapes any character, '#' is an ordinary character. */
sky_status sky__shell_split(const char *s, char ***argv_out)
{
    *argv_out = NULL;
    size_t n = 0, cap = 8;
    char **argv = calloc(cap, sizeof *argv);
    if (!argv)
        return SKY_ENOMEM;
    const char *p = s ? s : "";
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
            p++;
        if (!*p)
            break;
        sky__buf w = {0};
        sky__buf_cstr(&w); /* a word may be empty (""), but exists */
        while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            if (*p == '\\') {
                if (!p[1])
                    goto bad;
                sky__buf_putc(&w, p[1]);
                p += 2;
            } else if (*p == '\'') {
                const char *end = strchr(p + 1, '\'');
                if (!end)
                    goto bad;
                sky__buf_append(&w, p + 1, (size_t)(end - p - 1));
                p = end + 1;
            } else if (*p == '"') {
                p++;
                while (*p && *p != '"') {
                    if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
                        p++;
                    sky__buf_putc(&w, *p++);
                }
                if (*p != '"')
                    goto bad;
                p++;
            } else {
                sky__buf_putc(&w, *p++);
            }
        }
        if (n + 2 > cap) {
            char **na = realloc(argv, (cap *= 2) * sizeof *argv);
            if (!na) {
                sky__buf_free(&w);
                sky__argv_free(argv);
                return SKY_ENOMEM;
            }
            argv = na;
        }
        if (!(argv[n] = sky__buf_steal(&w))) {
            sky__argv_free(argv);
            return SKY_ENOMEM;
        }
        argv[++n] = NULL;
        continue;
    bad:
        sky__buf_free(&w);
        sky__argv_free(argv);
        return SKY_EINVAL;
    }
    if (n == 0) {
        sky__argv_free(argv);
        return SKY_EINVAL;
    }
    *argv_out = argv;
    return SKY_OK;
}

/* Runs the command without a shell (as botocore does), reads its stdout; stderr is inherited. */
static sky_status run_process(sky__cctx *ctx, const char *cmd, sky_aws_credentials *out)
{
    char **argv;
    sky_status st = sky__shell_split(cmd, &argv);
    if (st == SKY_EINVAL)
        return sky__cerr(ctx, SKY_EINVAL, "credential_process: unbalanced quotes or empty command");
    if (st != SKY_OK)
        return st;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        sky__argv_free(argv);
        return sky__cerr(ctx, SKY_EIO, "credential_process: pipe failed");
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    pid_t pid;
    extern char **environ;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        st = sky__cerr(ctx, SKY_EAUTH, "credential_process could not be started: %.64s: %s",
                       argv[0], strerror(rc));
        sky__argv_free(argv);
        return st;
    }
    sky__argv_free(argv);
    sky__buf b = {0};
    char chunk[4096];
    ssize_t r;
    while ((r = read(fds[0], chunk, sizeof chunk)) != 0) {
        if (r < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (b.len < (1u << 20))
            sky__buf_append(&b, chunk, (size_t)r);
    }
    sky__wipe(chunk, sizeof chunk);
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        st = sky__cerr(ctx, SKY_EAUTH, "credential_process failed (exit status %d)",
                       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    } else if (b.oom) {
        st = SKY_ENOMEM;
    } else {
        st = sky__creds_from_json(ctx, b.data, b.len, true, out);
    }
    sky__buf_wipe(&b);
    return st;
}

static sky_status from_keys(sky__cctx *ctx, const sky__profiles *pf, const char *name,
                            bool creds_file, sky_aws_credentials *out)
{
    const char *akid = sky__profile_get(pf, name, "aws_access_key_id", creds_file);
    const char *secret = sky__profile_get(pf, name, "aws_secret_access_key", creds_file);
    if (!akid && !secret)
        return SKY_ENOTFOUND;
    if (!akid || !*akid || !secret || !*secret)
        return sky__cerr(ctx, SKY_EAUTH, "profile %.64s: incomplete keys in the %s file", name,
                         creds_file ? "credentials" : "config");
    ctx->source = "profile";
    return sky__creds_set(out, akid, secret,
                          sky__profile_get(pf, name, "aws_session_token", creds_file), 0);
}

static const char *pget(const sky__profiles *pf, const char *name, const char *key)
{
    const char *v = sky__profile_get(pf, name, key, false);
    return v ? v : sky__profile_get(pf, name, key, true);
}

static sky_status profile_creds(sky__cctx *ctx, const sky__profiles *pf, const char *name,
                                bool is_source, sky_aws_credentials *out);

static sky_status role_creds(sky__cctx *ctx, const sky__profiles *pf, const char *name,
                             const char *role_arn, sky_aws_credentials *out)
{
    const char *session = pget(pf, name, "role_session_name");
    char defname[64];
    if (!session || !*session) {
        snprintf(defname, sizeof defname, "skylog-%lld", (long long)(ctx->now_ns / 1000000000));
        session = defname;
    }
    const char *token_file = pget(pf, name, "web_identity_token_file");
    if (token_file && *token_file) {
        sky_status st = sky__sts_assume_role_web_identity(ctx, role_arn, session, token_file, out);
        if (st == SKY_OK)
            ctx->source = "web-identity";
        return st;
    }
    const char *src_profile = pget(pf, name, "source_profile");
    const char *cred_source = pget(pf, name, "credential_source");
    sky_aws_credentials src;
    memset(&src, 0, sizeof src);
    sky_status st;
    if (src_profile && *src_profile) {
        if (++ctx->depth > MAX_PROFILE_DEPTH)
            return sky__cerr(ctx, SKY_EINVAL, "profile %.64s: source_profile chain too long", name);
        if (strcmp(src_profile, name) == 0) {
            /* a profile may be its own source: then only its static keys are used */
            st = from_keys(ctx, pf, name, true, &src);
            if (st == SKY_ENOTFOUND)
                st = from_keys(ctx, pf, name, false, &src);
        } else {
            st = profile_creds(ctx, pf, src_profile, true, &src);
        }
        if (st == SKY_ENOTFOUND)
            st = sky__cerr(ctx, SKY_EAUTH, "profile %.64s: source_profile %.64s has no credentials",
                           name, src_profile);
    } else if (cred_source && *cred_source) {
        if (strcasecmp(cred_source, "Environment") == 0)
            st = sky__creds_env(ctx, &src);
        else if (strcasecmp(cred_source, "Ec2InstanceMetadata") == 0)
            st = sky__creds_imds(ctx, &src);
        else if (strcasecmp(cred_source, "EcsContainer") == 0)
            st = sky__creds_container(ctx, &src);
        else
            return sky__cerr(ctx, SKY_EINVAL, "profile %.64s: unknown credential_source", name);
        if (st == SKY_ENOTFOUND)
            st = sky__cerr(ctx, SKY_EAUTH, "profile %.64s: credential_source has no credentials",
                           name);
    } else {
        return sky__cerr(ctx, SKY_EINVAL,
                         "profile %.64s: role_arn needs source_profile, credential_source or "
                         "web_identity_token_file",
                         name);
    }
    if (st != SKY_OK)
        return st;
    st = sky__sts_assume_role(ctx, &src, role_arn, session, pget(pf, name, "external_id"),
                              pget(pf, name, "duration_seconds"), out);
    sky_aws_credentials_clear(&src);
    if (st == SKY_OK)
        ctx->source = "assume-role";
    return st;
}

static sky_status profile_creds(sky__cctx *ctx, const sky__profiles *pf, const char *name,
                                bool is_source, sky_aws_credentials *out)
{
    (void)is_source;
    const char *role_arn = pget(pf, name, "role_arn");
    if (role_arn && *role_arn)
        return role_creds(ctx, pf, name, role_arn, out);
    const char *sso = sky__profile_get(pf, name, "sso_session", false);
    if (!sso)
        sso = sky__profile_get(pf, name, "sso_start_url", false);
    if (sso && *sso) /* botocore's SSO provider comes before the static keys */
        return sky__creds_sso(ctx, pf, name, out);
    sky_status st = from_keys(ctx, pf, name, true, out);
    if (st != SKY_ENOTFOUND)
        return st;
    const char *proc = pget(pf, name, "credential_process");
    if (proc && *proc) {
        st = run_process(ctx, proc, out);
        if (st == SKY_OK)
            ctx->source = "process";
        return st;
    }
    return from_keys(ctx, pf, name, false, out);
}

sky_status sky__creds_profile(sky__cctx *ctx, const char *profile, sky_aws_credentials *out)
{
    sky__profiles pf;
    sky_status st = sky__profiles_load(&pf, ctx->p->o.credentials_file, ctx->p->o.config_file);
    if (st == SKY_ELIMIT)
        return sky__cerr(ctx, st, "an AWS shared config or credentials file is larger than %zu MiB",
                         SKY__INI_MAX_BYTES >> 20);
    if (st != SKY_OK)
        return st;
    const char *name = sky__profile_name(profile ? profile : ctx->p->o.profile);
    if (!sky__profile_exists(&pf, name)) {
        /* a profile asked for by name must exist; a missing "default" just means "no files" */
        st = strcmp(name, "default") == 0
                 ? SKY_ENOTFOUND
                 : sky__cerr(ctx, SKY_EAUTH, "profile %.64s not found in the shared files", name);
    } else {
        st = profile_creds(ctx, &pf, name, false, out);
    }
    sky__profiles_free(&pf);
    return st;
}

/*
 * creds_profile.c - credentials from the shared files: static keys, credential_process, and
 * roles (role_arn with source_profile, credential_source or web_identity_token_file).
 *
 * Order within a profile follows botocore: a role_arn wins; then SSO (creds_sso.c); then keys in
 * the credentials file; then credential_process; then keys in the config file. source_profile chains are followed up
 * to a small depth (a loop in the files is an error, not a hang).
 *
 * Must never: echo a credential_process's output (it holds the secret) or a file's values in an
 * error. The process's stderr is inherited, as the SDKs let users see their helper's complaints.
 */
#include "aws/creds.h"
#include "aws/profile.h"

#include "aws/buf.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>

#define MAX_PROFILE_DEPTH 5

static sky_status run_process(sky__cctx *ctx, const char *cmd, sky_aws_credentials *out)
{
    FILE *f = popen(cmd, "r");
    if (!f)
        return sky__cerr(ctx, SKY_EAUTH, "credential_process could not be started");
    sky__buf b = {0};
    char chunk[4096];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0)
        if (b.len < (1u << 20))
            sky__buf_append(&b, chunk, r);
    OPENSSL_cleanse(chunk, sizeof chunk);
    int status = pclose(f);
    sky_status st;
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        st = sky__cerr(ctx, SKY_EAUTH, "credential_process failed (exit status %d)",
                       status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1);
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

/*
 * creds_sso.c - credentials from IAM Identity Center (AWS SSO) profiles: the access token that
 * `aws sso login` cached in ~/.aws/sso/cache/<sha1>.json is exchanged for role credentials with
 * the portal's GetRoleCredentials (GET /federation/credentials, unsigned, bearer header).
 *
 * Both profile forms are read: `sso_session = NAME` with an `[sso-session NAME]` section (cache
 * file named after SHA-1 of NAME) and the legacy `sso_start_url`/`sso_region` in the profile
 * (SHA-1 of the start URL). Refreshing an expired SSO token (SSO OIDC CreateToken) is not done:
 * the error says to run `aws sso login`. Must never put the access token or the returned secret
 * into an error text.
 */
#include "aws/creds.h"
#include "aws/profile.h"

#include "aws/buf.h"
#include "aws/crypto_api.h"
#include "util/secmem.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* False when libcrypto cannot be loaded (then `out` is empty). */
static bool sha1_hex(const char *s, char out[41])
{
    unsigned char md[20];
    out[0] = '\0';
    if (!sky__sha1(s, strlen(s), md))
        return false;
    for (unsigned i = 0; i < 20; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return true;
}

static const char *pget(const sky__profiles *pf, const char *name, const char *key)
{
    return sky__profile_get(pf, name, key, false);
}

/* The portal endpoint: AWS_ENDPOINT_URL_SSO / AWS_ENDPOINT_URL, else the regional portal. */
static sky_status portal_url(const char *region, char *out, size_t cap)
{
    const char *ignore = getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
    if (!(ignore && strcasecmp(ignore, "true") == 0)) {
        const char *v = getenv("AWS_ENDPOINT_URL_SSO");
        if (!v || !*v)
            v = getenv("AWS_ENDPOINT_URL");
        if (v && *v)
            return sky_aws_resolve_endpoint("sso", region, v, out, cap);
    }
    char def[256];
    snprintf(def, sizeof def, "https://portal.sso.%s.amazonaws.com%s", region,
             strncmp(region, "cn-", 3) == 0 ? ".cn" : "");
    return sky_aws_resolve_endpoint("sso", region, def, out, cap);
}

/* jansson keeps its own copies of secrets: blank them before the object is freed. */
static void wipe_json(json_t *obj, const char *key)
{
    json_t *t = json_object_get(obj, key);
    if (json_is_string(t))
        json_string_set(t, "");
}

sky_status sky__sso_parse_cached_token(sky__cctx *ctx, const char *text, size_t len,
                                       char **token)
{
    *token = NULL;
    json_t *j = json_loadb(text ? text : "", text ? len : 0, 0, NULL);
    const char *tok = json_string_value(json_object_get(j, "accessToken"));
    const char *exp = json_string_value(json_object_get(j, "expiresAt"));
    int64_t exp_ns;
    sky_status st;
    if (!tok || !*tok || !exp || sky_aws_parse_time(exp, &exp_ns) != SKY_OK)
        st = sky__cerr(ctx, SKY_EAUTH, "cached SSO token is malformed: run `aws sso login`");
    else if (exp_ns <= ctx->now_ns)
        st = sky__cerr(ctx, SKY_EAUTH, "cached SSO token has expired: run `aws sso login`");
    else if (!(*token = strdup(tok)))
        st = SKY_ENOMEM;
    else
        st = SKY_OK;
    wipe_json(j, "accessToken");
    wipe_json(j, "refreshToken");
    json_decref(j);
    return st;
}

/* Reads accessToken (malloc'd) from the cache file; checks expiresAt against now. */
static sky_status cached_token(sky__cctx *ctx, const char *key_source, char **token)
{
    *token = NULL;
    char hex[41];
    if (!sha1_hex(key_source, hex)) {
        char why[400];
        sky__crypto_load(why, sizeof why);
        return sky__cerr(ctx, SKY_EUNSUPPORTED, "cannot name the SSO cache file: %s", why);
    }
    char rel[128];
    snprintf(rel, sizeof rel, "~/.aws/sso/cache/%s.json", hex);
    char *path = sky__expand_home(rel);
    char *text = path ? sky__read_small_file(path) : NULL;
    free(path);
    if (!text)
        return sky__cerr(ctx, SKY_EAUTH, "no cached SSO token: run `aws sso login`");
    size_t len = strlen(text);
    sky_status st = sky__sso_parse_cached_token(ctx, text, len, token);
    sky__wipe(text, len);
    free(text);
    return st;
}

/* An expiration in Unix milliseconds as nanoseconds; false unless it is a plausible time
 * (1970..2200): the portal is outside input, and ms * 10^6 must not overflow. */
static bool expiration_ms(json_t *v, int64_t *ns)
{
    *ns = 0;
    if (!v)
        return true; /* none given: credentials that do not expire */
    if (!json_is_integer(v))
        return false;
    json_int_t ms = json_integer_value(v);
    if (ms < 0 || ms > (json_int_t)7258118400000) /* 2200-01-01 */
        return false;
    *ns = (int64_t)ms * 1000000;
    return true;
}

sky_status sky__sso_parse_role_credentials(sky__cctx *ctx, const char *body, size_t len,
                                           sky_aws_credentials *out)
{
    memset(out, 0, sizeof *out);
    json_t *j = json_loadb(body ? body : "", body ? len : 0, 0, NULL);
    json_t *rc = json_object_get(j, "roleCredentials");
    const char *akid = json_string_value(json_object_get(rc, "accessKeyId"));
    const char *secret = json_string_value(json_object_get(rc, "secretAccessKey"));
    const char *stok = json_string_value(json_object_get(rc, "sessionToken"));
    int64_t exp_ns;
    sky_status st;
    if (!akid || !*akid || !secret || !*secret)
        st = sky__cerr(ctx, SKY_EPROTO, "SSO GetRoleCredentials: answer has no credentials");
    else if (!expiration_ms(json_object_get(rc, "expiration"), &exp_ns))
        st = sky__cerr(ctx, SKY_EPROTO, "SSO GetRoleCredentials: answer has a malformed expiration");
    else
        st = sky__creds_set(out, akid, secret, stok, exp_ns);
    wipe_json(rc, "secretAccessKey");
    wipe_json(rc, "sessionToken");
    json_decref(j);
    return st;
}

sky_status sky__creds_sso(sky__cctx *ctx, const sky__profiles *pf, const char *name,
                          sky_aws_credentials *out)
{
    const char *session = pget(pf, name, "sso_session");
    const char *start_url, *region;
    char section[256];
    if (session && *session) {
        snprintf(section, sizeof section, "sso-session %s", session);
        start_url = sky__ini_get(&pf->config, section, "sso_start_url");
        region = sky__ini_get(&pf->config, section, "sso_region");
    } else {
        start_url = pget(pf, name, "sso_start_url");
        region = pget(pf, name, "sso_region");
    }
    const char *account = pget(pf, name, "sso_account_id");
    const char *role = pget(pf, name, "sso_role_name");
    if (!start_url || !region || !account || !role)
        return sky__cerr(ctx, SKY_EINVAL,
                         "profile %.64s: SSO needs sso_start_url, sso_region, sso_account_id and "
                         "sso_role_name",
                         name);
    char *token;
    sky_status st = cached_token(ctx, session && *session ? session : start_url, &token);
    if (st != SKY_OK)
        return st;
    char base[1024], url[2048];
    if (portal_url(region, base, sizeof base) != SKY_OK) {
        sky__wipe(token, strlen(token));
        free(token);
        return sky__cerr(ctx, SKY_EINVAL, "SSO portal endpoint cannot be resolved");
    }
    char *ea = sky_aws_uri_encode(account, strlen(account), false);
    char *er = sky_aws_uri_encode(role, strlen(role), false);
    if (!ea || !er) {
        free(ea);
        free(er);
        sky__wipe(token, strlen(token));
        free(token);
        return SKY_ENOMEM;
    }
    snprintf(url, sizeof url, "%s/federation/credentials?account_id=%s&role_name=%s", base, ea, er);
    free(ea);
    free(er);
    sky_aws_header h[1] = {{"x-amz-sso_bearer_token", token}};
    sky_http_client *http;
    st = sky_http_client_new(ctx->p->o.http, &http);
    sky_http_response resp;
    char why[256] = "cannot create an HTTP client";
    if (st == SKY_EUNSUPPORTED)
        sky_http_init(why, sizeof why); /* libcurl could not be loaded: say why */
    if (st == SKY_OK) {
        sky_http_request r = {.method = "GET", .url = url, .headers = h, .n_headers = 1};
        st = sky_http_perform(http, &r, &resp, why, sizeof why);
        sky_http_client_free(http);
    }
    sky__wipe(token, strlen(token));
    free(token);
    if (st != SKY_OK)
        return sky__cerr(ctx, st, "SSO GetRoleCredentials: %s", why);
    if (resp.status == 401 || resp.status == 403) {
        st = sky__cerr(ctx, SKY_EAUTH, "SSO session is no longer valid (HTTP %ld): run `aws sso "
                                       "login`", resp.status);
    } else if (resp.status != 200) {
        st = sky__cerr(ctx, SKY_EREMOTE, "SSO GetRoleCredentials answered HTTP %ld", resp.status);
    } else {
        st = sky__sso_parse_role_credentials(ctx, resp.body, resp.body_len, out);
        if (st == SKY_OK)
            ctx->source = "sso";
    }
    sky__wipe(resp.body, resp.body_len);
    sky_http_response_free(&resp);
    return st;
}

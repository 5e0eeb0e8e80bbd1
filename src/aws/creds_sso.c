/*
 * creds_sso.c - credentials from IAM Identity Center (AWS SSO) profiles: the access token that
 * `aws sso login` cached in ~/.aws/sso/cache/<sha1>.json is exchanged for role credentials with
 * the portal's GetRoleCredentials (GET /federation/credentials, unsigned, bearer header).
 *
 * Both profile forms are read: `sso_session = NAME` with an `[sso-session NAME]` section (cache
 * file named after SHA-1 of NAME) and the legacy `sso_start_url`/`sso_region` in the profile
 * (SHA-1 of the start URL).
 *
 * Refresh, as botocore's SSOTokenProvider (tokens.py): for sso-session profiles only, a cached
 * token that expires within 15 minutes is renewed with SSO OIDC CreateToken (POST /token,
 * grant_type refresh_token, unsigned, oidc.<region>.amazonaws.com or AWS_ENDPOINT_URL_SSO_OIDC)
 * when the cache holds refreshToken, clientId, clientSecret and a registrationExpiresAt still
 * in the future; the new token is written back to the cache file atomically (a 0600 temporary
 * file in the same directory, fsync, rename) with the keys botocore writes. A refresh that
 * fails leaves a still-valid token in use; an expired one that cannot be renewed is the error
 * "SSO session expired: run `aws sso login`" with the reason.
 *
 * Both calls retry as botocore's clients do, in the configured retry mode (creds_call.c).
 *
 * Must never put the access token, the refresh token, the client secret or the returned secret
 * into an error text; every copy of them is wiped before it is freed.
 */
#include "aws/creds.h"
#include "aws/endpoint.h"
#include "aws/profile.h"

#include "aws/buf.h"
#include "aws/crypto_api.h"
#include "util/secmem.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define REFRESH_WINDOW_NS (15LL * 60 * 1000000000) /* SSOTokenProvider._REFRESH_WINDOW */
#define MAX_FIELD 65536 /* a token or a secret longer than this is not one: malformed */

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

/* An SSO endpoint (service "sso" or "sso-oidc"): the one configured for it as for every client
 * (variables, the config file's services section and endpoint_url: endpoint.h), else
 * https://<host>.<region>.amazonaws.com (the portal: "portal.sso", OIDC: "oidc"). botocore makes
 * these clients from the session, so the session's profile is the one that counts. On failure
 * why says why. */
static sky_status sso_endpoint(sky__cctx *ctx, const char *service, const char *host,
                               const char *region, char *out, size_t cap, char *why,
                               size_t whylen)
{
    const sky_aws_creds_opts *o = &ctx->p->o;
    sky_status st = sky__aws_configured_endpoint(service, NULL, o->profile, o->credentials_file,
                                                 o->config_file, out, cap, why, whylen);
    if (st != SKY_ENOTFOUND)
        return st;
    char def[256];
    snprintf(def, sizeof def, "https://%s.%s.amazonaws.com%s", host, region,
             strncmp(region, "cn-", 3) == 0 ? ".cn" : "");
    st = sky_aws_resolve_endpoint(service, region, def, out, cap);
    if (st != SKY_OK)
        snprintf(why, whylen, "the %s endpoint cannot be resolved", service);
    return st;
}

/* jansson keeps its own copies of secrets: blank them before the object is freed. */
static void wipe_json(json_t *obj, const char *key)
{
    json_t *t = json_object_get(obj, key);
    if (json_is_string(t))
        json_string_set(t, "");
}

/* A string field of at most MAX_FIELD bytes, copied; NULL when absent or not a string. */
static bool take_str(json_t *j, const char *key, char **out)
{
    *out = NULL;
    json_t *v = json_object_get(j, key);
    if (!json_is_string(v))
        return true;
    size_t n = json_string_length(v);
    if (n == 0 || n > MAX_FIELD)
        return true; /* not a usable value: as if absent */
    *out = strndup(json_string_value(v), n);
    return *out != NULL;
}

static void free_secret(char **s)
{
    if (*s) {
        sky__wipe(*s, strlen(*s));
        free(*s);
        *s = NULL;
    }
}

void sky__sso_token_clear(sky__sso_token *t)
{
    free_secret(&t->access_token);
    free_secret(&t->refresh_token);
    free_secret(&t->client_id);
    free_secret(&t->client_secret);
    free(t->registration_expires_at);
    memset(t, 0, sizeof *t);
}

sky_status sky__sso_parse_cache(sky__cctx *ctx, const char *text, size_t len, sky__sso_token *t)
{
    memset(t, 0, sizeof *t);
    if (!text || len > SKY__SSO_CACHE_MAX)
        return sky__cerr(ctx, SKY_EAUTH, "cached SSO token is malformed: run `aws sso login`");
    json_t *j = json_loadb(text, len, 0, NULL);
    const char *exp = json_string_value(json_object_get(j, "expiresAt"));
    sky_status st = SKY_OK;
    if (!take_str(j, "accessToken", &t->access_token) ||
        !take_str(j, "refreshToken", &t->refresh_token) ||
        !take_str(j, "clientId", &t->client_id) ||
        !take_str(j, "clientSecret", &t->client_secret) ||
        !take_str(j, "registrationExpiresAt", &t->registration_expires_at))
        st = SKY_ENOMEM;
    else if (!t->access_token || !exp || sky_aws_parse_time(exp, &t->expires_ns) != SKY_OK)
        st = sky__cerr(ctx, SKY_EAUTH, "cached SSO token is malformed: run `aws sso login`");
    else if (t->registration_expires_at &&
             sky_aws_parse_time(t->registration_expires_at, &t->registration_expires_ns) != SKY_OK)
        t->registration_expires_ns = 0; /* unreadable: the registration cannot be trusted */
    wipe_json(j, "accessToken");
    wipe_json(j, "refreshToken");
    wipe_json(j, "clientSecret");
    json_decref(j);
    if (st != SKY_OK)
        sky__sso_token_clear(t);
    return st;
}

sky_status sky__sso_parse_cached_token(sky__cctx *ctx, const char *text, size_t len,
                                       char **token)
{
    *token = NULL;
    sky__sso_token t;
    sky_status st = sky__sso_parse_cache(ctx, text, len, &t);
    if (st != SKY_OK)
        return st;
    if (t.expires_ns <= ctx->now_ns) {
        st = sky__cerr(ctx, SKY_EAUTH, "SSO session expired: run `aws sso login`");
    } else {
        *token = t.access_token;
        t.access_token = NULL;
    }
    sky__sso_token_clear(&t);
    return st;
}

sky_status sky__sso_parse_create_token(sky__cctx *ctx, const char *body, size_t len,
                                       char **access, char **refresh, int64_t *expires_in_s)
{
    *access = *refresh = NULL;
    *expires_in_s = 0;
    if (len > SKY__SSO_CACHE_MAX)
        return sky__cerr(ctx, SKY_EPROTO, "SSO OIDC CreateToken: answer too large");
    json_t *j = json_loadb(body ? body : "", body ? len : 0, 0, NULL);
    json_t *ei = json_object_get(j, "expiresIn");
    sky_status st = SKY_OK;
    if (!take_str(j, "accessToken", access) || !take_str(j, "refreshToken", refresh))
        st = SKY_ENOMEM;
    else if (!*access)
        st = sky__cerr(ctx, SKY_EPROTO, "SSO OIDC CreateToken: answer has no accessToken");
    /* seconds; more than a year is not a plausible SSO session */
    else if (!json_is_integer(ei) || json_integer_value(ei) <= 0 ||
             json_integer_value(ei) > 366LL * 86400)
        st = sky__cerr(ctx, SKY_EPROTO, "SSO OIDC CreateToken: answer has a malformed expiresIn");
    else
        *expires_in_s = (int64_t)json_integer_value(ei);
    wipe_json(j, "accessToken");
    wipe_json(j, "refreshToken");
    wipe_json(j, "idToken");
    json_decref(j);
    if (st != SKY_OK) {
        free_secret(access);
        free_secret(refresh);
    }
    return st;
}

static void iso_utc(int64_t ns, char out[32])
{
    time_t s = (time_t)(ns / 1000000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Writes `text` to `path` atomically: a 0600 temporary file next to it, fsync'd, renamed. */
static sky_status write_atomic(const char *path, const char *text, size_t len, char *why,
                               size_t whylen)
{
    size_t pl = strlen(path);
    char *tmp = malloc(pl + 8);
    if (!tmp)
        return SKY_ENOMEM;
    memcpy(tmp, path, pl);
    memcpy(tmp + pl, ".XXXXXX", 8);
    int fd = mkstemp(tmp); /* 0600 */
    sky_status st = SKY_OK;
    if (fd < 0) {
        snprintf(why, whylen, "cannot create a file next to the SSO cache: %s", strerror(errno));
        free(tmp);
        return SKY_EIO;
    }
    if (fchmod(fd, 0600) != 0)
        st = SKY_EIO;
    for (size_t off = 0; st == SKY_OK && off < len;) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            st = SKY_EIO;
        else
            off += (size_t)w;
    }
    if (st == SKY_OK && fsync(fd) != 0)
        st = SKY_EIO;
    if (close(fd) != 0)
        st = SKY_EIO;
    if (st == SKY_OK && rename(tmp, path) != 0)
        st = SKY_EIO;
    if (st != SKY_OK) {
        snprintf(why, whylen, "cannot write the SSO cache %s: %s", path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return st;
}

/* CreateToken with the refresh token; on success t holds the new token and the cache file is
 * rewritten. On failure why says why (never a secret). */
static sky_status refresh_token(sky__cctx *ctx, const char *region, const char *start_url,
                                const char *path, sky__sso_token *t, char *why, size_t whylen)
{
    char base[1024], url[1100];
    if (sso_endpoint(ctx, "sso-oidc", "oidc", region, base, sizeof base, why, whylen) != SKY_OK)
        return SKY_EINVAL;
    snprintf(url, sizeof url, "%s/token", base);
    json_t *req = json_pack("{s:s,s:s,s:s,s:s}", "grantType", "refresh_token", "clientId",
                            t->client_id, "clientSecret", t->client_secret, "refreshToken",
                            t->refresh_token);
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    wipe_json(req, "clientSecret");
    wipe_json(req, "refreshToken");
    json_decref(req);
    if (!body)
        return SKY_ENOMEM;
    sky_aws_header h[1] = {{"Content-Type", "application/json"}};
    sky_http_client *http;
    sky_http_response resp = {0};
    sky_http_opts ho = ctx->p->o.http ? *ctx->p->o.http : (sky_http_opts){0};
    ho.max_response_bytes = SKY__SSO_CACHE_MAX; /* a token answer is small: bounded early */
    sky_status st = sky_http_client_new(&ho, &http);
    if (st != SKY_OK) {
        snprintf(why, whylen, "cannot create an HTTP client");
        if (st == SKY_EUNSUPPORTED)
            sky_http_init(why, whylen);
    } else {
        sky_http_request r = {.method = "POST", .url = url, .headers = h, .n_headers = 1,
                              .body = body, .body_len = strlen(body)};
        char herr[256] = "";
        st = sky__creds_call(ctx, "sso-oidc", http, &r, &resp, herr, sizeof herr);
        sky_http_client_free(http);
        if (st != SKY_OK)
            snprintf(why, whylen, "SSO OIDC CreateToken: %s", herr);
    }
    sky__wipe(body, strlen(body));
    free(body);
    if (st != SKY_OK)
        return st;
    char *access = NULL, *refresh = NULL;
    int64_t expires_in = 0;
    if (resp.status != 200) {
        sky_aws_error e;
        sky_aws_parse_error(resp.status, resp.headers, resp.n_headers, resp.body, resp.body_len,
                            &e);
        snprintf(why, whylen, "SSO OIDC CreateToken answered HTTP %ld %s", resp.status, e.code);
        st = resp.status == 400 || resp.status == 401 || resp.status == 403 ? SKY_EAUTH
                                                                             : SKY_EREMOTE;
    } else {
        char perr[256] = "";
        sky__cctx pc = {.p = ctx->p, .now_ns = ctx->now_ns, .err = perr, .errlen = sizeof perr};
        st = sky__sso_parse_create_token(&pc, resp.body, resp.body_len, &access, &refresh,
                                         &expires_in);
        if (st != SKY_OK)
            snprintf(why, whylen, "%s", perr[0] ? perr : sky_strerror(st));
    }
    sky__wipe(resp.body, resp.body_len);
    sky_http_response_free(&resp);
    if (st != SKY_OK)
        return st;
    /* botocore's new cache entry: the registration is kept, the refresh token is the new one
     * (absent when the answer has none) */
    free_secret(&t->access_token);
    free_secret(&t->refresh_token);
    t->access_token = access;
    t->refresh_token = refresh;
    t->expires_ns = ctx->now_ns + expires_in * 1000000000;
    char exp[32];
    iso_utc(t->expires_ns, exp);
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "startUrl", start_url, "region",
                          region, "accessToken", t->access_token, "expiresAt", exp, "clientId",
                          t->client_id, "clientSecret", t->client_secret,
                          "registrationExpiresAt", t->registration_expires_at);
    if (o && t->refresh_token)
        json_object_set_new(o, "refreshToken", json_string(t->refresh_token));
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    wipe_json(o, "accessToken");
    wipe_json(o, "clientSecret");
    wipe_json(o, "refreshToken");
    json_decref(o);
    if (!text)
        return SKY_ENOMEM;
    /* the token is good whether or not it could be saved: a failed write costs a refresh
     * next time, said in the error only if the token is then needed and cannot be had */
    char werr[256] = "";
    if (write_atomic(path, text, strlen(text), werr, sizeof werr) != SKY_OK)
        snprintf(why, whylen, "%s", werr);
    sky__wipe(text, strlen(text));
    free(text);
    return SKY_OK;
}

/* The access token (malloc'd) from the cache file, refreshed when it is (about to be) expired
 * and the cache allows it (sso-session profiles). */
static sky_status cached_token(sky__cctx *ctx, const char *key_source, bool session,
                               const char *region, const char *start_url, char **token)
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
    if (!text) {
        free(path);
        return sky__cerr(ctx, SKY_EAUTH, "no cached SSO token: run `aws sso login`");
    }
    size_t len = strlen(text);
    sky__sso_token t;
    sky_status st = sky__sso_parse_cache(ctx, text, len, &t);
    sky__wipe(text, len);
    free(text);
    if (st != SKY_OK) {
        free(path);
        return st;
    }
    char why[300] = "";
    if (t.expires_ns - ctx->now_ns < REFRESH_WINDOW_NS) {
        if (!session)
            snprintf(why, sizeof why, "a profile without sso_session cannot refresh its token");
        else if (!t.refresh_token || !t.client_id || !t.client_secret ||
                 !t.registration_expires_at)
            snprintf(why, sizeof why, "the cached token has no refresh token and client "
                                      "registration to renew it with");
        else if (t.registration_expires_ns <= ctx->now_ns)
            snprintf(why, sizeof why, "the client registration expired");
        else
            refresh_token(ctx, region, start_url, path, &t, why, sizeof why);
    }
    free(path);
    if (t.expires_ns <= ctx->now_ns) {
        st = sky__cerr(ctx, SKY_EAUTH, "SSO session expired: run `aws sso login` (%s)",
                       why[0] ? why : "no refresh possible");
    } else {
        *token = t.access_token;
        t.access_token = NULL;
    }
    sky__sso_token_clear(&t);
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
    bool by_session = session && *session;
    sky_status st = cached_token(ctx, by_session ? session : start_url, by_session, region,
                                 start_url, &token);
    if (st != SKY_OK)
        return st;
    char base[1024], url[2048];
    char ewhy[256];
    if (sso_endpoint(ctx, "sso", "portal.sso", region, base, sizeof base, ewhy, sizeof ewhy) !=
        SKY_OK) {
        sky__wipe(token, strlen(token));
        free(token);
        return sky__cerr(ctx, SKY_EINVAL, "SSO portal endpoint: %s", ewhy);
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
        st = sky__creds_call(ctx, "sso", http, &r, &resp, why, sizeof why);
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

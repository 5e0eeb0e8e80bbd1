/*
 * credentials.c - the credentials provider: the chain of sources (see aws.h for the order), the
 * cache, and its refresh before expiry.
 *
 * Design: one mutex per provider. A caller that finds the cache fresh copies it out and returns;
 * a caller that finds it stale resolves the chain while holding the lock, so concurrent callers
 * wait for that one refresh instead of stampeding the metadata service or STS. Credentials handed
 * out are copies, so the cache can be replaced while callers still sign with the old ones.
 *
 * Must never: print or store a secret anywhere but in the cache and the caller's copy (both
 * wiped when released), or put one into an error text.
 */
#include "core/reserved.h"
#include "aws/creds.h"

#include "aws/buf.h"
#include "core/pipeline.h"
#include "util/secmem.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void wipe_free(char *s)
{
    if (s) {
        sky__wipe(s, strlen(s));
        free(s);
    }
}

void sky_aws_credentials_clear(sky_aws_credentials *c)
{
    if (!c)
        return;
    free(c->access_key_id);
    wipe_free(c->secret_access_key);
    wipe_free(c->session_token);
    memset(c, 0, sizeof *c);
}

sky_status sky__creds_set(sky_aws_credentials *c, const char *akid, const char *secret,
                          const char *token, int64_t expiration_ns)
{
    memset(c, 0, sizeof *c);
    if (!akid || !secret)
        return SKY_EINVAL;
    c->access_key_id = strdup(akid);
    c->secret_access_key = strdup(secret);
    c->session_token = token && *token ? strdup(token) : NULL;
    c->expiration_ns = expiration_ns;
    if (!c->access_key_id || !c->secret_access_key || (token && *token && !c->session_token)) {
        sky_aws_credentials_clear(c);
        return SKY_ENOMEM;
    }
    return SKY_OK;
}

sky_status sky__cerr(sky__cctx *ctx, sky_status st, const char *fmt, ...)
{
    if (ctx->err && ctx->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ctx->err, ctx->errlen, fmt, ap);
        va_end(ap);
    }
    return st;
}

/* ---- time ---------------------------------------------------------------------------------- */

sky_status sky_aws_parse_time(const char *s, int64_t *ns)
{
    if (!s || !ns)
        return SKY_EINVAL;
    int Y, M, D, h, m, sec, n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &Y, &M, &D, &h, &m, &sec, &n) != 6 || n != 19)
        return SKY_EINVAL;
    const char *p = s + n;
    int64_t frac = 0;
    if (*p == '.') {
        int64_t scale = 100000000;
        p++;
        if (*p < '0' || *p > '9')
            return SKY_EINVAL;
        while (*p >= '0' && *p <= '9') {
            frac += (*p - '0') * scale;
            scale /= 10;
            p++;
        }
    }
    int64_t offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om, k = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &k) != 2 || k != 5)
            return SKY_EINVAL;
        offset = (int64_t)(oh * 3600 + om * 60) * (*p == '+' ? 1 : -1);
        p += 6;
    } else {
        return SKY_EINVAL;
    }
    if (*p || Y < 1970 || Y > 2200 || M < 1 || M > 12 || D < 1 || D > 31 || h < 0 || h > 23 ||
        m < 0 || m > 59 || sec < 0 || sec > 60)
        return SKY_EINVAL;
    struct tm tm = {.tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D, .tm_hour = h,
                    .tm_min = m, .tm_sec = sec};
    time_t t = timegm(&tm);
    *ns = ((int64_t)t - offset) * 1000000000 + frac;
    return SKY_OK;
}

/* ---- shared parsing helpers ---------------------------------------------------------------- */

sky_status sky__creds_from_json(sky__cctx *ctx, const char *body, size_t len, bool process,
                                sky_aws_credentials *out)
{
    memset(out, 0, sizeof *out);
    json_t *j = json_loadb(body ? body : "", len, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return sky__cerr(ctx, SKY_EPROTO, "credentials answer is not a JSON object");
    }
    sky_status st = SKY_OK;
    if (process && json_integer_value(json_object_get(j, "Version")) != 1) {
        st = sky__cerr(ctx, SKY_EPROTO, "credential_process output: Version must be 1");
        goto out;
    }
    const char *code = json_string_value(json_object_get(j, "Code"));
    if (code && strcmp(code, "Success") != 0) {
        st = sky__cerr(ctx, SKY_EAUTH, "metadata service answered Code=%.64s", code);
        goto out;
    }
    const char *akid = json_string_value(json_object_get(j, "AccessKeyId"));
    const char *secret = json_string_value(json_object_get(j, "SecretAccessKey"));
    const char *token = json_string_value(json_object_get(j, "SessionToken"));
    if (!token)
        token = json_string_value(json_object_get(j, "Token"));
    const char *exp = json_string_value(json_object_get(j, "Expiration"));
    if (!akid || !*akid || !secret || !*secret) {
        st = sky__cerr(ctx, SKY_EPROTO, "credentials answer lacks AccessKeyId/SecretAccessKey");
        goto out;
    }
    int64_t exp_ns = 0;
    if (exp && sky_aws_parse_time(exp, &exp_ns) != SKY_OK) {
        st = sky__cerr(ctx, SKY_EPROTO, "credentials answer has a malformed Expiration");
        goto out;
    }
    st = sky__creds_set(out, akid, secret, token, exp_ns);
out:
    /* jansson keeps its own copies of the secret: wipe them before freeing */
    {
        json_t *s = json_object_get(j, "SecretAccessKey");
        if (json_is_string(s))
            json_string_set(s, "");
        s = json_object_get(j, "SessionToken");
        if (json_is_string(s))
            json_string_set(s, "");
        s = json_object_get(j, "Token");
        if (json_is_string(s))
            json_string_set(s, "");
    }
    json_decref(j);
    return st;
}

char *sky__read_small_file(const char *path)
{
    if (!path || !*path)
        return NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    sky__buf b = {0};
    char chunk[4096];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len < (1u << 20))
        sky__buf_append(&b, chunk, r);
    fclose(f);
    sky__wipe(chunk, sizeof chunk);
    if (b.oom) {
        sky__buf_wipe(&b);
        return NULL;
    }
    while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r' ||
                     b.data[b.len - 1] == ' ' || b.data[b.len - 1] == '\t'))
        b.data[--b.len] = '\0';
    return sky__buf_steal(&b);
}

/* ---- explicit, custom, env ---------------------------------------------------------------- */

sky_status sky__creds_env(sky__cctx *ctx, sky_aws_credentials *out)
{
    const char *akid = getenv("AWS_ACCESS_KEY_ID");
    const char *secret = getenv("AWS_SECRET_ACCESS_KEY");
    if (!akid || !*akid || !secret || !*secret) {
        if ((akid && *akid) || (secret && *secret))
            return sky__cerr(ctx, SKY_EAUTH,
                             "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together");
        return SKY_ENOTFOUND;
    }
    ctx->source = "env";
    return sky__creds_set(out, akid, secret, getenv("AWS_SESSION_TOKEN"), 0);
}

static sky_status resolve_chain(sky__cctx *ctx, sky_aws_credentials *out)
{
    const struct sky_aws_creds *p = ctx->p;
    sky_status st;
    if (p->o.access_key_id) {
        ctx->source = "explicit";
        return sky__creds_set(out, p->o.access_key_id, p->o.secret_access_key, p->o.session_token,
                              0);
    }
    if (p->o.fetch) {
        memset(out, 0, sizeof *out);
        st = p->o.fetch(p->o.fetch_user, out, ctx->err, ctx->errlen);
        if (st == SKY_OK && (!out->access_key_id || !out->secret_access_key)) {
            sky_aws_credentials_clear(out);
            return sky__cerr(ctx, SKY_EPROTO, "custom credentials callback returned no keys");
        }
        if (st == SKY_OK)
            ctx->source = "custom";
        else
            sky_aws_credentials_clear(out); /* whatever a failing callback left behind */
        if (st != SKY_ENOTFOUND)
            return st;
    }
    if (!p->o.no_env && (st = sky__creds_env(ctx, out)) != SKY_ENOTFOUND)
        return st;
    if (!p->o.no_files && (st = sky__creds_profile(ctx, NULL, out)) != SKY_ENOTFOUND)
        return st;
    if (!p->o.no_web_identity && (st = sky__creds_web_identity_env(ctx, out)) != SKY_ENOTFOUND)
        return st;
    if (!p->o.no_container && (st = sky__creds_container(ctx, out)) != SKY_ENOTFOUND)
        return st;
    if (!p->o.no_imds && (st = sky__creds_imds(ctx, out)) != SKY_ENOTFOUND)
        return st;
    return sky__cerr(ctx, SKY_EAUTH,
                     "no AWS credentials found (tried: explicit, env, profile, web identity, "
                     "container, instance metadata): set AWS_ACCESS_KEY_ID and "
                     "AWS_SECRET_ACCESS_KEY, or a profile (AWS_PROFILE, ~/.aws/credentials)");
}

/* ---- the provider -------------------------------------------------------------------------- */

static int64_t now_of(const sky_aws_creds *p)
{
    return p->o.now_ns ? p->o.now_ns(p->o.clock_user) : sky_now_ns();
}

sky_status sky_aws_creds_new(const sky_aws_creds_opts *opts, sky_aws_creds **out)
{
    if (!out)
        return SKY_EINVAL;
    *out = NULL;
    if (opts && (SKY__CHECK_RESERVED(opts, sky_aws_creds_opts, NULL, NULL) != SKY_OK ||
                 SKY__CHECK_RESERVED(&opts->fetch_retry, sky_aws_retry_opts, NULL, NULL) != SKY_OK ||
                 (opts->http && SKY__CHECK_RESERVED(opts->http, sky_http_opts, NULL, NULL) != SKY_OK)))
        return SKY_EINVAL;
    sky_aws_creds *p = calloc(1, sizeof *p);
    if (!p)
        return SKY_ENOMEM;
    pthread_mutex_init(&p->lock, NULL);
    pthread_mutex_init(&p->err_lock, NULL);
    if (opts)
        p->o = *opts;
    if (opts && opts->http)
        p->http = *opts->http;
    p->o.http = &p->http;
    if ((p->o.access_key_id != NULL) != (p->o.secret_access_key != NULL)) {
        sky_aws_creds_free(p);
        return SKY_EINVAL;
    }
    /* STS, SSO and https container endpoints trust what the service clients trust */
    char ca[1024];
    if (!p->http.ca_bundle && sky_aws_resolve_ca_bundle(NULL, p->o.profile, p->o.config_file, ca,
                                                        sizeof ca, NULL) == SKY_OK)
        p->http.ca_bundle = ca;
    const char **fields[] = {&p->o.access_key_id, &p->o.secret_access_key, &p->o.session_token,
                             &p->o.profile, &p->o.credentials_file, &p->o.config_file,
                             &p->o.region, &p->o.sts_endpoint, &p->o.container_endpoint,
                             &p->o.imds_endpoint, &p->http.ca_bundle, &p->http.user_agent};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (!*fields[i])
            continue;
        p->owned[i] = strdup(*fields[i]);
        if (!p->owned[i]) {
            sky_aws_creds_free(p);
            return SKY_ENOMEM;
        }
        *fields[i] = p->owned[i];
    }
    if (p->o.refresh_margin_ms <= 0)
        p->o.refresh_margin_ms = 300000;
    if (p->o.metadata_timeout_ms <= 0) {
        const char *t = getenv("AWS_METADATA_SERVICE_TIMEOUT");
        double sec = t ? atof(t) : 0;
        if (!(sec <= 3600)) /* "1e300" or "nan": no int64 cast of those (undefined) */
            sec = 3600;
        p->o.metadata_timeout_ms = sec > 0 ? (int64_t)(sec * 1000) : 1000; /* botocore: 1 s */
    }
    p->source = "none";
    *out = p;
    return SKY_OK;
}

static sky_status copy_out(const sky_aws_credentials *c, sky_aws_credentials *out)
{
    return sky__creds_set(out, c->access_key_id, c->secret_access_key, c->session_token,
                          c->expiration_ns);
}

static void note_failure(sky_aws_creds *p, sky_status st, const char *why)
{
    atomic_fetch_add(&p->n_failures, 1);
    pthread_mutex_lock(&p->err_lock);
    snprintf(p->last_error, sizeof p->last_error, "%s",
             why && *why ? why : sky_strerror(st == SKY_ENOTFOUND ? SKY_EAUTH : st));
    pthread_mutex_unlock(&p->err_lock);
}

void sky_aws_creds_stats_get(sky_aws_creds *p, sky_aws_creds_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!p)
        return;
    out->refreshes = atomic_load(&p->n_refreshes);
    out->failures = atomic_load(&p->n_failures);
    out->stale_used = atomic_load(&p->n_stale);
    out->retries = atomic_load(&p->n_retries);
    out->throttles = atomic_load(&p->n_throttles);
    out->expiry_extensions = atomic_load(&p->n_extensions);
    out->near_expiry = atomic_load(&p->n_near_expiry);
    pthread_mutex_lock(&p->err_lock);
    memcpy(out->last_error, p->last_error, sizeof out->last_error);
    pthread_mutex_unlock(&p->err_lock);
}

/* How long credentials that cannot be refreshed yet (fetched near their expiry, or kept after
 * a failed refresh) are used before their source is asked again: half the time they have left,
 * at most a minute. botocore asks again on every call in that window, which for a logger is a
 * network round trip (the container endpoint: up to 3 attempts 1 s apart) per batch. */
#define RETRY_CAP_NS (60 * 1000000000LL)
static int64_t retry_at(int64_t now, int64_t expiration_ns)
{
    int64_t half = (expiration_ns - now) / 2;
    return now + (half < RETRY_CAP_NS ? half : RETRY_CAP_NS);
}

/* botocore's RefreshableCredentials._protected_refresh raises "Credentials were refreshed,
 * but the refreshed credentials are still expired" for any source: expired credentials are
 * refused here, with the source named, instead of being sent and answered ExpiredToken. IMDS
 * never gets here with them (imds_extend). Credentials that expire within the refresh margin
 * are used (AWS still accepts them) but asked for again soon, as retry_at says. */
static sky_status judge_expiry(sky__cctx *ctx, sky_aws_creds *p, sky_aws_credentials *fresh)
{
    int64_t exp = fresh->expiration_ns, now = ctx->now_ns;
    if (!exp)
        return SKY_OK;
    if (exp <= now) {
        sky_aws_credentials_clear(fresh);
        return sky__cerr(ctx, SKY_EAUTH,
                         "credentials from %s expired %lld s ago; the source answered "
                         "credentials that AWS would refuse (ExpiredToken): renew them there",
                         ctx->source, (long long)((now - exp) / 1000000000LL));
    }
    if (now + p->o.refresh_margin_ms * 1000000 >= exp) {
        p->retry_at_ns = retry_at(now, exp);
        atomic_fetch_add(&p->n_near_expiry, 1);
        sky__diag(NULL, SKY_LEVEL_WARN,
                  "aws credentials: credentials from %s expire in %lld s, within the refresh "
                  "margin; using them, asking again in %lld s",
                  ctx->source, (long long)((exp - now) / 1000000000LL),
                  (long long)((p->retry_at_ns - now + 999999999) / 1000000000LL));
    }
    return SKY_OK;
}

sky_status sky_aws_creds_get(sky_aws_creds *p, sky_aws_credentials *out, char *errbuf,
                             size_t errlen)
{
    if (errbuf && errlen)
        errbuf[0] = '\0';
    if (!p || !out)
        return SKY_EINVAL;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&p->lock);
    int64_t now = now_of(p);
    int64_t margin = p->o.refresh_margin_ms * 1000000;
    sky_status st;
    if (p->have && (p->cached.expiration_ns == 0 || now + margin < p->cached.expiration_ns ||
                    (now < p->retry_at_ns && now < p->cached.expiration_ns))) {
        st = copy_out(&p->cached, out);
        pthread_mutex_unlock(&p->lock);
        return st;
    }
    char lerr[256] = ""; /* the reason is kept for the stats even when the caller wants none */
    bool mine = !errbuf || !errlen;
    sky__cctx ctx = {.p = p, .now_ns = now, .err = mine ? lerr : errbuf,
                     .errlen = mine ? sizeof lerr : errlen, .source = "none"};
    sky_aws_credentials fresh;
    memset(&fresh, 0, sizeof fresh);
    p->retry_at_ns = 0;
    st = resolve_chain(&ctx, &fresh);
    if (st == SKY_OK)
        st = judge_expiry(&ctx, p, &fresh);
    if (st == SKY_OK)
        atomic_fetch_add(&p->n_refreshes, 1);
    else
        note_failure(p, st, ctx.err);
    if (st == SKY_OK) {
        sky_aws_credentials_clear(&p->cached);
        p->cached = fresh;
        p->have = true;
        p->source = ctx.source;
        st = copy_out(&p->cached, out);
    } else if (p->have && now < p->cached.expiration_ns) {
        /* refresh failed but what we hold still works: keep using it until it expires */
        atomic_fetch_add(&p->n_stale, 1);
        p->retry_at_ns = retry_at(now, p->cached.expiration_ns);
        st = copy_out(&p->cached, out);
    } else if (st == SKY_ENOTFOUND) {
        st = SKY_EAUTH;
    }
    pthread_mutex_unlock(&p->lock);
    return st;
}

void sky_aws_creds_invalidate(sky_aws_creds *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    sky_aws_credentials_clear(&p->cached);
    p->have = false;
    p->retry_at_ns = 0;
    pthread_mutex_unlock(&p->lock);
}

const char *sky_aws_creds_source(sky_aws_creds *p)
{
    if (!p)
        return "none";
    pthread_mutex_lock(&p->lock);
    const char *s = p->have ? p->source : "none";
    pthread_mutex_unlock(&p->lock);
    return s;
}

void sky_aws_creds_free(sky_aws_creds *p)
{
    if (!p)
        return;
    sky_aws_credentials_clear(&p->cached);
    for (size_t i = 0; i < sizeof p->owned / sizeof p->owned[0]; i++)
        wipe_free(p->owned[i]);
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->err_lock);
    free(p);
}

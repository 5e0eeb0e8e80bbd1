/*
 * client.c - an AWS service client for the awsJson 1.0/1.1 and awsQuery protocols: builds the
 * request, signs it, sends it, parses errors, and applies the retry mode (retry.c: standard,
 * adaptive or legacy), one credential refresh on expired tokens, and one clock-skew correction.
 * In adaptive mode every attempt first takes a token from the client-side rate limiter, and
 * every attempt's outcome (throttled or not) feeds it back.
 *
 * It knows nothing about logs or metrics: callers hand it a serialised body and a target.
 * Must never: put a signed header, a secret or a body into an error; sleep other than through
 * sky__retry_sleep() (tests inject it).
 */
#include "core/errmsg.h"
#include "core/reserved.h"
#include "aws/retry.h"
#include "aws/sigv4.h"

#include "aws/buf.h"
#include "aws/endpoint.h"
#include "aws/transport.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* botocore treats a response as skewed when the server clock differs by more than this */
#define SKEW_THRESHOLD_NS (4LL * 60 * 1000000000)

struct sky_aws_client {
    char *service;
    char region[64];
    char endpoint[1024];
    char host[512];
    char base_path[512];
    sky_aws_creds *creds;
    bool owns_creds;
    sky_http_client *http;
    int64_t http_timeout_ms; /* the whole-request timeout of `http` */
    sky__retry retry;
    int64_t (*now_ns)(void *user);
    void *clock_user;
    _Atomic int64_t skew_ns; /* server time - local time, learned from Date headers */
};

static sky_status client_new(const sky_aws_client_opts *o, sky_aws_client **out, char *errbuf,
                             size_t errlen)
{
    if (errbuf && errlen)
        errbuf[0] = '\0';
    if (!o || !out || !o->service || !*o->service)
        return SKY_EINVAL;
    *out = NULL;
    if (SKY__RESERVED_MSG(o, sky_aws_client_opts, errbuf, errbuf ? errlen : 0) ||
        SKY__RESERVED_MSG(&o->http, sky_http_opts, errbuf, errbuf ? errlen : 0) ||
        SKY__RESERVED_MSG(&o->retry, sky_aws_retry_opts, errbuf, errbuf ? errlen : 0))
        return SKY_EINVAL;
    sky_http_transport mode;
    if (sky__http_mode(&o->http, &mode, errbuf, errlen) != SKY_OK)
        return SKY_EINVAL; /* a typo in SKYLOG_HTTP_TRANSPORT, or no transport at all */
    sky_aws_client *c = calloc(1, sizeof *c);
    if (!c)
        return SKY_ENOMEM;
    c->service = strdup(o->service);
    if (!c->service) {
        free(c);
        return SKY_ENOMEM;
    }
    /* the endpoint first: one the user configured (option, variables, config file) lets a
     * local server be reached without a region, which it only needs for signing */
    char why[256];
    sky_status st = sky__aws_configured_endpoint(o->service, o->endpoint, o->profile, NULL,
                                                 o->config_file, c->endpoint,
                                                 sizeof c->endpoint, why, sizeof why);
    if (st != SKY_OK && st != SKY_ENOTFOUND) {
        if (errbuf)
            snprintf(errbuf, errlen, "invalid AWS endpoint: %s", why);
        sky_aws_client_free(c);
        return SKY_EINVAL;
    }
    bool configured = st == SKY_OK;
    st = sky_aws_resolve_region(o->region, o->profile, o->config_file, c->region,
                                sizeof c->region);
    if (st != SKY_OK && !configured) {
        if (errbuf)
            snprintf(errbuf, errlen, "no AWS region (set AWS_REGION or AWS_DEFAULT_REGION, "
                     "region in ~/.aws/config, or the region option)");
        sky_aws_client_free(c);
        return SKY_EINVAL;
    }
    if (st != SKY_OK)
        snprintf(c->region, sizeof c->region, "us-east-1"); /* a local endpoint still signs */
    st = configured ? SKY_OK
                    : sky__aws_endpoint(o->service, c->region, NULL, o->profile, NULL,
                                        o->config_file, c->endpoint, sizeof c->endpoint, why,
                                        sizeof why);
    if (st == SKY_OK)
        st = sky_aws_endpoint_host(c->endpoint, c->host, sizeof c->host, NULL, c->base_path,
                                   sizeof c->base_path);
    if (st != SKY_OK) {
        if (errbuf)
            snprintf(errbuf, errlen, "invalid AWS endpoint URL (from %s)",
                     configured ? why : "the default for the region");
        sky_aws_client_free(c);
        return SKY_EINVAL;
    }
    /* every request is signed: find out now, not at the first send, if that cannot work */
    st = sky_aws_crypto_init(errbuf, errlen);
    if (st != SKY_OK) {
        sky_aws_client_free(c);
        return st;
    }
    /* which CAs to trust, decided now: a bundle that cannot be read is a configuration error
     * worth saying at once, with where it was set, rather than as a TLS failure per request */
    sky_http_opts ho = o->http;
    char ca[1024];
    const char *ca_src = "the ca_bundle option";
    if (!ho.ca_bundle && sky_aws_resolve_ca_bundle(NULL, o->profile, o->config_file, ca,
                                                   sizeof ca, &ca_src) == SKY_OK)
        ho.ca_bundle = ca;
    if (ho.ca_bundle && access(ho.ca_bundle, R_OK) != 0) {
        if (errbuf)
            snprintf(errbuf, errlen, "the CA bundle %s (from %s) cannot be read: %s",
                     ho.ca_bundle, ca_src, strerror(errno));
        sky_aws_client_free(c);
        return SKY_EINVAL;
    }
    if (o->creds) {
        c->creds = o->creds;
    } else {
        sky_aws_creds_opts co = {.profile = o->profile, .config_file = o->config_file,
                                 .region = c->region, .http = &ho};
        st = sky_aws_creds_new(&co, &c->creds);
        if (st != SKY_OK) {
            sky_aws_client_free(c);
            return st;
        }
        c->owns_creds = true;
    }
    st = sky_http_client_new(&ho, &c->http);
    if (st != SKY_OK) {
        if (st == SKY_EUNSUPPORTED && errbuf)
            sky_http_init(errbuf, errlen); /* why libcurl could not be loaded */
        sky_aws_client_free(c);
        return st;
    }
    /* native with a proxy for the endpoint, or no libcurl for the proxy: said now */
    st = sky__http_client_prepare(c->http, c->endpoint, errbuf, errlen);
    if (st != SKY_OK) {
        sky_aws_client_free(c);
        return st;
    }
    sky_aws_retry_opts ro = o->retry;
    const sky__retry *share = o->share_retry_state ? &o->share_retry_state->retry : NULL;
    if (share)
        ro.mode = share->opts.mode;
    st = sky__retry_resolve(&ro, o->profile, o->config_file, errbuf, errlen);
    if (st == SKY_OK)
        st = sky__retry_init(&c->retry, &ro, share);
    if (st != SKY_OK) {
        sky_aws_client_free(c);
        return st;
    }
    c->http_timeout_ms = o->http.timeout_ms > 0 ? o->http.timeout_ms : 30000;
    c->now_ns = o->now_ns;
    c->clock_user = o->clock_user;
    *out = c;
    return SKY_OK;
}

sky_status sky_aws_client_new(const sky_aws_client_opts *o, sky_aws_client **out, char *errbuf,
                              size_t errlen)
{
    char mine[256] = "";
    bool route = !errbuf || !errlen;
    sky_status st = client_new(o, out, route ? mine : errbuf, route ? sizeof mine : errlen);
    return route ? sky__errbuf_route(NULL, st, mine) : st;
}

void sky_aws_client_free(sky_aws_client *c)
{
    if (!c)
        return;
    if (c->owns_creds)
        sky_aws_creds_free(c->creds);
    sky_http_client_free(c->http);
    sky__retry_destroy(&c->retry);
    free(c->service);
    free(c);
}

const char *sky_aws_client_endpoint(const sky_aws_client *c)
{
    return c ? c->endpoint : NULL;
}

const char *sky_aws_client_region(const sky_aws_client *c)
{
    return c ? c->region : NULL;
}

void sky_aws_client_retry_stats(const sky_aws_client *c, sky_aws_retry_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!c)
        return;
    out->mode = c->retry.opts.mode;
    out->max_attempts = c->retry.opts.max_attempts;
    out->quota_available = -1;
    const sky__retry_shared *sh = c->retry.sh;
    if (!sh)
        return;
    out->retries = atomic_load(&sh->retries);
    out->throttles = atomic_load(&sh->throttles);
    out->quota_refusals = atomic_load(&sh->quota_refusals);
    out->rate_limited = atomic_load(&sh->rate_waits);
    out->rate_limited_ns = atomic_load(&sh->rate_wait_ns);
    if (c->retry.max_quota >= 0)
        out->quota_available = atomic_load(&sh->quota);
}

/* Adaptive mode: waits until the rate limiter lets an attempt go. False when the wait would
 * pass the deadline or was cancelled: then *e is the last error (or, before the first attempt,
 * one that says the limiter held the call back), its message saying why. */
static bool rate_limit(sky_aws_client *c, const sky_aws_call *call, int attempt, sky_aws_error *e,
                       int64_t *limited)
{
    for (;;) {
        int64_t wait = sky__retry_rate_acquire(&c->retry);
        if (wait <= 0)
            return true;
        int64_t before = sky__retry_monotonic(&c->retry);
        bool deadline = call->deadline_ns && before + wait >= call->deadline_ns;
        if (deadline || !sky__retry_sleep(&c->retry, wait)) {
            if (attempt == 1) {
                memset(e, 0, sizeof *e);
                e->status = deadline ? SKY_ETIMEDOUT : SKY_ETHROTTLED;
                e->throttling = true;
                snprintf(e->code, sizeof e->code, "ClientRateLimited");
                snprintf(e->message, sizeof e->message,
                         "held back by the client-side rate limiter (adaptive retry mode)");
            }
            size_t l = strlen(e->message);
            snprintf(e->message + l, sizeof e->message - l, " (%s)",
                     deadline ? "deadline reached" : "interrupted");
            e->attempts = attempt - 1;
            return false;
        }
        int64_t waited = sky__retry_monotonic(&c->retry) - before;
        if (waited < 0)
            waited = 0;
        atomic_fetch_add(&c->retry.sh->rate_waits, 1);
        int64_t slept = waited < wait ? wait : waited; /* at least what the sleeper was asked */
        atomic_fetch_add(&c->retry.sh->rate_wait_ns, (unsigned long long)slept);
        *limited += slept;
        /* Asked again only when the whole wait passed on the clock and another thread took
         * the token meanwhile (botocore loops the same way). An injected sleeper whose time
         * the clock does not see has slept the wait: the token is ours. */
        if (waited < wait) {
            sky__retry_rate_take(&c->retry);
            return true;
        }
    }
}

sky_status sky_aws_parse_http_date(const char *s, int64_t *ns)
{
    if (!s || !ns)
        return SKY_EINVAL;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(s, "%a, %d %b %Y %H:%M:%S", &tm);
    if (!end)
        return SKY_EINVAL;
    while (*end == ' ')
        end++;
    if (strcmp(end, "GMT") != 0 && strcmp(end, "UTC") != 0 && strcmp(end, "+0000") != 0)
        return SKY_EINVAL;
    if (tm.tm_year < 70 || tm.tm_year > 300) /* keeps the ns arithmetic far from overflow */
        return SKY_EINVAL;
    *ns = (int64_t)timegm(&tm) * 1000000000;
    return SKY_OK;
}

/* A failure without an answer. An unknown host or an untrusted certificate will not go away by
 * waiting; a refused or broken connection or a timeout may. */
static void net_error(const sky_aws_client *c, sky_aws_error *e, sky_status st,
                      sky_http_failure failure, const char *why)
{
    memset(e, 0, sizeof *e);
    e->status = st;
    e->failure = failure;
    e->persistent = failure == SKY_HTTP_NOT_RESOLVED || failure == SKY_HTTP_CERT_FAILED;
    e->retryable = (st == SKY_ENET || st == SKY_ETIMEDOUT) && !e->persistent;
    snprintf(e->code, sizeof e->code, "%s",
             failure == SKY_HTTP_CERT_FAILED     ? "TLSCertificateError"
             : failure == SKY_HTTP_NOT_RESOLVED ? "UnknownHost"
             : st == SKY_ETIMEDOUT              ? "Timeout"
                                                : "NetworkError");
    snprintf(e->message, sizeof e->message, "%s", why && *why ? why : sky_strerror(st));
    if (failure == SKY_HTTP_CERT_FAILED) {
        size_t l = strlen(e->message);
        snprintf(e->message + l, sizeof e->message - l,
                 " (a private CA or a TLS proxy? trust it with AWS_CA_BUNDLE or ca_bundle)");
    }
    if (failure == SKY_HTTP_NOT_RESOLVED && strstr(c->host, ".amazonaws.com") &&
        strstr(c->host, c->region)) {
        /* AWS's own name for the region: a mistyped region is the likely cause */
        size_t l = strlen(e->message);
        snprintf(e->message + l, sizeof e->message - l,
                 " (is the region '%s' right? is the network up?)", c->region);
    }
}

/* One signed attempt. */
static sky_status attempt_once(sky_aws_client *c, const sky_aws_call *call, const void *body,
                               size_t body_len, const sky_aws_credentials *cr, int64_t now,
                               int64_t timeout_ms, sky_http_response *resp, char *why,
                               size_t whylen)
{
    char ctype[128], path[1024], url[2048];
    if (call->content_type)
        snprintf(ctype, sizeof ctype, "%s", call->content_type);
    else if (call->query)
        snprintf(ctype, sizeof ctype, "application/x-www-form-urlencoded; charset=utf-8");
    else
        snprintf(ctype, sizeof ctype, "application/x-amz-json-%s",
                 call->json_version ? call->json_version : "1.1");
    snprintf(path, sizeof path, "%s%s", c->base_path, call->path && *call->path ? call->path : "/");
    /* scheme://authority of the endpoint; its own path is already in `path` */
    const char *scheme_end = strstr(c->endpoint, "://");
    size_t authority_end = (size_t)(scheme_end - c->endpoint) + 3;
    authority_end += strcspn(c->endpoint + authority_end, "/?#");
    snprintf(url, sizeof url, "%.*s%s", (int)authority_end, c->endpoint, path);

    size_t cap = 6 + call->n_extra;
    sky_aws_header *h = calloc(cap, sizeof *h);
    if (!h)
        return SKY_ENOMEM;
    size_t n = 0;
    h[n++] = (sky_aws_header){"Content-Type", ctype};
    h[n++] = (sky_aws_header){"Host", c->host};
    if (!call->query && call->target)
        h[n++] = (sky_aws_header){"X-Amz-Target", call->target};
    if (call->gzip)
        h[n++] = (sky_aws_header){"Content-Encoding", "gzip"};
    for (size_t i = 0; i < call->n_extra; i++)
        h[n++] = call->extra_headers[i];
    sky_sigv4_request req = {.method = "POST", .host = c->host, .path = path, .headers = h,
                             .n_headers = n, .payload = body, .payload_len = body_len,
                             .payload_hash = call->gzip ? NULL : call->payload_hash};
    sky_sigv4_params sp = {.access_key_id = cr->access_key_id,
                           .secret_access_key = cr->secret_access_key,
                           .session_token = cr->session_token, .region = c->region,
                           .service = c->service, .time_ns = now};
    sky_sigv4_result sig;
    sky_status st = sky_sigv4_sign(&req, &sp, &sig);
    if (st != SKY_OK) {
        free(h);
        if (st == SKY_EUNSUPPORTED)
            sky_aws_crypto_init(why, whylen); /* why libcrypto could not be loaded */
        else
            snprintf(why, whylen, "signing failed");
        return st;
    }
    sky_aws_header *all = realloc(h, (n + 3) * sizeof *h);
    if (!all) {
        free(h);
        sky_sigv4_result_free(&sig);
        return SKY_ENOMEM;
    }
    h = all;
    h[n++] = (sky_aws_header){"X-Amz-Date", sig.amz_date};
    h[n++] = (sky_aws_header){"Authorization", sig.authorization};
    if (cr->session_token)
        h[n++] = (sky_aws_header){"X-Amz-Security-Token", cr->session_token};
    sky_http_request hr = {.method = "POST", .url = url, .headers = h, .n_headers = n,
                           .body = body, .body_len = body_len, .timeout_ms = timeout_ms};
    st = sky_http_perform(c->http, &hr, resp, why, whylen);
    sky_sigv4_result_free(&sig);
    free(h);
    return st;
}

sky_status sky_aws_client_call(sky_aws_client *c, const sky_aws_call *call,
                               sky_http_response *out, sky_aws_error *err_out)
{
    sky_aws_error e_local, *e = err_out ? err_out : &e_local;
    memset(e, 0, sizeof *e);
    if (out)
        memset(out, 0, sizeof *out);
    if (!c || !call || !out || (!call->query && !call->target && !call->content_type))
        return e->status = SKY_EINVAL;

    const void *body = call->body ? call->body : "";
    size_t body_len = call->body ? call->body_len : 0;
    void *gz = NULL;
    if (call->gzip) {
        size_t gl;
        if (sky_aws_gzip(body, body_len, &gz, &gl) != SKY_OK)
            return e->status = SKY_ENOMEM;
        body = gz;
        body_len = gl;
    }
    int attempt = 0, last_cost = 0, unknown = 0;
    int64_t limited = 0;
    int throttles = 0;
    bool refreshed = false, skew_fixed = false;
    sky_status result;
    for (;;) {
        attempt++;
        int64_t timeout_ms = 0;
        if (call->deadline_ns) {
            int64_t left = call->deadline_ns - sky__retry_monotonic(&c->retry);
            if (left <= 0) {
                if (attempt == 1) {
                    memset(e, 0, sizeof *e);
                    snprintf(e->code, sizeof e->code, "Timeout");
                    snprintf(e->message, sizeof e->message, "deadline reached");
                } else {
                    size_t l = strlen(e->message);
                    snprintf(e->message + l, sizeof e->message - l, " (deadline reached)");
                }
                e->status = SKY_ETIMEDOUT;
                e->attempts = attempt - 1;
                result = SKY_ETIMEDOUT;
                break;
            }
        }
        if (!rate_limit(c, call, attempt, e, &limited)) {
            result = e->status;
            break;
        }
        if (call->deadline_ns) {
            int64_t left = call->deadline_ns - sky__retry_monotonic(&c->retry);
            timeout_ms = left / 1000000 > 0 ? left / 1000000 : 1;
            if (timeout_ms > c->http_timeout_ms)
                timeout_ms = c->http_timeout_ms;
        }
        sky_aws_credentials cr;
        char why[256];
        sky_status st = sky_aws_creds_get(c->creds, &cr, why, sizeof why);
        if (st != SKY_OK) {
            memset(e, 0, sizeof *e);
            e->status = st;
            snprintf(e->code, sizeof e->code, "CredentialsError");
            snprintf(e->message, sizeof e->message, "%s", why[0] ? why : sky_strerror(st));
            e->persistent = st == SKY_EAUTH; /* none found, or a provider refused */
            e->attempts = attempt;
            result = st;
            break;
        }
        int64_t local = c->now_ns ? c->now_ns(c->clock_user) : sky_now_ns();
        int64_t now = local + c->skew_ns;
        sky_http_response resp;
        bool skew_now = false; /* corrected the clock: worth one more attempt in any mode */
        st = attempt_once(c, call, body, body_len, &cr, now, timeout_ms, &resp, why, sizeof why);
        sky_aws_credentials_clear(&cr);
        if (st != SKY_OK) {
            /* botocore feeds the limiter after a failure without an answer too, as a
             * non-throttling outcome */
            sky__retry_rate_update(&c->retry, false);
            net_error(c, e, st, resp.failure, why);
            if (resp.failure == SKY_HTTP_NO_ANSWER)
                unknown++;
        } else if (resp.status >= 200 && resp.status < 300) {
            sky__retry_rate_update(&c->retry, false);
            sky__retry_release(&c->retry, last_cost);
            *out = resp;
            e->status = SKY_OK;
            e->http_status = resp.status;
            e->attempts = attempt;
            result = SKY_OK;
            break;
        } else {
            sky_aws_parse_error(resp.status, resp.headers, resp.n_headers, resp.body,
                                resp.body_len, e);
            sky__retry_rate_update(&c->retry, e->throttling);
            if (e->throttling) {
                throttles++;
                atomic_fetch_add(&c->retry.sh->throttles, 1);
            }
            const char *date = sky_http_response_header(&resp, "Date");
            int64_t server;
            if (e->clock_skew && !skew_fixed && date &&
                sky_aws_parse_http_date(date, &server) == SKY_OK &&
                (server - local > SKEW_THRESHOLD_NS || local - server > SKEW_THRESHOLD_NS)) {
                c->skew_ns = server - local;
                skew_fixed = true;
                skew_now = true;
                e->retryable = true;
                e->persistent = false;
                sky_http_response_free(&resp);
                if (attempt < c->retry.opts.max_attempts)
                    continue; /* re-sign at once with the corrected clock */
            }
            sky_http_response_free(&resp);
            if (e->expired_credentials && !refreshed) {
                /* the SDKs refresh once and try again; not counted as a retry */
                refreshed = true;
                sky_aws_creds_invalidate(c->creds);
                attempt--;
                continue;
            }
        }
        e->attempts = attempt;
        if (!skew_now)
            e->retryable = sky__retry_retryable(&c->retry, e);
        if (!e->retryable || attempt >= c->retry.opts.max_attempts) {
            result = e->status;
            break;
        }
        int cost;
        if (!sky__retry_acquire(&c->retry, e->status == SKY_ETIMEDOUT, &cost)) {
            size_t l = strlen(e->message);
            snprintf(e->message + l, sizeof e->message - l, " (retry quota exhausted)");
            result = e->status;
            break;
        }
        last_cost = cost;
        int64_t delay = sky__retry_delay_ns(&c->retry.opts, attempt, sky__retry_random(&c->retry));
        if (call->deadline_ns && sky__retry_monotonic(&c->retry) + delay >= call->deadline_ns) {
            /* waiting would end past the deadline: give the capacity back and stop now */
            sky__retry_release(&c->retry, cost);
            size_t l = strlen(e->message);
            snprintf(e->message + l, sizeof e->message - l, " (deadline reached)");
            result = e->status;
            break;
        }
        if (!sky__retry_sleep(&c->retry, delay)) {
            sky__retry_release(&c->retry, cost);
            size_t l = strlen(e->message);
            snprintf(e->message + l, sizeof e->message - l, " (interrupted)");
            result = e->status;
            break;
        }
    }
    e->unknown_outcomes = unknown;
    e->rate_limited_ns = limited;
    e->throttles = throttles;
    if (e->attempts > 1)
        atomic_fetch_add(&c->retry.sh->retries, (unsigned long long)(e->attempts - 1));
    free(gz);
    return result;
}

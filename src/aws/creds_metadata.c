/*
 * creds_metadata.c - credentials from the compute platform: the container credentials endpoint
 * (ECS, EKS Pod Identity) and the EC2 instance metadata service (IMDSv2 with a session token,
 * IMDSv1 fallback unless disabled).
 *
 * "Not there" (no env var, no metadata service answering) returns SKY_ENOTFOUND so the chain
 * ends with "no credentials"; a configured container endpoint that fails is an error. Timeouts
 * are short (opts.metadata_timeout_ms) because off EC2 the IMDS address simply does not answer.
 * Retries are botocore's, which differ by request (fetch_again(), documented at
 * sky_aws_creds_opts.fetch_retry); every retry is counted in the provider's stats. Where
 * botocore differs from itself for no one's benefit, skylog does not follow: its container
 * fetcher sleeps once more after its last failure, which retries nothing. IMDS credentials
 * that are expired or about to be get botocore's expiration extension (imds_extend).
 * Must never put the authorization token or the credentials into an error text.
 */
#include "aws/creds.h"

#include "aws/buf.h"
#include "core/pipeline.h"
#include "util/secmem.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define METADATA_MAX ((size_t)64 << 10)

/* The four requests, each with botocore's rule of what is retried (utils.py). */
typedef enum fetch_kind {
    FETCH_CONTAINER, /* ContainerMetadataFetcher: any failure, a body that is not JSON too */
    FETCH_TOKEN,     /* IMDSFetcher._fetch_metadata_token */
    FETCH_ROLE,      /* InstanceMetadataFetcher._needs_retry_for_role_name */
    FETCH_CREDS,     /* InstanceMetadataFetcher._needs_retry_for_credentials */
} fetch_kind;

static bool is_json(const sky_http_response *r)
{
    json_t *j = json_loadb(r->body ? r->body : "", r->body_len, JSON_DECODE_ANY, NULL);
    if (j && json_is_object(j)) {
        /* jansson's copies of the secret: blanked before they are freed */
        const char *keys[] = {"SecretAccessKey", "Token", "SessionToken"};
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
            if (json_is_string(json_object_get(j, keys[i])))
                json_string_set(json_object_get(j, keys[i]), "");
    }
    bool ok = j != NULL;
    json_decref(j);
    return ok;
}

/* Whether botocore tries again after this outcome of `kind`. */
static bool fetch_again(fetch_kind kind, sky_status st, const sky_http_response *r)
{
    if (st != SKY_OK) {
        if (st != SKY_ENET && st != SKY_ETIMEDOUT)
            return false;
        if (r->failure == SKY_HTTP_NOT_RESOLVED || r->failure == SKY_HTTP_CERT_FAILED)
            return false; /* not among botocore's RETRYABLE_HTTP_ERRORS */
        /* the token request takes a read timeout as "no IMDSv2" at once */
        return !(kind == FETCH_TOKEN && st == SKY_ETIMEDOUT && r->failure != SKY_HTTP_NOT_CONNECTED);
    }
    switch (kind) {
    case FETCH_TOKEN: /* 200: the token; 403/404/405: IMDSv1; 400: an error */
        return r->status != 200 && r->status != 400 && r->status != 403 && r->status != 404 &&
               r->status != 405;
    case FETCH_ROLE:
        return r->status != 200 || r->body_len == 0;
    case FETCH_CREDS:
    case FETCH_CONTAINER:
        return r->status != 200 || r->body_len == 0 || !is_json(r);
    }
    return false;
}

/* One request with up to `attempts` tries, `pause_ms` apart, retried where botocore retries
 * (fetch_again); every retry is counted in the provider's stats. */
static sky_status get_n(sky__cctx *ctx, fetch_kind kind, const char *method, const char *url,
                        const sky_aws_header *h, size_t nh, int64_t timeout_ms, int attempts,
                        int64_t pause_ms, sky_http_response *resp, char *why, size_t whylen)
{
    sky_http_opts ho = *ctx->p->o.http;
    ho.connect_timeout_ms = timeout_ms;
    ho.timeout_ms = timeout_ms;
    /* a token, a role name or a credentials document: bounded before anything parses it */
    if (!ho.max_response_bytes || ho.max_response_bytes > METADATA_MAX)
        ho.max_response_bytes = METADATA_MAX;
    sky_http_client *c;
    sky_status st = sky_http_client_new(&ho, &c);
    if (st == SKY_EUNSUPPORTED)
        sky_http_init(why, whylen);
    if (st != SKY_OK)
        return st;
    sky_http_request r = {.method = method, .url = url, .headers = h, .n_headers = nh};
    for (int i = 1;; i++) {
        memset(resp, 0, sizeof *resp);
        st = sky_http_perform(c, &r, resp, why, whylen);
        bool throttled = st == SKY_OK && resp->status == 429;
        if (throttled)
            sky__creds_count(ctx, 0, 1);
        if (!fetch_again(kind, st, resp) || i >= attempts)
            break;
        if (!sky__creds_sleep(ctx, pause_ms * 1000000))
            break; /* cancelled: the last outcome stands */
        if (st == SKY_OK) {
            if (resp->body)
                sky__wipe(resp->body, resp->body_len);
            sky_http_response_free(resp);
        }
        sky__creds_count(ctx, 1, 0);
    }
    sky_http_client_free(c);
    return st;
}

/* AWS_METADATA_SERVICE_NUM_ATTEMPTS, 1..10: off EC2 every attempt waits out the timeout, so a
 * typo of a large number must not hang the chain (and atoi() of one is undefined). */
static int imds_attempts(void)
{
    const char *v = getenv("AWS_METADATA_SERVICE_NUM_ATTEMPTS");
    if (!v || !*v)
        return 1;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end || n < 1)
        return 1;
    return n > 10 ? 10 : (int)n;
}

/* IMDS: botocore tries each request num_attempts times, without pause between them. */
static sky_status get(sky__cctx *ctx, fetch_kind kind, const char *method, const char *url,
                      const sky_aws_header *h, size_t nh, sky_http_response *resp, char *why,
                      size_t whylen)
{
    return get_n(ctx, kind, method, url, h, nh, ctx->p->o.metadata_timeout_ms, imds_attempts(), 0,
                 resp, why, whylen);
}

static void wipe_response(sky_http_response *r)
{
    if (r->body)
        sky__wipe(r->body, r->body_len);
    sky_http_response_free(r);
}

/* Host part of an http:// URL is one the SDKs allow for container credentials. */
static bool allowed_container_host(const char *url)
{
    if (strncasecmp(url, "https://", 8) == 0)
        return true;
    char host[256];
    bool https;
    if (sky_aws_endpoint_host(url, host, sizeof host, &https, NULL, 0) != SKY_OK)
        return false;
    char *colon = strrchr(host, ':');
    if (colon && !strchr(colon, ']'))
        *colon = '\0';
    return strncmp(host, "127.", 4) == 0 || strcmp(host, "localhost") == 0 ||
           strcmp(host, "[::1]") == 0 || strcmp(host, "169.254.170.2") == 0 ||
           strcmp(host, "169.254.170.23") == 0 || strcmp(host, "[fd00:ec2::23]") == 0;
}

sky_status sky__creds_container(sky__cctx *ctx, sky_aws_credentials *out)
{
    const char *rel = getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    char url[2048];
    if (rel && *rel) {
        const char *base = ctx->p->o.container_endpoint ? ctx->p->o.container_endpoint
                                                        : "http://169.254.170.2";
        size_t bl = strlen(base);
        while (bl && base[bl - 1] == '/')
            bl--;
        snprintf(url, sizeof url, "%.*s%s%s", (int)bl, base, rel[0] == '/' ? "" : "/", rel);
    } else if (full && *full) {
        if (!allowed_container_host(full))
            return sky__cerr(ctx, SKY_EINVAL,
                             "AWS_CONTAINER_CREDENTIALS_FULL_URI must be https or a loopback/"
                             "container host");
        snprintf(url, sizeof url, "%s", full);
    } else {
        return SKY_ENOTFOUND;
    }
    char *token = NULL;
    const char *tf = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    if (tf && *tf) {
        token = sky__read_small_file(tf);
        if (!token)
            return sky__cerr(ctx, SKY_EAUTH, "container authorization token file cannot be read");
    } else if ((tf = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN")) != NULL) {
        token = strdup(tf);
        if (!token)
            return SKY_ENOMEM;
    }
    if (token && strpbrk(token, "\r\n")) {
        sky__wipe(token, strlen(token));
        free(token);
        return sky__cerr(ctx, SKY_EINVAL, "container authorization token contains a newline");
    }
    sky_aws_header h[1] = {{"Authorization", token}};
    sky_http_response resp;
    char why[256];
    /* botocore's ContainerMetadataFetcher: 2 s timeout, 3 attempts, 1 s apart */
    sky_status st = get_n(ctx, FETCH_CONTAINER, "GET", url, h, token ? 1 : 0, 2000, 3, 1000, &resp,
                          why, sizeof why);
    if (token) {
        sky__wipe(token, strlen(token));
        free(token);
    }
    if (st != SKY_OK)
        return sky__cerr(ctx, st, "container credentials endpoint: %s", why);
    if (resp.status != 200) {
        st = sky__cerr(ctx, SKY_EAUTH, "container credentials endpoint answered HTTP %ld",
                       resp.status);
    } else {
        st = sky__creds_from_json(ctx, resp.body, resp.body_len, false, out);
        if (st == SKY_OK)
            ctx->source = "container";
    }
    wipe_response(&resp);
    return st;
}

static bool env_true(const char *name)
{
    const char *v = getenv(name);
    return v && strcasecmp(v, "true") == 0;
}

/* botocore's static stability extension (InstanceMetadataFetcher._evaluate_expiration): during
 * an outage of EC2's credential service, IMDS goes on answering the last credentials, with an
 * expiration that has passed, and AWS goes on accepting them. Credentials that expire within
 * the refresh window (10 min, plus a jitter of 2-10 min so that a fleet does not come back at
 * once) are used until that much from now instead: not refused as expired, and not fetched
 * again on every call, but asked for again within minutes. Counted, and said at WARN. */
#define IMDS_REFRESH_WINDOW_S 600
static void imds_extend(sky__cctx *ctx, sky_aws_credentials *c)
{
    if (!c->expiration_ns)
        return;
    /* random.randint(120, 600): both ends included */
    int64_t jitter_s = 120 + (int64_t)(sky__creds_random(ctx) * 481);
    if (jitter_s > 600)
        jitter_s = 600;
    int64_t offset_ns = (IMDS_REFRESH_WINDOW_S + jitter_s) * 1000000000LL;
    if (ctx->now_ns < c->expiration_ns - offset_ns)
        return;
    c->expiration_ns = ctx->now_ns + offset_ns;
    struct sky_aws_creds *p = (struct sky_aws_creds *)ctx->p; /* the counters are atomics */
    atomic_fetch_add(&p->n_extensions, 1);
    sky__diag(NULL, SKY_LEVEL_WARN,
              "aws credentials: the instance metadata service answered credentials that are "
              "expired or about to expire (its credential service may be unavailable); using "
              "them for %lld more minutes, then asking again",
              (long long)((IMDS_REFRESH_WINDOW_S + jitter_s + 59) / 60));
}

sky_status sky__creds_imds(sky__cctx *ctx, sky_aws_credentials *out)
{
    if (env_true("AWS_EC2_METADATA_DISABLED"))
        return SKY_ENOTFOUND;
    const char *base = ctx->p->o.imds_endpoint;
    if (!base || !*base)
        base = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    if (!base || !*base) {
        const char *mode = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
        base = mode && strcasecmp(mode, "IPv6") == 0 ? "http://[fd00:ec2::254]"
                                                      : "http://169.254.169.254";
    }
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/')
        bl--;
    char url[1024], why[256];
    sky_http_response resp;

    /* IMDSv2: a session token first */
    snprintf(url, sizeof url, "%.*s/latest/api/token", (int)bl, base);
    sky_aws_header th[1] = {{"X-aws-ec2-metadata-token-ttl-seconds", "21600"}};
    char *token = NULL;
    sky_status st = get(ctx, FETCH_TOKEN, "PUT", url, th, 1, &resp, why, sizeof why);
    if (st == SKY_OK && resp.status == 200 && resp.body_len && resp.body_len < 4096) {
        token = strndup(resp.body, resp.body_len);
        if (!token) {
            wipe_response(&resp);
            return SKY_ENOMEM;
        }
    }
    long token_status = st == SKY_OK ? resp.status : 0;
    if (st == SKY_OK)
        wipe_response(&resp);
    if (!token) {
        if (env_true("AWS_EC2_METADATA_V1_DISABLED")) {
            sky__cerr(ctx, SKY_ENOTFOUND, "instance metadata: no IMDSv2 token and IMDSv1 disabled");
            return SKY_ENOTFOUND;
        }
        if (st != SKY_OK && st != SKY_ETIMEDOUT && st != SKY_ENET)
            return st;
        if (token_status == 400)
            return sky__cerr(ctx, SKY_EPROTO, "instance metadata: token request rejected (400)");
        /* v1 fallback (the SDKs also fall back on 403/404/405 and on a timeout) */
    }
    sky_aws_header ah[1] = {{"X-aws-ec2-metadata-token", token}};
    size_t nah = token ? 1 : 0;

    snprintf(url, sizeof url, "%.*s/latest/meta-data/iam/security-credentials/", (int)bl, base);
    st = get(ctx, FETCH_ROLE, "GET", url, ah, nah, &resp, why, sizeof why);
    if (st != SKY_OK || resp.status != 200 || !resp.body_len) {
        if (st == SKY_OK) {
            sky__cerr(ctx, SKY_ENOTFOUND, "instance metadata: no IAM role (HTTP %ld)", resp.status);
            wipe_response(&resp);
        } else {
            sky__cerr(ctx, SKY_ENOTFOUND, "instance metadata not reachable: %s", why);
        }
        free(token);
        return SKY_ENOTFOUND;
    }
    size_t rl = strcspn(resp.body, "\r\n");
    char role[256];
    snprintf(role, sizeof role, "%.*s", (int)(rl < 255 ? rl : 255), resp.body);
    wipe_response(&resp);
    char *erole = sky_aws_uri_encode(role, strlen(role), false);
    if (!erole) {
        free(token);
        return SKY_ENOMEM;
    }
    snprintf(url, sizeof url, "%.*s/latest/meta-data/iam/security-credentials/%s", (int)bl, base,
             erole);
    free(erole);
    st = get(ctx, FETCH_CREDS, "GET", url, ah, nah, &resp, why, sizeof why);
    if (token) {
        sky__wipe(token, strlen(token));
        free(token);
    }
    if (st != SKY_OK)
        return sky__cerr(ctx, st, "instance metadata credentials: %s", why);
    if (resp.status != 200) {
        st = sky__cerr(ctx, SKY_EAUTH, "instance metadata credentials: HTTP %ld", resp.status);
    } else {
        st = sky__creds_from_json(ctx, resp.body, resp.body_len, false, out);
        if (st == SKY_OK) {
            ctx->source = "imds";
            imds_extend(ctx, out);
        }
    }
    wipe_response(&resp);
    return st;
}

/*
 * cwl_aws.c - the CloudWatch Logs sink's transport to AWS (or any compatible endpoint).
 *
 * awsJson 1.1 operations ("Logs_20140328.<op>") go through the AWS layer's client, which signs
 * with SigV4, retries throttling and transient failures with the SDKs' standard policy and
 * refreshes credentials. The HTTP ingestion endpoints (/ingest/bulk, /v1/logs) get the
 * x-aws-log-group/x-aws-log-stream headers and are signed with SigV4 too, or, with a bearer
 * token, posted with `Authorization: Bearer <token>`. The sink's own backoff retries puts.
 * It must never put a secret or a bearer token in an error message.
 */
#include "aws/crypto_api.h"
#include "util/text.h"
#include "aws/retry.h"
#include "sinks/cwl_transport.h"

#include <skylog/aws.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct cwl_aws {
    /* PutLogEvents goes through `put`, which makes one attempt per call: the sink retries the
     * batch itself, so it sees every attempt that got no answer (and counts it as ambiguous:
     * the service may have stored it). Control calls go through `client`, with the AWS
     * layer's retries in the configured retry mode (AWS_RETRY_MODE, retry_mode). Both share
     * one retry state: adaptive mode's rate limiter sees and paces every request. */
    sky_aws_client *put;
    sky_aws_client *client;   /* SigV4 operations */
    sky_http_client *http;    /* bearer-token ingestion */
    sky_aws_creds *creds;
    char *endpoint;
    char *bearer;
    sky_cwl_transport kind;
    bool compress;
    /* What a put derived from its body, kept for retries of the same body (call.body_id): a
     * retry costs the network, not another compression or SHA-256 of up to 1 MiB. */
    uint64_t body_id;
    void *gz;
    size_t gz_len;
    char hash[65];
} cwl_aws;

static void fill_from_error(sky__cwl_result *out, const sky_aws_error *e)
{
    out->status = e->status;
    out->http_status = e->http_status;
    snprintf(out->code, sizeof out->code, "%s", e->code);
    snprintf(out->message, sizeof out->message, "%s", e->message);
    out->retries = e->attempts > 1 ? e->attempts - 1 : 0;
    out->throttles = e->throttles;
    out->rate_limited_ns = e->rate_limited_ns;
    /* only a request sent whole and left without an answer may have been processed; a refused
     * connection or a failed handshake sent nothing */
    out->ambiguous = e->unknown_outcomes > 0;
    out->persistent = e->persistent;
}

static sky_status bearer_call(cwl_aws *t, const sky__cwl_call *cl, sky__cwl_result *out)
{
    char url[2300], auth[1100];
    const char *path = t->kind == SKY_CWL_OTLP ? "/v1/logs" : "/ingest/bulk";
    snprintf(url, sizeof url, "%s%s", t->endpoint, path);
    snprintf(auth, sizeof auth, "Bearer %s", t->bearer);
    sky_aws_header h[] = {
        {"Content-Type", t->kind == SKY_CWL_OTLP ? "application/json" : "application/x-ndjson"},
        {"Authorization", auth},
        {"x-aws-log-group", cl->group ? cl->group : ""},
        {"x-aws-log-stream", cl->stream ? cl->stream : ""},
    };
    int64_t left_ms = 0;
    if (cl->deadline_ns) {
        left_ms = (cl->deadline_ns - sky_monotonic_ns()) / 1000000;
        if (left_ms <= 0) {
            out->status = SKY_ETIMEDOUT;
            snprintf(out->code, sizeof out->code, "Timeout");
            snprintf(out->message, sizeof out->message, "deadline reached");
            return out->status;
        }
    }
    sky_http_request req = {.method = "POST", .url = url, .headers = h, .n_headers = 4,
                            .body = cl->body, .body_len = cl->len, .timeout_ms = left_ms};
    sky_http_response resp;
    char why[256] = "";
    sky_status st = sky_http_perform(t->http, &req, &resp, why, sizeof why);
    if (st != SKY_OK) {
        out->status = st;
        out->ambiguous = resp.failure == SKY_HTTP_NO_ANSWER;
        out->persistent =
            resp.failure == SKY_HTTP_NOT_RESOLVED || resp.failure == SKY_HTTP_CERT_FAILED;
        snprintf(out->code, sizeof out->code, "%s", st == SKY_ETIMEDOUT ? "Timeout" : "NetworkError");
        snprintf(out->message, sizeof out->message, "%s", why);
        return st;
    }
    out->http_status = resp.status;
    if (resp.status >= 200 && resp.status < 300) {
        out->status = SKY_OK;
    } else {
        sky_aws_error e;
        sky_aws_parse_error(resp.status, resp.headers, resp.n_headers, resp.body, resp.body_len,
                            &e);
        fill_from_error(out, &e);
        out->retries = 0;
    }
    sky_http_response_free(&resp);
    return out->status;
}

static sky_status aws_call(void *self, const sky__cwl_call *cl, sky__cwl_result *out)
{
    cwl_aws *t = self;
    memset(out, 0, sizeof *out);
    bool put = strcmp(cl->op, "PutLogEvents") == 0;
    if (put && t->kind != SKY_CWL_PUT_LOG_EVENTS && t->bearer)
        return bearer_call(t, cl, out);
    char target[96];
    snprintf(target, sizeof target, "Logs_20140328.%s", cl->op);
    sky_aws_call call = {.target = target, .body = cl->body, .body_len = cl->len,
                         .deadline_ns = cl->deadline_ns};
    sky_aws_header extra[3] = {{"x-aws-log-group", cl->group ? cl->group : ""},
                               {"x-aws-log-stream", cl->stream ? cl->stream : ""},
                               {"Content-Encoding", "gzip"}};
    if (put && t->kind != SKY_CWL_PUT_LOG_EVENTS) {
        /* the ingestion endpoints, signed with SigV4 */
        call.target = NULL;
        call.path = t->kind == SKY_CWL_OTLP ? "/v1/logs" : "/ingest/bulk";
        call.content_type = t->kind == SKY_CWL_OTLP ? "application/json" : "application/x-ndjson";
        call.extra_headers = extra;
        call.n_extra = 2;
    }
    if (put) {
        if (!cl->body_id || cl->body_id != t->body_id) {
            free(t->gz);
            t->gz = NULL;
            t->body_id = 0;
            if (t->compress && sky_aws_gzip(cl->body, cl->len, &t->gz, &t->gz_len) != SKY_OK) {
                out->status = SKY_ENOMEM;
                snprintf(out->code, sizeof out->code, "OutOfMemory");
                snprintf(out->message, sizeof out->message, "cannot compress the request");
                return out->status;
            }
            if (cl->body_sha256 && !t->gz) { /* hashed by the sink while it wrote the body */
                sky__hex(cl->body_sha256, 32, t->hash);
            } else {
                /* "" when libcrypto is missing: then the client fails to sign, with the reason */
                sky_aws_sha256_hex(t->gz ? t->gz : cl->body, t->gz ? t->gz_len : cl->len,
                                   t->hash);
            }
            t->body_id = cl->body_id;
        }
        if (t->gz) {
            call.body = t->gz;
            call.body_len = t->gz_len;
            if (!call.extra_headers) {
                call.extra_headers = extra + 2;
                call.n_extra = 1;
            } else {
                call.n_extra = 3;
            }
        }
        call.payload_hash = t->hash[0] ? t->hash : NULL;
    }
    sky_http_response resp;
    sky_aws_error e;
    sky_status st = sky_aws_client_call(put ? t->put : t->client, &call, &resp, &e);
    if (st == SKY_OK) {
        out->status = SKY_OK;
        out->http_status = resp.status;
        out->retries = e.attempts > 1 ? e.attempts - 1 : 0;
        out->throttles = e.throttles;
        out->rate_limited_ns = e.rate_limited_ns;
        out->body = resp.body;
        out->body_len = resp.body_len;
        resp.body = NULL;
        sky_http_response_free(&resp);
        return SKY_OK;
    }
    fill_from_error(out, &e);
    return out->status;
}

static void aws_free(void *self)
{
    cwl_aws *t = self;
    sky_aws_client_free(t->client);
    sky_aws_client_free(t->put);
    sky_http_client_free(t->http);
    sky_aws_creds_free(t->creds);
    free(t->gz);
    free(t->endpoint);
    free(t->bearer);
    free(t);
}

static void aws_creds_stats(void *self, sky_aws_creds_stats *out)
{
    sky_aws_creds_stats_get(((cwl_aws *)self)->creds, out); /* NULL-safe: bearer tokens */
}

static void aws_retry_stats(void *self, sky_aws_retry_stats *out)
{
    sky_aws_client_retry_stats(((cwl_aws *)self)->client, out); /* `put` shares its state */
}

sky_status sky__cwl_aws_transport(const sky_cwl_opts *o, sky__cwl_transport *out, char **errmsg)
{
    cwl_aws *t = calloc(1, sizeof *t);
    if (!t)
        return SKY_ENOMEM;
    t->kind = o->transport;
    t->compress = o->compress;
    char err[512] = "";
    sky_status st = SKY_OK;
    sky_aws_creds_opts co = {.access_key_id = o->access_key_id,
                             .secret_access_key = o->secret_access_key,
                             .session_token = o->session_token,
                             .profile = o->profile,
                             .region = o->region};
    sky_http_opts ho = {.connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms : 5000,
                        .timeout_ms = o->request_timeout_ms ? o->request_timeout_ms : 30000,
                        .ca_bundle = o->ca_bundle,
                        .transport = (sky_http_transport)o->http_transport};
    co.http = &ho;
    if ((o->access_key_id == NULL) != (o->secret_access_key == NULL)) {
        snprintf(err, sizeof err, "cloudwatch: access_key_id and secret_access_key go together");
        st = SKY_EINVAL;
    }
    if (st == SKY_OK)
        st = sky_aws_creds_new(&co, &t->creds);
    if (st == SKY_OK) {
        sky_aws_client_opts ao = {.service = "logs",
                                  .region = o->region,
                                  .endpoint = o->endpoint,
                                  .profile = o->profile,
                                  .creds = t->creds,
                                  .http = ho,
                                  .retry = {.max_attempts = sky__retry_attempts(
                                                o->max_retries, o->profile, NULL, 4),
                                            .base_ms = o->retry_delay_ms}};
        char cerr[256] = "";
        st = sky_aws_client_new(&ao, &t->client, cerr, sizeof cerr);
        if (st == SKY_OK) {
            ao.retry.max_attempts = 1;
            ao.share_retry_state = t->client;
            st = sky_aws_client_new(&ao, &t->put, cerr, sizeof cerr);
        }
        if (st != SKY_OK)
            snprintf(err, sizeof err, "cloudwatch: %s", cerr[0] ? cerr : sky_strerror(st));
    }
    if (st == SKY_OK && o->transport != SKY_CWL_PUT_LOG_EVENTS && o->bearer_token) {
        {
            t->bearer = strdup(o->bearer_token);
            t->endpoint = strdup(sky_aws_client_endpoint(t->client));
            char ca[1024]; /* the AWS clients resolve theirs; this plain one needs it too */
            if (!ho.ca_bundle && sky_aws_resolve_ca_bundle(NULL, o->profile, NULL, ca, sizeof ca,
                                                           NULL) == SKY_OK)
                ho.ca_bundle = ca;
            st = t->bearer && t->endpoint ? sky_http_client_new(&ho, &t->http) : SKY_ENOMEM;
            if (st == SKY_EUNSUPPORTED) {
                char why[sizeof err - 16];
                sky_http_init(why, sizeof why);
                snprintf(err, sizeof err, "cloudwatch: %s", why);
            }
        }
    }
    if (st != SKY_OK) {
        aws_free(t);
        if (errmsg)
            *errmsg = strdup(err[0] ? err : sky_strerror(st));
        return st;
    }
    *out = (sky__cwl_transport){.call = aws_call, .free = aws_free, .creds_stats = aws_creds_stats,
                                .retry_stats = aws_retry_stats, .self = t,
                                .body_sha256 = !o->compress &&
                                               o->transport == SKY_CWL_PUT_LOG_EVENTS};
    return SKY_OK;
}

/*
 * creds_call.c - the retries of the credential providers' AWS API calls (STS AssumeRole*, SSO
 * GetRoleCredentials, SSO OIDC CreateToken) and the counters of every provider retry.
 *
 * botocore makes these calls with ordinary clients, so they retry like any call of the
 * configured retry mode (retry.c: which errors, backoff with jitter, the quota, max attempts);
 * the one addition is STS's IDPCommunicationError (botocore/retries/special.py, and _retry.json's
 * "sts" policy in legacy mode: only with HTTP 400). A fresh retry state per call, as botocore
 * creates a fresh client per credential fetch. The metadata providers have rules of their own
 * (creds_metadata.c) and only use the counters and the sleep here.
 *
 * Must never: sleep but through sky__retry_sleep() (tests inject it), or put a request or an
 * answer body into `why` (they carry tokens and secrets).
 */
#include "aws/creds.h"
#include "aws/retry.h"

#include <stdio.h>
#include <string.h>

void sky__creds_count(sky__cctx *ctx, unsigned retries, unsigned throttles)
{
    /* the counters are atomics, meant to be bumped through the const view of a resolution */
    struct sky_aws_creds *p = (struct sky_aws_creds *)ctx->p;
    if (retries)
        atomic_fetch_add(&p->n_retries, retries);
    if (throttles)
        atomic_fetch_add(&p->n_throttles, throttles);
}

bool sky__creds_sleep(sky__cctx *ctx, int64_t ns)
{
    sky__retry r = {.opts = ctx->p->o.fetch_retry}; /* sky__retry_sleep reads only the hooks */
    return sky__retry_sleep(&r, ns);
}

double sky__creds_random(sky__cctx *ctx)
{
    sky__retry r = {.opts = ctx->p->o.fetch_retry}; /* sky__retry_random reads only the hook */
    return sky__retry_random(&r);
}

static void classify(const char *service, const sky__retry *rt, sky_status st,
                     const sky_http_response *resp, sky_aws_error *e)
{
    memset(e, 0, sizeof *e);
    e->status = st;
    e->failure = resp->failure;
    if (st != SKY_OK) {
        e->persistent = resp->failure == SKY_HTTP_NOT_RESOLVED ||
                        resp->failure == SKY_HTTP_CERT_FAILED;
        e->retryable = (st == SKY_ENET || st == SKY_ETIMEDOUT) && !e->persistent;
        return;
    }
    if (resp->status >= 200 && resp->status < 300)
        return;
    sky_aws_parse_error(resp->status, resp->headers, resp->n_headers, resp->body, resp->body_len,
                        e);
    e->retryable = sky__retry_retryable(rt, e);
    if (strcmp(service, "sts") == 0 && strcmp(e->code, "IDPCommunicationError") == 0 &&
        (rt->opts.mode != SKY_AWS_RETRY_LEGACY || resp->status == 400))
        e->retryable = true;
}

sky_status sky__creds_call(sky__cctx *ctx, const char *service, sky_http_client *http,
                           const sky_http_request *req, sky_http_response *resp, char *why,
                           size_t whylen)
{
    sky__retry rt = {0};
    sky_aws_retry_opts ro = ctx->p->o.fetch_retry;
    sky_status st = sky__retry_resolve(&ro, ctx->p->o.profile, ctx->p->o.config_file, why,
                                       whylen);
    if (st != SKY_OK)
        return st;
    st = sky__retry_init(&rt, &ro, NULL);
    if (st != SKY_OK) {
        snprintf(why, whylen, "out of memory");
        return st;
    }
    int cost = 0;
    for (int attempt = 1;; attempt++) {
        memset(resp, 0, sizeof *resp);
        st = sky_http_perform(http, req, resp, why, whylen);
        sky_aws_error e;
        classify(service, &rt, st, resp, &e);
        if (e.throttling)
            sky__creds_count(ctx, 0, 1);
        if (st == SKY_OK && resp->status >= 200 && resp->status < 300) {
            sky__retry_release(&rt, cost);
            break;
        }
        if (!e.retryable || attempt >= rt.opts.max_attempts || sky__retry_cancelled(&rt))
            break;
        int c;
        if (!sky__retry_acquire(&rt, st == SKY_ETIMEDOUT, &c))
            break;
        cost = c;
        int64_t delay = sky__retry_delay_ns(&rt.opts, attempt, sky__retry_random(&rt));
        if (!sky__retry_sleep(&rt, delay))
            break; /* cancelled: the last answer stands */
        if (st == SKY_OK)
            sky_http_response_free(resp);
        sky__creds_count(ctx, 1, 0);
    }
    sky__retry_destroy(&rt);
    return st;
}

/* common.c - see common.h. */
#include "common.h"

#include "encode/text.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool sky__aws_cli_opt(sky__aws_cli_opts *o, int c, const char *arg)
{
    switch (c) {
    case SKY__OPT_ENDPOINT: o->endpoint = arg; return true;
    case SKY__OPT_REGION: o->region = arg; return true;
    case SKY__OPT_PROFILE: o->profile = arg; return true;
    case SKY__OPT_CA_BUNDLE: o->ca_bundle = arg; return true;
    default: return false;
    }
}

static bool stopped(void *flag)
{
    return flag && *(volatile sig_atomic_t *)flag;
}

sky_aws_client *sky__aws_cli_client(const sky__aws_cli_opts *o, const char *service,
                                    const char *cmd)
{
    char region[64];
    const char *r = o->region;
    /* A local endpoint needs some region to sign with; AWS itself needs the real one. */
    if (!r && sky_aws_resolve_region(NULL, o->profile, NULL, region, sizeof region) == SKY_OK)
        r = region;
    if (!r && o->endpoint)
        r = "us-east-1";
    sky_aws_client_opts co = {.service = service, .region = r, .endpoint = o->endpoint,
                              .profile = o->profile, .http = {.ca_bundle = o->ca_bundle, .transport = o->transport},
                              .retry = {.cancelled = stopped, .cancel_user = (void *)o->stop}};
    sky_aws_client *c = NULL;
    char err[256] = "";
    if (sky_aws_client_new(&co, &c, err, sizeof err) != SKY_OK) {
        fprintf(stderr, "skylog %s: %s\n", cmd,
                err[0] ? err : "cannot create the AWS client (set --region or AWS_REGION)");
        return NULL;
    }
    return c;
}

/* The answer of a call, or NULL after printing why (shared by the Logs and CloudWatch calls). */
static json_t *answer(const char *cmd, const char *op, sky_status st, const sky_aws_error *e,
                      const char *body, size_t len)
{
    if (st != SKY_OK) {
        fprintf(stderr, "skylog %s: %s: %s%s%s\n", cmd, op, e->code[0] ? e->code : sky_strerror(st),
                e->message[0] ? ": " : "", e->message);
        return NULL;
    }
    json_t *j = json_loadb(body && len ? body : "{}", body && len ? len : 2, 0, NULL);
    if (!j)
        fprintf(stderr, "skylog %s: %s: the service answered something that is not JSON\n", cmd,
                op);
    return j;
}

json_t *sky__logs_call_err(sky_aws_client *c, const char *op, json_t *body, sky_aws_error *e)
{
    char target[96];
    snprintf(target, sizeof target, "Logs_20140328.%s", op);
    memset(e, 0, sizeof *e);
    char *text = json_dumps(body, JSON_COMPACT);
    if (!text) {
        e->status = SKY_ENOMEM;
        return NULL;
    }
    sky_aws_call call = {.target = target, .body = text, .body_len = strlen(text)};
    sky_http_response resp = {0};
    sky_status st = sky_aws_client_call(c, &call, &resp, e);
    free(text);
    if (st != SKY_OK) {
        e->status = st;
        return NULL;
    }
    json_t *j = json_loadb(resp.body ? resp.body : "{}", resp.body_len ? resp.body_len : 2, 0, NULL);
    sky_http_response_free(&resp);
    if (!j) {
        e->status = SKY_EREMOTE;
        snprintf(e->message, sizeof e->message, "the service answered something that is not JSON");
    }
    return j;
}

json_t *sky__logs_call(sky_aws_client *c, const char *cmd, const char *op, json_t *body)
{
    sky_aws_error e;
    json_t *j = sky__logs_call_err(c, op, body, &e);
    if (!j)
        answer(cmd, op, e.status, &e, NULL, 0); /* says why */
    return j;
}

json_t *sky__cw_call(sky_aws_client *c, const char *cmd, const char *op, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(17));
    if (!text)
        return NULL;
    char *out = NULL;
    size_t len = 0;
    sky_aws_error e;
    sky_status st = sky_cloudwatch_call(c, op, text, strlen(text), &out, &len, &e);
    free(text);
    json_t *j = answer(cmd, op, st, &e, out, len);
    free(out);
    return j;
}

bool sky__parse_when(const char *s, int64_t now_ms, int64_t *out)
{
    if (!s || !*s)
        return false;
    char *end;
    double v = strtod(s, &end);
    if (end != s && *end && !end[1]) {
        int64_t unit = 0;
        switch (*end) {
        case 's': unit = 1000; break;
        case 'm': unit = 60 * 1000; break;
        case 'h': unit = 3600 * 1000; break;
        case 'd': unit = 24LL * 3600 * 1000; break;
        case 'w': unit = 7LL * 24 * 3600 * 1000; break;
        default: break;
        }
        if (unit && v >= 0) {
            *out = now_ms - (int64_t)(v * (double)unit);
            return true;
        }
    }
    if (end != s && !*end && v >= 0) {
        *out = (int64_t)v;
        return true;
    }
    int64_t ns;
    if (sky_aws_parse_time(s, &ns) == SKY_OK) {
        *out = ns / 1000000;
        return true;
    }
    return false;
}

void sky__fmt_ms(int64_t ms, char out[25])
{
    sky__iso8601_ms(out, ms * 1000000);
    out[24] = '\0';
}

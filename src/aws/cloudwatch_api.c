/*
 * cloudwatch_api.c - one call into the CloudWatch metrics and alarms API (service
 * "monitoring"), for programs and the `skylog metrics` / `skylog alarm` commands.
 *
 * The body is the JSON the API reference shows (botocore's shapes), sent with the awsJson1.0
 * protocol that current SDKs pick for CloudWatch: one function serves every operation, so a
 * caller never depends on which of them skylog has a typed wrapper for. What it adds over
 * sky_aws_client_call(): the target prefix, the protocol version, gzip for large
 * PutMetricData bodies (as botocore does), and the limits checked before anything is sent.
 * It never parses the answer beyond what the client already does for errors.
 */
#include <skylog/aws.h>

#include <stdlib.h>
#include <string.h>

#define TARGET_PREFIX "GraniteServiceVersion20100801."
#define MAX_OP 64
/* PutMetricData's documented request limit; other operations' bodies are far below it. */
#define MAX_BODY 1048576
/* botocore compresses PutMetricData bodies from 10 KiB (request_min_compression_size_bytes). */
#define GZIP_MIN 10240

static bool valid_operation(const char *op)
{
    size_t n = op ? strlen(op) : 0;
    if (n == 0 || n > MAX_OP)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((op[i] >= 'A' && op[i] <= 'Z') || (op[i] >= 'a' && op[i] <= 'z')))
            return false;
    return true;
}

static void local_error(sky_aws_error *err, sky_status st, const char *msg)
{
    if (!err)
        return;
    memset(err, 0, sizeof *err);
    err->status = st;
    err->persistent = true;
    strncpy(err->message, msg, sizeof err->message - 1);
}

sky_status sky_cloudwatch_call(sky_aws_client *c, const char *operation, const char *json_body,
                               size_t len, char **out_json, size_t *out_len, sky_aws_error *err)
{
    if (out_json)
        *out_json = NULL;
    if (out_len)
        *out_len = 0;
    if (!c || !valid_operation(operation) || (!json_body && len)) {
        local_error(err, SKY_EINVAL, "invalid CloudWatch operation name or body");
        return SKY_EINVAL;
    }
    if (len > MAX_BODY) {
        local_error(err, SKY_ELIMIT, "request body over CloudWatch's 1 MB limit");
        return SKY_ELIMIT;
    }
    char target[sizeof TARGET_PREFIX + MAX_OP];
    strcpy(target, TARGET_PREFIX);
    strcat(target, operation);
    sky_aws_call call = {.target = target,
                         .json_version = "1.0",
                         .body = len ? json_body : "{}",
                         .body_len = len ? len : 2,
                         .gzip = strcmp(operation, "PutMetricData") == 0 && len >= GZIP_MIN};
    sky_http_response resp;
    sky_status st = sky_aws_client_call(c, &call, &resp, err);
    if (st != SKY_OK)
        return st;
    if (out_json) {
        size_t n = resp.body && resp.body_len ? resp.body_len : 2;
        char *s = malloc(n + 1);
        if (!s) {
            sky_http_response_free(&resp);
            local_error(err, SKY_ENOMEM, "out of memory");
            return SKY_ENOMEM;
        }
        memcpy(s, resp.body && resp.body_len ? resp.body : "{}", n);
        s[n] = '\0';
        *out_json = s;
        if (out_len)
            *out_len = n;
    }
    sky_http_response_free(&resp);
    return SKY_OK;
}

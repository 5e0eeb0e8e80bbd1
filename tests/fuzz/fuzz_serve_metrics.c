/*
 * fuzz_serve_metrics.c - CloudWatch metrics requests through skylog serve's real handlers and
 * a real SQLite store: both wire forms (server/metrics_api.c, query.c, jsonbody.c).
 *
 * Input: "Q\n<form body>" for awsQuery (Action=... inside), or "<Operation>\n<JSON body>" for
 * awsJson1.0 (e.g. "PutMetricData\n{...}"). Any reply is fine; crashes are not.
 */
#include "metrics_api.h"
#include "serve_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char op[64];
    data = fz_line(data, &size, op, sizeof op);
    bool query = strcmp(op, "Q") == 0;
    char *body = fz_copy(data, size);
    sky_aws_header hq[] = {{"Content-Type", "application/x-www-form-urlencoded"}};
    sky_aws_header hj[] = {{"X-Amz-Target", "GraniteServiceVersion20100801.x"},
                           {"Content-Type", "application/x-amz-json-1.0"}};
    sky__request req = fz_request("/", query ? hq : hj, query ? 1 : 2, body, size);
    sky__reply r = {0};
    sky__metrics_handle(&req, query ? SKY__API_METRICS_QUERY : SKY__API_METRICS_JSON,
                        query ? NULL : op, &r);
    sky__reply_clear(&r);
    free(body);
    return 0;
}

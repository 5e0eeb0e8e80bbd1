/*
 * fuzz_serve_alarms.c - alarm requests through skylog serve's real handlers and store
 * (server/alarms.c, alarm_rule.c, metrics_api.c), each followed by an evaluation of every
 * stored alarm at a fixed time, so hostile configurations, rules and datapoints reach the
 * evaluator too.
 *
 * Input: as fuzz_serve_metrics ("<Operation>\n<JSON body>", or "Q\n<form body>"). Any reply
 * and any verdict is fine; crashes, leaks and sanitizer reports are not.
 */
#include "alarms.h"
#include "metrics_api.h"
#include "serve_harness.h"

/* 2026-12-07T00:00:00Z: a fixed clock, so a replay evaluates the same periods every time. */
#define EVAL_AT_MS 1796601600000LL

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
    sky__alarms_evaluate(req.server, EVAL_AT_MS);
    free(body);
    return 0;
}

/*
 * fuzz_serve_metrics.c - CloudWatch metrics requests through skylog serve's real handlers and
 * a real SQLite store: both wire forms (server/metrics_api.c, query.c, jsonbody.c).
 *
 * Input: "Q\n<form body>" for awsQuery (Action=... inside), or "<Operation>\n<JSON body>" for
 * awsJson1.0 (e.g. "PutMetricData\n{...}"). Any reply is fine; crashes are not.
 */
#include "serve_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_metrics_call(data, size);
    return 0;
}

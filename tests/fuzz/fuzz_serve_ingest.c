/*
 * fuzz_serve_ingest.c - the HTTP ingestion endpoints (server/ingest.c) through the real
 * handler and SQLite store.
 *
 * Input: "bulk\n<ND-JSON>" for POST /ingest/bulk, "otlp\n<OTLP JSON>" for POST /v1/logs (any
 * other first line: bulk). The destination is group "g", stream "s".
 */
#include "ingest.h"
#include "serve_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char kind[16];
    data = fz_line(data, &size, kind, sizeof kind);
    char *body = fz_copy(data, size);
    sky_aws_header h[] = {{"x-aws-log-group", "g"},
                          {"x-aws-log-stream", "s"},
                          {"Content-Type", "application/json"}};
    sky__request req = fz_request(strcmp(kind, "otlp") == 0 ? "/v1/logs" : "/ingest/bulk", h, 3,
                                  body, size);
    sky__reply r = {0};
    sky__ingest_handle(&req, &r);
    sky__reply_clear(&r);
    free(body);
    return 0;
}

/*
 * fuzz_serve_logs.c - CloudWatch Logs request bodies through skylog serve's real handlers and
 * a real SQLite store (server/logs_api.c, filter_pattern.c, emf.c, jsonbody.c, log_tags.c:
 * the tag* corpus entries tag group "g" by ARN and name, past and at the limits).
 *
 * Input: "<Operation>\n<JSON body>", e.g. "PutLogEvents\n{...}". The store holds group "g" and
 * stream "s", so bodies naming them reach PutLogEvents' storage, EMF extraction, reads and
 * filter patterns. Any reply is fine; crashes, leaks and sanitizer reports are not.
 */
#include "logs_api.h"
#include "serve_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char op[64];
    data = fz_line(data, &size, op, sizeof op);
    char *body = fz_copy(data, size);
    sky_aws_header h[] = {{"X-Amz-Target", "Logs_20140328.x"},
                          {"Content-Type", "application/x-amz-json-1.1"}};
    sky__request req = fz_request("/", h, 2, body, size);
    sky__reply r = {0};
    sky__logs_handle(&req, op, &r);
    sky__reply_clear(&r);
    free(body);
    return 0;
}

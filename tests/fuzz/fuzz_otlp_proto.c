/*
 * fuzz_otlp_proto.c - the OTLP/HTTP protobuf logs decoder of skylog serve (server/otlp.c) on
 * any bytes: it must never crash, read outside the input, leak, or recurse without bound, and
 * every event it makes must be UTF-8 (what CloudWatch stores), and never more than the
 * records limit. Each input is also sent whole through the ingest handler (POST
 * /v1/logs, Content-Type application/x-protobuf) into the real SQLite store, so the decoder's
 * output meets the batch limits and the store.
 */
#include "ingest.h"
#include "otlp.h"
#include "serve_harness.h"

#include "util/text.h"

typedef struct seen {
    size_t n;
} seen;

static bool add(void *ctx, int64_t ts, char *msg, size_t len)
{
    (void)ts;
    seen *s = ctx;
    if (!sky__utf8_valid(msg, len))
        __builtin_trap();
    s->n++;
    free(msg);
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    seen s = {0};
    sky__otlp_out o = {.add = add, .ctx = &s, .max_records = 10000, .now_ms = 1700000000000};
    sky__otlp_rc rc = sky__otlp_logs_pb(data, size, &o);
    if (s.n > 10000 || (rc == SKY__OTLP_MALFORMED && !o.why))
        __builtin_trap();

    char *body = fz_copy(data, size);
    sky_aws_header h[] = {{"x-aws-log-group", "g"},
                          {"x-aws-log-stream", "s"},
                          {"Content-Type", "application/x-protobuf"}};
    sky__request req = fz_request("/v1/logs", h, 3, body, size);
    sky__reply r = {0};
    sky__ingest_handle(&req, &r);
    sky__reply_clear(&r);
    free(body);
    return 0;
}

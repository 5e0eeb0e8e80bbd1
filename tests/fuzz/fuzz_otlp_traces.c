/*
 * fuzz_otlp_traces.c - the OTLP/HTTP traces decoders of skylog serve (server/otlp.c) on any
 * bytes: the protobuf walk on the input as it is, and the JSON walk on it when it parses as
 * JSON (within jsonbody.h's limits). Neither may crash, read outside the input, leak or
 * recurse without bound; every span event must be UTF-8 JSON text, and never more than the
 * records limit. Each input is also sent whole through the ingest handler (POST /v1/traces,
 * once as protobuf, once as JSON) into the real SQLite store.
 */
#include "ingest.h"
#include "jsonbody.h"
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
    if (!sky__utf8_valid(msg, len) || len < 2 || msg[0] != '{' || msg[len - 1] != '}')
        __builtin_trap();
    s->n++;
    free(msg);
    return true;
}

static void ingest(const uint8_t *data, size_t size, const char *type)
{
    char *body = fz_copy(data, size);
    sky_aws_header h[] = {{"x-aws-log-group", "g"}, {"x-aws-log-stream", "s"}, {"Content-Type", type}};
    sky__request req = fz_request("/v1/traces", h, 3, body, size);
    sky__reply r = {0};
    sky__ingest_handle(&req, &r);
    sky__reply_clear(&r);
    free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    seen s = {0};
    sky__otlp_out o = {.add = add, .ctx = &s, .max_records = 10000, .now_ms = 1700000000000};
    sky__otlp_rc rc = sky__otlp_traces_pb(data, size, &o);
    if (s.n > 10000 || (rc == SKY__OTLP_MALFORMED && !o.why))
        __builtin_trap();

    const char *why = NULL;
    json_t *root = sky__json_load((const char *)data, size, &why);
    if (root) {
        seen sj = {0};
        sky__otlp_out oj = {.add = add, .ctx = &sj, .max_records = 10000,
                            .now_ms = 1700000000000};
        rc = sky__otlp_traces_json(root, &oj);
        if (sj.n > 10000 || (rc == SKY__OTLP_MALFORMED && !oj.why))
            __builtin_trap();
        json_decref(root);
    }
    ingest(data, size, "application/x-protobuf");
    ingest(data, size, "application/json");
    return 0;
}

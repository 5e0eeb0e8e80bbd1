/*
 * ingest.c - the HTTP log ingestion endpoints (see ingest.h).
 *
 *   POST /ingest/bulk   ND-JSON: one JSON value a line. An object with "timestamp" (epoch ms)
 *                       and a string "message" is that event; any other object becomes the
 *                       message itself (stored as its JSON text), timestamped "timestamp" if
 *                       it has one, else now. Blank lines are skipped.
 *   POST /v1/logs       OTLP/HTTP logs, JSON or (Content-Type application/x-protobuf)
 *                       protobuf: a LogRecord per event, as otlp.h says.
 *   POST /v1/traces     OTLP/HTTP traces, either encoding: a Span per event (a JSON object
 *                       with its ids, name, times, status and attributes), as otlp.h says.
 *
 * The group and stream come from the x-aws-log-group and x-aws-log-stream headers and are
 * created on first use. A malformed body is rejected whole (nothing is stored), so a client
 * can retry it without creating duplicates.
 *
 * Limits are PutLogEvents's (a request is one batch): at most 10,000 events, 1,048,576 bytes
 * counted as message bytes + 26 each, each event within --max-event-bytes. ND-JSON lines are
 * counted before any is parsed, so a body of a million tiny lines is refused for the price of
 * one scan, and one request can only hold the store lock as long as one full batch takes.
 */
#include "ingest.h"

#include "jsonbody.h"
#include "logs_api.h"
#include "otlp.h"
#include "server.h"
#include "util/pb.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct batch {
    sky__log_event *ev;
    char **owned; /* message buffers this batch must free */
    size_t n, cap, n_owned;
    json_t **roots;
    size_t n_roots;
} batch;

static bool add_event(batch *b, int64_t ts, const char *msg, size_t len, char *owned)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        sky__log_event *ne = realloc(b->ev, cap * sizeof *ne);
        char **no = realloc(b->owned, cap * sizeof *no);
        if (ne)
            b->ev = ne;
        if (no)
            b->owned = no;
        if (!ne || !no)
            return false;
        b->cap = cap;
    }
    b->ev[b->n++] = (sky__log_event){.ts_ms = ts, .msg = msg, .len = len};
    if (owned)
        b->owned[b->n_owned++] = owned;
    return true;
}

static bool keep_root(batch *b, json_t *root)
{
    json_t **nr = realloc(b->roots, (b->n_roots + 1) * sizeof *nr);
    if (!nr)
        return false;
    b->roots = nr;
    b->roots[b->n_roots++] = root;
    return true;
}

static void batch_free(batch *b)
{
    for (size_t i = 0; i < b->n_owned; i++)
        free(b->owned[i]);
    for (size_t i = 0; i < b->n_roots; i++)
        json_decref(b->roots[i]);
    free(b->owned);
    free(b->ev);
    free(b->roots);
}

/* Adds `v` as an event: strings as they are, anything else as its JSON text. */
static bool add_value(batch *b, int64_t ts, json_t *v)
{
    if (json_is_string(v))
        return add_event(b, ts, json_string_value(v), json_string_length(v), NULL);
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text)
        return false;
    return add_event(b, ts, text, strlen(text), text);
}

#define MAX_EVENTS 10000
#define MAX_BATCH_BYTES 1048576
#define EVENT_OVERHEAD 26

static void too_many_events(sky__reply *r)
{
    sky__reply_error(r, SKY__API_INGEST, 400, "InvalidParameterException",
                     "1 validation error detected: Value '[...]' at 'logEvents' failed to satisfy "
                     "constraint: Member must have length less than or equal to %d",
                     MAX_EVENTS);
}

static bool parse_bulk(const sky__request *req, batch *b, sky__reply *r)
{
    const char *p = req->body, *end = req->body + req->body_len;
    size_t line_no = 0, lines = 0;
    int64_t now = sky__now_ms();
    for (const char *q = p; q < end;) { /* count first: no allocation for a refused body */
        const char *nl = memchr(q, '\n', (size_t)(end - q));
        const char *stop = nl ? nl : end;
        for (const char *c = q; c < stop; c++)
            if (*c != ' ' && *c != '\t' && *c != '\r') {
                lines++;
                break;
            }
        q = stop + 1;
    }
    if (lines > MAX_EVENTS) {
        too_many_events(r);
        return false;
    }
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        line_no++;
        size_t len = (size_t)(stop - p);
        while (len && (p[len - 1] == '\r' || p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len > 0) {
            const char *why = NULL;
            json_t *v = sky__json_load(p, len, &why);
            if (!v || !keep_root(b, v)) {
                json_decref(v);
                sky__reply_error(r, SKY__API_INGEST, 400, "SerializationException",
                                 "line %zu: %s", line_no, why ? why : "out of memory");
                return false;
            }
            json_t *ts = json_object_get(v, "timestamp"), *msg = json_object_get(v, "message");
            /* Reals are range-checked before the cast (a larger one would be UB); out of
             * range is as good as absent: the time window skips such events anyway. */
            int64_t t = json_is_integer(ts) ? json_integer_value(ts)
                        : json_is_real(ts) && fabs(json_real_value(ts)) < 9e18
                            ? (int64_t)json_real_value(ts)
                            : now;
            bool ok = json_is_string(msg) ? add_value(b, t, msg) : add_value(b, t, v);
            if (!ok) {
                sky__reply_error(r, SKY__API_INGEST, 500, "InternalFailure", "out of memory");
                return false;
            }
        }
        p = stop + 1;
    }
    return true;
}

static bool add_owned(void *ctx, int64_t ts, char *msg, size_t len)
{
    batch *b = ctx;
    if (add_event(b, ts, msg, len, msg))
        return true;
    free(msg);
    return false;
}

static bool is_protobuf(const sky__request *req)
{
    const char *ct = req->header(req, "Content-Type");
    return ct && strncasecmp(ct, "application/x-protobuf", 22) == 0;
}

static bool parse_otlp(const sky__request *req, batch *b, sky__reply *r, bool traces)
{
    bool pb = is_protobuf(req);
    sky__otlp_out o = {.add = add_owned, .ctx = b, .max_records = MAX_EVENTS,
                       .now_ms = sky__now_ms()};
    sky__otlp_rc rc;
    if (pb) {
        rc = traces ? sky__otlp_traces_pb(req->body, req->body_len, &o)
                    : sky__otlp_logs_pb(req->body, req->body_len, &o);
    } else {
        const char *why = NULL;
        json_t *root = sky__json_load(req->body, req->body_len, &why);
        if (!root || !keep_root(b, root)) {
            json_decref(root);
            sky__reply_error(r, SKY__API_INGEST, 400, "SerializationException",
                             "body is not valid OTLP JSON: %s", why ? why : "out of memory");
            return false;
        }
        rc = traces ? sky__otlp_traces_json(root, &o) : sky__otlp_logs_json(root, &o);
    }
    switch (rc) {
    case SKY__OTLP_OK: return true;
    case SKY__OTLP_TOO_MANY: too_many_events(r); break;
    case SKY__OTLP_MALFORMED:
        sky__reply_error(r, SKY__API_INGEST, 400, "SerializationException",
                         "body is not valid OTLP %s: %s", pb ? "protobuf" : "JSON", o.why);
        break;
    default: sky__reply_error(r, SKY__API_INGEST, 500, "InternalFailure", "out of memory");
    }
    return false;
}

/* Success, saying what was not stored for its time: OTLP's partial success (the number as
 * proto3 JSON writes an int64: a string), and for /ingest/bulk the same count under its own
 * name. With nothing rejected: {} (an empty Export*ServiceResponse for protobuf). */
static void reply_stored(const sky__request *req, sky__reply *r, bool otlp, bool traces,
                         size_t rejected)
{
    static const char why[] = "events older than 14 days or the group's retention, or more "
                              "than 2 hours ahead, are not stored (as CloudWatch rejects them)";
    bool pb = otlp && is_protobuf(req);
    if (!rejected) {
        if (pb)
            sky__reply_raw(r, 200, "application/x-protobuf", "", 0);
        else
            sky__reply_raw(r, 200, "application/json", "{}", 2);
        return;
    }
    if (pb) { /* Export*ServiceResponse{partial_success = 1 {rejected = 1, error_message = 2}} */
        sky_buf b = {0};
        size_t m = sky__pb_open(&b, 1);
        sky__pb_uint(&b, 1, rejected);
        sky__pb_string(&b, 2, why, sizeof why - 1);
        sky__pb_close(&b, m);
        if (b.oom)
            sky__reply_error(r, SKY__API_INGEST, 500, "InternalFailure", "out of memory");
        else
            sky__reply_raw(r, 200, "application/x-protobuf", b.p, b.len);
        sky__buf_free(&b);
        return;
    }
    char n[24];
    snprintf(n, sizeof n, "%zu", rejected);
    json_t *j =
        otlp ? json_pack("{s:{s:s,s:s}}", "partialSuccess",
                         traces ? "rejectedSpans" : "rejectedLogRecords", n, "errorMessage", why)
             : json_pack("{s:I,s:s}", "rejectedLogEvents", (json_int_t)rejected, "message", why);
    if (!j)
        sky__reply_error(r, SKY__API_INGEST, 500, "InternalFailure", "out of memory");
    else
        sky__reply_json(r, 200, "application/json", j);
}

void sky__ingest_handle(const sky__request *req, sky__reply *r)
{
    const char *group = req->header(req, "x-aws-log-group");
    const char *stream = req->header(req, "x-aws-log-stream");
    if (!group || !stream) {
        sky__reply_error(r, SKY__API_INGEST, 400, "InvalidParameterException",
                         "The x-aws-log-group and x-aws-log-stream headers are required.");
        return;
    }
    batch b = {0};
    bool traces = strcmp(req->path, "/v1/traces") == 0;
    bool otlp = traces || strcmp(req->path, "/v1/logs") == 0;
    bool ok = otlp ? parse_otlp(req, &b, r, traces) : parse_bulk(req, &b, r);
    size_t total = 0, max_event = req->server->opts->max_event_bytes;
    for (size_t i = 0; ok && i < b.n; i++) {
        if (b.ev[i].len + EVENT_OVERHEAD > max_event) {
            sky__reply_error(r, SKY__API_INGEST, 400, "InvalidParameterException",
                             "Log event too large: %zu bytes exceeds limit of %zu",
                             b.ev[i].len + EVENT_OVERHEAD, max_event);
            ok = false;
        }
        total += b.ev[i].len + EVENT_OVERHEAD;
    }
    if (ok && total > MAX_BATCH_BYTES) {
        sky__reply_error(r, SKY__API_INGEST, 400, "InvalidParameterException",
                         "Upload too large: %zu bytes exceeds limit of %d", total,
                         MAX_BATCH_BYTES);
        ok = false;
    }
    size_t rejected = 0;
    if (ok && sky__logs_ingest(req->server, group, stream, b.ev, b.n, &rejected, r))
        reply_stored(req, r, otlp, traces, rejected);
    batch_free(&b);
}

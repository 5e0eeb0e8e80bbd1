/*
 * otlp.h - OTLP/HTTP logs requests (ExportLogsServiceRequest), and traces requests
 * (ExportTraceServiceRequest: a span an event, below), as log events: from the JSON
 * encoding (a jansson tree, parsed within jsonbody.h's limits) or the protobuf encoding (bytes,
 * decoded here by hand with util/pb.h). Both give the same events for the same content.
 *
 * What a record becomes: a record with attributes, a trace id or a span id is stored as a JSON
 * object {"body", "severityText", "severityNumber", "traceId", "spanId", "attributes",
 * "resource", "scope"} (members present when set), AnyValues as plain JSON (strings, numbers,
 * booleans, null, arrays, objects; int64 as numbers, NaN and the infinities as "NaN",
 * "Infinity", "-Infinity", bytes as base64); a record with only a body (and times and
 * severity) is stored as the body: a string as it is, another value as its JSON text; a record
 * with neither is skipped. Its time is timeUnixNano, else observedTimeUnixNano, else now.
 */
#ifndef SKY_SERVE_OTLP_H
#define SKY_SERVE_OTLP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* AnyValues nested deeper than this (arrays, key-value lists) are refused: the decoder
 * recurses once per level and no further. */
#define SKY__OTLP_MAX_DEPTH 16

typedef enum sky__otlp_rc {
    SKY__OTLP_OK = 0,
    SKY__OTLP_MALFORMED, /* not an OTLP request (why says what), or over a limit */
    SKY__OTLP_TOO_MANY,  /* more records than max_records */
    SKY__OTLP_OOM,
} sky__otlp_rc;

typedef struct sky__otlp_out {
    /* Takes one record's event: msg is malloc'd and now the callee's (also on failure);
     * false: out of memory. */
    bool (*add)(void *ctx, int64_t ts_ms, char *msg, size_t len);
    void *ctx;
    size_t max_records; /* records (stored ones) beyond this: SKY__OTLP_TOO_MANY */
    int64_t now_ms;
    const char *why; /* out: for SKY__OTLP_MALFORMED, a static text */
    size_t empty;    /* out: log records with nothing to store (no body, attribute or id):
                        not stored, counted for the answer's partial success */
} sky__otlp_out;

sky__otlp_rc sky__otlp_logs_json(json_t *root, sky__otlp_out *out);
/* Never allocates more than the request's content calls for: at most SKY__JSON_MAX_ELEMENTS
 * values, counted before each is made; unknown fields are skipped, as protobuf requires. */
sky__otlp_rc sky__otlp_logs_pb(const void *body, size_t n, sky__otlp_out *out);

/* The longest span traceState taken: the longest tracestate the W3C grammar allows (32
 * members of a 256-character key, '=' and a 256-character value, and 31 commas). A longer one
 * makes the request malformed; it is refused before anything is made of it. */
#define SKY__OTLP_MAX_TRACE_STATE (32 * 513 + 31)

/* ExportTraceServiceRequest, with the same limits (max_records counts spans). Every span is
 * stored as a JSON object {"name", "traceId", "spanId", "traceState", "flags" (the W3C trace
 * flags in the low byte, as Span.flags), "parentSpanId", "kind", "startTimeUnixNano",
 * "endTimeUnixNano" (strings, as OTLP/JSON), "durationMs" (end - start), "status": {"code",
 * "message"} (when set), "attributes", "resource", "scope"} (ids as lower-case hex, members
 * present when set: flags when not 0; span events and links are not kept), timestamped at its
 * start (else its end, else now). */
sky__otlp_rc sky__otlp_traces_json(json_t *root, sky__otlp_out *out);
sky__otlp_rc sky__otlp_traces_pb(const void *body, size_t n, sky__otlp_out *out);

#endif

/*
 * skylog/http_sink.h - sending events to any HTTP endpoint in batches: a generic log collector
 * (seed 004's CentralizedLogger: {"logs":[...]}, a JSON array or ND-JSON) and an
 * OpenTelemetry OTLP/HTTP exporter of logs and traces (JSON or protobuf encoding, POST
 * <endpoint>/v1/logs, and finished spans to <endpoint>/v1/traces).
 *
 * Both are the same machine (src/sinks/http_batch.c), with the CloudWatch sink's discipline:
 *   - write() never blocks on the network: events go into a bounded FIFO; when it is full
 *     (max_queue_size / max_queue_bytes) new events are refused and counted, what was
 *     accepted is never thrown away to make room;
 *   - a sender thread sends a batch when it has batch_size events or max_batch_bytes, when
 *     its oldest event has waited flush_interval_ms, or on flush/close;
 *   - events leave the FIFO only when the endpoint has answered for them: a 2xx delivers them;
 *     408, 429, 5xx and network failures keep them and the same body (same bytes, same
 *     X-Skylog-Batch header) is sent again after an exponential backoff (full jitter, up to
 *     max_backoff_ms), or after the answer's Retry-After (seconds or an HTTP date) when that
 *     is longer (capped at max_retry_after_ms); 401, 403 and 407 keep them too, retried every
 *     60 s at most, and are said once on stderr (a key may be fixed); 413 with more than one
 *     event splits the batch in halves; any other 4xx rejects the batch's events (counted);
 *   - a request whose whole body went out but whose answer never came may have been stored:
 *     it is sent again and counted as `ambiguous` (the one way a duplicate can happen; a
 *     receiver can drop it by the X-Skylog-Batch header, which is the same on every resend);
 *   - nothing is silent: received == sent_events + queued_events + skipped + Σ dropped[] at
 *     rest (skipped: events an OTLP signal does not carry, such as a log line for traces).
 *
 * Both sinks are in the configuration registry: `http` and `otlp` sections of skylog.yaml,
 * SKYLOG_HTTP__URL=..., SKYLOG_OTLP__ENDPOINT=... (docs/CONFIGURATION.md).
 */
#ifndef SKYLOG_HTTP_SINK_H
#define SKYLOG_HTTP_SINK_H

#include <skylog.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The request body of the generic sink. Each event is the sink's JSON rendering of it (the
 * line a JSON file sink would write, without the newline). */
typedef enum sky_http_body {
    SKY_HTTP_BODY_LOGS = 0, /* {"logs":[event,...]}  (application/json) */
    SKY_HTTP_BODY_ARRAY,    /* [event,...]           (application/json) */
    SKY_HTTP_BODY_NDJSON,   /* event\nevent\n        (application/x-ndjson) */
} sky_http_body;

/* What the two sinks share: where, how, how much, how often. */
typedef struct sky_http_batch_opts {
    bool gzip;                  /* Content-Encoding: gzip */
    size_t batch_size;          /* events a request; default 100 (OTLP: 512) */
    size_t max_batch_bytes;     /* body bytes a request before compression; default 1 MiB */
    int64_t flush_interval_ms;  /* longest wait of an event before its batch goes; default 5000 */
    size_t max_queue_size;      /* events queued; default 10000 */
    size_t max_queue_bytes;     /* bytes queued; default 16 MiB */
    size_t max_event_bytes;     /* an event larger than this is dropped (too_large); default
                                   256 KiB and at most max_batch_bytes */
    int64_t timeout_ms;         /* one request; default 10000 */
    int64_t max_backoff_ms;     /* longest wait between attempts; default 30000 */
    int64_t max_retry_after_ms; /* longest Retry-After honoured; default 300000 */
    int64_t close_timeout_ms;   /* close: last tries for this long; default 2000 */
    const char *api_key;        /* sent as api_key_header when set (secret) */
    const char *api_key_header; /* default "X-API-Key" */
    const char *bearer_token;   /* Authorization: Bearer <token> (secret) */
    /* More request headers: "Name=value,Name=value", values percent-encoded (the syntax of
     * OTEL_EXPORTER_OTLP_HEADERS, which the OTLP sink reads when this is NULL); at most 16,
     * names of token characters, not Content-Type, Content-Length, Content-Encoding, Host or
     * X-Skylog-Batch. Treated as secret. */
    const char *headers;
    const char *ca_bundle;      /* PEM file of trusted CAs; default the system's */
    bool insecure;              /* do not verify TLS (tests only) */
    /* Which HTTP client sends: auto (the default: skylog's own unless a proxy variable applies
     * to the URL), native or curl; a sky_http_transport (skylog/aws.h). Native with a proxy for
     * the URL is refused at creation (SKY_EINVAL). $SKYLOG_HTTP_TRANSPORT overrides it. */
    int http_transport;
    uint64_t reserved_[8]; /* zero; room to grow in the same ABI (docs/COMPATIBILITY.md) */
} sky_http_batch_opts;

typedef struct sky_http_sink_opts {
    const char *url; /* required: http:// or https:// */
    sky_http_body body;
    sky_http_batch_opts batch;
    uint64_t reserved_[8]; /* zero; room to grow in the same ABI (docs/COMPATIBILITY.md) */
} sky_http_sink_opts;

/* A generic HTTP batch sink. SKY_EINVAL (bad options; *errmsg says which), SKY_EUNSUPPORTED
 * (libcurl cannot be loaded), SKY_ENOMEM. *errmsg (may be NULL) is malloc'd: free() it. */
SKY_API sky_status sky_sink_http(const sky_http_sink_opts *opts, sky_sink **out, char **errmsg);

/* The OTLP/HTTP encoding: the same content either way (OTLP's JSON mapping, or protobuf with
 * opentelemetry-proto's field numbers, Content-Type application/x-protobuf). */
typedef enum sky_otlp_protocol {
    SKY_OTLP_PROTOCOL_DEFAULT = 0, /* $OTEL_EXPORTER_OTLP_LOGS_PROTOCOL (traces:
                                      $OTEL_EXPORTER_OTLP_TRACES_PROTOCOL), else
                                      $OTEL_EXPORTER_OTLP_PROTOCOL ("http/json" or
                                      "http/protobuf"; anything else is SKY_EINVAL), else JSON */
    SKY_OTLP_HTTP_JSON,
    SKY_OTLP_HTTP_PROTOBUF,
} sky_otlp_protocol;

/* The signals of sky_otlp_opts.signals. */
#define SKY_OTLP_LOGS 1u
#define SKY_OTLP_TRACES 2u

typedef struct sky_otlp_opts {
    /* The collector's base URL ("http://localhost:4318"); "/v1/logs" (logs) and "/v1/traces"
     * (traces) are appended to it, after taking off a "/v1/logs" or "/v1/traces" it already
     * ends with. Default, per signal: $OTEL_EXPORTER_OTLP_LOGS_ENDPOINT /
     * $OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as is), else $OTEL_EXPORTER_OTLP_ENDPOINT
     * (with the path appended), else http://localhost:4318. */
    const char *endpoint;
    /* Resource attribute service.name; default $OTEL_SERVICE_NAME, else "unknown_service". */
    const char *service_name;
    /* More resource attributes, "key=value,key=value" ($OTEL_RESOURCE_ATTRIBUTES' syntax,
     * which is read too when this is NULL); string values. host.name is always added. */
    const char *resource_attributes;
    sky_http_batch_opts batch;
    sky_otlp_protocol protocol; /* default: see sky_otlp_protocol */
    /* What is exported: SKY_OTLP_LOGS (every event as a LogRecord to /v1/logs), SKY_OTLP_TRACES
     * (every finished span, skylog/trace.h's span_finished event, as an OTLP Span to
     * /v1/traces), or both. 0 (the default) is both, less each signal whose
     * $OTEL_LOGS_EXPORTER / $OTEL_TRACES_EXPORTER (the OpenTelemetry SDKs' exporter selection:
     * a comma-separated list, case-insensitive) names none and not otlp; a signal so turned
     * off is said on stderr at creation, and sky_otlp_sink_stats_get() answers SKY_ENOTFOUND
     * for it. Set, it wins over those variables (stderr says which it overrode). Values other
     * than otlp and none are warned of and ignored. Each signal has its own queue, batches and
     * counters (sky_otlp_sink_stats_get). It took the first reserved slot (a program built
     * before it zeroed that slot, so it reads as 0, the default); not the padding after
     * `protocol`, which an initializer need not zero. */
    uint64_t signals;
    uint64_t reserved_[7]; /* zero; room to grow in the same ABI (docs/COMPATIBILITY.md) */
} sky_otlp_opts;

/* An OTLP/HTTP exporter of logs and traces (JSON or protobuf: `protocol`; which: `signals`).
 *
 * Traces: each span_finished event (skylog/trace.h) with valid trace_id and span_id becomes a
 * Span: traceId, spanId, parentSpanId (when the span has a parent), name (the `span` field),
 * kind from `span_kind` (sky_span_set_kind; INTERNAL without one), endTimeUnixNano the
 * event's time and startTimeUnixNano that less `duration_ms`, status ERROR with the `error`
 * text as its message for a failed span, OK for a span set OK explicitly (`status_code`
 * "ok"), UNSET (no status) otherwise, and as attributes the event's other fields (context
 * fields such as request_id included), logger.name and the code.* attributes; traceState the
 * span's W3C tracestate and flags its W3C trace flags (`tracestate`, `trace_flags`: "01",
 * sampled, when absent). The `request` event of skylog/request.h (inside the request's span)
 * becomes a SERVER span named "<method> <endpoint>" (or "<method>"), with
 * http.request.method, url.path, http.route and http.response.status_code, status ERROR on a
 * 5xx. Only the events the library logs are spans (sky_span_end's and sky_request_end's,
 * marked as theirs): an application's own event named "span_finished" or "request" is a log
 * record. A span that is not sampled (its trace flags say so: a caller sent "-00") is not
 * exported. Other events are not spans: they are counted `skipped` by the traces signal (as
 * unsampled spans are), never dropped. A span reaches the exporter only as its event, so a
 * level or filter that drops that event drops the span. Events logged inside a span are its
 * events in OpenTelemetry's log-based sense (LogRecords with its traceId and spanId, on
 * /v1/logs), not Span.events.
 *
 * Logs: each event becomes a LogRecord: timeUnixNano and
 * observedTimeUnixNano, severityNumber (TRACE 1, DEBUG 5, INFO 9, WARN 13, ERROR 17,
 * CRITICAL 21) and severityText, body the event name, traceId/spanId from the event's
 * trace_id/span_id fields when they are valid hex (skylog/trace.h puts them there), and every
 * other field an attribute with its type (string, int, double, bool; null as an empty value;
 * times and errno as strings; a uint above INT64_MAX as a string), plus logger.name and
 * code.filepath, code.function, code.lineno. Errors as sky_sink_http().
 *
 * Answers: as the http sink's; and a collector's 2xx that carries a partial success (OTLP's
 * partialSuccess, read in the request's encoding) drops the records or spans it says it
 * rejected: counted in sky_http_sink_stats.partial_rejected, said on the diagnostics with
 * its error_message, never retried. An empty answer is full success; one that cannot be read
 * is said and its batch counted as delivered (its status says so). */
SKY_API sky_status sky_sink_otlp(const sky_otlp_opts *opts, sky_sink **out, char **errmsg);

typedef enum sky_http_drop {
    SKY_HTTP_DROP_QUEUE_FULL = 0, /* refused at write: the queue was full */
    SKY_HTTP_DROP_TOO_LARGE,      /* refused at write: larger than max_event_bytes */
    SKY_HTTP_DROP_REJECTED,       /* the endpoint refused them (a 4xx other than those retried) */
    SKY_HTTP_DROP_UNDELIVERED,    /* still queued when close gave up */
    SKY_HTTP_DROP_ENCODING,       /* could not be encoded (out of memory) */
    SKY_HTTP_DROP_COUNT_
} sky_http_drop;

SKY_API const char *sky_http_drop_name(sky_http_drop d);

typedef struct sky_http_sink_stats {
    uint64_t received;      /* events handed to the sink */
    uint64_t queued_events; /* now, the batch in flight included */
    uint64_t queued_bytes;
    uint64_t sent_events;   /* answered 2xx (less partial_rejected) */
    uint64_t sent_bytes;    /* their encoded bytes (before compression) */
    uint64_t requests;      /* requests answered 2xx */
    uint64_t retries;       /* requests sent again after a failure */
    uint64_t throttles;     /* answers 429 (and 503 with Retry-After) */
    uint64_t ambiguous;     /* requests sent whole whose answer never came */
    uint64_t splits;        /* batches halved after a 413 */
    uint64_t dropped[SKY_HTTP_DROP_COUNT_];
    long last_status;       /* HTTP status of the last answer, 0 if none */
    int64_t last_success_ms; /* Unix ms, 0 if never */
    char last_error[256];    /* "" if none */
    bool sender_alive;
    /* Events this sink's signal does not carry (an OTLP traces exporter's events that are not
     * finished spans): passed over on purpose, not dropped. */
    uint64_t skipped;
    /* Events the endpoint answered 2xx for but said it did not keep: an OTLP collector's
     * partial success (ExportLogsServiceResponse.partial_success.rejected_log_records, for
     * traces rejected_spans). Dropped, not retried (the OTLP spec), said on the diagnostics
     * with the collector's error_message (also in last_error), counted in the sink's
     * sky_sink_stats.dropped, and not in sent_events. */
    uint64_t partial_rejected;
    uint64_t reserved_[6]; /* zero; room to grow in the same ABI (docs/COMPATIBILITY.md) */
} sky_http_sink_stats;

/* A snapshot of an http or otlp sink's counters (an otlp sink's logs signal, or its traces
 * signal when it exports no logs; SKY_ENOTFOUND when it exports neither, both turned off by
 * OTEL_*_EXPORTER=none). SKY_EINVAL for another kind of sink. */
SKY_API sky_status sky_http_sink_stats_get(sky_sink *sink, sky_http_sink_stats *out);
/* The counters of one signal (SKY_OTLP_LOGS or SKY_OTLP_TRACES) of an otlp sink: each has its
 * own queue, requests and drops. SKY_ENOTFOUND when the sink does not export that signal,
 * SKY_EINVAL for another kind of sink. */
SKY_API sky_status sky_otlp_sink_stats_get(sky_sink *sink, unsigned signal,
                                           sky_http_sink_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* SKYLOG_HTTP_SINK_H */

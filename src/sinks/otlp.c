/*
 * otlp.c - the OpenTelemetry OTLP/HTTP logs exporter: events as OTLP LogRecords in the JSON
 * encoding (opentelemetry-proto's ExportLogsServiceRequest through the proto3 JSON mapping,
 * with OTLP's exceptions: traceId/spanId as hex, not base64), sent by the batching engine of
 * http_batch.c to <endpoint>/v1/logs.
 *
 * The request is one ResourceLogs (service.name, host.name, the configured attributes) with
 * one ScopeLogs (scope "skylog"); the resource and scope text is rendered once at creation,
 * so a batch is prefix + records + suffix, and each record is encoded once, on the pipeline's
 * thread, from the event's typed fields (not from its JSON line: OTLP wants the types).
 * 64-bit integers and nanosecond times are JSON strings (proto3 JSON for int64/fixed64);
 * enums (severityNumber) are numbers, as OTLP/JSON requires.
 *
 * The protobuf encoding (protocol http/protobuf) carries the same content with the field
 * numbers of opentelemetry-proto's logs.proto, common.proto and resource.proto, written by
 * util/pb.h. Each record is a whole ScopeLogs.log_records field (tag, length, LogRecord), so
 * a batch is still prefix + records: the prefix (ResourceLogs and ScopeLogs headers, the
 * Resource and InstrumentationScope prebuilt at creation) is written once the batch's size is
 * known, which is why the codec's begin() is told it.
 *
 * Traces (ExportTraceServiceRequest to <endpoint>/v1/traces, trace.proto's field numbers) are
 * the same machine with another record: a finished span is its span_finished event
 * (trace/span.c logs it when the span ends, inside the span, so with its ids), whose time is
 * the span's end and whose duration_ms gives its start; the span's name, kind, status and
 * error text, W3C trace flags and tracestate are that event's own fields. A request of
 * trace/request.c is its `request` event, logged inside its span, which logs no span_finished:
 * a SERVER span. Only the library's own events are spans: both are logged with a call site
 * that marks them (trace/origin.h), so an application's event named "request" or
 * "span_finished" stays a log record. A span whose trace flags say not sampled is not
 * exported (OpenTelemetry exports only sampled spans). ResourceSpans/ScopeSpans have the
 * numbers and shape of ResourceLogs/ScopeLogs, so the prefix is built the same way. Each
 * signal is its own batch sender (its own URL, queue, retries and counters); the sink handed
 * out is a small fan-out over them. A traces sender passes over the events that are not spans
 * (the codec's accept(), counted `skipped`): they are not its signal, not losses.
 */
#include "core/errmsg.h"
#include "core/pipeline.h"
#include "core/reserved.h"
#include "encode/render.h"
#include "util/pb.h"
#include "util/termsafe.h"
#include "util/text.h"
#include "sinks/http_batch.h"
#include "sinks/otlp.h"
#include "trace/origin.h"

#include <skylog/trace.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MAX_RESOURCE_ATTRS 64

typedef struct otlp {
    bool pb;
    bool traces;  /* this sender's signal: spans, else log records */
    char *prefix; /* {"resourceLogs":[{"resource":{...},"scopeLogs":[{"scope":{...},"logRecords":[
                     (traces: resourceSpans, scopeSpans, spans) */
    sky_buf res;   /* protobuf: ResourceLogs.resource (field 1), tagged */
    sky_buf scope; /* protobuf: ScopeLogs.scope (field 1), tagged */
} otlp;

/* Field numbers (opentelemetry-proto: collector/logs/v1/logs_service.proto, logs/v1/logs.proto,
 * common/v1/common.proto, resource/v1/resource.proto). */
enum {
    PB_REQUEST_RESOURCE_LOGS = 1, /* ExportLogsServiceRequest.resource_logs */
    PB_RL_RESOURCE = 1,           /* ResourceLogs.resource */
    PB_RL_SCOPE_LOGS = 2,         /* ResourceLogs.scope_logs */
    PB_RESOURCE_ATTRIBUTES = 1,   /* Resource.attributes */
    PB_SL_SCOPE = 1,              /* ScopeLogs.scope */
    PB_SL_LOG_RECORDS = 2,        /* ScopeLogs.log_records */
    PB_SCOPE_NAME = 1,            /* InstrumentationScope.name */
    PB_SCOPE_VERSION = 2,         /* InstrumentationScope.version */
    PB_LR_TIME = 1,               /* LogRecord.time_unix_nano, fixed64 */
    PB_LR_SEVERITY_NUMBER = 2,    /* LogRecord.severity_number, enum */
    PB_LR_SEVERITY_TEXT = 3,
    PB_LR_BODY = 5,               /* AnyValue */
    PB_LR_ATTRIBUTES = 6,         /* repeated KeyValue */
    PB_LR_TRACE_ID = 9,           /* bytes, 16 */
    PB_LR_SPAN_ID = 10,           /* bytes, 8 */
    PB_LR_OBSERVED_TIME = 11,     /* fixed64 */
    PB_KV_KEY = 1,
    PB_KV_VALUE = 2,
    PB_ANY_STRING = 1,
    PB_ANY_BOOL = 2,
    PB_ANY_INT = 3,
    PB_ANY_DOUBLE = 4,
    /* collector/trace/v1/trace_service.proto, trace/v1/trace.proto: ExportTraceServiceRequest,
     * ResourceSpans and ScopeSpans number their fields as the logs messages do (1, 1/2, 1/2). */
    PB_SPAN_TRACE_ID = 1,       /* bytes, 16 */
    PB_SPAN_SPAN_ID = 2,        /* bytes, 8 */
    PB_SPAN_TRACE_STATE = 3,    /* string, W3C tracestate */
    PB_SPAN_PARENT_SPAN_ID = 4, /* bytes, 8; absent for a root span */
    PB_SPAN_NAME = 5,
    PB_SPAN_KIND = 6,           /* enum SpanKind */
    PB_SPAN_START = 7,          /* fixed64 */
    PB_SPAN_END = 8,            /* fixed64 */
    PB_SPAN_ATTRIBUTES = 9,     /* repeated KeyValue */
    PB_SPAN_STATUS = 15,        /* Status */
    PB_SPAN_FLAGS = 16,         /* fixed32: bits 0-7 the W3C trace flags (SpanFlags) */
    PB_STATUS_MESSAGE = 2,
    PB_STATUS_CODE = 3,         /* enum StatusCode */
};

enum { SPAN_KIND_INTERNAL = 1, SPAN_KIND_SERVER = 2, STATUS_CODE_OK = 1, STATUS_CODE_ERROR = 2 };

/* SeverityNumber of the OpenTelemetry log data model, per skylog level. */
static const int severity[SKY_LEVEL_COUNT_] = {1, 5, 9, 13, 17, 21, 0};

/* A KeyValue with a string value: as field `pb_field` of the message being written, or
 * (pb_field 0) as JSON, after a comma unless first. */
static void str_attr(sky_buf *b, uint32_t pb_field, bool first, const char *k, size_t kn,
                     const char *v, size_t vn)
{
    if (pb_field) {
        size_t kv = sky__pb_open(b, pb_field);
        sky__pb_string(b, PB_KV_KEY, k, kn);
        size_t av = sky__pb_open(b, PB_KV_VALUE);
        sky__pb_string(b, PB_ANY_STRING, v, vn);
        sky__pb_close(b, av);
        sky__pb_close(b, kv);
        return;
    }
    if (!first)
        sky__buf_putc(b, ',');
    sky__buf_lit(b, "{\"key\":");
    sky__json_str(b, k, kn);
    sky__buf_lit(b, ",\"value\":{\"stringValue\":");
    sky__json_str(b, v, vn);
    sky__buf_lit(b, "}}");
}

/* An AnyValue for a field. */
static void any_value(sky_buf *b, const sky_field *f)
{
    switch (f->type) {
    case SKY_T_STR:
        sky__buf_lit(b, "{\"stringValue\":");
        sky__json_str(b, f->v.str.ptr, f->v.str.len);
        break;
    case SKY_T_INT:
        sky__buf_lit(b, "{\"intValue\":\"");
        sky__buf_i64(b, f->v.i);
        sky__buf_putc(b, '"');
        break;
    case SKY_T_UINT:
        if (f->v.u <= (uint64_t)INT64_MAX) {
            sky__buf_lit(b, "{\"intValue\":\"");
            sky__buf_u64(b, f->v.u);
            sky__buf_putc(b, '"');
        } else { /* int64 cannot hold it: its decimal text, exactly */
            sky__buf_lit(b, "{\"stringValue\":\"");
            sky__buf_u64(b, f->v.u);
            sky__buf_putc(b, '"');
        }
        break;
    case SKY_T_F64:
    case SKY_T_DUR: /* milliseconds, as every other renderer writes it */
        sky__buf_lit(b, "{\"doubleValue\":");
        sky__json_value(b, f); /* "NaN", "Infinity": proto3 JSON's spelling of them */
        break;
    case SKY_T_BOOL:
        sky__buf_lit(b, "{\"boolValue\":");
        sky__buf_puts(b, f->v.b ? "true" : "false");
        break;
    case SKY_T_TIME:
    case SKY_T_ERRNO:
        sky__buf_lit(b, "{\"stringValue\":");
        sky__json_value(b, f); /* already a JSON string */
        break;
    case SKY_T_JSON: /* the fragment's text: OTLP's kvlist would need a full JSON walk */
        sky__buf_lit(b, "{\"stringValue\":");
        sky__json_str(b, f->v.str.ptr, f->v.str.len);
        break;
    default: /* null: an empty AnyValue */
        sky__buf_putc(b, '{');
        break;
    }
    sky__buf_putc(b, '}');
}

/* An AnyValue's content for a field, in protobuf: the same choices as any_value(). */
static void pb_any_value(sky_buf *b, const sky_field *f)
{
    switch (f->type) {
    case SKY_T_STR:
    case SKY_T_JSON: sky__pb_string(b, PB_ANY_STRING, f->v.str.ptr, f->v.str.len); break;
    case SKY_T_INT: sky__pb_uint(b, PB_ANY_INT, (uint64_t)f->v.i); break;
    case SKY_T_UINT:
        if (f->v.u <= (uint64_t)INT64_MAX) {
            sky__pb_uint(b, PB_ANY_INT, f->v.u);
        } else {
            char d[21];
            sky__pb_string(b, PB_ANY_STRING, d, (size_t)(sky__u64_raw(d, f->v.u) - d));
        }
        break;
    case SKY_T_F64: sky__pb_double(b, PB_ANY_DOUBLE, f->v.f); break;
    case SKY_T_DUR: sky__pb_double(b, PB_ANY_DOUBLE, (double)f->v.ns / 1e6); break;
    case SKY_T_BOOL: sky__pb_uint(b, PB_ANY_BOOL, f->v.b); break;
    case SKY_T_TIME:
    case SKY_T_ERRNO: { /* the JSON renderer's string, unquoted (it needs no escapes) */
        char tmp[256];
        sky_buf t = {.p = tmp, .cap = sizeof tmp, .fixed = true};
        sky__json_value(&t, f);
        if (!t.oom && t.len >= 2 && tmp[0] == '"' && tmp[t.len - 1] == '"' &&
            !memchr(tmp, '\\', t.len))
            sky__pb_string(b, PB_ANY_STRING, tmp + 1, t.len - 2);
        break;
    }
    default: break; /* null: an empty AnyValue */
    }
}

/* An id: n (at most 32) lower-case hex digits, not all zero. */
static bool lower_hex(const sky_field *f, size_t n)
{
    uint8_t raw[16], any = 0;
    if (!f || f->type != SKY_T_STR || f->v.str.len != n || n > 32 ||
        !sky__unhex(f->v.str.ptr, n / 2, raw, true))
        return false;
    for (size_t i = 0; i < n / 2; i++)
        any |= raw[i];
    return any != 0;
}

/* The bytes of a valid lower_hex() id, as protobuf's bytes field. */
static void pb_id(sky_buf *b, uint32_t field, const char *hex, size_t n)
{
    uint8_t raw[16];
    sky__unhex(hex, n / 2, raw, true);
    sky__pb_bytes(b, field, raw, n / 2);
}

/* What both encodings take from an event. */
typedef struct rec_view {
    const sky_event *ev;
    sky_level lv;
    const char *name;
    const sky_field *tid, *sid;
    bool has_tid, has_sid;
} rec_view;

static bool view(const sky_record *rec, rec_view *v)
{
    v->ev = rec->event;
    if (!v->ev)
        return false;
    v->lv = sky_event_level(v->ev);
    if ((unsigned)v->lv >= SKY_LEVEL_OFF)
        v->lv = SKY_LEVEL_CRITICAL;
    v->name = sky_event_name(v->ev);
    v->tid = sky_event_get(v->ev, "trace_id");
    v->sid = sky_event_get(v->ev, "span_id");
    v->has_tid = lower_hex(v->tid, 32);
    v->has_sid = v->has_tid && lower_hex(v->sid, 16);
    return true;
}

/* The fields that became the record's own (ids, a span's name...): not attributes. */
typedef struct taken {
    const sky_field *f[12];
    size_t n;
    const sky_field *rf[4]; /* fields written under another key (rk): semantic conventions */
    const char *rk[4];
    size_t nr;
} taken;

static void rename_field(taken *t, const sky_field *f, const char *key)
{
    if (f && t->nr < sizeof t->rf / sizeof t->rf[0]) {
        t->rf[t->nr] = f;
        t->rk[t->nr++] = key;
    }
}

static void take(taken *t, const sky_field *f)
{
    if (f && t->n < sizeof t->f / sizeof t->f[0])
        t->f[t->n++] = f;
}

static bool is_taken(const taken *t, const sky_field *f)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->f[i] == f)
            return true;
    return false;
}

/* The attributes of a record: logger.name, code.*, and every field not taken; as repeated
 * field `pb_field` of the message being written, or (pb_field 0) as a JSON array's members. */
static void attributes(sky_buf *b, uint32_t pb_field, const sky_event *ev, const taken *t)
{
    const char *logger = sky_event_logger(ev);
    str_attr(b, pb_field, true, "logger.name", 11, logger, strlen(logger));
    const sky_callsite *cs = sky_event_callsite(ev);
    if (cs && cs->file) {
        str_attr(b, pb_field, false, "code.filepath", 13, cs->file, strlen(cs->file));
        if (cs->func)
            str_attr(b, pb_field, false, "code.function", 13, cs->func, strlen(cs->func));
        if (pb_field) {
            size_t kv = sky__pb_open(b, pb_field);
            sky__pb_string(b, PB_KV_KEY, "code.lineno", 11);
            size_t av = sky__pb_open(b, PB_KV_VALUE);
            sky__pb_uint(b, PB_ANY_INT, (uint64_t)(int64_t)cs->line);
            sky__pb_close(b, av);
            sky__pb_close(b, kv);
        } else {
            sky__buf_lit(b, ",{\"key\":\"code.lineno\",\"value\":{\"intValue\":\"");
            sky__buf_i64(b, cs->line);
            sky__buf_lit(b, "\"}}");
        }
    }
    size_t n = sky_event_field_count(ev);
    for (size_t i = 0; i < n; i++) {
        const sky_field *f = sky_event_field_at(ev, i);
        if (!f || is_taken(t, f))
            continue;
        const char *key = f->key;
        size_t kl = f->key_len;
        for (size_t r = 0; r < t->nr; r++)
            if (t->rf[r] == f)
                kl = strlen(key = t->rk[r]);
        if (pb_field) {
            size_t kv = sky__pb_open(b, pb_field);
            sky__pb_string(b, PB_KV_KEY, key, kl);
            size_t av = sky__pb_open(b, PB_KV_VALUE);
            pb_any_value(b, f);
            sky__pb_close(b, av);
            sky__pb_close(b, kv);
        } else {
            sky__buf_lit(b, ",{\"key\":");
            sky__json_str(b, key, kl);
            sky__buf_lit(b, ",\"value\":");
            any_value(b, f);
            sky__buf_putc(b, '}');
        }
    }
}

static taken ids_taken(const rec_view *v)
{
    taken t = {.n = 0, .nr = 0};
    if (v->has_tid)
        take(&t, v->tid);
    if (v->has_sid)
        take(&t, v->sid);
    return t;
}

static bool otlp_encode_pb(const rec_view *v, sky_buf *b)
{
    const sky_event *ev = v->ev;
    size_t lr = sky__pb_open(b, PB_SL_LOG_RECORDS);
    sky__pb_fixed64(b, PB_LR_TIME, (uint64_t)sky_event_time_ns(ev));
    sky__pb_fixed64(b, PB_LR_OBSERVED_TIME, (uint64_t)sky_now_ns());
    sky__pb_uint(b, PB_LR_SEVERITY_NUMBER, (uint64_t)severity[v->lv]);
    const char *lname = sky_level_name(v->lv);
    sky__pb_string(b, PB_LR_SEVERITY_TEXT, lname, strlen(lname));
    size_t body = sky__pb_open(b, PB_LR_BODY);
    sky__pb_string(b, PB_ANY_STRING, v->name, strlen(v->name));
    sky__pb_close(b, body);
    if (v->has_tid)
        pb_id(b, PB_LR_TRACE_ID, v->tid->v.str.ptr, 32);
    if (v->has_sid)
        pb_id(b, PB_LR_SPAN_ID, v->sid->v.str.ptr, 16);

    taken t = ids_taken(v);
    attributes(b, PB_LR_ATTRIBUTES, ev, &t);
    sky__pb_close(b, lr);
    return !b->oom;
}

static bool otlp_encode(void *self, const sky_record *rec, sky_buf *b)
{
    rec_view v;
    if (!view(rec, &v))
        return false;
    if (((otlp *)self)->pb)
        return otlp_encode_pb(&v, b);
    const sky_event *ev = v.ev;
    sky__buf_lit(b, "{\"timeUnixNano\":\"");
    sky__buf_i64(b, sky_event_time_ns(ev));
    sky__buf_lit(b, "\",\"observedTimeUnixNano\":\"");
    sky__buf_i64(b, sky_now_ns());
    sky__buf_lit(b, "\",\"severityNumber\":");
    sky__buf_i64(b, severity[v.lv]);
    sky__buf_lit(b, ",\"severityText\":\"");
    sky__buf_puts(b, sky_level_name(v.lv));
    sky__buf_lit(b, "\",\"body\":{\"stringValue\":");
    sky__json_str(b, v.name, strlen(v.name));
    sky__buf_putc(b, '}');

    if (v.has_tid) {
        sky__buf_lit(b, ",\"traceId\":\"");
        sky__buf_put(b, v.tid->v.str.ptr, 32);
        sky__buf_putc(b, '"');
    }
    if (v.has_sid) {
        sky__buf_lit(b, ",\"spanId\":\"");
        sky__buf_put(b, v.sid->v.str.ptr, 16);
        sky__buf_putc(b, '"');
    }

    sky__buf_lit(b, ",\"attributes\":[");
    taken t = ids_taken(&v);
    attributes(b, 0, ev, &t);
    sky__buf_lit(b, "]}");
    return !b->oom;
}

/* ---- traces ------------------------------------------------------------------------------- */

/* What a Span takes from a span_finished event (trace/span.c) or a request event
 * (trace/request.c): NULL members are absent. */
typedef struct span_view {
    const sky_event *ev;
    const sky_field *tid, *sid, *psid; /* valid lower-case hex ids (psid NULL: a root) */
    const sky_field *dur;
    char name[320];                    /* "checkout", or "GET /orders/{id}" */
    size_t name_len;
    int kind;
    bool failed, ok;          /* ok: STATUS_CODE_OK, set explicitly (neither: UNSET) */
    const sky_field *message; /* the status message of a failed span */
    const sky_field *tracestate;
    uint32_t flags;           /* W3C trace flags: SpanFlags' low byte */
    taken t;                  /* the fields that became the span's own, and the renamed */
    int64_t start_ns, end_ns;
} span_view;

static const sky_field *typed(const sky_event *ev, const char *key, sky_type type)
{
    const sky_field *f = sky_event_get(ev, key);
    return f && f->type == type ? f : NULL;
}

static void set_name(span_view *s, const sky_field *a, const sky_field *b)
{
    sky_buf n = {.p = s->name, .cap = sizeof s->name, .fixed = true};
    sky__buf_put(&n, a->v.str.ptr, a->v.str.len);
    if (b) {
        sky__buf_putc(&n, ' ');
        sky__buf_put(&n, b->v.str.ptr, b->v.str.len);
    }
    if (n.oom) { /* longer than any route skylog keeps: the first part alone */
        n.oom = false;
        n.len = a->v.str.len < sizeof s->name ? a->v.str.len : sizeof s->name - 1;
    }
    s->name_len = n.len;
}

static bool str_is(const sky_field *f, const char *s)
{
    return f && f->v.str.len == strlen(s) && !memcmp(f->v.str.ptr, s, f->v.str.len);
}

/* span_finished: name `span`, status `status` ("error" with `error`; "ok" is UNSET unless
 * `status_code` says "ok": trace/span.c writes it only for a status set explicitly), kind
 * `span_kind` (INTERNAL when absent). Values it does not know stay attributes. */
static bool finished_span(span_view *s)
{
    /* trace.proto's SpanKind numbers, by the names trace/span.c writes */
    static const char *const kinds[] = {"internal", "server", "client", "producer", "consumer"};
    const sky_field *name = typed(s->ev, "span", SKY_T_STR);
    if (!name)
        return false;
    set_name(s, name, NULL);
    s->kind = SPAN_KIND_INTERNAL;
    const sky_field *kind = typed(s->ev, "span_kind", SKY_T_STR);
    for (int i = 0; kind && i < (int)(sizeof kinds / sizeof kinds[0]); i++)
        if (str_is(kind, kinds[i])) {
            s->kind = SPAN_KIND_INTERNAL + i;
            take(&s->t, kind);
        }
    const sky_field *st = typed(s->ev, "status", SKY_T_STR);
    const sky_field *code = typed(s->ev, "status_code", SKY_T_STR);
    s->failed = str_is(st, "error");
    s->ok = !s->failed && str_is(st, "ok") && str_is(code, "ok");
    if (s->ok || (s->failed && str_is(code, "error")))
        take(&s->t, code);
    s->message = s->failed ? typed(s->ev, "error", SKY_T_STR) : NULL;
    take(&s->t, name);
    take(&s->t, st);
    take(&s->t, s->message);
    return true;
}

/* request (skylog/request.h): a SERVER span named "<method> <route>" (or "<method>"), failed
 * on a 5xx (OpenTelemetry's HTTP conventions for a server), its facts under the conventions'
 * names. */
static bool request_span(span_view *s)
{
    const sky_field *method = typed(s->ev, "method", SKY_T_STR);
    const sky_field *path = typed(s->ev, "path", SKY_T_STR);
    const sky_field *route = typed(s->ev, "endpoint", SKY_T_STR);
    const sky_field *status = typed(s->ev, "status", SKY_T_INT);
    if (!method || !path || !status)
        return false;
    set_name(s, method, route);
    s->kind = SPAN_KIND_SERVER;
    s->failed = status->v.i >= 500;
    s->ok = false;
    rename_field(&s->t, method, "http.request.method");
    rename_field(&s->t, path, "url.path");
    rename_field(&s->t, route, "http.route");
    rename_field(&s->t, status, "http.response.status_code");
    return true;
}

/* A span's event with the ids and duration a Span needs; false: not a span. */
static bool span_of(const sky_record *rec, span_view *s)
{
    const sky_event *ev = rec->event;
    if (!ev)
        return false;
    int origin = sky__span_origin(sky_event_callsite(ev));
    const char *name = sky_event_name(ev);
    bool finished = origin == SKY__ORIGIN_SPAN && !strcmp(name, "span_finished");
    if (!finished && !(origin == SKY__ORIGIN_REQUEST && !strcmp(name, "request")))
        return false;
    s->ev = ev;
    s->t.n = s->t.nr = 0;
    s->flags = SKY_TRACE_FLAG_SAMPLED; /* what the event says when it says nothing */
    s->tracestate = NULL;
    const sky_field *fl = typed(ev, "trace_flags", SKY_T_STR); /* both write them alike */
    uint8_t v;
    if (fl && fl->v.str.len == 2 && sky__unhex(fl->v.str.ptr, 1, &v, true)) {
        s->flags = v;
        take(&s->t, fl);
    }
    const sky_field *ts = typed(ev, "tracestate", SKY_T_STR);
    if (ts && ts->v.str.len <= SKY_TRACESTATE_MAX) {
        s->tracestate = ts;
        take(&s->t, ts);
    }
    s->tid = sky_event_get(ev, "trace_id");
    s->sid = sky_event_get(ev, "span_id");
    s->psid = sky_event_get(ev, "parent_span_id");
    s->dur = typed(ev, "duration_ms", SKY_T_DUR);
    if (!lower_hex(s->tid, 32) || !lower_hex(s->sid, 16) || !s->dur)
        return false;
    if (!lower_hex(s->psid, 16))
        s->psid = NULL;
    if (!(finished ? finished_span(s) : request_span(s)) || !(s->flags & SKY_TRACE_FLAG_SAMPLED))
        return false; /* an unsampled span is not exported (skylog/trace.h) */
    take(&s->t, s->tid);
    take(&s->t, s->sid);
    take(&s->t, s->psid);
    take(&s->t, s->dur);
    s->end_ns = sky_event_time_ns(ev);
    int64_t d = s->dur->v.ns > 0 ? s->dur->v.ns : 0;
    s->start_ns = s->end_ns > d ? s->end_ns - d : 0;
    return true;
}

static bool otlp_accept(void *self, const sky_record *rec)
{
    span_view s;
    return !((otlp *)self)->traces || span_of(rec, &s);
}

static bool span_encode_pb(const span_view *s, sky_buf *b)
{
    size_t sp = sky__pb_open(b, PB_SL_LOG_RECORDS); /* ScopeSpans.spans: also field 2 */
    pb_id(b, PB_SPAN_TRACE_ID, s->tid->v.str.ptr, 32);
    pb_id(b, PB_SPAN_SPAN_ID, s->sid->v.str.ptr, 16);
    if (s->tracestate)
        sky__pb_string(b, PB_SPAN_TRACE_STATE, s->tracestate->v.str.ptr,
                       s->tracestate->v.str.len);
    if (s->psid)
        pb_id(b, PB_SPAN_PARENT_SPAN_ID, s->psid->v.str.ptr, 16);
    sky__pb_string(b, PB_SPAN_NAME, s->name, s->name_len);
    sky__pb_uint(b, PB_SPAN_KIND, (uint64_t)s->kind);
    sky__pb_fixed64(b, PB_SPAN_START, (uint64_t)s->start_ns);
    sky__pb_fixed64(b, PB_SPAN_END, (uint64_t)s->end_ns);
    attributes(b, PB_SPAN_ATTRIBUTES, s->ev, &s->t);
    if (s->failed) {
        size_t st = sky__pb_open(b, PB_SPAN_STATUS);
        if (s->message)
            sky__pb_string(b, PB_STATUS_MESSAGE, s->message->v.str.ptr, s->message->v.str.len);
        sky__pb_uint(b, PB_STATUS_CODE, STATUS_CODE_ERROR);
        sky__pb_close(b, st);
    } else if (s->ok) {
        size_t st = sky__pb_open(b, PB_SPAN_STATUS);
        sky__pb_uint(b, PB_STATUS_CODE, STATUS_CODE_OK);
        sky__pb_close(b, st);
    }
    sky__pb_fixed32(b, PB_SPAN_FLAGS, s->flags);
    sky__pb_close(b, sp);
    return !b->oom;
}

static bool span_encode(void *self, const sky_record *rec, sky_buf *b)
{
    span_view s;
    if (!span_of(rec, &s)) /* accept() let only spans through */
        return false;
    if (((otlp *)self)->pb)
        return span_encode_pb(&s, b);
    sky__buf_lit(b, "{\"traceId\":\"");
    sky__buf_put(b, s.tid->v.str.ptr, 32);
    sky__buf_lit(b, "\",\"spanId\":\"");
    sky__buf_put(b, s.sid->v.str.ptr, 16);
    sky__buf_putc(b, '"');
    if (s.tracestate) {
        sky__buf_lit(b, ",\"traceState\":");
        sky__json_str(b, s.tracestate->v.str.ptr, s.tracestate->v.str.len);
    }
    sky__buf_lit(b, ",\"flags\":");
    sky__buf_u64(b, s.flags); /* fixed32: a JSON number */
    if (s.psid) {
        sky__buf_lit(b, ",\"parentSpanId\":\"");
        sky__buf_put(b, s.psid->v.str.ptr, 16);
        sky__buf_putc(b, '"');
    }
    sky__buf_lit(b, ",\"name\":");
    sky__json_str(b, s.name, s.name_len);
    sky__buf_lit(b, ",\"kind\":");
    sky__buf_i64(b, s.kind);
    sky__buf_lit(b, ",\"startTimeUnixNano\":\"");
    sky__buf_i64(b, s.start_ns);
    sky__buf_lit(b, "\",\"endTimeUnixNano\":\"");
    sky__buf_i64(b, s.end_ns);
    sky__buf_lit(b, "\",\"attributes\":[");
    attributes(b, 0, s.ev, &s.t);
    sky__buf_putc(b, ']');
    if (s.failed) {
        sky__buf_lit(b, ",\"status\":{");
        if (s.message) {
            sky__buf_lit(b, "\"message\":");
            sky__json_str(b, s.message->v.str.ptr, s.message->v.str.len);
            sky__buf_putc(b, ',');
        }
        sky__buf_lit(b, "\"code\":2}");
    } else if (s.ok) {
        sky__buf_lit(b, ",\"status\":{\"code\":1}");
    }
    sky__buf_putc(b, '}');
    return !b->oom;
}

static void otlp_begin(void *self, sky_buf *b, size_t payload)
{
    otlp *o = self;
    if (!o->pb) {
        sky__buf_puts(b, o->prefix);
        return;
    }
    /* ExportLogsServiceRequest{resource_logs: ResourceLogs{resource, scope_logs: ScopeLogs{
     * scope, log_records...}}}: the records (payload) close both messages. */
    uint64_t sl = o->scope.len + payload;
    uint64_t rl = o->res.len + sky__pb_varint_size(PB_RL_SCOPE_LOGS << 3 | SKY_PB_LEN) +
                  sky__pb_varint_size(sl) + sl;
    sky__pb_tag(b, PB_REQUEST_RESOURCE_LOGS, SKY_PB_LEN);
    sky__pb_varint(b, rl);
    sky__buf_put(b, o->res.p, o->res.len);
    sky__pb_tag(b, PB_RL_SCOPE_LOGS, SKY_PB_LEN);
    sky__pb_varint(b, sl);
    sky__buf_put(b, o->scope.p, o->scope.len);
}

static void prefix(sky_buf *b, const char *attrs, size_t n, bool traces)
{
    sky__buf_puts(b, traces ? "{\"resourceSpans\":[{" : "{\"resourceLogs\":[{");
    sky__buf_lit(b, "\"resource\":{\"attributes\":[");
    sky__buf_put(b, attrs, n);
    sky__buf_puts(b, traces ? "]},\"scopeSpans\":[{" : "]},\"scopeLogs\":[{");
    sky__buf_lit(b, "\"scope\":{\"name\":\"skylog\",\"version\":\"" SKYLOG_VERSION "\"},");
    sky__buf_puts(b, traces ? "\"spans\":[" : "\"logRecords\":[");
}

void sky__otlp_prefix(sky_buf *b, const char *attrs, size_t n) { prefix(b, attrs, n, false); }

void sky__otlp_text_record(sky_buf *b, int64_t time_ns, const char *msg, size_t len)
{
    sky__buf_lit(b, "{\"timeUnixNano\":\"");
    sky__buf_i64(b, time_ns);
    sky__buf_lit(b, "\",\"body\":{\"stringValue\":");
    sky__json_str(b, msg, len);
    sky__buf_lit(b, "}}");
}

/* ---- the collector's answer: OTLP's partial success ------------------------------------------ */

/* The answer is the collector's text, not ours: a limit before jansson sees it (the transport
 * already refuses more than 1 MiB), and the message cut to what a diagnostic line shows. */
#define PARTIAL_MAX_ANSWER (64u * 1024)

static int partial_bad(sky__hb_answer *p, const char *why)
{
    snprintf(p->error, sizeof p->error, "%s", why);
    p->rejected = 0; /* what was read before the fault counts for nothing */
    return -1;
}

/* The collector's reason, made safe for a terminal (it goes to the diagnostics) and cut at a
 * character's boundary to fit. */
static void partial_message(sky__hb_answer *p, const char *s, size_t n)
{
    sky_buf m = {0};
    sky__termsafe(&m, s, n < 1024 ? n : 1024, SKY__TERMSAFE_LINE);
    size_t k = m.len < sizeof p->message - 1 ? m.len : sizeof p->message - 1;
    if (k < m.len)
        while (k && ((unsigned char)m.p[k] & 0xC0) == 0x80)
            k--;
    if (k && !m.oom)
        memcpy(p->message, m.p, k);
    p->message[m.oom ? 0 : k] = '\0';
    sky__buf_free(&m);
}

/* proto3 JSON's int64: a number, or a string of one (what proto3 JSON writers send). */
static bool json_count(json_t *v, uint64_t *out)
{
    if (!v || json_is_null(v)) {
        *out = 0;
        return true;
    }
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        *out = (uint64_t)i;
        return i >= 0;
    }
    if (!json_is_string(v))
        return false;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    uint64_t x = 0;
    if (!n || n > 19)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        x = x * 10 + (uint64_t)(s[i] - '0');
    }
    *out = x;
    return x <= (uint64_t)INT64_MAX;
}

static json_t *member(json_t *o, const char *camel, const char *snake)
{
    json_t *v = json_object_get(o, camel);
    return v ? v : json_object_get(o, snake); /* proto3 JSON parsers accept both names */
}

static int partial_json(const char *body, size_t len, bool traces, sky__hb_answer *p)
{
    json_error_t e;
    json_t *root = json_loadb(body, len, 0, &e);
    if (!root) {
        char m[200];
        snprintf(m, sizeof m, "not JSON: %.120s", e.text);
        return partial_bad(p, m);
    }
    int rc = 0;
    json_t *ps = json_is_object(root) ? member(root, "partialSuccess", "partial_success") : NULL;
    if (!json_is_object(root)) {
        rc = partial_bad(p, "not a JSON object");
    } else if (ps && !json_is_null(ps) && !json_is_object(ps)) {
        rc = partial_bad(p, "partialSuccess is not an object");
    } else if (ps && json_is_object(ps)) {
        json_t *n = traces ? member(ps, "rejectedSpans", "rejected_spans")
                           : member(ps, "rejectedLogRecords", "rejected_log_records");
        json_t *m = member(ps, "errorMessage", "error_message");
        if (!json_count(n, &p->rejected))
            rc = partial_bad(p, traces ? "rejectedSpans is not a count"
                                       : "rejectedLogRecords is not a count");
        else if (m && !json_is_null(m) && !json_is_string(m))
            rc = partial_bad(p, "errorMessage is not a string");
        else if (m && json_is_string(m))
            partial_message(p, json_string_value(m), json_string_length(m));
    }
    json_decref(root);
    return rc;
}

static int partial_pb(const char *body, size_t len, sky__hb_answer *p)
{
    sky_pb_reader r = sky__pb_reader(body, len);
    sky_pb_field f;
    int k;
    while ((k = sky__pb_next(&r, &f)) > 0) {
        if (f.num != 1) /* Export*ServiceResponse.partial_success */
            continue;
        if (f.wire != SKY_PB_LEN)
            return partial_bad(p, "partial_success is not a message");
        sky_pb_reader in = sky__pb_reader(f.data, f.len);
        sky_pb_field g;
        int j;
        while ((j = sky__pb_next(&in, &g)) > 0) {
            if (g.num == 1) { /* rejected_log_records / rejected_spans, int64 */
                if (g.wire != SKY_PB_VARINT || g.u > (uint64_t)INT64_MAX)
                    return partial_bad(p, "the rejected count is not a count");
                p->rejected = g.u; /* a repeated scalar: the last wins, as protobuf says */
            } else if (g.num == 2) {
                if (g.wire != SKY_PB_LEN)
                    return partial_bad(p, "error_message is not a string");
                partial_message(p, (const char *)g.data, g.len);
            }
        }
        if (j < 0)
            return partial_bad(p, "partial_success is not valid protobuf");
    }
    return k < 0 ? partial_bad(p, "not valid protobuf") : 0;
}

int sky__otlp_partial_parse(const char *body, size_t len, bool pb, bool traces,
                            sky__hb_answer *p)
{
    memset(p, 0, sizeof *p);
    if (len > PARTIAL_MAX_ANSWER) {
        char m[120];
        snprintf(m, sizeof m, "an answer of %zu bytes (at most %u read)", len,
                 PARTIAL_MAX_ANSWER);
        return partial_bad(p, m);
    }
    if (pb)
        return partial_pb(body, len, p);
    size_t i = 0;
    while (i < len && strchr(" \t\r\n", body[i]))
        i++;
    if (i == len) /* an empty answer: an empty ExportLogsServiceResponse, full success */
        return 0;
    return partial_json(body, len, traces, p);
}

/* The codec's view of a 2xx answer (http_batch.c reports and counts what it says). */
static int otlp_answer(void *self, const char *body, size_t len, sky__hb_answer *p)
{
    const otlp *o = self;
    return sky__otlp_partial_parse(body, len, o->pb, o->traces, p);
}

static void otlp_free(void *self)
{
    otlp *o = self;
    if (o) {
        free(o->prefix);
        sky__buf_free(&o->res);
        sky__buf_free(&o->scope);
    }
    free(o);
}

/* "k=v,k2=v2" (OTEL_RESOURCE_ATTRIBUTES): members without '=' or with an empty key are
 * skipped; at most MAX_RESOURCE_ATTRS; service.name and host.name are ours. */
static void resource_attrs(sky_buf *b, uint32_t pb_field, const char *list)
{
    size_t i = 0;
    int n = 0;
    char key[256], val[1024];
    size_t kl, vl;
    while (n < MAX_RESOURCE_ATTRS &&
           sky__kv_next(list, &i, key, sizeof key, &kl, val, sizeof val, &vl)) {
        if (!kl || !strcmp(key, "service.name") || !strcmp(key, "host.name"))
            continue;
        str_attr(b, pb_field, false, key, kl, val, vl);
        n++;
    }
}

/* What differs between the signals: the path, the variables' infix, the records. */
typedef struct signal_def {
    unsigned bit;
    const char *path; /* "/v1/logs" */
    const char *env;  /* "LOGS": OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, OTEL_LOGS_EXPORTER... */
    const char *name; /* "logs", as messages say it */
} signal_def;

static const signal_def signal_defs[2] = {{SKY_OTLP_LOGS, "/v1/logs", "LOGS", "logs"},
                                          {SKY_OTLP_TRACES, "/v1/traces", "TRACES", "traces"}};

enum { EXPORTER_UNSET, EXPORTER_NONE, EXPORTER_OTLP, EXPORTER_OTHER };

/* OTEL_<SIGNAL>_EXPORTER, the OpenTelemetry SDKs' exporter selection: a comma-separated list
 * of exporter names, case-insensitive. A list naming otlp keeps the signal, one naming none
 * (and not otlp) turns it off; names this sink is not (console, zipkin, anything else) are
 * the spec's "unrecognised": warned of and ignored, so the signal stays on. */
static int exporter_env(const signal_def *sig, char *name, size_t cap, const char **value)
{
    snprintf(name, cap, "OTEL_%s_EXPORTER", sig->env);
    const char *v = *value = getenv(name);
    if (!v || !v[strspn(v, " \t,")])
        return EXPORTER_UNSET;
    bool none = false;
    for (size_t i = 0; v[i];) {
        i += strspn(v + i, " \t,");
        size_t n = strcspn(v + i, ",");
        size_t k = n;
        while (k && (v[i + k - 1] == ' ' || v[i + k - 1] == '\t'))
            k--;
        if (k == 4 && !strncasecmp(v + i, "otlp", 4))
            return EXPORTER_OTLP;
        none |= k == 4 && !strncasecmp(v + i, "none", 4);
        i += n;
    }
    return none ? EXPORTER_NONE : EXPORTER_OTHER;
}

/* The signals to build: the option when set (it wins over the environment, as every option
 * of this sink does), else both less those OTEL_<SIGNAL>_EXPORTER turns off. What the
 * variables change, or would have, is said on the diagnostics (stderr: the sink has no
 * pipeline yet), never silently. */
static unsigned choose_signals(unsigned opt)
{
    unsigned signals = opt ? opt : SKY_OTLP_LOGS | SKY_OTLP_TRACES;
    for (int i = 0; i < 2; i++) {
        const signal_def *sig = &signal_defs[i];
        char var[32];
        const char *v;
        int e = exporter_env(sig, var, sizeof var, &v);
        if (e == EXPORTER_NONE && !opt) {
            signals &= ~sig->bit;
            sky__diag(NULL, SKY_LEVEL_INFO, "otlp sink: %s=%.64s: %s are not exported", var, v,
                      sig->name);
        } else if (e == EXPORTER_NONE && (opt & sig->bit)) {
            sky__diag(NULL, SKY_LEVEL_WARN,
                      "otlp sink: %s=%.64s ignored: the sink's signals option asks for %s", var,
                      v, sig->name);
        } else if (e == EXPORTER_OTHER && (signals & sig->bit)) {
            sky__diag(NULL, SKY_LEVEL_WARN,
                      "otlp sink: %s=%.64s names no exporter of this sink (otlp, none): "
                      "ignored, %s are exported",
                      var, v, sig->name);
        }
    }
    if (!signals)
        sky__diag(NULL, SKY_LEVEL_WARN, "otlp sink: no signal left to export: it sends nothing");
    return signals;
}

/* OTEL_EXPORTER_OTLP_<SIGNAL>_<what> when set and not empty, else OTEL_EXPORTER_OTLP_<what>
 * (the OpenTelemetry SDKs' order); *name says which was read. */
static const char *otel_env(const signal_def *sig, const char *what, char *name, size_t cap)
{
    snprintf(name, cap, "OTEL_EXPORTER_OTLP_%s_%s", sig->env, what);
    const char *v = getenv(name);
    if (v && v[0])
        return v;
    snprintf(name, cap, "OTEL_EXPORTER_OTLP_%s", what);
    v = getenv(name);
    return v && v[0] ? v : NULL;
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && !memcmp(s + n - k, suffix, k);
}

/* The signal's URL into a malloc'd string: the option as a base URL (less a signal path it
 * already ends with, so an endpoint written for logs also serves traces), else the
 * signal-specific variable as is, else the generic one as a base, else localhost:4318. */
static char *signal_url(const char *endpoint, const signal_def *sig)
{
    sky_buf b = {0};
    char var[64];
    const char *env;
    snprintf(var, sizeof var, "OTEL_EXPORTER_OTLP_%s_ENDPOINT", sig->env);
    if (!endpoint && (env = getenv(var)) && env[0]) {
        sky__buf_puts(&b, env); /* a signal-specific endpoint is used as is (OTel spec) */
    } else {
        if (!endpoint) {
            env = getenv("OTEL_EXPORTER_OTLP_ENDPOINT");
            endpoint = env && env[0] ? env : "http://localhost:4318";
        }
        size_t n = strlen(endpoint);
        while (n && endpoint[n - 1] == '/')
            n--;
        for (size_t i = 0; i < 2; i++)
            if (ends_with(endpoint, n, signal_defs[i].path)) {
                n -= strlen(signal_defs[i].path);
                break;
            }
        sky__buf_put(&b, endpoint, n);
        sky__buf_puts(&b, sig->path);
    }
    char *s = sky__buf_strdup(&b);
    sky__buf_free(&b);
    return s;
}

/* The protocol: the option, else the OpenTelemetry SDKs' variables (the signal-specific one
 * first), else http/json. SKY_EINVAL with a message for anything else (grpc included: this
 * is an HTTP exporter). */
static sky_status protocol(const sky_otlp_opts *opts, const signal_def *sig, bool *pb,
                           char **errmsg)
{
    if (opts->protocol == SKY_OTLP_HTTP_JSON || opts->protocol == SKY_OTLP_HTTP_PROTOBUF) {
        *pb = opts->protocol == SKY_OTLP_HTTP_PROTOBUF;
        return SKY_OK;
    }
    char m[256];
    if (opts->protocol != SKY_OTLP_PROTOCOL_DEFAULT) {
        snprintf(m, sizeof m, "otlp: unknown protocol %d", (int)opts->protocol);
    } else {
        char var[64];
        const char *env = otel_env(sig, "PROTOCOL", var, sizeof var);
        if (!env || !strcmp(env, "http/json")) {
            *pb = false;
            return SKY_OK;
        }
        if (!strcmp(env, "http/protobuf")) {
            *pb = true;
            return SKY_OK;
        }
        snprintf(m, sizeof m, "otlp: %s=%.64s is not supported (http/protobuf or http/json)",
                 var, env);
    }
    if (errmsg)
        *errmsg = strdup(m);
    return SKY_EINVAL;
}

/* One signal's batch sender. */
static sky_status signal_sink(const sky_otlp_opts *opts, const signal_def *sig, sky_sink **out,
                              char **errmsg)
{
    bool pb;
    sky_status st = protocol(opts, sig, &pb, errmsg);
    if (st != SKY_OK)
        return st;
    otlp *o = calloc(1, sizeof *o);
    char *url = signal_url(opts->endpoint, sig);
    const char *svc = opts->service_name;
    if (!svc || !svc[0])
        svc = getenv("OTEL_SERVICE_NAME");
    if (!svc || !svc[0])
        svc = "unknown_service";
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0)
        host[0] = '\0';
    host[sizeof host - 1] = '\0';
    const char *extra = opts->resource_attributes ? opts->resource_attributes
                                                  : getenv("OTEL_RESOURCE_ATTRIBUTES");
    bool oom = !o;
    if (o)
        o->traces = sig->bit == SKY_OTLP_TRACES;
    if (o && pb) {
        o->pb = true;
        size_t r = sky__pb_open(&o->res, PB_RL_RESOURCE);
        str_attr(&o->res, PB_RESOURCE_ATTRIBUTES, true, "service.name", 12, svc, strlen(svc));
        if (host[0])
            str_attr(&o->res, PB_RESOURCE_ATTRIBUTES, false, "host.name", 9, host,
                     strlen(host));
        resource_attrs(&o->res, PB_RESOURCE_ATTRIBUTES, extra);
        sky__pb_close(&o->res, r);
        size_t s = sky__pb_open(&o->scope, PB_SL_SCOPE);
        sky__pb_string(&o->scope, PB_SCOPE_NAME, "skylog", 6);
        sky__pb_string(&o->scope, PB_SCOPE_VERSION, SKYLOG_VERSION, strlen(SKYLOG_VERSION));
        sky__pb_close(&o->scope, s);
        oom = o->res.oom || o->scope.oom;
    } else if (o) {
        sky_buf attrs = {0}, b = {0};
        str_attr(&attrs, 0, true, "service.name", 12, svc, strlen(svc));
        if (host[0])
            str_attr(&attrs, 0, false, "host.name", 9, host, strlen(host));
        resource_attrs(&attrs, 0, extra);
        prefix(&b, attrs.p ? attrs.p : "", attrs.len, o->traces);
        if (!attrs.oom)
            o->prefix = sky__buf_strdup(&b);
        oom = !o->prefix;
        sky__buf_free(&attrs);
        sky__buf_free(&b);
    }
    if (oom || !url) {
        otlp_free(o);
        free(url);
        if (errmsg)
            *errmsg = strdup("otlp: out of memory");
        return SKY_ENOMEM;
    }
    sky_http_batch_opts bo = opts->batch;
    char var[64];
    if (!bo.headers) /* the OpenTelemetry SDKs' variables, the signal-specific one first */
        bo.headers = otel_env(sig, "HEADERS", var, sizeof var);
    if (!bo.batch_size)
        bo.batch_size = 512; /* the OpenTelemetry SDKs' default export batch */
    sky__hb_codec c = {.type = o->traces ? "otlp traces" : "otlp", /* names it in messages */
                       .content_type = pb ? "application/x-protobuf" : "application/json",
                       .format = SKY_FORMAT_NONE,
                       .accept = o->traces ? otlp_accept : NULL,
                       .encode = o->traces ? span_encode : otlp_encode,
                       .begin = otlp_begin,
                       .answer = otlp_answer,
                       .sep = pb ? "" : ",",
                       .suffix = pb ? "" : SKY__OTLP_SUFFIX,
                       .free = otlp_free,
                       .self = o};
    st = sky__http_batch_new(url, &bo, &c, out, errmsg);
    free(url);
    return st;
}

/* ---- the sink: a fan-out over the signals' senders ------------------------------------------ */

typedef struct fanout {
    sky_sink *sig[2]; /* logs, traces; NULL when not exported */
} fanout;

static sky_status fan_write(void *self, const sky_record *recs, size_t n)
{
    fanout *f = self;
    sky_status st = SKY_OK;
    for (int i = 0; i < 2; i++) /* each sender counts its own refusals */
        if (f->sig[i]) {
            sky_status s = f->sig[i]->vt->write(f->sig[i]->self, recs, n);
            if (st == SKY_OK)
                st = s;
        }
    return st;
}

static sky_status fan_flush(void *self, int64_t deadline)
{
    fanout *f = self;
    sky_status st = SKY_OK;
    for (int i = 0; i < 2; i++)
        if (f->sig[i]) {
            sky_status s = f->sig[i]->vt->flush(f->sig[i]->self, deadline);
            if (st == SKY_OK)
                st = s;
        }
    return st;
}

static void fan_close(void *self)
{
    fanout *f = self;
    for (int i = 0; i < 2; i++) /* both give up together: one close_timeout_ms, not two */
        sky__http_batch_close_begin(f->sig[i]);
    for (int i = 0; i < 2; i++)
        sky_sink_close(f->sig[i]);
    free(f);
}

static void fan_stats(void *self, sky_sink_stats *out)
{
    fanout *f = self;
    for (int i = 0; i < 2; i++)
        if (f->sig[i])
            f->sig[i]->vt->stats(f->sig[i]->self, out); /* adds bytes and drops */
}

static const sky_sink_vtable fan_vt = {
    .type = "otlp", .write = fan_write, .flush = fan_flush, .close = fan_close,
    .stats = fan_stats,
};

bool sky__otlp_sink_is(const sky_sink *s) { return s && s->vt == &fan_vt; }

sky_sink *sky__otlp_signal_sink(sky_sink *s, unsigned signal)
{
    if (!s || s->vt != &fan_vt)
        return NULL;
    fanout *f = s->self;
    if (!signal)
        return f->sig[0] ? f->sig[0] : f->sig[1];
    return signal == SKY_OTLP_LOGS ? f->sig[0] : signal == SKY_OTLP_TRACES ? f->sig[1] : NULL;
}

sky_status sky_otlp_sink_stats_get(sky_sink *sink, unsigned signal, sky_http_sink_stats *out)
{
    if (!sink || !out || sink->vt != &fan_vt ||
        (signal != SKY_OTLP_LOGS && signal != SKY_OTLP_TRACES))
        return SKY_EINVAL;
    sky_sink *s = sky__otlp_signal_sink(sink, signal);
    return s ? sky_http_sink_stats_get(s, out) : SKY_ENOTFOUND;
}

static sky_status sink_otlp_body(const sky_otlp_opts *opts, sky_sink **out, char **errmsg)
{
    static const sky_otlp_opts none;
    if (!opts)
        opts = &none;
    if (errmsg)
        *errmsg = NULL;
    if (out)
        *out = NULL;
    if (SKY__CHECK_RESERVED(opts, sky_otlp_opts, NULL, errmsg) != SKY_OK)
        return SKY_EINVAL;
    if (opts->signals & ~(SKY_OTLP_LOGS | SKY_OTLP_TRACES)) {
        if (errmsg)
            *errmsg = strdup("otlp: unknown signals (SKY_OTLP_LOGS, SKY_OTLP_TRACES)");
        return SKY_EINVAL;
    }
    unsigned signals = choose_signals((unsigned)opts->signals); /* checked above: 2 bits */
    fanout *f = calloc(1, sizeof *f);
    if (!f) {
        if (errmsg)
            *errmsg = strdup("otlp: out of memory");
        return SKY_ENOMEM;
    }
    for (int i = 0; i < 2; i++) {
        if (!(signals & signal_defs[i].bit))
            continue;
        sky_status st = signal_sink(opts, &signal_defs[i], &f->sig[i], errmsg);
        if (st != SKY_OK) {
            fan_close(f);
            return st;
        }
    }
    *out = sky_sink_new(&fan_vt, f, SKY_FORMAT_NONE); /* closes f when it fails */
    if (!*out) {
        if (errmsg)
            *errmsg = strdup("otlp: out of memory");
        return SKY_ENOMEM;
    }
    return SKY_OK;
}

sky_status sky_sink_otlp(const sky_otlp_opts *opts, sky_sink **out, char **errmsg)
{
    char *mine = NULL;
    sky_status st = sink_otlp_body(opts, out, errmsg ? errmsg : &mine);
    return sky__errmsg_route(NULL, st, mine);
}

/*
 * otlp.c - OTLP/HTTP logs and traces requests as log events (see otlp.h), from either
 * encoding. Traces walk the same tree: ExportTraceServiceRequest, ResourceSpans and ScopeSpans
 * number their fields as the logs messages do, so only the record (a Span) differs.
 *
 * Two front ends, one back end: the JSON walk (over jansson's tree) and the protobuf walk
 * (over the bytes, field numbers from opentelemetry-proto's logs_service.proto, logs.proto,
 * common.proto and resource.proto) each fill a `rec` per LogRecord, with AnyValues already
 * converted to plain JSON values; finish() makes the event the same way for both.
 *
 * The protobuf walk is bounded without trusting the sender: every length is checked against
 * the enclosing message before it is used (util/pb.h), every JSON value it makes is counted
 * against SKY__JSON_MAX_ELEMENTS (the JSON path's own limit) before it is made, AnyValue
 * nesting stops at SKY__OTLP_MAX_DEPTH (the only recursion), and of the fields of a oneof or a
 * singular message only the last one is decoded (protobuf's "last one wins"), so a repeated
 * field costs a scan, not an allocation. Unknown fields are skipped; a known field with the
 * wrong wire type, a string that is not UTF-8 or bytes that run past their message make the
 * request malformed, and nothing of it is stored.
 */
#include "otlp.h"

#include "jsonbody.h"
#include "util/pb.h"
#include "util/text.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct ctx {
    sky__otlp_out *out;
    size_t budget; /* values still allowed */
    size_t records;
    sky__otlp_rc rc; /* the first failure */
} ctx;

static json_t *fail(ctx *c, sky__otlp_rc rc, const char *why)
{
    if (!c->rc) {
        c->rc = rc;
        c->out->why = why;
    }
    return NULL;
}

/* Takes one value from the budget: true when it may be made. */
static bool spend(ctx *c)
{
    if (c->rc)
        return false;
    if (!c->budget) {
        fail(c, SKY__OTLP_MALFORMED, "more values than one request may hold");
        return false;
    }
    c->budget--;
    return true;
}

static json_t *made(ctx *c, json_t *v)
{
    return v ? v : fail(c, SKY__OTLP_OOM, "out of memory");
}

/* A double as JSON: the number, or proto3 JSON's spelling of NaN and the infinities. */
static json_t *double_value(double d)
{
    if (isnan(d))
        return json_string("NaN");
    if (isinf(d))
        return json_string(d > 0 ? "Infinity" : "-Infinity");
    return json_real(d);
}

typedef struct rec {
    int64_t ts_ms, observed_ms;
    json_t *body; /* NULL: none */
    json_t *severity_text;
    int64_t severity_number;
    char trace_id[33], span_id[17]; /* lower-case hex; "" for none or invalid */
    json_t *attrs;                  /* object; NULL: none */
} rec;

static void rec_free(rec *r)
{
    json_decref(r->body);
    json_decref(r->severity_text);
    json_decref(r->attrs);
}

/* Counts one more stored record: false (and the request fails) past max_records. */
static bool count_record(ctx *c, const char *why)
{
    if (c->rc)
        return false;
    if (c->records >= c->out->max_records) {
        fail(c, SKY__OTLP_TOO_MANY, why);
        return false;
    }
    c->records++;
    return true;
}

/* Hands one event's text (malloc'd, or NULL when making it failed) to the store. */
static void add(ctx *c, int64_t ts, char *msg, size_t len)
{
    if (!msg || !c->out->add(c->out->ctx, ts, msg, len))
        fail(c, SKY__OTLP_OOM, "out of memory");
}

/* A structured event: object o (may be NULL: out of memory) with the resource and scope, as
 * its JSON text. Takes o. */
static void add_object(ctx *c, int64_t ts, json_t *o, json_t *resource, json_t *scope)
{
    if (o && json_object_size(resource))
        json_object_set(o, "resource", resource);
    if (o && json_object_size(scope))
        json_object_set(o, "scope", scope);
    char *msg = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    add(c, ts, msg, msg ? strlen(msg) : 0);
}

/* The event of one record (see otlp.h). */
static void finish(ctx *c, rec *r, json_t *resource, json_t *scope)
{
    bool structured = r->attrs || r->trace_id[0] || r->span_id[0];
    if (!c->rc && !r->body && !structured) {
        c->out->empty++; /* CloudWatch refuses an empty message: not stored, but said */
        return;
    }
    if (c->rc || !count_record(c, "too many log records"))
        return;
    int64_t ts = r->ts_ms ? r->ts_ms : r->observed_ms ? r->observed_ms : c->out->now_ms;
    if (!structured && json_is_string(r->body)) {
        size_t len = json_string_length(r->body);
        char *msg = malloc(len + 1);
        if (msg) {
            memcpy(msg, json_string_value(r->body), len);
            msg[len] = '\0';
        }
        add(c, ts, msg, len);
        return;
    }
    if (!structured) {
        char *msg = json_dumps(r->body, JSON_COMPACT | JSON_ENCODE_ANY);
        add(c, ts, msg, msg ? strlen(msg) : 0);
        return;
    }
    json_t *o = json_object();
    if (o && r->body)
        json_object_set(o, "body", r->body);
    if (o && r->severity_text)
        json_object_set(o, "severityText", r->severity_text);
    if (o && r->severity_number)
        json_object_set_new(o, "severityNumber", json_integer(r->severity_number));
    if (o && r->trace_id[0])
        json_object_set_new(o, "traceId", json_string(r->trace_id));
    if (o && r->span_id[0])
        json_object_set_new(o, "spanId", json_string(r->span_id));
    if (o && r->attrs)
        json_object_set(o, "attributes", r->attrs);
    add_object(c, ts, o, resource, scope);
}

typedef struct span {
    json_t *name, *status_msg, *attrs, *trace_state; /* NULL: none */
    char trace_id[33], span_id[17], parent[17];
    int64_t kind, status_code;
    uint64_t start_ns, end_ns;
    uint32_t flags;
} span;

static void span_free(span *s)
{
    json_decref(s->name);
    json_decref(s->status_msg);
    json_decref(s->attrs);
    json_decref(s->trace_state);
}

/* The event of one span (see otlp.h): always a JSON object, timestamped at its start. */
static void finish_span(ctx *c, span *s, json_t *resource, json_t *scope)
{
    if (!count_record(c, "too many spans"))
        return;
    char num[24];
    json_t *o = json_object();
    if (o && s->name)
        json_object_set(o, "name", s->name);
    if (o && s->trace_id[0])
        json_object_set_new(o, "traceId", json_string(s->trace_id));
    if (o && s->span_id[0])
        json_object_set_new(o, "spanId", json_string(s->span_id));
    if (o && s->trace_state)
        json_object_set(o, "traceState", s->trace_state);
    if (o && s->flags)
        json_object_set_new(o, "flags", json_integer(s->flags));
    if (o && s->parent[0])
        json_object_set_new(o, "parentSpanId", json_string(s->parent));
    if (o)
        json_object_set_new(o, "kind", json_integer(s->kind));
    if (o) { /* fixed64: strings, as OTLP/JSON writes them */
        snprintf(num, sizeof num, "%llu", (unsigned long long)s->start_ns);
        json_object_set_new(o, "startTimeUnixNano", json_string(num));
        snprintf(num, sizeof num, "%llu", (unsigned long long)s->end_ns);
        json_object_set_new(o, "endTimeUnixNano", json_string(num));
        if (s->end_ns >= s->start_ns)
            json_object_set_new(o, "durationMs", json_real((double)(s->end_ns - s->start_ns) / 1e6));
    }
    if (o && (s->status_code || s->status_msg)) {
        json_t *st = json_object();
        if (st) {
            json_object_set_new(st, "code", json_integer(s->status_code));
            if (s->status_msg)
                json_object_set(st, "message", s->status_msg);
            json_object_set_new(o, "status", st);
        }
    }
    if (o && s->attrs)
        json_object_set(o, "attributes", s->attrs);
    int64_t ts = s->start_ns ? (int64_t)(s->start_ns / 1000000u)
                 : s->end_ns  ? (int64_t)(s->end_ns / 1000000u)
                              : c->out->now_ms;
    add_object(c, ts, o, resource, scope);
}

/* A span's traceState, n bytes: within SKY__OTLP_MAX_TRACE_STATE (checked before it is made),
 * kept when not empty. */
static void set_trace_state(ctx *c, span *s, const char *p, size_t n)
{
    json_decref(s->trace_state);
    s->trace_state = NULL;
    if (n > SKY__OTLP_MAX_TRACE_STATE) {
        fail(c, SKY__OTLP_MALFORMED, "a span's traceState is longer than W3C allows");
        return;
    }
    if (n && spend(c))
        s->trace_state = made(c, json_stringn_nocheck(p, n));
}

static void hex_of(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    bool nonzero = false;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
        nonzero |= p[i] != 0;
    }
    out[nonzero ? 2 * n : 0] = '\0'; /* all zeros is no id (OTLP) */
}

/* ---- JSON ----------------------------------------------------------------------------------- */

static json_t *any_json(ctx *c, json_t *v, int depth);

/* [{"key", "value"}...] as an object; NULL for none (or on failure: c->rc). */
static json_t *kvs_json(ctx *c, json_t *arr, int depth)
{
    if (!json_array_size(arr))
        return NULL;
    if (!spend(c))
        return NULL;
    json_t *o = made(c, json_object());
    size_t i;
    json_t *kv;
    json_array_foreach(arr, i, kv)
    {
        if (!o)
            break;
        json_t *k = json_object_get(kv, "key"), *v = json_object_get(kv, "value");
        json_t *val = v ? any_json(c, v, depth) : spend(c) ? json_null() : NULL;
        if (!val) {
            json_decref(o);
            return NULL;
        }
        const char *key = json_is_string(k) ? json_string_value(k) : "";
        size_t kl = json_is_string(k) ? json_string_length(k) : 0;
        if (json_object_setn_new_nocheck(o, key, kl, val)) {
            json_decref(o);
            return fail(c, SKY__OTLP_OOM, "out of memory");
        }
    }
    return o;
}

/* An AnyValue as a plain value. Not an object: the value as it is (lenient, as before). */
static json_t *any_json(ctx *c, json_t *v, int depth)
{
    if (depth >= SKY__OTLP_MAX_DEPTH)
        return fail(c, SKY__OTLP_MALFORMED, "AnyValue nested too deep");
    if (!spend(c))
        return NULL;
    if (!json_is_object(v))
        return json_incref(v);
    json_t *x;
    if ((x = json_object_get(v, "stringValue")) || (x = json_object_get(v, "boolValue")) ||
        (x = json_object_get(v, "bytesValue")))
        return json_incref(x);
    if ((x = json_object_get(v, "intValue"))) { /* int64: a string in proto3 JSON */
        if (json_is_string(x)) {
            const char *s = json_string_value(x);
            char *end;
            errno = 0;
            long long n = strtoll(s, &end, 10);
            if (!errno && end != s && !*end)
                return made(c, json_integer(n));
        }
        return json_incref(x);
    }
    if ((x = json_object_get(v, "doubleValue")))
        return json_incref(x);
    if ((x = json_object_get(v, "arrayValue"))) {
        json_t *a = made(c, json_array()), *e;
        size_t i;
        json_array_foreach(json_object_get(x, "values"), i, e)
        {
            json_t *ev = a ? any_json(c, e, depth + 1) : NULL;
            if (!ev || json_array_append_new(a, ev)) {
                json_decref(a);
                return c->rc ? NULL : fail(c, SKY__OTLP_OOM, "out of memory");
            }
        }
        return a;
    }
    if ((x = json_object_get(v, "kvlistValue"))) {
        json_t *o = kvs_json(c, json_object_get(x, "values"), depth + 1);
        return o ? o : c->rc ? NULL : made(c, json_object());
    }
    return json_null();
}

static int64_t nanos_to_ms(json_t *v)
{
    if (json_is_string(v))
        return (int64_t)(strtoull(json_string_value(v), NULL, 10) / 1000000ULL);
    if (json_is_integer(v))
        return json_integer_value(v) / 1000000;
    if (json_is_real(v) && fabs(json_real_value(v)) < 9e24) /* the cast must stay in range */
        return (int64_t)(json_real_value(v) / 1e6);
    return 0;
}

/* traceId/spanId: n hex digits of either case, else none. */
static void id_json(json_t *v, size_t n, char *out)
{
    out[0] = '\0';
    if (!json_is_string(v) || json_string_length(v) != n)
        return;
    const char *s = json_string_value(v);
    bool nonzero = false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch >= 'A' && ch <= 'F')
            ch = (char)(ch - 'A' + 'a');
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) {
            out[0] = '\0';
            return;
        }
        out[i] = ch;
        nonzero |= ch != '0';
    }
    out[nonzero ? n : 0] = '\0';
}

static json_t *scope_json(ctx *c, json_t *s)
{
    json_t *o = made(c, json_object());
    json_t *name = json_object_get(s, "name"), *version = json_object_get(s, "version");
    if (o && json_is_string(name) && json_string_length(name))
        json_object_set(o, "name", name);
    if (o && json_is_string(version) && json_string_length(version))
        json_object_set(o, "version", version);
    return o;
}

/* One record of a signal, from its JSON object, with its resource and scope. */
typedef void (*record_json_fn)(ctx *c, json_t *rec, json_t *resource, json_t *scope);

/* What the walk of a request names differently per signal. */
typedef struct signal_json {
    const char *resources, *scopes, *records; /* "resourceLogs", "scopeLogs", "logRecords" */
    record_json_fn record;
} signal_json;

/* An Export*ServiceRequest in OTLP/JSON: the resources, their scopes, their records. */
static sky__otlp_rc walk_json(json_t *root, sky__otlp_out *out, const signal_json *sig)
{
    ctx c = {.out = out, .budget = SKY__JSON_MAX_ELEMENTS};
    size_t i, j, k;
    json_t *rs, *ss, *r;
    json_array_foreach(json_object_get(root, sig->resources), i, rs)
    {
        json_t *res = kvs_json(&c, json_object_get(json_object_get(rs, "resource"), "attributes"),
                               0);
        json_array_foreach(json_object_get(rs, sig->scopes), j, ss)
        {
            json_t *scope = c.rc ? NULL : scope_json(&c, json_object_get(ss, "scope"));
            json_array_foreach(json_object_get(ss, sig->records), k, r)
            {
                if (c.rc)
                    break;
                sig->record(&c, r, res, scope);
            }
            json_decref(scope);
        }
        json_decref(res);
        if (c.rc)
            break;
    }
    return c.rc;
}

static void record_json(ctx *c, json_t *lr, json_t *res, json_t *scope)
{
    rec r = {.ts_ms = nanos_to_ms(json_object_get(lr, "timeUnixNano")),
             .observed_ms = nanos_to_ms(json_object_get(lr, "observedTimeUnixNano"))};
    json_t *body = json_object_get(lr, "body"), *st = json_object_get(lr, "severityText");
    json_t *sn = json_object_get(lr, "severityNumber");
    if (body)
        r.body = any_json(c, body, 0);
    if (json_is_string(st) && json_string_length(st))
        r.severity_text = json_incref(st);
    if (json_is_integer(sn))
        r.severity_number = json_integer_value(sn);
    id_json(json_object_get(lr, "traceId"), 32, r.trace_id);
    id_json(json_object_get(lr, "spanId"), 16, r.span_id);
    if (!c->rc)
        r.attrs = kvs_json(c, json_object_get(lr, "attributes"), 0);
    finish(c, &r, res, scope);
    rec_free(&r);
}

sky__otlp_rc sky__otlp_logs_json(json_t *root, sky__otlp_out *out)
{
    static const signal_json logs = {"resourceLogs", "scopeLogs", "logRecords", record_json};
    return walk_json(root, out, &logs);
}

/* A fixed64 time in OTLP/JSON: a decimal string (or a number, leniently); 0 for anything else. */
static uint64_t nanos_json(json_t *v)
{
    if (json_is_string(v)) {
        const char *p = json_string_value(v);
        char *end;
        errno = 0;
        unsigned long long n = strtoull(p, &end, 10);
        return !errno && end != p && !*end && *p != '-' ? (uint64_t)n : 0;
    }
    if (json_is_integer(v) && json_integer_value(v) > 0)
        return (uint64_t)json_integer_value(v);
    if (json_is_real(v) && json_real_value(v) > 0 && json_real_value(v) < 1.8e19)
        return (uint64_t)json_real_value(v);
    return 0;
}

/* An enum in OTLP/JSON: its number (names are not written by OTLP/JSON senders). */
static int64_t enum_json(json_t *v)
{
    return json_is_integer(v) && json_integer_value(v) >= INT32_MIN &&
                   json_integer_value(v) <= INT32_MAX
               ? json_integer_value(v)
               : 0;
}

/* A fixed32 in OTLP/JSON: a number (flags); 0 for anything else. */
static uint32_t u32_json(json_t *v)
{
    return json_is_integer(v) && json_integer_value(v) >= 0 &&
                   json_integer_value(v) <= (json_int_t)UINT32_MAX
               ? (uint32_t)json_integer_value(v)
               : 0;
}

static void span_json(ctx *c, json_t *sp, json_t *res, json_t *scope)
{
    span s = {.start_ns = nanos_json(json_object_get(sp, "startTimeUnixNano")),
              .end_ns = nanos_json(json_object_get(sp, "endTimeUnixNano")),
              .kind = enum_json(json_object_get(sp, "kind")),
              .flags = u32_json(json_object_get(sp, "flags"))};
    json_t *name = json_object_get(sp, "name"), *st = json_object_get(sp, "status");
    json_t *ts = json_object_get(sp, "traceState");
    if (json_is_string(name) && spend(c))
        s.name = json_incref(name);
    if (json_is_string(ts))
        set_trace_state(c, &s, json_string_value(ts), json_string_length(ts));
    id_json(json_object_get(sp, "traceId"), 32, s.trace_id);
    id_json(json_object_get(sp, "spanId"), 16, s.span_id);
    id_json(json_object_get(sp, "parentSpanId"), 16, s.parent);
    s.status_code = enum_json(json_object_get(st, "code"));
    json_t *msg = json_object_get(st, "message");
    if (json_is_string(msg) && json_string_length(msg) && spend(c))
        s.status_msg = json_incref(msg);
    if (!c->rc)
        s.attrs = kvs_json(c, json_object_get(sp, "attributes"), 0);
    finish_span(c, &s, res, scope);
    span_free(&s);
}

sky__otlp_rc sky__otlp_traces_json(json_t *root, sky__otlp_out *out)
{
    static const signal_json traces = {"resourceSpans", "scopeSpans", "spans", span_json};
    return walk_json(root, out, &traces);
}

/* ---- protobuf ------------------------------------------------------------------------------- */

/* Field numbers: opentelemetry-proto collector/logs/v1/logs_service.proto, logs/v1/logs.proto,
 * common/v1/common.proto, resource/v1/resource.proto. */
enum {
    REQ_RESOURCE_LOGS = 1,
    RL_RESOURCE = 1,
    RL_SCOPE_LOGS = 2,
    RES_ATTRIBUTES = 1,
    SL_SCOPE = 1,
    SL_LOG_RECORDS = 2,
    SCOPE_NAME = 1,
    SCOPE_VERSION = 2,
    LR_TIME = 1,
    LR_SEVERITY_NUMBER = 2,
    LR_SEVERITY_TEXT = 3,
    LR_BODY = 5,
    LR_ATTRIBUTES = 6,
    LR_TRACE_ID = 9,
    LR_SPAN_ID = 10,
    LR_OBSERVED_TIME = 11,
    KV_KEY = 1,
    KV_VALUE = 2,
    ANY_STRING = 1,
    ANY_BOOL = 2,
    ANY_INT = 3,
    ANY_DOUBLE = 4,
    ANY_ARRAY = 5,
    ANY_KVLIST = 6,
    ANY_BYTES = 7,
    LIST_VALUES = 1, /* ArrayValue.values, KeyValueList.values */
    /* collector/trace/v1/trace_service.proto, trace/v1/trace.proto: the request, ResourceSpans
     * and ScopeSpans number their fields as the logs messages do. */
    SPAN_TRACE_ID = 1,
    SPAN_SPAN_ID = 2,
    SPAN_TRACE_STATE = 3,
    SPAN_PARENT_SPAN_ID = 4,
    SPAN_NAME = 5,
    SPAN_KIND = 6,
    SPAN_START = 7,
    SPAN_END = 8,
    SPAN_ATTRIBUTES = 9,
    SPAN_STATUS = 15,
    SPAN_FLAGS = 16, /* fixed32 */
    STATUS_MESSAGE = 2,
    STATUS_CODE = 3,
};

typedef struct slice {
    const uint8_t *p;
    size_t n;
} slice;

/* Checks a known field's wire type. */
static bool wire_is(ctx *c, const sky_pb_field *f, int wire)
{
    if (f->wire == wire)
        return true;
    fail(c, SKY__OTLP_MALFORMED, "a field has the wrong wire type");
    return false;
}

static bool utf8(ctx *c, const uint8_t *p, size_t n)
{
    if (sky__utf8_valid((const char *)p, n))
        return true;
    fail(c, SKY__OTLP_MALFORMED, "a string field is not valid UTF-8");
    return false;
}

static json_t *pb_any(ctx *c, const uint8_t *p, size_t n, int depth);

/* A KeyValue into object o. */
static void pb_kv(ctx *c, const uint8_t *p, size_t n, int depth, json_t *o)
{
    slice key = {(const uint8_t *)"", 0}, val = {NULL, 0};
    bool has_val = false;
    sky_pb_reader rd = sky__pb_reader(p, n);
    sky_pb_field f;
    int k = 0;
    while ((k = sky__pb_next(&rd, &f)) > 0) {
        if (f.num == KV_KEY && wire_is(c, &f, SKY_PB_LEN))
            key = (slice){f.data, f.len};
        else if (f.num == KV_VALUE && wire_is(c, &f, SKY_PB_LEN))
            val = (slice){f.data, f.len}, has_val = true;
        if (c->rc)
            return;
    }
    if (k < 0) {
        fail(c, SKY__OTLP_MALFORMED, "not a valid protobuf message");
        return;
    }
    if (!utf8(c, key.p, key.n))
        return;
    json_t *v = has_val ? pb_any(c, val.p, val.n, depth) : spend(c) ? json_null() : NULL;
    if (v && json_object_setn_new_nocheck(o, (const char *)key.p, key.n, v))
        fail(c, SKY__OTLP_OOM, "out of memory");
}

/* The repeated KeyValue fields numbered `field` of a message into o. */
static void pb_kvs(ctx *c, const uint8_t *p, size_t n, uint32_t field, int depth, json_t *o)
{
    sky_pb_reader rd = sky__pb_reader(p, n);
    sky_pb_field f;
    int k = 0;
    while (!c->rc && (k = sky__pb_next(&rd, &f)) > 0)
        if (f.num == field && wire_is(c, &f, SKY_PB_LEN))
            pb_kv(c, f.data, f.len, depth, o);
    if (!c->rc && k < 0)
        fail(c, SKY__OTLP_MALFORMED, "not a valid protobuf message");
}

static json_t *base64(const uint8_t *p, size_t n)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t out = (n + 2) / 3 * 4;
    char *s = malloc(out + 1), *d = s;
    if (!s)
        return NULL;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        *d++ = al[v >> 18 & 63];
        *d++ = al[v >> 12 & 63];
        *d++ = i + 1 < n ? al[v >> 6 & 63] : '=';
        *d++ = i + 2 < n ? al[v & 63] : '=';
    }
    json_t *j = json_stringn_nocheck(s, out);
    free(s);
    return j;
}

static json_t *pb_any(ctx *c, const uint8_t *p, size_t n, int depth)
{
    if (depth >= SKY__OTLP_MAX_DEPTH)
        return fail(c, SKY__OTLP_MALFORMED, "AnyValue nested too deep");
    sky_pb_reader rd = sky__pb_reader(p, n);
    sky_pb_field f, last = {0};
    int k = 0;
    while ((k = sky__pb_next(&rd, &f)) > 0) { /* a oneof: the last member wins */
        static const int wire[] = {0, SKY_PB_LEN, SKY_PB_VARINT, SKY_PB_VARINT, SKY_PB_I64,
                                   SKY_PB_LEN, SKY_PB_LEN, SKY_PB_LEN};
        if (f.num >= ANY_STRING && f.num <= ANY_BYTES) {
            if (!wire_is(c, &f, wire[f.num]))
                return NULL;
            last = f;
        }
    }
    if (k < 0)
        return fail(c, SKY__OTLP_MALFORMED, "not a valid protobuf message");
    if (!spend(c))
        return NULL;
    switch (last.num) {
    case ANY_STRING:
        if (!utf8(c, last.data, last.len))
            return NULL;
        return made(c, json_stringn_nocheck((const char *)last.data, last.len));
    case ANY_BOOL: return json_boolean(last.u != 0);
    case ANY_INT: return made(c, json_integer((json_int_t)(int64_t)last.u));
    case ANY_DOUBLE: {
        double d;
        memcpy(&d, &last.u, 8);
        return made(c, double_value(d));
    }
    case ANY_BYTES: return made(c, base64(last.data, last.len));
    case ANY_ARRAY: {
        json_t *a = made(c, json_array());
        sky_pb_reader ar = sky__pb_reader(last.data, last.len);
        while (a && !c->rc && (k = sky__pb_next(&ar, &f)) > 0) {
            if (f.num != LIST_VALUES || !wire_is(c, &f, SKY_PB_LEN))
                continue;
            json_t *e = pb_any(c, f.data, f.len, depth + 1);
            if (e && json_array_append_new(a, e))
                fail(c, SKY__OTLP_OOM, "out of memory");
        }
        if (!c->rc && k < 0)
            fail(c, SKY__OTLP_MALFORMED, "not a valid protobuf message");
        if (c->rc) {
            json_decref(a);
            return NULL;
        }
        return a;
    }
    case ANY_KVLIST: {
        json_t *o = made(c, json_object());
        if (o)
            pb_kvs(c, last.data, last.len, LIST_VALUES, depth + 1, o);
        if (c->rc) {
            json_decref(o);
            return NULL;
        }
        return o;
    }
    default: return json_null(); /* empty */
    }
}

static void pb_record(ctx *c, const uint8_t *p, size_t n, json_t *resource, json_t *scope)
{
    rec r = {0};
    slice body = {NULL, 0};
    bool has_body = false;
    sky_pb_reader rd = sky__pb_reader(p, n);
    sky_pb_field f;
    int k = 0;
    while (!c->rc && (k = sky__pb_next(&rd, &f)) > 0) {
        switch (f.num) {
        case LR_TIME:
            if (wire_is(c, &f, SKY_PB_I64))
                r.ts_ms = (int64_t)(f.u / 1000000u);
            break;
        case LR_OBSERVED_TIME:
            if (wire_is(c, &f, SKY_PB_I64))
                r.observed_ms = (int64_t)(f.u / 1000000u);
            break;
        case LR_SEVERITY_NUMBER:
            if (wire_is(c, &f, SKY_PB_VARINT))
                r.severity_number = (int32_t)f.u; /* an enum: int32 on the wire */
            break;
        case LR_SEVERITY_TEXT:
            if (wire_is(c, &f, SKY_PB_LEN) && utf8(c, f.data, f.len)) {
                json_decref(r.severity_text);
                r.severity_text = NULL;
                if (f.len && spend(c))
                    r.severity_text = made(c, json_stringn_nocheck((const char *)f.data, f.len));
            }
            break;
        case LR_BODY:
            if (wire_is(c, &f, SKY_PB_LEN))
                body = (slice){f.data, f.len}, has_body = true;
            break;
        case LR_ATTRIBUTES:
            if (!wire_is(c, &f, SKY_PB_LEN))
                break;
            if (!r.attrs && spend(c))
                r.attrs = made(c, json_object());
            if (r.attrs)
                pb_kv(c, f.data, f.len, 0, r.attrs);
            break;
        case LR_TRACE_ID:
        case LR_SPAN_ID:
            if (!wire_is(c, &f, SKY_PB_LEN))
                break;
            { /* the last one wins; a wrong length is no id (OTLP) */
                char *id = f.num == LR_TRACE_ID ? r.trace_id : r.span_id;
                size_t want = f.num == LR_TRACE_ID ? 16 : 8;
                id[0] = '\0';
                if (f.len == want)
                    hex_of(f.data, want, id);
            }
            break;
        default: break; /* unknown, or not kept: skipped */
        }
    }
    if (!c->rc && k < 0)
        fail(c, SKY__OTLP_MALFORMED, "not a valid protobuf message");
    if (!c->rc && has_body)
        r.body = pb_any(c, body.p, body.n, 0);
    finish(c, &r, resource, scope);
    rec_free(&r);
}

/* A bytes id of `want` bytes into hex; the last one wins, a wrong length is no id (OTLP). */
static void pb_id(const sky_pb_field *f, size_t want, char *id)
{
    id[0] = '\0';
    if (f->len == want)
        hex_of(f->data, want, id);
}

static void pb_status(ctx *c, const uint8_t *p, size_t n, span *s)
{
    sky_pb_reader rd = sky__pb_reader(p, n);
    sky_pb_field f;
    int k = 0;
    while (!c->rc && (k = sky__pb_next(&rd, &f)) > 0) {
        if (f.num == STATUS_CODE && wire_is(c, &f, SKY_PB_VARINT)) {
            s->status_code = (int32_t)f.u;
        } else if (f.num == STATUS_MESSAGE && wire_is(c, &f, SKY_PB_LEN) &&
                   utf8(c, f.data, f.len)) {
            json_decref(s->status_msg);
            s->status_msg = NULL;
            if (f.len && spend(c))
                s->status_msg = made(c, json_stringn_nocheck((const char *)f.data, f.len));
        }
    }
    if (!c->rc && k < 0)
        fail(c, SKY__OTLP_MALFORMED, "not a valid protobuf message");
}

static void pb_span(ctx *c, const uint8_t *p, size_t n, json_t *resource, json_t *scope)
{
    span s = {0};
    sky_pb_reader rd = sky__pb_reader(p, n);
    sky_pb_field f;
    int k = 0;
    while (!c->rc && (k = sky__pb_next(&rd, &f)) > 0) {
        switch (f.num) {
        case SPAN_TRACE_ID:
            if (wire_is(c, &f, SKY_PB_LEN))
                pb_id(&f, 16, s.trace_id);
            break;
        case SPAN_SPAN_ID:
            if (wire_is(c, &f, SKY_PB_LEN))
                pb_id(&f, 8, s.span_id);
            break;
        case SPAN_PARENT_SPAN_ID:
            if (wire_is(c, &f, SKY_PB_LEN))
                pb_id(&f, 8, s.parent);
            break;
        case SPAN_NAME:
            if (wire_is(c, &f, SKY_PB_LEN) && utf8(c, f.data, f.len)) {
                json_decref(s.name);
                s.name = spend(c) ? made(c, json_stringn_nocheck((const char *)f.data, f.len))
                                  : NULL;
            }
            break;
        case SPAN_KIND:
            if (wire_is(c, &f, SKY_PB_VARINT))
                s.kind = (int32_t)f.u; /* an enum: int32 on the wire */
            break;
        case SPAN_START:
        case SPAN_END:
            if (wire_is(c, &f, SKY_PB_I64))
                *(f.num == SPAN_START ? &s.start_ns : &s.end_ns) = f.u;
            break;
        case SPAN_ATTRIBUTES:
            if (!wire_is(c, &f, SKY_PB_LEN))
                break;
            if (!s.attrs && spend(c))
                s.attrs = made(c, json_object());
            if (s.attrs)
                pb_kv(c, f.data, f.len, 0, s.attrs);
            break;
        case SPAN_STATUS: /* a singular message: fields of each occurrence merge, last wins */
            if (wire_is(c, &f, SKY_PB_LEN))
                pb_status(c, f.data, f.len, &s);
            break;
        case SPAN_TRACE_STATE:
            if (wire_is(c, &f, SKY_PB_LEN) && utf8(c, f.data, f.len))
                set_trace_state(c, &s, (const char *)f.data, f.len);
            break;
        case SPAN_FLAGS:
            if (wire_is(c, &f, SKY_PB_I32))
                s.flags = (uint32_t)f.u;
            break;
        default: break; /* events, links, dropped counts...: skipped */
        }
    }
    if (!c->rc && k < 0)
        fail(c, SKY__OTLP_MALFORMED, "not a valid protobuf message");
    finish_span(c, &s, resource, scope);
    span_free(&s);
}

static json_t *pb_scope(ctx *c, const uint8_t *p, size_t n, json_t *o)
{
    sky_pb_reader rd = sky__pb_reader(p, n);
    sky_pb_field f;
    int k = 0;
    while (!c->rc && (k = sky__pb_next(&rd, &f)) > 0) {
        if ((f.num == SCOPE_NAME || f.num == SCOPE_VERSION) && wire_is(c, &f, SKY_PB_LEN) &&
            utf8(c, f.data, f.len) && f.len && spend(c)) {
            json_t *s = made(c, json_stringn_nocheck((const char *)f.data, f.len));
            if (s)
                json_object_set_new(o, f.num == SCOPE_NAME ? "name" : "version", s);
        }
    }
    if (!c->rc && k < 0)
        fail(c, SKY__OTLP_MALFORMED, "not a valid protobuf message");
    return o;
}

/* Visits the fields numbered `field` (LEN) of a message; the first pass of a two-pass read. */
typedef void (*visit_fn)(ctx *c, const uint8_t *p, size_t n, void *arg);

static void visit(ctx *c, const uint8_t *p, size_t n, uint32_t field, visit_fn fn, void *arg)
{
    sky_pb_reader rd = sky__pb_reader(p, n);
    sky_pb_field f;
    int k = 0;
    while (!c->rc && (k = sky__pb_next(&rd, &f)) > 0)
        if (f.num == field && wire_is(c, &f, SKY_PB_LEN))
            fn(c, f.data, f.len, arg);
    if (!c->rc && k < 0)
        fail(c, SKY__OTLP_MALFORMED, "not a valid protobuf message");
}

typedef struct scope_ctx {
    json_t *resource, *scope;
    bool traces;
} scope_ctx;

static void v_resource(ctx *c, const uint8_t *p, size_t n, void *arg)
{
    pb_kvs(c, p, n, RES_ATTRIBUTES, 0, arg);
}

static void v_scope(ctx *c, const uint8_t *p, size_t n, void *arg) { pb_scope(c, p, n, arg); }

static void v_record(ctx *c, const uint8_t *p, size_t n, void *arg)
{
    scope_ctx *s = arg;
    if (s->traces)
        pb_span(c, p, n, s->resource, s->scope);
    else
        pb_record(c, p, n, s->resource, s->scope);
}

/* A ScopeLogs (or ScopeSpans): its scope first (it may come after the records on the wire),
 * then the records. */
static void v_scope_logs(ctx *c, const uint8_t *p, size_t n, void *arg)
{
    const scope_ctx *outer = arg;
    scope_ctx s = {.resource = outer->resource,
                   .scope = spend(c) ? made(c, json_object()) : NULL,
                   .traces = outer->traces};
    if (s.scope)
        visit(c, p, n, SL_SCOPE, v_scope, s.scope);
    if (!c->rc)
        visit(c, p, n, SL_LOG_RECORDS, v_record, &s);
    json_decref(s.scope);
}

/* A ResourceLogs (or ResourceSpans: arg says which). */
static void v_resource_logs(ctx *c, const uint8_t *p, size_t n, void *arg)
{
    scope_ctx s = {.resource = spend(c) ? made(c, json_object()) : NULL,
                   .traces = *(const bool *)arg};
    if (s.resource)
        visit(c, p, n, RL_RESOURCE, v_resource, s.resource);
    if (!c->rc)
        visit(c, p, n, RL_SCOPE_LOGS, v_scope_logs, &s);
    json_decref(s.resource);
}

static sky__otlp_rc walk_pb(const void *body, size_t n, sky__otlp_out *out, bool traces)
{
    ctx c = {.out = out, .budget = SKY__JSON_MAX_ELEMENTS};
    visit(&c, body, n, REQ_RESOURCE_LOGS, v_resource_logs, &traces);
    return c.rc;
}

sky__otlp_rc sky__otlp_logs_pb(const void *body, size_t n, sky__otlp_out *out)
{
    return walk_pb(body, n, out, false);
}

sky__otlp_rc sky__otlp_traces_pb(const void *body, size_t n, sky__otlp_out *out)
{
    return walk_pb(body, n, out, true);
}

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
 */
#include "core/reserved.h"
#include "encode/render.h"
#include "util/pb.h"
#include "util/text.h"
#include "sinks/http_batch.h"
#include "sinks/otlp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_RESOURCE_ATTRS 64

typedef struct otlp {
    bool pb;
    char *prefix; /* {"resourceLogs":[{"resource":{...},"scopeLogs":[{"scope":{...},"logRecords":[ */
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
};

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

static bool lower_hex(const sky_field *f, size_t n)
{
    if (!f || f->type != SKY_T_STR || f->v.str.len != n)
        return false;
    bool nonzero = false;
    for (size_t i = 0; i < n; i++) {
        char c = f->v.str.ptr[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
        nonzero |= c != '0';
    }
    return nonzero;
}

/* The bytes of a valid lower_hex() id, as protobuf's bytes field. */
static void pb_id(sky_buf *b, uint32_t field, const char *hex, size_t n)
{
    uint8_t raw[16];
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hex[2 * i] <= '9' ? hex[2 * i] - '0' : hex[2 * i] - 'a' + 10;
        int lo = hex[2 * i + 1] <= '9' ? hex[2 * i + 1] - '0' : hex[2 * i + 1] - 'a' + 10;
        raw[i] = (uint8_t)(hi << 4 | lo);
    }
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

/* The event's own fields, less the ids that became the record's. */
static bool is_attribute(const rec_view *v, const sky_field *f)
{
    return f && !(f == v->tid && v->has_tid) && !(f == v->sid && v->has_sid);
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

    const char *logger = sky_event_logger(ev);
    str_attr(b, PB_LR_ATTRIBUTES, true, "logger.name", 11, logger, strlen(logger));
    const sky_callsite *cs = sky_event_callsite(ev);
    if (cs && cs->file) {
        str_attr(b, PB_LR_ATTRIBUTES, false, "code.filepath", 13, cs->file, strlen(cs->file));
        if (cs->func)
            str_attr(b, PB_LR_ATTRIBUTES, false, "code.function", 13, cs->func,
                     strlen(cs->func));
        size_t kv = sky__pb_open(b, PB_LR_ATTRIBUTES);
        sky__pb_string(b, PB_KV_KEY, "code.lineno", 11);
        size_t av = sky__pb_open(b, PB_KV_VALUE);
        sky__pb_uint(b, PB_ANY_INT, (uint64_t)(int64_t)cs->line);
        sky__pb_close(b, av);
        sky__pb_close(b, kv);
    }
    size_t n = sky_event_field_count(ev);
    for (size_t i = 0; i < n; i++) {
        const sky_field *f = sky_event_field_at(ev, i);
        if (!is_attribute(v, f))
            continue;
        size_t kv = sky__pb_open(b, PB_LR_ATTRIBUTES);
        sky__pb_string(b, PB_KV_KEY, f->key, f->key_len);
        size_t av = sky__pb_open(b, PB_KV_VALUE);
        pb_any_value(b, f);
        sky__pb_close(b, av);
        sky__pb_close(b, kv);
    }
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
    const char *logger = sky_event_logger(ev);
    str_attr(b, 0, true, "logger.name", 11, logger, strlen(logger));
    const sky_callsite *cs = sky_event_callsite(ev);
    if (cs && cs->file) {
        str_attr(b, 0, false, "code.filepath", 13, cs->file, strlen(cs->file));
        if (cs->func)
            str_attr(b, 0, false, "code.function", 13, cs->func, strlen(cs->func));
        sky__buf_lit(b, ",{\"key\":\"code.lineno\",\"value\":{\"intValue\":\"");
        sky__buf_i64(b, cs->line);
        sky__buf_lit(b, "\"}}");
    }
    size_t n = sky_event_field_count(ev);
    for (size_t i = 0; i < n; i++) {
        const sky_field *f = sky_event_field_at(ev, i);
        if (!is_attribute(&v, f))
            continue;
        sky__buf_lit(b, ",{\"key\":");
        sky__json_str(b, f->key, f->key_len);
        sky__buf_lit(b, ",\"value\":");
        any_value(b, f);
        sky__buf_putc(b, '}');
    }
    sky__buf_lit(b, "]}");
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

void sky__otlp_prefix(sky_buf *b, const char *attrs, size_t n)
{
    sky__buf_lit(b, "{\"resourceLogs\":[{\"resource\":{\"attributes\":[");
    sky__buf_put(b, attrs, n);
    sky__buf_lit(b, "]},\"scopeLogs\":[{\"scope\":{\"name\":\"skylog\",\"version\":\"" SKYLOG_VERSION
                    "\"},\"logRecords\":[");
}

void sky__otlp_text_record(sky_buf *b, int64_t time_ns, const char *msg, size_t len)
{
    sky__buf_lit(b, "{\"timeUnixNano\":\"");
    sky__buf_i64(b, time_ns);
    sky__buf_lit(b, "\",\"body\":{\"stringValue\":");
    sky__json_str(b, msg, len);
    sky__buf_lit(b, "}}");
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

/* <endpoint>/v1/logs, or the environment's, into a malloc'd string. */
static char *logs_url(const char *endpoint)
{
    sky_buf b = {0};
    const char *env;
    if (!endpoint && (env = getenv("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT")) && env[0]) {
        sky__buf_puts(&b, env); /* a signal-specific endpoint is used as is */
    } else {
        if (!endpoint) {
            env = getenv("OTEL_EXPORTER_OTLP_ENDPOINT");
            endpoint = env && env[0] ? env : "http://localhost:4318";
        }
        size_t n = strlen(endpoint);
        while (n && endpoint[n - 1] == '/')
            n--;
        sky__buf_put(&b, endpoint, n);
        if (n < 8 || memcmp(endpoint + n - 8, "/v1/logs", 8))
            sky__buf_lit(&b, "/v1/logs");
    }
    char *s = sky__buf_strdup(&b);
    sky__buf_free(&b);
    return s;
}

/* The protocol: the option, else the OpenTelemetry SDKs' variables (the logs-specific one
 * first), else http/json. SKY_EINVAL with a message for anything else (grpc included: this
 * is an HTTP exporter). */
static sky_status protocol(const sky_otlp_opts *opts, bool *pb, char **errmsg)
{
    if (opts->protocol == SKY_OTLP_HTTP_JSON || opts->protocol == SKY_OTLP_HTTP_PROTOBUF) {
        *pb = opts->protocol == SKY_OTLP_HTTP_PROTOBUF;
        return SKY_OK;
    }
    char m[256];
    if (opts->protocol != SKY_OTLP_PROTOCOL_DEFAULT) {
        snprintf(m, sizeof m, "otlp: unknown protocol %d", (int)opts->protocol);
    } else {
        const char *var = "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", *env = getenv(var);
        if (!env || !env[0])
            env = getenv(var = "OTEL_EXPORTER_OTLP_PROTOCOL");
        if (!env || !env[0] || !strcmp(env, "http/json")) {
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

sky_status sky_sink_otlp(const sky_otlp_opts *opts, sky_sink **out, char **errmsg)
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
    bool pb;
    sky_status st = protocol(opts, &pb, errmsg);
    if (st != SKY_OK)
        return st;
    otlp *o = calloc(1, sizeof *o);
    char *url = logs_url(opts->endpoint);
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
        sky__otlp_prefix(&b, attrs.p ? attrs.p : "", attrs.len);
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
    if (!bo.headers) { /* the OpenTelemetry SDKs' variables, the logs-specific one first */
        const char *h = getenv("OTEL_EXPORTER_OTLP_LOGS_HEADERS");
        bo.headers = h && h[0] ? h : getenv("OTEL_EXPORTER_OTLP_HEADERS");
    }
    if (!bo.batch_size)
        bo.batch_size = 512; /* the OpenTelemetry SDKs' default export batch */
    sky__hb_codec c = {.type = "otlp",
                       .content_type = pb ? "application/x-protobuf" : "application/json",
                       .format = SKY_FORMAT_NONE,
                       .encode = otlp_encode,
                       .begin = otlp_begin,
                       .sep = pb ? "" : ",",
                       .suffix = pb ? "" : SKY__OTLP_SUFFIX,
                       .free = otlp_free,
                       .self = o};
    st = sky__http_batch_new(url, &bo, &c, out, errmsg);
    free(url);
    return st;
}

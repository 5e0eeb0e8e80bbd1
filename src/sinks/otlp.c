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
 */
#include "encode/render.h"
#include "util/text.h"
#include "sinks/http_batch.h"
#include "sinks/otlp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_RESOURCE_ATTRS 64

typedef struct otlp {
    char *prefix; /* {"resourceLogs":[{"resource":{...},"scopeLogs":[{"scope":{...},"logRecords":[ */
} otlp;

/* SeverityNumber of the OpenTelemetry log data model, per skylog level. */
static const int severity[SKY_LEVEL_COUNT_] = {1, 5, 9, 13, 17, 21, 0};

static void str_attr(sky_buf *b, bool first, const char *k, const char *v, size_t vn)
{
    if (!first)
        sky__buf_putc(b, ',');
    sky__buf_lit(b, "{\"key\":");
    sky__json_str(b, k, strlen(k));
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

static bool otlp_encode(void *self, const sky_record *rec, sky_buf *b)
{
    (void)self;
    const sky_event *ev = rec->event;
    if (!ev)
        return false;
    sky_level lv = sky_event_level(ev);
    if ((unsigned)lv >= SKY_LEVEL_OFF)
        lv = SKY_LEVEL_CRITICAL;
    sky__buf_lit(b, "{\"timeUnixNano\":\"");
    sky__buf_i64(b, sky_event_time_ns(ev));
    sky__buf_lit(b, "\",\"observedTimeUnixNano\":\"");
    sky__buf_i64(b, sky_now_ns());
    sky__buf_lit(b, "\",\"severityNumber\":");
    sky__buf_i64(b, severity[lv]);
    sky__buf_lit(b, ",\"severityText\":\"");
    sky__buf_puts(b, sky_level_name(lv));
    sky__buf_lit(b, "\",\"body\":{\"stringValue\":");
    const char *name = sky_event_name(ev);
    sky__json_str(b, name, strlen(name));
    sky__buf_putc(b, '}');

    const sky_field *tid = sky_event_get(ev, "trace_id");
    const sky_field *sid = sky_event_get(ev, "span_id");
    bool has_tid = lower_hex(tid, 32), has_sid = has_tid && lower_hex(sid, 16);
    if (has_tid) {
        sky__buf_lit(b, ",\"traceId\":\"");
        sky__buf_put(b, tid->v.str.ptr, 32);
        sky__buf_putc(b, '"');
    }
    if (has_sid) {
        sky__buf_lit(b, ",\"spanId\":\"");
        sky__buf_put(b, sid->v.str.ptr, 16);
        sky__buf_putc(b, '"');
    }

    sky__buf_lit(b, ",\"attributes\":[");
    const char *logger = sky_event_logger(ev);
    str_attr(b, true, "logger.name", logger, strlen(logger));
    const sky_callsite *cs = sky_event_callsite(ev);
    if (cs && cs->file) {
        str_attr(b, false, "code.filepath", cs->file, strlen(cs->file));
        if (cs->func)
            str_attr(b, false, "code.function", cs->func, strlen(cs->func));
        sky__buf_lit(b, ",{\"key\":\"code.lineno\",\"value\":{\"intValue\":\"");
        sky__buf_i64(b, cs->line);
        sky__buf_lit(b, "\"}}");
    }
    size_t n = sky_event_field_count(ev);
    for (size_t i = 0; i < n; i++) {
        const sky_field *f = sky_event_field_at(ev, i);
        if (!f || (f == tid && has_tid) || (f == sid && has_sid))
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

static void otlp_begin(void *self, sky_buf *b) { sky__buf_puts(b, ((otlp *)self)->prefix); }

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
    if (o)
        free(o->prefix);
    free(o);
}

/* "k=v,k2=v2" (OTEL_RESOURCE_ATTRIBUTES): members without '=' or with an empty key are
 * skipped; at most MAX_RESOURCE_ATTRS; service.name and host.name are ours. */
static void resource_attrs(sky_buf *b, const char *list)
{
    size_t i = 0;
    int n = 0;
    char key[256], val[1024];
    size_t kl, vl;
    while (n < MAX_RESOURCE_ATTRS &&
           sky__kv_next(list, &i, key, sizeof key, &kl, val, sizeof val, &vl)) {
        if (!kl || !strcmp(key, "service.name") || !strcmp(key, "host.name"))
            continue;
        sky__buf_putc(b, ',');
        sky__buf_lit(b, "{\"key\":");
        sky__json_str(b, key, kl);
        sky__buf_lit(b, ",\"value\":{\"stringValue\":");
        sky__json_str(b, val, vl);
        sky__buf_lit(b, "}}");
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

sky_status sky_sink_otlp(const sky_otlp_opts *opts, sky_sink **out, char **errmsg)
{
    static const sky_otlp_opts none;
    if (!opts)
        opts = &none;
    otlp *o = calloc(1, sizeof *o);
    char *url = logs_url(opts->endpoint);
    sky_buf b = {0};
    const char *svc = opts->service_name;
    if (!svc || !svc[0])
        svc = getenv("OTEL_SERVICE_NAME");
    if (!svc || !svc[0])
        svc = "unknown_service";
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0)
        host[0] = '\0';
    host[sizeof host - 1] = '\0';
    sky_buf attrs = {0};
    str_attr(&attrs, true, "service.name", svc, strlen(svc));
    if (host[0])
        str_attr(&attrs, false, "host.name", host, strlen(host));
    resource_attrs(&attrs, opts->resource_attributes ? opts->resource_attributes
                                                     : getenv("OTEL_RESOURCE_ATTRIBUTES"));
    sky__otlp_prefix(&b, attrs.p ? attrs.p : "", attrs.len);
    if (o && !attrs.oom)
        o->prefix = sky__buf_strdup(&b);
    sky__buf_free(&attrs);
    sky__buf_free(&b);
    if (!o || !o->prefix || !url) {
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
                       .content_type = "application/json",
                       .format = SKY_FORMAT_NONE,
                       .encode = otlp_encode,
                       .begin = otlp_begin,
                       .sep = ",",
                       .suffix = SKY__OTLP_SUFFIX,
                       .free = otlp_free,
                       .self = o};
    sky_status st = sky__http_batch_new(url, &bo, &c, out, errmsg);
    free(url);
    return st;
}

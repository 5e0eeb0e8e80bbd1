/*
 * registry.c - the option tables of the pipeline, every sink and every processor, and the
 * value parsers they share (sizes, durations, enums...). See registry.h for the shape.
 *
 * The rows write straight into the public options structs (sky_options, sky_file_opts,
 * sky_cwl_opts, ...) by offset, and each component builds itself with the public constructor,
 * so a configuration file is validated exactly as the C API validates the same values. This
 * file must never duplicate a constructor's checks beyond what a row needs to parse its text
 * (ranges here only reject what the C type cannot hold or what is obviously meant otherwise).
 */
#include "config/registry.h"

#include <skylog/audit.h>
#include <skylog/aws.h>
#include <skylog/cloudwatch.h>
#include <skylog/http_sink.h>
#include <skylog/metrics.h>
#include "metrics/metrics_internal.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define W(type, member) offsetof(type, member), (uint8_t)sizeof(((type *)0)->member)
#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- enum value lists ------------------------------------------------------------------------ */

static const sky__enum_val level_vals[] = {
    {"trace", SKY_LEVEL_TRACE}, {"debug", SKY_LEVEL_DEBUG},       {"info", SKY_LEVEL_INFO},
    {"warn", SKY_LEVEL_WARN},   {"error", SKY_LEVEL_ERROR},       {"critical", SKY_LEVEL_CRITICAL},
    {"off", SKY_LEVEL_OFF},     {"warning", SKY_LEVEL_WARN},      {"fatal", SKY_LEVEL_CRITICAL},
    {NULL, 0}};
#define LEVEL_SHOWN 7 /* the aliases after it are accepted but not listed */
static const sky__enum_val mode_vals[] = {{"sync", SKY_MODE_SYNC}, {"async", SKY_MODE_ASYNC}, {NULL, 0}};
static const sky__enum_val overflow_vals[] = {{"block", SKY_OVERFLOW_BLOCK},
                                              {"drop_newest", SKY_OVERFLOW_DROP_NEWEST},
                                              {"drop_oldest", SKY_OVERFLOW_DROP_OLDEST},
                                              {NULL, 0}};
static const sky__enum_val console_format_vals[] = {{"auto", SKY_FORMAT_AUTO},
                                                    {"pretty", SKY_FORMAT_PRETTY},
                                                    {"json", SKY_FORMAT_JSON},
                                                    {"logfmt", SKY_FORMAT_LOGFMT},
                                                    {NULL, 0}};
static const sky__enum_val file_format_vals[] = {{"json", SKY_FORMAT_JSON},
                                                 {"logfmt", SKY_FORMAT_LOGFMT},
                                                 {"pretty", SKY_FORMAT_PRETTY},
                                                 {NULL, 0}};
static const sky__enum_val stream_vals[] = {{"stderr", SKY_STDERR}, {"stdout", SKY_STDOUT}, {NULL, 0}};
static const sky__enum_val color_vals[] = {{"auto", 0}, {"always", 1}, {"never", -1}, {NULL, 0}};
static const sky__enum_val oversize_vals[] = {{"truncate", SKY_CWL_OVERSIZE_TRUNCATE},
                                              {"split", SKY_CWL_OVERSIZE_SPLIT},
                                              {"drop", SKY_CWL_OVERSIZE_DROP},
                                              {NULL, 0}};
static const sky__enum_val spool_fsync_vals[] = {{"none", SKY_CWL_FSYNC_NONE},
                                                 {"batch", SKY_CWL_FSYNC_BATCH},
                                                 {"interval", SKY_CWL_FSYNC_INTERVAL},
                                                 {NULL, 0}};
static const sky__enum_val transport_vals[] = {{"put_log_events", SKY_CWL_PUT_LOG_EVENTS},
                                               {"ndjson", SKY_CWL_NDJSON},
                                               {"otlp", SKY_CWL_OTLP},
                                               {NULL, 0}};

static const sky__enum_val http_transport_vals[] = {{"auto", SKY_HTTP_TRANSPORT_AUTO},
                                                    {"native", SKY_HTTP_TRANSPORT_NATIVE},
                                                    {"curl", SKY_HTTP_TRANSPORT_CURL},
                                                    {NULL, 0}};
/* The row every sink that talks HTTP has (sky_http_transport's rule in skylog/aws.h). */
#define HTTP_TRANSPORT_ROW(T, member)                                                              \
    {"http_transport", SKY__OPT_ENUM, "auto",                                                      \
     "HTTP client; auto: skylog's own, libcurl where a proxy applies (docs/CLOUDWATCH.md)",      \
     W(T, member), .values = http_transport_vals}

static void set_errmsg(char **errmsg, const char *msg)
{
    if (errmsg)
        *errmsg = strdup(msg);
}

/* ---- pipeline -------------------------------------------------------------------------------- */

static void set_pipeline_level(void *obj, const sky__opt *row, const sky__value *v)
{
    (void)row;
    sky_options *o = obj;
    o->level = (sky_level)v->i;
    o->level_set = true;
}

static const sky__opt pipeline_opts[] = {
    {"level", SKY__OPT_ENUM, "info", "root logger level", .values = level_vals,
     .set = set_pipeline_level},
    {"mode", SKY__OPT_ENUM, "sync", "sync: write on the logging thread; async: ring + worker",
     W(sky_options, mode), .values = mode_vals},
    {"ring_bytes", SKY__OPT_SIZE, "4M", "async ring capacity (rounded up to a power of two)",
     W(sky_options, ring_bytes), .min = 4096, .max = (int64_t)1 << 40},
    {"ring_spool_path", SKY__OPT_STRING, NULL,
     "async: the ring in this file, so that a killed process loses no accepted event",
     W(sky_options, ring_spool_path)},
    {"overflow", SKY__OPT_ENUM, "block", "async: what to do when the ring is full",
     W(sky_options, overflow), .values = overflow_vals},
    {"block_max_wait_ms", SKY__OPT_DURATION, "1s",
     "block: drop only when the worker has freed nothing for this long",
     W(sky_options, block_max_wait_ms), .unit_ms = 1, .max = 3600000, .no_zero = true},
    {"close_timeout_ms", SKY__OPT_DURATION, "5s", "longest time sky_close() spends flushing",
     W(sky_options, close_timeout_ms), .unit_ms = 1, .max = 3600000, .no_zero = true},
    {"name", SKY__OPT_STRING, "skylog", "a name for skylog's own diagnostics",
     W(sky_options, name)},
};
const sky__component sky__config_pipeline = {
    "pipeline", SKY__KIND_PIPELINE, "top-level keys of the file (sky_options)",
    pipeline_opts, N(pipeline_opts), sizeof(sky_options), NULL, NULL};

/* ---- route keys (every sink) ----------------------------------------------------------------- */

static const sky__opt route_opts[] = {
    {"level", SKY__OPT_ENUM, "trace", "minimum level of events this sink receives",
     W(sky_route, level), .values = level_vals},
    {"name", SKY__OPT_STRING, "the sink type", "name in stats and diagnostics", W(sky_route, name)},
};
const sky__component sky__config_route = {
    "route", SKY__KIND_SINK, "keys every sink accepts (sky_route)", route_opts, N(route_opts),
    sizeof(sky_route), NULL, NULL};

/* ---- sinks ----------------------------------------------------------------------------------- */

static const sky__opt console_opts[] = {
    {"stream", SKY__OPT_ENUM, "stderr", "where to write", W(sky_console_opts, stream),
     .values = stream_vals},
    {"format", SKY__OPT_ENUM, "auto", "auto: pretty on a terminal, JSON otherwise",
     W(sky_console_opts, format), .values = console_format_vals},
    {"color", SKY__OPT_ENUM, "auto", "auto: on a terminal unless NO_COLOR is set",
     W(sky_console_opts, color), .values = color_vals},
    {"fd", SKY__OPT_INT, "0 (the stream)",
     "write to this open descriptor instead, when above 2 (never closed by skylog)",
     W(sky_console_opts, fd), .min = 0, .max = INT32_MAX},
};
static sky_status build_console(void *opts, sky_sink **out, char **errmsg)
{
    *out = sky_sink_console(opts);
    if (!*out) {
        set_errmsg(errmsg, "console sink: out of memory");
        return SKY_ENOMEM;
    }
    return SKY_OK;
}

static const sky__opt file_opts[] = {
    {"path", SKY__OPT_STRING, NULL, "file to append to (its directory must exist)",
     W(sky_file_opts, path), .required = true},
    {"format", SKY__OPT_ENUM, "json", "line format", W(sky_file_opts, format),
     .values = file_format_vals},
    {"max_bytes", SKY__OPT_SIZE, "0 (never)", "rotate when the file would exceed this size",
     W(sky_file_opts, max_bytes)},
    {"rotate_interval_s", SKY__OPT_DURATION, "0 (never)",
     "also rotate every this long, aligned to UTC (e.g. 1h, 24h)",
     W(sky_file_opts, rotate_interval_s), .unit_ms = 1000, .max = 366LL * 86400},
    {"max_backups", SKY__OPT_INT, "5", "rotated files kept (path.1 is the newest)",
     W(sky_file_opts, max_backups), .min = 1, .max = 1000},
    {"fsync_on_flush", SKY__OPT_BOOL, "false", "fsync(2) the file on every flush",
     W(sky_file_opts, fsync_on_flush)},
    {"mode", SKY__OPT_INT, "0644", "permissions of a file skylog creates (octal)",
     W(sky_file_opts, mode), .min = 1, .max = 07777, .base = 8, .no_zero = true},
};
static sky_status build_file(void *opts, sky_sink **out, char **errmsg)
{
    sky_file_opts *o = opts;
    if (!o->mode)
        o->mode = 0644;
    return sky_sink_file(o, out, errmsg);
}

static const sky__enum_val audit_fsync_vals[] = {{"entry", SKY_AUDIT_FSYNC_ENTRY},
                                               {"interval", SKY_AUDIT_FSYNC_INTERVAL},
                                               {"none", SKY_AUDIT_FSYNC_NONE},
                                               {NULL, 0}};
static const sky__opt audit_opts[] = {
    {"path", SKY__OPT_STRING, NULL, "hash-chained JSON-lines file to append to (never rotated)",
     W(sky_audit_opts, path), .required = true},
    {"fsync", SKY__OPT_ENUM, "entry",
     "entry: durable before the write returns; interval: fsync on a write fsync_interval_ms "
     "after the last one, and on flush; none: the kernel decides (docs/AUDIT.md)",
     W(sky_audit_opts, fsync), .values = audit_fsync_vals},
    {"fsync_interval_ms", SKY__OPT_DURATION, "1s", "fsync=interval: longest time between fsyncs",
     W(sky_audit_opts, fsync_interval_ms), .unit_ms = 1, .max = 3600000, .no_zero = true},
    {"key_file", SKY__OPT_STRING, "none", "file holding the HMAC-SHA-256 key (one line)",
     W(sky_audit_opts, key_file)},
    {"key_env", SKY__OPT_STRING, "none", "name of the environment variable holding the HMAC key",
     W(sky_audit_opts, key_env)},
    {"mode", SKY__OPT_INT, "0600", "permissions of a file skylog creates (octal)",
     W(sky_audit_opts, mode), .min = 1, .max = 07777, .base = 8, .no_zero = true},
    {"echo", SKY__OPT_BOOL, "false",
     "also log each entry normally, with audit_seq and a short audit_hash to cross-reference it",
     W(sky_audit_opts, echo)},
};
static sky_status build_audit(void *opts, sky_sink **out, char **errmsg)
{
    return sky_sink_audit(opts, out, errmsg);
}

/* The CloudWatch sink's options, and what the file adds: a fallback sink, given as the path
 * of a JSON-lines file (sky_cwl_opts.fallback takes a sink, which a value cannot name). The
 * public struct comes first, so its rows' offsets are the same in both. */
typedef struct cwl_cfg {
    sky_cwl_opts o;
    const char *fallback_file;
} cwl_cfg;
_Static_assert(offsetof(cwl_cfg, o) == 0, "the sky_cwl_opts rows write at their own offsets");

/* A count or a duration as users write it, where 0 means "none" (no retries, no cooldown).
 * The C structs keep 0 for "unset" (the default, as every zero-initialised field), so 0 is
 * stored as -1, their "none". For int and int64_t members. */
static void set_zero_is_none(void *obj, const sky__opt *row, const sky__value *v)
{
    int64_t n = v->i == 0 ? -1 : v->i;
    if (row->width == sizeof(int32_t)) {
        int32_t x = (int32_t)n;
        memcpy((char *)obj + row->offset, &x, sizeof x);
    } else if (row->width == sizeof(int64_t)) {
        memcpy((char *)obj + row->offset, &n, sizeof n);
    }
}
#define RETRIES_ROW(T, what)                                                                       \
    {"max_retries", SKY__OPT_INT, "3",                                                            \
     what "; 0: none; unset: AWS_MAX_ATTEMPTS - 1 (or the profile's max_attempts - 1) when set",  \
     W(T, max_retries), .min = 0, .max = 100, .set = set_zero_is_none}

static const sky__opt cwl_opts[] = {
    {"log_group", SKY__OPT_STRING, NULL, "log group: 1-512 of [.-_/#A-Za-z0-9]",
     W(sky_cwl_opts, log_group), .required = true},
    {"log_stream", SKY__OPT_STRING, "{hostname}_{strftime:%Y%m%d_%H%M%S}",
     "stream name template: {hostname}, {pid}, {logger}, {strftime:FMT}",
     W(sky_cwl_opts, log_stream)},
    {"region", SKY__OPT_STRING, "AWS_REGION", "AWS region", W(sky_cwl_opts, region)},
    {"endpoint", SKY__OPT_STRING, "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
     "service endpoint URL (http:// for a local endpoint)", W(sky_cwl_opts, endpoint)},
    {"profile", SKY__OPT_STRING, "AWS_PROFILE", "profile in the AWS config files",
     W(sky_cwl_opts, profile)},
    {"access_key_id", SKY__OPT_STRING, "the standard chain", "explicit credentials",
     W(sky_cwl_opts, access_key_id), .secret = true},
    {"secret_access_key", SKY__OPT_STRING, NULL, "explicit credentials",
     W(sky_cwl_opts, secret_access_key), .secret = true},
    {"session_token", SKY__OPT_STRING, NULL, "explicit credentials",
     W(sky_cwl_opts, session_token), .secret = true},
    {"no_create_group", SKY__OPT_BOOL, "false", "never create the group",
     W(sky_cwl_opts, no_create_group)},
    {"no_create_stream", SKY__OPT_BOOL, "false", "never create the stream",
     W(sky_cwl_opts, no_create_stream)},
    {"retention_days", SKY__OPT_INT, "0 (leave alone)",
     "the log group's retention, set before the first send (1, 3, 5, 7, 14, 30, ...)",
     W(sky_cwl_opts, retention_days), .min = 0, .max = 3653},
    {"batch_size", SKY__OPT_INT, "10000", "events per request", W(sky_cwl_opts, batch_size),
     .min = 1, .max = SKY_CWL_MAX_BATCH_EVENTS, .no_zero = true},
    {"max_batch_bytes", SKY__OPT_SIZE, "1M", "bytes per request (AWS counting)",
     W(sky_cwl_opts, max_batch_bytes), .no_zero = true},
    {"flush_interval_ms", SKY__OPT_DURATION, "1s", "longest wait of a queued event",
     W(sky_cwl_opts, flush_interval_ms), .unit_ms = 1, .max = 3600000, .no_zero = true},
    {"max_queue_size", SKY__OPT_INT, "100000", "events queued before new ones are dropped",
     W(sky_cwl_opts, max_queue_size), .min = 1, .max = INT32_MAX, .no_zero = true},
    {"max_queue_bytes", SKY__OPT_SIZE, "64M", "bytes queued before new ones are dropped",
     W(sky_cwl_opts, max_queue_bytes), .no_zero = true},
    {"block_when_full", SKY__OPT_BOOL, "false", "wait for room instead of dropping (shippers)",
     W(sky_cwl_opts, block_when_full)},
    {"compress", SKY__OPT_BOOL, "false", "gzip request bodies", W(sky_cwl_opts, compress)},
    {"sync_upload", SKY__OPT_BOOL, "false", "send from the logging thread (tests, tiny tools)",
     W(sky_cwl_opts, sync_upload)},
    RETRIES_ROW(sky_cwl_opts, "retries of the control calls (CreateLogGroup, ...)"),
    {"retry_delay_ms", SKY__OPT_DURATION, "100ms", "first retry backoff",
     W(sky_cwl_opts, retry_delay_ms), .unit_ms = 1, .max = 3600000, .no_zero = true},
    {"no_exponential_backoff", SKY__OPT_BOOL, "false", "do not double the backoff",
     W(sky_cwl_opts, no_exponential_backoff)},
    {"max_event_bytes", SKY__OPT_SIZE, "1M", "largest event (message + 26)",
     W(sky_cwl_opts, max_event_bytes), .no_zero = true},
    {"oversize", SKY__OPT_ENUM, "truncate", "what to do with a larger event",
     W(sky_cwl_opts, oversize), .values = oversize_vals},
    {"transport", SKY__OPT_ENUM, "put_log_events", "API used to send",
     W(sky_cwl_opts, transport), .values = transport_vals},
    {"bearer_token", SKY__OPT_STRING, NULL, "ingestion endpoints: Authorization: Bearer",
     W(sky_cwl_opts, bearer_token), .secret = true},
    {"message_only", SKY__OPT_BOOL, "false", "send the event's message instead of its JSON",
     W(sky_cwl_opts, message_only)},
    {"connect_timeout_ms", SKY__OPT_DURATION, "5s", "TCP/TLS connect timeout",
     W(sky_cwl_opts, connect_timeout_ms), .unit_ms = 1, .max = 3600000, .no_zero = true},
    {"request_timeout_ms", SKY__OPT_DURATION, "30s", "whole-request timeout",
     W(sky_cwl_opts, request_timeout_ms), .unit_ms = 1, .max = 3600000, .no_zero = true},
    {"ca_bundle", SKY__OPT_STRING, "AWS_CA_BUNDLE",
     "PEM file of the CAs to trust (private CA, TLS proxy)", W(sky_cwl_opts, ca_bundle)},
    HTTP_TRANSPORT_ROW(sky_cwl_opts, http_transport),
    {"spool_path", SKY__OPT_STRING, "none",
     "crash-safe spool file: events kept there until acknowledged (docs/DURABILITY.md)",
     W(sky_cwl_opts, spool_path)},
    {"spool_max_bytes", SKY__OPT_SIZE, "64M", "size of the spool's data area (64K..1T)",
     W(sky_cwl_opts, spool_max_bytes), .no_zero = true},
    {"spool_fsync", SKY__OPT_ENUM, "none",
     "when the spool is forced to disk: none (survives crashes), batch, interval (power loss)",
     W(sky_cwl_opts, spool_fsync), .values = spool_fsync_vals},
    {"spool_fsync_every_ms", SKY__OPT_DURATION, "1s", "spool_fsync interval: its period",
     W(sky_cwl_opts, spool_fsync_every_ms), .unit_ms = 1, .max = 3600000, .no_zero = true},
    {"fallback_file", SKY__OPT_STRING, "none",
     "JSON-lines file receiving the events CloudWatch refused or that could not be sent",
     W(cwl_cfg, fallback_file)},
};
static sky_status build_cwl(void *opts, sky_sink **out, char **errmsg)
{
    cwl_cfg *c = opts;
    if (c->fallback_file) {
        char *ferr = NULL;
        sky_status st = sky_sink_file(&(sky_file_opts){.path = c->fallback_file, .mode = 0644},
                                      &c->o.fallback, &ferr);
        if (st != SKY_OK) {
            if (errmsg) {
                char m[1024];
                snprintf(m, sizeof m, "fallback_file: %s", ferr ? ferr : sky_strerror(st));
                *errmsg = strdup(m);
            }
            free(ferr);
            return st;
        }
    }
    return sky_sink_cloudwatch_logs(&c->o, out, errmsg); /* owns the fallback, even on error */
}

/* ---- generic HTTP and OTLP (skylog/http_sink.h, docs/TRACING.md) --------------------------- */

static const sky__enum_val http_body_vals[] = {{"logs", SKY_HTTP_BODY_LOGS},
                                               {"array", SKY_HTTP_BODY_ARRAY},
                                               {"ndjson", SKY_HTTP_BODY_NDJSON},
                                               {NULL, 0}};

/* The batching rows both sinks share (sky_http_batch_opts inside each options struct). */
#define HTTP_BATCH_ROWS(T, def_batch)                                                              \
    {"gzip", SKY__OPT_BOOL, "false", "Content-Encoding: gzip", W(T, batch.gzip)},                  \
    {"batch_size", SKY__OPT_INT, def_batch, "events per request", W(T, batch.batch_size),          \
     .min = 1, .max = 1000000, .no_zero = true},                                                   \
    {"max_batch_bytes", SKY__OPT_SIZE, "1M", "request body bytes (before gzip)",                   \
     W(T, batch.max_batch_bytes), .max = (int64_t)1 << 30, .no_zero = true},                       \
    {"flush_interval_ms", SKY__OPT_DURATION, "5s", "longest wait of a queued event",               \
     W(T, batch.flush_interval_ms), .unit_ms = 1, .max = 3600000, .no_zero = true},                \
    {"max_queue_size", SKY__OPT_INT, "10000", "events queued before new ones are dropped",         \
     W(T, batch.max_queue_size), .min = 1, .max = INT32_MAX, .no_zero = true},                     \
    {"max_queue_bytes", SKY__OPT_SIZE, "16M", "bytes queued before new ones are dropped",          \
     W(T, batch.max_queue_bytes), .no_zero = true},                                                \
    {"max_event_bytes", SKY__OPT_SIZE, "256k", "larger events are dropped (counted)",              \
     W(T, batch.max_event_bytes), .no_zero = true},                                                \
    {"timeout_ms", SKY__OPT_DURATION, "10s", "one request", W(T, batch.timeout_ms), .unit_ms = 1,  \
     .max = 3600000, .no_zero = true},                                                             \
    {"max_backoff_ms", SKY__OPT_DURATION, "30s", "longest wait between attempts",                  \
     W(T, batch.max_backoff_ms), .unit_ms = 1, .max = 3600000, .no_zero = true},                   \
    {"max_retry_after_ms", SKY__OPT_DURATION, "5m", "longest Retry-After honoured",                \
     W(T, batch.max_retry_after_ms), .unit_ms = 1, .max = 86400000, .no_zero = true},              \
    {"close_timeout_ms", SKY__OPT_DURATION, "2s", "last tries at close",                           \
     W(T, batch.close_timeout_ms), .unit_ms = 1, .max = 3600000, .no_zero = true},                 \
    {"api_key", SKY__OPT_STRING, NULL, "sent in api_key_header", W(T, batch.api_key),              \
     .secret = true},                                                                              \
    {"api_key_header", SKY__OPT_STRING, "X-API-Key", "header carrying api_key",                    \
     W(T, batch.api_key_header)},                                                                  \
    {"bearer_token", SKY__OPT_STRING, NULL, "Authorization: Bearer <token>",                       \
     W(T, batch.bearer_token), .secret = true},                                                    \
    {"ca_bundle", SKY__OPT_STRING, "the system's", "PEM file of the CAs to trust",                 \
     W(T, batch.ca_bundle)},                                                                       \
    {"headers", SKY__OPT_STRING, NULL, "more request headers: Name=value,Name=value",              \
     W(T, batch.headers), .secret = true},                                                         \
    HTTP_TRANSPORT_ROW(T, batch.http_transport)

static const sky__opt http_opts[] = {
    {"url", SKY__OPT_STRING, NULL, "where to POST batches (http:// or https://)",
     W(sky_http_sink_opts, url), .required = true},
    {"body", SKY__OPT_ENUM, "logs", "logs: {\"logs\":[...]}; array: [...]; ndjson: a line each",
     W(sky_http_sink_opts, body), .values = http_body_vals},
    HTTP_BATCH_ROWS(sky_http_sink_opts, "100"),
};
static sky_status build_http(void *opts, sky_sink **out, char **errmsg)
{
    return sky_sink_http(opts, out, errmsg);
}

static const sky__enum_val otlp_protocol_vals[] = {{"http/json", SKY_OTLP_HTTP_JSON},
                                                   {"http/protobuf", SKY_OTLP_HTTP_PROTOBUF},
                                                   {NULL, 0}};

static const sky__enum_val otlp_signals_vals[] = {{"logs,traces", SKY_OTLP_LOGS | SKY_OTLP_TRACES},
                                                  {"logs", SKY_OTLP_LOGS},
                                                  {"traces", SKY_OTLP_TRACES},
                                                  {"traces,logs", SKY_OTLP_LOGS | SKY_OTLP_TRACES},
                                                  {NULL, 0}};

static const sky__opt otlp_opts[] = {
    {"endpoint", SKY__OPT_STRING, "OTEL_EXPORTER_OTLP_ENDPOINT or http://localhost:4318",
     "collector base URL; /v1/logs and /v1/traces are appended", W(sky_otlp_opts, endpoint)},
    {"signals", SKY__OPT_ENUM,
     "logs,traces less those OTEL_LOGS_EXPORTER / OTEL_TRACES_EXPORTER=none turn off",
     "what is exported: every event as a log record, finished spans as OTLP spans; "
     "when set, it wins over OTEL_*_EXPORTER",
     W(sky_otlp_opts, signals), .values = otlp_signals_vals},
    {"service_name", SKY__OPT_STRING, "OTEL_SERVICE_NAME or unknown_service",
     "resource attribute service.name", W(sky_otlp_opts, service_name)},
    {"resource_attributes", SKY__OPT_STRING, "OTEL_RESOURCE_ATTRIBUTES",
     "more resource attributes: key=value,key=value", W(sky_otlp_opts, resource_attributes)},
    {"protocol", SKY__OPT_ENUM,
     "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL / _TRACES_PROTOCOL, OTEL_EXPORTER_OTLP_PROTOCOL or http/json",
     "the encoding", W(sky_otlp_opts, protocol),
     .values = otlp_protocol_vals},
    HTTP_BATCH_ROWS(sky_otlp_opts, "512"),
};
static sky_status build_otlp(void *opts, sky_sink **out, char **errmsg)
{
    return sky_sink_otlp(opts, out, errmsg);
}

/* ---- metrics outputs (docs/METRICS.md): they publish sky_metrics_default() ------------------ */

typedef struct metrics_emf_cfg {
    const char *path; /* NULL: stdout */
    int64_t flush_interval_ms;
    size_t max_values, max_records;
} metrics_emf_cfg;
static const sky__opt metrics_emf_opts[] = {
    {"path", SKY__OPT_STRING, "stdout", "file the EMF records are appended to",
     W(metrics_emf_cfg, path)},
    {"flush_interval_ms", SKY__OPT_DURATION, "60s", "metrics aggregation interval",
     W(metrics_emf_cfg, flush_interval_ms), .unit_ms = 1, .min = 1000, .max = 86400000},
    {"max_values", SKY__OPT_INT, "1000000",
     "metric values a datum writes a flush (a histogram value is repeated per count); past it "
     "they are dropped and counted", W(metrics_emf_cfg, max_values), .min = 1, .max = 100000000},
    {"max_records", SKY__OPT_INT, "100000",
     "EMF records a flush writes; past it values are dropped and counted",
     W(metrics_emf_cfg, max_records), .min = 1, .max = 100000000},
};
static sky_status build_metrics_emf(void *opts, sky_sink **out, char **errmsg)
{
    metrics_emf_cfg *c = opts;
    sky_sink *file = NULL;
    if (c->path) {
        sky_status st = sky_sink_file(&(sky_file_opts){.path = c->path}, &file, errmsg);
        if (st != SKY_OK)
            return st;
    }
    return sky_sink_metrics_emf(&(sky_emf_opts){.output = file,
                                                .flush_interval_ms = c->flush_interval_ms,
                                                .max_values = c->max_values,
                                                .max_records = c->max_records},
                                out, errmsg);
}

static const sky__opt metrics_cw_opts[] = {
    {"region", SKY__OPT_STRING, "AWS_REGION", "AWS region", W(sky_cwm_opts, region)},
    {"endpoint", SKY__OPT_STRING, "AWS_ENDPOINT_URL_CLOUDWATCH", "endpoint URL",
     W(sky_cwm_opts, endpoint)},
    {"profile", SKY__OPT_STRING, "AWS_PROFILE", "shared-config profile", W(sky_cwm_opts, profile)},
    {"flush_interval_ms", SKY__OPT_DURATION, "60s", "metrics aggregation interval",
     W(sky_cwm_opts, flush_interval_ms), .unit_ms = 1, .min = 1000, .max = 86400000},
    RETRIES_ROW(sky_cwm_opts, "retries per request"),
    {"retry_delay_ms", SKY__OPT_DURATION, "100ms", "backoff base", W(sky_cwm_opts, retry_delay_ms),
     .unit_ms = 1, .max = 60000, .no_zero = true},
    {"max_queue_datums", SKY__OPT_INT, "100000", "datums kept while the endpoint fails",
     W(sky_cwm_opts, max_queue_datums), .min = 1, .max = 100000000, .no_zero = true},
    {"no_compress", SKY__OPT_BOOL, "false", "never gzip request bodies",
     W(sky_cwm_opts, no_compress)},
    {"request_timeout_ms", SKY__OPT_DURATION, "30s", "whole-request timeout",
     W(sky_cwm_opts, request_timeout_ms), .unit_ms = 1, .max = 3600000, .no_zero = true},
    {"ca_bundle", SKY__OPT_STRING, "AWS_CA_BUNDLE", "PEM file of the CAs to trust",
     W(sky_cwm_opts, ca_bundle)},
    HTTP_TRANSPORT_ROW(sky_cwm_opts, http_transport),
};
static sky_status build_metrics_cw(void *opts, sky_sink **out, char **errmsg)
{
    return sky_sink_metrics_cloudwatch(opts, out, errmsg);
}

static const sky__opt metrics_statsd_opts[] = {
    {"host", SKY__OPT_STRING, "127.0.0.1", "StatsD agent address", W(sky_statsd_opts, host)},
    {"port", SKY__OPT_INT, "8125", "StatsD agent UDP port", W(sky_statsd_opts, port), .min = 1,
     .max = 65535},
    {"no_tags", SKY__OPT_BOOL, "false", "plain StatsD: no DogStatsD tags for dimensions",
     W(sky_statsd_opts, no_tags)},
    {"max_packet", SKY__OPT_SIZE, "1432", "bytes a datagram", W(sky_statsd_opts, max_packet),
     .min = 64, .max = 65000, .no_zero = true},
    {"flush_interval_ms", SKY__OPT_DURATION, "60s", "metrics aggregation interval",
     W(sky_statsd_opts, flush_interval_ms), .unit_ms = 1, .min = 1000, .max = 86400000},
};
static sky_status build_metrics_statsd(void *opts, sky_sink **out, char **errmsg)
{
    return sky_sink_metrics_statsd(opts, out, errmsg);
}

/* ---- processors ------------------------------------------------------------------------------ */

static const sky__opt enrich_opts[] = {
    {"service", SKY__OPT_STRING, NULL, "adds \"service\"", W(sky_enrich_opts, service)},
    {"environment", SKY__OPT_STRING, NULL, "adds \"environment\"", W(sky_enrich_opts, environment)},
    {"version", SKY__OPT_STRING, NULL, "adds \"version\"", W(sky_enrich_opts, version)},
    {"hostname", SKY__OPT_BOOL, "false", "adds \"hostname\"", W(sky_enrich_opts, hostname)},
    {"pid", SKY__OPT_BOOL, "false", "adds \"pid\"", W(sky_enrich_opts, pid)},
    {"timestamp_ms", SKY__OPT_BOOL, "false", "adds \"timestamp_ms\" (Unix epoch ms)",
     W(sky_enrich_opts, timestamp_ms)},
};
static sky_status add_status(sky_status st, const char *what, char **errmsg)
{
    if (st != SKY_OK && errmsg) {
        char m[256];
        snprintf(m, sizeof m, "%s: %s", what, sky_strerror(st));
        *errmsg = strdup(m);
    }
    return st;
}
static sky_status add_enrich(sky_t *sky, void *opts, char **errmsg)
{
    return add_status(sky_add_enrich(sky, opts), "enrich", errmsg);
}

static const sky__opt redact_opts[] = {
    {"fields", SKY__OPT_LIST,
     "password, passwd, api_key, apikey, token, secret, authorization, cookie, private_key",
     "field names to redact (whole words of the key, case-insensitive)",
     W(sky_redact_opts, fields)},
    {"no_value_patterns", SKY__OPT_BOOL, "false",
     "skip scanning string values for secrets (AWS keys, Bearer tokens, private keys)",
     W(sky_redact_opts, no_value_patterns)},
    {"replacement", SKY__OPT_STRING, SKY_REDACTED, "text put in place of a secret",
     W(sky_redact_opts, replacement)},
};
static sky_status add_redact(sky_t *sky, void *opts, char **errmsg)
{
    return add_status(sky_add_redact(sky, opts), "redact", errmsg);
}

static void set_sample_rate(void *obj, const sky__opt *row, const sky__value *v)
{
    sky_sample_opts *o = obj;
    sky_level l;
    if (sky_level_parse(row->name, &l) == SKY_OK) {
        o->rate[l] = v->d;
        o->rate_set[l] = true;
    }
}
static void set_sample_rate_all(void *obj, const sky__opt *row, const sky__value *v)
{
    (void)row;
    sky_sample_opts *o = obj;
    for (int l = 0; l < SKY_LEVEL_COUNT_; l++)
        if (!o->rate_set[l]) { /* a level named in the file keeps its own rate */
            o->rate[l] = v->d;
            o->rate_set[l] = true;
        }
}
static void set_sample_keep(void *obj, const sky__opt *row, const sky__value *v)
{
    (void)row;
    sky_sample_opts *o = obj;
    o->always_keep = (sky_level)v->i;
    o->always_keep_set = true;
}
#define RATE_ROW(lvl)                                                                              \
    {lvl, SKY__OPT_NUMBER, "rate", "fraction of " lvl " events kept (overrides rate)",            \
     .set = set_sample_rate, .dmin = 0, .dmax = 1}
static const sky__opt sample_opts[] = {
    {"rate", SKY__OPT_NUMBER, "1", "fraction of events kept, 0..1, for every level",
     .set = set_sample_rate_all, .dmin = 0, .dmax = 1},
    RATE_ROW("trace"),
    RATE_ROW("debug"),
    RATE_ROW("info"),
    RATE_ROW("warn"),
    {"always_keep", SKY__OPT_ENUM, "error", "events at or above this level are always kept",
     .values = level_vals, .set = set_sample_keep},
    {"key", SKY__OPT_STRING, "trace_id",
     "field whose value decides (all events of one trace kept or dropped together)",
     W(sky_sample_opts, key)},
    {"seed", SKY__OPT_INT, "fixed", "random seed for events without the key",
     W(sky_sample_opts, seed), .min = 0, .max = INT64_MAX},
};
static sky_status add_sample(sky_t *sky, void *opts, char **errmsg)
{
    return add_status(sky_add_sampler(sky, opts), "sample", errmsg);
}

typedef struct level_filter_opts {
    int min;
} level_filter_opts;
static const sky__opt level_filter_opts_rows[] = {
    {"level", SKY__OPT_ENUM, NULL, "drop events below this level", W(level_filter_opts, min),
     .values = level_vals, .required = true},
};
static sky_status add_level_filter(sky_t *sky, void *opts, char **errmsg)
{
    return add_status(sky_add_level_filter(sky, (sky_level)((level_filter_opts *)opts)->min),
                      "level_filter", errmsg);
}

typedef struct event_filter_opts {
    const char **include, **exclude;
} event_filter_opts;
static const sky__opt event_filter_rows[] = {
    {"include", SKY__OPT_LIST, "all", "keep only event names matching one of these globs",
     W(event_filter_opts, include)},
    {"exclude", SKY__OPT_LIST, "none", "drop event names matching one of these globs",
     W(event_filter_opts, exclude)},
};
static sky_status add_event_filter(sky_t *sky, void *opts, char **errmsg)
{
    event_filter_opts *o = opts;
    return add_status(sky_add_event_filter(sky, (const char *const *)o->include,
                                           (const char *const *)o->exclude),
                      "event_filter", errmsg);
}

typedef struct rate_limit_opts {
    double per_second, burst;
} rate_limit_opts;
static const sky__opt rate_limit_rows[] = {
    {"per_second", SKY__OPT_NUMBER, NULL, "events a second, per event name",
     W(rate_limit_opts, per_second), .required = true, .dmin = 0, .dmax = 1e9},
    {"burst", SKY__OPT_NUMBER, "per_second", "largest burst (at least 1)",
     W(rate_limit_opts, burst), .dmin = 1, .dmax = 1e9},
};
static sky_status add_rate_limit(sky_t *sky, void *opts, char **errmsg)
{
    rate_limit_opts *o = opts;
    double burst = o->burst > 0 ? o->burst : (o->per_second >= 1 ? o->per_second : 1);
    sky_status st = sky_add_rate_limit(sky, o->per_second, burst);
    if (st == SKY_EINVAL && errmsg) {
        *errmsg = strdup("rate_limit: per_second must be > 0 and burst >= 1");
        return st;
    }
    return add_status(st, "rate_limit", errmsg);
}

typedef struct log_metrics_cfg {
    const char *ns;
    const char **rules;
    int64_t max_series;
} log_metrics_cfg;
static const sky__opt log_metrics_rows[] = {
    {"namespace", SKY__OPT_STRING, NULL, "CloudWatch namespace of the metrics",
     W(log_metrics_cfg, ns), .required = true},
    {"rules", SKY__OPT_LIST, NULL,
     "one rule a string: count|histogram FIELD|gauge FIELD [events=GLOB] [level=LEVEL] "
     "[name=METRIC] [unit=UNIT] [dims=event+level+FIELD|none] (docs/METRICS.md)",
     W(log_metrics_cfg, rules), .required = true},
    {"max_series", SKY__OPT_INT, "100",
     "distinct dimension values a rule keeps; past it events go to the \"other\" series",
     W(log_metrics_cfg, max_series), .min = 1, .max = 100000},
};
/* The rules of a component, one string each: `parse` checks rule i (and may keep what it
 * parsed through ctx); the first that fails is reported as "<component>: rules[<i>]: <why>", so
 * the user knows which one. *done: how many parsed before it (all of them on success). */
typedef bool (*rule_fn)(const char *text, size_t i, void *ctx, char *err, size_t cap);
static sky_status parse_rules(const char *const *texts, const char *component, rule_fn parse,
                              void *ctx, size_t *done, char **errmsg)
{
    size_t i = 0;
    for (; texts && texts[i]; i++) {
        char err[512];
        if (!parse(texts[i], i, ctx, err, sizeof err)) {
            *done = i;
            if (errmsg) {
                char m[768];
                snprintf(m, sizeof m, "%s: rules[%zu]: %s", component, i, err);
                *errmsg = strdup(m);
            }
            return SKY_EINVAL;
        }
    }
    *done = i;
    return SKY_OK;
}

static bool parse_log_rule(const char *text, size_t i, void *ctx, char *err, size_t cap)
{
    sky__log_rule *parsed = ctx;
    return sky__log_rule_parse(text, &parsed[i], err, cap);
}

static sky_status add_log_metrics(sky_t *sky, void *opts, char **errmsg)
{
    log_metrics_cfg *c = opts;
    if (errmsg)
        *errmsg = NULL;
    size_t n = 0;
    while (c->rules && c->rules[n])
        n++;
    sky__log_rule *parsed = calloc(n ? n : 1, sizeof *parsed);
    sky_log_metric_rule *rules = calloc(n ? n : 1, sizeof *rules);
    sky_status st = parsed && rules ? SKY_OK : SKY_ENOMEM;
    size_t k = 0;
    if (st == SKY_OK)
        st = parse_rules(c->rules, "metrics", parse_log_rule, parsed, &k, errmsg);
    for (size_t i = 0; st == SKY_OK && i < n; i++)
        rules[i] = parsed[i].rule;
    if (st == SKY_OK)
        st = sky_add_log_metrics(sky,
                                 &(sky_log_metrics_opts){.ns = c->ns, .rules = rules,
                                                         .n_rules = n,
                                                         .max_series = (size_t)c->max_series},
                                 NULL, errmsg);
    for (size_t i = 0; parsed && i < k; i++)
        sky__log_rule_free(&parsed[i]);
    free(parsed);
    free(rules);
    return errmsg && *errmsg ? st : add_status(st, "metrics", errmsg);
}

typedef struct sampler_cfg {
    int64_t interval_ms;
    const char *ns;
    bool log;
    const char *logger;
} sampler_cfg;
static const sky__opt sampler_rows[] = {
    {"interval_ms", SKY__OPT_DURATION, "60s", "how often the process is sampled",
     W(sampler_cfg, interval_ms), .unit_ms = 1, .min = 100, .max = 86400000},
    {"namespace", SKY__OPT_STRING, "none",
     "publish gauges cpu_percent, rss_bytes, threads, open_fds in this CloudWatch namespace",
     W(sampler_cfg, ns)},
    {"log", SKY__OPT_BOOL, "false", "log an INFO event \"system_metrics\" each sample",
     W(sampler_cfg, log)},
    {"logger", SKY__OPT_STRING, "system", "the logger of those events", W(sampler_cfg, logger)},
};
static sky_status add_sampler(sky_t *sky, void *opts, char **errmsg)
{
    sampler_cfg *c = opts;
    if (errmsg)
        *errmsg = NULL;
    sky_sampler *smp;
    sky_status st = sky_sampler_start(
        &(sky_sampler_opts){.interval_ms = c->interval_ms, .ns = c->ns,
                            .log = c->log ? sky_logger_get(sky, c->logger ? c->logger : "system")
                                          : NULL},
        &smp, errmsg);
    if (st == SKY_OK && (st = sky_on_close(sky, sky__sampler_close_hook, smp)) != SKY_OK)
        sky_sampler_stop(smp);
    return errmsg && *errmsg ? st : add_status(st, "system_metrics", errmsg);
}

static const sky__opt security_rows[] = {
    {"rules", SKY__OPT_LIST,
     "[\"brute_force: login_failed by user >= 5 in 5m\", \"rate_abuse: * by ip >= 100 in 1m\"]",
     "rules 'NAME: EVENT by KEY >= N in WINDOW' (EVENT * counts every event with KEY)",
     W(sky_security_opts, rule_specs)},
    {"max_keys", SKY__OPT_INT, "10000", "keys tracked per rule; the least recently seen is evicted",
     W(sky_security_opts, max_keys), .min = 1, .max = 10000000},
    {"cooldown", SKY__OPT_DURATION, "the rule's window",
     "least time between two alerts of a key; 0: none (every event past the threshold alerts)",
     W(sky_security_opts, cooldown_ms), .unit_ms = 1, .min = 0, .max = 7 * 86400000LL,
     .set = set_zero_is_none},
    {"logger", SKY__OPT_STRING, "security", "the alerts' logger", W(sky_security_opts, logger)},
    {"level", SKY__OPT_ENUM, "warn", "the alerts' level", W(sky_security_opts, level),
     .values = level_vals},
    {"time_field", SKY__OPT_STRING, NULL,
     "field with the event's own time (time or Unix ms), for replayed events",
     W(sky_security_opts, time_field)},
};
/* Checked here first, so a bad rule is reported by its place in the list. */
static bool check_security_rule(const char *text, size_t i, void *ctx, char *err, size_t cap)
{
    (void)i;
    (void)ctx;
    char buf[600];
    sky_security_rule r;
    return sky_security_rule_parse(text, &r, buf, sizeof buf, err, cap);
}

static sky_status add_security(sky_t *sky, void *opts, char **errmsg)
{
    sky_security_opts *o = opts;
    size_t n;
    if (parse_rules((const char *const *)o->rule_specs, "security_monitor", check_security_rule,
                    NULL, &n, errmsg) != SKY_OK)
        return SKY_EINVAL;
    return add_status(sky_add_security_monitor(sky, o, NULL), "security_monitor", errmsg);
}

/* ---- the registry ---------------------------------------------------------------------------- */

#define SINK(name, sum, rows, type, fn) {name, SKY__KIND_SINK, sum, rows, N(rows), sizeof(type), fn, NULL}
#define PROC(name, sum, rows, type, fn)                                                            \
    {name, SKY__KIND_PROCESSOR, sum, rows, N(rows), sizeof(type), NULL, fn}

static const sky__component c_console = {
    "console", SKY__KIND_SINK, "terminal or standard stream (sky_sink_console)", console_opts,
    N(console_opts), sizeof(sky_console_opts), build_console, NULL, .env_default_on = true};
static const sky__component c_file =
    SINK("file", "JSON-lines file with rotation (sky_sink_file)", file_opts, sky_file_opts,
         build_file);
static const sky__component c_cwl =
    SINK("cloudwatch_logs", "CloudWatch Logs (sky_sink_cloudwatch_logs, docs/CLOUDWATCH.md)",
         cwl_opts, cwl_cfg, build_cwl);
static const sky__component c_metrics_emf =
    SINK("metrics_emf", "metrics as EMF records to stdout or a file (docs/METRICS.md)",
         metrics_emf_opts, metrics_emf_cfg, build_metrics_emf);
static const sky__component c_metrics_cw =
    SINK("metrics_cloudwatch", "metrics with CloudWatch PutMetricData (docs/METRICS.md)",
         metrics_cw_opts, sky_cwm_opts, build_metrics_cw);
static const sky__component c_metrics_statsd =
    SINK("metrics_statsd", "metrics as StatsD/DogStatsD over UDP (docs/METRICS.md)",
         metrics_statsd_opts, sky_statsd_opts, build_metrics_statsd);
static const sky__component c_http =
    SINK("http", "batches to any HTTP endpoint: {\"logs\":[...]}, array or ND-JSON (sky_sink_http)",
         http_opts, sky_http_sink_opts, build_http);
static const sky__component c_otlp =
    SINK("otlp", "OpenTelemetry OTLP/HTTP exporter of logs and traces, JSON or protobuf (sky_sink_otlp)", otlp_opts,
         sky_otlp_opts, build_otlp);
static const sky__component c_audit =
    SINK("audit", "hash-chained audit trail (sky_sink_audit, docs/AUDIT.md)", audit_opts,
         sky_audit_opts, build_audit);
static const sky__component c_enrich =
    PROC("enrich", "adds service/environment/version/hostname/pid fields (sky_add_enrich)",
         enrich_opts, sky_enrich_opts, add_enrich);
static const sky__component c_redact = {
    "redact", SKY__KIND_PROCESSOR, "replaces secrets with a placeholder (sky_add_redact)",
    redact_opts, N(redact_opts), sizeof(sky_redact_opts), NULL, add_redact,
    .env_default_on = true};
static const sky__component c_sample = PROC(
    "sample", "keeps a fraction of events per level (sky_add_sampler)", sample_opts,
    sky_sample_opts, add_sample);
static const sky__component c_level_filter =
    PROC("level_filter", "drops events below a level (sky_add_level_filter)",
         level_filter_opts_rows, level_filter_opts, add_level_filter);
static const sky__component c_event_filter =
    PROC("event_filter", "keeps or drops events by name glob (sky_add_event_filter)",
         event_filter_rows, event_filter_opts, add_event_filter);
static const sky__component c_rate_limit =
    PROC("rate_limit", "token bucket per event name (sky_add_rate_limit)", rate_limit_rows,
         rate_limit_opts, add_rate_limit);
static const sky__component c_sampler =
    PROC("system_metrics", "samples the process's CPU %, RSS, threads and open fds from /proc "
         "(sky_sampler_start, docs/METRICS.md); not an event processor", sampler_rows,
         sampler_cfg, add_sampler);
static const sky__component c_log_metrics =
    PROC("metrics", "metrics from log events: counts, histograms, gauges (sky_add_log_metrics, "
         "docs/METRICS.md)", log_metrics_rows, log_metrics_cfg, add_log_metrics);
static const sky__component c_security = PROC(
    "security_monitor",
    "windows and thresholds per key that emit security_alert events (sky_add_security_monitor)",
    security_rows, sky_security_opts, add_security);

const sky__component *const sky__config_components[] = {
    &c_console, &c_file, &c_cwl, &c_http, &c_otlp, &c_audit, &c_metrics_emf, &c_metrics_cw,
    &c_metrics_statsd, &c_enrich, &c_redact, &c_sample, &c_level_filter, &c_event_filter,
    &c_rate_limit, &c_log_metrics, &c_sampler, &c_security, NULL};

const sky__component *sky__config_find(const char *name)
{
    for (size_t i = 0; sky__config_components[i]; i++)
        if (strcmp(sky__config_components[i]->name, name) == 0)
            return sky__config_components[i];
    return NULL;
}

const sky__opt *sky__config_find_opt(const sky__component *c, const char *name)
{
    for (size_t i = 0; i < c->n_opts; i++)
        if (strcmp(c->opts[i].name, name) == 0)
            return &c->opts[i];
    return NULL;
}

/* Levenshtein distance, bounded to short words (option names are). */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 64;
    size_t prev[64], cur[64];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (tolower((unsigned char)a[i - 1]) !=
                                        tolower((unsigned char)b[j - 1]));
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (lb + 1) * sizeof prev[0]);
    }
    return prev[lb];
}

const char *sky__config_suggest(const char *word, const char *const *candidates, size_t n)
{
    const char *best = NULL;
    size_t best_d = (size_t)-1, len = strlen(word);
    size_t limit = len <= 4 ? 1 : (len <= 8 ? 2 : 3);
    for (size_t i = 0; i < n; i++) {
        size_t d = edit_distance(word, candidates[i]);
        if (d < best_d) {
            best_d = d;
            best = candidates[i];
        }
    }
    return best && best_d <= limit ? best : NULL;
}

/* ---- value parsing --------------------------------------------------------------------------- */

const char *sky__opt_type_name(sky__opt_type t)
{
    static const char *const names[] = {"string", "int",  "number", "size",
                                        "duration", "bool", "enum",   "list"};
    return (unsigned)t < N(names) ? names[t] : "?";
}

static void enum_list(const sky__opt *row, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = 0;
    size_t shown = row->values == level_vals ? LEVEL_SHOWN : SIZE_MAX;
    for (size_t i = 0; row->values[i].name && i < shown && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", row->values[i].name);
}

void sky__opt_describe(const sky__opt *row, char *buf, size_t cap)
{
    char vals[256];
    switch (row->type) {
    case SKY__OPT_STRING: snprintf(buf, cap, "a string"); break;
    case SKY__OPT_INT:
        if (row->max)
            snprintf(buf, cap, "an integer from %" PRId64 " to %" PRId64 "%s", row->min, row->max,
                     row->base == 8 ? " (octal)" : "");
        else
            snprintf(buf, cap, "an integer");
        break;
    case SKY__OPT_NUMBER: snprintf(buf, cap, "a number from %g to %g", row->dmin, row->dmax); break;
    case SKY__OPT_SIZE: snprintf(buf, cap, "a size like 4096, 64k, 100M or 1G"); break;
    case SKY__OPT_DURATION:
        snprintf(buf, cap, "a duration like 250ms, 30s, 5m or 1h (a bare number is in %s)",
                 row->unit_ms == 1000 ? "seconds" : "milliseconds");
        break;
    case SKY__OPT_BOOL: snprintf(buf, cap, "true/false, yes/no, on/off or 1/0"); break;
    case SKY__OPT_ENUM:
        enum_list(row, vals, sizeof vals);
        snprintf(buf, cap, "one of: %s", vals);
        break;
    case SKY__OPT_LIST: snprintf(buf, cap, "a list of strings"); break;
    default: snprintf(buf, cap, "?"); break;
    }
    size_t l = strlen(buf);
    /* "from 1 to 10000" already says 0 is out */
    bool range_says = row->type == SKY__OPT_INT && row->max && row->min > 0;
    if (row->no_zero && !range_says && l < cap)
        snprintf(buf + l, cap - l, ", not 0");
}

typedef enum { NUM_OK, NUM_INVALID, NUM_RANGE } num_result;

/*
 * The one spelling of a number, shared by the YAML file, the environment and the CLI flags
 * (which parse through sky__opt_parse): digits, a '-' only where the row takes negatives (so
 * "-0" is refused where it is), no '+', no surrounding spaces (YAML strips a plain scalar's;
 * an environment variable's are kept and refused), and for a NUMBER row an optional fraction
 * and decimal exponent ("0.5", "1e-3") but none of strtod's hex floats, "inf" or "nan".
 */
static bool plain_number(const char *s, bool negative_ok, bool real)
{
    if (*s == '-' && negative_ok)
        s++;
    size_t digits = strspn(s, "0123456789");
    s += digits;
    if (real && *s == '.') {
        size_t frac = strspn(s + 1, "0123456789");
        digits += frac;
        s += 1 + frac;
    }
    if (!digits)
        return false;
    if (real && (*s == 'e' || *s == 'E')) {
        s += 1 + (s[1] == '-' || s[1] == '+');
        size_t exp = strspn(s, "0123456789");
        if (!exp)
            return false;
        s += exp;
    }
    return *s == 0;
}

static num_result parse_i64(const char *s, const sky__opt *row, int64_t *out)
{
    if (!plain_number(s, row->min < 0, false))
        return NUM_INVALID;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, row->base ? row->base : 10);
    if (*end)
        return NUM_INVALID; /* an 8 or 9 in an octal row */
    if (errno)
        return NUM_RANGE;
    *out = v;
    return NUM_OK;
}

/*
 * Sizes and durations are decimal numbers with a unit, converted exactly: "1.1s" is 1100 ms,
 * though 1.1 * 1000 is 1100.0000000000002 in a double. A number is digits with an optional
 * fraction (no sign, exponent or hex: "1e3" and "0x10" are not sizes anyone writes), at most
 * 19 significant integer digits and 9 fraction digits; the product is computed in 128 bits, so
 * "99999999999999TB" is out of range, never a wrapped value.
 */

typedef struct decimal {
    unsigned __int128 num; /* the value times 10^frac */
    unsigned frac;         /* fraction digits kept (trailing zeros dropped) */
} decimal;

/* Reads the number at *s; *s moves past it. */
static num_result parse_decimal(const char **s, decimal *d)
{
    const char *p = *s;
    if (!isdigit((unsigned char)*p))
        return NUM_INVALID;
    while (*p == '0' && isdigit((unsigned char)p[1]))
        p++;
    unsigned __int128 num = 0;
    unsigned digits = 0;
    for (; isdigit((unsigned char)*p); p++, digits++) {
        if (digits == 19)
            return NUM_RANGE; /* >= 10^19 > INT64_MAX before any unit */
        num = num * 10 + (unsigned)(*p - '0');
    }
    unsigned frac = 0;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return NUM_INVALID;
        const char *f = p;
        while (isdigit((unsigned char)*p))
            p++;
        const char *fe = p;
        while (fe > f && fe[-1] == '0')
            fe--;
        if (fe - f > 9)
            return NUM_INVALID; /* finer than a nanosecond or a byte anyone means */
        for (; f < fe; f++, frac++)
            num = num * 10 + (unsigned)(*f - '0');
    }
    *s = p;
    d->num = num;
    d->frac = frac;
    return NUM_OK;
}

/* d * mul / div as an exact integer <= max; NUM_INVALID if it is not an integer. */
static num_result scale_exact(const decimal *d, uint64_t mul, uint64_t div, int64_t max,
                              int64_t *out)
{
    unsigned __int128 den = div;
    for (unsigned i = 0; i < d->frac; i++)
        den *= 10; /* <= 10^9 * 3.6e6: no overflow */
    /* a product past 2^128 would be far past INT64_MAX once divided */
    if (d->num > ~(unsigned __int128)0 / mul)
        return NUM_RANGE;
    unsigned __int128 v = d->num * mul;
    if (v % den)
        return NUM_INVALID;
    v /= den;
    if (v > (unsigned __int128)max)
        return NUM_RANGE;
    *out = (int64_t)v;
    return NUM_OK;
}

/* "100M" -> 104857600. Accepts an optional space and a B/iB after the suffix. */
static num_result parse_size(const char *s, int64_t *out)
{
    decimal d;
    num_result r = parse_decimal(&s, &d);
    if (r != NUM_OK)
        return r;
    const char *end = s;
    while (*end == ' ')
        end++;
    uint64_t mul = 1;
    switch (*end) {
    case 'k': case 'K': mul = (uint64_t)1 << 10; end++; break;
    case 'm': case 'M': mul = (uint64_t)1 << 20; end++; break;
    case 'g': case 'G': mul = (uint64_t)1 << 30; end++; break;
    case 't': case 'T': mul = (uint64_t)1 << 40; end++; break;
    default: break;
    }
    if (mul > 1 && *end == 'i')
        end++;
    if (*end == 'B' || (*end == 'b' && mul == 1 && end[1] == 0))
        end++;
    if (*end)
        return NUM_INVALID;
    return scale_exact(&d, mul, 1, INT64_MAX, out);
}

/* "1.5s" -> 1500 (unit_ms 1). Invalid for a value that is not a whole number of units. */
static num_result parse_duration(const char *s, int unit_ms, int64_t *out)
{
    decimal d;
    num_result r = parse_decimal(&s, &d);
    if (r != NUM_OK)
        return r;
    static const struct {
        const char *suffix;
        uint64_t ms;
    } units[] = {{"", 0}, {"ms", 1}, {"s", 1000}, {"m", 60000}, {"min", 60000},
                 {"h", 3600000}, {"d", 86400000}};
    for (size_t i = 0; i < N(units); i++)
        if (strcmp(s, units[i].suffix) == 0) {
            uint64_t ms = units[i].ms ? units[i].ms : (uint64_t)unit_ms;
            return scale_exact(&d, ms, (uint64_t)unit_ms, INT64_MAX, out);
        }
    return NUM_INVALID;
}

static bool parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no",
                                                                                 "off", "0"};
    for (size_t i = 0; i < N(yes); i++) {
        if (strcasecmp(s, yes[i]) == 0)
            return *out = true, true;
        if (strcasecmp(s, no[i]) == 0)
            return *out = false, true;
    }
    return false;
}

bool sky__opt_parse(const sky__opt *row, const char *text, sky__value *out, char *err,
                    size_t errcap)
{
    char what[300];
    memset(out, 0, sizeof *out);
    out->text = text;
    bool ok = true, range = false, overflow = false;
    switch (row->type) {
    case SKY__OPT_STRING:
        out->s = text;
        break;
    case SKY__OPT_INT: {
        num_result r = parse_i64(text, row, &out->i);
        ok = r != NUM_INVALID;
        overflow = r == NUM_RANGE;
        range = overflow || (ok && (out->i < row->min || (row->max && out->i > row->max)));
        break;
    }
    case SKY__OPT_NUMBER:
        ok = plain_number(text, row->dmin < 0, true);
        if (ok) {
            errno = 0;
            out->d = strtod(text, NULL);
            /* "1e999" is a plain number too large for a double: out of range, not invalid */
            overflow = errno == ERANGE && !isfinite(out->d);
        }
        range = ok && (overflow || out->d < row->dmin || out->d > row->dmax);
        break;
    case SKY__OPT_SIZE:
    case SKY__OPT_DURATION: {
        num_result r = row->type == SKY__OPT_SIZE
                           ? parse_size(text, &out->i)
                           : parse_duration(text, row->unit_ms ? row->unit_ms : 1, &out->i);
        ok = r != NUM_INVALID;
        overflow = r == NUM_RANGE;
        range = r == NUM_RANGE || (ok && (out->i < row->min || (row->max && out->i > row->max)));
        break;
    }
    case SKY__OPT_BOOL: {
        bool b = false;
        ok = parse_bool(text, &b);
        out->i = b;
        break;
    }
    case SKY__OPT_ENUM:
        ok = false;
        for (size_t i = 0; row->values[i].name; i++)
            if (strcasecmp(row->values[i].name, text) == 0) {
                out->i = row->values[i].value;
                ok = true;
            }
        if (!ok) {
            enum_list(row, what, sizeof what);
            const char *names[32];
            size_t n = 0;
            for (; row->values[n].name && n < N(names); n++)
                names[n] = row->values[n].name;
            const char *sug = sky__config_suggest(text, names, n);
            if (sug)
                snprintf(err, errcap, "unknown value '%s' (did you mean '%s'?); expected one of: %s",
                         text, sug, what);
            else
                snprintf(err, errcap, "unknown value '%s'; expected one of: %s", text, what);
            return false;
        }
        break;
    case SKY__OPT_LIST:
    default:
        snprintf(err, errcap, "internal: cannot parse a %s from text", sky__opt_type_name(row->type));
        return false;
    }
    if (ok && !overflow && row->no_zero && out->i == 0 &&
        (row->type == SKY__OPT_INT || row->type == SKY__OPT_SIZE ||
         row->type == SKY__OPT_DURATION)) {
        snprintf(err, errcap,
                 "0 is not accepted: it would not mean none or off but the default (%s); leave "
                 "the option out for the default",
                 row->def ? row->def : "see the docs");
        return false;
    }
    if (!ok || range) {
        sky__opt_describe(row, what, sizeof what);
        snprintf(err, errcap, "%s '%s'; expected %s", range ? "out of range:" : "invalid value",
                 text, what);
        return false;
    }
    return true;
}

void sky__opt_store(const sky__opt *row, void *obj, const sky__value *v)
{
    if (row->set) {
        row->set(obj, row, v);
        return;
    }
    char *p = (char *)obj + row->offset;
    switch (row->type) {
    case SKY__OPT_STRING: memcpy(p, &v->s, sizeof v->s); return;
    case SKY__OPT_LIST: memcpy(p, &v->list, sizeof v->list); return;
    case SKY__OPT_NUMBER:
        if (row->width == sizeof(double))
            memcpy(p, &v->d, sizeof(double));
        return;
    case SKY__OPT_BOOL:
        if (row->width == sizeof(bool)) {
            bool b = v->i != 0;
            memcpy(p, &b, sizeof b);
            return;
        }
        break;
    default: break;
    }
    /* Integers of any width (enums are int-sized). Ranges were checked by the parser. */
    switch (row->width) {
    case 1: { int8_t x = (int8_t)v->i; memcpy(p, &x, 1); break; }
    case 2: { int16_t x = (int16_t)v->i; memcpy(p, &x, 2); break; }
    case 4: { int32_t x = (int32_t)v->i; memcpy(p, &x, 4); break; }
    case 8: { int64_t x = v->i; memcpy(p, &x, 8); break; }
    default: break;
    }
}

/* ---- the environment ------------------------------------------------------------------------ */

bool sky__env_name(const sky__component *c, const sky__opt *row, char *buf, size_t cap)
{
    int n = c == &sky__config_pipeline
                ? snprintf(buf, cap, "SKYLOG_%s", row->name)
                : snprintf(buf, cap, "SKYLOG_%s__%s", c->name, row->name);
    if (n < 0 || (size_t)n >= cap)
        return false;
    for (char *p = buf; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    return true;
}

const sky__env_alias sky__env_aliases[] = {
    {"SKYLOG_CONSOLE", "console", "stream", true},
    {"SKYLOG_FORMAT", "console", "format", false},
    {"SKYLOG_FILE", "file", "path", false},
    {"SKYLOG_FILE_MAX_BYTES", "file", "max_bytes", false},
    {"SKYLOG_FILE_BACKUPS", "file", "max_backups", false},
    {"SKYLOG_SERVICE", "enrich", "service", false},
    {"SKYLOG_ENVIRONMENT", "enrich", "environment", false},
    {"SKYLOG_VERSION", "enrich", "version", false},
    {"SKYLOG_REDACT", "redact", NULL, false},
    {"SKYLOG_CLOUDWATCH_GROUP", "cloudwatch_logs", "log_group", false},
    {"SKYLOG_CLOUDWATCH_STREAM", "cloudwatch_logs", "log_stream", false},
    {"SKYLOG_CLOUDWATCH_RETENTION_DAYS", "cloudwatch_logs", "retention_days", false},
    {NULL, NULL, NULL, false}};

const sky__env_alias *sky__env_alias_of(const sky__component *c, const sky__opt *row)
{
    for (const sky__env_alias *a = sky__env_aliases; a->name; a++)
        if (strcmp(a->section, c->name) == 0 &&
            (row ? a->option && strcmp(a->option, row->name) == 0
                 : (!a->option || a->off_word)))
            return a;
    return NULL;
}

const char *const sky__env_other[] = {"SKYLOG_CONFIG",  "SKYLOG_LIBCURL",
                                      "SKYLOG_LIBCRYPTO", "SKYLOG_LIBSSL",
                                      "SKYLOG_HTTP_TRANSPORT", NULL};
const char *const sky__env_other_desc[] = {
    "path of a YAML file describing the pipeline; then only the pipeline's own variables apply",
    "path or soname of libcurl to load (default libcurl.so.4, then libcurl-gnutls.so.4)",
    "path or soname of libcrypto to load (default libcrypto.so.3, then libcrypto.so.1.1)",
    "path or soname of libssl for the native HTTP transport (default libssl.so.3, then "
    "libssl.so.1.1)",
    "HTTP transport of every client, over each one's http_transport: auto (skylog's own HTTP/1.1 "
    "client, libcurl for a request a proxy variable applies to; the default), native (never "
    "libcurl; a proxied URL is refused) or curl",
    NULL};

/* ---- printing values ------------------------------------------------------------------------ */

void sky__scrub_userinfo(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    if (!cap)
        return;
#define PUT(ch)                                                                                    \
    do {                                                                                           \
        char c_ = (ch); /* evaluated (and `in` moved) even when `out` is full */                  \
        if (o + 1 < cap)                                                                           \
            out[o++] = c_;                                                                         \
    } while (0)
    while (*in) {
        const char *sep = strstr(in, "://");
        if (!sep) {
            while (*in)
                PUT(*in++);
            break;
        }
        const char *auth = sep + 3;
        while (in < auth)
            PUT(*in++);
        /* the authority ends at the path, query, fragment, or whatever cannot be in a URL
         * (a quote or space of the message around it) */
        size_t alen = strcspn(auth, "/?#'\" \t\r\n<>`");
        const char *at = NULL;
        for (size_t i = 0; i < alen; i++)
            if (auth[i] == '@')
                at = auth + i;
        if (at) {
            const char *colon = memchr(auth, ':', (size_t)(at - auth));
            if (colon)
                while (in <= colon)
                    PUT(*in++);
            for (const char *r = "***"; *r; r++)
                PUT(*r);
            in = at;
        }
    }
#undef PUT
    out[o] = 0;
}

/* ---- listings -------------------------------------------------------------------------------- */

/* The variable(s) of a row, as listings show them: "SKYLOG_FILE__PATH (or SKYLOG_FILE)". */
static void env_label(const sky__component *section, const sky__opt *r, bool md, char *buf,
                      size_t cap)
{
    char name[96];
    sky__env_name(section, r, name, sizeof name);
    const sky__env_alias *a = section == &sky__config_pipeline ? NULL
                                                                : sky__env_alias_of(section, r);
    if (a)
        snprintf(buf, cap, md ? "`%s` (or `%s`)" : "%s (or %s)", name, a->name);
    else
        snprintf(buf, cap, md ? "`%s`" : "%s", name);
}

static void print_text_rows(const sky__component *c, const sky__component *section, FILE *out)
{
    for (size_t i = 0; i < c->n_opts; i++) {
        const sky__opt *r = &c->opts[i];
        char what[300], env[200];
        sky__opt_describe(r, what, sizeof what);
        fprintf(out, "  %-22s %-8s %s%s\n", r->name, sky__opt_type_name(r->type), r->desc,
                r->required ? " (required)" : "");
        fprintf(out, "  %-22s %-8s %s", "", "", what);
        if (r->def)
            fprintf(out, "; default %s", r->def);
        fputc('\n', out);
        if (section) {
            env_label(section, r, false, env, sizeof env);
            fprintf(out, "  %-22s %-8s env %s\n", "", "", env);
        }
    }
}

void sky__config_print_text(const sky__component *c, FILE *out)
{
    fprintf(out, "%s: %s\n", c->name, c->summary);
    /* the route keys have a variable per sink: listed with each sink */
    print_text_rows(c, c == &sky__config_route ? NULL : c, out);
    if (c->kind == SKY__KIND_SINK && c != &sky__config_route) {
        fprintf(out, "  (and the route keys every sink accepts: level, name)\n");
        print_text_rows(&sky__config_route, c, out);
    }
    const sky__env_alias *sw = c->env_default_on ? sky__env_alias_of(c, NULL) : NULL;
    if (sw)
        fprintf(out, "  (from the environment it is on unless %s=%s)\n", sw->name,
                sw->off_word ? "off" : "0");
}

void sky__config_print_markdown(const sky__component *c, FILE *out)
{
    fprintf(out, "#### `%s`\n\n%s.\n\n| option | type | default | description |\n|---|---|---|---|\n",
            c->name, c->summary);
    for (size_t i = 0; i < c->n_opts; i++) {
        const sky__opt *r = &c->opts[i];
        char what[300] = "";
        /* The type column says enough for the others; ranges and names need the detail. */
        if (r->type == SKY__OPT_ENUM || r->type == SKY__OPT_NUMBER ||
            (r->type == SKY__OPT_INT && r->max))
            sky__opt_describe(r, what, sizeof what);
        else if (r->no_zero)
            snprintf(what, sizeof what, "not 0 (leave it out for the default)");
        fprintf(out, "| `%s` | %s | %s | %s%s%s |\n", r->name, sky__opt_type_name(r->type),
                r->required ? "**required**" : (r->def ? r->def : ""), r->desc, *what ? "; " : "",
                what);
    }
    fputc('\n', out);
}

static void print_env_row(FILE *out, bool md, const char *name, const char *type,
                          const char *what)
{
    if (md)
        fprintf(out, "| `%s` | %s | %s |\n", name, type, what);
    else
        fprintf(out, "%-48s %-8s %s\n", name, type, what);
}

void sky__config_print_env(FILE *out, bool md)
{
    char name[96], what[256];
    if (md)
        fputs("| variable | type | sets |\n|---|---|---|\n", out);
    const sky__component *all[40];
    size_t n = 0;
    all[n++] = &sky__config_pipeline;
    for (size_t i = 0; sky__config_components[i] && n < 40; i++)
        all[n++] = sky__config_components[i];
    for (size_t k = 0; k < n; k++) {
        const sky__component *c = all[k];
        const sky__env_alias *sw = c->env_default_on ? sky__env_alias_of(c, NULL) : NULL;
        if (sw && !sw->option) {
            snprintf(what, sizeof what, "%s: on (default) or off", c->name);
            print_env_row(out, md, sw->name, "bool", what);
        }
        for (int pass = 0; pass < 2; pass++) {
            const sky__component *rows = pass ? &sky__config_route : c;
            if (pass && c->kind != SKY__KIND_SINK)
                break;
            for (size_t i = 0; i < rows->n_opts; i++) {
                const sky__opt *r = &rows->opts[i];
                sky__env_name(c, r, name, sizeof name);
                if (c == &sky__config_pipeline)
                    snprintf(what, sizeof what, "`%s` (top-level key)", r->name);
                else
                    snprintf(what, sizeof what, "%s.%s%s", c->name, r->name,
                             pass ? " (route)" : "");
                if (!md) /* the backquotes are Markdown */
                    for (char *p = what, *q = what;; p++) {
                        if (*p != '`')
                            *q++ = *p;
                        if (!*p)
                            break;
                    }
                print_env_row(out, md, name, sky__opt_type_name(r->type), what);
                const sky__env_alias *a = c == &sky__config_pipeline || pass
                                              ? NULL
                                              : sky__env_alias_of(c, r);
                if (a) {
                    char alias_what[300];
                    snprintf(alias_what, sizeof alias_what, "alias of %s%s", name,
                             a->off_word ? ", or off: no console sink" : "");
                    print_env_row(out, md, a->name, sky__opt_type_name(r->type), alias_what);
                }
            }
        }
    }
    for (size_t i = 0; sky__env_other[i]; i++)
        print_env_row(out, md, sky__env_other[i], "string", sky__env_other_desc[i]);
}

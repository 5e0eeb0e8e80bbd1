/*
 * sky_http_tool.c - drives the generic HTTP sink and the OTLP exporter for
 * tests/integration/test_http_sinks.py.
 *
 *   sky_http_tool http|otlp URL N [key=value ...]
 *
 * Logs N events "ev" (async pipeline) with typed fields: i (int), s (a string with a quote,
 * a newline and non-ASCII), f (double i + 0.5), b (bool: i even), z (null), u (uint
 * 18446744073709551615), e (errno ENOENT), d (1.5 ms), nan (NaN), t (a time), and the even
 * ones inside a span (trace_id, span_id). Then flushes
 * (60 s at most), prints the sink's counters as one JSON line, and closes.
 * Options: body=logs|array|ndjson, gzip=1, batch_size=, max_backoff_ms=, api_key=,
 * bearer_token=, headers=, service_name=, flush_interval_ms=, max_event_bytes=,
 * max_queue_size=, protocol=http/json|http/protobuf (otlp; anything else: an invalid
 * value), flush_ms= (the flush's
 * bound), big=1 (every 7th event gets a 2000-byte string), signals=logs|traces|logs,traces
 * (otlp), spans=1 (the spans of the even events log span_finished to the tool's logger, and
 * each has a child span "step" inside it, failed "boom" when i % 4 == 0, with a context
 * field request_id), traceparent= and tracestate= (the work spans continue the trace those
 * headers carry), lookalikes=1 (each odd event is followed by an application's own events
 * named "request" and "span_finished", shaped as the library's, inside a span: log records,
 * never spans). URL "-": no endpoint option (the environment's). With an otlp sink that
 * exports traces, the traces signal's counters follow, prefixed "traces_".
 */
#include <skylog.h>
#include <skylog/http_sink.h>
#include <skylog/trace.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *opt(int argc, char **argv, const char *key)
{
    size_t n = strlen(key);
    for (int i = 4; i < argc; i++)
        if (!strncmp(argv[i], key, n) && argv[i][n] == '=')
            return argv[i] + n + 1;
    return NULL;
}

static void print_stats(const char *p, const sky_http_sink_stats *s)
{
    printf("\"%sreceived\":%llu,\"%ssent_events\":%llu,\"%squeued_events\":%llu,"
           "\"%srequests\":%llu,\"%sretries\":%llu,\"%sthrottles\":%llu,\"%sambiguous\":%llu,"
           "\"%ssplits\":%llu,\"%sskipped\":%llu,\"%spartial_rejected\":%llu,"
           "\"%slast_status\":%ld",
           p, (unsigned long long)s->received, p, (unsigned long long)s->sent_events, p,
           (unsigned long long)s->queued_events, p, (unsigned long long)s->requests, p,
           (unsigned long long)s->retries, p, (unsigned long long)s->throttles, p,
           (unsigned long long)s->ambiguous, p, (unsigned long long)s->splits, p,
           (unsigned long long)s->skipped, p, (unsigned long long)s->partial_rejected, p,
           s->last_status);
    for (int d = 0; d < SKY_HTTP_DROP_COUNT_; d++)
        printf(",\"%sdropped_%s\":%llu", p, sky_http_drop_name((sky_http_drop)d),
               (unsigned long long)s->dropped[d]);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: sky_http_tool http|otlp URL N [key=value ...]\n");
        return 2;
    }
    bool otlp = !strcmp(argv[1], "otlp");
    long n = strtol(argv[3], NULL, 10);
    sky_http_batch_opts b = {0};
    const char *v;
    if ((v = opt(argc, argv, "gzip")))
        b.gzip = atoi(v) != 0;
    if ((v = opt(argc, argv, "batch_size")))
        b.batch_size = (size_t)atol(v);
    if ((v = opt(argc, argv, "max_backoff_ms")))
        b.max_backoff_ms = atol(v);
    if ((v = opt(argc, argv, "flush_interval_ms")))
        b.flush_interval_ms = atol(v);
    if ((v = opt(argc, argv, "max_queue_size")))
        b.max_queue_size = (size_t)atol(v);
    if ((v = opt(argc, argv, "max_event_bytes")))
        b.max_event_bytes = (size_t)atol(v);
    b.api_key = opt(argc, argv, "api_key");
    b.bearer_token = opt(argc, argv, "bearer_token");
    b.headers = opt(argc, argv, "headers");
    bool big = opt(argc, argv, "big") != NULL;
    bool spans = opt(argc, argv, "spans") != NULL;
    bool lookalikes = opt(argc, argv, "lookalikes") != NULL;
    sky_trace_ctx remote, *parent = NULL;
    const char *tp = opt(argc, argv, "traceparent"), *ts = opt(argc, argv, "tracestate");
    if (tp) {
        if (!sky_traceparent_parse(tp, strlen(tp), &remote)) {
            fprintf(stderr, "traceparent: invalid\n");
            return 2;
        }
        if (ts && !sky_tracestate_parse(ts, strlen(ts), &remote)) {
            fprintf(stderr, "tracestate: invalid\n");
            return 2;
        }
        parent = &remote;
    }

    sky_sink *sink = NULL;
    char *err = NULL;
    sky_status st;
    if (otlp) {
        sky_otlp_opts o = {.endpoint = strcmp(argv[2], "-") ? argv[2] : NULL,
                           .service_name = opt(argc, argv, "service_name"),
                           .resource_attributes = "deployment.environment=test,team=a%2Cb",
                           .batch = b};
        const char *proto = opt(argc, argv, "protocol");
        if (proto)
            o.protocol = !strcmp(proto, "http/protobuf") ? SKY_OTLP_HTTP_PROTOBUF
                         : !strcmp(proto, "http/json")   ? SKY_OTLP_HTTP_JSON
                                                         : (sky_otlp_protocol)99;
        const char *sig = opt(argc, argv, "signals");
        if (sig)
            o.signals = !strcmp(sig, "logs")     ? SKY_OTLP_LOGS
                        : !strcmp(sig, "traces") ? SKY_OTLP_TRACES
                                                 : SKY_OTLP_LOGS | SKY_OTLP_TRACES;
        st = sky_sink_otlp(&o, &sink, &err);
    } else {
        sky_http_sink_opts o = {.url = argv[2], .batch = b};
        const char *body = opt(argc, argv, "body");
        if (body && !strcmp(body, "array"))
            o.body = SKY_HTTP_BODY_ARRAY;
        else if (body && !strcmp(body, "ndjson"))
            o.body = SKY_HTTP_BODY_NDJSON;
        st = sky_sink_http(&o, &sink, &err);
    }
    if (st != SKY_OK) {
        fprintf(stderr, "sink: %s\n", err ? err : sky_strerror(st));
        return 1;
    }
    sky_t *sky;
    sky_open(&(sky_options){.mode = SKY_MODE_ASYNC}, &sky);
    sky_add_sink(sky, sink, NULL);
    sky_logger *log = sky_logger_get(sky, "tool");
    char *pad = malloc(2001);
    memset(pad, 'p', 2000);
    pad[2000] = '\0';
    for (long i = 0; i < n; i++) {
        const char *s = big && i % 7 == 3 ? pad : "q\"uo\nte \xc3\xa9";
        if (i % 2 == 0) {
            sky_span sp;
            sky_span_begin(&sp, spans ? log : NULL, "work", parent);
            /* every kind in turn (0..4: INTERNAL, SERVER, CLIENT, PRODUCER, CONSUMER): the
             * work span of event i has kind i/2 % 5, its step (i/2 + 4) % 5 */
            sky_span_set_kind(&sp, (sky_span_kind)(i / 2 % 5));
            sky_info(log, "ev", SKY_INT("i", i), SKY_STR("s", s), SKY_F64("f", (double)i + 0.5),
                     SKY_BOOL("b", true), SKY_NULL("z"), SKY_UINT("u", UINT64_MAX),
                     SKY_ERRNO("e", ENOENT), SKY_DUR("d", 1500000), SKY_F64("nan", NAN),
                     SKY_TIME("t", 1700000000123000000LL));
            if (spans) {
                sky_field ctx[] = {SKY_STR("request_id", "req-1"), SKY_INT("i", i)};
                sky_context_push(ctx, 2);
                sky_span step;
                sky_span_begin(&step, log, "step", NULL);
                sky_span_set_kind(&step, (sky_span_kind)((i / 2 + 4) % 5));
                if (i % 4 == 0)
                    sky_span_fail(&step, "boom");
                else if (i % 8 == 2)
                    sky_span_set_status(&step, SKY_SPAN_OK); /* explicit: STATUS_CODE_OK */
                sky_span_end(&step);
                sky_context_pop();
            }
            sky_span_end(&sp);
        } else {
            sky_info(log, "ev", SKY_INT("i", i), SKY_STR("s", s), SKY_F64("f", (double)i + 0.5),
                     SKY_BOOL("b", false), SKY_NULL("z"), SKY_UINT("u", UINT64_MAX),
                     SKY_ERRNO("e", ENOENT), SKY_DUR("d", 1500000), SKY_F64("nan", NAN),
                     SKY_TIME("t", 1700000000123000000LL));
            if (lookalikes) { /* an application's events, named as the library's */
                sky_span sp;
                sky_span_begin(&sp, NULL, "app", NULL);
                sky_field f[] = {SKY_STR("method", "GET"), SKY_STR("path", "/"),
                                 SKY_INT("status", 200), SKY_UINT("bytes", 1),
                                 SKY_DUR("duration_ms", 1000000)};
                sky_emit(log, SKY_LEVEL_INFO, "request", NULL, f, 5);
                sky_info(log, "request", SKY_STR("method", "GET"), SKY_STR("path", "/"),
                         SKY_INT("status", 200), SKY_UINT("bytes", 1),
                         SKY_DUR("duration_ms", 1000000));
                sky_field g[] = {SKY_STR("span", "mine"), SKY_DUR("duration_ms", 1000000),
                                 SKY_STR("status", "ok")};
                sky_emit(log, SKY_LEVEL_INFO, "span_finished", NULL, g, 3);
                sky_span_end(&sp);
            }
        }
    }
    free(pad);
    const char *fms = opt(argc, argv, "flush_ms");
    sky_status fl = sky_flush(sky, fms ? atol(fms) : 60000);
    sky_http_sink_stats s = {0}; /* stays zero for an otlp sink that exports nothing */
    sky_http_sink_stats_get(sink, &s);
    printf("{\"flush\":\"%s\",", sky_strerror(fl));
    print_stats("", &s);
    if (otlp && sky_otlp_sink_stats_get(sink, SKY_OTLP_TRACES, &s) == SKY_OK) {
        printf(",");
        print_stats("traces_", &s);
    }
    printf("}\n");
    fflush(stdout);
    sky_close(sky);
    return 0;
}

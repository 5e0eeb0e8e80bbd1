/*
 * bench_trace.c - what tracing costs (issue 17): a span's begin and end, an id, parsing a
 * traceparent, and what a span's ids add to a log call, on the caller and on the worker.
 *
 *   bench_trace time [N]              ns per operation, N iterations (default 2,000,000),
 *                                     median of 3 runs (not log calls: see callgrind)
 *   bench_trace callgrind WHAT N      N iterations for `valgrind --tool=callgrind`; WHAT is
 *                                     ops (the noinline wrappers below), plain (N log calls
 *                                     outside any span) or span (the same N calls inside one
 *                                     span). Read the inclusive cost of each wrapper, and of
 *                                     worker_main, divided by N.
 *
 * Log calls go to an async pipeline whose one sink renders JSON and discards it (so the worker
 * does all its usual work and no I/O).
 */
#include <skylog.h>
#include <skylog/trace.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static sky_logger *lg;
static sky_span outer;
static volatile uint8_t sink_byte;

static sky_status discard(void *self, const sky_record *r, size_t n)
{
    (void)self;
    if (n)
        sink_byte = (uint8_t)r[n - 1].text[0];
    return SKY_OK;
}
static const sky_sink_vtable discard_vt = {.type = "discard", .write = discard};

__attribute__((noinline)) void bench_span_id(long i)
{
    uint8_t id[8];
    sky_span_id_new(id);
    sink_byte = id[i & 7];
}

__attribute__((noinline)) void bench_span(long i)
{
    (void)i;
    sky_span sp;
    sky_span_begin(&sp, NULL, "op", NULL); /* a child of `outer`: no new trace id */
    sky_span_end(&sp);
}

__attribute__((noinline)) void bench_root_span(long i)
{
    (void)i;
    sky_span sp;
    sky_trace_ctx none = {.valid = false};
    sky_span_leave(&outer);
    sky_span_begin(&sp, NULL, "op", &none); /* no parent: a new trace id */
    sky_span_end(&sp);
    sky_span_enter(&outer);
}

/* a span with one event inside (async): the span's first site event makes its context block */
__attribute__((noinline)) void bench_span_event(long i)
{
    sky_span sp;
    sky_span_begin(&sp, NULL, "op", NULL);
    sky_info(lg, "step", SKY_INT("i", i));
    sky_span_end(&sp);
}

static const char TP[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
__attribute__((noinline)) void bench_traceparent_parse(long i)
{
    sky_trace_ctx c;
    sky_traceparent_parse(TP, sizeof TP - 1, &c);
    sink_byte = c.span_id[i & 7];
}

__attribute__((noinline)) void bench_log(long i)
{
    sky_info(lg, "request_done", SKY_STR("path", "/api/orders"), SKY_INT("status", 200),
             SKY_F64("ms", (double)i * 0.5));
}

static int64_t mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static sky_t *sky;

static double timed(void (*fn)(long), long n)
{
    double r[3];
    for (int k = 0; k < 3; k++) {
        int64_t t0 = mono();
        for (long i = 0; i < n; i++)
            fn(i);
        r[k] = (double)(mono() - t0) / (double)n;
    }
    qsort(r, 3, sizeof *r, cmpd);
    return r[1];
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    sky_open(&(sky_options){.mode = SKY_MODE_ASYNC, .ring_bytes = 64u << 20}, &sky);
    sky_add_sink(sky, sky_sink_new(&discard_vt, NULL, SKY_FORMAT_JSON), NULL);
    lg = sky_logger_get(sky, "bench");
    if (!strcmp(argv[1], "time")) {
        long n = argc > 2 ? atol(argv[2]) : 2000000;
        sky_span_begin(&outer, NULL, "outer", NULL);
        printf("span id               %6.1f ns\n", timed(bench_span_id, n));
        printf("span begin+end        %6.1f ns (child)\n", timed(bench_span, n));
        printf("root span begin+end   %6.1f ns (new trace id)\n", timed(bench_root_span, n));
        printf("traceparent parse     %6.1f ns\n", timed(bench_traceparent_parse, n));
        /* log calls are not timed here: with the worker on the other core the caller's time
         * is the machine's load, not the call; callgrind counts it (plain, span) */
        sky_span_end(&outer);
        sky_close(sky);
        return 0;
    }
    if (!strcmp(argv[1], "callgrind") && argc == 4) {
        long n = atol(argv[3]);
        bool in_span = strcmp(argv[2], "plain") != 0;
        if (in_span)
            sky_span_begin(&outer, NULL, "outer", NULL);
        if (!strcmp(argv[2], "ops")) {
            for (long i = 0; i < n; i++)
                bench_span_id(i);
            for (long i = 0; i < n; i++)
                bench_span(i);
            for (long i = 0; i < n; i++)
                bench_root_span(i);
            for (long i = 0; i < n; i++)
                bench_traceparent_parse(i);
            for (long i = 0; i < n; i++)
                bench_span_event(i);
        } else {
            bench_log(0); /* the site's first call (schema, context block) is not the steady state */
            sky_flush(sky, 60000);
            for (long i = 0; i < n; i++)
                bench_log(i);
        }
        sky_flush(sky, 600000);
        if (in_span)
            sky_span_end(&outer);
        sky_close(sky);
        return 0;
    }
    return 2;
}

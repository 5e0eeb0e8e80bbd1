/* test_async.c - async mode (src/core/async.c, src/queue/ring.c): delivery and order under
 * concurrent producers, the three overflow policies with exact accounting, skylog.gap events,
 * too-large events, flush and close (with and without timeouts), fork in the middle of a burst,
 * the atexit flush of the default pipeline, SKYLOG_MODE=async.
 *
 * SKYLOG_STRESS_EVENTS sets the events per producer of the stress tests (default 1,000,000;
 * 100,000 in sanitizer builds, so `make test` stays fast but still pushes 400k events). */
#include "skytest.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#endif
#if defined(__SANITIZE_THREAD__)
#define TSAN 1
#endif

#define PRODUCERS 4
#define MAX_THREADS 8

static long stress_events(void)
{
    const char *v = getenv("SKYLOG_STRESS_EVENTS");
    if (v && *v)
        return atol(v);
#ifdef SANITIZED
    return 100000;
#else
    return 1000000;
#endif
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* ---- a counting sink: checks per-thread order, counts events and gap reports ---------------- */

typedef struct counter {
    long next[MAX_THREADS]; /* next expected sequence number per producer */
    long written;
    long out_of_order;
    long duplicates;
    long gaps;          /* skylog.gap events */
    long gap_dropped;   /* sum of their "dropped" */
    long gap_overflow;  /* ... with reason overflow */
    long gap_too_large; /* ... with reason too_large */
    bool strict;        /* every sequence number must arrive (block policy) */
    _Atomic int gate;   /* while 1, write() waits: simulates a stalled sink */
    _Atomic long tokens; /* with `metered`, each write() takes one, waiting for it */
    bool metered;
    long write_calls;
    long max_batch;
    int flushes;
    int closed;
    long sleep_ms;      /* per write() */
} counter;

static sky_status counter_write(void *self, const sky_record *recs, size_t n)
{
    counter *c = self;
    while (atomic_load(&c->gate))
        sleep_ms(1);
    while (c->metered) {
        long t = atomic_load(&c->tokens);
        if (t > 0 && atomic_compare_exchange_weak(&c->tokens, &t, t - 1))
            break;
        sched_yield();
    }
    if (c->sleep_ms)
        sleep_ms(c->sleep_ms);
    c->write_calls++;
    if ((long)n > c->max_batch)
        c->max_batch = (long)n;
    for (size_t i = 0; i < n; i++) {
        const sky_event *ev = recs[i].event;
        if (strcmp(sky_event_name(ev), "skylog.gap") == 0) {
            c->gaps++;
            const sky_field *d = sky_event_get(ev, "dropped");
            const sky_field *r = sky_event_get(ev, "reason");
            assert_non_null(d);
            assert_non_null(r);
            c->gap_dropped += (long)d->v.u;
            if (strncmp(r->v.str.ptr, "overflow", r->v.str.len) == 0)
                c->gap_overflow += (long)d->v.u;
            else if (strncmp(r->v.str.ptr, "too_large", r->v.str.len) == 0)
                c->gap_too_large += (long)d->v.u;
            assert_string_equal(sky_event_logger(ev), "skylog");
            assert_int_equal(sky_event_level(ev), SKY_LEVEL_WARN);
            continue;
        }
        const sky_field *t = sky_event_get(ev, "t");
        const sky_field *q = sky_event_get(ev, "i");
        if (!t || !q) {
            c->written++;
            continue;
        }
        long th = (long)t->v.i, seq = (long)q->v.i;
        assert_true(th >= 0 && th < MAX_THREADS);
        if (seq < c->next[th])
            c->duplicates++;
        else if (c->strict && seq != c->next[th])
            c->out_of_order++;
        c->next[th] = seq + 1;
        c->written++;
    }
    return SKY_OK;
}

static sky_status counter_flush(void *self, int64_t deadline)
{
    (void)deadline;
    ((counter *)self)->flushes++;
    return SKY_OK;
}

static void counter_close(void *self) { ((counter *)self)->closed++; }

static const sky_sink_vtable counter_vt = {
    .type = "counter", .write = counter_write, .flush = counter_flush, .close = counter_close,
};

static sky_t *open_async(counter *c, size_t ring, sky_overflow pol, int64_t block_ms)
{
    sky_t *sky = NULL;
    sky_options o = {.mode = SKY_MODE_ASYNC, .ring_bytes = ring, .overflow = pol,
                     .block_max_wait_ms = block_ms, .level = SKY_LEVEL_INFO, .level_set = true};
    assert_int_equal(sky_open(&o, &sky), SKY_OK);
    assert_int_equal(sky_add_sink(sky, sky_sink_new(&counter_vt, c, SKY_FORMAT_JSON), NULL),
                     SKY_OK);
    return sky;
}

typedef struct producer {
    sky_logger *log;
    int id;
    long n;
} producer;

static void *produce(void *arg)
{
    producer *p = arg;
    for (long i = 0; i < p->n; i++)
        sky_info(p->log, "tick", SKY_INT("t", p->id), SKY_INT("i", i), SKY_STR("user", "alice"));
    return NULL;
}

static void run_producers(sky_t *sky, int nthreads, long n)
{
    pthread_t th[MAX_THREADS];
    producer p[MAX_THREADS];
    for (int t = 0; t < nthreads; t++) {
        p[t] = (producer){.log = sky_logger_get(sky, "stress"), .id = t, .n = n};
        assert_int_equal(pthread_create(&th[t], NULL, produce, &p[t]), 0);
    }
    for (int t = 0; t < nthreads; t++)
        pthread_join(th[t], NULL);
}

static void assert_accounting(sky_t *sky)
{
    sky_stats st;
    sky_stats_get(sky, &st);
    uint64_t dropped = 0;
    for (int r = 0; r < SKY_DROP_REASON_COUNT_; r++)
        dropped += st.dropped[r];
    assert_int_equal(st.emitted, st.routed + dropped);
}

/* ---- tests ---------------------------------------------------------------------------------- */

/* The async router settles a batch's events as the sync one does, one by one: routed when some
 * sink that took the event wrote it, sink_error when every sink that took it failed, no_sink
 * when none took it, processor when a processor dropped it; sinks count what they filtered and
 * lost. Checked in both modes with the same calls, also for site events (sky_info) and calls
 * that take the general path (sky_emit). */
static sky_status always_fails(void *self, const sky_record *r, size_t n)
{
    (void)self, (void)r, (void)n;
    return SKY_EIO;
}
static const sky_sink_vtable failing_vt = {.type = "failing", .write = always_fails};

static void quiet_diag(void *user, sky_level level, const char *msg)
{
    (void)user, (void)level, (void)msg;
}

static long id_of(const sky_event *ev)
{
    const sky_field *f = sky_event_get(ev, "id");
    assert_non_null(f);
    return (long)f->v.i;
}
static bool not_div3(void *user, const sky_event *ev) { return (void)user, id_of(ev) % 3 != 0; }
static bool even(void *user, const sky_event *ev) { return (void)user, id_of(ev) % 2 == 0; }
static sky_proc_result drop_4_of_5(void *user, sky_event *ev)
{
    (void)user;
    return id_of(ev) % 5 == 4 ? SKY_PROC_DROP : SKY_PROC_KEEP;
}
static void acct_site(sky_logger *log, long i) { sky_info(log, "acct", SKY_INT("id", i)); }

static void test_batch_accounting_matches_sync(void **state)
{
    (void)state;
    enum { N = 300 };
    /* variant bits: 1 async, 2 a processor, 4 a failing sink */
    for (int v = 0; v < 8; v++) {
        bool async = v & 1, procs = v & 2, failing = v & 4;
        uint64_t proc = 0, r = 0, e = 0, none = 0;
        for (long i = 0; i < N; i++) {
            if (procs && i % 5 == 4)
                proc++;
            else if (i % 2 == 0)
                r++;
            else if (failing && i % 3 != 0)
                e++;
            else
                none++;
        }
        skytest_capture cap = {0};
        sky_t *sky = NULL;
        sky_options o = {.mode = async ? SKY_MODE_ASYNC : SKY_MODE_SYNC, .diag = quiet_diag};
        assert_int_equal(sky_open(&o, &sky), SKY_OK);
        sky_sink *bad = sky_sink_new(&failing_vt, NULL, SKY_FORMAT_JSON);
        if (failing)
            assert_int_equal(sky_add_sink(sky, bad, &(sky_route){.filter = not_div3}),
                             SKY_OK);
        else
            sky_sink_close(bad);
        assert_int_equal(sky_add_sink(sky, skytest_capture_sink(&cap, SKY_FORMAT_JSON),
                                      &(sky_route){.filter = even}),
                         SKY_OK);
        if (procs)
            assert_int_equal(sky_add_processor(sky, "drop", drop_4_of_5, NULL, NULL),
                             SKY_OK);
        sky_logger *log = sky_logger_get(sky, "acct");
        for (long i = 0; i < N; i++) {
            if (i % 2)
                acct_site(log, i);
            else
                sky_emit(log, SKY_LEVEL_INFO, "acct", NULL, (sky_field[]){SKY_INT("id", i)}, 1);
        }
        assert_int_equal(sky_flush(sky, 5000), SKY_OK);
        sky_stats st;
        sky_stats_get(sky, &st);
        assert_int_equal(st.emitted, N);
        assert_int_equal(st.dropped[SKY_DROP_PROCESSOR], proc);
        assert_int_equal(st.routed, r);
        assert_int_equal(st.dropped[SKY_DROP_SINK_ERROR], e);
        assert_int_equal(st.dropped[SKY_DROP_NO_SINK], none);
        assert_int_equal(st.dropped_by_level[SKY_LEVEL_INFO], proc + e + none);
        assert_int_equal(cap.n, r);
        sky_sink_stats ss;
        if (failing) {
            assert_int_equal(sky_sink_stats_get(sky, 0, NULL, &ss), SKY_OK);
            assert_int_equal(ss.filtered + ss.dropped, N - proc);
        }
        assert_int_equal(sky_sink_stats_get(sky, failing ? 1 : 0, NULL, &ss), SKY_OK);
        assert_int_equal(ss.written, r);
        assert_int_equal(ss.filtered, N - proc - r);
        assert_accounting(sky);
        assert_int_equal(sky_close(sky), SKY_OK);
        skytest_capture_reset(&cap);
    }
}

static void test_basic_delivery_and_stats(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = NULL;
    assert_int_equal(sky_open(&(sky_options){.mode = SKY_MODE_ASYNC}, &sky), SKY_OK);
    assert_int_equal(sky_add_sink(sky, skytest_capture_sink(&cap, SKY_FORMAT_JSON), NULL), SKY_OK);
    sky_logger *log = sky_logger_get(sky, "app");
    sky_logger *bound = SKY_BIND(log, SKY_STR("svc", "checkout"));
    SKY_WITH_CONTEXT(SKY_STR("request_id", "r-1")) {
        for (int i = 0; i < 1000; i++)
            sky_info(bound, "user_login", SKY_STR("user", "alice"), SKY_INT("id", i),
                     SKY_F64("ms", 1.5));
    }
    sky_debug(log, "hidden");
    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    assert_int_equal(cap.n, 1000);
    assert_true(cap.flushes >= 1);
    for (int i = 0; i < 1000; i++) {
        char want[64];
        snprintf(want, sizeof want, "\"id\":%d,", i);
        assert_non_null(strstr(cap.lines[i], want));
    }
    assert_non_null(strstr(cap.lines[0], "\"logger\":\"app\",\"message\":\"user_login\""));
    assert_non_null(strstr(cap.lines[0], "\"request_id\":\"r-1\",\"svc\":\"checkout\","
                                         "\"user\":\"alice\",\"id\":0,\"ms\":1.5}"));
    /* the timestamp is this year's, not the TSC's */
    char year[8];
    time_t now = time(NULL);
    strftime(year, sizeof year, "%Y", gmtime(&now));
    assert_non_null(strstr(cap.lines[0], year));

    sky_stats st;
    sky_stats_get(sky, &st);
    assert_true(st.worker_alive);
    assert_int_equal(st.enqueued, 1000);
    assert_int_equal(st.emitted, 1000);
    assert_int_equal(st.routed, 1000);
    assert_int_equal(st.ring_capacity, 4u << 20);
    assert_true(st.ring_high_water > 0);
    const char *name;
    sky_sink_stats ss;
    assert_int_equal(sky_sink_stats_get(sky, 0, &name, &ss), SKY_OK);
    assert_int_equal(ss.written, 1000);
    sky_logger_release(bound);
    assert_int_equal(sky_close(sky), SKY_OK);
    assert_int_equal(cap.closed, 1);
    skytest_capture_reset(&cap);
}

static sky_field lazy_value(void *user, char *buf, size_t cap)
{
    snprintf(buf, cap, "computed-%d", *(int *)user);
    return SKY_STR(NULL, buf);
}

static void test_lazy_and_large_fields(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = NULL;
    assert_int_equal(sky_open(&(sky_options){.mode = SKY_MODE_ASYNC, .ring_bytes = 8192}, &sky),
                     SKY_OK);
    assert_int_equal(sky_add_sink(sky, skytest_capture_sink(&cap, SKY_FORMAT_JSON), NULL), SKY_OK);
    sky_logger *log = sky_logger_get(sky, NULL);
    {
        int on_stack = 42; /* the lazy callback's data lives on this frame only */
        sky_info(log, "lazy", SKY_LAZY("l", lazy_value, &on_stack), SKY_INT("x", 1),
                 SKY_STR("x", "dup-wins"));
    }
    char big[3000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    sky_info(log, "big_fits", SKY_STR("s", big));
    char huge[5000];
    memset(huge, 'b', sizeof huge - 1);
    huge[sizeof huge - 1] = '\0';
    sky_info(log, "too_large", SKY_STR("s", huge));
    sky_info(log, "after");
    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    assert_int_equal(cap.n, 4);
    assert_non_null(strstr(cap.lines[0], "\"l\":\"computed-42\",\"x\":\"dup-wins\"}"));
    assert_non_null(strstr(cap.lines[1], big));
    assert_non_null(strstr(cap.lines[2], "\"message\":\"after\""));
    assert_non_null(strstr(cap.lines[3], "\"message\":\"skylog.gap\""));
    assert_non_null(strstr(cap.lines[3], "\"dropped\":1,\"reason\":\"too_large\""));
    sky_stats st;
    sky_stats_get(sky, &st);
    assert_int_equal(st.dropped[SKY_DROP_TOO_LARGE], 1);
    assert_int_equal(st.ring_capacity, 8192);
    assert_accounting(sky);
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&cap);
}

static void test_stress_block_exactly_once_in_order(void **state)
{
    (void)state;
    counter c = {.strict = true};
    /* a small ring so producers really wait for room */
    sky_t *sky = open_async(&c, 256 << 10, SKY_OVERFLOW_BLOCK, 60000);
    long n = stress_events();
    run_producers(sky, PRODUCERS, n);
    assert_int_equal(sky_flush(sky, 60000), SKY_OK);
    assert_int_equal(c.written, PRODUCERS * n);
    assert_int_equal(c.out_of_order, 0);
    assert_int_equal(c.duplicates, 0);
    assert_int_equal(c.gaps, 0);
    for (int t = 0; t < PRODUCERS; t++)
        assert_int_equal(c.next[t], n);
    assert_true(c.max_batch > 1); /* sinks do get batches */
    sky_stats st;
    sky_stats_get(sky, &st);
    assert_int_equal(st.dropped[SKY_DROP_OVERFLOW], 0);
    assert_int_equal(st.enqueued, (uint64_t)(PRODUCERS * n));
    assert_true(st.ring_high_water <= st.ring_capacity);
    assert_accounting(sky);
    assert_int_equal(sky_close(sky), SKY_OK);
}

static void stress_drop(sky_overflow pol)
{
    counter c = {0};
    sky_t *sky = open_async(&c, 64 << 10, pol, 1);
    long n = stress_events() / 4;
    /* stall the sink for a moment so the ring certainly overflows */
    atomic_store(&c.gate, 1);
    sky_logger *log = sky_logger_get(sky, "stress");
    for (long i = 0; i < 2000; i++)
        sky_info(log, "pre", SKY_INT("t", PRODUCERS), SKY_INT("i", i));
    atomic_store(&c.gate, 0);
    run_producers(sky, PRODUCERS, n);
    assert_int_equal(sky_flush(sky, 60000), SKY_OK);
    sky_stats st;
    sky_stats_get(sky, &st);
    long produced = PRODUCERS * n + 2000;
    assert_true(st.dropped[SKY_DROP_OVERFLOW] > 0);
    assert_int_equal(c.written + (long)st.dropped[SKY_DROP_OVERFLOW], produced);
    assert_int_equal(c.duplicates, 0);
    /* every loss was reported in-band, with its reason */
    assert_int_equal(c.gap_overflow, (long)st.dropped[SKY_DROP_OVERFLOW]);
    assert_int_equal(st.dropped_by_level[SKY_LEVEL_INFO], st.dropped[SKY_DROP_OVERFLOW]);
    assert_accounting(sky);
    assert_int_equal(sky_close(sky), SKY_OK);
}

static void test_stress_drop_newest(void **state)
{
    (void)state;
    stress_drop(SKY_OVERFLOW_DROP_NEWEST);
}

static void test_stress_drop_oldest(void **state)
{
    (void)state;
    stress_drop(SKY_OVERFLOW_DROP_OLDEST);
}

static void test_stress_block_timeout_counts(void **state)
{
    (void)state;
    stress_drop(SKY_OVERFLOW_BLOCK); /* 1 ms max wait with a stalled sink: drops, counted */
}

/* BLOCK with the default settings: a worker that is slow but makes progress costs no event.
 * The sink writes one batch per token, and the test hands out a token every 300 ms: the
 * producer waits 300 ms for each ring's worth of room, again and again (the old rule, "wait
 * at most 100 ms", dropped at the first one). Only one step taking longer than the bound
 * (1 s without progress, three times a step) could make it drop. */
typedef struct slow_run {
    sky_logger *log;
    long n;
    _Atomic int done;
} slow_run;
static void *slow_produce(void *arg)
{
    slow_run *r = arg;
    for (long i = 0; i < r->n; i++)
        sky_info(r->log, "tick", SKY_INT("t", 0), SKY_INT("i", i));
    atomic_store(&r->done, 1);
    return NULL;
}

static void test_block_waits_while_the_worker_progresses(void **state)
{
    (void)state;
    counter c = {.strict = true, .metered = true};
    sky_t *sky = open_async(&c, 4096, SKY_OVERFLOW_BLOCK, 0 /* the default */);
    slow_run r = {.log = sky_logger_get(sky, "slow"), .n = 400};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, slow_produce, &r), 0);
    long steps = 0;
    while (!atomic_load(&r.done)) {
        sleep_ms(300);
        atomic_fetch_add(&c.tokens, 1);
        steps++;
    }
    pthread_join(th, NULL);
    assert_true(steps >= 3); /* 400 events need several rings' worth of room */
    atomic_store(&c.tokens, 1L << 40);
    assert_int_equal(sky_flush(sky, 60000), SKY_OK);
    sky_stats st;
    sky_stats_get(sky, &st);
    assert_int_equal(st.dropped[SKY_DROP_OVERFLOW], 0);
    assert_int_equal(c.written, r.n);
    assert_int_equal(c.next[0], r.n);
    assert_int_equal(c.out_of_order, 0);
    assert_int_equal(c.gaps, 0);
    assert_accounting(sky);
    assert_int_equal(sky_close(sky), SKY_OK);
}

/* ... and a sink stuck in write() costs events, counted and reported: the first caller to
 * find the worker without progress for the bound drops its event; callers after it drop at
 * once while the worker stays stuck (every one of them: the ring stays full); once the sink
 * returns, events flow again and the gap event reports the exact count. */
static void test_block_drops_when_the_worker_is_stuck(void **state)
{
    (void)state;
    counter c = {.strict = false};
    sky_t *sky = open_async(&c, 4096, SKY_OVERFLOW_BLOCK, 50);
    sky_logger *log = sky_logger_get(sky, "stuck");
    atomic_store(&c.gate, 1);
    sky_stats st;
    long logged = 0;
    do {
        sky_info(log, "tick", SKY_INT("t", 0), SKY_INT("i", logged));
        logged++;
        sky_stats_get(sky, &st);
    } while (st.dropped[SKY_DROP_OVERFLOW] == 0);
    assert_int_equal(st.dropped[SKY_DROP_OVERFLOW], 1);
    for (int i = 0; i < 200; i++, logged++)
        sky_info(log, "tick", SKY_INT("t", 0), SKY_INT("i", logged));
    sky_stats_get(sky, &st);
    assert_int_equal(st.dropped[SKY_DROP_OVERFLOW], 201);
    atomic_store(&c.gate, 0);
    assert_int_equal(sky_flush(sky, 60000), SKY_OK); /* the worker moves again */
    sky_info(log, "after");
    logged++;
    assert_int_equal(sky_flush(sky, 60000), SKY_OK);
    sky_stats_get(sky, &st);
    assert_int_equal(st.dropped[SKY_DROP_OVERFLOW], 201);
    assert_int_equal(c.written, logged - 201);
    assert_int_equal(c.gap_overflow, 201);
    assert_int_equal(c.duplicates, 0);
    assert_accounting(sky);
    assert_int_equal(sky_close(sky), SKY_OK);
}

static void test_gap_event_follows_next_event(void **state)
{
    (void)state;
    counter c = {0};
    skytest_capture cap = {0};
    sky_t *sky = open_async(&c, 4096, SKY_OVERFLOW_DROP_NEWEST, 1);
    assert_int_equal(sky_add_sink(sky, skytest_capture_sink(&cap, SKY_FORMAT_JSON), NULL), SKY_OK);
    sky_logger *log = sky_logger_get(sky, "g");
    atomic_store(&c.gate, 1);
    for (int i = 0; i < 500; i++)
        sky_info(log, "fill", SKY_INT("i", i));
    sky_stats st;
    sky_stats_get(sky, &st);
    uint64_t lost = st.dropped[SKY_DROP_OVERFLOW];
    assert_true(lost > 0);
    atomic_store(&c.gate, 0);
    /* let the worker drain, then one more event gets through: the gap follows it. Drained is
     * the whole ring free again (the worker publishes `limit` after freeing), not a sleep: on
     * a loaded machine the worker may not run for a long while. */
    const sky__fast *q = ((const struct sky__logger_hdr *)log)->fast;
    assert_non_null(q);
    int64_t t0 = sky_monotonic_ns();
    while (atomic_load(&q->ring.limit) < atomic_load(&q->ring.head) + q->ring.cap &&
           sky_monotonic_ns() - t0 < 60 * 1000000000LL)
        sleep_ms(1);
    sky_info(log, "next");
    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    sky_stats_get(sky, &st);
    assert_int_equal(st.dropped[SKY_DROP_OVERFLOW], lost);
    assert_int_equal(c.gaps, 1);
    assert_int_equal(c.gap_overflow, (long)lost);
    size_t k = 0;
    while (k < cap.n && !strstr(cap.lines[k], "\"message\":\"skylog.gap\""))
        k++;
    assert_true(k < cap.n);
    char want[80];
    snprintf(want, sizeof want, "\"dropped\":%llu,\"reason\":\"overflow\"",
             (unsigned long long)lost);
    assert_non_null(strstr(cap.lines[k], want));
    assert_non_null(strstr(cap.lines[k], "\"level\":\"WARN\",\"logger\":\"skylog\""));
    assert_true(k > 0);
    assert_accounting(sky);
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&cap);
}

static void test_flush_waits_and_times_out(void **state)
{
    (void)state;
    counter c = {.sleep_ms = 2};
    sky_t *sky = open_async(&c, 1 << 20, SKY_OVERFLOW_BLOCK, 1000);
    sky_logger *log = sky_logger_get(sky, NULL);
    for (int i = 0; i < 300; i++)
        sky_info(log, "e", SKY_INT("i", i));
    assert_int_equal(sky_flush(sky, 10000), SKY_OK);
    assert_int_equal(c.written, 300);
    int flushes = c.flushes;
    assert_true(flushes >= 1);
    /* an empty pipeline flushes at once */
    assert_int_equal(sky_flush(sky, 1000), SKY_OK);
    /* a stalled sink: the flush gives up at its deadline */
    atomic_store(&c.gate, 1);
    sky_info(log, "stuck");
    int64_t t0 = sky_monotonic_ns();
    assert_int_equal(sky_flush(sky, 50), SKY_ETIMEDOUT);
    int64_t dt = sky_monotonic_ns() - t0;
    assert_true(dt >= 45000000 && dt < 60000000000LL); /* above: only a hang, not a slow wake */
    atomic_store(&c.gate, 0);
    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    assert_int_equal(c.written, 301);
    assert_int_equal(sky_close(sky), SKY_OK);
    assert_int_equal(c.closed, 1);
}

static void test_close_flushes_and_bounds(void **state)
{
    (void)state;
    /* close delivers everything queued */
    counter c = {0};
    sky_t *sky = open_async(&c, 1 << 20, SKY_OVERFLOW_BLOCK, 1000);
    sky_logger *log = sky_logger_get(sky, NULL);
    for (int i = 0; i < 5000; i++)
        sky_info(log, "e", SKY_INT("i", i));
    assert_int_equal(sky_close(sky), SKY_OK);
    assert_int_equal(c.written, 5000);
    assert_true(c.flushes >= 1);

    /* close with a slow sink is bounded by close_timeout_ms; the rest is counted as closed */
    counter s = {.sleep_ms = 20};
    sky_options o = {.mode = SKY_MODE_ASYNC, .close_timeout_ms = 50};
    assert_int_equal(sky_open(&o, &sky), SKY_OK);
    assert_int_equal(sky_add_sink(sky, sky_sink_new(&counter_vt, &s, SKY_FORMAT_JSON), NULL),
                     SKY_OK);
    log = sky_logger_get(sky, NULL);
    for (int i = 0; i < 20000; i++)
        sky_info(log, "e", SKY_INT("i", i));
    /* What is guaranteed is ETIMEDOUT with events left undelivered; the clock only catches a
     * close that hangs (close_timeout_ms plus a second for a worker stuck in a sink, skylog.h,
     * plus whatever a loaded machine's scheduler adds). */
    int64_t t0 = sky_monotonic_ns();
    assert_int_equal(sky_close(sky), SKY_ETIMEDOUT);
    assert_true(sky_monotonic_ns() - t0 < 60 * 1000000000LL);
    assert_true(s.written < 20000);
    assert_int_equal(s.closed, 1);
}

static sky_proc_result rename_odd(void *user, sky_event *ev)
{
    (void)user;
    const sky_field *i = sky_event_get(ev, "i");
    if (i && i->v.i % 4 == 1)
        sky_event_set_name(ev, "renamed");
    return SKY_PROC_KEEP;
}

/* The renderer caches a callsite's logger/message/module/func/line JSON: one call site that
 * logs through different loggers, with different names, and events renamed by a processor
 * must each still render their own. Sync and async. */
static void test_callsite_cache_varies(void **state)
{
    (void)state;
    for (int mode = 0; mode < 2; mode++) {
        skytest_capture cap = {0};
        sky_t *sky = NULL;
        assert_int_equal(sky_open(&(sky_options){.mode = mode ? SKY_MODE_ASYNC : SKY_MODE_SYNC},
                                  &sky),
                         SKY_OK);
        assert_int_equal(sky_add_sink(sky, skytest_capture_sink(&cap, SKY_FORMAT_JSON), NULL),
                         SKY_OK);
        assert_int_equal(sky_add_processor(sky, "rename", rename_odd, NULL, NULL), SKY_OK);
        sky_logger *a = sky_logger_get(sky, "a"), *bb = sky_logger_get(sky, "bb");
        const char *names[3] = {"x", "yy", "a_rather_long_event_name_beyond_the_cached_48_bytes"};
        for (int i = 0; i < 60; i++)
            sky_info(i % 2 ? a : bb, names[i % 3], SKY_INT("i", i));
        assert_int_equal(sky_flush(sky, 5000), SKY_OK);
        assert_int_equal(cap.n, 60);
        for (int i = 0; i < 60; i++) {
            char want[160];
            snprintf(want, sizeof want,
                     "\"logger\":\"%s\",\"message\":\"%s\",\"module\":\"test_async\"",
                     i % 2 ? "a" : "bb", i % 4 == 1 ? "renamed" : names[i % 3]);
            assert_non_null(strstr(cap.lines[i], want));
        }
        assert_int_equal(sky_close(sky), SKY_OK);
        skytest_capture_reset(&cap);
    }
}

static void test_sync_mode_unchanged(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = NULL;
    assert_int_equal(sky_open(NULL, &sky), SKY_OK);
    assert_int_equal(sky_add_sink(sky, skytest_capture_sink(&cap, SKY_FORMAT_JSON), NULL), SKY_OK);
    sky_info(sky_logger_get(sky, NULL), "now", SKY_INT("x", 1));
    assert_int_equal(cap.n, 1); /* written before the call returned */
    sky_stats st;
    sky_stats_get(sky, &st);
    assert_false(st.worker_alive);
    assert_int_equal(st.enqueued, 1);
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&cap);
}

static void test_env_async(void **state)
{
    (void)state;
    char *dir = skytest_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/app.log", dir);
    setenv("SKYLOG_MODE", "async", 1);
    setenv("SKYLOG_CONSOLE", "off", 1);
    setenv("SKYLOG_FILE", path, 1);
    char *err = NULL;
    sky_t *sky = sky_open_env(&err);
    assert_null(err);
    assert_non_null(sky);
    sky_stats st;
    sky_stats_get(sky, &st);
    assert_true(st.worker_alive);
    for (int i = 0; i < 100; i++)
        sky_info(sky_logger_get(sky, "env"), "hello", SKY_INT("i", i));
    assert_int_equal(sky_close(sky), SKY_OK);
    unsetenv("SKYLOG_MODE");
    unsetenv("SKYLOG_CONSOLE");
    unsetenv("SKYLOG_FILE");
    size_t len;
    char *text = skytest_read_file(path, &len);
    assert_non_null(text);
    assert_int_equal(skytest_count_lines(text, len), 100);
    free(text);
    skytest_rmtree(dir);
    free(dir);
}

/* ---- fork and atexit (not under TSan: it does not support threads in a forked child) -------- */

typedef struct burst {
    sky_logger *log;
    _Atomic int stop;
    long n;
} burst;

static void *burst_main(void *arg)
{
    burst *b = arg;
    while (!atomic_load(&b->stop)) {
        sky_info(b->log, "parent", SKY_INT("i", b->n), SKY_STR("user", "alice"));
        b->n++;
    }
    return NULL;
}

/* Linear: a strstr() loop is quadratic under ASan (its interceptor measures the rest of the
 * text on every call), and the burst writes more lines the faster logging gets. */
static size_t count_substr(const char *text, const char *needle)
{
    size_t n = 0, nl = strlen(needle);
    for (const char *p = text; *p; p++)
        if (*p == needle[0] && strncmp(p, needle, nl) == 0)
            n++;
    return n;
}

/* Waits for a forked child and asserts it exited with status 0. */
static void wait_child_ok(pid_t pid)
{
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_fork_mid_burst(void **state)
{
    (void)state;
#ifdef TSAN
    skip();
#endif
    char *dir = skytest_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/fork.log", dir);
    sky_t *sky = NULL;
    assert_int_equal(sky_open(&(sky_options){.mode = SKY_MODE_ASYNC, .ring_bytes = 1 << 20,
                                             .block_max_wait_ms = 10000},
                              &sky), SKY_OK);
    sky_sink *fs;
    assert_int_equal(sky_sink_file(&(sky_file_opts){.path = path}, &fs, NULL), SKY_OK);
    assert_int_equal(sky_add_sink(sky, fs, NULL), SKY_OK);
    /* the burst through a bound logger; the forking thread inside a context scope whose
     * block exists (its event before the fork made it): the child logs in it, then ends it */
    sky_logger *bound = SKY_BIND(sky_logger_get(sky, "burst"), SKY_STR("bound", "yes"));
    burst b = {.log = bound};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, burst_main, &b), 0);
    sleep_ms(20);
    const sky_field scope[] = {SKY_STR("scope", "main")};
    sky_context_push(scope, 1);
    sky_info(sky_logger_get(sky, "child"), "child_event", SKY_INT("i", -1), SKY_INT("round", -1));
    for (int round = 0; round < 3; round++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            sky_logger *log = sky_logger_get(sky, "child");
            for (int i = 0; i < 100; i++)
                sky_info(log, "child_event", SKY_INT("i", i), SKY_INT("round", round));
            sky_context_pop();
            sky_info(log, "child_after", SKY_INT("round", round));
            sky_stats st;
            sky_stats_get(sky, &st);
            int ok = sky_flush(sky, 5000) == SKY_OK && st.worker_alive;
            ok = ok && sky_close(sky) == SKY_OK;
            _exit(ok ? 0 : 1);
        }
        wait_child_ok(pid);
        sleep_ms(5);
    }
    sky_context_pop();
    atomic_store(&b.stop, 1);
    pthread_join(th, NULL);
    sky_logger_release(bound); /* its queued events are still written */
    assert_int_equal(sky_flush(sky, 10000), SKY_OK);
    sky_stats st;
    sky_stats_get(sky, &st);
    assert_int_equal(st.dropped[SKY_DROP_OVERFLOW], 0); /* block policy: the parent lost none */
    assert_int_equal(sky_close(sky), SKY_OK);
    size_t len;
    char *text = skytest_read_file(path, &len);
    assert_non_null(text);
    assert_int_equal(count_substr(text, "\"message\":\"child_event\""), 301);
    assert_int_equal(count_substr(text, "\"scope\":\"main\",\"i\":"), 301);
    assert_int_equal(count_substr(text, "\"scope\":\"main\",\"round\":"), 0); /* popped */
    assert_int_equal(count_substr(text, "\"message\":\"child_after\""), 3);
    assert_int_equal(count_substr(text, "\"bound\":\"yes\""), (size_t)b.n);
    assert_int_equal(count_substr(text, "\"message\":\"parent\""), (size_t)b.n);
    assert_int_equal(skytest_count_lines(text, len), (size_t)b.n + 304);
    free(text);
    skytest_rmtree(dir);
    free(dir);
}

/* A child that never logs gets no worker thread (fork + exec costs no thread creation): its
 * stats say so, flush and close work, and the parent goes on. Runs under TSan too: no thread
 * is created in the child. */
static void test_fork_child_without_logging_starts_no_worker(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = NULL;
    assert_int_equal(sky_open(&(sky_options){.mode = SKY_MODE_ASYNC}, &sky), SKY_OK);
    assert_int_equal(sky_add_sink(sky, skytest_capture_sink(&cap, SKY_FORMAT_JSON), NULL), SKY_OK);
    sky_logger *log = sky_logger_get(sky, "p");
    sky_info(log, "before", SKY_INT("i", 1));
    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        sky_stats st;
        sky_stats_get(sky, &st);
        int ok = !st.worker_alive;
        ok = ok && sky_flush(sky, 1000) == SKY_OK; /* returns at once: nothing to wait for */
        sky_stats_get(sky, &st);
        ok = ok && !st.worker_alive;
        ok = ok && sky_close(sky) == SKY_OK;
        _exit(ok ? 0 : 1);
    }
    wait_child_ok(pid);
    sky_info(log, "after", SKY_INT("i", 2));
    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    assert_int_equal(cap.n, 2);
    assert_non_null(strstr(cap.lines[1], "\"message\":\"after\""));
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&cap);
}

static void test_atexit_flushes_default(void **state)
{
    (void)state;
#ifdef TSAN
    skip();
#endif
    char *dir = skytest_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/default.log", dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* a fresh process (no cmocka state; the default pipeline is never freed by design,
         * so leak checking is off in it) */
        setenv("SKYTEST_ATEXIT_CHILD", "1", 1);
        setenv("SKYLOG_MODE", "async", 1);
        setenv("SKYLOG_CONSOLE", "off", 1);
        setenv("SKYLOG_FILE", path, 1);
        setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
        execl("/proc/self/exe", "test_async", (char *)NULL);
        _exit(127);
    }
    wait_child_ok(pid);
    size_t len;
    char *text = skytest_read_file(path, &len);
    assert_non_null(text);
    assert_int_equal(skytest_count_lines(text, len), 20000);
    free(text);
    skytest_rmtree(dir);
    free(dir);
}

/* The child of test_atexit_flushes_default: logs through the default pipeline and exits
 * without flushing or closing; the atexit hook must deliver everything. */
static int atexit_child(void)
{
    sky_logger *log = sky_logger_get(NULL, "default");
    for (int i = 0; i < 20000; i++)
        sky_info(log, "at_exit", SKY_INT("i", i));
    exit(0);
}

int main(void)
{
    if (getenv("SKYTEST_ATEXIT_CHILD"))
        return atexit_child();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_delivery_and_stats),
        cmocka_unit_test(test_batch_accounting_matches_sync),
        cmocka_unit_test(test_lazy_and_large_fields),
        cmocka_unit_test(test_sync_mode_unchanged),
        cmocka_unit_test(test_callsite_cache_varies),
        cmocka_unit_test(test_env_async),
        cmocka_unit_test(test_gap_event_follows_next_event),
        cmocka_unit_test(test_block_waits_while_the_worker_progresses),
        cmocka_unit_test(test_block_drops_when_the_worker_is_stuck),
        cmocka_unit_test(test_flush_waits_and_times_out),
        cmocka_unit_test(test_close_flushes_and_bounds),
        cmocka_unit_test(test_stress_block_exactly_once_in_order),
        cmocka_unit_test(test_stress_drop_newest),
        cmocka_unit_test(test_stress_drop_oldest),
        cmocka_unit_test(test_stress_block_timeout_counts),
        cmocka_unit_test(test_fork_mid_burst),
        cmocka_unit_test(test_fork_child_without_logging_starts_no_worker),
        cmocka_unit_test(test_atexit_flushes_default),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

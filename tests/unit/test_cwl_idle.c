/* test_cwl_idle.c - the CloudWatch Logs sink forgets idle streams (forget_idle() in
 * src/sinks/cloudwatch_logs.c): a stream name with a time or a thread in it ({logger} here,
 * a new name per simulated minute) must not grow the sink's stream table for ever, while
 * every event still reaches its stream once and in order, including a stream forgotten and
 * named again. Time is the transport's clock hook (sky__cwl_transport.mono_ns), stepped by
 * the test: nothing sleeps. The fake service keeps what each stream got and checks that each
 * stream's events arrive as "<stream>#0", "<stream>#1", ... with none missing or twice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sinks/cwl_transport.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_NS (60LL * 1000000000)

typedef struct fake {
    pthread_mutex_t mu;
    _Atomic int64_t now; /* the idle clock (read by writers and by the sender thread) */
    bool group;
    json_t *got;         /* stream name -> number of events stored in it */
    int puts, creates_stream, already_exists, not_found;
    const char *lose_once; /* the next put to this stream answers ResourceNotFoundException */
    const char *down;      /* puts to this stream answer 503 (kept and retried) */
    char violation[256];
} fake;

static void set_err(sky__cwl_result *out, const char *code)
{
    out->status = SKY_EREMOTE;
    out->http_status = 400;
    snprintf(out->code, sizeof out->code, "%s", code);
    snprintf(out->message, sizeof out->message, "fake: %s", code);
}

static void violate(fake *f, const char *what, const char *stream)
{
    if (!f->violation[0])
        snprintf(f->violation, sizeof f->violation, "%s (%s)", what, stream);
}

/* A put: each event must be the next one of its stream. */
static void store(fake *f, const char *stream, json_t *evs)
{
    json_int_t n = json_integer_value(json_object_get(f->got, stream));
    for (size_t i = 0; i < json_array_size(evs); i++) {
        char want[160];
        snprintf(want, sizeof want, "%s#%lld", stream, (long long)n);
        const char *m = json_string_value(json_object_get(json_array_get(evs, i), "message"));
        if (!m || strcmp(m, want) != 0)
            violate(f, "an event out of order, missing or twice", stream);
        n++;
    }
    json_object_set_new(f->got, stream, json_integer(n));
}

static sky_status fake_call(void *self, const sky__cwl_call *cl, sky__cwl_result *out)
{
    fake *f = self;
    pthread_mutex_lock(&f->mu);
    out->status = SKY_OK;
    out->http_status = 200;
    json_t *req = json_loadb(cl->body, cl->len, 0, NULL);
    const char *stream = json_string_value(json_object_get(req, "logStreamName"));
    if (strcmp(cl->op, "CreateLogGroup") == 0) {
        if (f->group)
            set_err(out, "ResourceAlreadyExistsException");
        f->group = true;
    } else if (strcmp(cl->op, "CreateLogStream") == 0) {
        f->creates_stream++;
        if (!stream) {
            violate(f, "CreateLogStream without a name", "");
        } else if (json_object_get(f->got, stream)) {
            f->already_exists++;
            set_err(out, "ResourceAlreadyExistsException");
        } else {
            json_object_set_new(f->got, stream, json_integer(0));
        }
    } else if (strcmp(cl->op, "PutLogEvents") == 0) {
        f->puts++;
        if (!stream) {
            violate(f, "PutLogEvents without a stream", "");
        } else if (f->down && strcmp(f->down, stream) == 0) {
            set_err(out, "ServiceUnavailableException");
            out->http_status = 503;
        } else if (!f->group || !json_object_get(f->got, stream) ||
                   (f->lose_once && strcmp(f->lose_once, stream) == 0)) {
            if (f->lose_once && strcmp(f->lose_once, stream) == 0)
                f->lose_once = NULL;
            f->not_found++;
            set_err(out, "ResourceNotFoundException");
        } else {
            store(f, stream, json_object_get(req, "logEvents"));
        }
    }
    json_decref(req);
    pthread_mutex_unlock(&f->mu);
    return out->status;
}

static void no_free(void *self) { (void)self; }
static int64_t fake_now(void *self) { return atomic_load(&((fake *)self)->now); }

static void fake_init(fake *f)
{
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    atomic_store(&f->now, 1000 * MIN_NS);
    f->got = json_object();
}

static void fake_done(fake *f)
{
    json_decref(f->got);
    pthread_mutex_destroy(&f->mu);
}

typedef struct rig {
    fake f;
    sky_sink *cw;
    sky_t *sky;
    json_t *sent; /* stream -> events logged to it so far */
} rig;

static void rig_open(rig *r, bool sync_upload)
{
    fake_init(&r->f);
    sky_cwl_opts o = {.log_group = "/t/idle", .log_stream = "{logger}", .message_only = true,
                      .sync_upload = sync_upload};
    sky__cwl_transport t = {.call = fake_call, .free = no_free, .self = &r->f,
                            .mono_ns = fake_now};
    char *err = NULL;
    assert_int_equal(sky__sink_cloudwatch_logs_with(&o, t, &r->cw, &err), SKY_OK);
    assert_int_equal(sky_open(&(sky_options){.mode = SKY_MODE_SYNC}, &r->sky), SKY_OK);
    assert_int_equal(sky_add_sink(r->sky, r->cw, NULL), SKY_OK);
    r->sent = json_object();
}

/* Logs the next event of `stream` ("<stream>#k"). */
static void log_to(rig *r, const char *stream)
{
    json_int_t k = json_integer_value(json_object_get(r->sent, stream));
    char msg[160];
    snprintf(msg, sizeof msg, "%s#%lld", stream, (long long)k);
    sky_emit(sky_logger_get(r->sky, stream), SKY_LEVEL_INFO, msg, NULL, NULL, 0);
    json_object_set_new(r->sent, stream, json_integer(k + 1));
}

static sky_cwl_stats stats(rig *r)
{
    sky_cwl_stats st;
    assert_int_equal(sky_cwl_stats_get(r->cw, &st), SKY_OK);
    return st;
}

/* Everything logged was stored, once each, in order (store() checked the order). */
static void assert_delivered(rig *r)
{
    pthread_mutex_lock(&r->f.mu);
    if (r->f.violation[0])
        fail_msg("%s", r->f.violation);
    const char *k;
    json_t *v;
    size_t events = 0;
    json_object_foreach(r->sent, k, v) {
        json_int_t got = json_integer_value(json_object_get(r->f.got, k));
        if (got != json_integer_value(v))
            fail_msg("%s: %lld events stored of %lld", k, (long long)got,
                     (long long)json_integer_value(v));
        events += (size_t)got;
    }
    pthread_mutex_unlock(&r->f.mu);
    sky_cwl_stats st = stats(r);
    assert_int_equal(st.sent_events, events);
    assert_int_equal(st.queued_events, 0);
}

static void rig_close(rig *r)
{
    sky_close(r->sky);
    json_decref(r->sent);
    fake_done(&r->f);
}

/* An hour of a stream per minute (50 names a minute: 3,000 in all), with the first minute's
 * names used again every ten minutes (forgotten in between, so made again). */
static void run_hour(rig *r, size_t *max_streams)
{
    char name[64];
    for (int m = 0; m < 60; m++) {
        for (int j = 0; j < 50; j++) {
            snprintf(name, sizeof name, "s-%d-%d", m, j);
            log_to(r, name);
            log_to(r, name);
            if (m % 10 == 9 && j < 5) {
                snprintf(name, sizeof name, "s-0-%d", j);
                log_to(r, name);
            }
        }
        assert_int_equal(sky_flush(r->sky, 60000), SKY_OK);
        sky_cwl_stats st = stats(r);
        if (st.streams > *max_streams)
            *max_streams = st.streams;
        atomic_fetch_add(&r->f.now, MIN_NS);
    }
    assert_int_equal(sky_flush(r->sky, 60000), SKY_OK);
}

/* The bound: streams used in the last 5 min (+ 1/8 of it between passes) and this minute's. */
#define BOUND (50 * 7 + 5)

static void test_stream_per_minute_stays_bounded(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, true);
    size_t max_streams = 0;
    run_hour(&r, &max_streams);
    assert_delivered(&r);
    sky_cwl_stats st = stats(&r);
    assert_true(max_streams <= BOUND);
    assert_true(st.streams <= BOUND);
    /* 3,000 names, and s-0-0..4 made again 6 times: all but the last minutes' forgotten */
    assert_true(st.streams_forgotten >= 3000 - BOUND);
    assert_int_equal(st.streams + st.streams_forgotten, 3000 + 5 * 6);
    rig_close(&r);
}

/* The same with the sender thread forgetting (async sink; TSan checks the locking). */
static void test_sender_thread_forgets(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, false);
    size_t max_streams = 0;
    run_hour(&r, &max_streams);
    assert_delivered(&r);
    sky_cwl_stats st = stats(&r);
    assert_true(max_streams <= BOUND);
    assert_true(st.streams_forgotten >= 3000 - BOUND);
    rig_close(&r);
}

/* A stream is kept while used, and while it has events queued however long they wait. */
static void test_busy_or_queued_stream_is_kept(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, true);
    for (int m = 0; m < 30; m++) { /* used every minute: never forgotten */
        log_to(&r, "busy");
        assert_int_equal(sky_flush(r.sky, 60000), SKY_OK);
        atomic_fetch_add(&r.f.now, MIN_NS);
    }
    assert_int_equal(stats(&r).streams_forgotten, 0);
    pthread_mutex_lock(&r.f.mu);
    r.f.down = "stuck";
    pthread_mutex_unlock(&r.f.mu);
    log_to(&r, "stuck");
    assert_int_equal(sky_flush(r.sky, 50), SKY_ETIMEDOUT); /* kept for a retry */
    atomic_fetch_add(&r.f.now, 10 * MIN_NS);
    log_to(&r, "other"); /* a write runs a pass: "busy" is idle and empty, "stuck" is not */
    sky_cwl_stats st = stats(&r);
    assert_int_equal(st.streams_forgotten, 1);
    assert_int_equal(st.streams, 2);
    pthread_mutex_lock(&r.f.mu);
    r.f.down = NULL;
    pthread_mutex_unlock(&r.f.mu);
    assert_int_equal(sky_flush(r.sky, 60000), SKY_OK);
    assert_delivered(&r);
    rig_close(&r);
}

/* A stream forgotten, then named again, works as before: its events go on in order. When the
 * service says it is not found (an eventually consistent answer), CreateLogStream answers
 * ResourceAlreadyExists, which counts as created, and the put is made again. */
static void test_forgotten_stream_used_again(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, true);
    log_to(&r, "again");
    log_to(&r, "again");
    assert_int_equal(sky_flush(r.sky, 60000), SKY_OK);
    assert_int_equal(r.f.creates_stream, 1);
    atomic_fetch_add(&r.f.now, 6 * MIN_NS);
    log_to(&r, "x"); /* a pass forgets "again" */
    assert_int_equal(sky_flush(r.sky, 60000), SKY_OK);
    assert_int_equal(stats(&r).streams_forgotten, 1);
    r.f.lose_once = "again";
    log_to(&r, "again");
    log_to(&r, "again");
    assert_int_equal(sky_flush(r.sky, 60000), SKY_OK);
    sky_cwl_stats st = stats(&r);
    assert_int_equal(r.f.already_exists, 1); /* the already-exists answer was taken as made */
    assert_int_equal(r.f.creates_stream, 3); /* "again", "x", "again" again */
    assert_int_equal(st.streams, 2);
    assert_int_equal(st.dropped[SKY_CWL_DROP_NO_RESOURCE], 0);
    assert_delivered(&r);
    rig_close(&r);
}

/* A binding that names a stream per record logs through one logger with the stream in
 * SKY_CWL_STREAM_FIELD (message_only): each event goes to its stream, ':' and '*' made '_'. */
static void test_stream_named_by_field(void **state)
{
    (void)state;
    rig r;
    rig_open(&r, true);
    sky_logger *app = sky_logger_get(r.sky, "app");
    char stream[64], msg[160];
    for (int i = 0; i < 500; i++) {
        snprintf(stream, sizeof stream, "thread-%d", i % 250);
        json_int_t k = json_integer_value(json_object_get(r.sent, stream));
        snprintf(msg, sizeof msg, "%s#%lld", stream, (long long)k);
        json_object_set_new(r.sent, stream, json_integer(k + 1));
        sky_field f = sky_field_str(SKY_CWL_STREAM_FIELD, stream);
        sky_emit(app, SKY_LEVEL_INFO, msg, NULL, &f, 1);
    }
    sky_field f = sky_field_str(SKY_CWL_STREAM_FIELD, "a:b*c");
    sky_emit(app, SKY_LEVEL_INFO, "a_b_c#0", NULL, &f, 1);
    json_object_set_new(r.sent, "a_b_c", json_integer(1));
    sky_emit(app, SKY_LEVEL_INFO, "app#0", NULL, NULL, 0); /* no field: the logger's */
    json_object_set_new(r.sent, "app", json_integer(1));
    assert_int_equal(sky_flush(r.sky, 60000), SKY_OK);
    assert_delivered(&r);
    assert_int_equal(stats(&r).streams, 252);
    rig_close(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_per_minute_stays_bounded),
        cmocka_unit_test(test_sender_thread_forgets),
        cmocka_unit_test(test_busy_or_queued_stream_is_kept),
        cmocka_unit_test(test_forgotten_stream_used_again),
        cmocka_unit_test(test_stream_named_by_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

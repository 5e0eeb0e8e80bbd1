/* test_cloudwatch_logs.c - the CloudWatch Logs sink's batching, ordering, limits, retries and
 * accounting (src/sinks/cloudwatch_logs.c), against a scripted fake transport that checks every
 * request the way the service does. */
#include "skytest.h"

#include "aws/crypto_api.h"
#include "sinks/cwl_transport.h"
#include "util/text.h"

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the fake service ------------------------------------------------------------------- */

typedef struct fake {
    /* The sender thread calls the fake while the test changes its script: both under `mu`
     * (fake_call holds it; tests use fake_fail() or FAKE_LOCKED). */
    pthread_mutex_t mu;
    /* script: the next `fail_n` PutLogEvents calls fail with this code/status */
    int fail_n;
    const char *fail_code;
    long fail_http;
    sky_status fail_status;
    bool group_exists, stream_exists;
    /* the next create_throttled CreateLogGroup calls answer ThrottlingException after the AWS
     * layer's own 2 retries (3 attempts, all throttled) */
    int create_throttled;
    const char *reject_json; /* rejectedLogEventsInfo for the next successful put */
    /* a put with a message containing this is refused as a whole, as a service refuses a
     * request for one bad event without naming it (400 SerializationException) */
    const char *refuse;
    /* record */
    int puts, creates_group, creates_stream, retention_calls;
    int retention_set; /* PutRetentionPolicy calls that found the group */
    int retention_days; /* the group's, as the last one that found it set it */
    size_t events;
    size_t max_events_in_put, max_bytes_in_put;
    size_t *put_sizes; /* bytes per put */
    size_t n_put_sizes;
    json_t *stored; /* array of {ts, msg, stream} in storage order */
    int calls;      /* PutLogEvents calls, failed ones too */
    char *bodies[16]; /* the first 16 PutLogEvents bodies, and their body ids */
    uint64_t body_ids[16];
    bool violation;
    char violation_msg[256];
    /* before fail_n: the next PutLogEvents calls fail with these codes in turn (throttling
     * for ThrottlingException, else 503) */
    const char *seq[8];
    int n_seq;
    sky_sink *watch;        /* when set: its stats are taken at each PutLogEvents call */
    sky_cwl_stats seen[16]; /* ... the first 16 */
    /* the transport asks for each body's SHA-256 (sky__cwl_transport.body_sha256); the fake
     * checks every digest it gets against libcrypto's of the body */
    bool want_sha256;
    int hashed_puts; /* PutLogEvents calls that came with a digest */
} fake;

static void violate(fake *f, const char *msg)
{
    if (!f->violation)
        snprintf(f->violation_msg, sizeof f->violation_msg, "%s", msg);
    f->violation = true;
}

static void set_err(sky__cwl_result *out, long http, const char *code, sky_status st)
{
    out->status = st;
    out->http_status = http;
    snprintf(out->code, sizeof out->code, "%s", code);
    snprintf(out->message, sizeof out->message, "fake: %s", code);
}

static bool refused(const fake *f, json_t *req)
{
    json_t *evs = json_object_get(req, "logEvents");
    for (size_t i = 0; f->refuse && i < json_array_size(evs); i++)
        if (strstr(json_string_value(json_object_get(json_array_get(evs, i), "message")),
                   f->refuse))
            return true;
    return false;
}

static sky_status fake_call_locked(fake *f, const sky__cwl_call *cl, sky__cwl_result *out);

static sky_status fake_call(void *self, const sky__cwl_call *cl, sky__cwl_result *out)
{
    fake *f = self;
    pthread_mutex_lock(&f->mu);
    sky_status st = fake_call_locked(f, cl, out);
    pthread_mutex_unlock(&f->mu);
    return st;
}

static sky_status fake_call_locked(fake *f, const sky__cwl_call *cl, sky__cwl_result *out)
{
    json_error_t je;
    json_t *req = json_loadb(cl->body, cl->len, JSON_ALLOW_NUL, &je);
    if (!req) {
        violate(f, "request body is not JSON");
        set_err(out, 400, "SerializationException", SKY_EREMOTE);
        return out->status;
    }
    if (strcmp(cl->op, "PutLogEvents") == 0) {
        if (cl->body_sha256) {
            uint8_t md[32];
            if (!f->want_sha256)
                violate(f, "a body digest the transport did not ask for");
            if (!sky__sha256(cl->body, cl->len, md) || memcmp(md, cl->body_sha256, 32) != 0)
                violate(f, "the body digest is not the SHA-256 of the body");
            f->hashed_puts++;
        }
        if (f->calls < 16) {
            f->bodies[f->calls] = strndup(cl->body, cl->len);
            f->body_ids[f->calls] = cl->body_id;
            if (f->watch) /* the sink's lock is not held during a call */
                sky_cwl_stats_get(f->watch, &f->seen[f->calls]);
        }
        f->calls++;
        if (f->n_seq) {
            bool thr = strcmp(f->seq[0], "ThrottlingException") == 0;
            set_err(out, thr ? 400 : 503, f->seq[0], thr ? SKY_ETHROTTLED : SKY_EREMOTE);
            memmove(f->seq, f->seq + 1, (size_t)--f->n_seq * sizeof *f->seq);
            json_decref(req);
            return out->status;
        }
    }
    if (strcmp(cl->op, "CreateLogGroup") == 0) {
        f->creates_group++;
        if (f->create_throttled > 0) {
            f->create_throttled--;
            set_err(out, 400, "ThrottlingException", SKY_ETHROTTLED);
            out->retries = 2;
            out->throttles = 3;
            json_decref(req);
            return out->status;
        }
        if (f->group_exists)
            set_err(out, 400, "ResourceAlreadyExistsException", SKY_EREMOTE);
        f->group_exists = true;
    } else if (strcmp(cl->op, "PutRetentionPolicy") == 0) {
        f->retention_calls++;
        if (!f->group_exists) {
            set_err(out, 400, "ResourceNotFoundException", SKY_EREMOTE);
        } else {
            f->retention_set++;
            f->retention_days = (int)json_integer_value(json_object_get(req, "retentionInDays"));
        }
    } else if (strcmp(cl->op, "CreateLogStream") == 0) {
        f->creates_stream++;
        if (!f->group_exists)
            set_err(out, 400, "ResourceNotFoundException", SKY_EREMOTE);
        else
            f->stream_exists = true;
    } else if (strcmp(cl->op, "PutLogEvents") == 0) {
        if (!f->group_exists || !f->stream_exists) {
            set_err(out, 400, "ResourceNotFoundException", SKY_EREMOTE);
        } else if (f->fail_n > 0) {
            f->fail_n--;
            set_err(out, f->fail_http, f->fail_code, f->fail_status);
        } else if (refused(f, req)) {
            set_err(out, 400, "SerializationException", SKY_EREMOTE);
        } else {
            json_t *evs = json_object_get(req, "logEvents");
            size_t n = json_array_size(evs), bytes = 0;
            if (n < 1 || n > 10000)
                violate(f, "event count out of 1..10000");
            json_int_t prev = INT64_MIN, lo = INT64_MAX, hi = INT64_MIN;
            for (size_t i = 0; i < n; i++) {
                json_t *e = json_array_get(evs, i);
                json_int_t ts = json_integer_value(json_object_get(e, "timestamp"));
                size_t ml = json_string_length(json_object_get(e, "message"));
                if (ml < 1)
                    violate(f, "empty message");
                if (ml + 26 > SKY_CWL_MAX_EVENT_BYTES)
                    violate(f, "event too large");
                if (ts < prev)
                    violate(f, "events not in chronological order");
                prev = ts;
                lo = ts < lo ? ts : lo;
                hi = ts > hi ? ts : hi;
                bytes += ml + 26;
            }
            if (bytes > 1048576)
                violate(f, "batch over 1,048,576 bytes");
            if (n && hi - lo > 24LL * 3600 * 1000)
                violate(f, "batch spans more than 24 hours");
            f->puts++;
            f->put_sizes = realloc(f->put_sizes, (f->n_put_sizes + 1) * sizeof *f->put_sizes);
            f->put_sizes[f->n_put_sizes++] = bytes;
            if (n > f->max_events_in_put)
                f->max_events_in_put = n;
            if (bytes > f->max_bytes_in_put)
                f->max_bytes_in_put = bytes;
            for (size_t i = 0; i < n; i++) {
                json_t *e = json_copy(json_array_get(evs, i));
                json_object_set(e, "stream", json_object_get(req, "logStreamName"));
                json_array_append_new(f->stored, e);
            }
            f->events += n;
            out->status = SKY_OK;
            out->http_status = 200;
            const char *body = f->reject_json ? f->reject_json : "{}";
            out->body = strdup(body);
            out->body_len = strlen(body);
            f->reject_json = NULL;
        }
    }
    json_decref(req);
    if (!out->http_status) {
        out->status = SKY_OK;
        out->http_status = 200;
    }
    return out->status;
}

static void fake_free(void *self) { (void)self; }

static fake *fake_new(void)
{
    fake *f = calloc(1, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    f->stored = json_array();
    return f;
}

static void fake_destroy(fake *f)
{
    json_decref(f->stored);
    free(f->put_sizes);
    for (int i = 0; i < 16; i++)
        free(f->bodies[i]);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

/* The next n PutLogEvents calls fail so. Safe while the sender runs. */
static void fake_fail(fake *f, int n, const char *code, long http, sky_status st)
{
    pthread_mutex_lock(&f->mu);
    f->fail_n = n;
    f->fail_code = code;
    f->fail_http = http;
    f->fail_status = st;
    pthread_mutex_unlock(&f->mu);
}

/* A counter of the fake, read under its lock (the sender may still be calling it). */
static size_t fake_events(fake *f)
{
    pthread_mutex_lock(&f->mu);
    size_t n = f->events;
    pthread_mutex_unlock(&f->mu);
    return n;
}

static sky_sink *sink_with(fake *f, sky_cwl_opts o)
{
    sky_sink *s = NULL;
    char *err = NULL;
    sky__cwl_transport t = {.call = fake_call, .free = fake_free, .self = f,
                            .body_sha256 = f->want_sha256};
    sky_status st = sky__sink_cloudwatch_logs_with(&o, t, &s, &err);
    if (st != SKY_OK)
        fail_msg("sink: %s", err ? err : sky_strerror(st));
    return s;
}

static sky_t *pipeline(void)
{
    sky_t *sky = NULL;
    assert_int_equal(sky_open(&(sky_options){.level = SKY_LEVEL_TRACE, .level_set = true}, &sky),
                     SKY_OK);
    return sky;
}

/* ---- tests -------------------------------------------------------------------------------- */

static void test_batches_fill_to_the_limits(void **state)
{
    (void)state;
    fake *f = fake_new();
    sky_t *sky = pipeline();
    sky_sink *s = sink_with(f, (sky_cwl_opts){.log_group = "/test/batch", .log_stream = "s1",
                                              .message_only = true, .sync_upload = true,
                                              .flush_interval_ms = 60000});
    sky_add_sink(sky, s, NULL);
    sky_logger *log = sky_logger_get(sky, "b");
    /* message sized so that 100 bytes + 26 = 126 per event; 8322 events = 1,048,572 bytes */
    char name[101];
    memset(name, 'm', 100);
    name[100] = '\0';
    const int N = 30000;
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "%07d", i);
        name[7] = 'm';
        sky_info(log, name);
    }
    assert_int_equal(sky_flush(sky, 10000), SKY_OK);
    assert_false(f->violation);
    assert_int_equal(f->events, N);
    assert_true(f->max_bytes_in_put <= 1048576);
    /* under backlog every request but the last is >= 99 % full */
    for (size_t i = 0; i + 1 < f->n_put_sizes; i++)
        assert_true(f->put_sizes[i] >= 1048576 * 99 / 100);
    /* exactly once, in order */
    for (int i = 0; i < N; i++) {
        const char *m = json_string_value(json_object_get(json_array_get(f->stored, (size_t)i), "message"));
        char want[8];
        snprintf(want, sizeof want, "%07d", i);
        assert_memory_equal(m, want, 7);
    }
    sky_cwl_stats st;
    assert_int_equal(sky_cwl_stats_get(s, &st), SKY_OK);
    assert_int_equal(st.sent_events, N);
    assert_int_equal(st.accepted, N);
    /* a transport without a credentials provider: all zero, not garbage */
    sky_aws_creds_stats cs;
    memset(&cs, 0xff, sizeof cs);
    assert_int_equal(sky_cwl_creds_stats_get(s, &cs), SKY_OK);
    assert_int_equal(cs.refreshes + cs.failures + cs.stale_used + cs.retries + cs.throttles, 0);
    assert_string_equal(cs.last_error, "");
    assert_int_equal(sky_cwl_creds_stats_get(NULL, &cs), SKY_EINVAL);
    /* nor AWS clients: their retry policy all zero too */
    sky_aws_retry_stats rs;
    memset(&rs, 0xff, sizeof rs);
    assert_int_equal(sky_cwl_retry_stats_get(s, &rs), SKY_OK);
    assert_int_equal(rs.retries + rs.throttles + rs.quota_refusals + rs.rate_limited, 0);
    assert_int_equal(rs.max_attempts, 0);
    assert_int_equal(st.requests, (uint64_t)f->puts);
    assert_int_equal(st.queued_events, 0);
    assert_int_equal(st.sent_bytes, (uint64_t)N * 126);
    assert_int_equal(f->creates_group, 1);
    assert_int_equal(f->creates_stream, 1);
    sky_close(sky);
    fake_destroy(f);
}

/* A sink that sends from the caller's thread to a fake whose group and stream exist. */
static sky_sink *sync_sink(fake **fp)
{
    fake *f = *fp = fake_new();
    f->group_exists = f->stream_exists = true;
    return sink_with(f, (sky_cwl_opts){.log_group = "g", .log_stream = "s", .sync_upload = true,
                                       .flush_interval_ms = 60000});
}

static void test_count_limit_and_chronological_order(void **state)
{
    (void)state;
    fake *f;
    sky_sink *s = sync_sink(&f);
    /* 25,000 tiny events with timestamps going backwards in pairs; equal stamps keep order */
    int64_t now = sky_now_ns() / 1000000;
    for (int i = 0; i < 25000; i++) {
        char m[16];
        int l = snprintf(m, sizeof m, "e%d", i);
        assert_int_equal(sky_cwl_put(s, now - (i / 2) % 1000, m, (size_t)l), SKY_OK);
    }
    assert_int_equal(sky_sink_flush(s, 10000), SKY_OK);
    assert_false(f->violation);
    assert_int_equal(f->max_events_in_put, 10000);
    assert_int_equal(f->events, 25000);
    /* within the first put, e0 and e1 (same stamp) are adjacent and in arrival order */
    size_t i0 = 0, i1 = 0;
    for (size_t i = 0; i < 10000; i++) {
        const char *m = json_string_value(json_object_get(json_array_get(f->stored, i), "message"));
        if (strcmp(m, "e0") == 0)
            i0 = i;
        if (strcmp(m, "e1") == 0)
            i1 = i;
    }
    assert_int_equal(i1, i0 + 1);
    sky_sink_close(s);
    fake_destroy(f);
}

/* Any int64 is a timestamp a caller may pass (skylog ship once made INT64_MIN of a line's
 * "ts": 1e300): the batch's span check subtracted the extremes and overflowed when such an
 * event sat behind a good one. Both edges are refused for their age, the rest is sent. */
static void test_timestamps_at_the_int64_edges(void **state)
{
    (void)state;
    fake *f = fake_new();
    f->group_exists = f->stream_exists = true;
    sky_sink *s = sink_with(f, (sky_cwl_opts){.log_group = "g",
                                              .log_stream = "s",
                                              .sync_upload = true,
                                              .flush_interval_ms = 60000});
    int64_t now = sky_now_ns() / 1000000;
    assert_int_equal(sky_cwl_put(s, now, "a", 1), SKY_OK);
    sky_cwl_put(s, INT64_MIN, "min", 3);
    sky_cwl_put(s, INT64_MAX, "max", 3);
    sky_cwl_put(s, INT64_MIN + 1, "min1", 4);
    assert_int_equal(sky_cwl_put(s, now, "b", 1), SKY_OK);
    assert_int_equal(sky_sink_flush(s, 5000), SKY_OK);
    assert_false(f->violation);
    assert_int_equal(f->events, 2);
    sky_cwl_stats st;
    sky_cwl_stats_get(s, &st);
    assert_int_equal(st.rejected[SKY_CWL_REJECT_TOO_OLD], 2);
    assert_int_equal(st.rejected[SKY_CWL_REJECT_TOO_NEW], 1);
    sky_sink_close(s);
    fake_destroy(f);
}

static void test_span_age_and_service_rejections(void **state)
{
    (void)state;
    fake *f = fake_new();
    f->group_exists = f->stream_exists = true;
    skytest_capture fb = {0};
    sky_sink *s = sink_with(f, (sky_cwl_opts){.log_group = "g", .log_stream = "s",
                                              .sync_upload = true, .flush_interval_ms = 60000,
                                              .fallback = skytest_capture_sink(&fb, SKY_FORMAT_JSON)});
    int64_t now = sky_now_ns() / 1000000, h = 3600 * 1000;
    sky_cwl_put(s, now - 12 * h, "a", 1);
    sky_cwl_put(s, now - 13 * h, "b", 1);
    sky_cwl_put(s, now + 13 * h - 12 * h, "c", 1); /* now + 1 h: fine */
    sky_cwl_put(s, now - 15 * 24 * h, "old", 3);  /* > 14 days: rejected before sending */
    sky_cwl_put(s, now + 3 * h, "future", 6);     /* > 2 h ahead: rejected before sending */
    sky_cwl_put(s, now - 11 * h - 25 * h / 2, "x", 1);  /* makes the span > 24 h: next batch */
    sky_cwl_put(s, now, "", 0);                   /* empty: dropped */
    assert_int_equal(sky_sink_flush(s, 5000), SKY_OK);
    assert_false(f->violation);
    assert_int_equal(f->events, 4);
    assert_int_equal(f->puts, 2);
    sky_cwl_stats st;
    sky_cwl_stats_get(s, &st);
    assert_int_equal(st.rejected[SKY_CWL_REJECT_TOO_OLD], 1);
    assert_int_equal(st.rejected[SKY_CWL_REJECT_TOO_NEW], 1);
    assert_int_equal(st.dropped[SKY_CWL_DROP_EMPTY], 1);
    assert_int_equal(fb.n, 2);
    assert_string_equal(fb.lines[0], "old\n");

    /* the service rejects some events of a batch: counted and handed to the fallback */
    f->reject_json = "{\"rejectedLogEventsInfo\":{\"tooOldLogEventEndIndex\":2,"
                     "\"tooNewLogEventStartIndex\":4}}";
    for (int i = 0; i < 5; i++)
        sky_cwl_put(s, now + i, "r", 1);
    sky_sink_flush(s, 5000);
    sky_cwl_stats_get(s, &st);
    assert_int_equal(st.rejected[SKY_CWL_REJECT_TOO_OLD], 3);
    assert_int_equal(st.rejected[SKY_CWL_REJECT_TOO_NEW], 2);
    assert_int_equal(st.sent_events, 4 + 2);
    assert_int_equal(fb.n, 5);
    sky_sink_close(s);
    skytest_capture_reset(&fb);
    fake_destroy(f);
}

static void test_oversize_policies(void **state)
{
    (void)state;
    size_t big = 5000;
    char *msg = malloc(big);
    memset(msg, 'a', big);
    memcpy(msg + 996, "\xE2\x82\xAC", 3); /* a euro sign across the truncation point */
    int64_t now = sky_now_ns() / 1000000;
    sky_cwl_oversize pol[] = {SKY_CWL_OVERSIZE_TRUNCATE, SKY_CWL_OVERSIZE_SPLIT,
                              SKY_CWL_OVERSIZE_DROP};
    for (int p = 0; p < 3; p++) {
        fake *f = fake_new();
        f->group_exists = f->stream_exists = true;
        sky_sink *s = sink_with(f, (sky_cwl_opts){.log_group = "g", .log_stream = "s",
                                                  .sync_upload = true, .max_event_bytes = 1062,
                                                  .oversize = pol[p]});
        sky_cwl_put(s, now, msg, big);
        sky_sink_flush(s, 5000);
        assert_false(f->violation);
        sky_cwl_stats st;
        sky_cwl_stats_get(s, &st);
        if (pol[p] == SKY_CWL_OVERSIZE_TRUNCATE) {
            assert_int_equal(f->events, 1);
            const char *m = json_string_value(json_object_get(json_array_get(f->stored, 0), "message"));
            assert_true(strlen(m) + 26 <= 1062);
            assert_non_null(strstr(m, "...[truncated "));
            assert_int_equal(st.truncated, 1);
            /* the marker says how much was cut, and so do the stats */
            size_t kept = (size_t)(strstr(m, "...[truncated ") - m);
            char want[64];
            snprintf(want, sizeof want, "...[truncated %zu bytes]", big - kept);
            assert_string_equal(m + kept, want);
            assert_int_equal(st.truncated_bytes, big - kept);
        } else if (pol[p] == SKY_CWL_OVERSIZE_SPLIT) {
            assert_true(f->events >= 5);
            size_t total = 0;
            for (size_t i = 0; i < f->events; i++) {
                const char *m = json_string_value(json_object_get(json_array_get(f->stored, i), "message"));
                char want[32];
                snprintf(want, sizeof want, "[part %zu/%zu] ", i + 1, f->events);
                assert_true(strncmp(m, want, strlen(want)) == 0);
                total += strlen(m) - strlen(want);
            }
            assert_int_equal(total, big); /* nothing lost */
            assert_int_equal(st.split, 1);
            assert_int_equal(st.split_parts, f->events);
            assert_int_equal(st.sent_events, f->events);
        } else {
            assert_int_equal(f->events, 0);
            assert_int_equal(st.dropped[SKY_CWL_DROP_OVERSIZE], 1);
        }
        sky_sink_close(s);
        fake_destroy(f);
    }
    free(msg);
}

/* A transport that signs bodies gets each body's SHA-256 from the sink, computed while the
 * body was written: right for every kind of message (escapes, invalid UTF-8, one past the
 * escaper's direct size, which is written in chunks), for a retry of the same body, and absent
 * when the transport does not ask. */
static void test_body_hashed_while_built(void **state)
{
    (void)state;
    for (int want = 0; want < 2; want++) {
        fake *f = fake_new();
        f->group_exists = f->stream_exists = true;
        f->want_sha256 = want;
        fake_fail(f, 2, "ThrottlingException", 400, SKY_ETHROTTLED);
        sky_sink *s = sink_with(f, (sky_cwl_opts){.log_group = "g", .log_stream = "s",
                                                  .retry_delay_ms = 1, .batch_size = 7,
                                                  .flush_interval_ms = 3600000});
        int64_t now = sky_now_ns() / 1000000;
        size_t big = SKY_JSON_DIRECT_MAX + 100;
        char *long_msg = malloc(big);
        assert_non_null(long_msg);
        for (size_t i = 0; i < big; i++)
            long_msg[i] = "ab\"\\\n\x01\xc3\xa9"[i % 8];
        const char *msgs[] = {"plain", "{\"json\":\"with \\\"quotes\\\"\"}", "bad \xff utf-8",
                              "tab\tand\nnewline", "caf\xc3\xa9"};
        for (int i = 0; i < 40; i++) {
            if (i % 13 == 12)
                sky_cwl_put(s, now + i, long_msg, big - (size_t)i);
            else
                sky_cwl_put(s, now + i % 3, msgs[i % 5], strlen(msgs[i % 5]));
        }
        assert_int_equal(sky_sink_flush(s, 60000), SKY_OK);
        assert_int_equal(fake_events(f), 40);
        pthread_mutex_lock(&f->mu);
        assert_false(f->violation);
        assert_true(f->calls >= 6 + 2); /* 40 events, 7 a batch, and two failures retried */
        assert_int_equal(f->hashed_puts, want ? f->calls : 0);
        assert_string_equal(f->bodies[1], f->bodies[0]); /* the retries: the same body */
        assert_string_equal(f->bodies[2], f->bodies[0]);
        pthread_mutex_unlock(&f->mu);
        sky_sink_close(s);
        free(long_msg);
        fake_destroy(f);
    }
}

static void test_retries_never_duplicate(void **state)
{
    (void)state;
    fake *f = fake_new();
    f->group_exists = f->stream_exists = true;
    fake_fail(f, 3, "ThrottlingException", 400, SKY_ETHROTTLED);
    /* sent by the flushes below, so the batches do not depend on the machine's speed */
    sky_sink *s = sink_with(f, (sky_cwl_opts){.log_group = "g", .log_stream = "s",
                                              .retry_delay_ms = 1, .flush_interval_ms = 3600000});
    int64_t now = sky_now_ns() / 1000000;
    for (int i = 0; i < 100; i++)
        sky_cwl_put(s, now, "x", 1);
    assert_int_equal(sky_sink_flush(s, 60000), SKY_OK);
    assert_int_equal(fake_events(f), 100);
    sky_cwl_stats st;
    sky_cwl_stats_get(s, &st);
    assert_true(st.retries >= 3);
    assert_true(st.sender_alive);
    assert_non_null(strstr(st.last_error, "ThrottlingException"));
    /* a retry resends the very body it built (same bytes, same id for the transport to keep
     * its payload hash), however many events arrived meanwhile */
    pthread_mutex_lock(&f->mu);
    assert_int_equal(f->calls, 4); /* one batch: 3 failures, then delivered */
    assert_true(f->body_ids[0] != 0);
    for (int i = 1; i < 4; i++) {
        assert_string_equal(f->bodies[i], f->bodies[0]);
        assert_true(f->body_ids[i] == f->body_ids[0]);
    }
    int calls = f->calls;
    pthread_mutex_unlock(&f->mu);
    /* invalid requests are not retried: rejected, counted */
    fake_fail(f, 1, "InvalidParameterException", 400, SKY_EREMOTE);
    sky_cwl_put(s, now, "bad", 3);
    sky_sink_flush(s, 60000);
    sky_cwl_stats_get(s, &st);
    assert_int_equal(st.rejected[SKY_CWL_REJECT_INVALID], 1);
    assert_int_equal(fake_events(f), 100);
    /* a new batch is a new body */
    sky_cwl_put(s, now, "next", 4);
    assert_int_equal(sky_sink_flush(s, 60000), SKY_OK);
    pthread_mutex_lock(&f->mu);
    assert_int_equal(f->calls, calls + 2);
    assert_true(f->body_ids[calls + 1] != f->body_ids[0]);
    assert_true(f->body_ids[calls + 1] != f->body_ids[calls]);
    pthread_mutex_unlock(&f->mu);
    sky_sink_close(s);
    fake_destroy(f);
}

/* Messages of the stored events, in order. */
static void assert_stored(fake *f, const char *const *want, size_t n)
{
    assert_int_equal(json_array_size(f->stored), n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(
            json_string_value(json_object_get(json_array_get(f->stored, i), "message")), want[i]);
}

/* Events refused for their age before any request leave the queue without a request: a writer
 * blocked on the full queue must still be woken (it used to wait for ever). */
static void test_aged_events_wake_blocked_writers(void **state)
{
    (void)state;
    fake *f = fake_new();
    f->group_exists = f->stream_exists = true;
    sky_sink *s = sink_with(f, (sky_cwl_opts){.log_group = "g", .log_stream = "s",
                                              .block_when_full = true, .max_queue_size = 10,
                                              .flush_interval_ms = 60000});
    int64_t old = sky_now_ns() / 1000000 - 400LL * 24 * 3600 * 1000;
    for (int i = 0; i < 1000; i++)
        assert_int_equal(sky_cwl_put(s, old + i, "old", 3), SKY_OK);
    assert_int_equal(sky_sink_flush(s, 60000), SKY_OK);
    sky_cwl_stats st;
    sky_cwl_stats_get(s, &st);
    assert_int_equal(st.rejected[SKY_CWL_REJECT_TOO_OLD], 1000);
    assert_int_equal(fake_events(f), 0);
    sky_sink_close(s);
    fake_destroy(f);
}

static void test_refused_event_isolated(void **state)
{
    (void)state;
    /* issue 11: one event the service refuses (it names none) must not cost the others */
    fake *f = fake_new();
    f->group_exists = f->stream_exists = true;
    f->refuse = "BAD";
    skytest_capture fb = {0};
    sky_sink *s = sink_with(f, (sky_cwl_opts){.log_group = "g", .log_stream = "s",
                                              .sync_upload = true, .flush_interval_ms = 3600000,
                                              .fallback = skytest_capture_sink(&fb, SKY_FORMAT_JSON)});
    int64_t now = sky_now_ns() / 1000000;
    sky_cwl_put(s, now, "good 1", 6);
    sky_cwl_put(s, now, "BAD \0 nul", 9); /* a NUL: valid JSON (\u0000), refused here */
    sky_cwl_put(s, now, "good 3", 6);
    assert_int_equal(sky_sink_flush(s, 60000), SKY_OK);
    assert_false(f->violation);
    assert_stored(f, (const char *const[]){"good 1", "good 3"}, 2);
    sky_cwl_stats st;
    sky_cwl_stats_get(s, &st);
    assert_int_equal(st.sent_events, 2);
    assert_int_equal(st.rejected[SKY_CWL_REJECT_INVALID], 1);
    assert_true(st.isolation_requests >= 2);
    assert_non_null(strstr(st.last_error, "SerializationException"));
    assert_int_equal(fb.n, 1);
    assert_memory_equal(fb.lines[0], "BAD \0 nul\n", 10);
    sky_sink_close(s);
    skytest_capture_reset(&fb);
    fake_destroy(f);

    /* 3 refused among 3,000 (first, middle, last of a batch): the other 2,997 are delivered in
     * order, and finding the 3 costs a few requests per refused event, not one per event */
    f = fake_new();
    f->group_exists = f->stream_exists = true;
    f->refuse = "BAD";
    s = sink_with(f, (sky_cwl_opts){.log_group = "g", .log_stream = "s", .sync_upload = true,
                                    .flush_interval_ms = 3600000});
    for (int i = 0; i < 3000; i++) {
        char m[32];
        int l = snprintf(m, sizeof m, i == 0 || i == 1234 || i == 2999 ? "BAD %d" : "e%d", i);
        sky_cwl_put(s, now, m, (size_t)l);
    }
    assert_int_equal(sky_sink_flush(s, 60000), SKY_OK);
    assert_false(f->violation);
    assert_int_equal(f->events, 2997);
    for (size_t i = 0, k = 0; i < 3000; i++) {
        if (i == 0 || i == 1234 || i == 2999)
            continue;
        char want[16];
        snprintf(want, sizeof want, "e%zu", i);
        assert_string_equal(
            json_string_value(json_object_get(json_array_get(f->stored, k++), "message")), want);
    }
    sky_cwl_stats_get(s, &st);
    assert_int_equal(st.rejected[SKY_CWL_REJECT_INVALID], 3);
    assert_int_equal(st.sent_events, 2997);
    assert_int_equal(st.queued_events, 0);
    assert_true(st.isolation_requests <= 3 * 2 * 12 + 2); /* 2 per halving, log2(3000) < 12 */
    assert_int_equal(st.requests, (uint64_t)f->puts);
    /* every event refused (a service that refuses them all) still ends, each one rejected */
    f->refuse = "e";
    for (int i = 0; i < 8; i++)
        sky_cwl_put(s, now, "e", 1);
    assert_int_equal(sky_sink_flush(s, 60000), SKY_OK);
    sky_cwl_stats_get(s, &st);
    assert_int_equal(st.rejected[SKY_CWL_REJECT_INVALID], 3 + 8);
    assert_int_equal(st.sent_events, 2997);
    /* errors about the request, not an event, are not split: a missing stream, throttling */
    f->refuse = NULL;
    fake_fail(f, 2, "ThrottlingException", 400, SKY_ETHROTTLED);
    for (int i = 0; i < 10; i++)
        sky_cwl_put(s, now, "t", 1);
    int calls = f->calls;
    uint64_t iso = st.isolation_requests;
    assert_int_equal(sky_sink_flush(s, 60000), SKY_OK);
    sky_cwl_stats_get(s, &st);
    assert_int_equal(f->calls, calls + 3);
    assert_int_equal(st.isolation_requests, iso);
    assert_int_equal(st.sent_events, 2997 + 10);
    sky_sink_close(s);
    fake_destroy(f);
}

/* A group that cannot be created for now (CreateLogGroup throttled past its retries) is not a
 * group that cannot exist: the events are kept and delivered once the creation goes through,
 * and every throttled attempt is counted. */
static void test_throttled_creation_keeps_the_events(void **state)
{
    (void)state;
    fake *f = fake_new();
    f->create_throttled = 2;
    sky_sink *s = sink_with(f, (sky_cwl_opts){.log_group = "g", .log_stream = "s",
                                              .sync_upload = true, .retry_delay_ms = 1});
    int64_t now = sky_now_ns() / 1000000;
    sky_cwl_put(s, now, "kept", 4);
    assert_int_equal(sky_sink_flush(s, 20000), SKY_OK);
    sky_cwl_stats st;
    sky_cwl_stats_get(s, &st);
    assert_int_equal(f->events, 1);
    assert_int_equal(f->creates_group, 3);
    assert_int_equal(st.dropped[SKY_CWL_DROP_NO_RESOURCE], 0);
    assert_int_equal(st.sent_events, 1);
    assert_int_equal(st.throttles, 2 * 3);
    /* 2 x 2 retries inside the AWS layer, and the batch sent again twice */
    assert_int_equal(st.retries, 2 * 2 + 2);
    assert_int_equal(st.ambiguous, 0);
    sky_sink_close(s);
    fake_destroy(f);
}

static void test_missing_resources(void **state)
{
    (void)state;
    fake *f = fake_new();
    sky_sink *s = sink_with(f, (sky_cwl_opts){.log_group = "g", .log_stream = "s",
                                              .sync_upload = true, .retention_days = 7});
    int64_t now = sky_now_ns() / 1000000;
    sky_cwl_put(s, now, "x", 1);
    sky_sink_flush(s, 5000);
    assert_int_equal(f->events, 1);
    assert_int_equal(f->creates_group, 1);
    /* asked before the first put (no group yet), then again once the group was made */
    assert_int_equal(f->retention_calls, 2);
    assert_int_equal(f->retention_set, 1);
    assert_int_equal(f->retention_days, 7);
    sky_sink_close(s);
    fake_destroy(f);

    f = fake_new();
    s = sink_with(f, (sky_cwl_opts){.log_group = "g", .log_stream = "s", .sync_upload = true,
                                    .no_create_group = true, .no_create_stream = true});
    sky_cwl_put(s, now, "x", 1);
    sky_sink_flush(s, 5000);
    sky_cwl_stats st;
    sky_cwl_stats_get(s, &st);
    assert_int_equal(f->events, 0);
    assert_int_equal(f->creates_group, 0);
    assert_int_equal(st.dropped[SKY_CWL_DROP_NO_RESOURCE], 1);
    sky_sink_close(s);
    fake_destroy(f);
}

/* retention_days is the group's, also when group and stream already exist (nothing is created,
 * so no CreateLogGroup would carry it) and with no_create_group: set once, before the first
 * put (as watchtower sets it at every start) */
static void test_retention_on_existing_group(void **state)
{
    (void)state;
    for (int no_create = 0; no_create < 2; no_create++) {
        fake *f = fake_new();
        f->group_exists = f->stream_exists = true;
        sky_sink *s = sink_with(f, (sky_cwl_opts){.log_group = "g", .log_stream = "s",
                                                  .sync_upload = true, .retention_days = 14,
                                                  .no_create_group = no_create,
                                                  .no_create_stream = no_create});
        int64_t now = sky_now_ns() / 1000000;
        sky_cwl_put(s, now, "x", 1);
        sky_cwl_put(s, now, "y", 1);
        sky_sink_flush(s, 5000);
        assert_int_equal(f->events, 2);
        assert_int_equal(f->creates_group, 0);
        assert_int_equal(f->retention_calls, 1);
        assert_int_equal(f->retention_set, 1);
        assert_int_equal(f->retention_days, 14);
        sky_sink_close(s);
        fake_destroy(f);
    }
}

static void test_queue_bound_and_dead_endpoint(void **state)
{
    (void)state;
    fake *f = fake_new();
    f->group_exists = f->stream_exists = true;
    /* the endpoint never answers well */
    fake_fail(f, 1 << 30, "ServiceUnavailableException", 503, SKY_EREMOTE);
    sky_sink *s = sink_with(f, (sky_cwl_opts){.log_group = "g", .log_stream = "s",
                                              .max_queue_size = 500, .retry_delay_ms = 1,
                                              .flush_interval_ms = 1});
    int64_t now = sky_now_ns() / 1000000;
    /* a full queue refuses at once (it does not wait for room): 500 accepted, 1500 refused */
    int ok = 0, full = 0;
    for (int i = 0; i < 2000; i++) {
        sky_status st = sky_cwl_put(s, now, "x", 1);
        ok += st == SKY_OK;
        full += st == SKY_EFULL;
    }
    assert_int_equal(ok, 500);
    assert_int_equal(full, 1500);
    assert_int_equal(sky_sink_flush(s, 200), SKY_ETIMEDOUT);
    sky_cwl_stats st;
    sky_cwl_stats_get(s, &st);
    assert_int_equal(st.accepted, 500);
    assert_int_equal(st.dropped[SKY_CWL_DROP_QUEUE_FULL], 1500);
    assert_int_equal(st.queued_events, 500);
    /* the endpoint comes back: delivery resumes, nothing accepted was lost */
    fake_fail(f, 0, NULL, 0, SKY_OK);
    assert_int_equal(sky_sink_flush(s, 120000), SKY_OK);
    assert_int_equal(fake_events(f), 500);
    fake_fail(f, 1 << 30, "ServiceUnavailableException", 503, SKY_EREMOTE);
    sky_cwl_put(s, now, "late", 4);
    /* close gives up (a bounded grace), counting what it could not deliver */
    assert_int_equal(sky_cwl_close(s, &st), SKY_ETIMEDOUT);
    assert_int_equal(st.dropped[SKY_CWL_DROP_UNDELIVERED], 1);
    assert_int_equal(st.sent_events, 500);
    fake_destroy(f);
}

/* The next PutLogEvents calls fail with these codes in turn. Safe while the sender runs. */
static void fake_seq(fake *f, int n, const char *const *codes)
{
    pthread_mutex_lock(&f->mu);
    for (int i = 0; i < n; i++)
        f->seq[i] = codes[i];
    f->n_seq = n;
    pthread_mutex_unlock(&f->mu);
}

/* sky_cwl_stats says where delivery stands: attempts failed in a row and since when (a
 * delivery, a refusal of the events or a throttling answer ends the run), whether the last
 * answer was throttling, and no planned retry while one is being sent. Taken by the transport
 * at each attempt: what each attempt saw of the ones before it, whatever the timing. */
static void test_delivery_state_in_stats(void **state)
{
    (void)state;
    fake *f = fake_new();
    f->group_exists = f->stream_exists = true;
    sky_sink *s = sink_with(f, (sky_cwl_opts){.log_group = "g", .log_stream = "s",
                                              .retry_delay_ms = 1, .flush_interval_ms = 3600000});
    pthread_mutex_lock(&f->mu);
    f->watch = s;
    pthread_mutex_unlock(&f->mu);
    sky_cwl_stats st;
    sky_cwl_stats_get(s, &st);
    assert_true(st.failures_in_a_row == 0 && st.failing_since_mono_ms == 0 && !st.throttled &&
                st.retry_at_mono_ms == 0);
    int64_t now = sky_now_ns() / 1000000;
    int64_t t0 = sky_monotonic_ns() / 1000000;
    /* 503, 503, throttled, 503, then delivered */
    fake_seq(f, 4, (const char *[]){"ServiceUnavailableException", "ServiceUnavailableException",
                                    "ThrottlingException", "ServiceUnavailableException"});
    sky_cwl_put(s, now, "a", 1);
    assert_int_equal(sky_sink_flush(s, 60000), SKY_OK);
    /* a rejection ends a run too: 503, then refused as invalid */
    fake_seq(f, 1, (const char *[]){"ServiceUnavailableException"});
    fake_fail(f, 1, "InvalidParameterException", 400, SKY_EREMOTE);
    sky_cwl_put(s, now, "b", 1);
    sky_sink_flush(s, 60000);
    sky_cwl_put(s, now, "c", 1);
    assert_int_equal(sky_sink_flush(s, 60000), SKY_OK);
    pthread_mutex_lock(&f->mu);
    assert_int_equal(f->calls, 8);
    static const uint64_t failures[8] = {0, 1, 2, 0, 1, 0, 1, 0};
    static const bool throttled[8] = {false, false, false, true, false, false, false, false};
    for (int i = 0; i < 8; i++) {
        const sky_cwl_stats *x = &f->seen[i];
        assert_int_equal(x->failures_in_a_row, failures[i]);
        assert_int_equal(x->throttled, throttled[i]);
        assert_int_equal(x->retry_at_mono_ms, 0); /* this attempt is the retry */
        assert_int_equal(x->failing_since_mono_ms != 0, failures[i] != 0);
        assert_true(x->failing_since_mono_ms == 0 || x->failing_since_mono_ms >= t0);
    }
    /* the same run, the same start */
    assert_true(f->seen[2].failing_since_mono_ms == f->seen[1].failing_since_mono_ms);
    f->watch = NULL;
    pthread_mutex_unlock(&f->mu);
    sky_cwl_stats_get(s, &st);
    assert_int_equal(st.rejected[SKY_CWL_REJECT_INVALID], 1);
    assert_int_equal(st.sent_events, 2);
    assert_true(st.failures_in_a_row == 0 && st.failing_since_mono_ms == 0 && !st.throttled &&
                st.retry_at_mono_ms == 0);
    sky_sink_close(s);
    fake_destroy(f);

    /* Waiting out a backoff: the planned retry's time. Sent from the caller (sync_upload), a
     * put returns once no attempt is due: the retry is planned then, up to retry_delay_ms
     * (full jitter) after the failure. */
    f = fake_new();
    f->group_exists = f->stream_exists = true;
    fake_fail(f, 1 << 30, "ThrottlingException", 400, SKY_ETHROTTLED);
    s = sink_with(f, (sky_cwl_opts){.log_group = "g", .log_stream = "s", .sync_upload = true,
                                    .batch_size = 1, .retry_delay_ms = 3600000,
                                    .no_exponential_backoff = true});
    int64_t before = sky_monotonic_ns() / 1000000;
    sky_cwl_put(s, now, "kept", 4);
    int64_t after = sky_monotonic_ns() / 1000000;
    sky_cwl_stats_get(s, &st);
    assert_true(st.throttled);
    assert_int_equal(st.failures_in_a_row, 0); /* the service is there */
    assert_true(st.retry_at_mono_ms > before && st.retry_at_mono_ms <= after + 3600000);
    assert_int_equal(st.queued_events, 1);
    /* given up at close: nothing is planned any more */
    assert_int_equal(sky_cwl_close(s, &st), SKY_ETIMEDOUT);
    assert_int_equal(st.dropped[SKY_CWL_DROP_UNDELIVERED], 1);
    assert_int_equal(st.retry_at_mono_ms, 0);
    fake_destroy(f);
}

/* sky_cwl_stop_blocking lets a writer go that waits for room (block_when_full) which a failing
 * endpoint never makes: its message is refused and counted, and so are later ones. */
typedef struct blocked_writer {
    sky_sink *s;
    sky_status last;
} blocked_writer;

static void *write_eleven(void *arg)
{
    blocked_writer *w = arg;
    int64_t now = sky_now_ns() / 1000000;
    for (int i = 0; i < 11; i++)
        w->last = sky_cwl_put(w->s, now, "x", 1);
    return NULL;
}

static void test_stop_blocking_lets_writers_go(void **state)
{
    (void)state;
    fake *f = fake_new();
    f->group_exists = f->stream_exists = true;
    fake_fail(f, 1 << 30, "ServiceUnavailableException", 503, SKY_EREMOTE);
    sky_sink *s = sink_with(f, (sky_cwl_opts){.log_group = "g", .log_stream = "s",
                                              .block_when_full = true, .max_queue_size = 10,
                                              .retry_delay_ms = 1, .flush_interval_ms = 1});
    blocked_writer w = {.s = s};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, write_eleven, &w), 0);
    /* the 11th waits for room (or comes after the call below and does not wait): either way
     * the join returns only because of it */
    sky_cwl_stats st;
    do {
        usleep(1000);
        sky_cwl_stats_get(s, &st);
    } while (st.accepted < 10);
    assert_int_equal(sky_cwl_stop_blocking(s), SKY_OK);
    pthread_join(t, NULL);
    assert_int_equal(w.last, SKY_EFULL);
    assert_int_equal(sky_cwl_put(s, sky_now_ns() / 1000000, "y", 1), SKY_EFULL);
    sky_cwl_stats_get(s, &st);
    assert_int_equal(st.accepted, 10);
    assert_int_equal(st.dropped[SKY_CWL_DROP_QUEUE_FULL], 2);
    assert_int_equal(sky_cwl_stop_blocking(NULL), SKY_EINVAL);
    sky_sink_close(s);
    fake_destroy(f);
}

/* sky_cwl_put_many: many messages under one lock, each with the result sky_cwl_put would
 * give it, in order; it stops after the first refused for lack of room. */
/* Messages are checked for UTF-8 while they are copied into the queue: a bad byte anywhere
 * (in the copy's 64- and 16-byte blocks, in its overlapping last 16 bytes) is repaired and the
 * queue counts the repaired length; a good multi-byte character is kept as it is. Thousands of
 * 1,000-byte messages cycle the queue's blocks through its spare list: each comes back whole
 * and in order. */
static void test_utf8_checked_while_queued(void **state)
{
    (void)state;
    fake *f;
    sky_sink *s = sync_sink(&f);
    int64_t now = sky_now_ns() / 1000000;
    static const size_t lens[] = {1, 15, 16, 17, 63, 64, 65, 100, 130, 200};
    size_t n = 0, want_bytes = 0;
    char msg[256], want[512];
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        size_t len = lens[k];
        size_t ats[] = {0, len / 2, len - 1};
        for (int a = 0; a < 3; a++) {
            for (int bad = 0; bad < 2; bad++) {
                memset(msg, 'x', len);
                size_t at = ats[a];
                if (bad) {
                    msg[at] = (char)0xFF;
                } else if (len >= 2) {
                    at = at + 2 <= len ? at : len - 2;
                    msg[at] = (char)0xC3, msg[at + 1] = (char)0xA9;
                }
                sky_cwl_msg m = {now, msg, len};
                sky_status st;
                assert_int_equal(sky_cwl_put_many(s, &m, 1, &st), 1);
                assert_int_equal(st, SKY_OK);
                assert_int_equal(sky_sink_flush(s, 5000), SKY_OK);
                memcpy(want, msg, len);
                size_t wl = len;
                if (bad) { /* U+FFFD in place of the byte */
                    memmove(want + at + 3, want + at + 1, len - at - 1);
                    memcpy(want + at, "\xEF\xBF\xBD", 3);
                    wl = len + 2;
                }
                json_t *got = json_object_get(json_array_get(f->stored, n++), "message");
                assert_int_equal(json_string_length(got), wl);
                assert_memory_equal(json_string_value(got), want, wl);
                want_bytes += wl + SKY_CWL_EVENT_OVERHEAD;
            }
        }
    }
    sky_cwl_stats cs;
    sky_cwl_stats_get(s, &cs);
    assert_int_equal(cs.sent_events, n);
    assert_int_equal(cs.sent_bytes, want_bytes); /* the repaired lengths were counted */
    sky_sink_close(s);
    fake_destroy(f);

    s = sync_sink(&f);
    enum { N = 5000, L = 1000 };
    static char big[L];
    for (int i = 0; i < N; i++) {
        memset(big, 'a' + i % 26, L);
        snprintf(big, 16, "%09d:", i);
        big[10] = 'z';
        sky_cwl_msg m = {now, big, L};
        sky_status st;
        assert_int_equal(sky_cwl_put_many(s, &m, 1, &st), 1);
        assert_int_equal(st, SKY_OK);
    }
    assert_int_equal(sky_sink_flush(s, 10000), SKY_OK);
    assert_false(f->violation);
    assert_int_equal(json_array_size(f->stored), N);
    for (int i = 0; i < N; i++) {
        memset(big, 'a' + i % 26, L);
        snprintf(big, 16, "%09d:", i);
        big[10] = 'z';
        json_t *got = json_object_get(json_array_get(f->stored, (size_t)i), "message");
        assert_int_equal(json_string_length(got), L);
        assert_memory_equal(json_string_value(got), big, L);
    }
    sky_sink_close(s);
    fake_destroy(f);
}

/* The request body: each event's timestamp written anew or reused from the one before (equal
 * times), a message past the escaper's direct size escaped in chunks, in one request. */
static void test_body_timestamps_and_long_messages(void **state)
{
    (void)state;
    fake *f;
    sky_sink *s = sync_sink(&f);
    int64_t t = sky_now_ns() / 1000000 - 5000;
    static char longm[5000];
    for (size_t i = 0; i < sizeof longm; i++)
        longm[i] = "ab\"c\\\n"[i % 6];
    sky_cwl_msg m[] = {{t, "one", 3},         {t, longm, sizeof longm}, {t, "three", 5},
                       {t + 1, "four", 4},    {t + 999, "five", 4},     {t + 999, "six", 3},
                       {t + 1000, "seven", 5}};
    size_t n = sizeof m / sizeof m[0];
    sky_status st[8];
    assert_int_equal(sky_cwl_put_many(s, m, n, st), n);
    assert_int_equal(sky_sink_flush(s, 5000), SKY_OK);
    assert_false(f->violation);
    assert_int_equal(json_array_size(f->stored), n);
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(f->stored, i);
        assert_int_equal(json_integer_value(json_object_get(e, "timestamp")), m[i].ts_ms);
        json_t *msg = json_object_get(e, "message");
        assert_int_equal(json_string_length(msg), m[i].len);
        assert_memory_equal(json_string_value(msg), m[i].msg, m[i].len);
    }
    sky_sink_close(s);
    fake_destroy(f);
}

static void test_put_many(void **state)
{
    (void)state;
    fake *f = fake_new();
    f->group_exists = f->stream_exists = true;
    sky_sink *s = sink_with(f, (sky_cwl_opts){.log_group = "g", .log_stream = "s",
                                              .sync_upload = true, .flush_interval_ms = 60000,
                                              .max_event_bytes = 128,
                                              .oversize = SKY_CWL_OVERSIZE_DROP});
    int64_t now = sky_now_ns() / 1000000;
    char big[200];
    memset(big, 'b', sizeof big);
    sky_cwl_msg m[] = {{now, "first", 5}, {now, NULL, 0}, {now, big, sizeof big},
                       {now - 1, "fourth", 6}, {now, "bad \xff utf-8", 11}};
    sky_status st[5];
    assert_int_equal(sky_cwl_put_many(s, m, 5, st), 5);
    assert_int_equal(st[0], SKY_OK);
    assert_int_equal(st[1], SKY_EINVAL); /* empty: dropped, counted */
    assert_int_equal(st[2], SKY_ELIMIT); /* oversize, policy drop: counted, not a stop */
    assert_int_equal(st[3], SKY_OK);
    assert_int_equal(st[4], SKY_OK);     /* repaired, as sky_cwl_put does */
    /* arguments that cannot be messages: nothing is queued */
    sky_cwl_msg bad[] = {{now, "ok", 2}, {now, NULL, 3}};
    assert_int_equal(sky_cwl_put_many(s, bad, 2, st), 0);
    assert_int_equal(sky_cwl_put_many(NULL, m, 1, st), 0);
    assert_int_equal(sky_cwl_put_many(s, NULL, 1, st), 0);
    assert_int_equal(sky_cwl_put_many(s, NULL, 0, NULL), 0);
    assert_int_equal(sky_sink_flush(s, 5000), SKY_OK);
    assert_false(f->violation);
    assert_int_equal(f->events, 3);
    /* sorted by time in the request; the message repaired */
    assert_string_equal(json_string_value(json_object_get(json_array_get(f->stored, 0), "message")),
                        "fourth");
    assert_string_equal(json_string_value(json_object_get(json_array_get(f->stored, 1), "message")),
                        "first");
    assert_string_equal(json_string_value(json_object_get(json_array_get(f->stored, 2), "message")),
                        "bad \xef\xbf\xbd utf-8");
    sky_cwl_stats cs;
    sky_cwl_stats_get(s, &cs);
    assert_int_equal(cs.accepted, 3);
    assert_int_equal(cs.dropped[SKY_CWL_DROP_EMPTY], 1);
    assert_int_equal(cs.dropped[SKY_CWL_DROP_OVERSIZE], 1);
    sky_sink_close(s);
    fake_destroy(f);

    /* a bounded queue, the endpoint down: it stops after the first refusal, so the caller
     * decides about the rest; what was accepted is delivered once the endpoint is back */
    f = fake_new();
    f->group_exists = f->stream_exists = true;
    fake_fail(f, 1 << 30, "ServiceUnavailableException", 503, SKY_EREMOTE);
    s = sink_with(f, (sky_cwl_opts){.log_group = "g", .log_stream = "s", .max_queue_size = 5,
                                    .retry_delay_ms = 1, .flush_interval_ms = 1});
    sky_cwl_msg many[8];
    char text[8][8];
    for (int i = 0; i < 8; i++) {
        snprintf(text[i], sizeof text[i], "m%d", i);
        many[i] = (sky_cwl_msg){now + i, text[i], strlen(text[i])};
    }
    sky_status st8[8];
    assert_int_equal(sky_cwl_put_many(s, many, 8, st8), 6);
    for (int i = 0; i < 5; i++)
        assert_int_equal(st8[i], SKY_OK);
    assert_int_equal(st8[5], SKY_EFULL);
    sky_cwl_stats_get(s, &cs);
    assert_int_equal(cs.accepted, 5);
    assert_int_equal(cs.dropped[SKY_CWL_DROP_QUEUE_FULL], 1);
    fake_fail(f, 0, NULL, 0, SKY_OK);
    assert_int_equal(sky_sink_flush(s, 120000), SKY_OK);
    assert_int_equal(fake_events(f), 5);
    for (int i = 0; i < 5; i++)
        assert_string_equal(
            json_string_value(json_object_get(json_array_get(f->stored, (size_t)i), "message")),
            text[i]);
    sky_sink_close(s);
    fake_destroy(f);
}

static void test_options_and_templates(void **state)
{
    (void)state;
    char *err = NULL;
    sky_sink *s = NULL;
    sky__cwl_transport t = {.call = fake_call, .free = fake_free};
    fake *f = fake_new();
    t.self = f;
    assert_int_equal(sky__sink_cloudwatch_logs_with(&(sky_cwl_opts){.log_group = "bad group!"}, t,
                                                    &s, &err),
                     SKY_EINVAL);
    assert_non_null(strstr(err, "log_group 'bad group!' is invalid"));
    free(err);
    assert_int_equal(sky__sink_cloudwatch_logs_with(
                         &(sky_cwl_opts){.log_group = "g", .log_stream = "a:b"}, t, &s, &err),
                     SKY_EINVAL);
    assert_non_null(strstr(err, "log_stream"));
    free(err);
    assert_int_equal(sky__sink_cloudwatch_logs_with(
                         &(sky_cwl_opts){.log_group = "g", .batch_size = 10001}, t, &s, &err),
                     SKY_EINVAL);
    free(err);
    assert_int_equal(sky__sink_cloudwatch_logs_with(
                         &(sky_cwl_opts){.log_group = "g", .retention_days = 8}, t, &s, &err),
                     SKY_EINVAL);
    assert_non_null(strstr(err, "retention_days"));
    free(err);
    /* the fallback is owned also when construction fails (LeakSanitizer checks) */
    skytest_capture fb = {0};
    assert_int_equal(sky__sink_cloudwatch_logs_with(
                         &(sky_cwl_opts){.log_group = "bad group!",
                                         .fallback = skytest_capture_sink(&fb, SKY_FORMAT_JSON)},
                         t, &s, &err),
                     SKY_EINVAL);
    free(err);
    assert_int_equal(fb.closed, 1);
    assert_int_equal(sky_sink_cloudwatch_logs(
                         &(sky_cwl_opts){.log_group = "bad group!",
                                         .fallback = skytest_capture_sink(&fb, SKY_FORMAT_JSON)},
                         &s, &err),
                     SKY_EINVAL);
    free(err);
    assert_int_equal(fb.closed, 2);
    assert_true(sky_cwl_valid_group_name("/aws/app-1/prod_#2.x"));
    assert_false(sky_cwl_valid_group_name(""));
    assert_false(sky_cwl_valid_stream_name("a*b"));

    /* {logger} gives one stream per logger; {pid} expands */
    f->group_exists = true;
    sky_t *sky = pipeline();
    sky_add_sink(sky, sink_with(f, (sky_cwl_opts){.log_group = "g",
                                                  .log_stream = "{logger}-{pid}",
                                                  .sync_upload = true}),
                 NULL);
    sky_info(sky_logger_get(sky, "api"), "a");
    sky_info(sky_logger_get(sky, "db"), "b");
    sky_close(sky);
    char want[64];
    snprintf(want, sizeof want, "api-%d", (int)getpid());
    assert_int_equal(f->events, 2);
    const char *s0 = json_string_value(json_object_get(json_array_get(f->stored, 0), "stream"));
    const char *s1 = json_string_value(json_object_get(json_array_get(f->stored, 1), "stream"));
    assert_string_equal(s0, want);
    snprintf(want, sizeof want, "db-%d", (int)getpid());
    assert_string_equal(s1, want);
    /* whole JSON events are sent by default */
    const char *m = json_string_value(json_object_get(json_array_get(f->stored, 0), "message"));
    json_t *ev = json_loads(m, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(ev, "logger")), "api");
    json_decref(ev);
    fake_destroy(f);
}

static void test_no_log_storm(void **state)
{
    (void)state;
    /* A failing endpoint makes the sink report errors; none of them may come back into the
     * pipeline (seed 002: the cwlogs log-loop storm). */
    fake *f = fake_new();
    f->group_exists = f->stream_exists = true;
    fake_fail(f, 1 << 30, "ServiceUnavailableException", 503, SKY_EREMOTE);
    skytest_capture cap = {0};
    sky_t *sky = pipeline();
    sky_add_sink(sky, skytest_capture_sink(&cap, SKY_FORMAT_JSON), NULL);
    sky_add_sink(sky, sink_with(f, (sky_cwl_opts){.log_group = "g", .log_stream = "s",
                                                  .retry_delay_ms = 1, .flush_interval_ms = 1}),
                 NULL);
    sky_logger *log = sky_logger_get(sky, "app");
    for (int i = 0; i < 10; i++) {
        sky_info(log, "work", SKY_INT("i", i));
        usleep(20000);
    }
    sky_stats st;
    sky_stats_get(sky, &st);
    assert_int_equal(st.emitted, 10);
    assert_int_equal(cap.n, 10);
    for (size_t i = 0; i < cap.n; i++)
        assert_non_null(strstr(cap.lines[i], "\"message\":\"work\""));
    sky_close(sky);
    skytest_capture_reset(&cap);
    fake_destroy(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batches_fill_to_the_limits),
        cmocka_unit_test(test_count_limit_and_chronological_order),
        cmocka_unit_test(test_span_age_and_service_rejections),
        cmocka_unit_test(test_timestamps_at_the_int64_edges),
        cmocka_unit_test(test_oversize_policies),
        cmocka_unit_test(test_retries_never_duplicate),
        cmocka_unit_test(test_body_hashed_while_built),
        cmocka_unit_test(test_throttled_creation_keeps_the_events),
        cmocka_unit_test(test_refused_event_isolated),
        cmocka_unit_test(test_missing_resources),
        cmocka_unit_test(test_retention_on_existing_group),
        cmocka_unit_test(test_queue_bound_and_dead_endpoint),
        cmocka_unit_test(test_put_many),
        cmocka_unit_test(test_utf8_checked_while_queued),
        cmocka_unit_test(test_body_timestamps_and_long_messages),
        cmocka_unit_test(test_options_and_templates),
        cmocka_unit_test(test_no_log_storm),
        cmocka_unit_test(test_aged_events_wake_blocked_writers),
        cmocka_unit_test(test_delivery_state_in_stats),
        cmocka_unit_test(test_stop_blocking_lets_writers_go),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

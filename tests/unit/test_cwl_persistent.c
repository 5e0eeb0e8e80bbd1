/* test_cwl_persistent.c - the CloudWatch Logs sink facing an error that waiting cannot fix
 * (refused credentials, unknown host, untrusted certificate: sky__cwl_result.persistent): the
 * batch is kept and retried slowly, the error is said once and shown in the stats, writers that
 * block_when_full are not held, close makes no last tries, and delivery resumes when it is
 * fixed. A scripted fake transport stands for AWS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sinks/cwl_transport.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct fake {
    pthread_mutex_t mu;
    int refuse;  /* the next `refuse` puts are refused as persistent */
    int puts;    /* PutLogEvents calls seen */
    int stored;  /* events accepted */
} fake;

static sky_status fake_call(void *self, const sky__cwl_call *cl, sky__cwl_result *out)
{
    fake *f = self;
    pthread_mutex_lock(&f->mu);
    out->status = SKY_OK;
    out->http_status = 200;
    if (strcmp(cl->op, "PutLogEvents") == 0) {
        f->puts++;
        if (f->refuse > 0) {
            f->refuse--;
            out->status = SKY_EAUTH;
            out->http_status = 400;
            out->persistent = true;
            snprintf(out->code, sizeof out->code, "UnrecognizedClientException");
            snprintf(out->message, sizeof out->message, "The security token is invalid.");
        } else {
            for (const char *p = cl->body; (p = strstr(p, "\"message\"")); p++)
                f->stored++;
        }
    }
    pthread_mutex_unlock(&f->mu);
    return out->status;
}

static void fake_free(void *self) { (void)self; }

static sky_sink *sink_with(fake *f, sky_cwl_opts o)
{
    sky_sink *s = NULL;
    char *err = NULL;
    sky__cwl_transport t = {.call = fake_call, .free = fake_free, .self = f};
    assert_int_equal(sky__sink_cloudwatch_logs_with(&o, t, &s, &err), SKY_OK);
    return s;
}

/* stderr into a file while `fn` runs; returns what was written (malloc'd) */
static int saved_stderr = -1;
static FILE *capture;
static void capture_start(void)
{
    fflush(stderr);
    capture = tmpfile();
    assert_non_null(capture);
    saved_stderr = dup(2);
    dup2(fileno(capture), 2);
}
static char *capture_end(void)
{
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    long n = ftell(capture);
    char *text = calloc(1, (size_t)n + 1);
    rewind(capture);
    size_t got = fread(text, 1, (size_t)n, capture);
    text[got] = '\0';
    fclose(capture);
    return text;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void test_said_once_kept_and_resumed(void **state)
{
    (void)state;
    fake f = {.mu = PTHREAD_MUTEX_INITIALIZER, .refuse = 2};
    sky_sink *s = sink_with(&f, (sky_cwl_opts){.log_group = "/p/g", .log_stream = "s",
                                               .sync_upload = true, .flush_interval_ms = 1});
    capture_start();
    for (int i = 0; i < 3; i++)
        assert_int_equal(sky_cwl_put(s, sky_now_ns() / 1000000, "event", 5), SKY_OK);
    /* the first attempt, once the flush interval has passed (in a put, or in a flush):
     * refused. Bounded only against a hang: a loaded machine makes the interval longer. */
    for (int64_t t0 = sky_monotonic_ns(); !f.puts && sky_monotonic_ns() - t0 < 60000000000LL;)
        sky_sink_flush(s, 1);
    sky_cwl_stats st;
    assert_int_equal(sky_cwl_stats_get(s, &st), SKY_OK);
    assert_true(st.persistent_error);
    assert_true(st.persistent_error_since_ms > 0);
    assert_non_null(strstr(st.last_error, "UnrecognizedClientException"));
    assert_int_equal(st.queued_events, 3); /* kept */
    assert_int_equal(st.ambiguous, 0);
    /* refused once more, then fixed: delivered, the flag clears */
    assert_int_equal(sky_sink_flush(s, 20000), SKY_OK);
    char *err = capture_end();
    assert_int_equal(sky_cwl_stats_get(s, &st), SKY_OK);
    assert_false(st.persistent_error);
    assert_int_equal(st.persistent_error_since_ms, 0);
    assert_int_equal(st.sent_events, 3);
    /* two refused attempts, then one or more batches: the first attempt may have held fewer
     * than the three events, and a retry resends the batch it built (no event twice) */
    assert_true(f.puts >= 3);
    assert_int_equal(f.stored, 3);
    assert_int_equal(count(err, "cannot deliver"), 1); /* said once, not per attempt */
    assert_int_equal(count(err, "UnrecognizedClientException"), 1);
    assert_int_equal(count(err, "resumed"), 1);
    free(err);
    assert_int_equal(sky_cwl_close(s, NULL), SKY_OK);
}

static void test_blocked_writers_released_and_close_makes_no_last_tries(void **state)
{
    (void)state;
    fake f = {.mu = PTHREAD_MUTEX_INITIALIZER, .refuse = 1 << 30};
    sky_sink *s = sink_with(&f, (sky_cwl_opts){.log_group = "/p/g", .log_stream = "s",
                                               .block_when_full = true, .max_queue_size = 5,
                                               .flush_interval_ms = 1});
    capture_start();
    /* without the release, the sixth put would wait for room forever */
    int refused = 0;
    for (int i = 0; i < 50; i++)
        if (sky_cwl_put(s, sky_now_ns() / 1000000, "event", 5) == SKY_EFULL)
            refused++;
    assert_int_equal(refused, 45); /* the queue holds 5, and they never leave */
    sky_cwl_stats st;
    assert_int_equal(sky_cwl_stats_get(s, &st), SKY_OK);
    assert_true(st.persistent_error);
    assert_int_equal(st.dropped[SKY_CWL_DROP_QUEUE_FULL], (uint64_t)refused);
    pthread_mutex_lock(&f.mu);
    int before = f.puts;
    pthread_mutex_unlock(&f.mu);
    sky_cwl_stats fin;
    assert_int_equal(sky_cwl_close(s, &fin), SKY_ETIMEDOUT);
    char *err = capture_end();
    assert_int_equal(f.puts, before); /* no last try against it */
    assert_int_equal(fin.dropped[SKY_CWL_DROP_UNDELIVERED], 50 - (uint64_t)refused);
    assert_int_equal(count(err, "UnrecognizedClientException"), 1);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_said_once_kept_and_resumed),
        cmocka_unit_test(test_blocked_writers_released_and_close_makes_no_last_tries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_cwl_streams.c - the CloudWatch Logs sink with one stream per logger ({logger} in the
 * stream name): the sender holds its stream's queue across the network call with the lock
 * released, while writers add streams for new loggers. Those queues used to live in one array
 * that grew by realloc(): the sender came back to a freed queue (heap use after free, which
 * ASan reports here). A scripted transport holds the first PutLogEvents until the test has
 * logged through 64 new loggers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sinks/cwl_transport.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int in_call, released, puts_seen;

static sky_status held_call(void *self, const sky__cwl_call *cl, sky__cwl_result *out)
{
    (void)self;
    out->status = SKY_OK;
    out->http_status = 200;
    if (strcmp(cl->op, "PutLogEvents") != 0)
        return SKY_OK;
    pthread_mutex_lock(&mu);
    if (puts_seen++ == 0) {
        in_call = 1;
        pthread_cond_broadcast(&cv);
        while (!released)
            pthread_cond_wait(&cv, &mu);
    }
    pthread_mutex_unlock(&mu);
    return SKY_OK;
}

static void no_free(void *self) { (void)self; }

static void test_new_streams_while_sending(void **state)
{
    (void)state;
    sky_cwl_opts o = {.log_group = "/t/streams", .log_stream = "app-{logger}",
                      .flush_interval_ms = 1};
    sky_sink *cw = NULL;
    char *err = NULL;
    sky__cwl_transport t = {.call = held_call, .free = no_free};
    assert_int_equal(sky__sink_cloudwatch_logs_with(&o, t, &cw, &err), SKY_OK);
    sky_t *sky = NULL;
    assert_int_equal(sky_open(&(sky_options){.mode = SKY_MODE_SYNC}, &sky), SKY_OK);
    assert_int_equal(sky_add_sink(sky, cw, NULL), SKY_OK);
    sky_info(sky_logger_get(sky, "first"), "hello");
    pthread_mutex_lock(&mu);
    while (!in_call)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    /* the sender is inside the call for "first": every new logger adds a stream */
    for (int i = 0; i < 64; i++) {
        char name[16];
        snprintf(name, sizeof name, "l%d", i);
        sky_info(sky_logger_get(sky, name), "hello");
    }
    pthread_mutex_lock(&mu);
    released = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    assert_int_equal(sky_flush(sky, 30000), SKY_OK);
    sky_cwl_stats st;
    assert_int_equal(sky_cwl_stats_get(cw, &st), SKY_OK);
    assert_int_equal(st.sent_events, 65);
    assert_int_equal(st.queued_events, 0);
    assert_int_equal(puts_seen, 65); /* one stream each: one request each */
    sky_close(sky);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_streams_while_sending),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_cond.c - unit tests for src/util/cond.h: condition variables on CLOCK_MONOTONIC and the
 * timed waits every sink's sender and flush use. What is guaranteed, not how fast: a wait never
 * returns ETIMEDOUT before its time, a deadline already past times out at once, and a signal
 * ends a wait before its time.
 */
#include "skytest.h"

#include "util/cond.h"

#include <errno.h>
#include <skylog.h>

typedef struct shared {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool ready;
} shared;

static void test_waits_time_out_no_earlier_than_asked(void **state)
{
    (void)state;
    shared s = {.mu = PTHREAD_MUTEX_INITIALIZER};
    sky__cond_init_monotonic(&s.cv);
    pthread_mutex_lock(&s.mu);
    int64_t t0 = sky_monotonic_ns();
    int rc;
    while ((rc = sky__cond_wait_ns(&s.cv, &s.mu, 20000000)) == 0) /* spurious wakeups */
        ;
    assert_int_equal(rc, ETIMEDOUT);
    assert_true(sky_monotonic_ns() - t0 >= 20000000);

    int64_t deadline = sky_monotonic_ns() + 20000000; /* on sky_monotonic_ns()'s clock */
    while ((rc = sky__cond_wait_until(&s.cv, &s.mu, deadline)) == 0)
        ;
    assert_int_equal(rc, ETIMEDOUT);
    assert_true(sky_monotonic_ns() >= deadline);

    /* a deadline already past, and a wait of nothing, time out without blocking */
    int64_t past = sky_monotonic_ns() - 1000000000;
    assert_int_equal(sky__cond_wait_until(&s.cv, &s.mu, past), ETIMEDOUT);
    assert_int_equal(sky__cond_wait_ns(&s.cv, &s.mu, 0), ETIMEDOUT);
    pthread_mutex_unlock(&s.mu);
    pthread_cond_destroy(&s.cv);
}

static void *signaller(void *arg)
{
    shared *s = arg;
    pthread_mutex_lock(&s->mu);
    s->ready = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static void test_a_signal_ends_the_wait(void **state)
{
    (void)state;
    shared s = {.mu = PTHREAD_MUTEX_INITIALIZER};
    sky__cond_init_monotonic(&s.cv);
    pthread_mutex_lock(&s.mu);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, signaller, &s), 0);
    /* an hour: only the signal can end it within the test's time */
    int64_t deadline = sky_monotonic_ns() + 3600LL * 1000000000;
    while (!s.ready)
        assert_int_equal(sky__cond_wait_until(&s.cv, &s.mu, deadline), 0);
    s.ready = false;
    pthread_mutex_unlock(&s.mu);
    pthread_join(t, NULL);

    pthread_mutex_lock(&s.mu);
    assert_int_equal(pthread_create(&t, NULL, signaller, &s), 0);
    while (!s.ready)
        assert_int_equal(sky__cond_wait_ns(&s.cv, &s.mu, 3600LL * 1000000000), 0);
    pthread_mutex_unlock(&s.mu);
    pthread_join(t, NULL);
    pthread_cond_destroy(&s.cv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_waits_time_out_no_earlier_than_asked),
        cmocka_unit_test(test_a_signal_ends_the_wait),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

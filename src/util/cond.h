/*
 * cond.h - condition variables on CLOCK_MONOTONIC, and waiting on them for a while or until a
 * deadline. Every timed wait in the library uses these, so a wall-clock step cannot stretch or
 * cut a wait: the variables are made with pthread_condattr_setclock(CLOCK_MONOTONIC) and the
 * deadlines are on the same clock (sky_monotonic_ns()'s).
 */
#ifndef SKY_UTIL_COND_H
#define SKY_UTIL_COND_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* pthread_cond_init with CLOCK_MONOTONIC: what the waits below need. */
static inline void sky__cond_init_monotonic(pthread_cond_t *cv)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &ca);
    pthread_condattr_destroy(&ca);
}

/* Waits on `cv` (a CLOCK_MONOTONIC one) until the CLOCK_MONOTONIC time `deadline_ns`; `mu`
 * held. Returns pthread_cond_timedwait's result (ETIMEDOUT when the time passed). */
static inline int sky__cond_wait_until(pthread_cond_t *cv, pthread_mutex_t *mu,
                                       int64_t deadline_ns)
{
    struct timespec ts = {deadline_ns / 1000000000, deadline_ns % 1000000000};
    return pthread_cond_timedwait(cv, mu, &ts);
}

/* The same for at most `ns` nanoseconds from now. */
static inline int sky__cond_wait_ns(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return sky__cond_wait_until(cv, mu, (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + ns);
}

#endif

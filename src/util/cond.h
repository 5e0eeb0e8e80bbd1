/*
 * cond.h - waiting on a condition variable for a while. The condition variables this is for
 * are made with CLOCK_MONOTONIC (pthread_condattr_setclock), so a wall-clock step cannot
 * stretch or cut a wait; the deadline is computed on the same clock.
 */
#ifndef SKY_UTIL_COND_H
#define SKY_UTIL_COND_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* Waits on `cv` (a CLOCK_MONOTONIC one) for at most `ns` nanoseconds; `mu` held. Returns
 * pthread_cond_timedwait's result (ETIMEDOUT when the time passed). */
static inline int sky__cond_wait_ns(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t t = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + ns;
    ts.tv_sec = t / 1000000000;
    ts.tv_nsec = t % 1000000000;
    return pthread_cond_timedwait(cv, mu, &ts);
}

#endif

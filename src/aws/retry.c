/*
 * retry.c - backoff arithmetic and the retry quota of the SDKs' standard retry mode.
 *
 * Choice of constants: botocore 1.43 (the default, pre-2026 standard mode) waits
 * rand() * min(1 s * 2^(attempt-1), 20 s) (botocore/retries/standard.py ExponentialBackoff with
 * _BASE = 2, _MAX_BACKOFF = 20) and keeps a 500-unit quota with a cost of 5 per retry and 10 per
 * timeout retry (botocore/retries/quota.py, RetryQuotaChecker); the AWS SDK reference "Retry
 * behavior" page describes the same. The opt-in 2026 behaviour (50 ms base for non-throttling
 * errors) can be had by setting base_ms.
 *
 * The quota is a C11 atomic, so a client shared by threads needs no lock here. Nothing in this
 * file sleeps except sky__retry_sleep(), which tests replace.
 */
#include "aws/retry.h"

#include <stdlib.h>
#include <time.h>

void sky__retry_init(sky__retry *r, const sky_aws_retry_opts *opts)
{
    sky_aws_retry_opts o = {0};
    if (opts)
        o = *opts;
    if (o.max_attempts <= 0) {
        const char *env = getenv("AWS_MAX_ATTEMPTS");
        int v = env ? atoi(env) : 0;
        o.max_attempts = v > 0 ? v : 3;
    }
    if (o.base_ms <= 0)
        o.base_ms = 1000;
    if (o.max_backoff_ms <= 0)
        o.max_backoff_ms = 20000;
    r->opts = o;
    r->max_quota = o.quota < 0 ? -1 : (o.quota ? o.quota : 500);
    atomic_init(&r->quota, r->max_quota);
}

int64_t sky__retry_delay_ns(const sky_aws_retry_opts *o, int attempt, double rnd)
{
    if (attempt < 1)
        attempt = 1;
    double base = (double)(o->base_ms > 0 ? o->base_ms : 1000);
    double cap = (double)(o->max_backoff_ms > 0 ? o->max_backoff_ms : 20000);
    double ms = base;
    for (int i = 1; i < attempt && ms < cap; i++)
        ms *= 2;
    if (ms > cap)
        ms = cap;
    if (rnd < 0)
        rnd = 0;
    if (rnd >= 1)
        rnd = 0.999999999;
    return (int64_t)(rnd * ms * 1e6);
}

bool sky__retry_acquire(sky__retry *r, bool timeout, int *cost)
{
    int c = timeout ? SKY__RETRY_TIMEOUT_COST : SKY__RETRY_COST;
    *cost = c;
    if (r->max_quota < 0)
        return true;
    int cur = atomic_load(&r->quota);
    do {
        if (cur < c) {
            *cost = 0;
            return false;
        }
    } while (!atomic_compare_exchange_weak(&r->quota, &cur, cur - c));
    return true;
}

void sky__retry_release(sky__retry *r, int cost)
{
    if (r->max_quota < 0)
        return;
    int add = cost > 0 ? cost : SKY__NO_RETRY_INCREMENT;
    int cur = atomic_load(&r->quota);
    int next;
    do {
        if (cur >= r->max_quota)
            return;
        next = cur + add > r->max_quota ? r->max_quota : cur + add;
    } while (!atomic_compare_exchange_weak(&r->quota, &cur, next));
}

bool sky__retry_cancelled(const sky__retry *r)
{
    return r->opts.cancelled && r->opts.cancelled(r->opts.cancel_user);
}

bool sky__retry_sleep(const sky__retry *r, int64_t ns)
{
    if (sky__retry_cancelled(r))
        return false;
    if (ns <= 0)
        return true;
    if (r->opts.sleep_ns) {
        r->opts.sleep_ns(r->opts.user, ns);
        return !sky__retry_cancelled(r);
    }
    /* in slices, so that a cancellation (a CLI's Ctrl-C, whichever thread the signal hit)
     * ends the wait within 100 ms */
    const int64_t slice = 100000000;
    while (ns > 0) {
        int64_t d = ns < slice ? ns : slice;
        struct timespec ts = {.tv_sec = (time_t)(d / 1000000000), .tv_nsec = (long)(d % 1000000000)};
        while (nanosleep(&ts, &ts) != 0 && !sky__retry_cancelled(r)) {
        }
        if (sky__retry_cancelled(r))
            return false;
        ns -= d;
    }
    return true;
}

double sky__retry_random(const sky__retry *r)
{
    if (r->opts.random)
        return r->opts.random(r->opts.user);
    /* per-thread xorshift seeded from the clock and the thread: jitter needs spread, not secrecy */
    static _Thread_local unsigned long long s;
    if (!s)
        s = (unsigned long long)sky_monotonic_ns() ^ (unsigned long long)(uintptr_t)&s ^
            0x9E3779B97F4A7C15ull;
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return (double)(s >> 11) / 9007199254740992.0;
}

int64_t sky__retry_monotonic(const sky__retry *r)
{
    return r->opts.monotonic_ns ? r->opts.monotonic_ns(r->opts.user) : sky_monotonic_ns();
}

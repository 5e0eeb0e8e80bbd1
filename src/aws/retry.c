/*
 * retry.c - the SDKs' three retry modes (retry_mode / AWS_RETRY_MODE): backoff arithmetic, the
 * retry quota, legacy mode's list of retried answers, and adaptive mode's client-side rate
 * limiter.
 *
 * Choice of constants: botocore 1.43 (the default, pre-2026 standard mode) waits
 * rand() * min(1 s * 2^(attempt-1), 20 s) (botocore/retries/standard.py ExponentialBackoff with
 * _BASE = 2, _MAX_BACKOFF = 20) and keeps a 500-unit quota with a cost of 5 per retry and 10 per
 * timeout retry (botocore/retries/quota.py, RetryQuotaChecker); the AWS SDK reference "Retry
 * behavior" page describes the same. The opt-in 2026 behaviour (50 ms base for non-throttling
 * errors) can be had by setting base_ms. Legacy mode is botocore's retryhandler.py with
 * data/_retry.json's __default__: 5 attempts, rand() * 2^(attempt-1) s without a cap, no quota,
 * and a shorter list of retried answers. Adaptive mode is standard mode plus
 * botocore/retries/adaptive.py's limiter: a token bucket (bucket.py) whose fill rate follows
 * CUBIC (throttling.py) once a throttling answer was seen, fed by a smoothed measure of the
 * send rate.
 *
 * Threads: the quota and the counters are C11 atomics; the limiter has a mutex that is never
 * held across a sleep or a call. Nothing in this file sleeps except sky__retry_sleep(), which
 * tests replace, and the limiter reads time only from the injectable monotonic clock.
 */
#include "aws/retry.h"
#include "aws/profile.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* legacy mode has no cap (botocore); this one only keeps the ns arithmetic finite */
#define LEGACY_CAP_MS (24LL * 3600 * 1000)

const char *sky_aws_retry_mode_name(sky_aws_retry_mode mode)
{
    switch (mode) {
    case SKY_AWS_RETRY_MODE_DEFAULT: return "default";
    case SKY_AWS_RETRY_STANDARD: return "standard";
    case SKY_AWS_RETRY_ADAPTIVE: return "adaptive";
    case SKY_AWS_RETRY_LEGACY: return "legacy";
    }
    return "unknown";
}

static bool parse_mode(const char *s, sky_aws_retry_mode *m)
{
    /* one spelling: sky_aws_retry_mode_name's ("default" is not a value AWS_RETRY_MODE takes) */
    static const sky_aws_retry_mode modes[] = {SKY_AWS_RETRY_STANDARD, SKY_AWS_RETRY_ADAPTIVE,
                                               SKY_AWS_RETRY_LEGACY};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        if (strcmp(s, sky_aws_retry_mode_name(modes[i])) == 0) {
            *m = modes[i];
            return true;
        }
    return false;
}

static bool parse_attempts(const char *s, int *n)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    while (*end == ' ' || *end == '\t')
        end++;
    if (errno || end == s || *end || v < 1 || v > INT_MAX)
        return false;
    *n = (int)v;
    return true;
}

sky_status sky_aws_resolve_retry(const char *profile, const char *config_file,
                                 sky_aws_retry_mode *mode, int *max_attempts, char *errbuf,
                                 size_t errlen)
{
    if (errbuf && errlen)
        errbuf[0] = '\0';
    sky_aws_retry_mode m = SKY_AWS_RETRY_STANDARD;
    int n = 0;
    const char *env_mode = getenv("AWS_RETRY_MODE"), *env_n = getenv("AWS_MAX_ATTEMPTS");
    const char *file_mode = NULL, *file_n = NULL;
    sky__profiles pf;
    bool loaded = false;
    const char *pname = sky__profile_name(profile);
    if (!(env_mode && *env_mode) || !(env_n && *env_n)) {
        /* the config file only: these are config settings, never credentials-file ones */
        sky_status st = sky__profiles_load(&pf, "/nonexistent/skylog-no-credentials-file",
                                           config_file);
        if (st != SKY_OK) {
            if (errbuf)
                snprintf(errbuf, errlen, "cannot read the AWS config file: %s",
                         sky_strerror(st));
            return st;
        }
        loaded = true;
        file_mode = sky__profile_get(&pf, pname, "retry_mode", false);
        file_n = sky__profile_get(&pf, pname, "max_attempts", false);
    }
    sky_status st = SKY_OK;
    if (env_mode && *env_mode) {
        if (!parse_mode(env_mode, &m)) {
            if (errbuf)
                snprintf(errbuf, errlen,
                         "AWS_RETRY_MODE is '%.40s': it must be standard, adaptive or legacy",
                         env_mode);
            st = SKY_EINVAL;
        }
    } else if (file_mode && *file_mode && !parse_mode(file_mode, &m)) {
        if (errbuf)
            snprintf(errbuf, errlen,
                     "retry_mode of profile %.64s is '%.40s': it must be standard, adaptive or "
                     "legacy", pname, file_mode);
        st = SKY_EINVAL;
    }
    if (st == SKY_OK && env_n && *env_n) {
        if (!parse_attempts(env_n, &n)) {
            if (errbuf)
                snprintf(errbuf, errlen,
                         "AWS_MAX_ATTEMPTS is '%.40s': it must be a whole number of attempts, 1 "
                         "or more", env_n);
            st = SKY_EINVAL;
        }
    } else if (st == SKY_OK && file_n && *file_n && !parse_attempts(file_n, &n)) {
        if (errbuf)
            snprintf(errbuf, errlen,
                     "max_attempts of profile %.64s is '%.40s': it must be a whole number of "
                     "attempts, 1 or more", pname, file_n);
        st = SKY_EINVAL;
    }
    if (loaded)
        sky__profiles_free(&pf);
    if (st != SKY_OK)
        return st;
    if (mode)
        *mode = m;
    if (max_attempts)
        *max_attempts = n;
    return SKY_OK;
}

sky_status sky__retry_resolve(sky_aws_retry_opts *o, const char *profile, const char *config_file,
                              char *errbuf, size_t errlen)
{
    if (o->mode != SKY_AWS_RETRY_MODE_DEFAULT && o->max_attempts > 0)
        return SKY_OK;
    sky_aws_retry_mode m;
    int n;
    sky_status st = sky_aws_resolve_retry(profile, config_file, &m, &n, errbuf, errlen);
    if (st != SKY_OK)
        return st;
    if (o->mode == SKY_AWS_RETRY_MODE_DEFAULT)
        o->mode = m;
    if (o->max_attempts <= 0)
        o->max_attempts = n > 0 ? n
                          : o->mode == SKY_AWS_RETRY_LEGACY ? SKY__LEGACY_MAX_ATTEMPTS
                                                            : 3;
    return SKY_OK;
}

int sky__retry_attempts(int retries, const char *profile, const char *config_file, int dflt)
{
    if (retries < 0)
        return 1; /* "no retries", said explicitly: never the environment's default */
    if (retries > 0)
        return retries < INT_MAX ? retries + 1 : INT_MAX;
    int n = 0;
    if (sky_aws_resolve_retry(profile, config_file, NULL, &n, NULL, 0) == SKY_OK && n > 0)
        return n;
    return dflt;
}

sky_status sky__retry_init(sky__retry *r, const sky_aws_retry_opts *opts, const sky__retry *share)
{
    sky_aws_retry_opts o = {0};
    if (opts)
        o = *opts;
    if (o.mode == SKY_AWS_RETRY_MODE_DEFAULT)
        o.mode = SKY_AWS_RETRY_STANDARD;
    bool legacy = o.mode == SKY_AWS_RETRY_LEGACY;
    if (o.max_attempts <= 0)
        o.max_attempts = legacy ? SKY__LEGACY_MAX_ATTEMPTS : 3;
    if (o.base_ms <= 0)
        o.base_ms = 1000;
    if (o.max_backoff_ms <= 0)
        o.max_backoff_ms = legacy ? LEGACY_CAP_MS : 20000;
    r->opts = o;
    /* legacy mode has no quota unless the program asked for one */
    r->max_quota = o.quota < 0 || (legacy && o.quota == 0) ? -1 : (o.quota ? o.quota : 500);
    if (share && share->sh) {
        r->sh = share->sh;
        atomic_fetch_add(&r->sh->refs, 1);
        r->max_quota = share->max_quota;
        return SKY_OK;
    }
    r->sh = calloc(1, sizeof *r->sh);
    if (!r->sh)
        return SKY_ENOMEM;
    atomic_init(&r->sh->refs, 1);
    atomic_init(&r->sh->quota, r->max_quota);
    pthread_mutex_init(&r->sh->rl.mu, NULL);
    sky__rl_init(&r->sh->rl, (double)sky__retry_monotonic(r) / 1e9);
    return SKY_OK;
}

void sky__retry_destroy(sky__retry *r)
{
    if (!r || !r->sh)
        return;
    if (atomic_fetch_sub(&r->sh->refs, 1) == 1) {
        pthread_mutex_destroy(&r->sh->rl.mu);
        free(r->sh);
    }
    r->sh = NULL;
}

/* botocore/data/_retry.json, "__default__" policies: sockets errors (timeouts included),
 * 500/502/503/504/509, 429, and five codes only when the status is 400 */
static bool legacy_retryable(const sky_aws_error *e)
{
    if (e->http_status == 0)
        return e->status == SKY_ENET || e->status == SKY_ETIMEDOUT;
    switch (e->http_status) {
    case 429: case 500: case 502: case 503: case 504: case 509: return true;
    case 400: break;
    default: return false;
    }
    static const char *const codes[] = {"Throttling", "ThrottlingException", "ThrottledException",
                                        "RequestThrottledException",
                                        "ProvisionedThroughputExceededException"};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (strcmp(e->code, codes[i]) == 0)
            return true;
    return false;
}

bool sky__retry_retryable(const sky__retry *r, const sky_aws_error *e)
{
    if (e->persistent)
        return false;
    return r->opts.mode == SKY_AWS_RETRY_LEGACY ? legacy_retryable(e) : e->retryable;
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
    if (r->max_quota < 0 || !r->sh)
        return true;
    int cur = atomic_load(&r->sh->quota);
    do {
        if (cur < c) {
            *cost = 0;
            atomic_fetch_add(&r->sh->quota_refusals, 1);
            return false;
        }
    } while (!atomic_compare_exchange_weak(&r->sh->quota, &cur, cur - c));
    return true;
}

void sky__retry_release(sky__retry *r, int cost)
{
    if (r->max_quota < 0 || !r->sh)
        return;
    int add = cost > 0 ? cost : SKY__NO_RETRY_INCREMENT;
    int cur = atomic_load(&r->sh->quota);
    int next;
    do {
        if (cur >= r->max_quota)
            return;
        next = cur + add > r->max_quota ? r->max_quota : cur + add;
    } while (!atomic_compare_exchange_weak(&r->sh->quota, &cur, next));
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

/* ---- adaptive mode: the client-side rate limiter ------------------------------------------ */

#define RL_MIN_RATE 0.5        /* TokenBucket._MIN_RATE */
#define RL_SCALE 0.4           /* CubicCalculator._SCALE_CONSTANT */
#define RL_BETA 0.7            /* CubicCalculator._BETA */
#define RL_SMOOTHING 0.8       /* RateClocker._DEFAULT_SMOOTHING */
#define RL_BUCKET_SCALE 2.0    /* 1 / RateClocker._TIME_BUCKET_RANGE (0.5 s) */
#define RL_MAX_ADJUST_SCALE 2.0 /* ClientRateLimiter._MAX_RATE_ADJUST_SCALE */

static void rl_refill(sky__rate_limiter *rl, double now)
{
    double c = rl->capacity + (now - rl->last_ts) * rl->fill_rate;
    rl->capacity = c < rl->max_capacity ? c : rl->max_capacity;
    rl->last_ts = now;
}

static void rl_set_max_rate(sky__rate_limiter *rl, double now, double v)
{
    rl_refill(rl, now); /* what accrued so far accrued at the old rate */
    rl->fill_rate = v > RL_MIN_RATE ? v : RL_MIN_RATE;
    rl->max_capacity = v >= 1 ? v : 1;
    if (rl->capacity > rl->max_capacity)
        rl->capacity = rl->max_capacity;
}

static double cubic_zero_point(double w_max)
{
    return cbrt(w_max * (1 - RL_BETA) / RL_SCALE);
}

void sky__rl_init(sky__rate_limiter *rl, double now)
{
    rl->enabled = false;
    rl->w_max = 0; /* CubicCalculator(starting_max_rate=0, start_time=now) */
    rl->k = cubic_zero_point(0);
    rl->last_fail = now;
    rl->capacity = 0; /* TokenBucket(max_rate=1) */
    rl->last_ts = now;
    rl->fill_rate = 1;
    rl->max_capacity = 1;
    rl->measured = 0;
    rl->last_bucket = floor(now);
    rl->count = 0;
}

double sky__rl_acquire(sky__rate_limiter *rl, double now)
{
    if (!rl->enabled)
        return 0;
    rl_refill(rl, now);
    if (rl->capacity >= 1) {
        rl->capacity -= 1;
        return 0;
    }
    double wait = (1 - rl->capacity) / rl->fill_rate;
    return wait > 0 ? wait : 1e-9;
}

void sky__rl_update(sky__rate_limiter *rl, double now, bool throttled)
{
    /* RateClocker.record(): a rate per half-second bucket, exponentially smoothed */
    double bucket = floor(now * RL_BUCKET_SCALE) / RL_BUCKET_SCALE;
    rl->count += 1;
    if (bucket > rl->last_bucket) {
        double current = rl->count / (bucket - rl->last_bucket);
        rl->measured = current * RL_SMOOTHING + rl->measured * (1 - RL_SMOOTHING);
        rl->count = 0;
        rl->last_bucket = bucket;
    }
    double new_rate;
    if (!throttled) {
        double dt = now - rl->last_fail - rl->k;
        new_rate = RL_SCALE * dt * dt * dt + rl->w_max;
    } else {
        double use = rl->enabled && rl->fill_rate < rl->measured ? rl->fill_rate : rl->measured;
        rl->w_max = use;
        rl->k = cubic_zero_point(use);
        rl->last_fail = now;
        new_rate = use * RL_BETA;
        rl->enabled = true;
    }
    double cap = RL_MAX_ADJUST_SCALE * rl->measured;
    rl_set_max_rate(rl, now, new_rate < cap ? new_rate : cap);
}

int64_t sky__retry_rate_acquire(sky__retry *r)
{
    if (r->opts.mode != SKY_AWS_RETRY_ADAPTIVE || !r->sh)
        return 0;
    double now = (double)sky__retry_monotonic(r) / 1e9;
    pthread_mutex_lock(&r->sh->rl.mu);
    double wait = sky__rl_acquire(&r->sh->rl, now);
    pthread_mutex_unlock(&r->sh->rl.mu);
    if (wait <= 0)
        return 0;
    int64_t ns = wait > 3600 ? 3600LL * 1000000000 : (int64_t)ceil(wait * 1e9);
    return ns > 0 ? ns : 1;
}

void sky__retry_rate_take(sky__retry *r)
{
    if (r->opts.mode != SKY_AWS_RETRY_ADAPTIVE || !r->sh)
        return;
    double now = (double)sky__retry_monotonic(r) / 1e9;
    pthread_mutex_lock(&r->sh->rl.mu);
    rl_refill(&r->sh->rl, now);
    r->sh->rl.capacity -= 1;
    pthread_mutex_unlock(&r->sh->rl.mu);
}

void sky__retry_rate_update(sky__retry *r, bool throttled)
{
    if (r->opts.mode != SKY_AWS_RETRY_ADAPTIVE || !r->sh)
        return;
    double now = (double)sky__retry_monotonic(r) / 1e9;
    pthread_mutex_lock(&r->sh->rl.mu);
    sky__rl_update(&r->sh->rl, now, throttled);
    pthread_mutex_unlock(&r->sh->rl.mu);
}

/*
 * retry.h - the SDKs' retry modes: which failures to retry, how long to wait, the retry quota
 * shared by all calls of a client, and (adaptive mode) the client-side rate limiter (see
 * retry.c). Internal; the knobs are public in sky_aws_retry_opts (include/skylog/aws.h).
 */
#ifndef SKY_AWS_RETRY_H
#define SKY_AWS_RETRY_H

#include <skylog/aws.h>

#include <pthread.h>
#include <stdatomic.h>

/* Adaptive mode's client-side rate limiter: botocore/retries/adaptive.py (ClientRateLimiter,
 * RateClocker), bucket.py (TokenBucket) and throttling.py (CubicCalculator), one lock for all
 * of it. Times are seconds on the retry's monotonic clock. */
typedef struct sky__rate_limiter {
    pthread_mutex_t mu;
    bool enabled; /* after the first throttling answer: before it nothing is held back */
    /* token bucket */
    double fill_rate, max_capacity, capacity, last_ts;
    /* CUBIC */
    double w_max, k, last_fail;
    /* measured send rate (RateClocker) */
    double measured, last_bucket, count;
} sky__rate_limiter;

/* What the calls of a client (and a client created with .share_retry_state of it) share. */
typedef struct sky__retry_shared {
    atomic_int refs;
    atomic_int quota; /* available retry capacity */
    sky__rate_limiter rl;
    /* counters for sky_aws_client_retry_stats() */
    atomic_ullong retries, throttles, quota_refusals, rate_waits, rate_wait_ns;
} sky__retry_shared;

typedef struct sky__retry {
    sky_aws_retry_opts opts; /* defaults filled in; opts.mode is never DEFAULT */
    int max_quota;           /* < 0: no quota */
    sky__retry_shared *sh;   /* NULL only when init could not allocate */
} sky__retry;

#define SKY__RETRY_COST 5          /* botocore RetryQuotaChecker._RETRY_COST */
#define SKY__RETRY_TIMEOUT_COST 10 /* botocore RetryQuotaChecker._TIMEOUT_RETRY_REQUEST */
#define SKY__NO_RETRY_INCREMENT 1  /* botocore RetryQuotaChecker._NO_RETRY_INCREMENT */
#define SKY__LEGACY_MAX_ATTEMPTS 5 /* botocore/data/_retry.json __default__.max_attempts */

/* Fills in opts->mode and opts->max_attempts where they are unset (DEFAULT, <= 0) from
 * sky_aws_resolve_retry() and the mode's default; SKY_EINVAL with a reason in errbuf when a
 * setting that is used is invalid. */
sky_status sky__retry_resolve(sky_aws_retry_opts *opts, const char *profile,
                              const char *config_file, char *errbuf, size_t errlen);
/* Fills in the other defaults (opts resolved, or mode DEFAULT meaning standard); shares the
 * quota and the rate limiter of `share` when it is not NULL, else makes them. SKY_ENOMEM. */
sky_status sky__retry_init(sky__retry *r, const sky_aws_retry_opts *opts,
                           const sky__retry *share);
void sky__retry_destroy(sky__retry *r);
/* The attempts for a library option "retries" (a sink's max_retries): 1 when it is < 0 (none),
 * retries + 1 when it is > 0, else (0, unset) AWS_MAX_ATTEMPTS or the profile's max_attempts,
 * else `dflt`. An invalid setting
 * gives `dflt` here: sky_aws_client_new() then reports it. */
int sky__retry_attempts(int retries, const char *profile, const char *config_file, int dflt);
/* Whether the error is retried in r's mode (standard/adaptive: e->retryable; legacy:
 * botocore's _retry.json policies). Persistent errors never are. */
bool sky__retry_retryable(const sky__retry *r, const sky_aws_error *e);
/* Delay before attempt `attempt + 1`, after attempt `attempt` (1-based) failed, given a random
 * number in [0, 1): r * min(base * 2^(attempt-1), max_backoff). */
int64_t sky__retry_delay_ns(const sky_aws_retry_opts *o, int attempt, double rnd);
/* Takes capacity for one retry; false when the quota is exhausted (do not retry). */
bool sky__retry_acquire(sky__retry *r, bool timeout, int *cost);
/* After a successful call: gives back `cost` (the last acquisition) or, when the call needed no
 * retry (cost == 0), the small no-retry increment. Never above the maximum. */
void sky__retry_release(sky__retry *r, int cost);
/* Sleeps through the injected hook (or nanosleep, in slices); false when the opts' cancelled()
 * hook said stop (before, during or after the wait). */
bool sky__retry_sleep(const sky__retry *r, int64_t ns);
/* The cancelled() hook's answer (false without one). */
bool sky__retry_cancelled(const sky__retry *r);
double sky__retry_random(const sky__retry *r);
/* The monotonic clock (injected or sky_monotonic_ns). */
int64_t sky__retry_monotonic(const sky__retry *r);

/* Adaptive mode, before each attempt: takes a send token and returns 0, or returns how long to
 * wait (ns) before asking again. Always 0 in the other modes. */
int64_t sky__retry_rate_acquire(sky__retry *r);
/* Adaptive mode: takes the token after a wait that the clock did not see (an injected sleeper),
 * into debt if need be, so the rate still holds for the next caller. */
void sky__retry_rate_take(sky__retry *r);
/* Adaptive mode, after each attempt that got an answer or failed: feeds the rate measure and
 * CUBIC (throttled: the answer was a throttling error). No-op in the other modes. */
void sky__retry_rate_update(sky__retry *r, bool throttled);

/* The limiter on its own, on a clock in seconds (for tests against botocore's classes). */
void sky__rl_init(sky__rate_limiter *rl, double now);
double sky__rl_acquire(sky__rate_limiter *rl, double now); /* 0 = token taken, else wait (s) */
void sky__rl_update(sky__rate_limiter *rl, double now, bool throttled);

#endif

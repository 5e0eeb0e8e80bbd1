/*
 * retry.h - the SDKs' "standard" retry policy: which failures to retry, how long to wait, and a
 * retry quota shared by all calls of a client (see retry.c). Internal; the knobs are public in
 * sky_aws_retry_opts (include/skylog/aws.h).
 */
#ifndef SKY_AWS_RETRY_H
#define SKY_AWS_RETRY_H

#include <skylog/aws.h>

#include <stdatomic.h>

typedef struct sky__retry {
    sky_aws_retry_opts opts; /* defaults filled in */
    atomic_int quota;        /* available retry capacity */
    int max_quota;           /* < 0: no quota */
} sky__retry;

#define SKY__RETRY_COST 5          /* botocore RetryQuotaChecker._RETRY_COST */
#define SKY__RETRY_TIMEOUT_COST 10 /* botocore RetryQuotaChecker._TIMEOUT_RETRY_REQUEST */
#define SKY__NO_RETRY_INCREMENT 1  /* botocore RetryQuotaChecker._NO_RETRY_INCREMENT */

void sky__retry_init(sky__retry *r, const sky_aws_retry_opts *opts);
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

#endif

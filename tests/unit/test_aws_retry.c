/* test_aws_retry.c - unit tests for src/aws/retry.c: backoff arithmetic, the retry quota, the
 * three retry modes and where they are configured, and adaptive mode's rate limiter (its rates
 * checked against botocore's formulas, evaluated here by hand; tests/integration/
 * test_aws_retry_modes.py runs botocore's own classes on the same events). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/retry.h"
#include "skytest.h"

#define MS 1000000LL

static void test_backoff_bounds(void **state)
{
    (void)state;
    sky_aws_retry_opts o = {.base_ms = 1000, .max_backoff_ms = 20000};
    /* upper bound: min(base * 2^(n-1), cap) */
    assert_int_equal(sky__retry_delay_ns(&o, 1, 0.5), 500 * MS);
    assert_int_equal(sky__retry_delay_ns(&o, 2, 0.5), 1000 * MS);
    assert_int_equal(sky__retry_delay_ns(&o, 3, 0.5), 2000 * MS);
    assert_int_equal(sky__retry_delay_ns(&o, 5, 0.5), 8000 * MS);
    assert_int_equal(sky__retry_delay_ns(&o, 6, 0.5), 10000 * MS); /* 16 s < 20 s */
    assert_int_equal(sky__retry_delay_ns(&o, 7, 0.5), 10000 * MS); /* capped at 20 s */
    assert_int_equal(sky__retry_delay_ns(&o, 60, 0.5), 10000 * MS); /* no overflow */
    assert_int_equal(sky__retry_delay_ns(&o, 1, 0.0), 0);
    for (int n = 1; n < 12; n++) {
        int64_t bound = 1000 * MS << (n - 1);
        if (bound > 20000 * MS)
            bound = 20000 * MS;
        assert_true(sky__retry_delay_ns(&o, n, 0.9999999) < bound);
        assert_true(sky__retry_delay_ns(&o, n, 1.5) < bound); /* clamped */
        assert_true(sky__retry_delay_ns(&o, n, -1) == 0);
    }
}

static void test_defaults(void **state)
{
    (void)state;
    sky__retry r;
    assert_int_equal(sky__retry_init(&r, NULL, NULL), SKY_OK);
    assert_int_equal(r.opts.mode, SKY_AWS_RETRY_STANDARD);
    assert_int_equal(r.opts.max_attempts, 3);
    assert_int_equal(r.opts.base_ms, 1000);
    assert_int_equal(r.opts.max_backoff_ms, 20000);
    assert_int_equal(r.max_quota, 500);
    sky__retry_destroy(&r);
    /* legacy: botocore's _retry.json: 5 attempts, rand * 2^(n-1) s uncapped, no quota */
    assert_int_equal(sky__retry_init(&r, &(sky_aws_retry_opts){.mode = SKY_AWS_RETRY_LEGACY},
                                     NULL), SKY_OK);
    assert_int_equal(r.opts.max_attempts, 5);
    assert_int_equal(r.max_quota, -1);
    assert_int_equal(sky__retry_delay_ns(&r.opts, 4, 0.5), 4000 * MS);
    assert_int_equal(sky__retry_delay_ns(&r.opts, 7, 0.5), 32000 * MS); /* past 20 s */
    int cost;
    for (int i = 0; i < 1000; i++)
        assert_true(sky__retry_acquire(&r, false, &cost));
    sky__retry_destroy(&r);
}

/* a config file with one profile; the environment cleared of the retry variables */
static char *write_config(const char *dir, const char *body)
{
    char *path = malloc(strlen(dir) + 16);
    sprintf(path, "%s/config", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(body, f);
    fclose(f);
    unsetenv("AWS_RETRY_MODE");
    unsetenv("AWS_MAX_ATTEMPTS");
    unsetenv("AWS_PROFILE");
    unsetenv("AWS_DEFAULT_PROFILE");
    return path;
}

static void test_resolve_precedence(void **state)
{
    (void)state;
    char *dir = skytest_tmpdir();
    char *cfg = write_config(dir, "[default]\nretry_mode = legacy\n\n[profile p]\n"
                                  "retry_mode = adaptive\nmax_attempts = 7\n");
    sky_aws_retry_mode m;
    int n;
    char why[256];
    /* nothing anywhere: standard, attempts unset */
    assert_int_equal(sky_aws_resolve_retry(NULL, "/nonexistent/cfg", &m, &n, why, sizeof why),
                     SKY_OK);
    assert_int_equal(m, SKY_AWS_RETRY_STANDARD);
    assert_int_equal(n, 0);
    /* the profile's settings */
    assert_int_equal(sky_aws_resolve_retry(NULL, cfg, &m, &n, why, sizeof why), SKY_OK);
    assert_int_equal(m, SKY_AWS_RETRY_LEGACY);
    assert_int_equal(n, 0);
    assert_int_equal(sky_aws_resolve_retry("p", cfg, &m, &n, why, sizeof why), SKY_OK);
    assert_int_equal(m, SKY_AWS_RETRY_ADAPTIVE);
    assert_int_equal(n, 7);
    setenv("AWS_PROFILE", "p", 1);
    assert_int_equal(sky_aws_resolve_retry(NULL, cfg, &m, &n, why, sizeof why), SKY_OK);
    assert_int_equal(m, SKY_AWS_RETRY_ADAPTIVE);
    /* the environment wins over the file, each setting on its own */
    setenv("AWS_RETRY_MODE", "standard", 1);
    assert_int_equal(sky_aws_resolve_retry(NULL, cfg, &m, &n, why, sizeof why), SKY_OK);
    assert_int_equal(m, SKY_AWS_RETRY_STANDARD);
    assert_int_equal(n, 7);
    setenv("AWS_MAX_ATTEMPTS", "2", 1);
    assert_int_equal(sky_aws_resolve_retry(NULL, cfg, &m, &n, why, sizeof why), SKY_OK);
    assert_int_equal(n, 2);
    /* the program's own settings win over both; unset ones are filled, with the mode's default */
    sky_aws_retry_opts o = {.max_attempts = 9};
    assert_int_equal(sky__retry_resolve(&o, NULL, cfg, why, sizeof why), SKY_OK);
    assert_int_equal(o.mode, SKY_AWS_RETRY_STANDARD);
    assert_int_equal(o.max_attempts, 9);
    unsetenv("AWS_MAX_ATTEMPTS");
    unsetenv("AWS_RETRY_MODE");
    unsetenv("AWS_PROFILE");
    o = (sky_aws_retry_opts){0};
    assert_int_equal(sky__retry_resolve(&o, NULL, cfg, why, sizeof why), SKY_OK);
    assert_int_equal(o.mode, SKY_AWS_RETRY_LEGACY);
    assert_int_equal(o.max_attempts, 5);
    o = (sky_aws_retry_opts){.mode = SKY_AWS_RETRY_ADAPTIVE};
    assert_int_equal(sky__retry_resolve(&o, NULL, cfg, why, sizeof why), SKY_OK);
    assert_int_equal(o.mode, SKY_AWS_RETRY_ADAPTIVE);
    assert_int_equal(o.max_attempts, 3);
    free(cfg);
    skytest_rmtree(dir);
    free(dir);
}

/* A sink's max_retries: < 0 is "no retries" whatever the environment says; 0 (unset) is
 * AWS_MAX_ATTEMPTS, then the profile's max_attempts, then the sink's default; > 0 is its
 * retries. */
static void test_sink_retries_option(void **state)
{
    (void)state;
    char *dir = skytest_tmpdir();
    char *cfg = write_config(dir, "[default]\nmax_attempts = 6\n");
    assert_int_equal(sky__retry_attempts(0, NULL, "/nonexistent/cfg", 4), 4);
    assert_int_equal(sky__retry_attempts(0, NULL, cfg, 4), 6);
    assert_int_equal(sky__retry_attempts(-1, NULL, cfg, 4), 1);
    assert_int_equal(sky__retry_attempts(2, NULL, cfg, 4), 3);
    setenv("AWS_MAX_ATTEMPTS", "7", 1);
    assert_int_equal(sky__retry_attempts(0, NULL, cfg, 4), 7);
    assert_int_equal(sky__retry_attempts(-1, NULL, cfg, 4), 1);
    assert_int_equal(sky__retry_attempts(-1, NULL, "/nonexistent/cfg", 4), 1);
    unsetenv("AWS_MAX_ATTEMPTS");
    free(cfg);
    skytest_rmtree(dir);
    free(dir);
}

static void test_resolve_invalid(void **state)
{
    (void)state;
    char *dir = skytest_tmpdir();
    char *cfg = write_config(dir, "[default]\nretry_mode = fast\nmax_attempts = 0\n");
    sky_aws_retry_mode m;
    int n;
    char why[256];
    assert_int_equal(sky_aws_resolve_retry(NULL, cfg, &m, &n, why, sizeof why), SKY_EINVAL);
    assert_non_null(strstr(why, "retry_mode of profile default is 'fast'"));
    assert_non_null(strstr(why, "standard, adaptive or legacy"));
    setenv("AWS_RETRY_MODE", "standard", 1); /* the env wins: the file's mode is not used */
    assert_int_equal(sky_aws_resolve_retry(NULL, cfg, &m, &n, why, sizeof why), SKY_EINVAL);
    assert_non_null(strstr(why, "max_attempts of profile default is '0'"));
    const char *bad[] = {"0", "-1", "3x", "", " ", "99999999999", "2.5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("AWS_MAX_ATTEMPTS", bad[i], 1);
        sky_status st = sky_aws_resolve_retry(NULL, cfg, &m, &n, why, sizeof why);
        if (!bad[i][0]) /* empty: unset, so the file's invalid 0 is what is read */
            assert_non_null(strstr(why, "max_attempts of profile default"));
        else
            assert_non_null(strstr(why, "AWS_MAX_ATTEMPTS is '"));
        assert_int_equal(st, SKY_EINVAL);
    }
    setenv("AWS_MAX_ATTEMPTS", "4", 1);
    setenv("AWS_RETRY_MODE", "Standard", 1); /* spelled as the SDKs do, or refused */
    assert_int_equal(sky_aws_resolve_retry(NULL, cfg, &m, &n, why, sizeof why), SKY_EINVAL);
    assert_non_null(strstr(why, "AWS_RETRY_MODE is 'Standard'"));
    setenv("AWS_RETRY_MODE", "adaptive", 1);
    assert_int_equal(sky_aws_resolve_retry(NULL, cfg, &m, &n, why, sizeof why), SKY_OK);
    assert_int_equal(m, SKY_AWS_RETRY_ADAPTIVE);
    assert_int_equal(n, 4);
    unsetenv("AWS_MAX_ATTEMPTS");
    unsetenv("AWS_RETRY_MODE");
    free(cfg);
    skytest_rmtree(dir);
    free(dir);
}

static void test_legacy_and_standard_classify(void **state)
{
    (void)state;
    sky__retry std, leg;
    sky__retry_init(&std, NULL, NULL);
    sky__retry_init(&leg, &(sky_aws_retry_opts){.mode = SKY_AWS_RETRY_LEGACY}, NULL);
    struct {
        long http;
        const char *code;
        bool standard, legacy;
    } cases[] = {
        {400, "ThrottlingException", true, true},
        {400, "Throttling", true, true},
        {400, "ProvisionedThroughputExceededException", true, true},
        {400, "TooManyRequestsException", true, false}, /* not in _retry.json */
        {400, "LimitExceededException", true, false},
        {400, "RequestTimeout", true, false},
        {503, "SlowDown", true, true},
        {429, "", true, true},
        {500, "", true, true},
        {502, "", true, true},
        {504, "", true, true},
        {509, "", false, true},
        {400, "InvalidParameterException", false, false},
        {403, "AccessDeniedException", false, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[256];
        snprintf(body, sizeof body, "{\"__type\":\"%s\",\"message\":\"m\"}", cases[i].code);
        sky_aws_error e;
        sky_aws_parse_error(cases[i].http, NULL, 0, body, strlen(body), &e);
        assert_int_equal(sky__retry_retryable(&std, &e), cases[i].standard);
        assert_int_equal(sky__retry_retryable(&leg, &e), cases[i].legacy);
    }
    sky_aws_error net = {.status = SKY_ETIMEDOUT, .retryable = true};
    assert_true(sky__retry_retryable(&std, &net));
    assert_true(sky__retry_retryable(&leg, &net));
    net.persistent = true; /* an unknown host: never, in any mode */
    assert_false(sky__retry_retryable(&std, &net));
    assert_false(sky__retry_retryable(&leg, &net));
    sky__retry_destroy(&std);
    sky__retry_destroy(&leg);
}

static void test_quota(void **state)
{
    (void)state;
    sky__retry r;
    sky__retry_init(&r, &(sky_aws_retry_opts){.quota = 20}, NULL);
    int cost;
    assert_true(sky__retry_acquire(&r, false, &cost));
    assert_int_equal(cost, 5);
    assert_true(sky__retry_acquire(&r, true, &cost));
    assert_int_equal(cost, 10);
    assert_true(sky__retry_acquire(&r, false, &cost)); /* 20 - 5 - 10 - 5 = 0 */
    assert_false(sky__retry_acquire(&r, false, &cost)); /* exhausted: no retry */
    assert_int_equal(atomic_load(&r.sh->quota), 0);
    assert_int_equal(atomic_load(&r.sh->quota_refusals), 1);
    sky__retry_release(&r, 0); /* success without retry: +1 */
    assert_int_equal(atomic_load(&r.sh->quota), 1);
    sky__retry_release(&r, 10); /* success after a retry: its cost back */
    assert_int_equal(atomic_load(&r.sh->quota), 11);
    sky__retry_release(&r, 10); /* never above the maximum */
    assert_int_equal(atomic_load(&r.sh->quota), 20);
    /* a client sharing the state shares the quota */
    sky__retry r2;
    sky__retry_init(&r2, &(sky_aws_retry_opts){.max_attempts = 1}, &r);
    assert_true(sky__retry_acquire(&r2, false, &cost));
    assert_int_equal(atomic_load(&r.sh->quota), 15);
    sky__retry_destroy(&r); /* either may go first */
    assert_true(sky__retry_acquire(&r2, false, &cost));
    assert_int_equal(atomic_load(&r2.sh->quota), 10);
    sky__retry_destroy(&r2);
    sky__retry_init(&r, &(sky_aws_retry_opts){.quota = -1}, NULL); /* unlimited */
    for (int i = 0; i < 1000; i++)
        assert_true(sky__retry_acquire(&r, false, &cost));
    sky__retry_destroy(&r);
}

static int64_t slept;
static void fake_sleep(void *user, int64_t ns)
{
    (void)user;
    slept += ns;
}

static void test_injected_sleep_and_random(void **state)
{
    (void)state;
    sky__retry r;
    sky__retry_init(&r, &(sky_aws_retry_opts){.sleep_ns = fake_sleep}, NULL);
    sky__retry_sleep(&r, 123);
    assert_int_equal(slept, 123);
    for (int i = 0; i < 1000; i++) {
        double x = sky__retry_random(&r);
        assert_true(x >= 0 && x < 1);
    }
    sky__retry_destroy(&r);
}

#define NEAR(a, b) assert_true(fabs((double)(a) - (double)(b)) < 1e-9 * (1 + fabs((double)(b))))

/* botocore's formulas, step by step by hand (adaptive.py, bucket.py, throttling.py) */
static void test_limiter_formulas(void **state)
{
    (void)state;
    sky__rate_limiter rl;
    sky__rl_init(&rl, 0);
    /* not enabled before a throttling answer: nothing is held back */
    assert_true(sky__rl_acquire(&rl, 0) == 0);
    /* t=0.5 ok: RateClocker: bucket 0.5 > 0, rate 1/0.5 = 2, smoothed 0.8*2 = 1.6;
     * CUBIC success: 0.4 * (0.5 - 0 - 0)^3 + 0 = 0.05; max_rate = min(0.05, 3.2);
     * bucket refill at fill 1 for 0.5 s -> 0.5; fill = max(0.05, 0.5); capacity <= 1 */
    sky__rl_update(&rl, 0.5, false);
    NEAR(rl.measured, 1.6);
    NEAR(rl.fill_rate, 0.5);
    NEAR(rl.max_capacity, 1);
    NEAR(rl.capacity, 0.5);
    assert_false(rl.enabled);
    /* t=1.0 throttled: measured 0.8*2 + 0.2*1.6 = 1.92; not enabled yet, so W_max = 1.92,
     * K = cbrt(1.92 * 0.3 / 0.4), new rate 1.92 * 0.7 = 1.344 (< 2 * 1.92);
     * refill 0.5 s at 0.5 -> 0.75 */
    sky__rl_update(&rl, 1.0, true);
    assert_true(rl.enabled);
    NEAR(rl.measured, 1.92);
    NEAR(rl.w_max, 1.92);
    NEAR(rl.k, cbrt(1.92 * 0.3 / 0.4));
    NEAR(rl.fill_rate, 1.344);
    NEAR(rl.max_capacity, 1.344);
    NEAR(rl.capacity, 0.75);
    /* a send now waits (1 - 0.75) / 1.344 s */
    NEAR(sky__rl_acquire(&rl, 1.0), 0.25 / 1.344);
    /* 0.2 s later: 0.75 + 0.2 * 1.344 >= 1, taken */
    assert_true(sky__rl_acquire(&rl, 1.2) == 0);
    NEAR(rl.capacity, 0.75 + 0.2 * 1.344 - 1);
    /* t=1.2 throttled again, same half-second bucket (measured stays 1.92): enabled, so
     * W_max = min(1.92, fill 1.344); rate 1.344 * 0.7 = 0.9408 -> capacity 1 */
    sky__rl_update(&rl, 1.2, true);
    NEAR(rl.w_max, 1.344);
    NEAR(rl.fill_rate, 0.9408);
    NEAR(rl.max_capacity, 1);
    /* t=3.2 ok: bucket 3.0 > 1.0 holding 2 answers: rate 2 / 2.0 = 1, smoothed
     * 0.8 + 0.2 * 1.92 = 1.184; CUBIC grows back from the last failure:
     * 0.4 * (2.0 - K)^3 + 1.344, K = cbrt(1.344 * 0.3 / 0.4); capped at 2 * 1.184 */
    sky__rl_update(&rl, 3.2, false);
    NEAR(rl.measured, 1.184);
    double k = cbrt(1.344 * 0.3 / 0.4);
    double cubic = 0.4 * pow(2.0 - k, 3) + 1.344;
    NEAR(rl.fill_rate, cubic < 2 * 1.184 ? cubic : 2 * 1.184);
    /* the floor: a rate of 0 (nothing measured yet) becomes 0.5 per second, capacity 1 */
    sky__rl_init(&rl, 100);
    sky__rl_update(&rl, 100.1, true);
    NEAR(rl.fill_rate, 0.5);
    NEAR(rl.max_capacity, 1);
}

/* A throttling storm: a client sends as fast as it is let, the service throttles every
 * request. The rate it is let send falls geometrically (x0.7 of the measured rate) to the
 * floor, and once the storm ends grows back. */
static void test_limiter_storm_slows_then_recovers(void **state)
{
    (void)state;
    sky__rate_limiter rl;
    sky__rl_init(&rl, 0);
    double t = 0;
    /* 10 s of unthrottled sending at 50/s: never held back */
    for (int i = 0; i < 500; i++, t += 0.02) {
        assert_true(sky__rl_acquire(&rl, t) == 0);
        sky__rl_update(&rl, t, false);
    }
    double first_rate = -1;
    int sent = 0;
    double storm_end = t + 30;
    while (t < storm_end) {
        double w = sky__rl_acquire(&rl, t);
        if (w > 0) {
            t += w; /* the injected sleeper */
            continue;
        }
        sent++;
        sky__rl_update(&rl, t, true);
        if (first_rate < 0)
            first_rate = rl.fill_rate;
        t += 0.001;
    }
    assert_true(first_rate > 0 && first_rate < 50);
    NEAR(rl.fill_rate, 0.5);         /* at the floor */
    assert_true(sent < 30 * 2 + 60); /* about 0.5/s after the first seconds, not 50/s */
    /* recovery: successes raise the rate along the cubic curve */
    double before = rl.fill_rate;
    for (int i = 0; i < 200; i++) {
        double w = sky__rl_acquire(&rl, t);
        t += w > 0 ? w : 0.001;
        if (w > 0)
            continue;
        sky__rl_update(&rl, t, false);
    }
    assert_true(rl.fill_rate > before);
}

typedef struct {
    sky__retry *r;
    int n;
} worker_arg;

static _Atomic int64_t shared_clock;
static int64_t clock_hook(void *u)
{
    (void)u;
    return atomic_fetch_add(&shared_clock, 1000000); /* every reading 1 ms later */
}

static void *worker(void *p)
{
    worker_arg *a = p;
    for (int i = 0; i < a->n; i++) {
        int64_t w = sky__retry_rate_acquire(a->r);
        (void)w;
        sky__retry_rate_update(a->r, i % 7 == 0);
        int cost;
        if (sky__retry_acquire(a->r, i % 3 == 0, &cost))
            sky__retry_release(a->r, cost);
    }
    return NULL;
}

/* The limiter and the quota of a client shared by threads (TSan build: no race) */
static void test_shared_between_threads(void **state)
{
    (void)state;
    sky__retry r;
    sky__retry_init(&r, &(sky_aws_retry_opts){.mode = SKY_AWS_RETRY_ADAPTIVE,
                                              .monotonic_ns = clock_hook}, NULL);
    sky__retry r2;
    sky__retry_init(&r2, &(sky_aws_retry_opts){.mode = SKY_AWS_RETRY_ADAPTIVE,
                                               .monotonic_ns = clock_hook}, &r);
    pthread_t th[4];
    worker_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (worker_arg){i % 2 ? &r : &r2, 2000};
        pthread_create(&th[i], NULL, worker, &a[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_true(r.sh->rl.enabled);
    assert_true(r.sh->rl.fill_rate >= 0.5);
    assert_int_equal(atomic_load(&r.sh->quota), 500); /* every cost came back */
    sky__retry_destroy(&r2);
    sky__retry_destroy(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_bounds),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_resolve_precedence),
        cmocka_unit_test(test_sink_retries_option),
        cmocka_unit_test(test_resolve_invalid),
        cmocka_unit_test(test_legacy_and_standard_classify),
        cmocka_unit_test(test_quota),
        cmocka_unit_test(test_injected_sleep_and_random),
        cmocka_unit_test(test_limiter_formulas),
        cmocka_unit_test(test_limiter_storm_slows_then_recovers),
        cmocka_unit_test(test_shared_between_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_aws_creds.c - unit tests for the credentials cache (src/aws/credentials.c) with a fake
 * clock and a custom fetch callback: caching, refresh before expiry, stale-but-valid fallback,
 * invalidation, concurrent use (run it under the tsan preset), and the small helpers (ISO-8601
 * times, header masking, gzip). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <skylog/aws.h>

#include "aws/creds.h"

#define S 1000000000LL
static const int64_t T0 = 1800000000LL * S;

typedef struct fake {
    atomic_llong now;
    atomic_int fetches;
    atomic_int fail; /* 1: the next fetches fail */
    int64_t lifetime_ns;
} fake;

static int64_t fake_now(void *user)
{
    return atomic_load(&((fake *)user)->now);
}

static sky_status fake_fetch(void *user, sky_aws_credentials *out, char *err, size_t errlen)
{
    fake *f = user;
    if (atomic_load(&f->fail)) {
        snprintf(err, errlen, "fetch failed");
        return SKY_ENET;
    }
    int n = atomic_fetch_add(&f->fetches, 1) + 1;
    char akid[32];
    snprintf(akid, sizeof akid, "AKID%d", n);
    out->access_key_id = strdup(akid);
    out->secret_access_key = strdup("CANARY-UNIT-SECRET");
    out->session_token = strdup("tok");
    out->expiration_ns = atomic_load(&f->now) + f->lifetime_ns;
    return SKY_OK;
}

static sky_aws_creds *make(fake *f)
{
    sky_aws_creds *p;
    sky_aws_creds_opts o = {.fetch = fake_fetch, .fetch_user = f, .now_ns = fake_now,
                            .clock_user = f, .no_env = true, .no_files = true,
                            .no_web_identity = true, .no_container = true, .no_imds = true};
    assert_int_equal(sky_aws_creds_new(&o, &p), SKY_OK);
    return p;
}

static void get_akid(sky_aws_creds *p, char *akid, size_t cap, sky_status want)
{
    sky_aws_credentials c;
    char err[128];
    assert_int_equal(sky_aws_creds_get(p, &c, err, sizeof err), want);
    if (want == SKY_OK) {
        snprintf(akid, cap, "%s", c.access_key_id);
        assert_string_equal(c.secret_access_key, "CANARY-UNIT-SECRET");
        assert_null(strstr(err, "CANARY"));
    }
    sky_aws_credentials_clear(&c);
    assert_null(c.access_key_id);
}

static void test_cache_and_refresh_margin(void **state)
{
    (void)state;
    fake f = {.lifetime_ns = 3600 * S};
    atomic_init(&f.now, T0);
    sky_aws_creds *p = make(&f);
    char akid[32];
    assert_string_equal(sky_aws_creds_source(p), "none");
    get_akid(p, akid, sizeof akid, SKY_OK);
    assert_string_equal(akid, "AKID1");
    assert_string_equal(sky_aws_creds_source(p), "custom");
    atomic_store(&f.now, T0 + 3600 * S - 301 * S); /* more than 5 min left: cached */
    get_akid(p, akid, sizeof akid, SKY_OK);
    assert_string_equal(akid, "AKID1");
    assert_int_equal(atomic_load(&f.fetches), 1);
    atomic_store(&f.now, T0 + 3600 * S - 299 * S); /* inside the margin: refreshed */
    get_akid(p, akid, sizeof akid, SKY_OK);
    assert_string_equal(akid, "AKID2");
    assert_int_equal(atomic_load(&f.fetches), 2);
    sky_aws_creds_invalidate(p);
    get_akid(p, akid, sizeof akid, SKY_OK);
    assert_string_equal(akid, "AKID3");
    sky_aws_creds_free(p);
}

static void test_stale_but_valid_kept_on_failure(void **state)
{
    (void)state;
    fake f = {.lifetime_ns = 3600 * S};
    atomic_init(&f.now, T0);
    sky_aws_creds *p = make(&f);
    char akid[32];
    get_akid(p, akid, sizeof akid, SKY_OK);
    atomic_store(&f.fail, 1);
    atomic_store(&f.now, T0 + 3600 * S - 60 * S); /* refresh fails, 1 min left: keep */
    get_akid(p, akid, sizeof akid, SKY_OK);
    assert_string_equal(akid, "AKID1");
    atomic_store(&f.now, T0 + 3600 * S + S); /* expired and refresh fails: error */
    sky_aws_credentials c;
    char err[128];
    assert_int_equal(sky_aws_creds_get(p, &c, err, sizeof err), SKY_ENET);
    assert_string_equal(err, "fetch failed");
    atomic_store(&f.fail, 0);
    get_akid(p, akid, sizeof akid, SKY_OK);
    assert_string_equal(akid, "AKID2");
    /* counted: 2 refreshes, 2 failures of which 1 answered from the cache, the reason kept
     * (without the caller's buffer too) */
    sky_aws_creds_stats cs;
    sky_aws_creds_stats_get(p, &cs);
    assert_int_equal(cs.refreshes, 2);
    assert_int_equal(cs.failures, 2);
    assert_int_equal(cs.stale_used, 1);
    assert_int_equal(cs.near_expiry, 0); /* cached ones kept near their end are stale_used */
    assert_int_equal(cs.retries, 0);
    assert_string_equal(cs.last_error, "fetch failed");
    atomic_store(&f.fail, 1);
    atomic_store(&f.now, T0 + 9 * 3600 * S);
    assert_int_equal(sky_aws_creds_get(p, &c, NULL, 0), SKY_ENET);
    sky_aws_creds_stats_get(p, &cs);
    assert_int_equal(cs.failures, 3);
    assert_string_equal(cs.last_error, "fetch failed");
    sky_aws_creds_stats_get(NULL, &cs); /* NULL-safe: zeros */
    assert_int_equal(cs.refreshes, 0);
    sky_aws_creds_free(p);
}

/* A source that answers expired credentials: refused with its name, counted, and cached
 * ones that still work are kept; near-expiry ones are used without a fetch on every call. */
static void test_fresh_credentials_judged_by_expiry(void **state)
{
    (void)state;
    fake f = {.lifetime_ns = -10 * S};
    atomic_init(&f.now, T0);
    sky_aws_creds *p = make(&f);
    sky_aws_credentials c;
    char err[256];
    assert_int_equal(sky_aws_creds_get(p, &c, err, sizeof err), SKY_EAUTH);
    assert_null(c.access_key_id);
    assert_non_null(strstr(err, "credentials from custom expired 10 s ago"));
    assert_null(strstr(err, "CANARY"));
    sky_aws_creds_stats cs;
    sky_aws_creds_stats_get(p, &cs);
    assert_int_equal(cs.failures, 1);
    assert_int_equal(cs.refreshes, 0);
    assert_string_equal(cs.last_error, err);
    assert_string_equal(sky_aws_creds_source(p), "none");

    /* 2 min left (inside the 5 min margin): used, and asked for again after half of that,
     * at most 1 min, not on each call */
    f.lifetime_ns = 120 * S;
    char akid[32];
    get_akid(p, akid, sizeof akid, SKY_OK);
    assert_string_equal(akid, "AKID2");
    get_akid(p, akid, sizeof akid, SKY_OK);
    atomic_store(&f.now, T0 + 59 * S);
    get_akid(p, akid, sizeof akid, SKY_OK);
    assert_string_equal(akid, "AKID2");
    assert_int_equal(atomic_load(&f.fetches), 2);
    atomic_store(&f.now, T0 + 60 * S);
    get_akid(p, akid, sizeof akid, SKY_OK);
    assert_string_equal(akid, "AKID3");
    /* both near-expiry resolutions counted (the cached gets between them are not), as
     * refreshes that worked */
    sky_aws_creds_stats_get(p, &cs);
    assert_int_equal(cs.near_expiry, 2);
    assert_int_equal(cs.refreshes, 2);
    assert_int_equal(cs.failures, 1);

    /* the source now answers expired ones while AKID3 still works: AKID3 is kept (stale),
     * the refusal counted; the source is asked again later, not on every call */
    f.lifetime_ns = -1 * S;
    atomic_store(&f.now, T0 + 121 * S); /* AKID3 expires at T0 + 180 s */
    get_akid(p, akid, sizeof akid, SKY_OK);
    assert_string_equal(akid, "AKID3");
    get_akid(p, akid, sizeof akid, SKY_OK);
    assert_int_equal(atomic_load(&f.fetches), 4);
    sky_aws_creds_stats_get(p, &cs);
    assert_int_equal(cs.failures, 2);
    assert_int_equal(cs.stale_used, 1);
    assert_int_equal(cs.near_expiry, 2); /* a refused or stale answer is not one */
    assert_non_null(strstr(cs.last_error, "credentials from custom expired 1 s ago"));
    atomic_store(&f.now, T0 + 180 * S); /* AKID3 expired too: the error, not AKID3 */
    assert_int_equal(sky_aws_creds_get(p, &c, NULL, 0), SKY_EAUTH);
    assert_null(c.access_key_id);
    /* after invalidate (an ExpiredToken answer) the source is asked at once */
    f.lifetime_ns = 3600 * S;
    sky_aws_creds_invalidate(p);
    get_akid(p, akid, sizeof akid, SKY_OK);
    assert_string_equal(akid, "AKID6");
    sky_aws_creds_stats_get(p, &cs);
    assert_int_equal(cs.near_expiry, 2); /* an hour left: not near */
    sky_aws_creds_free(p);
}

static void test_explicit_and_invalid(void **state)
{
    (void)state;
    sky_aws_creds *p;
    assert_int_equal(sky_aws_creds_new(&(sky_aws_creds_opts){.access_key_id = "A"}, &p),
                     SKY_EINVAL);
    assert_int_equal(sky_aws_creds_new(&(sky_aws_creds_opts){.access_key_id = "AKIDX",
                                                             .secret_access_key = "S",
                                                             .session_token = "T"},
                                       &p),
                     SKY_OK);
    sky_aws_credentials c;
    assert_int_equal(sky_aws_creds_get(p, &c, NULL, 0), SKY_OK);
    assert_string_equal(c.access_key_id, "AKIDX");
    assert_string_equal(c.session_token, "T");
    assert_int_equal(c.expiration_ns, 0);
    assert_string_equal(sky_aws_creds_source(p), "explicit");
    sky_aws_credentials_clear(&c);
    sky_aws_credentials_clear(NULL);
    sky_aws_creds_free(p);
    sky_aws_creds_free(NULL);
}

/* Many threads read while the clock moves through several refresh windows. Under TSan this
 * checks the cache's locking; everywhere it checks that every caller gets complete keys. */
typedef struct shared {
    sky_aws_creds *p;
    fake *f;
    atomic_int errors;
} shared;

static void *reader(void *arg)
{
    shared *s = arg;
    for (int i = 0; i < 2000; i++) {
        sky_aws_credentials c;
        if (sky_aws_creds_get(s->p, &c, NULL, 0) != SKY_OK || !c.access_key_id ||
            strncmp(c.access_key_id, "AKID", 4) != 0 || !c.secret_access_key)
            atomic_fetch_add(&s->errors, 1);
        sky_aws_credentials_clear(&c);
        if (i % 100 == 0) {
            atomic_fetch_add(&s->f->now, 10 * S);
            sky_aws_creds_stats cs; /* read while others refresh (TSan) */
            sky_aws_creds_stats_get(s->p, &cs);
        }
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    fake f = {.lifetime_ns = 400 * S}; /* refresh every ~100 s of fake time */
    atomic_init(&f.now, T0);
    shared s = {.p = make(&f), .f = &f};
    pthread_t th[8];
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&th[i], NULL, reader, &s), 0);
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&s.errors), 0);
    /* 8 threads x 20 clock steps x 10 s = 1600 s of fake time: a refresh per ~100 s, not one
     * per call (the lock makes concurrent callers share a refresh) */
    int n = atomic_load(&f.fetches);
    assert_true(n >= 2);
    assert_true(n < 100);
    sky_aws_creds_stats cs;
    sky_aws_creds_stats_get(s.p, &cs);
    assert_int_equal(cs.refreshes, (uint64_t)n);
    assert_int_equal(cs.failures, 0);
    sky_aws_creds_free(s.p);
}

static void test_parse_time(void **state)
{
    (void)state;
    int64_t ns;
    assert_int_equal(sky_aws_parse_time("2027-01-15T08:00:00Z", &ns), SKY_OK);
    assert_int_equal(ns, 1800000000LL * S);
    assert_int_equal(sky_aws_parse_time("2027-01-15T08:00:00.250Z", &ns), SKY_OK);
    assert_int_equal(ns, 1800000000LL * S + 250000000);
    assert_int_equal(sky_aws_parse_time("2027-01-15T10:00:00+02:00", &ns), SKY_OK);
    assert_int_equal(ns, 1800000000LL * S);
    assert_int_equal(sky_aws_parse_time("2027-01-15 08:00:00Z", &ns), SKY_EINVAL);
    assert_int_equal(sky_aws_parse_time("2027-01-15T08:00:00", &ns), SKY_EINVAL);
    assert_int_equal(sky_aws_parse_time("2027-13-15T08:00:00Z", &ns), SKY_EINVAL);
    assert_int_equal(sky_aws_parse_time(NULL, &ns), SKY_EINVAL);
    assert_int_equal(sky_aws_parse_http_date("Fri, 15 Jan 2027 08:00:00 GMT", &ns), SKY_OK);
    assert_int_equal(ns, 1800000000LL * S);
    assert_int_equal(sky_aws_parse_http_date("yesterday", &ns), SKY_EINVAL);
}

static void test_mask(void **state)
{
    (void)state;
    char b[256];
    sky_aws_mask_header("Authorization",
                        "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/logs/aws4_request, "
                        "SignedHeaders=host, Signature=deadbeef",
                        b, sizeof b);
    assert_null(strstr(b, "deadbeef"));
    assert_non_null(strstr(b, "Signature=****"));
    assert_non_null(strstr(b, "SignedHeaders=host"));
    sky_aws_mask_header("X-Amz-Security-Token", "CANARY", b, sizeof b);
    assert_string_equal(b, "X-Amz-Security-Token: ****");
    sky_aws_mask_header("authorization", "Bearer CANARY", b, sizeof b);
    assert_string_equal(b, "authorization: ****");
    sky_aws_mask_header("X-Aws-Secret-Access-Key", "CANARY", b, sizeof b);
    assert_null(strstr(b, "CANARY"));
    sky_aws_mask_header("Content-Type", "application/json", b, sizeof b);
    assert_string_equal(b, "Content-Type: application/json");
}

static void test_gzip(void **state)
{
    (void)state;
    const char *msg = "hello hello hello hello hello";
    void *gz;
    size_t gl;
    assert_int_equal(sky_aws_gzip(msg, strlen(msg), &gz, &gl), SKY_OK);
    assert_true(gl > 18);
    assert_int_equal(((unsigned char *)gz)[0], 0x1f);
    assert_int_equal(((unsigned char *)gz)[1], 0x8b);
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(inflateInit2(&z, 16 + 15), Z_OK);
    char out[128];
    z.next_in = gz;
    z.avail_in = (uInt)gl;
    z.next_out = (Bytef *)out;
    z.avail_out = sizeof out;
    assert_int_equal(inflate(&z, Z_FINISH), Z_STREAM_END);
    assert_int_equal(z.total_out, strlen(msg));
    assert_memory_equal(out, msg, strlen(msg));
    inflateEnd(&z);
    free(gz);
}


/* credential_process is split like Python's shlex.split; expectations generated with shlex */
static void test_shell_split(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *want[4];
    } cases[] = {
        {"/bin/tool --flag", {"/bin/tool", "--flag", NULL}},
        {"  a\t b\n", {"a", "b", NULL}},
        {"'a b' \"c d\" e\\ f", {"a b", "c d", "e f", NULL}},
        {"x\"y z\"w", {"xy zw", NULL}},
        {"\"a\\\"b\" \"c\\\\d\" \"e\\f\"", {"a\"b", "c\\d", "e\\f", NULL}},
        {"''", {"", NULL}},
        {"#not-a-comment a#b", {"#not-a-comment", "a#b", NULL}},
        {"a'b'c\\'", {"abc'", NULL}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char **argv;
        assert_int_equal(sky__shell_split(cases[i].in, &argv), SKY_OK);
        size_t k = 0;
        for (; cases[i].want[k]; k++)
            assert_string_equal(argv[k], cases[i].want[k]);
        assert_null(argv[k]);
        sky__argv_free(argv);
    }
    const char *bad[] = {"\"open", "'open", "end\\", "", "   "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char **argv;
        assert_int_equal(sky__shell_split(bad[i], &argv), SKY_EINVAL);
        assert_null(argv);
    }
}

/* The answers' parsers on their own (fuzz_aws_creds drives them): an SSO expiration outside
 * 1970..2200 ms is refused, not multiplied past int64; STS needs both keys; the SSO cache's
 * token is returned only while unexpired. */
static void test_answer_parsers(void **state)
{
    (void)state;
    char err[256] = "";
    sky__cctx ctx = {.err = err, .errlen = sizeof err, .now_ns = 1751114096000000000LL};
    sky_aws_credentials c;
    const char *ok = "{\"roleCredentials\":{\"accessKeyId\":\"A\",\"secretAccessKey\":\"S\","
                     "\"sessionToken\":\"T\",\"expiration\":1751114096000}}";
    assert_int_equal(sky__sso_parse_role_credentials(&ctx, ok, strlen(ok), &c), SKY_OK);
    assert_true(c.expiration_ns == 1751114096000LL * 1000000);
    sky_aws_credentials_clear(&c);
    const char *bad[] = {
        "{\"roleCredentials\":{\"accessKeyId\":\"A\",\"secretAccessKey\":\"S\",\"expiration\":9223372036854775807}}",
        "{\"roleCredentials\":{\"accessKeyId\":\"A\",\"secretAccessKey\":\"S\",\"expiration\":-1}}",
        "{\"roleCredentials\":{\"accessKeyId\":\"A\",\"secretAccessKey\":\"S\",\"expiration\":1.5}}",
        "{\"roleCredentials\":{\"accessKeyId\":\"\",\"secretAccessKey\":\"S\"}}", "[]", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(sky__sso_parse_role_credentials(&ctx, bad[i], strlen(bad[i]), &c),
                         SKY_EPROTO);
        assert_null(c.access_key_id);
        assert_true(err[0] != '\0');
    }
    const char *sts = "<Credentials><AccessKeyId>ASIA</AccessKeyId><SecretAccessKey>s&amp;k"
                      "</SecretAccessKey><Expiration>2026-07-01T00:00:00Z</Expiration></Credentials>";
    assert_int_equal(sky__sts_parse_credentials(&ctx, "AssumeRole", sts, strlen(sts), &c), SKY_OK);
    assert_string_equal(c.secret_access_key, "s&k");
    assert_null(c.session_token);
    sky_aws_credentials_clear(&c);
    assert_int_equal(sky__sts_parse_credentials(&ctx, "AssumeRole", sts, 40, &c), SKY_EPROTO);
    char *tok = NULL;
    const char *cache = "{\"accessToken\":\"t\",\"expiresAt\":\"2099-01-01T00:00:00Z\"}";
    assert_int_equal(sky__sso_parse_cached_token(&ctx, cache, strlen(cache), &tok), SKY_OK);
    assert_string_equal(tok, "t");
    free(tok);
    cache = "{\"accessToken\":\"t\",\"expiresAt\":\"2020-01-01T00:00:00Z\"}";
    assert_int_equal(sky__sso_parse_cached_token(&ctx, cache, strlen(cache), &tok), SKY_EAUTH);
    assert_null(tok);
    assert_non_null(strstr(err, "expired"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cache_and_refresh_margin),
        cmocka_unit_test(test_stale_but_valid_kept_on_failure),
        cmocka_unit_test(test_fresh_credentials_judged_by_expiry),
        cmocka_unit_test(test_explicit_and_invalid),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_mask),
        cmocka_unit_test(test_gzip),
        cmocka_unit_test(test_shell_split),
        cmocka_unit_test(test_answer_parsers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

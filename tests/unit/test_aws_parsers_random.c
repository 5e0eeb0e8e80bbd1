/* test_aws_parsers_random.c - throws random and mutated inputs at every parser of the AWS layer
 * (Authorization headers, sky_sigv4_verify, canonicalisation, INI files, error bodies, times).
 * Nothing is asserted about the results except that they are sane; the point is that the
 * sanitizers (asan preset) see no out-of-bounds access, leak or undefined behaviour. A poor
 * man's fuzzer with a fixed seed, so failures reproduce. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/profile.h"
#include "aws/sigv4.h"

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

/* A mutation of `seed`: random bytes replaced, inserted, or the string cut. */
static char *mutate(const char *seed)
{
    size_t n = strlen(seed);
    char *s = malloc(n * 2 + 64);
    memcpy(s, seed, n + 1);
    int edits = 1 + (int)(next() % 6);
    static const char alphabet[] = "=,/;%&# \t\n<>\"{}:ZT0123456789abcdefXYZ\\\xc3\xff";
    for (int k = 0; k < edits; k++) {
        size_t len = strlen(s);
        size_t at = len ? next() % len : 0;
        switch (next() % 4) {
        case 0:
            if (len)
                s[at] = alphabet[next() % (sizeof alphabet - 1)];
            break;
        case 1:
            memmove(s + at + 1, s + at, len - at + 1);
            s[at] = alphabet[next() % (sizeof alphabet - 1)];
            break;
        case 2:
            s[at] = '\0';
            break;
        default:
            if (len)
                memmove(s + at, s + at + 1, len - at);
        }
    }
    return s;
}

static sky_status secret_fn(void *user, const char *akid, char *secret, size_t cap)
{
    (void)user;
    if (!akid[0])
        return SKY_ENOTFOUND;
    snprintf(secret, cap, "secret");
    return SKY_OK;
}

static void test_authorization_and_verify(void **state)
{
    (void)state;
    const char *seed = "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/logs/aws4_request, "
                       "SignedHeaders=host;x-amz-date, "
                       "Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    for (int i = 0; i < 20000; i++) {
        char *a = mutate(seed);
        sky_sigv4_auth au;
        if (sky_sigv4_parse_authorization(a, &au) == SKY_OK) {
            assert_int_equal(strlen(au.signature), 64);
            assert_int_equal(strlen(au.date), 8);
        }
        char *d = mutate("20250101T000000Z");
        char *q = mutate("a=1&b=%2F&X-Amz-Signature=00");
        char *path = mutate("/a/../b//c%20d");
        sky_aws_header h[] = {{"Host", "h"}, {"X-Amz-Date", d}, {"Authorization", a}};
        sky_sigv4_received rr = {.method = "POST", .path = path, .query = q, .headers = h,
                                 .n_headers = (i % 5) ? 3 : 2, .body = "x", .body_len = 1,
                                 .now_ns = 1735689600LL * 1000000000LL};
        sky_sigv4_verdict v;
        sky_status st = sky_sigv4_verify(&rr, secret_fn, NULL, &v);
        assert_true(st == SKY_OK || st == SKY_EAUTH);
        sky__buf b = {0};
        sky__sigv4_canonical_uri(&b, path, false);
        sky__sigv4_canonical_query(&b, q, i & 1);
        sky__sigv4_trimall(&b, a);
        sky__buf_free(&b);
        free(a);
        free(d);
        free(q);
        free(path);
    }
}

static void test_ini_error_time(void **state)
{
    (void)state;
    const char *ini_seed = "[default]\nregion = us-east-1\n[profile x]\n  nested = 1\nk:v\n";
    const char *json_seed = "{\"__type\":\"a#B:c\",\"message\":\"m\",\"Message\":1}";
    const char *xml_seed = "<ErrorResponse><Error><Code>C&amp;</Code><Message>M&lt;"
                           "</Message></Error><RequestId>r</RequestId></ErrorResponse>";
    for (int i = 0; i < 20000; i++) {
        char *t = mutate(ini_seed);
        sky__ini ini;
        assert_int_equal(sky__ini_parse(t, &ini), SKY_OK);
        (void)sky__ini_get(&ini, "default", "region");
        sky__ini_free(&ini);
        free(t);
        t = mutate(i & 1 ? json_seed : xml_seed);
        sky_aws_header h[] = {{"x-amzn-query-error", t}, {"x-amzn-ErrorType", t}};
        sky_aws_error e;
        sky_aws_parse_error(400 + (long)(i % 200), h, i % 3, t, strlen(t), &e);
        assert_true(strlen(e.code) < sizeof e.code);
        free(t);
        t = mutate("2027-01-15T08:00:00.123+02:00");
        int64_t ns;
        (void)sky_aws_parse_time(t, &ns);
        (void)sky_aws_parse_http_date(t, &ns);
        free(t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_authorization_and_verify),
        cmocka_unit_test(test_ini_error_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_sigv4.c - unit tests for src/aws/sigv4.c: canonicalisation pieces, the AWS test-suite
 * "get-vanilla" vectors, the Authorization parser, the verification primitive and the key cache.
 * The broad byte-for-byte comparison with botocore lives in
 * tests/integration/test_sigv4_oracle.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/crypto_api.h"
#include "aws/sigv4.h"
#include "util/text.h"

static char *canon_uri(const char *path, bool s3)
{
    sky__buf b = {0};
    sky__sigv4_canonical_uri(&b, path, s3);
    return sky__buf_steal(&b);
}

static void check_uri(const char *path, const char *want)
{
    char *got = canon_uri(path, false);
    assert_string_equal(got, want);
    free(got);
}

/* The streaming SHA-256 (a request body hashed while it is written) gives the one-shot digest
 * however the data is cut: every length 0-300 in pieces of 1-70 bytes, empty pieces too. */
static void test_sha256_stream(void **state)
{
    (void)state;
    unsigned char data[300];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 131 + 7);
    for (size_t n = 0; n <= sizeof data; n++) {
        uint8_t want[32], got[32];
        assert_true(sky__sha256(data, n, want));
        sky__sha256_stream *h = sky__sha256_begin();
        assert_non_null(h);
        size_t off = 0, piece = n % 70 + 1;
        while (off < n) {
            size_t k = n - off < piece ? n - off : piece;
            sky__sha256_add(h, data + off, k);
            sky__sha256_add(h, data + off, 0);
            off += k;
            piece = piece % 70 + 1;
        }
        assert_true(sky__sha256_end(h, got));
        assert_memory_equal(got, want, 32);
    }
    char hex[65];
    uint8_t md[32];
    assert_true(sky__sha256("abc", 3, md));
    sky__hex(md, 32, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_canonical_uri(void **state)
{
    (void)state;
    check_uri("", "/");
    check_uri(NULL, "/");
    check_uri("/", "/");
    check_uri("/a/b/", "/a/b/");
    check_uri("//a//b", "/a/b");
    check_uri("/a/./b/../c", "/a/c");
    check_uri("/../..", "/");
    check_uri("/a/..", "/");   /* trailing '/' only kept when segments remain */
    check_uri("/a/../", "/");
    check_uri("/b c", "/b%20c");
    check_uri("/x%20y", "/x%2520y"); /* double encoding for non-S3 services */
    check_uri("/~user/a=b", "/~user/a%3Db");
    check_uri("/\xc3\xa9", "/%C3%A9");
    char *s3 = canon_uri("/x%20y//a/../b", true);
    assert_string_equal(s3, "/x%20y//a/../b");
    free(s3);
}

static void check_query(const char *q, bool drop, const char *want)
{
    sky__buf b = {0};
    sky__sigv4_canonical_query(&b, q, drop);
    char *got = sky__buf_steal(&b);
    assert_string_equal(got, want);
    free(got);
}

static void test_canonical_query(void **state)
{
    (void)state;
    check_query(NULL, false, "");
    check_query("", false, "");
    check_query("b=2&a=1", false, "a=1&b=2");
    check_query("a=2&a=1&a=", false, "a=&a=1&a=2");
    check_query("flag&a=1", false, "a=1&flag=");
    check_query("B=1&a=1", false, "B=1&a=1"); /* byte order: upper case first */
    check_query("x=1&X-Amz-Signature=abc", true, "x=1");
    check_query("x=1&X-Amz-Signature=abc", false, "X-Amz-Signature=abc&x=1");
    check_query("a=b=c", false, "a=b=c");
}

static void check_trim(const char *in, const char *want)
{
    sky__buf b = {0};
    sky__sigv4_trimall(&b, in);
    const char *got = sky__buf_cstr(&b);
    assert_string_equal(got, want);
    sky__buf_free(&b);
}

static void test_trimall(void **state)
{
    (void)state;
    check_trim("  a   b  ", "a b");
    check_trim("\ta\t\tb\n", "a b");
    check_trim("", "");
    check_trim("   ", "");
    check_trim("plain", "plain");
}

static void test_uri_encode(void **state)
{
    (void)state;
    char *e = sky_aws_uri_encode("a b/c~-_.*", 10, false);
    assert_string_equal(e, "a%20b%2Fc~-_.%2A");
    free(e);
    e = sky_aws_uri_encode("a b/c", 5, true);
    assert_string_equal(e, "a%20b/c");
    free(e);
}

/* AWS SigV4 test suite, "get-vanilla" and "post-x-www-form-urlencoded" style vectors. */
static const int64_t T_20150830 = 1440938160LL * 1000000000LL; /* 20150830T123600Z */

static void test_get_vanilla(void **state)
{
    (void)state;
    sky_sigv4_request req = {.method = "GET", .host = "example.amazonaws.com", .path = "/"};
    sky_sigv4_params p = {.access_key_id = "AKIDEXAMPLE",
                          .secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                          .region = "us-east-1", .service = "service", .time_ns = T_20150830,
                          .want_canonical = true};
    sky_sigv4_result r;
    assert_int_equal(sky_sigv4_sign(&req, &p, &r), SKY_OK);
    assert_string_equal(r.amz_date, "20150830T123600Z");
    assert_string_equal(r.canonical_request,
                        "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
                        "host;x-amz-date\n"
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_string_equal(r.signature,
                        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    assert_string_equal(r.authorization,
                        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
                        "aws4_request, SignedHeaders=host;x-amz-date, "
                        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");

    /* the server side recomputes the same signature from the parsed header */
    sky_sigv4_auth a;
    assert_int_equal(sky_sigv4_parse_authorization(r.authorization, &a), SKY_OK);
    assert_string_equal(a.access_key_id, "AKIDEXAMPLE");
    assert_string_equal(a.date, "20150830");
    assert_string_equal(a.region, "us-east-1");
    assert_string_equal(a.service, "service");
    assert_string_equal(a.signed_headers, "host;x-amz-date");
    sky_aws_header hs[] = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", r.amz_date},
                           {"Authorization", r.authorization}};
    sky_sigv4_verify_input in = {
        .secret_access_key = p.secret_access_key, .amz_date = r.amz_date, .scope_date = a.date,
        .region = a.region, .service = a.service, .signed_headers = a.signed_headers,
        .method = "GET", .path = "/", .headers = hs, .n_headers = 3,
        .payload_hash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"};
    char sig[65];
    char *canon = NULL;
    assert_int_equal(sky_sigv4_compute_signature(&in, sig, &canon), SKY_OK);
    assert_true(sky_sigv4_equal(sig, a.signature));
    assert_string_equal(canon, r.canonical_request);
    free(canon);
    /* a tampered header or secret does not verify */
    hs[0].value = "evil.amazonaws.com";
    assert_int_equal(sky_sigv4_compute_signature(&in, sig, NULL), SKY_OK);
    assert_false(sky_sigv4_equal(sig, a.signature));
    hs[0].value = "example.amazonaws.com";
    in.secret_access_key = "wrong";
    assert_int_equal(sky_sigv4_compute_signature(&in, sig, NULL), SKY_OK);
    assert_false(sky_sigv4_equal(sig, a.signature));
    sky_sigv4_result_free(&r);
}

static void test_session_token_and_blacklist(void **state)
{
    (void)state;
    sky_aws_header hs[] = {{"User-Agent", "x"},
                           {"X-Amz-Security-Token", "stale"},
                           {"X-Amz-Date", "19990101T000000Z"},
                           {"Content-Type", "application/x-amz-json-1.1"}};
    sky_sigv4_request req = {.method = "post", .host = "logs.us-east-1.amazonaws.com",
                             .headers = hs, .n_headers = 4, .payload = "{}", .payload_len = 2};
    sky_sigv4_params p = {.access_key_id = "AKID", .secret_access_key = "SECRET",
                          .session_token = "TOKEN", .region = "us-east-1", .service = "logs",
                          .time_ns = T_20150830, .want_canonical = true};
    sky_sigv4_result r;
    assert_int_equal(sky_sigv4_sign(&req, &p, &r), SKY_OK);
    assert_string_equal(r.signed_headers, "content-type;host;x-amz-date;x-amz-security-token");
    assert_non_null(strstr(r.canonical_request, "x-amz-security-token:TOKEN\n"));
    assert_null(strstr(r.canonical_request, "stale"));
    assert_null(strstr(r.canonical_request, "1999"));
    assert_true(strncmp(r.canonical_request, "POST\n", 5) == 0);
    /* the secret never appears in anything the signer returns */
    assert_null(strstr(r.authorization, "SECRET"));
    assert_null(strstr(r.canonical_request, "SECRET"));
    assert_null(strstr(r.string_to_sign, "SECRET"));
    sky_sigv4_result_free(&r);
}

static void test_parse_authorization_rejects(void **state)
{
    (void)state;
    sky_sigv4_auth a;
    const char *sig = "Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    char buf[512];
    snprintf(buf, sizeof buf,
             "AWS4-HMAC-SHA256 SignedHeaders=host,%s,Credential=A/20250101/r/s/aws4_request", sig);
    assert_int_equal(sky_sigv4_parse_authorization(buf, &a), SKY_OK); /* any order */
    assert_string_equal(a.signed_headers, "host");
    assert_int_equal(sky_sigv4_parse_authorization("AWS4-HMAC-SHA1 Credential=x", &a), SKY_EINVAL);
    assert_int_equal(sky_sigv4_parse_authorization(NULL, &a), SKY_EINVAL);
    snprintf(buf, sizeof buf, "AWS4-HMAC-SHA256 Credential=A/20250101/r/s/aws4_request, %s", sig);
    assert_int_equal(sky_sigv4_parse_authorization(buf, &a), SKY_EINVAL); /* no SignedHeaders */
    snprintf(buf, sizeof buf,
             "AWS4-HMAC-SHA256 Credential=A/20250101/r/s/aws5_request, SignedHeaders=host, %s",
             sig);
    assert_int_equal(sky_sigv4_parse_authorization(buf, &a), SKY_EINVAL);
    assert_int_equal(sky_sigv4_parse_authorization("AWS4-HMAC-SHA256 Credential=A/20250101/r/s/"
                                                   "aws4_request, SignedHeaders=host, Signature=xyz",
                                                   &a),
                     SKY_EINVAL);
    assert_false(sky_sigv4_equal("abc", "abcd"));
    assert_true(sky_sigv4_equal("ABC", "abc"));
    assert_false(sky_sigv4_equal(NULL, "abc"));
}

static void test_key_cache(void **state)
{
    (void)state;
    unsigned char k1[32], k2[32], k3[32];
    unsigned long before = sky__sigv4_key_derivations();
    sky__sigv4_signing_key("cache-secret", "20250101", "eu-west-1", "logs", k1);
    sky__sigv4_signing_key("cache-secret", "20250101", "eu-west-1", "logs", k2);
    assert_memory_equal(k1, k2, 32);
    assert_int_equal(sky__sigv4_key_derivations() - before, 1);
    sky__sigv4_signing_key("cache-secret2", "20250101", "eu-west-1", "logs", k3);
    assert_memory_not_equal(k1, k3, 32);
    assert_int_equal(sky__sigv4_key_derivations() - before, 2);
}

static void test_presign(void **state)
{
    (void)state;
    sky_sigv4_request req = {.method = "GET", .host = "example.amazonaws.com", .path = "/",
                             .query = "Action=ListUsers&Version=2010-05-08"};
    sky_sigv4_params p = {.access_key_id = "AKIDEXAMPLE",
                          .secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                          .region = "us-east-1", .service = "iam", .time_ns = T_20150830,
                          .expires_s = 60};
    sky_sigv4_result r;
    assert_int_equal(sky_sigv4_presign(&req, &p, &r), SKY_OK);
    assert_non_null(strstr(r.presigned_query, "Action=ListUsers&Version=2010-05-08&X-Amz-Algorithm="
                                              "AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F"
                                              "20150830%2Fus-east-1%2Fiam%2Faws4_request"));
    assert_non_null(strstr(r.presigned_query, "&X-Amz-Expires=60&X-Amz-SignedHeaders=host&"));
    assert_null(r.authorization);
    /* a server verifies it by dropping X-Amz-Signature from the query */
    sky_aws_header hs[] = {{"host", "example.amazonaws.com"}};
    sky_sigv4_verify_input in = {
        .secret_access_key = p.secret_access_key, .amz_date = r.amz_date, .region = "us-east-1",
        .service = "iam", .signed_headers = "host", .method = "GET", .path = "/",
        .query = r.presigned_query, .headers = hs, .n_headers = 1,
        .payload_hash = r.payload_hash, .presigned = true};
    char sig[65];
    assert_int_equal(sky_sigv4_compute_signature(&in, sig, NULL), SKY_OK);
    assert_string_equal(sig, r.signature);
    sky_sigv4_result_free(&r);
}

static void test_invalid_args(void **state)
{
    (void)state;
    sky_sigv4_result r;
    sky_sigv4_request req = {.method = "GET", .path = "/"}; /* no host anywhere */
    sky_sigv4_params p = {.access_key_id = "A", .secret_access_key = "S", .region = "r",
                          .service = "s", .time_ns = T_20150830};
    assert_int_equal(sky_sigv4_sign(&req, &p, &r), SKY_EINVAL);
    assert_null(r.authorization);
    p.region = NULL;
    req.host = "h";
    assert_int_equal(sky_sigv4_sign(&req, &p, &r), SKY_EINVAL);
    char sig[65];
    sky_sigv4_verify_input in = {0};
    assert_int_equal(sky_sigv4_compute_signature(&in, sig, NULL), SKY_EINVAL);
}


/* ---- sky_sigv4_verify: every verdict ---------------------------------------------------- */

static sky_status lookup(void *user, const char *akid, char *secret, size_t cap)
{
    (void)user;
    if (strcmp(akid, "AKIDEXAMPLE") != 0)
        return SKY_ENOTFOUND;
    snprintf(secret, cap, "%s", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
    return SKY_OK;
}

typedef struct signed_req {
    sky_sigv4_result r;
    sky_aws_header h[5];
    size_t n;
} signed_req;

static void sign_post(signed_req *s, const char *akid, const char *body)
{
    sky_aws_header in[] = {{"Content-Type", "application/x-amz-json-1.1"},
                           {"X-Amz-Target", "Logs_20140328.PutLogEvents"}};
    sky_sigv4_request req = {.method = "POST", .host = "127.0.0.1:4566", .path = "/",
                             .headers = in, .n_headers = 2, .payload = body,
                             .payload_len = strlen(body)};
    sky_sigv4_params p = {.access_key_id = akid,
                          .secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                          .region = "us-east-1", .service = "logs", .time_ns = T_20150830};
    assert_int_equal(sky_sigv4_sign(&req, &p, &s->r), SKY_OK);
    s->h[0] = (sky_aws_header){"host", "127.0.0.1:4566"};
    s->h[1] = in[0];
    s->h[2] = in[1];
    s->h[3] = (sky_aws_header){"X-Amz-Date", s->r.amz_date};
    s->h[4] = (sky_aws_header){"Authorization", s->r.authorization};
    s->n = 5;
}

static void verify_expect(signed_req *s, const char *body, int64_t now, const char *code)
{
    sky_sigv4_received rr = {.method = "POST", .path = "/", .headers = s->h, .n_headers = s->n,
                             .body = body, .body_len = strlen(body), .now_ns = now};
    sky_sigv4_verdict v;
    sky_status st = sky_sigv4_verify(&rr, lookup, NULL, &v);
    if (!code) {
        assert_int_equal(st, SKY_OK);
        assert_int_equal(v.http_status, 200);
        assert_string_equal(v.auth.access_key_id, "AKIDEXAMPLE");
    } else {
        assert_int_equal(st, SKY_EAUTH);
        assert_string_equal(v.error_code, code);
        assert_null(strstr(v.message, "wJalr"));
        assert_null(strstr(v.message, s->r.signature));
    }
}

static void test_verify_verdicts(void **state)
{
    (void)state;
    const int64_t M = 60LL * 1000000000LL;
    signed_req s;
    sign_post(&s, "AKIDEXAMPLE", "{\"a\":1}");
    verify_expect(&s, "{\"a\":1}", T_20150830 + M, NULL);
    verify_expect(&s, "{\"a\":2}", T_20150830 + M, "InvalidSignatureException"); /* body */
    verify_expect(&s, "{\"a\":1}", T_20150830 + 16 * M, "InvalidSignatureException"); /* old */
    verify_expect(&s, "{\"a\":1}", T_20150830 - 16 * M, "InvalidSignatureException"); /* future */
    verify_expect(&s, "{\"a\":1}", T_20150830 + 14 * M, NULL);
    s.h[2].value = "Logs_20140328.DeleteLogGroup"; /* a signed header was changed */
    verify_expect(&s, "{\"a\":1}", T_20150830, "InvalidSignatureException");
    s.h[2].value = "Logs_20140328.PutLogEvents";
    s.n = 4; /* no Authorization at all */
    verify_expect(&s, "{\"a\":1}", T_20150830, "MissingAuthenticationTokenException");
    s.n = 5;
    s.h[4].value = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/logs/aws4_request";
    verify_expect(&s, "{\"a\":1}", T_20150830, "IncompleteSignatureException");
    s.h[4].value = s.r.authorization;
    s.h[3].name = "X-Other"; /* no date */
    verify_expect(&s, "{\"a\":1}", T_20150830, "IncompleteSignatureException");
    s.h[3].name = "X-Amz-Date";
    sky_sigv4_result_free(&s.r);

    sign_post(&s, "AKIDUNKNOWN", "{}");
    verify_expect(&s, "{}", T_20150830, "UnrecognizedClientException");
    sky_sigv4_result_free(&s.r);

    /* presigned form, and its expiry */
    sky_sigv4_request req = {.method = "GET", .host = "127.0.0.1:4566", .path = "/x"};
    sky_sigv4_params p = {.access_key_id = "AKIDEXAMPLE",
                          .secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                          .region = "us-east-1", .service = "logs", .time_ns = T_20150830,
                          .expires_s = 300};
    sky_sigv4_result r;
    assert_int_equal(sky_sigv4_presign(&req, &p, &r), SKY_OK);
    sky_aws_header hh[] = {{"Host", "127.0.0.1:4566"}};
    sky_sigv4_received rr = {.method = "GET", .path = "/x", .query = r.presigned_query,
                             .headers = hh, .n_headers = 1, .now_ns = T_20150830 + 4 * M};
    sky_sigv4_verdict v;
    assert_int_equal(sky_sigv4_verify(&rr, lookup, NULL, &v), SKY_OK);
    assert_true(v.presigned);
    rr.now_ns = T_20150830 + 6 * M;
    assert_int_equal(sky_sigv4_verify(&rr, lookup, NULL, &v), SKY_EAUTH);
    assert_string_equal(v.error_code, "InvalidSignatureException");
    assert_non_null(strstr(v.message, "expired"));
    sky_sigv4_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_stream),
        cmocka_unit_test(test_canonical_uri),
        cmocka_unit_test(test_canonical_query),
        cmocka_unit_test(test_trimall),
        cmocka_unit_test(test_uri_encode),
        cmocka_unit_test(test_get_vanilla),
        cmocka_unit_test(test_session_token_and_blacklist),
        cmocka_unit_test(test_parse_authorization_rejects),
        cmocka_unit_test(test_key_cache),
        cmocka_unit_test(test_presign),
        cmocka_unit_test(test_invalid_args),
        cmocka_unit_test(test_verify_verdicts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

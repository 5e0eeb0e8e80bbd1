/* test_crypto_api.c - unit tests for src/aws/crypto_api.c when libcrypto cannot be loaded:
 * signing, presigning, verifying, creating an AWS client and finding an SSO token all fail with
 * SKY_EUNSUPPORTED and a text that names the library, the dlopen() reason and what to install;
 * nothing crashes and no signature is produced. The load is once per process, so this file
 * forces the failure (sky__crypto_api_set_candidates) before anything loads libcrypto; the
 * success path is covered by test_sigv4.c, the botocore oracle and test_lazy_curl.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "skytest.h"

#include "aws/crypto_api.h"
#include "aws/sigv4.h"
#include "util/secmem.h"

#include <skylog/aws.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* a missing file first (its reason is reported), then a library that lacks libcrypto's symbols */
static const char *const missing[] = {"/nonexistent/libcrypto.so.3", "libz.so.1", NULL};

static void assert_reason(const char *why)
{
    assert_non_null(strstr(why, "/nonexistent/libcrypto.so.3 could not be loaded ("));
    assert_non_null(strstr(why, "No such file or directory"));
    assert_non_null(strstr(why, "): install OpenSSL's libcrypto"));
}

static const sky_aws_header host[] = {{"Host", "logs.us-east-1.amazonaws.com"}};
static const sky_sigv4_params params = {.access_key_id = "AKIDEXAMPLE",
                                        .secret_access_key = "secret",
                                        .region = "us-east-1",
                                        .service = "logs"};

static void test_primitives_fail_with_zeroed_output(void **state)
{
    (void)state;
    uint8_t out[32];
    memset(out, 0xAA, sizeof out);
    assert_false(sky__sha256("abc", 3, out));
    for (size_t i = 0; i < sizeof out; i++)
        assert_int_equal(out[i], 0);
    memset(out, 0xAA, sizeof out);
    assert_false(sky__hmac_sha256("k", 1, "abc", 3, out));
    assert_int_equal(out[31], 0);
    assert_false(sky__sha1("abc", 3, out));
    /* the streaming digest: no stream, and a digest of nothing is refused, zeroed */
    assert_null(sky__sha256_begin());
    sky__sha256_add(NULL, "abc", 3);
    memset(out, 0xAA, sizeof out);
    assert_false(sky__sha256_end(NULL, out));
    assert_int_equal(out[0], 0);
    assert_int_equal(out[31], 0);
    char hex[65] = "x";
    sky_aws_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "");
    unsigned char key[32];
    assert_int_equal(sky__sigv4_signing_key("secret", "20250101", "r", "s", key), SKY_EUNSUPPORTED);
    char why[512] = "";
    assert_int_equal(sky_aws_crypto_init(why, sizeof why), SKY_EUNSUPPORTED);
    assert_reason(why);
    assert_int_equal(sky_aws_crypto_init(NULL, 0), SKY_EUNSUPPORTED);
    char tiny[8];
    assert_false(sky__crypto_load(tiny, sizeof tiny));
    assert_int_equal(strlen(tiny), sizeof tiny - 1);
}

static void test_sign_and_presign_fail(void **state)
{
    (void)state;
    for (int hashed = 0; hashed < 2; hashed++) { /* body hashed here, or hash given */
        sky_sigv4_request req = {.method = "POST", .path = "/", .headers = host, .n_headers = 1,
                                 .payload = "{}", .payload_len = 2,
                                 .payload_hash = hashed ? NULL : "UNSIGNED-PAYLOAD"};
        sky_sigv4_result r;
        assert_int_equal(sky_sigv4_sign(&req, &params, &r), SKY_EUNSUPPORTED);
        assert_null(r.authorization);
        assert_string_equal(r.signature, "");
        assert_int_equal(sky_sigv4_presign(&req, &params, &r), SKY_EUNSUPPORTED);
        assert_null(r.presigned_query);
        assert_string_equal(r.signature, "");
    }
    char sig[65];
    char *canonical = (char *)1;
    sky_sigv4_verify_input in = {.secret_access_key = "secret", .amz_date = "20250101T000000Z",
                                 .region = "us-east-1", .service = "logs",
                                 .signed_headers = "host", .method = "GET", .path = "/",
                                 .headers = host, .n_headers = 1,
                                 .payload_hash = "UNSIGNED-PAYLOAD"};
    assert_int_equal(sky_sigv4_compute_signature(&in, sig, &canonical), SKY_EUNSUPPORTED);
    assert_null(canonical);
    assert_string_equal(sig, "");
}

static void test_aws_client_says_why(void **state)
{
    (void)state;
    char why[512];
    skytest_aws_client_unsupported(why, sizeof why);
    assert_reason(why);
}

static void test_sso_profile_says_why(void **state)
{
    (void)state;
    char dir[] = "/tmp/skylog-crypto-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cfg[256];
    snprintf(cfg, sizeof cfg, "%s/config", dir);
    FILE *f = fopen(cfg, "w");
    assert_non_null(f);
    fputs("[profile sso]\nsso_start_url = https://example.awsapps.com/start\n"
          "sso_region = us-east-1\nsso_account_id = 123456789012\nsso_role_name = R\n"
          "region = us-east-1\n",
          f);
    fclose(f);
    sky_aws_creds *creds = NULL;
    sky_aws_credentials cr = {0};
    char why[512] = "";
    sky_status st = sky_aws_creds_new(&(sky_aws_creds_opts){.profile = "sso", .config_file = cfg,
                                                            .credentials_file = "/nonexistent"},
                                      &creds);
    if (st == SKY_OK)
        st = sky_aws_creds_get(creds, &cr, why, sizeof why);
    assert_int_not_equal(st, SKY_OK);
    assert_non_null(strstr(why, "SSO"));
    assert_reason(why);
    sky_aws_credentials_clear(&cr);
    sky_aws_creds_free(creds);
    unlink(cfg);
    rmdir(dir);
}

static sky_status any_secret(void *user, const char *akid, char *secret, size_t cap)
{
    (void)user, (void)akid;
    snprintf(secret, cap, "%s", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
    return SKY_OK;
}

/* A server that cannot load libcrypto answers 500 InternalFailure with the reason, never a
 * client error, and never says anything about the secret. */
static void test_verify_answers_internal_failure(void **state)
{
    (void)state;
    const sky_aws_header h[] = {
        {"Host", "127.0.0.1"},
        {"X-Amz-Date", "20150830T123600Z"},
        {"Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/logs/"
                          "aws4_request, SignedHeaders=host;x-amz-date, Signature="
                          "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"},
    };
    sky_sigv4_received r = {.method = "POST", .path = "/", .headers = h, .n_headers = 3,
                            .body = "{}", .body_len = 2,
                            .now_ns = 1440938160LL * 1000000000LL};
    sky_sigv4_verdict v;
    assert_int_equal(sky_sigv4_verify(&r, any_secret, NULL, &v), SKY_EUNSUPPORTED);
    assert_int_equal(v.status, SKY_EUNSUPPORTED);
    assert_int_equal(v.http_status, 500);
    assert_string_equal(v.error_code, "InternalFailure");
    assert_reason(v.message);
    assert_null(strstr(v.message, "wJalr"));
}

static void test_secmem(void **state)
{
    (void)state;
    assert_true(sky__ct_equal("abcd", "abcd", 4));
    assert_false(sky__ct_equal("abcd", "abce", 4));
    assert_false(sky__ct_equal("xbcd", "abcd", 4));
    assert_true(sky__ct_equal("", "", 0));
    char s[8] = "secret";
    sky__wipe(s, sizeof s);
    for (size_t i = 0; i < sizeof s; i++)
        assert_int_equal(s[i], 0);
    sky__wipe(NULL, 0);
}

int main(void)
{
    sky__crypto_api_set_candidates(missing);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_primitives_fail_with_zeroed_output),
        cmocka_unit_test(test_sign_and_presign_fail),
        cmocka_unit_test(test_aws_client_says_why),
        cmocka_unit_test(test_sso_profile_says_why),
        cmocka_unit_test(test_verify_answers_internal_failure),
        cmocka_unit_test(test_secmem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

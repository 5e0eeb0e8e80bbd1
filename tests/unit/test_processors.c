/* test_processors.c - the built-in processors (src/processors). */
#include "skytest.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static sky_t *open_capture(skytest_capture *cap)
{
    sky_t *sky = NULL;
    assert_int_equal(sky_open(&(sky_options){.level = SKY_LEVEL_TRACE, .level_set = true}, &sky),
                     SKY_OK);
    assert_int_equal(sky_add_sink(sky, skytest_capture_sink(cap, SKY_FORMAT_JSON), NULL), SKY_OK);
    return sky;
}

static json_t *line(skytest_capture *cap, size_t i)
{
    assert_true(i < cap->n);
    json_t *j = json_loads(cap->lines[i], JSON_REJECT_DUPLICATES, NULL);
    assert_non_null(j);
    return j;
}

static const char *str(json_t *j, const char *k)
{
    json_t *v = json_object_get(j, k);
    return v ? json_string_value(v) : NULL;
}

static void test_enrich(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_capture(&cap);
    assert_int_equal(sky_add_enrich(sky, &(sky_enrich_opts){.service = "shop", .environment = "prod",
                                                           .version = "2.0", .hostname = true,
                                                           .pid = true, .timestamp_ms = true}),
                     SKY_OK);
    sky_logger *log = sky_logger_get(sky, "e");
    sky_info(log, "a", SKY_STR("service", "override-from-call"));
    json_t *j = line(&cap, 0);
    assert_string_equal(str(j, "service"), "override-from-call");
    assert_string_equal(str(j, "environment"), "prod");
    assert_string_equal(str(j, "version"), "2.0");
    char host[256];
    gethostname(host, sizeof host);
    assert_string_equal(str(j, "hostname"), host);
    assert_int_equal(json_integer_value(json_object_get(j, "pid")), getpid());
    json_int_t ms = json_integer_value(json_object_get(j, "timestamp_ms"));
    assert_true(llabs((long long)(ms - sky_now_ns() / 1000000)) < 60000);
    json_decref(j);
    sky_close(sky);
    skytest_capture_reset(&cap);
}

static void test_redact_keys_and_values(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_capture(&cap);
    assert_int_equal(sky_add_redact(sky, NULL), SKY_OK);
    sky_logger *log = sky_logger_get(sky, "r");
    sky_info(log, "login", SKY_STR("user", "alice"), SKY_STR("Password", "hunter2"),
             SKY_STR("db_password", "x"), SKY_STR("X-Api-Key", "k"), SKY_INT("token", 1234),
             SKY_STR("tokenizer", "bpe"), SKY_STR("secretary", "jane"),
             SKY_STR("http.authorization", "Basic abc"),
             SKY_STR("note", "id AKIAIOSFODNN7EXAMPLE key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY end"),
             SKY_STR("hdr", "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc123 ok"),
             SKY_STR("sha1", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
             SKY_STR("pem", "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY----- tail"));
    json_t *j = line(&cap, 0);
    assert_string_equal(str(j, "user"), "alice");
    assert_string_equal(str(j, "Password"), SKY_REDACTED);
    assert_string_equal(str(j, "db_password"), SKY_REDACTED);
    assert_string_equal(str(j, "X-Api-Key"), SKY_REDACTED);
    assert_string_equal(str(j, "token"), SKY_REDACTED);
    assert_string_equal(str(j, "tokenizer"), "bpe");
    assert_string_equal(str(j, "secretary"), "jane");
    assert_string_equal(str(j, "http.authorization"), SKY_REDACTED);
    assert_string_equal(str(j, "note"), "id ***REDACTED*** key ***REDACTED*** end");
    assert_string_equal(str(j, "hdr"), "Authorization: ***REDACTED*** ok");
    assert_string_equal(str(j, "sha1"), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    assert_string_equal(str(j, "pem"), "***REDACTED*** tail");
    assert_null(strstr(cap.lines[0], "hunter2"));
    assert_null(strstr(cap.lines[0], "EXAMPLEKEY"));
    json_decref(j);
    sky_close(sky);
    skytest_capture_reset(&cap);
}

static void test_redact_custom_list(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_capture(&cap);
    static const char *const fields[] = {"ssn", NULL};
    sky_add_redact(sky, &(sky_redact_opts){.fields = fields, .no_value_patterns = true,
                                           .replacement = "[hidden]"});
    sky_info(sky_logger_get(sky, "r"), "x", SKY_STR("user_ssn", "123-45-6789"),
             SKY_STR("password", "not in list"), SKY_STR("v", "AKIAIOSFODNN7EXAMPLE"));
    json_t *j = line(&cap, 0);
    assert_string_equal(str(j, "user_ssn"), "[hidden]");
    assert_string_equal(str(j, "password"), "not in list");
    assert_string_equal(str(j, "v"), "AKIAIOSFODNN7EXAMPLE");
    json_decref(j);
    sky_close(sky);
    skytest_capture_reset(&cap);
}

static void test_sampler(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_capture(&cap);
    sky_sample_opts so = {.seed = 42};
    so.rate[SKY_LEVEL_INFO] = 0.25;
    so.rate_set[SKY_LEVEL_INFO] = true;
    so.rate[SKY_LEVEL_DEBUG] = 0.0;
    so.rate_set[SKY_LEVEL_DEBUG] = true;
    assert_int_equal(sky_add_sampler(sky, &so), SKY_OK);
    sky_logger *log = sky_logger_get(sky, "s");
    for (int i = 0; i < 20000; i++)
        sky_info(log, "i");
    size_t kept = cap.n;
    assert_true(kept > 4500 && kept < 5500); /* 25 % +- 10 % */
    skytest_capture_reset(&cap);
    sky_debug(log, "never");
    sky_warn(log, "unsampled_level_kept");
    sky_error(log, "always_kept");
    assert_int_equal(cap.n, 2);
    skytest_capture_reset(&cap);
    /* deterministic per trace id: all events of one trace share the decision */
    int kept_traces = 0;
    for (int t = 0; t < 400; t++) {
        char tid[32];
        snprintf(tid, sizeof tid, "trace-%d", t);
        size_t before = cap.n;
        for (int k = 0; k < 5; k++)
            sky_info(log, "span", SKY_STR("trace_id", tid));
        size_t got = cap.n - before;
        assert_true(got == 0 || got == 5);
        kept_traces += got == 5;
    }
    assert_true(kept_traces > 60 && kept_traces < 140);
    sky_close(sky);
    skytest_capture_reset(&cap);
    sky_t *s2 = NULL;
    sky_open(NULL, &s2);
    sky_sample_opts bad = {0};
    bad.rate[SKY_LEVEL_INFO] = 1.5;
    assert_int_equal(sky_add_sampler(s2, &bad), SKY_EINVAL);
    sky_close(s2);
}

static void test_filters(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_capture(&cap);
    static const char *const inc[] = {"http.*", "db_*", NULL};
    static const char *const exc[] = {"*.health", NULL};
    assert_int_equal(sky_add_event_filter(sky, inc, exc), SKY_OK);
    assert_int_equal(sky_add_level_filter(sky, SKY_LEVEL_INFO), SKY_OK);
    sky_logger *log = sky_logger_get(sky, "f");
    sky_info(log, "http.request");
    sky_info(log, "http.health");
    sky_info(log, "db_query");
    sky_info(log, "cache_hit");
    sky_debug(log, "http.debug");
    assert_int_equal(cap.n, 2);
    sky_stats st;
    sky_stats_get(sky, &st);
    assert_int_equal(st.dropped[SKY_DROP_PROCESSOR], 3);
    sky_close(sky);
    skytest_capture_reset(&cap);
}

static void test_rate_limit(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_capture(&cap);
    assert_int_equal(sky_add_rate_limit(sky, 10.0, 5.0), SKY_OK);
    assert_int_equal(sky_add_rate_limit(sky, 0, 5), SKY_EINVAL);
    sky_logger *log = sky_logger_get(sky, "rl");
    /* The burst's 5 tokens pass at once, and the bucket refills 10 a second for as long as the
     * loop takes: a fraction of a token on an idle machine, more on a loaded one. */
    int64_t t0 = sky_monotonic_ns();
    for (int i = 0; i < 100; i++)
        sky_error(log, "storm");
    int64_t refill = (sky_monotonic_ns() - t0) * 10 / 1000000000 + 1;
    sky_info(log, "other_name_unaffected");
    size_t passed = cap.n - 1;
    assert_true(passed >= 5 && (int64_t)passed <= 5 + refill);
    json_t *other = line(&cap, passed);
    assert_string_equal(str(other, "message"), "other_name_unaffected");
    json_decref(other);
    usleep(250 * 1000); /* refills at least 2.5 tokens */
    sky_error(log, "storm");
    json_t *j = line(&cap, passed + 1);
    assert_int_equal(json_integer_value(json_object_get(j, "suppressed")), 100 - passed);
    json_decref(j);
    sky_processor_stats ps;
    sky_processor_stats_get(sky, 0, &ps);
    assert_string_equal(ps.name, "rate_limit");
    assert_int_equal(ps.drops, 100 - passed);
    sky_close(sky);
    skytest_capture_reset(&cap);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_enrich),  cmocka_unit_test(test_redact_keys_and_values),
        cmocka_unit_test(test_redact_custom_list), cmocka_unit_test(test_sampler),
        cmocka_unit_test(test_filters), cmocka_unit_test(test_rate_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

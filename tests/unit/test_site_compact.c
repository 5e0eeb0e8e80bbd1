/*
 * test_site_compact.c - SKY_COMPACT_CALLS: the macros call sky__log_site_call() instead of
 * inlining the call-site fast path. Same schemas, same records, same output; only where the
 * check and the copy run differs.
 */
#define SKY_COMPACT_CALLS 1
#include "skytest.h"

#include <stdio.h>
#include <string.h>

static void compact_site(sky_logger *log, int i, const char *s)
{
    sky_info(log, "compact", SKY_INT("i", i), SKY_STR("s", s), SKY_F64("f", 0.25));
}

static void test_compact_calls(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = NULL;
    assert_int_equal(sky_open(&(sky_options){.mode = SKY_MODE_ASYNC}, &sky), SKY_OK);
    assert_int_equal(sky_add_sink(sky, skytest_capture_sink(&cap, SKY_FORMAT_JSON), NULL), SKY_OK);
    sky_logger *log = sky_logger_get(sky, "c");
    for (int i = 0; i < 50; i++)
        compact_site(log, i, i % 10 == 9 ? NULL : "v\"q"); /* NULL: the general path */
    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    assert_int_equal(cap.n, 50);
    for (int i = 0; i < 50; i++) {
        char want[96];
        snprintf(want, sizeof want, ",\"i\":%d,\"s\":%s,\"f\":0.25}\n", i,
                 i % 10 == 9 ? "null" : "\"v\\\"q\"");
        const char *p = strstr(cap.lines[i], ",\"i\":");
        assert_non_null(p);
        assert_string_equal(p, want);
    }
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&cap);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compact_calls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_macros.c - the logging macros as ISO C: built with -pedantic-errors (tests/CMakeLists.txt),
 * so a call without fields (`sky_info(log, "x")`), which C11 only allows because the event name
 * is part of the macros' `...`, would not compile if the macros needed an empty `...`. Also
 * checks that the zero field ending the macros' array is never counted as a field.
 */
#include "skytest.h"

#include <stdio.h>
#include <string.h>

static void test_calls_without_fields(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = NULL;
    assert_int_equal(sky_open(&(sky_options){.mode = SKY_MODE_SYNC, .level = SKY_LEVEL_TRACE,
                                             .level_set = true},
                              &sky),
                     SKY_OK);
    assert_int_equal(sky_add_sink(sky, skytest_capture_sink(&cap, SKY_FORMAT_JSON), NULL), SKY_OK);
    sky_logger *log = sky_logger_get(sky, "m");
    sky_trace(log, "t");
    sky_debug(log, "d");
    sky_info(log, "i");
    sky_warn(log, "w");
    sky_error(log, "e");
    sky_critical(log, "c");
    sky_level lv = SKY_LEVEL_WARN;
    sky_log(log, lv, "v");
    assert_int_equal(cap.n, 7);
    const char *names[] = {"t", "d", "i", "w", "e", "c", "v"};
    for (size_t k = 0; k < 7; k++) {
        char want[64];
        snprintf(want, sizeof want, "\"message\":\"%s\"", names[k]);
        assert_non_null(strstr(cap.lines[k], want));
        /* no field after the callsite's: the line ends with its "line" key */
        assert_non_null(strstr(cap.lines[k], "\"line\":"));
        assert_null(strstr(strstr(cap.lines[k], "\"line\":"), ",\""));
    }
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&cap);
}

static void test_fields_after_the_name(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = NULL;
    assert_int_equal(sky_open(&(sky_options){.mode = SKY_MODE_ASYNC}, &sky), SKY_OK);
    assert_int_equal(sky_add_sink(sky, skytest_capture_sink(&cap, SKY_FORMAT_JSON), NULL), SKY_OK);
    sky_logger *log = sky_logger_get(sky, "m");
    for (int i = 0; i < 3; i++) { /* three calls: the site's schema path from the second on */
        sky_info(log, "one", SKY_INT("a", i));
        /* a field written as a compound literal: its commas are inside braces */
        sky_info(log, "two", SKY_INT("a", i),
                 (sky_field){.key = "b", .key_len = 1, .type = SKY_T_BOOL, .v = {.b = true}});
    }
    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    assert_int_equal(cap.n, 6);
    for (int i = 0; i < 3; i++) {
        char want[64];
        snprintf(want, sizeof want, "\"message\":\"one\"");
        assert_non_null(strstr(cap.lines[2 * i], want));
        snprintf(want, sizeof want, ",\"a\":%d}\n", i);
        assert_non_null(strstr(cap.lines[2 * i], want));
        snprintf(want, sizeof want, ",\"a\":%d,\"b\":true}\n", i);
        assert_non_null(strstr(cap.lines[2 * i + 1], want));
    }
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&cap);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calls_without_fields),
        cmocka_unit_test(test_fields_after_the_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_filter_pattern.c - unit tests for server/filter_pattern.c (CloudWatch filter patterns
 * of `skylog serve`). The server is not a library, so its source is compiled into this test
 * directly; FilterLogEvents end to end is covered by tests/integration/test_serve_logs.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../server/filter_pattern.c"

static bool m(const char *pattern, const char *msg)
{
    const char *why = NULL;
    sky__pattern *p = sky__pattern_compile(pattern, &why);
    if (!p)
        fail_msg("pattern '%s' did not compile: %s", pattern, why);
    bool r = sky__pattern_match(p, msg, strlen(msg));
    sky__pattern_free(p);
    return r;
}

static bool compiles(const char *pattern)
{
    const char *why = NULL;
    sky__pattern *p = sky__pattern_compile(pattern, &why);
    if (!p)
        assert_non_null(why);
    sky__pattern_free(p);
    return p != NULL;
}

static void test_terms(void **state)
{
    (void)state;
    assert_true(m("", "anything"));
    assert_true(m("   ", "anything"));
    assert_true(m("ERROR", "an ERROR here"));
    assert_false(m("ERROR", "an error here")); /* case-sensitive */
    assert_true(m("ERROR disk", "disk ERROR"));
    assert_false(m("ERROR disk", "ERROR net"));
    assert_true(m("\"disk full\"", "the disk full now"));
    assert_false(m("\"disk full\"", "full disk"));
    assert_true(m("ERROR -DEBUG", "ERROR x"));
    assert_false(m("ERROR -DEBUG", "ERROR DEBUG"));
    assert_false(m("-\"x y\"", "a x y b"));
    assert_true(m("?WARN ?ERROR", "WARN"));
    assert_true(m("?WARN ?ERROR", "ERROR"));
    assert_false(m("?WARN ?ERROR", "INFO"));
    assert_true(m("db ?WARN ?ERROR", "db ERROR"));
    assert_false(m("db ?WARN ?ERROR", "net ERROR"));
}

static void test_json(void **state)
{
    (void)state;
    const char *ev = "{\"level\":\"ERROR\",\"ms\":150,\"user\":{\"id\":\"u-42\"},"
                     "\"tags\":[\"a\",\"b\"],\"ok\":false,\"none\":null,\"f\":1.5}";
    assert_true(m("{ $.level = \"ERROR\" }", ev));
    assert_true(m("{$.level=ERROR}", ev));
    assert_false(m("{ $.level = \"WARN\" }", ev));
    assert_true(m("{ $.level != \"WARN\" }", ev));
    assert_true(m("{ $.ms > 100 }", ev));
    assert_false(m("{ $.ms < 100 }", ev));
    assert_true(m("{ $.ms >= 150 && $.ms <= 150 }", ev));
    assert_true(m("{ $.ms = 150 }", ev));
    assert_true(m("{ $.f = 1.5 }", ev));
    assert_true(m("{ $.user.id = \"u-*\" }", ev));
    assert_true(m("{ $.user.id = *42 }", ev));
    assert_false(m("{ $.user.id = \"v-*\" }", ev));
    assert_true(m("{ $.tags[1] = \"b\" }", ev));
    assert_false(m("{ $.tags[2] = \"b\" }", ev));
    assert_true(m("{ $.ok IS FALSE }", ev));
    assert_true(m("{ $.none IS NULL }", ev));
    assert_true(m("{ $.missing NOT EXISTS }", ev));
    assert_false(m("{ $.level NOT EXISTS }", ev));
    assert_true(m("{ ($.level = \"WARN\" || $.ms > 100) && $.ok IS FALSE }", ev));
    assert_false(m("{ $.level = \"WARN\" || ($.ms > 100 && $.ok IS TRUE) }", ev));
    assert_false(m("{ $.ms > 100 }", "not json"));
    assert_false(m("{ $.ms > 100 }", "[1,2]"));
    assert_false(m("{ $.level > 1 }", ev)); /* numeric comparison of a string */
}

static void test_invalid(void **state)
{
    (void)state;
    assert_false(compiles("{ $.a = }"));
    assert_false(compiles("{ a = 1 }"));
    assert_false(compiles("{ $.a > \"x\" }"));
    assert_false(compiles("{ $.a = 1"));
    assert_false(compiles("{ ($.a = 1 }"));
    assert_false(compiles("{ $.a = 1 extra }"));
    assert_false(compiles("[ip, user]"));
    assert_false(compiles("\"unterminated"));
    assert_true(compiles("{ $.a = 1 }"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_terms),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

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
#include "../../server/jsonbody.c"
#include "../../server/reply.c"

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

/* Patterns as one hostile request sent them (50,000 nested parentheses, a 300,000-term &&
 * chain): each recursed once per level and overflowed the stack. Now refused with a reason, at
 * any length, and the limits leave every real pattern alone. */
static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
    size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
    char *s = malloc(hl + ul * n + tl + 1);
    assert_non_null(s);
    memcpy(s, head, hl);
    for (size_t i = 0; i < n; i++)
        memcpy(s + hl + i * ul, unit, ul);
    memcpy(s + hl + ul * n, tail, tl + 1);
    return s;
}

static void refused(const char *pattern, const char *reason_part)
{
    const char *why = NULL;
    sky__pattern *p = sky__pattern_compile(pattern, &why);
    assert_null(p);
    assert_non_null(why);
    if (!strstr(why, reason_part))
        fail_msg("reason '%s' does not mention '%s'", why, reason_part);
}

static void test_limits(void **state)
{
    (void)state;
    char *deep = repeat("{ ", "(", 50000, "$.a = 1 }");
    refused(deep, "1024");
    free(deep);
    char *chain = repeat("{ $.a = 1", " && $.a = 1", 300000, " }");
    refused(chain, "1024");
    free(chain);
    /* within 1,024 characters, still bounded */
    char *parens = malloc(1100);
    assert_non_null(parens);
    snprintf(parens, 1100, "{ %s$.a = 1%s }", "((((((((((((((((((((((((((((((((((", /* 34 */
             "))))))))))))))))))))))))))))))))))");
    refused(parens, "nested");
    free(parens);
    assert_true(m("{ ((((((((((((((((((((((((((((((($.a = 1))))))))))))))))))))))))))))))) }",
                  "{\"a\":1}")); /* 31 levels */
    /* the longest pattern allowed: 1,024 characters, 146 comparisons */
    char *many = repeat("{ $.a=1", "||$.a=1", 145, " }");
    assert_int_equal(strlen(many), SKY__PATTERN_MAX_LEN);
    const char *why = NULL;
    sky__pattern *p = sky__pattern_compile(many, &why);
    assert_non_null(p);
    assert_true(sky__pattern_match(p, "{\"a\":1}", 7));
    assert_false(sky__pattern_match(p, "{\"a\":2}", 7));
    sky__pattern_free(p);
    free(many);
    char *long_terms = repeat("", "x", SKY__PATTERN_MAX_LEN + 1, "");
    refused(long_terms, "1024");
    free(long_terms);
}

/* '*' wildcards, including the shapes a backtracking matcher took quadratic time on. */
static void test_wildcards(void **state)
{
    (void)state;
    static const struct {
        const char *pat, *text;
        bool match;
    } cases[] = {
        {"abc", "abc", true},     {"abc", "abcd", false},   {"*", "", true},
        {"*", "anything", true},  {"a*", "abc", true},      {"a*", "ba", false},
        {"*c", "abc", true},      {"*c", "cb", false},      {"a*c", "ac", true},
        {"a*c", "abbbc", true},   {"a*c", "abcb", false},   {"ab*bc", "abc", false},
        {"ab*bc", "abbc", true},  {"*a*b*", "xaxbx", true}, {"*a*b*", "xbxax", false},
        {"**a**", "a", true},     {"a*b*a", "aba", true},   {"a*b*a", "ab", false},
        {"*aa*aa", "aaaa", true}, {"*aa*aa", "aaa", false}, {"", "", true},
        {"", "x", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (glob_match(cases[i].pat, cases[i].text, strlen(cases[i].text)) != cases[i].match)
            fail_msg("'%s' against '%s' should be %d", cases[i].pat, cases[i].text,
                     cases[i].match);
    size_t n = 1 << 20;
    char *a = malloc(n + 1);
    assert_non_null(a);
    memset(a, 'a', n);
    a[n] = '\0';
    char *pat = repeat("", "*a", 500, "*b");
    assert_false(glob_match(pat, a, n));
    a[n - 1] = 'b';
    assert_true(glob_match(pat, a, n));
    free(pat);
    free(a);
}

/* A JSON pattern parses each message: a message too deep or too large to parse within the
 * server's JSON limits simply does not match (it must not crash or allocate without bound). */
static void test_bounded_messages(void **state)
{
    (void)state;
    char *deep = repeat("", "[", 100000, "");
    assert_false(m("{ $.a = 1 }", deep));
    free(deep);
    char *nested = repeat("{\"a\":1,\"b\":", "[", 70, "]");
    assert_false(m("{ $.a = 1 }", nested));
    free(nested);
    assert_true(m("{ $.a = 1 }", "{\"a\":1,\"b\":[[[[[[[[[[1]]]]]]]]]]}"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_terms),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_bounded_messages),
        cmocka_unit_test(test_wildcards),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

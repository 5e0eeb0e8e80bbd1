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
#include "../../server/filter_regex.c"
#include "../../server/jsonbody.c"
#include "../../server/reply.c"

static bool m(const char *pattern, const char *msg)
{
    char why[400] = "";
    sky__pattern *p = sky__pattern_compile(pattern, why, sizeof why);
    if (!p)
        fail_msg("pattern '%s' did not compile: %s", pattern, why);
    bool r = sky__pattern_match(p, msg, strlen(msg));
    sky__pattern_free(p);
    return r;
}

static bool compiles(const char *pattern)
{
    char why[400] = "";
    sky__pattern *p = sky__pattern_compile(pattern, why, sizeof why);
    if (!p)
        assert_true(why[0] != '\0');
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
}

/* The examples of CloudWatch's guide ("OR pattern matching", FilterAndPatternSyntax): of the
 * three events, ERROR matches 1 and 2, ?ERROR ?WARN all three, ERROR WARN only 1, ERROR -WARN
 * only 2. */
static void test_terms_or_guide(void **state)
{
    (void)state;
    const char *ev[] = {"ERROR WARN message", "ERROR message", "WARN message"};
    struct {
        const char *pattern;
        bool want[3];
    } cases[] = {
        {"ERROR", {true, true, false}},
        {"?ERROR ?WARN", {true, true, true}},
        {"ERROR WARN", {true, false, false}},
        {"ERROR -WARN", {false, true, false}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (size_t e = 0; e < 3; e++)
            if (m(cases[c].pattern, ev[e]) != cases[c].want[e])
                fail_msg("'%s' on '%s': expected %s", cases[c].pattern, ev[e],
                         cases[c].want[e] ? "a match" : "no match");
}

/* Plain terms after a ?term join its group, as AWS's CDK builds anyTermGroup: "lines that
 * either contain both ERROR and MainThread, or both WARN and Deadlock" is
 * ?"ERROR" "MainThread" ?"WARN" "Deadlock" (and its test: ?"foo" "bar" ?"baz"). A ?term is
 * not an "any of" added to required terms: a group alone is enough. */
static void test_terms_groups(void **state)
{
    (void)state;
    const char *cdk = "?\"ERROR\" \"MainThread\" ?\"WARN\" \"Deadlock\"";
    assert_true(m(cdk, "ERROR in MainThread"));
    assert_true(m(cdk, "WARN Deadlock detected"));
    assert_false(m(cdk, "ERROR in worker-3"));     /* ERROR's group needs MainThread */
    assert_false(m(cdk, "WARN slow, MainThread")); /* WARN's needs Deadlock */
    assert_true(m(cdk, "WARN Deadlock; ERROR"));
    assert_true(m("?\"foo\" \"bar\" ?\"baz\"", "baz"));
    assert_true(m("?\"foo\" \"bar\" ?\"baz\"", "foo bar"));
    assert_false(m("?\"foo\" \"bar\" ?\"baz\"", "foo"));
    /* Exclusions belong to their group too. */
    assert_true(m("?ERROR -retry ?FATAL", "ERROR"));
    assert_false(m("?ERROR -retry ?FATAL", "ERROR, retry"));
    assert_true(m("?ERROR -retry ?FATAL", "FATAL after retry"));
    /* Terms before the first ?term are a group of their own. */
    assert_true(m("db ?WARN ?ERROR", "db up"));
    assert_true(m("db ?WARN ?ERROR", "net ERROR"));
    assert_false(m("db ?WARN ?ERROR", "net INFO"));
    assert_true(m("db disk ?ERROR", "db disk"));
    assert_false(m("db disk ?WARN", "db net"));
    /* A quoted ?"phrase" is one term. */
    assert_true(m("?\"disk full\" ?OOM", "the disk full now"));
    assert_false(m("?\"disk full\" ?OOM", "full disk"));
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
    assert_false(compiles("[ip, user"));
    assert_false(compiles("[]"));
    assert_false(compiles("[a, , b]"));
    assert_false(compiles("[a, a]"));              /* a name twice */
    assert_false(compiles("[a > x]"));             /* numeric operator, string value */
    assert_false(compiles("[a = 1 || b = 2]"));    /* a condition on another field */
    assert_false(compiles("[a b]"));
    assert_false(compiles("ERROR %x%"));           /* a regex among terms */
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
    char why[400] = "";
    sky__pattern *p = sky__pattern_compile(pattern, why, sizeof why);
    assert_null(p);
    assert_true(why[0] != '\0');
    if (!strstr(why, reason_part))
        fail_msg("reason '%s' does not mention '%s'", why, reason_part);
}

/* The JSON examples of CloudWatch's guide ("Matching terms in JSON log events"), on its own
 * two events: each documented filter, and each compound condition with its stated result. */
static const char *GUIDE_EVENT =
    "{\"eventType\": \"UpdateTrail\", \"sourceIPAddress\": \"111.111.111.111\","
    " \"arrayKey\": [\"value\", \"another value\"],"
    " \"objectList\": [{\"name\": \"a\", \"id\": 1}, {\"name\": \"b\", \"id\": 2}],"
    " \"SomeObject\": null, \"ThisFlag\": true}";
static const char *GUIDE_USERS =
    "{\"user\": {\"id\": 1, \"email\": \"John.Stiles@example.com\"},"
    " \"users\": [{\"id\": 2, \"email\": \"John.Doe@example.com\"},"
    " {\"id\": 3, \"email\": \"Jane.Doe@example.com\"}],"
    " \"actions\": [\"GET\", \"PUT\", \"DELETE\"],"
    " \"coordinates\": [[0, 1, 2], [4, 5, 6], [7, 8, 9]]}";

static void test_json_guide(void **state)
{
    (void)state;
    assert_true(m("{ $.eventType = \"UpdateTrail\" }", GUIDE_EVENT));
    assert_true(m("{ $.sourceIPAddress != 123.123.* }", GUIDE_EVENT));
    assert_true(m("{ $.arrayKey[0] = \"value\" }", GUIDE_EVENT));
    assert_true(m("{ $.objectList[1].id = 2 }", GUIDE_EVENT));
    assert_true(m("{ $.SomeObject IS NULL }", GUIDE_EVENT));
    assert_true(m("{ $.SomeOtherObject NOT EXISTS }", GUIDE_EVENT));
    assert_true(m("{ $.ThisFlag IS TRUE }", GUIDE_EVENT));
    assert_true(m("{ ($.user.id = 1) && ($.users[0].email = \"John.Doe@example.com\") }",
                  GUIDE_USERS));
    assert_false(m("{ ($.user.id = 2 && $.users[0].email = \"nonmatch\") || "
                   "$.actions[2] = \"GET\" }",
                   GUIDE_USERS));
    assert_true(m("{ $.user.email = \"John.Stiles@example.com\" || "
                  "$.coordinates[0][1] = nonmatch && $.actions[2] = nomatch }",
                  GUIDE_USERS));
    assert_false(m("{ ($.user.email = \"John.Stiles@example.com\" || "
                   "$.coordinates[0][1] = nonmatch) && $.actions[2] = nomatch }",
                   GUIDE_USERS));
    /* "The SELECTOR must point to a value node": neither = nor != matches an array. */
    assert_false(m("{ $.users = 1 }", "{\"users\": [1, 2, 3]}"));
    assert_false(m("{ $.users != 1 }", "{\"users\": [1, 2, 3]}"));
}

/* Wildcards ([*] and .*) select every element or member; the comparison holds when it holds
 * for one of them. Bracketed names select members whose names a .name cannot write. */
static void test_json_selectors(void **state)
{
    (void)state;
    assert_true(m("{ $.arrayKey[*] = \"another value\" }", GUIDE_EVENT));
    assert_false(m("{ $.arrayKey[*] = \"third\" }", GUIDE_EVENT));
    assert_true(m("{ $.objectList[*].id = 2 }", GUIDE_EVENT));
    assert_true(m("{ $.objectList[*].id > 1 }", GUIDE_EVENT));
    assert_false(m("{ $.objectList[*].id > 2 }", GUIDE_EVENT));
    assert_false(m("{ $.objectList[*].name = \"c\" }", GUIDE_EVENT));
    assert_true(m("{ $.objectList[*].name != \"a\" }", GUIDE_EVENT)); /* b differs */
    assert_true(m("{ $.* = \"UpdateTrail\" }", GUIDE_EVENT));
    assert_true(m("{ $.* IS TRUE }", GUIDE_EVENT));
    assert_true(m("{ $.* IS NULL }", GUIDE_EVENT));
    assert_false(m("{ $.* IS FALSE }", GUIDE_EVENT));
    assert_true(m("{ $.users[*].email = \"Jane.*\" }", GUIDE_USERS));
    assert_true(m("{ $.users.*.id = 3 }", GUIDE_USERS)); /* .* on an array: its elements */
    assert_true(m("{ $.coordinates[*][1] = 5 }", GUIDE_USERS));
    assert_false(m("{ $.coordinates[*][1] = 6 }", GUIDE_USERS));
    assert_true(m("{ $.coordinates[*][*] = 9 }", GUIDE_USERS));
    assert_true(m("{ $.*.id = 1 }", GUIDE_USERS));        /* user.id */
    assert_true(m("{ $.*[*].id = 3 }", GUIDE_USERS));     /* users[1].id */
    assert_false(m("{ $.*[*].id = 4 }", GUIDE_USERS));
    assert_true(m("{ $.actions[*] = %^DEL% }", GUIDE_USERS));
    assert_false(m("{ $.actions[*] = %^POST% }", GUIDE_USERS));
    /* NOT EXISTS: nothing selected; EXISTS: something. */
    assert_true(m("{ $.users[*].phone NOT EXISTS }", GUIDE_USERS));
    assert_false(m("{ $.users[*].email NOT EXISTS }", GUIDE_USERS));
    assert_true(m("{ $.empty[*] NOT EXISTS }", "{\"empty\": []}"));
    assert_true(m("{ $.empty.* NOT EXISTS }", "{\"empty\": {}}"));
    assert_false(m("{ $.a[*] = 1 }", "{\"a\": 1}")); /* a wildcard of a scalar selects nothing */
    /* Bracketed names: dots, spaces, brackets, the other quote. */
    const char *dotted = "{\"a.b\": 1, \"a\": {\"b\": 2}, \"x y\": \"z\", \"q'\": true,"
                         " \"k]\": [5], \"o\": {\"c.d\": \"e\"}}";
    assert_true(m("{ $.['a.b'] = 1 }", dotted));
    assert_true(m("{ $['a.b'] = 1 }", dotted));
    assert_true(m("{ $.[\"a.b\"] = 1 }", dotted));
    assert_true(m("{ $.a.b = 2 }", dotted));
    assert_true(m("{ $.['x y'] = z }", dotted));
    assert_true(m("{ $.[\"q'\"] IS TRUE }", dotted));
    assert_true(m("{ $.['k]'][0] = 5 }", dotted));
    assert_true(m("{ $.o.['c.d'] = e }", dotted));
    assert_true(m("{ $.o['c.d'] = e }", dotted));
    assert_true(m("{ $.['o'].* = e }", dotted));
    assert_false(m("{ $.['a.c'] = 1 }", dotted));
    /* A literal key named * is still reachable, quoted. */
    assert_true(m("{ $.['*'] = 1 }", "{\"*\": 1, \"b\": 2}"));
    assert_false(m("{ $.['*'] = 2 }", "{\"*\": 1, \"b\": 2}"));
    assert_true(m("{ $.* = 2 }", "{\"*\": 1, \"b\": 2}"));
}

static void test_json_selector_limits(void **state)
{
    (void)state;
    refused("{ $.['a.b = 1 }", "unterminated quoted name");
    refused("{ $.[''] = 1 }", "empty key");
    refused("{ $.['a'b] = 1 }", "expected ]");
    refused("{ $.a[x] = 1 }", "bad array index");
    refused("{ $.a[-1] = 1 }", "bad array index");
    refused("{ $.a[*x] = 1 }", "bad array index");
    /* 64 steps fit, 65 do not; a name of 256 bytes fits, 257 does not (either notation). */
    char *deep = repeat("{ $", ".a", 64, " = 1 }");
    assert_true(compiles(deep));
    free(deep);
    deep = repeat("{ $", "[*]", 65, " = 1 }");
    refused(deep, "more than 64 steps");
    free(deep);
    char *key = repeat("{ $.", "k", 256, " = 1 }");
    assert_true(compiles(key));
    free(key);
    key = repeat("{ $.", "k", 257, " = 1 }");
    refused(key, "longer than 256");
    free(key);
    key = repeat("{ $.['", "k", 257, "'] = 1 }");
    refused(key, "longer than 256");
    free(key);
    /* The deepest selector walks the deepest JSON the server parses (64 levels). */
    char *sel = repeat("{ $", "[*]", 63, " = 7 }");
    char *ev = repeat("{\"a\":", "[", 63, "7");
    size_t len = strlen(ev);
    ev = realloc(ev, len + 64 + 1);
    assert_non_null(ev);
    for (size_t i = 0; i < 63; i++)
        ev[len + i] = ']';
    strcpy(ev + len + 63, "}");
    char *sel2 = repeat("{ $.a", "[*]", 63, " = 7 }");
    assert_true(m(sel2, ev));
    assert_false(m(sel, ev));
    free(sel);
    free(sel2);
    free(ev);
    /* Metric values and dimensions take one value: a wildcard selector is not one. */
    assert_null(sky__selector_compile("$.a[*]"));
    assert_null(sky__selector_compile("$.*"));
    sky__selector *one = sky__selector_compile("$.['a.b']");
    assert_non_null(one);
    json_t *root = json_loads("{\"a.b\": 42}", 0, NULL);
    assert_int_equal(json_integer_value(sky__selector_get(one, root)), 42);
    json_decref(root);
    sky__selector_free(one);
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
    char why[400] = "";
    sky__pattern *p = sky__pattern_compile(many, why, sizeof why);
    assert_non_null(p);
    assert_true(sky__pattern_match(p, "{\"a\":1}", 7));
    assert_false(sky__pattern_match(p, "{\"a\":2}", 7));
    sky__pattern_free(p);
    free(many);
    char *long_terms = repeat("", "x", SKY__PATTERN_MAX_LEN + 1, "");
    refused(long_terms, "1024");
    free(long_terms);
}

/* Space-delimited patterns over an Apache access log line, as CloudWatch's documentation
 * writes them: fields split at spaces, "quoted" and [bracketed] text one field. */
static void test_space_delimited(void **state)
{
    (void)state;
    const char *ev = "127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] \"GET /apache_pb.gif "
                     "HTTP/1.0\" 404 1534";
    const char *all = "[ip, user, username, timestamp, request, status_code, bytes]";
    assert_true(m(all, ev));
    assert_false(m("[ip, user, username, timestamp, request, status_code]", ev)); /* 7 fields */
    assert_false(m("[ip, user, username, timestamp, request, status_code, bytes, x]", ev));
    assert_true(m("[ip, user, ..., status_code = 4*, bytes > 1000]", ev));
    assert_false(m("[ip, user, ..., status_code = 5*, bytes > 1000]", ev));
    assert_false(m("[ip, user, ..., status_code = 4*, bytes > 2000]", ev));
    assert_true(m("[ip, user, ..., status_code=404, bytes>=1534]", ev));
    assert_true(m("[ip, user, ..., status_code = 410 || status_code = 404, bytes]", ev));
    assert_false(m("[ip, user, ..., status_code = 4* && status_code != 404, bytes]", ev));
    assert_true(m("[..., request = \"*apache_pb*\", status_code, bytes]", ev));
    assert_true(m("[ip = 127.0.0.1, ...]", ev));    /* not a number: a string compare */
    assert_true(m("[..., timestamp = *2000*, ...]", ev));
    assert_true(m("[..., user=frank, ...]", ev));  /* a middle run, found at its place */
    assert_false(m("[..., user=alice, ...]", ev));
    assert_true(m("[...]", ev));
    assert_true(m("[...]", ""));
    assert_false(m("[a]", ""));
    assert_true(m("[a, ..., b, ..., c]", "1 2 3"));
    assert_false(m("[a, ..., b, ..., c]", "1 3"));
    assert_true(m("[..., x = 1, y = 2, ...]", "1 1 2 1 2"));
    assert_true(m("[..., x = 1, ..., y = 2]", "2 1 2"));
    assert_false(m("[..., x = 2, ..., y = 1]", "2 1 2"));
    assert_true(m("[a, b]", "  x   y  "));          /* runs of spaces are one separator */
    assert_true(m("[a, b < -1.5]", "x -2"));
    assert_false(m("[a, b < -1.5]", "x y"));         /* numeric compare of a non-number */
    assert_true(m("[a, b != 3]", "x y"));
    assert_true(m("[a, b]", "x \"unterminated y z"));

    /* what each named field took, as TestMetricFilter and metric filters read them */
    char why[400] = "";
    sky__pattern *p = sky__pattern_compile("[ip, ..., status, size]", why, sizeof why);
    assert_non_null(p);
    assert_int_equal(sky__pattern_n_fields(p), 3);
    assert_int_equal(sky__pattern_field_index(p, "$status"), 1);
    assert_int_equal(sky__pattern_field_index(p, "status"), -1);
    assert_int_equal(sky__pattern_field_index(p, "$nope"), -1);
    assert_string_equal(sky__pattern_field_name(p, 2), "size");
    sky__field f[3];
    assert_true(sky__pattern_match_fields(p, ev, strlen(ev), f));
    assert_int_equal(f[0].len, 9);
    assert_memory_equal(f[0].ptr, "127.0.0.1", 9);
    assert_memory_equal(f[1].ptr, "404", 3);
    assert_memory_equal(f[2].ptr, "1534", 4);
    sky__pattern_free(p);
    p = sky__pattern_compile("[a, t, r]", why, sizeof why);
    assert_non_null(p);
    const char *ev2 = "x [a b] \"c d\"";
    assert_true(sky__pattern_match_fields(p, ev2, strlen(ev2), f));
    assert_int_equal(f[1].len, 3);
    assert_memory_equal(f[1].ptr, "a b", 3);
    assert_memory_equal(f[2].ptr, "c d", 3);
    sky__pattern_free(p);
    /* other kinds have no fields, and match as before */
    p = sky__pattern_compile("ERROR", why, sizeof why);
    assert_int_equal(sky__pattern_n_fields(p), 0);
    assert_true(sky__pattern_match_fields(p, "an ERROR", 8, NULL));
    sky__pattern_free(p);
}

/* %regex% as CloudWatch places it: the whole pattern, or a value in a JSON or space-delimited
 * pattern (its documented examples), at most 2 of them there. */
static void test_regex(void **state)
{
    (void)state;
    assert_true(m("%AUTHORIZED%", "[ERROR 401] UNAUTHORIZED REQUEST"));
    assert_true(m("  %^starting|^initializing|^shutting down%  ", "shutting down now"));
    assert_false(m("%^starting|^initializing|^shutting down%", "skipping initializing ..."));
    assert_false(m("%ERROR%", "error")); /* case-sensitive */
    const char *trail = "{\"eventType\":\"UpdateTrail\",\"arrayKey\":[\"value\",\"another value\"],"
                        "\"sourceIPAddress\":\"111.111.111.111\",\"latency\":1234}";
    assert_true(m("{ $.eventType = %Trail% }", trail));
    assert_false(m("{ $.eventType = %^Trail% }", trail));
    assert_true(m("{ $.eventType != %^Trail% }", trail));
    assert_false(m("{ $.eventType != %Trail% }", trail));
    assert_true(m("{ $.arrayKey[0] = %val.{2}% }", trail));
    assert_true(m("{ $.sourceIPAddress = %111\\.111\\.111\\.1[0-9]{1,2}% }", trail));
    assert_true(m("{ $.latency = %^1\\d{3}$% }", trail)); /* a number, as its text */
    assert_false(m("{ $.missing = %x% }", trail));
    /* a regex may hold what ends other values: } | ] , and spaces */
    assert_true(m("{ $.eventType = %Trail$|^x{1,2}% && $.latency > 1 }", trail));
    assert_true(m("{ ($.eventType = %Update[A-Z] %) || $.latency = 1234 }", trail));
    const char *ev = "127.0.0.1 Prod frank [10/Oct/2000:13:25:15 -0700] \"GET /index.html "
                     "HTTP/1.0\" 404 1534";
    assert_true(m("[ip=%127\\.0\\.0\\.[1-9]%, user, username, timestamp, request =*.html*, "
                  "status_code = 4*, bytes]",
                  ev));
    assert_false(m("[ip=%^127\\.0\\.0\\.[2-9]%, ...]", ev));
    assert_true(m("[ip, ..., status_code = %^4\\d{2}$% || status_code = 500, bytes]", ev));
    assert_true(m("[ip != %^10\\.%, ...]", ev));
    const char *svc = "INFO 09/25/2014 12:00:00 GET /service/resource/67 1200";
    const char *part = "INFO 09/25/2014 12:00:01 POST /service/resource/67/part/111 1310";
    const char *top = "[logLevel, date, time, method, url=%/service/resource/[0-9]+$%, "
                      "response_time]";
    const char *child = "[logLevel, date, time, method, url=%/service/resource/[0-9]+/part/"
                        "[0-9]+$%, response_time]";
    assert_true(m(top, svc));
    assert_false(m(top, part));
    assert_true(m(child, part));
    assert_false(m(child, svc));

    char why[400];
    sky__pattern *p = sky__pattern_compile("{ $.a = %x% || $.b = %y% }", why, sizeof why);
    assert_non_null(p);
    assert_int_equal(sky__pattern_n_regex(p), 2);
    assert_true(sky__pattern_cost(p) > 2); /* each program's size counts */
    sky__pattern_free(p);
    p = sky__pattern_compile("%a{500}%", why, sizeof why);
    assert_non_null(p);
    assert_true(sky__pattern_cost(p) >= 500);
    assert_int_equal(sky__pattern_n_regex(p), 1);
    sky__pattern_free(p);
    p = sky__pattern_compile("{ $.a = \"%x%\" }", why, sizeof why); /* quoted: literal text */
    assert_non_null(p);
    assert_int_equal(sky__pattern_n_regex(p), 0);
    assert_true(sky__pattern_match(p, "{\"a\":\"%x%\"}", 11));
    sky__pattern_free(p);

    refused("{ $.a = %x% && $.b = %y% && $.c = %z% }", "at most 2 regular expressions");
    refused("[a=%1%, b=%2%, c=%3%]", "at most 2 regular expressions");
    refused("ERROR %x%", "cannot be combined with terms");
    refused("?%x% ?%y%", "cannot be combined with terms");
    refused("%something!%", "Invalid character(s) in term '%something!%'");
    refused("{ $.a = %(x)% }", "Invalid character(s) in term '%(x)%'");
    refused("[a=%x\\1%]", "backreferences");
    refused("{ $.a = %x }", "not closed with %");
    refused("{ $.a > %1% }", "= or != only");
    refused("%%", "empty");
    refused("%a% %b%", "'%'");
}

/* Space-delimited matching is fields x slots without backtracking: a message of 500,000
 * fields against runs that almost match everywhere ends, and the limits hold. */
static void test_space_bounded(void **state)
{
    (void)state;
    char *msg = repeat("", "1 ", 500000, "2");
    assert_true(m("[..., a = 1, b = 1, c = 2]", msg));
    assert_true(m("[..., a = 1, b = 1, c = 1, ..., d = 2]", msg));
    assert_false(m("[..., a = 1, b = 2, c = 1, ...]", msg));
    free(msg);
    char *many = repeat("[a0", ",...", 300, "]");
    refused(many, "1024");
    free(many);
    char *slots = malloc(1100);
    assert_non_null(slots);
    strcpy(slots, "["); /* 300 fields of two-letter names: 901 characters */
    for (int i = 0; i < 300; i++)
        snprintf(slots + strlen(slots), 8, "%c%c,", 'a' + i / 26, 'a' + i % 26);
    slots[strlen(slots) - 1] = ']';
    refused(slots, "256");
    free(slots);
    char *conds = repeat("[a = 1", " || a = 1", 110, "]");
    assert_true(strlen(conds) <= SKY__PATTERN_MAX_LEN);
    assert_true(m(conds, "1"));
    free(conds);
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
        cmocka_unit_test(test_terms_or_guide),
        cmocka_unit_test(test_terms_groups),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_json_guide),
        cmocka_unit_test(test_json_selectors),
        cmocka_unit_test(test_json_selector_limits),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_bounded_messages),
        cmocka_unit_test(test_wildcards),
        cmocka_unit_test(test_space_delimited),
        cmocka_unit_test(test_space_bounded),
        cmocka_unit_test(test_regex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

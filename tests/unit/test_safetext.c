/*
 * test_safetext.c - the rule every `skylog` command prints untrusted text by (cli/safetext.c,
 * docs/CLI.md "Untrusted text in the output"): what is escaped for people, what JSON keeps
 * exact, how CSV quotes (RFC 4180), and that no output of any of them holds a byte that could
 * drive a terminal. The CLI is not a library, so its sources are compiled in directly; the
 * commands' own output is checked end to end by tests/integration/test_cli_untrusted.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../cli/safetext.c"
#include "../../cli/table.c"

static char *capture(void (*fn)(FILE *, const void *), const void *arg)
{
    char *p = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&p, &n);
    assert_non_null(f);
    fn(f, arg);
    assert_int_equal(fclose(f), 0);
    return p;
}

static void put_people(FILE *f, const void *s) { sky__safe_put(f, s); }
static void put_csv(FILE *f, const void *s) { sky__csv_put(f, s); }
static void put_json(FILE *f, const void *s)
{
    json_t *v = json_string(s);
    assert_non_null(v);
    assert_true(sky__json_put(f, v, JSON_COMPACT));
    json_decref(v);
}

/* No byte a terminal acts on: C0 but LF (and TAB, CR where allowed), DEL, and no UTF-8
 * encoded C1 control or bidi override. */
static void assert_inert(const char *out, bool lf_ok, bool tab_ok)
{
    for (const unsigned char *p = (const unsigned char *)out; *p; p++) {
        if (*p == '\n' && lf_ok)
            continue;
        if (*p == '\t' && tab_ok)
            continue;
        assert_true(*p >= 0x20 && *p != 0x7f);
        if (p[0] == 0xc2)
            assert_false(p[1] >= 0x80 && p[1] <= 0x9f);
        if (p[0] == 0xe2 && p[1] == 0x80)
            assert_false(p[2] >= 0xaa && p[2] <= 0xae);
    }
}

/* The attacks: CSI (colour, cursor up, clear screen), OSC (window title, hyperlink) ended by
 * BEL or ST, a bare CR that rewrites the line, C1 CSI as UTF-8, bidi overrides. */
static const char *const hostile[] = {
    "\x1b[31mred\x1b[0m",
    "ok\x1b[2J\x1b[H",
    "x\x1b[1A\x1b[2Kfake line",
    "\x1b]0;pwned\x07",
    "\x1b]8;;http://evil/\x1b\\link\x1b]8;;\x1b\\",
    "bell\x07",
    "real\rfake",
    "c1 \xc2\x9b" "31m",
    "bidi \xe2\x80\xae" "gnp.exe",
    "bad \xff\xfe utf8 \xc0\xaf \xed\xa0\x80",
};

static void test_people(void **state)
{
    (void)state;
    struct {
        const char *in, *out;
    } cases[] = {
        {"plain text", "plain text"},
        {"line1\nline2\r\n\tend", "line1\\nline2\\r\\n\\tend"},
        {"\x1b[31mred\x1b[0m", "\\u001b[31mred\\u001b[0m"},
        {"\x1b]0;title\x07", "\\u001b]0;title\\u0007"},
        {"del\x7f", "del\\u007f"},
        {"c1 \xc2\x9b", "c1 \\u009b"},
        {"rlo \xe2\x80\xae x \xe2\x81\xa6", "rlo \\u202e x \\u2066"},
        {"ls \xe2\x80\xa8", "ls \\u2028"},
        {"\xff\xc3", "\\xff\\xc3"},          /* invalid, and a truncated sequence */
        {"\xc0\xaf", "\\xc0\\xaf"},          /* overlong '/' */
        {"\xed\xa0\x80", "\\xed\\xa0\\x80"}, /* a surrogate */
        {"\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"}, /* above U+10FFFF */
        {"caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80"},
        {"back\\slash", "back\\slash"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = capture(put_people, cases[i].in);
        assert_string_equal(got, cases[i].out);
        char *dup = sky__safe_dup(cases[i].in);
        assert_string_equal(dup, cases[i].out);
        free(dup);
        free(got);
    }
    /* columns: what a terminal gives each character written (escapes are ASCII) */
    assert_int_equal(sky__safe_width("caf\xc3\xa9"), 4);
    assert_int_equal(sky__safe_width("\x1b"), 6);
    assert_int_equal(sky__safe_width(NULL), 0);
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        char *got = capture(put_people, hostile[i]);
        assert_inert(got, false, false);
        assert_int_equal(sky__safe_width(hostile[i]), strlen(got)); /* escapes are ASCII */
        free(got);
    }
}

static void test_json_is_exact_and_inert(void **state)
{
    (void)state;
    const char *texts[] = {"\x1b[31mred", "del\x7f", "c1 \xc2\x9b", "rlo \xe2\x80\xae",
                           "tab\tnl\ncr\r", "caf\xc3\xa9 \"q\" \\"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        char *got = capture(put_json, texts[i]);
        assert_inert(got, true, false);
        assert_int_equal(got[strlen(got) - 1], '\n');
        json_t *back = json_loads(got, JSON_DECODE_ANY, NULL);
        assert_non_null(back);
        assert_string_equal(json_string_value(back), texts[i]);
        json_decref(back);
        free(got);
    }
    char *got = capture(put_json, "c1 \xc2\x9b del\x7f");
    assert_string_equal(got, "\"c1 \\u009B del\\u007F\"\n");
    free(got);
}

static void test_csv(void **state)
{
    (void)state;
    struct {
        const char *in, *out;
    } cases[] = {
        {"plain", "plain"},
        {"", ""},
        {"a,b", "\"a,b\""},
        {"say \"hi\"", "\"say \"\"hi\"\"\""},
        {"\"", "\"\"\"\""},
        {"two\nlines", "\"two\nlines\""},
        {"tab\there", "tab\there"},
        {"crlf\r\n", "\"crlf\\r\n\""},
        {"\x1b[31m,x", "\"\\u001b[31m,x\""},
        {"\x1b]0;t\x07", "\\u001b]0;t\\u0007"},
        {"bad\xff", "bad\\xff"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = capture(put_csv, cases[i].in);
        assert_string_equal(got, cases[i].out);
        assert_inert(got, true, true);
        free(got);
    }
}

static void test_printf_keeps_only_the_final_newline(void **state)
{
    (void)state;
    char *p = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&p, &n);
    sky__safe_printf(f, "skylog x: %s: %s\n", "Code", "msg\n\x1b[2Jmore");
    char big[2000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    big[1000] = '\x1b';
    sky__safe_printf(f, "%s", big); /* longer than the stack buffer, no newline */
    fclose(f);
    assert_true(strncmp(p, "skylog x: Code: msg\\n\\u001b[2Jmore\n", 35) == 0);
    assert_int_equal(strlen(p), 35 + 1999 + 5);
    assert_inert(p, true, false);
    assert_int_equal(strchr(p, '\n') - p, 34); /* one newline: the message's own */
    free(p);
}

/* Wide and zero-width characters: the columns a terminal gives them (wcwidth), not one each. */
static void test_display_width(void **state)
{
    (void)state;
    assert_int_equal(sky__safe_width("\xe4\xb8\xad\xe6\x96\x87"), 4); /* 中文: wide */
    assert_int_equal(sky__safe_width("\xef\xbc\xa1"), 2);             /* Ａ: fullwidth */
    assert_int_equal(sky__safe_width("\xf0\x9f\x98\x80"), 2);         /* U+1F600 emoji */
    assert_int_equal(sky__safe_width("e\xcc\x81"), 1);                 /* e + U+0301 */
    assert_int_equal(sky__safe_width("a\xe2\x80\x8b" "b"), 2);          /* U+200B: none */
    assert_int_equal(sky__safe_width("\xce\xb1\xd0\xb6"), 2);         /* Greek, Cyrillic */
    /* escaped characters count as their escapes, whatever their own width */
    assert_int_equal(sky__safe_width("\xe2\x80\xae"), 6);             /* U+202E: \u202e */
    assert_int_equal(sky__safe_width("\xe4\xb8\xad\xff"), 2 + 4);     /* wide, then \xff */
    /* what safe_put returns is the same, and pad fills up to the columns asked for */
    char *p = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&p, &n);
    assert_non_null(f);
    assert_int_equal(sky__safe_put(f, "\xe4\xb8\xad"), 2);
    sky__safe_pad(f, "x\xcc\x81", 3);
    fputc('|', f);
    assert_int_equal(fclose(f), 0);
    assert_string_equal(p, "\xe4\xb8\xad" "x\xcc\x81  |");
    free(p);
}

static void wide_grid_print(FILE *f, const void *arg)
{
    (void)arg;
    sky__grid g;
    sky__grid_init(&g, 3);
    g.rule = true;
    sky__grid_add(&g, (const char *const[]){"NAME", "N", "NOTE"});
    sky__grid_add(&g, (const char *const[]){"\xe6\x9d\xb1\xe4\xba\xac", "7", "wide"});
    sky__grid_add(&g, (const char *const[]){"Cafe\xcc\x81", "12", "combining"});
    sky__grid_add(&g, (const char *const[]){"\xe2\x80\xaex", "3", "escaped"});
    assert_true(sky__grid_print(&g, f, SKY__OUT_TABLE));
    sky__grid_free(&g);
}

static void test_grid_display_width(void **state)
{
    (void)state;
    char *t = capture(wide_grid_print, NULL);
    /* 東京 takes 4 columns, Café (e + U+0301) 4, \u202ex 7: every second column starts at the
     * same terminal column */
    assert_string_equal(t, "NAME     N   NOTE\n"
                           "-------  --  ---------\n"
                           "\xe6\x9d\xb1\xe4\xba\xac      7  wide\n"
                           "Cafe\xcc\x81     12  combining\n"
                           "\\u202ex   3  escaped\n");
    assert_inert(t, true, false);
    free(t);
}

static void grid_print(FILE *f, const void *arg)
{
    const sky__out_fmt *fmt = arg;
    sky__grid g;
    sky__grid_init(&g, 3);
    g.rule = *fmt == SKY__OUT_TABLE;
    sky__grid_add(&g, (const char *const[]){"NAME", "N", "NOTE"});
    sky__grid_add(&g, (const char *const[]){"\x1b[31mred", "12", "a,\"b\"\nc"});
    sky__grid_add(&g, (const char *const[]){"caf\xc3\xa9", "\r\n5", "\x1b]0;t\x07"});
    assert_true(sky__grid_print(&g, f, *fmt));
    sky__grid_free(&g);
}

static void test_grid(void **state)
{
    (void)state;
    sky__out_fmt fmt = SKY__OUT_TABLE;
    char *t = capture(grid_print, &fmt);
    assert_string_equal(t, "NAME           N      NOTE\n"
                           "-------------  -----  ----------------\n"
                           "\\u001b[31mred     12  a,\"b\"\\nc\n"
                           "caf\xc3\xa9           \\r\\n5  \\u001b]0;t\\u0007\n");
    assert_inert(t, true, false);
    free(t);
    fmt = SKY__OUT_CSV;
    char *c = capture(grid_print, &fmt);
    assert_string_equal(c, "NAME,N,NOTE\n"
                           "\\u001b[31mred,12,\"a,\"\"b\"\"\nc\"\n"
                           "caf\xc3\xa9,\"\\r\n5\",\\u001b]0;t\\u0007\n");
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_people),
        cmocka_unit_test(test_json_is_exact_and_inert),
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_printf_keeps_only_the_final_newline),
        cmocka_unit_test(test_grid),
        cmocka_unit_test(test_display_width),
        cmocka_unit_test(test_grid_display_width),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

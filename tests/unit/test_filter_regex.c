/*
 * test_filter_regex.c - unit tests for server/filter_regex.c, the %regex% of CloudWatch filter
 * patterns: every construct CloudWatch documents (with its own examples from "Supported
 * regular expressions (regex) syntax"), every refusal, the limits, and expressions that take a
 * backtracking engine exponential time. The server is not a library, so the source is compiled
 * in; patterns that use a regex are tested in test_filter_pattern.c, and the whole against
 * Python's re through the AWS CLI and boto3 in tests/integration/test_serve_filter_regex.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../server/filter_regex.c"

static sky__fregex *compile(const char *re)
{
    char why[400] = "";
    sky__fregex *r = sky__fregex_compile(re, strlen(re), why, sizeof why);
    if (!r)
        fail_msg("'%s' did not compile: %s", re, why);
    return r;
}

static bool m(const char *re, const char *text)
{
    sky__fregex *r = compile(re);
    bool ok = sky__fregex_search(r, text, strlen(text));
    sky__fregex_free(r);
    return ok;
}

static void refused(const char *re, const char *reason_part)
{
    char why[400] = "";
    sky__fregex *r = sky__fregex_compile(re, strlen(re), why, sizeof why);
    if (r)
        fail_msg("'%s' compiled", re);
    if (!strstr(why, reason_part))
        fail_msg("'%s': reason '%s' does not mention '%s'", re, why, reason_part);
}

/* CloudWatch's own examples, each with what its documentation says it matches. */
static void test_documented_examples(void **state)
{
    (void)state;
    assert_true(m("AUTHORIZED", "[ERROR 401] UNAUTHORIZED REQUEST"));
    assert_true(m("AUTHORIZED", "[SUCCESS 200] AUTHORIZED REQUEST"));
    assert_true(m("^[hc]at", "hat trick"));
    assert_true(m("^[hc]at", "cat"));
    assert_false(m("^[hc]at", "a cat"));
    assert_true(m("[hc]at$", "a hat"));
    assert_false(m("[hc]at$", "hat trick"));
    assert_true(m("colou?r", "color"));
    assert_true(m("colou?r", "colour"));
    assert_false(m("colou?r", "colouur"));
    assert_true(m("[abc]", "b"));
    assert_false(m("[abc]", "d"));
    assert_true(m("[a-z]", "Q q"));
    assert_false(m("[a-z]", "QZ"));
    assert_true(m("[abcx-z]", "y"));
    assert_false(m("[abcx-z]", "w"));
    assert_true(m("^a{3,5}$", "aaa"));
    assert_true(m("^a{3,5}$", "aaaaa"));
    assert_false(m("^a{3,5}$", "aa"));
    assert_false(m("^a{3,5}$", "aaaaaa"));
    assert_true(m("gra|ey", "gray"));
    assert_true(m("gra|ey", "grey"));
    assert_true(m("^starting|^initializing|^shutting down", "starting ..."));
    assert_true(m("^starting|^initializing|^shutting down", "initializing ..."));
    assert_true(m("^starting|^initializing|^shutting down", "shutting down"));
    assert_false(m("^starting|^initializing|^shutting down", "skipping initializing ..."));
    assert_true(m("abcc|ab[^c]$", "abcc ..."));
    assert_true(m("abcc|ab[^c]$", "xaba"));
    assert_false(m("abcc|ab[^c]$", "aac ..."));
    const char *brackets[] = {"[a]", "[b]", "[7]", "[@]", "[]]", "[ ]"};
    for (size_t i = 0; i < sizeof brackets / sizeof *brackets; i++)
        assert_true(m("\\[.\\]", brackets[i]));
    assert_false(m("\\[.\\]", "[ab]"));
    assert_true(m("10\\.10\\.0\\.1", "from 10.10.0.1"));
    assert_false(m("10\\.10\\.0\\.1", "10010,051"));
    assert_true(m("10.10.0.1", "10010,051")); /* the documentation's warning */
    assert_true(m("ab*c", "ac"));
    assert_true(m("ab*c", "abc"));
    assert_true(m("ab*c", "abbbc"));
    assert_true(m("^ab[0-9]*$", "ab"));
    assert_true(m("^ab[0-9]*$", "ab129"));
    assert_true(m("ab+c", "abbc"));
    assert_false(m("ab+c", "ac"));
    const char *at[] = {"hat", "cat", "bat", "4at", "#at", " at"};
    for (size_t i = 0; i < sizeof at / sizeof *at; i++)
        assert_true(m(".at", at[i]));
    assert_false(m(".at", "at"));
    assert_true(m("\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}", "ip 192.168.0.12 ok"));
    assert_false(m("\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}", "ip 192.168.0 ok"));
    assert_true(m("[Ee]rror|[Ff]ail", "an error"));
    assert_true(m("[Ee]rror|[Ff]ail", "Failed"));
    assert_false(m("[Ee]rror|[Ff]ail", "ERROR FAIL")); /* case-sensitive */
    assert_true(m("\\x3A", "key:value"));
    assert_true(m("\\x28", "f(x)"));
    assert_true(m("/service/resource/[0-9]+$", "/service/resource/67"));
    assert_false(m("/service/resource/[0-9]+$", "/service/resource/67/part/111"));
    assert_true(m("/service/resource/[0-9]+/part/[0-9]+$", "/service/resource/67/part/111"));
    assert_true(m("127\\.0\\.0\\.[1-9]", "127.0.0.9"));
    assert_false(m("127\\.0\\.0\\.[1-9]", "127.0.0.0"));
    assert_true(m("val.{2}", "value"));
    assert_true(m("111\\.111\\.111\\.1[0-9]{1,2}", "111.111.111.111"));
}

static void test_escapes_and_classes(void **state)
{
    (void)state;
    assert_true(m("\\d", "port 80"));
    assert_false(m("\\d", "port"));
    assert_true(m("^\\D+$", "port"));
    assert_false(m("^\\D+$", "port 8"));
    assert_true(m("a\\sb", "a b"));
    assert_true(m("a\\sb", "a\tb"));
    assert_true(m("a\\sb", "a\nb"));
    assert_true(m("a\\sb", "a\rb"));
    assert_true(m("a\\sb", "a\vb"));
    assert_true(m("a\\sb", "a\fb"));
    assert_false(m("a\\sb", "a_b"));
    assert_true(m("^\\S+$", "a_b"));
    assert_true(m("^\\w+$", "Az_09"));
    assert_false(m("^\\w+$", "a-b"));
    assert_true(m("\\W", "a-b"));
    assert_true(m("^[\\d_]+$", "1_2"));
    assert_true(m("^[^\\d]+$", "abc"));
    assert_false(m("^[^\\d]+$", "a1c"));
    assert_true(m("^[\\x41-\\x43]+$", "ABCA"));
    assert_true(m("^[-a]+$", "-a-"));
    assert_true(m("^[a-]+$", "-a-"));
    assert_true(m("^[a\\]]+$", "a]"));
    assert_true(m("\\\\", "back\\slash"));
    assert_true(m("a\\-b", "a-b"));
    assert_true(m("a\\.b", "a.b"));
    assert_false(m("a\\.b", "axb"));
    assert_true(m("1\\+1", "1+1"));
    assert_true(m("\\^\\$\\|\\*\\?\\{\\}", "^$|*?{}"));
    assert_true(m("x]y}", "x]y}")); /* a lone ] or } is itself */
    assert_true(m("^a:_#=@/;,-z$", "a:_#=@/;,-z"));
}

static void test_repetitions_and_anchors(void **state)
{
    (void)state;
    assert_true(m("^a{3}$", "aaa"));
    assert_false(m("^a{3}$", "aaaa"));
    assert_true(m("^a{2,}$", "aaaaaaa"));
    assert_false(m("^a{2,}$", "a"));
    assert_true(m("^a{,2}$", ""));
    assert_true(m("^a{,2}$", "aa"));
    assert_false(m("^a{,2}$", "aaa"));
    assert_true(m("^a{ 2 , 3 }$", "aaa")); /* as CloudWatch writes it: {m, n} */
    assert_true(m("^ab{0}c$", "ac"));
    assert_true(m("^a+?$", "aaa")); /* lazy: the same texts */
    assert_true(m("^a*?b$", "aab"));
    assert_true(m("^a{1,2}?b$", "aab"));
    assert_true(m("^$", ""));
    assert_false(m("^$", "x"));
    assert_true(m("$", "x"));  /* matches at the end */
    assert_true(m("^", "x"));
    assert_true(m("x|$", "y"));
    assert_false(m("a^b", "a^b")); /* ^ is the start, not a character */
    assert_false(m("a$b", "ab"));
    assert_true(m("ab|", "zzz")); /* an empty alternative matches the empty text */
    assert_true(m("a*", "zzz"));
    assert_true(m("^x.y$", "x\ny")); /* . is any character, as documented */
    assert_false(m("x$", "x\n"));    /* $ is the end of the text */
}

/* The text is UTF-8: a multi-byte character is one character to ., \W, [^...]. */
static void test_utf8(void **state)
{
    (void)state;
    assert_true(m("^caf.$", "caf\xC3\xA9"));
    assert_true(m("^.{3}$", "\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC")); /* three euro signs */
    assert_false(m("^.{4}$", "\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC"));
    assert_true(m("^a\\Wb$", "a\xC3\xA9" "b"));
    assert_true(m("^a[^x]b$", "a\xF0\x9F\x98\x80" "b"));
    assert_false(m("^a[x-z]b$", "a\xC3\xA9" "b"));
    assert_false(m("\\w", "\xC3\xA9"));
    assert_true(m("^..$", "\xC3\x28")); /* not UTF-8: each byte is one character */
    assert_true(m("rror", "\xC3\xA9rror"));
}

static void test_refusals(void **state)
{
    (void)state;
    refused("", "empty");
    refused("something!", "Invalid character(s) in term '%something!%'");
    refused("something!", "'!' (\\x21 matches it)");
    refused("(alpha|beta)", "'(' (\\x28 matches it)");
    refused("(a*)*b", "'('");
    refused("a(?=b)", "'('"); /* lookaround needs parentheses */
    refused("caf\xC3\xA9", "multi-byte");
    refused("a%b", "'%'");
    refused("a\"b", "'\"'");
    refused("a\tb", "byte 0x09");
    refused("\\(ab\\)", "'('"); /* escaping does not admit them: \x28 does */
    refused("(a)\\1", "'('");
    refused("a\\1", "backreferences");
    refused("\\bword", "unsupported escape \\b");
    refused("\\n", "unsupported escape \\n");
    refused("\\p", "unsupported escape \\p");
    refused("\\x4", "two hexadecimal digits");
    refused("\\xZZ", "two hexadecimal digits");
    refused("\\x80", "ASCII");
    refused("a\\", "ends the expression");
    refused("*a", "nothing to repeat before '*'");
    refused("a|+b", "nothing to repeat before '+'");
    refused("?", "nothing to repeat");
    refused("{2}", "nothing to repeat");
    refused("^*", "an anchor");
    refused("a$+", "an anchor");
    refused("a**", "a repetition ('*') of a repetition");
    refused("a{2}{3}", "of a repetition");
    refused("a*+", "of a repetition"); /* possessive: not the same texts */
    refused("a{", "not a repetition");
    refused("a{}", "not a repetition");
    refused("a{,}", "not a repetition");
    refused("a{x}", "not a repetition");
    refused("a{3,2}", "n below m");
    refused("a{1001}", "above 1000");
    refused("a{99999999999}", "above 1000");
    refused("[abc", "not closed");
    refused("[]", "empty class");
    refused("[^]", "empty class");
    refused("[z-a]", "end comes before its start");
    refused("[a-\\d]", "class escape");
    refused("[[]", "must be escaped");
}

/* The program is bounded before it is allocated, whatever the counts multiply to. */
static void test_limits(void **state)
{
    (void)state;
    sky__fregex *r = compile("a{1000}");
    assert_true(sky__fregex_size(r) <= SKY__FREGEX_MAX_INSNS);
    sky__fregex_free(r);
    refused("a{1000}b{1000}", "too large");
    refused("a{0,1000}", "too large"); /* 2 steps per optional copy */
    refused(".{1000}.{1000}.{1000}", "too large");
    r = compile("\\w{0,900}x");
    assert_true(sky__fregex_size(r) <= SKY__FREGEX_MAX_INSNS);
    sky__fregex_free(r);
    /* 1,022 bytes of alternatives: the longest a filter pattern leaves room for */
    char many[1023];
    for (size_t i = 0; i < sizeof many - 1; i++)
        many[i] = i % 2 ? '|' : 'a';
    many[sizeof many - 1] = '\0';
    r = compile(many);
    assert_true(sky__fregex_search(r, "xa", 2));
    sky__fregex_free(r);
}

/* Expressions a backtracking engine needs exponential (or n^k) time for, on texts where they
 * fail late: each ends in (text x program) steps. The nested (a*)*b cannot be written (no
 * parentheses); its flat forms can. Each text holds the expression's required characters
 * (the "b" of ...b$), so the simulation runs over the whole run of a's, not just memmem. */
static void test_pathological(void **state)
{
    (void)state;
    const size_t n = 1 << 16; /* a backtracking engine would not end on 64 KiB either */
    const struct {
        const char *re, *head;
    } cases[] = {
        {"a*a*a*a*a*a*a*a*a*a*a*a*b$", "b"},
        {"a?a?a?a?a?a?a?a?a?a?a?a?aaaaaaaaaaaab$", "aaaaaaaaaaaab"},
        {".*.*.*.*.*.*.*.*=$", "="},
        {"a*a*a*c|a*a*a*b", ""},
        {"\\w*\\w*\\w*\\w*\\W$", ""},
        {"a{0,100}a{0,100}b$", "b"},
        {"[a-z]+[a-z]+[a-z]+;?b", "b"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t hl = strlen(cases[i].head);
        char *text = malloc(hl + n + 1);
        assert_non_null(text);
        memcpy(text, cases[i].head, hl);
        memset(text + hl, 'a', n);
        text[hl + n] = '\0';
        assert_false(m(cases[i].re, text));
        /* and they still match where they should, at the end of the run */
        if (strchr(cases[i].re, '$') && cases[i].head[0]) {
            memmove(text, text + hl, n);
            memcpy(text + n, cases[i].head + hl - 1, 1);
            text[n + 1] = '\0';
            assert_true(m(cases[i].re, text));
        }
        free(text);
    }
}

/* The required-text filter only ever skips texts that cannot match. */
static void test_required_text(void **state)
{
    (void)state;
    sky__fregex *r = compile("^x?abcd+e[0-9]");
    assert_int_equal(r->lit_len, 4); /* d+ is needed once, then the run ends */
    assert_memory_equal(r->lit, "abcd", 4);
    assert_true(sky__fregex_search(r, "abcdde5", 7));
    sky__fregex_free(r);
    r = compile("a\\.b\\x41{2}c");
    assert_int_equal(r->lit_len, 4);
    assert_memory_equal(r->lit, "a.bA", 4);
    sky__fregex_free(r);
    r = compile("xy|z");
    assert_int_equal(r->lit_len, 0); /* alternatives: none is required */
    sky__fregex_free(r);
    assert_true(m("ab+c", "abbbc"));
    assert_true(m("a{2}b", "aab"));
    assert_true(m("a^b|ab", "ab"));
    assert_false(m("a$b", "a$b"));
    assert_true(m("\\x41B", "AB"));
}

/* The DFA cache answers as the simulation: on texts that keep it within its 64 states, on
 * one (the 7th character from the end decides: 128 live combinations) that overflows it
 * until the search falls back, and across searches that reuse it. */
/* What an expression holds: its program and workspace from the start, a DFA cache only once
 * searched, and only as many states as its texts needed; rows have one entry per class of
 * characters the expression tells apart, not per character. Every count is exact (the
 * function adds up what was allocated), the worst case stays within the header's bound, and
 * the caches of the process are counted together against one limit. (The earlier tests freed
 * every expression they compiled: the process-wide count starts at 0 here.) */
static void test_memory(void **state)
{
    (void)state;
    sky__fregex *r = compile("ERROR");
    size_t cold = sky__fregex_memory(r);
    assert_int_equal(r->cap_states, 0); /* nothing allocated for the DFA yet */
    assert_int_equal(r->n_classes, 4);  /* E, R, O, everything else */
    assert_true(sky__fregex_search(r, "an ERROR here", 13));
    size_t warm = sky__fregex_memory(r);
    assert_int_equal(r->cap_states, DFA_FIRST_STATES);
    assert_int_equal(warm - cold, DFA_FIRST_STATES * (8 + 8 + 4 * 2));
    assert_true(warm < 1536); /* it held 18 KB when the cache was allocated whole */
    for (int i = 0; i < 100; i++) /* a warm cache does not grow on the same texts */
        assert_false(sky__fregex_search(r, "no ERRO R here", 14));
    assert_int_equal(sky__fregex_memory(r), warm);
    assert_int_equal(sky__fregex_cache_bytes(), warm - cold); /* the process-wide count */
    sky__fregex_free(r);
    assert_int_equal(sky__fregex_cache_bytes(), 0);

    /* Past the process-wide limit a cache does not grow: the simulation answers, the same. */
    sky__fregex *first = compile("ERROR");
    assert_true(sky__fregex_search(first, "ERROR", 5));
    size_t held = sky__fregex_cache_bytes();
    size_t old = sky__fregex_set_cache_limit(held); /* no room for another cache */
    assert_int_equal(old, SKY__FREGEX_CACHE_LIMIT);
    r = compile("[Ee]rror|[Ff]ail");
    const char *texts[] = {"an Error", "fail", "Fail!", "nothing", ""};
    for (size_t k = 0; k < sizeof texts / sizeof *texts; k++)
        assert_int_equal(sky__fregex_search(r, texts[k], strlen(texts[k])),
                         pike_search(r, (const unsigned char *)texts[k], strlen(texts[k])));
    assert_int_equal(r->cap_states, 0);
    assert_int_equal(sky__fregex_cache_bytes(), held);
    sky__fregex_set_cache_limit(old);
    assert_true(sky__fregex_search(r, "Fail", 4)); /* room again: it caches */
    assert_int_equal(r->cap_states, DFA_FIRST_STATES);
    sky__fregex_free(r);
    sky__fregex_free(first);
    assert_int_equal(sky__fregex_cache_bytes(), 0);

    /* Needing more states doubles the cache, up to DFA_STATES and no further. */
    r = compile("a[ab]{6}c");
    char ab[4096];
    uint32_t x = 7;
    for (size_t i = 0; i < sizeof ab; i++) {
        x = x * 1103515245u + 12345u;
        ab[i] = (x >> 16) & 1 ? 'a' : 'b';
    }
    assert_false(sky__fregex_search(r, ab, sizeof ab));
    assert_int_equal(r->cap_states, DFA_STATES);
    assert_true(r->n_classes == 4); /* a, b, c, the rest */
    sky__fregex_free(r);

    /* The largest program, with every class apart and a full cache: the header's bound. */
    char big[1100] = "";
    strcat(big, "[a-z]{990}");
    for (int c = '0'; c <= '9'; c++) {
        size_t l = strlen(big);
        big[l] = (char)c;
        big[l + 1] = '\0';
    }
    r = compile(big);
    for (size_t i = 0; i < sizeof ab; i++) /* the required digits first: the DFA runs */
        ab[i] = i < 10 ? (char)('0' + i) : (char)('a' + i % 26);
    assert_false(sky__fregex_search(r, ab, sizeof ab));
    assert_int_equal(r->cap_states, DFA_STATES);
    assert_int_equal(r->n_classes, 12); /* a-z, each digit, the rest */
    size_t most = sky__fregex_memory(r);
    assert_true(sky__fregex_size(r) >= 1000);
    assert_true(most < SKY__FREGEX_MAX_BYTES / 2); /* half the largest program */
    sky__fregex_free(r);
    assert_int_equal(sky__fregex_cache_bytes(), 0); /* every cache freed is uncounted */
}

static void test_dfa_agrees_with_the_simulation(void **state)
{
    (void)state;
    const char *res[] = {"[Ee]rror|[Ff]ail", "ms=\\d{4,}", "^x|y$", "a[ab]{6}$", "a[ab]{6}b",
                         "^$|a", "\\W\\w+\\W", ".{3}$", "b|^a*$"};
    const char *texts[] = {"", "a", "x", "y", "error", "ms=12345", "aababbab", "bbbbbbb",
                           "caf\xC3\xA9 x", "abababababababababababab", "\xFF\xFE"};
    for (size_t i = 0; i < sizeof res / sizeof *res; i++) {
        sky__fregex *r = compile(res[i]);
        for (int round = 0; round < 2; round++) /* the second round runs on a warm cache */
            for (size_t k = 0; k < sizeof texts / sizeof *texts; k++) {
                size_t n = strlen(texts[k]);
                bool nfa = pike_search(r, (const unsigned char *)texts[k], n);
                if (sky__fregex_search(r, texts[k], n) != nfa)
                    fail_msg("'%s' on '%s': the DFA says %d", res[i], texts[k], !nfa);
                assert_int_equal(sky__fregex_search_nfa(r, texts[k], n), nfa);
            }
        sky__fregex_free(r);
    }
    /* a de Bruijn-like text visits every combination of the last 7 characters */
    size_t n = 1 << 15;
    char *ab = malloc(n + 1);
    assert_non_null(ab);
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        ab[i] = (x >> 16) & 1 ? 'a' : 'b';
    }
    ab[n] = '\0';
    sky__fregex *r = compile("a[ab]{6}c");
    assert_false(sky__fregex_search(r, ab, n));
    assert_true(r->flushes > DFA_MAX_FLUSHES); /* it did overflow, and fell back */
    assert_false(pike_search(r, (const unsigned char *)ab, n));
    ab[n - 1] = 'c';
    ab[n - 8] = 'a';
    assert_true(sky__fregex_search(r, ab, n));
    sky__fregex_free(r);
    free(ab);
}

/* The programs of all the expressions alive count against one process-wide limit, checked
 * before allocating: past it compiling is refused as the limit (not as a bad expression),
 * freeing gives the room back, and UNLIMITED compiles are counted but never refused. */
static void test_program_limit(void **state)
{
    (void)state;
    assert_int_equal(sky__fregex_program_bytes(), 0);
    sky__fregex *a = compile("a{500}b");
    size_t one = sky__fregex_program_bytes();
    assert_int_equal(one, sky__fregex_memory(a)); /* no cache yet: the program is all */
    size_t old = sky__fregex_set_program_limit(one + one / 2); /* room for one, not two */
    assert_int_equal(old, SKY__FREGEX_PROGRAM_LIMIT);
    char why[400] = "";
    bool limited = false;
    assert_null(sky__fregex_compile_ex("a{500}c", 7, 0, why, sizeof why, &limited));
    assert_true(limited);
    assert_non_null(strstr(why, "compiled regular expressions"));
    assert_non_null(strstr(why, "%a{500}c%"));
    assert_int_equal(sky__fregex_program_bytes(), one); /* the refused one holds nothing */
    /* a bad expression is still the expression's fault, limit or not */
    assert_null(sky__fregex_compile_ex("(a)", 3, 0, why, sizeof why, &limited));
    assert_false(limited);
    /* a small one fits in what is left */
    sky__fregex *small = sky__fregex_compile_ex("ERROR", 5, 0, why, sizeof why, &limited);
    assert_non_null(small);
    /* unlimited: counted, past the limit */
    sky__fregex *u =
        sky__fregex_compile_ex("a{500}c", 7, SKY__FREGEX_UNLIMITED, why, sizeof why, &limited);
    assert_non_null(u);
    assert_false(limited);
    assert_true(sky__fregex_program_bytes() > one + one / 2);
    sky__fregex_free(u);
    sky__fregex_free(a);
    sky__fregex *b = sky__fregex_compile_ex("a{500}c", 7, 0, why, sizeof why, &limited);
    assert_non_null(b); /* freeing gave the room back */
    sky__fregex_free(b);
    sky__fregex_free(small);
    assert_int_equal(sky__fregex_program_bytes(), 0);
    sky__fregex_set_program_limit(old);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_documented_examples),
        cmocka_unit_test(test_escapes_and_classes),
        cmocka_unit_test(test_repetitions_and_anchors),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_pathological),
        cmocka_unit_test(test_required_text),
        cmocka_unit_test(test_dfa_agrees_with_the_simulation),
        cmocka_unit_test(test_memory),
        cmocka_unit_test(test_program_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

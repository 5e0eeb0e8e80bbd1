/*
 * test_termsafe.c - the library's rule for showing untrusted text on a terminal
 * (src/util/termsafe.c): the three modes, the column count, and the library's own default
 * diagnostics, which quote services' error messages and must not pass their control
 * characters to stderr. The `skylog` command's formats around it: test_safetext.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/pipeline.h"
#include "util/termsafe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *esc(const char *s, sky__termsafe_mode m, size_t *cols)
{
    sky_buf b = {0};
    *cols = sky__termsafe(&b, s, strlen(s), m);
    assert_false(b.oom);
    assert_int_equal(*cols, sky__termsafe(NULL, s, strlen(s), m)); /* counting is the same */
    char *r = strndup(b.p ? b.p : "", b.len);
    sky__buf_free(&b);
    return r;
}

static void test_modes(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        sky__termsafe_mode m;
        const char *out;
        size_t cols;
    } cases[] = {
        {"plain caf\xc3\xa9", SKY__TERMSAFE_LINE, "plain caf\xc3\xa9", 10},
        {"a\nb\rc\td", SKY__TERMSAFE_LINE, "a\\nb\\rc\\td", 10},
        {"\x1b[2J\x1b]0;t\x07", SKY__TERMSAFE_LINE, "\\u001b[2J\\u001b]0;t\\u0007", 25},
        {"\xc2\x9b\xe2\x80\xae\x7f", SKY__TERMSAFE_LINE, "\\u009b\\u202e\\u007f", 18},
        {"\xff\xc0\xaf", SKY__TERMSAFE_LINE, "\\xff\\xc0\\xaf", 12},
        {"a\nb\rc\td\x1b", SKY__TERMSAFE_CSV, "a\nb\\rc\td\\u001b", 14},
        {"{\n \"k\": \"\xc2\x9b\x7f\"}", SKY__TERMSAFE_JSON, "{\n \"k\": \"\\u009B\\u007F\"}", 23},
        {"", SKY__TERMSAFE_LINE, "", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t cols;
        char *got = esc(cases[i].in, cases[i].m, &cols);
        assert_string_equal(got, cases[i].out);
        assert_int_equal(cols, cases[i].cols);
        free(got);
    }
}

/* Without a diag callback, diagnostics go to stderr as one escaped line. */
static void test_default_diagnostics_are_escaped(void **state)
{
    (void)state;
    char path[] = "/tmp/skylog-test-termsafe-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    sky__diag(NULL, SKY_LEVEL_ERROR, "PutLogEvents: %s", "A\x1b[2J\x1b]0;T\x07\rB\nC\xc2\x9b");
    dup2(saved, 2);
    close(saved);
    char buf[512] = "";
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    unlink(path);
    assert_true(n > 0);
    assert_string_equal(buf, "skylog: ERROR: PutLogEvents: A\\u001b[2J\\u001b]0;T\\u0007\\rB\\nC"
                             "\\u009b\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_modes),
        cmocka_unit_test(test_default_diagnostics_are_escaped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

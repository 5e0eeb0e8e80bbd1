/*
 * safetext.c - see safetext.h for the rule. The characters are decided by the library's
 * scanner (util/termsafe.h), which its own diagnostics use too; here are the formats around
 * it: RFC 4180 quoting, JSON from jansson, FILE output, one-line messages, and the columns the
 * escaped text takes on a terminal, which the tables and lists align by.
 */
#include "safetext.h"

#include "util/buf.h"
#include "util/termsafe.h"
#include "util/text.h"

#include <locale.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

/* ---- display width ----------------------------------------------------------------------
 * A terminal gives a character the columns wcwidth() says: 2 to East Asian wide and fullwidth
 * ones (CJK, most emoji), 0 to combining marks and other zero-width ones, 1 to the rest. It
 * says so from the C library's Unicode tables, under a UTF-8 locale: C.UTF-8 here, whatever
 * the user's locale is (the command does not call setlocale, and the data are UTF-8 anyway),
 * set for this thread only while it counts. Without that locale, or for a character wcwidth()
 * does not know, a character is one column. */

static locale_t utf8_locale;
static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;

static void utf8_locale_init(void)
{
    utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

/* The columns of p[0..n), text that sky__termsafe() wrote: valid UTF-8 without controls. */
static size_t columns(const char *p, size_t n)
{
    size_t ascii = 0;
    while (ascii < n && !((unsigned char)p[ascii] & 0x80))
        ascii++;
    if (ascii == n)
        return n;
    pthread_once(&utf8_once, utf8_locale_init);
    locale_t old = utf8_locale ? uselocale(utf8_locale) : (locale_t)0;
    size_t cols = ascii;
    const unsigned char *s = (const unsigned char *)p;
    for (size_t i = ascii; i < n;) {
        size_t len = sky__utf8_seq_len(s + i, n - i);
        if (!len) { /* not from termsafe: count the byte, as it would be shown escaped */
            cols++;
            i++;
            continue;
        }
        uint32_t cp = len == 1 ? s[i]
                    : len == 2 ? (uint32_t)(s[i] & 0x1f) << 6 | (s[i + 1] & 0x3f)
                    : len == 3 ? (uint32_t)(s[i] & 0x0f) << 12 | (uint32_t)(s[i + 1] & 0x3f) << 6 |
                                     (s[i + 2] & 0x3f)
                               : (uint32_t)(s[i] & 0x07) << 18 | (uint32_t)(s[i + 1] & 0x3f) << 12 |
                                     (uint32_t)(s[i + 2] & 0x3f) << 6 | (s[i + 3] & 0x3f);
        int w = utf8_locale ? wcwidth((wchar_t)cp) : 1;
        cols += w < 0 ? 1 : (size_t)w;
        i += len;
    }
    if (utf8_locale)
        uselocale(old);
    return cols;
}

/* Writes the escaped form of s[0..n) to out (NULL: nowhere); returns its columns. */
static size_t scan(FILE *out, const char *s, size_t n, sky__termsafe_mode m)
{
    sky_buf b = {0};
    sky__termsafe(&b, s, n, m);
    size_t cols;
    if (b.oom) { /* rather nothing than the text unescaped */
        static const char oom[] = "(out of memory)";
        if (out)
            fputs(oom, out);
        cols = sizeof oom - 1;
    } else {
        if (out && b.len)
            fwrite(b.p, 1, b.len, out);
        cols = columns(b.p, b.len);
    }
    sky__buf_free(&b);
    return cols;
}

size_t sky__safe_put(FILE *out, const char *s)
{
    return s ? scan(out, s, strlen(s), SKY__TERMSAFE_LINE) : 0;
}

void sky__safe_pad(FILE *out, const char *s, size_t width)
{
    for (size_t w = sky__safe_put(out, s); w < width; w++)
        fputc(' ', out);
}

size_t sky__safe_width(const char *s) { return sky__safe_put(NULL, s); }

char *sky__safe_dup(const char *s)
{
    char *p = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&p, &n);
    if (!f)
        return NULL;
    sky__safe_put(f, s);
    if (fclose(f) != 0) {
        free(p);
        return NULL;
    }
    return p;
}

void sky__csv_put(FILE *out, const char *s)
{
    if (!s)
        s = "";
    bool quote = strpbrk(s, ",\"\r\n") != NULL;
    if (quote)
        fputc('"', out);
    for (const char *q; (q = strchr(s, '"')); s = q + 1) {
        scan(out, s, (size_t)(q - s), SKY__TERMSAFE_CSV);
        fputs("\"\"", out);
    }
    scan(out, s, strlen(s), SKY__TERMSAFE_CSV);
    if (quote)
        fputc('"', out);
}

bool sky__json_write(FILE *out, const json_t *v, size_t flags)
{
    char *t = json_dumps(v, flags | JSON_ENCODE_ANY);
    if (!t)
        return false;
    scan(out, t, strlen(t), SKY__TERMSAFE_JSON);
    free(t);
    return true;
}

bool sky__json_put(FILE *out, const json_t *v, size_t flags)
{
    if (!sky__json_write(out, v, flags))
        return false;
    fputc('\n', out);
    return true;
}

void sky__safe_printf(FILE *out, const char *fmt, ...)
{
    char small[512], *big = NULL, *msg = small;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof small) {
        if (!(big = malloc((size_t)n + 1)))
            return;
        va_start(ap, fmt);
        vsnprintf(big, (size_t)n + 1, fmt, ap);
        va_end(ap);
        msg = big;
    }
    bool nl = n > 0 && msg[n - 1] == '\n';
    scan(out, msg, (size_t)n - nl, SKY__TERMSAFE_LINE);
    if (nl)
        fputc('\n', out);
    free(big);
}

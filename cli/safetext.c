/*
 * safetext.c - see safetext.h for the rule. The characters are decided by the library's
 * scanner (util/termsafe.h), which its own diagnostics use too; here are the formats around
 * it: RFC 4180 quoting, JSON from jansson, FILE output, one-line messages.
 */
#include "safetext.h"

#include "util/buf.h"
#include "util/termsafe.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Writes the escaped form of s[0..n) to out (NULL: nowhere); returns its columns. */
static size_t scan(FILE *out, const char *s, size_t n, sky__termsafe_mode m)
{
    if (!out)
        return sky__termsafe(NULL, s, n, m);
    sky_buf b = {0};
    size_t cols = sky__termsafe(&b, s, n, m);
    if (b.oom) /* rather nothing than the text unescaped */
        fputs("(out of memory)", out);
    else if (b.len)
        fwrite(b.p, 1, b.len, out);
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

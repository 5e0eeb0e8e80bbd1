/*
 * safetext.c - see safetext.h for the rule. One scanner decodes UTF-8 strictly (no overlong
 * forms, no surrogates, nothing above U+10FFFF: what a terminal might decode differently is
 * not text, so it is shown as bytes) and decides character by character; the three formats differ only in what they
 * keep and how they spell an escape. It writes nothing when given no FILE, so the width of a
 * table cell is counted by the same code that prints it.
 */
#include "safetext.h"

#include "util/text.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum mode { PEOPLE, CSV, JSON };

/* The length of the valid UTF-8 character at p (of n bytes left) and its code point; 0 if
 * the byte at p does not start one. Validity is the library's rule (util/text.h), the one the
 * CloudWatch sink checks messages by. */
static size_t utf8_next(const unsigned char *p, size_t n, uint32_t *cp)
{
    size_t len = sky__utf8_seq_len(p, n);
    static const unsigned char lead_bits[5] = {0, 0x7f, 0x1f, 0x0f, 0x07};
    uint32_t c = len ? p[0] & lead_bits[len] : 0;
    for (size_t i = 1; i < len; i++)
        c = c << 6 | (p[i] & 0x3f);
    *cp = c;
    return len;
}

/* Characters that change how text is shown rather than being shown: controls, and the
 * invisible marks that reorder a line (the "Trojan Source" characters) or break it. */
static bool hidden(uint32_t c)
{
    return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x061c || c == 0x200e || c == 0x200f ||
           c == 0x2028 || c == 0x2029 || (c >= 0x202a && c <= 0x202e) ||
           (c >= 0x2066 && c <= 0x2069);
}

/* Writes the escaped form of s[0..n) to out (NULL: nowhere); returns its columns. */
static size_t scan(FILE *out, const char *str, size_t n, enum mode m)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t cols = 0;
    char esc[8];
    for (size_t i = 0; i < n;) {
        uint32_t c = 0;
        size_t len = utf8_next(s + i, n - i, &c);
        const char *w = NULL; /* an escape to write instead of the bytes */
        if (len == 0) {
            if (m == JSON)
                w = "\\ufffd"; /* jansson writes only valid UTF-8; never reached in practice */
            else
                snprintf(esc, sizeof esc, "\\x%02x", s[i]), w = esc;
            len = 1;
        } else if (hidden(c)) {
            bool keep = (m == CSV && (c == '\n' || c == '\t')) ||
                        (m == JSON && c < 0x20); /* JSON's own layout: strings escape these */
            if (keep)
                ;
            else if (m != JSON && c == '\n')
                w = "\\n";
            else if (m != JSON && c == '\r')
                w = "\\r";
            else if (m != JSON && c == '\t')
                w = "\\t";
            else /* (JSON: spelt as jansson spells its own escapes) */
                snprintf(esc, sizeof esc, m == JSON ? "\\u%04X" : "\\u%04x", (unsigned)c),
                    w = esc;
        }
        if (w) {
            if (out)
                fputs(w, out);
            cols += strlen(w);
        } else {
            if (out)
                fwrite(s + i, 1, len, out);
            cols++;
        }
        i += len;
    }
    return cols;
}

size_t sky__safe_put(FILE *out, const char *s)
{
    return s ? scan(out, s, strlen(s), PEOPLE) : 0;
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
        scan(out, s, (size_t)(q - s), CSV);
        fputs("\"\"", out);
    }
    scan(out, s, strlen(s), CSV);
    if (quote)
        fputc('"', out);
}

bool sky__json_write(FILE *out, const json_t *v, size_t flags)
{
    char *t = json_dumps(v, flags | JSON_ENCODE_ANY);
    if (!t)
        return false;
    scan(out, t, strlen(t), JSON);
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
    scan(out, msg, (size_t)n - nl, PEOPLE);
    if (nl)
        fputc('\n', out);
    free(big);
}

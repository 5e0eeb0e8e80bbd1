/*
 * fuzz_safetext.c - the rule `skylog` prints untrusted text by (cli/safetext.c), for any bytes:
 *   - for people: no byte a terminal acts on (C0, DEL, a UTF-8 C1 control or bidi mark), no
 *     newline, valid UTF-8, and sky__safe_width() gives the columns written (one per ASCII
 *     character, 0 to 2 per other one);
 *   - CSV: the same but LF and TAB, and a field with LF, CR, '"' or ',' is quoted with every
 *     quote inside doubled (RFC 4180), so a CSV reader finds exactly one field;
 *   - JSON (valid UTF-8 input, as jansson holds it): parses back to the input exactly and
 *     holds no byte a terminal acts on.
 * Input: the text itself (a NUL ends it, as in the C strings the commands print).
 */
#include "../../cli/safetext.c"
#include "util/text.h"

#include <stdint.h>
#include <stdlib.h>

static void check_inert(const unsigned char *p, size_t n, bool csv)
{
    if (!sky__utf8_valid((const char *)p, n))
        abort();
    for (size_t i = 0; i < n; i++) {
        if (csv && (p[i] == '\n' || p[i] == '\t'))
            continue;
        if (p[i] < 0x20 || p[i] == 0x7f)
            abort();
        if (p[i] == 0xc2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f)
            abort();
        if (p[i] == 0xe2 && i + 2 < n && p[i + 1] == 0x80 && p[i + 2] >= 0xaa && p[i + 2] <= 0xae)
            abort();
    }
}

static void csv_one_field(const char *out, size_t n)
{
    if (n && out[0] == '"') { /* quoted: ends with the only lone quote */
        size_t i = 1;
        for (; i < n; i++)
            if (out[i] == '"') {
                if (i + 1 < n && out[i + 1] == '"')
                    i++;
                else
                    break;
            }
        if (i != n - 1)
            abort();
    } else if (memchr(out, '"', n) || memchr(out, ',', n) || memchr(out, '\n', n)) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size + 1);
    if (!in)
        abort();
    memcpy(in, data, size);
    in[size] = '\0';
    char *out = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&out, &n);
    size_t w = sky__safe_put(f, in);
    fclose(f);
    check_inert((unsigned char *)out, n, false);
    /* columns: one per ASCII character, 0 to 2 per other one (wcwidth) */
    size_t chars = 0, ascii = 0;
    for (size_t i = 0; i < n; i++) {
        chars += ((unsigned char)out[i] & 0xc0) != 0x80;
        ascii += !((unsigned char)out[i] & 0x80);
    }
    if (w < ascii || w > ascii + 2 * (chars - ascii) || sky__safe_width(in) != w)
        abort();
    free(out);

    f = open_memstream(&out, &n);
    sky__csv_put(f, in);
    fclose(f);
    check_inert((unsigned char *)out, n, true);
    csv_one_field(out, n);
    free(out);

    json_t *s = json_string(in); /* NULL unless valid UTF-8 */
    if (s) {
        f = open_memstream(&out, &n);
        if (!sky__json_put(f, s, 0))
            abort();
        fclose(f);
        check_inert((unsigned char *)out, n - 1, false);
        json_t *back = json_loadb(out, n, JSON_DECODE_ANY, NULL);
        if (!back || !json_equal(back, s))
            abort();
        json_decref(back);
        free(out);
        json_decref(s);
    }
    free(in);
    return 0;
}

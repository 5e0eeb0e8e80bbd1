/* test_text.c - number formatting, UTF-8 validation/repair, JSON escaping and validation,
 * ISO-8601 timestamps (src/util/buf.c, src/util/text.c). */
#include "skytest.h"

#include "util/buf.h"
#include "util/text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char *render_f64(double v)
{
    sky_buf b = {0};
    sky__buf_f64(&b, v);
    char *s = sky__buf_strdup(&b);
    sky__buf_free(&b);
    return s;
}

static void test_integers(void **state)
{
    (void)state;
    const int64_t cases[] = {0, 1, -1, 9, 10, 99, 100, 12345, -987654321, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sky_buf b = {0};
        sky__buf_i64(&b, cases[i]);
        char want[32];
        snprintf(want, sizeof want, "%lld", (long long)cases[i]);
        assert_int_equal(b.len, strlen(want));
        assert_memory_equal(b.p, want, b.len);
        sky__buf_free(&b);
    }
    sky_buf b = {0};
    sky__buf_u64(&b, UINT64_MAX);
    assert_memory_equal(b.p, "18446744073709551615", 20);
    sky__buf_free(&b);
}

static void test_doubles_short_and_exact(void **state)
{
    (void)state;
    struct {
        double v;
        const char *want;
    } cases[] = {{1.5, "1.5"}, {0.1, "0.1"}, {42, "42.0"}, {-2.25, "-2.25"}, {1e-7, NULL},
                 {123456.789, "123456.789"}, {0.0, "0.0"}, {-0.0, "-0.0"}, {1e300, NULL}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *s = render_f64(cases[i].v);
        if (cases[i].want)
            assert_string_equal(s, cases[i].want);
        assert_true(strtod(s, NULL) == cases[i].v);
        free(s);
    }
    /* Random doubles must read back exactly (round-trip property). */
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 100000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double v;
        if (i % 2) {
            memcpy(&v, &x, sizeof v);
            if (!isfinite(v))
                continue;
        } else {
            v = (double)(int64_t)(x % 2000000) / 1000.0; /* typical measured values */
        }
        char *s = render_f64(v);
        assert_true(strtod(s, NULL) == v);
        free(s);
    }
}

static char *repaired(const char *s, size_t n, size_t *out_len)
{
    sky_buf b = {0};
    sky__utf8_repair(&b, s, n);
    *out_len = b.len;
    char *r = sky__buf_strdup(&b);
    sky__buf_free(&b);
    return r;
}

static void test_utf8(void **state)
{
    (void)state;
    assert_true(sky__utf8_valid("héllo €𝄞", strlen("héllo €𝄞")));
    const char *bad[] = {"\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xE2\x82", "\x80",
                         "\xFF"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(sky__utf8_valid(bad[i], strlen(bad[i])));
    size_t l;
    /* truncated 3-byte sequence followed by ASCII: one replacement (maximal subpart) */
    char *r = repaired("a\xE2\x82" "b", 4, &l);
    assert_string_equal(r, "a\xEF\xBF\xBD" "b");
    free(r);
    /* overlong lead C0 is not a lead: each byte replaced */
    r = repaired("\xC0\xAF", 2, &l);
    assert_string_equal(r, "\xEF\xBF\xBD\xEF\xBF\xBD");
    free(r);
    /* surrogate ED A0 80: ED accepts only 80..9F next, so three replacements */
    r = repaired("\xED\xA0\x80", 3, &l);
    assert_int_equal(l, 9);
    free(r);
}

static void test_utf8_word_fast_path(void **state)
{
    (void)state;
    /* an invalid byte or a valid multi-byte character at every offset around the 8-byte words
     * and the 16- and 64-byte blocks (SSE2) */
    char buf[160];
    for (size_t len = 1; len <= 150; len++) {
        for (size_t at = 0; at < len; at++) {
            memset(buf, 'a', len);
            buf[at] = (char)0xFF;
            assert_false(sky__utf8_valid(buf, len));
            buf[at] = (char)0x80; /* a lone continuation byte */
            assert_false(sky__utf8_valid(buf, len));
            if (at + 2 <= len) {
                buf[at] = (char)0xC3; /* é */
                buf[at + 1] = (char)0xA9;
                assert_true(sky__utf8_valid(buf, len));
                buf[at + 1] = 'a'; /* truncated sequence */
                assert_false(sky__utf8_valid(buf, len));
            }
        }
        memset(buf, 'a', len);
        assert_true(sky__utf8_valid(buf, len));
    }
}

/* The copy that checks (the CloudWatch sink's enqueue): the same answer as sky__utf8_valid,
 * every byte copied, nothing read or written outside the n bytes (exact-size allocations:
 * ASan), whatever the length and wherever the first high byte falls around the 16- and
 * 64-byte blocks and the overlapping last 16 bytes. */
static void check_copy_valid(const char *src, size_t len)
{
    char *in = malloc(len ? len : 1), *out = malloc(len + 1);
    assert_non_null(in);
    assert_non_null(out);
    memcpy(in, src, len);
    out[len] = '#';
    assert_int_equal(sky__utf8_copy_valid(out, in, len), sky__utf8_valid(in, len));
    assert_memory_equal(out, in, len);
    assert_int_equal(out[len], '#');
    free(in);
    free(out);
}

static void test_utf8_copy_valid(void **state)
{
    (void)state;
    char buf[210] = {0}; /* GCC -O2 cannot see that check_copy_valid reads only the first len bytes */
    for (size_t len = 0; len <= 200; len++) {
        for (size_t i = 0; i < len; i++)
            buf[i] = (char)('a' + i % 26);
        check_copy_valid(buf, len);
        for (size_t at = 0; at < len; at++) {
            char save = buf[at];
            buf[at] = (char)0xFF;
            check_copy_valid(buf, len); /* invalid */
            buf[at] = (char)0x80;
            check_copy_valid(buf, len); /* a lone continuation byte */
            buf[at] = save;
            if (at + 3 <= len) { /* € spanning every boundary: valid, then truncated */
                char s0 = buf[at], s1 = buf[at + 1], s2 = buf[at + 2];
                memcpy(buf + at, "\xE2\x82\xAC", 3);
                check_copy_valid(buf, len);
                buf[at + 2] = 'x';
                check_copy_valid(buf, len);
                buf[at] = s0, buf[at + 1] = s1, buf[at + 2] = s2;
            }
        }
    }
    /* the answers themselves (check_copy_valid only compares the two functions) */
    char a[100];
    memset(a, 'a', sizeof a);
    char out[100];
    assert_true(sky__utf8_copy_valid(out, a, sizeof a));
    a[99] = (char)0xC3; /* truncated at the very end, in the overlapping tail */
    assert_false(sky__utf8_copy_valid(out, a, sizeof a));
    a[98] = (char)0xC3, a[99] = (char)0xA9;
    assert_true(sky__utf8_copy_valid(out, a, sizeof a));
    assert_memory_equal(out, a, sizeof a);
    /* random mixes of ASCII, characters of 2-4 bytes and invalid bytes */
    srand(7);
    static const char *const pieces[] = {"a", "\"", "\xC3\xA9", "\xE6\x97\xA5", "\xF0\x9F\x98\x80",
                                         "\xFF", "\xC0\xAF", "\xED\xA0\x80", "\xE2\x82", "\x80"};
    for (int round = 0; round < 3000; round++) {
        size_t len = 0, want = (size_t)(rand() % 200);
        while (len < want) {
            bool ascii = rand() % 8;
            const char *p = ascii ? &"abcdefghijklmnop"[rand() % 12]
                                  : pieces[rand() % (sizeof pieces / sizeof pieces[0])];
            size_t l = ascii ? (size_t)(1 + rand() % 4) : strlen(p);
            if (len + l > sizeof buf)
                break;
            memcpy(buf + len, p, l);
            len += l;
        }
        check_copy_valid(buf, len);
    }
}

static void test_json_escape(void **state)
{
    (void)state;
    sky_buf b = {0};
    const char in[] = "q\"b\\n\n\t\x01\x1f\x7f" "é";
    sky__json_str(&b, in, sizeof in - 1);
    char *s = sky__buf_strdup(&b);
    assert_string_equal(s, "\"q\\\"b\\\\n\\n\\t\\u0001\\u001f\\u007fé\"");
    free(s);
    sky__buf_free(&b);
}

static void test_json_valid(void **state)
{
    (void)state;
    const char *good[] = {"1", "-0.5e+3", "\"x\"", "[]", "{}", " {\"a\":[1,true,null,\"\\u00e9\"]} ",
                          "{\"a\":{\"b\":{}}}"};
    const char *bad[] = {"", "01", "{", "[1,]", "{\"a\"}", "tru", "\"\x01\"", "1 2", "{'a':1}",
                         "\"\\x\"", "-", "1."};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(sky__json_valid(good[i], strlen(good[i])));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(sky__json_valid(bad[i], strlen(bad[i])));
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    assert_false(sky__json_valid(deep, 200)); /* depth limit */
}

static void test_iso8601(void **state)
{
    (void)state;
    char ts[SKY_ISO8601_LEN];
    sky__iso8601_ms(ts, 1751114096789000000LL); /* 2025-06-28T12:34:56.789Z */
    assert_memory_equal(ts, "2025-06-28T12:34:56.789Z", 24);
    sky__iso8601_ms(ts, 0);
    assert_memory_equal(ts, "1970-01-01T00:00:00.000Z", 24);
    sky__iso8601_ms(ts, -1000000); /* one ms before the epoch */
    assert_memory_equal(ts, "1969-12-31T23:59:59.999Z", 24);
    sky__iso8601_ms(ts, 951782400000000000LL); /* leap day 2000 */
    assert_memory_equal(ts, "2000-02-29T00:00:00.000Z", 24);
}

/* The timestamp computed from scratch: floor division, gmtime_r, the year clamped as the
 * renderer does. */
static void ref_iso8601(char out[64], int64_t ns)
{
    int64_t sec = ns / 1000000000, rem = ns % 1000000000;
    if (rem < 0) {
        rem += 1000000000;
        sec--;
    }
    time_t t = (time_t)sec;
    struct tm tm;
    gmtime_r(&t, &tm);
    int y = tm.tm_year + 1900;
    y = y < 0 ? 0 : y > 9999 ? 9999 : y;
    snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(rem / 1000000));
}

static void check_iso8601(int64_t ns)
{
    char want[64], got[SKY_ISO8601_LEN];
    ref_iso8601(want, ns);
    sky__iso8601_ms(got, ns);
    if (memcmp(got, want, SKY_ISO8601_LEN) != 0)
        fail_msg("%lld ns: got %.24s, want %s", (long long)ns, got, want);
}

/* The per-millisecond cache: hits, misses, going back in time, the first and last ns of a
 * millisecond, and the two ends of int64 (where a millisecond leaves the range). */
static void test_iso8601_cache(void **state)
{
    (void)state;
    const int64_t base[] = {0, 1751114096789000000LL, -1, -1000000, 951782400000000000LL,
                            INT64_MIN, INT64_MAX, INT64_MIN + 999999, INT64_MAX - 999999,
                            -62135596800000000LL /* year 1 */};
    const int64_t step[] = {0, 1, -1, 999999, 1000000, -999999, -1000000, 1000001, 7};
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++)
        for (size_t j = 0; j < sizeof step / sizeof step[0]; j++)
            for (size_t k = 0; k < sizeof step / sizeof step[0]; k++) {
                int64_t a = base[i], b, c;
                if (__builtin_add_overflow(a, step[j], &b) || __builtin_add_overflow(b, step[k], &c))
                    continue;
                check_iso8601(a);
                check_iso8601(b);
                check_iso8601(c);
                check_iso8601(a);
            }
    /* the two ends, alternately: a cached end must not answer for the other */
    for (int i = 0; i < 3; i++) {
        check_iso8601(INT64_MAX - 100);
        check_iso8601(INT64_MIN + 100);
        check_iso8601(INT64_MAX);
        check_iso8601(INT64_MIN);
    }
    /* a busy logger: increasing times in small random steps, and some random jumps */
    uint64_t x = 88172645463325252ull;
    int64_t t = 1751114096000000000LL;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        t += (int64_t)(x % 300000);
        check_iso8601(t);
        if (i % 1000 == 0)
            check_iso8601((int64_t)x);
    }
}

/* A byte-at-a-time reference for strings made of ASCII, one valid 2-byte sequence and the
 * lone invalid byte 0xFF (one U+FFFD). */
static size_t ref_escape(char *d, const unsigned char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned c = s[i];
        if (c == '"' || c == '\\') {
            d[o++] = '\\';
            d[o++] = (char)c;
        } else if (c == '\n') {
            d[o++] = '\\';
            d[o++] = 'n';
        } else if (c < 0x20 || c == 0x7f) {
            o += (size_t)sprintf(d + o, "\\u%04x", c);
        } else if (c == 0xC3 && i + 1 < n && s[i + 1] == 0xA9) {
            d[o++] = (char)0xC3;
            d[o++] = (char)0xA9;
            i++;
        } else if (c >= 0x80) {
            memcpy(d + o, "\xEF\xBF\xBD", 3);
            o += 3;
        } else {
            d[o++] = (char)c;
        }
    }
    return o;
}

/* The word-at-a-time fast paths against the reference: every length up to 40 (both sides of
 * the 4- and 8-byte boundaries), each special byte at every position, and a 5000-byte string
 * (the run-by-run path). */
static void test_json_escape_fast_paths(void **state)
{
    (void)state;
    static const unsigned char specials[] = {'"', '\\', '\n', 0x01, 0x1f, 0x7f, 0xFF, 0xC3};
    unsigned char in[5000];
    char want[5000 * 6 + 8];
    for (size_t n = 0; n <= 40; n++) {
        for (size_t pos = 0; pos <= n; pos++) {
            for (size_t k = 0; k < sizeof specials + 1; k++) {
                for (size_t i = 0; i < n; i++)
                    in[i] = (unsigned char)('a' + i % 26);
                if (pos < n && k < sizeof specials) {
                    in[pos] = specials[k];
                    if (specials[k] == 0xC3 && pos + 1 < n)
                        in[pos + 1] = 0xA9;
                }
                sky_buf b = {0};
                sky__json_str(&b, (const char *)in, n);
                want[0] = '"';
                size_t wl = 1 + ref_escape(want + 1, in, n);
                want[wl++] = '"';
                assert_int_equal(b.len, wl);
                assert_memory_equal(b.p, want, wl);
                sky__buf_free(&b);
            }
        }
    }
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (unsigned char)(i % 97 == 5 ? '"' : 'a' + i % 26);
    sky_buf b = {0};
    sky__json_str_body(&b, (const char *)in, sizeof in);
    size_t wl = ref_escape(want, in, sizeof in);
    assert_int_equal(b.len, wl);
    assert_memory_equal(b.p, want, wl);
    sky__buf_free(&b);
}

/* Strings over 4 KiB are escaped in chunks; a chunk must never split a UTF-8 sequence, valid
 * or not: the result equals escaping the whole string in one piece. Quote-dense, so the
 * word-at-a-time path stops every few bytes. */
static void test_json_escape_chunks(void **state)
{
    (void)state;
    static const char *const seqs[] = {"\xC3\xA9",         "\xE2\x82\xAC", "\xF0\x9F\x98\x80",
                                       "\xE2\x82",         "\xF0\x9F\x98", "\x80\x80\x80\x80\x80",
                                       "\"\\\x01\xC3\xA9"};
    enum { N = 9000 };
    static unsigned char in[N];
    static char want[6 * N];
    for (size_t q = 0; q < sizeof seqs / sizeof *seqs; q++) {
        for (size_t at = 4096 - 6; at <= 4096 + 1; at++) {
            for (size_t i = 0; i < N; i++)
                in[i] = (unsigned char)(i % 3 == 0 ? '"' : 'a' + i % 26);
            size_t l = strlen(seqs[q]);
            memcpy(in + at, seqs[q], l);
            memcpy(in + at + 4096, seqs[q], l);
            size_t wl = (size_t)(sky__json_escape_slow(want, in, N) - want);
            sky_buf b = {0};
            sky__json_str_body(&b, (const char *)in, N);
            assert_int_equal(b.len, wl);
            assert_memory_equal(b.p, want, wl);
            sky__buf_free(&b);
        }
    }
}

/* The exact block masks (8 bytes: sky__json_plain_mask; 16 bytes with SSE2) flag exactly the
 * bytes JSON strings cannot take as they are, for every byte value in every lane, also next
 * to other such bytes (no carry or borrow between lanes). */
static bool needs_care(unsigned c) { return c < 0x20 || c == '"' || c == '\\' || c >= 0x7f; }

static void test_json_plain_masks(void **state)
{
    (void)state;
    for (unsigned c = 0; c < 256; c++) {
        for (unsigned other = 0; other < 256; other += 17) { /* the other lanes' byte */
            unsigned char in[16];
            for (int lane = 0; lane < 16; lane++) {
                memset(in, (int)other, sizeof in);
                in[lane] = (unsigned char)c;
                uint64_t w;
                memcpy(&w, in + (lane < 8 ? 0 : 8), 8);
                uint64_t m = sky__json_plain_mask(w);
                for (int k = 0; k < 8; k++) {
                    unsigned b = in[(lane < 8 ? 0 : 8) + k];
                    assert_int_equal((m >> (8 * k + 7)) & 1, needs_care(b));
                    assert_int_equal(m >> (8 * k) & 0x7f, 0);
                }
#if defined(__SSE2__)
                unsigned m16 = sky__json_plain_mask16(_mm_loadu_si128((const __m128i *)in));
                for (int k = 0; k < 16; k++)
                    assert_int_equal(m16 >> k & 1, needs_care(in[k]));
#endif
            }
        }
    }
}

/* sky__json_str_body of in[0 .. n) is what ref_escape writes (into want, room 6n). */
static void assert_escapes_as_ref(const unsigned char *in, size_t n, char *want)
{
    sky_buf b = {0};
    sky__json_str_body(&b, (const char *)in, n);
    size_t wl = ref_escape(want, in, n);
    assert_int_equal(b.len, wl);
    assert_memory_equal(b.p, want, wl);
    sky__buf_free(&b);
}

/* Random strings against the reference: every length to 300, many special bytes (quotes,
 * backslashes, control characters, DEL, a valid 2-byte sequence, an invalid byte) at random
 * places and densities, starting at every alignment. */
static void test_json_escape_random(void **state)
{
    (void)state;
    static const unsigned char specials[] = {'"', '\\', '\n', 0x01, 0x1f, 0x7f, 0xFF, 0xC3};
    static unsigned char buf[320];
    static char want[6 * 320 + 8];
    uint64_t x = 88172645463325252ull;
    for (int round = 0; round < 6000; round++) {
        size_t n = (size_t)(round % 301), off = (size_t)(round % 16);
        unsigned density = (unsigned)(round / 301 % 5) * 8; /* 0, 8, 16, 24, 32 in 256 */
        unsigned char *in = buf + off;
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            if ((x & 255) < density) {
                in[i] = specials[(x >> 8) % sizeof specials];
                if (in[i] == 0xC3 && i + 1 < n)
                    in[++i] = 0xA9;
            } else {
                in[i] = (unsigned char)(' ' + (x >> 16) % 95 == '"' ? 'q' : ' ' + (x >> 16) % 95);
                if (in[i] == '\\')
                    in[i] = 'b';
            }
        }
        assert_escapes_as_ref(in, n, want);
    }
}

/* A string's last 1-15 bytes are tested in the 16-byte block (or 8-byte word) that ends the
 * string and copied by overlapping words: each length to 64 in an allocation of exactly its
 * size (ASan reports a read past it), a special byte at each of the last 17 positions or none. */
static void test_json_escape_tails(void **state)
{
    (void)state;
    static const unsigned char specials[] = {'"', '\\', '\n', 0x01, 0x7f, 0xFF};
    static char want[6 * 64 + 8];
    for (size_t n = 1; n <= 64; n++) {
        for (size_t back = 0; back <= 17 && back <= n; back++) {
            for (size_t k = 0; k < sizeof specials; k++) {
                unsigned char *in = malloc(n);
                assert_non_null(in);
                for (size_t i = 0; i < n; i++)
                    in[i] = (unsigned char)('a' + (i * 7) % 26);
                if (back)
                    in[n - back] = specials[k];
                assert_escapes_as_ref(in, n, want);
                free(in);
            }
        }
    }
}

/* The AVX-512 escaper (where the CPU has it) against the SSE2/word path: every test of the
 * escaper again with it off, and long quote-dense strings (JSON inside JSON) both ways, at
 * every alignment, with a byte that stops the 32-byte blocks at every position. */
/* The one hex decoder (SigV4's and the key=value lists' percent-decoding, the audit chain's
 * hashes, trace ids, the server's forms): every byte value as either digit, both modes. */
static void test_unhex_every_byte(void **state)
{
    (void)state;
    for (int c = 0; c < 256; c++) {
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        bool upper = c >= 'A' && c <= 'F';
        char hi[2] = {(char)c, '7'}, lo[2] = {'7', (char)c};
        for (int lower_only = 0; lower_only < 2; lower_only++) {
            bool ok = v >= 0 && !(lower_only && upper);
            uint8_t b = 0;
            assert_int_equal(sky__unhex(hi, 1, &b, lower_only), ok);
            if (ok)
                assert_int_equal(b, v << 4 | 7);
            assert_int_equal(sky__unhex(lo, 1, &b, lower_only), ok);
            if (ok)
                assert_int_equal(b, 0x70 | v);
        }
    }
    uint8_t out[4];
    assert_true(sky__unhex("00fFa9", 3, out, false));
    assert_memory_equal(out, "\x00\xff\xa9", 3);
    assert_false(sky__unhex("00fFa9", 3, out, true));
    assert_false(sky__unhex("0g", 1, out, false)); /* a bad digit anywhere fails the whole */
    assert_false(sky__unhex("abcd0 ", 3, out, false));
}

static void test_json_escape_avx512_same_output(void **state)
{
    (void)state;
    bool has = sky__json_escape_avx512(false);
    test_json_escape_fast_paths(NULL);
    test_json_escape_chunks(NULL);
    test_json_escape_random(NULL);
    sky__json_escape_avx512(true);
    if (!has)
        return; /* the rest compares the two paths */
    static const unsigned char stoppers[] = {'\n', 0x01, 0x7f, 0xFF, 0xC3, 'a'};
    enum { N = 200 };
    static unsigned char buf[N + 64];
    static char a[6 * N + 64], b[6 * N + 64];
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (size_t off = 0; off < 64; off++) {
        for (size_t at = 0; at < N; at += 7) {
            for (size_t k = 0; k < sizeof stoppers; k++) {
                unsigned char *in = buf + off;
                for (size_t i = 0; i < N; i++) {
                    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                    unsigned r = (unsigned)(x & 7);
                    in[i] = r == 0 ? '"' : r == 1 ? '\\' : (unsigned char)('a' + (x >> 8) % 26);
                }
                in[at] = stoppers[k];
                if (stoppers[k] == 0xC3 && at + 1 < N)
                    in[at + 1] = 0xA9;
                sky__json_escape_avx512(false);
                size_t la = (size_t)(sky__json_escape_slow(a, in, N) - a);
                sky__json_escape_avx512(true);
                size_t lb = (size_t)(sky__json_escape_slow(b, in, N) - b);
                assert_int_equal(la, lb);
                assert_memory_equal(a, b, la);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integers),   cmocka_unit_test(test_doubles_short_and_exact),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_utf8_word_fast_path),       cmocka_unit_test(test_json_escape),
        cmocka_unit_test(test_utf8_copy_valid),
        cmocka_unit_test(test_json_valid), cmocka_unit_test(test_iso8601),
        cmocka_unit_test(test_iso8601_cache),
        cmocka_unit_test(test_json_escape_fast_paths), cmocka_unit_test(test_json_escape_chunks),
        cmocka_unit_test(test_json_plain_masks), cmocka_unit_test(test_json_escape_random),
        cmocka_unit_test(test_json_escape_tails),
        cmocka_unit_test(test_json_escape_avx512_same_output),
        cmocka_unit_test(test_unhex_every_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

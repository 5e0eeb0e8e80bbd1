/*
 * text.h - the text primitives renderers share: JSON string escaping with UTF-8 repair,
 * UTF-8 validation, and ISO-8601 timestamps.
 *
 * The one JSON string writer of the library: whoever writes JSON text by hand (the renderers,
 * the core's call-site schemas, the sinks' request bodies, the CLI) escapes through here. It is
 * in util/ because it knows bytes, not events: every layer may use it, and it uses only buf.h.
 *
 * Invalid UTF-8 is never passed through: each byte that does not start a well-formed sequence
 * (overlong forms, surrogates, code points above U+10FFFF, truncated sequences) is replaced by
 * U+FFFD, one per maximal ill-formed subpart, as Python and browsers do.
 * That is what JSON readers and CloudWatch require, and it makes every line we write parseable.
 */
#ifndef SKY_UTIL_TEXT_H
#define SKY_UTIL_TEXT_H

#include "util/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Length of the well-formed UTF-8 sequence at s[0..n), or 0 if it is not one. */
size_t sky__utf8_seq_len(const unsigned char *s, size_t n);
/* True if the whole buffer is well-formed UTF-8. */
bool sky__utf8_valid(const char *s, size_t n);
/* Copies n bytes from src to dst (which must not overlap) and returns whether they are
 * well-formed UTF-8: one pass where a check and a copy were two. ASCII is tested while it is
 * copied, 64 and 16 bytes a step; from the first block with a high byte on, the rest is copied
 * and then validated. dst gets all n bytes whatever the answer. */
bool sky__utf8_copy_valid(char *dst, const char *src, size_t n);
/* Lower-case hex of n bytes: 2n digits, no NUL (out: 2n bytes). The digests' spelling in
 * SigV4 and the audit chain. */
void sky__hex_digits(const uint8_t *in, size_t n, char *out);
/* The same, NUL-terminated (out: 2n + 1 bytes). */
void sky__hex(const uint8_t *in, size_t n, char *out);
/* Decodes 2n hex digits into n bytes (out: n bytes, written whatever the answer); false on any
 * other character. lower_only: only 0-9a-f count as digits (traceparent's "MUST"). */
bool sky__unhex(const char *s, size_t n, uint8_t *out, bool lower_only);
/* FNV-1a (64-bit) of n bytes: the hash of the in-memory name tables (loggers, streams). */
static inline uint64_t sky__fnv1a64(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}
/* Appends s with every invalid byte replaced by U+FFFD. */
void sky__utf8_repair(sky_buf *out, const char *s, size_t n);

/* Appends a JSON string literal (with quotes): escapes '"', '\\', and control characters,
 * repairs invalid UTF-8. */
void sky__json_str(sky_buf *out, const char *s, size_t n);
/* Same, without the surrounding quotes. */
void sky__json_str_body(sky_buf *out, const char *s, size_t n);
/* Strings up to this long may be escaped with sky__json_escape_raw(). */
#define SKY_JSON_DIRECT_MAX 4096
/* Which of the 8 bytes of w (a word loaded from memory) need care: a control character or DEL,
 * '"', '\\', or a byte >= 0x80 (UTF-8 to check). Word-at-a-time ("SWAR") tests: the high bit of
 * every such byte is set; see below for the bytes after one. */
static inline uint64_t sky__special_mask(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
    uint64_t lt = (w - ones * 0x20) & ~w;
    uint64_t qz = (q - ones) & ~q;
    uint64_t bz = (b - ones) & ~b;
    uint64_t d = w ^ (ones * 0x7f);
    uint64_t dz = (d - ones) & ~d;
    return ((lt | qz | bz | dz) & highs) | (w & highs);
}

/* The mask above has the high bit set in every special byte; a borrow can also set it in a
 * byte above (later in memory, little-endian) a special one, never below, so its lowest set bit
 * marks exactly the first special byte. */

/* The same bytes, exactly: the high bit of each byte of the result is set when that byte needs
 * care (no carry crosses bytes: every sum stays below 0x100). The JSON escaper's 8-byte step;
 * for anything that scans text for JSON (renderers, the shipper). */
static inline uint64_t sky__json_plain_mask(uint64_t w)
{
    const uint64_t lo7 = 0x7f7f7f7f7f7f7f7full, ones = 0x0101010101010101ull;
    uint64_t t = w & lo7;
    uint64_t ctl = t + ones * 0x60;        /* high bit: (b & 0x7f) >= 0x20 */
    uint64_t q = (t ^ ones * '"') + lo7;   /* high bit: (b & 0x7f) != '"' */
    uint64_t b = (t ^ ones * '\\') + lo7;  /* ... != '\\' */
    uint64_t del = (t ^ lo7) + lo7;        /* ... != 0x7f */
    return ~(ctl & q & b & del & ~w) & ones * 0x80;
}

#if defined(__SSE2__)
#include <emmintrin.h>
/* The same for 16 bytes: bit i set when byte i needs care (a control character or DEL, '"',
 * '\\', a byte >= 0x80). Signed compare: bytes >= 0x80 are negative, so "< 0x20" takes them
 * too. */
static inline unsigned sky__json_plain_mask16(__m128i x)
{
    __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
                                          _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))),
                             _mm_or_si128(_mm_cmplt_epi8(x, _mm_set1_epi8(0x20)),
                                          _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7f))));
    return (unsigned)_mm_movemask_epi8(m);
}
#endif
static inline bool sky__special_word(uint64_t w) { return sky__special_mask(w) != 0; }

static inline bool sky__special8(const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return sky__special_word(w);
}

/* True if any byte of s[0..n) needs care. Short strings (the usual key or value) are tested
 * as one or two words built from overlapping loads, never reading outside s. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline bool sky__any_special(const unsigned char *s, size_t n)
{
    if (n >= 8) {
        for (size_t i = 0; i + 8 <= n; i += 8)
            if (sky__special8(s + i))
                return true;
        return sky__special8(s + n - 8);
    }
    uint64_t w;
    if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        w = (uint64_t)a | (uint64_t)b << 32;
    } else if (n) {
        w = (uint64_t)s[0] | (uint64_t)s[n / 2] << 8 | (uint64_t)s[n - 1] << 16 |
            0x4141414141000000ull; /* 'A' padding is plain */
    } else {
        return false;
    }
    return sky__special_word(w);
}

char *sky__json_escape_slow(char *d, const unsigned char *s, size_t n);
/* Whether the escaper may use AVX-512 where the CPU has it (the default); returns whether the
 * CPU has it. For tests and benchmarks that compare the paths. */
bool sky__json_escape_avx512(bool on);

/* Escapes s (no quotes) into d, which must have room for 6 * n bytes; returns the end. For
 * renderers that reserve once and write straight into their buffer. Inline: the usual key or
 * value needs no escaping and is one word test and one copy. */
#if defined(__GNUC__)
__attribute__((always_inline)) /* GCC -O2 may otherwise call it from the JSON renderer */
#endif
static inline char *sky__json_escape_raw(char *d, const char *s, size_t n)
{
    /* a short string: tested as one or two words, copied whole; a longer one is copied while
     * it is tested, in one pass */
    if (__builtin_expect(n <= 16 && !sky__any_special((const unsigned char *)s, n), 1)) {
        sky__copy_small(d, s, n);
        return d + n;
    }
    return sky__json_escape_slow(d, (const unsigned char *)s, n);
}

/* Length of the JSON value at the start of s (skipping leading white space), or 0 if s does not
 * hold exactly one well-formed JSON value (trailing white space allowed). Depth-limited. */
bool sky__json_valid(const char *s, size_t n);

/* "2025-06-28T12:34:56.789Z" (24 bytes, no NUL) for Unix nanoseconds. Caches the date part per
 * thread, so consecutive calls within one second cost a few stores. */
void sky__iso8601_ms(char out[24], int64_t unix_ns);
#define SKY_ISO8601_LEN 24

#endif

/*
 * text.c - JSON string escaping, UTF-8 validation/repair, JSON validation, timestamps.
 *
 * The escaper is the innermost loop of every renderer: it copies runs of bytes that need no
 * care (printable ASCII other than '"' and '\\') with one memcpy per run, found 8 bytes at a
 * time with word tests and then through a 256-entry class table, and only slows down for
 * escapes and multi-byte sequences.
 */
#include "util/text.h"

#include <string.h>
#include <time.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#define SKY_ESCAPE_AVX512 1
#include <immintrin.h>
#endif

/* 0: copy as is; 1: needs an escape; 2: start of a multi-byte sequence or invalid byte. */
static const unsigned char byte_class[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
};

static inline size_t seq_len(const unsigned char *s, size_t n);
size_t sky__utf8_seq_len(const unsigned char *s, size_t n) { return seq_len(s, n); }

/* (inline: the escaper calls it for every multi-byte character) */
static inline size_t seq_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    if (c < 0xC2)
        return 0; /* continuation byte or overlong 2-byte lead */
    if (c < 0xE0) {
        return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    }
    if (c < 0xF0) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
            return 0;
        if (c == 0xE0 && s[1] < 0xA0)
            return 0; /* overlong */
        if (c == 0xED && s[1] >= 0xA0)
            return 0; /* UTF-16 surrogate */
        return 3;
    }
    if (c < 0xF5) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && s[1] < 0x90)
            return 0; /* overlong */
        if (c == 0xF4 && s[1] >= 0x90)
            return 0; /* above U+10FFFF */
        return 4;
    }
    return 0;
}

/* Length of the maximal subpart of an ill-formed sequence at s (Unicode 15, section 3.9
 * "U+FFFD Substitution of Maximal Subparts"): a valid lead byte followed by the longest run of
 * bytes that could still have completed it. Always >= 1. This is what Python, browsers and
 * ICU replace with one U+FFFD each. */
static size_t invalid_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    unsigned lo = 0x80, hi = 0xBF;
    size_t need;
    if (c >= 0xC2 && c <= 0xDF)
        need = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        if (c == 0xE0)
            lo = 0xA0;
        if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 1;
    }
    size_t i = 1;
    if (i < n && i <= need && s[i] >= lo && s[i] <= hi) {
        i++;
        while (i < n && i <= need && s[i] >= 0x80 && s[i] <= 0xBF)
            i++;
    }
    return i;
}

bool sky__utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
#if defined(__SSE2__)
        /* ASCII 64 then 16 bytes a test (no high bit set): a shipper checks every line it reads,
         * and most of a line is ASCII */
        while (i + 64 <= n) {
            const __m128i *p = (const __m128i *)(const void *)(s + i);
            __m128i a = _mm_or_si128(_mm_loadu_si128(p), _mm_loadu_si128(p + 1));
            __m128i b = _mm_or_si128(_mm_loadu_si128(p + 2), _mm_loadu_si128(p + 3));
            if (_mm_movemask_epi8(_mm_or_si128(a, b)))
                break;
            i += 64;
        }
        while (i + 16 <= n && !_mm_movemask_epi8(_mm_loadu_si128((const void *)(s + i))))
            i += 16;
#endif
        /* eight ASCII bytes at a time: no high bit set in the word */
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ull)
                break;
            i += 8;
        }
        if (i >= n)
            break;
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t l = sky__utf8_seq_len(s + i, n - i);
        if (!l)
            return false;
        i += l;
    }
    return true;
}

bool sky__utf8_copy_valid(char *dst, const char *src, size_t n)
{
    size_t i = 0;
#if defined(__SSE2__)
    /* Each block is stored before it is tested: the copy is made whatever the test says, and
     * a block before the first high byte ends on a character boundary (ASCII bytes are whole
     * characters), where validation of the rest can start. */
    while (i + 64 <= n) {
        const __m128i *p = (const __m128i *)(const void *)(src + i);
        __m128i *q = (__m128i *)(void *)(dst + i);
        __m128i a = _mm_loadu_si128(p), b = _mm_loadu_si128(p + 1);
        __m128i c = _mm_loadu_si128(p + 2), d = _mm_loadu_si128(p + 3);
        _mm_storeu_si128(q, a);
        _mm_storeu_si128(q + 1, b);
        _mm_storeu_si128(q + 2, c);
        _mm_storeu_si128(q + 3, d);
        if (_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(a, b), _mm_or_si128(c, d))))
            goto rest;
        i += 64;
    }
    while (i + 16 <= n) {
        __m128i a = _mm_loadu_si128((const void *)(src + i));
        _mm_storeu_si128((void *)(dst + i), a);
        if (_mm_movemask_epi8(a))
            goto rest;
        i += 16;
    }
    if (i < n && n >= 16) { /* the last 1-15 bytes: the string's last 16, overlapping */
        __m128i a = _mm_loadu_si128((const void *)(src + n - 16));
        _mm_storeu_si128((void *)(dst + n - 16), a);
        return !_mm_movemask_epi8(a) || sky__utf8_valid(src + i, n - i);
    }
rest:
#endif
    memcpy(dst + i, src + i, n - i);
    return sky__utf8_valid(src + i, n - i);
}

static const char replacement[3] = {(char)0xEF, (char)0xBF, (char)0xBD};

void sky__utf8_repair(sky_buf *out, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, run = 0;
    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t l = sky__utf8_seq_len(s + i, n - i);
        if (l) {
            i += l;
            continue;
        }
        sky__buf_put(out, str + run, i - run);
        sky__buf_put(out, replacement, 3);
        i += invalid_len(s + i, n - i);
        run = i;
    }
    sky__buf_put(out, str + run, n - run);
}

static const char hex_digits[] = "0123456789abcdef";

/* Writes the escape sequence for byte c (class 1) at d; returns its length. */
static inline size_t json_escape(char *d, unsigned c)
{
    d[0] = '\\';
    switch (c) {
    case '"': d[1] = '"'; return 2;
    case '\\': d[1] = '\\'; return 2;
    case '\n': d[1] = 'n'; return 2;
    case '\r': d[1] = 'r'; return 2;
    case '\t': d[1] = 't'; return 2;
    case '\b': d[1] = 'b'; return 2;
    case '\f': d[1] = 'f'; return 2;
    default:
        d[1] = 'u';
        d[2] = '0';
        d[3] = '0';
        d[4] = hex_digits[c >> 4];
        d[5] = hex_digits[c & 15];
        return 6;
    }
}

/* Strings up to SKY_JSON_DIRECT_MAX are escaped straight into the buffer after reserving the
 * worst case (6 bytes out per byte in); longer ones go chunk by chunk (RUN_CHUNK bytes in, the
 * worst case of a chunk reserved), so one huge value does not leave a buffer 6 times its size
 * behind. */

#ifdef SKY_ESCAPE_AVX512
/* AVX-512 (VBMI2: Ice Lake, Zen 4 and later), chosen at run time: 32 bytes a step, whatever
 * the number of quotes and backslashes in them. JSON inside JSON (a shipper's lines) has one
 * every few bytes, so the SSE2 path below spends a store per quote; here a block with any
 * number of them is one permute, one compress and one store. Each input byte is given two
 * output slots, a backslash and itself; the compress keeps the byte's slot always and the
 * backslash's only for '"' and '\\'. A block with a control character, DEL or a byte >= 0x80
 * stops it: the general loop handles that block. Valgrind hides AVX-512, so it runs the
 * SSE2 path there; tests/unit/test_text.c compares both where the CPU has it. */
static bool avx512_cpu, avx512_on;

__attribute__((constructor)) static void detect_avx512(void)
{
    __builtin_cpu_init();
    avx512_cpu = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vbmi") &&
                 __builtin_cpu_supports("avx512vbmi2") && __builtin_cpu_supports("bmi2");
    avx512_on = avx512_cpu;
}

bool sky__json_escape_avx512(bool on)
{
    avx512_on = on && avx512_cpu;
    return avx512_cpu;
}

static const unsigned char dup_index[64] = {
    0,  0,  1,  1,  2,  2,  3,  3,  4,  4,  5,  5,  6,  6,  7,  7,  8,  8,  9,  9,  10, 10,
    11, 11, 12, 12, 13, 13, 14, 14, 15, 15, 16, 16, 17, 17, 18, 18, 19, 19, 20, 20, 21, 21,
    22, 22, 23, 23, 24, 24, 25, 25, 26, 26, 27, 27, 28, 28, 29, 29, 30, 30, 31, 31,
};

/* Escapes 32-byte blocks of s from *pi while they hold nothing but plain bytes, quotes and
 * backslashes, the string's last (shorter) block included; advances *pi, returns the end of
 * the output. The room: written so far <= 6i (every path writes at most 6 bytes a byte); a
 * full block's 64-byte store ends at most at 6i + 64 <= 6n, since i + 32 <= n; the last
 * block's loads and stores are masked to its bytes. */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vbmi,avx512vbmi2,bmi2,popcnt")))
static char *escape_blocks_avx512(char *d, const unsigned char *s, size_t *pi, size_t n)
{
    size_t i = *pi;
    const __m256i quote = _mm256_set1_epi8('"'), bslash = _mm256_set1_epi8('\\');
    const __m256i space = _mm256_set1_epi8(0x20), del = _mm256_set1_epi8(0x7f);
    const __m512i dup = _mm512_loadu_si512((const void *)dup_index);
    const __m512i backslashes = _mm512_set1_epi8('\\');
    while (i < n) {
        size_t r = n - i < 32 ? n - i : 32;
        __mmask32 in = (__mmask32)_bzhi_u32(~0u, (unsigned)r);
        __m256i v = _mm256_maskz_loadu_epi8(in, (const void *)(s + i));
        /* signed: bytes >= 0x80 are below 0x20 too */
        if ((_mm256_cmplt_epi8_mask(v, space) | _mm256_cmpeq_epi8_mask(v, del)) & in)
            break;
        __mmask32 q = (_mm256_cmpeq_epi8_mask(v, quote) | _mm256_cmpeq_epi8_mask(v, bslash)) & in;
        size_t out = r + (size_t)__builtin_popcount(q);
        if (!q) {
            if (r == 32)
                _mm256_storeu_si256((void *)d, v);
            else
                _mm256_mask_storeu_epi8((void *)d, in, v);
        } else {
            __m512i w = _mm512_permutexvar_epi8(dup, _mm512_castsi256_si512(v));
            w = _mm512_mask_mov_epi8(w, 0x5555555555555555ull, backslashes);
            __mmask64 keep = 0xAAAAAAAAAAAAAAAAull | _pdep_u64(q, 0x5555555555555555ull);
            w = _mm512_maskz_compress_epi8(keep, w);
            if (r == 32)
                _mm512_storeu_si512((void *)d, w);
            else
                _mm512_mask_storeu_epi8((void *)d, (__mmask64)_bzhi_u64(~0ull, (unsigned)out), w);
        }
        d += out;
        i += r;
    }
    *pi = i;
    return d;
}
#else
bool sky__json_escape_avx512(bool on)
{
    (void)on;
    return false;
}
#endif

/* Escapes s into d (which has room for 6 * n bytes); returns the end. Plain bytes go 16 at a
 * time (SSE2, which every x86-64 has; 8 at a time elsewhere): each block is stored whole
 * (room allows it: the output so far is at most 6 times the input so far, and at least 16
 * input bytes remain) and tested at once, exactly per byte (sky__json_plain_mask), and the
 * output advances to the block's first byte that needs care, found from the mask's lowest
 * bit. So plain text costs about one instruction a byte, and a quote or a multi-byte
 * character one block test and its own handling, not a byte loop; a block whose only special
 * bytes are quotes and backslashes (JSON inside JSON) has all of them escaped at once. */
/* The loop, made twice (avx a constant in each): with the AVX-512 block call in its loop,
 * the loop without AVX-512 (valgrind, older CPUs) cost the mix's worker 30 instructions an
 * event more (callgrind, bench/RESULTS.md session 5) */
__attribute__((always_inline)) static inline char *escape_loop(char *d, const unsigned char *s,
                                                               size_t n, bool avx)
{
    (void)avx;
    size_t i = 0;
#ifdef SKY_ESCAPE_AVX512
    /* The block it stopped at is left to the paths below, and it is tried again further on,
     * the further the less it could do: text full of UTF-8 hardly uses it at all. */
    size_t avx_from = 0, avx_skip = 32;
#endif
    while (i < n) {
        size_t k; /* plain bytes before the next one that needs care */
#ifdef SKY_ESCAPE_AVX512
        if (avx && i >= avx_from) {
            size_t from = i;
            d = escape_blocks_avx512(d, s, &i, n);
            if (i >= n)
                break;
            avx_skip = i - from >= 64 ? 32 : avx_skip < 1024 ? 2 * avx_skip : 1024;
            avx_from = i + avx_skip;
        }
#endif
#if defined(__SSE2__)
        /* sixteen bytes a test where SSE2 is there (every x86-64): long messages (a shipper's
         * lines) spend most of their time here */
        if (i + 16 <= n) {
            /* written so far <= 6i, and 6i + 16 <= 6n: the 16-byte store has room */
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
            _mm_storeu_si128((__m128i *)(void *)d, v);
            unsigned m = sky__json_plain_mask16(v);
            if (!m) {
                d += 16;
                i += 16;
                continue;
            }
            /* Only '"' and '\\' (JSON inside JSON, escaped paths): all of the block's at once,
             * each plain run copied by one 16-byte store that the next one overwrites. The
             * loads stay inside s (i + 32 <= n); the stores inside the room (the block writes
             * at most 32 bytes, plus 16 of overlap, and 6i + 48 <= 6n). */
            unsigned qb = (unsigned)_mm_movemask_epi8(
                _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                             _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
            if (qb == m && i + 32 <= n) {
                unsigned pos = 0;
                do {
                    unsigned q = (unsigned)__builtin_ctz(qb);
                    _mm_storeu_si128((__m128i *)(void *)d,
                                     _mm_loadu_si128((const __m128i *)(const void *)(s + i + pos)));
                    d += q - pos;
                    d[0] = '\\';
                    d[1] = (char)s[i + q];
                    d += 2;
                    pos = q + 1;
                    qb &= qb - 1;
                } while (qb);
                _mm_storeu_si128((__m128i *)(void *)d,
                                 _mm_loadu_si128((const __m128i *)(const void *)(s + i + pos)));
                d += 16 - pos;
                i += 16;
                continue;
            }
            k = (size_t)__builtin_ctz(m);
        } else if (n >= 16) {
            /* the last 1-15 bytes: tested in the block that ends the string (whose first
             * bytes were done already and are shifted out of the mask), the plain ones
             * copied by overlapping words, not byte by byte */
            size_t rem = n - i;
            unsigned m = sky__json_plain_mask16(
                             _mm_loadu_si128((const __m128i *)(const void *)(s + n - 16))) >>
                         (16 - rem);
            k = m ? (size_t)__builtin_ctz(m) : rem;
            sky__copy_small(d, (const char *)s + i, k);
        } else
#endif
        if (i + 8 <= n) {
            /* written so far <= 6i, and 6i + 8 <= 6n: the 8-byte store has room */
            uint64_t w;
            memcpy(&w, s + i, 8);
            memcpy(d, &w, 8);
            uint64_t m = sky__json_plain_mask(w);
            if (!m) {
                d += 8;
                i += 8;
                continue;
            }
            k = (size_t)__builtin_ctzll(m) >> 3;
        } else if (n >= 8) {
            /* the last 1-7 bytes, the same way in the word that ends the string */
            size_t rem = n - i;
            uint64_t w;
            memcpy(&w, s + n - 8, 8);
            uint64_t m = sky__json_plain_mask(w) >> (8 * (8 - rem));
            k = m ? (size_t)__builtin_ctzll(m) >> 3 : rem;
            sky__copy_small(d, (const char *)s + i, k);
        } else {
            k = 0;
            while (i + k < n && byte_class[s[i + k]] == 0) {
                d[k] = (char)s[i + k];
                k++;
            }
        }
        d += k;
        i += k;
        if (i >= n)
            break;
        unsigned c = s[i];
        if (c == '"' || c == '\\') {
            d[0] = '\\';
            d[1] = (char)c;
            d += 2;
            i++;
            continue;
        }
        if (byte_class[c] == 1) {
            d += json_escape(d, c);
            i++;
            continue;
        }
        size_t l = seq_len(s + i, n - i);
        if (l) {
            /* 2 to 4 bytes, without a memcpy call of a length the compiler does not know */
            d[0] = (char)s[i], d[1] = (char)s[i + 1];
            if (l > 2) {
                d[2] = (char)s[i + 2];
                if (l > 3)
                    d[3] = (char)s[i + 3];
            }
            d += l;
            i += l;
        } else {
            memcpy(d, replacement, 3);
            d += 3;
            i += invalid_len(s + i, n - i);
        }
    }
    return d;
}

char *sky__json_escape_slow(char *d, const unsigned char *s, size_t n)
{
#ifdef SKY_ESCAPE_AVX512
    if (avx512_on)
        return escape_loop(d, s, n, true);
#endif
    return escape_loop(d, s, n, false);
}

/* Inline fast path (nothing to escape or check: the usual key or value), call otherwise. */
static inline void json_body_direct(sky_buf *out, const unsigned char *s, size_t n)
{
    out->len = (size_t)(sky__json_escape_raw(out->p + out->len, (const char *)s, n) - out->p);
}

/* Long strings: escaped chunk by chunk, each into room reserved once for it (6 bytes out per
 * byte in). A chunk never ends inside a UTF-8 sequence: it ends before the lead byte of one
 * that would straddle, so sequences are judged as if the string were escaped in one piece. */
#define RUN_CHUNK 4096
static void json_body_runs(sky_buf *out, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        size_t e = n;
        if (n - i > RUN_CHUNK) {
            e = i + RUN_CHUNK;
            /* a sequence is at most 4 bytes: a lead among the last 3 bytes (or s[e] itself)
             * starts the next chunk; continuation bytes with no lead that close are stray */
            for (size_t k = 0; k < 4; k++) {
                if ((s[e - k] & 0xC0) != 0x80) {
                    e -= k;
                    break;
                }
            }
        }
        if (!sky__buf_reserve(out, 6 * (e - i)))
            return;
        out->len = (size_t)(sky__json_escape_slow(out->p + out->len, s + i, e - i) - out->p);
        i = e;
    }
}

void sky__json_str_body(sky_buf *out, const char *str, size_t n)
{
    if (n <= SKY_JSON_DIRECT_MAX) {
        if (sky__buf_reserve(out, n * 6))
            json_body_direct(out, (const unsigned char *)str, n);
        return;
    }
    json_body_runs(out, str, n);
}

void sky__json_str(sky_buf *out, const char *s, size_t n)
{
    if (n <= SKY_JSON_DIRECT_MAX) {
        if (!sky__buf_reserve(out, n * 6 + 2))
            return;
        out->p[out->len++] = '"';
        json_body_direct(out, (const unsigned char *)s, n);
        out->p[out->len++] = '"';
        return;
    }
    sky__buf_putc(out, '"');
    json_body_runs(out, s, n);
    sky__buf_putc(out, '"');
}

/* ---- JSON validation (for raw fragments) ------------------------------------------------ */

typedef struct {
    const char *s;
    size_t n, i;
    int depth;
} jv;

static void jv_ws(jv *p)
{
    while (p->i < p->n &&
           (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

static bool jv_value(jv *p);

/* The four hex digits at s[at], or -1. */
static long jv_hex4(const jv *p, size_t at)
{
    if (p->n < 4 || at > p->n - 4)
        return -1;
    long v = 0;
    for (size_t k = 0; k < 4; k++) {
        char h = p->s[at + k];
        int d = h >= '0' && h <= '9'   ? h - '0'
                : h >= 'a' && h <= 'f' ? h - 'a' + 10
                : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static bool jv_string(jv *p)
{
    if (p->i >= p->n || p->s[p->i] != '"')
        return false;
    p->i++;
    while (p->i < p->n) {
        unsigned char c = (unsigned char)p->s[p->i];
        if (c == '"') {
            p->i++;
            return true;
        }
        if (c < 0x20)
            return false;
        if (c == '\\') {
            p->i++;
            if (p->i >= p->n)
                return false;
            char e = p->s[p->i];
            if (e == 'u') {
                /* A surrogate must be a high one followed by a low one: a lone "\ud800" is in
                 * RFC 8259's grammar but names no character, and strict readers (jansson,
                 * serde_json) refuse the whole line. Such a fragment is written as a string. */
                long u = jv_hex4(p, p->i + 1);
                if (u < 0 || (u >= 0xdc00 && u <= 0xdfff))
                    return false;
                p->i += 5;
                if (u >= 0xd800 && u <= 0xdbff) {
                    long lo = p->i + 1 < p->n && p->s[p->i] == '\\' && p->s[p->i + 1] == 'u'
                                  ? jv_hex4(p, p->i + 2)
                                  : -1;
                    if (lo < 0xdc00 || lo > 0xdfff)
                        return false;
                    p->i += 6;
                }
                continue;
            }
            if (!strchr("\"\\/bfnrt", e) || e == 0)
                return false;
            p->i++;
            continue;
        }
        if (c >= 0x80) {
            size_t l = sky__utf8_seq_len((const unsigned char *)p->s + p->i, p->n - p->i);
            if (!l)
                return false;
            p->i += l;
            continue;
        }
        p->i++;
    }
    return false;
}

static bool jv_digits(jv *p)
{
    size_t st = p->i;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
        p->i++;
    return p->i > st;
}

static bool jv_number(jv *p)
{
    if (p->i < p->n && p->s[p->i] == '-')
        p->i++;
    if (p->i < p->n && p->s[p->i] == '0')
        p->i++;
    else if (!jv_digits(p))
        return false;
    if (p->i < p->n && p->s[p->i] == '.') {
        p->i++;
        if (!jv_digits(p))
            return false;
    }
    if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        p->i++;
        if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-'))
            p->i++;
        if (!jv_digits(p))
            return false;
    }
    return true;
}

static bool jv_lit(jv *p, const char *lit)
{
    size_t l = strlen(lit);
    if (p->n - p->i < l || memcmp(p->s + p->i, lit, l) != 0)
        return false;
    p->i += l;
    return true;
}

static bool jv_value(jv *p)
{
    jv_ws(p);
    if (p->i >= p->n)
        return false;
    char c = p->s[p->i];
    if (c == '{' || c == '[') {
        if (++p->depth > 64)
            return false;
        char close = c == '{' ? '}' : ']';
        p->i++;
        jv_ws(p);
        if (p->i < p->n && p->s[p->i] == close) {
            p->i++;
            p->depth--;
            return true;
        }
        for (;;) {
            if (c == '{') {
                jv_ws(p);
                if (!jv_string(p))
                    return false;
                jv_ws(p);
                if (p->i >= p->n || p->s[p->i] != ':')
                    return false;
                p->i++;
            }
            if (!jv_value(p))
                return false;
            jv_ws(p);
            if (p->i >= p->n)
                return false;
            if (p->s[p->i] == ',') {
                p->i++;
                continue;
            }
            if (p->s[p->i] == close) {
                p->i++;
                p->depth--;
                return true;
            }
            return false;
        }
    }
    if (c == '"')
        return jv_string(p);
    if (c == 't')
        return jv_lit(p, "true");
    if (c == 'f')
        return jv_lit(p, "false");
    if (c == 'n')
        return jv_lit(p, "null");
    return jv_number(p);
}

bool sky__json_valid(const char *s, size_t n)
{
    jv p = {s, n, 0, 0};
    if (!jv_value(&p))
        return false;
    jv_ws(&p);
    return p.i == n;
}

/* ---- timestamps --------------------------------------------------------------------------- */

static _Thread_local int64_t cached_sec = INT64_MIN;
static _Thread_local char cached_prefix[20]; /* "YYYY-MM-DDTHH:MM:SS" */
/* The whole text of the last millisecond: a busy logger writes thousands of events in one.
 * cached_ms_start is that millisecond's first nanosecond, so a hit costs one subtraction and
 * one compare instead of a division. It starts as a valid entry (the epoch's first
 * millisecond) rather than with a "nothing cached" mark that every call would have to test.
 * initial-exec, as in core/context.c: without it, code built for the shared library reaches
 * these through a __tls_get_addr call, and the hit path pays a call frame. */
static _Thread_local __attribute__((tls_model("initial-exec"))) int64_t cached_ms_start = 0;
static _Thread_local __attribute__((tls_model("initial-exec"))) char
    cached_full[SKY_ISO8601_LEN] = "1970-01-01T00:00:00.000Z";

static void iso8601_ms_slow(char out[24], int64_t unix_ns);

void sky__iso8601_ms(char out[24], int64_t unix_ns)
{
    /* unsigned: ns before the cached millisecond wrap around to a large difference */
    if ((uint64_t)unix_ns - (uint64_t)cached_ms_start < 1000000) {
        memcpy(out, cached_full, SKY_ISO8601_LEN);
        return;
    }
    iso8601_ms_slow(out, unix_ns);
}

static __attribute__((noinline)) void iso8601_ms_slow(char out[24], int64_t unix_ns)
{
    int64_t sec = unix_ns / 1000000000;
    int64_t rem = unix_ns % 1000000000;
    if (rem < 0) {
        rem += 1000000000;
        sec -= 1;
    }
    if (sec != cached_sec) {
        time_t t = (time_t)sec;
        struct tm tm;
        gmtime_r(&t, &tm);
        int y = tm.tm_year + 1900;
        if (y < 0)
            y = 0;
        if (y > 9999)
            y = 9999;
        char *p = cached_prefix;
        p[0] = (char)('0' + y / 1000);
        p[1] = (char)('0' + y / 100 % 10);
        p[2] = (char)('0' + y / 10 % 10);
        p[3] = (char)('0' + y % 10);
        p[4] = '-';
        p[5] = (char)('0' + (tm.tm_mon + 1) / 10);
        p[6] = (char)('0' + (tm.tm_mon + 1) % 10);
        p[7] = '-';
        p[8] = (char)('0' + tm.tm_mday / 10);
        p[9] = (char)('0' + tm.tm_mday % 10);
        p[10] = 'T';
        p[11] = (char)('0' + tm.tm_hour / 10);
        p[12] = (char)('0' + tm.tm_hour % 10);
        p[13] = ':';
        p[14] = (char)('0' + tm.tm_min / 10);
        p[15] = (char)('0' + tm.tm_min % 10);
        p[16] = ':';
        p[17] = (char)('0' + tm.tm_sec / 10);
        p[18] = (char)('0' + tm.tm_sec % 10);
        cached_sec = sec;
    }
    memcpy(out, cached_prefix, 19);
    int ms = (int)(rem / 1000000);
    out[19] = '.';
    out[20] = (char)('0' + ms / 100);
    out[21] = (char)('0' + ms / 10 % 10);
    out[22] = (char)('0' + ms % 10);
    out[23] = 'Z';
    /* Not within a millisecond of either end of int64: there the millisecond's first ns (or
     * its last) lies outside int64, and the unsigned test above would wrap into the other end. */
    if (unix_ns >= INT64_MIN + 1000000 && unix_ns <= INT64_MAX - 1000000) {
        memcpy(cached_full, out, SKY_ISO8601_LEN);
        cached_ms_start = unix_ns - rem % 1000000;
    }
}

void sky__hex_digits(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
}

void sky__hex(const uint8_t *in, size_t n, char *out)
{
    sky__hex_digits(in, n, out);
    out[2 * n] = '\0';
}

/* Digit value + 1 of each byte, 0 for a non-digit: one load a character. */
#define HEX_LC                                                                                     \
    ['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7, ['7'] = 8,       \
    ['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16
static const uint8_t hex_lc[256] = {HEX_LC};
static const uint8_t hex_any[256] = {HEX_LC, ['A'] = 11, ['B'] = 12, ['C'] = 13,
                                     ['D'] = 14, ['E'] = 15, ['F'] = 16};

bool sky__unhex(const char *s, size_t n, uint8_t *out, bool lower_only)
{
    const uint8_t *t = lower_only ? hex_lc : hex_any;
    const unsigned char *u = (const unsigned char *)s;
    unsigned bad = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned hi = t[u[2 * i]], lo = t[u[2 * i + 1]];
        bad |= (hi == 0) | (lo == 0);
        out[i] = (uint8_t)((hi - 1) << 4 | (lo - 1));
    }
    return !bad;
}

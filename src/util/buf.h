/*
 * buf.h - a growable byte buffer, and the small append helpers renderers are built from.
 * It sits in src/util, below every other layer: the core, the encoders and the AWS layer all
 * build their text with it.
 *
 * A sky_buf owns its memory. Appends grow it geometrically, so a buffer reused across events
 * (reset, not freed) stops allocating once it has seen the largest event. Append functions never
 * fail visibly: on out-of-memory the buffer sets `oom` and ignores further appends, and the
 * caller checks `oom` once at the end (a renderer turns that into a counted drop).
 * The content is always NUL-terminated once anything was appended (one extra byte is kept),
 * so it can be handed to C string functions without a copy.
 */
#ifndef SKY_UTIL_BUF_H
#define SKY_UTIL_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct sky_buf {
    union {
        char *p;
        char *data;
    };
    size_t len;
    size_t cap;
    bool oom;
    bool fixed; /* a view of memory the buffer does not own: growing fails (sets oom) */
} sky_buf;

bool sky__buf_grow(sky_buf *b, size_t extra);
void sky__buf_free(sky_buf *b);

static inline void sky__buf_reset(sky_buf *b)
{
    b->len = 0;
    b->oom = false;
}

/* Room for `extra` more bytes plus the terminating NUL. */
static inline bool sky__buf_reserve(sky_buf *b, size_t extra)
{
    if (b->cap - b->len > extra)
        return !b->oom;
    return sky__buf_grow(b, extra + 1);
}

/* memcpy without a call for the short pieces renderers append (keys, punctuation, small
 * values): overlapping word copies for 1..16 bytes, memcpy beyond. */
static inline void sky__copy_small(char *d, const char *s, size_t n)
{
    if (n >= 8 && n <= 16) {
        uint64_t a, z;
        memcpy(&a, s, 8);
        memcpy(&z, s + n - 8, 8);
        memcpy(d, &a, 8);
        memcpy(d + n - 8, &z, 8);
    } else if (n >= 4 && n < 8) {
        uint32_t a, z;
        memcpy(&a, s, 4);
        memcpy(&z, s + n - 4, 4);
        memcpy(d, &a, 4);
        memcpy(d + n - 4, &z, 4);
    } else if (n >= 2 && n < 4) {
        uint16_t a, z;
        memcpy(&a, s, 2);
        memcpy(&z, s + n - 2, 2);
        memcpy(d, &a, 2);
        memcpy(d + n - 2, &z, 2);
    } else if (n == 1) {
        *d = *s;
    } else if (n > 16) {
        memcpy(d, s, n);
    }
}

static inline void sky__buf_put(sky_buf *b, const void *src, size_t n)
{
    if (n == 0 || !sky__buf_reserve(b, n))
        return;
    sky__copy_small(b->p + b->len, (const char *)src, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static inline void sky__buf_append(sky_buf *b, const void *src, size_t n) { sky__buf_put(b, src, n); }

static inline void sky__buf_putc(sky_buf *b, char c)
{
    if (!sky__buf_reserve(b, 1))
        return;
    b->p[b->len++] = c;
    b->p[b->len] = '\0';
}

#define sky__buf_lit(b, s) sky__buf_put((b), (s), sizeof(s) - 1)

static inline void sky__buf_puts(sky_buf *b, const char *s) { sky__buf_put(b, s, strlen(s)); }

/* Decimal integers written at d (room for 20 / 21 bytes); return the end. */
char *sky__u64_raw(char *d, uint64_t v);
char *sky__i64_raw(char *d, int64_t v);
/* Decimal integers, without printf. */
void sky__buf_i64(sky_buf *b, int64_t v);
void sky__buf_u64(sky_buf *b, uint64_t v);
/* A finite double in the shortest form that reads back to the same value. The raw form
 * writes at d (room for SKY_F64_MAX bytes) and returns the end. */
#define SKY_F64_MAX 32
void sky__buf_f64(sky_buf *b, double v);
char *sky__f64_raw(char *d, double v);
/* The same for any double, or NULL (nothing written) for NaN and the infinities, which JSON
 * numbers cannot be: cheaper than testing first, for renderers. */
char *sky__f64_raw_finite(char *d, double v);
/* For tests: the 128-bit scaled power of ten sky__f64_raw uses for 10^-k (see buf.c), as
 * g[0] = high, g[1] = low 64 bits; -324 <= k <= 292. */
void sky__f64_pow10_g(int k, uint64_t g[2]);
/* printf-style append, for cold paths only (diagnostics, config errors). */
void sky__buf_printf(sky_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Returns a NUL-terminated copy of the contents (malloc'd), or NULL. */
char *sky__buf_strdup(const sky_buf *b);
/* The contents as a C string: "" for an empty buffer, NULL only when out of memory. */
const char *sky__buf_cstr(sky_buf *b);
/* Hands the malloc'd contents to the caller (NULL on oom) and leaves the buffer empty. */
char *sky__buf_steal(sky_buf *b);
/* Zeroes the contents before freeing: for buffers that held secrets. */
void sky__buf_wipe(sky_buf *b);

#endif

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

static inline void sky__buf_put(sky_buf *b, const void *src, size_t n)
{
    if (n == 0 || !sky__buf_reserve(b, n))
        return;
    memcpy(b->p + b->len, src, n);
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

/* Decimal integers, without printf. */
void sky__buf_i64(sky_buf *b, int64_t v);
void sky__buf_u64(sky_buf *b, uint64_t v);
/* A finite double in the shortest form that reads back to the same value. */
void sky__buf_f64(sky_buf *b, double v);
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

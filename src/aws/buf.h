/*
 * buf.h - a growable byte buffer for the AWS layer: canonical requests, form bodies, URLs.
 *
 * Not for the logging hot path (it allocates). A buffer that failed to grow stays in an error
 * state (oom = true) and ignores further appends, so callers may build a whole string and check
 * once at the end. The content is always NUL-terminated when len > 0 or after sky__buf_cstr().
 */
#ifndef SKY_AWS_BUF_H
#define SKY_AWS_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct sky__buf {
    char *data;
    size_t len, cap;
    bool oom;
} sky__buf;

void sky__buf_append(sky__buf *b, const void *p, size_t n);
void sky__buf_puts(sky__buf *b, const char *s);
void sky__buf_putc(sky__buf *b, char c);
void sky__buf_printf(sky__buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Never NULL unless out of memory: "" for an empty buffer. */
const char *sky__buf_cstr(sky__buf *b);
/* Hands the malloc'd string to the caller (NULL on oom) and resets the buffer. */
char *sky__buf_steal(sky__buf *b);
void sky__buf_free(sky__buf *b);
/* Overwrites the content with zeros before freeing: for buffers that held secrets. */
void sky__buf_wipe(sky__buf *b);

#endif

/*
 * buf.c - growable byte buffer (see buf.h). Doubles its capacity; never shrinks.
 */
#include "aws/buf.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool buf_reserve(sky__buf *b, size_t extra)
{
    if (b->oom)
        return false;
    if (b->len + extra + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1) {
        if (cap > ((size_t)-1) / 2) {
            b->oom = true;
            return false;
        }
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void sky__buf_append(sky__buf *b, const void *p, size_t n)
{
    if (!buf_reserve(b, n))
        return;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void sky__buf_puts(sky__buf *b, const char *s)
{
    if (s)
        sky__buf_append(b, s, strlen(s));
}

void sky__buf_putc(sky__buf *b, char c)
{
    sky__buf_append(b, &c, 1);
}

void sky__buf_printf(sky__buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = true;
        return;
    }
    if ((size_t)n < sizeof small) {
        sky__buf_append(b, small, (size_t)n);
        return;
    }
    if (!buf_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

const char *sky__buf_cstr(sky__buf *b)
{
    if (b->oom)
        return NULL;
    if (!b->data) {
        if (!buf_reserve(b, 0))
            return NULL;
        b->data[0] = '\0';
    }
    return b->data;
}

char *sky__buf_steal(sky__buf *b)
{
    char *p = NULL;
    if (!b->oom && sky__buf_cstr(b))
        p = b->data;
    else
        free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = false;
    return p;
}

void sky__buf_free(sky__buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = false;
}

void sky__buf_wipe(sky__buf *b)
{
    if (b->data)
        OPENSSL_cleanse(b->data, b->cap); /* memset could be optimised away */
    sky__buf_free(b);
}

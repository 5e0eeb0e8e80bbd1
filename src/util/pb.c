/*
 * pb.c - the protobuf wire format (see pb.h).
 */
#include "util/pb.h"
#include "util/text.h"

#include <string.h>

size_t sky__pb_varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

uint8_t *sky__pb_varint_raw(uint8_t *d, uint64_t v)
{
    while (v >= 0x80) {
        *d++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *d++ = (uint8_t)v;
    return d;
}

void sky__pb_varint(sky_buf *b, uint64_t v)
{
    if (!sky__buf_reserve(b, 10))
        return;
    uint8_t *start = (uint8_t *)b->p;
    b->len = (size_t)(sky__pb_varint_raw(start + b->len, v) - start);
    b->p[b->len] = '\0';
}

void sky__pb_tag(sky_buf *b, uint32_t field, int wire)
{
    sky__pb_varint(b, (uint64_t)field << 3 | (unsigned)wire);
}

void sky__pb_uint(sky_buf *b, uint32_t field, uint64_t v)
{
    sky__pb_tag(b, field, SKY_PB_VARINT);
    sky__pb_varint(b, v);
}

/* A little-endian fixed-width field of n bytes. */
static void fixed(sky_buf *b, uint32_t field, int wire, uint64_t v, int n)
{
    uint8_t le[8];
    for (int i = 0; i < n; i++)
        le[i] = (uint8_t)(v >> (8 * i));
    sky__pb_tag(b, field, wire);
    sky__buf_put(b, le, (size_t)n);
}

void sky__pb_fixed64(sky_buf *b, uint32_t field, uint64_t v)
{
    fixed(b, field, SKY_PB_I64, v, 8);
}

void sky__pb_double(sky_buf *b, uint32_t field, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    sky__pb_fixed64(b, field, u);
}

void sky__pb_fixed32(sky_buf *b, uint32_t field, uint32_t v)
{
    fixed(b, field, SKY_PB_I32, v, 4);
}

void sky__pb_bytes(sky_buf *b, uint32_t field, const void *p, size_t n)
{
    sky__pb_tag(b, field, SKY_PB_LEN);
    sky__pb_varint(b, n);
    sky__buf_put(b, p, n);
}

void sky__pb_string(sky_buf *b, uint32_t field, const char *s, size_t n)
{
    if (sky__utf8_valid(s, n)) {
        sky__pb_bytes(b, field, s, n);
        return;
    }
    size_t mark = sky__pb_open(b, field);
    sky__utf8_repair(b, s, n);
    sky__pb_close(b, mark);
}

size_t sky__pb_open(sky_buf *b, uint32_t field)
{
    sky__pb_tag(b, field, SKY_PB_LEN);
    sky__buf_putc(b, 0);
    return b->len; /* where the content starts; its length byte is just before */
}

void sky__pb_close(sky_buf *b, size_t mark)
{
    if (b->oom || mark > b->len)
        return;
    size_t n = b->len - mark, extra = sky__pb_varint_size(n) - 1;
    if (extra) {
        if (!sky__buf_reserve(b, extra))
            return;
        memmove(b->p + mark + extra, b->p + mark, n);
        b->len += extra;
        b->p[b->len] = '\0';
    }
    sky__pb_varint_raw((uint8_t *)b->p + mark - 1, n);
}

bool sky__pb_read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    const uint8_t *q = *p;
    for (int shift = 0; shift < 64; shift += 7) {
        if (q >= end)
            return false;
        uint8_t c = *q++;
        if (shift == 63 && c > 1) /* the 10th byte holds bit 63 only */
            return false;
        x |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *p = q;
            *v = x;
            return true;
        }
    }
    return false;
}

/* Reads a tag and its value into f. -1 malformed. */
static int read_one(sky_pb_reader *r, sky_pb_field *f)
{
    uint64_t tag;
    if (!sky__pb_read_varint(&r->p, r->end, &tag) || tag >> 3 == 0 ||
        tag >> 3 > SKY_PB_MAX_FIELD)
        return -1;
    f->num = (uint32_t)(tag >> 3);
    f->wire = (int)(tag & 7);
    f->u = 0;
    f->data = NULL;
    f->len = 0;
    switch (f->wire) {
    case SKY_PB_VARINT: return sky__pb_read_varint(&r->p, r->end, &f->u) ? 1 : -1;
    case SKY_PB_I64:
    case SKY_PB_I32: {
        size_t w = f->wire == SKY_PB_I64 ? 8 : 4;
        if ((size_t)(r->end - r->p) < w)
            return -1;
        for (size_t i = 0; i < w; i++)
            f->u |= (uint64_t)r->p[i] << (8 * i);
        r->p += w;
        return 1;
    }
    case SKY_PB_LEN: {
        uint64_t n;
        if (!sky__pb_read_varint(&r->p, r->end, &n) || n > (uint64_t)(r->end - r->p))
            return -1;
        f->data = r->p;
        f->len = (size_t)n;
        r->p += n;
        return 1;
    }
    case SKY_PB_SGROUP:
    case SKY_PB_EGROUP: return 1;
    default: return -1;
    }
}

int sky__pb_next(sky_pb_reader *r, sky_pb_field *f)
{
    for (;;) {
        if (r->p >= r->end)
            return 0;
        if (read_one(r, f) < 0)
            return -1;
        if (f->wire == SKY_PB_EGROUP)
            return -1; /* an end without its start */
        if (f->wire != SKY_PB_SGROUP)
            return 1;
        /* Skip the group: count nesting (no recursion); the end must name the same field. */
        uint32_t open[32];
        size_t depth = 0;
        open[depth++] = f->num;
        while (depth) {
            sky_pb_field g;
            if (r->p >= r->end || read_one(r, &g) < 0)
                return -1;
            if (g.wire == SKY_PB_SGROUP) {
                if (depth == sizeof open / sizeof open[0])
                    return -1;
                open[depth++] = g.num;
            } else if (g.wire == SKY_PB_EGROUP) {
                if (open[--depth] != g.num)
                    return -1;
            }
        }
    }
}

/*
 * pb.h - the protobuf wire format, by hand: what OTLP/HTTP protobuf needs and no more
 * (no schema, no generated code, no dependency). The writer appends varints, fixed-width
 * numbers and length-delimited fields to a sky_buf; the reader walks one message's fields and
 * skips what it does not know, as protobuf requires of every parser.
 *
 * Nested messages are written in place: sky__pb_open() writes the tag and a one-byte length,
 * sky__pb_close() fills it in and, only for a message of 128 bytes or more, moves its content
 * up to make room for a longer varint. Messages are closed innermost first, so each is moved
 * at most once per level, and the short ones (a KeyValue, an AnyValue) never.
 *
 * The reader never allocates and never recurses: a group (wire types 3/4, proto2's, which no
 * OTLP sender writes but a parser must still skip) is skipped by counting its nesting.
 * Everything read is checked against the end of the message it is in.
 */
#ifndef SKY_UTIL_PB_H
#define SKY_UTIL_PB_H

#include "util/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { SKY_PB_VARINT = 0, SKY_PB_I64 = 1, SKY_PB_LEN = 2, SKY_PB_SGROUP = 3, SKY_PB_EGROUP = 4,
       SKY_PB_I32 = 5 };

/* The largest field number protobuf allows (2^29 - 1). */
#define SKY_PB_MAX_FIELD 536870911u

/* Bytes the varint encoding of v takes (1..10). */
size_t sky__pb_varint_size(uint64_t v);
/* Writes v's varint at d (room for 10 bytes); returns the end. */
uint8_t *sky__pb_varint_raw(uint8_t *d, uint64_t v);

void sky__pb_varint(sky_buf *b, uint64_t v);
void sky__pb_tag(sky_buf *b, uint32_t field, int wire);
/* field = varint v (int64 values as their two's complement: 10 bytes when negative). */
void sky__pb_uint(sky_buf *b, uint32_t field, uint64_t v);
void sky__pb_fixed64(sky_buf *b, uint32_t field, uint64_t v);
void sky__pb_fixed32(sky_buf *b, uint32_t field, uint32_t v);
void sky__pb_double(sky_buf *b, uint32_t field, double v);
/* field = length-delimited bytes, as they are. */
void sky__pb_bytes(sky_buf *b, uint32_t field, const void *p, size_t n);
/* field = a string: invalid UTF-8 is repaired (U+FFFD), as proto3 strings must be UTF-8. */
void sky__pb_string(sky_buf *b, uint32_t field, const char *s, size_t n);
/* Opens a nested message as `field`; returns what sky__pb_close() needs. */
size_t sky__pb_open(sky_buf *b, uint32_t field);
void sky__pb_close(sky_buf *b, size_t mark);

/* ---- reading ------------------------------------------------------------------------------ */

typedef struct sky_pb_reader {
    const uint8_t *p, *end;
} sky_pb_reader;

typedef struct sky_pb_field {
    uint32_t num;
    int wire;
    uint64_t u;          /* VARINT, I64, I32 */
    const uint8_t *data; /* LEN */
    size_t len;
} sky_pb_field;

static inline sky_pb_reader sky__pb_reader(const void *p, size_t n)
{
    return (sky_pb_reader){(const uint8_t *)p, (const uint8_t *)p + n};
}

/* Reads a varint; false if it runs past end or is longer than 10 bytes / 64 bits. */
bool sky__pb_read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v);
/* The next field of the message: 1 read, 0 at its end, -1 malformed (a bad tag or wire type,
 * field number 0, a value running past the end, an unmatched end of group). Groups are
 * skipped whole and never returned. */
int sky__pb_next(sky_pb_reader *r, sky_pb_field *f);

#endif

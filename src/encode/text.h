/*
 * text.h - the text primitives renderers share: JSON string escaping with UTF-8 repair,
 * UTF-8 validation, and ISO-8601 timestamps.
 *
 * Invalid UTF-8 is never passed through: each byte that does not start a well-formed sequence
 * (overlong forms, surrogates, code points above U+10FFFF, truncated sequences) is replaced by
 * U+FFFD, one per maximal ill-formed subpart, as Python and browsers do.
 * That is what JSON readers and CloudWatch require, and it makes every line we write parseable.
 */
#ifndef SKY_ENCODE_TEXT_H
#define SKY_ENCODE_TEXT_H

#include "core/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Length of the well-formed UTF-8 sequence at s[0..n), or 0 if it is not one. */
size_t sky__utf8_seq_len(const unsigned char *s, size_t n);
/* True if the whole buffer is well-formed UTF-8. */
bool sky__utf8_valid(const char *s, size_t n);
/* Appends s with every invalid byte replaced by U+FFFD. */
void sky__utf8_repair(sky_buf *out, const char *s, size_t n);

/* Appends a JSON string literal (with quotes): escapes '"', '\\', and control characters,
 * repairs invalid UTF-8. */
void sky__json_str(sky_buf *out, const char *s, size_t n);
/* Same, without the surrounding quotes. */
void sky__json_str_body(sky_buf *out, const char *s, size_t n);
/* Strings up to this long may be escaped with sky__json_escape_raw(). */
#define SKY_JSON_DIRECT_MAX 4096
/* Escapes s (no quotes) into d, which must have room for 6 * n bytes; returns the end. For
 * renderers that reserve once and write straight into their buffer. */
char *sky__json_escape_raw(char *d, const char *s, size_t n);

/* Length of the JSON value at the start of s (skipping leading white space), or 0 if s does not
 * hold exactly one well-formed JSON value (trailing white space allowed). Depth-limited. */
bool sky__json_valid(const char *s, size_t n);

/* "2025-06-28T12:34:56.789Z" (24 bytes, no NUL) for Unix nanoseconds. Caches the date part per
 * thread, so consecutive calls within one second cost a few stores. */
void sky__iso8601_ms(char out[24], int64_t unix_ns);
#define SKY_ISO8601_LEN 24

#endif

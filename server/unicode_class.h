/*
 * unicode_class.h - Unicode character classes the CloudWatch APIs' patterns name (\p{L}, \p{N},
 * \p{Z}), without a locale: serve validates tag keys and values as AWS's Java regexes do.
 */
#ifndef SKY_SERVE_UNICODE_CLASS_H
#define SKY_SERVE_UNICODE_CLASS_H

#include <stdbool.h>
#include <stdint.h>

/* True when code point cp is in general category L (letter), N (number) or Z (separator). */
bool sky__unicode_is_lnz(uint32_t cp);

#endif

/*
 * plain.h - field values as unquoted text for logfmt and the pretty console (see plain.c).
 */
#ifndef SKY_ENCODE_PLAIN_H
#define SKY_ENCODE_PLAIN_H

#include "core/event.h"

typedef struct sky__plain_style {
    void (*str)(sky_buf *b, const char *s, size_t n); /* writes text, quoting as the format needs */
    const char *pos_inf, *neg_inf;                      /* how infinities are spelled */
} sky__plain_style;

void sky__plain_value(sky_buf *b, const sky_field *f, const sky__plain_style *style);

#endif

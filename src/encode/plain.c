/*
 * plain.c - field values as unquoted text, for the human-facing formats (logfmt, pretty).
 * The JSON renderer has its own typed writer; these two formats differ only in how they
 * quote strings and spell infinities, which the style says. An errno value is the same text
 * in every format, JSON's: "ENOENT: No such file or directory" ("errno 1234" when the C
 * library has no name for it), quoted as each format quotes text.
 */
#include "encode/plain.h"
#include "util/text.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void sky__plain_value(sky_buf *b, const sky_field *f, const sky__plain_style *style)
{
    char tmp[SKY_ISO8601_LEN];
    switch (f->type) {
    case SKY_T_STR:
    case SKY_T_JSON: style->str(b, f->v.str.ptr, f->v.str.len); break;
    case SKY_T_INT: sky__buf_i64(b, f->v.i); break;
    case SKY_T_UINT: sky__buf_u64(b, f->v.u); break;
    case SKY_T_F64:
        if (isnan(f->v.f))
            sky__buf_lit(b, "NaN");
        else if (isinf(f->v.f))
            sky__buf_puts(b, f->v.f > 0 ? style->pos_inf : style->neg_inf);
        else
            sky__buf_f64(b, f->v.f);
        break;
    case SKY_T_BOOL: sky__buf_puts(b, f->v.b ? "true" : "false"); break;
    case SKY_T_TIME:
        sky__iso8601_ms(tmp, f->v.ns);
        sky__buf_put(b, tmp, sizeof tmp);
        break;
    case SKY_T_DUR:
        sky__buf_f64(b, (double)f->v.ns / 1e6);
        sky__buf_lit(b, "ms");
        break;
    case SKY_T_ERRNO: {
        char text[160];
        const char *name = strerrorname_np(f->v.err);
        const char *desc = strerrordesc_np(f->v.err);
        int n = name ? snprintf(text, sizeof text, "%s: %s", name, desc ? desc : "")
                     : snprintf(text, sizeof text, "errno %d", f->v.err);
        style->str(b, text, n < 0 ? 0 : (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
        break;
    }
    default: sky__buf_lit(b, "null"); break;
    }
}

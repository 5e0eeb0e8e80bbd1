/*
 * plain.c - field values as unquoted text, for the human-facing formats (logfmt, pretty).
 * The JSON renderer has its own typed writer; these two formats differ only in how they
 * quote strings, spell infinities and show errno values, which the style says.
 */
#include "encode/plain.h"
#include "encode/text.h"

#include <math.h>
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
        const char *name = strerrorname_np(f->v.err);
        if (!name) {
            sky__buf_i64(b, f->v.err);
            break;
        }
        sky__buf_puts(b, name);
        if (style->errno_text) {
            const char *desc = strerrordesc_np(f->v.err);
            sky__buf_putc(b, '(');
            sky__buf_puts(b, desc ? desc : "");
            sky__buf_putc(b, ')');
        }
        break;
    }
    default: sky__buf_lit(b, "null"); break;
    }
}

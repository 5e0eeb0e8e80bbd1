/*
 * pretty.c - the console renderer for humans:
 *
 *     12:34:56.789 INFO  [checkout] user_login           user=alice id=42 ms=1.5
 *
 * Time is UTC (the same clock as the JSON output, so lines can be matched). The event name is
 * padded so keys line up across lines. With colour, levels, names and keys are highlighted.
 * Every control character (including ESC) in user text is escaped: a log line must never be
 * able to drive the terminal.
 */
#include "core/internal.h"
#include "encode/text.h"

#include <math.h>
#include <string.h>

#define NAME_WIDTH 24

#define C_RESET "\x1b[0m"
#define C_DIM "\x1b[2m"
#define C_BOLD "\x1b[1m"
#define C_KEY "\x1b[36m"

static const char *const level_colour[SKY_LEVEL_COUNT_] = {
    "\x1b[2m", "\x1b[34m", "\x1b[32m", "\x1b[33m", "\x1b[31m", "\x1b[1;41;97m", "",
};

/* Text for a terminal: bare when safe, otherwise quoted with JSON escapes. */
static void pretty_str(sky_buf *b, const char *s, size_t n)
{
    bool bare = n > 0;
    for (size_t i = 0; i < n && bare; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c == '"' || c == '\\' || c == 0x7f)
            bare = false;
    }
    if (bare && sky__utf8_valid(s, n))
        sky__buf_put(b, s, n);
    else
        sky__json_str(b, s, n);
}

static void pretty_value(sky_buf *b, const sky_field *f)
{
    char tmp[SKY_ISO8601_LEN];
    switch (f->type) {
    case SKY_T_STR:
    case SKY_T_JSON: pretty_str(b, f->v.str.ptr, f->v.str.len); break;
    case SKY_T_INT: sky__buf_i64(b, f->v.i); break;
    case SKY_T_UINT: sky__buf_u64(b, f->v.u); break;
    case SKY_T_F64:
        if (isnan(f->v.f))
            sky__buf_lit(b, "NaN");
        else if (isinf(f->v.f))
            sky__buf_puts(b, f->v.f > 0 ? "Infinity" : "-Infinity");
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
        const char *desc = strerrordesc_np(f->v.err);
        if (name) {
            sky__buf_puts(b, name);
            sky__buf_putc(b, '(');
            sky__buf_puts(b, desc ? desc : "");
            sky__buf_putc(b, ')');
        } else {
            sky__buf_i64(b, f->v.err);
        }
        break;
    }
    default: sky__buf_lit(b, "null"); break;
    }
}

void sky__render_pretty(const sky_event *ev, sky_buf *b, bool color)
{
    char ts[SKY_ISO8601_LEN];
    sky__iso8601_ms(ts, ev->ts_ns);
    if (color)
        sky__buf_lit(b, C_DIM);
    sky__buf_put(b, ts + 11, 12); /* HH:MM:SS.mmm */
    if (color)
        sky__buf_lit(b, C_RESET);
    sky__buf_putc(b, ' ');
    const char *lv = sky_level_name(ev->level);
    size_t lvl_len = strlen(lv);
    if (color && (unsigned)ev->level < SKY_LEVEL_COUNT_)
        sky__buf_puts(b, level_colour[ev->level]);
    sky__buf_put(b, lv, lvl_len);
    if (color)
        sky__buf_lit(b, C_RESET);
    for (size_t i = lvl_len; i < 5; i++)
        sky__buf_putc(b, ' ');
    sky__buf_lit(b, " [");
    if (ev->logger_len)
        pretty_str(b, ev->logger, ev->logger_len);
    else
        sky__buf_lit(b, "root");
    sky__buf_lit(b, "] ");
    if (color)
        sky__buf_lit(b, C_BOLD);
    size_t before = b->len;
    pretty_str(b, ev->name, ev->name_len);
    size_t width = b->len - before;
    if (color)
        sky__buf_lit(b, C_RESET);
    if (ev->n) {
        for (size_t i = width; i < NAME_WIDTH; i++)
            sky__buf_putc(b, ' ');
    }
    for (size_t i = 0; i < ev->n; i++) {
        const sky_field *f = &ev->fields[i];
        sky__buf_putc(b, ' ');
        if (color)
            sky__buf_lit(b, C_KEY);
        pretty_str(b, f->key, f->key_len);
        if (color)
            sky__buf_lit(b, C_RESET);
        sky__buf_putc(b, '=');
        pretty_value(b, f);
    }
    sky__buf_putc(b, '\n');
}

/*
 * pretty.c - the console renderer for humans:
 *
 *     12:34:56.789 INFO     [checkout] user_login           user=alice id=42 ms=1.5
 *
 * Time is UTC (the same clock as the JSON output, so lines can be matched). The event name is
 * padded so keys line up across lines. With colour, levels, names and keys are highlighted.
 * Every control character (including ESC and the C1 controls) and every mark that reorders a
 * line in user text is escaped (util/termsafe.h): a log line must never be able to drive the
 * terminal.
 */
#include "encode/render.h"
#include "encode/plain.h"
#include "util/termsafe.h"
#include "util/text.h"

#include <string.h>

#define NAME_WIDTH 24
#define LEVEL_WIDTH 8 /* CRITICAL, the longest level name: every column after it lines up */

#define C_RESET "\x1b[0m"
#define C_DIM "\x1b[2m"
#define C_BOLD "\x1b[1m"
#define C_KEY "\x1b[36m"

static const char *const level_colour[SKY_LEVEL_COUNT_] = {
    "\x1b[2m", "\x1b[34m", "\x1b[32m", "\x1b[33m", "\x1b[31m", "\x1b[1;41;97m", "",
};

/* Text for a terminal: bare when safe, otherwise quoted with JSON escapes. JSON leaves
 * everything from U+0080 up as it is, so text with such characters also goes through
 * termsafe's JSON rule (util/termsafe.h): the C1 controls (U+009B is a CSI) and the marks that
 * reorder a line become \u escapes too, as everywhere else skylog shows untrusted text. */
static void pretty_str(sky_buf *b, const char *s, size_t n)
{
    bool bare = n > 0, high = false;
    size_t chars = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c == '"' || c == '\\' || c == 0x7f)
            bare = false;
        high |= c >= 0x80;
        chars += (c & 0xc0) != 0x80;
    }
    /* valid UTF-8 with nothing hidden: each character takes one column (termsafe's count) */
    if (bare && (!high || (sky__utf8_valid(s, n) &&
                          sky__termsafe(NULL, s, n, SKY__TERMSAFE_LINE) == chars))) {
        sky__buf_put(b, s, n);
        return;
    }
    if (!high) {
        sky__json_str(b, s, n);
        return;
    }
    sky_buf q = {0};
    sky__json_str(&q, s, n);
    if (q.oom)
        b->oom = true;
    else
        sky__termsafe(b, q.data, q.len, SKY__TERMSAFE_JSON);
    sky__buf_free(&q);
}

static const sky__plain_style pretty_style = {
    .str = pretty_str, .pos_inf = "Infinity", .neg_inf = "-Infinity"};

void sky__render_pretty(const sky_event *ev, sky_buf *b, bool color)
{
    sky__event_ready(ev);
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
    for (size_t i = lvl_len; i < LEVEL_WIDTH; i++)
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
        sky__plain_value(b, f, &pretty_style);
    }
    sky__buf_putc(b, '\n');
}

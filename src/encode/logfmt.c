/*
 * logfmt.c - the logfmt renderer: `ts=... level=info logger=app msg=user_login k=v ...`.
 *
 * Values are bare when they are made only of safe printable characters, and quoted with JSON
 * escapes otherwise (spaces, '=', quotes, control characters, empty values), so a line always
 * splits back into the same pairs. Key characters outside [A-Za-z0-9_.-] become '_'.
 */
#include "encode/render.h"
#include "encode/plain.h"
#include "util/text.h"

#include <string.h>

static bool bare_ok(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c == '=' || c == '"' || c == '\\' || c >= 0x7f)
            return false;
    }
    return true;
}

static void lf_str(sky_buf *b, const char *s, size_t n)
{
    if (bare_ok(s, n))
        sky__buf_put(b, s, n);
    else
        sky__json_str(b, s, n);
}

static void lf_key(sky_buf *b, const char *k, size_t n)
{
    if (!sky__buf_reserve(b, n + 1))
        return;
    for (size_t i = 0; i < n; i++) {
        char c = k[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-';
        b->p[b->len++] = ok ? c : '_';
    }
    b->p[b->len] = '\0';
    if (n == 0)
        sky__buf_putc(b, '_');
}

static const sky__plain_style lf_style = {.str = lf_str, .pos_inf = "+Inf", .neg_inf = "-Inf"};

void sky__render_logfmt(const sky_event *ev, sky_buf *b)
{
    sky__event_ready(ev);
    char ts[SKY_ISO8601_LEN];
    sky__iso8601_ms(ts, ev->ts_ns);
    sky__buf_lit(b, "ts=");
    sky__buf_put(b, ts, sizeof ts);
    sky__buf_lit(b, " level=");
    const char *lv = sky_level_name(ev->level);
    for (const char *p = lv; *p; p++)
        sky__buf_putc(b, (char)(*p | 0x20));
    sky__buf_lit(b, " logger=");
    if (ev->logger_len)
        lf_str(b, ev->logger, ev->logger_len);
    else
        sky__buf_lit(b, "root");
    sky__buf_lit(b, " msg=");
    lf_str(b, ev->name, ev->name_len);
    for (size_t i = 0; i < ev->n; i++) {
        sky__buf_putc(b, ' ');
        lf_key(b, ev->fields[i].key, ev->fields[i].key_len);
        sky__buf_putc(b, '=');
        sky__plain_value(b, &ev->fields[i], &lf_style);
    }
    sky__buf_putc(b, '\n');
}

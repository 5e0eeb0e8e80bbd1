/*
 * console.c - the console sink: pretty, coloured lines on a terminal; JSON (or logfmt) when the
 * output is a pipe or file, so `app | jq` just works.
 *
 * Colour follows the no-color.org convention: NO_COLOR set (to anything non-empty) turns it off
 * in auto mode; color=1 forces it. A batch is written with one write(2) where possible, so lines
 * from concurrent processes do not interleave mid-line.
 */
#include "core/reserved.h"
#include "encode/render.h"
#include "sinks/fdio.h"

#include <stdlib.h>
#include <unistd.h>

typedef struct console {
    int fd;
    bool pretty;
    bool color;
    sky_buf buf;
    uint64_t bytes;
} console;

static sky_status console_write(void *self, const sky_record *recs, size_t n)
{
    console *c = self;
    sky__buf_reset(&c->buf);
    for (size_t i = 0; i < n; i++) {
        if (c->pretty)
            sky__render_pretty(recs[i].event, &c->buf, c->color);
        else
            sky__buf_put(&c->buf, recs[i].text, recs[i].len);
    }
    if (c->buf.oom)
        return SKY_ENOMEM;
    if (!sky__write_all(c->fd, c->buf.p, c->buf.len))
        return SKY_EIO;
    c->bytes += c->buf.len;
    if (c->buf.cap > (1u << 20)) /* do not keep a huge buffer after one huge event */
        sky__buf_free(&c->buf);
    return SKY_OK;
}

static void console_close(void *self)
{
    console *c = self;
    sky__buf_free(&c->buf);
    free(c);
}

static void console_stats(void *self, sky_sink_stats *out) { out->bytes = ((console *)self)->bytes; }

static const sky_sink_vtable console_vt = {
    .type = "console", .write = console_write, .close = console_close, .stats = console_stats,
};

sky_sink *sky_sink_console(const sky_console_opts *opts)
{
    sky_console_opts o = opts ? *opts : (sky_console_opts){0};
    if (SKY__CHECK_RESERVED(&o, sky_console_opts, NULL, NULL) != SKY_OK)
        return NULL;
    console *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->fd = o.fd > 2 ? o.fd : (o.stream == SKY_STDOUT ? STDOUT_FILENO : STDERR_FILENO);
    bool tty = isatty(c->fd) == 1;
    sky_format f = o.format;
    if (f == SKY_FORMAT_AUTO)
        f = tty ? SKY_FORMAT_PRETTY : SKY_FORMAT_JSON;
    c->pretty = f == SKY_FORMAT_PRETTY;
    const char *no_color = getenv("NO_COLOR");
    c->color = o.color > 0 || (o.color == 0 && tty && !(no_color && *no_color));
    return sky_sink_new(&console_vt, c, c->pretty ? SKY_FORMAT_NONE : f);
}

/*
 * render.c - the renderers' table the core calls through (core/event.h: sky__renderer).
 *
 * The core names no renderer (it is below them); sky_sink_new gives each sink this table.
 */
#include "encode/render.h"

/* The console's renderer decides colour itself; a line for any other sink has none. */
static void render_pretty_plain(const sky_event *ev, sky_buf *out)
{
    sky__render_pretty(ev, out, false);
}

const sky__renderer sky__renderers = {
    .line = {[SKY_FORMAT_JSON] = sky__render_json,
             [SKY_FORMAT_PRETTY] = render_pretty_plain,
             [SKY_FORMAT_LOGFMT] = sky__render_logfmt},
    .site_at = sky__render_site_at,
};

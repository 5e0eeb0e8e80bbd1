/*
 * sink.c - sky_sink_new: a sink's vtable, its format and the renderers of that format.
 *
 * It lives above the core on purpose: the core's router renders each event for its sinks, but
 * the renderers are above the core (src/encode), so the sink carries them (sky_sink.render)
 * and the core calls through that table without naming an encoder. Every sink, the library's
 * and the user's, is made here, so none lacks its renderers.
 */
#include "core/pipeline.h"
#include "encode/render.h"

#include <stdlib.h>

sky_sink *sky_sink_new(const sky_sink_vtable *vt, void *self, sky_format format)
{
    if (!vt || !vt->write || (unsigned)format >= SKY_FORMAT_COUNT_) {
        if (vt && vt->close)
            vt->close(self);
        return NULL;
    }
    sky_sink *s = calloc(1, sizeof *s);
    if (!s) {
        if (vt->close)
            vt->close(self);
        return NULL;
    }
    s->vt = vt;
    s->self = self;
    s->format = format == SKY_FORMAT_AUTO ? SKY_FORMAT_JSON : format;
    s->render = s->format == SKY_FORMAT_NONE ? NULL : &sky__renderers;
    return s;
}

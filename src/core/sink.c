/*
 * sink.c - using a sink on its own, outside a pipeline (a shipper that feeds the CloudWatch
 * sink directly, tests). A pipeline never calls these for the sinks it owns.
 */
#include "core/pipeline.h"

#include <stdlib.h>

sky_status sky_sink_flush(sky_sink *s, int64_t timeout_ms)
{
    if (!s)
        return SKY_EINVAL;
    if (!s->vt->flush)
        return SKY_OK;
    return s->vt->flush(s->self, sky_monotonic_ns() + (timeout_ms < 0 ? 0 : timeout_ms) * 1000000);
}

void sky_sink_close(sky_sink *s)
{
    if (!s)
        return;
    if (s->vt->close)
        s->vt->close(s->self);
    free(s->name);
    free(s);
}

/*
 * errmsg.c - an entry point's error message that has no caller's buffer to go to is said on the
 * diagnostics (see errmsg.h for the rule and why it is one helper).
 */
#include "core/errmsg.h"

#include "core/pipeline.h"

#include <stdlib.h>

sky_status sky__errmsg_route(sky_t *sky, sky_status st, char *msg)
{
    if (msg && *msg)
        sky__diag(sky, SKY_LEVEL_ERROR, "%s", msg);
    free(msg);
    return st;
}

sky_status sky__errbuf_route(sky_t *sky, sky_status st, const char *buf)
{
    if (st != SKY_OK && buf && *buf)
        sky__diag(sky, SKY_LEVEL_ERROR, "%s", buf);
    return st;
}

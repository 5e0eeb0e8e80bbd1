/*
 * reserved.c - refuses options structs whose reserved space is not zero (see reserved.h for
 * why). The message says which struct, which slot, and both ways it happens: a struct not
 * zero-initialised, or a member from a newer skylog header this library does not know.
 */
#include "core/reserved.h"

#include "core/errmsg.h"
#include "core/pipeline.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool sky__reserved_msg(const void *reserved, size_t size, const char *type, char *buf,
                       size_t len)
{
    const unsigned char *p = reserved;
    size_t i = 0;
    while (i < size && p[i] == 0)
        i++;
    if (i == size)
        return false;
    if (len)
        snprintf(buf, len,
                 "%s: reserved_[%zu] is not zero; zero-initialise the struct (a designated "
                 "initialiser or = {0}), or, if a newer skylog header gave that slot a meaning, "
                 "use a library at least as new (this is skylog %s)",
                 type, i / sizeof(uint64_t), SKYLOG_VERSION);
    return true;
}

sky_status sky__reserved_check(const void *reserved, size_t size, const char *type, sky_t *sky,
                               char **errmsg)
{
    char msg[320];
    if (!sky__reserved_msg(reserved, size, type, msg, sizeof msg))
        return SKY_OK;
    if (errmsg) {
        *errmsg = strdup(msg);
        return SKY_EINVAL;
    }
    return sky__errbuf_route(sky, SKY_EINVAL, msg);
}

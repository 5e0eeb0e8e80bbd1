/*
 * logger.h - loggers: the registry's named loggers and bound loggers, and their levels.
 *
 * Included by src/core and the layers above it (config sets levels through it).
 */
#ifndef SKY_CORE_LOGGER_H
#define SKY_CORE_LOGGER_H

#include "core/event.h"

/* ---- loggers -------------------------------------------------------------------------------- */

struct sky_logger {
    struct sky__logger_hdr hdr; /* must be first: sky_enabled() reads it */
    sky_t *sky;
    char *name;
    size_t name_len;
    int explicit_level;       /* -1 when inherited */
    bool bound;               /* made by sky_logger_bind(), owned by the user */
    struct sky_logger *base;  /* bound loggers: the registered logger they derive from */
    sky_field *fields;        /* bound fields (deep copy, one allocation with their strings) */
    size_t n_fields;
    sky__frag frag;           /* bound loggers of an async pipeline without lazy fields: the
                                 fields site records reference (fields == this->fields) */
    sky__frag *bfrag;         /* &frag for those, else NULL */
    sky__retired ret;         /* released while site records may reference it */
    struct sky_logger *next;  /* registry list, or the list of bound loggers */
    struct sky_logger *prev;
};

void sky__loggers_free(sky_t *sky);
/* sky_logger_get and sky_set_level on a given pipeline (NULL: the logger that logs nothing, and
 * SKY_ENOMEM). The public functions, where NULL means the default pipeline, are config's
 * (config/env.c): the core knows nothing of how the default pipeline is configured. */
sky_logger *sky__logger_get(sky_t *sky, const char *name);
sky_status sky__set_level(sky_t *sky, const char *name, sky_level level);

#endif

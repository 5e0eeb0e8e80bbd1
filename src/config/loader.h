/*
 * loader.h - the YAML loader behind sky_open_file()/sky_open_yaml(), with the extras that
 * sky_open_env() (environment overrides) and `skylog config check` (a summary of what was
 * built) need. Internal; not installed.
 */
#ifndef SKY_CONFIG_LOADER_H
#define SKY_CONFIG_LOADER_H

#include <skylog.h>

#include <stdbool.h>
#include <stddef.h>

#include "config/registry.h"

/* Values that win over the file's top-level keys: the pipeline's own variables (SKYLOG_LEVEL,
 * SKYLOG_MODE, SKYLOG_RING_BYTES, ...), parsed by sky_open_env(). */
#define SKY__OVERRIDES_MAX 16
typedef struct sky__config_overrides {
    size_t n;
    const sky__opt *rows[SKY__OVERRIDES_MAX]; /* rows of sky__config_pipeline */
    sky__value vals[SKY__OVERRIDES_MAX];
    const char *from[SKY__OVERRIDES_MAX]; /* the variable, for `config check`'s summary */
} sky__config_overrides;

/* Parses and builds. `name` is used in messages ("skylog.yaml"). `ov` may be NULL. When
 * `summary` is not NULL it receives a malloc'd description of the pipeline built (free() it).
 * Everything else as sky_open_yaml(). */
sky_status sky__config_load(const char *name, const char *text, size_t len,
                            const sky__config_overrides *ov, sky_t **out, char **summary,
                            char **errmsg);

/* Reads `path` and calls sky__config_load(). */
sky_status sky__config_load_file(const char *path, const sky__config_overrides *ov, sky_t **out,
                                 char **summary, char **errmsg);

#endif

/*
 * basic.c - the smallest useful skylog program: one pipeline, one logger, typed fields.
 *
 *   ./example_basic            pretty lines on a terminal, JSON lines when piped
 *   SKYLOG_FORMAT=json ./example_basic
 */
#include <skylog.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    char *err = NULL;
    sky_t *sky = sky_open_env(&err);
    if (!sky) {
        fprintf(stderr, "example_basic: %s\n", err);
        free(err);
        return 1;
    }
    sky_logger *log = sky_logger_get(sky, "checkout");

    sky_info(log, "service_started", SKY_STR("version", SKYLOG_VERSION), SKY_BOOL("ready", true));
    sky_info(log, "user_login", SKY_STR("user", "alice"), SKY_INT("id", 42), SKY_F64("ms", 1.5));
    sky_warn(log, "cache_miss", SKY_STR("key", "user:42"), SKY_DUR("lookup", 2500000));
    sky_error(log, "open_failed", SKY_STR("path", "/etc/missing.conf"), SKY_ERRNO("error", ENOENT));
    sky_debug(log, "not_shown_at_info"); /* below the default level: costs one load and a branch */

    return sky_close(sky) == SKY_OK ? 0 : 1;
}

/*
 * config.c - a pipeline from a YAML file (skylog/config.h, docs/CONFIGURATION.md).
 *
 *   ./example_config my.yaml
 *   SKYLOG_CONFIG=my.yaml ./example_basic          (the same, through sky_open_env())
 *
 * examples/skylog.yaml shows every section; it appends to /var/log/shop.jsonl and its
 * CloudWatch sink needs a region (AWS_REGION), as `skylog config check` will tell you.
 *
 * A wrong file is refused with the file, line, column and option:
 *   skylog.yaml:4:27: sinks[1].file: unknown option 'max_byte' (did you mean 'max_bytes'?)
 */
#include <skylog.h>
#include <skylog/config.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: example_config FILE.yaml\n");
        return 2;
    }
    sky_t *sky;
    char *err = NULL;
    if (sky_open_file(argv[1], &sky, &err) != SKY_OK) {
        fprintf(stderr, "example_config: %s\n", err);
        free(err);
        return 1;
    }
    sky_logger *app = sky_logger_get(sky, "app"), *db = sky_logger_get(sky, "app.db");
    sky_info(app, "order_placed", SKY_STR("order", "A-17"), SKY_F64("total", 42.5));
    sky_debug(app, "cart_recomputed");                       /* below the root level (info) */
    sky_debug(db, "query", SKY_STR("sql", "SELECT 1"));       /* loggers: app.db: debug */
    sky_warn(app, "payment_slow", SKY_INT("ms", 1800), SKY_STR("api_key", "sk-123")); /* redacted */
    return sky_close(sky) == SKY_OK ? 0 : 1;
}

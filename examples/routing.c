/*
 * routing.c - several sinks on one pipeline, each with its own level and filter:
 * everything at DEBUG and above to a JSON-lines file, WARN and above to the console, and
 * "audit.*" events to a second file.
 *
 *   ./example_routing [DIR]     files are written in DIR (default: the current directory)
 */
#include <skylog.h>

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>

static bool only_audit(void *user, const sky_event *ev)
{
    (void)user;
    return fnmatch("audit.*", sky_event_name(ev), 0) == 0;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    char all_path[4096], audit_path[4096];
    snprintf(all_path, sizeof all_path, "%s/app.jsonl", dir);
    snprintf(audit_path, sizeof audit_path, "%s/audit.jsonl", dir);

    sky_t *sky = NULL;
    if (sky_open(&(sky_options){.level = SKY_LEVEL_DEBUG, .level_set = true}, &sky) != SKY_OK)
        return 1;
    sky_sink *all, *audit;
    char *err = NULL;
    if (sky_sink_file(&(sky_file_opts){.path = all_path, .max_bytes = 10 << 20}, &all, &err) ||
        sky_sink_file(&(sky_file_opts){.path = audit_path}, &audit, &err)) {
        fprintf(stderr, "example_routing: %s\n", err);
        free(err);
        sky_close(sky);
        return 1;
    }
    sky_add_sink(sky, all, &(sky_route){.name = "all", .level = SKY_LEVEL_DEBUG});
    sky_add_sink(sky, audit, &(sky_route){.name = "audit", .filter = only_audit});
    sky_add_sink(sky,
                 sky_sink_console(&(sky_console_opts){.stream = SKY_STDOUT,
                                                      .format = SKY_FORMAT_LOGFMT}),
                 &(sky_route){.name = "console", .level = SKY_LEVEL_WARN});

    sky_logger *log = sky_logger_get(sky, "bank");
    sky_debug(log, "balance_checked", SKY_STR("account", "acc-1"));
    sky_info(log, "audit.transfer", SKY_STR("from", "acc-1"), SKY_STR("to", "acc-2"),
             SKY_INT("cents", 12500));
    sky_warn(log, "transfer_slow", SKY_F64("ms", 812.5));

    for (size_t i = 0; i < 3; i++) {
        const char *name;
        sky_sink_stats ss;
        if (sky_sink_stats_get(sky, i, &name, &ss) == SKY_OK)
            fprintf(stderr, "sink %-8s written=%llu filtered=%llu\n", name,
                    (unsigned long long)ss.written, (unsigned long long)ss.filtered);
    }
    return sky_close(sky) == SKY_OK ? 0 : 1;
}

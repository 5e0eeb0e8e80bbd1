/*
 * sky_audit_writer.c - writes audit entries through the library's audit sink, as an application
 * would, for tests/integration/test_audit.py: `sky_audit_writer PATH COUNT [FIRST] [KEYFILE]`
 * logs COUNT events ("user_action", i = FIRST..) through a pipeline with only the audit sink.
 * Exit 0 on success; 1 with the sink's message on stderr when it could not be opened.
 */
#include <skylog.h>
#include <skylog/audit.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s PATH COUNT [FIRST] [KEYFILE]\n", argv[0]);
        return 2;
    }
    long count = atol(argv[2]), first = argc > 3 ? atol(argv[3]) : 1;
    sky_t *sky = NULL;
    if (sky_open(NULL, &sky) != SKY_OK)
        return 1;
    sky_sink *audit = NULL;
    char *err = NULL;
    sky_audit_opts o = {.path = argv[1], .fsync = SKY_AUDIT_FSYNC_NONE,
                        .key_file = argc > 4 ? argv[4] : NULL};
    if (sky_sink_audit(&o, &audit, &err) != SKY_OK) {
        fprintf(stderr, "%s\n", err ? err : "audit sink failed");
        free(err);
        sky_close(sky);
        return 1;
    }
    sky_add_sink(sky, audit, NULL);
    sky_logger *log = sky_logger_get(sky, "audit");
    for (long i = first; i < first + count; i++)
        sky_info(log, "user_action", SKY_INT("i", i), SKY_STR("user", "alice"),
                 SKY_STR("action", "permission.changed"));
    return sky_close(sky) == SKY_OK ? 0 : 1;
}

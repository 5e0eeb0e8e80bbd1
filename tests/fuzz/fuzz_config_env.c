/*
 * fuzz_config_env.c - sky_open_env(): the SKYLOG_* variables' values, from the input split at
 * newlines (one line per variable, in the order of `vars` below: the wave-1 names, then the
 * forms every registry option has). Either a pipeline or a message naming the variable, never
 * both and never neither.
 */
#include "fuzz_common.h"

#include <skylog.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const vars[] = {
    "SKYLOG_LEVEL",          "SKYLOG_MODE",         "SKYLOG_FORMAT",
    "SKYLOG_REDACT",         "SKYLOG_CONSOLE",      "SKYLOG_FILE_MAX_BYTES",
    "SKYLOG_FILE_BACKUPS",   "SKYLOG_SERVICE",      "SKYLOG_CLOUDWATCH_GROUP",
    "SKYLOG_CLOUDWATCH_RETENTION_DAYS",             "SKYLOG_CLOUDWATCH_STREAM",
    /* the SKYLOG_<KEY> and SKYLOG_<SECTION>__<OPTION> forms (never a path: no stray files) */
    "SKYLOG_RING_BYTES",     "SKYLOG_CLOSE_TIMEOUT_MS",                     "SKYLOG_EVENT_FILTER__EXCLUDE",
    "SKYLOG_REDACT__FIELDS", "SKYLOG_SAMPLE__RATE", "SKYLOG_CLOUDWATCH_LOGS__BATCH_SIZE",
    "SKYLOG_CONSOLE__FORMAT",
};
#define NVARS (sizeof vars / sizeof vars[0])

SKY_FUZZ_SANDBOXED

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *text = sky_fuzz_cstr(data, size);
    char *p = text;
    bool file = false;
    for (size_t i = 0; i < NVARS; i++) {
        char *nl = p ? strchr(p, '\n') : NULL;
        if (nl)
            *nl = '\0';
        if (p && *p)
            setenv(vars[i], p, 1);
        else
            unsetenv(vars[i]);
        if (p && *p && (i == 5 || i == 6))
            file = true; /* the size and backups only mean something with a file */
        p = nl ? nl + 1 : NULL;
    }
    if (file)
        setenv("SKYLOG_FILE", "fuzz-env.log", 1);
    else
        unsetenv("SKYLOG_FILE");
    char *err = NULL;
    sky_t *sky = sky_open_env(&err);
    if (sky ? err != NULL : (err == NULL || !*err))
        abort();
    if (err && !strstr(err, "SKYLOG_") && !strstr(err, "skylog"))
        abort(); /* a message names the variable */
    sky_close(sky);
    free(err);
    free(text);
    return 0;
}

/*
 * env.c - sky_open_env(): a pipeline configured from SKYLOG_* environment variables, so a
 * program gets sensible logging with one call and operators can change it without a rebuild.
 * Every value is validated; a bad one is an error naming the variable, never silently ignored.
 *
 * SKYLOG_CONFIG=path hands the pipeline to a YAML file (config/yaml.c); SKYLOG_LEVEL and
 * SKYLOG_MODE still win over the file's top-level keys (an operator turning on debug logging
 * should not have to edit a file), and the variables that describe sinks or processors are
 * refused next to it, because two descriptions of one pipeline would leave the reader guessing.
 * A skylog.yaml in the working directory is never read implicitly: a stray file must not change
 * a program's logging.
 */
#include "config/loader.h"
#include "core/internal.h"

#include <skylog/cloudwatch.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static sky_t *fail(sky_t *sky, char **errmsg, const char *msg)
{
    sky_close(sky);
    if (errmsg)
        *errmsg = strdup(msg);
    else
        sky__diag(NULL, SKY_LEVEL_ERROR, "%s", msg);
    return NULL;
}

/* Digits only: strtoull alone would take " -5" as 2^64 - 5 and wrap past ULLONG_MAX quietly. */
static bool parse_u64(const char *s, uint64_t *out)
{
    if (!isdigit((unsigned char)*s))
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

/* The variables that describe sinks and processors, which SKYLOG_CONFIG replaces. */
static const char *const file_replaces[] = {
    "SKYLOG_CONSOLE", "SKYLOG_FORMAT", "SKYLOG_FILE", "SKYLOG_FILE_MAX_BYTES", "SKYLOG_FILE_BACKUPS",
    "SKYLOG_SERVICE", "SKYLOG_ENVIRONMENT", "SKYLOG_VERSION", "SKYLOG_REDACT",
    "SKYLOG_CLOUDWATCH_GROUP", "SKYLOG_CLOUDWATCH_STREAM", "SKYLOG_CLOUDWATCH_RETENTION_DAYS"};

static sky_t *open_config(const char *path, const sky_options *o, char **errmsg)
{
    char msg[1400];
    for (size_t i = 0; i < sizeof file_replaces / sizeof file_replaces[0]; i++)
        if (env(file_replaces[i])) {
            snprintf(msg, sizeof msg,
                     "%s is set, but SKYLOG_CONFIG=%s describes the pipeline: set the option in "
                     "the file (only SKYLOG_LEVEL and SKYLOG_MODE override it)",
                     file_replaces[i], path);
            return fail(NULL, errmsg, msg);
        }
    sky__config_overrides ov = {.level_set = o->level_set, .level = o->level,
                                .mode_set = env("SKYLOG_MODE") != NULL, .mode = o->mode};
    sky_t *sky = NULL;
    char *err = NULL;
    if (sky__config_load_file(path, &ov, &sky, NULL, &err) != SKY_OK) {
        snprintf(msg, sizeof msg, "SKYLOG_CONFIG: %s", err ? err : "cannot load");
        free(err);
        return fail(NULL, errmsg, msg);
    }
    return sky;
}

sky_t *sky_open_env(char **errmsg)
{
    char msg[512];
    if (errmsg)
        *errmsg = NULL;
    sky_options o = {0};
    const char *v;
    if ((v = env("SKYLOG_LEVEL"))) {
        if (sky_level_parse(v, &o.level) != SKY_OK) {
            snprintf(msg, sizeof msg, "SKYLOG_LEVEL: unknown level '%s' (trace, debug, info, warn, "
                                      "error, critical, off)", v);
            return fail(NULL, errmsg, msg);
        }
        o.level_set = true;
    }
    if ((v = env("SKYLOG_MODE"))) {
        if (strcmp(v, "sync") == 0)
            o.mode = SKY_MODE_SYNC;
        else if (strcmp(v, "async") == 0)
            o.mode = SKY_MODE_ASYNC;
        else {
            snprintf(msg, sizeof msg, "SKYLOG_MODE: expected sync or async, got '%s'", v);
            return fail(NULL, errmsg, msg);
        }
    }
    if ((v = env("SKYLOG_CONFIG")))
        return open_config(v, &o, errmsg);
    sky_t *sky;
    if (sky_open(&o, &sky) != SKY_OK)
        return fail(NULL, errmsg, "skylog: cannot create pipeline (out of memory)");

    sky_format fmt = SKY_FORMAT_AUTO;
    if ((v = env("SKYLOG_FORMAT"))) {
        if (strcmp(v, "auto") == 0)
            fmt = SKY_FORMAT_AUTO;
        else if (strcmp(v, "pretty") == 0)
            fmt = SKY_FORMAT_PRETTY;
        else if (strcmp(v, "json") == 0)
            fmt = SKY_FORMAT_JSON;
        else if (strcmp(v, "logfmt") == 0)
            fmt = SKY_FORMAT_LOGFMT;
        else {
            snprintf(msg, sizeof msg, "SKYLOG_FORMAT: expected auto, pretty, json or logfmt, got '%s'",
                     v);
            return fail(sky, errmsg, msg);
        }
    }

    const char *svc = env("SKYLOG_SERVICE"), *envname = env("SKYLOG_ENVIRONMENT"),
               *ver = env("SKYLOG_VERSION");
    if (svc || envname || ver) {
        sky_enrich_opts eo = {.service = svc, .environment = envname, .version = ver};
        if (sky_add_enrich(sky, &eo) != SKY_OK)
            return fail(sky, errmsg, "skylog: cannot add enrich processor");
    }
    v = env("SKYLOG_REDACT");
    if (!v || strcmp(v, "0") != 0) {
        if (v && strcmp(v, "1") != 0) {
            snprintf(msg, sizeof msg, "SKYLOG_REDACT: expected 1 or 0, got '%s'", v);
            return fail(sky, errmsg, msg);
        }
        if (sky_add_redact(sky, NULL) != SKY_OK)
            return fail(sky, errmsg, "skylog: cannot add redact processor");
    }

    const char *console = env("SKYLOG_CONSOLE");
    if (!console || strcmp(console, "off") != 0) {
        sky_console_opts co = {.format = fmt};
        if (console && strcmp(console, "stdout") == 0)
            co.stream = SKY_STDOUT;
        else if (console && strcmp(console, "stderr") != 0) {
            snprintf(msg, sizeof msg, "SKYLOG_CONSOLE: expected stderr, stdout or off, got '%s'",
                     console);
            return fail(sky, errmsg, msg);
        }
        if (sky_add_sink(sky, sky_sink_console(&co), NULL) != SKY_OK)
            return fail(sky, errmsg, "skylog: cannot add console sink");
    }
    if ((v = env("SKYLOG_FILE"))) {
        sky_file_opts fo = {.path = v, .format = SKY_FORMAT_JSON};
        const char *mb = env("SKYLOG_FILE_MAX_BYTES"), *bk = env("SKYLOG_FILE_BACKUPS");
        uint64_t num;
        if (mb) {
            if (!parse_u64(mb, &num)) {
                snprintf(msg, sizeof msg, "SKYLOG_FILE_MAX_BYTES: not a byte count: '%s'", mb);
                return fail(sky, errmsg, msg);
            }
            fo.max_bytes = num;
        }
        if (bk) {
            if (!parse_u64(bk, &num) || num > 1000) {
                snprintf(msg, sizeof msg, "SKYLOG_FILE_BACKUPS: expected 0..1000, got '%s'", bk);
                return fail(sky, errmsg, msg);
            }
            fo.max_backups = (int)num;
        }
        sky_sink *fs;
        char *ferr = NULL;
        if (sky_sink_file(&fo, &fs, &ferr) != SKY_OK) {
            snprintf(msg, sizeof msg, "SKYLOG_FILE: %s", ferr ? ferr : "cannot open");
            free(ferr);
            return fail(sky, errmsg, msg);
        }
        if (sky_add_sink(sky, fs, NULL) != SKY_OK)
            return fail(sky, errmsg, "skylog: cannot add file sink");
    }
    if ((v = env("SKYLOG_CLOUDWATCH_GROUP"))) {
        sky_cwl_opts co = {.log_group = v, .log_stream = env("SKYLOG_CLOUDWATCH_STREAM")};
        const char *rd = env("SKYLOG_CLOUDWATCH_RETENTION_DAYS");
        uint64_t num;
        if (rd) {
            if (!parse_u64(rd, &num) || num > 3653) {
                snprintf(msg, sizeof msg, "SKYLOG_CLOUDWATCH_RETENTION_DAYS: not a day count: '%s'",
                         rd);
                return fail(sky, errmsg, msg);
            }
            co.retention_days = (int)num;
        }
        sky_sink *cw;
        char *cerr = NULL;
        if (sky_sink_cloudwatch_logs(&co, &cw, &cerr) != SKY_OK) {
            snprintf(msg, sizeof msg, "SKYLOG_CLOUDWATCH_GROUP: %s", cerr ? cerr : "cannot create");
            free(cerr);
            return fail(sky, errmsg, msg);
        }
        if (sky_add_sink(sky, cw, &(sky_route){.name = "cloudwatch"}) != SKY_OK)
            return fail(sky, errmsg, "skylog: cannot add the CloudWatch sink");
    }
    return sky;
}

/*
 * skylog/config.h - pipelines from a YAML configuration file.
 *
 * A file describes one pipeline: its top-level keys are the pipeline options (level, mode,
 * ring_bytes, overflow, block_max_wait_ms, close_timeout_ms, name), then three sections:
 *
 *     level: info
 *     mode: async
 *     processors:                      # run in this order
 *       - enrich: { service: shop, environment: prod, hostname: true }
 *       - redact: {}
 *       - rate_limit: { per_second: 100, burst: 200 }
 *     sinks:                           # every sink also takes the route keys level and name
 *       - console: { format: pretty, level: warn }
 *       - file: { path: /var/log/shop.jsonl, max_bytes: 100M, max_backups: 7 }
 *       - cloudwatch_logs: { log_group: /shop/prod, log_stream: "{hostname}-{pid}", level: info }
 *     loggers:                         # per-logger levels (sky_set_level)
 *       app.db: debug
 *
 * Every option, its type, default and meaning is listed in docs/CONFIGURATION.md and by
 * `skylog config options`; `skylog config check FILE` validates a file. Each option is also
 * an environment variable read by sky_open_env() (skylog.h): SKYLOG_<KEY> for the top-level
 * keys, SKYLOG_<SECTION>__<OPTION> for the rest (SKYLOG_FILE__MAX_BYTES=100M). Option names are the
 * field names of the C option structs (sky_file_opts, sky_cwl_opts, ...). Sizes take k/M/G
 * suffixes (1024-based), durations ms/s/m/h (a bare number is in the unit the option's name
 * says). Values are validated by the same constructors the C API uses.
 *
 * Strictness: an unknown key, a value of the wrong type, a duplicate key or a missing required
 * option is an error, never ignored. Messages name the file, line, column and the option:
 *
 *     skylog.yaml:7:25: sinks[1].file: unknown option 'max_byte' (did you mean 'max_bytes'?)
 *
 * A pipeline with no `sinks:` section has no sinks (events are counted and discarded), exactly
 * as sky_open() does; write `sinks: [ console: {} ]` for the console.
 *
 * Threading: both functions may be called from any thread; the pipeline they return follows
 * the rules of skylog.h.
 */
#ifndef SKYLOG_CONFIG_H
#define SKYLOG_CONFIG_H

#include <skylog.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Reads the YAML file at `path` and builds the pipeline it describes: sinks are opened (files
 * are created, CloudWatch sinks are constructed but AWS is not contacted), processors added,
 * logger levels set. On success returns SKY_OK and *out owns the pipeline (sky_close() it).
 * On failure returns SKY_ENOTFOUND (no such file), SKY_EIO (unreadable), SKY_EINVAL (a syntax
 * or option error), SKY_ELIMIT (past a limit: 1 MiB of text, 32 levels of nesting, 100,000
 * values, 1,024 list entries, 256 logger levels, processors or sinks; docs/CONFIGURATION.md)
 * or the failing constructor's status, sets *out to NULL, closes whatever was
 * built, and, when `errmsg` is not NULL, sets *errmsg to a malloc'd message "path:line:col:
 * where: what" (free() it). */
SKY_API sky_status sky_open_file(const char *path, sky_t **out, char **errmsg);

/* As sky_open_file(), from `len` bytes of YAML text in memory; messages say "<yaml>" where
 * sky_open_file() gives the path. */
SKY_API sky_status sky_open_yaml(const char *text, size_t len, sky_t **out, char **errmsg);

#ifdef __cplusplus
}
#endif

#endif

/* test_config_yaml.c - sky_open_file()/sky_open_yaml() (src/config/yaml.c) and SKYLOG_CONFIG in
 * sky_open_env(): a full file building a working pipeline, and a clear, located message for
 * every class of error. */
#include "skytest.h"

#include <skylog/aws.h>
#include <skylog/cloudwatch.h>
#include <skylog/config.h>
#include <skylog/metrics.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

static char *dir;
static int failures;

static int setup(void **state)
{
    (void)state;
    dir = skytest_tmpdir();
    setenv("AWS_REGION", "us-east-1", 1);
    setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    skytest_rmtree(dir);
    free(dir);
    return 0;
}

static char *write_file(const char *name, const char *text)
{
    char *path = malloc(4096);
    snprintf(path, 4096, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* Loads `yaml` as text and expects failure with `needle` in the message. */
static void expect_error(const char *yaml, sky_status want, const char *needle)
{
    sky_t *sky = (sky_t *)1;
    char *err = NULL;
    sky_status st = sky_open_yaml(yaml, strlen(yaml), &sky, &err);
    if (st == SKY_OK)
        fail_msg("accepted:\n%s", yaml);
    assert_null(sky);
    assert_non_null(err);
    if (!strstr(err, needle)) {
        print_error("error '%s' lacks '%s' for:\n%s\n", err, needle, yaml);
        failures++;
    }
    if (want != SKY_OK)
        assert_int_equal(st, want);
    free(err);
}

static void test_full_file_builds_a_working_pipeline(void **state)
{
    (void)state;
    char yaml[4096];
    snprintf(yaml, sizeof yaml,
             "# the example of docs/CONFIGURATION.md, pointed at a temporary directory\n"
             "level: info\n"
             "mode: async\n"
             "ring_bytes: 1M\n"
             "overflow: block\n"
             "block_max_wait_ms: 50ms\n"
             "close_timeout_ms: 3s\n"
             "processors:\n"
             "  - enrich: { service: shop, environment: prod, hostname: true }\n"
             "  - redact: {}\n"
             "  - event_filter: { exclude: [\"noise.*\"] }\n"
             "  - rate_limit: { per_second: 100, burst: 200 }\n"
             "sinks:\n"
             "  - file: { path: %s/shop.jsonl, max_bytes: 100M, max_backups: 7, name: main }\n"
             "  - file:\n"
             "      path: %s/errors.jsonl\n"
             "      format: logfmt\n"
             "      level: error\n"
             "loggers:\n"
             "  app.db: debug\n",
             dir, dir);
    char *path = write_file("full.yaml", yaml);
    sky_t *sky = NULL;
    char *err = NULL;
    sky_status st = sky_open_file(path, &sky, &err);
    if (st != SKY_OK)
        fail_msg("%s", err);
    assert_null(err);
    sky_logger *app = sky_logger_get(sky, "app"), *db = sky_logger_get(sky, "app.db");
    sky_debug(app, "hidden_debug");
    sky_debug(db, "db_debug", SKY_INT("rows", 3));
    sky_info(app, "login", SKY_STR("password", "hunter2"));
    sky_info(app, "noise.tick");
    sky_error(app, "failed", SKY_INT("code", 7));
    sky_stats stats;
    assert_int_equal(sky_stats_get(sky, &stats), SKY_OK);
    assert_int_equal(stats.processor_count, 4);
    assert_int_equal(stats.sink_count, 2);
    const char *name;
    sky_sink_stats ss;
    assert_int_equal(sky_sink_stats_get(sky, 0, &name, &ss), SKY_OK);
    assert_string_equal(name, "main");
    assert_int_equal(sky_sink_stats_get(sky, 1, &name, &ss), SKY_OK);
    assert_string_equal(name, "file");
    assert_int_equal(sky_close(sky), SKY_OK);

    char p[4096];
    snprintf(p, sizeof p, "%s/shop.jsonl", dir);
    size_t len;
    char *text = skytest_read_file(p, &len);
    assert_non_null(text);
    assert_int_equal(skytest_count_lines(text, len), 3);
    assert_null(strstr(text, "hidden_debug"));
    assert_null(strstr(text, "noise.tick"));
    assert_null(strstr(text, "hunter2"));
    assert_non_null(strstr(text, "\"db_debug\""));
    assert_non_null(strstr(text, "\"service\":\"shop\""));
    assert_non_null(strstr(text, "\"environment\":\"prod\""));
    assert_non_null(strstr(text, "\"hostname\":"));
    assert_non_null(strstr(text, SKY_REDACTED));
    free(text);
    snprintf(p, sizeof p, "%s/errors.jsonl", dir);
    text = skytest_read_file(p, &len);
    assert_non_null(text);
    assert_int_equal(skytest_count_lines(text, len), 1);
    assert_non_null(strstr(text, "code=7"));
    assert_null(strstr(text, "{\""));
    free(text);
    free(path);
}

static void test_cloudwatch_sink_constructs_and_closes_quickly(void **state)
{
    (void)state;
    const char *yaml =
        "close_timeout_ms: 2s\n"
        "sinks:\n"
        "  - cloudwatch_logs:\n"
        "      log_group: /shop/prod\n"
        "      log_stream: \"{hostname}-{pid}\"\n"
        "      retention_days: 30\n"
        "      level: info\n"
        "      endpoint: http://127.0.0.1:9\n"
        "      connect_timeout_ms: 200ms\n"
        "      request_timeout_ms: 1s\n"
        "      flush_interval_ms: 100\n"
        "      max_queue_bytes: 1M\n"
        "      oversize: split\n"
        "      http_transport: native\n"
        "      compress: true\n";
    sky_t *sky = NULL;
    char *err = NULL;
    int64_t t0 = sky_monotonic_ns();
    if (sky_open_yaml(yaml, strlen(yaml), &sky, &err) != SKY_OK)
        fail_msg("%s", err);
    sky_stats stats;
    sky_stats_get(sky, &stats);
    assert_int_equal(stats.sink_count, 1);
    /* nothing was logged: close has nothing to wait for, and gives up on nothing (it would
     * say SKY_ETIMEDOUT); the clock only catches a hang, not a slow machine */
    assert_int_equal(sky_close(sky), SKY_OK);
    assert_true(sky_monotonic_ns() - t0 < 60LL * 1000000000);
}

static void test_processors_sample_and_filters(void **state)
{
    (void)state;
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "level: trace\n"
             "processors:\n"
             "  - sample: { rate: 0, always_keep: warn }\n"
             "  - level_filter: { level: debug }\n"
             "  - event_filter: { include: keep.* }\n"
             "sinks:\n"
             "  - file: { path: %s/sample.jsonl }\n",
             dir);
    sky_t *sky = NULL;
    char *err = NULL;
    if (sky_open_yaml(yaml, strlen(yaml), &sky, &err) != SKY_OK)
        fail_msg("%s", err);
    sky_logger *log = sky_logger_get(sky, NULL);
    sky_info(log, "keep.info");    /* sampled out (rate 0) */
    sky_warn(log, "keep.warn");    /* always kept */
    sky_warn(log, "other.warn");   /* not included */
    sky_close(sky);
    char p[4096];
    snprintf(p, sizeof p, "%s/sample.jsonl", dir);
    size_t len;
    char *text = skytest_read_file(p, &len);
    assert_non_null(text);
    assert_int_equal(skytest_count_lines(text, len), 1);
    assert_non_null(strstr(text, "keep.warn"));
    free(text);
}

static void test_scalar_item_and_empty_sections(void **state)
{
    (void)state;
    const char *yaml = "processors:\n  - redact\nsinks:\nloggers:\n";
    sky_t *sky = NULL;
    char *err = NULL;
    if (sky_open_yaml(yaml, strlen(yaml), &sky, &err) != SKY_OK)
        fail_msg("%s", err);
    sky_stats stats;
    sky_stats_get(sky, &stats);
    assert_int_equal(stats.processor_count, 1);
    assert_int_equal(stats.sink_count, 0);
    sky_close(sky);
}

static void test_errors_are_located_and_explained(void **state)
{
    (void)state;
    /* unknown key, with and without a suggestion */
    expect_error("sinks:\n  - file: { path: /tmp/x, max_byte: 1M }\n", SKY_EINVAL,
                 "<yaml>:2:27: sinks[0].file: unknown option 'max_byte' (did you mean "
                 "'max_bytes'?)");
    expect_error("sinks:\n  - console: { colour_scheme: dark }\n", SKY_EINVAL,
                 "unknown option 'colour_scheme'; accepted: stream, format, color, fd, level, name");
    expect_error("levle: info\n", SKY_EINVAL, "<yaml>:1:1: unknown key 'levle' (did you mean 'level'?)");
    expect_error("processors:\n  - enrich: { service: a, hostnam: true }\n", SKY_EINVAL,
                 "processors[0].enrich: unknown option 'hostnam' (did you mean 'hostname'?)");
    /* unknown sink / processor, and one in the wrong section */
    expect_error("sinks:\n  - fille: {}\n", SKY_EINVAL, "<yaml>:2:5: sinks[0]: unknown sink 'fille' (did you mean 'file'?)");
    expect_error("sinks:\n  - kafka: {}\n", SKY_EINVAL,
                 "unknown sink 'kafka'; expected one of: console, file, cloudwatch_logs");
    expect_error("sinks:\n  - redact: {}\n", SKY_EINVAL, "'redact' is a processor, not a sink");
    expect_error("processors:\n  - console: {}\n", SKY_EINVAL, "'console' is a sink, not a processor");
    /* bad type */
    expect_error("sinks:\n  - file: { path: [a, b] }\n", SKY_EINVAL,
                 "<yaml>:2:19: sinks[0].file.path: expected a string, got a list");
    expect_error("sinks: { file: {} }\n", SKY_EINVAL, "sinks: expected a list");
    expect_error("processors:\n  - event_filter: { include: { a: b } }\n", SKY_EINVAL,
                 "include: expected a list of strings, got a mapping");
    expect_error("processors:\n  - enrich: { hostname: maybe }\n", SKY_EINVAL,
                 "enrich.hostname: invalid value 'maybe'; expected true/false, yes/no, on/off or 1/0");
    expect_error("- a\n- b\n", SKY_EINVAL, "<yaml>:1:1: expected a mapping (key: value), got a list");
    /* bad enum value */
    expect_error("level: loud\n", SKY_EINVAL,
                 "<yaml>:1:8: level: unknown value 'loud'; expected one of: trace, debug, info, "
                 "warn, error, critical, off");
    expect_error("mode: asnyc\n", SKY_EINVAL, "(did you mean 'async'?)");
    expect_error("sinks:\n  - cloudwatch_logs: { log_group: /g, http_transport: libcurl }\n",
                 SKY_EINVAL,
                 "<yaml>:2:55: sinks[0].cloudwatch_logs.http_transport: unknown value 'libcurl'; "
                 "expected one of: auto, native, curl");
    expect_error("loggers:\n  app.db: verbose\n", SKY_EINVAL, "<yaml>:2:11: loggers.app.db: unknown value 'verbose'");
    /* bad size / duration */
    expect_error("sinks:\n  - file: { path: /tmp/x, max_bytes: 12Q }\n", SKY_EINVAL,
                 "sinks[0].file.max_bytes: invalid value '12Q'; expected a size like");
    expect_error("close_timeout_ms: soon\n", SKY_EINVAL,
                 "close_timeout_ms: invalid value 'soon'; expected a duration like 250ms");
    expect_error("ring_bytes: 10\n", SKY_EINVAL, "ring_bytes: out of range");
    /* missing required */
    expect_error("sinks:\n  - file: { format: json }\n", SKY_EINVAL,
                 "<yaml>:2:11: sinks[0].file: missing required option 'path'");
    expect_error("sinks:\n  - cloudwatch_logs: {}\n", SKY_EINVAL, "missing required option 'log_group'");
    expect_error("processors:\n  - rate_limit: { burst: 5 }\n", SKY_EINVAL,
                 "missing required option 'per_second'");
    expect_error("sinks:\n  - file: { path: }\n", SKY_EINVAL, "sinks[0].file.path: no value given");
    /* YAML syntax, with line and column */
    expect_error("level: info\nsinks:\n  - file: { path: /tmp/x\n", SKY_EINVAL,
                 "<yaml>:4:1: YAML syntax error:");
    expect_error("level: info\n  mode: sync\n", SKY_EINVAL, "<yaml>:2:7: YAML syntax error:");
    /* structure */
    expect_error("level: info\nlevel: debug\n", SKY_EINVAL, "<yaml>:2:1: duplicate key 'level' (first at line 1)");
    expect_error("sinks:\n  - file: { path: /tmp/x }\n    format: json\n", SKY_EINVAL, "");
    expect_error("sinks:\n  - file: { path: /tmp/x }\n    console: {}\n", SKY_EINVAL,
                 "expected one sink name with its options");
    expect_error("level: info\n---\nlevel: debug\n", SKY_EINVAL, "a second YAML document");
    expect_error("", SKY_EINVAL, "the configuration is empty");
    /* the constructors' own validation */
    expect_error("sinks:\n  - cloudwatch_logs: { log_group: \"bad group!\" }\n", SKY_EINVAL,
                 "<yaml>:2:5: sinks[0].cloudwatch_logs: cloudwatch: log_group 'bad group!' is invalid");
    expect_error("sinks:\n  - cloudwatch_logs: { log_group: /ok, retention_days: 8 }\n", SKY_EINVAL,
                 "retention_days");
    expect_error("sinks:\n  - file: { path: /nonexistent-dir/app.log }\n", SKY_EIO,
                 "sinks[0].file: file sink: cannot open");
    expect_error("processors:\n  - rate_limit: { per_second: 0 }\n", SKY_EINVAL,
                 "rate_limit: per_second must be > 0");
    assert_int_equal(failures, 0);
}

static void test_file_errors(void **state)
{
    (void)state;
    sky_t *sky = (sky_t *)1;
    char *err = NULL;
    char p[4096];
    snprintf(p, sizeof p, "%s/does-not-exist.yaml", dir);
    assert_int_equal(sky_open_file(p, &sky, &err), SKY_ENOTFOUND);
    assert_null(sky);
    assert_non_null(strstr(err, "does-not-exist.yaml: cannot open the configuration file"));
    free(err);
    /* the file's name is in every message */
    char *path = write_file("skylog.yaml", "sinks:\n  - console: {}\n  - file: { max_byte: 1 }\n");
    assert_int_equal(sky_open_file(path, &sky, &err), SKY_EINVAL);
    assert_non_null(strstr(err, "skylog.yaml:3:13: sinks[1].file: unknown option 'max_byte'"));
    free(err);
    free(path);
    /* NULL errmsg is allowed */
    assert_int_equal(sky_open_yaml("bad: 1\n", 7, &sky, NULL), SKY_EINVAL);
}

/* SKYLOG_CONFIG in sky_open_env(): the file describes the pipeline; SKYLOG_LEVEL overrides. */
static void test_env_config(void **state)
{
    (void)state;
    char yaml[1024];
    snprintf(yaml, sizeof yaml, "level: error\nsinks:\n  - file: { path: %s/env.jsonl }\n", dir);
    char *path = write_file("env.yaml", yaml);
    setenv("SKYLOG_CONFIG", path, 1);
    setenv("SKYLOG_LEVEL", "info", 1);
    char *err = NULL;
    sky_t *sky = sky_open_env(&err);
    if (!sky)
        fail_msg("%s", err);
    sky_info(sky_logger_get(sky, "x"), "info_passes");
    sky_debug(sky_logger_get(sky, "x"), "debug_does_not");
    sky_close(sky);
    char p[4096];
    snprintf(p, sizeof p, "%s/env.jsonl", dir);
    size_t len;
    char *text = skytest_read_file(p, &len);
    assert_non_null(text);
    assert_int_equal(skytest_count_lines(text, len), 1);
    assert_non_null(strstr(text, "info_passes"));
    free(text);

    setenv("SKYLOG_FILE", "/tmp/other.log", 1);
    assert_null(sky_open_env(&err));
    assert_non_null(strstr(err, "SKYLOG_FILE is set, but SKYLOG_CONFIG="));
    free(err);
    unsetenv("SKYLOG_FILE");

    /* every pipeline variable overrides the file's top-level keys; a sink's does not */
    setenv("SKYLOG_MODE", "async", 1);
    setenv("SKYLOG_RING_BYTES", "1M", 1);
    sky = sky_open_env(&err);
    if (!sky)
        fail_msg("%s", err);
    sky_stats st;
    sky_stats_get(sky, &st);
    assert_true(st.worker_alive);
    assert_int_equal(st.ring_capacity, 1u << 20);
    sky_close(sky);
    unsetenv("SKYLOG_MODE");
    unsetenv("SKYLOG_RING_BYTES");
    setenv("SKYLOG_CONSOLE__FORMAT", "json", 1);
    assert_null(sky_open_env(&err));
    assert_non_null(strstr(err, "SKYLOG_CONSOLE__FORMAT is set, but SKYLOG_CONFIG="));
    free(err);
    unsetenv("SKYLOG_CONSOLE__FORMAT");

    unsetenv("SKYLOG_LEVEL");
    setenv("SKYLOG_CONFIG", "/nonexistent/skylog.yaml", 1);
    assert_null(sky_open_env(&err));
    assert_non_null(strstr(err, "SKYLOG_CONFIG: /nonexistent/skylog.yaml: cannot open"));
    free(err);
    unsetenv("SKYLOG_CONFIG");
    free(path);
}

/* The console sink's fd, which a file could not set before. */
static void test_console_fd(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    int fd = fcntl(fds[1], F_DUPFD, 10); /* above 2, as the option wants */
    assert_true(fd > 2);
    close(fds[1]);
    char yaml[256];
    snprintf(yaml, sizeof yaml, "sinks:\n  - console: { fd: %d, format: json }\n", fd);
    sky_t *sky = NULL;
    char *err = NULL;
    if (sky_open_yaml(yaml, strlen(yaml), &sky, &err) != SKY_OK)
        fail_msg("%s", err);
    sky_info(sky_logger_get(sky, "fd"), "to_the_fd");
    assert_int_equal(sky_close(sky), SKY_OK);
    close(fd); /* not closed by the sink */
    char buf[4096];
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    assert_true(n > 0);
    buf[n] = 0;
    assert_non_null(strstr(buf, "\"message\":\"to_the_fd\""));
    close(fds[0]);
}

/* A CloudWatch sink's fallback, from a file: what cannot be sent reaches it. Nothing listens
 * on the endpoint (port 9 of the loopback, connections refused). */
static void test_cloudwatch_fallback_file(void **state)
{
    (void)state;
    char yaml[8192], fb[4096];
    snprintf(fb, sizeof fb, "%s/fallback.jsonl", dir);
    snprintf(yaml, sizeof yaml,
             "close_timeout_ms: 1s\n" /* then what is left goes to the fallback */
             "sinks:\n  - cloudwatch_logs: { log_group: /fb, endpoint: 'http://127.0.0.1:9', "
             "fallback_file: %s, max_retries: 0, retry_delay_ms: 1ms, no_create_group: yes }\n",
             fb);
    sky_t *sky = NULL;
    char *err = NULL;
    if (sky_open_yaml(yaml, strlen(yaml), &sky, &err) != SKY_OK)
        fail_msg("%s", err);
    sky_info(sky_logger_get(sky, "fb"), "undeliverable", SKY_INT("n", 7));
    sky_close(sky);
    size_t len;
    char *text = skytest_read_file(fb, &len);
    assert_non_null(text);
    assert_non_null(strstr(text, "undeliverable"));
    free(text);
    /* a fallback that cannot be opened is the option's error */
    snprintf(yaml, sizeof yaml,
             "sinks:\n  - cloudwatch_logs: { log_group: /fb, fallback_file: /nonexistent/x }\n");
    expect_error(yaml, SKY_OK, "sinks[0].cloudwatch_logs: fallback_file: ");
}

/* Random damage to a valid file (bytes flipped, deleted, duplicated) must give a clean error
 * or a pipeline, never a crash or a leak (ASan checks). No event is logged, and the file names
 * no file sink, so nothing is written anywhere. */
static void test_damaged_files_never_crash(void **state)
{
    (void)state;
    static const char base[] =
        "level: info\nmode: sync\nring_bytes: 64k\nclose_timeout_ms: 1s\n"
        "processors:\n  - enrich: { service: shop, hostname: true }\n"
        "  - redact: { fields: [password, token], replacement: x }\n"
        "  - sample: { rate: 0.5, info: 1, always_keep: warn }\n"
        "  - event_filter: { include: [a.*], exclude: b }\n"
        "  - rate_limit: { per_second: 10, burst: 20 }\n"
        "sinks:\n  - console: { stream: stdout, format: json, level: off, name: c }\n"
        "loggers:\n  app.db: debug\n  app: &lv warn\n  other: *lv\n";
    const char alphabet[] = "{}[]:,-#&*!|>'\"%@` \n\tab0M";
    uint64_t rng = 0x2545F4914F6CDD1Dull;
    char buf[sizeof base * 2];
    size_t ok = 0;
    for (int iter = 0; iter < 3000; iter++) {
        size_t len = sizeof base - 1;
        memcpy(buf, base, len);
        int edits = 1 + (int)(iter % 4);
        for (int e = 0; e < edits; e++) {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            size_t at = (size_t)(rng % len);
            switch ((rng >> 32) % 3) {
            case 0: buf[at] = alphabet[(rng >> 40) % (sizeof alphabet - 1)]; break;
            case 1: memmove(buf + at, buf + at + 1, len - at - 1), len--; break;
            default:
                if (len + 8 < sizeof buf) {
                    memmove(buf + at + 8, buf + at, len - at);
                    len += 8;
                }
                break;
            }
        }
        sky_t *sky = NULL;
        char *err = NULL;
        sky_status st = sky_open_yaml(buf, len, &sky, &err);
        if (st == SKY_OK) {
            assert_non_null(sky);
            assert_null(err);
            sky_close(sky);
            ok++;
        } else {
            assert_null(sky);
            assert_non_null(err);
            assert_true(strncmp(err, "<yaml>", 6) == 0);
            free(err);
        }
    }
    assert_true(ok > 0 && ok < 3000);
}


/* Limits come before libyaml builds a tree (yaml.c): deep flow nesting took libyaml's scanner
 * over a minute at 100,000 levels; 100,000 logger levels were cubic in sky_set_level(); an
 * alias could hand one huge list to every processor. Each is refused with SKY_ELIMIT and a
 * located message, quickly. */
static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
    size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
    char *s = malloc(hl + ul * n + tl + 1);
    memcpy(s, head, hl);
    for (size_t i = 0; i < n; i++)
        memcpy(s + hl + ul * i, unit, ul);
    memcpy(s + hl + ul * n, tail, tl + 1);
    return s;
}

static void test_limits_before_allocation(void **state)
{
    (void)state;
    char *deep = repeat("sinks: ", "[", 100000, "");
    expect_error(deep, SKY_ELIMIT, "<yaml>:1:");
    expect_error(deep, SKY_ELIMIT, "nested more than 32 levels deep");
    free(deep);
    char *deepmap = repeat("sinks: ", "{a: ", 50000, "1");
    expect_error(deepmap, SKY_ELIMIT, "nested more than 32 levels deep");
    free(deepmap);

    char *loggers = malloc(2000 * 24 + 64);
    size_t len = (size_t)sprintf(loggers, "sinks: []\nloggers:\n");
    for (int i = 0; i < 2000; i++)
        len += (size_t)sprintf(loggers + len, "  app.l%d: info\n", i);
    expect_error(loggers, SKY_ELIMIT, "loggers: 2000 logger levels; at most 256");
    free(loggers);

    char *list = repeat("sinks: []\nprocessors:\n  - redact: { fields: [", "f,", 1100, "g] }\n");
    expect_error(list, SKY_ELIMIT, "processors[0].redact.fields: a list of 1101 entries; at most 1024");
    free(list);
    char *procs = repeat("sinks: []\nprocessors:\n", "  - redact\n", 300, "");
    expect_error(procs, SKY_ELIMIT, "processors: 300 entries; at most 256");
    free(procs);

    /* 1 MiB of text, however it is spelled */
    char *big = repeat("sinks: []\n", "#                                                              \n",
                       (1 << 20) / 64 + 1, "");
    expect_error(big, SKY_ELIMIT, "larger than 1024 KiB");
    char *path = write_file("big.yaml", big);
    sky_t *sky = NULL;
    char *err = NULL;
    assert_int_equal(sky_open_file(path, &sky, &err), SKY_ELIMIT);
    assert_non_null(strstr(err, "larger than 1024 KiB"));
    free(err);
    free(path);
    free(big);

    /* a mapping of many keys is checked for duplicates in n log n, and the first is named */
    char *keys = malloc(1000 * 24 + 64);
    len = (size_t)sprintf(keys, "sinks: []\nprocessors:\n  - enrich:\n");
    for (int i = 0; i < 1000; i++)
        len += (size_t)sprintf(keys + len, "      k%d: x\n", i % 997);
    expect_error(keys, SKY_EINVAL, "<yaml>:1001:7: processors[0].enrich: duplicate key 'k0' (first at line 4)");
    free(keys);
}

/* A configuration's security monitor and metrics processor give their own counters through
 * sky_security_monitor_get() / sky_log_metrics_get(), by processor index, as sinks do through
 * sky_sink_get(); another processor's index, or one past the end, gives NULL. */
static void test_processor_handles_of_a_configuration(void **state)
{
    (void)state;
    const char *yaml = "processors:\n"
                       "  - redact: {}\n"
                       "  - security_monitor: { rules: 'burst: login by user >= 2 in 1m' }\n"
                       "  - metrics: { namespace: SkylogTest, rules: [count dims=none] }\n";
    sky_t *sky = NULL;
    char *err = NULL;
    assert_int_equal(sky_open_yaml(yaml, strlen(yaml), &sky, &err), SKY_OK);
    sky_stats st;
    sky_stats_get(sky, &st);
    assert_int_equal(st.processor_count, 3);
    assert_null(sky_security_monitor_get(sky, 0));
    assert_null(sky_log_metrics_get(sky, 0));
    sky_security_monitor *m = sky_security_monitor_get(sky, 1);
    sky_log_metrics *lm = sky_log_metrics_get(sky, 2);
    assert_non_null(m);
    assert_non_null(lm);
    assert_null(sky_log_metrics_get(sky, 1));
    assert_null(sky_security_monitor_get(sky, 2));
    assert_null(sky_security_monitor_get(sky, 3));
    assert_null(sky_log_metrics_get(sky, 3));
    assert_null(sky_security_monitor_get(NULL, 1));
    sky_logger *lg = sky_logger_get(sky, "auth");
    for (int i = 0; i < 3; i++)
        sky_info(lg, "login", SKY_STR("user", "bob"));
    sky_info(lg, "login"); /* no key */
    sky_flush(sky, 5000);
    sky_security_stats ss;
    sky_security_stats_get(m, &ss);
    assert_int_equal(ss.counted, 3);
    assert_int_equal(ss.alerts, 1);
    assert_int_equal(ss.no_key, 1);
    assert_int_equal(ss.tracked, 1);
    sky_log_metrics_stats ls;
    assert_int_equal(sky_log_metrics_stats_get(lm, &ls), SKY_OK);
    assert_true(ls.events >= 4); /* the alert the monitor derived may be seen too */
    assert_int_equal(ls.recorded, ls.events);
    sky_close(sky);
}

/* By name: sky_processor_find() gives the index every processor getter takes (the type's name,
 * as the configuration's list names it; `from` walks to the next of a name), sky_sink_find()
 * a sink's by its route's name. A `system_metrics` section is no processor: its sampler is
 * found by sky_sampler_get(), in the order of the file. The CloudWatch sinks' AWS clients give
 * their retry policy (sky_cwl_retry_stats_get(), sky_cwm_retry_stats_get()). */
static void test_find_by_name_samplers_and_retry_stats(void **state)
{
    (void)state;
    unsetenv("AWS_RETRY_MODE");
    unsetenv("AWS_MAX_ATTEMPTS");
    setenv("AWS_CONFIG_FILE", "/nonexistent/skylog-test-config", 1);
    const char *yaml = "processors:\n"
                       "  - redact: {}\n"
                       "  - security_monitor: { rules: 'a: login by user >= 2 in 1m' }\n"
                       "  - system_metrics: { interval_ms: 1h, log: true }\n"
                       "  - metrics: { namespace: SkylogTest, rules: [count dims=none] }\n"
                       "  - security_monitor: { rules: 'b: logout by user >= 2 in 1m' }\n"
                       "  - system_metrics: { interval_ms: 2h, log: true }\n"
                       "sinks:\n"
                       "  - console: { name: screen, level: off }\n"
                       "  - cloudwatch_logs: { name: cw, log_group: g, log_stream: s, region: us-east-1,\n"
                       "                       endpoint: 'http://127.0.0.1:9', max_retries: 2 }\n"
                       "  - metrics_cloudwatch: { endpoint: 'http://127.0.0.1:9', region: us-east-1,\n"
                       "                          max_retries: 1 }\n"
                       "  - console: { name: screen, level: off }\n";
    sky_t *sky = NULL;
    char *err = NULL;
    if (sky_open_yaml(yaml, strlen(yaml), &sky, &err) != SKY_OK)
        fail_msg("%s", err);
    sky_stats st;
    sky_stats_get(sky, &st);
    assert_int_equal(st.processor_count, 4); /* the samplers are not processors */

    size_t i = 99, j = 99;
    assert_int_equal(sky_processor_find(sky, "redact", 0, &i), SKY_OK);
    assert_int_equal(i, 0);
    assert_int_equal(sky_processor_find(sky, "security_monitor", 0, &i), SKY_OK);
    assert_int_equal(i, 1);
    assert_int_equal(sky_processor_find(sky, "security_monitor", i + 1, &j), SKY_OK);
    assert_int_equal(j, 3);
    sky_security_monitor *m1 = sky_security_monitor_get(sky, i), *m2 = sky_security_monitor_get(sky, j);
    assert_non_null(m1);
    assert_non_null(m2);
    assert_ptr_not_equal(m1, m2);
    size_t k = 99;
    assert_int_equal(sky_processor_find(sky, "security_monitor", j + 1, &k), SKY_ENOTFOUND);
    assert_int_equal(k, 99); /* untouched */
    assert_int_equal(sky_processor_find(sky, "metrics", 0, &k), SKY_OK);
    assert_int_equal(k, 2);
    assert_non_null(sky_log_metrics_get(sky, k));
    sky_processor_stats ps;
    assert_int_equal(sky_processor_stats_get(sky, k, &ps), SKY_OK);
    assert_string_equal(ps.name, "metrics");
    assert_int_equal(sky_processor_find(sky, "system_metrics", 0, &k), SKY_ENOTFOUND);
    assert_int_equal(sky_processor_find(sky, "security", 0, &k), SKY_ENOTFOUND); /* exact */
    assert_int_equal(sky_processor_find(sky, "redact", 99, &k), SKY_ENOTFOUND);
    assert_int_equal(sky_processor_find(NULL, "redact", 0, &k), SKY_EINVAL);
    assert_int_equal(sky_processor_find(sky, NULL, 0, &k), SKY_EINVAL);
    assert_int_equal(sky_processor_find(sky, "redact", 0, NULL), SKY_EINVAL);
    /* the monitors count their own rules' events: the index found is the right one */
    sky_logger *lg = sky_logger_get(sky, "auth");
    sky_info(lg, "logout", SKY_STR("user", "bob"));
    sky_flush(sky, 5000);
    sky_security_stats ss;
    sky_security_stats_get(m1, &ss);
    assert_int_equal(ss.counted, 0);
    sky_security_stats_get(m2, &ss);
    assert_int_equal(ss.counted, 1);

    /* samplers: two, in the file's order; each with its baseline sample */
    sky_sampler *s0 = sky_sampler_get(sky, 0), *s1 = sky_sampler_get(sky, 1);
    assert_non_null(s0);
    assert_non_null(s1);
    assert_ptr_not_equal(s0, s1);
    assert_null(sky_sampler_get(sky, 2));
    assert_null(sky_sampler_get(NULL, 0));
    sky_sampler_stats sst;
    assert_int_equal(sky_sampler_stats_get(s0, &sst), SKY_OK);
    assert_int_equal(sst.samples, 0); /* an hour to the first */
    assert_true(sst.last.rss_bytes > 0);
    assert_true(sst.last.threads >= 1);
    assert_true(sst.last.open_fds >= 3);

    /* sinks by their route's name (two named alike: `from` gives the second) */
    assert_int_equal(sky_sink_find(sky, "screen", 0, &i), SKY_OK);
    assert_int_equal(i, 0);
    assert_int_equal(sky_sink_find(sky, "screen", i + 1, &i), SKY_OK);
    assert_int_equal(i, 3);
    assert_int_equal(sky_sink_find(sky, "screen", i + 1, &i), SKY_ENOTFOUND);
    assert_int_equal(sky_sink_find(sky, "cw", 0, &i), SKY_OK);
    assert_int_equal(i, 1);
    sky_aws_retry_stats rs;
    memset(&rs, 0xff, sizeof rs);
    assert_int_equal(sky_cwl_retry_stats_get(sky_sink_get(sky, i), &rs), SKY_OK);
    assert_int_equal(rs.mode, SKY_AWS_RETRY_STANDARD);
    assert_string_equal(sky_aws_retry_mode_name(rs.mode), "standard");
    assert_int_equal(rs.max_attempts, 3); /* max_retries: 2 */
    assert_int_equal(rs.retries, 0);
    assert_int_equal(rs.quota_available, 500);
    assert_int_equal(rs.reserved_[0], 0);
    assert_int_equal(sky_cwm_retry_stats_get(sky_sink_get(sky, i), &rs), SKY_EINVAL);
    assert_int_equal(sky_sink_find(sky, "metrics_cloudwatch", 0, &i), SKY_OK);
    assert_int_equal(i, 2);
    assert_int_equal(sky_cwm_retry_stats_get(sky_sink_get(sky, i), &rs), SKY_OK);
    assert_int_equal(rs.max_attempts, 2);
    assert_int_equal(sky_cwl_retry_stats_get(sky_sink_get(sky, i), &rs), SKY_EINVAL);
    assert_int_equal(sky_cwl_retry_stats_get(NULL, &rs), SKY_EINVAL);
    assert_int_equal(sky_cwm_retry_stats_get(NULL, &rs), SKY_EINVAL);
    assert_int_equal(sky_sink_find(sky, "cloudwatch_logs", 0, &i), SKY_ENOTFOUND); /* named cw */
    assert_int_equal(sky_sink_find(NULL, "cw", 0, &i), SKY_EINVAL);
    assert_string_equal(sky_aws_retry_mode_name(SKY_AWS_RETRY_ADAPTIVE), "adaptive");
    assert_string_equal(sky_aws_retry_mode_name((sky_aws_retry_mode)77), "unknown");
    sky_close(sky);
    unsetenv("AWS_CONFIG_FILE");
}

/* A processor's `name:` (the keys every processor accepts, sky__config_proc_keys): found by
 * sky_processor_find() as that one processor, while its type still finds every processor of
 * the type; refused when used twice or when it is a type's name, at the processor's place in
 * the file; from the environment as SKYLOG_<PROCESSOR>__NAME. */
static void test_processor_names(void **state)
{
    (void)state;
    const char *yaml = "processors:\n"
                       "  - security_monitor: { name: logins, rules: 'a: login by user >= 2 in 1m'"
                       " }\n"
                       "  - redact\n"
                       "  - security_monitor: { rules: 'b: upload by user >= 2 in 1m', name: "
                       "uploads }\n"
                       "  - security_monitor: { rules: 'c: logout by user >= 2 in 1m' }\n";
    sky_t *sky = NULL;
    char *err = NULL;
    if (sky_open_yaml(yaml, strlen(yaml), &sky, &err) != SKY_OK)
        fail_msg("%s", err);
    size_t i = 99;
    assert_int_equal(sky_processor_find(sky, "uploads", 0, &i), SKY_OK);
    assert_int_equal(i, 2);
    assert_int_equal(sky_processor_find(sky, "uploads", i + 1, &i), SKY_ENOTFOUND);
    assert_int_equal(sky_processor_find(sky, "logins", 0, &i), SKY_OK);
    assert_int_equal(i, 0);
    assert_int_equal(sky_processor_find(sky, "logins", 1, &i), SKY_ENOTFOUND); /* at `from` on */
    size_t seen[4], n = 0; /* the type: every one, named or not, in order */
    for (size_t from = 0; n < 4 && sky_processor_find(sky, "security_monitor", from, &i) == SKY_OK;
         from = i + 1)
        seen[n++] = i;
    assert_int_equal(n, 3);
    assert_int_equal(seen[0], 0);
    assert_int_equal(seen[1], 2);
    assert_int_equal(seen[2], 3);
    assert_int_equal(sky_processor_find(sky, "redact", 0, &i), SKY_OK);
    assert_int_equal(i, 1);
    sky_processor_stats ps; /* stats keep the type's name */
    assert_int_equal(sky_processor_stats_get(sky, 2, &ps), SKY_OK);
    assert_string_equal(ps.name, "security_monitor");
    /* the index found is the monitor of that name: its rule counts */
    sky_info(sky_logger_get(sky, "app"), "upload", SKY_STR("user", "bob"));
    sky_flush(sky, 5000);
    sky_security_stats ss;
    sky_security_stats_get(sky_security_monitor_get(sky, 2), &ss);
    assert_int_equal(ss.counted, 1);
    sky_security_stats_get(sky_security_monitor_get(sky, 0), &ss);
    assert_int_equal(ss.counted, 0);
    sky_close(sky);

    expect_error("processors:\n"
                 "  - redact: { name: pii }\n"
                 "  - sample: { rate: 0.5, name: pii }\n",
                 SKY_EINVAL,
                 "<yaml>:3:5: processors[1].sample: processor name 'pii' is used twice (first by "
                 "processors[0].redact): names must be unique");
    expect_error("processors:\n  - sample: { rate: 0.5, name: redact }\n", SKY_EINVAL,
                 "name 'redact' is a processor type");
    expect_error("processors:\n  - redact: { name: '' }\n", SKY_EINVAL, "must not be empty");
    expect_error("processors:\n  - redact: { nam: x }\n", SKY_EINVAL, "did you mean 'name'");
    assert_int_equal(failures, 0);

    /* the environment: the same key, as a variable */
    setenv("SKYLOG_REDACT__NAME", "pii", 1);
    err = NULL;
    sky = sky_open_env(&err);
    if (!sky)
        fail_msg("%s", err);
    assert_int_equal(sky_processor_find(sky, "pii", 0, &i), SKY_OK);
    size_t j = 99;
    assert_int_equal(sky_processor_find(sky, "redact", 0, &j), SKY_OK);
    assert_int_equal(i, j);
    sky_close(sky);
    setenv("SKYLOG_REDACT__NAME", "sample", 1);
    err = NULL;
    assert_null(sky_open_env(&err));
    assert_non_null(err);
    assert_non_null(strstr(err, "SKYLOG_REDACT__NAME: name 'sample' is a processor type"));
    free(err);
    unsetenv("SKYLOG_REDACT__NAME");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_file_builds_a_working_pipeline),
        cmocka_unit_test(test_cloudwatch_sink_constructs_and_closes_quickly),
        cmocka_unit_test(test_processors_sample_and_filters),
        cmocka_unit_test(test_scalar_item_and_empty_sections),
        cmocka_unit_test(test_errors_are_located_and_explained),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_env_config),
        cmocka_unit_test(test_console_fd),
        cmocka_unit_test(test_cloudwatch_fallback_file),
        cmocka_unit_test(test_damaged_files_never_crash),
        cmocka_unit_test(test_limits_before_allocation),
        cmocka_unit_test(test_processor_handles_of_a_configuration),
        cmocka_unit_test(test_find_by_name_samplers_and_retry_stats),
        cmocka_unit_test(test_processor_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

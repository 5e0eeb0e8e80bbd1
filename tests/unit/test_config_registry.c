/* test_config_registry.c - the option tables and value parsers of src/config/registry.c: every
 * option type, the tables' own consistency, and the did-you-mean suggestions. */
#include "skytest.h"

#include "config/registry.h"
#include <skylog/metrics.h>

#include <skylog/aws.h>
#include <skylog/cloudwatch.h>
#include <skylog/config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A row of each type, parsed on its own. */
static const sky__opt *row(const char *comp, const char *name)
{
    const sky__component *c = strcmp(comp, "pipeline") == 0 ? &sky__config_pipeline
                              : strcmp(comp, "route") == 0  ? &sky__config_route
                                                            : sky__config_find(comp);
    assert_non_null(c);
    const sky__opt *r = sky__config_find_opt(c, name);
    if (!r)
        fail_msg("no option %s.%s", comp, name);
    return r;
}

static int64_t ok_i(const char *comp, const char *name, const char *text)
{
    sky__value v;
    char err[512];
    if (!sky__opt_parse(row(comp, name), text, &v, err, sizeof err))
        fail_msg("%s.%s '%s' rejected: %s", comp, name, text, err);
    return v.i;
}

static void bad(const char *comp, const char *name, const char *text, const char *needle)
{
    sky__value v;
    char err[512] = "";
    if (sky__opt_parse(row(comp, name), text, &v, err, sizeof err))
        fail_msg("%s.%s '%s' accepted", comp, name, text);
    if (!strstr(err, needle))
        fail_msg("%s.%s '%s': error '%s' lacks '%s'", comp, name, text, err, needle);
}

static void test_size(void **state)
{
    (void)state;
    assert_int_equal(ok_i("file", "max_bytes", "4096"), 4096);
    assert_int_equal(ok_i("file", "max_bytes", "64k"), 64 * 1024);
    assert_int_equal(ok_i("file", "max_bytes", "64K"), 64 * 1024);
    assert_int_equal(ok_i("file", "max_bytes", "100M"), 100LL << 20);
    assert_int_equal(ok_i("file", "max_bytes", "100MiB"), 100LL << 20);
    assert_int_equal(ok_i("file", "max_bytes", "100MB"), 100LL << 20);
    assert_int_equal(ok_i("file", "max_bytes", "2G"), 2LL << 30);
    assert_int_equal(ok_i("file", "max_bytes", "1.5k"), 1536);
    assert_int_equal(ok_i("file", "max_bytes", "10B"), 10);
    bad("file", "max_bytes", "12Q", "expected a size like");
    bad("file", "max_bytes", "-1", "invalid value '-1'");
    bad("file", "max_bytes", "M", "invalid value");
    bad("file", "max_bytes", "", "invalid value");
    bad("file", "max_bytes", "0.5", "invalid value"); /* half a byte */
    bad("pipeline", "ring_bytes", "1k", "out of range: '1k'");
    /* exact decimals that never wrap (fuzz target config_values checks every row's range) */
    assert_int_equal(ok_i("file", "max_bytes", "0.25k"), 256);
    assert_int_equal(ok_i("file", "max_bytes", "0007k"), 7168);
    assert_int_equal(ok_i("file", "max_bytes", "8388607T"), 8388607LL << 40);
    bad("file", "max_bytes", "8388608T", "out of range: '8388608T'"); /* 2^63 */
    bad("file", "max_bytes", "99999999999999TB", "out of range");
    bad("file", "max_bytes", "18446744073709551616", "out of range");
    bad("file", "max_bytes", "1e3", "invalid value");
    bad("file", "max_bytes", "0x10", "invalid value");
    bad("file", "max_bytes", "1.0000000001k", "invalid value");
}

static void test_duration(void **state)
{
    (void)state;
    assert_int_equal(ok_i("pipeline", "close_timeout_ms", "250"), 250);
    assert_int_equal(ok_i("pipeline", "close_timeout_ms", "250ms"), 250);
    assert_int_equal(ok_i("pipeline", "close_timeout_ms", "2s"), 2000);
    assert_int_equal(ok_i("pipeline", "close_timeout_ms", "1.5s"), 1500);
    assert_int_equal(ok_i("pipeline", "close_timeout_ms", "5m"), 300000);
    assert_int_equal(ok_i("pipeline", "close_timeout_ms", "1h"), 3600000);
    /* A seconds option: a bare number is seconds, and units convert. */
    assert_int_equal(ok_i("file", "rotate_interval_s", "60"), 60);
    assert_int_equal(ok_i("file", "rotate_interval_s", "1h"), 3600);
    assert_int_equal(ok_i("file", "rotate_interval_s", "24h"), 86400);
    bad("file", "rotate_interval_s", "1500ms", "expected a duration");
    bad("pipeline", "close_timeout_ms", "5 parsecs", "expected a duration like 250ms");
    bad("pipeline", "close_timeout_ms", "-5s", "invalid value");
    bad("pipeline", "close_timeout_ms", "2h", "out of range");
    /* decimal fractions are exact: 1.1 * 1000 is 1100.0000000000002 in a double */
    assert_int_equal(ok_i("pipeline", "close_timeout_ms", "1.1s"), 1100);
    assert_int_equal(ok_i("pipeline", "close_timeout_ms", "0.7s"), 700);
    assert_int_equal(ok_i("pipeline", "close_timeout_ms", "0.001s"), 1);
    assert_int_equal(ok_i("pipeline", "close_timeout_ms", "0.5min"), 30000);
    assert_int_equal(ok_i("file", "rotate_interval_s", "1.5m"), 90);
    bad("pipeline", "close_timeout_ms", "0.0005s", "invalid value");
    bad("file", "rotate_interval_s", "1.5", "invalid value");
    bad("pipeline", "close_timeout_ms", "99999999999999999999d", "out of range");
    bad("pipeline", "close_timeout_ms", "1e3", "invalid value");
}

static void test_int_number_bool_string(void **state)
{
    (void)state;
    assert_int_equal(ok_i("file", "max_backups", "7"), 7);
    bad("file", "max_backups", "seven", "expected an integer from 1 to 1000");
    bad("file", "max_backups", "1001", "out of range: '1001'");
    bad("file", "max_backups", "0", "out of range");
    bad("file", "max_backups", "7.5", "invalid value");
    assert_int_equal(ok_i("file", "mode", "0600"), 0600);
    assert_int_equal(ok_i("file", "mode", "644"), 0644);
    bad("file", "mode", "0999", "octal");

    sky__value v;
    char err[256];
    assert_true(sky__opt_parse(row("rate_limit", "per_second"), "12.5", &v, err, sizeof err));
    assert_true(v.d == 12.5);
    bad("sample", "info", "1.5", "a number from 0 to 1");
    bad("sample", "info", "half", "invalid value 'half'");
    bad("sample", "info", "nan", "invalid value");

    for (const char *const *t = (const char *const[]){"true", "yes", "on", "1", "TRUE", NULL}; *t;
         t++)
        assert_int_equal(ok_i("enrich", "hostname", *t), 1);
    for (const char *const *t = (const char *const[]){"false", "no", "off", "0", NULL}; *t; t++)
        assert_int_equal(ok_i("enrich", "hostname", *t), 0);
    bad("enrich", "hostname", "maybe", "expected true/false, yes/no, on/off or 1/0");

    assert_true(sky__opt_parse(row("enrich", "service"), "shop", &v, err, sizeof err));
    assert_string_equal(v.s, "shop");
}

/* One spelling of a number for YAML, env and the CLI flags (which all call sky__opt_parse). */
static void test_numbers_are_plain(void **state)
{
    (void)state;
    for (const char *const *t = (const char *const[]){"+5", "-0", "-5", " 5", "5 ", "0x10", "5e0",
                                                      "", "-", "5.", NULL};
         *t; t++)
        bad("file", "max_backups", *t, "invalid value");
    bad("file", "mode", "+644", "invalid value");
    bad("file", "max_backups", "99999999999999999999", "out of range");
    assert_int_equal(ok_i("file", "max_backups", "007"), 7);
    /* a negative is spelled only where the range has one */
    sky__opt neg = {.type = SKY__OPT_INT, .min = -10, .max = 10};
    sky__value v;
    char err[256];
    assert_true(sky__opt_parse(&neg, "-7", &v, err, sizeof err));
    assert_int_equal(v.i, -7);
    assert_true(sky__opt_parse(&neg, "-0", &v, err, sizeof err));
    assert_int_equal(v.i, 0);
    assert_false(sky__opt_parse(&neg, "+7", &v, err, sizeof err));

    for (const char *const *t = (const char *const[]){"+0.5", "-0", "-0.0", "0x1p-1", "0X.8",
                                                      "inf", "-inf", "nan", "INFINITY", " 0.5",
                                                      "0.5 ", ".", "1e", "1e+", "0.5f", NULL};
         *t; t++)
        bad("sample", "info", *t, "invalid value");
    assert_true(sky__opt_parse(row("sample", "info"), ".5", &v, err, sizeof err));
    assert_true(v.d == 0.5);
    assert_true(sky__opt_parse(row("sample", "info"), "5e-1", &v, err, sizeof err));
    assert_true(v.d == 0.5);
    assert_true(sky__opt_parse(row("rate_limit", "per_second"), "2.5E3", &v, err, sizeof err));
    assert_true(v.d == 2500);
    bad("rate_limit", "per_second", "1e999", "out of range");
    sky__opt real = {.type = SKY__OPT_NUMBER, .dmin = -10, .dmax = 10};
    assert_true(sky__opt_parse(&real, "-2.5", &v, err, sizeof err));
    assert_true(v.d == -2.5);
    assert_false(sky__opt_parse(&real, "+2.5", &v, err, sizeof err));
    assert_false(sky__opt_parse(&real, "-inf", &v, err, sizeof err));

    /* a range from 1 already says 0 is out: the description does not say it twice */
    char what[300];
    sky__opt_describe(row("cloudwatch_logs", "batch_size"), what, sizeof what);
    assert_string_equal(what, "an integer from 1 to 10000");
    sky__opt_describe(row("cloudwatch_logs", "request_timeout_ms"), what, sizeof what);
    assert_non_null(strstr(what, ", not 0"));
}

static void test_enum(void **state)
{
    (void)state;
    assert_int_equal(ok_i("pipeline", "level", "debug"), SKY_LEVEL_DEBUG);
    assert_int_equal(ok_i("pipeline", "level", "WARNING"), SKY_LEVEL_WARN);
    assert_int_equal(ok_i("pipeline", "mode", "async"), SKY_MODE_ASYNC);
    assert_int_equal(ok_i("pipeline", "overflow", "drop_oldest"), SKY_OVERFLOW_DROP_OLDEST);
    assert_int_equal(ok_i("console", "color", "never"), -1);
    assert_int_equal(ok_i("cloudwatch_logs", "transport", "ndjson"), SKY_CWL_NDJSON);
    /* every sink that talks HTTP chooses its client the same way */
    static const char *const http_sinks[] = {"cloudwatch_logs", "metrics_cloudwatch", "http",
                                             "otlp"};
    for (size_t i = 0; i < sizeof http_sinks / sizeof http_sinks[0]; i++) {
        assert_string_equal(row(http_sinks[i], "http_transport")->def, "auto");
        assert_int_equal(ok_i(http_sinks[i], "http_transport", "auto"), SKY_HTTP_TRANSPORT_AUTO);
        assert_int_equal(ok_i(http_sinks[i], "http_transport", "native"),
                         SKY_HTTP_TRANSPORT_NATIVE);
        assert_int_equal(ok_i(http_sinks[i], "http_transport", "curl"), SKY_HTTP_TRANSPORT_CURL);
        bad(http_sinks[i], "http_transport", "nativ",
            "unknown value 'nativ' (did you mean 'native'?); expected one of: auto, native, curl");
    }
    bad("pipeline", "level", "loud",
        "unknown value 'loud'; expected one of: trace, debug, info, warn, error, critical, off");
    bad("file", "format", "jsn", "(did you mean 'json'?)");
    bad("pipeline", "overflow", "drop", "expected one of: block, drop_newest, drop_oldest");
}

static void test_store_writes_the_struct(void **state)
{
    (void)state;
    sky_cwl_opts o;
    memset(&o, 0, sizeof o);
    sky__value v;
    char err[256];
    const sky__opt *r = row("cloudwatch_logs", "max_queue_bytes");
    assert_true(sky__opt_parse(r, "8M", &v, err, sizeof err));
    sky__opt_store(r, &o, &v);
    assert_int_equal(o.max_queue_bytes, 8u << 20);
    r = row("cloudwatch_logs", "no_create_group");
    assert_true(sky__opt_parse(r, "yes", &v, err, sizeof err));
    sky__opt_store(r, &o, &v);
    assert_true(o.no_create_group);
    r = row("cloudwatch_logs", "retention_days");
    assert_true(sky__opt_parse(r, "30", &v, err, sizeof err));
    sky__opt_store(r, &o, &v);
    assert_int_equal(o.retention_days, 30);
    r = row("cloudwatch_logs", "http_transport");
    assert_true(sky__opt_parse(r, "curl", &v, err, sizeof err));
    sky__opt_store(r, &o, &v);
    assert_int_equal(o.http_transport, SKY_HTTP_TRANSPORT_CURL);
    r = row("cloudwatch_logs", "flush_interval_ms");
    assert_true(sky__opt_parse(r, "2s", &v, err, sizeof err));
    sky__opt_store(r, &o, &v);
    assert_int_equal(o.flush_interval_ms, 2000);

    /* max_retries: 0 written is "no retries" (the struct's < 0), unset stays 0 (the default:
     * AWS_MAX_ATTEMPTS, the profile's max_attempts, else 3) */
    assert_int_equal(o.max_retries, 0);
    r = row("cloudwatch_logs", "max_retries");
    assert_true(sky__opt_parse(r, "0", &v, err, sizeof err));
    sky__opt_store(r, &o, &v);
    assert_true(o.max_retries < 0);
    assert_true(sky__opt_parse(r, "5", &v, err, sizeof err));
    sky__opt_store(r, &o, &v);
    assert_int_equal(o.max_retries, 5);
    assert_false(sky__opt_parse(r, "-1", &v, err, sizeof err)); /* users write 0 for none */
    sky_cwm_opts mo;
    memset(&mo, 0, sizeof mo);
    r = row("metrics_cloudwatch", "max_retries");
    assert_true(sky__opt_parse(r, "0", &v, err, sizeof err));
    sky__opt_store(r, &mo, &v);
    assert_true(mo.max_retries < 0);

    sky_options p;
    memset(&p, 0, sizeof p);
    r = row("pipeline", "level");
    assert_true(sky__opt_parse(r, "trace", &v, err, sizeof err));
    sky__opt_store(r, &p, &v);
    assert_true(p.level_set);
    assert_int_equal(p.level, SKY_LEVEL_TRACE);
}

/* Every row is well-formed, names are unique per component, and every sky_cwl_opts field that
 * a file can express has a row (fallback, a sink pointer, is the one exception). */
static void check_component(const sky__component *c)
{
    assert_non_null(c->name);
    assert_non_null(c->summary);
    assert_true(c->n_opts > 0);
    for (size_t i = 0; i < c->n_opts; i++) {
        const sky__opt *r = &c->opts[i];
        assert_non_null(r->name);
        if (!r->desc || !*r->desc)
            fail_msg("%s.%s has no description", c->name, r->name);
        assert_true(r->type < SKY__OPT_TYPE_COUNT_);
        if (r->type == SKY__OPT_ENUM)
            assert_non_null(r->values);
        if (!r->set) {
            assert_true(r->width == 1 || r->width == 2 || r->width == 4 || r->width == 8);
            assert_true(r->offset + r->width <= c->opts_size);
        }
        if (r->type == SKY__OPT_DURATION)
            assert_true(r->unit_ms == 1 || r->unit_ms == 1000);
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->opts[j].name, r->name) == 0)
                fail_msg("%s.%s listed twice", c->name, r->name);
        const sky__component *common = sky__config_common(c);
        if (common && c != common && sky__config_find_opt(common, r->name))
            fail_msg("%s.%s clashes with a key every %s accepts", c->name, r->name, common->name);
    }
    if (c->kind == SKY__KIND_SINK && c != &sky__config_route)
        assert_non_null(c->build_sink);
    if (c->kind == SKY__KIND_PROCESSOR && c != &sky__config_proc_keys)
        assert_non_null(c->add_processor);
}

static void test_tables_are_consistent(void **state)
{
    (void)state;
    check_component(&sky__config_pipeline);
    check_component(&sky__config_route);
    check_component(&sky__config_proc_keys);
    size_t n = 0;
    for (; sky__config_components[n]; n++) {
        check_component(sky__config_components[n]);
        assert_ptr_equal(sky__config_find(sky__config_components[n]->name),
                         sky__config_components[n]);
    }
    assert_int_equal(n, 18);
    const char *want[] = {"console", "file", "cloudwatch_logs", "http", "otlp", "audit", "metrics_emf",
                          "metrics_cloudwatch", "metrics_statsd", "enrich", "redact", "sample",
                          "level_filter", "event_filter", "rate_limit", "metrics",
                          "system_metrics", "security_monitor"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_non_null(sky__config_find(want[i]));
    const char *cwl[] = {"log_group", "log_stream", "region", "endpoint", "profile",
                         "access_key_id", "secret_access_key", "session_token", "no_create_group",
                         "no_create_stream", "retention_days", "batch_size", "max_batch_bytes",
                         "flush_interval_ms", "max_queue_size", "max_queue_bytes",
                         "block_when_full", "compress", "sync_upload", "max_retries",
                         "retry_delay_ms", "no_exponential_backoff", "max_event_bytes",
                         "oversize", "transport", "bearer_token", "message_only",
                         "connect_timeout_ms", "request_timeout_ms", "ca_bundle",
                         "http_transport", "spool_path", "spool_max_bytes", "spool_fsync",
                         "spool_fsync_every_ms", "fallback_file"};
    for (size_t i = 0; i < sizeof cwl / sizeof cwl[0]; i++)
        row("cloudwatch_logs", cwl[i]);
    assert_int_equal(sky__config_find("cloudwatch_logs")->n_opts, sizeof cwl / sizeof cwl[0]);
    const char *pipe[] = {"level", "mode", "ring_bytes", "overflow", "block_max_wait_ms",
                          "close_timeout_ms"};
    for (size_t i = 0; i < sizeof pipe / sizeof pipe[0]; i++)
        row("pipeline", pipe[i]);
}

/* Options whose 0 would silently be the default (the C struct's "unset") while a reader takes
 * it for "none" or "off" (a timeout, a queue, an interval) refuse 0 and say why; the ones where
 * 0 has its own meaning (max_bytes: never rotate, retention_days: leave alone, max_retries: no
 * retries, cooldown: none) take it. */
static void test_zero_is_never_silently_the_default(void **state)
{
    (void)state;
    static const char *const refused[][2] = {
        {"pipeline", "close_timeout_ms"},        {"pipeline", "block_max_wait_ms"},
        {"file", "mode"},                        {"audit", "fsync_interval_ms"},
        {"cloudwatch_logs", "request_timeout_ms"}, {"cloudwatch_logs", "connect_timeout_ms"},
        {"cloudwatch_logs", "flush_interval_ms"}, {"cloudwatch_logs", "max_queue_size"},
        {"cloudwatch_logs", "max_queue_bytes"},  {"cloudwatch_logs", "retry_delay_ms"},
        {"cloudwatch_logs", "batch_size"},       {"cloudwatch_logs", "spool_max_bytes"},
        {"cloudwatch_logs", "spool_fsync_every_ms"}, {"cloudwatch_logs", "max_event_bytes"},
        {"http", "timeout_ms"},                  {"http", "close_timeout_ms"},
        {"http", "max_retry_after_ms"},          {"http", "max_backoff_ms"},
        {"otlp", "max_queue_size"},              {"metrics_cloudwatch", "request_timeout_ms"},
        {"metrics_cloudwatch", "retry_delay_ms"}, {"metrics_cloudwatch", "max_queue_datums"},
    };
    sky__value v;
    char err[256];
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        const sky__opt *r = row(refused[i][0], refused[i][1]);
        assert_true(r->no_zero);
        if (sky__opt_parse(r, "0", &v, err, sizeof err))
            fail_msg("%s.%s accepts 0", refused[i][0], refused[i][1]);
        if (!strstr(err, "0 is not accepted") || !strstr(err, "default"))
            fail_msg("%s.%s: %s", refused[i][0], refused[i][1], err);
        assert_true(sky__opt_parse(r, "1", &v, err, sizeof err));
    }
    /* every row marked so refuses 0, whatever its type */
    for (size_t c = 0; sky__config_components[c]; c++)
        for (size_t i = 0; i < sky__config_components[c]->n_opts; i++) {
            const sky__opt *r = &sky__config_components[c]->opts[i];
            if (r->no_zero && sky__opt_parse(r, "0", &v, err, sizeof err))
                fail_msg("%s.%s accepts 0", sky__config_components[c]->name, r->name);
        }
    static const char *const taken[][2] = {{"file", "max_bytes"}, {"file", "rotate_interval_s"},
                                           {"cloudwatch_logs", "retention_days"},
                                           {"cloudwatch_logs", "max_retries"},
                                           {"security_monitor", "cooldown"}};
    for (size_t i = 0; i < sizeof taken / sizeof taken[0]; i++)
        assert_true(sky__opt_parse(row(taken[i][0], taken[i][1]), "0", &v, err, sizeof err));
    /* cooldown: 0 is "none", the struct's negative; unset stays 0 (the rule's window) */
    sky_security_opts so;
    memset(&so, 0, sizeof so);
    const sky__opt *r = row("security_monitor", "cooldown");
    assert_true(sky__opt_parse(r, "0", &v, err, sizeof err));
    sky__opt_store(r, &so, &v);
    assert_true(so.cooldown_ms < 0);
    assert_true(sky__opt_parse(r, "90s", &v, err, sizeof err));
    sky__opt_store(r, &so, &v);
    assert_int_equal(so.cooldown_ms, 90000);
}

static void test_suggest(void **state)
{
    (void)state;
    const char *names[] = {"path", "format", "max_bytes", "max_backups", "mode"};
    assert_string_equal(sky__config_suggest("max_byte", names, 5), "max_bytes");
    assert_string_equal(sky__config_suggest("max_backup", names, 5), "max_backups");
    assert_string_equal(sky__config_suggest("fromat", names, 5), "format");
    assert_string_equal(sky__config_suggest("PATH", names, 5), "path");
    assert_null(sky__config_suggest("colour_scheme", names, 5));
    assert_null(sky__config_suggest("x", names, 5));
    /* a swapped pair is one typo, also in a short word ("pahT" is 2 apart by Levenshtein, past
     * a 4-letter word's limit of 1) */
    assert_string_equal(sky__config_suggest("PAHT", names, 5), "path");
    assert_string_equal(sky__config_suggest("mdoe", names, 5), "mode");
    const char *cmds[] = {"serve", "ship", "tail", "groups", "streams", "version"};
    assert_string_equal(sky__config_suggest("tial", cmds, 6), "tail");
    assert_string_equal(sky__config_suggest("verison", cmds, 6), "version");
    assert_null(sky__config_suggest("lait", cmds, 6)); /* two swaps are not one typo */
}

static void test_listings(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    sky__config_print_text(sky__config_find("file"), f);
    sky__config_print_markdown(sky__config_find("file"), f);
    fclose(f);
    assert_non_null(strstr(buf, "max_bytes"));
    assert_non_null(strstr(buf, "(required)"));
    assert_non_null(strstr(buf, "| `path` | string | **required** |"));
    assert_non_null(strstr(buf, "| `max_backups` | int | 5 | rotated files kept (path.1 is the newest); an integer from 1 to 1000 |"));
    free(buf);
}

/* URL passwords never reach what config prints. */
static void test_scrub_userinfo(void **state)
{
    (void)state;
    struct {
        const char *in, *out;
    } cases[] = {
        {"https://user:secret@host/x", "https://user:***@host/x"},
        {"endpoint 'http://u:p@127.0.0.1:9' refused", "endpoint 'http://u:***@127.0.0.1:9' refused"},
        {"http://token@host", "http://***@host"},
        {"a http://a:b@h and https://c:d@i/", "a http://a:***@h and https://c:***@i/"},
        {"http://host/path@not-userinfo", "http://host/path@not-userinfo"},
        {"no url: user:pass@host", "no url: user:pass@host"},
        {"http://u:p:q@h", "http://u:***@h"},
        {"http://u:p@x@h/", "http://u:***@h/"},
        {"://", "://"},
        {"", ""},
    };
    char out[128];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sky__scrub_userinfo(cases[i].in, out, sizeof out);
        if (strcmp(out, cases[i].out) != 0)
            fail_msg("'%s' -> '%s', want '%s'", cases[i].in, out, cases[i].out);
    }
    char small[12];
    sky__scrub_userinfo("https://user:secret@host", small, sizeof small);
    assert_string_equal(small, "https://use"); /* truncated, terminated */
    assert_null(strstr(small, "secret"));
}

/* Every row has a variable name that fits, distinct from every other. */
static void test_env_names(void **state)
{
    (void)state;
    char seen[256][96];
    size_t n = 0;
    const sky__component *all[40];
    size_t k = 0;
    all[k++] = &sky__config_pipeline;
    for (size_t i = 0; sky__config_components[i]; i++)
        all[k++] = sky__config_components[i];
    for (size_t c = 0; c < k; c++)
        for (int pass = 0; pass < 2; pass++) {
            const sky__component *rows = pass ? sky__config_common(all[c]) : all[c];
            if (!rows)
                break;
            for (size_t r = 0; r < rows->n_opts; r++) {
                assert_true(n < 256);
                assert_true(sky__env_name(all[c], &rows->opts[r], seen[n], sizeof seen[n]));
                for (size_t j = 0; j < n; j++)
                    if (strcmp(seen[j], seen[n]) == 0)
                        fail_msg("two rows named %s", seen[n]);
                n++;
            }
        }
    char name[96];
    sky__env_name(sky__config_find("cloudwatch_logs"),
                  sky__config_find_opt(sky__config_find("cloudwatch_logs"), "batch_size"), name,
                  sizeof name);
    assert_string_equal(name, "SKYLOG_CLOUDWATCH_LOGS__BATCH_SIZE");
    /* every alias names a real row, and no alias is also a generated name */
    for (const sky__env_alias *a = sky__env_aliases; a->name; a++) {
        const sky__component *c = sky__config_find(a->section);
        assert_non_null(c);
        if (a->option)
            assert_non_null(sky__config_find_opt(c, a->option));
        else
            assert_true(c->env_default_on);
        for (size_t j = 0; j < n; j++)
            assert_string_not_equal(seen[j], a->name);
    }
}

/* Both components with a list of rules (metrics, security_monitor) check every rule before
 * building anything and name the first bad one by its place in the list. */
static void test_rule_lists_name_the_bad_rule(void **state)
{
    (void)state;
    static const struct {
        const char *yaml, *want;
    } cases[] = {
        {"processors:\n  - metrics:\n      namespace: App\n"
         "      rules: [\"count\", \"histogram\", \"nonsense\"]\n",
         "metrics: rules[1]: "},
        {"processors:\n  - security_monitor:\n"
         "      rules: [\"bf: login_failed by user >= 5 in 5m\", \"nope\"]\n",
         "security_monitor: rules[1]: "},
        {"processors:\n  - security_monitor:\n      rules: [\"x\"]\n",
         "security_monitor: rules[0]: "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        sky_t *sky = NULL;
        char *err = NULL;
        assert_int_equal(sky_open_yaml(cases[i].yaml, strlen(cases[i].yaml), &sky, &err),
                         SKY_EINVAL);
        assert_null(sky);
        assert_non_null(err);
        if (!strstr(err, cases[i].want))
            fail_msg("case %zu: '%s' does not say '%s'", i, err, cases[i].want);
        free(err);
    }
    /* good lists build */
    const char *good = "processors:\n  - metrics:\n      namespace: App\n"
                       "      rules: [\"count\", \"histogram duration_ms\"]\n"
                       "  - security_monitor:\n"
                       "      rules: [\"bf: login_failed by user >= 5 in 5m\"]\n";
    sky_t *sky = NULL;
    char *err = NULL;
    if (sky_open_yaml(good, strlen(good), &sky, &err) != SKY_OK)
        fail_msg("%s", err ? err : "?");
    sky_close(sky);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_size),
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_int_number_bool_string),
        cmocka_unit_test(test_numbers_are_plain),
        cmocka_unit_test(test_enum),
        cmocka_unit_test(test_store_writes_the_struct),
        cmocka_unit_test(test_tables_are_consistent),
        cmocka_unit_test(test_zero_is_never_silently_the_default),
        cmocka_unit_test(test_suggest),
        cmocka_unit_test(test_listings),
        cmocka_unit_test(test_scrub_userinfo),
        cmocka_unit_test(test_env_names),
        cmocka_unit_test(test_rule_lists_name_the_bad_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

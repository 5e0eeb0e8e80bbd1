/* test_log_metrics.c - the metrics-from-logs processor (src/processors/log_metrics.c): rules
 * from code and from skylog.yaml, dimensions from event fields, bounded cardinality with the
 * overflow counted, the rule text parser's errors. */
#include "skytest.h"

#include "metrics/metrics_internal.h"

#include <skylog/config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- what a flush delivered, by metric name and one dimension's value ----------------------- */

typedef struct got {
    size_t n;
    struct {
        char name[64], dims[256];
        sky_metric_kind kind;
        sky_unit unit;
        double value, count, sum, min, max;
    } d[64];
} got;

static sky_status capture(void *user, const sky_metric_datum *d, size_t n, int64_t deadline)
{
    (void)deadline;
    got *g = user;
    for (size_t i = 0; i < n && g->n < 64; i++) {
        size_t k = g->n++;
        snprintf(g->d[k].name, sizeof g->d[k].name, "%s", d[i].name);
        size_t off = 0;
        g->d[k].dims[0] = 0;
        for (size_t j = 0; j < d[i].n_dims; j++)
            off += (size_t)snprintf(g->d[k].dims + off, sizeof g->d[k].dims - off, "%s%s=%s",
                                    j ? "," : "", d[i].dims[j].name, d[i].dims[j].value);
        g->d[k].kind = d[i].kind;
        g->d[k].unit = d[i].unit;
        g->d[k].value = d[i].value;
        g->d[k].count = d[i].count;
        g->d[k].sum = d[i].sum;
        g->d[k].min = d[i].min;
        g->d[k].max = d[i].max;
    }
    return SKY_OK;
}

static int find(const got *g, const char *name, const char *dims)
{
    for (size_t i = 0; i < g->n; i++)
        if (strcmp(g->d[i].name, name) == 0 && strcmp(g->d[i].dims, dims) == 0)
            return (int)i;
    return -1;
}

static sky_t *open_sync(void)
{
    sky_t *sky;
    sky_options o = {0};
    o.mode = SKY_MODE_SYNC;
    assert_int_equal(sky_open(&o, &sky), SKY_OK);
    return sky;
}

/* ---- from code ------------------------------------------------------------------------------ */

static void test_rules_from_code(void **state)
{
    (void)state;
    sky_metrics *m;
    sky_metrics_new(NULL, &m);
    got g = {0};
    sky__metrics_attach(m, capture, &g, 0);
    sky_t *sky = open_sync();
    const char *by_level[] = {"event", "level", NULL};
    const char *by_route[] = {"route", NULL};
    sky_log_metric_rule rules[] = {
        {.kind = SKY_METRIC_COUNTER, .dims = by_level},
        {.kind = SKY_METRIC_HISTOGRAM, .field = "duration_ms", .events = "http.*",
         .unit = SKY_UNIT_MILLISECONDS, .dims = by_route},
        {.kind = SKY_METRIC_GAUGE, .field = "queue_size", .name = "QueueSize", .no_dims = true},
        {.kind = SKY_METRIC_COUNTER, .name = "Errors", .min_level = SKY_LEVEL_ERROR,
         .no_dims = true},
    };
    sky_log_metrics *lm;
    char *err = NULL;
    assert_int_equal(sky_add_log_metrics(sky, &(sky_log_metrics_opts){.metrics = m, .ns = "App",
                                                                      .rules = rules,
                                                                      .n_rules = 4},
                                         &lm, &err),
                     SKY_OK);
    sky_logger *log = sky_logger_get(sky, "web");
    for (int i = 0; i < 10; i++)
        sky_info(log, "http.request", SKY_STR("route", i % 2 ? "/a" : "/b"),
                 SKY_F64("duration_ms", 10.0 + i));
    sky_warn(log, "http.request", SKY_STR("route", "/a"), SKY_STR("duration_ms", "slow"));
    sky_error(log, "db.error", SKY_INT("queue_size", 7));
    sky_info(log, "tick", SKY_INT("queue_size", 3));
    sky_flush(sky, 1000);
    sky_metrics_flush(m, 0);

    int k = find(&g, "EventCount", "Event=http.request,Level=INFO");
    assert_true(k >= 0);
    assert_true(g.d[k].value == 10 && g.d[k].unit == SKY_UNIT_COUNT);
    assert_true(find(&g, "EventCount", "Event=http.request,Level=WARN") >= 0);
    assert_true(find(&g, "EventCount", "Event=db.error,Level=ERROR") >= 0);
    k = find(&g, "duration_ms", "route=/a");
    assert_true(k >= 0);
    assert_true(g.d[k].kind == SKY_METRIC_HISTOGRAM && g.d[k].unit == SKY_UNIT_MILLISECONDS);
    assert_true(g.d[k].count == 5 && g.d[k].sum == 11 + 13 + 15 + 17 + 19);
    assert_true(g.d[k].min == 11 && g.d[k].max == 19);
    k = find(&g, "duration_ms", "route=/b");
    assert_true(k >= 0 && g.d[k].count == 5);
    k = find(&g, "QueueSize", "");
    assert_true(k >= 0 && g.d[k].value == 3); /* the last value set */
    k = find(&g, "Errors", "");
    assert_true(k >= 0 && g.d[k].value == 1);

    sky_log_metrics_stats st;
    assert_int_equal(sky_log_metrics_stats_get(lm, &st), SKY_OK);
    assert_int_equal(st.events, 13);
    assert_int_equal(st.not_numeric, 1); /* "slow" is not a duration */
    assert_int_equal(st.overflow, 0);
    sky_close(sky);
    sky__metrics_detach(m, &g);
    sky_metrics_free(m);
}

/* ---- cardinality: bounded, the overflow counted, the totals kept ---------------------------- */

static void test_cardinality_bound(void **state)
{
    (void)state;
    sky_metrics *m;
    sky_metrics_new(NULL, &m);
    got g = {0};
    sky__metrics_attach(m, capture, &g, 0);
    sky_t *sky = open_sync();
    const char *by_user[] = {"user_id", NULL};
    sky_log_metric_rule r = {.kind = SKY_METRIC_COUNTER, .name = "Logins", .dims = by_user};
    sky_log_metrics *lm;
    assert_int_equal(sky_add_log_metrics(sky, &(sky_log_metrics_opts){.metrics = m, .ns = "App",
                                                                      .rules = &r, .n_rules = 1,
                                                                      .max_series = 3},
                                         &lm, NULL),
                     SKY_OK);
    sky_logger *log = sky_logger_get(sky, "auth");
    for (int i = 0; i < 100; i++)
        sky_info(log, "login", SKY_INT("user_id", i % 10)); /* 10 distinct ids, 10 times each */
    sky_info(log, "login"); /* no user_id: "none", a fourth tuple: overflow too */
    sky_flush(sky, 1000);
    sky_metrics_flush(m, 0);
    assert_int_equal(g.n, 4); /* 3 series and "other" */
    double total = 0;
    for (size_t i = 0; i < g.n; i++)
        total += g.d[i].value;
    assert_true(total == 101);
    int k = find(&g, "Logins", "user_id=other");
    assert_true(k >= 0 && g.d[k].value == 71);
    sky_log_metrics_stats st;
    sky_log_metrics_stats_get(lm, &st);
    assert_int_equal(st.overflow, 71);
    assert_int_equal(st.recorded, 101);
    sky_close(sky);
    sky__metrics_detach(m, &g);
    sky_metrics_free(m);
}

/* ---- from skylog.yaml ------------------------------------------------------------------------ */

static void test_rules_from_yaml(void **state)
{
    (void)state;
    got g = {0};
    sky_metrics *dm = sky_metrics_default();
    sky__metrics_attach(dm, capture, &g, 0);
    const char *yaml = "mode: sync\n"
                       "sinks:\n"
                       "  - console: { stream: stderr, level: off }\n"
                       "processors:\n"
                       "  - metrics:\n"
                       "      namespace: YamlApp\n"
                       "      max_series: 50\n"
                       "      rules:\n"
                       "        - count events=job.* dims=event+level\n"
                       "        - histogram duration_ms events=job.done unit=Milliseconds "
                       "dims=queue name=JobTime\n";
    sky_t *sky;
    char *err = NULL;
    sky_status st = sky_open_yaml(yaml, strlen(yaml), &sky, &err);
    if (st != SKY_OK)
        fail_msg("%s", err);
    sky_logger *log = sky_logger_get(sky, "jobs");
    sky_info(log, "job.done", SKY_STR("queue", "q1"), SKY_INT("duration_ms", 40));
    sky_info(log, "job.done", SKY_STR("queue", "q1"), SKY_INT("duration_ms", 60));
    sky_info(log, "other");
    sky_flush(sky, 1000);
    sky_metrics_flush(dm, 0);
    int k = find(&g, "EventCount", "Event=job.done,Level=INFO");
    assert_true(k >= 0 && g.d[k].value == 2);
    k = find(&g, "JobTime", "queue=q1");
    assert_true(k >= 0 && g.d[k].count == 2 && g.d[k].sum == 100);
    assert_int_equal(g.n, 2);
    sky_close(sky);
    sky__metrics_detach(dm, &g);

    /* a bad rule is an error naming it, before anything is built */
    const char *bad = "processors:\n"
                      "  - metrics:\n"
                      "      namespace: YamlApp\n"
                      "      rules: [\"histogram\"]\n";
    err = NULL;
    assert_int_equal(sky_open_yaml(bad, strlen(bad), &sky, &err), SKY_EINVAL);
    assert_non_null(err);
    assert_non_null(strstr(err, "rules[0]"));
    assert_non_null(strstr(err, "needs the name of a numeric field"));
    free(err);
    /* a rule CloudWatch would refuse (the namespace) fails at load too */
    const char *aws = "processors:\n"
                      "  - metrics:\n"
                      "      namespace: AWS/EC2\n"
                      "      rules: [\"count\"]\n";
    err = NULL;
    assert_int_equal(sky_open_yaml(aws, strlen(aws), &sky, &err), SKY_EINVAL);
    assert_non_null(err);
    assert_non_null(strstr(err, "AWS/"));
    free(err);
}

/* ---- the rule parser ------------------------------------------------------------------------- */

static void test_rule_parser(void **state)
{
    (void)state;
    sky__log_rule r;
    char err[256];
    assert_true(sky__log_rule_parse("histogram latency events=api.* level=warn name=Lat "
                                    "unit=microseconds dims=event+route+method",
                                    &r, err, sizeof err));
    assert_int_equal(r.rule.kind, SKY_METRIC_HISTOGRAM);
    assert_string_equal(r.rule.field, "latency");
    assert_string_equal(r.rule.events, "api.*");
    assert_int_equal(r.rule.min_level, SKY_LEVEL_WARN);
    assert_string_equal(r.rule.name, "Lat");
    assert_int_equal(r.rule.unit, SKY_UNIT_MICROSECONDS);
    assert_int_equal(r.n_dims, 3);
    assert_string_equal(r.rule.dims[2], "method");
    assert_null(r.rule.dims[3]);
    sky__log_rule_free(&r);
    assert_true(sky__log_rule_parse("gauge q dims=none", &r, err, sizeof err));
    assert_true(r.rule.no_dims);
    sky__log_rule_free(&r);
    static const struct {
        const char *text, *msg;
    } cases[] = {
        {"", "expected 1-"},
        {"   ", "empty"},
        {"sum x", "not count, histogram or gauge"},
        {"gauge", "needs the name of a numeric field"},
        {"gauge a=b", "needs the name of a numeric field"},
        {"count bogus", "expected key=value"},
        {"count events=", "expected key=value"},
        {"count colour=red", "unknown key"},
        {"count level=loud", "unknown level"},
        {"count unit=Parsecs", "unknown unit"},
        {"count dims=a++b", "dims"},
        {"count dims=a dims=b", "given twice"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (sky__log_rule_parse(cases[i].text, &r, err, sizeof err))
            fail_msg("'%s' parsed", cases[i].text);
        if (!strstr(err, cases[i].msg))
            fail_msg("'%s': %s", cases[i].text, err);
        assert_null(r.text);
    }
    char big[40 * 6 + 32] = "count dims=";
    for (int i = 0; i < 31; i++)
        strcat(big, i ? "+d" : "d");
    assert_false(sky__log_rule_parse(big, &r, err, sizeof err)); /* 31 dimensions */
    char *huge = malloc(SKY__LOG_RULE_MAX_TEXT + 2);
    memset(huge, 'x', SKY__LOG_RULE_MAX_TEXT + 1);
    huge[SKY__LOG_RULE_MAX_TEXT + 1] = 0;
    assert_false(sky__log_rule_parse(huge, &r, err, sizeof err));
    free(huge);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules_from_code),
        cmocka_unit_test(test_cardinality_bound),
        cmocka_unit_test(test_rules_from_yaml),
        cmocka_unit_test(test_rule_parser),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

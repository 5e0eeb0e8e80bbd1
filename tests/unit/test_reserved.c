/*
 * test_reserved.c - every entry point taking an options struct refuses one whose reserved
 * space is not zero (docs/COMPATIBILITY.md), with SKY_EINVAL and a message naming the struct,
 * nested option structs included. The last test reads the public headers, so an entry point
 * added later with an options struct cannot be left out of the table here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "skytest.h"
#include <skylog.h>
#include <skylog/audit.h>
#include <skylog/aws.h>
#include <skylog/cloudwatch.h>
#include <skylog/http_sink.h>
#include <skylog/metrics.h>
#include <skylog/request.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Every options struct some SKY_API function takes (directly or nested) that a case below
 * covers; the header scan checks the list is whole. */
static const char *const covered[] = {
    "sky_options",          "sky_route",           "sky_enrich_opts",    "sky_redact_opts",
    "sky_sample_opts",      "sky_security_opts",   "sky_console_opts",   "sky_file_opts",
    "sky_audit_opts",       "sky_cwl_opts",        "sky_http_sink_opts", "sky_http_batch_opts",
    "sky_otlp_opts",        "sky_emf_opts",        "sky_cwm_opts",       "sky_statsd_opts",
    "sky_metrics_opts",     "sky_metric_opts",     "sky_log_metrics_opts", "sky_sampler_opts",
    "sky_request_opts",     "sky_http_opts",       "sky_aws_creds_opts", "sky_aws_retry_opts",
    "sky_aws_client_opts",  "sky_aws_query_opts",
};

static char diag_seen[1024];
static void capture(void *user, sky_level level, const char *msg)
{
    (void)user, (void)level;
    snprintf(diag_seen, sizeof diag_seen, "%s", msg);
}

/* The refusal's message names the struct and the slot, and says what to do. */
static void assert_names(const char *msg, const char *type, int slot)
{
    assert_non_null(msg);
    char want[128];
    snprintf(want, sizeof want, "%s: reserved_[%d] is not zero", type, slot);
    if (!strstr(msg, want))
        fail_msg("message '%s' lacks '%s'", msg, want);
    assert_non_null(strstr(msg, "zero-initialise"));
}

static void expect_refused(sky_status st, char **errmsg, const char *type, int slot)
{
    assert_int_equal(st, SKY_EINVAL);
    assert_names(*errmsg, type, slot);
    free(*errmsg);
    *errmsg = NULL;
}

static sky_t *open_capturing(void)
{
    sky_t *sky = NULL;
    assert_int_equal(
        sky_open(&(sky_options){.mode = SKY_MODE_SYNC, .diag = capture}, &sky), SKY_OK);
    diag_seen[0] = '\0';
    return sky;
}

static void test_pipeline_and_processors(void **state)
{
    (void)state;
    for (int slot = 0; slot < 8; slot += 7) {
        char *err = NULL;
        sky_t *sky = NULL;
        sky_options o = {.mode = SKY_MODE_SYNC};
        o.reserved_[slot] = 1;
        expect_refused(sky_open_ex(&o, &sky, &err), &err, "sky_options", slot);
        assert_null(sky);
        /* without errmsg, the pipeline's diag function hears it */
        o.diag = capture;
        diag_seen[0] = '\0';
        assert_int_equal(sky_open(&o, &sky), SKY_EINVAL);
        assert_names(diag_seen, "sky_options", slot);

        sky = open_capturing();
        sky_route r = {.level = SKY_LEVEL_INFO};
        r.reserved_[slot] = 2;
        assert_int_equal(sky_add_sink(sky, sky_sink_console(NULL), &r), SKY_EINVAL);
        assert_names(diag_seen, "sky_route", slot);
        sky_enrich_opts en = {.service = "s"};
        en.reserved_[slot] = 3;
        assert_int_equal(sky_add_enrich(sky, &en), SKY_EINVAL);
        assert_names(diag_seen, "sky_enrich_opts", slot);
        sky_redact_opts rd = {0};
        rd.reserved_[slot] = 4;
        assert_int_equal(sky_add_redact(sky, &rd), SKY_EINVAL);
        assert_names(diag_seen, "sky_redact_opts", slot);
        sky_sample_opts sa = {0};
        sa.reserved_[slot] = 5;
        assert_int_equal(sky_add_sampler(sky, &sa), SKY_EINVAL);
        assert_names(diag_seen, "sky_sample_opts", slot);
        sky_security_opts se = {0};
        se.reserved_[slot] = 6;
        sky_security_monitor *mon = NULL;
        assert_int_equal(sky_add_security_monitor(sky, &se, &mon), SKY_EINVAL);
        assert_names(diag_seen, "sky_security_opts", slot);
        sky_log_metric_rule rule = {.kind = SKY_METRIC_COUNTER};
        sky_log_metrics_opts lm = {.ns = "App", .rules = &rule, .n_rules = 1};
        lm.reserved_[slot] = 7;
        sky_log_metrics *lmp = NULL;
        expect_refused(sky_add_log_metrics(sky, &lm, &lmp, &err), &err, "sky_log_metrics_opts",
                       slot);
        /* the same calls with the reserved space zero are accepted: the refusal was for it */
        r.reserved_[slot] = en.reserved_[slot] = rd.reserved_[slot] = sa.reserved_[slot] = 0;
        se.reserved_[slot] = 0;
        assert_int_equal(sky_add_sink(sky, sky_sink_console(NULL), &r), SKY_OK);
        assert_int_equal(sky_add_enrich(sky, &en), SKY_OK);
        assert_int_equal(sky_add_redact(sky, &rd), SKY_OK);
        assert_int_equal(sky_add_sampler(sky, &sa), SKY_OK);
        assert_int_equal(sky_add_security_monitor(sky, &se, &mon), SKY_OK);
        sky_close(sky);
    }
}

static void test_sinks(void **state)
{
    (void)state;
    char dir[] = "/tmp/sky_reserved_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/a.log", dir);
    for (int slot = 0; slot < 8; slot += 7) {
        char *err = NULL;
        sky_sink *s = NULL;
        sky_console_opts co = {.stream = SKY_STDERR};
        co.reserved_[slot] = 1;
        assert_null(sky_sink_console(&co));
        co.reserved_[slot] = 0;
        s = sky_sink_console(&co);
        assert_non_null(s);
        sky_sink_close(s);

        sky_file_opts fo = {.path = path};
        fo.reserved_[slot] = 1;
        expect_refused(sky_sink_file(&fo, &s, &err), &err, "sky_file_opts", slot);
        assert_null(s);
        sky_audit_opts ao = {.path = path};
        ao.reserved_[slot] = 1;
        expect_refused(sky_sink_audit(&ao, &s, &err), &err, "sky_audit_opts", slot);
        sky_cwl_opts cw = {.log_group = "g"};
        cw.reserved_[slot] = 1;
        expect_refused(sky_sink_cloudwatch_logs(&cw, &s, &err), &err, "sky_cwl_opts", slot);

        sky_http_sink_opts ho = {.url = "http://127.0.0.1:9/"};
        ho.reserved_[slot] = 1;
        expect_refused(sky_sink_http(&ho, &s, &err), &err, "sky_http_sink_opts", slot);
        ho.reserved_[slot] = 0;
        ho.batch.reserved_[slot] = 1;
        expect_refused(sky_sink_http(&ho, &s, &err), &err, "sky_http_batch_opts", slot);
        sky_otlp_opts ot = {.endpoint = "http://127.0.0.1:9", .protocol = SKY_OTLP_HTTP_JSON};
        int oslot = slot ? 6 : 0; /* signals took a slot: 7 are left */
        ot.reserved_[oslot] = 1;
        expect_refused(sky_sink_otlp(&ot, &s, &err), &err, "sky_otlp_opts", oslot);
        ot.reserved_[oslot] = 0;
        ot.batch.reserved_[slot] = 1;
        expect_refused(sky_sink_otlp(&ot, &s, &err), &err, "sky_http_batch_opts", slot);

        sky_emf_opts em = {0};
        em.reserved_[slot] = 1;
        expect_refused(sky_sink_metrics_emf(&em, &s, &err), &err, "sky_emf_opts", slot);
        sky_cwm_opts cm = {0};
        cm.reserved_[slot] = 1;
        expect_refused(sky_sink_metrics_cloudwatch(&cm, &s, &err), &err, "sky_cwm_opts", slot);
        sky_statsd_opts sd = {0};
        sd.reserved_[slot] = 1;
        expect_refused(sky_sink_metrics_statsd(&sd, &s, &err), &err, "sky_statsd_opts", slot);
        assert_null(s);
    }
    unlink(path);
    rmdir(dir);
}

static void test_metrics_and_requests(void **state)
{
    (void)state;
    for (int slot = 0; slot < 8; slot += 7) {
        char *err = NULL;
        sky_metrics *m = NULL;
        sky_metrics_opts mo = {0};
        mo.reserved_[slot] = 1;
        assert_int_equal(sky_metrics_new(&mo, &m), SKY_EINVAL);
        assert_null(m);
        mo.reserved_[slot] = 0;
        assert_int_equal(sky_metrics_new(&mo, &m), SKY_OK);
        sky_metric *metric = NULL;
        sky_metric_opts mt = {.ns = "App", .name = "Count", .kind = SKY_METRIC_COUNTER};
        mt.reserved_[slot] = 1;
        expect_refused(sky_metric_new(m, &mt, &metric, &err), &err, "sky_metric_opts", slot);
        sky_sampler *sp = NULL;
        sky_sampler_opts so = {.ns = "App", .metrics = m};
        so.reserved_[slot] = 1;
        expect_refused(sky_sampler_start(&so, &sp, &err), &err, "sky_sampler_opts", slot);
        assert_null(sp);

        sky_t *sky = open_capturing();
        sky_request_log *rl = NULL;
        sky_request_opts ro = {.log = sky_logger_get(sky, "http"), .metrics = m};
        ro.reserved_[slot] = 1;
        expect_refused(sky_request_log_new(&ro, &rl, &err), &err, "sky_request_opts", slot);
        assert_null(rl);
        sky_close(sky);
        sky_metrics_free(m);
    }
}

static void test_aws(void **state)
{
    (void)state;
    for (int slot = 0; slot < 8; slot += 7) {
        sky_http_client *hc = NULL;
        sky_http_opts ho = {0};
        ho.reserved_[slot] = 1;
        assert_int_equal(sky_http_client_new(&ho, &hc), SKY_EINVAL);
        assert_null(hc);
        ho.reserved_[slot] = 0;
        assert_int_equal(sky_http_client_new(&ho, &hc), SKY_OK);
        sky_http_client_free(hc);

        sky_aws_creds *cr = NULL;
        sky_aws_creds_opts co = {.access_key_id = "AKID", .secret_access_key = "secret"};
        co.reserved_[slot] = 1;
        assert_int_equal(sky_aws_creds_new(&co, &cr), SKY_EINVAL);
        co.reserved_[slot] = 0;
        co.fetch_retry.reserved_[slot] = 1;
        assert_int_equal(sky_aws_creds_new(&co, &cr), SKY_EINVAL);
        co.fetch_retry.reserved_[slot] = 0;
        ho.reserved_[slot] = 1;
        co.http = &ho;
        assert_int_equal(sky_aws_creds_new(&co, &cr), SKY_EINVAL);
        assert_null(cr);
        ho.reserved_[slot] = 0;
        assert_int_equal(sky_aws_creds_new(&co, &cr), SKY_OK);
        sky_aws_creds_free(cr);

        char why[512];
        sky_aws_client *c = NULL;
        sky_aws_client_opts ao = {.service = "logs", .region = "us-east-1",
                                  .endpoint = "http://127.0.0.1:9"};
        ao.reserved_[slot] = 1;
        assert_int_equal(sky_aws_client_new(&ao, &c, why, sizeof why), SKY_EINVAL);
        assert_names(why, "sky_aws_client_opts", slot);
        ao.reserved_[slot] = 0;
        ao.http.reserved_[slot] = 1;
        assert_int_equal(sky_aws_client_new(&ao, &c, why, sizeof why), SKY_EINVAL);
        assert_names(why, "sky_http_opts", slot);
        ao.http.reserved_[slot] = 0;
        ao.retry.reserved_[slot] = 1;
        assert_int_equal(sky_aws_client_new(&ao, &c, why, sizeof why), SKY_EINVAL);
        assert_names(why, "sky_aws_retry_opts", slot);
        assert_null(c);
        ao.retry.reserved_[slot] = 0;
        assert_int_equal(sky_aws_client_new(&ao, &c, why, sizeof why), SKY_OK);

        const char *groups[] = {"g"};
        sky_aws_query_opts q = {.log_groups = groups, .n_log_groups = 1, .query = "fields @message"};
        q.reserved_[slot] = 1;
        sky_aws_query_result res;
        sky_aws_error e;
        assert_int_equal(sky_aws_logs_query(c, &q, &res, &e), SKY_EINVAL);
        assert_int_equal(e.status, SKY_EINVAL);
        assert_names(e.message, "sky_aws_query_opts", slot);
        sky_aws_client_free(c);
    }
}

/* Every `const sky_..._opts *` (or sky_options, sky_route) a SKY_API function takes, and every
 * options struct nested in one, is in `covered`. */
static bool is_covered(const char *name)
{
    for (size_t i = 0; i < sizeof covered / sizeof covered[0]; i++)
        if (strcmp(covered[i], name) == 0)
            return true;
    return false;
}

static void test_every_entry_point_is_covered(void **state)
{
    (void)state;
    const char *src = getenv("SKYLOG_SOURCE_DIR");
    if (!src)
        skip();
    const char *const *headers = skytest_public_headers;
    int missing = 0, seen = 0;
    for (size_t h = 0; headers[h]; h++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/include/%s", src, headers[h]);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        char line[1024];
        while (fgets(line, sizeof line, f)) {
            /* parameters (`const T *`) and nested members (`    T name;`) alike */
            for (char *p = line; (p = strstr(p, "sky_")) != NULL; p++) {
                if (p > line && (p[-1] == '_' || (p[-1] >= 'a' && p[-1] <= 'z')))
                    continue;
                char name[128];
                if (sscanf(p, "%127[a-z0-9_]", name) != 1)
                    continue;
                size_t n = strlen(name);
                bool opts = strcmp(name, "sky_options") == 0 || strcmp(name, "sky_route") == 0 ||
                            (n > 5 && strcmp(name + n - 5, "_opts") == 0);
                if (!opts)
                    continue;
                const char *after = p + n;
                while (*after == ' ')
                    after++;
                bool param = strncmp(p - 6 >= line ? p - 6 : line, "const ", 6) == 0 &&
                             *after == '*';
                bool member = strncmp(line, "    ", 4) == 0 && line[4] != ' ' &&
                              (p == line + 4 || p == line + 10) && (*after != '*' || param);
                if (!param && !member)
                    continue;
                seen++;
                if (!is_covered(name)) {
                    printf("%s: %s reaches an entry point but test_reserved.c has no case\n",
                           headers[h], name);
                    missing++;
                }
            }
        }
        fclose(f);
    }
    assert_true(seen > 20);
    assert_int_equal(missing, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipeline_and_processors),
        cmocka_unit_test(test_sinks),
        cmocka_unit_test(test_metrics_and_requests),
        cmocka_unit_test(test_aws),
        cmocka_unit_test(test_every_entry_point_is_covered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * fuzz_metrics_config.c - the metrics configuration parsers: a metrics-from-logs rule as
 * skylog.yaml and SKYLOG_* give it (src/processors/log_metrics.c), then run on events whose
 * fields the rule names; and the /proc/<pid>/stat line the system sampler reads
 * (src/metrics/sampler.c). The first byte chooses: even, a rule; odd, a stat line.
 *
 * Invariants checked: a rule is accepted whole (a kind, a field for histograms and gauges, at
 * most 30 dimension names of 1-255 bytes) or refused with a message and nothing kept; an
 * accepted rule either builds (its metric within CloudWatch's limits) or is refused with a
 * message; its processor records at most once per event and rule, and keeps its series bound.
 */
#include "metrics/metrics_internal.h"
#include "fuzz_common.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

SKY_FUZZ_SANDBOXED

static void check_rule(const char *text)
{
    sky__log_rule r;
    char err[512];
    err[0] = '\0';
    if (!sky__log_rule_parse(text, &r, err, sizeof err)) {
        if (!err[0] || r.text || r.n_dims)
            abort(); /* a refusal says why and keeps nothing */
        return;
    }
    const sky_log_metric_rule *o = &r.rule;
    if ((unsigned)o->kind >= SKY_METRIC_KIND_COUNT_ || r.n_dims > SKY_METRIC_MAX_DIMS)
        abort();
    if (o->kind != SKY_METRIC_COUNTER && (!o->field || !o->field[0]))
        abort();
    for (size_t i = 0; i < r.n_dims; i++) {
        size_t n = strlen(o->dims[i]);
        if (!n || n > SKY_METRIC_MAX_NAME)
            abort();
    }
    if (r.n_dims && o->dims[r.n_dims])
        abort(); /* NULL-terminated */

    /* built and run: events carrying the rule's field and dimensions, with values from the
     * rule's own text (numbers, strings, a long one past CloudWatch's 1024-byte cap) */
    sky_t *sky;
    sky_options so = {0};
    so.mode = SKY_MODE_SYNC;
    sky_metrics *m;
    if (sky_open(&so, &sky) != SKY_OK || sky_metrics_new(NULL, &m) != SKY_OK)
        abort();
    sky_log_metrics *lm = NULL;
    char *why = NULL;
    sky_status st = sky_add_log_metrics(sky, &(sky_log_metrics_opts){.metrics = m, .ns = "Fuzz",
                                                                    .rules = o, .n_rules = 1,
                                                                    .max_series = 2},
                                        &lm, &why);
    if (st != SKY_OK && (!why || !why[0]))
        abort();
    free(why);
    if (st == SKY_OK) {
        static char longv[1500];
        memset(longv, 0xC3, sizeof longv - 1); /* cut inside UTF-8 sequences */
        sky_logger *log = sky_logger_get(sky, "fuzz");
        const char *name = o->events ? o->events : "event";
        const char *field = o->field ? o->field : "value";
        for (int k = 0; k < 4; k++) {
            sky_field f[SKY_METRIC_MAX_DIMS + 1];
            size_t n = 0;
            f[n++] = k == 3 ? sky_field_str(field, "x") : sky_field_f64(field, k * 1.5);
            for (size_t i = 0; i < r.n_dims && n < SKY_METRIC_MAX_DIMS + 1; i++)
                f[n++] = k == 2 ? sky_field_str(o->dims[i], longv)
                                : sky_field_int(o->dims[i], k);
            sky_emit(log, SKY_LEVEL_ERROR, name, NULL, f, n);
        }
        sky_log_metrics_stats ls;
        if (sky_log_metrics_stats_get(lm, &ls) != SKY_OK || ls.recorded > ls.events ||
            ls.events != 4)
            abort();
        sky_metrics_flush(m, 0);
    }
    sky_close(sky);
    sky_metrics_free(m);
    sky__log_rule_free(&r);
}

static void check_stat(const char *buf, size_t len)
{
    sky__proc_stat ps = {0};
    (void)sky__proc_stat_parse(buf, len, &ps);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > SKY__LOG_RULE_MAX_TEXT + 64)
        return 0;
    char *text = sky_fuzz_cstr(data + 1, size - 1);
    if (data[0] % 2 == 0)
        check_rule(text);
    else
        check_stat(text, size - 1);
    free(text);
    return 0;
}

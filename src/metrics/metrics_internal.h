/*
 * metrics_internal.h - how outputs attach to a metrics registry, and the pure renderers they
 * share with the tests (EMF records). Outputs are sinks (src/sinks/metrics_*.c); the registry
 * calls them with each interval's datums, one flush at a time.
 */
#ifndef SKY_METRICS_INTERNAL_H
#define SKY_METRICS_INTERNAL_H

#include <skylog/metrics.h>

#include "util/cond.h" /* sky__cond_init_monotonic: intervals do not jump with the wall clock */

#include <pthread.h>
#include <time.h>


/* Receives one interval's datums (n may be 0: an output may have older ones to retry). Called with the registry's flush lock held (one delivery at a
 * time, from the interval thread or a flushing caller). */
typedef sky_status (*sky__metrics_out_fn)(void *user, const sky_metric_datum *d, size_t n,
                                          int64_t deadline_ns);

/* Attaches an output; starts the interval thread with the first one. interval_ms > 0 sets the
 * registry's interval. SKY_ENOMEM. Configuration-time: not concurrent with detach. */
sky_status sky__metrics_attach(sky_metrics *m, sky__metrics_out_fn fn, void *user,
                               int64_t interval_ms);
/* Detaches an output (waits for a delivery in progress); stops the interval thread with the
 * last one. */
void sky__metrics_detach(sky_metrics *m, void *user);

/* Renders datums as EMF records (every EMF limit applied, splitting as needed) and calls
 * `emit` with each record's text (a JSON object, no newline). Stops at the first error. */
typedef sky_status (*sky__emf_emit_fn)(void *user, int64_t ts_ms, const char *text, size_t len);
#define SKY__EMF_MAX_METRICS 100
#define SKY__EMF_MAX_VALUES 100
sky_status sky__emf_render(const sky_metric_datum *d, size_t n, sky__emf_emit_fn emit,
                           void *user);
/* The same with caps (0 = none): at most max_values values a datum and max_records records in
 * all; what is past them is added to *dropped (values), never rendered. */
typedef struct sky__emf_caps {
    size_t max_values, max_records;
} sky__emf_caps;
sky_status sky__emf_render_capped(const sky_metric_datum *d, size_t n, const sky__emf_caps *caps,
                                  sky__emf_emit_fn emit, void *user, uint64_t *dropped);

/* One rule of the metrics-from-logs processor in its text form (YAML, SKYLOG_*), e.g.
 * "histogram duration_ms events=http.* unit=Milliseconds dims=event+route". The rule's strings
 * point into `text` (owned). Limits before allocation: at most SKY__LOG_RULE_MAX_TEXT bytes. */
#define SKY__LOG_RULE_MAX_TEXT 4096
typedef struct sky__log_rule {
    sky_log_metric_rule rule;
    const char *dims[SKY_METRIC_MAX_DIMS + 1];
    size_t n_dims;
    char *text;
} sky__log_rule;
/* False with a message in err (and *r empty) when the text is not a rule. */
bool sky__log_rule_parse(const char *text, sky__log_rule *r, char *err, size_t cap);
void sky__log_rule_free(sky__log_rule *r);

/* /proc/<pid>/stat's fields the sampler uses. False when the text is not such a line. */
typedef struct sky__proc_stat {
    uint64_t utime_ticks, stime_ticks, threads, rss_pages;
} sky__proc_stat;
bool sky__proc_stat_parse(const char *buf, size_t len, sky__proc_stat *out);
/* The close hook (sky_on_close()) that stops a sampler a configuration started with its
 * pipeline: sky_sampler_get() finds the samplers by it. */
void sky__sampler_close_hook(void *sampler);

#endif

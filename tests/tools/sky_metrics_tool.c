/*
 * sky_metrics_tool.c - drives the PutMetricData sink for tests/integration/test_metrics_publish.py.
 *
 *   sky_metrics_tool limits NAMESPACE   2500 small counters (more than 1000 datums a request
 *                                       allows), 100 counters with 30 dimensions of 1000
 *                                       characters (more than 1 MB), a histogram of 2000
 *                                       distinct values (more than 150 values a datum)
 *   sky_metrics_tool outage NAMESPACE   8 counters, max_queue_datums 5, flushed twice against
 *                                       an endpoint that refuses connections, then closed
 *
 * The endpoint and credentials come from the environment. Prints the sink's counters as JSON
 * lines ("flush" after each flush, "final" after close).
 */
#include <skylog.h>
#include <skylog/metrics.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print(const char *when, const sky_cwm_stats *s)
{
    printf("{\"when\":\"%s\",\"datums_sent\":%llu,\"requests\":%llu,\"failed_requests\":%llu,"
           "\"rejected_invalid\":%llu,\"dropped_queue_full\":%llu,\"dropped_undelivered\":%llu,"
           "\"queued_datums\":%llu}\n",
           when, (unsigned long long)s->datums_sent, (unsigned long long)s->requests,
           (unsigned long long)s->failed_requests, (unsigned long long)s->rejected_invalid,
           (unsigned long long)s->dropped_queue_full, (unsigned long long)s->dropped_undelivered,
           (unsigned long long)s->queued_datums);
    fflush(stdout);
}

static sky_metric *counter(sky_metrics *m, const char *ns, const char *name, const sky_dim *d,
                           size_t nd)
{
    sky_metric *c = NULL;
    char *err = NULL;
    if (sky_metric_new(m, &(sky_metric_opts){.ns = ns, .name = name, .kind = SKY_METRIC_COUNTER,
                                             .unit = SKY_UNIT_COUNT, .dims = d, .n_dims = nd},
                       &c, &err)) {
        fprintf(stderr, "sky_metric_new: %s\n", err);
        exit(1);
    }
    return c;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    bool outage = strcmp(argv[1], "outage") == 0;
    const char *ns = argv[2];
    sky_metrics *m;
    sky_metrics_new(NULL, &m);
    sky_sink *cw;
    char *err = NULL;
    sky_cwm_opts o = {.metrics = m, .max_retries = outage ? 1 : 3, .retry_delay_ms = 10,
                      .max_queue_datums = outage ? 5 : 0};
    if (sky_sink_metrics_cloudwatch(&o, &cw, &err)) {
        fprintf(stderr, "sink: %s\n", err);
        return 1;
    }
    char name[64];
    if (outage) {
        for (int i = 0; i < 8; i++) {
            snprintf(name, sizeof name, "C%d", i);
            sky_counter_add(counter(m, ns, name, NULL, 0), 1);
        }
        sky_cwm_stats s;
        for (int k = 0; k < 2; k++) {
            sky_sink_flush(cw, 10000);
            sky_cwm_stats_get(cw, &s);
            print("flush", &s);
        }
        /* closing a sink not attached to a pipeline: its final counters first */
        sky_cwm_stats_get(cw, &s);
        sky_sink_close(cw);
        sky_metrics_free(m);
        return 0;
    }
    for (int i = 0; i < 2500; i++) {
        snprintf(name, sizeof name, "Small%d", i);
        sky_counter_add(counter(m, ns, name, (sky_dim[]){{"Kind", "small"}}, 1), i + 1);
    }
    static char vals[30][1001], keys[30][8];
    sky_dim big[30];
    for (int d = 0; d < 30; d++) {
        memset(vals[d], 'a' + d % 26, 1000);
        snprintf(keys[d], sizeof keys[d], "D%d", d);
        big[d] = (sky_dim){keys[d], vals[d]};
    }
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof name, "Big%d", i);
        sky_counter_add(counter(m, ns, name, big, 30), 1);
    }
    sky_metric *h = NULL;
    sky_metric_new(m, &(sky_metric_opts){.ns = ns, .name = "Spread", .kind = SKY_METRIC_HISTOGRAM,
                                         .unit = SKY_UNIT_MILLISECONDS},
                   &h, NULL);
    for (int i = 1; i <= 2000; i++)
        sky_histogram_record(h, i);
    sky_sink_flush(cw, 60000);
    sky_cwm_stats s;
    sky_cwm_stats_get(cw, &s);
    print("flush", &s);
    sky_sink_close(cw);
    sky_metrics_free(m);
    return 0;
}

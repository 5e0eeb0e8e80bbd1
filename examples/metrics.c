/*
 * metrics.c - publishing metrics: the seed's RequestCount, Success/Failure and ResponseTime (a
 * timer), by Operation, from 4 threads, sent with PutMetricData and, as EMF records, through
 * the CloudWatch Logs sink (docs/METRICS.md).
 *
 *     example_metrics NAMESPACE LOG_GROUP [INCREMENTS_PER_THREAD]
 *
 * Region, endpoint and credentials come from the usual AWS settings (AWS_ENDPOINT_URL for
 * `skylog serve`). PutMetricData gets NAMESPACE, the EMF records NAMESPACE/EMF. Prints the
 * PutMetricData sink's counters as one JSON line when done.
 */
#include <skylog.h>
#include <skylog/cloudwatch.h>
#include <skylog/metrics.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct instruments {
    sky_metric *requests, *success, *failure, *response_time;
} instruments;

static instruments pmd, emf;
static long per_thread = 1000000;

static void make(sky_metrics *m, const char *ns, instruments *in)
{
    sky_dim op[] = {{"Operation", "checkout"}};
    sky_metric_opts o = {.ns = ns, .dims = op, .n_dims = 1, .unit = SKY_UNIT_COUNT};
    o.name = "RequestCount";
    sky_metric_new(m, &o, &in->requests, NULL);
    o.name = "Success";
    sky_metric_new(m, &o, &in->success, NULL);
    o.name = "Failure";
    sky_metric_new(m, &o, &in->failure, NULL);
    o.name = "ResponseTime";
    o.kind = SKY_METRIC_HISTOGRAM;
    o.unit = SKY_UNIT_MILLISECONDS;
    sky_metric_new(m, &o, &in->response_time, NULL);
}

static void *worker(void *arg)
{
    long id = (long)arg;
    for (long i = 0; i < per_thread; i++) {
        sky_counter_add(pmd.requests, 1);
        sky_counter_add(emf.requests, 1);
    }
    for (long i = 0; i < 25000; i++) { /* 100k timer records over 4 threads */
        int64_t ns = (id * 25000 + i) % 100 * 1000000; /* 0 .. 99 ms */
        sky_timer_record_ns(pmd.response_time, ns);
        sky_timer_record_ns(emf.response_time, ns);
        bool ok = i % 10 != 0;
        sky_counter_add(ok ? pmd.success : pmd.failure, 1);
        sky_counter_add(ok ? emf.success : emf.failure, 1);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s NAMESPACE LOG_GROUP [INCREMENTS_PER_THREAD]\n", argv[0]);
        return 2;
    }
    if (argc > 3)
        per_thread = atol(argv[3]);
    char emf_ns[300];
    snprintf(emf_ns, sizeof emf_ns, "%s/EMF", argv[1]);

    sky_metrics *m_pmd, *m_emf;
    if (sky_metrics_new(NULL, &m_pmd) || sky_metrics_new(NULL, &m_emf))
        return 1;
    make(m_pmd, argv[1], &pmd);
    make(m_emf, emf_ns, &emf);

    sky_t *sky;
    char *err = NULL;
    sky_sink *cw, *logs, *records;
    if (sky_open(NULL, &sky) ||
        sky_sink_metrics_cloudwatch(&(sky_cwm_opts){.metrics = m_pmd}, &cw, &err) ||
        sky_add_sink(sky, cw, NULL) ||
        sky_sink_cloudwatch_logs(&(sky_cwl_opts){.log_group = argv[2], .log_stream = "metrics"},
                                 &logs, &err) ||
        sky_sink_metrics_emf(&(sky_emf_opts){.metrics = m_emf, .output = logs}, &records, &err) ||
        sky_add_sink(sky, records, NULL)) {
        fprintf(stderr, "metrics: %s\n", err ? err : "setup failed");
        free(err);
        return 1;
    }

    pthread_t t[4];
    for (long i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, worker, (void *)i);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);

    sky_flush(sky, 10000); /* one datum per instrument, sent now */
    sky_cwm_stats st;
    sky_cwm_stats_get(cw, &st);
    printf("{\"datums_sent\":%llu,\"requests\":%llu,\"failed_requests\":%llu,"
           "\"queued_datums\":%llu}\n",
           (unsigned long long)st.datums_sent, (unsigned long long)st.requests,
           (unsigned long long)st.failed_requests, (unsigned long long)st.queued_datums);
    sky_close(sky);
    sky_metrics_free(m_pmd);
    sky_metrics_free(m_emf);
    return st.datums_sent == 4 && st.queued_datums == 0 ? 0 : 1;
}

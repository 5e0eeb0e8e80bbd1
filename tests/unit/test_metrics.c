/* test_metrics.c - the metrics core (src/metrics): exact aggregation across threads, the
 * sketch's stated error on percentiles, validation of CloudWatch limits, and EMF rendering
 * under the EMF limits (split records add back up to the same totals). */
#include "skytest.h"

#include "metrics/metrics_internal.h"

#include <skylog/aws.h>
#include <skylog/cloudwatch.h>
#include <skylog/config.h>

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

/* ---- a capturing output: deep copies of what one flush delivered --------------------------- */

typedef struct cap {
    size_t n;
    sky_metric_datum d[64];
    char names[64][64];
    double *vals[64], *cnts[64];
} cap;

static sky_status capture(void *user, const sky_metric_datum *d, size_t n, int64_t deadline)
{
    (void)deadline;
    cap *c = user;
    for (size_t i = 0; i < n && c->n < 64; i++) {
        size_t k = c->n++;
        c->d[k] = d[i];
        snprintf(c->names[k], sizeof c->names[k], "%s", d[i].name);
        c->d[k].name = c->names[k];
        c->vals[k] = malloc((d[i].n_values + 1) * sizeof(double));
        c->cnts[k] = malloc((d[i].n_values + 1) * sizeof(double));
        if (d[i].n_values) {
            memcpy(c->vals[k], d[i].values, d[i].n_values * sizeof(double));
            memcpy(c->cnts[k], d[i].counts, d[i].n_values * sizeof(double));
        }
        c->d[k].values = c->vals[k];
        c->d[k].counts = c->cnts[k];
        c->d[k].dims = NULL;
        c->d[k].n_dims = 0;
    }
    return SKY_OK;
}

static void cap_free(cap *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->vals[i]);
        free(c->cnts[i]);
    }
    c->n = 0;
}

static const sky_metric_datum *find(cap *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->d[i].name, name) == 0)
            return &c->d[i];
    return NULL;
}

static sky_metric *make(sky_metrics *m, const char *name, sky_metric_kind kind, sky_unit unit)
{
    sky_metric *x = NULL;
    sky_dim dims[] = {{"Service", "test"}};
    assert_int_equal(sky_metric_new(m, &(sky_metric_opts){.ns = "SkyTest", .name = name,
                                                           .kind = kind, .unit = unit,
                                                           .dims = dims, .n_dims = 1},
                                    &x, NULL),
                     SKY_OK);
    return x;
}

/* ---- aggregation across 4 threads ---------------------------------------------------------- */

#define PER_THREAD 250000
typedef struct work {
    sky_metric *counter, *hist, *spread;
    int id;
} work;

static void *recorder(void *arg)
{
    work *w = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        sky_counter_add(w->counter, 1);
        if (i % 10 == 0)
            sky_histogram_record(w->hist, (double)(w->id * 1000 + (i / 10) % 100)); /* 4 x 100 */
        if (i % 50 == 0)
            sky_histogram_record(w->spread, 1.0 + i); /* 5000 distinct a thread: the sketch */
    }
    return NULL;
}

static void test_four_threads_exact(void **state)
{
    (void)state;
    sky_metrics *m;
    assert_int_equal(sky_metrics_new(NULL, &m), SKY_OK);
    cap c = {0};
    assert_int_equal(sky__metrics_attach(m, capture, &c, 0), SKY_OK);
    work w[4];
    pthread_t t[4];
    sky_metric *counter = make(m, "Requests", SKY_METRIC_COUNTER, SKY_UNIT_COUNT);
    sky_metric *hist = make(m, "Latency", SKY_METRIC_HISTOGRAM, SKY_UNIT_MILLISECONDS);
    sky_metric *spread = make(m, "Spread", SKY_METRIC_HISTOGRAM, SKY_UNIT_BYTES);
    for (int i = 0; i < 4; i++) {
        w[i] = (work){counter, hist, spread, i};
        pthread_create(&t[i], NULL, recorder, &w[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(sky_metrics_flush(m, 0), SKY_OK);
    assert_int_equal(c.n, 3); /* a million increments make one datum */
    const sky_metric_datum *cd = find(&c, "Requests"), *hd = find(&c, "Latency");
    const sky_metric_datum *sd = find(&c, "Spread");
    assert_non_null(sd);
    assert_true(sd->count == 4 * PER_THREAD / 50);
    assert_true(sd->min == 1 && sd->max == PER_THREAD - 50 + 1);
    double ssum = 0, scount = 0;
    for (int i = 0; i < PER_THREAD; i += 50)
        ssum += 4 * (1.0 + i);
    assert_true(sd->sum == ssum);
    for (size_t i = 0; i < sd->n_values; i++)
        scount += sd->counts[i];
    assert_true(scount == sd->count);
    assert_non_null(cd);
    assert_non_null(hd);
    assert_true(cd->value == 4.0 * PER_THREAD);
    assert_true(hd->count == 4.0 * PER_THREAD / 10);
    double sum = 0;
    for (int id = 0; id < 4; id++)
        for (int i = 0; i < PER_THREAD; i += 10)
            sum += id * 1000 + (i / 10) % 100;
    assert_true(hd->sum == sum);
    assert_true(hd->min == 0);
    assert_true(hd->max == 3099);
    /* 400 distinct values > 150: the sketch; every recorded value still counted */
    double n = 0;
    for (size_t i = 0; i < hd->n_values; i++)
        n += hd->counts[i];
    assert_true(n == hd->count);
    cap_free(&c);
    /* nothing new: an empty flush delivers nothing */
    assert_int_equal(sky_metrics_flush(m, 0), SKY_OK);
    assert_int_equal(c.n, 0);
    /* exact values below the bound */
    for (int i = 0; i < 1000; i++)
        sky_histogram_record(hist, (double)(i % 150) / 4);
    assert_int_equal(sky_metrics_flush(m, 0), SKY_OK);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.d[0].n_values, 150);
    for (size_t i = 0; i < 150; i++) {
        assert_true(c.d[0].values[i] == (double)i / 4);
        assert_true(c.d[0].counts[i] == (i < 1000 % 150 ? 7 : 6));
    }
    cap_free(&c);
    sky_metrics_stats st;
    sky_metrics_stats_get(m, &st);
    assert_int_equal(st.instruments, 3);
    assert_int_equal(st.invalid, 0);
    sky__metrics_detach(m, &c);
    sky_metrics_free(m);
}

/* ---- the sketch's error on percentiles ------------------------------------------------------ */

static double quantile(const double *v, const double *cnt, size_t n, double q, double total)
{
    double rank = ceil(q * total), seen = 0;
    for (size_t i = 0; i < n; i++) {
        seen += cnt[i];
        if (seen >= rank)
            return v[i];
    }
    return v[n - 1];
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void test_sketch_error_bound(void **state)
{
    (void)state;
    sky_metrics *m;
    assert_int_equal(sky_metrics_new(NULL, &m), SKY_OK);
    cap c = {0};
    sky__metrics_attach(m, capture, &c, 0);
    sky_metric *h = make(m, "Spread", SKY_METRIC_HISTOGRAM, SKY_UNIT_MICROSECONDS);
    enum { N = 20000 };
    static double all[N];
    srand(7);
    for (int i = 0; i < N; i++) {
        /* log-uniform over 1e-3 .. 1e7, and some negatives */
        double v = pow(10, -3 + 10.0 * rand() / RAND_MAX) * (i % 10 == 0 ? -1 : 1);
        all[i] = v;
        sky_histogram_record(h, v);
    }
    sky_metrics_flush(m, 0);
    assert_int_equal(c.n, 1);
    const sky_metric_datum *d = &c.d[0];
    assert_true(d->count == N);
    assert_true(d->n_values > SKY_METRIC_EXACT_VALUES);
    qsort(all, N, sizeof all[0], cmp_d);
    assert_true(d->min == all[0] && d->max == all[N - 1]);
    for (size_t i = 1; i < d->n_values; i++)
        assert_true(d->values[i - 1] < d->values[i]); /* ascending, distinct */
    double qs[] = {0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999};
    for (size_t k = 0; k < sizeof qs / sizeof qs[0]; k++) {
        double truth = all[(size_t)ceil(qs[k] * N) - 1];
        double got = quantile(d->values, d->counts, d->n_values, qs[k], N);
        double rel = fabs(got - truth) / fabs(truth);
        if (rel > SKY_METRIC_SKETCH_ERROR * (1 + 1e-9))
            fail_msg("p%g: %g vs %g (rel %g)", qs[k] * 100, got, truth, rel);
    }
    cap_free(&c);
    sky__metrics_detach(m, &c);
    sky_metrics_free(m);
}

/* ---- validation ----------------------------------------------------------------------------- */

static void test_validation(void **state)
{
    (void)state;
    sky_metrics *m;
    assert_int_equal(sky_metrics_new(NULL, &m), SKY_OK);
    sky_metric *x;
    char *err = NULL;
    sky_dim dims[31];
    char names[31][8];
    for (int i = 0; i < 31; i++) {
        snprintf(names[i], sizeof names[i], "d%d", i);
        dims[i] = (sky_dim){names[i], "v"};
    }
    sky_metric_opts o = {.ns = "App", .name = "M", .dims = dims, .n_dims = 31};
    assert_int_equal(sky_metric_new(m, &o, &x, &err), SKY_EINVAL);
    assert_non_null(strstr(err, "30"));
    free(err);
    o.n_dims = 30;
    assert_int_equal(sky_metric_new(m, &o, &x, NULL), SKY_OK);
    sky_metric *y;
    assert_int_equal(sky_metric_new(m, &o, &y, NULL), SKY_OK);
    assert_ptr_equal(x, y); /* same identity: the same instrument */
    o.kind = SKY_METRIC_GAUGE;
    assert_int_equal(sky_metric_new(m, &o, &y, NULL), SKY_EINVAL);
    char big[1100];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    big[1024] = 0;
    sky_dim one[] = {{"k", big}};
    o = (sky_metric_opts){.ns = "App", .name = "M2", .dims = one, .n_dims = 1};
    assert_int_equal(sky_metric_new(m, &o, &x, NULL), SKY_OK); /* 1024: the limit */
    big[1024] = 'x';
    big[1025] = 0;
    o.name = "M3";
    assert_int_equal(sky_metric_new(m, &o, &x, NULL), SKY_EINVAL);
    o = (sky_metric_opts){.ns = "AWS/EC2", .name = "M"};
    assert_int_equal(sky_metric_new(m, &o, &x, NULL), SKY_EINVAL);
    big[256] = 0;
    o = (sky_metric_opts){.ns = "App", .name = big};
    assert_int_equal(sky_metric_new(m, &o, &x, NULL), SKY_EINVAL);
    sky_dim clash[] = {{"M5", "1"}}; /* EMF puts both at the record's top level */
    o = (sky_metric_opts){.ns = "App", .name = "M5", .dims = clash, .n_dims = 1};
    assert_int_equal(sky_metric_new(m, &o, &x, NULL), SKY_EINVAL);
    o = (sky_metric_opts){.ns = "App", .name = "_aws"};
    assert_int_equal(sky_metric_new(m, &o, &x, NULL), SKY_EINVAL);
    sky_dim twice[] = {{"a", "1"}, {"a", "2"}};
    o = (sky_metric_opts){.ns = "App", .name = "M4", .dims = twice, .n_dims = 2};
    assert_int_equal(sky_metric_new(m, &o, &x, NULL), SKY_EINVAL);
    /* wrong kind and non-finite values are counted, not recorded */
    o = (sky_metric_opts){.ns = "App", .name = "C", .kind = SKY_METRIC_COUNTER};
    assert_int_equal(sky_metric_new(m, &o, &x, NULL), SKY_OK);
    sky_histogram_record(x, 1);
    sky_counter_add(x, NAN);
    sky_metrics_stats st;
    sky_metrics_stats_get(m, &st);
    assert_int_equal(st.invalid, 2);
    sky_unit u;
    assert_int_equal(sky_unit_parse("count/second", &u), SKY_OK);
    assert_int_equal(u, SKY_UNIT_COUNT_PER_SECOND);
    assert_string_equal(sky_unit_name(SKY_UNIT_KILOBYTES_PER_SECOND), "Kilobytes/Second");
    sky_metrics_free(m);
}

/* ---- EMF limits and splitting ---------------------------------------------------------------- */

typedef struct emf_acc {
    size_t records;
    double sum[300], count[300]; /* per metric index, from the name "m<i>" or "h" */
    double hsum, hcount;
} emf_acc;

static sky_status collect(void *user, int64_t ts, const char *text, size_t len)
{
    emf_acc *a = user;
    json_error_t e;
    json_t *root = json_loadb(text, len, 0, &e);
    assert_non_null(root);
    json_t *dir = json_array_get(json_object_get(json_object_get(root, "_aws"),
                                                 "CloudWatchMetrics"), 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(root, "_aws"),
                                                        "Timestamp")), ts);
    json_t *metrics = json_object_get(dir, "Metrics");
    assert_true(json_array_size(metrics) >= 1 && json_array_size(metrics) <= 100);
    json_t *dims = json_array_get(json_object_get(dir, "Dimensions"), 0);
    assert_int_equal(json_array_size(dims), 2);
    assert_string_equal(json_string_value(json_object_get(root, "Host")), "h1");
    size_t i;
    json_t *m;
    json_array_foreach(metrics, i, m)
    {
        const char *name = json_string_value(json_object_get(m, "Name"));
        json_t *v = json_object_get(root, name);
        double s = 0, n = 0;
        if (json_is_number(v)) {
            s = json_number_value(v);
            n = 1;
        } else {
            assert_true(json_array_size(v) >= 1 && json_array_size(v) <= 100);
            size_t k;
            json_t *x;
            json_array_foreach(v, k, x)
            {
                s += json_number_value(x);
                n++;
            }
        }
        if (name[0] == 'h') {
            a->hsum += s;
            a->hcount += n;
        } else {
            int idx = atoi(name + 1);
            a->sum[idx] += s;
            a->count[idx] += n;
        }
    }
    a->records++;
    json_decref(root);
    return SKY_OK;
}

static void test_emf_split(void **state)
{
    (void)state;
    enum { NC = 250 };
    static sky_metric_datum d[NC + 1];
    static char names[NC][8];
    sky_dim dims[] = {{"Host", "h1"}, {"Op", "get"}};
    double vals[150], cnts[150], hsum = 0, hcount = 0;
    for (int i = 0; i < 150; i++) {
        vals[i] = i * 0.5;
        cnts[i] = 1 + i % 4;
        hsum += vals[i] * cnts[i];
        hcount += cnts[i];
    }
    for (int i = 0; i < NC; i++) {
        snprintf(names[i], sizeof names[i], "m%d", i);
        d[i] = (sky_metric_datum){.ns = "App", .name = names[i], .dims = dims, .n_dims = 2,
                                  .kind = SKY_METRIC_COUNTER, .unit = SKY_UNIT_COUNT,
                                  .timestamp_ms = 1700000000000, .value = i + 1, .count = 1};
    }
    d[NC] = (sky_metric_datum){.ns = "App", .name = "h", .dims = dims, .n_dims = 2,
                               .kind = SKY_METRIC_HISTOGRAM, .unit = SKY_UNIT_MILLISECONDS,
                               .timestamp_ms = 1700000000000, .count = hcount, .sum = hsum,
                               .values = vals, .counts = cnts, .n_values = 150};
    emf_acc a = {0};
    assert_int_equal(sky__emf_render(d, NC + 1, collect, &a), SKY_OK);
    /* 251 metrics, 100 a record: 3 records, the third with the histogram's first 100 values;
     * its other 275 values (EMF has no counts: repeated) need 3 more */
    assert_int_equal(a.records, 6);
    for (int i = 0; i < NC; i++) {
        assert_true(a.sum[i] == i + 1);
        assert_true(a.count[i] == 1);
    }
    assert_true(a.hcount == hcount);
    assert_true(fabs(a.hsum - hsum) < 1e-9);
}


/* ---- EMF caps: a hot histogram cannot make a flush unbounded; what is cut is counted ------- */

static void test_emf_caps(void **state)
{
    (void)state;
    sky_dim dims[] = {{"Host", "h1"}, {"Op", "get"}};
    double vals[] = {1, 2}, cnts[] = {600000, 400000}; /* a million records, two values */
    sky_metric_datum d[3] = {
        {.ns = "App", .name = "h", .dims = dims, .n_dims = 2, .kind = SKY_METRIC_HISTOGRAM,
         .timestamp_ms = 1700000000000, .count = 1e6, .sum = 1.4e6, .values = vals,
         .counts = cnts, .n_values = 2},
        {.ns = "App", .name = "m1", .dims = dims, .n_dims = 2, .kind = SKY_METRIC_COUNTER,
         .timestamp_ms = 1700000000000, .value = 5, .count = 1},
        {.ns = "App", .name = "m2", .dims = dims, .n_dims = 2, .kind = SKY_METRIC_COUNTER,
         .timestamp_ms = 1700000000001, .value = 7, .count = 1}, /* its own record */
    };
    emf_acc a = {0};
    uint64_t dropped = 0;
    /* 500 values of the histogram at most: 5 records (the counter rides in the first) */
    assert_int_equal(sky__emf_render_capped(d, 3, &(sky__emf_caps){.max_values = 500}, collect,
                                            &a, &dropped),
                     SKY_OK);
    assert_int_equal(a.records, 6);
    assert_true(a.hcount == 500);
    assert_true(a.count[1] == 1 && a.count[2] == 1);
    assert_int_equal(dropped, 1000000 - 500);
    /* and 3 records a flush at most: the rest of the histogram and the other group's counter
     * are counted, not written */
    memset(&a, 0, sizeof a);
    dropped = 0;
    assert_int_equal(sky__emf_render_capped(d, 3,
                                            &(sky__emf_caps){.max_values = 500, .max_records = 3},
                                            collect, &a, &dropped),
                     SKY_OK);
    assert_int_equal(a.records, 3);
    assert_true(a.hcount == 300);
    assert_true(a.count[2] == 0);
    assert_int_equal(dropped, (1000000 - 300) + 1);

    /* the sink counts them in its stats */
    sky_metrics *m;
    sky_metrics_new(NULL, &m);
    skytest_capture capt = {0};
    sky_sink *emf;
    assert_int_equal(sky_sink_metrics_emf(&(sky_emf_opts){.metrics = m,
                                                          .output = skytest_capture_sink(
                                                              &capt, SKY_FORMAT_JSON),
                                                          .max_values = 100},
                                          &emf, NULL),
                     SKY_OK);
    sky_metric *h = make(m, "Hot", SKY_METRIC_HISTOGRAM, SKY_UNIT_MILLISECONDS);
    for (int i = 0; i < 250; i++)
        sky_histogram_record(h, 5);
    assert_int_equal(sky_sink_flush(emf, 5000), SKY_OK);
    sky_emf_stats es;
    assert_int_equal(sky_emf_stats_get(emf, &es), SKY_OK);
    assert_int_equal(es.records, 1);
    assert_int_equal(es.dropped_values, 150);
    assert_int_equal(capt.n, 1);
    sky_sink_close(emf);
    skytest_capture_reset(&capt);
    sky_metrics_free(m);
}

/* ---- from configuration: a metrics_emf sink publishes the default registry ------------------ */

static void test_emf_sink_from_yaml(void **state)
{
    (void)state;
    char path[] = "/tmp/skylog-test-metrics-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    char yaml[512];
    snprintf(yaml, sizeof yaml,
             "sinks:\n  - metrics_emf: { path: %s, flush_interval_ms: 1h }\n", path);
    sky_t *sky;
    char *err = NULL;
    assert_int_equal(sky_open_yaml(yaml, strlen(yaml), &sky, &err), SKY_OK);
    sky_metric *c;
    assert_int_equal(sky_metric_new(sky_metrics_default(),
                                    &(sky_metric_opts){.ns = "Yaml", .name = "Hits",
                                                       .kind = SKY_METRIC_COUNTER,
                                                       .unit = SKY_UNIT_COUNT},
                                    &c, NULL),
                     SKY_OK);
    for (int i = 0; i < 1000; i++)
        sky_counter_add(c, 2);
    assert_int_equal(sky_close(sky), SKY_OK); /* the last flush writes the record */
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[4096];
    assert_non_null(fgets(line, sizeof line, f));
    assert_null(fgets(line + 2000, 100, f)); /* exactly one record */
    fclose(f);
    unlink(path);
    json_t *root = json_loads(line, 0, NULL);
    assert_non_null(root);
    assert_true(json_number_value(json_object_get(root, "Hits")) == 2000);
    json_decref(root);
}

/* ---- StatsD lines over UDP ------------------------------------------------------------------ */

static void test_statsd_lines(void **state)
{
    (void)state;
    int rx = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(rx, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t al = sizeof a;
    getsockname(rx, (struct sockaddr *)&a, &al);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

    sky_metrics *m;
    sky_metrics_new(NULL, &m);
    sky_sink *sd;
    assert_int_equal(sky_sink_metrics_statsd(&(sky_statsd_opts){.metrics = m,
                                                                .port = ntohs(a.sin_port),
                                                                .max_packet = 64},
                                             &sd, NULL),
                     SKY_OK);
    sky_dim dims[] = {{"Operation", "get:item"}};
    sky_metric *c, *g, *t;
    sky_metric_new(m, &(sky_metric_opts){.ns = "App", .name = "Hits", .dims = dims, .n_dims = 1},
                   &c, NULL);
    sky_metric_new(m, &(sky_metric_opts){.ns = "App", .name = "Queue", .kind = SKY_METRIC_GAUGE},
                   &g, NULL);
    sky_metric_new(m, &(sky_metric_opts){.ns = "App", .name = "Lat", .kind = SKY_METRIC_HISTOGRAM,
                                         .unit = SKY_UNIT_MILLISECONDS},
                   &t, NULL);
    for (int i = 0; i < 1000; i++)
        sky_counter_add(c, 1);
    sky_gauge_set(g, 3);
    sky_gauge_set(g, 7);
    for (int i = 0; i < 4; i++)
        sky_timer_record_ns(t, i < 3 ? 1000000 : 2500000);
    assert_int_equal(sky_sink_flush(sd, 5000), SKY_OK);
    char all[1024] = "", buf[128];
    size_t used = 0;
    int packets = 0;
    while (!strstr(all, "App.Lat:2.5|ms")) {
        ssize_t n = recv(rx, buf, sizeof buf, 0);
        assert_true(n > 0);
        assert_true(n <= 64); /* max_packet */
        memcpy(all + used, buf, (size_t)n);
        used += (size_t)n;
        all[used++] = '\n';
        all[used] = 0;
        packets++;
    }
    assert_true(packets >= 2);
    assert_non_null(strstr(all, "App.Hits:1000|c|#Operation:get_item\n"));
    assert_non_null(strstr(all, "App.Queue:7|g\n"));
    assert_non_null(strstr(all, "App.Lat:1|ms|@0.33333333333333331\n"));
    assert_non_null(strstr(all, "App.Lat:2.5|ms\n"));
    sky_sink_close(sd);
    sky_metrics_free(m);
    close(rx);
}

/* ---- operations: metrics and a log event in the scoped context ------------------------------- */

typedef struct lines {
    char text[4][512];
    int n;
} lines;

static sky_status lines_write(void *self, const sky_record *r, size_t n)
{
    lines *l = self;
    for (size_t i = 0; i < n && l->n < 4; i++)
        snprintf(l->text[l->n++], sizeof l->text[0], "%.*s", (int)r[i].len, r[i].text);
    return SKY_OK;
}
static void lines_close(void *self) { (void)self; }
static const sky_sink_vtable lines_vt = {.type = "lines", .write = lines_write,
                                         .close = lines_close};

static int run_op(sky_logger *log, sky_op_metrics *om, bool fail)
{
    SKY_TRACK_OPERATION(op, log, om, "db_query")
    {
        if (fail) {
            sky_operation_fail(&op);
            return -1; /* leaving the block early still ends the operation */
        }
    }
    return 0;
}

static void test_track_operation(void **state)
{
    (void)state;
    sky_metrics *m;
    sky_metrics_new(NULL, &m);
    cap c = {0};
    sky__metrics_attach(m, capture, &c, 0);
    sky_op_metrics om;
    assert_int_equal(sky_op_metrics_new(m, "App", "db_query", &om, NULL), SKY_OK);
    sky_t *sky;
    assert_int_equal(sky_open(NULL, &sky), SKY_OK);
    static lines l;
    assert_int_equal(sky_add_sink(sky, sky_sink_new(&lines_vt, &l, SKY_FORMAT_JSON), NULL),
                     SKY_OK);
    sky_logger *log = sky_logger_get(sky, "app");
    SKY_WITH_CONTEXT(SKY_STR("request_id", "r-1"))
    {
        assert_int_equal(run_op(log, &om, false), 0);
        assert_int_equal(run_op(log, &om, true), -1);
    }
    SKY_TIMED(log, &om, "db_query") {}
    sky_flush(sky, 1000);
    assert_int_equal(l.n, 3);
    assert_non_null(strstr(l.text[0], "\"request_id\":\"r-1\""));
    assert_non_null(strstr(l.text[0], "\"success\":true"));
    assert_non_null(strstr(l.text[1], "\"request_id\":\"r-1\""));
    assert_non_null(strstr(l.text[1], "\"success\":false"));
    assert_non_null(strstr(l.text[1], "ERROR"));
    assert_null(strstr(l.text[2], "request_id")); /* the context ended with its block */
    assert_non_null(strstr(l.text[2], "\"operation\":\"db_query\""));
    sky_close(sky);
    sky_metrics_flush(m, 0);
    assert_int_equal(c.n, 3);
    assert_true(find(&c, "Duration")->count == 3);
    assert_true(find(&c, "Success")->value == 2);
    assert_true(find(&c, "Failure")->value == 1);
    cap_free(&c);
    sky__metrics_detach(m, &c);
    sky_metrics_free(m);
}

/* ---- PutMetricData: the timestamp window is enforced before sending ------------------------ */

static int64_t offset_clock(void *user) { return sky_now_ns() + *(int64_t *)user; }

static void test_cloudwatch_timestamp_window(void **state)
{
    (void)state;
    int64_t offset = -15LL * 24 * 3600 * 1000000000; /* 15 days ago: older than 14 days */
    sky_metrics *m;
    sky_metrics_new(&(sky_metrics_opts){.now_ns = offset_clock, .clock_user = &offset}, &m);
    sky_sink *cw;
    /* nothing listens on port 9: a request sent would fail and be counted as failed */
    assert_int_equal(sky_sink_metrics_cloudwatch(
                         &(sky_cwm_opts){.metrics = m, .endpoint = "http://127.0.0.1:9",
                                         .region = "us-east-1", .access_key_id = "AKIDTEST",
                                         .secret_access_key = "secret", .max_retries = 0},
                         &cw, NULL),
                     SKY_OK);
    sky_metric *c;
    sky_metric_new(m, &(sky_metric_opts){.ns = "App", .name = "Old"}, &c, NULL);
    sky_counter_add(c, 1);
    assert_int_equal(sky_sink_flush(cw, 5000), SKY_OK);
    offset = 3LL * 3600 * 1000000000; /* 3 hours ahead: more than 2 */
    sky_counter_add(c, 1);
    assert_int_equal(sky_sink_flush(cw, 5000), SKY_OK);
    sky_cwm_stats st;
    assert_int_equal(sky_cwm_stats_get(cw, &st), SKY_OK);
    assert_int_equal(st.rejected_too_old, 1);
    assert_int_equal(st.rejected_too_new, 1);
    assert_int_equal(st.failed_requests, 0); /* never sent */
    assert_int_equal(st.queued_datums, 0);
    /* its provider's whole counters: the creds_* of sky_cwm_stats and the rest */
    sky_aws_creds_stats cs;
    memset(&cs, 0xff, sizeof cs);
    assert_int_equal(sky_cwm_creds_stats_get(cw, &cs), SKY_OK);
    assert_int_equal(cs.refreshes, st.creds_refreshes);
    assert_int_equal(cs.failures, 0);
    assert_int_equal(cs.stale_used, 0);
    assert_string_equal(cs.last_error, "");
    assert_int_equal(sky_cwl_creds_stats_get(cw, &cs), SKY_EINVAL); /* not a Logs sink */
    sky_sink *other = sky_sink_console(NULL);
    assert_int_equal(sky_cwm_creds_stats_get(other, &cs), SKY_EINVAL);
    assert_int_equal(sky_cwm_creds_stats_get(NULL, &cs), SKY_EINVAL);
    sky_sink_close(other);
    sky_sink_close(cw);
    sky_metrics_free(m);
}


/* ---- PutMetricData is sent by the sink's thread, never by the flushing caller -------------- */

typedef struct held_srv {
    int lfd, port;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool got, release;
    char first_line[128];
    char body[4096]; /* the request's body (NUL-terminated; cut if longer) */
} held_srv;

/* Answers one request, {} with 200, but only once the test releases it. */
static void *held_main(void *arg)
{
    held_srv *h = arg;
    int fd = accept(h->lfd, NULL, NULL);
    char buf[65536];
    size_t len = 0;
    long want = -1;
    while (fd >= 0 && len < sizeof buf) {
        ssize_t r = read(fd, buf + len, sizeof buf - len);
        if (r <= 0)
            break;
        len += (size_t)r;
        char *end = memmem(buf, len, "\r\n\r\n", 4);
        if (end && want < 0) {
            char *cl = strcasestr(buf, "content-length:");
            want = (end - buf) + 4 + (cl ? atol(cl + 15) : 0);
        }
        if (want >= 0 && (long)len >= want)
            break;
    }
    pthread_mutex_lock(&h->mu);
    snprintf(h->first_line, sizeof h->first_line, "%.*s", (int)strcspn(buf, "\r"), buf);
    char *body = memmem(buf, len, "\r\n\r\n", 4);
    if (body)
        snprintf(h->body, sizeof h->body, "%.*s", (int)(len - (size_t)(body + 4 - buf)), body + 4);
    h->got = true;
    pthread_cond_broadcast(&h->cv);
    while (!h->release)
        pthread_cond_wait(&h->cv, &h->mu);
    pthread_mutex_unlock(&h->mu);
    const char *ok = "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\n"
                     "Content-Length: 2\r\nConnection: close\r\n\r\n{}";
    if (fd >= 0) {
        ssize_t w = write(fd, ok, strlen(ok));
        (void)w;
        close(fd);
    }
    return NULL;
}

static void test_cloudwatch_sends_off_thread(void **state)
{
    (void)state;
    held_srv h = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    h.lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    assert_int_equal(bind(h.lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(h.lfd, 4), 0);
    getsockname(h.lfd, (struct sockaddr *)&a, &al);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", ntohs(a.sin_port));
    pthread_t th;
    pthread_create(&th, NULL, held_main, &h);

    sky_metrics *m;
    sky_metrics_new(NULL, &m);
    sky_sink *cw;
    char *err = NULL;
    sky_status st = sky_sink_metrics_cloudwatch(
        &(sky_cwm_opts){.metrics = m, .endpoint = url, .region = "us-east-1",
                        .access_key_id = "AKIDTEST", .secret_access_key = "secret",
                        .max_retries = 0, .request_timeout_ms = 60000},
        &cw, &err);
    if (st == SKY_EUNSUPPORTED) { /* no libcurl on this machine: nothing to send with */
        free(err);
        h.release = true;
        shutdown(h.lfd, SHUT_RDWR);
        close(h.lfd);
        pthread_join(th, NULL);
        sky_metrics_free(m);
        skip();
    }
    assert_int_equal(st, SKY_OK);
    sky_metric *c;
    /* a namespace that JSON must escape */
    sky_metric_opts mo = {.ns = "App \"q\" \\ /x", .name = "OffThread"};
    assert_int_equal(sky_metric_new(m, &mo, &c, NULL), SKY_OK);
    sky_counter_add(c, 3);
    /* the registry's flush (what the interval thread and sky_flush do) returns while the
     * request is still unanswered: the sink's own thread is the one waiting for it */
    assert_int_equal(sky_metrics_flush(m, 0), SKY_OK);
    pthread_mutex_lock(&h.mu);
    while (!h.got)
        pthread_cond_wait(&h.cv, &h.mu);
    pthread_mutex_unlock(&h.mu);
    assert_non_null(strstr(h.first_line, "POST / HTTP/1.1"));
    /* the body's head (written with util/text.h's JSON string writer) and its datum parse */
    json_t *req = json_loads(h.body, 0, NULL);
    assert_non_null(req);
    assert_string_equal(json_string_value(json_object_get(req, "Namespace")), "App \"q\" \\ /x");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(req, "MetricData"), 0), "MetricName")),
                        "OffThread");
    json_decref(req);
    sky_cwm_stats cs;
    sky_cwm_stats_get(cw, &cs);
    assert_int_equal(cs.requests + cs.failed_requests, 0); /* in flight */
    pthread_mutex_lock(&h.mu);
    h.release = true;
    pthread_cond_broadcast(&h.cv);
    pthread_mutex_unlock(&h.mu);
    /* sky_flush waits for the sender: once it returns, the request is accounted for */
    assert_int_equal(sky_sink_flush(cw, 10000), SKY_OK);
    sky_cwm_stats_get(cw, &cs);
    assert_int_equal(cs.requests, 1);
    assert_int_equal(cs.datums_sent, 1);
    assert_int_equal(cs.queued_datums, 0);
    /* its credentials provider's counters: the explicit keys, resolved once */
    assert_int_equal(cs.creds_refreshes, 1);
    assert_int_equal(cs.creds_failures + cs.creds_retries + cs.creds_throttles, 0);
    sky_sink_close(cw);
    pthread_join(th, NULL);
    close(h.lfd);
    sky_metrics_free(m);
}

/* ---- PutMetricData after fork: the child forgets the parent's queue, sends its own --------- */

static void test_cloudwatch_fork_child(void **state)
{
    (void)state;
    sky_metrics *m;
    sky_metrics_new(NULL, &m);
    sky_sink *cw;
    sky_status st = sky_sink_metrics_cloudwatch(
        &(sky_cwm_opts){.metrics = m, .endpoint = "http://127.0.0.1:9", .region = "us-east-1",
                        .access_key_id = "AKIDTEST", .secret_access_key = "secret",
                        .max_retries = 0},
        &cw, NULL);
    if (st == SKY_EUNSUPPORTED) {
        sky_metrics_free(m);
        skip();
    }
    sky_metric *c;
    sky_metric_new(m, &(sky_metric_opts){.ns = "App", .name = "Forked"}, &c, NULL);
    sky_counter_add(c, 1);
    assert_int_not_equal(sky_sink_flush(cw, 5000), SKY_OK); /* nothing listens on port 9 */
    sky_cwm_stats cs;
    sky_cwm_stats_get(cw, &cs);
    assert_int_equal(cs.queued_datums, 1);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        sky_cwm_stats ch;
        sky_cwm_stats_get(cw, &ch);
        int ok = ch.queued_datums == 0; /* the parent's to send */
        sky_counter_add(c, 1);
        ok = ok && sky_sink_flush(cw, 5000) != SKY_OK; /* its own sender tried */
        sky_cwm_stats_get(cw, &ch);
        ok = ok && ch.queued_datums == 1 && ch.failed_requests >= 1;
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    sky_cwm_stats_get(cw, &cs);
    assert_int_equal(cs.queued_datums, 1);
    sky_sink_close(cw);
    sky_metrics_free(m);
}

/* ---- the interval thread drains while threads record: nothing lost, nothing twice ----------- */

typedef struct sum_out {
    double sum, hcount, hsum;
    int deliveries;
} sum_out;

static sky_status summing(void *user, const sky_metric_datum *d, size_t n, int64_t deadline)
{
    (void)deadline;
    sum_out *o = user;
    for (size_t i = 0; i < n; i++) {
        if (d[i].kind == SKY_METRIC_HISTOGRAM) {
            double c = 0;
            for (size_t k = 0; k < d[i].n_values; k++)
                c += d[i].counts[k];
            assert_true(c == d[i].count); /* the values account for every record */
            o->hcount += d[i].count;
            o->hsum += d[i].sum;
        } else {
            o->sum += d[i].value;
        }
    }
    o->deliveries++;
    return SKY_OK;
}

typedef struct pair {
    sky_metric *c, *h;
    int n;
} pair;

static void *adder(void *arg)
{
    pair *p = arg;
    for (int i = 0; i < p->n; i++) {
        sky_counter_add(p->c, 1);
        /* 300 distinct values: shards switch to buckets, some mid-interval */
        sky_histogram_record(p->h, (double)(i % 300));
    }
    return NULL;
}

/* Threads record while the interval thread drains: every record is in exactly one datum. More
 * threads than the fast tables hold (64) and threads that end while others start (numbers
 * reused) take the other paths. */
static void test_interval_drain_concurrent(void **state)
{
    (void)state;
    sky_metrics *m;
    sky_metrics_new(NULL, &m);
    sum_out out = {0};
    assert_int_equal(sky__metrics_attach(m, summing, &out, 1000), SKY_OK);
    sky_metric *c, *h;
    sky_metric_new(m, &(sky_metric_opts){.ns = "App", .name = "N"}, &c, NULL);
    sky_metric_new(m, &(sky_metric_opts){.ns = "App", .name = "H", .kind = SKY_METRIC_HISTOGRAM},
                   &h, NULL);
    enum { NT = 80 };
    pthread_t t[NT];
    pair p = {c, h, 10000};
    double total = 0, hsum = 0;
    for (int i = 0; i < 10000; i++)
        hsum += i % 300;
    sky_metrics_stats st;
    do {
        for (int k = 0; k < 2; k++)
            pthread_create(&t[k], NULL, adder, &p);
        for (int k = 0; k < 2; k++)
            pthread_join(t[k], NULL);
        total += 2 * p.n;
        sky_metrics_stats_get(m, &st);
    } while (st.flushes < 2); /* the interval thread drained twice while we recorded */
    p.n = 1000;
    for (int k = 0; k < NT; k++)
        pthread_create(&t[k], NULL, adder, &p);
    for (int k = 0; k < NT; k++)
        pthread_join(t[k], NULL);
    sky_metrics_flush(m, 0);
    sky__metrics_detach(m, &out);
    assert_true(out.sum == total + NT * 1000.0);
    assert_true(out.hcount == total + NT * 1000.0);
    double hsum_small = 0;
    for (int i = 0; i < 1000; i++)
        hsum_small += i % 300;
    assert_true(out.hsum == hsum * (total / 10000) + NT * hsum_small);
    sky_metrics_stats_get(m, &st);
    assert_int_equal(st.invalid, 0);
    sky_metrics_free(m);
}

#if defined(__SANITIZE_THREAD__)
/* The forked child starts the interval thread again, which TSan refuses by default. */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void) { return "die_after_fork=0"; }
#endif

/* ---- fork: the child publishes what it records, not what the parent had not flushed -------- */

static void test_fork_child_starts_empty(void **state)
{
    (void)state;
    sky_metrics *m;
    sky_metrics_new(NULL, &m);
    cap c = {0};
    assert_int_equal(sky__metrics_attach(m, capture, &c, 1000), SKY_OK);
    sky_metric *n = make(m, "Forked", SKY_METRIC_COUNTER, SKY_UNIT_COUNT);
    sky_metric *h = make(m, "ForkedH", SKY_METRIC_HISTOGRAM, SKY_UNIT_NONE);
    sky_counter_add(n, 100);
    sky_histogram_record(h, 7);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        sky_counter_add(n, 5);
        sky_histogram_record(h, 3);
        sky_metrics_flush(m, 0);
        const sky_metric_datum *d = find(&c, "Forked"), *dh = find(&c, "ForkedH");
        int ok = c.n == 2 && d && d->value == 5 && dh && dh->count == 1 && dh->max == 3;
        /* the interval thread was started again (first record or flush): it flushes too */
        sky_metrics_stats st;
        sky_metrics_stats_get(m, &st);
        uint64_t f0 = st.flushes;
        for (int i = 0; i < 6000 && st.flushes == f0; i++) { /* a minute at most */
            usleep(10000);
            sky_metrics_stats_get(m, &st);
        }
        _exit(ok && st.flushes > f0 ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    sky_metrics_flush(m, 0);
    const sky_metric_datum *d = find(&c, "Forked");
    assert_non_null(d);
    assert_true(d->value == 100);
    cap_free(&c);
    sky__metrics_detach(m, &c);
    sky_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_four_threads_exact),
        cmocka_unit_test(test_sketch_error_bound),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_emf_split),
        cmocka_unit_test(test_emf_caps),
        cmocka_unit_test(test_emf_sink_from_yaml),
        cmocka_unit_test(test_statsd_lines),
        cmocka_unit_test(test_track_operation),
        cmocka_unit_test(test_cloudwatch_timestamp_window),
        cmocka_unit_test(test_cloudwatch_sends_off_thread),
        cmocka_unit_test(test_interval_drain_concurrent),
        cmocka_unit_test(test_fork_child_starts_empty),
        cmocka_unit_test(test_cloudwatch_fork_child),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

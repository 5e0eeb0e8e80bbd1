/*
 * metrics_cloudwatch.c - the PutMetricData output: a sink that ignores log events and, at each
 * metrics flush, sends the registry's datums with CloudWatch's PutMetricData over awsJson 1.0
 * (X-Amz-Target GraniteServiceVersion20100801.PutMetricData, one of the protocols botocore 1.43's
 * model lists; its first, smithy-rpc-v2-cbor, `skylog serve` does not speak).
 *
 * Limits are applied before sending: 1000 datums and 1,000,000 bytes per request (one namespace
 * per request), 150 values per datum (a longer histogram becomes several datums of the same
 * metric and timestamp, which CloudWatch aggregates), timestamps within 14 days back and 2 hours
 * ahead (older or newer datums are rejected and counted). Bodies of 10 KiB or more are gzipped,
 * as botocore does for this operation (its request_min_compression_size_bytes).
 *
 * Threads, as in the Logs sink: a metrics flush (the interval thread's, or sky_flush() on any
 * thread) only renders the datums and queues them; the sink's own sender thread makes the
 * requests. sky_flush() then waits, up to its deadline, for the sender to have tried
 * everything queued; a thread that records or flushes never makes a network call.
 *
 * Accounting follows the Logs sink: the AWS layer retries throttling and transient failures;
 * a request that still fails goes back to the head of the queue (bounded by max_queue_datums,
 * the oldest dropped and counted) and is sent again at the next interval or flush; a request
 * refused as invalid is counted as rejected with its datums; what is queued when the sink
 * closes and cannot be sent within its grace period is counted as undelivered.
 *
 * fork(): the child's sink has no sender thread and its queue holds the parent's datums (the
 * parent sends them): the child's first delivery forgets them and starts its own sender.
 */
#include "core/errmsg.h"
#include "core/reserved.h"
#include "aws/retry.h"
#include "core/pipeline.h"
#include "metrics/metrics_internal.h"
#include "util/cond.h"
#include "util/text.h"
#include "util/thread.h"

#include <skylog/aws.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_DATUMS 1000
#define MAX_BODY 1000000
#define MAX_VALUES SKY_METRIC_EXACT_VALUES
#define MAX_AGE_MS (14LL * 24 * 3600 * 1000)
#define MAX_AHEAD_MS (2LL * 3600 * 1000)
#define GZIP_MIN 10240
#define CLOSE_GRACE_NS (5LL * 1000000000)

typedef struct qdatum {
    char *ns;
    char *json; /* one MetricDatum object */
    size_t len;
    int64_t ts_ms;
} qdatum;

typedef struct cwm {
    sky_metrics *m;
    sky_aws_client *client;
    sky_aws_creds *creds;
    bool compress;
    size_t max_queue;
    pthread_mutex_t mu; /* the queue, the sender's state, the stats */
    pthread_cond_t wake; /* sender: something to send, or closing */
    pthread_cond_t done; /* flushers: a pass over the queue ended */
    qdatum *q;          /* pending datums, oldest first (not the batch in flight) */
    size_t nq, capq;
    size_t in_flight;   /* datums of the request being sent */
    uint64_t pass_req, pass_done; /* passes asked for (deliveries) and finished */
    sky_status pass_status;       /* of the last finished pass */
    bool closing, thread_started;
    int64_t close_deadline_ns, flush_deadline_ns;
    pid_t pid;
    pthread_t thread;
    sky_cwm_stats st;
    uint64_t rate_limited_ns; /* under mu, as st */
} cwm;

static void qd_free(qdatum *d)
{
    free(d->ns);
    free(d->json);
}

static json_t *datum_json(const sky_metric_datum *d, size_t from, size_t nvals)
{
    json_t *dims = json_array();
    for (size_t i = 0; i < d->n_dims; i++)
        json_array_append_new(dims, json_pack("{s:s,s:s}", "Name", d->dims[i].name, "Value",
                                              d->dims[i].value));
    json_t *o = json_pack("{s:s,s:o,s:f,s:s,s:i}", "MetricName", d->name, "Dimensions", dims,
                          "Timestamp", (double)d->timestamp_ms / 1000.0, "Unit",
                          sky_unit_name(d->unit), "StorageResolution", d->high_resolution ? 1 : 60);
    if (!o)
        return NULL;
    if (d->kind != SKY_METRIC_HISTOGRAM) {
        json_object_set_new(o, "Value", json_real(d->value));
    } else {
        json_t *v = json_array(), *c = json_array();
        for (size_t i = from; i < from + nvals; i++) {
            json_array_append_new(v, json_real(d->values[i]));
            json_array_append_new(c, json_real(d->counts[i]));
        }
        json_object_set_new(o, "Values", v);
        json_object_set_new(o, "Counts", c);
    }
    return o;
}

/* Appends a datum. mu held. */
static bool enqueue(cwm *c, const char *ns, json_t *o, int64_t ts_ms)
{
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(o);
    char *nsd = strdup(ns);
    if (!text || !nsd || (c->nq == c->capq && !(c->q = realloc(c->q, (c->capq = c->capq ? 2 * c->capq : 256) * sizeof *c->q)))) {
        free(text);
        free(nsd);
        return false;
    }
    c->q[c->nq++] = (qdatum){nsd, text, strlen(text), ts_ms};
    return true;
}

/* Whether a Values/Counts histogram fits one datum, its statistics exact. */
static bool hist_exact(const sky_metric_datum *d) { return d->n_values <= MAX_VALUES; }

/* mu held. */
static void queue_datums(cwm *c, const sky_metric_datum *d, size_t n)
{
    size_t lost = 0;
    for (size_t i = 0; i < n; i++) {
        if (d[i].kind != SKY_METRIC_HISTOGRAM) {
            lost += !enqueue(c, d[i].ns, datum_json(&d[i], 0, 0), d[i].timestamp_ms);
        } else if (hist_exact(&d[i])) {
            lost += !enqueue(c, d[i].ns, datum_json(&d[i], 0, d[i].n_values),
                             d[i].timestamp_ms);
        } else {
            /* More than 150 values (the sketch): one datum per 150 bucket representatives,
             * which CloudWatch aggregates. The count stays exact; sum, min and max are the
             * representatives', within the sketch's error. */
            for (size_t k = 0; k < d[i].n_values; k += MAX_VALUES) {
                size_t nv = d[i].n_values - k < MAX_VALUES ? d[i].n_values - k : MAX_VALUES;
                lost += !enqueue(c, d[i].ns, datum_json(&d[i], k, nv), d[i].timestamp_ms);
            }
        }
    }
    c->st.dropped_queue_full += lost;
    if (c->nq > c->max_queue) {
        size_t drop = c->nq - c->max_queue;
        for (size_t i = 0; i < drop; i++)
            qd_free(&c->q[i]);
        memmove(c->q, c->q + drop, (c->nq - drop) * sizeof *c->q);
        c->nq -= drop;
        c->st.dropped_queue_full += drop;
    }
}

/* Removes queue entries marked with json == NULL. mu held. */
static void compact(cwm *c)
{
    size_t w = 0;
    for (size_t r = 0; r < c->nq; r++)
        if (c->q[r].json)
            c->q[w++] = c->q[r];
    c->nq = w;
}

static sky_status send_one(cwm *c, const char *body, size_t len, int64_t deadline_ns,
                           sky_aws_error *e)
{
    sky_aws_call call = {.target = "GraniteServiceVersion20100801.PutMetricData",
                         .json_version = "1.0", .body = body, .body_len = len,
                         .gzip = c->compress && len >= GZIP_MIN, .deadline_ns = deadline_ns};
    sky_http_response resp;
    sky_status st = sky_aws_client_call(c->client, &call, &resp, e);
    if (st == SKY_OK)
        sky_http_response_free(&resp);
    return st;
}

/* Rejects, before sending, the queued datums outside CloudWatch's timestamp window. mu held. */
static void reject_out_of_window(cwm *c)
{
    int64_t now = sky_now_ns() / 1000000;
    for (size_t i = 0; i < c->nq; i++) {
        bool old = c->q[i].ts_ms < now - MAX_AGE_MS, ahead = c->q[i].ts_ms > now + MAX_AHEAD_MS;
        if (old || ahead) {
            c->st.rejected_too_old += old;
            c->st.rejected_too_new += ahead;
            qd_free(&c->q[i]);
            c->q[i].json = NULL;
        }
    }
    compact(c);
}

/* Takes the next request's datums out of the queue: the oldest one's namespace, up to 1000
 * datums and 1,000,000 bytes. Builds its body in `body`. mu held. Returns the count. */
static size_t take_batch(cwm *c, qdatum *batch, char *body, size_t *len)
{
    const char *ns = c->q[0].ns;
    sky_buf head = {.p = body, .cap = MAX_BODY, .fixed = true};
    sky__buf_lit(&head, "{\"Namespace\":");
    sky__json_str(&head, ns, strlen(ns));
    sky__buf_lit(&head, ",\"MetricData\":[");
    if (head.oom)
        return 0;
    *len = head.len;
    size_t n = 0;
    for (size_t i = 0; i < c->nq && n < MAX_DATUMS; i++) {
        if (strcmp(c->q[i].ns, ns) != 0)
            continue;
        if (*len + c->q[i].len + 3 > MAX_BODY)
            break;
        if (n)
            body[(*len)++] = ',';
        memcpy(body + *len, c->q[i].json, c->q[i].len);
        *len += c->q[i].len;
        batch[n++] = c->q[i];
        c->q[i].json = NULL; /* taken (ns stays valid: the batch owns the strings now) */
    }
    body[(*len)++] = ']';
    body[(*len)++] = '}';
    compact(c);
    return n;
}

/* Puts a failed request's datums back at the head of the queue, in their order. mu held. */
static void put_back(cwm *c, qdatum *batch, size_t n)
{
    if (c->nq + n > c->capq) {
        size_t cap = c->nq + n;
        qdatum *q = realloc(c->q, cap * sizeof *q);
        if (!q) {
            c->st.dropped_queue_full += n;
            for (size_t i = 0; i < n; i++)
                qd_free(&batch[i]);
            return;
        }
        c->q = q;
        c->capq = cap;
    }
    memmove(c->q + n, c->q, c->nq * sizeof *c->q);
    memcpy(c->q, batch, n * sizeof *c->q);
    c->nq += n;
}

/* One pass: sends everything queued, oldest first, one namespace a request, until the queue
 * is empty or a request fails with a retryable error (its datums go back to the head for the
 * next pass). mu held on entry and exit, released during each request. */
static sky_status send_pass(cwm *c, qdatum *batch, char *body)
{
    sky_status result = SKY_OK;
    reject_out_of_window(c);
    while (c->nq && result == SKY_OK) {
        size_t len = 0, n = take_batch(c, batch, body, &len);
        if (!n)
            return SKY_ENOMEM;
        c->in_flight = n;
        int64_t deadline = c->closing ? c->close_deadline_ns : c->flush_deadline_ns;
        pthread_mutex_unlock(&c->mu);
        sky_aws_error e;
        sky_status st = send_one(c, body, len, deadline, &e);
        pthread_mutex_lock(&c->mu);
        c->in_flight = 0;
        c->st.retries += e.attempts > 1 ? (uint64_t)(e.attempts - 1) : 0;
        c->st.throttles += (uint64_t)e.throttles;
        c->rate_limited_ns += (uint64_t)e.rate_limited_ns;
        c->st.rate_limited_ms = c->rate_limited_ns / 1000000;
        bool invalid = st != SKY_OK && e.http_status >= 400 && e.http_status < 500 &&
                       !e.throttling && !e.persistent && !e.retryable;
        if (st == SKY_OK) {
            c->st.requests++;
            c->st.datums_sent += n;
        } else {
            c->st.failed_requests++;
            snprintf(c->st.last_error, sizeof c->st.last_error, "PutMetricData: %.100s: %.130s",
                     e.code, e.message);
            if (invalid)
                c->st.rejected_invalid += n;
            else
                result = st;
        }
        if (st == SKY_OK || invalid) {
            for (size_t k = 0; k < n; k++)
                qd_free(&batch[k]);
        } else {
            put_back(c, batch, n); /* tried again at the next pass */
        }
    }
    return result;
}

static void *sender_main(void *arg)
{
    cwm *c = arg;
    qdatum *batch = malloc(MAX_DATUMS * sizeof *batch);
    char *body = malloc(MAX_BODY + 1);
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (!c->closing && c->pass_done == c->pass_req)
            pthread_cond_wait(&c->wake, &c->mu);
        uint64_t req = c->pass_req;
        sky_status st = batch && body ? send_pass(c, batch, body) : SKY_ENOMEM;
        c->pass_done = req;
        c->pass_status = st;
        pthread_cond_broadcast(&c->done);
        if (c->closing && (c->nq == 0 || st != SKY_OK || sky_monotonic_ns() >= c->close_deadline_ns))
            break;
    }
    pthread_mutex_unlock(&c->mu);
    free(batch);
    free(body);
    return NULL;
}

/* In a forked child (the first call there): the sender thread is the parent's, and so are the
 * queued datums (the parent sends them) and whatever lock state the parent's threads left. */
static void after_fork(cwm *c)
{
    pid_t me = getpid();
    if (SKY_LIKELY(c->pid == me))
        return;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->wake, NULL);
    sky__cond_init_monotonic(&c->done);
    for (size_t i = 0; i < c->nq; i++)
        qd_free(&c->q[i]);
    c->nq = 0;
    c->in_flight = 0;
    c->pass_req = c->pass_done = 0;
    c->thread_started = false;
    c->pid = me;
}

/* mu held. False if the thread cannot start (then deliveries send nothing, and say so). */
static bool ensure_sender(cwm *c)
{
    if (!c->thread_started && !c->closing)
        c->thread_started = sky__thread_start(&c->thread, "skylog-cwm", sender_main, c) == 0;
    return c->thread_started;
}

/* The registry's delivery: queues the datums and wakes the sender. Never sends. */
static sky_status deliver(void *user, const sky_metric_datum *d, size_t n, int64_t deadline_ns)
{
    (void)deadline_ns;
    cwm *c = user;
    after_fork(c);
    pthread_mutex_lock(&c->mu);
    bool ok = ensure_sender(c);
    queue_datums(c, d, n);
    if (c->nq) {
        c->pass_req++;
        pthread_cond_signal(&c->wake);
    }
    pthread_mutex_unlock(&c->mu);
    return ok ? SKY_OK : SKY_ENOMEM;
}

static sky_status cwm_write(void *self, const sky_record *r, size_t n)
{
    (void)self, (void)r, (void)n; /* log events are not metrics */
    return SKY_OK;
}

/* Drains the registry, then waits (up to the deadline) for the sender to have tried
 * everything queued. SKY_OK when nothing is left; else the last pass's error, or
 * SKY_ETIMEDOUT. */
static sky_status cwm_flush(void *self, int64_t deadline_ns)
{
    cwm *c = self;
    after_fork(c);
    pthread_mutex_lock(&c->mu);
    c->flush_deadline_ns = deadline_ns; /* bounds the requests of the pass the drain starts */
    pthread_mutex_unlock(&c->mu);
    sky_status st = sky_metrics_flush(c->m, deadline_ns);
    pthread_mutex_lock(&c->mu);
    if (st == SKY_OK && (c->nq || c->in_flight)) {
        uint64_t want = ++c->pass_req;
        pthread_cond_signal(&c->wake);
        while (c->thread_started && c->pass_done < want) {
            if (deadline_ns && sky__cond_wait_until(&c->done, &c->mu, deadline_ns) != 0 &&
                sky_monotonic_ns() >= deadline_ns)
                break;
            if (!deadline_ns)
                pthread_cond_wait(&c->done, &c->mu);
        }
        if (c->pass_done >= want)
            st = c->pass_status;
        else
            st = c->thread_started ? SKY_ETIMEDOUT : SKY_ENOMEM;
    }
    c->flush_deadline_ns = 0;
    pthread_mutex_unlock(&c->mu);
    return st;
}

static void cwm_free(cwm *c)
{
    for (size_t i = 0; i < c->nq; i++)
        qd_free(&c->q[i]);
    free(c->q);
    sky_aws_client_free(c->client);
    sky_aws_creds_free(c->creds);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->wake);
    pthread_cond_destroy(&c->done);
    free(c);
}

/* The last interval is drained and queued; the sender has a grace period to send it (it stops
 * at the first failure: no last retries against a broken endpoint), then what is left is
 * counted as undelivered. */
static void cwm_close(void *self)
{
    cwm *c = self;
    after_fork(c);
    pthread_mutex_lock(&c->mu);
    c->close_deadline_ns = sky_monotonic_ns() + CLOSE_GRACE_NS;
    c->flush_deadline_ns = c->close_deadline_ns; /* bounds a request the last drain starts */
    pthread_mutex_unlock(&c->mu);
    sky_metrics_flush(c->m, 0);
    sky__metrics_detach(c->m, c);
    pthread_mutex_lock(&c->mu);
    c->closing = true;
    pthread_cond_signal(&c->wake);
    bool join = c->thread_started;
    pthread_mutex_unlock(&c->mu);
    if (join)
        pthread_join(c->thread, NULL);
    if (c->nq) {
        fprintf(stderr, "skylog: metrics_cloudwatch: %zu datums undelivered at close (%s)\n",
                c->nq, c->st.last_error);
        c->st.dropped_undelivered += c->nq;
    }
    cwm_free(c);
}

static void cwm_stats(void *self, sky_sink_stats *out)
{
    cwm *c = self;
    pthread_mutex_lock(&c->mu);
    out->written = c->st.datums_sent;
    out->dropped = c->st.dropped_queue_full + c->st.rejected_invalid + c->st.rejected_too_old +
                   c->st.rejected_too_new;
    out->errors = c->st.failed_requests;
    pthread_mutex_unlock(&c->mu);
}

static const sky_sink_vtable cwm_vt = {.type = "metrics_cloudwatch", .write = cwm_write,
                                       .flush = cwm_flush, .close = cwm_close,
                                       .stats = cwm_stats};

sky_status sky_cwm_stats_get(sky_sink *sink, sky_cwm_stats *out)
{
    if (!sink || !out || sink->vt != &cwm_vt)
        return SKY_EINVAL;
    cwm *c = sink->self;
    after_fork(c);
    pthread_mutex_lock(&c->mu);
    *out = c->st;
    out->queued_datums = c->nq;
    pthread_mutex_unlock(&c->mu);
    sky_aws_creds_stats cs;
    sky_aws_creds_stats_get(c->creds, &cs); /* its own atomics: never waits for a refresh */
    out->creds_refreshes = cs.refreshes;
    out->creds_failures = cs.failures;
    out->creds_retries = cs.retries;
    out->creds_throttles = cs.throttles;
    return SKY_OK;
}

sky_status sky_cwm_creds_stats_get(sky_sink *sink, sky_aws_creds_stats *out)
{
    if (!sink || !out || sink->vt != &cwm_vt)
        return SKY_EINVAL;
    sky_aws_creds_stats_get(((cwm *)sink->self)->creds, out);
    return SKY_OK;
}

sky_status sky_cwm_retry_stats_get(sky_sink *sink, sky_aws_retry_stats *out)
{
    if (!sink || !out || sink->vt != &cwm_vt)
        return SKY_EINVAL;
    sky_aws_client_retry_stats(((cwm *)sink->self)->client, out); /* thread-safe: atomics */
    return SKY_OK;
}

static sky_status sink_metrics_cloudwatch_body(const sky_cwm_opts *opts, sky_sink **out,
                                               char **errmsg)
{
    sky_cwm_opts o = opts ? *opts : (sky_cwm_opts){0};
    char err[512] = "";
    if (errmsg)
        *errmsg = NULL;
    if (!out)
        return SKY_EINVAL;
    if (SKY__CHECK_RESERVED(&o, sky_cwm_opts, NULL, errmsg) != SKY_OK)
        return SKY_EINVAL;
    if ((o.flush_interval_ms && o.flush_interval_ms < 1000) ||
        (o.access_key_id == NULL) != (o.secret_access_key == NULL)) {
        if (errmsg)
            *errmsg = strdup("metrics_cloudwatch: flush_interval must be at least 1s, "
                             "access_key_id and secret_access_key go together");
        return SKY_EINVAL;
    }
    cwm *c = calloc(1, sizeof *c);
    if (!c)
        return SKY_ENOMEM;
    pthread_mutex_init(&c->mu, NULL);
    sky__cond_init_monotonic(&c->done);
    pthread_cond_init(&c->wake, NULL);
    c->pid = getpid();
    c->m = o.metrics ? o.metrics : sky_metrics_default();
    c->compress = !o.no_compress;
    c->max_queue = o.max_queue_datums ? o.max_queue_datums : 100000;
    sky_http_opts ho = {.connect_timeout_ms = 5000,
                        .timeout_ms = o.request_timeout_ms ? o.request_timeout_ms : 30000,
                        .ca_bundle = o.ca_bundle,
                        .transport = (sky_http_transport)o.http_transport};
    sky_aws_creds_opts co = {.access_key_id = o.access_key_id,
                             .secret_access_key = o.secret_access_key,
                             .session_token = o.session_token,
                             .profile = o.profile,
                             .region = o.region,
                             .http = &ho};
    sky_status st = sky_aws_creds_new(&co, &c->creds);
    if (st == SKY_OK) {
        sky_aws_client_opts ao = {.service = "monitoring", .region = o.region,
                                  .endpoint = o.endpoint, .profile = o.profile,
                                  .creds = c->creds, .http = ho,
                                  .retry = {.max_attempts = sky__retry_attempts(
                                                o.max_retries, o.profile, NULL, 4),
                                            .base_ms = o.retry_delay_ms ? o.retry_delay_ms : 100}};
        char cerr[256] = "";
        st = sky_aws_client_new(&ao, &c->client, cerr, sizeof cerr);
        if (st != SKY_OK)
            snprintf(err, sizeof err, "metrics_cloudwatch: %s", cerr[0] ? cerr : sky_strerror(st));
    }
    if (st != SKY_OK) {
        cwm_free(c);
        if (errmsg)
            *errmsg = strdup(err[0] ? err : sky_strerror(st));
        return st;
    }
    sky_sink *s = sky_sink_new(&cwm_vt, c, SKY_FORMAT_NONE);
    if (!s)
        return SKY_ENOMEM;
    if (sky__metrics_attach(c->m, deliver, c, o.flush_interval_ms) != SKY_OK) {
        sky_sink_close(s);
        return SKY_ENOMEM;
    }
    *out = s;
    return SKY_OK;
}

sky_status sky_sink_metrics_cloudwatch(const sky_cwm_opts *opts, sky_sink **out, char **errmsg)
{
    char *mine = NULL;
    sky_status st = sink_metrics_cloudwatch_body(opts, out, errmsg ? errmsg : &mine);
    return sky__errmsg_route(NULL, st, mine);
}

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
 * Accounting follows the Logs sink: the AWS layer retries throttling and transient failures;
 * a request that still fails stays queued (bounded by max_queue_datums, the oldest dropped and
 * counted) and is sent again at the next flush; a request refused as invalid is counted as
 * rejected with its datums; what is queued when the sink closes is counted as undelivered.
 */
#include "core/internal.h"
#include "metrics/metrics_internal.h"

#include <skylog/aws.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DATUMS 1000
#define MAX_BODY 1000000
#define MAX_VALUES SKY_METRIC_EXACT_VALUES
#define MAX_AGE_MS (14LL * 24 * 3600 * 1000)
#define MAX_AHEAD_MS (2LL * 3600 * 1000)
#define GZIP_MIN 10240

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
    pthread_mutex_t mu; /* stats */
    qdatum *q;          /* pending datums, oldest first; touched under the registry's flush */
    size_t nq, capq;
    sky_cwm_stats st;
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
    pthread_mutex_lock(&c->mu);
    c->st.dropped_queue_full += lost;
    if (c->nq > c->max_queue) {
        size_t drop = c->nq - c->max_queue;
        for (size_t i = 0; i < drop; i++)
            qd_free(&c->q[i]);
        memmove(c->q, c->q + drop, (c->nq - drop) * sizeof *c->q);
        c->nq -= drop;
        c->st.dropped_queue_full += drop;
    }
    pthread_mutex_unlock(&c->mu);
}

/* Removes queue entries marked with json == NULL. */
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

/* Sends everything queued, oldest first, grouped per namespace. Stops at the first request
 * that fails with a retryable error (kept for the next flush). */
static sky_status send_queue(cwm *c, int64_t deadline_ns)
{
    int64_t now = sky_now_ns() / 1000000;
    pthread_mutex_lock(&c->mu);
    for (size_t i = 0; i < c->nq; i++) {
        bool old = c->q[i].ts_ms < now - MAX_AGE_MS, ahead = c->q[i].ts_ms > now + MAX_AHEAD_MS;
        if (old || ahead) {
            c->st.rejected_too_old += old;
            c->st.rejected_too_new += ahead;
            qd_free(&c->q[i]);
            c->q[i].json = NULL;
        }
    }
    pthread_mutex_unlock(&c->mu);
    compact(c);
    sky_status result = SKY_OK;
    size_t *idx = malloc((MAX_DATUMS + 1) * sizeof *idx);
    char *body = malloc(MAX_BODY + 1);
    if (!idx || !body) {
        free(idx);
        free(body);
        return SKY_ENOMEM;
    }
    while (c->nq && result == SKY_OK) {
        const char *ns = c->q[0].ns;
        json_t *jns = json_string(ns);
        char *nsjson = jns ? json_dumps(jns, JSON_ENCODE_ANY) : NULL;
        json_decref(jns);
        if (!nsjson) {
            result = SKY_ENOMEM;
            break;
        }
        size_t len = (size_t)snprintf(body, MAX_BODY, "{\"Namespace\":%s,\"MetricData\":[", nsjson);
        free(nsjson);
        size_t n = 0;
        for (size_t i = 0; i < c->nq && n < MAX_DATUMS; i++) {
            if (strcmp(c->q[i].ns, ns) != 0)
                continue;
            if (len + c->q[i].len + 3 > MAX_BODY)
                break;
            if (n)
                body[len++] = ',';
            memcpy(body + len, c->q[i].json, c->q[i].len);
            len += c->q[i].len;
            idx[n++] = i;
        }
        body[len++] = ']';
        body[len++] = '}';
        sky_aws_error e;
        sky_status st = send_one(c, body, len, deadline_ns, &e);
        pthread_mutex_lock(&c->mu);
        c->st.retries += e.attempts > 1 ? (uint64_t)(e.attempts - 1) : 0;
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
                result = st; /* kept: tried again at the next flush */
        }
        if (st == SKY_OK || invalid)
            for (size_t k = 0; k < n; k++) {
                qd_free(&c->q[idx[k]]);
                c->q[idx[k]].json = NULL;
            }
        pthread_mutex_unlock(&c->mu);
        compact(c);
    }
    free(idx);
    free(body);
    return result;
}

static sky_status deliver(void *user, const sky_metric_datum *d, size_t n, int64_t deadline_ns)
{
    cwm *c = user;
    queue_datums(c, d, n);
    return send_queue(c, deadline_ns);
}

static sky_status cwm_write(void *self, const sky_record *r, size_t n)
{
    (void)self, (void)r, (void)n; /* log events are not metrics */
    return SKY_OK;
}

static sky_status cwm_flush(void *self, int64_t deadline_ns)
{
    cwm *c = self;
    return sky_metrics_flush(c->m, deadline_ns);
}

static void cwm_free(cwm *c)
{
    for (size_t i = 0; i < c->nq; i++)
        qd_free(&c->q[i]);
    free(c->q);
    sky_aws_client_free(c->client);
    sky_aws_creds_free(c->creds);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static void cwm_close(void *self)
{
    cwm *c = self;
    sky_metrics_flush(c->m, sky_monotonic_ns() + 5000000000LL);
    sky__metrics_detach(c->m, c);
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
    pthread_mutex_lock(&c->mu);
    *out = c->st;
    out->queued_datums = c->nq;
    pthread_mutex_unlock(&c->mu);
    return SKY_OK;
}

sky_status sky_sink_metrics_cloudwatch(const sky_cwm_opts *opts, sky_sink **out, char **errmsg)
{
    sky_cwm_opts o = opts ? *opts : (sky_cwm_opts){0};
    char err[512] = "";
    if (errmsg)
        *errmsg = NULL;
    if (!out)
        return SKY_EINVAL;
    if ((o.flush_interval_ms && o.flush_interval_ms < 1000) || o.max_retries < 0 ||
        (o.access_key_id == NULL) != (o.secret_access_key == NULL)) {
        if (errmsg)
            *errmsg = strdup("metrics_cloudwatch: flush_interval must be at least 1s, "
                             "max_retries >= 0, access_key_id and secret_access_key go together");
        return SKY_EINVAL;
    }
    cwm *c = calloc(1, sizeof *c);
    if (!c)
        return SKY_ENOMEM;
    pthread_mutex_init(&c->mu, NULL);
    c->m = o.metrics ? o.metrics : sky_metrics_default();
    c->compress = !o.no_compress;
    c->max_queue = o.max_queue_datums ? o.max_queue_datums : 100000;
    sky_http_opts ho = {.connect_timeout_ms = 5000,
                        .timeout_ms = o.request_timeout_ms ? o.request_timeout_ms : 30000,
                        .ca_bundle = o.ca_bundle};
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
                                  .retry = {.max_attempts = (o.max_retries ? o.max_retries : 3) + 1,
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

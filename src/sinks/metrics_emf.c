/*
 * metrics_emf.c - the EMF output: a sink that ignores log events and, at each metrics flush,
 * writes the registry's datums as EMF records into its own output sink (file, console) or,
 * for a CloudWatch Logs sink, queues them with sky_cwl_put() (so that sink's batching, retries
 * and accounting apply). The rendering and the EMF limits are src/metrics/emf.c's; the caps on
 * a flush's output (max_values a datum, max_records a flush) are applied there, before anything
 * is rendered, and what they leave out is counted here (dropped_values). The only memory the
 * sink keeps is one record's line.
 */
#include "core/errmsg.h"
#include "core/reserved.h"
#include "core/pipeline.h"
#include "metrics/metrics_internal.h"

#include <skylog/cloudwatch.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct emf_sink {
    sky_metrics *m;
    sky_sink *out;
    bool cwl;
    pthread_mutex_t mu; /* the output sink is written from the interval thread and flushers */
    char *line;
    size_t line_cap;
    sky__emf_caps caps;
    uint64_t records, errors, dropped_values;
} emf_sink;

static sky_status emit(void *user, int64_t ts_ms, const char *text, size_t len)
{
    emf_sink *e = user;
    sky_status st;
    if (e->cwl) {
        st = sky_cwl_put(e->out, ts_ms, text, len);
    } else {
        if (len + 2 > e->line_cap) {
            char *p = realloc(e->line, len + 2);
            if (!p)
                return SKY_ENOMEM;
            e->line = p;
            e->line_cap = len + 2;
        }
        memcpy(e->line, text, len);
        e->line[len] = '\n';
        e->line[len + 1] = 0;
        sky_record r = {.event = NULL, .text = e->line, .len = len + 1};
        st = e->out->vt->write(e->out->self, &r, 1);
    }
    if (st == SKY_OK)
        e->records++;
    else
        e->errors++; /* counted; the other records of the flush are still written */
    return SKY_OK;
}

static sky_status deliver(void *user, const sky_metric_datum *d, size_t n, int64_t deadline_ns)
{
    emf_sink *e = user;
    pthread_mutex_lock(&e->mu);
    uint64_t errors = e->errors, dropped = e->dropped_values;
    sky_status st = sky__emf_render_capped(d, n, &e->caps, emit, e, &e->dropped_values);
    if (e->dropped_values != dropped)
        fprintf(stderr,
                "skylog: metrics_emf: %llu metric values past max_values/max_records not "
                "written (EMF has no counts: prefer metrics_cloudwatch for large histograms)\n",
                (unsigned long long)(e->dropped_values - dropped));
    if (st == SKY_OK && e->errors != errors)
        st = SKY_EIO;
    if (!e->cwl && e->out->vt->flush)
        e->out->vt->flush(e->out->self, deadline_ns ? deadline_ns : sky_monotonic_ns() + 1000000000);
    pthread_mutex_unlock(&e->mu);
    return st;
}

static sky_status emf_write(void *self, const sky_record *r, size_t n)
{
    (void)self, (void)r, (void)n; /* log events are not metrics */
    return SKY_OK;
}

static sky_status emf_flush(void *self, int64_t deadline_ns)
{
    emf_sink *e = self;
    sky_status st = sky_metrics_flush(e->m, deadline_ns);
    if (e->cwl) {
        int64_t left = (deadline_ns - sky_monotonic_ns()) / 1000000;
        sky_status s = sky_sink_flush(e->out, left > 0 ? left : 0);
        if (st == SKY_OK)
            st = s;
    }
    return st;
}

static void emf_close(void *self)
{
    emf_sink *e = self;
    sky_metrics_flush(e->m, sky_monotonic_ns() + 2000000000LL);
    sky__metrics_detach(e->m, e);
    sky_sink_close(e->out);
    pthread_mutex_destroy(&e->mu);
    free(e->line);
    free(e);
}

static void emf_stats(void *self, sky_sink_stats *out)
{
    emf_sink *e = self;
    pthread_mutex_lock(&e->mu);
    out->written = e->records;
    out->errors = e->errors;
    out->dropped = e->dropped_values;
    pthread_mutex_unlock(&e->mu);
}

static const sky_sink_vtable emf_vt = {.type = "metrics_emf", .write = emf_write,
                                       .flush = emf_flush, .close = emf_close,
                                       .stats = emf_stats};

sky_status sky_emf_stats_get(sky_sink *sink, sky_emf_stats *out)
{
    if (!sink || !out || sink->vt != &emf_vt)
        return SKY_EINVAL;
    emf_sink *e = sink->self;
    pthread_mutex_lock(&e->mu);
    *out = (sky_emf_stats){e->records, e->errors, e->dropped_values};
    pthread_mutex_unlock(&e->mu);
    return SKY_OK;
}

static sky_status sink_metrics_emf_body(const sky_emf_opts *opts, sky_sink **out, char **errmsg)
{
    sky_emf_opts o = opts ? *opts : (sky_emf_opts){0};
    if (errmsg)
        *errmsg = NULL;
    if (SKY__CHECK_RESERVED(&o, sky_emf_opts, NULL, errmsg) != SKY_OK) {
        sky_sink_close(o.output); /* owned, also on failure */
        return SKY_EINVAL;
    }
    if (!out || (o.flush_interval_ms && o.flush_interval_ms < 1000)) {
        if (errmsg)
            *errmsg = strdup("metrics_emf: flush_interval must be at least 1s");
        sky_sink_close(o.output);
        return SKY_EINVAL;
    }
    if (!o.metrics)
        o.metrics = sky_metrics_default();
    if (!o.output)
        o.output = sky_sink_console(&(sky_console_opts){.stream = SKY_STDOUT,
                                                        .format = SKY_FORMAT_JSON});
    emf_sink *e = calloc(1, sizeof *e);
    if (!e || !o.output || !o.metrics) {
        free(e);
        sky_sink_close(o.output);
        return SKY_ENOMEM;
    }
    e->m = o.metrics;
    e->out = o.output;
    e->caps.max_values = o.max_values ? o.max_values : 1000000;
    e->caps.max_records = o.max_records ? o.max_records : 100000;
    sky_cwl_stats probe;
    e->cwl = sky_cwl_stats_get(o.output, &probe) == SKY_OK;
    pthread_mutex_init(&e->mu, NULL);
    sky_sink *s = sky_sink_new(&emf_vt, e, SKY_FORMAT_NONE);
    if (!s)
        return SKY_ENOMEM; /* sky_sink_new closed e (without an attach to undo) */
    if (sky__metrics_attach(e->m, deliver, e, o.flush_interval_ms) != SKY_OK) {
        sky_sink_close(s);
        return SKY_ENOMEM;
    }
    *out = s;
    return SKY_OK;
}

sky_status sky_sink_metrics_emf(const sky_emf_opts *opts, sky_sink **out, char **errmsg)
{
    char *mine = NULL;
    sky_status st = sink_metrics_emf_body(opts, out, errmsg ? errmsg : &mine);
    return sky__errmsg_route(NULL, st, mine);
}

/*
 * emf.c - renders datums as CloudWatch Embedded Metric Format records.
 *
 * Datums with the same namespace, dimensions and timestamp share a record (one directive, one
 * dimension set). The EMF limits are applied here, before anything is written: a record names
 * at most 100 metrics and carries at most 100 values per metric; what does not fit goes into
 * further records of the same group, which CloudWatch adds together, so counts and sums are
 * the same however a datum is split. Dimension sets never exceed 30 keys (checked when an
 * instrument is created). EMF has no counts: a histogram value seen n times is written n times.
 *
 * Caps (sky__emf_caps): a histogram datum writes at most max_values values a flush, and a flush
 * at most max_records records; what is past them is not rendered (nothing is allocated for
 * it) and counted as dropped values, so one hot histogram cannot turn a flush into megabytes.
 */
#include "metrics/metrics_internal.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct cursor {
    const sky_metric_datum *d;
    size_t k;         /* current value */
    double left;      /* repetitions of it still to write */
    double budget;    /* values it may still write */
} cursor;

/* The values a datum stands for in EMF: 1, or a histogram's repetitions. */
static double datum_values(const sky_metric_datum *d)
{
    if (d->kind != SKY_METRIC_HISTOGRAM)
        return 1;
    double n = 0;
    for (size_t i = 0; i < d->n_values; i++)
        n += d->counts[i] > 0 ? (double)llround(d->counts[i]) : 0;
    return n;
}

static bool same_group(const sky_metric_datum *a, const sky_metric_datum *b)
{
    if (a->timestamp_ms != b->timestamp_ms || strcmp(a->ns, b->ns) || a->n_dims != b->n_dims)
        return false;
    for (size_t i = 0; i < a->n_dims; i++)
        if (strcmp(a->dims[i].name, b->dims[i].name) || strcmp(a->dims[i].value, b->dims[i].value))
            return false;
    return true;
}

/* Positions c on d's first value; returns the values past the cap. */
static double cur_init(cursor *c, const sky_metric_datum *d, double max_values)
{
    c->d = d;
    c->k = 0;
    if (d->kind == SKY_METRIC_HISTOGRAM) {
        c->left = d->n_values ? llround(d->counts[0]) : 0;
        while (c->k < d->n_values && c->left <= 0 && ++c->k < d->n_values)
            c->left = llround(d->counts[c->k]);
    } else {
        c->left = 1;
    }
    double total = datum_values(d);
    c->budget = total < max_values ? total : max_values;
    return total - c->budget;
}

static bool cur_done(const cursor *c)
{
    if (c->budget <= 0)
        return true;
    if (c->d->kind != SKY_METRIC_HISTOGRAM)
        return c->left <= 0;
    return c->k >= c->d->n_values;
}

static double cur_next(cursor *c)
{
    c->budget--;
    if (c->d->kind != SKY_METRIC_HISTOGRAM) {
        c->left = 0;
        return c->d->value;
    }
    double v = c->d->values[c->k];
    if (--c->left <= 0) {
        c->k++;
        while (c->k < c->d->n_values && (c->left = llround(c->d->counts[c->k])) <= 0)
            c->k++;
    }
    return v;
}

static sky_status emit_record(const sky_metric_datum *g, cursor *cur, size_t n,
                              sky__emf_emit_fn emit, void *user)
{
    json_t *root = json_object(), *metrics = json_array(), *dimset = json_array();
    json_t *dir = json_pack("{s:s,s:[o],s:o}", "Namespace", g->ns, "Dimensions", dimset,
                            "Metrics", metrics);
    json_t *aws = json_pack("{s:I,s:[o]}", "Timestamp", (json_int_t)g->timestamp_ms,
                            "CloudWatchMetrics", dir);
    sky_status st = SKY_ENOMEM;
    if (!root || !aws || json_object_set_new(root, "_aws", aws))
        goto out;
    for (size_t i = 0; i < g->n_dims; i++) {
        json_array_append_new(dimset, json_string(g->dims[i].name));
        json_object_set_new(root, g->dims[i].name, json_string(g->dims[i].value));
    }
    size_t named = 0;
    for (size_t i = 0; i < n && named < SKY__EMF_MAX_METRICS; i++) {
        if (cur_done(&cur[i]))
            continue;
        const sky_metric_datum *d = cur[i].d;
        json_t *def = json_pack("{s:s,s:s}", "Name", d->name, "Unit", sky_unit_name(d->unit));
        if (def && d->high_resolution)
            json_object_set_new(def, "StorageResolution", json_integer(1));
        json_array_append_new(metrics, def);
        json_t *vals = json_array();
        for (int k = 0; k < SKY__EMF_MAX_VALUES && !cur_done(&cur[i]); k++)
            json_array_append_new(vals, json_real(cur_next(&cur[i])));
        if (json_array_size(vals) == 1) {
            json_object_set(root, d->name, json_array_get(vals, 0));
            json_decref(vals);
        } else {
            json_object_set_new(root, d->name, vals);
        }
        named++;
    }
    char *text = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(17));
    if (text) {
        st = emit(user, g->timestamp_ms, text, strlen(text));
        free(text);
    }
out:
    json_decref(root);
    return st;
}

sky_status sky__emf_render_capped(const sky_metric_datum *d, size_t n, const sky__emf_caps *caps,
                                  sky__emf_emit_fn emit, void *user, uint64_t *dropped)
{
    double max_values = caps && caps->max_values ? (double)caps->max_values : INFINITY;
    size_t max_records = caps && caps->max_records ? caps->max_records : SIZE_MAX, records = 0;
    double lost = 0;
    bool *done = calloc(n ? n : 1, sizeof *done);
    cursor *cur = calloc(n ? n : 1, sizeof *cur);
    sky_status st = done && cur ? SKY_OK : SKY_ENOMEM;
    for (size_t i = 0; st == SKY_OK && i < n; i++) {
        if (done[i])
            continue;
        size_t nc = 0;
        for (size_t j = i; j < n; j++)
            if (!done[j] && same_group(&d[i], &d[j])) {
                done[j] = true;
                lost += cur_init(&cur[nc++], &d[j], max_values);
            }
        for (;;) {
            bool more = false;
            for (size_t k = 0; k < nc && !more; k++)
                more = !cur_done(&cur[k]);
            if (!more)
                break;
            if (records == max_records) { /* the flush's cap: the rest is counted, not written */
                for (size_t k = 0; k < nc; k++)
                    lost += cur[k].budget;
                for (size_t j = i + 1; j < n; j++)
                    if (!done[j]) {
                        done[j] = true;
                        lost += fmin(datum_values(&d[j]), max_values);
                    }
                break;
            }
            if ((st = emit_record(&d[i], cur, nc, emit, user)) != SKY_OK)
                break;
            records++;
        }
    }
    free(done);
    free(cur);
    if (dropped)
        *dropped += (uint64_t)lost;
    return st;
}

sky_status sky__emf_render(const sky_metric_datum *d, size_t n, sky__emf_emit_fn emit, void *user)
{
    return sky__emf_render_capped(d, n, NULL, emit, user, NULL);
}

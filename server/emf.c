/*
 * emf.c - Embedded Metric Format extraction (see emf.h). Follows the EMF specification's
 * limits: at most 100 metrics per directive, 30 dimension keys per set, 100 values per metric;
 * a directive that breaks them, or names a dimension or metric the event does not carry, is
 * skipped. The log event itself is always kept, as in CloudWatch.
 *
 * Datapoints are dimension sets x metrics, so a small event could ask for millions: sets per
 * directive, points per event and points per request are bounded (emf.h), and the bounds are
 * checked before anything is stored, so one request holds the store lock a bounded time.
 */
#include "emf.h"

#include "jsonbody.h"
#include "metrics_api.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

#define EMF_MAX_METRICS 100
#define EMF_MAX_DIMS 30
#define EMF_MAX_VALUES 100
#define PAST_LIMIT_MS (14LL * 24 * 3600 * 1000)
#define FUTURE_LIMIT_MS (2LL * 3600 * 1000)

/* Builds [{"Name": k, "Value": root[k]}...] for one dimension set; NULL if a key is missing or
 * not a string. */
static json_t *dimension_list(json_t *root, json_t *set)
{
    if (!json_is_array(set) || json_array_size(set) > EMF_MAX_DIMS)
        return NULL;
    json_t *dims = json_array();
    size_t i;
    json_t *k;
    json_array_foreach(set, i, k)
    {
        const char *key = json_string_value(k);
        const char *val = key ? json_string_value(json_object_get(root, key)) : NULL;
        if (!val) {
            json_decref(dims);
            return NULL;
        }
        json_array_append_new(dims, json_pack("{s:s,s:s}", "Name", key, "Value", val));
    }
    return dims;
}

/* Aggregates a metric member (a number or a list of numbers) into count/sum/min/max. */
static bool metric_values(json_t *v, double *count, double *sum, double *min, double *max)
{
    *count = *sum = 0;
    *min = INFINITY;
    *max = -INFINITY;
    if (json_is_number(v)) {
        double x = json_number_value(v);
        *count = 1;
        *sum = *min = *max = x;
        return true;
    }
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > EMF_MAX_VALUES)
        return false;
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x)
    {
        if (!json_is_number(x))
            return false;
        double d = json_number_value(x);
        *count += 1;
        *sum += d;
        *min = fmin(*min, d);
        *max = fmax(*max, d);
    }
    return true;
}

static int directive(sqlite3 *db, json_t *root, json_t *dir, int64_t ts, int *budget)
{
    const char *ns = json_string_value(json_object_get(dir, "Namespace"));
    json_t *sets = json_object_get(dir, "Dimensions"), *metrics = json_object_get(dir, "Metrics");
    if (!ns || !json_is_array(metrics) || json_array_size(metrics) > EMF_MAX_METRICS)
        return 0;
    if (json_is_array(sets) && json_array_size(sets) > SKY__EMF_MAX_SETS)
        return 0;
    size_t n_sets = json_is_array(sets) && json_array_size(sets) ? json_array_size(sets) : 1;
    if ((int64_t)(n_sets * json_array_size(metrics)) > *budget)
        return 0; /* over the event's or the request's budget: skipped whole, never half */
    json_t *empty_sets = NULL;
    if (!json_is_array(sets) || json_array_size(sets) == 0)
        sets = empty_sets = json_pack("[[]]");
    int stored = 0;
    size_t si;
    json_t *set;
    json_array_foreach(sets, si, set)
    {
        json_t *dims = dimension_list(root, set);
        if (!dims)
            continue;
        size_t mi;
        json_t *m;
        json_array_foreach(metrics, mi, m)
        {
            const char *name = json_string_value(json_object_get(m, "Name"));
            const char *unit = json_string_value(json_object_get(m, "Unit"));
            double count, sum, min, max;
            json_t *v = name ? json_object_get(root, name) : NULL;
            if (!name || !metric_values(v, &count, &sum, &min, &max))
                continue;
            /* An array of different values keeps them beside the aggregate, as PutMetricData's
             * Values, so its percentiles are exact: both are stored or neither (a datapoint
             * with only some of its values would give wrong percentiles). */
            sqlite3_exec(db, "SAVEPOINT emf_point", NULL, NULL, NULL);
            int rc = sky__metrics_store_point(db, ns, name, dims, ts, unit ? unit : "None", count,
                                              sum, min, max);
            if (rc == SQLITE_OK && min < max)
                rc = sky__metrics_store_values(db, v, NULL);
            if (rc != SQLITE_OK)
                sqlite3_exec(db, "ROLLBACK TO emf_point", NULL, NULL, NULL);
            sqlite3_exec(db, "RELEASE emf_point", NULL, NULL, NULL);
            if (rc == SQLITE_OK) {
                stored++;
                (*budget)--;
            }
        }
        json_decref(dims);
    }
    json_decref(empty_sets);
    return stored;
}

int sky__emf_extract(sqlite3 *db, const char *msg, size_t len, int64_t event_ts_ms, int64_t now_ms,
                     int *budget)
{
    if (*budget <= 0)
        return 0;
    if (len < 2 || msg[0] != '{' || !memmem(msg, len, "CloudWatchMetrics", 17))
        return 0; /* cheap test first: most log lines are not EMF */
    const char *why;
    json_t *root = sky__json_load(msg, len, &why);
    json_t *aws = json_object_get(root, "_aws");
    json_t *dirs = json_object_get(aws, "CloudWatchMetrics");
    int stored = 0;
    json_t *t = json_object_get(aws, "Timestamp");
    int64_t ts = json_is_integer(t) ? json_integer_value(t) : event_ts_ms;
    /* The arithmetic is on `now` only (a sane clock value), never on the client's ts, which may
     * be any int64: now - ts would overflow for INT64_MIN. */
    bool in_window = (!t || json_is_integer(t)) && ts >= now_ms - PAST_LIMIT_MS &&
                     ts <= now_ms + FUTURE_LIMIT_MS;
    if (json_is_array(dirs) && in_window) {
        int event_budget = *budget < SKY__EMF_MAX_POINTS_PER_EVENT ? *budget
                                                                   : SKY__EMF_MAX_POINTS_PER_EVENT;
        int spent = event_budget;
        size_t i;
        json_t *d;
        json_array_foreach(dirs, i, d) stored += directive(db, root, d, ts, &event_budget);
        *budget -= spent - event_budget;
    }
    json_decref(root);
    return stored;
}

/*
 * metrics_api.c - CloudWatch metrics operations of the local endpoint (see metrics_api.h).
 *
 * Both wire forms share one implementation: the awsQuery form is converted to the awsJson
 * shape first (query.c), and handlers read values through helpers that accept what either
 * form carries (numbers or numeric strings; epoch seconds or ISO-8601 timestamps). Errors use
 * the awsQuery codes (InvalidParameterValue, MissingParameter, InvalidParameterCombination),
 * which reply.c carries in x-amzn-query-error for the JSON form, as CloudWatch does.
 *
 * Storage: one row per metric identity (namespace, name, dimensions sorted by name) and one
 * row per datum, already aggregated (count, sum, min, max), so statistics over any period are
 * a single GROUP BY-free scan. The Values/Counts of a datum are also kept, apart
 * (datapoint_values), and read only for percentiles (nearest rank), which are then exact; a
 * StatisticValues datum with Minimum < Maximum hides its distribution, and a period holding one
 * has no percentiles (nor one with negative values, as in CloudWatch).
 */
#include "metrics_api.h"

#include "alarms.h"
#include "jsonbody.h"
#include "query.h"
#include "server.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_BODY 1048576
#define MAX_DATUMS 1000
#define MAX_DIMS 30
#define MAX_VALUES 150
#define MAX_DATAPOINTS 1440
#define PAST_LIMIT_S (14 * 24 * 3600)
#define FUTURE_LIMIT_S (2 * 3600)
#define LIST_PAGE 500
/* Stored datapoints read per GetMetricStatistics/GetMetricData call, under the store lock:
 * without it, 500 queries over a metric with a million datapoints read half a billion rows. */
#define MAX_SCAN_POINTS 2000000

typedef struct ctx {
    const sky__request *req;
    sky__api api;
    sky__reply *r;
    const char *action;
} ctx;

static const char *const units[] = {
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
    "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
    "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second",
    "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second",
    "Terabits/Second", "Count/Second", "None",
};

static const char *const stat_names[] = {"SampleCount", "Average", "Sum", "Minimum", "Maximum"};

#define ERR(code, ...)                                                                   \
    do {                                                                                 \
        sky__reply_error(c->r, c->api, 400, code, __VA_ARGS__);                          \
        goto out;                                                                        \
    } while (0)
#define INVALID(...) ERR("InvalidParameterValue", __VA_ARGS__)
/* The store failed: 500 InternalServiceError, as AWS answers a fault of its own, which clients
 * retry. After a rollback, the failure's own message. */
#define STORE_ERR(msg)                                                                   \
    do {                                                                                 \
        sky__reply_error(c->r, c->api, 500, "InternalServiceError", "store error: %s", msg); \
        goto out;                                                                        \
    } while (0)
#define STORE_ROLLBACK_ERR()                                                             \
    do {                                                                                 \
        char why_[256];                                                                  \
        sky__store_rollback(db, why_, sizeof why_);                                      \
        STORE_ERR(why_);                                                                 \
    } while (0)
#define MISSING(name) ERR("MissingParameter", "The parameter %s is required.", name)

/* ---- value helpers ------------------------------------------------------------------------ */

static bool get_num(json_t *v, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return true;
    }
    if (json_is_string(v)) {
        char *end;
        const char *s = json_string_value(v);
        *out = strtod(s, &end);
        return end != s && *end == '\0';
    }
    return false;
}

/* Times beyond this (year ~14,600) are refused before any arithmetic: the ms and bucket
 * computations convert to int64, and converting a larger double would be undefined. */
#define MAX_TIME_S 4e11
#define MAX_PERIOD_S 1e10

/* CloudWatch rejects values outside [-2^360, 2^360] and NaN/Infinity. */
static bool value_ok(double v) { return isfinite(v) && fabs(v) <= 0x1p360; }

static bool time_ok(double t) { return isfinite(t) && t >= -MAX_TIME_S && t <= MAX_TIME_S; }

static bool get_time_raw(json_t *v, double *out);

/* Epoch seconds from a number or an ISO-8601 UTC string ("2024-01-01T00:00:00[.123]Z"). */
static bool get_time(json_t *v, double *out)
{
    return get_time_raw(v, out) && time_ok(*out);
}

bool sky__metrics_num(json_t *v, double *out) { return get_num(v, out); }
bool sky__metrics_time(json_t *v, double *out) { return get_time(v, out); }

static bool get_time_raw(json_t *v, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return true;
    }
    if (!json_is_string(v))
        return false;
    const char *s = json_string_value(v);
    struct tm tm = {0};
    int n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &n) != 6) {
        char *end;
        *out = strtod(s, &end); /* epoch seconds as text */
        return end != s && *end == '\0';
    }
    double frac = 0;
    const char *p = s + n;
    if (*p == '.') {
        char *end;
        frac = strtod(p, &end);
        p = end;
    }
    if (*p != 'Z' && *p != '\0' && strcmp(p, "+00:00") != 0)
        return false;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm(&tm);
    *out = (double)t + frac;
    return true;
}

static const char *get_str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

bool sky__metrics_valid_unit(const char *u)
{
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(units[i], u) == 0)
            return true;
    return false;
}

static int stat_index(const char *s)
{
    for (int i = 0; i < 5; i++)
        if (strcmp(stat_names[i], s) == 0)
            return i;
    return -1;
}

int sky__metrics_stat_index(const char *s) { return s ? stat_index(s) : -1; }

/* Dimensions sorted by name and serialised: the metric's identity. Returns malloc'd text. */
static int dim_cmp(const void *a, const void *b)
{
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    const char *nx = get_str(x, "Name"), *ny = get_str(y, "Name");
    return strcmp(nx ? nx : "", ny ? ny : "");
}

static char *canonical_dims(json_t *dims)
{
    size_t n = json_is_array(dims) ? json_array_size(dims) : 0;
    json_t **v = calloc(n ? n : 1, sizeof *v);
    json_t *out = json_array();
    char *text = NULL;
    if (!v || !out)
        goto done;
    for (size_t i = 0; i < n; i++)
        v[i] = json_array_get(dims, i);
    qsort(v, n, sizeof *v, dim_cmp);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(out, json_pack("{s:s,s:s}", "Name", get_str(v[i], "Name"),
                                             "Value", get_str(v[i], "Value")));
    text = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
done:
    free(v);
    json_decref(out);
    return text;
}

/* ---- store -------------------------------------------------------------------------------- */

static int64_t metric_id(sqlite3 *db, const char *ns, const char *name, const char *dims,
                         bool create)
{
    sqlite3_stmt *st;
    int64_t id = -1;
    if (sqlite3_prepare_v2(db, "SELECT id FROM metrics WHERE namespace=? AND name=? AND dims=?",
                           -1, &st, NULL) != SQLITE_OK)
        return -2;
    sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, dims, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (id >= 0 || !create)
        return id;
    if (sqlite3_prepare_v2(db, "INSERT INTO metrics(namespace, name, dims) VALUES(?,?,?)", -1,
                           &st, NULL) != SQLITE_OK)
        return -2;
    sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, dims, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? sqlite3_last_insert_rowid(db) : -2;
}

int sky__metrics_store_point(sqlite3 *db, const char *ns, const char *name, json_t *dims,
                             int64_t ts_ms, const char *unit, double count, double sum,
                             double min, double max)
{
    char *cdims = canonical_dims(dims);
    if (!cdims)
        return SQLITE_NOMEM;
    int64_t mid = metric_id(db, ns, name, cdims, true);
    free(cdims);
    if (mid < 0)
        return SQLITE_ERROR;
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(
        db, "INSERT INTO datapoints(metric_id, ts, unit, count, sum, min, max) VALUES(?,?,?,?,?,?,?)",
        -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_int64(st, 1, mid);
    sqlite3_bind_int64(st, 2, ts_ms);
    sqlite3_bind_text(st, 3, unit ? unit : "None", -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 4, count);
    sqlite3_bind_double(st, 5, sum);
    sqlite3_bind_double(st, 6, min);
    sqlite3_bind_double(st, 7, max);
    rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
    sqlite3_finalize(st);
    return rc;
}

/* ---- PutMetricData ------------------------------------------------------------------------ */

int sky__metrics_store_values(sqlite3 *db, json_t *values, json_t *counts)
{
    int64_t dp = sqlite3_last_insert_rowid(db);
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, "INSERT INTO datapoint_values(dp_id, value, count) "
                                    "VALUES(?,?,?)", -1, &st, NULL);
    for (size_t j = 0; rc == SQLITE_OK && j < json_array_size(values); j++) {
        double v, w = 1;
        get_num(json_array_get(values, j), &v);
        if (counts)
            get_num(json_array_get(counts, j), &w);
        if (w <= 0)
            continue;
        sqlite3_bind_int64(st, 1, dp);
        sqlite3_bind_double(st, 2, v);
        sqlite3_bind_double(st, 3, w);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return rc;
}

typedef struct point {
    const char *name;
    json_t *dims;
    int64_t ts_ms;
    const char *unit;
    double count, sum, min, max;
    json_t *values, *counts; /* Values/Counts without StatisticValues: stored value by value */
} point;

static bool check_dims(ctx *c, json_t *dims, const char *where)
{
    if (!dims)
        return true;
    if (!json_is_array(dims)) {
        sky__reply_error(c->r, c->api, 400, "InvalidParameterValue", "%s must be a list", where);
        return false;
    }
    if (json_array_size(dims) > MAX_DIMS) {
        sky__reply_error(c->r, c->api, 400, "InvalidParameterValue",
                         "The collection %s must not have a size greater than %d.", where,
                         MAX_DIMS);
        return false;
    }
    size_t i;
    json_t *d;
    json_array_foreach(dims, i, d)
    {
        const char *n = get_str(d, "Name"), *v = get_str(d, "Value");
        if (!n || !v) {
            sky__reply_error(c->r, c->api, 400, "MissingParameter",
                             "The parameter %s.member.%zu.%s is required.", where, i + 1,
                             n ? "Value" : "Name");
            return false;
        }
        if (strlen(n) < 1 || strlen(n) > 255 || strlen(v) < 1 || strlen(v) > 1024) {
            sky__reply_error(c->r, c->api, 400, "InvalidParameterValue",
                             "The value for parameter %s.member.%zu is too long or empty.",
                             where, i + 1);
            return false;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(get_str(json_array_get(dims, j), "Name"), n) == 0) {
                sky__reply_error(c->r, c->api, 400, "InvalidParameterValue",
                                 "No duplicate dimension names are allowed: %s.", n);
                return false;
            }
    }
    return true;
}

static void put_metric_data(ctx *c, json_t *body)
{
    point *pts = NULL;
    sqlite3 *db = NULL;
    if (c->req->raw_len > MAX_BODY) {
        sky__reply_error(c->r, c->api, 413, "RequestEntityTooLarge",
                         "Request size %zu exceeded %d bytes", c->req->raw_len, MAX_BODY);
        return;
    }
    const char *ns = get_str(body, "Namespace");
    if (!ns)
        MISSING("Namespace");
    if (strlen(ns) < 1 || strlen(ns) > 255 || ns[0] == ':')
        INVALID("The value %s for parameter Namespace is invalid.", ns);
    if (strncmp(ns, "AWS/", 4) == 0)
        INVALID("The value AWS/ for parameter Namespace is invalid.");
    json_t *data = json_object_get(body, "MetricData");
    if (!data || !json_is_array(data) || json_array_size(data) == 0)
        MISSING("MetricData");
    size_t n = json_array_size(data);
    if (n > MAX_DATUMS)
        INVALID("The collection MetricData must not have a size greater than %d.", MAX_DATUMS);
    pts = calloc(n, sizeof *pts);
    if (!pts)
        ERR("InternalServiceError", "out of memory");
    double now = (double)sky_now_ns() / 1e9;
    for (size_t i = 0; i < n; i++) {
        json_t *d = json_array_get(data, i);
        point *p = &pts[i];
        char where[64];
        size_t k = i + 1;
        snprintf(where, sizeof where, "MetricData.member.%zu", k);
        p->name = get_str(d, "MetricName");
        if (!p->name)
            ERR("MissingParameter", "The parameter %s.MetricName is required.", where);
        if (strlen(p->name) < 1 || strlen(p->name) > 255)
            INVALID("The value for parameter %s.MetricName is invalid.", where);
        p->dims = json_object_get(d, "Dimensions");
        char dwhere[96];
        snprintf(dwhere, sizeof dwhere, "%s.Dimensions", where);
        if (!check_dims(c, p->dims, dwhere))
            goto out;
        json_t *ts = json_object_get(d, "Timestamp");
        double t = now;
        if (ts && !get_time(ts, &t))
            INVALID("The parameter %s.Timestamp is not a valid timestamp.", where);
        if (t < now - PAST_LIMIT_S)
            INVALID("The parameter %s.Timestamp must specify a time no more than two weeks in "
                    "the past.",
                    where);
        if (t > now + FUTURE_LIMIT_S)
            INVALID("The parameter %s.Timestamp must specify a time no more than two hours in "
                    "the future.",
                    where);
        p->ts_ms = (int64_t)llround(t * 1000);
        p->unit = get_str(d, "Unit");
        if (p->unit && !sky__metrics_valid_unit(p->unit))
            INVALID("The value %s for parameter %s.Unit is invalid.", p->unit, where);
        json_t *res = json_object_get(d, "StorageResolution");
        double resv;
        if (res && (!get_num(res, &resv) || (resv != 1 && resv != 60)))
            INVALID("The value for parameter %s.StorageResolution is invalid: it must be 1 or "
                    "60.",
                    where);
        json_t *value = json_object_get(d, "Value"), *stats = json_object_get(d, "StatisticValues");
        json_t *values = json_object_get(d, "Values"), *counts = json_object_get(d, "Counts");
        if (value && stats)
            ERR("InvalidParameterCombination",
                "The parameters %s.Value and %s.StatisticValues are mutually exclusive and you "
                "have specified both.",
                where, where);
        if (value && values)
            ERR("InvalidParameterCombination",
                "The parameters %s.Value and %s.Values are mutually exclusive and you have "
                "specified both.",
                where, where);
        /* StatisticValues with Values is accepted, as CloudWatch accepts it: the statistic set
         * is the datum's aggregate; the values only describe its distribution. */
        if (value) {
            double v;
            if (!get_num(value, &v) || !value_ok(v))
                INVALID("The value for parameter %s.Value is not a valid number.", where);
            p->count = 1;
            p->sum = p->min = p->max = v;
        } else if (stats) {
            static const char *const keys[] = {"SampleCount", "Sum", "Minimum", "Maximum"};
            double v[4];
            for (int j = 0; j < 4; j++) {
                json_t *x = json_object_get(stats, keys[j]);
                if (!x)
                    ERR("MissingParameter", "The parameter %s.StatisticValues.%s is required.",
                        where, keys[j]);
                if (!get_num(x, &v[j]) || !value_ok(v[j]))
                    INVALID("The value for parameter %s.StatisticValues.%s is not a valid "
                            "number.",
                            where, keys[j]);
            }
            if (v[0] <= 0 || v[2] > v[3])
                INVALID("The parameter %s.StatisticValues is invalid: SampleCount must be "
                        "positive and Minimum not above Maximum.",
                        where);
            p->count = v[0];
            p->sum = v[1];
            p->min = v[2];
            p->max = v[3];
        }
        if (values) {
            if (!json_is_array(values) || json_array_size(values) == 0)
                INVALID("The parameter %s.Values must be a non-empty list.", where);
            size_t nv = json_array_size(values);
            if (nv > MAX_VALUES)
                INVALID("The collection %s.Values must not have a size greater than %d.", where,
                        MAX_VALUES);
            if (counts && (!json_is_array(counts) || json_array_size(counts) != nv))
                INVALID("The parameters %s.Values and %s.Counts must be of the same size.", where,
                        where);
            point agg = {.min = INFINITY, .max = -INFINITY};
            for (size_t j = 0; j < nv; j++) {
                double v, w = 1;
                if (!get_num(json_array_get(values, j), &v) || !value_ok(v))
                    INVALID("The value for parameter %s.Values.member.%zu is not a valid number.",
                            where, j + 1);
                if (counts && (!get_num(json_array_get(counts, j), &w) || !isfinite(w) || w < 0))
                    INVALID("The value for parameter %s.Counts.member.%zu is not a valid count.",
                            where, j + 1);
                agg.count += w;
                agg.sum += v * w;
                if (v < agg.min)
                    agg.min = v;
                if (v > agg.max)
                    agg.max = v;
            }
            p->values = values; /* the distribution, for percentiles */
            p->counts = counts;
            if (!stats) {
                p->count = agg.count;
                p->sum = agg.sum;
                p->min = agg.min;
                p->max = agg.max;
            }
        }
        if (!value && !stats && !values) {
            ERR("MissingParameter",
                "At least one of the parameters %s.Value, %s.StatisticValues or %s.Values must "
                "be specified.",
                where, where, where);
        }
    }
    db = sky__store_lock(c->req->server->store);
    if (sky__store_begin(db) != SQLITE_OK)
        STORE_ERR(sqlite3_errmsg(db));
    for (size_t i = 0; i < n; i++) {
        point *p = &pts[i];
        if (sky__metrics_store_point(db, ns, p->name, p->dims, p->ts_ms, p->unit, p->count,
                                     p->sum, p->min, p->max) != SQLITE_OK)
            STORE_ROLLBACK_ERR();
        if (p->values && p->min < p->max &&
            sky__metrics_store_values(db, p->values, p->counts) != SQLITE_OK)
            STORE_ROLLBACK_ERR();
    }
    if (sky__store_commit(db) != SQLITE_OK)
        STORE_ROLLBACK_ERR();
    c->r->status = 200; /* empty result */
out:
    if (db)
        sky__store_unlock(c->req->server->store);
    free(pts);
}

/* ---- ListMetrics -------------------------------------------------------------------------- */

static bool dims_match_filter(json_t *dims, json_t *filter)
{
    size_t i;
    json_t *f;
    json_array_foreach(filter, i, f)
    {
        const char *name = get_str(f, "Name"), *value = get_str(f, "Value");
        bool found = false;
        size_t j;
        json_t *d;
        json_array_foreach(dims, j, d)
        {
            if (name && strcmp(get_str(d, "Name"), name) == 0 &&
                (!value || strcmp(get_str(d, "Value"), value) == 0))
                found = true;
        }
        if (!found)
            return false;
    }
    return true;
}

static void list_metrics(ctx *c, json_t *body, json_t **result)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    const char *ns = get_str(body, "Namespace"), *name = get_str(body, "MetricName");
    const char *token = get_str(body, "NextToken");
    json_t *filter = json_object_get(body, "Dimensions");
    if (filter && !json_is_array(filter))
        INVALID("Dimensions must be a list");
    if (filter && json_array_size(filter) > 10)
        INVALID("The collection Dimensions must not have a size greater than 10.");
    long long off = 0;
    if (token) {
        char *end;
        off = strtoll(token, &end, 10);
        if (*end || off < 0)
            INVALID("Invalid NextToken.");
    }
    db = sky__store_lock(c->req->server->store);
    if (sqlite3_prepare_v2(db,
                           "SELECT namespace, name, dims FROM metrics WHERE (?1 IS NULL OR "
                           "namespace=?1) AND (?2 IS NULL OR name=?2) ORDER BY namespace, name, dims",
                           -1, &st, NULL) != SQLITE_OK)
        STORE_ERR(sqlite3_errmsg(db));
    if (ns)
        sqlite3_bind_text(st, 1, ns, -1, SQLITE_STATIC);
    if (name)
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    json_t *metrics = json_array();
    long long idx = 0;
    bool more = false;
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_t *dims = json_loads((const char *)sqlite3_column_text(st, 2), 0, NULL);
        if (!dims)
            continue;
        if (filter && !dims_match_filter(dims, filter)) {
            json_decref(dims);
            continue;
        }
        if (idx++ < off) {
            json_decref(dims);
            continue;
        }
        if ((long long)json_array_size(metrics) == LIST_PAGE) {
            json_decref(dims);
            more = true;
            break;
        }
        json_array_append_new(metrics, json_pack("{s:s,s:s,s:o}", "Namespace",
                                                 (const char *)sqlite3_column_text(st, 0),
                                                 "MetricName",
                                                 (const char *)sqlite3_column_text(st, 1),
                                                 "Dimensions", dims));
    }
    *result = json_pack("{s:o}", "Metrics", metrics);
    if (more) {
        char tok[32];
        snprintf(tok, sizeof tok, "%lld", off + LIST_PAGE);
        json_object_set_new(*result, "NextToken", json_string(tok));
    }
out:
    sqlite3_finalize(st);
    if (db)
        sky__store_unlock(c->req->server->store);
}

/* ---- statistics --------------------------------------------------------------------------- */

typedef struct vc {
    double v, c; /* a value and how often it occurred */
} vc;

typedef struct bucket {
    int64_t start_s;
    double count, sum, min, max;
    char unit[32];
    /* With want_dist: the values, for percentiles. A row that is an aggregate of different
     * values (StatisticValues with Minimum < Maximum) hides its distribution, and CloudWatch
     * offers no percentiles over negative values: either makes the percentiles unavailable. */
    vc *dist;
    size_t nd, capd;
    bool inexact;
} bucket;

/* Adds `count` samples of `v` to b's distribution; a negative value makes percentiles
 * unavailable (as in CloudWatch). False on OOM. */
static bool bucket_add(bucket *bk, double v, double count)
{
    if (v < 0) {
        bk->inexact = true;
        return true;
    }
    if (bk->nd == bk->capd) {
        size_t nc = bk->capd ? bk->capd * 2 : 8;
        vc *nv = realloc(bk->dist, nc * sizeof *nv);
        if (!nv)
            return false;
        bk->dist = nv;
        bk->capd = nc;
    }
    bk->dist[bk->nd++] = (vc){v, count};
    return true;
}

static void buckets_free(bucket *b, long n)
{
    for (long i = 0; b && i < n; i++)
        free(b[i].dist);
    free(b);
}

/* Aggregates one metric's datapoints in [start, end) into period buckets aligned on start,
 * reading at most *budget rows (decremented; *partial set when it ran out first). With
 * `by_unit`, a period holding datapoints of several units gets one bucket per unit, as
 * GetMetricStatistics answers when no Unit is asked for; otherwise units are merged (the
 * bucket keeps the first one). Returns the number of buckets (sorted by time) or -1 on a store
 * error. */
static long aggregate(sqlite3 *db, const char *ns, const char *name, json_t *dims,
                      double start, double end, int64_t period, const char *unit, bool by_unit,
                      bool want_dist, bucket **out, long *budget, bool *partial)
{
    *out = NULL;
    char *cdims = canonical_dims(dims);
    if (!cdims)
        return -1;
    int64_t mid = metric_id(db, ns, name, cdims, false);
    free(cdims);
    if (mid == -1)
        return 0;
    if (mid < 0)
        return -1;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT ts, unit, count, sum, min, max, id FROM datapoints WHERE "
                           "metric_id=?1 AND ts>=?2 AND ts<?3 AND (?4 IS NULL OR unit=?4) "
                           "ORDER BY ts",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_stmt *vals = NULL; /* a datum's distribution, when percentiles are wanted */
    if (want_dist && sqlite3_prepare_v2(db, "SELECT value, count FROM datapoint_values WHERE "
                                            "dp_id=?", -1, &vals, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return -1;
    }
    int64_t s_ms = (int64_t)llround(start * 1000), e_ms = (int64_t)llround(end * 1000);
    sqlite3_bind_int64(st, 1, mid);
    sqlite3_bind_int64(st, 2, s_ms);
    sqlite3_bind_int64(st, 3, e_ms);
    if (unit)
        sqlite3_bind_text(st, 4, unit, -1, SQLITE_STATIC);
    long n = 0, cap = 0;
    bucket *b = NULL;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (*budget <= 0) {
            *partial = true;
            break;
        }
        (*budget)--;
        int64_t ts = sqlite3_column_int64(st, 0);
        int64_t bs = (int64_t)floor(start) + ((ts - s_ms) / 1000 / period) * period;
        const char *row_unit = (const char *)sqlite3_column_text(st, 1);
        long k = n - 1; /* this period's buckets are the last ones: rows come in time order */
        if (by_unit)
            while (k >= 0 && b[k].start_s == bs && strcmp(b[k].unit, row_unit ? row_unit : "") != 0)
                k--;
        if (k < 0 || b[k].start_s != bs) {
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                bucket *nb = realloc(b, (size_t)cap * sizeof *b);
                if (!nb) {
                    buckets_free(b, n);
                    sqlite3_finalize(st);
                    return -1;
                }
                b = nb;
            }
            b[n] = (bucket){.start_s = bs, .min = INFINITY, .max = -INFINITY};
            snprintf(b[n].unit, sizeof b[n].unit, "%s", row_unit ? row_unit : "None");
            k = n++;
        }
        bucket *bk = &b[k];
        bk->count += sqlite3_column_double(st, 2);
        bk->sum += sqlite3_column_double(st, 3);
        double lo = sqlite3_column_double(st, 4), hi = sqlite3_column_double(st, 5);
        bk->min = fmin(bk->min, lo);
        bk->max = fmax(bk->max, hi);
        if (want_dist && !bk->inexact && lo == hi) {
            if (!bucket_add(bk, lo, sqlite3_column_double(st, 2)))
                goto nomem;
        } else if (want_dist && !bk->inexact) {
            /* Different values in one datum: its Values, if it was sent with them. */
            sqlite3_bind_int64(vals, 1, sqlite3_column_int64(st, 6));
            bool any = false;
            while (sqlite3_step(vals) == SQLITE_ROW && !bk->inexact) {
                if (*budget <= 0) {
                    *partial = true;
                    break;
                }
                (*budget)--;
                any = true;
                if (!bucket_add(bk, sqlite3_column_double(vals, 0),
                                sqlite3_column_double(vals, 1)))
                    goto nomem;
            }
            sqlite3_reset(vals);
            if (!any)
                bk->inexact = true; /* a StatisticValues datum: its distribution is unknown */
        }
    }
    sqlite3_finalize(st);
    sqlite3_finalize(vals);
    *out = b;
    return n;
nomem:
    buckets_free(b, n);
    sqlite3_finalize(st);
    sqlite3_finalize(vals);
    return -1;
}

/* "p99", "p99.9", "p0" .. "p100" (at most 10 decimals), as CloudWatch's percentile
 * ExtendedStatistics: the percentile, or -1 for anything else. */
double sky__metrics_percentile_of(const char *s)
{
    if (!s || s[0] != 'p' || !(s[1] >= '0' && s[1] <= '9'))
        return -1;
    char *end;
    double v = strtod(s + 1, &end);
    const char *dot = strchr(s, '.');
    if (*end || v < 0 || v > 100 || (dot && (strlen(dot + 1) < 1 || strlen(dot + 1) > 10)))
        return -1;
    return v;
}

static int vc_cmp(const void *a, const void *b)
{
    double x = ((const vc *)a)->v, y = ((const vc *)b)->v;
    return x < y ? -1 : x > y;
}

/* The nearest-rank percentile of a bucket's values (the smallest value with at least pct% of
 * the samples at or below it); false when it is unavailable (see bucket). Sorts b->dist. */
static bool bucket_percentile(bucket *b, double pct, double *out)
{
    if (b->inexact || b->nd == 0)
        return false;
    qsort(b->dist, b->nd, sizeof *b->dist, vc_cmp);
    double total = 0, seen = 0;
    for (size_t i = 0; i < b->nd; i++)
        total += b->dist[i].c;
    double rank = ceil(pct / 100.0 * total);
    if (rank < 1)
        rank = 1;
    for (size_t i = 0; i < b->nd; i++) {
        seen += b->dist[i].c;
        if (seen >= rank) {
            *out = b->dist[i].v;
            return true;
        }
    }
    *out = b->dist[b->nd - 1].v;
    return true;
}

/* A statistic of a bucket: a basic one (stat >= 0) or the percentile pct; false when not
 * available. */
static bool bucket_stat(bucket *b, int stat, double pct, double *out);

static double stat_value(const bucket *b, int stat)
{
    switch (stat) {
    case 0: return b->count;
    case 1: return b->count > 0 ? b->sum / b->count : 0;
    case 2: return b->sum;
    case 3: return b->min;
    default: return b->max;
    }
}

static bool bucket_stat(bucket *b, int stat, double pct, double *out)
{
    if (stat >= 0) {
        *out = stat_value(b, stat);
        return true;
    }
    return bucket_percentile(b, pct, out);
}

int sky__metrics_series(sqlite3 *db, const char *ns, const char *name, json_t *dims,
                        const char *unit, const char *stat, int64_t start_s, int64_t period,
                        int n, double *values, bool *present)
{
    int si = stat_index(stat);
    double pct = si < 0 ? sky__metrics_percentile_of(stat) : 0;
    for (int i = 0; i < n; i++)
        present[i] = false;
    if (si < 0 && pct < 0)
        return SQLITE_MISUSE;
    bucket *b = NULL;
    long budget = MAX_SCAN_POINTS;
    bool partial = false;
    long nb = aggregate(db, ns, name, dims, (double)start_s, (double)(start_s + n * period),
                        period, unit, false, si < 0, &b, &budget, &partial);
    if (nb < 0)
        return SQLITE_ERROR;
    for (long k = 0; k < nb; k++) {
        int64_t idx = (b[k].start_s - start_s) / period;
        if (idx >= 0 && idx < n)
            present[idx] = bucket_stat(&b[k], si, pct, &values[idx]);
    }
    buckets_free(b, nb);
    return SQLITE_OK;
}

static bool read_range(ctx *c, json_t *body, double *start, double *end)
{
    json_t *s = json_object_get(body, "StartTime"), *e = json_object_get(body, "EndTime");
    if (!s || !e) {
        sky__reply_error(c->r, c->api, 400, "MissingParameter", "The parameter %s is required.",
                         s ? "EndTime" : "StartTime");
        return false;
    }
    if (!get_time(s, start) || !get_time(e, end)) {
        sky__reply_error(c->r, c->api, 400, "InvalidParameterValue",
                         "StartTime and EndTime must be timestamps.");
        return false;
    }
    if (*end <= *start) {
        sky__reply_error(c->r, c->api, 400, "InvalidParameterValue",
                         "The parameter StartTime must be less than the parameter EndTime.");
        return false;
    }
    return true;
}

static void get_metric_statistics(ctx *c, json_t *body, json_t **result)
{
    sqlite3 *db = NULL;
    bucket *b = NULL;
    long n_buckets = 0;
    const char *ns = get_str(body, "Namespace"), *name = get_str(body, "MetricName");
    if (!ns)
        MISSING("Namespace");
    if (!name)
        MISSING("MetricName");
    double start, end, period_d;
    if (!read_range(c, body, &start, &end))
        goto out;
    json_t *pj = json_object_get(body, "Period");
    if (!pj)
        MISSING("Period");
    if (!get_num(pj, &period_d) || period_d < 1 || period_d > MAX_PERIOD_S ||
        period_d != floor(period_d))
        INVALID("The parameter Period must be a positive integer number of seconds.");
    int64_t period = (int64_t)period_d;
    json_t *stats = json_object_get(body, "Statistics");
    json_t *ext = json_object_get(body, "ExtendedStatistics");
    size_t nstats = json_is_array(stats) ? json_array_size(stats) : 0;
    size_t next = json_is_array(ext) ? json_array_size(ext) : 0;
    if (nstats == 0 && next == 0)
        ERR("MissingParameter", "The parameter Statistics or ExtendedStatistics is required.");
    if (nstats > 5)
        INVALID("The collection Statistics must not have a size greater than 5.");
    if (next > 10)
        INVALID("The collection ExtendedStatistics must not have a size greater than 10.");
    int want[5];
    double pcts[10];
    for (size_t i = 0; i < next; i++) {
        const char *s = json_string_value(json_array_get(ext, i));
        if ((pcts[i] = sky__metrics_percentile_of(s)) < 0)
            INVALID("The value %s for parameter ExtendedStatistics.member.%zu is invalid "
                    "(skylog serve supports percentiles, p0 to p100).",
                    s ? s : "?", i + 1);
    }
    for (size_t i = 0; i < nstats; i++) {
        const char *s = json_string_value(json_array_get(stats, i));
        want[i] = s ? stat_index(s) : -1;
        if (want[i] < 0)
            INVALID("The value %s for parameter Statistics.member.%zu is invalid.", s ? s : "?",
                    i + 1);
    }
    const char *unit = get_str(body, "Unit");
    if (unit && !sky__metrics_valid_unit(unit))
        INVALID("The value %s for parameter Unit is invalid.", unit);
    json_t *dims = json_object_get(body, "Dimensions");
    if (!check_dims(c, dims, "Dimensions"))
        goto out;
    double npoints = ceil((end - start) / (double)period);
    if (npoints > MAX_DATAPOINTS)
        ERR("InvalidParameterCombination",
            "You have requested up to %.0f datapoints, which exceeds the limit of %d. You may "
            "reduce the datapoints requested by increasing Period, or decreasing the time range.",
            npoints, MAX_DATAPOINTS);
    db = sky__store_lock(c->req->server->store);
    long budget = MAX_SCAN_POINTS;
    bool partial = false;
    long n = aggregate(db, ns, name, dims, start, end, period, unit, true, next > 0, &b, &budget,
                       &partial);
    if (n < 0)
        STORE_ERR(sqlite3_errmsg(db));
    n_buckets = n;
    if (partial)
        ERR("InvalidParameterCombination",
            "The time range holds more than %d stored datapoints; skylog serve reads at most "
            "that many per request. Narrow the time range.",
            MAX_SCAN_POINTS);
    json_t *points = json_array();
    for (long i = 0; i < n; i++) {
        json_t *p = json_pack("{s:I,s:s}", "Timestamp", (json_int_t)b[i].start_s, "Unit",
                              b[i].unit);
        for (size_t j = 0; j < nstats; j++)
            json_object_set_new(p, stat_names[want[j]], json_real(stat_value(&b[i], want[j])));
        if (next) {
            json_t *es = json_object();
            for (size_t j = 0; j < next; j++) {
                double v;
                if (bucket_percentile(&b[i], pcts[j], &v))
                    json_object_set_new(es, json_string_value(json_array_get(ext, j)),
                                        json_real(v));
            }
            json_object_set_new(p, "ExtendedStatistics", es);
        }
        json_array_append_new(points, p);
    }
    *result = json_pack("{s:s,s:o}", "Label", name, "Datapoints", points);
out:
    if (db)
        sky__store_unlock(c->req->server->store);
    buckets_free(b, b ? n_buckets : 0);
}

/* The label of query i: its Label, else the metric's name, with the statistic appended
 * ("Latency Average") when another query without a Label names the same metric, so the results
 * of one call can be told apart, as CloudWatch labels them. */
static void default_label(json_t *queries, size_t i, char *out, size_t cap)
{
    json_t *q = json_array_get(queries, i);
    json_t *ms = json_object_get(q, "MetricStat");
    const char *label = get_str(q, "Label");
    const char *name = get_str(json_object_get(ms, "Metric"), "MetricName");
    if (label) {
        snprintf(out, cap, "%s", label);
        return;
    }
    size_t j;
    json_t *o;
    json_array_foreach(queries, j, o)
    {
        const char *other = get_str(json_object_get(json_object_get(o, "MetricStat"), "Metric"),
                                    "MetricName");
        if (j != i && !get_str(o, "Label") && other && strcmp(other, name) == 0) {
            snprintf(out, cap, "%s %s", name, get_str(ms, "Stat"));
            return;
        }
    }
    snprintf(out, cap, "%s", name);
}

static void get_metric_data(ctx *c, json_t *body, json_t **result)
{
    sqlite3 *db = NULL;
    json_t *results = NULL;
    double start, end;
    json_t *queries = json_object_get(body, "MetricDataQueries");
    if (!queries || !json_is_array(queries) || json_array_size(queries) == 0)
        MISSING("MetricDataQueries");
    if (json_array_size(queries) > 500)
        INVALID("The collection MetricDataQueries must not have a size greater than 500.");
    if (!read_range(c, body, &start, &end))
        goto out;
    const char *scan = get_str(body, "ScanBy");
    bool descending = !scan || strcmp(scan, "TimestampAscending") != 0;
    if (scan && strcmp(scan, "TimestampAscending") != 0 && strcmp(scan, "TimestampDescending") != 0)
        INVALID("The value %s for parameter ScanBy is invalid.", scan);
    /* Validate every query before reading anything. */
    size_t i;
    json_t *q;
    json_array_foreach(queries, i, q)
    {
        const char *id = get_str(q, "Id");
        json_t *ms = json_object_get(q, "MetricStat");
        if (!id)
            ERR("MissingParameter", "The parameter MetricDataQueries.member.%zu.Id is required.",
                i + 1);
        if (json_object_get(q, "Expression"))
            INVALID("MetricDataQueries.member.%zu: metric math expressions are not supported by "
                    "skylog serve.",
                    i + 1);
        if (!ms)
            ERR("MissingParameter",
                "The parameter MetricDataQueries.member.%zu.MetricStat is required.", i + 1);
        json_t *m = json_object_get(ms, "Metric");
        const char *stat = get_str(ms, "Stat");
        double period;
        if (!m || !get_str(m, "Namespace") || !get_str(m, "MetricName"))
            ERR("MissingParameter",
                "The parameter MetricDataQueries.member.%zu.MetricStat.Metric is required.",
                i + 1);
        if (!stat || (stat_index(stat) < 0 && sky__metrics_percentile_of(stat) < 0))
            INVALID("The value %s for parameter MetricDataQueries.member.%zu.MetricStat.Stat is "
                    "invalid (skylog serve supports SampleCount, Average, Sum, Minimum, "
                    "Maximum and percentiles pNN).",
                    stat ? stat : "null", i + 1);
        if (!get_num(json_object_get(ms, "Period"), &period) || period < 1 ||
            period > MAX_PERIOD_S)
            INVALID("The parameter MetricDataQueries.member.%zu.MetricStat.Period must be a "
                    "positive number of seconds.",
                    i + 1);
        if (!check_dims(c, json_object_get(m, "Dimensions"), "MetricStat.Metric.Dimensions"))
            goto out;
    }
    db = sky__store_lock(c->req->server->store);
    results = json_array();
    long budget = MAX_SCAN_POINTS; /* shared by all queries of the call */
    json_array_foreach(queries, i, q)
    {
        json_t *rd = json_object_get(q, "ReturnData");
        if (rd && (json_is_false(rd) || (json_is_string(rd) && strcmp(json_string_value(rd), "false") == 0)))
            continue;
        json_t *ms = json_object_get(q, "MetricStat"), *m = json_object_get(ms, "Metric");
        double period = 0;
        if (!get_num(json_object_get(ms, "Period"), &period) || period < 1)
            continue; /* validated above; keeps the compiler (and a future edit) honest */
        int stat = stat_index(get_str(ms, "Stat"));
        double pct = stat < 0 ? sky__metrics_percentile_of(get_str(ms, "Stat")) : 0;
        bucket *b = NULL;
        bool partial = false;
        long n = aggregate(db, get_str(m, "Namespace"), get_str(m, "MetricName"),
                           json_object_get(m, "Dimensions"), start, end, (int64_t)period,
                           get_str(ms, "Unit"), false, stat < 0, &b, &budget, &partial);
        if (n < 0)
            STORE_ERR(sqlite3_errmsg(db));
        json_t *ts = json_array(), *vals = json_array();
        for (long k = 0; k < n; k++) {
            long j = descending ? n - 1 - k : k;
            double v;
            if (!bucket_stat(&b[j], stat, pct, &v))
                continue; /* a percentile that is not available: no datapoint */
            json_array_append_new(ts, json_integer(b[j].start_s));
            json_array_append_new(vals, json_real(v));
        }
        buckets_free(b, n);
        char label[600];
        default_label(queries, i, label, sizeof label);
        json_array_append_new(results,
                              json_pack("{s:s,s:s,s:o,s:o,s:s}", "Id", get_str(q, "Id"), "Label",
                                        label, "Timestamps",
                                        ts, "Values", vals, "StatusCode",
                                        partial ? "PartialData" : "Complete"));
    }
    *result = json_pack("{s:o,s:[]}", "MetricDataResults", results, "Messages");
    results = NULL;
out:
    if (db)
        sky__store_unlock(c->req->server->store);
    json_decref(results);
}

/* ---- dispatch ----------------------------------------------------------------------------- */

typedef enum { OP_PUT, OP_LIST, OP_STATS, OP_DATA } op_id;

static const struct {
    const char *name;
    op_id id;
} ops[] = {
    {"PutMetricData", OP_PUT},
    {"ListMetrics", OP_LIST},
    {"GetMetricStatistics", OP_STATS},
    {"GetMetricData", OP_DATA},
};

void sky__metrics_handle(const sky__request *req, sky__api api, const char *op, sky__reply *r)
{
    char err[256];
    json_t *body = NULL;
    if (api == SKY__API_METRICS_QUERY) {
        const char *code = "MalformedQueryString";
        body = sky__query_parse(req->body, req->body_len, &code, err, sizeof err);
        if (!body) {
            sky__reply_error(r, api, strcmp(code, "InternalFailure") == 0 ? 500 : 400,
                             strcmp(code, "InternalFailure") == 0 ? "InternalServiceError" : code,
                             "%s", err);
            return;
        }
        op = get_str(body, "Action");
        if (!op) {
            sky__reply_error(r, api, 400, "MissingAction", "Missing Action parameter");
            json_decref(body);
            return;
        }
    } else {
        body = sky__parse_json_body(req, r, api);
        if (!body)
            return;
    }
    int found = -1;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(ops[i].name, op) == 0)
            found = (int)i;
    const char *alarm_op = found < 0 ? sky__alarms_known(op) : NULL; /* alarms.c's */
    if (found < 0 && !alarm_op) {
        if (api == SKY__API_METRICS_QUERY)
            sky__reply_error(r, api, 400, "InvalidAction",
                             "The action %s is not valid for this web service.", op);
        else
            sky__reply_error(r, api, 400, "UnknownOperationException",
                             "Operation %s is not supported by skylog serve", op);
        json_decref(body);
        return;
    }
    ctx c = {.req = req, .api = api, .r = r, .action = alarm_op ? alarm_op : ops[found].name};
    json_t *result = NULL;
    if (alarm_op)
        sky__alarms_handle(req, api, op, body, r, &result);
    else switch (ops[found].id) {
    case OP_PUT: put_metric_data(&c, body); break;
    case OP_LIST: list_metrics(&c, body, &result); break;
    case OP_STATS: get_metric_statistics(&c, body, &result); break;
    case OP_DATA: get_metric_data(&c, body, &result); break;
    }
    json_decref(body);
    if (r->body || (r->status && r->status != 200)) { /* an error was filled in */
        json_decref(result);
        return;
    }
    if (api == SKY__API_METRICS_QUERY) {
        size_t len;
        char *xml = sky__query_to_xml(c.action, result, req->id, &len);
        json_decref(result);
        if (xml)
            sky__reply_raw(r, 200, SKY__CT_XML, xml, len);
        else
            sky__reply_error(r, api, 500, "InternalServiceError", "out of memory");
        free(xml);
    } else {
        sky__reply_json(r, 200, SKY__CT_JSON10, result ? result : json_object());
    }
}

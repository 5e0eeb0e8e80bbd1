/*
 * alarms.c - CloudWatch metric and composite alarms in the local endpoint (see alarms.h).
 *
 * Storage: one row per alarm (store.c's `alarms`): the configuration as the JSON its Put gave,
 * normalised (numbers as numbers, lists as lists, whichever wire form it came in), so Describe
 * answers exactly what was put; the state in its own columns, since only evaluation and
 * SetAlarmState change it. History items (`alarm_history`) are written in the same
 * transaction as the change they record.
 *
 * Evaluation, as of a time `now` (the timer's clock, or the test hook's `at`), follows
 * CloudWatch's documented procedure: a metric alarm reads its evaluation range, the
 * EvaluationPeriods + EXTRA_RANGE most recent *complete* periods (aligned on multiples of
 * Period since the epoch; the period in progress is not evaluated), computing the statistic of
 * each from stored datapoints (metrics_api.c's sky__metrics_series). It evaluates the N =
 * EvaluationPeriods most recent datapoints that exist there (M = DatapointsToAlarm breaching:
 * ALARM, else OK); when fewer than N exist, TreatMissingData fills the rest (see
 * evaluate_metric and docs/SERVE.md), and when none exist it decides alone. A percentile alarm
 * with EvaluateLowSampleCountPercentile=ignore keeps its state while a datapoint it would
 * evaluate has too few samples. A composite alarm is ALARM when its rule is true, else OK;
 * composites are evaluated after the metric alarms, repeatedly until none changes, so a
 * composite of composites settles in one evaluation. An alarm a composite names cannot be
 * deleted, and PutCompositeAlarm checks and stores under one hold of the store lock, so a
 * rule never names an alarm that is gone.
 *
 * Actions: there is no SNS here. A transition whose state has actions, with actions enabled,
 * records one "Action" history item per ARN, saying that nothing was sent.
 */
#include "alarms.h"

#include "alarm_rule.h"
#include "metrics_api.h"
#include "server.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_ALARMS 5000   /* a bound on one evaluation's work; CloudWatch has no count quota */
#define MAX_ACTIONS 5
#define MAX_NAMES 100
#define MAX_EVAL_RANGE_S (7 * 86400) /* Period x EvaluationPeriods */
#define DESCRIBE_MAX 100
#define DESCRIBE_DEFAULT 50
#define HISTORY_MAX 100

typedef struct actx {
    const sky__request *req;
    sky__api api;
    sky__reply *r;
} actx;

#define ERR(code, ...)                                                                   \
    do {                                                                                 \
        sky__reply_error(c->r, c->api, 400, code, __VA_ARGS__);                          \
        goto out;                                                                        \
    } while (0)
#define INVALID(...) ERR("InvalidParameterValue", __VA_ARGS__)
/* The store failed inside a transaction: rolled back, 500 with the failure's own message. */
#define ROLLBACK_ERR()                                                                   \
    do {                                                                                 \
        char why_[256];                                                                  \
        sky__store_rollback(db, why_, sizeof why_);                                      \
        sky__reply_error(c->r, c->api, 500, "InternalServiceError", "store error: %s", why_); \
        goto out;                                                                        \
    } while (0)
/* ResourceNotFound is a 404 in CloudWatch's model (botocore: httpStatusCode 404). */
#define NOT_FOUND(...)                                                                   \
    do {                                                                                 \
        sky__reply_error(c->r, c->api, 404, "ResourceNotFound", __VA_ARGS__);            \
        goto out;                                                                        \
    } while (0)
#define MISSING(name) ERR("MissingParameter", "The parameter %s is required.", name)
#define STORE_ERR()                                                                      \
    do {                                                                                 \
        sky__reply_error(c->r, c->api, 500, "InternalServiceError", "store error: %s",   \
                         sqlite3_errmsg(db));                                            \
        goto out;                                                                        \
    } while (0)

static const char *const comparisons[] = {"GreaterThanOrEqualToThreshold",
                                          "GreaterThanThreshold", "LessThanThreshold",
                                          "LessThanOrEqualToThreshold"};
static const char *const comparison_words[] = {"greater than or equal to", "greater than",
                                               "less than", "less than or equal to"};
static const char *const missing_modes[] = {"missing", "ignore", "breaching", "notBreaching"};

static int index_of(const char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(list[i], s) == 0)
            return (int)i;
    return -1;
}

static const char *get_str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* A whole number (JSON number or numeric text, as the query form sends) in [lo, hi]. 0 absent,
 * 1 ok, -1 invalid. */
static int get_int(json_t *o, const char *key, long lo, long hi, long *out)
{
    json_t *v = json_object_get(o, key);
    double d;
    if (!v || json_is_null(v))
        return 0;
    if (!sky__metrics_num(v, &d) || d != floor(d) || d < (double)lo || d > (double)hi)
        return -1;
    *out = (long)d;
    return 1;
}

/* true/false as JSON or as the query form's text. 0 absent, 1 ok, -1 invalid. */
static int get_bool(json_t *o, const char *key, bool *out)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 1;
    }
    const char *s = json_string_value(v);
    if (s && (strcmp(s, "true") == 0 || strcmp(s, "false") == 0)) {
        *out = s[0] == 't';
        return 1;
    }
    return -1;
}

/* A list of strings of 1..maxlen characters, at most maxn: a new array (empty when absent),
 * or NULL with the error replied. */
static json_t *get_names(actx *c, json_t *o, const char *key, size_t maxn, size_t maxlen)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return json_array();
    if (!json_is_array(v)) {
        sky__reply_error(c->r, c->api, 400, "InvalidParameterValue", "%s must be a list.", key);
        return NULL;
    }
    if (json_array_size(v) > maxn) {
        sky__reply_error(c->r, c->api, 400, "InvalidParameterValue",
                         "The collection %s must not have a size greater than %zu.", key, maxn);
        return NULL;
    }
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x)
    {
        const char *s = json_string_value(x);
        if (!s || strlen(s) < 1 || strlen(s) > maxlen) {
            sky__reply_error(c->r, c->api, 400, "InvalidParameterValue",
                             "The value for parameter %s.member.%zu must be a string of 1 to %zu "
                             "characters.",
                             key, i + 1, maxlen);
            return NULL;
        }
    }
    return json_deep_copy(v);
}

static void iso_ms(int64_t ms, char *out, size_t cap)
{
    int msr = (int)(((ms % 1000) + 1000) % 1000); /* floor, also before 1970 */
    time_t t = (time_t)((ms - msr) / 1000);
    struct tm tm;
    char base[32] = "";
    if (gmtime_r(&t, &tm))
        strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    /* %.24s: the year has at most 11 digits, and GCC then knows the text fits */
    snprintf(out, cap, "%.24s.%03d+0000", base, msr);
}

static char *alarm_arn(const sky__server *srv, const char *name)
{
    char *s = NULL;
    if (asprintf(&s, "arn:aws:cloudwatch:%s:%s:alarm:%s", srv->opts->region,
                 srv->opts->account_id, name) < 0)
        return NULL;
    return s;
}

static int exec_text(sqlite3 *db, const char *sql, const char *a, const char *b)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    if (a)
        sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
    if (b)
        sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* One history item; `data` is rendered as JSON text (and released). */
static int history_add(sqlite3 *db, const char *name, const char *type, int64_t ts,
                       const char *item_type, const char *summary, json_t *data)
{
    char *text = json_dumps(data, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(data);
    if (!text)
        return SQLITE_NOMEM;
    char sum[256];
    snprintf(sum, sizeof sum, "%s", summary); /* HistorySummary: at most 255 characters */
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db,
                                "INSERT INTO alarm_history(name, type, ts, item_type, summary, "
                                "data) VALUES(?,?,?,?,?,?)",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, ts);
        sqlite3_bind_text(st, 4, item_type, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, sum, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, text, -1, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
        sqlite3_finalize(st);
    }
    free(text);
    return rc;
}

/* ---- reading alarms ----------------------------------------------------------------------- */

typedef struct alarm {
    char *name;
    bool composite;
    json_t *config;
    int state;
    char *reason, *reason_data;
    int64_t state_updated, state_transitioned, config_updated;
    bool actions_enabled;
    /* evaluation */
    sky__rule *rule;
    bool changed;
} alarm;

static void alarm_clear(alarm *a)
{
    free(a->name);
    json_decref(a->config);
    free(a->reason);
    free(a->reason_data);
    sky__rule_free(a->rule);
    memset(a, 0, sizeof *a);
}

#define ALARM_COLUMNS                                                                    \
    "name, type, config, state, reason, reason_data, state_updated, state_transitioned, "   \
    "config_updated, actions_enabled"

static bool alarm_from_row(sqlite3_stmt *st, alarm *a)
{
    memset(a, 0, sizeof *a);
    const char *rd = (const char *)sqlite3_column_text(st, 5);
    a->name = strdup((const char *)sqlite3_column_text(st, 0));
    a->composite = strcmp((const char *)sqlite3_column_text(st, 1), "CompositeAlarm") == 0;
    a->config = json_loads((const char *)sqlite3_column_text(st, 2), 0, NULL);
    a->state = sky__alarm_state_parse((const char *)sqlite3_column_text(st, 3));
    a->reason = strdup((const char *)sqlite3_column_text(st, 4));
    a->reason_data = rd ? strdup(rd) : NULL;
    a->state_updated = sqlite3_column_int64(st, 6);
    a->state_transitioned = sqlite3_column_int64(st, 7);
    a->config_updated = sqlite3_column_int64(st, 8);
    a->actions_enabled = sqlite3_column_int(st, 9) != 0;
    if (a->state < 0)
        a->state = SKY__STATE_INSUFFICIENT_DATA;
    bool ok = a->name && a->config && a->reason && (!rd || a->reason_data);
    if (!ok)
        alarm_clear(a);
    return ok;
}

/* Every alarm, by name. -1 on a store error. */
static long load_alarms(sqlite3 *db, alarm **out)
{
    sqlite3_stmt *st;
    *out = NULL;
    if (sqlite3_prepare_v2(db, "SELECT " ALARM_COLUMNS " FROM alarms ORDER BY name", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    long n = 0, cap = 0;
    alarm *v = NULL;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            alarm *nv = realloc(v, (size_t)cap * sizeof *nv);
            if (!nv)
                break;
            v = nv;
        }
        if (alarm_from_row(st, &v[n]))
            n++;
    }
    sqlite3_finalize(st);
    *out = v;
    return rc == SQLITE_DONE ? n : (v ? n : -1);
}

static void free_alarms(alarm *v, long n)
{
    for (long i = 0; v && i < n; i++)
        alarm_clear(&v[i]);
    free(v);
}

static long find_alarm(alarm *v, long n, const char *name)
{
    long lo = 0, hi = n - 1; /* loaded ORDER BY name: binary search (SQLite's BINARY order) */
    while (lo <= hi) {
        long mid = lo + (hi - lo) / 2;
        int cmp = strcmp(v[mid].name, name);
        if (cmp == 0)
            return mid;
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

/* The alarm as DescribeAlarms shows it. */
static json_t *alarm_json(const sky__server *srv, const alarm *a)
{
    json_t *o = json_deep_copy(a->config);
    if (!o)
        return NULL;
    json_object_del(o, "Tags");
    char *arn = alarm_arn(srv, a->name);
    json_object_set_new(o, "AlarmArn", arn ? json_string(arn) : json_null());
    free(arn);
    json_object_set_new(o, "ActionsEnabled", json_boolean(a->actions_enabled));
    json_object_set_new(o, "StateValue", json_string(sky__alarm_state_name(a->state)));
    json_object_set_new(o, "StateReason", json_string(a->reason));
    if (a->reason_data)
        json_object_set_new(o, "StateReasonData", json_string(a->reason_data));
    json_object_set_new(o, "StateUpdatedTimestamp", json_real((double)a->state_updated / 1000));
    json_object_set_new(o, "StateTransitionedTimestamp",
                        json_real((double)a->state_transitioned / 1000));
    json_object_set_new(o, "AlarmConfigurationUpdatedTimestamp",
                        json_real((double)a->config_updated / 1000));
    return o;
}

/* ---- writing alarms ----------------------------------------------------------------------- */

/* The members every alarm has: name, description, actions (each an ARN). Copied into cfg;
 * false with the error replied. */
static bool common_members(actx *c, json_t *body, json_t *cfg, const char **name,
                           bool *actions_enabled)
{
    *name = get_str(body, "AlarmName");
    if (!*name) {
        sky__reply_error(c->r, c->api, 400, "MissingParameter",
                         "The parameter AlarmName is required.");
        return false;
    }
    if (strlen(*name) < 1 || strlen(*name) > 255) {
        sky__reply_error(c->r, c->api, 400, "InvalidParameterValue",
                         "The parameter AlarmName must have 1 to 255 characters.");
        return false;
    }
    json_object_set_new(cfg, "AlarmName", json_string(*name));
    const char *desc = get_str(body, "AlarmDescription");
    if (desc && strlen(desc) > 1024) {
        sky__reply_error(c->r, c->api, 400, "InvalidParameterValue",
                         "The parameter AlarmDescription must have at most 1024 characters.");
        return false;
    }
    if (desc)
        json_object_set_new(cfg, "AlarmDescription", json_string(desc));
    *actions_enabled = true;
    if (get_bool(body, "ActionsEnabled", actions_enabled) < 0) {
        sky__reply_error(c->r, c->api, 400, "InvalidParameterValue",
                         "The parameter ActionsEnabled must be true or false.");
        return false;
    }
    static const char *const lists[] = {"OKActions", "AlarmActions", "InsufficientDataActions"};
    for (size_t i = 0; i < 3; i++) {
        json_t *l = get_names(c, body, lists[i], MAX_ACTIONS, 1024);
        if (!l)
            return false;
        size_t k;
        json_t *x;
        json_array_foreach(l, k, x) if (strncmp(json_string_value(x), "arn:", 4) != 0)
        {
            sky__reply_error(c->r, c->api, 400, "InvalidParameterValue",
                             "Invalid arn syntax: %s", json_string_value(x));
            json_decref(l);
            return false;
        }
        json_object_set_new(cfg, lists[i], l);
    }
    json_t *tags = json_object_get(body, "Tags");
    if (tags && json_is_array(tags) && json_array_size(tags) > 50) {
        sky__reply_error(c->r, c->api, 400, "InvalidParameterValue",
                         "The collection Tags must not have a size greater than 50.");
        return false;
    }
    if (json_is_array(tags) && json_array_size(tags))
        json_object_set(cfg, "Tags", tags);
    return true;
}

/* Inserts or replaces alarm `name`: a new one starts INSUFFICIENT_DATA, an updated one keeps
 * its state; a ConfigurationUpdate history item says which. */
/* Creates or replaces alarm `name`, with the store lock held by the caller (so a caller can
 * check what the alarm depends on and store it without another request in between). */
static void store_alarm_locked(actx *c, sqlite3 *db, const char *name, const char *type,
                               json_t *cfg, bool actions_enabled)
{
    char *text = NULL;
    int64_t now = sky__now_ms();
    sqlite3_stmt *st = NULL;
    if (sky__store_begin(db) != SQLITE_OK)
        STORE_ERR();
    int exists = 0, count = 0;
    if (sqlite3_prepare_v2(db, "SELECT COUNT(*), SUM(name = ?1), MAX(CASE WHEN name = ?1 THEN "
                               "type END) FROM alarms", -1, &st, NULL) != SQLITE_OK)
        goto rollback;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    const char *old_type = NULL;
    char old_type_buf[32] = "";
    if (sqlite3_step(st) == SQLITE_ROW) {
        count = sqlite3_column_int(st, 0);
        exists = sqlite3_column_int(st, 1);
        if (sqlite3_column_text(st, 2))
            snprintf(old_type_buf, sizeof old_type_buf, "%s", sqlite3_column_text(st, 2));
        old_type = old_type_buf;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (exists && strcmp(old_type, type) != 0) {
        sky__store_rollback(db, (char[8]){0}, 8);
        ERR("InvalidParameterCombination",
            "An alarm named %s already exists and is a %s; delete it first.", name, old_type);
    }
    if (!exists && count >= MAX_ALARMS) {
        sky__store_rollback(db, (char[8]){0}, 8);
        ERR("LimitExceeded", "The maximum number of alarms (%d) has been reached.", MAX_ALARMS);
    }
    text = json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    if (!text)
        goto rollback;
    if (exists) {
        if (sqlite3_prepare_v2(db, "UPDATE alarms SET config=?2, config_updated=?3, "
                                   "actions_enabled=?4 WHERE name=?1", -1, &st, NULL) != SQLITE_OK)
            goto rollback;
    } else if (sqlite3_prepare_v2(db, "INSERT INTO alarms(name, config, config_updated, "
                                      "actions_enabled, type, state, reason, state_updated, "
                                      "state_transitioned) VALUES(?1,?2,?3,?4,?5,"
                                      "'INSUFFICIENT_DATA','Unchecked: Initial alarm creation',"
                                      "?3,?3)", -1, &st, NULL) != SQLITE_OK) {
        goto rollback;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_int(st, 4, actions_enabled);
    if (!exists)
        sqlite3_bind_text(st, 5, type, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        goto rollback;
    sqlite3_finalize(st);
    st = NULL;
    char summary[300];
    snprintf(summary, sizeof summary, "Alarm \"%s\" %s", name, exists ? "updated" : "created");
    json_t *data = json_pack("{s:s,s:s,s:O}", "version", "1.0", "type",
                             exists ? "Update" : "Create",
                             exists ? "updatedAlarm" : "createdAlarm", cfg);
    if (history_add(db, name, type, now, "ConfigurationUpdate", summary, data) != SQLITE_OK ||
        sky__store_commit(db) != SQLITE_OK)
        goto rollback;
    c->r->status = 200;
    goto out;
rollback : {
    char why[256];
    sqlite3_finalize(st);
    st = NULL;
    sky__store_rollback(db, why, sizeof why);
    sky__reply_error(c->r, c->api, 500, "InternalServiceError", "store error: %s", why);
}
out:
    sqlite3_finalize(st);
    free(text);
}

static void store_alarm(actx *c, const char *name, const char *type, json_t *cfg,
                        bool actions_enabled)
{
    sqlite3 *db = sky__store_lock(c->req->server->store);
    store_alarm_locked(c, db, name, type, cfg, actions_enabled);
    sky__store_unlock(c->req->server->store);
}

static bool valid_dims(actx *c, json_t *dims)
{
    if (!dims || json_is_null(dims))
        return true;
    if (!json_is_array(dims) || json_array_size(dims) > 30) {
        sky__reply_error(c->r, c->api, 400, "InvalidParameterValue",
                         "Dimensions must be a list of at most 30 Name/Value pairs.");
        return false;
    }
    size_t i;
    json_t *d;
    json_array_foreach(dims, i, d)
    {
        const char *n = get_str(d, "Name"), *v = get_str(d, "Value");
        if (!n || !v || strlen(n) < 1 || strlen(n) > 255 || strlen(v) < 1 || strlen(v) > 1024) {
            sky__reply_error(c->r, c->api, 400, "InvalidParameterValue",
                             "The parameter Dimensions.member.%zu must have a Name of 1 to 255 "
                             "and a Value of 1 to 1024 characters.",
                             i + 1);
            return false;
        }
    }
    return true;
}

static void put_metric_alarm(actx *c, json_t *body)
{
    json_t *cfg = json_object();
    const char *name;
    bool actions_enabled;
    if (!common_members(c, body, cfg, &name, &actions_enabled))
        goto out;
    if (json_object_get(body, "Metrics") || get_str(body, "ThresholdMetricId") ||
        json_object_get(body, "EvaluationCriteria"))
        INVALID("Alarms on metric math, anomaly detection and PromQL are not supported by "
                "skylog serve: give MetricName, Namespace, Statistic (or ExtendedStatistic), "
                "Period and Threshold.");
    const char *ns = get_str(body, "Namespace"), *metric = get_str(body, "MetricName");
    const char *stat = get_str(body, "Statistic"), *ext = get_str(body, "ExtendedStatistic");
    if (!metric)
        MISSING("MetricName");
    if (!ns)
        MISSING("Namespace");
    if (strlen(metric) < 1 || strlen(metric) > 255)
        INVALID("The parameter MetricName must have 1 to 255 characters.");
    if (strlen(ns) < 1 || strlen(ns) > 255 || ns[0] == ':')
        INVALID("The value %s for parameter Namespace is invalid.", ns);
    if ((stat != NULL) == (ext != NULL))
        ERR("InvalidParameterCombination",
            "Exactly one element of the Statistic and ExtendedStatistic parameters must be "
            "specified.");
    if (stat && sky__metrics_stat_index(stat) < 0)
        INVALID("The value %s for parameter Statistic is invalid.", stat);
    if (ext && sky__metrics_percentile_of(ext) < 0)
        INVALID("The value %s for parameter ExtendedStatistic is invalid (skylog serve supports "
                "percentiles, p0 to p100).",
                ext);
    long period, evals, dta = 0;
    int rc = get_int(body, "Period", 1, 86400 * 7, &period);
    if (rc == 0)
        MISSING("Period");
    if (rc < 0 || (period != 10 && period != 20 && period != 30 && period % 60 != 0))
        INVALID("The parameter Period must be 10, 20, 30 or a multiple of 60.");
    rc = get_int(body, "EvaluationPeriods", 1, 100000, &evals);
    if (rc == 0)
        MISSING("EvaluationPeriods");
    if (rc < 0)
        INVALID("The parameter EvaluationPeriods must be a positive integer.");
    if ((long long)period * evals > MAX_EVAL_RANGE_S)
        INVALID("The evaluation range (Period x EvaluationPeriods) must not exceed %d seconds.",
                MAX_EVAL_RANGE_S);
    rc = get_int(body, "DatapointsToAlarm", 1, evals, &dta);
    if (rc < 0)
        INVALID("DatapointsToAlarm must be between 1 and EvaluationPeriods (%ld).", evals);
    json_t *tj = json_object_get(body, "Threshold");
    double threshold;
    if (!tj)
        MISSING("Threshold");
    if (!sky__metrics_num(tj, &threshold) || !isfinite(threshold))
        INVALID("The parameter Threshold must be a number.");
    const char *cmp = get_str(body, "ComparisonOperator");
    if (!cmp)
        MISSING("ComparisonOperator");
    if (index_of(comparisons, 4, cmp) < 0)
        INVALID("The value %s for parameter ComparisonOperator is invalid (skylog serve supports "
                "GreaterThanOrEqualToThreshold, GreaterThanThreshold, LessThanThreshold and "
                "LessThanOrEqualToThreshold; the band operators need anomaly detection).",
                cmp);
    const char *tmd = get_str(body, "TreatMissingData");
    if (tmd && index_of(missing_modes, 4, tmd) < 0)
        INVALID("The value %s for parameter TreatMissingData is invalid: missing, ignore, "
                "breaching or notBreaching.",
                tmd);
    const char *elsc = get_str(body, "EvaluateLowSampleCountPercentile");
    if (elsc && strcmp(elsc, "evaluate") != 0 && strcmp(elsc, "ignore") != 0)
        INVALID("The value %s for parameter EvaluateLowSampleCountPercentile is invalid: "
                "evaluate or ignore.",
                elsc);
    if (elsc && !ext)
        ERR("InvalidParameterCombination",
            "EvaluateLowSampleCountPercentile can only be used with an ExtendedStatistic.");
    const char *unit = get_str(body, "Unit");
    if (unit && !sky__metrics_valid_unit(unit))
        INVALID("The value %s for parameter Unit is invalid.", unit);
    json_t *dims = json_object_get(body, "Dimensions");
    if (!valid_dims(c, dims))
        goto out;
    json_object_set_new(cfg, "MetricName", json_string(metric));
    json_object_set_new(cfg, "Namespace", json_string(ns));
    json_object_set_new(cfg, stat ? "Statistic" : "ExtendedStatistic",
                        json_string(stat ? stat : ext));
    json_t *dcopy = json_array();
    size_t i;
    json_t *d;
    json_array_foreach(dims, i, d) json_array_append_new(
        dcopy, json_pack("{s:s,s:s}", "Name", get_str(d, "Name"), "Value", get_str(d, "Value")));
    json_object_set_new(cfg, "Dimensions", dcopy);
    json_object_set_new(cfg, "Period", json_integer(period));
    if (unit)
        json_object_set_new(cfg, "Unit", json_string(unit));
    json_object_set_new(cfg, "EvaluationPeriods", json_integer(evals));
    if (dta)
        json_object_set_new(cfg, "DatapointsToAlarm", json_integer(dta));
    json_object_set_new(cfg, "Threshold", json_real(threshold));
    json_object_set_new(cfg, "ComparisonOperator", json_string(cmp));
    if (tmd)
        json_object_set_new(cfg, "TreatMissingData", json_string(tmd));
    if (elsc)
        json_object_set_new(cfg, "EvaluateLowSampleCountPercentile", json_string(elsc));
    store_alarm(c, name, "MetricAlarm", cfg, actions_enabled);
out:
    json_decref(cfg);
}

/* True when composite `name` would reach itself through `rule` (composites' rules read from
 * the store, breadth first, each alarm once: bounded by the number of alarms). */
static bool creates_cycle(sqlite3 *db, const char *name, const sky__rule *rule)
{
    json_t *queue = json_array(), *seen = json_object();
    bool cycle = false;
    for (size_t i = 0; i < sky__rule_n_refs(rule); i++)
        json_array_append_new(queue, json_string(sky__rule_ref(rule, i)));
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(db, "SELECT json_extract(config, '$.AlarmRule') FROM alarms WHERE "
                           "name=? AND type='CompositeAlarm'", -1, &st, NULL);
    for (size_t qi = 0; st && !cycle && qi < json_array_size(queue); qi++) {
        const char *n = json_string_value(json_array_get(queue, qi));
        if (strcmp(n, name) == 0) {
            cycle = true;
            break;
        }
        if (json_object_get(seen, n))
            continue;
        json_object_set_new(seen, n, json_true());
        sqlite3_bind_text(st, 1, n, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
            char why[64];
            sky__rule *r = sky__rule_compile((const char *)sqlite3_column_text(st, 0), why,
                                             sizeof why);
            for (size_t i = 0; r && i < sky__rule_n_refs(r); i++)
                json_array_append_new(queue, json_string(sky__rule_ref(r, i)));
            sky__rule_free(r);
        }
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    json_decref(queue);
    json_decref(seen);
    return cycle;
}

static void put_composite_alarm(actx *c, json_t *body)
{
    json_t *cfg = json_object();
    sky__rule *rule = NULL;
    sqlite3 *db = NULL;
    const char *name;
    bool actions_enabled;
    char why[300];
    if (!common_members(c, body, cfg, &name, &actions_enabled))
        goto out;
    if (get_str(body, "ActionsSuppressor") || json_object_get(body, "ActionsSuppressorWaitPeriod") ||
        json_object_get(body, "ActionsSuppressorExtensionPeriod"))
        INVALID("Action suppressors are not supported by skylog serve.");
    const char *text = get_str(body, "AlarmRule");
    if (!text)
        MISSING("AlarmRule");
    if (!(rule = sky__rule_compile(text, why, sizeof why)))
        INVALID("Invalid AlarmRule: %s.", why);
    db = sky__store_lock(c->req->server->store);
    json_t *missing = json_array();
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM alarms WHERE name=?", -1, &st, NULL) != SQLITE_OK) {
        json_decref(missing);
        STORE_ERR();
    }
    for (size_t i = 0; i < sky__rule_n_refs(rule); i++) {
        sqlite3_bind_text(st, 1, sky__rule_ref(rule, i), -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_ROW && strcmp(sky__rule_ref(rule, i), name) != 0)
            json_array_append_new(missing, json_string(sky__rule_ref(rule, i)));
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    if (json_array_size(missing)) {
        char *list = json_dumps(missing, JSON_COMPACT);
        json_decref(missing);
        sky__reply_error(c->r, c->api, 400, "ValidationError",
                         "Could not save the composite alarm as alarms %s in the alarm rule do "
                         "not exist",
                         list ? list : "[...]");
        free(list);
        goto out;
    }
    json_decref(missing);
    if (creates_cycle(db, name, rule))
        ERR("ValidationError", "The alarm rule of %s refers back to %s: composite alarms must "
                               "not form a cycle.",
            name, name);
    /* Still under the lock the checks ran under: a DeleteAlarms of an alarm the rule names
     * (which refuses while a composite refers to it) comes wholly before or after. */
    json_object_set_new(cfg, "AlarmRule", json_string(text));
    store_alarm_locked(c, db, name, "CompositeAlarm", cfg, actions_enabled);
out:
    if (db)
        sky__store_unlock(c->req->server->store);
    sky__rule_free(rule);
    json_decref(cfg);
}

/* ---- state changes (SetAlarmState and evaluation) ----------------------------------------- */

/* Records a's move to `state` with `reason`: the row, a StateUpdate history item and, when
 * actions are enabled, one Action item per ARN of the new state's actions. */
static int transition(sqlite3 *db, alarm *a, int state, const char *reason,
                      const char *reason_data, int64_t now)
{
    const char *type = a->composite ? "CompositeAlarm" : "MetricAlarm";
    const char *from = sky__alarm_state_name(a->state), *to = sky__alarm_state_name(state);
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db,
                                "UPDATE alarms SET state=?2, reason=?3, reason_data=?4, "
                                "state_updated=?5, state_transitioned=?5 WHERE name=?1",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    char reason_cut[1024];
    snprintf(reason_cut, sizeof reason_cut, "%s", reason); /* StateReason: at most 1023 */
    sqlite3_bind_text(st, 1, a->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, to, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, reason_cut, -1, SQLITE_STATIC);
    if (reason_data)
        sqlite3_bind_text(st, 4, reason_data, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, now);
    rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
    sqlite3_finalize(st);
    if (rc != SQLITE_OK)
        return rc;
    char summary[64];
    snprintf(summary, sizeof summary, "Alarm updated from %s to %s", from, to);
    json_t *data = json_pack("{s:s,s:{s:s,s:s},s:{s:s,s:s}}", "version", "1.0", "oldState",
                             "stateValue", from, "stateReason", a->reason, "newState",
                             "stateValue", to, "stateReason", reason_cut);
    if (reason_data) {
        json_t *rd = json_loads(reason_data, 0, NULL);
        if (rd)
            json_object_set_new(json_object_get(data, "newState"), "stateReasonData", rd);
    }
    rc = history_add(db, a->name, type, now, "StateUpdate", summary, data);
    static const char *const lists[] = {"OKActions", "AlarmActions", "InsufficientDataActions"};
    json_t *actions = json_object_get(a->config, lists[state]);
    size_t i;
    json_t *arn;
    if (a->actions_enabled)
        json_array_foreach(actions, i, arn)
        {
            if (rc != SQLITE_OK)
                break;
            char s[300];
            snprintf(s, sizeof s, "Action %.200s recorded (skylog serve has no SNS: nothing sent)",
                     json_string_value(arn));
            rc = history_add(db, a->name, type, now, "Action", s,
                             json_pack("{s:s,s:I,s:s,s:s}", "actionState", "Succeeded",
                                       "stateUpdateTimestamp", (json_int_t)now,
                                       "notificationResource", json_string_value(arn),
                                       "publishedMessage", ""));
        }
    free(a->reason);
    a->reason = strdup(reason_cut);
    a->state = state;
    a->changed = true;
    return rc;
}

/* ---- Describe*, Delete, SetAlarmState, history, actions on/off ---------------------------- */

static bool dims_equal(json_t *a, json_t *b)
{
    size_t na = json_array_size(a), nb = json_array_size(b);
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++) {
        json_t *x = json_array_get(a, i);
        bool found = false;
        for (size_t j = 0; j < nb && !found; j++) {
            json_t *y = json_array_get(b, j);
            found = get_str(x, "Name") && get_str(y, "Name") && get_str(x, "Value") &&
                    get_str(y, "Value") && strcmp(get_str(x, "Name"), get_str(y, "Name")) == 0 &&
                    strcmp(get_str(x, "Value"), get_str(y, "Value")) == 0;
        }
        if (!found)
            return false;
    }
    return true;
}

static bool has_action_prefix(const alarm *a, const char *prefix)
{
    static const char *const lists[] = {"OKActions", "AlarmActions", "InsufficientDataActions"};
    for (size_t i = 0; i < 3; i++) {
        size_t k;
        json_t *x;
        json_array_foreach(json_object_get(a->config, lists[i]), k, x) if (
            strncmp(json_string_value(x), prefix, strlen(prefix)) == 0) return true;
    }
    return false;
}

static bool rule_names(const alarm *a, const char *name)
{
    char why[64];
    sky__rule *r = sky__rule_compile(get_str(a->config, "AlarmRule"), why, sizeof why);
    bool found = false;
    for (size_t i = 0; r && i < sky__rule_n_refs(r) && !found; i++)
        found = strcmp(sky__rule_ref(r, i), name) == 0;
    sky__rule_free(r);
    return found;
}

static bool read_page(actx *c, json_t *body, long max, long dflt, long *limit, long *off)
{
    *limit = dflt;
    *off = 0;
    if (get_int(body, "MaxRecords", 1, max, limit) < 0) {
        sky__reply_error(c->r, c->api, 400, "InvalidParameterValue",
                         "The parameter MaxRecords must be between 1 and %ld.", max);
        return false;
    }
    const char *tok = get_str(body, "NextToken");
    if (tok) {
        char *end;
        *off = strtol(tok, &end, 10);
        if (*end || end == tok || *off < 0) {
            sky__reply_error(c->r, c->api, 400, "InvalidNextToken", "The NextToken is invalid.");
            return false;
        }
    }
    return true;
}

static void describe_alarms(actx *c, json_t *body, json_t **result, bool for_metric)
{
    sqlite3 *db = NULL;
    alarm *v = NULL;
    long n = 0, limit, off;
    json_t *names = NULL, *types = NULL;
    if (!(names = get_names(c, body, "AlarmNames", MAX_NAMES, 255)) ||
        !(types = get_names(c, body, "AlarmTypes", 2, 32)))
        goto out;
    const char *prefix = get_str(body, "AlarmNamePrefix"), *state = get_str(body, "StateValue");
    const char *action = get_str(body, "ActionPrefix");
    const char *children = get_str(body, "ChildrenOfAlarmName");
    const char *parents = get_str(body, "ParentsOfAlarmName");
    if (!read_page(c, body, DESCRIBE_MAX, DESCRIBE_DEFAULT, &limit, &off))
        goto out;
    if (json_array_size(names) && prefix)
        ERR("InvalidParameterCombination",
            "AlarmNames and AlarmNamePrefix cannot be specified together.");
    if ((children || parents) && (json_array_size(names) || prefix || state || action ||
                                  json_array_size(types) || (children && parents)))
        ERR("InvalidParameterCombination",
            "ChildrenOfAlarmName and ParentsOfAlarmName can only be combined with MaxRecords "
            "and NextToken.");
    if (state && sky__alarm_state_parse(state) < 0)
        INVALID("The value %s for parameter StateValue is invalid.", state);
    bool want_metric = !json_array_size(types), want_composite = false;
    size_t i;
    json_t *t;
    json_array_foreach(types, i, t)
    {
        if (strcmp(json_string_value(t), "MetricAlarm") == 0)
            want_metric = true;
        else if (strcmp(json_string_value(t), "CompositeAlarm") == 0)
            want_composite = true;
        else
            INVALID("The value %s for parameter AlarmTypes.member.%zu is invalid.",
                    json_string_value(t), i + 1);
    }
    if (children || parents)
        want_metric = want_composite = true;
    /* DescribeAlarmsForMetric */
    const char *ns = NULL, *metric = NULL, *stat = NULL, *ext = NULL, *unit = NULL;
    long period = 0;
    json_t *dims = NULL;
    if (for_metric) {
        ns = get_str(body, "Namespace");
        metric = get_str(body, "MetricName");
        if (!metric)
            MISSING("MetricName");
        if (!ns)
            MISSING("Namespace");
        stat = get_str(body, "Statistic");
        ext = get_str(body, "ExtendedStatistic");
        unit = get_str(body, "Unit");
        if (get_int(body, "Period", 1, 86400 * 7, &period) < 0)
            INVALID("The parameter Period must be a positive integer.");
        dims = json_object_get(body, "Dimensions");
        if (!valid_dims(c, dims))
            goto out;
        want_metric = true;
        want_composite = false;
    }
    db = sky__store_lock(c->req->server->store);
    n = load_alarms(db, &v);
    if (n < 0)
        STORE_ERR();
    const alarm *child_of = NULL;
    if (children) {
        long k = find_alarm(v, n, children);
        child_of = k >= 0 && v[k].composite ? &v[k] : NULL;
    }
    json_t *metrics = json_array(), *composites = json_array();
    *result = json_pack("{s:o,s:o}", "MetricAlarms", metrics, "CompositeAlarms", composites);
    long matched = 0;
    bool more = false;
    for (long k = 0; k < n; k++) {
        alarm *a = &v[k];
        bool keep = a->composite ? want_composite : want_metric;
        if (json_array_size(names)) {
            bool in = false;
            json_array_foreach(names, i, t) in |= strcmp(json_string_value(t), a->name) == 0;
            keep &= in;
        }
        keep &= !prefix || strncmp(a->name, prefix, strlen(prefix)) == 0;
        keep &= !state || strcmp(sky__alarm_state_name(a->state), state) == 0;
        keep &= !action || has_action_prefix(a, action);
        if (children)
            keep &= child_of && rule_names(child_of, a->name);
        if (parents)
            keep &= a->composite && rule_names(a, parents);
        if (for_metric) {
            keep &= !a->composite && strcmp(get_str(a->config, "Namespace"), ns) == 0 &&
                    strcmp(get_str(a->config, "MetricName"), metric) == 0 &&
                    dims_equal(json_object_get(a->config, "Dimensions"), dims);
            keep &= !stat || (get_str(a->config, "Statistic") &&
                              strcmp(get_str(a->config, "Statistic"), stat) == 0);
            keep &= !ext || (get_str(a->config, "ExtendedStatistic") &&
                             strcmp(get_str(a->config, "ExtendedStatistic"), ext) == 0);
            keep &= !unit || (get_str(a->config, "Unit") &&
                              strcmp(get_str(a->config, "Unit"), unit) == 0);
            keep &= !period ||
                    json_integer_value(json_object_get(a->config, "Period")) == (json_int_t)period;
        }
        if (!keep || matched++ < off)
            continue;
        if ((long)(json_array_size(metrics) + json_array_size(composites)) == limit &&
            !for_metric) {
            more = true;
            break;
        }
        json_array_append_new(a->composite ? composites : metrics,
                              alarm_json(c->req->server, a));
    }
    if (for_metric)
        json_object_del(*result, "CompositeAlarms");
    if (more) {
        char tok[32];
        snprintf(tok, sizeof tok, "%ld", off + limit);
        json_object_set_new(*result, "NextToken", json_string(tok));
    }
out:
    if (db)
        sky__store_unlock(c->req->server->store);
    free_alarms(v, n);
    json_decref(names);
    json_decref(types);
}

/* The alarms among `names` that a composite alarm not among them refers to, comma-separated
 * in `children` (1 when there is one; -1 on a store error). CloudWatch keeps every alarm a
 * composite depends on ("you can't delete any composite alarm that is part of the cycle
 * because there is always still a composite alarm that depends on that alarm"), so a rule
 * never names an alarm that is gone. */
static int referenced_by_composite(sqlite3 *db, json_t *names, char *children, size_t cap)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT name, json_extract(config, '$.AlarmRule') FROM alarms "
                               "WHERE type='CompositeAlarm'", -1, &st, NULL) != SQLITE_OK)
        return -1;
    json_t *gone = json_object(), *held = json_object();
    size_t i;
    json_t *nj;
    json_array_foreach(names, i, nj) json_object_set(gone, json_string_value(nj), json_true());
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        const char *text = (const char *)sqlite3_column_text(st, 1);
        if (!name || !text || json_object_get(gone, name))
            continue;
        char why[64];
        sky__rule *r = sky__rule_compile(text, why, sizeof why);
        for (size_t k = 0; r && k < sky__rule_n_refs(r); k++)
            if (json_object_get(gone, sky__rule_ref(r, k)))
                json_object_set(held, sky__rule_ref(r, k), json_true());
        sky__rule_free(r);
    }
    sqlite3_finalize(st);
    size_t len = 0;
    children[0] = '\0';
    json_array_foreach(names, i, nj) /* in the request's order, each once */
    {
        const char *n = json_string_value(nj);
        if (json_object_get(held, n) && len < cap) {
            len += (size_t)snprintf(children + len, cap - len, "%s%s", len ? "," : "", n);
            json_object_del(held, n);
        }
    }
    json_decref(gone);
    json_decref(held);
    return rc != SQLITE_DONE ? -1 : len > 0;
}

/* As the current API reference says: the alarms that exist are deleted and names that do not
 * are ignored ("If you specify any incorrect alarm names, the alarms you specify with correct
 * names are still deleted"); at most one composite alarm per call; and nothing is deleted
 * when a composite alarm that stays refers to one of them (CloudWatch's ValidationError, in
 * its words). */
static void delete_alarms(actx *c, json_t *body)
{
    sqlite3 *db = NULL;
    json_t *names = get_names(c, body, "AlarmNames", MAX_NAMES, 255);
    if (!names)
        return;
    if (!json_object_get(body, "AlarmNames"))
        MISSING("AlarmNames");
    db = sky__store_lock(c->req->server->store);
    size_t i, composites = 0;
    json_t *nj;
    json_array_foreach(names, i, nj)
    {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db, "SELECT 1 FROM alarms WHERE name=? AND type='CompositeAlarm'",
                               -1, &st, NULL) != SQLITE_OK)
            STORE_ERR();
        sqlite3_bind_text(st, 1, json_string_value(nj), -1, SQLITE_STATIC);
        composites += sqlite3_step(st) == SQLITE_ROW;
        sqlite3_finalize(st);
    }
    if (composites > 1)
        ERR("ValidationError",
            "You can delete at most one composite alarm in one DeleteAlarms call (%zu named).",
            composites);
    char children[1024];
    int ref = referenced_by_composite(db, names, children, sizeof children);
    if (ref < 0)
        STORE_ERR();
    if (ref)
        ERR("ValidationError", "Cannot delete %s as there are composite alarm(s) depending on %s.",
            children, strchr(children, ',') ? "them" : "it");
    if (sky__store_begin(db) != SQLITE_OK)
        STORE_ERR();
    json_array_foreach(names, i, nj)
    {
        if (exec_text(db, "DELETE FROM alarms WHERE name=?", json_string_value(nj), NULL) !=
            SQLITE_OK)
            ROLLBACK_ERR();
    }
    if (sky__store_commit(db) != SQLITE_OK) {
        ROLLBACK_ERR();
    }
    c->r->status = 200;
out:
    if (db)
        sky__store_unlock(c->req->server->store);
    json_decref(names);
}

static void set_alarm_state(actx *c, json_t *body)
{
    sqlite3 *db = NULL;
    alarm a = {0};
    const char *name = get_str(body, "AlarmName"), *value = get_str(body, "StateValue");
    const char *reason = get_str(body, "StateReason"), *data = get_str(body, "StateReasonData");
    if (!name)
        MISSING("AlarmName");
    if (!value)
        MISSING("StateValue");
    if (!reason)
        MISSING("StateReason");
    int state = sky__alarm_state_parse(value);
    if (state < 0)
        INVALID("The value %s for parameter StateValue is invalid.", value);
    if (strlen(reason) > 1023)
        INVALID("The parameter StateReason must have at most 1023 characters.");
    if (data) {
        json_t *j = strlen(data) <= 4000 ? json_loads(data, 0, NULL) : NULL;
        if (!j)
            ERR("InvalidFormat", "StateReasonData is not valid JSON (at most 4000 characters).");
        json_decref(j);
    }
    db = sky__store_lock(c->req->server->store);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT " ALARM_COLUMNS " FROM alarms WHERE name=?", -1, &st,
                           NULL) != SQLITE_OK)
        STORE_ERR();
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    bool found = sqlite3_step(st) == SQLITE_ROW && alarm_from_row(st, &a);
    sqlite3_finalize(st);
    if (!found)
        NOT_FOUND("Alarm %s not found", name);
    if (sky__store_begin(db) != SQLITE_OK)
        STORE_ERR();
    /* As in CloudWatch, a state set by hand lasts until the next evaluation; setting the
     * state it already has is still recorded (and runs its actions). */
    if (transition(db, &a, state, reason, data, sky__now_ms()) != SQLITE_OK ||
        sky__store_commit(db) != SQLITE_OK) {
        ROLLBACK_ERR();
    }
    c->r->status = 200;
out:
    if (db)
        sky__store_unlock(c->req->server->store);
    alarm_clear(&a);
}

static void describe_alarm_history(actx *c, json_t *body, json_t **result)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long limit, off;
    json_t *types = get_names(c, body, "AlarmTypes", 2, 32);
    if (!types)
        return;
    const char *name = get_str(body, "AlarmName"), *item = get_str(body, "HistoryItemType");
    const char *scan = get_str(body, "ScanBy");
    if (!read_page(c, body, HISTORY_MAX, HISTORY_MAX, &limit, &off))
        goto out;
    if (item && strcmp(item, "ConfigurationUpdate") && strcmp(item, "StateUpdate") &&
        strcmp(item, "Action"))
        INVALID("The value %s for parameter HistoryItemType is invalid (skylog serve records "
                "ConfigurationUpdate, StateUpdate and Action).",
                item);
    if (scan && strcmp(scan, "TimestampAscending") && strcmp(scan, "TimestampDescending"))
        INVALID("The value %s for parameter ScanBy is invalid.", scan);
    double start = -1e12, end = 1e12;
    json_t *sj = json_object_get(body, "StartDate"), *ej = json_object_get(body, "EndDate");
    if ((sj && !sky__metrics_time(sj, &start)) || (ej && !sky__metrics_time(ej, &end)))
        INVALID("StartDate and EndDate must be timestamps.");
    bool metric = !json_array_size(types), composite = false;
    size_t i;
    json_t *t;
    json_array_foreach(types, i, t)
    {
        metric |= strcmp(json_string_value(t), "MetricAlarm") == 0;
        composite |= strcmp(json_string_value(t), "CompositeAlarm") == 0;
    }
    /* Without AlarmTypes only metric alarms' history, as the reference says; naming an alarm
     * gives its history whatever its type. */
    if (name)
        metric = composite = true;
    bool asc = scan && strcmp(scan, "TimestampAscending") == 0;
    db = sky__store_lock(c->req->server->store);
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT name, type, ts, item_type, summary, data FROM alarm_history WHERE "
             "(?1 IS NULL OR name=?1) AND (?2 IS NULL OR item_type=?2) AND ts>=?3 AND ts<=?4 "
             "AND (type='MetricAlarm' AND ?5 OR type='CompositeAlarm' AND ?6) "
             "ORDER BY ts %s, id %s LIMIT ?7 OFFSET ?8",
             asc ? "ASC" : "DESC", asc ? "ASC" : "DESC");
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        STORE_ERR();
    if (name)
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (item)
        sqlite3_bind_text(st, 2, item, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (int64_t)llround(start * 1000));
    sqlite3_bind_int64(st, 4, (int64_t)llround(end * 1000));
    sqlite3_bind_int(st, 5, metric);
    sqlite3_bind_int(st, 6, composite);
    sqlite3_bind_int64(st, 7, limit + 1);
    sqlite3_bind_int64(st, 8, off);
    json_t *items = json_array();
    *result = json_pack("{s:o}", "AlarmHistoryItems", items);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if ((long)json_array_size(items) == limit) {
            char tok[32];
            snprintf(tok, sizeof tok, "%ld", off + limit);
            json_object_set_new(*result, "NextToken", json_string(tok));
            break;
        }
        json_array_append_new(
            items, json_pack("{s:s,s:s,s:f,s:s,s:s,s:s}", "AlarmName",
                             (const char *)sqlite3_column_text(st, 0), "AlarmType",
                             (const char *)sqlite3_column_text(st, 1), "Timestamp",
                             (double)sqlite3_column_int64(st, 2) / 1000, "HistoryItemType",
                             (const char *)sqlite3_column_text(st, 3), "HistorySummary",
                             (const char *)sqlite3_column_text(st, 4), "HistoryData",
                             (const char *)sqlite3_column_text(st, 5)));
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        json_decref(*result);
        *result = NULL;
        STORE_ERR();
    }
out:
    sqlite3_finalize(st);
    if (db)
        sky__store_unlock(c->req->server->store);
    json_decref(types);
}

static void set_actions(actx *c, json_t *body, bool enabled)
{
    sqlite3 *db = NULL;
    json_t *names = get_names(c, body, "AlarmNames", MAX_NAMES, 255);
    if (!names)
        return;
    if (!json_object_get(body, "AlarmNames"))
        MISSING("AlarmNames");
    db = sky__store_lock(c->req->server->store);
    size_t i;
    json_t *nj;
    json_array_foreach(names, i, nj) if (exec_text(db, enabled ? "UPDATE alarms SET "
                                                                 "actions_enabled=1 WHERE name=?"
                                                               : "UPDATE alarms SET "
                                                                 "actions_enabled=0 WHERE name=?",
                                                   json_string_value(nj), NULL) != SQLITE_OK)
        STORE_ERR();
    c->r->status = 200;
out:
    if (db)
        sky__store_unlock(c->req->server->store);
    json_decref(names);
}

/* ---- dispatch ----------------------------------------------------------------------------- */

static const char *const op_names[] = {
    "PutMetricAlarm",       "PutCompositeAlarm",  "DescribeAlarms",     "DescribeAlarmsForMetric",
    "DeleteAlarms",         "SetAlarmState",      "DescribeAlarmHistory", "EnableAlarmActions",
    "DisableAlarmActions",
};

const char *sky__alarms_known(const char *op)
{
    int i = op ? index_of(op_names, sizeof op_names / sizeof op_names[0], op) : -1;
    return i >= 0 ? op_names[i] : NULL;
}

void sky__alarms_handle(const sky__request *req, sky__api api, const char *op, json_t *body,
                        sky__reply *r, json_t **result)
{
    actx c = {.req = req, .api = api, .r = r};
    switch (index_of(op_names, sizeof op_names / sizeof op_names[0], op)) {
    case 0: put_metric_alarm(&c, body); break;
    case 1: put_composite_alarm(&c, body); break;
    case 2: describe_alarms(&c, body, result, false); break;
    case 3: describe_alarms(&c, body, result, true); break;
    case 4: delete_alarms(&c, body); break;
    case 5: set_alarm_state(&c, body); break;
    case 6: describe_alarm_history(&c, body, result); break;
    case 7: set_actions(&c, body, true); break;
    case 8: set_actions(&c, body, false); break;
    default: break;
    }
}

/* ---- evaluation --------------------------------------------------------------------------- */

static bool breaches(int op, double v, double threshold)
{
    switch (op) {
    case 0: return v >= threshold;
    case 1: return v > threshold;
    case 2: return v < threshold;
    default: return v <= threshold;
    }
}

/* A number as CloudWatch writes it in reasons: "50.0", "0.1", "1234.5": the shortest text
 * that reads back as the same double, with ".0" on whole numbers. */
static void fmt_value(double v, char *out, size_t cap)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, cap, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            break;
    }
    if (!strpbrk(out, ".eEn") && strlen(out) + 2 < cap)
        strcat(out, ".0");
}

/* "dd/mm/yy HH:MM:SS", as CloudWatch writes datapoint times in state reasons. */
static void reason_time(int64_t s, char *out, size_t cap)
{
    time_t t = (time_t)s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, cap, "%d/%m/%y %H:%M:%S", &tm);
}

/* Appends "v (time), ..." for the chosen datapoints, newest first, to buf. */
static void list_points(char *buf, size_t cap, const double *values, const bool *present,
                        const bool *pick, int n, int64_t start_s, long period)
{
    size_t len = strlen(buf);
    bool first = true;
    for (int i = n - 1; i >= 0 && len + 64 < cap; i--) {
        if (!present[i] || !pick[i])
            continue;
        char when[32], num[40];
        reason_time(start_s + (int64_t)i * period, when, sizeof when);
        fmt_value(values[i], num, sizeof num);
        len += (size_t)snprintf(buf + len, cap - len, "%s%s (%s)", first ? "" : ", ", num, when);
        first = false;
    }
}

/* Periods read beyond EvaluationPeriods: CloudWatch "attempts to retrieve a higher number of
 * data points than specified by Evaluation Periods" (the evaluation range) and documents its
 * cases with 5 periods for 3 evaluated; the exact number is not documented. */
#define EXTRA_RANGE 2

/* Whether `count` samples are too few for percentile pct (0-100) under
 * EvaluateLowSampleCountPercentile, as CloudWatch documents it: fewer than 10/(1-p) for p from
 * 0.5 to 1, 10/p below 0.5 (p as a fraction). Written as count x (1-p) < 10, with a margin for
 * the rounding of 100 - pct, so that exactly 100 samples are enough for p90. */
static bool low_sample(double count, double pct)
{
    double share = pct >= 50 ? 100 - pct : pct; /* in percent */
    return count * share < 1000 * (1 - 1e-9);
}

/* The new state of metric alarm a as of now_ms (or -1 to keep its state), with the reason and
 * reason data. -2 when the store failed. How the evaluated datapoints are chosen and missing
 * ones treated is CloudWatch's documented procedure (docs/SERVE.md, "Alarms"). */
static int evaluate_metric(sqlite3 *db, alarm *a, int64_t now_ms, char *reason, size_t cap,
                           json_t **reason_data)
{
    json_t *cfg = a->config;
    long period = (long)json_integer_value(json_object_get(cfg, "Period"));
    int n = (int)json_integer_value(json_object_get(cfg, "EvaluationPeriods"));
    json_t *dj = json_object_get(cfg, "DatapointsToAlarm");
    int m = dj ? (int)json_integer_value(dj) : n;
    double threshold = json_number_value(json_object_get(cfg, "Threshold"));
    int op = index_of(comparisons, 4, get_str(cfg, "ComparisonOperator"));
    const char *tmd = get_str(cfg, "TreatMissingData");
    int mode = tmd ? index_of(missing_modes, 4, tmd) : 0;
    const char *stat = get_str(cfg, "Statistic");
    const char *elsc = get_str(cfg, "EvaluateLowSampleCountPercentile");
    bool low_ignore = !stat && elsc && strcmp(elsc, "ignore") == 0;
    if (!stat)
        stat = get_str(cfg, "ExtendedStatistic");
    if (period < 1 || n < 1 || m < 1 || m > n || op < 0 || !stat || mode < 0)
        return -1; /* a stored configuration Put would have refused: leave it alone */
    int range = n + EXTRA_RANGE;
    int64_t end_s = now_ms / 1000 / period * period, start_s = end_s - (int64_t)range * period;
    double *values = calloc((size_t)range, sizeof *values);
    double *counts = calloc((size_t)range, sizeof *counts);
    bool *present = calloc((size_t)range, sizeof *present), *breach = calloc((size_t)range, 1);
    bool *pick = calloc((size_t)range, 1), *counted = calloc((size_t)range, 1);
    int result = -2;
    if (!values || !counts || !present || !breach || !pick || !counted)
        goto done;
    const char *ns = get_str(cfg, "Namespace"), *metric = get_str(cfg, "MetricName");
    json_t *dims = json_object_get(cfg, "Dimensions");
    if (sky__metrics_series(db, ns, metric, dims, get_str(cfg, "Unit"), stat, start_s, period,
                            range, values, present) != SQLITE_OK ||
        (low_ignore && sky__metrics_series(db, ns, metric, dims, get_str(cfg, "Unit"),
                                           "SampleCount", start_s, period, range, counts,
                                           counted) != SQLITE_OK))
        goto done;
    /* The n most recent datapoints that exist in the range; fewer when fewer exist. */
    int e = 0, b = 0, newest = -1;
    for (int i = range - 1; i >= 0; i--) {
        if (!present[i] || e == n)
            continue;
        pick[i] = true;
        breach[i] = breaches(op, values[i], threshold);
        b += breach[i];
        e++;
        if (newest < 0)
            newest = i;
    }
    if (low_ignore) {
        double pct = sky__metrics_percentile_of(stat);
        for (int i = 0; i < range; i++)
            if (pick[i] && (!counted[i] || low_sample(counts[i], pct))) {
                result = -1; /* too few samples: the alarm waits for more */
                goto done;
            }
    }
    const char *word = comparison_words[op];
    int needed = m;
    if (e == 0) {
        result = mode == 0 ? SKY__STATE_INSUFFICIENT_DATA
                 : mode == 1 ? -1
                 : mode == 2 ? SKY__STATE_ALARM
                             : SKY__STATE_OK;
        snprintf(reason, cap, "%s: no datapoints in the last %d period%s (TreatMissingData: %s).",
                 result == SKY__STATE_INSUFFICIENT_DATA ? "Insufficient Data" : "Threshold Crossed",
                 range, range == 1 ? "" : "s", missing_modes[mode]);
    } else {
        /* Fewer than n exist: the rest are filled as TreatMissingData says. For missing and
         * ignore, a filled period newer than the newest datapoint (the metric stopped) is left
         * out, so the datapoints there are judged alone; one older than it (the metric just
         * started) is unknown: ALARM needs m breaching datapoints, OK one that does not. */
        int fill = n - e, after = range - 1 - newest;
        int older = fill > after ? fill - after : 0;
        bool unknown = false;
        if (e == n || mode == 3) {
            result = b >= m ? SKY__STATE_ALARM : SKY__STATE_OK;
        } else if (mode == 2) {
            result = b + fill >= m ? SKY__STATE_ALARM : SKY__STATE_OK;
            needed = m - fill > 0 ? m - fill : 0;
        } else {
            needed = older ? m : (m < e ? m : e);
            result = b >= needed   ? SKY__STATE_ALARM
                     : b < e       ? SKY__STATE_OK
                                   : SKY__STATE_INSUFFICIENT_DATA;
            unknown = result == SKY__STATE_INSUFFICIENT_DATA;
            /* ignore: what missing would decide on too few datapoints keeps the state */
            if (mode == 1 && (unknown || (result == SKY__STATE_ALARM && b < m)))
                result = -1;
        }
        int shown = result == SKY__STATE_ALARM ? b : e;
        if (unknown) {
            snprintf(reason, cap, "Insufficient Data: %d of the last %d datapoints [", e, n);
            list_points(reason, cap, values, present, pick, range, start_s, period);
            size_t len = strlen(reason);
            snprintf(reason + len, cap - len, "] %s all %s the threshold, %d missing "
                                              "(TreatMissingData: %s).",
                     e == 1 ? "was" : "were", word, fill, missing_modes[mode]);
        } else {
            snprintf(reason, cap, "Threshold Crossed: %d out of the last %d datapoints [", shown,
                     n);
            list_points(reason, cap, values, present, result == SKY__STATE_ALARM ? breach : pick,
                        range, start_s, period);
            size_t len = strlen(reason);
            char th[40];
            fmt_value(threshold, th, sizeof th);
            int minimum = result == SKY__STATE_ALARM ? (needed > 0 ? needed : 1) : 1;
            snprintf(reason + len, cap - len,
                     "] %s %s%s the threshold (%s) (minimum %d datapoint%s for %s transition).",
                     shown == 1 ? "was" : "were", result == SKY__STATE_ALARM ? "" : "not ", word,
                     th, minimum, minimum == 1 ? "" : "s",
                     result == SKY__STATE_ALARM ? "OK -> ALARM" : "ALARM -> OK");
        }
    }
    char qd[40], sd[40];
    iso_ms(now_ms, qd, sizeof qd);
    iso_ms(start_s * 1000, sd, sizeof sd);
    json_t *recent = json_array(), *evaluated = json_array();
    for (int i = range - 1; i >= 0; i--) {
        char ts[40];
        iso_ms((start_s + (int64_t)i * period) * 1000, ts, sizeof ts);
        if (pick[i]) {
            json_array_append_new(recent, json_real(values[i]));
            json_array_append_new(evaluated, json_pack("{s:s,s:f}", "timestamp", ts, "value",
                                                       values[i]));
        } else if (i >= range - n) {
            json_array_append_new(evaluated, json_pack("{s:s}", "timestamp", ts));
        }
    }
    *reason_data = json_pack("{s:s,s:s,s:s,s:s,s:I,s:o,s:f,s:o}", "version", "1.0", "queryDate",
                             qd, "startDate", sd, "statistic", stat, "period",
                             (json_int_t)period, "recentDatapoints", recent, "threshold",
                             threshold, "evaluatedDatapoints", evaluated);
done:
    free(values);
    free(counts);
    free(present);
    free(breach);
    free(pick);
    free(counted);
    return result;
}

/* Composite a's state from the others' (ALARM when its rule holds, else OK), with a reason
 * naming the state of each alarm the rule refers to. */
static int evaluate_composite(alarm *v, long n, alarm *a, char *reason, size_t cap)
{
    if (!a->rule) {
        char why[256];
        a->rule = sky__rule_compile(get_str(a->config, "AlarmRule"), why, sizeof why);
        if (!a->rule)
            return -1;
    }
    int states[SKY__RULE_MAX_REFS];
    char list[900] = "";
    size_t len = 0;
    for (size_t i = 0; i < sky__rule_n_refs(a->rule); i++) {
        long k = find_alarm(v, n, sky__rule_ref(a->rule, i));
        states[i] = k >= 0 ? v[k].state : -1;
        if (len + 80 < sizeof list)
            len += (size_t)snprintf(list + len, sizeof list - len, "%s%.60s is %s",
                                    i ? ", " : "", sky__rule_ref(a->rule, i),
                                    k >= 0 ? sky__alarm_state_name(v[k].state) : "missing");
    }
    bool holds = sky__rule_eval(a->rule, states);
    snprintf(reason, cap, "The alarm rule is %s: %s.", holds ? "true" : "false", list);
    return holds ? SKY__STATE_ALARM : SKY__STATE_OK;
}

int sky__alarms_evaluate(sky__server *srv, int64_t now_ms)
{
    /* Records carry the time they were made; now_ms only places the evaluated periods. */
    int64_t wall = sky__now_ms();
    sqlite3 *db = sky__store_lock(srv->store);
    alarm *v = NULL;
    long n = load_alarms(db, &v);
    int transitions = 0;
    char reason[1100];
    if (n < 0 || sky__store_begin(db) != SQLITE_OK) {
        fprintf(stderr, "skylog serve: alarm evaluation: store error: %s\n", sqlite3_errmsg(db));
        free_alarms(v, n);
        sky__store_unlock(srv->store);
        return -1;
    }
    int rc = SQLITE_OK;
    for (long i = 0; i < n && rc == SQLITE_OK; i++) {
        if (v[i].composite)
            continue;
        json_t *rd = NULL;
        int st = evaluate_metric(db, &v[i], now_ms, reason, sizeof reason, &rd);
        if (st == -2)
            rc = SQLITE_ERROR;
        if (st >= 0 && st != v[i].state) {
            char *rds = rd ? json_dumps(rd, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
            rc = transition(db, &v[i], st, reason, rds, wall);
            free(rds);
            transitions++;
        }
        json_decref(rd);
    }
    /* Composites until none changes: each pass settles at least one more level of nesting,
     * and rules are acyclic, so n + 1 passes always suffice. */
    bool changed = true;
    for (long pass = 0; changed && pass <= n && rc == SQLITE_OK; pass++) {
        changed = false;
        for (long i = 0; i < n && rc == SQLITE_OK; i++) {
            if (!v[i].composite)
                continue;
            int st = evaluate_composite(v, n, &v[i], reason, sizeof reason);
            if (st >= 0 && st != v[i].state) {
                rc = transition(db, &v[i], st, reason, NULL, wall);
                transitions++;
                changed = true;
            }
        }
    }
    if (rc != SQLITE_OK || sky__store_commit(db) != SQLITE_OK) {
        char why[256];
        sky__store_rollback(db, why, sizeof why);
        fprintf(stderr, "skylog serve: alarm evaluation: store error: %s\n", why);
        transitions = -1;
    }
    free_alarms(v, n);
    sky__store_unlock(srv->store);
    return transitions;
}

/* ---- the timer ---------------------------------------------------------------------------- */

struct sky__alarm_timer {
    sky__server *srv;
    int64_t interval_ms;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
};

static void *timer_main(void *arg)
{
    sky__alarm_timer *t = arg;
    pthread_mutex_lock(&t->mu);
    while (!t->stop) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += t->interval_ms / 1000;
        until.tv_nsec += (t->interval_ms % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        while (!t->stop && pthread_cond_timedwait(&t->cv, &t->mu, &until) == 0)
            ;
        if (t->stop)
            break;
        pthread_mutex_unlock(&t->mu);
        sky__alarms_evaluate(t->srv, sky__now_ms());
        pthread_mutex_lock(&t->mu);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

sky__alarm_timer *sky__alarm_timer_start(sky__server *srv, int64_t interval_ms)
{
    sky__alarm_timer *t = calloc(1, sizeof *t);
    if (!t || interval_ms <= 0) {
        free(t);
        return NULL;
    }
    t->srv = srv;
    t->interval_ms = interval_ms;
    pthread_mutex_init(&t->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&t->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&t->thread, NULL, timer_main, t) != 0) {
        pthread_cond_destroy(&t->cv);
        pthread_mutex_destroy(&t->mu);
        free(t);
        return NULL;
    }
    return t;
}

void sky__alarm_timer_stop(sky__alarm_timer *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->mu);
    t->stop = true;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

/* ---- the test hook ------------------------------------------------------------------------ */

bool sky__alarms_test_hook(const sky__request *req, sky__reply *r)
{
    int64_t at;
    int h = sky__test_hook(req, r, "/_skylog/evaluate-alarms", "at", sky__now_ms(),
                           4000000000000LL, &at); /* Unix milliseconds */
    if (h <= 0)
        return h < 0;
    int n = sky__alarms_evaluate(req->server, at);
    if (n < 0)
        sky__reply_aws_error(r, 500, "application/json", "InternalServiceError",
                             "alarm evaluation failed (see the server's stderr)");
    else
        sky__reply_json(r, 200, "application/json", json_pack("{s:i}", "transitions", n));
    return true;
}

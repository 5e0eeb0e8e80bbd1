/*
 * metric_filters.c - CloudWatch Logs metric filters (see metric_filters.h).
 *
 * A filter is stored as its pattern text and its one metricTransformation, kept as the JSON the
 * API returns, so Describe answers exactly what Put accepted. Publishing happens inside the
 * ingestion transaction: an event stored is an event counted, and a failed request publishes
 * nothing. Each ingestion request compiles its group's filters once (sky__mf_begin) and parses
 * each event's JSON at most once for all of them.
 *
 * What a filter publishes, as CloudWatch documents it: for every matching event, one datapoint
 * at the event's timestamp whose value is metricValue (a number, a $.selector read from the
 * event, or a $field of a space-delimited pattern: an event where it is missing or not a
 * number publishes nothing), with dimensions read from the event's JSON fields or the
 * pattern's $fields (an event missing one publishes nothing). defaultValue is
 * published for each minute in which the request ingested events and none matched (CloudWatch
 * reports it "during a period when logs are ingested but no matching logs are found"); it is
 * exclusive with dimensions, as in CloudWatch.
 *
 * Work is bounded: a request evaluates at most MAX_WORK (message bytes x pattern cost) across
 * its filters; events past it are not evaluated, and a line on stderr says how many.
 */
#include "metric_filters.h"
#include "logs_fail.h"

#include "filter_pattern.h"
#include "filter_regex.h"
#include "jsonbody.h"
#include "logs_api.h"
#include "metrics_api.h"
#include "server.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CT SKY__CT_JSON11
#define MAX_FILTERS 100 /* per log group, CloudWatch's quota */
#define MAX_REGEX_FILTERS 5 /* filters whose pattern holds a %regex%, per log group: the same */
#define MAX_DIMS 3
#define MAX_TEST_MESSAGES 50
#define MAX_WORK (256u << 20)

#define NOT_NULL(v, field)                                                               \
    do {                                                                                 \
        if (!(v))                                                                        \
            INVALID("1 validation error detected: Value null at '%s' failed to satisfy " \
                    "constraint: Member must not be null",                               \
                    field);                                                              \
    } while (0)

/* The model's length and pattern constraints, in AWS's validation words; NULL when valid. */
static const char *check_text(const char *v, const char *field, size_t min, size_t max,
                              const char *forbidden, const char *regex, char *buf, size_t cap)
{
    size_t n = strlen(v);
    if (n < min || n > max)
        snprintf(buf, cap,
                 "1 validation error detected: Value '%.64s' at '%s' failed to satisfy "
                 "constraint: Member must have length %s %zu",
                 v, field, n < min ? "greater than or equal to" : "less than or equal to",
                 n < min ? min : max);
    else if (forbidden && strpbrk(v, forbidden))
        snprintf(buf, cap,
                 "1 validation error detected: Value '%.64s' at '%s' failed to satisfy "
                 "constraint: Member must satisfy regular expression pattern: %s",
                 v, field, regex);
    else
        return NULL;
    return buf;
}

#define STR_ARG(obj, key, var)                                                           \
    do {                                                                                 \
        if (sky__logs_str_arg(obj, key, &(var)) < 0)                                               \
            FAIL_STATUS(400, "SerializationException", "Unexpected value type for '%s'", key); \
    } while (0)

/* A number literal ("1", "-0.5") for metricValue; false for anything else. */
static bool number_text(const char *s, double *out)
{
    char *end;
    if (!*s)
        return false;
    *out = strtod(s, &end);
    return *end == '\0' && isfinite(*out);
}

/* ---- a compiled filter -------------------------------------------------------------------- */

typedef struct minute_seen {
    int64_t minute;
    bool matched;
} minute_seen;

typedef struct mfilter {
    char *name;
    sky__pattern *pattern;
    size_t cost;
    sky__selector *value_sel; /* NULL: value_lit or value_field */
    long value_field;         /* a space-delimited pattern's $field, or -1 */
    double value_lit;
    sky__field *fields;       /* space-delimited patterns: what each $field matched */
    bool has_default;
    double dflt;
    const char *ns, *metric, *unit; /* into tr */
    size_t ndims;
    const char *dim_names[MAX_DIMS];
    sky__selector *dim_sel[MAX_DIMS];
    long dim_field[MAX_DIMS]; /* space-delimited patterns: the $field of each dimension */
    json_t *tr; /* the stored transformation */
    minute_seen *minutes; /* for the default value: the minutes ingested, and whether matched */
    size_t n_minutes, cap_minutes;
} mfilter;

static void mfilter_clear(mfilter *f)
{
    free(f->name);
    sky__pattern_free(f->pattern);
    sky__selector_free(f->value_sel);
    for (size_t i = 0; i < f->ndims; i++)
        sky__selector_free(f->dim_sel[i]);
    free(f->fields);
    json_decref(f->tr);
    free(f->minutes);
    memset(f, 0, sizeof *f);
}

/* Compiles a filter from its pattern and transformation; on failure, *why says what is wrong
 * in the words PutMetricFilter answers with. The transformation is validated here, so Put and
 * ingestion agree on what a valid filter is. */
static bool mfilter_compile(mfilter *f, const char *pattern, json_t *tr, unsigned rx_flags,
                            char *why, size_t cap, bool *limited)
{
    char pwhy[400];
    memset(f, 0, sizeof *f);
    f->pattern = sky__pattern_compile_ex(pattern, rx_flags, pwhy, sizeof pwhy, limited);
    if (!f->pattern) {
        snprintf(why, cap, "%s%s", limited && *limited ? "" : "Invalid metric filter pattern: ",
                 pwhy);
        return false;
    }
    f->cost = sky__pattern_cost(f->pattern);
    f->value_field = -1;
    size_t nfields = sky__pattern_n_fields(f->pattern);
    if (nfields && !(f->fields = calloc(nfields, sizeof *f->fields))) {
        snprintf(why, cap, "out of memory");
        return false;
    }
    f->tr = json_incref(tr);
    f->ns = json_string_value(json_object_get(tr, "metricNamespace"));
    f->metric = json_string_value(json_object_get(tr, "metricName"));
    f->unit = json_string_value(json_object_get(tr, "unit"));
    const char *value = json_string_value(json_object_get(tr, "metricValue"));
    bool json_pattern = sky__pattern_is_json(f->pattern);
    if (!f->ns || !f->metric || !value) {
        snprintf(why, cap, "Invalid metric transformation: metricName, metricNamespace and "
                           "metricValue are required.");
        return false;
    }
    if (value[0] == '$' && nfields) {
        if ((f->value_field = sky__pattern_field_index(f->pattern, value)) < 0) {
            snprintf(why, cap, "Invalid metric value '%.100s': it must name a field of the "
                               "space-delimited filter pattern, such as $size",
                     value);
            return false;
        }
    } else if (value[0] == '$') {
        if (!json_pattern || !(f->value_sel = sky__selector_compile(value))) {
            snprintf(why, cap, "Invalid metric value '%.100s': a $.selector needs a JSON filter "
                               "pattern ({ ... }) and must select a field such as $.latency, "
                               "or a space-delimited one ([...]) and name its field",
                     value);
            return false;
        }
    } else if (!number_text(value, &f->value_lit)) {
        snprintf(why, cap, "Invalid metric value '%.100s': a number or a $.selector", value);
        return false;
    }
    json_t *d = json_object_get(tr, "defaultValue");
    if (d) {
        f->has_default = true;
        f->dflt = json_number_value(d);
    }
    json_t *dims = json_object_get(tr, "dimensions");
    if (dims && json_object_size(dims)) {
        if (f->has_default) {
            snprintf(why, cap, "Invalid metric transformation: dimensions and default value are "
                               "mutually exclusive properties");
            return false;
        }
        if (!json_pattern && !nfields) {
            snprintf(why, cap, "The specified filter pattern does not support dimensions");
            return false;
        }
        if (json_object_size(dims) > MAX_DIMS) {
            snprintf(why, cap, "A metric filter can have at most %d dimensions", MAX_DIMS);
            return false;
        }
        const char *k;
        json_t *v;
        json_object_foreach(dims, k, v)
        {
            const char *sel = json_string_value(v);
            f->dim_field[f->ndims] = nfields && sel ? sky__pattern_field_index(f->pattern, sel) : -1;
            if (nfields ? f->dim_field[f->ndims] < 0
                        : !sel || !(f->dim_sel[f->ndims] = sky__selector_compile(sel))) {
                snprintf(why, cap, "Invalid dimension value for '%.100s': it must select a field "
                                   "of the log event, such as $.host, or name a field of the "
                                   "space-delimited filter pattern",
                         k);
                return false;
            }
            f->dim_names[f->ndims++] = k;
        }
    }
    return true;
}

/* ---- PutMetricFilter ---------------------------------------------------------------------- */

/* Takes the store lock and finds `group`: the locked connection with *gid, or NULL, unlocked,
 * with ResourceNotFoundException (or the store's error) replied. */
static sqlite3 *lock_group(const sky__request *req, sky__reply *r, const char *group,
                           int64_t *gid)
{
    sqlite3 *db = sky__store_lock(req->server->store);
    *gid = sky__logs_find_group(db, group);
    if (*gid >= 0)
        return db;
    if (*gid == -2)
        sky__reply_aws_error(r, 500, CT, "ServiceUnavailableException", "store error: %s",
                             sqlite3_errmsg(db));
    else
        sky__reply_aws_error(r, 400, CT, "ResourceNotFoundException",
                             "The specified log group does not exist.");
    sky__store_unlock(req->server->store);
    return NULL;
}

/* logGroupName and filterName, both required and checked (Put and Delete); false with the
 * error replied. */
static bool names_arg(json_t *body, sky__reply *r, const char **group, const char **name)
{
    char why[700];
    STR_ARG(body, "logGroupName", *group);
    STR_ARG(body, "filterName", *name);
    NOT_NULL(*group, "logGroupName");
    if (!sky__logs_group_name_ok(*group, "logGroupName", r))
        return false;
    NOT_NULL(*name, "filterName");
    if (check_text(*name, "filterName", 1, 512, ":*", "[^:*]*", why, sizeof why))
        INVALID("%s", why);
    return true;
out:
    return false;
}

/* The transformation as stored and described: only the members the API defines, with the
 * types it defines; NULL (with *why) when one is wrong. */
static json_t *read_transformation(json_t *list, char *why, size_t cap)
{
    if (!json_is_array(list) || json_array_size(list) != 1) {
        snprintf(why, cap, "1 validation error detected: Value at 'metricTransformations' failed "
                           "to satisfy constraint: Member must have length %s 1",
                 json_is_array(list) && json_array_size(list) > 1 ? "less than or equal to"
                                                                  : "greater than or equal to");
        return NULL;
    }
    json_t *in = json_array_get(list, 0), *out = json_object();
    static const struct {
        const char *key;
        size_t max;
        bool required;
    } texts[] = {{"metricName", 255, true}, {"metricNamespace", 255, true},
                 {"metricValue", 100, true}, {"unit", 64, false}};
    for (size_t i = 0; i < 4; i++) {
        json_t *v = json_object_get(in, texts[i].key);
        char field[64];
        snprintf(field, sizeof field, "metricTransformations.1.member.%s", texts[i].key);
        if (!v || json_is_null(v)) {
            if (!texts[i].required)
                continue;
            snprintf(why, cap, "1 validation error detected: Value null at '%s' failed to "
                               "satisfy constraint: Member must not be null", field);
            goto fail;
        }
        if (!json_is_string(v)) {
            snprintf(why, cap, "Unexpected value type for '%s'", texts[i].key);
            goto fail;
        }
        const char *s = json_string_value(v);
        bool named = i < 2;
        if (check_text(s, field, 0, texts[i].max, named ? ":*$" : NULL, "[^:*$]*", why, cap))
            goto fail;
        if (named && !*s) {
            snprintf(why, cap, "1 validation error detected: Value '' at '%s' failed to "
                               "satisfy constraint: Member must have length greater than or "
                               "equal to 1", field);
            goto fail;
        }
        if (i == 3 && !sky__metrics_valid_unit(s)) {
            snprintf(why, cap, "1 validation error detected: Value '%.64s' at '%s' failed to "
                               "satisfy constraint: Member must satisfy enum value set",
                     s, field);
            goto fail;
        }
        json_object_set(out, texts[i].key, v);
    }
    json_t *d = json_object_get(in, "defaultValue");
    if (d && !json_is_null(d)) {
        if (!json_is_number(d) || !isfinite(json_number_value(d))) {
            snprintf(why, cap, "Unexpected value type for 'defaultValue'");
            goto fail;
        }
        json_object_set_new(out, "defaultValue", json_real(json_number_value(d)));
    }
    json_t *dims = json_object_get(in, "dimensions");
    if (dims && !json_is_null(dims)) {
        if (!json_is_object(dims)) {
            snprintf(why, cap, "Unexpected value type for 'dimensions'");
            goto fail;
        }
        const char *k;
        json_t *v;
        json_object_foreach(dims, k, v)
        {
            if (!json_is_string(v) || strlen(k) < 1 || strlen(k) > 255 ||
                strlen(json_string_value(v)) > 255) {
                snprintf(why, cap, "Invalid dimension '%.64s': names and values are strings of "
                                   "1 to 255 characters", k);
                goto fail;
            }
        }
        if (json_object_size(dims))
            json_object_set(out, "dimensions", dims);
    }
    return out;
fail:
    json_decref(out);
    return NULL;
}

/* The group's filters other than `name` whose pattern holds a %regex% (one stored pattern
 * that no longer compiles counts as none, as ingestion skips it). */
static int count_regex_filters(sqlite3 *db, int64_t gid, const char *name, int *count)
{
    sqlite3_stmt *st;
    *count = 0;
    if (sqlite3_prepare_v2(db, "SELECT pattern FROM metric_filters WHERE group_id=?1 AND name<>?2",
                           -1, &st, NULL) != SQLITE_OK)
        return SQLITE_ERROR;
    sqlite3_bind_int64(st, 1, gid);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char why[400];
        /* under the store lock, one at a time, freed at once: never refused for the limit */
        sky__pattern *p = sky__pattern_compile_ex((const char *)sqlite3_column_text(st, 0),
                                                  SKY__FREGEX_UNLIMITED, why, sizeof why, NULL);
        *count += p && sky__pattern_n_regex(p);
        sky__pattern_free(p);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
}

void sky__put_metric_filter(const sky__request *req, json_t *body, sky__reply *r)
{
    const char *group, *name, *pattern, *fsc;
    char why[700];
    sqlite3 *db = NULL;
    json_t *tr = NULL;
    mfilter f = {0};
    if (!names_arg(body, r, &group, &name))
        return;
    STR_ARG(body, "filterPattern", pattern);
    STR_ARG(body, "fieldSelectionCriteria", fsc);
    NOT_NULL(pattern, "filterPattern");
    if (check_text(pattern, "filterPattern", 0, 1024, NULL, NULL, why, sizeof why))
        INVALID("%s", why);
    json_t *list = json_object_get(body, "metricTransformations");
    NOT_NULL(list && !json_is_null(list), "metricTransformations");
    if (!(tr = read_transformation(list, why, sizeof why)))
        INVALID("%s", why);
    /* No log transformers and no system fields here: refusing them says so, where storing
     * and ignoring them would publish what CloudWatch would not. */
    json_t *aot = json_object_get(body, "applyOnTransformedLogs");
    if (aot && json_is_true(aot))
        INVALID("applyOnTransformedLogs: skylog serve has no log transformers.");
    json_t *esf = json_object_get(body, "emitSystemFieldDimensions");
    if ((fsc && *fsc) || (json_is_array(esf) && json_array_size(esf)))
        INVALID("fieldSelectionCriteria and emitSystemFieldDimensions are not supported by "
                "skylog serve.");
    bool limited = false;
    if (!mfilter_compile(&f, pattern, tr, 0, why, sizeof why, &limited)) {
        if (limited)
            FAIL_STATUS(400, "LimitExceededException", "%s", why);
        INVALID("%s", why);
    }
    int64_t gid;
    if (!(db = lock_group(req, r, group, &gid)))
        goto out;
    sqlite3_stmt *st;
    int count = 0, exists = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT COUNT(*), SUM(name = ?2) FROM metric_filters WHERE group_id=?1",
                           -1, &st, NULL) != SQLITE_OK)
        DB_FAIL();
    sqlite3_bind_int64(st, 1, gid);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        count = sqlite3_column_int(st, 0);
        exists = sqlite3_column_int(st, 1);
    }
    sqlite3_finalize(st);
    if (!exists && count >= MAX_FILTERS)
        FAIL_STATUS(400, "LimitExceededException", "Resource limit exceeded.");
    if (sky__pattern_n_regex(f.pattern)) {
        int rc_count = count_regex_filters(db, gid, name, &count);
        if (rc_count != SQLITE_OK)
            DB_FAIL();
        if (count >= MAX_REGEX_FILTERS)
            FAIL_STATUS(400, "LimitExceededException",
                        "Resource limit exceeded: a log group has at most %d filter patterns "
                        "containing regular expressions (%%...%%)",
                        MAX_REGEX_FILTERS);
    }
    char *trs = json_dumps(tr, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    if (!trs)
        FAIL_STATUS(500, "ServiceUnavailableException", "out of memory");
    /* Put on an existing name replaces the filter and keeps its creation time, as AWS does. */
    int rc = sqlite3_prepare_v2(
        db,
        "INSERT INTO metric_filters(group_id, name, pattern, transformation, created) "
        "VALUES(?1,?2,?3,?4,?5) ON CONFLICT(group_id, name) DO UPDATE SET "
        "pattern=excluded.pattern, transformation=excluded.transformation",
        -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, gid);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, pattern, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, trs, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, sky__now_ms());
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
        sqlite3_finalize(st);
    }
    free(trs);
    if (rc != SQLITE_OK)
        DB_FAIL();
    sky__reply_raw(r, 200, CT, "", 0);
out:
    if (db)
        sky__store_unlock(req->server->store);
    mfilter_clear(&f);
    json_decref(tr);
}

/* ---- DescribeMetricFilters ---------------------------------------------------------------- */

void sky__describe_metric_filters(const sky__request *req, json_t *body, sky__reply *r)
{
    const char *group, *prefix, *token, *metric, *ns;
    char why[700];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    json_t *items = NULL;
    STR_ARG(body, "logGroupName", group);
    STR_ARG(body, "filterNamePrefix", prefix);
    STR_ARG(body, "nextToken", token);
    STR_ARG(body, "metricName", metric);
    STR_ARG(body, "metricNamespace", ns);
    if (group && !sky__logs_group_name_ok(group, "logGroupName", r))
        return;
    if (prefix && check_text(prefix, "filterNamePrefix", 1, 512, ":*", "[^:*]*", why, sizeof why))
        INVALID("%s", why);
    if ((metric != NULL) != (ns != NULL))
        INVALID("metricName and metricNamespace must be specified together.");
    json_t *lj = json_object_get(body, "limit");
    int64_t limit = 50, off = 0;
    if (lj && !json_is_null(lj)) {
        if (!json_is_integer(lj))
            FAIL_STATUS(400, "SerializationException", "Unexpected value type for 'limit'");
        limit = json_integer_value(lj);
        if (limit < 1 || limit > 50)
            INVALID("1 validation error detected: Value '%" PRId64 "' at 'limit' failed to "
                    "satisfy constraint: Member must have value %s",
                    limit, limit < 1 ? "greater than or equal to 1" : "less than or equal to 50");
    }
    if (!sky__offset_token_parse(token, &off))
        INVALID("The specified nextToken is invalid.");
    int64_t gid;
    if (group && !(db = lock_group(req, r, group, &gid)))
        goto out;
    if (!db)
        db = sky__store_lock(req->server->store);
    /* The prefix counts only with a group, as the API reference says. */
    if (sqlite3_prepare_v2(
            db,
            "SELECT f.name, f.pattern, f.transformation, f.created, g.name FROM metric_filters f "
            "JOIN log_groups g ON g.id = f.group_id WHERE (?1 IS NULL OR g.name = ?1) "
            "AND (?1 IS NULL OR ?2 IS NULL OR instr(f.name, ?2) = 1) "
            "AND (?3 IS NULL OR (json_extract(f.transformation, '$.metricName') = ?3 "
            "AND json_extract(f.transformation, '$.metricNamespace') = ?4)) "
            "ORDER BY g.name, f.name LIMIT ?5 OFFSET ?6",
            -1, &st, NULL) != SQLITE_OK)
        DB_FAIL();
    if (group)
        sqlite3_bind_text(st, 1, group, -1, SQLITE_STATIC);
    if (prefix)
        sqlite3_bind_text(st, 2, prefix, -1, SQLITE_STATIC);
    if (metric) {
        sqlite3_bind_text(st, 3, metric, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, ns, -1, SQLITE_STATIC);
    }
    sqlite3_bind_int64(st, 5, limit + 1);
    sqlite3_bind_int64(st, 6, off);
    items = json_array();
    bool more = false;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if ((int64_t)json_array_size(items) == limit) {
            more = true;
            break;
        }
        json_t *tr = json_loads((const char *)sqlite3_column_text(st, 2), 0, NULL);
        json_array_append_new(
            items, json_pack("{s:s,s:s,s:[o],s:I,s:s,s:b}", "filterName",
                             (const char *)sqlite3_column_text(st, 0), "filterPattern",
                             (const char *)sqlite3_column_text(st, 1), "metricTransformations",
                             tr ? tr : json_object(), "creationTime",
                             (json_int_t)sqlite3_column_int64(st, 3), "logGroupName",
                             (const char *)sqlite3_column_text(st, 4), "applyOnTransformedLogs",
                             0));
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        DB_FAIL();
    sky__reply_offset_page(r, CT, json_pack("{s:O}", "metricFilters", items), more, off + limit);
out:
    sqlite3_finalize(st);
    if (db)
        sky__store_unlock(req->server->store);
    json_decref(items);
}

/* ---- DeleteMetricFilter ------------------------------------------------------------------- */

void sky__delete_metric_filter(const sky__request *req, json_t *body, sky__reply *r)
{
    const char *group, *name;
    sqlite3 *db = NULL;
    if (!names_arg(body, r, &group, &name))
        return;
    int64_t gid;
    if (!(db = lock_group(req, r, group, &gid)))
        goto out;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "DELETE FROM metric_filters WHERE group_id=? AND name=?", -1, &st,
                           NULL) != SQLITE_OK)
        DB_FAIL();
    sqlite3_bind_int64(st, 1, gid);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        DB_FAIL();
    if (sqlite3_changes(db) == 0)
        FAIL_STATUS(400, "ResourceNotFoundException", "The specified metric filter does not exist.");
    sky__reply_raw(r, 200, CT, "", 0);
out:
    if (db)
        sky__store_unlock(req->server->store);
}

/* ---- TestMetricFilter --------------------------------------------------------------------- */

void sky__test_metric_filter(const sky__request *req, json_t *body, sky__reply *r)
{
    (void)req;
    const char *pattern;
    char why[700], pwhy[400];
    sky__pattern *p = NULL;
    sky__field *fields = NULL;
    json_t *matches = NULL;
    STR_ARG(body, "filterPattern", pattern);
    NOT_NULL(pattern, "filterPattern");
    if (check_text(pattern, "filterPattern", 0, 1024, NULL, NULL, why, sizeof why))
        INVALID("%s", why);
    json_t *msgs = json_object_get(body, "logEventMessages");
    NOT_NULL(msgs && !json_is_null(msgs), "logEventMessages");
    if (!json_is_array(msgs))
        FAIL_STATUS(400, "SerializationException", "Unexpected value type for 'logEventMessages'");
    size_t n = json_array_size(msgs);
    if (n < 1 || n > MAX_TEST_MESSAGES)
        INVALID("1 validation error detected: Value at 'logEventMessages' failed to satisfy "
                "constraint: Member must have length %s",
                n < 1 ? "greater than or equal to 1" : "less than or equal to 50");
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(msgs, i);
        if (!json_is_string(m))
            FAIL_STATUS(400, "SerializationException",
                        "Unexpected value type in 'logEventMessages'");
        if (json_string_length(m) < 1)
            INVALID("1 validation error detected: Value '' at 'logEventMessages.%zu.member' "
                    "failed to satisfy constraint: Member must have length greater than or "
                    "equal to 1",
                    i + 1);
    }
    bool limited;
    if (!(p = sky__pattern_compile_ex(pattern, 0, pwhy, sizeof pwhy, &limited))) {
        if (limited)
            FAIL_STATUS(400, "LimitExceededException", "%s", pwhy);
        INVALID("Invalid metric filter pattern: %s", pwhy);
    }
    /* The same bound as ingestion's (a 2,000-step regex over 8 MiB of messages would hold a
     * connection for minutes), but refused whole: a test that silently skipped messages
     * would report them as not matching. */
    size_t work = 0, cost = sky__pattern_cost(p);
    for (size_t i = 0; i < n; i++)
        work += (json_string_length(json_array_get(msgs, i)) + 1) * cost;
    if (work > MAX_WORK)
        INVALID("These messages and this pattern need more work than skylog serve does in one "
                "call (message bytes x pattern cost %zu > %u): test fewer or shorter messages",
                work, MAX_WORK);
    size_t nf = sky__pattern_n_fields(p);
    if (nf && !(fields = calloc(nf, sizeof *fields)))
        FAIL_STATUS(500, "ServiceUnavailableException", "out of memory");
    matches = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(msgs, i);
        if (!sky__pattern_match_fields(p, json_string_value(m), json_string_length(m), fields))
            continue;
        /* The values a space-delimited pattern's $fields took, as metric filters read them. */
        json_t *ev = json_object();
        for (size_t k = 0; k < nf; k++) {
            char key[SKY__PATTERN_MAX_LEN + 2];
            snprintf(key, sizeof key, "$%s", sky__pattern_field_name(p, k));
            json_object_set_new(ev, key, json_stringn(fields[k].ptr, fields[k].len));
        }
        json_array_append_new(matches, json_pack("{s:I,s:O,s:o}", "eventNumber",
                                                 (json_int_t)(i + 1), "eventMessage", m,
                                                 "extractedValues", ev));
    }
    sky__reply_json(r, 200, CT, json_pack("{s:O}", "matches", matches));
out:
    free(fields);
    sky__pattern_free(p);
    json_decref(matches);
}

/* ---- publishing at ingestion -------------------------------------------------------------- */

struct sky__mf_run {
    sqlite3 *db;
    int64_t now_ms;
    mfilter *f;
    size_t n;
    bool needs_json;
    size_t work;        /* message bytes x pattern cost spent so far */
    size_t skipped;     /* events not evaluated once the budget ran out */
    size_t failed;      /* datapoints the store refused */
};

bool sky__mf_test_hook(const sky__request *req, sky__reply *r)
{
    int64_t bytes;
    int h = sky__test_hook(req, r, "/_skylog/regex-program-limit", "bytes",
                           SKY__FREGEX_PROGRAM_LIMIT, INT64_MAX, &bytes);
    if (h <= 0)
        return h < 0;
    sky__fregex_set_program_limit((size_t)bytes);
    sky__reply_json(r, 200, "application/json",
                    json_pack("{s:I,s:I}", "limitBytes", (json_int_t)bytes, "programBytes",
                              (json_int_t)sky__fregex_program_bytes()));
    return true;
}

sky__mf_run *sky__mf_begin(sqlite3 *db, int64_t gid, int64_t now_ms)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT name, pattern, transformation FROM metric_filters "
                           "WHERE group_id=? ORDER BY name",
                           -1, &st, NULL) != SQLITE_OK)
        return NULL;
    sqlite3_bind_int64(st, 1, gid);
    sky__mf_run *run = NULL;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (!run && !(run = calloc(1, sizeof *run)))
            break;
        if (!run->f && !(run->f = calloc(MAX_FILTERS, sizeof *run->f)))
            break;
        if (run->n == MAX_FILTERS)
            break;
        json_t *tr = json_loads((const char *)sqlite3_column_text(st, 2), 0, NULL);
        char why[256];
        mfilter *f = &run->f[run->n];
        /* Stored filters were valid when put; one that no longer compiles is skipped. Their
         * regular expressions are not refused for the process-wide limit: ingestion runs one
         * request at a time (under the store lock) with at most MAX_REGEX_FILTERS of them,
         * and a filter never fails ingestion, nor may it skip events for other requests. */
        if (tr && mfilter_compile(f, (const char *)sqlite3_column_text(st, 1), tr,
                                  SKY__FREGEX_UNLIMITED, why, sizeof why, NULL)) {
            f->name = strdup((const char *)sqlite3_column_text(st, 0));
            run->needs_json |= sky__pattern_is_json(f->pattern) || f->value_sel != NULL;
            run->n++;
        } else {
            mfilter_clear(f);
        }
        json_decref(tr);
    }
    sqlite3_finalize(st);
    if (run) {
        run->db = db;
        run->now_ms = now_ms;
        if (!run->f || run->n == 0) {
            free(run->f);
            free(run);
            run = NULL;
        }
    }
    return run;
}

static void publish(sky__mf_run *run, mfilter *f, json_t *dims, int64_t ts_ms, double v)
{
    if (sky__metrics_store_point(run->db, f->ns, f->metric, dims, ts_ms, f->unit, 1, v, v, v) !=
        SQLITE_OK)
        run->failed++;
}

/* The minute of ts_ms was ingested (and matched or not), for the default value. */
static void note_minute(mfilter *f, int64_t ts_ms, bool matched)
{
    int64_t m = ts_ms >= 0 ? ts_ms / 60000 : -1;
    for (size_t i = f->n_minutes; i-- > 0 && i + 8 >= f->n_minutes;) /* recent ones first */
        if (f->minutes[i].minute == m) {
            f->minutes[i].matched |= matched;
            return;
        }
    if (f->n_minutes == f->cap_minutes) {
        size_t cap = f->cap_minutes ? f->cap_minutes * 2 : 16;
        minute_seen *nm = realloc(f->minutes, cap * sizeof *nm);
        if (!nm)
            return;
        f->minutes = nm;
        f->cap_minutes = cap;
    }
    f->minutes[f->n_minutes++] = (minute_seen){m, matched};
}

/* A dimension value from the event: strings as they are, numbers and booleans as JSON text;
 * NULL (publish nothing) for a missing field, null, an object or an array. */
static char *dim_value(json_t *v)
{
    if (json_is_string(v))
        return json_string_length(v) >= 1 && json_string_length(v) <= 1024
                   ? strdup(json_string_value(v))
                   : NULL;
    if (json_is_number(v) || json_is_boolean(v))
        return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    return NULL;
}

/* A space-delimited field as a metric value: all of it a finite number within PutMetricData's
 * range, else the event publishes nothing (as for a $.selector that is not a number). */
static bool field_value(const sky__field *fl, double *v)
{
    return sky__field_number(fl, v) && isfinite(*v) && fabs(*v) <= 0x1p360;
}

/* A space-delimited field as a dimension value: 1-1024 bytes, as dim_value. */
static char *field_dim(const sky__field *fl)
{
    return fl->len >= 1 && fl->len <= 1024 ? strndup(fl->ptr, fl->len) : NULL;
}

void sky__mf_event(sky__mf_run *run, const char *msg, size_t len, int64_t ts_ms)
{
    if (!run)
        return;
    json_t *root = NULL;
    bool parsed = false;
    for (size_t i = 0; i < run->n; i++) {
        mfilter *f = &run->f[i];
        size_t cost = (len + 1) * f->cost;
        if (run->work + cost > MAX_WORK) {
            run->skipped++;
            break;
        }
        run->work += cost;
        if (run->needs_json && !parsed) {
            const char *why;
            root = sky__json_load(msg, len, &why); /* bounded, once for all filters */
            parsed = true;
        }
        bool match = f->fields ? sky__pattern_match_fields(f->pattern, msg, len, f->fields)
                               : sky__pattern_match_parsed(f->pattern, msg, len, root);
        if (f->has_default)
            note_minute(f, ts_ms, match);
        if (!match)
            continue;
        double v = f->value_lit;
        if (f->value_field >= 0) {
            if (!field_value(&f->fields[f->value_field], &v))
                continue;
        } else if (f->value_sel) {
            json_t *x = sky__selector_get(f->value_sel, root);
            char *end;
            if (json_is_number(x))
                v = json_number_value(x);
            else if (json_is_string(x) && (v = strtod(json_string_value(x), &end), *end == '\0') &&
                     end != json_string_value(x))
                ;
            else
                continue;
            if (!isfinite(v) || fabs(v) > 0x1p360)
                continue;
        }
        json_t *dims = json_array();
        bool complete = true;
        for (size_t k = 0; k < f->ndims && complete; k++) {
            char *dv = f->fields ? field_dim(&f->fields[f->dim_field[k]])
                                 : dim_value(sky__selector_get(f->dim_sel[k], root));
            complete = dv != NULL;
            if (dv)
                json_array_append_new(dims, json_pack("{s:s,s:s}", "Name", f->dim_names[k],
                                                      "Value", dv));
            free(dv);
        }
        if (complete)
            publish(run, f, dims, ts_ms, v);
        json_decref(dims);
    }
    json_decref(root);
}

static int minute_cmp(const void *a, const void *b)
{
    const minute_seen *x = a, *y = b;
    return x->minute < y->minute ? -1 : x->minute > y->minute;
}

void sky__mf_end(sky__mf_run *run)
{
    if (!run)
        return;
    for (size_t i = 0; i < run->n; i++) {
        mfilter *f = &run->f[i];
        /* Sorted, each minute's entries are together (an unsorted ingestion batch may have
         * come back to a minute): a minute without any match gets the default value. */
        if (f->n_minutes)
            qsort(f->minutes, f->n_minutes, sizeof *f->minutes, minute_cmp);
        for (size_t k = 0; k < f->n_minutes;) {
            size_t j = k;
            bool matched = false;
            for (; j < f->n_minutes && f->minutes[j].minute == f->minutes[k].minute; j++)
                matched |= f->minutes[j].matched;
            if (!matched && f->minutes[k].minute >= 0)
                publish(run, f, NULL, f->minutes[k].minute * 60000, f->dflt);
            k = j;
        }
        mfilter_clear(f);
    }
    if (run->skipped || run->failed)
        fprintf(stderr,
                "skylog serve: metric filters: %zu event(s) not evaluated (work budget of one "
                "request spent), %zu datapoint(s) the store refused\n",
                run->skipped, run->failed);
    free(run->f);
    free(run);
}

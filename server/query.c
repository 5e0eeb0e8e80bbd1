/*
 * query.c - awsQuery form parsing and XML rendering (see query.h). Only what the CloudWatch
 * metrics API needs: no XML attributes, no maps ("entry"), lists always wrapped in <member>.
 */
#include "query.h"

#include "reply.h"

#include "util/text.h"

#include <stdbool.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Decodes application/x-www-form-urlencoded text in place ('+' is a space). */
static void form_decode(char *s)
{
    char *o = s;
    uint8_t b;
    for (; *s; s++) {
        if (*s == '+') {
            *o++ = ' ';
        } else if (*s == '%' && s[1] && sky__unhex(s + 1, 1, &b, false)) {
            *o++ = (char)b; /* s[1] is not the NUL, so s[2] is in the string (or is the NUL) */
            s += 2;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
}

/* Limits, checked before anything is allocated for a parameter. AWS's own keys are at most 9
 * segments deep (MetricDataQueries.member.N.MetricStat.Metric.Dimensions.member.N.Value); the
 * list sizes are the CloudWatch API's member limits, so a client learns of an oversized list
 * in AWS's words, and no index can make the parser allocate more than those lists need. */
#define MAX_KEY_BYTES 256
#define MAX_KEY_SEGMENTS 16
#define MAX_LIST_SLOTS 200000 /* all lists of one request: 1,000 datums x 150 values + spare */
#define MAX_PARAMS 400000     /* a gzipped PutMetricData at its limits has ~340,000 */
#define MAX_OBJECT_KEYS 64    /* CloudWatch's structures have at most ~10 members */

/* Every list member name of the operations served, with its limit (DEFAULT_LIST_MAX where the
 * API states none below it). The names also tell an empty list from an empty string: botocore
 * sends an empty list as "Dimensions=" (no members), which must read as [] and not as "". */
static const struct {
    const char *name;
    long max;
} list_limits[] = {
    {"MetricData", 1000},
    {"MetricDataQueries", 500},
    {"Values", 150},
    {"Counts", 150},
    {"Dimensions", 30},
    {"Statistics", 5},
    {"ExtendedStatistics", 10},
    {"AlarmNames", 100},
    {"AlarmActions", 5},
    {"OKActions", 5},
    {"InsufficientDataActions", 5},
    {"AlarmTypes", 2},
    {"Metrics", 10},
    {"Tags", 50},
};
#define DEFAULT_LIST_MAX 100

static long list_max(const char *name)
{
    for (size_t i = 0; i < sizeof list_limits / sizeof list_limits[0]; i++)
        if (strcmp(list_limits[i].name, name) == 0)
            return list_limits[i].max;
    return DEFAULT_LIST_MAX;
}

static bool is_list_name(const char *name)
{
    for (size_t i = 0; i < sizeof list_limits / sizeof list_limits[0]; i++)
        if (strcmp(list_limits[i].name, name) == 0)
            return true;
    return false;
}

typedef struct qerr {
    const char *code;
    char *msg;
    size_t cap;
    size_t slots; /* list slots allocated so far */
} qerr;

static int qfail(qerr *e, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int qfail(qerr *e, const char *code, const char *fmt, ...)
{
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, e->cap, fmt, ap);
    va_end(ap);
    return -1;
}

/* True for well-formed UTF-8 (what jansson requires of keys and strings). */
static bool utf8_ok(const char *s)
{
    for (size_t n; *s; s += n)
        if (!(n = sky__utf8_char_len(s)))
            return false;
    return true;
}

/* Sets `value` at the dotted path `key` inside `root`. Every container is linked into its
 * parent before it is used, and every jansson call is checked: a failed set must never leave
 * us writing into a value jansson has already freed. Depth is bounded by MAX_KEY_SEGMENTS. */
static int set_path(json_t *root, char *key, const char *value, qerr *e)
{
    json_t *cur = root;
    const char *list_name = "";
    char *save = NULL;
    char *seg = strtok_r(key, ".", &save);
    while (seg) {
        char *next = strtok_r(NULL, ".", &save);
        if (strcmp(seg, "member") == 0 && next) {
            /* cur must be an array; next is the 1-based index, bounded before allocating. */
            char *end;
            long max = list_max(list_name);
            bool digits = next[0] >= '1' && next[0] <= '9' && strlen(next) <= 9;
            long idx = digits ? strtol(next, &end, 10) : 0;
            if (!digits || *end || !json_is_array(cur))
                return qfail(e, "MalformedQueryString", "bad list index '%.32s'", next);
            if (idx > max)
                return qfail(e, "InvalidParameterValue",
                             "The collection %.64s must not have a size greater than %ld.",
                             list_name, max);
            size_t have = json_array_size(cur);
            if ((size_t)idx > have) {
                if (e->slots + ((size_t)idx - have) > MAX_LIST_SLOTS)
                    return qfail(e, "InvalidParameterValue",
                                 "Too many list members in the request (more than %d).",
                                 MAX_LIST_SLOTS);
                e->slots += (size_t)idx - have;
                while (json_array_size(cur) < (size_t)idx)
                    if (json_array_append_new(cur, json_null()) != 0)
                        return qfail(e, "InternalFailure", "out of memory");
            }
            char *after = strtok_r(NULL, ".", &save);
            if (!after) {
                json_t *sv = json_string(value);
                if (!sv || json_array_set_new(cur, (size_t)idx - 1, sv) != 0)
                    return qfail(e, "InternalFailure", "out of memory");
                return 0;
            }
            json_t *slot = json_array_get(cur, (size_t)idx - 1);
            if (!json_is_object(slot)) {
                slot = json_object();
                if (!slot || json_array_set(cur, (size_t)idx - 1, slot) != 0) {
                    json_decref(slot);
                    return qfail(e, "InternalFailure", "out of memory");
                }
                json_decref(slot); /* the array holds it now */
            }
            cur = slot;
            seg = after;
            continue;
        }
        if (!json_is_object(cur))
            return qfail(e, "MalformedQueryString", "parameter path conflicts at '%.64s'", seg);
        if (!json_object_get(cur, seg) && json_object_size(cur) >= MAX_OBJECT_KEYS)
            return qfail(e, "MalformedQueryString", "more than %d parameters under one name",
                         MAX_OBJECT_KEYS);
        if (!next) {
            json_t *sv = !*value && is_list_name(seg) ? json_array() : json_string(value);
            if (!sv || json_object_set_new(cur, seg, sv) != 0)
                return qfail(e, "InternalFailure", "out of memory");
            return 0;
        }
        json_t *child = json_object_get(cur, seg);
        if (!child) {
            child = strcmp(next, "member") == 0 ? json_array() : json_object();
            /* json_object_set_new frees `child` when it fails: link with a reference we keep. */
            if (!child || json_object_set(cur, seg, child) != 0) {
                json_decref(child);
                return qfail(e, "InternalFailure", "out of memory");
            }
            json_decref(child);
        }
        list_name = seg;
        cur = child;
        seg = next;
    }
    return 0;
}

/* Sparse lists ("member.1" and "member.3") keep JSON nulls in the gaps; drop them. Recursion
 * depth is the key depth, at most MAX_KEY_SEGMENTS. */
static void compact(json_t *v, int depth)
{
    if (depth > MAX_KEY_SEGMENTS)
        return;
    if (json_is_array(v)) {
        for (size_t i = json_array_size(v); i-- > 0;) {
            if (json_is_null(json_array_get(v, i)))
                json_array_remove(v, i);
            else
                compact(json_array_get(v, i), depth + 1);
        }
    } else if (json_is_object(v)) {
        const char *k;
        json_t *c;
        json_object_foreach(v, k, c) compact(c, depth + 1);
    }
}

json_t *sky__query_parse(const char *body, size_t len, const char **code, char *err, size_t cap)
{
    char *copy = strndup(body, len);
    json_t *root = json_object();
    qerr e = {.code = "MalformedQueryString", .msg = err, .cap = cap};
    if (!copy || !root) {
        snprintf(err, cap, "out of memory");
        *code = "InternalFailure";
        free(copy);
        json_decref(root);
        return NULL;
    }
    char *save = NULL;
    size_t n_params = 0;
    for (char *pair = strtok_r(copy, "&", &save); pair; pair = strtok_r(NULL, "&", &save)) {
        if (++n_params > MAX_PARAMS) {
            qfail(&e, "MalformedQueryString", "more than %d parameters", MAX_PARAMS);
            goto fail;
        }
        char *eq = strchr(pair, '=');
        const char *value = "";
        if (eq) {
            *eq = '\0';
            value = eq + 1;
        }
        form_decode(pair);
        if (strlen(pair) > MAX_KEY_BYTES) {
            qfail(&e, "MalformedQueryString", "parameter name longer than %d bytes", MAX_KEY_BYTES);
            goto fail;
        }
        int segs = 1;
        for (const char *p = pair; *p; p++)
            segs += *p == '.';
        if (segs > MAX_KEY_SEGMENTS) {
            qfail(&e, "MalformedQueryString", "parameter name with more than %d segments",
                  MAX_KEY_SEGMENTS);
            goto fail;
        }
        char *v = strdup(value);
        if (!v) {
            qfail(&e, "InternalFailure", "out of memory");
            goto fail;
        }
        form_decode(v);
        if (!utf8_ok(pair) || !utf8_ok(v)) {
            free(v);
            qfail(&e, "MalformedQueryString", "parameter is not valid UTF-8");
            goto fail;
        }
        int rc = set_path(root, pair, v, &e);
        free(v);
        if (rc != 0)
            goto fail;
    }
    free(copy);
    compact(root, 0);
    return root;
fail:
    *code = e.code;
    free(copy);
    json_decref(root);
    return NULL;
}

/* ---- XML ---------------------------------------------------------------------------------- */

typedef struct xbuf {
    char *s;
    size_t len, cap;
    bool ok;
} xbuf;

static void put(xbuf *b, const char *s, bool esc)
{
    if (b->ok)
        b->ok = sky__xml_append(&b->s, &b->len, &b->cap, s, esc);
}

static void iso8601(double secs, char *buf, size_t cap)
{
    time_t t = (time_t)floor(secs);
    int ms = (int)llround((secs - floor(secs)) * 1000);
    if (ms >= 1000) {
        t++;
        ms -= 1000;
    }
    struct tm tm;
    gmtime_r(&t, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, cap, "%s.%03dZ", base, ms);
}

static void put_scalar(xbuf *b, json_t *v, bool as_time)
{
    char num[64];
    if (json_is_string(v)) {
        put(b, json_string_value(v), true);
    } else if (json_is_number(v) && as_time) {
        iso8601(json_number_value(v), num, sizeof num);
        put(b, num, false);
    } else if (json_is_integer(v)) {
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        put(b, num, false);
    } else if (json_is_real(v)) {
        snprintf(num, sizeof num, "%.17g", json_real_value(v));
        put(b, num, false);
    } else if (json_is_boolean(v)) {
        put(b, json_is_true(v) ? "true" : "false", false);
    }
}

static void put_value(xbuf *b, json_t *v, bool as_time);

static void put_members(xbuf *b, json_t *obj)
{
    const char *k;
    json_t *c;
    json_object_foreach(obj, k, c)
    {
        if (json_is_null(c))
            continue;
        size_t kl = strlen(k);
        bool as_time = strcmp(k, "Timestamps") == 0 ||
                       (kl >= 9 && strcmp(k + kl - 9, "Timestamp") == 0); /* StateUpdated... */
        put(b, "<", false);
        put(b, k, false);
        put(b, ">", false);
        put_value(b, c, as_time);
        put(b, "</", false);
        put(b, k, false);
        put(b, ">", false);
    }
}

static void put_value(xbuf *b, json_t *v, bool as_time)
{
    if (json_is_object(v)) {
        put_members(b, v);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item)
        {
            put(b, "<member>", false);
            put_value(b, item, as_time);
            put(b, "</member>", false);
        }
    } else {
        put_scalar(b, v, as_time);
    }
}

char *sky__query_to_xml(const char *action, json_t *result, unsigned long long request_id,
                        size_t *len)
{
    xbuf b = {.ok = true};
    char rid[SKY__REQUEST_ID_CAP];
    sky__request_id_text(request_id, rid);
    put(&b, "<", false);
    put(&b, action, false);
    put(&b, "Response xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\">", false);
    if (result) {
        put(&b, "<", false);
        put(&b, action, false);
        put(&b, "Result>", false);
        put_members(&b, result);
        put(&b, "</", false);
        put(&b, action, false);
        put(&b, "Result>", false);
    }
    put(&b, "<ResponseMetadata><RequestId>", false);
    put(&b, rid, false);
    put(&b, "</RequestId></ResponseMetadata></", false);
    put(&b, action, false);
    put(&b, "Response>", false);
    if (!b.ok) {
        free(b.s);
        return NULL;
    }
    *len = b.len;
    return b.s;
}

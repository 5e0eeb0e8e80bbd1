/*
 * logs_api.c - CloudWatch Logs operations of the local endpoint (see logs_api.h).
 *
 * Each operation validates its input the way CloudWatch does (same exception types, the same
 * messages where AWS documents them), then runs under the store lock in one transaction. Clients
 * such as skylog's own sink rely on the exact error types to decide what to retry, so when in
 * doubt this file answers as AWS does, not as would be convenient.
 *
 * Pagination tokens are opaque to clients; ours encode a position so a page never repeats or
 * skips an event even while writers append:
 *   GetLogEvents     "f/<ts:19><id:19>" (forward, after) and "b/<ts:19><id:19>" (backward, before)
 *   FilterLogEvents  "p/<ts:19><id:19>" (after)
 *   Describe*        "o/<offset>"
 *
 * Never called without the request body parsed; never sends anything itself.
 */
#include "logs_api.h"
#include "logs_fail.h"

#include "emf.h"
#include "metric_filters.h"
#include "filter_pattern.h"
#include "insights_api.h"
#include "jsonbody.h"
#include "log_tags.h"
#include "server.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CT SKY__CT_JSON11
#define MAX_BATCH_BYTES 1048576
#define EVENT_OVERHEAD 26
#define MAX_EVENTS 10000
#define DAY_MS (24LL * 3600 * 1000)
#define TOO_OLD_MS (14 * DAY_MS)
#define TOO_NEW_MS (2LL * 3600 * 1000)
#define MAX_RESPONSE_BYTES 1048576
#define MAX_SCAN_EVENTS 100000          /* FilterLogEvents: rows looked at per call */
#define MAX_SCAN_WORK (64u << 20)       /* and message bytes x the pattern's cost */

static const int valid_retention[] = {1,   3,   5,   7,   14,  30,   60,   90,   120,  150,  180,
                                      365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653};

#define FAIL(type, ...) FAIL_STATUS(400, type, __VA_ARGS__)

/* ---- argument helpers: -1 = wrong JSON type (SerializationException), 0 = ok ------------- */

static int arg_str(json_t *o, const char *key, const char **out)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return -1;
    *out = json_string_value(v);
    return 0;
}

static int arg_int(json_t *o, const char *key, int64_t *out, bool *present)
{
    json_t *v = json_object_get(o, key);
    *present = false;
    if (!v || json_is_null(v))
        return 0;
    if (json_is_integer(v))
        *out = json_integer_value(v);
    else if (json_is_real(v) && json_real_value(v) >= -9.2e18 && json_real_value(v) <= 9.2e18)
        *out = (int64_t)json_real_value(v); /* range-checked: the cast of a larger one is UB */
    else
        return -1;
    *present = true;
    return 0;
}

static int arg_bool(json_t *o, const char *key, bool *out)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return -1;
    *out = json_is_true(v);
    return 0;
}

#define STR_ARG(key, var)                                                                \
    do {                                                                                 \
        if (arg_str(body, key, &(var)) < 0)                                              \
            FAIL("SerializationException", "Unexpected value type for '%s'", key);       \
    } while (0)
#define INT_ARG(key, var, present)                                                       \
    do {                                                                                 \
        if (arg_int(body, key, &(var), &(present)) < 0)                                  \
            FAIL("SerializationException", "Unexpected value type for '%s'", key);       \
    } while (0)
#define BOOL_ARG(key, var)                                                               \
    do {                                                                                 \
        if (arg_bool(body, key, &(var)) < 0)                                             \
            FAIL("SerializationException", "Unexpected value type for '%s'", key);       \
    } while (0)

/* ---- names ----------------------------------------------------------------------------- */

/* Returns NULL when valid, else the AWS validation message (in buf). AWS quotes the whole
 * value; so do we up to 540 bytes (a 513-character name whole), so the message's end, which
 * says what is wrong, always fits. */
static const char *check_group_name(const char *name, const char *field, char *buf, size_t cap)
{
    size_t n = strlen(name);
    if (n < 1 || n > 512) {
        snprintf(buf, cap,
                 "1 validation error detected: Value '%.540s' at '%s' failed to satisfy "
                 "constraint: Member must have length %s",
                 name, field, n < 1 ? "greater than or equal to 1" : "less than or equal to 512");
        return buf;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-' || c == '_' || c == '/' || c == '#';
        if (!ok) {
            snprintf(buf, cap,
                     "1 validation error detected: Value '%.64s' at '%s' failed to satisfy "
                     "constraint: Member must satisfy regular expression pattern: "
                     "[\\.\\-_/#A-Za-z0-9]+",
                     name, field);
            return buf;
        }
    }
    return NULL;
}

static const char *check_stream_name(const char *name, char *buf, size_t cap)
{
    size_t n = strlen(name);
    if (n < 1 || n > 512) {
        snprintf(buf, cap,
                 "1 validation error detected: Value '%.540s' at 'logStreamName' failed to "
                 "satisfy constraint: Member must have length %s",
                 name, n < 1 ? "greater than or equal to 1" : "less than or equal to 512");
        return buf;
    }
    if (strpbrk(name, ":*")) {
        snprintf(buf, cap,
                 "1 validation error detected: Value '%.64s' at 'logStreamName' failed to satisfy "
                 "constraint: Member must satisfy regular expression pattern: [^:*]*",
                 name);
        return buf;
    }
    return NULL;
}

/* logGroupIdentifier may be a name or an ARN ("arn:aws:logs:r:a:log-group:NAME[:*]"). The
 * result points into `buf` or `id`. */
static const char *group_from_identifier(const char *id, char *buf, size_t cap)
{
    if (strncmp(id, "arn:", 4) != 0)
        return id;
    const char *p = strstr(id, ":log-group:");
    if (!p)
        return id;
    p += strlen(":log-group:");
    size_t n = strcspn(p, ":");
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return buf;
}

/* ---- store lookups ---------------------------------------------------------------------- */

/* A group's id (and retention), -1 when there is none, -2 when the store cannot say
 * (sqlite3_errmsg tells why). find_stream likewise. */
static int64_t find_group(sqlite3 *db, const char *name, int *retention)
{
    sqlite3_stmt *st;
    int64_t id = -1;
    if (sqlite3_prepare_v2(db, "SELECT id, retention FROM log_groups WHERE name=?", -1, &st,
                           NULL) != SQLITE_OK)
        return -2;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        id = sqlite3_column_int64(st, 0);
        if (retention)
            *retention = sqlite3_column_type(st, 1) == SQLITE_NULL ? 0 : sqlite3_column_int(st, 1);
    }
    sqlite3_finalize(st);
    return id;
}

static int64_t find_stream(sqlite3 *db, int64_t gid, const char *name)
{
    sqlite3_stmt *st;
    int64_t id = -1;
    if (sqlite3_prepare_v2(db, "SELECT id FROM log_streams WHERE group_id=? AND name=?", -1, &st,
                           NULL) != SQLITE_OK)
        return -2;
    sqlite3_bind_int64(st, 1, gid);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        id = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return id;
}

/* Runs a statement with up to three int64/text binds given as a format ("i", "t"). */
static int exec_bind(sqlite3 *db, const char *sql, const char *fmt, ...)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    va_list ap;
    va_start(ap, fmt);
    for (int i = 0; fmt[i]; i++) {
        if (fmt[i] == 'i')
            sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
        else if (fmt[i] == 't')
            sqlite3_bind_text(st, i + 1, va_arg(ap, const char *), -1, SQLITE_TRANSIENT);
        else if (fmt[i] == 'n') {
            (void)va_arg(ap, int64_t);
            sqlite3_bind_null(st, i + 1);
        }
    }
    va_end(ap);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static int64_t min_visible_ts(int retention_days, int64_t now)
{
    return retention_days > 0 ? now - (int64_t)retention_days * DAY_MS : INT64_MIN;
}

static char *group_arn(const sky__request *req, const char *name, bool star)
{
    const sky__serve_opts *o = req->server->opts;
    char *s = NULL;
    if (asprintf(&s, "arn:aws:logs:%s:%s:log-group:%s%s", o->region, o->account_id, name,
                 star ? ":*" : "") < 0)
        return NULL;
    return s;
}

static json_t *json_string_own(char *s)
{
    json_t *j = s ? json_string(s) : json_null();
    free(s);
    return j;
}

/* ---- the group and stream a request is about ---------------------------------------------
 *
 * Most operations name a log group (and many a stream) and must answer, in this order: a
 * malformed name, then their other arguments, then a group or stream that does not exist. The
 * helpers below keep that order in one place: group_arg() and stream_arg() read and validate
 * the names before anything else is looked at; lock_group() and lock_stream() take the store
 * lock and find them, and when one is missing they reply, unlock and return NULL, so a handler
 * that gets a connection back holds the lock and needs nothing but its own work and `out:`. */

typedef struct target {
    const char *group;  /* as named in the request; may point into arn_name */
    const char *stream; /* set by stream_arg() */
    char arn_name[600]; /* the group's name when the request gave a logGroupIdentifier ARN */
    int64_t gid, sid;   /* set by lock_group() and lock_stream() */
    int retention;      /* the group's, in days; 0 = its events never expire */
} target;

/* Reads logGroupName (or, with allow_identifier, logGroupIdentifier) into t->group; false with
 * an error reply. */
static bool group_arg(json_t *body, sky__reply *r, target *t, bool allow_identifier)
{
    const char *gname = NULL, *gid = NULL;
    char why[700];
    if (arg_str(body, "logGroupName", &gname) < 0 ||
        (allow_identifier && arg_str(body, "logGroupIdentifier", &gid) < 0)) {
        sky__reply_aws_error(r, 400, CT, "SerializationException", "Unexpected value type");
        return false;
    }
    if (gname && gid) {
        sky__reply_aws_error(r, 400, CT, "ValidationException",
                             "LogGroup name and LogGroup ARN are mutually exclusive parameters.");
        return false;
    }
    if (!gname && gid)
        gname = group_from_identifier(gid, t->arn_name, sizeof t->arn_name);
    if (!gname) {
        sky__reply_aws_error(r, 400, CT, "InvalidParameterException",
                             allow_identifier
                                 ? "Should provide either logGroupName or logGroupIdentifier."
                                 : "1 validation error detected: Value null at 'logGroupName' "
                                   "failed to satisfy constraint: Member must not be null");
        return false;
    }
    if (check_group_name(gname, "logGroupName", why, sizeof why)) {
        sky__reply_aws_error(r, 400, CT, "InvalidParameterException", "%s", why);
        return false;
    }
    t->group = gname;
    return true;
}

/* Reads logStreamName into t->stream; false with an error reply. */
static bool stream_arg(json_t *body, sky__reply *r, target *t)
{
    char why[700];
    if (arg_str(body, "logStreamName", &t->stream) < 0) {
        sky__reply_aws_error(r, 400, CT, "SerializationException", "Unexpected value type");
        return false;
    }
    if (!t->stream) {
        sky__reply_aws_error(r, 400, CT, "InvalidParameterException",
                             "1 validation error detected: Value null at 'logStreamName' failed "
                             "to satisfy constraint: Member must not be null");
        return false;
    }
    if (check_stream_name(t->stream, why, sizeof why)) {
        sky__reply_aws_error(r, 400, CT, "InvalidParameterException", "%s", why);
        return false;
    }
    return true;
}

/* A lookup that could not run: the store's error (500, see DB_FAIL), then unlocked. */
static sqlite3 *unlock_store_error(const sky__request *req, sky__reply *r, sqlite3 *db)
{
    sky__reply_aws_error(r, 500, CT, "ServiceUnavailableException", "store error: %s",
                         sqlite3_errmsg(db));
    sky__store_unlock(req->server->store);
    return NULL;
}

static sqlite3 *unlock_not_found(const sky__request *req, sky__reply *r, const char *what)
{
    sky__store_unlock(req->server->store);
    sky__reply_aws_error(r, 400, CT, "ResourceNotFoundException",
                         "The specified log %s does not exist.", what);
    return NULL;
}

/* Takes the store lock and finds t->group (t->gid, t->retention): the locked connection, or
 * NULL, unlocked, with ResourceNotFoundException replied. */
static sqlite3 *lock_group(const sky__request *req, sky__reply *r, target *t)
{
    sqlite3 *db = sky__store_lock(req->server->store);
    t->gid = find_group(db, t->group, &t->retention);
    if (t->gid == -2)
        return unlock_store_error(req, r, db);
    return t->gid >= 0 ? db : unlock_not_found(req, r, "group");
}

/* lock_group(), then finds t->stream in it (t->sid), likewise. */
static sqlite3 *lock_stream(const sky__request *req, sky__reply *r, target *t)
{
    sqlite3 *db = lock_group(req, r, t);
    if (!db)
        return NULL;
    t->sid = find_stream(db, t->gid, t->stream);
    if (t->sid == -2)
        return unlock_store_error(req, r, db);
    return t->sid >= 0 ? db : unlock_not_found(req, r, "stream");
}

/* Where a read of t's events starts: at startTime when given, but never before what the
 * group's retention still shows (expired events stay in the store, hidden from reads). */
static int64_t first_visible_ts(const target *t, bool has_start, int64_t start)
{
    int64_t visible = min_visible_ts(t->retention, sky__now_ms());
    return has_start && start > visible ? start : visible;
}

/* ---- log groups -------------------------------------------------------------------------- */

/* CreateLogGroup and DeleteLogGroup take logGroupName only (no logGroupIdentifier in their
 * API model, so one sent is an unknown member and ignored, as AWS does): read and validated
 * here with their own wrong-type message. NULL with an error reply. */
static const char *group_name_arg(json_t *body, sky__reply *r)
{
    const char *name;
    char why[700];
    STR_ARG("logGroupName", name);
    if (!name)
        INVALID("1 validation error detected: Value null at 'logGroupName' failed to satisfy "
                "constraint: Member must not be null");
    if (check_group_name(name, "logGroupName", why, sizeof why))
        INVALID("%s", why);
    return name;
out:
    return NULL;
}

/* logGroupClass, when given, is one of the API's values; false with the error replied. */
static bool group_class_ok(sky__reply *r, const char *klass)
{
    if (!klass || !strcmp(klass, "STANDARD") || !strcmp(klass, "INFREQUENT_ACCESS") ||
        !strcmp(klass, "DELIVERY"))
        return true;
    sky__reply_aws_error(r, 400, CT, "InvalidParameterException",
                         "1 validation error detected: Value '%.64s' at 'logGroupClass' failed "
                         "to satisfy constraint: Member must satisfy enum value set: [STANDARD, "
                         "INFREQUENT_ACCESS, DELIVERY]",
                         klass);
    return false;
}

static void create_log_group(const sky__request *req, json_t *body, sky__reply *r)
{
    const char *name = group_name_arg(body, r), *klass = NULL;
    sqlite3 *db = NULL;
    bool protect = false;
    if (!name)
        return;
    STR_ARG("logGroupClass", klass);
    BOOL_ARG("deletionProtectionEnabled", protect);
    /* Every group here is STANDARD and deletable: say so rather than store a group that
     * DescribeLogGroups would then show otherwise than it was asked for. */
    if (!group_class_ok(r, klass) || !sky__tags_check(body, "tags", false, r))
        goto out;
    if (klass && strcmp(klass, "STANDARD"))
        INVALID("logGroupClass %s is not supported by skylog serve (only STANDARD)", klass);
    if (protect)
        INVALID("deletionProtectionEnabled is not supported by skylog serve");
    json_t *tags = json_object_get(body, "tags");
    db = sky__store_lock(req->server->store);
    int64_t gid = find_group(db, name, NULL);
    if (gid == -2)
        DB_FAIL();
    if (gid >= 0)
        FAIL("ResourceAlreadyExistsException", "The specified log group already exists");
    /* The group and its tags in one transaction: a group is never seen without them. */
    if (sky__store_begin(db) != SQLITE_OK)
        DB_FAIL();
    if (exec_bind(db, "INSERT INTO log_groups(name, created) VALUES(?, ?)", "ti", name,
                  sky__now_ms()) != SQLITE_OK ||
        (json_is_object(tags) &&
         sky__tags_store(db, sqlite3_last_insert_rowid(db), tags) != SQLITE_OK) ||
        sky__store_commit(db) != SQLITE_OK)
        DB_ROLLBACK_FAIL();
    sky__reply_raw(r, 200, CT, "", 0);
out:
    if (db)
        sky__store_unlock(req->server->store);
}

/* Deletes group `gid` with its streams and events in one transaction: SQLITE_OK, or the error
 * with SQLite's message in why (rolled back). */
static int delete_group_rows(sqlite3 *db, int64_t gid, char *why, size_t cap)
{
    int rc = sky__store_begin(db);
    if (rc != SQLITE_OK) {
        snprintf(why, cap, "%s", sqlite3_errmsg(db));
        return rc;
    }
    if ((rc = exec_bind(db, "DELETE FROM events WHERE group_id=?", "i", gid)) != SQLITE_OK ||
        (rc = exec_bind(db, "DELETE FROM log_streams WHERE group_id=?", "i", gid)) != SQLITE_OK ||
        (rc = exec_bind(db, "DELETE FROM metric_filters WHERE group_id=?", "i", gid)) != SQLITE_OK ||
        (rc = exec_bind(db, "DELETE FROM log_group_tags WHERE group_id=?", "i", gid)) != SQLITE_OK ||
        (rc = exec_bind(db, "DELETE FROM log_groups WHERE id=?", "i", gid)) != SQLITE_OK ||
        (rc = sky__store_commit(db)) != SQLITE_OK)
        sky__store_rollback(db, why, cap);
    return rc;
}

static void delete_log_group(const sky__request *req, json_t *body, sky__reply *r)
{
    target t;
    sqlite3 *db = NULL;
    char why[256];
    if (!(t.group = group_name_arg(body, r)) || !(db = lock_group(req, r, &t)))
        return;
    int rc = delete_group_rows(db, t.gid, why, sizeof why);
    if ((rc & 0xff) == SQLITE_FULL) {
        /* The disk is full, and one transaction deleting everything needs room for its WAL:
         * give the reserve back, delete the events in small checkpointed batches (the group
         * stays whole until its last event is gone, so a failure midway leaves no orphans),
         * then the group itself. Deleting is how a user frees space: it must work here. */
        sky__store_release_reserve(req->server->store);
        rc = sky__store_delete_batched(db, "events", "group_id", t.gid);
        if (rc == SQLITE_OK)
            rc = delete_group_rows(db, t.gid, why, sizeof why);
        else
            snprintf(why, sizeof why, "%s", sqlite3_errmsg(db));
    }
    if (rc != SQLITE_OK)
        FAIL_STATUS(500, "ServiceUnavailableException", "store error: %s", why);
    sky__store_keep_reserve(req->server->store);
    sky__reply_raw(r, 200, CT, "", 0);
out:
    if (db)
        sky__store_unlock(req->server->store);
}

static bool check_limit(sky__reply *r, bool present, int64_t v, int64_t max, int64_t *out,
                        int64_t dflt)
{
    if (!present) {
        *out = dflt;
        return true;
    }
    if (v < 1 || v > max) {
        sky__reply_aws_error(r, 400, CT, "InvalidParameterException",
                             "1 validation error detected: Value '%" PRId64
                             "' at 'limit' failed to satisfy constraint: Member must have value "
                             "%s %" PRId64,
                             v, v < 1 ? "greater than or equal to" : "less than or equal to",
                             v < 1 ? (int64_t)1 : max);
        return false;
    }
    *out = v;
    return true;
}

/* Answers one page of a Describe* listing from a statement bound with LIMIT limit + 1 OFFSET
 * off: up to `limit` rows converted by `row`, under `key`, with a nextToken when the extra row
 * shows there is more; out of memory answers 400 ServiceUnavailableException. */
typedef json_t *(*row_fn)(sqlite3_stmt *st, void *ctx);

static void reply_offset_page(sky__reply *r, sqlite3_stmt *st, int64_t limit, int64_t off,
                              const char *key, row_fn row, void *ctx)
{
    json_t *items = json_array();
    int64_t n = 0;
    bool more = false;
    while (items && sqlite3_step(st) == SQLITE_ROW) {
        if (n == limit) {
            more = true;
            break;
        }
        json_array_append_new(items, row(st, ctx));
        n++;
    }
    json_t *res = items ? json_pack("{s:o}", key, items) : NULL;
    if (!res)
        sky__reply_aws_error(r, 400, CT, "ServiceUnavailableException", "out of memory");
    else
        sky__reply_offset_page(r, CT, res, more, off + limit);
}

/* A log_groups row (name, created, retention, stored_bytes) as DescribeLogGroups shows it. */
static json_t *group_row(sqlite3_stmt *st, void *ctx)
{
    const sky__request *req = ctx;
    const char *name = (const char *)sqlite3_column_text(st, 0);
    json_t *g = json_pack("{s:s,s:I,s:i,s:I,s:s}", "logGroupName", name, "creationTime",
                          (json_int_t)sqlite3_column_int64(st, 1), "metricFilterCount",
                          sqlite3_column_int(st, 4),
                          "storedBytes", (json_int_t)sqlite3_column_int64(st, 3),
                          "logGroupClass", "STANDARD");
    if (sqlite3_column_type(st, 2) != SQLITE_NULL)
        json_object_set_new(g, "retentionInDays", json_integer(sqlite3_column_int(st, 2)));
    json_object_set_new(g, "deletionProtectionEnabled", json_false()); /* none here */
    json_object_set_new(g, "arn", json_string_own(group_arn(req, name, true)));
    json_object_set_new(g, "logGroupArn", json_string_own(group_arn(req, name, false)));
    return g;
}

/* With logGroupNamePattern, DescribeLogGroups shows only these three members (API reference). */
static json_t *group_row_brief(sqlite3_stmt *st, void *ctx)
{
    const sky__request *req = ctx;
    const char *name = (const char *)sqlite3_column_text(st, 0);
    json_t *g = json_pack("{s:s,s:I}", "logGroupName", name, "creationTime",
                          (json_int_t)sqlite3_column_int64(st, 1));
    json_object_set_new(g, "arn", json_string_own(group_arn(req, name, true)));
    return g;
}

static void describe_log_groups(const sky__request *req, json_t *body, sky__reply *r)
{
    const char *prefix, *pattern, *token, *klass;
    int64_t limit_in = 0, limit, off;
    bool has_limit;
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    char *names = NULL;
    STR_ARG("logGroupNamePrefix", prefix);
    STR_ARG("logGroupNamePattern", pattern);
    STR_ARG("logGroupClass", klass);
    STR_ARG("nextToken", token);
    INT_ARG("limit", limit_in, has_limit);
    json_t *ids = json_object_get(body, "logGroupIdentifiers");
    if (ids && !json_is_null(ids)) {
        if (!json_is_array(ids))
            FAIL("SerializationException", "Unexpected value type for 'logGroupIdentifiers'");
        if (json_array_size(ids) < 1 || json_array_size(ids) > 50)
            INVALID("1 validation error detected: Value at 'logGroupIdentifiers' failed to "
                    "satisfy constraint: Member must have length between 1 and 50");
    } else {
        ids = NULL;
    }
    if (prefix && pattern)
        INVALID("LogGroup name prefix and LogGroup name pattern are mutually exclusive "
                "parameters.");
    if (ids && (prefix || pattern))
        INVALID("logGroupIdentifiers is mutually exclusive with logGroupNamePrefix and "
                "logGroupNamePattern.");
    if (!group_class_ok(r, klass))
        goto out;
    if (!check_limit(r, has_limit, limit_in, 50, &limit, 50))
        goto out;
    if (!sky__offset_token_parse(token, &off))
        INVALID("The specified nextToken is invalid.");
    if (ids) { /* the names, as a JSON array for json_each() */
        json_t *list = json_array();
        size_t i;
        json_t *v;
        json_array_foreach(ids, i, v) {
            char buf[600];
            if (!json_is_string(v)) {
                json_decref(list);
                FAIL("SerializationException", "Unexpected value type for 'logGroupIdentifiers'");
            }
            json_array_append_new(list, json_string(
                                            group_from_identifier(json_string_value(v), buf, sizeof buf)));
        }
        names = json_dumps(list, JSON_COMPACT);
        json_decref(list);
    }
    db = sky__store_lock(req->server->store);
    /* Both match case-sensitively, as CloudWatch does (a prefix is a prefix, a pattern a
     * substring): instr() compares bytes, where LIKE would ignore ASCII case. Every group here
     * is STANDARD, so asking for another class lists none. */
    if (sqlite3_prepare_v2(db,
                           "SELECT name, created, retention, stored_bytes, (SELECT COUNT(*) "
                           "FROM metric_filters WHERE group_id = log_groups.id) FROM log_groups "
                           "WHERE (?1 IS NULL OR instr(name, ?1) = 1) "
                           "AND (?4 IS NULL OR instr(name, ?4) > 0) "
                           "AND (?5 IS NULL OR name IN (SELECT value FROM json_each(?5))) "
                           "AND ?6 "
                           "ORDER BY name LIMIT ?2 OFFSET ?3",
                           -1, &st, NULL) != SQLITE_OK)
        DB_FAIL();
    if (prefix)
        sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
    if (pattern && *pattern)
        sqlite3_bind_text(st, 4, pattern, -1, SQLITE_STATIC);
    if (names)
        sqlite3_bind_text(st, 5, names, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 6, !klass || strcmp(klass, "STANDARD") == 0);
    sqlite3_bind_int64(st, 2, limit + 1);
    sqlite3_bind_int64(st, 3, off);
    reply_offset_page(r, st, limit, off, "logGroups", pattern ? group_row_brief : group_row,
                      (void *)req);
out:
    sqlite3_finalize(st);
    if (db)
        sky__store_unlock(req->server->store);
    free(names);
}

/* ---- log streams ------------------------------------------------------------------------- */

static void create_log_stream(const sky__request *req, json_t *body, sky__reply *r)
{
    target t;
    sqlite3 *db = NULL;
    if (!group_arg(body, r, &t, false) || !stream_arg(body, r, &t) ||
        !(db = lock_group(req, r, &t)))
        return;
    int64_t sid = find_stream(db, t.gid, t.stream);
    if (sid == -2)
        DB_FAIL();
    if (sid >= 0)
        FAIL("ResourceAlreadyExistsException", "The specified log stream already exists");
    if (exec_bind(db, "INSERT INTO log_streams(group_id, name, created) VALUES(?, ?, ?)", "iti",
                  t.gid, t.stream, sky__now_ms()) != SQLITE_OK)
        DB_FAIL();
    sky__reply_raw(r, 200, CT, "", 0);
out:
    if (db)
        sky__store_unlock(req->server->store);
}

/* Deletes stream `sid` of group `gid` and its events in one transaction, taking their bytes
 * off the group's storedBytes: SQLITE_OK, or the error with SQLite's message in why. */
static int delete_stream_rows(sqlite3 *db, int64_t gid, int64_t sid, char *why, size_t cap)
{
    int rc = sky__store_begin(db);
    if (rc != SQLITE_OK) {
        snprintf(why, cap, "%s", sqlite3_errmsg(db));
        return rc;
    }
    if ((rc = exec_bind(db,
                        "UPDATE log_groups SET stored_bytes = stored_bytes - (SELECT "
                        "COALESCE(SUM(LENGTH(CAST(message AS BLOB))), 0) FROM events WHERE "
                        "stream_id=?) WHERE id=?",
                        "ii", sid, gid)) != SQLITE_OK ||
        (rc = exec_bind(db, "DELETE FROM events WHERE stream_id=?", "i", sid)) != SQLITE_OK ||
        (rc = exec_bind(db, "DELETE FROM log_streams WHERE id=?", "i", sid)) != SQLITE_OK ||
        (rc = sky__store_commit(db)) != SQLITE_OK)
        sky__store_rollback(db, why, cap);
    return rc;
}

static void delete_log_stream(const sky__request *req, json_t *body, sky__reply *r)
{
    target t;
    sqlite3 *db = NULL;
    char why[256];
    if (!group_arg(body, r, &t, false) || !stream_arg(body, r, &t) ||
        !(db = lock_stream(req, r, &t)))
        return;
    int rc = delete_stream_rows(db, t.gid, t.sid, why, sizeof why);
    if ((rc & 0xff) == SQLITE_FULL) {
        /* As DeleteLogGroup on a full disk: the events go in batches, then the stream; the
         * group's storedBytes is recounted from what is left. */
        sky__store_release_reserve(req->server->store);
        rc = sky__store_delete_batched(db, "events", "stream_id", t.sid);
        if (rc == SQLITE_OK)
            rc = exec_bind(db,
                           "UPDATE log_groups SET stored_bytes = (SELECT COALESCE(SUM(LENGTH("
                           "CAST(message AS BLOB))), 0) FROM events WHERE group_id=?1) "
                           "WHERE id=?1",
                           "i", t.gid);
        if (rc == SQLITE_OK)
            rc = delete_stream_rows(db, t.gid, t.sid, why, sizeof why);
        else
            snprintf(why, sizeof why, "%s", sqlite3_errmsg(db));
    }
    if (rc != SQLITE_OK)
        FAIL_STATUS(500, "ServiceUnavailableException", "store error: %s", why);
    sky__store_keep_reserve(req->server->store);
    sky__reply_raw(r, 200, CT, "", 0);
out:
    if (db)
        sky__store_unlock(req->server->store);
}

static void set_opt_int(json_t *o, const char *key, sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) != SQLITE_NULL)
        json_object_set_new(o, key, json_integer(sqlite3_column_int64(st, col)));
}

/* A log_streams row (name, created, first_event, last_event, last_ingestion, seq) as
 * DescribeLogStreams shows it; ctx is the group's ARN (may be NULL). */
static json_t *stream_row(sqlite3_stmt *st, void *ctx)
{
    const char *garn = ctx;
    const char *name = (const char *)sqlite3_column_text(st, 0);
    char seq[64];
    snprintf(seq, sizeof seq, "4963%045" PRId64, (int64_t)sqlite3_column_int64(st, 5));
    json_t *s = json_pack("{s:s,s:I,s:i}", "logStreamName", name, "creationTime",
                          (json_int_t)sqlite3_column_int64(st, 1), "storedBytes", 0);
    if (sqlite3_column_type(st, 2) != SQLITE_NULL) /* AWS omits it for a stream never written */
        json_object_set_new(s, "uploadSequenceToken", json_string(seq));
    set_opt_int(s, "firstEventTimestamp", st, 2);
    set_opt_int(s, "lastEventTimestamp", st, 3);
    set_opt_int(s, "lastIngestionTime", st, 4);
    char *arn = NULL;
    if (garn && asprintf(&arn, "%s:log-stream:%s", garn, name) < 0)
        arn = NULL;
    json_object_set_new(s, "arn", json_string_own(arn));
    return s;
}

static void describe_log_streams(const sky__request *req, json_t *body, sky__reply *r)
{
    const char *prefix, *order, *token;
    target t;
    int64_t limit_in = 0, limit, off;
    bool has_limit, descending = false;
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    char *sql = NULL;
    if (!group_arg(body, r, &t, true))
        return;
    STR_ARG("logStreamNamePrefix", prefix);
    STR_ARG("orderBy", order);
    STR_ARG("nextToken", token);
    BOOL_ARG("descending", descending);
    INT_ARG("limit", limit_in, has_limit);
    bool by_time = false;
    if (order) {
        if (strcmp(order, "LastEventTime") == 0)
            by_time = true;
        else if (strcmp(order, "LogStreamName") != 0)
            INVALID("1 validation error detected: Value '%.64s' at 'orderBy' failed to satisfy "
                    "constraint: Member must satisfy enum value set: [LogStreamName, "
                    "LastEventTime]",
                    order);
    }
    if (by_time && prefix)
        INVALID("Cannot order by LastEventTime with a logStreamNamePrefix.");
    if (!check_limit(r, has_limit, limit_in, 50, &limit, 50))
        goto out;
    if (!sky__offset_token_parse(token, &off))
        INVALID("The specified nextToken is invalid.");
    const char *dir = descending ? "DESC" : "ASC";
    if (asprintf(&sql,
                 "SELECT name, created, first_event, last_event, last_ingestion, seq "
                 "FROM log_streams WHERE group_id=?1 AND (?2 IS NULL OR instr(name, ?2) = 1) "
                 "ORDER BY %s %s, name %s LIMIT ?3 OFFSET ?4",
                 by_time ? "COALESCE(last_event, 0)" : "name", dir, dir) < 0) {
        sql = NULL;
        FAIL("ServiceUnavailableException", "out of memory");
    }
    if (!(db = lock_group(req, r, &t)))
        goto out;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        DB_FAIL();
    sqlite3_bind_int64(st, 1, t.gid);
    if (prefix) /* case-sensitive, as CloudWatch: instr() compares bytes, LIKE would not */
        sqlite3_bind_text(st, 2, prefix, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, limit + 1);
    sqlite3_bind_int64(st, 4, off);
    char *garn = group_arn(req, t.group, false);
    reply_offset_page(r, st, limit, off, "logStreams", stream_row, garn);
    free(garn);
out:
    sqlite3_finalize(st);
    if (db)
        sky__store_unlock(req->server->store);
    free(sql);
}

/* ---- retention --------------------------------------------------------------------------- */

static void put_retention_policy(const sky__request *req, json_t *body, sky__reply *r)
{
    target t;
    int64_t days = 0;
    bool has_days;
    sqlite3 *db = NULL;
    if (!group_arg(body, r, &t, false))
        return;
    INT_ARG("retentionInDays", days, has_days);
    if (!has_days)
        INVALID("1 validation error detected: Value null at 'retentionInDays' failed to satisfy "
                "constraint: Member must not be null");
    bool ok = false;
    for (size_t i = 0; i < sizeof valid_retention / sizeof valid_retention[0]; i++)
        ok |= valid_retention[i] == days;
    if (!ok)
        INVALID("1 validation error detected: Value '%" PRId64
                "' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum "
                "value set: [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, "
                "1096, 1827, 2192, 2557, 2922, 3288, 3653]",
                days);
    if (!(db = lock_group(req, r, &t)))
        return;
    if (exec_bind(db, "UPDATE log_groups SET retention=? WHERE id=?", "ii", days, t.gid) !=
        SQLITE_OK)
        DB_FAIL();
    sky__reply_raw(r, 200, CT, "", 0);
out:
    if (db)
        sky__store_unlock(req->server->store);
}

static void delete_retention_policy(const sky__request *req, json_t *body, sky__reply *r)
{
    target t;
    sqlite3 *db = NULL;
    if (!group_arg(body, r, &t, false) || !(db = lock_group(req, r, &t)))
        return;
    if (exec_bind(db, "UPDATE log_groups SET retention=NULL WHERE id=?", "i", t.gid) != SQLITE_OK)
        DB_FAIL();
    sky__reply_raw(r, 200, CT, "", 0);
out:
    if (db)
        sky__store_unlock(req->server->store);
}

/* ---- PutLogEvents ------------------------------------------------------------------------ */

/* Stores events [from, to) and updates the stream and group counters; runs EMF extraction on
 * each stored message, as CloudWatch does for embedded metric format events. */
static int store_events(sqlite3 *db, int64_t gid, int64_t sid, const sky__log_event *ev,
                        size_t from, size_t to, int64_t now, int *emf_budget, sky__mf_run *mf)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(
        db, "INSERT INTO events(group_id, stream_id, ts, ingest, message) VALUES(?,?,?,?,?)", -1,
        &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    int64_t bytes = 0, first = INT64_MAX, last = INT64_MIN;
    for (size_t i = from; i < to && rc == SQLITE_OK; i++) {
        sqlite3_bind_int64(st, 1, gid);
        sqlite3_bind_int64(st, 2, sid);
        sqlite3_bind_int64(st, 3, ev[i].ts_ms);
        sqlite3_bind_int64(st, 4, now);
        sqlite3_bind_text(st, 5, ev[i].msg, (int)ev[i].len, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
        sqlite3_reset(st);
        bytes += (int64_t)ev[i].len;
        if (ev[i].ts_ms < first)
            first = ev[i].ts_ms;
        if (ev[i].ts_ms > last)
            last = ev[i].ts_ms;
        if (rc == SQLITE_OK) {
            sky__emf_extract(db, ev[i].msg, ev[i].len, ev[i].ts_ms, now, emf_budget);
            sky__mf_event(mf, ev[i].msg, ev[i].len, ev[i].ts_ms);
        }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK)
        return rc;
    if (to > from)
        rc = exec_bind(db,
                       "UPDATE log_streams SET first_event = MIN(COALESCE(first_event, ?1), ?1), "
                       "last_event = MAX(COALESCE(last_event, ?2), ?2), last_ingestion = ?3, "
                       "seq = seq + 1 WHERE id = ?4",
                       "iiii", first, last, now, sid);
    else
        rc = exec_bind(db, "UPDATE log_streams SET seq = seq + 1 WHERE id = ?", "i", sid);
    if (rc == SQLITE_OK)
        rc = exec_bind(db, "UPDATE log_groups SET stored_bytes = stored_bytes + ? WHERE id = ?",
                       "ii", bytes, gid);
    return rc;
}

/* The accepted window of a batch: [*from, *to) after rejecting too-old, expired (leading) and
 * too-new (trailing) events. Events are in chronological order, so each class is contiguous. */
static void time_window(const sky__log_event *ev, size_t n, int retention, int64_t now,
                        size_t *too_old_end, size_t *expired_end, size_t *too_new_start)
{
    int64_t oldest = now - TOO_OLD_MS;
    int64_t visible = min_visible_ts(retention, now);
    size_t i = 0;
    *too_old_end = 0;
    *expired_end = 0;
    for (i = 0; i < n; i++) {
        bool old = ev[i].ts_ms < oldest, expired = ev[i].ts_ms < visible;
        if (!old && !expired)
            break;
        if (old)
            *too_old_end = i + 1;
        if (expired)
            *expired_end = i + 1;
    }
    *too_new_start = n;
    while (*too_new_start > 0 && ev[*too_new_start - 1].ts_ms > now + TOO_NEW_MS)
        (*too_new_start)--;
}

static void put_log_events(const sky__request *req, json_t *body, sky__reply *r)
{
    const char *seq_token;
    target t;
    sqlite3 *db = NULL;
    sky__log_event *ev = NULL;
    size_t max_event = req->server->opts->max_event_bytes;
    if (!group_arg(body, r, &t, false) || !stream_arg(body, r, &t))
        return;
    STR_ARG("sequenceToken", seq_token); /* accepted and ignored, as CloudWatch does since 2023 */
    (void)seq_token;
    json_t *events = json_object_get(body, "logEvents");
    if (!events || json_is_null(events))
        INVALID("1 validation error detected: Value null at 'logEvents' failed to satisfy "
                "constraint: Member must not be null");
    if (!json_is_array(events))
        FAIL("SerializationException", "Unexpected value type for 'logEvents'");
    size_t n = json_array_size(events);
    if (n < 1 || n > MAX_EVENTS)
        INVALID("1 validation error detected: Value '[...]' at 'logEvents' failed to satisfy "
                "constraint: Member must have length %s",
                n < 1 ? "greater than or equal to 1" : "less than or equal to 10000");
    ev = calloc(n, sizeof *ev);
    if (!ev)
        FAIL("ServiceUnavailableException", "out of memory");
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(events, i);
        json_t *ts = json_object_get(e, "timestamp"), *msg = json_object_get(e, "message");
        if (!json_is_object(e) || (ts && !json_is_integer(ts)) || (msg && !json_is_string(msg)))
            FAIL("SerializationException", "Unexpected value type in 'logEvents'");
        if (!ts)
            INVALID("1 validation error detected: Value null at 'logEvents.%zu.member.timestamp' "
                    "failed to satisfy constraint: Member must not be null",
                    i + 1);
        if (!msg)
            INVALID("1 validation error detected: Value null at 'logEvents.%zu.member.message' "
                    "failed to satisfy constraint: Member must not be null",
                    i + 1);
        ev[i].ts_ms = json_integer_value(ts);
        if (ev[i].ts_ms < 0)
            INVALID("1 validation error detected: Value '%" PRId64 "' at "
                    "'logEvents.%zu.member.timestamp' failed to satisfy constraint: Member must "
                    "have value greater than or equal to 0",
                    ev[i].ts_ms, i + 1);
        ev[i].msg = json_string_value(msg);
        ev[i].len = json_string_length(msg);
        if (ev[i].len < 1)
            INVALID("1 validation error detected: Value '' at 'logEvents.%zu.member.message' "
                    "failed to satisfy constraint: Member must have length greater than or equal "
                    "to 1",
                    i + 1);
        if (ev[i].len + EVENT_OVERHEAD > max_event)
            INVALID("Log event too large: %zu bytes exceeds limit of %zu", ev[i].len + EVENT_OVERHEAD,
                    max_event);
        total += ev[i].len + EVENT_OVERHEAD;
    }
    if (total > MAX_BATCH_BYTES)
        INVALID("Upload too large: %zu bytes exceeds limit of %d", total, MAX_BATCH_BYTES);
    for (size_t i = 1; i < n; i++)
        if (ev[i].ts_ms < ev[i - 1].ts_ms)
            INVALID("Log events in a single PutLogEvents request must be in chronological order.");
    /* Sorted and non-negative, so the difference cannot overflow. */
    if (ev[n - 1].ts_ms - ev[0].ts_ms > DAY_MS)
        INVALID("The batch of log events in a single PutLogEvents request cannot span more than "
                "24 hours.");

    if (!(db = lock_stream(req, r, &t)))
        goto out;
    int64_t now = sky__now_ms();
    size_t too_old_end, expired_end, too_new_start;
    time_window(ev, n, t.retention, now, &too_old_end, &expired_end, &too_new_start);
    size_t from = too_old_end > expired_end ? too_old_end : expired_end;
    size_t to = too_new_start < from ? from : too_new_start;
    if (sky__store_begin(db) != SQLITE_OK)
        DB_FAIL();
    int emf_budget = SKY__EMF_MAX_POINTS_PER_REQUEST;
    sky__mf_run *mf = sky__mf_begin(db, t.gid, now);
    int src = store_events(db, t.gid, t.sid, ev, from, to, now, &emf_budget, mf);
    sky__mf_end(mf);
    if (src != SQLITE_OK || sky__store_commit(db) != SQLITE_OK) {
        DB_ROLLBACK_FAIL();
    }
    int64_t seq = 0;
    {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db, "SELECT seq FROM log_streams WHERE id=?", -1, &st, NULL) ==
            SQLITE_OK) {
            sqlite3_bind_int64(st, 1, t.sid);
            if (sqlite3_step(st) == SQLITE_ROW)
                seq = sqlite3_column_int64(st, 0);
            sqlite3_finalize(st);
        }
    }
    char seqs[64];
    snprintf(seqs, sizeof seqs, "4963%045" PRId64, seq);
    json_t *res = json_pack("{s:s}", "nextSequenceToken", seqs);
    if (too_old_end || expired_end || too_new_start < n) {
        json_t *info = json_object();
        if (too_new_start < n)
            json_object_set_new(info, "tooNewLogEventStartIndex", json_integer((json_int_t)too_new_start));
        if (too_old_end)
            json_object_set_new(info, "tooOldLogEventEndIndex", json_integer((json_int_t)too_old_end));
        if (expired_end)
            json_object_set_new(info, "expiredLogEventEndIndex", json_integer((json_int_t)expired_end));
        json_object_set_new(res, "rejectedLogEventsInfo", info);
    }
    sky__reply_json(r, 200, CT, res);
out:
    if (db)
        sky__store_unlock(req->server->store);
    free(ev);
}

bool sky__logs_ingest(sky__server *srv, const char *group, const char *stream,
                      const sky__log_event *ev, size_t n, size_t *rejected, size_t *empty,
                      sky__reply *r)
{
    *rejected = *empty = 0;
    char why[700];
    sqlite3 *db = NULL;
    bool ok = false;
    if (check_group_name(group, "logGroupName", why, sizeof why) ||
        check_stream_name(stream, why, sizeof why))
        INVALID("%s", why);
    db = sky__store_lock(srv->store);
    int64_t now = sky__now_ms();
    if (sky__store_begin(db) != SQLITE_OK)
        DB_FAIL();
    int retention = 0;
    int64_t gid = find_group(db, group, &retention);
    if (gid == -1 && exec_bind(db, "INSERT INTO log_groups(name, created) VALUES(?, ?)", "ti",
                               group, now) == SQLITE_OK)
        gid = sqlite3_last_insert_rowid(db);
    int64_t sid = gid >= 0 ? find_stream(db, gid, stream) : -2;
    if (sid == -1 &&
        exec_bind(db, "INSERT INTO log_streams(group_id, name, created) VALUES(?, ?, ?)", "iti",
                  gid, stream, now) == SQLITE_OK)
        sid = sqlite3_last_insert_rowid(db);
    if (gid < 0 || sid < 0) {
        DB_ROLLBACK_FAIL();
    }
    /* Ingestion batches need not be sorted, so the window is applied per event. */
    int64_t visible = min_visible_ts(retention, now);
    int rc = SQLITE_OK, emf_budget = SKY__EMF_MAX_POINTS_PER_REQUEST;
    sky__mf_run *mf = sky__mf_begin(db, gid, now);
    for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
        int64_t t = ev[i].ts_ms;
        if (ev[i].len == 0) {
            ++*empty;
            continue;
        }
        if (t < now - TOO_OLD_MS || t < visible || t > now + TOO_NEW_MS) {
            ++*rejected;
            continue;
        }
        rc = store_events(db, gid, sid, ev, i, i + 1, now, &emf_budget, mf);
    }
    sky__mf_end(mf);
    if (rc != SQLITE_OK || sky__store_commit(db) != SQLITE_OK) {
        DB_ROLLBACK_FAIL();
    }
    ok = true;
out:
    if (db)
        sky__store_unlock(srv->store);
    return ok;
}

/* ---- GetLogEvents ------------------------------------------------------------------------ */

typedef struct pos {
    int64_t ts, id;
} pos;

#define POS_MIN ((pos){INT64_MIN, INT64_MIN})
#define POS_MAX ((pos){INT64_MAX, INT64_MAX})

static void fmt_token(char *buf, size_t cap, char dir, pos p)
{
    /* Offsetting by 2^63 keeps the digits non-negative and the token a fixed width. */
    snprintf(buf, cap, "%c/%020" PRIu64 "%020" PRIu64, dir,
             (uint64_t)((uint64_t)p.ts ^ (1ULL << 63)), (uint64_t)((uint64_t)p.id ^ (1ULL << 63)));
}

static bool parse_token(const char *tok, char *dir, pos *p)
{
    if (strlen(tok) != 42 || tok[1] != '/')
        return false;
    for (int i = 2; i < 42; i++)
        if (tok[i] < '0' || tok[i] > '9')
            return false;
    char a[21], b[21];
    memcpy(a, tok + 2, 20);
    memcpy(b, tok + 22, 20);
    a[20] = b[20] = '\0';
    p->ts = (int64_t)(strtoull(a, NULL, 10) ^ (1ULL << 63));
    p->id = (int64_t)(strtoull(b, NULL, 10) ^ (1ULL << 63));
    *dir = tok[0];
    return true;
}

static void get_log_events(const sky__request *req, json_t *body, sky__reply *r)
{
    const char *token;
    target t;
    int64_t start = 0, end = 0, limit_in = 0, limit;
    bool has_start, has_end, has_limit, from_head = false;
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    json_t *events = NULL;
    if (!group_arg(body, r, &t, true) || !stream_arg(body, r, &t))
        return;
    STR_ARG("nextToken", token);
    INT_ARG("startTime", start, has_start);
    INT_ARG("endTime", end, has_end);
    INT_ARG("limit", limit_in, has_limit);
    BOOL_ARG("startFromHead", from_head);
    if (!check_limit(r, has_limit, limit_in, 10000, &limit, 10000))
        goto out;
    char dir = from_head ? 'f' : 'b';
    pos p = from_head ? POS_MIN : POS_MAX;
    if (token && !parse_token(token, &dir, &p))
        INVALID("The specified nextToken is invalid.");
    if (dir != 'f' && dir != 'b')
        INVALID("The specified nextToken is invalid.");
    if (!(db = lock_stream(req, r, &t)))
        goto out;
    int64_t lo = first_visible_ts(&t, has_start, start), hi = has_end ? end : INT64_MAX;
    const char *sql =
        dir == 'f'
            ? "SELECT id, ts, ingest, message FROM events WHERE stream_id=?1 AND ts>=?2 AND ts<?3 "
              "AND (ts>?4 OR (ts=?4 AND id>?5)) ORDER BY ts, id LIMIT ?6"
            : "SELECT id, ts, ingest, message FROM events WHERE stream_id=?1 AND ts>=?2 AND ts<?3 "
              "AND (ts<?4 OR (ts=?4 AND id<?5)) ORDER BY ts DESC, id DESC LIMIT ?6";
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        DB_FAIL();
    sqlite3_bind_int64(st, 1, t.sid);
    sqlite3_bind_int64(st, 2, lo);
    sqlite3_bind_int64(st, 3, hi);
    sqlite3_bind_int64(st, 4, p.ts);
    sqlite3_bind_int64(st, 5, p.id);
    sqlite3_bind_int64(st, 6, limit);
    events = json_array();
    pos first = p, last = p;
    size_t bytes = 0, n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        size_t len = (size_t)sqlite3_column_bytes(st, 3);
        if (n > 0 && bytes + len + EVENT_OVERHEAD > MAX_RESPONSE_BYTES)
            break;
        bytes += len + EVENT_OVERHEAD;
        pos here = {sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 0)};
        json_t *e = json_pack("{s:I,s:s%,s:I}", "timestamp", (json_int_t)here.ts, "message",
                              (const char *)sqlite3_column_text(st, 3), len, "ingestionTime",
                              (json_int_t)sqlite3_column_int64(st, 2));
        if (dir == 'f') {
            json_array_append_new(events, e);
            if (n == 0)
                first = here;
            last = here;
        } else {
            json_array_insert_new(events, 0, e);
            if (n == 0)
                last = here;
            first = here;
        }
        n++;
    }
    char ftok[64], btok[64];
    if (n == 0) {
        /* Nothing (more) in this direction: AWS hands back the token it was given. Without a
         * token the range is empty: both tokens point at its start, so following the forward
         * token later sees whatever arrives (tailing an empty stream works). */
        if (!token)
            p = POS_MIN;
        fmt_token(ftok, sizeof ftok, 'f', p);
        fmt_token(btok, sizeof btok, 'b', p);
        if (token) {
            snprintf(dir == 'f' ? ftok : btok, sizeof ftok, "%s", token);
        }
    } else {
        fmt_token(ftok, sizeof ftok, 'f', last);
        fmt_token(btok, sizeof btok, 'b', first);
    }
    json_t *res = json_pack("{s:o,s:s,s:s}", "events", events, "nextForwardToken", ftok,
                            "nextBackwardToken", btok);
    events = NULL;
    sky__reply_json(r, 200, CT, res);
out:
    sqlite3_finalize(st);
    if (db)
        sky__store_unlock(req->server->store);
    json_decref(events);
}

/* ---- FilterLogEvents --------------------------------------------------------------------- */

static void filter_log_events(const sky__request *req, json_t *body, sky__reply *r)
{
    const char *prefix, *pattern_text, *token;
    target t;
    int64_t start = 0, end = 0, limit_in = 0, limit;
    bool has_start, has_end, has_limit, interleaved = true;
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    json_t *events = NULL;
    sky__pattern *pattern = NULL;
    if (!group_arg(body, r, &t, true))
        return;
    STR_ARG("logStreamNamePrefix", prefix);
    STR_ARG("filterPattern", pattern_text);
    STR_ARG("nextToken", token);
    INT_ARG("startTime", start, has_start);
    INT_ARG("endTime", end, has_end);
    INT_ARG("limit", limit_in, has_limit);
    BOOL_ARG("interleaved", interleaved);
    json_t *names = json_object_get(body, "logStreamNames");
    if (names && !json_is_null(names)) {
        if (!json_is_array(names))
            FAIL("SerializationException", "Unexpected value type for 'logStreamNames'");
        if (json_array_size(names) < 1 || json_array_size(names) > 100)
            INVALID("1 validation error detected: Value at 'logStreamNames' failed to satisfy "
                    "constraint: Member must have length between 1 and 100");
        if (prefix)
            INVALID("logStreamNames and logStreamNamePrefix are mutually exclusive.");
    } else {
        names = NULL;
    }
    if (!check_limit(r, has_limit, limit_in, 10000, &limit, 10000))
        goto out;
    pos p = POS_MIN;
    char dir;
    if (token && (!parse_token(token, &dir, &p) || dir != 'p'))
        INVALID("The specified nextToken is invalid.");
    if (pattern_text && strlen(pattern_text) > SKY__PATTERN_MAX_LEN)
        INVALID("1 validation error detected: Value '%.64s...' at 'filterPattern' failed to "
                "satisfy constraint: Member must have length less than or equal to %d",
                pattern_text, SKY__PATTERN_MAX_LEN);
    if (pattern_text) {
        char why[400];
        bool limited;
        if (!(pattern = sky__pattern_compile_ex(pattern_text, 0, why, sizeof why, &limited))) {
            if (limited)
                FAIL("LimitExceededException", "%s", why);
            INVALID("Invalid filter pattern: %s", why);
        }
    }
    if (!(db = lock_group(req, r, &t)))
        goto out;
    int64_t lo = first_visible_ts(&t, has_start, start), hi = has_end ? end : INT64_MAX;
    if (sqlite3_prepare_v2(db,
                           "SELECT e.id, e.ts, e.ingest, e.message, s.name FROM events e "
                           "JOIN log_streams s ON s.id = e.stream_id "
                           "WHERE e.group_id=?1 AND e.ts>=?2 AND e.ts<=?3 "
                           "AND (e.ts>?4 OR (e.ts=?4 AND e.id>?5)) ORDER BY e.ts, e.id",
                           -1, &st, NULL) != SQLITE_OK)
        DB_FAIL();
    sqlite3_bind_int64(st, 1, t.gid);
    sqlite3_bind_int64(st, 2, lo);
    sqlite3_bind_int64(st, 3, hi);
    sqlite3_bind_int64(st, 4, p.ts);
    sqlite3_bind_int64(st, 5, p.id);
    events = json_array();
    size_t n = 0, bytes = 0, plen = prefix ? strlen(prefix) : 0;
    size_t scanned = 0, work = 0, cost = pattern ? sky__pattern_cost(pattern) : 1;
    bool more = false;
    pos last = p, scanned_to = p;
    while (sqlite3_step(st) == SQLITE_ROW) {
        /* A bounded scan per call, as CloudWatch's "time-bounded scan window": a pattern that
         * matches nothing cannot hold the store lock for the whole group, nor can a pattern of
         * hundreds of terms over megabyte messages (work counts bytes x the pattern's cost).
         * The first row is always looked at, so every call makes progress; the token resumes
         * after the last row looked at, so nothing is skipped or repeated. */
        if (scanned >= MAX_SCAN_EVENTS || work >= MAX_SCAN_WORK) {
            more = true;
            last = scanned_to;
            break;
        }
        scanned++;
        work += ((size_t)sqlite3_column_bytes(st, 3) + 1) * cost;
        scanned_to = (pos){sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 0)};
        const char *sname = (const char *)sqlite3_column_text(st, 4);
        if (prefix && strncmp(sname, prefix, plen) != 0)
            continue;
        if (names) {
            bool found = false;
            for (size_t i = 0; i < json_array_size(names) && !found; i++) {
                const char *want = json_string_value(json_array_get(names, i));
                found = want && strcmp(want, sname) == 0;
            }
            if (!found)
                continue;
        }
        const char *msg = (const char *)sqlite3_column_text(st, 3);
        size_t len = (size_t)sqlite3_column_bytes(st, 3);
        if (pattern && !sky__pattern_match(pattern, msg, len))
            continue;
        if ((int64_t)n == limit || (n > 0 && bytes + len + EVENT_OVERHEAD > MAX_RESPONSE_BYTES)) {
            more = true;
            break;
        }
        bytes += len + EVENT_OVERHEAD;
        pos here = {sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 0)};
        char eid[32];
        snprintf(eid, sizeof eid, "%020" PRId64, here.id);
        json_array_append_new(events,
                              json_pack("{s:s,s:I,s:s%,s:I,s:s}", "logStreamName", sname,
                                        "timestamp", (json_int_t)here.ts, "message", msg, len,
                                        "ingestionTime", (json_int_t)sqlite3_column_int64(st, 2),
                                        "eventId", eid));
        last = here;
        n++;
    }
    json_t *res = json_pack("{s:o,s:[]}", "events", events, "searchedLogStreams");
    events = NULL;
    char tok[64];
    if (more)
        fmt_token(tok, sizeof tok, 'p', last);
    sky__reply_page(r, CT, res, more ? tok : NULL);
out:
    sqlite3_finalize(st);
    if (db)
        sky__store_unlock(req->server->store);
    json_decref(events);
    sky__pattern_free(pattern);
}

/* ---- shared with the other Logs operations' files ----------------------------------------- */

bool sky__logs_group_name_ok(const char *name, const char *field, sky__reply *r)
{
    char why[700];
    if (!check_group_name(name, field, why, sizeof why))
        return true;
    sky__reply_aws_error(r, 400, CT, "InvalidParameterException", "%s", why);
    return false;
}

int64_t sky__logs_find_group(sqlite3 *db, const char *name) { return find_group(db, name, NULL); }

int64_t sky__logs_find_group_retention(sqlite3 *db, const char *name, int *retention)
{
    return find_group(db, name, retention);
}

const char *sky__logs_check_group_name(const char *name, const char *field, char *buf, size_t cap)
{
    return check_group_name(name, field, buf, cap);
}

const char *sky__logs_group_from_identifier(const char *id, char *buf, size_t cap)
{
    return group_from_identifier(id, buf, cap);
}

int sky__logs_str_arg(json_t *o, const char *key, const char **out)
{
    return arg_str(o, key, out);
}

/* ---- dispatch ---------------------------------------------------------------------------- */

typedef void (*op_fn)(const sky__request *req, json_t *body, sky__reply *r);

static const struct {
    const char *name;
    op_fn fn;
} ops[] = {
    {"CreateLogGroup", create_log_group},
    {"DeleteLogGroup", delete_log_group},
    {"DescribeLogGroups", describe_log_groups},
    {"CreateLogStream", create_log_stream},
    {"DeleteLogStream", delete_log_stream},
    {"DescribeLogStreams", describe_log_streams},
    {"PutRetentionPolicy", put_retention_policy},
    {"DeleteRetentionPolicy", delete_retention_policy},
    {"PutLogEvents", put_log_events},
    {"GetLogEvents", get_log_events},
    {"FilterLogEvents", filter_log_events},
    {"PutMetricFilter", sky__put_metric_filter},
    {"DescribeMetricFilters", sky__describe_metric_filters},
    {"DeleteMetricFilter", sky__delete_metric_filter},
    {"TestMetricFilter", sky__test_metric_filter},
    {"TagResource", sky__tag_resource},
    {"UntagResource", sky__untag_resource},
    {"ListTagsForResource", sky__list_tags_for_resource},
    {"TagLogGroup", sky__tag_log_group},
    {"UntagLogGroup", sky__untag_log_group},
    {"ListTagsLogGroup", sky__list_tags_log_group},
};

void sky__logs_handle(const sky__request *req, const char *op, sky__reply *r)
{
    op_fn fn = sky__insights_op(op); /* StartQuery & co: insights_api.c */
    for (size_t i = 0; !fn && i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(ops[i].name, op) == 0)
            fn = ops[i].fn;
    if (!fn) {
        sky__reply_aws_error(r, 400, CT, "UnknownOperationException",
                             "Operation %s is not supported by skylog serve", op);
        return;
    }
    json_t *body = sky__parse_json_body(req, r, SKY__API_LOGS);
    if (!body)
        return;
    fn(req, body, r);
    json_decref(body);
}

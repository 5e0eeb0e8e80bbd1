/*
 * log_tags.c - tags on log groups (see log_tags.h).
 *
 * Validation follows the API model (botocore's logs service-2.json) and comes first, before
 * the store is touched: `tags` is a map of 1-50 entries, keys 1-128 and values 0-256
 * characters matching ^([\p{L}\p{Z}\p{N}_.:/=+\-@]+)$ (values: `*`), lengths counted in UTF-16
 * code units as AWS's Java validation counts them; `tagKeys` a list of 0-50 keys; resourceArn
 * 1-1011 characters of [\w+=/:,.@-] (so the `:*` form DescribeLogGroups shows as `arn` is
 * refused: the tagging APIs take `logGroupArn`, as the API reference says). Keys starting
 * "aws:" (any case) are reserved. Then the ARN is resolved: a log group ARN of this server's
 * partition, region and account names a group; any other well-formed CloudWatch Logs ARN
 * (another region or account, a destination, which serve does not have) names nothing:
 * ResourceNotFoundException, as for a group that does not exist. An ARN that is not one, or
 * not of CloudWatch Logs, is InvalidParameterException.
 *
 * Merging keeps the 50-tag limit over the result: keys already set count once, and a request
 * that would go past 50 changes nothing (TooManyTagsException with resourceName, its shape in
 * the model; the deprecated TagLogGroup, whose model lists no such error, answers
 * InvalidParameterException).
 */
#include "log_tags.h"
#include "logs_fail.h"

#include "logs_api.h"
#include "server.h"
#include "unicode_class.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CT SKY__CT_JSON11
#define MAX_KEY 128
#define MAX_VALUE 256
#define MAX_ARN 1011
#define KEY_PATTERN "^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+)$"
#define VALUE_PATTERN "^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*)$"
#define ARN_PATTERN "[\\w+=/:,.@-]*"

#define WRONG_TYPE(field)                                                                \
    FAIL_STATUS(400, "SerializationException", "Unexpected value type for '%s'", field)
#define NOT_NULL(field)                                                                  \
    INVALID("1 validation error detected: Value null at '%s' failed to satisfy constraint: " \
            "Member must not be null", field)
#define NOT_FOUND()                                                                      \
    FAIL_STATUS(400, "ResourceNotFoundException", "The specified log group does not exist.")

/* ---- validation -------------------------------------------------------------------------- */

static bool tag_char(uint32_t cp)
{
    return (cp < 0x80 && strchr("_.:/=+-@", (int)cp) && cp != 0) || sky__unicode_is_lnz(cp);
}

/* The constraints text s (n bytes, UTF-8 that jansson checked, NULs possible) fails, as AWS
 * lists them ("Member must have length ..., Member must satisfy regular expression pattern:
 * ..."), into buf; NULL when it fails none. */
static const char *text_violations(const char *s, size_t n, size_t min, size_t max,
                                   const char *pattern, char *buf, size_t cap)
{
    size_t units = 0;
    bool chars_ok = true;
    for (size_t i = 0; i < n;) {
        size_t len = sky__utf8_char_len(s + i);
        if (len == 0 || i + len > n) { /* a NUL, which no pattern here admits */
            chars_ok = false;
            units++;
            i++;
            continue;
        }
        uint32_t cp = len == 1 ? (unsigned char)s[i] : (unsigned char)s[i] & (0x7F >> len);
        for (size_t k = 1; k < len; k++)
            cp = (cp << 6) | ((unsigned char)s[i + k] & 0x3F);
        units += cp >= 0x10000 ? 2 : 1; /* a surrogate pair in Java's String.length() */
        chars_ok = chars_ok && tag_char(cp);
        i += len;
    }
    size_t used = 0;
    buf[0] = '\0';
    if (units < min || units > max)
        used += (size_t)snprintf(buf, cap, "Member must have length %s %zu",
                                 units < min ? "greater than or equal to" : "less than or equal to",
                                 units < min ? min : max);
    if (!chars_ok && used < cap)
        snprintf(buf + used, cap - used, "%sMember must satisfy regular expression pattern: %s",
                 used ? ", " : "", pattern);
    return buf[0] ? buf : NULL;
}

/* A tag key's violations (the model's, or the reserved prefix) replied for `field` (`what` is
 * "Map keys" for a map, "Member" for a list); false when replied. */
static bool key_ok(const char *key, size_t n, const char *field, const char *what, sky__reply *r)
{
    char why[300];
    if (text_violations(key, n, 1, MAX_KEY, KEY_PATTERN, why, sizeof why)) {
        sky__reply_aws_error(r, 400, CT, "InvalidParameterException",
                             "1 validation error detected: Value '%.300s' at '%s' failed to "
                             "satisfy constraint: %s must satisfy constraint: [%s]",
                             key, field, what, why);
        return false;
    }
    if (n >= 4 && strncasecmp(key, "aws:", 4) == 0) {
        sky__reply_aws_error(r, 400, CT, "InvalidParameterException",
                             "Invalid tag key '%.300s' at '%s': the 'aws:' prefix is reserved "
                             "for AWS use",
                             key, field);
        return false;
    }
    return true;
}

bool sky__tags_check(json_t *body, const char *field, bool required, sky__reply *r)
{
    json_t *tags = json_object_get(body, field), *v;
    const char *key;
    size_t klen;
    char why[300];
    if (!tags || json_is_null(tags)) {
        if (!required)
            return true;
        NOT_NULL(field);
    }
    if (!json_is_object(tags))
        WRONG_TYPE(field);
    size_t n = json_object_size(tags);
    if (n < 1 || n > SKY__MAX_TAGS)
        INVALID("1 validation error detected: Value at '%s' failed to satisfy constraint: "
                "Member must have length %s %d",
                field, n < 1 ? "greater than or equal to" : "less than or equal to",
                n < 1 ? 1 : SKY__MAX_TAGS);
    json_object_keylen_foreach(tags, key, klen, v) {
        if (!json_is_string(v))
            WRONG_TYPE(field);
        if (!key_ok(key, klen, field, "Map keys", r))
            return false;
        if (text_violations(json_string_value(v), json_string_length(v), 0, MAX_VALUE,
                            VALUE_PATTERN, why, sizeof why))
            INVALID("1 validation error detected: Value '%.300s' at '%s' failed to satisfy "
                    "constraint: Map value must satisfy constraint: [%s]",
                    json_string_value(v), field, why);
    }
    return true;
out:
    return false;
}

/* A list of tag keys (member `field`, required): each a string and a valid key, at most
 * `max` of them (0: no maximum), at least `min`. NULL with the error replied. */
static json_t *keys_arg(json_t *body, const char *field, size_t min, size_t max, sky__reply *r)
{
    json_t *keys = json_object_get(body, field), *v;
    size_t i;
    if (!keys || json_is_null(keys))
        NOT_NULL(field);
    if (!json_is_array(keys))
        WRONG_TYPE(field);
    size_t n = json_array_size(keys);
    if (n < min || (max && n > max))
        INVALID("1 validation error detected: Value at '%s' failed to satisfy constraint: "
                "Member must have length %s %zu",
                field, n < min ? "greater than or equal to" : "less than or equal to",
                n < min ? min : max);
    json_array_foreach(keys, i, v) {
        if (!json_is_string(v))
            WRONG_TYPE(field);
        if (!key_ok(json_string_value(v), json_string_length(v), field, "Member", r))
            return NULL;
    }
    return keys;
out:
    return NULL;
}

/* resourceArn as the model constrains it; NULL with the error replied. */
static const char *arn_arg(json_t *body, sky__reply *r)
{
    const char *arn;
    if (sky__logs_str_arg(body, "resourceArn", &arn) < 0)
        WRONG_TYPE("resourceArn");
    if (!arn)
        NOT_NULL("resourceArn");
    size_t n = strlen(arn);
    if (n < 1 || n > MAX_ARN)
        INVALID("1 validation error detected: Value '%.300s' at 'resourceArn' failed to satisfy "
                "constraint: Member must have length %s",
                arn, n < 1 ? "greater than or equal to 1" : "less than or equal to 1011");
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)arn[i]) && !strchr("_+=/:,.@-", arn[i]))
            INVALID("1 validation error detected: Value '%.300s' at 'resourceArn' failed to "
                    "satisfy constraint: Member must satisfy regular expression pattern: %s",
                    arn, ARN_PATTERN);
    return arn;
out:
    return NULL;
}

/* The group a valid resourceArn names, copied into name; false with the error replied
 * (InvalidParameterException: not an ARN, or not CloudWatch Logs'; ResourceNotFoundException:
 * nothing here by that ARN). */
static bool arn_group(const sky__request *req, const char *arn, char *name, size_t cap,
                      sky__reply *r)
{
    const sky__serve_opts *o = req->server->opts;
    const char *f[6];
    size_t len[6], nf = 0;
    char why[700];
    /* arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE, the resource keeping its own colons */
    for (const char *p = arn; nf < 6; nf++) {
        f[nf] = p;
        const char *c = nf < 5 ? strchr(p, ':') : NULL;
        len[nf] = c ? (size_t)(c - p) : strlen(p);
        if (!c) {
            nf++;
            break;
        }
        p = c + 1;
    }
#define IS(i, s) (len[i] == strlen(s) && strncmp(f[i], s, len[i]) == 0)
    if (nf < 6 || !IS(0, "arn") || len[1] == 0 || len[2] == 0 || len[5] == 0)
        INVALID("Invalid ARN '%.300s': an ARN is arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE",
                arn);
    if (!IS(2, "logs"))
        INVALID("Invalid ARN '%.300s': not a CloudWatch Logs resource", arn);
    if (len[5] > 10 && strncmp(f[5], "log-group:", 10) == 0) {
        const char *g = f[5] + 10;
        if (!IS(1, "aws") || !IS(3, o->region) || !IS(4, o->account_id) || strchr(g, ':') ||
            sky__logs_check_group_name(g, "resourceArn", why, sizeof why) || strlen(g) >= cap)
            NOT_FOUND();
        snprintf(name, cap, "%s", g);
        return true;
    }
#undef IS
    if (strncmp(f[5], "destination:", 12) == 0)
        FAIL_STATUS(400, "ResourceNotFoundException", "The specified destination does not exist.");
    FAIL_STATUS(400, "ResourceNotFoundException", "The specified resource does not exist.");
out:
    return false;
}

/* logGroupName for the deprecated operations; NULL with the error replied. */
static const char *name_arg(json_t *body, sky__reply *r)
{
    const char *name;
    if (sky__logs_str_arg(body, "logGroupName", &name) < 0)
        WRONG_TYPE("logGroupName");
    if (!name)
        NOT_NULL("logGroupName");
    return sky__logs_group_name_ok(name, "logGroupName", r) ? name : NULL;
out:
    return NULL;
}

/* ---- store ------------------------------------------------------------------------------- */

int sky__tags_store(sqlite3 *db, int64_t gid, json_t *tags)
{
    sqlite3_stmt *st;
    const char *key;
    json_t *v;
    int rc = sqlite3_prepare_v2(
        db, "INSERT OR REPLACE INTO log_group_tags(group_id, key, value) VALUES(?, ?, ?)", -1, &st,
        NULL);
    if (rc != SQLITE_OK)
        return rc;
    json_object_foreach(tags, key, v) {
        sqlite3_bind_int64(st, 1, gid);
        sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, json_string_value(v), (int)json_string_length(v), SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
        sqlite3_reset(st);
        if (rc != SQLITE_OK)
            break;
    }
    sqlite3_finalize(st);
    return rc;
}

/* How many tags group gid would have with `tags` merged in; -1 on a store error. */
static int64_t merged_count(sqlite3 *db, int64_t gid, json_t *tags)
{
    sqlite3_stmt *st;
    int64_t n = -1;
    char *keys = json_dumps(tags, JSON_COMPACT);
    if (keys && sqlite3_prepare_v2(db,
                                   "SELECT COUNT(*) FROM log_group_tags WHERE group_id=?1 AND key "
                                   "NOT IN (SELECT key FROM json_each(?2))",
                                   -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, gid);
        sqlite3_bind_text(st, 2, keys, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            n = sqlite3_column_int64(st, 0) + (int64_t)json_object_size(tags);
        sqlite3_finalize(st);
    }
    free(keys);
    return n;
}

/* Group `name`'s id under the held lock: >= 0, or -1 with the error replied. */
static int64_t find(sqlite3 *db, const char *name, sky__reply *r)
{
    int64_t gid = sky__logs_find_group(db, name);
    if (gid == -2)
        DB_FAIL();
    if (gid == -1)
        NOT_FOUND();
    return gid;
out:
    return -1;
}

/* Merges `tags` (checked) into group `name`'s. arn: what TooManyTagsException names; NULL for
 * TagLogGroup, which answers InvalidParameterException instead. */
static void tag_group(const sky__request *req, const char *name, json_t *tags, const char *arn,
                      sky__reply *r)
{
    sqlite3 *db = sky__store_lock(req->server->store);
    int64_t gid = find(db, name, r), total;
    if (gid < 0)
        goto out;
    if ((total = merged_count(db, gid, tags)) < 0)
        DB_FAIL();
    if (total > SKY__MAX_TAGS) {
        if (!arn)
            INVALID("A resource can have no more than %d tags (this request would make %lld).",
                    SKY__MAX_TAGS, (long long)total);
        sky__reply_aws_error_member(r, 400, CT, "TooManyTagsException", "resourceName", arn,
                                    "A resource can have no more than %d tags (this request "
                                    "would make %lld).",
                                    SKY__MAX_TAGS, (long long)total);
        goto out;
    }
    if (sky__store_begin(db) != SQLITE_OK)
        DB_FAIL();
    if (sky__tags_store(db, gid, tags) != SQLITE_OK || sky__store_commit(db) != SQLITE_OK)
        DB_ROLLBACK_FAIL();
    sky__reply_raw(r, 200, CT, "", 0);
out:
    sky__store_unlock(req->server->store);
}

static void untag_group(const sky__request *req, const char *name, json_t *keys, sky__reply *r)
{
    sqlite3 *db = sky__store_lock(req->server->store);
    sqlite3_stmt *st = NULL;
    size_t i;
    json_t *v;
    int64_t gid = find(db, name, r);
    if (gid < 0)
        goto out;
    if (sky__store_begin(db) != SQLITE_OK)
        DB_FAIL();
    if (sqlite3_prepare_v2(db, "DELETE FROM log_group_tags WHERE group_id=?1 AND key=?2", -1, &st,
                           NULL) != SQLITE_OK)
        DB_ROLLBACK_FAIL();
    json_array_foreach(keys, i, v) {
        sqlite3_bind_int64(st, 1, gid);
        sqlite3_bind_text(st, 2, json_string_value(v), -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            DB_ROLLBACK_FAIL();
    }
    if (sky__store_commit(db) != SQLITE_OK)
        DB_ROLLBACK_FAIL();
    sky__reply_raw(r, 200, CT, "", 0);
out:
    sqlite3_finalize(st);
    sky__store_unlock(req->server->store);
}

/* {"tags": {...}} of group `name` (an empty map when it has none, as AWS answers). */
static void list_group(const sky__request *req, const char *name, sky__reply *r)
{
    sqlite3 *db = sky__store_lock(req->server->store);
    sqlite3_stmt *st = NULL;
    json_t *tags = json_object();
    int64_t gid = find(db, name, r);
    if (gid < 0)
        goto out;
    if (sqlite3_prepare_v2(db,
                           "SELECT key, value FROM log_group_tags WHERE group_id=? ORDER BY key",
                           -1, &st, NULL) != SQLITE_OK)
        DB_FAIL();
    sqlite3_bind_int64(st, 1, gid);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        json_object_set_new(tags, (const char *)sqlite3_column_text(st, 0),
                            json_stringn((const char *)sqlite3_column_text(st, 1),
                                         (size_t)sqlite3_column_bytes(st, 1)));
    if (rc != SQLITE_DONE)
        DB_FAIL();
    sky__reply_json(r, 200, CT, json_pack("{s:o}", "tags", tags));
    tags = NULL;
out:
    sqlite3_finalize(st);
    sky__store_unlock(req->server->store);
    json_decref(tags);
}

/* ---- operations -------------------------------------------------------------------------- */

void sky__tag_resource(const sky__request *req, json_t *body, sky__reply *r)
{
    char name[600];
    const char *arn = arn_arg(body, r);
    if (arn && sky__tags_check(body, "tags", true, r) && arn_group(req, arn, name, sizeof name, r))
        tag_group(req, name, json_object_get(body, "tags"), arn, r);
}

void sky__untag_resource(const sky__request *req, json_t *body, sky__reply *r)
{
    char name[600];
    const char *arn = arn_arg(body, r);
    json_t *keys = arn ? keys_arg(body, "tagKeys", 0, SKY__MAX_TAGS, r) : NULL;
    if (keys && arn_group(req, arn, name, sizeof name, r))
        untag_group(req, name, keys, r);
}

void sky__list_tags_for_resource(const sky__request *req, json_t *body, sky__reply *r)
{
    char name[600];
    const char *arn = arn_arg(body, r);
    if (arn && arn_group(req, arn, name, sizeof name, r))
        list_group(req, name, r);
}

void sky__tag_log_group(const sky__request *req, json_t *body, sky__reply *r)
{
    const char *name = name_arg(body, r);
    if (name && sky__tags_check(body, "tags", true, r))
        tag_group(req, name, json_object_get(body, "tags"), NULL, r);
}

void sky__untag_log_group(const sky__request *req, json_t *body, sky__reply *r)
{
    const char *name = name_arg(body, r);
    json_t *keys = name ? keys_arg(body, "tags", 1, 0, r) : NULL; /* TagList: min 1, no max */
    if (keys)
        untag_group(req, name, keys, r);
}

void sky__list_tags_log_group(const sky__request *req, json_t *body, sky__reply *r)
{
    const char *name = name_arg(body, r);
    if (name)
        list_group(req, name, r);
}

/*
 * query.c - awsQuery form parsing and XML rendering (see query.h). Only what the CloudWatch
 * metrics API needs: no XML attributes, no maps ("entry"), lists always wrapped in <member>.
 */
#include "query.h"

#include "reply.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Decodes application/x-www-form-urlencoded text in place ('+' is a space). */
static void form_decode(char *s)
{
    char *o = s;
    for (; *s; s++) {
        if (*s == '+') {
            *o++ = ' ';
        } else if (*s == '%' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
            *o++ = (char)(hexval(s[1]) * 16 + hexval(s[2]));
            s += 2;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
}

/* Sets `value` at the dotted path `key` inside `root`. */
static int set_path(json_t *root, char *key, const char *value, char *err, size_t cap)
{
    json_t *cur = root;
    char *save = NULL;
    char *seg = strtok_r(key, ".", &save);
    while (seg) {
        char *next = strtok_r(NULL, ".", &save);
        if (strcmp(seg, "member") == 0 && next) {
            /* cur must be an array; next is the 1-based index. */
            char *end;
            long idx = strtol(next, &end, 10);
            if (*end || idx < 1 || idx > 100000 || !json_is_array(cur)) {
                snprintf(err, cap, "bad list index '%s'", next);
                return -1;
            }
            while (json_array_size(cur) < (size_t)idx)
                json_array_append_new(cur, json_null());
            char *after = strtok_r(NULL, ".", &save);
            if (!after) {
                json_array_set_new(cur, (size_t)idx - 1, json_string(value));
                return 0;
            }
            json_t *slot = json_array_get(cur, (size_t)idx - 1);
            if (!json_is_object(slot)) {
                slot = json_object();
                json_array_set_new(cur, (size_t)idx - 1, slot);
            }
            cur = slot;
            seg = after;
            continue;
        }
        if (!json_is_object(cur)) {
            snprintf(err, cap, "parameter path conflicts at '%s'", seg);
            return -1;
        }
        if (!next) {
            json_object_set_new(cur, seg, json_string(value));
            return 0;
        }
        json_t *child = json_object_get(cur, seg);
        if (!child) {
            child = strcmp(next, "member") == 0 ? json_array() : json_object();
            json_object_set_new(cur, seg, child);
        }
        cur = child;
        seg = next;
    }
    return 0;
}

/* Sparse lists ("member.1" and "member.3") keep JSON nulls in the gaps; drop them. */
static void compact(json_t *v)
{
    if (json_is_array(v)) {
        for (size_t i = json_array_size(v); i-- > 0;) {
            if (json_is_null(json_array_get(v, i)))
                json_array_remove(v, i);
            else
                compact(json_array_get(v, i));
        }
    } else if (json_is_object(v)) {
        const char *k;
        json_t *c;
        json_object_foreach(v, k, c) compact(c);
    }
}

json_t *sky__query_parse(const char *body, size_t len, char *err, size_t cap)
{
    char *copy = strndup(body, len);
    json_t *root = json_object();
    if (!copy || !root) {
        snprintf(err, cap, "out of memory");
        free(copy);
        json_decref(root);
        return NULL;
    }
    char *save = NULL;
    for (char *pair = strtok_r(copy, "&", &save); pair; pair = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(pair, '=');
        const char *value = "";
        if (eq) {
            *eq = '\0';
            value = eq + 1;
        }
        form_decode(pair);
        char *v = strdup(value);
        if (!v) {
            snprintf(err, cap, "out of memory");
            goto fail;
        }
        form_decode(v);
        int rc = set_path(root, pair, v, err, cap);
        free(v);
        if (rc != 0)
            goto fail;
    }
    free(copy);
    compact(root);
    return root;
fail:
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
        bool as_time = strcmp(k, "Timestamp") == 0 || strcmp(k, "Timestamps") == 0;
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
    char rid[64];
    snprintf(rid, sizeof rid, "00000000-0000-4000-8000-%012llx", request_id);
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

/*
 * reply.c - building replies and AWS-shaped error bodies (see reply.h). Pure memory work: no
 * I/O. It knows how each wire protocol shapes an error (awsJson, awsQuery-compatible JSON,
 * awsQuery XML) and nothing about operations, so every handler's errors look alike.
 */
#include "reply.h"

#include <stdatomic.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t sky__utf8_char_len(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 : (*p >> 3) == 30 ? 4 : 0;
    if (!*p || !n || (n == 2 && *p < 0xC2) || (n == 4 && *p > 0xF4))
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    if (n == 3 && ((*p == 0xE0 && p[1] < 0xA0) || (*p == 0xED && p[1] >= 0xA0)))
        return 0; /* overlong, or a UTF-16 surrogate */
    if (n == 4 && ((*p == 0xF0 && p[1] < 0x90) || (*p == 0xF4 && p[1] >= 0x90)))
        return 0;
    return n;
}

/* Error messages quote client input (names, values) and are cut to a fixed size, possibly
 * inside a character: bytes that are not well-formed UTF-8 become '?', so the message can
 * always be rendered (jansson refuses such strings, and the reply would lose its message). */
static void utf8_sanitize(char *s)
{
    while (*s) {
        size_t n = sky__utf8_char_len(s);
        if (!n)
            *s = '?';
        s += n ? n : 1;
    }
}

int64_t sky__serve_clock_offset_ms(void)
{
    static _Atomic int64_t cached = INT64_MIN;
    int64_t v = atomic_load_explicit(&cached, memory_order_relaxed);
    if (v != INT64_MIN)
        return v;
    const char *on = getenv("SKYLOG_SERVE_TEST_HOOKS");
    const char *off = getenv("SKYLOG_SERVE_TEST_CLOCK_OFFSET_MS");
    v = on && !strcmp(on, "1") && off ? strtoll(off, NULL, 10) : 0;
    if (v < -(int64_t)3650 * 86400000 || v > (int64_t)3650 * 86400000) /* ten years at most */
        v = 0;
    atomic_store_explicit(&cached, v, memory_order_relaxed);
    return v;
}

int sky__test_hook(const sky__request *req, sky__reply *r, const char *path, const char *arg,
                   int64_t dflt, int64_t max, int64_t *v)
{
    const char *on = getenv("SKYLOG_SERVE_TEST_HOOKS");
    if (!on || strcmp(on, "1") != 0 || strcmp(req->method, "POST") != 0 ||
        strcmp(req->path, path) != 0)
        return 0;
    *v = dflt;
    size_t n = strlen(arg);
    for (const char *q = req->query; q && *q; q = strchr(q, '&') ? strchr(q, '&') + 1 : NULL) {
        if (strncmp(q, arg, n) != 0 || q[n] != '=')
            continue;
        char *end;
        errno = 0;
        long long x = strtoll(q + n + 1, &end, 10);
        if (end == q + n + 1 || (*end && *end != '&') || errno || x < 0 || x > max) {
            sky__reply_aws_error(r, 400, "application/json", "ValidationError",
                                 "%s must be an integer from 0 to %lld", arg, (long long)max);
            return -1;
        }
        *v = x;
    }
    return 1;
}

void sky__request_id_text(unsigned long long id, char out[SKY__REQUEST_ID_CAP])
{
    snprintf(out, SKY__REQUEST_ID_CAP, "00000000-0000-4000-8000-%012llx", id);
}

void sky__reply_clear(sky__reply *r)
{
    free(r->body);
    free(r->error_type);
    for (int i = 0; i < r->n_extra; i++)
        free(r->extra[i].value);
    unsigned long long id = r->request_id;
    memset(r, 0, sizeof *r);
    r->request_id = id;
}

void sky__reply_header(sky__reply *r, const char *name, const char *value)
{
    if (r->n_extra >= SKY__MAX_EXTRA_HEADERS)
        return;
    char *v = strdup(value);
    if (!v)
        return;
    r->extra[r->n_extra].name = name;
    r->extra[r->n_extra].value = v;
    r->n_extra++;
}

void sky__reply_raw(sky__reply *r, int status, const char *content_type, const char *body,
                    size_t len)
{
    free(r->body);
    r->body = malloc(len + 1);
    if (r->body) {
        memcpy(r->body, body, len);
        r->body[len] = '\0';
        r->len = len;
    } else {
        r->len = 0;
        status = 500;
    }
    r->status = status;
    r->content_type = content_type;
}

void sky__reply_json(sky__reply *r, int status, const char *content_type, json_t *obj)
{
    char *text = obj ? json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    bool failed = obj && !text; /* out of memory while rendering */
    json_decref(obj);
    if (!text) {
        sky__reply_raw(r, failed ? 500 : status, content_type, "{}", 2);
        return;
    }
    free(r->body);
    r->body = text;
    r->len = strlen(text);
    r->status = status;
    r->content_type = content_type;
}

bool sky__offset_token_parse(const char *tok, int64_t *off)
{
    *off = 0;
    if (!tok)
        return true;
    if (strncmp(tok, "o/", 2) != 0 || tok[2] < '0' || tok[2] > '9')
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(tok + 2, &end, 10);
    if (*end || errno == ERANGE)
        return false;
    *off = v;
    return true;
}

void sky__reply_page(sky__reply *r, const char *content_type, json_t *res, const char *next)
{
    if (res && next)
        json_object_set_new(res, "nextToken", json_string(next));
    sky__reply_json(r, 200, content_type, res);
}

void sky__reply_offset_page(sky__reply *r, const char *content_type, json_t *res, bool more,
                            int64_t next_off)
{
    char tok[32];
    snprintf(tok, sizeof tok, "o/%lld", (long long)next_off);
    sky__reply_page(r, content_type, res, more ? tok : NULL);
}

void sky__reply_aws_verror(sky__reply *r, int status, const char *content_type, const char *type,
                           const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    utf8_sanitize(msg);
    sky__reply_json(r, status, content_type, json_pack("{s:s,s:s}", "__type", type, "message", msg));
    free(r->error_type);
    r->error_type = strdup(type);
}

void sky__reply_aws_error_member(sky__reply *r, int status, const char *content_type,
                                 const char *type, const char *member, const char *value,
                                 const char *fmt, ...)
{
    char msg[1024], val[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(val, sizeof val, "%s", value);
    utf8_sanitize(msg);
    utf8_sanitize(val);
    sky__reply_json(r, status, content_type,
                    json_pack("{s:s,s:s,s:s}", "__type", type, "message", msg, member, val));
    free(r->error_type);
    r->error_type = strdup(type);
}

void sky__reply_aws_error(sky__reply *r, int status, const char *content_type, const char *type,
                          const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sky__reply_aws_verror(r, status, content_type, type, fmt, ap);
    va_end(ap);
}

bool sky__xml_append(char **buf, size_t *len, size_t *cap, const char *s, bool escape)
{
    for (; *s; s++) {
        const char *rep = NULL;
        if (escape) {
            switch (*s) {
            case '<': rep = "&lt;"; break;
            case '>': rep = "&gt;"; break;
            case '&': rep = "&amp;"; break;
            case '"': rep = "&quot;"; break;
            case '\'': rep = "&apos;"; break;
            default: break;
            }
        }
        size_t n = rep ? strlen(rep) : 1;
        if (*len + n + 1 > *cap) {
            size_t ncap = *cap ? *cap * 2 : 256;
            while (ncap < *len + n + 1)
                ncap *= 2;
            char *nb = realloc(*buf, ncap);
            if (!nb)
                return false;
            *buf = nb;
            *cap = ncap;
        }
        memcpy(*buf + *len, rep ? rep : s, n);
        *len += n;
        (*buf)[*len] = '\0';
    }
    return true;
}

void sky__reply_error(sky__reply *r, sky__api api, int status, const char *code, const char *fmt,
                      ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    utf8_sanitize(msg);
    const char *fault = status >= 500 ? "Receiver" : "Sender";
    if (api == SKY__API_METRICS_QUERY) {
        char *b = NULL, rid[SKY__REQUEST_ID_CAP];
        size_t len = 0, cap = 0;
        sky__request_id_text(r->request_id, rid);
        bool ok = sky__xml_append(&b, &len, &cap,
                                  "<ErrorResponse xmlns=\"http://monitoring.amazonaws.com/doc/"
                                  "2010-08-01/\"><Error><Type>", false) &&
                  sky__xml_append(&b, &len, &cap, fault, false) &&
                  sky__xml_append(&b, &len, &cap, "</Type><Code>", false) &&
                  sky__xml_append(&b, &len, &cap, code, true) &&
                  sky__xml_append(&b, &len, &cap, "</Code><Message>", false) &&
                  sky__xml_append(&b, &len, &cap, msg, true) &&
                  sky__xml_append(&b, &len, &cap, "</Message></Error><RequestId>", false) &&
                  sky__xml_append(&b, &len, &cap, rid, false) &&
                  sky__xml_append(&b, &len, &cap, "</RequestId></ErrorResponse>", false);
        if (ok)
            sky__reply_raw(r, status, SKY__CT_XML, b, len);
        else
            sky__reply_raw(r, 500, SKY__CT_XML, "", 0);
        free(b);
        free(r->error_type);
        r->error_type = strdup(code);
        return;
    }
    if (api == SKY__API_METRICS_JSON) {
        char type[256], qerr[300];
        size_t n = strlen(code);
        bool has_suffix = n > 9 && strcmp(code + n - 9, "Exception") == 0;
        snprintf(type, sizeof type, "com.amazonaws.cloudwatch#%s%s", code,
                 has_suffix ? "" : "Exception");
        snprintf(qerr, sizeof qerr, "%s;%s", code, fault);
        sky__reply_json(r, status, SKY__CT_JSON10,
                        json_pack("{s:s,s:s}", "__type", type, "message", msg));
        free(r->error_type);
        r->error_type = strdup(type);
        sky__reply_header(r, "x-amzn-query-error", qerr);
        return;
    }
    sky__reply_aws_error(r, status, api == SKY__API_LOGS ? SKY__CT_JSON11 : "application/json",
                         code, "%s", msg);
}

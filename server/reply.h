/*
 * reply.h - the request a handler sees and the reply it builds, independent of libmicrohttpd, so
 * API handlers (logs, metrics, ingestion) can be written and read without HTTP plumbing.
 *
 * A handler never sends anything itself: it fills a sky__reply and http.c sends it (or, under
 * fault injection, drops it). Errors are shaped the way AWS shapes them for each protocol, in one
 * place, so every handler answers the same way.
 */
#ifndef SKY_SERVE_REPLY_H
#define SKY_SERVE_REPLY_H

#include <jansson.h>
#include <skylog/aws.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sky__server sky__server;

typedef struct sky__request {
    const char *method;
    const char *path;      /* URL path, without the query (percent-decoded) */
    const char *raw_path;  /* the path as sent on the wire (what SigV4 signs) */
    const char *query;     /* raw query string (after '?'), "" when none */
    const char *body;      /* decoded body (gzip undone), NUL-terminated */
    size_t body_len;
    const char *raw_body;  /* body as received (what a SigV4 payload hash covers) */
    size_t raw_len;
    /* Looks up a request header, case-insensitively; NULL when absent. */
    const char *(*header)(const struct sky__request *req, const char *name);
    void *conn;            /* for header(): the libmicrohttpd connection */
    const sky_aws_header *headers; /* every header received, in order (for SigV4) */
    size_t n_headers;
    sky__server *server;
    unsigned long long id; /* request number, for x-amzn-RequestId */
} sky__request;

#define SKY__MAX_EXTRA_HEADERS 4

typedef struct sky__reply {
    int status;
    char *body; /* malloc'd, owned by the reply */
    size_t len;
    const char *content_type;
    char *error_type; /* x-amzn-ErrorType when set (malloc'd) */
    struct {
        const char *name;
        char *value; /* malloc'd */
    } extra[SKY__MAX_EXTRA_HEADERS];
    int n_extra;
    /* The request's number (set by http.c before dispatch, kept by sky__reply_clear): awsQuery
     * error bodies carry the same RequestId as the x-amzn-RequestId header. */
    unsigned long long request_id;
} sky__reply;

/* Test hooks (POST /_skylog/..., enabled only by SKYLOG_SERVE_TEST_HOOKS=1 in the server's
 * environment, docs/SERVE.md): 1 when req is POST `path` with its query's `arg` absent (*v =
 * dflt) or an integer from 0 to max (*v); -1 when it is, with a bad value (400 ValidationError
 * replied); 0 when it is not (or hooks are off). */
int sky__test_hook(const sky__request *req, sky__reply *r, const char *path,
                   const char *arg, int64_t dflt, int64_t max, int64_t *v);

/* The RequestId text of request number `id` ("00000000-0000-4000-8000-00000000002a"): the
 * x-amzn-RequestId header, awsQuery <RequestId> and error bodies all use it. */
#define SKY__REQUEST_ID_CAP 40
void sky__request_id_text(unsigned long long id, char out[SKY__REQUEST_ID_CAP]);

/* Frees what the reply owns and leaves it empty (its request_id stays). */
void sky__reply_clear(sky__reply *r);
/* Adds a header (value copied). Silently ignored past SKY__MAX_EXTRA_HEADERS. */
void sky__reply_header(sky__reply *r, const char *name, const char *value);
/* A JSON body; takes ownership of `obj` (NULL means "{}"). */
void sky__reply_json(sky__reply *r, int status, const char *content_type, json_t *obj);
/* A raw body (copied). */
void sky__reply_raw(sky__reply *r, int status, const char *content_type, const char *body,
                    size_t len);
/* An awsJson error: {"__type": type, "message": ...} + x-amzn-ErrorType, status as given. */
void sky__reply_aws_error(sky__reply *r, int status, const char *content_type, const char *type,
                          const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The same with one more string member, as errors whose shape has one (TooManyTagsException's
 * resourceName). */
void sky__reply_aws_error_member(sky__reply *r, int status, const char *content_type,
                                 const char *type, const char *member, const char *value,
                                 const char *fmt, ...) __attribute__((format(printf, 7, 8)));
void sky__reply_aws_verror(sky__reply *r, int status, const char *content_type, const char *type,
                           const char *fmt, va_list ap);

/* Paged listings. Most tokens are offsets "o/<n>" (Describe*, metric filters, query
 * definitions, queries, query results): simple, and stable enough for listings that rarely
 * change between two pages of a local endpoint.
 * sky__offset_token_parse: NULL is the first page (0); false unless "o/" and decimal digits.
 * sky__reply_page: replies 200 with `res` (owned), adding "nextToken": next unless next is NULL.
 * sky__reply_offset_page: the same with next "o/<next_off>" when `more`. */
bool sky__offset_token_parse(const char *tok, int64_t *off);
void sky__reply_page(sky__reply *r, const char *content_type, json_t *res, const char *next);
void sky__reply_offset_page(sky__reply *r, const char *content_type, json_t *res, bool more,
                            int64_t next_off);

/* Which wire protocol a request speaks: decides how errors are shaped. */
typedef enum sky__api {
    SKY__API_OTHER = 0,
    SKY__API_LOGS,          /* awsJson1.1, Logs_20140328 */
    SKY__API_METRICS_JSON,  /* awsJson1.0, GraniteServiceVersion20100801 (awsQueryCompatible) */
    SKY__API_METRICS_QUERY, /* awsQuery form body, XML answers */
    SKY__API_INGEST,        /* /ingest/bulk and /v1/logs */
} sky__api;

/* An error in the shape `api` uses. `code` is the AWS error code as the SDKs report it
 * ("ThrottlingException" for Logs; the awsQuery code such as "InvalidParameterValue" for
 * metrics, which the JSON form carries in x-amzn-query-error as awsQueryCompatible services do). */
void sky__reply_error(sky__reply *r, sky__api api, int status, const char *code,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The length of the well-formed UTF-8 character at s (1-4), 0 if it is not one (or s is at
 * its NUL): what jansson requires of every key and string. */
size_t sky__utf8_char_len(const char *s);

/* Appends `s` XML-escaped to a malloc'd buffer (*buf, *len, *cap); false on OOM. */
bool sky__xml_append(char **buf, size_t *len, size_t *cap, const char *s, bool escape);

#define SKY__CT_JSON11 "application/x-amz-json-1.1"
#define SKY__CT_JSON10 "application/x-amz-json-1.0"
#define SKY__CT_XML "text/xml"

#endif

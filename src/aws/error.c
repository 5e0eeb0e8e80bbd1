/*
 * error.c - turns an AWS error answer (awsJson, restJson or awsQuery XML) into a sky_aws_error
 * and classifies it the way the SDKs' standard retry mode does (botocore/retries/standard.py:
 * ThrottledRetryableChecker, TransientRetryableChecker), plus the two classes our client acts on:
 * expired credentials (refresh once) and clock skew (correct and retry).
 *
 * Pure functions. Must never copy request data into the error: only what the service sent.
 */
#include <skylog/aws.h>

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool in_list(const char *code, const char *const *list)
{
    if (!code || !*code)
        return false;
    for (; *list; list++)
        if (strcmp(code, *list) == 0)
            return true;
    return false;
}

bool sky_aws_is_throttling_code(const char *code)
{
    static const char *const codes[] = {
        "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
        "TooManyRequestsException", "ProvisionedThroughputExceededException",
        "TransactionInProgressException", "RequestLimitExceeded", "BandwidthLimitExceeded",
        "LimitExceededException", "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
        "EC2ThrottledException", NULL};
    return in_list(code, codes);
}

bool sky_aws_is_transient_code(const char *code)
{
    static const char *const codes[] = {"RequestTimeout", "RequestTimeoutException",
                                        "PriorRequestNotComplete", NULL};
    return in_list(code, codes);
}

/* Credentials that are out of date: fetching them again may help (once). An unknown key or a
 * wrong secret (UnrecognizedClientException, InvalidClientTokenId, InvalidSignatureException)
 * is not: the same provider gives the same keys. */
static bool is_expired_code(const char *code)
{
    static const char *const codes[] = {"ExpiredToken", "ExpiredTokenException", "InvalidToken",
                                        "TokenRefreshRequired", NULL};
    return in_list(code, codes);
}

static bool is_auth_code(const char *code)
{
    static const char *const codes[] = {
        "AccessDenied", "AccessDeniedException", "IncompleteSignature", "IncompleteSignatureException",
        "InvalidSignatureException", "SignatureDoesNotMatch", "MissingAuthenticationToken",
        "MissingAuthenticationTokenException", "NotAuthorized", "AuthFailure", "RequestExpired",
        "RequestTimeTooSkewed", "RequestInTheFuture", "InvalidClientTokenId",
        "UnrecognizedClientException", NULL};
    return in_list(code, codes) || is_expired_code(code);
}

static bool is_skew_code(const char *code)
{
    /* botocore's ClockSkew errors (retryhandler / utils) */
    static const char *const codes[] = {"RequestTimeTooSkewed", "RequestExpired",
                                        "RequestInTheFuture", "InvalidSignatureException",
                                        "SignatureDoesNotMatch", "AuthFailure", NULL};
    return in_list(code, codes);
}

static void copy(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

/* botocore's order: cut at the first ':' ("Code:http://internal"), then keep what follows the
 * last '#' ("com.amazonaws.logs#Code"). */
static void set_code(sky_aws_error *e, const char *s, size_t n)
{
    const char *colon = memchr(s, ':', n);
    if (colon)
        n = (size_t)(colon - s);
    for (size_t i = n; i > 0; i--) {
        if (s[i - 1] == '#') {
            n -= i;
            s += i;
            break;
        }
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\n'))
        n--;
    copy(e->code, sizeof e->code, s, n);
}

/* Finds the text of the first <tag>...</tag> in [s, s+n); unescapes the five XML entities. */
static bool xml_text(const char *s, size_t n, const char *tag, char *dst, size_t cap)
{
    char open[64], close[64];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    const char *end = s + n;
    const char *a = memmem(s, n, open, strlen(open));
    if (!a)
        return false;
    a += strlen(open);
    const char *b = memmem(a, (size_t)(end - a), close, strlen(close));
    if (!b)
        return false;
    size_t o = 0;
    for (const char *p = a; p < b && o + 1 < cap;) {
        static const struct {
            const char *ent;
            char c;
        } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
        bool done = false;
        if (*p == '&') {
            for (size_t k = 0; k < 5 && !done; k++) {
                size_t l = strlen(ents[k].ent);
                if ((size_t)(b - p) >= l && memcmp(p, ents[k].ent, l) == 0) {
                    dst[o++] = ents[k].c;
                    p += l;
                    done = true;
                }
            }
        }
        if (!done)
            dst[o++] = *p++;
    }
    dst[o] = '\0';
    return true;
}

void sky_aws_parse_error(long http_status, const sky_aws_header *h, size_t nh, const char *body,
                         size_t len, sky_aws_error *e)
{
    memset(e, 0, sizeof *e);
    e->http_status = http_status;
    if (http_status >= 200 && http_status < 300) {
        e->status = SKY_OK;
        return;
    }
    const char *query_error = NULL;
    for (size_t i = 0; i < nh; i++) {
        if (!h[i].name || !h[i].value)
            continue;
        if (strcasecmp(h[i].name, "x-amzn-errortype") == 0)
            set_code(e, h[i].value, strlen(h[i].value));
        else if (strcasecmp(h[i].name, "x-amzn-query-error") == 0)
            query_error = h[i].value;
        else if ((strcasecmp(h[i].name, "x-amzn-requestid") == 0 ||
                  strcasecmp(h[i].name, "x-amz-request-id") == 0) && !e->request_id[0])
            copy(e->request_id, sizeof e->request_id, h[i].value, strlen(h[i].value));
    }
    size_t i = 0;
    while (body && i < len && (body[i] == ' ' || body[i] == '\n' || body[i] == '\r' || body[i] == '\t'))
        i++;
    if (body && i < len && body[i] == '{') {
        json_t *j = json_loadb(body, len, 0, NULL);
        if (json_is_object(j)) {
            const char *t = json_string_value(json_object_get(j, "__type"));
            if (!t)
                t = json_string_value(json_object_get(j, "code"));
            if (!t)
                t = json_string_value(json_object_get(j, "Code"));
            if (t) /* awsJson: the body's __type wins over x-amzn-ErrorType, as in botocore */
                set_code(e, t, strlen(t));
            const char *m = json_string_value(json_object_get(j, "message"));
            if (!m)
                m = json_string_value(json_object_get(j, "Message"));
            if (!m)
                m = json_string_value(json_object_get(j, "errorMessage"));
            if (m)
                copy(e->message, sizeof e->message, m, strlen(m));
        }
        json_decref(j);
    } else if (body && i < len && body[i] == '<') {
        char tmp[512];
        if (xml_text(body, len, "Code", tmp, sizeof tmp) && !e->code[0])
            set_code(e, tmp, strlen(tmp));
        xml_text(body, len, "Message", e->message, sizeof e->message);
        if (!e->request_id[0])
            xml_text(body, len, "RequestId", e->request_id, sizeof e->request_id);
    }
    /* awsQuery-compatible JSON services (CloudWatch metrics in awsJson 1.0) also send the old
     * query code: "x-amzn-query-error: InvalidParameterValue;Sender" */
    if (query_error) {
        const char *semi = strchr(query_error, ';');
        if (semi && semi != query_error && !strchr(semi + 1, ';'))
            copy(e->code, sizeof e->code, query_error, (size_t)(semi - query_error));
    }
    e->throttling = sky_aws_is_throttling_code(e->code) || http_status == 429;
    e->retryable = e->throttling || sky_aws_is_transient_code(e->code) || http_status == 500 ||
                   http_status == 502 || http_status == 503 || http_status == 504;
    e->expired_credentials = is_expired_code(e->code);
    e->clock_skew = is_skew_code(e->code);
    if (e->throttling)
        e->status = SKY_ETHROTTLED;
    else if (is_auth_code(e->code) || http_status == 401 || http_status == 403)
        e->status = SKY_EAUTH;
    else
        e->status = SKY_EREMOTE;
    /* a refused identity or signature, or a denied action, stays so until the credentials or
     * the policy change (the client still refreshes once on an expired token, and corrects
     * its clock once on a skew error, before it believes this) */
    e->persistent = e->status == SKY_EAUTH && !e->retryable;
    if (!e->message[0] && !e->code[0])
        snprintf(e->message, sizeof e->message, "HTTP %ld", http_status);
}

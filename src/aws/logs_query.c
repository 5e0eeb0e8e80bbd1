/*
 * logs_query.c - CloudWatch Logs Insights queries run to their end (see skylog/aws.h):
 * StartQuery, GetQueryResults polled with a growing interval, StopQuery on cancel or timeout.
 *
 * The interval grows (x1.5 from poll_first_ms to poll_max_ms) because a query that has not
 * finished after a few polls is a long one: polling it every 200 ms only spends the account's
 * GetQueryResults quota (AWS throttles it at a few requests per second). Each request goes
 * through sky_aws_client_call(), so throttling and 5xx answers are retried there.
 */
#include <skylog/aws.h>

#include "core/reserved.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One Logs call with a JSON body; the answer parsed (NULL with err / status set). */
static json_t *call(sky_aws_client *c, const char *op, json_t *body, sky_aws_error *err,
                    sky_status *st, char **raw, size_t *raw_len)
{
    char target[64];
    snprintf(target, sizeof target, "Logs_20140328.%s", op);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (!text) {
        *st = SKY_ENOMEM;
        return NULL;
    }
    sky_http_response resp;
    *st = sky_aws_client_call(c, &(sky_aws_call){.target = target, .body = text,
                                                 .body_len = strlen(text)},
                              &resp, err);
    free(text);
    if (*st != SKY_OK)
        return NULL;
    json_t *j = json_loadb(resp.body ? resp.body : "", resp.body_len, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        sky_http_response_free(&resp);
        *st = SKY_EPROTO;
        if (err) {
            memset(err, 0, sizeof *err);
            err->status = SKY_EPROTO;
            snprintf(err->message, sizeof err->message, "%s: the answer is not JSON", op);
        }
        return NULL;
    }
    if (raw) {
        *raw = resp.body;
        *raw_len = resp.body_len;
        resp.body = NULL;
    }
    sky_http_response_free(&resp);
    return j;
}

/* GetQueryResults answers 10,000 rows at most: the pages after `first`, their rows appended
 * to its results, the whole written back to out->body as one answer. */
static sky_status more_pages(sky_aws_client *c, sky_aws_query_result *out, json_t *first,
                             sky_aws_error *err)
{
    json_t *all = json_object_get(first, "results");
    const char *token = json_string_value(json_object_get(first, "nextToken"));
    json_t *tok = token ? json_string(token) : NULL;
    sky_status st = SKY_OK;
    while (tok && json_is_array(all)) {
        json_t *q = json_pack("{s:s,s:O}", "queryId", out->query_id, "nextToken", tok);
        json_t *page = call(c, "GetQueryResults", q, err, &st, NULL, NULL);
        json_decref(q);
        json_decref(tok);
        tok = NULL;
        if (!page)
            break;
        json_array_extend(all, json_object_get(page, "results"));
        if (json_is_string(json_object_get(page, "nextToken")))
            tok = json_incref(json_object_get(page, "nextToken"));
        json_decref(page);
    }
    json_decref(tok);
    json_object_del(first, "nextToken");
    char *text = st == SKY_OK ? json_dumps(first, JSON_COMPACT) : NULL;
    if (st == SKY_OK && !text)
        st = SKY_ENOMEM;
    if (text) {
        free(out->body);
        out->body = text;
        out->body_len = strlen(text);
    }
    return st;
}

static void stop(sky_aws_client *c, const char *id)
{
    json_t *b = json_pack("{s:s}", "queryId", id);
    sky_status st;
    sky_aws_error e;
    json_decref(call(c, "StopQuery", b, &e, &st, NULL, NULL)); /* best effort */
    json_decref(b);
}

static bool final_status(const char *s)
{
    return strcmp(s, "Scheduled") != 0 && strcmp(s, "Running") != 0;
}

/* Sleeps ms, in steps, unless cancelled. */
static void nap(const sky_aws_query_opts *o, int64_t ms)
{
    while (ms > 0 && !(o->cancelled && o->cancelled(o->user))) {
        int64_t step = ms < 50 ? ms : 50;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

sky_status sky_aws_logs_query(sky_aws_client *c, const sky_aws_query_opts *o,
                              sky_aws_query_result *out, sky_aws_error *err)
{
    sky_aws_error local;
    if (!err)
        err = &local;
    memset(err, 0, sizeof *err);
    if (!out)
        return SKY_EINVAL;
    memset(out, 0, sizeof *out);
    if (!c || !o || !o->query || !o->log_groups || o->n_log_groups < 1 ||
        o->n_log_groups > 50 || o->start_s < 0 || o->end_s < o->start_s || o->limit < 0 ||
        o->limit > 100000 || strlen(o->query) > 10000)
        return SKY_EINVAL;
    if (SKY__RESERVED_MSG(o, sky_aws_query_opts, err->message, sizeof err->message))
        return err->status = SKY_EINVAL;
    bool arns = false;
    json_t *groups = json_array();
    for (size_t i = 0; i < o->n_log_groups; i++) {
        arns |= strncmp(o->log_groups[i] ? o->log_groups[i] : "", "arn:", 4) == 0;
        json_array_append_new(groups, json_string(o->log_groups[i] ? o->log_groups[i] : ""));
    }
    json_t *body = json_pack("{s:o,s:I,s:I,s:s}", arns ? "logGroupIdentifiers" : "logGroupNames",
                             groups, "startTime", (json_int_t)o->start_s, "endTime",
                             (json_int_t)o->end_s, "queryString", o->query);
    if (body && o->limit)
        json_object_set_new(body, "limit", json_integer(o->limit));
    sky_status st;
    json_t *ans = call(c, "StartQuery", body, err, &st, NULL, NULL);
    json_decref(body);
    if (!ans)
        return st;
    const char *id = json_string_value(json_object_get(ans, "queryId"));
    if (!id || strlen(id) >= sizeof out->query_id) {
        json_decref(ans);
        snprintf(err->message, sizeof err->message, "StartQuery: no queryId in the answer");
        err->status = SKY_EPROTO;
        return SKY_EPROTO;
    }
    snprintf(out->query_id, sizeof out->query_id, "%s", id);
    json_decref(ans);

    int64_t first = o->poll_first_ms > 0 ? o->poll_first_ms : 200;
    int64_t max = o->poll_max_ms > 0 ? o->poll_max_ms : 5000;
    int64_t wait = 0, t0 = sky_monotonic_ns();
    bool stopped = false;
    json_t *q = json_pack("{s:s}", "queryId", out->query_id);
    for (;;) {
        if (!stopped && ((o->cancelled && o->cancelled(o->user)) ||
                         (o->timeout_ms > 0 && sky_monotonic_ns() - t0 > o->timeout_ms * 1000000))) {
            stop(c, out->query_id);
            stopped = true;
            wait = 0;
        }
        nap(stopped ? &(sky_aws_query_opts){0} : o, wait);
        wait = wait ? (wait * 3 / 2 < max ? wait * 3 / 2 : max) : first;
        free(out->body);
        out->body = NULL;
        ans = call(c, "GetQueryResults", q, err, &st, &out->body, &out->body_len);
        if (!ans)
            break;
        const char *s = json_string_value(json_object_get(ans, "status"));
        json_t *stats = json_object_get(ans, "statistics");
        snprintf(out->status, sizeof out->status, "%s", s ? s : "Unknown");
        out->records_matched = json_number_value(json_object_get(stats, "recordsMatched"));
        out->records_scanned = json_number_value(json_object_get(stats, "recordsScanned"));
        out->bytes_scanned = json_number_value(json_object_get(stats, "bytesScanned"));
        bool done = !s || final_status(s);
        if (done && json_is_string(json_object_get(ans, "nextToken")))
            st = more_pages(c, out, ans, err);
        json_decref(ans); /* s pointed into it */
        if (done && st != SKY_OK)
            break;
        if (done) {
            st = stopped && o->timeout_ms > 0 && !(o->cancelled && o->cancelled(o->user))
                     ? SKY_ETIMEDOUT
                     : SKY_OK;
            break;
        }
        if (o->progress)
            o->progress(o->user, out);
    }
    json_decref(q);
    return st;
}

void sky_aws_query_result_free(sky_aws_query_result *out)
{
    if (!out)
        return;
    free(out->body);
    memset(out, 0, sizeof *out);
}

/*
 * insights_api.c - StartQuery, GetQueryResults, StopQuery, DescribeQueries, GetLogRecord and
 * Put/Describe/DeleteQueryDefinition (see insights_api.h for the life cycle).
 *
 * Queries live in memory (a list, newest first, of at most SKY__INS_KEEP_QUERIES; the oldest
 * finished ones are forgotten first), as CloudWatch keeps query results for a while and not
 * forever. Workers start with the first query and read through their own read-only
 * connections; the store lock is taken only briefly at StartQuery, to find the log groups.
 * Query definitions are rows of a table of their own, created on first use, so they outlive
 * restarts like everything else the server stores.
 *
 * Every request is validated as CloudWatch's API reference says (required members, lengths,
 * ranges, mutually exclusive members), before any query is parsed or any lock taken.
 */
#include "insights_api.h"

#include "insights.h"
#include "logs_api.h"
#include "server.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define CT SKY__CT_JSON11
#define MAX_GROUPS_PER_QUERY 50

typedef enum { Q_SCHEDULED, Q_RUNNING, Q_COMPLETE, Q_FAILED, Q_CANCELLED, Q_TIMEOUT } qstatus;
static const char *const status_names[] = {"Scheduled", "Running", "Complete",
                                           "Failed",    "Cancelled", "Timeout"};

typedef struct job {
    struct job *next;
    char id[40];
    char *query;            /* the queryString as given */
    sky__ins_query *prog;
    sky__ins_group *groups;
    char **names;
    size_t n_groups;
    int64_t start_ms, end_ms, created;
    int64_t ran_ns, duration_ms; /* when a worker took it; how long it ran (final ones) */
    size_t limit;
    qstatus status;
    bool claimed;           /* a worker has it */
    atomic_bool cancel;
    sky__ins_stats stats;
    json_t *results;
    char why[256];
} job;

struct sky__insights {
    _Atomic int64_t timeout_ms; /* SKY__INS_TIMEOUT_MS, or what the test hook set */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sky__store *store;
    char *account_id, *region;
    pthread_t th[SKY__INS_WORKERS];
    int n_threads;
    bool stopping;
    job *jobs;
    size_t n_jobs;
    int busy;    /* Running (a worker has it or will take it next) */
    int active;  /* Scheduled + Running */
};

/* ---- jobs -------------------------------------------------------------------------------- */

static void job_free(job *j)
{
    if (!j)
        return;
    free(j->query);
    sky__ins_free(j->prog);
    for (size_t i = 0; i < j->n_groups; i++)
        free(j->names[i]);
    free(j->names);
    free(j->groups);
    json_decref(j->results);
    free(j);
}

static bool final(qstatus s) { return s >= Q_COMPLETE; }

/* The oldest job a free worker should take (under mu): one reserved for a worker at
 * StartQuery, else the oldest Scheduled one while a worker is free. */
static job *next_job(sky__insights *ins)
{
    job *reserved = NULL, *scheduled = NULL;
    for (job *j = ins->jobs; j; j = j->next) {
        if (j->status == Q_RUNNING && !j->claimed)
            reserved = j;
        else if (j->status == Q_SCHEDULED)
            scheduled = j;
    }
    if (reserved)
        return reserved;
    if (scheduled && ins->busy < SKY__INS_WORKERS) {
        scheduled->status = Q_RUNNING;
        ins->busy++;
        return scheduled;
    }
    return NULL;
}

static void *worker(void *arg)
{
    sky__insights *ins = arg;
    sqlite3 *db = NULL;
    char open_err[256] = "";
    if (sqlite3_open_v2(sky__store_path(ins->store), &db,
                        SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        snprintf(open_err, sizeof open_err, "store error: %s", db ? sqlite3_errmsg(db) : "?");
        sqlite3_close(db);
        db = NULL;
    } else {
        sqlite3_busy_timeout(db, 5000);
    }
    pthread_mutex_lock(&ins->mu);
    for (;;) {
        job *j;
        while (!ins->stopping && !(j = next_job(ins)))
            pthread_cond_wait(&ins->cv, &ins->mu);
        if (ins->stopping)
            break;
        j->claimed = true;
        j->ran_ns = sky_monotonic_ns();
        pthread_mutex_unlock(&ins->mu);

        json_t *results = NULL;
        char why[256] = "";
        sky__ins_outcome out = SKY__INS_CANCELLED;
        if (!atomic_load(&j->cancel)) {
            if (!db) {
                out = SKY__INS_FAILED;
                snprintf(why, sizeof why, "%s", open_err);
            } else {
                sky__ins_run run = {
                    .db = db, .groups = j->groups, .n_groups = j->n_groups,
                    .start_ms = j->start_ms, .end_ms = j->end_ms, .limit = j->limit,
                    .account_id = ins->account_id, .cancel = &j->cancel,
                    .deadline_ns = sky_monotonic_ns() + atomic_load(&ins->timeout_ms) * 1000000,
                    .stats = &j->stats,
                };
                /* one read transaction: the query sees one snapshot of the store */
                sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
                out = sky__ins_execute(j->prog, &run, &results, why, sizeof why);
                sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
            }
        }

        pthread_mutex_lock(&ins->mu);
        if (j->status == Q_RUNNING) { /* StopQuery may have made it Cancelled meanwhile */
            j->status = out == SKY__INS_COMPLETE   ? Q_COMPLETE
                        : out == SKY__INS_TIMEOUT  ? Q_TIMEOUT
                        : out == SKY__INS_FAILED   ? Q_FAILED
                                                   : Q_CANCELLED;
            j->results = results;
            results = NULL;
            snprintf(j->why, sizeof j->why, "%s", why);
            ins->active--;
        }
        j->duration_ms = (sky_monotonic_ns() - j->ran_ns) / 1000000;
        json_decref(results);
        ins->busy--;
        pthread_cond_broadcast(&ins->cv);
    }
    pthread_mutex_unlock(&ins->mu);
    sqlite3_close(db);
    return NULL;
}

sky__insights *sky__insights_new(sky__store *store, const char *account_id, const char *region)
{
    sky__insights *ins = calloc(1, sizeof *ins);
    if (!ins)
        return NULL;
    ins->account_id = strdup(account_id ? account_id : "123456789012");
    ins->region = strdup(region ? region : "us-east-1");
    if (!ins->account_id || !ins->region) {
        free(ins->account_id);
        free(ins->region);
        free(ins);
        return NULL;
    }
    pthread_mutex_init(&ins->mu, NULL);
    pthread_cond_init(&ins->cv, NULL);
    ins->store = store;
    atomic_init(&ins->timeout_ms, SKY__INS_TIMEOUT_MS);
    return ins;
}

bool sky__insights_test_hook(const sky__request *req, sky__reply *r)
{
    int64_t ms;
    int h = sky__test_hook(req, r, "/_skylog/insights-timeout", "ms", SKY__INS_TIMEOUT_MS,
                           SKY__INS_TIMEOUT_MS, &ms);
    if (h <= 0)
        return h < 0;
    if (!req->server->insights) {
        sky__reply_aws_error(r, 503, "application/json", "ServiceUnavailableException",
                             "Logs Insights is not available");
        return true;
    }
    atomic_store(&req->server->insights->timeout_ms, ms);
    sky__reply_json(r, 200, "application/json", json_pack("{s:I}", "timeoutMs", (json_int_t)ms));
    return true;
}

void sky__insights_free(sky__insights *ins)
{
    if (!ins)
        return;
    pthread_mutex_lock(&ins->mu);
    ins->stopping = true;
    for (job *j = ins->jobs; j; j = j->next)
        atomic_store(&j->cancel, true);
    pthread_cond_broadcast(&ins->cv);
    pthread_mutex_unlock(&ins->mu);
    for (int i = 0; i < ins->n_threads; i++)
        pthread_join(ins->th[i], NULL);
    while (ins->jobs) {
        job *j = ins->jobs;
        ins->jobs = j->next;
        job_free(j);
    }
    pthread_cond_destroy(&ins->cv);
    pthread_mutex_destroy(&ins->mu);
    free(ins->account_id);
    free(ins->region);
    free(ins);
}

/* Forgets the oldest finished queries beyond the limit (under mu). */
static void trim(sky__insights *ins)
{
    while (ins->n_jobs > SKY__INS_KEEP_QUERIES) {
        job **victim = NULL;
        for (job **pp = &ins->jobs; *pp; pp = &(*pp)->next)
            if (final((*pp)->status))
                victim = pp;
        if (!victim)
            return;
        job *j = *victim;
        *victim = j->next;
        job_free(j);
        ins->n_jobs--;
    }
}

static job *find_job(sky__insights *ins, const char *id)
{
    for (job *j = ins->jobs; j; j = j->next)
        if (strcmp(j->id, id) == 0)
            return j;
    return NULL;
}

static void new_uuid(char out[40])
{
    unsigned char b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
        static _Atomic uint64_t n;
        uint64_t t = (uint64_t)sky_now_ns() ^ (atomic_fetch_add(&n, 1) * 0x9e3779b97f4a7c15ULL);
        memcpy(b, &t, 8);
        t = t * 0xbf58476d1ce4e5b9ULL;
        memcpy(b + 8, &t, 8);
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 40,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
}

/* ---- request helpers --------------------------------------------------------------------- */

#define FAIL(type, ...)                                                                  \
    do {                                                                                 \
        sky__reply_aws_error(r, 400, CT, type, __VA_ARGS__);                             \
        goto out;                                                                        \
    } while (0)
#define INVALID(...) FAIL("InvalidParameterException", __VA_ARGS__)
#define NOT_NULL(member)                                                                 \
    INVALID("1 validation error detected: Value null at '%s' failed to satisfy constraint: " \
            "Member must not be null", member)

/* A member's value of the JSON type wanted, NULL when absent or null; *bad when of another
 * type (SerializationException). */
static json_t *member(json_t *body, const char *key, int type, bool *bad)
{
    json_t *v = json_object_get(body, key);
    if (!v || json_is_null(v))
        return NULL;
    bool ok = type == JSON_INTEGER ? json_is_integer(v) || json_is_real(v)
                                   : (int)json_typeof(v) == type;
    if (!ok) {
        *bad = true;
        return NULL;
    }
    return v;
}

static int64_t int_of(json_t *v)
{
    if (json_is_integer(v))
        return json_integer_value(v);
    double d = json_real_value(v);
    return d >= -9.2e18 && d <= 9.2e18 ? (int64_t)d : (d < 0 ? INT64_MIN : INT64_MAX);
}

static sky__insights *insights(const sky__request *req, sky__reply *r)
{
    sky__insights *ins = req->server->insights;
    if (!ins)
        sky__reply_aws_error(r, 500, CT, "ServiceUnavailableException",
                             "Insights queries are not available in this server");
    return ins;
}

/* Reads and checks a maxResults-style member: *out = value or dflt; false with a reply. */
static bool range_arg(json_t *body, sky__reply *r, const char *key, int64_t lo, int64_t hi,
                      int64_t dflt, int64_t *out)
{
    bool bad = false;
    json_t *v = member(body, key, JSON_INTEGER, &bad);
    if (bad) {
        sky__reply_aws_error(r, 400, CT, "SerializationException", "Unexpected value type for '%s'",
                             key);
        return false;
    }
    *out = v ? int_of(v) : dflt;
    if (*out < lo || *out > hi) {
        sky__reply_aws_error(r, 400, CT, "InvalidParameterException",
                             "1 validation error detected: Value '%" PRId64 "' at '%s' failed to "
                             "satisfy constraint: Member must have value %s %" PRId64,
                             *out, key, *out < lo ? "greater than or equal to" : "less than or equal to",
                             *out < lo ? lo : hi);
        return false;
    }
    return true;
}

static void malformed(sky__reply *r, const sky__ins_error *e)
{
    json_t *o = json_pack("{s:s,s:s,s:{s:{s:i,s:i},s:s}}", "__type", "MalformedQueryException",
                          "message", e->message, "queryCompileError", "location",
                          "startCharOffset", e->start, "endCharOffset", e->end, "message",
                          e->message);
    sky__reply_json(r, 400, CT, o);
    free(r->error_type);
    r->error_type = strdup("MalformedQueryException");
}

/* ---- StartQuery -------------------------------------------------------------------------- */

static void start_query(const sky__request *req, json_t *body, sky__reply *r)
{
    sky__insights *ins = insights(req, r);
    job *j = NULL;
    sqlite3 *db = NULL;
    if (!ins)
        return;
    bool bad = false;
    json_t *qs = member(body, "queryString", JSON_STRING, &bad);
    json_t *st = member(body, "startTime", JSON_INTEGER, &bad);
    json_t *et = member(body, "endTime", JSON_INTEGER, &bad);
    json_t *gname = member(body, "logGroupName", JSON_STRING, &bad);
    json_t *gnames = member(body, "logGroupNames", JSON_ARRAY, &bad);
    json_t *gids = member(body, "logGroupIdentifiers", JSON_ARRAY, &bad);
    json_t *lang = member(body, "queryLanguage", JSON_STRING, &bad);
    json_t *list = gnames ? gnames : gids;
    for (size_t i = 0; list && i < json_array_size(list); i++)
        bad |= !json_is_string(json_array_get(list, i));
    if (bad)
        FAIL("SerializationException", "Unexpected value type");
    int64_t limit;
    if (!range_arg(body, r, "limit", 1, SKY__INS_MAX_RESULTS, SKY__INS_DEFAULT_RESULTS, &limit))
        return;
    if (!qs)
        NOT_NULL("queryString");
    if (!st)
        NOT_NULL("startTime");
    if (!et)
        NOT_NULL("endTime");
    size_t qlen = json_string_length(qs);
    if (qlen > SKY__INS_MAX_QUERY)
        INVALID("1 validation error detected: Value at 'queryString' failed to satisfy "
                "constraint: Member must have length less than or equal to %d",
                SKY__INS_MAX_QUERY);
    int64_t start = int_of(st), end = int_of(et);
    if (start < 0 || end < 0)
        INVALID("1 validation error detected: Value '%" PRId64 "' at '%s' failed to satisfy "
                "constraint: Member must have value greater than or equal to 0",
                start < 0 ? start : end, start < 0 ? "startTime" : "endTime");
    if (end < start)
        INVALID("The endTime must be greater than or equal to the startTime.");
    if (start > INT64_MAX / 1000 - 1 || end > INT64_MAX / 1000 - 1)
        INVALID("The startTime and endTime are seconds since the epoch: %" PRId64 " is out of "
                "range", start > end ? start : end);
    if (lang && strcmp(json_string_value(lang), "CWLI") != 0) {
        if (strcmp(json_string_value(lang), "SQL") && strcmp(json_string_value(lang), "PPL"))
            INVALID("1 validation error detected: Value '%.64s' at 'queryLanguage' failed to "
                    "satisfy constraint: Member must satisfy enum value set: [CWLI, SQL, PPL]",
                    json_string_value(lang));
        INVALID("queryLanguage %s is not supported by skylog serve (only CWLI)",
                json_string_value(lang));
    }
    if ((gname != NULL) + (gnames != NULL) + (gids != NULL) != 1)
        INVALID("Exactly one of logGroupName, logGroupNames or logGroupIdentifiers must be "
                "provided.");
    size_t n = gname ? 1 : json_array_size(list);
    if (n < 1 || n > MAX_GROUPS_PER_QUERY)
        INVALID("1 validation error detected: Value at '%s' failed to satisfy constraint: "
                "Member must have length between 1 and %d",
                gnames ? "logGroupNames" : "logGroupIdentifiers", MAX_GROUPS_PER_QUERY);

    j = calloc(1, sizeof *j);
    if (!j || !(j->groups = calloc(n, sizeof *j->groups)) || !(j->names = calloc(n, sizeof *j->names)) ||
        !(j->query = strndup(json_string_value(qs), qlen)))
        FAIL("ServiceUnavailableException", "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *g = gname ? json_string_value(gname) : json_string_value(json_array_get(list, i));
        char arn[600], why[700];
        if (gids)
            g = sky__logs_group_from_identifier(g, arn, sizeof arn);
        if (sky__logs_check_group_name(g, gids ? "logGroupIdentifiers" : gnames ? "logGroupNames"
                                                                                : "logGroupName",
                                       why, sizeof why))
            INVALID("%s", why);
        if (!(j->names[i] = strdup(g)))
            FAIL("ServiceUnavailableException", "out of memory");
        j->groups[i].name = j->names[i];
        j->n_groups++;
    }
    sky__ins_error perr;
    if (!(j->prog = sky__ins_parse(j->query, qlen, &perr))) {
        malformed(r, &perr);
        goto out;
    }
    int64_t now = sky__now_ms();
    db = sky__store_lock(req->server->store);
    for (size_t i = 0; i < n; i++) {
        int retention = 0;
        int64_t id = sky__logs_find_group_retention(db, j->names[i], &retention);
        if (id == -2)
            FAIL("ServiceUnavailableException", "store error: %s", sqlite3_errmsg(db));
        if (id < 0)
            FAIL("ResourceNotFoundException", "The specified log group does not exist.");
        j->groups[i].id = id;
        j->groups[i].min_ts = retention > 0 ? now - (int64_t)retention * 86400000LL : INT64_MIN;
    }
    sky__store_unlock(req->server->store);
    db = NULL;
    /* seconds, both ends included: the whole of the end second */
    j->start_ms = start * 1000;
    j->end_ms = end * 1000 + 999;
    j->limit = (size_t)limit;
    j->created = now;
    new_uuid(j->id);

    pthread_mutex_lock(&ins->mu);
    if (ins->active >= SKY__INS_MAX_ACTIVE) {
        pthread_mutex_unlock(&ins->mu);
        FAIL("LimitExceededException",
             "Account maximum query concurrency limit of [%d] reached.", SKY__INS_MAX_ACTIVE);
    }
    while (ins->n_threads < SKY__INS_WORKERS &&
           pthread_create(&ins->th[ins->n_threads], NULL, worker, ins) == 0)
        ins->n_threads++;
    if (ins->n_threads == 0) {
        pthread_mutex_unlock(&ins->mu);
        FAIL("ServiceUnavailableException", "cannot start a query worker");
    }
    /* Running at once when a worker is free: a client polling while the status is "Running"
     * (as many scripts do) never sees a Scheduled query it would mistake for finished. */
    j->status = ins->busy < SKY__INS_WORKERS ? Q_RUNNING : Q_SCHEDULED;
    if (j->status == Q_RUNNING)
        ins->busy++;
    ins->active++;
    j->next = ins->jobs;
    ins->jobs = j;
    ins->n_jobs++;
    trim(ins);
    pthread_cond_broadcast(&ins->cv);
    sky__reply_json(r, 200, CT, json_pack("{s:s}", "queryId", j->id));
    j = NULL;
    pthread_mutex_unlock(&ins->mu);
out:
    if (db)
        sky__store_unlock(req->server->store);
    job_free(j);
}

/* ---- GetQueryResults / StopQuery / DescribeQueries ---------------------------------------- */

/* The queryId member, or NULL with a reply. */
static const char *query_id_arg(json_t *body, sky__reply *r, const char *key)
{
    bool bad = false;
    json_t *v = member(body, key, JSON_STRING, &bad);
    if (bad)
        FAIL("SerializationException", "Unexpected value type for '%s'", key);
    if (!v)
        NOT_NULL(key);
    if (json_string_length(v) > 256)
        INVALID("1 validation error detected: Value at '%s' failed to satisfy constraint: "
                "Member must have length less than or equal to 256", key);
    return json_string_value(v);
out:
    return NULL;
}

static json_t *stats_json(job *j)
{
    return json_pack("{s:f,s:f,s:f,s:f,s:f,s:f}", "recordsMatched",
                     (double)atomic_load_explicit(&j->stats.matched, memory_order_relaxed),
                     "recordsScanned",
                     (double)atomic_load_explicit(&j->stats.scanned, memory_order_relaxed),
                     "bytesScanned",
                     (double)atomic_load_explicit(&j->stats.bytes, memory_order_relaxed),
                     "estimatedRecordsSkipped", 0.0, "estimatedBytesSkipped", 0.0,
                     "logGroupsScanned", (double)j->n_groups);
}

/* The job a request's queryId names, with ins->mu held; NULL (unlocked) with a reply. */
static job *locked_job(const sky__request *req, json_t *body, sky__reply *r, sky__insights **out)
{
    sky__insights *ins = *out = insights(req, r);
    const char *id;
    if (!ins || !(id = query_id_arg(body, r, "queryId")))
        return NULL;
    pthread_mutex_lock(&ins->mu);
    job *j = find_job(ins, id);
    if (!j) {
        pthread_mutex_unlock(&ins->mu);
        sky__reply_aws_error(r, 400, CT, "ResourceNotFoundException", "Query does not exist.");
    }
    return j;
}

static void get_query_results(const sky__request *req, json_t *body, sky__reply *r)
{
    int64_t page, off;
    bool bad = false;
    json_t *token = member(body, "nextToken", JSON_STRING, &bad);
    if (bad) {
        sky__reply_aws_error(r, 400, CT, "SerializationException", "Unexpected value type");
        return;
    }
    if (!range_arg(body, r, "maxItems", 0, SKY__INS_PAGE_ROWS, 0, &page))
        return;
    if (!sky__offset_token_parse(json_string_value(token), &off)) {
        sky__reply_aws_error(r, 400, CT, "InvalidParameterException",
                             "The specified nextToken is invalid.");
        return;
    }
    if (page == 0)
        page = SKY__INS_PAGE_ROWS;
    sky__insights *ins;
    job *j = locked_job(req, body, r, &ins);
    if (!j)
        return;
    /* Up to maxItems rows (10,000 at most) an answer; nextToken for the rest. */
    json_t *res = json_array(), *all = j->status == Q_COMPLETE ? j->results : NULL;
    size_t n = json_array_size(all);
    for (size_t i = (size_t)off; i < n && i < (size_t)(off + page); i++)
        json_array_append(res, json_array_get(all, i));
    json_t *o = json_pack("{s:o,s:o,s:s,s:s}", "results", res, "statistics", stats_json(j),
                          "status", status_names[j->status], "queryLanguage", "CWLI");
    pthread_mutex_unlock(&ins->mu);
    sky__reply_offset_page(r, CT, o, (size_t)(off + page) < n, off + page);
}

static void stop_query(const sky__request *req, json_t *body, sky__reply *r)
{
    sky__insights *ins;
    job *j = locked_job(req, body, r, &ins);
    if (!j)
        return;
    bool stopped = !final(j->status);
    if (stopped) {
        atomic_store(&j->cancel, true);
        if (j->status == Q_RUNNING && !j->claimed)
            ins->busy--; /* reserved for a worker that has not taken it: it never will */
        j->status = Q_CANCELLED;
        ins->active--;
        pthread_cond_broadcast(&ins->cv);
    }
    pthread_mutex_unlock(&ins->mu);
    sky__reply_json(r, 200, CT, json_pack("{s:b}", "success", stopped));
}

static void describe_queries(const sky__request *req, json_t *body, sky__reply *r)
{
    sky__insights *ins = insights(req, r);
    if (!ins)
        return;
    bool bad = false;
    json_t *gname = member(body, "logGroupName", JSON_STRING, &bad);
    json_t *status = member(body, "status", JSON_STRING, &bad);
    json_t *token = member(body, "nextToken", JSON_STRING, &bad);
    int64_t max, off = 0;
    char why[700];
    if (bad)
        FAIL("SerializationException", "Unexpected value type");
    if (!range_arg(body, r, "maxResults", 1, 1000, 1000, &max))
        return;
    if (gname && sky__logs_check_group_name(json_string_value(gname), "logGroupName", why, sizeof why))
        INVALID("%s", why);
    int want = -1;
    if (status) {
        static const char *const all[] = {"Scheduled", "Running", "Complete", "Failed",
                                          "Cancelled", "Timeout", "Unknown"};
        for (int i = 0; i < 7; i++)
            if (strcmp(json_string_value(status), all[i]) == 0)
                want = i;
        if (want < 0)
            INVALID("1 validation error detected: Value '%.64s' at 'status' failed to satisfy "
                    "constraint: Member must satisfy enum value set: [Scheduled, Running, "
                    "Complete, Failed, Cancelled, Timeout, Unknown]",
                    json_string_value(status));
    }
    if (!sky__offset_token_parse(json_string_value(token), &off))
        INVALID("The specified nextToken is invalid.");
    json_t *qs = json_array();
    int64_t seen = 0;
    bool more = false;
    pthread_mutex_lock(&ins->mu);
    for (job *j = ins->jobs; j && qs; j = j->next) {
        if (want >= 0 && (int)j->status != want)
            continue;
        bool in_group = !gname;
        for (size_t i = 0; !in_group && i < j->n_groups; i++)
            in_group = strcmp(j->names[i], json_string_value(gname)) == 0;
        if (!in_group || seen++ < off)
            continue;
        if ((int64_t)json_array_size(qs) == max) {
            more = true;
            break;
        }
        json_t *qi = json_pack("{s:s,s:s,s:s,s:I,s:s,s:s,s:f}", "queryId", j->id, "queryString",
                               j->query, "status", status_names[j->status], "createTime",
                               (json_int_t)j->created, "logGroupName", j->names[0],
                               "queryLanguage", "CWLI", "bytesScanned",
                               (double)atomic_load_explicit(&j->stats.bytes,
                                                            memory_order_relaxed));
        if (qi && final(j->status) && j->claimed)
            json_object_set_new(qi, "queryDuration", json_integer(j->duration_ms));
        json_array_append_new(qs, qi);
    }
    pthread_mutex_unlock(&ins->mu);
    sky__reply_offset_page(r, CT, json_pack("{s:o}", "queries", qs ? qs : json_array()), more,
                           off + max);
out:
    return;
}

/* GetLogRecord: the event behind an @ptr, with its fields. */
static void get_log_record(const sky__request *req, json_t *body, sky__reply *r)
{
    const char *ptr = query_id_arg(body, r, "logRecordPointer");
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    if (!ptr)
        return;
    char *end;
    long long id = strtoll(ptr, &end, 10);
    if (*end || end == ptr || id < 0)
        INVALID("The specified logRecordPointer is invalid.");
    db = sky__store_lock(req->server->store);
    if (sqlite3_prepare_v2(db,
                           "SELECT e.ts, e.message, s.name, g.name FROM events e JOIN log_streams s "
                           "ON s.id = e.stream_id JOIN log_groups g ON g.id = e.group_id "
                           "WHERE e.id = ?",
                           -1, &st, NULL) != SQLITE_OK) {
        sky__reply_aws_error(r, 500, CT, "ServiceUnavailableException", "store error: %s",
                             sqlite3_errmsg(db));
        goto out;
    }
    sqlite3_bind_int64(st, 1, id);
    if (sqlite3_step(st) != SQLITE_ROW)
        FAIL("ResourceNotFoundException", "The specified log record does not exist.");
    char ts[24], *log = NULL;
    sky__ins_fmt_ts(sqlite3_column_int64(st, 0), ts);
    if (asprintf(&log, "%s:%s", req->server->opts->account_id,
                 (const char *)sqlite3_column_text(st, 3)) < 0)
        log = NULL;
    json_t *rec = json_pack("{s:s,s:s%,s:s,s:s?,s:s}", "@timestamp", ts, "@message",
                            (const char *)sqlite3_column_text(st, 1),
                            (size_t)sqlite3_column_bytes(st, 1), "@logStream",
                            (const char *)sqlite3_column_text(st, 2), "@log", log, "@ptr", ptr);
    free(log);
    sky__reply_json(r, 200, CT, json_pack("{s:o}", "logRecord", rec ? rec : json_object()));
out:
    sqlite3_finalize(st);
    if (db)
        sky__store_unlock(req->server->store);
}

/* ---- query definitions ------------------------------------------------------------------- */

static sqlite3 *defs_lock(const sky__request *req, sky__reply *r)
{
    sqlite3 *db = sky__store_lock(req->server->store);
    if (sqlite3_exec(db,
                     "CREATE TABLE IF NOT EXISTS query_definitions(id TEXT PRIMARY KEY, "
                     "name TEXT NOT NULL, query TEXT NOT NULL, groups TEXT NOT NULL, "
                     "modified INTEGER NOT NULL)",
                     NULL, NULL, NULL) != SQLITE_OK) {
        sky__reply_aws_error(r, 500, CT, "ServiceUnavailableException", "store error: %s",
                             sqlite3_errmsg(db));
        sky__store_unlock(req->server->store);
        return NULL;
    }
    return db;
}

static void put_query_definition(const sky__request *req, json_t *body, sky__reply *r)
{
    bool bad = false;
    json_t *name = member(body, "name", JSON_STRING, &bad);
    json_t *qs = member(body, "queryString", JSON_STRING, &bad);
    json_t *id = member(body, "queryDefinitionId", JSON_STRING, &bad);
    json_t *groups = member(body, "logGroupNames", JSON_ARRAY, &bad);
    json_t *lang = member(body, "queryLanguage", JSON_STRING, &bad);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    char *gtext = NULL, why[700];
    for (size_t i = 0; groups && i < json_array_size(groups); i++)
        bad |= !json_is_string(json_array_get(groups, i));
    if (bad)
        FAIL("SerializationException", "Unexpected value type");
    if (!name)
        NOT_NULL("name");
    if (!qs)
        NOT_NULL("queryString");
    if (json_string_length(name) < 1 || json_string_length(name) > 255)
        INVALID("1 validation error detected: Value at 'name' failed to satisfy constraint: "
                "Member must have length between 1 and 255");
    if (json_string_length(qs) < 1 || json_string_length(qs) > SKY__INS_MAX_QUERY)
        INVALID("1 validation error detected: Value at 'queryString' failed to satisfy "
                "constraint: Member must have length between 1 and %d", SKY__INS_MAX_QUERY);
    if (lang && strcmp(json_string_value(lang), "CWLI") != 0)
        INVALID("queryLanguage %.16s is not supported by skylog serve (only CWLI)",
                json_string_value(lang));
    if (groups && json_array_size(groups) > MAX_GROUPS_PER_QUERY)
        INVALID("1 validation error detected: Value at 'logGroupNames' failed to satisfy "
                "constraint: Member must have length less than or equal to %d",
                MAX_GROUPS_PER_QUERY);
    for (size_t i = 0; groups && i < json_array_size(groups); i++)
        if (sky__logs_check_group_name(json_string_value(json_array_get(groups, i)),
                                       "logGroupNames", why, sizeof why))
            INVALID("%s", why);
    if (id && json_string_length(id) > 256)
        INVALID("1 validation error detected: Value at 'queryDefinitionId' failed to satisfy "
                "constraint: Member must have length less than or equal to 256");
    gtext = groups ? json_dumps(groups, JSON_COMPACT) : NULL;
    char newid[40];
    if (!(db = defs_lock(req, r)))
        goto out;
    if (id) {
        if (sqlite3_prepare_v2(db, "SELECT 1 FROM query_definitions WHERE id=?", -1, &st, NULL) !=
            SQLITE_OK)
            goto store_error;
        sqlite3_bind_text(st, 1, json_string_value(id), -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        st = NULL;
        if (rc != SQLITE_ROW)
            FAIL("ResourceNotFoundException", "The specified query definition does not exist.");
        snprintf(newid, sizeof newid, "%.39s", json_string_value(id));
    } else {
        new_uuid(newid);
    }
    if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO query_definitions VALUES(?,?,?,?,?)", -1,
                           &st, NULL) != SQLITE_OK)
        goto store_error;
    sqlite3_bind_text(st, 1, id ? json_string_value(id) : newid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, json_string_value(name), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, json_string_value(qs), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, gtext ? gtext : "[]", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, sky__now_ms());
    if (sqlite3_step(st) != SQLITE_DONE)
        goto store_error;
    sky__reply_json(r, 200, CT,
                    json_pack("{s:s}", "queryDefinitionId", id ? json_string_value(id) : newid));
    goto out;
store_error:
    sky__reply_aws_error(r, 500, CT, "ServiceUnavailableException", "store error: %s",
                         sqlite3_errmsg(db));
out:
    sqlite3_finalize(st);
    if (db)
        sky__store_unlock(req->server->store);
    free(gtext);
}

static void describe_query_definitions(const sky__request *req, json_t *body, sky__reply *r)
{
    bool bad = false;
    json_t *prefix = member(body, "queryDefinitionNamePrefix", JSON_STRING, &bad);
    json_t *token = member(body, "nextToken", JSON_STRING, &bad);
    int64_t max, off = 0;
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    if (bad)
        FAIL("SerializationException", "Unexpected value type");
    if (!range_arg(body, r, "maxResults", 1, 1000, 1000, &max))
        return;
    if (prefix && (json_string_length(prefix) < 1 || json_string_length(prefix) > 255))
        INVALID("1 validation error detected: Value at 'queryDefinitionNamePrefix' failed to "
                "satisfy constraint: Member must have length between 1 and 255");
    if (!sky__offset_token_parse(json_string_value(token), &off))
        INVALID("The specified nextToken is invalid.");
    if (!(db = defs_lock(req, r)))
        return;
    if (sqlite3_prepare_v2(db,
                           "SELECT id, name, query, groups, modified FROM query_definitions "
                           "WHERE ?1 IS NULL OR instr(name, ?1) = 1 ORDER BY name, id "
                           "LIMIT ?2 OFFSET ?3",
                           -1, &st, NULL) != SQLITE_OK) {
        sky__reply_aws_error(r, 500, CT, "ServiceUnavailableException", "store error: %s",
                             sqlite3_errmsg(db));
        goto out;
    }
    if (prefix)
        sqlite3_bind_text(st, 1, json_string_value(prefix), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, max + 1);
    sqlite3_bind_int64(st, 3, off);
    json_t *defs = json_array();
    bool more = false;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if ((int64_t)json_array_size(defs) == max) {
            more = true;
            break;
        }
        json_t *groups = json_loads((const char *)sqlite3_column_text(st, 3), 0, NULL);
        json_array_append_new(
            defs, json_pack("{s:s,s:s,s:s,s:I,s:o,s:s}", "queryDefinitionId",
                            (const char *)sqlite3_column_text(st, 0), "name",
                            (const char *)sqlite3_column_text(st, 1), "queryString",
                            (const char *)sqlite3_column_text(st, 2), "lastModified",
                            (json_int_t)sqlite3_column_int64(st, 4), "logGroupNames",
                            json_is_array(groups) ? groups : json_array(), "queryLanguage",
                            "CWLI"));
        if (!json_is_array(groups))
            json_decref(groups);
    }
    sky__reply_offset_page(r, CT, json_pack("{s:o}", "queryDefinitions", defs), more, off + max);
out:
    sqlite3_finalize(st);
    if (db)
        sky__store_unlock(req->server->store);
}

static void delete_query_definition(const sky__request *req, json_t *body, sky__reply *r)
{
    const char *id = query_id_arg(body, r, "queryDefinitionId");
    sqlite3 *db;
    if (!id || !(db = defs_lock(req, r)))
        return;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "DELETE FROM query_definitions WHERE id=?", -1, &st, NULL) !=
            SQLITE_OK ||
        (sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC), sqlite3_step(st)) != SQLITE_DONE) {
        sky__reply_aws_error(r, 500, CT, "ServiceUnavailableException", "store error: %s",
                             sqlite3_errmsg(db));
    } else if (sqlite3_changes(db) == 0) {
        sky__reply_aws_error(r, 400, CT, "ResourceNotFoundException",
                             "The specified query definition does not exist.");
    } else {
        sky__reply_json(r, 200, CT, json_pack("{s:b}", "success", 1));
    }
    sqlite3_finalize(st);
    sky__store_unlock(req->server->store);
}

sky__logs_op_fn sky__insights_op(const char *op)
{
    static const struct {
        const char *name;
        sky__logs_op_fn fn;
    } ops[] = {
        {"StartQuery", start_query},
        {"GetQueryResults", get_query_results},
        {"StopQuery", stop_query},
        {"DescribeQueries", describe_queries},
        {"GetLogRecord", get_log_record},
        {"PutQueryDefinition", put_query_definition},
        {"DescribeQueryDefinitions", describe_query_definitions},
        {"DeleteQueryDefinition", delete_query_definition},
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(ops[i].name, op) == 0)
            return ops[i].fn;
    return NULL;
}

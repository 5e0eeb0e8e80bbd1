/*
 * fuzz_insights_query.c - Logs Insights queries (server/insights_parse.c and insights_exec.c):
 * parse any text, and run every query that parses over a small store of JSON and plain
 * events, through the same read-only connection a query worker uses.
 *
 * Input: the query text. Parsing must fail with a message and a position inside the text, or
 * succeed; a run must end (Complete or Failed with a reason) with bounded work: regex match
 * limits, JSON depth and nesting limits are what keep it so.
 */
#include "insights.h"
#include "serve_harness.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static sqlite3 *reader;
static sky__store *reader_of;

static void seed_events(void)
{
    fz_exec("INSERT INTO events(group_id, stream_id, ts, ingest, message) "
            "SELECT g.id, s.id, 1700000000000 + v.n * 61000, 0, v.m FROM log_groups g "
            "JOIN log_streams s ON s.group_id = g.id, (SELECT 1 AS n, "
            "'{\"level\":\"ERROR\",\"path\":\"/a\",\"ms\":12.5,\"user\":{\"id\":\"u1\",\"tags\":[1,2]}}' AS m "
            "UNION ALL SELECT 2, '{\"level\":\"INFO\",\"path\":\"/b\",\"ms\":3,\"esc\":\"a\\u00e9\\\"b\"}' "
            "UNION ALL SELECT 3, 'plain text ERROR 42 user=bob' "
            "UNION ALL SELECT 4, '{\"deep\":[[[[[[[[[[[[1]]]]]]]]]]]], \"bad\": ' ) v "
            "WHERE g.name = 'g' AND NOT EXISTS (SELECT 1 FROM events)");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sky__ins_error err;
    sky__ins_query *q = sky__ins_parse((const char *)data, size, &err);
    if (!q) {
        if (!err.message[0] || err.start < 0 || err.end < err.start)
            abort(); /* a refusal always says why and where */
        return 0;
    }
    sky__server *srv = fz_server();
    seed_events();
    if (reader_of != srv->store) { /* the harness recreated the store */
        sqlite3_close(reader);
        reader = NULL;
        reader_of = srv->store;
        if (sqlite3_open_v2(sky__store_path(srv->store), &reader, SQLITE_OPEN_READONLY, NULL) !=
            SQLITE_OK)
            abort();
    }
    sky__ins_group g = {.id = 1, .name = "g", .min_ts = INT64_MIN};
    sky__ins_stats st = {0};
    atomic_bool cancel = false;
    sky__ins_run run = {.db = reader, .groups = &g, .n_groups = 1, .start_ms = 0,
                        .end_ms = INT64_MAX / 2, .limit = 100, .account_id = "123456789012",
                        .cancel = &cancel, .stats = &st};
    json_t *res = NULL;
    char why[256];
    sky__ins_outcome out = sky__ins_execute(q, &run, &res, why, sizeof why);
    if (out == SKY__INS_COMPLETE && !json_is_array(res))
        abort();
    if (out == SKY__INS_FAILED && !why[0])
        abort();
    json_decref(res);
    sky__ins_free(q);
    return 0;
}

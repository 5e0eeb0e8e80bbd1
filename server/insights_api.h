/*
 * insights_api.h - the Logs Insights operations of `skylog serve` (StartQuery,
 * GetQueryResults, StopQuery, DescribeQueries, GetLogRecord and the query definitions) and
 * the workers that run queries in the background.
 *
 * Life cycle, as CloudWatch's: StartQuery answers at once with a queryId; the query is
 * Running as soon as a worker is free for it (Scheduled while all are busy), then Complete,
 * Failed, Cancelled (StopQuery) or Timeout. At most SKY__INS_MAX_ACTIVE queries are Scheduled
 * or Running at once (LimitExceededException beyond, as AWS's concurrency quota), and
 * SKY__INS_WORKERS run at a time, each with its own read-only SQLite connection, so queries
 * never hold the store lock writers need.
 */
#ifndef SKY_SERVE_INSIGHTS_API_H
#define SKY_SERVE_INSIGHTS_API_H

#include "reply.h"
#include "store.h"

#include <jansson.h>

#define SKY__INS_WORKERS 2
#define SKY__INS_MAX_ACTIVE 30       /* AWS: 30 concurrent queries per account */
#define SKY__INS_KEEP_QUERIES 1000   /* finished queries remembered (DescribeQueries) */
#define SKY__INS_TIMEOUT_MS (60LL * 60 * 1000) /* AWS: queries time out after 60 minutes */

typedef struct sky__insights sky__insights;

/* Created by serve.c at start-up (no thread runs until the first StartQuery). */
sky__insights *sky__insights_new(sky__store *store, const char *account_id, const char *region);
/* Cancels what runs, joins the workers, frees everything. NULL-safe. */
void sky__insights_free(sky__insights *ins);

/* Test hook (only with SKYLOG_SERVE_TEST_HOOKS=1): POST /_skylog/insights-timeout?ms=N sets
 * the time queries started from then on may run (default SKY__INS_TIMEOUT_MS); with 0 a query
 * ends Timeout at its first check, after 4,096 events scanned, however fast the machine. True
 * when req was this hook (the reply is made). */
bool sky__insights_test_hook(const sky__request *req, sky__reply *r);

typedef void (*sky__logs_op_fn)(const sky__request *req, json_t *body, sky__reply *r);

/* The handler of an Insights operation, NULL when `op` is not one (logs_api.c's dispatch asks
 * here first). */
sky__logs_op_fn sky__insights_op(const char *op);

#endif

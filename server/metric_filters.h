/*
 * metric_filters.h - CloudWatch Logs metric filters in the local endpoint: PutMetricFilter,
 * DescribeMetricFilters, DeleteMetricFilter, TestMetricFilter (awsJson1.1, dispatched from
 * logs_api.c), and the publishing of matching log events as metric datapoints while they are
 * ingested (PutLogEvents and the HTTP ingestion endpoints), so GetMetricStatistics and alarms
 * see them.
 */
#ifndef SKY_SERVE_METRIC_FILTERS_H
#define SKY_SERVE_METRIC_FILTERS_H

#include "reply.h"

#include <sqlite3.h>
#include <stdint.h>

void sky__put_metric_filter(const sky__request *req, json_t *body, sky__reply *r);
void sky__describe_metric_filters(const sky__request *req, json_t *body, sky__reply *r);
void sky__delete_metric_filter(const sky__request *req, json_t *body, sky__reply *r);
void sky__test_metric_filter(const sky__request *req, json_t *body, sky__reply *r);
/* Test hook (SKYLOG_SERVE_TEST_HOOKS=1): POST /_skylog/regex-program-limit?bytes=N sets the
 * process-wide limit on compiled filter-pattern regexes (filter_regex.h) and answers it with
 * the bytes held now; false when the request is not it. */
bool sky__mf_test_hook(const sky__request *req, sky__reply *r);

/* One ingestion request's filter run, inside its transaction (store lock held throughout):
 * begin loads and compiles group `gid`'s filters (NULL when it has none: then event and end do
 * nothing), event publishes what each filter makes of one stored event, end publishes the
 * default values and frees the run. A filter never fails ingestion: what it cannot publish is
 * skipped (and counted on stderr when the work budget runs out). */
typedef struct sky__mf_run sky__mf_run;
sky__mf_run *sky__mf_begin(sqlite3 *db, int64_t gid, int64_t now_ms);
void sky__mf_event(sky__mf_run *run, const char *msg, size_t len, int64_t ts_ms);
void sky__mf_end(sky__mf_run *run);

#endif

/*
 * metrics_api.h - the CloudWatch metrics API of the local endpoint: PutMetricData, ListMetrics,
 * GetMetricStatistics and GetMetricData, in both wire forms the SDKs use: awsJson1.0
 * (X-Amz-Target: GraniteServiceVersion20100801.<Op>, what botocore >= 1.3x picks) and awsQuery
 * (form body Action=<Op>&Version=2010-08-01, XML answers). Gzip bodies are undone by http.c.
 */
#ifndef SKY_SERVE_METRICS_API_H
#define SKY_SERVE_METRICS_API_H

#include "reply.h"

#include <sqlite3.h>
#include <stdint.h>

/* `api` is SKY__API_METRICS_JSON (op from X-Amz-Target) or SKY__API_METRICS_QUERY (op NULL:
 * read from the Action parameter). */
void sky__metrics_handle(const sky__request *req, sky__api api, const char *op, sky__reply *r);

/* Stores one aggregated datapoint (used by PutMetricData and EMF). `dims` is a JSON array of
 * {"Name","Value"} objects (any order; stored sorted by name). Store lock held by the caller. */
int sky__metrics_store_point(sqlite3 *db, const char *ns, const char *name, json_t *dims,
                             int64_t ts_ms, const char *unit, double count, double sum,
                             double min, double max);

/* True for one of CloudWatch's 27 units ("Milliseconds", "Count", "None", ...). */
bool sky__metrics_valid_unit(const char *u);

#endif

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
#include <stdbool.h>
#include <stdint.h>

/* `api` is SKY__API_METRICS_JSON (op from X-Amz-Target) or SKY__API_METRICS_QUERY (op NULL:
 * read from the Action parameter). */
void sky__metrics_handle(const sky__request *req, sky__api api, const char *op, sky__reply *r);

/* Stores one aggregated datapoint (used by PutMetricData and EMF). `dims` is a JSON array of
 * {"Name","Value"} objects (any order; stored sorted by name). Store lock held by the caller. */
int sky__metrics_store_point(sqlite3 *db, const char *ns, const char *name, json_t *dims,
                             int64_t ts_ms, const char *unit, double count, double sum,
                             double min, double max);

/* The distribution of the datapoint just stored by sky__metrics_store_point (its
 * sqlite3_last_insert_rowid): `values` (JSON numbers) with `counts` (NULL: 1 each; a count <= 0
 * skips its value), read only for percentiles, so statistics keep scanning one row per datum.
 * Validated by the caller. Store lock held by the caller. */
int sky__metrics_store_values(sqlite3 *db, json_t *values, json_t *counts);

/* A statistic ("Sum", "Average", ..., or a percentile "p99") of a metric over n periods of
 * `period` seconds from start_s: values[i] when present[i] (a period without data, or whose
 * percentile is unavailable, is not present). unit NULL: every unit. Store lock held by the
 * caller. SQLITE_OK, SQLITE_MISUSE for an unknown statistic, or a store error. */
int sky__metrics_series(sqlite3 *db, const char *ns, const char *name, json_t *dims,
                        const char *unit, const char *stat, int64_t start_s, int64_t period,
                        int n, double *values, bool *present);
/* The percentile of "pNN[.NNN]" (0 to 100), or -1 when `s` is not one. */
double sky__metrics_percentile_of(const char *s);

/* For the other metrics operations' files (alarms.c), the helpers that read either wire form:
 * a number (or numeric string), epoch seconds from a number or ISO-8601 text, and the index
 * of a basic statistic (SampleCount 0, Average, Sum, Minimum, Maximum 4; -1 for others). */
bool sky__metrics_num(json_t *v, double *out);
bool sky__metrics_time(json_t *v, double *out);
int sky__metrics_stat_index(const char *s);

/* True for one of CloudWatch's 27 units ("Milliseconds", "Count", "None", ...). */
bool sky__metrics_valid_unit(const char *u);

#endif

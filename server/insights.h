/*
 * insights.h - CloudWatch Logs Insights queries in `skylog serve`: the query language (parsed
 * by insights_parse.c into the program below), its execution over the SQLite store
 * (insights_exec.c) and the query life cycle behind StartQuery / GetQueryResults / StopQuery /
 * DescribeQueries (insights_api.c).
 *
 * The subset (docs/SERVE.md lists it): fields, filter, stats, sort, limit, display, parse,
 * dedup; @timestamp, @message, @logStream, @log, @ptr and fields discovered in JSON messages
 * (nested with dots). A query is external input: at most SKY__INS_MAX_QUERY characters,
 * boolean expressions nest at most SKY__INS_MAX_DEPTH deep (checked while parsing, so the
 * recursive descent is bounded), and every list is bounded before it is allocated.
 *
 * Values are text, as GetQueryResults answers them; a value that reads as a number also
 * carries it, so comparisons and aggregates are numeric where both sides are numbers.
 */
#ifndef SKY_SERVE_INSIGHTS_H
#define SKY_SERVE_INSIGHTS_H

#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define SKY__INS_MAX_QUERY 10000   /* StartQuery's queryString limit */
#define SKY__INS_MAX_DEPTH 32      /* parentheses / not / and / or nesting */
#define SKY__INS_MAX_SYMS 128      /* distinct field names in one query */
#define SKY__INS_MAX_CMDS 32       /* commands between pipes */
#define SKY__INS_MAX_ITEMS 64      /* items in one fields/display/stats/sort/in list */
#define SKY__INS_MAX_RESULTS 100000  /* StartQuery's limit (and the limit command): at most */
#define SKY__INS_DEFAULT_RESULTS 10000 /* ... and by default */
#define SKY__INS_PAGE_ROWS 10000     /* GetQueryResults: rows per answer (maxItems) at most */

/* The built-in fields, always symbols 0..4. */
enum { SKY__INS_TS = 0, SKY__INS_MSG, SKY__INS_STREAM, SKY__INS_LOG, SKY__INS_PTR, SKY__INS_NBUILTIN };

typedef struct sky__ins_query sky__ins_query;

/* Why a query was refused: the message AWS gives ("unexpected symbol found X at line L and
 * position P") and the character offsets of the offending token (end inclusive). */
typedef struct sky__ins_error {
    char message[256];
    int start, end;
} sky__ins_error;

/* Parses a query (n bytes, need not be NUL-terminated). NULL with *err filled when it is not
 * in the subset or not well formed. */
sky__ins_query *sky__ins_parse(const char *text, size_t n, sky__ins_error *err);
void sky__ins_free(sky__ins_query *q);
/* True when the query has a stats command (its rows are groups, without @ptr). */
bool sky__ins_is_stats(const sky__ins_query *q);

/* What a running query has looked at so far (GetQueryResults' statistics). Updated while the
 * query runs; read with relaxed atomics. */
typedef struct sky__ins_stats {
    _Atomic uint64_t matched, scanned, bytes;
} sky__ins_stats;

/* One log group to read. */
typedef struct sky__ins_group {
    int64_t id;
    const char *name;
    int64_t min_ts; /* the group's retention: older events are hidden */
} sky__ins_group;

typedef struct sky__ins_run {
    sqlite3 *db;                 /* a connection of the caller's (the worker's reader) */
    const sky__ins_group *groups;
    size_t n_groups;
    int64_t start_ms, end_ms;    /* inclusive */
    size_t limit;                /* rows returned, 1..SKY__INS_MAX_RESULTS */
    const char *account_id;      /* for @log ("account:group") */
    atomic_bool *cancel;         /* set by StopQuery (or shutdown): stop soon */
    int64_t deadline_ns;         /* sky_monotonic_ns() time to give up (Timeout); 0 = none */
    sky__ins_stats *stats;
} sky__ins_run;

typedef enum sky__ins_outcome {
    SKY__INS_COMPLETE = 0,
    SKY__INS_CANCELLED,
    SKY__INS_TIMEOUT,
    SKY__INS_FAILED,
} sky__ins_outcome;

/* Runs a parsed query. On COMPLETE *results is GetQueryResults' "results" (an array of rows,
 * each an array of {"field","value"}); otherwise NULL and `why` says what failed (a store
 * error, a limit of the engine). */
sky__ins_outcome sky__ins_execute(const sky__ins_query *q, const sky__ins_run *run,
                                  json_t **results, char *why, size_t cap);

/* "2026-01-02 03:04:05.678" (UTC), as Insights shows @timestamp; out has room for 24. */
void sky__ins_fmt_ts(int64_t ms, char out[24]);

#endif

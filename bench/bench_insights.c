/*
 * bench_insights.c - Logs Insights queries of `skylog serve` over a store of 1,000,000 events
 * (issue 15's benchmark; figures in bench/RESULTS.md, "Insights queries").
 *
 *   bench_insights [EVENTS] [REPS]     (defaults 1000000 and 3)
 *
 * Builds a fresh serve.db in a temporary directory (one group, 10 streams, JSON events of
 * ~130 bytes spread over 24 hours, as skylog's JSON encoder writes them), then runs each query
 * REPS times through the same path a query worker takes (sky__ins_parse, then
 * sky__ins_execute on its own read-only connection) and prints the median and best wall-clock
 * seconds and the median CPU seconds (what the query cost on a shared, loaded machine),
 * with the records scanned and the rows answered so a run that read nothing cannot pass for a
 * fast one. HTTP adds one StartQuery and the GetQueryResults polls around this.
 */
#include "insights.h"
#include "store.h"

#include <skylog.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* CPU time of this process: what the query cost, whatever else the machine runs. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int rm(const char *p, const struct stat *sb, int f, struct FTW *w)
{
    (void)sb, (void)f, (void)w;
    return remove(p);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    int reps = argc > 2 ? atoi(argv[2]) : 3;
    char dir[] = "/tmp/bench-insights-XXXXXX";
    if (!mkdtemp(dir) || reps < 1 || reps > 50)
        return 1;
    sky__store *store;
    char *err = NULL;
    if (sky__store_open(dir, &store, &err) != SKY_OK) {
        fprintf(stderr, "bench_insights: %s\n", err);
        return 1;
    }
    sqlite3 *db = sky__store_lock(store);
    int64_t t0 = 1760000000000LL - 1760000000000LL % 86400000; /* a UTC midnight */
    sqlite3_exec(db, "BEGIN; INSERT INTO log_groups(name, created) VALUES('/bench/app', 0);",
                 NULL, NULL, NULL);
    for (int s = 0; s < 10; s++) {
        char sql[128];
        snprintf(sql, sizeof sql,
                 "INSERT INTO log_streams(group_id, name, created) VALUES(1, 'web-%d', 0)", s);
        sqlite3_exec(db, sql, NULL, NULL, NULL);
    }
    sqlite3_stmt *ins;
    sqlite3_prepare_v2(db, "INSERT INTO events(group_id, stream_id, ts, ingest, message) "
                           "VALUES(1, ?, ?, ?, ?)", -1, &ins, NULL);
    static const char *const paths[] = {"/api/cart", "/api/login", "/api/search", "/api/orders",
                                        "/health", "/api/users", "/api/pay", "/static"};
    double fill = (double)sky_monotonic_ns();
    for (long i = 0; i < n; i++) {
        char msg[256];
        int status = i % 17 == 0 ? 503 : i % 29 == 0 ? 500 : 200;
        int len = snprintf(msg, sizeof msg,
                           "{\"timestamp\":\"-\",\"level\":\"%s\",\"logger\":\"web\",\"message\":"
                           "\"request\",\"path\":\"%s\",\"status\":%d,\"ms\":%.2f,\"user\":"
                           "\"u%ld\"}",
                           status >= 500 ? "ERROR" : "INFO", paths[i % 8], status,
                           5.0 + (double)((i * 7919) % 200000) / 100.0, i % 1000);
        int64_t ts = t0 + i * (86400000LL / n);
        sqlite3_bind_int64(ins, 1, 1 + i % 10);
        sqlite3_bind_int64(ins, 2, ts);
        sqlite3_bind_int64(ins, 3, ts);
        sqlite3_bind_text(ins, 4, msg, len, SQLITE_STATIC);
        sqlite3_step(ins);
        sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    sqlite3_exec(db, "COMMIT; PRAGMA wal_checkpoint(TRUNCATE);", NULL, NULL, NULL);
    sky__store_unlock(store);
    fill = ((double)sky_monotonic_ns() - fill) / 1e9;
    printf("store: %ld events in %.1f s\n", n, fill);

    sqlite3 *rd;
    if (sqlite3_open_v2(sky__store_path(store), &rd, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return 1;
    static const char *const queries[] = {
        "stats count(*) by bin(5m)",
        "filter status >= 500 | stats avg(ms) by path",
        "filter level = \"ERROR\" and ms > 100 | stats avg(ms), pct(ms, 95), count() by path",
        "fields @timestamp, @message | filter @message like /ERROR/ | sort @timestamp desc "
        "| limit 100",
        "fields @timestamp, path, ms | sort ms desc | limit 10",
    };
    sky__ins_group g = {.id = 1, .name = "/bench/app", .min_ts = INT64_MIN};
    for (size_t qi = 0; qi < sizeof queries / sizeof queries[0]; qi++) {
        double secs[50], cpu[50];
        size_t rows = 0;
        uint64_t scanned = 0;
        for (int r = 0; r < reps; r++) {
            sky__ins_error perr;
            sky__ins_query *q = sky__ins_parse(queries[qi], strlen(queries[qi]), &perr);
            if (!q) {
                fprintf(stderr, "bench_insights: %s\n", perr.message);
                return 1;
            }
            sky__ins_stats st = {0};
            atomic_bool cancel = false;
            sky__ins_run run = {.db = rd, .groups = &g, .n_groups = 1, .start_ms = t0,
                                .end_ms = t0 + 86400000LL, .limit = 10000,
                                .account_id = "123456789012", .cancel = &cancel, .stats = &st};
            json_t *res = NULL;
            char why[256];
            int64_t a = sky_monotonic_ns();
            double c0 = cpu_s();
            sqlite3_exec(rd, "BEGIN", NULL, NULL, NULL);
            sky__ins_outcome out = sky__ins_execute(q, &run, &res, why, sizeof why);
            sqlite3_exec(rd, "COMMIT", NULL, NULL, NULL);
            secs[r] = (double)(sky_monotonic_ns() - a) / 1e9;
            cpu[r] = cpu_s() - c0;
            if (out != SKY__INS_COMPLETE) {
                fprintf(stderr, "bench_insights: %s: %s\n", queries[qi], why);
                return 1;
            }
            rows = json_array_size(res);
            scanned = atomic_load(&st.scanned);
            json_decref(res);
            sky__ins_free(q);
        }
        qsort(secs, (size_t)reps, sizeof *secs, cmp_d);
        qsort(cpu, (size_t)reps, sizeof *cpu, cmp_d);
        printf("| `%s` | %.3f | %.3f | %.3f | %llu | %zu |\n", queries[qi], secs[reps / 2], secs[0],
               cpu[reps / 2], (unsigned long long)scanned, rows);
    }
    sqlite3_close(rd);
    sky__store_close(store);
    nftw(dir, rm, 8, FTW_DEPTH | FTW_PHYS);
    return 0;
}

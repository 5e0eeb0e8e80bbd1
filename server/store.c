/*
 * store.c - opens the serve database and owns its schema (see store.h). Schema changes must stay
 * backward compatible with databases already on disk: add tables and columns with IF NOT EXISTS,
 * never rename, because `--data` directories outlive binaries.
 *
 * Events carry group_id as well as stream_id so FilterLogEvents over a whole group is one index
 * range scan ordered by (timestamp, id), the order CloudWatch returns events in.
 *
 * A full disk must not lock the user out: deleting needs space too (WAL pages), so the data
 * directory keeps a small reserve file (serve.db.reserve) that a delete failing with SQLITE_FULL
 * gives back before retrying in small, separately committed batches; each batch is checkpointed
 * so the WAL is reused rather than grown. The reserve is re-created when space allows.
 */
#include "store.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RESERVE_BYTES (8u << 20) /* > the WAL SQLite lets grow before it checkpoints (~4 MiB) */
#define DELETE_BATCH 200

struct sky__store {
    sqlite3 *db;
    pthread_mutex_t lock;
    char reserve[PATH_MAX];
    char path[PATH_MAX];
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS log_groups("
    "  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, created INTEGER NOT NULL,"
    "  retention INTEGER, stored_bytes INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS log_streams("
    "  id INTEGER PRIMARY KEY, group_id INTEGER NOT NULL, name TEXT NOT NULL,"
    "  created INTEGER NOT NULL, first_event INTEGER, last_event INTEGER,"
    "  last_ingestion INTEGER, seq INTEGER NOT NULL DEFAULT 0, UNIQUE(group_id, name));"
    "CREATE TABLE IF NOT EXISTS events("
    "  id INTEGER PRIMARY KEY, group_id INTEGER NOT NULL, stream_id INTEGER NOT NULL,"
    "  ts INTEGER NOT NULL, ingest INTEGER NOT NULL, message TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS events_stream ON events(stream_id, ts, id);"
    "CREATE INDEX IF NOT EXISTS events_group ON events(group_id, ts, id);"
    "CREATE TABLE IF NOT EXISTS metrics("
    "  id INTEGER PRIMARY KEY, namespace TEXT NOT NULL, name TEXT NOT NULL,"
    "  dims TEXT NOT NULL, UNIQUE(namespace, name, dims));"
    "CREATE TABLE IF NOT EXISTS datapoints("
    "  id INTEGER PRIMARY KEY, metric_id INTEGER NOT NULL, ts INTEGER NOT NULL,"
    "  unit TEXT, count REAL NOT NULL, sum REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL);"
    "CREATE INDEX IF NOT EXISTS datapoints_metric ON datapoints(metric_id, ts);"
    /* metrics_api.c: the Values/Counts of a datum whose values differ, for percentiles. */
    "CREATE TABLE IF NOT EXISTS datapoint_values("
    "  dp_id INTEGER NOT NULL, value REAL NOT NULL, count REAL NOT NULL);"
    "CREATE INDEX IF NOT EXISTS datapoint_values_dp ON datapoint_values(dp_id);"
    /* metric_filters.c: one row per filter; its one metricTransformation kept as the JSON the
     * API shows. */
    "CREATE TABLE IF NOT EXISTS metric_filters("
    "  id INTEGER PRIMARY KEY, group_id INTEGER NOT NULL, name TEXT NOT NULL,"
    "  pattern TEXT NOT NULL, transformation TEXT NOT NULL, created INTEGER NOT NULL,"
    "  UNIQUE(group_id, name));"
    /* alarms.c: an alarm's configuration as the JSON its Put request gave (normalised), its
     * state apart (what evaluation changes); history kept after the alarm is deleted, as in
     * CloudWatch. */
    "CREATE TABLE IF NOT EXISTS alarms("
    "  name TEXT PRIMARY KEY, type TEXT NOT NULL, config TEXT NOT NULL, state TEXT NOT NULL,"
    "  reason TEXT NOT NULL, reason_data TEXT, state_updated INTEGER NOT NULL,"
    "  state_transitioned INTEGER NOT NULL, config_updated INTEGER NOT NULL,"
    "  actions_enabled INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS alarm_history("
    "  id INTEGER PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL, ts INTEGER NOT NULL,"
    "  item_type TEXT NOT NULL, summary TEXT NOT NULL, data TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS alarm_history_ts ON alarm_history(ts, id);"
    /* log_tags.c: a log group's tags (added in a later version: IF NOT EXISTS gives a database
     * made before it the table on open); deleted with their group. */
    "CREATE TABLE IF NOT EXISTS log_group_tags("
    "  group_id INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
    "  PRIMARY KEY(group_id, key));";

static int mkdir_p(const char *dir)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

static char *fmt_err(const char *what, const char *detail)
{
    size_t n = strlen(what) + strlen(detail) + 3;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s: %s", what, detail);
    return s;
}

sky_status sky__store_open(const char *dir, sky__store **out, char **err)
{
    *out = NULL;
    if (mkdir_p(dir) != 0) {
        *err = fmt_err(dir, strerror(errno));
        return SKY_EIO;
    }
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/serve.db", dir) >= (int)sizeof path) {
        *err = fmt_err(dir, "path too long");
        return SKY_EINVAL;
    }
    sky__store *st = calloc(1, sizeof *st);
    if (!st) {
        *err = fmt_err("store", "out of memory");
        return SKY_ENOMEM;
    }
    memcpy(st->path, path, sizeof path);
    pthread_mutex_init(&st->lock, NULL);
    int rc = sqlite3_open_v2(path, &st->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                             NULL);
    char *emsg = NULL;
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(st->db, 5000);
        /* WAL: readers (another process inspecting the file) never block the server; NORMAL
         * sync is durable across process crashes, which is what a local endpoint needs. */
        rc = sqlite3_exec(st->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL,
                          NULL, &emsg);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(st->db, schema, NULL, NULL, &emsg);
    if (rc != SQLITE_OK) {
        *err = fmt_err(path, emsg ? emsg : sqlite3_errmsg(st->db));
        sqlite3_free(emsg);
        sky__store_close(st);
        return SKY_EIO;
    }
    if (snprintf(st->reserve, sizeof st->reserve, "%.4000s.reserve", path) > 0)
        sky__store_keep_reserve(st);
    *out = st;
    return SKY_OK;
}

void sky__store_keep_reserve(sky__store *st)
{
    struct stat sb;
    if (stat(st->reserve, &sb) == 0 && sb.st_size >= (off_t)RESERVE_BYTES)
        return;
    FILE *f = fopen(st->reserve, "wb");
    if (!f)
        return;
    static const char zeros[65536];
    bool ok = true;
    for (size_t n = 0; ok && n < RESERVE_BYTES; n += sizeof zeros)
        ok = fwrite(zeros, 1, sizeof zeros, f) == sizeof zeros;
    ok = fflush(f) == 0 && ok;
    if (fclose(f) != 0 || !ok)
        unlink(st->reserve); /* no room even for the reserve: try again after the next delete */
}

bool sky__store_release_reserve(sky__store *st) { return unlink(st->reserve) == 0; }

int sky__store_delete_batched(sqlite3 *db, const char *table, const char *column, int64_t id)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "DELETE FROM %s WHERE rowid IN (SELECT rowid FROM %s WHERE %s=?1 LIMIT %d)", table,
             table, column, DELETE_BATCH);
    /* Empties the WAL first (its frames go to the database, the file is truncated), so the
     * batches write into space the WAL just gave back. */
    sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    for (;;) {
        sqlite3_bind_int64(st, 1, id);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
        sqlite3_reset(st);
        if (rc != SQLITE_OK || sqlite3_changes(db) == 0)
            break;
        /* Lets the next batch reuse the WAL from its start instead of growing it. */
        sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    }
    sqlite3_finalize(st);
    return rc;
}

void sky__store_close(sky__store *st)
{
    if (!st)
        return;
    sqlite3_close(st->db);
    pthread_mutex_destroy(&st->lock);
    free(st);
}

sqlite3 *sky__store_lock(sky__store *st)
{
    pthread_mutex_lock(&st->lock);
    return st->db;
}

void sky__store_unlock(sky__store *st) { pthread_mutex_unlock(&st->lock); }

const char *sky__store_path(const sky__store *st) { return st->path; }

int sky__store_begin(sqlite3 *db) { return sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL); }
int sky__store_commit(sqlite3 *db) { return sqlite3_exec(db, "COMMIT", NULL, NULL, NULL); }
void sky__store_rollback(sqlite3 *db, char *why, size_t cap)
{
    snprintf(why, cap, "%s", sqlite3_errmsg(db)); /* ROLLBACK resets it to "not an error" */
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

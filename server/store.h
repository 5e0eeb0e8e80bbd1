/*
 * store.h - the SQLite database behind `skylog serve`: log groups, streams, events and metric
 * datapoints, in one file (serve.db) under the data directory, in WAL mode.
 *
 * Concurrency: one connection, one mutex. Handlers take the lock for a whole API call (one
 * transaction), so concurrent writers to one stream are serialised and nothing is lost; reads
 * are short enough that a single writer lock costs nothing measurable at local-endpoint rates.
 */
#ifndef SKY_SERVE_STORE_H
#define SKY_SERVE_STORE_H

#include <skylog.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct sky__store sky__store;

/* Opens (creating the directory and schema when missing) `dir`/serve.db. On failure *err gets a
 * malloc'd message. */
sky_status sky__store_open(const char *dir, sky__store **out, char **err);
void sky__store_close(sky__store *st);

/* Takes the store's lock and returns the connection; every use must end with unlock. */
sqlite3 *sky__store_lock(sky__store *st);
void sky__store_unlock(sky__store *st);

/* The database file's path, for connections of their own (Insights queries read through one
 * per worker, so a long query never holds the lock writers need; WAL lets them read a
 * snapshot while writers go on). */
const char *sky__store_path(const sky__store *st);

/* The space reserve for a full disk (serve.db.reserve, 1 MiB): release gives it back to the
 * file system (false if there was none); keep re-creates it if missing and there is room. */
bool sky__store_release_reserve(sky__store *st);
void sky__store_keep_reserve(sky__store *st);

/* Deletes the rows of `table` whose `column` is `id` in batches, each its own autocommitted
 * statement followed by a passive checkpoint: constant WAL space whatever the row count, for
 * when one transaction does not fit on the disk. Not atomic: call outside a transaction and
 * delete what refers to the rows last. SQLITE_OK or the error. */
int sky__store_delete_batched(sqlite3 *db, const char *table, const char *column, int64_t id);

/* Transaction helpers: return SQLITE_OK or the error. */
int sky__store_begin(sqlite3 *db);
int sky__store_commit(sqlite3 *db);
/* Rolls back the open transaction after a failure, first copying the connection's error
 * message into why (cap bytes): what to report, which a successful ROLLBACK would reset. */
void sky__store_rollback(sqlite3 *db, char *why, size_t cap);

#endif

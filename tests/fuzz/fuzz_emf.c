/*
 * fuzz_emf.c - Embedded Metric Format extraction (server/emf.c) on arbitrary log messages,
 * storing into a real SQLite store, with the event and "now" at a fixed time so runs repeat.
 */
#include "emf.h"
#include "serve_harness.h"

#define FIXED_NOW_MS 1700000000000LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *msg = fz_copy(data, size);
    sky__server *srv = fz_server();
    sqlite3 *db = sky__store_lock(srv->store);
    int budget = SKY__EMF_MAX_POINTS_PER_REQUEST;
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    int stored = sky__emf_extract(db, msg, size, FIXED_NOW_MS, FIXED_NOW_MS, &budget);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL); /* keeps the store small and runs alike */
    sky__store_unlock(srv->store);
    if (stored < 0 || stored > SKY__EMF_MAX_POINTS_PER_EVENT || budget < 0)
        abort(); /* the bounds emf.h promises */
    free(msg);
    return 0;
}

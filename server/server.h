/*
 * server.h - the state every request handler shares: options, store, fault injector, counters.
 * One instance per `skylog serve` process, created by serve.c and read-only after start-up
 * (except the atomic request counter), so handlers need no lock to read it.
 */
#ifndef SKY_SERVE_SERVER_H
#define SKY_SERVE_SERVER_H

#include "serve.h"
#include "store.h"

#include <stdatomic.h>

typedef struct sky__faults sky__faults;
typedef struct sky__insights sky__insights;
typedef struct sky__server sky__server;

struct sky__server {
    const sky__serve_opts *opts;
    sky__store *store;
    sky__faults *faults; /* NULL when no --faults */
    sky__insights *insights; /* Logs Insights queries (insights_api.h); NULL: not available */
    _Atomic unsigned long long next_request_id;
};

/* With SKYLOG_SERVE_TEST_HOOKS=1, SKYLOG_SERVE_TEST_CLOCK_OFFSET_MS (signed): serve's clock
 * moved, so a test can have events a client stamps now fall outside CloudWatch's window (read
 * once; 0 otherwise). */
int64_t sky__serve_clock_offset_ms(void);

/* Milliseconds since the Unix epoch, the unit of every CloudWatch Logs timestamp. */
static inline int64_t sky__now_ms(void)
{
    return sky_now_ns() / 1000000 + sky__serve_clock_offset_ms();
}

#endif

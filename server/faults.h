/*
 * faults.h - fault injection for `skylog serve --faults SPEC --seed N`, so clients can be tested
 * against throttling, server errors, dropped connections and latency.
 *
 * SPEC is comma-separated key=value: throttle=P, error=P, reset=P, reset_after=P (probabilities,
 * 0..1, summing to at most 1) and latency=DUR (e.g. 20ms, 1s, 500us; added to every request).
 *
 * Determinism: the decisions come from one seeded RNG that draws exactly two numbers per request,
 * in the order requests finish arriving, so the same seed and the same sequence of requests give
 * the same sequence of faults.
 */
#ifndef SKY_SERVE_FAULTS_H
#define SKY_SERVE_FAULTS_H

#include <stddef.h>
#include <stdint.h>

typedef struct sky__faults sky__faults;

typedef enum sky__fault_kind {
    SKY__FAULT_NONE = 0,
    SKY__FAULT_THROTTLE,    /* answer ThrottlingException (400) without processing */
    SKY__FAULT_ERROR,       /* answer 500 or 503 without processing */
    SKY__FAULT_RESET,       /* close the connection without processing or answering */
    SKY__FAULT_RESET_AFTER, /* process (store), then close without answering */
} sky__fault_kind;

typedef struct sky__fault {
    sky__fault_kind kind;
    int status;         /* for SKY__FAULT_ERROR: 500 or 503 */
    int64_t latency_us; /* to sleep before answering */
} sky__fault;

/* Parses SPEC; NULL with a message in err on a bad spec (or OOM). */
sky__faults *sky__faults_new(const char *spec, uint64_t seed, char *err, size_t cap);
/* The next decision. Thread-safe. */
sky__fault sky__faults_next(sky__faults *f);
void sky__faults_free(sky__faults *f);
const char *sky__fault_name(sky__fault_kind kind);

#endif

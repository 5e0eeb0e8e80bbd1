/*
 * ship_checkpoint.h - what makes a resumed `skylog ship` exactly once: the acknowledged tail of
 * the stream (the anchor) kept in the checkpoint, and the settling of the events a killed run
 * may have stored without their acknowledgement reaching it.
 *
 * The method (docs/CLI.md, "Exactly once"): the checkpoint holds, next to the acknowledged
 * input position, the last few events the stream holds at that position (timestamp and a
 * hash of the message). A resumed run first reads the stream's tail back (at most
 * SKY__SETTLE_WINDOW events), finds that anchor in it, and takes every event stored after it
 * as "stored but not acknowledged". Those must be the next lines of the input: they are
 * matched (as a multiset, since the sink sorts a batch by time) against the lines read, which
 * are skipped instead of sent; a line that does not match while some remain is an error
 * before anything is sent. Nothing is embedded in the messages.
 */
#ifndef SKY_CLI_SHIP_CHECKPOINT_H
#define SKY_CLI_SHIP_CHECKPOINT_H

#include "common.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Events read back from the stream's end. Stored-but-not-checkpointed events are bounded by
 * ship's queue (20,000 events), plus the 10,000 events a checkpoint may lag while reading, plus
 * what is acknowledged in the 1,024 lines before the next look (cmd_ship.c, checkpoint_maybe). */
#define SKY__SETTLE_WINDOW 50000
/* Lines (with their events) kept as the anchor. */
#define SKY__ANCHOR_MAX 8

/* A line whose stored message may differ from the line (truncated, split into parts): it
 * matches n events with its timestamp, whatever their text. */
#define SKY__ANCHOR_WILD 1u
/* A line the service may have refused for its age (stored or not): matched when present. */
#define SKY__ANCHOR_OPTIONAL 2u

typedef struct sky__anchor {
    int64_t ts;     /* Unix ms as sent */
    uint64_t h;     /* the message's hash (sky__ship_hash, or _v2 in a version 2 checkpoint) */
    uint32_t n;     /* events the line became (1 unless WILD) */
    uint32_t flags;
} sky__anchor;

/* The last SKY__ANCHOR_MAX anchors, oldest first. */
typedef struct sky__anchor_tail {
    sky__anchor a[SKY__ANCHOR_MAX];
    size_t n;
} sky__anchor_tail;

/* A 64-bit hash of a message (not cryptographic: it only has to tell lines apart), as
 * checkpoints of version 3 carry it; _v2 is version 2's (a slower one), for resuming those. */
uint64_t sky__ship_hash(const char *s, size_t n);
uint64_t sky__ship_hash_v2(const char *s, size_t n);
typedef uint64_t (*sky__ship_hash_fn)(const char *s, size_t n);

void sky__anchor_push(sky__anchor_tail *t, sky__anchor a);
/* [[ts,"hash",n,flags],...] and back; false if `j` is not such an array. */
json_t *sky__anchor_json(const sky__anchor_tail *t);
bool sky__anchor_parse(json_t *j, sky__anchor_tail *out);

/* What a resumed run must skip: the events stored after the anchor, as a multiset. */
typedef struct sky__settle_ev {
    uint64_t h;
    int64_t ts;
    uint32_t parts; /* a split line's part count */
    bool wild;      /* its text is not a line's (a part, truncated, repaired) */
    bool taken;
} sky__settle_ev;

typedef struct sky__settle {
    bool active;        /* events remain to be matched */
    sky__settle_ev *ev; /* the events stored after the anchor, sorted by hash */
    size_t n, left;
    uint64_t total;     /* events found after the anchor */
    uint64_t skipped;   /* lines skipped as already stored */
    uint64_t ambiguous; /* lines that may be stored twice (the anchor repeats; older times) */
    int64_t anchor_max_ts;
    uint64_t lines_seen; /* lines looked at since the start (the window for `ambiguous`) */
    sky__ship_hash_fn hash; /* the checkpoint's (its version's) */
} sky__settle;

/*
 * Reads the stream's last events and sets *s to what was stored after `anchor` (all of the
 * stream's window when `anchor` is NULL: the checkpoint says the stream was empty). When
 * `fresh` is non-NULL (no checkpoint yet), nothing is settled and *fresh gets the stream's
 * tail as the first anchor. A missing stream or group is an empty stream. False after
 * printing why on stderr ("skylog ship: ..."), or with *denied and nothing printed when the
 * credentials may not read the stream (AccessDeniedException).
 */
bool sky__settle_load(sky_aws_client *c, const char *group, const char *stream,
                      const sky__anchor_tail *anchor, sky__anchor_tail *fresh,
                      sky__ship_hash_fn hash, sky__settle *s, bool *denied);

typedef enum sky__settle_verdict {
    SKY__SETTLE_SEND,     /* not stored (or settling is over): send it */
    SKY__SETTLE_SKIP,     /* already stored: skip it; *stored is its anchor */
    SKY__SETTLE_MISMATCH, /* events remain and this line is not one of them */
} sky__settle_verdict;

/* Decides for one non-empty line read while settling. `ts_from_line`: its timestamp comes from
 * the line (JSON), so it is the same as in the killed run. `long_line`: the sink may have
 * truncated or split it. */
sky__settle_verdict sky__settle_line(sky__settle *s, const char *line, size_t n, int64_t ts,
                                     bool ts_from_line, bool long_line, sky__anchor *stored);

void sky__settle_free(sky__settle *s);

#endif

/*
 * spool.h - the crash-safe spool of the CloudWatch Logs sink (docs/DURABILITY.md).
 *
 * A spool is one file, memory-mapped and locked (flock) by the one process that uses it: a
 * 4 KiB header, then a circular data area of records. Each accepted event is appended as a
 * record (length, logical position, timestamp, stream name, message, CRC-32C) before it enters
 * the sink's queue, and marked done once the service has answered for it (stored, or refused
 * for good); the header's `head` (the oldest record not done) is the acknowledged position,
 * one aligned 8-byte store. Stores into a shared file mapping are in the page cache the
 * moment they are made, so a process killed by SIGKILL loses nothing; surviving a power loss
 * needs the fsync policy.
 *
 * A record's identity is its logical position (a 64-bit offset that only grows; its place in
 * the file is position % capacity), stored in the record and covered by its checksum: a stale
 * record left over from an earlier lap of the ring never matches the position where the scan
 * expects the next one, so no sequence number has to be kept in step with the header.
 *
 * Everything read back is validated before use: the header (magic, version, sizes against the
 * file's size), and every record (position, kind, lengths within the area, checksum). The
 * reader, sky__spool_scan(), works on a memory image so that the fuzz target drives the very
 * code open() uses. Not thread-safe: the CloudWatch sink calls it under its lock; only
 * sky__spool_sync() (an fdatasync) may run without it.
 */
#ifndef SKY_SINKS_SPOOL_H
#define SKY_SINKS_SPOOL_H

#include <skylog.h>
#include <skylog/cloudwatch.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SKY__SPOOL_HEADER 4096u
#define SKY__SPOOL_REC_HDR 32u
#define SKY__SPOOL_MIN_BYTES (64u << 10)   /* data area */
#define SKY__SPOOL_MAX_BYTES (1ull << 40)  /* data area: 1 TiB */
#define SKY__SPOOL_MAX_STREAM 512u         /* a CloudWatch stream name's limit */

/* Record states (not covered by the checksum: changed in place by one store). */
enum { SKY__SPOOL_PENDING = 0, SKY__SPOOL_INFLIGHT = 1, SKY__SPOOL_DONE = 2 };

typedef struct sky__spool sky__spool;

/* A live record as read back (pointers into the image). */
typedef struct sky__spool_rec {
    uint64_t pos;
    int64_t ts_ms;
    const char *stream;
    size_t stream_len;
    const char *msg;
    size_t len;
    bool inflight; /* it was being sent when the last owner stopped: it may have been stored */
} sky__spool_rec;

typedef struct sky__spool_scan_result {
    uint64_t head, end; /* the acknowledged position; where the next record goes */
    uint64_t live;      /* records still to deliver */
    uint64_t inflight;  /* of which were being sent */
    uint64_t done;      /* records after head already acknowledged (other streams' order) */
    uint64_t torn;      /* records found damaged (skipped or cut) */
    uint64_t live_bytes;
} sky__spool_scan_result;

typedef void (*sky__spool_cb)(void *user, const sky__spool_rec *rec);

/* Validates a spool image of `size` bytes (header + data area) and walks its records from the
 * acknowledged position, calling `cb` (may be NULL) for every live record in order. When
 * `repair`, a damaged record followed by a valid one is rewritten as a skip record so that the
 * head can pass it. SKY_EINVAL with a reason in err[] for an image that is not a usable spool
 * (the caller decides what to tell the user); an all-zero header is SKY_ENOTFOUND (never
 * initialised). */
sky_status sky__spool_scan(uint8_t *image, size_t size, bool repair, sky__spool_cb cb, void *user,
                           sky__spool_scan_result *out, char *err, size_t err_cap);

/* Opens (creating when missing) and locks the spool at `path` with a data area of `bytes`
 * (an existing spool keeps its own size while it holds records). SKY_EIO when another
 * process (or another sink of this one) holds it ("... is in use by process N") and for
 * system errors, SKY_EINVAL for a file that is not a spool
 * or whose header is damaged; a message in *errmsg. */
sky_status sky__spool_open(const char *path, uint64_t bytes, sky_cwl_fsync fsync_policy,
                           int64_t fsync_interval_ms, sky__spool **out, char **errmsg);
/* Calls cb for each record left by the previous owner, in order (once, after open); adds the
 * in-flight ones to the cumulative ambiguous count. */
void sky__spool_replay(sky__spool *sp, sky__spool_cb cb, void *user);
/* Whether a record of this size fits now (a record larger than half the spool never does). */
bool sky__spool_has_room(const sky__spool *sp, size_t stream_len, size_t len);
/* Appends a record; false when there is no room now. *pos gets its position. */
bool sky__spool_append(sky__spool *sp, int64_t ts_ms, const char *stream, size_t stream_len,
                       const char *msg, size_t len, uint64_t *pos);
void sky__spool_set_state(sky__spool *sp, uint64_t pos, unsigned state);
/* The record is acknowledged; the head moves past every done record before it. */
void sky__spool_done(sky__spool *sp, uint64_t pos);
void sky__spool_count_ambiguous(sky__spool *sp, uint64_t n);
void sky__spool_count_dropped(sky__spool *sp, uint64_t n);
/* After a write() of the sink: the `batch` policy syncs here. */
void sky__spool_after_write(sky__spool *sp);
/* The `interval` policy: whether a sync is due now; else *wait_ns until it is (INT64_MAX:
 * nothing to sync). */
bool sky__spool_sync_due(sky__spool *sp, int64_t now_ns, int64_t *wait_ns);
/* fdatasync(2) of the file (header and records). Safe without the caller's lock. */
void sky__spool_sync(sky__spool *sp);
/* True in a forked child: the parent owns the mapping and the lock. */
bool sky__spool_foreign(const sky__spool *sp);
void sky__spool_stats(const sky__spool *sp, sky_cwl_stats *out);
/* CRC-32C (Castagnoli: iSCSI, ext4), as the records use it; exposed for tests. */
uint32_t sky__spool_crc32c(const void *p, size_t n);
/* Syncs (unless the policy is none), unmaps, unlocks, closes. */
void sky__spool_close(sky__spool *sp);

#endif

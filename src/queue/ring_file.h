/*
 * ring_file.h - the async ring backed by a file: "the ring is the spool" (docs/DURABILITY.md,
 * "The async ring's spool"; design in ring_file.c).
 *
 * The file is a 4 KiB header and the ring's buffer, mapped MAP_SHARED: a record a producer
 * committed is in the page cache, which outlives a process killed by SIGKILL. The header
 * keeps the consumer's position (everything before it was written by every sink), so the next
 * process that opens the file finds the records from there, checks each one, and the ring
 * resumes with them queued ahead of new events.
 *
 * Records in a file-backed ring carry, after the ring's commit word, their own position and a
 * CRC-32C (sky__rfile_rec): a record of an earlier lap, one cut short by a power loss or one
 * that a producer reserved and never committed (it was killed while copying) is never taken
 * for an event. What a record holds beyond that prefix is its owner's business; the scan asks
 * the owner's check function whether it is well formed.
 */
#ifndef SKY_QUEUE_RING_FILE_H
#define SKY_QUEUE_RING_FILE_H

#include "queue/ring.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SKY__RFILE_HEADER 4096u
#define SKY__RFILE_VERSION 1u
#define SKY__RFILE_SKIP 0x50494b53u /* aux of a skip record the scan wrote over a torn range */

/* The prefix of every record of a file-backed ring. */
typedef struct sky__rfile_rec {
    sky__ring_hdr h; /* commit: size (the ring's); aux: the owner's (covered by crc) */
    uint64_t pos;    /* the record's ring position */
    uint32_t crc;    /* CRC-32C of bytes 4..16 and 20..size: everything but commit and crc */
    uint32_t aux2;   /* the owner's (covered by crc) */
} sky__rfile_rec;
_Static_assert(sizeof(sky__rfile_rec) == 24, "ring file record prefix");

typedef struct sky__rfile_hdr {
    char magic[8]; /* "SKYRING\0", written last when the file is made */
    uint32_t version, header_size;
    uint64_t cap;                /* the ring's capacity: the file is header + cap bytes */
    _Atomic uint64_t consumer;   /* the worker is done with every record before it */
    _Atomic uint64_t inflight;   /* end of the records being written to the sinks */
    /* cumulative over every owner of the file */
    _Atomic uint64_t recovered_total, torn_total, ambiguous_total;
    _Atomic int32_t owner_pid;
    uint32_t pad;
} sky__rfile_hdr;

/* What the scan found from the consumer position. */
typedef struct sky__rfile_found {
    uint64_t consumer, end; /* the first record's position; just past the last good one */
    uint64_t records;       /* good records, to deliver */
    uint64_t ambiguous;     /* of which were being written to the sinks when the owner died */
    uint64_t torn;          /* ranges that were not a good record: damaged, or never finished */
} sky__rfile_found;

/* Is the record (its prefix already checked) well formed for its owner? */
typedef bool (*sky__rfile_check)(void *user, const char *rec, uint32_t size);

/* Seals a record of `size` bytes whose content is written: stores its position and checksum.
 * Call before the ring's commit. */
void sky__rfile_seal(char *rec, uint32_t size, uint64_t pos);

/* Validates the image of a ring file (`size` bytes: header + ring) and walks its records
 * from the consumer position, one lap at most. With `repair`, each torn range followed by a
 * good record becomes a skip record the ring passes over, and everything past the last good
 * record is cleared the way the ring's consumer clears what it frees. SKY_ENOTFOUND: the
 * header is all zero (a file never finished: make it again); SKY_EINVAL with a reason in err for
 * anything else that is not a usable ring file. */
sky_status sky__rfile_scan(uint8_t *image, size_t size, bool repair, sky__rfile_check check,
                           void *user, sky__rfile_found *out, char *err, size_t err_cap);

typedef struct sky__rfile sky__rfile;

/* Opens (creating when missing) and locks the ring file at `path` for a ring of `cap` bytes
 * (a power of two; an existing file keeps its own while it holds records), repairs it and
 * attaches `r` to it, the records found queued. SKY_EIO when another process (or another
 * pipeline of this one) holds it and for system errors, SKY_EINVAL for a file that is not a
 * ring file; a message in *errmsg. */
sky_status sky__rfile_open(const char *path, uint64_t cap, sky__rfile_check check, void *user,
                           sky__ring *r, sky__rfile **out, sky__rfile_found *found,
                           char **errmsg);

/* Worker: the records before `end` are being written to the sinks. */
static inline void sky__rfile_inflight(sky__rfile_hdr *h, uint64_t end)
{
    atomic_store_explicit(&h->inflight, end, memory_order_relaxed);
}
/* Worker: every sink's write() returned for the records before `pos`; call before the ring
 * frees (clears) them. */
static inline void sky__rfile_consumed(sky__rfile_hdr *h, uint64_t pos)
{
    atomic_store_explicit(&h->consumer, pos, memory_order_release);
}

sky__rfile_hdr *sky__rfile_header(sky__rfile *f);
const char *sky__rfile_path(const sky__rfile *f);

/* In a forked child (no other thread): the ring's buffer and the header become private
 * anonymous memory at the same addresses, and the child's copy of the descriptor (and with it
 * of the lock) is closed. The child's events are then in memory only; the parent keeps the
 * file. */
void sky__rfile_detach(sky__rfile *f);

/* Unmaps and unlocks (the ring must not be used any more). */
void sky__rfile_close(sky__rfile *f);

#endif

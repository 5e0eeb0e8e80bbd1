/*
 * ring.h - the bounded multi-producer, single-consumer byte ring between log callers and the
 * worker (see ring.c for the design). Producer operations are inline: they are the hot path.
 */
#ifndef SKY_QUEUE_RING_H
#define SKY_QUEUE_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Every record starts with this word and is a multiple of SKY__RING_ALIGN bytes long. */
#define SKY__RING_ALIGN 16u
#define SKY__RING_PAD 1u /* commit word flag: filler up to the end of the buffer */

typedef struct sky__ring_hdr {
    _Atomic uint32_t commit; /* 0 while being written; then size | flags (release-stored) */
    uint32_t aux;            /* free for the record's owner */
} sky__ring_hdr;

typedef struct sky__ring {
    char *buf;
    uint64_t cap, mask;
    /* Positions are byte counts since creation; they never wrap (2^64 bytes is centuries). */
    _Alignas(64) _Atomic uint64_t head; /* producers: next byte to reserve (CAS) */
    _Alignas(64) _Atomic uint64_t tail; /* consumer: everything before it is free and zeroed */
    /* Consumer-private, written for every record: on a line of their own, since producers
     * read `tail` on every reservation (sharing its line cost a miss per event). */
    _Alignas(64) uint64_t claim; /* next record to read */
    uint64_t head_seen;          /* `head` as last read */
    _Alignas(64) _Atomic uint64_t high_water;
} sky__ring;

/* Capacity is `bytes` rounded up to a power of two, at least 4 KiB. Returns false on OOM. */
bool sky__ring_init(sky__ring *r, size_t bytes);
void sky__ring_free(sky__ring *r);
/* Largest record (header included) a ring can always accept once it is empty: half the
 * capacity (a record plus the filler before it always fits), and at most 1 GiB so a size
 * always fits the 32-bit commit word. */
static inline uint64_t sky__ring_max_record(const sky__ring *r)
{
    return r->cap / 2 < ((uint64_t)1 << 30) ? r->cap / 2 : (uint64_t)1 << 30;
}

/* Producer: reserves `size` bytes (a multiple of SKY__RING_ALIGN, at most max_record). Returns
 * where to write the record, or NULL when the ring is full now. *used gets the bytes queued
 * after the reservation. Lock-free: one CAS on `head` (retried only under contention). */
static inline char *sky__ring_reserve(sky__ring *r, uint32_t size, uint64_t *used)
{
    uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t off, pad, end;
    for (;;) {
        off = h & r->mask;
        pad = off + size > r->cap ? r->cap - off : 0;
        end = h + pad + size;
        /* acquire: the consumer zeroed what it freed before publishing `tail` */
        uint64_t t = atomic_load_explicit(&r->tail, memory_order_acquire);
        if (end - t > r->cap)
            return NULL;
        if (atomic_compare_exchange_weak_explicit(&r->head, &h, end, memory_order_relaxed,
                                                  memory_order_relaxed)) {
            *used = end - t;
            break;
        }
    }
    if (pad) {
        sky__ring_hdr *ph = (sky__ring_hdr *)(r->buf + off);
        atomic_store_explicit(&ph->commit, (uint32_t)pad | SKY__RING_PAD, memory_order_release);
        off = 0;
    }
    return r->buf + off;
}

/* Producer: publishes a record written at `rec` (its header's aux already set). */
static inline void sky__ring_commit(char *rec, uint32_t size)
{
    atomic_store_explicit(&((sky__ring_hdr *)rec)->commit, size, memory_order_release);
}

/* Producer: records `used` as the high-water mark if it is one (rarely writes). */
static inline void sky__ring_note_used(sky__ring *r, uint64_t used)
{
    uint64_t hw = atomic_load_explicit(&r->high_water, memory_order_relaxed);
    while (used > hw && !atomic_compare_exchange_weak_explicit(&r->high_water, &hw, used,
                                                               memory_order_relaxed,
                                                               memory_order_relaxed))
        ;
}

/* Consumer: the next committed record (skipping filler), or NULL if there is none yet (the ring
 * is empty, or the next record is still being written). *size gets its size. */
static inline char *sky__ring_peek(sky__ring *r, uint32_t *size)
{
    for (;;) {
        /* Never read at or past `head`: when the consumer holds a whole lap unreleased, the
         * word at `claim` is the first record it holds, still marked published. */
        if (r->claim == r->head_seen) {
            r->head_seen = atomic_load_explicit(&r->head, memory_order_acquire);
            if (r->claim == r->head_seen)
                return NULL;
        }
        char *p = r->buf + (r->claim & r->mask);
        uint32_t c = atomic_load_explicit(&((sky__ring_hdr *)p)->commit, memory_order_acquire);
        if (!c)
            return NULL;
        if (c & SKY__RING_PAD) {
            r->claim += c & ~(SKY__RING_ALIGN - 1);
            continue;
        }
        *size = c;
        return p;
    }
}

/* Consumer: moves past the record returned by peek (it stays readable until release). */
static inline void sky__ring_advance(sky__ring *r, uint32_t size) { r->claim += size; }

/* Consumer: frees everything before `claim` (zeroes it, then publishes the new tail). */
void sky__ring_release(sky__ring *r);

/* True when nothing has been reserved beyond what the consumer took. */
static inline bool sky__ring_drained(sky__ring *r)
{
    return r->claim == atomic_load_explicit(&r->head, memory_order_acquire);
}

/* Bytes reserved and not yet freed. */
static inline uint64_t sky__ring_used(sky__ring *r)
{
    return atomic_load_explicit(&r->head, memory_order_relaxed) -
           atomic_load_explicit(&r->tail, memory_order_relaxed);
}

/* In a forked child (no other thread exists): forgets every record, written or half-written,
 * so the child starts with an empty ring. The parent still owns and delivers those events. */
void sky__ring_reset_after_fork(sky__ring *r);

#endif

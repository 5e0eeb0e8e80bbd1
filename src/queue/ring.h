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

#include "skylog.h" /* sky__ring and sky__ring_hdr: inlined call sites write to the ring too */

/* Every record starts with a sky__ring_hdr and is a multiple of SKY__RING_ALIGN bytes long. */
#define SKY__RING_PAD 1u /* commit word flag: filler up to the end of the buffer */

/* Capacity is `bytes` rounded up to a power of two, at least 4 KiB. Returns false on OOM. */
bool sky__ring_init(sky__ring *r, size_t bytes);
void sky__ring_free(sky__ring *r);
/* Makes `r` a ring over `buf` (`cap` bytes, a power of two, not owned: sky__ring_free must not
 * be called) whose records from `tail` to `head` are queued: a ring taken back from a file
 * (queue/ring_file.c). The caller has cleared the commit words from `head` to tail + cap. */
void sky__ring_attach(sky__ring *r, char *buf, uint64_t cap, uint64_t tail, uint64_t head);
/* Largest record (header included) a ring can always accept once it is empty: half the
 * capacity (a record plus the filler before it always fits), and at most 1 GiB so a size
 * always fits the 32-bit commit word. */
static inline uint64_t sky__ring_max_record(const sky__ring *r)
{
    return r->cap / 2 < ((uint64_t)1 << 30) ? r->cap / 2 : (uint64_t)1 << 30;
}

/* Producer: reserves `size` bytes (a multiple of SKY__RING_ALIGN, at most max_record). Returns
 * where to write the record, or NULL when the ring is full now. *end gets the ring position
 * just past the record. Lock-free: one CAS on `head` (retried only under contention). */
static inline char *sky__ring_reserve(sky__ring *r, uint32_t size, uint64_t *end)
{
    uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t off, pad, e;
    for (;;) {
        off = h & r->mask;
        pad = off + size > r->cap ? r->cap - off : 0;
        e = h + pad + size;
        /* acquire: the consumer zeroed what it freed before publishing `limit` */
        if (e > atomic_load_explicit(&r->limit, memory_order_acquire))
            return NULL;
        if (atomic_compare_exchange_weak_explicit(&r->head, &h, e, memory_order_relaxed,
                                                  memory_order_relaxed))
            break;
    }
    *end = e;
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

/* Consumer: frees everything before `claim` (zeroes it, then publishes the new tail), and
 * first notes the bytes queued as the high-water mark if they are one. */
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

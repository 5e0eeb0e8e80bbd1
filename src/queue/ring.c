/*
 * ring.c - the bounded MPSC byte ring that carries events from log callers to the worker.
 *
 * Design. One power-of-two buffer and 64-bit positions that only grow: `head` (next byte a
 * producer may reserve), `claim` (next record the consumer reads; private to it), `tail`
 * (bytes before it are free) and `limit` (tail + capacity: how far producers may reserve). A
 * producer reserves a contiguous range with one CAS on `head` after checking
 * `head + size <= limit`, writes its record there without any lock,
 * and publishes it by storing the record's size into the record's first word (release). A
 * record never wraps: if it does not fit before the end of the buffer, the same CAS also takes
 * the filler up to the end, marked as padding. The consumer reads records in reservation order
 * at `claim`, never at or past `head`; a zero first word means "not published yet", so a slow
 * producer delays only the records behind its own. When the consumer is done with a batch it
 * zeroes the bytes it read (the commit word of every 16-byte unit, so a stale word can never
 * look published in the next lap) and publishes `tail`, then `limit` (release); producers
 * acquire `limit` before writing, so they always write into zeroed memory. The ring's layout
 * is public (skylog.h): call sites compiled with the header reserve and commit inline.
 *
 * Why one MPSC ring and not one SPSC ring per thread. Measured with bench/bench_ring (192-byte
 * records, 2 vCPU reference machine, see bench/RESULTS.md): reserve + fill + commit costs
 * 7.3 ns with a plain store (what an SPSC ring pays) and 8.8 ns with the CAS, so the CAS adds
 * ~1.5 ns uncontended. When two threads log back to back on two cores, `head`'s cache line
 * bounces and a record costs 13-60 ns; per-thread rings would avoid that. We still chose one
 * ring per pipeline because: the bound is then per pipeline in bytes, as the API promises
 * (per-thread rings multiply it by the thread count, or need a shared byte budget that is
 * itself a contended counter); there is no registration, no reclamation of rings of exited
 * threads and no merge on the worker side; a drop policy (DROP_OLDEST) and flush are defined
 * on one queue; and at realistic rates (even 1M events/s per thread) two producers rarely
 * collide on the line. Records are variable-sized, so a big event costs its size, not a slot.
 *
 * Trade-offs. Zeroing costs the consumer one 4-byte store per 16 bytes it read (cheap,
 * sequential, on the worker). A producer that stops forever between reserve and commit
 * (a killed thread) stalls the consumer; only fork() can do that to a live process, and the
 * child resets the ring. Overflow policy lives above (src/core/async.c): the ring only says
 * "full".
 *
 * Never: lock, allocate or call into the kernel on the producer side.
 */
#include "queue/ring.h"

#include <stdlib.h>
#include <string.h>

bool sky__ring_init(sky__ring *r, size_t bytes)
{
    memset(r, 0, sizeof *r);
    uint64_t cap = 4096;
    while (cap < bytes && cap < ((uint64_t)1 << 40))
        cap <<= 1;
    /* calloc: pages are zero and only become resident when the ring first reaches them */
    r->buf = calloc(1, cap);
    if (!r->buf)
        return false;
    r->cap = cap;
    r->mask = cap - 1;
    r->limit = cap;
    return true;
}

void sky__ring_attach(sky__ring *r, char *buf, uint64_t cap, uint64_t tail, uint64_t head)
{
    memset(r, 0, sizeof *r);
    r->buf = buf;
    r->cap = cap;
    r->mask = cap - 1;
    r->head = head;
    r->tail = r->claim = r->head_seen = tail;
    r->limit = tail + cap;
}

void sky__ring_free(sky__ring *r)
{
    free(r->buf);
    r->buf = NULL;
}

/* Records start on SKY__RING_ALIGN boundaries, so only the commit words there can ever be
 * read as "published": zeroing those (one store per 16 bytes) is as good as zeroing all. */
static void zero_range(sky__ring *r, uint64_t from, uint64_t to)
{
    while (from < to) {
        uint64_t off = from & r->mask;
        uint64_t n = to - from;
        if (n > r->cap - off)
            n = r->cap - off; /* up to the end of the buffer, then from its start */
        char *p = r->buf + off, *end = p + n;
        for (; end - p >= 4 * SKY__RING_ALIGN; p += 4 * SKY__RING_ALIGN) { /* 4 units a turn */
            atomic_store_explicit(&((sky__ring_hdr *)p)->commit, 0, memory_order_relaxed);
            atomic_store_explicit(&((sky__ring_hdr *)(p + SKY__RING_ALIGN))->commit, 0,
                                  memory_order_relaxed);
            atomic_store_explicit(&((sky__ring_hdr *)(p + 2 * SKY__RING_ALIGN))->commit, 0,
                                  memory_order_relaxed);
            atomic_store_explicit(&((sky__ring_hdr *)(p + 3 * SKY__RING_ALIGN))->commit, 0,
                                  memory_order_relaxed);
        }
        for (; p < end; p += SKY__RING_ALIGN)
            atomic_store_explicit(&((sky__ring_hdr *)p)->commit, 0, memory_order_relaxed);
        from += n;
    }
}

void sky__ring_release(sky__ring *r)
{
    uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    if (t == r->claim)
        return;
    /* The high-water mark, sampled here, once a batch, when the bytes queued are at their
     * local peak (nothing is freed between releases): producers never write it. */
    uint64_t used = atomic_load_explicit(&r->head, memory_order_relaxed) - t;
    if (used > atomic_load_explicit(&r->high_water, memory_order_relaxed))
        atomic_store_explicit(&r->high_water, used, memory_order_relaxed);
    zero_range(r, t, r->claim);
    atomic_store_explicit(&r->tail, r->claim, memory_order_release);
    atomic_store_explicit(&r->limit, r->claim + r->cap, memory_order_release);
}

void sky__ring_reset_after_fork(sky__ring *r)
{
    uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    zero_range(r, t, h);
    r->claim = r->head_seen = h;
    atomic_store_explicit(&r->tail, h, memory_order_relaxed);
    atomic_store_explicit(&r->limit, h + r->cap, memory_order_relaxed);
}

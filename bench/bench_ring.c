/*
 * bench_ring.c - the ring alone: what a producer pays to reserve, fill and commit a 192-byte
 * record. "mpsc" is the ring as built (CAS on head); "spsc" replaces the CAS by a plain store,
 * which is what a per-thread SPSC ring would pay (one producer only). The ring is made big
 * enough (and pre-touched) that it never fills and no consumer runs, so the figure is the
 * producer's own cost, including contention on `head` between producers - not the
 * consumer's speed. Used to choose the ring design (src/queue/ring.c); run by bench/run.sh.
 *
 *   bench_ring <mpsc|spsc> <producers> <records per producer>
 */
#include "common.h"

#include "queue/ring.h"

#include <stdatomic.h>

#define REC 192

static sky__ring ring;
static int spsc;
static _Atomic int done;

static inline char *reserve_spsc(sky__ring *r, uint32_t size)
{
    uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t off = h & r->mask, pad = off + size > r->cap ? r->cap - off : 0;
    uint64_t end = h + pad + size;
    if (end - atomic_load_explicit(&r->tail, memory_order_acquire) > r->cap)
        return NULL;
    atomic_store_explicit(&r->head, end, memory_order_relaxed);
    if (pad) {
        atomic_store_explicit(&((sky__ring_hdr *)(r->buf + off))->commit,
                              (uint32_t)pad | SKY__RING_PAD, memory_order_release);
        off = 0;
    }
    return r->buf + off;
}

static long per;
static double ns_per_rec[16];

static void *producer(void *arg)
{
    long id = (long)arg;
    uint64_t used;
    uint64_t t0 = __rdtsc(), spins = 0;
    for (long i = 0; i < per; i++) {
        char *p;
        while (!(p = spsc ? reserve_spsc(&ring, REC) : sky__ring_reserve(&ring, REC, &used)))
            spins++;
        memset(p + 8, (int)i, REC - 8);
        sky__ring_commit(p, REC);
    }
    ns_per_rec[id] = (double)(__rdtsc() - t0) * bench_ns_per_tick / (double)per;
    (void)spins;
    return NULL;
}

static void *consumer(void *arg)
{
    (void)arg;
    long n = 0;
    uint32_t size;
    for (;;) {
        char *p = sky__ring_peek(&ring, &size);
        if (!p) {
            if (atomic_load(&done) && sky__ring_drained(&ring))
                break;
            continue;
        }
        sky__ring_advance(&ring, size);
        if (++n % 128 == 0)
            sky__ring_release(&ring);
    }
    sky__ring_release(&ring);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    spsc = strcmp(argv[1], "spsc") == 0;
    int producers = atoi(argv[2]);
    per = atol(argv[3]);
    if (spsc && producers != 1)
        return 2;
    bench_calibrate();
    size_t bytes = (size_t)(per * producers + 1024) * REC * 2;
    sky__ring_init(&ring, bytes);
    memset(ring.buf, 0, ring.cap); /* fault the pages in before timing */
    pthread_t p[16];
    for (long i = 0; i < producers; i++)
        pthread_create(&p[i], NULL, producer, (void *)i);
    for (int i = 0; i < producers; i++)
        pthread_join(p[i], NULL);
    atomic_store(&done, 1);
    (void)consumer;
    double sum = 0;
    for (int i = 0; i < producers; i++)
        sum += ns_per_rec[i];
    printf("RING %s %d %.1f\n", argv[1], producers, sum / producers);
    return 0;
}

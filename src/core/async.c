/*
 * async.c - async mode: the caller's side of the log call (copy into the ring), the worker
 * (decode, process, batch, write), overflow policies, gap events, flush, close and fork.
 *
 * The caller takes a raw timestamp (core/clock.h), sizes the record, reserves it in the MPSC
 * ring (queue/ring.c) and copies into it: a 48-byte header, the fields (context, bound, call:
 * whole sky_field structs whose key and string pointers already point at their copies further
 * down the same record) and the bytes of the name, keys and strings. Lazy fields are evaluated
 * here, because their user data may live on the caller's stack. No lock, no malloc, no
 * formatting; the only shared writes are the CAS on the ring's head and the record itself.
 * Counters that every event would bump (emitted, enqueued) are counted by the worker instead,
 * so producers do not fight over a cache line; the caller touches counters only when it drops.
 *
 * The worker decodes a record into an event whose fields point into the record (no copy), runs
 * the processors and the router exactly as the sync path does, and collects each sink's
 * records for a batch of up to BATCH_MAX events; then it calls every sink's write() once with
 * its records and frees the ring space. Each event of a batch keeps its own render cache, so a
 * record's text is the event's render buffer itself: nothing is copied into a batch buffer.
 *
 * Overflow: BLOCK waits for room (the worker is woken) for as long as the worker makes
 * progress, and drops the event only when the worker has freed nothing for block_max_wait_ms
 * (a stuck sink: see reserve_slow); DROP_NEWEST drops it at once; DROP_OLDEST asks the worker
 * to discard the oldest queued events until there is room (only the consumer may touch queued
 * records, which keeps the ring simple and race-free), with the same bound on no progress.
 * Every drop is counted by reason and level; ring losses (overflow, too large) are also kept
 * as "pending gaps", which the worker reports in-band as a skylog.gap event (WARN, logger
 * "skylog", fields dropped and reason) after the next event that gets through, or at a flush.
 *
 * Waking: the idle worker sleeps on a futex for at most IDLE_SLEEP_NS and producers wake it
 * only when the ring is a quarter full (or for flush, close, block and drop-oldest), so a log
 * call normally makes no system call. After DEEP_AFTER_NS without events the worker sleeps
 * DEEP_SLEEP_NS at a time instead (an idle pipeline wakes 10 times a second, not 1000), and
 * then the first log call wakes it: one relaxed load on the caller's path. That load can miss a
 * worker that is just falling asleep (no fence on the hot path); the worker's own timeout
 * bounds the delay that can cause to DEEP_SLEEP_NS. The worker holds the pipeline lock while it processes and
 * hands it over between batches to whoever waits for it (configuration, stats, fork).
 *
 * fork(): the prepare handler takes every pipeline's locks (the worker is then between
 * batches, sinks are consistent); the child resets the ring (the parent delivers what was in
 * it) and starts a fresh worker at its first log call, so the child logs normally, nothing is
 * written twice, and a child that only exec()s creates no thread.
 *
 * Ring spool (sky_options.ring_spool_path, docs/DURABILITY.md): the ring's buffer is a shared
 * mapping of a file (queue/ring_file.c), so a committed record outlives the process. Records
 * that point into the process (site records, the logger, the call site) could not be read by
 * the next one, so a spool pipeline raises the SKY__SPOOLED gate bit for its whole life: the
 * inlined call sites see a nonzero gate and call the library, site_reserve declines, and
 * every call writes a self-contained record (core/ringspool.h) through emit(). The gate costs
 * a pipeline without a spool nothing: it is the test every call already makes. The worker
 * stores the file's `inflight` before a batch goes to the sinks and its `consumer` after every
 * write() returned, before the ring clears the records. Records found at open wait (`held`)
 * until the pipeline is configured: the first log call, flush or close. A forked child's ring
 * becomes private memory (the parent keeps the file).
 */
#include "core/clock.h"
#include "core/pipeline.h"
#include "core/ringspool.h"
#include "queue/ring.h"
#include "util/cond.h"
#include "util/thread.h"

#include <errno.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Events per batch. A batch's lines reach a file in one write(2), and ext4's buffered writes
 * cost less per byte from ~256 KiB a call (dd to this VM's disk, 180 MB: 92 KiB writes 49-60
 * ms, 256 KiB 38 ms, 1 MiB 36 ms). Measured (1 producer, burst, alternating binaries): 512 ->
 * 10.1-11.5 M events/s, 1,536 -> 12.5-13.2 M, 2,048 -> 12.9-13.7 M. A slot is ~400 bytes once
 * used (a 240-byte event and its field array), so 1,536 keep RSS under ring + 4 MiB with room;
 * 2,048 came within 0.2 MiB of it. */
#define BATCH_MAX 1536
/* The batch's text area: 1,536 three-field lines are ~280 KiB, lines of 6-8 fields with
 * strings of up to 200 bytes (bench/workload.h: mix) ~700 KiB; a batch whose lines do not all
 * fit renders the rest into the events' own buffers (re-rendered, and copied again by the
 * file sink: 2,046 -> 1,801 worker instructions an event on the mix once they fit). Touched as
 * used, so short lines cost no more memory. */
#define TEXT_BYTES (1024 * 1024)
#define GAP_SLOTS 3 /* reasons reported by gap events: overflow, too_large, torn spool records */
#define IDLE_SLEEP_NS 1000000
#define DEEP_AFTER_NS 50000000LL
#define DEEP_SLEEP_NS 100000000L
#define SLEEP_DEEP 2 /* `sleeping` value: callers must wake the worker */
#define LAZY_MAX 8
#define LAZY_BUF 256

struct sky__async {
    sky__fast fast; /* must be first: the ring, as call sites see it (skylog.h) */
    uint64_t wake_bytes;
    _Alignas(64) _Atomic uint32_t wake_seq;
    _Atomic int sleeping; /* 0, 1 (a nap: wake past wake_bytes) or SLEEP_DEEP (wake now) */
    _Atomic int stop; /* 1: drain and stop; 2: stop now, count the rest as dropped */
    _Atomic int alive;
    bool joinable; /* `thread` exists in this process */
    _Atomic uint32_t drop_request; /* DROP_OLDEST: bytes a producer needs */
    /* Producers waiting for room sleep on space_seq, which the worker bumps (and wakes them)
     * after it frees ring space, if space_waiters says someone waits. */
    _Alignas(64) _Atomic uint32_t space_seq;
    _Atomic int space_waiters;
    /* A waiting producer found the worker without progress for block_max_wait_ms: the ring's
     * `tail` it saw, + 1 (0: no stall known). Until `tail` moves, callers drop at once. */
    _Atomic uint64_t stalled_at;
    _Atomic int gap_flag;
    _Atomic uint64_t gap_after; /* ring position after the latest loss: report past it */
    _Atomic uint64_t gap_pending[SKY_DROP_REASON_COUNT_];
    _Atomic uint64_t enqueued;

    pthread_t thread;

    /* flush handshake */
    pthread_mutex_t fmu;
    pthread_cond_t fcond;
    _Atomic int flush_pending;
    uint64_t flush_req, flush_done, flush_target;
    int64_t flush_deadline;
    sky_status flush_status;

    /* worker-only */
    sky__clock_conv clock;
    sky_event evs[BATCH_MAX + GAP_SLOTS];
    uint8_t live[BATCH_MAX + GAP_SLOTS]; /* 1: reached the router, accounting pending */
    uint8_t tried[BATCH_MAX + GAP_SLOTS], delivered[BATCH_MAX + GAP_SLOTS];
    sky__batch batch;
    sky__render_room rcache;
    uint64_t unprocessed; /* events of this batch that passed an empty processor chain */
    size_t n_live;        /* events of this batch that reached the router */
    sky__textbuf text;    /* the batch's JSON lines, end to end (sky_event.shared) */

    /* context blocks and bound loggers (under blk_lock) */
    sky__ctxblk *blocks;      /* live: a scope may still log with them */
    sky__ctxblk *pool;        /* free blocks to reuse (ctx_new), linked by `next` */
    _Atomic size_t pool_n;    /* written under blk_lock; read without it as a hint */
    /* every block of this pipeline (live, retired, waiting, pooled) and the text the worker
     * allocated for them, and their bound (CTX_BUDGET_SHARE) */
    sky__budget budget;
    _Atomic uint64_t ctx_copied; /* scope events that copied their fields: budget spent */
    sky__retired *retired;    /* retired since the worker last looked, newest first */
    _Atomic int retire_pending;
    /* worker-only: what retired, oldest first, until `tail` passes its `at` */
    sky__retired *waiting, **waiting_end;

    /* ring spool (sky_options.ring_spool_path; core/ringspool.h): the ring's buffer is the
     * file's data area. NULL without. */
    sky__rfile *rfile;
    sky__rfile_hdr *rhdr;
    sky__rfile_found found; /* what the file held at open */
    /* 1: recovered records wait for the pipeline to be configured (its sinks added): the
     * worker takes nothing until the first log call, flush or close */
    _Atomic int held;
    uint64_t torn_pending; /* torn spool records, reported by a gap event */
    sky__prec_scratch scratch;
    sky_callsite *cs_slots; /* the call site of each batch slot's spool record */
};

/* Guards every pipeline's `blocks`, `pool` and `retired` lists and each block's `owner`: a
 * scope may end on any thread, its pipeline may close meanwhile. Taken twice a scope (at its
 * first event and at its end), by the worker when something retired, and by close; never on
 * a log call. Not a pthread mutex: pthread_mutex_lock and _unlock cost ~65 instructions a
 * pair, 8 a call of the realistic mix; this lock costs a compare-and-swap and an exchange.
 * It is held for a few dozen instructions (a block's fill: at most CTX_POOL_CAP bytes), but
 * its holder may be descheduled there (4 producers on 2 vCPUs): a waiter spins briefly, then
 * sleeps on a futex rather than yield in a loop, which took CPU from the holder and the
 * worker. 0: free; 1: held; 2: held, and someone may sleep on it (U. Drepper, "Futexes Are
 * Tricky", mutex 2). */
static _Atomic int blk_lock;
/* Pipelines closed so far: bumped under blk_lock by each close before it orphans its blocks
 * and frees its pool (sky__async_stop), read under it by a push (sky__async_ctx_push), which
 * so knows that the pipeline its thread remembered is still alive. */
static _Atomic uint64_t close_epoch;
static pthread_once_t blk_once = PTHREAD_ONCE_INIT;
static inline bool blk_try(void)
{
    int c = 0;
    return atomic_compare_exchange_strong_explicit(&blk_lock, &c, 1, memory_order_acquire,
                                                   memory_order_relaxed);
}
static __attribute__((noinline)) void blk_wait(void)
{
    for (int spins = 0; spins < 100; spins++) {
        if (!atomic_load_explicit(&blk_lock, memory_order_relaxed) && blk_try())
            return;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
    while (atomic_exchange_explicit(&blk_lock, 2, memory_order_acquire) != 0)
        syscall(SYS_futex, &blk_lock, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
}
static inline void blk_acquire(void)
{
    if (SKY_UNLIKELY(!blk_try()))
        blk_wait();
}
static inline void blk_unlock(void)
{
    if (SKY_UNLIKELY(atomic_exchange_explicit(&blk_lock, 0, memory_order_release) == 2))
        syscall(SYS_futex, &blk_lock, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}
static void blk_prepare(void) { blk_acquire(); }
static void blk_release(void) { blk_unlock(); }
static void blk_init(void) { pthread_atfork(blk_prepare, blk_release, blk_release); }

/* The record a log call leaves in the ring. Fields follow at offset 48, then the bytes. */
typedef struct rec {
    sky__ring_hdr h; /* h.aux: level */
    uint32_t n;      /* fields */
    uint32_t name_len;
    int64_t ts; /* raw clock */
    const char *logger;
    size_t logger_len;
    const sky_callsite *cs;
} rec;
_Static_assert(sizeof(rec) == 48, "record header layout");
_Static_assert(sizeof(rec) % SKY__RING_ALIGN == 0, "fields must stay aligned");

/* The record of a call that matched its site's schema (site_reserve, or inlined at the
 * call site: sky__fast_reserve): the values follow at offset 40, 8 bytes each (a string's
 * slot holds its length), then the strings' bytes, each NUL-terminated. h.aux: level |
 * REC_SITE. The logger is a registered one, alive as long as the pipeline, or a bound one
 * whose fields the record references (sky_logger.frag); `ctx` the thread's context block, or
 * NULL. Both are freed only once no record can reference them (retired). The context's slot
 * is in every record (8 bytes) rather than a flag and a branch on the inlined path. */
typedef struct srec {
    sky__ring_hdr h;
    int64_t ts; /* raw clock */
    const sky_logger *logger;
    const sky__site *site;
    const sky__ctx_hdr *ctx;
} srec;
_Static_assert(sizeof(srec) == 40 && offsetof(srec, ts) == 8 && offsetof(srec, logger) == 16 &&
                   offsetof(srec, site) == 24 && offsetof(srec, ctx) == 32,
               "site record header layout: sky__fast_reserve in skylog.h writes it too");
#define REC_SITE SKY__REC_SITE
/* What inlined call sites compiled against skylog.h read and write. A change to any of these
 * offsets, or to srec, must come with a new SKY__FAST_ABI value (older call sites then take
 * the library call); this fails to compile until both are updated together. */
_Static_assert(SKY__FAST_ABI == 0x534b5903u && offsetof(sky__fast, state) == 0 &&
                   offsetof(sky__fast, wake_at) == 8 && offsetof(sky__fast, site_max) == 16 &&
                   offsetof(sky__fast, ring) == 64 && offsetof(sky__ring, buf) == 0 &&
                   offsetof(sky__ring, cap) == 8 && offsetof(sky__ring, mask) == 16 &&
                   offsetof(sky__ring, head) == 64 && offsetof(sky__ring, limit) == 136 &&
                   offsetof(struct sky__logger_hdr, fast) == 8 &&
                   offsetof(sky__ctxblk, hdr) == 0 && offsetof(sky__schema, shapes) == 224 &&
                   offsetof(sky__schema, sig) == 288,
               "the inlined call sites' layout changed: give SKY__FAST_ABI a new value");
#define REC_LEVEL(aux) ((sky_level)((aux)&0x7fu))

/* ---- waking --------------------------------------------------------------------------------- */

/* After the worker freed ring space: wakes producers waiting for room. */
static inline void space_freed(sky__async *a)
{
    if (atomic_load(&a->space_waiters)) {
        atomic_fetch_add(&a->space_seq, 1);
        syscall(SYS_futex, &a->space_seq, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
    }
}

static void wake(sky__async *a)
{
    atomic_fetch_add(&a->wake_seq, 1);
    if (atomic_load(&a->sleeping))
        syscall(SYS_futex, &a->wake_seq, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* ---- caller side ---------------------------------------------------------------------------- */

/* Writes a reserved record's header and event name; returns where its strings go (after the
 * nf field slots and the name). */
static inline char *fill_header(char *p, sky_level level, size_t nf, const char *name,
                                size_t name_len, int64_t ts, const sky_logger *log,
                                const sky_callsite *cs)
{
    rec *r = (rec *)p;
    r->h.aux = (uint32_t)level;
    r->n = (uint32_t)nf;
    r->name_len = (uint32_t)name_len;
    r->ts = ts;
    r->logger = log->name;
    r->logger_len = log->name_len;
    r->cs = cs;
    char *s = (char *)((sky_field *)(p + sizeof(rec)) + nf);
    sky__copy_small(s, name, name_len);
    s[name_len] = '\0';
    return s + name_len + 1;
}

/* After a record ending at ring position `end` is committed: wake the worker if it is in its
 * deep sleep, or napping while the ring is past a quarter full (fast.wake_at says which). */
static inline void after_commit(sky__async *a, uint64_t end)
{
    if (SKY_UNLIKELY(end > atomic_load_explicit(&a->fast.wake_at, memory_order_relaxed)))
        wake(a);
}

static inline bool usable(const sky_field *f)
{
    return f->key && f->type != SKY_T_NONE && f->type < SKY_T_COUNT_;
}

static void note_gap(sky__async *a, sky_drop_reason reason, uint64_t after)
{
    uint64_t cur = atomic_load_explicit(&a->gap_after, memory_order_relaxed);
    while (cur < after && !atomic_compare_exchange_weak_explicit(
                              &a->gap_after, &cur, after, memory_order_relaxed,
                              memory_order_relaxed))
        ;
    atomic_fetch_add_explicit(&a->gap_pending[reason], 1, memory_order_relaxed);
    atomic_store_explicit(&a->gap_flag, 1, memory_order_release);
}

__attribute__((noinline)) static void drop_at_caller(sky_t *sky, sky_drop_reason reason,
                                                     sky_level level)
{
    atomic_fetch_add_explicit(&sky->emitted, 1, memory_order_relaxed);
    sky__count_drop(sky, reason, level, 1);
    if (reason == SKY_DROP_OVERFLOW || reason == SKY_DROP_TOO_LARGE)
        note_gap(sky->async, reason,
                 atomic_load_explicit(&sky->async->fast.ring.head, memory_order_relaxed));
}

static bool start_worker(sky_t *sky);

/* sky->closing has a copy that inlined call sites read (the high half of fast.state): both
 * change together, by the same commutative operations, so they always end up equal. */
void sky__closing_or(sky_t *sky, int bits)
{
    atomic_fetch_or_explicit(&sky->closing, bits, memory_order_release);
    if (sky->async)
        atomic_fetch_or_explicit(&sky->async->fast.state, (uint64_t)(unsigned)bits << 32,
                                 memory_order_release);
}

static void closing_clear(sky_t *sky, int bits)
{
    atomic_fetch_and(&sky->closing, ~bits);
    atomic_fetch_and(&sky->async->fast.state, ~((uint64_t)(unsigned)bits << 32));
}

void sky__async_logger_init(sky_t *sky, sky_logger *l)
{
    sky__async *a = sky->async;
    /* A bound logger's fields are referenced, not copied, by site records: only if none is
     * lazy (evaluated per event). like site_reserve's own test. */
    bool ok = a != NULL;
    for (size_t i = 0; ok && i < l->n_fields; i++)
        ok = l->fields[i].type != SKY_T_LAZY;
    l->hdr.fast = ok ? &a->fast : NULL;
    if (ok && l->n_fields) {
        l->frag = (sky__frag){.fields = l->fields, .n = l->n_fields};
        l->bfrag = &l->frag;
    }
}

/* A log call that found sky->closing set: closing (the event is dropped), or a forked child's
 * first call, which starts the worker. True when the event may go on. */
__attribute__((noinline)) static bool pass_gate(sky_t *sky, int gate, sky_level level)
{
    sky__async *a = sky->async;
    if (!(gate & (SKY__CLOSING | SKY__NO_WORKER)))
        return true; /* only SKY__SPOOLED: the caller writes a spool record */
    if (!(gate & SKY__CLOSING)) {
        pthread_mutex_lock(&a->fmu);
        bool started = true;
        if (atomic_load(&sky->closing) & SKY__NO_WORKER) {
            started = start_worker(sky);
            if (started)
                closing_clear(sky, SKY__NO_WORKER);
        }
        gate = atomic_load(&sky->closing);
        pthread_mutex_unlock(&a->fmu);
        if (!started)
            sky__diag(sky, SKY_LEVEL_ERROR, "fork: cannot start the worker in the child; "
                                            "events are dropped until it starts");
        if (started && !(gate & SKY__CLOSING))
            return true;
    }
    drop_at_caller(sky, SKY_DROP_CLOSED, level);
    return false;
}

/* Resolves lazy field number k (in encounter order) into lv[k], using buf[k]. */
typedef struct lazy_vals {
    sky_field v[LAZY_MAX];
    char buf[LAZY_MAX][LAZY_BUF];
    size_t n;
} lazy_vals;

static void resolve_lazies(lazy_vals *lz, const sky_field *fs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (fs[i].type != SKY_T_LAZY || !usable(&fs[i]))
            continue;
        if (lz->n == LAZY_MAX) {
            lz->n++; /* beyond the limit: null */
            continue;
        }
        size_t k = lz->n++;
        lz->buf[k][0] = '\0';
        sky_field v = fs[i].v.lazy.fn(fs[i].v.lazy.user, lz->buf[k], LAZY_BUF);
        if (v.type == SKY_T_LAZY || v.type >= SKY_T_COUNT_ || v.type == SKY_T_NONE ||
            ((v.type == SKY_T_STR || v.type == SKY_T_JSON) && !v.v.str.ptr))
            v.type = SKY_T_NULL;
        lz->v[k] = v;
    }
}

/* The value a field contributes: itself, or its resolved lazy value. */
static inline const sky_field *value_of(const sky_field *f, const lazy_vals *lz, size_t *lk)
{
    if (SKY_UNLIKELY(f->type == SKY_T_LAZY)) {
        size_t k = (*lk)++;
        static const sky_field null_v = {.type = SKY_T_NULL};
        return lz && k < LAZY_MAX ? &lz->v[k] : &null_v;
    }
    return f;
}

static inline size_t value_bytes(const sky_field *v)
{
    return v->type == SKY_T_STR || v->type == SKY_T_JSON ? v->v.str.len + 1 : 0;
}

static inline void size_fields(const sky_field *fs, size_t n, const lazy_vals *lz, size_t *lk,
                               size_t *nf, size_t *bytes, bool *lazy)
{
    for (size_t i = 0; i < n; i++) {
        const sky_field *f = &fs[i];
        if (!usable(f))
            continue;
        if (f->type == SKY_T_LAZY)
            *lazy = true;
        (*nf)++;
        *bytes += f->key_len + 1 + value_bytes(value_of(f, lz, lk));
    }
}

static inline char *put_fields(sky_field *dst, size_t *w, const sky_field *fs, size_t n,
                               const lazy_vals *lz, size_t *lk, char *s)
{
    for (size_t i = 0; i < n; i++) {
        const sky_field *f = &fs[i];
        if (!usable(f))
            continue;
        const sky_field *v = value_of(f, lz, lk);
        sky_field *d = &dst[(*w)++];
        d->type = v->type;
        d->v = v->v;
        sky__copy_small(s, f->key, f->key_len);
        s[f->key_len] = '\0';
        d->key = s;
        d->key_len = f->key_len;
        s += f->key_len + 1;
        if (v->type == SKY_T_STR || v->type == SKY_T_JSON) {
            size_t l = v->v.str.len;
            sky__copy_small(s, v->v.str.ptr, l);
            s[l] = '\0';
            d->v.str.ptr = s;
            s += l + 1;
        }
    }
    return s;
}

/* ---- context blocks and bound loggers: made once, freed once no record references them ------ */

void sky__frag_free(sky__frag *f)
{
    if (f->json_own) {
        if (f->budget)
            sky__budget_give(f->budget, f->json_cap);
        free(f->json);
    }
    f->json = NULL;
    f->json_cap = 0;
    f->json_own = 0;
    f->json_state = 0;
}

static inline size_t block_bytes(const sky__ctxblk *b) { return sizeof *b + b->cap; }

/* Blocks of the minimum size made CTX_SLAB at a time, in one allocation, once a pipeline has
 * CTX_SLAB blocks or more (scopes in flight): the first serves the scope that made them, the
 * others go to the pool. Each is a block as any other (pooled, taken, retired, freed one by
 * one, counted in the budget one by one); the allocation is freed with its last block. Under
 * valgrind a producer runs ~900 scopes ahead of the worker's first reclaim in the mix, and
 * each of those made its block alone: ~190 instructions of malloc() and ~75 of block_need a
 * block, ~3 a mix event. A program with a scope or two at a time never reaches CTX_SLAB
 * blocks and makes them one by one, as before. What a slab may keep after its blocks are
 * freed (a forked child freeing other threads' blocks, a pooled block too small for a scope)
 * is at most CTX_SLAB - 1 blocks' bytes while one of its blocks lives. */
#define CTX_SLAB 16
typedef struct sky__ctxslab {
    _Atomic size_t refs; /* its blocks not freed yet */
    size_t pad;          /* the blocks after it 16-byte aligned, as malloc's */
} sky__ctxslab;
#define CTX_STRIDE ((sizeof(sky__ctxblk) + CTX_MIN_CAP + 15) & ~(size_t)15)

static void free_block(sky__retired *r)
{
    sky__ctxblk *b = (sky__ctxblk *)((char *)r - offsetof(sky__ctxblk, ret));
    sky__frag_free(&b->frag);
    if (b->frag.budget)
        sky__budget_give(b->frag.budget, block_bytes(b));
    sky__ctxslab *s = b->slab;
    if (!s)
        free(b);
    else if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
        free(s);
}

static void free_bound(sky__retired *r)
{
    sky_logger *l = (sky_logger *)((char *)r - offsetof(sky_logger, ret));
    sky__frag_free(&l->frag);
    free(l->fields);
    free(l);
}

/* Context blocks: what a pipeline's blocks may hold in all, from its ring's size (a quarter
 * of it, at least CTX_BUDGET_MIN): each record of a scope references the scope's block, so
 * with a scope per event the blocks in flight grow with the records queued, ~400 bytes a
 * two-field scope against its record's ~80 (RSS of bench `scope`, 4 producers: 52-67 MiB
 * over a 4 MiB ring unbounded). Past the bound, a scope's events carry a copy of it in their
 * records (site_reserve: ctx_copy; the ring then bounds them, and the overflow policy
 * applies as to any event) until blocks are reclaimed: sky_stats.context_copied counts them.
 * A scope whose block alone is over 1/CTX_HUGE_SHARE of the bound is made regardless (and
 * counted): copied per event it would crowd the ring, or pass its largest record. */
#define CTX_BUDGET_SHARE 4
#define CTX_BUDGET_MIN (64u << 10)
#define CTX_HUGE_SHARE 2
/* Blocks are made with at least this much room after their header (fields, their bytes, the
 * JSON text), so that a pooled block fits the usual next scope (two fields with 40-byte
 * values: ~210 bytes), and pooled up to this size. The pool keeps what the scopes in flight
 * used at their peak, within the budget (malloc would keep it in its free lists as well);
 * a pooled block too small for a scope is freed rather than left at the pool's head. */
#define CTX_MIN_CAP 256
#define CTX_POOL_CAP 4096
_Static_assert(CTX_STRIDE % 16 == 0 && sizeof(sky__ctxslab) == 16, "slab blocks stay aligned");

/* The worker's own state of a fragment (sky__frag: its JSON's state, key set and the answers
 * of frags_check), as a block starts it: reset by the worker when it pools the block, so the
 * scope that takes it only writes the fields. Text that did not fit the block's room is
 * freed: the next scope's fill gives the JSON the room left after its own fields. */
static inline void frag_reset_worker(sky__frag *f)
{
    sky__frag_free(f);
    f->json_len = 0;
    f->key_bits = 0;
    f->chk_ok = f->chk_next = 0;
    memset(f->chk_sc, 0, sizeof f->chk_sc);
}

/* Under blk_lock: b, free, to its pipeline's pool. */
static inline void pool_put(sky__async *a, sky__ctxblk *b)
{
    b->next = a->pool;
    a->pool = b;
    atomic_store_explicit(&a->pool_n, atomic_load_explicit(&a->pool_n, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/* Worker, under blk_lock: keeps a reclaimed block for the next scope (false: free it). No record
 * references it any more; its worker-side state is the worker's to reset. */
static bool pool_block(sky__async *a, sky__retired *r)
{
    sky__ctxblk *b = (sky__ctxblk *)((char *)r - offsetof(sky__ctxblk, ret));
    if (b->cap > CTX_POOL_CAP)
        return false;
    frag_reset_worker(&b->frag);
    pool_put(a, b);
    return true;
}

/* Under blk_lock: after every record reserved so far. Under one lock, every pipeline's `at`
 * only grows along its `retired` list (newest first), which reclaim relies on. */
static void retire_locked(sky__async *a, sky__retired *r, void (*fn)(sky__retired *))
{
    r->at = atomic_load_explicit(&a->fast.ring.head, memory_order_acquire);
    r->free_fn = fn;
    r->next = a->retired;
    a->retired = r;
    atomic_store_explicit(&a->retire_pending, 1, memory_order_release);
}

/* A block's fields: the usable fields of the frames, merged outer to inner, a later key
 * winning at its own position (as sky__event_build). One pass: each field is copied whole,
 * then its key and string bytes by word moves without a call (skylog.h: sky__copy_str); the
 * field array has a slot for each of the frames' `total` fields and the bytes follow it. The
 * worker's state of a pooled block was reset when it was pooled, a new one's when it was
 * made. FILL_LAZY, with nothing to undo, if a lazy field is found (the push does not look:
 * the scope then never gets a block), FILL_ROOM if the bytes do not fit the block's capacity
 * (the caller then measures). A
 * two-field scope fills in ~100 instructions (sized, then filled by put_fields' copies and a
 * memcpy call for values over 16 bytes: ~250). */
__attribute__((noinline)) static size_t dedup_fields(sky_field *dst, size_t w)
{
    size_t k = 0;
    for (size_t i = 0; i < w; i++) {
        size_t j = i + 1;
        while (j < w && (dst[j].key_len != dst[i].key_len ||
                         memcmp(dst[j].key, dst[i].key, dst[i].key_len) != 0))
            j++;
        if (j == w)
            dst[k++] = dst[i];
    }
    return k;
}

enum { FILL_OK, FILL_ROOM, FILL_LAZY };
/* One frame's usable fields after the w already in dst, their bytes at *sp (before end). */
__attribute__((always_inline)) static inline int fill_frame(sky_field *dst, size_t *wp, char **sp,
                                                            char *end, const sky_field *f,
                                                            size_t n)
{
    size_t w = *wp;
    char *s = *sp;
    for (const sky_field *fe = f + n; f < fe; f++) {
        /* a key and a type from SKY_T_NONE + 1 to SKY_T_LAZY - 1 */
        if (SKY_UNLIKELY((unsigned)f->type - 1u >= (unsigned)SKY_T_LAZY - 1u || !f->key)) {
            if (f->type == SKY_T_LAZY && f->key)
                return FILL_LAZY;
            continue; /* not usable: skipped, as everywhere */
        }
        size_t kl = f->key_len, room = (size_t)(end - s);
        if (SKY_UNLIKELY(kl >= room))
            return FILL_ROOM;
        sky_field *o = &dst[w++];
        *o = *f;
        sky__copy_str(s, f->key, kl);
        s[kl] = '\0';
        o->key = s;
        s += kl + 1;
        if (f->type == SKY_T_STR || f->type == SKY_T_JSON) {
            size_t l = f->v.str.len;
            if (SKY_UNLIKELY(l >= room - kl - 1))
                return FILL_ROOM;
            sky__copy_str(s, f->v.str.ptr, l);
            s[l] = '\0';
            o->v.str.ptr = s;
            s += l + 1;
        }
    }
    *wp = w;
    *sp = s;
    return FILL_OK;
}

__attribute__((always_inline)) static inline int
fill_block(sky__ctxblk *b, sky__async *a, const sky_field *const *frames, const size_t *counts,
           size_t depth, size_t total)
{
    sky_field *dst = (sky_field *)(b + 1);
    char *s = (char *)(dst + total), *end = (char *)(b + 1) + b->cap;
    if (s > end)
        return FILL_ROOM;
    size_t w = 0;
    /* one frame (a scope not nested) apart: its loop keeps fewer values live */
    if (SKY_LIKELY(depth == 1)) {
        int r = fill_frame(dst, &w, &s, end, frames[0], counts[0]);
        if (r != FILL_OK)
            return r;
    } else {
        for (size_t d = 0; d < depth; d++) {
            int r = fill_frame(dst, &w, &s, end, frames[d], counts[d]);
            if (r != FILL_OK)
                return r;
        }
    }
    /* de-duplicate: drop a field whose key a later one repeats (the usual two fields: one
     * length compare here) */
    size_t k = w;
    if (SKY_UNLIKELY(w > 2))
        k = dedup_fields(dst, w);
    else if (w == 2 && dst[0].key_len == dst[1].key_len &&
             memcmp(dst[0].key, dst[1].key, dst[0].key_len) == 0)
        dst[0] = dst[1], k = 1;
    b->frag.fields = dst;
    b->frag.n = k;
    /* the worker's JSON goes in the room left (sky__frag_render), or its own allocation */
    b->frag.json = s;
    b->frag.json_cap = (uint32_t)((size_t)(end - s) < UINT32_MAX ? (size_t)(end - s) : UINT32_MAX);
    b->frag.budget = &a->budget;
    b->owner = a;
    return FILL_OK;
}

/* The room a scope's block needs after its header: its field slots, their keys and strings,
 * and its JSON text as the worker will likely write it (`,"key":"value"`, numbers up to 32
 * bytes, 16 readable bytes after; escapes may need more: the worker then allocates it). 0
 * when a field is lazy. */
static size_t block_need(const sky_field *const *frames, const size_t *counts, size_t depth,
                         size_t total)
{
    size_t bytes = 16;
    for (size_t d = 0; d < depth; d++)
        for (size_t i = 0; i < counts[d]; i++) {
            const sky_field *f = &frames[d][i];
            if (!usable(f))
                continue;
            if (f->type == SKY_T_LAZY)
                return 0;
            size_t v = value_bytes(f);
            bytes += 2 * (f->key_len + (size_t)1 + v) + 8 + (v ? 0 : 32);
        }
    return total * sizeof(sky_field) + bytes;
}

/* Under blk_lock: b, filled, joins its pipeline's live blocks; from here on the scope's call
 * sites reference it (hdr.q). */
static inline void link_block(sky__async *a, sky__ctxblk *b)
{
    b->prev = NULL;
    b->next = a->blocks;
    if (b->next)
        b->next->prev = b;
    a->blocks = b;
    atomic_store_explicit(&b->hdr.q, &a->fast, memory_order_relaxed);
}

/* CTX_SLAB blocks of the minimum size in one allocation, within the budget: the first
 * returned (to be filled and linked), the others pooled. NULL: no room or no memory. */
static sky__ctxblk *ctx_slab(sky__async *a)
{
    if (!sky__budget_take(&a->budget, CTX_SLAB * CTX_STRIDE, false))
        return NULL;
    sky__ctxslab *s = malloc(sizeof *s + CTX_SLAB * CTX_STRIDE);
    if (!s) {
        sky__budget_give(&a->budget, CTX_SLAB * CTX_STRIDE);
        return NULL;
    }
    atomic_init(&s->refs, CTX_SLAB);
    s->pad = 0;
    sky__ctxblk *b[CTX_SLAB];
    for (size_t k = 0; k < CTX_SLAB; k++) {
        b[k] = (sky__ctxblk *)(void *)((char *)(s + 1) + k * CTX_STRIDE);
        memset(b[k], 0, sizeof *b[k]);
        b[k]->cap = CTX_STRIDE - sizeof(sky__ctxblk); /* CTX_MIN_CAP or a little more */
        b[k]->slab = s;
        b[k]->frag.budget = &a->budget; /* given back by free_block, filled or not */
    }
    blk_acquire();
    for (size_t k = 1; k < CTX_SLAB; k++)
        pool_put(a, b[k]);
    blk_unlock();
    return b[0];
}

/* No pooled block, or one too small for these fields: one made to measure, within the
 * pipeline's budget (CTX_BUDGET_SHARE). Out of line: the pooled path is the usual one. */
static __attribute__((noinline)) sky__ctxblk *ctx_made(sky__async *a,
                                                       const sky_field *const *frames,
                                                       const size_t *counts, size_t depth,
                                                       size_t total)
{
    size_t need = block_need(frames, counts, depth, total);
    if (!need)
        return SKY__CTXBLK_LAZY;
    size_t cap = need > CTX_MIN_CAP ? need : CTX_MIN_CAP;
    sky__ctxblk *b;
    if (cap == CTX_MIN_CAP &&
        atomic_load_explicit(&a->budget.used, memory_order_relaxed) >= CTX_SLAB * CTX_STRIDE &&
        (b = ctx_slab(a)) != NULL) {
        if (fill_block(b, a, frames, counts, depth, total) == FILL_OK) {
            blk_acquire();
            link_block(a, b);
            blk_unlock();
            return b;
        }
        blk_acquire(); /* cannot happen (block_need measured these fields): pooled */
        pool_put(a, b);
        blk_unlock();
        return NULL;
    }
    if (!sky__budget_take(&a->budget, sizeof *b + cap,
                          sizeof *b + cap > a->budget.limit / CTX_HUGE_SHARE)) {
        atomic_fetch_add_explicit(&a->ctx_copied, 1, memory_order_relaxed);
        return NULL;
    }
    b = malloc(sizeof *b + cap);
    if (!b) {
        sky__budget_give(&a->budget, sizeof *b + cap);
        return NULL;
    }
    memset(b, 0, sizeof *b);
    b->cap = cap;
    if (fill_block(b, a, frames, counts, depth, total) != FILL_OK) {
        sky__budget_give(&a->budget, sizeof *b + cap);
        free(b);
        return NULL;
    }
    blk_acquire();
    link_block(a, b);
    blk_unlock();
    return b;
}

/* Under blk_lock: the pool's head filled with the frames' fields and linked; or
 * SKY__CTXBLK_LAZY (a lazy field: the block back in the pool, the scope gets none); or NULL:
 * the pool empty, or its head too small for these fields (*small: taken out, for the caller
 * to free after the unlock). */
__attribute__((always_inline)) static inline sky__ctxblk *
pool_fill(sky__async *a, const sky_field *const *frames, const size_t *counts, size_t depth,
          size_t total, sky__ctxblk **small)
{
    sky__ctxblk *b = a->pool;
    if (SKY_UNLIKELY(!b))
        return NULL;
    a->pool = b->next;
    atomic_store_explicit(&a->pool_n, atomic_load_explicit(&a->pool_n, memory_order_relaxed) - 1,
                          memory_order_relaxed);
    int fr = fill_block(b, a, frames, counts, depth, total);
    if (SKY_LIKELY(fr == FILL_OK)) {
        link_block(a, b);
        return b;
    }
    if (fr == FILL_LAZY) {
        pool_put(a, b);
        return SKY__CTXBLK_LAZY;
    }
    *small = b;
    return NULL;
}

/* A new block for the pipeline, from the context's frames: NULL when out of memory or past the
 * blocks' bound (the event copies the context), or SKY__CTXBLK_LAZY when a field is lazy.
 * Inlined into its one caller, the scope's first event (context_block below). */
static inline sky__ctxblk *ctx_new(sky_t *sky, const sky_field *const *frames, const size_t *counts,
                                   size_t depth)
{
    sky__async *a = sky->async;
    size_t total = 0;
    for (size_t d = 0; d < depth; d++)
        total += counts[d];
    /* A block the worker reclaimed: a scope then costs no malloc here and no free on the
     * worker. It is filled under the lock that links it (one lock a scope; pooled blocks hold
     * at most CTX_POOL_CAP bytes, so the copy under it is bounded). One too small for these
     * fields leaves the pool (freed below): left at its head it would turn every scope of
     * this size away from the pool. */
    if (atomic_load_explicit(&a->pool_n, memory_order_relaxed)) {
        sky__ctxblk *small = NULL;
        blk_acquire();
        sky__ctxblk *b = pool_fill(a, frames, counts, depth, total, &small);
        blk_unlock();
        if (b)
            return b;
        if (small)
            free_block(&small->ret);
    }
    return ctx_made(a, frames, counts, depth, total);
}

/* The calling thread's context block for the pipeline `sky`, made at the scope's first event;
 * NULL: the call copies the context on the general path. */
static inline const sky__ctxblk *context_block(sky_t *sky)
{
    size_t d = sky__ctx_depth;
    if (!d)
        return NULL;
    sky__ctxblk *b = sky__ctx.blk[d - 1];
    if (b == SKY__CTXBLK_LAZY)
        return NULL;
    if (b) {
        if (SKY_LIKELY(atomic_load_explicit(&b->hdr.q, memory_order_relaxed) ==
                       (sky__fast *)(void *)sky->async)) /* its first member */
            return b;
        /* made for another pipeline (or one that closed): the general path. This pipeline
         * becomes the thread's home, so the next push makes its block for it: a thread whose
         * scopes log to this one does not copy every scope after a block made for another */
        sky__ctx.home = sky->async;
        sky__ctx.home_epoch = atomic_load_explicit(&close_epoch, memory_order_relaxed);
        return NULL;
    }
    b = ctx_new(sky, sky__ctx.fields, sky__ctx.counts, d);
    if (SKY_UNLIKELY(b == SKY__CTXBLK_LAZY)) { /* a lazy field, found by the fill */
        sky__ctx.blk[d - 1] = SKY__CTXBLK_LAZY;
        return NULL;
    }
    if (!b)
        return NULL; /* out of memory or past the bound: try next time */
    if (SKY_UNLIKELY(!sky__ctx.armed))
        sky__context_arm();
    sky__ctx.blk[d - 1] = b;
    sky__ctx_cur = &b->hdr; /* d is the top */
    if (SKY_UNLIKELY(sky__ctx.home != sky->async)) {
        /* the pipeline is alive here (this thread logs to it): the count read now is one
         * its close has not passed yet */
        sky__ctx.home = sky->async;
        sky__ctx.home_epoch = atomic_load_explicit(&close_epoch, memory_order_relaxed);
    }
    return b;
}

void sky__async_ctx_push(size_t d)
{
    sky__async *a = sky__ctx.home;
    size_t total = 0;
    for (size_t k = 0; k < d; k++)
        total += sky__ctx.counts[k];
    blk_acquire();
    /* Under the lock that close takes to bump the count before it frees anything: an
     * unchanged count means `a` is still alive until the unlock. */
    if (SKY_UNLIKELY(atomic_load_explicit(&close_epoch, memory_order_relaxed) !=
                     sky__ctx.home_epoch)) {
        blk_unlock();
        sky__ctx.home = NULL;
        return;
    }
    sky__ctxblk *small = NULL;
    sky__ctxblk *b = pool_fill(a, sky__ctx.fields, sky__ctx.counts, d, total, &small);
    blk_unlock();
    if (b == SKY__CTXBLK_LAZY) { /* never a block, as at a first event */
        sky__ctx.blk[d - 1] = SKY__CTXBLK_LAZY;
    } else if (b) {
        sky__ctx.blk[d - 1] = b;
        sky__ctx_cur = &b->hdr;
    } else if (small) { /* freed: the first event makes one to measure */
        free_block(&small->ret);
    }
}
/* Under blk_lock (or in a forked child): takes b off its pipeline's live list. */
static void unlink_block(sky__async *a, sky__ctxblk *b)
{
    if (b->prev)
        b->prev->next = b->next;
    else
        a->blocks = b->next;
    if (b->next)
        b->next->prev = b->prev;
}

void sky__async_ctx_retire(sky__ctxblk *b)
{
    blk_acquire();
    sky__async *a = b->owner;
    if (a) {
        unlink_block(a, b);
        retire_locked(a, &b->ret, free_block);
    }
    blk_unlock();
    if (!a) /* its pipeline closed: nothing references it */
        free_block(&b->ret);
}

bool sky__async_logger_retire(sky_logger *log)
{
    sky__async *a = log->sky->async;
    if (!a || !log->hdr.fast)
        return false; /* its records hold copies of its fields */
    blk_acquire();
    retire_locked(a, &log->ret, free_bound);
    blk_unlock();
    return true;
}

/* Worker, after freeing ring space: frees (or pools) what no record can reference any more.
 * What retired waits in the worker's own queue, oldest first (`at` grows along it): each
 * call looks at the new retirees and at the waiting ones the ring's tail has passed, not at
 * every one still waiting (under valgrind a producer runs hundreds of scopes ahead). The
 * worker holds the pipeline lock, and fork takes blk_lock before the pipelines' locks: it
 * only tries blk_lock (the next batch tries again). `all`: the worker has stopped. */
static void reclaim(sky__async *a, bool all)
{
    uint64_t tail = atomic_load_explicit(&a->fast.ring.tail, memory_order_relaxed);
    bool fresh = atomic_load_explicit(&a->retire_pending, memory_order_acquire);
    if (!fresh && !all && (!a->waiting || a->waiting->at > tail))
        return;
    if (all)
        blk_acquire();
    else if (!blk_try())
        return;
    if (fresh) {
        atomic_store_explicit(&a->retire_pending, 0, memory_order_relaxed);
        /* the new retirees, newest first: reversed onto the queue's end */
        sky__retired *r = a->retired, *newest = r, *rev = NULL;
        a->retired = NULL;
        while (r) {
            sky__retired *next = r->next;
            r->next = rev;
            rev = r;
            r = next;
        }
        if (rev) {
            *a->waiting_end = rev;
            a->waiting_end = &newest->next;
        }
    }
    sky__retired *done = NULL;
    while (a->waiting && (all || a->waiting->at <= tail)) {
        sky__retired *r = a->waiting;
        a->waiting = r->next;
        if (!all && r->free_fn == free_block && pool_block(a, r))
            continue;
        r->next = done;
        done = r;
    }
    if (!a->waiting)
        a->waiting_end = &a->waiting;
    blk_unlock();
    while (done) {
        sky__retired *next = done->next;
        done->free_fn(done);
        done = next;
    }
}

/* Waits for room according to the overflow policy; NULL means the event was dropped.
 *
 * BLOCK (and DROP_OLDEST, whose room the worker makes) waits as long as the worker makes
 * progress - frees ring space, which it does after every batch - however long that takes in
 * all: a worker that is slow, or descheduled on a loaded machine, costs no event. Only a
 * worker that frees nothing for block_max_wait_ms (a sink stuck in write(), a producer that
 * died between reservation and commit) makes the caller drop, counted; the stall is then
 * remembered with the ring's tail, and later callers drop at once, without waiting, until
 * the worker moves again. */
__attribute__((noinline)) static char *reserve_slow(sky_t *sky, sky_level level, uint32_t size,
                                                    uint64_t *end)
{
    sky__async *a = sky->async;
    sky__ring *r = &a->fast.ring;
    sky_overflow pol = sky->opts.overflow;
    if (pol == SKY_OVERFLOW_DROP_NEWEST) {
        drop_at_caller(sky, SKY_DROP_OVERFLOW, level);
        return NULL;
    }
    uint64_t seen = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (atomic_load_explicit(&a->stalled_at, memory_order_relaxed) == seen + 1) {
        char *p = sky__ring_reserve(r, size, end);
        if (p)
            return p;
        drop_at_caller(sky, SKY_DROP_OVERFLOW, level);
        return NULL;
    }
    const int64_t bound = sky->opts.block_max_wait_ms * 1000000;
    int64_t deadline = sky_monotonic_ns() + bound;
    for (unsigned spins = 0;; spins++) {
        if (pol == SKY_OVERFLOW_DROP_OLDEST) {
            uint32_t cur = atomic_load_explicit(&a->drop_request, memory_order_relaxed);
            if (cur < size)
                atomic_store_explicit(&a->drop_request, size, memory_order_relaxed);
        }
        wake(a);
        if (spins < 8) {
            sched_yield();
        } else {
            uint64_t t = atomic_load_explicit(&r->tail, memory_order_acquire);
            int64_t now = sky_monotonic_ns();
            if (t != seen) { /* progress: the bound starts again */
                seen = t;
                deadline = now + bound;
            } else if (now > deadline) {
                break;
            }
            /* Sleep until the worker frees space (or 1 ms: the checks above run again), rather
             * than poll: polling producers took the CPU the worker needed on a loaded machine.
             * The count first, then the sequence, then one more try: a release after the try
             * finds the count and changes the sequence, so the wait returns at once. */
            atomic_fetch_add(&a->space_waiters, 1);
            uint32_t seq = atomic_load(&a->space_seq);
            char *p = sky__ring_reserve(r, size, end);
            if (!p) {
                struct timespec ts = {0, 1000000};
                syscall(SYS_futex, &a->space_seq, FUTEX_WAIT_PRIVATE, seq, &ts, NULL, 0);
            }
            atomic_fetch_sub(&a->space_waiters, 1);
            if (p)
                return p;
        }
        if (atomic_load_explicit(&sky->closing, memory_order_acquire) & SKY__CLOSING) {
            drop_at_caller(sky, SKY_DROP_CLOSED, level);
            return NULL;
        }
        char *p = sky__ring_reserve(r, size, end);
        if (p)
            return p;
    }
    atomic_store_explicit(&a->stalled_at, seen + 1, memory_order_relaxed);
    drop_at_caller(sky, SKY_DROP_OVERFLOW, level);
    return NULL;
}

/* `spool`: a self-contained record (core/ringspool.h) with `ts` in wall-clock nanoseconds. */
__attribute__((noinline)) static void emit(sky_t *sky, const sky_logger *log, sky_level level,
                                           const char *name, const sky_callsite *cs,
                                           const sky_field *fields, size_t n, int64_t ts,
                                           const lazy_vals *lz, bool spool)
{
    sky__async *a = sky->async;
    const sky_field *const *frames;
    const size_t *counts;
    size_t depth = sky__context_frames(&frames, &counts);
    size_t name_len = strlen(name);

    size_t nf = 0, bytes = name_len + 1, lk = 0;
    bool lazy = false;
    for (size_t d = 0; d < depth; d++)
        size_fields(frames[d], counts[d], lz, &lk, &nf, &bytes, &lazy);
    size_fields(log->fields, log->n_fields, lz, &lk, &nf, &bytes, &lazy);
    size_fields(fields, n, lz, &lk, &nf, &bytes, &lazy);
    if (SKY_UNLIKELY(lazy && !lz)) {
        /* Rare: evaluate lazy fields into this frame, then size again with their values. */
        lazy_vals lv;
        lv.n = 0;
        for (size_t d = 0; d < depth; d++)
            resolve_lazies(&lv, frames[d], counts[d]);
        resolve_lazies(&lv, log->fields, log->n_fields);
        resolve_lazies(&lv, fields, n);
        emit(sky, log, level, name, cs, fields, n, ts, &lv, spool);
        return;
    }

    size_t hdr = sizeof(rec), cs_lens[2];
    if (spool) {
        hdr = sizeof(sky__prec);
        bytes += sky__prec_extra(log, cs, cs_lens);
    }
    size_t size = hdr + nf * sizeof(sky_field) + bytes;
    size = (size + SKY__RING_ALIGN - 1) & ~(size_t)(SKY__RING_ALIGN - 1);
    if (SKY_UNLIKELY(size > sky__ring_max_record(&a->fast.ring))) {
        drop_at_caller(sky, SKY_DROP_TOO_LARGE, level);
        return;
    }
    uint64_t end;
    char *p = sky__ring_reserve(&a->fast.ring, (uint32_t)size, &end);
    if (SKY_UNLIKELY(!p)) {
        p = reserve_slow(sky, level, (uint32_t)size, &end);
        if (!p)
            return;
    }
    sky_field *dst = (sky_field *)(p + hdr);
    char *s = spool ? sky__prec_fill(p, level, nf, name, name_len, ts, log, cs, cs_lens)
                    : fill_header(p, level, nf, name, name_len, ts, log, cs);
    size_t w = 0;
    lk = 0;
    for (size_t d = 0; d < depth; d++)
        s = put_fields(dst, &w, frames[d], counts[d], lz, &lk, s);
    s = put_fields(dst, &w, log->fields, log->n_fields, lz, &lk, s);
    put_fields(dst, &w, fields, n, lz, &lk, s);
    if (spool)
        sky__rfile_seal(p, (uint32_t)size, end - size);
    sky__ring_commit(p, (uint32_t)size);
    after_commit(a, end);
}

/* Copies fields the plain path vetted (all usable, none lazy) into the record: no checks. */
static inline void put_plain(sky_field *d, const sky_field *fs, size_t n, char *s)
{
    for (size_t i = 0; i < n; i++, d++) {
        const sky_field *f = &fs[i];
        uint32_t kl = f->key_len;
        d->type = f->type;
        d->v = f->v;
        sky__copy_small(s, f->key, kl);
        s[kl] = '\0';
        d->key = s;
        d->key_len = kl;
        s += kl + 1;
        if (f->type == SKY_T_STR || f->type == SKY_T_JSON) {
            size_t l = f->v.str.len;
            sky__copy_small(s, f->v.str.ptr, l);
            s[l] = '\0';
            d->v.str.ptr = s;
            s += l + 1;
        }
    }
}

/* The common call: no context, no bound fields, every field usable and none lazy. Same record
 * as emit(), with the general machinery (frames, lazy values, skipped slots) compiled out; any
 * other call goes to emit(). */
static inline bool emit_plain(sky_t *sky, const sky_logger *log, sky_level level,
                              const char *name, const sky_callsite *cs, const sky_field *fields,
                              size_t n, int64_t ts)
{
    sky__async *a = sky->async;
    size_t name_len = strlen(name);
    size_t nf = n, bytes = name_len + 1;
    for (size_t i = 0; i < n; i++) {
        const sky_field *f = &fields[i];
        /* one compare for "not NONE, not LAZY, known" (LAZY is the last type) */
        _Static_assert(SKY_T_LAZY == SKY_T_COUNT_ - 1, "LAZY must be the last type");
        if (SKY_UNLIKELY((unsigned)f->type - 1u >= (unsigned)SKY_T_LAZY - 1u || !f->key))
            return false;
        bytes += f->key_len + 1 + value_bytes(f);
    }
    size_t size = sizeof(rec) + nf * sizeof(sky_field) + bytes;
    size = (size + SKY__RING_ALIGN - 1) & ~(size_t)(SKY__RING_ALIGN - 1);
    if (SKY_UNLIKELY(size > sky__ring_max_record(&a->fast.ring))) {
        drop_at_caller(sky, SKY_DROP_TOO_LARGE, level);
        return true;
    }
    uint64_t end;
    char *p = sky__ring_reserve(&a->fast.ring, (uint32_t)size, &end);
    if (SKY_UNLIKELY(!p)) {
        p = reserve_slow(sky, level, (uint32_t)size, &end);
        if (!p)
            return true;
    }
    sky_field *dst = (sky_field *)(p + sizeof(rec));
    char *s = fill_header(p, level, nf, name, name_len, ts, log, cs);
    put_plain(dst, fields, n, s);
    sky__ring_commit(p, (uint32_t)size);
    after_commit(a, end);
    return true;
}

/* A site event whose scope has no block for this pipeline: its bound is reached (or the
 * scope's block is another pipeline's). The scope is copied into the record instead, as a
 * block the record ends with, which the worker renders like any (its JSON in the block's
 * room, or field by field when that is too small: nothing is allocated for it) and which
 * goes with the record: nothing links, retires or frees it. Scope of a bench `scope` event
 * under valgrind: ~300 caller and ~1,200 worker instructions less than the general path's
 * copy (sky_emit). */
typedef struct ctx_copy {
    const sky_field *const *frames;
    const size_t *counts;
    size_t depth, total;
} ctx_copy;

/* The copy's bytes (0: a frame has a lazy field, which the general path evaluates). */
static __attribute__((noinline)) size_t copy_need(ctx_copy *c)
{
    c->depth = sky__context_frames(&c->frames, &c->counts);
    c->total = 0;
    for (size_t d = 0; d < c->depth; d++)
        c->total += c->counts[d];
    size_t need = block_need(c->frames, c->counts, c->depth, c->total);
    return need ? sizeof(sky__ctxblk) + need : 0;
}

static __attribute__((noinline)) const sky__ctx_hdr *copy_fill(sky__async *a, char *at,
                                                              const ctx_copy *c, size_t bytes)
{
    sky__ctxblk *b = (sky__ctxblk *)(void *)at;
    b->cap = bytes - sizeof *b;
    /* block_need made room for what fill_block copies, and the frames (this thread's) have
     * no lazy field: it cannot fail */
    fill_block(b, a, c->frames, c->counts, c->depth, c->total);
    b->frag.budget = NULL;
    b->frag.in_record = 1;
    b->frag.json_own = 0;
    b->frag.json_state = 0;
    b->frag.key_bits = 0;
    b->frag.chk_ok = b->frag.chk_next = 0;
    memset(b->frag.chk_sc, 0, sizeof b->frag.chk_sc);
    b->owner = NULL;
    atomic_store_explicit(&b->hdr.q, &a->fast, memory_order_relaxed);
    return &b->hdr;
}

/* Reserves a site record for `payload` bytes of values, as sky__fast_reserve does inline, for
 * any call the inlined path leaves to the library. Returns 1 (write them at slot->p, then
 * sky__fast_commit), -1 (the event was dropped and counted: do nothing), or 0 (this call
 * cannot have a site record: use sky__emit_site). Inlined into sky__site_emit_values, its one
 * caller (a call and the slot's stores and loads: ~25 instructions a scope's first event). */
__attribute__((always_inline)) static inline int site_reserve(sky_logger *log, sky_level level,
                                                              sky__site *site, size_t payload,
                                                              sky__slot *slot)
{
    sky_t *sky = log->sky;
    if (SKY_UNLIKELY(!sky || !sky->async || (log->n_fields && !log->hdr.fast) ||
                     (unsigned)level >= SKY_LEVEL_OFF))
        return 0;
    int64_t ts = sky__clock_raw();
    int gate = atomic_load_explicit(&sky->closing, memory_order_relaxed);
    if (SKY_UNLIKELY(gate) && ((gate & SKY__SPOOLED) || !pass_gate(sky, gate, level)))
        return gate & SKY__SPOOLED ? 0 : -1; /* a spool record copies what a site record names */
    /* after the gate: a spool pipeline's records copy the context, so it builds no block */
    sky__async *a = sky->async;
    const sky__ctxblk *cb = NULL;
    ctx_copy cc;
    size_t inl = 0;
    if (sky__ctx_depth && !(cb = context_block(sky)) && !(inl = copy_need(&cc)))
        return 0; /* a lazy field: the general path evaluates it per event */
    size_t at = (sizeof(srec) + payload + 15) & ~(size_t)15; /* the copy, aligned */
    size_t size = (at + inl + SKY__RING_ALIGN - 1) & ~(size_t)(SKY__RING_ALIGN - 1);
    if (SKY_UNLIKELY(payload > ((size_t)1 << 30) || size > sky__ring_max_record(&a->fast.ring))) {
        if (inl && payload <= ((size_t)1 << 30))
            return 0; /* the general path's copy is smaller (no JSON room): it decides */
        drop_at_caller(sky, SKY_DROP_TOO_LARGE, level);
        return -1;
    }
    uint64_t end;
    char *p = sky__ring_reserve(&a->fast.ring, (uint32_t)size, &end);
    if (SKY_UNLIKELY(!p)) {
        p = reserve_slow(sky, level, (uint32_t)size, &end);
        if (!p)
            return -1;
    }
    srec *r = (srec *)p;
    r->h.aux = (uint32_t)level | REC_SITE;
    r->ts = ts;
    r->logger = log;
    r->site = site;
    r->ctx = cb ? &cb->hdr : NULL;
    if (SKY_UNLIKELY(inl))
        r->ctx = copy_fill(a, p + at, &cc, inl);
    slot->p = p + sizeof(srec);
    slot->q = &a->fast;
    slot->rec = p;
    slot->size = (uint32_t)size;
    slot->end = end;
    return 1;
}

/* A matched call that cannot have a site record (sky__site_emit_values): the general path,
 * with the schema's keys. */
static __attribute__((noinline, cold)) void emit_values_general(sky_logger *log, sky_level level,
                                                                sky__site *site,
                                                                const sky__schema *sc,
                                                                const uint64_t *val,
                                                                const char *const *str)
{
    size_t n = sc->n;
    sky_field fs[SKY__SITE_MAX];
    for (size_t i = 0; i < n; i++) {
        sky_field *f = &fs[i];
        *f = (sky_field){.key = sc->keys[i], .key_len = sc->key_lens[i], .type = sc->types[i]};
        switch (f->type) {
        case SKY_T_STR:
        case SKY_T_JSON: f->v.str.ptr = str[i], f->v.str.len = val[i]; break;
        case SKY_T_BOOL: f->v.b = val[i] != 0; break;
        case SKY_T_ERRNO: f->v.err = (int)(int64_t)val[i]; break;
        default: memcpy(&f->v, &val[i], 8); break;
        }
    }
    sky__emit_site(log, level, sc->name, site, fs, n);
}

/* A site record's values at p (the layout of skylog.h's sky__log_site): the 8-byte values two
 * at a time, then the strings, found by the schema's bit mask, each with its NUL. n is not a
 * constant here: a loop over every field testing its type cost ~80 instructions for the mix's
 * 8 fields (a scope's first event comes here), this ~35 besides the string copies. The
 * reservation has 15 bytes after the last string (the call site adds them): its copy may
 * write 16 bytes (sky__copy_str16). */
static inline void site_write(char *p, size_t n, const uint64_t *val, const char *const *str,
                              uint32_t mask)
{
    uint64_t *v = (uint64_t *)(void *)p;
    size_t i = 0;
    for (; i + 2 <= n; i += 2)
        memcpy(&v[i], &val[i], 16);
    if (i < n)
        v[i] = val[i];
    char *s = (char *)(v + n);
    while (mask) {
        unsigned k = (unsigned)__builtin_ctz(mask);
        mask &= mask - 1;
        size_t len = (size_t)val[k];
        sky__copy_str16(s, str[k], len);
        s[len] = '\0';
        s += len + 1;
    }
}

void sky__site_emit_values(sky_logger *log, sky_level level, sky__site *site,
                           const uint64_t *val, const char *const *str, size_t bytes)
{
    /* the call matched this schema: its keys, lengths and types are the call's */
    const sky__schema *sc = atomic_load_explicit(&site->schema, memory_order_acquire);
    size_t n = sc->n;
    sky__slot slot;
    int r = site_reserve(log, level, site, bytes, &slot);
    if (r < 0)
        return;
    if (r > 0) {
        site_write(slot.p, n, val, str, ((const sky__site_schema *)sc)->str_mask);
        sky__fast_commit(&slot);
        return;
    }
    emit_values_general(log, level, site, sc, val, str);
}

void sky__fast_notify(sky__fast *q) { wake((sky__async *)q); }

/* Lets the worker take what the ring spool held at open (see `held`). */
static void release_held(sky__async *a)
{
    if (atomic_exchange(&a->held, 0))
        wake(a);
}

/* A log call of a pipeline with a ring spool: every record is a self-contained spool record
 * (the inlined and site paths see the SKY__SPOOLED gate and come here too). */
__attribute__((noinline)) static void emit_spooled(sky_t *sky, const sky_logger *log,
                                                   sky_level level, const char *name,
                                                   const sky_callsite *cs,
                                                   const sky_field *fields, size_t n)
{
    sky__async *a = sky->async;
    if (SKY_UNLIKELY(atomic_load_explicit(&a->held, memory_order_relaxed)))
        release_held(a);
    emit(sky, log, level, name, cs, fields, n, sky_now_ns(), NULL, true);
}

void sky__async_emit(const sky_logger *log, sky_level level, const char *name,
                     const sky_callsite *cs, const sky_field *fields, size_t n)
{
    int64_t ts = sky__clock_raw();
    sky_t *sky = log->sky;
    int gate = atomic_load_explicit(&sky->closing, memory_order_relaxed);
    if (SKY_UNLIKELY(gate)) {
        if (!pass_gate(sky, gate, level))
            return;
        if (gate & SKY__SPOOLED) {
            emit_spooled(sky, log, level, name ? name : "", cs, fields, n);
            return;
        }
    }
    if (!name)
        name = "";
    const sky_field *const *frames;
    const size_t *counts;
    if (SKY_LIKELY(!log->n_fields && !sky__context_frames(&frames, &counts)) &&
        emit_plain(sky, log, level, name, cs, fields, n, ts))
        return;
    emit(sky, log, level, name, cs, fields, n, ts, NULL, false);
}

/* ---- worker --------------------------------------------------------------------------------- */

static bool batch_prepare(sky__batch *b, size_t n_sinks)
{
    if (b->n_sinks < n_sinks) {
        sky__sink_batch *ns = realloc(b->sinks, n_sinks * sizeof *ns);
        if (!ns)
            return false;
        memset(ns + b->n_sinks, 0, (n_sinks - b->n_sinks) * sizeof *ns);
        b->sinks = ns;
        b->n_sinks = n_sinks;
    }
    return true;
}

/* A site record: only the header is decoded. The fields stay in the record (`lazy`): the JSON
 * renderer writes them from there, and whatever else reads them decodes them first
 * (sky__event_ready). The record stays readable until write_batch() is done and the ring
 * space is freed; the next decode into this slot resets the event. */
static void decode_site(sky__async *a, const char *p, uint32_t size, sky_event *ev)
{
    const srec *r = (const srec *)p;
    const sky__site_schema *sc = (const sky__site_schema *)atomic_load_explicit(
        &r->site->schema, memory_order_acquire);
    ev->level = REC_LEVEL(r->h.aux);
    ev->name = sc->pub.name;
    ev->name_len = sc->name_len;
    ev->logger = r->logger->name;
    ev->logger_len = r->logger->name_len;
    ev->ts_ns = sky__clock_to_ns(&a->clock, r->ts);
    ev->cs = &r->site->cs;
    ev->schema = sc;
    /* the scope's block (its header is first), a bound logger's fields (a registered
     * logger's fragment is empty) */
    ev->ctxh = r->ctx;
    ev->bnd = r->logger->bfrag;
    ev->vals = (const uint64_t *)(p + sizeof(srec));
    ev->vals_bytes = size - (uint32_t)sizeof(srec);
    ev->lazy = true;
}

static void decode(sky__async *a, const char *p, uint32_t size, sky_event *ev)
{
    const rec *r = (const rec *)p;
    if (r->h.aux & REC_SITE) {
        sky__event_reset_site(ev);
        decode_site(a, p, size, ev);
        return;
    }
    if (SKY_UNLIKELY(r->h.aux & SKY__REC_SPOOL)) {
        sky__prec_decode(p, ev, &a->cs_slots[ev - a->evs], &a->scratch);
        return;
    }
    sky__event_reset(ev);
    ev->level = (sky_level)r->h.aux;
    const sky_field *fs = (const sky_field *)(p + sizeof(rec));
    ev->name = (const char *)(fs + r->n);
    ev->name_len = r->name_len;
    ev->logger = r->logger;
    ev->logger_len = r->logger_len;
    ev->ts_ns = sky__clock_to_ns(&a->clock, r->ts);
    ev->cs = r->cs;
    if (!sky__event_load(ev, fs, r->n))
        ev->n = 0; /* out of memory: keep the event, without its fields */
}

/* Runs the processors on event i of the batch; the router takes the batch's events together
 * (write_batch). */
static void process_one(sky_t *sky, sky__async *a, size_t i)
{
    if (!sky->n_procs) /* nothing to run: `processed` is counted once per batch */
        a->live[i] = 1, a->unprocessed++;
    else
        a->live[i] = sky__pipeline_run_processors(sky, &a->evs[i]);
    a->n_live += a->live[i];
}

static const sky_drop_reason gap_reasons[GAP_SLOTS - 1] = {SKY_DROP_OVERFLOW, SKY_DROP_TOO_LARGE};

/* Appends skylog.gap events for pending losses at batch index i; returns how many. Unless
 * `now`, only once the worker has passed an event queued after the latest loss. */
static size_t add_gaps_slow(sky_t *sky, sky__async *a, size_t i, bool now);
static inline size_t add_gaps(sky_t *sky, sky__async *a, size_t i, bool now)
{
    if (SKY_LIKELY(!atomic_load_explicit(&a->gap_flag, memory_order_relaxed)))
        return 0;
    return add_gaps_slow(sky, a, i, now);
}

/* A skylog.gap event at batch index i: c events lost for `reason`. */
static void gap_event(sky_t *sky, sky__async *a, size_t i, uint64_t c, const char *reason)
{
    sky_event *ev = &a->evs[i];
    sky__event_reset(ev);
    ev->level = SKY_LEVEL_WARN;
    ev->name = "skylog.gap";
    ev->name_len = strlen(ev->name);
    ev->logger = "skylog";
    ev->logger_len = 6;
    ev->ts_ns = sky_now_ns();
    ev->cs = NULL;
    sky_field f[2] = {sky_field_uint("dropped", c), sky_field_str("reason", reason)};
    sky__event_load(ev, f, 2);
    atomic_fetch_add_explicit(&sky->emitted, 1, memory_order_relaxed);
    process_one(sky, a, i);
}

static size_t add_gaps_slow(sky_t *sky, sky__async *a, size_t i, bool now)
{
    if (!now && a->fast.ring.claim <= atomic_load_explicit(&a->gap_after, memory_order_relaxed))
        return 0;
    if (!atomic_exchange_explicit(&a->gap_flag, 0, memory_order_acquire))
        return 0;
    size_t k = 0;
    if (a->torn_pending) { /* the ring spool's torn records (reason "spool_torn") */
        gap_event(sky, a, i + k++, a->torn_pending, "spool_torn");
        a->torn_pending = 0;
    }
    for (int g = 0; g < GAP_SLOTS - 1; g++) {
        sky_drop_reason reason = gap_reasons[g];
        uint64_t c = atomic_exchange_explicit(&a->gap_pending[reason], 0, memory_order_relaxed);
        if (!c)
            continue;
        gap_event(sky, a, i + k, c, sky_drop_reason_name(reason));
        k++;
    }
    return k;
}

/* Routes the batch's n events, writes every sink's records, then settles each event: routed
 * (some sink that took it wrote it) or dropped (sink_error, or no_sink when none took it). In
 * the usual batch every write succeeds and every event was taken: nothing to do per event. */
static void write_batch(sky_t *sky, sky__async *a, size_t n)
{
    sky__batch *b = &a->batch;
    size_t n_tried = sky__pipeline_route_batch(sky, a->evs, a->live, n, b);
    bool all_ok = true;
    for (size_t s = 0; s < sky->n_sinks && s < b->n_sinks; s++) {
        sky__sink_batch *sb = &b->sinks[s];
        sb->ok = !sb->n || sky__sink_write_batch(sky, sky->sinks[s], sb->recs, sb->n);
        all_ok &= sb->ok;
    }
    const uint8_t *got = a->tried; /* per event: delivered */
    if (!all_ok) {
        memset(a->delivered, 0, n);
        for (size_t s = 0; s < sky->n_sinks && s < b->n_sinks; s++) {
            sky__sink_batch *sb = &b->sinks[s];
            for (size_t j = 0; sb->ok && j < sb->n; j++)
                a->delivered[sb->recs[j].event - a->evs] = 1;
        }
        got = a->delivered;
    }
    for (size_t s = 0; s < sky->n_sinks && s < b->n_sinks; s++)
        b->sinks[s].n = 0;
    if (a->unprocessed) {
        atomic_fetch_add_explicit(&sky->processed, a->unprocessed, memory_order_relaxed);
        a->unprocessed = 0;
    }
    uint64_t routed = a->n_live;
    if (!all_ok || n_tried != a->n_live) {
        routed = 0;
        for (size_t i = 0; i < n; i++) {
            if (!a->live[i])
                continue;
            if (got[i])
                routed++;
            else
                sky__count_drop(sky, a->tried[i] ? SKY_DROP_SINK_ERROR : SKY_DROP_NO_SINK,
                                a->evs[i].level, 1);
        }
    }
    a->n_live = 0;
    if (routed)
        atomic_fetch_add_explicit(&sky->routed, routed, memory_order_relaxed);
    a->text.used = 0; /* every sink has written the batch's lines */
    sky__derived_drain(sky); /* what the batch's processors derived, one by one */
}

/* Takes up to BATCH_MAX events from the ring, processes and writes them, frees their space.
 * Returns true if it made progress. */
static bool drain_batch(sky_t *sky, sky__async *a)
{
    uint64_t claim0 = a->fast.ring.claim;
    if (SKY_UNLIKELY(atomic_load_explicit(&a->held, memory_order_acquire)) ||
        !batch_prepare(&a->batch, sky->n_sinks))
        return false;
    size_t n = 0, taken = 0;
    uint32_t size;
    char *p;
    const bool procs = sky->n_procs != 0;
    size_t plain = 0; /* events that passed the empty processor chain: counted per batch */
    while (n < BATCH_MAX && (p = sky__ring_peek(&a->fast.ring, &size))) {
        decode(a, p, size, &a->evs[n]);
        if (procs)
            process_one(sky, a, n);
        else
            a->live[n] = 1, plain++;
        n++;
        taken++;
        sky__ring_advance(&a->fast.ring, size);
        n += add_gaps(sky, a, n, false); /* gap events count themselves in emitted */
        if (atomic_load_explicit(&a->drop_request, memory_order_relaxed))
            break;
    }
    a->unprocessed += plain;
    a->n_live += plain;
    if (n) {
        atomic_fetch_add_explicit(&a->enqueued, taken, memory_order_relaxed);
        atomic_fetch_add_explicit(&sky->emitted, taken, memory_order_relaxed);
        if (a->rhdr)
            sky__rfile_inflight(a->rhdr, a->fast.ring.claim);
        write_batch(sky, a, n);
    }
    if (a->rhdr) /* every sink's write() returned: before the ring clears the records */
        sky__rfile_consumed(a->rhdr, a->fast.ring.claim);
    sky__ring_release(&a->fast.ring);
    space_freed(a);
    reclaim(a, false);
    return n || a->fast.ring.claim != claim0;
}

/* DROP_OLDEST: discards the oldest queued events until a producer's request fits. */
static void drop_oldest(sky_t *sky, sky__async *a)
{
    uint32_t need = atomic_exchange_explicit(&a->drop_request, 0, memory_order_relaxed);
    if (!need)
        return;
    sky__ring *r = &a->fast.ring;
    uint32_t size;
    char *p;
    while (r->cap - (atomic_load_explicit(&r->head, memory_order_relaxed) - r->claim) <
               2 * (uint64_t)need &&
           (p = sky__ring_peek(r, &size))) {
        sky_level level = REC_LEVEL(((const rec *)p)->h.aux);
        sky__ring_advance(r, size);
        atomic_fetch_add_explicit(&sky->emitted, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&a->enqueued, 1, memory_order_relaxed);
        sky__count_drop(sky, SKY_DROP_OVERFLOW, level, 1);
        note_gap(a, SKY_DROP_OVERFLOW, r->claim);
    }
    if (a->rhdr)
        sky__rfile_consumed(a->rhdr, r->claim);
    sky__ring_release(r);
    space_freed(a);
    reclaim(a, false);
}

/* Counts everything still queued as dropped (close after a timeout). */
static void abandon_rest(sky_t *sky, sky__async *a)
{
    uint32_t size;
    char *p;
    if (a->rfile && !sky__ring_drained(&a->fast.ring)) {
        /* they stay in the file, and the next process that opens it delivers them */
        sky__diag(sky, SKY_LEVEL_WARN,
                  "events still queued at close stay in the ring spool %s for the "
                  "next process that opens it",
                  sky__rfile_path(a->rfile));
        return;
    }
    while ((p = sky__ring_peek(&a->fast.ring, &size))) {
        sky__ring_advance(&a->fast.ring, size);
        atomic_fetch_add_explicit(&sky->emitted, 1, memory_order_relaxed);
        sky__count_drop(sky, SKY_DROP_CLOSED, REC_LEVEL(((const rec *)p)->h.aux), 1);
    }
    sky__ring_release(&a->fast.ring);
}

static void service_flush(sky_t *sky, sky__async *a)
{
    pthread_mutex_lock(&a->fmu);
    uint64_t req = a->flush_req, target = a->flush_target;
    int64_t deadline = a->flush_deadline;
    pthread_mutex_unlock(&a->fmu);
    if (atomic_load_explicit(&a->fast.ring.tail, memory_order_acquire) < target)
        return; /* not everything before the request is written yet */
    /* Pending losses are reported at a flush even if no event followed them. */
    if (batch_prepare(&a->batch, sky->n_sinks)) {
        size_t n = add_gaps(sky, a, 0, true);
        if (n)
            write_batch(sky, a, n);
    }
    sky_status st = sky__flush_sinks(sky, deadline);
    pthread_mutex_lock(&a->fmu);
    a->flush_done = req;
    a->flush_status = st;
    if (a->flush_req == req)
        atomic_store(&a->flush_pending, 0);
    pthread_cond_broadcast(&a->fcond);
    pthread_mutex_unlock(&a->fmu);
}

static void idle_wait(sky_t *sky, sky__async *a, bool deep)
{
    pthread_mutex_unlock(&sky->lock);
    /* held: what the ring spool held waits for the pipeline's configuration; not work */
    if (!sky__ring_drained(&a->fast.ring) && !atomic_load(&a->held)) {
        sched_yield(); /* a producer is between reserve and commit */
    } else {
        atomic_store(&a->sleeping, deep ? SLEEP_DEEP : 1);
        uint64_t tail = atomic_load_explicit(&a->fast.ring.tail, memory_order_relaxed);
        atomic_store(&a->fast.wake_at, tail + (deep ? 0 : a->wake_bytes));
        uint32_t seq = atomic_load(&a->wake_seq);
        if ((sky__ring_drained(&a->fast.ring) || atomic_load(&a->held)) &&
            !atomic_load(&a->flush_pending) &&
            !atomic_load(&a->stop) && !atomic_load(&a->drop_request) &&
            !atomic_load(&sky->lock_waiters)) {
            struct timespec ts = {0, deep ? DEEP_SLEEP_NS : IDLE_SLEEP_NS};
            syscall(SYS_futex, &a->wake_seq, FUTEX_WAIT_PRIVATE, seq, &ts, NULL, 0);
        }
        atomic_store(&a->fast.wake_at, UINT64_MAX);
        atomic_store(&a->sleeping, 0);
    }
    pthread_mutex_lock(&sky->lock);
}

static void *worker_main(void *arg)
{
    sky_t *sky = arg;
    sky__async *a = sky->async;
    int64_t idle_since = 0; /* monotonic time of the first empty poll, 0 while busy */
    pthread_mutex_lock(&sky->lock);
    for (;;) {
        sky__clock_conv_tick(&a->clock);
        bool progress = drain_batch(sky, a);
        if (atomic_load_explicit(&a->drop_request, memory_order_relaxed)) {
            drop_oldest(sky, a);
            progress = true;
        }
        if (atomic_load_explicit(&a->flush_pending, memory_order_acquire))
            service_flush(sky, a);
        int stop = atomic_load(&a->stop);
        if (stop == 2) {
            abandon_rest(sky, a);
            break;
        }
        if (stop == 1 && !progress && sky__ring_drained(&a->fast.ring))
            break;
        if (atomic_load_explicit(&sky->lock_waiters, memory_order_relaxed)) {
            /* hand the lock to configuration, stats or fork, then carry on */
            pthread_mutex_unlock(&sky->lock);
            while (atomic_load(&sky->lock_waiters))
                sched_yield();
            pthread_mutex_lock(&sky->lock);
            continue;
        }
        if (progress) {
            idle_since = 0;
        } else {
            int64_t now = sky_monotonic_ns();
            if (!idle_since)
                idle_since = now;
            idle_wait(sky, a, now - idle_since > DEEP_AFTER_NS);
        }
    }
    atomic_store(&a->alive, 0);
    pthread_mutex_unlock(&sky->lock);
    return NULL;
}

static bool start_worker(sky_t *sky)
{
    sky__async *a = sky->async;
    sky__clock_conv_init(&a->clock);
    atomic_store(&a->stop, 0);
    atomic_store(&a->alive, 1);
    a->joinable = false;
    /* Returns once the thread runs worker_main (util/thread.h says why): from there on the
     * worker works under sky->lock, which fork's prepare handler takes. */
    if (sky__thread_start(&a->thread, "skylog-worker", worker_main, sky) != 0) {
        atomic_store(&a->alive, 0);
        return false;
    }
    a->joinable = true;
    return true;
}

/* The ring in the file sky->opts.ring_spool_path, with what it holds queued (and held until
 * the pipeline is configured). */
static sky_status spool_open(sky_t *sky, sky__async *a, char **errmsg)
{
    uint64_t cap = 4096;
    while (cap < sky->opts.ring_bytes && cap < ((uint64_t)1 << 40))
        cap <<= 1;
    a->cs_slots = calloc(BATCH_MAX + GAP_SLOTS, sizeof *a->cs_slots);
    if (!a->cs_slots)
        return SKY_ENOMEM;
    char *err = NULL;
    sky_status st = sky__rfile_open(sky->opts.ring_spool_path, cap, sky__prec_check, NULL,
                                    &a->fast.ring, &a->rfile, &a->found, &err);
    if (st != SKY_OK) {
        if (errmsg && err) {
            *errmsg = err; /* the caller of sky_open_ex() asked for it */
        } else {
            sky__diag(sky, SKY_LEVEL_ERROR, "%s", err ? err : sky_strerror(st));
            free(err);
        }
        free(a->cs_slots);
        a->cs_slots = NULL;
        return st;
    }
    a->rhdr = sky__rfile_header(a->rfile);
    if (a->fast.ring.cap != cap)
        sky__diag(sky, SKY_LEVEL_WARN,
                  "ring spool %s keeps its size (%llu bytes) until the %llu events in "
                  "it are delivered",
                  sky->opts.ring_spool_path, (unsigned long long)a->fast.ring.cap,
                  (unsigned long long)a->found.records);
    if (a->found.torn) {
        sky__diag(sky, SKY_LEVEL_WARN,
                  "ring spool %s: %llu damaged or unfinished record(s) skipped",
                  sky->opts.ring_spool_path, (unsigned long long)a->found.torn);
        a->torn_pending = a->found.torn;
        atomic_store(&a->gap_flag, 1); /* gap_after 0: reported after the first event */
    }
    atomic_store(&a->held, a->found.records != 0);
    return SKY_OK;
}

static void init_flush_sync(sky__async *a)
{
    pthread_mutex_init(&a->fmu, NULL);
    sky__cond_init_monotonic(&a->fcond);
}

sky_status sky__async_start(sky_t *sky, char **errmsg)
{
    sky__clock_init();
    /* aligned: the ring's words are on cache lines of their own */
    sky__async *a = aligned_alloc(64, (sizeof *a + 63) & ~(size_t)63);
    if (!a)
        return SKY_ENOMEM;
    memset(a, 0, sizeof *a);
    a->waiting_end = &a->waiting;
    /* before any block or bound logger can take blk_lock, and after the pipelines' own fork
     * handlers (sky_open registers them first): fork takes blk_lock first */
    pthread_once(&blk_once, blk_init);
    if (sky->opts.ring_spool_path) {
        sky_status st = spool_open(sky, a, errmsg);
        if (st != SKY_OK) {
            free(a);
            return st;
        }
    } else if (!sky__ring_init(&a->fast.ring, sky->opts.ring_bytes)) {
        free(a);
        return SKY_ENOMEM;
    }
    a->wake_bytes = a->fast.ring.cap / 4;
    a->budget.limit = a->fast.ring.cap / CTX_BUDGET_SHARE > CTX_BUDGET_MIN
                          ? a->fast.ring.cap / CTX_BUDGET_SHARE
                          : CTX_BUDGET_MIN;
    a->fast.wake_at = UINT64_MAX;
    /* Call sites stamp records with the TSC themselves only if the library does too. */
    a->fast.state = sky__clock_tsc ? SKY__FAST_ABI : 0;
    uint64_t max = sky__ring_max_record(&a->fast.ring);
    a->fast.site_max = (uint32_t)(max < ((uint64_t)1 << 30) ? max : (uint64_t)1 << 30);
    /* optional: without it every line goes to its event's own buffer */
    a->text.cap = TEXT_BYTES;
    a->text.p = malloc(a->text.cap);
    a->batch.tried = a->tried;
    a->batch.cap = BATCH_MAX + GAP_SLOTS;
    for (size_t i = 0; i < BATCH_MAX + GAP_SLOTS; i++) {
        /* A spool record's call site and logger name live in the record, so their addresses
         * repeat with other contents: the render cache, keyed by address, is not for them. */
        a->evs[i].rcache = a->rfile ? NULL : (sky__render_cache *)(void *)&a->rcache;
        a->evs[i].shared = a->text.p ? &a->text : NULL;
    }
    init_flush_sync(a);
    sky->async = a;
    if (a->rfile)
        sky__closing_or(sky, SKY__SPOOLED); /* every call takes the library's spool path */
    if (!start_worker(sky)) {
        sky->async = NULL;
        free(a->text.p);
        free(a->cs_slots);
        if (a->rfile)
            sky__rfile_close(a->rfile);
        else
            sky__ring_free(&a->fast.ring);
        pthread_mutex_destroy(&a->fmu);
        pthread_cond_destroy(&a->fcond);
        free(a);
        return SKY_ENOMEM;
    }
    for (sky_logger *l = sky->loggers; l; l = l->next)
        sky__async_logger_init(sky, l);
    return SKY_OK;
}

/* ---- flush, close --------------------------------------------------------------------------- */

sky_status sky__async_flush(sky_t *sky, int64_t deadline)
{
    sky__async *a = sky->async;
    if (atomic_load(&sky->closing) & SKY__NO_WORKER) {
        /* a forked child that has not logged: its ring is empty, only the sinks to flush */
        sky__lock(sky);
        sky_status st = sky__flush_sinks(sky, deadline);
        sky__unlock(sky);
        return st;
    }
    release_held(a); /* the pipeline is configured by now */
    pthread_mutex_lock(&a->fmu);
    uint64_t my = ++a->flush_req;
    uint64_t head = atomic_load(&a->fast.ring.head);
    if (head > a->flush_target)
        a->flush_target = head;
    if (deadline > a->flush_deadline)
        a->flush_deadline = deadline;
    atomic_store(&a->flush_pending, 1);
    pthread_mutex_unlock(&a->fmu);
    wake(a);
    pthread_mutex_lock(&a->fmu);
    while (a->flush_done < my && atomic_load(&a->alive)) {
        if (sky__cond_wait_until(&a->fcond, &a->fmu, deadline) == ETIMEDOUT)
            break;
    }
    sky_status st = a->flush_done >= my ? a->flush_status : SKY_ETIMEDOUT;
    pthread_mutex_unlock(&a->fmu);
    return st;
}

sky_status sky__async_stop(sky_t *sky, int64_t deadline, bool *leak)
{
    sky__async *a = sky->async;
    *leak = false;
    /* from here on no push makes a block for this pipeline (sky__async_ctx_push) */
    blk_acquire();
    atomic_store_explicit(&close_epoch, atomic_load_explicit(&close_epoch, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    blk_unlock();
    sky_status st = atomic_load(&a->alive) ? sky__async_flush(sky, deadline) : SKY_OK;
    atomic_store(&a->stop, st == SKY_OK ? 1 : 2);
    wake(a);
    if (a->joinable) {
        /* give a worker stuck in a sink one more second past the deadline, then leave it */
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        int64_t left = deadline - sky_monotonic_ns();
        if (left < 0)
            left = 0;
        int64_t abs = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec + left + 1000000000;
        struct timespec ts = {abs / 1000000000, abs % 1000000000};
        if (pthread_timedjoin_np(a->thread, NULL, &ts) != 0) {
            *leak = true;
            return SKY_ETIMEDOUT;
        }
        a->joinable = false;
    }
    /* events the worker never saw (it was not running) are closed out here */
    abandon_rest(sky, a);
    /* Nothing reads the ring any more. Blocks of scopes still open forget this pipeline
     * (their pops free them); what retired is freed. Here, not in sky__async_free: close
     * holds the pipeline lock there, and fork takes blk_lock before the pipelines' locks. */
    blk_acquire();
    for (sky__ctxblk *b = a->blocks; b; b = b->next) {
        b->owner = NULL;
        atomic_store_explicit(&b->hdr.q, NULL, memory_order_relaxed);
        sky__frag_free(&b->frag); /* the worker's, and the worker has stopped */
        sky__budget_give(&a->budget, block_bytes(b));
        b->frag.budget = NULL; /* its pop frees it, after this pipeline is gone */
    }
    a->blocks = NULL;
    sky__ctxblk *pool = a->pool;
    a->pool = NULL;
    atomic_store_explicit(&a->pool_n, 0, memory_order_relaxed);
    blk_unlock();
    while (pool) {
        sky__ctxblk *next = pool->next;
        free_block(&pool->ret);
        pool = next;
    }
    reclaim(a, true);
    return st;
}

void sky__async_free(sky_t *sky)
{
    sky__async *a = sky->async;
    if (!a)
        return;
    for (size_t i = 0; i < BATCH_MAX + GAP_SLOTS; i++)
        sky__event_free(&a->evs[i]);
    for (size_t s = 0; s < a->batch.n_sinks; s++) {
        free(a->batch.sinks[s].recs);
    }
    free(a->batch.sinks);
    free(a->text.p);
    if (a->rfile) {
        sky__rfile_close(a->rfile);
        a->fast.ring.buf = NULL;
    } else {
        sky__ring_free(&a->fast.ring);
    }
    free(a->scratch.f);
    free(a->cs_slots);
    pthread_mutex_destroy(&a->fmu);
    pthread_cond_destroy(&a->fcond);
    free(a);
    sky->async = NULL;
}

void sky__async_stats(sky_t *sky, sky_stats *out)
{
    sky__async *a = sky->async;
    out->enqueued = atomic_load(&a->enqueued);
    out->ring_high_water = atomic_load(&a->fast.ring.high_water);
    out->ring_capacity = a->fast.ring.cap;
    out->worker_alive = atomic_load(&a->alive) != 0;
    out->context_block_bytes = atomic_load(&a->budget.used);
    out->context_block_high_water = atomic_load(&a->budget.high);
    out->context_block_limit = a->budget.limit;
    out->context_copied = atomic_load(&a->ctx_copied);
    if (a->rhdr) {
        out->spool_recovered = a->found.records;
        out->spool_torn = a->found.torn;
        out->spool_ambiguous = a->found.ambiguous;
        out->spool_recovered_total = atomic_load(&a->rhdr->recovered_total);
        out->spool_torn_total = atomic_load(&a->rhdr->torn_total);
        out->spool_ambiguous_total = atomic_load(&a->rhdr->ambiguous_total);
    }
}

/* ---- fork ----------------------------------------------------------------------------------- */

void sky__async_fork_prepare(sky_t *sky) { pthread_mutex_lock(&sky->async->fmu); }

void sky__async_fork_parent(sky_t *sky) { pthread_mutex_unlock(&sky->async->fmu); }

void sky__async_fork_child(sky_t *sky)
{
    sky__async *a = sky->async;
    pthread_mutex_unlock(&a->fmu);
    /* Waiters of the parent do not exist here; a fresh condition variable forgets them. */
    sky__cond_init_monotonic(&a->fcond);
    a->flush_done = a->flush_req;
    a->flush_target = 0;
    atomic_store(&a->flush_pending, 0);
    atomic_store(&a->drop_request, 0);
    atomic_store(&a->stalled_at, 0); /* the child's worker is a new one */
    atomic_store(&a->sleeping, 0);
    atomic_store(&a->fast.wake_at, UINT64_MAX);
    atomic_store(&a->alive, 0);
    a->joinable = false;
    if (a->rfile) {
        /* the parent owns the file and what it holds; the child's ring is memory only */
        sky__rfile_detach(a->rfile);
        atomic_store(&a->held, 0);
        a->torn_pending = 0;
        memset(&a->found, 0, sizeof a->found);
    }
    sky__ring_reset_after_fork(&a->fast.ring);
    /* The live blocks of the parent's other threads: those threads do not exist here, so no
     * pop will ever retire them, and no record references them (the ring is empty). Freed,
     * their bytes leave the child's bound (sky_stats.context_block_bytes). The child has one
     * thread: the lists are its own, whether or not blk_lock is still held for the fork. */
    for (sky__ctxblk *b = a->blocks, *next; b; b = next) {
        next = b->next;
        if (sky__context_holds(b))
            continue;
        unlink_block(a, b);
        free_block(&b->ret);
    }
    /* The worker starts with the child's first log call (pass_gate), not here: a child that
     * only calls exec() never creates a thread, and no thread is created in an atfork
     * handler. */
    if (!(atomic_load(&sky->closing) & SKY__CLOSING))
        sky__closing_or(sky, SKY__NO_WORKER);
}

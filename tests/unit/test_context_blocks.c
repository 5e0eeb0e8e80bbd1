/*
 * test_context_blocks.c - a context scope's copy in async mode (src/core/context.c, async.c:
 * "context blocks"): what it may hold in memory, and that its events read the same whichever
 * way its fields travel.
 *
 * Memory: queued records reference their scope's block, so blocks in flight grew with the
 * records queued (a scope per event: ~50 MiB over a 4 MiB ring). A pipeline's blocks are now
 * counted against a bound (sky_stats.context_block_limit); past it, each event of a scope
 * carries a copy of it in its own record. The bound is asserted through the counters, with
 * the worker held in a sink (no timing): the blocks never pass it, the copies happen,
 * nothing is lost, every line has its own scope's values, nested scopes, a thread that exits
 * inside one and a forked child stay right, and once the worker catches up scopes get
 * blocks again.
 *
 * Rendering: the worker renders a block's JSON once (directly into the room after the block's
 * fields) and copies it into each line; the other formats decode the block's fields. Every
 * format (JSON, logfmt, plain and coloured pretty, and a sink reading the fields) must give
 * for a scoped event what the general path gives (sky_emit: the scope's fields copied per
 * event), what a synchronous pipeline gives, and what a pipeline gives whose events all
 * carry their scope in their records, for values of every type, ones that need escaping,
 * invalid UTF-8, and strings long enough for each of the renderer's paths.
 */
#include "skytest.h"

#include "encode/render.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- a sink that holds the worker until released ------------------------------------------- */

static pthread_mutex_t hold_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hold_cv = PTHREAD_COND_INITIALIZER;
static int held;    /* 1: the next write waits until released */
static int entered; /* a write is waiting */

/* Keeps a copy of a line in cap. */
static void keep(skytest_capture *cap, const char *text, size_t len)
{
    if (cap->n == cap->cap) {
        cap->cap = cap->cap ? cap->cap * 2 : 64;
        cap->lines = realloc(cap->lines, cap->cap * sizeof *cap->lines);
        assert_non_null(cap->lines);
    }
    cap->lines[cap->n] = strndup(text, len);
    assert_non_null(cap->lines[cap->n]);
    cap->n++;
}

static sky_status hold_write(void *self, const sky_record *recs, size_t n)
{
    pthread_mutex_lock(&hold_mu);
    if (held) {
        entered = 1;
        pthread_cond_broadcast(&hold_cv);
        while (held)
            pthread_cond_wait(&hold_cv, &hold_mu);
    }
    pthread_mutex_unlock(&hold_mu);
    for (size_t i = 0; i < n; i++) /* then what the capture sink does */
        keep(self, recs[i].text, recs[i].len);
    return SKY_OK;
}
static const sky_sink_vtable hold_vt = {.type = "hold", .write = hold_write};

/* An async pipeline with a ring of `ring` bytes writing JSON into cap through the holding
 * sink; its context blocks' bound is `limit`. */
static sky_t *open_held(size_t ring, uint64_t limit, skytest_capture *cap)
{
    sky_t *sky = NULL;
    assert_int_equal(sky_open(&(sky_options){.mode = SKY_MODE_ASYNC, .ring_bytes = ring}, &sky),
                     SKY_OK);
    assert_int_equal(sky_add_sink(sky, sky_sink_new(&hold_vt, cap, SKY_FORMAT_JSON), NULL), SKY_OK);
    sky_stats st;
    assert_int_equal(sky_stats_get(sky, &st), SKY_OK);
    assert_int_equal(st.context_block_limit, limit);
    assert_int_equal(st.context_block_bytes, 0);
    return sky;
}

static void hold_worker(sky_logger *log)
{
    pthread_mutex_lock(&hold_mu);
    held = 1;
    entered = 0;
    pthread_mutex_unlock(&hold_mu);
    sky_info(log, "held"); /* the worker takes it and waits in the sink */
    pthread_mutex_lock(&hold_mu);
    while (!entered)
        pthread_cond_wait(&hold_cv, &hold_mu);
    pthread_mutex_unlock(&hold_mu);
}

static void release_worker(void)
{
    pthread_mutex_lock(&hold_mu);
    held = 0;
    pthread_cond_broadcast(&hold_cv);
    pthread_mutex_unlock(&hold_mu);
}

static sky_stats stats_of(sky_t *sky)
{
    sky_stats st;
    assert_int_equal(sky_stats_get(sky, &st), SKY_OK);
    return st;
}

static void assert_within_bound(sky_t *sky)
{
    sky_stats st = stats_of(sky);
    assert_true(st.context_block_limit > 0);
    assert_true(st.context_block_bytes <= st.context_block_limit);
    assert_true(st.context_block_high_water <= st.context_block_limit);
}

/* ---- the bound ------------------------------------------------------------------------------ */

#define SCOPES 1500

/* A thread with a scope of its own, nested scopes opened while the bound is reached, and no
 * pop of its outer scope: its exit retires that block (ASan: not freed while queued). */
static sky_logger *t_log;
static pthread_barrier_t t_go;
static void t_event(long n)
{
    sky_info(t_log, "t", SKY_INT("n", n));
} /* one site */
static void *nested_thread(void *arg)
{
    (void)arg;
    const sky_field outer[] = {SKY_STR("tenant", "outer-t"), SKY_INT("depth", 1)};
    sky_context_push(outer, 2);
    t_event(0);                  /* the site learns its schema */
    t_event(1);                  /* the scope's block, made before the bound is reached */
    pthread_barrier_wait(&t_go); /* main fills the budget */
    pthread_barrier_wait(&t_go);
    const sky_field inner[] = {SKY_STR("req", "inner-r"), SKY_INT("depth", 2)};
    sky_context_push(inner, 2);
    for (long i = 2; i <= 4; i++)
        t_event(i); /* copied: the bound is reached */
    sky_context_pop();
    t_event(5);  /* the outer block again */
    return NULL; /* exits inside `outer` */
}

static void test_blocks_bounded(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    /* 512 KiB ring: the bound is a quarter, 128 KiB (a few hundred blocks); the records of
     * this test, copies included, take under half the ring, so nothing waits for room */
    sky_t *sky = open_held(512 << 10, 128 << 10, &cap);
    sky_logger *log = sky_logger_get(sky, "app");
    t_log = log;
    sky_stats st;

    pthread_barrier_init(&t_go, NULL, 2);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, nested_thread, NULL), 0);
    pthread_barrier_wait(&t_go); /* its outer block exists */
    hold_worker(log);
    /* a scope per event, each with its own values, while nothing is written: without the
     * bound each would keep a block until the worker moves */
    char req[SCOPES][24];
    for (long i = 0; i < SCOPES; i++) {
        snprintf(req[i], sizeof req[i], "req-%ld\"", i); /* a quote: its JSON is escaped */
        const sky_field f[] = {SKY_STR("req", req[i]), SKY_STR("tenant", "acme")};
        sky_context_push(f, 2);
        sky_info(log, "scoped", SKY_INT("n", i));
        sky_context_pop();
        if (i % 100 == 0)
            assert_within_bound(sky);
    }
    st = stats_of(sky);
    assert_true(st.context_copied > 0); /* the bound was reached, and the test shows it */
    assert_true(st.context_block_high_water > st.context_block_limit / 2);
    assert_within_bound(sky);
    uint64_t copied = st.context_copied;
    pthread_barrier_wait(&t_go);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_within_bound(sky);
    assert_true(stats_of(sky).context_copied >= copied + 3); /* the nested scope's events */
    release_worker();
    assert_int_equal(sky_flush(sky, 30000), SKY_OK);

    /* every event, in order, with its own scope's values; none dropped */
    st = stats_of(sky);
    for (int r = 0; r < SKY_DROP_REASON_COUNT_; r++)
        assert_int_equal(st.dropped[r], 0);
    assert_int_equal(cap.n, 1 + 6 + SCOPES);
    size_t k = 0, tn = 0;
    for (size_t i = 0; i < cap.n; i++) {
        const char *l = cap.lines[i];
        if (strstr(l, "\"message\":\"held\""))
            continue;
        if (strstr(l, "\"message\":\"t\"")) {
            /* the thread's: outer fields, then inner ones (inner "depth" wins, at its place) */
            char want[160];
            if (tn >= 2 && tn <= 4)
                snprintf(want, sizeof want,
                         "\"tenant\":\"outer-t\",\"req\":\"inner-r\",\"depth\":2,\"n\":%zu}", tn);
            else
                snprintf(want, sizeof want, "\"tenant\":\"outer-t\",\"depth\":1,\"n\":%zu}", tn);
            assert_non_null(strstr(l, want));
            tn++;
            continue;
        }
        char want[96];
        snprintf(want, sizeof want, "\"req\":\"req-%zu\\\"\",\"tenant\":\"acme\",\"n\":%zu}", k, k);
        assert_non_null(strstr(l, want));
        k++;
    }
    assert_int_equal(k, SCOPES);
    assert_int_equal(tn, 6);
    assert_within_bound(sky);

    /* caught up: the worker reclaims after each batch (each flush here makes one), and
     * scopes get blocks again, from the pool: the last 40 scopes copy nothing */
    for (long i = 0; i < 50; i++) {
        if (i == 10)
            copied = stats_of(sky).context_copied;
        const sky_field f[] = {SKY_STR("req", "again"), SKY_STR("tenant", "acme")};
        sky_context_push(f, 2);
        sky_info(log, "scoped", SKY_INT("n", i));
        sky_info(log, "scoped", SKY_INT("n", i));
        sky_context_pop();
        assert_int_equal(sky_flush(sky, 30000), SKY_OK);
    }
    assert_int_equal(stats_of(sky).context_copied, copied);
    assert_within_bound(sky);
    assert_int_equal(cap.n, 1 + 6 + SCOPES + 100);
    assert_non_null(
        strstr(cap.lines[cap.n - 1], "\"req\":\"again\",\"tenant\":\"acme\",\"n\":49}"));
#ifndef __SANITIZE_THREAD__ /* TSan does not support threads in a forked child */
    /* a forked child: its pipeline keeps the parent's count (and pooled blocks, copied with
     * the process), and the bound holds there too, with its own worker held */
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        skytest_capture_reset(&cap);
        hold_worker(log);
        char creq[24];
        for (long i = 0; i < SCOPES; i++) {
            snprintf(creq, sizeof creq, "child-%ld", i);
            const sky_field f[] = {SKY_STR("req", creq), SKY_STR("tenant", "acme")};
            sky_context_push(f, 2);
            sky_info(log, "scoped", SKY_INT("n", i));
            sky_context_pop();
        }
        sky_stats cs;
        bool ok = sky_stats_get(sky, &cs) == SKY_OK && cs.context_copied > copied &&
                  cs.context_block_high_water <= cs.context_block_limit;
        release_worker();
        ok = ok && sky_flush(sky, 30000) == SKY_OK && cap.n == 1 + SCOPES;
        for (size_t c = 1; ok && c < cap.n; c++) {
            char w[128];
            snprintf(w, sizeof w, "\"req\":\"child-%zu\",\"tenant\":\"acme\",\"n\":%zu}",
                     c - 1, c - 1);
            ok = strstr(cap.lines[c], w) != NULL;
        }
        _exit(ok && sky_close(sky) == SKY_OK ? 0 : 1);
    }
    skytest_wait_child(pid);
#endif
    assert_int_equal(sky_close(sky), SKY_OK);
    pthread_barrier_destroy(&t_go);
    skytest_capture_reset(&cap);
}

/* A forked child has only the forking thread: the blocks of the parent's other threads, whose
 * scopes will never end there, are released from the child's count; the forking thread's own
 * scope keeps its block and works on. */
static pthread_barrier_t f_go;
static void f_event(sky_logger *log, long n) { sky_info(log, "f", SKY_INT("n", n)); } /* one site */
static __attribute__((unused)) void *scoped_thread(void *arg) /* (not under TSan) */
{
    sky_logger *log = arg;
    const sky_field f[] = {SKY_STR("req", "other-thread")};
    sky_context_push(f, 1);
    f_event(log, 0); /* the site learns its schema */
    f_event(log, 1); /* the scope's block */
    pthread_barrier_wait(&f_go); /* its block exists */
    pthread_barrier_wait(&f_go); /* until the parent's child has exited */
    sky_context_pop();
    return NULL;
}

static void test_fork_releases_other_threads_blocks(void **state)
{
    (void)state;
#ifdef __SANITIZE_THREAD__ /* TSan does not support threads in a forked child */
    skip();
#else
    skytest_capture cap = {0};
    sky_t *sky = open_held(512 << 10, 128 << 10, &cap);
    sky_logger *log = sky_logger_get(sky, "app");
    pthread_barrier_init(&f_go, NULL, 2);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, scoped_thread, log), 0);
    pthread_barrier_wait(&f_go);
    assert_int_equal(sky_flush(sky, 30000), SKY_OK);
    uint64_t theirs = stats_of(sky).context_block_bytes;
    assert_true(theirs > 0);
    const sky_field f[] = {SKY_STR("req", "forking-thread")};
    sky_context_push(f, 1);
    f_event(log, 2);
    f_event(log, 3);
    assert_int_equal(sky_flush(sky, 30000), SKY_OK);
    uint64_t both = stats_of(sky).context_block_bytes;
    assert_true(both > theirs);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        skytest_capture_reset(&cap);
        /* only the forking thread's block is counted here */
        bool ok = stats_of(sky).context_block_bytes == both - theirs;
        f_event(log, 4); /* its scope still logs, from its block */
        sky_context_pop();
        ok = ok && sky_flush(sky, 30000) == SKY_OK && cap.n == 1 &&
             strstr(cap.lines[0], "\"req\":\"forking-thread\",\"n\":4}") != NULL;
        _exit(ok && sky_close(sky) == SKY_OK ? 0 : 1);
    }
    skytest_wait_child(pid);
    /* the parent's count is its own: both blocks live on */
    assert_int_equal(stats_of(sky).context_block_bytes, both);
    sky_context_pop();
    pthread_barrier_wait(&f_go);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_int_equal(sky_flush(sky, 30000), SKY_OK);
    assert_int_equal(cap.n, 4);
    assert_int_equal(sky_close(sky), SKY_OK);
    pthread_barrier_destroy(&f_go);
    skytest_capture_reset(&cap);
#endif
}

static void huge_event(sky_logger *log, long n)
{
    sky_info(log, "huge", SKY_INT("n", n));
}

/* A scope larger than half the bound gets its block regardless: copied per event, its events
 * would not fit the ring (largest record: half of it) and would be dropped. Also while the
 * budget is spent. */
static void test_huge_scope_keeps_its_block(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    /* 64 KiB ring: records up to 32 KiB; the bound is its floor, 64 KiB */
    sky_t *sky = open_held(64 << 10, 64 << 10, &cap);
    sky_logger *log = sky_logger_get(sky, "app");
    static char big[40001];
    memset(big, 'b', sizeof big - 1);
    hold_worker(log);
    /* spend the budget first */
    for (long i = 0; i < 200; i++) {
        const sky_field f[] = {SKY_STR("req", "small scope"), SKY_INT("i", i)};
        sky_context_push(f, 2);
        sky_info(log, "small", SKY_INT("n", i));
        sky_context_pop();
    }
    assert_true(stats_of(sky).context_copied > 0);
    huge_event(log, -1); /* the site learns its schema (that call copies its context) */
    const sky_field f[] = {SKY_STR("big", big)};
    sky_context_push(f, 1);
    for (long i = 0; i < 3; i++)
        huge_event(log, i);
    release_worker();
    assert_int_equal(sky_flush(sky, 30000), SKY_OK);
    sky_context_pop();
    sky_stats st = stats_of(sky);
    for (int r = 0; r < SKY_DROP_REASON_COUNT_; r++)
        assert_int_equal(st.dropped[r], 0);
    assert_int_equal(cap.n, 1 + 200 + 1 + 3);
    for (size_t i = 202; i < cap.n; i++) {
        const char *v = strstr(cap.lines[i], "\"big\":\"");
        assert_non_null(v);
        assert_int_equal(strspn(v + 7, "b"), sizeof big - 1);
    }
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&cap);
}

/* A lazy field is found by the scope's first event (the push does not look at the fields):
 * that scope never gets a block, its events evaluate the field each time on the general
 * path, and the pooled block its fill tried goes back to the pool, neither freed nor lost:
 * the blocks' bytes stay what they were, and the next scope is served from the pool. */
static int lazy_calls;
static sky_field lazy_count(void *user, char *buf, size_t cap)
{
    (void)user;
    snprintf(buf, cap, "call %d", ++lazy_calls);
    return sky_field_str(NULL, buf);
}
static void lz_event(sky_logger *log, long n) { sky_info(log, "lz", SKY_INT("n", n)); }

static void test_lazy_scope_keeps_the_pool(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = NULL;
    assert_int_equal(sky_open(&(sky_options){.mode = SKY_MODE_ASYNC}, &sky), SKY_OK);
    assert_int_equal(sky_add_sink(sky, skytest_capture_sink(&cap, SKY_FORMAT_JSON), NULL), SKY_OK);
    sky_logger *log = sky_logger_get(sky, "app");
    lz_event(log, 0); /* the site learns its schema */
    const sky_field plain[] = {SKY_STR("req", "r-1")};
    sky_context_push(plain, 1);
    lz_event(log, 1); /* a block, pooled once written */
    sky_context_pop();
    assert_int_equal(sky_flush(sky, 30000), SKY_OK);
    uint64_t pooled = stats_of(sky).context_block_bytes;
    assert_true(pooled > 0);
    lazy_calls = 0;
    const sky_field lazy[] = {SKY_STR("req", "r-2"), SKY_LAZY("lz", lazy_count, NULL)};
    sky_context_push(lazy, 2);
    for (long i = 2; i < 5; i++)
        lz_event(log, i);
    assert_int_equal(stats_of(sky).context_block_bytes, pooled); /* back in the pool */
    const sky_field inner[] = {SKY_STR("t", "inner")};
    sky_context_push(inner, 1); /* nested over the lazy frame: no block either */
    lz_event(log, 5);
    sky_context_pop();
    sky_context_pop();
    assert_int_equal(sky_flush(sky, 30000), SKY_OK);
    assert_int_equal(stats_of(sky).context_block_bytes, pooled);
    sky_context_push(plain, 1);
    lz_event(log, 6); /* the pooled block again: no new one */
    assert_int_equal(stats_of(sky).context_block_bytes, pooled);
    sky_context_pop();
    assert_int_equal(sky_flush(sky, 30000), SKY_OK);
    assert_int_equal(cap.n, 7);
    assert_non_null(strstr(cap.lines[1], "\"req\":\"r-1\",\"n\":1}"));
    assert_non_null(strstr(cap.lines[2], "\"req\":\"r-2\",\"lz\":\"call 1\",\"n\":2}"));
    assert_non_null(strstr(cap.lines[4], "\"req\":\"r-2\",\"lz\":\"call 3\",\"n\":4}"));
    assert_non_null(strstr(cap.lines[5], "\"lz\":\"call 4\",\"t\":\"inner\",\"n\":5}"));
    assert_non_null(strstr(cap.lines[6], "\"req\":\"r-1\",\"n\":6}"));
    assert_int_equal(lazy_calls, 4);
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&cap);
}

/* Blocks are made 16 at a time, in one allocation, once a pipeline has 16 (async.c:
 * ctx_slab): with the worker held (nothing reclaimed, the pool empty), the first scopes make
 * their blocks one by one, then one scope makes 16 blocks' bytes at once and the next 15
 * scopes take the others from the pool, making none. Each block holds its own scope's values,
 * every block of a slab is pooled and reused once written, and each is freed alone at close
 * (LeakSanitizer: the allocation goes with its last block). */
#define SLAB_SCOPES 48
static void slab_event(sky_logger *log, long n) { sky_info(log, "slab", SKY_INT("n", n)); }

static void test_blocks_made_sixteen_at_a_time(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_held(1 << 20, 256 << 10, &cap);
    sky_logger *log = sky_logger_get(sky, "app");
    slab_event(log, -1); /* the site learns its schema */
    assert_int_equal(sky_flush(sky, 30000), SKY_OK);
    hold_worker(log);
    static char reqs[SLAB_SCOPES][16];
    uint64_t step[SLAB_SCOPES], before = stats_of(sky).context_block_bytes;
    for (long k = 0; k < SLAB_SCOPES; k++) {
        snprintf(reqs[k], sizeof reqs[k], "r-%ld", k);
        const sky_field f[] = {SKY_STR("req", reqs[k])};
        sky_context_push(f, 1);
        slab_event(log, k);
        sky_context_pop();
        uint64_t now = stats_of(sky).context_block_bytes;
        step[k] = now - before;
        before = now;
    }
    long slab = -1;
    for (long k = 1; k < SLAB_SCOPES && slab < 0; k++)
        if (step[k] >= 16 * step[0])
            slab = k;
    assert_true(step[0] > 0);
    assert_true(slab > 0 && slab + 16 <= SLAB_SCOPES);
    for (long k = 0; k < slab; k++)
        assert_int_equal(step[k], step[0]); /* one by one */
    for (long k = slab + 1; k < slab + 16; k++)
        assert_int_equal(step[k], 0); /* from the slab, through the pool */
    assert_true(step[slab + 16] > 0); /* the pool empty again */
    assert_within_bound(sky);
    release_worker();
    assert_int_equal(sky_flush(sky, 30000), SKY_OK);
    uint64_t all = stats_of(sky).context_block_bytes;
    for (long k = 0; k < SLAB_SCOPES; k++) { /* every block pooled: none made */
        const sky_field f[] = {SKY_STR("req", reqs[k])};
        sky_context_push(f, 1);
        slab_event(log, SLAB_SCOPES + k);
        sky_context_pop();
    }
    assert_int_equal(stats_of(sky).context_block_bytes, all);
    assert_int_equal(sky_close(sky), SKY_OK);
    assert_int_equal(cap.n, 2 + 2 * SLAB_SCOPES);
    char want[64];
    for (long k = 0; k < 2 * SLAB_SCOPES; k++) {
        snprintf(want, sizeof want, "\"req\":\"r-%ld\",\"n\":%ld}", k % SLAB_SCOPES, k);
        assert_non_null(strstr(cap.lines[2 + k], want));
    }
    skytest_capture_reset(&cap);
}

/* Where a scope's fields are read (sky_context_push): at the push once the thread's last
 * block was made for the same pipeline (its home) and that pipeline has a pooled block, so
 * that the scope's first event takes the inlined path; else at the scope's first event. A
 * closed home is forgotten (a push never reads its freed pool: ASan), and a scope that logs
 * to another pipeline than its block's makes that one the home. */
static void home_event(sky_logger *log, long n) { sky_info(log, "home", SKY_INT("n", n)); }

static sky_t *open_async_capture(skytest_capture *cap)
{
    sky_t *sky = NULL;
    assert_int_equal(sky_open(&(sky_options){.mode = SKY_MODE_ASYNC}, &sky), SKY_OK);
    assert_int_equal(sky_add_sink(sky, skytest_capture_sink(cap, SKY_FORMAT_JSON), NULL), SKY_OK);
    return sky;
}

static void test_scope_copied_at_push_for_home(void **state)
{
    (void)state;
    skytest_capture ca = {0}, cb = {0}, cc = {0};
    sky_t *a = open_async_capture(&ca);
    sky_logger *la = sky_logger_get(a, "app");
    home_event(la, 0); /* the site learns its schema */
    sky_field f[] = {SKY_STR("req", "at push")};
    /* no home (or an earlier test's closed pipeline): read at the first event */
    sky_context_push(f, 1);
    f[0] = SKY_STR("req", "first event");
    home_event(la, 1);
    sky_context_pop();
    assert_int_equal(sky_flush(a, 30000), SKY_OK); /* its block pooled; `a` is the home */
    uint64_t pooled = stats_of(a).context_block_bytes;
    assert_true(pooled > 0);
    f[0] = SKY_STR("req", "at push");
    sky_context_push(f, 1); /* the pooled block, filled here */
    f[0] = SKY_STR("req", "changed");
    home_event(la, 2);
    home_event(la, 3);
    sky_context_pop();
    assert_int_equal(stats_of(a).context_block_bytes, pooled); /* no block made */
    assert_int_equal(sky_close(a), SKY_OK);
    assert_int_equal(ca.n, 4);
    assert_non_null(strstr(ca.lines[1], "\"req\":\"first event\",\"n\":1}"));
    assert_non_null(strstr(ca.lines[2], "\"req\":\"at push\",\"n\":2}"));
    assert_non_null(strstr(ca.lines[3], "\"req\":\"at push\",\"n\":3}"));

    /* the home closed: forgotten at the next push, read at the first event again (b may
     * well be at a's address) */
    sky_t *b = open_async_capture(&cb);
    sky_logger *lb = sky_logger_get(b, "app");
    f[0] = SKY_STR("req", "at push");
    sky_context_push(f, 1);
    f[0] = SKY_STR("req", "first event");
    home_event(lb, 10);
    sky_context_pop();
    assert_int_equal(sky_flush(b, 30000), SKY_OK); /* b is the home, with a pooled block */

    /* a scope logging to c while its block was made for b at the push: c's events copy the
     * scope; c becomes the home, so the next scope's block is c's (made at its first event,
     * c's pool being empty), and the one after that is filled at the push from c's pool */
    sky_t *c = open_async_capture(&cc);
    sky_logger *lc = sky_logger_get(c, "app");
    sky_context_push(f, 1);
    home_event(lc, 20);
    sky_context_pop();
    assert_int_equal(sky_flush(c, 30000), SKY_OK);
    assert_int_equal(stats_of(c).context_block_bytes, 0);
    sky_context_push(f, 1);
    home_event(lc, 21);
    sky_context_pop();
    assert_int_equal(sky_flush(c, 30000), SKY_OK);
    assert_true(stats_of(c).context_block_bytes > 0);
    f[0] = SKY_STR("req", "at push");
    sky_context_push(f, 1);
    f[0] = SKY_STR("req", "changed");
    home_event(lc, 22);
    sky_context_pop();
    assert_int_equal(sky_close(c), SKY_OK);
    assert_int_equal(cc.n, 3);
    assert_non_null(strstr(cc.lines[0], "\"req\":\"first event\",\"n\":20}"));
    assert_non_null(strstr(cc.lines[1], "\"req\":\"first event\",\"n\":21}"));
    assert_non_null(strstr(cc.lines[2], "\"req\":\"at push\",\"n\":22}"));
    assert_int_equal(sky_close(b), SKY_OK);
    assert_int_equal(cb.n, 1);
    assert_non_null(strstr(cb.lines[0], "\"req\":\"first event\",\"n\":10}"));
    skytest_capture_reset(&ca);
    skytest_capture_reset(&cb);
    skytest_capture_reset(&cc);
}

/* Sync pipelines keep no blocks: their counters stay 0. */
static void test_sync_has_no_blocks(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = NULL;
    assert_int_equal(sky_open(&(sky_options){.mode = SKY_MODE_SYNC}, &sky), SKY_OK);
    assert_int_equal(sky_add_sink(sky, skytest_capture_sink(&cap, SKY_FORMAT_JSON), NULL), SKY_OK);
    const sky_field f[] = {SKY_STR("req", "r")};
    sky_context_push(f, 1);
    sky_info(sky_logger_get(sky, "app"), "ev");
    sky_context_pop();
    sky_stats st = stats_of(sky);
    assert_int_equal(st.context_block_limit, 0);
    assert_int_equal(st.context_block_high_water, 0);
    assert_int_equal(st.context_copied, 0);
    assert_int_equal(cap.n, 1);
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&cap);
}

/* ---- rendering: the same text whichever way the scope's fields travel ----------------------- */

/* A sink of its own rendering the coloured pretty format (a console on a TTY). */
static sky_status color_write(void *self, const sky_record *recs, size_t n)
{
    skytest_capture *cap = self;
    for (size_t i = 0; i < n; i++) {
        sky_buf b = {0};
        sky__render_pretty(recs[i].event, &b, true);
        assert_false(b.oom);
        keep(cap, b.p, b.len);
        sky__buf_free(&b);
    }
    return SKY_OK;
}
static const sky_sink_vtable color_vt = {.type = "color", .write = color_write};

/* A sink that lists the fields the event holds (what processors and custom sinks read). */
static sky_status fields_write(void *self, const sky_record *recs, size_t n)
{
    skytest_capture *cap = self;
    for (size_t i = 0; i < n; i++) {
        sky_buf b = {0};
        const sky_event *ev = recs[i].event;
        for (size_t k = 0; k < sky_event_field_count(ev); k++) {
            const sky_field *f = sky_event_field_at(ev, k);
            sky__buf_puts(&b, f->key);
            sky__buf_putc(&b, '=');
            sky__json_value(&b, f);
            sky__buf_putc(&b, ';');
        }
        sky__buf_putc(&b, '\n');
        assert_false(b.oom);
        keep(cap, b.p, b.len);
        sky__buf_free(&b);
    }
    return SKY_OK;
}
static const sky_sink_vtable fields_vt = {.type = "fields", .write = fields_write};

enum { NFMT = 5 };
static const char *const fmt_names[NFMT] = {"json", "logfmt", "plain", "pretty", "fields"};

static sky_t *open_formats(sky_mode mode, skytest_capture caps[NFMT])
{
    sky_t *sky = NULL;
    assert_int_equal(sky_open(&(sky_options){.mode = mode}, &sky), SKY_OK);
    sky_sink *sinks[NFMT] = {skytest_capture_sink(&caps[0], SKY_FORMAT_JSON),
                             skytest_capture_sink(&caps[1], SKY_FORMAT_LOGFMT),
                             skytest_capture_sink(&caps[2], SKY_FORMAT_PRETTY),
                             sky_sink_new(&color_vt, &caps[3], SKY_FORMAT_NONE),
                             sky_sink_new(&fields_vt, &caps[4], SKY_FORMAT_NONE)};
    for (int k = 0; k < NFMT; k++)
        assert_int_equal(sky_add_sink(sky, sinks[k], NULL), SKY_OK);
    return sky;
}

/* A line without its timestamp, whatever the format. */
static const char *untimed(const char *line)
{
    const char *p;
    if (line[0] == '{' && (p = strstr(line, "\"level\"")))
        return p;
    if (strncmp(line, "ts=", 3) == 0 && (p = strstr(line, " level=")))
        return p;
    /* pretty: "HH:MM:SS.mmm ", possibly after a colour escape */
    if ((isdigit((unsigned char)line[0]) || line[0] == '\x1b') && (p = strchr(line, ':')) &&
        p - line >= 2 && strlen(p) > 10 && p[3] == ':' && p[6] == '.')
        return p + 10;
    return line;
}

static char long_a[3001], long_b[5001]; /* over the fragment's scratch; over direct escaping */

/* The scopes, each a set of fields of every type: the fragment's text must be what the
 * fields give on the general path. */
#define NSCOPES 6
static void scope_fields(int s, sky_field *f, size_t *n)
{
    size_t k = 0;
    switch (s) {
    case 0: /* the usual: two strings */
        f[k++] = SKY_STR("request_id", "3f2a9c1e-77b4-4c1e-9a51-0d6e4a1b2c3d");
        f[k++] = SKY_STR("tenant", "acme");
        break;
    case 1: /* every type; reserved keys; a key to escape */
        f[k++] = SKY_STR("level", "shadow");
        f[k++] = SKY_STR("we\"ird\nkey", "v");
        f[k++] = SKY_INT("i", -9223372036854775807LL - 1);
        f[k++] = SKY_UINT("u", 18446744073709551615ULL);
        f[k++] = SKY_F64("f", 0.1);
        f[k++] = SKY_F64("nan", NAN);
        f[k++] = SKY_F64("ninf", -INFINITY);
        f[k++] = SKY_BOOL("b", true);
        f[k++] = SKY_ERRNO("e", 2);
        f[k++] = SKY_ERRNO("e2", 99999);
        f[k++] = SKY_TIME("at", 1700000000123456789LL);
        f[k++] = SKY_DUR("took", 1500000);
        f[k++] = SKY_JSON("raw", "{\"a\":\n[1, 2]}");
        f[k++] = SKY_JSON("bad", "{not json");
        f[k++] = SKY_NULL("nil");
        f[k++] = SKY_STR("message", "reserved too");
        break;
    case 2: /* escapes, control characters, invalid UTF-8: text longer than its room */
        f[k++] = SKY_STR("ctl", "\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10\x11\x1f");
        f[k++] = SKY_STR("bad", "\xff\xfe\xc3 caf\xc3\xa9 \xe2\x82");
        f[k++] = SKY_STR("q", "\"\\\"\\\"\\\"\\\"\\");
        break;
    case 3: /* a string over the fragment's scratch room */
        f[k++] = SKY_STR("long", long_a);
        f[k++] = SKY_INT("after", 1);
        break;
    case 4: /* over the direct escaper's limit */
        f[k++] = SKY_STR("longer", long_b);
        break;
    case 5: /* a key the call repeats (the general de-duplication), and an empty value */
        f[k++] = SKY_STR("n", "the call's n wins");
        f[k++] = SKY_STR("empty", "");
        break;
    }
    *n = k;
}

/* SCOPE_LINE must be the line of the sky_info() call */
/* clang-format off */
enum { SCOPE_LINE = __LINE__ }; static void via_site(sky_logger *log, long i) { sky_info(log, "ev", SKY_STR("user", "u\"1"), SKY_INT("n", i)); }
/* clang-format on */
static void via_emit(sky_logger *log, long i)
{
    static const sky_callsite cs = {__FILE__, "via_site", SCOPE_LINE};
    const sky_field fs[] = {SKY_STR("user", "u\"1"), SKY_INT("n", i)};
    sky_emit(log, SKY_LEVEL_INFO, "ev", &cs, fs, 2);
}

/* Logs every scope nested in an outer one and alone, each event by the site (the block) and
 * by sky_emit (copied), twice (a block's first event, then another). With `prime`, each
 * scope's first event goes to that other pipeline, which then has the scope's block: the
 * site's events copy the scope into their records, as past the bound. */
static void prime_event(sky_logger *prime) { sky_info(prime, "prime"); } /* one site */
static void log_scopes(sky_t *sky, sky_logger *prime)
{
    if (prime)
        prime_event(prime); /* its site learns its schema: later calls make blocks */
    sky_logger *log = sky_logger_get(sky, "app");
    via_site(log, -1); /* the site learns its schema */
    via_emit(log, -1);
    const sky_field outer[] = {SKY_STR("svc", "api"), SKY_STR("tenant", "outer tenant")};
    long i = 0;
    for (int nest = 0; nest < 2; nest++)
        for (int s = 0; s < NSCOPES; s++) {
            sky_field f[20];
            size_t n;
            scope_fields(s, f, &n);
            if (nest)
                sky_context_push(outer, 2);
            sky_context_push(f, n);
            if (prime)
                prime_event(prime);
            for (int rep = 0; rep < 2; rep++, i++) {
                via_site(log, i);
                via_emit(log, i);
            }
            sky_context_pop();
            if (nest)
                sky_context_pop();
        }
}

static void test_scoped_events_render_as_general_path(void **state)
{
    (void)state;
    memset(long_a, 'a', sizeof long_a - 1);
    long_a[7] = '"';
    for (size_t k = 0; k < sizeof long_b - 1; k++)
        long_b[k] = k % 11 ? 'x' : '\t';
    skytest_capture as[NFMT] = {{0}}, sy[NFMT] = {{0}}, ar[NFMT] = {{0}};
    sky_t *a = open_formats(SKY_MODE_ASYNC, as);
    sky_t *s = open_formats(SKY_MODE_SYNC, sy);
    sky_t *r = open_formats(SKY_MODE_ASYNC, ar);
    sky_t *other = NULL;
    assert_int_equal(sky_open(&(sky_options){.mode = SKY_MODE_ASYNC}, &other), SKY_OK);
    log_scopes(a, NULL);
    log_scopes(s, NULL);
    log_scopes(r, sky_logger_get(other, "prime"));
    assert_int_equal(sky_flush(a, 30000), SKY_OK);
    assert_int_equal(sky_flush(r, 30000), SKY_OK);
    assert_int_equal(sky_flush(other, 30000), SKY_OK);
    sky_stats st;
    assert_int_equal(sky_stats_get(r, &st), SKY_OK);
    assert_int_equal(st.context_block_high_water, 0); /* r's scopes were all copies */
    size_t want = 2 * (1 + 2 * NSCOPES * 2);
    for (int k = 0; k < NFMT; k++) {
        assert_int_equal(as[k].n, want);
        assert_int_equal(sy[k].n, want);
        assert_int_equal(ar[k].n, want);
        for (size_t i = 0; i < want; i++) {
            /* the site's line (block) is the general path's (copied), and a sync pipeline's,
             * and the site's line whose record has a copy of the scope */
            const char *line = as[k].lines[i], *pair = as[k].lines[i ^ 1];
            if (strcmp(untimed(line), untimed(pair)) ||
                strcmp(untimed(line), untimed(sy[k].lines[i])) ||
                strcmp(untimed(line), untimed(ar[k].lines[i])))
                fail_msg("%s line %zu:\n  %s\n  %s\n  %s\n  %s", fmt_names[k], i, line, pair,
                         sy[k].lines[i], ar[k].lines[i]);
        }
    }
    /* what the lines hold, spelled out (JSON; the same before the fragment was rendered this
     * way: these were the lines of the block path and of the general path) */
    char w[1024];
    snprintf(w, sizeof w,
             "\"line\":%d,\"request_id\":\"3f2a9c1e-77b4-4c1e-9a51-0d6e4a1b2c3d\","
             "\"tenant\":\"acme\",\"user\":\"u\\\"1\",\"n\":0}\n",
             (int)SCOPE_LINE);
    assert_non_null(strstr(as[0].lines[2], w));
    snprintf(w, sizeof w,
             "\"line\":%d,\"_level\":\"shadow\",\"we\\\"ird\\nkey\":\"v\","
             "\"i\":-9223372036854775808,\"u\":18446744073709551615,\"f\":0.1,\"nan\":\"NaN\","
             "\"ninf\":\"-Infinity\",\"b\":true,\"e\":\"ENOENT: No such file or directory\","
             "\"e2\":\"errno 99999\",\"at\":\"2023-11-14T22:13:20.123Z\",\"took\":1.5,"
             "\"raw\":{\"a\": [1, 2]},\"bad\":\"{not json\",\"nil\":null,"
             "\"_message\":\"reserved too\",\"user\":\"u\\\"1\",\"n\":2}\n",
             (int)SCOPE_LINE);
    assert_non_null(strstr(as[0].lines[6], w));
    snprintf(
        w, sizeof w,
        "\"line\":%d,\"ctl\":\"\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\u000b"
        "\\f\\u000e\\u000f\\u0010\\u0011\\u001f\",\"bad\":\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
        " caf\xc3\xa9 \xef\xbf\xbd\",\"q\":\"\\\"\\\\\\\"\\\\\\\"\\\\\\\"\\\\\\\"\\\\\","
        "\"user\":\"u\\\"1\",\"n\":4}\n",
        (int)SCOPE_LINE);
    assert_non_null(strstr(as[0].lines[10], w));
    /* the call's key wins over the scope's, at the call's position */
    snprintf(w, sizeof w,
             "\"line\":%d,\"svc\":\"api\",\"tenant\":\"outer tenant\",\"empty\":\"\","
             "\"user\":\"u\\\"1\",\"n\":22}\n",
             (int)SCOPE_LINE);
    assert_non_null(strstr(as[0].lines[46], w));
    /* nested: the outer scope's fields first, then the inner's (tenant: the inner wins) */
    snprintf(w, sizeof w,
             "\"line\":%d,\"svc\":\"api\",\"request_id\":\"3f2a9c1e-77b4-4c1e-9a51-0d6e4a1b2c3d\","
             "\"tenant\":\"acme\",\"user\":",
             (int)SCOPE_LINE);
    assert_non_null(strstr(as[0].lines[26], w));
    assert_int_equal(sky_close(a), SKY_OK);
    assert_int_equal(sky_close(s), SKY_OK);
    assert_int_equal(sky_close(r), SKY_OK);
    assert_int_equal(sky_close(other), SKY_OK);
    for (int k = 0; k < NFMT; k++) {
        skytest_capture_reset(&as[k]);
        skytest_capture_reset(&sy[k]);
        skytest_capture_reset(&ar[k]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scoped_events_render_as_general_path),
        cmocka_unit_test(test_blocks_bounded),
        cmocka_unit_test(test_fork_releases_other_threads_blocks),
        cmocka_unit_test(test_huge_scope_keeps_its_block),
        cmocka_unit_test(test_sync_has_no_blocks),
        cmocka_unit_test(test_lazy_scope_keeps_the_pool),
        cmocka_unit_test(test_scope_copied_at_push_for_home),
        cmocka_unit_test(test_blocks_made_sixteen_at_a_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * bench_c.c - skylog (async, sync) and an fprintf baseline on the workloads of workload.h, as
 * JSON lines to a file.
 *
 *   bench_c <skylog-async|skylog-async-spool|skylog-sync|fprintf> <lit|rt|ctx|bound|scope|mix|mixn>
 *           <threads> <paced|burst|disabled|callgrind|driver> <events> <file>
 *
 * skylog-async-spool is skylog-async with the ring kept in <file>.ring (ring_spool_path,
 * docs/DURABILITY.md): what the crash-safe ring costs.
 *
 * Producer k logs events [k * events/threads, (k+1) * events/threads). The end-to-end time
 * runs from the first call until sky_close() returned (everything written and the file
 * closed). "disabled" times a call whose level is off (DEBUG on an INFO logger). "callgrind"
 * logs `events` events with no timing around them, for valgrind --tool=callgrind: the
 * caller's cost is the inclusive cost of log_<workload>() (the log statement, plus for mix the
 * scope's push and pop), the worker's that of worker_main. "driver" (mix and mixn) runs the
 * same loop through log_<workload>_drv(), the benchmark's own part of log_<workload>() without
 * any library code, and logs nothing: for the caller's count net of the driver.
 */
#include "common.h"
#include "workload.h"

#include <skylog.h>

static sky_t *sky;
static sky_logger *lg;
static FILE *out;
static wl_event tab[WL_EVENTS]; /* values, read at run time */
static char ring_path[4096];   /* skylog-async-spool: the ring's file */

__attribute__((noinline)) void log_lit(long i)
{
    sky_info(lg, "user_login", SKY_STR("user", "alice"), SKY_INT("id", i), SKY_F64("ms", 1.5));
}

/* rt, ctx, bound: the string and the double are read through volatiles, which the driver
 * (drive_*) sets from the table before each call, so log_*() is the log statement alone.
 * Per thread: shared by 4 producers, one thread's values could be logged by another's call
 * (bench_check then found doubles that did not round-trip, now and then). */
static _Thread_local const char *volatile v_user;
static _Thread_local volatile double v_ms;

__attribute__((noinline)) void log_rt(long i)
{
    sky_info(lg, "user_login", SKY_STR("user", v_user), SKY_INT("id", i), SKY_F64("ms", v_ms));
}

/* ctx: the thread's scope is open around all its calls (bench_begin / bench_end) */
static _Thread_local sky_field ctx_fields[2];
static void ctx_begin(void)
{
    ctx_fields[0] = SKY_STR("request_id", wl_reqs[0].s);
    ctx_fields[1] = SKY_STR("tenant", "acme");
    sky_context_push(ctx_fields, 2);
}
static void ctx_end(void) { sky_context_pop(); }

__attribute__((noinline)) void log_ctx(long i)
{
    sky_info(lg, "user_login", SKY_STR("user", v_user), SKY_INT("id", i), SKY_F64("ms", v_ms));
}

/* scope: the ctx event in a scope of its own, opened and closed around each call (push, the
 * call, pop: what a scope costs at the least, its block made for one event). The fields are
 * made once a thread, so the count holds the push, the call and the pop alone. */
static void scope_begin(void)
{
    ctx_fields[0] = SKY_STR("request_id", wl_reqs[0].s);
    ctx_fields[1] = SKY_STR("tenant", "acme");
}

__attribute__((noinline)) void log_scope(long i)
{
    sky_context_push(ctx_fields, 2);
    sky_info(lg, "user_login", SKY_STR("user", v_user), SKY_INT("id", i), SKY_F64("ms", v_ms));
    sky_context_pop();
}

/* bound: one bound logger per thread */
static _Thread_local sky_logger *blg;
static void bound_begin(void)
{
    blg = SKY_BIND(lg, SKY_STR("request_id", wl_reqs[0].s), SKY_STR("tenant", "acme"));
}
static void bound_end(void) { sky_logger_release(blg); }

__attribute__((noinline)) void log_bound(long i)
{
    sky_info(blg, "user_login", SKY_STR("user", v_user), SKY_INT("id", i), SKY_F64("ms", v_ms));
}

static void set_values(long i)
{
    const wl_event *e = &tab[i & (WL_EVENTS - 1)];
    v_user = e->user;
    v_ms = e->ms;
}
static void drive_rt(long i) { set_values(i), log_rt(i); }
static void drive_ctx(long i) { set_values(i), log_ctx(i); }
static void drive_bound(long i) { set_values(i), log_bound(i); }
static void drive_scope(long i) { set_values(i), log_scope(i); }

/* mix and mixn: one body, the strings made by S(key, e->member, e->member_n), the call by
 * L##_info and the other fields by L##_INT etc., the scope opened by L##_push (after
 * ctx_fields[] are made from req and tenant) and closed by L##_pop. L is SKY for the library;
 * DRV (below) for the benchmark's own part alone. */
#define S_STR(k, s, n) SKY_STR((k), (s))
#define S_STRN(k, s, n) SKY_STRN((k), (s), (n))
#define SKY_info sky_info
#define SKY_push(req, tenant)                                                                      \
    (ctx_fields[0] = SKY_STR("request_id", req), ctx_fields[1] = SKY_STR("tenant", tenant),        \
     sky_context_push(ctx_fields, 2))
#define SKY_pop() sky_context_pop()
#define LOG_MIX_BODY(S, L)                                                                         \
    const wl_event *e = &tab[i & (WL_EVENTS - 1)];                                                 \
    if (i % 16 == 0) { /* a request scope for this event and the next three */                    \
        const char *req, *tenant;                                                                  \
        wl_scope(i, &req, &tenant);                                                                \
        L##_push(req, tenant);                                                                     \
    }                                                                                              \
    switch (e->nfields) {                                                                          \
    case 6:                                                                                        \
        L##_info(lg, "request", S("user", e->user, e->user_n), S("path", e->path, e->path_n),      \
                 L##_INT("id", i), L##_F64("ms", e->ms), L##_BOOL("ok", e->ok),                    \
                 L##_ERRNO("err", e->err));                                                        \
        break;                                                                                     \
    case 7:                                                                                        \
        L##_info(lg, "request", S("user", e->user, e->user_n), S("path", e->path, e->path_n),      \
                 L##_INT("id", i), L##_F64("ms", e->ms), L##_BOOL("ok", e->ok),                    \
                 L##_ERRNO("err", e->err), L##_UINT("bytes", e->bytes));                           \
        break;                                                                                     \
    default:                                                                                       \
        L##_info(lg, "request", S("user", e->user, e->user_n), S("path", e->path, e->path_n),      \
                 L##_INT("id", i), L##_F64("ms", e->ms), L##_BOOL("ok", e->ok),                    \
                 L##_ERRNO("err", e->err), L##_UINT("bytes", e->bytes),                            \
                 S("agent", e->agent, e->agent_n));                                                \
        break;                                                                                     \
    }                                                                                              \
    if (i % 16 == 3)                                                                               \
        L##_pop();

__attribute__((noinline)) void log_mix(long i) { LOG_MIX_BODY(S_STR, SKY) }
/* the same events, each string passed with its length */
__attribute__((noinline)) void log_mixn(long i) { LOG_MIX_BODY(S_STRN, SKY) }

/* The driver alone (mode "driver", callgrind only): the same body with every value the call
 * would take handed to an empty asm in a register instead (the table's loads, the switch, the
 * scope's values), and no library code: neither the call, nor a string's measuring (SKY_STR's
 * strlen is the library's), nor the scope's push and pop. log_mix minus log_mix_drv is the
 * library's share of the caller's count (bench/RESULTS.md says how far to trust it). */
static inline __attribute__((always_inline)) int drv_use(uint64_t x)
{
    __asm__ volatile("" ::"r"(x));
    return 0;
}
static inline __attribute__((always_inline)) int drv_usef(double x)
{
    __asm__ volatile("" ::"x"(x));
    return 0;
}
#define DRV_info(lg, name, ...) (void)(int[]){__VA_ARGS__}
#define DRV_INT(k, v) drv_use((uint64_t)(v))
#define DRV_UINT(k, v) drv_use((uint64_t)(v))
#define DRV_BOOL(k, v) drv_use((uint64_t)(v))
#define DRV_ERRNO(k, v) drv_use((uint64_t)(v))
#define DRV_F64(k, v) drv_usef(v)
#define DRV_push(req, tenant) (drv_use((uintptr_t)(req)), drv_use((uintptr_t)(tenant)))
#define DRV_pop() (void)0
#define D_STR(k, s, n) drv_use((uintptr_t)(s))
#define D_STRN(k, s, n) (drv_use((uintptr_t)(s)), drv_use((uint64_t)(n)))
__attribute__((noinline)) void log_mix_drv(long i) { LOG_MIX_BODY(D_STR, DRV) }
__attribute__((noinline)) void log_mixn_drv(long i) { LOG_MIX_BODY(D_STRN, DRV) }

__attribute__((noinline)) void log_disabled(long i)
{
    sky_debug(lg, "user_login", SKY_STR("user", "alice"), SKY_INT("id", i), SKY_F64("ms", 1.5));
}

/* fprintf: lit and rt only (strings that need no escaping) */
__attribute__((noinline)) void log_fprintf(long i)
{
    const wl_event *e = &tab[i & (WL_EVENTS - 1)];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    fprintf(out,
            "{\"timestamp\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",\"level\":\"INFO\","
            "\"logger\":\"bench\",\"message\":\"user_login\",\"user\":\"%s\",\"id\":%ld,"
            "\"ms\":%.17g}\n",
            tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
            ts.tv_nsec / 1000000, e->user, i, e->ms);
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: %s <skylog-async|skylog-async-spool|skylog-sync|fprintf> "
                        "<lit|rt|ctx|bound|scope|mix|mixn> "
                        "<threads> <paced|burst|disabled|callgrind|driver> <events> <file>\n",
                argv[0]);
        return 2;
    }
    const char *cand = argv[1], *wl = argv[2], *mode = argv[4], *path = argv[6];
    int threads = atoi(argv[3]);
    long events = atol(argv[5]);
    bench_calibrate();
    wl_init();
    for (long k = 0; k < WL_EVENTS; k++)
        wl_event_of(wl, k, &tab[k]);
    bench_log_fn fn = NULL;
    remove(path);
    if (strcmp(cand, "fprintf") == 0) {
        out = fopen(path, "w");
        fn = log_fprintf;
        if (strcmp(wl, "lit") && strcmp(wl, "rt")) {
            fprintf(stderr, "fprintf: lit and rt only\n");
            return 2;
        }
    } else {
        bool spool = strcmp(cand, "skylog-async-spool") == 0;
        sky_options o = {.mode = strcmp(cand, "skylog-async") == 0 || spool ? SKY_MODE_ASYNC
                                                                            : SKY_MODE_SYNC,
                         .level = SKY_LEVEL_INFO, .level_set = true};
        if (spool) {
            snprintf(ring_path, sizeof ring_path, "%s.ring", path);
            remove(ring_path);
            o.ring_spool_path = ring_path;
        }
        if (sky_open(&o, &sky) != SKY_OK)
            return 1;
        sky_sink *fs;
        if (sky_sink_file(&(sky_file_opts){.path = path}, &fs, NULL) != SKY_OK ||
            sky_add_sink(sky, fs, NULL) != SKY_OK)
            return 1;
        lg = sky_logger_get(sky, "bench");
        if (strcmp(mode, "disabled") == 0)
            fn = log_disabled;
        else if (strcmp(mode, "driver") == 0)
            fn = strcmp(wl, "mix") == 0 ? log_mix_drv : strcmp(wl, "mixn") == 0 ? log_mixn_drv : NULL;
        else if (strcmp(wl, "lit") == 0)
            fn = log_lit;
        else if (strcmp(wl, "rt") == 0)
            fn = drive_rt;
        else if (strcmp(wl, "ctx") == 0)
            fn = drive_ctx, bench_begin = ctx_begin, bench_end = ctx_end;
        else if (strcmp(wl, "bound") == 0)
            fn = drive_bound, bench_begin = bound_begin, bench_end = bound_end;
        else if (strcmp(wl, "scope") == 0)
            fn = drive_scope, bench_begin = scope_begin;
        else if (strcmp(wl, "mix") == 0)
            fn = log_mix;
        else if (strcmp(wl, "mixn") == 0)
            fn = log_mixn;
    }
    if (!fn) {
        fprintf(stderr, "unknown workload %s\n", wl);
        return 2;
    }
    double p50 = 0, p99 = 0;
    int64_t t0 = bench_mono_ns();
    if (strcmp(mode, "callgrind") == 0 || strcmp(mode, "driver") == 0) {
        if (bench_begin)
            bench_begin();
        for (long i = 0; i < events; i++)
            fn(i);
        if (bench_end)
            bench_end();
    } else if (strcmp(mode, "disabled") == 0) {
        for (long i = 0; i < events; i++)
            fn(i);
        p50 = p99 = (double)(bench_mono_ns() - t0) / (double)events;
    } else {
        bench_run(fn, threads, events, strcmp(mode, "paced") == 0, &p50, &p99);
    }
    int rc = 0;
    if (sky) {
        sky_flush(sky, 600000);
        sky_stats st;
        sky_stats_get(sky, &st);
        if (strcmp(mode, "driver") != 0 && /* which logs nothing */
            (st.routed != st.emitted || st.emitted != (uint64_t)events)) {
            fprintf(stderr, "%s: %llu events emitted, %llu written, %ld logged\n", cand,
                    (unsigned long long)st.emitted, (unsigned long long)st.routed, events);
            rc = strcmp(mode, "disabled") == 0 ? 0 : 1;
        }
        if (st.context_block_high_water) /* the scopes' copies (sky_stats) */
            fprintf(stderr,
                    "context blocks: %llu bytes at most (limit %llu), %llu events copied "
                    "their scope\n",
                    (unsigned long long)st.context_block_high_water,
                    (unsigned long long)st.context_block_limit,
                    (unsigned long long)st.context_copied);
        sky_close(sky);
        if (ring_path[0])
            remove(ring_path);
    } else {
        fclose(out);
    }
    int64_t wall = bench_mono_ns() - t0;
    bench_report(cand, wl, threads, mode, events, wall, p50, p99);
    return rc;
}

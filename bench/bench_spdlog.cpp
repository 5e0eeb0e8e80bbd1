/*
 * bench_spdlog.cpp - spdlog (Debian's 1.10, with fmt) on the workloads of workload.h,
 * formatting the same JSON line through its pattern (UTC, milliseconds) and fmt.
 *
 *   bench_spdlog <spdlog-sync|spdlog-async> <lit|rt|ctx|bound|scope|mix> <threads>
 *                <paced|burst|callgrind> <events> <file>
 *
 * spdlog-sync is the single-threaded logger (basic_logger_st) with one producer and the _mt
 * one with more. spdlog-async: its thread pool (one worker, queue of 8192 messages, block when
 * full). Strings that may need it (mix) go through a fmt formatter that JSON-escapes them into
 * fmt's buffer (what a spdlog user must add to get valid JSON lines); spdlog has no context or
 * bound fields, so the ctx and bound workloads pass their two fields in every call. The
 * end-to-end time runs until spdlog::shutdown() has flushed, drained and joined.
 */
#include "common.h"
#include "workload.h"

#include <spdlog/async.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

static std::shared_ptr<spdlog::logger> lg;
static wl_event tab[WL_EVENTS];

/* A string written JSON-escaped (byte loop, as a hand-written formatter would). */
struct jstr {
    const char *s;
    size_t n;
};
template <> struct fmt::formatter<jstr> {
    constexpr auto parse(format_parse_context &ctx) { return ctx.begin(); }
    template <typename Ctx> auto format(const jstr &j, Ctx &ctx) const
    {
        auto out = ctx.out();
        static const char hex[] = "0123456789abcdef";
        for (size_t i = 0; i < j.n; i++) {
            unsigned char c = (unsigned char)j.s[i];
            if (c == '"' || c == '\\') {
                *out++ = '\\';
                *out++ = (char)c;
            } else if (c == '\n') {
                *out++ = '\\';
                *out++ = 'n';
            } else if (c == '\t') {
                *out++ = '\\';
                *out++ = 't';
            } else if (c < 0x20) {
                for (char x : {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]})
                    *out++ = x;
            } else {
                *out++ = (char)c;
            }
        }
        return out;
    }
};

extern "C" __attribute__((noinline)) void log_lit(long i)
{
    lg->info("\"user_login\",\"user\":\"{}\",\"id\":{},\"ms\":{}", "alice", i, 1.5);
}

extern "C" __attribute__((noinline)) void log_rt(long i)
{
    const wl_event *e = &tab[i & (WL_EVENTS - 1)];
    lg->info("\"user_login\",\"user\":\"{}\",\"id\":{},\"ms\":{}", e->user, i, e->ms);
}

extern "C" __attribute__((noinline)) void log_ctx(long i)
{
    const wl_event *e = &tab[i & (WL_EVENTS - 1)];
    lg->info("\"user_login\",\"request_id\":\"{}\",\"tenant\":\"{}\",\"user\":\"{}\",\"id\":{},"
             "\"ms\":{}",
             e->req, e->tenant, e->user, i, e->ms);
}

extern "C" __attribute__((noinline)) void log_mix(long i)
{
    const wl_event *e = &tab[i & (WL_EVENTS - 1)];
    jstr u{e->user, e->user_n}, p{e->path, e->path_n}, a{e->agent, e->agent_n};
    const char *en = strerrorname_np(e->err), *ed = strerrordesc_np(e->err);
    if (i % 16 < 4) {
        const char *req, *tenant;
        wl_scope(i, &req, &tenant);
        switch (e->nfields) {
        case 6:
            lg->info("\"request\",\"request_id\":\"{}\",\"tenant\":\"{}\",\"user\":\"{}\","
                     "\"path\":\"{}\",\"id\":{},\"ms\":{},\"ok\":{},\"err\":\"{}: {}\"",
                     req, tenant, u, p, i, e->ms, e->ok, en, ed);
            break;
        case 7:
            lg->info("\"request\",\"request_id\":\"{}\",\"tenant\":\"{}\",\"user\":\"{}\","
                     "\"path\":\"{}\",\"id\":{},\"ms\":{},\"ok\":{},\"err\":\"{}: {}\","
                     "\"bytes\":{}",
                     req, tenant, u, p, i, e->ms, e->ok, en, ed, e->bytes);
            break;
        default:
            lg->info("\"request\",\"request_id\":\"{}\",\"tenant\":\"{}\",\"user\":\"{}\","
                     "\"path\":\"{}\",\"id\":{},\"ms\":{},\"ok\":{},\"err\":\"{}: {}\","
                     "\"bytes\":{},\"agent\":\"{}\"",
                     req, tenant, u, p, i, e->ms, e->ok, en, ed, e->bytes, a);
            break;
        }
        return;
    }
    switch (e->nfields) {
    case 6:
        lg->info("\"request\",\"user\":\"{}\",\"path\":\"{}\",\"id\":{},\"ms\":{},\"ok\":{},"
                 "\"err\":\"{}: {}\"",
                 u, p, i, e->ms, e->ok, en, ed);
        break;
    case 7:
        lg->info("\"request\",\"user\":\"{}\",\"path\":\"{}\",\"id\":{},\"ms\":{},\"ok\":{},"
                 "\"err\":\"{}: {}\",\"bytes\":{}",
                 u, p, i, e->ms, e->ok, en, ed, e->bytes);
        break;
    default:
        lg->info("\"request\",\"user\":\"{}\",\"path\":\"{}\",\"id\":{},\"ms\":{},\"ok\":{},"
                 "\"err\":\"{}: {}\",\"bytes\":{},\"agent\":\"{}\"",
                 u, p, i, e->ms, e->ok, en, ed, e->bytes, a);
        break;
    }
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: %s <spdlog-sync|spdlog-async> <lit|rt|ctx|bound|scope|mix> <threads> "
                        "<paced|burst|callgrind> <events> <file>\n", argv[0]);
        return 2;
    }
    std::string cand = argv[1], wl = argv[2], mode = argv[4], path = argv[6];
    int threads = atoi(argv[3]);
    long events = atol(argv[5]);
    bench_calibrate();
    wl_init();
    for (long k = 0; k < WL_EVENTS; k++)
        wl_event_of(wl.c_str(), k, &tab[k]);
    bench_log_fn fn = wl == "lit" ? log_lit : wl == "rt" ? log_rt
                      : wl == "ctx" || wl == "bound" || wl == "scope" ? log_ctx : wl == "mix" || wl == "mixn" ? log_mix
                                                                                : nullptr;
    if (!fn) {
        fprintf(stderr, "unknown workload %s\n", wl.c_str());
        return 2;
    }
    remove(path.c_str());
    if (cand == "spdlog-async") {
        spdlog::init_thread_pool(8192, 1);
        lg = spdlog::basic_logger_mt<spdlog::async_factory>("bench", path, true);
    } else if (threads == 1) {
        lg = spdlog::basic_logger_st("bench", path, true);
    } else {
        lg = spdlog::basic_logger_mt("bench", path, true);
    }
    lg->set_pattern("{\"timestamp\":\"%Y-%m-%dT%H:%M:%S.%eZ\",\"level\":\"%^%l%$\","
                    "\"logger\":\"%n\",\"message\":%v}",
                    spdlog::pattern_time_type::utc);
    lg->set_level(spdlog::level::info);
    double p50 = 0, p99 = 0;
    int64_t t0 = bench_mono_ns();
    if (mode == "callgrind") {
        for (long i = 0; i < events; i++)
            fn(i);
    } else {
        bench_run(fn, threads, events, mode == "paced", &p50, &p99);
    }
    lg->flush();
    lg.reset();
    spdlog::shutdown();
    int64_t wall = bench_mono_ns() - t0;
    bench_report(cand.c_str(), wl.c_str(), threads, mode.c_str(), events, wall, p50, p99);
    return 0;
}

/*
 * bench_spdlog.cpp - spdlog (Debian's 1.10, with fmt) on the same workload as bench_c.c,
 * formatting the same JSON line through its pattern (UTC, milliseconds) and fmt.
 *
 *   bench_spdlog <spdlog-sync|spdlog-async> <threads> <paced|burst|callgrind> <events> <file>
 *
 * Async: spdlog's thread pool (one worker, queue of 8192 messages, block when full); the
 * end-to-end time runs until spdlog::shutdown() has drained and joined the worker.
 */
#include "common.h"

#include <spdlog/async.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

static std::shared_ptr<spdlog::logger> lg;

extern "C" __attribute__((noinline)) void log_one_spdlog(long i)
{
    lg->info("\"user_login\",\"user\":\"{}\",\"id\":{},\"ms\":{}", "alice", i, 1.5);
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s <spdlog-sync|spdlog-async> <threads> <paced|burst|callgrind> "
                        "<events> <file>\n", argv[0]);
        return 2;
    }
    std::string cand = argv[1], mode = argv[3], path = argv[5];
    int threads = atoi(argv[2]);
    long events = atol(argv[4]);
    bench_calibrate();
    remove(path.c_str());
    bool async = cand == "spdlog-async";
    if (async) {
        spdlog::init_thread_pool(8192, 1);
        lg = spdlog::basic_logger_mt<spdlog::async_factory>("bench", path, true);
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
            log_one_spdlog(i);
    } else {
        bench_run(log_one_spdlog, threads, events, mode == "paced", &p50, &p99);
    }
    lg->flush();
    lg.reset();
    spdlog::shutdown();
    int64_t wall = bench_mono_ns() - t0;
    bench_report(cand.c_str(), threads, mode.c_str(), events, wall, p50, p99);
    return 0;
}

/*
 * cpp_basic.cpp - skylog from C++17: the same header and macros as in C.
 *
 *   ./example_cpp_basic FILE      JSON lines to FILE (async pipeline, two threads)
 *
 * What differs from C (see "C++" in skylog.h): every log call is the library call (no inlined
 * ring path), SKY_BIND and SKY_WITH_CONTEXT are small templates, and the context is popped by a
 * destructor, so an exception that leaves a SKY_WITH_CONTEXT block takes its fields with it.
 */
#include <skylog.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>

static sky_field cart_total(void *user, char *buf, size_t cap)
{
    std::snprintf(buf, cap, "%.2f EUR", *static_cast<const double *>(user));
    return SKY_STR("", buf);
}

static void checkout(sky_logger *log, const std::string &user, int items)
{
    SKY_WITH_CONTEXT(SKY_STR("user", user.c_str()), SKY_INT("items", items)) {
        if (items == 0)
            throw std::invalid_argument("empty cart");
        sky_info(log, "checkout_done");
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s FILE\n", argv[0]);
        return 2;
    }
    sky_options opts = {};
    opts.mode = SKY_MODE_ASYNC;
    sky_t *sky = nullptr;
    sky_sink *file = nullptr;
    char *err = nullptr;
    if (sky_open(&opts, &sky) != SKY_OK)
        return 1;
    sky_file_opts fo = {};
    fo.path = argv[1];
    if (sky_sink_file(&fo, &file, &err) != SKY_OK) {
        std::fprintf(stderr, "example_cpp_basic: %s\n", err);
        std::free(err);
        sky_close(sky);
        return 1;
    }
    sky_add_sink(sky, file, nullptr);
    sky_logger *log = sky_logger_get(sky, "shop.cpp");

    const std::string version = "1.2.3";
    double total = 41.5;
    sky_info(log, "started", SKY_STR("version", version.c_str()), SKY_BOOL("ready", true));
    sky_info(log, "no_fields");
    sky_warn(log, "cart", SKY_LAZY("total", cart_total, &total), SKY_F64("ms", 1.5));
    sky_error(log, "open_failed", SKY_ERRNO("error", ENOENT));

    checkout(log, "alice", 3);
    try {
        checkout(log, "bob", 0);
    } catch (const std::invalid_argument &e) {
        sky_error(log, "checkout_failed", SKY_STR("why", e.what())); /* no user: popped */
    }

    std::thread workers[2];
    for (int w = 0; w < 2; w++)
        workers[w] = std::thread([log, w] {
            sky_logger *bound = SKY_BIND(log, SKY_INT("worker", w));
            for (int i = 0; i < 100; i++)
                sky_debug(bound, "below_level", SKY_INT("i", i)); /* INFO pipeline: not logged */
            for (int i = 0; i < 100; i++)
                sky_info(bound, "tick", SKY_INT("i", i));
            sky_logger_release(bound);
        });
    for (auto &t : workers)
        t.join();
    return sky_close(sky) == SKY_OK ? 0 : 1;
}

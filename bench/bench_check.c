/*
 * bench_check.c - checks a benchmark run's output: exactly `events` lines, each a JSON object
 * (parsed by jansson, not by skylog), each id once, and every value equal to what the workload
 * logged for that id (bench/workload.h): strings byte for byte after JSON decoding (escapes,
 * UTF-8), doubles bit for bit (round trip), integers, booleans, errno texts, the context's or
 * bound logger's fields where they belong. A skylog.gap line is a failure: the default
 * settings must not lose events.
 *
 *   bench_check <lit|rt|ctx|bound|mix> <events> <file>
 *
 * Exit status 0 and "CHECK ok ..." when everything holds; 1 and the first problems otherwise.
 */
#include "workload.h"

#include <jansson.h>

static int fails;

static void fail(long line, const char *what, const char *key)
{
    if (fails++ < 10)
        fprintf(stderr, "bench_check: line %ld: %s %s\n", line, what, key ? key : "");
}

static void want_str(long ln, json_t *o, const char *key, const char *s, size_t n)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v) || json_string_length(v) != n || memcmp(json_string_value(v), s, n))
        fail(ln, "wrong string", key);
}

static void want_int(long ln, json_t *o, const char *key, long long x)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) != x)
        fail(ln, "wrong integer", key);
}

static void want_f64(long ln, json_t *o, const char *key, double x)
{
    json_t *v = json_object_get(o, key);
    double got = json_is_real(v) ? json_real_value(v)
                 : json_is_integer(v) ? (double)json_integer_value(v) : -1e300;
    if (memcmp(&got, &x, sizeof x) != 0)
        fail(ln, "double does not round-trip", key);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s <lit|rt|ctx|bound|scope|mix|mixn> <events> <file>\n", argv[0]);
        return 2;
    }
    const char *wl = argv[1];
    long events = atol(argv[2]);
    FILE *f = fopen(argv[3], "r");
    if (!f) {
        perror(argv[3]);
        return 1;
    }
    wl_init();
    unsigned char *seen = calloc((size_t)events + 1, 1);
    char *line = NULL;
    size_t cap = 0;
    long n = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        n++;
        json_error_t err;
        json_t *o = json_loadb(line, (size_t)len, 0, &err);
        if (!json_is_object(o)) {
            fail(n, "not a JSON object:", err.text);
            json_decref(o);
            continue;
        }
        json_t *msg = json_object_get(o, "message");
        if (json_is_string(msg) && strcmp(json_string_value(msg), "skylog.gap") == 0) {
            fail(n, "events were lost:", line);
            json_decref(o);
            continue;
        }
        json_t *idv = json_object_get(o, "id");
        long id = json_is_integer(idv) ? (long)json_integer_value(idv) : -1;
        if (id < 0 || id >= events || seen[id]) {
            fail(n, "id missing, out of range or repeated", NULL);
            json_decref(o);
            continue;
        }
        seen[id] = 1;
        wl_event e;
        wl_event_of(wl, id, &e);
        want_str(n, o, "user", e.user, e.user_n);
        want_f64(n, o, "ms", e.ms);
        if (e.path) {
            want_str(n, o, "path", e.path, e.path_n);
            json_t *ok = json_object_get(o, "ok");
            if (!json_is_boolean(ok) || json_is_true(ok) != e.ok)
                fail(n, "wrong boolean", "ok");
            char et[128];
            snprintf(et, sizeof et, "%s: %s", strerrorname_np(e.err), strerrordesc_np(e.err));
            want_str(n, o, "err", et, strlen(et));
            if (e.nfields >= 7)
                want_int(n, o, "bytes", (long long)e.bytes);
            if (e.nfields >= 8)
                want_str(n, o, "agent", e.agent, e.agent_n);
            if ((json_object_get(o, "bytes") != NULL) != (e.nfields >= 7) ||
                (json_object_get(o, "agent") != NULL) != (e.nfields >= 8))
                fail(n, "wrong field set", NULL);
        }
        if (e.in_ctx) {
            want_str(n, o, "request_id", e.req, strlen(e.req));
            want_str(n, o, "tenant", e.tenant, strlen(e.tenant));
        } else if (json_object_get(o, "request_id") || json_object_get(o, "tenant")) {
            fail(n, "context outside its scope", NULL);
        }
        json_decref(o);
    }
    if (n != events)
        fprintf(stderr, "bench_check: %ld lines, %ld events logged\n", n, events), fails++;
    free(line);
    free(seen);
    fclose(f);
    if (fails) {
        fprintf(stderr, "bench_check: %s %s: %d problems\n", wl, argv[3], fails);
        return 1;
    }
    printf("CHECK ok %s %ld lines\n", wl, n);
    return 0;
}

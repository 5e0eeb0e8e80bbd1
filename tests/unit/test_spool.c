/* test_spool.c - the CloudWatch Logs sink's crash-safe spool (src/sinks/spool.c,
 * docs/DURABILITY.md): what a sink could not deliver is sent first, in order, by the next sink
 * opened on the file; acknowledged events never come back; torn records are skipped and
 * counted; a process killed while a batch was in flight leaves it counted as ambiguous; the
 * size bound refuses (counted, then a skylog.gap line in-band); one owner at a time; files that
 * are not spools are refused without being touched. A scripted fake transport stands for AWS;
 * the kill is a real SIGKILL of a forked child. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sinks/cwl_transport.h"
#include "sinks/spool.h"

#include <skylog/config.h>

#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_STORED 20000

typedef struct fake {
    pthread_mutex_t mu;
    bool down;        /* every put fails as a network error (not ambiguous) */
    bool die_in_put;  /* the process kills itself inside the first put, after "storing" it */
    int puts;
    int n;            /* messages stored, in order */
    char *msg[MAX_STORED];
    char *stream[MAX_STORED];
} fake;

static fake F;

static sky_status fake_call(void *self, const sky__cwl_call *cl, sky__cwl_result *out)
{
    fake *f = self;
    pthread_mutex_lock(&f->mu);
    out->status = SKY_OK;
    out->http_status = 200;
    if (strcmp(cl->op, "PutLogEvents") == 0) {
        f->puts++;
        if (f->down) {
            out->status = SKY_ENET;
            out->http_status = 0;
            snprintf(out->code, sizeof out->code, "ConnectionRefused");
        } else {
            json_t *j = json_loadb(cl->body, cl->len, 0, NULL);
            assert_non_null(j);
            const char *stream = json_string_value(json_object_get(j, "logStreamName"));
            json_t *evs = json_object_get(j, "logEvents"), *e;
            size_t i;
            json_array_foreach(evs, i, e)
            {
                assert_true(f->n < MAX_STORED);
                f->msg[f->n] = strdup(json_string_value(json_object_get(e, "message")));
                f->stream[f->n] = strdup(stream);
                f->n++;
            }
            json_decref(j);
            if (f->die_in_put)
                raise(SIGKILL); /* stored, never answered */
        }
    }
    pthread_mutex_unlock(&f->mu);
    return out->status;
}

static void fake_free(void *self) { (void)self; }

static void fake_reset(void)
{
    for (int i = 0; i < F.n; i++) {
        free(F.msg[i]);
        free(F.stream[i]);
    }
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    memset(&F, 0, sizeof F);
    F.mu = mu;
}

static char path[256];

static int setup(void **state)
{
    (void)state;
    snprintf(path, sizeof path, "/tmp/skylog_test_spool_%d", (int)getpid());
    unlink(path);
    fake_reset();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    fake_reset();
    return 0;
}

static sky_cwl_opts opts(const char *stream)
{
    return (sky_cwl_opts){.log_group = "/t/spool", .log_stream = stream, .sync_upload = true,
                          .flush_interval_ms = 1, .spool_path = path,
                          .spool_max_bytes = 1u << 20};
}

static sky_status open_sink(sky_cwl_opts o, sky_sink **s, char **err)
{
    sky__cwl_transport t = {.call = fake_call, .free = fake_free, .self = &F};
    return sky__sink_cloudwatch_logs_with(&o, t, s, err);
}

static sky_sink *sink(sky_cwl_opts o)
{
    sky_sink *s = NULL;
    char *err = NULL;
    sky_status st = open_sink(o, &s, &err);
    if (st != SKY_OK)
        fail_msg("open: %s", err ? err : sky_strerror(st));
    return s;
}

static void put(sky_sink *s, const char *fmt, int i)
{
    char m[64];
    int n = snprintf(m, sizeof m, fmt, i);
    assert_int_equal(sky_cwl_put(s, sky_now_ns() / 1000000, m, (size_t)n), SKY_OK);
}

static sky_cwl_stats stats(sky_sink *s)
{
    sky_cwl_stats st;
    assert_int_equal(sky_cwl_stats_get(s, &st), SKY_OK);
    return st;
}

/* Closes a sink whose endpoint is down: what it holds stays in the spool. */
static void close_down(sky_sink *s, uint64_t expect_kept)
{
    sky_cwl_stats st;
    sky_cwl_close(s, &st);
    assert_int_equal(st.spool_kept, expect_kept);
    assert_int_equal(st.dropped[SKY_CWL_DROP_UNDELIVERED], 0);
}

static void test_kept_then_first_in_order(void **state)
{
    (void)state;
    F.down = true;
    sky_sink *s = sink(opts("a"));
    for (int i = 0; i < 100; i++)
        put(s, "old %d", i);
    close_down(s, 100);
    assert_int_equal(F.n, 0);

    F.down = false;
    s = sink(opts("b")); /* another stream now: old events go where they were meant to */
    sky_cwl_stats st = stats(s);
    assert_int_equal(st.spool_replayed, 100);
    assert_int_equal(st.queued_events, 100);
    for (int i = 0; i < 10; i++)
        put(s, "new %d", i);
    assert_int_equal(sky_sink_flush(s, 10000), SKY_OK);
    assert_int_equal(F.n, 110);
    for (int i = 0; i < 100; i++) {
        char m[32];
        snprintf(m, sizeof m, "old %d", i);
        assert_string_equal(F.msg[i], m);
        assert_string_equal(F.stream[i], "a");
    }
    for (int i = 0; i < 10; i++)
        assert_string_equal(F.stream[100 + i], "b");
    st = stats(s);
    assert_int_equal(st.spool_used_bytes, 0);
    assert_int_equal(st.spool_ambiguous_total, 0);
    sky_cwl_close(s, NULL);

    /* acknowledged: never again */
    s = sink(opts("c"));
    assert_int_equal(stats(s).spool_replayed, 0);
    assert_int_equal(stats(s).spool_torn_total, 0);
    assert_int_equal(stats(s).queued_events, 0);
    sky_cwl_close(s, NULL);
    assert_int_equal(F.n, 110);
}

static void test_empty_reopened_clean(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++) { /* nothing written yet: nothing torn either */
        sky_sink *s = sink(opts("a"));
        sky_cwl_stats st = stats(s);
        assert_int_equal(st.spool_torn_total, 0);
        assert_int_equal(st.spool_replayed, 0);
        assert_int_equal(st.spool_bytes, 1u << 20);
        assert_int_equal(st.spool_used_bytes, 0);
        sky_cwl_close(s, NULL);
    }
}

static void test_second_owner_refused(void **state)
{
    (void)state;
    sky_sink *s = sink(opts("a"));
    sky_sink *t = NULL;
    char *err = NULL;
    assert_int_equal(open_sink(opts("a"), &t, &err), SKY_EIO);
    assert_null(t);
    assert_non_null(err);
    assert_non_null(strstr(err, "in use by another process"));
    char pid[32];
    snprintf(pid, sizeof pid, "pid %d", (int)getpid());
    assert_non_null(strstr(err, pid));
    free(err);
    /* another process too (flock is per open file, so this is what a second process sees) */
    pid_t child = fork();
    if (child == 0) {
        sky_sink *u = NULL;
        char *e = NULL;
        _exit(open_sink(opts("a"), &u, &e) == SKY_EIO && strstr(e, "in use") ? 0 : 1);
    }
    int ws;
    assert_int_equal(waitpid(child, &ws, 0), child);
    assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    sky_cwl_close(s, NULL);
    s = sink(opts("a")); /* released at close */
    sky_cwl_close(s, NULL);
}

/* A forked child that never execs (a pre-fork server's worker) must not keep the lock: the
 * parent closes and opens its spool again while the child lives on, and the child's events
 * stay out of the parent's file. */
static void test_forked_child_holds_no_lock(void **state)
{
    (void)state;
    F.down = true;
    sky_sink *s = sink(opts("a"));
    put(s, "parent %d", 0);
    int go[2], done[2];
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(done), 0);
    fflush(NULL);
    pid_t child = fork();
    if (child == 0) {
        put(s, "child %d", 0); /* memory only: the file is the parent's */
        char c = 'x';
        if (write(done[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
            _exit(1);
        _exit(0);
    }
    close(go[0]); /* a child that fails closes its ends: the reads below end, not hang */
    close(done[1]);
    char c;
    assert_int_equal(read(done[0], &c, 1), 1);
    close_down(s, 1);
    s = sink(opts("a")); /* the child is alive and still has its copies of the descriptors */
    assert_int_equal(stats(s).spool_replayed, 1);
    close_down(s, 1);
    assert_int_equal(write(go[1], "x", 1), 1);
    int ws;
    assert_int_equal(waitpid(child, &ws, 0), child);
    assert_true(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    close(go[1]);
    close(done[0]);
}

static void write_file(const char *text, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
}

static void test_not_a_spool_untouched(void **state)
{
    (void)state;
    char big[80000];
    memset(big, 'x', sizeof big);
    write_file(big, sizeof big);
    sky_sink *s = NULL;
    char *err = NULL;
    assert_int_equal(open_sink(opts("a"), &s, &err), SKY_EINVAL);
    assert_non_null(strstr(err, "not a usable skylog spool"));
    assert_non_null(strstr(err, "SKYSPOOL"));
    free(err);
    err = NULL;
    write_file("hello\n", 6);
    assert_int_equal(open_sink(opts("a"), &s, &err), SKY_EINVAL);
    assert_non_null(strstr(err, "not a skylog spool"));
    free(err);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_size, 6); /* not overwritten */
    /* a bad size option is refused before the file is looked at */
    sky_cwl_opts o = opts("a");
    o.spool_max_bytes = 1000;
    err = NULL;
    assert_int_equal(open_sink(o, &s, &err), SKY_EINVAL);
    assert_non_null(strstr(err, "spool_max_bytes"));
    free(err);
}

/* Offset in the file of the first byte of message `needle` (records are laid end to end). */
static long find_in_file(const char *needle)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[1u << 21];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    size_t l = strlen(needle);
    for (size_t i = 0; i + l <= n; i++)
        if (memcmp(buf + i, needle, l) == 0)
            return (long)i;
    return -1;
}

static void poke(long off, char c)
{
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, &c, 1, off), 1);
    close(fd);
}

static void test_torn_records(void **state)
{
    (void)state;
    F.down = true;
    sky_sink *s = sink(opts("a"));
    for (int i = 0; i < 10; i++)
        put(s, "event-%d!", i);
    close_down(s, 10);
    /* damage event 4 (in the middle: skipped, the next ones are valid) and event 9 (the
     * tail: cut off), as a writer killed in the middle of its memcpy would */
    long mid = find_in_file("event-4!"), tail = find_in_file("event-9!");
    assert_true(mid > 0 && tail > 0);
    poke(mid + 3, 'X');
    poke(tail + 3, 'X');
    F.down = false;
    s = sink(opts("a"));
    sky_cwl_stats st = stats(s);
    assert_int_equal(st.spool_torn, 2);
    assert_int_equal(st.spool_torn_total, 2);
    assert_int_equal(st.spool_replayed, 8);
    assert_int_equal(sky_sink_flush(s, 10000), SKY_OK);
    assert_int_equal(F.n, 8);
    const int want[] = {0, 1, 2, 3, 5, 6, 7, 8};
    for (int i = 0; i < 8; i++) {
        char m[32];
        snprintf(m, sizeof m, "event-%d!", want[i]);
        assert_string_equal(F.msg[i], m);
    }
    for (int i = 0; i < 5; i++)
        put(s, "after-%d", i);
    assert_int_equal(sky_sink_flush(s, 10000), SKY_OK);
    sky_cwl_close(s, NULL);
    s = sink(opts("a")); /* the skipped record does not hold the head back */
    st = stats(s);
    assert_int_equal(st.spool_replayed, 0);
    assert_int_equal(st.spool_torn, 0);
    assert_int_equal(st.spool_torn_total, 2);
    assert_int_equal(st.spool_used_bytes, 0);
    sky_cwl_close(s, NULL);
    assert_int_equal(F.n, 13);
}

static void test_killed_in_flight_is_ambiguous(void **state)
{
    (void)state;
    fflush(NULL);
    pid_t child = fork();
    if (child == 0) {
        F.die_in_put = true;
        sky_cwl_opts o = opts("a");
        o.batch_size = 5; /* the fifth put sends the first five, and dies in the call */
        o.flush_interval_ms = 600000;
        sky_sink *s = sink(o);
        for (int i = 0; i < 20; i++) {
            char m[32];
            int n = snprintf(m, sizeof m, "k%d", i);
            sky_cwl_put(s, sky_now_ns() / 1000000, m, (size_t)n);
        }
        sky_sink_flush(s, 10000);
        _exit(3); /* not reached: the put kills the process */
    }
    int ws;
    assert_int_equal(waitpid(child, &ws, 0), child);
    assert_true(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);
    /* five events were in flight (stored, unanswered) when it died: sent again, and counted
     * as possibly stored twice */
    sky_sink *s = sink(opts("a"));
    sky_cwl_stats st = stats(s);
    assert_int_equal(st.spool_replayed, 5);
    assert_int_equal(st.spool_ambiguous_total, 5);
    assert_int_equal(sky_sink_flush(s, 10000), SKY_OK);
    assert_int_equal(F.n, 5);
    for (int i = 0; i < 5; i++) {
        char m[8];
        snprintf(m, sizeof m, "k%d", i);
        assert_string_equal(F.msg[i], m);
    }
    sky_cwl_close(s, NULL);
    s = sink(opts("a"));
    st = stats(s);
    assert_int_equal(st.spool_replayed, 0);
    assert_int_equal(st.spool_ambiguous_total, 5); /* counted once */
    sky_cwl_close(s, NULL);
}

static void test_full_refused_then_gap_in_band(void **state)
{
    (void)state;
    F.down = true;
    sky_cwl_opts o = opts("a");
    o.spool_max_bytes = 64u << 10;
    sky_sink *s = sink(o);
    char m[1000];
    memset(m, 'm', sizeof m);
    int accepted = 0, refused = 0;
    for (int i = 0; i < 100; i++) {
        m[0] = (char)('0' + i % 10);
        sky_status st = sky_cwl_put(s, sky_now_ns() / 1000000, m, sizeof m);
        if (st == SKY_OK)
            assert_int_equal(refused, 0), accepted++; /* refusals only once it is full */
        else
            assert_int_equal(st, SKY_EFULL), refused++;
    }
    assert_true(accepted > 50 && accepted < 66); /* 64 KiB of ~1 KiB records */
    sky_cwl_stats st = stats(s);
    assert_int_equal(st.dropped[SKY_CWL_DROP_QUEUE_FULL], (uint64_t)refused);
    assert_int_equal(st.spool_dropped_total, (uint64_t)refused);
    assert_true(st.spool_used_bytes <= st.spool_bytes);
    F.down = false;
    assert_int_equal(sky_sink_flush(s, 10000), SKY_OK);
    assert_int_equal(F.n, accepted);
    put(s, "after %d", 0);
    assert_int_equal(sky_sink_flush(s, 10000), SKY_OK);
    assert_int_equal(F.n, accepted + 2);
    json_t *gap = json_loads(F.msg[accepted], 0, NULL);
    assert_non_null(gap);
    assert_string_equal(json_string_value(json_object_get(gap, "message")), "skylog.gap");
    assert_int_equal(json_integer_value(json_object_get(gap, "dropped")), refused);
    assert_string_equal(json_string_value(json_object_get(gap, "reason")), "queue_full");
    json_decref(gap);
    assert_string_equal(F.msg[accepted + 1], "after 0");
    sky_cwl_close(s, NULL);
}

/* Many laps of a small ring, reopened between rounds, some events left each time: every event
 * arrives once, in order. */
static void test_laps_and_reopens(void **state)
{
    (void)state;
    sky_cwl_opts o = opts("a");
    o.spool_max_bytes = 64u << 10;
    int next = 0;
    for (int round = 0; round < 30; round++) {
        sky_sink *s = sink(o);
        F.down = false;
        assert_int_equal(sky_sink_flush(s, 10000), SKY_OK);
        int n = 20 + (round * 7) % 40;
        for (int i = 0; i < n; i++)
            put(s, "lap-event-with-some-padding-to-fill-the-ring-faster-%06d", next++);
        if (round % 3) /* delivered, or left for the next round */
            assert_int_equal(sky_sink_flush(s, 10000), SKY_OK);
        F.down = true;
        sky_cwl_close(s, NULL);
    }
    F.down = false;
    sky_sink *s = sink(o);
    assert_int_equal(sky_sink_flush(s, 10000), SKY_OK);
    sky_cwl_close(s, NULL);
    assert_int_equal(F.n, next);
    for (int i = 0; i < next; i++) {
        char m[96];
        snprintf(m, sizeof m, "lap-event-with-some-padding-to-fill-the-ring-faster-%06d", i);
        assert_string_equal(F.msg[i], m);
    }
}

/* The sender thread (not sync_upload) with writers on four threads, under each fsync policy:
 * every event delivered once, the spool empty after the flush, nothing replayed after. */
typedef struct writer_arg {
    sky_sink *s;
    int id;
} writer_arg;

static void *writer(void *p)
{
    writer_arg *w = p;
    for (int i = 0; i < 500; i++) {
        char m[32];
        int n = snprintf(m, sizeof m, "w%d-%d", w->id, i);
        assert_int_equal(sky_cwl_put(w->s, sky_now_ns() / 1000000, m, (size_t)n), SKY_OK);
    }
    return NULL;
}

static void test_sender_thread_each_policy(void **state)
{
    (void)state;
    const sky_cwl_fsync pol[] = {SKY_CWL_FSYNC_NONE, SKY_CWL_FSYNC_BATCH, SKY_CWL_FSYNC_INTERVAL};
    for (size_t k = 0; k < 3; k++) {
        fake_reset();
        unlink(path);
        sky_cwl_opts o = opts("a");
        o.sync_upload = false;
        o.flush_interval_ms = 5;
        o.batch_size = 100;
        o.spool_fsync = pol[k];
        o.spool_fsync_every_ms = 2;
        sky_sink *s = sink(o);
        pthread_t th[4];
        writer_arg wa[4];
        for (int i = 0; i < 4; i++) {
            wa[i] = (writer_arg){s, i};
            pthread_create(&th[i], NULL, writer, &wa[i]);
        }
        for (int i = 0; i < 4; i++)
            pthread_join(th[i], NULL);
        assert_int_equal(sky_sink_flush(s, 30000), SKY_OK);
        sky_cwl_stats st = stats(s);
        assert_int_equal(st.sent_events, 2000);
        assert_int_equal(st.spool_used_bytes, 0);
        sky_cwl_close(s, NULL);
        assert_int_equal(F.n, 2000);
        int next[4] = {0};
        for (int i = 0; i < F.n; i++) { /* each writer's events in its order */
            int w, e;
            assert_int_equal(sscanf(F.msg[i], "w%d-%d", &w, &e), 2);
            assert_int_equal(e, next[w]++);
        }
        s = sink(o);
        assert_int_equal(stats(s).spool_replayed, 0);
        sky_cwl_close(s, NULL);
    }
}

/* The options come through the registry: YAML (and so the environment) builds a spooling
 * sink, and a wrong policy is named with its choices. */
static void test_yaml_options(void **state)
{
    (void)state;
    char y[1024];
    snprintf(y, sizeof y,
             "sinks:\n"
             "  - cloudwatch_logs:\n"
             "      log_group: /t/yaml\n"
             "      endpoint: http://127.0.0.1:9\n"
             "      region: us-east-1\n"
             "      access_key_id: AKIDEXAMPLE\n"
             "      secret_access_key: x\n"
             "      spool_path: %s\n"
             "      spool_max_bytes: 128K\n"
             "      spool_fsync: interval\n"
             "      spool_fsync_every_ms: 250ms\n",
             path);
    sky_t *sky = NULL;
    char *err = NULL;
    sky_status st = sky_open_yaml(y, strlen(y), &sky, &err);
    if (st != SKY_OK)
        fail_msg("%s", err ? err : sky_strerror(st));
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_size, SKY__SPOOL_HEADER + (128u << 10));
    assert_int_equal(sb.st_mode & 0777, 0600);
    sky_close(sky);
    char *bad = strstr(y, "interval");
    memcpy(bad, "sometime", 8);
    assert_int_not_equal(sky_open_yaml(y, strlen(y), &sky, &err), SKY_OK);
    assert_non_null(strstr(err, "spool_fsync"));
    assert_non_null(strstr(err, "none, batch, interval"));
    free(err);
}

/* The records' checksum: CRC-32C's check value, and the SSE4.2 path (8 bytes at a time, when
 * the CPU has it) equal to a bit-at-a-time reference for every length and alignment. */
static void test_crc32c(void **state)
{
    (void)state;
    assert_int_equal(sky__spool_crc32c("123456789", 9), 0xE3069283u);
    assert_int_equal(sky__spool_crc32c("", 0), 0);
    uint8_t buf[80];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 37 + 11);
    for (size_t off = 0; off < 8; off++)
        for (size_t n = 0; off + n <= sizeof buf; n++) {
            uint32_t c = ~0u;
            for (size_t i = 0; i < n; i++) {
                c ^= buf[off + i];
                for (int k = 0; k < 8; k++)
                    c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
            }
            assert_int_equal(sky__spool_crc32c(buf + off, n), ~c);
        }
}

/* The reader on its own: the header's checks. */
static void test_scan_rejects_bad_headers(void **state)
{
    (void)state;
    size_t size = SKY__SPOOL_HEADER + (64u << 10);
    uint8_t *img = calloc(1, size);
    sky__spool_scan_result r;
    char err[160];
    assert_int_equal(sky__spool_scan(img, size, false, NULL, NULL, &r, err, sizeof err),
                     SKY_ENOTFOUND);
    assert_int_equal(sky__spool_scan(img, 100, false, NULL, NULL, &r, err, sizeof err), SKY_EINVAL);
    memcpy(img, "SKYSPOOL", 8);
    uint32_t v = 1, hs = SKY__SPOOL_HEADER;
    memcpy(img + 8, &v, 4);
    memcpy(img + 12, &hs, 4);
    uint64_t cap = 64u << 10;
    memcpy(img + 16, &cap, 8);
    assert_int_equal(sky__spool_scan(img, size, false, NULL, NULL, &r, err, sizeof err), SKY_OK);
    assert_int_equal(r.live, 0);
    assert_int_equal(sky__spool_scan(img, size - 4096, false, NULL, NULL, &r, err, sizeof err),
                     SKY_EINVAL);
    assert_non_null(strstr(err, "truncated"));
    uint64_t head = 3;
    memcpy(img + 24, &head, 8);
    assert_int_equal(sky__spool_scan(img, size, false, NULL, NULL, &r, err, sizeof err), SKY_EINVAL);
    v = 2;
    memcpy(img + 8, &v, 4);
    assert_int_equal(sky__spool_scan(img, size, false, NULL, NULL, &r, err, sizeof err), SKY_EINVAL);
    assert_non_null(strstr(err, "version"));
    free(img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kept_then_first_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_reopened_clean, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_owner_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forked_child_holds_no_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_spool_untouched, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed_in_flight_is_ambiguous, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_refused_then_gap_in_band, setup, teardown),
        cmocka_unit_test_setup_teardown(test_laps_and_reopens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan_rejects_bad_headers, setup, teardown),
        cmocka_unit_test(test_crc32c),
        cmocka_unit_test_setup_teardown(test_yaml_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sender_thread_each_policy, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_ring_spool.c - the async ring kept in a file (sky_options.ring_spool_path;
 * src/queue/ring_file.c, src/core/ringspool.c, docs/DURABILITY.md "The async ring's spool").
 *
 * The kill is a real SIGKILL of a forked child whose sink blocks in write(): the event in that
 * write is in flight, the events logged after it are still in the ring, and the next pipeline
 * opened on the file must deliver all of them first, in order, with their logger, call site,
 * context and bound fields; count the one in flight as ambiguous; skip and count damaged or
 * unfinished records (in the middle and at the tail) and say so in-band; refuse a file that is
 * not a ring spool (untouched) and a second owner; keep a forked child off the file. */
#include "skytest.h"

#include <skylog/config.h>

#include "core/ringspool.h"
#include "queue/ring_file.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define RING (256u << 10)

static char *dir, *path;

static int setup(void **state)
{
    (void)state;
    dir = skytest_tmpdir();
    path = malloc(strlen(dir) + 16);
    sprintf(path, "%s/ring.spool", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    skytest_rmtree(dir);
    free(dir);
    free(path);
    return 0;
}

static char diag_text[4096];
static void keep_diag(void *user, sky_level level, const char *msg)
{
    (void)user, (void)level;
    size_t l = strlen(diag_text);
    snprintf(diag_text + l, sizeof diag_text - l, "%s\n", msg);
}

static sky_status open_spooled(sky_t **sky)
{
    diag_text[0] = '\0';
    sky_options o = {.mode = SKY_MODE_ASYNC, .ring_bytes = RING, .ring_spool_path = path,
                     .diag = keep_diag, .level = SKY_LEVEL_TRACE, .level_set = true};
    return sky_open(&o, sky);
}

/* ---- a sink that blocks in its first write(), after telling the parent through a pipe ------ */

static int blocked_fd = -1;
static _Atomic int in_write;
static sky_status block_write(void *self, const sky_record *r, size_t n)
{
    (void)self, (void)r, (void)n;
    atomic_store(&in_write, 1);
    char c = 'w';
    if (write(blocked_fd, &c, 1) != 1)
        _exit(3);
    for (;;)
        pause(); /* until the SIGKILL */
    return SKY_OK;
}
static const sky_sink_vtable block_vt = {.type = "blocking", .write = block_write};

static void wait_byte(int fd)
{
    char c;
    assert_int_equal(read(fd, &c, 1), 1);
}

/* A child that opens the spool, logs `n` events "tick" (seq 0..n-1, with context, a bound
 * field and a string) of which the first is in the sink's write() when it is killed. */
static void killed_child(int n)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        blocked_fd = p[1];
        sky_t *sky = NULL;
        if (open_spooled(&sky) != SKY_OK)
            _exit(2);
        sky_add_sink(sky, sky_sink_new(&block_vt, NULL, SKY_FORMAT_JSON), NULL);
        sky_logger *log = sky_logger_get(sky, "orders");
        sky_field bf = sky_field_str("region", "eu-west-1");
        sky_logger *bound = sky_logger_bind(log, &bf, 1);
        sky_field ctx = sky_field_str("request_id", "req-42");
        sky_context_push(&ctx, 1);
        sky_info(bound, "tick", SKY_INT("seq", 0), SKY_STR("user", "alice"));
        while (!atomic_load(&in_write))
            sched_yield();
        /* the worker is stuck in write() with event 0 alone: the rest stays in the ring */
        for (int i = 1; i < n; i++)
            sky_info(bound, "tick", SKY_INT("seq", i), SKY_STR("user", "alice"));
        char c = 'd';
        if (write(blocked_fd, &c, 1) != 1)
            _exit(3);
        for (;;)
            pause();
    }
    close(p[1]);
    wait_byte(p[0]); /* in write() */
    wait_byte(p[0]); /* every event logged: sky_info returned for each */
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status));
    close(p[0]);
}

static long seq_of(const char *line)
{
    const char *s = strstr(line, "\"seq\":");
    return s ? atol(s + 6) : -1;
}

static size_t count_seq(const skytest_capture *cap)
{
    size_t k = 0;
    for (size_t i = 0; i < cap->n; i++)
        k += seq_of(cap->lines[i]) >= 0;
    return k;
}

/* Everything logged before the kill is delivered first, in order, once; the one in flight is
 * counted ambiguous; the logger, call site, context and bound fields survive. */
static void test_recovered_in_order_with_everything(void **state)
{
    (void)state;
    killed_child(200);
    sky_t *sky = NULL;
    assert_int_equal(open_spooled(&sky), SKY_OK);
    sky_stats st;
    sky_stats_get(sky, &st);
    assert_int_equal(st.spool_recovered, 200);
    assert_int_equal(st.spool_ambiguous, 1);
    assert_int_equal(st.spool_torn, 0);
    /* held until the pipeline is configured: the sink comes after sky_open */
    skytest_capture cap = {0};
    sky_add_sink(sky, skytest_capture_sink(&cap, SKY_FORMAT_JSON), NULL);
    sky_logger *log = sky_logger_get(sky, "new");
    sky_info(log, "after", SKY_INT("k", 1));
    assert_int_equal(sky_flush(sky, 30000), SKY_OK);
    assert_int_equal(cap.n, 201);
    for (size_t i = 0; i < 200; i++) {
        const char *l = cap.lines[i];
        assert_int_equal(seq_of(l), (long)i);
        assert_non_null(strstr(l, "\"message\":\"tick\""));
        assert_non_null(strstr(l, "\"logger\":\"orders\""));
        assert_non_null(strstr(l, "\"request_id\":\"req-42\""));
        assert_non_null(strstr(l, "\"region\":\"eu-west-1\""));
        assert_non_null(strstr(l, "\"user\":\"alice\""));
        assert_non_null(strstr(l, "\"module\":\"test_ring_spool\""));
        assert_non_null(strstr(l, "\"func\":\"killed_child\""));
    }
    assert_non_null(strstr(cap.lines[200], "\"message\":\"after\""));
    sky_close(sky);
    skytest_capture_reset(&cap);

    /* delivered means gone: the next owner finds nothing */
    assert_int_equal(open_spooled(&sky), SKY_OK);
    sky_stats_get(sky, &st);
    assert_int_equal(st.spool_recovered, 0);
    assert_int_equal(st.spool_recovered_total, 200); /* over both opens */
    assert_int_equal(st.spool_ambiguous_total, 1);
    sky_close(sky);
}

/* ---- the file, read as the reader does, to damage it on purpose ---------------------------- */

typedef struct filemap {
    int fd;
    uint8_t *m;
    size_t len;
} filemap;

static filemap map_spool(void)
{
    filemap f;
    f.fd = open(path, O_RDWR);
    assert_true(f.fd >= 0);
    struct stat sb;
    fstat(f.fd, &sb);
    f.len = (size_t)sb.st_size;
    f.m = mmap(NULL, f.len, PROT_READ | PROT_WRITE, MAP_SHARED, f.fd, 0);
    assert_true(f.m != MAP_FAILED);
    return f;
}

static void unmap_spool(filemap *f)
{
    munmap(f->m, f->len);
    close(f->fd);
}

/* The offset in the file of record k (0: the first) from the consumer position. */
static size_t record_at(const filemap *f, int k, uint32_t *size)
{
    const sky__rfile_hdr *h = (const sky__rfile_hdr *)f->m;
    uint64_t pos = h->consumer;
    for (;;) {
        size_t off = SKY__RFILE_HEADER + (pos & (h->cap - 1));
        uint32_t c = *(const uint32_t *)(f->m + off);
        assert_int_not_equal(c, 0);
        if (c & SKY__RING_PAD) {
            pos += c & ~15u;
            continue;
        }
        if (k-- == 0) {
            *size = c;
            return off;
        }
        pos += c;
    }
}

static void reopen_and_check(uint64_t want_recovered, uint64_t want_torn, long missing)
{
    sky_t *sky = NULL;
    assert_int_equal(open_spooled(&sky), SKY_OK);
    sky_stats st;
    sky_stats_get(sky, &st);
    assert_int_equal(st.spool_recovered, want_recovered);
    assert_int_equal(st.spool_torn, want_torn);
    assert_non_null(strstr(diag_text, "skipped"));
    skytest_capture cap = {0};
    sky_add_sink(sky, skytest_capture_sink(&cap, SKY_FORMAT_JSON), NULL);
    assert_int_equal(sky_flush(sky, 30000), SKY_OK);
    assert_int_equal(count_seq(&cap), want_recovered);
    long expect = 0;
    bool gap = false;
    for (size_t i = 0; i < cap.n; i++) {
        const char *l = cap.lines[i];
        if (strstr(l, "\"message\":\"skylog.gap\"")) {
            assert_non_null(strstr(l, "\"reason\":\"spool_torn\""));
            char want[64];
            snprintf(want, sizeof want, "\"dropped\":%llu", (unsigned long long)want_torn);
            assert_non_null(strstr(l, want));
            gap = true;
            continue;
        }
        if (expect == missing)
            expect++;
        assert_int_equal(seq_of(l), expect);
        expect++;
    }
    assert_true(gap);
    sky_close(sky);
    skytest_capture_reset(&cap);
}

/* A record whose bytes changed after it was committed (a sector lost in a power cut) is
 * skipped and counted, the records after it delivered; the same at the tail. */
static void test_torn_middle_and_tail(void **state)
{
    (void)state;
    killed_child(20);
    filemap f = map_spool();
    uint32_t size;
    size_t off = record_at(&f, 7, &size);
    f.m[off + size - 20] ^= 0x5a; /* inside its strings */
    unmap_spool(&f);
    reopen_and_check(19, 1, 7);

    killed_child(20);
    f = map_spool();
    off = record_at(&f, 19, &size);
    f.m[off + 40] ^= 0x01;
    unmap_spool(&f);
    reopen_and_check(19, 1, 19);
}

/* A producer killed between its reservation and its commit leaves a zero commit word in
 * front of records other threads committed after it: skipped, counted, the rest delivered. */
static void test_never_committed_in_the_middle(void **state)
{
    (void)state;
    killed_child(10);
    filemap f = map_spool();
    uint32_t size;
    size_t off = record_at(&f, 4, &size);
    *(uint32_t *)(f.m + off) = 0;
    unmap_spool(&f);
    reopen_and_check(9, 1, 4);
}

/* Recovered at another address than the writer's: the fields' pointers are moved. */
static void test_pointers_rebased(void **state)
{
    (void)state;
    killed_child(5);
    filemap f = map_spool();
    uint32_t size;
    size_t off = record_at(&f, 0, &size);
    uint64_t base = ((const sky__prec *)(f.m + off))->base;
    size_t len = f.len;
    unmap_spool(&f);
    /* take the writer's address, so the reader's mapping must be elsewhere */
    void *blocker = mmap((void *)(uintptr_t)(base - off), len, PROT_NONE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    assert_true(blocker != MAP_FAILED);
    sky_t *sky = NULL;
    assert_int_equal(open_spooled(&sky), SKY_OK);
    skytest_capture cap = {0};
    sky_add_sink(sky, skytest_capture_sink(&cap, SKY_FORMAT_JSON), NULL);
    assert_int_equal(sky_flush(sky, 30000), SKY_OK);
    assert_int_equal(cap.n, 5);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(seq_of(cap.lines[i]), (long)i);
        assert_non_null(strstr(cap.lines[i], "\"user\":\"alice\""));
        assert_non_null(strstr(cap.lines[i], "\"request_id\":\"req-42\""));
    }
    sky_close(sky);
    skytest_capture_reset(&cap);
    munmap(blocker, len);
}

/* A file that is not a ring spool, or of another version, is refused with a message and left
 * as it was. */
static void test_bad_header_refused_untouched(void **state)
{
    (void)state;
    sky_t *sky = NULL;
    assert_int_equal(open_spooled(&sky), SKY_OK);
    sky_close(sky);
    filemap f = map_spool();
    ((sky__rfile_hdr *)f.m)->version = 2;
    unmap_spool(&f);
    size_t before_len;
    char *before = skytest_read_file(path, &before_len);
    assert_int_equal(open_spooled(&sky), SKY_EINVAL);
    assert_non_null(strstr(diag_text, "another version"));
    assert_non_null(strstr(diag_text, "move it away"));
    size_t after_len;
    char *after = skytest_read_file(path, &after_len);
    assert_int_equal(before_len, after_len);
    assert_memory_equal(before, after, before_len);
    free(before);
    free(after);

    /* the right size, no magic, not all zero: somebody's data, never made again */
    FILE *t = fopen(path, "w");
    for (size_t i = 0; i < SKY__RFILE_HEADER + RING; i++)
        fputc(i == 100 ? 'x' : 0, t);
    fclose(t);
    before = skytest_read_file(path, &before_len);
    assert_int_equal(open_spooled(&sky), SKY_EINVAL);
    assert_non_null(strstr(diag_text, "does not start with the ring spool's magic"));
    after = skytest_read_file(path, &after_len);
    assert_int_equal(before_len, after_len);
    assert_memory_equal(before, after, before_len);
    free(before);
    free(after);

    t = fopen(path, "w");
    fputs("not a spool at all\n", t);
    fclose(t);
    assert_int_equal(open_spooled(&sky), SKY_EINVAL);
    assert_non_null(strstr(diag_text, "is not a skylog ring spool"));

    /* all zero: a process killed while it made the file; made again */
    t = fopen(path, "w");
    for (size_t i = 0; i < SKY__RFILE_HEADER + RING; i++)
        fputc(0, t);
    fclose(t);
    assert_int_equal(open_spooled(&sky), SKY_OK);
    sky_close(sky);
    unlink(path);

    sky_options sync = {.mode = SKY_MODE_SYNC, .ring_spool_path = path, .diag = keep_diag};
    diag_text[0] = '\0';
    assert_int_equal(sky_open(&sync, &sky), SKY_EINVAL);
    assert_non_null(strstr(diag_text, "needs mode: async"));
}

/* One owner: a second pipeline (here or in another process) gets SKY_EIO and a message. */
static void test_second_owner_refused(void **state)
{
    (void)state;
    sky_t *a = NULL, *b = NULL;
    assert_int_equal(open_spooled(&a), SKY_OK);
    assert_int_equal(open_spooled(&b), SKY_EIO);
    char want[64];
    snprintf(want, sizeof want, "in use by another process (pid %d)", (int)getpid());
    assert_non_null(strstr(diag_text, want));
    pid_t pid = fork();
    if (pid == 0) {
        sky_t *c = NULL;
        _exit(open_spooled(&c) == SKY_EIO ? 0 : 1);
    }
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    sky_close(a);
    assert_int_equal(open_spooled(&b), SKY_OK);
    sky_close(b);
}

/* A forked child logs into memory of its own, never into its parent's file, and does not keep
 * the lock: the file's next owner opens it while the child still runs, and finds none of the
 * child's events. */
static void test_fork_child_off_the_file(void **state)
{
    (void)state;
#if defined(__SANITIZE_THREAD__)
    skip(); /* TSan cannot start the child's worker after a multi-threaded fork */
#endif
    sky_t *sky = NULL;
    assert_int_equal(open_spooled(&sky), SKY_OK);
    skytest_capture cap = {0};
    sky_add_sink(sky, skytest_capture_sink(&cap, SKY_FORMAT_JSON), NULL);
    sky_logger *log = sky_logger_get(sky, "app");
    sky_info(log, "parent", SKY_INT("seq", 0));
    int p[2], q[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(pipe(q), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        close(q[1]);
        for (int i = 0; i < 50; i++)
            sky_info(log, "child", SKY_INT("i", i));
        sky_flush(sky, 30000);
        size_t n = 0;
        for (size_t i = 0; i < cap.n; i++)
            n += strstr(cap.lines[i], "\"message\":\"child\"") != NULL;
        char c = n == 50 ? 'y' : 'n';
        if (write(p[1], &c, 1) != 1)
            _exit(3);
        wait_byte(q[0]); /* stay alive while the parent reopens the file */
        _exit(0);
    }
    close(p[1]);
    close(q[0]);
    char c;
    assert_int_equal(read(p[0], &c, 1), 1);
    assert_int_equal(c, 'y'); /* the child delivered its own events */
    sky_close(sky);
    skytest_capture_reset(&cap);
    assert_int_equal(open_spooled(&sky), SKY_OK); /* the child holds no lock */
    sky_stats st;
    sky_stats_get(sky, &st);
    assert_int_equal(st.spool_recovered, 0);
    assert_int_equal(st.spool_torn, 0);
    sky_close(sky);
    assert_int_equal(write(q[1], "x", 1), 1);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(p[0]);
    close(q[1]);
}

/* Without a spool, nothing changes: no file, no spool counters, the inlined path stays. */
static void test_spool_off_unchanged(void **state)
{
    (void)state;
    sky_t *sky = NULL;
    sky_options o = {.mode = SKY_MODE_ASYNC, .ring_bytes = RING};
    assert_int_equal(sky_open(&o, &sky), SKY_OK);
    skytest_capture cap = {0};
    sky_add_sink(sky, skytest_capture_sink(&cap, SKY_FORMAT_JSON), NULL);
    sky_logger *log = sky_logger_get(sky, "app");
    for (int i = 0; i < 10; i++)
        sky_info(log, "tick", SKY_INT("seq", i));
    assert_int_equal(sky_flush(sky, 30000), SKY_OK);
    assert_int_equal(cap.n, 10);
    sky_stats st;
    sky_stats_get(sky, &st);
    assert_int_equal(st.spool_recovered + st.spool_torn + st.spool_recovered_total, 0);
    sky_close(sky);
    skytest_capture_reset(&cap);
    assert_int_not_equal(access(path, F_OK), 0);
}

/* The option from a YAML file (the registry: YAML, env, docs): the ring is in the file; a
 * second pipeline on it fails with the loaders' error; with mode: sync it is refused. */
static void test_from_yaml(void **state)
{
    (void)state;
    char yaml[8192 + 128], out[4096];
    snprintf(out, sizeof out, "%s/out.log", dir);
    snprintf(yaml, sizeof yaml,
             "mode: async\nring_spool_path: %s\nsinks:\n  - file:\n      path: %s\n", path, out);
    sky_t *sky = NULL, *other = NULL;
    char *err = NULL;
    assert_int_equal(sky_open_yaml(yaml, strlen(yaml), &sky, &err), SKY_OK);
    assert_int_equal(access(path, F_OK), 0);
    assert_int_not_equal(sky_open_yaml(yaml, strlen(yaml), &other, &err), SKY_OK);
    assert_non_null(err);
    assert_non_null(strstr(err, "cannot create the pipeline"));
    assert_non_null(strstr(err, "in use by another process")); /* why, not just "I/O error" */
    free(err);
    err = NULL;
    sky_logger *log = sky_logger_get(sky, "app");
    for (int i = 0; i < 3; i++)
        sky_info(log, "tick", SKY_INT("seq", i));
    sky_close(sky);
    size_t len = 0;
    char *text = skytest_read_file(out, &len);
    assert_non_null(text);
    assert_int_equal(skytest_count_lines(text, len), 3);
    free(text);
    snprintf(yaml, sizeof yaml, "mode: sync\nring_spool_path: %s\n", path);
    assert_int_not_equal(sky_open_yaml(yaml, strlen(yaml), &sky, &err), SKY_OK);
    assert_non_null(err);
    assert_non_null(strstr(err, "needs mode: async"));
    free(err);
}

/* sky_open_ex(): why it failed goes to the caller's errmsg, and then not also to diag. */
static void test_open_ex_says_why(void **state)
{
    (void)state;
    sky_t *a = NULL, *b = NULL;
    assert_int_equal(open_spooled(&a), SKY_OK);
    diag_text[0] = '\0';
    sky_options o = {.mode = SKY_MODE_ASYNC, .ring_bytes = RING, .ring_spool_path = path,
                     .diag = keep_diag};
    char *why = NULL;
    assert_int_equal(sky_open_ex(&o, &b, &why), SKY_EIO);
    assert_null(b);
    assert_non_null(why);
    assert_non_null(strstr(why, "in use by another process"));
    assert_string_equal(diag_text, "");
    free(why);
    why = NULL;
    o.mode = SKY_MODE_SYNC;
    assert_int_equal(sky_open_ex(&o, &b, &why), SKY_EINVAL);
    assert_non_null(why);
    assert_non_null(strstr(why, "needs mode: async"));
    free(why);
    why = NULL;
    o = (sky_options){.overflow = (sky_overflow)99};
    assert_int_equal(sky_open_ex(&o, &b, &why), SKY_EINVAL);
    assert_non_null(why);
    assert_non_null(strstr(why, "overflow"));
    free(why);
    why = (char *)"untouched";
    o = (sky_options){0};
    assert_int_equal(sky_open_ex(&o, &b, &why), SKY_OK); /* success: *errmsg is NULL */
    assert_null(why);
    sky_close(b);
    sky_close(a);
}

/* A file made for another ring_bytes keeps its size while it holds events (said), and is made
 * again at the configured size once it is empty. */
static void test_other_size_kept_then_resized(void **state)
{
    (void)state;
    killed_child(50); /* a 256 KiB ring */
    sky_t *sky = NULL;
    diag_text[0] = '\0';
    sky_options o = {.mode = SKY_MODE_ASYNC, .ring_bytes = 64u << 10, .ring_spool_path = path,
                     .diag = keep_diag};
    assert_int_equal(sky_open(&o, &sky), SKY_OK);
    assert_non_null(strstr(diag_text, "keeps its size (262144 bytes) until the 50 events"));
    sky_stats st;
    sky_stats_get(sky, &st);
    assert_int_equal(st.ring_capacity, RING);
    assert_int_equal(st.spool_recovered, 50);
    skytest_capture cap = {0};
    sky_add_sink(sky, skytest_capture_sink(&cap, SKY_FORMAT_JSON), NULL);
    assert_int_equal(sky_flush(sky, 30000), SKY_OK);
    assert_int_equal(count_seq(&cap), 50);
    sky_close(sky);
    skytest_capture_reset(&cap);
    assert_int_equal(sky_open(&o, &sky), SKY_OK);
    sky_stats_get(sky, &st);
    assert_int_equal(st.ring_capacity, 64u << 10);
    sky_close(sky);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_size, SKY__RFILE_HEADER + (64u << 10));
}

/* Four threads log as fast as they can and the process is killed in the middle: whatever
 * record a thread was copying is unfinished, while other threads' later records are whole.
 * Every event whose sky_info() returned (each thread notes its last one in shared memory
 * right after the call) is delivered by the next pipeline, once, in each thread's order; a
 * thread may have one more (returned, not noted yet); unfinished ones are skipped. */
#define KT 4
typedef struct noted {
    _Atomic long last[KT];
} noted;
static noted *nt;
static sky_logger *kt_log;
static void *kt_produce(void *arg)
{
    long t = (long)(intptr_t)arg;
    for (long i = 0;; i++) {
        sky_info(kt_log, "tick", SKY_INT("t", t), SKY_INT("i", i), SKY_STR("user", "alice"));
        atomic_store(&nt->last[t], i);
    }
    return NULL;
}

static void test_killed_while_threads_write(void **state)
{
    (void)state;
#if defined(__SANITIZE_THREAD__)
    skip(); /* a multi-threaded child killed mid-write: nothing for TSan to see here */
#endif
    nt = mmap(NULL, sizeof *nt, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(nt != MAP_FAILED);
    for (int t = 0; t < KT; t++)
        atomic_store(&nt->last[t], -1);
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        blocked_fd = p[1]; /* the sink says 'w' when the worker is stuck in it */
        sky_t *sky = NULL;
        diag_text[0] = '\0';
        sky_options o = {.mode = SKY_MODE_ASYNC, .ring_bytes = RING, .ring_spool_path = path,
                         .block_max_wait_ms = 3600000, .diag = keep_diag};
        if (sky_open(&o, &sky) != SKY_OK)
            _exit(2);
        sky_add_sink(sky, sky_sink_new(&block_vt, NULL, SKY_FORMAT_JSON), NULL);
        kt_log = sky_logger_get(sky, "threads");
        pthread_t th[KT];
        for (long t = 0; t < KT; t++)
            pthread_create(&th[t], NULL, kt_produce, (void *)(intptr_t)t);
        for (;;)
            pause();
    }
    close(p[1]);
    /* killed once they have logged 300 events between them: while they write, or (the ring
     * holds about a thousand, then they wait for room that never comes) while they wait */
    for (;;) {
        long done = 0;
        for (int t = 0; t < KT; t++)
            done += atomic_load(&nt->last[t]) + 1;
        if (done >= 300)
            break;
        sched_yield();
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(p[0]);
    long accepted[KT];
    for (int t = 0; t < KT; t++)
        accepted[t] = atomic_load(&nt->last[t]);

    sky_t *sky = NULL;
    assert_int_equal(open_spooled(&sky), SKY_OK);
    skytest_capture cap = {0};
    sky_add_sink(sky, skytest_capture_sink(&cap, SKY_FORMAT_JSON), NULL);
    assert_int_equal(sky_flush(sky, 30000), SKY_OK);
    long next[KT] = {0};
    for (size_t i = 0; i < cap.n; i++) {
        const char *l = cap.lines[i];
        if (strstr(l, "skylog.gap"))
            continue;
        const char *tp = strstr(l, "\"t\":"), *ip = strstr(l, "\"i\":");
        assert_non_null(tp);
        assert_non_null(ip);
        long t = atol(tp + 4), seq = atol(ip + 4);
        assert_true(t >= 0 && t < KT);
        assert_int_equal(seq, next[t]); /* in order, once, none skipped */
        next[t]++;
    }
    for (int t = 0; t < KT; t++) {
        assert_true(next[t] - 1 >= accepted[t]);    /* every noted event */
        assert_true(next[t] - 1 <= accepted[t] + 1); /* and at most the one not noted yet */
    }
    sky_close(sky);
    skytest_capture_reset(&cap);
    munmap(nt, sizeof *nt);
}

/* Live events of a spool pipeline render their own logger and call site, lap after lap of the
 * ring: the strings live in the records, so their addresses come back with other contents
 * (three loggers whose names have the same length take turns; records of exactly 512 bytes,
 * so every lap writes each address with the next logger's name). The worker's render cache,
 * keyed by those addresses, must not serve one event's head for another. */
static int line_a, line_b;
static char pad[512];
static void log_from(sky_logger *log, long i)
{
    if (i % 2) {
        line_a = __LINE__ + 1;
        sky_info(log, "tick", SKY_INT("seq", i), SKY_STR("pad", pad));
    } else {
        line_b = __LINE__ + 1;
        sky_info(log, "tick", SKY_INT("seq", i), SKY_STR("pad", pad));
    }
}

static void test_live_events_keep_their_names(void **state)
{
    (void)state;
    sky_t *sky = NULL;
    assert_int_equal(open_spooled(&sky), SKY_OK);
    skytest_capture cap = {0};
    sky_add_sink(sky, skytest_capture_sink(&cap, SKY_FORMAT_JSON), NULL);
    sky_logger *lg[3] = {sky_logger_get(sky, "aaaa"), sky_logger_get(sky, "bbbb"),
                         sky_logger_get(sky, "cccc")};
    /* records of exactly 512 bytes (64 header, 2 fields, "tick", the logger, the call site,
     * "seq", "pad" and the padding, each NUL-terminated): a lap is 512 of them, and the
     * second lap writes each address with the next logger's name */
    size_t padlen = 512 - (64 + 2 * sizeof(sky_field) + 5 + 5 + strlen(__FILE__) + 1 + 9 + 4 + 4 + 1);
    memset(pad, 'p', padlen);
    pad[padlen] = '\0';
    const long n = 20000;
    for (long i = 0; i < n; i++)
        log_from(lg[i % 3], i);
    assert_int_equal(sky_flush(sky, 60000), SKY_OK);
    assert_int_equal(cap.n, (size_t)n);
    for (size_t i = 0; i < cap.n; i++) {
        long seq = seq_of(cap.lines[i]);
        assert_int_equal(seq, (long)i);
        char want[64];
        snprintf(want, sizeof want, "\"logger\":\"%s\"", (const char *[]){"aaaa", "bbbb", "cccc"}[seq % 3]);
        assert_non_null(strstr(cap.lines[i], want));
        snprintf(want, sizeof want, "\"line\":%d,", seq % 2 ? line_a : line_b);
        assert_non_null(strstr(cap.lines[i], want));
    }
    sky_close(sky);
    skytest_capture_reset(&cap);
}

/* Many laps of a small ring, killed and reopened: nothing lost, nothing twice (beyond the
 * one counted ambiguous each time), in order. */
static void test_reopen_rounds_over_laps(void **state)
{
    (void)state;
    long delivered = 0;
    for (int round = 0; round < 6; round++) {
        killed_child(300); /* ~300 x 200 bytes: the 64 KiB ring is close to full */
        sky_t *sky = NULL;
        assert_int_equal(open_spooled(&sky), SKY_OK);
        sky_stats st;
        sky_stats_get(sky, &st);
        assert_int_equal(st.spool_recovered, 300);
        skytest_capture cap = {0};
        sky_add_sink(sky, skytest_capture_sink(&cap, SKY_FORMAT_JSON), NULL);
        assert_int_equal(sky_flush(sky, 30000), SKY_OK);
        assert_int_equal(cap.n, 300);
        for (size_t i = 0; i < cap.n; i++)
            assert_int_equal(seq_of(cap.lines[i]), (long)i);
        delivered += (long)cap.n;
        sky_close(sky);
        skytest_capture_reset(&cap);
    }
    assert_int_equal(delivered, 1800);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_recovered_in_order_with_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_middle_and_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_never_committed_in_the_middle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pointers_rebased, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_header_refused_untouched, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_owner_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fork_child_off_the_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spool_off_unchanged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_rounds_over_laps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_live_events_keep_their_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed_while_threads_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_size_kept_then_resized, setup, teardown),
        cmocka_unit_test_setup_teardown(test_from_yaml, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_ex_says_why, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

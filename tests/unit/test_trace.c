/* test_trace.c - trace and span ids, spans as context scopes, moving a span between threads,
 * and the trace headers (W3C traceparent/tracestate, X-Amzn-Trace-Id, X-Trace-Id) with the
 * valid and invalid examples of their specifications (src/trace). */
#include "skytest.h"

#include <skylog/request.h>
#include <skylog/trace.h>

#include "trace/origin.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static sky_t *open_capture(skytest_capture *cap, sky_mode mode)
{
    sky_t *sky = NULL;
    assert_int_equal(sky_open(&(sky_options){.mode = mode, .level = SKY_LEVEL_TRACE,
                                             .level_set = true},
                              &sky),
                     SKY_OK);
    assert_int_equal(sky_add_sink(sky, skytest_capture_sink(cap, SKY_FORMAT_JSON), NULL), SKY_OK);
    return sky;
}

static json_t *line(const skytest_capture *cap, size_t i)
{
    assert_true(i < cap->n);
    json_t *j = json_loads(cap->lines[i], 0, NULL);
    assert_non_null(j);
    return j;
}

static const char *jstr(json_t *j, const char *k)
{
    json_t *v = json_object_get(j, k);
    return v && json_is_string(v) ? json_string_value(v) : NULL;
}

static void hex(const uint8_t *b, size_t n, char *out) { sky_trace_hex(b, n, out); }

/* ---- ids ---------------------------------------------------------------------------------- */

static int cmp64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_ids_unique_and_xray_shaped(void **state)
{
    (void)state;
    enum { N = 20000 };
    uint64_t *v = malloc(N * sizeof *v);
    for (size_t i = 0; i < N; i++) {
        uint8_t s[8];
        sky_span_id_new(s);
        memcpy(&v[i], s, 8);
        assert_true(v[i] != 0);
    }
    qsort(v, N, sizeof *v, cmp64);
    for (size_t i = 1; i < N; i++)
        assert_true(v[i] != v[i - 1]);
    free(v);

    uint8_t t[16], u[16];
    sky_trace_id_new(t);
    sky_trace_id_new(u);
    assert_memory_not_equal(t, u, 16);
    /* the first 32 bits are the Unix time (X-Ray's rule), within a few seconds of now */
    uint32_t secs = (uint32_t)t[0] << 24 | (uint32_t)t[1] << 16 | (uint32_t)t[2] << 8 | t[3];
    int64_t now = (int64_t)time(NULL);
    assert_true(secs >= now - 5 && secs <= now + 5);
}

static void *ids_thread(void *arg)
{
    uint8_t *out = arg;
    for (int i = 0; i < 64; i++)
        sky_span_id_new(out + 8 * i);
    return NULL;
}

static void test_ids_differ_across_threads_and_fork(void **state)
{
    (void)state;
    uint8_t a[64 * 8], b[64 * 8];
    pthread_t ta, tb;
    pthread_create(&ta, NULL, ids_thread, a);
    pthread_create(&tb, NULL, ids_thread, b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    for (int i = 0; i < 64; i++)
        for (int j = 0; j < 64; j++)
            assert_memory_not_equal(a + 8 * i, b + 8 * j, 8);

    /* a forked child must not repeat the parent's sequence */
    uint8_t warm[8];
    sky_span_id_new(warm);
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        uint8_t c[8];
        sky_span_id_new(c);
        ssize_t w = write(fd[1], c, 8);
        _exit(w == 8 ? 0 : 1);
    }
    uint8_t p[8], c[8];
    sky_span_id_new(p);
    assert_int_equal(read(fd[0], c, 8), 8);
    int st;
    waitpid(pid, &st, 0);
    close(fd[0]);
    close(fd[1]);
    assert_memory_not_equal(p, c, 8);
}

static void test_hex_every_byte(void **state)
{
    (void)state;
    uint8_t b[256];
    for (int i = 0; i < 256; i++)
        b[i] = (uint8_t)(i * 7 + 3); /* every value, in an order that mixes neighbours */
    char got[513], want[513];
    for (size_t n = 0; n <= 17; n++) { /* whole words and tails */
        for (size_t off = 0; off + n <= 256; off += 13) {
            sky_trace_hex(b + off, n, got);
            for (size_t i = 0; i < n; i++)
                snprintf(want + 2 * i, 3, "%02x", b[off + i]);
            want[2 * n] = '\0';
            assert_string_equal(got, want);
        }
    }
}

/* ---- spans -------------------------------------------------------------------------------- */

static void check_spans(sky_mode mode)
{
    skytest_capture cap = {0};
    sky_t *sky = open_capture(&cap, mode);
    sky_logger *log = sky_logger_get(sky, "app");

    sky_info(log, "before");
    sky_span outer, inner;
    sky_span_begin(&outer, log, "outer", NULL);
    sky_info(log, "in_outer", SKY_INT("n", 1));
    sky_span_begin(&inner, log, "inner", NULL);
    sky_info(log, "in_inner", SKY_INT("n", 2));
    sky_span_fail(&inner, "card declined");
    sky_span_end(&inner);
    sky_info(log, "back_in_outer", SKY_INT("n", 3));
    sky_span_end(&outer);
    sky_span_end(&outer); /* twice: nothing more */
    sky_info(log, "after");
    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    assert_int_equal(cap.n, 7);

    char th[33], os[17], is[17];
    hex(outer.ctx.trace_id, 16, th);
    hex(outer.ctx.span_id, 8, os);
    hex(inner.ctx.span_id, 8, is);
    assert_memory_equal(outer.ctx.trace_id, inner.ctx.trace_id, 16);
    assert_false(outer.ctx.has_parent);
    assert_true(inner.ctx.has_parent);
    assert_memory_equal(inner.ctx.parent_id, outer.ctx.span_id, 8);

    json_t *j = line(&cap, 0);
    assert_null(json_object_get(j, "trace_id"));
    json_decref(j);
    j = line(&cap, 1);
    assert_string_equal(jstr(j, "message"), "in_outer");
    assert_string_equal(jstr(j, "trace_id"), th);
    assert_string_equal(jstr(j, "span_id"), os);
    assert_null(json_object_get(j, "parent_span_id"));
    json_decref(j);
    j = line(&cap, 2);
    assert_string_equal(jstr(j, "trace_id"), th);
    assert_string_equal(jstr(j, "span_id"), is);
    assert_string_equal(jstr(j, "parent_span_id"), os);
    json_decref(j);
    j = line(&cap, 3); /* the inner span's end, inside it, failed */
    assert_string_equal(jstr(j, "message"), "span_finished");
    assert_string_equal(jstr(j, "level"), "ERROR");
    assert_string_equal(jstr(j, "span"), "inner");
    assert_string_equal(jstr(j, "status"), "error");
    assert_string_equal(jstr(j, "error"), "card declined");
    assert_string_equal(jstr(j, "status_code"), "error"); /* set, so said */
    assert_null(json_object_get(j, "span_kind"));          /* INTERNAL: not said */
    assert_string_equal(jstr(j, "span_id"), is);
    assert_true(json_is_number(json_object_get(j, "duration_ms")));
    assert_true(json_number_value(json_object_get(j, "duration_ms")) >= 0);
    json_decref(j);
    j = line(&cap, 4);
    assert_string_equal(jstr(j, "span_id"), os);
    assert_null(json_object_get(j, "parent_span_id"));
    json_decref(j);
    j = line(&cap, 5);
    assert_string_equal(jstr(j, "message"), "span_finished");
    assert_string_equal(jstr(j, "level"), "INFO");
    assert_string_equal(jstr(j, "status"), "ok");
    assert_null(json_object_get(j, "error"));
    assert_null(json_object_get(j, "status_code")); /* UNSET: the line of old, unchanged */
    assert_null(json_object_get(j, "span_kind"));
    json_decref(j);
    j = line(&cap, 6);
    assert_null(json_object_get(j, "trace_id"));
    assert_null(json_object_get(j, "span_id"));
    json_decref(j);
    assert_int_equal(sky_context_size(), 0);
    sky_trace_ctx none;
    assert_false(sky_trace_current(&none));
    assert_false(none.valid);
    sky_close(sky);
    skytest_capture_reset(&cap);
}

static void test_spans_sync(void **state)
{
    (void)state;
    check_spans(SKY_MODE_SYNC);
}

/* async: events inside a span take the site fast path with a context block */
static void test_spans_async(void **state)
{
    (void)state;
    check_spans(SKY_MODE_ASYNC);
}

/* The kind and an explicit status reach span_finished (span_kind, status_code), only when set;
 * the OTLP exporter reads them there (tests/integration/test_otlp_traces.py). */
static void test_span_kind_and_status(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_capture(&cap, SKY_MODE_SYNC);
    sky_logger *log = sky_logger_get(sky, "app");
    static const char *const names[] = {NULL, "server", "client", "producer", "consumer"};
    sky_span sp;
    for (int k = SKY_SPAN_KIND_INTERNAL; k <= SKY_SPAN_KIND_CONSUMER; k++) {
        sky_span_begin(&sp, log, "k", NULL); /* the same struct again: begin resets the kind */
        sky_span_set_kind(&sp, (sky_span_kind)k);
        sky_span_set_kind(&sp, (sky_span_kind)99); /* unknown: ignored */
        sky_span_set_status(&sp, SKY_SPAN_OK);
        sky_span_end(&sp);
    }
    sky_span_begin(&sp, log, "ok_then_failed", NULL); /* the last call wins */
    sky_span_set_status(&sp, SKY_SPAN_OK);
    sky_span_fail(&sp, "late");
    sky_span_end(&sp);
    sky_span_begin(&sp, log, "failed_then_ok", NULL);
    sky_span_fail(&sp, "early");
    sky_span_set_status(&sp, SKY_SPAN_OK);
    sky_span_end(&sp);
    sky_span_begin(&sp, log, "set_back_to_unset", NULL);
    sky_span_set_status(&sp, SKY_SPAN_OK);
    sky_span_set_status(&sp, SKY_SPAN_UNSET);
    sky_span_end(&sp);
    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    assert_int_equal(cap.n, 8);
    for (int k = 0; k <= SKY_SPAN_KIND_CONSUMER; k++) {
        json_t *j = line(&cap, (size_t)k);
        if (names[k])
            assert_string_equal(jstr(j, "span_kind"), names[k]);
        else
            assert_null(json_object_get(j, "span_kind"));
        assert_string_equal(jstr(j, "status"), "ok");
        assert_string_equal(jstr(j, "status_code"), "ok");
        assert_string_equal(jstr(j, "level"), "INFO");
        json_decref(j);
    }
    json_t *j = line(&cap, 5);
    assert_string_equal(jstr(j, "status"), "error");
    assert_string_equal(jstr(j, "status_code"), "error");
    assert_string_equal(jstr(j, "error"), "late");
    json_decref(j);
    j = line(&cap, 6);
    assert_string_equal(jstr(j, "status"), "ok");
    assert_string_equal(jstr(j, "status_code"), "ok");
    assert_null(json_object_get(j, "error"));
    assert_string_equal(jstr(j, "level"), "INFO");
    json_decref(j);
    j = line(&cap, 7);
    assert_string_equal(jstr(j, "status"), "ok");
    assert_null(json_object_get(j, "status_code"));
    json_decref(j);
    sky_span_set_kind(NULL, SKY_SPAN_KIND_CLIENT); /* NULL: nothing */
    sky_close(sky);
    skytest_capture_reset(&cap);
}

static void test_span_macro_and_context(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_capture(&cap, SKY_MODE_SYNC);
    sky_logger *log = sky_logger_get(sky, "app");
    char tid[33] = "";
    for (int i = 0; i < 2; i++) {
        SKY_SPAN(sp, log, "loop") {
            hex(sp.ctx.trace_id, 16, tid);
            SKY_WITH_CONTEXT(SKY_STR("request_id", "r1")) {
                sky_info(log, "work");
            }
            if (i == 1)
                break; /* leaving by break still ends the span */
        }
    }
    assert_int_equal(sky_context_size(), 0);
    assert_int_equal(cap.n, 4);
    json_t *j = line(&cap, 2);
    assert_string_equal(jstr(j, "request_id"), "r1");
    assert_string_equal(jstr(j, "trace_id"), tid);
    json_decref(j);
    j = line(&cap, 3);
    assert_string_equal(jstr(j, "message"), "span_finished");
    assert_string_equal(jstr(j, "span"), "loop");
    json_decref(j);
    sky_close(sky);
    skytest_capture_reset(&cap);
}

/* A span whose parent context has no span id (X-Ray's Root= alone) is a root even when
 * begun inside a child span of the same thread: the outer span's parent_span_id must not
 * show through on its events, nor on its span_finished (what OTLP exports as the parent). */
static void test_root_inside_child_span(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_capture(&cap, SKY_MODE_SYNC);
    sky_logger *log = sky_logger_get(sky, "app");
    sky_span outer, child, root;
    sky_span_begin(&outer, log, "outer", NULL);
    sky_span_begin(&child, log, "child", NULL);
    sky_trace_ctx c;
    const char *root_only = "Root=1-5759e988-bd862e3fe1be46a994272793";
    assert_true(sky_xray_parse(root_only, strlen(root_only), &c));
    sky_span_begin(&root, log, "root", &c);
    assert_false(root.ctx.has_parent);
    sky_info(log, "in_root");
    sky_span_end(&root);
    sky_info(log, "in_child");
    sky_span_end(&child);
    sky_span_end(&outer);
    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    assert_int_equal(cap.n, 5);
    char rs[17], os[17];
    hex(root.ctx.span_id, 8, rs);
    hex(outer.ctx.span_id, 8, os);
    for (int i = 0; i < 2; i++) { /* in_root, then the root's span_finished */
        json_t *j = line(&cap, i);
        assert_string_equal(jstr(j, "trace_id"), "5759e988bd862e3fe1be46a994272793");
        assert_string_equal(jstr(j, "span_id"), rs);
        json_t *p = json_object_get(j, "parent_span_id");
        assert_true(p == NULL || json_is_null(p));
        json_decref(j);
    }
    json_t *j = line(&cap, 2); /* back in the child: its own parent again */
    assert_string_equal(jstr(j, "message"), "in_child");
    assert_string_equal(jstr(j, "parent_span_id"), os);
    json_decref(j);
    assert_int_equal(sky_context_size(), 0);
    sky_close(sky);
    skytest_capture_reset(&cap);
}

typedef struct {
    sky_logger *log;
    sky_span *span;
    sky_trace_ctx ctx;
    sky_span child;
} xthread;

static void *resume_thread(void *arg)
{
    xthread *x = arg;
    assert_int_equal(sky_span_enter(x->span), SKY_OK);
    sky_info(x->log, "on_worker");
    assert_int_equal(sky_span_leave(x->span), SKY_OK);
    sky_span_begin(&x->child, x->log, "job", &x->ctx); /* a child of the copied context */
    sky_info(x->log, "job_step");
    sky_span_end(&x->child);
    return NULL;
}

static void test_span_moves_between_threads(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_capture(&cap, SKY_MODE_SYNC);
    sky_logger *log = sky_logger_get(sky, "app");
    xthread x = {.log = log};
    sky_span sp;
    sky_span_begin(&sp, log, "request", NULL);
    assert_true(sky_trace_current(&x.ctx));
    assert_memory_equal(x.ctx.span_id, sp.ctx.span_id, 8);
    assert_int_equal(sky_span_enter(&sp), SKY_EINVAL); /* already current */
    assert_int_equal(sky_span_leave(&sp), SKY_OK);
    sky_info(log, "main_after_leave");
    x.span = &sp;
    pthread_t t;
    pthread_create(&t, NULL, resume_thread, &x);
    pthread_join(t, NULL);
    sky_span_end(&sp); /* left: ends from any thread, with its ids */
    assert_int_equal(cap.n, 5);
    char tid[33], sid[17];
    hex(sp.ctx.trace_id, 16, tid);
    hex(sp.ctx.span_id, 8, sid);
    json_t *j = line(&cap, 0);
    assert_null(json_object_get(j, "trace_id"));
    json_decref(j);
    j = line(&cap, 1);
    assert_string_equal(jstr(j, "message"), "on_worker");
    assert_string_equal(jstr(j, "span_id"), sid);
    json_decref(j);
    j = line(&cap, 2);
    assert_string_equal(jstr(j, "message"), "job_step");
    assert_string_equal(jstr(j, "trace_id"), tid);
    assert_string_equal(jstr(j, "parent_span_id"), sid);
    json_decref(j);
    j = line(&cap, 4);
    assert_string_equal(jstr(j, "message"), "span_finished");
    assert_string_equal(jstr(j, "span_id"), sid);
    json_decref(j);
    assert_int_equal(sky_context_size(), 0);
    sky_close(sky);
    skytest_capture_reset(&cap);
}

/* Spans ended on a thread other than the one that began them, inside that thread's own child
 * span (whose parent_span_id is in its context): a root must not take that parent, a child
 * keeps its own. Both ways in: left then ended (documented), and ended while still current
 * on a thread that has gone (misuse, handled without touching that thread's context). */
typedef struct {
    sky_logger *log;
    sky_span root, child;
} begun_here;

static void *begin_and_leave(void *arg)
{
    begun_here *b = arg;
    sky_span_begin(&b->root, b->log, "root", NULL);
    sky_span_begin(&b->child, b->log, "child", NULL);
    assert_int_equal(sky_span_leave(&b->child), SKY_OK);
    assert_int_equal(sky_span_leave(&b->root), SKY_OK);
    return NULL;
}

static void *begin_and_stay(void *arg)
{
    begun_here *b = arg;
    sky_span_begin(&b->root, b->log, "root", NULL);
    sky_span_begin(&b->child, b->log, "child", NULL);
    return NULL; /* still current on this thread when it ends (misuse) */
}

static void check_finished(json_t *j, const char *name, const sky_span *sp, const char *parent)
{
    char tid[33], sid[17];
    hex(sp->ctx.trace_id, 16, tid);
    hex(sp->ctx.span_id, 8, sid);
    assert_string_equal(jstr(j, "message"), "span_finished");
    assert_string_equal(jstr(j, "span"), name);
    assert_string_equal(jstr(j, "trace_id"), tid);
    assert_string_equal(jstr(j, "span_id"), sid);
    json_t *p = json_object_get(j, "parent_span_id");
    if (parent)
        assert_string_equal(jstr(j, "parent_span_id"), parent);
    else
        assert_true(p == NULL || json_is_null(p));
}

static void test_span_ended_on_another_thread(void **state)
{
    (void)state;
    void *(*const starts[])(void *) = {begin_and_leave, begin_and_stay};
    for (size_t k = 0; k < 2; k++) {
        skytest_capture cap = {0};
        sky_t *sky = open_capture(&cap, SKY_MODE_SYNC);
        sky_logger *log = sky_logger_get(sky, "app");
        begun_here b = {.log = log};
        pthread_t t;
        pthread_create(&t, NULL, starts[k], &b);
        pthread_join(t, NULL);
        sky_span mine, inner; /* this thread's own trace, its parent_span_id in the context */
        sky_span_begin(&mine, NULL, "mine", NULL);
        sky_span_begin(&inner, NULL, "inner", NULL);
        sky_span_end(&b.child);
        sky_span_end(&b.root);
        sky_info(log, "still_inner");
        sky_span_end(&inner);
        sky_span_end(&mine);
        assert_int_equal(cap.n, 3);
        char rs[17], ms[17], is[17];
        hex(b.root.ctx.span_id, 8, rs);
        hex(mine.ctx.span_id, 8, ms);
        hex(inner.ctx.span_id, 8, is);
        assert_memory_equal(b.child.ctx.trace_id, b.root.ctx.trace_id, 16);
        json_t *j = line(&cap, 0);
        check_finished(j, "child", &b.child, rs);
        json_decref(j);
        j = line(&cap, 1);
        check_finished(j, "root", &b.root, NULL);
        json_decref(j);
        j = line(&cap, 2); /* this thread's context is as it was */
        assert_string_equal(jstr(j, "message"), "still_inner");
        assert_string_equal(jstr(j, "span_id"), is);
        assert_string_equal(jstr(j, "parent_span_id"), ms);
        json_decref(j);
        assert_int_equal(sky_context_size(), 0);
        sky_close(sky);
        skytest_capture_reset(&cap);
    }
}

/* ---- W3C traceparent ---------------------------------------------------------------------- */

static const char *const TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

static void test_traceparent(void **state)
{
    (void)state;
    sky_trace_ctx c;
    assert_true(sky_traceparent_parse(TP, strlen(TP), &c));
    char out[SKY_TRACEPARENT_LEN];
    assert_int_equal(sky_traceparent_format(&c, out, sizeof out), 55);
    assert_string_equal(out, TP);
    assert_int_equal(c.flags, 1);
    const char *unsampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
    assert_true(sky_traceparent_parse(unsampled, strlen(unsampled), &c));
    assert_int_equal(c.flags, 0);
    /* surrounding whitespace is allowed */
    const char *ws = " \t00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ";
    assert_true(sky_traceparent_parse(ws, strlen(ws), &c));
    /* a later version is read by its 00 prefix, when the rest is dash-separated */
    const char *future = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future";
    assert_true(sky_traceparent_parse(future, strlen(future), &c));
    const char *future55 = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    assert_true(sky_traceparent_parse(future55, strlen(future55), &c));
    assert_int_equal(sky_traceparent_format(&c, out, sizeof out), 55);
    assert_string_equal(out, TP); /* we write version 00 */

    static const char *const bad[] = {
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", /* version ff */
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01", /* zero trace id */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", /* zero parent id */
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", /* upper case */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0G",
        "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", /* 00 is exactly 55 */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\x01",
        "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.future",
        "00-4bf92f3577b34da6a3ce929d0e0e4736--0f067aa0ba902b7-01",
        "",
        "00",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        sky_trace_ctx d = {.valid = false};
        assert_false(sky_traceparent_parse(bad[i], strlen(bad[i]), &d));
        assert_false(d.valid);
    }
}

/* ---- W3C tracestate ----------------------------------------------------------------------- */

static void test_tracestate(void **state)
{
    (void)state;
    sky_trace_ctx c;
    const char *ok = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE";
    assert_true(sky_tracestate_parse(ok, strlen(ok), &c));
    assert_string_equal(c.tracestate, ok);
    /* optional whitespace and empty members go; order stays */
    const char *ows = " rojo=00f067aa0ba902b7 ,\t, congo=t61rcWkgMzE ,";
    assert_true(sky_tracestate_parse(ows, strlen(ows), &c));
    assert_string_equal(c.tracestate, ok);
    const char *tenant = "fw529a3039@dt=FWZLKNCXQ,t61rcwkgmze@rojo=00f067aa0ba902b7";
    assert_true(sky_tracestate_parse(tenant, strlen(tenant), &c));
    assert_string_equal(c.tracestate, tenant);
    assert_true(sky_tracestate_parse("", 0, &c)); /* empty is allowed */
    assert_string_equal(c.tracestate, "");
    const char *spaces = "a=b c"; /* inner spaces in a value are fine */
    assert_true(sky_tracestate_parse(spaces, strlen(spaces), &c));

    static const char *const bad[] = {
        "rojo=1,rojo=2",            /* duplicate key */
        "Rojo=1",                   /* upper case key */
        "1rojo=1",                  /* simple keys start with a letter */
        "rojo",                     /* no '=' */
        "rojo=",                    /* empty value */
        "rojo=a,b",                 /* member without '=' */
        "rojo=a=b",                 /* '=' in a value */
        "rojo=\x7f",                /* outside printable ASCII */
        "@dt=1",                    /* empty tenant */
        "t@=1",                     /* empty system */
        "t@1dt=1",                  /* system starts with a letter */
        "t@abcdefghijklmno=1",      /* system of 15 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(c.tracestate, sizeof c.tracestate, "x=y");
        assert_false(sky_tracestate_parse(bad[i], strlen(bad[i]), &c));
        assert_string_equal(c.tracestate, "");
    }
    /* 32 members are allowed, 33 are not */
    char buf[1024];
    size_t n = 0;
    for (int i = 0; i < 33; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%sk%d=v", i ? "," : "", i);
    assert_false(sky_tracestate_parse(buf, n, &c));
    char *last = strrchr(buf, ',');
    assert_true(sky_tracestate_parse(buf, (size_t)(last - buf), &c));
    /* past SKY_TRACESTATE_MAX, whole members are dropped from the end */
    char big[2048];
    char v[200];
    memset(v, 'x', sizeof v - 1);
    v[sizeof v - 1] = '\0';
    int m = snprintf(big, sizeof big, "a=%s,b=%s,c=%s", v, v, v);
    assert_true(sky_tracestate_parse(big, (size_t)m, &c));
    assert_int_equal(strlen(c.tracestate), 2 * (2 + 199) + 1);
    assert_non_null(strstr(c.tracestate, "b="));
    assert_null(strstr(c.tracestate, "c="));
}

/* Past SKY_TRACESTATE_MAX, W3C's order: members over 128 characters go first, then members
 * from the end; each one dropped is counted. */
static void test_tracestate_trim_w3c(void **state)
{
    (void)state;
    sky_trace_ctx c;
    sky_trace_stats before, after;
    char buf[2048], v[201];
    memset(v, 'x', 200);
    v[200] = '\0';
    /* a long member first, then 20 short ones of 24 characters: 202 + 20 * 25 = 702 */
    int n = snprintf(buf, sizeof buf, "long=%s", v);
    for (int i = 0; i < 20; i++)
        n += snprintf(buf + n, sizeof buf - (size_t)n, ",k%02d=%020d", i, i);
    sky_trace_stats_get(&before);
    assert_true(sky_tracestate_parse(buf, (size_t)n, &c));
    sky_trace_stats_get(&after);
    assert_null(strstr(c.tracestate, "long="));    /* the long one went, not the last ones */
    assert_non_null(strstr(c.tracestate, "k00=")); /* ... so every short one stays */
    assert_non_null(strstr(c.tracestate, "k19="));
    assert_int_equal(strlen(c.tracestate), 20 * 25 - 1);
    assert_int_equal(after.tracestate_trimmed, before.tracestate_trimmed + 1);
    /* short members only, 32 of 24 characters (799): from the end until it fits (20: 499) */
    n = 0;
    for (int i = 0; i < 32; i++)
        n += snprintf(buf + n, sizeof buf - (size_t)n, "%sk%02d=%020d", i ? "," : "", i, i);
    before = after;
    assert_true(sky_tracestate_parse(buf, (size_t)n, &c));
    sky_trace_stats_get(&after);
    assert_int_equal(strlen(c.tracestate), 20 * 25 - 1);
    assert_non_null(strstr(c.tracestate, "k19="));
    assert_null(strstr(c.tracestate, "k20="));
    assert_int_equal(after.tracestate_trimmed, before.tracestate_trimmed + 12);
    /* one member of 513 characters (the longest the grammar allows) alone: dropped, not kept */
    char key[257];
    memset(key, 'k', 256);
    key[256] = '\0';
    memset(v, 'v', 200);
    n = snprintf(buf, sizeof buf, "%s=%s%s", key, v, "0123456789012345678901234567890123456789"
                                                     "0123456789012345");
    assert_int_equal(n, 513);
    before = after;
    assert_true(sky_tracestate_parse(buf, (size_t)n, &c));
    sky_trace_stats_get(&after);
    assert_string_equal(c.tracestate, "");
    assert_int_equal(after.tracestate_trimmed, before.tracestate_trimmed + 1);
    /* within the limit: nothing counted */
    before = after;
    assert_true(sky_tracestate_parse("a=1,b=2", 7, &c));
    sky_trace_stats_get(&after);
    assert_int_equal(after.tracestate_trimmed, before.tracestate_trimmed);
}

/* ---- the mark of the library's span events ------------------------------------------------ */

/* What a sink sees of each event: its name and which of the library's span events its call
 * site marks (trace/origin.h). */
typedef struct seen_origin {
    char name[32][32];
    int origin[32];
    int n;
} seen_origin;

static sky_status origin_write(void *self, const sky_record *recs, size_t n)
{
    seen_origin *s = self;
    for (size_t i = 0; i < n && s->n < 32; i++, s->n++) {
        snprintf(s->name[s->n], sizeof s->name[0], "%s", sky_event_name(recs[i].event));
        s->origin[s->n] = sky__span_origin(sky_event_callsite(recs[i].event));
    }
    return SKY_OK;
}
static const sky_sink_vtable origin_vt = {.type = "origin", .write = origin_write};

/* span_finished and request keep their mark through every way an event travels (the sync
 * path, the async ring, the ring kept in a file, whose records hold a copy of the call site),
 * and an application's events of those names, however logged, have none. */
static void test_span_events_marked(void **state)
{
    (void)state;
    char *dir = skytest_tmpdir();
    char spool[512];
    snprintf(spool, sizeof spool, "%s/ring", dir);
    for (int mode = 0; mode < 3; mode++) {
        seen_origin seen = {.n = 0};
        sky_options o = {.mode = mode ? SKY_MODE_ASYNC : SKY_MODE_SYNC,
                         .ring_spool_path = mode == 2 ? spool : NULL};
        sky_t *sky = NULL;
        assert_int_equal(sky_open(&o, &sky), SKY_OK);
        assert_int_equal(sky_add_sink(sky, sky_sink_new(&origin_vt, &seen, SKY_FORMAT_JSON), NULL),
                         SKY_OK);
        sky_logger *log = sky_logger_get(sky, "app");
        sky_request_log *rl = NULL;
        assert_int_equal(sky_request_log_new(&(sky_request_opts){.log = log, .no_metrics = true},
                                             &rl, NULL),
                         SKY_OK);
        sky_span sp;
        sky_span_begin(&sp, log, "work", NULL);
        sky_field f[] = {SKY_STR("method", "GET"), SKY_STR("path", "/"), SKY_INT("status", 200)};
        sky_emit(log, SKY_LEVEL_INFO, "request", NULL, f, 3);
        sky_info(log, "span_finished", SKY_STR("span", "mine"));
        sky_emit(log, SKY_LEVEL_INFO, "span_finished", &(sky_callsite){"app.c", "f", 1}, f, 1);
        sky_span_end(&sp);
        sky_request r;
        sky_request_begin(rl, &r, "GET", "/x", NULL, NULL);
        sky_request_end(&r, 200, 0);
        assert_int_equal(sky_flush(sky, 10000), SKY_OK);
        sky_close(sky);
        sky_request_log_free(rl);
        static const char *const names[] = {"request", "span_finished", "span_finished",
                                            "span_finished", "request"};
        static const int origins[] = {SKY__ORIGIN_NONE, SKY__ORIGIN_NONE, SKY__ORIGIN_NONE,
                                      SKY__ORIGIN_SPAN, SKY__ORIGIN_REQUEST};
        assert_int_equal(seen.n, 5);
        for (int i = 0; i < 5; i++) {
            assert_string_equal(seen.name[i], names[i]);
            assert_int_equal(seen.origin[i], origins[i]);
        }
    }
    skytest_rmtree(dir);
    free(dir);
}

/* ---- X-Ray -------------------------------------------------------------------------------- */

static void test_xray(void **state)
{
    (void)state;
    sky_trace_ctx c;
    const char *aws = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    assert_true(sky_xray_parse(aws, strlen(aws), &c));
    char h[33];
    hex(c.trace_id, 16, h);
    assert_string_equal(h, "5759e988bd862e3fe1be46a994272793");
    assert_true(c.has_span);
    char out[SKY_XRAY_HEADER_LEN];
    assert_true(sky_xray_format(&c, out, sizeof out) > 0);
    assert_string_equal(out, aws);
    /* the same trace in W3C form */
    assert_true(sky_traceparent_format(&c, out, sizeof out) > 0);
    assert_string_equal(out, "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01");

    const char *root_only = "Root=1-5759e988-bd862e3fe1be46a994272793";
    assert_true(sky_xray_parse(root_only, strlen(root_only), &c));
    assert_false(c.has_span);
    assert_true(sky_xray_format(&c, out, sizeof out) > 0);
    assert_string_equal(out, "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1");
    const char *lb = "Self=1-67891234-12456789abcdef012345678;Root=1-5759e988-bd862e3fe1be46a994272793;"
                     "Parent=53995c3f42cd8ad8;Sampled=0;Lineage=a87bd80c:1";
    assert_true(sky_xray_parse(lb, strlen(lb), &c));
    assert_int_equal(c.flags & SKY_TRACE_FLAG_SAMPLED, 0);

    static const char *const bad[] = {
        "Root=2-5759e988-bd862e3fe1be46a994272793",
        "Root=1-5759e988-bd862e3fe1be46a99427279",
        "Root=1-5759e988bd862e3fe1be46a994272793",
        "Root=1-5759e988-bd862e3fe1be46a99427279g",
        "Root=1-00000000-000000000000000000000000",
        "Parent=53995c3f42cd8ad8;Sampled=1",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=0000000000000000",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=2",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Root=1-5759e988-bd862e3fe1be46a994272793",
        "Root",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_false(sky_xray_parse(bad[i], strlen(bad[i]), &c));
}

/* ---- extract / inject --------------------------------------------------------------------- */

typedef struct {
    const char *names[8];
    char values[8][SKY_TRACESTATE_MAX + 1];
    int n;
} headers;

static const char *hget(void *user, const char *name)
{
    headers *h = user;
    for (int i = 0; i < h->n; i++)
        if (!strcasecmp(h->names[i], name))
            return h->values[i];
    return NULL;
}

static void hset(void *user, const char *name, const char *value)
{
    headers *h = user;
    assert_true(h->n < 8);
    h->names[h->n] = name;
    snprintf(h->values[h->n++], sizeof h->values[0], "%s", value);
}

static void hadd(headers *h, const char *name, const char *value) { hset(h, name, value); }

static void test_extract_priority_and_invalid(void **state)
{
    (void)state;
    sky_trace_ctx c;
    char t[33], s[17];
    headers h = {0};
    hadd(&h, "TraceParent", TP);
    hadd(&h, "tracestate", "rojo=00f067aa0ba902b7");
    hadd(&h, "X-Amzn-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8");
    assert_true(sky_trace_extract(&c, hget, &h));
    hex(c.trace_id, 16, t);
    assert_string_equal(t, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_string_equal(c.tracestate, "rojo=00f067aa0ba902b7");

    /* an invalid traceparent is ignored: X-Ray is next */
    snprintf(h.values[0], sizeof h.values[0], "00-zz");
    sky_trace_stats before, after;
    sky_trace_stats_get(&before);
    assert_true(sky_trace_extract(&c, hget, &h));
    sky_trace_stats_get(&after);
    assert_int_equal(after.invalid, before.invalid + 1);
    hex(c.trace_id, 16, t);
    assert_string_equal(t, "5759e988bd862e3fe1be46a994272793");
    assert_string_equal(c.tracestate, ""); /* tracestate only travels with traceparent */

    /* seed 004's headers, with a UUID trace id */
    headers p = {0};
    hadd(&p, "X-Trace-Id", "4bf92f35-77b3-4da6-a3ce-929d0e0e4736");
    hadd(&p, "X-Span-Id", "00f067aa0ba902b7");
    hadd(&p, "X-Parent-Span", "53995c3f42cd8ad8");
    assert_true(sky_trace_extract(&c, hget, &p));
    hex(c.trace_id, 16, t);
    hex(c.span_id, 8, s);
    assert_string_equal(t, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_string_equal(s, "00f067aa0ba902b7");
    assert_true(c.has_parent);

    /* nothing valid: a new trace */
    headers bad = {0};
    hadd(&bad, "traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01");
    hadd(&bad, "X-Amzn-Trace-Id", "Root=garbage");
    hadd(&bad, "X-Trace-Id", "not-a-trace");
    assert_false(sky_trace_extract(&c, hget, &bad));
    assert_false(c.valid);
    sky_span sp;
    sky_span_begin_headers(&sp, NULL, "req", hget, &bad);
    assert_false(sp.ctx.has_parent);
    assert_memory_not_equal(sp.ctx.trace_id, (uint8_t[16]){0}, 16);
    sky_span_end(&sp);

    /* a value over 8 KiB is not read */
    char *big = malloc(9000);
    memset(big, ' ', 8999);
    memcpy(big + 8999 - 55, TP, 55);
    big[8999] = '\0';
    assert_false(sky_traceparent_parse(big, 8999, &c));
    free(big);
}

/* A span continued from an unsampled caller stays unsampled, and its children; span_finished
 * says trace_flags and tracestate when they are not the usual (and no call site: the mark the
 * OTLP exporter knows the library's events by renders as nothing); inject passes "-00" on. */
static void test_span_flags_and_tracestate(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_capture(&cap, SKY_MODE_SYNC);
    sky_logger *log = sky_logger_get(sky, "app");
    headers in = {0};
    hadd(&in, "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
    hadd(&in, "tracestate", "congo=t61rcWkgMzE,rojo=1");
    sky_span srv, child, root;
    sky_span_begin_headers(&srv, log, "server", hget, &in);
    assert_int_equal(srv.ctx.flags, 0);
    sky_span_begin(&child, log, "call", NULL);
    assert_int_equal(child.ctx.flags, 0); /* the parent's decision */
    headers out = {0};
    assert_int_equal(sky_trace_inject(NULL, SKY_TRACE_W3C | SKY_TRACE_XRAY, hset, &out), 3);
    assert_non_null(strstr(hget(&out, "traceparent"), "-00"));
    assert_int_equal(strlen(hget(&out, "traceparent")), 55);
    assert_string_equal(hget(&out, "tracestate"), "congo=t61rcWkgMzE,rojo=1");
    assert_non_null(strstr(hget(&out, "X-Amzn-Trace-Id"), "Sampled=0"));
    sky_info(log, "inside"); /* logs are not sampled: it has the ids */
    sky_span_end(&child);
    sky_span_end(&srv);
    sky_span_begin(&root, log, "root", NULL); /* a new trace: sampled */
    assert_int_equal(root.ctx.flags, SKY_TRACE_FLAG_SAMPLED);
    sky_span_end(&root);
    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    assert_int_equal(cap.n, 4);
    json_t *j = line(&cap, 0);
    assert_string_equal(jstr(j, "message"), "inside");
    assert_string_equal(jstr(j, "trace_id"), "4bf92f3577b34da6a3ce929d0e0e4736");
    json_decref(j);
    for (size_t i = 1; i <= 2; i++) {
        j = line(&cap, i);
        assert_string_equal(jstr(j, "message"), "span_finished");
        assert_string_equal(jstr(j, "trace_flags"), "00");
        assert_string_equal(jstr(j, "tracestate"), "congo=t61rcWkgMzE,rojo=1");
        assert_null(json_object_get(j, "module"));
        assert_null(json_object_get(j, "line"));
        json_decref(j);
    }
    j = line(&cap, 3);
    assert_string_equal(jstr(j, "span"), "root");
    assert_null(json_object_get(j, "trace_flags")); /* "01": the usual, not written */
    assert_null(json_object_get(j, "tracestate"));
    json_decref(j);
    sky_close(sky);
    skytest_capture_reset(&cap);
}

/* A request continuing an unsampled caller's trace says so in its `request` event, as
 * span_finished does (the OTLP sink then exports neither). */
static void test_request_flags_and_tracestate(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_capture(&cap, SKY_MODE_SYNC);
    sky_logger *log = sky_logger_get(sky, "http");
    sky_request_log *rl = NULL;
    assert_int_equal(sky_request_log_new(&(sky_request_opts){.log = log, .no_metrics = true},
                                         &rl, NULL),
                     SKY_OK);
    headers in = {0};
    hadd(&in, "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
    hadd(&in, "tracestate", "rojo=1");
    sky_request r;
    sky_request_begin(rl, &r, "GET", "/a", hget, &in);
    sky_request_end(&r, 200, 0);
    headers sampled = {0};
    hadd(&sampled, "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    sky_request_begin(rl, &r, "GET", "/b", hget, &sampled);
    sky_request_end(&r, 200, 0);
    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    assert_int_equal(cap.n, 2);
    json_t *j = line(&cap, 0);
    assert_string_equal(jstr(j, "message"), "request");
    assert_string_equal(jstr(j, "trace_flags"), "00");
    assert_string_equal(jstr(j, "tracestate"), "rojo=1");
    assert_null(json_object_get(j, "module")); /* the mark shows nothing */
    json_decref(j);
    j = line(&cap, 1);
    assert_null(json_object_get(j, "trace_flags"));
    assert_null(json_object_get(j, "tracestate"));
    json_decref(j);
    sky_request_log_free(rl);
    sky_close(sky);
    skytest_capture_reset(&cap);
}

static void test_inject_extract_round_trip(void **state)
{
    (void)state;
    sky_span root, child;
    headers in = {0};
    hadd(&in, "traceparent", TP);
    hadd(&in, "tracestate", "congo=t61rcWkgMzE");
    sky_span_begin_headers(&root, NULL, "server", hget, &in);
    char t[33];
    hex(root.ctx.trace_id, 16, t);
    assert_string_equal(t, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_true(root.ctx.has_parent); /* the caller's span */
    sky_span_begin(&child, NULL, "call", NULL);

    headers out = {0};
    assert_int_equal(sky_trace_inject(NULL, SKY_TRACE_ALL, hset, &out), 6);
    sky_trace_ctx w3c, xray, plain;
    headers only = {0};
    hadd(&only, "traceparent", hget(&out, "traceparent"));
    hadd(&only, "tracestate", hget(&out, "tracestate"));
    assert_true(sky_trace_extract(&w3c, hget, &only));
    assert_string_equal(w3c.tracestate, "congo=t61rcWkgMzE");
    headers x = {0};
    hadd(&x, "X-Amzn-Trace-Id", hget(&out, "X-Amzn-Trace-Id"));
    assert_true(sky_trace_extract(&xray, hget, &x));
    headers pl = {0};
    hadd(&pl, "X-Trace-Id", hget(&out, "X-Trace-Id"));
    hadd(&pl, "X-Span-Id", hget(&out, "X-Span-Id"));
    hadd(&pl, "X-Parent-Span", hget(&out, "X-Parent-Span"));
    assert_true(sky_trace_extract(&plain, hget, &pl));
    const sky_trace_ctx *all[] = {&w3c, &xray, &plain};
    for (int i = 0; i < 3; i++) {
        assert_memory_equal(all[i]->trace_id, child.ctx.trace_id, 16);
        assert_memory_equal(all[i]->span_id, child.ctx.span_id, 8);
        assert_int_equal(all[i]->flags & 1, 1);
    }
    assert_memory_equal(plain.parent_id, root.ctx.span_id, 8);
    sky_span_end(&child);
    sky_span_end(&root);

    headers none = {0};
    assert_int_equal(sky_trace_inject(NULL, SKY_TRACE_ALL, hset, &none), 0);
    assert_int_equal(none.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_unique_and_xray_shaped),
        cmocka_unit_test(test_hex_every_byte),
        cmocka_unit_test(test_ids_differ_across_threads_and_fork),
        cmocka_unit_test(test_spans_sync),
        cmocka_unit_test(test_spans_async),
        cmocka_unit_test(test_span_kind_and_status),
        cmocka_unit_test(test_span_macro_and_context),
        cmocka_unit_test(test_root_inside_child_span),
        cmocka_unit_test(test_span_moves_between_threads),
        cmocka_unit_test(test_span_ended_on_another_thread),
        cmocka_unit_test(test_traceparent),
        cmocka_unit_test(test_tracestate),
        cmocka_unit_test(test_tracestate_trim_w3c),
        cmocka_unit_test(test_span_events_marked),
        cmocka_unit_test(test_request_flags_and_tracestate),
        cmocka_unit_test(test_span_flags_and_tracestate),
        cmocka_unit_test(test_xray),
        cmocka_unit_test(test_extract_priority_and_invalid),
        cmocka_unit_test(test_inject_extract_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_site.c - the sky_info() macros' per-call-site fast path (skylog.h: sky__site).
 *
 * A call site gets a schema after its first call when its name and keys are string literals;
 * later matching calls store only values in the ring, and the worker renders keys from the
 * schema. These tests check that the output is byte-for-byte what the general path writes,
 * for every field type and for calls that do not match the schema; that a site whose keys are
 * not in read-only memory never gets a schema; and that processors, context, bound loggers,
 * size limits and racing first calls behave as on the general path.
 *
 * The worker leaves a site event's fields in its ring record until something reads them (the
 * JSON renderer writes them from there): processors, filters, custom sinks, the logfmt and
 * pretty renderers must all see the fields the general path's event has, in any order, also
 * with a skylog.gap event in the middle of a batch.
 */
#include "skytest.h"

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char big_user[6000]; /* over the renderer's direct-escape limit; filled by the tests */
static void fill_big_user(void)
{
    for (size_t k = 0; k < sizeof big_user - 1; k++)
        big_user[k] = k % 7 ? 'x' : '"';
}
static const char *users[] = {"alice", "b\"ob\\", "\xff\xfe bad utf-8", "", NULL,
                              "a string that is longer than sixteen bytes", big_user};
static const double dbls[] = {1.5, -0.0, 1e300, 3.0, 0.1, NAN, INFINITY, -INFINITY};
static const char *jsons[] = {"{\"a\":[1,2]}", "not json", "42"};
static const int errs[] = {2, 0, 99999};

/* Every type, a reserved key ("level") and a key that needs escaping. */
#define FIELDS(i)                                                                                  \
    SKY_STR("user", users[(i) % 7]), SKY_INT("id", (i)), SKY_F64("ms", dbls[(i) % 8]),             \
        SKY_BOOL("ok", (i)&1), SKY_UINT("u", (uint64_t)(i) << 40), SKY_ERRNO("err", errs[(i) % 3]), \
        SKY_TIME("at", (int64_t)(i) * 1000000007), SKY_DUR("took", (i) * 1500),                    \
        SKY_JSON("raw", jsons[(i) % 3]), SKY_STR("level", "shadowed"),                             \
        SKY_STR("we\"ird\nkey", "v"), SKY_NULL("nil"), SKY_INT("neg", -(i)*1000003),               \
        SKY_BOOL("no", !((i)&1))

/* clang-format off: SITE_LINE must be the line of the sky_info() call */
enum { SITE_LINE = __LINE__ }; static void via_site(sky_logger *log, long i) { sky_info(log, "ev", FIELDS(i)); }
/* clang-format on */

static void via_emit(sky_logger *log, long i)
{
    static const sky_callsite cs = {__FILE__, "via_site", SITE_LINE};
    const sky_field fs[] = {FIELDS(i)};
    sky_emit(log, SKY_LEVEL_INFO, "ev", &cs, fs, sizeof fs / sizeof fs[0]);
}

/* A pipeline writing JSON into `cap`; ring 0 means the default size. */
static sky_t *open_ring(bool async, size_t ring, skytest_capture *cap)
{
    sky_t *sky = NULL;
    sky_options o = {.mode = async ? SKY_MODE_ASYNC : SKY_MODE_SYNC, .ring_bytes = ring};
    assert_int_equal(sky_open(&o, &sky), SKY_OK);
    assert_int_equal(sky_add_sink(sky, skytest_capture_sink(cap, SKY_FORMAT_JSON), NULL), SKY_OK);
    return sky;
}

static sky_t *open_capture(bool async, skytest_capture *cap) { return open_ring(async, 0, cap); }

/* The line without its timestamp, which differs between two calls. */
static const char *after_ts(const char *line)
{
    const char *p = strstr(line, "\"level\"");
    assert_non_null(p);
    return p;
}

static void test_output_matches_general_path(void **state)
{
    (void)state;
    fill_big_user();
    for (int async = 0; async < 2; async++) {
        skytest_capture cap = {0};
        sky_t *sky = open_capture(async, &cap);
        /* a logger name too long for the renderer's line cache takes its other branch */
        char long_name[401];
        memset(long_name, 'n', 400);
        long_name[400] = '\0';
        sky_logger *logs[2] = {sky_logger_get(sky, "app"), sky_logger_get(sky, long_name)};
        for (long i = 0; i < 60; i++) {
            via_site(logs[i % 2], i);
            via_emit(logs[i % 2], i);
        }
        assert_int_equal(sky_flush(sky, 5000), SKY_OK);
        assert_int_equal(cap.n, 120);
        for (size_t k = 0; k < cap.n; k += 2)
            assert_string_equal(after_ts(cap.lines[k]), after_ts(cap.lines[k + 1]));
        /* spot checks of what both paths write */
        assert_non_null(strstr(cap.lines[0], "\"_level\":\"shadowed\""));
        assert_non_null(strstr(cap.lines[0], "\"we\\\"ird\\nkey\":\"v\""));
        assert_non_null(strstr(cap.lines[8], "\"user\":null")); /* i = 4: a NULL string */
        assert_non_null(strstr(cap.lines[10], "\"ms\":\"NaN\"")); /* i = 5 */
        assert_non_null(strstr(cap.lines[14], "\"ms\":\"-Infinity\"")); /* i = 7 */
        assert_non_null(strstr(cap.lines[2], "\"nil\":null,\"neg\":-1000003,\"no\":false}"));
        assert_int_equal(sky_close(sky), SKY_OK);
        skytest_capture_reset(&cap);
    }
}

/* A site record written by the library (async.c: site_write, the values two at a time and the
 * strings by the schema's mask of string fields), against the general path: every type a
 * site record holds (SKY_NULL sends a call to the general path), raw JSON before strings,
 * strings of 0, 5, 16, over 32 and 6,000 bytes, an odd and an even number of fields. Inside
 * a scope the first event goes to the library (its block is made there); the second is
 * inlined (test_site_noinline: the library again); sky_emit writes the third. */
static const char *rec_strs[] = {"alice", "", "sixteen bytes!!!", "a string that is longer than "
                                 "thirty-two bytes, \"quoted\"", big_user};
#define REC_FIELDS(i)                                                                              \
    SKY_STR("user", rec_strs[(i) % 5]), SKY_INT("id", -(i)), SKY_F64("ms", dbls[(i) % 8]),         \
        SKY_BOOL("ok", (i)&1), SKY_UINT("u", (uint64_t)(i) << 40), SKY_ERRNO("err", errs[(i) % 3]), \
        SKY_TIME("at", (int64_t)(i) * 1000000007), SKY_DUR("took", (i) * 1500),                    \
        SKY_JSON("raw", jsons[(i) % 3]), SKY_STR("after", rec_strs[((i) + 3) % 5])
/* clang-format off: each REC_LINE must be the line of its sky_info() call */
enum { REC_LINE_ODD = __LINE__ }; static void rec_odd(sky_logger *log, long i) { sky_info(log, "rec", REC_FIELDS(i), SKY_STR("last", rec_strs[((i) + 1) % 5])); }
enum { REC_LINE_EVEN = __LINE__ }; static void rec_even(sky_logger *log, long i) { sky_info(log, "rec", REC_FIELDS(i)); }
/* clang-format on */

static void test_library_record_every_type(void **state)
{
    (void)state;
    fill_big_user();
    skytest_capture cap = {0};
    sky_t *sky = open_capture(true, &cap);
    sky_logger *log = sky_logger_get(sky, "app");
    rec_odd(log, 0); /* the sites learn their schemas */
    rec_even(log, 0);
    static const sky_callsite cs_odd = {__FILE__, "rec_odd", REC_LINE_ODD};
    static const sky_callsite cs_even = {__FILE__, "rec_even", REC_LINE_EVEN};
    const sky_field scope[] = {SKY_STR("req", "r-1")};
    for (long i = 0; i < 30; i++) {
        bool odd = i % 2;
        sky_context_push(scope, 1);
        for (int k = 0; k < 2; k++)
            (odd ? rec_odd : rec_even)(log, i);
        if (odd) {
            const sky_field fs[] = {REC_FIELDS(i), SKY_STR("last", rec_strs[(i + 1) % 5])};
            sky_emit(log, SKY_LEVEL_INFO, "rec", &cs_odd, fs, sizeof fs / sizeof fs[0]);
        } else {
            const sky_field fs[] = {REC_FIELDS(i)};
            sky_emit(log, SKY_LEVEL_INFO, "rec", &cs_even, fs, sizeof fs / sizeof fs[0]);
        }
        sky_context_pop();
    }
    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    assert_int_equal(cap.n, 2 + 3 * 30);
    for (size_t k = 2; k < cap.n; k += 3) {
        assert_string_equal(after_ts(cap.lines[k]), after_ts(cap.lines[k + 2]));
        assert_string_equal(after_ts(cap.lines[k + 1]), after_ts(cap.lines[k + 2]));
    }
    /* spot checks: raw JSON embedded, the string after it, the odd site's last value */
    assert_non_null(strstr(cap.lines[2 + 3 * 12], "\"raw\":{\"a\":[1,2]},\"after\":\"alice\""));
    assert_non_null(strstr(cap.lines[2 + 3 * 1], "\"last\":\"sixteen bytes!!!\"}"));
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&cap);
}

/* A custom sink (its own vtable, no rendering) that reads every field through the public
 * accessors and keeps a dump of them per event: what a site event's decoded fields hold. */
static void dump_field(char *d, size_t cap, const sky_field *f)
{
    int k = snprintf(d, cap, "%s=%d:", f->key, (int)f->type);
    size_t o = (size_t)k < cap ? (size_t)k : cap - 1;
    switch (f->type) {
    case SKY_T_STR:
    case SKY_T_JSON:
        /* the bytes (with a prefix only: big_user is long) and the length */
        snprintf(d + o, cap - o, "%.*s/%zu", (int)(f->v.str.len < 40 ? f->v.str.len : 40),
                 f->v.str.ptr, f->v.str.len);
        break;
    case SKY_T_INT: snprintf(d + o, cap - o, "%lld", (long long)f->v.i); break;
    case SKY_T_UINT: snprintf(d + o, cap - o, "%llu", (unsigned long long)f->v.u); break;
    case SKY_T_F64: snprintf(d + o, cap - o, "%a", f->v.f); break;
    case SKY_T_BOOL: snprintf(d + o, cap - o, "%d", (int)f->v.b); break;
    case SKY_T_ERRNO: snprintf(d + o, cap - o, "%d", f->v.err); break;
    case SKY_T_TIME:
    case SKY_T_DUR: snprintf(d + o, cap - o, "%lld", (long long)f->v.ns); break;
    default: break;
    }
}

static void dump_event(const sky_event *ev, char *out, size_t cap)
{
    assert_non_null(sky_event_field_at(ev, 0)); /* each accessor decodes when it is the first */
    size_t o = (size_t)snprintf(out, cap, "%s %s %d n=%zu", sky_event_name(ev),
                                sky_event_logger(ev), (int)sky_event_level(ev),
                                sky_event_field_count(ev));
    for (size_t i = 0; i < sky_event_field_count(ev) && o < cap; i++) {
        const sky_field *f = sky_event_field_at(ev, i);
        assert_non_null(f);
        assert_ptr_equal(sky_event_get(ev, f->key), f); /* keys are distinct here */
        out[o++] = '|';
        dump_field(out + o, cap - o, f);
        o += strlen(out + o);
    }
    assert_null(sky_event_field_at(ev, sky_event_field_count(ev)));
}

static sky_status fields_write(void *self, const sky_record *recs, size_t n)
{
    skytest_capture *cap = self;
    for (size_t i = 0; i < n; i++) {
        char line[2048];
        dump_event(recs[i].event, line, sizeof line);
        if (cap->n == cap->cap) {
            cap->cap = cap->cap ? cap->cap * 2 : 16;
            cap->lines = realloc(cap->lines, cap->cap * sizeof *cap->lines);
            assert_non_null(cap->lines);
        }
        cap->lines[cap->n++] = strdup(line);
    }
    return SKY_OK;
}

static const sky_sink_vtable fields_vt = {.type = "fields", .write = fields_write};

/* A route filter that reads a field: keeps events whose "id" is even. */
static bool even_id(void *user, const sky_event *ev)
{
    (void)user;
    const sky_field *id = sky_event_get(ev, "id");
    assert_non_null(id);
    return id->v.i % 2 == 0;
}

/* A line without its timestamp, whatever the format: JSON's "level" on, logfmt's " level=" on,
 * pretty's text after "HH:MM:SS.mmm". Other lines (field dumps) whole. */
static const char *untimed(const char *line)
{
    if (line[0] == '{')
        return after_ts(line);
    if (strncmp(line, "ts=", 3) == 0)
        return strstr(line, " level=");
    if (strlen(line) > 12 && line[2] == ':' && line[5] == ':' && line[8] == '.')
        return line + 12;
    return line;
}

enum { NSINK = 5 };
/* Every capture's lines come in pairs (site path, general path) that must be equal. */
static void assert_pairs_equal(const skytest_capture *caps, size_t ncap)
{
    for (size_t c = 0; c < ncap; c++) {
        assert_true(caps[c].n % 2 == 0);
        for (size_t k = 0; k < caps[c].n; k += 2)
            assert_string_equal(untimed(caps[c].lines[k]), untimed(caps[c].lines[k + 1]));
    }
}

/* clang-format off: STR_LINE must be the line of the sky_info() call */
enum { STR_LINE = __LINE__ }; static void str_site(sky_logger *log, const char *a, size_t n, const char *b, long i) { sky_info(log, "ev", SKY_STRN("a", a, n), SKY_STR("b", b), SKY_INT("i", i)); }
/* clang-format on */

static void str_emit(sky_logger *log, const char *a, size_t n, const char *b, long i)
{
    static const sky_callsite cs = {__FILE__, "str_site", STR_LINE};
    const sky_field fs[] = {SKY_STRN("a", a, n), SKY_STR("b", b), SKY_INT("i", i)};
    sky_emit(log, SKY_LEVEL_INFO, "ev", &cs, fs, 3);
}

/* The JSON renderer tests a site record's string of up to 16 bytes with one 16-byte load when
 * its record goes on that far (the call site's copy leaves the bytes after the string's NUL
 * as they were in the caller's memory): every length 0-20, a byte that needs care at every
 * position of the string and just past its end, in the last string of the record and in one
 * before it, gives what the general path gives. */
static void test_short_site_strings(void **state)
{
    (void)state;
    static const char care[] = {'"', '\\', '\n', 0x01, 0x7f, (char)0xC3, (char)0xFF};
    skytest_capture cap = {0};
    sky_t *sky = open_capture(true, &cap);
    sky_logger *log = sky_logger_get(sky, "app");
    char a[40], b[40];
    long i = 0;
    for (size_t n = 0; n <= 20; n++)
        for (size_t pos = 0; pos <= n + 1; pos++)
            for (size_t k = 0; k < sizeof care; k++, i++) {
                for (size_t j = 0; j < sizeof a; j++)
                    a[j] = b[j] = (char)('a' + (j + k) % 26);
                a[pos] = care[k];
                if (care[k] == (char)0xC3 && pos + 1 < n)
                    a[pos + 1] = (char)0xA9;
                memcpy(b, a, sizeof b);
                b[n] = '\0';
                str_site(log, a, n, b, i);
                str_emit(log, a, n, b, i);
            }
    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    assert_int_equal(cap.n, 2 * (size_t)i);
    assert_pairs_equal(&cap, 1);
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&cap);
}

/* Sinks of every format on one pipeline, in orders where each reader is the first to decode a
 * site event's fields: logfmt, pretty, a route filter, the custom sink (which reads every field
 * through the public accessors); JSON sinks render the event from its record before and after
 * that. Each sink gets what it gets on the general path. */
static void test_sinks_of_every_format(void **state)
{
    (void)state;
    fill_big_user();
#define J SKY_FORMAT_JSON
#define L SKY_FORMAT_LOGFMT
#define P SKY_FORMAT_PRETTY
#define N SKY_FORMAT_NONE
    static const sky_format orders[4][NSINK] = {
        {J, L, P, N, J}, {P, J, L, J, N}, {J, N, J, L, P}, {J, N, J, J, J}};
    static const int filtered_at[4] = {4, -1, 0, -1}; /* the sink whose route reads a field */
    for (int order = 0; order < 4; order++) {
        skytest_capture caps[NSINK] = {{0}};
        sky_t *sky = NULL;
        sky_options o = {.mode = SKY_MODE_ASYNC};
        assert_int_equal(sky_open(&o, &sky), SKY_OK);
        for (int k = 0; k < NSINK; k++) {
            sky_format f = orders[order][k];
            sky_sink *sink = f == SKY_FORMAT_NONE ? sky_sink_new(&fields_vt, &caps[k], f)
                                                  : skytest_capture_sink(&caps[k], f);
            bool filtered = k == filtered_at[order];
            sky_route r = {.filter = filtered ? even_id : NULL};
            assert_int_equal(sky_add_sink(sky, sink, &r), SKY_OK);
        }
        sky_logger *log = sky_logger_get(sky, "app");
        for (long i = 0; i < 60; i++) {
            via_site(log, i);
            via_emit(log, i);
        }
        assert_int_equal(sky_flush(sky, 5000), SKY_OK);
        for (int k = 0; k < NSINK; k++)
            assert_int_equal(caps[k].n, k == filtered_at[order] ? 60 : 120);
        assert_pairs_equal(caps, NSINK);
        /* spot checks of event 1 (event 2 behind a filter) */
        for (int k = 0; k < NSINK; k++) {
            const char *l = caps[k].lines[2];
            switch (orders[order][k]) {
            case N:
                assert_non_null(strstr(l, "ev app 2 n=14|user=1:b\"ob\\/5|id=2:1|"));
                assert_non_null(strstr(l, "|we\"ird\nkey=1:v/1"));
                break;
            case L: assert_non_null(strstr(l, " user=\"b\\\"ob\\\\\" id=1 ms=-0.0 ok=true")); break;
            case P: assert_non_null(strstr(l, "err=\"0: Success\" at=1970-01-01T00:00:01.000Z")); break;
            default:
                assert_non_null(strstr(l, k == filtered_at[order] ? "\"id\":2," : "\"id\":1,"));
                break;
            }
        }
#undef J
#undef L
#undef P
#undef N
        assert_int_equal(sky_close(sky), SKY_OK);
        for (int k = 0; k < NSINK; k++)
            skytest_capture_reset(&caps[k]);
    }
}

/* Processors on site events: one that only reads fields (the event stays the site's record:
 * the JSON line is the same), one that changes them on some events, one that changes them and
 * fails (its changes undone). Both paths give the same lines, and the reader sees the values
 * that were logged. */
static long seen_ids[256];
static size_t n_seen;

static sky_proc_result read_fields(void *user, sky_event *ev)
{
    (void)user;
    assert_int_equal(sky_event_field_count(ev), 14); /* the first reader: it decodes */
    const sky_field *id = sky_event_get(ev, "id");
    assert_non_null(id);
    assert_int_equal(sky_event_field_at(ev, 1)->v.i, id->v.i);
    if (n_seen < 256)
        seen_ids[n_seen++] = (long)id->v.i;
    return SKY_PROC_KEEP;
}

/* Changes the event without reading a field first. */
static sky_proc_result blind_change(void *user, sky_event *ev)
{
    (void)user;
    return sky_event_set_name(ev, "renamed") == SKY_OK ? SKY_PROC_KEEP : SKY_PROC_FAILED;
}

static sky_proc_result change_some(void *user, sky_event *ev)
{
    (void)user;
    long id = (long)sky_event_get(ev, "id")->v.i;
    if (id % 3 == 1)
        sky_event_set(ev, SKY_STR("user", "changed"));
    else if (id % 3 == 2)
        sky_event_set_level(ev, SKY_LEVEL_WARN);
    return SKY_PROC_KEEP;
}

static sky_proc_result change_then_fail(void *user, sky_event *ev)
{
    (void)user;
    if (sky_event_get(ev, "id")->v.i % 4)
        return SKY_PROC_KEEP;
    sky_event_remove(ev, "ms");
    sky_event_set(ev, SKY_INT("added", 1));
    return SKY_PROC_FAILED;
}

static void test_processors_read_and_change_site_events(void **state)
{
    (void)state;
    fill_big_user();
    /* read; blind change, read; read, change; read, change, change and fail */
    for (int chain = 0; chain < 4; chain++) {
        skytest_capture caps[2] = {{0}};
        sky_t *sky = open_capture(true, &caps[0]);
        assert_int_equal(sky_add_sink(sky, skytest_capture_sink(&caps[1], SKY_FORMAT_LOGFMT), NULL),
                         SKY_OK);
        if (chain == 1)
            assert_int_equal(sky_add_processor(sky, "blind", blind_change, NULL, NULL), SKY_OK);
        assert_int_equal(sky_add_processor(sky, "read", read_fields, NULL, NULL), SKY_OK);
        if (chain >= 2)
            assert_int_equal(sky_add_processor(sky, "change", change_some, NULL, NULL), SKY_OK);
        if (chain >= 3)
            assert_int_equal(sky_add_processor(sky, "fail", change_then_fail, NULL, NULL),
                             SKY_OK);
        sky_logger *log = sky_logger_get(sky, "app");
        n_seen = 0;
        for (long i = 0; i < 60; i++) {
            via_site(log, i);
            via_emit(log, i);
        }
        assert_int_equal(sky_flush(sky, 5000), SKY_OK);
        assert_int_equal(n_seen, 120);
        for (size_t k = 0; k < n_seen; k++)
            assert_int_equal(seen_ids[k], (long)(k / 2));
        assert_int_equal(caps[0].n, 120);
        assert_pairs_equal(caps, 2);
        if (chain == 1)
            assert_non_null(strstr(caps[0].lines[0], "\"message\":\"renamed\""));
        if (chain >= 2) {
            assert_non_null(strstr(caps[0].lines[2], "\"user\":\"changed\""));
            assert_non_null(strstr(caps[0].lines[4], "\"level\":\"WARN\""));
        }
        if (chain >= 3) {
            assert_non_null(strstr(caps[0].lines[0], "\"ms\":1.5"));
            assert_null(strstr(caps[0].lines[0], "added"));
            sky_stats st;
            sky_stats_get(sky, &st);
            assert_int_equal(st.processor_failures, 30);
        }
        assert_int_equal(sky_close(sky), SKY_OK);
        skytest_capture_reset(&caps[0]);
        skytest_capture_reset(&caps[1]);
    }
}

/* A site with no fields: the line cache holds everything up to the closing brace. */
static void test_site_without_fields(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_capture(true, &cap);
    sky_logger *log = sky_logger_get(sky, "app");
    static sky__site site = {{__FILE__, "f", 7}, NULL};
    for (int i = 0; i < 3; i++) {
        sky__log_site(log, SKY_LEVEL_INFO, "bare", &site,
                      atomic_load_explicit(&site.schema, memory_order_acquire), NULL, 0);
        sky_emit(log, SKY_LEVEL_INFO, "bare", &site.cs, NULL, 0);
    }
    assert_non_null(atomic_load_explicit(&site.schema, memory_order_acquire));
    assert_int_equal(atomic_load_explicit(&site.schema, memory_order_acquire)->n, 0);
    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    assert_int_equal(cap.n, 6);
    assert_pairs_equal(&cap, 1);
    assert_non_null(strstr(cap.lines[2], "\"message\":\"bare\",\"module\":\"test_site\","
                                         "\"func\":\"f\",\"line\":7}\n"));
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&cap);
}

/* A skylog.gap event in the middle of a batch of site events. A processor holds the worker on
 * a batch's first event until the test has queued the rest, so the worker takes them all in
 * one batch. Round 0 fills the batch's first slots with site events that nothing decodes (the
 * logfmt sink's route is closed); round 1 queues a loss among them, so the worker's batch is
 * site, site, gap, site, site, and the gap event lands in a slot that held an undecoded site
 * event. Every sink (JSON renders site events from their records, logfmt decodes them) gets
 * each event right. */
static atomic_int gate_open, gate_waiting, logfmt_open;

static bool logfmt_route(void *user, const sky_event *ev)
{
    (void)user, (void)ev;
    return atomic_load(&logfmt_open);
}

static sky_proc_result gate(void *user, sky_event *ev)
{
    (void)user;
    if (strcmp(sky_event_name(ev), "gated") == 0 && !atomic_load(&gate_open)) {
        atomic_store(&gate_waiting, 1);
        while (!atomic_load(&gate_open))
            sched_yield();
    }
    return SKY_PROC_KEEP;
}

static void gated(sky_logger *log, const char *s, size_t n, int i)
{
    sky_info(log, "gated", SKY_STRN("s", s, n), SKY_INT("i", i));
}

static void test_gap_within_a_batch(void **state)
{
    (void)state;
    skytest_capture caps[2] = {{0}};
    sky_t *sky = open_ring(true, 8192, &caps[0]);
    assert_int_equal(sky_add_sink(sky, skytest_capture_sink(&caps[1], SKY_FORMAT_LOGFMT),
                                  &(sky_route){.filter = logfmt_route}),
                     SKY_OK);
    assert_int_equal(sky_add_processor(sky, "gate", gate, NULL, NULL), SKY_OK);
    sky_logger *log = sky_logger_get(sky, "app");
    char *big = malloc(6000);
    assert_non_null(big);
    memset(big, 'x', 6000);
    atomic_store(&gate_open, 1);
    atomic_store(&logfmt_open, 1);
    gated(log, "learn", 5, 0); /* the first call learns the schema */
    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    for (int round = 0; round < 2; round++) {
        atomic_store(&logfmt_open, round);
        atomic_store(&gate_open, 0);
        atomic_store(&gate_waiting, 0);
        gated(log, "first", 5, 1); /* the worker takes it and waits in the processor */
        while (!atomic_load(&gate_waiting))
            sched_yield();
        if (round)
            gated(log, big, 6000, 2); /* too large for the ring: a loss */
        gated(log, "second", 6, 3);
        gated(log, "third", 5, 4);
        gated(log, "fourth", 6, 5);
        atomic_store(&gate_open, 1);
        assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    }
    static const char *want_json[] = {
        "\"s\":\"learn\",\"i\":0}", "\"s\":\"first\",\"i\":1}", "\"s\":\"second\",\"i\":3}",
        "\"s\":\"third\",\"i\":4}", "\"s\":\"fourth\",\"i\":5}", "\"s\":\"first\",\"i\":1}",
        "\"s\":\"second\",\"i\":3}", "skylog.gap", "\"s\":\"third\",\"i\":4}",
        "\"s\":\"fourth\",\"i\":5}"};
    static const char *want_lf[] = {"s=learn i=0\n", "s=first i=1\n", "s=second i=3\n",
                                    "skylog.gap", "s=third i=4\n", "s=fourth i=5\n"};
    assert_int_equal(caps[0].n, 10);
    for (int k = 0; k < 10; k++)
        assert_non_null(strstr(caps[0].lines[k], want_json[k]));
    assert_int_equal(caps[1].n, 6);
    for (int k = 0; k < 6; k++)
        assert_non_null(strstr(caps[1].lines[k], want_lf[k]));
    assert_non_null(strstr(caps[0].lines[7], "\"dropped\":1,\"reason\":\"too_large\"}"));
    sky_stats st;
    sky_stats_get(sky, &st);
    assert_int_equal(st.dropped[SKY_DROP_TOO_LARGE], 1);
    assert_int_equal(st.routed, 10);
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&caps[0]);
    skytest_capture_reset(&caps[1]);
    free(big);
}

/* The private entry the macros use, with a site the test can inspect. */
#define CALL_SITE(site, log, name, ...)                                                            \
    do {                                                                                           \
        const sky_field fs_[] = {__VA_ARGS__};                                                     \
        sky__log_site((log), SKY_LEVEL_INFO, (name), &(site),                                     \
                      atomic_load_explicit(&(site).schema, memory_order_acquire), fs_,             \
                      sizeof fs_ / sizeof fs_[0]);                                                 \
    } while (0)

static sky_field lazy_seven(void *user, char *buf, size_t cap)
{
    (void)user, (void)buf, (void)cap;
    return SKY_INT(NULL, 7);
}

static const sky__schema *schema_of(sky__site *site)
{
    return atomic_load_explicit(&site->schema, memory_order_acquire);
}

static void test_schema_only_for_literals(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_capture(true, &cap);
    sky_logger *log = sky_logger_get(sky, "app");

    static sky__site lit = {{__FILE__, "f", 1}, NULL};
    CALL_SITE(lit, log, "hello", SKY_STR("a", "x"), SKY_INT("b", 1));
    const sky__schema *sc = schema_of(&lit);
    assert_non_null(sc);
    assert_int_equal(sc->n, 2);
    assert_string_equal(sc->name, "hello");
    assert_int_equal(sc->types[0], SKY_T_STR);
    assert_int_equal(sc->types[1], SKY_T_INT);
    CALL_SITE(lit, log, "hello", SKY_STR("a", "y"), SKY_INT("b", 2)); /* the fast path */
    assert_ptr_equal(schema_of(&lit), sc);                              /* decided once */

    /* a key in writable memory: rewritten at the same address, it must not be trusted */
    char key[8] = "k1";
    static sky__site stack_key = {{__FILE__, "f", 2}, NULL};
    CALL_SITE(stack_key, log, "hello", SKY_INT(key, 1));
    assert_int_equal(schema_of(&stack_key)->n, UINT32_MAX);
    key[1] = '2';
    CALL_SITE(stack_key, log, "hello", SKY_INT(key, 2));

    /* an event name in writable memory */
    char name[8] = "n1";
    static sky__site stack_name = {{__FILE__, "f", 3}, NULL};
    CALL_SITE(stack_name, log, name, SKY_INT("a", 1));
    assert_int_equal(schema_of(&stack_name)->n, UINT32_MAX);

    /* duplicate keys (the general path de-duplicates) and lazy fields */
    static sky__site dup = {{__FILE__, "f", 4}, NULL};
    CALL_SITE(dup, log, "hello", SKY_INT("a", 1), SKY_INT("a", 2));
    assert_int_equal(schema_of(&dup)->n, UINT32_MAX);
    CALL_SITE(dup, log, "hello", SKY_INT("a", 3), SKY_INT("a", 4));
    static sky__site lazy = {{__FILE__, "f", 6}, NULL};
    CALL_SITE(lazy, log, "hello", SKY_LAZY("l", lazy_seven, NULL));
    assert_int_equal(schema_of(&lazy)->n, UINT32_MAX);
    CALL_SITE(lazy, log, "hello", SKY_LAZY("l", lazy_seven, NULL));

    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    assert_int_equal(cap.n, 9);
    assert_non_null(strstr(cap.lines[1], "\"a\":\"y\",\"b\":2}"));
    assert_non_null(strstr(cap.lines[2], "\"k1\":1}"));
    assert_non_null(strstr(cap.lines[3], "\"k2\":2}"));
    assert_non_null(strstr(cap.lines[4], "\"message\":\"n1\""));
    assert_non_null(strstr(cap.lines[5], "\"line\":4,\"a\":2}"));
    assert_non_null(strstr(cap.lines[6], "\"line\":4,\"a\":4}"));
    assert_non_null(strstr(cap.lines[7], "\"line\":6,\"l\":7}"));
    assert_non_null(strstr(cap.lines[8], "\"line\":6,\"l\":7}"));
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&cap);

    /* a sync pipeline never learns: the schema would not be used */
    sky = open_capture(false, &cap);
    static sky__site sync_site = {{__FILE__, "f", 5}, NULL};
    CALL_SITE(sync_site, sky_logger_get(sky, NULL), "hello", SKY_INT("a", 1));
    assert_null(schema_of(&sync_site));
    assert_int_equal(cap.n, 1);
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&cap);
}

/* One site whose keys, types and name vary between calls: only matching calls take the fast
 * path, and every line carries its own call's keys and values. */
static void vary(sky_logger *log, int i)
{
    sky_log(log, i % 7 == 6 ? SKY_LEVEL_WARN : SKY_LEVEL_INFO, i % 5 == 4 ? "other" : "ev",
            SKY_STR(i % 3 == 2 ? "k2" : "k1", i % 4 == 3 ? NULL : "s"), SKY_INT("n", i));
}

static void test_mismatching_calls(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_capture(true, &cap);
    /* two loggers whose names have the same length, alternating at each site */
    sky_logger *logs[2] = {sky_logger_get(sky, "app"), sky_logger_get(sky, "apq")};
    for (int i = 0; i < 40; i++)
        vary(logs[i / 2 % 2], i);
    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    assert_int_equal(cap.n, 40);
    for (int i = 0; i < 40; i++) {
        char want[128];
        snprintf(want, sizeof want, "\"level\":\"%s\",\"logger\":\"%s\",\"message\":\"%s\"",
                 i % 7 == 6 ? "WARN" : "INFO", i / 2 % 2 ? "apq" : "app",
                 i % 5 == 4 ? "other" : "ev");
        assert_non_null(strstr(cap.lines[i], want));
        snprintf(want, sizeof want, "\"%s\":%s,\"n\":%d}", i % 3 == 2 ? "k2" : "k1",
                 i % 4 == 3 ? "null" : "\"s\"", i);
        assert_non_null(strstr(cap.lines[i], want));
    }
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&cap);
}

/* More loggers with same-length names than the renderer's line cache has slots, at one site:
 * entries that share a slot must still tell the loggers apart. */
static void many_site(sky_logger *log, int i) { sky_info(log, "ev", SKY_INT("n", i)); }

static void test_many_loggers_one_site(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_capture(true, &cap);
    enum { NLOG = 80 };
    sky_logger *logs[NLOG];
    for (int k = 0; k < NLOG; k++) {
        char name[8];
        snprintf(name, sizeof name, "l%02d", k);
        logs[k] = sky_logger_get(sky, name);
    }
    for (int i = 0; i < 3 * NLOG; i++)
        many_site(logs[i % NLOG], i);
    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    assert_int_equal(cap.n, 3 * NLOG);
    for (int i = 0; i < 3 * NLOG; i++) {
        char want[64];
        snprintf(want, sizeof want, "\"logger\":\"l%02d\",\"message\":\"ev\"", i % NLOG);
        assert_non_null(strstr(cap.lines[i], want));
    }
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&cap);
}

/* Processors change events decoded from site records: keys renamed, removed, set and added
 * must render as changed, not from the schema's key text. */
static sky_proc_result edit(void *user, sky_event *ev)
{
    (void)user;
    const sky_field *n = sky_event_get(ev, "n");
    switch (n ? n->v.i % 4 : 0) {
    case 1: sky_event_rename(ev, "a", "renamed"); break;
    case 2: sky_event_remove(ev, "a"); break;
    case 3: sky_event_set(ev, SKY_STR("b", "set")); break;
    default: break;
    }
    return SKY_PROC_KEEP;
}

static void edited(sky_logger *log, int i)
{
    sky_info(log, "ev", SKY_STR("a", "x"), SKY_STR("b", "y"), SKY_INT("n", i));
}

static void test_processors_edit_site_events(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_capture(true, &cap);
    assert_int_equal(sky_add_processor(sky, "edit", edit, NULL, NULL), SKY_OK);
    sky_logger *log = sky_logger_get(sky, "app");
    for (int i = 0; i < 20; i++)
        edited(log, i);
    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    assert_int_equal(cap.n, 20);
    static const char *want[4] = {",\"a\":\"x\",\"b\":\"y\",\"n\":",
                                  ",\"renamed\":\"x\",\"b\":\"y\",\"n\":",
                                  ",\"b\":\"y\",\"n\":", ",\"a\":\"x\",\"b\":\"set\",\"n\":"};
    for (int i = 0; i < 20; i++) {
        char w[96];
        const char *p = strstr(cap.lines[i], "\"line\":");
        assert_non_null(p);
        p = strchr(p, ',');
        assert_non_null(p);
        snprintf(w, sizeof w, "%s%d}\n", want[i % 4], i);
        assert_string_equal(p, w);
    }
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&cap);
}

/* More fields than a schema holds: the general path, every field written. */
static void wide(sky_logger *log, int i)
{
    sky_info(log, "wide", SKY_INT("f01", i), SKY_INT("f02", 2), SKY_INT("f03", 3), SKY_INT("f04", 4),
             SKY_INT("f05", 5), SKY_INT("f06", 6), SKY_INT("f07", 7), SKY_INT("f08", 8),
             SKY_INT("f09", 9), SKY_INT("f10", 10), SKY_INT("f11", 11), SKY_INT("f12", 12),
             SKY_INT("f13", 13), SKY_INT("f14", 14), SKY_INT("f15", 15), SKY_INT("f16", 16),
             SKY_INT("f17", 17));
}

static void test_more_fields_than_a_schema(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_capture(true, &cap);
    sky_logger *log = sky_logger_get(sky, "app");
    for (int i = 0; i < 3; i++)
        wide(log, i);
    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    assert_int_equal(cap.n, 3);
    for (int i = 0; i < 3; i++) {
        char want[64];
        snprintf(want, sizeof want, "\"f01\":%d,\"f02\":2,", i);
        assert_non_null(strstr(cap.lines[i], want));
        assert_non_null(strstr(cap.lines[i], ",\"f16\":16,\"f17\":17}"));
    }
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&cap);
}

/* Context and bound fields make a call take the general path, with everything in it. */
static void ctx_site(sky_logger *log, int i) { sky_info(log, "ev", SKY_INT("n", i)); }

static void test_context_and_bound_loggers(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_capture(true, &cap);
    sky_logger *log = sky_logger_get(sky, "app");
    ctx_site(log, 0); /* learns */
    ctx_site(log, 1); /* fast */
    const sky_field ctx[] = {SKY_STR("req", "r1")};
    sky_context_push(ctx, 1);
    ctx_site(log, 2);
    sky_context_pop();
    sky_logger *bound = SKY_BIND(log, SKY_STR("svc", "api"));
    assert_non_null(bound);
    ctx_site(bound, 3);
    ctx_site(log, 4);
    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    sky_logger_release(bound);
    assert_int_equal(cap.n, 5);
    assert_non_null(strstr(cap.lines[1], ",\"n\":1}"));
    assert_non_null(strstr(cap.lines[2], ",\"req\":\"r1\",\"n\":2}"));
    assert_non_null(strstr(cap.lines[3], ",\"svc\":\"api\",\"n\":3}"));
    assert_non_null(strstr(cap.lines[4], "\"line\":"));
    assert_null(strstr(cap.lines[4], "req"));
    assert_null(strstr(cap.lines[4], "svc"));
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&cap);
}

/* Context scopes and bound loggers on the site path: the record references the scope's block
 * and the logger's fields (copied and rendered once), and every sink gets what the general
 * path (sky_emit, which copies them per event) gives - in sinks of every format, with nested
 * scopes that repeat a key (the inner one wins, at its position), reserved keys, keys shared
 * with the call or between the scope and the logger (de-duplicated the general way), a lazy
 * field (no block), scopes that end while their events are still queued, and a scope that
 * outlives its pipeline. */
static sky_field lazy_ctx(void *user, char *buf, size_t cap)
{
    (void)user;
    snprintf(buf, cap, "computed");
    return sky_field_str(NULL, buf);
}

static void test_context_and_bound_match_general_path(void **state)
{
    (void)state;
    fill_big_user();
    skytest_capture caps[4] = {{0}};
    static const sky_format fmts[4] = {SKY_FORMAT_JSON, SKY_FORMAT_LOGFMT, SKY_FORMAT_PRETTY,
                                       SKY_FORMAT_NONE};
    sky_t *sky = NULL;
    assert_int_equal(sky_open(&(sky_options){.mode = SKY_MODE_ASYNC}, &sky), SKY_OK);
    for (int k = 0; k < 4; k++) {
        sky_sink *sink = fmts[k] == SKY_FORMAT_NONE ? sky_sink_new(&fields_vt, &caps[k], fmts[k])
                                                    : skytest_capture_sink(&caps[k], fmts[k]);
        assert_int_equal(sky_add_sink(sky, sink, NULL), SKY_OK);
    }
    sky_logger *log = sky_logger_get(sky, "app");
    sky_logger *b1 = SKY_BIND(log, SKY_STR("svc", "a\"pi"), SKY_INT("shard", 7));
    sky_logger *b2 = SKY_BIND(b1, SKY_STR("id", "bound id"), SKY_STR("message", "reserved"));
    sky_logger *b3 = SKY_BIND(log, SKY_LAZY("lz", lazy_ctx, NULL));
    const sky_field outer[] = {SKY_STR("req", "r-outer"), SKY_STR("logger", "ctx logger"),
                               SKY_F64("ratio", 0.25)};
    const sky_field inner[] = {SKY_STR("tenant", "t\n1"), SKY_STR("req", "r-inner")};
    const sky_field clash[] = {SKY_STR("user", "ctx user")};
    const sky_field lazy[] = {SKY_LAZY("lz", lazy_ctx, NULL)};
    sky_logger *logs[4] = {log, b1, b2, b3};
    long pairs = 0;
    for (long i = 0; i < 96; i++) {
        sky_logger *l = logs[i % 4];
        int shape = (int)(i / 4) % 6;
        switch (shape) {
        case 0: break; /* no context */
        case 1: sky_context_push(outer, 3); break;
        case 2:
            sky_context_push(outer, 3);
            sky_context_push(inner, 2);
            break;
        case 3: sky_context_push(clash, 1); break;
        case 4: sky_context_push(lazy, 1); break;
        case 5:
            sky_context_push(inner, 2);
            sky_context_push(lazy, 1); /* a lazy frame over a block-able one */
            break;
        }
        for (int rep = 0; rep < 2; rep++, pairs++) { /* the scope's first event, then another */
            via_site(l, i);
            via_emit(l, i);
        }
        for (int pop = shape == 2 || shape == 5 ? 2 : shape ? 1 : 0; pop > 0; pop--)
            sky_context_pop(); /* the scope ends while its events are queued */
    }
    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    for (int k = 0; k < 4; k++)
        assert_int_equal(caps[k].n, (size_t)(2 * pairs));
    assert_pairs_equal(caps, 4);
    /* spot checks: nested (i = 8, logger log), inner key wins at its position */
    const char *l8 = caps[0].lines[4 * 8];
    char want8[160];
    snprintf(want8, sizeof want8,
             "\"line\":%d,\"_logger\":\"ctx logger\",\"ratio\":0.25,"
             "\"tenant\":\"t\\n1\",\"req\":\"r-inner\",\"user\":",
             (int)SITE_LINE);
    assert_non_null(strstr(l8, want8));
    /* bound fields after the context's, before the call's (i = 5: b1, outer scope) */
    assert_non_null(strstr(caps[0].lines[4 * 5], "\"ratio\":0.25,\"svc\":\"a\\\"pi\",\"shard\":7,"
                                                 "\"user\":"));
    /* the call's key wins over the bound one (i = 2: b2) */
    assert_null(strstr(caps[0].lines[4 * 2], "bound id"));
    assert_non_null(strstr(caps[0].lines[4 * 2], "\"_message\":\"reserved\""));
    /* a lazy context field, evaluated per event */
    assert_non_null(strstr(caps[0].lines[4 * 16], "\"lz\":\"computed\""));
    sky_logger_release(b3);
    sky_logger_release(b2);

    /* a scope open across its pipeline's close, then logging to another pipeline */
    sky_context_push(outer, 3);
    via_site(b1, 1000);
    sky_logger_release(b1); /* released with its event queued */
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture cap2 = {0};
    sky_t *sky2 = open_capture(true, &cap2);
    sky_logger *log2 = sky_logger_get(sky2, "app");
    via_site(log2, 1001);
    via_emit(log2, 1001);
    sky_context_pop();
    via_site(log2, 1002);
    via_emit(log2, 1002);
    assert_int_equal(sky_flush(sky2, 5000), SKY_OK);
    assert_int_equal(cap2.n, 4);
    assert_pairs_equal(&cap2, 1);
    assert_non_null(strstr(cap2.lines[0], "\"req\":\"r-outer\""));
    assert_null(strstr(cap2.lines[2], "r-outer"));
    assert_int_equal(sky_close(sky2), SKY_OK);
    skytest_capture_reset(&cap2);
    for (int k = 0; k < 4; k++)
        skytest_capture_reset(&caps[k]);
}

/* A thread that ends inside scopes it never popped: its blocks are retired at its exit and
 * freed only after the worker wrote its events (ASan would see a use after free). */
static sky_logger *exit_log;
static void *log_and_exit(void *arg)
{
    (void)arg;
    /* a scope closed first, then one the thread exits in (the exit hook is set once a
     * thread, at its first block): every event carries its scope's field */
    const sky_field g[] = {SKY_STR("req", "thread")};
    sky_context_push(g, 1);
    for (long i = 0; i < 10; i++)
        via_site(exit_log, i);
    sky_context_pop();
    const sky_field f[] = {SKY_STR("req", "thread")}; /* lives until the thread ends */
    sky_context_push(f, 1);
    for (long i = 0; i < 200; i++)
        via_site(exit_log, i);
    return NULL; /* no pop */
}

static void test_thread_exit_inside_a_scope(void **state)
{
    (void)state;
    fill_big_user();
    skytest_capture cap = {0};
    sky_t *sky = open_capture(true, &cap);
    exit_log = sky_logger_get(sky, "app");
    for (int t = 0; t < 4; t++) {
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, log_and_exit, NULL), 0);
        pthread_join(th, NULL);
    }
    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    assert_int_equal(cap.n, 840);
    for (size_t k = 0; k < cap.n; k++)
        assert_non_null(strstr(cap.lines[k], "\"req\":\"thread\""));
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&cap);
}

/* Context blocks are reused once the worker has written every event that references them
 * (async.c: the pool). A reused block must carry its new scope's fields only: its JSON, its
 * key-check answers and its size all start afresh. Scopes alternate between key sets that share
 * no key with the call, one that shares "user" with it (the call's value wins, once), nested
 * frames, and values too long for the smallest block; the worker reclaims between scopes
 * (flush), blocks retired by threads that exited are reused by this one, and a child forked
 * with blocks in the pool logs in a scope of its own. */
static void reuse_site(sky_logger *log, long i)
{
    sky_info(log, "ev", SKY_STR("user", "call user"), SKY_INT("n", i));
}

static char long_val[1200];

static void *scope_then_exit(void *arg)
{
    const sky_field f[] = {SKY_STR("thread_req", "t")};
    sky_context_push(f, 1);
    reuse_site(arg, -1);
    sky_context_pop();
    return NULL;
}

static void scope_at(sky_logger *log, long i, char *buf, size_t cap)
{
    snprintf(buf, cap, "r%ld", i);
    const sky_field a[] = {SKY_STR("req", buf), SKY_STR("tenant", i % 2 ? "acme" : "beta")};
    const sky_field b[] = {SKY_STR("user", buf)};
    const sky_field c[] = {SKY_STR("big", long_val), SKY_INT("k", i)};
    switch (i % 4) {
    case 0: sky_context_push(a, 2); break;
    case 1: sky_context_push(b, 1); break;
    case 2: sky_context_push(c, 2); break;
    case 3:
        sky_context_push(a, 2);
        sky_context_push(b, 1);
        break;
    }
    reuse_site(log, i);
    reuse_site(log, i);
    for (int pop = i % 4 == 3 ? 2 : 1; pop > 0; pop--)
        sky_context_pop();
}

static void assert_scope_line(const char *line, long i)
{
    char want[96];
    size_t nuser = 0;
    for (const char *p = line; (p = strstr(p, "\"user\":")); p++)
        nuser++;
    assert_int_equal(nuser, 1); /* the call's "user" wins over the scope's, once */
    assert_non_null(strstr(line, "\"user\":\"call user\""));
    snprintf(want, sizeof want, ",\"n\":%ld}", i);
    assert_non_null(strstr(line, want));
    bool has_req = i % 4 == 0 || i % 4 == 3, has_big = i % 4 == 2;
    snprintf(want, sizeof want, "\"req\":\"r%ld\",\"tenant\":\"%s\"", i, i % 2 ? "acme" : "beta");
    assert_true(!strstr(line, "\"req\":") || has_req);
    if (has_req)
        assert_non_null(strstr(line, want));
    assert_true(!!strstr(line, "\"big\":\"") == has_big);
    if (has_big) {
        snprintf(want, sizeof want, "\"k\":%ld,", i);
        assert_non_null(strstr(line, want));
    }
    assert_null(strstr(line, "thread_req"));
}

/* Four threads opening scopes at once while the worker reclaims blocks into the pool and
 * hands them out again (TSan: the pool's hand-over is under the block lock). */
typedef struct scope_run {
    sky_logger *log;
    long from;
} scope_run;
static void *scopes_concurrently(void *arg)
{
    const scope_run *r = arg;
    char buf[32];
    for (long i = r->from; i < r->from + 300; i++)
        scope_at(r->log, i, buf, sizeof buf);
    return NULL;
}

static void test_context_blocks_reused(void **state)
{
    (void)state;
    memset(long_val, 'v', sizeof long_val - 1);
    skytest_capture cap = {0};
    sky_t *sky = open_capture(true, &cap);
    sky_logger *log = sky_logger_get(sky, "app");
    reuse_site(log, -2); /* learns */
    for (int t = 0; t < 3; t++) { /* blocks retired at other threads' scopes, then reused */
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, scope_then_exit, log), 0);
        pthread_join(th, NULL);
    }
    char buf[32];
    long n = 0;
    for (long i = 0; i < 120; i++, n++) {
        scope_at(log, i, buf, sizeof buf);
        if (i % 3 == 0)
            assert_int_equal(sky_flush(sky, 5000), SKY_OK); /* the worker reclaims */
    }
    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    assert_int_equal(cap.n, 4 + 2 * (size_t)n);
    for (size_t k = 4; k < cap.n; k++)
        assert_scope_line(cap.lines[k], (long)(k - 4) / 2);
    /* concurrently: each line's scope is its own call's, whichever block it got */
    skytest_capture_reset(&cap);
    pthread_t th[4];
    scope_run runs[4];
    for (int t = 0; t < 4; t++) {
        runs[t] = (scope_run){log, 1000 + 1000 * t};
        assert_int_equal(pthread_create(&th[t], NULL, scopes_concurrently, &runs[t]), 0);
    }
    for (int t = 0; t < 4; t++)
        pthread_join(th[t], NULL);
    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    assert_int_equal(cap.n, 4 * 300 * 2);
    for (size_t k = 0; k < cap.n; k++) {
        const char *at = strstr(cap.lines[k], ",\"n\":");
        assert_non_null(at);
        assert_scope_line(cap.lines[k], strtol(at + 5, NULL, 10));
    }
#ifndef __SANITIZE_THREAD__ /* TSan does not support threads in a forked child */
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        skytest_capture_reset(&cap);
        for (long i = 200; i < 212; i++)
            scope_at(log, i, buf, sizeof buf);
        bool ok = sky_flush(sky, 5000) == SKY_OK && cap.n == 24;
        for (size_t k = 0; ok && k < cap.n; k++)
            ok = strstr(cap.lines[k], ",\"n\":") && strstr(cap.lines[k], "\"user\":\"call user\"");
        _exit(ok && sky_close(sky) == SKY_OK ? 0 : 1);
    }
    skytest_wait_child(pid);
#endif
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&cap);
}

/* How a scope's block is filled (async.c: fill_block), each case against what the general
 * path makes of the same fields: a key repeated in a frame of two fields and among more (the
 * later one wins, at its position, once), fields without a key or with SKY_T_NONE skipped, a
 * pooled block too small for the next scope's value or key (the scope gets a block of its
 * own and the small one is freed), a field changed in place after a push that made the
 * block (not seen, as documented), a lazy field found by the push's fill (the general path),
 * and a bound logger released between scopes (it retires into the same queue as the
 * blocks). */
static void fill_site(sky_logger *log, long i) { sky_info(log, "fill", SKY_INT("n", i)); }

static char fill_key[700], fill_val[1000];

static sky_field lazy_fill(void *user, char *buf, size_t cap)
{
    (void)user;
    snprintf(buf, cap, "lazy now");
    return SKY_STR(NULL, buf);
}

static void test_context_block_fill(void **state)
{
    (void)state;
    memset(fill_key, 'K', sizeof fill_key - 1);
    memset(fill_val, 'V', sizeof fill_val - 1);
    skytest_capture cap = {0};
    sky_t *sky = open_capture(true, &cap);
    sky_logger *log = sky_logger_get(sky, "app");
    fill_site(log, -1); /* learns */
    const sky_field dup2[] = {SKY_STR("k", "first"), SKY_STR("k", "second")};
    const sky_field dup3[] = {SKY_INT("a", 1), SKY_INT("b", 2), SKY_INT("a", 3)};
    const sky_field skip[] = {{.key = NULL, .type = SKY_T_INT}, SKY_STR("s", "kept"),
                              {.key = "none", .key_len = 4, .type = SKY_T_NONE}};
    const sky_field small[] = {SKY_STR("req", "r-small")};
    const sky_field bigv[] = {SKY_STR("big", fill_val)};
    const sky_field bigk[] = {{.key = fill_key, .key_len = (uint32_t)strlen(fill_key),
                               .type = SKY_T_INT, .v.i = 5}};
    const struct {
        const sky_field *f;
        size_t n;
    } frames[] = {{dup2, 2}, {dup3, 3}, {skip, 3}, {small, 1}, {bigv, 1}, {small, 1},
                  {bigk, 1}, {small, 1}};
    size_t nf = sizeof frames / sizeof frames[0];
    for (size_t k = 0; k < nf; k++) {
        sky_context_push(frames[k].f, frames[k].n);
        fill_site(log, (long)k); /* the scope's block */
        fill_site(log, (long)k); /* referenced */
        sky_context_pop();
        assert_int_equal(sky_flush(sky, 5000), SKY_OK); /* pooled for the next scope */
    }
    /* This thread's home is this pipeline now (its scopes' blocks above) and its pool has a
     * block (the flush): the push copies the fields, so a change in place after it is not
     * seen, by the first event either; a field made lazy before the push is found by the
     * push's fill and evaluated per event. (A thread without a home copies at the first
     * event: test_first_event_without_home.) */
    sky_field live[] = {SKY_STR("st", "at push"), SKY_INT("x", 1)};
    sky_context_push(live, 2);
    live[0] = SKY_STR("st", "changed later");
    fill_site(log, 100);
    fill_site(log, 101);
    sky_context_pop();
    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    live[1] = SKY_LAZY("x", lazy_fill, NULL);
    sky_context_push(live, 2);
    fill_site(log, 102);
    sky_context_pop();
    /* a bound logger retired between two scopes' blocks */
    sky_logger *b = SKY_BIND(log, SKY_STR("svc", "api"));
    sky_context_push(small, 1);
    fill_site(b, 103);
    sky_context_pop();
    sky_logger_release(b);
    sky_context_push(small, 1);
    fill_site(log, 104);
    sky_context_pop();
    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    assert_int_equal(cap.n, 1 + 2 * nf + 5);
    char want[1200];
    for (int rep = 0; rep < 2; rep++) {
        const char *const *l = (const char *const *)cap.lines + 1 + rep;
        assert_non_null(strstr(l[0], "\"k\":\"second\",\"n\":0}"));
        assert_null(strstr(l[0], "first"));
        assert_non_null(strstr(l[2], "\"b\":2,\"a\":3,\"n\":1}"));
        assert_null(strstr(l[2], "\"a\":1"));
        assert_non_null(strstr(l[4], "\"s\":\"kept\",\"n\":2}"));
        assert_null(strstr(l[4], "none"));
        assert_non_null(strstr(l[6], "\"req\":\"r-small\",\"n\":3}"));
        snprintf(want, sizeof want, "\"big\":\"%s\",\"n\":4}", fill_val);
        assert_non_null(strstr(l[8], want));
        assert_non_null(strstr(l[10], "\"req\":\"r-small\",\"n\":5}"));
        snprintf(want, sizeof want, "\"%s\":5,\"n\":6}", fill_key);
        assert_non_null(strstr(l[12], want));
        assert_non_null(strstr(l[14], "\"req\":\"r-small\",\"n\":7}"));
    }
    const char *const *t = (const char *const *)cap.lines + 1 + 2 * nf;
    assert_non_null(strstr(t[0], "\"st\":\"at push\",\"x\":1,\"n\":100}"));
    assert_non_null(strstr(t[1], "\"st\":\"at push\",\"x\":1,\"n\":101}"));
    assert_non_null(strstr(t[2], "\"st\":\"changed later\",\"x\":\"lazy now\",\"n\":102}"));
    assert_non_null(strstr(t[3], "\"req\":\"r-small\",\"svc\":\"api\",\"n\":103}"));
    assert_non_null(strstr(t[4], "\"req\":\"r-small\",\"n\":104}"));
    assert_null(strstr(t[4], "svc"));
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&cap);
}

/* Eight threads opening a scope for each event: the block lock is taken twice an event, by
 * every thread and the worker, so waiters also sleep on it (async.c: blk_wait), on a loaded
 * machine all the more. Every line carries its own scope's values, nothing is lost. */
#define CONTEND_THREADS 8
#define CONTEND_N 1000
static void contend_site(sky_logger *log, long i) { sky_info(log, "contend", SKY_INT("n", i)); }
static void *contend_main(void *arg)
{
    const scope_run *r = arg;
    char req[32];
    for (long i = r->from; i < r->from + CONTEND_N; i++) {
        snprintf(req, sizeof req, "q%ld", i);
        const sky_field f[] = {SKY_STR("req", req), SKY_INT("k", i * 3)};
        sky_context_push(f, 2);
        contend_site(r->log, i);
        sky_context_pop();
    }
    return NULL;
}

static void test_context_blocks_contended(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_capture(true, &cap);
    sky_logger *log = sky_logger_get(sky, "app");
    contend_site(log, -1); /* learns */
    pthread_t th[CONTEND_THREADS];
    scope_run runs[CONTEND_THREADS];
    for (int t = 0; t < CONTEND_THREADS; t++) {
        runs[t] = (scope_run){log, (long)t * CONTEND_N};
        assert_int_equal(pthread_create(&th[t], NULL, contend_main, &runs[t]), 0);
    }
    for (int t = 0; t < CONTEND_THREADS; t++)
        pthread_join(th[t], NULL);
    assert_int_equal(sky_flush(sky, 10000), SKY_OK);
    assert_int_equal(cap.n, 1 + CONTEND_THREADS * CONTEND_N);
    unsigned char *seen = calloc(CONTEND_THREADS * CONTEND_N, 1);
    assert_non_null(seen);
    for (size_t k = 1; k < cap.n; k++) {
        long q = -1, kk = -1, n = -1;
        const char *p = strstr(cap.lines[k], "\"req\":\"q");
        assert_non_null(p);
        assert_int_equal(sscanf(p, "\"req\":\"q%ld\",\"k\":%ld,\"n\":%ld}", &q, &kk, &n), 3);
        assert_int_equal(q, n);
        assert_int_equal(kk, 3 * n);
        assert_true(n >= 0 && n < CONTEND_THREADS * CONTEND_N && !seen[n]);
        seen[n] = 1;
    }
    free(seen);
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&cap);
}

/* A value too large for the ring is dropped and counted at a schema site too. */
static void big_site(sky_logger *log, const char *s, size_t n)
{
    sky_info(log, "ev", SKY_STRN("s", s, n));
}

static void test_too_large_counted(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_ring(true, 8192, &cap);
    sky_logger *log = sky_logger_get(sky, "app");
    size_t big = 6000;
    char *s = malloc(big);
    assert_non_null(s);
    memset(s, 'x', big);
    big_site(log, s, 3);   /* learns */
    big_site(log, s, big); /* fast path, too large for a 8 KiB ring */
    big_site(log, s, 4);
    assert_int_equal(sky_flush(sky, 5000), SKY_OK);
    sky_stats st;
    sky_stats_get(sky, &st);
    assert_int_equal(st.dropped[SKY_DROP_TOO_LARGE], 1);
    assert_int_equal(cap.n, 3); /* two events and the skylog.gap that reports the loss */
    assert_non_null(strstr(cap.lines[1], "\"s\":\"xxxx\"}"));
    assert_non_null(strstr(cap.lines[2], "skylog.gap"));
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&cap);
    free(s);
}

/* Threads racing through a site's first calls: one schema wins, every event arrives once. */
#define RACERS 4
#define RACE_N 2000
static pthread_barrier_t race_barrier;
static void race_site(sky_logger *log, int t, int i)
{
    sky_info(log, "race", SKY_INT("t", t), SKY_INT("i", i), SKY_STR("s", "v"));
}
typedef struct racer {
    sky_logger *log;
    int t;
} racer;
static void *race_main(void *arg)
{
    racer *r = arg;
    pthread_barrier_wait(&race_barrier);
    for (int i = 0; i < RACE_N; i++)
        race_site(r->log, r->t, i);
    return NULL;
}

static void test_racing_first_calls(void **state)
{
    (void)state;
    skytest_capture cap = {0};
    sky_t *sky = open_capture(true, &cap);
    pthread_t th[RACERS];
    racer r[RACERS];
    pthread_barrier_init(&race_barrier, NULL, RACERS);
    for (int t = 0; t < RACERS; t++) {
        r[t] = (racer){sky_logger_get(sky, "race"), t};
        assert_int_equal(pthread_create(&th[t], NULL, race_main, &r[t]), 0);
    }
    for (int t = 0; t < RACERS; t++)
        pthread_join(th[t], NULL);
    pthread_barrier_destroy(&race_barrier);
    assert_int_equal(sky_flush(sky, 10000), SKY_OK);
    assert_int_equal(cap.n, RACERS * RACE_N);
    int next[RACERS] = {0};
    for (size_t k = 0; k < cap.n; k++) {
        int t = -1, i = -1;
        const char *p = strstr(cap.lines[k], "\"t\":");
        assert_non_null(p);
        assert_int_equal(sscanf(p, "\"t\":%d,\"i\":%d,\"s\":\"v\"}", &t, &i), 2);
        assert_true(t >= 0 && t < RACERS);
        assert_int_equal(i, next[t]); /* per-thread order, nothing lost or repeated */
        next[t]++;
    }
    assert_int_equal(sky_close(sky), SKY_OK);
    skytest_capture_reset(&cap);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_output_matches_general_path),
        cmocka_unit_test(test_library_record_every_type),
        cmocka_unit_test(test_short_site_strings),
        cmocka_unit_test(test_schema_only_for_literals),
        cmocka_unit_test(test_mismatching_calls),
        cmocka_unit_test(test_many_loggers_one_site),
        cmocka_unit_test(test_processors_edit_site_events),
        cmocka_unit_test(test_context_and_bound_loggers),
        cmocka_unit_test(test_context_and_bound_match_general_path),
        cmocka_unit_test(test_thread_exit_inside_a_scope),
        cmocka_unit_test(test_context_blocks_reused),
        cmocka_unit_test(test_context_block_fill),
        cmocka_unit_test(test_context_blocks_contended),
        cmocka_unit_test(test_more_fields_than_a_schema),
        cmocka_unit_test(test_too_large_counted),
        cmocka_unit_test(test_racing_first_calls),
        cmocka_unit_test(test_sinks_of_every_format),
        cmocka_unit_test(test_processors_read_and_change_site_events),
        cmocka_unit_test(test_site_without_fields),
        cmocka_unit_test(test_gap_within_a_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

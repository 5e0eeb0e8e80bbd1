/* test_render.c - the JSON, logfmt and pretty renderers, checked through a real pipeline and,
 * for JSON, against an independent parser (jansson) on randomised hostile events. */
#include "skytest.h"

#include "util/buf.h"
#include "util/text.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct fixture {
    sky_t *sky;
    skytest_capture cap;
    sky_logger *log;
} fixture;

static fixture *open_fixture(sky_format fmt)
{
    fixture *f = calloc(1, sizeof *f);
    assert_int_equal(sky_open(&(sky_options){.level = SKY_LEVEL_TRACE, .level_set = true}, &f->sky),
                     SKY_OK);
    assert_int_equal(sky_add_sink(f->sky, skytest_capture_sink(&f->cap, fmt), NULL), SKY_OK);
    f->log = sky_logger_get(f->sky, "test.render");
    return f;
}

static void close_fixture(fixture *f)
{
    assert_int_equal(sky_close(f->sky), SKY_OK);
    skytest_capture_reset(&f->cap);
    free(f);
}

static json_t *parse_line(const char *line)
{
    json_error_t err;
    json_t *j = json_loads(line, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    if (!j)
        fail_msg("line does not parse (%s at %d): %s", err.text, err.position, line);
    return j;
}

static void test_standard_keys_and_types(void **state)
{
    (void)state;
    fixture *f = open_fixture(SKY_FORMAT_JSON);
    sky_info(f->log, "user_login", SKY_STR("user", "alice"), SKY_INT("id", -42),
             SKY_UINT("big", 1ull << 60), SKY_F64("ms", 1.5), SKY_BOOL("ok", true),
             SKY_NULL("nothing"), SKY_TIME("at", 1751114096789000000LL), SKY_DUR("took", 2500000),
             SKY_ERRNO("error", ENOENT), SKY_JSON("raw", "{\"a\":[1,2]}"),
             SKY_JSON("badraw", "{not json"), SKY_F64("nan", NAN), SKY_F64("inf", INFINITY),
             SKY_F64("ninf", -INFINITY), SKY_STR("nullstr", NULL));
    assert_int_equal(f->cap.n, 1);
    const char *line = f->cap.lines[0];
    assert_true(strncmp(line, "{\"timestamp\":\"", 14) == 0);
    assert_int_equal(line[strlen(line) - 1], '\n');
    json_t *j = parse_line(line);
    /* key order: the standard keys first */
    const char *order[] = {"timestamp", "level", "logger", "message", "module", "func", "line"};
    const char *p = line;
    for (size_t i = 0; i < 7; i++) {
        char k[32];
        snprintf(k, sizeof k, "\"%s\":", order[i]);
        const char *q = strstr(line, k);
        assert_non_null(q);
        assert_true(q >= p);
        p = q;
    }
    assert_string_equal(json_string_value(json_object_get(j, "level")), "INFO");
    assert_string_equal(json_string_value(json_object_get(j, "logger")), "test.render");
    assert_string_equal(json_string_value(json_object_get(j, "message")), "user_login");
    assert_string_equal(json_string_value(json_object_get(j, "module")), "test_render");
    assert_string_equal(json_string_value(json_object_get(j, "func")),
                        "test_standard_keys_and_types");
    assert_true(json_integer_value(json_object_get(j, "line")) > 0);
    assert_string_equal(json_string_value(json_object_get(j, "user")), "alice");
    assert_int_equal(json_integer_value(json_object_get(j, "id")), -42);
    assert_int_equal(json_integer_value(json_object_get(j, "big")), 1ll << 60);
    assert_true(json_real_value(json_object_get(j, "ms")) == 1.5);
    assert_true(json_is_true(json_object_get(j, "ok")));
    assert_true(json_is_null(json_object_get(j, "nothing")));
    assert_true(json_is_null(json_object_get(j, "nullstr")));
    assert_string_equal(json_string_value(json_object_get(j, "at")), "2025-06-28T12:34:56.789Z");
    assert_true(json_real_value(json_object_get(j, "took")) == 2.5);
    assert_string_equal(json_string_value(json_object_get(j, "error")),
                        "ENOENT: No such file or directory");
    assert_int_equal(json_integer_value(json_array_get(json_object_get(json_object_get(j, "raw"), "a"), 1)), 2);
    assert_string_equal(json_string_value(json_object_get(j, "badraw")), "{not json");
    assert_string_equal(json_string_value(json_object_get(j, "nan")), "NaN");
    assert_string_equal(json_string_value(json_object_get(j, "inf")), "Infinity");
    assert_string_equal(json_string_value(json_object_get(j, "ninf")), "-Infinity");
    /* timestamp is ISO-8601 UTC with milliseconds */
    const char *ts = json_string_value(json_object_get(j, "timestamp"));
    assert_int_equal(strlen(ts), 24);
    assert_int_equal(ts[10], 'T');
    assert_int_equal(ts[23], 'Z');
    json_decref(j);
    /* uint64 beyond int64 is valid JSON (jansson cannot hold it, so check the text) */
    sky_info(f->log, "big", SKY_UINT("u", UINT64_MAX));
    assert_non_null(strstr(f->cap.lines[1], ",\"u\":18446744073709551615}"));
    close_fixture(f);
}

static void test_duplicates_and_reserved_keys(void **state)
{
    (void)state;
    fixture *f = open_fixture(SKY_FORMAT_JSON);
    SKY_WITH_CONTEXT(SKY_STR("request_id", "outer"), SKY_STR("user", "ctx")) {
        SKY_WITH_CONTEXT(SKY_STR("request_id", "inner")) {
            sky_info(f->log, "ev", SKY_STR("user", "call"), SKY_STR("level", "mine"),
                     SKY_INT("x", 1), SKY_INT("x", 2));
        }
    }
    json_t *j = parse_line(f->cap.lines[0]); /* REJECT_DUPLICATES: no key twice */
    assert_string_equal(json_string_value(json_object_get(j, "request_id")), "inner");
    assert_string_equal(json_string_value(json_object_get(j, "user")), "call");
    assert_int_equal(json_integer_value(json_object_get(j, "x")), 2);
    assert_string_equal(json_string_value(json_object_get(j, "level")), "INFO");
    assert_string_equal(json_string_value(json_object_get(j, "_level")), "mine");
    json_decref(j);
    close_fixture(f);
}

/* ---- randomised hostile events ---------------------------------------------------------- */

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Random bytes: every value 0..255, biased towards the troublesome ones. */
static size_t random_bytes(char *out, size_t max)
{
    size_t n = next_rand() % max;
    for (size_t i = 0; i < n; i++) {
        uint64_t r = next_rand();
        switch (r % 6) {
        case 0: out[i] = (char)(r >> 8); break;                 /* any byte */
        case 1: out[i] = (char)((r >> 8) % 32); break;          /* control */
        case 2: out[i] = "\"\\/\x7f"[(r >> 8) % 4]; break;     /* escapes */
        case 3: out[i] = (char)(0x80 + (r >> 8) % 0x80); break; /* high */
        default: out[i] = (char)('a' + (r >> 8) % 26); break;
        }
    }
    return n;
}

static void test_random_hostile_roundtrip(void **state)
{
    (void)state;
    fixture *f = open_fixture(SKY_FORMAT_JSON);
    enum { EVENTS = 2000, FIELDS = 12, MAXLEN = 200 };
    static char vals[FIELDS][MAXLEN];
    size_t lens[FIELDS];
    char keys[FIELDS][16];
    for (int e = 0; e < EVENTS; e++) {
        sky_field fs[FIELDS];
        for (int i = 0; i < FIELDS; i++) {
            snprintf(keys[i], sizeof keys[i], "k%d", i);
            lens[i] = random_bytes(vals[i], MAXLEN);
            fs[i] = SKY_STRN(keys[i], vals[i], lens[i]);
        }
        char name[64];
        size_t nl = random_bytes(name, sizeof name - 1);
        name[nl] = '\0'; /* event names are C strings */
        sky_emit(f->log, SKY_LEVEL_INFO, name, NULL, fs, FIELDS);
        assert_int_equal(f->cap.n, 1);
        json_t *j = parse_line(f->cap.lines[0]);
        for (int i = 0; i < FIELDS; i++) {
            json_t *v = json_object_get(j, keys[i]);
            assert_non_null(v);
            sky_buf want = {0};
            sky__utf8_repair(&want, vals[i], lens[i]);
            assert_int_equal(json_string_length(v), want.len);
            if (want.len)
                assert_memory_equal(json_string_value(v), want.p, want.len);
            sky__buf_free(&want);
        }
        json_decref(j);
        skytest_capture_reset(&f->cap);
    }
    close_fixture(f);
}

static void test_long_keys_and_many_fields(void **state)
{
    (void)state;
    fixture *f = open_fixture(SKY_FORMAT_JSON);
    enum { N = 10000 };
    sky_field *fs = calloc(N + 1, sizeof *fs);
    char(*keys)[16] = calloc(N, sizeof *keys);
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "f%05d", i % 9000); /* 1000 duplicates: last wins */
        fs[i] = SKY_INT(keys[i], i);
    }
    char *longkey = malloc(100001);
    memset(longkey, 'k', 100000);
    longkey[100000] = '\0';
    fs[N] = SKY_STR(longkey, "v");
    sky_emit(f->log, SKY_LEVEL_WARN, "wide", NULL, fs, N + 1);
    json_t *j = parse_line(f->cap.lines[0]);
    assert_int_equal(json_object_size(j), 9000 + 1 + 4); /* fields + longkey + 4 standard */
    assert_int_equal(json_integer_value(json_object_get(j, "f00005")), 9005);
    assert_int_equal(json_integer_value(json_object_get(j, "f08999")), 8999);
    assert_string_equal(json_string_value(json_object_get(j, longkey)), "v");
    json_decref(j);
    free(fs);
    free(keys);
    free(longkey);
    close_fixture(f);
}

static void test_logfmt(void **state)
{
    (void)state;
    fixture *f = open_fixture(SKY_FORMAT_LOGFMT);
    sky_warn(f->log, "disk full", SKY_STR("path", "/var/log"), SKY_STR("msg", "a \"b\" c"),
             SKY_STR("empty", ""), SKY_INT("pct", 99), SKY_STR("bad key=", "x"));
    const char *line = f->cap.lines[0];
    assert_non_null(strstr(line, " level=warn logger=test.render msg=\"disk full\" "));
    assert_non_null(strstr(line, " path=/var/log "));
    assert_non_null(strstr(line, " msg=\"a \\\"b\\\" c\" "));
    assert_non_null(strstr(line, " empty=\"\" "));
    assert_non_null(strstr(line, " pct=99 "));
    assert_non_null(strstr(line, " bad_key_=x\n"));
    assert_true(strncmp(line, "ts=", 3) == 0);
    sky_info(f->log, "special", SKY_F64("pinf", INFINITY), SKY_F64("ninf", -INFINITY),
             SKY_F64("nan", NAN), SKY_ERRNO("err", ENOENT), SKY_DUR("d", 1500000),
             SKY_TIME("t", 0), SKY_NULL("z"), SKY_BOOL("b", false));
    assert_non_null(strstr(f->cap.lines[1], " pinf=+Inf ninf=-Inf nan=NaN "
                                            "err=\"ENOENT: No such file or directory\" d=1.5ms "
                                            "t=1970-01-01T00:00:00.000Z z=null b=false\n"));
    close_fixture(f);
}

static void test_pretty_escapes_terminal_controls(void **state)
{
    (void)state;
    fixture *f = open_fixture(SKY_FORMAT_PRETTY);
    sky_error(f->log, "evil", SKY_STR("payload", "\x1b]0;pwned\x07\x1b[2J"), SKY_INT("n", 3));
    const char *line = f->cap.lines[0];
    assert_null(strchr(line, '\x1b')); /* no raw ESC reaches the terminal */
    assert_null(strchr(line, '\x07'));
    assert_non_null(strstr(line, "ERROR"));
    assert_non_null(strstr(line, "[test.render] evil"));
    assert_non_null(strstr(line, "payload=\"\\u001b]0;pwned\\u0007\\u001b[2J\""));
    assert_non_null(strstr(line, " n=3\n"));
    /* C1 controls (U+009B is a CSI, U+0085 a line break) and bidi overrides are no safer than
     * ESC: escaped too, in values, names and logger names; other non-ASCII text stays bare */
    sky_error(f->log, "c1\302\233", SKY_STR("csi", "\xc2\x9b" "2J"),
              SKY_STR("bidi", "a\342\200\256b\342\201\246c"), SKY_STR("nel", "x\xc2\x85y"),
              SKY_STR("word", "caf\xc3\xa9 \xe6\x97\xa5"), SKY_STR("plain", "h\xc3\xa9"));
    line = f->cap.lines[1];
    assert_null(strstr(line, "\xc2\x9b"));
    assert_null(strstr(line, "\xc2\x85"));
    assert_null(strstr(line, "\xe2\x80\xae"));
    assert_null(strstr(line, "\xe2\x81\xa6"));
    assert_non_null(strstr(line, "] \"c1\\u009B\" "));
    assert_non_null(strstr(line, " csi=\"\\u009B2J\""));
    assert_non_null(strstr(line, " bidi=\"a\\u202Eb\\u2066c\""));
    assert_non_null(strstr(line, " nel=\"x\\u0085y\""));
    assert_non_null(strstr(line, " word=\"caf\xc3\xa9 \xe6\x97\xa5\""));
    assert_non_null(strstr(line, " plain=h\xc3\xa9\n"));
    sky_info(f->log, "special", SKY_F64("pinf", INFINITY), SKY_F64("ninf", -INFINITY),
             SKY_ERRNO("err", ENOENT));
    assert_non_null(strstr(f->cap.lines[2],
                           " pinf=Infinity ninf=-Infinity "
                           "err=\"ENOENT: No such file or directory\"\n"));
    close_fixture(f);
}

/* An errno field reads the same in every format (only the quoting differs), and CRITICAL
 * takes no more room than the other levels in the pretty output. */
static void test_errno_one_text_and_levels_aligned(void **state)
{
    (void)state;
    const char *want = "ENOENT: No such file or directory";
    sky_format fmts[] = {SKY_FORMAT_JSON, SKY_FORMAT_LOGFMT, SKY_FORMAT_PRETTY};
    for (size_t i = 0; i < 3; i++) {
        fixture *f = open_fixture(fmts[i]);
        sky_info(f->log, "x", SKY_ERRNO("err", ENOENT));
        sky_critical(f->log, "x", SKY_ERRNO("err", 999999));
        assert_non_null(strstr(f->cap.lines[0], want));
        assert_non_null(strstr(f->cap.lines[1], "\"errno 999999\""));
        if (fmts[i] == SKY_FORMAT_PRETTY)
            assert_int_equal(strstr(f->cap.lines[0], "[test.render]") - f->cap.lines[0],
                             strstr(f->cap.lines[1], "[test.render]") - f->cap.lines[1]);
        close_fixture(f);
    }
}

/* Raw JSON fragments (found by fuzz_json_writer): a pretty-printed one is embedded on one line
 * (a CR or LF could only be white space between its tokens), and one with a lone surrogate
 * escape, which strict readers refuse, is written as a string. */
static void test_raw_json_stays_one_strict_line(void **state)
{
    (void)state;
    fixture *f = open_fixture(SKY_FORMAT_JSON);
    sky_info(f->log, "raw", SKY_JSON("pretty", "\n\n{\n  \"a\": [1,\r\n 2],\n\t\"b\": \"x\\ny\"\n}\n"),
             SKY_JSON("lone", "\"\\ud800\""), SKY_JSON("pair", "\"\\ud83d\\ude00\""),
             SKY_JSON("low", "[\"\\udc00\"]"));
    assert_int_equal(f->cap.n, 1);
    const char *line = f->cap.lines[0];
    assert_ptr_equal(strchr(line, '\n'), line + strlen(line) - 1); /* the only newline ends it */
    json_t *j = parse_line(line);
    json_t *pretty = json_object_get(j, "pretty");
    assert_int_equal(json_integer_value(json_array_get(json_object_get(pretty, "a"), 1)), 2);
    assert_string_equal(json_string_value(json_object_get(pretty, "b")), "x\ny");
    assert_string_equal(json_string_value(json_object_get(j, "lone")), "\"\\ud800\"");
    assert_string_equal(json_string_value(json_object_get(j, "pair")), "\xf0\x9f\x98\x80");
    assert_string_equal(json_string_value(json_object_get(j, "low")), "[\"\\udc00\"]");
    json_decref(j);
    close_fixture(f);
}

/* The JSON renderer keeps the text of the last millisecond it wrote (per pipeline): times in
 * it, at its edges, in the next one, back in an earlier one, negative and at the ends of the
 * range each get their own text, in async and sync mode. A processor sets each event's time. */
static const int64_t ts_times[] = {
    1751114096789000000LL, 1751114096789999999LL, 1751114096789000001LL, 1751114096790000000LL,
    1751114096789999999LL, 1751114096788999999LL, 0, 999999, 1000000, -1, -1000000, -1000001,
    INT64_MIN, INT64_MAX, 1751114096790000000LL, 951782400000000000LL, 951782400000999999LL,
    951782400001000000LL, -62135596800000000LL};
enum { TS_N = sizeof ts_times / sizeof ts_times[0] };
static sky_proc_result set_time(void *user, sky_event *ev)
{
    int *k = user;
    sky_event_set_time(ev, ts_times[(*k)++ % TS_N]);
    return SKY_PROC_KEEP;
}

static void test_timestamp_cache_windows(void **state)
{
    (void)state;
    for (int async = 0; async < 2; async++) {
        skytest_capture cap = {0};
        sky_t *sky = NULL;
        sky_options o = {.mode = async ? SKY_MODE_ASYNC : SKY_MODE_SYNC};
        assert_int_equal(sky_open(&o, &sky), SKY_OK);
        int k = 0;
        assert_int_equal(sky_add_processor(sky, "time", set_time, &k, NULL), SKY_OK);
        assert_int_equal(sky_add_sink(sky, skytest_capture_sink(&cap, SKY_FORMAT_JSON), NULL),
                         SKY_OK);
        sky_logger *log = sky_logger_get(sky, "app");
        for (int i = 0; i < 2 * TS_N; i++)
            sky_info(log, "ev", SKY_INT("i", i));
        assert_int_equal(sky_flush(sky, 5000), SKY_OK);
        assert_int_equal(cap.n, 2 * TS_N);
        for (size_t i = 0; i < cap.n; i++) {
            char want[64] = "{\"timestamp\":\"";
            sky__iso8601_ms(want + 14, ts_times[i % TS_N]);
            memcpy(want + 14 + SKY_ISO8601_LEN, "\"", 2);
            assert_memory_equal(cap.lines[i], want, strlen(want));
        }
        assert_int_equal(sky_close(sky), SKY_OK);
        skytest_capture_reset(&cap);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_standard_keys_and_types),
        cmocka_unit_test(test_duplicates_and_reserved_keys),
        cmocka_unit_test(test_random_hostile_roundtrip),
        cmocka_unit_test(test_long_keys_and_many_fields),
        cmocka_unit_test(test_logfmt),
        cmocka_unit_test(test_pretty_escapes_terminal_controls),
        cmocka_unit_test(test_errno_one_text_and_levels_aligned),
        cmocka_unit_test(test_raw_json_stays_one_strict_line),
        cmocka_unit_test(test_timestamp_cache_windows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

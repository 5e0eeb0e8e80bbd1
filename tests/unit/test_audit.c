/* test_audit.c - the audit sink's hash chain (src/sinks/audit.c): entries chained by SHA-256
 * with sequence numbers, the chain resumed after a restart, a torn tail kept and recorded, a
 * damaged tail refused, one writer at a time, the HMAC key; and the verifier's verdicts. */
#include "skytest.h"

#include "aws/crypto_api.h"
#include "sinks/audit_chain.h"

#include <skylog/audit.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *g_dir; /* a fresh directory per test */

static int setup(void **state)
{
    (void)state;
    g_dir = skytest_tmpdir();
    return g_dir ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    skytest_rmtree(g_dir);
    free(g_dir);
    return 0;
}

static void audit_path(char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/audit.jsonl", g_dir);
}

/* Logs events i = first..first+n-1 through a pipeline whose only sink is an audit sink. */
static void write_events(const char *path, int first, int n, const char *key_env)
{
    sky_t *sky = NULL;
    assert_int_equal(sky_open(NULL, &sky), SKY_OK);
    sky_sink *s = NULL;
    char *err = NULL;
    sky_status st = sky_sink_audit(&(sky_audit_opts){.path = path, .key_env = key_env}, &s, &err);
    if (st != SKY_OK)
        fail_msg("sky_sink_audit: %s", err ? err : sky_strerror(st));
    sky_add_sink(sky, s, NULL);
    sky_logger *log = sky_logger_get(sky, "audit");
    for (int i = first; i < first + n; i++)
        sky_info(log, "acted", SKY_INT("i", i));
    assert_int_equal(sky_close(sky), SKY_OK);
}

static sky__audit_verdict verify_file(const char *path, const char *key, sky__audit_report *rep)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    sky__audit_verdict v =
        sky__audit_verify(f, (const uint8_t *)key, key ? strlen(key) : 0, rep);
    fclose(f);
    return v;
}

static sky__audit_verdict verify_text(const char *text, sky__audit_report *rep)
{
    FILE *f = fmemopen((void *)text, strlen(text), "rb");
    assert_non_null(f);
    sky__audit_verdict v = sky__audit_verify(f, NULL, 0, rep);
    fclose(f);
    return v;
}

static char *slurp(const char *path)
{
    size_t len;
    char *b = skytest_read_file(path, &len);
    assert_non_null(b);
    return b;
}

/* The n-th line (1-based) of text, as a malloc'd string without its newline. */
static char *nth_line(const char *text, int n)
{
    const char *p = text;
    for (int i = 1; i < n; i++) {
        p = strchr(p, '\n');
        assert_non_null(p);
        p++;
    }
    size_t l = strcspn(p, "\n");
    char *out = strndup(p, l);
    assert_non_null(out);
    return out;
}

static void test_append_chains_entries(void **state)
{
    (void)state;
    char path[4096];
    audit_path(path, sizeof path);
    write_events(path, 1, 5, NULL);
    char *text = slurp(path);
    /* each entry starts with its seq and the previous hash, and ends with its own hash */
    char *l1 = nth_line(text, 1), *l2 = nth_line(text, 2);
    assert_true(strncmp(l1, "{\"seq\":1,\"prev\":\"0000000000000000", 33) == 0);
    assert_non_null(strstr(l1, "\"message\":\"acted\""));
    const char *h1 = strstr(l1, ",\"hash\":\"");
    assert_non_null(h1);
    assert_true(strncmp(l2, "{\"seq\":2,\"prev\":\"", 17) == 0);
    assert_memory_equal(l2 + 17, h1 + 9, 64); /* line 2's prev is line 1's hash */
    /* the hash is SHA-256 of the bytes before ,"hash":" */
    uint8_t d[32];
    char hex[65];
    assert_true(sky__sha256(l1, (size_t)(h1 - l1), d));
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    assert_memory_equal(hex, h1 + 9, 64);
    sky__audit_report rep;
    assert_int_equal(verify_file(path, NULL, &rep), SKY__AUDIT_INTACT);
    assert_int_equal(rep.entries, 5);
    assert_int_equal(rep.last_seq, 5);
    assert_int_equal(rep.resumed, 0);
    free(l1);
    free(l2);
    free(text);
}

/* echo: each entry is also logged normally, with its seq and short hash, in both modes; the
 * echo reaches the other sinks and never becomes an entry itself */
static void test_echo_with_short_hash(void **state)
{
    (void)state;
    for (int mode = 0; mode < 2; mode++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/echo%d.jsonl", g_dir, mode);
        skytest_capture cap = {0};
        sky_t *sky = NULL;
        assert_int_equal(sky_open(&(sky_options){.mode = mode ? SKY_MODE_ASYNC : SKY_MODE_SYNC},
                                  &sky),
                         SKY_OK);
        sky_sink *s = NULL;
        assert_int_equal(sky_sink_audit(&(sky_audit_opts){.path = path, .echo = true}, &s, NULL),
                         SKY_OK);
        assert_int_equal(sky_add_sink(sky, s, NULL), SKY_OK);
        assert_int_equal(sky_add_sink(sky, skytest_capture_sink(&cap, SKY_FORMAT_JSON), NULL),
                         SKY_OK);
        sky_logger *log = sky_logger_get(sky, "audit");
        sky_info(log, "permission_changed", SKY_STR("user", "admin"), SKY_INT("i", 1));
        sky_info(log, "permission_changed", SKY_STR("user", "admin"), SKY_INT("i", 2));
        assert_int_equal(sky_close(sky), SKY_OK);
        char *text = slurp(path);
        sky__audit_report rep;
        assert_int_equal(verify_file(path, NULL, &rep), SKY__AUDIT_INTACT);
        assert_int_equal(rep.entries, 2); /* the echoes are not entries */
        /* the capture sink saw the two events and their two echoes */
        assert_int_equal(cap.n, 4);
        int echoes = 0;
        for (size_t i = 0; i < cap.n; i++) {
            const char *h = strstr(cap.lines[i], "\"audit_hash\":\"");
            if (!h)
                continue;
            echoes++;
            int seq = strstr(cap.lines[i], "\"i\":1") ? 1 : 2;
            char want[40];
            snprintf(want, sizeof want, "\"audit_seq\":%d", seq);
            assert_non_null(strstr(cap.lines[i], want));
            assert_non_null(strstr(cap.lines[i], "\"message\":\"permission_changed\""));
            assert_non_null(strstr(cap.lines[i], "\"logger\":\"audit\""));
            char *line = nth_line(text, seq);
            const char *full = strstr(line, ",\"hash\":\"");
            assert_non_null(full);
            assert_memory_equal(h + 14, full + 9, 12); /* the short hash is the entry's */
            assert_int_equal(h[14 + 12], '"');
            free(line);
        }
        assert_int_equal(echoes, 2);
        free(text);
        skytest_capture_reset(&cap);
    }
}

static void test_resume_after_restart(void **state)
{
    (void)state;
    char path[4096];
    audit_path(path, sizeof path);
    write_events(path, 1, 3, NULL);
    write_events(path, 4, 2, NULL);
    char *text = slurp(path);
    char *l4 = nth_line(text, 4), *l5 = nth_line(text, 5), *l3 = nth_line(text, 3);
    /* the reopening is recorded as entry 4, chained to entry 3 */
    assert_true(strncmp(l4, "{\"seq\":4,", 9) == 0);
    assert_non_null(strstr(l4, "\"message\":\"chain_resumed\",\"reason\":\"reopen\""));
    assert_memory_equal(strstr(l4, "\"prev\":\"") + 8, strstr(l3, ",\"hash\":\"") + 9, 64);
    assert_true(strncmp(l5, "{\"seq\":5,", 9) == 0);
    assert_non_null(strstr(l5, "\"i\":4"));
    sky__audit_report rep;
    assert_int_equal(verify_file(path, NULL, &rep), SKY__AUDIT_INTACT);
    assert_int_equal(rep.entries, 6);
    assert_int_equal(rep.resumed, 1);
    free(l3);
    free(l4);
    free(l5);
    free(text);
}

/* Opening an existing trail (as `skylog config check` does) and writing nothing changes nothing:
 * the chain_resumed entry is written with the first new entry. */
static void test_open_without_writing_changes_nothing(void **state)
{
    (void)state;
    char path[4096];
    audit_path(path, sizeof path);
    write_events(path, 1, 2, NULL);
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_int_equal(write(fd, "{\"seq\":3", 8), 8); /* a torn tail, left as it is too */
    close(fd);
    size_t l0, l1;
    char *before = skytest_read_file(path, &l0);
    sky_sink *s = NULL;
    assert_int_equal(sky_sink_audit(&(sky_audit_opts){.path = path}, &s, NULL), SKY_OK);
    sky_sink_close(s);
    char *after = skytest_read_file(path, &l1);
    assert_int_equal(l0, l1);
    assert_memory_equal(before, after, l0);
    free(before);
    free(after);
}

/* Three entries, then the start of a fourth that a crash cut: the torn tail, returned. */
static const char *write_torn(const char *path)
{
    static const char torn[] = "{\"seq\":4,\"prev\":\"ab";
    write_events(path, 1, 3, NULL);
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, torn, sizeof torn - 1), (ssize_t)(sizeof torn - 1));
    close(fd);
    return torn;
}

static void test_torn_tail_is_kept_and_recorded(void **state)
{
    (void)state;
    char path[4096];
    audit_path(path, sizeof path);
    const char *torn = write_torn(path);
    sky__audit_report rep;
    assert_int_equal(verify_file(path, NULL, &rep), SKY__AUDIT_TRUNCATED);
    assert_int_equal(rep.line, 4);

    write_events(path, 4, 2, NULL);
    char *text = slurp(path);
    char *l4 = nth_line(text, 4), *l5 = nth_line(text, 5), *l6 = nth_line(text, 6);
    assert_string_equal(l4, torn); /* kept, as evidence, on its own line */
    assert_true(strncmp(l5, "{\"seq\":4,", 9) == 0); /* the chain continues from entry 3 */
    assert_non_null(strstr(l5, "\"reason\":\"torn_tail\",\"torn_bytes\":19,\"torn_sha256\":\""));
    assert_true(strncmp(l6, "{\"seq\":5,", 9) == 0);
    assert_int_equal(verify_file(path, NULL, &rep), SKY__AUDIT_INTACT);
    assert_int_equal(rep.torn, 1);
    assert_int_equal(rep.entries, 6);
    free(l4);
    free(l5);
    free(l6);
    free(text);
}

static bool stop_on_call(void *user)
{
    int *calls = user; /* [0]: calls so far, [1]: the call that says stop (0: never) */
    return ++calls[0] == calls[1];
}

/* skylog audit verify on Ctrl-C: asked before each read, the verifier stops there and says so;
 * what it saw of the input gives no verdict (here a "truncated" last line, which the rest of
 * the file, never read, could have completed). */
static void test_verifier_stops_when_asked(void **state)
{
    (void)state;
    char path[4096];
    audit_path(path, sizeof path);
    write_torn(path);
    sky__audit_report rep;
    for (int when = 0; when <= 2; when++) {
        int calls[2] = {0, when};
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        sky__audit_verdict v = sky__audit_verify_until(f, NULL, 0, stop_on_call, calls, &rep);
        fclose(f);
        if (when == 0) { /* never asked to stop: the whole file's verdict */
            assert_int_equal(v, SKY__AUDIT_TRUNCATED);
            assert_false(rep.stopped);
            assert_int_equal(calls[0], 2); /* one read got it all, the next found the end */
            continue;
        }
        assert_int_equal(v, SKY__AUDIT_IOERROR);
        assert_true(rep.stopped);
        assert_int_equal(rep.verdict, SKY__AUDIT_IOERROR);
        assert_non_null(strstr(rep.detail, "stopped"));
        assert_int_equal(calls[0], when); /* not asked again after it said stop */
    }
}

static void test_damaged_tail_is_refused(void **state)
{
    (void)state;
    char path[4096];
    audit_path(path, sizeof path);
    write_events(path, 1, 2, NULL);
    char *text = slurp(path);
    size_t len = strlen(text);
    char *at = strstr(text + len / 2, "\"i\":2");
    assert_non_null(at);
    at[4] = '7';
    FILE *f = fopen(path, "wb");
    fwrite(text, 1, len, f);
    fclose(f);
    sky_sink *s = NULL;
    char *err = NULL;
    assert_int_equal(sky_sink_audit(&(sky_audit_opts){.path = path}, &s, &err), SKY_EINVAL);
    assert_null(s);
    assert_non_null(strstr(err, "does not match its hash"));
    assert_non_null(strstr(err, "skylog audit verify"));
    free(err);
    free(text);
}

static void test_one_writer(void **state)
{
    (void)state;
    char path[4096];
    audit_path(path, sizeof path);
    sky_sink *a = NULL, *b = NULL;
    char *err = NULL;
    assert_int_equal(sky_sink_audit(&(sky_audit_opts){.path = path}, &a, NULL), SKY_OK);
    assert_int_equal(sky_sink_audit(&(sky_audit_opts){.path = path}, &b, &err), SKY_EIO);
    assert_non_null(strstr(err, "one writer"));
    free(err);
    sky_sink_close(a);
}

static void test_hmac_key_checked_never_written(void **state)
{
    (void)state;
    char path[4096];
    audit_path(path, sizeof path);
    setenv("TEST_AUDIT_KEY", "s3cr3t-audit-key", 1);
    write_events(path, 1, 3, "TEST_AUDIT_KEY");
    char *text = slurp(path);
    assert_null(strstr(text, "s3cr3t"));
    assert_non_null(strstr(text, "\",\"hmac\":\""));
    sky__audit_report rep;
    assert_int_equal(verify_file(path, "s3cr3t-audit-key", &rep), SKY__AUDIT_INTACT);
    assert_int_equal(rep.entries, 3);
    assert_int_equal(verify_file(path, "another-key", &rep), SKY__AUDIT_HMAC);
    assert_int_equal(rep.line, 1);
    assert_int_equal(verify_file(path, NULL, &rep), SKY__AUDIT_INTACT);
    assert_true(rep.hmac_seen);
    /* reopening without the key would write entries without an HMAC: refused */
    sky_sink *s = NULL;
    char *err = NULL;
    assert_int_equal(sky_sink_audit(&(sky_audit_opts){.path = path}, &s, &err), SKY_EINVAL);
    assert_non_null(strstr(err, "no key is configured"));
    free(err);
    /* and with another key: refused too */
    setenv("TEST_AUDIT_KEY", "another-key", 1);
    assert_int_equal(
        sky_sink_audit(&(sky_audit_opts){.path = path, .key_env = "TEST_AUDIT_KEY"}, &s, &err),
        SKY_EINVAL);
    assert_non_null(strstr(err, "fails the HMAC"));
    assert_null(strstr(err, "another-key"));
    free(err);
    free(text);
    unsetenv("TEST_AUDIT_KEY");
}

static void test_bad_options(void **state)
{
    (void)state;
    sky_sink *s = NULL;
    char *err = NULL;
    assert_int_equal(sky_sink_audit(&(sky_audit_opts){0}, &s, &err), SKY_EINVAL);
    assert_non_null(err);
    free(err);
    assert_int_equal(sky_sink_audit(&(sky_audit_opts){.path = "/tmp/x", .key_file = "a",
                                                      .key_env = "B"},
                                    &s, &err),
                     SKY_EINVAL);
    free(err);
    unsetenv("TEST_AUDIT_NOKEY");
    assert_int_equal(sky_sink_audit(&(sky_audit_opts){.path = "/tmp/x",
                                                      .key_env = "TEST_AUDIT_NOKEY"},
                                    &s, &err),
                     SKY_EINVAL);
    assert_non_null(strstr(err, "TEST_AUDIT_NOKEY"));
    free(err);
}

/* Async pipeline, several producer threads: one chain, every entry once, in the file's order. */
static void *produce(void *arg)
{
    sky_logger *log = arg;
    for (int i = 0; i < 500; i++)
        sky_info(log, "threaded", SKY_INT("i", i));
    return NULL;
}

static void test_async_producers_make_one_chain(void **state)
{
    (void)state;
    char path[4096];
    audit_path(path, sizeof path);
    sky_t *sky = NULL;
    assert_int_equal(sky_open(&(sky_options){.mode = SKY_MODE_ASYNC}, &sky), SKY_OK);
    sky_sink *s = NULL;
    assert_int_equal(sky_sink_audit(&(sky_audit_opts){.path = path,
                                                      .fsync = SKY_AUDIT_FSYNC_INTERVAL},
                                    &s, NULL),
                     SKY_OK);
    sky_add_sink(sky, s, NULL);
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&t[i], NULL, produce, sky_logger_get(sky, "t")), 0);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(sky_close(sky), SKY_OK);
    sky__audit_report rep;
    assert_int_equal(verify_file(path, NULL, &rep), SKY__AUDIT_INTACT);
    assert_int_equal(rep.entries, 1500);
}

/* The registry row: SKYLOG_AUDIT__* configure the sink like every other one. */
static void test_from_the_environment(void **state)
{
    (void)state;
    char path[4096];
    audit_path(path, sizeof path);
    setenv("SKYLOG_AUDIT__PATH", path, 1);
    setenv("SKYLOG_AUDIT__FSYNC", "interval", 1);
    setenv("SKYLOG_CONSOLE", "off", 1);
    char *err = NULL;
    sky_t *sky = sky_open_env(&err);
    if (!sky)
        fail_msg("sky_open_env: %s", err ? err : "?");
    sky_info(sky_logger_get(sky, "env"), "from_env", SKY_INT("n", 1));
    assert_int_equal(sky_close(sky), SKY_OK);
    unsetenv("SKYLOG_AUDIT__PATH");
    unsetenv("SKYLOG_AUDIT__FSYNC");
    unsetenv("SKYLOG_CONSOLE");
    sky__audit_report rep;
    assert_int_equal(verify_file(path, NULL, &rep), SKY__AUDIT_INTACT);
    assert_int_equal(rep.entries, 1);
    char *text = slurp(path);
    assert_non_null(strstr(text, "\"message\":\"from_env\""));
    free(text);
}

static void test_verifier_limits_and_garbage(void **state)
{
    (void)state;
    sky__audit_report rep;
    assert_int_equal(verify_text("", &rep), SKY__AUDIT_INTACT);
    assert_int_equal(rep.entries, 0);
    assert_int_equal(verify_text("hello\n", &rep), SKY__AUDIT_CHANGED);
    assert_int_equal(rep.line, 1);
    assert_int_equal(verify_text("{\"seq\":99999999999999999999999,\"prev\":\"\"}\n", &rep),
                     SKY__AUDIT_CHANGED);
    /* a line longer than the limit is reported, without holding it in memory */
    size_t n = SKY_AUDIT_MAX_LINE + 10;
    char *big = malloc(n + 2);
    memset(big, 'x', n);
    big[n] = '\n';
    big[n + 1] = 0;
    assert_int_equal(verify_text(big, &rep), SKY__AUDIT_MALFORMED);
    assert_int_equal(rep.line, 1);
    free(big);
}

int main(void)
{
    if (!sky__crypto_load(NULL, 0)) {
        printf("libcrypto missing: skipped\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_chains_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_after_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_echo_with_short_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_without_writing_changes_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_is_kept_and_recorded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_tail_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verifier_stops_when_asked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hmac_key_checked_never_written, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_options, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_producers_make_one_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_from_the_environment, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verifier_limits_and_garbage, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * test_abi.c - the ABI guard (docs/COMPATIBILITY.md). A program built against one header must
 * work with any library of the same SKYLOG_ABI_VERSION (the SONAME's number). So, for ABI 1:
 *   - every options and stats struct ends with `uint64_t reserved_[8]`, and keeps the size it
 *     has here: a new member takes reserved slots (zero = "not set", as for every member), so
 *     what an older program passes or receives is still the whole struct;
 *   - every other public struct (array elements such as sky_field, vtables, the layouts the
 *     inline logging path reads) keeps its size;
 *   - the versions agree: the header's, the library's at run time, the project's.
 * A failure here means: take reserved slots instead, or bump SKYLOG_ABI_VERSION in
 * include/skylog.h and record the new sizes (printed below on failure) under the new number.
 * Sizes are those of the LP64 Linux ABIs (x86-64, AArch64); elsewhere the table is skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "skytest.h"
#include <skylog.h>
#include <skylog/audit.h>
#include <skylog/aws.h>
#include <skylog/cloudwatch.h>
#include <skylog/http_sink.h>
#include <skylog/metrics.h>
#include <skylog/request.h>
#include <skylog/trace.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sky__logger_hdr struct_sky__logger_hdr;

#if SKYLOG_ABI_VERSION != 1
#error "a new ABI: record its struct sizes below (the failing test prints them)"
#endif

/* X(name, type, size in ABI 1) */
#define GROWABLE(X) \
    X(sky_options, sky_options, 144) \
    X(sky_enrich_opts, sky_enrich_opts, 96) \
    X(sky_redact_opts, sky_redact_opts, 88) \
    X(sky_sample_opts, sky_sample_opts, 152) \
    X(sky_security_opts, sky_security_opts, 128) \
    X(sky_security_stats, sky_security_stats, 112) \
    X(sky_sink_stats, sky_sink_stats, 112) \
    X(sky_console_opts, sky_console_opts, 80) \
    X(sky_file_opts, sky_file_opts, 112) \
    X(sky_route, sky_route, 96) \
    X(sky_stats, sky_stats, 336) \
    X(sky_processor_stats, sky_processor_stats, 104) \
    X(sky_audit_opts, sky_audit_opts, 112) \
    X(sky_http_opts, sky_http_opts, 136) \
    X(sky_aws_retry_opts, sky_aws_retry_opts, 152) \
    X(sky_aws_creds_opts, sky_aws_creds_opts, 360) \
    X(sky_aws_creds_stats, sky_aws_creds_stats, 360) \
    X(sky_aws_client_opts, sky_aws_client_opts, 424) \
    X(sky_aws_retry_stats, sky_aws_retry_stats, 120) \
    X(sky_aws_query_result, sky_aws_query_result, 184) \
    X(sky_aws_query_opts, sky_aws_query_opts, 160) \
    X(sky_cwl_opts, sky_cwl_opts, 304) \
    X(sky_cwl_stats, sky_cwl_stats, 680) \
    X(sky_http_batch_opts, sky_http_batch_opts, 200) \
    X(sky_http_sink_opts, sky_http_sink_opts, 280) \
    X(sky_otlp_opts, sky_otlp_opts, 296) \
    X(sky_http_sink_stats, sky_http_sink_stats, 464) \
    X(sky_metrics_opts, sky_metrics_opts, 88) \
    X(sky_metric_opts, sky_metric_opts, 112) \
    X(sky_metrics_stats, sky_metrics_stats, 112) \
    X(sky_emf_opts, sky_emf_opts, 104) \
    X(sky_emf_stats, sky_emf_stats, 88) \
    X(sky_cwm_opts, sky_cwm_opts, 184) \
    X(sky_cwm_stats, sky_cwm_stats, 448) \
    X(sky_statsd_opts, sky_statsd_opts, 104) \
    X(sky_log_metrics_opts, sky_log_metrics_opts, 104) \
    X(sky_log_metrics_stats, sky_log_metrics_stats, 104) \
    X(sky_sampler_opts, sky_sampler_opts, 112) \
    X(sky_sampler_stats, sky_sampler_stats, 136) \
    X(sky_request_opts, sky_request_opts, 112) \
    X(sky_trace_stats, sky_trace_stats, 80)

#define FROZEN(X) \
    X(sky_field, sky_field, 32) \
    X(sky_callsite, sky_callsite, 24) \
    X(sky__schema, sky__schema, 296) \
    X(sky__site, sky__site, 32) \
    X(sky__slot, sky__slot, 40) \
    X(sky__ring_hdr, sky__ring_hdr, 8) \
    X(sky__ring, sky__ring, 320) \
    X(sky__fast, sky__fast, 384) \
    X(sky__ctx_hdr, sky__ctx_hdr, 8) \
    X(sky_context_scope, sky_context_scope, 4) \
    X(sky_security_rule, sky_security_rule, 40) \
    X(sky_record, sky_record, 24) \
    X(sky_sink_vtable, sky_sink_vtable, 48) \
    X(struct_sky__logger_hdr, struct sky__logger_hdr, 16) \
    X(sky_aws_header, sky_aws_header, 16) \
    X(sky_aws_credentials, sky_aws_credentials, 32) \
    X(sky_sigv4_request, sky_sigv4_request, 72) \
    X(sky_sigv4_params, sky_sigv4_params, 72) \
    X(sky_sigv4_result, sky_sigv4_result, 192) \
    X(sky_sigv4_auth, sky_sigv4_auth, 1355) \
    X(sky_sigv4_verify_input, sky_sigv4_verify_input, 104) \
    X(sky_sigv4_received, sky_sigv4_received, 80) \
    X(sky_sigv4_verdict, sky_sigv4_verdict, 1684) \
    X(sky_http_request, sky_http_request, 56) \
    X(sky_http_response, sky_http_response, 48) \
    X(sky_aws_error, sky_aws_error, 824) \
    X(sky_aws_call, sky_aws_call, 96) \
    X(sky_cwl_msg, sky_cwl_msg, 24) \
    X(sky_dim, sky_dim, 16) \
    X(sky_metric_datum, sky_metric_datum, 120) \
    X(sky_op_metrics, sky_op_metrics, 24) \
    X(sky_operation, sky_operation, 48) \
    X(sky_log_metric_rule, sky_log_metric_rule, 64) \
    X(sky_sample, sky_sample, 56) \
    X(sky_request, sky_request, 2352) \
    X(sky_trace_ctx, sky_trace_ctx, 549) \
    X(sky__trace_frame, sky__trace_frame, 32) \
    X(sky_span, sky_span, 920)

/* Structs the program allocates and the library fills: sky_span (on the caller's stack, as
 * SKY_SPAN declares it), sky_trace_ctx (a value copied between threads) and sky_request (which
 * holds a sky_span by value). Their size and alignment are ABI, and so are the offsets of their
 * public members, which the program reads directly (trace.h, request.h say which); checked at
 * compile time, so an accidental change fails the build of this test, hence `make test`. */
#if defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__))
#define ABI1_AT(T, m, off)                                                                         \
    _Static_assert(offsetof(T, m) == (off), #T "." #m " moved: ABI 1 has it at " #off)
#define ABI1_SIZE(T, size, align)                                                                  \
    _Static_assert(sizeof(T) == (size), #T ": ABI 1 is " #size " bytes");                          \
    _Static_assert(_Alignof(T) == (align), #T ": ABI 1 aligns it to " #align)
ABI1_SIZE(sky_span, 920, 8);
ABI1_AT(sky_span, ctx, 0);
ABI1_SIZE(sky_trace_ctx, 549, 1);
ABI1_AT(sky_trace_ctx, trace_id, 0);
ABI1_AT(sky_trace_ctx, span_id, 16);
ABI1_AT(sky_trace_ctx, parent_id, 24);
ABI1_AT(sky_trace_ctx, valid, 32);
ABI1_AT(sky_trace_ctx, has_span, 33);
ABI1_AT(sky_trace_ctx, has_parent, 34);
ABI1_AT(sky_trace_ctx, flags, 35);
ABI1_AT(sky_trace_ctx, tracestate, 36);
ABI1_SIZE(sky_request, 2352, 8);
ABI1_AT(sky_request, span, 0);
ABI1_AT(sky_request, request_id, 920);
#endif

typedef struct row {
    const char *name;
    size_t size, abi1;
    size_t tail; /* growable: bytes after reserved_ ends (padding only: 0) */
} row;

#define GROW_ROW(n, T, s) {#n, sizeof(T), s, sizeof(T) - offsetof(T, reserved_) - sizeof(((T *)0)->reserved_)},
#define FROZEN_ROW(n, T, s) {#n, sizeof(T), s, 0},
static const row growable[] = {GROWABLE(GROW_ROW)};
static const row frozen[] = {FROZEN(FROZEN_ROW)};

static int check(const row *rows, size_t n, bool growable_rows)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (rows[i].size != rows[i].abi1) {
            printf("%s: %zu bytes, ABI %d has %zu: %s\n", rows[i].name, rows[i].size,
                   SKYLOG_ABI_VERSION, rows[i].abi1,
                   growable_rows ? "a new member must take reserved_ slots"
                                 : "this struct may not change within an ABI");
            bad++;
        }
        if (growable_rows && rows[i].tail != 0) {
            printf("%s: members after reserved_: reserved_ must stay last\n", rows[i].name);
            bad++;
        }
    }
    return bad;
}

static void test_struct_sizes(void **state)
{
    (void)state;
#if defined(__linux__) && (defined(__x86_64__) || defined(__aarch64__))
    int bad = check(growable, sizeof growable / sizeof growable[0], true) +
              check(frozen, sizeof frozen / sizeof frozen[0], false);
    if (bad) {
        printf("the sizes as they are now, for a new ABI's table:\n");
        for (size_t i = 0; i < sizeof growable / sizeof growable[0]; i++)
            printf("    X(%s, ..., %zu)\n", growable[i].name, growable[i].size);
        for (size_t i = 0; i < sizeof frozen / sizeof frozen[0]; i++)
            printf("    X(%s, ..., %zu)\n", frozen[i].name, frozen[i].size);
    }
    assert_int_equal(bad, 0);
#else
    skip();
#endif
}

/* A struct added later must follow the rule too: every options and stats struct of the public
 * headers (named *_opts, *_stats, sky_options) is in the table above, so it has reserved_. */
static void test_every_options_and_stats_struct_is_listed(void **state)
{
    (void)state;
    const char *src = getenv("SKYLOG_SOURCE_DIR");
    if (!src)
        skip();
    const char *const *headers = skytest_public_headers;
    int missing = 0;
    for (size_t h = 0; headers[h]; h++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/include/%s", src, headers[h]);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        char line[1024];
        while (fgets(line, sizeof line, f)) {
            char name[256];
            if (sscanf(line, "} %255[a-z0-9_];", name) != 1)
                continue;
            size_t n = strlen(name);
            bool growable_name = strcmp(name, "sky_options") == 0 ||
                                 (n > 5 && strcmp(name + n - 5, "_opts") == 0) ||
                                 (n > 6 && strcmp(name + n - 6, "_stats") == 0);
            if (!growable_name)
                continue;
            bool listed = false;
            for (size_t i = 0; i < sizeof growable / sizeof growable[0]; i++)
                listed |= strcmp(growable[i].name, name) == 0;
            if (!listed) {
                printf("%s: %s has no reserved_ or is not in test_abi.c's table\n", headers[h],
                       name);
                missing++;
            }
        }
        fclose(f);
    }
    assert_int_equal(missing, 0);
}

/* A zero-initialised struct is the defaults, reserved_ included: an options struct of an
 * older header (whose last members are still reserved_ here) is what a new program passes
 * when it sets none of the newer members. Shown on the two a program always uses. */
static void test_zeroed_reserved_is_the_default(void **state)
{
    (void)state;
    sky_options o = {.mode = SKY_MODE_SYNC};
    for (size_t i = 0; i < sizeof o.reserved_ / sizeof o.reserved_[0]; i++)
        assert_int_equal(o.reserved_[i], 0);
    sky_t *sky = NULL;
    assert_int_equal(sky_open(&o, &sky), SKY_OK);
    sky_stats st;
    memset(&st, 0xa5, sizeof st);
    assert_int_equal(sky_stats_get(sky, &st), SKY_OK);
    for (size_t i = 0; i < sizeof st.reserved_ / sizeof st.reserved_[0]; i++)
        assert_int_equal(st.reserved_[i], 0); /* the library hands out zero, not stale bytes */
    sky_close(sky);
}

static void test_versions_agree(void **state)
{
    (void)state;
    char v[32];
    snprintf(v, sizeof v, "%d.%d.%d", SKYLOG_VERSION_MAJOR, SKYLOG_VERSION_MINOR,
             SKYLOG_VERSION_PATCH);
    assert_string_equal(v, SKYLOG_VERSION);
    /* one number for users: the release's major is the ABI (the file libskylog.so.1.0.0) */
    assert_int_equal(SKYLOG_VERSION_MAJOR, SKYLOG_ABI_VERSION);
    assert_string_equal(sky_version(), SKYLOG_VERSION);
    assert_int_equal(sky_abi_version(), SKYLOG_ABI_VERSION);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_struct_sizes),
        cmocka_unit_test(test_every_options_and_stats_struct_is_listed),
        cmocka_unit_test(test_zeroed_reserved_is_the_default),
        cmocka_unit_test(test_versions_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * sky_aws_tool.c - test-only driver of the AWS layer for the Python integration tests.
 *
 *   sky_aws_tool creds [options] [--at EPOCH_S]...   resolve credentials (at each fake time)
 *   sky_aws_tool call  [options]                     one or more awsJson/awsQuery calls
 *   sky_aws_tool limiter < events                     adaptive mode's rate limiter on its own:
 *       each stdin line "SECONDS acquire|ok|throttle" drives it at that fake time; each prints
 *       {"t","event","wait","fill_rate","max_capacity","capacity","measured","enabled"}
 *
 * It prints one JSON object per line. Secrets are never printed: only their SHA-256, so tests can
 * check values while asserting that a canary secret never shows up in any output.
 *
 * Options: --profile P --credentials-file F --config-file F --region R --sts URL --imds URL
 *   --container URL --no-env --no-files --no-web-identity --no-container --no-imds
 *   --margin-ms N --akid A --secret S --token T
 *   call: --endpoint URL --service S --target T --json-version V --query --body B --gzip --calls N
 *         --max-attempts N --base-ms N --max-backoff-ms N --quota N --random R --timeout-ms N
 *         --ca-bundle PEM --trace (masked HTTP trace on stderr) --deadline-ms N (fake monotonic clock: injected sleeps advance it)
 *         --cancel-after N (the retry's cancelled() hook answers true after N sleeps)
 *         --retry-mode standard|adaptive|legacy
 *         --real-monotonic (injected sleeps do not advance the retry's clock: a program that
 *         injects only a sleeper)
 *         --sleep-clock (only injected sleeps advance the retry's clock: where a --deadline-ms
 *         falls among the attempts does not depend on how fast the machine runs them)
 *   creds prints also the provider's counters ("creds_stats", sky_aws_creds_stats_get())
 *   call prints also rate_limited_ms and the client's retry stats ("stats")
 *   call prints, besides the error: unknown_outcomes, persistent, failure (sky_http_failure)
 */
#include "aws/retry.h"

#include <jansson.h>
#include <skylog/aws.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int64_t fake_now_ns;
static int64_t fake_clock(void *user)
{
    (void)user;
    return fake_now_ns ? fake_now_ns : sky_now_ns();
}

static json_t *sleeps;
static int64_t slept_ns; /* injected sleeps advance the fake monotonic clock instead */
static void record_sleep(void *user, int64_t ns)
{
    (void)user;
    json_array_append_new(sleeps, json_real((double)ns / 1e6));
    slept_ns += ns;
}
static void trace_line(void *user, const char *line)
{
    (void)user;
    fprintf(stderr, "trace: %s\n", line);
}

static int64_t clock_base_ns; /* --sleep-clock: the clock's start; it moves by slept_ns only */
static int64_t fake_monotonic(void *user)
{
    (void)user;
    return (clock_base_ns ? clock_base_ns : sky_monotonic_ns()) + slept_ns;
}
static double fixed_random = 0.5;
static bool real_monotonic;
static double get_random(void *user)
{
    (void)user;
    return fixed_random;
}

/* --cancel-after N: the cancelled() hook says stop once N sleeps were recorded (a Ctrl-C
 * during the Nth backoff wait) */
static int cancel_after = -1;
static bool cancelled_hook(void *user)
{
    (void)user;
    return cancel_after >= 0 && json_array_size(sleeps) >= (size_t)cancel_after;
}

static json_t *hash_or_null(const char *s)
{
    if (!s)
        return json_null();
    char hex[65];
    sky_aws_sha256_hex(s, strlen(s), hex);
    return json_string(hex);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: sky_aws_tool creds|call [options]\n");
        return 2;
    }
    const char *cmd = argv[1];
    sky_aws_creds_opts co = {.now_ns = fake_clock};
    sky_aws_client_opts cl = {.service = "logs"};
    const char *target = NULL, *body = "{}", *json_version = NULL;
    bool query = false, gzip = false;
    int calls = 1;
    int64_t deadline_ms = 0;
    json_t *ats = json_array();
    sleeps = json_array();
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name) (strcmp(a, name) == 0 && v && ++i)
        if (OPT("--profile")) co.profile = cl.profile = v;
        else if (OPT("--credentials-file")) co.credentials_file = v;
        else if (OPT("--config-file")) co.config_file = cl.config_file = v;
        else if (OPT("--region")) co.region = cl.region = v;
        else if (OPT("--sts")) co.sts_endpoint = v;
        else if (OPT("--imds")) co.imds_endpoint = v;
        else if (OPT("--container")) co.container_endpoint = v;
        else if (OPT("--margin-ms")) co.refresh_margin_ms = atoll(v);
        else if (OPT("--akid")) co.access_key_id = v;
        else if (OPT("--secret")) co.secret_access_key = v;
        else if (OPT("--token")) co.session_token = v;
        else if (OPT("--at")) json_array_append_new(ats, json_integer(atoll(v)));
        else if (OPT("--endpoint")) cl.endpoint = v;
        else if (OPT("--service")) cl.service = v;
        else if (OPT("--target")) target = v;
        else if (OPT("--body")) body = v;
        else if (OPT("--json-version")) json_version = v;
        else if (OPT("--calls")) calls = atoi(v);
        else if (OPT("--max-attempts")) cl.retry.max_attempts = atoi(v);
        else if (OPT("--base-ms")) cl.retry.base_ms = atoll(v);
        else if (OPT("--max-backoff-ms")) cl.retry.max_backoff_ms = atoll(v);
        else if (OPT("--quota")) cl.retry.quota = atoi(v);
        else if (OPT("--retry-mode"))
            cl.retry.mode = strcmp(v, "adaptive") == 0 ? SKY_AWS_RETRY_ADAPTIVE
                            : strcmp(v, "legacy") == 0 ? SKY_AWS_RETRY_LEGACY
                                                       : SKY_AWS_RETRY_STANDARD;
        else if (OPT("--random")) fixed_random = atof(v);
        else if (OPT("--ca-bundle")) cl.http.ca_bundle = v;
        else if (OPT("--cancel-after")) cancel_after = atoi(v);
        else if (OPT("--deadline-ms")) deadline_ms = atoll(v);
        else if (OPT("--timeout-ms")) cl.http.timeout_ms = co.metadata_timeout_ms = atoll(v);
        else if (strcmp(a, "--query") == 0) query = true;
        else if (strcmp(a, "--real-monotonic") == 0) real_monotonic = true;
        else if (strcmp(a, "--sleep-clock") == 0) clock_base_ns = sky_monotonic_ns();
        else if (strcmp(a, "--trace") == 0) cl.http.trace = trace_line;
        else if (strcmp(a, "--gzip") == 0) gzip = true;
        else if (strcmp(a, "--no-env") == 0) co.no_env = true;
        else if (strcmp(a, "--no-files") == 0) co.no_files = true;
        else if (strcmp(a, "--no-web-identity") == 0) co.no_web_identity = true;
        else if (strcmp(a, "--no-container") == 0) co.no_container = true;
        else if (strcmp(a, "--no-imds") == 0) co.no_imds = true;
        else {
            fprintf(stderr, "unknown option %s\n", a);
            return 2;
        }
#undef OPT
    }
    co.fetch_retry = (sky_aws_retry_opts){.sleep_ns = record_sleep, .random = get_random};
    sky_aws_creds *creds;
    if (sky_aws_creds_new(&co, &creds) != SKY_OK) {
        fprintf(stderr, "sky_aws_creds_new failed\n");
        return 2;
    }
    int rc = 0;
    if (strcmp(cmd, "creds") == 0) {
        if (json_array_size(ats) == 0)
            json_array_append_new(ats, json_integer(0));
        for (size_t i = 0; i < json_array_size(ats); i++) {
            fake_now_ns = json_integer_value(json_array_get(ats, i)) * 1000000000LL;
            sky_aws_credentials c;
            char err[512];
            sky_status st = sky_aws_creds_get(creds, &c, err, sizeof err);
            json_t *o = json_pack("{s:s,s:s,s:O}", "status", sky_strerror(st), "source",
                                  sky_aws_creds_source(creds), "sleeps_ms", sleeps);
            if (st == SKY_OK) {
                json_object_set_new(o, "akid", json_string(c.access_key_id));
                json_object_set_new(o, "secret_sha256", hash_or_null(c.secret_access_key));
                json_object_set_new(o, "token_sha256", hash_or_null(c.session_token));
                json_object_set_new(o, "expiration",
                                    json_integer(c.expiration_ns / 1000000000LL));
                sky_aws_credentials_clear(&c);
            } else {
                json_object_set_new(o, "error", json_string(err));
                rc = 1;
            }
            sky_aws_creds_stats cs;
            sky_aws_creds_stats_get(creds, &cs);
            json_object_set_new(o, "creds_stats",
                                json_pack("{s:I,s:I,s:I,s:I,s:I,s:s,s:I,s:I}", "refreshes",
                                          (json_int_t)cs.refreshes, "failures",
                                          (json_int_t)cs.failures, "stale_used",
                                          (json_int_t)cs.stale_used, "retries",
                                          (json_int_t)cs.retries, "throttles",
                                          (json_int_t)cs.throttles, "last_error", cs.last_error,
                                          "expiry_extensions",
                                          (json_int_t)cs.expiry_extensions, "near_expiry",
                                          (json_int_t)cs.near_expiry));
            char *s = json_dumps(o, JSON_COMPACT);
            puts(s);
            free(s);
            json_decref(o);
        }
    } else if (strcmp(cmd, "call") == 0) {
        cl.creds = creds;
        cl.retry.sleep_ns = record_sleep;
        cl.retry.random = get_random;
        cl.retry.monotonic_ns = real_monotonic ? NULL : fake_monotonic;
        cl.retry.cancelled = cancelled_hook;
        sky_aws_client *client;
        char err[256];
        sky_status st = sky_aws_client_new(&cl, &client, err, sizeof err);
        if (st != SKY_OK) {
            printf("{\"status\":\"%s\",\"error\":\"%s\"}\n", sky_strerror(st), err);
            rc = 1;
        }
        for (int k = 0; st == SKY_OK && k < calls; k++) {
            json_array_clear(sleeps);
            sky_aws_call call = {.query = query, .target = target, .json_version = json_version,
                                 .body = body,
                                 .body_len = strlen(body), .gzip = gzip,
                                 .deadline_ns = deadline_ms ? fake_monotonic(NULL) +
                                                                  deadline_ms * 1000000
                                                            : 0};
            sky_http_response resp;
            sky_aws_error e;
            sky_status cst = sky_aws_client_call(client, &call, &resp, &e);
            json_t *o = json_pack("{s:s,s:i,s:i,s:s,s:s,s:s,s:b,s:b,s:O}", "status",
                                  sky_strerror(cst), "attempts", e.attempts, "http_status",
                                  (json_int_t)e.http_status, "code", e.code, "message", e.message,
                                  "request_id", e.request_id, "retryable", e.retryable,
                                  "throttling", e.throttling, "sleeps_ms", sleeps);
            static const char *const failures[] = {"answered",   "not_resolved", "not_connected",
                                                   "tls_failed", "cert_failed",  "incomplete",
                                                   "no_answer"};
            json_object_set_new(o, "unknown_outcomes", json_integer(e.unknown_outcomes));
            json_object_set_new(o, "persistent", json_boolean(e.persistent));
            json_object_set_new(o, "rate_limited_ms", json_real((double)e.rate_limited_ns / 1e6));
            sky_aws_retry_stats rs;
            sky_aws_client_retry_stats(client, &rs);
            static const char *const modes[] = {"default", "standard", "adaptive", "legacy"};
            json_object_set_new(
                o, "stats",
                json_pack("{s:s,s:i,s:I,s:I,s:I,s:I,s:i}", "mode",
                          (unsigned)rs.mode < 4 ? modes[rs.mode] : "?", "max_attempts",
                          rs.max_attempts, "retries", (json_int_t)rs.retries, "throttles",
                          (json_int_t)rs.throttles, "quota_refusals",
                          (json_int_t)rs.quota_refusals, "rate_limited",
                          (json_int_t)rs.rate_limited, "quota_available", rs.quota_available));
            json_object_set_new(o, "failure", json_string((unsigned)e.failure < 7
                                                              ? failures[e.failure]
                                                              : "?"));
            if (cst == SKY_OK) {
                json_object_set_new(o, "body", json_stringn(resp.body, resp.body_len));
                sky_http_response_free(&resp);
            } else {
                rc = 1;
            }
            char *s = json_dumps(o, JSON_COMPACT);
            puts(s);
            free(s);
            json_decref(o);
        }
        sky_aws_client_free(client);
    } else if (strcmp(cmd, "limiter") == 0) {
        sky__rate_limiter rl;
        char line[256];
        bool first = true;
        while (fgets(line, sizeof line, stdin)) {
            double t;
            char ev[32];
            if (sscanf(line, "%lf %31s", &t, ev) != 2)
                continue;
            if (first)
                sky__rl_init(&rl, t);
            first = false;
            double wait = 0;
            if (strcmp(ev, "acquire") == 0)
                wait = sky__rl_acquire(&rl, t);
            else
                sky__rl_update(&rl, t, strcmp(ev, "throttle") == 0);
            json_t *o = json_pack("{s:f,s:s,s:f,s:f,s:f,s:f,s:f,s:b}", "t", t, "event", ev,
                                  "wait", wait, "fill_rate", rl.fill_rate, "max_capacity",
                                  rl.max_capacity, "capacity", rl.capacity, "measured",
                                  rl.measured, "enabled", rl.enabled);
            char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
            puts(s);
            free(s);
            json_decref(o);
        }
    } else {
        fprintf(stderr, "unknown command %s\n", cmd);
        rc = 2;
    }
    sky_aws_creds_free(creds);
    json_decref(ats);
    json_decref(sleeps);
    return rc;
}

/*
 * common.h - what the AWS-facing commands (ship, tail, groups, streams) share: the global
 * options --endpoint, --region, --profile and --ca-bundle, a service client built from them, JSON calls,
 * and time arguments ("10m", "2h", ISO-8601, Unix milliseconds); also how every command stops on
 * Ctrl-C, and what the CloudWatch metric commands (metrics, alarm) check alike.
 * The AWS environment variables and config files work as in the AWS CLI, because the client
 * resolves region, endpoint and credentials through the AWS layer's standard chain.
 */
#ifndef SKY_CLI_COMMON_H
#define SKY_CLI_COMMON_H

#include <skylog/aws.h>
#include <skylog/cloudwatch.h>

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>

typedef struct sky__aws_cli_opts {
    const char *endpoint;
    const char *region;
    const char *profile;
    const char *ca_bundle;
    /* set by the command's signal handler: ends the client's backoff waits (Ctrl-C) */
    volatile sig_atomic_t *stop;
} sky__aws_cli_opts;

/* getopt_long rows for the global options; their codes. */
#define SKY__OPT_ENDPOINT 1001
#define SKY__OPT_REGION 1002
#define SKY__OPT_PROFILE 1003
#define SKY__OPT_CA_BUNDLE 1004
#define SKY__AWS_LONG_OPTS                                                                         \
    {"endpoint", required_argument, NULL, SKY__OPT_ENDPOINT},                                      \
        {"region", required_argument, NULL, SKY__OPT_REGION},                                      \
        {"profile", required_argument, NULL, SKY__OPT_PROFILE},                                    \
        {"ca-bundle", required_argument, NULL, SKY__OPT_CA_BUNDLE}
/* The endpoint variable is the service's own (src/aws/endpoint.c): metrics and alarms talk to
 * "monitoring", whose variable is AWS_ENDPOINT_URL_CLOUDWATCH, not the Logs one. */
#define SKY__AWS_OPTS_HELP SKY__AWS_OPTS_HELP_FOR("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS")
#define SKY__AWS_OPTS_HELP_METRICS SKY__AWS_OPTS_HELP_FOR("AWS_ENDPOINT_URL_CLOUDWATCH")
/* Indented and aligned as every command's own options: descriptions at column 24 (checked
 * for every --help by tests/integration/test_cli_docs.py). */
#define SKY__AWS_OPTS_HELP_FOR(service_var)                                                        \
    "      --endpoint URL    service endpoint (default: " service_var ",\n"                        \
    "                        AWS_ENDPOINT_URL, the profile's services section and\n"               \
    "                        endpoint_url in the config file, else AWS for the region)\n"          \
    "      --region REGION   AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, config file)\n"  \
    "      --profile NAME    profile in ~/.aws/config and ~/.aws/credentials\n"                    \
    "                        (default: AWS_PROFILE)\n"                                             \
    "      --ca-bundle FILE  PEM file of the CAs to trust for https (default: AWS_CA_BUNDLE,\n"    \
    "                        ca_bundle in the config file, CURL_CA_BUNDLE, SSL_CERT_FILE)\n"

/* Handles one of the global options; false if `c` is not one. */
bool sky__aws_cli_opt(sky__aws_cli_opts *o, int c, const char *arg);

/* The region a command signs with: --region, else AWS_REGION, AWS_DEFAULT_REGION or the
 * profile's; with none, us-east-1 when an endpoint is configured (--endpoint, the service's
 * AWS_ENDPOINT_URL_* variable or AWS_ENDPOINT_URL: skylog serve needs no real region), else
 * NULL after printing "skylog <cmd>: no AWS region: pass --region REGION, ...". `buf` (cap
 * bytes) may hold the answer. */
const char *sky__aws_cli_region(const sky__aws_cli_opts *o, const char *service,
                                const char *cmd, char *buf, size_t cap);

/* A client for `service` ("logs"); prints a clear error and returns NULL on failure. */
sky_aws_client *sky__aws_cli_client(const sky__aws_cli_opts *o, const char *service,
                                    const char *cmd);

/* Calls Logs_20140328.<op> with a JSON body; returns the parsed answer, or NULL after printing
 * "skylog <cmd>: <op>: <code>: <message>" to stderr. */
json_t *sky__logs_call(sky_aws_client *c, const char *cmd, const char *op, json_t *body);
/* The same without printing: NULL with *e filled (e->code, e->message, e->status). */
json_t *sky__logs_call_err(sky_aws_client *c, const char *op, json_t *body, sky_aws_error *e);

/* The same for CloudWatch metrics and alarms (sky_cloudwatch_call: awsJson1.0, service
 * "monitoring"). */
json_t *sky__cw_call(sky_aws_client *c, const char *cmd, const char *op, json_t *body);

/* Parses "10m", "90s", "2h", "3d", "1w" (ago), an ISO-8601 time, or Unix milliseconds into
 * Unix ms. False if it is none of those. */
bool sky__parse_when(const char *s, int64_t now_ms, int64_t *out_ms);
/* sky__parse_when for the value of `flag`, or false after the usage error every command
 * prints for it: "skylog <cmd>[ <sub>]: --since: cannot read the time 'x': expected ..." */
bool sky__cli_when(const char *cmd, const char *sub, const char *flag, const char *s,
                   int64_t now_ms, int64_t *out_ms);

/* Formats Unix ms as "2025-06-28T12:34:56.789Z" into out[25]. */
void sky__fmt_ms(int64_t ms, char out[25]);

/* Ctrl-C and SIGTERM ask a command to stop: sky__cli_catch_stop() installs one handler for
 * both, without SA_RESTART so a blocked read returns EINTR and the command notices at once.
 * The handler only stores lock-free atomics, so the state may be read from any thread. It also
 * unblocks both in the calling thread (one sent while they were blocked is taken then).
 *   sky__cli_stopping()     true once a signal came
 *   sky__cli_stop_flag()    the same as a flag, for sky__aws_cli_opts.stop (backoff waits)
 *   sky__cli_stop_signal()  the first signal's number, 0 before any
 *   sky__cli_stop_count()   how many signals came (a second one may mean "stop now")
 *   sky__cli_stop_wait(ms)  sleeps until a signal comes, sky__cli_stop_poke() is called or ms
 *                           pass (a watcher that would otherwise poll the flag) */
void sky__cli_catch_stop(void);
bool sky__cli_stopping(void);
volatile sig_atomic_t *sky__cli_stop_flag(void);
int sky__cli_stop_signal(void);
int sky__cli_stop_count(void);
void sky__cli_stop_wait(int64_t timeout_ms);
void sky__cli_stop_poke(void);
/* Waits until fd is readable (or at its end, or in error: the read says) or a signal asked to
 * stop: false then. No signal is lost between the check and the wait (ppoll takes them
 * only while it waits), so a read after it does not block on a FIFO or pipe whose writer
 * hangs. For a descriptor read directly (no stdio buffer in between). */
bool sky__cli_wait_readable(int fd);
/* "SIGINT", "SIGTERM" ("a signal" for another number). */
const char *sky__cli_signal_name(int sig);
/* After a signal: says "skylog <cmd>: interrupted by SIGINT" on stderr and returns 128+N, the
 * exit status of an interrupted command (docs/CLI.md); 0 before any. A command calls it where
 * it stops, instead of printing what it gathered: a table or verdict made of part of the pages
 * would look complete. */
int sky__cli_interrupted(const char *cmd);

/* When `skylog ship` gives delivery up (docs/CLI.md, "When skylog ship gives up"): the sink
 * `st` describes has failed `give_up_after` attempts in a row (--give-up-after), or, when it is
 * 0, the default rule: 12 attempts in a row, the first of them 10 s or more before now_mono_ms
 * (sky_monotonic_ns() / 1000000). */
bool sky__cli_delivery_stalled(const sky_cwl_stats *st, uint64_t give_up_after,
                               int64_t now_mono_ms);

/* True when the CloudWatch sink `st` describes has events queued and waits out a backoff
 * that ends after deadline_mono_ms (sky_monotonic_ns() / 1000000): nothing can be delivered
 * before then, so a command bounded by that deadline (ship after Ctrl-C) need not wait. */
bool sky__cli_retry_too_late(const sky_cwl_stats *st, int64_t deadline_mono_ms);

/* Prints "skylog <cmd>[ <sub>]: <fmt with what> (see skylog <cmd> --help)" to stderr and
 * returns SKY_EXIT_USAGE: the usage error of a command with subcommands. */
int sky__cli_sub_usage(const char *cmd, const char *sub, const char *fmt, const char *what);

/* CloudWatch statistics, as the metrics and alarm commands check them before sending:
 * SampleCount, Average, Sum, Minimum or Maximum; a percentile p0..p100 ("p99", "p99.9");
 * a name (namespace, metric, alarm) of 1 to 255 characters. */
bool sky__cw_stat_basic(const char *s);
bool sky__cw_stat_percentile(const char *s);
bool sky__cw_name_ok(const char *s);
/* Appends "NAME=VALUE" (or a bare "NAME" when `bare_ok`: metrics list matches any value) to
 * `dims` as {"Name","Value"}; false, appending nothing, unless the name has 1 to 255
 * characters and the value 1 to 1024, as CloudWatch requires. */
bool sky__cw_dimension_add(json_t *dims, const char *arg, bool bare_ok);

#endif

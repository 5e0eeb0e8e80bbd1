/*
 * cmd_tail.c - `skylog tail`, `skylog groups`, `skylog streams`: reading CloudWatch Logs back.
 *
 * tail pages through FilterLogEvents (every page, until nextToken runs out); --follow then
 * polls, asking again from the newest timestamp seen and skipping the event ids it already
 * printed at that timestamp, so nothing is shown twice and nothing between polls is missed.
 * Output: pretty (time, stream, and a skylog JSON event shown as level/logger/message/fields),
 * json (one object per event, for scripts) or raw (the message only).
 */
#include "cli.h"
#include "common.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char sky__tail_help[] =
    "usage: skylog tail --group GROUP [options]\n"
    "\n"
    "Prints the events of a log group, oldest first; --follow keeps printing new ones.\n"
    "\n"
    "options:\n"
    "  -g, --group GROUP     log group\n"
    "  -s, --stream NAME     only this stream (repeatable)\n"
    "      --since WHEN      start: 10m, 2h, 3d (ago), ISO-8601 or Unix ms (default 10m)\n"
    "      --until WHEN      end (default: now)\n"
    "  -f, --follow          keep polling for new events (Ctrl-C to stop)\n"
    "      --filter PATTERN  CloudWatch filter pattern, e.g. ERROR or '{ $.ms > 100 }'\n"
    "  -o, --output FORMAT   pretty (default on a terminal), json, raw\n"
    "  -n, --limit N         stop after N events\n" SKY__AWS_OPTS_HELP
    "\n"
    "examples:\n"
    "  skylog tail --group /app/prod --since 1h --filter '{ $.level = \"ERROR\" }'\n"
    "  skylog tail --group /app/prod --follow --output json | jq .message\n";

const char sky__groups_help[] =
    "usage: skylog groups [--prefix PREFIX] [--json]\n"
    "\n"
    "Lists log groups: name, retention, stored bytes.\n"
    "\n"
    "options:\n"
    "      --prefix PREFIX   only groups whose name starts with PREFIX\n"
    "      --json            one JSON object per group\n" SKY__AWS_OPTS_HELP
    "\n"
    "example:\n"
    "  skylog groups --prefix /app/\n";

const char sky__streams_help[] =
    "usage: skylog streams --group GROUP [--prefix PREFIX] [--json]\n"
    "\n"
    "Lists the streams of a log group, most recently written first.\n"
    "\n"
    "options:\n"
    "  -g, --group GROUP     log group\n"
    "      --prefix PREFIX   only streams whose name starts with PREFIX\n"
    "      --json            one JSON object per stream\n" SKY__AWS_OPTS_HELP
    "\n"
    "example:\n"
    "  skylog streams --group /app/prod\n";

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

enum { OUT_PRETTY, OUT_JSON, OUT_RAW };

static void print_value(json_t *v)
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strpbrk(s, " \"=\t\n") || !*s) {
            char *q = json_dumps(v, JSON_ENCODE_ANY);
            fputs(q ? q : "\"\"", stdout);
            free(q);
        } else {
            fputs(s, stdout);
        }
    } else {
        char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        fputs(t ? t : "null", stdout);
        free(t);
    }
}

static void print_event(json_t *ev, int output)
{
    const char *msg = json_string_value(json_object_get(ev, "message"));
    const char *stream = json_string_value(json_object_get(ev, "logStreamName"));
    json_int_t ts = json_integer_value(json_object_get(ev, "timestamp"));
    if (!msg)
        msg = "";
    if (output == OUT_RAW) {
        puts(msg);
        return;
    }
    if (output == OUT_JSON) {
        json_t *o = json_pack("{s:I,s:s,s:s,s:s?}", "timestamp", ts, "stream", stream ? stream : "",
                              "message", msg, "eventId",
                              json_string_value(json_object_get(ev, "eventId")));
        char *t = o ? json_dumps(o, JSON_COMPACT) : NULL;
        if (t)
            puts(t);
        free(t);
        json_decref(o);
        return;
    }
    char when[25];
    sky__fmt_ms(ts, when);
    printf("%s %s ", when, stream ? stream : "");
    json_t *j = msg[0] == '{' ? json_loads(msg, 0, NULL) : NULL;
    if (json_is_object(j) && json_object_get(j, "message")) {
        /* a skylog event: level, logger and message first, then the fields */
        const char *lv = json_string_value(json_object_get(j, "level"));
        const char *lg = json_string_value(json_object_get(j, "logger"));
        const char *m = json_string_value(json_object_get(j, "message"));
        printf("%-5s [%s] %s", lv ? lv : "-", lg ? lg : "", m ? m : "");
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v)
        {
            static const char *const skip[] = {"timestamp", "level", "logger", "message",
                                               "module", "func", "line"};
            bool standard = false;
            for (size_t i = 0; i < 7; i++)
                standard |= strcmp(k, skip[i]) == 0;
            if (standard)
                continue;
            printf(" %s=", k);
            print_value(v);
        }
        putchar('\n');
    } else {
        puts(msg);
    }
    json_decref(j);
}

enum { O_SINCE = 2100, O_UNTIL, O_FILTER, O_PREFIX, O_JSON };

int sky__cmd_tail(int argc, char **argv)
{
    if (sky__cli_wants_help(argc, argv)) {
        fputs(sky__tail_help, stdout);
        return SKY_EXIT_OK;
    }
    static const struct option opts[] = {
        {"group", required_argument, NULL, 'g'},  {"stream", required_argument, NULL, 's'},
        {"since", required_argument, NULL, O_SINCE}, {"until", required_argument, NULL, O_UNTIL},
        {"follow", no_argument, NULL, 'f'},        {"filter", required_argument, NULL, O_FILTER},
        {"output", required_argument, NULL, 'o'},  {"limit", required_argument, NULL, 'n'},
        SKY__AWS_LONG_OPTS,                        {NULL, 0, NULL, 0},
    };
    sky__aws_cli_opts aws = {0};
    const char *group = NULL, *filter = NULL, *since = "10m", *until = NULL;
    json_t *streams = json_array();
    bool follow = false;
    int output = isatty(STDOUT_FILENO) ? OUT_PRETTY : OUT_JSON;
    long long limit = -1;
    int rc = SKY_EXIT_USAGE;
    optind = 1;
    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, ":g:s:fo:n:", opts, NULL);
        if (c == -1)
            break;
        switch (c) {
        case 'g': group = optarg; break;
        case 's': json_array_append_new(streams, json_string(optarg)); break;
        case 'f': follow = true; break;
        case O_SINCE: since = optarg; break;
        case O_UNTIL: until = optarg; break;
        case O_FILTER: filter = optarg; break;
        case 'n': {
            char *end;
            limit = strtoll(optarg, &end, 10);
            if (*end || limit < 0) {
                fprintf(stderr, "skylog tail: --limit: '%s' is not a count\n", optarg);
                goto out;
            }
            break;
        }
        case 'o':
            if (strcmp(optarg, "pretty") == 0)
                output = OUT_PRETTY;
            else if (strcmp(optarg, "json") == 0)
                output = OUT_JSON;
            else if (strcmp(optarg, "raw") == 0)
                output = OUT_RAW;
            else {
                fprintf(stderr, "skylog tail: --output: expected pretty, json or raw, got '%s'\n",
                        optarg);
                goto out;
            }
            break;
        case ':':
            fprintf(stderr, "skylog tail: option '%s' needs a value\n", argv[optind - 1]);
            goto out;
        case '?':
            fprintf(stderr, "skylog tail: unknown option '%s' (see skylog tail --help)\n",
                    argv[optind - 1]);
            goto out;
        default:
            if (!sky__aws_cli_opt(&aws, c, optarg))
                goto out;
        }
    }
    if (!group || optind < argc) {
        fprintf(stderr, "skylog tail: %s (see skylog tail --help)\n",
                group ? "unexpected argument" : "--group is required");
        goto out;
    }
    int64_t now = sky_now_ns() / 1000000, start, end = 0;
    if (!sky__parse_when(since, now, &start) || (until && !sky__parse_when(until, now, &end))) {
        fprintf(stderr, "skylog tail: cannot read the time '%s' (use 10m, 2h, ISO-8601 or Unix ms)\n",
                until && !sky__parse_when(until, now, &end) ? until : since);
        goto out;
    }
    rc = SKY_EXIT_FAIL;
    aws.stop = &stop_requested;
    sky_aws_client *c = sky__aws_cli_client(&aws, "logs", "tail");
    if (!c)
        goto out;
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    long long printed = 0;
    json_t *seen_at_last = json_object(); /* event ids printed at the newest timestamp */
    int64_t newest = start;
    rc = SKY_EXIT_OK;
    while (!stop_requested) {
        const char *token = NULL;
        char *token_copy = NULL;
        do {
            json_t *req = json_pack("{s:s,s:I}", "logGroupName", group, "startTime",
                                    (json_int_t)newest);
            if (end)
                json_object_set_new(req, "endTime", json_integer(end));
            if (json_array_size(streams))
                json_object_set(req, "logStreamNames", streams);
            if (filter)
                json_object_set_new(req, "filterPattern", json_string(filter));
            if (token)
                json_object_set_new(req, "nextToken", json_string(token));
            json_t *resp = sky__logs_call(c, "tail", "FilterLogEvents", req);
            json_decref(req);
            free(token_copy);
            token_copy = NULL;
            token = NULL;
            if (!resp) {
                rc = SKY_EXIT_FAIL;
                break;
            }
            size_t i;
            json_t *ev;
            json_array_foreach(json_object_get(resp, "events"), i, ev)
            {
                json_int_t ts = json_integer_value(json_object_get(ev, "timestamp"));
                const char *id = json_string_value(json_object_get(ev, "eventId"));
                if (id && ts == newest && json_object_get(seen_at_last, id))
                    continue;
                if (ts > newest) {
                    newest = ts;
                    json_object_clear(seen_at_last);
                }
                if (id && ts == newest)
                    json_object_set_new(seen_at_last, id, json_true());
                print_event(ev, output);
                if (limit >= 0 && ++printed >= limit)
                    break;
            }
            const char *nt = json_string_value(json_object_get(resp, "nextToken"));
            if (nt && !(limit >= 0 && printed >= limit))
                token = token_copy = strdup(nt);
            json_decref(resp);
        } while (token && !stop_requested);
        free(token_copy);
        fflush(stdout);
        if (!follow || rc != SKY_EXIT_OK || (limit >= 0 && printed >= limit))
            break;
        for (int i = 0; i < 10 && !stop_requested; i++)
            usleep(100000);
    }
    json_decref(seen_at_last);
    sky_aws_client_free(c);
out:
    json_decref(streams);
    return rc;
}

static int list_cmd(int argc, char **argv, bool streams_cmd)
{
    const char *name = streams_cmd ? "streams" : "groups";
    if (sky__cli_wants_help(argc, argv)) {
        fputs(streams_cmd ? sky__streams_help : sky__groups_help, stdout);
        return SKY_EXIT_OK;
    }
    static const struct option opts[] = {
        {"group", required_argument, NULL, 'g'}, {"prefix", required_argument, NULL, O_PREFIX},
        {"json", no_argument, NULL, O_JSON},     SKY__AWS_LONG_OPTS,
        {NULL, 0, NULL, 0},
    };
    sky__aws_cli_opts aws = {0};
    const char *group = NULL, *prefix = NULL;
    bool as_json = false;
    optind = 1;
    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, ":g:", opts, NULL);
        if (c == -1)
            break;
        switch (c) {
        case 'g': group = optarg; break;
        case O_PREFIX: prefix = optarg; break;
        case O_JSON: as_json = true; break;
        case ':':
            fprintf(stderr, "skylog %s: option '%s' needs a value\n", name, argv[optind - 1]);
            return SKY_EXIT_USAGE;
        case '?':
            fprintf(stderr, "skylog %s: unknown option '%s' (see skylog %s --help)\n", name,
                    argv[optind - 1], name);
            return SKY_EXIT_USAGE;
        default:
            if (!sky__aws_cli_opt(&aws, c, optarg))
                return SKY_EXIT_USAGE;
        }
    }
    if ((streams_cmd && !group) || optind < argc) {
        fprintf(stderr, "skylog %s: %s (see skylog %s --help)\n", name,
                optind < argc ? "unexpected argument" : "--group is required", name);
        return SKY_EXIT_USAGE;
    }
    sky_aws_client *c = sky__aws_cli_client(&aws, "logs", name);
    if (!c)
        return SKY_EXIT_FAIL;
    int rc = SKY_EXIT_OK;
    char *token = NULL;
    do {
        json_t *req = json_object();
        if (streams_cmd) {
            json_object_set_new(req, "logGroupName", json_string(group));
            if (prefix)
                json_object_set_new(req, "logStreamNamePrefix", json_string(prefix));
            else {
                json_object_set_new(req, "orderBy", json_string("LastEventTime"));
                json_object_set_new(req, "descending", json_true());
            }
        } else if (prefix) {
            json_object_set_new(req, "logGroupNamePrefix", json_string(prefix));
        }
        if (token)
            json_object_set_new(req, "nextToken", json_string(token));
        free(token);
        token = NULL;
        json_t *resp = sky__logs_call(c, name, streams_cmd ? "DescribeLogStreams" : "DescribeLogGroups",
                                      req);
        json_decref(req);
        if (!resp) {
            rc = SKY_EXIT_FAIL;
            break;
        }
        size_t i;
        json_t *item;
        json_array_foreach(json_object_get(resp, streams_cmd ? "logStreams" : "logGroups"), i, item)
        {
            if (as_json) {
                char *t = json_dumps(item, JSON_COMPACT);
                puts(t ? t : "{}");
                free(t);
            } else if (streams_cmd) {
                char last[25] = "-";
                json_t *l = json_object_get(item, "lastEventTimestamp");
                if (json_is_integer(l))
                    sky__fmt_ms(json_integer_value(l), last);
                printf("%-60s last event %s\n",
                       json_string_value(json_object_get(item, "logStreamName")), last);
            } else {
                json_t *r = json_object_get(item, "retentionInDays");
                char ret[32] = "never expire";
                if (json_is_integer(r))
                    snprintf(ret, sizeof ret, "%lld days", (long long)json_integer_value(r));
                printf("%-60s retention %-14s %lld bytes\n",
                       json_string_value(json_object_get(item, "logGroupName")), ret,
                       (long long)json_integer_value(json_object_get(item, "storedBytes")));
            }
        }
        const char *nt = json_string_value(json_object_get(resp, "nextToken"));
        if (nt)
            token = strdup(nt);
        json_decref(resp);
    } while (token);
    free(token);
    sky_aws_client_free(c);
    return rc;
}

int sky__cmd_groups(int argc, char **argv) { return list_cmd(argc, argv, false); }
int sky__cmd_streams(int argc, char **argv) { return list_cmd(argc, argv, true); }

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
#include "safetext.h"

#include "util/buf.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char sky__tail_help[] =
    "usage: skylog tail [GROUP] [--group GROUP] [options]\n"
    "\n"
    "Prints the events of a log group, oldest first; --follow keeps printing new ones. Options\n"
    "follow `aws logs tail`: the group may be the first argument, --filter-pattern and --format\n"
    "are accepted, and output to a pipe is text lines 'TIMESTAMP STREAM MESSAGE' as aws prints\n"
    "them. Events the CloudWatch sink split into '[part i/n] ' pieces are joined back into one.\n"
    "\n"
    "options:\n"
    "  -g, --group GROUP     log group\n"
    "  -s, --stream NAME     only this stream (repeatable)\n"
    "      --since WHEN      start: 10m, 2h, 3d (ago), ISO-8601 or Unix ms (default 10m)\n"
    "      --until WHEN      end (default: now)\n"
    "  -f, --follow          keep polling for new events (Ctrl-C to stop)\n"
    "      --filter PATTERN  CloudWatch filter pattern, e.g. ERROR or '{ $.ms > 100 }'\n"
    "      --filter-pattern PATTERN\n"
    "                        the same, as aws logs tail names it\n"
    "  -o, --output FORMAT   pretty (default on a terminal), text (default otherwise: aws's\n"
    "                        'detailed'), short (time and message), json (one object a line),\n"
    "                        raw (the message only)\n"
    "      --format FORMAT   the same, as aws logs tail names it (detailed means text)\n"
    "      --color WHEN      auto (default: on a terminal, unless NO_COLOR is set), always, never\n"
    "      --no-reassemble   print split events as their '[part i/n] ' pieces\n"
    "  -n, --limit N         stop after N events\n" SKY__AWS_OPTS_HELP
    "\n"
    "examples:\n"
    "  skylog tail /app/prod --since 1h --filter-pattern '{ $.level = \"ERROR\" }'\n"
    "  skylog tail --group /app/prod --follow --output json | jq .message\n"
    "\n"
    "exit status: 0 done (or stopped by Ctrl-C while following), 1 the service failed, 2 usage\n"
    "error, 130/143 interrupted by SIGINT/SIGTERM before the end (without --follow).\n";

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
    "  skylog groups --prefix /app/\n"
    "\n"
    "exit status: 0 listed, 1 the service failed, 2 usage error, 130/143 interrupted by\n"
    "SIGINT/SIGTERM (the list printed so far is incomplete).\n";

const char sky__streams_help[] =
    "usage: skylog streams [GROUP] [--group GROUP] [--prefix PREFIX] [--json]\n"
    "\n"
    "Lists the streams of a log group, most recently written first.\n"
    "\n"
    "options:\n"
    "  -g, --group GROUP     log group\n"
    "      --prefix PREFIX   only streams whose name starts with PREFIX\n"
    "      --json            one JSON object per stream\n" SKY__AWS_OPTS_HELP
    "\n"
    "examples:\n"
    "  skylog streams /app/prod\n"
    "  skylog streams --group /app/prod --prefix web- --json\n"
    "\n"
    "exit status: 0 listed, 1 the service failed, 2 usage error, 130/143 interrupted by\n"
    "SIGINT/SIGTERM (the list printed so far is incomplete).\n";

enum { OUT_PRETTY, OUT_TEXT, OUT_SHORT, OUT_JSON, OUT_RAW };

#define C_RESET "\x1b[0m"
#define C_DIM "\x1b[2m"
#define C_STREAM "\x1b[36m"
#define C_KEY "\x1b[36m"

typedef struct tail_out {
    int format;
    bool color;
    bool raw_exact;   /* raw: the message's bytes as they are (stdout is not a terminal) */
    bool with_date;   /* pretty: the range spans more than one UTC day */
    int64_t first_day; /* UTC day of --since */
} tail_out;

/* The same colours as the console sink's pretty output (src/encode/pretty.c). */
static const char *level_colour(const char *lv)
{
    static const char *const names[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "CRITICAL"};
    static const char *const colours[] = {"\x1b[2m", "\x1b[34m", "\x1b[32m",
                                          "\x1b[33m", "\x1b[31m", "\x1b[1;41;97m"};
    for (size_t i = 0; i < 6; i++)
        if (strcmp(lv, names[i]) == 0)
            return colours[i];
    return "";
}

/* A field's value as logfmt shows it: a plain word bare, anything else as JSON. */
static void print_value(json_t *v)
{
    const char *s = json_string_value(v);
    bool bare = s && *s;
    for (const unsigned char *p = (const unsigned char *)s; bare && *p; p++)
        bare = *p > ' ' && *p != '"' && *p != '=' && *p != 0x7f;
    if (bare) {
        sky__safe_put(stdout, s);
        return;
    }
    if (!sky__json_write(stdout, v, JSON_ENCODE_ANY | (s ? 0 : JSON_COMPACT)))
        fputs(s ? "\"\"" : "null", stdout);
}

static void print_event(json_t *ev, const char *msg, tail_out *o)
{
    const char *stream = json_string_value(json_object_get(ev, "logStreamName"));
    json_int_t ts = json_integer_value(json_object_get(ev, "timestamp"));
    if (!msg)
        msg = "";
    if (!stream)
        stream = "";
    char when[25];
    sky__fmt_ms(ts, when); /* 2025-06-28T12:34:56.789Z */
    switch (o->format) {
    case OUT_RAW: /* the bytes for a program; for a terminal, made safe like every format */
        if (o->raw_exact)
            puts(msg);
        else
            sky__safe_printf(stdout, "%s\n", msg);
        return;
    case OUT_TEXT: /* aws logs tail --format detailed */
        sky__safe_printf(stdout, "%.19s.%.3s000+00:00 %s %s\n", when, when + 20, stream, msg);
        return;
    case OUT_SHORT: sky__safe_printf(stdout, "%.19s %s\n", when, msg); return;
    case OUT_JSON: {
        json_t *j = json_pack("{s:I,s:s,s:s,s:s?}", "timestamp", ts, "stream", stream, "message",
                              msg, "eventId", json_string_value(json_object_get(ev, "eventId")));
        if (j)
            sky__json_put(stdout, j, JSON_COMPACT);
        json_decref(j);
        return;
    }
    default: break;
    }
    if (!o->with_date && ts / 86400000 != o->first_day)
        o->with_date = true; /* following past midnight: dates from here on */
    if (o->color)
        fputs(C_DIM, stdout);
    if (o->with_date)
        printf("%.10s %.12s", when, when + 11);
    else
        printf("%.12s", when + 11);
    fputs(o->color ? C_RESET " " C_STREAM : " ", stdout);
    sky__safe_put(stdout, stream);
    fputs(o->color ? C_RESET " " : " ", stdout);
    json_t *j = msg[0] == '{' ? json_loads(msg, 0, NULL) : NULL;
    if (json_is_object(j) && json_object_get(j, "message")) {
        /* a skylog event: level, logger and message first, then the fields */
        const char *lv = json_string_value(json_object_get(j, "level"));
        const char *lg = json_string_value(json_object_get(j, "logger"));
        const char *m = json_string_value(json_object_get(j, "message"));
        lv = lv ? lv : "-";
        if (o->color)
            fputs(level_colour(lv), stdout);
        size_t lw = sky__safe_put(stdout, lv);
        if (o->color)
            fputs(C_RESET, stdout);
        printf("%*s [", (int)(lw < 8 ? 8 - lw : 0), ""); /* CRITICAL is 8 */
        sky__safe_put(stdout, lg && *lg ? lg : "root");
        fputs("] ", stdout);
        sky__safe_put(stdout, m);
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
            putchar(' ');
            if (o->color)
                fputs(C_KEY, stdout);
            sky__safe_put(stdout, k);
            if (o->color)
                fputs(C_RESET, stdout);
            putchar('=');
            print_value(v);
        }
        putchar('\n');
    } else {
        sky__safe_put(stdout, msg);
        putchar('\n');
    }
    json_decref(j);
}

/* ---- split events -------------------------------------------------------------------------
 * The CloudWatch sink sends an event over max_event_bytes with --oversize split as n events
 * "[part i/n] <piece>" (docs/CLOUDWATCH.md), consecutive in their stream, with one timestamp.
 * They are joined back per stream: a part that does not continue the sequence (another
 * number, timestamp or count), or the end of the output, prints what was held as it came. */

typedef struct pending {
    char *stream;
    json_t *parts;   /* the events as received */
    sky_buf body;    /* the pieces, joined */
    size_t next, n;
    size_t bytes; /* of the pieces held, as counted in reasm.held_bytes */
    json_int_t ts;
} pending;

typedef struct reasm {
    bool on;
    pending *p;
    size_t n, cap;
    size_t held_bytes, held_parts; /* over every stream, within the bounds below */
} reasm;

/* What reassembly may hold at once. Anyone who may write to the group decides what the parts
 * say, and a run that never ends (or claims a billion parts) must not grow tail without end:
 * past either bound the sequence being held is printed as it came. 64 MiB is the CloudWatch
 * sink's default max_queue_bytes, so the largest message it splits by default; 10,000 parts is
 * more than a 2 GiB message of 256 KiB events needs. */
#define REASM_MAX_BYTES (64u << 20)
#define REASM_MAX_PARTS 10000u

/* "[part i/n] " at the start of msg: i, n and the length of the marker. */
static bool part_marker(const char *msg, size_t *i, size_t *n, size_t *len)
{
    if (strncmp(msg, "[part ", 6) != 0)
        return false;
    char *e;
    unsigned long a = strtoul(msg + 6, &e, 10);
    if (e == msg + 6 || *e != '/' || e[1] < '0' || e[1] > '9')
        return false;
    const char *b0 = e + 1;
    unsigned long b = strtoul(b0, &e, 10);
    if (e[0] != ']' || e[1] != ' ' || a < 1 || a > b || b < 2)
        return false;
    *i = a;
    *n = b;
    *len = (size_t)(e + 2 - msg);
    return true;
}

/* Forgets what p holds (printed already). */
static void pending_clear(reasm *r, pending *p)
{
    r->held_parts -= json_array_size(p->parts);
    r->held_bytes -= p->bytes;
    p->bytes = 0;
    json_array_clear(p->parts);
    sky__buf_reset(&p->body);
    p->next = 0;
}

static void pending_flush(reasm *r, pending *p, tail_out *o)
{
    size_t k;
    json_t *ev;
    json_array_foreach(p->parts, k, ev)
        print_event(ev, json_string_value(json_object_get(ev, "message")), o);
    pending_clear(r, p);
}

static pending *pending_for(reasm *r, const char *stream)
{
    for (size_t k = 0; k < r->n; k++)
        if (strcmp(r->p[k].stream, stream) == 0)
            return &r->p[k];
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 8;
        pending *np = realloc(r->p, cap * sizeof *np);
        if (!np)
            return NULL;
        r->p = np;
        r->cap = cap;
    }
    pending *p = &r->p[r->n];
    *p = (pending){.stream = strdup(stream), .parts = json_array()};
    if (!p->stream || !p->parts) {
        free(p->stream);
        json_decref(p->parts);
        return NULL;
    }
    r->n++;
    return p;
}

/* Prints ev, or holds it as a part; returns how many events were printed. */
static int emit(reasm *r, json_t *ev, tail_out *o)
{
    const char *msg = json_string_value(json_object_get(ev, "message"));
    const char *stream = json_string_value(json_object_get(ev, "logStreamName"));
    json_int_t ts = json_integer_value(json_object_get(ev, "timestamp"));
    size_t i = 0, n = 0, len = 0; /* part_marker() sets them; GCC -O2 cannot see that */
    if (!r->on || !msg) {
        print_event(ev, msg, o);
        return 1;
    }
    bool part = part_marker(msg, &i, &n, &len);
    if (!part && !r->held_parts) { /* the usual event: no sequence is open in any stream */
        print_event(ev, msg, o);
        return 1;
    }
    pending *p = pending_for(r, stream ? stream : "");
    if (!p) {
        print_event(ev, msg, o);
        return 1;
    }
    int printed = 0;
    bool continues = part && p->next && i == p->next && n == p->n && ts == p->ts;
    if (!continues && p->next) { /* an unfinished sequence: show it as it came */
        printed += (int)json_array_size(p->parts);
        pending_flush(r, p, o);
    }
    size_t piece = part ? strlen(msg + len) : 0;
    if (part && i < n &&
        (r->held_parts >= REASM_MAX_PARTS || piece > REASM_MAX_BYTES - r->held_bytes)) {
        /* past what may be held: this sequence is shown as it came, and its later parts
         * too (they no longer continue anything) */
        printed += (int)json_array_size(p->parts);
        pending_flush(r, p, o);
        print_event(ev, msg, o);
        return printed + 1;
    }
    if (!part || (!continues && i != 1)) {
        print_event(ev, msg, o);
        return printed + 1;
    }
    json_array_append(p->parts, ev);
    sky__buf_put(&p->body, msg + len, piece);
    r->held_parts++;
    r->held_bytes += piece;
    p->bytes += piece;
    p->next = i + 1;
    p->n = n;
    p->ts = ts;
    if (i == n) {
        if (p->body.oom) {
            printed += (int)json_array_size(p->parts);
            pending_flush(r, p, o);
            return printed;
        }
        print_event(json_array_get(p->parts, 0), p->body.p, o);
        pending_clear(r, p);
        printed++;
    }
    return printed;
}

/* `o` NULL: drop what is held (--limit was reached). */
static void reasm_free(reasm *r, tail_out *o)
{
    for (size_t k = 0; k < r->n; k++) {
        if (o)
            pending_flush(r, &r->p[k], o);
        free(r->p[k].stream);
        json_decref(r->p[k].parts);
        sky__buf_free(&r->p[k].body);
    }
    free(r->p);
}

enum { O_SINCE = 2100, O_UNTIL, O_FILTER, O_PREFIX, O_JSON, O_COLOR, O_NO_REASM };

int sky__cmd_tail(int argc, char **argv)
{
    if (sky__cli_wants_help(argc, argv)) {
        fputs(sky__tail_help, stdout);
        return SKY_EXIT_OK;
    }
    /* Before the AWS client (its credential chain may wait on the network): a signal from here
     * on ends the command as Ctrl-C while following does (help: exit status), never by the
     * default action halfway through a line. */
    sky__cli_catch_stop();
    static const struct option opts[] = {
        {"group", required_argument, NULL, 'g'},
        {"stream", required_argument, NULL, 's'},
        {"since", required_argument, NULL, O_SINCE},
        {"until", required_argument, NULL, O_UNTIL},
        {"follow", no_argument, NULL, 'f'},
        {"filter", required_argument, NULL, O_FILTER},
        {"filter-pattern", required_argument, NULL, O_FILTER},
        {"output", required_argument, NULL, 'o'},
        {"format", required_argument, NULL, 'o'},
        {"color", required_argument, NULL, O_COLOR},
        {"no-reassemble", no_argument, NULL, O_NO_REASM},
        {"limit", required_argument, NULL, 'n'},
        SKY__AWS_LONG_OPTS,
        {NULL, 0, NULL, 0},
    };
    sky__aws_cli_opts aws = {0};
    const char *group = NULL, *filter = NULL, *since = "10m", *until = NULL, *color = "auto";
    json_t *streams = json_array();
    bool follow = false, tty = isatty(STDOUT_FILENO);
    tail_out out = {.format = tty ? OUT_PRETTY : OUT_TEXT, .raw_exact = !tty};
    reasm r = {.on = true};
    long long limit = -1, printed = 0;
    int rc = SKY_EXIT_USAGE;
    optind = 1;
    opterr = 0;
    for (;;) {
        int li = -1;
        int c = getopt_long(argc, argv, ":g:s:fo:n:", opts, &li);
        if (c == -1)
            break;
        switch (c) {
        case 'g': group = optarg; break;
        case 's': json_array_append_new(streams, json_string(optarg)); break;
        case 'f': follow = true; break;
        case O_SINCE: since = optarg; break;
        case O_UNTIL: until = optarg; break;
        case O_FILTER: filter = optarg; break;
        case O_COLOR: color = optarg; break;
        case O_NO_REASM: r.on = false; break;
        case 'n': {
            int64_t n;
            if (!sky__cli_int_flag("tail", "--limit", optarg, 1, 1000000000, &n))
                goto out;
            limit = n;
            break;
        }
        case 'o': {
            static const struct { const char *name; int format; } formats[] = {
                {"pretty", OUT_PRETTY}, {"text", OUT_TEXT}, {"detailed", OUT_TEXT},
                {"short", OUT_SHORT},   {"json", OUT_JSON}, {"raw", OUT_RAW},
            };
            size_t k = 0;
            while (k < 6 && strcmp(optarg, formats[k].name) != 0)
                k++;
            if (k == 6) {
                fprintf(stderr, "skylog tail: %s: expected pretty, text (or detailed), short, json "
                        "or raw, got '%s'\n", li >= 0 ? (strcmp(opts[li].name, "format") == 0 ? "--format" : "--output") : "-o",
                        optarg);
                goto out;
            }
            out.format = formats[k].format;
            break;
        }
        case ':':
            fprintf(stderr, "skylog tail: option '%s' needs a value\n", argv[optind - 1]);
            goto out;
        case '?': sky__cli_unknown_option("tail", argv[optind - 1], opts); goto out;
        default:
            if (!sky__aws_cli_opt(&aws, c, optarg))
                goto out;
        }
    }
    if (!group && optind < argc)
        group = argv[optind++]; /* as `aws logs tail GROUP` */
    if (!group || optind < argc) {
        if (group)
            fprintf(stderr, "skylog tail: unexpected argument '%s' (see skylog tail --help)\n",
                    argv[optind]);
        else
            fprintf(stderr, "skylog tail: a log group is required: skylog tail GROUP (see "
                    "skylog tail --help)\n");
        goto out;
    }
    if (strcmp(color, "always") == 0)
        out.color = true;
    else if (strcmp(color, "auto") == 0) {
        const char *nc = getenv("NO_COLOR"); /* https://no-color.org: set and not empty */
        out.color = tty && !(nc && *nc);
    } else if (strcmp(color, "never") != 0) {
        fprintf(stderr, "skylog tail: --color: expected auto, always or never, got '%s'\n", color);
        goto out;
    }
    int64_t now = sky_now_ns() / 1000000, start, end = 0;
    if (!sky__parse_when(since, now, &start) || (until && !sky__parse_when(until, now, &end))) {
        fprintf(stderr, "skylog tail: cannot read the time '%s' (use 10m, 2h, ISO-8601 or Unix ms)\n",
                until && !sky__parse_when(until, now, &end) ? until : since);
        goto out;
    }
    out.first_day = start / 86400000;
    out.with_date = (end ? end : now) / 86400000 != out.first_day;
    rc = SKY_EXIT_FAIL;
    aws.stop = sky__cli_stop_flag();
    sky_aws_client *c = sky__aws_cli_client(&aws, "logs", "tail");
    if (!c)
        goto out;

    json_t *seen_at_last = json_object(); /* event ids printed at the newest timestamp */
    int64_t newest = start;
    rc = SKY_EXIT_OK;
    while (!sky__cli_stopping()) {
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
                printed += emit(&r, ev, &out);
                if (limit >= 0 && printed >= limit)
                    break;
            }
            const char *nt = json_string_value(json_object_get(resp, "nextToken"));
            if (nt && !(limit >= 0 && printed >= limit))
                token = token_copy = strdup(nt);
            json_decref(resp);
        } while (token && !sky__cli_stopping());
        free(token_copy);
        fflush(stdout);
        if (!follow || rc != SKY_EXIT_OK || (limit >= 0 && printed >= limit))
            break;
        for (int i = 0; i < 10 && !sky__cli_stopping(); i++)
            usleep(100000);
    }
    json_decref(seen_at_last);
    sky_aws_client_free(c);
out:
    reasm_free(&r, limit >= 0 && printed >= limit ? NULL : &out);
    json_decref(streams);
    /* Ctrl-C is how --follow ends (0, also when it cut a backoff wait short); anything else
     * a signal stopped did not print all it was asked for: 128+N, as every command */
    if (sky__cli_stopping())
        rc = follow && rc != SKY_EXIT_USAGE ? SKY_EXIT_OK : sky__cli_interrupted("tail");
    return rc;
}

static int list_cmd(int argc, char **argv, bool streams_cmd)
{
    const char *name = streams_cmd ? "streams" : "groups";
    if (sky__cli_wants_help(argc, argv)) {
        fputs(streams_cmd ? sky__streams_help : sky__groups_help, stdout);
        return SKY_EXIT_OK;
    }
    sky__cli_catch_stop(); /* as tail: before the client, whose credential chain may wait */
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
            sky__cli_unknown_option(name, argv[optind - 1], opts);
            return SKY_EXIT_USAGE;
        default:
            if (!sky__aws_cli_opt(&aws, c, optarg))
                return SKY_EXIT_USAGE;
        }
    }
    if (streams_cmd && !group && optind < argc)
        group = argv[optind++]; /* skylog streams GROUP */
    if ((streams_cmd && !group) || optind < argc) {
        fprintf(stderr, "skylog %s: %s (see skylog %s --help)\n", name,
                optind < argc ? "unexpected argument" : "--group is required", name);
        return SKY_EXIT_USAGE;
    }
    aws.stop = sky__cli_stop_flag();
    sky_aws_client *c = sky__aws_cli_client(&aws, "logs", name);
    if (!c || sky__cli_stopping()) { /* a signal while the client was made: nothing is sent */
        sky_aws_client_free(c);
        return sky__cli_stopping() ? sky__cli_interrupted(name) : SKY_EXIT_FAIL;
    }
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
                if (!sky__json_put(stdout, item, JSON_COMPACT))
                    puts("{}");
            } else if (streams_cmd) {
                char last[25] = "-";
                json_t *l = json_object_get(item, "lastEventTimestamp");
                if (json_is_integer(l))
                    sky__fmt_ms(json_integer_value(l), last);
                sky__safe_pad(stdout, json_string_value(json_object_get(item, "logStreamName")),
                              60);
                printf(" last event %s\n", last);
            } else {
                json_t *r = json_object_get(item, "retentionInDays");
                char ret[32] = "never expire";
                if (json_is_integer(r))
                    snprintf(ret, sizeof ret, "%lld days", (long long)json_integer_value(r));
                sky__safe_pad(stdout, json_string_value(json_object_get(item, "logGroupName")),
                              60);
                printf(" retention %-14s %lld bytes\n", ret,
                       (long long)json_integer_value(json_object_get(item, "storedBytes")));
            }
        }
        const char *nt = json_string_value(json_object_get(resp, "nextToken"));
        if (nt)
            token = strdup(nt);
        json_decref(resp);
    } while (token && !sky__cli_stopping());
    bool cut = token || (rc != SKY_EXIT_OK && sky__cli_stopping()); /* pages left unread */
    free(token);
    sky_aws_client_free(c);
    /* each line printed is whole (the handler only sets a flag); the list is not */
    return cut ? sky__cli_interrupted(name) : rc;
}

int sky__cmd_groups(int argc, char **argv) { return list_cmd(argc, argv, false); }
int sky__cmd_streams(int argc, char **argv) { return list_cmd(argc, argv, true); }

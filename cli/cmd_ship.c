/*
 * cmd_ship.c - `skylog ship`: lines from files or stdin to CloudWatch Logs.
 *
 * Each line is one event. A line that is a JSON object is sent as it is, with its timestamp
 * taken from a top-level "timestamp", "time" or "ts" field when there is one (ISO-8601 text,
 * or a number: milliseconds, or seconds when it is below 10^11); any other line is sent as a
 * plain message stamped with the time it was read. Empty lines are skipped (CloudWatch refuses
 * empty messages) and counted.
 *
 * Delivery goes through the CloudWatch Logs sink (batching, limits, retries, accounting), with
 * backpressure: when its queue is full, reading waits instead of dropping. --follow keeps
 * reading like `tail -F`: it notices rotation (the path now names another file: the old one is
 * read to its end first) and truncation (the file shrank: read again from the start).
 * The exit status is 0 only if every event read was accepted by CloudWatch.
 */
#include "cli.h"
#include "common.h"

#include <skylog/cloudwatch.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char sky__ship_help[] =
    "usage: skylog ship --group GROUP [options] [FILE...|-]\n"
    "\n"
    "Ships lines from FILEs (or standard input, '-' or no FILE) to a CloudWatch Logs group.\n"
    "JSON lines are sent as they are, their time taken from a timestamp/time/ts field; other\n"
    "lines become the message. Exits 0 only if every event was accepted.\n"
    "\n"
    "options:\n"
    "  -g, --group GROUP       log group (created if missing, unless --no-create)\n"
    "  -s, --stream NAME       log stream (default {hostname}_{strftime:%Y%m%d_%H%M%S});\n"
    "                          placeholders {hostname} {pid} {strftime:FMT}\n"
    "  -f, --follow            keep reading as files grow; survive rotation and truncation\n"
    "      --retention-days N  set on a group this command creates\n"
    "      --no-create         never create the group or stream\n"
    "      --batch-size N      events per request (max and default 10000)\n"
    "      --flush-interval MS longest wait before a partial batch is sent (default 1000)\n"
    "      --oversize POLICY   truncate (default), split or drop events over --max-event-bytes\n"
    "      --max-event-bytes N event size limit, message + 26 (default 1048576)\n"
    "      --transport T       put_log_events (default), ndjson or otlp (ingestion endpoints)\n"
    "      --bearer-token T    token for the ingestion endpoints\n"
    "      --compress          gzip request bodies\n"
    "  -q, --quiet             no progress and no summary\n" SKY__AWS_OPTS_HELP
    "\n"
    "examples:\n"
    "  skylog ship --group /app/prod app.log\n"
    "  my_service 2>&1 | skylog ship --group /app/dev --stream '{hostname}-{pid}'\n"
    "  skylog ship --group /app/prod --follow /var/log/app.jsonl\n";

#define STALL_MS 10000LL

static volatile sig_atomic_t stop_requested;
static bool cannot_deliver; /* the sink reports an error that waiting cannot fix */
static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* ---- timestamps from JSON lines ------------------------------------------------------------ */

/* Value of a top-level key in a JSON object line, without parsing the whole line: finds
 * "key" followed by ':' at nesting depth 1, outside strings. Returns a pointer to the value. */
static const char *top_level_value(const char *s, size_t n, const char *key)
{
    size_t kl = strlen(key);
    int depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '{' || c == '[')
            depth++;
        else if (c == '}' || c == ']')
            depth--;
        else if (c == '"') {
            if (depth == 1 && i + kl + 2 <= n && s[i + kl + 1] == '"' &&
                memcmp(s + i + 1, key, kl) == 0) {
                size_t j = i + kl + 2;
                while (j < n && (s[j] == ' ' || s[j] == '\t'))
                    j++;
                if (j < n && s[j] == ':') {
                    j++;
                    while (j < n && (s[j] == ' ' || s[j] == '\t'))
                        j++;
                    return j < n ? s + j : NULL;
                }
            }
            in_str = true;
        }
    }
    return NULL;
}

static bool line_timestamp(const char *s, size_t n, int64_t *ms)
{
    if (n < 2 || s[0] != '{')
        return false;
    static const char *const keys[] = {"timestamp", "time", "ts"};
    for (size_t k = 0; k < 3; k++) {
        const char *v = top_level_value(s, n, keys[k]);
        if (!v)
            continue;
        if (*v == '"') {
            char buf[64];
            const char *q = memchr(v + 1, '"', (size_t)(s + n - v - 1));
            if (!q || (size_t)(q - v - 1) >= sizeof buf)
                continue;
            memcpy(buf, v + 1, (size_t)(q - v - 1));
            buf[q - v - 1] = '\0';
            int64_t ns;
            if (sky_aws_parse_time(buf, &ns) == SKY_OK) {
                *ms = ns / 1000000;
                return true;
            }
            continue;
        }
        /* integers (the common case) without strtod; fractions and exponents with it */
        const char *p = v;
        int64_t iv = 0;
        int digits = 0;
        while (p < s + n && *p >= '0' && *p <= '9' && digits < 18) {
            iv = iv * 10 + (*p++ - '0');
            digits++;
        }
        if (digits && (p == s + n || (*p != '.' && *p != 'e' && *p != 'E' && !(*p >= '0' && *p <= '9')))) {
            *ms = iv < 100000000000LL ? iv * 1000 : iv;
            return true;
        }
        char *end;
        double d = strtod(v, &end);
        if (end == v)
            continue;
        *ms = d < 1e11 ? (int64_t)(d * 1000.0) : (int64_t)d;
        return true;
    }
    return false;
}

/* ---- reading -------------------------------------------------------------------------------- */

typedef struct ship {
    sky_sink *sink;
    uint64_t lines, empty, bytes_read, total_bytes, refused;
    bool progress, follow;
    int64_t last_progress_ns, start_ns;
} ship;

static void show_progress(ship *sh, bool final)
{
    if (!sh->progress)
        return;
    /* at most every 1024 lines look at the clock, and redraw at most 5 times a second */
    if (!final && (sh->lines & 1023) != 0)
        return;
    int64_t now = sky_monotonic_ns();
    if (!final && now - sh->last_progress_ns < 200000000)
        return;
    sh->last_progress_ns = now;
    double secs = (double)(now - sh->start_ns) / 1e9;
    double rate = secs > 0 ? (double)sh->lines / secs : 0;
    sky_cwl_stats st;
    sky_cwl_stats_get(sh->sink, &st);
    if (sh->total_bytes && !sh->follow) {
        int width = 30;
        int done = (int)((double)sh->bytes_read / (double)sh->total_bytes * width);
        if (done > width)
            done = width;
        fprintf(stderr, "\r[%.*s%*s] %3d%%  %llu lines  %.0f ev/s  sent %llu ", done,
                "##############################", width - done, "",
                (int)(100.0 * (double)sh->bytes_read / (double)sh->total_bytes),
                (unsigned long long)sh->lines, rate, (unsigned long long)st.sent_events);
    } else {
        fprintf(stderr, "\r%llu lines  %.0f ev/s  sent %llu ", (unsigned long long)sh->lines, rate,
                (unsigned long long)st.sent_events);
    }
    if (final)
        fputc('\n', stderr);
}

static void ship_line(ship *sh, char *line, size_t n)
{
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    if (n == 0) {
        sh->empty++;
        return;
    }
    sh->lines++;
    int64_t ts;
    if (!line_timestamp(line, n, &ts))
        ts = sky_now_ns() / 1000000;
    sky_status st = sky_cwl_put(sh->sink, ts, line, n);
    if (st != SKY_OK) {
        sh->refused++;
        sky_cwl_stats now; /* refused because delivery cannot succeed? then stop reading */
        if (sky_cwl_stats_get(sh->sink, &now) == SKY_OK && now.persistent_error)
            cannot_deliver = true;
    }
    show_progress(sh, false);
}

/* Reads what is available from f; returns false on a read error. */
static bool drain(ship *sh, FILE *f, char **buf, size_t *cap)
{
    ssize_t r;
    while (!stop_requested && !cannot_deliver && (r = getline(buf, cap, f)) > 0) {
        sh->bytes_read += (uint64_t)r;
        ship_line(sh, *buf, (size_t)r);
    }
    if (ferror(f) && errno != EAGAIN) {
        clearerr(f);
        return false;
    }
    clearerr(f);
    return true;
}

/* tail -F: follow `path` across rotation and truncation until a signal. */
static int follow_file(ship *sh, const char *path)
{
    char *buf = NULL;
    size_t cap = 0;
    FILE *f = NULL;
    struct stat cur = {0};
    int rc = SKY_EXIT_OK;
    while (!stop_requested) {
        if (!f) {
            f = fopen(path, "r");
            if (f)
                fstat(fileno(f), &cur);
        }
        if (f) {
            if (!drain(sh, f, &buf, &cap)) {
                fprintf(stderr, "skylog ship: %s: %s\n", path, strerror(errno));
                rc = SKY_EXIT_FAIL;
            }
            struct stat now;
            if (stat(path, &now) != 0 || now.st_ino != cur.st_ino || now.st_dev != cur.st_dev) {
                /* rotated (or removed): the old file was read to its end above */
                drain(sh, f, &buf, &cap);
                fclose(f);
                f = NULL;
                continue;
            }
            if (now.st_size < ftello(f)) { /* truncated */
                fseeko(f, 0, SEEK_SET);
                continue;
            }
        }
        usleep(100000);
    }
    if (f) {
        drain(sh, f, &buf, &cap);
        fclose(f);
    }
    free(buf);
    return rc;
}

static int ship_stream(ship *sh, FILE *f, const char *name)
{
    char *buf = NULL;
    size_t cap = 0;
    bool ok = drain(sh, f, &buf, &cap);
    free(buf);
    if (!ok) {
        fprintf(stderr, "skylog ship: %s: %s\n", name, strerror(errno));
        return SKY_EXIT_FAIL;
    }
    return SKY_EXIT_OK;
}

enum { O_RETENTION = 2000, O_NO_CREATE, O_BATCH, O_FLUSH, O_OVERSIZE, O_MAX_EVENT, O_TRANSPORT,
       O_BEARER, O_COMPRESS };

int sky__cmd_ship(int argc, char **argv)
{
    if (sky__cli_wants_help(argc, argv)) {
        fputs(sky__ship_help, stdout);
        return SKY_EXIT_OK;
    }
    static const struct option opts[] = {
        {"group", required_argument, NULL, 'g'},
        {"stream", required_argument, NULL, 's'},
        {"follow", no_argument, NULL, 'f'},
        {"quiet", no_argument, NULL, 'q'},
        {"retention-days", required_argument, NULL, O_RETENTION},
        {"no-create", no_argument, NULL, O_NO_CREATE},
        {"batch-size", required_argument, NULL, O_BATCH},
        {"flush-interval", required_argument, NULL, O_FLUSH},
        {"oversize", required_argument, NULL, O_OVERSIZE},
        {"max-event-bytes", required_argument, NULL, O_MAX_EVENT},
        {"transport", required_argument, NULL, O_TRANSPORT},
        {"bearer-token", required_argument, NULL, O_BEARER},
        {"compress", no_argument, NULL, O_COMPRESS},
        SKY__AWS_LONG_OPTS,
        {NULL, 0, NULL, 0},
    };
    sky__aws_cli_opts aws = {0};
    /* Reading waits for the sender (backpressure), so a few full batches of queue are enough;
     * memory stays small however large the input. */
    sky_cwl_opts co = {.block_when_full = true, .max_queue_size = 20000,
                       .max_queue_bytes = 2u << 20};
    bool quiet = false, follow = false;
    optind = 1;
    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, ":g:s:fq", opts, NULL);
        if (c == -1)
            break;
        char *end = NULL;
        switch (c) {
        case 'g': co.log_group = optarg; break;
        case 's': co.log_stream = optarg; break;
        case 'f': follow = true; break;
        case 'q': quiet = true; break;
        case O_RETENTION: co.retention_days = (int)strtol(optarg, &end, 10); break;
        case O_NO_CREATE: co.no_create_group = co.no_create_stream = true; break;
        case O_BATCH: co.batch_size = strtoul(optarg, &end, 10); break;
        case O_FLUSH: co.flush_interval_ms = strtoll(optarg, &end, 10); break;
        case O_MAX_EVENT: co.max_event_bytes = strtoul(optarg, &end, 10); break;
        case O_COMPRESS: co.compress = true; break;
        case O_BEARER: co.bearer_token = optarg; break;
        case O_OVERSIZE:
            if (strcmp(optarg, "truncate") == 0)
                co.oversize = SKY_CWL_OVERSIZE_TRUNCATE;
            else if (strcmp(optarg, "split") == 0)
                co.oversize = SKY_CWL_OVERSIZE_SPLIT;
            else if (strcmp(optarg, "drop") == 0)
                co.oversize = SKY_CWL_OVERSIZE_DROP;
            else {
                fprintf(stderr, "skylog ship: --oversize: expected truncate, split or drop, got '%s'\n",
                        optarg);
                return SKY_EXIT_USAGE;
            }
            break;
        case O_TRANSPORT:
            if (strcmp(optarg, "put_log_events") == 0)
                co.transport = SKY_CWL_PUT_LOG_EVENTS;
            else if (strcmp(optarg, "ndjson") == 0)
                co.transport = SKY_CWL_NDJSON;
            else if (strcmp(optarg, "otlp") == 0)
                co.transport = SKY_CWL_OTLP;
            else {
                fprintf(stderr,
                        "skylog ship: --transport: expected put_log_events, ndjson or otlp, got '%s'\n",
                        optarg);
                return SKY_EXIT_USAGE;
            }
            break;
        case ':':
            fprintf(stderr, "skylog ship: option '%s' needs a value\n", argv[optind - 1]);
            return SKY_EXIT_USAGE;
        case '?':
            fprintf(stderr, "skylog ship: unknown option '%s' (see skylog ship --help)\n",
                    argv[optind - 1]);
            return SKY_EXIT_USAGE;
        default:
            if (!sky__aws_cli_opt(&aws, c, optarg)) {
                fprintf(stderr, "skylog ship: unexpected option\n");
                return SKY_EXIT_USAGE;
            }
        }
        if (end && *end) {
            fprintf(stderr, "skylog ship: '%s' is not a number\n", optarg);
            return SKY_EXIT_USAGE;
        }
    }
    if (!co.log_group) {
        fprintf(stderr, "skylog ship: --group is required (see skylog ship --help)\n");
        return SKY_EXIT_USAGE;
    }
    if (follow && optind >= argc) {
        fprintf(stderr, "skylog ship: --follow needs a FILE (standard input is always followed)\n");
        return SKY_EXIT_USAGE;
    }
    char region[64];
    if (!aws.region && sky_aws_resolve_region(NULL, aws.profile, NULL, region, sizeof region) == SKY_OK)
        aws.region = region;
    if (!aws.region && aws.endpoint)
        aws.region = "us-east-1";
    co.endpoint = aws.endpoint;
    co.region = aws.region;
    co.profile = aws.profile;
    co.ca_bundle = aws.ca_bundle;

    /* Check every file before sending anything. */
    uint64_t total = 0;
    for (int i = optind; i < argc; i++) {
        if (strcmp(argv[i], "-") == 0)
            continue;
        struct stat st;
        if (stat(argv[i], &st) != 0 && !follow) {
            fprintf(stderr, "skylog ship: %s: %s\n", argv[i], strerror(errno));
            return SKY_EXIT_FAIL;
        }
        total += (uint64_t)st.st_size;
    }

    ship sh = {.follow = follow, .total_bytes = total, .start_ns = sky_monotonic_ns()};
    char *err = NULL;
    if (sky_sink_cloudwatch_logs(&co, &sh.sink, &err) != SKY_OK) {
        fprintf(stderr, "skylog ship: %s\n", err ? err : "cannot create the CloudWatch sink");
        free(err);
        return SKY_EXIT_FAIL;
    }
    sh.progress = !quiet && isatty(STDERR_FILENO);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int rc = SKY_EXIT_OK;
    if (optind >= argc)
        rc = ship_stream(&sh, stdin, "standard input");
    for (int i = optind; i < argc && !stop_requested; i++) {
        if (strcmp(argv[i], "-") == 0) {
            rc |= ship_stream(&sh, stdin, "standard input");
        } else if (follow) {
            rc |= follow_file(&sh, argv[i]); /* one file followed; the rest are ignored */
            break;
        } else {
            FILE *f = fopen(argv[i], "r");
            if (!f) {
                fprintf(stderr, "skylog ship: %s: %s\n", argv[i], strerror(errno));
                rc = SKY_EXIT_FAIL;
                continue;
            }
            setvbuf(f, NULL, _IOFBF, 1 << 20); /* fewer, larger reads */
            rc |= ship_stream(&sh, f, argv[i]);
            fclose(f);
        }
    }
    /* Wait for delivery while it progresses; give up after STALL_MS without progress (a bad
     * token or a dead endpoint would otherwise hold the command for the whole timeout). */
    sky_status fst = SKY_ETIMEDOUT;
    uint64_t last_sent = 0;
    int64_t last_progress = sky_monotonic_ns();
    for (;;) {
        fst = sky_sink_flush(sh.sink, 500);
        if (fst == SKY_OK)
            break;
        sky_cwl_stats now;
        sky_cwl_stats_get(sh.sink, &now);
        if (now.persistent_error || stop_requested) {
            /* the sink said what it is (once); waiting cannot fix it, or the user asked */
            if (now.persistent_error && !quiet)
                fprintf(stderr, "skylog ship: giving up: the error above cannot be fixed by "
                                "waiting\n");
            cannot_deliver = now.persistent_error;
            break;
        }
        if (now.sent_events != last_sent) {
            last_sent = now.sent_events;
            last_progress = sky_monotonic_ns();
        } else if (sky_monotonic_ns() - last_progress > STALL_MS * 1000000) {
            fprintf(stderr, "skylog ship: giving up: nothing delivered for %d s (%s)\n",
                    (int)(STALL_MS / 1000), now.last_error[0] ? now.last_error : "no answer");
            break;
        }
        show_progress(&sh, false);
    }
    show_progress(&sh, true);
    sky_cwl_stats st;
    sky_cwl_close(sh.sink, &st);
    uint64_t rejected = 0, dropped = 0;
    for (int i = 0; i < SKY_CWL_REJECT_COUNT_; i++)
        rejected += st.rejected[i];
    for (int i = 0; i < SKY_CWL_DROP_COUNT_; i++)
        dropped += st.dropped[i];
    /* after close, every event is sent, rejected or dropped (undelivered included) */
    bool lost = rejected + dropped > 0;
    if (!quiet) {
        fprintf(stderr,
                "skylog ship: %llu events read, %llu sent in %llu requests (%llu retries, "
                "%llu throttled), %llu rejected, %llu dropped, %llu empty lines skipped\n",
                (unsigned long long)sh.lines, (unsigned long long)st.sent_events,
                (unsigned long long)st.requests, (unsigned long long)st.retries,
                (unsigned long long)st.throttles, (unsigned long long)rejected,
                (unsigned long long)dropped, (unsigned long long)sh.empty);
        for (int i = 0; i < SKY_CWL_REJECT_COUNT_; i++)
            if (st.rejected[i])
                fprintf(stderr, "  rejected %s: %llu\n", sky_cwl_reject_name((sky_cwl_reject)i),
                        (unsigned long long)st.rejected[i]);
        for (int i = 0; i < SKY_CWL_DROP_COUNT_; i++)
            if (st.dropped[i])
                fprintf(stderr, "  dropped %s: %llu\n", sky_cwl_drop_name((sky_cwl_drop)i),
                        (unsigned long long)st.dropped[i]);
        if (st.truncated)
            fprintf(stderr, "  truncated: %llu (%llu bytes cut)\n",
                    (unsigned long long)st.truncated, (unsigned long long)st.truncated_bytes);
        if (st.split)
            fprintf(stderr, "  split: %llu into %llu parts\n", (unsigned long long)st.split,
                    (unsigned long long)st.split_parts);
        if (st.ambiguous)
            fprintf(stderr, "  %llu requests had an unknown outcome (may be stored twice)\n",
                    (unsigned long long)st.ambiguous);
        if (lost && st.last_error[0] && !cannot_deliver)
            fprintf(stderr, "  last error: %s\n", st.last_error);
    }
    if (lost || fst != SKY_OK)
        rc = SKY_EXIT_FAIL;
    return rc;
}

/*
 * cmd_query.c - `skylog query`: a CloudWatch Logs Insights query, run to its end through the
 * AWS layer's sky_aws_logs_query() (StartQuery, then GetQueryResults with a growing interval).
 *
 * While it runs, a terminal on stderr shows one progress line (status, records scanned and
 * matched), rewritten in place and erased at the end, so stdout holds only the answer: a
 * table (columns in the order fields first appear, @ptr left out), JSON lines or CSV.
 * A MalformedQueryException is shown under the query line with a caret at the position AWS
 * names, since "position 37" is hard to count by eye.
 */
#include "cli.h"
#include "common.h"
#include "safetext.h"
#include "table.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char sky__query_help[] =
    "usage: skylog query --group GROUP [--since WHEN | --start WHEN --end WHEN] [options] QUERY\n"
    "\n"
    "Runs a CloudWatch Logs Insights query and prints its results when it is complete. On a\n"
    "terminal a progress line (status, records scanned and matched) shows while it runs.\n"
    "skylog serve answers the subset listed in docs/SERVE.md; AWS answers all of Insights.\n"
    "\n"
    "options:\n"
    "  -g, --group GROUP     log group, name or ARN (repeatable, up to 50)\n"
    "      --since WHEN      start: 10m, 2h, 3d (ago), ISO-8601 or Unix ms (default 1h)\n"
    "      --start WHEN      the same as --since\n"
    "      --end WHEN        end, included (default: now)\n"
    "      --until WHEN      the same as --end\n"
    "  -n, --limit N         at most N rows (1-100000; default: the service's, 10000)\n"
    "  -o, --output FORMAT   table (default), json (one object a row), csv\n"
    "      --timeout SECONDS stop the query (StopQuery) after this long; default: wait\n" SKY__AWS_OPTS_HELP
    "\n"
    "examples:\n"
    "  skylog query --group /app/prod --since 1h 'filter level = \"ERROR\" | stats count() by path'\n"
    "  skylog query -g /app/prod 'stats avg(duration_ms) by bin(5m)' --output csv > latency.csv\n"
    "\n"
    "exit status: 0 the query completed, 1 it failed, timed out or the service failed, 2 usage\n"
    "error or a malformed query, 130 or 143 interrupted by SIGINT or SIGTERM (the query is\n"
    "stopped).\n";

static bool cancelled(void *user)
{
    (void)user;
    return sky__cli_stopping();
}

static void progress(void *user, const sky_aws_query_result *so_far)
{
    (void)user;
    fputs("\r\x1b[K", stderr);
    sky__safe_put(stderr, so_far->status);
    fprintf(stderr, ": %.0f records scanned, %.0f matched, %.0f bytes", so_far->records_scanned,
            so_far->records_matched, so_far->bytes_scanned);
    fflush(stderr);
}

/* The columns: every field name in the order it first appears, @ptr left out. */
static json_t *columns(json_t *results)
{
    json_t *cols = json_array();
    size_t i, k;
    json_t *row, *f;
    json_array_foreach(results, i, row) {
        json_array_foreach(row, k, f) {
            const char *name = json_string_value(json_object_get(f, "field"));
            if (!name || strcmp(name, "@ptr") == 0)
                continue;
            bool seen = false;
            for (size_t c = 0; c < json_array_size(cols) && !seen; c++)
                seen = strcmp(json_string_value(json_array_get(cols, c)), name) == 0;
            if (!seen)
                json_array_append_new(cols, json_string(name));
        }
    }
    return cols;
}

static const char *value_of(json_t *row, const char *name)
{
    size_t k;
    json_t *f;
    json_array_foreach(row, k, f) {
        const char *n = json_string_value(json_object_get(f, "field"));
        if (n && strcmp(n, name) == 0)
            return json_string_value(json_object_get(f, "value"));
    }
    return NULL;
}

static bool print_results(json_t *results, sky__out_fmt format)
{
    size_t i;
    json_t *row;
    if (format == SKY__OUT_JSON) {
        bool ok = true;
        json_array_foreach(results, i, row) {
            json_t *o = json_object();
            size_t k;
            json_t *f;
            json_array_foreach(row, k, f) {
                const char *n = json_string_value(json_object_get(f, "field"));
                if (n)
                    json_object_set(o, n, json_object_get(f, "value"));
            }
            ok &= sky__json_put(stdout, o, JSON_COMPACT | JSON_PRESERVE_ORDER);
            json_decref(o);
        }
        return ok;
    }
    json_t *cols = columns(results);
    size_t nc = json_array_size(cols);
    const char **cells = calloc(nc ? nc : 1, sizeof *cells);
    sky__grid g;
    sky__grid_init(&g, nc);
    g.rule = true;
    g.failed = !cells;
    for (size_t c = 0; cells && c < nc; c++)
        cells[c] = json_string_value(json_array_get(cols, c));
    sky__grid_add(&g, cells);
    json_array_foreach(results, i, row) {
        for (size_t c = 0; cells && c < nc; c++)
            cells[c] = value_of(row, json_string_value(json_array_get(cols, c)));
        sky__grid_add(&g, cells);
    }
    bool ok = sky__grid_print(&g, stdout, format);
    sky__grid_free(&g);
    free(cells);
    json_decref(cols);
    return ok;
}

/* "... at line L and position P": the query line L with a caret under column P. */
static void show_position(const char *query, const char *message)
{
    const char *at = strstr(message, " at line ");
    int line, col;
    if (!at || sscanf(at, " at line %d and position %d", &line, &col) != 2 || line < 1 || col < 0)
        return;
    const char *s = query;
    for (int l = 1; l < line && s; l++) {
        s = strchr(s, '\n');
        if (s)
            s++;
    }
    if (!s)
        return;
    size_t n = strcspn(s, "\n");
    if ((size_t)col > n)
        col = (int)n;
    char *line_text = strndup(s, n);
    /* the caret lines up only when nothing was escaped and each byte is one column */
    if (line_text && sky__safe_width(line_text) == n && strlen(line_text) == n)
        fprintf(stderr, "  %s\n  %*s^\n", line_text, col, "");
    free(line_text);
}

int sky__cmd_query(int argc, char **argv)
{
    if (sky__cli_wants_help(argc, argv)) {
        fputs(sky__query_help, stdout);
        return SKY_EXIT_OK;
    }
    /* Before the AWS client (its credential chain may wait on the network): a signal from here
     * on stops the query (StopQuery) and exits 128+N, never death by the default action. */
    sky__cli_catch_stop();
    enum { O_SINCE = 2200, O_END, O_TIMEOUT };
    static const struct option opts[] = {
        {"group", required_argument, NULL, 'g'},
        {"since", required_argument, NULL, O_SINCE},
        {"start", required_argument, NULL, O_SINCE},
        {"end", required_argument, NULL, O_END},
        {"until", required_argument, NULL, O_END}, /* as tail, metrics get and alarm history */
        {"limit", required_argument, NULL, 'n'},
        {"output", required_argument, NULL, 'o'},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        SKY__AWS_LONG_OPTS,
        {NULL, 0, NULL, 0},
    };
    sky__aws_cli_opts aws = {0};
    const char *groups[50], *since = "1h", *until = NULL;
    size_t n_groups = 0;
    long limit = 0;
    double timeout_s = 0;
    sky__out_fmt format = SKY__OUT_TABLE;
    int rc = SKY_EXIT_USAGE;
    sky_aws_client *c = NULL;
    sky_aws_query_result res = {0};
    json_t *answer = NULL;
    optind = 1;
    opterr = 0;
    for (;;) {
        int ch = getopt_long(argc, argv, ":g:n:o:", opts, NULL);
        if (ch == -1)
            break;
        switch (ch) {
        case 'g':
            if (n_groups == 50) {
                fprintf(stderr, "skylog query: at most 50 log groups (--group)\n");
                goto out;
            }
            groups[n_groups++] = optarg;
            break;
        case O_SINCE: since = optarg; break;
        case O_END: until = optarg; break;
        case 'n': {
            int64_t n;
            if (!sky__cli_int_flag("query", "--limit", optarg, 1, 100000, &n))
                goto out;
            limit = (long)n;
            break;
        }
        case O_TIMEOUT: /* a millisecond at least: 0 would be "no timeout", the default */
            if (!sky__cli_real_flag("query", "--timeout", optarg, 0.001, 86400, &timeout_s))
                goto out;
            break;
        case 'o':
            if (!sky__out_parse(optarg, &format)) {
                fprintf(stderr, "skylog query: --output: expected table, json or csv, got '%s'\n",
                        optarg);
                goto out;
            }
            break;
        case ':':
            fprintf(stderr, "skylog query: option '%s' needs a value\n", argv[optind - 1]);
            goto out;
        case '?': sky__cli_unknown_option("query", argv[optind - 1], opts); goto out;
        default:
            if (!sky__aws_cli_opt(&aws, ch, optarg))
                goto out;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "skylog query: a query is required: skylog query --group GROUP 'QUERY' "
                "(see skylog query --help)\n");
        goto out;
    }
    if (optind + 1 < argc) {
        fprintf(stderr, "skylog query: unexpected argument '%s' (quote the query as one "
                "argument)\n", argv[optind + 1]);
        goto out;
    }
    const char *query = argv[optind];
    if (n_groups == 0) {
        fprintf(stderr, "skylog query: a log group is required: --group GROUP (see skylog query "
                "--help)\n");
        goto out;
    }
    int64_t now = sky_now_ns() / 1000000, start, end = now;
    if (!sky__cli_when("query", NULL, "--since", since, now, &start) ||
        (until && !sky__cli_when("query", NULL, "--end", until, now, &end)))
        goto out;
    if (end < start) {
        fprintf(stderr, "skylog query: the end is before the start\n");
        goto out;
    }
    rc = SKY_EXIT_FAIL;
    aws.stop = sky__cli_stop_flag();
    c = sky__aws_cli_client(&aws, "logs", "query");
    if (!c || sky__cli_stopping()) { /* before StartQuery: nothing to stop on the service */
        rc = sky__cli_stopping() ? sky__cli_interrupted("query") : SKY_EXIT_FAIL;
        goto out;
    }
    bool tty = isatty(STDERR_FILENO);
    sky_aws_error err;
    sky_status st = sky_aws_logs_query(
        c,
        &(sky_aws_query_opts){.log_groups = groups, .n_log_groups = n_groups,
                              .start_s = start / 1000, .end_s = end / 1000, .query = query,
                              .limit = (int)limit, .timeout_ms = (int64_t)(timeout_s * 1000),
                              .progress = tty ? progress : NULL, .cancelled = cancelled},
        &res, &err);
    if (tty)
        fputs("\r\x1b[K", stderr);
    if (st != SKY_OK && st != SKY_ETIMEDOUT && sky__cli_stopping()) {
        rc = sky__cli_interrupted("query"); /* a request given up because of the signal */
        goto out;
    }
    if (st != SKY_OK && st != SKY_ETIMEDOUT) {
        sky__safe_printf(stderr, "skylog query: %s%s%s\n",
                         err.code[0] ? err.code : sky_strerror(st), err.message[0] ? ": " : "",
                         err.message);
        if (strcmp(err.code, "MalformedQueryException") == 0) {
            show_position(query, err.message);
            rc = SKY_EXIT_USAGE;
        }
        goto out;
    }
    if (strcmp(res.status, "Complete") != 0) {
        sky__safe_printf(stderr, "skylog query: the query ended %s (%s)\n", res.status,
                st == SKY_ETIMEDOUT ? "--timeout passed" : res.query_id);
        rc = sky__cli_stopping() ? sky__cli_interrupted("query") : SKY_EXIT_FAIL;
        goto out;
    }
    answer = json_loadb(res.body ? res.body : "", res.body_len, 0, NULL);
    json_t *results = json_object_get(answer, "results");
    if (!json_is_array(results)) {
        fprintf(stderr, "skylog query: GetQueryResults answered without results\n");
        goto out;
    }
    if (!print_results(results, format))
        goto out;
    if (tty || format == SKY__OUT_TABLE)
        fprintf(stderr, "%zu rows; %.0f records matched, %.0f scanned, %.0f bytes scanned\n",
                json_array_size(results), res.records_matched, res.records_scanned,
                res.bytes_scanned);
    rc = SKY_EXIT_OK;
out:
    json_decref(answer);
    sky_aws_query_result_free(&res);
    sky_aws_client_free(c);
    return rc;
}

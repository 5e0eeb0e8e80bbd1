/*
 * cmd_metrics.c - `skylog metrics put|list|get`: CloudWatch metrics from the command line,
 * against AWS or `skylog serve`, through sky_cloudwatch_call() (awsJson1.0, service
 * "monitoring").
 *
 * Every CloudWatch limit a command can break is checked here, before anything is sent (names,
 * 30 dimensions, 150 values, the 27 units, the timestamp window, 1,440 datapoints per
 * GetMetricStatistics), so a mistake is a usage error naming the option, not a round trip.
 * `get` prints a table (or CSV/JSON for scripts) and, on a terminal, one sparkline per
 * statistic over every period of the range, with gaps where there is no data: the shape of a
 * metric at a glance without leaving the shell.
 */
#include "cli.h"
#include "common.h"
#include "safetext.h"
#include "table.h"

#include <skylog/metrics.h>

#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

const char sky__metrics_help[] =
    "usage: skylog metrics put --namespace NS --name NAME --value V [--value V]... [options]\n"
    "       skylog metrics list [--namespace NS] [--name NAME] [--dimension K[=V]]... [options]\n"
    "       skylog metrics get --namespace NS --name NAME [--since WHEN] [options]\n"
    "\n"
    "Publishes a datapoint (put), lists metrics (list) or prints a metric's statistics per\n"
    "period (get) in CloudWatch or skylog serve. Limits are checked before sending: names of\n"
    "1 to 255 characters, at most 30 dimensions and 150 values, one of CloudWatch's 27 units,\n"
    "timestamps from 2 weeks ago to 2 hours ahead, at most 1,440 periods per get.\n"
    "\n"
    "options:\n"
    "  -n, --namespace NS    the metric's namespace (put, get; list: only this one)\n"
    "  -m, --name NAME       the metric's name (put, get; list: only this one)\n"
    "  -d, --dimension K=V   a dimension (repeatable; list also takes K alone: any value)\n"
    "      --value V         put: a value (repeat for several values in one datum)\n"
    "      --count C         put: how often the matching --value occurred (repeatable)\n"
    "  -u, --unit UNIT       put: the unit (default None); get: only data of this unit\n"
    "      --timestamp WHEN  put: the datapoint's time (default now)\n"
    "      --high-resolution put: store with 1-second resolution\n"
    "      --since WHEN      get: start: 10m, 2h, 3d (ago), ISO-8601 or Unix ms (default 3h)\n"
    "      --until WHEN      get: end (default now)\n"
    "  -p, --period SECONDS  get: the period (default: 60, or longer to stay within 1,440)\n"
    "  -s, --stat STAT       get: SampleCount, Average, Sum, Minimum, Maximum or a percentile\n"
    "                        such as p99 (repeatable; default Average, Minimum, Maximum,\n"
    "                        Sum, SampleCount)\n"
    "  -o, --output FORMAT   table (default), json or csv\n"
    "      --chart WHEN      get: sparklines below the table: auto (default: on a terminal),\n"
    "                        always, never\n" SKY__AWS_OPTS_HELP_METRICS
    "\n"
    "examples:\n"
    "  skylog metrics put --namespace MyApp --name Latency --value 12.5 --unit Milliseconds \\\n"
    "      --dimension Endpoint=/login\n"
    "  skylog metrics list --namespace MyApp --output csv\n"
    "  skylog metrics get -n MyApp -m Latency -d Endpoint=/login --since 1h -s Average -s p99\n"
    "\n"
    "exit status: 0 done, 1 the service failed, 2 usage error (nothing was sent), 130/143\n"
    "interrupted by SIGINT/SIGTERM (nothing printed: no table of part of the pages).\n";

enum {
    O_VALUE = 2001,
    O_COUNT,
    O_TIMESTAMP,
    O_HIRES,
    O_SINCE,
    O_UNTIL,
    O_CHART,
};

static const struct option opts[] = {
    {"namespace", required_argument, NULL, 'n'},
    {"name", required_argument, NULL, 'm'},
    {"metric-name", required_argument, NULL, 'm'},
    {"dimension", required_argument, NULL, 'd'},
    {"value", required_argument, NULL, O_VALUE},
    {"count", required_argument, NULL, O_COUNT},
    {"unit", required_argument, NULL, 'u'},
    {"timestamp", required_argument, NULL, O_TIMESTAMP},
    {"high-resolution", no_argument, NULL, O_HIRES},
    {"since", required_argument, NULL, O_SINCE},
    {"until", required_argument, NULL, O_UNTIL},
    {"period", required_argument, NULL, 'p'},
    {"stat", required_argument, NULL, 's'},
    {"output", required_argument, NULL, 'o'},
    {"chart", required_argument, NULL, O_CHART},
    SKY__AWS_LONG_OPTS,
    {NULL, 0, NULL, 0},
};

typedef struct margs {
    const char *sub;
    const char *ns, *name, *unit, *timestamp, *since, *until, *chart;
    bool since_set;
    json_t *dims;   /* [{"Name","Value"?}] */
    json_t *values; /* numbers */
    json_t *counts;
    json_t *stats;    /* strings */
    long period;
    bool hires;
    sky__out_fmt out;
    sky__aws_cli_opts aws;
} margs;

#define MAX_DIMS 30
#define MAX_VALUES 150
#define MAX_POINTS 1440

static int usage(const margs *a, const char *fmt, const char *what)
{
    return sky__cli_sub_usage("metrics", a->sub, fmt, what);
}

/* ---- put ---------------------------------------------------------------------------------- */

static int run_put(margs *a, sky_aws_client *c)
{
    json_t *datum = json_pack("{s:s}", "MetricName", a->name);
    if (json_array_size(a->dims))
        json_object_set(datum, "Dimensions", a->dims);
    if (a->unit)
        json_object_set_new(datum, "Unit", json_string(a->unit));
    if (a->hires)
        json_object_set_new(datum, "StorageResolution", json_integer(1));
    if (a->timestamp) {
        int64_t ms;
        sky__parse_when(a->timestamp, sky_now_ns() / 1000000, &ms); /* checked by the caller */
        json_object_set_new(datum, "Timestamp", json_real((double)ms / 1000.0));
    }
    if (json_array_size(a->values) == 1 && !json_array_size(a->counts))
        json_object_set(datum, "Value", json_array_get(a->values, 0));
    else
        json_object_set(datum, "Values", a->values);
    if (json_array_size(a->counts))
        json_object_set(datum, "Counts", a->counts);
    json_t *body = json_pack("{s:s,s:[o]}", "Namespace", a->ns, "MetricData", datum);
    json_t *ans = sky__cw_call(c, "metrics put", "PutMetricData", body);
    json_decref(body);
    if (!ans)
        return SKY_EXIT_FAIL;
    json_decref(ans);
    return SKY_EXIT_OK;
}

/* ---- list --------------------------------------------------------------------------------- */

static char *dims_text(json_t *dims)
{
    size_t cap = 1, len = 0;
    char *s = calloc(1, 1);
    size_t i;
    json_t *d;
    json_array_foreach(dims, i, d)
    {
        const char *k = json_string_value(json_object_get(d, "Name"));
        const char *v = json_string_value(json_object_get(d, "Value"));
        size_t need = len + strlen(k ? k : "") + strlen(v ? v : "") + 3;
        if (!s)
            return NULL;
        if (need > cap) {
            char *n = realloc(s, need * 2);
            if (!n) {
                free(s);
                return NULL;
            }
            s = n;
            cap = need * 2;
        }
        len += (size_t)snprintf(s + len, cap - len, "%s%s=%s", i ? "," : "", k ? k : "",
                                v ? v : "");
    }
    return s;
}

static int run_list(margs *a, sky_aws_client *c)
{
    json_t *all = json_array();
    const char *token = NULL;
    json_t *ans = NULL;
    int rc = SKY_EXIT_FAIL;
    for (;;) {
        json_t *body = json_object();
        if (a->ns)
            json_object_set_new(body, "Namespace", json_string(a->ns));
        if (a->name)
            json_object_set_new(body, "MetricName", json_string(a->name));
        if (json_array_size(a->dims))
            json_object_set(body, "Dimensions", a->dims);
        if (token)
            json_object_set_new(body, "NextToken", json_string(token));
        json_t *next = sky__cw_call(c, "metrics list", "ListMetrics", body);
        json_decref(body);
        json_decref(ans);
        ans = next;
        if (!ans)
            goto out;
        json_array_extend(all, json_object_get(ans, "Metrics"));
        token = json_string_value(json_object_get(ans, "NextToken"));
        if (!token || sky__cli_stopping())
            break;
    }
    if (sky__cli_stopping()) /* part of the pages: printed as if it were all, it would lie */
        goto out;
    if (a->out == SKY__OUT_JSON) {
        rc = sky__json_put(stdout, all, JSON_INDENT(2)) ? SKY_EXIT_OK : SKY_EXIT_FAIL;
        goto out;
    }
    sky__grid g;
    sky__grid_init(&g, 3);
    sky__grid_add(&g, (const char *const[]){"NAMESPACE", "METRIC", "DIMENSIONS"});
    size_t i;
    json_t *m;
    json_array_foreach(all, i, m)
    {
        char *dt = dims_text(json_object_get(m, "Dimensions"));
        sky__grid_add(&g, (const char *const[]){
                              json_string_value(json_object_get(m, "Namespace")),
                              json_string_value(json_object_get(m, "MetricName")), dt});
        free(dt);
    }
    rc = sky__grid_print(&g, stdout, a->out) ? SKY_EXIT_OK : SKY_EXIT_FAIL;
    sky__grid_free(&g);
out:
    json_decref(ans);
    json_decref(all);
    return rc;
}

/* ---- get ---------------------------------------------------------------------------------- */

static int dp_cmp(const void *x, const void *y)
{
    json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
    double ta = json_number_value(json_object_get(a, "Timestamp"));
    double tb = json_number_value(json_object_get(b, "Timestamp"));
    if (ta != tb)
        return ta < tb ? -1 : 1;
    const char *ua = json_string_value(json_object_get(a, "Unit"));
    const char *ub = json_string_value(json_object_get(b, "Unit"));
    return strcmp(ua ? ua : "", ub ? ub : "");
}

static double stat_of(json_t *dp, const char *stat)
{
    json_t *v = sky__cw_stat_basic(stat)
                    ? json_object_get(dp, stat)
                    : json_object_get(json_object_get(dp, "ExtendedStatistics"), stat);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static int term_width(void)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
        return ws.ws_col;
    const char *c = getenv("COLUMNS");
    int n = c ? atoi(c) : 0;
    return n >= 20 ? n : 80;
}

/* One line per statistic: "Average  ▁▂▅█▇  min 1 max 9". Each column is one or more periods
 * (the largest value among them), a space where none has data. */
static void sparklines(json_t **dps, size_t n, json_t *stats, int64_t start_s, int64_t end_s,
                       long period)
{
    static const char *const bars[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
    long periods = (long)((end_s - start_s + period - 1) / period);
    if (periods < 1)
        return;
    int width = term_width() - 40;
    if (width < 10)
        width = 10;
    long per_col = (periods + width - 1) / width;
    long cols = (periods + per_col - 1) / per_col;
    double *col = malloc((size_t)cols * sizeof *col);
    if (!col)
        return;
    putchar('\n');
    size_t si;
    json_t *sj;
    json_array_foreach(stats, si, sj)
    {
        const char *stat = json_string_value(sj);
        for (long k = 0; k < cols; k++)
            col[k] = NAN;
        double lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < n; i++) {
            double v = stat_of(dps[i], stat);
            double t = json_number_value(json_object_get(dps[i], "Timestamp"));
            long k = (long)((t - (double)start_s) / (double)period) / per_col;
            if (isnan(v) || k < 0 || k >= cols)
                continue;
            if (isnan(col[k]) || v > col[k])
                col[k] = v;
            lo = fmin(lo, v);
            hi = fmax(hi, v);
        }
        printf("%-12s ", stat);
        for (long k = 0; k < cols; k++) {
            if (isnan(col[k])) {
                putchar(' ');
                continue;
            }
            int level = hi > lo ? (int)floor((col[k] - lo) / (hi - lo) * 7.999) : 3;
            fputs(bars[level < 0 ? 0 : level > 7 ? 7 : level], stdout);
        }
        if (lo <= hi) {
            char a[32], b[32];
            sky__fmt_num(lo, a, sizeof a);
            sky__fmt_num(hi, b, sizeof b);
            printf("  min %s max %s", a, b);
        }
        putchar('\n');
    }
    free(col);
}

static int run_get(margs *a, sky_aws_client *c, int64_t start_ms, int64_t end_ms)
{
    /* Periods aligned on multiples of the period (whole minutes for 60 s), as the console
     * shows them, rather than on whatever second --since falls. */
    int64_t start_s = start_ms / 1000 / a->period * a->period, end_s = (end_ms + 999) / 1000;
    json_t *basic = json_array(), *ext = json_array();
    size_t i;
    json_t *s;
    json_array_foreach(a->stats, i, s)
        json_array_append(sky__cw_stat_basic(json_string_value(s)) ? basic : ext, s);
    json_t *body = json_pack("{s:s,s:s,s:I,s:I,s:I}", "Namespace", a->ns, "MetricName", a->name,
                             "StartTime", (json_int_t)start_s, "EndTime", (json_int_t)end_s,
                             "Period", (json_int_t)a->period);
    json_object_set(body, "Dimensions", a->dims);
    if (json_array_size(basic))
        json_object_set(body, "Statistics", basic);
    if (json_array_size(ext))
        json_object_set(body, "ExtendedStatistics", ext);
    if (a->unit)
        json_object_set_new(body, "Unit", json_string(a->unit));
    json_decref(basic);
    json_decref(ext);
    json_t *ans = sky__cw_call(c, "metrics get", "GetMetricStatistics", body);
    json_decref(body);
    if (!ans || sky__cli_stopping()) {
        json_decref(ans);
        return SKY_EXIT_FAIL;
    }
    json_t *dpsj = json_object_get(ans, "Datapoints");
    size_t n = json_array_size(dpsj);
    json_t **dps = calloc(n ? n : 1, sizeof *dps);
    int rc = SKY_EXIT_FAIL;
    if (!dps)
        goto out;
    for (i = 0; i < n; i++)
        dps[i] = json_array_get(dpsj, i);
    qsort(dps, n, sizeof *dps, dp_cmp);
    if (a->out == SKY__OUT_JSON) {
        json_t *arr = json_array();
        for (i = 0; i < n; i++) {
            char when[25];
            double t = json_number_value(json_object_get(dps[i], "Timestamp"));
            sky__fmt_ms((int64_t)llround(t * 1000), when);
            json_t *o = json_pack("{s:s}", "Timestamp", when);
            json_object_set(o, "Unit", json_object_get(dps[i], "Unit"));
            size_t k;
            json_array_foreach(a->stats, k, s)
            {
                double v = stat_of(dps[i], json_string_value(s));
                json_object_set_new(o, json_string_value(s), isnan(v) ? json_null() : json_real(v));
            }
            json_array_append_new(arr, o);
        }
        json_t *doc = json_pack("{s:O,s:o}", "Label", json_object_get(ans, "Label"),
                                "Datapoints", arr);
        bool ok = sky__json_put(stdout, doc, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
        json_decref(doc);
        rc = ok ? SKY_EXIT_OK : SKY_EXIT_FAIL;
        goto out;
    }
    size_t ncols = 2 + json_array_size(a->stats);
    sky__grid g;
    sky__grid_init(&g, ncols);
    const char **row = calloc(ncols, sizeof *row);
    char (*cells)[32] = calloc(ncols, sizeof *cells);
    if (!row || !cells) {
        free(row);
        free(cells);
        goto out;
    }
    row[0] = "TIMESTAMP";
    row[1] = "UNIT";
    json_array_foreach(a->stats, i, s) row[2 + i] = json_string_value(s);
    sky__grid_add(&g, row);
    for (size_t r = 0; r < n; r++) {
        double t = json_number_value(json_object_get(dps[r], "Timestamp"));
        sky__fmt_ms((int64_t)llround(t * 1000), cells[0]);
        row[0] = cells[0];
        row[1] = json_string_value(json_object_get(dps[r], "Unit"));
        json_array_foreach(a->stats, i, s)
        {
            double v = stat_of(dps[r], json_string_value(s));
            if (isnan(v))
                snprintf(cells[2 + i], sizeof cells[2 + i], "-");
            else
                sky__fmt_num(v, cells[2 + i], sizeof cells[2 + i]);
            row[2 + i] = cells[2 + i];
        }
        sky__grid_add(&g, row);
    }
    bool ok = sky__grid_print(&g, stdout, a->out);
    sky__grid_free(&g);
    free(row);
    free(cells);
    bool chart = a->out == SKY__OUT_TABLE &&
                 (strcmp(a->chart, "always") == 0 ||
                  (strcmp(a->chart, "auto") == 0 && isatty(STDOUT_FILENO)));
    if (ok && chart)
        sparklines(dps, n, a->stats, start_s, end_s, a->period);
    if (ok && n == 0 && a->out == SKY__OUT_TABLE)
        fprintf(stderr, "skylog metrics get: no datapoints for %s/%s in that range\n", a->ns,
                a->name);
    rc = ok ? SKY_EXIT_OK : SKY_EXIT_FAIL;
out:
    free(dps);
    json_decref(ans);
    return rc;
}

/* ---- command ------------------------------------------------------------------------------ */

int sky__cmd_metrics(int argc, char **argv)
{
    if (sky__cli_wants_help(argc, argv)) {
        fputs(sky__metrics_help, stdout);
        return SKY_EXIT_OK;
    }
    margs a = {.dims = json_array(), .values = json_array(), .counts = json_array(),
               .stats = json_array(), .since = "3h", .chart = "auto",
               .aws = {.stop = sky__cli_stop_flag()}};
    int rc = SKY_EXIT_USAGE;
    sky_aws_client *c = NULL;
    static const char *const subs[] = {"put", "list", "get"};
    if (argc < 2 || (strcmp(argv[1], "put") != 0 && strcmp(argv[1], "list") != 0 &&
                     strcmp(argv[1], "get") != 0)) {
        sky__cli_unknown_subcommand("metrics", argc < 2 ? NULL : argv[1], subs, 3);
        goto out;
    }
    a.sub = argv[1];
    bool put = strcmp(a.sub, "put") == 0, list = strcmp(a.sub, "list") == 0,
         get = strcmp(a.sub, "get") == 0;
    char cmdname[16];
    snprintf(cmdname, sizeof cmdname, "metrics %s", a.sub);
    optind = 2;
    opterr = 0;
    for (;;) {
        int c2 = getopt_long(argc, argv, ":n:m:d:u:p:s:o:", opts, NULL);
        if (c2 == -1)
            break;
        double v;
        switch (c2) {
        case 'n': a.ns = optarg; break;
        case 'm': a.name = optarg; break;
        case 'd':
            if (!sky__cw_dimension_add(a.dims, optarg, list)) {
                usage(&a, "--dimension: '%s' is not NAME=VALUE (a name of 1-255 and a value of "
                      "1-1024 characters)", optarg);
                goto out;
            }
            break;
        case O_VALUE: /* CloudWatch's range: -2^360 to 2^360 */
            if (!sky__cli_real_flag(cmdname, "--value", optarg, -0x1p360, 0x1p360, &v))
                goto out;
            json_array_append_new(a.values, json_real(v));
            break;
        case O_COUNT:
            if (!sky__cli_real_flag(cmdname, "--count", optarg, 0, 0x1p360, &v))
                goto out;
            json_array_append_new(a.counts, json_real(v));
            break;
        case 'u': a.unit = optarg; break;
        case O_TIMESTAMP: a.timestamp = optarg; break;
        case O_HIRES: a.hires = true; break;
        case O_SINCE:
            a.since = optarg;
            a.since_set = true;
            break;
        case O_UNTIL: a.until = optarg; break;
        case 'p': {
            int64_t p;
            if (!sky__cli_int_flag(cmdname, "--period", optarg, 1, INT32_MAX, &p))
                goto out;
            a.period = (long)p;
            if (a.period % 60 && a.period != 1 && a.period != 5 && a.period != 10 &&
                a.period != 30) {
                usage(&a, "--period: '%s' must be 1, 5, 10, 30 or a multiple of 60 seconds",
                      optarg);
                goto out;
            }
            break;
        }
        case 's':
            if (!sky__cw_stat_basic(optarg) && !sky__cw_stat_percentile(optarg)) {
                usage(&a, "--stat: '%s' is not SampleCount, Average, Sum, Minimum, Maximum or "
                      "a percentile pNN", optarg);
                goto out;
            }
            json_array_append_new(a.stats, json_string(optarg));
            break;
        case 'o':
            if (!sky__out_parse(optarg, &a.out)) {
                usage(&a, "--output: expected table, json or csv, got '%s'", optarg);
                goto out;
            }
            break;
        case O_CHART:
            if (strcmp(optarg, "auto") && strcmp(optarg, "always") && strcmp(optarg, "never")) {
                usage(&a, "--chart: expected auto, always or never, got '%s'", optarg);
                goto out;
            }
            a.chart = optarg;
            break;
        case ':':
            usage(&a, "option '%s' needs a value", argv[optind - 1]);
            goto out;
        case '?': sky__cli_unknown_option("metrics", argv[optind - 1], opts); goto out;
        default:
            if (!sky__aws_cli_opt(&a.aws, c2, optarg))
                goto out;
        }
    }
    if (optind < argc) {
        usage(&a, "unexpected argument '%s'", argv[optind]);
        goto out;
    }
    /* What each subcommand needs, and the limits, before anything is sent. */
    if ((put || get) && (!a.ns || !a.name)) {
        usage(&a, "%s", "--namespace and --name are required");
        goto out;
    }
    if ((a.ns && !sky__cw_name_ok(a.ns)) || (a.name && !sky__cw_name_ok(a.name))) {
        usage(&a, "%s", "a namespace or metric name must have 1 to 255 characters");
        goto out;
    }
    if (put && strncmp(a.ns, "AWS/", 4) == 0) {
        usage(&a, "%s", "namespaces starting with AWS/ are reserved for AWS");
        goto out;
    }
    if (json_array_size(a.dims) > (list ? 10 : MAX_DIMS)) {
        usage(&a, "at most %s dimensions", list ? "10" : "30");
        goto out;
    }
    if (a.unit) {
        sky_unit u;
        if (sky_unit_parse(a.unit, &u) != SKY_OK || strcmp(sky_unit_name(u), a.unit) != 0) {
            usage(&a, "--unit: '%s' is not a CloudWatch unit (Seconds, Milliseconds, Bytes, "
                  "Count, Percent, None, ...)", a.unit);
            goto out;
        }
    }
    if (put) {
        size_t nv = json_array_size(a.values), nc = json_array_size(a.counts);
        if (nv == 0 || nv > MAX_VALUES) {
            usage(&a, "%s", "put takes 1 to 150 --value");
            goto out;
        }
        if (nc && nc != nv) {
            usage(&a, "%s", "give as many --count as --value");
            goto out;
        }
        int64_t now = sky_now_ns() / 1000000, ms;
        if (a.timestamp && (!sky__parse_when(a.timestamp, now, &ms) ||
                            ms < now - 14LL * 86400000 || ms > now + 2LL * 3600000)) {
            usage(&a, "--timestamp: '%s' is not a time from 2 weeks ago to 2 hours ahead",
                  a.timestamp);
            goto out;
        }
    } else if (json_array_size(a.values) || json_array_size(a.counts) || a.timestamp ||
               a.hires) {
        usage(&a, "%s", "--value, --count, --timestamp and --high-resolution are for put");
        goto out;
    }
    int64_t start = 0, end = 0;
    if (get) {
        int64_t now = sky_now_ns() / 1000000;
        if (!sky__cli_when("metrics", a.sub, "--since", a.since, now, &start) ||
            (a.until && !sky__cli_when("metrics", a.sub, "--until", a.until, now, &end)))
            goto out;
        if (!a.until)
            end = now;
        if (end <= start) {
            usage(&a, "%s", "--since must be before --until");
            goto out;
        }
        int64_t range_s = (end - start + 999) / 1000;
        if (!a.period) {
            a.period = 60;
            while ((range_s + a.period - 1) / a.period > MAX_POINTS)
                a.period += 60;
        }
        if ((range_s + a.period - 1) / a.period > MAX_POINTS) {
            usage(&a, "%s", "that range holds more than 1,440 periods: use a longer --period");
            goto out;
        }
        if (!json_array_size(a.stats))
            for (size_t i = 0; i < 5; i++)
                json_array_append_new(a.stats, json_string((const char *[]){
                    "Average", "Minimum", "Maximum", "Sum", "SampleCount"}[i]));
        size_t ext = 0, basic = 0;
        size_t i;
        json_t *s;
        json_array_foreach(a.stats, i, s)
        {
            if (sky__cw_stat_basic(json_string_value(s)))
                basic++;
            else
                ext++;
        }
        if (basic > 5 || ext > 10) {
            usage(&a, "%s", "at most 5 basic statistics and 10 percentiles");
            goto out;
        }
    } else if (a.since_set || a.until || a.period || json_array_size(a.stats)) {
        usage(&a, "%s", "--since, --until, --period and --stat are for get");
        goto out;
    }
    sky__cli_catch_stop();
    c = sky__aws_cli_client(&a.aws, "monitoring", "metrics");
    if (!c || sky__cli_stopping()) { /* a signal while the client was made: nothing is sent */
        rc = SKY_EXIT_FAIL;
        goto out;
    }
    rc = put ? run_put(&a, c) : list ? run_list(&a, c) : run_get(&a, c, start, end);
out:
    if (sky__cli_stopping() && rc != SKY_EXIT_OK) /* a call that was answered stands */
        rc = sky__cli_interrupted("metrics");
    sky_aws_client_free(c);
    json_decref(a.dims);
    json_decref(a.values);
    json_decref(a.counts);
    json_decref(a.stats);
    return rc;
}

/*
 * cmd_alarm.c - `skylog alarm put|put-composite|describe|history|delete|set-state`: CloudWatch
 * alarms from the command line, against AWS or `skylog serve`, through sky_cloudwatch_call().
 *
 * What the API would refuse is refused here first, as a usage error naming the option (names
 * of 1 to 255 characters, periods of 10, 20, 30 or a multiple of 60 seconds, DatapointsToAlarm
 * within EvaluationPeriods, at most 5 actions per state, rules of at most 10,240 characters),
 * so nothing half-valid is sent. Comparisons may be written as CloudWatch names them or as
 * >, >=, <, <=. describe and history print tables (or CSV/JSON for scripts).
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

const char sky__alarm_help[] =
    "usage: skylog alarm put NAME --namespace NS --metric NAME --stat STAT --period SECONDS\n"
    "                        --threshold N --comparison OP [options]\n"
    "       skylog alarm put-composite NAME --rule RULE [options]\n"
    "       skylog alarm describe [NAME]... [--prefix P] [--state S] [--type TYPE] [options]\n"
    "       skylog alarm history [NAME] [--item-type TYPE] [--since WHEN] [options]\n"
    "       skylog alarm delete NAME...\n"
    "       skylog alarm set-state NAME --state STATE --reason TEXT [--reason-data JSON]\n"
    "\n"
    "Creates or updates metric alarms (put) and composite alarms (put-composite), lists them\n"
    "with their state (describe), shows their history of configuration changes, state changes\n"
    "and actions (history), deletes them, or sets a state by hand until the next evaluation\n"
    "(set-state). Works against CloudWatch and skylog serve, which evaluates alarms itself.\n"
    "\n"
    "options:\n"
    "  -n, --namespace NS    put: the metric's namespace\n"
    "  -m, --metric NAME     put: the metric's name\n"
    "  -d, --dimension K=V   put: a dimension of the metric (repeatable)\n"
    "  -s, --stat STAT       put: SampleCount, Average, Sum, Minimum, Maximum or a\n"
    "                        percentile such as p99\n"
    "  -p, --period SECONDS  put: 10, 20, 30 or a multiple of 60\n"
    "      --evaluation-periods N\n"
    "                        put: periods looked at (default 1)\n"
    "      --datapoints-to-alarm M\n"
    "                        put: breaching periods among them for ALARM (default N)\n"
    "  -t, --threshold N     put: the threshold\n"
    "  -c, --comparison OP   put: >, >=, <, <= or GreaterThanThreshold,\n"
    "                        GreaterThanOrEqualToThreshold, LessThanThreshold,\n"
    "                        LessThanOrEqualToThreshold\n"
    "      --treat-missing-data M\n"
    "                        put: missing (default), ignore, breaching, notBreaching\n"
    "  -u, --unit UNIT       put: only data of this unit\n"
    "      --rule RULE       put-composite: e.g. 'ALARM(cpu) AND NOT OK(disk)'\n"
    "      --description TEXT\n"
    "                        put, put-composite: what the alarm is for\n"
    "      --alarm-action ARN\n"
    "                        put, put-composite: run on ALARM (repeatable, at most 5)\n"
    "      --ok-action ARN   on OK (repeatable)\n"
    "      --insufficient-data-action ARN\n"
    "                        on INSUFFICIENT_DATA (repeatable)\n"
    "      --no-actions      put, put-composite: create with actions disabled\n"
    "      --prefix P        describe: names starting with P\n"
    "      --state S         describe: OK, ALARM or INSUFFICIENT_DATA; set-state: the new\n"
    "                        state\n"
    "      --type TYPE       describe: metric (default), composite or all\n"
    "      --item-type TYPE  history: ConfigurationUpdate, StateUpdate or Action\n"
    "      --since WHEN      history: start: 10m, 2h, 3d (ago), ISO-8601 or Unix ms\n"
    "      --until WHEN      history: end (default now)\n"
    "  -l, --limit N         history: at most N items (default 100)\n"
    "      --reason TEXT     set-state: why\n"
    "      --reason-data JSON\n"
    "                        set-state: machine-readable detail (a JSON text)\n"
    "  -o, --output FORMAT   describe, history: table (default), json or csv\n"
    SKY__AWS_OPTS_HELP_METRICS
    "\n"
    "examples:\n"
    "  skylog alarm put HighErrorRate -n MyApp -m Errors -s Sum -p 60 -t 10 -c '>' \\\n"
    "      --evaluation-periods 3 --datapoints-to-alarm 2 --treat-missing-data notBreaching\n"
    "  skylog alarm put-composite SystemUnhealthy \\\n"
    "      --rule 'ALARM(HighErrorRate) AND ALARM(HighLatency)'\n"
    "  skylog alarm describe --type all --state ALARM\n"
    "  skylog alarm history HighErrorRate --item-type StateUpdate --since 1d\n"
    "\n"
    "exit status: 0 done, 1 the service failed, 2 usage error (nothing was sent), 130/143\n"
    "interrupted by SIGINT/SIGTERM (nothing printed: no table of part of the pages).\n";

enum {
    O_EVALS = 3001, O_DTA, O_TMD, O_RULE, O_DESC, O_ALARM_ACT, O_OK_ACT, O_INS_ACT, O_NO_ACT,
    O_PREFIX, O_STATE, O_TYPE, O_ITEM, O_SINCE, O_UNTIL, O_REASON, O_REASON_DATA,
};

static const struct option opts[] = {
    {"namespace", required_argument, NULL, 'n'},
    {"metric", required_argument, NULL, 'm'},
    {"dimension", required_argument, NULL, 'd'},
    {"stat", required_argument, NULL, 's'},
    {"period", required_argument, NULL, 'p'},
    {"evaluation-periods", required_argument, NULL, O_EVALS},
    {"datapoints-to-alarm", required_argument, NULL, O_DTA},
    {"threshold", required_argument, NULL, 't'},
    {"comparison", required_argument, NULL, 'c'},
    {"treat-missing-data", required_argument, NULL, O_TMD},
    {"unit", required_argument, NULL, 'u'},
    {"rule", required_argument, NULL, O_RULE},
    {"description", required_argument, NULL, O_DESC},
    {"alarm-action", required_argument, NULL, O_ALARM_ACT},
    {"ok-action", required_argument, NULL, O_OK_ACT},
    {"insufficient-data-action", required_argument, NULL, O_INS_ACT},
    {"no-actions", no_argument, NULL, O_NO_ACT},
    {"prefix", required_argument, NULL, O_PREFIX},
    {"state", required_argument, NULL, O_STATE},
    {"type", required_argument, NULL, O_TYPE},
    {"item-type", required_argument, NULL, O_ITEM},
    {"since", required_argument, NULL, O_SINCE},
    {"until", required_argument, NULL, O_UNTIL},
    {"limit", required_argument, NULL, 'l'},
    {"reason", required_argument, NULL, O_REASON},
    {"reason-data", required_argument, NULL, O_REASON_DATA},
    {"output", required_argument, NULL, 'o'},
    SKY__AWS_LONG_OPTS,
    {NULL, 0, NULL, 0},
};

typedef struct aargs {
    const char *sub;
    json_t *body;  /* the request being built */
    json_t *names; /* positional names */
    const char *stat, *type, *since, *until;
    long limit;
    bool used[128]; /* which options were given, by their index in opts */
    sky__out_fmt out;
    sky__aws_cli_opts aws;
} aargs;

static int usage(const aargs *a, const char *fmt, const char *what)
{
    return sky__cli_sub_usage("alarm", a->sub, fmt, what);
}

static const char *comparison(const char *s)
{
    static const char *const sym[] = {">", ">=", "<", "<="};
    static const char *const full[] = {"GreaterThanThreshold", "GreaterThanOrEqualToThreshold",
                                       "LessThanThreshold", "LessThanOrEqualToThreshold"};
    for (size_t i = 0; i < 4; i++)
        if (strcmp(s, sym[i]) == 0 || strcmp(s, full[i]) == 0)
            return full[i];
    return NULL;
}

static bool add_action(aargs *a, const char *list, const char *arn)
{
    json_t *l = json_object_get(a->body, list);
    if (!l) {
        l = json_array();
        json_object_set_new(a->body, list, l);
    }
    if (json_array_size(l) >= 5 || strncmp(arn, "arn:", 4) != 0 || strlen(arn) > 1024)
        return false;
    json_array_append_new(l, json_string(arn));
    return true;
}

static char *fmt_time(json_t *v, char out[25])
{
    double t = json_number_value(v);
    if (json_is_string(v)) { /* an SDK that sends ISO-8601: shown as it came */
        snprintf(out, 25, "%.24s", json_string_value(v));
        return out;
    }
    sky__fmt_ms((int64_t)llround(t * 1000), out);
    return out;
}

static void print_json(json_t *v)
{
    sky__json_put(stdout, v, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
}

/* ---- describe / history ------------------------------------------------------------------- */

static int run_describe(aargs *a, sky_aws_client *c)
{
    json_t *all_m = json_array(), *all_c = json_array(), *ans = NULL;
    int rc = SKY_EXIT_FAIL;
    const char *t = a->type ? a->type : "metric";
    json_t *types = json_array();
    if (strcmp(t, "metric") == 0 || strcmp(t, "all") == 0)
        json_array_append_new(types, json_string("MetricAlarm"));
    if (strcmp(t, "composite") == 0 || strcmp(t, "all") == 0)
        json_array_append_new(types, json_string("CompositeAlarm"));
    json_object_set_new(a->body, "AlarmTypes", types);
    if (json_array_size(a->names))
        json_object_set(a->body, "AlarmNames", a->names);
    for (;;) {
        json_t *next = sky__cw_call(c, "alarm describe", "DescribeAlarms", a->body);
        json_decref(ans);
        if (!(ans = next))
            goto out;
        json_array_extend(all_m, json_object_get(ans, "MetricAlarms"));
        json_array_extend(all_c, json_object_get(ans, "CompositeAlarms"));
        json_t *tok = json_object_get(ans, "NextToken");
        if (!json_is_string(tok) || sky__cli_stopping())
            break;
        json_object_set(a->body, "NextToken", tok);
    }
    if (sky__cli_stopping()) /* part of the pages: printed as if it were all, it would lie */
        goto out;
    if (a->out == SKY__OUT_JSON) {
        json_t *doc = json_pack("{s:O,s:O}", "MetricAlarms", all_m, "CompositeAlarms", all_c);
        print_json(doc);
        json_decref(doc);
        rc = SKY_EXIT_OK;
        goto out;
    }
    sky__grid g;
    sky__grid_init(&g, 5);
    sky__grid_add(&g, (const char *const[]){"NAME", "TYPE", "STATE", "SINCE", "REASON"});
    json_t *lists[2] = {all_m, all_c};
    for (int k = 0; k < 2; k++) {
        size_t i;
        json_t *al;
        json_array_foreach(lists[k], i, al)
        {
            char when[25];
            fmt_time(json_object_get(al, "StateUpdatedTimestamp"), when);
            sky__grid_add(&g, (const char *const[]){
                                  json_string_value(json_object_get(al, "AlarmName")),
                                  k ? "composite" : "metric",
                                  json_string_value(json_object_get(al, "StateValue")), when,
                                  json_string_value(json_object_get(al, "StateReason"))});
        }
    }
    rc = sky__grid_print(&g, stdout, a->out) ? SKY_EXIT_OK : SKY_EXIT_FAIL;
    sky__grid_free(&g);
out:
    json_decref(ans);
    json_decref(all_m);
    json_decref(all_c);
    return rc;
}

static int run_history(aargs *a, sky_aws_client *c)
{
    json_t *items = json_array(), *ans = NULL;
    int rc = SKY_EXIT_FAIL;
    if (json_array_size(a->names))
        json_object_set(a->body, "AlarmName", json_array_get(a->names, 0));
    else /* every alarm's history, composites too */
        json_object_set_new(a->body, "AlarmTypes", json_pack("[s,s]", "MetricAlarm",
                                                             "CompositeAlarm"));
    while ((long)json_array_size(items) < a->limit) {
        long want = a->limit - (long)json_array_size(items);
        json_object_set_new(a->body, "MaxRecords", json_integer(want > 100 ? 100 : want));
        json_t *next = sky__cw_call(c, "alarm history", "DescribeAlarmHistory", a->body);
        json_decref(ans);
        if (!(ans = next))
            goto out;
        json_array_extend(items, json_object_get(ans, "AlarmHistoryItems"));
        json_t *tok = json_object_get(ans, "NextToken");
        if (!json_is_string(tok) || sky__cli_stopping())
            break;
        json_object_set(a->body, "NextToken", tok);
    }
    if (sky__cli_stopping()) /* part of the pages: printed as if it were all, it would lie */
        goto out;
    if (a->out == SKY__OUT_JSON) {
        print_json(items);
        rc = SKY_EXIT_OK;
        goto out;
    }
    sky__grid g;
    sky__grid_init(&g, 4);
    sky__grid_add(&g, (const char *const[]){"TIME", "ALARM", "TYPE", "SUMMARY"});
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        char when[25];
        fmt_time(json_object_get(it, "Timestamp"), when);
        sky__grid_add(&g, (const char *const[]){
                              when, json_string_value(json_object_get(it, "AlarmName")),
                              json_string_value(json_object_get(it, "HistoryItemType")),
                              json_string_value(json_object_get(it, "HistorySummary"))});
    }
    rc = sky__grid_print(&g, stdout, a->out) ? SKY_EXIT_OK : SKY_EXIT_FAIL;
    sky__grid_free(&g);
out:
    json_decref(ans);
    json_decref(items);
    return rc;
}

/* ---- the command -------------------------------------------------------------------------- */

/* Options each subcommand takes (by long name); the global AWS options go everywhere. */
static bool allowed(const char *sub, const char *opt)
{
    static const struct {
        const char *sub, *opts;
    } table[] = {
        {"put", " namespace metric dimension stat period evaluation-periods datapoints-to-alarm "
                "threshold comparison treat-missing-data unit description alarm-action ok-action "
                "insufficient-data-action no-actions "},
        {"put-composite", " rule description alarm-action ok-action insufficient-data-action "
                          "no-actions "},
        {"describe", " prefix state type output "},
        {"history", " item-type since until limit output "},
        {"delete", " "},
        {"set-state", " state reason reason-data "},
    };
    char word[48];
    snprintf(word, sizeof word, " %s ", opt);
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].sub, sub) == 0)
            return strstr(table[i].opts, word) != NULL;
    return false;
}

static int parse_and_check(aargs *a, int argc, char **argv);

int sky__cmd_alarm(int argc, char **argv)
{
    if (sky__cli_wants_help(argc, argv)) {
        fputs(sky__alarm_help, stdout);
        return SKY_EXIT_OK;
    }
    aargs a = {.body = json_object(), .names = json_array(), .limit = 100,
               .aws = {.stop = sky__cli_stop_flag()}};
    sky_aws_client *c = NULL;
    int rc = parse_and_check(&a, argc, argv);
    if (rc != SKY_EXIT_OK)
        goto out;
    sky__cli_catch_stop();
    c = sky__aws_cli_client(&a.aws, "monitoring", "alarm");
    if (!c || sky__cli_stopping()) { /* a signal while the client was made: nothing is sent */
        rc = SKY_EXIT_FAIL;
        goto out;
    }
    if (strcmp(a.sub, "describe") == 0) {
        rc = run_describe(&a, c);
    } else if (strcmp(a.sub, "history") == 0) {
        rc = run_history(&a, c);
    } else {
        static const struct {
            const char *sub, *op;
        } ops[] = {{"put", "PutMetricAlarm"}, {"put-composite", "PutCompositeAlarm"},
                   {"delete", "DeleteAlarms"}, {"set-state", "SetAlarmState"}};
        const char *op = NULL;
        for (size_t i = 0; i < 4; i++)
            if (strcmp(ops[i].sub, a.sub) == 0)
                op = ops[i].op;
        char cmd[48];
        snprintf(cmd, sizeof cmd, "alarm %s", a.sub);
        json_t *ans = sky__cw_call(c, cmd, op, a.body);
        rc = ans ? SKY_EXIT_OK : SKY_EXIT_FAIL;
        json_decref(ans);
    }
out:
    if (sky__cli_stopping() && rc != SKY_EXIT_OK) /* a call that was answered stands */
        rc = sky__cli_interrupted("alarm");
    sky_aws_client_free(c);
    json_decref(a.body);
    json_decref(a.names);
    return rc;
}

static int parse_and_check(aargs *a, int argc, char **argv)
{
    static const char *const subs[] = {"put", "put-composite", "describe", "history", "delete",
                                       "set-state"};
    if (argc < 2 || argv[1][0] == '-')
        return usage(a, "%s", "expected put, put-composite, describe, history, delete or "
                              "set-state");
    for (size_t i = 0; i < 6 && !a->sub; i++)
        if (strcmp(argv[1], subs[i]) == 0)
            a->sub = subs[i];
    if (!a->sub)
        return usage(a, "unknown subcommand '%s': expected put, put-composite, describe, "
                        "history, delete or set-state", argv[1]);
    json_t *b = a->body;
    char cmdname[24];
    snprintf(cmdname, sizeof cmdname, "alarm %s", a->sub);
    optind = 2;
    opterr = 0;
    for (;;) {
        int li = -1;
        int ch = getopt_long(argc, argv, "-:n:m:d:s:p:t:c:u:l:o:", opts, &li);
        if (ch == -1)
            break;
        if (ch == 1) { /* a positional argument, in place */
            json_array_append_new(a->names, json_string(optarg));
            continue;
        }
        if (ch == ':')
            return usage(a, "option '%s' needs a value", argv[optind - 1]);
        if (ch == '?') {
            sky__cli_unknown_option("alarm", argv[optind - 1], opts);
            return SKY_EXIT_USAGE;
        }
        if (sky__aws_cli_opt(&a->aws, ch, optarg))
            continue;
        /* The long name of a short option, to check it applies to this subcommand. */
        const char *lname = NULL;
        for (size_t i = 0; opts[i].name && !lname; i++)
            if (opts[i].val == ch)
                lname = opts[i].name;
        if (!lname || !allowed(a->sub, lname))
            return usage(a, "--%s does not apply here", lname ? lname : "?");
        double v;
        switch (ch) {
        case 'n': json_object_set_new(b, "Namespace", json_string(optarg)); break;
        case 'm': json_object_set_new(b, "MetricName", json_string(optarg)); break;
        case 'd': {
            json_t *dims = json_object_get(b, "Dimensions");
            if (!dims)
                json_object_set_new(b, "Dimensions", dims = json_array());
            size_t before = json_array_size(dims);
            if (!sky__cw_dimension_add(dims, optarg, false))
                return usage(a, "--dimension: '%s' is not NAME=VALUE", optarg);
            if (before == 30)
                return usage(a, "%s", "at most 30 dimensions");
            break;
        }
        case 's':
            if (!sky__cw_stat_basic(optarg) && !sky__cw_stat_percentile(optarg))
                return usage(a, "--stat: '%s' is not SampleCount, Average, Sum, Minimum, "
                                "Maximum or a percentile pNN", optarg);
            a->stat = optarg;
            json_object_set_new(b, sky__cw_stat_basic(optarg) ? "Statistic" : "ExtendedStatistic",
                                json_string(optarg));
            break;
        case 'p': {
            int64_t p;
            if (!sky__cli_int_flag(cmdname, "--period", optarg, 10, 7 * 86400, &p))
                return SKY_EXIT_USAGE;
            if (p != 10 && p != 20 && p != 30 && p % 60)
                return usage(a, "--period: '%s' must be 10, 20, 30 or a multiple of 60",
                             optarg);
            json_object_set_new(b, "Period", json_integer(p));
            break;
        }
        case O_EVALS:
        case O_DTA: {
            int64_t n;
            if (!sky__cli_int_flag(cmdname, ch == O_EVALS ? "--evaluation-periods"
                                                          : "--datapoints-to-alarm",
                                   optarg, 1, 100000, &n))
                return SKY_EXIT_USAGE;
            json_object_set_new(b, ch == O_EVALS ? "EvaluationPeriods" : "DatapointsToAlarm",
                                json_integer(n));
            break;
        }
        case 't': /* the range of the values it is compared with (CloudWatch: +-2^360) */
            if (!sky__cli_real_flag(cmdname, "--threshold", optarg, -0x1p360, 0x1p360, &v))
                return SKY_EXIT_USAGE;
            json_object_set_new(b, "Threshold", json_real(v));
            break;
        case 'c':
            if (!comparison(optarg))
                return usage(a, "--comparison: '%s' is not >, >=, <, <= or a CloudWatch "
                                "comparison operator", optarg);
            json_object_set_new(b, "ComparisonOperator", json_string(comparison(optarg)));
            break;
        case O_TMD:
            if (strcmp(optarg, "missing") && strcmp(optarg, "ignore") &&
                strcmp(optarg, "breaching") && strcmp(optarg, "notBreaching"))
                return usage(a, "--treat-missing-data: '%s' is not missing, ignore, breaching "
                                "or notBreaching", optarg);
            json_object_set_new(b, "TreatMissingData", json_string(optarg));
            break;
        case 'u': {
            sky_unit u;
            if (sky_unit_parse(optarg, &u) != SKY_OK || strcmp(sky_unit_name(u), optarg) != 0)
                return usage(a, "--unit: '%s' is not a CloudWatch unit", optarg);
            json_object_set_new(b, "Unit", json_string(optarg));
            break;
        }
        case O_RULE:
            if (strlen(optarg) < 1 || strlen(optarg) > 10240)
                return usage(a, "%s", "--rule must have 1 to 10240 characters");
            json_object_set_new(b, "AlarmRule", json_string(optarg));
            break;
        case O_DESC:
            if (strlen(optarg) > 1024)
                return usage(a, "%s", "--description must have at most 1024 characters");
            json_object_set_new(b, "AlarmDescription", json_string(optarg));
            break;
        case O_ALARM_ACT:
        case O_OK_ACT:
        case O_INS_ACT:
            if (!add_action(a, ch == O_ALARM_ACT ? "AlarmActions"
                               : ch == O_OK_ACT  ? "OKActions"
                                                 : "InsufficientDataActions",
                            optarg))
                return usage(a, "'%s': actions are ARNs (arn:...), at most 5 per state",
                             optarg);
            break;
        case O_NO_ACT: json_object_set_new(b, "ActionsEnabled", json_false()); break;
        case O_PREFIX:
            if (!sky__cw_name_ok(optarg))
                return usage(a, "%s", "--prefix must have 1 to 255 characters");
            json_object_set_new(b, "AlarmNamePrefix", json_string(optarg));
            break;
        case O_STATE:
            if (strcmp(optarg, "OK") && strcmp(optarg, "ALARM") &&
                strcmp(optarg, "INSUFFICIENT_DATA"))
                return usage(a, "--state: '%s' is not OK, ALARM or INSUFFICIENT_DATA", optarg);
            json_object_set_new(b, "StateValue", json_string(optarg));
            break;
        case O_TYPE:
            if (strcmp(optarg, "metric") && strcmp(optarg, "composite") && strcmp(optarg, "all"))
                return usage(a, "--type: '%s' is not metric, composite or all", optarg);
            a->type = optarg;
            break;
        case O_ITEM:
            if (strcmp(optarg, "ConfigurationUpdate") && strcmp(optarg, "StateUpdate") &&
                strcmp(optarg, "Action"))
                return usage(a, "--item-type: '%s' is not ConfigurationUpdate, StateUpdate or "
                                "Action", optarg);
            json_object_set_new(b, "HistoryItemType", json_string(optarg));
            break;
        case O_SINCE: a->since = optarg; break;
        case O_UNTIL: a->until = optarg; break;
        case 'l':
        {
            int64_t n;
            if (!sky__cli_int_flag(cmdname, "--limit", optarg, 1, 1000000, &n))
                return SKY_EXIT_USAGE;
            a->limit = (long)n;
        }
            break;
        case O_REASON:
            if (strlen(optarg) > 1023)
                return usage(a, "%s", "--reason must have at most 1023 characters");
            json_object_set_new(b, "StateReason", json_string(optarg));
            break;
        case O_REASON_DATA: {
            json_t *j = strlen(optarg) <= 4000 ? json_loads(optarg, 0, NULL) : NULL;
            if (!j)
                return usage(a, "%s", "--reason-data must be JSON of at most 4000 characters");
            json_decref(j);
            json_object_set_new(b, "StateReasonData", json_string(optarg));
            break;
        }
        case 'o':
            if (!sky__out_parse(optarg, &a->out))
                return usage(a, "--output: expected table, json or csv, got '%s'", optarg);
            break;
        default: return SKY_EXIT_USAGE;
        }
    }
    /* What each subcommand needs. */
    size_t nn = json_array_size(a->names);
    size_t i;
    json_t *nj;
    json_array_foreach(a->names, i, nj) if (!sky__cw_name_ok(json_string_value(nj))) return usage(
        a, "'%s': alarm names have 1 to 255 characters", json_string_value(nj));
    const char *sub = a->sub;
    json_t *b2 = a->body;
    if (strcmp(sub, "put") == 0 || strcmp(sub, "put-composite") == 0 ||
        strcmp(sub, "set-state") == 0) {
        if (nn != 1)
            return usage(a, "%s", "give exactly one alarm NAME");
        json_object_set(b2, "AlarmName", json_array_get(a->names, 0));
    }
    if (strcmp(sub, "put") == 0) {
        static const char *const req[] = {"Namespace", "MetricName", "Period", "Threshold",
                                          "ComparisonOperator"};
        static const char *const flag[] = {"--namespace", "--metric", "--period", "--threshold",
                                           "--comparison"};
        for (size_t k = 0; k < 5; k++)
            if (!json_object_get(b2, req[k]))
                return usage(a, "%s is required", flag[k]);
        if (!a->stat)
            return usage(a, "%s", "--stat is required");
        if (!sky__cw_name_ok(json_string_value(json_object_get(b2, "Namespace"))) ||
            !sky__cw_name_ok(json_string_value(json_object_get(b2, "MetricName"))))
            return usage(a, "%s", "namespace and metric names have 1 to 255 characters");
        json_t *e = json_object_get(b2, "EvaluationPeriods");
        if (!e)
            json_object_set_new(b2, "EvaluationPeriods", e = json_integer(1));
        json_t *d = json_object_get(b2, "DatapointsToAlarm");
        if (d && json_integer_value(d) > json_integer_value(e))
            return usage(a, "%s", "--datapoints-to-alarm must not exceed --evaluation-periods");
        if (json_integer_value(json_object_get(b2, "Period")) * json_integer_value(e) >
            7 * 86400)
            return usage(a, "%s", "--period x --evaluation-periods must not exceed 7 days");
    }
    if (strcmp(sub, "put-composite") == 0 && !json_object_get(b2, "AlarmRule"))
        return usage(a, "%s", "--rule is required");
    if (strcmp(sub, "set-state") == 0 &&
        (!json_object_get(b2, "StateValue") || !json_object_get(b2, "StateReason")))
        return usage(a, "%s", "--state and --reason are required");
    if (strcmp(sub, "delete") == 0) {
        if (nn < 1 || nn > 100)
            return usage(a, "%s", "give 1 to 100 alarm names");
        json_object_set(b2, "AlarmNames", a->names);
    }
    if (strcmp(sub, "describe") == 0 && nn > 100)
        return usage(a, "%s", "at most 100 alarm names");
    if (strcmp(sub, "describe") == 0 && nn && json_object_get(b2, "AlarmNamePrefix"))
        return usage(a, "%s", "alarm names and --prefix cannot be combined");
    if (strcmp(sub, "history") == 0) {
        if (nn > 1)
            return usage(a, "%s", "history takes at most one alarm NAME");
        int64_t now = sky_now_ns() / 1000000, ms;
        if (a->since) {
            if (!sky__parse_when(a->since, now, &ms))
                return usage(a, "--since: cannot read the time '%s'", a->since);
            json_object_set_new(b2, "StartDate", json_real((double)ms / 1000));
        }
        if (a->until) {
            if (!sky__parse_when(a->until, now, &ms))
                return usage(a, "--until: cannot read the time '%s'", a->until);
            json_object_set_new(b2, "EndDate", json_real((double)ms / 1000));
        }
    }
    return SKY_EXIT_OK;
}

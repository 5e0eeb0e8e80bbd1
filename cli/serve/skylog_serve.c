/*
 * skylog_serve.c - the `skylog-serve` program, which `skylog serve` runs (cli/cmd_serve.c execs
 * it with the same arguments): turns command-line options into sky__serve_opts and runs the
 * local endpoint (server/serve.c). Only option parsing and defaults live here, so the server can
 * be started the same way from tests or other commands.
 *
 * The endpoint is a program of its own so that only it maps libmicrohttpd, GnuTLS and SQLite
 * (about 2.6 MiB of RSS, with their dependencies): `skylog ship` and `tail` must not pay for a
 * server they never run (issue 13: ship's RSS with TLS). Its messages say "skylog serve", the
 * command the user typed; its help is the one `skylog help serve` prints (cli/cmd_serve.c).
 */
#include "cli.h"
#include "serve.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    OPT_HOST = 1000, OPT_PORT, OPT_DATA, OPT_AUTH, OPT_ACCESS, OPT_SECRET, OPT_REGION,
    OPT_BEARER, OPT_FAULTS, OPT_SEED, OPT_MAX_EVENT, OPT_TLS_CERT, OPT_TLS_KEY,
    OPT_ALARM_INTERVAL,
};

static const struct option long_opts[] = {
    {"host", required_argument, NULL, OPT_HOST},
    {"port", required_argument, NULL, OPT_PORT},
    {"data", required_argument, NULL, OPT_DATA},
    {"auth", required_argument, NULL, OPT_AUTH},
    {"access-key", required_argument, NULL, OPT_ACCESS},
    {"secret-key", required_argument, NULL, OPT_SECRET},
    {"region", required_argument, NULL, OPT_REGION},
    {"bearer-token", required_argument, NULL, OPT_BEARER},
    {"faults", required_argument, NULL, OPT_FAULTS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"max-event-bytes", required_argument, NULL, OPT_MAX_EVENT},
    {"alarm-interval", required_argument, NULL, OPT_ALARM_INTERVAL},
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int usage_error(const char *fmt, const char *arg)
{
    fputs("skylog serve: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs(" (see skylog serve --help)\n", stderr);
    return SKY_EXIT_USAGE;
}

/* The default data directory follows the XDG base directory spec, so `skylog serve` with no
 * options keeps its data where a user would look for it. Returned string is malloc'd. */
static char *default_data_dir(void)
{
    const char *xdg = getenv("XDG_DATA_HOME");
    const char *home = getenv("HOME");
    char buf[PATH_MAX];
    if (xdg && *xdg)
        snprintf(buf, sizeof buf, "%s/skylog/serve", xdg);
    else if (home && *home)
        snprintf(buf, sizeof buf, "%s/.local/share/skylog/serve", home);
    else
        snprintf(buf, sizeof buf, ".skylog-serve");
    return strdup(buf);
}

int main(int argc, char **argv)
{
    sky__serve_opts o = {
        .host = "127.0.0.1",
        .port = 4566,
        .auth = SKY__AUTH_SIGV4,
        .access_key = "skylogtest",
        .secret_key = "skylogtest",
        .seed = 1,
        .max_event_bytes = 1048576,
        .alarm_interval_ms = 10000,
        .region = "us-east-1",
        .account_id = "123456789012",
    };
    int64_t v;
    optind = 1;
    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, ":hv", long_opts, NULL);
        if (c == -1)
            break;
        switch (c) {
        case 'h': fputs(sky__serve_help, stdout); return SKY_EXIT_OK;
        case 'v': o.log_requests = true; break;
        case OPT_HOST: o.host = optarg; break;
        case OPT_PORT:
            if (!sky__cli_int_flag("serve", "--port", optarg, 0, 65535, &v))
                return SKY_EXIT_USAGE;
            o.port = (int)v;
            break;
        case OPT_DATA: o.data_dir = optarg; break;
        case OPT_AUTH:
            if (strcmp(optarg, "none") == 0)
                o.auth = SKY__AUTH_NONE;
            else if (strcmp(optarg, "sigv4") == 0)
                o.auth = SKY__AUTH_SIGV4;
            else
                return usage_error("invalid --auth '%s' (sigv4 or none)", optarg);
            break;
        case OPT_ACCESS: o.access_key = optarg; break;
        case OPT_SECRET: o.secret_key = optarg; break;
        case OPT_REGION: o.region = optarg; break;
        case OPT_BEARER: o.bearer_token = optarg; break;
        case OPT_FAULTS: o.faults = optarg; break;
        case OPT_SEED:
            if (!sky__cli_int_flag("serve", "--seed", optarg, 0, INT64_MAX, &v))
                return SKY_EXIT_USAGE;
            o.seed = (uint64_t)v;
            break;
        case OPT_MAX_EVENT:
            if (!sky__cli_int_flag("serve", "--max-event-bytes", optarg, 1, 64 << 20, &v))
                return SKY_EXIT_USAGE;
            o.max_event_bytes = (size_t)v;
            break;
        case OPT_ALARM_INTERVAL:
            if (!sky__cli_int_flag("serve", "--alarm-interval", optarg, 0, 86400, &v))
                return SKY_EXIT_USAGE;
            o.alarm_interval_ms = (int64_t)v * 1000;
            break;
        case OPT_TLS_CERT: o.tls_cert = optarg; break;
        case OPT_TLS_KEY: o.tls_key = optarg; break;
        case ':': return usage_error("option '%s' needs a value", argv[optind - 1]);
        default: sky__cli_unknown_option("serve", argv[optind - 1], long_opts); return SKY_EXIT_USAGE;
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    if (!o.tls_cert != !o.tls_key)
        return usage_error("%s", "--tls-cert and --tls-key go together");
    char *data = NULL;
    if (!o.data_dir) {
        data = default_data_dir();
        if (!data) {
            fprintf(stderr, "skylog serve: out of memory\n");
            return SKY_EXIT_FAIL;
        }
        o.data_dir = data;
    }
    int rc = sky__serve_run(&o);
    free(data);
    return rc;
}

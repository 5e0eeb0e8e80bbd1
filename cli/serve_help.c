/*
 * serve_help.c - the help of `skylog serve`, in a file of its own because two programs print
 * it: `skylog` (help, man page, completion: cli/cmd_serve.c) and `skylog-serve`, which runs the
 * endpoint (cli/serve/skylog_serve.c). Its options are parsed there.
 */
#include "cli.h"

const char sky__serve_help[] =
    "usage: skylog serve [options]\n"
    "\n"
    "Runs a local endpoint that speaks the CloudWatch Logs (awsJson1.1) and CloudWatch metrics\n"
    "(awsJson1.0 and awsQuery) APIs, plus the HTTP ingestion endpoints /ingest/bulk (ND-JSON),\n"
    "/v1/logs and /v1/traces (OTLP/HTTP logs and traces, JSON or protobuf; a span is stored as\n"
    "a JSON event). Data is kept in SQLite (WAL) under --data and survives restarts. The first\n"
    "line on stdout is the endpoint URL; SIGINT/SIGTERM stop it cleanly.\n"
    "\n"
    "options:\n"
    "  --host ADDR           address to bind (default 127.0.0.1; loopback unless told)\n"
    "  --port N              port; 0 picks a free one (default 4566)\n"
    "  --data DIR            database directory (default $XDG_DATA_HOME/skylog/serve or\n"
    "                        ~/.local/share/skylog/serve)\n"
    "  --auth sigv4|none     require SigV4-signed requests (default sigv4)\n"
    "  --access-key K        the accepted access key id (default skylogtest)\n"
    "  --secret-key S        its secret (default skylogtest)\n"
    "  --region R            region in ARNs and signatures (default us-east-1)\n"
    "  --bearer-token T      also accept 'Authorization: Bearer T' on /ingest/bulk, /v1/logs,\n"
    "                        /v1/traces\n"
    "  --faults SPEC         inject faults: comma-separated throttle=P,error=P,reset=P,\n"
    "                        reset_after=P (probabilities 0..1) and latency=DUR (20ms, 1s)\n"
    "  --seed N              seed of the fault RNG (same seed, same decisions; default 1)\n"
    "  --max-event-bytes N   PutLogEvents per-event size limit (default 1048576)\n"
    "  --alarm-interval SECONDS\n"
    "                        how often alarms are evaluated (default 10; 0: never)\n"
    "  --tls-cert F --tls-key F\n"
    "                        serve HTTPS with these PEM files\n"
    "  -v, --verbose         log one line per request on stderr\n"
    "  -h, --help            this help\n"
    "\n"
    "examples:\n"
    "  skylog serve --port 0 --auth none --data /tmp/sky\n"
    "  aws --endpoint-url http://127.0.0.1:4566 logs describe-log-groups\n"
    "  skylog serve --port 0 --faults throttle=0.1,error=0.05,latency=20ms --seed 7\n";

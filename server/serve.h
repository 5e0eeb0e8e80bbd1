/*
 * serve.h - the local CloudWatch-compatible endpoint behind `skylog serve`: its options and its
 * entry point. The CLI (cli/cmd_serve.c) fills the options; everything else lives in server/.
 *
 * The server never exits the process itself: sky__serve_run() returns when SIGINT/SIGTERM
 * arrive (or start-up fails) and the caller turns the result into an exit code.
 */
#ifndef SKY_SERVE_H
#define SKY_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum sky__auth_mode { SKY__AUTH_NONE = 0, SKY__AUTH_SIGV4 } sky__auth_mode;

typedef struct sky__serve_opts {
    const char *host;         /* address to bind; default 127.0.0.1 */
    int port;                 /* 0 picks a free port */
    const char *data_dir;     /* where the SQLite database lives (created if missing) */
    sky__auth_mode auth;
    const char *access_key;   /* sigv4: the one accepted key pair */
    const char *secret_key;
    const char *bearer_token; /* accepted by /ingest/bulk and /v1/logs when set */
    const char *faults;       /* fault spec, see faults.h; NULL = none */
    uint64_t seed;            /* fault RNG seed */
    const char *tls_cert;     /* PEM files; both or neither */
    const char *tls_key;
    size_t max_event_bytes;   /* PutLogEvents per-event limit; default 1 MiB */
    const char *region;       /* reported in ARNs and expected in signatures; default us-east-1 */
    const char *account_id;   /* reported in ARNs; default 123456789012 */
    bool log_requests;        /* one stderr line per request (method, path, target, status) */
    int64_t alarm_interval_ms; /* alarms evaluated this often (alarms.c); 0 = never */
} sky__serve_opts;

/* Runs the server until SIGINT/SIGTERM. Prints the endpoint URL as the first stdout line.
 * Returns 0 on a clean stop, 1 when it could not start (the reason is on stderr). */
int sky__serve_run(const sky__serve_opts *opts);

#endif

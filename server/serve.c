/*
 * serve.c - start-up and shutdown of `skylog serve` (see serve.h): opens the store, parses the
 * fault spec, starts the HTTP daemon, prints the URL, waits for SIGINT/SIGTERM, stops.
 *
 * Signals are blocked in every thread before the daemon starts and collected with sigwait() on
 * this thread, so no handler ever runs in the middle of a request and shutdown is an ordinary
 * function call (libmicrohttpd finishes in-flight requests, then SQLite closes cleanly).
 */
#include "serve.h"

#include "alarms.h"
#include "faults.h"
#include "http.h"
#include "insights_api.h"
#include "server.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sky__serve_run(const sky__serve_opts *o)
{
    sky__server srv = {.opts = o};
    char err[512];
    char *serr = NULL;
    int rc = 1;
    sky__http *http = NULL;
    sky__alarm_timer *alarms = NULL;

    if (o->faults && *o->faults) {
        srv.faults = sky__faults_new(o->faults, o->seed, err, sizeof err);
        if (!srv.faults) {
            fprintf(stderr, "skylog serve: --faults: %s\n", err);
            return 2;
        }
    }
    if (sky__store_open(o->data_dir, &srv.store, &serr) != SKY_OK) {
        fprintf(stderr, "skylog serve: cannot open the data directory: %s\n",
                serr ? serr : "unknown error");
        free(serr);
        goto out;
    }

    srv.insights = sky__insights_new(srv.store, o->account_id, o->region);
    if (!srv.insights) {
        fprintf(stderr, "skylog serve: out of memory\n");
        goto out;
    }

    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN); /* a client that hangs up must not kill the server */

    if (o->alarm_interval_ms > 0 && !(alarms = sky__alarm_timer_start(&srv, o->alarm_interval_ms))) {
        fprintf(stderr, "skylog serve: cannot start the alarm evaluation thread\n");
        goto out;
    }
    int port = 0;
    http = sky__http_start(&srv, &port, err, sizeof err);
    if (!http) {
        fprintf(stderr, "skylog serve: %s\n", err);
        goto out;
    }
    const char *scheme = o->tls_cert ? "https" : "http";
    bool v6 = strchr(o->host, ':') != NULL;
    /* The built-in test secret is printed so users can configure clients; a secret the user
     * chose is theirs and never echoed. */
    bool default_secret = strcmp(o->secret_key, "skylogtest") == 0;
    if (o->auth == SKY__AUTH_SIGV4)
        fprintf(stderr,
                "skylog serve: listening on %s://%s:%d (data %s); SigV4 required: access key "
                "'%s', secret key %s%s%s, region %s\n",
                scheme, o->host, port, o->data_dir, o->access_key, default_secret ? "'" : "",
                default_secret ? o->secret_key : "(as given with --secret-key)",
                default_secret ? "'" : "", o->region);
    else
        fprintf(stderr, "skylog serve: listening on %s://%s:%d (data %s); no authentication\n",
                scheme, o->host, port, o->data_dir);
    if (o->bearer_token)
        fprintf(stderr, "skylog serve: /ingest/bulk, /v1/logs and /v1/traces also accept the bearer token\n");
    if (srv.faults)
        fprintf(stderr, "skylog serve: injecting faults '%s' with seed %llu\n", o->faults,
                (unsigned long long)o->seed);
    /* The URL is the first stdout line and flushed at once: scripts and tests read it to learn
     * the port picked by --port 0. It comes after the stderr lines above, so whoever has read
     * the URL can also read the keys and the banner. Everything else goes to stderr. */
    printf("%s://%s%s%s:%d\n", scheme, v6 ? "[" : "", o->host, v6 ? "]" : "", port);
    fflush(stdout);

    int sig = 0;
    while (sigwait(&stop, &sig) != 0)
        ;
    fprintf(stderr, "skylog serve: %s received, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    rc = 0;
out:
    sky__http_stop(http);
    sky__alarm_timer_stop(alarms); /* before the store it reads closes */
    sky__insights_free(srv.insights); /* after HTTP: no request can start a query now */
    sky__store_close(srv.store);
    sky__faults_free(srv.faults);
    return rc;
}

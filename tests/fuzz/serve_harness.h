/*
 * serve_harness.h - what the server's fuzz targets share: a sky__server with a real SQLite
 * store in a private temporary directory (one group "g" with a stream "s", so bodies that name
 * them reach the deep paths), and requests built from fuzz input without libmicrohttpd.
 *
 * Deterministic and single-threaded: no network, no clock-dependent branching beyond what the
 * handlers do themselves. The store is recreated every RESET_EVERY inputs so it cannot grow
 * without bound during a long run. Header-only (static functions) because each fuzz_*.c is
 * linked on its own with skylog_server.
 */
#ifndef SKY_FUZZ_SERVE_HARNESS_H
#define SKY_FUZZ_SERVE_HARNESS_H

#include "metrics_api.h"
#include "reply.h"
#include "server.h"
#include "store.h"

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define RESET_EVERY 2000

static sky__serve_opts fz_opts = {
    .host = "127.0.0.1",
    .auth = SKY__AUTH_NONE,
    .access_key = "skylogtest",
    .secret_key = "skylogtest",
    .max_event_bytes = 1048576,
    .region = "us-east-1",
    .account_id = "123456789012",
};
static sky__server fz_srv = {.opts = &fz_opts};
static char fz_dir[64];
static unsigned fz_count;

static inline int fz_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline void fz_cleanup(void)
{
    if (fz_srv.store)
        sky__store_close(fz_srv.store);
    fz_srv.store = NULL;
    if (fz_dir[0])
        nftw(fz_dir, fz_rm, 8, FTW_DEPTH | FTW_PHYS);
}

static inline void fz_exec(const char *sql)
{
    sqlite3 *db = sky__store_lock(fz_srv.store);
    sqlite3_exec(db, sql, NULL, NULL, NULL);
    sky__store_unlock(fz_srv.store);
}

/* The server, with a fresh store every RESET_EVERY calls. */
static inline sky__server *fz_server(void)
{
    if (fz_srv.store && ++fz_count % RESET_EVERY != 0)
        return &fz_srv;
    if (!fz_dir[0]) {
        snprintf(fz_dir, sizeof fz_dir, "%s/skylog-fuzz-XXXXXX",
                 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(fz_dir)) {
            perror("mkdtemp");
            abort();
        }
        atexit(fz_cleanup);
    } else {
        sky__store_close(fz_srv.store);
        nftw(fz_dir, fz_rm, 8, FTW_DEPTH | FTW_PHYS);
        mkdir(fz_dir, 0700);
    }
    char *err = NULL;
    if (sky__store_open(fz_dir, &fz_srv.store, &err) != SKY_OK) {
        fprintf(stderr, "fuzz harness: cannot open the store: %s\n", err ? err : "?");
        abort();
    }
    fz_exec("INSERT OR IGNORE INTO log_groups(name, created) VALUES('g', 0);"
            "INSERT OR IGNORE INTO log_streams(group_id, name, created) "
            "SELECT id, 's', 0 FROM log_groups WHERE name='g';");
    return &fz_srv;
}

static inline const char *fz_header(const sky__request *req, const char *name)
{
    for (size_t i = 0; i < req->n_headers; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

/* A POST request carrying `body` (copied, NUL-terminated) with the given headers. */
static inline sky__request fz_request(const char *path, const sky_aws_header *h, size_t nh,
                               char *body, size_t len)
{
    sky__request req = {
        .method = "POST", .path = path, .raw_path = path, .query = "",
        .body = body, .body_len = len, .raw_body = body, .raw_len = len,
        .header = fz_header, .headers = h, .n_headers = nh, .server = fz_server(), .id = 1,
    };
    return req;
}

/* A NUL-terminated copy of fuzz bytes (handlers may rely on the NUL after the body). */
static inline char *fz_copy(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* Splits "first line\nrest": the line into buf (cut to cap-1), returns the rest. */
static inline const uint8_t *fz_line(const uint8_t *data, size_t *size, char *buf, size_t cap)
{
    const uint8_t *nl = memchr(data, '\n', *size);
    size_t n = nl ? (size_t)(nl - data) : *size;
    size_t k = n < cap - 1 ? n : cap - 1;
    memcpy(buf, data, k);
    buf[k] = '\0';
    for (size_t i = 0; i < k; i++)
        if (buf[i] == '\0')
            buf[i] = '_';
    size_t used = nl ? n + 1 : n;
    *size -= used;
    return data + used;
}

/* The CloudWatch metrics input of fuzz_serve_metrics and fuzz_serve_alarms: "Q\n<form body>"
 * for awsQuery (Action=... inside), or "<Operation>\n<JSON body>" for awsJson1.0, through
 * sky__metrics_handle; the reply is dropped. Returns the server the request went to. */
static inline sky__server *fz_metrics_call(const uint8_t *data, size_t size)
{
    char op[64];
    data = fz_line(data, &size, op, sizeof op);
    bool query = strcmp(op, "Q") == 0;
    char *body = fz_copy(data, size);
    sky_aws_header hq[] = {{"Content-Type", "application/x-www-form-urlencoded"}};
    sky_aws_header hj[] = {{"X-Amz-Target", "GraniteServiceVersion20100801.x"},
                           {"Content-Type", "application/x-amz-json-1.0"}};
    sky__request req = fz_request("/", query ? hq : hj, query ? 1 : 2, body, size);
    sky__reply r = {0};
    sky__metrics_handle(&req, query ? SKY__API_METRICS_QUERY : SKY__API_METRICS_JSON,
                        query ? NULL : op, &r);
    sky__reply_clear(&r);
    free(body);
    return req.server;
}

#endif

/*
 * metrics_statsd.c - the StatsD / DogStatsD output: a sink that ignores log events and, at each
 * metrics flush, sends the registry's datums as StatsD lines over UDP, packed into datagrams
 * (see skylog/metrics.h for the line format). A histogram goes out as its distinct values with
 * a sample rate of 1/count, so the agent's counts stay those recorded.
 */
#include "core/errmsg.h"
#include "core/reserved.h"
#include "metrics/metrics_internal.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct statsd {
    sky_metrics *m;
    int fd;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    bool tags;
    size_t max_packet;
    char *pkt;
    size_t used;
    pthread_mutex_t mu; /* stats */
    uint64_t lines, packets, errors;
} statsd;

/* Appends `s` with the characters StatsD gives a meaning to replaced. */
static size_t put_clean(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    for (; *s && n < cap; s++)
        out[n++] = strchr(":|@#,\n", *s) ? '_' : *s;
    return n;
}

static void send_packet(statsd *s)
{
    if (!s->used)
        return;
    ssize_t w = sendto(s->fd, s->pkt, s->used, 0, (struct sockaddr *)&s->addr, s->addr_len);
    pthread_mutex_lock(&s->mu);
    if (w == (ssize_t)s->used)
        s->packets++;
    else
        s->errors++;
    pthread_mutex_unlock(&s->mu);
    s->used = 0;
}

static void add_line(statsd *s, const char *line, size_t len)
{
    if (!len) { /* longer than a datagram: never sent cut */
        pthread_mutex_lock(&s->mu);
        s->errors++;
        pthread_mutex_unlock(&s->mu);
        return;
    }
    if (s->used && s->used + 1 + len > s->max_packet)
        send_packet(s);
    if (s->used)
        s->pkt[s->used++] = '\n';
    memcpy(s->pkt + s->used, line, len);
    s->used += len;
    pthread_mutex_lock(&s->mu);
    s->lines++;
    pthread_mutex_unlock(&s->mu);
}

static bool is_time(sky_unit u)
{
    return u == SKY_UNIT_SECONDS || u == SKY_UNIT_MILLISECONDS || u == SKY_UNIT_MICROSECONDS;
}

/* Formats one line into buf (max_packet + 1 bytes); its length, 0 if it does not fit a packet. */
static size_t format(statsd *s, const sky_metric_datum *d, double v, const char *type,
                     double rate, char *buf)
{
    size_t cap = s->max_packet, n = put_clean(buf, cap, d->ns);
    if (n < cap)
        buf[n++] = '.';
    n += put_clean(buf + n, cap - n, d->name);
    if (n < cap)
        n += (size_t)snprintf(buf + n, cap - n, ":%.17g|%s", v, type);
    if (rate < 1 && n < cap)
        n += (size_t)snprintf(buf + n, cap - n, "|@%.17g", rate);
    for (size_t i = 0; s->tags && i < d->n_dims && n < cap; i++) {
        n += (size_t)snprintf(buf + n, cap - n, "%s", i ? "," : "|#");
        n += n < cap ? put_clean(buf + n, cap - n, d->dims[i].name) : 0;
        if (n < cap)
            buf[n++] = ':';
        n += n < cap ? put_clean(buf + n, cap - n, d->dims[i].value) : 0;
    }
    return n < cap ? n : 0;
}

static sky_status deliver(void *user, const sky_metric_datum *d, size_t n, int64_t deadline_ns)
{
    (void)deadline_ns;
    statsd *s = user;
    char *line = malloc(s->max_packet + 1);
    if (!line)
        return SKY_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (d[i].kind == SKY_METRIC_HISTOGRAM) {
            const char *type = is_time(d[i].unit) ? "ms" : "h";
            for (size_t k = 0; k < d[i].n_values; k++)
                add_line(s, line, format(s, &d[i], d[i].values[k], type, 1 / d[i].counts[k], line));
        } else {
            add_line(s, line,
                     format(s, &d[i], d[i].value, d[i].kind == SKY_METRIC_COUNTER ? "c" : "g", 1,
                            line));
        }
    }
    send_packet(s);
    free(line);
    return SKY_OK;
}

static sky_status sd_write(void *self, const sky_record *r, size_t n)
{
    (void)self, (void)r, (void)n; /* log events are not metrics */
    return SKY_OK;
}

static sky_status sd_flush(void *self, int64_t deadline_ns)
{
    statsd *s = self;
    return sky_metrics_flush(s->m, deadline_ns);
}

static void sd_free(statsd *s)
{
    if (s->fd >= 0)
        close(s->fd);
    pthread_mutex_destroy(&s->mu);
    free(s->pkt);
    free(s);
}

static void sd_close(void *self)
{
    statsd *s = self;
    sky_metrics_flush(s->m, sky_monotonic_ns() + 1000000000);
    sky__metrics_detach(s->m, s);
    sd_free(s);
}

static void sd_stats(void *self, sky_sink_stats *out)
{
    statsd *s = self;
    pthread_mutex_lock(&s->mu);
    out->written = s->lines;
    out->errors = s->errors;
    pthread_mutex_unlock(&s->mu);
}

static const sky_sink_vtable statsd_vt = {.type = "metrics_statsd", .write = sd_write,
                                          .flush = sd_flush, .close = sd_close,
                                          .stats = sd_stats};

static sky_status sink_metrics_statsd_body(const sky_statsd_opts *opts, sky_sink **out,
                                           char **errmsg)
{
    sky_statsd_opts o = opts ? *opts : (sky_statsd_opts){0};
    char err[300] = "";
    if (errmsg)
        *errmsg = NULL;
    if (!out)
        return SKY_EINVAL;
    if (SKY__CHECK_RESERVED(&o, sky_statsd_opts, NULL, errmsg) != SKY_OK)
        return SKY_EINVAL;
    if (o.port < 0 || o.port > 65535 || (o.max_packet && (o.max_packet < 64 || o.max_packet > 65000)) ||
        (o.flush_interval_ms && o.flush_interval_ms < 1000)) {
        if (errmsg)
            *errmsg = strdup("metrics_statsd: port 1-65535, max_packet 64-65000, flush_interval "
                             "at least 1s");
        return SKY_EINVAL;
    }
    statsd *s = calloc(1, sizeof *s);
    if (!s)
        return SKY_ENOMEM;
    s->fd = -1;
    pthread_mutex_init(&s->mu, NULL);
    s->m = o.metrics ? o.metrics : sky_metrics_default();
    s->tags = !o.no_tags;
    s->max_packet = o.max_packet ? o.max_packet : 1432;
    s->pkt = malloc(s->max_packet);
    char port[8];
    snprintf(port, sizeof port, "%d", o.port ? o.port : 8125);
    struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *ai = NULL;
    int gai = getaddrinfo(o.host ? o.host : "127.0.0.1", port, &hints, &ai);
    sky_status st = SKY_OK;
    if (!s->pkt) {
        st = SKY_ENOMEM;
    } else if (gai != 0) {
        snprintf(err, sizeof err, "metrics_statsd: %.100s: %.150s", o.host, gai_strerror(gai));
        st = SKY_EINVAL;
    } else {
        s->fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        memcpy(&s->addr, ai->ai_addr, ai->ai_addrlen);
        s->addr_len = ai->ai_addrlen;
        if (s->fd < 0) {
            snprintf(err, sizeof err, "metrics_statsd: socket: %s", strerror(errno));
            st = SKY_EIO;
        }
    }
    if (ai)
        freeaddrinfo(ai);
    if (st != SKY_OK) {
        sd_free(s);
        if (errmsg && err[0])
            *errmsg = strdup(err);
        return st;
    }
    sky_sink *sk = sky_sink_new(&statsd_vt, s, SKY_FORMAT_NONE);
    if (!sk)
        return SKY_ENOMEM;
    if (sky__metrics_attach(s->m, deliver, s, o.flush_interval_ms) != SKY_OK) {
        sky_sink_close(sk);
        return SKY_ENOMEM;
    }
    *out = sk;
    return SKY_OK;
}

sky_status sky_sink_metrics_statsd(const sky_statsd_opts *opts, sky_sink **out, char **errmsg)
{
    char *mine = NULL;
    sky_status st = sink_metrics_statsd_body(opts, out, errmsg ? errmsg : &mine);
    return sky__errmsg_route(NULL, st, mine);
}

/*
 * bench_spool.c - what the CloudWatch sink's crash-safe spool costs per event (docs/
 * DURABILITY.md), by fsync policy: `bench_spool MODE [EVENTS] [BATCH]`, MODE one of off, none,
 * batch, interval.
 *
 * The sink runs over a transport that answers every PutLogEvents at once (no network: what is
 * measured is the sink and its spool), with sync_upload so that queueing, the spool's append,
 * sending and the acknowledgement all run in run_events() on this thread: callgrind's
 * inclusive count of run_events divided by EVENTS is the cost per event, all of it
 * (`valgrind --tool=callgrind --collect-atstart=no --toggle-collect=run_events`). Events are
 * 200-byte JSON lines written BATCH (default 256) at a time through the sink's write(), as the
 * async worker hands them over. Prints wall-clock ns per event too (fdatasync is kernel time,
 * which callgrind does not count).
 */
#include "core/pipeline.h"
#include "sinks/cwl_transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t stored;

static sky_status ack_all(void *self, const sky__cwl_call *cl, sky__cwl_result *out)
{
    (void)self;
    out->status = SKY_OK;
    out->http_status = 200;
    if (strcmp(cl->op, "PutLogEvents") == 0)
        stored++;
    return SKY_OK;
}

static void no_free(void *self) { (void)self; }

__attribute__((noinline)) static void run_events(sky_sink *s, long n, size_t batch,
                                                 const char *line, size_t len)
{
    sky_record *recs = calloc(batch, sizeof *recs);
    for (size_t i = 0; i < batch; i++)
        recs[i] = (sky_record){.event = NULL, .text = line, .len = len};
    for (long done = 0; done < n;) {
        size_t k = (size_t)(n - done) < batch ? (size_t)(n - done) : batch;
        s->vt->write(s->self, recs, k);
        done += (long)k;
    }
    sky_sink_flush(s, 60000);
    free(recs);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "none";
    long n = argc > 2 ? atol(argv[2]) : 100000;
    size_t batch = argc > 3 ? (size_t)atol(argv[3]) : 256;
    char path[64];
    snprintf(path, sizeof path, "/tmp/bench_spool_%d.spool", (int)getpid());
    sky_cwl_opts o = {.log_group = "/bench/spool", .log_stream = "s", .sync_upload = true,
                      .flush_interval_ms = 600000, .spool_max_bytes = 64u << 20};
    if (strcmp(mode, "off") != 0) {
        o.spool_path = path;
        o.spool_fsync = strcmp(mode, "batch") == 0      ? SKY_CWL_FSYNC_BATCH
                        : strcmp(mode, "interval") == 0 ? SKY_CWL_FSYNC_INTERVAL
                                                        : SKY_CWL_FSYNC_NONE;
    }
    sky_sink *s = NULL;
    char *err = NULL;
    sky__cwl_transport t = {.call = ack_all, .free = no_free};
    if (sky__sink_cloudwatch_logs_with(&o, t, &s, &err) != SKY_OK) {
        fprintf(stderr, "%s\n", err ? err : "sink");
        return 1;
    }
    /* a 200-byte JSON line, the shape of the benchmark's events */
    char line[201];
    int l = snprintf(line, sizeof line,
                     "{\"timestamp\":\"2026-12-07T08:00:00.000Z\",\"level\":\"INFO\",\"logger\":"
                     "\"app\",\"message\":\"request_done\",\"method\":\"GET\",\"path\":"
                     "\"/api/v1/orders\",\"status\":200,\"duration_ms\":12.5,\"user\":\"u-42\"}");
    while (l < 200)
        line[l++] = ' ';
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    run_events(s, n, batch, line, 200);
    clock_gettime(CLOCK_MONOTONIC, &b);
    sky_cwl_stats st;
    sky_cwl_stats_get(s, &st);
    double ns = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / (double)n;
    printf("mode=%s events=%ld batch=%zu sent=%llu requests=%llu spool_used=%llu ns/event=%.1f\n",
           mode, n, batch, (unsigned long long)st.sent_events, (unsigned long long)stored,
           (unsigned long long)st.spool_used_bytes, ns);
    sky_cwl_close(s, NULL);
    unlink(path);
    return st.sent_events == (uint64_t)n ? 0 : 1;
}

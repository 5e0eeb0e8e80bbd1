/*
 * sky_spool_producer.c - an application logging sequence-numbered events to the CloudWatch
 * Logs sink with a crash-safe spool, for tests/integration/test_spool_kill.py (the kill and
 * outage tests of docs/DURABILITY.md).
 *
 *   sky_spool_producer ENDPOINT SPOOL ACCEPTED_FILE RUN [SPOOL_BYTES] [PAD] [RING_SPOOL]
 *
 * A synchronous pipeline (sky_info returns once the sink has the event in its spool) with one
 * CloudWatch sink: group /skylog/spool, stream "spool-test". Event i of run RUN carries
 * seq = RUN * 1000000 + i. After each sky_info() the sink's counters say whether it accepted
 * the event; an accepted one's seq is appended (one write(2) of one line) to ACCEPTED_FILE, so
 * what survives a SIGKILL there is a subset of what the spool holds.
 * With RING_SPOOL the pipeline is asynchronous and its ring is kept in that file
 * (ring_spool_path, 1 MiB, overflow "block" for up to an hour): an event is accepted when
 * sky_info() returns, and recorded then. Commands on stdin, one a
 * line, each answered with one line on stdout:
 *   put N     log N events             -> "put accepted=A refused=R"
 *   run N     log N events, pausing 200 us every 10 (room for a kill to land mid-run), then
 *             flush and wait for stdin to close            -> nothing until then
 *   flush [MS]  sky_flush(MS, default 60 s)            -> "flush STATUS"
 *   stats     the sink's counters      -> one JSON object (with VmHWM/VmRSS in KiB)
 *   quit [MS]   sky_flush(MS, default 60 s), the last stats, sky_close, then exit 0
 * (the tests give flush and quit a bound only a hang reaches: the delivery's time is the
 * machine's, and the stats a test checks are taken after the flush)
 * Exit 1 with the sink's message on stderr when it cannot be created (a spool in use).
 */
#include <skylog.h>
#include <skylog/cloudwatch.h>

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static sky_sink *cw;
static sky_t *sky;
static int accepted_fd;

static sky_cwl_stats stats(void)
{
    sky_cwl_stats st;
    sky_cwl_stats_get(cw, &st);
    return st;
}

static long proc_kib(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t kl = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0 && line[kl] == ':')
            v = atol(line + kl + 1);
    if (f)
        fclose(f);
    return v;
}

static void print_stats(void)
{
    sky_cwl_stats st = stats();
    printf("{\"accepted\":%" PRIu64 ",\"sent_events\":%" PRIu64 ",\"queued_events\":%" PRIu64
           ",\"queued_bytes\":%" PRIu64 ",\"queue_full\":%" PRIu64 ",\"undelivered\":%" PRIu64
           ",\"ambiguous_requests\":%" PRIu64 ",\"spool_bytes\":%" PRIu64
           ",\"spool_used_bytes\":%" PRIu64 ",\"spool_replayed\":%" PRIu64
           ",\"spool_torn\":%" PRIu64 ",\"spool_kept\":%" PRIu64
           ",\"spool_ambiguous_total\":%" PRIu64 ",\"spool_torn_total\":%" PRIu64
           ",\"spool_dropped_total\":%" PRIu64 ",\"vm_hwm_kib\":%ld,\"vm_rss_kib\":%ld,",
           st.accepted, st.sent_events, st.queued_events, st.queued_bytes,
           st.dropped[SKY_CWL_DROP_QUEUE_FULL], st.dropped[SKY_CWL_DROP_UNDELIVERED],
           st.ambiguous, st.spool_bytes, st.spool_used_bytes, st.spool_replayed, st.spool_torn,
           st.spool_kept, st.spool_ambiguous_total, st.spool_torn_total, st.spool_dropped_total,
           proc_kib("VmHWM"), proc_kib("VmRSS"));
    sky_stats ps;
    sky_stats_get(sky, &ps);
    uint64_t dropped = 0;
    for (int r = 0; r < SKY_DROP_REASON_COUNT_; r++)
        dropped += ps.dropped[r];
    printf("\"pipeline_dropped\":%" PRIu64 ",\"ring_recovered\":%" PRIu64
           ",\"ring_torn\":%" PRIu64 ",\"ring_ambiguous\":%" PRIu64
           ",\"ring_recovered_total\":%" PRIu64 ",\"ring_torn_total\":%" PRIu64
           ",\"ring_ambiguous_total\":%" PRIu64 "}\n",
           dropped, ps.spool_recovered, ps.spool_torn, ps.spool_ambiguous,
           ps.spool_recovered_total, ps.spool_torn_total, ps.spool_ambiguous_total);
    fflush(stdout);
}

/* A command's optional deadline in ms ("flush 600000"), 60 s without one. */
static int deadline_ms(const char *arg)
{
    long ms = strtol(arg, NULL, 10);
    return ms > 0 && ms < INT32_MAX ? (int)ms : 60000;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr,
                "usage: %s ENDPOINT SPOOL ACCEPTED_FILE RUN [SPOOL_BYTES] [PAD] [RING_SPOOL]\n",
                argv[0]);
        return 2;
    }
    long run = atol(argv[4]);
    size_t spool_bytes = argc > 5 ? (size_t)atol(argv[5]) : 0;
    size_t pad_len = argc > 6 ? (size_t)atol(argv[6]) : 16;
    char *pad = malloc(pad_len + 1);
    memset(pad, 'p', pad_len);
    pad[pad_len] = '\0';
    accepted_fd = open(argv[3], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (accepted_fd < 0) {
        perror(argv[3]);
        return 2;
    }
    const char *ring = argc > 7 ? argv[7] : NULL;
    sky_options po = {.mode = SKY_MODE_SYNC};
    if (ring)
        po = (sky_options){.mode = SKY_MODE_ASYNC, .ring_bytes = 1 << 20,
                           .ring_spool_path = ring, .block_max_wait_ms = 3600000};
    sky_status ost = sky_open(&po, &sky);
    if (ost != SKY_OK) {
        fprintf(stderr, "sky_open: %s\n", sky_strerror(ost));
        return ost == SKY_EIO ? 1 : 2;
    }
    char *err = NULL;
    sky_cwl_opts o = {.log_group = "/skylog/spool", .log_stream = "spool-test",
                      .endpoint = argv[1], .region = "us-east-1",
                      .access_key_id = "skylogtest", .secret_access_key = "skylogtest",
                      .flush_interval_ms = 20, .batch_size = 64,
                      /* an endpoint that went away is retried every 50 ms, not after 30 s */
                      .retry_delay_ms = 50, .no_exponential_backoff = true,
                      .max_queue_bytes = spool_bytes ? spool_bytes : 0,
                      .spool_path = argv[2], .spool_max_bytes = spool_bytes};
    if (sky_sink_cloudwatch_logs(&o, &cw, &err) != SKY_OK) {
        fprintf(stderr, "%s\n", err ? err : "cloudwatch sink failed");
        free(err);
        free(pad);
        sky_close(sky);
        return 1;
    }
    sky_add_sink(sky, cw, NULL);
    sky_logger *log = sky_logger_get(sky, "producer");
    long next = 0;
    int quit_ms = 60000;
    char line[128];
    while (fgets(line, sizeof line, stdin)) {
        long n = 0;
        if (sscanf(line, "put %ld", &n) == 1 || sscanf(line, "run %ld", &n) == 1) {
            bool pace = line[0] == 'r';
            uint64_t acc = 0, ref = 0;
            for (long k = 0; k < n; k++, next++) {
                long seq = run * 1000000 + next;
                sky_cwl_stats before = ring ? (sky_cwl_stats){0} : stats();
                sky_info(log, "tick", SKY_INT("seq", seq), SKY_STR("pad", pad));
                sky_cwl_stats after = ring ? before : stats();
                if (ring || after.accepted > before.accepted) {
                    char rec[32];
                    int l = snprintf(rec, sizeof rec, "%ld\n", seq);
                    if (write(accepted_fd, rec, (size_t)l) != l)
                        return 3;
                    acc++;
                } else {
                    ref++;
                }
                if (pace && k % 10 == 9)
                    usleep(200);
            }
            if (pace) {
                sky_flush(sky, 60000);
                while (fgets(line, sizeof line, stdin)) /* the test kills us (or closes stdin) */
                    ;
                break;
            }
            printf("put accepted=%" PRIu64 " refused=%" PRIu64 "\n", acc, ref);
            fflush(stdout);
        } else if (strncmp(line, "flush", 5) == 0) {
            printf("flush %s\n", sky_strerror(sky_flush(sky, deadline_ms(line + 5))));
            fflush(stdout);
        } else if (strncmp(line, "stats", 5) == 0) {
            print_stats();
        } else if (strncmp(line, "quit", 4) == 0) {
            quit_ms = deadline_ms(line + 4);
            break;
        }
    }
    sky_flush(sky, quit_ms);
    print_stats();
    sky_close(sky);
    free(pad);
    close(accepted_fd);
    return 0;
}

/*
 * cwl_emit.c - test tool: logs COUNT randomised events through a real pipeline and the
 * CloudWatch Logs sink (endpoint and credentials from the AWS_* environment), alternating
 * between loggers "a" and "b" so they land in streams "a" and "b". Messages are 1 B to 300 KB
 * (mostly small), with multi-byte characters and invalid UTF-8. Writes "<stream> <hex of the
 * message bytes>" per event to EXPECTED, and the sink's counters as JSON on stdout.
 * FLUSH_MS sets flush_interval_ms: a long one (e.g. 3600000) makes batching independent of
 * timing (batches go when full, the rest at the final flush), so fill can be asserted exactly.
 *
 *   cwl_emit GROUP COUNT SEED EXPECTED [sync|async] [FLUSH_MS]
 */
#include <skylog.h>
#include <skylog/cloudwatch.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static size_t gen(char *out, size_t n)
{
    static const char *const chars[] = {"é", "€", "𝄞", "日本", "\t", "\"", "\\"};
    size_t i = 0;
    while (i < n) {
        uint64_t r = next();
        if (r % 50 == 0) {
            out[i++] = (char)(0x80 + (r >> 8) % 0x80); /* invalid on its own */
        } else if (r % 10 == 0) {
            const char *c = chars[(r >> 8) % 7];
            size_t l = strlen(c);
            if (i + l > n)
                break;
            memcpy(out + i, c, l);
            i += l;
        } else {
            out[i++] = (char)(' ' + 1 + (r >> 8) % 94);
        }
    }
    if (i == 0)
        out[i++] = 'x';
    out[i] = '\0';
    return i;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: cwl_emit GROUP COUNT SEED EXPECTED [sync|async] [FLUSH_MS]\n");
        return 2;
    }
    long count = strtol(argv[2], NULL, 10);
    rng = strtoull(argv[3], NULL, 10) | 1;
    FILE *exp = fopen(argv[4], "w");
    if (!exp)
        return 1;
    sky_options so = {.level = SKY_LEVEL_INFO, .level_set = true};
    if (argc > 5 && strcmp(argv[5], "async") == 0)
        so.mode = SKY_MODE_ASYNC;
    sky_t *sky;
    if (sky_open(&so, &sky) != SKY_OK)
        return 1;
    sky_sink *cw;
    char *err = NULL;
    if (sky_sink_cloudwatch_logs(&(sky_cwl_opts){.log_group = argv[1], .log_stream = "{logger}",
                                                 .message_only = true, .retry_delay_ms = 20,
                                                 .max_queue_size = 1000000,
                                                 .max_queue_bytes = 1u << 30,
                                                 .flush_interval_ms =
                                                     argc > 6 ? strtoll(argv[6], NULL, 10) : 0},
                                 &cw, &err) != SKY_OK) {
        fprintf(stderr, "cwl_emit: %s\n", err);
        return 1;
    }
    sky_add_sink(sky, cw, NULL);
    sky_logger *la = sky_logger_get(sky, "a"), *lb = sky_logger_get(sky, "b");
    char *buf = malloc(300 * 1024 + 1);
    for (long i = 0; i < count; i++) {
        uint64_t r = next();
        size_t n = r % 1000 == 0 ? 10 * 1024 + (r >> 10) % (290 * 1024) : 1 + (r >> 10) % 400;
        n = gen(buf, n);
        bool a = (r >> 20) % 2 == 0;
        sky_emit(a ? la : lb, SKY_LEVEL_INFO, buf, NULL, NULL, 0);
        fputs(a ? "a " : "b ", exp);
        for (size_t k = 0; k < n; k++)
            fprintf(exp, "%02x", (unsigned char)buf[k]);
        fputc('\n', exp);
    }
    fclose(exp);
    free(buf);
    sky_status fs = sky_flush(sky, 300000);
    sky_cwl_stats st;
    sky_cwl_stats_get(cw, &st);
    unsigned long long rej = 0, drop = 0;
    for (int i = 0; i < SKY_CWL_REJECT_COUNT_; i++)
        rej += st.rejected[i];
    for (int i = 0; i < SKY_CWL_DROP_COUNT_; i++)
        drop += st.dropped[i];
    printf("{\"accepted\":%llu,\"sent\":%llu,\"requests\":%llu,\"retries\":%llu,\"throttles\":%llu,"
           "\"ambiguous\":%llu,\"rejected\":%llu,\"dropped\":%llu,\"flush\":\"%s\"}\n",
           (unsigned long long)st.accepted, (unsigned long long)st.sent_events,
           (unsigned long long)st.requests, (unsigned long long)st.retries,
           (unsigned long long)st.throttles, (unsigned long long)st.ambiguous, rej, drop,
           sky_strerror(fs));
    sky_close(sky);
    return 0;
}

/*
 * audit_cloudwatch.c - `skylog audit verify --group G [--stream S]`: checks audit chains read
 * back from CloudWatch Logs (an audit file shipped with `skylog ship`, whose lines are sent as
 * they are, chain fields included).
 *
 * Each stream is one chain. CloudWatch returns a stream's events in timestamp order, which is
 * not always the order they were written (entries logged by several threads in the same
 * millisecond, or a clock step), so the entries are put back in sequence-number order before
 * the chain is checked: the check itself is the file verifier's (src/sinks/audit_chain.h),
 * unchanged - a changed, deleted or inserted entry still breaks the chain at its place. An
 * entry delivered twice (the same sequence number and the very same bytes: an at-least-once
 * delivery, not an edit) is counted and checked once. Messages go to a temporary file, so
 * memory holds only a small index entry per event, whatever the stream's size.
 */
#include "cli.h"
#include "common.h"
#include "safetext.h"
#include "sinks/audit_chain.h"
#include "util/secmem.h"
#include "util/text.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct idx {
    uint64_t seq;   /* UINT64_MAX: no sequence number (left where it came, at the end) */
    uint64_t order; /* arrival: ties keep it */
    long off;
    size_t len;
    int64_t ts;
} idx;

static int cmp_idx(const void *a, const void *b)
{
    const idx *x = a, *y = b;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static uint64_t seq_of(const char *m, size_t n)
{
    static const char pre[] = "{\"seq\":";
    if (n < sizeof pre || memcmp(m, pre, sizeof pre - 1) != 0)
        return UINT64_MAX;
    uint64_t v = 0;
    size_t i = sizeof pre - 1, digits = 0;
    while (i < n && m[i] >= '0' && m[i] <= '9' && digits < 19) {
        v = v * 10 + (uint64_t)(m[i++] - '0');
        digits++;
    }
    return digits ? v : UINT64_MAX;
}

/* Every event of one stream, oldest first, into `raw`; their index into *ix. */
static bool read_stream(sky_aws_client *c, const char *group, const char *stream, FILE *raw,
                        idx **ix, size_t *n, size_t *cap)
{
    char *token = NULL;
    bool ok = true;
    for (;;) {
        json_t *body = json_pack("{s:s,s:s,s:b}", "logGroupName", group, "logStreamName", stream,
                                 "startFromHead", 1);
        if (body && token)
            json_object_set_new(body, "nextToken", json_string(token));
        json_t *r = body ? sky__logs_call(c, "audit verify", "GetLogEvents", body) : NULL;
        json_decref(body);
        if (!r) {
            ok = false;
            break;
        }
        json_t *events = json_object_get(r, "events");
        for (size_t i = 0; ok && i < json_array_size(events); i++) {
            json_t *e = json_array_get(events, i);
            json_t *mj = json_object_get(e, "message");
            const char *m = json_string_value(mj);
            size_t len = json_string_length(mj);
            if (!m)
                continue;
            if (*n == *cap) {
                size_t nc = *cap ? *cap * 2 : 1024;
                idx *g = realloc(*ix, nc * sizeof *g);
                if (!g) {
                    fprintf(stderr, "skylog audit verify: out of memory\n");
                    ok = false;
                    break;
                }
                *ix = g;
                *cap = nc;
            }
            long off = ftell(raw);
            if (fwrite(m, 1, len, raw) != len) {
                fprintf(stderr, "skylog audit verify: temporary file: %s\n", strerror(errno));
                ok = false;
                break;
            }
            (*ix)[*n] = (idx){.seq = seq_of(m, len), .order = *n, .off = off, .len = len,
                              .ts = json_integer_value(json_object_get(e, "timestamp"))};
            (*n)++;
        }
        const char *next = json_string_value(json_object_get(r, "nextForwardToken"));
        bool more = ok && json_array_size(events) > 0 && next && (!token || strcmp(next, token));
        free(token);
        token = more ? strdup(next) : NULL;
        json_decref(r);
        if (!more || !token)
            break;
        if (sky__cli_stopping()) { /* part of a chain has no verdict */
            ok = false;
            break;
        }
    }
    free(token);
    return ok;
}

static bool stop_asked(void *user)
{
    (void)user;
    return sky__cli_stopping();
}

/* Checks one stream's chain; prints the verdict. 0 intact, 1 broken or unreadable. */
static int verify_stream(sky_aws_client *c, const char *group, const char *stream,
                         const uint8_t *key, size_t keylen)
{
    FILE *raw = tmpfile(), *sorted = tmpfile();
    idx *ix = NULL;
    size_t n = 0, cap = 0;
    int rc = SKY_EXIT_FAIL;
    char *buf = NULL;
    if (!raw || !sorted) {
        fprintf(stderr, "skylog audit verify: temporary file: %s\n", strerror(errno));
        goto out;
    }
    if (!read_stream(c, group, stream, raw, &ix, &n, &cap))
        goto out;
    qsort(ix, n, sizeof *ix, cmp_idx);
    buf = malloc(SKY_AUDIT_MAX_LINE);
    char *prevbuf = malloc(SKY_AUDIT_MAX_LINE);
    size_t prevlen = 0;
    uint64_t dups = 0, kept = 0;
    idx *order = n ? malloc(n * sizeof *order) : NULL; /* what was written, for the report */
    bool ok = buf && prevbuf && (!n || order);
    for (size_t i = 0; ok && i < n; i++) {
        size_t len = ix[i].len < SKY_AUDIT_MAX_LINE ? ix[i].len : SKY_AUDIT_MAX_LINE;
        ok = fseek(raw, ix[i].off, SEEK_SET) == 0 && fread(buf, 1, len, raw) == len;
        if (!ok)
            break;
        if (i && ix[i].seq != UINT64_MAX && ix[i].seq == ix[i - 1].seq && len == prevlen &&
            memcmp(buf, prevbuf, len) == 0) {
            dups++; /* delivered twice: the same entry, byte for byte */
            continue;
        }
        ok = fwrite(buf, 1, len, sorted) == len && fputc('\n', sorted) != EOF;
        order[kept++] = ix[i];
        memcpy(prevbuf, buf, len);
        prevlen = len;
    }
    free(prevbuf);
    if (!ok || fflush(sorted) != 0 || fseek(sorted, 0, SEEK_SET) != 0) {
        fprintf(stderr, "skylog audit verify: temporary file: %s\n",
                errno ? strerror(errno) : "out of memory");
        free(order);
        goto out;
    }
    sky__audit_report rep;
    sky__audit_verdict v = sky__audit_verify_until(sorted, key, keylen, stop_asked, NULL, &rep);
    if (rep.stopped) {
        /* a chain checked in part has no verdict: nothing is printed for it */
    } else if (v == SKY__AUDIT_IOERROR) {
        sky__safe_printf(stderr, "skylog audit verify: %s %s: %s\n", group, stream, rep.detail);
    } else if (kept == 0) {
        sky__safe_printf(stdout, "%s %s: no entries\n", group, stream);
        rc = SKY_EXIT_OK;
    } else if (v != SKY__AUDIT_INTACT) {
        char when[25] = "?";
        uint64_t at = rep.line ? rep.line - 1 : 0;
        if (at < kept)
            sky__fmt_ms(order[at].ts, when);
        sky__safe_printf(stdout, "%s %s: entry %" PRIu64 " in sequence order (event time %s): "
                         "%s: %s\n", group, stream, rep.line, when, sky__audit_verdict_name(v),
                         rep.detail);
        sky__safe_printf(stdout, "%s %s: %" PRIu64 " entries verified before the break\n", group,
                         stream, rep.entries);
    } else {
        char hex[65];
        sky__hex(rep.last_hash, 32, hex);
        sky__safe_printf(stdout, "%s %s: intact: %" PRIu64 " entries (seq 1..%" PRIu64 "), %" PRIu64
                         " duplicate deliveries ignored, %" PRIu64 " reopening(s), HMAC %s, last "
                         "hash %s\n", group, stream, rep.entries, rep.last_seq, dups, rep.resumed,
                         key ? "verified"
                             : rep.hmac_seen ? "present, not checked (no --key-file)" : "none",
                         hex);
        rc = SKY_EXIT_OK;
    }
    free(order);
out:
    free(buf);
    free(ix);
    if (raw)
        fclose(raw);
    if (sorted)
        fclose(sorted);
    return rc;
}

int sky__audit_verify_group(int argc, char **argv)
{
    /* as tail: before the client, whose credential chain may wait; a signal ends the check
     * between pages, with no verdict on a chain read in part */
    sky__cli_catch_stop();
    enum { O_KEY = 3000 };
    static const struct option opts[] = {
        {"group", required_argument, NULL, 'g'},
        {"stream", required_argument, NULL, 's'},
        {"key-file", required_argument, NULL, O_KEY},
        SKY__AWS_LONG_OPTS,
        {NULL, 0, NULL, 0},
    };
    sky__aws_cli_opts aws = {.stop = sky__cli_stop_flag()};
    const char *group = NULL, *stream = NULL, *key_file = NULL;
    optind = 1;
    opterr = 0;
    for (int ch; (ch = getopt_long(argc, argv, ":g:s:", opts, NULL)) != -1;) {
        switch (ch) {
        case 'g': group = optarg; break;
        case 's': stream = optarg; break;
        case O_KEY: key_file = optarg; break;
        case ':':
            fprintf(stderr, "skylog audit verify: option '%s' needs a value\n", argv[optind - 1]);
            return SKY_EXIT_USAGE;
        case '?':
            sky__cli_unknown_option("audit verify", argv[optind - 1], opts);
            return SKY_EXIT_USAGE;
        default:
            if (!sky__aws_cli_opt(&aws, ch, optarg))
                return SKY_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "skylog audit verify: a FILE or --group, not both ('%s')\n", argv[optind]);
        return SKY_EXIT_USAGE;
    }
    if (!group) {
        fprintf(stderr, "skylog audit verify: --group needs a value\n");
        return SKY_EXIT_USAGE;
    }
    static uint8_t key[SKY__AUDIT_MAX_KEY];
    size_t keylen = 0;
    int key_rc = sky__audit_cli_key(key_file, key, &keylen);
    if (key_rc)
        return key_rc;
    sky_aws_client *c = sky__aws_cli_client(&aws, "logs", "audit verify");
    int rc = SKY_EXIT_FAIL;
    char *token = NULL;
    if (!c || sky__cli_stopping()) /* a signal while the client was made: nothing is sent */
        goto out;
    if (stream) {
        rc = verify_stream(c, group, stream, key_file ? key : NULL, keylen);
        goto out;
    }
    /* every stream of the group, each its own chain */
    rc = SKY_EXIT_OK;
    size_t seen = 0;
    for (;;) {
        json_t *body = json_pack("{s:s}", "logGroupName", group);
        if (body && token)
            json_object_set_new(body, "nextToken", json_string(token));
        json_t *r = body ? sky__logs_call(c, "audit verify", "DescribeLogStreams", body) : NULL;
        json_decref(body);
        free(token);
        token = NULL;
        if (!r) {
            rc = SKY_EXIT_FAIL;
            break;
        }
        json_t *streams = json_object_get(r, "logStreams");
        for (size_t i = 0; i < json_array_size(streams); i++) {
            const char *name = json_string_value(
                json_object_get(json_array_get(streams, i), "logStreamName"));
            if (name && !sky__cli_stopping()) {
                seen++;
                rc |= verify_stream(c, group, name, key_file ? key : NULL, keylen);
            }
        }
        const char *next = json_string_value(json_object_get(r, "nextToken"));
        token = next ? strdup(next) : NULL;
        json_decref(r);
        if (!token || sky__cli_stopping())
            break;
    }
    if (rc == SKY_EXIT_OK && seen == 0 && !sky__cli_stopping()) {
        fprintf(stderr, "skylog audit verify: group %s has no streams\n", group);
        rc = SKY_EXIT_FAIL;
    }
out:
    sky__wipe(key, sizeof key);
    if (c)
        sky_aws_client_free(c);
    free(token);
    /* the streams checked before the signal keep their verdicts; the check is not whole */
    return sky__cli_stopping() ? sky__cli_interrupted("audit verify") : rc;
}

/*
 * cmd_ship.c - `skylog ship`: lines from files or stdin to CloudWatch Logs.
 *
 * Each line is one event. A line that is a JSON object is sent as it is, with its timestamp
 * taken from a top-level "timestamp", "time" or "ts" field when there is one (ISO-8601 text,
 * or a number: milliseconds, or seconds when it is below 10^11; ship_line.c); any other line,
 * and one whose field is no time (unparsable text, a number beyond +-10^18 ms), is sent as a
 * plain message stamped with the time it was read. Empty lines are skipped (CloudWatch refuses
 * empty messages) and counted.
 *
 * Delivery goes through the CloudWatch Logs sink (batching, limits, retries, accounting), with
 * backpressure: when its queue is full, reading waits instead of dropping. Whether to give up
 * is decided on the sink's own state (sky_cwl_stats: failures in a row, persistent errors), not
 * on a model of its retry policy (sky__cli_delivery_stalled, common.c); a watchdog thread
 * decides it while reading waits for room. --follow keeps
 * reading like `tail -F`: it notices rotation (the path now names another file: the old one is
 * read to its end first) and truncation (the file shrank: read again from the start).
 * The exit status is 0 only if every event read was accepted by CloudWatch; 128+N after signal
 * N (SIGINT 130, SIGTERM 143). Any exit other than 0 ends with one line saying what the service
 * acknowledged and where reading stopped, and --checkpoint keeps that position in a file
 * (format in docs/CLI.md) for --resume, with the anchor that makes the resume exactly once
 * (ship_checkpoint.c settles the batch a killed run stored without hearing back).
 */
#include "cli.h"
#include "common.h"
#include "safetext.h"
#include "ship_checkpoint.h"
#include "ship_line.h"

#include "config/registry.h"
#include "util/prefault.h"

#include <skylog/cloudwatch.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char sky__ship_help[] =
    "usage: skylog ship --group GROUP [options] [FILE...|-]\n"
    "\n"
    "Ships lines from FILEs (or standard input, '-' or no FILE) to a CloudWatch Logs group.\n"
    "JSON lines are sent as they are, their time taken from a timestamp/time/ts field; other\n"
    "lines become the message. Exits 0 only if every event was accepted.\n"
    "\n"
    "Ctrl-C (SIGINT) or SIGTERM stops reading, waits up to 5 s for what is in flight (a second\n"
    "Ctrl-C: not at all), prints how far the service acknowledged the input and exits 130 or\n"
    "143. Any failure prints that line too: resume with --checkpoint/--resume or --start-offset.\n"
    "Delivery is given up (exit 1) after an error that waiting cannot fix, or when 12 attempts\n"
    "in a row failed over 10 s or more (--give-up-after N: N attempts, however quickly;\n"
    "throttling is waited out); reading a pipe or --follow, ship waits for the endpoint instead.\n"
    "\n"
    "options:\n"
    "  -g, --group GROUP     log group (created if missing, unless --no-create)\n"
    "  -s, --stream NAME     log stream (default {hostname}_{strftime:%Y%m%d_%H%M%S});\n"
    "                        placeholders {hostname} {pid} {strftime:FMT}\n"
    "  -f, --follow          keep reading as files grow; survive rotation and truncation\n"
    "      --retention-days N\n"
    "                        set on a group this command creates (1, 3, 5, 7, 14, 30, 60, 90,\n"
    "                        ... 3653: the values CloudWatch takes)\n"
    "      --no-create       never create the group or stream\n"
    "      --batch-size N    events per request, 1 to 10000 (the default)\n"
    "      --flush-interval MS\n"
    "                        longest wait before a partial batch is sent: milliseconds, or\n"
    "                        250ms, 2s, 1m (default 1000, at most 1h)\n"
    "      --oversize POLICY\n"
    "                        truncate (default), split or drop events over --max-event-bytes\n"
    "      --max-event-bytes N\n"
    "                        event size limit, message + 26: bytes, or 64k, 1M (128 to 1048576,\n"
    "                        the default)\n"
    "      --give-up-after N\n"
    "                        give delivery up after N attempts in a row failed (1 to 1000),\n"
    "                        however quickly (default: 12 attempts over 10 s or more)\n"
    "      --transport T     put_log_events (default), ndjson or otlp (ingestion endpoints)\n"
    "      --bearer-token T  token for the ingestion endpoints\n"
    "      --compress        gzip request bodies\n"
    "      --checkpoint FILE\n"
    "                        keep the acknowledged position (file, inode, byte, line) in FILE,\n"
    "                        replaced atomically as the service acknowledges\n"
    "      --resume          start where --checkpoint FILE says (from the start if FILE does\n"
    "                        not exist yet); earlier inputs are skipped. Exactly once: the\n"
    "                        stream's tail is read first, and lines a killed run had stored\n"
    "                        without hearing back are not sent again (docs/CLI.md)\n"
    "      --start-offset N  start the one input at byte N (the start of a line; 0, the\n"
    "                        default, is the start of the input)\n"
    "  -q, --quiet           no progress and no summary (failures are still reported)\n"
    SKY__AWS_OPTS_HELP
    "\n"
    "examples:\n"
    "  skylog ship --group /app/prod app.log\n"
    "  my_service 2>&1 | skylog ship --group /app/dev --stream '{hostname}-{pid}'\n"
    "  skylog ship --group /app/prod --follow /var/log/app.jsonl\n"
    "  skylog ship --group /app/prod --checkpoint app.ckpt --resume app.log && rm app.log\n"
    "\n"
    "exit status: 0 every event accepted, 1 something was not (see the summary), 2 usage\n"
    "error, 130/143 interrupted by SIGINT/SIGTERM.\n";

/* When delivery is given up: sky__cli_delivery_stalled() (common.c, where the rule and its
 * reasons are); --give-up-after N sets its count, 0 is the default rule. */
static uint64_t give_up_after;

/* --test-clock FILE, for tests only (not in --help): the default rule's 10 s is then read on a
 * clock the test sets, so that where the 10 s fall among the attempts does not depend on how
 * fast the machine makes them (as sky_aws_tool's --sleep-clock does for the AWS layer's
 * deadline). The rule's clock is the monotonic one plus the signed milliseconds FILE holds
 * (read at each look: the test moves it while ship runs; missing or empty: 0); the sink retries
 * every TEST_RETRY_MS, not after its growing backoff (up to 30 s); and each look at a new number
 * of failures in a row is said on stderr ("skylog ship: test clock: ..."), so the test knows
 * what ship saw before it moves the clock. */
static const char *test_clock;
#define TEST_RETRY_MS 20

static int64_t rule_now_ms(void)
{
    int64_t now = sky_monotonic_ns() / 1000000;
    FILE *f = test_clock ? fopen(test_clock, "r") : NULL;
    if (f) {
        long long skew = 0;
        if (fscanf(f, "%lld", &skew) == 1)
            now += skew;
        fclose(f);
    }
    return now;
}

static bool cannot_deliver; /* the sink reports an error that waiting cannot fix */
/* Delivery was given up while a file was read (the watchdog saw it, and let the reader go):
 * reading stops at the next line refused. */
static atomic_bool gave_up;

static bool stalled(const sky_cwl_stats *st)
{
    int64_t now = rule_now_ms();
    bool is = sky__cli_delivery_stalled(st, give_up_after, now);
    static atomic_ullong traced; /* the failures last said, + 1 (0: none yet) */
    if (test_clock && st->failures_in_a_row &&
        atomic_exchange(&traced, st->failures_in_a_row + 1) != st->failures_in_a_row + 1)
        fprintf(stderr, "skylog ship: test clock: %llu attempts failed in a row, the first %lld ms "
                "before now: %s\n", (unsigned long long)st->failures_in_a_row,
                (long long)(now - st->failing_since_mono_ms), is ? "stalled" : "not stalled");
    return is;
}

/* Says so, once (the watchdog or the main thread, whichever sees it first). */
static void give_up(const sky_cwl_stats *st)
{
    if (atomic_exchange(&gave_up, true))
        return;
    sky__safe_printf(stderr, "skylog ship: giving up: %llu attempts in a row failed over %lld s "
                     "(last: %s)\n", (unsigned long long)st->failures_in_a_row,
                     (long long)(rule_now_ms() - st->failing_since_mono_ms) / 1000,
                     st->last_error[0] ? st->last_error : "no answer");
}

/* ---- what the service acknowledged ---------------------------------------------------------
 *
 * The sink answers for its events in FIFO order (an event leaves the head of the queue only when
 * the service has answered for it), and `skylog ship` is its only producer, so after N events
 * are answered, exactly the lines that produced the first N events are done. Each line read
 * leaves a mark (events so far, input, byte offset and line number after it) in a ring; the
 * marks whose events are all answered are popped, the last one popped is `acked`: everything
 * before it is safe, and it is what the checkpoint and the final message report.
 * "Answered" counts events stored and events refused for their age (too old, too new, expired:
 * sending them again cannot help). A loss that a resend could repair (refused as invalid, no
 * such group, queue full) freezes `acked` where it was, so a resume sends the
 * lines again: a duplicate is possible there, a lost line is not. */

typedef struct ship_pos {
    uint64_t events; /* events the sink accepted up to and including this line */
    int input;       /* index into the inputs */
    uint64_t offset; /* byte offset after the line, in that input */
    uint64_t line;   /* lines of that input up to here (the next line to read is line + 1) */
    uint64_t total_lines; /* lines of every input up to here */
    unsigned long long dev, ino; /* the file read then (it changes when --follow rotates) */
} ship_pos;

typedef struct ship_input {
    const char *arg;   /* as given: a path or "-" */
    char *path;        /* absolute path, or "-" for standard input */
    bool is_stdin;
    bool have_id;      /* dev/ino are known (a regular file, or stdin redirected from one) */
    bool regular;      /* a regular file (stdin redirected from one too) */
    unsigned long long dev, ino;
    uint64_t start_offset, start_line; /* where reading began (resume) */
    char *rotated;     /* --follow resumed: the checkpoint's file, renamed since; read first */
    bool restart;      /* --follow resumed: the file was truncated or is gone; from byte 0 */
    uint64_t offset, line;             /* where reading is now */
} ship_input;

/* A line not yet answered for: 24 bytes (and its anchor, 24 more, with --checkpoint only), since the ring holds one per queued line (up to the
 * queue's 20,000 events); what changes rarely (which input, which file) is in a segment. */
typedef struct mark {
    uint64_t events, offset, line;
} mark;

/* The marks from first_seq on belong to this input and file (until the next segment). */
typedef struct segment {
    uint64_t first_seq;
    int input;
    unsigned long long dev, ino;
    uint64_t line0, total0; /* the input's line and the run's line count where it began */
} segment;

/* The ring, the segments and `acked` belong to the reading thread alone (no lock per line).
 * What the watchdog may need - the acknowledged position - is copied to `pub` under `mu` each
 * time it moves, and where reading is goes to relaxed atomics: the watchdog only reports when
 * the reader is stopped or stuck, so they hold still by then. */
typedef struct ack_track {
    pthread_mutex_t mu;     /* pub, pub_frozen, the checkpoint file */
    ship_pos pub;
    bool pub_frozen;
    ship_pos acked;
    mark *ring;
    sky__anchor *anch;      /* --checkpoint: each mark's anchor (n 0: none), same positions */
    bool keep_anchors;
    size_t head, count, cap;
    uint64_t head_seq;      /* sequence number of ring[head] (marks popped so far) */
    segment *segs;          /* segs[0] holds the head; pruned as marks are popped */
    size_t n_segs, segs_cap;
    uint64_t events;        /* events accepted by the sink so far */
    bool frozen;            /* a repairable loss was seen: acked no longer moves */
    uint64_t losses_seen;   /* rejected[invalid] + dropped[...] at the last look */
    sky__anchor_tail tail;  /* the stream's last events at `acked` (the checkpoint's anchor) */
    bool tail_known;        /* false: nothing was sent yet and the stream was not read */
    sky__anchor_tail pub_tail; /* copies under mu, with pub */
    bool pub_tail_known;
    atomic_int read_input;  /* where reading is, for the report */
    _Atomic uint64_t read_offset, read_line, read_total;
} ack_track;

/* Lines put with one sky_cwl_put_many(): the sink's lock and wake-up check once per PUT_BATCH
 * lines instead of once a line. */
#define PUT_BATCH 64

typedef struct ship {
    sky_sink *sink;
    const sky_cwl_opts *co;
    uint64_t lines, empty, bytes_read, total_bytes, refused;
    bool progress, follow, quiet;
    int64_t last_progress_ns, start_ns;
    size_t max_msg;   /* longest message the sink sends as one event */
    size_t long_line; /* lines longer than this may not become exactly one event */
    ship_input *in;
    int n_in, cur;
    uint64_t total_lines;
    ack_track tr;
    const char *checkpoint; /* --checkpoint FILE, or NULL */
    const char *stream_opt; /* --stream as given (NULL: the default template) */
    ship_pos last_written;
    int64_t last_write_ns;  /* sky_monotonic_ns() of the last checkpoint written */
    char *stream;           /* the resolved stream name (a copy of the sink's), or NULL */
    char *resume_stream;    /* the checkpoint's stream name and template (owned) */
    char *stream_tmpl_cp;
    bool resumed_tail;      /* the checkpoint had an anchor: settle against it */
    sky__settle settle;     /* what a resumed run skips as stored without acknowledgement */
    bool settle_failed;     /* a line did not match what the stream holds: stop, send nothing */
    int64_t now_ms;         /* Unix ms, refreshed every 1,024 lines (for age checks) */
    int64_t read_ms;        /* Unix ms of the last read() (drain): text lines' timestamp */
    sky__ship_hash_fn hash; /* the anchors' hash: the checkpoint version's */
    /* Lines read and not yet put (ship_line, flush_lines): they point into drain()'s buffer,
     * so they are put before it moves or is reused. */
    sky_cwl_msg pend[PUT_BATCH];
    size_t pend_raw[PUT_BATCH];
    bool pend_ts_line[PUT_BATCH];
    size_t n_pend;
} ship;

/* Losses a resend could repair, from a stats snapshot. */
static uint64_t repairable_losses(const sky_cwl_stats *st)
{
    return st->rejected[SKY_CWL_REJECT_INVALID] + st->dropped[SKY_CWL_DROP_QUEUE_FULL] +
           st->dropped[SKY_CWL_DROP_NO_RESOURCE];
}

static bool track_push(ack_track *t, mark m, const sky__anchor *a)
{
    if (t->count == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024;
        mark *r = malloc(cap * sizeof *r);
        sky__anchor *an = t->keep_anchors ? malloc(cap * sizeof *an) : NULL;
        if (!r || (t->keep_anchors && !an)) {
            free(r);
            free(an);
            return false;
        }
        for (size_t i = 0; i < t->count; i++) {
            r[i] = t->ring[(t->head + i) & (t->cap - 1)];
            if (an)
                an[i] = t->anch[(t->head + i) & (t->cap - 1)];
        }
        free(t->ring);
        free(t->anch);
        t->ring = r;
        t->anch = an;
        t->head = 0;
        t->cap = cap; /* a power of two: positions wrap with a mask */
    }
    size_t at = (t->head + t->count++) & (t->cap - 1);
    t->ring[at] = m;
    if (t->anch)
        t->anch[at] = a ? *a : (sky__anchor){0};
    return true;
}

/* The full position of the mark with sequence number seq. t->mu held. */
static ship_pos mark_pos(const ack_track *t, uint64_t seq, const mark *m)
{
    size_t k = t->n_segs;
    while (k > 1 && t->segs[k - 1].first_seq > seq)
        k--;
    const segment *g = &t->segs[k - 1];
    return (ship_pos){.events = m->events, .input = g->input, .offset = m->offset,
                      .line = m->line, .total_lines = g->total0 + (m->line - g->line0),
                      .dev = g->dev, .ino = g->ino};
}

/* Reading moves to another input, or --follow to another file (rotation) or back to the start
 * of this one (truncation): the marks from here on belong to it. */
static void track_segment(ship *sh)
{
    ack_track *t = &sh->tr;
    ship_input *in = &sh->in[sh->cur];
    segment g = {.first_seq = t->head_seq + t->count, .input = sh->cur, .dev = in->dev,
                 .ino = in->ino, .line0 = in->line, .total0 = sh->total_lines};
    if (t->n_segs && t->segs[t->n_segs - 1].first_seq == g.first_seq) {
        t->segs[t->n_segs - 1] = g; /* no mark in the previous one: replace it */
    } else {
        if (t->n_segs == t->segs_cap) {
            size_t cap = t->segs_cap ? t->segs_cap * 2 : 4;
            segment *ns = realloc(t->segs, cap * sizeof *ns);
            if (!ns) {
                t->frozen = true;
                return;
            }
            t->segs = ns;
            t->segs_cap = cap;
        }
        t->segs[t->n_segs++] = g;
    }
}

/* A line is done reading: it gave `k` events to the sink (`lost`: some were refused there);
 * `a`: the events it is stored as (NULL: none), the checkpoint's anchor once acknowledged. */
static void track_line(ship *sh, uint64_t k, bool lost, const sky__anchor *a)
{
    ack_track *t = &sh->tr;
    ship_input *in = &sh->in[sh->cur];
    t->events += k;
    if (lost)
        t->frozen = true;
    atomic_store_explicit(&t->read_input, sh->cur, memory_order_relaxed);
    atomic_store_explicit(&t->read_offset, in->offset, memory_order_relaxed);
    atomic_store_explicit(&t->read_line, in->line, memory_order_relaxed);
    atomic_store_explicit(&t->read_total, sh->total_lines, memory_order_relaxed);
    if (t->frozen)
        return;
    const segment *g = &t->segs[t->n_segs - 1];
    mark m = {.events = t->events, .offset = in->offset, .line = in->line};
    mark *last = t->count ? &t->ring[(t->head + t->count - 1) & (t->cap - 1)] : NULL;
    if (!last && t->events == t->acked.events) { /* nothing pending: sent nothing */
        t->acked = (ship_pos){.events = t->events, .input = sh->cur, .offset = in->offset,
                              .line = in->line, .total_lines = sh->total_lines,
                              .dev = in->dev, .ino = in->ino};
        if (a) /* a line found stored while settling */
            sky__anchor_push(&t->tail, *a);
    } else if (!a && last && last->events == t->events &&
               t->head_seq + t->count - 1 >= g->first_seq) {
        last->offset = m.offset; /* sent nothing either: done when the line before it is */
        last->line = m.line;
    } else if (!track_push(t, m, a))
        t->frozen = true; /* cannot remember it: stop claiming progress */
}

/* Moves `acked` to what the sink has answered for, and publishes it. Reading thread only. */
static void track_apply(ack_track *t, const sky_cwl_stats *st)
{
    uint64_t losses = repairable_losses(st);
    if (losses != t->losses_seen) {
        t->losses_seen = losses;
        t->frozen = true;
    }
    if (t->frozen) {
        pthread_mutex_lock(&t->mu);
        t->pub_frozen = true;
        pthread_mutex_unlock(&t->mu);
        return;
    }
    /* what close gave up on is the tail of the queue: counted, never answered */
    uint64_t done = st->accepted - st->queued_events - st->dropped[SKY_CWL_DROP_UNDELIVERED];
    while (t->count && t->ring[t->head].events <= done) {
        t->acked = mark_pos(t, t->head_seq, &t->ring[t->head]);
        if (t->anch && t->anch[t->head].n)
            sky__anchor_push(&t->tail, t->anch[t->head]);
        t->head = (t->head + 1) & (t->cap - 1);
        t->count--;
        t->head_seq++;
    }
    size_t drop = 0; /* segments that end before the head */
    while (drop + 1 < t->n_segs && t->segs[drop + 1].first_seq <= t->head_seq)
        drop++;
    if (drop) {
        memmove(t->segs, t->segs + drop, (t->n_segs - drop) * sizeof *t->segs);
        t->n_segs -= drop;
    }
    pthread_mutex_lock(&t->mu);
    t->pub = t->acked;
    t->pub_frozen = t->frozen;
    t->pub_tail = t->tail;
    t->pub_tail_known = t->tail_known;
    pthread_mutex_unlock(&t->mu);
}

static void track_refresh(ship *sh)
{
    sky_cwl_stats st;
    sky_cwl_stats_get(sh->sink, &st);
    track_apply(&sh->tr, &st);
}

/* ---- checkpoint -----------------------------------------------------------------------------
 * One JSON object (docs/CLI.md, "Checkpoints"), replaced atomically: written to FILE.tmp,
 * fsync()ed, renamed over FILE, and the directory fsync()ed, so a crash at any moment leaves
 * either the old or the new checkpoint, never a torn one. */

/* Version 3: the anchor's hashes are sky__ship_hash's; version 2's (sky__ship_hash_v2) are
 * still resumed, and a run resumed from one keeps writing version 2 (its anchors must be
 * comparable with what the next resume reads back). */
#define CHECKPOINT_VERSION 3

static bool write_checkpoint(ship *sh, const ship_pos *p, bool complete, char *err, size_t errsz)
{
    const ship_input *in = &sh->in[p->input];
    int version = sh->hash == sky__ship_hash_v2 ? 2 : CHECKPOINT_VERSION;
    json_t *j = json_pack("{s:i,s:s,s:s?,s:s?,s:{s:s,s:I,s:I},s:b,s:I,s:o}",
                          "skylog_ship_checkpoint", version, "group",
                          sh->co->log_group, "stream", sh->stream, "stream_template",
                          sh->stream_opt, "input", "path", in->path, "offset",
                          (json_int_t)p->offset, "line", (json_int_t)p->line, "complete",
                          complete, "events_acknowledged", (json_int_t)p->events, "tail",
                          sh->tr.pub_tail_known ? sky__anchor_json(&sh->tr.pub_tail)
                                                : json_null());
    if (j && in->have_id) {
        json_t *o = json_object_get(j, "input");
        json_object_set_new(o, "dev", json_integer((json_int_t)p->dev));
        json_object_set_new(o, "ino", json_integer((json_int_t)p->ino));
    }
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text) {
        snprintf(err, errsz, "out of memory");
        return false;
    }
    size_t n = strlen(sh->checkpoint);
    char *tmp = malloc(n + 5);
    bool ok = tmp != NULL;
    if (ok) {
        memcpy(tmp, sh->checkpoint, n);
        memcpy(tmp + n, ".tmp", 5);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        size_t len = strlen(text);
        ok = fd >= 0 && write(fd, text, len) == (ssize_t)len && write(fd, "\n", 1) == 1 &&
             fsync(fd) == 0;
        if (!ok)
            snprintf(err, errsz, "%s: %s", tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        if (ok && rename(tmp, sh->checkpoint) != 0) {
            snprintf(err, errsz, "%s: %s", sh->checkpoint, strerror(errno));
            ok = false;
        }
        if (!ok)
            unlink(tmp);
    } else {
        snprintf(err, errsz, "out of memory");
    }
    if (ok) { /* the rename itself must reach the disk */
        char *dir = strdup(sh->checkpoint);
        if (dir) {
            int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (dfd >= 0) {
                fsync(dfd);
                close(dfd);
            }
            free(dir);
        }
    }
    free(tmp);
    free(text);
    return ok;
}

/* Writes the checkpoint if acked moved (or `force`). t->mu held. */
static void checkpoint_locked(ship *sh, bool force, bool complete)
{
    if (!sh->checkpoint)
        return;
    const ship_pos *p = &sh->tr.pub;
    if (!force && p->events == sh->last_written.events && p->input == sh->last_written.input &&
        p->offset == sh->last_written.offset && p->dev == sh->last_written.dev &&
        p->ino == sh->last_written.ino)
        return;
    char err[512];
    if (write_checkpoint(sh, p, complete, err, sizeof err)) {
        sh->last_written = *p;
        sh->last_write_ns = sky_monotonic_ns();
    } else
        fprintf(stderr, "skylog ship: cannot write the checkpoint: %s\n", err);
}

/* Writes the checkpoint if the acknowledged position moved. `reading`: lines are being read
 * as fast as the sink takes them, and then it waits until the position moved by
 * CHECKPOINT_EVENTS events or CHECKPOINT_NS passed since the last write. A write is two
 * fsyncs (the file, the directory), about 0.4 ms of system time on the benchmark's machine,
 * during which reading waits; after every acknowledged batch it cost a quarter more CPU than
 * shipping without a checkpoint (bench/RESULTS.md). Resuming reads back SKY__SETTLE_WINDOW
 * events, so what is stored beyond the checkpoint must stay below that: the queue (20,000
 * events, the batch in flight included), plus CHECKPOINT_EVENTS, plus what is acknowledged
 * between two looks (every 1,024 lines: at most a batch of 10,000). */
#define CHECKPOINT_EVENTS 10000
#define CHECKPOINT_NS 1000000000LL
static void checkpoint_maybe(ship *sh, bool reading)
{
    if (!sh->checkpoint)
        return;
    pthread_mutex_lock(&sh->tr.mu);
    uint64_t was = sh->last_written.events, now = sh->tr.pub.events;
    if (!reading || was == UINT64_MAX || now < was || now - was >= CHECKPOINT_EVENTS ||
        sky_monotonic_ns() - sh->last_write_ns >= CHECKPOINT_NS)
        checkpoint_locked(sh, false, false);
    pthread_mutex_unlock(&sh->tr.mu);
}

/* Reads FILE into *out; false with a message (ENOENT is told apart by *missing). */
static bool read_checkpoint(const char *path, json_t **out, bool *missing, char *err, size_t errsz)
{
    *missing = false;
    json_error_t je;
    FILE *f = fopen(path, "r");
    if (!f) {
        *missing = errno == ENOENT;
        snprintf(err, errsz, "%s: %s", path, strerror(errno));
        return false;
    }
    /* a checkpoint is one short line: refuse anything large before parsing it */
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > 65536) {
        fclose(f);
        snprintf(err, errsz, "%s: not a skylog ship checkpoint (not a file of at most 64 KiB)",
                 path);
        return false;
    }
    json_t *j = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
    fclose(f);
    json_int_t v = json_integer_value(json_object_get(j, "skylog_ship_checkpoint"));
    if (!j || !json_is_object(j) || v < 1 || v > CHECKPOINT_VERSION ||
        !json_is_object(json_object_get(j, "input"))) {
        snprintf(err, errsz, "%s: not a skylog ship checkpoint (versions 1 to %d)%s%s", path,
                 CHECKPOINT_VERSION, j ? "" : ": ", j ? "" : je.text);
        json_decref(j);
        return false;
    }
    *out = j;
    return true;
}

/* ---- the final word -------------------------------------------------------------------------- */

/* One line: what was sent, what is safe, where reading stopped, how to go on. t->mu held. */
static void report_position(ship *sh, int sig, const char *why)
{
    const ship_pos *a = &sh->tr.pub;
    const ship_input *ai = &sh->in[a->input];
    const ship_input *ri = &sh->in[atomic_load_explicit(&sh->tr.read_input, memory_order_relaxed)];
    uint64_t r_offset = atomic_load_explicit(&sh->tr.read_offset, memory_order_relaxed);
    uint64_t r_line = atomic_load_explicit(&sh->tr.read_line, memory_order_relaxed);
    uint64_t r_total = atomic_load_explicit(&sh->tr.read_total, memory_order_relaxed);
    char how[1200];
    if (sh->checkpoint)
        snprintf(how, sizeof how, "resume with --checkpoint %s --resume", sh->checkpoint);
    else
        snprintf(how, sizeof how, "resume with --start-offset %llu %s",
                 (unsigned long long)a->offset, ai->is_stdin ? "(same standard input)" : ai->arg);
    fprintf(stderr,
            "skylog ship: %s%s%s: %llu of %llu lines acknowledged; safe up to byte %llu (line "
            "%llu) of %s; reading stopped at byte %llu (line %llu) of %s; %s\n",
            sig ? "interrupted by " : why, sig ? sky__cli_signal_name(sig) : "",
            !sh->tr.pub_frozen        ? ""
            : atomic_load(&gave_up) ? " (held back where delivery was given up)"
                                    : " (held back at an event the service refused)",
            (unsigned long long)a->total_lines, (unsigned long long)r_total,
            (unsigned long long)a->offset, (unsigned long long)a->line, ai->path,
            (unsigned long long)r_offset, (unsigned long long)r_line, ri->path, how);
}

/* ---- signals ----------------------------------------------------------------------------------
 * SIGINT/SIGTERM are delivered to the main thread only (the sender and the watchdog block
 * them), without SA_RESTART, so a read blocked on a pipe or FIFO returns at once. The first
 * stops reading and starts a bounded flush; a second, or the flush outliving its bound (the
 * main thread may be stuck waiting for queue room), makes the watchdog record what is
 * acknowledged, say so and exit at once. */

#define STOP_FLUSH_NS (5LL * 1000000000)    /* how long the main thread flushes after a signal */
#define STOP_HARD_NS (12LL * 1000000000)    /* the watchdog's bound: flush + close + margin */

/* The signal state is common.c's (sky__cli_catch_stop): lock-free atomics, so the watchdog
 * thread reads it too; sky__cli_stop_signal() is the first signal's number. */

typedef struct watchdog {
    ship *sh;
    atomic_bool done;
    pthread_mutex_t mu; /* `reading`; held while the watchdog looks at the sink */
    bool reading;       /* files are read (not --follow): the watchdog watches delivery */
} watchdog;

/* Reading waits in the sink for room (backpressure) that a dead endpoint never makes, so the
 * reader cannot see the stall itself: the watchdog does, and lets it go (sky_cwl_stop_blocking:
 * the line refused then stops reading). Only while regular files are read: they can be read
 * again from the position reported; a pipe's writer (a service piping its output) or a followed
 * file is held back instead, until the endpoint is back or a signal comes. */
static void watch_delivery(watchdog *w)
{
    pthread_mutex_lock(&w->mu);
    ship *sh = w->sh;
    int cur = atomic_load_explicit(&sh->tr.read_input, memory_order_relaxed);
    sky_cwl_stats st;
    if (w->reading && sh->in[cur].regular && sky_cwl_stats_get(sh->sink, &st) == SKY_OK &&
        stalled(&st)) {
        give_up(&st);
        sky_cwl_stop_blocking(sh->sink);
        w->reading = false;
    }
    pthread_mutex_unlock(&w->mu);
}

static void *watchdog_main(void *arg)
{
    watchdog *w = arg;
    int64_t first = 0;
    while (!atomic_load(&w->done)) {
        /* before a signal: asleep until one comes (or the end pokes it), not awake every 50 ms
         * (a shipper's every wake-up costs a context switch); after one: every 50 ms */
        if (!sky__cli_stop_signal()) {
            sky__cli_stop_wait(1000);
            watch_delivery(w);
            continue;
        }
        usleep(50000);
        int64_t now = sky_monotonic_ns();
        if (!first)
            first = now;
        if (sky__cli_stop_count() < 2 && now - first < STOP_HARD_NS)
            continue;
        ship *sh = w->sh;
        pthread_mutex_lock(&sh->tr.mu); /* held until _exit: the reader cannot publish now */
        if (atomic_load(&w->done)) { /* the reader reported first (it sets done under mu) */
            pthread_mutex_unlock(&sh->tr.mu);
            break;
        }
        checkpoint_locked(sh, true, false);
        fprintf(stderr, "skylog ship: %s: not waiting for what is in flight\n",
                sky__cli_stop_count() >= 2 ? "second signal" : "flush took too long");
        report_position(sh, sky__cli_stop_signal(), NULL);
        fflush(stderr);
        _exit(128 + sky__cli_stop_signal());
    }
    return NULL;
}

/* ---- reading -------------------------------------------------------------------------------- */

static void show_progress(ship *sh, bool final)
{
    if (!sh->progress)
        return;
    /* at most every 1024 lines look at the clock, and redraw at most 5 times a second */
    if (!final && (sh->lines & 1023) != 0)
        return;
    int64_t now = sky_monotonic_ns();
    if (!final && now - sh->last_progress_ns < 200000000)
        return;
    sh->last_progress_ns = now;
    double secs = (double)(now - sh->start_ns) / 1e9;
    double rate = secs > 0 ? (double)sh->lines / secs : 0;
    sky_cwl_stats st;
    sky_cwl_stats_get(sh->sink, &st);
    if (sh->total_bytes && !sh->follow) {
        int width = 30;
        int done = (int)((double)sh->bytes_read / (double)sh->total_bytes * width);
        if (done > width)
            done = width;
        fprintf(stderr, "\r[%.*s%*s] %3d%%  %llu lines  %.0f ev/s  sent %llu ", done,
                "##############################", width - done, "",
                (int)(100.0 * (double)sh->bytes_read / (double)sh->total_bytes),
                (unsigned long long)sh->lines, rate, (unsigned long long)st.sent_events);
    } else {
        fprintf(stderr, "\r%llu lines  %.0f ev/s  sent %llu ", (unsigned long long)sh->lines, rate,
                (unsigned long long)st.sent_events);
    }
    if (final)
        fputc('\n', stderr);
}

/* Where reading is once a line of `raw` bytes (its newline included) is done. */
static void advance(ship *sh, size_t raw)
{
    ship_input *in = &sh->in[sh->cur];
    sh->bytes_read += (uint64_t)raw;
    in->offset += (uint64_t)raw;
    in->line++;
    sh->total_lines++;
}

/* A line the sink refused: stop reading if it refuses because delivery cannot succeed. */
static void refused(ship *sh)
{
    sh->refused++;
    sky_cwl_stats now;
    if ((sky_cwl_stats_get(sh->sink, &now) == SKY_OK && now.persistent_error) ||
        atomic_load(&gave_up))
        cannot_deliver = true;
}

/* The anchor a line's event will be, for the checkpoint: a time the service may refuse (older
 * than a day: the shortest retention; ahead) makes it optional, and one it surely refuses
 * (past 14 days or 2 hours ahead, with an hour's margin) leaves none (false). */
static bool line_anchor(const ship *sh, int64_t ts, bool ts_line, sky__anchor *a)
{
    *a = (sky__anchor){.ts = ts, .n = 1};
    if (!sh->checkpoint) /* only a checkpoint keeps anchors */
        return false;
    if (ts_line) {
        int64_t now = sh->now_ms;
        if (ts < now - SKY_CWL_MAX_AGE_MS - 3600000 || ts > now + SKY_CWL_MAX_FUTURE_MS + 3600000)
            return false;
        if (ts < now - 86400000 || ts > now + 3600000)
            a->flags = SKY__ANCHOR_OPTIONAL;
    }
    return true;
}

/* Every 1,024 lines: the clock, the progress bar, what was answered, the checkpoint. */
static void every_1024(ship *sh)
{
    if ((sh->lines & 1023) == 0) {
        sh->now_ms = sky_now_ns() / 1000000;
        show_progress(sh, false);
        track_refresh(sh); /* pops what was answered: the ring stays as small as the queue */
        checkpoint_maybe(sh, true);
    }
}

/* A line that became one event (or was refused) is done: position, accounting, tracking. */
static void line_put(ship *sh, const char *line, size_t n, int64_t ts, bool ts_line,
                     sky_status st)
{
    sh->lines++;
    if (st != SKY_OK)
        refused(sh);
    sky__anchor a;
    bool anchor = st == SKY_OK && line_anchor(sh, ts, ts_line, &a);
    if (anchor)
        a.h = sh->hash(line, n);
    /* SKY_ELIMIT is the drop policy at work (counted, not a resend candidate) */
    track_line(sh, st == SKY_OK, st != SKY_OK && st != SKY_ELIMIT, anchor ? &a : NULL);
    every_1024(sh);
}

/* Puts the pending lines (sky_cwl_put_many: one lock for all), then finishes each in order.
 * After a refusal that means the sink cannot deliver, the lines after it are not read. */
static void flush_lines(ship *sh)
{
    size_t done = 0;
    while (done < sh->n_pend && !cannot_deliver) {
        sky_status st[PUT_BATCH];
        size_t k = sky_cwl_put_many(sh->sink, sh->pend + done, sh->n_pend - done, st);
        if (!k) { /* cannot happen with a valid sink and messages; never lose track of one */
            st[0] = sky_cwl_put(sh->sink, sh->pend[done].ts_ms, sh->pend[done].msg,
                                sh->pend[done].len);
            k = 1;
        }
        for (size_t i = 0; i < k; i++, done++) {
            advance(sh, sh->pend_raw[done]);
            line_put(sh, sh->pend[done].msg, sh->pend[done].len, sh->pend[done].ts_ms,
                     sh->pend_ts_line[done], st[i]);
        }
    }
    sh->n_pend = 0;
}

/* One line read (`raw` bytes, its newline included). A plain one waits in `pend` for the next
 * flush_lines(); the others (empty, settling, long) are done at once, after the pending ones,
 * so that lines are always finished in reading order. */
static void ship_line(ship *sh, char *line, size_t raw)
{
    size_t n = raw;
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    bool settling = sh->settle.active ||
                    (sh->settle.anchor_max_ts && sh->settle.lines_seen < SKY__SETTLE_WINDOW);
    /* A line that may become several events (split) or none (dropped) is measured by the
     * sink's own count; UTF-8 repair can triple its length, hence the 3. */
    bool long_line = n > sh->long_line;
    int64_t ts = 0;
    bool ts_line = n && sky__line_timestamp(line, n, &ts);
    if (n && !ts_line)
        ts = sh->read_ms;
    if (n && !settling && !long_line) {
        sh->pend[sh->n_pend] = (sky_cwl_msg){.ts_ms = ts, .msg = line, .len = n};
        sh->pend_raw[sh->n_pend] = raw;
        sh->pend_ts_line[sh->n_pend] = ts_line;
        if (++sh->n_pend == PUT_BATCH)
            flush_lines(sh);
        return;
    }
    flush_lines(sh);
    if (cannot_deliver)
        return; /* not read: reading stops before it */
    advance(sh, raw);
    ship_input *in = &sh->in[sh->cur];
    if (n == 0) {
        sh->empty++;
        track_line(sh, 0, false, NULL);
        return;
    }
    if (settling) {
        sky__anchor stored;
        switch (sky__settle_line(&sh->settle, line, n, ts, ts_line, long_line, &stored)) {
        case SKY__SETTLE_SKIP:
            track_line(sh, 0, false, &stored); /* stored by the killed run */
            return;
        case SKY__SETTLE_MISMATCH:
            fprintf(stderr, "skylog ship: cannot settle the last batch: stream %s holds %llu "
                    "events after the checkpoint that are not the next lines of %s (line %llu "
                    "is not one of them): the input changed, or another writer uses the "
                    "stream. Nothing was sent; use --start-offset to choose where to start.\n",
                    sh->stream, (unsigned long long)sh->settle.left, in->path,
                    (unsigned long long)in->line);
            sh->settle_failed = true;
            in->offset -= (uint64_t)raw; /* this line is not done */
            in->line--;
            sh->total_lines--;
            return;
        case SKY__SETTLE_SEND:
            break;
        }
    }
    if (!long_line) {
        line_put(sh, line, n, ts, ts_line, sky_cwl_put(sh->sink, ts, line, n));
        return;
    }
    sh->lines++;
    sky_cwl_stats before, after;
    sky_cwl_stats_get(sh->sink, &before);
    sky_status st = sky_cwl_put(sh->sink, ts, line, n);
    if (st != SKY_OK)
        refused(sh);
    sky_cwl_stats_get(sh->sink, &after);
    sky__anchor a;
    bool anchor = line_anchor(sh, ts, ts_line, &a);
    a.n = (uint32_t)(after.accepted - before.accepted);
    a.flags |= SKY__ANCHOR_WILD;
    track_line(sh, after.accepted - before.accepted,
               after.dropped[SKY_CWL_DROP_QUEUE_FULL] != before.dropped[SKY_CWL_DROP_QUEUE_FULL],
               anchor && a.n ? &a : NULL);
    every_1024(sh);
}

/* Reads what is available from f and ships it line by line; returns false on a read error.
 * Lines are taken in place from reads of READ_CHUNK bytes straight into *buf (the buffer grows
 * only for a longer line), not copied out one at a time as getline() did through a stdio
 * buffer: one copy of the input instead of three, one read() per chunk. read() returns what a
 * pipe has, so a line written to a pipe is shipped without waiting for a full chunk. The FILE
 * is unbuffered (see unbuffered()), so no data waits in it: f and its descriptor agree. As
 * with getline(), a last line without a newline is shipped when reading reaches the end.
 * The lines of a chunk are put in groups (ship_line, flush_lines), all before the next read. */
#define READ_CHUNK (256u << 10)
static bool drain(ship *sh, FILE *f, char **buf, size_t *cap)
{
    int fd = fileno(f);
    struct stat fst;
    /* a pipe (or terminal, socket) may keep us waiting: see the poll() below */
    bool may_wait = sh->checkpoint && fstat(fd, &fst) == 0 && !S_ISREG(fst.st_mode);
    size_t have = 0; /* bytes at the start of *buf: the beginning of a line */
    while (!sky__cli_stop_signal() && !cannot_deliver && !sh->settle_failed) {
        /* While a pipe has nothing to read, what is acknowledged meanwhile reaches the
         * checkpoint (while reading, it is written only now and then: checkpoint_maybe). */
        if (may_wait) {
            struct pollfd pfd = {.fd = fd, .events = POLLIN};
            int ready = poll(&pfd, 1, 200);
            if (ready == 0 || (ready < 0 && errno == EINTR)) {
                track_refresh(sh);
                checkpoint_maybe(sh, false);
                continue;
            }
        }
        if (*cap - have < READ_CHUNK / 2) { /* a long line: room for it and a chunk more */
            size_t ncap = *cap ? *cap * 2 : READ_CHUNK;
            char *nb = realloc(*buf, ncap);
            if (!nb) {
                errno = ENOMEM;
                return false;
            }
            /* a file that fills the first buffer: its pages faulted in with one call rather
             * than one fault each inside read() (util/prefault.h) */
            struct stat rst;
            if (!*cap && fstat(fd, &rst) == 0 && S_ISREG(rst.st_mode) &&
                rst.st_size >= (off_t)ncap)
                sky__prefault(nb, ncap);
            *buf = nb;
            *cap = ncap;
        }
        ssize_t got = read(fd, *buf + have, *cap - have);
        if (got < 0 && errno == EINTR)
            continue; /* a signal: the loop's condition says whether to stop */
        if (got <= 0) {
            int e = errno;
            if (have && !sh->settle_failed) /* the last line, without its newline */
                ship_line(sh, *buf, have);
            flush_lines(sh);
            if (got < 0 && e != EAGAIN && !sky__cli_stop_signal()) {
                errno = e;
                return false;
            }
            return true;
        }
        /* a line without its own time is stamped with the time it was read: this read's
         * (one clock reading a chunk, not one a line: 27 ns each on the benchmark's guest) */
        sh->read_ms = sky_now_ns() / 1000000;
        char *p = *buf, *end = *buf + have + got, *nl;
        while (!sky__cli_stop_signal() && !cannot_deliver && !sh->settle_failed &&
               (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
            ship_line(sh, p, (size_t)(nl + 1 - p));
            p = nl + 1;
        }
        flush_lines(sh); /* the pending lines point into *buf: put before it moves */
        have = (size_t)(end - p);
        if (have && p != *buf)
            memmove(*buf, p, have);
    }
    return true;
}

/* drain() reads the descriptor: a FILE must buffer nothing ahead of it (skip_to_start() reads
 * through the FILE first). */
static void unbuffered(FILE *f) { setvbuf(f, NULL, _IONBF, 0); }

static bool skip_to_start(ship_input *in, FILE *f, bool count_lines);

/* tail -F: follow `path` across rotation and truncation until a signal. */
static int follow_file(ship *sh, const char *path)
{
    char *buf = NULL;
    size_t cap = 0;
    FILE *f = NULL;
    struct stat cur = {0};
    int rc = SKY_EXIT_OK;
    ship_input *in = &sh->in[sh->cur];
    bool first = true;
    const char *open_path = in->rotated ? in->rotated : path; /* resumed: finish it first */
    while (!sky__cli_stop_signal() && !sh->settle_failed) {
        if (!f) {
            f = fopen(open_path, "r");
            if (f) {
                unbuffered(f);
                fstat(fileno(f), &cur);
                pthread_mutex_lock(&sh->tr.mu); /* the watchdog's checkpoint reads have_id */
                in->have_id = true;
                in->dev = (unsigned long long)cur.st_dev;
                in->ino = (unsigned long long)cur.st_ino;
                pthread_mutex_unlock(&sh->tr.mu);
                if (first && !skip_to_start(in, f, in->start_line == 0)) {
                    fclose(f);
                    free(buf);
                    return SKY_EXIT_FAIL;
                }
                if (!first)
                    in->offset = in->line = 0;
                first = false;
                track_segment(sh);
            }
        }
        if (f) {
            if (!drain(sh, f, &buf, &cap)) {
                fprintf(stderr, "skylog ship: %s: %s\n", open_path, strerror(errno));
                rc = SKY_EXIT_FAIL;
            }
            if (open_path != path) { /* the rotated file is read to its end: on to path */
                if (sky__cli_stop_signal() || sh->settle_failed)
                    break;
                fclose(f);
                f = NULL;
                open_path = path;
                continue;
            }
            /* idle: what was acknowledged meanwhile reaches the checkpoint */
            track_refresh(sh);
            checkpoint_maybe(sh, false);
            struct stat now;
            if (stat(path, &now) != 0 || now.st_ino != cur.st_ino || now.st_dev != cur.st_dev) {
                /* rotated (or removed): the old file was read to its end above */
                drain(sh, f, &buf, &cap);
                fclose(f);
                f = NULL;
                continue;
            }
            if (now.st_size < lseek(fileno(f), 0, SEEK_CUR)) { /* truncated */
                fseeko(f, 0, SEEK_SET);
                in->offset = in->line = 0;
                track_segment(sh);
                continue;
            }
        }
        usleep(100000);
    }
    if (f) {
        drain(sh, f, &buf, &cap);
        fclose(f);
    }
    free(buf);
    return rc;
}

static int ship_stream(ship *sh, FILE *f, const char *name)
{
    char *buf = NULL;
    size_t cap = 0;
    bool ok = drain(sh, f, &buf, &cap);
    free(buf);
    if (!ok) {
        fprintf(stderr, "skylog ship: %s: %s\n", name, strerror(errno));
        return SKY_EXIT_FAIL;
    }
    return SKY_EXIT_OK;
}

/* Positions f at in->start_offset: seeks a regular file, reads a pipe forward. The byte
 * before the offset must end a line, or the offset is not one ship wrote. */
static bool skip_to_start(ship_input *in, FILE *f, bool count_lines)
{
    uint64_t off = in->start_offset;
    if (off == 0)
        return true;
    struct stat st;
    bool seekable = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode);
    if (seekable && (uint64_t)st.st_size < off) {
        fprintf(stderr, "skylog ship: %s: start offset %llu is past its end (%llu bytes): "
                "truncated or replaced since?\n", in->path, (unsigned long long)off,
                (unsigned long long)st.st_size);
        return false;
    }
    int last = -1;
    if (seekable && !count_lines) {
        if (fseeko(f, (off_t)off - 1, SEEK_SET) != 0)
            return false;
        last = fgetc(f);
    } else {
        char buf[65536];
        uint64_t left = off, lines = 0;
        while (left) {
            size_t want = left < sizeof buf ? (size_t)left : sizeof buf;
            size_t got = fread(buf, 1, want, f);
            if (got == 0)
                break;
            for (char *p = buf; (p = memchr(p, '\n', (size_t)(buf + got - p))); p++)
                lines++;
            last = (unsigned char)buf[got - 1];
            left -= got;
        }
        if (left) {
            fprintf(stderr, "skylog ship: %s: ended before the start offset %llu\n", in->path,
                    (unsigned long long)off);
            return false;
        }
        if (count_lines)
            in->start_line = lines;
    }
    if (last != '\n') {
        fprintf(stderr, "skylog ship: %s: offset %llu is not at the start of a line\n", in->path,
                (unsigned long long)off);
        return false;
    }
    in->offset = off;
    in->line = in->start_line;
    return true;
}

enum { O_RETENTION = 2000, O_NO_CREATE, O_BATCH, O_FLUSH, O_OVERSIZE, O_MAX_EVENT, O_TRANSPORT,
       O_BEARER, O_COMPRESS, O_CHECKPOINT, O_RESUME, O_START_OFFSET, O_GIVE_UP, O_TEST_CLOCK };

/* A flag that is a CloudWatch sink option: read as the configuration file reads `key`. */
static bool sink_flag(const char *flag, const char *key, const char *arg, int64_t *out)
{
    const sky__opt *row = sky__config_find_opt(sky__config_find("cloudwatch_logs"), key);
    return row && sky__cli_num_flag("ship", flag, row, arg, out);
}

/* The file in path's directory with this device and inode (a rotated log keeps its inode:
 * app.log became app.log.1), or NULL. */
static char *find_by_inode(const char *path, unsigned long long dev, unsigned long long ino)
{
    char *copy = strdup(path);
    if (!copy)
        return NULL;
    const char *dir = dirname(copy);
    char *found = NULL;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && !found && (e = readdir(d))) {
        size_t n = strlen(dir) + strlen(e->d_name) + 2;
        char *p = malloc(n);
        struct stat st;
        if (p) {
            snprintf(p, n, "%s/%s", dir, e->d_name);
            if (stat(p, &st) == 0 && S_ISREG(st.st_mode) &&
                (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino)
                found = p;
            else
                free(p);
        }
    }
    if (d)
        closedir(d);
    free(copy);
    return found;
}

/* The stream and the anchor of a version 2 checkpoint: a resume writes to the stream the
 * checkpoint names (a template such as the default one would resolve to a new name), and
 * settles against its anchor. */
static bool resume_stream(ship *sh, json_t *cp, const char *cp_path)
{
    json_t *v = json_object_get(cp, "skylog_ship_checkpoint");
    if (json_integer_value(v) == 2)
        sh->hash = sky__ship_hash_v2;
    if (json_integer_value(v) < 2) {
        fprintf(stderr, "skylog ship: %s: a version 1 checkpoint: the last batch is not "
                "settled (it may be stored twice)\n", cp_path);
        return true;
    }
    const char *stream = json_string_value(json_object_get(cp, "stream"));
    json_t *tmpl_j = json_object_get(cp, "stream_template");
    const char *tmpl = json_string_value(tmpl_j);
    if (!stream || !sky_cwl_valid_stream_name(stream) || (!tmpl && !json_is_null(tmpl_j))) {
        fprintf(stderr, "skylog ship: %s: not a skylog ship checkpoint (no valid stream)\n",
                cp_path);
        return false;
    }
    if (sh->stream_opt && strcmp(sh->stream_opt, stream) != 0 &&
        !(tmpl && strcmp(sh->stream_opt, tmpl) == 0)) {
        sky__safe_printf(stderr, "skylog ship: %s: the checkpoint is for stream %s%s%s%s, not %s\n",
                cp_path, stream, tmpl ? " (--stream '" : "", tmpl ? tmpl : "", tmpl ? "')" : "",
                sh->stream_opt);
        return false;
    }
    sh->resume_stream = strdup(stream);
    sh->stream_tmpl_cp = tmpl ? strdup(tmpl) : NULL;
    if (!sh->resume_stream || (tmpl && !sh->stream_tmpl_cp))
        return false;
    sh->stream_opt = sh->stream_tmpl_cp; /* the template stays what the first run was given */
    json_t *tail = json_object_get(cp, "tail");
    if (json_is_null(tail) || !tail)
        return true; /* written before anything was sent: nothing to settle */
    if (!sky__anchor_parse(tail, &sh->tr.tail)) {
        fprintf(stderr, "skylog ship: %s: not a skylog ship checkpoint (bad tail)\n", cp_path);
        return false;
    }
    sh->tr.tail_known = true;
    sh->resumed_tail = true;
    return true;
}

/* Matches a checkpoint's input to one of the inputs: same device and inode for files (the
 * path may be spelled differently), "-" for standard input. Sets where to start. */
static bool resume_from(ship *sh, json_t *cp, const char *cp_path)
{
    json_t *in = json_object_get(cp, "input");
    const char *path = json_string_value(json_object_get(in, "path"));
    json_t *dev = json_object_get(in, "dev"), *ino = json_object_get(in, "ino");
    json_int_t off = json_integer_value(json_object_get(in, "offset"));
    json_int_t line = json_integer_value(json_object_get(in, "line"));
    const char *group = json_string_value(json_object_get(cp, "group"));
    if (!path || off < 0 || line < 0) {
        fprintf(stderr, "skylog ship: %s: the checkpoint has no input path or offset\n", cp_path);
        return false;
    }
    if (group && strcmp(group, sh->co->log_group) != 0) {
        sky__safe_printf(stderr, "skylog ship: %s: the checkpoint is for group %s, not %s\n",
                         cp_path, group, sh->co->log_group);
        return false;
    }
    for (int i = 0; i < sh->n_in; i++) {
        ship_input *x = &sh->in[i];
        bool same;
        if (strcmp(path, "-") == 0 || x->is_stdin)
            same = strcmp(path, "-") == 0 && x->is_stdin;
        else if (json_is_integer(dev) && json_is_integer(ino) && x->have_id)
            same = (unsigned long long)json_integer_value(dev) == x->dev &&
                   (unsigned long long)json_integer_value(ino) == x->ino;
        else
            same = strcmp(path, x->path) == 0;
        if (!same && sh->follow && !x->is_stdin && strcmp(path, x->path) == 0 &&
            json_is_integer(dev) && json_is_integer(ino)) {
            /* followed across a rotation: finish the old file if it is still there */
            x->rotated = find_by_inode(x->path, (unsigned long long)json_integer_value(dev),
                                       (unsigned long long)json_integer_value(ino));
            if (!x->rotated) {
                fprintf(stderr, "skylog ship: %s: the checkpoint's file (inode %llu) is no "
                        "longer next to %s: what it held after byte %lld cannot be shipped; "
                        "following %s from its start\n", cp_path,
                        (unsigned long long)json_integer_value(ino), x->path, (long long)off,
                        x->path);
                x->restart = true;
                sh->cur = i;
                return resume_stream(sh, cp, cp_path);
            }
            sh->cur = i;
            x->start_offset = (uint64_t)off;
            x->start_line = (uint64_t)line;
            x->dev = (unsigned long long)json_integer_value(dev); /* what is read first */
            x->ino = (unsigned long long)json_integer_value(ino);
            return resume_stream(sh, cp, cp_path);
        }
        if (!same) {
            if (!x->is_stdin && strcmp(path, x->path) == 0) {
                fprintf(stderr, "skylog ship: %s: %s is another file than the checkpoint's "
                        "(inode %llu, was %llu): rotated or replaced; use --start-offset to "
                        "choose where to start\n", cp_path, x->path, x->ino,
                        (unsigned long long)json_integer_value(ino));
                return false;
            }
            continue;
        }
        sh->cur = i; /* the inputs before it were acknowledged in full */
        struct stat st;
        if (sh->follow && !x->is_stdin && stat(x->path, &st) == 0 &&
            (uint64_t)st.st_size < (uint64_t)off) {
            fprintf(stderr, "skylog ship: %s: %s was truncated (%lld bytes, the checkpoint is at "
                    "%lld): following it from its start\n", cp_path, x->path,
                    (long long)st.st_size, (long long)off);
            x->restart = true;
            return resume_stream(sh, cp, cp_path);
        }
        x->start_offset = (uint64_t)off;
        x->start_line = (uint64_t)line;
        return resume_stream(sh, cp, cp_path);
    }
    fprintf(stderr, "skylog ship: %s: the checkpoint's input %s is not among the inputs\n",
            cp_path, path);
    return false;
}

/* Before anything is sent: reads the stream's tail back. Resumed from an anchor, it finds the
 * events stored after it (the killed run's last batch, stored without its acknowledgement
 * reaching it) for ship_line to skip; otherwise the stream's tail becomes the anchor. Then the
 * checkpoint says so. False (reported) when it cannot be settled. */
static bool settle_start(ship *sh, const sky__aws_cli_opts *aws, bool resume)
{
    if (!sh->stream) /* {logger} templates: no single stream to read */
        return true;
    sky_aws_client *c = sky__aws_cli_client(aws, "logs", "ship");
    if (!c) {
        sh->settle_failed = true;
        return false;
    }
    bool restart = sh->in[sh->cur].restart;
    bool ok, denied = false;
    if (resume && sh->resumed_tail && !restart) {
        ok = sky__settle_load(c, sh->co->log_group, sh->stream, &sh->tr.tail, NULL, sh->hash,
                              &sh->settle, &denied);
        if (ok && sh->settle.total && !sh->quiet)
            fprintf(stderr, "skylog ship: %llu events were stored after the checkpoint without "
                    "their acknowledgement: the lines they are are skipped\n",
                    (unsigned long long)sh->settle.total);
    } else {
        /* a first run, or the old content is gone (truncated, rotated away): what the stream
         * holds now is where this run starts */
        sky__anchor_tail fresh;
        ok = sky__settle_load(c, sh->co->log_group, sh->stream, NULL, &fresh, sh->hash,
                              &sh->settle, &denied);
        if (ok) {
            sh->tr.tail = fresh;
            sh->tr.tail_known = true;
        }
    }
    sky_aws_client_free(c);
    if (!ok && denied) {
        /* shipping roles often may write and not read: ship, at least once */
        fprintf(stderr, "skylog ship: warning: GetLogEvents is denied on stream %s: the last "
                "batch cannot be settled, so a resume may store up to one batch twice (allow "
                "logs:GetLogEvents for exactly once)\n", sh->stream);
        sh->tr.tail_known = false;
        sh->resumed_tail = false;
        return true;
    }
    if (!ok) {
        sh->settle_failed = true;
        return false;
    }
    pthread_mutex_lock(&sh->tr.mu);
    sh->tr.pub_tail = sh->tr.tail;
    sh->tr.pub_tail_known = sh->tr.tail_known;
    checkpoint_locked(sh, true, false);
    pthread_mutex_unlock(&sh->tr.mu);
    return true;
}

int sky__cmd_ship(int argc, char **argv)
{
    if (sky__cli_wants_help(argc, argv)) {
        fputs(sky__ship_help, stdout);
        return SKY_EXIT_OK;
    }
    /* Before anything that can take time (inputs, the checkpoint, the configuration files, the
     * sink): a signal from here on stops the run with its report, instead of killing it. No
     * SA_RESTART: reads return EINTR. */
    sky__cli_catch_stop();
    static const struct option opts[] = {
        {"group", required_argument, NULL, 'g'},
        {"stream", required_argument, NULL, 's'},
        {"follow", no_argument, NULL, 'f'},
        {"quiet", no_argument, NULL, 'q'},
        {"retention-days", required_argument, NULL, O_RETENTION},
        {"no-create", no_argument, NULL, O_NO_CREATE},
        {"batch-size", required_argument, NULL, O_BATCH},
        {"flush-interval", required_argument, NULL, O_FLUSH},
        {"oversize", required_argument, NULL, O_OVERSIZE},
        {"max-event-bytes", required_argument, NULL, O_MAX_EVENT},
        {"transport", required_argument, NULL, O_TRANSPORT},
        {"bearer-token", required_argument, NULL, O_BEARER},
        {"compress", no_argument, NULL, O_COMPRESS},
        {"checkpoint", required_argument, NULL, O_CHECKPOINT},
        {"resume", no_argument, NULL, O_RESUME},
        {"start-offset", required_argument, NULL, O_START_OFFSET},
        {"give-up-after", required_argument, NULL, O_GIVE_UP},
        {"test-clock", required_argument, NULL, O_TEST_CLOCK}, /* tests only: see test_clock */
        SKY__AWS_LONG_OPTS,
        {NULL, 0, NULL, 0},
    };
    sky__aws_cli_opts aws = {0};
    /* Reading waits for the sender (backpressure), so a few full batches of queue are enough;
     * memory stays small however large the input. */
    sky_cwl_opts co = {.block_when_full = true, .max_queue_size = 20000,
                       .max_queue_bytes = 2u << 20};
    bool quiet = false, follow = false, resume = false;
    const char *checkpoint = NULL;
    uint64_t start_offset = 0;
    optind = 1;
    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, ":g:s:fq", opts, NULL);
        if (c == -1)
            break;
        int64_t n;
        switch (c) {
        case 'g': co.log_group = optarg; break;
        case 's': co.log_stream = optarg; break;
        case 'f': follow = true; break;
        case 'q': quiet = true; break;
        case O_RETENTION: /* 0 would be "leave alone", the default; the sink checks the set */
            if (!sky__cli_int_flag("ship", "--retention-days", optarg, 1, 3653, &n))
                return SKY_EXIT_USAGE;
            co.retention_days = (int)n;
            break;
        case O_NO_CREATE: co.no_create_group = co.no_create_stream = true; break;
        /* the sink's own rows: the bounds, units and the refusal of 0 (the sink's "default",
         * not the "none" one reads) are the configuration file's */
        case O_BATCH:
            if (!sink_flag("--batch-size", "batch_size", optarg, &n))
                return SKY_EXIT_USAGE;
            co.batch_size = (size_t)n;
            break;
        case O_FLUSH:
            if (!sink_flag("--flush-interval", "flush_interval_ms", optarg, &n))
                return SKY_EXIT_USAGE;
            co.flush_interval_ms = n;
            break;
        case O_MAX_EVENT:
            if (!sink_flag("--max-event-bytes", "max_event_bytes", optarg, &n))
                return SKY_EXIT_USAGE;
            co.max_event_bytes = (size_t)n;
            break;
        case O_GIVE_UP:
            if (!sky__cli_int_flag("ship", "--give-up-after", optarg, 1, 1000, &n))
                return SKY_EXIT_USAGE;
            give_up_after = (uint64_t)n;
            break;
        case O_TEST_CLOCK:
            test_clock = optarg;
            co.retry_delay_ms = TEST_RETRY_MS;
            co.no_exponential_backoff = true;
            break;
        case O_COMPRESS: co.compress = true; break;
        case O_BEARER: co.bearer_token = optarg; break;
        case O_CHECKPOINT: checkpoint = optarg; break;
        case O_RESUME: resume = true; break;
        case O_START_OFFSET: /* 0 is the start: the default, and meant as such */
            if (!sky__cli_int_flag("ship", "--start-offset", optarg, 0, INT64_MAX, &n))
                return SKY_EXIT_USAGE;
            start_offset = (uint64_t)n;
            break;
        case O_OVERSIZE:
            if (strcmp(optarg, "truncate") == 0)
                co.oversize = SKY_CWL_OVERSIZE_TRUNCATE;
            else if (strcmp(optarg, "split") == 0)
                co.oversize = SKY_CWL_OVERSIZE_SPLIT;
            else if (strcmp(optarg, "drop") == 0)
                co.oversize = SKY_CWL_OVERSIZE_DROP;
            else {
                fprintf(stderr, "skylog ship: --oversize: expected truncate, split or drop, got '%s'\n",
                        optarg);
                return SKY_EXIT_USAGE;
            }
            break;
        case O_TRANSPORT:
            if (strcmp(optarg, "put_log_events") == 0)
                co.transport = SKY_CWL_PUT_LOG_EVENTS;
            else if (strcmp(optarg, "ndjson") == 0)
                co.transport = SKY_CWL_NDJSON;
            else if (strcmp(optarg, "otlp") == 0)
                co.transport = SKY_CWL_OTLP;
            else {
                fprintf(stderr,
                        "skylog ship: --transport: expected put_log_events, ndjson or otlp, got '%s'\n",
                        optarg);
                return SKY_EXIT_USAGE;
            }
            break;
        case ':':
            fprintf(stderr, "skylog ship: option '%s' needs a value\n", argv[optind - 1]);
            return SKY_EXIT_USAGE;
        case '?':
            sky__cli_unknown_option("ship", argv[optind - 1], opts);
            return SKY_EXIT_USAGE;
        default:
            if (!sky__aws_cli_opt(&aws, c, optarg)) {
                fprintf(stderr, "skylog ship: unexpected option\n");
                return SKY_EXIT_USAGE;
            }
        }
    }
    if (!co.log_group) {
        fprintf(stderr, "skylog ship: --group is required (see skylog ship --help)\n");
        return SKY_EXIT_USAGE;
    }
    if (follow && optind >= argc) {
        fprintf(stderr, "skylog ship: --follow needs a FILE (standard input is always followed)\n");
        return SKY_EXIT_USAGE;
    }
    if (resume && !checkpoint) {
        fprintf(stderr, "skylog ship: --resume needs --checkpoint FILE\n");
        return SKY_EXIT_USAGE;
    }
    if (start_offset && (resume || argc - optind > 1)) {
        fprintf(stderr, "skylog ship: --start-offset takes one input and no --resume\n");
        return SKY_EXIT_USAGE;
    }
    char region[64];
    if (!(aws.region = sky__aws_cli_region(&aws, "logs", "ship", region, sizeof region)))
        return SKY_EXIT_FAIL;
    co.endpoint = aws.endpoint;
    co.region = aws.region;
    co.profile = aws.profile;
    co.ca_bundle = aws.ca_bundle;

    /* The inputs, each checked before anything is sent. */
    static char dash[] = "-";
    char *stdin_args[] = {dash};
    char **args = optind < argc ? argv + optind : stdin_args;
    int n_args = optind < argc ? argc - optind : 1;
    ship sh = {.follow = follow, .quiet = quiet, .start_ns = sky_monotonic_ns(), .co = &co,
               .checkpoint = checkpoint, .stream_opt = co.log_stream, .n_in = n_args,
               .hash = sky__ship_hash};
    sh.in = calloc((size_t)n_args, sizeof *sh.in);
    if (!sh.in)
        return SKY_EXIT_FAIL;
    int rc = SKY_EXIT_OK;
    for (int i = 0; i < n_args && rc == SKY_EXIT_OK; i++) {
        ship_input *in = &sh.in[i];
        in->arg = args[i];
        in->is_stdin = strcmp(args[i], "-") == 0;
        struct stat st;
        if (in->is_stdin) {
            in->path = strdup("-");
            if (fstat(STDIN_FILENO, &st) == 0 && S_ISREG(st.st_mode)) {
                in->have_id = in->regular = true;
                in->dev = (unsigned long long)st.st_dev;
                in->ino = (unsigned long long)st.st_ino;
            }
            continue;
        }
        in->path = realpath(args[i], NULL);
        if (!in->path)
            in->path = strdup(args[i]); /* --follow may wait for it to appear */
        if (stat(args[i], &st) != 0) {
            if (!follow) {
                fprintf(stderr, "skylog ship: %s: %s\n", args[i], strerror(errno));
                rc = SKY_EXIT_FAIL;
            }
            continue;
        }
        in->have_id = true;
        in->regular = S_ISREG(st.st_mode);
        in->dev = (unsigned long long)st.st_dev;
        in->ino = (unsigned long long)st.st_ino;
        sh.total_bytes += (uint64_t)st.st_size;
    }
    if (rc == SKY_EXIT_OK && resume) {
        json_t *cp = NULL;
        bool missing;
        char err[600];
        if (read_checkpoint(checkpoint, &cp, &missing, err, sizeof err)) {
            if (!resume_from(&sh, cp, checkpoint))
                rc = SKY_EXIT_USAGE;
            json_decref(cp);
        } else if (!missing) { /* no checkpoint yet: start at the beginning */
            fprintf(stderr, "skylog ship: %s\n", err);
            rc = SKY_EXIT_USAGE;
        }
    }
    if (start_offset)
        sh.in[0].start_offset = start_offset;
    if (rc != SKY_EXIT_OK)
        goto free_inputs;
    if (sh.resume_stream)
        co.log_stream = sh.resume_stream; /* the resolved name: the same stream again */

    sh.max_msg = (co.max_event_bytes ? co.max_event_bytes : SKY_CWL_MAX_EVENT_BYTES) -
                 SKY_CWL_EVENT_OVERHEAD;
    sh.long_line = sh.max_msg > 64 ? (sh.max_msg - 64) / 3 : 0;
    pthread_mutex_init(&sh.tr.mu, NULL);
    ship_input *first = &sh.in[sh.cur];
    sh.tr.acked = (ship_pos){.input = sh.cur, .offset = first->start_offset,
                             .line = first->start_line, .dev = first->dev, .ino = first->ino};
    sh.last_written = sh.tr.acked;
    sh.tr.pub = sh.tr.acked;
    sh.tr.keep_anchors = checkpoint != NULL;
    atomic_init(&sh.tr.read_input, sh.cur);
    atomic_init(&sh.tr.read_offset, first->start_offset);
    atomic_init(&sh.tr.read_line, first->start_line);
    atomic_init(&sh.tr.read_total, 0);
    sh.last_written.events = UINT64_MAX; /* the first checkpoint is always written */

    /* Only this thread takes SIGINT/SIGTERM: the sender and the watchdog start with them
     * blocked (one that comes meanwhile waits, and is taken here when they are unblocked). */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    char *err = NULL;
    watchdog wd = {.sh = &sh, .reading = !follow};
    pthread_mutex_init(&wd.mu, NULL);
    pthread_t wd_thread;
    bool wd_started = false;
    sky_status sst = sky_sink_cloudwatch_logs(&co, &sh.sink, &err);
    if (sst != SKY_OK) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        /* may quote the service (a refused CreateLogGroup); a refused option is named by the
         * flag that gave it (the sink names its config key) */
        static const char *const flags[][2] = {
            {"log_group", "--group: "}, {"log_stream", "--stream: "},
            {"max_event_bytes", "--max-event-bytes: "}, {"retention_days", "--retention-days: "}};
        const char *flag = "";
        for (size_t i = 0; err && sst == SKY_EINVAL && i < sizeof flags / sizeof *flags; i++)
            if (strstr(err, flags[i][0]))
                flag = flags[i][1];
        sky__safe_printf(stderr, "skylog ship: %s%s\n", flag,
                         err ? err : "cannot create the CloudWatch sink");
        free(err);
        /* an option the sink refused that came from a flag (--group, --stream,
         * --max-event-bytes, --retention-days) is a usage error, as the values the flags'
         * parser refuses; anything else it refuses (the environment: a proxy the native
         * transport cannot use, a configuration) is a failure */
        rc = sst == SKY_EINVAL && *flag ? SKY_EXIT_USAGE : SKY_EXIT_FAIL;
        goto free_track;
    }
    /* what the watchdog's checkpoint reads (under mu) is written before it starts: pthread_create
     * orders these writes before its reads, as mu orders the later ones */
    if (sky_cwl_stream_name(sh.sink))
        sh.stream = strdup(sky_cwl_stream_name(sh.sink));
    sh.tr.pub_tail = sh.tr.tail;
    sh.tr.pub_tail_known = sh.tr.tail_known;
    atomic_init(&wd.done, false);
    wd_started = pthread_create(&wd_thread, NULL, watchdog_main, &wd) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    sh.progress = !quiet && isatty(STDERR_FILENO);
    /* `skylog ship --group G` with the FILE forgotten reads the terminal, and looks hung */
    for (int i = 0; i < n_args && !quiet; i++)
        if (sh.in[i].is_stdin && isatty(STDIN_FILENO))
            fputs("skylog ship: reading lines from the terminal (standard input); end with "
                  "Ctrl-D, or give the FILE to send\n", stderr);
    sh.now_ms = sky_now_ns() / 1000000;
    if (checkpoint) { /* say where we start, so even an early failure leaves a checkpoint */
        pthread_mutex_lock(&sh.tr.mu);
        checkpoint_locked(&sh, true, false);
        pthread_mutex_unlock(&sh.tr.mu);
        aws.stop = sky__cli_stop_flag();
        if (!settle_start(&sh, &aws, resume))
            rc = SKY_EXIT_FAIL;
    }

    for (; sh.cur < sh.n_in && !sky__cli_stop_signal() && !sh.settle_failed; sh.cur++) {
        ship_input *in = &sh.in[sh.cur];
        in->offset = in->start_offset;
        in->line = in->start_line;
        if (in->is_stdin) {
            unbuffered(stdin);
            if (!skip_to_start(in, stdin, !resume)) {
                rc = SKY_EXIT_FAIL;
                break;
            }
            track_segment(&sh);
            rc |= ship_stream(&sh, stdin, "standard input");
        } else if (follow) {
            rc |= follow_file(&sh, in->arg); /* one file followed; the rest are ignored */
            break;
        } else {
            FILE *f = fopen(in->arg, "r");
            if (!f) {
                fprintf(stderr, "skylog ship: %s: %s\n", in->arg, strerror(errno));
                rc = SKY_EXIT_FAIL;
                break; /* later inputs wait: the checkpoint must stay a prefix */
            }
            unbuffered(f);
            if (!skip_to_start(in, f, !resume)) {
                fclose(f);
                rc = SKY_EXIT_FAIL;
                break;
            }
            sh.bytes_read += in->start_offset; /* the progress bar counts what was skipped */
            track_segment(&sh);
            rc |= ship_stream(&sh, f, in->arg);
            fclose(f);
            if (rc != SKY_EXIT_OK)
                break;
        }
    }
    if (sh.cur >= sh.n_in)
        sh.cur = sh.n_in - 1;
    if (sh.settle.active && !sky__cli_stop_signal() && !sh.settle_failed && !follow)
        /* not ours, or the input lost lines since: nothing of the input was skipped wrongly */
        fprintf(stderr, "skylog ship: note: %llu events stored after the checkpoint are not lines "
                "of the input (another writer to stream %s?)\n",
                (unsigned long long)sh.settle.left, sh.stream);
    /* Reading is over: the sink is watched here from now on, and closed after. */
    pthread_mutex_lock(&wd.mu);
    wd.reading = false;
    pthread_mutex_unlock(&wd.mu);
    /* Wait for delivery while the sink has hope; give up when it is stalled
     * (sky__cli_delivery_stalled: a dead endpoint would otherwise hold the command for ever), at
     * once after an error that waiting cannot fix, or STOP_FLUSH_NS after a signal (sooner when
     * the sink's next attempt falls after that: sky__cli_retry_too_late). */
    sky_status fst = SKY_ETIMEDOUT;
    int64_t stop_seen = 0;
    for (;;) {
        fst = sky_sink_flush(sh.sink, 200);
        track_refresh(&sh);
        checkpoint_maybe(&sh, false);
        if (fst == SKY_OK)
            break;
        int64_t now_ns = sky_monotonic_ns();
        if (sky__cli_stop_signal() && !stop_seen)
            stop_seen = now_ns;
        sky_cwl_stats now;
        sky_cwl_stats_get(sh.sink, &now);
        const char *sig = sky__cli_signal_name(sky__cli_stop_signal());
        if (stop_seen && now_ns - stop_seen > STOP_FLUSH_NS) {
            fprintf(stderr, "skylog ship: stopped waiting %d s after %s: %llu events not "
                    "delivered\n", (int)(STOP_FLUSH_NS / 1000000000), sig,
                    (unsigned long long)now.queued_events);
            break;
        }
        /* the sink waits out a backoff past what is left of the grace: nothing can be
         * delivered in it, so it is not waited for */
        if (stop_seen &&
            sky__cli_retry_too_late(&now, (stop_seen + STOP_FLUSH_NS) / 1000000)) {
            fprintf(stderr, "skylog ship: not waiting for the next attempt, due in %lld s (after "
                    "the %d s allowed after %s): %llu events not delivered\n",
                    (long long)((now.retry_at_mono_ms - now_ns / 1000000 + 999) / 1000),
                    (int)(STOP_FLUSH_NS / 1000000000), sig,
                    (unsigned long long)now.queued_events);
            break;
        }
        if (now.persistent_error) {
            /* the sink said what it is (once); waiting cannot fix it (after a signal, the
             * bounded wait above applies: what is in flight gets its chance) */
            if (now.persistent_error && !quiet)
                fprintf(stderr, "skylog ship: giving up: the error above cannot be fixed by "
                                "waiting\n");
            cannot_deliver = now.persistent_error;
            break;
        }
        if (stalled(&now)) { /* (given up while reading, and delivering again: flush on) */
            give_up(&now);
            break;
        }
        show_progress(&sh, false);
    }
    show_progress(&sh, true);
    /* the provider's own counters, read before close frees the sink (what close's last
     * requests resolve is in st's creds_* only) */
    sky_aws_creds_stats cs;
    if (sky_cwl_creds_stats_get(sh.sink, &cs) != SKY_OK)
        memset(&cs, 0, sizeof cs);
    sky_cwl_stats st;
    sky_cwl_close(sh.sink, &st);
    /* after close, nothing is queued: undelivered events are counted as dropped */
    track_apply(&sh.tr, &st);
    pthread_mutex_lock(&sh.tr.mu);
    uint64_t rejected = 0, dropped = 0;
    for (int i = 0; i < SKY_CWL_REJECT_COUNT_; i++)
        rejected += st.rejected[i];
    for (int i = 0; i < SKY_CWL_DROP_COUNT_; i++)
        dropped += st.dropped[i];
    /* after close, every event is sent, rejected or dropped (undelivered included) */
    bool lost = rejected + dropped > 0;
    if (lost || fst != SKY_OK || sh.settle_failed)
        rc = SKY_EXIT_FAIL;
    if (sky__cli_stop_signal())
        rc = 128 + sky__cli_stop_signal();
    bool all_read = !sky__cli_stop_signal() && sh.cur == sh.n_in - 1 && rc == SKY_EXIT_OK;
    checkpoint_locked(&sh, true, all_read && !sh.tr.frozen);
    if (!quiet || rc != SKY_EXIT_OK) {
        fprintf(stderr,
                "skylog ship: %llu events read, %llu sent in %llu requests (%llu retries, "
                "%llu throttled), %llu rejected, %llu dropped, %llu empty lines skipped\n",
                (unsigned long long)sh.lines, (unsigned long long)st.sent_events,
                (unsigned long long)st.requests, (unsigned long long)st.retries,
                (unsigned long long)st.throttles, (unsigned long long)rejected,
                (unsigned long long)dropped, (unsigned long long)sh.empty);
        for (int i = 0; i < SKY_CWL_REJECT_COUNT_; i++)
            if (st.rejected[i])
                fprintf(stderr, "  rejected %s: %llu\n", sky_cwl_reject_name((sky_cwl_reject)i),
                        (unsigned long long)st.rejected[i]);
        for (int i = 0; i < SKY_CWL_DROP_COUNT_; i++)
            if (st.dropped[i])
                fprintf(stderr, "  dropped %s: %llu\n", sky_cwl_drop_name((sky_cwl_drop)i),
                        (unsigned long long)st.dropped[i]);
        if (st.truncated)
            fprintf(stderr, "  truncated: %llu (%llu bytes cut)\n",
                    (unsigned long long)st.truncated, (unsigned long long)st.truncated_bytes);
        if (st.split)
            fprintf(stderr, "  split: %llu into %llu parts\n", (unsigned long long)st.split,
                    (unsigned long long)st.split_parts);
        if (st.rate_limited_ms) /* AWS_RETRY_MODE=adaptive after throttling */
            fprintf(stderr, "  held back %.1f s by the adaptive retry mode's rate limiter\n",
                    (double)st.rate_limited_ms / 1e3);
        if (st.creds_retries || st.creds_failures) /* STS, SSO, IMDS... (aws.h) */
            fprintf(stderr, "  credentials: %llu refreshes, %llu failed, %llu retries (%llu "
                    "throttled)\n", (unsigned long long)st.creds_refreshes,
                    (unsigned long long)st.creds_failures, (unsigned long long)st.creds_retries,
                    (unsigned long long)st.creds_throttles);
        if (cs.near_expiry || cs.stale_used) /* aws.h: a source that renews late, or fails */
            fprintf(stderr, "  credentials: %llu fetched near expiry, %llu failed refreshes "
                    "answered with cached ones\n", (unsigned long long)cs.near_expiry,
                    (unsigned long long)cs.stale_used);
        if (st.ambiguous)
            fprintf(stderr, "  %llu requests had an unknown outcome (may be stored twice)\n",
                    (unsigned long long)st.ambiguous);
        if (sh.settle.skipped)
            fprintf(stderr, "  %llu lines were already stored (settled, not sent again)\n",
                    (unsigned long long)sh.settle.skipped);
        if (sh.settle.ambiguous)
            fprintf(stderr, "  %llu lines may be stored twice (the stream's tail could not tell; "
                    "see docs/CLI.md)\n", (unsigned long long)sh.settle.ambiguous);
        if (lost && st.last_error[0] && !cannot_deliver)
            sky__safe_printf(stderr, "  last error: %s\n", st.last_error);
    }
    if (rc != SKY_EXIT_OK)
        report_position(&sh, sky__cli_stop_signal(), "incomplete");
    atomic_store(&wd.done, true); /* under mu: the watchdog cannot report after this */
    sky__cli_stop_poke();           /* and it need not sleep on until its timeout */
    pthread_mutex_unlock(&sh.tr.mu);
    if (wd_started)
        pthread_join(wd_thread, NULL);
free_track:
    pthread_mutex_destroy(&wd.mu);
    free(sh.tr.ring);
    free(sh.tr.anch);
    free(sh.tr.segs);
    pthread_mutex_destroy(&sh.tr.mu);
free_inputs:
    for (int i = 0; i < sh.n_in; i++) {
        free(sh.in[i].path);
        free(sh.in[i].rotated);
    }
    free(sh.in);
    free(sh.resume_stream);
    free(sh.stream);
    free(sh.stream_tmpl_cp);
    sky__settle_free(&sh.settle);
    return rc;
}

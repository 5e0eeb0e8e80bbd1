/*
 * cmd_audit.c - `skylog audit verify FILE [--key-file K]`: checks an audit sink's hash chain
 * (src/sinks/audit_chain.h) and names the first broken line and why.
 *
 * Streaming: memory is bounded by the longest line allowed (SKY_AUDIT_MAX_LINE), whatever the
 * file's size; the time is SHA-256's. The key is read from a file only (never from the command
 * line, where ps(1) would show it) and never printed. Exit codes: 0 intact, 1 broken or
 * unreadable, 2 usage, 128+N after signal N (SIGINT, SIGTERM) came before the verdict: a file
 * can be large, or a pipe slow, and a verdict on part of it would be a lie, so the verifier is
 * asked to stop between reads and nothing is printed but the line saying so (as every command
 * that can take long: common.h).
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
#include <string.h>

const char sky__audit_help[] =
    "usage: skylog audit verify FILE [--key-file K]\n"
    "       skylog audit verify --group GROUP [--stream NAME] [--key-file K] [aws options]\n"
    "\n"
    "Verifies the hash chain of an audit file written by the audit sink (docs/AUDIT.md): every\n"
    "entry's SHA-256, its link to the previous entry, its sequence number and, with --key-file,\n"
    "its HMAC-SHA-256. Prints one summary line and exits 0 when the chain is intact; otherwise\n"
    "prints FILE:LINE: REASON: DETAIL for the first broken line and exits 1. REASON is one of\n"
    "changed, deleted, inserted, reordered, truncated, malformed, hmac. FILE may be - (stdin).\n"
    "\n"
    "With --group, the chains are read back from CloudWatch Logs (an audit file shipped with\n"
    "skylog ship keeps its chain fields): each stream (or only --stream) is one chain, checked\n"
    "in sequence-number order; an entry delivered twice, byte for byte, is counted and checked\n"
    "once. The broken entry is named by its place in sequence order and its event time.\n"
    "\n"
    "options:\n"
    "      --key-file K      the HMAC key (the file's bytes, one trailing newline removed)\n"
    "  -g, --group GROUP     read the chains from this log group\n"
    "  -s, --stream NAME     only this stream of it\n"
    SKY__AWS_OPTS_HELP
    "\n"
    "examples:\n"
    "  skylog audit verify /var/log/app/audit.jsonl --key-file /etc/app/audit.key\n"
    "  skylog audit verify --group /app/audit --stream web-1 --key-file /etc/app/audit.key\n"
    "\n"
    "exit status: 0 intact, 1 broken or unreadable, 2 usage error, 130/143 interrupted by\n"
    "SIGINT/SIGTERM before the verdict (nothing printed; --group: the streams checked before\n"
    "keep their lines, a stream read in part gets none).\n";

/* The verifier's stop: waits until FILE has something to read (or ends), or a signal came. */
static bool stop_or_wait(void *user)
{
    return !sky__cli_wait_readable(fileno((FILE *)user));
}

static bool key_wait(int fd, void *user)
{
    (void)user;
    return sky__cli_wait_readable(fd);
}

int sky__audit_cli_key(const char *key_file, uint8_t *key, size_t *keylen)
{
    char err[512];
    bool stopped = false;
    *keylen = 0;
    if (key_file &&
        !sky__audit_read_key_file(key_file, key, keylen, key_wait, NULL, &stopped, err,
                                  sizeof err)) {
        if (stopped)
            return sky__cli_interrupted("audit verify");
        fprintf(stderr, "skylog audit verify: %s\n", err);
        return SKY_EXIT_FAIL;
    }
    return 0;
}

static int verify(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--group") == 0 || strncmp(argv[i], "--group=", 8) == 0 ||
            strcmp(argv[i], "-g") == 0)
            return sky__audit_verify_group(argc, argv);
    const char *file = NULL, *key_file = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--key-file") == 0 && i + 1 < argc)
            key_file = argv[++i];
        else if (strncmp(argv[i], "--key-file=", 11) == 0)
            key_file = argv[i] + 11;
        else if (argv[i][0] == '-' && argv[i][1]) {
            /* the options of both forms: a typo of --group is meant for the other one */
            static const struct option opts[] = {{"key-file", required_argument, NULL, 0},
                                                 {"group", required_argument, NULL, 'g'},
                                                 {"stream", required_argument, NULL, 's'},
                                                 SKY__AWS_LONG_OPTS,
                                                 {"help", no_argument, NULL, 'h'},
                                                 {NULL, 0, NULL, 0}};
            sky__cli_unknown_option("audit verify", argv[i], opts);
            return SKY_EXIT_USAGE;
        } else if (!file)
            file = argv[i];
        else {
            fprintf(stderr, "skylog audit verify: one FILE expected, got '%s' too\n", argv[i]);
            return SKY_EXIT_USAGE;
        }
    }
    if (!file) {
        fprintf(stderr, "skylog audit verify: FILE is required (see skylog audit --help)\n");
        return SKY_EXIT_USAGE;
    }
    /* From here a signal is taken by the handler (no SA_RESTART: a blocked open or read of a
     * FIFO, a pipe or a terminal returns EINTR) and ends the command with 128+N, the key's
     * read included (it is asked to stop, as the verifier is). */
    sky__cli_catch_stop();
    static uint8_t key[SKY__AUDIT_MAX_KEY];
    size_t keylen = 0;
    int rc = sky__audit_cli_key(key_file, key, &keylen);
    if (rc)
        return rc;
    FILE *in = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
    if (!in) {
        int e = errno;
        sky__wipe(key, sizeof key);
        if (sky__cli_stopping())
            return sky__cli_interrupted("audit verify");
        fprintf(stderr, "skylog audit verify: cannot open '%s': %s\n", file, strerror(e));
        return SKY_EXIT_FAIL;
    }
    sky__audit_report rep;
    sky__audit_verdict v =
        sky__audit_verify_until(in, key_file ? key : NULL, keylen, stop_or_wait, in, &rep);
    sky__wipe(key, sizeof key);
    if (in != stdin)
        fclose(in);
    if (rep.stopped) /* no verdict on part of FILE (one reached before the signal stands) */
        return sky__cli_interrupted("audit verify");
    if (v == SKY__AUDIT_IOERROR) {
        sky__safe_printf(stderr, "skylog audit verify: %s: %s\n", file, rep.detail);
        return SKY_EXIT_FAIL;
    }
    if (v != SKY__AUDIT_INTACT) {
        sky__safe_printf(stdout, "%s:%" PRIu64 ": %s: %s\n", file, rep.line,
                         sky__audit_verdict_name(v), rep.detail);
        printf("%s: %" PRIu64 " entries verified before the break\n", file, rep.entries);
        return SKY_EXIT_FAIL;
    }
    char hex[65];
    sky__hex(rep.last_hash, 32, hex);
    printf("%s: intact: %" PRIu64 " entries (seq 1..%" PRIu64 "), %" PRIu64 " reopening(s), %" PRIu64
           " torn line(s) recorded, HMAC %s, last hash %s\n",
           file, rep.entries, rep.last_seq, rep.resumed, rep.torn,
           key_file ? "verified" : rep.hmac_seen ? "present, not checked (no --key-file)" : "none",
           hex);
    return SKY_EXIT_OK;
}

int sky__cmd_audit(int argc, char **argv)
{
    if (sky__cli_wants_help(argc, argv)) {
        fputs(sky__audit_help, stdout);
        return SKY_EXIT_OK;
    }
    if (argc < 2 || strcmp(argv[1], "verify") != 0) {
        static const char *const subs[] = {"verify"};
        return sky__cli_unknown_subcommand("audit", argc < 2 ? NULL : argv[1], subs, 1);
    }
    return verify(argc - 1, argv + 1);
}

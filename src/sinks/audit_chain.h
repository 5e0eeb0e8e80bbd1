/*
 * audit_chain.h - the audit trail's line format, shared by the audit sink (which writes it and
 * resumes from it) and `skylog audit verify` (which checks it). docs/AUDIT.md is the normative
 * description; in short, an entry is the line
 *
 *   {"seq":N,"prev":"<64 hex>"[,<event fields>],"hash":"<64 hex>"[,"hmac":"<64 hex>"]}\n
 *
 * and hash = SHA-256(body), hmac = HMAC-SHA-256(key, body), where body is every byte of the line
 * before `,"hash":"`. The chain fields sit at fixed places (first and last), so checking a line
 * needs no JSON parser: constant memory, no recursion, and speed bound by SHA-256.
 */
#ifndef SKY_SINKS_AUDIT_CHAIN_H
#define SKY_SINKS_AUDIT_CHAIN_H

#include <skylog/audit.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SKY__AUDIT_MAX_KEY 4096

/* What one line says about itself. */
typedef struct sky__audit_line {
    bool parsed;   /* the fixed fields are where the format puts them */
    bool hash_ok;  /* its hash matches its body */
    bool has_hmac;
    bool hmac_ok;  /* meaningful with a key and has_hmac */
    uint64_t seq;
    uint8_t prev[32], hash[32];
    bool resumed;     /* a chain_resumed entry (the sink reopened the file) */
    bool torn_marker; /* ... that records a torn line, whose SHA-256 is torn_sha */
    uint8_t torn_sha[32];
} sky__audit_line;

/* Checks `line` (`len` bytes, without its newline). `key` may be NULL. False if libcrypto is
 * missing (then `out` says nothing). */
bool sky__audit_check_line(const char *line, size_t len, const uint8_t *key, size_t keylen,
                           sky__audit_line *out);

/* Reads an HMAC key as the sink and the verifier both do: the file's bytes with one trailing
 * "\n" or "\r\n" removed, 1..SKY__AUDIT_MAX_KEY bytes. On failure returns false with a message
 * (that never contains key bytes) in err. `wait` (may be NULL, as for the sink: blocking reads)
 * lets a caller that can be asked to stop (`skylog audit verify` on Ctrl-C) read a key from a
 * FIFO or a pipe whose writer hangs: the file is then opened without blocking and wait(fd)
 * is called before each read, to return once fd is readable (true) or the caller must stop
 * (false: the answer is false with *stopped set). */
bool sky__audit_read_key_file(const char *path, uint8_t *key, size_t *keylen,
                              bool (*wait)(int fd, void *user), void *user, bool *stopped,
                              char *err, size_t errcap);

typedef enum sky__audit_verdict {
    SKY__AUDIT_INTACT = 0,
    SKY__AUDIT_CHANGED,
    SKY__AUDIT_DELETED,
    SKY__AUDIT_INSERTED,
    SKY__AUDIT_REORDERED,
    SKY__AUDIT_TRUNCATED,
    SKY__AUDIT_MALFORMED,
    SKY__AUDIT_HMAC,
    SKY__AUDIT_IOERROR,
} sky__audit_verdict;

/* The verdict's word, as `skylog audit verify` prints it ("changed", "deleted", ...). */
const char *sky__audit_verdict_name(sky__audit_verdict v);

typedef struct sky__audit_report {
    sky__audit_verdict verdict;
    uint64_t line;      /* the first broken line (1-based); 0 when intact */
    char detail[256];   /* why, in words */
    uint64_t entries;   /* entries verified before the break (all of them when intact) */
    uint64_t last_seq;  /* the last verified entry */
    uint8_t last_hash[32];
    uint64_t torn;      /* torn lines recorded by chain_resumed entries (not a break) */
    uint64_t resumed;   /* chain_resumed entries */
    bool hmac_seen;     /* some entry carries an HMAC */
    bool stopped;       /* stop() ended the verification before the end of the input */
} sky__audit_report;

/* Verifies the chain read from `in`, streaming: memory is bounded by SKY_AUDIT_MAX_LINE
 * whatever the file's size. `key` (may be NULL) requires and checks every entry's HMAC.
 * Returns the verdict (also in out->verdict). */
sky__audit_verdict sky__audit_verify(FILE *in, const uint8_t *key, size_t keylen,
                                     sky__audit_report *out);
/* The same, for a caller that can be asked to stop (`skylog audit verify` on Ctrl-C): `stop`
 * (may be NULL) is asked before each read of the input and after a read a signal interrupted
 * (EINTR: a pipe or terminal that has nothing yet); a read so interrupted is tried again unless
 * it says stop. When it does, the verdict is SKY__AUDIT_IOERROR with out->stopped set: a verdict
 * on part of the input (a "truncated" last line) would be a lie. With `stop`, the input is read
 * with read(2) on fileno(in), one call a block, never through stdio's buffer (so `in` must
 * have nothing buffered for reading): stop may then wait until the descriptor is readable (the
 * CLI's does, with ppoll, so a signal that comes just before the read is not missed) and the
 * read that follows does not block. */
sky__audit_verdict sky__audit_verify_until(FILE *in, const uint8_t *key, size_t keylen,
                                           bool (*stop)(void *user), void *user,
                                           sky__audit_report *out);

#endif

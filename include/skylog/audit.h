/*
 * skylog/audit.h - the audit sink: an append-only JSON-lines file whose entries are chained by
 * SHA-256 (each carries a sequence number, the hash of the previous entry and its own hash, and
 * optionally an HMAC-SHA-256 with a secret key), so that `skylog audit verify` names the first
 * line that was changed, deleted, inserted, reordered or truncated. See docs/AUDIT.md for the
 * exact format, the hash definition and what each fsync policy guarantees.
 *
 *     sky_sink *audit;
 *     char *err;
 *     if (sky_sink_audit(&(sky_audit_opts){ .path = "/var/log/app/audit.jsonl" }, &audit, &err))
 *         ...
 *     sky_add_sink(sky, audit, &(sky_route){ .level = SKY_LEVEL_INFO });
 *
 * SHA-256 and HMAC come from OpenSSL's libcrypto, loaded at run time: without it the
 * constructor fails with SKY_EUNSUPPORTED and says why.
 */
#ifndef SKYLOG_AUDIT_H
#define SKYLOG_AUDIT_H

#include <skylog.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The longest audit line (entry plus newline) the sink writes and `skylog audit verify`
 * accepts; a larger event is refused (counted as an error), never written half. */
#define SKY_AUDIT_MAX_LINE (1024 * 1024)

typedef enum sky_audit_fsync {
    SKY_AUDIT_FSYNC_ENTRY = 0, /* default: fsync(2) before a write returns (power-loss safe) */
    SKY_AUDIT_FSYNC_INTERVAL,  /* fsync on a write >= fsync_interval_ms after the last one, on
                                * flush and on close: power loss loses what came in between */
    SKY_AUDIT_FSYNC_NONE,      /* the kernel decides; a process crash still loses nothing */
} sky_audit_fsync;

typedef struct sky_audit_opts {
    const char *path;          /* required; appended to, never rotated or truncated */
    sky_audit_fsync fsync;     /* default SKY_AUDIT_FSYNC_ENTRY */
    int64_t fsync_interval_ms; /* INTERVAL: default 1000 */
    /* The HMAC key, when wanted: the bytes of this file (one trailing newline removed), or the
     * value of the environment variable named here. At most one of the two; 1..4096 bytes.
     * The key is copied, wiped on close, and never written, logged or printed. */
    const char *key_file;
    const char *key_env;
    unsigned mode; /* creation mode; default 0600 */
    /* Also log each entry normally, with a short hash to cross-reference it: once an entry is
     * written, an event with its level, logger, name and fields plus "audit_seq" and
     * "audit_hash" (the first 12 hex digits of its hash) goes through the pipeline (its other
     * sinks; the audit sink never writes an event that carries "audit_hash"). */
    bool echo;
    uint64_t reserved_[8]; /* zero; room to grow in the same ABI (docs/COMPATIBILITY.md) */
} sky_audit_opts;

/* Opens (creating, appending) an audit sink. An existing file's chain is resumed from its last
 * entry; a torn last line (a crash mid-write) is kept, ended with a newline, and recorded by
 * a `chain_resumed` entry (see docs/AUDIT.md). The file is locked (flock) so that a second
 * writer fails clearly instead of forking the chain. Errors, with a message in *errmsg (free()
 * it) when errmsg is not NULL: SKY_EINVAL (options; the last complete line is not an intact
 * entry, or fails the HMAC with this key), SKY_EIO (open, lock, read), SKY_EUNSUPPORTED
 * (libcrypto missing), SKY_ENOMEM. */
SKY_API sky_status sky_sink_audit(const sky_audit_opts *opts, sky_sink **out, char **errmsg);

#ifdef __cplusplus
}
#endif

#endif

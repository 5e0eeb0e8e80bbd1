/*
 * lockfile.h - opening a file that one process at a time may own: the crash-safe spools (the
 * async ring's, src/queue/ring_file.c, and the CloudWatch sink's, src/sinks/spool.c).
 *
 * The file is opened read-write (made 0600 when missing: a spool holds events, which may hold
 * what only the application should read), never through a symbolic link, close-on-exec, and
 * locked with flock(2) without waiting. The kernel drops the lock when its last holder dies, so
 * a crashed owner never leaves a stale lock behind, unlike a pid file. When another process
 * holds it, the owner's pid is read from the file's header (the owner writes it there) for the
 * message. The messages name the file as its user calls it (sky__lockfile_words).
 */
#ifndef SKY_UTIL_LOCKFILE_H
#define SKY_UTIL_LOCKFILE_H

#include <skylog.h>

#include <stddef.h>
#include <sys/types.h>

/* How the messages name things: "<prefix>cannot open <noun> PATH: why", "<prefix><noun> PATH
 * is in use by another process (pid N): a spool has one owner; give each process its own
 * <option>". */
typedef struct sky__lockfile_words {
    const char *prefix; /* "cloudwatch: ", or "" */
    const char *noun;   /* "spool", "ring spool" */
    const char *option; /* the option naming the path: "spool_path" */
} sky__lockfile_words;

/* Opens and locks `path`: SKY_OK with *fd (open, locked) and *size (0: just made); else
 * SKY_EIO (cannot open or lock it, or another process owns it) or SKY_EINVAL (not a regular
 * file), *fd = -1 (nothing to close) and a malloc'd message in *errmsg (when errmsg is not
 * NULL). The owner's header starts with the 8 bytes `magic` and holds its int32_t pid at
 * `pid_offset`; it is believed, for the message only, when the magic matches and the pid is
 * positive. */
sky_status sky__lockfile_open(const char *path, const char magic[8], size_t pid_offset,
                              const sky__lockfile_words *w, int *fd, off_t *size, char **errmsg);

#endif

/* lockfile.c - see lockfile.h. */
#include "util/lockfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* The pid in the header of a file somebody else has locked; 0 when it does not say. */
static int owner_of(int fd, const char magic[8], size_t pid_offset)
{
    char hdr[8];
    int32_t pid = 0;
    if (pread(fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr || memcmp(hdr, magic, 8) != 0 ||
        pread(fd, &pid, sizeof pid, (off_t)pid_offset) != (ssize_t)sizeof pid || pid <= 0)
        return 0;
    return (int)pid;
}

sky_status sky__lockfile_open(const char *path, const char magic[8], size_t pid_offset,
                              const sky__lockfile_words *w, int *fd, off_t *size, char **errmsg)
{
    char m[1024];
    sky_status st = SKY_EIO;
    *size = 0;
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (*fd < 0) {
        snprintf(m, sizeof m, "%scannot open %s %s: %s", w->prefix, w->noun, path,
                 strerror(errno));
        goto fail;
    }
    if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (e == EWOULDBLOCK) {
            char why[64] = "";
            int pid = owner_of(*fd, magic, pid_offset);
            if (pid > 0)
                snprintf(why, sizeof why, " (pid %d)", pid);
            snprintf(m, sizeof m,
                     "%s%s %s is in use by another process%s: a spool has one owner; give each "
                     "process its own %s",
                     w->prefix, w->noun, path, why, w->option);
        } else {
            snprintf(m, sizeof m, "%scannot lock %s %s: %s", w->prefix, w->noun, path,
                     strerror(e));
        }
        goto fail;
    }
    struct stat sb;
    if (fstat(*fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        snprintf(m, sizeof m, "%s%s %s: not a regular file", w->prefix, w->noun, path);
        st = SKY_EINVAL;
        goto fail;
    }
    *size = sb.st_size;
    return SKY_OK;

fail:
    if (*fd >= 0)
        close(*fd); /* releases the lock, when it was taken */
    *fd = -1;
    if (errmsg)
        *errmsg = strdup(m);
    return st;
}

/* fdio.c - see fdio.h. */
#include "sinks/fdio.h"

#include <errno.h>
#include <unistd.h>

bool sky__write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

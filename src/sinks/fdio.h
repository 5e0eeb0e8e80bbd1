/*
 * fdio.h - write(2) helpers for sinks that own a file descriptor: whole-buffer writes that
 * survive EINTR and short writes.
 */
#ifndef SKY_SINKS_FDIO_H
#define SKY_SINKS_FDIO_H

#include <stddef.h>
#include <stdbool.h>

/* Writes all of buf; false (errno set) on failure. */
bool sky__write_all(int fd, const void *buf, size_t n);

#endif

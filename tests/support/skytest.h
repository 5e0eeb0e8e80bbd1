/*
 * skytest.h - small helpers shared by the cmocka unit tests: temporary directories, reading
 * files back, and a capturing sink. Test-only; never linked into the library.
 */
#ifndef SKYTEST_H
#define SKYTEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <skylog.h>

/* Runs `stmt` with stderr (fd 2) going to a temporary file, then puts what it wrote into the
 * char array `buf` (NUL-terminated, cut to fit). Needs <stdio.h>, <string.h>, <unistd.h>. */
#define SKYTEST_CAPTURE_STDERR(buf, stmt)                                                          \
    do {                                                                                           \
        char path_[] = "/tmp/skylog-test-stderr-XXXXXX";                                           \
        int fd_ = mkstemp(path_);                                                                  \
        assert_true(fd_ >= 0);                                                                     \
        fflush(stderr);                                                                            \
        int saved_ = dup(2);                                                                       \
        dup2(fd_, 2);                                                                              \
        stmt;                                                                                      \
        fflush(stderr);                                                                            \
        dup2(saved_, 2);                                                                           \
        close(saved_);                                                                             \
        memset(buf, 0, sizeof buf);                                                                \
        assert_true(pread(fd_, buf, sizeof buf - 1, 0) >= 0);                                      \
        close(fd_);                                                                                \
        unlink(path_);                                                                             \
    } while (0)

/* Creates a fresh directory under $TMPDIR (or /tmp); returns a malloc'd path. */
char *skytest_tmpdir(void);
/* Removes a directory tree made by skytest_tmpdir(). */
void skytest_rmtree(const char *path);
/* Reads a whole file into a malloc'd NUL-terminated buffer; NULL if it cannot be read. */
char *skytest_read_file(const char *path, size_t *len);
/* Counts '\n' in a buffer. */
size_t skytest_count_lines(const char *buf, size_t len);

/* Waits for a forked child and asserts that it exited with status 0. */
void skytest_wait_child(int pid);

/* A sink that keeps every record's text, for assertions. */
typedef struct skytest_capture {
    char **lines;
    size_t n, cap;
    int flushes;
    int closed;
} skytest_capture;
/* Returns a sink writing into `cap` (which must outlive the pipeline). */
sky_sink *skytest_capture_sink(skytest_capture *cap, sky_format format);
void skytest_capture_reset(skytest_capture *cap);

/* Creates an AWS client with static keys, asserts that it fails with SKY_EUNSUPPORTED and no
 * client (an optional library could not be loaded), and leaves its error text in why. */
void skytest_aws_client_unsupported(char *why, size_t cap);

/* The public headers under include/, NULL-terminated: for the tests that read them (the ABI
 * table's completeness, the reserved-space check's). */
extern const char *const skytest_public_headers[];

#endif

/*
 * file.c - the file sink: JSON lines (or another format) appended to a file, with size- and
 * time-based rotation and reopen-on-request for external rotation (logrotate).
 *
 * Rotation renames path -> path.1 -> path.2 ... -> path.N and deletes what falls off the end,
 * then opens a fresh path. A batch is written with one write(2) on an O_APPEND descriptor, so
 * several processes may share a file without tearing lines (up to the kernel's atomic limit).
 * An event larger than max_bytes is still written (to a fresh file): rotation never drops data.
 * Never does: buffer across calls (what write() accepted is in the page cache), or fsync
 * unless asked (fsync_on_flush).
 */
#include <skylog.h>

#include "core/errmsg.h"
#include "core/reserved.h"
#include "util/buf.h"
#include "sinks/fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct file_sink {
    sky_file_opts o;
    char *path;
    int fd;
    uint64_t size;
    int64_t next_rotation_s; /* 0 = none */
    sky_buf buf;
    uint64_t bytes, rotations, errors;
} file_sink;

static int64_t next_boundary(int64_t interval)
{
    int64_t now = sky_now_ns() / 1000000000;
    return (now / interval + 1) * interval;
}

static bool open_file(file_sink *f)
{
    f->fd = open(f->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, (mode_t)f->o.mode);
    if (f->fd < 0)
        return false;
    struct stat st;
    f->size = fstat(f->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    return true;
}

static void rotate(file_sink *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    size_t pl = strlen(f->path) + 16;
    char *from = malloc(pl), *to = malloc(pl);
    if (from && to) {
        snprintf(to, pl, "%s.%d", f->path, f->o.max_backups);
        unlink(to);
        for (int i = f->o.max_backups - 1; i >= 1; i--) {
            snprintf(from, pl, "%s.%d", f->path, i);
            snprintf(to, pl, "%s.%d", f->path, i + 1);
            rename(from, to);
        }
        if (f->o.max_backups > 0) {
            snprintf(to, pl, "%s.1", f->path);
            rename(f->path, to);
        } else {
            unlink(f->path);
        }
    }
    free(from);
    free(to);
    f->rotations++;
    if (f->o.rotate_interval_s > 0)
        f->next_rotation_s = next_boundary(f->o.rotate_interval_s);
    open_file(f);
}

static sky_status file_write(void *self, const sky_record *recs, size_t n)
{
    file_sink *f = self;
    if (f->next_rotation_s && sky_now_ns() / 1000000000 >= f->next_rotation_s)
        rotate(f);
    if (f->fd < 0 && !open_file(f)) {
        f->errors++;
        return SKY_EIO;
    }
    /* An async batch's JSON lines usually lie end to end in the worker's text area: then they
     * are written from there, without a copy, when max_bytes allows the whole run. */
    size_t run = n > 1 && recs[0].text ? recs[0].len : SIZE_MAX;
    for (size_t k = 1; k < n && run != SIZE_MAX; k++)
        run = recs[k].text == recs[k - 1].text + recs[k - 1].len ? run + recs[k].len : SIZE_MAX;
    if (run != SIZE_MAX && (!f->o.max_bytes || f->size + run <= f->o.max_bytes)) {
        if (!sky__write_all(f->fd, recs[0].text, run)) {
            f->errors++;
            return SKY_EIO;
        }
        f->size += run;
        f->bytes += run;
        return SKY_OK;
    }
    /* Otherwise, group records into writes that respect max_bytes. */
    size_t i = 0;
    while (i < n) {
        sky__buf_reset(&f->buf);
        size_t j = i;
        while (j < n) {
            size_t l = recs[j].len;
            if (f->o.max_bytes && f->size + f->buf.len + l > f->o.max_bytes &&
                (f->buf.len > 0 || f->size > 0))
                break;
            sky__buf_put(&f->buf, recs[j].text, l);
            j++;
        }
        if (f->buf.oom)
            return SKY_ENOMEM;
        if (f->buf.len) {
            if (!sky__write_all(f->fd, f->buf.p, f->buf.len)) {
                f->errors++;
                return SKY_EIO;
            }
            f->size += f->buf.len;
            f->bytes += f->buf.len;
        }
        i = j;
        if (i < n) {
            rotate(f);
            if (f->fd < 0) {
                f->errors++;
                return SKY_EIO;
            }
        }
    }
    if (f->buf.cap > (1u << 20))
        sky__buf_free(&f->buf);
    return SKY_OK;
}

static sky_status file_flush(void *self, int64_t deadline)
{
    (void)deadline;
    file_sink *f = self;
    if (f->o.fsync_on_flush && f->fd >= 0 && fsync(f->fd) != 0)
        return SKY_EIO;
    return SKY_OK;
}

static void file_reopen(void *self)
{
    file_sink *f = self;
    if (f->fd >= 0)
        close(f->fd);
    open_file(f);
}

static void file_close(void *self)
{
    file_sink *f = self;
    if (f->fd >= 0)
        close(f->fd);
    sky__buf_free(&f->buf);
    free(f->path);
    free(f);
}

static void file_stats(void *self, sky_sink_stats *out)
{
    file_sink *f = self;
    out->bytes = f->bytes;
    out->rotations = f->rotations;
    out->errors = f->errors;
}

static const sky_sink_vtable file_vt = {
    .type = "file",
    .write = file_write,
    .flush = file_flush,
    .close = file_close,
    .stats = file_stats,
    .reopen = file_reopen,
};

static void set_err(char **errmsg, const char *fmt, const char *path, int err)
{
    if (!errmsg)
        return;
    sky_buf b = {0};
    sky__buf_printf(&b, fmt, path, strerror(err));
    *errmsg = sky__buf_strdup(&b);
    sky__buf_free(&b);
}

static sky_status sink_file_body(const sky_file_opts *opts, sky_sink **out, char **errmsg)
{
    if (errmsg)
        *errmsg = NULL;
    if (!out)
        return SKY_EINVAL;
    *out = NULL;
    if (!opts || !opts->path || !*opts->path) {
        if (errmsg)
            *errmsg = strdup("file sink: a path is required");
        return SKY_EINVAL;
    }
    if (SKY__CHECK_RESERVED(opts, sky_file_opts, NULL, errmsg) != SKY_OK)
        return SKY_EINVAL;
    if (opts->max_backups < 0 || opts->rotate_interval_s < 0 ||
        (unsigned)opts->format >= SKY_FORMAT_COUNT_ || opts->format == SKY_FORMAT_NONE) {
        if (errmsg)
            *errmsg = strdup("file sink: invalid option (max_backups, rotate_interval_s, format)");
        return SKY_EINVAL;
    }
    file_sink *f = calloc(1, sizeof *f);
    if (!f)
        return SKY_ENOMEM;
    f->o = *opts;
    f->path = strdup(opts->path);
    f->o.path = f->path;
    if (!f->o.max_backups)
        f->o.max_backups = 5;
    if (!f->o.mode)
        f->o.mode = 0644;
    f->fd = -1;
    if (!f->path) {
        free(f);
        return SKY_ENOMEM;
    }
    if (!open_file(f)) {
        int err = errno;
        set_err(errmsg, "file sink: cannot open '%s': %s", opts->path, err);
        free(f->path);
        free(f);
        return SKY_EIO;
    }
    if (f->o.rotate_interval_s > 0)
        f->next_rotation_s = next_boundary(f->o.rotate_interval_s);
    sky_format fmt = opts->format == SKY_FORMAT_AUTO ? SKY_FORMAT_JSON : opts->format;
    *out = sky_sink_new(&file_vt, f, fmt);
    return *out ? SKY_OK : SKY_ENOMEM;
}

sky_status sky_sink_file(const sky_file_opts *opts, sky_sink **out, char **errmsg)
{
    char *mine = NULL;
    sky_status st = sink_file_body(opts, out, errmsg ? errmsg : &mine);
    return sky__errmsg_route(NULL, st, mine);
}

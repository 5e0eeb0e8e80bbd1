/* skytest.c - see skytest.h. */
#include "skytest.h"

#include <skylog/aws.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

char *skytest_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/skytest.XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpl))
        return NULL;
    return strdup(tmpl);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

void skytest_rmtree(const char *path)
{
    if (path)
        nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

char *skytest_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t r;
    while (buf && (r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (cap - n - 1 == 0) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf)
        return NULL;
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

size_t skytest_count_lines(const char *buf, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += buf[i] == '\n';
    return n;
}

void skytest_wait_child(int pid)
{
    int status = 0;
    assert_int_equal(waitpid((pid_t)pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static sky_status capture_write(void *self, const sky_record *recs, size_t n)
{
    skytest_capture *cap = self;
    for (size_t i = 0; i < n; i++) {
        if (cap->n == cap->cap) {
            size_t nc = cap->cap ? cap->cap * 2 : 16;
            char **nl = realloc(cap->lines, nc * sizeof *nl);
            if (!nl)
                return SKY_ENOMEM;
            cap->lines = nl;
            cap->cap = nc;
        }
        const char *t = recs[i].text ? recs[i].text : sky_event_name(recs[i].event);
        size_t l = recs[i].text ? recs[i].len : strlen(t);
        char *line = malloc(l + 1);
        if (!line)
            return SKY_ENOMEM;
        memcpy(line, t, l);
        line[l] = '\0';
        cap->lines[cap->n++] = line;
    }
    return SKY_OK;
}

static sky_status capture_flush(void *self, int64_t deadline)
{
    (void)deadline;
    ((skytest_capture *)self)->flushes++;
    return SKY_OK;
}

static void capture_close(void *self) { ((skytest_capture *)self)->closed++; }

static const sky_sink_vtable capture_vt = {
    .type = "capture", .write = capture_write, .flush = capture_flush, .close = capture_close,
};

sky_sink *skytest_capture_sink(skytest_capture *cap, sky_format format)
{
    return sky_sink_new(&capture_vt, cap, format);
}

void skytest_capture_reset(skytest_capture *cap)
{
    for (size_t i = 0; i < cap->n; i++)
        free(cap->lines[i]);
    free(cap->lines);
    memset(cap, 0, sizeof *cap);
}

void skytest_aws_client_unsupported(char *why, size_t cap)
{
    sky_aws_creds *creds;
    assert_int_equal(sky_aws_creds_new(&(sky_aws_creds_opts){.access_key_id = "AKIDEXAMPLE",
                                                             .secret_access_key = "secret"},
                                       &creds),
                     SKY_OK);
    sky_aws_client *c = NULL;
    why[0] = '\0';
    assert_int_equal(sky_aws_client_new(&(sky_aws_client_opts){.service = "logs",
                                                               .region = "us-east-1",
                                                               .creds = creds},
                                        &c, why, cap),
                     SKY_EUNSUPPORTED);
    assert_null(c);
    sky_aws_creds_free(creds);
}

const char *const skytest_public_headers[] = {
    "skylog.h",           "skylog/audit.h",  "skylog/aws.h",    "skylog/cloudwatch.h",
    "skylog/http_sink.h", "skylog/metrics.h", "skylog/request.h", "skylog/trace.h",
    "skylog/config.h",    "skylog/stream.h",  "skylog/curl.h",    "skylog/microhttpd.h",
    NULL};

/*
 * fuzz_sigv4_verify.c - the SigV4 verifier (src/aws/sigv4_verify.c) with its Authorization,
 * presigned-query and date parsing, on requests built from fuzz input.
 *
 * Input: "METHOD\npath\nquery\nName: value\n...\n\nbody" (missing parts are empty). The key
 * "AKID" has secret "secret"; the clock is fixed at 2025-01-01T00:00:00Z, so X-Amz-Date
 * values near 20250101T000000Z pass the skew check and reach the signature comparison.
 * Also fed to the standalone parsers. The verdict must be consistent and its message must
 * never contain the secret.
 */
#include <skylog/aws.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FUZZ_HEADERS 64

static sky_status secret_of(void *user, const char *akid, char *secret, size_t cap)
{
    (void)user;
    if (strcmp(akid, "AKID") != 0 || cap < 7)
        return SKY_ENOTFOUND;
    memcpy(secret, "secret", 7);
    return SKY_OK;
}

/* Cuts the next '\n'-terminated line out of [*p, end) in place; NULL at the end. */
static char *next_line(char **p, char *end)
{
    if (*p >= end)
        return NULL;
    char *line = *p, *nl = memchr(line, '\n', (size_t)(end - line));
    if (!nl)
        nl = end;
    *nl = '\0';
    *p = nl + 1;
    return line;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *p = buf, *end = buf + size;
    const char *method = next_line(&p, end), *path = next_line(&p, end),
               *query = next_line(&p, end);
    sky_aws_header h[MAX_FUZZ_HEADERS];
    size_t nh = 0;
    char *line;
    while (nh < MAX_FUZZ_HEADERS && (line = next_line(&p, end)) && *line) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = '\0';
        const char *v = colon + 1;
        while (*v == ' ')
            v++;
        h[nh++] = (sky_aws_header){line, v};
    }
    const char *body = p < end ? p : "";
    size_t body_len = p < end ? (size_t)(end - p) : 0;

    sky_sigv4_received r = {
        .method = method ? method : "POST", .path = path ? path : "/", .query = query,
        .headers = h, .n_headers = nh, .body = body, .body_len = body_len,
        .now_ns = 1735689600LL * 1000000000, .max_skew_s = 300,
    };
    sky_sigv4_verdict v;
    sky_sigv4_verify(&r, secret_of, NULL, &v);
    if ((v.status == SKY_OK) != (v.http_status == 200) && v.status != SKY_EUNSUPPORTED &&
        v.status != SKY_ENOMEM && v.status != SKY_EINVAL)
        abort();
    if (strstr(v.message, "secret") && !memmem(data, size, "secret", 6))
        abort(); /* the secret never appears in a verdict (unless the client sent it) */
    for (size_t i = 0; i < nh; i++) {
        sky_sigv4_auth a;
        int64_t t;
        (void)sky_sigv4_parse_authorization(h[i].value, &a);
        (void)sky_aws_parse_http_date(h[i].value, &t);
    }
    free(buf);
    return 0;
}

/*
 * http1.h - skylog's own HTTP/1.1 client (plain TCP, or TLS on OpenSSL's libssl loaded with
 * dlopen()), the "native" transport behind sky_http_client (transport.c chooses it per
 * request; every client's default). It was made for `skylog ship`: libcurl's start-up
 * (relocating its dependency tree), its transfer machinery and the copy of every body into its
 * upload buffer were the CPU left between the shipper and its target (bench/RESULTS.md, issue
 * 13). It does one thing: a request with a body in memory, on a kept-alive connection, and a
 * bounded response. No proxies, no redirects: http.c hands proxied requests to libcurl, and
 * writes the trace of both.
 *
 * The response parser is separate (and fuzzed: tests/fuzz/fuzz_http1_response.c): it reads
 * what a server sent, so every length is bounded before anything is allocated.
 */
#ifndef SKY_AWS_HTTP1_H
#define SKY_AWS_HTTP1_H

#include <skylog/aws.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SKY__H1_MAX_HEAD (64u << 10) /* status line + headers */
#define SKY__H1_MAX_HEADERS 128

typedef struct sky__h1_field {
    uint32_t name, name_len, value, value_len; /* offsets into the head */
} sky__h1_field;

/* A parsed response head. */
typedef struct sky__h1_head {
    long status;
    int minor;              /* HTTP/1.<minor> */
    size_t head_len;        /* bytes up to and including the empty line */
    int64_t content_length; /* -1 when absent */
    bool chunked;
    bool close;             /* the connection cannot be reused after this response */
    size_t n_fields;
    sky__h1_field fields[SKY__H1_MAX_HEADERS];
} sky__h1_head;

/* Parses the head at the start of `buf`. Returns 1 when complete (h filled), 0 when more bytes
 * are needed (and fewer than SKY__H1_MAX_HEAD were given), -1 when malformed or over a limit. */
int sky__h1_parse_head(const char *buf, size_t len, sky__h1_head *h);

/* Chunked transfer decoding, one call per arriving piece. */
typedef struct sky__h1_chunked {
    int state;
    uint64_t left; /* of the current chunk's size or data */
    unsigned trailer_line; /* bytes in the current trailer line */
} sky__h1_chunked;

/* Consumes up to `len` bytes of `in`, appending the data to `out` (growing it; never past
 * `max` bytes). Returns 1 when the last chunk and trailers ended (*used: the bytes consumed),
 * 0 when all of `in` was consumed and more is needed, -1 malformed, -2 the body would pass
 * `max`, -3 out of memory. */
int sky__h1_dechunk(sky__h1_chunked *d, const char *in, size_t len, size_t *used, char **out,
                    size_t *out_len, size_t *out_cap, size_t max);

typedef struct sky__h1 sky__h1;

/* Loads libssl now if that was not done (once per process; $SKYLOG_LIBSSL, then libssl.so.3,
 * then libssl.so.1.1). false with the reason in errbuf when it cannot be. Thread-safe. */
bool sky__h1_tls_load(char *errbuf, size_t errlen);

/* A client; `o` is copied (its strings must outlive it: http.c owns them). SKY_ENOMEM. */
sky_status sky__h1_new(const sky_http_opts *o, sky__h1 **out);
void sky__h1_free(sky__h1 *c);
/* How host names are resolved: getaddrinfo()'s signature. Tests replace it (one that never
 * answers shows that the connect timeout bounds resolving); NULL restores getaddrinfo. Call it
 * before the client is used. */
struct addrinfo;
typedef int (*sky__h1_resolver)(const char *host, const char *port, const struct addrinfo *hints,
                                struct addrinfo **res);
void sky__h1_set_resolver(sky__h1 *c, sky__h1_resolver fn);

/* Tests: the TLS context the client's next handshake uses (made at its first https request;
 * shared by the clients with the same CA bundle and verification), NULL before. */
const void *sky__h1_tls_context(const sky__h1 *c);

/* sky_http_perform() for this transport: the same contract (see sky_http_failure). */
sky_status sky__h1_perform(sky__h1 *c, const sky_http_request *req, sky_http_response *out,
                           char *errbuf, size_t errlen);

#endif

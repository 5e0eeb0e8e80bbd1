/*
 * sigv4.h - internal pieces of SigV4 (see include/skylog/aws.h for the public API), exposed for
 * the unit tests and for the client. Every function here is pure except the signing-key cache.
 */
#ifndef SKY_AWS_SIGV4_H
#define SKY_AWS_SIGV4_H

#include <skylog/aws.h>

#include "aws/buf.h"

/* Appends the canonical URI of a raw path (botocore rules; see aws.h). */
void sky__sigv4_canonical_uri(sky__buf *out, const char *path, bool s3_path);
/* Appends the canonical query of a raw query string; `drop_signature` skips X-Amz-Signature. */
void sky__sigv4_canonical_query(sky__buf *out, const char *query, bool drop_signature);
/* Appends `v` trimmed, with runs of white space collapsed to one space (botocore's
 * ' '.join(v.split()) for ASCII). */
void sky__sigv4_trimall(sky__buf *out, const char *v);
/* True for headers botocore never signs (hop-by-hop, user-agent, expect, x-amzn-trace-id). */
bool sky__sigv4_header_blacklisted(const char *lower_name);
/* The signing key for (secret, date "YYYYMMDD", region, service), from a small locked cache.
 * SKY_ENOMEM, or SKY_EUNSUPPORTED when libcrypto cannot be loaded; `key` is then zeroed. */
sky_status sky__sigv4_signing_key(const char *secret, const char *date, const char *region,
                                  const char *service, unsigned char key[32]);
/* Formats a Unix time in ns as "YYYYMMDDTHHMMSSZ". */
void sky__sigv4_amz_date(int64_t time_ns, char out[17]);
/* Number of signing-key derivations done (cache misses), for tests. */
unsigned long sky__sigv4_key_derivations(void);

#endif

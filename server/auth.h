/*
 * auth.h - who may talk to `skylog serve`: SigV4 signatures made with the configured key pair
 * (--auth sigv4), a bearer token on the HTTP ingestion endpoints (--bearer-token), or anyone
 * (--auth none).
 *
 * The signature itself is recomputed by the AWS layer (src/aws/sigv4.c, sky_sigv4_*), never by a
 * copy here: the server must agree with the client library byte for byte, and one implementation
 * checked against botocore is how that stays true.
 */
#ifndef SKY_SERVE_AUTH_H
#define SKY_SERVE_AUTH_H

#include "reply.h"

#include <stdbool.h>

/* The largest clock difference accepted between X-Amz-Date and now, as CloudWatch allows. */
#define SKY__AUTH_MAX_SKEW_S 300

/* True when the request may proceed; otherwise fills `r` with the error AWS would send in the
 * protocol of `api`. */
bool sky__auth_check(const sky__request *req, sky__api api, sky__reply *r);

#endif

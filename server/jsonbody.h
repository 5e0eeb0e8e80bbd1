/*
 * jsonbody.h - JSON from clients, parsed within limits. Every JSON text the server parses
 * (request bodies, ingestion lines, log messages read for EMF and JSON filter patterns) goes
 * through here, so no client can make jansson build an arbitrarily large or deep tree: a cheap
 * scan counts containers, elements and depth first, and only a text within the limits is
 * parsed. jansson's own error texts never reach a client: they describe jansson, not the API.
 */
#ifndef SKY_SERVE_JSONBODY_H
#define SKY_SERVE_JSONBODY_H

#include "reply.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Above what any CloudWatch request needs (PutMetricData at its limits: 1,000 datums of 30
 * dimensions and 150 values and counts is ~400,000 elements in ~34,000 containers; nothing AWS
 * accepts nests deeper than 10), and small enough that the parsed tree stays within tens of
 * MiB. */
#define SKY__JSON_MAX_ELEMENTS 500000
#define SKY__JSON_MAX_CONTAINERS 50000
#define SKY__JSON_MAX_DEPTH 64

/* True when `s` (n bytes) is within the limits above; else false with a reason in *why.
 * Counts outside strings only; never allocates. */
bool sky__json_within_limits(const char *s, size_t n, const char **why);

/* Parses `s` as JSON (any value; NUL characters in strings allowed, as JSON allows) within the
 * limits. NULL when it is not JSON or exceeds a limit, with our own reason in *why. */
json_t *sky__json_load(const char *s, size_t n, const char **why);

/* The request body as a JSON object for an awsJson handler (an empty body is {}), or NULL with
 * the SerializationException already replied, in the API's error shape. */
json_t *sky__parse_json_body(const sky__request *req, sky__reply *r, sky__api api);

#endif

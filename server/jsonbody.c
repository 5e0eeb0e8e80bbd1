/*
 * jsonbody.c - JSON from clients, parsed within limits (see jsonbody.h).
 *
 * The scan is a tiny state machine (in a string, after a backslash) that counts what jansson
 * would allocate: one node per container, one per element (elements <= commas + containers +
 * 1). It is linear and allocation-free, so it costs nothing next to the parse it guards.
 */
#include "jsonbody.h"

#include <stdio.h>

bool sky__json_within_limits(const char *s, size_t n, const char **why)
{
    size_t containers = 0, commas = 0, depth = 0;
    bool in_str = false, esc = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"')
                in_str = false;
            continue;
        }
        switch (c) {
        case '"': in_str = true; break;
        case '{':
        case '[':
            if (++depth > SKY__JSON_MAX_DEPTH) {
                *why = "JSON nested deeper than 64 levels";
                return false;
            }
            if (++containers > SKY__JSON_MAX_CONTAINERS) {
                *why = "JSON with more than 50000 objects and arrays";
                return false;
            }
            break;
        case '}':
        case ']':
            if (depth)
                depth--;
            break;
        case ',':
            if (++commas + containers + 1 > SKY__JSON_MAX_ELEMENTS) {
                *why = "JSON with more than 500000 elements";
                return false;
            }
            break;
        default: break;
        }
    }
    return true;
}

json_t *sky__json_load(const char *s, size_t n, const char **why)
{
    if (!sky__json_within_limits(s, n, why))
        return NULL;
    json_t *v = json_loadb(s, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (!v)
        *why = "not valid JSON";
    return v;
}

json_t *sky__parse_json_body(const sky__request *req, sky__reply *r, sky__api api)
{
    if (!req->body_len)
        return json_object();
    const char *why = NULL;
    json_t *body = sky__json_load(req->body, req->body_len, &why);
    if (body && json_is_object(body))
        return body;
    if (body)
        sky__reply_error(r, api, 400, "SerializationException",
                         "The request body must be a JSON object");
    else
        sky__reply_error(r, api, 400, "SerializationException",
                         "The request body could not be parsed: %s", why);
    json_decref(body);
    return NULL;
}

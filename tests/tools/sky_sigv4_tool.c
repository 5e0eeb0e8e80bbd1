/*
 * sky_sigv4_tool.c - test-only: signs (and re-verifies) requests described as JSON lines, so the
 * Python oracle test can compare skylog's SigV4 with botocore's.
 *
 * stdin, one JSON object per line:
 *   {"method","host","path","query","headers":[[name,value],...],"body_hex","payload_hash",
 *    "akid","secret","token","region","service","time":<epoch s>,"presign":bool,"expires":n,
 *    "s3_path":bool,
 *    "verify": {"authorization","amz_date","headers":[[n,v]...],"query","path","payload_hash",
 *               "presigned":bool}}   (optional: a request as a server would receive it)
 * stdout, one JSON object per line:
 *   {"signature","authorization","signed_headers","canonical_request","string_to_sign",
 *    "presigned_query","amz_date","verify_signature","verify_canonical","verify_parsed":{...}}
 */
#include <jansson.h>
#include <skylog/aws.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *str(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static sky_aws_header *headers_of(json_t *arr, size_t *n)
{
    *n = json_array_size(arr);
    sky_aws_header *h = calloc(*n + 1, sizeof *h);
    for (size_t i = 0; i < *n; i++) {
        json_t *pair = json_array_get(arr, i);
        h[i].name = json_string_value(json_array_get(pair, 0));
        h[i].value = json_string_value(json_array_get(pair, 1));
    }
    return h;
}

static unsigned char *unhex(const char *s, size_t *n)
{
    size_t l = s ? strlen(s) / 2 : 0;
    unsigned char *b = malloc(l + 1);
    for (size_t i = 0; i < l; i++) {
        unsigned v;
        sscanf(s + 2 * i, "%2x", &v);
        b[i] = (unsigned char)v;
    }
    *n = l;
    return b;
}

static sky_status secret_of(void *user, const char *akid, char *secret, size_t cap)
{
    json_t *c = user;
    if (strcmp(akid, json_string_value(json_object_get(c, "akid"))) != 0)
        return SKY_ENOTFOUND;
    snprintf(secret, cap, "%s", json_string_value(json_object_get(c, "secret")));
    return SKY_OK;
}

/* The one-call server check, on the request as received (headers include Authorization for the
 * header form; the presigned form carries everything in the query). */
static void do_verify_full(json_t *v, json_t *c, json_t *res, const unsigned char *body,
                           size_t blen)
{
    size_t nh;
    sky_aws_header *h = headers_of(json_object_get(v, "headers"), &nh);
    sky_sigv4_received rr = {.method = json_string_value(json_object_get(c, "method")),
                             .path = json_string_value(json_object_get(v, "path")),
                             .query = json_string_value(json_object_get(v, "query")),
                             .headers = h, .n_headers = nh, .body = body, .body_len = blen,
                             .now_ns = (int64_t)json_integer_value(json_object_get(c, "time")) *
                                       1000000000LL + 60 * 1000000000LL,
                             .s3_path = json_is_true(json_object_get(c, "s3_path"))};
    sky_sigv4_verdict vd;
    sky_sigv4_verify(&rr, secret_of, c, &vd);
    json_object_set_new(res, "verify_full",
                        json_string(vd.status == SKY_OK ? "ok" : vd.error_code));
    if (vd.status != SKY_OK)
        json_object_set_new(res, "verify_full_message", json_string(vd.message));
    free(h);
}

static void do_verify(json_t *v, json_t *c, json_t *res)
{
    sky_sigv4_auth a;
    const char *auth = str(v, "authorization");
    const char *amz_date = str(v, "amz_date");
    const char *region = str(c, "region"), *service = str(c, "service");
    const char *signed_headers = NULL, *scope_date = NULL;
    if (auth) {
        if (sky_sigv4_parse_authorization(auth, &a) != SKY_OK) {
            json_object_set_new(res, "verify_error", json_string("parse_authorization failed"));
            return;
        }
        json_object_set_new(res, "verify_parsed",
                            json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "access_key_id",
                                      a.access_key_id, "date", a.date, "region", a.region,
                                      "service", a.service, "signed_headers", a.signed_headers,
                                      "signature", a.signature));
        signed_headers = a.signed_headers;
        scope_date = a.date;
        region = a.region;
        service = a.service;
    } else {
        signed_headers = str(v, "signed_headers");
    }
    size_t nh;
    sky_aws_header *h = headers_of(json_object_get(v, "headers"), &nh);
    sky_sigv4_verify_input in = {
        .secret_access_key = str(c, "secret"), .amz_date = amz_date, .scope_date = scope_date,
        .region = region, .service = service, .signed_headers = signed_headers,
        .method = str(c, "method"), .path = str(v, "path"), .query = str(v, "query"),
        .headers = h, .n_headers = nh, .payload_hash = str(v, "payload_hash"),
        .presigned = json_is_true(json_object_get(v, "presigned")),
        .s3_path = json_is_true(json_object_get(c, "s3_path"))};
    char sig[65];
    char *canon = NULL;
    sky_status st = sky_sigv4_compute_signature(&in, sig, &canon);
    if (st == SKY_OK) {
        json_object_set_new(res, "verify_signature", json_string(sig));
        json_object_set_new(res, "verify_canonical", json_string(canon));
    } else {
        json_object_set_new(res, "verify_error", json_string(sky_strerror(st)));
    }
    free(canon);
    free(h);
}

int main(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    while ((got = getline(&line, &cap, stdin)) > 0) {
        json_error_t err;
        json_t *c = json_loads(line, 0, &err);
        if (!c) {
            fprintf(stderr, "bad json: %s\n", err.text);
            return 2;
        }
        size_t nh, blen;
        sky_aws_header *h = headers_of(json_object_get(c, "headers"), &nh);
        unsigned char *body = unhex(str(c, "body_hex"), &blen);
        sky_sigv4_request req = {.method = str(c, "method"), .host = str(c, "host"),
                                 .path = str(c, "path"), .query = str(c, "query"), .headers = h,
                                 .n_headers = nh, .payload = body, .payload_len = blen,
                                 .payload_hash = str(c, "payload_hash")};
        sky_sigv4_params p = {.access_key_id = str(c, "akid"), .secret_access_key = str(c, "secret"),
                              .session_token = str(c, "token"), .region = str(c, "region"),
                              .service = str(c, "service"),
                              .time_ns = (int64_t)json_integer_value(json_object_get(c, "time")) *
                                         1000000000LL,
                              .s3_path = json_is_true(json_object_get(c, "s3_path")),
                              .expires_s = json_integer_value(json_object_get(c, "expires")),
                              .want_canonical = true};
        sky_sigv4_result r;
        sky_status st = json_is_true(json_object_get(c, "presign")) ? sky_sigv4_presign(&req, &p, &r)
                                                                   : sky_sigv4_sign(&req, &p, &r);
        json_t *res = json_object();
        if (st != SKY_OK) {
            json_object_set_new(res, "error", json_string(sky_strerror(st)));
        } else {
            json_object_set_new(res, "signature", json_string(r.signature));
            json_object_set_new(res, "amz_date", json_string(r.amz_date));
            json_object_set_new(res, "signed_headers", json_string(r.signed_headers));
            json_object_set_new(res, "canonical_request", json_string(r.canonical_request));
            json_object_set_new(res, "string_to_sign", json_string(r.string_to_sign));
            if (r.authorization)
                json_object_set_new(res, "authorization", json_string(r.authorization));
            if (r.presigned_query)
                json_object_set_new(res, "presigned_query", json_string(r.presigned_query));
            sky_sigv4_result_free(&r);
        }
        json_t *v = json_object_get(c, "verify");
        if (json_is_object(v)) {
            do_verify(v, c, res);
            do_verify_full(v, c, res, body, blen);
        }
        char *out = json_dumps(res, JSON_COMPACT);
        puts(out);
        free(out);
        json_decref(res);
        json_decref(c);
        free(h);
        free(body);
    }
    free(line);
    return 0;
}

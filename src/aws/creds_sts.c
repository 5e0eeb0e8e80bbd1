/*
 * creds_sts.c - credentials from AWS STS: AssumeRole (signed with source credentials) and
 * AssumeRoleWithWebIdentity (unsigned, with a token read from a file), both awsQuery POSTs with
 * XML answers; and the web-identity step of the chain (AWS_WEB_IDENTITY_TOKEN_FILE +
 * AWS_ROLE_ARN).
 *
 * Must never: put the web identity token, the source secret or the returned secret into an error
 * text. The STS endpoint is overridable (opts.sts_endpoint, AWS_ENDPOINT_URL_STS) for tests.
 */
#include "aws/creds.h"
#include "aws/endpoint.h"
#include "aws/profile.h"
#include "aws/sigv4.h"

#include "aws/buf.h"
#include "util/secmem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *sky__xml_text(const char *xml, size_t len, const char *tag)
{
    char open[64], close[64];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    const char *a = memmem(xml, len, open, strlen(open));
    if (!a)
        return NULL;
    a += strlen(open);
    const char *b = memmem(a, len - (size_t)(a - xml), close, strlen(close));
    if (!b)
        return NULL;
    sky__buf out = {0};
    for (const char *p = a; p < b;) {
        static const struct {
            const char *ent;
            char c;
        } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
        bool done = false;
        for (size_t k = 0; *p == '&' && k < 5 && !done; k++) {
            size_t l = strlen(ents[k].ent);
            if ((size_t)(b - p) >= l && memcmp(p, ents[k].ent, l) == 0) {
                sky__buf_putc(&out, ents[k].c);
                p += l;
                done = true;
            }
        }
        if (!done)
            sky__buf_putc(&out, *p++);
    }
    return sky__buf_steal(&out);
}

void sky__creds_region(sky__cctx *ctx, const char *profile, char *out, size_t cap)
{
    if (ctx->p->o.region && *ctx->p->o.region) {
        snprintf(out, cap, "%s", ctx->p->o.region);
        return;
    }
    if (sky_aws_resolve_region(NULL, profile ? profile : ctx->p->o.profile, ctx->p->o.config_file,
                               out, cap) != SKY_OK)
        snprintf(out, cap, "us-east-1");
}

static void form_add(sky__buf *b, const char *k, const char *v)
{
    if (!v || !*v)
        return;
    char *ek = sky_aws_uri_encode(k, strlen(k), false);
    char *ev = sky_aws_uri_encode(v, strlen(v), false);
    if (!ek || !ev) {
        b->oom = true;
    } else {
        if (b->len)
            sky__buf_putc(b, '&');
        sky__buf_puts(b, ek);
        sky__buf_putc(b, '=');
        sky__buf_puts(b, ev);
    }
    free(ek);
    if (ev)
        sky__wipe(ev, strlen(ev));
    free(ev);
}

sky_status sky__sts_parse_credentials(sky__cctx *ctx, const char *action, const char *body,
                                      size_t len, sky_aws_credentials *out)
{
    memset(out, 0, sizeof *out);
    if (!body)
        body = "", len = 0;
    char *akid = sky__xml_text(body, len, "AccessKeyId");
    char *secret = sky__xml_text(body, len, "SecretAccessKey");
    char *token = sky__xml_text(body, len, "SessionToken");
    char *exp = sky__xml_text(body, len, "Expiration");
    int64_t exp_ns = 0;
    sky_status st;
    if (!akid || !secret || !*akid || !*secret)
        st = sky__cerr(ctx, SKY_EPROTO, "STS %s: answer has no credentials", action);
    else if (exp && sky_aws_parse_time(exp, &exp_ns) != SKY_OK)
        st = sky__cerr(ctx, SKY_EPROTO, "STS %s: answer has a malformed Expiration", action);
    else
        st = sky__creds_set(out, akid, secret, token, exp_ns);
    free(akid);
    if (secret)
        sky__wipe(secret, strlen(secret));
    free(secret);
    if (token)
        sky__wipe(token, strlen(token));
    free(token);
    free(exp);
    return st;
}

/* POSTs an awsQuery form to STS (signed when src is given) and parses <Credentials>. */
static sky_status sts_call(sky__cctx *ctx, const char *action, sky__buf *form,
                           const sky_aws_credentials *src, sky_aws_credentials *out)
{
    char region[64], url[1024], host[512], base[512];
    sky__creds_region(ctx, NULL, region, sizeof region);
    /* the session's profile and files, as botocore's STS client is the session's */
    const sky_aws_creds_opts *o = &ctx->p->o;
    char ewhy[256];
    sky_status st = sky__aws_endpoint("sts", region, o->sts_endpoint, o->profile,
                                      o->credentials_file, o->config_file, url, sizeof url, ewhy,
                                      sizeof ewhy);
    if (st != SKY_OK)
        return sky__cerr(ctx, SKY_EINVAL, "STS endpoint: %s", ewhy);
    if (sky_aws_endpoint_host(url, host, sizeof host, NULL, base, sizeof base) != SKY_OK)
        return sky__cerr(ctx, SKY_EINVAL, "STS endpoint is not a valid URL");
    char path[600];
    snprintf(path, sizeof path, "%s/", base);
    char full_url[1200];
    size_t ul = strcspn(url, "?#");
    snprintf(full_url, sizeof full_url, "%.*s/", (int)ul, url); /* resolve strips trailing '/' */

    sky_aws_header hdrs[5];
    size_t nh = 0;
    hdrs[nh++] = (sky_aws_header){"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"};
    hdrs[nh++] = (sky_aws_header){"Host", host};
    sky_sigv4_result sig;
    memset(&sig, 0, sizeof sig);
    if (src) {
        sky_sigv4_request req = {.method = "POST", .host = host, .path = path, .headers = hdrs,
                                 .n_headers = nh, .payload = form->data, .payload_len = form->len};
        sky_sigv4_params sp = {.access_key_id = src->access_key_id,
                               .secret_access_key = src->secret_access_key,
                               .session_token = src->session_token, .region = region,
                               .service = "sts", .time_ns = ctx->now_ns};
        st = sky_sigv4_sign(&req, &sp, &sig);
        if (st != SKY_OK)
            return sky__cerr(ctx, st, "STS %s: signing failed", action);
        hdrs[nh++] = (sky_aws_header){"X-Amz-Date", sig.amz_date};
        hdrs[nh++] = (sky_aws_header){"Authorization", sig.authorization};
        if (src->session_token)
            hdrs[nh++] = (sky_aws_header){"X-Amz-Security-Token", src->session_token};
    }
    sky_http_client *http;
    st = sky_http_client_new(ctx->p->o.http, &http);
    if (st != SKY_OK) {
        sky_sigv4_result_free(&sig);
        char why[256] = "cannot create an HTTP client";
        if (st == SKY_EUNSUPPORTED)
            sky_http_init(why, sizeof why); /* libcurl could not be loaded: say why */
        return sky__cerr(ctx, st, "STS: %s", why);
    }
    sky_http_request hr = {.method = "POST", .url = full_url, .headers = hdrs, .n_headers = nh,
                           .body = form->data, .body_len = form->len};
    sky_http_response resp;
    char why[256] = "";
    /* the SDKs retry STS like any call, in the configured retry mode (creds_call.c); one
     * signature serves every attempt (valid 15 min) */
    st = sky__creds_call(ctx, "sts", http, &hr, &resp, why, sizeof why);
    sky_http_client_free(http);
    sky_sigv4_result_free(&sig);
    if (st != SKY_OK)
        return sky__cerr(ctx, st, "STS %s: %s", action, why);
    if (resp.status != 200) {
        sky_aws_error e;
        sky_aws_parse_error(resp.status, resp.headers, resp.n_headers, resp.body, resp.body_len, &e);
        /* what retries could not get past: throttling and 5xx stay transient for the caller */
        st = sky__cerr(ctx, e.status == SKY_ETHROTTLED ? SKY_ETHROTTLED
                            : resp.status >= 500  ? SKY_EREMOTE
                                                  : SKY_EAUTH,
                       "STS %s failed: HTTP %ld %s: %s", action, resp.status, e.code, e.message);
        sky_http_response_free(&resp);
        return st;
    }
    st = sky__sts_parse_credentials(ctx, action, resp.body, resp.body_len, out);
    sky__wipe(resp.body, resp.body_len);
    sky_http_response_free(&resp);
    return st;
}

sky_status sky__sts_assume_role(sky__cctx *ctx, const sky_aws_credentials *src,
                                const char *role_arn, const char *session_name,
                                const char *external_id, const char *duration,
                                sky_aws_credentials *out)
{
    sky__buf form = {0};
    form_add(&form, "Action", "AssumeRole");
    form_add(&form, "Version", "2011-06-15");
    form_add(&form, "RoleArn", role_arn);
    form_add(&form, "RoleSessionName", session_name);
    form_add(&form, "ExternalId", external_id);
    form_add(&form, "DurationSeconds", duration);
    sky_status st = form.oom ? SKY_ENOMEM : sts_call(ctx, "AssumeRole", &form, src, out);
    sky__buf_wipe(&form);
    return st;
}

sky_status sky__sts_assume_role_web_identity(sky__cctx *ctx, const char *role_arn,
                                             const char *session_name, const char *token_file,
                                             sky_aws_credentials *out)
{
    char *token = sky__read_small_file(token_file);
    if (!token || !*token) {
        free(token);
        return sky__cerr(ctx, SKY_EAUTH, "web identity token file cannot be read");
    }
    sky__buf form = {0};
    form_add(&form, "Action", "AssumeRoleWithWebIdentity");
    form_add(&form, "Version", "2011-06-15");
    form_add(&form, "RoleArn", role_arn);
    form_add(&form, "RoleSessionName", session_name);
    form_add(&form, "WebIdentityToken", token);
    sky__wipe(token, strlen(token));
    free(token);
    sky_status st = form.oom ? SKY_ENOMEM
                             : sts_call(ctx, "AssumeRoleWithWebIdentity", &form, NULL, out);
    sky__buf_wipe(&form);
    return st;
}

sky_status sky__creds_web_identity_env(sky__cctx *ctx, sky_aws_credentials *out)
{
    const char *file = getenv("AWS_WEB_IDENTITY_TOKEN_FILE");
    const char *role = getenv("AWS_ROLE_ARN");
    if (!file || !*file || !role || !*role)
        return SKY_ENOTFOUND;
    const char *session = getenv("AWS_ROLE_SESSION_NAME");
    char defname[64];
    if (!session || !*session) {
        snprintf(defname, sizeof defname, "skylog-%lld", (long long)(ctx->now_ns / 1000000000));
        session = defname;
    }
    sky_status st = sky__sts_assume_role_web_identity(ctx, role, session, file, out);
    if (st == SKY_OK)
        ctx->source = "web-identity";
    return st;
}

/*
 * fuzz_aws_creds.c - the credential sources' answers, which come from outside the process:
 * the container/IMDS JSON and credential_process output (sky__creds_from_json), SSO's cached
 * token file, SSO OIDC CreateToken answer (token refresh) and GetRoleCredentials answer, STS's
 * XML, and the timestamps in all of them.
 * The first byte picks the parser; the rest is the answer. Credentials accepted are complete.
 */
#include "aws/creds.h"
#include "fuzz_common.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check(sky_status st, sky_aws_credentials *c, const char *err)
{
    if (st == SKY_OK) {
        if (!c->access_key_id || !*c->access_key_id || !c->secret_access_key ||
            !*c->secret_access_key)
            abort();
        if (c->expiration_ns < 0)
            abort();
    } else if (st != SKY_ENOMEM && !*err) {
        abort(); /* a refusal says why */
    }
    sky_aws_credentials_clear(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned which = data[0] % 7;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    char err[256] = "";
    sky__cctx ctx = {.err = err, .errlen = sizeof err, .now_ns = 1751114096000000000LL};
    sky_aws_credentials c;
    memset(&c, 0, sizeof c);
    switch (which) {
    case 0:
    case 1: check(sky__creds_from_json(&ctx, body, len, which == 1, &c), &c, err); break;
    case 2: check(sky__sso_parse_role_credentials(&ctx, body, len, &c), &c, err); break;
    case 3: check(sky__sts_parse_credentials(&ctx, "AssumeRole", body, len, &c), &c, err); break;
    case 4: {
        char *token = NULL;
        sky_status st = sky__sso_parse_cached_token(&ctx, body, len, &token);
        if ((st == SKY_OK) != (token != NULL))
            abort();
        free(token);
        sky__sso_token t;
        if (sky__sso_parse_cache(&ctx, body, len, &t) == SKY_OK && !t.access_token)
            abort(); /* a parsed cache always has a token */
        sky__sso_token_clear(&t);
        break;
    }
    case 6: {
        char *access = NULL, *refresh = NULL;
        int64_t in = 0;
        sky_status st = sky__sso_parse_create_token(&ctx, body, len, &access, &refresh, &in);
        if (st == SKY_OK && (!access || in <= 0 || in > 366LL * 86400))
            abort();
        if (st != SKY_OK && (access || refresh))
            abort();
        free(access);
        free(refresh);
        break;
    }
    case 5: {
        char *s = sky_fuzz_cstr((const uint8_t *)body, len);
        int64_t ns = -1;
        if (sky_aws_parse_time(s, &ns) == SKY_OK && ns < 0)
            abort(); /* 1970..2200 only */
        free(s);
        break;
    }
    }
    return 0;
}

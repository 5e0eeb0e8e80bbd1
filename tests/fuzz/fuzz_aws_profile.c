/*
 * fuzz_aws_profile.c - the AWS shared config and credentials files (src/aws/profile.c): the
 * input parsed as an INI file, then used as both files of a profile set and asked what the
 * credential chain asks (every key of the profiles it names, section lookups), with
 * credential_process values split as botocore splits them (sky__shell_split), and every value
 * read as nested sub-settings (sky__ini_subvalue: a [services NAME] entry's endpoint_url).
 */
#include "aws/creds.h"
#include "aws/profile.h"
#include "fuzz_common.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const keys[] = {
    "aws_access_key_id", "aws_secret_access_key", "aws_session_token", "region", "role_arn",
    "source_profile", "credential_source", "credential_process", "sso_session",
    "sso_start_url", "sso_region", "web_identity_token_file", "duration_seconds"};

/* A nested value's sub-setting must point inside the value and be trimmed. */
static void sub(const char *value, const char *key)
{
    const char *u = NULL;
    size_t n = 0;
    if (sky__ini_subvalue(value, key, &u, &n) == SKY_OK) {
        size_t vl = strlen(value);
        if (u < value || u + n > value + vl || memchr(u, '\n', n) ||
            (n && (isspace((unsigned char)u[0]) || isspace((unsigned char)u[n - 1]))))
            abort();
    }
}

static void ask(const sky__profiles *pf, const char *profile)
{
    (void)sky__profile_exists(pf, profile);
    const char *services = sky__profile_get(pf, profile, "services", false);
    if (services) {
        bool found;
        const char *e =
            sky__config_section_get(&pf->config, "services", services, "cloudwatch_logs", &found);
        if (e && !found)
            abort();
        if (e)
            sub(e, "endpoint_url");
    }
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        for (int creds = 0; creds < 2; creds++) {
            const char *v = sky__profile_get(pf, profile, keys[k], creds);
            if (v && k == 7) {
                char **argv = NULL;
                if (sky__shell_split(v, &argv) == SKY_OK) {
                    if (!argv || !argv[0])
                        abort(); /* success means a command */
                    sky__argv_free(argv);
                } else if (argv) {
                    abort();
                }
            }
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = sky_fuzz_cstr(data, size);
    sky__profiles pf;
    memset(&pf, 0, sizeof pf);
    if (sky__ini_parse(text, &pf.creds) != SKY_OK || sky__ini_parse(text, &pf.config) != SKY_OK)
        abort(); /* only SKY_ENOMEM, which the fuzzer's limits do not reach */
    for (size_t i = 0; i < pf.creds.n; i++) {
        const sky__ini_kv *kv = &pf.creds.kv[i];
        if (!kv->section || !kv->key || !kv->value)
            abort();
        for (const char *c = kv->key; *c; c++)
            if (isupper((unsigned char)*c))
                abort(); /* keys are lower-cased */
        sub(kv->value, "endpoint_url");
    }
    ask(&pf, "default");
    /* every section named in the file, as a profile and as "profile NAME" would name it */
    for (size_t i = 0; i < pf.creds.n_sections && i < 8; i++) {
        const char *s = pf.creds.sections[i];
        ask(&pf, strncmp(s, "profile ", 8) == 0 ? s + 8 : s);
    }
    sky__profiles_free(&pf);
    free(text);
    return 0;
}

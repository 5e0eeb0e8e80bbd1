/*
 * profile.h - the AWS shared config and credentials files (INI), and profile lookup across them.
 * Internal (see profile.c).
 */
#ifndef SKY_AWS_PROFILE_H
#define SKY_AWS_PROFILE_H

#include <skylog/aws.h>

typedef struct sky__ini_kv {
    const char *section; /* one of sky__ini.sections: shared by the section's keys */
    char *key;
    char *value;
} sky__ini_kv;

typedef struct sky__ini {
    sky__ini_kv *kv;
    size_t n, cap;
    char **sections; /* each section header's name, once */
    size_t n_sections, cap_sections;
} sky__ini;

/* Largest shared file read (botocore has no limit; real files are kilobytes). */
#define SKY__INI_MAX_BYTES ((size_t)16 << 20)

/* Parses INI text the way botocore's RawConfigParser-based loader does: "[section]" headers
 * (the name as written between '[' and the line's last ']', spaces kept),
 * "key = value" or "key: value", '#'/';' comment lines (no inline comments), indented lines
 * continue the previous value. Keys are lower-cased. SKY_ENOMEM only. */
sky_status sky__ini_parse(const char *text, sky__ini *out);
/* Loads and parses a file; SKY_ENOTFOUND if it cannot be read, SKY_ELIMIT if it is larger than
 * SKY__INI_MAX_BYTES. */
sky_status sky__ini_load(const char *path, sky__ini *out);
/* The value of key in section; NULL if absent. The last definition wins. */
const char *sky__ini_get(const sky__ini *ini, const char *section, const char *key);
bool sky__ini_has_section(const sky__ini *ini, const char *section);
/* Frees and wipes (values may be secrets). */
void sky__ini_free(sky__ini *ini);

/* Both files of the shared configuration. */
typedef struct sky__profiles {
    sky__ini creds;  /* sections are profile names */
    sky__ini config; /* sections are "profile NAME" (or "default") */
} sky__profiles;

/* Loads the files; NULL paths mean the env vars AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE,
 * then ~/.aws/credentials and ~/.aws/config. Missing files are empty. */
sky_status sky__profiles_load(sky__profiles *p, const char *creds_path, const char *config_path);
void sky__profiles_free(sky__profiles *p);
/* A key of a profile in the credentials file (creds_file = true) or the config file. */
const char *sky__profile_get(const sky__profiles *p, const char *profile, const char *key,
                             bool creds_file);
/* True if the profile exists in either file. */
bool sky__profile_exists(const sky__profiles *p, const char *profile);
/* A key of a non-profile section of the config file, "[KIND NAME]" (e.g. "[services local]");
 * *section_found (if not NULL) says whether the section has any key. */
const char *sky__config_section_get(const sky__ini *ini, const char *kind, const char *name,
                                    const char *key, bool *section_found);
/* A sub-setting of a nested value ("cloudwatch_logs =" then indented "endpoint_url = URL"), as
 * botocore's _parse_nested reads it: blank lines skipped, each line split at its first '=',
 * keys compared as written (not lower-cased), both sides trimmed, the last definition wins.
 * Points *start and *len into value (no allocation). SKY_ENOTFOUND if the key is absent,
 * SKY_EINVAL if the value is not nested or one of its lines has no '='. */
sky_status sky__ini_subvalue(const char *value, const char *key, const char **start, size_t *len);
/* The profile to use: explicit, else AWS_PROFILE, else AWS_DEFAULT_PROFILE, else "default". */
const char *sky__profile_name(const char *explicit_profile);
/* Expands a leading "~/" with $HOME; malloc'd. */
char *sky__expand_home(const char *path);

#endif

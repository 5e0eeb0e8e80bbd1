/*
 * fuzz_common.h - what the library's fuzz targets share: a scratch working directory and an
 * environment that keeps a target from reaching the network or the user's files.
 *
 * Header-only (static functions), so tests/fuzz/CMakeLists.txt stays "one .c, one target".
 * A target calls sky_fuzz_sandbox() from LLVMFuzzerInitialize (SKY_FUZZ_SANDBOXED does that).
 */
#ifndef SKY_FUZZ_COMMON_H
#define SKY_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Moves into a fresh temporary directory (relative paths a config names land there) and sets
 * the environment so credentials, profiles and regions never come from the machine running the
 * fuzzer, and nothing waits for an instance metadata service. */
static inline void sky_fuzz_sandbox(void)
{
    char tmpl[] = "/tmp/skylog-fuzz-XXXXXX";
    const char *dir = mkdtemp(tmpl);
    if (!dir || chdir(dir) != 0) {
        perror("fuzz: cannot make a scratch directory");
        abort();
    }
    setenv("HOME", dir, 1);
    setenv("AWS_CONFIG_FILE", "/dev/null", 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null", 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    setenv("AWS_REGION", "us-east-1", 1);
    setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 1);
    unsetenv("AWS_PROFILE");
    unsetenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    unsetenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
    unsetenv("SKYLOG_CONFIG");
}

/* Defines LLVMFuzzerInitialize as the sandbox, for targets that need nothing more. */
#define SKY_FUZZ_SANDBOXED                                                                        \
    int LLVMFuzzerInitialize(int *argc, char ***argv);                                            \
    int LLVMFuzzerInitialize(int *argc, char ***argv)                                             \
    {                                                                                              \
        (void)argc;                                                                                \
        (void)argv;                                                                                \
        sky_fuzz_sandbox();                                                                        \
        return 0;                                                                                  \
    }

/* A NUL-terminated copy of the input (parsers of C strings); free() it. */
static inline char *sky_fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#endif

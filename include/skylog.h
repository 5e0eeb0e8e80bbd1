/*
 * skylog.h - structured logging for C, with CloudWatch sinks.
 *
 * This header is the reference manual. Every public function is documented where it is declared,
 * with its ownership and threading rules.
 *
 * Vocabulary
 *   sky_t       a pipeline: loggers feed it, processors transform its events, sinks receive them.
 *   sky_logger  a named source of events ("app.db"); cheap to use, owned by its pipeline.
 *   sky_field   a typed key/value pair (SKY_STR, SKY_INT, ...), built on the caller's stack.
 *   sky_event   what processors and sinks see: level, name, logger, time, callsite, fields.
 *   sky_sink    a destination (console, file, CloudWatch, ...), with its own level and filter.
 *
 * Quick start
 *
 *     sky_t *sky = sky_open_env(NULL);   (NULL on a configuration error, printed; see below)
 *     sky_logger *log = sky_logger_get(sky, "checkout");
 *     sky_info(log, "user_login", SKY_STR("user", name), SKY_INT("id", 42), SKY_F64("ms", 1.5));
 *     SKY_WITH_CONTEXT(SKY_STR("request_id", rid)) {
 *         sky_warn(log, "slow_query", SKY_F64("duration_ms", ms));
 *     }
 *     sky_close(sky);
 *
 * Speed: in async mode a sky_info() call whose event name and keys are string literals, as
 * above, takes the fastest path from its second call on: it stores only the values (see
 * sky__site below), and reserves its record in the async ring without calling the library
 * (sky__fast). Inside a context scope and through a bound logger too: the scope's fields are
 * copied once per scope, a bound logger's once, and each event references them. Keys built at
 * run time work everywhere, on the general path. The check and the reservation are inlined at
 * each call site (~400 bytes of code more per site); define SKY_COMPACT_CALLS before
 * including this header to make each site a plain call instead. SKY_STR measures its string
 * with 16-byte loads that may read past the NUL but never out of the string's page, as
 * glibc's strlen() does; under ASan, TSan and MSan (detected) and where SKY_NO_INLINE_STRLEN
 * is defined it calls strlen().
 *
 * Threading: unless a function says otherwise, logging calls (sky_info(), sky_emit(), ...) are
 * thread-safe; configuration calls (sky_add_sink(), sky_add_processor(), ...) must happen before
 * the pipeline is shared between threads. Levels may be changed at any time from any thread.
 *
 * Errors: functions that can fail return sky_status (SKY_OK == 0); sky_strerror() gives the text.
 * The library never calls exit() or abort(), and its own diagnostics never re-enter the pipeline.
 * Error messages: a function that builds something (sky_open_ex(), sky_open_env*(),
 * sky_open_file/yaml(), every sky_sink_*() taking errmsg, sky_metric_new(), sky_op_metrics_new(),
 * sky_add_log_metrics(), sky_sampler_start(), sky_request_log_new(), sky_aws_client_new()) and
 * fails says why in a malloc'd *errmsg (the caller frees it) or in errbuf (errlen bytes, always
 * NUL-terminated). When errmsg or errbuf is NULL the sentence is not lost: it goes to the
 * library's diagnostics instead (the pipeline's diag callback where there is a pipeline, else
 * stderr, rate-limited; sky_open_env(): once per process). Functions called on every batch or
 * that only answer a question (sky_aws_creds_get(), sky_http_perform(), sky_http_init(),
 * sky_aws_crypto_init(), sky_aws_resolve_retry(), sky_security_rule_parse()) stay silent with
 * a NULL buffer: their status is the answer, and their failures are counted in their stats.
 *
 * C++: the header compiles as C++17 (g++, clang++; -Wall -Wextra -Wpedantic clean). The macros
 * work as in C, except that every log call is the library call (as with SKY_COMPACT_CALLS):
 * C++ has no _Atomic, so the inlined ring path, which shares its structures with the library
 * as C atomics, is C only. SKY_BIND and SKY_WITH_CONTEXT are small templates in C++; the
 * context is popped by a destructor, also when an exception leaves the block.
 */
#ifndef SKYLOG_H
#define SKYLOG_H

#ifndef __cplusplus
#include <stdatomic.h>
#endif
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
#include <initializer_list>
extern "C" {
#endif

/* A member the library and C call sites access atomically. C++ sees a plain member of the same
 * size and alignment (GCC and Clang give _Atomic T the alignment of its size, for sizes 1, 2,
 * 4, 8 and 16), read only through __atomic builtins, which are what C's atomics compile to:
 * std::atomic<T> is not promised to have _Atomic T's layout. SKY__ZERO is an initializer that
 * zeroes a struct without a warning in either language ({0} warns in C++, {} is C23). */
#ifdef __cplusplus
#define SKY__ATOMIC(T) alignas(sizeof(T)) T
#define SKY__ZERO {}
#else
#define SKY__ATOMIC(T) _Atomic(T)
#define SKY__ZERO {0}
#endif

#if defined(__GNUC__)
#define SKY_API __attribute__((visibility("default")))
#define SKY_LIKELY(x) __builtin_expect(!!(x), 1)
#define SKY_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define SKY_API
#define SKY_LIKELY(x) (x)
#define SKY_UNLIKELY(x) (x)
#endif

/* The release (semantic versioning) and the ABI: SKYLOG_ABI_VERSION is the number in the shared
 * library's SONAME (libskylog.so.1); it changes only when a program built against an older
 * header could misbehave with this library, and it is the release's major number (a release
 * that breaks programs is a new major, as semantic versioning says), so the file is
 * libskylog.so.1.0.0 for release 1.0.0. What keeps the ABI, and what changes it:
 * docs/COMPATIBILITY.md. These lines are the one source of both numbers: CMakeLists.txt reads
 * them (project version, SOVERSION, pkg-config's Version) and refuses a major that is not the
 * ABI version. */
#define SKYLOG_VERSION_MAJOR 1
#define SKYLOG_VERSION_MINOR 0
#define SKYLOG_VERSION_PATCH 0
#define SKYLOG_VERSION "1.0.0"
#define SKYLOG_ABI_VERSION 1

/* ============================================================================================
 * Status codes
 * ========================================================================================== */

typedef enum sky_status {
    SKY_OK = 0,
    SKY_EINVAL,       /* an argument or option is invalid */
    SKY_ENOMEM,       /* out of memory */
    SKY_EIO,          /* a file or socket operation failed (see errno) */
    SKY_ETIMEDOUT,    /* a deadline passed before the work was done */
    SKY_ECLOSED,      /* the pipeline or sink is closed */
    SKY_ENOTFOUND,    /* a named thing does not exist */
    SKY_EFULL,        /* a bounded queue is full */
    SKY_EUNSUPPORTED, /* the operation is not supported here */
    SKY_ENET,         /* network failure: connect, reset, DNS, TLS */
    SKY_EAUTH,        /* credentials missing, invalid or expired */
    SKY_EPROTO,       /* the peer answered something that cannot be understood */
    SKY_EREMOTE,      /* the service answered with an error */
    SKY_ETHROTTLED,   /* the service asked us to slow down */
    SKY_ELIMIT,       /* the input exceeds a documented limit */
    SKY_EINTERNAL,    /* a bug in skylog: please report it */
    SKY_STATUS_COUNT_
} sky_status;

/* A static, human-readable description of a status. Never NULL. Thread-safe. */
SKY_API const char *sky_strerror(sky_status status);

/* The version of the library running (SKYLOG_VERSION as it was built), which may be newer than
 * the header a program was compiled with; and its ABI version (SKYLOG_ABI_VERSION). Thread-safe. */
SKY_API const char *sky_version(void);
SKY_API int sky_abi_version(void);

/* ============================================================================================
 * Levels
 * ========================================================================================== */

typedef enum sky_level {
    SKY_LEVEL_TRACE = 0,
    SKY_LEVEL_DEBUG,
    SKY_LEVEL_INFO,
    SKY_LEVEL_WARN,
    SKY_LEVEL_ERROR,
    SKY_LEVEL_CRITICAL,
    SKY_LEVEL_OFF, /* as a threshold: nothing passes */
    SKY_LEVEL_COUNT_
} sky_level;

/* Upper-case name ("INFO"); "?" for an out-of-range value. */
SKY_API const char *sky_level_name(sky_level level);
/* Parses a level name, case-insensitive: trace, debug, info, warn/warning, error,
 * critical/fatal, off. Returns SKY_EINVAL (and leaves *out alone) for anything else. */
SKY_API sky_status sky_level_parse(const char *text, sky_level *out);

/* ============================================================================================
 * Fields
 *
 * A field is a key and a typed value, built by the SKY_* constructors below. Fields are views:
 * they point at the caller's strings, and skylog copies what it needs before the log call returns.
 * ========================================================================================== */

typedef enum sky_type {
    SKY_T_NONE = 0, /* an unused slot; skipped */
    SKY_T_STR,      /* UTF-8 text (invalid sequences are repaired when rendered) */
    SKY_T_INT,      /* int64_t */
    SKY_T_UINT,     /* uint64_t */
    SKY_T_F64,      /* double, rendered with the fewest digits that read back to it ("1.5",
                     * "0.30000000000000004", "1e+300"); NaN and infinities render as the
                     * strings "NaN", "Infinity" */
    SKY_T_BOOL,
    SKY_T_NULL,
    SKY_T_TIME,  /* nanoseconds since the Unix epoch, rendered ISO-8601 UTC with milliseconds */
    SKY_T_DUR,   /* nanoseconds, rendered as a number of milliseconds */
    SKY_T_ERRNO, /* an errno value, rendered as "ENOENT: No such file or directory" */
    SKY_T_JSON,  /* a raw JSON fragment, embedded as is if valid, else rendered as a string */
    SKY_T_LAZY,  /* a callback evaluated only if the event is emitted (see SKY_LAZY) */
    SKY_T_COUNT_
} sky_type;

typedef struct sky_field sky_field;

/* A lazy field's callback. It runs on the logging thread, only when the event passes the level
 * check, and returns the field's value (its key is ignored). Text it returns may live in `buf`
 * (`cap` bytes, valid until the log call returns) or in memory that outlives the call. */
typedef sky_field (*sky_lazy_fn)(void *user, char *buf, size_t cap);

struct sky_field {
    const char *key;
    uint32_t key_len;
    uint8_t type; /* sky_type */
    union {
        struct {
            const char *ptr;
            size_t len;
        } str; /* SKY_T_STR, SKY_T_JSON */
        int64_t i;
        uint64_t u;
        double f;
        bool b;
        int64_t ns; /* SKY_T_TIME, SKY_T_DUR */
        int err;    /* SKY_T_ERRNO */
        struct {
            sky_lazy_fn fn;
            void *user;
        } lazy;
    } v;
};

/* Built with initializers, not memset: the compiler then knows every member of a field built
 * at a call site, and the macros' fast path folds to constants. */
#ifndef __cplusplus
#define SKY__FIELD(k, t, member, ...)                                                              \
    ((sky_field){.key = (k), .key_len = (k) ? (uint32_t)strlen(k) : 0, .type = (uint8_t)(t),       \
                 .v = {.member = __VA_ARGS__}})
#else /* no designated initializers before C++20, no compound literals */
#define SKY__FIELD(k, t, member, ...)                                                              \
    ([&]() {                                                                                       \
        sky_field f_ = {};                                                                         \
        f_.key = (k);                                                                              \
        f_.key_len = (k) ? (uint32_t)strlen(k) : 0;                                                \
        f_.type = (uint8_t)(t);                                                                    \
        f_.v.member = __VA_ARGS__;                                                                 \
        return f_;                                                                                 \
    }())
#endif

/* The routines that measure a SKY_STR string going on past its first 16-byte block and copy a
 * string of over 32 bytes for an inlined call site (sky__strlen, sky__copy_str): the library's
 * (src/util/strtail.c), chosen once at load for the CPU (AVX2 or SSE2). Entry points, not C
 * functions: a site jumps to them with its return address in r11, and they clobber only the
 * registers its asm names (sky__strlen_long, sky__copy_long), so the site keeps its values in
 * the registers it had (a C call would make it save registers or spill values on every call,
 * the short strings' too). */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__ILP32__)
SKY_API extern const void *sky__strlen_rdx;  /* rdx = s -> rdx = strlen(s) */
SKY_API extern const void *sky__strlen_tail; /* rax = s -> rax = strlen(s): earlier headers' */
SKY_API extern const void *sky__copy_tail;   /* r8 = d, r9 = s, r10 = n >= 32 -> d[0, n) */
#endif

/* strlen() of a field's string, inlined for the usual short string: when the NUL is in the
 * aligned 16-byte block that holds the string's first byte, one load and a compare, no call
 * (a call site that calls nothing keeps its values in registers; see sky__log_site). The load
 * stays within that aligned block, so it never crosses into another page; it may read bytes
 * past the NUL, which address and thread sanitizers would report: under them (and where
 * SKY_NO_INLINE_STRLEN is defined) this is strlen(). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SKY__SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||                        \
    __has_feature(memory_sanitizer) || __has_feature(hwaddress_sanitizer)
#define SKY__SANITIZED 1
#endif
#endif
#if defined(__GNUC__) && defined(__SSE2__) && !defined(__cplusplus) && !defined(SKY__SANITIZED) &&  \
    !defined(SKY_NO_INLINE_STRLEN)
#define SKY__VEC 1
#include <emmintrin.h>
/* The 16-byte loads below read past the end of a shorter string on purpose (never out of its
 * page): -Warray-bounds must not report them in the caller's code, where they are inlined. */
#if !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds"
#if __GNUC__ >= 11
#pragma GCC diagnostic ignored "-Wstringop-overread"
#endif
#endif
typedef char sky__v16 __attribute__((vector_size(16), aligned(16), may_alias));
typedef char sky__v16u __attribute__((vector_size(16), aligned(1), may_alias));
/* bsf: GCC's ctz adds a register clear and a sign extension */
__attribute__((always_inline)) static inline size_t sky__ctz(uint64_t m)
{
#if defined(__x86_64__)
    uint64_t r;
    __asm__("bsfq %1, %0" : "=r"(r) : "rm"(m) : "cc");
    return (size_t)r;
#else
    return (size_t)__builtin_ctzll(m);
#endif
}
#if defined(__x86_64__) && !defined(__ILP32__)
#define SKY__TAILS 1
/* A site compiled with AVX may keep 256-bit values in any vector register, which the AVX2
 * routines' vzeroupper would cut: it names them all. */
#ifdef __AVX__
#define SKY__TAIL_XMM                                                                              \
    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10",       \
        "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"
#else
#define SKY__TAIL_XMM "xmm13", "xmm14", "xmm15"
#endif
/* jump, with the address to come back to in r11: no call, so neither the stack pointer nor
 * the red zone under it is touched. The return point is an indirect jump's target: under
 * -fcf-protection (__CET__), where the object is marked for indirect-branch tracking, it starts
 * with endbr64; an object without the mark makes a process run without tracking (or marks
 * the object's pages legacy), so there it is left out (an instruction a jump). */
#if defined(__CET__) && (__CET__ & 1)
#define SKY__TAIL_ENDBR "endbr64"
#else
#define SKY__TAIL_ENDBR ""
#endif
#define SKY__TAIL_JUMP "lea 1f(%%rip), %%r11\n\tjmp *%[fn]\n1:\t" SKY__TAIL_ENDBR
/* what the asm reads (and writes) through a pointer: some bytes from there, as the compiler's
 * alias analysis must see them (a huge array: no length is known before the routine runs) */
typedef struct {
    char b[0xfffffff];
} sky__bytes;
/* strlen(s) from m, the NUL mask of s's first block (bit i: byte i is NUL): its lowest bit,
 * else the routine's result. One asm, so that a long string's path is a fall-through (the
 * jump and the routine's return land where the short path's branch does: no jump back). */
__attribute__((always_inline)) static inline size_t sky__strlen_long(const char *s, uint64_t m)
{
    size_t r;
    __asm__("bsfq %[m], %[r]\n\t"
            "jnz 2f\n\t"
            "mov %[s], %%rdx\n\t" SKY__TAIL_JUMP "\n\t"
            "mov %%rdx, %[r]\n"
            "2:"
            : [r] "=&r"(r)
            : [m] "rm"(m), [s] "r"(s), [fn] "m"(sky__strlen_rdx),
              "m"(*(const sky__bytes *)(const void *)s)
            : "rcx", "rdx", "r11", "cc", SKY__TAIL_XMM);
    return r;
}
/* n >= 32 */
__attribute__((always_inline)) static inline void sky__copy_long(char *d, const char *s, size_t n)
{
    register char *rd __asm__("r8") = d;
    register const char *rs __asm__("r9") = s;
    register size_t rn __asm__("r10") = n;
    __asm__(SKY__TAIL_JUMP
            : "=m"(*(sky__bytes *)(void *)d)
            : "r"(rd), "r"(rs), "r"(rn), [fn] "m"(sky__copy_tail),
              "m"(*(const sky__bytes *)(const void *)s)
            : "r11", "cc", SKY__TAIL_XMM);
}
#endif
__attribute__((always_inline)) static inline size_t sky__strlen(const char *s)
{
    if (__builtin_constant_p(__builtin_strlen(s)))
        return __builtin_strlen(s); /* a literal: folded */
    uintptr_t a = (uintptr_t)s;
    const sky__v16 z = {0};
    uint64_t m;
    if (SKY_LIKELY((a & 4095) <= 4096 - 16)) {
        /* the 16 bytes from s are in one page: a string under 16 bytes is measured at once */
        sky__v16u v;
        memcpy(&v, s, 16);
        m = (unsigned)__builtin_ia32_pmovmskb128(v == z);
    } else { /* the aligned block that holds s (it lies in s's page) */
        m = (uint64_t)(unsigned)__builtin_ia32_pmovmskb128(*(const sky__v16 *)(a & ~(uintptr_t)15) ==
                                                         z) >>
            (a & 15);
    }
#ifdef SKY__TAILS
    return sky__strlen_long(s, m);
#else
    if (SKY_LIKELY(m != 0))
        return sky__ctz(m);
    /* longer: the string goes on past s's aligned block, so the next aligned blocks are
     * readable; then two at a time from a 32-byte boundary (a pair never straddles a page),
     * still without a call */
    const sky__v16 *blk = (const sky__v16 *)(a & ~(uintptr_t)15) + 1;
    if ((uintptr_t)blk & 16) {
        m = (unsigned)__builtin_ia32_pmovmskb128(*blk == z);
        if (m)
            return (size_t)((const char *)blk - s) + sky__ctz(m);
        blk++;
    }
    for (;; blk += 2) {
        if (__builtin_ia32_pmovmskb128((sky__v16)_mm_min_epu8((__m128i)blk[0], (__m128i)blk[1]) == z)) {
            uint64_t m0 = (unsigned)__builtin_ia32_pmovmskb128(blk[0] == z);
            uint64_t m1 = (unsigned)__builtin_ia32_pmovmskb128(blk[1] == z);
            return (size_t)((const char *)blk - s) + sky__ctz(m0 | m1 << 16);
        }
    }
#endif
}
#if !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#else
#define sky__strlen(s) strlen(s)
#endif

/* One initializer for both outcomes (a NULL string is a null field, its str member zero): a
 * call site's fields then stay in registers (GCC keeps a field whose union member depends on a
 * run-time test in memory). */
static inline sky_field sky_field_strn(const char *key, const char *s, size_t n)
{
    return SKY__FIELD(key, s ? SKY_T_STR : SKY_T_NULL, str, {s, s ? n : 0});
}
static inline sky_field sky_field_str(const char *key, const char *s)
{
    return SKY__FIELD(key, s ? SKY_T_STR : SKY_T_NULL, str, {s, s ? sky__strlen(s) : 0});
}
static inline sky_field sky_field_int(const char *key, int64_t v)
{
    return SKY__FIELD(key, SKY_T_INT, i, v);
}
static inline sky_field sky_field_uint(const char *key, uint64_t v)
{
    return SKY__FIELD(key, SKY_T_UINT, u, v);
}
static inline sky_field sky_field_f64(const char *key, double v)
{
    return SKY__FIELD(key, SKY_T_F64, f, v);
}
static inline sky_field sky_field_bool(const char *key, bool v)
{
    return SKY__FIELD(key, SKY_T_BOOL, b, v);
}
static inline sky_field sky_field_null(const char *key) { return SKY__FIELD(key, SKY_T_NULL, i, 0); }
static inline sky_field sky_field_time(const char *key, int64_t unix_ns)
{
    return SKY__FIELD(key, SKY_T_TIME, ns, unix_ns);
}
static inline sky_field sky_field_dur(const char *key, int64_t ns)
{
    return SKY__FIELD(key, SKY_T_DUR, ns, ns);
}
static inline sky_field sky_field_errno(const char *key, int err)
{
    return SKY__FIELD(key, SKY_T_ERRNO, err, err);
}
static inline sky_field sky_field_json(const char *key, const char *json)
{
    return SKY__FIELD(key, json ? SKY_T_JSON : SKY_T_NULL, str, {json, json ? strlen(json) : 0});
}
static inline sky_field sky_field_lazy(const char *key, sky_lazy_fn fn, void *user)
{
    return fn ? SKY__FIELD(key, SKY_T_LAZY, lazy, {fn, user})
              : SKY__FIELD(key, SKY_T_NULL, i, 0);
}

/* Field constructors. Keys are NUL-terminated UTF-8; a NULL string value becomes null. */
#define SKY_STR(k, s) sky_field_str((k), (s))
#define SKY_STRN(k, s, n) sky_field_strn((k), (s), (n)) /* text with an explicit length */
#define SKY_INT(k, v) sky_field_int((k), (int64_t)(v))
#define SKY_UINT(k, v) sky_field_uint((k), (uint64_t)(v))
#define SKY_F64(k, v) sky_field_f64((k), (double)(v))
#define SKY_BOOL(k, v) sky_field_bool((k), (v) ? true : false)
#define SKY_NULL(k) sky_field_null((k))
#define SKY_TIME(k, unix_ns) sky_field_time((k), (int64_t)(unix_ns))
#define SKY_DUR(k, ns) sky_field_dur((k), (int64_t)(ns))
#define SKY_ERRNO(k, e) sky_field_errno((k), (e))
#define SKY_ERR(e) sky_field_errno("error", (e))
#define SKY_JSON(k, json) sky_field_json((k), (json))
#define SKY_LAZY(k, fn, user) sky_field_lazy((k), (fn), (user))

/* ============================================================================================
 * Pipelines
 * ========================================================================================== */

typedef struct sky sky_t;
typedef struct sky_logger sky_logger;
typedef struct sky_event sky_event;
typedef struct sky_sink sky_sink;

/* Async mode in short: a log call copies the event (its fields, the thread's context and the
 * logger's bound fields, strings included; lazy fields are evaluated first) into a bounded
 * in-memory ring and returns: no lock, no allocation, no formatting, normally no system call.
 * One worker thread per pipeline runs the processors and writes the sinks, in batches. Events
 * of one thread are written in the order they were logged. Events are lost only by the
 * overflow policy or by a close that timed out - and every such loss is counted
 * (sky_stats_get()) and reported in-band by a "skylog.gap" event (level WARN, logger
 * "skylog", fields "dropped" and "reason") after the next event that gets through or at the
 * next flush - or when the process ends abnormally (_exit(), a fatal signal) before
 * sky_flush() or sky_close(). A normal exit (exit(), returning from main, in a forked child
 * too) flushes every open pipeline, each for at most its close_timeout_ms; a pipeline that
 * could not be flushed in time is reported on stderr.
 *
 * fork(): a pipeline stays usable in the child. The child starts with an empty ring (what the
 * parent had queued is written by the parent, once) and its own worker thread. The calling
 * thread's context scopes go on in the child; the copies of other threads' scopes (threads
 * that do not exist in the child) are freed there and leave its sky_stats.context_block_bytes. */
typedef enum sky_mode {
    SKY_MODE_SYNC = 0, /* events are processed and written on the logging thread, under a lock */
    SKY_MODE_ASYNC,    /* events go through a bounded ring to a worker thread (see above) */
} sky_mode;

typedef enum sky_overflow {
    SKY_OVERFLOW_BLOCK = 0,   /* wait for room as long as the worker makes progress (see
                                 block_max_wait_ms); a slow worker costs no event */
    SKY_OVERFLOW_DROP_NEWEST, /* drop the event being logged */
    SKY_OVERFLOW_DROP_OLDEST, /* drop the oldest queued event to make room */
} sky_overflow;

/* Receives skylog's own diagnostics (a sink that cannot write, a processor that failed, ...).
 * It is called from any skylog thread and must not log through skylog. */
typedef void (*sky_diag_fn)(void *user, sky_level level, const char *message);

typedef struct sky_options {
    sky_mode mode;              /* default SKY_MODE_SYNC */
    sky_level level;            /* root logger level; default INFO (0 means TRACE: set it) */
    bool level_set;             /* set to true when `level` is meant (TRACE is 0) */
    size_t ring_bytes;          /* async ring capacity, rounded up to a power of two (at least
                                   4 KiB); default 4 MiB. An event whose copy (about 48 bytes
                                   + 32 per field + its strings) exceeds half of it is dropped
                                   as SKY_DROP_TOO_LARGE. Memory: the ring is touched as it
                                   fills, so RSS grows up to ring_bytes, and the copies of
                                   context scopes its events reference up to a quarter of it
                                   (sky_stats.context_block_limit). */
    sky_overflow overflow;      /* async overflow policy; default BLOCK */
    int64_t block_max_wait_ms;  /* BLOCK and DROP_OLDEST: a caller waiting for room drops its
                                   event (counted, reported by a skylog.gap event) only when
                                   the worker has freed no ring space for this long - a sink
                                   stuck in write() - however long the whole wait. Later
                                   callers then drop at once, without waiting, until the
                                   worker frees space again. Default 1000 ms. A single
                                   sink write() slower than this counts as stuck. */
    int64_t close_timeout_ms;   /* how long sky_close() may spend flushing; default 5000 */
    sky_diag_fn diag;           /* default: stderr, at most 10 lines a second */
    void *diag_user;
    const char *name;           /* a name for diagnostics; default "skylog" */
    /* Async: the ring's crash-safe spool (docs/DURABILITY.md, "The async ring's spool"). The
     * ring lives in this file (created 0600 when missing, locked: one pipeline of one process
     * at a time, else sky_open() fails with SKY_EIO and says why through `diag`, or
     * sky_open_ex()'s errmsg), mapped
     * shared, so an event is in the page cache once sky_log() returned and survives the
     * process being killed. The file keeps how far every sink's write() returned; the next
     * pipeline opened on it delivers what is left first, in order, through its processors and
     * sinks, once it is configured: at its first log call, sky_flush() or sky_close(). With a
     * spool every log call takes the library's path (no inlined ring reservation) and copies
     * the logger's name and call site into its record. NULL (default): memory only. Needs
     * SKY_MODE_ASYNC (SKY_EINVAL otherwise); the path is used during sky_open() only. */
    const char *ring_spool_path;
    uint64_t reserved_[8]; /* zero; room to grow in the same ABI (docs/COMPATIBILITY.md) */
} sky_options;

/* Creates a pipeline. `opts` may be NULL for defaults; the struct is copied. The pipeline has no
 * sinks until sky_add_sink() is called; events logged to a pipeline without sinks are counted
 * (stats.dropped[SKY_DROP_NO_SINK]) and discarded. On success *out owns the pipeline: free it
 * with sky_close(). */
SKY_API sky_status sky_open(const sky_options *opts, sky_t **out);
/* As sky_open(), and when it fails with errmsg not NULL, *errmsg gets a malloc'd sentence saying
 * why (an option out of range, a ring spool in use by another process, ...), which the caller
 * frees; that message then goes to the caller only, not also to `diag`. */
SKY_API sky_status sky_open_ex(const sky_options *opts, sky_t **out, char **errmsg);

/* Creates a pipeline configured from the environment (docs/CONFIGURATION.md, "Environment").
 * Every option of the pipeline, of every sink and of every processor is a variable, with the
 * names and value syntax of a YAML file (`skylog config options --env` lists them):
 *   SKYLOG_<KEY>                the pipeline: SKYLOG_LEVEL (info), SKYLOG_MODE (sync|async),
 *                               SKYLOG_RING_BYTES, SKYLOG_OVERFLOW, ...
 *   SKYLOG_<SECTION>__<OPTION>  a sink or processor: SKYLOG_FILE__PATH, SKYLOG_FILE__MAX_BYTES,
 *                               SKYLOG_CLOUDWATCH_LOGS__LOG_GROUP, SKYLOG_ENRICH__SERVICE, ...
 *                               (a sink or processor is added when one of its variables is
 *                               set; the console sink and redact are on unless SKYLOG_CONSOLE=off
 *                               or SKYLOG_REDACT=0)
 *   short aliases               SKYLOG_CONSOLE (stderr|stdout|off), SKYLOG_FORMAT, SKYLOG_FILE,
 *                               SKYLOG_FILE_MAX_BYTES, SKYLOG_FILE_BACKUPS, SKYLOG_SERVICE,
 *                               SKYLOG_ENVIRONMENT, SKYLOG_VERSION, SKYLOG_REDACT (a bool),
 *                               SKYLOG_CLOUDWATCH_GROUP, _STREAM, _RETENTION_DAYS
 *   SKYLOG_CONFIG               path of a YAML file describing the whole pipeline
 *                               (skylog/config.h); then only the pipeline's SKYLOG_<KEY>
 *                               variables apply (they override the file) and the sink and
 *                               processor variables are an error. A skylog.yaml in the working
 *                               directory is never read unless named here.
 * Values: booleans true/false, yes/no, on/off, 1/0; sizes 64k, 100M; durations 250ms, 30s, 5m.
 * A bad value, an unknown SKYLOG_<SECTION>__<OPTION>, or a SKYLOG_ name that looks like a
 * misspelling of one of these (SKYLOG_LEVLE) is an error naming the variable, with a
 * "did you mean"; other SKYLOG_ names (SKYLOG_BUILD_DIR) are left to whoever uses them.
 * Returns NULL on error, and the message goes to *errmsg (free() it); nothing is printed. With
 * errmsg NULL the message is printed to stderr, once per process (sky_default() meeting the
 * same error does not repeat it). A program that must not run misconfigured checks the result:
 *
 *     char *err;
 *     sky_t *sky = sky_open_env(&err);
 *     if (!sky) { fprintf(stderr, "myapp: %s\n", err); free(err); return 2; }
 */
SKY_API sky_t *sky_open_env(char **errmsg);

/* Flags of sky_open_env_ex(). */
#define SKY_ENV_FALLBACK 1u /* on an error, *out still gets a pipeline: the console (stderr), at
                               SKYLOG_LEVEL if that much is valid; for programs that would
                               rather log somewhere than stop */
#define SKY_ENV_ASYNC 2u    /* when SKYLOG_MODE is not set, the pipeline is async (as if
                               SKYLOG_MODE=async were set, also over a SKYLOG_CONFIG file's
                               mode): for runtimes whose logging calls must never wait for a
                               sink (the Python package), without editing the environment */

/* As sky_open_env(), returning a status: SKY_OK; SKY_EINVAL (a bad or unknown variable);
 * SKY_ENOTFOUND / SKY_EIO (SKYLOG_CONFIG names a missing or unreadable file); or the status of
 * the sink or processor that failed to build. On error *errmsg (if not NULL) gets the message
 * (free() it), nothing is printed, and *out is NULL, or the fallback pipeline with
 * SKY_ENV_FALLBACK (NULL only if even that could not be made). */
SKY_API sky_status sky_open_env_ex(unsigned flags, sky_t **out, char **errmsg);

/* The process-wide default pipeline, created from the environment on first use (thread-safe)
 * with sky_open_env_ex(SKY_ENV_FALLBACK): a configuration error is printed to stderr once and
 * the default pipeline logs to the console only. It is never freed (threads may log while the
 * process exits); like every open pipeline it is flushed at exit. Logging through a NULL sky_t
 * (sky_logger_get(NULL, ...)) uses it. */
SKY_API sky_t *sky_default(void);

/* The default pipeline's configuration error (creating it if needed), or NULL when the
 * environment was valid. The string lives as long as the process. */
SKY_API const char *sky_default_error(void);

/* Waits until every event logged before the call has been written by every sink and the sinks
 * have flushed, or `timeout_ms` passed (SKY_ETIMEDOUT). Thread-safe. In async mode it also
 * reports pending losses (a skylog.gap event). Must not be called from a processor, filter or
 * sink (the worker would wait for itself). */
SKY_API sky_status sky_flush(sky_t *sky, int64_t timeout_ms);

/* Flushes (bounded by close_timeout_ms), closes every sink and frees the pipeline, its loggers
 * and processors. Returns SKY_ETIMEDOUT if something could not be flushed in time (and says
 * what on the diagnostic channel). NULL is a no-op. No logging call may run concurrently with
 * or after it on this pipeline. Async mode: stops and joins the worker; events still queued
 * when the deadline passes are counted as dropped (SKY_DROP_CLOSED). If the worker is stuck
 * in a sink for a second past the deadline, the pipeline is left allocated (not freed) rather
 * than freed under it, and SKY_ETIMEDOUT is returned. */
SKY_API sky_status sky_close(sky_t *sky);
/* Registers fn(user) to run at the very start of sky_close(), before the pipeline flushes or
 * refuses events, most recent first: a thread that logs into the pipeline (the system sampler,
 * sky_sampler_start()) stops there, since no log call may run concurrently with the close.
 * SKY_EINVAL, SKY_ENOMEM. Thread-safe. */
SKY_API sky_status sky_on_close(sky_t *sky, void (*fn)(void *user), void *user);

/* Asks every sink to reopen its files at the next write (after logrotate moved them).
 * Async-signal-safe: may be called from a SIGHUP handler. */
SKY_API void sky_reopen(sky_t *sky);

/* ============================================================================================
 * Loggers
 * ========================================================================================== */

/* Internal: the part of a logger that call sites read (the level check, and the async fast
 * path: see sky__fast). */
struct sky__fast;
struct sky__logger_hdr {
    SKY__ATOMIC(int) level;
    struct sky__fast *fast; /* NULL: this logger's calls always go through the library */
};

/* Returns the logger named `name` (dotted, e.g. "app.db"; NULL or "" is the root logger),
 * creating it on first use. The same name always returns the same handle, valid until the
 * pipeline is closed. A new logger takes the level of its nearest configured ancestor.
 * `sky` NULL means the default pipeline. Thread-safe. Never returns NULL: on out-of-memory it
 * returns a logger that is always disabled. */
SKY_API sky_logger *sky_logger_get(sky_t *sky, const char *name);

/* Sets the level of `name` and of every descendant that has no level of its own ("app" also sets
 * "app.db" unless "app.db" was set explicitly). NULL or "" is the root. Thread-safe. */
SKY_API sky_status sky_set_level(sky_t *sky, const char *name, sky_level level);

/* Sets this logger's level (as sky_set_level() with its name). */
SKY_API sky_status sky_logger_set_level(sky_logger *log, sky_level level);
SKY_API sky_level sky_logger_level(const sky_logger *log);
SKY_API const char *sky_logger_name(const sky_logger *log);

/* Returns a child of `parent` that adds `fields` to every event it logs (structlog's bind()).
 * The fields are deep-copied. The child shares the parent's name and follows its level. The
 * caller owns it: free with sky_logger_release(). Returns NULL on out-of-memory. Thread-safe.
 * In async mode its events reference the copy rather than copying the fields each time
 * (unless one is lazy). */
SKY_API sky_logger *sky_logger_bind(sky_logger *parent, const sky_field *fields, size_t n);
/* Frees a logger returned by sky_logger_bind() (async mode: once its queued events are
 * written; it must not be used after this call). No-op for loggers from sky_logger_get(). */
SKY_API void sky_logger_release(sky_logger *log);

#ifdef __cplusplus
#define SKY_BIND(parent, ...) sky__cxx_bind((parent), {__VA_ARGS__})
#else
#define SKY_BIND(parent, ...)                                                                      \
    sky_logger_bind((parent), (const sky_field[]){{0}, __VA_ARGS__} + 1,                           \
                    sizeof((const sky_field[]){{0}, __VA_ARGS__}) / sizeof(sky_field) - 1)
#endif

/* True when an event of `level` logged through `log` would pass the logger's level: one relaxed
 * atomic load and a compare. */
static inline bool sky_enabled(const sky_logger *log, sky_level level)
{
#ifndef __cplusplus
    return (int)level >=
           atomic_load_explicit(&((const struct sky__logger_hdr *)log)->level, memory_order_relaxed);
#elif defined(__GNUC__)
    return (int)level >=
           __atomic_load_n(&((const struct sky__logger_hdr *)log)->level, __ATOMIC_RELAXED);
#else
    return level >= sky_logger_level(log);
#endif
}

/* ============================================================================================
 * Logging
 * ========================================================================================== */

/* Where a log call is in the source; one static instance per call site. */
typedef struct sky_callsite {
    const char *file;
    const char *func;
    int line;
} sky_callsite;

/* Emits an event with `n` fields. Prefer the sky_info() family, which checks the level first,
 * captures the call site and evaluates no argument when the level is disabled. `event` is the
 * event's name ("user_login"), rendered as the "message" key. `cs` (may be NULL) must be
 * static, like the one the macros make: in async mode the worker reads it after the call
 * returned. Everything else (name, fields, strings) is copied before the call returns.
 * Thread-safe; in async mode lock-free and allocation-free. */
SKY_API void sky_emit(sky_logger *log, sky_level level, const char *event, const sky_callsite *cs,
                      const sky_field *fields, size_t n);

/* ---- private to the macros below (names with two underscores may change in any release) ----
 *
 * Each sky_info()-style call site owns a static sky__site. After the first call at a site, the
 * library may attach a schema to it: the event name, and each field's key, key length and type,
 * all seen at that site. It does so only when the name and every key live in read-only memory
 * (string literals), so a pointer that compares equal names the same bytes for as long as the
 * program runs. A later call whose fields match the schema pointer for pointer stores only the
 * values in the async ring (8 bytes a value, plus string bytes); the worker takes the keys
 * from the schema and renders each key's JSON once per site, not once per event. A call that
 * does not match (another key, a NULL string, a lazy field) takes the general path, unchanged. */
#define SKY__SITE_MAX 16
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 8
#define SKY__UNROLL _Pragma("GCC unroll 16")
#elif defined(__clang__)
#define SKY__UNROLL _Pragma("unroll 16")
#else
#define SKY__UNROLL
#endif
typedef struct sky__schema {
    uint32_t n; /* fields; UINT32_MAX marks a site that will never have a schema */
    const char *name;
    const char *keys[SKY__SITE_MAX];
    uint32_t key_lens[SKY__SITE_MAX];
    uint8_t types[SKY__SITE_MAX];
    uint32_t shapes[SKY__SITE_MAX]; /* SKY__SHAPE(key_lens[i], types[i]): one compare a field */
    /* SKY__SIG of n and the types, for n <= SKY__SIG_MAX (else UINT64_MAX): a call site whose
     * types are constants tests them all, and n, with one compare */
    uint64_t sig;
} sky__schema;
#if defined(__GNUC__)
#define SKY__ASSUME(x) ((x) ? (void)0 : __builtin_unreachable())
#else
#define SKY__ASSUME(x) ((void)0)
#endif
#define SKY__SIG_MAX 14 /* 4 bits of n, then 4 bits a type (every type is below 16) */
#define SKY__SIG_ADD(sig, i, type) ((sig) | (uint64_t)(type) << (4 + 4 * (i)))
#define SKY__SHAPE(key_len, type) ((uint32_t)(key_len) | (uint32_t)(type) << 24)

typedef struct sky__site {
    sky_callsite cs;                     /* what sky_event_callsite() returns */
    /* sky__schema_unlearned (or NULL) until the library decided at the site's first call */
    SKY__ATOMIC(const sky__schema *) schema;
} sky__site;
SKY_API extern const sky__schema sky__schema_unlearned;

#ifndef __cplusplus /* the inlined ring path: C only (see "C++" above) */

/* A reserved site record, between reservation and commit. */
typedef struct sky__slot {
    char *p;               /* where the values go */
    struct sky__fast *q;   /* the ring's owner, told after the commit if the worker sleeps */
    char *rec;             /* the record (its commit word) */
    uint32_t size;         /* the record's size, published by the commit */
    uint64_t end;          /* ring position just past the record */
} sky__slot;

/* The async ring, as an inlined call site writes to it. A bounded multi-producer byte ring:
 * producers reserve with one CAS on `head`, write, then publish the record's commit word
 * (release); the worker reads in order and frees by advancing `tail` (src/queue/ring.h). Its
 * layout is part of SKY__FAST_ABI. */
#define SKY__RING_ALIGN 16u /* every record is a multiple of this, and starts with the word: */
typedef struct sky__ring_hdr {
    _Atomic uint32_t commit; /* 0 while being written; then size | flags (release-stored) */
    uint32_t aux;            /* free for the record's owner */
} sky__ring_hdr;

typedef struct sky__ring {
    char *buf;
    uint64_t cap, mask;
    /* Positions are byte counts since creation; they never wrap (2^64 bytes is centuries). */
    _Alignas(64) _Atomic uint64_t head; /* producers: next byte to reserve (CAS) */
    _Alignas(64) _Atomic uint64_t tail; /* consumer: everything before it is free and zeroed */
    _Atomic uint64_t limit;             /* tail + cap, published after tail: producers' bound */
    /* Consumer-private, written for every record: on a line of their own, since producers
     * read `limit` on every reservation (sharing its line cost a miss per event). */
    _Alignas(64) uint64_t claim; /* next record to read */
    uint64_t head_seen;          /* `head` as last read */
    _Alignas(64) _Atomic uint64_t high_water;
} sky__ring;

/* What an async pipeline publishes to inlined call sites: its ring and the words a call must
 * look at. Each logger that can take the fast path points at it (sky__logger_hdr.fast). The
 * low half of `state` is SKY__FAST_ABI when this layout is the library's and call sites may
 * stamp events with the TSC (the library uses it too); a call site compiled against another
 * layout sees another value and takes the library call, so the layout can change in any
 * release. */
#define SKY__FAST_ABI 0x534b5903u /* a new value with any change to this layout or srec */
#define SKY__REC_SITE 0x80u /* a site record's header word: level | SKY__REC_SITE */
typedef struct sky__fast {
    /* Low 32 bits: the ABI value (or 0). High 32 bits: the gate, nonzero when every call must
     * take the library call (closing; a forked child's first call). Call sites test both with
     * one compare: state == SKY__FAST_ABI. */
    _Atomic uint64_t state;
    /* A record that ends past this ring position tells the library (sky__fast_notify), which
     * wakes the worker: set when the worker goes to sleep (at once from its deep sleep; past a
     * quarter of the ring from a nap), UINT64_MAX while it works. */
    _Atomic uint64_t wake_at;
    uint32_t site_max; /* largest site record (bytes) the library accepts */
    sky__ring ring;
} sky__fast;

/* After a call site committed a record that ends past wake_at: wakes the worker. */
SKY_API void sky__fast_notify(sky__fast *q);

/* A call that matched its site's schema where the inlined reservation could not be made:
 * reserves and writes the record as the inlined path would (val and str as it fills them),
 * or drops it, or emits it through the general path with the schema's keys. */
SKY_API void sky__site_emit_values(sky_logger *log, sky_level level, sky__site *site,
                                   const uint64_t *val, const char *const *str, size_t bytes);
/* sky_emit() for a call site; also learns the site's schema. */
SKY_API void sky__emit_site(sky_logger *log, sky_level level, const char *event, sky__site *site,
                            const sky_field *fields, size_t n);

/* The calling thread's context depth (sky_context_push): a call site with context takes the
 * library call, which adds the context's fields. initial-exec, as libskylog defines it: code
 * in a shared object (a plugin) then reads it with one instruction, not a __tls_get_addr call
 * per log call; it adds no constraint, since libskylog's own TLS is initial-exec already. */
#if defined(__GNUC__)
#define SKY__TLS_IE __attribute__((tls_model("initial-exec")))
#else
#define SKY__TLS_IE
#endif
#ifdef __cplusplus
SKY_API extern thread_local SKY__TLS_IE size_t sky__ctx_depth;
#else
SKY_API extern _Thread_local SKY__TLS_IE size_t sky__ctx_depth;
#endif

/* The calling thread's context as site records reference it: NULL without context; else the
 * scope's fields, copied and merged once per scope (at its push or first event) for one pipeline,
 * whose fast handle `q` names. A call site whose logger has another handle (or a scope not
 * copied yet, whose q is NULL) takes the library call, which makes the block. */
typedef struct sky__ctx_hdr {
    SKY__ATOMIC(sky__fast *) q;
} sky__ctx_hdr;
#ifdef __cplusplus
SKY_API extern thread_local SKY__TLS_IE const sky__ctx_hdr *sky__ctx_cur;
#else
SKY_API extern _Thread_local SKY__TLS_IE const sky__ctx_hdr *sky__ctx_cur;
#endif

#if defined(__GNUC__) && defined(__x86_64__) && !defined(SKY_NO_INLINE_RING)
#define SKY__INLINE_RING 1
#endif

/* Reserves a site record of `bytes` bytes of values right here, without a call: when the
 * logger publishes a fast handle of this header's layout, no gate is up, the thread's context
 * (if any) is a block made for this pipeline, and the ring has room before its end. Otherwise
 * returns 0 and the library call (sky__site_emit_values) does everything else: wrapping,
 * full-ring policies, drops, counting, making the context's block. The record is the
 * library's site record (src/core/async.c, `srec`), which names the thread's context block
 * (NULL: none). */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline int sky__fast_reserve(sky_logger *log, sky_level level, sky__site *site, size_t bytes,
                                    sky__slot *slot)
{
#ifdef SKY__INLINE_RING
    const struct sky__logger_hdr *lh = (const struct sky__logger_hdr *)log;
    sky__fast *q = lh->fast;
    if (!q || atomic_load_explicit(&q->state, memory_order_relaxed) != SKY__FAST_ABI ||
        (unsigned)level >= SKY_LEVEL_OFF)
        return 0;
    const sky__ctx_hdr *cb = sky__ctx_cur;
    if (SKY_UNLIKELY(cb != NULL) && atomic_load_explicit(&cb->q, memory_order_relaxed) != q)
        return 0;
    uint64_t size = (40 + bytes + SKY__RING_ALIGN - 1) & ~(uint64_t)(SKY__RING_ALIGN - 1);
    /* Every ring accepts records of 2 KiB (its smallest capacity is 4 KiB): a site whose size
     * the compiler knows to be under that skips the test. */
    if (SKY_UNLIKELY(size > 2048) && size > q->site_max)
        return 0;
    sky__ring *r = &q->ring;
    uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t off = h & r->mask, end = h + size;
    /* acquire: the worker zeroed what it freed before publishing `limit` */
    if (SKY_UNLIKELY(off + size > r->cap ||
                     end > atomic_load_explicit(&r->limit, memory_order_acquire)) ||
        !atomic_compare_exchange_weak_explicit(&r->head, &h, end, memory_order_relaxed,
                                               memory_order_relaxed))
        return 0;
    char *p = r->buf + off;
    /* The time after the reservation: nothing is kept in registers across it. */
    uint32_t lo, hi;
    __asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
    struct {
        sky__ring_hdr h;
        uint32_t ts_lo, ts_hi; /* the raw TSC reading, an int64_t in little-endian order */
        const sky_logger *logger;
        const sky__site *site;
        const sky__ctx_hdr *ctx;
    } *rec = (void *)p;
    rec->h.aux = (uint32_t)level | SKY__REC_SITE;
    rec->ts_lo = lo;
    rec->ts_hi = hi;
    rec->logger = log;
    rec->site = site;
    rec->ctx = cb;
    slot->p = p + 40;
    slot->q = q;
    slot->rec = p;
    slot->size = (uint32_t)size;
    slot->end = end;
    return 1;
#else
    (void)log, (void)level, (void)site, (void)bytes, (void)slot;
    return 0;
#endif
}

/* Publishes a record reserved by sky__fast_reserve (or by the library's own reservation). */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline void sky__fast_commit(const sky__slot *slot)
{
    atomic_store_explicit(&((sky__ring_hdr *)(void *)slot->rec)->commit, slot->size,
                          memory_order_release);
    if (SKY_UNLIKELY(slot->end > atomic_load_explicit(&slot->q->wake_at, memory_order_relaxed)))
        sky__fast_notify(slot->q);
}

/* Around code that GCC, having inlined it, may think reads past a string (-Warray-bounds,
 * -Wstringop-overread in the caller's build) */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#define SKY__OVERREAD_BEGIN                                                                        \
    _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Warray-bounds\"")            \
        _Pragma("GCC diagnostic ignored \"-Wstringop-overread\"")
#define SKY__OVERREAD_END _Pragma("GCC diagnostic pop")
#elif defined(__GNUC__) && !defined(__clang__)
#define SKY__OVERREAD_BEGIN                                                                        \
    _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Warray-bounds\"")
#define SKY__OVERREAD_END _Pragma("GCC diagnostic pop")
#else
#define SKY__OVERREAD_BEGIN
#define SKY__OVERREAD_END
#endif

/* memcpy() of a string's bytes without a call for the usual short string: overlapping word
 * copies that stay within [0, n) on both sides. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline void sky__copy_str(char *d, const char *s, size_t n)
{
    if (SKY_LIKELY(n <= 16)) {
        if (n >= 8) {
            uint64_t a, z;
            memcpy(&a, s, 8), memcpy(&z, s + n - 8, 8);
            memcpy(d, &a, 8), memcpy(d + n - 8, &z, 8);
        } else if (n >= 4) {
            uint32_t a, z;
            memcpy(&a, s, 4), memcpy(&z, s + n - 4, 4);
            memcpy(d, &a, 4), memcpy(d + n - 4, &z, 4);
        } else if (n) {
            d[0] = s[0], d[n / 2] = s[n / 2], d[n - 1] = s[n - 1];
        }
    } else {
        /* 16 bytes at a time, the last 16 overlapping: no call, so the call site keeps its
         * values in registers a call would clobber (see sky__strlen) */
        if (n <= 32) {
            memcpy(d, s, 16), memcpy(d + n - 16, s + n - 16, 16);
            return;
        }
#ifdef SKY__TAILS
        sky__copy_long(d, s, n);
        return;
#endif
        /* GCC warns where it inlines this for a shorter constant string, on a path n > 32
         * excludes */
        SKY__OVERREAD_BEGIN
        const char *last = s + n - 32;
        char *dlast = d + n - 32;
        do {
            memcpy(d, s, 32);
            d += 32, s += 32;
        } while (s < last);
        memcpy(dlast, last, 32);
        SKY__OVERREAD_END
    }
}

/* sky__copy_str where 16 bytes may be written at d: a string of 1 to 15 bytes whose first 16
 * bytes lie in one page is copied with one 16-byte load and store (the bytes past its end are
 * copied too, and overwritten or left unread). Not under sanitizers, which would report
 * reading past the end. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline void sky__copy_str16(char *d, const char *s, size_t n)
{
#ifdef SKY__VEC
#if !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Warray-bounds" /* as in sky__strlen */
#if __GNUC__ >= 11
#pragma GCC diagnostic ignored "-Wstringop-overread"
#endif
#endif
    /* 1..15 bytes: with SKY_STRN, an empty string's pointer need not be readable */
    if (SKY_LIKELY(n - 1 < 15 && ((uintptr_t)s & 4095) <= 4096 - 16)) {
        memcpy(d, s, 16);
        return;
    }
#if !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif
#ifdef SKY__TAILS
    /* a string of over 32 bytes straight to the copy routine: through sky__copy_str it paid
     * the n <= 16 test too (mix caller -3.3 a call) */
    if (n > 32) {
        sky__copy_long(d, s, n);
        return;
    }
#endif
    sky__copy_str(d, s, n);
}

/* A field's site value (8 bytes) into *val; its string, or NULL. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline const char *sky__site_value(const sky_field *f, uint64_t *val)
{
    switch (f->type) {
    case SKY_T_STR:
    case SKY_T_JSON: *val = f->v.str.len; return f->v.str.ptr;
    case SKY_T_BOOL: *val = f->v.b; return NULL;
    case SKY_T_ERRNO: *val = (uint64_t)(int64_t)f->v.err; return NULL;
    default: memcpy(val, &f->v, 8); return NULL; /* INT, UINT, F64, TIME, DUR, NULL */
    }
}

/* The macros' log call. Inlined into every call site, where the compiler knows each field's
 * key and type: the schema test folds to a compare or two a field, the value stores to moves,
 * and the ring's reservation and commit are inlined too (sky__fast_reserve). `sc` is the
 * site's schema, loaded (acquire) before the fields are built: an acquire load between
 * building and reading them would keep the compiler from folding. */
#if defined(__GNUC__) && !defined(__clang__)
/* GCC cannot always see that lo and hi are read only where they were written (n <= max) */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline void sky__log_site(sky_logger *log, sky_level level, const char *event,
                                 sky__site *site, const sky__schema *sc, const sky_field *fs,
                                 size_t n)
{
    /* A null (a NULL string, SKY_NULL) takes the general path, tested first: then a string's
     * type is a constant on the inlined path, and its pointer is tested once, where the
     * field is made. */
    if (n <= SKY__SITE_MAX) {
        SKY__UNROLL
        for (size_t i = 0; i < n; i++)
            if (fs[i].type == SKY_T_NULL)
                goto general;
    }
    if (n <= SKY__SITE_MAX && SKY_LIKELY(sc != NULL) && sc->name == event) {
        /* n and every type: one compare when they are constants (n <= SKY__SIG_MAX) */
        if (n <= SKY__SIG_MAX) {
            uint64_t sig = n;
            SKY__UNROLL
            for (size_t i = 0; i < n; i++)
                sig = SKY__SIG_ADD(sig, i, fs[i].type);
            if (sig != sc->sig)
                goto general;
        } else if (sc->n != n) {
            goto general;
        }
        size_t bytes = n * 8, strs = 0;
        SKY__UNROLL /* also at -O2: unrolled, the fields' keys and types are constants */
        for (size_t i = 0; i < n; i++) {
            if (fs[i].key != sc->keys[i])
                goto general;
            /* The schema's key lengths are its keys' strlen() (site.c), so the key's length
             * needs no test when the compiler proves it is its key's strlen() (a literal key
             * with SKY_STR and the like) */
            if (!(__builtin_constant_p(fs[i].key_len == __builtin_strlen(fs[i].key)) &&
                  fs[i].key_len == __builtin_strlen(fs[i].key)) &&
                fs[i].key_len != sc->key_lens[i])
                goto general;
            if (n > SKY__SIG_MAX && fs[i].type != sc->types[i])
                goto general;
            if (fs[i].type == SKY_T_STR || fs[i].type == SKY_T_JSON)
                bytes += fs[i].v.str.len + 1, strs = 1;
        }
        /* room for the last string's 16-byte copy (sky__copy_str16) */
        bytes += strs ? 15 : 0;
        sky__slot slot;
        if (SKY_UNLIKELY(!sky__fast_reserve(log, level, site, bytes, &slot))) {
            /* Everything else in one call that needs nothing afterwards: no value is kept
             * across a call on this path, so the inlined path saves no registers. The values
             * go as copies: passing `fs` itself would put the fields in memory on the
             * inlined path too. */
            uint64_t cv[SKY__SITE_MAX];
            const char *cs[SKY__SITE_MAX];
            SKY__UNROLL
            for (size_t i = 0; i < n; i++)
                cs[i] = sky__site_value(&fs[i], &cv[i]);
            sky__site_emit_values(log, level, site, cv, cs, bytes);
            return;
        }
        /* The values straight from the fields (a double from its register), 8 bytes each,
         * then the strings' bytes, each NUL-terminated (the site record's layout, which the
         * library's sky__site_emit_values writes the same way). Every value is stored before
         * the first string is copied, so that only the strings live across a long string's
         * copy (sky__copy_long), not the other values. */
        uint64_t *v = (uint64_t *)(void *)slot.p;
        char *d = (char *)(v + n);
        SKY__UNROLL
        for (size_t i = 0; i < n; i++) {
            switch (fs[i].type) {
            case SKY_T_STR:
            case SKY_T_JSON: v[i] = fs[i].v.str.len; break;
            case SKY_T_BOOL: v[i] = fs[i].v.b; break;
            case SKY_T_ERRNO: v[i] = (uint64_t)(int64_t)fs[i].v.err; break;
            case SKY_T_F64: memcpy(&v[i], &fs[i].v.f, 8); break;
            default: memcpy(&v[i], &fs[i].v, 8); break; /* INT, UINT, TIME, DUR, NULL */
            }
        }
        SKY__UNROLL
        for (size_t i = 0; i < n; i++) {
            if (fs[i].type == SKY_T_STR || fs[i].type == SKY_T_JSON) {
                size_t len = fs[i].v.str.len;
                sky__copy_str16(d, fs[i].v.str.ptr, len);
                d[len] = '\0';
                d += len + 1;
            }
        }
        sky__fast_commit(&slot);
        return;
    }
general:;
    /* A copy for the library call: were `fs` itself passed, the compiler would have to build
     * the array in memory on the inlined path too, where only the values are needed.
     * Member by member: padding is not copied. */
    sky_field copy[SKY__SITE_MAX];
    if (n <= SKY__SITE_MAX) {
        SKY__UNROLL
        for (size_t i = 0; i < n; i++) {
            copy[i].key = fs[i].key;
            copy[i].key_len = fs[i].key_len;
            copy[i].type = fs[i].type;
            /* the value's member by its type: a whole-union copy needs the bytes past the
             * member, which GCC then stores on the inlined path too */
            switch (fs[i].type) {
            case SKY_T_STR:
            case SKY_T_JSON:
            case SKY_T_NULL: copy[i].v.str = fs[i].v.str; break;
            case SKY_T_LAZY: copy[i].v.lazy = fs[i].v.lazy; break;
            case SKY_T_BOOL: copy[i].v.b = fs[i].v.b; break;
            case SKY_T_ERRNO: copy[i].v.err = fs[i].v.err; break;
            default: copy[i].v.u = fs[i].v.u; break; /* INT, UINT, F64, TIME, DUR, NONE */
            }
        }
        fs = copy;
    }
    sky__emit_site(log, level, event, site, fs, n);
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif /* !__cplusplus */

/* The same check and copy out of line, for programs that define SKY_COMPACT_CALLS before
 * including this header: smaller call sites (a plain call), a generic loop instead of folded
 * constants on the fast path. */
SKY_API void sky__log_site_call(sky_logger *log, sky_level level, const char *event,
                                sky__site *site, const sky_field *fs, size_t n);
#ifdef SKY_COMPACT_CALLS
#define SKY__LOG_SITE(log, level, event, site, sc, fs, n)                                          \
    ((void)(sc), sky__log_site_call((log), (level), (event), (site), (fs), (n)))
#else
#define SKY__LOG_SITE(log, level, event, site, sc, fs, n)                                          \
    sky__log_site((log), (level), (event), (site), (sc), (fs), (n))
#endif

/* sky_log(log, level, event, fields...): logs `event` with up to any number of fields. The
 * event name is the first of the variable arguments, so that a call with no field is valid ISO
 * C (C11 wants at least one argument for a macro's `...`): SKY__FIRST takes it, SKY__REST the
 * fields, followed by a zero field that only ends the array (it is not counted). */
#define SKY__FIRST(...) SKY__FIRST_(__VA_ARGS__, ~)
#define SKY__FIRST_(first, ...) first
/* A zero field with every member given (C): with {0}, GCC -O2 clears the whole array before
 * storing the fields, and keeps it in memory. */
#ifdef __cplusplus
#define SKY__ZF SKY__ZERO
#else
#define SKY__ZF {NULL, 0, 0, {{NULL, 0}}}
#endif
#define SKY__REST(...) SKY__REST_(__VA_ARGS__, SKY__ZF)
#define SKY__REST_(first, ...) __VA_ARGS__
#define sky_log(log, level, ...)                                                                   \
    SKY__LOG((log), (level), SKY__FIRST(__VA_ARGS__), SKY__REST(__VA_ARGS__))
#ifdef __cplusplus /* the library call, which loads the site's schema itself */
#define SKY__LOG(log, level, event, ...)                                                           \
    do {                                                                                           \
        sky_logger *const sky__log_ = (log);                                                       \
        if (SKY_UNLIKELY(sky_enabled(sky__log_, (level)))) {                                       \
            static sky__site sky__site_ = {{__FILE__, __func__, __LINE__}, nullptr};               \
            const sky_field sky__fs_[] = {{}, __VA_ARGS__};                                        \
            sky__log_site_call(sky__log_, (level), (event), &sky__site_, sky__fs_ + 1,             \
                               sizeof sky__fs_ / sizeof sky__fs_[0] - 2);                          \
        }                                                                                          \
    } while (0)
#else
#define SKY__LOG(log, level, event, ...)                                                           \
    do {                                                                                           \
        sky_logger *const sky__log_ = (log);                                                       \
        if (SKY_UNLIKELY(sky_enabled(sky__log_, (level)))) {                                       \
            static sky__site sky__site_ = {{__FILE__, __func__, __LINE__},                         \
                                           &sky__schema_unlearned};                                \
            const sky__schema *const sky__sc_ =                                                    \
                atomic_load_explicit(&sky__site_.schema, memory_order_acquire);                    \
            SKY__ASSUME(sky__sc_ != NULL); /* never NULL again once unlearned */                   \
            const sky_field sky__fs_[] = {SKY__ZF, __VA_ARGS__};                                   \
            SKY__LOG_SITE(sky__log_, (level), (event), &sky__site_, sky__sc_, sky__fs_ + 1,        \
                          sizeof sky__fs_ / sizeof sky__fs_[0] - 2);                               \
        }                                                                                          \
    } while (0)
#endif

#define sky_trace(log, ...) sky_log((log), SKY_LEVEL_TRACE, __VA_ARGS__)
#define sky_debug(log, ...) sky_log((log), SKY_LEVEL_DEBUG, __VA_ARGS__)
#define sky_info(log, ...) sky_log((log), SKY_LEVEL_INFO, __VA_ARGS__)
#define sky_warn(log, ...) sky_log((log), SKY_LEVEL_WARN, __VA_ARGS__)
#define sky_error(log, ...) sky_log((log), SKY_LEVEL_ERROR, __VA_ARGS__)
#define sky_critical(log, ...) sky_log((log), SKY_LEVEL_CRITICAL, __VA_ARGS__)

/* ============================================================================================
 * Context
 *
 * Context fields are attached to every event logged on the current thread while they are in
 * scope, whatever the logger. Scopes nest; an inner field with the same key wins.
 * ========================================================================================== */

#define SKY_CONTEXT_MAX_DEPTH 32

/* Pushes `n` fields onto this thread's context. The array and the strings it points to must
 * stay valid until the matching sky_context_pop(). Returns SKY_EFULL beyond
 * SKY_CONTEXT_MAX_DEPTH nested pushes (the push is ignored, and so is its pop).
 * Async mode copies a scope's fields once, and its events reference that copy: at the push
 * when the thread's last scope copied its fields for the same pipeline (the usual case: a
 * scope's first event then costs no more than the next), else at its first event logged
 * through a sky_info()-style call site. Changing a pushed field in place after the push may
 * therefore not be seen by its events (push a new scope instead). While the copies that queued
 * events reference are at their bound (sky_stats.context_block_limit), each event of a scope
 * carries a copy of its fields instead (read at that event). Lazy fields are evaluated per
 * event, as always. A thread that ends inside scopes it never popped frees their copies at
 * its exit, once the events that reference them are written. */
SKY_API sky_status sky_context_push(const sky_field *fields, size_t n);
/* Pops the innermost push of this thread. */
SKY_API void sky_context_pop(void);
/* Number of fields currently in this thread's context. */
SKY_API size_t sky_context_size(void);

typedef struct sky_context_scope {
    int once;
} sky_context_scope;
SKY_API sky_context_scope sky__context_scope_begin(const sky_field *fields, size_t n);
SKY_API void sky__context_scope_end(sky_context_scope *scope);

#if defined(__GNUC__)
#define SKY__SCOPE_CLEANUP __attribute__((cleanup(sky__context_scope_end)))
#else
#define SKY__SCOPE_CLEANUP
#endif
#define SKY__CAT2(a, b) a##b
#define SKY__CAT(a, b) SKY__CAT2(a, b)

/* Runs the following statement or block with the fields in this thread's context:
 *
 *     SKY_WITH_CONTEXT(SKY_STR("request_id", rid)) { ... }
 *
 * With GCC and Clang the context is popped however the block is left (break, return, goto).
 * With other compilers, leave the block only by reaching its end. */
#ifdef __cplusplus /* an object whose destructor pops: also on an exception */
#define SKY_WITH_CONTEXT(...)                                                                      \
    for (sky__cxx_context SKY__CAT(sky__scope_, __LINE__){__VA_ARGS__};                            \
         SKY__CAT(sky__scope_, __LINE__).once; SKY__CAT(sky__scope_, __LINE__).once = 0)
#elif defined(__GNUC__)
#define SKY_WITH_CONTEXT(...)                                                                      \
    for (sky_context_scope SKY__CAT(sky__scope_, __LINE__) SKY__SCOPE_CLEANUP =                    \
             sky__context_scope_begin((const sky_field[]){{0}, __VA_ARGS__} + 1,                   \
                                      sizeof((const sky_field[]){{0}, __VA_ARGS__}) /              \
                                              sizeof(sky_field) -                                  \
                                          1);                                                      \
         SKY__CAT(sky__scope_, __LINE__).once; SKY__CAT(sky__scope_, __LINE__).once = 0)
#else
#define SKY_WITH_CONTEXT(...)                                                                      \
    for (sky_context_scope SKY__CAT(sky__scope_, __LINE__) = sky__context_scope_begin(             \
             (const sky_field[]){{0}, __VA_ARGS__} + 1,                                            \
             sizeof((const sky_field[]){{0}, __VA_ARGS__}) / sizeof(sky_field) - 1);               \
         SKY__CAT(sky__scope_, __LINE__).once;                                                     \
         sky__context_scope_end(&SKY__CAT(sky__scope_, __LINE__)))
#endif

/* ============================================================================================
 * Events (what processors, filters and custom sinks see)
 *
 * An event's strings are valid only during the processor or sink call that receives it.
 * Field keys and string values set through sky_event_set() are copied into the event.
 * ========================================================================================== */

SKY_API sky_level sky_event_level(const sky_event *ev);
SKY_API const char *sky_event_name(const sky_event *ev);
SKY_API const char *sky_event_logger(const sky_event *ev);
SKY_API int64_t sky_event_time_ns(const sky_event *ev); /* Unix epoch, nanoseconds */
SKY_API const sky_callsite *sky_event_callsite(const sky_event *ev); /* may be NULL */
SKY_API size_t sky_event_field_count(const sky_event *ev);
/* The i-th field, in render order (context, bound, call). NULL when out of range. */
SKY_API const sky_field *sky_event_field_at(const sky_event *ev, size_t i);
/* The field with this key, or NULL. */
SKY_API const sky_field *sky_event_get(const sky_event *ev, const char *key);
/* Adds or replaces a field (matched by key); key and strings are copied. */
SKY_API sky_status sky_event_set(sky_event *ev, sky_field field);
/* Removes the field with this key; false if there was none. */
SKY_API bool sky_event_remove(sky_event *ev, const char *key);
/* Renames a field; SKY_ENOTFOUND if `from` is absent. A field already named `to` is replaced. */
SKY_API sky_status sky_event_rename(sky_event *ev, const char *from, const char *to);
/* Changes the event's level or name (copied). */
SKY_API void sky_event_set_level(sky_event *ev, sky_level level);
SKY_API sky_status sky_event_set_name(sky_event *ev, const char *name);
/* Changes the event's time (Unix epoch ns): for events that happened before they were logged
 * (a record another thread or process made, a replayed log). Undone with the processor's
 * other changes if it fails. */
SKY_API void sky_event_set_time(sky_event *ev, int64_t ns);

/* ============================================================================================
 * Processors
 *
 * Processors run in the order added, on the thread that processes events (the logging thread in
 * sync mode, the worker in async mode; never two at once for one pipeline). A processor that
 * returns SKY_PROC_FAILED is isolated: its changes to the event are undone, the failure is
 * counted, and the event goes on to the next processor.
 * ========================================================================================== */

typedef enum sky_proc_result {
    SKY_PROC_KEEP = 0,
    SKY_PROC_DROP = 1,
    SKY_PROC_FAILED = -1,
} sky_proc_result;

typedef sky_proc_result (*sky_processor_fn)(void *user, sky_event *ev);

/* Appends a processor. `name` is copied and shows in stats. `free_user`, if not NULL, is called
 * with `user` when the pipeline is closed (also when this call fails). */
SKY_API sky_status sky_add_processor(sky_t *sky, const char *name, sky_processor_fn fn, void *user,
                                     void (*free_user)(void *));

/* Emits an event derived from the one being processed (an alert a processor raises from what
 * it saw). Call it only from a processor or a sink of the logger's pipeline, during its call:
 * the event is queued, and goes through the whole pipeline - processors, then sinks - right
 * after the current event (sync mode, still on that thread) or the current batch (async mode,
 * on the worker), so it never waits for the pipeline lock or ring room. `name` and the fields
 * (keys, strings) are copied; lazy fields are refused (SKY_EINVAL). At most SKY_DERIVED_MAX
 * wait at once: beyond, SKY_EFULL and the event is counted dropped as SKY_DROP_OVERFLOW. */
#define SKY_DERIVED_MAX 1024
SKY_API sky_status sky_emit_derived(sky_logger *log, sky_level level, const char *name,
                                    const sky_field *fields, size_t n);

/* Built-in processors. Each adds one processor at the end of the chain. */

typedef struct sky_enrich_opts {
    const char *service;     /* adds "service" when not NULL */
    const char *environment; /* adds "environment" */
    const char *version;     /* adds "version" */
    bool hostname;           /* adds "hostname" */
    bool pid;                /* adds "pid" */
    bool timestamp_ms;       /* adds "timestamp_ms" (Unix epoch, milliseconds) */
    uint64_t reserved_[8]; /* zero; room to grow in the same ABI (docs/COMPATIBILITY.md) */
} sky_enrich_opts;
SKY_API sky_status sky_add_enrich(sky_t *sky, const sky_enrich_opts *opts);

#define SKY_REDACTED "***REDACTED***"
typedef struct sky_redact_opts {
    /* Field names to redact, NULL-terminated; NULL means the default list: password, passwd,
     * api_key, apikey, token, secret, authorization, cookie, private_key. Names match
     * case-insensitively, '-' and '_' alike, as whole words of the key ("db_password" and
     * "X-Api-Key" match; "tokenizer" does not). */
    const char *const *fields;
    bool no_value_patterns; /* set to skip scanning string values for secrets: AWS access key
                               ids and secret keys, "Bearer <token>", private key blocks */
    const char *replacement; /* default SKY_REDACTED */
    uint64_t reserved_[8]; /* zero; room to grow in the same ABI (docs/COMPATIBILITY.md) */
} sky_redact_opts;
SKY_API sky_status sky_add_redact(sky_t *sky, const sky_redact_opts *opts);

typedef struct sky_sample_opts {
    /* Fraction of events kept per level, 0..1. A level left at 0 keeps everything unless
     * `rate_set[level]` is true (so {0} keeps all). */
    double rate[SKY_LEVEL_COUNT_];
    bool rate_set[SKY_LEVEL_COUNT_];
    sky_level always_keep; /* events at or above this level are always kept; default ERROR */
    bool always_keep_set;
    /* When the event has this field (default "trace_id"), the decision is a hash of its value,
     * so every event of one trace is kept or dropped together, in every process. */
    const char *key;
    uint64_t seed; /* for events without the key */
    uint64_t reserved_[8]; /* zero; room to grow in the same ABI (docs/COMPATIBILITY.md) */
} sky_sample_opts;
SKY_API sky_status sky_add_sampler(sky_t *sky, const sky_sample_opts *opts);

/* Drops events below `min`. */
SKY_API sky_status sky_add_level_filter(sky_t *sky, sky_level min);

/* Keeps events whose name matches one of `include` (NULL = all) and none of `exclude`. Patterns
 * are shell globs (fnmatch): "http.*", "*_debug". Both lists NULL-terminated and copied. */
SKY_API sky_status sky_add_event_filter(sky_t *sky, const char *const *include,
                                        const char *const *exclude);

/* Token bucket per event name: `per_second` events a second, bursts of `burst`. The next event
 * of a name that passes after some were suppressed carries "suppressed": N. */
SKY_API sky_status sky_add_rate_limit(sky_t *sky, double per_second, double burst);

/* The security monitor (docs/SECURITY_MONITOR.md): counts events per key in a sliding window
 * and, when one key reaches a rule's threshold, emits a `security_alert` event (through
 * sky_emit_derived()) with the evidence: the rule, the key, how many events since when.
 * Memory is bounded: each rule tracks at most max_keys keys and evicts the least recently seen
 * one for a new key (a flood of distinct IPs cannot grow it), counting every eviction. */
typedef struct sky_security_rule {
    const char *name;  /* the alert's "alert" field, e.g. "brute_force" */
    const char *event; /* the event name counted; NULL or "*": every event having the key */
    const char *key;   /* the field counted per value, e.g. "user", "ip" */
    uint32_t threshold; /* alert at this many events of one key within window_ms (1..10000) */
    int64_t window_ms;  /* 1 ms .. 7 days */
} sky_security_rule;

/* Parses "NAME: EVENT by KEY >= N in WINDOW" ("brute_force: login_failed by user >= 5 in 5m",
 * "rate_abuse: * by ip >= 100 in 1m"; WINDOW in ms, s, m, h or d). Strings point into `text`'s
 * copy in out_buf (`cap` bytes, at least the text's length + 1). False with a message in err. */
SKY_API bool sky_security_rule_parse(const char *text, sky_security_rule *out, char *out_buf,
                                     size_t cap, char *err, size_t errcap);

typedef struct sky_security_opts {
    /* The rules, as structs or as text (both may be given). Neither: the two defaults,
     * "brute_force: login_failed by user >= 5 in 5m" and "rate_abuse: * by ip >= 100 in 1m". */
    const sky_security_rule *rules;
    size_t n_rules;
    const char *const *rule_specs; /* NULL-terminated */
    size_t max_keys;      /* per rule; default 10000, at most 10,000,000 */
    int64_t cooldown_ms;  /* after an alert, the key's next one waits this long (its events are
                           * still counted); 0 (unset): the rule's window; < 0: no cooldown
                           * (a config file's `cooldown: 0`) */
    const char *logger;   /* the alerts' logger; default "security" */
    sky_level level;      /* the alerts' level; 0 (TRACE) means the default, WARN */
    /* The field holding the event's own time (SKY_T_TIME, or integer Unix ms), for events
     * replayed from elsewhere; default: the time the event was logged. */
    const char *time_field;
    uint64_t reserved_[8]; /* zero; room to grow in the same ABI (docs/COMPATIBILITY.md) */
} sky_security_opts;

typedef struct sky_security_stats {
    uint64_t counted;   /* events counted by some rule */
    uint64_t alerts;    /* security_alert events emitted */
    uint64_t suppressed; /* alerts held back by the cooldown */
    uint64_t evictions; /* keys evicted to make room (all rules) */
    uint64_t tracked;   /* keys tracked now (all rules) */
    uint64_t no_key;    /* events of a rule's name without a usable key field */
    uint64_t reserved_[8]; /* zero; room to grow in the same ABI (docs/COMPATIBILITY.md) */
} sky_security_stats;

typedef struct sky_security_monitor sky_security_monitor;
/* Adds the monitor; *out (may be NULL) is a handle for sky_security_stats_get(), valid until
 * the pipeline is closed. */
SKY_API sky_status sky_add_security_monitor(sky_t *sky, const sky_security_opts *opts,
                                            sky_security_monitor **out);
/* A snapshot of its counters; thread-safe. */
SKY_API void sky_security_stats_get(const sky_security_monitor *m, sky_security_stats *out);
/* The i-th processor (in the order added, as sky_processor_stats_get() counts them) if it is a
 * security monitor, also one a configuration made (sky_open_file(), sky_open_env()); NULL for
 * another processor or past the end. By name: sky_processor_find(sky, "security_monitor", ...)
 * gives i. Valid, and owned by the pipeline, until it is closed. Thread-safe. */
SKY_API sky_security_monitor *sky_security_monitor_get(sky_t *sky, size_t i);

/* ============================================================================================
 * Sinks and routing
 * ========================================================================================== */

typedef enum sky_format {
    SKY_FORMAT_AUTO = 0, /* console: pretty on a TTY, JSON otherwise; files: JSON */
    SKY_FORMAT_JSON,     /* one JSON object a line */
    SKY_FORMAT_PRETTY,   /* human console lines, colours on a TTY */
    SKY_FORMAT_LOGFMT,   /* key=value pairs */
    SKY_FORMAT_NONE,     /* the sink renders itself from the event */
    SKY_FORMAT_COUNT_
} sky_format;

/* A rendered event, as sinks receive them. `text` is the event rendered in the sink's format,
 * ending with '\n' (NULL for SKY_FORMAT_NONE). Valid only during the call. */
typedef struct sky_record {
    const sky_event *event;
    const char *text;
    size_t len;
} sky_record;

typedef struct sky_sink_stats {
    uint64_t written;      /* events written */
    uint64_t bytes;        /* bytes written */
    uint64_t errors;       /* failed writes */
    uint64_t dropped;      /* events this sink gave up on */
    uint64_t filtered;     /* events its route filtered out */
    uint64_t rotations;    /* file sinks */
    uint64_t reserved_[8]; /* zero; room to grow in the same ABI (docs/COMPATIBILITY.md) */
} sky_sink_stats;

/* The interface every sink implements. `self` is the sink's own state. */
typedef struct sky_sink_vtable {
    const char *type; /* "console", "file", ... */
    /* Writes a batch of records in order. Returns SKY_OK or an error (the records are counted
     * as dropped by the pipeline unless the sink counted them itself). Required. */
    sky_status (*write)(void *self, const sky_record *records, size_t n);
    /* Makes what was written durable or delivered, before `deadline_ns` (CLOCK_MONOTONIC). */
    sky_status (*flush)(void *self, int64_t deadline_ns);
    /* Releases everything, including `self`. Called once, after a last flush. */
    void (*close)(void *self);
    /* Adds the sink's own counters (it may leave fields alone). */
    void (*stats)(void *self, sky_sink_stats *out);
    /* Reopens files (logrotate). Called on the processing thread. */
    void (*reopen)(void *self);
} sky_sink_vtable;

/* Wraps a custom sink. `vt` must outlive the sink (make it static). Returns NULL on OOM (and
 * then calls vt->close(self)). */
SKY_API sky_sink *sky_sink_new(const sky_sink_vtable *vt, void *self, sky_format format);

typedef enum sky_console_stream { SKY_STDERR = 0, SKY_STDOUT = 1 } sky_console_stream;
typedef struct sky_console_opts {
    sky_console_stream stream; /* default stderr */
    sky_format format;         /* default AUTO: PRETTY on a TTY, JSON otherwise */
    int color;                 /* -1 never, 0 auto (TTY and no NO_COLOR), 1 always */
    int fd;                    /* when > 2, write to this descriptor instead (not closed) */
    uint64_t reserved_[8]; /* zero; room to grow in the same ABI (docs/COMPATIBILITY.md) */
} sky_console_opts;
/* A console sink. `opts` may be NULL. Returns NULL on OOM. */
SKY_API sky_sink *sky_sink_console(const sky_console_opts *opts);

typedef struct sky_file_opts {
    const char *path;          /* required; parent directory must exist */
    sky_format format;         /* default JSON */
    uint64_t max_bytes;        /* rotate when the file would exceed this; 0 = never */
    int64_t rotate_interval_s; /* rotate every this many seconds (aligned to UTC); 0 = never */
    int max_backups;           /* keep path.1 .. path.N; default 5; rotated-out files deleted */
    bool fsync_on_flush;       /* fsync(2) on sky_flush() */
    unsigned mode;             /* creation mode; default 0644 */
    uint64_t reserved_[8]; /* zero; room to grow in the same ABI (docs/COMPATIBILITY.md) */
} sky_file_opts;
/* Opens (creating, appending) a file sink. Errors: SKY_EINVAL (no path), SKY_EIO (with errno
 * and the path in *errmsg when errmsg is not NULL; free() it). */
SKY_API sky_status sky_sink_file(const sky_file_opts *opts, sky_sink **out, char **errmsg);

/* Flushes a sink that is not attached to a pipeline (a pipeline flushes its own sinks). */
SKY_API sky_status sky_sink_flush(sky_sink *sink, int64_t timeout_ms);
/* Flushes (bounded by the sink's own rules), closes and frees a sink that was never added to a
 * pipeline. NULL-safe. Never call it on a sink a pipeline owns. */
SKY_API void sky_sink_close(sky_sink *sink);

/* Decides whether an event goes to a sink. Runs on the processing thread. */
typedef bool (*sky_filter_fn)(void *user, const sky_event *ev);

typedef struct sky_route {
    const char *name;      /* for stats and diagnostics; default the sink's type */
    sky_level level;       /* minimum level for this sink (default TRACE: everything) */
    sky_filter_fn filter;  /* optional */
    void *filter_user;
    uint64_t reserved_[8]; /* zero; room to grow in the same ABI (docs/COMPATIBILITY.md) */
} sky_route;

/* Adds a sink to the pipeline, which takes ownership of it (also on failure, when it is closed).
 * `route` may be NULL. */
SKY_API sky_status sky_add_sink(sky_t *sky, sky_sink *sink, const sky_route *route);

/* ============================================================================================
 * Statistics
 * ========================================================================================== */

typedef enum sky_drop_reason {
    SKY_DROP_PROCESSOR = 0, /* a processor (filter, sampler, rate limit, ...) dropped it */
    SKY_DROP_OVERFLOW,      /* the async ring was full */
    SKY_DROP_NO_SINK,       /* no sink accepted it (none configured, or every route said no) */
    SKY_DROP_SINK_ERROR,    /* a sink failed to write it */
    SKY_DROP_CLOSED,        /* logged after close began */
    SKY_DROP_TOO_LARGE,     /* bigger than the ring can ever hold */
    SKY_DROP_REASON_COUNT_
} sky_drop_reason;

SKY_API const char *sky_drop_reason_name(sky_drop_reason reason);

typedef struct sky_stats {
    uint64_t emitted;   /* events that passed the level check and entered the pipeline */
    uint64_t processed; /* events that went through the processor chain */
    uint64_t routed;    /* events delivered to at least one sink */
    uint64_t dropped[SKY_DROP_REASON_COUNT_];
    uint64_t dropped_by_level[SKY_LEVEL_COUNT_];
    uint64_t processor_failures;
    uint64_t context_overflows; /* pushes beyond SKY_CONTEXT_MAX_DEPTH */
    uint64_t ring_high_water;   /* async: most bytes queued, as the worker found them */
    uint64_t ring_capacity;
    bool worker_alive;
    size_t processor_count;
    size_t sink_count;
    uint64_t enqueued; /* async: events taken through the ring by the worker (counted by the
                          worker, so it may lag a log call by a batch); sync: == emitted */
    /* Async with ring_spool_path (docs/DURABILITY.md): what the spool held when this pipeline
     * opened it, and the same over every pipeline that ever opened the file. `recovered`:
     * events found there, delivered first; `torn`: ranges that were not a whole event (a
     * record cut short, or one a producer killed mid-copy never finished), skipped and reported
     * by a skylog.gap event (reason "spool_torn"); `ambiguous`: recovered events that were
     * being written to the sinks when the last owner died, so a sink may have them twice. */
    uint64_t spool_recovered, spool_torn, spool_ambiguous;
    uint64_t spool_recovered_total, spool_torn_total, spool_ambiguous_total;
    /* Async: the copies of context scopes that queued events reference (sky_context_push),
     * in bytes: held now, the most ever held, and their bound (a quarter of the ring's
     * capacity, at least 64 KiB). Past the bound each event of a scope carries a copy of its
     * fields in its ring record instead (nothing waits, nothing is lost): `context_copied`
     * counts those events. A single scope whose copy is over half the bound gets one
     * regardless (copied per event, it would crowd the ring). */
    uint64_t context_block_bytes, context_block_high_water, context_block_limit;
    uint64_t context_copied;
    uint64_t reserved_[8]; /* zero; room to grow in the same ABI (docs/COMPATIBILITY.md) */
} sky_stats;

typedef struct sky_processor_stats {
    const char *name; /* valid while the pipeline is open */
    uint64_t calls;
    uint64_t drops;
    uint64_t failures;
    uint64_t total_ns; /* time spent in the processor */
    uint64_t reserved_[8]; /* zero; room to grow in the same ABI (docs/COMPATIBILITY.md) */
} sky_processor_stats;

/* Fills *out with a snapshot. Thread-safe. */
SKY_API sky_status sky_stats_get(sky_t *sky, sky_stats *out);
/* The i-th processor's counters; SKY_ENOTFOUND past the end. */
SKY_API sky_status sky_processor_stats_get(sky_t *sky, size_t i, sky_processor_stats *out);
/* The i-th sink's counters and route name (valid while the pipeline is open). */
SKY_API sky_status sky_sink_stats_get(sky_t *sky, size_t i, const char **name,
                                      sky_sink_stats *out);
/* The i-th sink (in the order added; NULL past the end), for its type's own counters
 * (sky_cwl_stats_get(), sky_cwm_stats_get(), sky_emf_stats_get(), ...: each answers SKY_EINVAL
 * for a sink of another type), also of sinks a configuration made. Valid, and owned by the
 * pipeline, until it is closed: never close or flush it yourself. Thread-safe. */
SKY_API sky_sink *sky_sink_get(sky_t *sky, size_t i);

/* Processors and sinks by name, for the getters above and the processor types' own
 * (sky_security_monitor_get(), sky_log_metrics_get()), which take an index. A processor's name
 * is the one sky_processor_stats.name gives: its type's, as a configuration's `processors:`
 * list names it ("security_monitor", "metrics", "redact", ...; sky_add_processor()'s `name`).
 * A sink's is its route's: sky_route.name, a configuration's `name:`, else its type
 * ("cloudwatch_logs", "file", ...). Writes to *index the first index at `from` or after whose
 * name is `name` (compared exactly); call again with `from` = *index + 1 for the next of the
 * same name. SKY_ENOTFOUND when there is none, SKY_EINVAL for a NULL argument. An index stays
 * the same until the pipeline is closed (processors and sinks are only ever added). Thread-safe.
 *
 *     size_t i;
 *     sky_security_stats st;
 *     for (size_t from = 0; sky_processor_find(sky, "security_monitor", from, &i) == SKY_OK;
 *          from = i + 1)
 *         sky_security_stats_get(sky_security_monitor_get(sky, i), &st);
 *
 * (A configuration's `system_metrics` sections are no processors: sky_sampler_get().) */
SKY_API sky_status sky_processor_find(sky_t *sky, const char *name, size_t from, size_t *index);
SKY_API sky_status sky_sink_find(sky_t *sky, const char *name, size_t from, size_t *index);

/* ============================================================================================
 * Time
 * ========================================================================================== */

/* Current wall-clock time, Unix epoch nanoseconds (the timestamp events get). */
SKY_API int64_t sky_now_ns(void);
/* CLOCK_MONOTONIC nanoseconds, for deadlines. */
SKY_API int64_t sky_monotonic_ns(void);

#ifdef __cplusplus
} /* extern "C" */

/* C++ forms of SKY_BIND and SKY_WITH_CONTEXT, which in C build arrays with compound literals. */
inline sky_logger *sky__cxx_bind(sky_logger *parent, std::initializer_list<sky_field> fields)
{
    return sky_logger_bind(parent, fields.begin(), fields.size());
}

/* The context's fields live in the object, as long as the scope. */
template <size_t N> class sky__cxx_context {
  public:
    template <typename... F>
    explicit sky__cxx_context(const F &...fields)
        : fields_{fields...}, once(sky__context_scope_begin(fields_, N).once)
    {
    }
    ~sky__cxx_context() { sky_context_pop(); }
    sky__cxx_context(const sky__cxx_context &) = delete;
    sky__cxx_context &operator=(const sky__cxx_context &) = delete;

  private:
    sky_field fields_[N ? N : 1];

  public:
    int once; /* the loop in SKY_WITH_CONTEXT runs its body once */
};
template <typename... F> sky__cxx_context(const F &...) -> sky__cxx_context<sizeof...(F)>;
#endif

#endif /* SKYLOG_H */

/*
 * registry.h - the option tables: every configurable thing (the pipeline, each sink, each
 * processor) declares its options once, as rows of {name, type, default, description, where the
 * value goes}. The YAML loader, the environment (sky_open_env(): every row is also a variable,
 * SKYLOG_<SECTION>__<OPTION>), `skylog config options`, its --help and docs/CONFIGURATION.md all
 * read these rows, so an option exists in exactly one place (Fluent Bit's config_map shape).
 *
 * Adding a sink: write its sky__opt rows against its public options struct (offsetof), a build
 * function that calls the real constructor, and one sky__component row in registry.c's table.
 * Nothing else changes: the loader, the CLI and the docs test pick it up.
 *
 * Internal to the library and its in-tree users (CLI, tests); not installed.
 */
#ifndef SKY_CONFIG_REGISTRY_H
#define SKY_CONFIG_REGISTRY_H

#include <skylog.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum sky__opt_type {
    SKY__OPT_STRING = 0, /* text, copied */
    SKY__OPT_INT,        /* integer within [min, max] */
    SKY__OPT_NUMBER,     /* floating point within [min, max] */
    SKY__OPT_SIZE,       /* bytes: 4096, 64k, 100M, 1G (1024-based; optional B or iB) */
    SKY__OPT_DURATION,   /* 250ms, 30s, 5m, 1h; a bare number is in the row's unit */
    SKY__OPT_BOOL,       /* true/false, yes/no, on/off, 1/0 */
    SKY__OPT_ENUM,       /* one of the row's values */
    SKY__OPT_LIST,       /* a sequence of strings (or one string), NULL-terminated */
    SKY__OPT_TYPE_COUNT_
} sky__opt_type;

typedef struct sky__enum_val {
    const char *name;
    int value;
} sky__enum_val;

/* A parsed value, handed to a row's setter. */
typedef struct sky__value {
    const char *text; /* the text as written */
    int64_t i;        /* INT, SIZE, DURATION (in the row's unit), ENUM, BOOL */
    double d;         /* NUMBER */
    const char *s;    /* STRING (owned by the loader's arena) */
    const char **list; /* LIST, NULL-terminated (owned by the loader's arena) */
} sky__value;

typedef struct sky__opt sky__opt;
typedef void (*sky__opt_setter)(void *obj, const sky__opt *row, const sky__value *v);

struct sky__opt {
    const char *name;
    sky__opt_type type;
    const char *def;  /* the default, as the docs show it; NULL for none */
    const char *desc; /* one line */
    size_t offset;    /* where the value goes in the component's options struct */
    uint8_t width;    /* sizeof the member (1, 2, 4, 8; 0 with a setter) */
    bool required;
    const sky__enum_val *values; /* ENUM: terminated by {NULL, 0} */
    int64_t min, max;            /* INT, SIZE, DURATION (row unit); max 0 = no bound */
    double dmin, dmax;           /* NUMBER */
    int unit_ms;                 /* DURATION: 1 = milliseconds, 1000 = seconds */
    int base;                    /* INT: 0 = decimal, 8 = octal (file modes) */
    sky__opt_setter set;         /* instead of offset/width, for values needing more */
    bool secret;                 /* never printed (check's summary shows ***) */
    /* INT, SIZE, DURATION: 0 is refused. The C struct's 0 is "unset" (the default), which a
     * reader of `timeout: 0` or `max_queue_size: 0` would take for "none" or "off": the
     * parser says so instead of silently giving the default. */
    bool no_zero;
};

typedef enum sky__kind { SKY__KIND_PIPELINE, SKY__KIND_SINK, SKY__KIND_PROCESSOR } sky__kind;

typedef struct sky__component {
    const char *name; /* the config name: "file", "rate_limit" */
    sky__kind kind;
    const char *summary;
    const sky__opt *opts;
    size_t n_opts;
    size_t opts_size; /* sizeof the options struct the rows write into */
    /* Sinks: builds the sink with the real constructor. Processors: adds it to `sky`. Both
     * return SKY_OK or an error with a malloc'd message in *errmsg. */
    sky_status (*build_sink)(void *opts, sky_sink **out, char **errmsg);
    sky_status (*add_processor)(sky_t *sky, void *opts, char **errmsg);
    /* sky_open_env() builds it even when none of its variables is set (console, redact);
     * its switch alias (SKYLOG_CONSOLE=off, SKYLOG_REDACT=0) leaves it out. */
    bool env_default_on;
} sky__component;

/* The pipeline's own options (sky_options) and the route keys every sink accepts (sky_route). */
extern const sky__component sky__config_pipeline;
extern const sky__component sky__config_route;

/* The keys every processor accepts besides its own: `name`, which sky_processor_find() finds it
 * by (sky__processor_label_last()). Unique among a pipeline's processors, and never a
 * processor type's name (that one finds every processor of the type). */
typedef struct sky__proc_keys {
    const char *name;
} sky__proc_keys;
extern const sky__component sky__config_proc_keys;
/* The keys every component of c's kind accepts besides its own: sky__config_route for a sink,
 * sky__config_proc_keys for a processor, NULL for the pipeline. */
const sky__component *sky__config_common(const sky__component *c);
/* Whether `name` may be a processor's configured name: false with the reason in err. */
bool sky__config_proc_name_ok(const char *name, char *err, size_t errcap);

/* Every sink and processor, NULL-terminated, in the order docs list them. */
extern const sky__component *const sky__config_components[];

/* The sink or processor named `name`, or NULL. */
const sky__component *sky__config_find(const char *name);
/* The row named `name` in `c`, or NULL. */
const sky__opt *sky__config_find_opt(const sky__component *c, const char *name);
/* Of `n` candidate names, the closest to `word` if it is a plausible typo, else NULL. */
const char *sky__config_suggest(const char *word, const char *const *candidates, size_t n);

/* A type's name for messages and docs ("size", "enum"...). */
const char *sky__opt_type_name(sky__opt_type t);
/* What a row accepts, for messages: "one of: json, pretty, logfmt", "a size like 64k or 100M". */
void sky__opt_describe(const sky__opt *row, char *buf, size_t cap);

/* Parses `text` as `row` wants (not LIST: the loader builds lists). On failure writes a message
 * ("expected a size like 64k, 100M or 1G, got '12Q'") to err and returns false. */
bool sky__opt_parse(const sky__opt *row, const char *text, sky__value *out, char *err,
                    size_t errcap);
/* Stores a parsed value into `obj` (through the setter, or at offset/width). */
void sky__opt_store(const sky__opt *row, void *obj, const sky__value *v);

/* ---- the environment ------------------------------------------------------------------------ */

/* The variable of row `row` of `c`: SKYLOG_<SECTION>__<OPTION> in upper case for sinks and
 * processors (`c` the sink for its route keys), SKYLOG_<OPTION> for the pipeline's own options
 * (top-level keys of a file). Returns false if it does not fit `cap`. */
bool sky__env_name(const sky__component *c, const sky__opt *row, char *buf, size_t cap);

/* The short names of wave 1, kept as documented aliases of generated names. */
typedef struct sky__env_alias {
    const char *name;    /* "SKYLOG_FILE" */
    const char *section; /* the component's name: "file" */
    const char *option;  /* the row it sets: "path"; NULL: the section's on/off switch (a bool) */
    bool off_word;       /* the value "off" leaves the section out instead (SKYLOG_CONSOLE) */
} sky__env_alias;
extern const sky__env_alias sky__env_aliases[]; /* terminated by {NULL} */
/* The alias of (c, row), or of c's switch when row is NULL; NULL if none. */
const sky__env_alias *sky__env_alias_of(const sky__component *c, const sky__opt *row);
/* SKYLOG_ variables skylog reads that are not options (SKYLOG_CONFIG, SKYLOG_LIBCURL, ...),
 * NULL-terminated, with a line of description each (in the same order). */
extern const char *const sky__env_other[];
extern const char *const sky__env_other_desc[];

/* ---- printing values ------------------------------------------------------------------------ */

/* Copies `in` to `out` (at most cap - 1 bytes, NUL-terminated) with the password of every URL
 * ("scheme://user:password@host") replaced by "***" (a userinfo without ':' is a token: all
 * of it is replaced). For anything printed that may hold a configured value. */
void sky__scrub_userinfo(const char *in, char *out, size_t cap);

/* Prints the options of `c` as a text table (for the CLI) or Markdown (for the docs). */
void sky__config_print_text(const sky__component *c, FILE *out);
void sky__config_print_markdown(const sky__component *c, FILE *out);
/* Prints every variable sky_open_env() reads, one a line: name, type, what it sets. */
void sky__config_print_env(FILE *out, bool markdown);

#endif

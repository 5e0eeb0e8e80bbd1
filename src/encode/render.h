/*
 * render.h - the renderers: an event as a JSON line, logfmt or pretty console text, and the
 * per-callsite cache the JSON renderer keeps.
 *
 * The core calls them only through the table sky__renderers (core/event.h: sky__renderer),
 * which sky_sink_new (src/sinks/sink.c) gives each sink with a format. Included by src/encode
 * and the layers above it.
 */
#ifndef SKY_ENCODE_RENDER_H
#define SKY_ENCODE_RENDER_H

#include "core/event.h"

/* Renderers' per-callsite cache: the JSON of an event's logger, name and callsite ("logger",
 * "message", "module", "func", "line") nearly always repeats at one call site, so it is
 * rendered once. Owned by whoever owns the events (the pipeline in sync mode, the worker in
 * async mode); events point at it. */
#define SKY__CS_CACHE_SLOTS 64
typedef struct sky__cs_entry {
    const sky_callsite *cs;
    const char *file, *func; /* compared too: a callsite struct reused at the same address */
    int line;
    const char *logger; /* logger names live as long as their pipeline */
    size_t logger_len;
    uint16_t len, name_len;
    char name[48];
    char text[256];
} sky__cs_entry;
/* The JSON of an untouched call-site event between its timestamp and its first value:
 * level, logger, message, callsite and the first key; per (site schema, logger, level). */
#define SKY__LINE_CACHE_SLOTS 32
typedef struct sky__line_entry {
    const void *schema;
    const char *logger;
    int level;
    uint16_t len;
    uint32_t bound; /* the line's room but for its values (json.c: render_site) */
    char text[300];
} sky__line_entry;
typedef struct sky__render_cache {
    sky__cs_entry json[SKY__CS_CACHE_SLOTS];
    sky__line_entry lines[SKY__LINE_CACHE_SLOTS];
    /* The last JSON timestamp: a batch's events mostly share their millisecond. ts_text is
     * the text of Unix nanoseconds [ts_lo, ts_lo + ts_span): one unsigned compare tests an
     * event's time (a negative one never falls in); ts_span 0: empty. */
    uint64_t ts_lo, ts_span;
    char ts_text[24];
} sky__render_cache;
_Static_assert(sizeof(sky__render_cache) <= sizeof(sky__render_room) &&
                   _Alignof(sky__render_cache) <= _Alignof(sky__render_room),
               "the core's room for the render cache (core/event.h) is too small");

/* Every format's renderer, for the core (render.c). */
extern const sky__renderer sky__renderers;

/* The renderers. Each appends one line ending in '\n'. */
void sky__render_json(const sky_event *ev, sky_buf *out);
/* One field's value as JSON, as the JSON renderer writes it (strings escaped and repaired,
 * non-finite doubles as strings, errno and times as strings, JSON fragments embedded when
 * valid). For encoders that frame fields their own way (OTLP). */
void sky__json_value(sky_buf *out, const sky_field *f);
/* The JSON line of an untouched call-site event (ev->schema set) at d, with `avail` bytes of
 * room, when its line is in the render cache and every value has a direct writer: returns the
 * line's end. NULL: render it with sky__render_json. */
char *sky__render_site_at(const sky_event *ev, char *d, size_t avail);
void sky__render_logfmt(const sky_event *ev, sky_buf *out);
void sky__render_pretty(const sky_event *ev, sky_buf *out, bool color);
/* Renders a fragment's JSON if not done yet; false if it cannot be. */
bool sky__frag_render(sky__frag *f);
/* The "module" of a callsite (file basename without extension). */
void sky__callsite_module(const sky_callsite *cs, const char **p, size_t *n);

#endif

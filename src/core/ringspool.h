/*
 * ringspool.h - the records of an async ring kept in a file (sky_options.ring_spool_path;
 * docs/DURABILITY.md, "The async ring's spool"). The file, its lock and its reader are the
 * queue layer's (queue/ring_file.h); this is what an event's record holds there.
 *
 * A record of the ordinary ring points at what lives in the process (the logger's name, the
 * call site, a context block): a process that opens the file after its writer died cannot
 * follow those pointers. A spool record is self-contained: the event's name, the logger's
 * name, the call site's file, function and line and every field (context, bound, the call's)
 * are copies in the record, the time is wall-clock nanoseconds (the raw clock a live record
 * carries is converted by its own process), and the fields' key and string pointers point
 * into the record as the producer wrote it. The record keeps that address (`base`), and a
 * reader that finds the record at another address moves the pointers by the difference, in a
 * copy: the record itself stays as sealed.
 *
 *   sky__rfile_rec (commit, aux = level | SKY__REC_SPOOL, pos, crc, aux2 = number of fields)
 *   base, ts_ns, name_len, logger_len, file_len, func_len, line, has_cs      (64 bytes in all)
 *   sky_field[aux2]
 *   name NUL, logger NUL, [file NUL, func NUL when has_cs], the fields' keys and strings
 */
#ifndef SKY_CORE_RINGSPOOL_H
#define SKY_CORE_RINGSPOOL_H

#include "core/event.h"
#include "queue/ring_file.h"

#define SKY__REC_SPOOL 0x100u /* in a ring record's aux: a spool record */
#define SKY__PREC_NONE UINT32_MAX /* file_len / func_len of a NULL string */
/* A bit of sky->closing (beside SKY__CLOSING, SKY__NO_WORKER), set for the pipeline's life when
 * its ring is a spool: every log call then takes the library call, which writes spool records. */
#define SKY__SPOOLED 4

typedef struct sky__prec {
    sky__rfile_rec f;
    uint64_t base;
    int64_t ts_ns;
    uint32_t name_len, logger_len;
    uint32_t file_len, func_len;
    int32_t line;
    uint32_t has_cs;
} sky__prec;
_Static_assert(sizeof(sky__prec) == 64, "spool record header");

/* Bytes a spool record needs beyond its header, its fields and the event name's copy (which
 * the ordinary record has too): the logger's name and the call site's strings, whose lengths
 * go to cs_lens (file, func) for sky__prec_fill. */
size_t sky__prec_extra(const sky_logger *log, const sky_callsite *cs, size_t cs_lens[2]);

/* Writes the header and the strings of a spool record reserved at `p`; returns where the
 * fields' keys and strings go. */
char *sky__prec_fill(char *p, sky_level level, size_t nf, const char *name, size_t name_len,
                     int64_t ts_ns, const sky_logger *log, const sky_callsite *cs,
                     const size_t cs_lens[2]);

/* Whether a record read back from a file is a well-formed spool record: every length and
 * every pointer (against `base`) within the record, strings terminated, types known. The
 * ring file's reader calls it (sky__rfile_check) before it trusts a record. */
bool sky__prec_check(void *user, const char *rec, uint32_t size);

/* The worker's scratch for moving a recovered record's field pointers. */
typedef struct sky__prec_scratch {
    sky_field *f;
    size_t cap;
} sky__prec_scratch;

/* Decodes a spool record (checked, or written by this process) into `ev`; `cs` receives the
 * call site (ev->cs points at it). */
void sky__prec_decode(const char *p, sky_event *ev, sky_callsite *cs, sky__prec_scratch *sc);

#endif

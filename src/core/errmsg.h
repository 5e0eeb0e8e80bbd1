/*
 * errmsg.h - where an entry point's error message goes when its caller gave it nowhere.
 *
 * The rule (include/skylog.h, "Error messages"): an entry point that builds something and fails
 * says why in the caller's errmsg/errbuf; when that is NULL the sentence goes to the library's
 * diagnostics instead (a pipeline's diag, else stderr, rate-limited), never nowhere. Entry points
 * keep their body taking a message destination that is never NULL (a local one when the caller
 * gave none) and end through one of these, so no body has to remember the NULL case at each of
 * its returns. sky__reserved_check() follows the same rule.
 */
#ifndef SKY_CORE_ERRMSG_H
#define SKY_CORE_ERRMSG_H

#include <skylog.h>

/* Says `msg` (malloc'd, may be NULL) on sky's diagnostics (sky NULL: stderr) and frees it.
 * Returns st. For `char **errmsg` entry points: pass the body &msg when errmsg is NULL. */
sky_status sky__errmsg_route(sky_t *sky, sky_status st, char *msg);
/* The same for `char *errbuf, size_t errlen` entry points: says `buf` (the local buffer the body
 * wrote into because the caller's was NULL) when st is a failure and buf is not empty. */
sky_status sky__errbuf_route(sky_t *sky, sky_status st, const char *buf);

#endif

/*
 * reserved.h - the check that every options struct's reserved space is zero.
 *
 * Options structs end in `uint64_t reserved_[8]` (docs/COMPATIBILITY.md): a later release
 * gives those slots meaning. A library that ignored them would silently drop whatever a
 * program built against a newer header asked for there (or a stack struct left
 * uninitialised), and a later release could never give a slot a meaning whose zero is not
 * "as before". So every entry point taking an options struct refuses nonzero reserved space,
 * through this one helper, with a message naming the struct.
 */
#ifndef SKY_CORE_RESERVED_H
#define SKY_CORE_RESERVED_H

#include <skylog.h>

#include <stdbool.h>
#include <stddef.h>

/* True when the reserved space is nonzero; then buf (if len) gets the sentence saying which
 * struct and what to do about it. */
bool sky__reserved_msg(const void *reserved, size_t size, const char *type, char *buf,
                       size_t len);
/* SKY_OK when the reserved space is zero. Else SKY_EINVAL, and the sentence goes to *errmsg
 * (malloc'd; the caller's to free) when errmsg is not NULL, otherwise to sky's diagnostics
 * (sky NULL: the process's, stderr). */
sky_status sky__reserved_check(const void *reserved, size_t size, const char *type, sky_t *sky,
                               char **errmsg);

/* The struct's name is checked against the pointer's type at compile time, so a message can
 * never name the wrong struct. `opts` must not be NULL. */
#define SKY__RESERVED_IS(opts, type)                                                            \
    _Generic((opts), const type *: 1, type *: 1, default: 0)
#define SKY__CHECK_RESERVED(opts, type, sky, errmsg)                                            \
    ((void)sizeof(char[SKY__RESERVED_IS(opts, type) ? 1 : -1]),                                       \
     sky__reserved_check((opts)->reserved_, sizeof (opts)->reserved_, #type, (sky), (errmsg)))
#define SKY__RESERVED_MSG(opts, type, buf, len)                                                 \
    ((void)sizeof(char[SKY__RESERVED_IS(opts, type) ? 1 : -1]),                                       \
     sky__reserved_msg((opts)->reserved_, sizeof (opts)->reserved_, #type, (buf), (len)))

#endif

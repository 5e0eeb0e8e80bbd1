/*
 * buf.h - the AWS layer's name for the shared growable buffer (src/util/buf.h): sky__buf with
 * a `data` member is the same object as sky_buf with `p`.
 */
#ifndef SKY_AWS_BUF_H
#define SKY_AWS_BUF_H

#include "util/buf.h"

typedef sky_buf sky__buf;

#endif

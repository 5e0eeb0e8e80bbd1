/*
 * internal.h - an umbrella over the core's per-layer headers, kept while branches that include
 * it are merged; new code includes what it uses instead:
 *   core/event.h     the event, call-site schemas, context fragments, rendered lines
 *   core/logger.h    loggers and levels
 *   core/pipeline.h  the pipeline: processors, sinks, router, derived events, async, context
 * Declare nothing here: a declaration goes to the header of the layer that defines it.
 */
#ifndef SKY_CORE_INTERNAL_H
#define SKY_CORE_INTERNAL_H

#include "core/event.h"
#include "core/logger.h"
#include "core/pipeline.h"

#endif

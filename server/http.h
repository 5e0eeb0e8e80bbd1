/*
 * http.h - the HTTP side of `skylog serve`: a libmicrohttpd daemon (one thread per connection)
 * that collects each request, applies fault injection and authentication, routes it to the
 * Logs, metrics or ingestion handler, and sends the reply.
 */
#ifndef SKY_SERVE_HTTP_H
#define SKY_SERVE_HTTP_H

#include "server.h"

#include <stddef.h>

typedef struct sky__http sky__http;

/* Starts listening as srv->opts says; *port receives the bound port. NULL with a message in
 * err on failure. */
sky__http *sky__http_start(sky__server *srv, int *port, char *err, size_t cap);
/* Stops accepting, waits for in-flight requests, frees everything. NULL-safe. */
void sky__http_stop(sky__http *h);

#endif

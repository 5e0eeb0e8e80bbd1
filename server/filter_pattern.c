#include "filter_pattern.h"
#include <stdlib.h>
#include <string.h>
struct sky__pattern { char *t; };
sky__pattern *sky__pattern_compile(const char *text, const char **why) { (void)why; sky__pattern *p = calloc(1, sizeof *p); p->t = strdup(text); return p; }
bool sky__pattern_match(const sky__pattern *p, const char *msg, size_t len) { (void)len; return strstr(msg, p->t) != NULL; }
void sky__pattern_free(sky__pattern *p) { if (p) { free(p->t); free(p); } }

/* table.c - see table.h. */
#include "table.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bool sky__out_parse(const char *s, sky__out_fmt *out)
{
    if (strcmp(s, "table") == 0)
        *out = SKY__OUT_TABLE;
    else if (strcmp(s, "json") == 0)
        *out = SKY__OUT_JSON;
    else if (strcmp(s, "csv") == 0)
        *out = SKY__OUT_CSV;
    else
        return false;
    return true;
}

void sky__grid_init(sky__grid *g, size_t ncols) { *g = (sky__grid){.ncols = ncols}; }

void sky__grid_add(sky__grid *g, const char *const *row)
{
    if (g->failed)
        return;
    if (g->nrows == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 16;
        char **c = realloc(g->cells, cap * g->ncols * sizeof *c);
        if (!c) {
            g->failed = true;
            return;
        }
        g->cells = c;
        g->cap = cap;
    }
    char **r = g->cells + g->nrows * g->ncols;
    for (size_t i = 0; i < g->ncols; i++) {
        r[i] = strdup(row[i] ? row[i] : "");
        if (!r[i])
            g->failed = true;
    }
    g->nrows++;
}

static bool numeric(const char *s)
{
    char *end;
    if (!*s)
        return false;
    strtod(s, &end);
    return *end == '\0';
}

/* Display width of UTF-8 text: one column per character (what our cells hold). */
static size_t width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static void csv_cell(FILE *out, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

bool sky__grid_print(const sky__grid *g, FILE *out, sky__out_fmt fmt)
{
    if (g->failed) {
        fputs("skylog: out of memory while formatting the output\n", stderr);
        return false;
    }
    size_t *w = calloc(g->ncols ? g->ncols : 1, sizeof *w);
    if (!w) {
        fputs("skylog: out of memory while formatting the output\n", stderr);
        return false;
    }
    for (size_t r = 0; r < g->nrows; r++)
        for (size_t c = 0; c < g->ncols; c++) {
            size_t n = width(g->cells[r * g->ncols + c]);
            if (n > w[c])
                w[c] = n;
        }
    for (size_t r = 0; r < g->nrows; r++) {
        for (size_t c = 0; c < g->ncols; c++) {
            const char *s = g->cells[r * g->ncols + c];
            if (fmt == SKY__OUT_CSV) {
                if (c)
                    fputc(',', out);
                csv_cell(out, s);
                continue;
            }
            size_t pad = w[c] - width(s);
            bool last = c + 1 == g->ncols;
            if (r > 0 && numeric(s)) {
                fprintf(out, "%s%*s%s", c ? "  " : "", (int)pad, "", s);
            } else {
                fprintf(out, "%s%s", c ? "  " : "", s);
                if (!last)
                    fprintf(out, "%*s", (int)pad, "");
            }
        }
        fputc('\n', out);
    }
    free(w);
    return true;
}

void sky__grid_free(sky__grid *g)
{
    for (size_t i = 0; i < g->nrows * g->ncols; i++)
        free(g->cells[i]);
    free(g->cells);
    *g = (sky__grid){0};
}

void sky__fmt_num(double v, char *out, size_t cap)
{
    if (v == floor(v) && fabs(v) < 1e15)
        snprintf(out, cap, "%.0f", v);
    else
        snprintf(out, cap, "%.10g", v);
}

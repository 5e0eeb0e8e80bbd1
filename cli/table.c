/* table.c - see table.h. Cells are kept as the service sent them and made safe only when
 * printed (safetext.h): the table and the CSV need different escaping of the same text. */
#include "table.h"

#include "safetext.h"

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

/* A number to right-align. Only what starts like one: strtod would skip leading white space,
 * CR and LF included, and such a cell must be escaped like any other text. */
static bool numeric(const char *s)
{
    char *end;
    if (!*s || !strchr("+-.0123456789", *s))
        return false;
    strtod(s, &end);
    return *end == '\0';
}

bool sky__grid_print(const sky__grid *g, FILE *out, sky__out_fmt fmt)
{
    if (g->failed) {
        fputs("skylog: out of memory while formatting the output\n", stderr);
        return false;
    }
    if (fmt == SKY__OUT_CSV) {
        for (size_t r = 0; r < g->nrows; r++) {
            for (size_t c = 0; c < g->ncols; c++) {
                if (c)
                    fputc(',', out);
                sky__csv_put(out, g->cells[r * g->ncols + c]);
            }
            fputc('\n', out);
        }
        return true;
    }
    size_t *w = calloc(g->ncols ? g->ncols : 1, sizeof *w);
    if (!w) {
        fputs("skylog: out of memory while formatting the output\n", stderr);
        return false;
    }
    for (size_t r = 0; r < g->nrows; r++)
        for (size_t c = 0; c < g->ncols; c++) {
            size_t n = sky__safe_width(g->cells[r * g->ncols + c]);
            if (n > w[c])
                w[c] = n;
        }
    for (size_t r = 0; r < g->nrows; r++) {
        for (size_t c = 0; c < g->ncols; c++) {
            const char *s = g->cells[r * g->ncols + c];
            bool last = c + 1 == g->ncols;
            if (c)
                fputs("  ", out);
            if (r > 0 && numeric(s))
                fprintf(out, "%*s%s", (int)(w[c] - strlen(s)), "", s);
            else
                sky__safe_pad(out, s, last ? 0 : w[c]);
        }
        fputc('\n', out);
        if (r == 0 && g->rule) {
            for (size_t c = 0; c < g->ncols; c++) {
                fputs(c ? "  " : "", out);
                for (size_t k = 0; k < w[c]; k++)
                    fputc('-', out);
            }
            fputc('\n', out);
        }
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

/*
 * table.h - what the commands that print records share (metrics, alarm, query): a grid of text
 * cells printed as an aligned table for people or as CSV (RFC 4180 quoting) for scripts, each
 * cell made safe for a terminal the way safetext.h says; the --output option that picks one
 * (or json, which each command renders itself); and numbers written the same way everywhere.
 */
#ifndef SKY_CLI_TABLE_H
#define SKY_CLI_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum sky__out_fmt { SKY__OUT_TABLE, SKY__OUT_JSON, SKY__OUT_CSV } sky__out_fmt;

/* "table", "json" or "csv"; false for anything else. */
bool sky__out_parse(const char *s, sky__out_fmt *out);

/* Rows of `ncols` cells; the first row added is the header. Cells are copied. */
typedef struct sky__grid {
    size_t ncols, nrows, cap;
    char **cells;
    bool failed; /* out of memory: print says so instead of printing a partial table */
    bool rule;   /* table: a line of dashes under the header */
} sky__grid;

void sky__grid_init(sky__grid *g, size_t ncols);
void sky__grid_add(sky__grid *g, const char *const *row);
/* Table: columns padded, numbers right-aligned, cells escaped as sky__safe_put does. CSV:
 * comma-separated, each cell as sky__csv_put writes it.
 * Returns false (after a message on stderr) if the grid ran out of memory. */
bool sky__grid_print(const sky__grid *g, FILE *out, sky__out_fmt fmt);
void sky__grid_free(sky__grid *g);

/* A number as people read it: integers without a fraction, others with up to 10 significant
 * digits ("12", "0.25", "1.234567891e+12"). */
void sky__fmt_num(double v, char *out, size_t cap);

#endif

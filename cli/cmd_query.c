/* aurum query: runs SQL on a results database, read-only, and prints an aligned table
 * (or CSV). The connection is analysis/estimate.c's: the file is opened read-only and a
 * statement that would write is refused before anything runs, so a query can never
 * damage a campaign, even one still running. The au_z, au_t and au_wilson_lo/hi
 * functions of docs/database.md are there. A table is buffered to align its columns;
 * CSV streams. */
#include "analysis/estimate.h"
#include "cmd.h"
#include "common.h"
#include "core/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: aurum query results.db \"SQL\" [--csv]\n"
               "  Runs SQL (SELECT ...; several statements allowed) on a results database\n"
               "  opened read-only and prints each result as an aligned table.\n"
               "  --csv   comma-separated values with a header line (RFC 4180 quoting)\n"
               "  SQL functions: au_z(level), au_t(level, df), au_wilson_lo/hi(k, n, level).\n"
               "  Ready queries: docs/database.md.\n");
}

/* One statement's result, kept until it is complete (to know the column widths). */
struct table {
    int n_cols;
    char **cells; /* row-major, row 0 the names; NULL is SQL NULL */
    size_t n_rows, cap_rows;
    bool csv, failed;
    int n_tables;
};

static void csv_cell(const char *s)
{
    if (!s)
        return;
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"')
            putchar('"');
        putchar(*s);
    }
    putchar('"');
}

static void csv_row(int n, const char *const *cells)
{
    for (int i = 0; i < n; i++) {
        if (i)
            putchar(',');
        csv_cell(cells[i]);
    }
    putchar('\n');
}

static bool numeric(const char *s)
{
    if (!s || !*s)
        return false;
    char *end;
    (void)strtod(s, &end);
    return *end == '\0' || !strcmp(s, "Inf") || !strcmp(s, "-Inf");
}

static size_t width(const char *s)
{
    size_t w = 0; // display width: count UTF-8 lead bytes only
    for (; s && *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return s ? w : 4;
}

static void print_table(struct table *t)
{
    size_t *w = au_calloc((size_t)t->n_cols + 1, sizeof(*w));
    if (!w) {
        t->failed = true;
        return;
    }
    for (size_t r = 0; r < t->n_rows; r++)
        for (int c = 0; c < t->n_cols; c++) {
            size_t x = width(t->cells[r * (size_t)t->n_cols + (size_t)c]);
            w[c] = x > w[c] ? x : w[c];
        }
    if (t->n_tables++)
        putchar('\n');
    for (size_t r = 0; r < t->n_rows; r++) {
        for (int c = 0; c < t->n_cols; c++) {
            const char *s = t->cells[r * (size_t)t->n_cols + (size_t)c];
            int pad = (int)(w[c] - width(s));
            bool right = r > 0 && numeric(s);
            printf("%s%*s%s%*s", c ? "  " : "", right ? pad : 0, "", s ? s : "NULL",
                   right || c == t->n_cols - 1 ? 0 : pad, "");
        }
        putchar('\n');
        if (r == 0) {
            for (int c = 0; c < t->n_cols; c++)
                for (size_t k = 0; k < w[c] + (c ? 2 : 0); k++)
                    putchar(k < 2 && c ? ' ' : '-');
            putchar('\n');
        }
    }
    printf("(%zu row%s)\n", t->n_rows - 1, t->n_rows == 2 ? "" : "s");
    au_free(w);
}

static void table_clear(struct table *t)
{
    for (size_t i = 0; t->cells && i < t->n_rows * (size_t)t->n_cols; i++)
        au_free(t->cells[i]);
    au_free(t->cells);
    t->cells = NULL;
    t->n_rows = t->cap_rows = 0;
}

static int table_add(struct table *t, int n, const char *const *v)
{
    if (t->n_rows == t->cap_rows) {
        size_t cap = t->cap_rows ? 2 * t->cap_rows : 64, bytes;
        if (au_mul_overflow(cap, (size_t)n, &bytes) ||
            au_mul_overflow(bytes, sizeof(char *), &bytes))
            return -1;
        char **cells = au_realloc(t->cells, bytes);
        if (!cells)
            return -1;
        t->cells = cells;
        t->cap_rows = cap;
    }
    char **row = t->cells + t->n_rows * (size_t)n;
    t->n_rows++;
    for (int i = 0; i < n; i++)
        row[i] = NULL;
    for (int i = 0; i < n; i++)
        if (v[i] && !(row[i] = au_strdup(v[i])))
            return -1;
    return 0;
}

static int on_row(void *user, int n, const char *const *names, const char *const *values)
{
    struct table *t = user;
    if (t->csv) {
        if (!values && t->n_tables++)
            putchar('\n'); // a blank line between the results of several statements
        csv_row(n, values ? values : names);
        return 0;
    }
    if (!values) {
        if (t->n_rows)
            print_table(t);
        table_clear(t);
        t->n_cols = n;
    }
    if (table_add(t, n, values ? values : names) < 0) {
        t->failed = true;
        return 1;
    }
    return 0;
}

/* "--word" is an option; SQL may start with "--" too (a comment), but has spaces. */
static bool is_option(const char *s)
{
    return s[0] == '-' && s[1] == '-' && s[2] &&
           strspn(s + 2, "abcdefghijklmnopqrstuvwxyz-") == strlen(s + 2);
}

int au_cmd_query(int argc, char **argv)
{
    const char *pos[2] = {NULL, NULL};
    int n_pos = 0;
    struct table t = {0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--csv")) {
            t.csv = true;
        } else if (is_option(argv[i])) {
            cli_error("query: unknown option '%s' (try 'aurum query --help')", argv[i]);
            return 2;
        } else if (n_pos < 2) {
            pos[n_pos++] = argv[i];
        } else {
            cli_error("query: unexpected argument '%s' (quote the SQL as one argument)", argv[i]);
            return 2;
        }
    }
    if (n_pos < 2) {
        usage(stderr);
        return 2;
    }
    struct au_diag d = {{0}};
    au_estimate_db *db;
    if (au_estimate_open(pos[0], &db, &d) < 0) {
        cli_error("%s", d.msg);
        return 1;
    }
    int rc = au_estimate_query(db, pos[1], on_row, &t, &d);
    if (!rc && !t.csv && t.n_rows && !t.failed)
        print_table(&t);
    table_clear(&t);
    au_estimate_close(db);
    fflush(stdout);
    if (t.failed) {
        cli_error("%s: query: out of memory", pos[0]);
        return 1;
    }
    if (rc < 0) {
        cli_error("%s", d.msg);
        return 1;
    }
    return 0;
}

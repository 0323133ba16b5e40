/* CLI helpers: the only place (with cmd_*.c) that prints errors. */
#include "common.h"

#include "onnx.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("aurum: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

bool cli_parse_i64(const char *opt, const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        cli_error("%s: expected an integer in [%lld, %lld], got '%s'", opt, (long long)lo,
                  (long long)hi, s);
        return false;
    }
    *out = v;
    return true;
}

bool cli_parse_f64(const char *opt, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end) {
        cli_error("%s: expected a number, got '%s'", opt, s);
        return false;
    }
    *out = v;
    return true;
}

const char *cli_optarg(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        cli_error("option %s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

int cli_load_model(const char *path, int64_t batch, unsigned flags, struct au_graph **out)
{
    struct au_diag d = {{0}};
    struct au_graph *g = NULL;
    int rc = au_onnx_load(path, &g, &d);
    if (!rc)
        rc = au_graph_prepare(g, batch, flags, &d);
    if (rc) {
        cli_error("%s", d.msg[0] ? d.msg : au_strerror(rc));
        au_graph_free(g);
        return rc;
    }
    *out = g;
    return 0;
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

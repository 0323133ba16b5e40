/* Status names and the diagnostic buffer. Library code never prints; the CLI prints d->msg. */
#include "status.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *au_status_name(int status)
{
    switch (status) {
#define AU_X_(name, val, text)                                                                     \
    case val:                                                                                      \
        return "AU_" #name;
        AU_STATUS_MAP(AU_X_)
#undef AU_X_
    default:
        return "AU_UNKNOWN";
    }
}

const char *au_strerror(int status)
{
    switch (status) {
#define AU_X_(name, val, text)                                                                     \
    case val:                                                                                      \
        return text;
        AU_STATUS_MAP(AU_X_)
#undef AU_X_
    default:
        return "unknown error";
    }
}

int au_diag_set(struct au_diag *d, int status, const char *fmt, ...)
{
    if (d) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
        va_end(ap);
        for (char *p = d->msg; *p; p++)
            if (*p == '\n' || *p == '\r')
                *p = ' ';
    }
    return status;
}

void au_diag_prefix(struct au_diag *d, const char *prefix)
{
    if (!d || !prefix)
        return;
    char tmp[2 * sizeof(d->msg)];
    snprintf(tmp, sizeof(tmp), "%s: %s", prefix, d->msg);
    memcpy(d->msg, tmp, sizeof(d->msg) - 1);
    d->msg[sizeof(d->msg) - 1] = '\0';
}

void au_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "aurum: internal error: %s:%d: assertion '%s' failed\n", file, line, expr);
    abort();
}

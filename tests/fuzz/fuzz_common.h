/* Checks shared by the fuzz targets: the contract every parser states in its header
 * (negative status, *out cleared, one non-empty line in d) is asserted with abort(), so
 * libFuzzer and the replay test both report a broken promise, not only a crash. */
#ifndef AU_FUZZ_COMMON_H
#define AU_FUZZ_COMMON_H

#include "core/status.h"

#include <stdlib.h>
#include <string.h>

static inline void fuzz_check_diag(int rc, const struct au_diag *d)
{
    if (rc > 0)
        abort(); /* statuses are 0 or negative */
    if (rc < 0 && (d->msg[0] == '\0' || strchr(d->msg, '\n')))
        abort(); /* a failure must explain itself on exactly one line */
}

#endif

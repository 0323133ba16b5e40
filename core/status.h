/* Status codes and diagnostics.
 * Every fallible function returns an int: AU_OK (0) or a negative AU_E* code, and
 * fills an optional caller-owned struct au_diag with one line "file:node: reason".
 * The list is append-only: codes may be persisted. */
#ifndef AU_STATUS_H
#define AU_STATUS_H

#include <stddef.h>

#define AU_STATUS_MAP(X)                                                                           \
    X(OK, 0, "ok")                                                                                 \
    X(NOMEM, -1, "out of memory")                                                                  \
    X(IO, -2, "i/o error")                                                                         \
    X(FORMAT, -3, "malformed input")                                                               \
    X(UNSUPPORTED, -4, "unsupported")                                                              \
    X(SHAPE, -5, "shape mismatch")                                                                 \
    X(DTYPE, -6, "wrong data type")                                                                \
    X(INVALID, -7, "invalid argument")                                                             \
    X(NOTFOUND, -8, "not found")                                                                   \
    X(RANGE, -9, "value out of range")                                                             \
    X(OVERFLOW, -10, "size overflow")                                                              \
    X(INTERRUPTED, -11, "interrupted")                                                             \
    X(PLUGIN, -12, "plugin error")                                                                 \
    X(DB, -13, "database error")

enum au_status {
#define AU_X_(name, val, text) AU_##name = (val),
    AU_STATUS_MAP(AU_X_)
#undef AU_X_
};
#define AU_E_FIRST_ AU_NOMEM

/* A one-line message, owned by the caller; functions accept NULL. */
struct au_diag {
    char msg[256];
};

/* Name ("AU_SHAPE") and text ("shape mismatch") of a status; never NULL. */
const char *au_status_name(int status);
const char *au_strerror(int status);

/* Format msg into d (if non-NULL) and return status unchanged, so callers can write
 * `return au_diag_set(d, AU_SHAPE, "%s: ...", name);`. */
int au_diag_set(struct au_diag *d, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix d->msg with "prefix: " (e.g. a file name) keeping it one line. */
void au_diag_prefix(struct au_diag *d, const char *prefix);

/* Invariant checks (bugs, never data): abort with file and line. */
void au_assert_fail(const char *expr, const char *file, int line);
#define AU_ASSERT(e) ((e) ? (void)0 : au_assert_fail(#e, __FILE__, __LINE__))

#endif

/* NumPy .npy files (format 1.0/2.0/3.0): the interchange format for inputs, labels and
 * reference outputs. Only what a numeric tensor needs: float32/64, int64/32, uint8,
 * int8 and bool, little-endian, C order, at most AU_MAX_DIMS dims. Anything else is
 * refused with one line naming the file and the field, never guessed at.
 *
 *   struct au_array a;
 *   struct au_diag d;
 *   if (au_npy_read("x.npy", &a, &d) < 0)
 *       return fail(d.msg);             // "x.npy: fortran_order True is not supported"
 *   use(a.t.dtype, a.t.n_dims, a.t.ne, a.t.data);
 *   au_npy_write("y.npy", &a.t, &d);    // via y.npy.tmp + rename
 *   au_array_fini(&a);
 */
#ifndef AU_NPY_H
#define AU_NPY_H

#include "status.h"
#include "tensor.h"

#include <stddef.h>
#include <stdint.h>

/* Largest header (dict text) accepted; NumPy itself refuses more than 10000 bytes. */
#define AU_NPY_MAX_HEADER 16384

/* A tensor that owns its data (au_malloc_aligned, 64-byte aligned). Zero-initialise
 * or let a reader fill it; release with au_array_fini. */
struct au_array {
    struct au_tensor t;
};

/* Frees a->t.data and zeroes a; safe on a zeroed or already finished array. */
void au_array_fini(struct au_array *a);
/* Allocates an array of dtype and shape (uninitialised data). Caller finis it. */
int au_array_alloc(struct au_array *a, int dtype, int n_dims, const int64_t *ne, struct au_diag *d);

/* Reads a whole .npy file into out (caller finis it; out is zeroed on failure).
 * Fails with AU_IO (open/read), AU_FORMAT (bad magic/header/size, truncated or
 * trailing bytes, bool byte not 0/1), AU_UNSUPPORTED (dtype, big-endian, Fortran
 * order, too many dims), AU_OVERFLOW or AU_NOMEM. d->msg starts with path. */
int au_npy_read(const char *path, struct au_array *out, struct au_diag *d);
/* As au_npy_read but keeps only the first max_rows entries of dim 0 (max_rows < 0:
 * all); the file must still be as long as its header says. Scalars are read whole. */
int au_npy_read_head(const char *path, int64_t max_rows, struct au_array *out, struct au_diag *d);
/* Parses a complete .npy image held in memory (fuzzing, embedded data); name is used
 * in messages. Same ownership and errors as au_npy_read. */
int au_npy_read_mem(const void *buf, size_t nbytes, const char *name, struct au_array *out,
                    struct au_diag *d);

/* Writes t (any supported dtype, C order) as a format 1.0 file. The bytes go to
 * "path.tmp", are flushed and synced, then renamed over path, so path is either the
 * old file or the complete new one. AU_IO names the file and the errno text (e.g. a
 * full disk); AU_DTYPE/AU_INVALID for a tensor that cannot be stored. */
int au_npy_write(const char *path, const struct au_tensor *t, struct au_diag *d);

#endif

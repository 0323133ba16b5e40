/* IDX files (the MNIST / Fashion-MNIST container), plain or gzip-compressed: a 4-byte
 * magic 00 00 <type> <n_dims>, n_dims big-endian uint32 sizes, then big-endian data.
 * Images come out as uint8 [N, rows, cols] and labels as uint8 [N]; int8, int32,
 * float32 and float64 payloads are read too (converted to host order).
 *
 *   struct au_array img;
 *   struct au_diag d;
 *   if (au_idx_read("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz",
 *                   &img, &d) < 0)
 *       return fail(d.msg);          // "...gz: truncated: header says 7840000 ..."
 *   // img.t: uint8 [10000,28,28]
 *   au_array_fini(&img);
 */
#ifndef AU_IDX_H
#define AU_IDX_H

#include "npy.h" /* struct au_array */
#include "status.h"

#include <stdint.h>

/* Reads a whole IDX file (gzip or plain, told apart by content) into out; the caller
 * finis it, and out is zeroed on failure. Fails with AU_IO (open/read), AU_FORMAT (bad
 * magic, no dims, truncated or trailing data, corrupt gzip, sizes a gzip this small
 * cannot hold), AU_UNSUPPORTED (int16 payload, too many dims), AU_OVERFLOW or
 * AU_NOMEM; d->msg starts with path. */
int au_idx_read(const char *path, struct au_array *out, struct au_diag *d);
/* As au_idx_read but reads only the first max_rows entries of dim 0 (max_rows < 0:
 * all), so a limit on a large training set does not decompress all of it. */
int au_idx_read_head(const char *path, int64_t max_rows, struct au_array *out, struct au_diag *d);

#endif

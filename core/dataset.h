/* Datasets for the CLI: samples from .npy or IDX (told apart by content), converted
 * once to the dtype and per-sample shape a model input wants, then copied batch by
 * batch into the caller's input buffer without allocating.
 *   uint8 images  -> float32 (x/255 - mean)/std, [N,H,W] -> [N,1,H,W] if the model
 *                    wants a leading channel of 1; float64 -> float32; same dtype as is
 *   int32/int64   -> int64 (or int32, range-checked) token ids
 *   labels        -> int64 [N] from int64/int32/uint8 .npy or IDX
 *
 *   struct au_dataset_input in;
 *   au_dataset_input_from_tensor(&in, "input", &model_input_value->t);  // drops dim 0
 *   struct au_dataset_opts o = {.limit = 1000, .n_norm = 1, .mean = {0.2860f},
 *                               .std = {0.3530f}};
 *   struct au_dataset ds;
 *   if (au_dataset_load(&ds, "x.npy", &in, &o, &d) < 0) return fail(d.msg);
 *   for (int64_t s = 0; s < ds.n; s += batch)
 *       au_dataset_copy_batch(&ds, s, min(batch, ds.n - s), buf, batch, &d);
 *   au_dataset_fini(&ds);
 */
#ifndef AU_DATASET_H
#define AU_DATASET_H

#include "npy.h"
#include "status.h"
#include "tensor.h"

#include <stddef.h>
#include <stdint.h>

#define AU_DATASET_MAX_CH 16

/* One sample as the model input wants it (no batch dim). ne[i] < 0 accepts any size. */
struct au_dataset_input {
    const char *name; /* model input name, for messages; borrowed */
    int32_t dtype;    /* AU_DTYPE_F32, _F64, _I64, _I32, _U8, _I8 or _BOOL */
    int32_t n_dims;   /* 0 .. AU_MAX_DIMS-1 */
    int64_t ne[AU_MAX_DIMS];
};

/* Zero-initialised opts mean: all samples, mean 0, std 1. */
struct au_dataset_opts {
    int64_t limit;  /* keep the first limit samples; 0 = all */
    int32_t n_norm; /* 0: defaults; 1: one mean/std; C: per channel (sample dim 0) */
    float mean[AU_DATASET_MAX_CH];
    float std[AU_DATASET_MAX_CH]; /* each > 0 and finite */
};

struct au_dataset {
    struct au_array x;    /* [n, sample...] in the model's dtype; owned */
    int64_t n;            /* number of samples, >= 1 */
    size_t sample_nbytes; /* bytes of one sample in x */
};

/* Fills in from a model input tensor whose dim 0 is the batch (name is borrowed). */
void au_dataset_input_from_tensor(struct au_dataset_input *in, const char *name,
                                  const struct au_tensor *model_in);

/* Reads a .npy or IDX file (plain or gzip), whichever its first bytes say, keeping
 * the first max_rows of dim 0 (< 0: all). Same ownership and errors as au_npy_read. */
int au_dataset_read_array(const char *path, int64_t max_rows, struct au_array *out,
                          struct au_diag *d);

/* Loads and converts path for input in; ds is caller storage, fini it. Fails with
 * AU_SHAPE or AU_DTYPE naming the file and both shapes/dtypes, AU_FORMAT for a file
 * without samples, AU_RANGE for an id that does not fit int32, AU_INVALID for bad
 * opts, or any reader error. ds is zeroed on failure. */
int au_dataset_load(struct au_dataset *ds, const char *path, const struct au_dataset_input *in,
                    const struct au_dataset_opts *opts, struct au_diag *d);

/* Labels as int64 [N] from a [N] or [N,1] int64/int32/uint8 .npy or IDX file; limit 0
 * keeps all. Caller finis out. AU_DTYPE, AU_SHAPE, AU_RANGE (negative label). */
int au_dataset_load_labels(struct au_array *out, const char *path, int64_t limit,
                           struct au_diag *d);

/* Copies samples [start, start+count) into buf, which holds batch samples
 * (batch * ds->sample_nbytes bytes), and zeroes the rest of buf. Never allocates.
 * AU_INVALID if the range is outside the dataset or count > batch. */
int au_dataset_copy_batch(const struct au_dataset *ds, int64_t start, int64_t count, void *buf,
                          int64_t batch, struct au_diag *d);

/* Frees the samples; safe on a zeroed or finished dataset. */
void au_dataset_fini(struct au_dataset *ds);

#endif

/* Dataset loading for the CLI. Conversion happens once at load time, into one array
 * already in the model's dtype and per-sample shape, so the batch loop is a memcpy and
 * never allocates. uint8 -> float32 goes through a 256-entry table per channel: the
 * same float ops as torchvision's ToTensor + Normalize ((x/255 - mean)/std), done once
 * per code instead of once per pixel. */
#include "dataset.h"

#include "alloc.h"
#include "idx.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

void au_dataset_input_from_tensor(struct au_dataset_input *in, const char *name,
                                  const struct au_tensor *model_in)
{
    memset(in, 0, sizeof(*in));
    in->name = name;
    in->dtype = model_in->dtype;
    in->n_dims = model_in->n_dims > 0 ? model_in->n_dims - 1 : 0;
    for (int i = 0; i < in->n_dims; i++)
        in->ne[i] = model_in->ne[i + 1];
}

/* ---- format sniffing -------------------------------------------------------------- */

int au_dataset_read_array(const char *path, int64_t max_rows, struct au_array *out,
                          struct au_diag *d)
{
    unsigned char m[6];
    struct stat sb;
    memset(out, 0, sizeof(*out));
    if (stat(path, &sb) != 0)
        return au_diag_set(d, AU_IO, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return au_diag_set(d, AU_IO, "%s: not a regular file", path);
    errno = 0;
    gzFile g = gzopen(path, "rb"); /* looks through gzip, so the magic is the payload's */
    if (!g)
        return au_diag_set(d, AU_IO, "%s: cannot open: %s", path,
                           errno ? strerror(errno) : "out of memory");
    int n = gzread(g, m, sizeof(m)), errnum = Z_OK;
    bool direct = gzdirect(g) != 0;
    char zmsg[96];
    snprintf(zmsg, sizeof(zmsg), "%s", gzerror(g, &errnum));
    gzclose_r(g);
    if (n < 0)
        return au_diag_set(d, errnum == Z_ERRNO ? AU_IO : AU_FORMAT, "%s: cannot read: %s", path,
                           errnum == Z_ERRNO ? strerror(errno) : zmsg);
    if (n >= 6 && memcmp(m, "\x93NUMPY", 6) == 0) {
        if (!direct)
            return au_diag_set(d, AU_UNSUPPORTED,
                               "%s: gzip-compressed .npy is not supported (decompress it)", path);
        return au_npy_read_head(path, max_rows, out, d);
    }
    if (n >= 2 && m[0] == 0 && m[1] == 0)
        return au_idx_read_head(path, max_rows, out, d);
    return au_diag_set(d, AU_FORMAT, "%s: not a .npy or IDX file", path);
}

/* ---- shape and dtype checks ------------------------------------------------------- */

/* "[1,28,28]", with '?' for a dim the model leaves open. */
static const char *dims_str(int n_dims, const int64_t *ne, char *buf, size_t len)
{
    size_t off = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < n_dims && off < len; i++) {
        const char *sep = i ? "," : "";
        if (ne[i] < 0)
            off += (size_t)snprintf(buf + off, len - off, "%s?", sep);
        else
            off += (size_t)snprintf(buf + off, len - off, "%s%lld", sep, (long long)ne[i]);
    }
    if (off < len)
        snprintf(buf + off, len - off, "]");
    return buf;
}

static bool dims_fit(const int64_t *data, const int64_t *want, int n)
{
    for (int i = 0; i < n; i++)
        if (want[i] >= 0 && want[i] != data[i])
            return false;
    return true;
}

/* The sample shape to produce: the data's, or the data's under a channel dim of 1. */
static int match_sample(const struct au_tensor *t, const struct au_dataset_input *in,
                        const char *path, int64_t *out_ne, struct au_diag *d)
{
    int s_dims = t->n_dims - 1;
    const int64_t *s = t->ne + 1;
    char a[160], b[160];
    if (in->n_dims == s_dims && dims_fit(s, in->ne, s_dims)) {
        memcpy(out_ne, s, (size_t)s_dims * sizeof(*s));
        return AU_OK;
    }
    if (in->n_dims == s_dims + 1 && in->ne[0] == 1 && dims_fit(s, in->ne + 1, s_dims)) {
        out_ne[0] = 1;
        memcpy(out_ne + 1, s, (size_t)s_dims * sizeof(*s));
        return AU_OK;
    }
    return au_diag_set(d, AU_SHAPE, "%s: sample shape %s does not match model input '%s' %s", path,
                       dims_str(s_dims, s, a, sizeof(a)), in->name,
                       dims_str(in->n_dims, in->ne, b, sizeof(b)));
}

/* Which conversions exist; same dtype is always fine. */
static bool can_convert(int from, int to)
{
    if (from == to)
        return true;
    switch (to) {
    case AU_DTYPE_F32:
        return from == AU_DTYPE_U8 || from == AU_DTYPE_F64;
    case AU_DTYPE_F64:
        return from == AU_DTYPE_F32;
    case AU_DTYPE_I64:
        return from == AU_DTYPE_I32 || from == AU_DTYPE_U8;
    case AU_DTYPE_I32:
        return from == AU_DTYPE_I64;
    default:
        return false;
    }
}

static int check_opts(const struct au_dataset_opts *o, int64_t n_ch, const char *path,
                      const struct au_dataset_input *in, struct au_diag *d)
{
    if (o->limit < 0)
        return au_diag_set(d, AU_INVALID, "%s: limit %lld is negative", path, (long long)o->limit);
    if (o->n_norm < 0 || o->n_norm > AU_DATASET_MAX_CH || (o->n_norm > 1 && o->n_norm != n_ch))
        return au_diag_set(d, AU_INVALID, "%s: %d mean/std values for %lld channels of input '%s'",
                           path, o->n_norm, (long long)n_ch, in->name);
    for (int c = 0; c < o->n_norm; c++)
        if (!isfinite(o->mean[c]) || !isfinite(o->std[c]) || !(o->std[c] > 0))
            return au_diag_set(d, AU_INVALID, "%s: mean/std %d (%g, %g) must be finite, std > 0",
                               path, c, (double)o->mean[c], (double)o->std[c]);
    return AU_OK;
}

/* ---- conversion ------------------------------------------------------------------- */

/* uint8 -> float32 through one table per channel (channel = sample dim 0 when the
 * caller gave per-channel mean/std, else one table for everything). */
static void convert_u8_f32(const uint8_t *src, float *dst, int64_t n, int64_t sample_numel,
                           const struct au_dataset_opts *o)
{
    float lut[AU_DATASET_MAX_CH][256];
    int64_t n_ch = o->n_norm > 1 ? o->n_norm : 1, inner = sample_numel / n_ch;
    for (int64_t c = 0; c < n_ch; c++) {
        float mean = o->n_norm ? o->mean[c] : 0.0f, std = o->n_norm ? o->std[c] : 1.0f;
        for (int v = 0; v < 256; v++)
            lut[c][v] = ((float)v / 255.0f - mean) / std;
    }
    for (int64_t s = 0; s < n; s++)
        for (int64_t c = 0; c < n_ch; c++)
            for (int64_t j = 0; j < inner; j++, src++)
                *dst++ = lut[c][*src];
}

static int convert(const struct au_tensor *src, struct au_tensor *dst,
                   const struct au_dataset_opts *o, const char *path, struct au_diag *d)
{
    int64_t numel = au_tensor_numel(src);
    if (src->dtype == AU_DTYPE_U8 && dst->dtype == AU_DTYPE_F32) {
        convert_u8_f32(src->data, dst->data, src->ne[0], numel / src->ne[0], o);
    } else if (dst->dtype == AU_DTYPE_F32) {
        for (int64_t i = 0; i < numel; i++)
            ((float *)dst->data)[i] = (float)((const double *)src->data)[i];
    } else if (dst->dtype == AU_DTYPE_F64) {
        for (int64_t i = 0; i < numel; i++)
            ((double *)dst->data)[i] = ((const float *)src->data)[i];
    } else {
        for (int64_t i = 0; i < numel; i++) {
            int64_t v = au_tensor_get_i64(src, i);
            if (dst->dtype == AU_DTYPE_I64)
                ((int64_t *)dst->data)[i] = v;
            else if (v < INT32_MIN || v > INT32_MAX)
                return au_diag_set(d, AU_RANGE, "%s: value %lld at element %lld does not fit int32",
                                   path, (long long)v, (long long)i);
            else
                ((int32_t *)dst->data)[i] = (int32_t)v;
        }
    }
    return AU_OK;
}

/* Everything that can be wrong with raw data for this input; fills the output shape. */
static int check_samples(const struct au_array *raw, const struct au_dataset_input *in,
                         const struct au_dataset_opts *o, const char *path, int64_t *ne,
                         struct au_diag *d)
{
    if (raw->t.n_dims == 0)
        return au_diag_set(d, AU_SHAPE, "%s: a scalar has no sample dimension", path);
    if (raw->t.ne[0] == 0)
        return au_diag_set(d, AU_FORMAT, "%s: contains no samples", path);
    ne[0] = raw->t.ne[0];
    int st = match_sample(&raw->t, in, path, ne + 1, d);
    if (st < 0)
        return st;
    if (!can_convert(raw->t.dtype, in->dtype))
        return au_diag_set(d, AU_DTYPE, "%s: dtype %s cannot feed model input '%s' (%s)", path,
                           au_dtype_name(raw->t.dtype), in->name, au_dtype_name(in->dtype));
    return check_opts(o, in->n_dims > 0 ? ne[1] : 1, path, in, d);
}

int au_dataset_load(struct au_dataset *ds, const char *path, const struct au_dataset_input *in,
                    const struct au_dataset_opts *opts, struct au_diag *d)
{
    static const struct au_dataset_opts defaults;
    const struct au_dataset_opts *o = opts ? opts : &defaults;
    struct au_array raw;
    int64_t ne[AU_MAX_DIMS] = {0};
    memset(ds, 0, sizeof(*ds));
    if (in->n_dims < 0 || in->n_dims >= AU_MAX_DIMS || !au_dtype_is_valid(in->dtype))
        return au_diag_set(d, AU_INVALID, "%s: model input '%s' has an unusable shape or dtype",
                           path, in->name);
    if (o->limit < 0)
        return check_opts(o, 1, path, in, d);
    int st = au_dataset_read_array(path, o->limit > 0 ? o->limit : -1, &raw, d);
    if (st < 0)
        return st;
    if ((st = check_samples(&raw, in, o, path, ne, d)) < 0)
        goto out_fini_raw;
    if (raw.t.dtype == in->dtype) { /* same dtype: take the array, only the shape changes */
        ds->x = raw;
        memset(&raw, 0, sizeof(raw));
        au_tensor_set_shape(&ds->x.t, in->dtype, in->n_dims + 1, ne);
    } else if ((st = au_array_alloc(&ds->x, in->dtype, in->n_dims + 1, ne, d)) < 0) {
        au_diag_prefix(d, path);
        goto out_fini_raw;
    } else if ((st = convert(&raw.t, &ds->x.t, o, path, d)) < 0) {
        au_array_fini(&ds->x);
        goto out_fini_raw;
    }
    ds->n = ne[0];
    ds->sample_nbytes = au_tensor_nbytes(&ds->x.t) / (size_t)ds->n;
out_fini_raw:
    au_array_fini(&raw);
    return st;
}

int au_dataset_load_labels(struct au_array *out, const char *path, int64_t limit, struct au_diag *d)
{
    struct au_array raw;
    char buf[160];
    memset(out, 0, sizeof(*out));
    if (limit < 0)
        return au_diag_set(d, AU_INVALID, "%s: limit %lld is negative", path, (long long)limit);
    int st = au_dataset_read_array(path, limit > 0 ? limit : -1, &raw, d);
    if (st < 0)
        return st;
    const struct au_tensor *t = &raw.t;
    if (t->n_dims != 1 && !(t->n_dims == 2 && t->ne[1] == 1))
        st = au_diag_set(d, AU_SHAPE, "%s: labels must be [N] or [N,1], not %s", path,
                         au_tensor_shape_str(t, buf, sizeof(buf)));
    else if (t->dtype != AU_DTYPE_I64 && t->dtype != AU_DTYPE_I32 && t->dtype != AU_DTYPE_U8)
        st = au_diag_set(d, AU_DTYPE, "%s: labels must be int64, int32 or uint8, not %s", path,
                         au_dtype_name(t->dtype));
    else if (t->ne[0] == 0)
        st = au_diag_set(d, AU_FORMAT, "%s: contains no labels", path);
    else if ((st = au_array_alloc(out, AU_DTYPE_I64, 1, t->ne, d)) < 0)
        au_diag_prefix(d, path);
    for (int64_t i = 0; st == AU_OK && i < t->ne[0]; i++) {
        int64_t v = au_tensor_get_i64(t, i);
        if (v < 0)
            st = au_diag_set(d, AU_RANGE, "%s: label %lld of sample %lld is negative", path,
                             (long long)v, (long long)i);
        ((int64_t *)out->t.data)[i] = v;
    }
    if (st < 0)
        au_array_fini(out);
    au_array_fini(&raw);
    return st;
}

int au_dataset_copy_batch(const struct au_dataset *ds, int64_t start, int64_t count, void *buf,
                          int64_t batch, struct au_diag *d)
{
    size_t total, used;
    if (!buf || batch < 1 || count < 0 || count > batch || start < 0 || start > ds->n ||
        count > ds->n - start || au_mul_overflow((size_t)batch, ds->sample_nbytes, &total))
        return au_diag_set(d, AU_INVALID,
                           "dataset: samples [%lld, %lld+%lld) do not fit %lld samples or a "
                           "batch of %lld",
                           (long long)start, (long long)start, (long long)count, (long long)ds->n,
                           (long long)batch);
    used = (size_t)count * ds->sample_nbytes;
    if (used)
        memcpy(buf, (const char *)ds->x.t.data + (size_t)start * ds->sample_nbytes, used);
    memset((char *)buf + used, 0, total - used); /* a short last batch runs on zeros */
    return AU_OK;
}

void au_dataset_fini(struct au_dataset *ds)
{
    if (!ds)
        return;
    au_array_fini(&ds->x);
    memset(ds, 0, sizeof(*ds));
}

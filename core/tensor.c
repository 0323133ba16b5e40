/* Tensor shape helpers. Kept tiny: kernels index raw pointers themselves. */
#include "tensor.h"

#include <stdio.h>
#include <string.h>

size_t au_dtype_size(int dtype)
{
    switch (dtype) {
    case AU_DTYPE_F32:
    case AU_DTYPE_I32:
        return 4;
    case AU_DTYPE_U8:
    case AU_DTYPE_I8:
    case AU_DTYPE_BOOL:
        return 1;
    case AU_DTYPE_I64:
    case AU_DTYPE_F64:
        return 8;
    default:
        return 0;
    }
}

const char *au_dtype_name(int dtype)
{
    switch (dtype) {
    case AU_DTYPE_F32:
        return "float32";
    case AU_DTYPE_U8:
        return "uint8";
    case AU_DTYPE_I8:
        return "int8";
    case AU_DTYPE_I32:
        return "int32";
    case AU_DTYPE_I64:
        return "int64";
    case AU_DTYPE_BOOL:
        return "bool";
    case AU_DTYPE_F64:
        return "float64";
    default:
        return "unknown";
    }
}

bool au_dtype_is_valid(int dtype)
{
    return au_dtype_size(dtype) != 0;
}

int64_t au_tensor_numel(const struct au_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->n_dims; i++)
        n *= t->ne[i];
    return n;
}

size_t au_tensor_nbytes(const struct au_tensor *t)
{
    return (size_t)au_tensor_numel(t) * au_dtype_size(t->dtype);
}

void au_tensor_set_shape(struct au_tensor *t, int dtype, int n_dims, const int64_t *ne)
{
    t->dtype = dtype;
    t->n_dims = n_dims;
    for (int i = 0; i < AU_MAX_DIMS; i++)
        t->ne[i] = i < n_dims ? ne[i] : 0;
}

bool au_tensor_same_shape(const struct au_tensor *a, const struct au_tensor *b)
{
    if (a->n_dims != b->n_dims)
        return false;
    for (int i = 0; i < a->n_dims; i++)
        if (a->ne[i] != b->ne[i])
            return false;
    return true;
}

char *au_tensor_shape_str(const struct au_tensor *t, char *buf, size_t len)
{
    size_t off = 0;
    if (len == 0)
        return buf;
    buf[0] = '\0';
    off += (size_t)snprintf(buf + off, len - off, "[");
    for (int i = 0; i < t->n_dims && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, i ? ",%lld" : "%lld", (long long)t->ne[i]);
    if (off < len)
        snprintf(buf + off, len - off, "]");
    return buf;
}

bool au_shape_numel_checked(int n_dims, const int64_t *ne, int64_t *out)
{
    int64_t n = 1;
    if (n_dims < 0 || n_dims > AU_MAX_DIMS)
        return false;
    for (int i = 0; i < n_dims; i++) {
        if (ne[i] < 0 || __builtin_mul_overflow(n, ne[i], &n))
            return false;
    }
    /* Keep byte counts of 8-byte elements representable. */
    if (n > (INT64_MAX / 8))
        return false;
    *out = n;
    return true;
}

int64_t au_tensor_get_i64(const struct au_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case AU_DTYPE_F32:
        return (int64_t)((const float *)t->data)[i];
    case AU_DTYPE_F64:
        return (int64_t)((const double *)t->data)[i];
    case AU_DTYPE_I32:
        return ((const int32_t *)t->data)[i];
    case AU_DTYPE_I64:
        return ((const int64_t *)t->data)[i];
    case AU_DTYPE_U8:
    case AU_DTYPE_BOOL:
        return ((const uint8_t *)t->data)[i];
    case AU_DTYPE_I8:
        return ((const int8_t *)t->data)[i];
    default:
        return 0;
    }
}

double au_tensor_get_f64(const struct au_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case AU_DTYPE_F32:
        return ((const float *)t->data)[i];
    case AU_DTYPE_F64:
        return ((const double *)t->data)[i];
    default:
        return (double)au_tensor_get_i64(t, i);
    }
}

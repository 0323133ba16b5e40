/* Tensors: a dtype, a shape (ONNX order, outermost first) and a borrowed data pointer.
 * A tensor never owns its data: the graph's arena, the model's initializers or the
 * caller do. Scalars have n_dims == 0 and one element. Dtype numbers are ONNX's. */
#ifndef AU_TENSOR_H
#define AU_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AU_MAX_DIMS 8

enum au_dtype {
    AU_DTYPE_UNDEF = 0,
    AU_DTYPE_F32 = 1,
    AU_DTYPE_U8 = 2,
    AU_DTYPE_I8 = 3,
    AU_DTYPE_I32 = 6,
    AU_DTYPE_I64 = 7,
    AU_DTYPE_BOOL = 9, /* stored as one byte, 0 or 1 */
    AU_DTYPE_F64 = 11,
};

struct au_tensor {
    int32_t dtype;
    int32_t n_dims;
    int64_t ne[AU_MAX_DIMS];
    void *data; /* borrowed; NULL until allocated / not constant */
};

/* Bytes per element; 0 for an unknown dtype. */
size_t au_dtype_size(int dtype);
/* "float32", "int64", ...; never NULL. */
const char *au_dtype_name(int dtype);
bool au_dtype_is_valid(int dtype);

/* Number of elements (1 for a scalar). Shapes are validated at load time, so this
 * cannot overflow for a tensor that reached the engine. */
int64_t au_tensor_numel(const struct au_tensor *t);
size_t au_tensor_nbytes(const struct au_tensor *t);
/* Set dtype and shape; data untouched. */
void au_tensor_set_shape(struct au_tensor *t, int dtype, int n_dims, const int64_t *ne);
bool au_tensor_same_shape(const struct au_tensor *a, const struct au_tensor *b);
/* "[64,3,32,32]" into buf; returns buf. */
char *au_tensor_shape_str(const struct au_tensor *t, char *buf, size_t len);
/* Checked numel: returns false if any dim is negative or the product overflows
 * max_elems (pass 0 for no cap beyond int64/size_t). */
bool au_shape_numel_checked(int n_dims, const int64_t *ne, int64_t *out);
/* Element i of a numeric tensor as int64 / double (any supported dtype). */
int64_t au_tensor_get_i64(const struct au_tensor *t, int64_t i);
double au_tensor_get_f64(const struct au_tensor *t, int64_t i);

#endif

/* Fuzz target: .npy bytes -> au_npy_read_mem. A parsed array must hold exactly the
 * bytes its header promised; touching every byte lets ASan check the claimed size. */
#include "core/npy.h"
#include "core/tensor.h"
#include "fuzz.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct au_array a;
    memset(&a, 0xa5, sizeof(a)); /* the reader must zero it on failure */
    struct au_diag d = {{0}};
    int rc = au_npy_read_mem(data, size, "fuzz.npy", &a, &d);
    fuzz_check_diag(rc, &d);
    if (rc < 0) {
        if (a.t.data)
            abort();
        return 0;
    }
    if (a.t.n_dims < 0 || a.t.n_dims > AU_MAX_DIMS)
        abort();
    size_t nbytes = au_tensor_nbytes(&a.t);
    if (nbytes > size)
        abort(); /* more data than the file held */
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < nbytes; i++)
        sink ^= ((const uint8_t *)a.t.data)[i];
    (void)sink;
    au_array_fini(&a);
    return 0;
}

/* Fuzz target: ONNX ModelProto bytes -> au_onnx_load_buffer, then au_graph_prepare at
 * batch 1 so shape inference and constant folding see the hostile graph too. External
 * data is refused (base_dir NULL): the fuzzer must not read files outside its input. */
#include "core/graph.h"
#include "core/onnx.h"
#include "fuzz.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct au_graph *g = (struct au_graph *)data; /* must be overwritten with NULL on failure */
    struct au_diag d = {{0}};
    int rc = au_onnx_load_buffer(data, size, NULL, "fuzz.onnx", &g, &d);
    fuzz_check_diag(rc, &d);
    if (rc < 0) {
        if (g)
            abort();
        return 0;
    }
    d.msg[0] = '\0';
    rc = au_graph_prepare(g, 1, 0, &d);
    fuzz_check_diag(rc, &d);
    au_graph_free(g);
    return 0;
}

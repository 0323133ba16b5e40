/* ONNX loader: parses a ModelProto (protobuf-c, core/onnx.proto) and builds a graph
 * through the builder in graph.h. Nothing protobuf-c leaks out of this module.
 * Bad input never crashes: it returns a negative status and one line in d,
 * "<path>: node 'conv1' input 'W' is not defined".
 *
 *   struct au_graph *g = NULL;
 *   struct au_diag d;
 *   if (au_onnx_load("models/lenet5.onnx", &g, &d) < 0) {
 *       fprintf(stderr, "aurum: %s\n", d.msg);
 *       return 1;
 *   }
 *   au_graph_prepare(g, 64, 0, &d);
 *   ...
 *   au_graph_free(g);
 *
 * Accepted: the default domain ("" or "ai.onnx") at opset 7..18; initializers of
 * dtype float32, float64, int64, int32, int8, uint8 and bool, held in raw_data, in the
 * typed fields or in external files inside the model's directory. Graph inputs that
 * are also initializers are weights, not user inputs; symbolic dims become -1. */
#ifndef AU_ONNX_H
#define AU_ONNX_H

#include "graph.h"
#include "status.h"

#include <stddef.h>

/* Opset range of the default domain that the op registry implements. */
#define AU_ONNX_OPSET_MIN 7
#define AU_ONNX_OPSET_MAX 18
/* Model files larger than protobuf's own 2 GiB message limit are refused. */
#define AU_ONNX_MAX_FILE_BYTES ((size_t)2 << 30)

/* Load the model at path. On success *out is a new graph the caller frees with
 * au_graph_free; on failure *out is NULL, d holds "path: reason" and the status is
 * AU_IO (unreadable), AU_FORMAT (not a model / inconsistent), AU_UNSUPPORTED,
 * AU_NOTFOUND (undefined value), AU_DTYPE, AU_SHAPE, AU_OVERFLOW or AU_NOMEM. */
int au_onnx_load(const char *path, struct au_graph **out, struct au_diag *d);

/* Load a model from memory (buf is only read during the call). base_dir is the
 * directory external data is resolved against (NULL refuses external data); label
 * names the model in messages (NULL: "<buffer>"). Ownership and errors as above. */
int au_onnx_load_buffer(const void *buf, size_t len, const char *base_dir, const char *label,
                        struct au_graph **out, struct au_diag *d);

#endif

/* fuzz_onnx.c — libFuzzer target for the ONNX frontend (frontends/onnx/): model import in
 * normal and collect (ppcc check) mode, and TensorProto reading.
 *
 * Every input is fed to onnx_import_buffer (external data refused: no base directory), to the
 * collect mode, and to onnx_tensor_read_buffer; successes are verified and freed so leaks and
 * memory errors show up under ASan/UBSan. Build and run with `make fuzz` (tests/fuzz/run.sh),
 * seeded with the conformance models.
 */
#include <stdint.h>
#include <stdlib.h>

#include "frontends/onnx/onnx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Diag d;
    Graph *g = onnx_import_buffer(data, size, NULL, NULL, &d);
    if (g) {
        if (ir_verify(g, &d)) abort(); /* import promises a verified graph */
        ir_graph_free(g);
    }
    OnnxProblem *probs = NULL;
    int n = 0;
    OnnxImportOptions o = {NULL, 0, &probs, &n};
    g = onnx_import_buffer(data, size, NULL, &o, &d);
    ir_graph_free(g);
    free(probs);
    Tensor *t = NULL;
    char *name = NULL;
    if (!onnx_tensor_read_buffer(data, size, &t, &name, &d)) {
        tensor_free(t);
        free(name);
    }
    return 0;
}

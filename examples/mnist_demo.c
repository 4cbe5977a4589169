/* mnist_demo.c — the shipped example: classify the held-out MNIST digits with a model and
 * print top-1 accuracy and the time taken.
 *
 *   mnist_demo MODEL.onnx|MODEL.ir DIGITS.pb LABELS.pb
 *
 * DIGITS.pb is a u8 [N,28,28] TensorProto, LABELS.pb an i64 [N] one (examples/mnist/). Each
 * digit becomes a f32 [1,1,28,28] input with pixels scaled to [0,1] and runs through ppcc's
 * reference interpreter (later: the compiled model through the runtime).
 */
#include <stdlib.h>
#include <string.h>

#include "compiler/tool.h"

static int fail(const char *file, const char *msg)
{
    fprintf(stderr, "mnist_demo: error: %s: %s\n", file, msg);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: mnist_demo MODEL.onnx|MODEL.ir DIGITS.pb LABELS.pb\n");
        return 2;
    }
    Diag d = {{0}};
    Tensor *digits = NULL, *labels = NULL;
    if (onnx_tensor_read_file(argv[2], &digits, NULL, &d)) return fail(argv[2], d.msg);
    if (onnx_tensor_read_file(argv[3], &labels, NULL, &d)) return fail(argv[3], d.msg);
    if (digits->dtype != DT_U8 || digits->rank != 3 || digits->dims[1] != 28 || digits->dims[2] != 28)
        return fail(argv[2], "expected a u8 [N,28,28] tensor");
    int64_t n = digits->dims[0];
    if (labels->rank != 1 || labels->dims[0] != n) return fail(argv[3], "expected N labels");
    Graph *g = tool_load_model(argv[1], NULL, 0, &d);
    if (!g) return fail(argv[1], d.msg);
    if (g->n_inputs != 1 || g->n_outputs != 1) return fail(argv[1], "expected one input and one output");
    const Value *iv = &g->values[g->inputs[0]];
    if (iv->dtype != DT_F32 || ir_value_numel(iv) != 28 * 28) return fail(argv[1], "expected a f32 1x1x28x28 input");

    Tensor *x = tensor_new(DT_F32, iv->rank, iv->dims);
    int correct = 0;
    double t0 = tool_now();
    for (int64_t i = 0; i < n; i++) {
        const uint8_t *px = (const uint8_t *)digits->data + i * 28 * 28;
        for (int k = 0; k < 28 * 28; k++) ((float *)x->data)[k] = (float)px[k] / 255.0f;
        Tensor *y = NULL;
        if (interp_run(g, &x, &y, NULL, &d)) return fail(argv[1], d.msg);
        int64_t best = 0, m = tensor_numel(y);
        for (int64_t k = 1; k < m; k++)
            if (tensor_get_f64(y, k) > tensor_get_f64(y, best)) best = k;
        correct += best == tensor_get_i64(labels, i);
        tensor_free(y);
    }
    double dt = tool_now() - t0;
    printf("%s: top-1 accuracy %.2f%% (%d/%lld held-out digits), %.1f ms total, %.3f ms per digit (interpreter)\n",
           argv[1], 100.0 * correct / (double)n, correct, (long long)n, dt * 1e3, dt * 1e3 / (double)n);
    tensor_free(x), tensor_free(digits), tensor_free(labels);
    ir_graph_free(g);
    return 0;
}

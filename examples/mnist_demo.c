/* mnist_demo.c — the shipped example: classify the held-out MNIST digits with a model and
 * print top-1 accuracy and latency.
 *
 *   mnist_demo MODEL.onnx|MODEL.ir|MODEL.so DIGITS.pb LABELS.pb
 *
 * DIGITS.pb is a u8 [N,28,28] TensorProto, LABELS.pb an i64 [N] one (examples/mnist/). Each
 * digit becomes a f32 [1,1,28,28] input with pixels scaled to [0,1]. A .so (compiled by ppcc)
 * runs through the runtime libppcrt on one thread; .onnx/.ir run through the reference
 * interpreter. Latency is the median over all digits of one run's wall time.
 */
#include <stdlib.h>
#include <string.h>

#include "compiler/tool.h"
#include "runtime/ppcrt.h"

static int fail(const char *file, const char *msg)
{
    fprintf(stderr, "mnist_demo: error: %s: %s\n", file, msg);
    return 1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int argmax(const float *v, int64_t n)
{
    int best = 0;
    for (int64_t k = 1; k < n; k++)
        if (v[k] > v[best]) best = (int)k;
    return best;
}

/* The model as a function from one image to logits; either backend. */
typedef struct Runner {
    Graph *g;              /* interpreter */
    PpcrtModel *model;     /* compiled */
    PpcrtSession *sess;
    int64_t n_out;
} Runner;

static int runner_open(Runner *r, const char *path)
{
    Diag d = {{0}};
    memset(r, 0, sizeof *r);
    size_t n = strlen(path);
    if (n > 3 && !strcmp(path + n - 3, ".so")) {
        if (ppcrt_model_load(path, &r->model)) return fail(path, ppcrt_last_error());
        PpcrtTensorInfo in, out;
        if (ppcrt_model_num_inputs(r->model) != 1 || ppcrt_model_num_outputs(r->model) != 1 ||
            ppcrt_model_input_info(r->model, 0, &in) || ppcrt_model_output_info(r->model, 0, &out) ||
            in.nbytes != 28 * 28 * sizeof(float))
            return fail(path, "expected one f32 1x1x28x28 input and one output");
        r->n_out = (int64_t)(out.nbytes / sizeof(float));
        PpcrtSessionOptions opt = {0};
        opt.n_threads = 1;
        if (ppcrt_session_create(r->model, &opt, &r->sess)) return fail(path, ppcrt_last_error());
        return 0;
    }
    r->g = tool_load_model(path, NULL, 0, &d);
    if (!r->g) return fail(path, d.msg);
    if (r->g->n_inputs != 1 || r->g->n_outputs != 1) return fail(path, "expected one input and one output");
    const Value *iv = &r->g->values[r->g->inputs[0]];
    if (iv->dtype != DT_F32 || ir_value_numel(iv) != 28 * 28) return fail(path, "expected a f32 1x1x28x28 input");
    r->n_out = ir_value_numel(&r->g->values[r->g->outputs[0]]);
    return 0;
}

/* Logits of one image into out (n_out floats). */
static int runner_run(Runner *r, const char *path, float *img, float *out)
{
    if (r->sess) {
        const void *in[1] = {img};
        void *o[1] = {out};
        if (ppcrt_session_run(r->sess, in, o)) return fail(path, ppcrt_last_error());
        return 0;
    }
    Diag d = {{0}};
    const Value *iv = &r->g->values[r->g->inputs[0]];
    Tensor *x = tensor_wrap(DT_F32, iv->rank, iv->dims, img), *y = NULL;
    int rc = interp_run(r->g, &x, &y, NULL, &d);
    tensor_free(x);
    if (rc) return fail(path, d.msg);
    memcpy(out, y->data, (size_t)r->n_out * sizeof(float));
    tensor_free(y);
    return 0;
}

static void runner_close(Runner *r)
{
    ppcrt_session_free(r->sess);
    ppcrt_model_free(r->model);
    ir_graph_free(r->g);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: mnist_demo MODEL.onnx|MODEL.ir|MODEL.so DIGITS.pb LABELS.pb\n");
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
    Runner r;
    if (runner_open(&r, argv[1])) return 1;
    float img[28 * 28];
    float *logits = xcalloc((size_t)r.n_out, sizeof(float));
    double *ms = xcalloc((size_t)n, sizeof(double));
    int correct = 0;
    for (int64_t i = 0; i < n; i++) {
        const uint8_t *px = (const uint8_t *)digits->data + i * 28 * 28;
        for (int k = 0; k < 28 * 28; k++) img[k] = (float)px[k] / 255.0f;
        double t0 = tool_now();
        if (runner_run(&r, argv[1], img, logits)) return 1;
        ms[i] = (tool_now() - t0) * 1e3;
        correct += argmax(logits, r.n_out) == tensor_get_i64(labels, i);
    }
    qsort(ms, (size_t)n, sizeof(double), cmp_double);
    printf("%s: top-1 accuracy %.2f%% (%d/%lld held-out digits), latency median %.3f ms per digit (%s)\n", argv[1],
           100.0 * correct / (double)n, correct, (long long)n, ms[n / 2],
           r.sess ? "compiled, 1 thread" : "reference interpreter");
    free(logits), free(ms);
    runner_close(&r);
    tensor_free(digits), tensor_free(labels);
    return 0;
}

/* macs.c — the dense multiply-accumulate count of a model, the work that GFLOP/s is computed
 * from (1 MAC = 2 flops). Imported with ppcc's ONNX frontend, so the shapes are the ones ppcc
 * compiles; counted per op from the typed IR:
 *   Conv           numel(Y) * numel(W) / M         (W [M, C/group, k...])
 *   ConvTranspose  numel(X) * numel(W) / C         (W [C, M/group, k...])
 *   Gemm, MatMul   numel(Y) * K                    (K the reduced dimension)
 * Everything else (pooling, elementwise, softmax) is left out, as is usual for GMAC figures.
 */
#include "bench/bench.h"

#include "frontends/onnx/onnx.h"
#include "ir/ir.h"

static double value_numel(const Graph *g, int vid)
{
    return vid >= 0 ? (double)ir_value_numel(&g->values[vid]) : 0;
}

/* MACs of one node (0 for ops that are not counted). */
static double node_macs(const Graph *g, const Node *n)
{
    if (n->n_in < 2 || n->n_out < 1 || n->in[0] < 0 || n->in[1] < 0 || n->out[0] < 0)
        return 0;
    const Value *x = &g->values[n->in[0]], *w = &g->values[n->in[1]];
    double y = value_numel(g, n->out[0]);
    switch (n->op) {
    case OP_CONV:
        return w->rank >= 1 && w->dims[0] > 0 ? y * value_numel(g, n->in[1]) / (double)w->dims[0] : 0;
    case OP_CONV_TRANSPOSE:
        return x->rank >= 2 && w->dims[0] > 0 ? value_numel(g, n->in[0]) * value_numel(g, n->in[1]) / (double)w->dims[0] : 0;
    case OP_GEMM: {
        int64_t k = ir_attr_int(n, "transA", 0) ? x->dims[0] : x->dims[1];
        return x->rank == 2 ? y * (double)k : 0;
    }
    case OP_MATMUL:
        return x->rank >= 1 ? y * (double)x->dims[x->rank - 1] : 0;
    default:
        return 0;
    }
}

/* Fraction of non-zero elements of a constant f32 value (1 if not a constant). */
static double nonzero_frac(const Graph *g, int vid)
{
    const Value *v = &g->values[vid];
    if (v->kind != VAL_CONST || !v->data || v->dtype != DT_F32) return 1.0;
    int64_t n = ir_value_numel(v), nz = 0;
    const float *d = v->data;
    for (int64_t i = 0; i < n; i++) nz += d[i] != 0.0f;
    return n ? (double)nz / (double)n : 1.0;
}

/* Both counts: every weight, or (nonzero) only the non-zero ones. */
static int count_macs(const char *onnx_path, int nonzero, double *macs, int *n_layers, char *err, size_t errlen)
{
    Diag d = {{0}};
    Graph *g = onnx_import_file(onnx_path, NULL, &d);
    if (!g)
        return snprintf(err, errlen, "%s", d.msg), -1;
    double total = 0;
    int layers = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        double m = node_macs(g, &g->nodes[i]);
        if (m > 0) {
            total += nonzero ? m * nonzero_frac(g, g->nodes[i].in[1]) : m;
            layers++;
        }
    }
    ir_graph_free(g);
    *macs = total;
    if (n_layers)
        *n_layers = layers;
    return 0;
}

int bench_count_macs(const char *onnx_path, double *macs, int *n_layers, char *err, size_t errlen)
{
    return count_macs(onnx_path, 0, macs, n_layers, err, errlen);
}

int bench_count_macs_nonzero(const char *onnx_path, double *macs, char *err, size_t errlen)
{
    return count_macs(onnx_path, 1, macs, NULL, err, errlen);
}

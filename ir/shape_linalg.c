/* shape_linalg.c — shape inference for Gemm and MatMul (ONNX semantics, latest opset).
 *
 * Gemm: A [M,K] (or [K,M] with transA), B [K,N] (or [N,K] with transB), optional C
 * unidirectionally broadcastable to [M,N]; Y [M,N]. Float and 32/64-bit integer dtypes; the
 * fused activation attribute (activation.h) is checked here.
 * MatMul: numpy matmul — a 1-D A gets a leading 1 (removed again), a 1-D B a trailing 1
 * (removed again), and the batch dims broadcast. Float and integer dtypes.
 */
#include "ir.h"
#include "activation.h"

static int linalg_dtype_ok(DType t)
{
    return dtype_is_float(t) || t == DT_I32 || t == DT_I64 || t == DT_U32 || t == DT_U64;
}

int shape_gemm(Graph *g, Node *n, Diag *d)
{
    const Value *a = &g->values[n->in[0]], *b = &g->values[n->in[1]];
    if (!linalg_dtype_ok(a->dtype))
        return node_error(d, n, "unsupported dtype %s", dtype_name(a->dtype));
    if (b->dtype != a->dtype)
        return node_error(d, n, "B is %s but A is %s", dtype_name(b->dtype), dtype_name(a->dtype));
    if (a->rank != 2 || b->rank != 2)
        return node_error(d, n, "A and B must be 2-D, have rank %d and %d", a->rank, b->rank);
    int ta = ir_attr_int(n, "transA", 0) != 0, tb = ir_attr_int(n, "transB", 0) != 0;
    int64_t m = ta ? a->dims[1] : a->dims[0], ka = ta ? a->dims[0] : a->dims[1];
    int64_t kb = tb ? b->dims[1] : b->dims[0], nn = tb ? b->dims[0] : b->dims[1];
    if (ka != kb)
        return node_error(d, n, "inner dimensions differ: A gives K=%lld, B gives K=%lld",
                          (long long)ka, (long long)kb);
    if (n->n_in > 2 && n->in[2] >= 0) {
        const Value *c = &g->values[n->in[2]];
        if (c->dtype != a->dtype)
            return node_error(d, n, "C is %s but A is %s", dtype_name(c->dtype), dtype_name(a->dtype));
        if (c->rank > 2) return node_error(d, n, "C must have rank <= 2, has %d", c->rank);
        int64_t cm = c->rank == 2 ? c->dims[0] : 1, cn = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
        if ((cm != 1 && cm != m) || (cn != 1 && cn != nn)) {
            char buf[64];
            return node_error(d, n, "C of shape %s does not broadcast to %lldx%lld",
                              shape_str(c->rank, c->dims, buf, sizeof buf), (long long)m, (long long)nn);
        }
    }
    Activation act;
    if (activation_from_node(n, &act, d)) return -1;
    if (act.kind != ACT_NONE && !dtype_is_float(a->dtype))
        return node_error(d, n, "fused activation needs a float dtype");
    int64_t dims[2] = {m, nn};
    shape_set_out(g, n, 0, a->dtype, 2, dims);
    return 0;
}

int shape_matmul(Graph *g, Node *n, Diag *d)
{
    const Value *a = &g->values[n->in[0]], *b = &g->values[n->in[1]];
    if (!dtype_is_float(a->dtype) && !dtype_is_int(a->dtype))
        return node_error(d, n, "unsupported dtype %s", dtype_name(a->dtype));
    if (b->dtype != a->dtype)
        return node_error(d, n, "B is %s but A is %s", dtype_name(b->dtype), dtype_name(a->dtype));
    if (a->rank < 1 || b->rank < 1)
        return node_error(d, n, "inputs must have rank >= 1, have %d and %d", a->rank, b->rank);
    int64_t ka = a->dims[a->rank - 1];
    int64_t kb = b->rank == 1 ? b->dims[0] : b->dims[b->rank - 2];
    if (ka != kb)
        return node_error(d, n, "inner dimensions differ: %lld vs %lld", (long long)ka, (long long)kb);
    /* batch dims: all but the last two (nothing for 1-D operands) */
    int rba = a->rank > 2 ? a->rank - 2 : 0, rbb = b->rank > 2 ? b->rank - 2 : 0, rb = 0;
    int64_t batch[IR_MAX_RANK];
    if (shape_broadcast2(rba, a->dims, rbb, b->dims, &rb, batch)) {
        char x[64], y[64];
        return node_error(d, n, "batch dimensions of %s and %s do not broadcast",
                          shape_str(a->rank, a->dims, x, sizeof x), shape_str(b->rank, b->dims, y, sizeof y));
    }
    int64_t dims[IR_MAX_RANK];
    int r = 0;
    for (int i = 0; i < rb; i++) dims[r++] = batch[i];
    if (a->rank >= 2) dims[r++] = a->dims[a->rank - 2];
    if (b->rank >= 2) dims[r++] = b->dims[b->rank - 1];
    if (r > IR_MAX_RANK) return node_error(d, n, "result rank too large");
    shape_set_out(g, n, 0, a->dtype, r, dims);
    return 0;
}

/* shape_pool.c — shape inference for MaxPool, AveragePool, LpPool (spatial geometry from
 * ir_conv_geometry: kernel_shape, strides, dilations, pads, auto_pad, ceil_mode) and for
 * GlobalAveragePool, GlobalMaxPool, GlobalLpPool (every spatial axis reduced to 1).
 * Y keeps X's dtype; MaxPool's optional Indices output is i64 of Y's shape. Float dtypes
 * everywhere; MaxPool and GlobalMaxPool also accept i8/u8 (ONNX allows them for MaxPool).
 * With layout="NCHW16c" (MaxPool without Indices, AveragePool, GlobalAveragePool, GlobalMaxPool;
 * docs/codegen.md) X and Y are blocked [N, CB, S..., 16]: the geometry is that of the plain
 * tensor of all 16*CB lanes, and Y is blocked again.
 */
#include "ir.h"

#include <string.h>

/* Logical dims of a pool's X: X's own, or for layout="NCHW16c" the plain shape of all lanes
 * (*blocked set). */
static int pool_input_dims(const Graph *g, const Node *n, int *blocked, int *rank, int64_t *dims, Diag *d)
{
    const Value *x = &g->values[n->in[0]];
    if ((*blocked = ir_node_layout(n, d)) < 0) return -1;
    *rank = x->rank;
    memcpy(dims, x->dims, sizeof x->dims);
    if (!*blocked) return 0;
    if (n->op == OP_LP_POOL || n->op == OP_GLOBAL_LP_POOL)
        return node_error(d, n, "layout NCHW16c is not supported for %s", ir_op_name(n->op));
    if (n->n_out > 1) return node_error(d, n, "layout NCHW16c does not support the Indices output");
    char buf[128];
    if (x->rank < 4 || ir_layout_unblocked_dims(x->rank, x->dims, x->dims[1] * IR_LAYOUT_BLOCK, rank, dims))
        return node_error(d, n, "blocked X [%s] is not NCHW16c", shape_str(x->rank, x->dims, buf, sizeof buf));
    return 0;
}

/* Set output 0 from logical dims, blocking them again for a blocked pool. */
static void pool_set_out(Graph *g, Node *n, DType t, int blocked, int rank, const int64_t *dims)
{
    int64_t bdims[IR_MAX_RANK];
    if (blocked && !ir_layout_blocked_dims(rank, dims, &rank, bdims)) dims = bdims;
    shape_set_out(g, n, 0, t, rank, dims);
}

/* Pool-specific attribute checks. */
static int pool_attrs_check(const Node *n, Diag *d)
{
    if (n->op == OP_MAX_POOL) {
        int64_t so = ir_attr_int(n, "storage_order", 0);
        if (so != 0 && so != 1) return node_error(d, n, "storage_order must be 0 or 1");
    }
    if (n->op == OP_AVERAGE_POOL) {
        int64_t c = ir_attr_int(n, "count_include_pad", 0);
        if (c != 0 && c != 1) return node_error(d, n, "count_include_pad must be 0 or 1");
    }
    if (n->op == OP_LP_POOL || n->op == OP_GLOBAL_LP_POOL) {
        double p = ir_attr_float(n, "p", 2);
        if (!(p > 0)) return node_error(d, n, "p must be positive");
    }
    return 0;
}

static int pool_dtype_check(const Node *n, DType t, Diag *d)
{
    int is_max = n->op == OP_MAX_POOL || n->op == OP_GLOBAL_MAX_POOL;
    if (dtype_is_float(t) || (is_max && (t == DT_U8 || t == DT_I8))) return 0;
    return node_error(d, n, "unsupported dtype %s", dtype_name(t));
}

int shape_pool(Graph *g, Node *n, Diag *d)
{
    const Value *x = &g->values[n->in[0]];
    if (pool_dtype_check(n, x->dtype, d) || pool_attrs_check(n, d)) return -1;
    int blocked, rank;
    int64_t xdims[IR_MAX_RANK];
    if (pool_input_dims(g, n, &blocked, &rank, xdims, d)) return -1;
    if (rank < 3) return node_error(d, n, "X must have rank >= 3 (N, C, spatial...), has %d", rank);
    ConvGeom geo;
    if (ir_conv_geometry(n, rank, xdims, NULL, &geo, d)) return -1;
    int64_t dims[IR_MAX_RANK] = {xdims[0], xdims[1]};
    for (int i = 0; i < geo.nsp; i++) dims[2 + i] = geo.out[i];
    pool_set_out(g, n, x->dtype, blocked, rank, dims);
    if (n->n_out > 1) {
        if (n->op != OP_MAX_POOL) return node_error(d, n, "only MaxPool has an Indices output");
        shape_set_out(g, n, 1, DT_I64, x->rank, dims);
    }
    return 0;
}

int shape_global_pool(Graph *g, Node *n, Diag *d)
{
    const Value *x = &g->values[n->in[0]];
    if (pool_dtype_check(n, x->dtype, d) || pool_attrs_check(n, d)) return -1;
    int blocked, rank;
    int64_t xdims[IR_MAX_RANK];
    if (pool_input_dims(g, n, &blocked, &rank, xdims, d)) return -1;
    if (rank < 2) return node_error(d, n, "X must have rank >= 2 (N, C, spatial...), has %d", rank);
    int64_t dims[IR_MAX_RANK];
    for (int i = 0; i < rank; i++) dims[i] = i < 2 ? xdims[i] : 1;
    pool_set_out(g, n, x->dtype, blocked, rank, dims);
    return 0;
}

/* shape_pool.c — shape inference for MaxPool, AveragePool, LpPool (spatial geometry from
 * ir_conv_geometry: kernel_shape, strides, dilations, pads, auto_pad, ceil_mode) and for
 * GlobalAveragePool, GlobalMaxPool, GlobalLpPool (every spatial axis reduced to 1).
 * Y keeps X's dtype; MaxPool's optional Indices output is i64 of Y's shape. Float dtypes
 * everywhere; MaxPool and GlobalMaxPool also accept i8/u8 (ONNX allows them for MaxPool).
 */
#include "ir.h"

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
    if (x->rank < 3) return node_error(d, n, "X must have rank >= 3 (N, C, spatial...), has %d", x->rank);
    ConvGeom geo;
    if (ir_conv_geometry(n, x->rank, x->dims, NULL, &geo, d)) return -1;
    int64_t dims[IR_MAX_RANK] = {x->dims[0], x->dims[1]};
    for (int i = 0; i < geo.nsp; i++) dims[2 + i] = geo.out[i];
    shape_set_out(g, n, 0, x->dtype, x->rank, dims);
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
    if (x->rank < 2) return node_error(d, n, "X must have rank >= 2 (N, C, spatial...), has %d", x->rank);
    int64_t dims[IR_MAX_RANK];
    for (int i = 0; i < x->rank; i++) dims[i] = i < 2 ? x->dims[i] : 1;
    shape_set_out(g, n, 0, x->dtype, x->rank, dims);
    return 0;
}

/* canonicalize_gemm.c — pass "canonicalize-gemm": puts fully-connected layers into the one form
 * codegen expects: Gemm(A, B, C?) with B a constant laid out [N, K] (transB = 1), alpha = 1 and
 * beta = 1 folded into the constants, and a constant C broadcast along rows stored as [N].
 *
 *   MatMul(A[M,K], B[K,N] const)              -> Gemm(A, B^T, transB=1)
 *   Add(MatMul(A, B const), c const [N]/[1,N]) -> Gemm(A, B^T, c as [N], transB=1)
 *       (either operand order; the MatMul output must have no other use and not be a graph
 *        output; the Gemm takes over the Add's output value, so names are unchanged)
 *   MatMul(A[d1,..,dr-1,K], B[K,N] const) (+ Add as above), rank r > 2
 *       -> Reshape(Gemm(Reshape(A, [M,K]), B^T(, c), transB=1), [d1,..,dr-1,N]),
 *          M = d1 * .. * dr-1: a linear layer applied to every position (transformer and
 *          ConvNeXt MLPs); both Reshapes are views in compiled code
 *   Gemm, constant B, transB = 0 or alpha != 1 -> B' = alpha * B^T, transB = 1, alpha dropped
 *   Gemm, constant C, beta != 1                -> C' = beta * C, beta dropped (beta = 0: C dropped)
 *   Gemm, constant C of one element or [1,N]   -> C as [N]
 * Only f32/f64 are rewritten. New constants are added (the originals may have other readers);
 * a constant shared by several MatMul/Gemm nodes is transposed or scaled once per run.
 */
#include "passes/passes.h"

#include <stdlib.h>
#include <string.h>

static int float_const(const Graph *g, int vid, int rank)
{
    return pass_value_is_const(g, vid) && dtype_is_float(g->values[vid].dtype) &&
           (rank < 0 || g->values[vid].rank == rank);
}

static int add_named(Graph *g, int like, const char *suffix, int rank, const int64_t *dims,
                     const double *vals)
{
    char name[256];
    snprintf(name, sizeof name, "%s%s", g->values[like].name, suffix);
    return pass_const_add_f64(g, name, g->values[like].dtype, rank, dims, vals);
}

/* Constants made by this run of the pass, so that a weight shared by several MatMul/Gemm
 * nodes is transposed (or scaled) once. */
typedef struct Made {
    int src, kind; /* kind: 0 = B (trans flag in `trans`), 1 = C */
    int trans;
    double scale;
    int id;
} Made;
typedef struct Memo {
    Made *v;
    int n, cap;
} Memo;

static int memo_find(const Memo *m, int src, int kind, int trans, double scale)
{
    for (int i = 0; i < m->n; i++)
        if (m->v[i].src == src && m->v[i].kind == kind && m->v[i].trans == trans &&
            m->v[i].scale == scale)
            return m->v[i].id;
    return -1;
}

static int memo_add(Memo *m, int src, int kind, int trans, double scale, int id)
{
    if (m->n == m->cap) m->v = xrealloc(m->v, (size_t)(m->cap = m->cap ? 2 * m->cap : 8) * sizeof(Made));
    m->v[m->n++] = (Made){src, kind, trans, scale, id};
    return id;
}

/* New constant scale * B^T (B is [K,N] when trans, else already [N,K]). */
static int make_b(Graph *g, Memo *memo, int b, int trans, double scale)
{
    int seen = memo_find(memo, b, 0, trans, scale);
    if (seen >= 0) return seen;
    int64_t r = g->values[b].dims[0], c = g->values[b].dims[1];
    double *v = pass_const_f64(g, b), *o = xmalloc((size_t)(r * c + 1) * sizeof(double));
    for (int64_t i = 0; i < r; i++)
        for (int64_t j = 0; j < c; j++) {
            if (trans)
                o[j * r + i] = scale * v[i * c + j];
            else
                o[i * c + j] = scale * v[i * c + j];
        }
    int64_t dims[2] = {trans ? c : r, trans ? r : c};
    int id = add_named(g, b, trans ? "_t" : "_scaled", 2, dims, o);
    free(v), free(o);
    return memo_add(memo, b, 0, trans, scale, id);
}

/* Is constant c a bias for an [M,N] output that only depends on the column? */
static int is_row_bias(const Graph *g, int c, int64_t N)
{
    const Value *v = &g->values[c];
    int64_t numel = ir_value_numel(v);
    if (v->rank > 2 || (numel != N && numel != 1)) return 0;
    return v->rank < 2 || v->dims[0] == 1;
}

/* Constant c (row bias) scaled and stored as [N]. */
static int make_c(Graph *g, Memo *memo, int c, int64_t N, double scale)
{
    int seen = memo_find(memo, c, 1, (int)N, scale);
    if (seen >= 0) return seen;
    double *v = pass_const_f64(g, c), *o = xmalloc((size_t)(N + 1) * sizeof(double));
    int64_t numel = ir_value_numel(&g->values[c]);
    for (int64_t j = 0; j < N; j++) o[j] = scale * v[numel == 1 ? 0 : j];
    int id = add_named(g, c, "_c", 1, &N, o);
    free(v), free(o);
    return memo_add(memo, c, 1, (int)N, scale, id);
}

/* The single live node reading vid (the caller checked there is one). */
static int only_user(const Graph *g, int vid)
{
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].dead) continue;
        for (int k = 0; k < g->nodes[i].n_in; k++)
            if (g->nodes[i].in[k] == vid) return i;
    }
    return -1;
}

/* Append a Reshape node x -> y (y an existing value; the IR's Reshape takes its shape as an
 * attribute); returns its index. */
static int add_reshape(Graph *g, const char *name, int x, int y)
{
    const int node = ir_node_add(g, OP_RESHAPE, name, 1, &x, 1, &y);
    ir_node_set_ints(g, node, "shape", g->values[y].dims, g->values[y].rank);
    return node;
}

/* Returns 1 when the MatMul became a Gemm, with the indices of the Reshapes appended before and
 * after it in around[0..1] (-1: none). */
static int matmul_to_gemm(Graph *g, Memo *memo, int i, int *around)
{
    Node *n = &g->nodes[i];
    int a = n->in[0], b = n->in[1], y = n->out[0];
    if (a < 0 || y < 0 || g->values[a].rank < 2 || !float_const(g, b, 2)) return 0;
    if (g->values[a].dtype != g->values[b].dtype || g->values[y].rank != g->values[a].rank) return 0;
    const int rank = g->values[a].rank;
    int64_t N = g->values[b].dims[1];
    int add = -1, c = -1;
    if (pass_value_single_use(g, y)) {
        int u = only_user(g, y);
        Node *un = &g->nodes[u];
        if (un->op == OP_ADD && un->out[0] >= 0) {
            int other = un->in[0] == y ? un->in[1] : un->in[0];
            if (other != y && float_const(g, other, -1) &&
                g->values[other].dtype == g->values[y].dtype && is_row_bias(g, other, N)) {
                add = u;
                c = other;
            }
        }
    }
    int in[3] = {a, make_b(g, memo, b, 1, 1.0), c >= 0 ? make_c(g, memo, c, N, 1.0) : -1};
    const int out = add >= 0 ? g->nodes[add].out[0] : y; /* the value the rewrite produces */
    if (add >= 0) g->nodes[add].dead = 1;
    if (rank > 2) { /* Gemm on the [M,K] view of A, its [M,N] result viewed back */
        char name[256];
        int64_t d2[2] = {1, g->values[a].dims[rank - 1]};
        for (int k = 0; k < rank - 1; k++) d2[0] *= g->values[a].dims[k];
        snprintf(name, sizeof name, "%s_2d", g->values[a].name);
        const int a2 = ir_value_add(g, name, g->values[a].dtype, 2, d2);
        d2[1] = N;
        snprintf(name, sizeof name, "%s_2d", g->values[out].name);
        const int y2 = ir_value_add(g, name, g->values[out].dtype, 2, d2);
        snprintf(name, sizeof name, "%s_2d", g->nodes[i].name);
        around[0] = add_reshape(g, name, a, a2);
        snprintf(name, sizeof name, "%s_nd", g->nodes[i].name);
        pass_node_take_output(g, i, 0, y2);
        around[1] = add_reshape(g, name, y2, out);
        in[0] = a2;
    } else {
        pass_node_take_output(g, i, 0, out);
    }
    n = &g->nodes[i];
    n->op = OP_GEMM;
    ir_node_set_inputs(g, i, c >= 0 ? 3 : 2, in);
    ir_node_set_int(g, i, "transB", 1);
    return 1;
}

static int canon_gemm(Graph *g, Memo *memo, int i)
{
    Node *n = &g->nodes[i];
    int changed = 0;
    int b = n->in[1], c = n->n_in > 2 ? n->in[2] : -1;
    int transb = ir_attr_int(n, "transB", 0) != 0;
    double alpha = ir_attr_float(n, "alpha", 1.0), beta = ir_attr_float(n, "beta", 1.0);
    if (n->out[0] < 0 || g->values[n->out[0]].rank != 2) return 0;
    int64_t N = g->values[n->out[0]].dims[1];
    if (float_const(g, b, 2) && (!transb || alpha != 1.0)) {
        g->nodes[i].in[1] = make_b(g, memo, b, !transb, alpha);
        ir_node_set_int(g, i, "transB", 1);
        ir_node_remove_attr(g, i, "alpha");
        changed = 1;
    }
    if (c < 0 || beta == 0.0) {
        if (c >= 0) {
            ir_node_set_inputs(g, i, 2, g->nodes[i].in);
            changed = 1;
        }
        if (ir_attr_find(&g->nodes[i], "beta")) {
            ir_node_remove_attr(g, i, "beta");
            changed = 1;
        }
    } else if (float_const(g, c, -1)) {
        const Value *cv = &g->values[c];
        int canon_shape = cv->rank == 1 && cv->dims[0] == N;
        if (is_row_bias(g, c, N) && (!canon_shape || beta != 1.0)) {
            g->nodes[i].in[2] = make_c(g, memo, c, N, beta);
            ir_node_remove_attr(g, i, "beta");
            changed = 1;
        } else if (beta != 1.0) {
            double *v = pass_const_f64(g, c);
            int64_t numel = ir_value_numel(cv);
            for (int64_t k = 0; k < numel; k++) v[k] *= beta;
            int rank = cv->rank;
            int64_t dims[IR_MAX_RANK];
            memcpy(dims, cv->dims, sizeof dims);
            g->nodes[i].in[2] = add_named(g, c, "_scaled", rank, dims, v);
            free(v);
            ir_node_remove_attr(g, i, "beta");
            changed = 1;
        }
    }
    return changed;
}

int pass_canonicalize_gemm(Graph *g, PassContext *ctx, Diag *d)
{
    (void)ctx, (void)d;
    int compact = 0, placed = 0;
    Memo memo = {0};
    const int n0 = g->n_nodes; /* not the Reshapes appended on the way */
    int *before = xmalloc((size_t)(2 * n0 + 1) * sizeof(int)), *after = before + n0;
    for (int i = 0; i < 2 * n0; i++) before[i] = -1;
    for (int i = 0; i < n0; i++) {
        Node *n = &g->nodes[i];
        if (n->dead) continue;
        if (n->op == OP_MATMUL && n->n_in == 2) {
            int y = n->out[0];
            int around[2] = {-1, -1};
            if (matmul_to_gemm(g, &memo, i, around)) compact += g->nodes[i].out[0] != y; /* the Add went */
            before[i] = around[0], after[i] = around[1];
            placed += around[0] >= 0;
        } else if (n->op == OP_GEMM && n->n_in >= 2) {
            canon_gemm(g, &memo, i);
        }
    }
    free(memo.v);
    if (placed)
        pass_place_new_nodes(g, n0, before, after);
    else if (compact)
        ir_graph_compact(g);
    free(before);
    return 0;
}

/* fallback.c — nodes without a native kernel run the reference interpreter's kernel (eval_<op>
 * from ops.def, in ir/interp_NAME.c), linked into the model from libppcfallback.a.
 *
 * The node becomes a private constant with ir.h's Node layout (name, input/output value ids,
 * attributes with their strings, arrays and tensors as further constants); per call, Tensor
 * structs on the stack describe the node's buffers (dtype, shape, data = the value's address,
 * borrowed), and the code calls
 *     int eval_<op>(const Graph *g = NULL, const Node *node, Tensor **in, Tensor **out, Diag *d)
 * The interpreter kernels do not read the graph (g is NULL here); they only fill the outputs.
 * A non-zero status makes run() return 1.
 *
 * The LLVM struct types mirror ir.h's Tensor, Attr and Node; cg_fallback_types checks field by
 * field that LLVM lays them out like this compiler does (true for every LP64 target ppcc
 * supports: x86-64 and AArch64).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"

static const char *const eval_names[OP_COUNT] = {
#define OP(e, name, mi, ma, mo, mao, sf, ef) [OP_##e] = #ef,
#include "ir/ops.def"
#undef OP
};

const char *cg_fallback_fn_name(OpKind op) { return eval_names[op]; }

static void check_layout(Cg *c, LLVMTypeRef t, size_t size, const size_t *offs, unsigned n)
{
    IR_ASSERT(LLVMCountStructElementTypes(t) == n);
    IR_ASSERT(LLVMABISizeOfType(c->dl, t) == size);
    for (unsigned k = 0; k < n; k++) IR_ASSERT(LLVMOffsetOfElement(c->dl, t, k) == offs[k]);
}

void cg_fallback_types(Cg *c)
{
    LLVMTypeRef i32 = c->t_i32, i64 = c->t_i64, p = c->t_ptr;
    _Static_assert(sizeof(DType) == 4 && sizeof(AttrKind) == 4 && sizeof(OpKind) == 4, "enums are 32-bit");
    c->t_tensor = LLVMStructCreateNamed(c->ctx, "Tensor");
    LLVMTypeRef tf[5] = {i32, i32, LLVMArrayType(i64, IR_MAX_RANK), p, i32};
    LLVMStructSetBody(c->t_tensor, tf, 5, 0);
    size_t to[5] = {offsetof(Tensor, dtype), offsetof(Tensor, rank), offsetof(Tensor, dims), offsetof(Tensor, data),
                    offsetof(Tensor, owns)};
    check_layout(c, c->t_tensor, sizeof(Tensor), to, 5);

    c->t_attr = LLVMStructCreateNamed(c->ctx, "Attr");
    LLVMTypeRef af[9] = {p, i32, i64, c->t_f64, p, i32, p, p, p};
    LLVMStructSetBody(c->t_attr, af, 9, 0);
    size_t ao[9] = {offsetof(Attr, name), offsetof(Attr, kind), offsetof(Attr, i), offsetof(Attr, f),
                    offsetof(Attr, s), offsetof(Attr, n), offsetof(Attr, ints), offsetof(Attr, floats),
                    offsetof(Attr, t)};
    check_layout(c, c->t_attr, sizeof(Attr), ao, 9);

    c->t_node = LLVMStructCreateNamed(c->ctx, "Node");
    LLVMTypeRef nf[9] = {i32, p, i32, p, i32, p, i32, p, i32};
    LLVMStructSetBody(c->t_node, nf, 9, 0);
    size_t no[9] = {offsetof(Node, op), offsetof(Node, name), offsetof(Node, n_in), offsetof(Node, in),
                    offsetof(Node, n_out), offsetof(Node, out), offsetof(Node, n_attr), offsetof(Node, attrs),
                    offsetof(Node, dead)};
    check_layout(c, c->t_node, sizeof(Node), no, 9);
}

static LLVMValueRef i32c(Cg *c, long long v) { return LLVMConstInt(c->t_i32, (unsigned long long)v, 1); }
static LLVMValueRef i64c(Cg *c, long long v) { return LLVMConstInt(c->t_i64, (unsigned long long)v, 1); }

static LLVMValueRef dims_const(Cg *c, int rank, const int64_t *dims)
{
    LLVMValueRef v[IR_MAX_RANK];
    for (int k = 0; k < IR_MAX_RANK; k++) v[k] = i64c(c, k < rank ? dims[k] : 0);
    return LLVMConstArray(c->t_i64, v, IR_MAX_RANK);
}

/* A Tensor struct constant; data = the given pointer constant. */
static LLVMValueRef tensor_const(Cg *c, DType t, int rank, const int64_t *dims, LLVMValueRef data)
{
    LLVMValueRef f[5] = {i32c(c, t), i32c(c, rank), dims_const(c, rank, dims), data, i32c(c, 0)};
    return LLVMConstNamedStruct(c->t_tensor, f, 5);
}

static LLVMValueRef int_array(Cg *c, const int *v, int n)
{
    if (n <= 0) return LLVMConstNull(c->t_ptr);
    LLVMValueRef *e = xmalloc((size_t)n * sizeof *e);
    for (int k = 0; k < n; k++) e[k] = i32c(c, v[k]);
    LLVMValueRef gv = cg_const_data(c, LLVMConstArray(c->t_i32, e, (unsigned)n), "node.ids", 4);
    free(e);
    return gv;
}

static LLVMValueRef attr_const(Cg *c, const Attr *a, Diag *d)
{
    LLVMValueRef ints = LLVMConstNull(c->t_ptr), floats = LLVMConstNull(c->t_ptr), t = LLVMConstNull(c->t_ptr);
    LLVMValueRef s = a->s ? cg_cstring(c, a->s) : LLVMConstNull(c->t_ptr);
    if (a->kind == ATTR_INTS && a->n > 0 && a->ints) {
        LLVMValueRef *e = xmalloc((size_t)a->n * sizeof *e);
        for (int k = 0; k < a->n; k++) e[k] = i64c(c, a->ints[k]);
        ints = cg_const_data(c, LLVMConstArray(c->t_i64, e, (unsigned)a->n), "attr.ints", 8);
        free(e);
    }
    if (a->kind == ATTR_FLOATS && a->n > 0 && a->floats) {
        LLVMValueRef *e = xmalloc((size_t)a->n * sizeof *e);
        for (int k = 0; k < a->n; k++) e[k] = LLVMConstReal(c->t_f64, a->floats[k]);
        floats = cg_const_data(c, LLVMConstArray(c->t_f64, e, (unsigned)a->n), "attr.floats", 8);
        free(e);
    }
    if (a->kind == ATTR_TENSOR && a->t) {
        const Tensor *tt = a->t;
        LLVMValueRef data = cg_bytes_global(c, tt->data, tensor_nbytes(tt), 64, "attr.data", d);
        if (!data) return NULL;
        t = cg_const_data(c, tensor_const(c, tt->dtype, tt->rank, tt->dims, data), "attr.tensor", 8);
    }
    LLVMValueRef f[9] = {cg_cstring(c, a->name), i32c(c, a->kind), i64c(c, a->i), LLVMConstReal(c->t_f64, a->f),
                         s, i32c(c, a->n), ints, floats, t};
    return LLVMConstNamedStruct(c->t_attr, f, 9);
}

static LLVMValueRef node_global(Cg *c, int i, Diag *d)
{
    const Node *n = &c->g->nodes[i];
    LLVMValueRef attrs = LLVMConstNull(c->t_ptr);
    if (n->n_attr > 0) {
        LLVMValueRef *e = xmalloc((size_t)n->n_attr * sizeof *e);
        for (int k = 0; k < n->n_attr; k++)
            if (!(e[k] = attr_const(c, &n->attrs[k], d))) {
                free(e);
                return NULL;
            }
        attrs = cg_const_data(c, LLVMConstArray(c->t_attr, e, (unsigned)n->n_attr), "node.attrs", 8);
        free(e);
    }
    LLVMValueRef f[9] = {i32c(c, n->op),     cg_cstring(c, n->name),         i32c(c, n->n_in),
                         int_array(c, n->in, n->n_in), i32c(c, n->n_out), int_array(c, n->out, n->n_out),
                         i32c(c, n->n_attr), attrs,                          i32c(c, 0)};
    char name[64];
    snprintf(name, sizeof name, "node.%d", i);
    return cg_const_data(c, LLVMConstNamedStruct(c->t_node, f, 9), name, 8);
}

/* Describe value vid in Tensor slot `slot` of f's scratch and store its address in tptrs. */
static void fill_slot(Cg *c, CgFn *f, int slot, int vid)
{
    LLVMValueRef idx = i64c(c, slot);
    LLVMValueRef pp = LLVMBuildInBoundsGEP2(c->b, c->t_ptr, f->s_tptrs, &idx, 1, "");
    if (vid < 0) {
        LLVMBuildStore(c->b, LLVMConstNull(c->t_ptr), pp);
        return;
    }
    const Value *v = &c->g->values[vid];
    LLVMValueRef tp = LLVMBuildInBoundsGEP2(c->b, c->t_tensor, f->s_tensors, &idx, 1, "");
    LLVMBuildStore(c->b, tensor_const(c, v->dtype, v->rank, v->dims, LLVMConstNull(c->t_ptr)), tp);
    LLVMBuildStore(c->b, cg_value_addr(c, f, vid), LLVMBuildStructGEP2(c->b, c->t_tensor, tp, 3, ""));
    LLVMBuildStore(c->b, tp, pp);
}

int cg_fallback_emit(Cg *c, CgFn *f, int i, Diag *d)
{
    const Node *n = &c->g->nodes[i];
    CgNodeCode *nc = &c->code[i];
    if (!nc->node_gv && !(nc->node_gv = node_global(c, i, d))) return -1;
    if (!f->s_tensors) {
        unsigned slots = (unsigned)(c->max_tensors > 0 ? c->max_tensors : 1);
        f->s_tensors = cg_entry_alloca(c, f, LLVMArrayType(c->t_tensor, slots), "tensors");
        f->s_tptrs = cg_entry_alloca(c, f, LLVMArrayType(c->t_ptr, slots), "tensor_ptrs");
        f->s_diag = cg_entry_alloca(c, f, LLVMArrayType(c->t_i8, sizeof(Diag)), "diag");
    }
    for (int k = 0; k < n->n_in; k++) fill_slot(c, f, k, n->in[k]);
    for (int k = 0; k < n->n_out; k++) fill_slot(c, f, n->n_in + k, n->out[k]);
    const char *fname = cg_fallback_fn_name(n->op);
    LLVMValueRef fn = LLVMGetNamedFunction(c->mod, fname);
    if (!fn) fn = LLVMAddFunction(c->mod, fname, c->t_eval);
    LLVMValueRef idx = i64c(c, n->n_in);
    LLVMValueRef args[5] = {LLVMConstNull(c->t_ptr), nc->node_gv, f->s_tptrs,
                            LLVMBuildInBoundsGEP2(c->b, c->t_ptr, f->s_tptrs, &idx, 1, ""), f->s_diag};
    LLVMValueRef st = LLVMBuildCall2(c->b, c->t_eval, fn, args, 5, "status");
    cg_check_status(c, f, st);
    return 0;
}

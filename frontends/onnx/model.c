/* model.c — the ONNX frontend's entry points: read a model file (memory-mapped), unpack the
 * ModelProto (protobuf-c; weights land directly in the graph's arena, see pbmem.c), sanity-check
 * it (ir_version, graph, opset imports), bind graph inputs (dtypes, static shapes, symbolic dims
 * fixed by --shape, inputs bound to constants by the caller) and initializers (constants), lower
 * the nodes (lower.c), then compact, remove dead code, sort and verify the IR graph.
 */
#include "onnx_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_IR_VERSION 64 /* sanity bound: newer than anything published by far */

/* ---------------------------------------------------------------- initializers */

static int bind_initializers(OnnxCtx *c)
{
    const Onnx__GraphProto *gp = c->gp;
    Graph *g = c->g;
    for (size_t i = 0; i < gp->n_initializer && !onnx_should_stop(c); i++) {
        const Onnx__TensorProto *tp = gp->initializer[i];
        const char *name = tp->name ? tp->name : "";
        if (!*name) {
            onnx_problem(c, "model", NULL, NULL, "initializer %zu has no name", i);
            continue;
        }
        if (strmap_get(&c->names, name, NULL)) {
            onnx_problem(c, "model", NULL, NULL, "initializer '%s' is defined twice", name);
            continue;
        }
        strmap_put(&c->reserved, name, 1);
        char what[300];
        snprintf(what, sizeof what, "initializer '%s'", name);
        OnnxTensorData td;
        const char *kind;
        Diag d;
        if (onnx_tensor_decode(tp, g->arena, c->base_dir, what, &td, &kind, &d)) {
            onnx_problem(c, kind, NULL, NULL, "%s", d.msg);
            strmap_put(&c->names, name, ONNX_FAILED);
            continue;
        }
        int vid = ir_value_add(g, name, td.dtype, td.rank, td.dims);
        Value *v = &g->values[vid];
        v->kind = VAL_CONST;
        v->data = td.data ? td.data : arena_alloc(g->arena, 1); /* already in the arena: adopt */
        v->producer = -1;
        strmap_put(&c->names, name, vid);
    }
    return 0;
}

/* ---------------------------------------------------------------- graph inputs */

static const OnnxShapeFix *find_fix(const OnnxCtx *c, const char *name)
{
    if (!c->opt) return NULL;
    for (int i = 0; i < c->opt->n_shapes; i++)
        if (c->opt->shapes[i].name && !strcmp(c->opt->shapes[i].name, name)) return &c->opt->shapes[i];
    return NULL;
}

static const OnnxConstInput *find_const_input(const OnnxCtx *c, const char *name)
{
    for (int i = 0; i < c->n_consts; i++)
        if (c->consts[i].name && !strcmp(c->consts[i].name, name)) return &c->consts[i];
    return NULL;
}

/* "1x3x224x224" with symbolic dims replaced by 1 (the suggestion in the error message). */
static void suggest_shape(const Onnx__TensorShapeProto *sp, char *buf, size_t n)
{
    size_t k = 0;
    buf[0] = 0;
    for (size_t i = 0; i < sp->n_dim && k < n; i++) {
        const Onnx__TensorShapeProto__Dimension *dm = sp->dim[i];
        long long v = dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE ? dm->dim_value : 1;
        k += (size_t)snprintf(buf + k, n - k, i ? "x%lld" : "%lld", v);
    }
}

/* Resolve one graph input's dtype and static shape. 0, or -1 with a problem recorded. */
static int input_type(OnnxCtx *c, const Onnx__ValueInfoProto *vi, const char *name, DType *dt, int *rank,
                      int64_t *dims)
{
    const Onnx__TypeProto *tp = vi->type;
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
        return onnx_problem(c, "dtype", NULL, NULL, "input '%s' is not a tensor (sequences, maps and optionals are not supported)", name);
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    int code = tt->has_elem_type ? tt->elem_type : 0;
    *dt = dtype_from_onnx(code);
    if (*dt == DT_UNDEF)
        return onnx_problem(c, "dtype", NULL, NULL, "input '%s': unsupported dtype %s", name, onnx_dtype_name(code));
    const OnnxShapeFix *fix = find_fix(c, name);
    const Onnx__TensorShapeProto *sp = tt->shape;
    if (!sp) {
        if (!fix)
            return onnx_problem(c, "shape", NULL, NULL, "input '%s' has no shape; fix it with --shape %s=AxBx...", name, name);
        *rank = fix->rank;
        memcpy(dims, fix->dims, sizeof(int64_t) * (size_t)fix->rank);
        return 0;
    }
    if (sp->n_dim > IR_MAX_RANK)
        return onnx_problem(c, "shape", NULL, NULL, "input '%s': rank %zu exceeds the maximum %d", name, sp->n_dim, IR_MAX_RANK);
    *rank = (int)sp->n_dim;
    if (fix && fix->rank != *rank)
        return onnx_problem(c, "shape", NULL, NULL, "--shape %s: rank %d does not match the model's rank %d", name,
                            fix->rank, *rank);
    for (int i = 0; i < *rank; i++) {
        const Onnx__TensorShapeProto__Dimension *dm = sp->dim[i];
        if (dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
            if (dm->dim_value < 0)
                return onnx_problem(c, "model", NULL, NULL, "input '%s': negative dim %lld (dim %d)", name,
                                    (long long)dm->dim_value, i + 1);
            if (fix && fix->dims[i] != dm->dim_value)
                return onnx_problem(c, "shape", NULL, NULL, "--shape %s: dim %d is %lld in the model, not %lld", name,
                                    i + 1, (long long)dm->dim_value, (long long)fix->dims[i]);
            dims[i] = dm->dim_value;
        } else if (fix) {
            if (fix->dims[i] < 0)
                return onnx_problem(c, "shape", NULL, NULL, "--shape %s: negative dim (dim %d)", name, i + 1);
            dims[i] = fix->dims[i];
        } else {
            char sug[256];
            suggest_shape(sp, sug, sizeof sug);
            const char *param = dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM && dm->dim_param
                                    ? dm->dim_param : "?";
            return onnx_problem(c, "shape", NULL, NULL, "input '%s' has symbolic dim '%s' (dim %d); fix it with --shape %s=%s",
                                name, param, i + 1, name, sug);
        }
    }
    return 0;
}

/* A graph input bound to a caller-given constant (onnx_import_file_consts). */
static int bind_const_input(OnnxCtx *c, const Onnx__ValueInfoProto *vi, const char *name, const OnnxConstInput *ci)
{
    const Tensor *t = ci->value;
    const Onnx__TypeProto *tp = vi->type;
    if (tp && tp->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE && tp->tensor_type &&
        tp->tensor_type->has_elem_type && dtype_from_onnx(tp->tensor_type->elem_type) != t->dtype)
        return onnx_problem(c, "dtype", NULL, NULL, "constant for input '%s' has dtype %s, the model says %s", name,
                            dtype_name(t->dtype), onnx_dtype_name(tp->tensor_type->elem_type));
    const Onnx__TensorShapeProto *sp = tp && tp->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE && tp->tensor_type
                                           ? tp->tensor_type->shape : NULL;
    if (sp) {
        int same = (int)sp->n_dim == t->rank;
        for (int i = 0; same && i < t->rank; i++)
            same = sp->dim[i]->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE ||
                   sp->dim[i]->dim_value == t->dims[i];
        if (!same) {
            char buf[128];
            return onnx_problem(c, "shape", NULL, NULL, "constant for input '%s' has shape %s, which the model's does not allow",
                                name, shape_str(t->rank, t->dims, buf, sizeof buf));
        }
    }
    int vid = ir_const_add(c->g, name, t->dtype, t->rank, t->dims, t->data);
    strmap_put(&c->names, name, vid);
    return 0;
}

static int bind_inputs(OnnxCtx *c)
{
    const Onnx__GraphProto *gp = c->gp;
    for (size_t i = 0; i < gp->n_input && !onnx_should_stop(c); i++) {
        const Onnx__ValueInfoProto *vi = gp->input[i];
        const char *name = vi->name ? vi->name : "";
        int prev;
        if (strmap_get(&c->names, name, &prev)) {
            if (prev >= 0 && c->g->values[prev].kind == VAL_CONST) continue; /* initializer: a constant */
            if (prev == ONNX_FAILED) continue;                                  /* bad initializer */
            onnx_problem(c, "model", NULL, NULL, "graph input '%s' is listed twice", name);
            continue;
        }
        if (!*name) {
            onnx_problem(c, "model", NULL, NULL, "graph input %zu has no name", i);
            continue;
        }
        strmap_put(&c->reserved, name, 1);
        const OnnxConstInput *ci = find_const_input(c, name);
        if (ci) {
            if (bind_const_input(c, vi, name, ci)) strmap_put(&c->names, name, ONNX_FAILED);
            continue;
        }
        DType dt = DT_UNDEF;
        int rank = 0;
        int64_t dims[IR_MAX_RANK];
        if (input_type(c, vi, name, &dt, &rank, dims)) {
            strmap_put(&c->names, name, ONNX_FAILED);
            continue;
        }
        int vid = ir_value_add(c->g, name, dt, rank, dims);
        ir_graph_add_input(c->g, vid);
        strmap_put(&c->names, name, vid);
    }
    /* every --shape and constant binding must name a real graph input */
    for (int i = 0; c->opt && i < c->opt->n_shapes && !onnx_should_stop(c); i++) {
        const char *n = c->opt->shapes[i].name ? c->opt->shapes[i].name : "";
        int found = 0;
        for (size_t k = 0; k < gp->n_input && !found; k++) found = gp->input[k]->name && !strcmp(gp->input[k]->name, n);
        if (!found) onnx_problem(c, "shape", NULL, NULL, "--shape names '%s', which is not a graph input", n);
    }
    return 0;
}

/* ---------------------------------------------------------------- model */

/* Version of the default domain; 0 if the model imports none. */
static int64_t default_opset(const Onnx__ModelProto *mp)
{
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = mp->opset_import[i];
        if (!o->domain || !*o->domain || !strcmp(o->domain, "ai.onnx")) return o->has_version ? o->version : 1;
    }
    return mp->n_opset_import ? 0 : 1; /* IR version 1-2 models have no opset_import: opset 1 */
}

static int check_model(const Onnx__ModelProto *mp, Diag *d)
{
    if (!mp->has_ir_version || mp->ir_version < 1)
        return diag_error(d, "not an ONNX model (no ir_version)");
    if (mp->ir_version > MAX_IR_VERSION)
        return diag_error(d, "not an ONNX model (ir_version %lld is not plausible)", (long long)mp->ir_version);
    if (!mp->graph) return diag_error(d, "ONNX model has no graph");
    if (mp->ir_version >= 3 && mp->n_opset_import == 0)
        return diag_error(d, "ONNX model has no opset_import (required since IR version 3)");
    if (mp->graph->n_output == 0) return diag_error(d, "ONNX model's graph has no outputs");
    return 0;
}

/* The graph after lowering: drop folded nodes and dead code, sort, verify. */
static int finish_graph(Graph *g, Diag *d)
{
    ir_graph_compact(g);
    ir_graph_dce(g);
    if (g->n_nodes && ir_graph_toposort(g, d)) return -1;
    Diag vd;
    if (ir_verify(g, &vd)) return diag_error(d, "internal error: imported graph fails verification: %s", vd.msg);
    return 0;
}

/* Import from buf; release(release_ctx) is called as soon as buf is no longer needed (right after
 * unpacking, which copies everything), so a file mapping does not stay resident during lowering. */
static Graph *import_buffer(const void *buf, size_t len, const char *base_dir, const OnnxImportOptions *opt,
                            const OnnxConstInput *consts, int n_consts, Diag *d, void (*release)(void *),
                            void *release_ctx)
{
    Graph *g = ir_graph_new(NULL);
    ProtobufCAllocator al;
    pbmem_init(&al, g->arena);
    Onnx__ModelProto *mp = onnx__model_proto__unpack(&al, len, buf);
    if (release) release(release_ctx);
    if (!mp) {
        ir_graph_free(g);
        diag_error(d, "not an ONNX model (invalid or truncated protobuf)");
        return NULL;
    }
    if (check_model(mp, d)) {
        onnx__model_proto__free_unpacked(mp, &al);
        ir_graph_free(g);
        return NULL;
    }
    if (mp->graph->name && *mp->graph->name) g->name = arena_strdup(g->arena, mp->graph->name);

    OnnxCtx c;
    memset(&c, 0, sizeof c);
    c.g = g;
    c.d = d;
    c.opt = opt;
    c.consts = consts;
    c.n_consts = n_consts;
    c.base_dir = base_dir;
    c.gp = mp->graph;
    c.opset = default_opset(mp);
    c.collect = opt && opt->problems && opt->n_problems;
    strmap_init(&c.names);
    strmap_init(&c.reserved);
    strmap_init(&c.graph_outputs);
    strmap_init(&c.uses);

    bind_initializers(&c);
    if (!onnx_should_stop(&c)) bind_inputs(&c);
    if (!onnx_should_stop(&c)) onnx_lower_graph(&c);
    int rc = c.n_problems ? -1 : 0;

    strmap_free(&c.names);
    strmap_free(&c.reserved);
    strmap_free(&c.graph_outputs);
    strmap_free(&c.uses);
    onnx__model_proto__free_unpacked(mp, &al); /* before the arena it borrows from */

    if (rc) {
        if (c.collect)
            diag_error(d, "%d problem%s (first: %s)", c.n_problems, c.n_problems == 1 ? "" : "s", c.first_problem);
        ir_graph_free(g);
        return NULL;
    }
    if (finish_graph(g, d)) {
        ir_graph_free(g);
        return NULL;
    }
    return g;
}

Graph *onnx_import_buffer(const void *buf, size_t len, const char *base_dir, const OnnxImportOptions *opt,
                          Diag *d)
{
    if (len == 0) {
        diag_error(d, "not an ONNX model (empty file)");
        return NULL;
    }
    return import_buffer(buf, len, base_dir, opt, NULL, 0, d, NULL, NULL);
}

typedef struct Mapping {
    void *addr;
    size_t len;
} Mapping;

static void unmap(void *ctx)
{
    Mapping *m = ctx;
    munmap(m->addr, m->len);
}

Graph *onnx_import_file_consts(const char *path, const OnnxImportOptions *opt, const OnnxConstInput *consts,
                               int n_consts, Diag *d)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        diag_error(d, "cannot open: %s", strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        diag_error(d, "not a regular file");
        return NULL;
    }
    size_t len = (size_t)st.st_size;
    if (len == 0) {
        close(fd);
        diag_error(d, "not an ONNX model (empty file)");
        return NULL;
    }
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (map == MAP_FAILED) {
        diag_error(d, "cannot read: %s", strerror(e));
        return NULL;
    }
    madvise(map, len, MADV_SEQUENTIAL);
    char *pathcopy = xstrdup(path);
    Mapping m = {map, len};
    Graph *g = import_buffer(map, len, dirname(pathcopy), opt, consts, n_consts, d, unmap, &m);
    free(pathcopy);
    return g;
}

Graph *onnx_import_file(const char *path, const OnnxImportOptions *opt, Diag *d)
{
    return onnx_import_file_consts(path, opt, NULL, 0, d);
}

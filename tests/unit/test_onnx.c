/* test_onnx.c — the ONNX frontend (frontends/onnx/): ModelProtos are built in memory with
 * protobuf-c (the TB helpers below), packed and imported, and the resulting IR is checked:
 * initializer encodings, external data (and its confinement to the model's folder), symbolic
 * dims with and without --shape, Constant nodes, folding of shape-computing chains, opset
 * conversions (Clip, Softmax, Squeeze, Upsample, legacy broadcast), problem collection for
 * `ppcc check`, malformed input, and TensorProto file round trips. Temporary files go under /tmp.
 */
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frontends/onnx/onnx_internal.h"

/* ---------------------------------------------------------------- model builder */

typedef struct TB {
    Onnx__ModelProto model;
    Onnx__GraphProto graph;
    Onnx__OperatorSetIdProto opset;
    Onnx__OperatorSetIdProto *opsets[1];
    Onnx__NodeProto *nodes[64];
    Onnx__TensorProto *inits[64];
    Onnx__ValueInfoProto *inputs[16], *outputs[16];
    void *allocs[4096];
    int n_allocs;
} TB;

static void *tb_alloc(TB *b, size_t n)
{
    ck_assert_int_lt(b->n_allocs, 4096);
    return b->allocs[b->n_allocs++] = calloc(1, n ? n : 1);
}

static char *tb_str(TB *b, const char *s) { return strcpy(tb_alloc(b, strlen(s) + 1), s); }

static void tb_init(TB *b, int64_t opset)
{
    memset(b, 0, sizeof *b);
    onnx__model_proto__init(&b->model);
    onnx__graph_proto__init(&b->graph);
    onnx__operator_set_id_proto__init(&b->opset);
    b->model.has_ir_version = 1;
    b->model.ir_version = 8;
    b->opset.domain = "";
    b->opset.has_version = 1;
    b->opset.version = opset;
    b->opsets[0] = &b->opset;
    b->model.n_opset_import = 1;
    b->model.opset_import = b->opsets;
    b->model.graph = &b->graph;
    b->graph.name = "test";
    b->graph.node = b->nodes;
    b->graph.initializer = b->inits;
    b->graph.input = b->inputs;
    b->graph.output = b->outputs;
}

static void tb_free(TB *b)
{
    for (int i = 0; i < b->n_allocs; i++) free(b->allocs[i]);
    b->n_allocs = 0;
}

/* Split "a,b,,c" into strings (empty entries kept). */
static char **tb_list(TB *b, const char *s, size_t *n)
{
    *n = 0;
    if (!s) return NULL;
    char **v = tb_alloc(b, 64 * sizeof(char *));
    const char *p = s;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char *x = tb_alloc(b, len + 1);
        memcpy(x, p, len);
        v[(*n)++] = x;
        if (!e) break;
        p = e + 1;
    }
    return v;
}

/* A graph input of elem_type with dims (dim < 0: symbolic "N"; rank < 0: no shape). */
static void tb_input(TB *b, const char *name, int elem, int rank, const int64_t *dims)
{
    Onnx__ValueInfoProto *vi = tb_alloc(b, sizeof *vi);
    onnx__value_info_proto__init(vi);
    vi->name = tb_str(b, name);
    Onnx__TypeProto *tp = tb_alloc(b, sizeof *tp);
    onnx__type_proto__init(tp);
    Onnx__TypeProto__Tensor *tt = tb_alloc(b, sizeof *tt);
    onnx__type_proto__tensor__init(tt);
    tt->has_elem_type = 1;
    tt->elem_type = elem;
    if (rank >= 0) {
        Onnx__TensorShapeProto *sp = tb_alloc(b, sizeof *sp);
        onnx__tensor_shape_proto__init(sp);
        sp->n_dim = (size_t)rank;
        sp->dim = tb_alloc(b, (size_t)rank * sizeof(void *));
        for (int i = 0; i < rank; i++) {
            Onnx__TensorShapeProto__Dimension *dm = tb_alloc(b, sizeof *dm);
            onnx__tensor_shape_proto__dimension__init(dm);
            if (dims[i] >= 0) {
                dm->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
                dm->dim_value = dims[i];
            } else {
                dm->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
                dm->dim_param = "N";
            }
            sp->dim[i] = dm;
        }
        tt->shape = sp;
    }
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    vi->type = tp;
    b->inputs[b->graph.n_input++] = vi;
}

static void tb_output(TB *b, const char *name)
{
    Onnx__ValueInfoProto *vi = tb_alloc(b, sizeof *vi);
    onnx__value_info_proto__init(vi);
    vi->name = tb_str(b, name);
    b->outputs[b->graph.n_output++] = vi;
}

static Onnx__NodeProto *tb_node(TB *b, const char *op, const char *name, const char *ins, const char *outs)
{
    Onnx__NodeProto *n = tb_alloc(b, sizeof *n);
    onnx__node_proto__init(n);
    n->op_type = tb_str(b, op);
    n->name = tb_str(b, name);
    n->input = tb_list(b, ins, &n->n_input);
    n->output = tb_list(b, outs, &n->n_output);
    n->attribute = tb_alloc(b, 16 * sizeof(void *));
    b->nodes[b->graph.n_node++] = n;
    return n;
}

static Onnx__AttributeProto *tb_attr(TB *b, Onnx__NodeProto *n, const char *name, int type)
{
    Onnx__AttributeProto *a = tb_alloc(b, sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = tb_str(b, name);
    a->has_type = 1;
    a->type = type;
    n->attribute[n->n_attribute++] = a;
    return a;
}

static void tb_attr_int(TB *b, Onnx__NodeProto *n, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = tb_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    a->i = v;
}

static void tb_attr_float(TB *b, Onnx__NodeProto *n, const char *name, float v)
{
    Onnx__AttributeProto *a = tb_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    a->has_f = 1;
    a->f = v;
}

static void tb_attr_ints(TB *b, Onnx__NodeProto *n, const char *name, int cnt, const int64_t *v)
{
    Onnx__AttributeProto *a = tb_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    a->n_ints = (size_t)cnt;
    a->ints = memcpy(tb_alloc(b, (size_t)cnt * 8), v, (size_t)cnt * 8);
}

static void tb_attr_floats(TB *b, Onnx__NodeProto *n, const char *name, int cnt, const float *v)
{
    Onnx__AttributeProto *a = tb_attr(b, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS);
    a->n_floats = (size_t)cnt;
    a->floats = memcpy(tb_alloc(b, (size_t)cnt * 4), v, (size_t)cnt * 4);
}

/* A TensorProto with raw_data (raw != 0) or nothing (fill the typed fields yourself). */
static Onnx__TensorProto *tb_tensor(TB *b, const char *name, int dtype, int rank, const int64_t *dims,
                                    const void *raw, size_t raw_len)
{
    Onnx__TensorProto *t = tb_alloc(b, sizeof *t);
    onnx__tensor_proto__init(t);
    t->name = tb_str(b, name);
    t->has_data_type = 1;
    t->data_type = dtype;
    t->n_dims = (size_t)rank;
    t->dims = tb_alloc(b, (size_t)rank * 8 + 8);
    for (int i = 0; i < rank; i++) t->dims[i] = dims[i];
    if (raw) {
        t->has_raw_data = 1;
        t->raw_data.len = raw_len;
        t->raw_data.data = memcpy(tb_alloc(b, raw_len), raw, raw_len);
    }
    return t;
}

static void tb_init_add(TB *b, Onnx__TensorProto *t) { b->inits[b->graph.n_initializer++] = t; }

/* Initializer of f32 values via raw_data. */
static void tb_init_f32(TB *b, const char *name, int rank, const int64_t *dims, const float *v)
{
    tb_init_add(b, tb_tensor(b, name, 1, rank, dims, v, (size_t)shape_numel(rank, dims) * 4));
}

static void tb_init_i64(TB *b, const char *name, int rank, const int64_t *dims, const int64_t *v)
{
    tb_init_add(b, tb_tensor(b, name, 7, rank, dims, v, (size_t)shape_numel(rank, dims) * 8));
}

static uint8_t *tb_pack(TB *b, size_t *len)
{
    *len = onnx__model_proto__get_packed_size(&b->model);
    uint8_t *buf = malloc(*len + 1);
    onnx__model_proto__pack(&b->model, buf);
    return buf;
}

static Graph *tb_import(TB *b, const char *base_dir, const OnnxImportOptions *opt, Diag *d)
{
    size_t len;
    uint8_t *buf = tb_pack(b, &len);
    memset(d, 0, sizeof *d);
    Graph *g = onnx_import_buffer(buf, len, base_dir, opt, d);
    free(buf);
    return g;
}

static Graph *import_ok(TB *b)
{
    Diag d;
    Graph *g = tb_import(b, NULL, NULL, &d);
    ck_assert_msg(g != NULL, "import failed: %s", d.msg);
    return g;
}

static void import_fails(TB *b, const char *base_dir, const char *w1, const char *w2)
{
    Diag d;
    Graph *g = tb_import(b, base_dir, NULL, &d);
    ck_assert_msg(g == NULL, "import succeeded, expected '%s'", w1);
    ck_assert_msg(strstr(d.msg, w1) != NULL, "want '%s' in '%s'", w1, d.msg);
    if (w2) ck_assert_msg(strstr(d.msg, w2) != NULL, "want '%s' in '%s'", w2, d.msg);
    ck_assert_msg(!strchr(d.msg, '\n'), "message has a newline");
}

static int count_op(const Graph *g, OpKind op)
{
    int c = 0;
    for (int i = 0; i < g->n_nodes; i++) c += g->nodes[i].op == op;
    return c;
}

static const Node *first_op(const Graph *g, OpKind op)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].op == op) return &g->nodes[i];
    ck_abort_msg("no %s node", ir_op_name(op));
    return NULL;
}

static const Value *val(const Graph *g, const char *name)
{
    int v = ir_value_find(g, name);
    ck_assert_msg(v >= 0, "no value %s", name);
    return &g->values[v];
}

/* ---------------------------------------------------------------- initializers */

START_TEST(test_onnx_initializer_kinds)
{
    TB b;
    tb_init(&b, 13);
    int64_t d23[2] = {2, 3}, d3[1] = {3}, d2[1] = {2};
    float f[6] = {1, 2, 3, 4, 5, 6.5f};
    tb_init_f32(&b, "raw", 2, d23, f);
    Onnx__TensorProto *t;
    t = tb_tensor(&b, "fdata", 1, 1, d3, NULL, 0);
    t->n_float_data = 3;
    t->float_data = f;
    tb_init_add(&b, t);
    static int32_t i32[3] = {-1, 200, 3};
    static const int codes[6] = {3, 2, 5, 4, 6, 9}; /* int8 uint8 int16 uint16 int32 bool */
    static const char *names[6] = {"i8", "u8", "i16", "u16", "i32", "b"};
    for (int k = 0; k < 6; k++) {
        t = tb_tensor(&b, names[k], codes[k], 1, d3, NULL, 0);
        t->n_int32_data = 3;
        t->int32_data = i32;
        tb_init_add(&b, t);
    }
    static int64_t i64[2] = {-5, 1LL << 40};
    t = tb_tensor(&b, "i64", 7, 1, d2, NULL, 0);
    t->n_int64_data = 2;
    t->int64_data = i64;
    tb_init_add(&b, t);
    static double f64[2] = {0.25, -1e300};
    t = tb_tensor(&b, "f64", 11, 1, d2, NULL, 0);
    t->n_double_data = 2;
    t->double_data = f64;
    tb_init_add(&b, t);
    static uint64_t u64[2] = {7, 1ULL << 63};
    t = tb_tensor(&b, "u64", 13, 1, d2, NULL, 0);
    t->n_uint64_data = 2;
    t->uint64_data = u64;
    tb_init_add(&b, t);
    t = tb_tensor(&b, "u32", 12, 1, d2, NULL, 0);
    t->n_uint64_data = 2;
    t->uint64_data = (uint64_t[]){9, 4000000000u};
    tb_init_add(&b, t);
    const char *outs[] = {"raw", "fdata", "i8", "u8", "i16", "u16", "i32", "b", "i64", "f64", "u64", "u32"};
    for (int k = 0; k < 12; k++) tb_output(&b, outs[k]);
    Graph *g = import_ok(&b);
    ck_assert_int_eq(g->n_outputs, 12);
    ck_assert_int_eq(g->n_inputs, 0);
    const Value *v = val(g, "raw");
    ck_assert_int_eq(v->kind, VAL_CONST);
    ck_assert_int_eq(v->dtype, DT_F32);
    ck_assert_int_eq(v->rank, 2);
    ck_assert_int_eq(v->dims[1], 3);
    ck_assert(((float *)v->data)[5] == 6.5f);
    ck_assert(((float *)val(g, "fdata")->data)[2] == 3.0f);
    ck_assert_int_eq(((int8_t *)val(g, "i8")->data)[1], (int8_t)200);
    ck_assert_int_eq(((uint8_t *)val(g, "u8")->data)[1], 200);
    ck_assert_int_eq(((int16_t *)val(g, "i16")->data)[0], -1);
    ck_assert_int_eq(((uint16_t *)val(g, "u16")->data)[1], 200);
    ck_assert_int_eq(((int32_t *)val(g, "i32")->data)[2], 3);
    ck_assert_int_eq(val(g, "b")->dtype, DT_BOOL);
    ck_assert_int_eq(((uint8_t *)val(g, "b")->data)[1], 1);
    ck_assert(((int64_t *)val(g, "i64")->data)[1] == (1LL << 40));
    ck_assert(((double *)val(g, "f64")->data)[1] == -1e300);
    ck_assert(((uint64_t *)val(g, "u64")->data)[1] == (1ULL << 63));
    ck_assert_int_eq(val(g, "u32")->dtype, DT_U32);
    ck_assert(((uint32_t *)val(g, "u32")->data)[1] == 4000000000u);
    ir_graph_free(g);
    tb_free(&b);
}
END_TEST

START_TEST(test_onnx_initializer_errors)
{
    TB b;
    int64_t d3[1] = {3}, dneg[1] = {-2};
    float f[3] = {1, 2, 3};
    /* raw_data size does not match dims */
    tb_init(&b, 13);
    tb_init_add(&b, tb_tensor(&b, "w", 1, 1, d3, f, 8));
    tb_output(&b, "w");
    import_fails(&b, NULL, "initializer 'w'", "raw_data has 8 bytes, expected 12");
    tb_free(&b);
    /* typed field count mismatch */
    tb_init(&b, 13);
    Onnx__TensorProto *t = tb_tensor(&b, "w", 1, 1, d3, NULL, 0);
    t->n_float_data = 2;
    t->float_data = f;
    tb_init_add(&b, t);
    tb_output(&b, "w");
    import_fails(&b, NULL, "initializer 'w'", "float_data has 2 values, expected 3");
    tb_free(&b);
    /* negative dim */
    tb_init(&b, 13);
    tb_init_add(&b, tb_tensor(&b, "w", 1, 1, dneg, f, 0));
    tb_output(&b, "w");
    import_fails(&b, NULL, "initializer 'w'", "negative dim");
    tb_free(&b);
    /* dims whose product overflows */
    tb_init(&b, 13);
    int64_t huge[3] = {1LL << 40, 1LL << 40, 1LL << 40};
    tb_init_add(&b, tb_tensor(&b, "w", 1, 3, huge, f, 0));
    tb_output(&b, "w");
    import_fails(&b, NULL, "initializer 'w'", "overflow");
    tb_free(&b);
    /* unsupported dtypes name the tensor */
    static const int bad[4] = {10, 16, 8, 14};
    static const char *bad_names[4] = {"float16", "bfloat16", "string", "complex64"};
    for (int k = 0; k < 4; k++) {
        tb_init(&b, 13);
        tb_init_add(&b, tb_tensor(&b, "h", bad[k], 1, d3, f, 6));
        tb_output(&b, "h");
        Diag d;
        OnnxProblem *pr = NULL;
        int np = 0;
        OnnxImportOptions opt = {.problems = &pr, .n_problems = &np};
        ck_assert_ptr_null(tb_import(&b, NULL, &opt, &d));
        ck_assert_int_eq(np, 1);
        ck_assert_str_eq(pr[0].kind, "dtype");
        ck_assert_msg(strstr(pr[0].msg, "initializer 'h'") && strstr(pr[0].msg, bad_names[k]), "%s", pr[0].msg);
        free(pr);
        tb_free(&b);
    }
}
END_TEST

START_TEST(test_onnx_initializer_input_is_constant)
{
    TB b;
    tb_init(&b, 13);
    int64_t d2[1] = {2};
    float w[2] = {1, 2};
    tb_input(&b, "x", 1, 1, d2);
    tb_input(&b, "w", 1, 1, d2); /* also an initializer: a constant, not an input */
    tb_init_f32(&b, "w", 1, d2, w);
    tb_node(&b, "Add", "add", "x,w", "y");
    tb_output(&b, "y");
    Graph *g = import_ok(&b);
    ck_assert_int_eq(g->n_inputs, 1);
    ck_assert_str_eq(g->values[g->inputs[0]].name, "x");
    ck_assert_int_eq(val(g, "w")->kind, VAL_CONST);
    ck_assert_int_eq(g->n_nodes, 1);
    ck_assert_str_eq(g->values[g->outputs[0]].name, "y");
    ir_graph_free(g);
    tb_free(&b);
}
END_TEST

/* ---------------------------------------------------------------- external data */

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

static void tb_external(TB *b, Onnx__TensorProto *t, const char *location, const char *offset, const char *length)
{
    t->has_data_location = 1;
    t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    t->external_data = tb_alloc(b, 3 * sizeof(void *));
    const char *keys[3] = {"location", "offset", "length"}, *vals[3] = {location, offset, length};
    for (int i = 0; i < 3; i++) {
        if (!vals[i]) continue;
        Onnx__StringStringEntryProto *e = tb_alloc(b, sizeof *e);
        onnx__string_string_entry_proto__init(e);
        e->key = tb_str(b, keys[i]);
        e->value = tb_str(b, vals[i]);
        t->external_data[t->n_external_data++] = e;
    }
}

/* Model with one f32[4] initializer "w" stored externally. */
static void ext_model(TB *b, const char *location, const char *offset, const char *length)
{
    tb_init(b, 13);
    int64_t d4[1] = {4};
    Onnx__TensorProto *t = tb_tensor(b, "w", 1, 1, d4, NULL, 0);
    tb_external(b, t, location, offset, length);
    tb_init_add(b, t);
    tb_output(b, "w");
}

START_TEST(test_onnx_external_data)
{
    char dir[] = "/tmp/onnx_test_extXXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char sub[256], path[512], outside[512], link[512];
    snprintf(sub, sizeof sub, "%s/model", dir);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    float data[6] = {-9, 1.5f, 2.5f, 3.5f, 4.5f, -9};
    snprintf(path, sizeof path, "%s/weights.bin", sub);
    write_bytes(path, data, sizeof data);
    snprintf(outside, sizeof outside, "%s/secret.bin", dir);
    write_bytes(outside, data, sizeof data);
    snprintf(link, sizeof link, "%s/link.bin", sub);
    ck_assert_int_eq(symlink(outside, link), 0);

    /* offset + length inside the model's folder */
    TB b;
    ext_model(&b, "weights.bin", "4", "16");
    Diag d;
    Graph *g = tb_import(&b, sub, NULL, &d);
    ck_assert_msg(g != NULL, "%s", d.msg);
    const float *w = val(g, "w")->data;
    ck_assert(w[0] == 1.5f && w[3] == 4.5f);
    ir_graph_free(g);
    tb_free(&b);

    /* through onnx_import_file: the folder is the model file's */
    ext_model(&b, "weights.bin", "4", NULL);
    import_fails(&b, sub, "external data has 20 bytes, expected 16", NULL); /* length defaults to the rest */
    tb_free(&b);
    ext_model(&b, "weights.bin", "4", "16");
    size_t len;
    uint8_t *buf = tb_pack(&b, &len);
    char mpath[512];
    snprintf(mpath, sizeof mpath, "%s/model.onnx", sub);
    write_bytes(mpath, buf, len);
    free(buf);
    g = onnx_import_file(mpath, NULL, &d);
    ck_assert_msg(g != NULL, "%s", d.msg);
    ck_assert(((float *)val(g, "w")->data)[1] == 2.5f);
    ir_graph_free(g);
    tb_free(&b);

    /* escapes are refused: .., absolute paths, symlinks pointing outside */
    ext_model(&b, "../secret.bin", "4", "16");
    import_fails(&b, sub, "initializer 'w'", "escapes the model's folder");
    tb_free(&b);
    ext_model(&b, outside, "4", "16");
    import_fails(&b, sub, "initializer 'w'", "absolute");
    tb_free(&b);
    ext_model(&b, "link.bin", "4", "16");
    import_fails(&b, sub, "initializer 'w'", "escapes the model's folder");
    tb_free(&b);
    /* missing file, short file, no folder (memory import) */
    ext_model(&b, "nope.bin", NULL, NULL);
    import_fails(&b, sub, "initializer 'w'", "cannot open external data");
    tb_free(&b);
    ext_model(&b, "weights.bin", "16", "16");
    import_fails(&b, sub, "initializer 'w'", "too short");
    tb_free(&b);
    ext_model(&b, "weights.bin", "4", "16");
    import_fails(&b, NULL, "initializer 'w'", "external data is not allowed");
    tb_free(&b);
    ext_model(&b, "weights.bin", "x4", "16");
    import_fails(&b, sub, "initializer 'w'", "bad external data offset");
    tb_free(&b);

    unlink(link), unlink(path), unlink(mpath), unlink(outside);
    rmdir(sub), rmdir(dir);
}
END_TEST

/* ---------------------------------------------------------------- inputs, symbolic dims */

START_TEST(test_onnx_symbolic_dims)
{
    TB b;
    int64_t dims[4] = {-1, 3, 224, 224};
    tb_init(&b, 13);
    tb_input(&b, "x", 1, 4, dims);
    tb_node(&b, "Relu", "relu", "x", "y");
    tb_output(&b, "y");
    import_fails(&b, NULL, "input 'x' has symbolic dim 'N' (dim 1); fix it with --shape x=1x3x224x224", NULL);

    OnnxShapeFix fix = {.name = "x", .rank = 4, .dims = {2, 3, 224, 224}};
    OnnxImportOptions opt = {.shapes = &fix, .n_shapes = 1};
    Diag d;
    Graph *g = tb_import(&b, NULL, &opt, &d);
    ck_assert_msg(g != NULL, "%s", d.msg);
    ck_assert_int_eq(g->values[g->inputs[0]].dims[0], 2);
    ck_assert_int_eq(val(g, "y")->dims[0], 2);
    ck_assert_int_eq(val(g, "y")->dims[3], 224);
    ir_graph_free(g);

    /* wrong rank, a conflicting static dim, an unknown input name */
    OnnxShapeFix bad = {.name = "x", .rank = 3, .dims = {1, 3, 224}};
    opt.shapes = &bad;
    ck_assert_ptr_null(tb_import(&b, NULL, &opt, &d));
    ck_assert_msg(strstr(d.msg, "rank 3 does not match the model's rank 4"), "%s", d.msg);
    OnnxShapeFix clash = {.name = "x", .rank = 4, .dims = {1, 4, 224, 224}};
    opt.shapes = &clash;
    ck_assert_ptr_null(tb_import(&b, NULL, &opt, &d));
    ck_assert_msg(strstr(d.msg, "dim 2 is 3 in the model, not 4"), "%s", d.msg);
    OnnxShapeFix fixes[2] = {fix, {.name = "z", .rank = 1, .dims = {1}}};
    opt.shapes = fixes;
    opt.n_shapes = 2;
    ck_assert_ptr_null(tb_import(&b, NULL, &opt, &d));
    ck_assert_msg(strstr(d.msg, "'z', which is not a graph input"), "%s", d.msg);
    tb_free(&b);

    /* an input without any shape needs --shape too */
    tb_init(&b, 13);
    tb_input(&b, "x", 1, -1, NULL);
    tb_node(&b, "Relu", "relu", "x", "y");
    tb_output(&b, "y");
    import_fails(&b, NULL, "input 'x' has no shape", NULL);
    OnnxShapeFix f2 = {.name = "x", .rank = 2, .dims = {5, 6}};
    OnnxImportOptions o2 = {.shapes = &f2, .n_shapes = 1};
    g = tb_import(&b, NULL, &o2, &d);
    ck_assert_msg(g != NULL, "%s", d.msg);
    ck_assert_int_eq(val(g, "y")->dims[1], 6);
    ir_graph_free(g);
    tb_free(&b);
}
END_TEST

START_TEST(test_onnx_const_input_binding)
{
    TB b;
    int64_t d6[1] = {6}, d1[1] = {2};
    tb_init(&b, 13);
    tb_input(&b, "x", 1, 1, d6);
    tb_input(&b, "shape", 7, 1, d1);
    tb_node(&b, "Reshape", "r", "x,shape", "y");
    tb_output(&b, "y");
    import_fails(&b, NULL, "Reshape 'r': shape input 'shape' is not a constant (dynamic shapes are not supported)", NULL);
    char path[] = "/tmp/onnx_test_modelXXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    size_t len;
    uint8_t *buf = tb_pack(&b, &len);
    write_bytes(path, buf, len);
    free(buf);
    int64_t sv[2] = {3, -1};
    Tensor *st = tensor_wrap(DT_I64, 1, d1, sv);
    OnnxConstInput ci = {"shape", st};
    Diag d;
    Graph *g = onnx_import_file_consts(path, NULL, &ci, 1, &d);
    ck_assert_msg(g != NULL, "%s", d.msg);
    ck_assert_int_eq(g->n_inputs, 1);
    ck_assert_int_eq(val(g, "y")->dims[0], 3);
    ck_assert_int_eq(val(g, "y")->dims[1], 2);
    ir_graph_free(g);
    /* a constant of the wrong dtype is refused */
    float fv[2] = {3, -1};
    Tensor *ft = tensor_wrap(DT_F32, 1, d1, fv);
    OnnxConstInput cf = {"shape", ft};
    ck_assert_ptr_null(onnx_import_file_consts(path, NULL, &cf, 1, &d));
    ck_assert_msg(strstr(d.msg, "constant for input 'shape' has dtype f32"), "%s", d.msg);
    tensor_free(ft);
    tensor_free(st);
    unlink(path);
    tb_free(&b);
}
END_TEST

/* ---------------------------------------------------------------- Constant, Identity, folding */

START_TEST(test_onnx_constant_nodes)
{
    TB b;
    int64_t d2[1] = {2};
    tb_init(&b, 13);
    Onnx__NodeProto *n = tb_node(&b, "Constant", "c1", NULL, "c1");
    float fv[2] = {0.5f, 1.5f};
    Onnx__AttributeProto *a = tb_attr(&b, n, "value", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);
    a->t = tb_tensor(&b, "", 1, 1, d2, fv, 8);
    tb_attr_float(&b, tb_node(&b, "Constant", "c2", NULL, "c2"), "value_float", 2.5f);
    tb_attr_floats(&b, tb_node(&b, "Constant", "c3", NULL, "c3"), "value_floats", 2, fv);
    tb_attr_int(&b, tb_node(&b, "Constant", "c4", NULL, "c4"), "value_int", -7);
    int64_t iv[3] = {1, 2, 3};
    tb_attr_ints(&b, tb_node(&b, "Constant", "c5", NULL, "c5"), "value_ints", 3, iv);
    tb_input(&b, "x", 1, 1, d2);
    tb_node(&b, "Add", "add", "x,c1", "y");
    tb_node(&b, "Identity", "id", "c3", "c3b"); /* Identity of a constant: folded away */
    tb_node(&b, "Add", "add2", "x,c3b", "z");
    tb_output(&b, "y");
    tb_output(&b, "z");
    tb_output(&b, "c2");
    tb_output(&b, "c4");
    tb_output(&b, "c5");
    Graph *g = import_ok(&b);
    ck_assert_int_eq(g->n_nodes, 2);
    ck_assert_int_eq(count_op(g, OP_IDENTITY), 0);
    ck_assert(((float *)val(g, "c1")->data)[1] == 1.5f);
    ck_assert_int_eq(val(g, "c2")->rank, 0);
    ck_assert(*(float *)val(g, "c2")->data == 2.5f);
    ck_assert_int_eq(val(g, "c3")->dims[0], 2);
    ck_assert_int_eq(val(g, "c4")->dtype, DT_I64);
    ck_assert(*(int64_t *)val(g, "c4")->data == -7);
    ck_assert(((int64_t *)val(g, "c5")->data)[2] == 3);
    ir_graph_free(g);
    tb_free(&b);

    /* sparse and string constants are unsupported */
    tb_init(&b, 13);
    n = tb_node(&b, "Constant", "sp", NULL, "c");
    a = tb_attr(&b, n, "sparse_value", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSOR);
    tb_output(&b, "c");
    import_fails(&b, NULL, "node 'sp' (Constant)", "sparse constants are not supported");
    tb_free(&b);
    tb_init(&b, 13);
    n = tb_node(&b, "Constant", "st", NULL, "c");
    a = tb_attr(&b, n, "value_string", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    tb_output(&b, "c");
    import_fails(&b, NULL, "node 'st' (Constant)", "string constants are not supported");
    tb_free(&b);
}
END_TEST

START_TEST(test_onnx_identity_output_keeps_name)
{
    TB b;
    int64_t d2[1] = {2};
    float w[2] = {3, 4};
    tb_init(&b, 13);
    tb_init_f32(&b, "w", 1, d2, w);
    tb_input(&b, "x", 1, 1, d2);
    tb_node(&b, "Identity", "i1", "w", "wout");
    tb_node(&b, "Identity", "i2", "x", "xout");
    tb_output(&b, "wout");
    tb_output(&b, "xout");
    Graph *g = import_ok(&b);
    ck_assert_str_eq(g->values[g->outputs[0]].name, "wout");
    ck_assert_int_eq(g->values[g->outputs[0]].kind, VAL_CONST);
    ck_assert(((float *)g->values[g->outputs[0]].data)[1] == 4.0f);
    ck_assert_str_eq(g->values[g->outputs[1]].name, "xout");
    ck_assert_int_eq(count_op(g, OP_IDENTITY), 1);
    ir_graph_free(g);
    tb_free(&b);
}
END_TEST

/* PyTorch's dynamic-reshape idiom: Shape -> Gather -> Unsqueeze -> Concat -> Reshape folds to
 * one Reshape with a constant shape attribute. */
START_TEST(test_onnx_fold_shape_chain)
{
    TB b;
    int64_t dx[3] = {2, 3, 4}, d1[1] = {1};
    tb_init(&b, 13);
    tb_input(&b, "x", 1, 3, dx);
    int64_t zero = 0, minus1 = -1;
    tb_init_add(&b, tb_tensor(&b, "idx", 7, 0, NULL, &zero, 8));
    tb_init_i64(&b, "axes0", 1, d1, &zero);
    tb_init_i64(&b, "minus1", 1, d1, &minus1);
    tb_node(&b, "Shape", "shape", "x", "s");
    tb_node(&b, "Gather", "gather", "s,idx", "b");
    tb_node(&b, "Unsqueeze", "unsq", "b,axes0", "bu");
    tb_attr_int(&b, tb_node(&b, "Concat", "concat", "bu,minus1", "shp"), "axis", 0);
    tb_node(&b, "Reshape", "reshape", "x,shp", "y");
    tb_output(&b, "y");
    Graph *g = import_ok(&b);
    ck_assert_int_eq(g->n_nodes, 1);
    const Node *r = first_op(g, OP_RESHAPE);
    ck_assert_int_eq(r->n_in, 1);
    int n;
    const int64_t *shape = ir_attr_ints(r, "shape", &n);
    ck_assert_int_eq(n, 2);
    ck_assert(shape[0] == 2 && shape[1] == -1);
    ck_assert_int_eq(val(g, "y")->dims[0], 2);
    ck_assert_int_eq(val(g, "y")->dims[1], 12);
    ir_graph_free(g);
    tb_free(&b);
}
END_TEST

/* ---------------------------------------------------------------- opset conversions */

static Graph *clip_model(int opset)
{
    TB b;
    int64_t d4[1] = {4};
    tb_init(&b, opset);
    tb_input(&b, "x", 1, 1, d4);
    if (opset < 11) {
        Onnx__NodeProto *n = tb_node(&b, "Clip", "clip", "x", "y");
        tb_attr_float(&b, n, "min", -1.0f);
        tb_attr_float(&b, n, "max", 2.0f);
    } else {
        float lo = -1, hi = 2;
        tb_init_add(&b, tb_tensor(&b, "lo", 1, 0, NULL, &lo, 4));
        tb_init_add(&b, tb_tensor(&b, "hi", 1, 0, NULL, &hi, 4));
        tb_node(&b, "Clip", "clip", "x,lo,hi", "y");
    }
    tb_output(&b, "y");
    Graph *g = import_ok(&b);
    tb_free(&b);
    return g;
}

START_TEST(test_onnx_clip_versions)
{
    for (int k = 0; k < 2; k++) {
        Graph *g = clip_model(k ? 11 : 6);
        ck_assert_int_eq(g->n_nodes, 1);
        const Node *c = first_op(g, OP_CLIP);
        ck_assert_int_eq(c->n_in, 1);
        ck_assert(ir_attr_float(c, "min", 0) == -1.0);
        ck_assert(ir_attr_float(c, "max", 0) == 2.0);
        ir_graph_free(g);
    }
    /* Clip 11 with only max given: min stays absent (-inf) */
    TB b;
    int64_t d4[1] = {4};
    float hi = 3;
    tb_init(&b, 12);
    tb_input(&b, "x", 1, 1, d4);
    tb_init_add(&b, tb_tensor(&b, "hi", 1, 0, NULL, &hi, 4));
    tb_node(&b, "Clip", "clip", "x,,hi", "y");
    tb_output(&b, "y");
    Graph *g = import_ok(&b);
    const Node *c = first_op(g, OP_CLIP);
    ck_assert_ptr_null(ir_attr_find(c, "min"));
    ck_assert(ir_attr_float(c, "max", 0) == 3.0);
    ir_graph_free(g);
    tb_free(&b);
}
END_TEST

static Graph *softmax_model(int opset, int64_t axis)
{
    TB b;
    int64_t dx[3] = {2, 3, 4};
    tb_init(&b, opset);
    tb_input(&b, "x", 1, 3, dx);
    tb_attr_int(&b, tb_node(&b, "Softmax", "sm", "x", "y"), "axis", axis);
    tb_output(&b, "y");
    Graph *g = import_ok(&b);
    tb_free(&b);
    return g;
}

START_TEST(test_onnx_softmax_versions)
{
    float in[24];
    unsigned long long seed = 7;
    for (int i = 0; i < 24; i++) in[i] = test_randf(&seed, -2, 2);
    int64_t dx[3] = {2, 3, 4};
    Tensor *x = tensor_wrap(DT_F32, 3, dx, in);

    /* opset 11, axis 1 of a rank-3 input: coerced to 2-D [2, 12], normalised per batch */
    Graph *g = softmax_model(11, 1);
    ck_assert_int_eq(g->n_nodes, 3);
    ck_assert_int_eq(count_op(g, OP_RESHAPE), 2);
    ck_assert_int_eq(ir_attr_int(first_op(g, OP_SOFTMAX), "axis", -1), 1);
    Tensor *y = NULL;
    Diag d;
    ck_assert_msg(interp_run(g, &x, &y, NULL, &d) == 0, "%s", d.msg);
    ck_assert_int_eq(y->rank, 3);
    for (int bt = 0; bt < 2; bt++) {
        double s = 0;
        for (int i = 0; i < 12; i++) s += ((float *)y->data)[bt * 12 + i];
        ck_assert_msg(fabs(s - 1) < 1e-5, "batch %d sums to %g", bt, s);
    }
    tensor_free(y);
    ir_graph_free(g);

    /* opset 13, axis 1: one Softmax over axis 1 (sums to 1 over 3 elements) */
    g = softmax_model(13, 1);
    ck_assert_int_eq(g->n_nodes, 1);
    ck_assert_int_eq(ir_attr_int(first_op(g, OP_SOFTMAX), "axis", -1), 1);
    ck_assert_msg(interp_run(g, &x, &y, NULL, &d) == 0, "%s", d.msg);
    double s = 0;
    for (int c = 0; c < 3; c++) s += ((float *)y->data)[c * 4];
    ck_assert(fabs(s - 1) < 1e-5);
    tensor_free(y);
    ir_graph_free(g);

    /* opset 11 on the last axis needs no reshapes */
    g = softmax_model(11, -1);
    ck_assert_int_eq(g->n_nodes, 1);
    ck_assert_int_eq(ir_attr_int(first_op(g, OP_SOFTMAX), "axis", -1), 2);
    ir_graph_free(g);
    tensor_free(x);
}
END_TEST

START_TEST(test_onnx_squeeze_versions)
{
    int64_t dx[3] = {1, 3, 1}, d1[1] = {1};
    for (int k = 0; k < 2; k++) {
        TB b;
        tb_init(&b, k ? 13 : 11);
        tb_input(&b, "x", 1, 3, dx);
        int64_t axes = 2;
        if (k) {
            tb_init_i64(&b, "axes", 1, d1, &axes);
            tb_node(&b, "Squeeze", "sq", "x,axes", "y");
        } else {
            tb_attr_ints(&b, tb_node(&b, "Squeeze", "sq", "x", "y"), "axes", 1, &axes);
        }
        tb_output(&b, "y");
        Graph *g = import_ok(&b);
        const Node *n = first_op(g, OP_SQUEEZE);
        ck_assert_int_eq(n->n_in, 1);
        int cnt;
        const int64_t *ax = ir_attr_ints(n, "axes", &cnt);
        ck_assert_int_eq(cnt, 1);
        ck_assert(ax[0] == 2);
        ck_assert_int_eq(val(g, "y")->rank, 2);
        ck_assert_int_eq(val(g, "y")->dims[1], 3);
        ir_graph_free(g);
        tb_free(&b);
    }
}
END_TEST

START_TEST(test_onnx_upsample_and_legacy_broadcast)
{
    TB b;
    int64_t dx[4] = {1, 2, 3, 4}, d4[1] = {4}, d2[1] = {2};
    tb_init(&b, 9);
    tb_input(&b, "x", 1, 4, dx);
    float sc[4] = {1, 1, 2, 3};
    tb_init_add(&b, tb_tensor(&b, "scales", 1, 1, d4, sc, 16));
    tb_node(&b, "Upsample", "up", "x,scales", "y");
    tb_output(&b, "y");
    Graph *g = import_ok(&b);
    const Node *r = first_op(g, OP_RESIZE);
    ck_assert_str_eq(ir_attr_str(r, "coordinate_transformation_mode", ""), "asymmetric");
    ck_assert_str_eq(ir_attr_str(r, "nearest_mode", ""), "floor");
    ck_assert_str_eq(ir_attr_str(r, "mode", ""), "nearest");
    int n;
    const int64_t *sizes = ir_attr_ints(r, "sizes", &n);
    ck_assert_int_eq(n, 4);
    ck_assert(sizes[2] == 6 && sizes[3] == 12);
    ck_assert_int_eq(val(g, "y")->dims[3], 12);
    ir_graph_free(g);
    tb_free(&b);

    /* opset 6 Add with broadcast=1, axis=1: B [2] aligns with A's dim 1 */
    tb_init(&b, 6);
    tb_input(&b, "x", 1, 4, dx);
    float bias[2] = {10, 20};
    tb_init_f32(&b, "bias", 1, d2, bias);
    Onnx__NodeProto *add = tb_node(&b, "Add", "add", "x,bias", "y");
    tb_attr_int(&b, add, "broadcast", 1);
    tb_attr_int(&b, add, "axis", 1);
    tb_output(&b, "y");
    g = import_ok(&b);
    ck_assert_int_eq(g->n_nodes, 1); /* the reshape of the constant bias folded */
    const Value *y = val(g, "y");
    ck_assert_int_eq(y->rank, 4);
    ck_assert_int_eq(y->dims[1], 2);
    ck_assert_int_eq(y->dims[3], 4);
    const Node *an = first_op(g, OP_ADD);
    const Value *bv = &g->values[an->in[1]];
    ck_assert_int_eq(bv->rank, 3); /* [2,1,1] */
    ck_assert_int_eq(bv->dims[0], 2);
    ir_graph_free(g);
    tb_free(&b);
    (void)d4;
}
END_TEST

START_TEST(test_onnx_inputs_to_attributes)
{
    TB b;
    int64_t dx[4] = {1, 1, 2, 3}, d4[1] = {4}, d8[1] = {8}, d1[1] = {1};
    tb_init(&b, 13);
    tb_input(&b, "x", 1, 4, dx);
    int64_t sizes[4] = {1, 1, 4, 6}, pads[8] = {0, 0, 1, 0, 0, 0, 1, 2}, axes = 3;
    tb_init_i64(&b, "sizes", 1, d4, sizes);
    tb_node(&b, "Resize", "rz", "x,,,sizes", "r");
    tb_init_i64(&b, "pads", 1, d8, pads);
    float pv = 7;
    tb_init_add(&b, tb_tensor(&b, "pv", 1, 0, NULL, &pv, 4));
    tb_node(&b, "Pad", "pad", "x,pads,pv", "p");
    tb_init_i64(&b, "axes", 1, d1, &axes);
    tb_node(&b, "ReduceSum", "rs", "x,axes", "s");
    tb_attr_ints(&b, tb_node(&b, "ReduceMean", "rm", "x", "m"), "axes", 1, &axes);
    tb_output(&b, "r");
    tb_output(&b, "p");
    tb_output(&b, "s");
    tb_output(&b, "m");
    Graph *g = import_ok(&b);
    int n;
    const Node *rz = first_op(g, OP_RESIZE);
    ck_assert_int_eq(rz->n_in, 1);
    const double *sc = ir_attr_floats(rz, "scales", &n);
    ck_assert_int_eq(n, 4);
    ck_assert(sc[0] == 1 && sc[2] == 2 && sc[3] == 2);
    ck_assert_int_eq(val(g, "r")->dims[3], 6);
    const Node *pd = first_op(g, OP_PAD);
    ck_assert_int_eq(pd->n_in, 1);
    ck_assert(ir_attr_float(pd, "value", 0) == 7.0);
    ck_assert_int_eq(val(g, "p")->dims[2], 4);
    ck_assert_int_eq(val(g, "p")->dims[3], 5);
    const int64_t *ax = ir_attr_ints(first_op(g, OP_REDUCE_SUM), "axes", &n);
    ck_assert(n == 1 && ax[0] == 3);
    ck_assert_int_eq(first_op(g, OP_REDUCE_SUM)->n_in, 1);
    ax = ir_attr_ints(first_op(g, OP_REDUCE_MEAN), "axes", &n);
    ck_assert(n == 1 && ax[0] == 3);
    ck_assert_int_eq(val(g, "m")->dims[3], 1);
    ir_graph_free(g);
    tb_free(&b);
}
END_TEST

/* A real conformance test: Reshape whose shape is a graph input, bound to its test tensor. */
START_TEST(test_onnx_conformance_file)
{
    const char *dir = "/usr/share/libonnx-testdata/data/node/test_reshape_reordered_all_dims";
    char path[512];
    Tensor *in[2], *want;
    char *names[2];
    Diag d;
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s/test_data_set_0/input_%d.pb", dir, k);
        ck_assert_msg(onnx_tensor_read_file(path, &in[k], &names[k], &d) == 0, "%s: %s", path, d.msg);
    }
    snprintf(path, sizeof path, "%s/test_data_set_0/output_0.pb", dir);
    ck_assert_int_eq(onnx_tensor_read_file(path, &want, NULL, &d), 0);
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    ck_assert_ptr_null(onnx_import_file(path, NULL, &d));
    ck_assert_msg(strstr(d.msg, "is not a constant"), "%s", d.msg);
    OnnxConstInput ci = {names[1], in[1]};
    Graph *g = onnx_import_file_consts(path, NULL, &ci, 1, &d);
    ck_assert_msg(g != NULL, "%s", d.msg);
    ck_assert_int_eq(g->n_inputs, 1);
    Tensor *got = NULL;
    ck_assert_msg(interp_run(g, &in[0], &got, NULL, &d) == 0, "%s", d.msg);
    ck_assert_int_eq(got->rank, want->rank);
    for (int i = 0; i < want->rank; i++) ck_assert_int_eq(got->dims[i], want->dims[i]);
    ck_assert_mem_eq(got->data, want->data, tensor_nbytes(want));
    tensor_free(got);
    ir_graph_free(g);
    for (int k = 0; k < 2; k++) tensor_free(in[k]), free(names[k]);
    tensor_free(want);
}
END_TEST

START_TEST(test_onnx_rule_table_covers_ir_ops)
{
    for (int op = 0; op < OP_FIRST_INTERNAL; op++) {
        const OnnxOpRule *r = onnx_rule_find(ir_op_name((OpKind)op));
        ck_assert_msg(r != NULL, "no ONNX rule for IR op %s", ir_op_name((OpKind)op));
        ck_assert_int_eq(r->op, op);
    }
    ck_assert_ptr_null(onnx_rule_find("NoSuchOp"));
}
END_TEST

/* ---------------------------------------------------------------- problems, malformed models */

START_TEST(test_onnx_unsupported_and_collect)
{
    TB b;
    int64_t d4[1] = {4};
    tb_init(&b, 13);
    tb_input(&b, "x", 1, 1, d4);
    tb_node(&b, "Frobnicate", "f1", "x", "a");
    tb_node(&b, "Relu", "r1", "a", "b");        /* depends on a failed node: skipped quietly */
    tb_node(&b, "Frobnicate", "f2", "b", "c");  /* still reported */
    Onnx__NodeProto *n = tb_node(&b, "Relu", "r2", "x", "d");
    tb_attr_int(&b, n, "bogus", 1);              /* unsupported attribute */
    n = tb_node(&b, "Conv", "ms", "x", "e");
    n->domain = "com.microsoft";
    tb_output(&b, "c");
    tb_output(&b, "d");
    tb_output(&b, "e");
    import_fails(&b, NULL, "node 'f1': unsupported op 'Frobnicate' (domain 'ai.onnx', opset 13)", NULL);

    OnnxProblem *pr = NULL;
    int np = 0;
    OnnxImportOptions opt = {.problems = &pr, .n_problems = &np};
    Diag d;
    ck_assert_ptr_null(tb_import(&b, NULL, &opt, &d));
    ck_assert_int_eq(np, 4);
    ck_assert_str_eq(pr[0].kind, "op");
    ck_assert_str_eq(pr[0].node, "f1");
    ck_assert_str_eq(pr[0].op, "Frobnicate");
    ck_assert_str_eq(pr[1].node, "f2");
    ck_assert_str_eq(pr[2].kind, "attribute");
    ck_assert_msg(strstr(pr[2].msg, "unsupported attribute 'bogus'"), "%s", pr[2].msg);
    ck_assert_str_eq(pr[3].kind, "op");
    ck_assert_msg(strstr(pr[3].msg, "domain 'com.microsoft'"), "%s", pr[3].msg);
    ck_assert_msg(strstr(d.msg, "4 problems"), "%s", d.msg);
    free(pr);
    tb_free(&b);

    /* a non-constant shape input is a "value" problem; training-mode BatchNorm is refused */
    tb_init(&b, 15);
    int64_t dx[4] = {1, 2, 2, 2}, d2[1] = {2};
    tb_input(&b, "x", 1, 4, dx);
    tb_input(&b, "s", 7, 1, d2);
    tb_node(&b, "Reshape", "rs", "x,s", "y");
    float p2[2] = {1, 1};
    tb_init_f32(&b, "sc", 1, d2, p2);
    tb_node(&b, "BatchNormalization", "bn", "x,sc,sc,sc,sc", "z,rm,rv");
    tb_output(&b, "y");
    tb_output(&b, "z");
    pr = NULL;
    np = 0;
    ck_assert_ptr_null(tb_import(&b, NULL, &opt, &d));
    ck_assert_int_eq(np, 2);
    ck_assert_str_eq(pr[0].kind, "value");
    ck_assert_str_eq(pr[0].msg, "Reshape 'rs': shape input 's' is not a constant (dynamic shapes are not supported)");
    ck_assert_msg(strstr(pr[1].msg, "training mode"), "%s", pr[1].msg);
    free(pr);
    tb_free(&b);
}
END_TEST

START_TEST(test_onnx_graph_structure_errors)
{
    TB b;
    int64_t d4[1] = {4};
    /* dangling input */
    tb_init(&b, 13);
    tb_input(&b, "x", 1, 1, d4);
    tb_node(&b, "Add", "add", "x,ghost", "y");
    tb_output(&b, "y");
    import_fails(&b, NULL, "node 'add' (Add): input 'ghost' is not defined", NULL);
    tb_free(&b);
    /* cycle */
    tb_init(&b, 13);
    tb_input(&b, "x", 1, 1, d4);
    tb_node(&b, "Add", "a1", "x,q", "p");
    tb_node(&b, "Relu", "a2", "p", "q");
    tb_output(&b, "q");
    import_fails(&b, NULL, "cycle through node 'a1'", NULL);
    tb_free(&b);
    /* two producers */
    tb_init(&b, 13);
    tb_input(&b, "x", 1, 1, d4);
    tb_node(&b, "Relu", "r1", "x", "y");
    tb_node(&b, "Relu", "r2", "x", "y");
    tb_output(&b, "y");
    import_fails(&b, NULL, "node 'r2' (Relu): output 'y' is already produced by node 'r1'", NULL);
    tb_free(&b);
    /* nodes out of order are sorted */
    tb_init(&b, 13);
    tb_input(&b, "x", 1, 1, d4);
    tb_node(&b, "Relu", "second", "a", "y");
    tb_node(&b, "Neg", "first", "x", "a");
    tb_output(&b, "y");
    Graph *g = import_ok(&b);
    ck_assert_str_eq(g->nodes[0].name, "first");
    ck_assert_str_eq(g->nodes[1].name, "second");
    ir_graph_free(g);
    tb_free(&b);
    /* graph output nobody produces */
    tb_init(&b, 13);
    tb_input(&b, "x", 1, 1, d4);
    tb_node(&b, "Relu", "r", "x", "y");
    tb_output(&b, "zz");
    import_fails(&b, NULL, "graph output 'zz' is not produced", NULL);
    tb_free(&b);
}
END_TEST

START_TEST(test_onnx_malformed_buffers)
{
    Diag d;
    ck_assert_ptr_null(onnx_import_buffer("", 0, NULL, NULL, &d));
    ck_assert_msg(strstr(d.msg, "not an ONNX model"), "%s", d.msg);
    unsigned char garbage[256];
    unsigned long long s = 42;
    for (int i = 0; i < 256; i++) garbage[i] = (unsigned char)(test_randf(&s, 0, 256));
    ck_assert_ptr_null(onnx_import_buffer(garbage, sizeof garbage, NULL, NULL, &d));
    ck_assert_msg(strstr(d.msg, "ONNX model"), "%s", d.msg);
    const char *text = "this is not a model at all\n";
    ck_assert_ptr_null(onnx_import_buffer(text, strlen(text), NULL, NULL, &d));
    ck_assert_msg(strstr(d.msg, "not an ONNX model"), "%s", d.msg);

    /* every truncation of a valid model fails cleanly (or, rarely, parses to a smaller one) */
    TB b;
    int64_t d4[1] = {4};
    float w[4] = {1, 2, 3, 4};
    tb_init(&b, 13);
    tb_input(&b, "x", 1, 1, d4);
    tb_init_f32(&b, "w", 1, d4, w);
    tb_node(&b, "Add", "add", "x,w", "y");
    tb_output(&b, "y");
    size_t len;
    uint8_t *buf = tb_pack(&b, &len);
    int failures = 0;
    for (size_t cut = 1; cut < len; cut++) {
        Graph *g = onnx_import_buffer(buf, cut, NULL, NULL, &d);
        if (!g) {
            failures++;
            ck_assert_msg(d.msg[0] && !strchr(d.msg, '\n'), "cut %zu: bad message '%s'", cut, d.msg);
        }
        ir_graph_free(g);
    }
    ck_assert_int_gt(failures, (int)len / 2);
    Graph *g = onnx_import_buffer(buf, len, NULL, NULL, &d);
    ck_assert_msg(g != NULL, "%s", d.msg);
    ir_graph_free(g);
    free(buf);

    /* no ir_version / no graph */
    b.model.has_ir_version = 0;
    import_fails(&b, NULL, "no ir_version", NULL);
    b.model.has_ir_version = 1;
    b.model.graph = NULL;
    import_fails(&b, NULL, "has no graph", NULL);
    tb_free(&b);

    ck_assert_ptr_null(onnx_import_file("/nonexistent/model.onnx", NULL, &d));
    ck_assert_msg(strstr(d.msg, "cannot open"), "%s", d.msg);
}
END_TEST

/* ---------------------------------------------------------------- TensorProto files */

START_TEST(test_onnx_tensor_file_round_trip)
{
    char dir[] = "/tmp/onnx_test_pbXXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/t.pb", dir);
    int64_t dims[3] = {2, 1, 3};
    DType types[4] = {DT_F32, DT_I64, DT_BOOL, DT_F64};
    for (int k = 0; k < 4; k++) {
        Tensor *t = tensor_new(types[k], 3, dims);
        for (int i = 0; i < 6; i++) tensor_set_f64(t, i, k == 2 ? (i & 1) : i * 1.5 - 2);
        Diag d;
        ck_assert_msg(onnx_tensor_write_file(path, t, "my_input", &d) == 0, "%s", d.msg);
        Tensor *r = NULL;
        char *name = NULL;
        ck_assert_msg(onnx_tensor_read_file(path, &r, &name, &d) == 0, "%s", d.msg);
        ck_assert_str_eq(name, "my_input");
        ck_assert_int_eq(r->dtype, types[k]);
        ck_assert_int_eq(r->rank, 3);
        ck_assert_int_eq(r->dims[2], 3);
        ck_assert_mem_eq(r->data, t->data, tensor_nbytes(t));
        tensor_free(r);
        tensor_free(t);
        free(name);
    }
    /* scalar, no name */
    int64_t none[1] = {0};
    Tensor *sc = tensor_new(DT_I32, 0, none);
    *(int32_t *)sc->data = -12;
    Diag d;
    ck_assert_int_eq(onnx_tensor_write_file(path, sc, NULL, &d), 0);
    Tensor *r = NULL;
    ck_assert_int_eq(onnx_tensor_read_file(path, &r, NULL, &d), 0);
    ck_assert_int_eq(r->rank, 0);
    ck_assert_int_eq(*(int32_t *)r->data, -12);
    tensor_free(r);
    tensor_free(sc);
    /* only t.pb is left: no temporary files */
    char cmd[300];
    snprintf(cmd, sizeof cmd, "test $(ls -A %s | wc -l) -eq 1", dir);
    ck_assert_int_eq(system(cmd), 0);
    /* reading the conformance data's format: a file that is not a tensor */
    write_bytes(path, "\xff\xff\xff\xff", 4);
    ck_assert_int_eq(onnx_tensor_read_file(path, &r, NULL, &d), -1);
    ck_assert_msg(strstr(d.msg, "TensorProto"), "%s", d.msg);
    ck_assert_int_eq(onnx_tensor_read_file("/nonexistent.pb", &r, NULL, &d), -1);
    /* writing into a missing folder fails */
    Tensor *t1 = tensor_new(DT_F32, 1, dims);
    ck_assert_int_eq(onnx_tensor_write_file("/nonexistent_dir/x.pb", t1, NULL, &d), -1);
    ck_assert_msg(strstr(d.msg, "cannot create"), "%s", d.msg);
    tensor_free(t1);
    unlink(path);
    rmdir(dir);
}
END_TEST

TEST_SUITE(onnx)
{
    Suite *s = suite_create("onnx");
    TCase *tc = tcase_create("onnx");
    tcase_add_test(tc, test_onnx_initializer_kinds);
    tcase_add_test(tc, test_onnx_initializer_errors);
    tcase_add_test(tc, test_onnx_initializer_input_is_constant);
    tcase_add_test(tc, test_onnx_external_data);
    tcase_add_test(tc, test_onnx_symbolic_dims);
    tcase_add_test(tc, test_onnx_const_input_binding);
    tcase_add_test(tc, test_onnx_constant_nodes);
    tcase_add_test(tc, test_onnx_identity_output_keeps_name);
    tcase_add_test(tc, test_onnx_fold_shape_chain);
    tcase_add_test(tc, test_onnx_clip_versions);
    tcase_add_test(tc, test_onnx_softmax_versions);
    tcase_add_test(tc, test_onnx_squeeze_versions);
    tcase_add_test(tc, test_onnx_upsample_and_legacy_broadcast);
    tcase_add_test(tc, test_onnx_inputs_to_attributes);
    tcase_add_test(tc, test_onnx_conformance_file);
    tcase_add_test(tc, test_onnx_rule_table_covers_ir_ops);
    tcase_add_test(tc, test_onnx_unsupported_and_collect);
    tcase_add_test(tc, test_onnx_graph_structure_errors);
    tcase_add_test(tc, test_onnx_malformed_buffers);
    tcase_add_test(tc, test_onnx_tensor_file_round_trip);
    suite_add_tcase(s, tc);
    return s;
}

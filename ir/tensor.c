/* tensor.c — dense row-major tensors used by the interpreter, the frontend and the tools:
 * allocation, generic element access across dtypes, shape helpers.
 */
#include "ir.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int64_t shape_numel(int rank, const int64_t *dims)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    return n;
}

static Tensor *tensor_alloc_struct(DType t, int rank, const int64_t *dims)
{
    IR_ASSERT(rank >= 0 && rank <= IR_MAX_RANK);
    Tensor *x = xcalloc(1, sizeof *x);
    x->dtype = t;
    x->rank = rank;
    for (int i = 0; i < rank; i++) x->dims[i] = dims[i];
    return x;
}

Tensor *tensor_new(DType t, int rank, const int64_t *dims)
{
    Tensor *x = tensor_alloc_struct(t, rank, dims);
    x->data = xcalloc((size_t)tensor_numel(x), dtype_size(t));
    x->owns = 1;
    return x;
}

Tensor *tensor_wrap(DType t, int rank, const int64_t *dims, void *data)
{
    Tensor *x = tensor_alloc_struct(t, rank, dims);
    x->data = data;
    return x;
}

Tensor *tensor_clone(const Tensor *t)
{
    Tensor *x = tensor_new(t->dtype, t->rank, t->dims);
    memcpy(x->data, t->data, tensor_nbytes(t));
    return x;
}

void tensor_free(Tensor *t)
{
    if (!t) return;
    if (t->owns) free(t->data);
    free(t);
}

int64_t tensor_numel(const Tensor *t) { return shape_numel(t->rank, t->dims); }
size_t tensor_nbytes(const Tensor *t) { return (size_t)tensor_numel(t) * dtype_size(t->dtype); }

double elem_get_f64(DType t, const void *p, int64_t i)
{
    switch (t) {
#define X(e, s, c, o) \
    case DT_##e: return (double)((const c *)p)[i];
        IR_DTYPES(X)
#undef X
    default: IR_ASSERT(!"bad dtype");
    }
    return 0;
}

void elem_set_f64(DType t, void *p, int64_t i, double v)
{
    switch (t) {
    case DT_F32: ((float *)p)[i] = (float)v; return;
    case DT_F64: ((double *)p)[i] = v; return;
    case DT_BOOL: ((uint8_t *)p)[i] = v != 0; return;
    default: break;
    }
    /* float -> integer: truncate toward zero like a C cast; NaN/out of range -> 0/wrap via i64 */
    int64_t iv = isfinite(v) && fabs(v) < 9.2e18 ? (int64_t)v : 0;
    if (t == DT_U64 && v >= 9.2e18 && v < 1.8e19) {
        ((uint64_t *)p)[i] = (uint64_t)v;
        return;
    }
    elem_set_i64(t, p, i, iv);
}

int64_t elem_get_i64(DType t, const void *p, int64_t i)
{
    switch (t) {
#define X(e, s, c, o) \
    case DT_##e: return (int64_t)((const c *)p)[i];
        IR_DTYPES(X)
#undef X
    default: IR_ASSERT(!"bad dtype");
    }
    return 0;
}

void elem_set_i64(DType t, void *p, int64_t i, int64_t v)
{
    if (t == DT_BOOL) {
        ((uint8_t *)p)[i] = v != 0;
        return;
    }
    switch (t) {
#define X(e, s, c, o) \
    case DT_##e: ((c *)p)[i] = (c)v; return;
        IR_DTYPES(X)
#undef X
    default: IR_ASSERT(!"bad dtype");
    }
}

double tensor_get_f64(const Tensor *t, int64_t i) { return elem_get_f64(t->dtype, t->data, i); }
void tensor_set_f64(Tensor *t, int64_t i, double v) { elem_set_f64(t->dtype, t->data, i, v); }
int64_t tensor_get_i64(const Tensor *t, int64_t i) { return elem_get_i64(t->dtype, t->data, i); }
void tensor_set_i64(Tensor *t, int64_t i, int64_t v) { elem_set_i64(t->dtype, t->data, i, v); }

uint64_t ir_rand_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void shape_strides(int rank, const int64_t *dims, int64_t *strides)
{
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        strides[i] = s;
        s *= dims[i];
    }
}

char *shape_str(int rank, const int64_t *dims, char *buf, size_t n)
{
    if (rank == 0) {
        snprintf(buf, n, "scalar");
        return buf;
    }
    size_t k = 0;
    buf[0] = 0;
    for (int i = 0; i < rank && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, i ? "x%lld" : "%lld", (long long)dims[i]);
    return buf;
}

/* dtype.c — element types: sizes, text names, ONNX TensorProto codes (table in ir.h). */
#include "ir.h"

#include <string.h>

static const struct {
    const char *name;
    size_t size;
    int onnx;
} dtypes[DT_COUNT] = {
    [DT_UNDEF] = {"undef", 0, 0},
#define X(e, s, c, o) [DT_##e] = {s, sizeof(c), o},
    IR_DTYPES(X)
#undef X
};

size_t dtype_size(DType t) { return (t > 0 && t < DT_COUNT) ? dtypes[t].size : 0; }
const char *dtype_name(DType t) { return (t >= 0 && t < DT_COUNT) ? dtypes[t].name : "undef"; }
int dtype_to_onnx(DType t) { return (t > 0 && t < DT_COUNT) ? dtypes[t].onnx : 0; }

DType dtype_from_name(const char *s)
{
    for (int t = 1; t < DT_COUNT; t++)
        if (!strcmp(dtypes[t].name, s)) return (DType)t;
    return DT_UNDEF;
}

DType dtype_from_onnx(int code)
{
    for (int t = 1; t < DT_COUNT; t++)
        if (dtypes[t].onnx == code) return (DType)t;
    return DT_UNDEF;
}

int dtype_is_float(DType t) { return t == DT_F32 || t == DT_F64; }
int dtype_is_signed(DType t) { return t == DT_I8 || t == DT_I16 || t == DT_I32 || t == DT_I64; }
int dtype_is_int(DType t)
{
    return dtype_is_signed(t) || t == DT_U8 || t == DT_U16 || t == DT_U32 || t == DT_U64;
}

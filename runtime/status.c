/* status.c — status code names, the per-thread detail message behind ppcrt_last_error(), and the
 * ONNX dtype tables (element size, name) the runtime uses to check descriptors.
 *
 * The detail message lives in a fixed thread-local buffer, so reporting an error never allocates
 * and cannot itself fail; messages longer than the buffer are truncated.
 */
#include <stdarg.h>
#include <stdio.h>

#include "runtime/rt.h"

static _Thread_local char last_error[512];

PPCRT_API const char *ppcrt_status_string(int status)
{
    switch (status) {
    case PPCRT_OK: return "ok";
    case PPCRT_ERR_ARG: return "invalid argument";
    case PPCRT_ERR_IO: return "cannot read model file";
    case PPCRT_ERR_LOAD: return "cannot load model library";
    case PPCRT_ERR_NOT_A_MODEL: return "not a ppcc model";
    case PPCRT_ERR_ABI: return "model ABI version mismatch";
    case PPCRT_ERR_BAD_MODEL: return "invalid model descriptor";
    case PPCRT_ERR_NOMEM: return "out of memory";
    case PPCRT_ERR_THREAD: return "cannot create thread";
    case PPCRT_ERR_BUSY: return "session busy";
    case PPCRT_ERR_RUN: return "model run failed";
    default: return "unknown status";
    }
}

PPCRT_API const char *ppcrt_last_error(void) { return last_error; }

int ppcrt_fail(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

static const struct {
    int code;
    unsigned char size;
    const char *name;
} dtypes[] = {
    {PPCRT_DT_FLOAT, 4, "float"},        {PPCRT_DT_UINT8, 1, "uint8"},
    {PPCRT_DT_INT8, 1, "int8"},          {PPCRT_DT_UINT16, 2, "uint16"},
    {PPCRT_DT_INT16, 2, "int16"},        {PPCRT_DT_INT32, 4, "int32"},
    {PPCRT_DT_INT64, 8, "int64"},        {PPCRT_DT_BOOL, 1, "bool"},
    {PPCRT_DT_FLOAT16, 2, "float16"},    {PPCRT_DT_DOUBLE, 8, "double"},
    {PPCRT_DT_UINT32, 4, "uint32"},      {PPCRT_DT_UINT64, 8, "uint64"},
    {PPCRT_DT_COMPLEX64, 8, "complex64"}, {PPCRT_DT_COMPLEX128, 16, "complex128"},
    {PPCRT_DT_BFLOAT16, 2, "bfloat16"},
};

PPCRT_API size_t ppcrt_dtype_size(int dtype)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (dtypes[i].code == dtype) return dtypes[i].size;
    return 0;
}

PPCRT_API const char *ppcrt_dtype_name(int dtype)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (dtypes[i].code == dtype) return dtypes[i].name;
    return "unknown";
}

/* lowering.c — helpers lowering functions use to describe a native kernel call (lowering.h).
 *
 * A lowering function fills a CgKernelCall: cg_call_init(call, "xxx_range_fn"), the kernel's
 * parameter struct with cg_call_params, then the buffers in the order the kernel's range
 * function reads bufs[]: cg_call_value (an IR value's run-time address), cg_call_none (NULL) or
 * cg_call_blob (constant data the lowering made, e.g. packed weights: it becomes a read-only
 * global of the model and is passed as the next buffer). Each returns the buffer's index.
 * Overflowing CG_MAX_BUFS/CG_MAX_BLOBS/CG_MAX_PARAMS is a bug in the lowering (assertion).
 */
#include <stdlib.h>
#include <string.h>

#include "codegen/lowering.h"

void cg_call_init(CgKernelCall *call, const char *range_fn)
{
    memset(call, 0, sizeof *call);
    call->range_fn = range_fn;
    call->grain = 1;
}

void cg_call_params(CgKernelCall *call, const void *params, size_t size)
{
    IR_ASSERT(size <= CG_MAX_PARAMS);
    memcpy(call->params, params, size);
    call->params_size = size;
}

static int add_buf(CgKernelCall *call, CgBuf b)
{
    IR_ASSERT(call->n_bufs < CG_MAX_BUFS);
    call->bufs[call->n_bufs] = b;
    return call->n_bufs++;
}

int cg_call_value(CgKernelCall *call, int value_id)
{
    IR_ASSERT(value_id >= 0);
    return add_buf(call, (CgBuf){.kind = CG_BUF_VALUE, .value = value_id});
}

int cg_call_none(CgKernelCall *call) { return add_buf(call, (CgBuf){.kind = CG_BUF_NONE}); }

int cg_call_blob(CgKernelCall *call, void *data, size_t size, int align)
{
    IR_ASSERT(call->n_blobs < CG_MAX_BLOBS);
    IR_ASSERT(align > 0 && (align & (align - 1)) == 0);
    int k = call->n_blobs++;
    call->blobs[k] = data;
    call->blob_size[k] = size;
    call->blob_align[k] = align;
    return add_buf(call, (CgBuf){.kind = CG_BUF_BLOB, .blob = k});
}

void cg_call_free(CgKernelCall *call)
{
    for (int k = 0; k < call->n_blobs; k++) {
        free(call->blobs[k]);
        call->blobs[k] = NULL;
    }
}

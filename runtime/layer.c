/* layer.c — per-layer debugging: listing a model's per-node entry points and calling any of them
 * through libffi.
 *
 * A layer's signature string ('h' = const PpcHost *, 'p' = buffer pointer, one letter per
 * argument) is only known at run time, so the call is built with libffi: at load time one ffi_cif
 * per layer (void return, all arguments pointers) is prepared; ppcrt_layer_invoke fills the
 * argument value array (the session's host for 'h', the caller's buffer or the session workspace
 * for 'p') and calls ffi_call. Layer entry points return void (see ppc_abi.h).
 */
#include <stdlib.h>

#include "runtime/rt.h"

int ppcrt_layers_prepare(PpcrtModel *m)
{
    const PpcModelDesc *d = m->desc;
    if (d->n_layers == 0) return PPCRT_OK;
    m->layers = calloc((size_t)d->n_layers, sizeof *m->layers);
    if (!m->layers) return ppcrt_fail(PPCRT_ERR_NOMEM, "out of memory");
    for (int k = 0; k < d->n_layers; k++) {
        const PpcLayerDesc *l = &d->layers[k];
        RtLayer *rl = &m->layers[k];
        rl->atypes = malloc(((size_t)l->n_args + 1) * sizeof *rl->atypes);
        if (!rl->atypes) {
            ppcrt_layers_release(m);
            return ppcrt_fail(PPCRT_ERR_NOMEM, "out of memory");
        }
        for (int a = 0; a < l->n_args; a++) rl->atypes[a] = &ffi_type_pointer;
        if (ffi_prep_cif(&rl->cif, FFI_DEFAULT_ABI, (unsigned)l->n_args, &ffi_type_void,
                         rl->atypes) != FFI_OK) {
            ppcrt_layers_release(m);
            return ppcrt_fail(PPCRT_ERR_BAD_MODEL, "layer %d '%s': libffi cannot describe its call",
                              k, l->name);
        }
    }
    return PPCRT_OK;
}

void ppcrt_layers_release(PpcrtModel *m)
{
    if (!m->layers) return;
    for (int k = 0; k < m->desc->n_layers; k++) free(m->layers[k].atypes);
    free(m->layers);
    m->layers = NULL;
}

PPCRT_API int ppcrt_model_num_layers(const PpcrtModel *m) { return m ? m->desc->n_layers : 0; }

static int layer_get(const PpcrtModel *m, int k, const char *fn, const PpcLayerDesc **out)
{
    if (!m) return ppcrt_fail(PPCRT_ERR_ARG, "%s: NULL model", fn);
    if (k < 0 || k >= m->desc->n_layers)
        return ppcrt_fail(PPCRT_ERR_ARG, "%s: layer %d out of range (model has %d layers)", fn, k,
                          (int)m->desc->n_layers);
    *out = &m->desc->layers[k];
    return PPCRT_OK;
}

PPCRT_API int ppcrt_model_layer_info(const PpcrtModel *m, int k, PpcrtLayerInfo *info)
{
    const PpcLayerDesc *l = NULL;
    int st = layer_get(m, k, "ppcrt_model_layer_info", &l);
    if (st) return st;
    if (!info) return ppcrt_fail(PPCRT_ERR_ARG, "ppcrt_model_layer_info: NULL info");
    *info = (PpcrtLayerInfo){.name = l->name, .op = l->op, .signature = l->signature,
                             .n_args = l->n_args, .arg_names = l->arg_names,
                             .n_outputs = l->n_outputs};
    return PPCRT_OK;
}

PPCRT_API int ppcrt_model_layer_output_info(const PpcrtModel *m, int k, int j,
                                            PpcrtTensorInfo *info)
{
    const PpcLayerDesc *l = NULL;
    int st = layer_get(m, k, "ppcrt_model_layer_output_info", &l);
    if (st) return st;
    if (!info) return ppcrt_fail(PPCRT_ERR_ARG, "ppcrt_model_layer_output_info: NULL info");
    if (j < 0 || j >= l->n_outputs)
        return ppcrt_fail(PPCRT_ERR_ARG, "ppcrt_model_layer_output_info: output %d out of range "
                          "(layer '%s' has %d)", j, l->name, (int)l->n_outputs);
    ppcrt_tensor_info_fill(&l->outputs[j], info);
    return PPCRT_OK;
}

PPCRT_API int ppcrt_layer_invoke(PpcrtSession *s, int k, void *const *buffers)
{
    if (!s) return ppcrt_fail(PPCRT_ERR_ARG, "ppcrt_layer_invoke: NULL session");
    const PpcLayerDesc *l = NULL;
    int st = layer_get(s->model, k, "ppcrt_layer_invoke", &l);
    if (st) return st;
    if (l->n_args > 0 && !buffers)
        return ppcrt_fail(PPCRT_ERR_ARG, "ppcrt_layer_invoke: NULL buffer array for layer '%s'",
                          l->name);
    /* values[a] points to the storage of argument a: a pointer variable in every case. */
    void **values = malloc(((size_t)l->n_args + 1) * 2 * sizeof *values);
    if (!values) return ppcrt_fail(PPCRT_ERR_NOMEM, "out of memory");
    void **ptrs = values + l->n_args + 1;
    const PpcHost *host = &s->host;
    for (int a = 0; a < l->n_args && !st; a++) {
        if (l->signature[a] == 'h') {
            values[a] = &host;
            continue;
        }
        ptrs[a] = buffers[a];
        if (!ptrs[a] && l->arg_names[a][0] == '\0') ptrs[a] = s->workspace;
        if (!ptrs[a])
            st = ppcrt_fail(PPCRT_ERR_ARG,
                            "ppcrt_layer_invoke: layer '%s' argument %d ('%s') is NULL", l->name,
                            a, l->arg_names[a]);
        values[a] = &ptrs[a];
    }
    if (!st && atomic_flag_test_and_set_explicit(&s->busy, memory_order_acquire))
        st = ppcrt_fail(PPCRT_ERR_BUSY,
                        "ppcrt_layer_invoke: the session is running on another thread");
    if (!st) {
        ffi_call(&s->model->layers[k].cif, FFI_FN(l->fn), NULL, values);
        atomic_flag_clear_explicit(&s->busy, memory_order_release);
    }
    free(values);
    return st;
}

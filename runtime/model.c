/* model.c — loading a compiled model (.so made by ppcc) and answering questions about it.
 *
 * Loading checks, in order, so that each kind of bad file gets its own status and message: the
 * file can be opened and is a regular file (IO); it starts like an ELF shared object (NOT_A_MODEL);
 * dlopen accepts it (LOAD, with the dlerror text); it exports ppc_model_v1 returning a descriptor
 * with the right magic (NOT_A_MODEL) and ABI version (ABI); and the descriptor is self-consistent
 * (BAD_MODEL): counts, ranks <= 8, non-negative dims, known dtypes, nbytes = product of dims times
 * element size, unique names, well-formed layer signatures. The model's code is trusted (dlopen
 * runs its constructors); the checks catch codegen bugs and mismatched files, not malice.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/rt.h"

/* ---------------------------------------------------------------- descriptor checks */

int ppcrt_tensor_desc_check(const PpcTensorDesc *t, const char *what, int index)
{
    if (!t->name) return ppcrt_fail(PPCRT_ERR_BAD_MODEL, "%s %d has no name", what, index);
    if (t->rank < 0 || t->rank > PPCRT_MAX_RANK)
        return ppcrt_fail(PPCRT_ERR_BAD_MODEL, "%s %d '%s': rank %d (must be 0..%d)", what, index,
                          t->name, (int)t->rank, PPCRT_MAX_RANK);
    if (t->rank > 0 && !t->dims)
        return ppcrt_fail(PPCRT_ERR_BAD_MODEL, "%s %d '%s': rank %d but no dims", what, index,
                          t->name, (int)t->rank);
    size_t esize = ppcrt_dtype_size(t->dtype);
    if (esize == 0)
        return ppcrt_fail(PPCRT_ERR_BAD_MODEL, "%s %d '%s': unsupported dtype %d", what, index,
                          t->name, (int)t->dtype);
    uint64_t bytes = esize;
    int overflow = 0, empty = 0;
    for (int d = 0; d < t->rank; d++) {
        if (t->dims[d] < 0)
            return ppcrt_fail(PPCRT_ERR_BAD_MODEL, "%s %d '%s': dimension %d is %lld", what, index,
                              t->name, d, (long long)t->dims[d]);
        empty |= t->dims[d] == 0;
        overflow |= __builtin_mul_overflow(bytes, (uint64_t)t->dims[d], &bytes);
    }
    if (empty)
        bytes = 0; /* an empty tensor, even if a partial product overflowed */
    else if (overflow)
        return ppcrt_fail(PPCRT_ERR_BAD_MODEL, "%s %d '%s': size overflows 64 bits", what, index,
                          t->name);
    if (bytes != t->nbytes)
        return ppcrt_fail(PPCRT_ERR_BAD_MODEL,
                          "%s %d '%s': nbytes %llu, but its %s shape needs %llu", what, index,
                          t->name, (unsigned long long)t->nbytes, ppcrt_dtype_name(t->dtype),
                          (unsigned long long)bytes);
    return PPCRT_OK;
}

void ppcrt_tensor_info_fill(const PpcTensorDesc *t, PpcrtTensorInfo *info)
{
    memset(info, 0, sizeof *info);
    info->name = t->name;
    info->dtype = t->dtype;
    info->rank = t->rank;
    for (int d = 0; d < t->rank; d++) info->dims[d] = t->dims[d];
    info->nbytes = t->nbytes;
}

/* Check a list of n tensors (n >= min) and that their names are distinct. */
static int tensor_list_check(const PpcTensorDesc *ts, int32_t n, int min, const char *what)
{
    if (n < min || n > (1 << 20))
        return ppcrt_fail(PPCRT_ERR_BAD_MODEL, "model declares %d %ss", (int)n, what);
    if (n > 0 && !ts)
        return ppcrt_fail(PPCRT_ERR_BAD_MODEL, "model declares %d %ss but no table", (int)n, what);
    for (int i = 0; i < n; i++) {
        int st = ppcrt_tensor_desc_check(&ts[i], what, i);
        if (st) return st;
        for (int j = 0; j < i; j++)
            if (!strcmp(ts[i].name, ts[j].name))
                return ppcrt_fail(PPCRT_ERR_BAD_MODEL, "%ss %d and %d are both named '%s'", what, j,
                                  i, ts[i].name);
    }
    return PPCRT_OK;
}

static int layer_check(const PpcLayerDesc *l, int k)
{
    if (!l->name || !l->op || !l->signature)
        return ppcrt_fail(PPCRT_ERR_BAD_MODEL, "layer %d lacks a name, op or signature", k);
    if (l->n_args < 0 || l->n_args > PPCRT_MAX_LAYER_ARGS ||
        strnlen(l->signature, PPCRT_MAX_LAYER_ARGS + 1) != (size_t)l->n_args)
        return ppcrt_fail(PPCRT_ERR_BAD_MODEL, "layer %d '%s': n_args %d does not match signature",
                          k, l->name, (int)l->n_args);
    for (int a = 0; a < l->n_args; a++)
        if (l->signature[a] != 'h' && l->signature[a] != 'p')
            return ppcrt_fail(PPCRT_ERR_BAD_MODEL, "layer %d '%s': bad signature letter '%c'", k,
                              l->name, l->signature[a]);
    if (l->n_args > 0 && !l->arg_names)
        return ppcrt_fail(PPCRT_ERR_BAD_MODEL, "layer %d '%s' has no argument names", k, l->name);
    for (int a = 0; a < l->n_args; a++)
        if (!l->arg_names[a])
            return ppcrt_fail(PPCRT_ERR_BAD_MODEL, "layer %d '%s': argument %d has no name", k,
                              l->name, a);
    if (l->n_outputs < 0 || (l->n_outputs > 0 && !l->outputs))
        return ppcrt_fail(PPCRT_ERR_BAD_MODEL, "layer %d '%s': bad output table", k, l->name);
    for (int j = 0; j < l->n_outputs; j++) {
        int st = ppcrt_tensor_desc_check(&l->outputs[j], "layer output", j);
        if (st) return st;
    }
    if (!l->fn)
        return ppcrt_fail(PPCRT_ERR_BAD_MODEL, "layer %d '%s' has no entry point", k, l->name);
    return PPCRT_OK;
}

static int desc_check(const PpcModelDesc *d)
{
    if (!d->run) return ppcrt_fail(PPCRT_ERR_BAD_MODEL, "model has no run entry point");
    int st = tensor_list_check(d->inputs, d->n_inputs, 0, "input");
    if (!st) st = tensor_list_check(d->outputs, d->n_outputs, 1, "output");
    if (st) return st;
    if (d->n_layers < 0 || (d->n_layers > 0 && !d->layers))
        return ppcrt_fail(PPCRT_ERR_BAD_MODEL, "model declares %d layers but no table",
                          (int)d->n_layers);
    for (int k = 0; k < d->n_layers; k++)
        if ((st = layer_check(&d->layers[k], k))) return st;
    return PPCRT_OK;
}

/* ---------------------------------------------------------------- loading */

/* Reject what is not a regular ELF shared object before dlopen, for precise messages. */
static int file_check(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* O_NONBLOCK: a FIFO must not hang */
    if (fd < 0) return ppcrt_fail(PPCRT_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat sb;
    unsigned char hdr[18];
    ssize_t got = 0;
    int st = PPCRT_OK;
    if (fstat(fd, &sb) != 0)
        st = ppcrt_fail(PPCRT_ERR_IO, "cannot stat '%s': %s", path, strerror(errno));
    else if (S_ISDIR(sb.st_mode))
        st = ppcrt_fail(PPCRT_ERR_IO, "'%s' is a directory", path);
    else if (!S_ISREG(sb.st_mode))
        st = ppcrt_fail(PPCRT_ERR_IO, "'%s' is not a regular file", path);
    else if ((got = pread(fd, hdr, sizeof hdr, 0)) < 0)
        st = ppcrt_fail(PPCRT_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
    else if (got < (ssize_t)sizeof hdr || memcmp(hdr, "\177ELF", 4) != 0)
        st = ppcrt_fail(PPCRT_ERR_NOT_A_MODEL, "'%s' is not an ELF shared object", path);
    else {
        /* e_type (offset 16) in the file's byte order (EI_DATA: 1 little, 2 big endian). */
        unsigned type = hdr[5] == 2 ? (unsigned)(hdr[16] << 8 | hdr[17])
                                    : (unsigned)(hdr[17] << 8 | hdr[16]);
        if (type == 1 || type == 2)
            st = ppcrt_fail(PPCRT_ERR_NOT_A_MODEL,
                            "'%s' is an ELF %s, not a shared object", path,
                            type == 1 ? "relocatable object" : "executable");
    }
    close(fd);
    return st;
}

PPCRT_API int ppcrt_model_load(const char *path, PpcrtModel **out)
{
    if (out) *out = NULL;
    if (!path || !out)
        return ppcrt_fail(PPCRT_ERR_ARG, "ppcrt_model_load: NULL %s", path ? "out" : "path");
    if (!*path) return ppcrt_fail(PPCRT_ERR_ARG, "ppcrt_model_load: empty path");
    int st = file_check(path);
    if (st) return st;

    /* Without a '/', dlopen would search the library path instead of the current directory. */
    char *dl_path = NULL;
    if (!strchr(path, '/')) {
        size_t len = strlen(path);
        dl_path = malloc(len + 3);
        if (!dl_path) return ppcrt_fail(PPCRT_ERR_NOMEM, "out of memory");
        memcpy(dl_path, "./", 2);
        memcpy(dl_path + 2, path, len + 1);
    }
    dlerror();
    void *handle = dlopen(dl_path ? dl_path : path, RTLD_NOW | RTLD_LOCAL);
    free(dl_path);
    if (!handle) {
        const char *why = dlerror();
        return ppcrt_fail(PPCRT_ERR_LOAD, "%s", why ? why : "dlopen failed");
    }
    dlerror();
    void *sym = dlsym(handle, PPC_MODEL_SYMBOL);
    const PpcModelDesc *d = NULL;
    if (!sym)
        st = ppcrt_fail(PPCRT_ERR_NOT_A_MODEL, "'%s' does not export %s (not compiled by ppcc?)",
                        path, PPC_MODEL_SYMBOL);
    else if (!(d = ((PpcModelGetFn)sym)()))
        st = ppcrt_fail(PPCRT_ERR_NOT_A_MODEL, "'%s': %s() returned NULL", path, PPC_MODEL_SYMBOL);
    else if (d->magic != PPC_ABI_MAGIC)
        st = ppcrt_fail(PPCRT_ERR_NOT_A_MODEL, "'%s': bad magic 0x%08x (expected 0x%08x)", path,
                        (unsigned)d->magic, PPC_ABI_MAGIC);
    else if (d->abi_version != PPC_ABI_VERSION)
        st = ppcrt_fail(PPCRT_ERR_ABI, "'%s': model ABI version %u, this runtime supports %u", path,
                        (unsigned)d->abi_version, PPC_ABI_VERSION);
    else
        st = desc_check(d);

    PpcrtModel *m = NULL;
    if (!st && !(m = calloc(1, sizeof *m))) st = ppcrt_fail(PPCRT_ERR_NOMEM, "out of memory");
    if (!st) {
        m->handle = handle;
        m->desc = d;
        atomic_init(&m->refs, 1);
        st = ppcrt_layers_prepare(m);
        if (st) free(m);
    }
    if (st) {
        dlclose(handle);
        return st;
    }
    *out = m;
    return PPCRT_OK;
}

void ppcrt_model_release(PpcrtModel *m)
{
    if (atomic_fetch_sub(&m->refs, 1) != 1) return;
    ppcrt_layers_release(m);
    dlclose(m->handle);
    free(m);
}

PPCRT_API void ppcrt_model_free(PpcrtModel *model)
{
    if (model) ppcrt_model_release(model);
}

/* ---------------------------------------------------------------- introspection */

PPCRT_API int ppcrt_model_num_inputs(const PpcrtModel *m) { return m ? m->desc->n_inputs : 0; }
PPCRT_API int ppcrt_model_num_outputs(const PpcrtModel *m) { return m ? m->desc->n_outputs : 0; }

static int info_get(const PpcrtModel *m, int k, PpcrtTensorInfo *info, int outputs)
{
    const char *fn = outputs ? "ppcrt_model_output_info" : "ppcrt_model_input_info";
    if (!m || !info) return ppcrt_fail(PPCRT_ERR_ARG, "%s: NULL %s", fn, m ? "info" : "model");
    int n = outputs ? m->desc->n_outputs : m->desc->n_inputs;
    if (k < 0 || k >= n)
        return ppcrt_fail(PPCRT_ERR_ARG, "%s: index %d out of range (model has %d %s)", fn, k, n,
                          outputs ? "outputs" : "inputs");
    ppcrt_tensor_info_fill(outputs ? &m->desc->outputs[k] : &m->desc->inputs[k], info);
    return PPCRT_OK;
}

PPCRT_API int ppcrt_model_input_info(const PpcrtModel *m, int k, PpcrtTensorInfo *info)
{
    return info_get(m, k, info, 0);
}

PPCRT_API int ppcrt_model_output_info(const PpcrtModel *m, int k, PpcrtTensorInfo *info)
{
    return info_get(m, k, info, 1);
}

static int find(const PpcTensorDesc *ts, int n, const char *name)
{
    if (!name) return -1;
    for (int i = 0; i < n; i++)
        if (!strcmp(ts[i].name, name)) return i;
    return -1;
}

PPCRT_API int ppcrt_model_find_input(const PpcrtModel *m, const char *name)
{
    return m ? find(m->desc->inputs, m->desc->n_inputs, name) : -1;
}

PPCRT_API int ppcrt_model_find_output(const PpcrtModel *m, const char *name)
{
    return m ? find(m->desc->outputs, m->desc->n_outputs, name) : -1;
}

PPCRT_API uint64_t ppcrt_model_workspace_size(const PpcrtModel *m)
{
    return m ? m->desc->workspace_size : 0;
}

PPCRT_API const char *ppcrt_model_producer(const PpcrtModel *m)
{
    return m && m->desc->producer ? m->desc->producer : "";
}

PPCRT_API const char *ppcrt_model_target(const PpcrtModel *m)
{
    return m && m->desc->target ? m->desc->target : "";
}

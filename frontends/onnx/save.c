/* save.c — writing an ONNX model back with some tensors replaced (ppcc --save-pruned).
 *
 * The ORIGINAL model file is re-read and unpacked (protobuf-c keeps unknown fields, so
 * everything it does not touch survives), the initializers (or the `value` tensors of Constant
 * nodes) named by the replacements get the new data as little-endian raw_data (typed fields
 * cleared), the model is packed again and written atomically (ir_write_file_atomic: temp file
 * + rename; a special file such as /dev/null is written in place). The graph, names, opsets,
 * metadata and all other tensors are unchanged. Every replacement is checked before anything is written: the name must
 * exist in the top-level graph, the tensor must be float32 (the only dtype the prune pass
 * writes) with the same element count. Models with external data are refused (the output would
 * point at the input's data files).
 */
#include "onnx_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The TensorProto a name refers to: an initializer, else a Constant node's `value`. */
static Onnx__TensorProto *save_find_tensor(Onnx__GraphProto *gp, const char *name)
{
    for (size_t i = 0; i < gp->n_initializer; i++)
        if (gp->initializer[i]->name && !strcmp(gp->initializer[i]->name, name)) return gp->initializer[i];
    for (size_t i = 0; i < gp->n_node; i++) {
        Onnx__NodeProto *np = gp->node[i];
        int std = !np->domain || !*np->domain || !strcmp(np->domain, "ai.onnx");
        if (!std || !np->op_type || strcmp(np->op_type, "Constant") || np->n_output < 1 || !np->output[0] ||
            strcmp(np->output[0], name))
            continue;
        for (size_t k = 0; k < np->n_attribute; k++)
            if (np->attribute[k]->name && !strcmp(np->attribute[k]->name, "value") && np->attribute[k]->t)
                return np->attribute[k]->t;
    }
    return NULL;
}

static int save_has_external(const Onnx__TensorProto *tp)
{
    return (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) ||
           tp->n_external_data > 0;
}

static int save_model_has_external(const Onnx__GraphProto *gp)
{
    for (size_t i = 0; i < gp->n_initializer; i++)
        if (save_has_external(gp->initializer[i])) return 1;
    for (size_t i = 0; i < gp->n_node; i++)
        for (size_t k = 0; k < gp->node[i]->n_attribute; k++) {
            const Onnx__AttributeProto *a = gp->node[i]->attribute[k];
            if (a->t && save_has_external(a->t)) return 1;
        }
    return 0;
}

static int save_read(const char *path, uint8_t **buf, size_t *len, Diag *d)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return diag_error(d, "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return diag_error(d, "not a regular file");
    }
    *len = (size_t)st.st_size;
    *buf = xmalloc(*len + 1);
    for (size_t done = 0; done < *len;) {
        ssize_t r = read(fd, *buf + done, *len - done);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int e = r < 0 ? errno : EIO;
            close(fd);
            free(*buf);
            return diag_error(d, "cannot read: %s", strerror(e));
        }
        done += (size_t)r;
    }
    close(fd);
    return 0;
}

/* What a replaced TensorProto held, restored before the message is freed. */
typedef struct SavedFields {
    Onnx__TensorProto *tp;
    protobuf_c_boolean has_raw_data;
    ProtobufCBinaryData raw_data;
    size_t n_float_data;
    float *float_data;
    uint8_t *le; /* our little-endian copy of the new data */
} SavedFields;

int onnx_save_replaced(const char *src, const char *dst, const OnnxReplacement *rep, int n, Diag *d)
{
    uint8_t *in = NULL;
    size_t in_len = 0;
    if (save_read(src, &in, &in_len, d)) return -1;
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, in_len, in);
    free(in);
    if (!mp) return diag_error(d, "not an ONNX model (invalid or truncated protobuf)");
    int rc = -1;
    SavedFields *sv = xcalloc((size_t)n + 1, sizeof *sv);
    int n_sv = 0;
    uint8_t *out = NULL;
    Onnx__GraphProto *gp = mp->graph;
    if (!gp) {
        diag_error(d, "ONNX model has no graph");
        goto done;
    }
    if (save_model_has_external(gp)) {
        diag_error(d, "models with external data are not supported");
        goto done;
    }
    const uint16_t one = 1;
    int le_host = *(const uint8_t *)&one == 1;
    for (int i = 0; i < n; i++) {
        const Tensor *t = rep[i].t;
        Onnx__TensorProto *tp = save_find_tensor(gp, rep[i].name);
        if (!tp) {
            diag_error(d, "'%s' is neither an initializer nor a Constant of the model (the frontend computed it), so "
                          "its new data cannot be written back", rep[i].name);
            goto done;
        }
        int64_t numel = 1;
        for (size_t k = 0; k < tp->n_dims; k++) numel *= tp->dims[k];
        if (t->dtype != DT_F32 || !tp->has_data_type || tp->data_type != dtype_to_onnx(DT_F32)) {
            diag_error(d, "initializer '%s' is not float32", rep[i].name);
            goto done;
        }
        if (numel != tensor_numel(t)) {
            diag_error(d, "initializer '%s' has %lld elements, the replacement %lld", rep[i].name, (long long)numel,
                       (long long)tensor_numel(t));
            goto done;
        }
        SavedFields *s = &sv[n_sv++];
        s->tp = tp;
        s->has_raw_data = tp->has_raw_data;
        s->raw_data = tp->raw_data;
        s->n_float_data = tp->n_float_data;
        s->float_data = tp->float_data;
        size_t nb = tensor_nbytes(t);
        s->le = xmalloc(nb + 1);
        memcpy(s->le, t->data, nb);
        if (!le_host)
            for (size_t b = 0; b + 3 < nb; b += 4) {
                uint8_t *p = s->le + b, x0 = p[0], x1 = p[1];
                p[0] = p[3], p[1] = p[2], p[2] = x1, p[3] = x0;
            }
        tp->has_raw_data = 1;
        tp->raw_data.len = nb;
        tp->raw_data.data = s->le;
        tp->n_float_data = 0;
        tp->float_data = NULL;
    }
    size_t len = onnx__model_proto__get_packed_size(mp);
    out = xmalloc(len + 1);
    onnx__model_proto__pack(mp, out);
    if (ir_write_file_atomic(dst, out, len, d)) {
        char msg[sizeof d->msg];
        snprintf(msg, sizeof msg, "%s", d->msg);
        diag_error(d, "%s: %s", dst, msg);
        goto done;
    }
    rc = 0;
done:
    for (int i = n_sv - 1; i >= 0; i--) { /* give the message its own fields back (a name may repeat) */
        sv[i].tp->has_raw_data = sv[i].has_raw_data;
        sv[i].tp->raw_data = sv[i].raw_data;
        sv[i].tp->n_float_data = sv[i].n_float_data;
        sv[i].tp->float_data = sv[i].float_data;
        free(sv[i].le);
    }
    free(sv);
    free(out);
    onnx__model_proto__free_unpacked(mp, NULL);
    return rc;
}

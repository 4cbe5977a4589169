/* attr.c — reading attributes of ONNX NodeProtos: lookup by name, the attribute's type (also
 * for IR-version-1 models that leave `type` unset), and typed getters with defaults.
 */
#include "onnx_internal.h"

#include <stdio.h>
#include <string.h>

const OnnxAttr *onnx_attr_find(const Onnx__NodeProto *p, const char *name)
{
    for (size_t i = 0; i < p->n_attribute; i++)
        if (p->attribute[i]->name && !strcmp(p->attribute[i]->name, name)) return p->attribute[i];
    return NULL;
}

int onnx_attr_type(const OnnxAttr *a)
{
    if (a->has_type && a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED) return a->type;
    /* old models: infer from the field that is set */
    if (a->n_floats) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS;
    if (a->n_ints) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    if (a->n_strings) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS;
    if (a->n_tensors) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSORS;
    if (a->n_graphs) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS;
    if (a->t) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
    if (a->g) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH;
    if (a->sparse_tensor) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSOR;
    if (a->has_f) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
    if (a->has_i) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    if (a->has_s) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
    return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED;
}

int64_t onnx_attr_int(const Onnx__NodeProto *p, const char *name, int64_t dflt)
{
    const OnnxAttr *a = onnx_attr_find(p, name);
    if (!a) return dflt;
    int t = onnx_attr_type(a);
    if (t == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT) return a->i;
    if (t == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT) return (int64_t)a->f;
    return dflt;
}

double onnx_attr_float(const Onnx__NodeProto *p, const char *name, double dflt)
{
    const OnnxAttr *a = onnx_attr_find(p, name);
    if (!a) return dflt;
    int t = onnx_attr_type(a);
    if (t == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT) return a->f;
    if (t == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT) return (double)a->i;
    return dflt;
}

const char *onnx_attr_str(const Onnx__NodeProto *p, const char *name, const char *dflt, char *buf,
                          size_t n)
{
    const OnnxAttr *a = onnx_attr_find(p, name);
    if (!a || onnx_attr_type(a) != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING) {
        if (!dflt) return NULL;
        snprintf(buf, n, "%s", dflt);
        return buf;
    }
    size_t len = a->s.len < n - 1 ? a->s.len : n - 1;
    if (len) memcpy(buf, a->s.data, len);
    buf[len] = 0;
    return buf;
}

int onnx_attr_ints(const Onnx__NodeProto *p, const char *name, const int64_t **v)
{
    const OnnxAttr *a = onnx_attr_find(p, name);
    *v = NULL;
    if (!a) return -1;
    int t = onnx_attr_type(a);
    if (t != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS) return -1;
    *v = a->ints;
    return (int)a->n_ints;
}

/* tensor_proto.c — ONNX TensorProto <-> ppcc tensors.
 *
 * Decoding (initializers, Constant values, attribute tensors, .pb files) accepts every way ONNX
 * stores data: raw_data (little-endian bytes), the typed repeated fields (float_data; int32_data
 * for int8/int16/int32/uint8/uint16/bool; int64_data; double_data; uint64_data for
 * uint32/uint64) and external data files (data_location = EXTERNAL with location/offset/length
 * keys, confined to the model's folder). Sizes are checked against dims; unsupported element
 * types (string, float16, bfloat16, complex, float8, ...) are errors naming the tensor.
 * Encoding writes raw_data and is used for .pb files, written atomically (temp file + rename).
 */
#include "onnx_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

const char *onnx_dtype_name(int code)
{
    static const char *names[] = {"undefined", "float",  "uint8",     "int8",       "uint16",
                                  "int16",     "int32",  "int64",     "string",     "bool",
                                  "float16",   "double", "uint32",    "uint64",     "complex64",
                                  "complex128", "bfloat16", "float8e4m3fn", "float8e4m3fnuz",
                                  "float8e5m2", "float8e5m2fnuz", "uint4", "int4"};
    if (code >= 0 && code < (int)(sizeof names / sizeof names[0])) return names[code];
    return "unknown";
}

/* Host is little-endian? (ONNX raw_data is little-endian.) */
static int host_is_le(void)
{
    const uint16_t one = 1;
    return *(const unsigned char *)&one == 1;
}

static void swap_bytes(void *data, size_t n_elems, size_t size)
{
    unsigned char *p = data;
    for (size_t i = 0; i < n_elems; i++, p += size)
        for (size_t a = 0, b = size - 1; a < b; a++, b--) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

static void *buf_alloc(Arena *arena, size_t n) { return arena ? arena_alloc(arena, n) : xmalloc(n); }

/* Parse a non-negative decimal integer; -1 if malformed. */
static int parse_u64(const char *s, int64_t *out)
{
    if (!s || !*s) return -1;
    int64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return -1;
        if (v > (INT64_MAX - 9) / 10) return -1;
        v = v * 10 + (*s - '0');
    }
    *out = v;
    return 0;
}

/* Read `nbytes` of external data for tp into a new buffer. The file must resolve (after
 * symlinks and "..") to a path inside base_dir. */
static int read_external(const Onnx__TensorProto *tp, Arena *arena, const char *base_dir,
                         const char *what, size_t nbytes, void **data, Diag *d)
{
    const char *location = NULL;
    int64_t offset = 0, length = -1;
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const Onnx__StringStringEntryProto *e = tp->external_data[i];
        if (!e->key) continue;
        if (!strcmp(e->key, "location"))
            location = e->value;
        else if (!strcmp(e->key, "offset")) {
            if (parse_u64(e->value, &offset))
                return diag_error(d, "%s: bad external data offset '%s'", what, e->value ? e->value : "");
        } else if (!strcmp(e->key, "length")) {
            if (parse_u64(e->value, &length))
                return diag_error(d, "%s: bad external data length '%s'", what, e->value ? e->value : "");
        }
    }
    if (!base_dir)
        return diag_error(d, "%s: external data is not allowed here (model not read from a file)", what);
    if (!location || !*location) return diag_error(d, "%s: external data without a location", what);
    if (location[0] == '/')
        return diag_error(d, "%s: external data path '%s' is absolute (must be inside the model's folder)",
                          what, location);

    char base_real[PATH_MAX], file_real[PATH_MAX];
    if (!realpath(base_dir, base_real))
        return diag_error(d, "%s: cannot resolve model folder '%s': %s", what, base_dir, strerror(errno));
    size_t blen = strlen(base_dir) + strlen(location) + 2;
    char *joined = xmalloc(blen);
    snprintf(joined, blen, "%s/%s", base_dir, location);
    if (!realpath(joined, file_real)) {
        int e = errno;
        free(joined);
        return diag_error(d, "%s: cannot open external data '%s': %s", what, location, strerror(e));
    }
    free(joined);
    size_t bl = strlen(base_real);
    int inside = !strncmp(file_real, base_real, bl) && (file_real[bl] == '/' || (bl == 1 && base_real[0] == '/'));
    if (!inside)
        return diag_error(d, "%s: external data path '%s' escapes the model's folder", what, location);

    int fd = open(file_real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return diag_error(d, "%s: cannot open external data '%s': %s", what, location, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return diag_error(d, "%s: external data '%s' is not a regular file", what, location);
    }
    if (length < 0) length = st.st_size > offset ? st.st_size - offset : 0;
    if (offset > st.st_size || length > st.st_size - offset) {
        close(fd);
        return diag_error(d, "%s: external data '%s' is too short (offset %lld + length %lld > %lld bytes)",
                          what, location, (long long)offset, (long long)length, (long long)st.st_size);
    }
    if ((uint64_t)length != nbytes) {
        close(fd);
        return diag_error(d, "%s: external data has %lld bytes, expected %zu", what, (long long)length, nbytes);
    }
    unsigned char *buf = buf_alloc(arena, nbytes);
    size_t got = 0;
    while (got < nbytes) {
        ssize_t r = pread(fd, buf + got, nbytes - got, (off_t)(offset + (int64_t)got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int e = r < 0 ? errno : EIO;
            close(fd);
            if (!arena) free(buf);
            return diag_error(d, "%s: reading external data '%s': %s", what, location, strerror(e));
        }
        got += (size_t)r;
    }
    close(fd);
    *data = buf;
    return 0;
}

/* Copy count typed values (from one of TensorProto's repeated fields) converting to dtype t. */
static void *convert_typed(Arena *arena, DType t, size_t count, const void *src, int src_kind)
{
    void *dst = buf_alloc(arena, count * dtype_size(t));
    for (size_t i = 0; i < count; i++) {
        switch (src_kind) {
        case 'i': elem_set_i64(t, dst, (int64_t)i, ((const int32_t *)src)[i]); break;
        case 'l': elem_set_i64(t, dst, (int64_t)i, ((const int64_t *)src)[i]); break;
        case 'u':
            if (t == DT_U64)
                ((uint64_t *)dst)[i] = ((const uint64_t *)src)[i];
            else
                elem_set_i64(t, dst, (int64_t)i, (int64_t)((const uint64_t *)src)[i]);
            break;
        case 'f': ((float *)dst)[i] = ((const float *)src)[i]; break;
        case 'd': ((double *)dst)[i] = ((const double *)src)[i]; break;
        }
    }
    return dst;
}

int onnx_tensor_decode(const Onnx__TensorProto *tp, Arena *arena, const char *base_dir,
                       const char *what, OnnxTensorData *out, const char **kind, Diag *d)
{
    memset(out, 0, sizeof *out);
    *kind = "model";
    int code = tp->has_data_type ? tp->data_type : 0;
    DType t = dtype_from_onnx(code);
    if (t == DT_UNDEF) {
        *kind = "dtype";
        return diag_error(d, "%s: unsupported dtype %s", what, onnx_dtype_name(code));
    }
    if (tp->n_dims > IR_MAX_RANK)
        return diag_error(d, "%s: rank %zu exceeds the maximum %d", what, tp->n_dims, IR_MAX_RANK);
    size_t esize = dtype_size(t), numel = 1;
    for (size_t i = 0; i < tp->n_dims; i++) {
        if (tp->dims[i] < 0)
            return diag_error(d, "%s: negative dim %lld (dim %zu)", what, (long long)tp->dims[i], i + 1);
        if (__builtin_mul_overflow(numel, (size_t)tp->dims[i], &numel) || numel > (size_t)INT64_MAX / 16)
            return diag_error(d, "%s: dims overflow (too many elements)", what);
        out->dims[i] = tp->dims[i];
    }
    out->rank = (int)tp->n_dims;
    out->dtype = t;
    size_t nbytes = numel * esize;
    if (tp->segment) return diag_error(d, "%s: segmented tensors are not supported", what);

    if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
        if (read_external(tp, arena, base_dir, what, nbytes, &out->data, d)) return -1;
        if (!host_is_le()) swap_bytes(out->data, numel, esize);
        return 0;
    }
    if (tp->has_raw_data) {
        if (tp->raw_data.len != nbytes)
            return diag_error(d, "%s: raw_data has %zu bytes, expected %zu (%zu elements of %s)", what,
                              tp->raw_data.len, nbytes, numel, dtype_name(t));
        if (arena && host_is_le() && nbytes && pbmem_in_arena(tp->raw_data.data, arena)) {
            out->data = tp->raw_data.data; /* adopt the unpacked payload: no copy */
            return 0;
        }
        out->data = buf_alloc(arena, nbytes);
        if (nbytes) memcpy(out->data, tp->raw_data.data, nbytes);
        if (!host_is_le()) swap_bytes(out->data, numel, esize);
        return 0;
    }

    /* typed repeated fields */
    size_t count;
    const void *src;
    const char *field;
    int src_kind;
    switch (t) {
    case DT_F32: count = tp->n_float_data, src = tp->float_data, field = "float_data", src_kind = 'f'; break;
    case DT_F64: count = tp->n_double_data, src = tp->double_data, field = "double_data", src_kind = 'd'; break;
    case DT_I64: count = tp->n_int64_data, src = tp->int64_data, field = "int64_data", src_kind = 'l'; break;
    case DT_U32:
    case DT_U64: count = tp->n_uint64_data, src = tp->uint64_data, field = "uint64_data", src_kind = 'u'; break;
    default: count = tp->n_int32_data, src = tp->int32_data, field = "int32_data", src_kind = 'i'; break;
    }
    if (count != numel) {
        if (count == 0)
            return diag_error(d, "%s: no data (expected %zu elements of %s)", what, numel, dtype_name(t));
        return diag_error(d, "%s: %s has %zu values, expected %zu", what, field, count, numel);
    }
    int same_layout = (src_kind == 'f' && t == DT_F32) || (src_kind == 'd' && t == DT_F64) ||
                      (src_kind == 'l' && t == DT_I64) || (src_kind == 'u' && t == DT_U64);
    if (arena && same_layout && nbytes && pbmem_in_arena(src, arena)) {
        out->data = (void *)src; /* packed field already in the arena with the right layout */
        return 0;
    }
    out->data = convert_typed(arena, t, count, src, src_kind);
    return 0;
}

/* ---------------------------------------------------------------- .pb tensor files */

int onnx_tensor_read_buffer(const void *buf, size_t len, Tensor **out, char **name, Diag *d)
{
    *out = NULL;
    if (name) *name = NULL;
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, len, buf);
    if (!tp) return diag_error(d, "not an ONNX TensorProto (invalid protobuf)");
    if (!tp->has_data_type) {
        onnx__tensor_proto__free_unpacked(tp, NULL);
        return diag_error(d, "not an ONNX TensorProto (no data_type)");
    }
    char what[160];
    snprintf(what, sizeof what, "tensor '%.100s'", tp->name ? tp->name : "");
    OnnxTensorData td;
    const char *kind;
    if (onnx_tensor_decode(tp, NULL, NULL, what, &td, &kind, d)) {
        onnx__tensor_proto__free_unpacked(tp, NULL);
        return -1;
    }
    Tensor *t = tensor_wrap(td.dtype, td.rank, td.dims, td.data ? td.data : xmalloc(1));
    t->owns = 1;
    *out = t;
    if (name) *name = xstrdup(tp->name ? tp->name : "");
    onnx__tensor_proto__free_unpacked(tp, NULL);
    return 0;
}

int onnx_tensor_read_file(const char *path, Tensor **out, char **name, Diag *d)
{
    *out = NULL;
    if (name) *name = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return diag_error(d, "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return diag_error(d, "not a regular file");
    }
    size_t len = (size_t)st.st_size;
    void *map = NULL;
    if (len) {
        map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            int e = errno;
            close(fd);
            return diag_error(d, "cannot read: %s", strerror(e));
        }
    }
    close(fd);
    int rc = onnx_tensor_read_buffer(len ? map : "", len, out, name, d);
    if (len) munmap(map, len);
    return rc;
}

int onnx_tensor_write_file(const char *path, const Tensor *t, const char *name, Diag *d)
{
    int code = dtype_to_onnx(t->dtype);
    if (!code) return diag_error(d, "cannot write a tensor of dtype %s", dtype_name(t->dtype));
    Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
    int64_t dims[IR_MAX_RANK];
    for (int i = 0; i < t->rank; i++) dims[i] = t->dims[i];
    tp.n_dims = (size_t)t->rank;
    tp.dims = dims;
    tp.has_data_type = 1;
    tp.data_type = code;
    tp.name = (char *)(name ? name : "");
    size_t nbytes = tensor_nbytes(t);
    void *le = NULL;
    tp.has_raw_data = 1;
    tp.raw_data.len = nbytes;
    tp.raw_data.data = t->data;
    if (!host_is_le() && nbytes) {
        le = xmalloc(nbytes);
        memcpy(le, t->data, nbytes);
        swap_bytes(le, (size_t)tensor_numel(t), dtype_size(t->dtype));
        tp.raw_data.data = le;
    }
    size_t len = onnx__tensor_proto__get_packed_size(&tp);
    uint8_t *buf = xmalloc(len ? len : 1);
    onnx__tensor_proto__pack(&tp, buf);
    free(le);

    int rc = ir_write_file_atomic(path, buf, len, d);
    free(buf);
    return rc;
}

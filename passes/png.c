/* png.c — grid PNG of image tensors (png.h) with libpng: lay the tiles out, normalise each to
 * 0..255, encode the PNG into memory (libpng's errors come back through setjmp), then write the
 * bytes to the file atomically (temporary file in the same folder + rename; special files such as
 * /dev/null are written in place).
 */
#include "passes/png.h"

#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { PNG_GAP = 1, PNG_GAP_GRAY = 48, PNG_MAX_SIDE = 65535 };

/* Tile layout of one tensor: tiles = lead * (rgb ? 1 : C). */
typedef struct PngShape {
    int64_t lead, C, H, W;
    int rgb;
} PngShape;

static int png_shape(const Tensor *t, int k, PngShape *s, Diag *d)
{
    if (!t || t->rank < 2) return diag_error(d, "png: image %d must have rank >= 2 (height, width)", k);
    for (int i = 0; i < t->rank; i++)
        if (t->dims[i] <= 0) return diag_error(d, "png: image %d has an empty axis", k);
    s->H = t->dims[t->rank - 2];
    s->W = t->dims[t->rank - 1];
    s->C = t->rank >= 3 ? t->dims[t->rank - 3] : 1;
    s->lead = tensor_numel(t) / (s->C * s->H * s->W);
    s->rgb = s->C == 3;
    return 0;
}

/* Grid geometry: tile size (the largest image), columns, rows, total tiles. */
typedef struct PngGrid {
    int64_t tiles, th, tw, cols, rows, width, height;
    int rgb; /* any RGB tile makes the whole PNG RGB */
} PngGrid;

static int png_grid(Tensor *const *images, int n, int scale, PngGrid *gr, Diag *d)
{
    memset(gr, 0, sizeof *gr);
    if (n < 1 || !images) return diag_error(d, "png: no images");
    if (scale < 1 || scale > 64) return diag_error(d, "png: scale must be 1..64 (is %d)", scale);
    for (int k = 0; k < n; k++) {
        PngShape s;
        if (png_shape(images[k], k, &s, d)) return -1;
        gr->tiles += s.lead * (s.rgb ? 1 : s.C);
        if (s.H > gr->th) gr->th = s.H;
        if (s.W > gr->tw) gr->tw = s.W;
        gr->rgb |= s.rgb;
    }
    gr->cols = (int64_t)ceil(sqrt((double)gr->tiles));
    if (gr->cols < 1) gr->cols = 1;
    gr->rows = (gr->tiles + gr->cols - 1) / gr->cols;
    gr->width = gr->cols * (gr->tw * scale + PNG_GAP) + PNG_GAP;
    gr->height = gr->rows * (gr->th * scale + PNG_GAP) + PNG_GAP;
    if (gr->width > PNG_MAX_SIDE || gr->height > PNG_MAX_SIDE)
        return diag_error(d, "png: grid of %lld x %lld pixels is too large", (long long)gr->width,
                          (long long)gr->height);
    return 0;
}

int png_grid_size(Tensor *const *images, int n, int scale, int *width, int *height, Diag *d)
{
    PngGrid gr;
    if (png_grid(images, n, scale, &gr, d)) return -1;
    *width = (int)gr.width;
    *height = (int)gr.height;
    return 0;
}

/* Paint tile number `slot` from channels [c0, c0 + nch) of image `lead` of t. */
static void png_paint(uint8_t *pix, const PngGrid *gr, int scale, int64_t slot, const Tensor *t, const PngShape *s,
                      int64_t lead, int64_t c0, int nch)
{
    int bpp = gr->rgb ? 3 : 1;
    int64_t plane = s->H * s->W, base = (lead * s->C + c0) * plane;
    double lo = INFINITY, hi = -INFINITY;
    for (int c = 0; c < nch; c++)
        for (int64_t i = 0; i < plane; i++) {
            double v = tensor_get_f64(t, base + c * plane + i);
            if (isfinite(v)) lo = v < lo ? v : lo, hi = v > hi ? v : hi;
        }
    double k = hi > lo ? 255.0 / (hi - lo) : 0;
    int64_t x0 = PNG_GAP + (slot % gr->cols) * (gr->tw * scale + PNG_GAP);
    int64_t y0 = PNG_GAP + (slot / gr->cols) * (gr->th * scale + PNG_GAP);
    for (int64_t y = 0; y < s->H * scale; y++)
        for (int64_t x = 0; x < s->W * scale; x++) {
            uint8_t *px = pix + ((y0 + y) * gr->width + x0 + x) * bpp;
            for (int b = 0; b < bpp; b++) {
                int c = nch == 3 ? b : 0;
                double v = tensor_get_f64(t, base + c * plane + (y / scale) * s->W + x / scale);
                double q = !isfinite(v) ? 0 : k > 0 ? (v - lo) * k : 128;
                px[b] = (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q + 0.5);
            }
        }
}

typedef struct PngBuf {
    uint8_t *data;
    size_t len, cap;
} PngBuf;

static void png_buf_write(png_structp png, png_bytep data, png_size_t len)
{
    PngBuf *b = png_get_io_ptr(png);
    if (b->len + len > b->cap) {
        b->cap = (b->len + len) * 2 + 4096;
        b->data = xrealloc(b->data, b->cap);
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

static void png_buf_flush(png_structp png) { (void)png; }

/* Encode rows of width x height pixels (bpp 1 or 3) into buf. */
static int png_encode(const uint8_t *pix, int64_t width, int64_t height, int bpp, PngBuf *buf, Diag *d)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    if (!png) return diag_error(d, "png: cannot initialise libpng");
    png_infop info = png_create_info_struct(png);
    png_bytep *rows = xmalloc((size_t)height * sizeof(png_bytep));
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, info ? &info : NULL);
        free(rows);
        return diag_error(d, "png: libpng failed to encode the image");
    }
    png_set_write_fn(png, buf, png_buf_write, png_buf_flush);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, bpp == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    for (int64_t y = 0; y < height; y++) rows[y] = (png_bytep)(pix + y * width * bpp);
    png_set_rows(png, info, rows);
    png_write_png(png, info, PNG_TRANSFORM_IDENTITY, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows);
    return 0;
}

/* Write bytes to path: atomically (temp + rename) unless the path is a special file. */
static int png_write_file(const char *path, const uint8_t *data, size_t len, Diag *d)
{
    if (ir_path_is_special(path)) {
        FILE *f = fopen(path, "wb");
        int ok = f && fwrite(data, 1, len, f) == len;
        if (f) ok &= fclose(f) == 0;
        return ok ? 0 : diag_error(d, "cannot write '%s': %s", path, strerror(errno));
    }
    char *dircopy = xstrdup(path), *basecopy = xstrdup(path);
    const char *dir = dirname(dircopy), *base = basename(basecopy);
    size_t tlen = strlen(dir) + strlen(base) + 32;
    char *tmp = xmalloc(tlen);
    snprintf(tmp, tlen, "%s/.%s.tmpXXXXXX", dir, base);
    int rc = -1, fd = mkstemp(tmp);
    if (fd < 0) {
        diag_error(d, "cannot write '%s': %s", path, strerror(errno));
        goto out;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, data + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            diag_error(d, "cannot write '%s': %s", path, strerror(w < 0 ? errno : EIO));
            close(fd);
            unlink(tmp);
            goto out;
        }
        done += (size_t)w;
    }
    int bad = fchmod(fd, 0644) != 0;
    bad |= close(fd) != 0;
    if (bad || rename(tmp, path)) {
        diag_error(d, "cannot write '%s': %s", path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    rc = 0;
out:
    free(tmp), free(dircopy), free(basecopy);
    return rc;
}

int png_write_grid(const char *path, Tensor *const *images, int n, int scale, Diag *d)
{
    PngGrid gr;
    if (png_grid(images, n, scale, &gr, d)) return -1;
    int bpp = gr.rgb ? 3 : 1;
    uint8_t *pix = xmalloc((size_t)(gr.width * gr.height * bpp));
    memset(pix, PNG_GAP_GRAY, (size_t)(gr.width * gr.height * bpp));
    int64_t slot = 0;
    for (int k = 0; k < n; k++) {
        PngShape s;
        png_shape(images[k], k, &s, NULL);
        for (int64_t l = 0; l < s.lead; l++) {
            if (s.rgb) {
                png_paint(pix, &gr, scale, slot++, images[k], &s, l, 0, 3);
            } else {
                for (int64_t c = 0; c < s.C; c++) png_paint(pix, &gr, scale, slot++, images[k], &s, l, c, 1);
            }
        }
    }
    PngBuf buf = {0};
    int rc = png_encode(pix, gr.width, gr.height, bpp, &buf, d);
    if (!rc) rc = png_write_file(path, buf.data, buf.len, d);
    free(pix);
    free(buf.data);
    return rc;
}

/* png.h — write a set of image tensors as one grid PNG (libpng), for looking at synthetic inputs
 * (--save-synthetic).
 *
 * Each tensor of rank >= 2 holds images whose last two axes are height and width; with rank >= 3
 * the axis before them is channels. Three channels make one RGB tile; any other channel count
 * makes one grayscale tile per channel; leading axes (a batch) make more tiles. Every tile is
 * normalised on its own: its minimum maps to 0, its maximum to 255 (a constant tile is mid
 * gray). Tiles are laid out row-major on a near-square grid (columns = ceil(sqrt(tiles))),
 * each scaled up `scale` times by pixel repetition, with a 1-pixel dark gray gap.
 * The file is written atomically (temporary file + rename) unless the path is special
 * (/dev/null, a FIFO), which is written directly.
 */
#ifndef PPCC_PNG_H
#define PPCC_PNG_H

#include "ir/ir.h"

/* Write images[0..n-1] (float or integer dtypes; read through double) as a grid to path.
 * scale >= 1. Returns 0, or -1 with d set (bad arguments, a tensor of rank < 2 or with an empty
 * axis, a grid wider or taller than 65535 pixels, I/O errors). */
int png_write_grid(const char *path, Tensor *const *images, int n, int scale, Diag *d);

/* The grid's size in pixels for the same arguments (no file written); -1 with d set on the
 * errors above. */
int png_grid_size(Tensor *const *images, int n, int scale, int *width, int *height, Diag *d);

#endif

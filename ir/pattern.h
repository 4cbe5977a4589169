/* pattern.h — the geometry of a PatternConv node (ir/pattern.c: the op's definition), shared by
 * the interpreter, the pass that creates the node (passes/pattern_group.c) and its lowering
 * (codegen/lower_pattern.c). */
#ifndef PPCC_IR_PATTERN_H
#define PPCC_IR_PATTERN_H

#include "ir.h"

typedef struct PatGeom {
    int64_t n, c, m, mb, oh, ow; /* batch, input channels, filters (in mb blocks of 16), output size */
    int64_t kh, kw, sh, sw, dh, dw;
    int64_t cblock, ncb;      /* input channels per block of the run table, number of blocks */
    int64_t k, nt, nk;        /* patterns, taps per pattern, kept kernels */
    int64_t nphase, pw;       /* stride phases, width of a phase plane (plane_w) */
    int64_t ncopy, ch, cw;    /* input copies per channel and their rows x columns */
    int flat;                 /* copies are flat (one per tap) rather than per (phase, dx) */
    int blocked;              /* output NCHW16c */
    const int64_t *masks;     /* the K pattern masks (node attribute) */
    const int64_t *copies;    /* ncopy triples phase, dy, dx (node attribute) */
} PatGeom;

/* Fills *p from node n (a PatternConv) and checks it against its inputs' types; -1 with d set
 * when inconsistent. */
int ir_pattern_geom(const Graph *g, const Node *n, PatGeom *p, Diag *d);

/* Where tap `bit` (kh*KW + kw) of a pattern reads: out[0] the copy, out[1] its row offset dy
 * (rows mode; 0 when flat), out[2] = 0. -1 when no copy holds the tap. */
int ir_pattern_tap(const PatGeom *p, int64_t bit, int64_t out[3]);

#endif

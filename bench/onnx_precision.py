"""Where the float32 gap between deepgrad and ONNX Runtime comes from, block by block.

    PYTHONPATH=src python bench/onnx_precision.py [--model resnet50] [--fresh]

Exports a ResNet whose forward returns every residual block's output (the stem, each
block, the logits), runs it in ONNX Runtime (float32, graph optimizations off) and in
deepgrad in float32 and float64, and prints per output: max |y|, each float32 run's
error against float64 relative to max |y|, and |ORT - deepgrad float32|.  The batch-norm
statistics are calibrated on 8 random images first (as a trained model has them), or
left at their fresh values (mean 0, variance 1) with `--fresh`.  No timing: the numbers
do not depend on the machine's load.
"""

from __future__ import annotations

import argparse

import numpy as np

import deepgrad as dg
from deepgrad import models, nn
from deepgrad.ops.shape import flatten


class Blocks(nn.Module):
    """A ResNet whose forward returns the stem's, every block's and the head's output."""

    def __init__(self, net: models.ResNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x):
        m, outs = self.net, []
        x = m.maxpool(m.relu(m.bn1(m.conv1(x))))
        outs.append(x)
        for stage in (m.layer1, m.layer2, m.layer3, m.layer4):
            for block in stage:
                x = block(x)
                outs.append(x)
        outs.append(m.fc(flatten(m.avgpool(x), 1)))
        return tuple(outs)


def calibrate(model: nn.Module, x: np.ndarray) -> None:
    """Batch norms' running statistics := those of `x` (one train-mode pass, momentum 1)."""
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in norms:
        m.momentum = 1.0
    model.train()
    with dg.no_grad():
        model(dg.tensor(x))
    for m in norms:
        m.momentum = 0.1


def main() -> None:
    import onnxruntime as ort

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="resnet50", choices=["resnet18", "resnet50"])
    ap.add_argument("--fresh", action="store_true", help="keep fresh batch-norm statistics")
    ap.add_argument("--out", default="/tmp/onnx_precision.onnx")
    args = ap.parse_args()
    dg.manual_seed(0)
    rng = np.random.default_rng(1)
    net = getattr(models, args.model)(num_classes=10)
    if not args.fresh:
        calibrate(net, rng.standard_normal((8, 3, 32, 32)).astype(np.float32))
    model = Blocks(net)
    path = dg.onnx.export(model, rng.standard_normal((2, 3, 32, 32)).astype(np.float32), args.out)
    model.eval()
    x = rng.standard_normal((3, 3, 32, 32)).astype(np.float32)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    got = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"]).run(
        None, {"input": x}
    )
    with dg.no_grad():
        f32 = [t.numpy() for t in model(dg.tensor(x))]
        model.to(dtype=np.float64)
        f64 = [t.numpy() for t in model(dg.tensor(x.astype(np.float64)))]
    state = "fresh" if args.fresh else "calibrated"
    print(f"{args.model}, {state} batch-norm statistics: float32 errors per block output")
    print(f"{'output':>8} {'max|y|':>8} {'ORT vs f64':>11} {'dg32 vs f64':>12} {'|ORT-dg32|':>11}")
    for i, (o, a, b) in enumerate(zip(got, f32, f64)):
        scale = np.abs(b).max()
        name = "stem" if i == 0 else ("logits" if i == len(got) - 1 else f"block {i}")
        print(f"{name:>8} {scale:8.3g} {np.abs(o - b).max() / scale:11.2e} "
              f"{np.abs(a - b).max() / scale:12.2e} {np.abs(o - a).max():11.2e}")  # fmt: skip


if __name__ == "__main__":
    main()

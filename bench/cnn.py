"""Convolutional workloads, side by side with PyTorch in the same run.

    lenet:          LeNet-5 training step, batch 64 of 1x28x28 (conv 6@5x5 pad 2, ReLU,
                    maxpool 2, conv 16@5x5, ReLU, maxpool 2, FC 120, 84, 10), mean softmax
                    cross-entropy, backward, SGD momentum 0.9 (lr 0.01)
    resnet18:       ResNet-18 forward + backward, batch 8 of 3x64x64 (10 classes, train mode)
    resnet18-cifar: the same at batch 32 of 3x32x32 (the CIFAR shape)
    resnet18-infer: ResNet-18 forward only (eval mode, no graph), batch 8 of 3x64x64

Each line gives both times, the ratio and the GFLOP/s each framework achieves (the
convolutions' and linear layers' multiply-adds x 2; a training step counted as 3 forwards).
Default: wall clock, 2 threads each.  `--cpu-time`: CPU time per call with one thread on
both sides (NumPy's BLAS limited through threadpoolctl), the measure for a shared machine.

Run: `make bench` or `python bench/cnn.py [--repeat N] [--cpu-time] [workload ...]`.
Ratios < 1 mean deepgrad is faster.  The step builders (`WORKLOADS[name]`, and the
`lenet_*` / `resnet_*` functions) are importable from other scripts.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import cpu_side_by_side, report, side_by_side, train_step, try_torch

import deepgrad as dg
import deepgrad.models


def lenet_deepgrad(xb, yb):
    model = deepgrad.models.lenet5(10, 1)
    opt = dg.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    return train_step(model, dg.nn.CrossEntropyLoss(), opt, dg.tensor(xb), dg.tensor(yb))


def lenet_torch(torch, xb, yb):
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )  # fmt: skip
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = torch.from_numpy(xb), torch.from_numpy(yb)
    return train_step(model, nn.CrossEntropyLoss(), opt, x, y)


def resnet_deepgrad(xb, train: bool = True):
    """ResNet-18 forward + backward of the output's sum (or, `train=False`, the forward
    alone in eval mode without recording a graph)."""
    model = deepgrad.models.resnet18(10)
    x = dg.tensor(xb)
    if not train:
        model.eval()

        def infer():
            with dg.inference_mode():
                return model(x)

        return infer

    def step():
        model.zero_grad()
        model(x).sum().backward()

    return step


def resnet_torch(torch, xb, train: bool = True):
    from torch import nn

    from_models = _torch_resnet18(torch, nn)
    x = torch.from_numpy(xb)
    if not train:
        from_models.eval()

        def infer():
            with torch.inference_mode():
                return from_models(x)

        return infer

    def step():
        from_models.zero_grad()
        from_models(x).sum().backward()

    return step


def _torch_resnet18(torch, nn):
    """torchvision's ResNet-18 layout, written out (torchvision is not required)."""

    class Block(nn.Module):
        def __init__(self, cin, planes, stride):
            super().__init__()
            self.c1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
            self.b1 = nn.BatchNorm2d(planes)
            self.c2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.b2 = nn.BatchNorm2d(planes)
            self.down = None
            if stride != 1 or cin != planes:
                self.down = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False),
                                          nn.BatchNorm2d(planes))  # fmt: skip

        def forward(self, x):
            out = self.b2(self.c2(torch.relu(self.b1(self.c1(x)))))
            return torch.relu(out + (x if self.down is None else self.down(x)))

    layers = [
        nn.Conv2d(3, 64, 7, 2, 3, bias=False),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.MaxPool2d(3, 2, 1),
    ]
    cin = 64
    for planes, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
        layers += [Block(cin, planes, stride), Block(planes, planes, 1)]
        cin = planes
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 10)]
    return nn.Sequential(*layers)


def _lenet_data(rng):
    return (
        rng.standard_normal((64, 1, 28, 28)).astype(np.float32),
        rng.integers(0, 10, 64).astype(np.int64),
    )


def _images(shape):
    return lambda rng: rng.standard_normal(shape).astype(np.float32)


# name -> (data(rng), deepgrad step(data), PyTorch step(torch, data), steps per timing block)
WORKLOADS = {
    "lenet": (_lenet_data, lambda d: lenet_deepgrad(*d), lambda t, d: lenet_torch(t, *d), 10),
    "resnet18": (_images((8, 3, 64, 64)), resnet_deepgrad, resnet_torch, 5),
    "resnet18-cifar": (_images((32, 3, 32, 32)), resnet_deepgrad, resnet_torch, 3),
    "resnet18-infer": (
        _images((8, 3, 64, 64)),
        lambda d: resnet_deepgrad(d, train=False),
        lambda t, d: resnet_torch(t, d, train=False),
        5,
    ),
}
TITLES = {
    "lenet": "lenet-5 step b64",
    "resnet18": "resnet-18 fwd+bwd b8 64x64",
    "resnet18-cifar": "resnet-18 fwd+bwd b32 32x32",
    "resnet18-infer": "resnet-18 infer b8 64x64",
}


def step_flops(name: str, data) -> float:
    """Multiply-add FLOPs of the workload (2 per MAC): convolutions and linear layers of one
    forward, counted on a deepgrad forward; x3 for a step with its backward."""
    from deepgrad.core.primitive import REGISTRY

    count = [0.0]
    saved = {}
    for key in ("conv", "conv_bias"):
        prim = REGISTRY[key]
        saved[key] = prim.forward

        def counting(x, w, *rest, _f=prim.forward, **p):
            out = _f(x, w, *rest, **p)
            y = out[0] if isinstance(out, tuple) else out
            count[0] += 2.0 * y.size * w[0].size
            return out

        prim.forward = counting
    try:
        model = deepgrad.models.lenet5(10, 1) if name == "lenet" else deepgrad.models.resnet18(10)
        x = dg.tensor(data[0] if name == "lenet" else data)
        hooks = []
        for m in model.modules():
            if isinstance(m, dg.nn.Linear):
                hooks.append(m.weight.numel())
        with dg.inference_mode():
            model.eval()
            model(x)
        count[0] += 2.0 * x.shape[0] * sum(hooks)
    finally:
        for key, f in saved.items():
            REGISTRY[key].forward = f
    return count[0] * (1 if name.endswith("infer") else 3)


def _one_thread():
    """Limit NumPy's BLAS to one thread (threadpoolctl), if installed."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(1)


def matmul_peak(cpu_time: bool) -> float:
    """GFLOP/s of NumPy's float32 2048 x 2048 matrix product (the best of 5), in the same
    process and thread setting as the workloads."""
    a = np.random.default_rng(1).standard_normal((2048, 2048)).astype(np.float32)
    clock = time.process_time if cpu_time else time.perf_counter
    a @ a
    best = float("inf")
    for _ in range(5):
        t0 = clock()
        a @ a
        best = min(best, clock() - t0)
    return 2 * 2048**3 / best / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", nargs="*", default=list(WORKLOADS))
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--cpu-time", action="store_true", help="CPU time, one thread each")
    args = parser.parse_args()
    torch = try_torch()
    limit = None
    if args.cpu_time:
        limit = _one_thread()
        if torch is not None:
            torch.set_num_threads(1)
    print(f"float32 matmul 2048: {matmul_peak(args.cpu_time):.0f} GFLOP/s", flush=True)
    for name in args.which:
        data_fn, ours_fn, theirs_fn, block = WORKLOADS[name]
        data = data_fn(np.random.default_rng(0))
        theirs = theirs_fn(torch, data) if torch else None
        n = args.repeat if name == "lenet" else max(args.repeat // 3, 5)
        if args.cpu_time:
            ours, t = cpu_side_by_side(ours_fn(data), theirs, n)
        else:
            ours, t = side_by_side(ours_fn(data), theirs, repeat=n, block=block, warmup=2, settle=1)
        flops = step_flops(name, data)
        rates = f"   GFLOP/s {flops / ours / 1e6:6.1f}"
        if t is not None:
            rates += f" vs {flops / t / 1e6:6.1f}"
        print(report(TITLES[name], ours, t) + rates, flush=True)
    del limit


if __name__ == "__main__":
    main()

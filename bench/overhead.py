"""Per-op overhead and the MLP training step, side by side with PyTorch.

    overhead: 1,000 chained adds of 4x4 tensors that require grad, then backward
    small ops: 200 steps of y = tanh(y * w + b) on 4x4 tensors (mul, add, tanh; tanh's
              backward multiplies by 1 - y^2, a tensor/number op), then backward
    mlp:      MLP 784-512-256-10, ReLU, batch 128: forward, mean softmax
              cross-entropy, backward (the issue's "pass"), then also with the
              SGD momentum 0.9 step (BENCHMARKS.md's training step)

Run: `make bench` or `python bench/overhead.py [--cpu-time]`.  Ratios < 1 mean deepgrad is
faster.  With `--cpu-time` both frameworks run on one thread and each call is timed by the
process's CPU time in alternating blocks (steadier than wall time on a shared machine);
only the two overhead rows run then (issue 20's target: overhead ratio <= 0.8x).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import cpu_side_by_side, report, side_by_side, train_step, try_torch

import deepgrad as dg


def chained_adds(x, n: int):
    """A closure: y = x + x + ... (n adds), backward, clear x.grad (deepgrad or torch x)."""

    def step():
        y = x
        for _ in range(n):
            y = y + x
        y.sum().backward()
        x.grad = None

    return step


def overhead_deepgrad(n: int = 1000):
    return chained_adds(dg.randn(4, 4, requires_grad=True), n)


def overhead_torch(torch, n: int = 1000):
    return chained_adds(torch.randn(4, 4, requires_grad=True), n)


def small_ops(lib, n: int = 200):
    """A closure: y = tanh(y * w + b), n times, then backward (deepgrad or torch as `lib`)."""
    x, w, b = (lib.randn(4, 4, requires_grad=True) for _ in range(3))

    def step():
        y = x
        for _ in range(n):
            y = lib.tanh(y * w + b)
        y.sum().backward()
        x.grad = w.grad = b.grad = None

    return step


def mlp_deepgrad(xb, yb, update: bool = True):
    nn = dg.nn
    gen = np.random.default_rng(0)
    model = nn.Sequential(
        nn.Linear(784, 512, generator=gen),
        nn.ReLU(),
        nn.Linear(512, 256, generator=gen),
        nn.ReLU(),
        nn.Linear(256, 10, generator=gen),
    )
    opt = dg.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    return train_step(model, nn.CrossEntropyLoss(), opt, dg.tensor(xb), dg.tensor(yb), update)


def mlp_torch(torch, xb, yb, update: bool = True):
    nn = torch.nn
    model = nn.Sequential(
        nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10)
    )
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = torch.from_numpy(xb), torch.from_numpy(yb)
    return train_step(model, nn.CrossEntropyLoss(), opt, x, y, update)


def main(cpu: bool = False) -> None:
    torch = try_torch()
    if cpu and torch is not None:
        torch.set_num_threads(1)
        pairs = [
            ("overhead (1000 adds + bwd)", overhead_deepgrad(), overhead_torch(torch)),
            ("small ops (200 x 3 + bwd)", small_ops(dg), small_ops(torch)),
        ]
        for name, ours_fn, theirs_fn in pairs:
            print(
                report(name + " cpu", *cpu_side_by_side(ours_fn, theirs_fn, 60, block=4, warmup=3))
            )
        return
    rng = np.random.default_rng(0)
    xb = rng.standard_normal((128, 784)).astype(np.float32)
    yb = rng.integers(0, 10, 128).astype(np.int64)
    ours, theirs = side_by_side(overhead_deepgrad(), torch and overhead_torch(torch), 30, 5)
    print(report("overhead (1000 adds + bwd)", ours, theirs))
    theirs_fn = small_ops(torch) if torch else None
    print(report("small ops (200 x 3 + bwd)", *side_by_side(small_ops(dg), theirs_fn, 30, 5)))
    for update, name in ((False, "mlp fwd+bwd b128"), (True, "mlp train step (+SGD) b128")):
        theirs_fn = mlp_torch(torch, xb, yb, update) if torch else None
        ours, theirs = side_by_side(mlp_deepgrad(xb, yb, update), theirs_fn, repeat=100)
        print(report(name, ours, theirs))


if __name__ == "__main__":
    main(cpu="--cpu-time" in sys.argv[1:])

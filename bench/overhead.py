"""Per-op overhead and the MLP training step, side by side with PyTorch.

    overhead: 1,000 chained adds of 4x4 tensors that require grad, then backward
    mlp:      MLP 784-512-256-10, ReLU, batch 128: forward, mean softmax
              cross-entropy, backward (the issue's "pass"), then also with the
              SGD momentum 0.9 step (BENCHMARKS.md's training step)

Run: `make bench` or `python bench/overhead.py`.  Ratios < 1 mean deepgrad is faster.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import report, side_by_side, train_step, try_torch

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


def main() -> None:
    torch = try_torch()
    rng = np.random.default_rng(0)
    xb = rng.standard_normal((128, 784)).astype(np.float32)
    yb = rng.integers(0, 10, 128).astype(np.int64)
    ours, theirs = side_by_side(overhead_deepgrad(), torch and overhead_torch(torch), 30, 5)
    print(report("overhead (1000 adds + bwd)", ours, theirs))
    for update, name in ((False, "mlp fwd+bwd b128"), (True, "mlp train step (+SGD) b128")):
        theirs_fn = mlp_torch(torch, xb, yb, update) if torch else None
        ours, theirs = side_by_side(mlp_deepgrad(xb, yb, update), theirs_fn, repeat=100)
        print(report(name, ours, theirs))


if __name__ == "__main__":
    main()

"""Convolutional workloads, side by side with PyTorch (CPU, 2 threads) in the same run.

    lenet:    LeNet-5 training step, batch 64 of 1x28x28 (conv 6@5x5 pad 2, ReLU, maxpool 2,
              conv 16@5x5, ReLU, maxpool 2, FC 120, 84, 10), mean softmax cross-entropy,
              backward, SGD momentum 0.9 (lr 0.01)
    resnet18: ResNet-18 forward + backward, batch 8 of 3x64x64 (10 classes, train mode)

Run: `make bench` or `python bench/cnn.py [--repeat N]`.  Ratios < 1 mean deepgrad is faster.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import report, side_by_side, train_step, try_torch

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


def resnet_deepgrad(xb):
    model = deepgrad.models.resnet18(10)
    x = dg.tensor(xb)

    def step():
        model.zero_grad()
        model(x).sum().backward()

    return step


def resnet_torch(torch, xb):
    from torch import nn

    from_models = _torch_resnet18(torch, nn)
    x = torch.from_numpy(xb)

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    torch = try_torch()
    rng = np.random.default_rng(0)
    xb = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
    yb = rng.integers(0, 10, 64).astype(np.int64)
    theirs_fn = lenet_torch(torch, xb, yb) if torch else None
    ours, theirs = side_by_side(lenet_deepgrad(xb, yb), theirs_fn, repeat=args.repeat)
    print(report("lenet-5 step b64", ours, theirs))
    xr = rng.standard_normal((8, 3, 64, 64)).astype(np.float32)
    n = max(args.repeat // 3, 5)
    theirs_fn = resnet_torch(torch, xr) if torch else None
    ours, theirs = side_by_side(
        resnet_deepgrad(xr), theirs_fn, repeat=n, block=5, warmup=2, settle=1
    )
    print(report("resnet-18 fwd+bwd b8 64x64", ours, theirs))


if __name__ == "__main__":
    main()

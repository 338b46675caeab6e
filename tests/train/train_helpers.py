"""Small deterministic models shared by the training tests (imported by name)."""

from __future__ import annotations

import itertools

import numpy as np

import deepgrad as dg
from deepgrad import nn, optim


def mlp(sizes=(2, 16, 3), seed: int = 0) -> nn.Module:
    """Linear-ReLU stack with deterministic initial weights."""
    dg.manual_seed(seed)
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def trained(steps: int = 3, seed: int = 0):
    """A model, Adam and StepLR after `steps` updates on random data."""
    model = mlp(seed=seed)
    opt = optim.Adam(model.parameters(), lr=1e-2)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    rng = np.random.default_rng(seed)
    x, y = dg.tensor(rng.normal(size=(8, 2)).astype(np.float32)), dg.tensor(rng.integers(0, 3, 8))
    for _ in range(steps):
        opt.zero_grad()
        nn.CrossEntropyLoss()(model(x), y).backward()
        opt.step()
        sched.step()
    return model, opt, sched

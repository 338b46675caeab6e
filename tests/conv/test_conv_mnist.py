"""End to end: LeNet-5 learns MNIST to >= 98.8% test accuracy within 3 epochs (LeCun et al.
1998 report 99.05% for LeNet-5).  Needs ../shared/data/mnist; slow (about a minute)."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.data import MNIST
from deepgrad.models import lenet5


def _load(root, train: bool):
    ds = MNIST(root, train=train)
    x = ((ds.data.astype(np.float32) / 255.0 - 0.1307) / 0.3081)[:, None]
    return x, np.asarray(ds.targets, dtype=np.int64)


@pytest.mark.slow
def test_lenet5_reaches_98_8_percent_on_mnist_in_3_epochs(mnist_dir):

    xtr, ytr = _load(mnist_dir, True)
    xte, yte = _load(mnist_dir, False)
    dg.manual_seed(0)
    rng = np.random.default_rng(0)
    model = lenet5(10, 1)
    opt = dg.optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = dg.nn.CrossEntropyLoss()
    for lr in (2e-3, 1e-3, 3e-4):  # three epochs; a decaying step size settles the last one
        for group in opt.param_groups:
            group["lr"] = lr
        model.train()
        order = rng.permutation(len(xtr))
        for i in range(0, len(order), 64):
            idx = order[i : i + 64]
            opt.zero_grad()
            loss_fn(model(dg.Tensor(xtr[idx])), dg.Tensor(ytr[idx])).backward()
            opt.step()
    # the test split is used once, after training
    model.eval()
    with dg.no_grad():
        pred = np.concatenate([model(dg.Tensor(xte[i : i + 1000])).data.argmax(1)
                               for i in range(0, len(xte), 1000)])  # fmt: skip
    acc = float((pred == yte).mean())
    print(f"LeNet-5 MNIST test accuracy after 3 epochs: {acc:.4f}")
    assert acc >= 0.988, f"test accuracy after 3 epochs: {acc}"

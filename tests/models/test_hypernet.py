"""The hypernetwork example: gradients reach H and the embeddings, and it trains end to end."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.data import spiral
from deepgrad.models import HyperMLP
from deepgrad.testing import gradcheck


def test_hypernetwork_gradients_match_finite_differences():
    net = HyperMLP([2, 3, 2], z_dim=2, hidden=3).to(dg.float64)
    x = dg.tensor(np.random.default_rng(0).standard_normal((4, 2)))
    params = list(net.parameters())
    names = [k for k, _ in net.named_parameters()]

    def f(*ps):
        return dg.func.functional_call(net, dict(zip(names, ps)), (x,))

    assert gradcheck(f, [p.detach().requires_grad_(True) for p in params])


def test_hypernetwork_trains_end_to_end_on_the_spiral():
    X, y = spiral(60, 3, 0.1, seed=0)
    X = dg.tensor((X / X.std(axis=0)).astype(np.float32))
    net = HyperMLP([2, 32, 3], z_dim=8, hidden=32, generator=np.random.default_rng(1))
    opt = dg.optim.Adam(net.parameters(), lr=0.01)
    loss_fn = dg.nn.CrossEntropyLoss()
    first = None
    for _ in range(300):
        opt.zero_grad()
        loss = loss_fn(net(X), y)
        loss.backward()
        opt.step()
        first = float(loss) if first is None else first
    acc = float((net(X).data.argmax(1) == y).mean())
    assert float(loss) < 0.5 * first
    assert acc > 0.8
    assert net.embeddings.grad is not None and np.abs(net.embeddings.grad.numpy()).sum() > 0


def test_hypernetwork_rejects_bad_sizes_and_inputs():
    with pytest.raises(ValueError, match="HyperMLP: sizes must list"):
        HyperMLP([3])
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        HyperMLP([2, 3])(dg.ones(4, 3))

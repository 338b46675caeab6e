"""Parity with torch.func on small functions (skipped without PyTorch)."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import func

torch = pytest.importorskip("torch", reason="PyTorch parity tests need torch")
tfunc = pytest.importorskip("torch.func", reason="torch.func is needed for parity")

RNG = np.random.default_rng(2)


def test_vmap_parity_with_in_dims_and_out_dims():
    a, b = RNG.standard_normal((4, 3)), RNG.standard_normal((3, 5))
    ours = func.vmap(lambda x, w: dg.tanh(x @ w), in_dims=(0, None), out_dims=1)(
        dg.tensor(a), dg.tensor(b)
    )
    theirs = tfunc.vmap(lambda x, w: torch.tanh(x @ w), in_dims=(0, None), out_dims=1)(
        torch.tensor(a), torch.tensor(b)
    )
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-12)


def test_jacrev_parity():
    x = RNG.standard_normal(3)
    ours = func.jacrev(lambda v: dg.sin(v) * v.sum())(dg.tensor(x))
    theirs = tfunc.jacrev(lambda v: torch.sin(v) * v.sum())(torch.tensor(x))
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-12)


def test_per_sample_grad_with_functional_call_parity():
    dg.manual_seed(0)
    net = dg.nn.Linear(3, 2).to(dg.float64)
    tnet = torch.nn.Linear(3, 2).double()
    with torch.no_grad():
        tnet.weight.copy_(torch.tensor(net.weight.numpy()))
        tnet.bias.copy_(torch.tensor(net.bias.numpy()))
    xs, ys = RNG.standard_normal((5, 3)), RNG.standard_normal((5, 2))
    params = {k: v.detach() for k, v in net.named_parameters()}
    tparams = {k: v.detach() for k, v in tnet.named_parameters()}

    def loss(p, x, y):
        return ((func.functional_call(net, p, (x.reshape(1, 3),)) - y) ** 2).sum()

    def tloss(p, x, y):
        return ((tfunc.functional_call(tnet, p, (x.reshape(1, 3),)) - y) ** 2).sum()

    ours = func.vmap(func.grad(loss), in_dims=(None, 0, 0))(params, dg.tensor(xs), dg.tensor(ys))
    theirs = tfunc.vmap(tfunc.grad(tloss), in_dims=(None, 0, 0))(
        tparams, torch.tensor(xs), torch.tensor(ys)
    )
    for k in params:
        np.testing.assert_allclose(ours[k].data, theirs[k].numpy(), rtol=1e-10, atol=1e-12)

"""Recomputation: bitwise-equal gradients, parameters found through closures, RNG replay."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.testing import gradcheck, gradgradcheck
from deepgrad.utils.checkpoint import checkpoint, checkpoint_sequential


def _mlp(depth=6, width=8, seed=0):
    dg.manual_seed(seed)
    layers = []
    for _ in range(depth):
        layers += [dg.nn.Linear(width, width), dg.nn.Tanh()]
    return dg.nn.Sequential(*layers).to(dg.float64)


def _grads(net):
    return [p.grad.numpy().copy() for p in net.parameters()]


def test_checkpointed_mlp_gives_bitwise_equal_gradients():
    net = _mlp()
    x = dg.tensor(np.random.default_rng(0).standard_normal((5, 8)), requires_grad=True)
    (net(x) ** 2).sum().backward()
    plain, gx = _grads(net), x.grad.numpy().copy()
    net.zero_grad()
    x.grad = None
    (checkpoint_sequential(net, 3, x) ** 2).sum().backward()
    for a, b in zip(plain, _grads(net)):
        assert np.array_equal(a, b)
    assert np.array_equal(gx, x.grad.numpy())


def test_checkpoint_stores_no_activations_inside_the_segment():
    net = _mlp(depth=3)
    x = dg.tensor(np.ones((2, 8)), requires_grad=True)
    y = checkpoint(net, x)
    assert y._prim.name == "checkpoint"
    assert all(t is x or t.is_leaf for t in y._inputs)  # inputs and parameters only


def test_checkpoint_with_dg_grad_and_second_order():
    w = dg.tensor(np.linspace(0.2, 1.0, 4), requires_grad=True)
    f = lambda x: checkpoint(lambda v: dg.sin(v * w).sum() * v, x)
    x = dg.tensor(np.linspace(-1, 1, 4), requires_grad=True)
    assert gradcheck(f, [x], check_forward=False)
    assert gradgradcheck(f, [x], check_forward=False)
    gw = dg.grad(lambda w_: checkpoint(lambda v: (v * w_).sum() ** 2, x))(w)
    np.testing.assert_allclose(gw.data, 2 * (x.data @ w.data) * x.data)


def test_checkpoint_replays_dropout_masks():
    drop = dg.nn.Dropout(0.5)
    x = dg.tensor(np.ones((4, 6)), requires_grad=True)
    dg.manual_seed(3)
    y = checkpoint(drop, x)
    y.sum().backward()
    mask = y.data != 0
    np.testing.assert_array_equal(x.grad.data != 0, mask)


def test_checkpoint_errors():
    x = dg.tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match="checkpoint: fn must be callable"):
        checkpoint(3, x)
    with pytest.raises(TypeError, match="must return one tensor"):
        checkpoint(lambda v: (v, v), x)
    with pytest.raises(ValueError, match="checkpoint_sequential: segments=5"):
        checkpoint_sequential(_mlp(depth=1), 5, dg.ones(2, 8))

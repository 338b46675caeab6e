"""Hypergradient descent (Baydin et al. 2018) and differentiating through unrolled SGD."""

from __future__ import annotations

import numpy as np
import pytest
from optim_helpers import param, set_grad

import deepgrad as dg
from deepgrad import optim

H = np.array([1.0, 3.0, 10.0])


def _quadratic_loss(cls, steps=100, **kw):
    x = param([1.0, -1.0, 1.0])
    opt = cls([x], **kw)
    for _ in range(steps):
        set_grad(x, H * x.data)
        opt.step()
    return 0.5 * float(np.sum(H * x.numpy() ** 2)), opt


def test_sgdhd_recovers_from_a_learning_rate_100x_too_small():
    good = 0.1
    plain, _ = _quadratic_loss(optim.SGD, lr=good / 100)
    hd, opt = _quadratic_loss(optim.SGDHD, lr=good / 100, hypergrad_lr=1e-3)
    assert hd < plain / 100, (hd, plain)
    assert opt.param_groups[0]["lr"] > good / 100


def test_adamhd_recovers_from_a_learning_rate_100x_too_small():
    plain, _ = _quadratic_loss(optim.Adam, lr=1e-4)
    hd, _opt = _quadratic_loss(optim.AdamHD, lr=1e-4, hypergrad_lr=1e-4)
    assert hd < plain / 10, (hd, plain)


def test_sgdhd_lr_update_equation():
    x = param([1.0, 2.0])
    opt = optim.SGDHD([x], lr=0.1, hypergrad_lr=0.5)
    g1, g2 = np.array([1.0, -1.0]), np.array([2.0, 3.0])
    set_grad(x, g1)
    opt.step()
    assert opt.param_groups[0]["lr"] == 0.1  # no previous direction at the first step
    set_grad(x, g2)
    opt.step()
    lr2 = 0.1 + 0.5 * g2 @ g1
    assert opt.param_groups[0]["lr"] == pytest.approx(lr2)
    np.testing.assert_allclose(x.data, [1.0, 2.0] - 0.1 * g1 - lr2 * g2)


def test_adamhd_uses_the_previous_adam_direction():
    x = param([1.0, 2.0])
    opt = optim.AdamHD([x], lr=0.1, hypergrad_lr=0.01)
    g1, g2 = np.array([1.0, -2.0]), np.array([0.5, 3.0])
    set_grad(x, g1)
    opt.step()
    u1 = g1 / (np.abs(g1) + 1e-8)  # Adam's first direction: m_hat / (sqrt(v_hat) + eps)
    set_grad(x, g2)
    opt.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 + 0.01 * g2 @ u1)


def test_unrolled_sgd_hypergradient_matches_finite_differences():
    A = dg.Tensor(np.array([[3.0, 0.5], [0.5, 1.0]]))

    def loss_fn(ps):
        (w,) = ps
        return 0.5 * (w @ (A @ w)) + w.sum()

    def final_loss(eta):
        lr = dg.Tensor(np.array(eta), requires_grad=True)
        w0 = dg.Tensor(np.array([1.0, -2.0]))
        return optim.unrolled(loss_fn, [w0], inner_steps=4, inner_lr=lr, momentum=0.5), lr

    out, lr = final_loss(0.2)
    (g,) = dg.autograd.grad(out, [lr])
    eps = 1e-6
    fd = (float(final_loss(0.2 + eps)[0]) - float(final_loss(0.2 - eps)[0])) / (2 * eps)
    assert float(g) == pytest.approx(fd, rel=1e-6)


def test_unrolled_meta_gradient_descent_on_the_learning_rate_lowers_the_loss():
    target = dg.Tensor(np.array([2.0, -1.0]))
    loss_fn = lambda ps: ((ps[0] - target) ** 2).sum()
    lr = dg.Tensor(np.array(0.01), requires_grad=True)
    meta = optim.SGD([lr], lr=0.01)
    first = None
    for _ in range(20):
        meta.zero_grad()
        loss = optim.unrolled(loss_fn, [dg.Tensor(np.zeros(2))], inner_steps=3, inner_lr=lr)
        loss.backward()
        meta.step()
        first = float(loss) if first is None else first
    assert float(loss) < 0.1 * first and 0.1 < float(lr) < 0.9


def test_hypergradient_state_keeps_a_column_major_weight_layout():
    # nn.Linear weights are column-major; the SGDHD state built from copies of their
    # gradients must be too, or every update pass mixes row- and column-major arrays.
    lin = dg.nn.Linear(40, 30)
    opt = dg.optim.SGDHD(lin.parameters(), lr=0.01, momentum=0.9)
    for _ in range(3):
        opt.zero_grad()
        lin(dg.randn(8, 40)).sum().backward()
        opt.step()
    state = opt.state[lin.weight]
    assert state["momentum_buffer"].flags.f_contiguous
    assert state["prev_direction"].flags.f_contiguous

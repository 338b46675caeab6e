"""Implicit differentiation: IFT gradients against unrolled differentiation and finite
differences (float64), the ridge hyperparameter example and a DEQ layer."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.func import DEQ, fixed_point, implicit_root
from deepgrad.testing import gradcheck

RNG = np.random.default_rng(3)


def _contractive(n=4, norm=0.5):
    a = RNG.standard_normal((n, n))
    return dg.tensor(a * norm / np.linalg.norm(a, 2), requires_grad=True)


def _f(x, a, b):
    return dg.tanh(a @ x + b)


def _unrolled(a, b, steps=200):
    x = dg.zeros(a.shape[0], dtype=np.float64)
    for _ in range(steps):
        x = _f(x, a, b)
    return x


@pytest.mark.parametrize("adjoint", ["gmres"])
def test_fixed_point_gradient_matches_unrolled_to_1e6(adjoint):
    a, b = _contractive(), dg.tensor(RNG.standard_normal(4), requires_grad=True)
    w = dg.tensor(RNG.standard_normal(4))
    x0 = dg.zeros(4, dtype=np.float64)
    ift = dg.grad(lambda a, b: (fixed_point(_f, x0, [a, b], adjoint=adjoint) * w).sum(), (0, 1))(
        a, b
    )
    unr = dg.grad(lambda a, b: (_unrolled(a, b) * w).sum(), (0, 1))(a, b)
    for g1, g2 in zip(ift, unr):
        np.testing.assert_allclose(g1.data, g2.data, atol=1e-6, rtol=0)


def test_fixed_point_gradcheck_against_finite_differences():
    a, b = _contractive(3), dg.tensor(RNG.standard_normal(3), requires_grad=True)
    x0 = dg.zeros(3, dtype=np.float64)
    assert gradcheck(lambda a, b: fixed_point(_f, x0, [a, b]), [a, b])  # reverse and forward


def test_fixed_point_forward_mode_matches_unrolled():
    a, b = _contractive(3), dg.tensor(RNG.standard_normal(3), requires_grad=True)
    ta, tb = dg.tensor(RNG.standard_normal((3, 3))), dg.tensor(RNG.standard_normal(3))
    x0 = dg.zeros(3, dtype=np.float64)
    _, got = dg.jvp(lambda a, b: fixed_point(_f, x0, [a, b]), (a, b), (ta, tb))
    _, want = dg.jvp(lambda a, b: _unrolled(a, b), (a, b), (ta, tb))
    np.testing.assert_allclose(got.data, want.data, atol=1e-6)


def test_cg_adjoint_on_a_symmetric_map_matches_the_closed_form():
    m = RNG.standard_normal((4, 4))
    h = dg.tensor(m @ m.T + 4 * np.eye(4))
    theta = dg.tensor(RNG.standard_normal(4), requires_grad=True)
    eta = 1.0 / float(np.linalg.eigvalsh(h.data).max())
    step = lambda x, t: x - eta * (h @ x - t)  # a gradient step: symmetric Jacobian
    g = dg.tensor(RNG.standard_normal(4))
    x0 = dg.zeros(4, dtype=np.float64)
    got = dg.grad(lambda t: (fixed_point(step, x0, [t], adjoint="cg", max_iter=5000) * g).sum())(
        theta
    )
    np.testing.assert_allclose(got.data, np.linalg.solve(h.data, g.data), atol=1e-8)


def _ridge_problem():
    x_tr, x_va = RNG.standard_normal((20, 5)), RNG.standard_normal((15, 5))
    w_true = RNG.standard_normal(5)
    y_tr = x_tr @ w_true + 0.5 * RNG.standard_normal(20)
    y_va = x_va @ w_true + 0.5 * RNG.standard_normal(15)
    return [dg.tensor(v) for v in (x_tr, y_tr, x_va, y_va)]


def _val_loss(lam, data):
    x_tr, y_tr, x_va, y_va = data

    def F(w, lam):  # gradient of the ridge objective 1/2||Xw - y||^2 + lam/2 ||w||^2
        return x_tr.T @ (x_tr @ w - y_tr) + lam * w

    w = implicit_root(F, dg.zeros(5, dtype=np.float64), [lam], adjoint="cg")
    return ((x_va @ w - y_va) ** 2).mean()


def test_ridge_hypergradient_matches_closed_form_and_finite_differences():
    data = _ridge_problem()
    lam = dg.tensor(0.7, dtype=np.float64, requires_grad=True)
    g = dg.grad(lambda l: _val_loss(l, data))(lam)
    x, y, xv, yv = (d.data for d in data)
    a = x.T @ x + 0.7 * np.eye(5)
    w = np.linalg.solve(a, x.T @ y)
    dw = -np.linalg.solve(a, w)
    want = 2 * ((xv @ w - yv) @ (xv @ dw)) / len(yv)
    np.testing.assert_allclose(float(g), want, rtol=1e-6)
    assert gradcheck(lambda l: _val_loss(l, data), [lam])


def test_implicit_hyperparameter_optimisation_lowers_validation_loss():
    data = _ridge_problem()
    log_lam = dg.tensor(2.0, dtype=np.float64, requires_grad=True)
    start = float(_val_loss(dg.exp(log_lam.detach()), data))
    for _ in range(30):
        g = dg.grad(lambda t: _val_loss(dg.exp(t), data))(log_lam)
        log_lam = (log_lam - 0.5 * g).detach().requires_grad_(True)
    assert float(_val_loss(dg.exp(log_lam), data)) < start


def test_deq_layer_gradients_match_unrolled():
    dg.manual_seed(0)

    class Cell(dg.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = dg.nn.Linear(3, 3, bias=False)
            self.u = dg.nn.Linear(2, 3)

        def forward(self, z, x):
            return dg.tanh(self.w(z) + self.u(x))

    cell = Cell().to(dg.float64)
    with dg.no_grad():
        cell.w.weight.data *= 0.4 / np.linalg.norm(cell.w.weight.numpy(), 2)
    deq = DEQ(cell, hidden=3)
    x = dg.tensor(RNG.standard_normal((4, 2)), requires_grad=True)
    deq(x).sum().backward()
    got = [p.grad.numpy().copy() for p in cell.parameters()] + [x.grad.numpy().copy()]
    for p in cell.parameters():
        p.grad = None
    x.grad = None
    z = dg.zeros(4, 3, dtype=np.float64)
    for _ in range(200):
        z = cell(z, x)
    z.sum().backward()
    want = [p.grad.data for p in cell.parameters()] + [x.grad.data]
    for g1, g2 in zip(got, want):
        np.testing.assert_allclose(g1, g2, atol=1e-6)


def test_implicit_errors_are_clear():
    x0 = dg.zeros(2, dtype=np.float64)
    b = dg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="fixed_point: no convergence"):
        fixed_point(lambda x, b: 2 * x + b, x0, [b], max_iter=20)
    with pytest.raises(ValueError, match="adjoint must be one of"):
        fixed_point(lambda x, b: x * 0 + b, x0, [b], adjoint="lu")
    with pytest.raises(TypeError, match="params must be tensors"):
        implicit_root(lambda x, b: x - b, x0, [1.0])

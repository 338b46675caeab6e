"""Gauss-Newton and Levenberg-Marquardt on curve fits, against dense NumPy references."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from optim_helpers import param

import deepgrad as dg
from deepgrad import optim
from deepgrad.optim.least_squares import conjugate_gradient, residual_jvp


def _exp_data(seed=0, n=40):
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 4, n)
    y = 2.5 * np.exp(-1.3 * x) + 0.5 + 0.02 * rng.normal(size=n)
    return x, y


def _reference_fit(x, y, theta0, iters=100):
    """Dense Gauss-Newton with np.linalg.lstsq, written independently of deepgrad."""
    th = np.array(theta0, dtype=float)
    for _ in range(iters):
        a, b, c = th
        e = np.exp(-b * x)
        r = a * e + c - y
        J = np.stack([e, -a * x * e, np.ones_like(x)], axis=1)
        th = th + np.linalg.lstsq(J, -r, rcond=None)[0]
    return th


def _residual_fn(theta, x, y):
    xt, yt = dg.Tensor(x), dg.Tensor(y)
    return lambda: theta[0] * dg.exp(-theta[1] * xt) + theta[2] - yt


@pytest.mark.parametrize("solver", ["explicit", "cg"])
def test_levenberg_marquardt_fits_exponential_to_reference(solver):
    x, y = _exp_data()
    ref = _reference_fit(x, y, [2.0, 1.0, 0.4])
    theta = param([1.0, 0.3, 0.0])  # far from the optimum: plain Gauss-Newton is risky here
    opt = optim.LevenbergMarquardt([theta], _residual_fn(theta, x, y), solver=solver)
    for _ in range(100):
        opt.step()
        if opt.state[theta]["grad_norm"] < 1e-13:
            break
    np.testing.assert_allclose(theta.data, ref, atol=1e-6)


def test_least_squares_function_and_info():
    x, y = _exp_data(seed=1)
    xt, yt = dg.Tensor(x), dg.Tensor(y)
    ref = _reference_fit(x, y, [2.0, 1.0, 0.4])
    sol, info = optim.least_squares(
        lambda t: t[0] * dg.exp(-t[1] * xt) + t[2] - yt, [1.0, 0.3, 0.0]
    )
    assert info["converged"], info["message"]
    np.testing.assert_allclose(sol, ref, atol=1e-6)
    assert info["cost"] == pytest.approx(0.5 * np.sum(info["residual"] ** 2))


def test_gauss_newton_converges_quadratically_on_zero_residual_problem():
    x = np.linspace(0, 2, 20)
    truth = np.array([1.5, 0.7])
    y = truth[0] * np.exp(-truth[1] * x)  # exact data: zero residual at the optimum
    theta = param([1.2, 0.5])
    xt, yt = dg.Tensor(x), dg.Tensor(y)
    opt = optim.GaussNewton([theta], lambda: theta[0] * dg.exp(-theta[1] * xt) - yt)
    errors = [np.linalg.norm(theta.numpy() - truth)]
    for _ in range(6):
        opt.step()
        errors.append(np.linalg.norm(theta.numpy() - truth))
    ratios = [e1 / e0**2 for e0, e1 in itertools.pairwise(errors) if e0 > 1e-7 and e1 > 1e-14]
    assert errors[-1] < 1e-12 and len(ratios) >= 3
    assert max(ratios) < 10, ratios


def test_lm_rejects_steps_that_increase_the_cost():
    x, y = _exp_data()
    theta = param([1.0, 0.3, 0.0])
    opt = optim.LevenbergMarquardt([theta], _residual_fn(theta, x, y), lambda0=1e-8)
    costs = [opt.cost()]
    for _ in range(20):
        opt.step()
        costs.append(opt.cost())
    assert all(b <= a for a, b in itertools.pairwise(costs))


def test_matrix_free_products_match_explicit_jacobian():
    x, y = _exp_data()
    theta = param([1.0, 0.3, 0.2])
    fn = _residual_fn(theta, x, y)
    a, b, _ = theta.data
    J = np.stack([np.exp(-b * x), -a * x * np.exp(-b * x), np.ones_like(x)], axis=1)
    v = np.array([0.3, -1.0, 2.0])
    np.testing.assert_allclose(residual_jvp(fn, [theta], v), J @ v)
    assert theta._tangents is None  # the lent tangents are taken back
    from deepgrad.optim.least_squares import _Linearization

    lin = _Linearization(fn, [theta])
    u = np.random.default_rng(0).normal(size=x.size)
    np.testing.assert_allclose(lin.jtu(u), J.T @ u)
    np.testing.assert_allclose(lin.jacobian(), J)


def test_conjugate_gradient_solves_spd_system():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(8, 8))
    A = A @ A.T + np.eye(8)
    b = rng.normal(size=8)
    np.testing.assert_allclose(
        conjugate_gradient(lambda v: A @ v, b, tol=1e-14), np.linalg.solve(A, b)
    )


def test_bad_arguments():
    theta = param([1.0])
    with pytest.raises(TypeError, match="residual_fn"):
        optim.LevenbergMarquardt([theta], None)
    with pytest.raises(ValueError, match="solver"):
        optim.GaussNewton([theta], lambda: theta, solver="qr")
    with pytest.raises(ValueError, match="lambda_up"):
        optim.LevenbergMarquardt([theta], lambda: theta, lambda_up=0.5)
    with pytest.raises(ValueError, match="method"):
        optim.least_squares(lambda t: t, [1.0], method="trust")

"""Line searches, Newton, BFGS and L-BFGS on Rosenbrock and quadratics."""

from __future__ import annotations

import numpy as np
import pytest
from optim_helpers import param, rosenbrock

from deepgrad import optim
from deepgrad.optim import line_search


def rosen_np(z):
    x, y = z
    f = (1 - x) ** 2 + 100 * (y - x * x) ** 2
    g = np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])
    return f, g


def test_armijo_backtracking_gives_sufficient_decrease():
    x = np.array([-1.2, 1.0])
    f0, g0 = rosen_np(x)
    res = line_search.armijo_backtracking(rosen_np, x, -g0, f0, g0, alpha0=1.0, c1=1e-4)
    assert res.success and res.f <= f0 + 1e-4 * res.alpha * g0 @ -g0
    assert res.alpha < 1.0  # the unit step overshoots wildly here


def test_strong_wolfe_conditions_hold():
    x = np.array([-1.2, 1.0])
    f0, g0 = rosen_np(x)
    d = -g0 / np.linalg.norm(g0)
    for alpha0 in (1e-4, 1.0, 10.0):
        res = line_search.strong_wolfe(rosen_np, x, d, f0, g0, alpha0=alpha0, c1=1e-4, c2=0.9)
        assert res.success
        assert res.f <= f0 + 1e-4 * res.alpha * (g0 @ d)
        assert abs(res.g @ d) <= 0.9 * abs(g0 @ d)
        np.testing.assert_allclose(rosen_np(x + res.alpha * d)[0], res.f)


def test_cubic_interpolate_finds_the_minimum_of_a_cubic():
    f = lambda t: (t - 0.3) ** 2 * (t + 2)
    df = lambda t: 2 * (t - 0.3) * (t + 2) + (t - 0.3) ** 2
    t = line_search.cubic_interpolate(0.0, f(0.0), df(0.0), 1.0, f(1.0), df(1.0))
    assert t == pytest.approx(0.3)


def _closure_backward(opt, x):
    def closure():
        opt.zero_grad()
        loss = rosenbrock(x)
        loss.backward()
        return loss

    return closure


def test_lbfgs_strong_wolfe_solves_rosenbrock_within_100_iterations():
    x = param([-1.2, 1.0])
    opt = optim.LBFGS(
        [x],
        lr=1,
        max_iter=100,
        tolerance_grad=1e-12,
        tolerance_change=1e-20,
        history_size=10,
        line_search_fn="strong_wolfe",
    )
    opt.step(_closure_backward(opt, x))
    assert float(rosenbrock(x)) < 1e-10
    assert opt.state[x]["n_iter"] <= 100


def test_bfgs_solves_rosenbrock():
    x = param([-1.2, 1.0])
    opt = optim.BFGS([x], max_iter=100, tolerance_grad=1e-12, tolerance_change=1e-20)
    opt.step(_closure_backward(opt, x))
    assert float(rosenbrock(x)) < 1e-10 and opt.state[x]["n_iter"] <= 100


def test_bfgs_is_exact_on_a_quadratic_in_n_steps():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(5, 5))
    H = A @ A.T + 5 * np.eye(5)
    b = rng.normal(size=5)
    import deepgrad as dg

    Ht, bt = dg.Tensor(H), dg.Tensor(b)
    x = param(np.zeros(5))
    opt = optim.BFGS([x], max_iter=10, tolerance_grad=1e-10, tolerance_change=1e-20)

    def closure():
        opt.zero_grad()
        loss = 0.5 * (x @ (Ht @ x)) - bt @ x
        loss.backward()
        return loss

    opt.step(closure)
    np.testing.assert_allclose(x.data, np.linalg.solve(H, b), atol=1e-8)


@pytest.mark.parametrize(
    "solver,line_search_fn", [("exact", None), ("exact", "armijo"), ("cg", "armijo")]
)
def test_newton_solves_rosenbrock_within_30_iterations(solver, line_search_fn):
    x = param([-1.2, 1.0])
    opt = optim.Newton([x], solver=solver, line_search_fn=line_search_fn)
    for k in range(1, 31):
        opt.step(lambda: rosenbrock(x))
        if float(rosenbrock(x)) < 1e-10:
            break
    assert float(rosenbrock(x)) < 1e-10, (k, x.data)


def test_newton_damps_an_indefinite_hessian_to_a_descent_step():
    # f = x^2 - y^2 + y^4 / 4 has a saddle at 0; from y slightly off 0, Newton must still descend
    x = param([0.5, 0.1])
    f = lambda: x[0] ** 2 - x[1] ** 2 + 0.25 * x[1] ** 4
    opt = optim.Newton([x], line_search_fn="armijo")
    before = float(f())
    opt.step(f)
    assert float(f()) < before and opt.state[x]["tau"] > 0
    for _ in range(30):
        opt.step(f)
    np.testing.assert_allclose(x.data, [0.0, np.sqrt(2)], atol=1e-8)


def test_newton_exact_hessian_matches_analytic():
    from deepgrad.core import autodiff
    from deepgrad.optim.second_order import dense_hessian, hessian_vector_product

    x = param([-1.2, 1.0])
    grads = autodiff.grad(rosenbrock(x), [x], create_graph=True)
    H = dense_hessian(hessian_vector_product(grads, [x]), 2)
    a, b = -1.2, 1.0
    want = np.array([[2 - 400 * (b - 3 * a * a), -400 * a], [-400 * a, 200]])
    np.testing.assert_allclose(H, want)


def test_closure_required_and_newton_needs_a_graph():
    x = param([1.0, 2.0])
    for opt in (optim.LBFGS([x]), optim.BFGS([x]), optim.Newton([x])):
        with pytest.raises(ValueError, match="closure"):
            opt.step()
    with pytest.raises(TypeError, match="graph"):
        optim.Newton([x]).step(lambda: 3.0)
    with pytest.raises(ValueError, match="param groups"):
        optim.LBFGS([{"params": [x]}, {"params": [param([1.0])]}])

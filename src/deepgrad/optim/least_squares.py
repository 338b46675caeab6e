"""Nonlinear least squares: Gauss-Newton and Levenberg-Marquardt (Marquardt 1963).

Minimise C(theta) = 1/2 ||r(theta)||^2. With J = dr/dtheta, both solve

    (J^T J + lambda D) delta = -J^T r

either with an explicit Jacobian (small problems: n JVPs or m VJPs) or
matrix-free by conjugate gradient, each product J^T (J v) costing one JVP
(forward mode, `dg.jvp`) and one VJP (reverse mode).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..core import autodiff
from ..core.func import jvp as _jvp
from ..core.state import enable_grad, no_grad
from ..core.tensor import Tensor, _wrap
from . import flat
from .line_search import armijo_backtracking
from .optimizer import Optimizer, ParamsT, check_choice, check_nonneg

_EXPLICIT_MAX = 200  # "auto" forms J explicitly up to this many parameters
_LAMBDA_MAX = 1e16  # beyond this the damped step is below rounding: give up on this iteration


def cg_solve(
    matvec: Callable[[np.ndarray], np.ndarray], b: np.ndarray, max_iter: int | None, stop: float
) -> tuple[np.ndarray, float | None]:
    """Conjugate gradient on A x = b (Hestenes & Stiefel 1952) until ||r|| <= stop.

    x_{k+1} = x_k + a_k p_k, a_k = r_k^T r_k / p_k^T A p_k, p_{k+1} = r_{k+1} + b_k p_k.
    Returns (x, None), or (x so far, p^T A p / p^T p) at the first direction p of
    non-positive curvature (A not positive definite: Newton-CG damps more then).
    """
    x = np.zeros_like(b)
    r = b.copy()
    p = r.copy()
    rr = float(r @ r)
    for _ in range(b.size if max_iter is None else max_iter):
        if np.sqrt(rr) <= stop:
            break
        Ap = matvec(p)
        pAp = float(p @ Ap)
        if pAp <= 0:
            return x, pAp / float(p @ p)
        a = rr / pAp
        x += a * p
        r -= a * Ap
        rr_new = float(r @ r)
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x, None


def conjugate_gradient(
    matvec: Callable[[np.ndarray], np.ndarray],
    b: np.ndarray,
    max_iter: int | None = None,
    tol: float = 1e-10,
) -> np.ndarray:
    """Solve A x = b for symmetric positive definite A given as x -> A x, to a residual
    of tol * ||b|| (see `cg_solve`)."""
    return cg_solve(matvec, b, max_iter, tol * max(float(np.linalg.norm(b)), 1e-300))[0]


def residual_jvp(
    residual_fn: Callable[[], Tensor], params: list[Tensor], v: np.ndarray
) -> np.ndarray:
    """J v by forward mode: `dg.jvp` with each parameter carrying its slice of v as tangent."""

    def call(*xs):
        saved = [p._tangents for p in params]
        try:  # the closure reads the parameters themselves: lend them the tangents
            for p, x in zip(params, xs):
                p._tangents = x._tangents
            return residual_fn()
        finally:
            for p, s in zip(params, saved):
                p._tangents = s

    with no_grad():
        _, t = _jvp(call, params, flat.split(v, params))
    return np.asarray(t._data, dtype=np.float64).reshape(-1)


class _Linearization:
    """r, and the products J v, J^T u and J at the current parameters."""

    def __init__(self, residual_fn: Callable[[], Tensor], params: list[Tensor]) -> None:
        with enable_grad():
            out = residual_fn()
        if not isinstance(out, Tensor):
            raise TypeError(f"residual_fn must return a Tensor, got {type(out).__name__}")
        self.fn, self.params, self.out = residual_fn, params, out
        self.r = np.asarray(out._data, dtype=np.float64).reshape(-1)

    def jv(self, v: np.ndarray) -> np.ndarray:
        return residual_jvp(self.fn, self.params, v)

    def jtu(self, u: np.ndarray) -> np.ndarray:
        if not self.out.requires_grad:
            return np.zeros(flat.numel(self.params))
        cot = _wrap(u.reshape(self.out.shape).astype(self.out.dtype))
        g = autodiff.grad(self.out, self.params, grad_outputs=[cot], retain_graph=True)
        return flat.gather(g, self.params)

    def jacobian(self) -> np.ndarray:
        m, n = self.r.size, flat.numel(self.params)
        eye = np.eye(min(n, m))
        if n <= m:  # one forward-mode column per parameter
            return np.stack([self.jv(e) for e in eye], axis=1) if n else np.zeros((m, 0))
        return np.stack([self.jtu(e) for e in eye], axis=0)  # one reverse-mode row per residual


class _LeastSquaresOptimizer(Optimizer):
    """Shared set-up: the residual function, solver choice and cost evaluation."""

    def __init__(self, params: ParamsT, residual_fn: Callable[[], Tensor], defaults) -> None:
        if not callable(residual_fn):
            raise TypeError(
                f"{type(self).__name__}: residual_fn must be callable, got {residual_fn!r}"
            )
        self.residual_fn = residual_fn
        super().__init__(params, defaults)

    def _validate_group(self, group: dict[str, Any]) -> None:
        super()._validate_group(group)
        check_choice(self._name, "solver", group["solver"], ("auto", "cg", "explicit"))

    def _params(self) -> list[Tensor]:
        return self._all_params()

    def _solver(self, n: int) -> str:
        solver = self.param_groups[0]["solver"]
        return ("explicit" if n <= _EXPLICIT_MAX else "cg") if solver == "auto" else solver

    def cost(self) -> float:
        """C = 1/2 ||r||^2 at the current parameters."""
        with no_grad():
            r = np.asarray(self.residual_fn()._data, dtype=np.float64)
        return 0.5 * float(np.sum(r * r))

    def _cost_at(self, x: np.ndarray) -> float:
        flat.set_params(self._params(), x)
        c = self.cost()
        return c if np.isfinite(c) else np.inf


class GaussNewton(_LeastSquaresOptimizer):
    """Gauss-Newton: theta <- theta + t delta, (J^T J + damping I) delta = -J^T r (N&W 10.3).

    t = lr, or Armijo backtracking from lr on C = 1/2 ||r||^2; explicit J uses lstsq.
    """

    def __init__(
        self,
        params: ParamsT,
        residual_fn: Callable[[], Tensor],
        lr: float = 1.0,
        damping: float = 0.0,
        solver: str = "auto",
        cg_max_iter: int | None = None,
        line_search_fn: str | None = None,
    ) -> None:
        defaults = {
            "lr": lr,
            "damping": damping,
            "solver": solver,
            "cg_max_iter": cg_max_iter,
            "line_search_fn": line_search_fn,
        }
        super().__init__(params, residual_fn, defaults)

    def _validate_group(self, group: dict[str, Any]) -> None:
        super()._validate_group(group)
        check_nonneg("GaussNewton", "damping", group["damping"])
        check_choice("GaussNewton", "line_search_fn", group["line_search_fn"], (None, "armijo"))

    def step(self, closure: Callable[[], Any] | None = None) -> float:
        """One Gauss-Newton step; returns the cost before it (`closure` is not needed)."""
        group, params = self.param_groups[0], self._params()
        lin = _Linearization(self.residual_fn, params)
        cost = 0.5 * float(lin.r @ lin.r)
        g = lin.jtu(lin.r)
        mu = group["damping"]
        if self._solver(g.size) == "explicit":
            J = lin.jacobian()
            if mu == 0:
                delta = np.linalg.lstsq(J, -lin.r, rcond=None)[0]
            else:
                delta = np.linalg.solve(J.T @ J + mu * np.eye(g.size), -g)
        else:
            delta = conjugate_gradient(
                lambda v: lin.jtu(lin.jv(v)) + mu * v, -g, group["cg_max_iter"]
            )
        x = flat.params_vector(params)
        alpha = group["lr"]
        if group["line_search_fn"] == "armijo":
            res = armijo_backtracking(
                lambda z: (self._cost_at(z), None), x, delta, cost, g, alpha0=alpha
            )
            alpha = res.alpha
        flat.set_params(params, x + alpha * delta)
        state = self.state.setdefault(params[0], {"n_iter": 0})
        state["n_iter"] += 1
        state["grad_norm"] = float(np.max(np.abs(g))) if g.size else 0.0
        state["step_norm"] = float(np.linalg.norm(alpha * delta))
        return cost


class LevenbergMarquardt(_LeastSquaresOptimizer):
    """Levenberg-Marquardt (Levenberg 1944; Marquardt 1963): damped Gauss-Newton.

    (J^T J + lambda D) delta = -J^T r, D = diag(J^T J) ("marquardt") or I; a step that lowers
    C = 1/2 ||r||^2 is kept and lambda /= lambda_down, otherwise it is rejected and lambda *= lambda_up.
    """

    def __init__(
        self,
        params: ParamsT,
        residual_fn: Callable[[], Tensor],
        lambda0: float = 1e-3,
        lambda_up: float = 10.0,
        lambda_down: float = 10.0,
        solver: str = "auto",
        diag: str | None = None,
        cg_max_iter: int | None = None,
        max_tries: int = 30,
    ) -> None:
        defaults = {
            "lambda0": lambda0,
            "lambda_up": lambda_up,
            "lambda_down": lambda_down,
            "solver": solver,
            "diag": diag,
            "cg_max_iter": cg_max_iter,
            "max_tries": max_tries,
        }
        super().__init__(params, residual_fn, defaults)

    def _validate_group(self, group: dict[str, Any]) -> None:
        super()._validate_group(group)
        check_nonneg("LevenbergMarquardt", "lambda0", group["lambda0"])
        for name in ("lambda_up", "lambda_down"):
            if not isinstance(group[name], (int, float)) or not group[name] > 1:
                raise ValueError(f"LevenbergMarquardt: {name} must be > 1, got {group[name]!r}")
        check_choice("LevenbergMarquardt", "diag", group["diag"], (None, "marquardt", "identity"))
        if group["diag"] == "marquardt" and group["solver"] == "cg":
            raise ValueError("LevenbergMarquardt: diag='marquardt' needs solver='explicit'")

    def step(self, closure: Callable[[], Any] | None = None) -> float:
        """One LM iteration (retrying with larger lambda until the cost drops); returns the old cost."""
        group, params = self.param_groups[0], self._params()
        state = self.state.setdefault(params[0], {"n_iter": 0, "lambda": group["lambda0"]})
        lin = _Linearization(self.residual_fn, params)
        cost = 0.5 * float(lin.r @ lin.r)
        g = lin.jtu(lin.r)
        solve = self._solver_for(lin, g, group)
        x = flat.params_vector(params)
        lam, accepted, new_cost = state["lambda"], False, cost
        for _ in range(group["max_tries"]):
            if lam > _LAMBDA_MAX:  # no step lowers the cost: at a (numerical) minimum
                lam = _LAMBDA_MAX
                break
            delta = solve(lam)
            new_cost = self._cost_at(x + delta)
            if new_cost < cost:
                accepted = True
                lam = lam / group["lambda_down"]
                break
            lam = lam * group["lambda_up"]
        if not accepted:
            flat.set_params(params, x)
            delta, new_cost = np.zeros_like(x), cost
        state["lambda"] = lam
        state["n_iter"] += 1
        state["accepted"] = accepted
        state["cost"] = new_cost
        state["grad_norm"] = float(np.max(np.abs(g))) if g.size else 0.0
        state["step_norm"] = float(np.linalg.norm(delta))
        return cost

    def _solver_for(
        self, lin: _Linearization, g: np.ndarray, group
    ) -> Callable[[float], np.ndarray]:
        """lambda -> delta solving the damped normal equations."""
        n = g.size
        if self._solver(n) == "cg":

            def solve_cg(lam: float) -> np.ndarray:
                return conjugate_gradient(
                    lambda v: lin.jtu(lin.jv(v)) + lam * v, -g, group["cg_max_iter"]
                )

            return solve_cg
        J = lin.jacobian()
        A = J.T @ J
        if group["diag"] == "identity":
            D = np.ones(n)
        else:  # Marquardt's scaling, floored so a zero column cannot make the system singular
            D = np.maximum(np.diag(A), 1e-12 * max(1.0, float(np.max(np.diag(A), initial=0.0))))

        def solve_explicit(lam: float) -> np.ndarray:
            return np.linalg.solve(A + lam * np.diag(D), -g)

        return solve_explicit


def least_squares(
    residual_fn: Callable[[Tensor], Tensor],
    x0: Any,
    method: str = "lm",
    max_iter: int = 100,
    ftol: float = 1e-15,
    xtol: float = 1e-15,
    gtol: float = 1e-12,
    **kwargs: Any,
) -> tuple[np.ndarray, dict[str, Any]]:
    """argmin_x 1/2 ||residual_fn(x)||^2 from x0 by Levenberg-Marquardt ("lm") or Gauss-Newton ("gn").

    Stops when max|J^T r| <= gtol, the step norm <= xtol (||x|| + xtol), the relative cost
    decrease <= ftol, or LM can no longer lower the cost. Returns (x, info).
    """
    if method not in ("lm", "gn"):
        raise ValueError(f"least_squares: method must be 'lm' or 'gn', got {method!r}")
    x = Tensor(np.array(x0, dtype=np.float64), requires_grad=True)
    cls = LevenbergMarquardt if method == "lm" else GaussNewton
    opt = cls([x], lambda: residual_fn(x), **kwargs)
    converged, message, k = False, "max_iter reached", 0
    for k in range(1, max_iter + 1):
        cost = opt.step()
        st = opt.state[x]
        new_cost = st.get("cost", opt.cost())
        if st["grad_norm"] <= gtol:
            converged, message = True, "gradient below gtol"
        elif method == "lm" and not st["accepted"]:
            converged, message = True, "no step lowers the cost"
        elif st["step_norm"] <= xtol * (np.linalg.norm(x._data) + xtol):
            converged, message = True, "step below xtol"
        elif 0 <= cost - new_cost <= ftol * max(cost, 1e-300):
            converged, message = True, "relative cost decrease below ftol"
        if converged:
            break
    with no_grad():
        r = np.asarray(residual_fn(x)._data, dtype=np.float64)
    info = {
        "cost": 0.5 * float(r @ r),
        "residual": r,
        "n_iter": k,
        "converged": converged,
        "message": message,
        "method": method,
    }
    return x._data.copy(), info

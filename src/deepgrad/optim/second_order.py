"""Newton's method with exact Hessians from double backward (Nocedal & Wright ch. 3, 7).

H v is the gradient of <g(theta), v> with g = dL/dtheta recorded with
create_graph=True; the full Hessian is n such products (small models), and
Newton-CG uses them one at a time (large models).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..core import autodiff
from ..core.state import enable_grad
from ..core.tensor import Tensor
from . import flat
from .least_squares import cg_solve
from .line_search import armijo_backtracking
from .optimizer import Optimizer, ParamsT, check_choice, check_nonneg

_EXACT_MAX = 500  # "auto" builds the full Hessian up to this many parameters


def hessian_vector_product(
    grads: tuple[Tensor, ...], params: list[Tensor]
) -> Callable[[np.ndarray], np.ndarray]:
    """v -> H v for gradients `grads` recorded with create_graph=True (double backward)."""

    def hvp(v: np.ndarray) -> np.ndarray:
        cots = flat.split(v, params)
        live = [(g, c) for g, c in zip(grads, cots) if g.requires_grad]
        if not live:
            return np.zeros(v.size)
        outs = [g for g, _ in live]
        hv = autodiff.grad(outs, params, grad_outputs=[c for _, c in live], retain_graph=True)
        return flat.gather(hv, params)

    return hvp


def dense_hessian(hvp: Callable[[np.ndarray], np.ndarray], n: int) -> np.ndarray:
    """H = [H e_1, ..., H e_n], symmetrised."""
    H = np.empty((n, n))
    e = np.zeros(n)
    for i in range(n):
        e[i] = 1.0
        H[:, i] = hvp(e)
        e[i] = 0.0
    return 0.5 * (H + H.T)


def damped_newton_direction(
    H: np.ndarray, g: np.ndarray, damping: float
) -> tuple[np.ndarray, float]:
    """Solve (H + tau I) d = -g with the smallest tau >= damping making H + tau I positive definite.

    Cholesky with added multiple of the identity (Nocedal & Wright, Algorithm 3.3).
    """
    n = g.size
    beta = 1e-3 * max(1.0, float(np.max(np.abs(np.diag(H))))) if n else 1e-3
    tau = float(damping)
    if tau == 0 and n and np.min(np.diag(H)) <= 0:
        tau = -float(np.min(np.diag(H))) + beta
    for _ in range(100):
        try:
            L = np.linalg.cholesky(H + tau * np.eye(n))
        except np.linalg.LinAlgError:
            tau = max(2 * tau, beta)
            continue
        return -np.linalg.solve(L.T, np.linalg.solve(L, g)), tau
    raise np.linalg.LinAlgError("damped_newton_direction: could not make the Hessian PD")


def newton_cg_direction(
    hvp: Callable[[np.ndarray], np.ndarray],
    g: np.ndarray,
    damping: float = 0.0,
    max_iter: int | None = None,
    tol: float | None = None,
) -> tuple[np.ndarray, float | None]:
    """Truncated CG on (H + damping I) d = -g (Newton-CG, Nocedal & Wright Algorithm 7.1).

    Returns (d, None), or (d_so_far, rayleigh) when a direction p of non-positive
    curvature is met, rayleigh = p^T (H + damping I) p / p^T p, so the caller can damp more.
    """
    gnorm = float(np.linalg.norm(g))
    tol = min(0.5, np.sqrt(gnorm)) * gnorm if tol is None else tol
    return cg_solve(lambda p: hvp(p) + damping * p, -g, max_iter, tol)


def damped_newton_cg(hvp, g: np.ndarray, damping: float, max_iter: int | None):
    """Newton-CG, raising the Levenberg damping tau until CG meets no negative curvature."""
    tau = float(damping)
    for _ in range(60):
        d, rayleigh = newton_cg_direction(hvp, g, tau, max_iter)
        if rayleigh is None:
            return d, tau
        tau = max(2 * tau, tau - rayleigh + 1e-3 * max(1.0, abs(rayleigh)))
    return -g, tau


class Newton(Optimizer):
    """Newton's method: theta <- theta + t d with (H + tau I) d = -g (Levenberg damping tau).

    tau >= damping is raised until H + tau I is positive definite; t = lr, or Armijo
    backtracking from lr. The closure returns the loss with its graph (no backward call).
    """

    def __init__(
        self,
        params: ParamsT,
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
        super().__init__(params, defaults)

    def _validate_group(self, group: dict[str, Any]) -> None:
        super()._validate_group(group)
        check_nonneg("Newton", "damping", group["damping"])
        check_choice("Newton", "solver", group["solver"], ("auto", "exact", "cg"))
        check_choice("Newton", "line_search_fn", group["line_search_fn"], (None, "armijo"))

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One Newton step per parameter group; returns the loss before it."""
        if closure is None:
            raise ValueError(
                "Newton.step: a closure returning the loss (with its graph) is required"
            )
        loss = self._closure_loss(closure)
        if not isinstance(loss, Tensor) or not loss.requires_grad:
            raise TypeError(
                "Newton.step: the closure must return the loss Tensor with its graph "
                f"(requires_grad=True, backward not called), got {type(loss).__name__}"
            )
        for i, group in enumerate(self.param_groups):
            params = group["params"]
            with enable_grad():
                grads = autodiff.grad(loss, params, retain_graph=True, create_graph=True)
            self._group_step(closure, loss, params, grads, group)
        return loss

    def _group_step(self, closure, loss, params, grads, group) -> None:
        g = flat.gather(grads, params)
        hvp = hessian_vector_product(grads, params)
        n = g.size
        solver = group["solver"]
        if solver == "auto":
            solver = "exact" if n <= _EXACT_MAX else "cg"
        state = self.state.setdefault(params[0], {"n_iter": 0})
        if solver == "exact":
            d, tau = damped_newton_direction(dense_hessian(hvp, n), g, group["damping"])
        else:
            d, tau = damped_newton_cg(hvp, g, group["damping"], group["cg_max_iter"])
        state["tau"] = tau
        state["n_iter"] += 1
        x = flat.params_vector(params)
        if group["line_search_fn"] == "armijo":

            def value(z):
                return flat.loss_value(closure, params, z), np.zeros(0)

            res = armijo_backtracking(value, x, d, float(loss), g, alpha0=group["lr"])
            x = x + res.alpha * d
        else:
            x = x + group["lr"] * d
        flat.set_params(params, x)

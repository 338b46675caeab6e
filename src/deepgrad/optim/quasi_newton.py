"""Quasi-Newton methods: L-BFGS (PyTorch's semantics) and dense BFGS (Nocedal & Wright ch. 6-7).

Both keep an approximation H_k of the inverse Hessian built from the pairs
s_k = theta_{k+1} - theta_k, y_k = g_{k+1} - g_k, step along d_k = -H_k g_k,
and need a closure that zeroes the gradients, runs backward and returns the loss.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from typing import Any

import numpy as np

from . import flat
from .line_search import strong_wolfe
from .optimizer import Optimizer, ParamsT, check_choice, check_nonneg


class _QuasiNewton(Optimizer):
    """The outer loop of torch.optim.LBFGS.step, with the direction left to subclasses."""

    def __init__(
        self,
        params,
        lr,
        max_iter,
        max_eval,
        tolerance_grad,
        tolerance_change,
        line_search_fn,
        **extra,
    ) -> None:
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(
            lr=lr,
            max_iter=max_iter,
            max_eval=max_eval,
            tolerance_grad=tolerance_grad,
            tolerance_change=tolerance_change,
            line_search_fn=line_search_fn,
            **extra,
        )
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError(f"{self._name} doesn't support per-parameter options (param groups)")
        self._params = self.param_groups[0]["params"]

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        if self.param_groups:
            raise ValueError(f"{self._name} doesn't support per-parameter options (param groups)")
        super().add_param_group(param_group)

    def _validate_group(self, group: dict[str, Any]) -> None:
        super()._validate_group(group)
        for name in ("max_iter", "max_eval"):
            if not isinstance(group[name], int) or group[name] < 1:
                raise ValueError(
                    f"{self._name}: {name} must be an integer >= 1, got {group[name]!r}"
                )
        check_nonneg(self._name, "tolerance_grad", group["tolerance_grad"])
        check_nonneg(self._name, "tolerance_change", group["tolerance_change"])
        check_choice(self._name, "line_search_fn", group["line_search_fn"], (None, "strong_wolfe"))

    # subclasses: reset memory, record a pair (s, y), apply -H to g
    @abstractmethod
    def _reset_memory(self, state: dict) -> None:
        """Implemented by subclasses."""

    @abstractmethod
    def _update_memory(self, state: dict, s: np.ndarray, y: np.ndarray, ys: float) -> None:
        """Implemented by subclasses."""

    @abstractmethod
    def _direction(self, state: dict, g: np.ndarray) -> np.ndarray:
        """Implemented by subclasses."""

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Run up to `max_iter` quasi-Newton iterations; returns the loss before them."""
        if closure is None:
            raise ValueError(f"{self._name}.step: a closure re-evaluating the loss is required")
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        params = self._params
        state = self.state.setdefault(params[0], {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        objective = flat.closure_objective(closure, params)
        x = flat.params_vector(params)
        orig_loss = self._closure_loss(closure)
        loss = float(orig_loss)
        g = flat.grads_vector(params)
        current_evals = 1
        state["func_evals"] += 1
        if np.max(np.abs(g)) <= tol_grad:
            return orig_loss
        d, t = state.get("d"), state.get("t")
        prev_g, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            d = self._next_direction(state, g, d, t, prev_g)
            prev_g, prev_loss = g.copy(), loss
            t = min(1.0, 1.0 / np.sum(np.abs(g))) * lr if state["n_iter"] == 1 else lr
            if float(g @ d) > -tol_change:
                break
            x, t, loss, g, evals, opt_cond = self._move(
                objective, x, d, t, loss, g, max_eval - current_evals, n_iter == max_iter
            )
            current_evals += evals
            state["func_evals"] += evals
            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if np.max(np.abs(d * t)) <= tol_change or abs(loss - prev_loss) < tol_change:
                break
        state.update(d=d, t=t, prev_flat_grad=prev_g, prev_loss=prev_loss)
        return orig_loss

    def _next_direction(self, state, g, d, t, prev_g) -> np.ndarray:
        """-g at the very first iteration; else record (s, y) when y^T s > 1e-10 and apply -H."""
        if state["n_iter"] == 1:
            self._reset_memory(state)
            return -g
        y, s = g - prev_g, d * t
        ys = float(y @ s)
        if ys > 1e-10:
            self._update_memory(state, s, y, ys)
        return self._direction(state, g)

    def _move(self, objective, x, d, t, loss, g, max_ls, last):
        """Step along d (strong Wolfe, or the fixed step t); returns x, t, loss, g, evals, done."""
        group = self.param_groups[0]
        tol_grad = group["tolerance_grad"]
        if group["line_search_fn"] is not None:
            res = strong_wolfe(objective, x, d, loss, g, t, max_ls=max_ls)
            x = x + res.alpha * d
            flat.set_params(self._params, x)
            done = bool(np.max(np.abs(res.g)) <= tol_grad)
            return x, res.alpha, res.f, res.g, res.n_evals, done
        x = x + t * d
        flat.set_params(self._params, x)
        if last:  # torch skips the re-evaluation after the last inner iteration
            return x, t, loss, g, 0, False
        loss, g = objective(x)
        return x, t, loss, g, 1, bool(np.max(np.abs(g)) <= tol_grad)


class LBFGS(_QuasiNewton):
    """Limited-memory BFGS (Nocedal & Wright 2006, Algorithm 7.4: two-loop recursion).

    d_k = -H_k g_k with H_k from the last `history_size` pairs (s_i, y_i), rho_i = 1/(y_i^T s_i),
    H_0 = (s^T y / y^T y) I; theta_{k+1} = theta_k + t_k d_k (strong Wolfe t_k, or t_k = lr).
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
    ) -> None:
        if not isinstance(history_size, int) or history_size < 1:
            raise ValueError(f"LBFGS: history_size must be an integer >= 1, got {history_size!r}")
        super().__init__(
            params,
            lr,
            max_iter,
            max_eval,
            tolerance_grad,
            tolerance_change,
            line_search_fn,
            history_size=history_size,
        )

    def _reset_memory(self, state: dict) -> None:
        state.update(old_dirs=[], old_stps=[], ro=[], H_diag=1.0)

    def _update_memory(self, state, s, y, ys) -> None:
        if len(state["old_dirs"]) == self.param_groups[0]["history_size"]:
            for key in ("old_dirs", "old_stps", "ro"):
                state[key].pop(0)
        state["old_dirs"].append(y)
        state["old_stps"].append(s)
        state["ro"].append(1.0 / ys)
        state["H_diag"] = ys / float(y @ y)

    def _direction(self, state: dict, g: np.ndarray) -> np.ndarray:
        dirs, stps, ro = state["old_dirs"], state["old_stps"], state["ro"]
        al = [0.0] * len(dirs)
        q = -g
        for i in range(len(dirs) - 1, -1, -1):
            al[i] = float(stps[i] @ q) * ro[i]
            q = q - al[i] * dirs[i]
        r = q * state["H_diag"]
        for i in range(len(dirs)):
            be_i = float(dirs[i] @ r) * ro[i]
            r = r + (al[i] - be_i) * stps[i]
        return r


class BFGS(_QuasiNewton):
    """BFGS with a dense inverse Hessian (Nocedal & Wright 2006, eq. 6.17; H_0 by eq. 6.20).

    H_{k+1} = (I - rho s y^T) H_k (I - rho y s^T) + rho s s^T, rho = 1/(y^T s); d_k = -H_k g_k.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        line_search_fn: str | None = "strong_wolfe",
    ) -> None:
        super().__init__(
            params, lr, max_iter, max_eval, tolerance_grad, tolerance_change, line_search_fn
        )

    def _reset_memory(self, state: dict) -> None:
        state["H"] = None

    def _update_memory(self, state, s, y, ys) -> None:
        H = state["H"]
        if H is None:
            H = np.eye(s.size) * (ys / float(y @ y))
        rho = 1.0 / ys
        Hy = H @ y
        # expanded product form of the update; stays symmetric
        H = (
            H
            - rho * (np.outer(s, Hy) + np.outer(Hy, s))
            + (rho * rho * float(y @ Hy) + rho) * (np.outer(s, s))
        )
        state["H"] = H

    def _direction(self, state: dict, g: np.ndarray) -> np.ndarray:
        H = state["H"]
        return -g if H is None else -(H @ g)

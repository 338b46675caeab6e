"""Hypergradient descent (Baydin et al. 2018) and differentiation through unrolled optimisation.

With theta_t = theta_{t-1} - alpha u_{t-1}, d f(theta_t) / d alpha = -g_t . u_{t-1}, so the
learning rate itself can follow gradient descent online:

    alpha_t = alpha_{t-1} + beta g_t . u_{t-1}

(beta = `hypergrad_lr`). `unrolled` instead records K whole optimisation steps
with create_graph=True, so the final loss can be differentiated with respect
to the learning rate (or any hyperparameter) exactly (Maclaurin et al. 2015).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..core import autodiff
from ..core.state import enable_grad
from ..core.tensor import Tensor
from .adaptive import Adam
from .optimizer import Optimizer, ParamsT, check_nonneg
from .sgd import SGD, effective_grad


def _hypergradient_lr_step(
    opt: SGDHD | AdamHD, group: dict[str, Any]
) -> tuple[list[Tensor], list[np.ndarray]]:
    """alpha <- alpha + beta sum_p g_t . u_{t-1} on `group["lr"]`; returns (params, g_t).

    g_t is each live parameter's gradient (with weight decay, copied out of scratch);
    `opt._prev_direction(p, group)` gives u_{t-1}, or None where there is none yet.
    """
    live = [p for p in group["params"] if p.grad is not None]
    # copies in the parameter's layout (order="K"): ndarray.copy() would make a
    # column-major weight's gradient row-major and every later pass mixed-layout
    grads = [effective_grad(opt, p, group["weight_decay"], False).copy(order="K") for p in live]
    h = 0.0
    for p, g in zip(live, grads):
        prev = opt._prev_direction(p, group)
        if prev is not None:
            h += float(np.vdot(g, prev))
    group["lr"] = group["lr"] + group["hypergrad_lr"] * h
    return live, grads


class SGDHD(SGD):
    """SGD with hypergradient descent on its learning rate (Baydin et al. 2018).

    alpha_t = alpha_{t-1} + beta g_t . u_{t-1}; theta_t = theta_{t-1} - alpha_t u_t, with u_t
    the SGD direction (g_t, or the momentum buffer as in `SGD`), summed over the group.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        hypergrad_lr: float = 1e-6,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": False,
            "hypergrad_lr": hypergrad_lr,
        }
        Optimizer.__init__(self, params, defaults)

    def _validate_group(self, group: dict[str, Any]) -> None:
        super()._validate_group(group)
        check_nonneg("SGDHD", "hypergrad_lr", group["hypergrad_lr"])

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update each group's lr by its hypergradient, then take the SGD step."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            live, grads = _hypergradient_lr_step(self, group)
            for p, g in zip(live, grads):
                d = g
                if group["momentum"] != 0:
                    d = self._momentum(
                        p, g, group["momentum"], group["dampening"], group["nesterov"]
                    )
                state = self.state.setdefault(p, {})
                state["prev_direction"] = d.copy(order="K")
                p._data -= (group["lr"] * d).astype(p._data.dtype, copy=False)
        return loss

    def _prev_direction(self, p: Tensor, group: dict) -> np.ndarray | None:
        """u_{t-1} for parameter p (stored by the last step), or None before its first step."""
        return self.state.get(p, {}).get("prev_direction")


class AdamHD(Adam):
    """Adam with hypergradient descent on its learning rate (Baydin et al. 2018).

    alpha_t = alpha_{t-1} + beta g_t . u_{t-1}, u_{t-1} = m_hat_{t-1} / (sqrt(v_hat_{t-1}) + eps)
    the previous Adam direction; then the Adam step (Kingma & Ba 2015) with alpha_t.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        hypergrad_lr: float = 1e-8,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay)
        for group in self.param_groups:
            group.setdefault("hypergrad_lr", hypergrad_lr)
        self.defaults["hypergrad_lr"] = hypergrad_lr
        for group in self.param_groups:
            check_nonneg("AdamHD", "hypergrad_lr", group["hypergrad_lr"])

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update each group's lr by its hypergradient, then take the Adam step."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            live, grads = _hypergradient_lr_step(self, group)
            for p, g in zip(live, grads):
                state = self.state.get(p)
                if state is None:
                    state = self.state[p] = self._init_state(p._data, False)
                state["step"] += 1
                self._adam_update(p._data, g, state, group)
        return loss

    def _prev_direction(self, p: Tensor, group: dict) -> np.ndarray | None:
        """u_{t-1} for parameter p, or None before its first step."""
        state = self.state.get(p)
        if state is None or state["step"] <= 0:
            return None
        return self._direction(p._data, state, group)

    def _direction(self, x: np.ndarray, state: dict, group: dict) -> np.ndarray:
        """The previous Adam direction m_hat / (sqrt(v_hat) + eps), from the stored moments."""
        beta1 = group["betas"][0]
        denom = self.adam_denominator(x, state, group).copy()
        return state["exp_avg"] / (1 - beta1 ** state["step"]) / denom


def unrolled(
    loss_fn: Callable[[list[Tensor]], Tensor],
    params: Sequence[Tensor],
    inner_steps: int = 5,
    inner_lr: Tensor | float = 0.1,
    momentum: Tensor | float = 0.0,
    meta_loss_fn: Callable[[list[Tensor]], Tensor] | None = None,
    return_params: bool = False,
) -> Tensor | tuple[Tensor, list[Tensor]]:
    """K differentiable (momentum) SGD steps; returns the final loss, differentiable in the hypers.

    v_k = mu v_{k-1} + grad L(theta_k); theta_{k+1} = theta_k - eta v_k (mu = 0: plain SGD),
    each gradient recorded with create_graph=True, so d meta_loss(theta_K) / d eta (and d/d mu,
    d/d theta_0 when `params` require grad) come from one backward pass (Maclaurin et al. 2015).
    `loss_fn` and `meta_loss_fn` (default: `loss_fn`) take the list of current parameters.
    """
    if not isinstance(inner_steps, int) or inner_steps < 0:
        raise ValueError(f"unrolled: inner_steps must be an integer >= 0, got {inner_steps!r}")
    theta = []
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"unrolled: params[{i}] must be a Tensor, got {type(p).__name__}")
        # a parameter without requires_grad gets a fresh differentiable copy of its value
        theta.append(p if p.requires_grad else Tensor(p._data.copy(), requires_grad=True))
    velocity: list[Tensor | None] = [None] * len(theta)
    with enable_grad():
        for _ in range(inner_steps):
            loss = loss_fn(theta)
            grads = autodiff.grad(loss, theta, create_graph=True)
            new = []
            for j, (t, g) in enumerate(zip(theta, grads)):
                if isinstance(momentum, Tensor) or momentum != 0:
                    g = g if velocity[j] is None else velocity[j] * momentum + g
                    velocity[j] = g
                new.append(t - inner_lr * g)
            theta = new
        final = (meta_loss_fn or loss_fn)(theta)
    return (final, theta) if return_params else final


differentiate_through_optimization = unrolled

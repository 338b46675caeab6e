"""Adaptive first-order methods: Adagrad, RMSprop, Adam and AdamW (PyTorch's update equations)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .optimizer import Optimizer, ParamsT, check_adam_group, check_nonneg
from .sgd import effective_grad


class Adagrad(Optimizer):
    """Adagrad: per-coordinate steps shrinking with the summed squared gradients (Duchi et al. 2011).

    s_t = s_{t-1} + g_t^2; theta_t = theta_{t-1} - lr / (1 + (t-1) lr_decay) * g_t / (sqrt(s_t) + eps).
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "eps": eps,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _validate_group(self, group: dict[str, Any]) -> None:
        super()._validate_group(group)
        for name in ("lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            check_nonneg("Adagrad", name, group[name])

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One Adagrad step."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state.get(p)
                if state is None:
                    init = group["initial_accumulator_value"]
                    state = self.state[p] = {"step": 0, "sum": np.full_like(p._data, init)}
                state["step"] += 1
                g = effective_grad(self, p, group["weight_decay"], group["maximize"])
                clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
                acc = state["sum"]
                tmp = self._tmp(p._data, 1)
                np.multiply(g, g, out=tmp)
                np.add(acc, tmp, out=acc)
                np.sqrt(acc, out=tmp)
                np.add(tmp, group["eps"], out=tmp)
                np.divide(g, tmp, out=tmp)
                np.multiply(tmp, clr, out=tmp)
                np.subtract(p._data, tmp, out=p._data)
        return loss


class RMSprop(Optimizer):
    """RMSprop: divide by a running RMS of the gradients (Hinton, Coursera lecture 6e, 2012).

    v_t = alpha v_{t-1} + (1-alpha) g_t^2; centered: v_t - gbar_t^2 (gbar the running mean of g);
    b_t = mu b_{t-1} + g_t / (sqrt(v_t) + eps); theta_t = theta_{t-1} - lr b_t (mu = 0: b_t = that ratio).
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "alpha": alpha,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum": momentum,
            "centered": centered,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _validate_group(self, group: dict[str, Any]) -> None:
        super()._validate_group(group)
        for name in ("alpha", "eps", "weight_decay", "momentum"):
            check_nonneg("RMSprop", name, group[name])

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One RMSprop step."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            alpha, momentum = group["alpha"], group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state.get(p)
                if state is None:
                    state = self.state[p] = {"step": 0, "square_avg": np.zeros_like(p._data)}
                    if momentum > 0:
                        state["momentum_buffer"] = np.zeros_like(p._data)
                    if group["centered"]:
                        state["grad_avg"] = np.zeros_like(p._data)
                state["step"] += 1
                g = effective_grad(self, p, group["weight_decay"], group["maximize"])
                sq = state["square_avg"]
                avg = self._tmp(p._data, 1)
                np.multiply(sq, alpha, out=sq)
                np.multiply(g, g, out=avg)
                np.multiply(avg, 1 - alpha, out=avg)
                np.add(sq, avg, out=sq)
                if group["centered"]:
                    gavg = state["grad_avg"]
                    np.subtract(g, gavg, out=avg)  # lerp: gbar += (1 - alpha)(g - gbar)
                    np.multiply(avg, 1 - alpha, out=avg)
                    np.add(gavg, avg, out=gavg)
                    np.multiply(gavg, gavg, out=avg)
                    np.subtract(sq, avg, out=avg)
                    np.sqrt(avg, out=avg)
                else:
                    np.sqrt(sq, out=avg)
                np.add(avg, group["eps"], out=avg)
                np.divide(g, avg, out=avg)
                if momentum > 0:
                    buf = state["momentum_buffer"]
                    np.multiply(buf, momentum, out=buf)
                    np.add(buf, avg, out=buf)
                    np.multiply(buf, group["lr"], out=avg)
                else:
                    np.multiply(avg, group["lr"], out=avg)
                np.subtract(p._data, avg, out=p._data)
        return loss


class Adam(Optimizer):
    """Adam: bias-corrected moment estimates (Kingma & Ba 2015).

    m_t = b1 m_{t-1} + (1-b1) g_t; v_t = b2 v_{t-1} + (1-b2) g_t^2;
    theta_t = theta_{t-1} - lr/(1-b1^t) * m_t / (sqrt(v_t)/sqrt(1-b2^t) + eps)  (amsgrad: max of v).
    """

    _decoupled = False

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": tuple(betas) if isinstance(betas, list) else betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _validate_group(self, group: dict[str, Any]) -> None:
        super()._validate_group(group)
        check_adam_group(self._name, group)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One Adam step."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, wd = group["lr"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state.get(p)
                if state is None:
                    state = self.state[p] = self._init_state(p._data, group["amsgrad"])
                state["step"] += 1
                if self._decoupled:
                    if wd != 0:
                        np.multiply(p._data, 1 - lr * wd, out=p._data)
                    g = effective_grad(self, p, 0, group["maximize"])
                else:
                    g = effective_grad(self, p, wd, group["maximize"])
                self._adam_update(p._data, g, state, group)
        return loss

    @staticmethod
    def _init_state(like: np.ndarray, amsgrad: bool) -> dict[str, Any]:
        state = {"step": 0, "exp_avg": np.zeros_like(like), "exp_avg_sq": np.zeros_like(like)}
        if amsgrad:
            state["max_exp_avg_sq"] = np.zeros_like(like)
        return state

    def _adam_update(self, x: np.ndarray, g: np.ndarray, state: dict, group: dict) -> None:
        beta1, beta2 = group["betas"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        tmp = self._tmp(x, 1)
        np.subtract(g, m, out=tmp)  # lerp: m += (1 - b1)(g - m)
        np.multiply(tmp, 1 - beta1, out=tmp)
        np.add(m, tmp, out=m)
        np.multiply(v, beta2, out=v)
        np.multiply(g, g, out=tmp)
        np.multiply(tmp, 1 - beta2, out=tmp)
        np.add(v, tmp, out=v)
        denom = self.adam_denominator(x, state, group)
        step_size = group["lr"] / (1 - beta1 ** state["step"])
        np.divide(m, denom, out=denom)
        np.multiply(denom, step_size, out=denom)
        np.subtract(x, denom, out=x)

    def adam_denominator(self, x: np.ndarray, state: dict, group: dict) -> np.ndarray:
        """sqrt(v_t) / sqrt(1 - b2^t) + eps (v the running max with amsgrad), in scratch."""
        v = state["exp_avg_sq"]
        if group["amsgrad"]:
            np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        bc2_sqrt = math.sqrt(1 - group["betas"][1] ** state["step"])
        denom = self._tmp(x, 1)
        np.sqrt(v, out=denom)
        np.divide(denom, bc2_sqrt, out=denom)
        np.add(denom, group["eps"], out=denom)
        return denom


class AdamW(Adam):
    """AdamW: Adam with decoupled weight decay (Loshchilov & Hutter 2019).

    theta <- theta (1 - lr * weight_decay), then the Adam step on the raw gradient.
    """

    _decoupled = True

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize)

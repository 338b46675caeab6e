"""More of torch.optim: Adadelta, Adamax, NAdam, RAdam, Rprop and ASGD.

Each class gathers its state; the update is a small function whose lines follow
the pseudo-code in the class docstring (and PyTorch's single-tensor update, so
float64 trajectories agree with torch.optim to rounding).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .optimizer import Optimizer, ParamsT, check_adam_group, check_nonneg, check_range
from .sgd import effective_grad


def _lerp(m: np.ndarray, g: np.ndarray, weight: float) -> None:
    """m <- m + weight (g - m), in place (an exponential moving average)."""
    m += weight * (g - m)


def _ema_square(v: np.ndarray, g: np.ndarray, beta: float) -> None:
    """v <- beta v + (1 - beta) g^2, in place."""
    v *= beta
    v += (1 - beta) * g * g


def _sub_(p, delta) -> None:
    """theta <- theta - delta, written into the parameter's own array."""
    np.subtract(p._data, delta, out=p._data)


def _scale_(p, factor: float) -> None:
    """theta <- factor * theta, in place."""
    np.multiply(p._data, factor, out=p._data)


class _Stepper(Optimizer):
    """Shared loop: per parameter with a gradient, init state once, then `_update`."""

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One optimisation step over every parameter that has a gradient."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state.get(p)
                if state is None:
                    state = self.state[p] = self._init_state(p._data, group)
                state["step"] += 1
                self._update(p, state, group)
        return loss

    def _init_state(self, x: np.ndarray, group: dict) -> dict[str, Any]:
        raise TypeError(f"{self._name} does not define its state")

    def _update(self, p, state: dict, group: dict) -> None:
        raise TypeError(f"{self._name} does not define its update")


class Adadelta(_Stepper):
    """Adadelta (Zeiler 2012): steps scaled by the ratio of running RMS of updates and grads.

    v_t = rho v + (1-rho) g^2;  d = sqrt(u + eps) / sqrt(v_t + eps) g;
    u_t = rho u + (1-rho) d^2;  theta <- theta - lr d.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay}
        super().__init__(params, {**defaults, "maximize": maximize})

    def _validate_group(self, group: dict[str, Any]) -> None:
        super()._validate_group(group)
        check_range("Adadelta", "rho", group["rho"], 0.0, 1.0, closed_high=True)
        check_nonneg("Adadelta", "eps", group["eps"])
        check_nonneg("Adadelta", "weight_decay", group["weight_decay"])

    def _init_state(self, x, group):
        return {"step": 0, "square_avg": np.zeros_like(x), "acc_delta": np.zeros_like(x)}

    def _update(self, p, state, group):
        g = effective_grad(self, p, group["weight_decay"], group["maximize"])
        rho, eps = group["rho"], group["eps"]
        _ema_square(state["square_avg"], g, rho)
        delta = np.sqrt(state["acc_delta"] + eps) / np.sqrt(state["square_avg"] + eps) * g
        _ema_square(state["acc_delta"], delta, rho)
        _sub_(p, group["lr"] * delta)


class Adamax(_Stepper):
    """Adamax (Kingma & Ba 2015, section 7): Adam with the infinity norm.

    m_t = b1 m + (1-b1) g;  u_t = max(b2 u, |g| + eps);  theta <- theta - lr/(1-b1^t) m_t / u_t.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay}
        super().__init__(params, {**defaults, "maximize": maximize})

    def _validate_group(self, group: dict[str, Any]) -> None:
        super()._validate_group(group)
        check_adam_group("Adamax", group)

    def _init_state(self, x, group):
        return {"step": 0, "exp_avg": np.zeros_like(x), "exp_inf": np.zeros_like(x)}

    def _update(self, p, state, group):
        g = effective_grad(self, p, group["weight_decay"], group["maximize"])
        beta1, beta2 = group["betas"]
        _lerp(state["exp_avg"], g, 1 - beta1)
        np.maximum(state["exp_inf"] * beta2, np.abs(g) + group["eps"], out=state["exp_inf"])
        clr = group["lr"] / (1 - beta1 ** state["step"])
        _sub_(p, clr * state["exp_avg"] / state["exp_inf"])


def _decay(opt: Optimizer, p, group: dict) -> np.ndarray:
    """The gradient after weight decay: decoupled (theta *= 1 - lr wd) or added to g."""
    wd = group["weight_decay"]
    if group["decoupled_weight_decay"]:
        if wd:
            _scale_(p, 1 - group["lr"] * wd)
        return effective_grad(opt, p, 0, group["maximize"])
    return effective_grad(opt, p, wd, group["maximize"])


class NAdam(_Stepper):
    """NAdam (Dozat 2016): Adam with Nesterov momentum and a momentum schedule.

    mu_t = b1 (1 - 0.5 * 0.96^(t psi));  m_t, v_t as Adam;  d = sqrt(v_t / (1-b2^t)) + eps;
    theta <- theta - lr (1-mu_t)/(1-prod mu) g/d - lr mu_{t+1}/(1 - prod mu * mu_{t+1}) m_t/d.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay}
        extra = {"momentum_decay": momentum_decay, "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, {**defaults, **extra, "maximize": maximize})

    def _validate_group(self, group: dict[str, Any]) -> None:
        super()._validate_group(group)
        check_adam_group("NAdam", group, "momentum_decay")

    def _init_state(self, x, group):
        zeros = np.zeros_like
        return {"step": 0, "mu_product": 1.0, "exp_avg": zeros(x), "exp_avg_sq": zeros(x)}

    def _update(self, p, state, group):
        g = _decay(self, p, group)
        (beta1, beta2), t, psi = group["betas"], state["step"], group["momentum_decay"]
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * psi))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
        state["mu_product"] *= mu
        prod = state["mu_product"]
        _lerp(state["exp_avg"], g, 1 - beta1)
        _ema_square(state["exp_avg_sq"], g, beta2)
        denom = np.sqrt(state["exp_avg_sq"] / (1 - beta2**t)) + group["eps"]
        lr = group["lr"]
        _sub_(p, (lr * (1.0 - mu) / (1.0 - prod)) * (g / denom))
        _sub_(p, (lr * mu_next / (1.0 - prod * mu_next)) * (state["exp_avg"] / denom))


class RAdam(_Stepper):
    """RAdam (Liu et al. 2020): Adam whose adaptive step is switched on, and rectified,
    once the variance of the adaptive learning rate is tractable.

    rho_inf = 2/(1-b2) - 1;  rho_t = rho_inf - 2 t b2^t/(1-b2^t);  m_hat = m_t/(1-b1^t);
    rho_t > 5: theta <- theta - lr r_t m_hat sqrt(1-b2^t)/(sqrt(v_t) + eps), else lr m_hat.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay}
        extra = {"decoupled_weight_decay": decoupled_weight_decay, "maximize": maximize}
        super().__init__(params, {**defaults, **extra})

    def _validate_group(self, group: dict[str, Any]) -> None:
        super()._validate_group(group)
        check_adam_group("RAdam", group)

    def _init_state(self, x, group):
        return {"step": 0, "exp_avg": np.zeros_like(x), "exp_avg_sq": np.zeros_like(x)}

    def _update(self, p, state, group):
        g = _decay(self, p, group)
        (beta1, beta2), t, lr = group["betas"], state["step"], group["lr"]
        _lerp(state["exp_avg"], g, 1 - beta1)
        _ema_square(state["exp_avg_sq"], g, beta2)
        m_hat = state["exp_avg"] / (1 - beta1**t)
        bc2 = 1 - beta2**t
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * (beta2**t) / bc2
        if rho_t > 5.0:
            rect = math.sqrt(
                (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            )
            adaptive = math.sqrt(bc2) / (np.sqrt(state["exp_avg_sq"]) + group["eps"])
            _sub_(p, m_hat * lr * adaptive * rect)
        else:
            _sub_(p, m_hat * lr)


class Rprop(_Stepper):
    """Resilient backpropagation (Riedmiller & Braun 1993): per-weight step sizes grown by
    eta+ while the gradient keeps its sign and shrunk by eta- when it flips.

    s = sign(g g_prev);  step *= eta+ (s > 0), eta- (s < 0), 1 (s = 0), clipped to
    [step_min, step_max];  g = 0 where s < 0;  theta <- theta - sign(g) step;  g_prev = g.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        etas: tuple[float, float] = (0.5, 1.2),
        step_sizes: tuple[float, float] = (1e-6, 50),
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {"lr": lr, "etas": tuple(etas), "step_sizes": tuple(step_sizes)}
        super().__init__(params, {**defaults, "maximize": maximize})

    def _validate_group(self, group: dict[str, Any]) -> None:
        super()._validate_group(group)
        minus, plus = group["etas"]
        if not 0.0 < minus < 1.0 < plus:
            raise ValueError(f"Rprop: etas must satisfy 0 < eta- < 1 < eta+, got {group['etas']}")

    def _init_state(self, x, group):
        return {"step": 0, "prev": np.zeros_like(x), "step_size": np.full_like(x, group["lr"])}

    def _update(self, p, state, group):
        g = effective_grad(self, p, 0, group["maximize"]).copy()
        minus, plus = group["etas"]
        lo, hi = group["step_sizes"]
        s = np.sign(g * state["prev"])
        factor = np.where(s > 0, plus, np.where(s < 0, minus, 1.0))
        np.clip(state["step_size"] * factor, lo, hi, out=state["step_size"])
        g[s < 0] = 0
        _sub_(p, np.sign(g) * state["step_size"])
        state["prev"][...] = g


class ASGD(_Stepper):
    """Averaged SGD (Polyak & Juditsky 1992; Bottou 2010's schedule): SGD with decaying
    steps, plus a running average `ax` of the iterates from step t0 on.

    theta <- theta (1 - lambd eta) - eta g;  ax <- ax + mu (theta - ax);
    eta = lr / (1 + lambd lr t)^alpha;  mu = 1 / max(1, t - t0).
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        lambd: float = 1e-4,
        alpha: float = 0.75,
        t0: float = 1e6,
        weight_decay: float = 0,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {"lr": lr, "lambd": lambd, "alpha": alpha, "t0": t0}
        super().__init__(params, {**defaults, "weight_decay": weight_decay, "maximize": maximize})

    def _validate_group(self, group: dict[str, Any]) -> None:
        super()._validate_group(group)
        for name in ("lambd", "alpha", "t0", "weight_decay"):
            check_nonneg("ASGD", name, group[name])

    def _init_state(self, x, group):
        return {"step": 0, "eta": float(group["lr"]), "mu": 1.0, "ax": np.zeros_like(x)}

    def _update(self, p, state, group):
        g = effective_grad(self, p, group["weight_decay"], group["maximize"])
        eta, t = state["eta"], state["step"]
        _scale_(p, 1 - group["lambd"] * eta)
        _sub_(p, eta * g)
        if state["mu"] != 1:
            state["ax"] += (p._data - state["ax"]) * state["mu"]
        else:
            state["ax"][...] = p._data
        state["eta"] = group["lr"] / ((1 + group["lambd"] * group["lr"] * t) ** group["alpha"])
        state["mu"] = 1 / max(1, t - group["t0"])

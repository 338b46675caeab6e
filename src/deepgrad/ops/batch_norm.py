"""Batch norm (Ioffe & Szegedy 2015) from the per-channel primitives of `channel_norm`.

Training is two primitives: m = channel_moments(x) (mean and biased variance), then

    batch_norm_affine(x, m, gamma, beta) = x a_c + s_c,   a = gamma r,  s = beta - mean a,
                                           r = 1 / sqrt(var + eps)
        dx = g a                         dmean = -a sum(g)
        dvar = -a r^2 / 2 sum(g (x - mean))
        dgamma = r sum(g (x - mean))     dbeta = sum(g)

(sums over every axis but 1).  The (C,)-sized coefficient algebra, five elementwise
primitives and two slices per layer when written with the registry's ops (about 4 ms of
Python per ResNet-18 step), lives inside the primitive.  In a first-order backward the
rules run on the arrays and share the two per-channel sums of g and g x through the
node's saved state; when the backward is recorded (create_graph) they are the same
formulas in differentiable ops, so second order and forward mode hold.
"""

from __future__ import annotations

import numpy as np

from ..core.state import STATE, host_call
from ._base import Case, Domain, ErrorCase, Tensor, _ones, _wrap, apply, primitive
from .channel_norm import (
    _affine,
    _broadcast,
    _channel_view,
    _count,
    _like,
    channel_affine_p,
    channel_dot_p,
    channel_moments,
    channel_scale_p,
    channel_sum_p,
)
from .elementwise import add, mul, pow, sub
from .index import getitem
from .shape import stack

__all__ = ["batch_norm"]


def _coefficients(m: np.ndarray, w: np.ndarray, eps: float):
    """(mean, r, a) on the arrays."""
    r = 1.0 / np.sqrt(m[1] + eps)
    return m[0], r, w * r


def _sums(g: Tensor, x: Tensor, cache: list) -> tuple[np.ndarray, np.ndarray]:
    """(sum g, sum g x) per channel on the arrays, once per cotangent for the four rules."""
    if cache and cache[0] is g._data:
        return cache[1], cache[2]
    gs = channel_sum_p.forward(g._data)
    gx = channel_dot_p.forward(g._data, x._data)
    cache[:] = [g._data, gs, gx]
    return gs, gx


def _terms(m: Tensor, w: Tensor, eps: float):
    """(mean, r, a) as differentiable tensors (the rules under create_graph)."""
    mean, r = getitem(m, 0), pow(add(getitem(m, 1), eps), -0.5)
    return mean, r, mul(w, r)


def _recorded_gxc(g: Tensor, x: Tensor, mean: Tensor) -> tuple[Tensor, Tensor]:
    gs = apply(channel_sum_p, g)
    return gs, sub(apply(channel_dot_p, g, x), mul(mean, gs))


def _vjp_x(g, ans, x, m, w, b, eps, saved=None):
    if not STATE.grad and saved is not None:
        return _wrap(channel_scale_p.forward(g._data, _coefficients(m._data, w._data, eps)[2]))
    return apply(channel_scale_p, g, _terms(m, w, eps)[2])


def _vjp_m(g, ans, x, m, w, b, eps, saved=None):
    if not STATE.grad and saved is not None:
        mean, r, a = _coefficients(m._data, w._data, eps)
        gs, gx = _sums(g, x, saved)
        return _wrap(np.stack([-a * gs, (gx - mean * gs) * (-0.5 * a * r * r)]))
    mean, r, a = _terms(m, w, eps)
    gs, gxc = _recorded_gxc(g, x, mean)
    return stack([mul(mul(a, gs), -1.0), mul(gxc, mul(mul(a, mul(r, r)), -0.5))])


def _vjp_w(g, ans, x, m, w, b, eps, saved=None):
    if not STATE.grad and saved is not None:
        mean, r, _ = _coefficients(m._data, w._data, eps)
        gs, gx = _sums(g, x, saved)
        return _wrap((gx - mean * gs) * r)
    mean, r, _ = _terms(m, w, eps)
    return mul(_recorded_gxc(g, x, mean)[1], r)


def _vjp_b(g, ans, x, m, w, b, eps, saved=None):
    if not STATE.grad and saved is not None:
        return _wrap(_sums(g, x, saved)[0])
    return apply(channel_sum_p, g)


def _jvp_m(t, ans, x, m, w, b, eps, saved=None):
    mean, r, a = _terms(m, w, eps)
    da = mul(mul(a, mul(r, r)), -0.5)  # d a / d var
    tv = mul(da, getitem(t, 1))
    return apply(channel_affine_p, x, tv, sub(mul(mul(mean, tv), -1.0), mul(a, getitem(t, 0))))


def _jvp_w(t, ans, x, m, w, b, eps, saved=None):
    mean, r, _ = _terms(m, w, eps)
    tw = mul(r, t)
    return apply(channel_affine_p, x, tw, mul(mul(mean, tw), -1.0))


def _moments_case(xs):
    c = xs[1]
    return Case((xs, (2, c), (c,), (c,)), {"eps": 1e-5})


@primitive(
    "batch_norm_affine",
    vjp=[_vjp_x, _vjp_m, _vjp_w, _vjp_b],
    jvp=[
        lambda t, ans, x, m, w, b, eps, saved=None: apply(channel_scale_p, t, _terms(m, w, eps)[2]),
        _jvp_m,
        _jvp_w,
        lambda t, ans, x, m, w, b, eps, saved=None: _broadcast(_channel_view(t, x.ndim), x.shape),
    ],
    # positive values: the variance input must stay above -eps
    domain=Domain(
        [_moments_case((3, 2, 2, 3)), _moments_case((4, 3)), _moments_case((2, 2, 2, 1, 2))],
        low=0.2,
        high=2.0,
        errors=[
            ErrorCase(
                lambda: batch_norm(_ones(1, 3, 1, 1), None, None, training=True),
                ValueError,
                r"batch_norm: expected more than 1 value per channel when training, "
                r"got input of shape \(1, 3, 1, 1\)",
            )
        ],
    ),
    saves=True,
)
def batch_norm_affine_p(x, m, w, b, eps, save):
    """$y = \\gamma (x - \\mu) / \\sqrt{\\sigma^2 + \\epsilon} + \\beta$ with $[\\mu, \\sigma^2] = m$;
    dx = g a, dm, d$\\gamma$, d$\\beta$ from $\\sum g$ and $\\sum g (x - \\mu)$ (module doc)."""
    mean, _, a = _coefficients(m, w, eps)
    return _affine(x, a, b - mean * a), ([] if save else None)


def _tracked(*params: Tensor | None) -> bool:
    """Would a gradient or a tangent flow to any of these tensors?"""
    if STATE.fwd or STATE.batch:
        return True  # forward mode / vmap: the general path
    return STATE.grad and any(p is not None and p.requires_grad for p in params)


def _frozen_coefficients(x, mean, var, weight, bias, eps) -> tuple[Tensor, Tensor]:
    """(a, b) of evaluation-mode batch norm computed on the arrays, in x's dtype: no
    gradient reaches gamma or beta (inference), so the (C,) algebra needs no graph."""
    a = 1.0 / np.sqrt(var._data.astype(x.dtype) + eps)
    if weight is not None:
        a = a * weight._data.astype(x.dtype)
    b = -mean._data.astype(x.dtype) * a
    if bias is not None:
        b = b + bias._data.astype(x.dtype)
    return Tensor(a.astype(x.dtype, copy=False)), Tensor(b.astype(x.dtype, copy=False))


@host_call  # in place on the buffers: deepgrad.compile replays it each step
def _update_running(
    running_mean: Tensor, running_var: Tensor, stats: np.ndarray, n: int, momentum: float
) -> None:
    """running <- (1 - momentum) running + momentum batch, the variance unbiased."""
    running_mean._data[...] = (1 - momentum) * running_mean._data + momentum * stats[0]
    unbiased = stats[1] * (n / max(n - 1, 1))
    running_var._data[...] = (1 - momentum) * running_var._data + momentum * unbiased


def batch_norm(
    x: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """$y = \\gamma (x - \\mu) / \\sqrt{\\sigma^2 + \\epsilon} + \\beta$ per channel of (N, C, *S)
    (Ioffe & Szegedy 2015), as `nn.functional.batch_norm`: channel_moments and
    batch_norm_affine with the batch's statistics (training, or no running statistics),
    else one channel_affine with the running ones.

    Training updates the running statistics in place with weight `momentum`, the variance
    unbiased (n / (n - 1)), as PyTorch.  The caller validates the shapes.
    """
    if training or running_mean is None:
        n = _count(x._data)
        if training and n <= 1:
            raise ValueError(
                f"batch_norm: expected more than 1 value per channel when training, "
                f"got input of shape {x.shape}"
            )
        m = channel_moments(x)
        if training and running_mean is not None:
            _update_running(running_mean, running_var, m._data, n, momentum)
        c = x.shape[1]
        w = _wrap(np.ones(c, x.dtype)) if weight is None else _like(weight, x)
        b = _wrap(np.zeros(c, x.dtype)) if bias is None else _like(bias, x)
        return apply(batch_norm_affine_p, x, m, w, b, eps=float(eps))
    mean, var = running_mean.detach(), running_var.detach()
    if not _tracked(weight, bias):
        return apply(channel_affine_p, x, *_frozen_coefficients(x, mean, var, weight, bias, eps))
    a = pow(add(_like(var, x), eps), -0.5)
    if weight is not None:
        a = mul(a, _like(weight, x))
    shift = mul(_like(mean, x), a)
    shift = mul(shift, -1.0) if bias is None else sub(_like(bias, x), shift)
    return apply(channel_affine_p, x, a, shift)

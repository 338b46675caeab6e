"""Fused primitives for neural-network layers and losses: where one node pays for itself.

    linear:                y = x W^T + b;               dx = g W, dW = g^T x, db = sum_n g
    erf:                   y = erf(x);                  dx = g 2/sqrt(pi) e^{-x^2}
    softplus:              y = log(1 + e^x);            dx = g sigmoid(x)
    softmax_cross_entropy: y_n = logsumexp(x_n) - x_{n,t_n};  dx = g (softmax(x) - onehot(t))
    binary_cross_entropy:  y = -(t log x + (1 - t) log(1 - x));  dx = g (x - t) / (x (1 - x))

`linear` and `softmax_cross_entropy` are the MLP training step's hot path: one
node each instead of three to five.  `erf` and `softplus` exist because NumPy
has no erf and a composite softplus has the wrong derivative at 0.
"""

from __future__ import annotations

import math

import numpy as np

from ._base import UNARY_CASES, Case, Domain, ErrorCase, Tensor, _ones, apply, primitive
from .elementwise import clip, exp, log, maximum, mul, rsub, sigmoid, square, sub
from .index import one_hot
from .linalg import matmul, matmul_p
from .reduce import sum as _sum
from .reduce import sum_p
from .shape import broadcast_to, permute_p, reshape, swapaxes
from .softmax import softmax, softmax_p
from .validation import check_float, floating

# --- linear ------------------------------------------------------------------------


def _mT(x: Tensor) -> Tensor:
    return swapaxes(x, -1, -2)


# The rules apply the matmul/permute/sum primitives directly: shapes are known to be
# right here, and skipping the public wrappers' checks is most of this layer's overhead.
_T2 = {"axes": (1, 0)}
_SUM0 = {"axis": (0,), "keepdims": False}


def _column_major(a: np.ndarray) -> bool:
    return a.flags.f_contiguous and not a.flags.c_contiguous


def _linear_dw(g, ans, x, w, b=None):
    """dW = g^T x, laid out like W: a column-major W (nn.Linear's) gets a column-major
    gradient, so the optimizer's elementwise passes see one layout."""
    gt = apply(permute_p, g, **_T2)
    if _column_major(w._data):
        return apply(matmul_p, gt, x, order="F")
    return apply(matmul_p, gt, x)


def _linear_jvp_b(t, ans, x, w, b):
    return broadcast_to(t, ans.shape)


@primitive(
    "linear",
    vjp=[
        lambda g, ans, x, w, b=None: apply(matmul_p, g, w),
        _linear_dw,
        lambda g, ans, x, w, b: apply(sum_p, g, **_SUM0),
    ],
    jvp=[
        lambda t, ans, x, w, b=None: matmul(t, _mT(w)),
        lambda t, ans, x, w, b=None: matmul(x, _mT(t)),
        _linear_jvp_b,
    ],
    domain=Domain(
        [
            Case(((4, 3), (2, 3), (2,))),
            Case(((1, 1), (1, 1), (1,))),
            Case(((0, 3), (2, 3), (2,))),
            Case(((4, 3), (2, 3))),
        ],
        errors=[
            ErrorCase(
                lambda: linear(_ones(2, 3), _ones(4, 3), _ones(5)),
                ValueError,
                r"linear: input \(2, 3\), weight \(4, 3\), bias \(5,\)",
            ),
            ErrorCase(
                lambda: linear(_ones(2, 3), _ones(4, 2)),
                ValueError,
                r"linear: input \(2, 3\), weight \(4, 2\)",
            ),
        ],
    ),
)
def linear_p(x, w, b=None):
    """$y = x W^T + b$ for x (N, in), W (out, in), b (out,) (b optional: the node then
    has two inputs); dx = g W, dW = g^T x, db = sum_n g."""
    out = x @ w.T
    if b is not None:
        out += b
    return out


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """$y = x W^T + b$ over the last axis of `x` (any leading axes), as `torch.nn.functional.linear`.

    One graph node; dx = g W, dW = g^T x (in W's memory layout), db = sum_n g.
    """
    ws = weight._data.shape
    if len(ws) != 2 or x._data.shape[-1:] != ws[1:] or (bias is not None and bias.shape != ws[:1]):
        raise ValueError(
            f"linear: input {x.shape}, weight {weight.shape}, bias "
            f"{None if bias is None else bias.shape}: expected input (*, in_features), "
            "weight (out_features, in_features) and bias (out_features,)"
        )
    args = (weight,) if bias is None else (weight, bias)
    if x._data.ndim == 2:
        return apply(linear_p, x, *args)
    lead = x.shape[:-1]
    out = apply(linear_p, reshape(x, (-1, x.shape[-1])), *args)
    return reshape(out, lead + (weight.shape[0],))


# --- erf ----------------------------------------------------------------------------

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_SERIES_MAX = 2.5  # below: an all-positive series; above: erfc's continued fraction


def _erf_series(x: np.ndarray) -> np.ndarray:
    """erf(x) = 2/sqrt(pi) e^{-x^2} sum_n (2x^2)^n x / (2n+1)!!: no cancellation (A&S 7.1.6)."""
    x2 = 2.0 * x * x
    term = x.copy()
    total = x.copy()
    for n in range(1, 200):
        term *= x2 / (2 * n + 1)
        total += term
        if np.all(np.abs(term) <= 1e-17 * np.abs(total)):
            break
    return _TWO_OVER_SQRT_PI * np.exp(-x * x) * total


def _erfc_cf(x: np.ndarray) -> np.ndarray:
    """erfc(x) for x >= 2.5 by the continued fraction e^{-x^2}/sqrt(pi) / (x + 1/2 / (x + 1 / ...))."""
    k = x.copy()
    for n in range(80, 0, -1):
        k = x + (n / 2.0) / k
    return np.exp(-x * x) / (math.sqrt(math.pi) * k)


def erf_numpy(x: np.ndarray) -> np.ndarray:
    """Vectorised float64 erf, accurate to a few ulp (series below 2.5, continued fraction above)."""
    x = np.asarray(x, dtype=np.float64)
    a = np.abs(x)
    out = np.empty_like(a)
    small = a <= _SERIES_MAX
    out[small] = _erf_series(a[small])
    big = ~small & np.isfinite(a)
    out[big] = 1.0 - _erfc_cf(a[big])
    out[np.isinf(a)] = 1.0
    out[np.isnan(a)] = np.nan
    return np.copysign(out, x)


def _erf_slope(x: Tensor) -> Tensor:
    return mul(exp(mul(square(x), -1.0)), _TWO_OVER_SQRT_PI)


@primitive(
    "erf",
    vjp=[lambda g, ans, x: mul(g, _erf_slope(x))],
    jvp=[lambda t, ans, x: mul(t, _erf_slope(x))],
    domain=Domain(
        UNARY_CASES,
        low=-3.0,
        high=3.0,
        errors=[
            ErrorCase(
                lambda: erf(_ones(2, dtype=complex)),
                TypeError,
                r"erf: complex tensors are not supported",
            )
        ],
    ),
)
def erf_p(x):
    """$\\mathrm{erf}(x) = \\frac{2}{\\sqrt\\pi} \\int_0^x e^{-t^2} dt$; d/dx = 2/sqrt(pi) e^{-x^2}."""
    return erf_numpy(x).astype(x.dtype, copy=False)


def erf(x: Tensor) -> Tensor:
    """The error function (float64 accuracy; the result keeps x's dtype)."""
    return apply(erf_p, floating("erf", x))


# --- softplus -----------------------------------------------------------------------


@primitive(
    "softplus",
    vjp=[lambda g, ans, x: mul(g, sigmoid(x))],
    jvp=[lambda t, ans, x: mul(t, sigmoid(x))],
    domain=Domain(
        UNARY_CASES,
        low=-4.0,
        high=4.0,
        errors=[
            ErrorCase(
                lambda: softplus_unit(_ones(2, dtype=complex)),
                TypeError,
                r"softplus: complex tensors are not supported",
            )
        ],
    ),
)
def softplus_p(x):
    """$\\log(1 + e^x)$, stable for any x; d/dx = sigmoid(x) (exactly 1/2 at 0)."""
    return np.logaddexp(0, x).astype(x.dtype, copy=False)


def softplus_unit(x: Tensor) -> Tensor:
    """$\\log(1 + e^x)$ with no overflow (the primitive; see `nn.functional.softplus`)."""
    return apply(softplus_p, floating("softplus", x))


# --- softmax cross-entropy ------------------------------------------------------------


def _sce_dir(x: Tensor, target: np.ndarray) -> Tensor:
    return sub(softmax(x, axis=1), one_hot(target, x.shape[1], dtype=x.dtype))


def _sce_weight(g: Tensor, x: Tensor, mean: bool) -> Tensor:
    """The per-row weight of the loss cotangent g: g / N as (1, 1) for the mean, g as (N, 1)."""
    if mean:
        return reshape(mul(g, 1.0 / max(x.shape[0], 1)), (1, 1))
    return reshape(g, (-1, 1))


def _sce_grad_vjp_x(h, ans, x, g, target, mean, probs=None):
    """Cotangent h through d = (softmax(x) - onehot) w: the softmax VJP of h w."""
    y = softmax(x, axis=1)
    u = mul(h, _sce_weight(g, x, mean))
    return mul(y, sub(u, _sum(mul(u, y), axis=1, keepdims=True)))


def _sce_grad_vjp_g(h, ans, x, g, target, mean, probs=None):
    """Cotangent h through d = dir * w with w = g / N (mean) or g per row."""
    hd = mul(h, _sce_dir(x, target))
    if mean:
        return mul(_sum(hd), 1.0 / max(x.shape[0], 1))
    return _sum(hd, axis=1)


def _sce_grad_jvp_x(t, ans, x, g, target, mean, probs=None):
    y = softmax(x, axis=1)
    return mul(mul(y, sub(t, _sum(mul(t, y), axis=1, keepdims=True))), _sce_weight(g, x, mean))


def _sce_grad_jvp_g(t, ans, x, g, target, mean, probs=None):
    return mul(_sce_dir(x, target), _sce_weight(t, x, mean))


@primitive(
    "softmax_cross_entropy_grad",
    vjp=[_sce_grad_vjp_x, _sce_grad_vjp_g],
    jvp=[_sce_grad_jvp_x, _sce_grad_jvp_g],
    domain=Domain(
        [
            Case(((4, 3), (4,)), {"target": np.array([0, 2, 1, 2]), "mean": False}),
            Case(((4, 3), ()), {"target": np.array([1, 1, 0, 2]), "mean": True}),
            Case(((1, 5), ()), {"target": np.array([4]), "mean": True}),
        ],
        low=-2.0,
        high=2.0,
        errors=[
            ErrorCase(
                lambda: softmax_cross_entropy(_ones(2, 3, dtype=np.int64), np.array([0, 1])),
                TypeError,
                r"softmax_cross_entropy: input must be a floating-point tensor",
            )
        ],
    ),
)
def softmax_cross_entropy_grad_p(x, g, target, mean, probs=None):
    """$d = (\\mathrm{softmax}(x) - \\mathrm{onehot}(t)) w$, w = g / N for the mean loss
    (g of shape ()) or w_n = g_n per row (g of shape (N,)): the VJP of
    softmax_cross_entropy in one node (its own VJP is softmax's).  `probs`: the
    softmax its forward saved (used instead of recomputing; never modified)."""
    n = target.shape[0]
    e = softmax_p.forward(x, axis=1) if probs is None else probs.copy()
    e[np.arange(n), target] -= 1
    if mean:
        e *= g * (1.0 / max(n, 1))
    else:
        e *= g[:, None]
    return e


def _sce_vjp(g, ans, x, target, mean, saved):
    return apply(softmax_cross_entropy_grad_p, x, g, target=target, mean=mean, probs=saved)


def _sce_jvp(t, ans, x, target, mean, saved):
    rows = _sum(mul(t, _sce_dir(x, target)), axis=1)
    return mul(_sum(rows), 1.0 / max(x.shape[0], 1)) if mean else rows


_SCE_TARGETS = [np.array([0, 2, 1, 2]), np.array([4]), np.zeros(0, dtype=np.int64)]


@primitive(
    "softmax_cross_entropy",
    vjp=[_sce_vjp],
    jvp=[_sce_jvp],
    domain=Domain(
        [
            Case(((len(t), c),), {"target": t, "mean": mean})
            for t, c in zip(_SCE_TARGETS, (3, 5, 3))
            for mean in (False, True)
            if not (mean and len(t) == 0)
        ],
        low=-3.0,
        high=3.0,
        errors=[
            ErrorCase(
                lambda: softmax_cross_entropy(_ones(2, 3), np.array([0, 1, 2])),
                ValueError,
                r"softmax_cross_entropy: expected targets of shape \(2,\), got \(3,\)",
            )
        ],
    ),
    saves=True,
)
def softmax_cross_entropy_p(x, target, mean, save=False):
    """$y_n = \\log \\sum_c e^{x_{nc}} - x_{n t_n}$ per row (or their mean);
    dx = g (softmax(x) - onehot(t)) (divided by N for the mean).  With `save`, the
    softmax probabilities are kept for the backward pass (no second exp)."""
    s = x - np.maximum.reduce(x, axis=1, keepdims=True) if x.shape[0] else x
    e = np.exp(s)
    se = np.add.reduce(e, axis=1)
    rows = np.log(se)
    rows -= s[np.arange(target.shape[0]), target]
    if not mean:
        out = rows
    elif rows.shape[0]:
        out = np.add.reduce(rows) / rows.shape[0]
    else:
        out = np.nan  # the mean of no rows, as PyTorch
    if save:
        e /= se[:, None]
    return np.asarray(out, dtype=x.dtype), (e if save else None)


def softmax_cross_entropy(x: Tensor, target: np.ndarray, mean: bool = False) -> Tensor:
    """Cross-entropy of logits x (N, C) against class indices (N,), per row or averaged
    (one node for the whole loss: the MLP benchmark's path); index values are not checked."""
    if x._data.dtype.kind != "f":
        check_float("softmax_cross_entropy", "input", x)
    if target.shape != x.shape[:1] or x.ndim != 2:
        raise ValueError(
            f"softmax_cross_entropy: expected targets of shape {x.shape[:1]}, got {target.shape} "
            f"(input (N, C), got {x.shape})"
        )
    return apply(softmax_cross_entropy_p, x, target=target, mean=mean)


# --- binary cross-entropy -------------------------------------------------------------

_BCE_EPS = 1e-12  # PyTorch's floor for x (1 - x) in the gradient


def _bce_dx(g, x, t):
    denom = maximum(mul(x, rsub(x, 1.0)), _BCE_EPS)
    return mul(g, sub(x, t) / denom)


def _bce_dt(g, x):
    return mul(g, sub(clip(log(rsub(x, 1.0)), min=-100.0), clip(log(x), min=-100.0)))


@primitive(
    "binary_cross_entropy",
    vjp=[lambda g, ans, x, t: _bce_dx(g, x, t), lambda g, ans, x, t: _bce_dt(g, x)],
    jvp=[lambda u, ans, x, t: _bce_dx(u, x, t), lambda u, ans, x, t: _bce_dt(u, x)],
    domain=Domain(
        [Case(((3,), (3,))), Case(((2, 3), (2, 3))), Case(((), ()))],
        low=0.1,
        high=0.9,
        errors=[
            ErrorCase(
                lambda: binary_cross_entropy_elementwise(_ones(2, 3), _ones(3)),
                ValueError,
                r"binary_cross_entropy: ",
            )
        ],
    ),
)
def binary_cross_entropy_p(x, t):
    """$-(t \\log x + (1-t) \\log(1-x))$, logs clamped at -100; dx = (x - t) / (x (1 - x))."""
    with np.errstate(divide="ignore"):
        lx = np.maximum(np.log(x), -100.0)
        l1x = np.maximum(np.log1p(-x), -100.0)
    return (-(t * lx + (1.0 - t) * l1x)).astype(x.dtype, copy=False)


def binary_cross_entropy_elementwise(x: Tensor, t: Tensor) -> Tensor:
    """Elementwise BCE of probabilities `x` against targets `t` (same shape and dtype)."""
    if x.shape != t.shape:
        raise ValueError(
            f"binary_cross_entropy: target shape {t.shape} must equal input shape {x.shape}"
        )
    return apply(binary_cross_entropy_p, x, t)

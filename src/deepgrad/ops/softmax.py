"""softmax and log_softmax: stable fused primitives (shift by the max).

softmax:     y = e^{x - m} / sum e^{x - m};     dx = y (g - <g, y>)
log_softmax: y = x - logsumexp(x);              dx = g - e^y sum g
"""

from __future__ import annotations

import numpy as np

from ._base import Case, Domain, ErrorCase, Tensor, _ones, apply, primitive
from .elementwise import exp, mul, sub
from .reduce import sum as _sum
from .validation import check_dim, check_float

_CASES = [Case(((2, 3),), {"axis": 1}), Case(((4,),), {"axis": 0}), Case(((2, 3, 2),), {"axis": 1})]


@primitive(
    "softmax",
    vjp=[lambda g, ans, x, axis: mul(ans, sub(g, _sum(mul(g, ans), axis=axis, keepdims=True)))],
    jvp=[lambda t, ans, x, axis: mul(ans, sub(t, _sum(mul(t, ans), axis=axis, keepdims=True)))],
    domain=Domain(
        _CASES,
        low=-3.0,
        high=3.0,
        errors=[
            ErrorCase(
                lambda: softmax(_ones(2, 3), dim=2), IndexError, r"softmax: dim 2 is out of range"
            ),
            ErrorCase(
                lambda: softmax(_ones(2, dtype=np.int64)),
                TypeError,
                r"softmax: input must be a floating-point tensor",
            ),
        ],
    ),
)
def softmax_p(x, axis):
    """$y_i = e^{x_i} / \\sum_j e^{x_j}$; dx = y * (g - sum(g * y))."""
    e = np.exp(x - np.maximum.reduce(x, axis=axis, keepdims=True))
    return e / np.add.reduce(e, axis=axis, keepdims=True)


def softmax(x: Tensor, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """Softmax along `axis` (PyTorch: `dim`)."""
    x = check_float("softmax", "input", x)
    ax = check_dim("softmax", dim if dim is not None else axis, x.ndim)
    return apply(softmax_p, x, axis=ax)


@primitive(
    "log_softmax",
    vjp=[lambda g, ans, x, axis: sub(g, mul(exp(ans), _sum(g, axis=axis, keepdims=True)))],
    jvp=[lambda t, ans, x, axis: sub(t, _sum(mul(exp(ans), t), axis=axis, keepdims=True))],
    domain=Domain(
        _CASES,
        low=-3.0,
        high=3.0,
        errors=[
            ErrorCase(
                lambda: log_softmax(_ones(2, 3), dim=-3),
                IndexError,
                r"log_softmax: dim -3 is out of range",
            ),
            ErrorCase(
                lambda: log_softmax(_ones(2, dtype=np.int64)),
                TypeError,
                r"log_softmax: input must be a floating-point tensor",
            ),
        ],
    ),
)
def log_softmax_p(x, axis):
    """$y_i = x_i - \\log \\sum_j e^{x_j}$; dx = g - softmax(x) * sum(g)."""
    s = x - np.maximum.reduce(x, axis=axis, keepdims=True)
    return s - np.log(np.add.reduce(np.exp(s), axis=axis, keepdims=True))


def log_softmax(x: Tensor, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """log(softmax(x)) computed stably along `axis`."""
    x = check_float("log_softmax", "input", x)
    ax = check_dim("log_softmax", dim if dim is not None else axis, x.ndim)
    return apply(log_softmax_p, x, axis=ax)

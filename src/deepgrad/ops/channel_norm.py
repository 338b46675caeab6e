"""Per-channel ops on (N, C, *S) feature maps: a conv layer's bias, batch norm's statistics
and affine map.  Each primitive `<name>_p` sits above its public function `<name>`.

    channel_bias(y, b)      = y + b[c]                            db = channel_sum(g)
    channel_sum(x)          = sum_{n,p} x[n,c,p], shape (C,)      dx = g[c] broadcast

    channel_moments(x)      = [mean_c, var_c], shape (2, C)   (biased variance, every axis but 1)
        dx = (g_m + 2 g_v (x - mean)) / n                    one channel_affine of x
    channel_affine(x, a, b) = x a[c] + b[c]
        dx = channel_scale(g, a),  da = channel_dot(g, x),  db = channel_sum(g)
    channel_scale(x, a)     = x a[c]
        dx = channel_scale(g, a),  da = channel_dot(g, x)
    channel_dot(x, y)       = sum_{n,p} x[n,c,p] y[n,c,p], shape (C,)
        dx = channel_scale(y, g),  dy = channel_scale(x, g)

Batch norm (Ioffe & Szegedy 2015, `batch_norm.py`) is channel_moments and one affine
map whose coefficients $a = \\gamma / \\sqrt{\\sigma^2 + \\epsilon}$, $b = \\beta - \\mu a$ are
(C,) vectors: a few passes over x where the elementwise composite took about twenty,
each a primitive with its own temporaries.  Every rule is written with these primitives
(channel_moments' first-order VJP computes its (C,) coefficients on the arrays), so
gradients of gradients come for free.  The per-channel sums are one
matrix-vector product over the feature map read as an (N * prod(S), C) matrix (a view in
channels-last and channels-first memory alike), and elementwise results keep x's layout.
"""

from __future__ import annotations

import numpy as np

from ..core.state import STATE
from . import _conv_kernels as K
from ._base import (
    REGISTRY,
    Case,
    Domain,
    ErrorCase,
    Tensor,
    _ones,
    _wrap,
    apply,
    as_tensor,
    primitive,
)
from ._conv_cf import _from_last, _swap01, _to_last
from .cast import cast
from .elementwise import mul, sub
from .index import getitem
from .shape import broadcast_to, permute, reshape, stack

__all__ = [
    "channel_affine", "channel_bias", "channel_dot", "channel_moments", "channel_scale",
    "channel_sum",
]  # fmt: skip


def _view(a: np.ndarray, ndim: int) -> np.ndarray:
    return a.reshape((1, a.shape[0]) + (1,) * (ndim - 2))


# --- the bias of a conv layer and the per-channel sum -------------------------------------


def _channel_view(b: Tensor, ndim: int) -> Tensor:
    return reshape(b, (1, b.shape[0]) + (1,) * (ndim - 2))


@primitive(
    "channel_bias",
    vjp=[lambda g, ans, y, b: g, lambda g, ans, y, b: apply(channel_sum_p, g)],
    jvp=[
        lambda t, ans, y, b: t,
        lambda t, ans, y, b: _broadcast(_channel_view(t, y.ndim), y.shape),
    ],
    domain=Domain(
        [Case(((2, 3, 4, 5), (3,))), Case(((1, 2, 3), (2,))), Case(((2, 1, 2, 2, 2), (1,)))],
        errors=[
            ErrorCase(
                lambda: channel_bias(_ones(2, 3, 4), _ones(2)),
                ValueError,
                r"channel_bias: expected y \(N, C, \*\) and bias \(C,\), got \(2, 3, 4\) and \(2,\)",
            )
        ],
    ),
)
def channel_bias_p(y, b):
    """$y[n,c,p] + b[c]$ (a conv layer's bias; keeps y's memory order); db = channel_sum(g)."""
    return np.add(y, b.reshape((1, b.shape[0]) + (1,) * (y.ndim - 2)))


def channel_bias(y: Tensor, bias: Tensor) -> Tensor:
    """y + bias along axis 1 (N, C, *S) in one primitive: its bias gradient is one GEMV."""
    if y.ndim < 2 or bias.shape != (y.shape[1],):
        raise ValueError(
            f"channel_bias: expected y (N, C, *) and bias (C,), got {y.shape} and {bias.shape}"
        )
    return apply(channel_bias_p, y, bias)


@primitive(
    "channel_sum",
    vjp=[lambda g, ans, x: _broadcast(_channel_view(g, x.ndim), x.shape)],
    jvp=[lambda t, ans, x: apply(channel_sum_p, t)],
    domain=Domain(
        [Case(((2, 3, 4, 5),)), Case(((1, 2, 3),)), Case(((3, 1, 2, 2, 2),))],
        errors=[
            ErrorCase(
                lambda: channel_sum(_ones(3)),
                ValueError,
                r"channel_sum: expected x \(N, C, \*\) with >= 2 dims, got \(3,\)",
            )
        ],
    ),
)
def channel_sum_p(x):
    """$s[c] = \\sum_{n,p} x[n,c,p]$ (one matrix-vector product); dx = s broadcast back."""
    return K.channel_sum(x)


def channel_sum(x: Tensor) -> Tensor:
    """Sum of (N, C, *S) over every axis but the channels, shape (C,)."""
    if x.ndim < 2:
        raise ValueError(f"channel_sum: expected x (N, C, *) with >= 2 dims, got {x.shape}")
    return apply(channel_sum_p, x)


def _broadcast(x: Tensor, shape) -> Tensor:
    return broadcast_to(x, shape)


# --- batch norm's statistics and affine map -------------------------------------------------


def _matrix(x: np.ndarray):
    """(m, channels_last): x as a C-contiguous (N*S, C) matrix (channels-last memory, True)
    or (C, N*S) (channels-first, False), or (None, None).  NumPy's loops over the 2-d
    matrix with a (C,) operand run 2-3x faster than over the 4-d view with a broadcast
    (1, C, 1, 1) one."""
    if x.ndim < 3:
        return None, None
    cl = _to_last(x)
    if cl.flags.c_contiguous:
        return cl.reshape(-1, x.shape[1]), True
    cf = _swap01(x)
    if cf.flags.c_contiguous:
        return cf.reshape(x.shape[1], -1), False
    return None, None


def _unmatrix(m: np.ndarray, x: np.ndarray, channels_last: bool) -> np.ndarray:
    """The inverse of `_matrix` for a result of x's shape and memory order."""
    if channels_last:
        return _from_last(m.reshape(_to_last(x).shape))
    return _swap01(m.reshape(_swap01(x).shape))


def _count(x) -> int:
    return x.size // x.shape[1] if x.shape[1] else 0


_CASES = [Case(((2, 3, 4, 5),)), Case(((4, 3),)), Case(((2, 2, 3, 2, 2),))]


def _pair_cases(extra: int) -> list[Case]:
    return [Case((c.shapes[0],) + ((c.shapes[0][1],),) * extra) for c in _CASES]


# --- vmap batching rules (x with the vmap batch first: (B, N, C, *S)) -------------------------


def _fold_rule(name: str):
    """Ops independent per sample (channel_affine, channel_scale): fold B into N."""

    def rule(xs, batched, nb, /, **params):
        if any(batched[1:]):
            return None  # per-sample coefficients: the loop
        x = xs[0]
        flat = reshape(x, (nb * x.shape[1],) + tuple(x.shape[2:]))
        out = apply(REGISTRY[name], flat, *xs[1:], **params)
        return reshape(out, (nb, x.shape[1]) + tuple(out.shape[1:]))

    return rule


def _channels_times_batch(x: Tensor, nb: int) -> Tensor:
    """(B, N, C, *S) -> (N, B * C, *S): per-sample channels as channels of one map."""
    t = permute(x, (1, 0) + tuple(range(2, x.ndim)))
    return reshape(t, (x.shape[1], nb * x.shape[2]) + tuple(x.shape[3:]))


def _moments_rule(xs, batched, nb, /):
    x = xs[0]
    m = apply(REGISTRY["channel_moments"], _channels_times_batch(x, nb))  # (2, B*C)
    return permute(reshape(m, (2, nb, x.shape[2])), (1, 0, 2))


def _dot_rule(xs, batched, nb, /):
    if not all(batched):
        return None
    x, y = (_channels_times_batch(t, nb) for t in xs)
    return reshape(apply(REGISTRY["channel_dot"], x, y), (nb, xs[0].shape[2]))


def _moments_vjp(g: Tensor, ans: Tensor, x: Tensor) -> Tensor:
    n = _count(x._data)
    if not STATE.grad:  # first order: the (C,) coefficients on the arrays, no graph
        a = g._data[1] * (2.0 / n)
        return _wrap(_affine(x._data, a, g._data[0] / n - a * ans._data[0]))
    gm, gv, mean = getitem(g, 0), getitem(g, 1), getitem(ans, 0)
    a = mul(gv, 2.0 / n)
    return apply(channel_affine_p, x, a, sub(mul(gm, 1.0 / n), mul(a, mean)))


def _moments_jvp(t: Tensor, ans: Tensor, x: Tensor) -> Tensor:
    n = _count(x._data)
    mean = getitem(ans, 0)
    centered = apply(channel_affine_p, x, as_tensor(np.ones_like(mean._data)), mul(mean, -1.0))
    tm = mul(apply(channel_sum_p, t), 1.0 / n)
    return stack([tm, mul(apply(channel_dot_p, t, centered), 2.0 / n)])


@primitive(
    "channel_moments",
    batch=_moments_rule,
    vjp=[_moments_vjp],
    jvp=[_moments_jvp],
    domain=Domain(
        _CASES,
        errors=[
            ErrorCase(
                lambda: channel_moments(_ones(3)),
                ValueError,
                r"channel_moments: expected x \(N, C, \*\) with >= 2 dims and N \* prod\(S\) "
                r">= 1, got \(3,\)",
            )
        ],
    ),
)
def channel_moments_p(x):
    """$[\\mu_c, \\sigma^2_c] = [\\frac1n \\sum x, \\frac1n \\sum (x - \\mu)^2]$ over every axis
    but 1; $dx = (g_\\mu + 2 g_{\\sigma^2} (x - \\mu)) / n$."""
    n = _count(x)
    mean = K.channel_sum(x) / n
    d = np.subtract(x, _view(mean, x.ndim))
    np.multiply(d, d, out=d)
    return np.stack([mean, K.channel_sum(d) / n])


def channel_moments(x: Tensor) -> Tensor:
    """Per-channel mean and biased variance of (N, C, *S) over every axis but 1, as (2, C):
    $[\\mu_c, \\sigma^2_c]$ (batch norm's statistics, one primitive)."""
    x = as_tensor(x)
    if x.ndim < 2 or x.shape[1] == 0 or _count(x._data) < 1:
        raise ValueError(
            f"channel_moments: expected x (N, C, *) with >= 2 dims and N * prod(S) >= 1, "
            f"got {x.shape}"
        )
    return apply(channel_moments_p, x)


@primitive(
    "channel_affine",
    batch=_fold_rule("channel_affine"),
    vjp=[
        lambda g, ans, x, a, b: apply(channel_scale_p, g, a),
        lambda g, ans, x, a, b: apply(channel_dot_p, g, x),
        lambda g, ans, x, a, b: apply(channel_sum_p, g),
    ],
    jvp=[
        lambda t, ans, x, a, b: apply(channel_scale_p, t, a),
        lambda t, ans, x, a, b: apply(channel_scale_p, x, t),
        lambda t, ans, x, a, b: _broadcast(_channel_view(t, x.ndim), x.shape),
    ],
    domain=Domain(
        _pair_cases(2),
        errors=[
            ErrorCase(
                lambda: channel_affine(_ones(2, 3, 4), _ones(2), _ones(3)),
                ValueError,
                r"channel_affine: expected x \(N, C, \*\) and a, b of shape \(C,\), "
                r"got \(2, 3, 4\), \(2,\) and \(3,\)",
            )
        ],
    ),
)
def channel_affine_p(x, a, b):
    """$y[n,c,p] = x[n,c,p] a_c + b_c$ (keeps x's memory order); dx = g a, da = channel_dot(g,
    x), db = channel_sum(g)."""
    return _affine(x, a, b)


def channel_affine(x: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """$y[n,c,p] = x[n,c,p] a_c + b_c$ for (N, C, *S) x and (C,) a, b (batch norm's map)."""
    x, a, b = as_tensor(x), as_tensor(a), as_tensor(b)
    _check("channel_affine", x, a, b)
    return apply(channel_affine_p, x, _like(a, x), _like(b, x))


def _affine(x: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """x a_c + b_c on the arrays, in x's memory order."""
    m, back = _matrix(x)
    if m is None:
        y = np.multiply(x, _view(a, x.ndim))
        y += _view(b, x.ndim)
        return y
    y = np.multiply(m, a if back else a[:, None])
    y += b if back else b[:, None]
    return _unmatrix(y, x, back)


@primitive(
    "channel_scale",
    batch=_fold_rule("channel_scale"),
    vjp=[
        lambda g, ans, x, a: apply(channel_scale_p, g, a),
        lambda g, ans, x, a: apply(channel_dot_p, g, x),
    ],
    jvp=[
        lambda t, ans, x, a: apply(channel_scale_p, t, a),
        lambda t, ans, x, a: apply(channel_scale_p, x, t),
    ],
    domain=Domain(
        _pair_cases(1),
        errors=[
            ErrorCase(
                lambda: channel_scale(_ones(2, 3, 4), _ones(4)),
                ValueError,
                r"channel_scale: expected x \(N, C, \*\) and a of shape \(C,\), "
                r"got \(2, 3, 4\) and \(4,\)",
            )
        ],
    ),
)
def channel_scale_p(x, a):
    """$y[n,c,p] = x[n,c,p] a_c$; dx = channel_scale(g, a), da = channel_dot(g, x)."""
    m, back = _matrix(x)
    if m is None:
        return np.multiply(x, _view(a, x.ndim))
    return _unmatrix(np.multiply(m, a if back else a[:, None]), x, back)


def channel_scale(x: Tensor, a: Tensor) -> Tensor:
    """$y[n,c,p] = x[n,c,p] a_c$ for (N, C, *S) x and (C,) a."""
    x, a = as_tensor(x), as_tensor(a)
    _check("channel_scale", x, a)
    return apply(channel_scale_p, x, _like(a, x))


@primitive(
    "channel_dot",
    batch=_dot_rule,
    vjp=[
        lambda g, ans, x, y: apply(channel_scale_p, y, g),
        lambda g, ans, x, y: apply(channel_scale_p, x, g),
    ],
    jvp=[
        lambda t, ans, x, y: apply(channel_dot_p, t, y),
        lambda t, ans, x, y: apply(channel_dot_p, x, t),
    ],
    domain=Domain(
        [Case((c.shapes[0], c.shapes[0])) for c in _CASES],
        errors=[
            ErrorCase(
                lambda: channel_dot(_ones(2, 3, 4), _ones(2, 3, 5)),
                ValueError,
                r"channel_dot: expected x and y of one shape \(N, C, \*\), "
                r"got \(2, 3, 4\) and \(2, 3, 5\)",
            )
        ],
    ),
)
def channel_dot_p(x, y):
    """$s_c = \\sum_{n,p} x[n,c,p] y[n,c,p]$; dx = channel_scale(y, g), dy = channel_scale(x, g)."""
    return K.channel_sum(np.multiply(x, y))


def channel_dot(x: Tensor, y: Tensor) -> Tensor:
    """$s_c = \\sum_{n,p} x[n,c,p] y[n,c,p]$ of two (N, C, *S) tensors, shape (C,)."""
    x, y = as_tensor(x), as_tensor(y)
    if x.ndim < 2 or x.shape != y.shape:
        raise ValueError(
            f"channel_dot: expected x and y of one shape (N, C, *), got {x.shape} and {y.shape}"
        )
    return apply(channel_dot_p, x, _like(y, x))


# --- public functions --------------------------------------------------------------------


def _check(op: str, x: Tensor, *per_channel: Tensor) -> None:
    if x.ndim < 2 or any(p.shape != (x.shape[1],) for p in per_channel):
        names = " and a, b of shape (C,)" if len(per_channel) == 2 else " and a of shape (C,)"
        got = ", ".join(str(p.shape) for p in per_channel[:-1])
        got = (
            f"{x.shape}, {got} and {per_channel[-1].shape}"
            if got
            else (f"{x.shape} and {per_channel[-1].shape}")
        )
        raise ValueError(f"{op}: expected x (N, C, *){names}, got {got}")


def _like(t: Tensor, x: Tensor) -> Tensor:
    return t if t.dtype == x.dtype else cast(t, x.dtype)

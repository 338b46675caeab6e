"""Pooling primitives over kernel windows: max pooling and window sums (average pooling).

    max_pool:      y[n,c,p] = max_k x_pad[n, c, s p + d k]       dx: g routed to the argmax
    window_take:   one element per window chosen by a one-hot mask (max pool's JVP)
    window_put:    its adjoint (max pool's VJP)
    window_sum:    y[n,c,p] = sum_k x_pad[n, c, s p + d k]       dx: g spread over each window

Each primitive `<name>_p` sits above its public function.  The gathers and scatters by
flat index (adaptive max pooling, unpooling) are in `pool_flat.py`.

Forwards walk the kernel offsets (one strided slice of the padded input per
offset) instead of the pixels, so a 2x2 pool costs four vectorised passes.
The max pool's VJP recomputes the argmax from its input (first maximum wins, as
in PyTorch) instead of storing indices in the forward.  Everything else (average,
adaptive, unpooling) is a composite in `pool_api.py`, re-exported at the end.
"""

from __future__ import annotations

import math

import numpy as np

from ._base import Case, Domain, ErrorCase, Tensor, _ones, apply, primitive
from ._pool_kernels import (
    _first_max_mask,
    _in_order_of,
    _offsets,
    _padded,
    _window_max,
    _zeros_as,
    pool_out_size,
)  # fmt: skip

__all__ = [
    "adaptive_avg_pool",
    "adaptive_max_pool",
    "avg_pool",
    "max_pool",
    "max_unpool",
    "pool_out_size",
    "window_sum",
]


# --- primitives ----------------------------------------------------------------------


def pool_out_size_all(spatial, p) -> tuple[int, ...]:
    """Output spatial shape of a pool with params dict `p` (symmetric padding, ceil_mode)."""
    return tuple(
        pool_out_size(n, k, s, lo, d, p["ceil_mode"])
        for n, k, s, (lo, _), d in zip(
            spatial, p["kernel"], p["stride"], p["padding"], p["dilation"]
        )
    )


def _pool_case(shape, kernel, stride, padding, dilation=None):
    d = len(kernel)
    return Case(
        (shape,),
        {
            "kernel": kernel,
            "stride": stride,
            "padding": padding,
            "dilation": dilation or (1,) * d,
        },
    )


_MAX_CASES = [
    _pool_case((2, 2, 4, 4), (2, 2), (2, 2), ((0, 0), (0, 0))),
    _pool_case((1, 2, 5, 5), (3, 3), (2, 2), ((1, 1), (1, 1))),
    _pool_case((1, 2, 5, 4), (2, 3), (2, 1), ((1, 1), (1, 1)), (2, 1)),
    _pool_case((1, 1, 5, 6), (2, 2), (2, 2), ((0, 1), (0, 0))),
    _pool_case((2, 3, 7), (3,), (2,), ((1, 1),)),
    _pool_case((1, 2, 3, 4, 4), (2, 2, 2), (1, 2, 2), ((0, 0), (1, 1), (0, 0))),
]


def _mask_of(x: Tensor, ans: Tensor, p: dict) -> np.ndarray:
    return _first_max_mask(x._data, ans._data, **p)


@primitive(
    "max_pool",
    vjp=[lambda g, ans, x, **p: window_put(g, _mask_of(x, ans, p), size=x.shape[2:], **p)],
    jvp=[lambda t, ans, x, **p: window_take(t, _mask_of(x, ans, p), **p)],
    # the second derivative is zero almost everywhere but not smooth at ties
    domain=Domain(
        _MAX_CASES,
        second_order=False,
        errors=[
            ErrorCase(
                lambda: max_pool(_ones(1, 1, 4, 4), 2, stride=0),
                ValueError,
                r"max_pool: kernel \(2, 2\), stride \(0, 0\)",
            )
        ],
    ),
)
def max_pool_p(x, kernel, stride, padding, dilation):
    """$y[n,c,p] = \\max_k x_{pad}[n,c,s p + d k]$ (-inf padding); dx = g at the first argmax."""
    return _window_max(x, kernel, stride, padding, dilation)


def _mask_case(shape, kernel, stride, padding, **extra):
    def params(rng):
        mask = np.zeros((math.prod(kernel),) + shape, dtype=bool)
        pick = rng.integers(0, mask.shape[0], size=shape)
        np.put_along_axis(mask, pick[None], True, axis=0)
        return {"mask": mask, "kernel": kernel, "stride": stride, "padding": padding,
                "dilation": (1,) * len(kernel), **extra}  # fmt: skip

    return params


@primitive(
    "window_take",
    linear=True,
    transpose=[lambda g, x, **p: window_put(g, size=x.shape[2:], **p)],
    domain=Domain(
        [
            Case(((1, 2, 4, 5),), _mask_case((1, 2, 2, 3), (2, 2), (2, 2), ((0, 0), (0, 1)))),
            Case(((2, 1, 5),), _mask_case((2, 1, 3), (3,), (2,), ((1, 1),))),
        ],
        errors=[
            ErrorCase(
                lambda: max_pool(_ones(1, 1, 4, 4), 5),
                ValueError,
                r"max_pool: kernel larger than the padded input",
            )
        ],
    ),
)
def window_take_p(x, mask, kernel, stride, padding, dilation):
    """$y[n,c,p] = \\sum_k m[k,n,c,p] x_{pad}[n,c,s p + d k]$ (m one-hot); dx = window_put(g)."""
    xp = _padded(x, padding, 0)
    y = None
    for j, sl in _offsets(kernel, stride, dilation, mask.shape[3:]):
        cur = np.multiply(xp[(slice(None), slice(None)) + sl], mask[j])
        y = cur if y is None else np.add(y, cur, out=y)
    return y


def window_take(x: Tensor, mask: np.ndarray, **p) -> Tensor:
    """Gather one element per window, chosen by the one-hot `mask` (K, N, C, *O)."""
    return apply(window_take_p, x, mask=mask, **p)


@primitive(
    "window_put",
    linear=True,
    transpose=[lambda g, y, **p: window_take(g, **_no_size(p))],
    domain=Domain(
        [
            Case(
                ((1, 2, 2, 3),),
                _mask_case((1, 2, 2, 3), (2, 2), (2, 2), ((0, 0), (0, 1)), size=(4, 5)),
            ),
            Case(((2, 1, 3),), _mask_case((2, 1, 3), (3,), (2,), ((1, 1),), size=(5,))),
        ],
        errors=[
            ErrorCase(
                lambda: max_pool(_ones(4, 4), 2),
                ValueError,
                r"max_pool: expected a batched input \(N, C, \*spatial\)",
            )
        ],
    ),
)
def window_put_p(y, mask, kernel, stride, padding, dilation, size):
    """Adjoint of window_take: $x_{pad}[n,c,s p + d k] \\mathrel{+}= m[k,n,c,p] y[n,c,p]$."""
    spad = tuple(n + lo + hi for n, (lo, hi) in zip(size, padding))
    # windows that tile the padded input exactly write every element once: no zeroing
    tiled = all(k == s and d == 1 and o * s == n for k, s, d, o, n in zip(
        kernel, stride, dilation, y.shape[2:], spad))  # fmt: skip
    xp = _zeros_as(y.shape[:2] + spad, mask[0], dtype=y.dtype, zero=not tiled)
    y = _in_order_of(y, mask[0])
    disjoint = _disjoint(kernel, stride, dilation)
    tmp = None if disjoint else np.empty_like(y)
    for j, sl in _offsets(kernel, stride, dilation, y.shape[2:]):
        tgt = xp[(slice(None), slice(None)) + sl]
        if disjoint:
            np.multiply(y, mask[j], out=tgt)
        else:
            tgt += np.multiply(y, mask[j], out=tmp)
    crop = tuple(slice(lo, lo + n) for n, (lo, _) in zip(size, padding))
    return xp[(slice(None), slice(None)) + crop]


def window_put(y: Tensor, mask: np.ndarray, **p) -> Tensor:
    """Scatter each window's value to the element chosen by `mask` (adjoint of window_take)."""
    return apply(window_put_p, y, mask=mask, **p)


def _disjoint(kernel, stride, dilation) -> bool:
    """True when no two kernel offsets of different windows hit one input element."""
    return all(s >= d * (k - 1) + 1 for k, s, d in zip(kernel, stride, dilation))


@primitive(
    "window_sum",
    linear=True,
    transpose=[lambda g, x, **p: apply(window_sum_t_p, g, size=x.shape[2:], **p)],
    domain=Domain(
        [
            Case(
                ((1, 2, 4, 5),),
                {
                    "kernel": (2, 2),
                    "stride": (2, 2),
                    "padding": ((0, 0), (0, 1)),
                    "dilation": (1, 1),
                },
            ),
            Case(
                ((2, 1, 5, 5),),
                {
                    "kernel": (3, 2),
                    "stride": (2, 1),
                    "padding": ((1, 1), (1, 0)),
                    "dilation": (1, 2),
                },
            ),
            Case(
                ((1, 2, 6),),
                {"kernel": (3,), "stride": (2,), "padding": ((1, 2),), "dilation": (1,)},
            ),
        ],
        errors=[
            ErrorCase(
                lambda: avg_pool(_ones(1, 1, 4, 4), 2, divisor_override=0),
                ValueError,
                r"avg_pool: divisor_override must be >= 1, got 0",
            )
        ],
    ),
)
def window_sum_p(x, kernel, stride, padding, dilation):
    """$y[n,c,p] = \\sum_k x_{pad}[n,c,s p + d k]$ (zero padding); dx = g spread on each window."""
    xp = _padded(x, padding, 0)
    out = tuple(
        (n - d * (k - 1) - 1) // s + 1 for n, k, s, d in zip(xp.shape[2:], kernel, stride, dilation)
    )
    y = None
    for _, sl in _offsets(kernel, stride, dilation, out):
        cur = xp[(slice(None), slice(None)) + sl]
        y = cur.copy() if y is None else np.add(y, cur, out=y)
    return y


@primitive(
    "window_sum_t",
    linear=True,
    transpose=[lambda g, y, **p: apply(window_sum_p, g, **_no_size(p))],
    domain=Domain(
        [
            Case(
                ((1, 2, 2, 3),),
                {
                    "kernel": (2, 2),
                    "stride": (2, 2),
                    "padding": ((0, 0), (0, 1)),
                    "dilation": (1, 1),
                    "size": (4, 5),
                },
            ),
            Case(
                ((1, 2, 4),),
                {
                    "kernel": (3,),
                    "stride": (2,),
                    "padding": ((1, 2),),
                    "dilation": (1,),
                    "size": (6,),
                },
            ),
        ],
        errors=[
            ErrorCase(
                lambda: avg_pool(_ones(1, 1, 4, 4), 2, padding=2),
                ValueError,
                r"avg_pool: padding 2 should be at most half",
            )
        ],
    ),
)
def window_sum_t_p(y, kernel, stride, padding, dilation, size):
    """Adjoint of window_sum: $x[n,c,i] = \\sum_{(p,k): s p + d k = i} y[n,c,p]$."""
    spad = tuple(n + lo + hi for n, (lo, hi) in zip(size, padding))
    xp = np.zeros(y.shape[:2] + spad, dtype=y.dtype)
    for _, sl in _offsets(kernel, stride, dilation, y.shape[2:]):
        xp[(slice(None), slice(None)) + sl] += y
    crop = tuple(slice(lo, lo + n) for n, (lo, _) in zip(size, padding))
    return xp[(slice(None), slice(None)) + crop]


def _no_size(p: dict) -> dict:
    return {k: v for k, v in p.items() if k != "size"}


from .pool_api import (
    adaptive_avg_pool,
    adaptive_max_pool,
    avg_pool,
    max_pool,
    max_unpool,
    window_sum,
)  # fmt: skip

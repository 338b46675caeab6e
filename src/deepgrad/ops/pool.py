"""Pooling primitives: max pooling, window sums (average pooling) and flat gathers/scatters.

    max_pool:      y[n,c,p] = max_k x_pad[n, c, s p + d k]       dx: g routed to the argmax
    window_sum:    y[n,c,p] = sum_k x_pad[n, c, s p + d k]       dx: g spread over each window
    take_flat:     y[n,c,j] = x[n, c, idx[n,c,j]] (flat spatial) dx: put_flat (scatter-add)
    put_flat:      y = 0;  y[n, c, idx[n,c,j]] += x[n,c,j]     dx: take_flat (gather)

Forwards walk the kernel offsets (one strided slice of the padded input per
offset) instead of the pixels, so a 2x2 pool costs four vectorised passes.
The max pool's VJP recomputes the argmax from its input (first maximum wins, as
in PyTorch) instead of storing indices in the forward.  Everything else (average,
adaptive, unpooling) is a composite in `pool_functional`-style wrappers below.
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
    "put_flat",
    "take_flat",
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
def _max_pool(x, kernel, stride, padding, dilation):
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
def _window_take(x, mask, kernel, stride, padding, dilation):
    """$y[n,c,p] = \\sum_k m[k,n,c,p] x_{pad}[n,c,s p + d k]$ (m one-hot); dx = window_put(g)."""
    xp = _padded(x, padding, 0)
    y = None
    for j, sl in _offsets(kernel, stride, dilation, mask.shape[3:]):
        cur = np.multiply(xp[(slice(None), slice(None)) + sl], mask[j])
        y = cur if y is None else np.add(y, cur, out=y)
    return y


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
def _window_put(y, mask, kernel, stride, padding, dilation, size):
    """Adjoint of window_take: $x_{pad}[n,c,s p + d k] \\mathrel{+}= m[k,n,c,p] y[n,c,p]$."""
    spad = tuple(n + lo + hi for n, (lo, hi) in zip(size, padding))
    # windows that tile the padded input exactly write every element once: no zeroing
    tiled = all(k == s and d == 1 and o * s == n for k, s, d, o, n in zip(
        kernel, stride, dilation, y.shape[2:], spad))  # fmt: skip
    xp = _zeros_as(y.shape[:2] + spad, mask[0], dtype=y.dtype, zero=not tiled)
    y = _in_order_of(y, mask[0])
    for j, sl in _offsets(kernel, stride, dilation, y.shape[2:]):
        tgt = xp[(slice(None), slice(None)) + sl]
        if _disjoint(kernel, stride, dilation):
            np.multiply(y, mask[j], out=tgt)
        else:
            tgt += y * mask[j]
    crop = tuple(slice(lo, lo + n) for n, (lo, _) in zip(size, padding))
    return xp[(slice(None), slice(None)) + crop]


def _disjoint(kernel, stride, dilation) -> bool:
    """True when no two kernel offsets of different windows hit one input element."""
    return all(s >= d * (k - 1) + 1 for k, s, d in zip(kernel, stride, dilation))


def window_take(x: Tensor, mask: np.ndarray, **p) -> Tensor:
    """Gather one element per window, chosen by the one-hot `mask` (K, N, C, *O)."""
    return apply(_window_take, x, mask=mask, **p)


def window_put(y: Tensor, mask: np.ndarray, **p) -> Tensor:
    """Scatter each window's value to the element chosen by `mask` (adjoint of window_take)."""
    return apply(_window_put, y, mask=mask, **p)


@primitive(
    "window_sum",
    linear=True,
    transpose=[lambda g, x, **p: apply(_window_sum_t, g, size=x.shape[2:], **p)],
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
def _window_sum(x, kernel, stride, padding, dilation):
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
    transpose=[lambda g, y, **p: apply(_window_sum, g, **_no_size(p))],
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
def _window_sum_t(y, kernel, stride, padding, dilation, size):
    """Adjoint of window_sum: $x[n,c,i] = \\sum_{(p,k): s p + d k = i} y[n,c,p]$."""
    spad = tuple(n + lo + hi for n, (lo, hi) in zip(size, padding))
    xp = np.zeros(y.shape[:2] + spad, dtype=y.dtype)
    for _, sl in _offsets(kernel, stride, dilation, y.shape[2:]):
        xp[(slice(None), slice(None)) + sl] += y
    crop = tuple(slice(lo, lo + n) for n, (lo, _) in zip(size, padding))
    return xp[(slice(None), slice(None)) + crop]


def _no_size(p: dict) -> dict:
    return {k: v for k, v in p.items() if k != "size"}


def _rows(a: np.ndarray) -> np.ndarray:
    return a.reshape(a.shape[0] * a.shape[1], -1)


def _rand_index(rng, shape, n, unique):
    """Random flat indices in [0, n) of `shape` (distinct per channel when `unique`)."""
    if not unique:
        return rng.integers(0, n, size=shape)
    rows = int(np.prod(shape[:2]))
    m = int(np.prod(shape[2:]))
    return np.stack([rng.permutation(n)[:m] for _ in range(rows)]).reshape(shape)


@primitive(
    "take_flat",
    linear=True,
    transpose=[lambda g, x, index: put_flat(g, index, x.shape)],
    domain=Domain(
        [
            Case(((2, 2, 3, 3),), lambda rng: {"index": _rand_index(rng, (2, 2, 2, 2), 9, False)}),
            Case(((1, 3, 5),), lambda rng: {"index": _rand_index(rng, (1, 3, 4), 5, False)}),
        ],
        errors=[
            ErrorCase(
                lambda: adaptive_max_pool(_ones(1, 1, 4, 4), (0, 2)),
                ValueError,
                r"adaptive_max_pool: output_size must be positive",
            )
        ],
    ),
)
def _take_flat(x, index):
    """$y[n,c,j] = x[n,c,idx[n,c,j]]$ over flattened spatial axes; dx = put_flat(g)."""
    out = np.take_along_axis(_rows(x), _rows(index), axis=1)
    return out.reshape(index.shape)


@primitive(
    "put_flat",
    linear=True,
    transpose=[lambda g, x, index, shape, accumulate: take_flat(g, index)],
    domain=Domain(
        [
            Case(
                ((2, 2, 2, 2),),
                lambda rng: {
                    "index": _rand_index(rng, (2, 2, 2, 2), 9, False),
                    "shape": (2, 2, 3, 3),
                    "accumulate": True,
                },
            ),
            Case(
                ((1, 3, 4),),
                lambda rng: {
                    "index": _rand_index(rng, (1, 3, 4), 6, True),
                    "shape": (1, 3, 6),
                    "accumulate": False,
                },
            ),
        ],
        errors=[
            ErrorCase(
                lambda: max_unpool(_ones(1, 1, 2, 2), np.zeros((1, 1, 3, 3), int), 2),
                ValueError,
                r"max_unpool: indices shape \(1, 1, 3, 3\) must equal input shape \(1, 1, 2, 2\)",
            )
        ],
    ),
)
def _put_flat(x, index, shape, accumulate):
    """$y = 0$; $y[n,c,idx[n,c,j]] \\mathrel{+}= x[n,c,j]$ (adjoint of take_flat); dx = gather."""
    rows, size = shape[0] * shape[1], math.prod(shape[2:])
    idx = _rows(index)
    if accumulate:
        offs = (idx + (np.arange(rows) * size)[:, None]).ravel()
        flat = np.bincount(offs, weights=_rows(x).ravel(), minlength=rows * size)
        return flat.astype(x.dtype, copy=False).reshape(shape)
    y = np.zeros((rows, size), dtype=x.dtype)
    np.put_along_axis(y, idx, _rows(x), axis=1)
    return y.reshape(shape)


def take_flat(x: Tensor, index) -> Tensor:
    """Gather by flat per-channel spatial index (N, C, *O), as max pooling's indices."""
    index = np.asarray(index._data if isinstance(index, Tensor) else index, dtype=np.int64)
    return apply(_take_flat, x, index=index)


def put_flat(x: Tensor, index, shape, accumulate: bool = True) -> Tensor:
    """Scatter `x` into zeros of `shape` at flat per-channel indices (adds repeated ones)."""
    index = np.asarray(index._data if isinstance(index, Tensor) else index, dtype=np.int64)
    return apply(_put_flat, x, index=index, shape=tuple(shape), accumulate=bool(accumulate))


from .pool_api import (
    adaptive_avg_pool,
    adaptive_max_pool,
    avg_pool,
    max_pool,
    max_unpool,
    window_sum,
)  # fmt: skip

"""Gathers and scatters by flat per-channel spatial index (adaptive max pooling, unpooling).

    take_flat:  y[n,c,j] = x[n, c, idx[n,c,j]]               dx: put_flat (scatter-add)
    put_flat:   y = 0;  y[n, c, idx[n,c,j]] += x[n,c,j]     dx: take_flat (gather)

Each primitive `<name>_p` sits above its public function `<name>`.
"""

from __future__ import annotations

import math

import numpy as np

from ._base import Case, Domain, ErrorCase, Tensor, _ones, apply, primitive

__all__ = ["put_flat", "take_flat"]


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
                lambda: take_flat(_ones(1, 2, 4), np.zeros((1, 3, 2), int)),
                ValueError,
                r"take_flat: index shape \(1, 3, 2\) must match x shape \(1, 2, 4\) on \(N, C\)",
            )
        ],
    ),
)
def take_flat_p(x, index):
    """$y[n,c,j] = x[n,c,idx[n,c,j]]$ over flattened spatial axes; dx = put_flat(g)."""
    out = np.take_along_axis(_rows(x), _rows(index), axis=1)
    return out.reshape(index.shape)


def take_flat(x: Tensor, index) -> Tensor:
    """Gather by flat per-channel spatial index (N, C, *O), as max pooling's indices."""
    index = np.asarray(index._data if isinstance(index, Tensor) else index, dtype=np.int64)
    if index.ndim != x.ndim or index.shape[:2] != x.shape[:2]:
        raise ValueError(
            f"take_flat: index shape {index.shape} must match x shape {x.shape} on (N, C)"
        )
    return apply(take_flat_p, x, index=index)


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
                lambda: put_flat(_ones(1, 1, 2), np.zeros((1, 1, 3), int), (1, 1, 4)),
                ValueError,
                r"put_flat: index shape \(1, 1, 3\) must equal x shape \(1, 1, 2\)",
            )
        ],
    ),
)
def put_flat_p(x, index, shape, accumulate):
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


def put_flat(x: Tensor, index, shape, accumulate: bool = True) -> Tensor:
    """Scatter `x` into zeros of `shape` at flat per-channel indices (adds repeated ones)."""
    index = np.asarray(index._data if isinstance(index, Tensor) else index, dtype=np.int64)
    if index.shape != x.shape:
        raise ValueError(f"put_flat: index shape {index.shape} must equal x shape {x.shape}")
    return apply(put_flat_p, x, index=index, shape=tuple(shape), accumulate=bool(accumulate))

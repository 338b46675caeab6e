"""Segment reductions: the aggregations of graph networks (messages summed per target node).

`index[e]` names the segment (the target node) of row `e` of `src`; the result
has one row per segment.  Sums are scatter-adds (`index_add_zeros`, whose VJP
is a gather), so they are composites; the maximum is a primitive whose VJP
sends each segment's gradient to its maxima, split equally among ties (as
`torch.scatter_reduce(..., "amax")`).  Empty segments give 0, as in PyTorch
Geometric.
"""

from __future__ import annotations

import numpy as np

from ._base import Case, Domain, ErrorCase, Tensor, _wrap, apply, primitive
from .elementwise import div, exp, mul, sub
from .index import getitem, index_add_zeros


def _check_segments(op: str, src: Tensor, index, num_segments: int) -> np.ndarray:
    """Validate `index` against `src` and `num_segments`; return it as an int64 array."""
    index = np.asarray(index._data if isinstance(index, Tensor) else index)
    if index.dtype.kind not in "iu":
        raise TypeError(f"{op}: index must be an integer array, got dtype {index.dtype}")
    if index.ndim != 1 or src.ndim < 1 or index.shape[0] != src.shape[0]:
        raise ValueError(
            f"{op}: index must be 1-d with one entry per row of src; got index shape "
            f"{index.shape} for src shape {src.shape}"
        )
    if not isinstance(num_segments, (int, np.integer)) or num_segments < 0:
        raise ValueError(f"{op}: num_segments must be a non-negative int, got {num_segments!r}")
    if index.size and (index.min() < 0 or index.max() >= num_segments):
        raise IndexError(
            f"{op}: index values must lie in [0, {num_segments}); got min {index.min()}, "
            f"max {index.max()}"
        )
    return index.astype(np.int64, copy=False)


def segment_sum(src: Tensor, index, num_segments: int) -> Tensor:
    """$y_s = \\sum_{e: index_e = s} src_e$ (rows of `src` added into their segment)."""
    index = _check_segments("segment_sum", src, index, num_segments)
    return index_add_zeros(src, (index,), (int(num_segments),) + tuple(src.shape[1:]))


def segment_count(index, num_segments: int) -> np.ndarray:
    """Number of rows in each segment (a constant: not differentiable)."""
    return np.bincount(np.asarray(index, dtype=np.int64), minlength=num_segments)


def segment_mean(src: Tensor, index, num_segments: int) -> Tensor:
    """$y_s = \\frac{1}{n_s}\\sum_{e: index_e = s} src_e$; 0 for an empty segment."""
    index = _check_segments("segment_mean", src, index, num_segments)
    total = index_add_zeros(src, (index,), (int(num_segments),) + tuple(src.shape[1:]))
    counts = np.maximum(segment_count(index, num_segments), 1).astype(src.dtype)
    return div(total, _wrap(counts.reshape((-1,) + (1,) * (src.ndim - 1))))


def _max_weights(ans: Tensor, x: Tensor, index: np.ndarray) -> Tensor:
    """1/(number of ties) where a row holds its segment's maximum, else 0 (a constant)."""
    hit = (x._data == ans._data[index]).astype(x.dtype)
    ties = np.zeros(ans.shape, dtype=x.dtype)
    np.add.at(ties, index, hit)
    return _wrap(hit / np.maximum(ties[index], 1))


def _segment_max_vjp(g, ans, x, index, num_segments):
    return mul(getitem(g, (index,)), _max_weights(ans, x, index))


def _segment_max_jvp(t, ans, x, index, num_segments):
    w = _max_weights(ans, x, index)
    return index_add_zeros(mul(t, w), (index,), ans.shape)


def _max_case(rng):
    return {"index": np.array([0, 2, 0, 2, 2, 1]), "num_segments": 4}


@primitive(
    "segment_max",
    vjp=[_segment_max_vjp],
    jvp=[_segment_max_jvp],
    domain=Domain(
        [Case(((6, 3),), _max_case), Case(((6,),), _max_case)],
        second_order=False,
        fn=lambda x, index, num_segments: segment_max(x, index, num_segments),
        errors=[
            ErrorCase(
                lambda: segment_max(_wrap(np.ones((3, 2))), np.array([0, 1]), 2),
                ValueError,
                r"segment_max: index must be 1-d with one entry per row of src; got index "
                r"shape \(2,\) for src shape \(3, 2\)",
            ),
            ErrorCase(
                lambda: segment_max(_wrap(np.ones((2, 2))), np.array([0, 5]), 2),
                IndexError,
                r"segment_max: index values must lie in \[0, 2\); got min 0, max 5",
            ),
            ErrorCase(
                lambda: segment_max(_wrap(np.ones((2, 2))), np.array([0.0, 1.0]), 2),
                TypeError,
                r"segment_max: index must be an integer array, got dtype float64",
            ),
        ],
    ),
)
def segment_max_p(x, index, num_segments):
    """$y_s = \\max_{e: index_e = s} x_e$ (0 for an empty segment); d/dx goes to the maxima,
    split equally among ties."""
    out = np.full((num_segments,) + x.shape[1:], -np.inf, dtype=x.dtype)
    np.maximum.at(out, index, x)
    out[
        np.isneginf(out)
        & (segment_count(index, num_segments) == 0).reshape((-1,) + (1,) * (x.ndim - 1))
    ] = 0
    return out


def segment_max(src: Tensor, index, num_segments: int) -> Tensor:
    """$y_s = \\max_{e: index_e = s} src_e$; 0 for an empty segment (PyTorch Geometric)."""
    index = _check_segments("segment_max", src, index, num_segments)
    return apply(segment_max_p, src, index=index, num_segments=int(num_segments))


def segment_softmax(src: Tensor, index, num_segments: int) -> Tensor:
    """$y_e = e^{src_e} / \\sum_{e': index_{e'} = index_e} e^{src_{e'}}$: softmax within segments.

    The per-segment maximum is subtracted first for stability; it is a constant
    (softmax is shift-invariant), so it carries no gradient.
    """
    index = _check_segments("segment_softmax", src, index, num_segments)
    shift = np.full((num_segments,) + src.shape[1:], -np.inf, dtype=src.dtype)
    np.maximum.at(shift, index, src._data)
    z = exp(sub(src, _wrap(shift[index])))
    denom = index_add_zeros(z, (index,), shift.shape)
    return div(z, getitem(denom, (index,)))


__all__ = ["segment_count", "segment_max", "segment_mean", "segment_softmax", "segment_sum"]

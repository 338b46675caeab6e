"""Sorting and selection: sort, topk, kthvalue, median, mode, cummax/cummin, unique, ...

The ones that return values of the input pick them with `take_along_axis`, so
they are differentiable through that primitive (the gradient flows to the
selected elements); indices, counts and bins are integers without gradients.
Functions returning two tensors return PyTorch's `(values, indices)` named tuple.
"""

from __future__ import annotations

import numpy as np

from ..core.tensor import Tensor, _wrap
from .index import take_along_axis
from .out import supports_out
from .reduce import ValuesIndices
from .shape import squeeze

__all__ = [
    "argsort", "bincount", "cummax", "cummin", "histc", "kthvalue", "median", "mode",
    "msort", "nonzero", "searchsorted", "sort", "topk", "unique",
]  # fmt: skip


def _dim(name: str, x: Tensor, dim: int) -> int:
    nd = max(x.ndim, 1)
    if not isinstance(dim, (int, np.integer)) or not -nd <= dim < nd:
        raise IndexError(f"{name}: dim {dim!r} is out of range for a tensor with {x.ndim} dims")
    return int(dim) % nd


def _pick(x: Tensor, idx: np.ndarray, dim: int, keepdim: bool = True) -> ValuesIndices:
    """(x's values at idx along dim, idx) with the 0-d case handled."""
    if x.ndim == 0:
        return ValuesIndices(x, _wrap(np.zeros((), np.int64)))
    values = take_along_axis(x, idx, dim)
    if not keepdim:
        values, idx = squeeze(values, dim), np.squeeze(idx, dim)
    return ValuesIndices(values, _wrap(idx.astype(np.int64)))


def _argsort(a: np.ndarray, dim: int, descending: bool) -> np.ndarray:
    if a.ndim == 0:
        return np.zeros((), np.int64)
    if not descending:
        return np.argsort(a, axis=dim, kind="stable")
    # stable descending: sort the reversed array ascending by -rank, keeping first-come order
    n = a.shape[dim]
    rev = np.flip(a, dim)
    idx = np.argsort(rev, axis=dim, kind="stable")
    return np.flip(n - 1 - idx, dim)


@supports_out
def sort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False):
    """Sorted values along `dim` and their original indices: $(x_{\\pi}, \\pi)$ (stable)."""
    d = _dim("sort", input, dim)
    return _pick(input, _argsort(input._data, d, descending), d)


@supports_out
def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """The indices that sort `input` along `dim` (stable)."""
    d = _dim("argsort", input, dim)
    return _wrap(_argsort(input._data, d, descending).astype(np.int64))


@supports_out
def msort(input: Tensor) -> Tensor:
    """Values sorted along dim 0."""
    return sort(input, 0).values


@supports_out
def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
    """The `k` largest (or smallest) entries along `dim`, sorted, with their indices."""
    d = _dim("topk", input, dim)
    n = input.shape[d] if input.ndim else 1
    if not isinstance(k, (int, np.integer)) or not 0 <= k <= n:
        raise RuntimeError(f"topk: k={k!r} is out of range for dimension {d} of size {n}")
    idx = _argsort(input._data, d, largest)
    return _pick(input, np.take(idx, np.arange(k), axis=d) if input.ndim else idx, d)


@supports_out
def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False):
    """The k-th smallest entry along `dim` (k counts from 1) and its index."""
    d = _dim("kthvalue", input, dim)
    n = input.shape[d] if input.ndim else 1
    if not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
        raise RuntimeError(f"kthvalue: k={k!r} is out of range for dimension {d} of size {n}")
    idx = _argsort(input._data, d, False)
    return _pick(input, np.take(idx, [k - 1], axis=d) if input.ndim else idx, d, keepdim)


@supports_out
def median(input: Tensor, dim: int | None = None, keepdim: bool = False):
    """The lower median $x_{(\\lceil n/2 \\rceil)}$; with `dim`, (values, indices) as PyTorch."""
    if input.numel() == 0:
        raise RuntimeError(f"median: the input of shape {input.shape} is empty")
    if dim is None:
        flat = input.reshape(-1)
        return kthvalue(flat, (flat.shape[0] + 1) // 2, 0).values
    d = _dim("median", input, dim)
    n = input.shape[d] if input.ndim else 1
    return kthvalue(input, (n + 1) // 2, d, keepdim)


@supports_out
def mode(input: Tensor, dim: int = -1, keepdim: bool = False):
    """The most frequent value along `dim` (the smallest on ties) and the index of its last
    occurrence."""
    d = _dim("mode", input, dim)
    if input.ndim == 0:
        return ValuesIndices(input, _wrap(np.zeros((), np.int64)))
    a = np.moveaxis(input._data, d, -1)
    rows = a.reshape(-1, a.shape[-1])
    best = np.empty(rows.shape[0], np.int64)
    for r, row in enumerate(rows):
        vals, counts = np.unique(row, return_counts=True)
        v = vals[np.argmax(counts)]
        best[r] = np.flatnonzero(row == v)[-1]
    idx = np.expand_dims(best.reshape(a.shape[:-1]), d)
    return _pick(input, idx, d, keepdim)


def _cum_extreme(name: str, input: Tensor, dim: int, better) -> ValuesIndices:
    d = _dim(name, input, dim)
    if input.ndim == 0:
        return ValuesIndices(input, _wrap(np.zeros((), np.int64)))
    a = np.moveaxis(input._data, d, -1)
    idx = np.zeros(a.shape, np.int64)
    cur = a[..., 0].copy()
    run = np.zeros(a.shape[:-1], np.int64)
    for k in range(a.shape[-1]):
        take = better(a[..., k], cur) | (a[..., k] == cur) | np.isnan(a[..., k])
        cur = np.where(take, a[..., k], cur)
        run = np.where(take, k, run)
        idx[..., k] = run
    return _pick(input, np.moveaxis(idx, -1, d), d)


@supports_out
def cummax(input: Tensor, dim: int):
    """Running maximum along `dim` and the index where it was attained (the latest on ties)."""
    return _cum_extreme("cummax", input, dim, np.greater)


@supports_out
def cummin(input: Tensor, dim: int):
    """Running minimum along `dim` and the index where it was attained (the latest on ties)."""
    return _cum_extreme("cummin", input, dim, np.less)


def unique(
    input: Tensor,
    sorted: bool = True,
    return_inverse: bool = False,
    return_counts: bool = False,
    dim: int | None = None,
):
    """The distinct values (sorted), optionally with inverse indices and counts."""
    a = input._data
    res = np.unique(a, return_inverse=True, return_counts=True, axis=dim)
    vals, inv, counts = res
    out = [_wrap(vals)]
    if return_inverse:
        out.append(_wrap(inv.reshape(a.shape if dim is None else -1).astype(np.int64)))
    if return_counts:
        out.append(_wrap(counts.astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


@supports_out
def nonzero(input: Tensor, *, as_tuple: bool = False):
    """Indices of the non-zero entries: an (n, ndim) int64 tensor, or one tensor per dim."""
    idx = np.nonzero(np.atleast_1d(input._data))
    if as_tuple:
        return tuple(_wrap(i.astype(np.int64)) for i in idx)
    return _wrap(np.stack(idx, axis=1).astype(np.int64) if idx else np.zeros((0, 0), np.int64))


@supports_out
def searchsorted(
    sorted_sequence: Tensor,
    values,
    *,
    out_int32: bool = False,
    right: bool = False,
    side=None,
    sorter=None,
) -> Tensor:
    """Insertion points of `values` in the last dim of `sorted_sequence` (left or right);
    with `sorter`, `sorted_sequence` is unsorted and `sorter` holds its sorting indices."""
    seq = sorted_sequence._data
    if sorter is not None:
        order = np.asarray(sorter._data if isinstance(sorter, Tensor) else sorter)
        if order.shape != seq.shape or order.dtype.kind not in "iu":
            raise RuntimeError(
                f"searchsorted: sorter must be an integer tensor of shape {seq.shape}, got "
                f"shape {order.shape} dtype {order.dtype}"
            )
        seq = np.take_along_axis(seq, order, -1)
    v = values._data if isinstance(values, Tensor) else np.asarray(values)
    if side is not None:
        if side not in ("left", "right"):
            raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
        right = side == "right"
    s = "right" if right else "left"
    if seq.ndim == 1:
        out = np.searchsorted(seq, v, side=s)
    else:
        if seq.shape[:-1] != v.shape[:-1]:
            raise RuntimeError(
                f"searchsorted: leading dims of sorted_sequence {seq.shape} and values "
                f"{v.shape} must match"
            )
        rows, vr = seq.reshape(-1, seq.shape[-1]), v.reshape(-1, v.shape[-1])
        out = np.stack([np.searchsorted(r, q, side=s) for r, q in zip(rows, vr)]).reshape(v.shape)
    return _wrap(np.asarray(out).astype(np.int32 if out_int32 else np.int64))


def bincount(input: Tensor, weights: Tensor | None = None, minlength: int = 0) -> Tensor:
    """Counts of each non-negative integer in a 1-d tensor (weighted sums with `weights`)."""
    a = input._data
    if a.ndim != 1 or a.dtype.kind not in "iu" or (a.size and a.min() < 0):
        raise RuntimeError(
            f"bincount: input must be a 1-d tensor of non-negative integers, got shape "
            f"{a.shape} dtype {a.dtype}"
        )
    w = (
        None
        if weights is None
        else np.asarray(weights._data if isinstance(weights, Tensor) else weights)
    )
    out = np.bincount(a, w, minlength)
    return _wrap(out if w is not None else out.astype(np.int64))


@supports_out
def histc(input: Tensor, bins: int = 100, min: float = 0, max: float = 0) -> Tensor:
    """Histogram of `bins` equal bins over [min, max] (the data's range when both are 0)."""
    a = input._data.reshape(-1)
    lo, hi = float(min), float(max)
    if lo == hi == 0 and a.size:
        lo, hi = float(a.min()), float(a.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if hi < lo:
        raise RuntimeError(f"histc: max ({max}) must be >= min ({min})")
    counts, _ = np.histogram(a[(a >= lo) & (a <= hi)], bins=bins, range=(lo, hi))
    dt = input._data.dtype if input._data.dtype.kind == "f" else np.float32
    return _wrap(counts.astype(dt))

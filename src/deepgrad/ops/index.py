"""Indexing primitives: basic and advanced `__getitem__`, gather, scatter_add, one_hot.

getitem and its adjoint (add the gradient into zeros at the same index, with
repeated indices accumulating) are each other's VJPs; gather and scatter_add
likewise.
"""

from __future__ import annotations

import numpy as np

from ..core.state import STATE
from ..core.tensor import as_tensor
from ._base import Case, Domain, ErrorCase, Tensor, _ones, _wrap, apply, primitive
from .validation import check_dim


def _is_basic(idx) -> bool:
    items = idx if isinstance(idx, tuple) else (idx,)
    return all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis for i in items)


@primitive(
    "getitem",
    linear=True,
    transpose=[lambda g, x, idx: index_add_zeros(g, idx, x.shape)],
    domain=Domain(
        [
            Case(((4, 3),), {"idx": (slice(1, 3), 0)}),
            Case(((5,),), {"idx": (np.array([0, 2, 2, 4]),)}),
            Case(((3, 2),), {"idx": (np.array([True, False, True]),)}),
            Case(((2, 3, 4),), {"idx": (Ellipsis, slice(None, None, -2))}),
            Case(((3, 3),), {"idx": (np.array([0, 1, 1]), np.array([2, 2, 0]))}),
            Case(((3,),), {"idx": (None, 1)}),
        ],
        errors=[
            ErrorCase(
                lambda: getitem(_ones(2, 3), (0, 5)),
                IndexError,
                r"getitem: index \(0, 5\) on a tensor of shape \(2, 3\)",
            ),
            ErrorCase(
                lambda: getitem(_ones(2, 3), np.array([0.5])),
                IndexError,
                r"getitem: index arrays must be integer or bool",
            ),
        ],
    ),
)
def getitem_p(x, idx):
    """$y = x[idx]$ (slices, integers, integer arrays, boolean masks)."""
    return x[idx]


def getitem(x: Tensor, idx) -> Tensor:
    """`x[idx]` with NumPy semantics; gradients of repeated indices accumulate."""
    idx = _norm_index(idx)
    try:
        out = apply(getitem_p, x, idx=idx)
    except IndexError as e:
        raise IndexError(f"getitem: index {idx!r} on a tensor of shape {x.shape}: {e}") from None
    return out


@primitive(
    "index_add_zeros",
    linear=True,
    transpose=[lambda g, y, idx, shape: getitem(g, idx)],
    domain=Domain(
        [
            Case(((2,),), {"idx": (slice(1, 3), 0), "shape": (4, 3)}),
            Case(((4,),), {"idx": (np.array([0, 2, 2, 4]),), "shape": (5,)}),
        ],
        errors=[
            ErrorCase(
                lambda: index_add_zeros(_ones(2), (5,), (3,)), IndexError, r"index_add_zeros: "
            )
        ],
    ),
)
def index_add_zeros_p(y, idx, shape):
    """$z = 0_{shape}$, then $z[idx] \\mathrel{+}= y$ (repeated indices accumulate)."""
    z = np.zeros(shape, dtype=y.dtype)
    if _is_basic(idx):
        z[idx] = y
    else:
        np.add.at(z, idx, y)
    return z


def index_add_zeros(y: Tensor, idx, shape) -> Tensor:
    """Zeros of `shape` with `y` added at `idx` (the adjoint of getitem)."""
    try:
        return apply(index_add_zeros_p, y, idx=_norm_index(idx), shape=tuple(shape))
    except IndexError as e:
        raise IndexError(f"index_add_zeros: index {idx!r} into shape {tuple(shape)}: {e}") from None


def _norm_index(idx):
    """Convert Tensors inside an index to ndarrays; wrap in a tuple."""
    if not isinstance(idx, tuple):
        idx = (idx,)
    out = []
    for i in idx:
        if isinstance(i, Tensor):
            i = i._data
        if isinstance(i, list):
            i = np.asarray(i)
        if isinstance(i, np.ndarray) and i.dtype.kind not in "iub":
            raise IndexError(f"getitem: index arrays must be integer or bool, got {i.dtype}")
        out.append(i)
    return tuple(out)


def _full_index(index: np.ndarray, dim: int):
    grid = list(np.indices(index.shape, sparse=True))
    grid[dim] = index
    return tuple(grid)


@primitive(
    "gather",
    vjp=[
        lambda g, ans, x, dim, index: scatter_add(_wrap(np.zeros(x.shape, g.dtype)), dim, index, g)
    ],
    jvp=[lambda t, ans, x, dim, index: gather(t, dim, index)],
    domain=Domain(
        [
            Case(((3, 4),), {"dim": 1, "index": np.array([[0, 0], [3, 1], [2, 2]])}),
            Case(((3, 2),), {"dim": 0, "index": np.array([[2, 0], [2, 2]])}),
        ],
        errors=[
            ErrorCase(
                lambda: gather(_ones(2, 3), 2, np.zeros((2, 3), int)),
                IndexError,
                r"gather: dim 2 is out of range",
            ),
            ErrorCase(
                lambda: gather(_ones(2, 3), 1, np.full((2, 1), -1)),
                IndexError,
                r"gather: index values must lie in \[0, 3\)",
            ),
            ErrorCase(
                lambda: gather(_ones(2, 3), 1, np.zeros(2, int)),
                ValueError,
                r"gather: index has 1 dims but the input has 2",
            ),
        ],
    ),
)
def gather_p(x, dim, index):
    """$y_{i j} = x_{i, index_{i j}}$ along `dim` (PyTorch's gather)."""
    return x[_full_index(index, dim)]


def gather(x: Tensor, dim: int, index) -> Tensor:
    """PyTorch's `gather`: out[i][j] = x[i][index[i][j]] for dim=1."""
    index = np.asarray(index._data if isinstance(index, Tensor) else index)
    dim = check_dim("gather", dim, x.ndim)
    _check_index("gather", x, dim, index)
    return apply(gather_p, x, dim=dim, index=index)


@primitive(
    "scatter_add",
    vjp=[
        lambda g, ans, x, src, dim, index: g,
        lambda g, ans, x, src, dim, index: gather(g, dim, index),
    ],
    jvp=[
        lambda t, ans, x, src, dim, index: t,
        lambda t, ans, x, src, dim, index: scatter_add(
            _wrap(np.zeros(ans.shape, t.dtype)), dim, index, t
        ),
    ],
    domain=Domain(
        [Case(((3, 4), (3, 2)), {"dim": 1, "index": np.array([[0, 0], [3, 1], [2, 2]])})],
        fn=lambda x, src, dim, index: scatter_add(x, dim, index, src),
        errors=[
            ErrorCase(
                lambda: scatter_add(_ones(2, 3), 1, np.zeros((2, 1), int), _ones(2, 2)),
                ValueError,
                r"scatter_add: index shape \(2, 1\) must equal src shape \(2, 2\)",
            ),
            ErrorCase(
                lambda: scatter_add(_ones(2, 3), 1, np.full((2, 1), 3), _ones(2, 1)),
                IndexError,
                r"scatter_add: index values must lie in \[0, 3\)",
            ),
        ],
    ),
)
def scatter_add_p(x, src, dim, index):
    """$y = x$; $y_{i, index_{ij}} \\mathrel{+}= src_{ij}$ (repeated indices accumulate)."""
    out = x.copy()
    np.add.at(out, _full_index(index, dim), src)
    return out


def scatter_add(x: Tensor, dim: int, index, src: Tensor) -> Tensor:
    """PyTorch's out-of-place `scatter_add`: x with src added at index along dim."""
    src = as_tensor(src, like=x)
    index = np.asarray(index._data if isinstance(index, Tensor) else index)
    dim = check_dim("scatter_add", dim, x.ndim)
    _check_index("scatter_add", x, dim, index)
    if index.shape != src.shape:
        raise ValueError(f"scatter_add: index shape {index.shape} must equal src shape {src.shape}")
    return apply(scatter_add_p, x, src, dim=dim, index=index)


def _check_index(op, x, dim, index):
    if index.ndim != x.ndim:
        raise ValueError(
            f"{op}: index has {index.ndim} dims but the input has {x.ndim} ({x.shape})"
        )
    if index.dtype.kind not in "iu":
        raise TypeError(f"{op}: index must be an integer tensor, got {index.dtype}")
    n = x.shape[dim]
    if index.size and (index.min() < 0 or index.max() >= n):
        raise IndexError(
            f"{op}: index values must lie in [0, {n}) along dim {dim}; got "
            f"min {index.min()}, max {index.max()}"
        )


def take_along_axis(x: Tensor, indices, axis: int) -> Tensor:
    """NumPy's `take_along_axis` (gather with broadcastable indices)."""
    idx = np.asarray(indices._data if isinstance(indices, Tensor) else indices)
    axis = check_dim("take_along_axis", axis, x.ndim, "axis")
    shape = list(
        np.broadcast_shapes(
            tuple(1 if i == axis else s for i, s in enumerate(x.shape)),
            tuple(1 if i == axis else s for i, s in enumerate(idx.shape)),
        )
    )
    shape[axis] = idx.shape[axis]
    return gather(x, axis, np.broadcast_to(idx, tuple(shape)))


def one_hot(labels, num_classes: int = -1, dtype=None) -> Tensor:
    """(..., C) float tensor with 1 at each label (not differentiable)."""
    y = np.asarray(labels._data if isinstance(labels, Tensor) else labels)
    if y.dtype.kind not in "iu":
        raise TypeError(f"one_hot: labels must be integers, got dtype {y.dtype}")
    if num_classes < 0:
        num_classes = int(y.max()) + 1 if y.size else 0
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(
            f"one_hot: labels must lie in [0, {num_classes}), got min {y.min()}, max {y.max()}"
        )
    out = np.zeros(y.shape + (num_classes,), dtype=dtype or STATE.default_float)
    np.put_along_axis(out, y[..., None], 1, axis=-1)
    return _wrap(out)

"""`x[idx] = v` as a differentiable op: `index_put` and `Tensor.__setitem__`.

The out-of-place primitive returns a copy of `x` with `v` written at `idx`
(basic slices, integer arrays, boolean masks).  `__setitem__` writes that result
back into `x` through the in-place machinery (`ops/inplace.py`), so the
assignment is recorded on the tape when grad mode needs it.
"""

from __future__ import annotations

import numpy as np

from ._base import Case, Domain, ErrorCase, Tensor, _wrap, apply, as_tensor, primitive
from .cast import cast
from .index import _norm_index, getitem, index_add_zeros
from .inplace import inplace
from .shape import broadcast_to


def _zeros_at(g: Tensor, idx) -> Tensor:
    """`g` with the entries at `idx` set to zero (the gradient that reaches x)."""
    target = np.empty(g.shape, dtype=bool)[idx].shape
    return index_put_op(g, _wrap(np.zeros(target, g._data.dtype)), idx)


@primitive(
    "setitem",
    vjp=[
        lambda g, ans, x, v, idx: _zeros_at(g, idx),
        lambda g, ans, x, v, idx: getitem(g, idx),
    ],
    jvp=[
        lambda t, ans, x, v, idx: _zeros_at(t, idx),
        lambda t, ans, x, v, idx: index_put_op(_wrap(np.zeros(ans.shape, t._data.dtype)), t, idx),
    ],
    domain=Domain(
        [
            Case(((4, 3), (2, 3)), {"idx": (slice(1, 3),)}),
            Case(((5,), (3,)), {"idx": (np.array([0, 2, 4]),)}),
            Case(((3, 2), (2, 2)), {"idx": (np.array([True, False, True]),)}),
            Case(((2, 3), ()), {"idx": (1, 2)}),
        ],
        errors=[
            ErrorCase(
                lambda: index_put(Tensor(np.zeros((2, 3))), (0,), Tensor(np.ones(4))),
                ValueError,
                r"index_put: values of shape \(4,\) cannot be broadcast to the indexed shape "
                r"\(3,\)",
            )
        ],
    ),
)
def setitem_p(x, v, idx):
    """$y = x$ with $y[idx] = v$; dy/dx is 1 off idx and 0 on it, dy/dv scatters into idx."""
    out = x.copy()
    out[idx] = v
    return out


def index_put_op(x: Tensor, v: Tensor, idx) -> Tensor:
    """The primitive on a normalised index, with `v` already of the indexed shape."""
    return apply(setitem_p, x, v, idx=idx)


def index_put(x: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    """A copy of `x` with `x[indices] = values` (or `+=` with `accumulate=True`).

    `values` broadcasts to the indexed shape and takes x's dtype.
    """
    idx = _norm_index(indices)
    values = as_tensor(values, like=x)
    try:
        target = np.empty(x.shape, dtype=bool)[idx].shape
    except IndexError as e:
        raise IndexError(f"index_put: index {idx!r} on a tensor of shape {x.shape}: {e}") from None
    try:
        np.broadcast_shapes(values.shape, target)
    except ValueError:
        raise ValueError(
            f"index_put: values of shape {values.shape} cannot be broadcast to the indexed "
            f"shape {target}"
        ) from None
    v = broadcast_to(cast(values, x._data.dtype), target)
    if accumulate:
        return x + index_add_zeros(v, idx, x.shape)
    return index_put_op(x, v, idx)


def setitem_(x: Tensor, indices, values) -> Tensor:
    """`x[indices] = values` in place (recorded on the tape when needed)."""
    return inplace(x, "__setitem__", index_put, indices, values)


def index_put_(x: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    """In-place `index_put`."""
    return inplace(x, "index_put_", index_put, indices, values, accumulate=accumulate)

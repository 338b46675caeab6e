"""Sparse gradients without a sparse tensor type: `Embedding(sparse=True)`, `F.embedding(sparse=True)`.

PyTorch gives such a weight a sparse COO gradient: the looked-up row indices (without
`padding_idx`) and one gradient row each.  deepgrad has no sparse tensor type, so the
representation is split in two:

- `weight.grad` stays the dense Tensor every other optimizer, `clip_grad_norm_` and
  hook reads (its rows outside the lookup are zero, as a densified sparse gradient's);
- the rows the sparse gradient holds are recorded beside it, when the gradient flows
  back through the lookup (not at the forward: a lookup whose output is never
  differentiated holds no rows).  `grad_rows(weight)` gives them sorted and unique
  (PyTorch's `coalesce()`), and `optim.SparseAdam` updates exactly those rows, leaving
  the others' moments untouched, even where a looked-up row's gradient happens to be 0.

The record belongs to the gradient: `zero_grad` (of an optimizer or a module) clears it,
a backward pass onto an existing gradient adds its rows, and a backward pass that finds
`weight.grad` None after the record was read starts afresh.  Memory is that of a dense
gradient (the price of having no sparse type).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..autograd import Function
from ..core.tensor import Tensor


@dataclass
class _Rows:
    parts: list[np.ndarray] = field(default_factory=list)
    read: bool = False  # grad_rows has handed these rows out


# id(weight) -> (a weak reference to it, its rows); keyed by id because a Tensor's `==` is
# elementwise (a WeakKeyDictionary compares keys with it); the entry goes with the weight
_ROWS: dict[int, tuple[weakref.ref, _Rows]] = {}


def _entry(weight: Tensor) -> _Rows | None:
    item = _ROWS.get(id(weight))
    return item[1] if item is not None and item[0]() is weight else None


def _forget(key: int) -> Callable[[weakref.ref], None]:
    return lambda ref: _ROWS.pop(key, None)


def record_rows(weight: Tensor, rows: np.ndarray) -> None:
    """Add `rows` to the sparse gradient of `weight` (called as the gradient flows back)."""
    entry = _entry(weight)
    if entry is None or (weight.grad is None and entry.read):
        entry = _Rows()
        _ROWS[id(weight)] = (weakref.ref(weight, _forget(id(weight))), entry)
    entry.parts.append(rows)


def grad_rows(weight: Tensor) -> np.ndarray | None:
    """The sorted unique rows `weight`'s sparse gradient holds; None for a dense gradient."""
    entry = _entry(weight)
    if entry is None or weight.grad is None:
        return None
    entry.read = True
    return np.unique(np.concatenate(entry.parts))


def clear_rows(weight: Tensor) -> None:
    """Forget `weight`'s sparse-gradient rows (its gradient was reset)."""
    if _ROWS and _entry(weight) is not None:
        del _ROWS[id(weight)]


class _RecordRows(Function):
    """The identity on a lookup's output; its backward records the rows on the weight."""

    @staticmethod
    def forward(ctx, out: Tensor, target: tuple[Tensor, np.ndarray]) -> Tensor:
        # the weight travels inside a tuple: as an argument of its own it would be an input
        # of this node and receive a zero gradient the size of the whole table
        ctx.target = target
        return out.detach()

    @staticmethod
    def backward(ctx, g: Tensor):
        record_rows(*ctx.target)
        return g, None

    @staticmethod
    def jvp(ctx, t, *_):
        return t


def sparse_lookup(out: Tensor, weight: Tensor, idx: np.ndarray, padding_idx: int | None):
    """`out` (= weight[idx]) marked so that its backward records idx's rows on `weight`."""
    if not (weight.requires_grad and out.requires_grad):
        return out
    rows = idx.reshape(-1)
    if padding_idx is not None:
        rows = rows[rows != padding_idx]
    return _RecordRows.apply(out, (weight, rows))

"""Flat float64 views of a parameter list, for line searches and second-order methods.

theta = concat(vec(p_1), ..., vec(p_n)); the helpers gather values and gradients
into one vector, write a vector back in place, and turn a closure into the
`f(x) -> (loss, grad)` function the line searches take.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..core import autodiff
from ..core.state import enable_grad, no_grad
from ..core.tensor import Tensor, _wrap


def numel(params: Sequence[Tensor]) -> int:
    """Total number of scalar entries in `params`."""
    return sum(p._data.size for p in params)


def gather(arrays: Sequence[np.ndarray | Tensor | None], like: Sequence[Tensor]) -> np.ndarray:
    """Concatenate arrays (None: zeros shaped like the matching parameter) into float64."""
    parts = []
    for a, p in zip(arrays, like):
        if a is None:
            parts.append(np.zeros(p._data.size))
        else:
            arr = a._data if isinstance(a, Tensor) else a
            parts.append(np.asarray(arr, dtype=np.float64).reshape(-1))
    return np.concatenate(parts) if parts else np.zeros(0)


def params_vector(params: Sequence[Tensor]) -> np.ndarray:
    """theta as one float64 vector (a copy)."""
    return gather([p._data for p in params], params)


def grads_vector(params: Sequence[Tensor]) -> np.ndarray:
    """The parameters' `.grad` as one float64 vector (missing gradients are zeros)."""
    return gather([p.grad for p in params], params)


def _pieces(vec: np.ndarray, params: Sequence[Tensor]):
    """(p, the slice of `vec` that belongs to p, shaped like p) for each parameter in turn."""
    offset = 0
    for p in params:
        n = p._data.size
        yield p, vec[offset : offset + n].reshape(p._data.shape)
        offset += n


def set_params(params: Sequence[Tensor], vec: np.ndarray) -> None:
    """Write `vec` into the parameters in place (theta <- vec)."""
    for p, piece in _pieces(vec, params):
        p._data[...] = piece


def add_to_params(params: Sequence[Tensor], step: float, d: np.ndarray) -> None:
    """theta <- theta + step * d, in place."""
    for p, piece in _pieces(d, params):
        p._data += (step * piece).astype(p._data.dtype)


def split(vec: np.ndarray, params: Sequence[Tensor]) -> list[Tensor]:
    """Cut a flat vector into tensors shaped (and typed) like `params`."""
    return [_wrap(piece.astype(p._data.dtype)) for p, piece in _pieces(vec, params)]


def closure_objective(
    closure: Callable[[], Any], params: Sequence[Tensor]
) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """f(x) -> (loss, grad) that sets theta = x, runs a torch-style closure and reads `.grad`."""

    def f(x: np.ndarray) -> tuple[float, np.ndarray]:
        set_params(params, x)
        with enable_grad():
            loss = float(closure())
        return loss, grads_vector(params)

    return f


def loss_objective(
    closure: Callable[[], Tensor], params: Sequence[Tensor]
) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """f(x) -> (loss, grad) for a closure returning the loss (gradients by `autograd.grad`)."""

    def f(x: np.ndarray) -> tuple[float, np.ndarray]:
        set_params(params, x)
        with enable_grad():
            loss = closure()
        if not isinstance(loss, Tensor) or not loss.requires_grad:
            return float(loss), np.zeros(x.size)
        return float(loss), gather(autodiff.grad(loss, list(params)), params)

    return f


def loss_value(closure: Callable[[], Any], params: Sequence[Tensor], x: np.ndarray) -> float:
    """The closure's loss at theta = x, without recording a graph."""
    set_params(params, x)
    with no_grad():
        return float(closure())

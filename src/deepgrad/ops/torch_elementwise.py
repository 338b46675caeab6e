"""PyTorch's remaining elementwise functions and reductions, as composites.

Rounding functions are piecewise constant: their derivative is 0 almost
everywhere, which they express as `0 * x` plus the rounded constant, so both
modes see a zero derivative (as PyTorch's).  Logical functions return bool tensors.
"""

from __future__ import annotations

import math

import numpy as np

from ..core.tensor import Tensor, _wrap, as_tensor
from . import elementwise as E
from . import reduce as R

__all__ = [
    "amax", "amin", "ceil", "count_nonzero", "floor", "frac", "log2", "log10", "logical_and",
    "logical_not", "logical_or", "logical_xor", "round", "rsqrt", "trunc",
]  # fmt: skip


def _piecewise_constant(x: Tensor, values: np.ndarray) -> Tensor:
    if x._data.dtype.kind not in "fc" or not (x.requires_grad or x._tangents):
        return _wrap(np.asarray(values, dtype=x._data.dtype))
    return E.add(E.mul(x, 0.0), _wrap(np.asarray(values, dtype=x._data.dtype)))


def round(input: Tensor, *, decimals: int = 0) -> Tensor:
    """Round half to even to `decimals` places; derivative 0."""
    return _piecewise_constant(input, np.round(input._data, decimals))


def floor(input: Tensor) -> Tensor:
    """$\\lfloor x \\rfloor$; derivative 0."""
    return _piecewise_constant(input, np.floor(input._data))


def ceil(input: Tensor) -> Tensor:
    """$\\lceil x \\rceil$; derivative 0."""
    return _piecewise_constant(input, np.ceil(input._data))


def trunc(input: Tensor) -> Tensor:
    """x rounded towards 0; derivative 0."""
    return _piecewise_constant(input, np.trunc(input._data))


def frac(input: Tensor) -> Tensor:
    """$x - \\mathrm{trunc}(x)$; derivative 1."""
    return E.sub(input, _wrap(np.trunc(input._data)))


def log10(input: Tensor) -> Tensor:
    """$\\log_{10} x = \\ln x / \\ln 10$."""
    return E.div(E.log(input), math.log(10.0))


def log2(input: Tensor) -> Tensor:
    """$\\log_2 x = \\ln x / \\ln 2$."""
    return E.div(E.log(input), math.log(2.0))


def rsqrt(input: Tensor) -> Tensor:
    """$1 / \\sqrt x$."""
    return E.reciprocal(E.sqrt(input))


def _bool(x) -> np.ndarray:
    return (x._data if isinstance(x, Tensor) else np.asarray(x)).astype(bool)


def logical_and(input: Tensor, other) -> Tensor:
    """$x \\land y$ on truth values (non-zero is True)."""
    return _wrap(np.logical_and(_bool(input), _bool(other)))


def logical_or(input: Tensor, other) -> Tensor:
    """$x \\lor y$ on truth values."""
    return _wrap(np.logical_or(_bool(input), _bool(other)))


def logical_xor(input: Tensor, other) -> Tensor:
    """$x \\oplus y$ on truth values."""
    return _wrap(np.logical_xor(_bool(input), _bool(other)))


def logical_not(input: Tensor) -> Tensor:
    """$\\lnot x$ on truth values."""
    return _wrap(np.logical_not(_bool(input)))


def amax(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    """Maximum over `dim` (an int or a tuple; all dims when empty), values only."""
    axis = None if dim == () or dim is None else dim
    return R.max(as_tensor(input), axis=axis, keepdims=keepdim)


def amin(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    """Minimum over `dim` (an int or a tuple; all dims when empty), values only."""
    axis = None if dim == () or dim is None else dim
    return R.min(as_tensor(input), axis=axis, keepdims=keepdim)


def count_nonzero(input: Tensor, dim=None) -> Tensor:
    """The number of non-zero entries (over `dim`), int64."""
    return _wrap(np.asarray(np.count_nonzero(input._data, axis=dim), dtype=np.int64))

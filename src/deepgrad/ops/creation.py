"""Tensor creation: from data, constant fills, ranges and random draws.

Every random function takes `generator=` (a `numpy.random.Generator`); without
it the default one (see `manual_seed`) is used.  Floats default to float32.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.random import _gen
from ..core.state import STATE
from ..core.tensor import Tensor
from .devices import check_device

__all__ = [
    "arange", "empty", "eye", "full", "full_like", "linspace", "normal", "ones", "ones_like",
    "rand", "randint", "randn", "tensor", "uniform", "zeros", "zeros_like",
]  # fmt: skip


def _shape(size) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, (int, np.integer)) or s < 0:
            raise ValueError(f"size must be non-negative integers, got {tuple(size)}")
    return tuple(int(s) for s in size)


def _float(dtype) -> np.dtype:
    return STATE.default_float if dtype is None else np.dtype(dtype)


def tensor(data: Any, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """A new tensor holding a copy of `data` (Python floats become float32)."""
    check_device(device, "tensor")
    t = Tensor(data, dtype=dtype, requires_grad=False)
    if t._data is data or (isinstance(data, np.ndarray) and np.shares_memory(t._data, data)):
        t._data = t._data.copy()
    if requires_grad:
        t.requires_grad_(True)
    return t


def zeros(*size, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """A tensor of zeros."""
    check_device(device, "zeros")
    return Tensor(np.zeros(_shape(size), _float(dtype)), requires_grad=requires_grad)


def ones(*size, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """A tensor of ones."""
    check_device(device, "ones")
    return Tensor(np.ones(_shape(size), _float(dtype)), requires_grad=requires_grad)


def full(size, fill_value, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """A tensor filled with `fill_value` (float fill: default float dtype)."""
    check_device(device, "full")
    if dtype is None:
        dtype = STATE.default_float if isinstance(fill_value, float) else None
    arr = np.full(_shape((size,) if isinstance(size, int) else (tuple(size),)), fill_value, dtype)
    return Tensor(arr, requires_grad=requires_grad)


def _like(x, dtype):
    data = x._data if isinstance(x, Tensor) else np.asarray(x)
    return data.shape, (data.dtype if dtype is None else np.dtype(dtype))


def zeros_like(x, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """Zeros with the shape and dtype of `x`."""
    check_device(device, "zeros_like")
    shape, dt = _like(x, dtype)
    return Tensor(np.zeros(shape, dt), requires_grad=requires_grad)


def ones_like(x, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """Ones with the shape and dtype of `x`."""
    check_device(device, "ones_like")
    shape, dt = _like(x, dtype)
    return Tensor(np.ones(shape, dt), requires_grad=requires_grad)


def full_like(x, fill_value, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """`fill_value` with the shape and dtype of `x`."""
    check_device(device, "full_like")
    shape, dt = _like(x, dtype)
    return Tensor(np.full(shape, fill_value, dt), requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """Values start, start+step, ... < end (integers unless a bound is a float)."""
    check_device(device, "arange")
    if end is None:
        start, end = 0, start
    if dtype is None and any(isinstance(v, float) for v in (start, end, step)):
        dtype = STATE.default_float
    return Tensor(np.arange(start, end, step, dtype=dtype), requires_grad=requires_grad)


def linspace(
    start, end, steps: int, dtype=None, requires_grad: bool = False, device=None
) -> Tensor:
    """`steps` evenly spaced values from start to end inclusive."""
    check_device(device, "linspace")
    return Tensor(np.linspace(start, end, steps, dtype=_float(dtype)), requires_grad=requires_grad)


def eye(
    n: int, m: int | None = None, dtype=None, requires_grad: bool = False, device=None
) -> Tensor:
    """The n x m identity matrix."""
    check_device(device, "eye")
    return Tensor(np.eye(n, m, dtype=_float(dtype)), requires_grad=requires_grad)


def rand(*size, generator=None, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """Uniform samples on [0, 1)."""
    check_device(device, "rand")
    arr = _gen(generator).random(_shape(size), dtype=np.float64).astype(_float(dtype))
    return Tensor(arr, requires_grad=requires_grad)


def randn(*size, generator=None, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """Standard normal samples N(0, 1)."""
    check_device(device, "randn")
    arr = _gen(generator).standard_normal(_shape(size)).astype(_float(dtype))
    return Tensor(arr, requires_grad=requires_grad)


def randint(
    low: int, high: int | None = None, size=(), generator=None, dtype=None, device=None
) -> Tensor:
    """Integers uniform on [low, high) (int64 by default).

    PyTorch's `randint(high, size)` and `randint(low, high, size)` both work.
    """
    check_device(device, "randint")
    if isinstance(high, (tuple, list)):  # randint(high, size)
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    if high <= low:
        raise ValueError(f"randint: need low < high, got low={low}, high={high}")
    arr = _gen(generator).integers(low, high, size=tuple(size), dtype=np.int64)
    return Tensor(arr if dtype is None else arr.astype(dtype))


def normal(
    mean=0.0, std=1.0, size=(), generator=None, dtype=None, requires_grad=False, device=None
) -> Tensor:
    """Samples from N(mean, std^2)."""
    check_device(device, "normal")
    if np.any(np.asarray(std) < 0):
        raise ValueError(f"normal: std must be >= 0, got {std}")
    arr = _gen(generator).normal(mean, std, size=tuple(size)).astype(_float(dtype))
    return Tensor(arr, requires_grad=requires_grad)


def uniform(
    low=0.0, high=1.0, size=(), generator=None, dtype=None, requires_grad=False, device=None
) -> Tensor:
    """Samples uniform on [low, high)."""
    check_device(device, "uniform")
    if high < low:
        raise ValueError(f"uniform: need low <= high, got low={low}, high={high}")
    arr = _gen(generator).uniform(low, high, size=tuple(size)).astype(_float(dtype))
    return Tensor(arr, requires_grad=requires_grad)


def empty(*size, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    """An uninitialised tensor (NumPy's `empty`)."""
    check_device(device, "empty")
    return Tensor(np.empty(_shape(size), _float(dtype)), requires_grad=requires_grad)

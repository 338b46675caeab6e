"""Argument validation in one place: dims, sizes, strides, paddings and dtypes.

Every public op and layer checks its arguments here, before any NumPy call,
so a bad argument is reported in the caller's words (the public function or
module path, the argument and the value or shape at fault) instead of as a
raw NumPy error from deep inside, or worse, silently wrapped or truncated.

Dtype policy (as PyTorch): integer and bool inputs to floating-point
functions are promoted to the default float dtype (`floating`); complex and
object arrays are refused until a complex policy exists (`real`); float16
and bfloat16 reductions accumulate in float32 (`accumulator`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core.state import STATE
from ..core.tensor import Tensor, _wrap

__all__ = [
    "DimError",
    "accumulator",
    "check_dim",
    "check_dims",
    "check_float",
    "check_int",
    "check_ints",
    "check_positive_float",
    "check_shape",
    "floating",
    "real",
]


_REFUSED = ("c", "O", "V", "U", "S", "M", "m")


class DimError(IndexError, ValueError):
    """An out-of-range dim: an IndexError as in PyTorch, and a ValueError as before."""


def check_dim(op: str, dim: Any, ndim: int, arg: str = "dim", extra: int = 0) -> int:
    """`dim` normalised to [0, ndim + extra); out of range raises, never wraps.

    A 0-d tensor accepts dim 0 and -1 (as PyTorch).  `extra=1` is for ops that
    insert a new axis (stack, unsqueeze), whose valid range is one wider.
    """
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op}: {arg} must be an int, got {dim!r} ({type(dim).__name__})")
    n = max(ndim + extra, 1)
    if not -n <= dim < n:
        raise DimError(
            f"{op}: {arg} {dim} is out of range for a tensor with {ndim} dims "
            f"(expected in [{-n}, {n - 1}])"
        )
    return int(dim) % n


def check_dims(op: str, dims: Any, ndim: int, arg: str = "dim") -> tuple[int, ...]:
    """A sequence of dims normalised, sorted, and checked for repeats."""
    items = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
    out = [check_dim(op, d, ndim, arg) for d in items]
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated {arg} in {dims}")
    return tuple(sorted(out))


def check_int(op: str, arg: str, value: Any, low: int | None = 0) -> int:
    """An integer argument (not a bool, not a float) that is at least `low`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{op}: {arg} must be an int, got {value!r} ({type(value).__name__})")
    if low is not None and value < low:
        raise ValueError(f"{op}: {arg} must be >= {low}, got {value}")
    return int(value)


def check_ints(op: str, arg: str, value: Any, n: int, low: int | None = 0) -> tuple[int, ...]:
    """An int or a sequence of `n` ints (kernel sizes, strides, paddings), each >= `low`."""
    if not isinstance(value, Sequence):
        value = (check_int(op, arg, value, low),) * n
    if not isinstance(value, Sequence) or len(value) != n:
        raise ValueError(f"{op}: {arg} must be an int or {n} ints, got {value!r}")
    return tuple(check_int(op, arg, v, low) for v in value)


def check_positive_float(op: str, arg: str, value: Any, allow_zero: bool = False) -> float:
    """A real number > 0 (or >= 0 with `allow_zero`)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"{op}: {arg} must be a number, got {value!r}")
    if not (value >= 0 if allow_zero else value > 0):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{op}: {arg} must be {bound}, got {value}")
    return float(value)


def check_shape(op: str, arg: str, t: Tensor, expected: tuple[int, ...]) -> None:
    """Raise naming `op` and `arg` unless `t` has exactly the shape `expected`."""
    if tuple(t.shape) != tuple(expected):
        raise ValueError(f"{op}: {arg} must have shape {tuple(expected)}, got {tuple(t.shape)}")


def real(op: str, x: Any) -> Any:
    """`x` unchanged, unless it is complex or object (refused: no complex policy yet)."""
    kind = x._data.dtype.kind if isinstance(x, Tensor) else None
    if kind in _REFUSED:
        what = {"c": "complex", "O": "object"}.get(kind, "non-numeric")
        raise TypeError(
            f"{op}: {what} tensors are not supported (got dtype {x._data.dtype}); "
            "deepgrad has real floating, integer and bool tensors only"
        )
    return x


def floating(op: str, x: Any) -> Tensor:
    """`x` as a floating tensor: int and bool are promoted to the default float dtype.

    This is PyTorch's rule for floating-point functions (`torch.sigmoid` of an
    int64 tensor is float32), where NumPy would truncate or keep the int.
    """
    if type(x) is Tensor and x._data.dtype.kind == "f":
        return x
    if not isinstance(x, Tensor):
        if isinstance(x, (int, float, bool, np.ndarray, np.generic, list, tuple)):
            x = Tensor(x)
        else:
            raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    kind = x._data.dtype.kind
    if kind == "f":
        return x
    if kind in "iub":
        return _wrap(x._data.astype(STATE.default_float))
    return real(op, x)


def check_float(op: str, arg: str, x: Any) -> Tensor:
    """`x` unchanged if it is a floating tensor; refused otherwise (where PyTorch refuses:
    softmax, cross-entropy, the regression losses, norms of integer tensors...)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: {arg} must be a Tensor, got {type(x).__name__}")
    if x._data.dtype.kind != "f":
        real(op, x)
        raise TypeError(
            f"{op}: {arg} must be a floating-point tensor, got dtype {x._data.dtype} "
            f"(convert with .float())"
        )
    return x


def accumulator(dtype: np.dtype) -> np.dtype | None:
    """The dtype a reduction should accumulate in: float32 for half precision, else None."""
    if dtype.kind == "f" and dtype.itemsize < 4:
        return np.dtype(np.float32)
    return None

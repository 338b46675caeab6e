"""PyTorch's `out=` argument: write a function's result into existing tensors.

As in PyTorch, a call with `out=` is not differentiable (it raises when the result
would need a graph), and an `out` of another shape is resized to the result's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from ..core.state import STATE
from ..core.tensor import Tensor


def _store(name: str, result: Tensor, out: Any) -> None:
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}: out must be a Tensor, got {type(out).__name__}")
    if STATE.grad and (result.requires_grad or out.requires_grad):
        raise RuntimeError(
            f"{name}: functions with out=... arguments don't support automatic "
            "differentiation; call it without out= (or under no_grad)"
        )
    if out.data.shape == result.data.shape and out.data.flags.writeable:
        np.copyto(out.data, result.data, casting="unsafe")
    else:  # PyTorch resizes a mis-shaped out
        out.data = result.data.astype(out.data.dtype)
    out._version = getattr(out, "_version", 0) + 1
    STATE.versioned = True


def supports_out(fn: Callable) -> Callable:
    """Give `fn` PyTorch's keyword `out=` (a tensor, or a pair for (values, indices))."""

    @functools.wraps(fn)
    def wrapper(*args: Any, out: Any = None, **kwargs: Any) -> Any:
        result = fn(*args, **kwargs)
        if out is None:
            return result
        if isinstance(result, tuple):
            if not isinstance(out, (tuple, list)) or len(out) != len(result):
                raise TypeError(f"{fn.__name__}: out must be a tuple of {len(result)} tensors")
            for r, o in zip(result, out):
                _store(fn.__name__, r, o)
            return type(result)(*out) if hasattr(result, "values") else tuple(out)
        _store(fn.__name__, result, out)
        return out

    wrapper.__doc__ = (fn.__doc__ or "") + "\n\n`out=` writes the result into given tensors."
    return wrapper

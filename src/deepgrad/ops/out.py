"""PyTorch's `out=` argument: write a function's result into existing tensors.

As in PyTorch, a call with `out=` is not differentiable (it raises when the result
would need a graph), an `out` of another shape is resized to the result's (without
PyTorch's deprecation warning), and a result that `out`'s dtype cannot hold without
changing kind (float into int, int into bool) is refused; a lower precision of the
same kind (float64 into float32) is accepted, as PyTorch does.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from ..core.state import STATE
from ..core.tensor import Tensor


def _store(name: str, result: Tensor, out: Any, casting: str = "same_kind") -> None:
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}: out must be a Tensor, got {type(out).__name__}")
    if STATE.grad and (result.requires_grad or out.requires_grad):
        raise RuntimeError(
            f"{name}: functions with out=... arguments don't support automatic "
            "differentiation; call it without out= (or under no_grad)"
        )
    src, dst = result._data, out._data
    if not np.can_cast(src.dtype, dst.dtype, casting):
        raise RuntimeError(
            f"{name}: result type {src.dtype} can't be cast to the desired output type {dst.dtype}"
        )
    if dst.shape == src.shape and dst.flags.writeable:
        np.copyto(dst, src, casting="unsafe")
    else:  # PyTorch resizes a mis-shaped out
        out._data = src.astype(dst.dtype)
    out._version = getattr(out, "_version", 0) + 1
    STATE.versioned = True


def write_out(name: str, result: Any, out: Any, casting: str = "same_kind") -> Any:
    """Write `result` (a tensor, or a tuple such as (values, indices)) into `out`; return out."""
    if isinstance(result, tuple):
        if not isinstance(out, (tuple, list)) or len(out) != len(result):
            raise TypeError(f"{name}: out must be a tuple of {len(result)} tensors")
        for r, o in zip(result, out):
            _store(name, r, o, casting)
        return type(result)(*out) if hasattr(result, "values") else tuple(out)
    _store(name, result, out, casting)
    return out


def with_keywords(fn: Callable, wrapper: Callable, **extra: Any) -> Callable:
    """`wrapper` with `fn`'s name, docstring and signature plus the keyword-only `extra`
    params (name=default), so `inspect.signature` shows what the wrapper accepts."""
    functools.update_wrapper(wrapper, fn)
    del wrapper.__wrapped__  # inspect.signature reads __signature__ below, not fn's
    sig = inspect.signature(fn)
    params = [p for p in sig.parameters.values() if p.name not in extra]
    tail = [p for p in params if p.kind == p.VAR_KEYWORD]
    params = [p for p in params if p.kind != p.VAR_KEYWORD]
    kw = inspect.Parameter.KEYWORD_ONLY
    params += [inspect.Parameter(e, kw, default=d) for e, d in extra.items()]
    wrapper.__signature__ = sig.replace(parameters=params + tail)
    return wrapper


def supports_out(fn: Callable) -> Callable:
    """Give `fn` PyTorch's keyword `out=` (a tensor, or a pair for (values, indices))."""
    name = fn.__name__

    def wrapper(*args: Any, out: Any = None, **kwargs: Any) -> Any:
        result = fn(*args, **kwargs)
        return result if out is None else write_out(name, result, out)

    wrapper = with_keywords(fn, wrapper, out=None)
    wrapper.__doc__ = (fn.__doc__ or "") + "\n\n`out=` writes the result into given tensors."
    return wrapper

"""In-place operations (`add_`, `x -= y`, `x[i] = v`, ...) with PyTorch's rules.

An in-place op computes its out-of-place result and writes it into the
tensor's own array, so every view and every `numpy()` of the tensor sees the
new values (PyTorch's shared storage).  When the write has to be recorded (grad
mode is on and a tensor involved requires grad), the tensor's old node is moved
to a snapshot and the tensor becomes the node of the op applied to it.

PyTorch's two safety rules hold:
- a leaf that requires grad may only be modified under `no_grad()` (which is
  how optimizers and `with no_grad(): p -= lr * p.grad` update parameters);
- every in-place op bumps the tensor's version counter; a graph node that used
  the tensor before the change refuses to run backward (deepgrad's rules may
  read any input, so every input counts as saved for backward).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..core.random import _gen
from ..core.state import STATE, no_grad
from ._base import Tensor, _wrap
from .cast import cast
from .shape import broadcast_to


def _live(t) -> bool:
    """True when `t` carries a derivative: recorded for reverse mode, or with tangents."""
    return isinstance(t, Tensor) and ((STATE.grad and t.requires_grad) or bool(t._tangents))


def _needs_record(self: Tensor, args) -> bool:
    return _live(self) or any(_live(a) for a in args)


def _write(self: Tensor, values: np.ndarray, name: str) -> None:
    """Copy `values` into `self.data`, with PyTorch's shape and casting rules."""
    if values.shape != self._data.shape:
        raise RuntimeError(
            f"{name}: the result has shape {values.shape}, which cannot be written into a "
            f"tensor of shape {self._data.shape} (an in-place op cannot change the shape)"
        )
    if not self._data.flags.writeable:
        raise RuntimeError(
            f"{name}: this tensor is a read-only (expanded or broadcast) view; call .clone() first"
        )
    try:
        np.copyto(self._data, values, casting="same_kind")
    except TypeError:
        raise RuntimeError(
            f"{name}: result type {values.dtype} can't be cast to the tensor's dtype "
            f"{self._data.dtype}"
        ) from None


def _snapshot(self: Tensor) -> Tensor:
    """A new tensor holding `self`'s current values and graph node (before a change)."""
    old = _wrap(self._data.copy())
    old.requires_grad = self.requires_grad
    old._prim, old._inputs, old._params = self._prim, self._inputs, self._params
    old._saved_versions = getattr(self, "_saved_versions", None)
    old._tangents = self._tangents
    old._version = getattr(self, "_version", 0)
    return old


_REDIRECT_LIMIT = 256  # graph nodes searched; a reference beyond it trips the version check


def _redirect(args, self: Tensor, old: Tensor) -> None:
    """Point nodes recorded before the change (reachable from `args`) at the snapshot.

    `x[i] += v` runs `t = x[i]; t += v; x[i] = t`: the value written refers to x's
    old contents through a getitem node, which must now read `old`, not the new x.
    Only the nodes the arguments reach are searched (at most `_REDIRECT_LIMIT`);
    any other node still referring to `self` fails the version check in backward.
    """
    stack = [a for a in args if isinstance(a, Tensor) and a._inputs]
    seen: set[int] = set()
    while stack and len(seen) < _REDIRECT_LIMIT:
        t = stack.pop()
        if id(t) in seen or not t._inputs:
            continue
        seen.add(id(t))
        if any(x is self for x in t._inputs):
            t._inputs = tuple(old if x is self else x for x in t._inputs)
        stack.extend(x for x in t._inputs if x._inputs and x is not old)


def inplace(self: Tensor, name: str, fn: Callable[..., Tensor], *args, **kwargs) -> Tensor:
    """Run `fn(self, *args, **kwargs)` and store the result in `self` (PyTorch's `op_`)."""
    if not isinstance(self, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(self).__name__}")
    if _needs_record(self, args):
        if STATE.grad and self.requires_grad and self._prim is None:
            raise RuntimeError(
                f"{name}: a leaf tensor that requires grad is being used in an in-place "
                "operation; do it under `with deepgrad.no_grad():` (as optimizers do) or "
                "use the out-of-place op"
            )
        if self._inputs and any(np.may_share_memory(self._data, x._data) for x in self._inputs):
            # a view of a graph tensor: write into own memory, so the base's recorded
            # values stay what its graph says they are (see the design notes)
            self._data = self._data.copy()
        old = _snapshot(self)
        args = tuple(old if a is self else a for a in args)  # x.add_(x)
        kwargs = {k: old if v is self else v for k, v in kwargs.items()}
        _redirect(args, self, old)
        res = fn(old, *args, **kwargs)
        _write(self, res._data, name)
        if STATE.grad:  # under no_grad the tensor keeps its node, as in PyTorch
            self._prim, self._inputs, self._params = res._prim, res._inputs, res._params
            self._saved_versions = getattr(res, "_saved_versions", None)
            self.requires_grad = res.requires_grad
        self._tangents = res._tangents
    else:
        with no_grad():
            res = fn(self, *args, **kwargs)
        _write(self, res._data, name)
    self._version = getattr(self, "_version", 0) + 1
    STATE.versioned = True
    return self


def restride_(self: Tensor, name: str, fn: Callable[..., Tensor], *args) -> Tensor:
    """A shape op in place (`unsqueeze_`, `t_`, ...): the tensor takes the result's shape.

    Outside a graph the new array is a view of the old memory; when recorded, the
    tensor becomes the node of `fn` applied to its snapshot.
    """
    if _needs_record(self, args):
        if STATE.grad and self.requires_grad and self._prim is None:
            raise RuntimeError(
                f"{name}: a leaf tensor that requires grad is being used in an in-place "
                "operation; use the out-of-place op"
            )
        res = fn(_snapshot(self), *args)
        if STATE.grad:
            self._prim, self._inputs, self._params = res._prim, res._inputs, res._params
            self._saved_versions = getattr(res, "_saved_versions", None)
        self._tangents = res._tangents
    else:
        with no_grad():
            res = fn(self, *args)
    self._data = res._data
    self._version = getattr(self, "_version", 0) + 1
    STATE.versioned = True
    return self


def fill_(self: Tensor, value) -> Tensor:
    """$x_i \\leftarrow v$ for every element, in place."""
    v = value._data if isinstance(value, Tensor) else value
    if np.ndim(v) != 0:
        raise RuntimeError(
            f"fill_: value must be a number or a 0-d tensor, got shape {np.shape(v)}"
        )
    return inplace(self, "fill_", lambda s: s * 0 + v if s.requires_grad else _full(s, v))


def _full(s: Tensor, v) -> Tensor:
    return _wrap(np.full(s._data.shape, v, dtype=s._data.dtype))


def zero_(self: Tensor) -> Tensor:
    """$x_i \\leftarrow 0$, in place."""
    return fill_(self, 0)


def copy_(self: Tensor, src) -> Tensor:
    """$x \\leftarrow src$ (broadcast to x's shape, cast to x's dtype), in place."""

    src = src if isinstance(src, Tensor) else Tensor(np.asarray(src))
    return inplace(self, "copy_", lambda s, o: broadcast_to(cast(o, s._data.dtype), s.shape), src)


def _sample_(self: Tensor, name: str, draw: Callable, generator) -> Tensor:
    if self._data.dtype.kind != "f":
        raise RuntimeError(
            f"{name}: expected a floating-point tensor, got dtype {self._data.dtype}"
        )
    values = draw(_gen(generator), self._data.shape)
    return inplace(self, name, lambda s: _wrap(values.astype(s._data.dtype)))


def normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
    """$x_i \\sim N(mean, std^2)$, in place."""
    if std < 0:
        raise RuntimeError(f"normal_: std must be >= 0, got {std}")
    return _sample_(self, "normal_", lambda g, sh: g.normal(mean, std, sh), generator)


def uniform_(self: Tensor, a: float = 0.0, b: float = 1.0, *, generator=None) -> Tensor:
    """$x_i \\sim U[a, b)$, in place."""
    if b < a:
        raise RuntimeError(f"uniform_: need from <= to, got {a} and {b}")
    return _sample_(self, "uniform_", lambda g, sh: g.uniform(a, b, sh), generator)


def bernoulli_(self: Tensor, p: float = 0.5, *, generator=None) -> Tensor:
    """$x_i \\sim Bernoulli(p)$, in place."""
    if not 0 <= p <= 1:
        raise RuntimeError(f"bernoulli_: p must be in [0, 1], got {p}")
    return _sample_(self, "bernoulli_", lambda g, sh: (g.random(sh) < p).astype(float), generator)

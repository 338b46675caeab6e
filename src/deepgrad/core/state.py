"""Process-wide autodiff state: grad mode, forward-mode levels, anomaly mode.

One small object so the hot path pays one attribute lookup per check.  The
state is global (not thread-local): deepgrad's background threads (the data
loader's prefetcher) never record graphs.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator

import numpy as np


class _State:
    __slots__ = (
        "anomaly",
        "anomaly_ctx",
        "batch",
        "cutoff",
        "default_float",
        "fwd",
        "grad",
        "levels",
        "next_level",
        "tracer",
        "versioned",
    )

    def __init__(self) -> None:
        self.grad = True  # record graphs for reverse mode
        # > 0 while something needs every op to take `apply`'s general path: forward-mode
        # levels, vmap levels, an op tracer, anomaly mode.  The one flag the hot paths check.
        self.fwd = 0
        self.levels: set[int] = set()  # active forward-mode levels
        self.cutoff = 1 << 62  # levels >= cutoff are hidden while a JVP rule runs
        self.anomaly = False
        # vmap's dispatch `batch(prim, inputs, params)` while a vmap runs, else None: core/
        # batching.py installs it on entering a vmap level, and `apply` hands calls to it
        self.batch = None
        self.anomaly_ctx: tuple[str, str | None] | None = None  # (op, site) during backward
        self.next_level = 1
        self.default_float = np.dtype(np.float32)
        self.tracer = None  # callback(res, prim, inputs, params) inside trace_ops()
        # Set by the first in-place op: from then on recorded nodes keep their inputs'
        # version counters, and the reverse sweep checks them (zero cost until then).
        self.versioned = False


STATE = _State()


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Disable graph recording inside the block (forward-mode tangents still flow).

    >>> import deepgrad as dg
    >>> x = dg.ones(2, requires_grad=True)
    >>> with dg.no_grad():
    ...     y = x * 2
    >>> y.requires_grad
    False
    """
    old = STATE.grad
    STATE.grad = False
    try:
        yield
    finally:
        STATE.grad = old


@contextlib.contextmanager
def inference_mode(mode: bool = True) -> Iterator[None]:
    """PyTorch's `inference_mode`: `no_grad` (with `mode=False`, nothing changes).

    deepgrad has no separate inference tensors, so this is exactly `no_grad()`;
    like it, it also works as a decorator (`@dg.inference_mode()`).
    """
    old = STATE.grad
    STATE.grad = old and not mode
    try:
        yield
    finally:
        STATE.grad = old


@contextlib.contextmanager
def enable_grad() -> Iterator[None]:
    """Re-enable graph recording inside a `no_grad` block."""
    old = STATE.grad
    STATE.grad = True
    try:
        yield
    finally:
        STATE.grad = old


@contextlib.contextmanager
def set_grad_enabled(mode: bool) -> Iterator[None]:
    """Set graph recording on or off inside the block."""
    old = STATE.grad
    STATE.grad = bool(mode)
    try:
        yield
    finally:
        STATE.grad = old


def is_grad_enabled() -> bool:
    """True when operations are being recorded for reverse mode."""
    return STATE.grad


@contextlib.contextmanager
def detect_anomaly() -> Iterator[None]:
    """Raise at the first op whose forward or backward result holds NaN or Inf.

    Inside the block every op remembers where the user created it, and the
    error names the op and that source line.  It costs a stack walk per op,
    so use it for debugging only.
    """
    old = STATE.anomaly
    STATE.anomaly = True
    STATE.fwd += 1  # every op takes the general path, where the checks are
    try:
        yield
    finally:
        STATE.fwd -= 1
        STATE.anomaly = old


@contextlib.contextmanager
def trace_ops(callback) -> Iterator[None]:
    """Call `callback(result, primitive, inputs, params)` after every primitive applied inside.

    Exporters (ONNX) record a forward pass with it.  It also raises the forward-mode
    counter, the flag the ops' hot paths check, so every op goes through `apply`
    and is seen (no tangents exist, so forward mode itself does nothing extra).
    """
    old = STATE.tracer
    STATE.tracer = callback
    STATE.fwd += 1
    try:
        yield
    finally:
        STATE.fwd -= 1
        STATE.tracer = old


def host_call(fn: Callable | None = None, *, pure: bool = False) -> Callable:
    """Mark `fn` as a host call: NumPy work outside the primitives that a tracer may replay.

    Outside a trace it is `fn` itself plus one attribute lookup.  Inside one whose tracer
    has a `host(fn, args, kwargs)` method (`deepgrad.compile`), the call goes to that
    method, which runs it and records it, so a replay calls `fn` again on that step's
    values (optimizer updates, running statistics, dropout's random draws).  `pure=True`:
    no side effects, the result depends on the arguments only (a check of the targets).
    """
    if fn is None:
        return functools.partial(host_call, pure=pure)
    fn._host_pure = pure

    @functools.wraps(fn)
    def call(*args, **kwargs):
        hook = getattr(STATE.tracer, "host", None)
        if hook is None:
            return fn(*args, **kwargs)
        return hook(fn, args, kwargs)

    return call


def set_default_dtype(dtype) -> None:
    """Set the float dtype used when creating tensors from Python floats (float32 by default)."""
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"set_default_dtype: expected a float dtype, got {dt}")
    STATE.default_float = dt


def get_default_dtype() -> np.dtype:
    """The float dtype used for tensors created from Python floats."""
    return STATE.default_float

"""The tracer: one eager run of a step, written down as `Call`s over numbered values.

It is installed with `core.state.trace_ops`, so every primitive applied calls it with
(result, primitive, inputs, params).  It also answers the two hooks the core offers
tracers: `host(fn, args, kwargs)` for host calls (optimizer steps, running statistics,
dropout's draws: run now, replayed later) and `backward(...)` (the reverse sweep,
recorded by `sweep.record_backward`).

Every object it meets gets a reference: a value computed in the step (`Slot`), a
parameter (a leaf that requires grad: `Const` bound to its array, guarded), or anything
else made outside the primitives (`Const`, compared between two traces).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ..core.state import STATE
from ..core.tensor import Tensor
from .checks import Checked
from .ir import Call, Const, Pack, Ref, Slot, Wrap

# host results that later calls may receive by identity (not ints: small ints are shared)
_LINKABLE = (np.ndarray, float, np.floating)


class Recorder:
    """Collects the calls of one traced step; see the module docstring."""

    def __init__(self, inputs: list[Tensor]) -> None:
        self.calls: list[Call] = []
        self.count = 0
        self.keep: list[Any] = []  # every object seen stays alive, so ids stay unique
        self.by_tensor: dict[int, int] = {}
        self.by_array: dict[int, int] = {}
        self.by_object: dict[int, int] = {}  # host results (floats, arrays) by identity
        self.params: dict[int, tuple[Tensor, np.ndarray, bool]] = {}  # id -> guard entry
        self.versions: list[tuple[Tensor, int]] = []  # tensors seen, with their version
        self.reason: str | None = None  # why this step cannot be replayed
        self.values: dict[int, Any] = {}  # value number -> what it was in this trace
        self.inputs = [self.new_value(x) for x in inputs]
        self.rule_depth = 0  # > 0 while a VJP rule runs inside the recorded sweep
        self.impure = False  # a rule read something made outside the primitives
        self.modules: dict[int, tuple[Any, bool]] = {}  # modules called, with training
        self.outputs: list[Ref] = []  # the step's results (set by trace.run_traced)
        self.structure = "none"
        # leaf id -> (leaf, its .grad as last set by a host call or the backward): a
        # change seen anywhere else was made by Python code, which no replay runs
        self.grads: dict[int, tuple[Tensor, Any]] = {}
        self.leaves: list[Tensor] = []  # the leaves the backward gave gradients to

    # -- values ---------------------------------------------------------------
    def new_value(self, obj: Any) -> int:
        k = self.count
        self.count += 1
        self.keep.append(obj)
        self.values[k] = obj._data if isinstance(obj, Tensor) else obj
        if isinstance(obj, Tensor):
            self.by_tensor[id(obj)] = k
            self.by_array[id(obj._data)] = k
            self.versions.append((obj, getattr(obj, "_version", 0)))
        elif isinstance(obj, np.ndarray):
            self.by_array[id(obj)] = k
        if isinstance(obj, _LINKABLE):
            self.by_object[id(obj)] = k
        return k

    def fail(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason

    def ref(self, obj: Any, as_tensor: bool = False) -> Ref:
        """The reference for an argument of a recorded call."""
        if isinstance(obj, Tensor):
            k = self.by_tensor.get(id(obj), self.by_array.get(id(obj._data)))
            if k is None:
                k = self.view(obj._data)
            if k is not None:
                return Wrap(k, bool(obj.requires_grad)) if as_tensor else Slot(k)
            self.keep.append(obj)
            self.versions.append((obj, getattr(obj, "_version", 0)))
            # a parameter or buffer (or a constant): bound by identity, and guarded at
            # each call (same array, same requires_grad flag: freezing re-traces)
            self.params[id(obj)] = (obj, obj._data, obj.requires_grad)
            if not obj.requires_grad:
                self.foreign(obj._data)
            return Const(obj if as_tensor else obj._data)
        if isinstance(obj, np.ndarray):
            k = self.by_array.get(id(obj))
            if k is None:
                k = self.view(obj)
            if k is not None:
                return Slot(k)
            self.keep.append(obj)
            self.foreign(obj)
            return Const(obj)
        k = self.by_object.get(id(obj))  # a host result or a forward's saved intermediate
        if k is not None:
            return Slot(k)
        if type(obj) in (tuple, list) and obj:  # an index (idx, ...) holding an input
            items = tuple(self.ref(o, as_tensor) for o in obj)
            if not all(isinstance(r, Const) for r in items):
                return Pack(items, type(obj))
        return Const(obj)

    def view(self, arr: np.ndarray) -> int | None:
        """A view of a value made outside the primitives (`y.data.reshape(-1)`), recorded
        as that view of the value; None when `arr` is no view of one."""
        base = arr.base
        k = None if base is None else self.by_array.get(id(base))
        if k is None or not isinstance(base, np.ndarray) or base.dtype != arr.dtype:
            return None
        if _address(arr) != _address(base):
            return None
        if arr.flags.c_contiguous and base.flags.c_contiguous and arr.size == base.size:
            fn, args = np.reshape, (Slot(k), Const(arr.shape))
        else:
            fn, args = _strided, (Slot(k), Const(arr.shape), Const(arr.strides))
        out = self.new_value(arr)
        self.calls.append(Call(fn, args, {}, out, "view"))
        return out

    def foreign(self, arr: np.ndarray) -> None:
        """An array made outside the primitives.  Inside a rule, one with elements (relu's
        mask `ans > 0`) is recomputed by running the whole rule at replay; a 0-d one (a
        Python number: `1 - s`) is bound like any constant and compared between traces."""
        if self.rule_depth and arr.ndim:
            self.impure = True

    def params_refs(self, params: dict[str, Any]) -> dict[str, Ref]:
        return {name: self.ref(v) for name, v in params.items()}

    # -- the hooks the core calls ----------------------------------------------
    def __call__(self, res: Tensor, prim, inputs, params) -> None:
        """One primitive applied: `res = prim(*inputs, **params)`."""
        args = tuple(self.ref(x) for x in inputs)
        if prim.saves:  # its own intermediate: an output of the call, not an input
            saved = params.get("saved")
            kwargs = self.params_refs({k: v for k, v in params.items() if k != "saved"})
        else:
            kwargs = self.params_refs(params)
        if prim.saves:
            kwargs["save"] = Const(saved is not None)
            out: int | tuple[int, ...] = (self.new_value(res), self.new_value(saved))
            if saved is not None:  # whatever it is (conv keeps a tuple), rules get it
                self.by_object[id(saved)] = out[1]
        else:
            out = self.new_value(res)
        call = Call(prim.forward, args, kwargs, out, prim.name)
        call.as_array = not prim.saves and res._data.ndim == 0  # NumPy may return a scalar
        self.calls.append(call)

    def host(self, fn, args: tuple, kwargs: dict) -> Any:
        """A host call: run it untraced now, and record it to run again at each replay.

        An iterator argument (`model.parameters()`) is read into a list first, so each
        replay sees every item again."""
        args = tuple(list(a) if isinstance(a, Iterator) else a for a in args)
        kwargs = {k: list(v) if isinstance(v, Iterator) else v for k, v in kwargs.items()}
        refs = tuple(self.ref(a, as_tensor=True) for a in args)
        krefs = {k: self.ref(v, as_tensor=True) for k, v in kwargs.items()}
        self.check_grads()
        old = STATE.tracer
        STATE.tracer = None
        try:
            result = fn(*args, **kwargs)
        finally:
            STATE.tracer = old
        self.grads = {k: (t, t.grad) for k, (t, _) in self.grads.items()}  # its changes
        if isinstance(result, tuple):  # each item its own value (`t, valid = ...`)
            out: int | tuple[int, ...] = tuple(self.new_value(r) for r in result)
        else:
            out = self.new_value(result)
        pure = getattr(fn, "_host_pure", False)
        call = Call(Checked(fn, result) if pure else fn, refs, krefs, out, _name(fn), pure)
        call.tensor_out = isinstance(result, Tensor)  # clip_grad_norm_ returns the norm
        self.calls.append(call)
        return result

    def backward(self, roots, grads, retain_graph, create_graph) -> None:
        from .sweep import record_backward

        record_backward(self, list(roots), grads, retain_graph, create_graph)

    def watch_grads(self, leaves: list[Tensor]) -> None:
        """Watch the `.grad` of these leaves (those an earlier trace gave gradients to)."""
        for t in leaves:
            self.grads[id(t)] = (t, t.grad)

    def check_grads(self) -> None:
        """Fail if a watched `.grad` changed since a host call or the backward set it."""
        if any(t.grad is not g for t, g in self.grads.values()):
            self.fail(_GRAD_SET)

    # -- after the step -------------------------------------------------------------
    def check_versions(self) -> None:
        """An in-place op changed a tensor the trace holds: its writes are not replayed."""
        for t, v in self.versions:
            if getattr(t, "_version", 0) != v:
                self.fail(
                    f"an in-place operation changed a tensor of shape {t.shape} during the "
                    "step (in-place tensor ops are not recorded; use out-of-place ops)"
                )
                return


_GRAD_SET = (
    "the step sets .grad in Python (x.grad = None): only zero_grad() (a host call) is replayed"
)


def _address(arr: np.ndarray) -> int:
    return arr.__array_interface__["data"][0]


def _strided(base: np.ndarray, shape: tuple, strides: tuple) -> np.ndarray:
    """The view of `base` with this shape and these strides (inputs' strides are guarded)."""
    return np.lib.stride_tricks.as_strided(base, shape, strides, writeable=False)


def _name(fn) -> str:
    return getattr(fn, "__qualname__", getattr(fn, "__name__", repr(fn)))

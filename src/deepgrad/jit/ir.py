"""The compiled step's program: calls over numbered values, turned into one Python function.

A traced step is a flat list of `Call`s.  Each argument is a `Ref`: a value computed
earlier in the step (`Slot`), the same value handed to a rule as a tensor (`Wrap`),
or an object bound once at trace time (`Const`: a parameter's array, a static
param, the optimizer).  `generate` writes the list out as straight-line Python
(`v3 = f2(v0, c1, axis=c4)`), with `del` after each value's last use so NumPy's
memory goes back to malloc as soon as a buffer is dead, and compiles it with
`exec`: a replay is one function call, with no Tensor objects, no graph and no
dispatch or validation per op.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.tensor import Tensor, _wrap


@dataclass(frozen=True)
class Slot:
    """A value computed earlier in the step (an ndarray or a host call's result)."""

    k: int


@dataclass(frozen=True)
class Wrap:
    """Value k as a fresh Tensor (for rules and host calls that take tensors), flagged
    `requires_grad` when the traced tensor was (rules may skip gradients by that flag)."""

    k: int
    grad: bool = False


@dataclass(frozen=True, eq=False)
class Const:
    """An object bound at trace time (compared by value between two traces)."""

    obj: Any


@dataclass(frozen=True, eq=False)
class Pack:
    """A tuple or list holding values (an index `(idx,)` whose array is an input)."""

    items: tuple
    kind: type


Ref = Slot | Wrap | Const | Pack


def leaves(ref: Ref):
    """The Slot, Wrap and Const references inside `ref` (itself unless a Pack)."""
    if isinstance(ref, Pack):
        for item in ref.items:
            yield from leaves(item)
    else:
        yield ref


@dataclass
class Call:
    """`outs = fn(*args, **kwargs)`; `pure` calls may be dropped when nothing reads them.

    `outs` is one value number, a tuple of them (the call returns a tuple), or None.
    `tensor_out`: the call returns a Tensor whose array is the value (a VJP rule).
    """

    fn: Callable
    args: tuple[Ref, ...]
    kwargs: dict[str, Ref]
    outs: int | tuple[int, ...] | None
    label: str
    pure: bool = True
    tensor_out: bool = False
    as_array: bool = False  # wrap the result in np.asarray (0-d results may be scalars)

    def out_list(self) -> tuple[int, ...]:
        if self.outs is None:
            return ()
        return self.outs if isinstance(self.outs, tuple) else (self.outs,)

    def refs(self) -> list[Ref]:
        """Every reference the call reads, Packs opened."""
        return [leaf for r in (*self.args, *self.kwargs.values()) for leaf in leaves(r)]


def live_calls(calls: list[Call], outputs: list[Ref]) -> list[Call]:
    """Drop pure calls whose results nothing reads (dead code: a metric never returned)."""
    needed = {r.k for r in outputs if not isinstance(r, Const)}
    kept: list[Call] = []
    for call in reversed(calls):
        if call.pure and not any(k in needed for k in call.out_list()):
            continue
        kept.append(call)
        needed.update(r.k for r in call.refs() if not isinstance(r, Const))
    kept.reverse()
    return kept


def _wrap_needing_grad(a: np.ndarray) -> Tensor:
    """A fresh tensor flagged requires_grad (no graph is recorded while rules replay)."""
    t = _wrap(a)
    t.requires_grad = True
    return t


def generate(calls: list[Call], inputs: list[int], outputs: list[Ref]) -> Callable:
    """Compile `calls` into `replay(*input_arrays) -> tuple of output values`."""
    ns: dict[str, Any] = {"W": _wrap, "WG": _wrap_needing_grad, "A": np.asarray}
    consts: dict[int, str] = {}

    def name(ref: Ref) -> str:
        if isinstance(ref, Slot):
            return f"v{ref.k}"
        if isinstance(ref, Wrap):
            return f"{'WG' if ref.grad else 'W'}(v{ref.k})"
        if isinstance(ref, Pack):
            inner = "".join(name(r) + ", " for r in ref.items)
            return f"({inner})" if ref.kind is tuple else f"[{inner}]"
        key = id(ref.obj)
        if key not in consts:
            consts[key] = f"c{len(consts)}"
            ns[consts[key]] = ref.obj
        return consts[key]

    last = last_uses(calls, outputs)
    lines = [f"def replay({', '.join(f'v{k}' for k in inputs)}):"]
    for i, call in enumerate(calls):
        fn = f"f{i}"
        ns[fn] = call.fn
        args = [name(a) for a in call.args] + [f"{k}={name(v)}" for k, v in call.kwargs.items()]
        expr = f"{fn}({', '.join(args)})" + ("._data" if call.tensor_out else "")
        if call.as_array:
            expr = f"A({expr})"
        outs = call.out_list()
        if isinstance(call.outs, tuple):
            line = ", ".join(f"v{k}" for k in outs) + f", = {expr}"
        elif outs:
            line = f"v{outs[0]} = {expr}"
        else:
            line = expr
        lines.append(f"    {line}  # {call.label}")
        dead = [k for k, at in last.items() if at == i]
        if dead:
            lines.append(f"    del {', '.join(f'v{k}' for k in sorted(dead))}")
    lines.append(f"    return ({''.join(name(r) + ', ' for r in outputs)})")
    source = "\n".join(lines)
    exec(compile(source, "<deepgrad.compile>", "exec"), ns)  # noqa: S102 - our own source
    replay = ns["replay"]
    replay.source = source
    return replay


def last_uses(calls: list[Call], outputs: list[Ref]) -> dict[int, int]:
    """value -> index of the call after which it is dead (values returned stay alive)."""
    keep = {r.k for r in outputs if not isinstance(r, Const)}
    last: dict[int, int] = {}
    for i, call in enumerate(calls):
        for r in call.refs():
            if not isinstance(r, Const):
                last[r.k] = i
        for k in call.out_list():
            last.setdefault(k, i)  # a result nothing reads dies where it is made
    return {k: i for k, i in last.items() if k not in keep}


def same(a: Any, b: Any) -> bool:
    """Equality for trace comparison: arrays by dtype, shape and values; else == or identity."""
    if a is b:
        return True
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
        )
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        return a.requires_grad == b.requires_grad and same(a._data, b._data)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if type(a) is not type(b):
        return False
    if isinstance(a, slice):
        return same(a.start, b.start) and same(a.stop, b.stop) and same(a.step, b.step)
    if isinstance(a, (int, float, str, bool, complex, np.generic, np.dtype, range, type(None))):
        return bool(a == b)
    return False  # other objects: only the very same one


def same_ref(a: Ref, b: Ref) -> bool:
    if isinstance(a, Const) and isinstance(b, Const):
        return same(a.obj, b.obj)
    if isinstance(a, Pack) and isinstance(b, Pack):
        return (
            a.kind is b.kind
            and len(a.items) == len(b.items)
            and all(map(same_ref, a.items, b.items))
        )
    return a == b


def _same_fn(f: Callable, g: Callable) -> bool:
    """The same function, or the same method of objects equal between traces."""
    if hasattr(f, "__func__") and hasattr(g, "__func__"):
        return f.__func__ is g.__func__ and f.__self__ == g.__self__
    return f == g


def first_difference(one: list[Call], two: list[Call]) -> str | None:
    """Where two traces of the same step differ (None: the same program)."""
    for i, (a, b) in enumerate(zip(one, two)):
        if not _same_fn(a.fn, b.fn) or a.outs != b.outs or a.tensor_out != b.tensor_out:
            return f"call {i} is {a.label!r} in the first trace but {b.label!r} in the second"
        if len(a.args) != len(b.args) or a.kwargs.keys() != b.kwargs.keys():
            return f"call {i} ({a.label}) takes different arguments in the two traces"
        pairs = [*zip(a.args, b.args), *((a.kwargs[k], b.kwargs[k]) for k in a.kwargs)]
        for j, (x, y) in enumerate(pairs):
            if not same_ref(x, y):
                what = "an array" if isinstance(getattr(x, "obj", None), np.ndarray) else "a value"
                return (
                    f"call {i} ({a.label}) reads {what} made outside the traced primitives "
                    f"(argument {j}) that changed between two calls: values read back with "
                    "NumPy or random numbers drawn outside a host call cannot be replayed"
                )
    if len(one) != len(two):
        return f"the first trace has {len(one)} calls and the second {len(two)}"
    return None

"""Elementwise calls that write into a dead input's buffer: NumPy ufuncs with `out=`.

A chain such as `mul(add(a, b), c)` allocates a fresh array at each link.  When an
input of an elementwise call is dead after it (no later call reads it or any view
of its memory), has the result's shape, dtype and memory layout (a later sum runs
in memory order, so the layout is part of the bits), and its buffer belongs to this
step alone (made by a kernel of this replay: not an input, a parameter, a host
call's result, a `.grad` handed out, or memory a forward kept for its rules), the
call becomes `ufunc(a, b, out=a)`: the same ufunc on the same operands, so the same
bits, without a new buffer.  The memory each step touches shrinks with it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.primitive import REGISTRY
from .ir import Call, Const, Ref, Slot, last_uses
from .sweep import _add


def _ufuncs() -> dict[Any, np.ufunc]:
    """Forwards that are exactly one ufunc of their operands (`a + b` is np.add)."""
    table = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide}
    table |= {"neg": np.negative, "exp": np.exp, "log": np.log, "sqrt": np.sqrt}
    table |= {"tanh": np.tanh, "abs": np.absolute}
    found = {REGISTRY[name].forward: uf for name, uf in table.items() if name in REGISTRY}
    found[_add] = np.add  # the sweep's cotangent sums
    return found


def _root(arr: np.ndarray) -> int:
    """The object that owns an array's memory.  `.base` is followed all the way, through
    non-ndarray holders too (`as_strided` views hang from a `DummyArray` whose `.base`
    is the array they view), so every view of one buffer has the same root."""
    owner: object = arr
    while (base := getattr(owner, "base", None)) is not None:
        owner = base
    return id(owner)


def _escaped_roots(calls: list[Call], values: dict[int, Any], keep: set[int]) -> set[int]:
    """Memory that lives beyond the replay or outside its kernels: never written into."""
    roots: set[int] = set()

    def mark(obj: Any) -> None:
        if isinstance(obj, np.ndarray):
            roots.add(_root(obj))
            roots.add(id(obj))
        elif isinstance(obj, (tuple, list)):
            for o in obj:
                mark(o)
        elif isinstance(obj, dict):
            for o in obj.values():
                mark(o)

    for k in keep:
        mark(values.get(k))
    for call in calls:
        if not call.pure:  # host calls and .grad: their arguments and results escape
            for r in call.refs():
                if not isinstance(r, Const):
                    mark(values.get(r.k))
            for k in call.out_list():
                mark(values.get(k))
        elif isinstance(call.outs, tuple):  # a forward's saved intermediate
            for k in call.outs[1:]:
                mark(values.get(k))
    return roots


def reuse_buffers(calls: list[Call], values: dict[int, Any], keep: set[int]) -> int:
    """Rewrite eligible elementwise calls to write in place; returns how many."""
    ufuncs = _ufuncs()
    escaped = _escaped_roots(calls, values, keep)
    last = last_uses(calls, [Slot(k) for k in keep])
    group_last: dict[int, int] = {}
    for k, arr in values.items():
        if isinstance(arr, np.ndarray):
            g = _root(arr)
            group_last[g] = max(group_last.get(g, -1), last.get(k, 1 << 30))
    done = 0
    for i, call in enumerate(calls):
        uf = ufuncs.get(call.fn) if call.pure and not call.kwargs else None
        out = values.get(call.outs) if isinstance(call.outs, int) else None
        if uf is None or not isinstance(out, np.ndarray) or call.as_array:
            continue
        for ref in call.args:
            if _reusable(ref, values, out, escaped, group_last, i):
                call.fn = uf
                call.kwargs = {"out": ref}
                call.label += " (in place)"
                done += 1
                break
    return done


def _reusable(ref: Ref, values, out: np.ndarray, escaped, group_last, i: int) -> bool:
    if not isinstance(ref, Slot):
        return False
    arr = values.get(ref.k)
    return (
        isinstance(arr, np.ndarray)
        and arr.base is None
        and arr.flags.writeable
        and arr.shape == out.shape
        and arr.dtype == out.dtype
        and arr.strides == out.strides  # the layout the result had: reductions follow it
        and id(arr) not in escaped
        and group_last.get(id(arr)) == i
    )

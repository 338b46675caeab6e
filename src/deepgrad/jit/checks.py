"""Checks of values a step branches on, run first in each replay.

A host call declared `pure` (`@host_call(pure=True)`: no side effects, a result that
depends on its arguments only) decides something from the data: `_class_targets`
validates class indices and returns `(t, None)`, or `(t, mask)` when some targets are
`ignore_index`, and the loss takes a different path for each.  A replay calls it
again on the new data (so out-of-range targets still raise) and checks that its
results are of the kinds the trace saw (None, an array of that shape and dtype, that
int or bool).  `hoist` moves these calls, with the views of the inputs they read, to
the start of the replay: a result of another kind then raises `Retrace` before
anything has changed, and the step traces that call again instead of replaying it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .ir import Call, Const


class Retrace(Exception):
    """A checked result differs from the trace: run this call eagerly (and trace it)."""


def kind(obj: Any) -> Any:
    """What a replay must see again: None, an array's shape and dtype, an int or bool."""
    if obj is None:
        return None
    if isinstance(obj, np.ndarray):
        return ("array", obj.shape, obj.dtype.str)
    if isinstance(obj, (bool, int, str, np.bool_, np.integer)):
        return ("value", obj)
    return ("object", type(obj).__name__)


class Checked:
    """A pure host call whose results must keep the kinds they had when traced."""

    def __init__(self, fn: Callable, result: Any) -> None:
        self.fn = fn
        self.kinds = _kinds(result)
        self.hoisted = False
        self.name = getattr(fn, "__qualname__", repr(fn))

    def __eq__(self, other: object) -> bool:  # the same call in two traces
        return type(other) is Checked and other.fn is self.fn and other.kinds == self.kinds

    __hash__ = object.__hash__

    def __call__(self, *args, **kwargs):
        out = self.fn(*args, **kwargs)
        if _kinds(out) != self.kinds:
            why = f"{self.name} returned {_kinds(out)} where the trace saw {self.kinds}"
            if self.hoisted:
                raise Retrace(why)
            raise RuntimeError(
                f"deepgrad.compile: {why}, after the step had changed state; run this "
                "step eagerly (do not compile it) or call .reset()"
            )
        return out


def _kinds(result: Any) -> Any:
    return tuple(kind(r) for r in result) if isinstance(result, tuple) else kind(result)


def hoist(calls: list[Call], inputs: list[int]) -> list[Call]:
    """Checked calls that read only the inputs (and views of them) go first."""
    early = set(inputs)
    front: list[Call] = []
    back: list[Call] = []
    for call in calls:
        deps = {r.k for r in call.refs() if not isinstance(r, Const)}
        checked = isinstance(call.fn, Checked)
        if (checked or (call.pure and call.label == "view")) and deps <= early:
            front.append(call)
            early.update(call.out_list())
            if checked:
                call.fn.hoisted = True
        else:
            back.append(call)
    return front + back


def took_another_path(one: list[Call], two: list[Call]) -> bool:
    """True when two traces first part at a check that saw other kinds of results."""
    for a, b in zip(one, two):
        if a.fn == b.fn:
            continue
        return isinstance(a.fn, Checked) and isinstance(b.fn, Checked) and a.fn.fn is b.fn.fn
    return False

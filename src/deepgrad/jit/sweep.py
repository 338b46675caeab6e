"""`Tensor.backward()` inside a traced step: the reverse sweep, recorded as calls.

It is the core's sweep (`core/autodiff.py`) step for step, so the gradients are
bitwise the eager ones: the same topological order, each input's cotangent pushed
in the same order, sums on the arrays (`np.add`), then every leaf's `.grad`.

Each VJP rule runs once, with the tracer on, so the ops it applies become calls of
the replay.  A rule that reads something made outside the primitives (relu's mask
`ans > 0`, a constant from a Python number) cannot be replayed op by op; it is
recorded whole instead (`RuleCall`: the rule runs on that step's arrays at replay).
"""

from __future__ import annotations

import sys

import numpy as np

from ..core import autodiff
from ..core.autodiff import _copy_like, _same_layout
from ..core.state import STATE
from ..core.tensor import Tensor, _wrap
from .ir import Call, Slot
from .kernels import ARRAY_VJPS


class RuleCall:
    """VJP rule i of a primitive, run on tensors without recording a graph."""

    def __init__(self, rule, with_ans: bool) -> None:
        self.rule = rule
        self.with_ans = with_ans

    def __eq__(self, other: object) -> bool:  # the same call in two traces
        return type(other) is RuleCall and other.rule is self.rule

    __hash__ = object.__hash__

    def __call__(self, g, ans, *inputs, **params):
        old = STATE.grad
        STATE.grad = False
        try:
            if self.with_ans:
                return self.rule(g, ans, *inputs, **params)
            return self.rule(g, *inputs, **params)
        finally:
            STATE.grad = old


class Handed:
    """The arrays one backward has handed out as `.grad` (a second leaf gets a copy)."""

    def __init__(self) -> None:
        self.seen: set[int] = set()

    def seed(self, root: np.ndarray) -> np.ndarray:
        """dL/dL = 1, the sweep's start; it also starts a new backward."""
        ones = np.ones_like(root)
        self.seen = {id(ones)}
        return ones

    def another_seed(self, root: np.ndarray) -> np.ndarray:
        """The seed of a second root of the same backward."""
        ones = np.ones_like(root)
        self.seen.add(id(ones))
        return ones

    def __eq__(self, other: object) -> bool:  # the same call in two traces
        return type(other) is Handed

    __hash__ = object.__hash__


class GradAssign:
    """`leaf.grad` from its cotangent, exactly as `autodiff.backward` sets it.

    The array itself when it owns its memory in the leaf's layout and no other leaf got
    it; else a copy in the leaf's layout, into a buffer reused from the previous step
    when nothing else holds it.  Accumulates (`leaf.grad + g`) when `.grad` was kept.
    """

    def __init__(self, leaf: Tensor, handed: Handed) -> None:
        self.leaf = leaf
        self.handed = handed
        self.buf: np.ndarray | None = None

    def __eq__(self, other: object) -> bool:  # the same call in two traces
        return type(other) is GradAssign and other.leaf is self.leaf

    __hash__ = object.__hash__

    def __call__(self, g: np.ndarray) -> None:
        leaf = self.leaf
        seen = self.handed.seen
        if (
            g.base is not None
            or id(g) in seen
            or not g.flags.writeable
            or not _same_layout(g, leaf._data)
        ):
            g = self._copy(g)
        seen.add(id(g))
        if g.dtype != leaf._data.dtype:
            g = g.astype(leaf._data.dtype)
        leaf.grad = _wrap(g) if leaf.grad is None else leaf.grad + _wrap(g)

    def _copy(self, g: np.ndarray) -> np.ndarray:
        like = self.leaf._data
        buf = self.buf
        # 2 references: the attribute and getrefcount's argument (no .grad, no view holds it)
        if (
            buf is None
            or sys.getrefcount(buf) > 2
            or buf.shape != g.shape
            or buf.dtype != g.dtype
            or not _same_layout(buf, like)
        ):
            buf = self.buf = _copy_like(g, like)
        else:
            np.copyto(buf, g)
        return buf


def _eager(roots, grads, retain_graph, create_graph) -> None:
    old = STATE.tracer
    STATE.tracer = None
    try:
        autodiff.backward(roots, grads, retain_graph, create_graph)
    finally:
        STATE.tracer = old


def _unsupported(rec, roots, grads, create_graph) -> str | None:
    if create_graph:
        return "backward(create_graph=True) (higher-order gradients) is not compiled"
    if grads is not None:
        return "backward(gradient=...) with an explicit cotangent is not compiled"
    for r in roots:
        if not r.requires_grad or r._data.size != 1:
            return "backward() on a tensor that does not require grad or has several elements"
        if id(r) not in rec.by_tensor:
            return "backward() on a tensor that was not computed inside the step"
    return None


def record_backward(rec, roots: list[Tensor], grads, retain_graph, create_graph) -> None:
    """Run the reverse sweep of `roots` now and record it (see the module docstring)."""
    reason = _unsupported(rec, roots, grads, create_graph)
    order = autodiff._toposort(roots, None) if reason is None else []
    for t in order:
        if t._prim is not None and id(t) not in rec.by_tensor:
            reason = "backward() reaches a graph recorded before the step (state carried over)"
        elif t._prim is autodiff.FREED:
            reason = "backward() through a graph already freed"
    if reason is not None:
        rec.fail(reason)
        _eager(roots, grads, retain_graph, create_graph)
        return
    if retain_graph is None:
        retain_graph = create_graph
    acc: dict[int, tuple[int, np.ndarray]] = {}
    handed = Handed()
    owned: set[int] = set()  # sums this sweep allocated, added into in place
    for i, r in enumerate(roots):
        fn = handed.another_seed if i else handed.seed
        seed = fn(r._data)
        k = rec.new_value(seed)
        rec.calls.append(Call(fn, (Slot(rec.by_tensor[id(r)]),), {}, k, "seed", False))
        _push(rec, acc, id(r), k, seed, owned)
    old = STATE.grad
    STATE.grad = False
    try:
        for t in reversed(order):
            entry = acc.pop(id(t), None)
            if entry is None:
                continue
            if t._prim is None:
                _assign(rec, t, entry, handed)
                continue
            _backprop(rec, acc, t, entry, owned)
            if not retain_graph:
                autodiff._free(t)
    finally:
        STATE.grad = old


def _assign(rec, leaf: Tensor, entry: tuple[int, np.ndarray], handed: Handed) -> None:
    """Record the leaf's `.grad` and set it now, as a replay will."""
    assign = GradAssign(leaf, handed)
    rec.calls.append(Call(assign, (Slot(entry[0]),), {}, None, "grad", False))
    rec.check_grads()
    tracer, STATE.tracer = STATE.tracer, None  # its `leaf.grad + g` is not an op of the step
    try:
        assign(entry[1])
    finally:
        STATE.tracer = tracer
    rec.grads[id(leaf)] = (leaf, leaf.grad)
    rec.leaves.append(leaf)


def _push(rec, acc, key: int, k: int, arr: np.ndarray, owned: set[int]) -> None:
    """Add a cotangent to x's sum: in place into a sum this sweep made (as eager does)."""
    prev = acc.get(key)
    if prev is None:
        acc[key] = (k, arr)
        return
    a = prev[1]
    fn = _add_into if prev[0] in owned and a.shape == arr.shape and a.dtype == arr.dtype else _add
    total = fn(a, arr)
    kt = rec.new_value(total)
    owned.add(kt)
    rec.calls.append(Call(fn, (Slot(prev[0]), Slot(k)), {}, kt, "accumulate"))
    acc[key] = (kt, total)


def _add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    total = np.add(a, b)
    return total if type(total) is np.ndarray else np.asarray(total)  # 0-d: not a scalar


def _add_into(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a += b for a sum no one else holds: no new buffer per cotangent."""
    np.add(a, b, out=a)
    return a


def _backprop(rec, acc, t: Tensor, entry: tuple[int, np.ndarray], owned: set[int]) -> None:
    """dL/dx_i += vjp_i(g, t, *inputs) for each input that needs it, recorded."""
    prim, inputs, params = t._prim, t._inputs, t._params
    g = _wrap(entry[1])
    for i, x in enumerate(inputs):
        rule = prim.vjp[i]
        if not x.requires_grad or rule is None:
            continue
        mark = len(rec.calls)
        rec.rule_depth += 1
        rec.impure = False
        try:
            gi = rule(g, t, *inputs, **params) if prim.ans else rule(g, *inputs, **params)
            ref = rec.ref(gi)  # a result made outside the primitives also makes it impure
        finally:
            rec.rule_depth -= 1
        if gi._data.shape != x._data.shape:
            raise RuntimeError(
                f"{prim.name}: VJP rule for input {i} returned a gradient of shape "
                f"{gi._data.shape}, expected {x._data.shape}"
            )
        kernel = ARRAY_VJPS.get((prim.name, i))
        if kernel is not None:  # the same computation on arrays (jit/kernels.py)
            del rec.calls[mark:]
            k = rec.new_value(gi)
            args = (rec.ref(g), rec.ref(t), *(rec.ref(x) for x in inputs))
            rec.calls.append(Call(kernel, args, rec.params_refs(params), k, f"{prim.name}.vjp"))
        elif rec.impure or not isinstance(ref, Slot):
            del rec.calls[mark:]
            k = rec.new_value(gi)
            args = (rec.ref(g, True), rec.ref(t, True), *(rec.ref(x, True) for x in inputs))
            label = f"{prim.name}.vjp[{i}]"
            call = Call(RuleCall(rule, prim.ans), args, rec.params_refs(params), k, label)
            call.tensor_out = True
            rec.calls.append(call)
        else:
            k = ref.k
        _push(rec, acc, id(x), k, gi._data, owned)

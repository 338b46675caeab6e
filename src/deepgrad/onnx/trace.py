"""Record a model's forward pass as a list of primitive (and leaf-module) applications.

The model runs under `deepgrad.core.state.trace_ops` once on the example inputs
and once per dynamic axis name with every input axis of that name one longer
(`dims.py` refits each number that changes as a `Dyn`).  A module whose class
has a module lowering (`modules.py`: `nn.LSTM`, `nn.GRU`, `nn.RNN`,
`nn.Embedding`) is recorded as one node, its inputs, its (possibly several)
outputs and the module itself; the primitives it runs inside are not recorded,
so its internals may change freely.  This works by shadowing the instance's
`forward` for the duration of the trace (restored afterwards), so neither `nn`
nor the core knows about ONNX.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.state import no_grad, trace_ops
from ..core.tensor import Tensor
from .dims import Dim, Dyn, merge
from .modules import find_module_lowering

__all__ = ["Dim", "Dyn", "Graph", "Node", "Slot", "Value", "flatten", "trace"]


@dataclass
class Value:
    """A tensor of the recorded graph: its name, shape (with `Dyn` dims) and dtype."""

    name: str
    shape: tuple[Dim, ...]
    dtype: np.dtype
    const: np.ndarray | None = None  # set for constants (initializers)


@dataclass(frozen=True)
class Slot:
    """Stands for `node.inputs[i]` in a leaf-module call's recorded arguments."""

    i: int


@dataclass
class Node:
    """One recorded primitive application, or one call of a leaf module (`module` set,
    `params["call"]` its bound arguments with tensors replaced by `Slot`s, `more` its
    outputs after the first, flattened)."""

    prim: str
    inputs: list[Value]
    output: Value
    params: dict[str, Any] = field(default_factory=dict)
    module: Any = None
    more: list[Value] = field(default_factory=list)

    @property
    def outputs(self) -> list[Value]:
        return [self.output, *self.more]


@dataclass
class Graph:
    """The recorded forward: inputs, outputs, nodes in execution order, initializers."""

    inputs: list[Value]
    outputs: list[Value]
    nodes: list[Node]
    constants: list[Value]

    @property
    def input(self) -> Value:
        return self.inputs[0]

    @property
    def output(self) -> Value:
        return self.outputs[0]


def flatten(obj) -> list:
    """The leaves (anything but tuples, lists and None) of a nested tuple/list, in order."""
    if isinstance(obj, (tuple, list)):
        return [leaf for item in obj for leaf in flatten(item)]
    return [] if obj is None else [obj]


def _slots(obj, rec: _Recorder, inputs: list[Value]):
    """`obj` with every Tensor replaced by a Slot into `inputs` (which it extends)."""
    if isinstance(obj, (tuple, list)):
        return type(obj)(_slots(o, rec, inputs) for o in obj)
    if isinstance(obj, Tensor):
        inputs.append(rec.value(obj))
        return Slot(len(inputs) - 1)
    return obj


class _Recorder:
    """Collects primitive applications and leaf-module calls; names tensors by identity."""

    def __init__(self, names: dict[int, str], input_ids: set[int]) -> None:
        self.names = names  # id(tensor) -> name, for the inputs and the module's state
        self.input_ids = input_ids
        self.values: dict[int, Value] = {}
        self.keep: list[Tensor] = []  # hold every seen tensor so ids stay unique
        self.nodes: list[Node] = []
        self.constants: list[Value] = []
        self.depth = 0  # > 0 inside a leaf module: its primitives are not recorded

    def value(self, t: Tensor) -> Value:
        v = self.values.get(id(t))
        if v is None:
            name = self.names.get(id(t)) or f"const_{len(self.constants)}"
            const = None if id(t) in self.input_ids else np.asarray(t._data)
            v = Value(name, tuple(t.shape), t._data.dtype, const)
            if const is not None:
                self.constants.append(v)
            self.values[id(t)] = v
            self.keep.append(t)
        return v

    def _output(self, t: Tensor, name: str) -> Value:
        out = Value(name, tuple(t.shape), t._data.dtype)
        self.values[id(t)] = out
        self.keep.append(t)
        return out

    def __call__(self, res: Tensor, prim, inputs, params) -> None:
        if self.depth:
            return
        ins = [self.value(x) for x in inputs]
        out = self._output(res, f"{prim.name}_{len(self.nodes)}")
        kept = {k: v for k, v in params.items() if k != "saved"}
        self.nodes.append(Node(prim.name, ins, out, kept))

    def leaf(self, module, forward, path: str):
        """`module.forward` recorded as one node of the graph (`path`: its name in the model)."""
        sig = inspect.signature(forward)

        def recorded(*args, **kwargs):
            if self.depth:
                return forward(*args, **kwargs)
            bound = sig.bind(*args, **kwargs)
            bound.apply_defaults()
            inputs: list[Value] = []
            call = {k: _slots(v, self, inputs) for k, v in bound.arguments.items()}
            self.depth += 1
            try:
                result = forward(*args, **kwargs)
            finally:
                self.depth -= 1
            outs = flatten(result)
            if not outs or not all(isinstance(t, Tensor) for t in outs):
                raise TypeError(
                    f"onnx.export: {type(module).__name__} must return Tensors (nested in "
                    f"tuples) to be exported as one node, got {type(result).__name__}"
                )
            base = f"{type(module).__name__}_{len(self.nodes)}"
            values = [self._output(t, f"{base}_{i}") for i, t in enumerate(outs)]
            params = {"call": call, "path": path}
            prim = f"module:{type(module).__name__}"
            self.nodes.append(Node(prim, inputs, values[0], params, module, values[1:]))
            return result

        return recorded


def _record(model, args: tuple, names: dict[int, str], input_names: list[str]):
    leaves = [Tensor(np.asarray(a._data if isinstance(a, Tensor) else a)) for a in flatten(args)]
    it = iter(leaves)
    call_args = _rebuild(args, it)
    rec = _Recorder(
        {**names, **{id(t): n for t, n in zip(leaves, input_names)}}, {id(t) for t in leaves}
    )
    inputs = [rec.value(t) for t in leaves]
    patched = []
    for path, m in model.named_modules():
        if find_module_lowering(m) is not None and "forward" not in m.__dict__:
            m.__dict__["forward"] = rec.leaf(m, m.forward, path)
            patched.append(m)
    try:
        with no_grad(), trace_ops(rec):
            y = model(*call_args)
    finally:
        for m in patched:
            del m.__dict__["forward"]
    outs = flatten(y)
    if not outs or not all(isinstance(t, Tensor) for t in outs):
        raise TypeError(
            "onnx.export: the model must return a Tensor or a (nested) tuple of Tensors, got "
            f"{type(y).__name__}"
        )
    missing = [i for i, t in enumerate(outs) if id(t) not in rec.values]
    if missing:
        raise ValueError(
            f"onnx.export: output {missing[0]} of the model was not computed by deepgrad ops"
        )
    return rec, [rec.values[id(t)] for t in outs], inputs


def _rebuild(obj, leaves):
    if isinstance(obj, (tuple, list)):
        return type(obj)(_rebuild(o, leaves) for o in obj)
    return None if obj is None else next(leaves)


def _grow(args, dynamic: list[dict[int, str]], sym: str):
    """`args` with every input axis named `sym` one longer (its first slice repeated)."""
    leaves = [np.asarray(a._data if isinstance(a, Tensor) else a) for a in flatten(args)]
    for i, axes in enumerate(dynamic):
        for axis, s in axes.items():
            if s == sym:
                first = np.take(leaves[i], [0], axis=axis)
                leaves[i] = np.concatenate([leaves[i], first], axis=axis)
    return _rebuild(args, iter(leaves))


def _merge_nodes(base: _Recorder, runs: dict[str, _Recorder], sizes: dict[str, int]) -> None:
    for s, rec in runs.items():
        if [n.prim for n in base.nodes] != [n.prim for n in rec.nodes]:
            raise ValueError(
                f"onnx.export: the model ran different ops when the {s} size changed from "
                f"{sizes[s]} to {sizes[s] + 1}; only forwards whose ops do not depend on the "
                "dynamic sizes export (a Python loop over a dynamic axis does not)"
            )
    for i, a in enumerate(base.nodes):
        others = {s: rec.nodes[i] for s, rec in runs.items()}
        for j, va in enumerate(a.inputs):
            if va.const is not None:
                _merge_const(va, {s: n.inputs[j] for s, n in others.items()}, sizes)
        for j, va in enumerate(a.outputs):
            shapes = {s: n.outputs[j].shape for s, n in others.items()}
            va.shape = merge(va.shape, shapes, sizes, f"{a.prim} output")
        a.params = {
            k: merge(v, {s: n.params[k] for s, n in others.items()}, sizes,
                     f"{a.prim} param {k!r}")
            for k, v in a.params.items()
        }  # fmt: skip


def _merge_const(v: Value, others: dict[str, Value], sizes: dict[str, int]) -> None:
    v.shape = merge(v.shape, {s: o.shape for s, o in others.items()}, sizes, f"{v.name} shape")
    for o in others.values():
        if o.const is None or not np.array_equal(v.const, o.const):
            raise ValueError(
                f"onnx.export: {v.name} ({v.const.shape}) depends on the input but was "
                "computed outside deepgrad's primitives, so the graph cannot reproduce it"
            )


def trace(
    model, args: tuple, names: dict[int, str], input_names: list[str],
    dynamic: list[dict[int, str]],
) -> Graph:  # fmt: skip
    """Trace `model(*args)` at the example sizes and once per dynamic axis name with that
    axis one longer (`dynamic[i]` maps input i's axes to names); return the merged graph."""
    leaves = [np.asarray(a._data if isinstance(a, Tensor) else a) for a in flatten(args)]
    sizes: dict[str, int] = {}
    for i, axes in enumerate(dynamic):
        for axis, s in axes.items():
            n = leaves[i].shape[axis]
            if sizes.setdefault(s, n) != n:
                raise ValueError(
                    f"onnx.export: dynamic axis {s!r} has size {sizes[s]} in one input and {n} "
                    f"in {input_names[i]!r} (axis {axis})"
                )
    base, outputs, inputs = _record(model, args, names, input_names)
    runs = {s: _record(model, _grow(args, dynamic, s), names, input_names)[0] for s in sizes}
    _merge_nodes(base, runs, sizes)
    for v, axes in zip(inputs, dynamic):
        v.shape = tuple(Dyn(1, ((axes[a], 1),)) if a in axes else d for a, d in
                        enumerate(v.shape))  # fmt: skip
    return Graph(inputs, outputs, base.nodes, base.constants)

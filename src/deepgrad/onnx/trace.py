"""Record a model's forward pass as a list of primitive applications.

The model runs twice under `deepgrad.core.state.trace_ops`: once on the example
input (batch N) and once on a batch of N + 1 rows.  Every shape entry that
differs between the two recordings scales with the batch, and is kept as
`Dyn(k)` (k times the batch size); everything else is static.  Comparing two
runs is what makes the exported graph batch-polymorphic without asking every
lowering to propagate symbolic shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.state import no_grad, trace_ops
from ..core.tensor import Tensor


@dataclass(frozen=True)
class Dyn:
    """A dimension equal to `k` times the batch size."""

    k: int

    def __repr__(self) -> str:
        return f"{self.k}*N" if self.k != 1 else "N"


Dim = int | Dyn


@dataclass
class Value:
    """A tensor of the recorded graph: its name, shape (with `Dyn` dims) and dtype."""

    name: str
    shape: tuple[Dim, ...]
    dtype: np.dtype
    const: np.ndarray | None = None  # set for constants (initializers)


@dataclass
class Node:
    """One recorded primitive application."""

    prim: str
    inputs: list[Value]
    output: Value
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Graph:
    """The recorded forward: input, output, nodes in execution order, initializers."""

    input: Value
    output: Value
    nodes: list[Node]
    constants: list[Value]


class _Recorder:
    """Collects primitive applications; names tensors by identity."""

    def __init__(self, names: dict[int, str]) -> None:
        self.names = names  # id(tensor) -> name, for the input and the module's state
        self.values: dict[int, Value] = {}
        self.keep: list[Tensor] = []  # hold every seen tensor so ids stay unique
        self.nodes: list[Node] = []
        self.constants: list[Value] = []

    def value(self, t: Tensor) -> Value:
        v = self.values.get(id(t))
        if v is None:
            name = self.names.get(id(t))
            if name is None:
                name = f"const_{len(self.constants)}"
            v = Value(name, tuple(t.shape), t._data.dtype, np.asarray(t._data))
            if name != "input":
                self.constants.append(v)
            else:
                v.const = None
            self.values[id(t)] = v
            self.keep.append(t)
        return v

    def __call__(self, res: Tensor, prim, inputs, params) -> None:
        ins = [self.value(x) for x in inputs]
        out = Value(f"{prim.name}_{len(self.nodes)}", tuple(res.shape), res._data.dtype)
        self.values[id(res)] = out
        self.keep.append(res)
        kept = {k: v for k, v in params.items() if k != "saved"}
        self.nodes.append(Node(prim.name, ins, out, kept))


def _record(model, x: np.ndarray, names: dict[int, str]) -> tuple[_Recorder, Tensor]:
    xt = Tensor(x)
    rec = _Recorder({**names, id(xt): "input"})
    rec.value(xt)
    with no_grad(), trace_ops(rec):
        y = model(xt)
    if not isinstance(y, Tensor):
        raise TypeError(f"onnx.export: the model must return one Tensor, got {type(y).__name__}")
    if id(y) not in rec.values:
        raise ValueError("onnx.export: the model's output was not computed by deepgrad ops")
    return rec, y


def _merge_dim(a, b, n1: int, n2: int, what: str):
    """One entry of the first trace, given the second's: an int, or Dyn(k) if it scales."""
    if isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, np.integer)):
        if a != b:
            raise ValueError(f"onnx.export: {what} depends on the batch size ({a!r} vs {b!r})")
        return a
    if a == b:
        return int(a)
    if a % n1 == 0 and (a // n1) * n2 == b:
        return Dyn(int(a // n1))
    raise ValueError(
        f"onnx.export: {what} changes with the batch size ({a} at N={n1}, {b} at N={n2}) "
        "but is not a multiple of it"
    )


def _merge(a, b, n1: int, n2: int, what: str):
    """Merge two recordings of a static param or shape (nested tuples of ints)."""
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b):
        return tuple(_merge(u, v, n1, n2, what) for u, v in zip(a, b))
    if isinstance(a, np.ndarray):
        if not (isinstance(b, np.ndarray) and a.shape == b.shape and np.array_equal(a, b)):
            raise ValueError(
                f"onnx.export: {what} is an array computed from the input outside deepgrad's "
                "primitives (a NumPy mask or index), so the graph cannot recompute it"
            )
        return a
    if isinstance(a, (int, np.integer)) and not isinstance(a, bool):
        return _merge_dim(a, b, n1, n2, what)
    if type(a) is not type(b):
        raise ValueError(f"onnx.export: {what} differs between batch sizes ({a!r} vs {b!r})")
    return a


def _merge_value(v1: Value, v2: Value, n1: int, n2: int) -> None:
    v1.shape = _merge(v1.shape, v2.shape, n1, n2, f"the shape of {v1.name}")
    if v1.const is not None and (v2.const is None or not np.array_equal(v1.const, v2.const)):
        raise ValueError(
            f"onnx.export: {v1.name} ({v1.const.shape}) depends on the input but was computed "
            "outside deepgrad's primitives, so the graph cannot reproduce it"
        )


def trace(model, x: np.ndarray, names: dict[int, str]) -> Graph:
    """Trace `model` on `x` and on a batch one row larger; return the merged graph."""
    n1 = x.shape[0]
    x2 = np.concatenate([x, x[:1]], axis=0)
    rec1, y1 = _record(model, x, names)
    rec2, _ = _record(model, x2, names)
    if [n.prim for n in rec1.nodes] != [n.prim for n in rec2.nodes]:
        raise ValueError(
            "onnx.export: the model ran different ops at batch sizes "
            f"{n1} and {n1 + 1}; only forwards whose ops do not depend on the batch export"
        )
    n2 = n1 + 1
    for a, b in zip(rec1.nodes, rec2.nodes):
        for va, vb in zip(a.inputs, b.inputs):
            if va.const is not None:
                _merge_value(va, vb, n1, n2)
        a.output.shape = _merge(a.output.shape, b.output.shape, n1, n2, f"{a.prim} output")
        a.params = {
            k: _merge(v, b.params[k], n1, n2, f"{a.prim} param {k!r}") for k, v in a.params.items()
        }
    inp = rec1.values[next(k for k, v in rec1.values.items() if v.name == "input")]
    inp.shape = (Dyn(1), *inp.shape[1:])
    return Graph(inp, rec1.values[id(y1)], rec1.nodes, rec1.constants)

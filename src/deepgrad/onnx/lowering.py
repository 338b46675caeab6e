"""The ONNX lowering registry and the context lowerings build nodes through.

Each primitive's lowering is a function registered under the primitive's name:

    @lowering("relu")
    def _relu(ctx, node, x):
        return ctx.op("Relu", [x])

It receives the `LoweringContext`, the recorded `Node` (static params, input and
output shapes and dtypes) and the ONNX names of the node's inputs, and returns
the ONNX name of the output.  Lowerings live here, in `deepgrad.onnx`, rather
than beside the primitive's rules in `ops/`, because `onnx` is an optional extra
the core must never import; the registry is keyed by the primitive's name, so a
new primitive (a recurrent cell, attention) adds its lowering with one decorated
function.  Primitives that are generated per arity (`concatenate3`, `einsum4`)
are looked up by their name without the trailing digits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .trace import Dim, Dyn, Node

Lowering = Callable[..., str]
LOWERINGS: dict[str, Lowering] = {}


class UnsupportedPrimitiveError(RuntimeError):
    """A traced primitive has no ONNX lowering (or uses params the lowering refuses)."""


def lowering(*names: str) -> Callable[[Lowering], Lowering]:
    """Register `fn` as the ONNX lowering of the primitives `names`."""

    def deco(fn: Lowering) -> Lowering:
        for name in names:
            if name in LOWERINGS:
                raise ValueError(f"onnx lowering for {name!r} is already registered")
            LOWERINGS[name] = fn
        return fn

    return deco


def find_lowering(prim: str) -> Lowering:
    """The lowering of primitive `prim`; a clear error naming it when there is none."""
    fn = LOWERINGS.get(prim) or LOWERINGS.get(prim.rstrip("0123456789"))
    if fn is None:
        raise UnsupportedPrimitiveError(
            f"onnx.export: primitive {prim!r} has no ONNX lowering; register one with "
            f"@deepgrad.onnx.lowering({prim!r}) (supported: {', '.join(sorted(LOWERINGS))})"
        )
    return fn


class LoweringContext:
    """Builds ONNX nodes and initializers with fresh, unique names."""

    def __init__(self, opset: int, axes: dict[str, tuple[str, int]] | None = None) -> None:
        from onnx import helper, numpy_helper

        self.helper, self.numpy_helper = helper, numpy_helper
        self.opset = opset
        self.dyn_axes = dict(axes or {})  # dynamic axis name -> (graph input, axis) holding it
        self.nodes: list = []
        self.initializers: list = []
        self._count = 0
        self._sizes: dict[str, str] = {}
        self._consts: dict[tuple, str] = {}
        self._weights: dict[str, str] = {}

    def fresh(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def op(self, op_type: str, inputs: Sequence[str], name: str | None = None, **attrs) -> str:
        """Append an ONNX node with one output; return that output's name."""
        out = name or self.fresh(op_type.lower())
        self.nodes.append(self.helper.make_node(op_type, list(inputs), [out], **attrs))
        return out

    def const(self, value, dtype=None) -> str:
        """An initializer holding `value` (cached by dtype, shape and bytes)."""
        arr = np.asarray(value, dtype=dtype)
        key = (arr.dtype.str, arr.shape, arr.tobytes())
        name = self._consts.get(key)
        if name is None:
            name = self.fresh("c")
            self.initializers.append(self.numpy_helper.from_array(arr, name))
            self._consts[key] = name
        return name

    def weight(self, name: str, arr: np.ndarray) -> str:
        """An initializer called `name` (created once; a module called twice shares it)."""
        if name not in self._weights:
            self._weights[name] = self.initializer(name, np.asarray(arr))
        return self._weights[name]

    def initializer(self, name: str, arr: np.ndarray) -> str:
        self.initializers.append(self.numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def op_multi(self, op_type: str, inputs: Sequence[str], n_out: int, **attrs) -> list[str]:
        """Append an ONNX node with `n_out` outputs; return their names."""
        hint = op_type.lower()
        outs = [self.fresh(hint) for _ in range(n_out)]
        self.nodes.append(self.helper.make_node(op_type, list(inputs), outs, **attrs))
        return outs

    def dim(self, sym: str) -> str:
        """A 1-D int64 tensor [n] holding dynamic axis `sym`'s size, read at run time."""
        if sym not in self._sizes:
            if sym not in self.dyn_axes:
                raise UnsupportedPrimitiveError(f"onnx.export: no input has dynamic axis {sym!r}")
            name, axis = self.dyn_axes[sym]
            shape = self.op("Shape", [name])
            self._sizes[sym] = self.op("Gather", [shape, self.const([axis], np.int64)], axis=0)
        return self._sizes[sym]

    def batch(self) -> str:
        """A 1-D int64 tensor [N] read from the batch axis at run time."""
        return self.dim("batch")

    def shape(self, dims: Sequence[Dim]) -> str:
        """A 1-D int64 shape tensor; `Dyn` entries are computed from the inputs at run time."""
        if not any(isinstance(d, Dyn) for d in dims):
            return self.const([int(d) for d in dims], np.int64)
        parts, static = [], []
        for d in dims:
            if isinstance(d, Dyn):
                if static:
                    parts.append(self.const(static, np.int64))
                    static = []
                parts.append(self.size(d))
            else:
                static.append(int(d))
        if static:
            parts.append(self.const(static, np.int64))
        return parts[0] if len(parts) == 1 else self.op("Concat", parts, axis=0)

    def size(self, d: Dyn) -> str:
        """A 1-D int64 tensor [k * prod n_s^e_s] for the dynamic dimension `d`."""
        factors = [self.dim(s) for s, e in d.syms for _ in range(e)]
        if d.k != 1:
            factors.append(self.const([d.k], np.int64))
        out = factors[0]
        for f in factors[1:]:
            out = self.op("Mul", [out, f])
        return out

    def cast(self, name: str, src: np.dtype, dst: np.dtype) -> str:
        """`name` converted from `src` to `dst` (no node when they are equal)."""
        if np.dtype(src) == np.dtype(dst):
            return name
        to = self.helper.np_dtype_to_tensor_dtype(np.dtype(dst))
        return self.op("Cast", [name], to=to)

    def axes(self, op_type: str, x: str, axes: Sequence[int], since: int, **attrs) -> str:
        """A reduce/squeeze-style op whose `axes` became an input at opset `since`."""
        if self.opset >= since:
            return self.op(op_type, [x, self.const(list(axes), np.int64)], **attrs)
        return self.op(op_type, [x], axes=list(axes), **attrs)


def static_shape(node: Node, dims: Sequence[Dim], what: str) -> tuple[int, ...]:
    """`dims` as ints; a clear error when one of them scales with the batch."""
    if any(isinstance(d, Dyn) for d in dims):
        raise UnsupportedPrimitiveError(
            f"onnx.export: {node.prim} {what} {dims} depends on the batch size, which its "
            "lowering does not support"
        )
    return tuple(int(d) for d in dims)

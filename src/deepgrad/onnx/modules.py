"""Module lowerings: a layer exported as one block of ONNX operators, not traced inside.

    @module_lowering(nn.LSTM)
    def _lstm(ctx, node, *names):
        args = call_arguments(node, names)   # {"input": "x_name", "hx": None}
        # add the ONNX nodes with ctx, reading the module's weights from node.module
        return output, h_n, c_n              # one ONNX name per flattened output

Some layers map onto one native ONNX operator (`nn.LSTM` onto `LSTM`) whose
meaning is the layer's, not that of the primitives its forward happens to run
(a Python loop over time steps, a zero initial state built in NumPy, fused
kernels that change with the implementation).  While tracing, a module whose
class (or a subclass that keeps its `forward`) has a module lowering is
recorded as one `Node` with `node.module` the module, `node.inputs` every
Tensor among its call's arguments, `node.params["call"]` the bound arguments
with those tensors replaced by `Slot`s, and `node.outputs` the Tensors of its
(possibly nested tuple) result, flattened.  `nn` never imports this module.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

Lowering = Callable[..., "str | Sequence[str]"]
MODULE_LOWERINGS: dict[type, Lowering] = {}


def register_module_lowering(cls: type, fn: Lowering) -> Lowering:
    """Export every `cls` module (and subclasses that keep its `forward`) with `fn`."""
    if not isinstance(cls, type):
        raise TypeError(f"register_module_lowering: cls must be a class, got {cls!r}")
    if cls in MODULE_LOWERINGS:
        raise ValueError(f"onnx module lowering for {cls.__name__} is already registered")
    MODULE_LOWERINGS[cls] = fn
    return fn


def module_lowering(cls: type) -> Callable[[Lowering], Lowering]:
    """Decorator form of `register_module_lowering(cls, fn)`."""
    return lambda fn: register_module_lowering(cls, fn)


def find_module_lowering(module) -> Lowering | None:
    """The lowering that exports `module` as one node, or None (then it is traced)."""
    for cls in type(module).__mro__:
        fn = MODULE_LOWERINGS.get(cls)
        if fn is not None:
            return fn if type(module).forward is cls.forward else None
    return None


def call_arguments(node, names: Sequence[str]) -> dict:
    """The leaf call's bound arguments with each tensor replaced by its ONNX name."""
    from .trace import Slot

    def fill(v):
        if isinstance(v, Slot):
            return names[v.i]
        if isinstance(v, (tuple, list)):
            return type(v)(fill(u) for u in v)
        return v

    return {k: fill(v) for k, v in node.params["call"].items()}

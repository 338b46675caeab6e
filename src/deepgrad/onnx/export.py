"""`deepgrad.onnx.export`: a traced forward pass written as an ONNX model."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..core.tensor import Tensor
from .lowering import LoweringContext, UnsupportedPrimitiveError, find_lowering
from .modules import find_module_lowering
from .trace import Dyn, Graph, Value, flatten, trace

MIN_OPSET, MAX_OPSET = 13, 21


def _require_onnx():
    try:
        import onnx
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "onnx.export needs the optional 'onnx' package: pip install 'deepgrad[onnx]'"
        ) from e
    return onnx


def _state_names(model) -> dict[int, str]:
    names = {id(p): n for n, p in model.named_parameters()}
    names.update({id(b): n for n, b in model.named_buffers()})
    return names


def _value_info(onnx, v: Value, name: str):
    dims = [d.label() if isinstance(d, Dyn) else int(d) for d in v.shape]
    elem = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(v.dtype))
    return onnx.helper.make_tensor_value_info(name, elem, dims)


def _lower(
    graph: Graph, opset: int, axes: dict[str, tuple[str, int]], out_names
) -> LoweringContext:
    ctx = LoweringContext(opset, axes)
    names: dict[int, str] = {id(v): v.name for v in graph.inputs}
    for c in graph.constants:
        names[id(c)] = ctx.initializer(c.name, c.const)
    for node in graph.nodes:
        ins = [names[id(v)] for v in node.inputs]
        if node.module is not None:
            res = find_module_lowering(node.module)(ctx, node, *ins)
        else:
            res = find_lowering(node.prim)(ctx, node, *ins)
        res = [res] if isinstance(res, str) else list(res)
        if len(res) != len(node.outputs):
            raise UnsupportedPrimitiveError(
                f"onnx.export: the lowering of {node.prim} gave {len(res)} outputs for "
                f"{len(node.outputs)}"
            )
        for v, name in zip(node.outputs, res):
            names[id(v)] = name
    for v, name in zip(graph.outputs, out_names):
        ctx.op("Identity", [names[id(v)]], name=name)
    return ctx


def _names(given, n: int, what: str, default: str) -> list[str]:
    if given is None:
        return [default if i == 0 else f"{default}_{i}" for i in range(n)]
    given = [str(g) for g in given]
    if len(given) != n or len(set(given)) != n:
        raise ValueError(
            f"onnx.export: {what} must be {n} distinct names (one per flattened tensor), "
            f"got {given}"
        )
    return given


def _dynamic(dynamic_axes, arrays: list[np.ndarray], in_names: list[str]) -> list[dict[int, str]]:
    """Per input, its dynamic axes {axis: name}; by default axis 0 of every input is "batch"."""
    if dynamic_axes is None:
        return [{0: "batch"} for _ in arrays]
    unknown = [k for k in dynamic_axes if k not in in_names]
    if unknown:
        raise ValueError(
            f"onnx.export: dynamic_axes names inputs {unknown} the model does not have (its "
            f"inputs: {in_names}; output axes are found by tracing)"
        )
    out = []
    for name, x in zip(in_names, arrays):
        spec = dynamic_axes.get(name, {})
        spec = spec if isinstance(spec, dict) else {a: f"{name}_dim{a}" for a in spec}
        axes = {}
        for a, sym in spec.items():
            if not -x.ndim <= int(a) < x.ndim:
                raise ValueError(
                    f"onnx.export: dynamic_axes[{name!r}] axis {a} is out of range for its "
                    f"shape {x.shape}"
                )
            axes[int(a) % x.ndim] = str(sym)
        out.append(axes)
    return out


def _inputs(example_input, input_names, dynamic_axes):
    """The call's arguments, the flattened inputs' names and their dynamic axes, checked."""
    args = example_input if isinstance(example_input, tuple) else (example_input,)
    arrays = [np.asarray(a._data if isinstance(a, Tensor) else a) for a in flatten(args)]
    if not arrays:
        raise ValueError("onnx.export: example_input must hold at least one array")
    in_names = _names(input_names, len(arrays), "input_names", "input")
    dynamic = _dynamic(dynamic_axes, arrays, in_names)
    for name, x, axes in zip(in_names, arrays, dynamic):
        if any(x.shape[a] < 1 for a in axes):
            raise ValueError(
                f"onnx.export: example_input {name!r} must have its dynamic axes "
                f"{sorted(axes)} of size >= 1, got shape {x.shape}"
            )
    return args, in_names, dynamic


def export(
    model,
    example_input,
    path: str | os.PathLike,
    opset_version: int = 17,
    *,
    check: bool = True,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    dynamic_axes: dict[str, dict[int, str] | Sequence[int]] | None = None,
) -> Path:
    """Write `model`'s forward as an ONNX file by tracing it on `example_input`.

    `example_input` is one array/Tensor, or a tuple of the model's positional
    arguments (a nested tuple such as an LSTM's `(h_0, c_0)` is passed as a tuple;
    `None` as None).  The forward runs in eval mode (batch norm uses its running
    statistics, dropout is the identity) through deepgrad's primitive registry;
    each recorded primitive is lowered by its registered ONNX lowering, and each
    module with a module lowering (`nn.LSTM`, `nn.GRU`, `nn.RNN`, `nn.Embedding`)
    becomes its native ONNX operator(s).  The graph inputs are the flattened
    array arguments, named `input`, `input_1`, ... (or `input_names`); the outputs
    the flattened tensors the model returns, `output`, `output_1`, ... (or
    `output_names`).  `dynamic_axes` maps input names to their dynamic axes,
    `{axis: name}` (as `torch.onnx.export`); by default axis 0 of every input is
    `"batch"`.  The model is traced once more per dynamic axis name with that axis
    one longer, to find which shapes of the graph scale with it (outputs' dynamic
    axes follow).  Weights are initializers under their `state_dict` names.  A
    primitive with no lowering raises `UnsupportedPrimitiveError` naming it.  With
    `check`, the file is verified by `onnx.checker.check_model(full_check=True)`.
    """
    onnx = _require_onnx()
    if not MIN_OPSET <= int(opset_version) <= MAX_OPSET:
        raise ValueError(
            f"onnx.export: opset_version must be in [{MIN_OPSET}, {MAX_OPSET}], got {opset_version}"
        )
    args, in_names, dynamic = _inputs(example_input, input_names, dynamic_axes)
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        graph = trace(model, args, _state_names(model), in_names, dynamic)
    finally:
        for m, training in modes:  # each module's own mode (a frozen norm stays in eval)
            m.training = training
    out_names = _names(output_names, len(graph.outputs), "output_names", "output")
    axes = {}
    for name, spec in zip(in_names, dynamic):
        for a, sym in spec.items():
            axes.setdefault(sym, (name, a))
    ctx = _lower(graph, int(opset_version), axes, out_names)
    g = onnx.helper.make_graph(
        ctx.nodes,
        type(model).__name__,
        [_value_info(onnx, v, n) for v, n in zip(graph.inputs, in_names)],
        [_value_info(onnx, v, n) for v, n in zip(graph.outputs, out_names)],
        initializer=ctx.initializers,
    )
    opsets = [onnx.helper.make_opsetid("", int(opset_version))]
    proto = onnx.helper.make_model(g, producer_name="deepgrad", opset_imports=opsets)
    if check:
        onnx.checker.check_model(proto, full_check=True)
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    onnx.save(proto, str(tmp))
    os.replace(tmp, path)
    return path

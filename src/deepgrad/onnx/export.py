"""`deepgrad.onnx.export`: a traced forward pass written as an ONNX model."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..core.tensor import Tensor
from .lowering import LoweringContext, find_lowering
from .trace import Dyn, Graph, Value, trace

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
    dims = ["batch" if isinstance(d, Dyn) and d.k == 1 else
            (f"batch_x{d.k}" if isinstance(d, Dyn) else int(d)) for d in v.shape]  # fmt: skip
    elem = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(v.dtype))
    return onnx.helper.make_tensor_value_info(name, elem, dims)


def _lower(graph: Graph, opset: int) -> LoweringContext:
    ctx = LoweringContext(opset, "input")
    names: dict[int, str] = {id(graph.input): "input"}
    for c in graph.constants:
        names[id(c)] = ctx.initializer(c.name, c.const)
    for node in graph.nodes:
        ins = [names[id(v)] for v in node.inputs]
        names[id(node.output)] = find_lowering(node.prim)(ctx, node, *ins)
    ctx.op("Identity", [names[id(graph.output)]], name="output")
    return ctx


def export(
    model,
    example_input,
    path: str | os.PathLike,
    opset_version: int = 17,
    *,
    check: bool = True,
) -> Path:
    """Write `model`'s forward as an ONNX file by tracing it on `example_input`.

    The forward runs in eval mode (batch norm uses its running statistics, dropout
    is the identity) through deepgrad's primitive registry; each recorded primitive
    is lowered by its registered ONNX lowering.  The graph has one input `input`
    and one output `output`, both with a dynamic batch axis 0 (the model is traced
    at batch sizes N and N + 1 to find which shapes scale with it).  The weights
    are stored as initializers under their `state_dict` names.  A primitive with no
    lowering raises `UnsupportedPrimitiveError` naming it.  With `check`, the file
    is verified by `onnx.checker.check_model(full_check=True)`.

    As `torch.onnx.export(model, args, f, opset_version=...)`, minus dynamic axes
    other than the batch and minus multiple inputs/outputs.
    """
    onnx = _require_onnx()
    if not MIN_OPSET <= int(opset_version) <= MAX_OPSET:
        raise ValueError(
            f"onnx.export: opset_version must be in [{MIN_OPSET}, {MAX_OPSET}], got {opset_version}"
        )
    x = example_input._data if isinstance(example_input, Tensor) else np.asarray(example_input)
    if x.ndim < 1 or x.shape[0] < 1:
        raise ValueError(
            f"onnx.export: example_input must have a batch axis 0 of size >= 1, got {x.shape}"
        )
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        graph = trace(model, x, _state_names(model))
    finally:
        for m, training in modes:  # each module's own mode (a frozen norm stays in eval)
            m.training = training
    ctx = _lower(graph, int(opset_version))
    g = onnx.helper.make_graph(
        ctx.nodes,
        type(model).__name__,
        [_value_info(onnx, graph.input, "input")],
        [_value_info(onnx, graph.output, "output")],
        initializer=ctx.initializers,
    )
    proto = onnx.helper.make_model(
        g,
        producer_name="deepgrad",
        opset_imports=[onnx.helper.make_opsetid("", int(opset_version))],
    )
    if check:
        onnx.checker.check_model(proto, full_check=True)
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    onnx.save(proto, str(tmp))
    os.replace(tmp, path)
    return path

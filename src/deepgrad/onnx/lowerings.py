"""ONNX lowerings of deepgrad's primitives (see `lowering.py` for the contract).

Each function maps one recorded primitive application onto ONNX operators.
Static params come from the recorded node; a shape that scales with the batch
(`Dyn`) is rebuilt at run time by `ctx.shape`, so every graph keeps a dynamic
batch dimension.  To export a new primitive (a recurrent cell, attention), add
one `@lowering("name")` function here or in a module imported by
`deepgrad.onnx`.
"""

from __future__ import annotations

import numpy as np

from .lowering import LoweringContext, UnsupportedPrimitiveError, lowering, static_shape
from .trace import Dyn, Node

# --- elementwise -------------------------------------------------------------------

_UNARY = {
    "exp": "Exp", "log": "Log", "tanh": "Tanh", "sigmoid": "Sigmoid", "relu": "Relu",
    "sqrt": "Sqrt", "abs": "Abs", "neg": "Neg", "sin": "Sin", "cos": "Cos", "erf": "Erf",
    "sign": "Sign", "softplus": "Softplus", "identity": "Identity",
}  # fmt: skip
_BINARY = {
    "add": "Add", "sub": "Sub", "mul": "Mul", "div": "Div", "pow": "Pow",
    "maximum": "Max", "minimum": "Min", "matmul": "MatMul",
}  # fmt: skip


def _same_dtype(ctx: LoweringContext, node: Node, names) -> list[str]:
    """Inputs cast to the output dtype (NumPy promotes mixed operands; ONNX does not)."""
    return [ctx.cast(n, v.dtype, node.output.dtype) for n, v in zip(names, node.inputs)]


@lowering(*_UNARY)
def _unary(ctx: LoweringContext, node: Node, x: str) -> str:
    """$y = f(x)$ elementwise: the ONNX operator of the same name."""
    return ctx.op(_UNARY[node.prim], [x])


@lowering(*_BINARY)
def _binary(ctx: LoweringContext, node: Node, a: str, b: str) -> str:
    """$y = a \\circ b$ with NumPy broadcasting, which ONNX shares."""
    return ctx.op(_BINARY[node.prim], _same_dtype(ctx, node, [a, b]))


@lowering("log1p", "expm1")
def _log1p_expm1(ctx: LoweringContext, node: Node, x: str) -> str:
    """$\\log(1 + x)$ as Log(x + 1); $e^x - 1$ as Exp(x) - 1."""
    one = ctx.const(1, node.output.dtype)
    if node.prim == "log1p":
        return ctx.op("Log", [ctx.op("Add", [x, one])])
    return ctx.op("Sub", [ctx.op("Exp", [x]), one])


@lowering("pow_scalar")
def _pow_scalar(ctx: LoweringContext, node: Node, x: str) -> str:
    """$x^p$ for a static exponent p."""
    return ctx.op("Pow", [x, ctx.const(node.params["p"], node.output.dtype)])


@lowering("hardtanh")
def _hardtanh(ctx: LoweringContext, node: Node, x: str) -> str:
    """hardtanh and relu6: ONNX Clip (the subgradient at the bounds only matters in training)."""
    dt = node.output.dtype
    return ctx.op("Clip", [x, ctx.const(node.params["lo"], dt), ctx.const(node.params["hi"], dt)])


@lowering("clip")
def _clip(ctx: LoweringContext, node: Node, x: str) -> str:
    """$\\min(\\max(x, lo), hi)$; a missing bound is an empty input."""
    dt = node.output.dtype
    lo, hi = node.params["lo"], node.params["hi"]
    return ctx.op(
        "Clip",
        [x, "" if lo is None else ctx.const(lo, dt), "" if hi is None else ctx.const(hi, dt)],
    )


@lowering("where")
def _where(ctx: LoweringContext, node: Node, a: str, b: str) -> str:
    """$c ? a : b$ with the mask recorded as a constant."""
    cond = ctx.const(np.asarray(node.params["cond"], dtype=bool))
    return ctx.op("Where", [cond, *_same_dtype(ctx, node, [a, b])])


@lowering("cast")
def _cast(ctx: LoweringContext, node: Node, x: str) -> str:
    """$y = x$ stored as the target dtype."""
    return ctx.cast(x, node.inputs[0].dtype, node.output.dtype)


# --- reductions and softmax ------------------------------------------------------------


def _axes(node: Node) -> list[int]:
    axis, ndim = node.params.get("axis"), len(node.inputs[0].shape)
    if axis is None:
        return list(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return sorted(a % ndim for a in axes)


@lowering("sum", "max", "min", "logsumexp")
def _reduce(ctx: LoweringContext, node: Node, x: str) -> str:
    """$y = \\mathrm{reduce}_{axis}\\, x$ (ReduceSum's axes are an input from opset 13, the
    others' from opset 18)."""
    op = {"sum": "ReduceSum", "max": "ReduceMax", "min": "ReduceMin"}.get(
        node.prim, "ReduceLogSumExp"
    )
    since = 13 if op == "ReduceSum" else 18
    keep = int(bool(node.params.get("keepdims", False)))
    return ctx.axes(op, x, _axes(node), since, keepdims=keep)


@lowering("softmax", "log_softmax")
def _softmax(ctx: LoweringContext, node: Node, x: str) -> str:
    """$e^{x_i} / \\sum_j e^{x_j}$ (or its log) along `axis`."""
    op = "Softmax" if node.prim == "softmax" else "LogSoftmax"
    return ctx.op(op, [x], axis=int(node.params["axis"]))


# --- shapes ----------------------------------------------------------------------


@lowering("reshape")
def _reshape(ctx: LoweringContext, node: Node, x: str) -> str:
    """The same elements in a new shape (batch-sized entries computed at run time)."""
    return ctx.op("Reshape", [x, ctx.shape(node.params["shape"])])


@lowering("permute")
def _permute(ctx: LoweringContext, node: Node, x: str) -> str:
    """$y = x^{T(axes)}$."""
    return ctx.op("Transpose", [x], perm=[int(a) for a in node.params["axes"]])


@lowering("broadcast_to")
def _broadcast_to(ctx: LoweringContext, node: Node, x: str) -> str:
    """Broadcast to `shape` (Expand)."""
    return ctx.op("Expand", [x, ctx.shape(node.params["shape"])])


@lowering("sum_to")
def _sum_to(ctx: LoweringContext, node: Node, x: str) -> str:
    """Sum over the axes broadcasting added or stretched, then reshape to `shape`."""
    src, dst = node.inputs[0].shape, node.params["shape"]
    lead = len(src) - len(dst)
    axes = list(range(lead)) + [
        i + lead for i, s in enumerate(dst) if s == 1 and src[i + lead] != 1
    ]
    y = ctx.axes("ReduceSum", x, axes, 13, keepdims=1) if axes else x
    return ctx.op("Reshape", [y, ctx.shape(dst)])


def _concat_lowering(ctx: LoweringContext, node: Node, *xs: str) -> str:
    """$y = [x_1, \\dots, x_n]$ along `axis`."""
    ndim = len(node.output.shape)
    return ctx.op("Concat", _same_dtype(ctx, node, xs), axis=int(node.params["axis"]) % ndim)


lowering("concatenate")(_concat_lowering)


@lowering("pad")
def _pad(ctx: LoweringContext, node: Node, x: str) -> str:
    """Constant padding: ONNX pads are all begins, then all ends."""
    pw = [(int(a), int(b)) for a, b in node.params["pad_width"]]
    pads = ctx.const([a for a, _ in pw] + [b for _, b in pw], np.int64)
    value = ctx.const(node.params.get("value", 0.0), node.output.dtype)
    return ctx.op("Pad", [x, pads, value], mode="constant")


_BIG = 2**62  # an unbounded Slice end (ONNX clamps it to the axis length)


def _slice_bounds(node: Node, item: slice, size) -> tuple[int, int, int]:
    """ONNX Slice's start, end and step for a Python slice of an axis of length `size`."""
    if not isinstance(size, Dyn):
        start, stop, step = item.indices(static_shape(node, [size], "sliced axis")[0])
        if step < 0 and stop < 0:
            stop = -_BIG  # slicing to the front: ONNX clamps, -1 would wrap
        return start, stop, step
    # a dynamic axis: Python's and ONNX's rules agree on negative and out-of-range bounds
    step = 1 if item.step is None else int(item.step)
    start = (0 if step > 0 else _BIG) if item.start is None else int(item.start)
    stop = (_BIG if step > 0 else -_BIG) if item.stop is None else int(item.stop)
    return start, stop, step


def _slice_parts(node: Node):
    """Split a basic index into (starts, ends, axes, steps), axes to squeeze and to insert."""
    idx = node.params["idx"]
    idx = idx if isinstance(idx, tuple) else (idx,)
    shape = node.inputs[0].shape
    starts, ends, axes, steps, squeeze, unsqueeze = [], [], [], [], [], []
    axis = out_axis = 0
    for item in idx:
        if item is None:
            unsqueeze.append(out_axis)
            out_axis += 1
            continue
        if isinstance(item, slice):
            if item != slice(None):
                start, stop, step = _slice_bounds(node, item, shape[axis])
                starts.append(start), ends.append(stop), axes.append(axis), steps.append(step)
            out_axis += 1
        elif isinstance(item, (int, np.integer)):
            i = int(item)
            if not isinstance(shape[axis], Dyn):
                i %= int(shape[axis])
            # a negative index on a dynamic axis counts from its end at run time (ONNX Slice
            # adds the length to negative bounds, as Python does)
            starts.append(i), ends.append(_BIG if i == -1 else i + 1), axes.append(axis)
            steps.append(1)
            squeeze.append(axis)
        else:
            raise UnsupportedPrimitiveError(
                f"onnx.export: getitem index {item!r} (arrays, masks, Ellipsis) has no lowering"
            )
        axis += 1
    return starts, ends, axes, steps, squeeze, unsqueeze


@lowering("getitem")
def _getitem(ctx: LoweringContext, node: Node, x: str) -> str:
    """$y = x[idx]$ for basic indices (slices, integers, None) via Slice/Squeeze/Unsqueeze."""
    starts, ends, axes, steps, squeeze, unsqueeze = _slice_parts(node)
    y = x
    if axes:
        i64 = np.int64
        y = ctx.op(
            "Slice",
            [y, ctx.const(starts, i64), ctx.const(ends, i64), ctx.const(axes, i64),
             ctx.const(steps, i64)],
        )  # fmt: skip
    if squeeze:
        y = ctx.axes("Squeeze", y, squeeze, 13)
    if unsqueeze:
        y = ctx.axes("Unsqueeze", y, unsqueeze, 13)
    return y if y != x else ctx.op("Identity", [x])


# --- linear layers, convolution, pooling ------------------------------------------------


@lowering("linear")
def _linear(ctx: LoweringContext, node: Node, x: str, w: str, b: str | None = None) -> str:
    """$y = x W^T + b$: Gemm for 2-D inputs, else MatMul with the transposed weight."""
    if len(node.inputs[0].shape) == 2:
        return ctx.op("Gemm", [x, w] + ([b] if b else []), transB=1)
    y = ctx.op("MatMul", [x, ctx.op("Transpose", [w], perm=[1, 0])])
    return ctx.op("Add", [y, b]) if b else y


def _conv_attrs(node: Node) -> dict:
    p = node.params
    pads = [int(a) for a, _ in p["padding"]] + [int(b) for _, b in p["padding"]]
    w = static_shape(node, node.inputs[1].shape, "weight shape")
    return {
        "kernel_shape": list(w[2:]),
        "strides": [int(s) for s in p["stride"]],
        "pads": pads,
        "dilations": [int(d) for d in p["dilation"]],
        "group": int(p["groups"]),
    }


@lowering("conv", "conv_bias")
def _conv(ctx: LoweringContext, node: Node, x: str, w: str, b: str | None = None) -> str:
    """$y = w \\star x (+ b)$, cross-correlation with weight OIHW."""
    return ctx.op("Conv", [x, w] + ([b] if b else []), **_conv_attrs(node))


@lowering("conv_transpose")
def _conv_transpose(ctx: LoweringContext, node: Node, y: str, w: str) -> str:
    """The adjoint of conv (weight (Cin, Cout/groups, k...)); output_padding gives `size`."""
    attrs = _conv_attrs(node)
    insz = static_shape(node, node.inputs[0].shape[2:], "input size")
    size = [int(s) for s in node.params["size"]]
    k, s, d, pads = attrs["kernel_shape"], attrs["strides"], attrs["dilations"], attrs["pads"]
    nd = len(size)
    full = [
        (insz[i] - 1) * s[i] - pads[i] - pads[i + nd] + d[i] * (k[i] - 1) + 1 for i in range(nd)
    ]
    attrs["output_padding"] = [size[i] - full[i] for i in range(nd)]
    return ctx.op("ConvTranspose", [y, w], **attrs)


@lowering("channel_bias")
def _channel_bias(ctx: LoweringContext, node: Node, y: str, b: str) -> str:
    """$y_{n,c,\\dots} + b_c$."""
    ndim = len(node.inputs[0].shape)
    c = static_shape(node, node.inputs[1].shape, "bias shape")[0]
    return ctx.op(
        "Add", [y, ctx.op("Reshape", [b, ctx.const([1, c] + [1] * (ndim - 2), np.int64)])]
    )


def _per_channel(ctx: LoweringContext, node: Node, v: str) -> str:
    """A (C,) input reshaped to (1, C, 1, ...) against the node's first input."""
    ndim = len(node.inputs[0].shape)
    c = static_shape(node, node.inputs[1].shape, "per-channel shape")[0]
    return ctx.op("Reshape", [v, ctx.const([1, c] + [1] * (ndim - 2), np.int64)])


@lowering("channel_affine")
def _channel_affine(ctx: LoweringContext, node: Node, x: str, a: str, b: str) -> str:
    """$x_{n,c,\\dots} a_c + b_c$ (batch norm's map, ops/channel_norm.py)."""
    scaled = ctx.op("Mul", [x, _per_channel(ctx, node, a)])
    return ctx.op("Add", [scaled, _per_channel(ctx, node, b)])


@lowering("channel_scale")
def _channel_scale(ctx: LoweringContext, node: Node, x: str, a: str) -> str:
    """$x_{n,c,\\dots} a_c$."""
    return ctx.op("Mul", [x, _per_channel(ctx, node, a)])


def _pool_attrs(node: Node, dilation: bool = True) -> dict:
    p = node.params
    attrs = {
        "kernel_shape": [int(k) for k in p["kernel"]],
        "strides": [int(s) for s in p["stride"]],
        "pads": [int(a) for a, _ in p["padding"]] + [int(b) for _, b in p["padding"]],
    }
    if dilation:
        attrs["dilations"] = [int(d) for d in p["dilation"]]
    return attrs


@lowering("max_pool")
def _max_pool(ctx: LoweringContext, node: Node, x: str) -> str:
    """$y = \\max_{k} x_{pad}[s p + d k]$ (padding acts as $-\\infty$, as in ONNX)."""
    return ctx.op("MaxPool", [x], **_pool_attrs(node))


@lowering("window_sum")
def _window_sum(ctx: LoweringContext, node: Node, x: str) -> str:
    """$y = \\sum_k x_{pad}[s p + d k]$ as AveragePool (zeros counted) times the window size."""
    dil = [int(d) for d in node.params["dilation"]]
    if any(d != 1 for d in dil) and ctx.opset < 19:
        raise UnsupportedPrimitiveError(
            f"onnx.export: window_sum with dilation {tuple(dil)} needs opset_version >= 19"
        )
    attrs = _pool_attrs(node, dilation=any(d != 1 for d in dil))
    avg = ctx.op("AveragePool", [x], count_include_pad=1, **attrs)
    area = int(np.prod(attrs["kernel_shape"]))
    return ctx.op("Mul", [avg, ctx.const(area, node.output.dtype)])


_PAD_MODES = {"reflect": ("reflect", 11), "replicate": ("edge", 11), "circular": ("wrap", 19)}


@lowering("pad_nd")
def _pad_nd(ctx: LoweringContext, node: Node, x: str) -> str:
    """Reflect / replicate / circular padding: ONNX Pad modes reflect, edge, wrap."""
    mode, since = _PAD_MODES[node.params["mode"]]
    if ctx.opset < since:
        raise UnsupportedPrimitiveError(
            f"onnx.export: pad_nd mode {node.params['mode']!r} needs opset_version >= {since}"
        )
    pw = [(int(a), int(b)) for a, b in node.params["pad"]]
    pads = ctx.const([a for a, _ in pw] + [b for _, b in pw], np.int64)
    return ctx.op("Pad", [x, pads], mode=mode)

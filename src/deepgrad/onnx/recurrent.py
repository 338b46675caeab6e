"""Module lowerings of the recurrent layers and the embedding (see `modules.py`).

`nn.LSTM`, `nn.GRU` and `nn.RNN` become one native ONNX `LSTM`/`GRU`/`RNN`
operator per layer (both directions in one, `direction="bidirectional"`), which
ONNX Runtime runs as a fused kernel; the layer's forward is not traced, so a
Python loop over time steps does not fix the sequence length.  The weights are
rearranged from PyTorch's layout into ONNX's:

* gate order: PyTorch's LSTM rows are $[i, f, g, o]$, ONNX's $[i, o, f, c]$;
  PyTorch's GRU $[r, z, n]$, ONNX's $[z, r, h]$; an Elman RNN has one gate;
* `W` (D, G H, in), `R` (D, G H, H) stack the directions (forward, reverse) of
  `weight_ih_l{k}` and `weight_hh_l{k}`; `B` (D, 2 G H) is `[bias_ih; bias_hh]`;
* PyTorch's GRU applies the reset gate after the recurrent matmul,
  $n = \\tanh(W_{in} x + b_{in} + r (W_{hn} h + b_{hn}))$: `linear_before_reset=1`.

Input and output run time-major inside (a `batch_first` layer gets Transposes,
which every opset has, rather than opset 14's `layout`); ONNX's `Y` (T, D, N, H)
becomes PyTorch's (T, N, D H), and the per-layer final states are concatenated
into h_n (and c_n) (L D, N, H).  A Tensor `mask=` (a graph input) becomes
`sequence_lens`, its True steps per sequence: deepgrad's semantics for prefix masks
(right-padded batches).  Not exported (a clear error): `proj_size`, a NumPy `mask=`
and `PackedSequence` input.
"""

from __future__ import annotations

import numpy as np

from ..nn import GRU, LSTM, RNN, Embedding, GRUCell, LSTMCell, RNNCell
from .lowering import LoweringContext, UnsupportedPrimitiveError
from .modules import call_arguments, module_lowering
from .trace import Node

# PyTorch's gate blocks in ONNX's order, and the ONNX operator, per layer class
_GATES = {LSTM: [0, 3, 1, 2], GRU: [1, 0, 2], RNN: [0], LSTMCell: [0, 3, 1, 2],
          GRUCell: [1, 0, 2], RNNCell: [0]}  # fmt: skip
_OP = {LSTM: "LSTM", GRU: "GRU", RNN: "RNN", LSTMCell: "LSTM", GRUCell: "GRU", RNNCell: "RNN"}


def _param_name(node: Node, name: str) -> str:
    path = node.params["path"]
    return f"{path}.{name}" if path else name


def _onnx_weights(m, suffixes: list[str], order: list[int]) -> tuple[np.ndarray, ...]:
    """ONNX's W, R and B (None without bias) from PyTorch's `weight_ih{sfx}`, ... for each
    direction's suffix (`_l0`, `_l0_reverse`; "" for a cell)."""
    h = m.hidden_size
    get = lambda name, sfx: getattr(m, name + sfx)._data
    blocks = lambda a: np.concatenate([a[g * h : (g + 1) * h] for g in order], axis=0)
    w = np.stack([blocks(get("weight_ih", sfx)) for sfx in suffixes])
    r = np.stack([blocks(get("weight_hh", sfx)) for sfx in suffixes])
    if not m.bias:
        return w, r, None
    b = np.stack(
        [np.concatenate([blocks(get("bias_ih", sfx)), blocks(get("bias_hh", sfx))])
         for sfx in suffixes]
    )  # fmt: skip
    return w, r, b


def _op_attrs(m, dirs: int) -> dict:
    kind = _kind(m)
    attrs = {"hidden_size": m.hidden_size, "direction": "bidirectional" if dirs == 2 else "forward"}
    if kind in (GRU, GRUCell):
        attrs["linear_before_reset"] = 1
    if kind in (RNN, RNNCell):
        attrs["activations"] = ["Tanh" if m.nonlinearity == "tanh" else "Relu"] * dirs
    return attrs


def _apply(
    ctx, node, m, x: str, weights: tuple, tag: str, h0: str, c0: str, lens: str = ""
) -> list[str]:
    """One ONNX LSTM/GRU/RNN node (initial states and lengths "" when absent); returns Y,
    Y_h[, Y_c]."""
    op = _OP[_kind(m)]
    names = [ctx.weight(_param_name(node, f"onnx_{p}{tag}"), a)
             for p, a in zip("WRB", weights) if a is not None]  # fmt: skip
    ins = [x, *names, *([""] if weights[2] is None else []), lens, h0]
    if op == "LSTM":
        ins.append(c0)
    while ins[-1] == "":
        ins.pop()
    return ctx.op_multi(op, ins, 3 if op == "LSTM" else 2, **_op_attrs(m, len(weights[0])))


def _what(node: Node) -> str:
    return f"onnx.export: {type(node.module).__name__} ({node.params['path'] or 'the model'})"


def _tensor_arg(node: Node, args: dict, key: str) -> str:
    """The ONNX name of the call's argument `key`; an error when it is not a graph Tensor."""
    if not isinstance(args.get(key), str):
        raise UnsupportedPrimitiveError(
            f"{_what(node)} argument {key!r} must be a Tensor computed in the graph to export, "
            f"got {type(args.get(key)).__name__} (a NumPy array or a PackedSequence is not)"
        )
    return args[key]


def _check(m, node: Node, args: dict) -> None:
    what = _what(node)
    if getattr(m, "proj_size", 0):
        raise UnsupportedPrimitiveError(
            f"{what} has proj_size={m.proj_size}, which ONNX's LSTM lacks"
        )
    if args.get("mask") is not None and not isinstance(args["mask"], str):
        raise UnsupportedPrimitiveError(
            f"{what} is called with a NumPy mask=; pass the mask as a Tensor input of the model "
            "to export it (as ONNX's sequence_lens)"
        )
    _tensor_arg(node, args, "input")


def _layer_states(ctx: LoweringContext, state: str | None, layer: int, dirs: int) -> str:
    """Layer `layer`'s slice (D, N, H) of an initial state (L D, N, H); "" when absent."""
    if state is None:
        return ""
    i64 = np.int64
    return ctx.op(
        "Slice",
        [state, ctx.const([layer * dirs], i64), ctx.const([(layer + 1) * dirs], i64),
         ctx.const([0], i64)],
    )  # fmt: skip


def _run_layers(ctx, node, m, x: str, h0: str | None, c0: str | None, lens: str) -> tuple:
    """Every layer's ONNX operator; returns output (T, N, D H), h_n and c_n (or None)."""
    dirs = 2 if m.bidirectional else 1
    h_n, c_n = [], []
    for layer in range(m.num_layers):
        sfx = [f"_l{layer}", f"_l{layer}_reverse"][:dirs]
        weights = _onnx_weights(m, sfx, _GATES[_kind(m)])
        h, c = (_layer_states(ctx, s, layer, dirs) for s in (h0, c0))
        outs = _apply(ctx, node, m, x, weights, f"_l{layer}", h, c, lens)
        y = outs[0]  # (T, D, N, H)
        if dirs == 1:
            x = ctx.axes("Squeeze", y, [1], 13)
        else:
            y = ctx.op("Transpose", [y], perm=[0, 2, 1, 3])
            x = ctx.op("Reshape", [y, ctx.const([0, 0, -1], np.int64)])
        h_n.append(outs[1])
        c_n.extend(outs[2:])
    cat = lambda s: s[0] if len(s) == 1 else ctx.op("Concat", s, axis=0)
    return x, cat(h_n), (cat(c_n) if c_n else None)


def _kind(m) -> type:
    return next(c for c in _GATES if isinstance(m, c))


def _lengths(ctx: LoweringContext, mask: str | None, time_axis: int, unbatched: bool) -> str:
    """ONNX's sequence_lens (N,) int32 from a boolean mask: its True steps per sequence.

    That is deepgrad's masked run exactly for prefix masks (right-padded batches, what
    `PackedSequence` input means); a mask with holes would run differently."""
    if mask is None:
        return ""
    counts = ctx.op("Cast", [mask], to=ctx.helper.np_dtype_to_tensor_dtype(np.dtype(np.int32)))
    return ctx.axes("ReduceSum", counts, [time_axis], 13, keepdims=int(unbatched))  # (N,)


def _recurrent(ctx: LoweringContext, node: Node, *names: str) -> tuple[str, ...]:
    """$(y, h_n[, c_n]) = \\mathrm{RNN}(x, h_0[, c_0])$ as ONNX LSTM/GRU/RNN per layer."""
    m = node.module
    args = call_arguments(node, names)
    _check(m, node, args)
    hx = args.get("hx")
    h0, c0 = (hx if hx is not None else (None, None)) if isinstance(m, LSTM) else (hx, None)
    x = args["input"]
    unbatched = len(node.inputs[0].shape) == 2
    if unbatched:  # (T, in): a batch of one; states (L D, H)
        x = ctx.axes("Unsqueeze", x, [1], 13)
        h0, c0 = (None if s is None else ctx.axes("Unsqueeze", s, [1], 13) for s in (h0, c0))
    elif m.batch_first:
        x = ctx.op("Transpose", [x], perm=[1, 0, 2])
    lens = _lengths(ctx, args.get("mask"), int(m.batch_first and not unbatched), unbatched)
    y, h_n, c_n = _run_layers(ctx, node, m, x, h0, c0, lens)
    if unbatched:
        y, h_n = ctx.axes("Squeeze", y, [1], 13), ctx.axes("Squeeze", h_n, [1], 13)
        c_n = None if c_n is None else ctx.axes("Squeeze", c_n, [1], 13)
    elif m.batch_first:
        y = ctx.op("Transpose", [y], perm=[1, 0, 2])
    return (y, h_n) if c_n is None else (y, h_n, c_n)


for _cls in (LSTM, GRU, RNN):
    module_lowering(_cls)(_recurrent)


def _cell(ctx: LoweringContext, node: Node, *names: str) -> str | tuple[str, str]:
    """One step, $h' = \\mathrm{cell}(x, h)$ (LSTMCell: $(h', c')$), as the sequence operator
    over a sequence of length 1 (ONNX has no cell operator)."""
    m = node.module
    args = call_arguments(node, names)
    hx = args.get("hx")
    h0, c0 = (hx if hx is not None else (None, None)) if isinstance(m, LSTMCell) else (hx, None)
    axes = [0, 1] if len(node.inputs[0].shape) == 1 else [0]  # unbatched: (in,) -> (1, 1, in)
    lift = lambda s: "" if s is None else ctx.axes("Unsqueeze", s, axes, 13)
    weights = _onnx_weights(m, [""], _GATES[_kind(m)])
    x = lift(_tensor_arg(node, args, next(iter(args))))  # `x` here, `input` in PyTorch
    outs = _apply(ctx, node, m, x, weights, "", lift(h0), lift(c0))
    states = [ctx.axes("Squeeze", s, axes, 13) for s in outs[1:]]
    return states[0] if len(states) == 1 else tuple(states)


for _cls in (LSTMCell, GRUCell, RNNCell):
    module_lowering(_cls)(_cell)


@module_lowering(Embedding)
def _embedding(ctx: LoweringContext, node: Node, *names: str) -> str:
    """$y = W[i]$: Gather of the weight's rows (the index tensor is a graph value, so the
    lookup is recomputed for every input, unlike a traced NumPy index)."""
    args = call_arguments(node, names)
    indices = _tensor_arg(node, args, next(iter(args)))
    w = ctx.weight(_param_name(node, "weight"), node.module.weight._data)
    return ctx.op("Gather", [w, indices], axis=0)

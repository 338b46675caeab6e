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
into h_n (and c_n) (L D, N, H).  Not exported (a clear error): `proj_size`,
`mask=` and `PackedSequence` input, which have no ONNX counterpart here.
"""

from __future__ import annotations

import numpy as np

from ..nn import GRU, LSTM, RNN, Embedding
from .lowering import LoweringContext, UnsupportedPrimitiveError
from .modules import call_arguments, module_lowering
from .trace import Node

_GATES = {LSTM: [0, 3, 1, 2], GRU: [1, 0, 2], RNN: [0]}  # PyTorch blocks in ONNX's order


def _param_name(node: Node, name: str) -> str:
    path = node.params["path"]
    return f"{path}.{name}" if path else name


def _stack_layer(m, layer: int, order: list[int]) -> tuple[np.ndarray, ...]:
    """ONNX's W, R and B (or None without bias) of layer `layer`, both directions."""
    h, dirs = m.hidden_size, 2 if m.bidirectional else 1
    get = lambda n, d: getattr(m, f"{n}_l{layer}" + ("_reverse" if d else ""))
    blocks = lambda a: np.concatenate([a[g * h : (g + 1) * h] for g in order], axis=0)
    w = np.stack([blocks(get("weight_ih", d).data) for d in range(dirs)])
    r = np.stack([blocks(get("weight_hh", d).data) for d in range(dirs)])
    if not m.bias:
        return w, r, None
    b = np.stack(
        [np.concatenate([blocks(get("bias_ih", d).data), blocks(get("bias_hh", d).data)])
         for d in range(dirs)]
    )  # fmt: skip
    return w, r, b


def _check(m, node: Node, args: dict) -> None:
    what = f"onnx.export: {type(m).__name__} ({node.params['path'] or 'the model'})"
    if getattr(m, "proj_size", 0):
        raise UnsupportedPrimitiveError(
            f"{what} has proj_size={m.proj_size}, which ONNX's LSTM lacks"
        )
    if args.get("mask") is not None:
        raise UnsupportedPrimitiveError(f"{what} is called with mask=, which is not exported")
    if not isinstance(args["input"], str):
        raise UnsupportedPrimitiveError(
            f"{what} input must be a Tensor (a PackedSequence is not exported), got "
            f"{type(args['input']).__name__}"
        )


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


def _run_layers(ctx, node, m, x: str, h0: str | None, c0: str | None) -> tuple:
    """Every layer's ONNX operator; returns output (T, N, D H), h_n and c_n (or None)."""
    dirs = 2 if m.bidirectional else 1
    op = {LSTM: "LSTM", GRU: "GRU", RNN: "RNN"}[_kind(m)]
    attrs = {"hidden_size": m.hidden_size, "direction": "bidirectional" if dirs == 2 else "forward"}
    if op == "GRU":
        attrs["linear_before_reset"] = 1
    if op == "RNN":
        attrs["activations"] = ["Tanh" if m.nonlinearity == "tanh" else "Relu"] * dirs
    h_n, c_n = [], []
    for layer in range(m.num_layers):
        w, r, b = _stack_layer(m, layer, _GATES[_kind(m)])
        names = [ctx.weight(_param_name(node, f"onnx_{p}_l{layer}"), a)
                 for p, a in (("W", w), ("R", r), ("B", b)) if a is not None]  # fmt: skip
        ins = [x, *names, *([""] if b is None else []), "", _layer_states(ctx, h0, layer, dirs)]
        if op == "LSTM":
            ins.append(_layer_states(ctx, c0, layer, dirs))
        while ins[-1] == "":
            ins.pop()
        outs = ctx.op_multi(op, ins, 3 if op == "LSTM" else 2, **attrs)
        y = outs[0]  # (T, D, N, H)
        if dirs == 1:
            x = ctx.axes("Squeeze", y, [1], 13)
        else:
            y = ctx.op("Transpose", [y], perm=[0, 2, 1, 3])
            x = ctx.op("Reshape", [y, ctx.const([0, 0, -1], np.int64)])
        h_n.append(outs[1])
        if op == "LSTM":
            c_n.append(outs[2])
    cat = lambda s: s[0] if len(s) == 1 else ctx.op("Concat", s, axis=0)
    return x, cat(h_n), (cat(c_n) if c_n else None)


def _kind(m) -> type:
    return next(c for c in (LSTM, GRU, RNN) if isinstance(m, c))


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
    y, h_n, c_n = _run_layers(ctx, node, m, x, h0, c0)
    if unbatched:
        y, h_n = ctx.axes("Squeeze", y, [1], 13), ctx.axes("Squeeze", h_n, [1], 13)
        c_n = None if c_n is None else ctx.axes("Squeeze", c_n, [1], 13)
    elif m.batch_first:
        y = ctx.op("Transpose", [y], perm=[1, 0, 2])
    return (y, h_n) if c_n is None else (y, h_n, c_n)


for _cls in (LSTM, GRU, RNN):
    module_lowering(_cls)(_recurrent)


@module_lowering(Embedding)
def _embedding(ctx: LoweringContext, node: Node, indices: str) -> str:
    """$y = W[i]$: Gather of the weight's rows (the index tensor is a graph value, so the
    lookup is recomputed for every input, unlike a traced NumPy index)."""
    w = ctx.weight(_param_name(node, "weight"), node.module.weight.data)
    return ctx.op("Gather", [w, indices], axis=0)

"""`summary(model, input_shape)`: per-layer output shapes, parameter counts and receptive fields.

The receptive field of layer k follows Araujo et al. (2019) / Dumoulin & Visin (2016):

    r_k = r_{k-1} + (f_k - 1) * j_{k-1}          size, with f_k = d (F - 1) + 1 (dilation)
    j_k = j_{k-1} * s_k                           jump: input pixels between adjacent outputs
    start_k = start_{k-1} + ((f_k - 1)/2 - p_k) * j_{k-1}   centre of the first output

so r_k = r_0 + sum_i (f_i - 1) prod_{l<i} s_l.  It is tracked per tensor through the
layers' forward hooks (a layer's input field is the one of the tensor it received, or the
most recent one when that tensor came from a functional op); layers that see the whole
input (Linear, adaptive and global pooling) report the full input size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core.state import enable_grad
from ..core.tensor import Tensor
from .module import Module

__all__ = ["LayerRow", "Summary", "receptive_field_step", "summary"]


@dataclass
class LayerRow:
    """One leaf layer: dotted name, class, output shape, own parameters, receptive field."""

    name: str
    type: str
    output_shape: tuple[int, ...]
    params: int
    trainable: int
    receptive_field: tuple[int, ...] | None
    jump: tuple[int, ...] | None
    start: tuple[float, ...] | None


@dataclass
class Summary:
    """The table as `rows` plus totals; `str()` renders it."""

    rows: list[LayerRow] = field(default_factory=list)
    input_shape: tuple[int, ...] = ()
    total_params: int = 0
    trainable_params: int = 0

    def __str__(self) -> str:
        head = ("layer", "type", "output shape", "params", "RF", "jump", "start")
        body = [
            (r.name, r.type, str(r.output_shape), f"{r.params:,}", _fmt(r.receptive_field),
             _fmt(r.jump), _fmt(r.start))
            for r in self.rows
        ]  # fmt: skip
        widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(head, widths))]
        lines.append("-" * len(lines[0]))
        lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in body]
        lines.append("-" * len(lines[0]))
        lines.append(f"input {self.input_shape}; total params {self.total_params:,}; "
                     f"trainable {self.trainable_params:,}")  # fmt: skip
        return "\n".join(lines)

    __repr__ = __str__


def _fmt(v) -> str:
    if v is None:
        return "-"
    if len(set(v)) == 1:
        return f"{v[0]:g}" if isinstance(v[0], float) else str(v[0])
    return "x".join(f"{a:g}" if isinstance(a, float) else str(a) for a in v)


def _geometry(m: Module, d: int):
    """(kernel, stride, padding-before, dilation) of a windowed layer, else None."""
    if not hasattr(m, "kernel_size") or getattr(m, "_transposed", False):
        return None

    def tup(v, default):
        if v is None:
            v = default
        return (int(v),) * d if np.isscalar(v) else tuple(int(a) for a in v)

    k = tup(m.kernel_size, 1)
    s = tup(getattr(m, "stride", None), k)
    pairs = getattr(m, "_pairs", None)
    p = tuple(lo for lo, _ in pairs) if pairs is not None else tup(getattr(m, "padding", 0), 0)
    dil = tup(getattr(m, "dilation", 1), 1)
    return k, s, p, dil


def receptive_field_step(rf, jump, start, kernel, stride, padding, dilation):
    """One layer of the recurrence: returns the new (size, jump, start) per spatial dim."""
    out_rf, out_j, out_s = [], [], []
    for r, j, st, k, s, p, d in zip(rf, jump, start, kernel, stride, padding, dilation):
        f = d * (k - 1) + 1
        out_rf.append(r + (f - 1) * j)
        out_j.append(j * s)
        out_s.append(st + ((f - 1) / 2 - p) * j)
    return tuple(out_rf), tuple(out_j), tuple(out_s)


def _whole_input(m: Module) -> bool:
    name = type(m).__name__
    return name in ("Linear", "GlobalAvgPool2d") or name.startswith("Adaptive")


def summary(model: Module, input_shape, dtype=np.float32) -> Summary:
    """Run one forward pass on zeros of shape (1, *input_shape) (input_shape excludes the
    batch axis, e.g. (3, 224, 224)) and tabulate each leaf layer: output shape, parameters
    and receptive field (size, jump, start), as a `Summary` (rows + `str()` table)."""
    shape = tuple(int(s) for s in input_shape)
    x = Tensor(np.zeros((1, *shape), dtype), requires_grad=True)
    d = max(x.ndim - 2, 1)
    spatial = x.shape[2:]
    state = {id(x): (x, ((1,) * d, (1,) * d, (0.5,) * d))}
    last = [state[id(x)][1]]
    rows: list[LayerRow] = []
    leaves = [(n, m) for n, m in model.named_modules() if not m._modules and n]
    handles = [
        m.register_forward_hook(_hook(n, m, d, spatial, state, last, rows)) for n, m in leaves
    ]
    try:
        was = model.training
        model.eval()
        with enable_grad():  # the recorded graph links functional ops (relu, add) to layers
            model(x)
    finally:
        model.train(was)
        for h in handles:
            h.remove()
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return Summary(rows, x.shape, total, trainable)


def _field_of(t: Tensor, state: dict, default):
    """A tensor's field: recorded by a layer hook, else the widest field among the tensors a
    functional op (relu, add, concatenate: pointwise in space) made it from."""
    stack, seen = [t], {}
    while stack:
        cur = stack[-1]
        key = id(cur)
        if key in state:
            seen[key] = state[key][1]
            stack.pop()
            continue
        inputs = [i for i in (cur._inputs or ()) if isinstance(i, Tensor)]
        todo = [i for i in inputs if id(i) not in seen and id(i) not in state]
        if todo:
            stack.extend(todo)
            continue
        fields = [state[id(i)][1] if id(i) in state else seen.get(id(i)) for i in inputs]
        fields = [f for f in fields if f is not None]
        seen[key] = max(fields, key=lambda f: (f[0], f[1])) if fields else None
        stack.pop()
    return seen.get(id(t)) or default


def _hook(name, m, d, spatial, state, last, rows):
    def hook(module, inputs, output):
        src = inputs[0] if inputs and isinstance(inputs[0], Tensor) else None
        rf = _field_of(src, state, last[0]) if src is not None else last[0]
        geo = _geometry(module, d)
        if rf is not None and geo is not None and len(geo[0]) == d:
            rf = receptive_field_step(*rf, *geo)
        elif _whole_input(module):
            rf = (tuple(spatial), None, None) if spatial else None
        out = output[0] if isinstance(output, tuple) else output
        if isinstance(out, Tensor):
            state[id(out)] = (out, rf)  # the tensor is kept so its id is not reused
            last[0] = rf
        own = list(module.parameters(recurse=False))
        rows.append(LayerRow(
            name, type(module).__name__, tuple(out.shape) if isinstance(out, Tensor) else (),
            sum(p.numel() for p in own), sum(p.numel() for p in own if p.requires_grad),
            rf[0] if rf else None, rf[1] if rf else None, rf[2] if rf else None,
        ))  # fmt: skip

    return hook

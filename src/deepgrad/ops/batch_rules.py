"""vmap batching rules for today's primitives, built from a few generic families.

A rule maps one call on a batch to one call on the physical values:

    rule(xs, batched, B, **params) -> out,   out[b] = prim(x_1[b], ..., **params)

where `xs[i]` carries the batch on axis 0 when `batched[i]`, and otherwise is
shared by every sample.  Rules use deepgrad ops only, so the batched call is
recorded and differentiated like any other.  A rule may return None to ask
for the loop fallback (an index pattern it does not cover, for example).

New primitives declare their rule inline (`@primitive(..., batch=rule)`); the
table below fills the slot of the primitives that predate vmap, so their files
stay untouched (see docs/design.md, "vmap").
"""

from __future__ import annotations

import numpy as np

from ..core.primitive import REGISTRY
from ..core.tensor import Tensor
from .batched_linear import batched_linear
from .batching import LogicalArray, dispatch_level
from .elementwise import add
from .linalg import matmul


def _p(name: str, *xs: Tensor, **params) -> Tensor:
    return REGISTRY[name](*xs, **params)


def _bc(x: Tensor, nb: int) -> Tensor:
    """Give a shared input the batch axis (a broadcast: its gradient sums over the batch)."""
    shape = tuple(x.shape)
    return _p("broadcast_to", _p("reshape", x, shape=(1,) + shape), shape=(nb,) + shape)


def _all(xs, batched, nb: int) -> list[Tensor]:
    """Every input with the batch axis first and the same rank (NumPy broadcasting of
    constants, which the public wrappers leave unbroadcast, keeps working per sample)."""
    nd = max(x.ndim - b for x, b in zip(xs, batched))
    out = []
    for x, b in zip(xs, batched):
        s = tuple(x.shape[1:] if b else x.shape)
        pad = (1,) * (nd - len(s))
        if b:
            out.append(x if not pad else _p("reshape", x, shape=(nb,) + pad + s))
        else:
            x = _p("reshape", x, shape=(1,) + pad + s)
            out.append(_p("broadcast_to", x, shape=(nb,) + pad + s))
    return out


def _shift(axis):
    """Axis (int or tuple) of one sample -> the same axis with the batch axis in front."""
    if isinstance(axis, tuple):
        return tuple(a + 1 if a >= 0 else a for a in axis)
    return axis + 1 if axis >= 0 else axis


# ---- families ---------------------------------------------------------------------


def elementwise(name: str):
    """Elementwise ops (any arity, equal shapes): give shared inputs the batch axis."""

    def rule(xs, batched, nb, /, **params):
        return _p(name, *_all(xs, batched, nb), **params)

    return rule


def reduction(name: str):
    """Reductions with `axis` (tuple or None) and `keepdims`: shift the axes past the batch."""

    def rule(xs, batched, nb, /, axis=None, **params):
        nd = xs[0].ndim - 1
        ax = tuple(range(1, nd + 1)) if axis is None else _shift(tuple(axis))
        return _p(name, xs[0], axis=ax, **params)

    return rule


def along_axis(name: str, key: str = "axis"):
    """Ops along one int axis (cumsum, softmax, concatenate): shift it past the batch."""

    def rule(xs, batched, nb, /, **params):
        params[key] = _shift(params[key])
        return _p(name, *_all(xs, batched, nb), **params)

    return rule


def prepend(name: str, key: str, lead):
    """Shape ops whose parameter lists one entry per axis: prepend the batch's entry."""

    def rule(xs, batched, nb, /, **params):
        v = params[key]
        params[key] = (nb if lead is None else lead,) + tuple(v)
        return _p(name, *_all(xs, batched, nb), **params)

    return rule


def merge_batch(name: str):
    """Ops on (N, C, ...) inputs whose samples are independent (conv, pooling): the vmap
    batch is folded into N.  Only the first input may be batched (else: loop)."""

    def rule(xs, batched, nb, /, **params):
        if any(batched[1:]):
            return None
        x = xs[0]
        flat = _p("reshape", x, shape=(nb * x.shape[1],) + tuple(x.shape[2:]))
        out = _p(name, flat, *xs[1:], **params)
        return _p("reshape", out, shape=(nb, x.shape[1]) + tuple(out.shape[1:]))

    return rule


# ---- individual rules ---------------------------------------------------------------


def _broadcast_to(xs, batched, nb, /, shape):
    x = xs[0]
    lead = (1,) * (len(shape) - (x.ndim - 1))
    x = _p("reshape", x, shape=(nb,) + lead + tuple(x.shape[1:]))
    return _p("broadcast_to", x, shape=(nb,) + tuple(shape))


def _sum_to(xs, batched, nb, /, shape):
    x = xs[0]
    extra = x.ndim - 1 - len(shape)
    if extra > 0:
        x = _p("sum", x, axis=tuple(range(1, extra + 1)), keepdims=False)
    return _p("sum_to", x, shape=(nb,) + tuple(shape))


def _permute(xs, batched, nb, /, axes):
    return _p("permute", xs[0], axes=(0,) + tuple(a + 1 for a in axes))


def _index(idx):
    """The index with a leading full slice, or None when NumPy would move the batch axis."""
    idx = idx if isinstance(idx, tuple) else (idx,)
    kinds = [isinstance(i, (np.ndarray, list)) for i in idx]
    if any(isinstance(i, (LogicalArray, Tensor)) for i in idx):
        return None
    if any(kinds):
        adv = [
            k
            for k, i in enumerate(idx)
            if kinds[k] or isinstance(i, (int, np.integer)) and not isinstance(i, bool)
        ]
        if adv != list(range(adv[0], adv[-1] + 1)):
            return None  # separated advanced indices go to the front in NumPy
    return (slice(None),) + idx


def _getitem(xs, batched, nb, /, idx):
    new = _index(idx)
    return None if new is None else _p("getitem", xs[0], idx=new)


def _index_add_zeros(xs, batched, nb, /, idx, shape):
    new = _index(idx)
    if new is None:
        return None
    return _p("index_add_zeros", xs[0], idx=new, shape=(nb,) + tuple(shape))


def _gather(xs, batched, nb, /, dim, index):
    if isinstance(index, LogicalArray):
        return None
    full = np.broadcast_to(index, (nb,) + index.shape)
    return _p("gather", xs[0], dim=_shift(dim), index=full)


def _scatter_add(xs, batched, nb, /, dim, index):
    if isinstance(index, LogicalArray):
        return None
    full = np.broadcast_to(index, (nb,) + index.shape)
    return _p("scatter_add", *_all(xs, batched, nb), dim=_shift(dim), index=full)


def _where(xs, batched, nb, /, cond):
    if isinstance(cond, LogicalArray) and cond._level == dispatch_level():
        cond = cond._phys._data
    return _p("where", *_all(xs, batched, nb), cond=cond)


_where.batched_params = ("cond",)


def _matmul(xs, batched, nb, /, **params):
    if params:  # a layout variant of the forward (tests): loop
        return None
    a, b = xs
    la, lb = a.ndim - batched[0], b.ndim - batched[1]
    if la == 1:
        a = _p("reshape", a, shape=tuple(a.shape[:-1]) + (1, a.shape[-1]))
    if lb == 1:
        b = _p("reshape", b, shape=tuple(b.shape) + (1,))
    nd = max(la, lb, 2)
    if batched[0] and max(la, 2) < nd:
        a = _p("reshape", a, shape=(nb,) + (1,) * (nd - max(la, 2)) + tuple(a.shape[1:]))
    if batched[1] and max(lb, 2) < nd:
        b = _p("reshape", b, shape=(nb,) + (1,) * (nd - max(lb, 2)) + tuple(b.shape[1:]))
    out = matmul(a, b)
    shape = tuple(out.shape)
    if la == 1:
        shape = shape[:-2] + shape[-1:]
    if lb == 1:
        shape = shape[:-1]
    return _p("reshape", out, shape=shape)


def _einsum(xs, batched, nb, /, subscripts):
    if "..." in subscripts or "->" not in subscripts:
        return None
    free = next(c for c in "zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQPONMLKJIHGFEDCBA"
                if c not in subscripts)  # fmt: skip
    ins, out = subscripts.split("->")
    parts = [free + s if b else s for s, b in zip(ins.split(","), batched)]
    new = ",".join(parts) + "->" + free + out
    return REGISTRY["einsum"](*xs, subscripts=new)


def _linear(xs, batched, nb, /):
    x, w, b = (*xs, None)[:3]
    if not any(batched[1:]):
        flat = _p("reshape", x, shape=(nb * x.shape[1], x.shape[2]))
        out = _p("linear", flat, *xs[1:])
        return _p("reshape", out, shape=(nb, x.shape[1], w.shape[0]))
    # a per-sample weight (per-sample gradients): one fused product per sample
    x = x if batched[0] else _bc(x, nb)
    w = w if batched[1] else _bc(w, nb)
    y = batched_linear(x, w)
    if b is None:
        return y
    bias = _p("reshape", b, shape=(nb, 1, b.shape[-1])) if batched[2] else b
    return add(y, bias)


def leading(name: str):
    """Ops batched over leading dims already (the torch.linalg family): give every input the
    batch axis and call the op once."""

    def rule(xs, batched, nb, /, **params):
        return _p(name, *[x if b else _bc(x, nb) for x, b in zip(xs, batched)], **params)

    return rule


RULES = {
    "broadcast_to": _broadcast_to,
    "sum_to": _sum_to,
    "reshape": prepend("reshape", "shape", None),
    "permute": _permute,
    "pad": prepend("pad", "pad_width", (0, 0)),
    "getitem": _getitem,
    "index_add_zeros": _index_add_zeros,
    "gather": _gather,
    "scatter_add": _scatter_add,
    "where": _where,
    "matmul": _matmul,
    "einsum": _einsum,
    "linear": _linear,
}
_ELEMENTWISE = [
    "cast", "identity", "neg", "pow_scalar", "exp", "log", "log1p", "expm1", "sqrt", "sin",
    "cos", "tanh", "abs", "sigmoid", "relu", "sign", "clip", "hardtanh", "erf", "softplus",
    "add", "sub", "mul", "div", "pow", "maximum", "minimum", "binary_cross_entropy",
]  # fmt: skip
_REDUCTIONS = ["sum", "max", "min", "logsumexp", "prod", "norm2"]
_ALONG_AXIS = ["cumsum", "softmax", "log_softmax", "concatenate"]
_LEADING = ["linalg_cholesky", "linalg_det", "linalg_eigh", "linalg_eigvalsh", "linalg_inv",
            "linalg_logabsdet", "linalg_matrix_exp", "linalg_pinv", "linalg_qr", "linalg_solve",
            "linalg_svd", "linalg_svdvals"]  # fmt: skip
_MERGE = ["conv", "conv_bias", "conv_transpose", "max_pool", "window_sum", "window_sum_t",
          "channel_bias"]  # fmt: skip
for _family, _names in (
    (elementwise, _ELEMENTWISE), (reduction, _REDUCTIONS), (along_axis, _ALONG_AXIS),
    (merge_batch, _MERGE), (leading, _LEADING),
):  # fmt: skip
    for _n in _names:
        RULES[_n] = _family(_n)


def register() -> None:
    """Fill the batching slot of every primitive that has no inline rule."""
    for name, rule in RULES.items():
        prim = REGISTRY.get(name)
        if prim is not None and prim.batch is None:
            prim.batch = rule


register()

"""Helpers shared by the op families: coercion, explicit broadcasting, dtype promotion.

Binary primitives see inputs of one shape and one dtype.  The public wrappers
make broadcasting explicit (`broadcast_to`, whose adjoint is `sum_to`) for each
input that needs a derivative; a constant input keeps its shape, since no
gradient is ever computed for it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..core.primitive import (
    REGISTRY,
    Case,
    Domain,
    ErrorCase,
    Primitive,
    _record,
    apply,
    each,
    primitive,
)
from ..core.state import STATE
from ..core.tensor import Tensor, _wrap, as_tensor
from .validation import check_dims

__all__ = [
    "BINARY_CASES",
    "REGISTRY",
    "UNARY_CASES",
    "Case",
    "Domain",
    "ErrorCase",
    "Tensor",
    "_ones",
    "_wrap",
    "apply",
    "as_tensor",
    "bad_broadcast",
    "bad_complex",
    "bad_type",
    "each",
    "elementwise",
    "primitive",
]  # fmt: skip


def _ones(*shape: int, dtype=np.float64) -> Tensor:
    """A constant tensor of ones, for the invalid calls that error cases make."""
    return Tensor(np.ones(shape, dtype))


def bad_broadcast(name: str, fn: Callable) -> ErrorCase:
    """The error case of a binary op: operands (2, 3) and (4,) do not broadcast."""
    match = rf"{name}: shapes \(2, 3\) and \(4,\) cannot be broadcast"
    return ErrorCase(lambda: fn(_ones(2, 3), _ones(4)), ValueError, match, "broadcast")


def bad_complex(name: str, fn: Callable) -> ErrorCase:
    """The error case of an op on real tensors: a complex input is refused by name."""
    match = rf"{name}: complex tensors are not supported"
    return ErrorCase(lambda: fn(_ones(2, dtype=complex)), TypeError, match, "complex")


def bad_type(name: str, fn: Callable) -> ErrorCase:
    """The error case of a tensor function given a string."""
    match = rf"{name}: expected a Tensor, got str"
    return ErrorCase(lambda: fn("x"), TypeError, match, "not a tensor")


UNARY_SHAPES = [(), (1,), (3,), (2, 3), (0,), (2, 1, 3)]
UNARY_CASES = [Case((s,)) for s in UNARY_SHAPES]
# Broadcast pairs from the issue, plus equal shapes and empties.
BINARY_PAIRS = [
    ((), ()),
    ((3,), (3,)),
    ((1,), ()),
    ((2, 1), (2,)),
    ((1, 3, 2), (3, 2)),
    ((3, 1, 2), (1, 3, 2)),
    ((2, 3), (1,)),
    ((), (2, 2)),
    ((0,), (1,)),
    ((2, 0), (2, 1)),
]
BINARY_CASES = [Case(p) for p in BINARY_PAIRS]


def elementwise(
    name: str,
    partials: Sequence[Callable],
    *,
    domain: Domain | None,
    ans: bool = True,
    doc: str | None = None,
) -> Callable[[Callable], Primitive]:
    r"""Decorator for an n-ary elementwise primitive given its partial derivatives.

    `partials[i](ans, *inputs, **params)` (without `ans` when `ans=False`) returns
    $\partial f / \partial x_i$ elementwise; then VJP_i = g * partial_i and
    JVP_i = t * partial_i (PyTorch's `auto_element_wise`), so the rules are not
    written twice.  Inputs share one shape, as for every elementwise primitive.
    """

    def scaled(d: Callable) -> Callable:
        # `*` is the op `mul` (installed on Tensor by ops), with its hot path
        return lambda g, *args, **p: g * d(*args, **p)

    rules = [scaled(d) for d in partials]
    return primitive(name, vjp=rules, jvp=rules, domain=domain, ans=ans, doc=doc)


def needs(t: Tensor) -> bool:
    """True when a derivative may be asked of `t` (reverse or forward mode)."""
    return t.requires_grad or bool(t._tangents)


def broadcast_shapes(op: str, *shapes: tuple[int, ...]) -> tuple[int, ...]:
    """NumPy broadcasting, with an error naming the op and the clashing axes."""
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        nd = max(len(s) for s in shapes)
        padded = [(1,) * (nd - len(s)) + tuple(s) for s in shapes]
        clash = [
            f"axis {ax - nd} ({' vs '.join(str(p[ax]) for p in padded)})"
            for ax in range(nd)
            if len({p[ax] for p in padded if p[ax] != 1}) > 1
        ]
        raise ValueError(
            f"{op}: shapes {' and '.join(str(tuple(s)) for s in shapes)} cannot be broadcast: "
            f"{', '.join(clash)} differ and neither is 1"
        ) from None


def coerce_pair(a, b) -> tuple[Tensor, Tensor]:
    """Turn scalars/arrays into tensors, applying the weak-scalar rule.

    A Python scalar takes the tensor's dtype (`float32 tensor * 2.0` is float32);
    a Python float next to an integer tensor gives the default float dtype, as
    in PyTorch (NumPy would give float64).
    """
    a_scalar = isinstance(a, float) and not isinstance(b, float)
    b_scalar = isinstance(b, float) and not isinstance(a, float)
    if not isinstance(a, Tensor):
        a = as_tensor(a, like=b if isinstance(b, Tensor) else None)
    if not isinstance(b, Tensor):
        b = as_tensor(b, like=a)
    if a_scalar and b._data.dtype.kind in "iub":
        b = _wrap(b._data.astype(a._data.dtype))
    elif b_scalar and a._data.dtype.kind in "iub":
        a = _wrap(a._data.astype(b._data.dtype))
    return a, b


def prepare(op: str, *xs: Tensor) -> list[Tensor]:
    """Promote dtypes (NumPy rules) and broadcast differentiable inputs to the common shape."""
    # cast and broadcast_to are applied through the registry: their families (cast.py,
    # shape.py) come after this module in the declared order, so it cannot import them.
    xs = list(xs)
    dt0 = xs[0]._data.dtype
    if any(x._data.dtype != dt0 for x in xs):
        # Constants are left to NumPy's promotion in the forward; inputs that need a
        # derivative are cast explicitly so every gradient has its input's dtype.
        dt = np.result_type(*[x._data for x in xs])
        cast = REGISTRY["cast"]
        xs = [apply(cast, x, dtype=dt) if x._data.dtype != dt and needs(x) else x for x in xs]
    s0 = xs[0]._data.shape
    if any(x._data.shape != s0 for x in xs):
        shape = broadcast_shapes(op, *[x._data.shape for x in xs])
        bt = REGISTRY["broadcast_to"]
        xs = [apply(bt, x, shape=shape) if x._data.shape != shape and needs(x) else x for x in xs]
    return xs


def binary(prim, a, b) -> Tensor:
    """Apply binary primitive `prim` with scalar coercion, promotion and broadcasting."""
    if type(a) is not Tensor or type(b) is not Tensor:
        a, b = coerce_pair(a, b)
    if a._data.shape != b._data.shape or a._data.dtype != b._data.dtype:
        a, b = prepare(prim.name, a, b)
    return apply(prim, a, b)


_NO_PARAMS: dict = {}
_BOOL = np.dtype(bool)  # a bool mask times a float keeps the float's dtype


def fast_binary(prim: Primitive, floats_only: bool = False):
    """The public function for an elementwise binary primitive, with a hot path.

    When no op needs the general path (`STATE.fwd` is 0: no forward mode, vmap,
    tracer or anomaly mode), two tensors of one shape and dtype (or a float and a
    bool mask, which never needs a gradient) skip coercion, promotion and
    broadcasting, and the node is recorded inline; so does a float tensor with a
    Python number (NumPy's weak scalar keeps the tensor's dtype).  This is the
    per-op overhead that bench/overhead.py measures.  With `floats_only` (true
    division) only float tensors take the hot path.
    """
    fwd = prim.forward

    def op(a, b) -> Tensor:
        if STATE.fwd or not isinstance(a, Tensor):
            return _scalar_left(prim, a, b)
        ad = a._data
        if isinstance(b, Tensor):
            bd = b._data
            if (
                ad.shape == bd.shape
                and (ad.dtype is bd.dtype or _same_or_mask(ad, bd))
                and (not floats_only or ad.dtype.kind == "f")
            ):
                res = _wrap(fwd(ad, bd))
                if STATE.grad and (a.requires_grad or b.requires_grad):
                    res.requires_grad = True
                    res._prim = prim
                    res._inputs = (a, b)
                    res._params = _NO_PARAMS
                    if STATE.versioned:
                        res._saved_versions = (getattr(a, "_version", 0), getattr(b, "_version", 0))
                return res
        elif (type(b) is float or type(b) is int) and ad.dtype.kind == "f":
            res = _wrap(fwd(ad, b))
            if STATE.grad and a.requires_grad:
                _record(res, prim, (a, as_tensor(b, like=a)), _NO_PARAMS)
            return res
        return binary(prim, a, b)

    def _scalar_left(prim, a, b) -> Tensor:
        """`number (op) float tensor` (rsub, 1 / x), else the general path."""
        if STATE.fwd or not isinstance(b, Tensor) or not (type(a) is float or type(a) is int):
            return binary(prim, a, b)
        bd = b._data
        if bd.dtype.kind != "f":
            return binary(prim, a, b)
        res = _wrap(fwd(a, bd))
        if STATE.grad and b.requires_grad:
            _record(res, prim, (as_tensor(a, like=b), b), _NO_PARAMS)
        return res

    return op


def _same_or_mask(ad: np.ndarray, bd: np.ndarray) -> bool:
    return ad.dtype == bd.dtype or (bd.dtype == _BOOL and ad.dtype.kind == "f")


def norm_axis(axis, ndim: int, op: str) -> tuple[int, ...] | None:
    """Normalise an axis argument (int, tuple or None) to a sorted tuple of non-negative axes."""
    return None if axis is None else check_dims(op, axis, ndim, "axis")


def pick_axis(op: str, axis, dim, keepdims, keepdim):
    """Accept PyTorch's dim/keepdim and NumPy's axis/keepdims alike."""
    if dim is not None:
        if axis is not None:
            raise TypeError(f"{op}: pass either dim or axis, not both")
        axis = dim
    if keepdim is not None:
        keepdims = keepdim
    return axis, bool(keepdims)

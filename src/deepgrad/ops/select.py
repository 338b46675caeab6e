"""Selection and comparison: maximum, minimum, where, safe_where, clip, comparisons.

Each primitive (`maximum_p`, ...) sits right above its public function.  Their
rules multiply by a constant 0/1 mask (1/2 on ties for maximum and minimum),
computed on the arrays: a mask carries no derivative.  The masks are applied
with the registry's `mul`, whose family (`elementwise`) builds on this one.
"""

from __future__ import annotations

import numpy as np

from ._base import (
    BINARY_CASES,
    REGISTRY,
    UNARY_CASES,
    Case,
    Domain,
    ErrorCase,
    Tensor,
    _ones,
    _wrap,
    apply,
    bad_broadcast,
    binary,
    broadcast_shapes,
    coerce_pair,
    elementwise,
    needs,
    prepare,
    primitive,
)
from .shape import broadcast_to
from .validation import real


def _times(g: Tensor, mask) -> Tensor:
    """g * mask (a constant mask of g's shape), recorded like any product."""
    return apply(REGISTRY["mul"], g, mask)


def _max_mask(a: Tensor, b: Tensor) -> Tensor:
    """1 where a > b, 1/2 on ties (tied arguments share the gradient), 0 elsewhere."""
    m = (a._data > b._data) + 0.5 * (a._data == b._data)
    return _wrap(m.astype(a._data.dtype if a._data.dtype.kind == "f" else m.dtype))


@elementwise(
    "maximum",
    [lambda a, b: _max_mask(a, b), lambda a, b: _max_mask(b, a)],
    ans=False,
    domain=Domain(
        BINARY_CASES,
        fn=lambda a, b: maximum(a, b),
        second_order=False,
        errors=[bad_broadcast("maximum", lambda a, b: maximum(a, b))],
    ),
)
def maximum_p(a, b):
    """$\\max(a, b)$ elementwise; ties share the gradient equally (1/2 each, as PyTorch)."""
    return np.maximum(a, b)


def maximum(a, b) -> Tensor:
    """Elementwise maximum; ties share the gradient."""
    return binary(maximum_p, a, b)


@elementwise(
    "minimum",
    [lambda a, b: _max_mask(b, a), lambda a, b: _max_mask(a, b)],
    ans=False,
    domain=Domain(
        BINARY_CASES,
        fn=lambda a, b: minimum(a, b),
        second_order=False,
        errors=[bad_broadcast("minimum", lambda a, b: minimum(a, b))],
    ),
)
def minimum_p(a, b):
    """$\\min(a, b)$ elementwise; ties share the gradient equally (1/2 each, as PyTorch)."""
    return np.minimum(a, b)


def minimum(a, b) -> Tensor:
    """Elementwise minimum; ties share the gradient."""
    return binary(minimum_p, a, b)


def _where_mask(cond, like):
    return _wrap(np.broadcast_to(cond, like.shape))


@primitive(
    "where",
    vjp=[
        lambda g, a, b, cond: _times(g, _where_mask(cond, g)),
        lambda g, a, b, cond: _times(g, _where_mask(~cond, g)),
    ],
    jvp=[
        lambda t, a, b, cond: _times(t, _where_mask(cond, t)),
        lambda t, a, b, cond: _times(t, _where_mask(~cond, t)),
    ],
    ans=False,
    domain=Domain(
        [
            Case(s, lambda rng, s=s: {"cond": rng.random(np.broadcast_shapes(*s)) > 0.5})
            for s in [((3,), (3,)), ((2, 3), (2, 3)), ((), ()), ((2, 1), (2,))]
        ],
        fn=lambda a, b, cond: where(cond, a, b),
        errors=[
            ErrorCase(
                lambda: where(np.ones((2, 3), bool), _ones(2, 3), _ones(4)),
                ValueError,
                r"where: shapes \(2, 3\) and \(4,\)",
            )
        ],
    ),
)
def where_p(a, b, cond):
    """$c ? a : b$ elementwise; d/da = c, d/db = 1 - c."""
    return np.where(cond, a, b)


def where(cond, a, b) -> Tensor:
    """Elements of `a` where `cond` holds, else of `b` (broadcasting all three).

    The gradient to each branch is masked, so an unselected branch that is
    non-finite in value or slope (log(0), sqrt'(0)) still poisons it: 0 * inf = NaN,
    as in PyTorch.  Use `safe_where` (the double-where pattern) in that case.
    """
    c = cond._data if isinstance(cond, Tensor) else cond
    c = c if getattr(c, "dtype", None) == bool else np.asarray(c, dtype=bool)  # (vmap: no copy)
    a, b = coerce_pair(a, b)
    a, b = prepare("where", a, b)
    shape = broadcast_shapes("where", a.shape, b.shape, c.shape)
    a = broadcast_to(a, shape) if a.shape != shape and needs(a) else a
    b = broadcast_to(b, shape) if b.shape != shape and needs(b) else b
    return apply(where_p, a, b, cond=c)


def safe_where(cond, fn, x: Tensor, other) -> Tensor:
    """`where(cond, fn(x), other)` whose gradient stays finite where `cond` is False.

    A plain `where(cond, fn(x), other)` still differentiates `fn` at the unselected
    points, and 0 * inf = NaN when fn's derivative is infinite there (sqrt at 0, log at
    0).  This is the double-where pattern: `fn` only ever sees x where cond holds, and
    a harmless 1 elsewhere, so the unselected branch contributes an exact 0.

    >>> import deepgrad as dg
    >>> x = dg.tensor([0.0, 4.0], requires_grad=True)
    >>> dg.safe_where(x.data > 0, dg.sqrt, x, 0.0).sum().backward()
    >>> x.grad.tolist()
    [0.0, 0.25]
    """
    c = np.asarray(cond._data if isinstance(cond, Tensor) else cond, dtype=bool)
    return where(c, fn(where(c, x, 1.0)), other)


def _clip_mask(x, lo, hi):
    m = np.ones(x.shape, dtype=bool)
    if lo is not None:
        m &= x._data >= lo
    if hi is not None:
        m &= x._data <= hi
    return _wrap(m)


@primitive(
    "clip",
    vjp=[lambda g, x, lo, hi: _times(g, _clip_mask(x, lo, hi))],
    jvp=[lambda t, x, lo, hi: _times(t, _clip_mask(x, lo, hi))],
    ans=False,
    domain=Domain(
        [Case(c.shapes, {"lo": -0.5, "hi": 0.7}) for c in UNARY_CASES]
        + [Case(((4,),), {"lo": None, "hi": 0.0}), Case(((4,),), {"lo": 0.0, "hi": None})],
        avoid=(-0.5, 0.7, 0.0),
        second_order=False,
        errors=[
            ErrorCase(
                lambda: clip(_ones(2)), ValueError, r"clip: at least one of min and max must be"
            )
        ],
    ),
)
def clip_p(x, lo, hi):
    """$\\min(\\max(x, lo), hi)$; derivative 1 inside [lo, hi] bounds included (as PyTorch's
    clamp), 0 outside."""
    return np.clip(x, lo, hi)


def clip(x: Tensor, min=None, max=None) -> Tensor:
    """Clamp into [min, max] (either bound may be None)."""
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")
    return apply(clip_p, real("clip", x), lo=min, hi=max)


clamp = clip


def _strict_mask(x, lo, hi):
    return _wrap((x._data > lo) & (x._data < hi))


@primitive(
    "hardtanh",
    vjp=[lambda g, x, lo, hi: _times(g, _strict_mask(x, lo, hi))],
    jvp=[lambda t, x, lo, hi: _times(t, _strict_mask(x, lo, hi))],
    ans=False,
    domain=Domain(
        [Case(c.shapes, {"lo": -0.5, "hi": 0.7}) for c in UNARY_CASES],
        avoid=(-0.5, 0.7),
        second_order=False,
        errors=[
            ErrorCase(
                lambda: hardtanh_bounded(_ones(2), 1.0, -1.0),
                ValueError,
                r"hardtanh: min_val 1.0 must not exceed max_val -1.0",
            )
        ],
    ),
)
def hardtanh_p(x, lo, hi):
    r"""$\min(\max(x, lo), hi)$; derivative 1 strictly inside (lo, hi), 0 at and beyond the
    bounds (PyTorch's hardtanh and relu6 subgradient; `clip` gives 1 at its bounds)."""
    return np.clip(x, lo, hi)


def hardtanh_bounded(x: Tensor, min_val: float, max_val: float) -> Tensor:
    """hardtanh's primitive call: one node, so it exports (ONNX Clip) and batches like clip."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val {min_val} must not exceed max_val {max_val}")
    return apply(hardtanh_p, real("hardtanh", x), lo=min_val, hi=max_val)


def _cmp(fn):
    def op(a, b) -> Tensor:
        a, b = coerce_pair(a, b)
        return _wrap(fn(a._data, b._data))

    op.__doc__ = f"Elementwise `{fn.__name__}` comparison (a bool tensor, not differentiable)."
    return op


eq = _cmp(np.equal)
ne = _cmp(np.not_equal)
lt = _cmp(np.less)
le = _cmp(np.less_equal)
gt = _cmp(np.greater)
ge = _cmp(np.greater_equal)


def isfinite(x: Tensor) -> Tensor:
    """Bool tensor: True where x is neither NaN nor +-Inf."""
    return _wrap(np.isfinite(x._data))


def isnan(x: Tensor) -> Tensor:
    """Bool tensor: True where x is NaN."""
    return _wrap(np.isnan(x._data))

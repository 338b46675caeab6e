"""Reductions: sum, max/min, logsumexp, prod, norm, cumsum, and composites on them.

Reductions take `axis`/`keepdims` (NumPy) or `dim`/`keepdim` (PyTorch).  The
VJP of a reduction broadcasts the gradient back over the reduced axes.
"""

from __future__ import annotations

import numpy as np

from ._base import (
    Case,
    Domain,
    ErrorCase,
    Tensor,
    _ones,
    _wrap,
    apply,
    norm_axis,
    pick_axis,
    primitive,
)
from .cast import cast
from .elementwise import abs as _abs
from .elementwise import (
    add,
    div,
    eq,
    exp,
    isfinite,
    maximum,
    minimum,
    mul,
    safe_where,
    sqrt,
    sub,
    where,
)
from .elementwise import pow as _pow
from .index import take_along_axis
from .shape import broadcast_to, reshape
from .validation import accumulator, check_dim, floating

_RED_CASES = [
    Case(((2, 3),), {"axis": None, "keepdims": False}),
    Case(((2, 3),), {"axis": (1,), "keepdims": False}),
    Case(((2, 3, 4),), {"axis": (0, 2), "keepdims": True}),
    Case(((),), {"axis": None, "keepdims": False}),
    Case(((3,),), {"axis": (0,), "keepdims": True}),
    Case(((0, 3),), {"axis": (0,), "keepdims": False}),
]
_NONEMPTY = [c for c in _RED_CASES if 0 not in c.shapes[0]]


def _keep_shape(shape, axis):
    """Shape after reducing `axis` with keepdims=True."""
    if axis is None:
        return (1,) * len(shape)
    return tuple(1 if i in axis else s for i, s in enumerate(shape))


def _expand(g: Tensor, x: Tensor, axis, keepdims) -> Tensor:
    """Broadcast a reduced gradient back to x's shape."""
    if not keepdims:
        g = reshape(g, _keep_shape(x.shape, axis))
    return broadcast_to(g, x.shape)


@primitive(
    "sum",
    linear=True,
    transpose=[lambda g, x, axis, keepdims: _expand(g, x, axis, keepdims)],
    domain=Domain(
        _RED_CASES,
        errors=[
            ErrorCase(lambda: sum(_ones(2, 3), dim=2), IndexError, r"sum: axis 2 is out of range"),
            ErrorCase(lambda: sum(_ones(2, 3), dim=(0, 0)), ValueError, r"sum: repeated axis"),
        ],
    ),
)
def sum_p(x, axis, keepdims):
    """$\\sum_i x_i$ over `axis`; d/dx_i = 1 (float16/bfloat16 accumulate in float32)."""
    if x.dtype.kind == "f":  # the ufunc directly: np.sum's Python wrapper costs ~2 us a call
        if x.dtype.itemsize < 4:  # half precision accumulates in float32, as PyTorch
            return np.add.reduce(x, axis=axis, keepdims=keepdims, dtype=np.float32).astype(x.dtype)
        return np.add.reduce(x, axis=axis, keepdims=keepdims)
    return np.sum(x, axis=axis, keepdims=keepdims)


def sum(x: Tensor, axis=None, keepdims=False, *, dim=None, keepdim=None, dtype=None) -> Tensor:
    """Sum over `axis` (all axes by default)."""
    axis, keepdims = pick_axis("sum", axis, dim, keepdims, keepdim)
    ax = norm_axis(axis, x.ndim, "sum")
    if x._data.dtype.kind == "b":
        x = _wrap(x._data.astype(np.int64))
    return apply(sum_p, x, axis=ax, keepdims=keepdims)


def _count(x, axis):
    return x._data.size if axis is None else int(np.prod([x.shape[a] for a in axis]))


def mean(x: Tensor, axis=None, keepdims=False, *, dim=None, keepdim=None) -> Tensor:
    """Arithmetic mean over `axis`."""
    axis, keepdims = pick_axis("mean", axis, dim, keepdims, keepdim)
    ax = norm_axis(axis, x.ndim, "mean")
    n = _count(x, ax)
    x = floating("mean", x)
    acc = accumulator(x._data.dtype)
    if acc is not None:  # half precision: the sum and the division in float32, as PyTorch
        return cast(mean(cast(x, acc), axis=ax, keepdims=keepdims), x._data.dtype)
    return mul(sum(x, axis=ax, keepdims=keepdims), 1.0 / n if n else np.nan)


def var(
    x: Tensor, axis=None, keepdims=False, *, correction=1, dim=None, keepdim=None, ddof=None
) -> Tensor:
    """Variance $\\frac{1}{N - c} \\sum (x - \\bar x)^2$ (PyTorch's default correction c = 1)."""
    axis, keepdims = pick_axis("var", axis, dim, keepdims, keepdim)
    if ddof is not None:
        correction = ddof
    ax = norm_axis(axis, x.ndim, "var")
    n = _count(x, ax)
    d = sub(x, mean(x, axis=ax, keepdims=True))
    return mul(
        sum(mul(d, d), axis=ax, keepdims=keepdims),
        1.0 / (n - correction) if n > correction else np.inf,
    )


def std(
    x: Tensor, axis=None, keepdims=False, *, correction=1, dim=None, keepdim=None, ddof=None
) -> Tensor:
    """Standard deviation: sqrt of `var` with the same `correction`.

    The gradient is 0 where the input is constant along `axis` (as PyTorch), not
    0 * inf = NaN: sqrt is taken through `safe_where`, so its infinite slope at 0 is
    never multiplied in.
    """
    v = var(x, axis, keepdims, correction=correction, dim=dim, keepdim=keepdim, ddof=ddof)
    return safe_where(v._data != 0, sqrt, v, 0.0)


def _weighted_rules(weights):
    """VJP and JVP of a reduction y = R(x) whose derivative is dy/dx_i = w_i, w = weights(...).

    x_bar = broadcast(y_bar) * w (back over the reduced axes); y_dot = sum(x_dot * w) over them.
    """

    def vjp(g, ans, x, axis, keepdims):
        return mul(_expand(g, x, axis, keepdims), weights(ans, x, axis, keepdims))

    def jvp(t, ans, x, axis, keepdims):
        return sum(mul(t, weights(ans, x, axis, keepdims)), axis=axis, keepdims=keepdims)

    return {"vjp": [vjp], "jvp": [jvp]}


def _extreme_weights(ans, x, axis, keepdims):
    """d max / d x_i (or min): 1/k on each of the k tied extreme elements, 0 elsewhere."""
    a = ans if keepdims else reshape(ans, _keep_shape(x.shape, axis))
    mask = eq(x, a)
    cnt = np.sum(mask._data, axis=axis, keepdims=True)
    return _wrap(mask._data / cnt)


_MAXMIN_DOMAIN = Domain(_NONEMPTY, second_order=True)


@primitive(
    "max",
    **_weighted_rules(_extreme_weights),
    domain=_MAXMIN_DOMAIN.with_errors(
        ErrorCase(lambda: max(_ones(2, 3), dim=2), IndexError, r"max: axis 2 is out of range"),
        ErrorCase(
            lambda: max(_ones(0, 3)),
            ValueError,
            r"max: reduction over an empty tensor of shape \(0, 3\)",
        ),
    ),
)
def max_p(x, axis, keepdims):
    """$\\max_i x_i$; the gradient goes to the maxima, split equally among ties."""
    return np.max(x, axis=axis, keepdims=keepdims)


def max(x: Tensor, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """$\\max_i x_i$.  With an int `dim` (PyTorch): the named tuple (values, indices).

    `x.max()` gives a 0-d tensor; NumPy's `axis=` (int or tuple) gives the values
    only; a tensor as second argument gives the elementwise `maximum`.
    """
    return _extreme(max_p, np.argmax, "max", x, dim, keepdim, axis, keepdims)


@primitive(
    "min",
    **_weighted_rules(_extreme_weights),
    domain=_MAXMIN_DOMAIN.with_errors(
        ErrorCase(lambda: min(_ones(2, 3), dim=-3), IndexError, r"min: axis -3 is out of range"),
        ErrorCase(lambda: min(_ones(0)), ValueError, r"min: reduction over an empty tensor"),
    ),
)
def min_p(x, axis, keepdims):
    """$\\min_i x_i$; the gradient goes to the minima, split equally among ties."""
    return np.min(x, axis=axis, keepdims=keepdims)


def min(x: Tensor, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """$\\min_i x_i$.  With an int `dim` (PyTorch): the named tuple (values, indices)."""
    return _extreme(min_p, np.argmin, "min", x, dim, keepdim, axis, keepdims)


def _extreme(prim, argfn, name, x, dim, keepdim, axis, keepdims):
    if not isinstance(x, Tensor):  # torch.max(out.data, 1): .data is deepgrad's ndarray
        x = Tensor(x)
    if isinstance(dim, Tensor):
        return (maximum if name == "max" else minimum)(x, dim)
    if keepdims is not None:
        keepdim = keepdims
    if dim is not None and axis is not None:
        raise TypeError(f"{name}: pass either dim or axis, not both")
    ax = norm_axis(dim if axis is None else axis, x.ndim, name)
    if x._data.size == 0:
        raise ValueError(f"{name}: reduction over an empty tensor of shape {x.shape}")
    if axis is None and isinstance(dim, (int, np.integer)):
        # As PyTorch: max/min along a dim return (values, indices), and the gradient goes
        # to the returned index (the first extreme), not split among ties.
        idx = argfn(x._data, axis=ax[0], keepdims=True)
        values = take_along_axis(x, idx, ax[0])
        if not keepdim:
            values = reshape(values, values.shape[: ax[0]] + values.shape[ax[0] + 1 :])
            idx = idx.squeeze(ax[0])
        return ValuesIndices(values, _wrap(idx))
    return apply(prim, x, axis=ax, keepdims=bool(keepdim))


class ValuesIndices(tuple):
    """PyTorch's `(values, indices)` named tuple (`torch.return_types.max`, `sort`, ...)."""

    __slots__ = ()

    def __new__(cls, values, indices):
        return super().__new__(cls, (values, indices))

    @property
    def values(self):
        return self[0]

    @property
    def indices(self):
        return self[1]

    def __repr__(self) -> str:
        return f"(values={self[0]!r}, indices={self[1]!r})"


def argmax(x: Tensor, axis=None, keepdims=False, *, dim=None, keepdim=None) -> Tensor:
    """Index of the maximum (first one on ties); not differentiable."""
    axis, keepdims = pick_axis("argmax", axis, dim, keepdims, keepdim)
    if axis is not None:
        axis = check_dim("argmax", axis, x.ndim)
    return _wrap(np.argmax(x._data, axis=axis, keepdims=keepdims))


def argmin(x: Tensor, axis=None, keepdims=False, *, dim=None, keepdim=None) -> Tensor:
    """Index of the minimum (first one on ties); not differentiable."""
    axis, keepdims = pick_axis("argmin", axis, dim, keepdims, keepdim)
    if axis is not None:
        axis = check_dim("argmin", axis, x.ndim)
    return _wrap(np.argmin(x._data, axis=axis, keepdims=keepdims))


def _lse_weights(ans, x, axis, keepdims):
    """softmax(x) along axis, with 0 where the whole slice is -inf."""
    a = ans if keepdims else reshape(ans, _keep_shape(x.shape, axis))
    safe = where(isfinite(a), a, 0.0)
    return exp(sub(x, safe))


@primitive(
    "logsumexp",
    **_weighted_rules(_lse_weights),
    domain=Domain(
        _NONEMPTY,
        low=-3.0,
        high=3.0,
        errors=[
            ErrorCase(
                lambda: logsumexp(_ones(2, 3), dim=2),
                IndexError,
                r"logsumexp: axis 2 is out of range",
            )
        ],
    ),
)
def logsumexp_p(x, axis, keepdims):
    """$\\log \\sum_i e^{x_i}$, shifted by the max; d/dx = softmax(x)."""
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    if not keepdims:
        out = out.reshape(
            [s for i, s in enumerate(out.shape) if axis is not None and i not in axis]
        )
    return out.astype(x.dtype, copy=False)


def logsumexp(x: Tensor, axis=None, keepdims=False, *, dim=None, keepdim=None) -> Tensor:
    """Stable $\\log \\sum e^x$; all -inf gives -inf with a zero gradient."""
    axis, keepdims = pick_axis("logsumexp", axis, dim, keepdims, keepdim)
    return apply(logsumexp_p, x, axis=norm_axis(axis, x.ndim, "logsumexp"), keepdims=keepdims)


def _prod_others(ans, x, axis, keepdims):
    """d prod / d x_i = product of the other elements, exact with zeros present."""
    zero = eq(x, 0.0)
    nz = np.sum(zero._data, axis=axis, keepdims=True)
    x1 = where(zero, 1.0, x)
    p1 = prod(x1, axis=axis, keepdims=True)
    only = _wrap(np.broadcast_to(nz == 1, x.shape) & zero._data)
    none = _wrap(np.broadcast_to(nz == 0, x.shape))
    return add(mul(broadcast_to(p1, x.shape), only), mul(div(broadcast_to(p1, x.shape), x1), none))


@primitive(
    "prod",
    **_weighted_rules(_prod_others),
    domain=Domain(
        _RED_CASES,
        low=0.5,
        high=1.5,
        errors=[
            ErrorCase(lambda: prod(_ones(2, 3), dim=2), IndexError, r"prod: axis 2 is out of range")
        ],
    ),
)
def prod_p(x, axis, keepdims):
    """$\\prod_i x_i$; d/dx_i = product of the others (exact when some x_j = 0)."""
    return np.prod(x, axis=axis, keepdims=keepdims)


def prod(x: Tensor, axis=None, keepdims=False, *, dim=None, keepdim=None) -> Tensor:
    """Product over `axis`."""
    axis, keepdims = pick_axis("prod", axis, dim, keepdims, keepdim)
    return apply(prod_p, x, axis=norm_axis(axis, x.ndim, "prod"), keepdims=keepdims)


def _norm_dir(ans, x, axis, keepdims):
    """x / ||x||, with 0 where ||x|| = 0 (the subgradient of smallest norm)."""
    a = ans if keepdims else reshape(ans, _keep_shape(x.shape, axis))
    zero = eq(a, 0.0)
    return div(x, where(zero, 1.0, a))


@primitive(
    "norm2",
    **_weighted_rules(_norm_dir),
    domain=Domain(
        _NONEMPTY,
        errors=[
            ErrorCase(lambda: norm(_ones(2, 3), dim=2), IndexError, r"norm: axis 2 is out of range")
        ],
    ),
)
def norm2_p(x, axis, keepdims):
    """$\\|x\\|_2 = \\sqrt{\\sum x_i^2}$; d/dx = x / ||x|| (0 at x = 0, not NaN)."""
    return np.sqrt(np.sum(x * x, axis=axis, keepdims=keepdims))


def norm(x: Tensor, ord=2, axis=None, keepdims=False, *, dim=None, keepdim=None, p=None) -> Tensor:
    """Vector p-norm over `axis` (Frobenius for a matrix with axis=None).

    ord 2 is a primitive whose gradient at 0 is 0; ord 1 is sum |x|, inf is max |x|,
    other p give $(\\sum |x|^p)^{1/p}$.
    """
    if p is not None:
        ord = p
    axis, keepdims = pick_axis("norm", axis, dim, keepdims, keepdim)
    ax = norm_axis(axis, x.ndim, "norm")
    if ord in (2, "fro", None):
        return apply(norm2_p, x, axis=ax, keepdims=keepdims)
    if ord == 1:
        return sum(_abs(x), axis=ax, keepdims=keepdims)
    if ord in (np.inf, float("inf"), "inf"):
        return max(_abs(x), axis=ax, keepdims=keepdims)
    return _pow(sum(_pow(_abs(x), ord), axis=ax, keepdims=keepdims), 1.0 / ord)


def _rev_cumsum(g, axis):
    idx = (slice(None),) * axis + (slice(None, None, -1),)
    return cumsum(g[idx], axis=axis)[idx]


@primitive(
    "cumsum",
    linear=True,
    transpose=[lambda g, x, axis: _rev_cumsum(g, axis)],
    domain=Domain(
        [Case(((4,),), {"axis": 0}), Case(((2, 3),), {"axis": 1}), Case(((2, 3),), {"axis": 0})],
        errors=[
            ErrorCase(
                lambda: cumsum(_ones(2, 3), dim=2), IndexError, r"cumsum: axis 2 is out of range"
            )
        ],
    ),
)
def cumsum_p(x, axis):
    """Running sum $y_k = \\sum_{i \\le k} x_i$; adjoint: the reversed running sum."""
    return np.cumsum(x, axis=axis)


def cumsum(x: Tensor, axis: int | None = None, *, dim: int | None = None) -> Tensor:
    """Cumulative sum along `axis` (flattened when None, as NumPy)."""
    if dim is not None:
        axis = dim
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    return apply(cumsum_p, x, axis=norm_axis(axis, x.ndim, "cumsum")[0])

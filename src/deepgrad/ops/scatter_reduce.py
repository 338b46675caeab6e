"""PyTorch's `scatter_reduce` (sum, prod, mean, amax, amin) and `index_reduce` as one primitive.

The primitive takes `x` (self) and `src` of the index's shape, and the static
`dim`, `index` (as PyTorch: `out[..., index[i, j], ...] = reduce(...)` along `dim`),
`reduce` and `include_self`.  Its gradients are PyTorch's `scatter_reduce_backward`
(derivatives.yaml), written as one weight per input element: an output entry
$y_p = R(x_p, src_{e_1}, \\ldots)$ has $\\partial y_p / \\partial x_p = w^x_p$ and
$\\partial y_p / \\partial src_e = w^{src}_e$, so the VJP is $(g \\odot w^x,
\\mathrm{gather}(g) \\odot w^{src})$ and the JVP is
$\\dot x \\odot w^x + \\mathrm{scatter\\_add}(\\dot{src} \\odot w^{src})$:

- sum: $w = 1$; mean: $w = 1 / N_p$ (N counts `x_p` when `include_self`);
- prod: $w = y_p / v$ for the element v, computed without dividing by zero (PyTorch's
  masked products: a single zero gets the product of the others, two zeros give 0);
- amax/amin: $w = [v = y_p] / (\\text{number of elements equal to } y_p)$, so ties
  share the gradient evenly, as PyTorch.

Without `include_self`, $w^x$ is 0 where an index points (x's value is replaced).
"""

from __future__ import annotations

import numpy as np

from . import elementwise as E
from ._base import Case, Domain, ErrorCase, Tensor, _ones, _wrap, apply, as_tensor, primitive
from .index import _full_index, gather, getitem, scatter_add
from .validation import check_dim

REDUCES = ("sum", "prod", "mean", "amax", "amin")


_UFUNC = {
    "sum": np.add,
    "mean": np.add,
    "prod": np.multiply,
    "amax": np.maximum,
    "amin": np.minimum,
}


def _identity(reduce: str, dtype: np.dtype):
    """The value a replaced (include_self=False) entry starts from."""
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    big = np.inf if dtype.kind == "f" else np.iinfo(dtype).max
    return -big if reduce == "amax" else big


def _scattered(shape, dim: int, index: np.ndarray) -> np.ndarray:
    """A bool mask of the entries of `shape` that some index points at."""
    mask = np.zeros(shape, bool)
    mask[_full_index(index, dim)] = True
    return mask


def _counts(shape, dim, index, include_self: bool) -> np.ndarray:
    """How many values each entry reduces (x's own counted when `include_self`)."""
    count = np.full(shape, 1 if include_self else 0, np.int64)
    np.add.at(count, _full_index(index, dim), 1)
    return count


def _forward(x, src, dim, index, reduce, include_self):
    """$y_p = R(\\{x_p\\} \\cup \\{src_e : index_e = p\\})$ along `dim`, R in sum, prod, mean,
    amax, amin ($x_p$ left out when `include_self` is False and some index points at p)."""
    full = _full_index(index, dim)
    out = x.copy()
    if not include_self:
        out[full] = _identity(reduce, x.dtype)
    _UFUNC[reduce].at(out, full, src)
    if reduce == "mean":
        count = np.maximum(_counts(x.shape, dim, index, include_self), 1)
        if out.dtype.kind in "fc":
            out /= count
        else:  # PyTorch floors an integer mean
            out //= count
    return out


def _weights(ans, x, src, dim, index, reduce, include_self):
    """(w_x, w_src): the partial derivative of each output entry w.r.t. each input element."""
    dt = x._data.dtype
    if reduce == "sum":
        wx, wsrc = np.ones(x.shape, dt), np.ones(src.shape, dt)
    elif reduce == "mean":
        inv = 1.0 / np.maximum(_counts(x.shape, dim, index, include_self), 1).astype(dt)
        wx, wsrc = inv, np.take_along_axis(inv, index, dim)
    elif reduce == "prod":
        return _prod_weights(ans, x, src, dim, index, include_self)
    else:  # amax, amin: ties share evenly
        y, xa, sa = ans._data, x._data, src._data
        x_is = (xa == y).astype(dt)
        src_is = (sa == np.take_along_axis(y, index, dim)).astype(dt)
        n = x_is.copy()
        np.add.at(n, _full_index(index, dim), src_is)
        with np.errstate(divide="ignore", invalid="ignore"):
            wx, wsrc = x_is / n, src_is / np.take_along_axis(n, index, dim)
    if not include_self:
        wx = np.where(_scattered(x.shape, dim, index), 0, wx).astype(dt)
    return _wrap(wx), _wrap(wsrc)


def _prod_weights(ans, x, src, dim, index, include_self):
    """PyTorch's masked-product rule: differentiable Tensors (prod's weights depend on values)."""
    xa, sa = x._data, src._data
    masked_x = E.where(_wrap(xa == 0), 1.0, x)
    wx = E.div(_scatter_reduce_apply(masked_x, src, dim, index, "prod", include_self), masked_x)
    if not include_self:
        wx = E.where(_wrap(_scattered(x.shape, dim, index)), 0.0, wx)
    src_zero = sa == 0
    zeros = np.zeros(x.shape, np.int64)
    np.add.at(zeros, _full_index(index, dim), src_zero.astype(np.int64))
    single = _wrap(src_zero & (np.take_along_axis(zeros, index, dim) == 1))
    masked_src_result = _scatter_reduce_apply(
        x, E.where(single, 1.0, src), dim, index, "prod", include_self
    )
    others = E.div(gather(ans, dim, index), E.where(_wrap(src_zero), 1.0, src))
    return wx, E.where(single, gather(masked_src_result, dim, index), others)


def _vjp_x(g, ans, x, src, dim, index, reduce, include_self):
    return E.mul(g, _weights(ans, x, src, dim, index, reduce, include_self)[0])


def _vjp_src(g, ans, x, src, dim, index, reduce, include_self):
    w = _weights(ans, x, src, dim, index, reduce, include_self)[1]
    return E.mul(gather(g, dim, index), w)


def _jvp_x(t, ans, x, src, dim, index, reduce, include_self):
    return E.mul(t, _weights(ans, x, src, dim, index, reduce, include_self)[0])


def _jvp_src(t, ans, x, src, dim, index, reduce, include_self):
    w = _weights(ans, x, src, dim, index, reduce, include_self)[1]
    return scatter_add(_wrap(np.zeros(ans.shape, t._data.dtype)), dim, index, E.mul(t, w))


_IDX = np.array([[0, 2], [2, 2], [0, 1]])


def _case(reduce: str, include_self: bool) -> Case:
    params = {"dim": 0, "index": _IDX, "reduce": reduce, "include_self": include_self}
    return Case(((3, 2), (3, 2)), params)


@primitive(
    "scatter_reduce",
    vjp=[_vjp_x, _vjp_src],
    jvp=[_jvp_x, _jvp_src],
    domain=Domain(
        [_case(r, s) for r in REDUCES for s in (True, False)]
        + [
            Case(
                ((2, 4), (2, 3)),
                {
                    "dim": 1,
                    "index": np.array([[3, 3, 0], [1, 2, 1]]),
                    "reduce": "prod",
                    "include_self": True,
                },
            )
        ],
        low=0.5,
        high=2.0,
        fn=lambda x, src, dim, index, reduce, include_self: scatter_reduce(
            x, dim, index, src, reduce, include_self=include_self
        ),
        errors=[
            ErrorCase(
                lambda: scatter_reduce(_ones(3, 2), 0, _IDX, _ones(3, 2), "max"),
                RuntimeError,
                r"scatter_reduce: reduce must be one of sum, prod, mean, amax, amin; got 'max'",
            ),
            ErrorCase(
                lambda: scatter_reduce(_ones(3, 2), 0, np.full((3, 2), 3), _ones(3, 2), "sum"),
                IndexError,
                r"scatter_reduce: index values must lie in \[0, 3\) along dim 0",
            ),
            ErrorCase(
                lambda: scatter_reduce(_ones(3, 2), 0, _IDX, _ones(2, 2), "amax"),
                RuntimeError,
                r"scatter_reduce: index of shape \(3, 2\) must be no larger than src \(2, 2\)",
            ),
            ErrorCase(
                lambda: scatter_reduce(_ones(3, 2), 0, _IDX, _ones(3, 2, dtype=np.float32), "sum"),
                RuntimeError,
                r"scatter_reduce: src dtype float32 differs from the input's float64",
            ),
        ],
    ),
)
def scatter_reduce_p(x, src, dim, index, reduce, include_self):
    """$y_p = R(\\{x_p\\} \\cup \\{src_e : index_e = p\\})$, R in sum, prod, mean, amax, amin;
    $\\partial y_p / \\partial v = w_v$ (see the module docstring for each R)."""
    return _forward(x, src, dim, index, reduce, include_self)


def scatter_reduce(
    input: Tensor, dim: int, index, src: Tensor, reduce: str, *, include_self: bool = True
) -> Tensor:
    """$y_p = R(\\{x_p\\} \\cup \\{src_e : index_e = p\\})$ along `dim` (PyTorch's scatter_reduce).

    `reduce` is 'sum', 'prod', 'mean' (floored for integers), 'amax' or 'amin'; with
    `include_self=False` an entry some index points at reduces only the scattered values.
    Only the leading `index.shape` block of `src` is read.  Differentiable in `input` and
    `src` with PyTorch's rules (prod at zeros, amax/amin ties share the gradient evenly).
    """
    src = as_tensor(src, like=input)
    d, idx = _check("scatter_reduce", input, dim, index, src, reduce, REDUCES)
    if input.ndim == 0:
        return getitem(
            _scatter_reduce_apply(input.reshape(1), _block(src.reshape(1), idx.reshape(1)), 0,
                              idx.reshape(1), reduce, include_self), 0
        )  # fmt: skip
    return _scatter_reduce_apply(input, _block(src, idx), d, idx, reduce, include_self)


def _scatter_reduce_apply(x: Tensor, src: Tensor, dim: int, index, reduce: str, include_self: bool):
    """The primitive on checked arguments (src already of the index's shape)."""
    return apply(scatter_reduce_p, x, src, dim=dim, index=index, reduce=reduce,
                 include_self=include_self)  # fmt: skip


def _check(name: str, x: Tensor, dim, index, src: Tensor, reduce: str, reduces) -> tuple:
    if reduce not in reduces:
        raise RuntimeError(f"{name}: reduce must be one of {', '.join(reduces)}; got {reduce!r}")
    idx = np.asarray(index._data if isinstance(index, Tensor) else index)
    d = check_dim(name, dim, x.ndim)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{name}: index must be an integer tensor, got dtype {idx.dtype}")
    if src._data.dtype != x._data.dtype:
        raise RuntimeError(
            f"{name}: src dtype {src._data.dtype} differs from the input's {x._data.dtype}"
        )
    if not idx.ndim == x.ndim == src.ndim:
        raise RuntimeError(
            f"{name}: index, input and src must have the same number of dims; got shapes "
            f"{idx.shape}, {x.shape} and {src.shape}"
        )
    xs, ss = x.shape or (1,), src.shape or (1,)
    if any(i > s for i, s in zip(idx.shape, ss)) or any(
        i > s for k, (i, s) in enumerate(zip(idx.shape, xs)) if k != d
    ):
        raise RuntimeError(
            f"{name}: index of shape {idx.shape} must be no larger than src {src.shape} "
            f"and than the input {x.shape} apart from dim {d}"
        )
    n = xs[d]
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise IndexError(
            f"{name}: index values must lie in [0, {n}) along dim {d}; got min {idx.min()}, "
            f"max {idx.max()}"
        )
    return d, idx


def _block(src: Tensor, idx: np.ndarray) -> Tensor:
    if src.shape == idx.shape:
        return src
    return getitem(src, tuple(slice(0, n) for n in idx.shape))


def index_reduce(
    input: Tensor, dim: int, index, source: Tensor, reduce: str, *, include_self: bool = True
) -> Tensor:
    """$y_{\\ldots, index_i, \\ldots} = R(x, source_{\\ldots, i, \\ldots})$ along `dim`, R in prod,
    mean, amax, amin (PyTorch's index_reduce: `scatter_reduce` with a 1-d index)."""
    name = "index_reduce"
    if reduce not in REDUCES[1:]:
        raise RuntimeError(f"{name}: reduce must be one of prod, mean, amax, amin; got {reduce!r}")
    idx = np.asarray(index._data if isinstance(index, Tensor) else index)
    if idx.ndim > 1 or idx.dtype.kind not in "iu":
        raise IndexError(
            f"{name}: index must be a 1-d integer tensor, got shape {idx.shape} dtype {idx.dtype}"
        )
    source = as_tensor(source, like=input)
    d = check_dim(name, dim, input.ndim)
    if (
        source.ndim != input.ndim
        or source.shape[:d] + source.shape[d + 1 :] != (input.shape[:d] + input.shape[d + 1 :])
        or (source.ndim and source.shape[d] != idx.size)
    ):
        raise RuntimeError(
            f"{name}: source of shape {source.shape} must match the input {input.shape} "
            f"except along dim {d}, where it must have the index's length {idx.size}"
        )
    if not input.ndim:  # a 0-d input is a 1-element vector here
        out = index_reduce(input.reshape(1), 0, idx, source.reshape(-1), reduce,
                           include_self=include_self)  # fmt: skip
        return out.reshape(())
    shape = [1] * source.ndim
    shape[d] = idx.size
    full = np.broadcast_to(idx.reshape(shape), source.shape)
    _check(name, input, d, full, source, reduce, REDUCES[1:])
    return _scatter_reduce_apply(input, source, d, np.ascontiguousarray(full), reduce, include_self)

"""PyTorch's tensor functions that compose from deepgrad's primitives.

Each is differentiable through the primitives it is built from (their VJP/JVP
rules and registry domains cover it); none adds a primitive.  Arguments follow
PyTorch (`dim`, `keepdim`, `unbiased`/`correction`).
"""

from __future__ import annotations

import numpy as np

from ..core.tensor import Tensor, _wrap, as_tensor
from . import elementwise as E
from . import linalg as L
from . import reduce as R
from . import shape as S
from .cast import cast
from .index import getitem, index_add_zeros
from .out import supports_out
from .scatter_reduce import index_reduce, scatter_reduce
from .setitem import index_put
from .sorting import nonzero

__all__ = [
    "addmm", "allclose", "baddbmm", "bmm", "clone", "contiguous", "cumprod", "equal", "expand",
    "index_add", "index_reduce", "index_select", "isclose", "logcumsumexp", "masked_fill", "masked_select", "mm",
    "scatter", "scatter_reduce", "std", "var", "where",
]  # fmt: skip


def _correction(name: str, unbiased, correction) -> float:
    if unbiased is not None and correction is not None:
        raise TypeError(f"{name}: pass either unbiased or correction, not both")
    if correction is not None:
        return correction
    return 1 if unbiased is None or unbiased else 0


@supports_out
def var(
    input: Tensor, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None
) -> Tensor:
    """$\\frac{1}{N - c} \\sum_i (x_i - \\bar x)^2$, c = 1 (`unbiased=True`, the default) or 0.

    PyTorch's positional `var(x, dim, unbiased, keepdim)` and `correction=`.
    """
    if isinstance(dim, bool):  # var(x, False): the old positional `unbiased`
        dim, unbiased = None, dim
    c = _correction("var", unbiased, correction)
    return R.var(input, axis, keepdim, correction=c, dim=dim)


@supports_out
def std(
    input: Tensor, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None
) -> Tensor:
    """$\\sqrt{\\mathrm{var}(x)}$ with the same `unbiased`/`correction` as `var` (the gradient of
    a constant input is 0, as `ops.reduce.std` gives it)."""
    if isinstance(dim, bool):  # std(x, False): the old positional `unbiased`
        dim, unbiased = None, dim
    c = _correction("std", unbiased, correction)
    return R.std(input, axis, keepdim, correction=c, dim=dim)


def expand(input: Tensor, *sizes) -> Tensor:
    """Broadcast to `sizes`; -1 keeps that dimension (PyTorch's `expand`), a read-only view."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    nd, lead = input.ndim, len(sizes) - input.ndim
    if lead < 0:
        raise RuntimeError(
            f"expand: the number of sizes ({len(sizes)}) must be at least the tensor's "
            f"number of dims ({nd}); got sizes {sizes} for shape {input.shape}"
        )
    shape = []
    for i, s in enumerate(sizes):
        if s == -1:
            if i < lead:
                raise RuntimeError(
                    f"expand: -1 is not allowed in a new leading dim (sizes {sizes})"
                )
            s = input.shape[i - lead]
        shape.append(int(s))
    return S.broadcast_to(input, tuple(shape))


def masked_fill(input: Tensor, mask, value) -> Tensor:
    """$y_i = v$ where $mask_i$ else $x_i$ (mask broadcasts to x's shape)."""
    m = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise TypeError(f"masked_fill: mask must be a bool tensor, got dtype {m.dtype}")
    v = value if isinstance(value, Tensor) else as_tensor(value, like=input)
    out = E.where(_wrap(m), v, input)
    if out.shape != input.shape:
        raise RuntimeError(
            f"masked_fill: mask of shape {m.shape} does not broadcast to the input's {input.shape}"
        )
    return cast(out, input._data.dtype) if out._data.dtype != input._data.dtype else out


@supports_out
def masked_select(input: Tensor, mask) -> Tensor:
    """The 1-d tensor of the entries of `input` where `mask` (broadcast together) holds."""
    m = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise TypeError(f"masked_select: mask must be a bool tensor, got dtype {m.dtype}")
    shape = np.broadcast_shapes(input.shape, m.shape)
    x = S.broadcast_to(input, shape) if input.shape != shape else input
    return getitem(x, np.broadcast_to(m, shape))


def _index_1d(name: str, index) -> np.ndarray:
    idx = index._data if isinstance(index, Tensor) else np.asarray(index)
    if idx.ndim > 1 or idx.dtype.kind not in "iu":
        raise IndexError(
            f"{name}: index must be a 1-d integer tensor, got shape {idx.shape} dtype {idx.dtype}"
        )
    return idx.reshape(-1)


@supports_out
def index_select(input: Tensor, dim: int, index) -> Tensor:
    """Entries of `input` at `index` (1-d) along `dim`."""
    idx = _index_1d("index_select", index)
    d = R.norm_axis(dim, input.ndim, "index_select")[0]
    n = input.shape[d] if input.ndim else 1
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"index_select: index out of range for dimension {d} of size {n}")
    return getitem(input, (slice(None),) * d + (idx,))


@supports_out
def index_add(input: Tensor, dim: int, index, source: Tensor, *, alpha=1) -> Tensor:
    """`input` with `alpha * source[i]` added at `index[i]` along `dim` (repeats accumulate)."""
    idx = _index_1d("index_add", index)
    d = R.norm_axis(dim, input.ndim, "index_add")[0]
    src = source if alpha == 1 else E.mul(source, alpha)
    expected = input.shape[:d] + (idx.size,) + input.shape[d + 1 :]
    if src.shape != expected:
        raise RuntimeError(f"index_add: source has shape {src.shape}, expected {expected}")
    return E.add(input, index_add_zeros(src, (slice(None),) * d + (idx,), input.shape))


def scatter(input: Tensor, dim: int, index, src=None, *, value=None, reduce=None) -> Tensor:
    """`input` with `src[i][j]` written at `[index[i][j]][j]` (dim 0), as PyTorch's scatter.

    `value=` writes a number.  `reduce='add'` adds and `reduce='multiply'` multiplies
    instead of writing (PyTorch's deprecated form of `scatter_reduce(..., 'sum'/'prod')`).
    """
    if reduce not in (None, "add", "multiply"):
        raise RuntimeError(f"scatter: reduce must be None, 'add' or 'multiply', got {reduce!r}")
    idx = index._data if isinstance(index, Tensor) else np.asarray(index)
    d = R.norm_axis(dim, input.ndim, "scatter")[0]
    if idx.ndim != input.ndim:
        raise RuntimeError(f"scatter: index has {idx.ndim} dims but input has {input.ndim}")
    if src is None:
        src = value if value is not None else 0
    src = src if isinstance(src, Tensor) else as_tensor(src, like=input)
    if src.ndim:
        src = getitem(src, tuple(slice(0, n) for n in idx.shape))
    if reduce == "add":
        return index_put(
            input, _full_index(idx, d), S.broadcast_to(src, idx.shape), accumulate=True
        )
    if reduce == "multiply":
        src = S.broadcast_to(cast(src, input._data.dtype), idx.shape)
        return scatter_reduce(input, d, idx, src, "prod")
    return index_put(input, _full_index(idx, d), src)


def _full_index(idx: np.ndarray, dim: int) -> tuple:
    grid = list(np.indices(idx.shape, sparse=True))
    grid[dim] = idx
    return tuple(grid)


@supports_out
def cumprod(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    """$y_k = \\prod_{i \\le k} x_i$ along `dim` (exact at zeros: a running product); `dtype`
    casts the input first."""
    if dtype is not None:
        input = cast(input, dtype)
    d = R.norm_axis(dim, input.ndim, "cumprod")[0] if input.ndim else 0
    if not input.ndim or input.shape[d] == 0:
        return input
    parts = [getitem(input, (slice(None),) * d + (0,))]
    for k in range(1, input.shape[d]):
        parts.append(E.mul(parts[-1], getitem(input, (slice(None),) * d + (k,))))
    return S.stack(parts, d)


@supports_out
def logcumsumexp(input: Tensor, dim: int) -> Tensor:
    """$y_k = \\log \\sum_{i \\le k} e^{x_i}$ along `dim` (a stable running log-add-exp)."""
    d = R.norm_axis(dim, input.ndim, "logcumsumexp")[0] if input.ndim else 0
    if not input.ndim or input.shape[d] == 0:
        return input
    parts = [getitem(input, (slice(None),) * d + (0,))]
    for k in range(1, input.shape[d]):
        parts.append(
            R.logsumexp(S.stack([parts[-1], getitem(input, (slice(None),) * d + (k,))]), 0)
        )
    return S.stack(parts, d)


def clone(input: Tensor) -> Tensor:
    """A copy with its own memory, still on the graph ($y = x$, dy/dx = 1)."""
    if input._data.dtype.kind not in "fc" or not (input.requires_grad or input._tangents):
        return _wrap(input._data.copy())
    return E.mul(input, 1)


def contiguous(input: Tensor) -> Tensor:
    """`input` itself when C-contiguous, else a contiguous `clone`."""
    return input if input._data.flags.c_contiguous else clone(input)


def _check_mm(name: str, a: Tensor, b: Tensor, nd: int) -> None:
    if a.ndim != nd or b.ndim != nd:
        raise RuntimeError(f"{name}: expected {nd}-d tensors, got shapes {a.shape} and {b.shape}")
    if a.shape[-1] != b.shape[-2] or (nd == 3 and a.shape[0] != b.shape[0]):
        raise RuntimeError(f"{name}: shapes {a.shape} and {b.shape} cannot be multiplied")


@supports_out
def mm(input: Tensor, mat2: Tensor) -> Tensor:
    """Matrix product of two 2-d tensors, $C = A B$."""
    _check_mm("mm", input, mat2, 2)
    return L.matmul(input, mat2)


@supports_out
def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """Batched matrix product of (b, n, m) and (b, m, p) tensors."""
    _check_mm("bmm", input, mat2, 3)
    return L.matmul(input, mat2)


@supports_out
def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """$\\beta\\, input + \\alpha\\, mat1\\, mat2$."""
    _check_mm("addmm", mat1, mat2, 2)
    return _axpby(input, L.matmul(mat1, mat2), beta, alpha)


@supports_out
def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """$\\beta\\, input + \\alpha\\, batch1 @ batch2$ (batched)."""
    _check_mm("baddbmm", batch1, batch2, 3)
    return _axpby(input, L.matmul(batch1, batch2), beta, alpha)


def _axpby(x, prod, beta, alpha):
    prod = prod if alpha == 1 else E.mul(prod, alpha)
    if beta == 0:
        return prod
    return E.add(x if beta == 1 else E.mul(x, beta), prod)


def isclose(
    input: Tensor, other, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False
) -> Tensor:
    """$|x - y| \\le atol + rtol |y|$ elementwise (a bool tensor)."""
    o = other._data if isinstance(other, Tensor) else other
    return _wrap(np.asarray(np.isclose(input._data, o, rtol=rtol, atol=atol, equal_nan=equal_nan)))


def allclose(
    input: Tensor, other, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False
) -> bool:
    """True when `isclose` holds everywhere."""
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())


def equal(input: Tensor, other: Tensor) -> bool:
    """True when both have the same shape and the same values."""
    return input.shape == other.shape and bool(np.array_equal(input._data, other._data))


def where(condition, input=None, other=None):
    """`where(cond, x, y)` elementwise; `where(cond)` is `nonzero(cond, as_tuple=True)`."""
    if input is None and other is None:
        return nonzero(
            condition if isinstance(condition, Tensor) else Tensor(condition), as_tuple=True
        )
    return E.where(condition, input, other)

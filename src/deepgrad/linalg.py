"""`dg.linalg`: PyTorch's `torch.linalg` namespace, differentiable and batched.

The factorizations are primitives in `ops/linalg_decomp.py` and
`ops/linalg_spectral.py`; this module adds the norms, least squares and a few
composites, and the pre-`torch.linalg` names (`inverse`, `pinverse`, `svd`
returning V, ...) that `deepgrad` exports at its top level.

    >>> import deepgrad as dg
    >>> A = dg.tensor([[2.0, 0.0], [0.0, 4.0]])
    >>> dg.linalg.inv(A).tolist()
    [[0.5, 0.0], [0.0, 0.25]]
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .core.tensor import Tensor, as_tensor, register_method
from .ops import abs as _abs
from .ops import matmul, permute, pow, squeeze, swapaxes
from .ops import max as _amax
from .ops import min as _amin
from .ops import sum as _sum
from .ops.linalg_decomp import (
    LinAlgError,
    SlogdetResult,
    _check_matrix,
    cholesky,
    det,
    inv,
    matrix_exp,
    pinv,
    slogdet,
    solve,
)
from .ops.linalg_spectral import (
    EighResult,
    QRResult,
    SVDResult,
    eigh,
    eigvalsh,
    qr,
    svd,
    svdvals,
)
from .ops.out import supports_out
from .ops.reduce import norm as _norm2

__all__ = [
    "EighResult", "LinAlgError", "LstsqResult", "QRResult", "SVDResult", "SlogdetResult",
    "cholesky", "cond", "cross", "det", "eigh", "eigvalsh", "inv", "lstsq", "matmul", "matrix_exp",
    "matrix_norm", "matrix_power", "matrix_rank", "multi_dot", "norm", "pinv", "qr", "slogdet",
    "solve", "solve_triangular", "svd", "svdvals", "vecdot", "vector_norm",
]  # fmt: skip

_INF = float("inf")


slogdet = supports_out(slogdet)  # PyTorch's out=(sign, logabsdet)


def _axes(fn: str, x: Tensor, dim) -> tuple[int, ...]:
    if dim is None:
        return tuple(range(x.ndim))
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    for d in dims:
        if not -max(x.ndim, 1) <= d < max(x.ndim, 1):
            raise ValueError(f"{fn}: dim {d} is out of range for a tensor of shape {x.shape}")
    return tuple(sorted(int(d) % max(x.ndim, 1) for d in dims))


def vector_norm(x, ord: float = 2, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Vector p-norm $\\|x\\|_p = (\\sum_i |x_i|^p)^{1/p}$ over `dim` (all elements when None);
    ord inf/-inf give max/min |x_i|, ord 0 counts the non-zeros (no gradient)."""
    x = as_tensor(x)
    if dtype is not None:
        x = x.to(dtype)
    if x._data.dtype.kind not in "fc":
        raise TypeError(f"linalg.vector_norm: x must be a floating point tensor, got {x.dtype}")
    if isinstance(ord, str):
        raise TypeError(f"linalg.vector_norm: ord must be a number, got {ord!r}")
    ax = _axes("linalg.vector_norm", x, dim)
    if ord == 2:
        return _norm2(x, 2, axis=ax, keepdims=keepdim)
    if ord == _INF:
        return _amax(_abs(x), axis=ax, keepdims=keepdim)
    if ord == -_INF:
        return _amin(_abs(x), axis=ax, keepdims=keepdim)
    if ord == 0:
        return Tensor(np.sum(x._data != 0, axis=ax, keepdims=keepdim).astype(x._data.dtype))
    if ord == 1:
        return _sum(_abs(x), axis=ax, keepdims=keepdim)
    return pow(_sum(pow(_abs(x), float(ord)), axis=ax, keepdims=keepdim), 1.0 / ord)


def _to_last(A: Tensor, d0: int, d1: int) -> Tensor:
    rest = [i for i in range(A.ndim) if i not in (d0, d1)]
    return permute(A, *rest, d0, d1)


def _restore(out: Tensor, shape: tuple[int, ...], d0: int, d1: int, keepdim: bool) -> Tensor:
    if not keepdim:
        return out
    from .ops import reshape

    kept = tuple(1 if i in (d0, d1) else s for i, s in enumerate(shape))
    return reshape(out, kept)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim: bool = False, *, dtype=None) -> Tensor:
    """Matrix norm over the two axes `dim`: 'fro' $\\sqrt{\\sum a_{ij}^2}$, 'nuc' the sum
    of singular values, 2/-2 the largest/smallest singular value, 1/-1 the max/min
    column sum of |A|, inf/-inf the max/min row sum of |A|."""
    A = _check_matrix("linalg.matrix_norm", A, square=False)
    if dtype is not None:
        A = A.to(dtype)
    dims = _axes("linalg.matrix_norm", A, dim)
    if len(dims) != 2 or isinstance(dim, (int, np.integer)):
        raise ValueError(f"linalg.matrix_norm: dim must be a 2-tuple of distinct dims, got {dim}")
    d0, d1 = (int(dim[0]) % A.ndim, int(dim[1]) % A.ndim)
    if ord == "fro":
        return _norm2(A, 2, axis=(d0, d1), keepdims=keepdim)
    if ord in ("nuc", 2, -2):
        s = svdvals(_to_last(A, d0, d1))
        out = _sum(s, axis=-1) if ord == "nuc" else (_amax if ord == 2 else _amin)(s, axis=-1)
        return _restore(out, A.shape, d0, d1, keepdim)
    if ord in (1, -1, _INF, -_INF):
        reduce_first, pick = (d0, d1) if ord in (1, -1) else (d1, d0)
        sums = _sum(_abs(A), axis=reduce_first, keepdims=True)
        out = (_amax if ord > 0 else _amin)(sums, axis=pick, keepdims=True)
        return out if keepdim else squeeze(squeeze(out, max(d0, d1)), min(d0, d1))
    raise ValueError(
        f"linalg.matrix_norm: ord must be 'fro', 'nuc', 1, -1, 2, -2, inf or -inf, got {ord!r}"
    )


def norm(A, ord=None, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """`torch.linalg.norm`: a vector norm when `dim` is an int (or A is 1-D), a matrix
    norm when `dim` is a 2-tuple (or A is 2-D); with ord and dim both None, the
    2-norm of all elements flattened."""
    A = as_tensor(A)
    if dim is None and ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype)
    if dim is None:
        if A.ndim not in (1, 2):
            raise ValueError(
                f"linalg.norm: with ord={ord!r} and dim=None, A must be 1-D or 2-D, got {A.shape}"
            )
        dim = (0,) if A.ndim == 1 else (0, 1)
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    if len(dims) == 1:
        return vector_norm(A, 2 if ord is None else ord, dims, keepdim, dtype=dtype)
    if len(dims) == 2:
        return matrix_norm(A, "fro" if ord is None else ord, dims, keepdim, dtype=dtype)
    raise ValueError(f"linalg.norm: dim must have 1 or 2 entries, got {dim}")


class LstsqResult(NamedTuple):
    """`lstsq`'s result, as PyTorch's named tuple."""

    solution: Tensor
    residuals: Tensor
    rank: Tensor
    singular_values: Tensor


_DRIVERS = ("gels", "gelsy", "gelsd", "gelss")


def lstsq(A, B, rcond: float | None = None, *, driver: str | None = None) -> LstsqResult:
    """Least squares $X = \\arg\\min_X \\|A X - B\\|_F$, as $X = A^+ B$ (differentiable for
    full-rank A).  As PyTorch on CPU: the default driver 'gelsy' returns empty
    `residuals` and `singular_values`; 'gelsd'/'gelss' return the singular values,
    and the squared residuals when m > n and A has full rank."""
    A = _check_matrix("linalg.lstsq", A, square=False)
    B = as_tensor(B, like=A)
    driver = driver or "gelsy"
    if driver not in _DRIVERS:
        raise ValueError(f"linalg.lstsq: driver must be one of {_DRIVERS}, got {driver!r}")
    vector = B.ndim == A.ndim - 1
    B2 = B.unsqueeze(-1) if vector else B
    if B2.ndim < 2 or B2.shape[-2] != A.shape[-2]:
        raise ValueError(
            f"linalg.lstsq: B with shape {B.shape} does not match A with shape {A.shape} "
            f"(B needs {A.shape[-2]} rows)"
        )
    m, n = A.shape[-2:]
    eps = np.finfo(A._data.dtype).eps
    rtol = max(m, n) * eps if rcond is None or rcond < 0 else rcond
    X = matmul(pinv(A, rtol=rtol), B2)
    s = np.linalg.svd(A._data, compute_uv=False)
    smax = s.max(axis=-1, keepdims=True) if s.shape[-1] else np.zeros(s.shape[:-1] + (1,))
    rank = np.sum(s > rtol * smax, axis=-1).astype(np.int64)
    empty = Tensor(np.zeros((0,), A._data.dtype))
    residuals = empty
    if driver != "gelsy" and m > n and np.all(rank == n):
        residuals = _sum(pow(matmul(A, X) - B2, 2.0), axis=-2)
    svals = Tensor(s) if driver in ("gelsd", "gelss") else empty
    rank_t = Tensor(rank) if driver != "gels" else Tensor(np.zeros((0,), np.int64))
    return LstsqResult(X[..., 0] if vector else X, residuals, rank_t, svals)


@supports_out
def matrix_power(A, n: int) -> Tensor:
    """$A^n$ for an integer n (n < 0 inverts first; n = 0 is the identity)."""
    A = _check_matrix("linalg.matrix_power", A)
    if not isinstance(n, (int, np.integer)):
        raise TypeError(f"linalg.matrix_power: n must be an integer, got {n!r}")
    if n == 0:
        return Tensor(np.broadcast_to(np.eye(A.shape[-1], dtype=A._data.dtype), A.shape).copy())
    base = inv(A) if n < 0 else A
    result, k = None, abs(int(n))
    while k:  # binary exponentiation: O(log n) products
        if k & 1:
            result = base if result is None else matmul(result, base)
        k >>= 1
        if k:
            base = matmul(base, base)
    return result


def matrix_rank(A, *, atol: float | None = None, rtol: float | None = None) -> Tensor:
    """Number of singular values above max(atol, rtol * sigma_max) (an int64 tensor)."""
    A = _check_matrix("linalg.matrix_rank", A, square=False)
    s = np.linalg.svd(A._data, compute_uv=False)
    if rtol is None:
        rtol = 0.0 if atol else max(*A.shape[-2:]) * np.finfo(A._data.dtype).eps
    smax = s.max(axis=-1, keepdims=True) if s.shape[-1] else np.zeros(s.shape[:-1] + (1,))
    return Tensor(np.sum(s > np.maximum(atol or 0.0, rtol * smax), axis=-1).astype(np.int64))


def multi_dot(tensors) -> Tensor:
    """Product of a chain of matrices $A_1 A_2 \\cdots A_k$ (1-D ends allowed)."""
    tensors = list(tensors)
    if len(tensors) < 2:
        raise ValueError(f"linalg.multi_dot: expected at least 2 tensors, got {len(tensors)}")
    out = tensors[0]
    for t in tensors[1:]:
        out = matmul(out, t)
    return out


def vecdot(x, y, *, dim: int = -1) -> Tensor:
    """$\\sum_i x_i y_i$ along `dim` (real tensors; broadcasting as `mul`)."""
    from .ops import mul as _mul

    return _sum(_mul(as_tensor(x), as_tensor(y)), axis=dim)


def cross(x, y, *, dim: int = -1) -> Tensor:
    """Cross product $x \\times y$ of 3-vectors along `dim`."""
    from .ops import mul as _mul
    from .ops import stack, sub

    x, y = as_tensor(x), as_tensor(y)
    if x.shape[dim] != 3 or y.shape[dim] != 3:
        raise ValueError(f"linalg.cross: dim {dim} must have size 3, got {x.shape} and {y.shape}")
    ax = dim % x.ndim

    def part(t: Tensor, k: int) -> Tensor:
        return t[(slice(None),) * ax + (k,)]

    comps = [
        sub(
            _mul(part(x, (k + 1) % 3), part(y, (k + 2) % 3)),
            _mul(part(x, (k + 2) % 3), part(y, (k + 1) % 3)),
        )
        for k in range(3)
    ]
    return stack(comps, axis=ax)


def solve_triangular(
    A, B, *, upper: bool, left: bool = True, unitriangular: bool = False
) -> Tensor:
    """Solve $A X = B$ (or $X A = B$) reading only A's upper or lower triangle (its diagonal
    taken as ones when `unitriangular`); the gradient reaches that triangle only."""
    from .ops import add as _add
    from .ops import mul as _mul

    A = _check_matrix("linalg.solve_triangular", A)
    n = A.shape[-1]
    keep = np.triu(np.ones((n, n))) if upper else np.tril(np.ones((n, n)))
    if unitriangular:
        keep = keep - np.eye(n)
    T = _mul(A, Tensor(keep.astype(A._data.dtype)))
    if unitriangular:
        T = _add(T, Tensor(np.eye(n, dtype=A._data.dtype)))
    B = _check_matrix("linalg.solve_triangular", B, square=False, name="B")
    return solve(T, B, left=left)


def cond(A, p=None) -> Tensor:
    """Condition number: $\\sigma_{max} / \\sigma_{min}$ for p None or 2 (-2: the inverse),
    else $\\|A\\|_p \\|A^{-1}\\|_p$ for p in 'fro', 'nuc', 1, -1, inf, -inf."""
    from .ops import div as _div
    from .ops import mul as _mul

    A = _check_matrix("linalg.cond", A, square=p not in (None, 2, -2))
    if p in (None, 2, -2):
        s = svdvals(A)
        big, small = _amax(s, axis=-1), _amin(s, axis=-1)
        return _div(big, small) if p != -2 else _div(small, big)
    return _mul(matrix_norm(A, p), matrix_norm(inv(A), p))


# --- the pre-torch.linalg names (torch.inverse, torch.svd, ...) ------------------------


@supports_out
def inverse(A) -> Tensor:
    """`torch.inverse`: the same as `linalg.inv`."""
    return inv(A)


def pinverse(A, rcond: float = 1e-15) -> Tensor:
    """`torch.pinverse`: `linalg.pinv` with a relative cut-off `rcond`."""
    return pinv(A, rtol=rcond)


@supports_out
def svd_legacy(A, some: bool = True, compute_uv: bool = True):
    """`torch.svd`: returns (U, S, V) with V (not Vh); `some=False` gives full U and V."""
    if not compute_uv:
        A = as_tensor(A)
        S = svdvals(A)
        m, n = A.shape[-2:]
        zu = Tensor(np.zeros(A.shape[:-2] + (m, m if not some else min(m, n)), A._data.dtype))
        zv = Tensor(np.zeros(A.shape[:-2] + (n, n if not some else min(m, n)), A._data.dtype))
        return SVDResult(zu, S, zv)
    U, S, Vh = svd(A, full_matrices=not some)
    return SVDResult(U, S, swapaxes(Vh, -1, -2))


@supports_out
def cholesky_solve(B, L, upper: bool = False) -> Tensor:
    """`torch.cholesky_solve`: solve $A X = B$ given A's Cholesky factor L ($A = L L^T$)."""
    L = as_tensor(L)
    if upper:
        L = swapaxes(L, -1, -2)
    return solve(swapaxes(L, -1, -2), solve(L, B))


@supports_out
def cholesky_inverse(L, upper: bool = False) -> Tensor:
    """`torch.cholesky_inverse`: $A^{-1}$ given A's Cholesky factor ($A = L L^T$)."""
    L = as_tensor(L)
    if upper:
        L = swapaxes(L, -1, -2)
    Linv = inv(L)
    return matmul(swapaxes(Linv, -1, -2), Linv)


@supports_out
def cholesky_legacy(A, upper: bool = False) -> Tensor:
    """`torch.cholesky`: `linalg.cholesky` with `upper` positional."""
    return cholesky(A, upper=upper)


@supports_out
def qr_legacy(A, some: bool = True) -> QRResult:
    """`torch.qr`: reduced QR when `some` (the default), complete otherwise."""
    return qr(A, "reduced" if some else "complete")


def _install_methods() -> None:
    """Tensor methods with PyTorch's names (x.inverse(), x.det(), x.svd(), ...)."""
    from .ops.linalg_decomp import logdet

    methods = {
        "inverse": inverse, "det": det, "logdet": logdet, "slogdet": slogdet,
        "pinverse": pinverse, "matrix_exp": matrix_exp, "matrix_power": matrix_power,
        "cholesky": cholesky_legacy, "cholesky_solve": cholesky_solve,
        "cholesky_inverse": cholesky_inverse, "qr": qr_legacy, "svd": svd_legacy,
    }  # fmt: skip
    for name, fn in methods.items():
        if not hasattr(Tensor, name):  # never replace a method defined elsewhere
            register_method(name, fn)


_install_methods()

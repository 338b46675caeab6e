"""Linear algebra on square matrices: inv, det, slogdet, solve, cholesky, pinv, matrix_exp.

Every function works on a batch of matrices (leading axes), as in
`torch.linalg`.  The rules are the classic matrix-calculus identities
(Giles 2008, "An extended collection of matrix derivative results"):

    inv:      d(A^-1) = -A^-1 dA A^-1            dA = -A^-T G A^-T
    det:      d det A = det A tr(A^-1 dA)         dA = g det A A^-T
    solve:    dX = A^-1 (dB - dA X)               dB = A^-T G,  dA = -dB X^T
    cholesky: dL = L Phi(L^-1 dA L^-T)            (Murray 2016)
    expm:     the Frechet derivative is the top-right block of expm([[A, E], [0, A]])

Rules are written with deepgrad ops (including these primitives), so second
derivatives work.  Gradients assume the matrix is invertible (or, for pinv,
of constant rank), as PyTorch's do away from singular points.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..core.state import STATE
from ._base import (
    Case,
    Domain,
    ErrorCase,
    Tensor,
    apply,
    as_tensor,
    broadcast_shapes,
    prepare,
    primitive,
)
from .cast import cast
from .elementwise import add, mul, neg, sign, sub
from .linalg import matmul
from .reduce import sum as _sum
from .shape import broadcast_to, concatenate, swapaxes, unsqueeze


class LinAlgError(RuntimeError):
    """A matrix was singular or not positive-definite (PyTorch: torch.linalg.LinAlgError)."""


class SlogdetResult(NamedTuple):
    """`slogdet`'s result, as PyTorch's named tuple."""

    sign: Tensor
    logabsdet: Tensor


# --- helpers written with deepgrad ops (usable inside rules) -------------------


def _mT(x: Tensor) -> Tensor:
    return swapaxes(x, -1, -2)


def _const(x: Tensor, arr: np.ndarray) -> Tensor:
    return Tensor(np.asarray(arr, dtype=x._data.dtype))


def _eye(x: Tensor, n: int | None = None) -> Tensor:
    return _const(x, np.eye(x.shape[-1] if n is None else n))


def _tril(x: Tensor, k: int = 0) -> Tensor:
    """Lower triangle (k-th diagonal and below) as a product with a constant mask."""
    return mul(x, _const(x, np.tri(x.shape[-2], x.shape[-1], k)))


def _diagonal(x: Tensor) -> Tensor:
    return _sum(mul(x, _eye(x)), axis=-1)


def _diag_embed(v: Tensor) -> Tensor:
    return mul(unsqueeze(v, -1), _eye(v, v.shape[-1]))


def _trace(x: Tensor) -> Tensor:
    return _sum(_diagonal(x), axis=-1)


def _mat_scalar(s: Tensor) -> Tensor:
    """A batch of scalars shaped (...) as (..., 1, 1), to scale matrices."""
    return unsqueeze(unsqueeze(s, -1), -1)


def _check_matrix(fn: str, a, square: bool = True, name: str = "A") -> Tensor:
    """Validate a (batch of) matrices before any NumPy call; errors name `fn`."""
    a = as_tensor(a)
    if a.ndim < 2:
        raise ValueError(f"{fn}: {name} must have at least 2 dimensions, got shape {a.shape}")
    if square and a.shape[-1] != a.shape[-2]:
        raise ValueError(f"{fn}: {name} must be batches of square matrices, got shape {a.shape}")
    if a._data.dtype.kind not in "fc":
        raise TypeError(f"{fn}: {name} must be a floating point tensor, got dtype {a.dtype}")
    return a


def _lapack(fn: str, what: str, call, *args):
    try:
        return call(*args)
    except np.linalg.LinAlgError as exc:
        raise LinAlgError(f"{fn}: {what}") from exc


def _well_posed(a: Tensor, sign: float = 1.0) -> Tensor:
    """Test domain: a shifted to sign * (2 I + 0.3 a), strictly diagonally dominant."""
    return mul(add(mul(a, 0.3), _eye(a) * 2.0), sign)


_SQUARE = [Case(((3, 3),)), Case(((2, 2, 2),)), Case(((1, 1),)), Case(((2, 1, 3, 3),))]


# --- inverse, determinant, solve ------------------------------------------------


@primitive(
    "linalg_inv",
    vjp=[lambda g, ans, a: neg(matmul(matmul(_mT(ans), g), _mT(ans)))],
    jvp=[lambda t, ans, a: neg(matmul(matmul(ans, t), ans))],
    domain=Domain(
        _SQUARE,
        fn=lambda a: inv(_well_posed(a)),
        errors=[
            ErrorCase(
                lambda: inv(Tensor(np.ones((2, 3)))), ValueError, r"linalg.inv: A .*\(2, 3\)"
            ),
            ErrorCase(
                lambda: inv(Tensor(np.zeros((2, 2)))), LinAlgError, r"linalg.inv: .*singular"
            ),
        ],
    ),
)
def inv_p(a):
    """$A^{-1}$; d(A^{-1}) = -A^{-1} dA A^{-1}, so dA = -A^{-T} G A^{-T}."""
    return _lapack("linalg.inv", "the input matrix is singular", np.linalg.inv, a)


def inv(A: Tensor) -> Tensor:
    """Inverse of a square matrix (batched): $A^{-1}$."""
    return apply(inv_p, _check_matrix("linalg.inv", A))


@primitive(
    "linalg_det",
    vjp=[lambda g, ans, a: mul(_mat_scalar(mul(g, ans)), _mT(inv(a)))],
    jvp=[lambda t, ans, a: mul(ans, _trace(solve(a, t)))],
    domain=Domain(
        _SQUARE + [Case(((3, 3),), {"sign": -1.0})],
        fn=lambda a, sign=1.0: det(_well_posed(a, sign)),
        errors=[ErrorCase(lambda: det(Tensor(np.ones(3))), ValueError, r"linalg.det: A .*\(3,\)")],
    ),
)
def det_p(a):
    """$\\det A$; d det A = det A tr(A^{-1} dA), so dA = g det(A) A^{-T}."""
    return np.linalg.det(a)


def det(A: Tensor) -> Tensor:
    """Determinant of a square matrix (batched): $\\det A$."""
    return apply(det_p, _check_matrix("linalg.det", A))


@primitive(
    "linalg_logabsdet",
    vjp=[lambda g, ans, a: mul(_mat_scalar(g), _mT(inv(a)))],
    jvp=[lambda t, ans, a: _trace(solve(a, t))],
    domain=Domain(
        _SQUARE + [Case(((3, 3),), {"sign": -1.0})],
        fn=lambda a, sign=1.0: slogdet(_well_posed(a, sign)).logabsdet,
        errors=[
            ErrorCase(
                lambda: slogdet(Tensor(np.ones((2, 2), np.int64))),
                TypeError,
                r"linalg.slogdet: A must be a floating point tensor, got dtype int64",
            )
        ],
    ),
)
def logabsdet_p(a):
    """$\\log |\\det A|$; d = tr(A^{-1} dA), so dA = g A^{-T}."""
    return np.linalg.slogdet(a)[1]


def slogdet(A: Tensor):
    """Sign and log of the absolute determinant: `(sign, logabsdet)` with
    $\\det A = \\mathrm{sign} \\cdot e^{\\mathrm{logabsdet}}$ (sign carries no gradient)."""
    A = _check_matrix("linalg.slogdet", A)
    if STATE.batch:  # inside vmap the values live in a batched tensor: take the sign through ops
        s = sign(apply(det_p, A)).detach()
    else:  # NOTE: slogdet's own sign, which survives a determinant that under- or overflows
        s = Tensor(np.linalg.slogdet(A._data)[0].astype(A._data.dtype))
    return SlogdetResult(s, apply(logabsdet_p, A))


def logdet(A: Tensor) -> Tensor:
    """$\\log \\det A$ (NaN where the determinant is negative, as `torch.logdet`)."""
    sign, logabs = slogdet(A)
    nan = np.where(sign._data < 0, np.nan, 0.0).astype(logabs._data.dtype)
    return add(logabs, Tensor(np.where(sign._data == 0, -np.inf, nan)))


@primitive(
    "linalg_solve",
    vjp=[
        lambda g, ans, a, b: neg(matmul(solve(_mT(a), g), _mT(ans))),
        lambda g, ans, a, b: solve(_mT(a), g),
    ],
    jvp=[
        lambda t, ans, a, b: solve(a, neg(matmul(t, ans))),
        lambda t, ans, a, b: solve(a, t),
    ],
    domain=Domain(
        [Case(((3, 3), (3, 2))), Case(((2, 2, 2), (2, 2, 1))), Case(((3, 3), (3,)))],
        fn=lambda a, b: solve(_well_posed(a), b),
        errors=[
            ErrorCase(
                lambda: solve(Tensor(np.eye(3)), Tensor(np.ones((2, 1)))),
                ValueError,
                r"linalg.solve: B with shape \(2, 1\) .* A with shape \(3, 3\)",
            ),
            ErrorCase(
                lambda: solve(Tensor(np.zeros((2, 2))), Tensor(np.ones(2))),
                LinAlgError,
                r"linalg.solve: .*singular",
            ),
        ],
    ),
)
def solve_p(a, b):
    """$X = A^{-1} B$; dX = A^{-1}(dB - dA X), so dB = A^{-T} G and dA = -dB X^T."""
    return _lapack("linalg.solve", "the input matrix A is singular", np.linalg.solve, a, b)


def solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:
    """Solve $A X = B$ (or $X A = B$ with `left=False`); B is a (batch of) vector(s)
    when `B.ndim == 1` or `B.shape == A.shape[:-1]`, as in `torch.linalg.solve`."""
    A = _check_matrix("linalg.solve", A)
    B = as_tensor(B, like=A)
    if not left:
        return _mT(solve(_mT(A), _mT(_check_matrix("linalg.solve", B, False, "B"))))
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and B.shape == A.shape[:-1])
    B2 = unsqueeze(B, -1) if vector else B
    if B2.ndim < 2 or B2.shape[-2] != A.shape[-1]:
        raise ValueError(
            f"linalg.solve: B with shape {B.shape} does not match A with shape {A.shape} "
            f"(B needs {A.shape[-1]} rows)"
        )
    batch = broadcast_shapes("linalg.solve", A.shape[:-2], B2.shape[:-2])
    if A.shape[:-2] != batch:
        A = broadcast_to(A, batch + A.shape[-2:])
    if B2.shape[:-2] != batch:
        B2 = broadcast_to(B2, batch + B2.shape[-2:])
    if A._data.dtype != B2._data.dtype:
        A, B2 = prepare("linalg.solve", A, B2) if A.shape == B2.shape else _promote(A, B2)
    X = apply(solve_p, A, B2)
    return X[..., 0] if vector else X


def _promote(a: Tensor, b: Tensor):
    dt = np.result_type(a._data, b._data)
    return cast(a, dt), cast(b, dt)


# --- Cholesky -------------------------------------------------------------------


def _phi(x: Tensor) -> Tensor:
    """Lower triangle with the diagonal halved (the map in Murray 2016)."""
    mask = np.tri(x.shape[-1]) - 0.5 * np.eye(x.shape[-1])
    return mul(x, _const(x, mask))


def _cholesky_vjp(g, ans, a):
    linv = inv(ans)
    s = matmul(matmul(_mT(linv), _phi(matmul(_mT(ans), g))), linv)
    return mul(add(s, _mT(s)), 0.5)


def _spd(a: Tensor) -> Tensor:
    """Test domain: 0.25 a a^T + I, symmetric positive-definite."""
    return add(mul(matmul(a, _mT(a)), 0.25), _eye(a))


@primitive(
    "linalg_cholesky",
    vjp=[_cholesky_vjp],
    jvp=[lambda t, ans, a: matmul(ans, _phi(matmul(matmul(inv(ans), t), _mT(inv(ans)))))],
    domain=Domain(
        _SQUARE,
        fn=lambda a: cholesky(_spd(a)),
        errors=[
            ErrorCase(
                lambda: cholesky(-Tensor(np.eye(2))),
                LinAlgError,
                r"linalg.cholesky: .*not positive-definite",
            )
        ],
    ),
)
def cholesky_p(a):
    """$A = L L^T$ (L lower); dL = L Phi(L^{-1} dA L^{-T}) with Phi the lower triangle,
    diagonal halved; the gradient is symmetrised, as the input is taken symmetric."""
    return _lapack("linalg.cholesky", "the input is not positive-definite", np.linalg.cholesky, a)


def cholesky(A: Tensor, *, upper: bool = False) -> Tensor:
    """Cholesky factor of a symmetric positive-definite matrix: $A = L L^T$
    (`upper=True` returns $L^T$).  Only the lower triangle of A is read."""
    L = apply(cholesky_p, _check_matrix("linalg.cholesky", A))
    return _mT(L) if upper else L


# --- pseudo-inverse -----------------------------------------------------------------


def _pinv_vjp(g, ans, a, **_):
    p = ans
    ap = matmul(a, p)
    pa = matmul(p, a)
    i_ap = sub(_eye(ap), ap)
    i_pa = sub(_eye(pa), pa)
    gt = _mT(g)
    term1 = neg(matmul(matmul(_mT(p), g), _mT(p)))
    term2 = matmul(matmul(i_ap, gt), matmul(p, _mT(p)))
    term3 = matmul(matmul(_mT(p), p), matmul(gt, i_pa))
    return add(add(term1, term2), term3)


def _pinv_jvp(t, ans, a, **_):
    p = ans
    i_ap = sub(_eye(p, a.shape[-2]), matmul(a, p))
    i_pa = sub(_eye(p, a.shape[-1]), matmul(p, a))
    term1 = neg(matmul(matmul(p, t), p))
    term2 = matmul(matmul(p, _mT(p)), matmul(_mT(t), i_ap))
    term3 = matmul(matmul(i_pa, _mT(t)), matmul(_mT(p), p))
    return add(add(term1, term2), term3)


def _full_rank(a: Tensor) -> Tensor:
    n = min(a.shape[-2:])
    base = np.zeros(a.shape[-2:])
    base[np.arange(n), np.arange(n)] = 2.0 + np.arange(n)
    return add(mul(a, 0.3), _const(a, base))


@primitive(
    "linalg_pinv",
    vjp=[_pinv_vjp],
    jvp=[_pinv_jvp],
    domain=Domain(
        [Case(((3, 2),)), Case(((2, 3),)), Case(((2, 3, 3),))],
        fn=lambda a: pinv(_full_rank(a)),
        errors=[ErrorCase(lambda: pinv(Tensor(np.ones(3))), ValueError, r"linalg.pinv: A ")],
    ),
)
def pinv_p(a, atol, rtol):
    """Moore-Penrose pseudo-inverse $A^+ = V \\Sigma^+ U^T$; for constant rank
    dA^+ = -A^+ dA A^+ + A^+ A^{+T} dA^T (I - A A^+) + (I - A^+ A) dA^T A^{+T} A^+
    (Golub & Pereyra 1973)."""
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    smax = s.max(axis=-1, keepdims=True) if s.shape[-1] else np.zeros(s.shape[:-1] + (1,))
    cutoff = np.maximum(atol, rtol * smax)
    big = s > cutoff
    sinv = np.where(big, 1.0 / np.where(big, s, 1.0), 0.0)
    return np.matmul(np.swapaxes(vh, -1, -2) * sinv[..., None, :], np.swapaxes(u, -1, -2))


def pinv(
    A: Tensor, *, atol: float | None = None, rtol: float | None = None, hermitian: bool = False
) -> Tensor:
    """Pseudo-inverse $A^+$; singular values below max(atol, rtol * sigma_max) are
    treated as zero (default rtol: max(m, n) * eps when neither is given, as PyTorch).
    `hermitian` is accepted for PyTorch compatibility (the SVD path is used)."""
    A = _check_matrix("linalg.pinv", A, square=False)
    if rtol is None:
        rtol = (
            0.0
            if atol is not None and atol > 0
            else max(A.shape[-2:]) * np.finfo(A._data.dtype).eps
        )
    return apply(pinv_p, A, atol=float(atol or 0.0), rtol=float(rtol))


# --- matrix exponential -----------------------------------------------------------------


def _expm_np(a: np.ndarray) -> np.ndarray:
    """Scaling and squaring with a degree-18 Taylor polynomial (||A / 2^s||_1 <= 1/2)."""
    n1 = float(np.abs(a).sum(axis=-2).max()) if a.size else 0.0
    s = int(np.ceil(np.log2(n1 / 0.5))) if n1 > 0.5 else 0
    x = a / 2.0**s
    out = np.broadcast_to(np.eye(a.shape[-1], dtype=a.dtype), a.shape).copy()
    term = out.copy()
    for k in range(1, 19):
        term = np.matmul(term, x) / k
        out += term
    for _ in range(s):
        out = np.matmul(out, out)
    return out


def _frechet(a: Tensor, e: Tensor) -> Tensor:
    """L(A, E), the derivative of expm at A along E: expm([[A, E], [0, A]])[:n, n:]."""
    n = a.shape[-1]
    zero = _const(a, np.zeros(a.shape))
    big = concatenate([concatenate([a, e], axis=-1), concatenate([zero, a], axis=-1)], axis=-2)
    return matrix_exp(big)[..., :n, n:]


@primitive(
    "linalg_matrix_exp",
    vjp=[lambda g, ans, a: _frechet(_mT(a), g)],
    jvp=[lambda t, ans, a: _frechet(a, t)],
    domain=Domain(
        [Case(((3, 3),)), Case(((2, 2, 2),)), Case(((1, 1),))],
        low=-1.0,
        high=1.0,
        errors=[
            ErrorCase(lambda: matrix_exp(Tensor(np.ones((2, 3)))), ValueError, r"matrix_exp: A ")
        ],
    ),
)
def matrix_exp_p(a):
    """$e^A = \\sum_k A^k / k!$; the derivative along E is the Frechet derivative
    L(A, E) (Al-Mohy & Higham 2009), and the VJP is L(A^T, G)."""
    return _expm_np(a)


def matrix_exp(A: Tensor) -> Tensor:
    """Matrix exponential $e^A$ of a square matrix (batched)."""
    return apply(matrix_exp_p, _check_matrix("linalg.matrix_exp", A))

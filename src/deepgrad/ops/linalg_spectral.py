"""Factorizations with several outputs: qr, eigh/eigvalsh, svd/svdvals.

A primitive returns one array, so a factorization returns its factors packed
into one array (QR: [Q; R] stacked along the rows; eigh: [w; V]; SVD: U, S
and Vh flattened and concatenated) and the public function slices them out.
The rules unpack the gradient the same way, so one forward call serves all
outputs.  The rules (real case, Townsend 2016; Walter & Lehmann 2018):

    eigh: dw = diag(V^T dA V),  dV = V (F o V^T dA V),  F_ij = 1 / (w_j - w_i)
    svd:  dS = diag(U^T dA V),  dU, dV as in Townsend 2016 with F_ij = 1 / (s_j^2 - s_i^2)
    qr:   C = Q^T dA R^-1,  Omega = tril(C, -1) - tril(C, -1)^T,  dR = (C - Omega) R,
          dQ = (dA - Q dR) R^-1

Eigenvector and singular-vector gradients need distinct eigen/singular values,
as in PyTorch; gradients of the values alone (eigvalsh, svdvals) do not.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._base import Case, Domain, ErrorCase, Tensor, apply, needs, primitive
from .elementwise import add, div, mul, sub
from .linalg import matmul
from .linalg_decomp import _check_matrix, _const, _diag_embed, _diagonal, _eye, _mT, _tril, inv
from .shape import concatenate, reshape, unsqueeze


class QRResult(NamedTuple):
    """`qr`'s result: Q with orthonormal columns and upper-triangular R."""

    Q: Tensor
    R: Tensor


class EighResult(NamedTuple):
    """`eigh`'s result: ascending eigenvalues and the eigenvectors as columns."""

    eigenvalues: Tensor
    eigenvectors: Tensor


class SVDResult(NamedTuple):
    """`svd`'s result: $A = U \\mathrm{diag}(S) V_h$."""

    U: Tensor
    S: Tensor
    Vh: Tensor


def _off_inverse(d: Tensor) -> Tensor:
    """F_ij = 1 / (d_j - d_i) off the diagonal, 0 on it, from a vector d (...,k)."""
    e = sub(unsqueeze(d, -2), unsqueeze(d, -1))
    eye = _eye(d, d.shape[-1])
    return mul(div(1.0, add(e, eye)), sub(1.0, eye))


# --- QR ------------------------------------------------------------------------------


def _qr_split(x: Tensor, m: int):
    return x[..., :m, :], x[..., m:, :]


def _qr_vjp(g, ans, a, mode):
    m = a.shape[-2]
    q, r = _qr_split(ans, m)
    gq, gr = _qr_split(g, m)
    mm = sub(matmul(r, _mT(gr)), matmul(_mT(gq), q))
    copyltu = add(_tril(mm), _mT(_tril(mm, -1)))
    return matmul(add(gq, matmul(q, copyltu)), _mT(inv(r)))


def _qr_jvp(t, ans, a, mode):
    q, r = _qr_split(ans, a.shape[-2])
    rinv = inv(r)
    c = matmul(matmul(_mT(q), t), rinv)
    low = _tril(c, -1)
    dr = matmul(sub(c, sub(low, _mT(low))), r)
    dq = matmul(sub(t, matmul(q, dr)), rinv)
    return concatenate([dq, dr], axis=-2)


def _tall(a: Tensor) -> Tensor:
    """Test domain: 0.3 a plus 2, 3, 4 on the diagonal (full column rank)."""
    k = min(a.shape[-2:])
    base = np.zeros(a.shape[-2:])
    base[np.arange(k), np.arange(k)] = 2.0 + np.arange(k)
    return add(mul(a, 0.3), _const(a, base))


@primitive(
    "linalg_qr",
    vjp=[_qr_vjp],
    jvp=[_qr_jvp],
    domain=Domain(
        [Case(((3, 2),)), Case(((3, 3),)), Case(((2, 3, 2),))],
        fn=lambda a: tuple(qr(_tall(a))),
        errors=[ErrorCase(lambda: qr(Tensor(np.ones(3))), ValueError, r"linalg.qr: A .*\(3,\)")],
    ),
)
def qr_p(a, mode):
    """$A = Q R$ (reduced, m >= n), packed as [Q; R]; see the module docstring for
    dQ and dR, and the VJP of Walter & Lehmann: (G_Q + Q copyltu(M)) R^{-T},
    M = R G_R^T - G_Q^T Q."""
    q, r = np.linalg.qr(a, mode="reduced")
    return np.concatenate([q, r], axis=-2)


def qr(A: Tensor, mode: str = "reduced") -> QRResult:
    """QR decomposition $A = Q R$ (`mode` 'reduced', 'complete' or 'r', as PyTorch).

    Gradients are defined for m >= n in 'reduced' and 'r' modes (and square
    'complete'), as in PyTorch; for 'r' mode Q is returned empty."""
    A = _check_matrix("linalg.qr", A, square=False)
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"linalg.qr: mode must be 'reduced', 'complete' or 'r', got {mode!r}")
    m, n = A.shape[-2:]
    if mode == "complete" and m > n or m < n:
        if needs(A):
            raise ValueError(
                f"linalg.qr: gradients need m >= n (and mode 'reduced' or 'r' when m > n); "
                f"got shape {A.shape} with mode {mode!r}"
            )
        q, r = np.linalg.qr(A._data, mode="complete" if mode == "complete" else "reduced")
        return QRResult(Tensor(q if mode != "r" else q[..., :0, :0]), Tensor(r))
    packed = apply(qr_p, A, mode="reduced")
    q, r = _qr_split(packed, m)
    if mode == "r":
        return QRResult(Tensor(np.zeros((0,), A._data.dtype)), r)
    return QRResult(q, r)


# --- symmetric eigendecomposition --------------------------------------------------------


def _eigh_vjp(g, ans, a, UPLO):
    w, v = ans[..., 0, :], ans[..., 1:, :]
    gw, gv = g[..., 0, :], g[..., 1:, :]
    inner = add(_diag_embed(gw), mul(_off_inverse(w), matmul(_mT(v), gv)))
    ga = matmul(matmul(v, inner), _mT(v))
    return mul(add(ga, _mT(ga)), 0.5)


def _eigh_jvp(t, ans, a, UPLO):
    w, v = ans[..., 0, :], ans[..., 1:, :]
    p = matmul(matmul(_mT(v), t), v)
    dv = matmul(v, mul(_off_inverse(w), p))
    return concatenate([unsqueeze(_diagonal(p), -2), dv], axis=-2)


def _separated_symmetric(a: Tensor) -> Tensor:
    """Test domain: 0.1 (a + a^T) + diag(0, 3, 6, ...): well-separated eigenvalues."""
    n = a.shape[-1]
    return add(mul(add(a, _mT(a)), 0.1), _const(a, np.diag(3.0 * np.arange(n))))


_WEIGHTS = np.array([1.0, -2.0, 3.0, 0.5])


def _gauge_free(vecs: Tensor, rows: Tensor) -> Tensor:
    """sum_j c_j vecs[:, j] rows[j, :]: independent of each vector's sign (tests)."""
    k = vecs.shape[-1]
    return matmul(mul(vecs, _const(vecs, _WEIGHTS[:k])), rows)


@primitive(
    "linalg_eigh",
    vjp=[_eigh_vjp],
    jvp=[_eigh_jvp],
    domain=Domain(
        [Case(((3, 3),)), Case(((2, 2, 2),)), Case(((1, 1),))],
        fn=lambda a: _eigh_invariants(eigh(_separated_symmetric(a))),
        errors=[
            ErrorCase(
                lambda: eigh(Tensor(np.ones((2, 3)))), ValueError, r"linalg.eigh: A .*\(2, 3\)"
            )
        ],
    ),
)
def eigh_p(a, UPLO):
    """$A = V \\mathrm{diag}(w) V^T$ packed as [w; V]; dw = diag(V^T dA V),
    dV = V (F o V^T dA V) with F_ij = 1/(w_j - w_i); the gradient is symmetrised."""
    w, v = np.linalg.eigh(a, UPLO=UPLO)
    return np.concatenate([w[..., None, :], v], axis=-2)


def eigh(A: Tensor, UPLO: str = "L") -> EighResult:
    """Eigenvalues (ascending) and eigenvectors of a symmetric matrix:
    $A = V \\mathrm{diag}(w) V^T$.  Only the `UPLO` triangle of A is read."""
    A = _check_matrix("linalg.eigh", A)
    if UPLO not in ("L", "U"):
        raise ValueError(f"linalg.eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    packed = apply(eigh_p, A, UPLO=UPLO)
    return EighResult(packed[..., 0, :], packed[..., 1:, :])


def _eigh_invariants(res: EighResult):
    return res.eigenvalues, _gauge_free(res.eigenvectors, _mT(res.eigenvectors))


@primitive(
    "linalg_eigvalsh",
    vjp=[lambda g, ans, a, UPLO: _sandwich(eigh(a, UPLO).eigenvectors, g)],
    jvp=[lambda t, ans, a, UPLO: _project(eigh(a, UPLO).eigenvectors, t)],
    domain=Domain(
        [Case(((3, 3),)), Case(((2, 2, 2),))],
        fn=lambda a: eigvalsh(_separated_symmetric(a)),
        errors=[ErrorCase(lambda: eigvalsh(Tensor(np.ones(2))), ValueError, r"linalg.eigvalsh")],
    ),
)
def eigvalsh_p(a, UPLO):
    """Eigenvalues $w$ of a symmetric matrix; dw = diag(V^T dA V), dA = V diag(g) V^T."""
    return np.linalg.eigvalsh(a, UPLO=UPLO)


def eigvalsh(A: Tensor, UPLO: str = "L") -> Tensor:
    """Eigenvalues (ascending) of a symmetric matrix."""
    A = _check_matrix("linalg.eigvalsh", A)
    if UPLO not in ("L", "U"):
        raise ValueError(f"linalg.eigvalsh: UPLO must be 'L' or 'U', got {UPLO!r}")
    return apply(eigvalsh_p, A, UPLO=UPLO)


def _sandwich(v: Tensor, g: Tensor) -> Tensor:
    ga = matmul(matmul(v, _diag_embed(g)), _mT(v))
    return mul(add(ga, _mT(ga)), 0.5)


def _project(v: Tensor, t: Tensor) -> Tensor:
    return _diagonal(matmul(matmul(_mT(v), t), v))


# --- singular value decomposition -------------------------------------------------------


def _svd_split(x: Tensor, m: int, n: int):
    k = min(m, n)
    batch = x.shape[:-1]
    u = reshape(x[..., : m * k], batch + (m, k))
    s = x[..., m * k : m * k + k]
    vh = reshape(x[..., m * k + k :], batch + (k, n))
    return u, s, vh


def _svd_vjp(g, ans, a):
    m, n = a.shape[-2:]
    u, s, vh = _svd_split(ans, m, n)
    gu, gs, gvh = _svd_split(g, m, n)
    v, gv = _mT(vh), _mT(gvh)
    f = _off_inverse(mul(s, s))
    j = mul(f, sub(matmul(_mT(u), gu), matmul(_mT(gu), u)))
    kk = mul(f, sub(matmul(_mT(v), gv), matmul(_mT(gv), v)))
    col, row = unsqueeze(s, -2), unsqueeze(s, -1)
    core = add(add(mul(j, col), _diag_embed(gs)), mul(row, kk))
    ga = matmul(matmul(u, core), vh)
    sinv = div(1.0, s)
    if m > s.shape[-1]:
        proj = sub(_eye(u, m), matmul(u, _mT(u)))
        ga = add(ga, matmul(matmul(proj, mul(gu, unsqueeze(sinv, -2))), vh))
    if n > s.shape[-1]:
        proj = sub(_eye(v, n), matmul(v, vh))
        ga = add(ga, matmul(mul(u, unsqueeze(sinv, -2)), matmul(_mT(gv), proj)))
    return ga


def _svd_jvp(t, ans, a):
    m, n = a.shape[-2:]
    u, s, vh = _svd_split(ans, m, n)
    v = _mT(vh)
    dp = matmul(matmul(_mT(u), t), v)
    f = _off_inverse(mul(s, s))
    col, row = unsqueeze(s, -2), unsqueeze(s, -1)
    du = matmul(u, mul(f, add(mul(dp, col), mul(row, _mT(dp)))))
    dv = matmul(v, mul(f, add(mul(row, dp), mul(_mT(dp), col))))
    sinv = unsqueeze(div(1.0, s), -2)
    if m > s.shape[-1]:
        du = add(du, mul(matmul(sub(_eye(u, m), matmul(u, _mT(u))), matmul(t, v)), sinv))
    if n > s.shape[-1]:
        dv = add(dv, mul(matmul(sub(_eye(v, n), matmul(v, vh)), matmul(_mT(t), u)), sinv))
    batch = t.shape[:-2]
    return concatenate(
        [reshape(du, batch + (-1,)), _diagonal(dp), reshape(_mT(dv), batch + (-1,))], axis=-1
    )


def _separated(a: Tensor) -> Tensor:
    """Test domain: 0.1 a plus 1, 3, 5 on the diagonal (distinct singular values)."""
    k = min(a.shape[-2:])
    base = np.zeros(a.shape[-2:])
    base[np.arange(k), np.arange(k)] = 1.0 + 2.0 * np.arange(k)
    return add(mul(a, 0.1), _const(a, base))


def _svd_invariants(res: SVDResult):
    return res.S, _gauge_free(res.U, res.Vh)


@primitive(
    "linalg_svd",
    vjp=[_svd_vjp],
    jvp=[_svd_jvp],
    domain=Domain(
        [Case(((3, 2),)), Case(((2, 3),)), Case(((3, 3),)), Case(((2, 3, 2),))],
        fn=lambda a: _svd_invariants(svd(_separated(a), full_matrices=False)),
        errors=[
            ErrorCase(
                lambda: svd(Tensor(np.ones((2, 2), np.int32))),
                TypeError,
                r"linalg.svd: A must be a floating point tensor, got dtype int32",
            )
        ],
    ),
)
def svd_p(a):
    """$A = U \\mathrm{diag}(S) V_h$ (reduced), packed flat as [U, S, Vh]; rules as
    Townsend 2016, with F_ij = 1/(s_j^2 - s_i^2)."""
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    batch = a.shape[:-2]
    return np.concatenate([u.reshape(batch + (-1,)), s, vh.reshape(batch + (-1,))], axis=-1)


def svd(A: Tensor, full_matrices: bool = True) -> SVDResult:
    """Singular value decomposition $A = U \\mathrm{diag}(S) V_h$, S descending.

    With `full_matrices=True` (PyTorch's default) the extra columns of U and
    rows of Vh carry no gradient (PyTorch ignores them too)."""
    A = _check_matrix("linalg.svd", A, square=False)
    m, n = A.shape[-2:]
    u, s, vh = _svd_split(apply(svd_p, A), m, n)
    if full_matrices and m != n:
        full_u, _, full_vh = np.linalg.svd(A._data, full_matrices=True)
        k = min(m, n)
        if m > k:
            u = concatenate([u, Tensor(full_u[..., k:])], axis=-1)
        else:
            vh = concatenate([vh, Tensor(full_vh[..., k:, :])], axis=-2)
    return SVDResult(u, s, vh)


@primitive(
    "linalg_svdvals",
    vjp=[lambda g, ans, a: _svdvals_vjp(g, a)],
    jvp=[lambda t, ans, a: _svdvals_jvp(t, a)],
    domain=Domain(
        [Case(((3, 2),)), Case(((2, 3),)), Case(((2, 2, 2),))],
        fn=lambda a: svdvals(_separated(a)),
        errors=[ErrorCase(lambda: svdvals(Tensor(np.ones(2))), ValueError, r"linalg.svdvals")],
    ),
)
def svdvals_p(a):
    """Singular values S (descending); dS = diag(U^T dA V), dA = U diag(g) V_h."""
    return np.linalg.svd(a, compute_uv=False)


def svdvals(A: Tensor) -> Tensor:
    """Singular values of A, descending."""
    return apply(svdvals_p, _check_matrix("linalg.svdvals", A, square=False))


def _svdvals_vjp(g: Tensor, a: Tensor) -> Tensor:
    u, _, vh = svd(a, full_matrices=False)
    return matmul(mul(u, unsqueeze(g, -2)), vh)


def _svdvals_jvp(t: Tensor, a: Tensor) -> Tensor:
    u, _, vh = svd(a, full_matrices=False)
    return _diagonal(matmul(matmul(_mT(u), t), _mT(vh)))

"""dg.linalg: values against NumPy references, factor identities, batching, errors, old names.

Gradients of the primitives are checked by the registry walk
(tests/core/test_registry.py -k linalg); these tests check the public functions.
"""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import linalg as LA

RNG = np.random.default_rng(7)


def _rand(*shape):
    return RNG.normal(size=shape)


def _spd(n, batch=()):
    a = _rand(*batch, n, n)
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


def test_inv_det_slogdet_match_numpy_batched():
    a = _rand(2, 3, 4, 4)
    np.testing.assert_allclose(LA.inv(dg.tensor(a)).data, np.linalg.inv(a), atol=1e-10)
    np.testing.assert_allclose(LA.det(dg.tensor(a)).data, np.linalg.det(a), atol=1e-10)
    sign, logabs = LA.slogdet(dg.tensor(a))
    ref_sign, ref_logabs = np.linalg.slogdet(a)
    np.testing.assert_array_equal(sign.data, ref_sign)
    np.testing.assert_allclose(logabs.data, ref_logabs, atol=1e-10)


def test_logdet_is_nan_for_negative_determinant():
    assert np.isnan(dg.logdet(dg.tensor(-np.eye(3))).item())
    np.testing.assert_allclose(dg.logdet(dg.tensor(2.0 * np.eye(3))).item(), 3 * np.log(2.0))


def test_solve_vector_matrix_left_right_and_broadcast():
    a, b = _rand(3, 3) + 3 * np.eye(3), _rand(3)
    np.testing.assert_allclose(LA.solve(dg.tensor(a), dg.tensor(b)).data, np.linalg.solve(a, b))
    bm = _rand(4, 3, 2)  # batch of B against one A
    x = LA.solve(dg.tensor(a), dg.tensor(bm))
    assert x.shape == (4, 3, 2)
    np.testing.assert_allclose(a @ x.data, bm, atol=1e-10)
    br = _rand(2, 3)
    xr = LA.solve(dg.tensor(a), dg.tensor(br), left=False)
    np.testing.assert_allclose(xr.data @ a, br, atol=1e-10)


def test_cholesky_reconstructs_and_upper():
    a = _spd(4, (2,))
    L = LA.cholesky(dg.tensor(a)).data
    np.testing.assert_allclose(L @ np.swapaxes(L, -1, -2), a, atol=1e-10)
    assert np.allclose(np.triu(L[0], 1), 0.0)
    U = LA.cholesky(dg.tensor(a), upper=True).data
    np.testing.assert_allclose(U, np.swapaxes(L, -1, -2))


@pytest.mark.parametrize("shape", [(5, 3), (3, 3), (2, 4, 3)])
def test_qr_factors(shape):
    a = _rand(*shape)
    Q, R = LA.qr(dg.tensor(a))
    np.testing.assert_allclose(Q.data @ R.data, a, atol=1e-10)
    k = shape[-1]
    np.testing.assert_allclose(np.swapaxes(Q.data, -1, -2) @ Q.data, np.broadcast_to(np.eye(k), Q.shape[:-2] + (k, k)), atol=1e-10)  # fmt: skip
    assert np.allclose(np.tril(R.numpy(), -1), 0.0)


def test_qr_wide_forward_only_and_modes():
    a = _rand(2, 4)
    Q, R = LA.qr(dg.tensor(a))
    np.testing.assert_allclose(Q.data @ R.data, a, atol=1e-10)
    assert LA.qr(dg.tensor(_rand(4, 2)), mode="complete").Q.shape == (4, 4)
    assert LA.qr(dg.tensor(_rand(4, 2)), mode="r").R.shape == (2, 2)
    with pytest.raises(ValueError, match=r"linalg.qr: gradients need m >= n"):
        LA.qr(dg.tensor(a, requires_grad=True))


def test_eigh_and_eigvalsh():
    a = _rand(2, 4, 4)
    a = a + np.swapaxes(a, -1, -2)
    w, V = LA.eigh(dg.tensor(a))
    np.testing.assert_allclose(w.data, np.linalg.eigvalsh(a), atol=1e-10)
    recon = V.data @ (w.data[..., None] * np.swapaxes(V.data, -1, -2))
    np.testing.assert_allclose(recon, a, atol=1e-10)
    np.testing.assert_allclose(LA.eigvalsh(dg.tensor(a)).data, np.linalg.eigvalsh(a), atol=1e-10)


@pytest.mark.parametrize("shape", [(4, 2), (2, 4), (3, 3)])
def test_svd_reduced_full_and_svdvals(shape):
    a = _rand(*shape)
    U, S, Vh = LA.svd(dg.tensor(a), full_matrices=False)
    np.testing.assert_allclose((U.data * S.data) @ Vh.data, a, atol=1e-10)
    np.testing.assert_allclose(S.data, np.linalg.svd(a, compute_uv=False), atol=1e-10)
    Uf, _, Vhf = LA.svd(dg.tensor(a))
    m, n = shape
    assert Uf.shape == (m, m) and Vhf.shape == (n, n)
    np.testing.assert_allclose(Uf.data.T @ Uf.data, np.eye(m), atol=1e-10)
    np.testing.assert_allclose(Vhf.data @ Vhf.data.T, np.eye(n), atol=1e-10)
    np.testing.assert_allclose(LA.svdvals(dg.tensor(a)).data, S.data, atol=1e-12)


def test_pinv_and_lstsq_match_numpy():
    a, b = _rand(5, 3), _rand(5, 2)
    np.testing.assert_allclose(LA.pinv(dg.tensor(a)).data, np.linalg.pinv(a), atol=1e-10)
    res = LA.lstsq(dg.tensor(a), dg.tensor(b))
    ref = np.linalg.lstsq(a, b, rcond=None)
    np.testing.assert_allclose(res.solution.data, ref[0], atol=1e-10)
    assert res.rank.item() == 3 and res.residuals.shape == (0,)
    full = LA.lstsq(dg.tensor(a), dg.tensor(b), driver="gelsd")
    np.testing.assert_allclose(full.residuals.data, ref[1], atol=1e-10)
    np.testing.assert_allclose(full.singular_values.data, ref[3], atol=1e-10)


def test_pinv_of_rank_deficient_matrix():
    a = np.outer([1.0, 2.0, 3.0], [1.0, -1.0])
    np.testing.assert_allclose(LA.pinv(dg.tensor(a)).data, np.linalg.pinv(a), atol=1e-12)
    assert LA.matrix_rank(dg.tensor(a)).item() == 1


def test_matrix_exp_known_values():
    nil = np.array([[0.0, 1.0], [0.0, 0.0]])
    np.testing.assert_allclose(LA.matrix_exp(dg.tensor(nil)).data, [[1.0, 1.0], [0.0, 1.0]])
    d = np.diag([0.5, -1.0, 3.0])
    np.testing.assert_allclose(LA.matrix_exp(dg.tensor(d)).data, np.diag(np.exp([0.5, -1, 3])))
    rot = np.array([[0.0, -np.pi / 3], [np.pi / 3, 0.0]])  # a rotation by 60 degrees
    c, s = np.cos(np.pi / 3), np.sin(np.pi / 3)
    np.testing.assert_allclose(LA.matrix_exp(dg.tensor(rot)).data, [[c, -s], [s, c]], atol=1e-12)
    big = 8.0 * _rand(3, 3)  # scaling and squaring: e^A e^-A = I
    prod = LA.matrix_exp(dg.tensor(big)).data @ LA.matrix_exp(dg.tensor(-big)).data
    np.testing.assert_allclose(prod, np.eye(3), atol=1e-6)


@pytest.mark.parametrize("ord", [2, 1, 3.5, float("inf"), -float("inf"), 0])
def test_vector_norm_matches_numpy(ord):
    x = _rand(3, 4)
    got = LA.vector_norm(dg.tensor(x), ord, dim=1).data
    np.testing.assert_allclose(got, np.linalg.norm(x, ord, axis=1), atol=1e-12)
    flat = LA.vector_norm(dg.tensor(x), ord).data
    np.testing.assert_allclose(flat, np.linalg.norm(x.ravel(), ord), atol=1e-12)


@pytest.mark.parametrize("ord", ["fro", "nuc", 2, -2, 1, -1, float("inf"), -float("inf")])
def test_matrix_norm_matches_numpy(ord):
    a = _rand(2, 3, 4)
    got = LA.matrix_norm(dg.tensor(a), ord).data
    np.testing.assert_allclose(got, np.linalg.norm(a, ord, axis=(-2, -1)), atol=1e-10)
    kept = LA.matrix_norm(dg.tensor(a), ord, dim=(0, 2), keepdim=True)
    ref = np.linalg.norm(a, ord, axis=(0, 2), keepdims=True)
    assert kept.shape == ref.shape
    np.testing.assert_allclose(kept.data, ref, atol=1e-10)


def test_norm_dispatch():
    a = _rand(3, 4)
    np.testing.assert_allclose(LA.norm(dg.tensor(a)).item(), np.linalg.norm(a))
    np.testing.assert_allclose(LA.norm(dg.tensor(a), "nuc").item(), np.linalg.norm(a, "nuc"))
    np.testing.assert_allclose(LA.norm(dg.tensor(a), 1, dim=0).data, np.abs(a).sum(0))


def test_gradients_of_classic_objectives():
    a = _rand(3, 3) + 3 * np.eye(3)
    A = dg.tensor(a, requires_grad=True)
    LA.slogdet(A).logabsdet.backward()  # d log|det A| / dA = A^-T
    np.testing.assert_allclose(A.grad.data, np.linalg.inv(a).T, atol=1e-10)
    B = dg.tensor(a, requires_grad=True)
    LA.matrix_norm(B, "nuc").backward()  # d ||A||_* / dA = U V^T
    u, _, vh = np.linalg.svd(a)
    np.testing.assert_allclose(B.grad.data, u @ vh, atol=1e-8)
    C = dg.tensor(a, requires_grad=True)
    LA.matrix_exp(C).sum().backward()  # against central differences of the forward
    ref = np.zeros((3, 3))
    eps = 1e-6
    for i in range(3):
        for j in range(3):
            e = np.zeros((3, 3))
            e[i, j] = eps
            hi = LA.matrix_exp(dg.tensor(a + e)).data.sum()
            lo = LA.matrix_exp(dg.tensor(a - e)).data.sum()
            ref[i, j] = (hi - lo) / (2 * eps)
    np.testing.assert_allclose(C.grad.data, ref, rtol=1e-5)


def test_old_top_level_names():
    a = _rand(4, 3)
    U, S, V = dg.svd(dg.tensor(a))
    np.testing.assert_allclose((U.data * S.data) @ V.data.T, a, atol=1e-10)
    sq = _spd(3)
    np.testing.assert_allclose(dg.inverse(dg.tensor(sq)).data, np.linalg.inv(sq), atol=1e-10)
    np.testing.assert_allclose(dg.pinverse(dg.tensor(a)).data, np.linalg.pinv(a), atol=1e-10)
    L = dg.cholesky(dg.tensor(sq))
    b = _rand(3, 2)
    np.testing.assert_allclose(dg.cholesky_solve(dg.tensor(b), L).data, np.linalg.solve(sq, b))
    np.testing.assert_allclose(dg.cholesky_inverse(L).data, np.linalg.inv(sq), atol=1e-10)
    np.testing.assert_allclose(dg.matrix_power(dg.tensor(sq), 3).data, sq @ sq @ sq)
    np.testing.assert_allclose(dg.matrix_power(dg.tensor(sq), -2).data, np.linalg.inv(sq @ sq))
    Q, R = dg.qr(dg.tensor(a))
    np.testing.assert_allclose(Q.data @ R.data, a, atol=1e-10)


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: LA.inv(dg.tensor(np.ones((2, 2)))), LA.LinAlgError, r"linalg.inv: .*singular"),
        (
            lambda: LA.det(dg.tensor([[1, 2], [3, 4]])),
            TypeError,
            r"linalg.det: A must be a floating",
        ),
        (lambda: LA.cholesky(dg.tensor(np.ones((3, 2)))), ValueError, r"square matrices.*\(3, 2\)"),
        (lambda: LA.matrix_norm(dg.tensor(np.ones((2, 2))), "bad"), ValueError, r"ord must be"),
        (lambda: LA.norm(dg.tensor(np.ones((2, 2, 2))), 2), ValueError, r"1-D or 2-D"),
        (
            lambda: LA.lstsq(dg.tensor(np.ones((3, 2))), dg.tensor(np.ones((2, 1)))),
            ValueError,
            r"B needs 3 rows",
        ),
        (lambda: LA.matrix_power(dg.tensor(np.eye(2)), 1.5), TypeError, r"n must be an integer"),
        (lambda: LA.eigh(dg.tensor(np.eye(2)), "X"), ValueError, r"UPLO must be 'L' or 'U'"),
    ],
)
def test_errors_name_the_function(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_tensor_methods_with_pytorch_names():
    sq = dg.tensor(_spd(3))
    np.testing.assert_allclose(sq.inverse().data, np.linalg.inv(sq.data), atol=1e-12)
    np.testing.assert_allclose(sq.det().item(), np.linalg.det(sq.data))
    np.testing.assert_allclose(sq.logdet().item(), np.log(np.linalg.det(sq.data)))
    np.testing.assert_allclose(sq.matrix_power(2).data, sq.data @ sq.data)
    L = sq.cholesky()
    np.testing.assert_allclose(L.data @ L.data.T, sq.data, atol=1e-12)
    U, S, V = sq.svd()
    np.testing.assert_allclose((U.data * S.data) @ V.data.T, sq.data, atol=1e-12)


def test_vecdot_cross_solve_triangular_cond_match_numpy():
    a, b = _rand(4, 3), _rand(4, 3)
    np.testing.assert_allclose(LA.vecdot(dg.tensor(a), dg.tensor(b)).data, (a * b).sum(-1))
    np.testing.assert_allclose(LA.cross(dg.tensor(a), dg.tensor(b)).data, np.cross(a, b))
    t = np.triu(_rand(3, 3)) + 3 * np.eye(3)
    rhs = _rand(3, 2)
    noisy = t + np.tril(_rand(3, 3), -1)  # the lower part must be ignored
    got = LA.solve_triangular(dg.tensor(noisy), dg.tensor(rhs), upper=True).data
    np.testing.assert_allclose(got, np.linalg.solve(t, rhs), atol=1e-12)
    sq = _spd(3)
    np.testing.assert_allclose(LA.cond(dg.tensor(sq)).item(), np.linalg.cond(sq))
    np.testing.assert_allclose(LA.cond(dg.tensor(sq), 1).item(), np.linalg.cond(sq, 1))
    with pytest.raises(ValueError, match=r"linalg.cross: dim -1 must have size 3"):
        LA.cross(dg.tensor(_rand(2, 4)), dg.tensor(_rand(2, 4)))

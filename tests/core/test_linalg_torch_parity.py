"""Optional: dg.linalg against torch.linalg in float64 (values, input gradients, errors).

PyTorch is not a dependency; this file is skipped when it is not installed.
Each row maps inputs to a tuple of gauge-free outputs (singular and
eigenvectors enter through sign-invariant products), which are weighted by
fixed random cotangents and backpropagated in both frameworks.
"""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import linalg as LA

torch = pytest.importorskip("torch", reason="PyTorch parity checks need torch installed")
TL = torch.linalg
RNG = np.random.default_rng(3)


def _shift(a, lib):
    eye = np.eye(a.shape[-1])
    return a + 3.0 * (dg.tensor(eye) if lib is LA else torch.tensor(eye))


def _T(a, lib):
    return a.mT if lib is TL else a.transpose(-1, -2)


def _sym(a, lib):
    return a @ _T(a, lib) + _shift(a, lib)


def _svd_free(a, lib):
    u, s, vh = lib.svd(a, full_matrices=False)
    return s, (u * s[..., None, :] ** 2) @ vh


def _eigh_free(a, lib):
    w, v = lib.eigh(_sym(a, lib))
    return w, (v * w[..., None, :] ** 2) @ _T(v, lib)


def _cond_fro(a, lib):
    if lib is LA:
        return lib.cond(a, "fro")
    return lib.matrix_norm(a, "fro") * lib.matrix_norm(lib.inv(a), "fro")


def _qr(a, lib):
    return tuple(lib.qr(a))


# (id, function of (inputs..., lib), input shapes)
CASES = [
    ("inv", lambda a, lib: (lib.inv(_shift(a, lib)),), [(2, 3, 3)]),
    ("det", lambda a, lib: (lib.det(_shift(a, lib)),), [(2, 3, 3)]),
    ("slogdet-negative", lambda a, lib: tuple(lib.slogdet(-_shift(a, lib))), [(3, 3)]),
    ("solve", lambda a, b, lib: (lib.solve(_shift(a, lib), b),), [(2, 3, 3), (2, 3, 2)]),
    ("solve-vec", lambda a, b, lib: (lib.solve(_shift(a, lib), b),), [(3, 3), (3,)]),
    ("cholesky", lambda a, lib: (lib.cholesky(_sym(a, lib)),), [(2, 3, 3)]),
    ("qr-tall", _qr, [(4, 3)]),
    ("qr-square", _qr, [(2, 3, 3)]),
    ("eigh", _eigh_free, [(3, 3)]),
    ("eigvalsh", lambda a, lib: (lib.eigvalsh(_sym(a, lib)),), [(2, 3, 3)]),
    ("svd-tall", _svd_free, [(4, 3)]),
    ("svd-wide", _svd_free, [(2, 4)]),
    ("svdvals", lambda a, lib: (lib.svdvals(a),), [(3, 4)]),
    ("pinv", lambda a, lib: (lib.pinv(a),), [(4, 3)]),
    ("lstsq", lambda a, b, lib: (lib.lstsq(a, b).solution,), [(5, 3), (5, 2)]),
    ("matrix_exp", lambda a, lib: (lib.matrix_exp(a),), [(2, 3, 3)]),
    ("vector_norm-3", lambda a, lib: (lib.vector_norm(a, 3.0, dim=1),), [(3, 4)]),
    ("vector_norm-inf", lambda a, lib: (lib.vector_norm(a, float("inf")),), [(3, 4)]),
    ("matrix_norm-fro", lambda a, lib: (lib.matrix_norm(a),), [(2, 3, 4)]),
    ("matrix_norm-nuc", lambda a, lib: (lib.matrix_norm(a, "nuc"),), [(2, 3, 4)]),
    ("matrix_norm-2", lambda a, lib: (lib.matrix_norm(a, 2),), [(3, 4)]),
    (
        "matrix_norm-1",
        lambda a, lib: (lib.matrix_norm(a, 1, dim=(0, 1), keepdim=True),),
        [(3, 4)],
    ),
    ("norm-default", lambda a, lib: (lib.norm(a),), [(2, 3, 4)]),
    ("norm-vector-dim", lambda a, lib: (lib.norm(a, dim=-1),), [(2, 3, 4)]),
    ("vecdot", lambda a, b, lib: (lib.vecdot(a, b, dim=1),), [(3, 4), (3, 4)]),
    ("cross", lambda a, b, lib: (lib.cross(a, b, dim=0),), [(3, 2), (3, 2)]),
    (
        "solve_triangular-upper",
        lambda a, b, lib: (lib.solve_triangular(_shift(a, lib), b, upper=True),),
        [(2, 3, 3), (2, 3, 2)],
    ),
    (
        "solve_triangular-unit-right",
        lambda a, b, lib: (
            lib.solve_triangular(a, b, upper=False, left=False, unitriangular=True),
        ),
        [(3, 3), (2, 3)],
    ),
    ("cond", lambda a, lib: (lib.cond(a),), [(2, 3, 3)]),
    # torch.linalg.cond(A, "fro") fails in backward (an in-place op on a saved tensor in
    # torch 2.13), so the reference is its definition ||A|| ||A^-1|| in torch.
    ("cond-fro", lambda a, lib: (_cond_fro(_shift(a, lib), lib),), [(3, 3)]),
]


def _run(fn, arrays, lib, weights):
    if lib is LA:
        xs = [dg.tensor(a, requires_grad=True) for a in arrays]
        outs = fn(*xs, lib)
        total = sum((o * dg.tensor(w)).sum() for o, w in zip(outs, weights))
        total.backward()
        return [o.data for o in outs], [x.grad.data for x in xs]
    xs = [torch.tensor(a, requires_grad=True) for a in arrays]
    outs = fn(*xs, lib)
    total = sum((o * torch.tensor(w)).sum() for o, w in zip(outs, weights))
    total.backward()
    return [o.detach().numpy() for o in outs], [x.grad.numpy() for x in xs]


@pytest.mark.parametrize(("fn", "shapes"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_values_and_gradients_match_torch(fn, shapes):
    arrays = [RNG.normal(size=s) for s in shapes]
    with torch.no_grad():
        ref = fn(*[torch.tensor(a) for a in arrays], TL)
    weights = [RNG.normal(size=tuple(r.shape)) for r in ref]
    ours, our_grads = _run(fn, arrays, LA, weights)
    theirs, their_grads = _run(fn, arrays, TL, weights)
    for o, t in zip(ours, theirs):
        assert o.dtype == t.dtype and o.shape == t.shape
        np.testing.assert_allclose(o, t, rtol=1e-8, atol=1e-10)
    for g, t in zip(our_grads, their_grads):
        np.testing.assert_allclose(g, t, rtol=1e-6, atol=1e-8)


def test_lstsq_rank_and_old_names_match_torch():
    a, b = RNG.normal(size=(5, 3)), RNG.normal(size=(5, 2))
    ours = LA.lstsq(dg.tensor(a), dg.tensor(b))
    theirs = TL.lstsq(torch.tensor(a), torch.tensor(b))
    assert ours.rank.item() == theirs.rank.item()
    assert ours.residuals.shape == tuple(theirs.residuals.shape)
    _, _, v = dg.svd(dg.tensor(a))
    _, _, tv = torch.svd(torch.tensor(a))
    np.testing.assert_allclose(np.abs(v.numpy()), np.abs(tv.numpy()), atol=1e-10)
    np.testing.assert_allclose(dg.pinverse(dg.tensor(a)).data, torch.pinverse(torch.tensor(a)))


@pytest.mark.parametrize(
    ("name", "arg"),
    [("inv", np.zeros((2, 2))), ("cholesky", -np.eye(2)), ("solve", np.zeros((2, 2)))],
)
def test_singular_inputs_raise_in_both(name, arg):
    extra = (np.ones(2),) if name == "solve" else ()
    with pytest.raises(RuntimeError):
        getattr(TL, name)(torch.tensor(arg), *[torch.tensor(e) for e in extra])
    with pytest.raises(LA.LinAlgError, match=f"linalg.{name}"):
        getattr(LA, name)(dg.tensor(arg), *[dg.tensor(e) for e in extra])

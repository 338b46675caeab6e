"""nn.utils.parametrize, parametrizations.weight_norm/spectral_norm and prune (issue 13)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn
from deepgrad.nn.utils import parametrizations as P
from deepgrad.nn.utils import parametrize, prune


class Symmetric(nn.Module):
    def forward(self, w):
        return (w + w.transpose(0, 1)) * 0.5


def test_parametrization_computes_on_access_and_trains_the_original():
    m = nn.Linear(3, 3, dtype="float64")
    parametrize.register_parametrization(m, "weight", Symmetric())
    w = m.weight.data
    np.testing.assert_allclose(w, w.T)
    assert parametrize.is_parametrized(m, "weight") and not parametrize.is_parametrized(m, "bias")
    m(dg.ones(2, 3, dtype="float64")).sum().backward()
    g = m.parametrizations.weight.original.grad.data
    np.testing.assert_allclose(g, g.T)  # the gradient reaches the original through P
    parametrize.remove_parametrizations(m, "weight")
    assert type(m) is nn.Linear and isinstance(m.weight, nn.Parameter)
    np.testing.assert_allclose(m.weight.data, w)


def test_weight_norm_keeps_the_function_and_splits_g_and_v():
    m = nn.Linear(4, 3, dtype="float64")
    x = dg.tensor(np.random.default_rng(0).normal(size=(2, 4)))
    before = m(x).data
    P.weight_norm(m)
    np.testing.assert_allclose(m(x).data, before, atol=1e-12)
    names = [n for n, _ in m.named_parameters()]
    assert names == [
        "bias",
        "parametrizations.weight.original0",
        "parametrizations.weight.original1",
    ]
    g = m.parametrizations.weight.original0.data
    np.testing.assert_allclose(g[:, 0], np.linalg.norm(m.weight.numpy(), axis=1))
    clone = copy.deepcopy(m)
    np.testing.assert_allclose(clone(x).data, before, atol=1e-12)


def test_spectral_norm_makes_the_top_singular_value_one():
    m = nn.Linear(6, 5, dtype="float64")
    rng = np.random.default_rng(3)  # a known spectrum, so power iteration converges fast
    u, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    v, _ = np.linalg.qr(rng.normal(size=(6, 5)))
    m.weight.data[...] = (u * np.array([3.0, 1.5, 1.0, 0.5, 0.1])) @ v.T
    P.spectral_norm(m, generator=np.random.default_rng(0))
    for _ in range(20):
        w = m.weight.data  # training-mode access: one more power iteration
    assert abs(np.linalg.svd(w, compute_uv=False)[0] - 1.0) < 1e-6
    with pytest.raises(ValueError, match="n_power_iterations must be positive"):
        P.spectral_norm(nn.Linear(2, 2), n_power_iterations=0)


def test_prune_l1_then_again_then_remove():
    m = nn.Linear(5, 4, dtype="float64")
    prune.l1_unstructured(m, "weight", amount=0.25)
    orig = m.weight_orig.data
    mask = m.weight_mask.data
    assert mask.sum() == 15 and prune.is_pruned(m)
    assert np.abs(orig[mask == 0]).max() <= np.abs(orig[mask == 1]).min()
    prune.l1_unstructured(m, "weight", amount=5)  # 5 more of the 15 left
    assert m.weight_mask.data.sum() == 10
    m(dg.ones(1, 5, dtype="float64")).sum().backward()
    assert np.all(m.weight_orig.grad.numpy()[m.weight_mask.numpy() == 0] == 0)
    prune.remove(m, "weight")
    assert sorted(m.state_dict()) == ["bias", "weight"] and (m.weight.data == 0).sum() == 10
    assert not prune.is_pruned(m)


def test_random_prune_is_reproducible_and_amount_is_checked():
    a, b = nn.Linear(4, 4), nn.Linear(4, 4)
    prune.random_unstructured(a, "weight", 0.5, generator=np.random.default_rng(1))
    prune.random_unstructured(b, "weight", 0.5, generator=np.random.default_rng(1))
    np.testing.assert_array_equal(a.weight_mask.data, b.weight_mask.data)
    with pytest.raises(ValueError, match=r"l1_unstructured: amount=1.5 must be a fraction"):
        prune.l1_unstructured(nn.Linear(2, 2), "weight", 1.5)
    with pytest.raises(ValueError, match=r"remove: parameter 'bias' of Linear is not pruned"):
        prune.remove(a, "bias")


def test_match_torch():
    torch = pytest.importorskip("torch", reason="torch.nn.utils is the reference")
    rng = np.random.default_rng(2)
    w, x = rng.normal(size=(3, 4)), rng.normal(size=(5, 4))
    ours = nn.Linear(4, 3, bias=False, dtype="float64")
    ours.weight.data[...] = w
    theirs = torch.nn.Linear(4, 3, bias=False, dtype=torch.float64)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(w))
    P.weight_norm(ours)
    torch.nn.utils.parametrizations.weight_norm(theirs)
    ours.parametrizations.weight.original1.data[...] *= 2.0  # v scaled: w unchanged
    with torch.no_grad():
        theirs.parametrizations.weight.original1.mul_(2.0)
    out, ref = ours(dg.tensor(x)), theirs(torch.tensor(x))
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-12)
    out.sum().backward()
    ref.sum().backward()
    for k in ("original0", "original1"):
        ours_g = getattr(ours.parametrizations.weight, k).grad.data
        their_g = getattr(theirs.parametrizations.weight, k).grad.numpy()
        np.testing.assert_allclose(ours_g, their_g, rtol=1e-10)
    a, b = nn.Linear(4, 3), torch.nn.Linear(4, 3)
    with torch.no_grad():
        b.weight.copy_(torch.tensor(a.weight.numpy()))
    prune.l1_unstructured(a, "weight", 0.4)
    from torch.nn.utils import prune as tprune

    tprune.l1_unstructured(b, "weight", 0.4)
    np.testing.assert_array_equal(a.weight_mask.data, b.weight_mask.numpy())


def test_legacy_entry_points_wrap_and_unwrap():
    m = nn.utils.spectral_norm(nn.Linear(3, 2), generator=np.random.default_rng(0))
    assert parametrize.is_parametrized(m, "weight")
    nn.utils.remove_spectral_norm(m)
    assert type(m) is nn.Linear and "weight" in m.state_dict()
    w = nn.utils.weight_norm(nn.Linear(3, 2))
    nn.utils.remove_weight_norm(w)
    assert sorted(w.state_dict()) == ["bias", "weight"]

"""Batch norm's per-channel primitives (ops/channel_norm.py) in every memory order a feature
map arrives in, and the layer's batch norm against the elementwise composite F.batch_norm."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.nn import functional as F
from deepgrad.ops import batch_norm as BN
from deepgrad.ops import channel_norm as CN


def _in_order(a, order):
    """`a` with the same values, stored in memory order `order` (a view of a copy)."""
    if order == "nchw":
        return np.ascontiguousarray(a)
    if order == "nhwc":
        return np.moveaxis(np.ascontiguousarray(np.moveaxis(a, 1, -1)), -1, 1)
    return np.moveaxis(np.ascontiguousarray(np.moveaxis(a, 1, 0)), 0, 1)  # cnhw


ORDERS = ["nchw", "nhwc", "cnhw"]


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_channel_primitives_match_numpy_in_every_memory_order(order, dtype):
    rng = np.random.default_rng(0)
    raw = rng.standard_normal((3, 4, 5, 2)).astype(dtype)
    x, y = _in_order(raw, order), _in_order(rng.standard_normal(raw.shape).astype(dtype), order)
    a, b = rng.standard_normal(4).astype(dtype), rng.standard_normal(4).astype(dtype)
    tol = {"rtol": 1e-5 if dtype == np.float32 else 1e-12, "atol": 1e-6}
    axes = (0, 2, 3)
    m = CN.channel_moments(dg.Tensor(x)).data
    np.testing.assert_allclose(m, np.stack([raw.mean(axes), raw.var(axes)]), **tol)
    aff = CN.channel_affine(dg.Tensor(x), dg.Tensor(a), dg.Tensor(b)).data
    np.testing.assert_allclose(aff, raw * a[:, None, None] + b[:, None, None], **tol)
    sc = CN.channel_scale(dg.Tensor(x), dg.Tensor(a)).data
    np.testing.assert_allclose(sc, raw * a[:, None, None], **tol)
    dot = CN.channel_dot(dg.Tensor(x), dg.Tensor(y)).data
    np.testing.assert_allclose(dot, (raw * np.asarray(y)).sum(axes), **tol)
    assert aff.dtype == dtype and m.dtype == dtype


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_matches_the_elementwise_composite(order, training):
    """Values, all three gradients and the running statistics, float64."""
    rng = np.random.default_rng(1)
    raw = rng.standard_normal((4, 3, 3, 2)) * 2 + 1
    g = rng.standard_normal(raw.shape)
    results = []
    for fn in (BN.batch_norm, F.batch_norm):
        x = dg.Tensor(_in_order(raw, order), requires_grad=True)
        w = dg.Tensor(rng.standard_normal(3) * 0 + np.array([1.5, -0.5, 2.0]), requires_grad=True)
        b = dg.Tensor(np.array([0.1, 0.2, -0.3]), requires_grad=True)
        rm, rv = dg.Tensor(np.array([0.5, 0.0, -1.0])), dg.Tensor(np.array([2.0, 1.0, 0.5]))
        out = fn(x, rm, rv, w, b, training, 0.1, 1e-5)
        (out * dg.Tensor(g)).sum().backward()
        results.append([out.data, x.grad.data, w.grad.data, b.grad.data, rm.data, rv.data])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_channel_affine_vmap_over_the_map_only_matches_the_loop():
    """The batching rule folding vmap's batch into N (coefficients shared)."""
    rng = np.random.default_rng(2)
    xs = dg.tensor(rng.standard_normal((3, 2, 4, 5)))
    a, b = dg.tensor(rng.standard_normal(4)), dg.tensor(rng.standard_normal(4))
    got = dg.vmap(lambda x: CN.channel_affine(x, a, b))(xs).data
    want = np.stack([CN.channel_affine(xs[i], a, b).data for i in range(3)])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert got.shape == (3, 2, 4, 5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_eval_batch_norm_with_frozen_parameters_matches_the_composite(dtype):
    """Running statistics and gamma, beta without gradients: the coefficients are computed
    on the arrays; the value and the input's gradient equal F.batch_norm's."""
    rng = np.random.default_rng(3)
    raw = rng.standard_normal((3, 4, 2, 3)).astype(dtype)
    g = rng.standard_normal(raw.shape).astype(dtype)
    stats = [dg.Tensor(rng.standard_normal(4).astype(dtype)) for _ in range(2)]
    rv = dg.Tensor(np.abs(stats[1].data) + 0.5)
    w, b = dg.Tensor(np.array([1.5, -0.5, 2.0, 1.0], dtype)), dg.Tensor(np.zeros(4, dtype) + 0.2)
    results = []
    for fn in (BN.batch_norm, F.batch_norm):
        x = dg.Tensor(raw.copy(), requires_grad=True)
        out = fn(x, stats[0], rv, w, b, False, 0.1, 1e-5)
        (out * dg.Tensor(g)).sum().backward()
        with dg.inference_mode():
            infer = fn(dg.Tensor(raw), stats[0], rv, w, b, False, 0.1, 1e-5).data
        results.append([out.data, x.grad.data, infer])
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=tol, atol=tol)
        assert ours.dtype == dtype

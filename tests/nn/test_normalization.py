"""Normalisation layers against hand-computed NumPy references: batch statistics in
training, running statistics (unbiased variance, momentum, cumulative) and eval mode."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn

RNG = np.random.default_rng(0)


def T(a):
    return dg.Tensor(np.asarray(a, dtype=np.float64))


def _bn_ref(x, axes, mean, var, w, b, eps=1e-5):
    shape = [1] * x.ndim
    shape[1] = -1
    return (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps) * w.reshape(
        shape
    ) + b.reshape(shape)


@pytest.mark.parametrize("shape", [(8, 3), (5, 3, 4)])
def test_batchnorm_train_uses_batch_stats_and_updates_running_stats(shape):
    bn = nn.BatchNorm1d(3, momentum=0.2).double()
    bn.weight.data[...] = [1.0, 2.0, 0.5]
    bn.bias.data[...] = [0.0, -1.0, 3.0]
    rm, rv = np.zeros(3), np.ones(3)
    axes = (0,) + tuple(range(2, len(shape)))
    for step in range(3):
        x = RNG.normal(loc=2.0, scale=3.0, size=shape)
        out = bn(T(x))
        mean, var = x.mean(axes), x.var(axes)
        np.testing.assert_allclose(
            out.data, _bn_ref(x, axes, mean, var, bn.weight.data, bn.bias.data), rtol=1e-10
        )
        n = x.size / 3
        rm = 0.8 * rm + 0.2 * mean
        rv = 0.8 * rv + 0.2 * var * n / (n - 1)
        np.testing.assert_allclose(bn.running_mean.data, rm, rtol=1e-12)
        np.testing.assert_allclose(bn.running_var.data, rv, rtol=1e-12)
        assert int(bn.num_batches_tracked.data) == step + 1
    bn.eval()
    x = RNG.normal(size=shape)
    np.testing.assert_allclose(
        bn(T(x)).data, _bn_ref(x, axes, rm, rv, bn.weight.data, bn.bias.data), rtol=1e-10
    )
    assert int(bn.num_batches_tracked.data) == 3  # eval changes nothing


def test_batchnorm_momentum_none_is_a_cumulative_average():
    bn = nn.BatchNorm1d(2, momentum=None).double()
    xs = [RNG.normal(size=(6, 2)) for _ in range(4)]
    for x in xs:
        bn(T(x))
    np.testing.assert_allclose(bn.running_mean.data, np.mean([x.mean(0) for x in xs], 0))
    np.testing.assert_allclose(bn.running_var.data, np.mean([x.var(0, ddof=1) for x in xs], 0))


def test_batchnorm_without_running_stats_always_uses_the_batch():
    bn = nn.BatchNorm1d(2, track_running_stats=False, affine=False).double().eval()
    x = RNG.normal(size=(5, 2))
    np.testing.assert_allclose(bn(T(x)).data, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5))
    assert bn.running_mean is None and list(bn.state_dict()) == []


def test_batchnorm_needs_more_than_one_value_per_channel_in_training():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(dg.zeros(1, 3))
    nn.BatchNorm1d(3).eval()(dg.zeros(1, 3))


def test_layer_group_instance_norm_match_numpy():
    x = RNG.normal(size=(2, 4, 3, 5))
    ln = nn.LayerNorm((3, 5)).double()
    ln.weight.data[...] = RNG.normal(size=(3, 5))
    m, v = x.mean((2, 3), keepdims=True), x.var((2, 3), keepdims=True)
    ref = (x - m) / np.sqrt(v + 1e-5) * ln.weight.data
    np.testing.assert_allclose(ln(T(x)).data, ref, rtol=1e-10)
    gn = nn.GroupNorm(2, 4).double()
    g = x.reshape(2, 2, -1)
    ref = ((g - g.mean(2, keepdims=True)) / np.sqrt(g.var(2, keepdims=True) + 1e-5)).reshape(
        x.shape
    )
    np.testing.assert_allclose(gn(T(x)).data, ref, rtol=1e-10)
    xi = RNG.normal(size=(2, 4, 7))
    inorm = nn.InstanceNorm1d(4).double()
    ref = (xi - xi.mean(2, keepdims=True)) / np.sqrt(xi.var(2, keepdims=True) + 1e-5)
    np.testing.assert_allclose(inorm(T(xi)).data, ref, rtol=1e-10)
    np.testing.assert_allclose(inorm(T(xi[0])).data, ref[0], rtol=1e-10)  # unbatched
    assert inorm.num_parameters() == 0 and inorm.running_mean is None


def test_instance_norm_running_stats_average_the_instances():
    inorm = nn.InstanceNorm1d(3, track_running_stats=True, momentum=1.0).double()
    x = RNG.normal(size=(4, 3, 6))
    inorm(T(x))
    np.testing.assert_allclose(inorm.running_mean.data, x.mean(2).mean(0))
    np.testing.assert_allclose(inorm.running_var.data, x.var(2, ddof=1).mean(0))
    inorm.eval()
    ref = (x - x.mean(2).mean(0)[:, None]) / np.sqrt(x.var(2, ddof=1).mean(0)[:, None] + 1e-5)
    np.testing.assert_allclose(inorm(T(x)).data, ref, rtol=1e-10)


def test_batchnorm_is_generic_over_the_channel_axis():
    from deepgrad.nn.normalization import _BatchNorm

    class BatchNorm2dLike(_BatchNorm):
        _layouts = ("(N, {C}, H, W)",)
        _ndims = (4,)

    bn = BatchNorm2dLike(3).double()
    x = RNG.normal(size=(2, 3, 4, 4))
    ref = (x - x.mean((0, 2, 3), keepdims=True)) / np.sqrt(x.var((0, 2, 3), keepdims=True) + 1e-5)
    np.testing.assert_allclose(bn(T(x)).data, ref, rtol=1e-10)
    with pytest.raises(ValueError, match=r"BatchNorm2dLike 3 expects input \(N, 3, H, W\)"):
        bn(T(x[0]))

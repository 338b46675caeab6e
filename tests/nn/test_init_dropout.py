"""Initialisation variances (Glorot & Bengio 2010, He et al. 2015), orthogonality, and
dropout's mean-preserving mask."""

from __future__ import annotations

import math

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn
from deepgrad.nn import functional as F
from deepgrad.nn import init


def _w(*shape):
    return dg.zeros(*shape, dtype="float64")


def _gen(seed=0):
    return np.random.default_rng(seed)


@pytest.mark.parametrize(
    "fn,expected",
    [
        (lambda w: init.xavier_uniform_(w, generator=_gen()), 2 / (512 + 512)),
        (lambda w: init.xavier_normal_(w, generator=_gen()), 2 / (512 + 512)),
        (lambda w: init.kaiming_uniform_(w, nonlinearity="relu", generator=_gen()), 2 / 512),
        (lambda w: init.kaiming_normal_(w, nonlinearity="relu", generator=_gen()), 2 / 512),
        (
            lambda w: init.kaiming_normal_(
                w, mode="fan_out", nonlinearity="tanh", generator=_gen()
            ),
            (5 / 3) ** 2 / 512,
        ),
        (
            lambda w: init.xavier_uniform_(w, gain=init.calculate_gain("tanh"), generator=_gen()),
            (5 / 3) ** 2 / 512,
        ),
    ],
)
def test_init_variance_within_5_percent_on_512x512(fn, expected):
    w = fn(_w(512, 512))
    assert abs(w.numpy().var() / expected - 1) < 0.05
    assert abs(w.data.mean()) < 0.01 * math.sqrt(expected) * 10


def test_fans_and_gains():
    assert init._calculate_fan_in_and_fan_out(_w(16, 3, 5, 5)) == (75, 400)
    with pytest.raises(ValueError, match="at least 2 dims"):
        init._calculate_fan_in_and_fan_out(_w(3))
    assert init.calculate_gain("relu") == math.sqrt(2)
    assert init.calculate_gain("leaky_relu", 0.2) == math.sqrt(2 / 1.04)
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swishy'"):
        init.calculate_gain("swishy")
    with pytest.raises(ValueError, match="fan_in"):
        init.kaiming_normal_(_w(2, 2), mode="fan_middle")


def test_orthogonal_eye_constant_and_in_place():
    for shape in [(6, 6), (3, 8), (8, 3), (4, 2, 3)]:
        w = _w(*shape)
        data_before = w.numpy()
        init.orthogonal_(w, gain=2.0, generator=_gen())
        assert w.numpy() is data_before  # in place
        m = w.data.reshape(shape[0], -1)
        gram = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
        np.testing.assert_allclose(gram, 4 * np.eye(gram.shape[0]), atol=1e-12)
    np.testing.assert_array_equal(init.eye_(_w(2, 3)).data, np.eye(2, 3))
    assert np.all(init.constant_(_w(2), 0.5).numpy() == 0.5)
    assert np.all(init.ones_(_w(2)).numpy() == 1) and np.all(init.zeros_(_w(2)).numpy() == 0)
    t = init.trunc_normal_(_w(1000), std=1.0, a=-0.5, b=0.5, generator=_gen())
    assert t.data.min() >= -0.5 and t.data.max() <= 0.5
    a = init.normal_(_w(3, 3), generator=_gen(7))
    b = init.normal_(_w(3, 3), generator=_gen(7))
    np.testing.assert_array_equal(a.data, b.data)


def test_dropout_keeps_the_mean_and_is_identity_in_eval():
    x = dg.ones(200, 500)
    d = nn.Dropout(0.3, generator=_gen())
    y = d(x).data
    assert abs(y.mean() - 1.0) < 0.01
    assert abs((y == 0).mean() - 0.3) < 0.01
    np.testing.assert_allclose(y[y != 0], 1 / 0.7, rtol=1e-6)
    d.eval()
    assert d(x) is x
    assert np.all(nn.Dropout(1.0)(x).numpy() == 0)
    assert nn.Dropout(0.0)(x) is x


def test_dropout_gradient_is_the_mask_and_seed_fixes_the_mask():
    x = dg.ones(4, 6, requires_grad=True)
    y = F.dropout(x, 0.5, generator=_gen(3))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, y.data)
    np.testing.assert_array_equal(F.dropout(x, 0.5, generator=_gen(3)).data, y.data)


def test_dropout_validates_p():
    for p in (-0.1, 1.5, "a"):
        with pytest.raises(ValueError, match="probability p must be in \\[0, 1\\]"):
            nn.Dropout(p)
    with pytest.raises(ValueError, match="\\[0, 1\\]"):
        F.dropout(dg.ones(2), 2.0)


def test_alpha_dropout_keeps_selu_statistics():
    x = dg.randn(400, 500, generator=_gen(1), dtype="float64")
    y = nn.AlphaDropout(0.2, generator=_gen(2))(x).data
    assert abs(y.mean()) < 0.01 and abs(y.std() - 1) < 0.01
    assert nn.AlphaDropout(0.2).eval()(x) is x

"""The extra activations and distances (issue 13): values at known points, shapes, modes."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn
from deepgrad.nn import functional as F


def test_known_values():
    x = dg.tensor([-4.0, -1.0, 0.0, 1.0, 4.0], dtype="float64")
    np.testing.assert_allclose(F.hardsigmoid(x).data, [0.0, 1 / 3, 0.5, 2 / 3, 1.0])
    np.testing.assert_allclose(F.hardswish(x).data, [0.0, -1 / 3, 0.0, 2 / 3, 4.0])
    np.testing.assert_allclose(F.softsign(x).data, [-0.8, -0.5, 0.0, 0.5, 0.8])
    np.testing.assert_allclose(F.softshrink(x, 1.5).data, [-2.5, 0.0, 0.0, 0.0, 2.5])
    np.testing.assert_allclose(F.hardshrink(x, 1.5).data, [-4.0, 0.0, 0.0, 0.0, 4.0])
    np.testing.assert_allclose(F.threshold(x, 0.5, -7.0).data, [-7.0, -7.0, -7.0, 1.0, 4.0])
    np.testing.assert_allclose(F.celu(x, 2.0).data[:2], 2.0 * np.expm1(np.array([-2.0, -0.5])))
    np.testing.assert_allclose(F.mish(x).data, x.data * np.tanh(np.log1p(np.exp(x.data))))
    np.testing.assert_allclose(F.tanhshrink(x).data, x.data - np.tanh(x.data))


def test_glu_halves_and_softmin():
    x = dg.tensor(np.arange(8.0).reshape(2, 4))
    out = F.glu(x)
    a, b = x.data[:, :2], x.data[:, 2:]
    np.testing.assert_allclose(out.data, a / (1 + np.exp(-b)))
    sm = F.softmin(dg.tensor([[1.0, 2.0, 3.0]]), dim=1).data
    e = np.exp(-np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(sm[0], e / e.sum())


def test_rrelu_train_draws_slopes_in_range_eval_is_mean():
    x = dg.tensor(-np.ones((200,)))
    layer = nn.RReLU(0.1, 0.3, generator=np.random.default_rng(0))
    slopes = -layer(x).data
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3 and slopes.std() > 0.03
    again = -nn.RReLU(0.1, 0.3, generator=np.random.default_rng(0))(x).data
    np.testing.assert_array_equal(slopes, again)
    layer.eval()
    np.testing.assert_allclose(layer(x).data, -0.2)


def test_normalize_cosine_pairwise():
    x = dg.tensor([[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(F.normalize(x, dim=1).data, [[0.6, 0.8], [0.0, 0.0]])
    a = dg.tensor([[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(nn.CosineSimilarity()(a, a * 5.0).data, [1.0])
    np.testing.assert_allclose(nn.CosineSimilarity()(a, -a).data, [-1.0])
    d = nn.PairwiseDistance(eps=0.0)(dg.tensor([[0.0, 0.0]]), dg.tensor([[3.0, 4.0]]))
    np.testing.assert_allclose(d.data, [5.0])


def test_integer_input_is_refused_with_the_function_name():
    with pytest.raises(TypeError, match="mish: x must be a floating point tensor, got int64"):
        F.mish(dg.tensor([1, 2]))

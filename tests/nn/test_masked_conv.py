"""Masked (PixelCNN) and causal (WaveNet) convolutions never see the future."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn


def _input_grad(model, x_shape, out_index):
    x = dg.tensor(np.random.default_rng(0).normal(size=x_shape), requires_grad=True)
    model(x)[out_index].backward()
    return np.abs(x.grad.numpy())


def test_stacked_masked_convs_see_only_earlier_pixels():
    """d y[i, j] / d x is zero at (i, j) and after it in raster order, non-zero before it."""
    g = np.random.default_rng(1)
    model = nn.Sequential(
        nn.MaskedConv2d("A", 1, 4, 3, padding=1, generator=g, dtype="float64"),
        nn.ReLU(),
        nn.MaskedConv2d("B", 4, 4, 3, padding=1, generator=g, dtype="float64"),
        nn.ReLU(),
        nn.MaskedConv2d("B", 4, 1, 3, padding=1, generator=g, dtype="float64"),
    )
    i, j = 4, 3
    grad = _input_grad(model, (1, 1, 7, 7), (0, 0, i, j))[0, 0]
    order = np.arange(49).reshape(7, 7)
    assert np.all(grad[order >= order[i, j]] == 0)
    assert grad[i, j - 1] > 0 and grad[i - 1, j] > 0  # the immediate past is seen


def test_mask_b_sees_the_centre_and_mask_a_does_not():
    for kind, centre in [("A", False), ("B", True)]:
        conv = nn.MaskedConv2d(kind, 1, 1, 3, padding=1, dtype="float64")
        grad = _input_grad(conv, (1, 1, 5, 5), (0, 0, 2, 2))[0, 0]
        assert (grad[2, 2] > 0) == centre
        assert np.all(grad[3:] == 0) and np.all(grad[2, 3:] == 0)


def test_the_mask_survives_training_updates():
    conv = nn.MaskedConv2d("A", 1, 1, 3, padding=1)
    conv.weight.data[...] = 1.0
    out = conv(dg.ones(1, 1, 3, 3))
    assert float(out.data[0, 0, 0, 0]) == pytest.approx(float(conv.bias.data[0]))


def test_causal_conv_keeps_length_and_never_sees_later_samples():
    g = np.random.default_rng(2)
    stack = nn.Sequential(*[nn.DilatedCausalConv1d(1 if d == 1 else 3, 3, 2, dilation=d,
                                                   generator=g, dtype="float64")
                            for d in (1, 2, 4)])  # fmt: skip
    t = 9
    x_shape = (1, 1, 16)
    assert stack(dg.zeros(*x_shape, dtype="float64")).shape == (1, 3, 16)
    grad = _input_grad(stack, x_shape, (0, 0, t))[0, 0]
    assert np.all(grad[t + 1 :] == 0)
    receptive = 1 + (2 - 1) * (1 + 2 + 4)
    assert np.all(grad[t - receptive + 1 : t + 1] > 0)
    assert np.all(grad[: t - receptive + 1] == 0)

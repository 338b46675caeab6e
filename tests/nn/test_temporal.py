"""Causal convolutions never look ahead; the WaveNet block's receptive field."""

from __future__ import annotations

import numpy as np

import deepgrad as dg
from deepgrad import nn


def _dependence(f, x: dg.Tensor) -> np.ndarray:
    """(L, L): entry (t, s) is |d out[..., t] / d x[..., s]| summed over the rest."""
    steps = x.shape[-1]
    u = np.random.default_rng(9).standard_normal(f(x)[..., 0].shape)
    dep = np.zeros((steps, steps))
    for t in range(steps):
        x.grad = None
        (f(x)[..., t] * dg.Tensor(u)).sum().backward()
        dep[t] = np.abs(x.grad.numpy()).sum(axis=(0, 1))
    return dep


def test_causal_conv_sees_exactly_its_dilated_past():
    conv = nn.CausalConv1d(2, 3, 3, dilation=2, generator=np.random.default_rng(0)).double()
    x = dg.Tensor(np.random.default_rng(1).standard_normal((2, 2, 8)), requires_grad=True)
    assert conv(x).shape == (2, 3, 8)
    dep = _dependence(conv, x)
    for t in range(8):
        seen = {s for s in range(8) if dep[t, s] > 0}
        assert seen == {s for s in (t, t - 2, t - 4) if s >= 0}


def test_wavenet_stack_is_causal_with_growing_receptive_field():
    rng = np.random.default_rng(2)
    blocks = [nn.WaveNetBlock(2, 3, 2, dilation=d, generator=rng).double() for d in (1, 2, 4)]

    def f(x):
        skips = None
        for b in blocks:
            x, s = b(x)
            skips = s if skips is None else skips + s
        return skips

    x = dg.Tensor(rng.standard_normal((1, 2, 10)), requires_grad=True)
    dep = _dependence(f, x)
    assert np.all(np.triu(dep, 1) == 0)
    assert np.all(dep[9, 2:] > 0) and np.all(dep[9, :2] == 0)  # receptive field 1 + 1 + 2 + 4 = 8

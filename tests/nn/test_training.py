"""Behaviour from the lecture notes: zero initialisation never breaks symmetry, an MLP
overfits one batch, penalties and gradient clipping do what they say."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn
from deepgrad.nn import init
from deepgrad.nn.utils import (
    clip_grad_norm_,
    clip_grad_value_,
    parameters_to_vector,
    vector_to_parameters,
)

RNG = np.random.default_rng(0)
X = dg.Tensor(RNG.normal(size=(16, 4)).astype(np.float32))
Y = dg.Tensor(RNG.integers(0, 3, size=16))


def _sgd(model, lr):
    for p in model.parameters():
        p.data -= lr * p.grad.data
    model.zero_grad()


def test_zero_initialisation_never_breaks_symmetry():
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    model.apply(lambda m: [init.zeros_(p) for p in m.parameters(recurse=False)])
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(5):
        loss_fn(model(X), Y).backward()
        _sgd(model, 0.5)
    w1, w2 = model[0].weight.numpy(), model[2].weight.numpy()
    assert np.all(w1 == w1[:1])  # every hidden unit has the same incoming weights
    assert np.all(w2 == w2[:, :1])  # and the same outgoing weights
    assert np.any(model[2].bias.numpy() != 0)  # ...although the network did train


def test_random_init_mlp_overfits_a_batch():
    model = nn.Sequential(
        nn.Linear(4, 32, generator=RNG), nn.ReLU(), nn.Linear(32, 3, generator=RNG)
    )
    loss_fn = nn.CrossEntropyLoss()
    first = None
    for _ in range(300):
        loss = loss_fn(model(X), Y)
        first = first if first is not None else loss.item()
        loss.backward()
        _sgd(model, 0.5)
    assert loss.item() < 0.05 * first
    assert np.all(model(X).numpy().argmax(1) == Y.numpy())


def test_penalties_skip_biases_and_norm_layers_by_default():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.LayerNorm(4), nn.Linear(4, 2))
    w0, w3 = model[0].weight.data, model[3].weight.data
    np.testing.assert_allclose(
        nn.l2_penalty(model).item(), (w0**2).sum() + (w3**2).sum(), rtol=1e-5
    )
    np.testing.assert_allclose(
        nn.l1_penalty(model).item(), np.abs(w0).sum() + np.abs(w3).sum(), rtol=1e-5
    )
    names = [n for n, _ in nn.penalized_parameters(model, exclude="3.*")]
    assert names == ["0.weight"]
    names = [n for n, _ in nn.penalized_parameters(model, include=["*.bias", "1.*"])]
    assert names == ["0.bias", "1.weight", "1.bias", "2.bias", "3.bias"]
    nn.l2_penalty(model).backward()
    np.testing.assert_allclose(model[0].weight.grad.data, 2 * w0, rtol=1e-6)
    assert model[0].bias.grad is None
    model[0].requires_grad_(False)
    assert [n for n, _ in nn.penalized_parameters(model)] == ["3.weight"]
    assert nn.l1_penalty(nn.ReLU()).item() == 0.0


def test_clip_grad_norm_and_value():
    a = nn.Parameter(np.zeros(3, np.float32))
    b = nn.Parameter(np.zeros(4, np.float32))
    a.grad = dg.Tensor(np.array([3.0, 0, 0], np.float32))
    b.grad = dg.Tensor(np.array([0, 4.0, 0, 0], np.float32))
    total = clip_grad_norm_([a, b], max_norm=1.0)
    assert total.item() == pytest.approx(5.0)
    norm = np.sqrt((a.grad.data**2).sum() + (b.grad.data**2).sum())
    assert norm == pytest.approx(1.0, rel=1e-5)
    assert clip_grad_norm_([a, b], max_norm=10.0).item() == pytest.approx(1.0, rel=1e-5)
    assert clip_grad_norm_([a, b], 1.0, norm_type="inf").item() == pytest.approx(0.8, rel=1e-5)
    a.grad.data[0] = np.nan
    with pytest.raises(RuntimeError, match="nan"):
        clip_grad_norm_([a, b], 1.0, error_if_nonfinite=True)
    b.grad.data[...] = [-5, 0.2, 3, 0]
    clip_grad_value_(b, 1.0)
    np.testing.assert_allclose(b.grad.data, [-1, 0.2, 1, 0])


def test_parameters_vector_round_trip():
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    vec = parameters_to_vector(model.parameters())
    assert vec.shape == (11,)
    vector_to_parameters(dg.zeros(11), model.parameters())
    assert all(np.all(p.numpy() == 0) for p in model.parameters())
    vector_to_parameters(vec, model.parameters())
    np.testing.assert_array_equal(parameters_to_vector(model.parameters()).data, vec.data)
    with pytest.raises(ValueError, match="11 elements"):
        vector_to_parameters(dg.zeros(5), model.parameters())

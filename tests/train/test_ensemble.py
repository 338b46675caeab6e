"""Ensembles average their members; bagging trains each on its own bootstrap sample."""

from __future__ import annotations

import numpy as np
import pytest
from train_helpers import mlp

import deepgrad as dg
from deepgrad import nn, optim
from deepgrad.data import DataLoader, TensorDataset
from deepgrad.train import Ensemble, bagging, evaluate, fit, predict


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_ensemble_averages_probabilities_and_raw_outputs():
    members = [mlp(seed=s) for s in range(3)]
    x = dg.tensor(np.random.default_rng(0).normal(size=(5, 2)).astype(np.float32))
    outs = [m(x).data for m in members]
    probs = Ensemble(members)(x).data
    np.testing.assert_allclose(probs, np.mean([_softmax(o) for o in outs], axis=0), rtol=1e-5)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    raw = Ensemble(members, combine="mean")(x).data
    np.testing.assert_allclose(raw, np.mean(outs, axis=0), rtol=1e-5)


def test_ensemble_is_a_module():
    ens = Ensemble([mlp(seed=0), mlp(seed=1)])
    ens.eval()
    assert not any(m.training for m in ens.members)
    assert "members.1.0.weight" in ens.state_dict() and len(ens) == 2
    with pytest.raises(ValueError, match="combine"):
        Ensemble([mlp()], combine="vote")


def _train(model, X, y):
    opt = optim.Adam(model.parameters(), lr=2e-2)
    loader = DataLoader(TensorDataset(X, y), 32, shuffle=True, seed=0)
    fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=30, verbose=0)


def test_bagging_trains_members_on_bootstrap_samples(spiral_data):
    X, y = spiral_data
    ens = bagging(lambda k: mlp((2, 32, 3), seed=k), X, y, n_models=3, seed=0, train_fn=_train)
    assert len(ens) == 3
    for idx in ens.bootstrap_indices:
        assert len(idx) == len(X) and len(np.unique(idx)) < len(X)  # with replacement
        assert 0 < ens.oob_mask(0, len(X)).sum() < len(X)
    assert not np.array_equal(ens.bootstrap_indices[0], ens.bootstrap_indices[1])
    loader = DataLoader(TensorDataset(X, y), 64)
    member_acc = [evaluate(m, loader, metrics=["accuracy"])["accuracy"] for m in ens.members]
    ens_acc = evaluate(ens, loader, metrics=["accuracy"])["accuracy"]
    assert ens_acc >= np.mean(member_acc) - 0.02
    assert predict(ens, X).shape == (len(X), 3)

"""log_prob, entropy and KL agree with torch.distributions in float64."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import distributions as D

torch = pytest.importorskip("torch", reason="PyTorch parity needs torch (optional)")
TD = torch.distributions

RNG = np.random.default_rng(0)
LOC, SCALE = RNG.normal(size=(3, 4)), RNG.uniform(0.3, 2.0, size=(3, 4))
LOGITS = RNG.normal(size=(3, 4))
X = RNG.normal(size=(5, 3, 4))
BITS = (RNG.random((5, 3, 4)) < 0.5).astype(np.float64)
CLASSES = RNG.integers(0, 4, size=(5, 3))


def _d(x):
    return dg.tensor(x)


def _close(ours, theirs):
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-10, atol=1e-12)


def test_normal():
    ours, theirs = D.Normal(_d(LOC), _d(SCALE)), TD.Normal(torch.tensor(LOC), torch.tensor(SCALE))
    _close(ours.log_prob(_d(X)), theirs.log_prob(torch.tensor(X)))
    _close(ours.entropy(), theirs.entropy())
    q, tq = D.Normal(_d(LOC[::-1]), _d(SCALE.T.reshape(3, 4))), None
    tq = TD.Normal(torch.tensor(LOC[::-1].copy()), torch.tensor(SCALE.T.reshape(3, 4).copy()))
    _close(D.kl_divergence(ours, q), TD.kl_divergence(theirs, tq))


@pytest.mark.parametrize("kind", ["probs", "logits"])
def test_bernoulli(kind):
    param = 1 / (1 + np.exp(-LOGITS)) if kind == "probs" else LOGITS
    ours, theirs = D.Bernoulli(**{kind: _d(param)}), TD.Bernoulli(**{kind: torch.tensor(param)})
    _close(ours.log_prob(_d(BITS)), theirs.log_prob(torch.tensor(BITS)))
    _close(ours.entropy(), theirs.entropy())
    q, tq = D.Bernoulli(logits=_d(-LOGITS)), TD.Bernoulli(logits=torch.tensor(-LOGITS))
    _close(D.kl_divergence(ours, q), TD.kl_divergence(theirs, tq))


@pytest.mark.parametrize("kind", ["probs", "logits"])
def test_categorical(kind):
    param = np.exp(LOGITS) if kind == "probs" else LOGITS
    ours = D.Categorical(**{kind: _d(param)})
    theirs = TD.Categorical(**{kind: torch.tensor(param)})
    _close(ours.log_prob(CLASSES), theirs.log_prob(torch.tensor(CLASSES)))
    _close(ours.entropy(), theirs.entropy())
    q, tq = (
        D.Categorical(logits=_d(LOGITS[::-1].copy())),
        TD.Categorical(logits=torch.tensor(LOGITS[::-1].copy())),
    )
    _close(D.kl_divergence(ours, q), TD.kl_divergence(theirs, tq))


def test_independent_and_mixture():
    ours = D.Independent(D.Normal(_d(LOC), _d(SCALE)), 1)
    theirs = TD.Independent(TD.Normal(torch.tensor(LOC), torch.tensor(SCALE)), 1)
    _close(ours.log_prob(_d(X)), theirs.log_prob(torch.tensor(X)))
    _close(ours.entropy(), theirs.entropy())
    gm = D.MixtureSameFamily(
        D.Categorical(logits=_d(LOGITS[0])), D.Normal(_d(LOC[0]), _d(SCALE[0]))
    )
    tgm = TD.MixtureSameFamily(
        TD.Categorical(logits=torch.tensor(LOGITS[0])),
        TD.Normal(torch.tensor(LOC[0]), torch.tensor(SCALE[0])),
    )
    _close(gm.log_prob(_d(X[:, 0, 0])), tgm.log_prob(torch.tensor(X[:, 0, 0])))
    _close(gm.mean, tgm.mean)
    _close(gm.variance, tgm.variance)
